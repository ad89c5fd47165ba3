-- question: Which hashtags drew the most engagement, and do their toots with media get more than those without?
-- key: tag
-- rank: engagement_total DESC
-- One row per tag over every collected day and instance (as hashtags_daily and trending_hashtags: a tag is one
-- tag wherever it is used). toots = toots using the tag (a toot counts once per tag it has), accounts = their
-- distinct authors, engagement = favourites + reblogs + replies of those toots (latest snapshots), as in the
-- curated hashtags table. Boosts are share events: they are no use of the tag (the curated hashtags table has no
-- row for them) and are counted once, in the original's reblogs, so nothing counts twice.
-- With media = at least one attachment (media_count > 0). engagement_per_toot_with_media (and _without_media) is
-- NULL for a tag with no toot with (without) media. Ties in engagement are broken by tag (the key).
WITH uses AS (
  SELECT h.tag, h.account_key, h.engagement, s.media_count > 0 AS with_media
  FROM hashtags AS h
  JOIN statuses AS s ON s.uri = h.status_uri
),
per_tag AS (
  SELECT
    tag,
    count(*) AS toots,
    count(DISTINCT account_key) AS accounts,
    sum(engagement) AS engagement_total,
    sum(CASE WHEN with_media THEN 1 ELSE 0 END) AS toots_with_media,
    sum(CASE WHEN with_media THEN engagement ELSE 0 END) AS engagement_with_media
  FROM uses
  GROUP BY tag
)
SELECT
  tag,
  toots,
  accounts,
  engagement_total,
  engagement_total / toots AS engagement_per_toot,
  toots_with_media,
  engagement_with_media,
  CASE WHEN toots_with_media > 0 THEN engagement_with_media / toots_with_media END
    AS engagement_per_toot_with_media,
  CASE WHEN toots_with_media < toots THEN (engagement_total - engagement_with_media) / (toots - toots_with_media) END
    AS engagement_per_toot_without_media
FROM per_tag
ORDER BY engagement_total DESC, tag
