-- question: Which days do the curated statuses cover: the first and the last posted day, per instance and in all?
-- key: instance
-- instance is the server the statuses were fetched from (as collection_starts' instance), '*' for all of them.
-- first_day, last_day = the UTC days of the first and last posted status (boosts included: a boost is posted when
-- shared), days = the calendar days from one to the other, statuses = how many. latest_fetch_day = the UTC day of
-- the latest fetch of a status: for '*', of any status curated (curated_statuses, last_fetched_at: also a copy that
-- lost the merge to an earlier fetch, a status deleted since or not public, which the statuses view leaves out, so
-- a day fully collected is not taken for the day the collection stopped during); for an instance, the latest fetch
-- of the curated rows fetched from it (their winning version's fetched_at, tombstones and markers too: a later copy
-- that lost may be another instance's). first_day_partial = whether first_day was collected in part, read from the
-- instance's collection_starts ('*': every instance's) as trending_hashtags reads them for its first_day (true:
-- a walk that began that day was cut or started from now; false: a walk began that day or before, whole; NULL:
-- no record of that day or before, or a timeline first collected before the records). The report's period.
WITH spans AS (
  SELECT fetched_from AS instance, min(dt) AS first_day, max(dt) AS last_day, count(*) AS statuses,
         max(fetched_at) AS latest_fetch
  FROM statuses
  WHERE fetched_from IS NOT NULL
  GROUP BY fetched_from
  UNION ALL
  SELECT '*', min(dt), max(dt), count(*), max(fetched_at) FROM statuses
),
fetches AS (
  SELECT fetched_from AS instance, max(fetched_at) AS latest_fetch
  FROM curated_statuses
  WHERE fetched_from IS NOT NULL
  GROUP BY fetched_from
  UNION ALL
  SELECT '*', max(coalesce(last_fetched_at, fetched_at)) FROM curated_statuses
),
first_day_state AS (
  SELECT p.instance,
         CASE WHEN max(CASE WHEN s.oldest_day = p.first_day AND s.ended IN ('cut', 'now') THEN 1 ELSE 0 END) = 1
                THEN true
              WHEN max(CASE WHEN s.ended = 'unknown' THEN 1 ELSE 0 END) = 1 THEN NULL
              WHEN max(CASE WHEN s.oldest_day <= p.first_day THEN 1 ELSE 0 END) = 1 THEN false END
           AS first_day_partial
  FROM spans AS p
  JOIN collection_starts AS s ON p.instance = '*' OR s.instance = p.instance
  GROUP BY p.instance
)
SELECT
  p.instance,
  strftime(p.first_day, '%Y-%m-%d') AS first_day,
  strftime(p.last_day, '%Y-%m-%d') AS last_day,
  date_diff('day', p.first_day, p.last_day) + 1 AS days,
  p.statuses,
  strftime(CAST(coalesce(l.latest_fetch, p.latest_fetch) AS DATE), '%Y-%m-%d') AS latest_fetch_day,
  f.first_day_partial
FROM spans AS p
LEFT JOIN first_day_state AS f ON f.instance = p.instance
LEFT JOIN fetches AS l ON l.instance = p.instance
WHERE p.statuses > 0
ORDER BY p.instance
