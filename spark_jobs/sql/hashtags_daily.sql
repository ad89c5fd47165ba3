-- question: Which hashtags are used each day, and how much engagement do their toots get?
-- key: day, tag
-- rank: toots DESC
-- prefix: day
-- day is the UTC date a toot was created; toots = toots using the tag that day, accounts = distinct authors,
-- engagement = favourites + reblogs + replies of those toots (latest snapshots). Tags are lower-cased.
SELECT
  strftime(dt, '%Y-%m-%d') AS day,
  tag,
  count(*) AS toots,
  count(DISTINCT account_key) AS accounts,
  sum(engagement) AS engagement_total,
  sum(engagement) / count(*) AS engagement_mean
FROM hashtags
GROUP BY dt, tag
ORDER BY day, toots DESC, tag
