-- question: How often do toots contain links, custom emojis, unicode emojis, media, hashtags and mentions?
-- key: feature
-- One row per feature: toots_with = toots with at least one, share = toots_with / toots, items = how many
-- in total, per_toot = items / toots. Over toots (share events excluded). Links are anchors that are not
-- mentions or hashtags; custom emojis are the entries of its `emojis` (Mastodon lists each shortcode used
-- once); unicode emojis are counted per emoji sequence (a flag, a keycap, an emoji with its skin tone, a ZWJ
-- sequence such as a family: one each).
WITH toots AS (SELECT * FROM statuses WHERE NOT is_reblog),
features AS (
  SELECT 'url' AS feature, url_count AS n FROM toots
  UNION ALL SELECT 'custom_emoji', custom_emoji_count FROM toots
  UNION ALL SELECT 'unicode_emoji', unicode_emoji_count FROM toots
  UNION ALL SELECT 'media', media_count FROM toots
  UNION ALL SELECT 'hashtag', array_length(hashtags) FROM toots
  UNION ALL SELECT 'mention', array_length(mentions) FROM toots
)
SELECT
  feature,
  sum(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS toots_with,
  count(*) AS toots,
  sum(CASE WHEN n > 0 THEN 1 ELSE 0 END) / count(*) AS share,
  sum(n) AS items,
  sum(n) / count(*) AS per_toot
FROM features
GROUP BY feature
ORDER BY feature
