-- question: How active is each instance per week, as the instance itself reports it?
-- key: instance, week
-- prefix: instance
-- From /api/v1/instance/activity: statuses posted, logins and registrations in the window starting on week
-- (UTC date). Mastodon counts its 12 windows back from when it answered (week = that time minus 0, 7, 14, …
-- days; each window the six UTC days from week), so fetches on other days report shifted, overlapping windows,
-- and the newest window is the answer's day so far. Kept: each instance's complete windows (fetched six or more
-- days after week; kept when the fetch time is unknown) on the grid of its latest answer (whole weeks before
-- it), the latest fetch of each; windows of other grids overlap those and are left out.
WITH grid AS (
  SELECT instance, max(week) AS newest
  FROM instance_activity
  GROUP BY instance
)
SELECT
  a.instance,
  strftime(a.week, '%Y-%m-%d') AS week,
  a.statuses,
  a.logins,
  a.registrations
FROM instance_activity AS a
JOIN grid AS g ON a.instance = g.instance
WHERE date_diff('day', a.week, g.newest) % 7 = 0
  AND NOT coalesce(date_diff('day', a.week, CAST(a.fetched_at AS DATE)) < 6, false)
ORDER BY a.instance, a.week
