-- question: Which toots got the most interactions (favourites + reblogs + replies)?
-- key: status_uri
-- rank: interactions DESC
-- timestamps: created_at
-- Content popularity: the 1000 most interacted-with toots (share events excluded), ranked by interactions;
-- ties are broken by URI (the key), as the stores break them, so every engine and store ranks alike.
-- created_at is UTC (stored as this text; the results API gives it as RFC 3339, 2026-11-01T12:00:00Z).
SELECT
  row_number() OVER (ORDER BY interactions DESC, status_uri) AS ranking,
  *
FROM (
  SELECT
    uri AS status_uri,
    account_key,
    instance,
    strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created_at,
    coalesce(nullif(language, ''), 'und') AS language,
    favourites_count,
    reblogs_count,
    replies_count,
    favourites_count + reblogs_count + replies_count AS interactions,
    media_count,
    array_length(hashtags) AS hashtag_count,
    is_reply
  FROM statuses
  WHERE NOT is_reblog
  ORDER BY interactions DESC, status_uri
  LIMIT 1000
) AS top_n
ORDER BY ranking
