-- question: When are toots posted, by weekday and hour of the day (UTC)?
-- key: weekday, hour
-- weekday is ISO (1 = Monday ... 7 = Sunday), computed from the days since Monday 1970-01-05 because
-- DuckDB and Spark number weekdays differently; hour is 0-23 UTC. Only observed cells are listed.
-- Share events excluded.
SELECT weekday, hour, count(*) AS toots
FROM (
  SELECT
    (date_diff('day', DATE '1970-01-05', CAST(created_at AS DATE)) % 7 + 7) % 7 + 1 AS weekday,
    hour(created_at) AS hour
  FROM statuses
  WHERE NOT is_reblog
) AS cells
GROUP BY weekday, hour
ORDER BY weekday, hour
