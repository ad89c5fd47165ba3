-- question: How many other servers does each instance know of, and how many are new or gone?
-- key: instance
-- rank: peers DESC
-- From /api/v1/instance/peers (the domains an instance has seen content from), by UTC fetch day:
-- peers = domains listed by its latest fetch (latest_fetch); new_peers_7d = those first listed in the 7 days
-- up to it, the instance's first fetch excepted (every peer is new then); gone_peers = domains listed before
-- but not by the latest fetch; peers_ever = every domain it ever listed.
WITH spans AS (
  SELECT instance, min(first_seen) AS first_fetch, max(last_seen) AS latest_fetch
  FROM instance_peers
  GROUP BY instance
)
SELECT
  p.instance,
  strftime(s.latest_fetch, '%Y-%m-%d') AS latest_fetch,
  sum(CASE WHEN p.last_seen = s.latest_fetch THEN 1 ELSE 0 END) AS peers,
  sum(CASE WHEN p.last_seen = s.latest_fetch AND p.first_seen > s.first_fetch
           AND date_diff('day', p.first_seen, s.latest_fetch) < 7 THEN 1 ELSE 0 END) AS new_peers_7d,
  sum(CASE WHEN p.last_seen < s.latest_fetch THEN 1 ELSE 0 END) AS gone_peers,
  count(*) AS peers_ever
FROM instance_peers AS p
JOIN spans AS s ON p.instance = s.instance
GROUP BY p.instance, s.latest_fetch
ORDER BY p.instance
