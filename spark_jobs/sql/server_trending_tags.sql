-- question: Which hashtags do the instances report as trending, and how much were they used there each day?
-- key: instance, tag, day
-- rank: uses DESC
-- prefix: instance
-- From /api/v1/trends/tags: each instance's own daily counts of the tags it listed as trending (uses = toots
-- with the tag that the instance knows of, accounts = their distinct authors), seven days per fetch, the
-- latest fetch per day. They cover the whole instance, not only what was collected: collected_toots = toots
-- with the tag that day in the curated statuses (every source), for comparison; NULL on a day before the first
-- day with hashtag data (trending_hashtags' first_day): before the collection began, or deleted by the curated
-- retention, which keeps the instances' own counts. 0 would say no toot with the tag was collected. Tags are
-- lower-cased.
WITH collected AS (
  SELECT tag, dt, count(*) AS toots
  FROM hashtags
  GROUP BY tag, dt
),
bounds AS (SELECT min(dt) AS first_day FROM hashtags)
SELECT
  t.instance,
  t.tag,
  strftime(t.day, '%Y-%m-%d') AS day,
  t.uses,
  t.accounts,
  CASE WHEN b.first_day IS NULL OR t.day < b.first_day THEN NULL ELSE coalesce(c.toots, 0) END AS collected_toots
FROM tag_trends AS t
CROSS JOIN bounds AS b
LEFT JOIN collected AS c ON c.tag = t.tag AND c.dt = t.day
ORDER BY t.instance, day, t.uses DESC, t.tag
