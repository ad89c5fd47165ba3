-- question: Which hashtags are trending: how did each tag's use in the latest 7 days grow over the 7 days before?
-- key: tag
-- rank: growth DESC
-- The current window is the 7 days ending on the last complete day with hashtag data: the latest day with hashtag
-- data before the day of the latest fetch of a status (not the wall clock, so a re-run over the same data gives the
-- same answer); the previous window is the 7 days before it. The day of the latest fetch is left out: the
-- collection stopped during it, so a window ending on it would hold 6 days and part of one against 7 whole days,
-- and the growth would depend on the time of day the collection ran. Only when no hashtag data is before that day
-- (everything collected on one day) does the window end on it. A day after it (a toot dated up to the hour of clock
-- skew curation allows after its fetch, a server's fast clock; or one curated by an older fediscope, a forged 2099)
-- never moves the window: it ends on the latest fetch's day at the latest.
-- growth = (current_toots + 1) / (previous_toots + 1): add-one smoothing, so a tag that is new this window
-- has a finite growth that still grows with its use. Every tag used in the current window is listed, also one
-- used less than before (growth below 1);
-- ties in growth are broken by tag (the key), as the stores break them.
-- latest_fetch_day = the UTC day of the latest fetch of a status (every row the same): the report marks that day
-- of hashtags_daily (or a day after it, of a toot from a fast clock) as partial, the collection having stopped
-- during it. Every fetch of a curated status counts (curated_statuses, last_fetched_at): also a copy that lost the
-- merge to an earlier fetch, a status deleted since or not public, which the statuses view leaves out (a row
-- curated before last_fetched_at existed: its fetched_at).
-- first_day = the first day with hashtag data (every row the same), where the collection's walk back in time
-- began; first_day_partial = whether it was collected in part, from the lake's records of where each source's
-- collection begins (collection_starts, registered beside the curated tables): true when a source whose oldest
-- status falls on it was cut by FEDISCOPE_BACKFILL_PAGES or started from now (its earlier statuses that day are
-- not collected), false when every such source reached the timeline's beginning or FEDISCOPE_BACKFILL_SINCE (a
-- day: the whole day is collected) or a source began before it (a day without hashtags: that source collected
-- the whole first day), NULL when no record is of that day or before (a lake collected before the records), or
-- when a timeline was first collected before the records (ended 'unknown': it may have begun that day, cut).
-- partial_start_days = the later days (after first_day, up to the window's end) on which a source's collection
-- began in part (cut or started from now: a source added later, whose statuses count from the middle of that
-- day, so the rise there is not growth), as sorted comma-separated YYYY-MM-DD days (every row the same), ''
-- when none: days alone, never which source.
WITH fetched AS (
  SELECT CAST(max(coalesce(last_fetched_at, fetched_at)) AS DATE) AS latest_fetch_day FROM curated_statuses
),
bounds AS (
  SELECT coalesce(max(CASE WHEN h.dt < f.latest_fetch_day THEN h.dt END), max(h.dt)) AS last_day,
         min(h.dt) AS first_day
  FROM hashtags AS h CROSS JOIN fetched AS f
  WHERE f.latest_fetch_day IS NULL OR h.dt <= f.latest_fetch_day
),
first_day_state AS (
  SELECT CASE WHEN max(CASE WHEN s.oldest_day = b.first_day AND s.ended IN ('cut', 'now') THEN 1 ELSE 0 END) = 1
                THEN true
              WHEN max(CASE WHEN s.ended = 'unknown' THEN 1 ELSE 0 END) = 1 THEN NULL
              WHEN max(CASE WHEN s.oldest_day <= b.first_day THEN 1 ELSE 0 END) = 1 THEN false END
           AS first_day_partial
  FROM collection_starts AS s CROSS JOIN bounds AS b
),
start_days AS (
  SELECT coalesce(array_to_string(list_sort(list(DISTINCT strftime(s.oldest_day, '%Y-%m-%d'))), ','), '')
           AS partial_start_days
  FROM collection_starts AS s CROSS JOIN bounds AS b
  WHERE s.ended IN ('cut', 'now') AND s.oldest_day > b.first_day AND s.oldest_day <= b.last_day
),
aged AS (
  SELECT h.tag, h.engagement, date_diff('day', h.dt, b.last_day) AS age, b.last_day, b.first_day
  FROM hashtags AS h CROSS JOIN bounds AS b
),
windows AS (
  SELECT
    tag,
    max(last_day) AS last_day,
    max(first_day) AS first_day,
    sum(CASE WHEN age BETWEEN 0 AND 6 THEN 1 ELSE 0 END) AS current_toots,
    sum(CASE WHEN age BETWEEN 7 AND 13 THEN 1 ELSE 0 END) AS previous_toots,
    sum(CASE WHEN age BETWEEN 0 AND 6 THEN engagement ELSE 0 END) AS current_engagement
  FROM aged
  WHERE age BETWEEN 0 AND 13
  GROUP BY tag
)
SELECT
  row_number() OVER (ORDER BY (current_toots + 1) / (previous_toots + 1) DESC, tag) AS ranking,
  tag,
  strftime(last_day, '%Y-%m-%d') AS window_end,
  current_toots,
  previous_toots,
  current_toots - previous_toots AS delta,
  (current_toots + 1) / (previous_toots + 1) AS growth,
  current_engagement,
  strftime(f.latest_fetch_day, '%Y-%m-%d') AS latest_fetch_day,
  strftime(first_day, '%Y-%m-%d') AS first_day,
  p.first_day_partial,
  d.partial_start_days
FROM windows CROSS JOIN fetched AS f CROSS JOIN first_day_state AS p CROSS JOIN start_days AS d
WHERE current_toots > 0
ORDER BY ranking
