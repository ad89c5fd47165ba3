-- question: Do toots with media get more engagement than toots without, and which media type gets the most?
-- key: media_type
-- One row per group: 'none' (no attachment), 'any' (at least one), and 'image', 'video', 'gifv', 'audio'
-- (at least one attachment of that type; a toot with an image and a video counts in both).
-- Means are per toot; interactions = favourites + reblogs + replies. Share events excluded.
WITH toots AS (
  SELECT favourites_count, reblogs_count, replies_count, media_count, image_count, video_count, gifv_count,
         audio_count, favourites_count + reblogs_count + replies_count AS interactions
  FROM statuses
  WHERE NOT is_reblog
),
grouped AS (
  SELECT 'none' AS media_type, * FROM toots WHERE media_count = 0
  UNION ALL SELECT 'any', * FROM toots WHERE media_count > 0
  UNION ALL SELECT 'image', * FROM toots WHERE image_count > 0
  UNION ALL SELECT 'video', * FROM toots WHERE video_count > 0
  UNION ALL SELECT 'gifv', * FROM toots WHERE gifv_count > 0
  UNION ALL SELECT 'audio', * FROM toots WHERE audio_count > 0
)
SELECT
  media_type,
  count(*) AS toots,
  sum(interactions) AS interactions_total,
  sum(favourites_count) / count(*) AS favourites_mean,
  sum(reblogs_count) / count(*) AS reblogs_mean,
  sum(replies_count) / count(*) AS replies_mean,
  sum(interactions) / count(*) AS interactions_mean
FROM grouped
GROUP BY media_type
ORDER BY media_type
