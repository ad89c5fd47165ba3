-- question: Which instances do toots come from (the "regions" of the fediverse)?
-- key: instance
-- rank: toots DESC
-- instance is the author's home server (from the account handle), whichever server the toot was fetched
-- from; accounts = distinct authors; share = the instance's toots / all toots. Share events excluded.
SELECT
  instance,
  toots,
  accounts,
  toots / sum(toots) OVER () AS share
FROM (
  SELECT instance, count(*) AS toots, count(DISTINCT account_key) AS accounts
  FROM statuses
  WHERE NOT is_reblog
  GROUP BY instance
) AS per_instance
ORDER BY toots DESC, instance
