-- question: How much engagement do each account's toots get: in total, per toot, and per toot per follower?
-- key: account_key
-- rank: interactions_total DESC
-- Toots are the account's own statuses (replies included; reblogs, which are share events, excluded).
-- The interactions of a toot are its favourites + reblogs + replies, from the toot's latest snapshot.
-- engagement_rate = interactions per toot per follower = interactions_total / toots / followers_count.
-- Zero-follower case: with 0 (or unknown) followers the rate is undefined and engagement_rate is NULL;
-- interactions_per_toot still describes those accounts. A follower count below 0 is unknown (a server hiding it
-- sends -1: glitch-soc, and Mastodon for a remote account that hides it): followers_count is then 0, as when the
-- count is missing.
WITH per_account AS (
  SELECT
    account_key,
    count(*) AS toots,
    sum(favourites_count) AS favourites_total,
    sum(reblogs_count) AS reblogs_total,
    sum(replies_count) AS replies_total,
    sum(favourites_count + reblogs_count + replies_count) AS interactions_total
  FROM statuses
  WHERE NOT is_reblog
  GROUP BY account_key
)
SELECT
  p.account_key,
  a.instance,
  greatest(coalesce(a.followers_count, 0), 0) AS followers_count,
  p.toots,
  p.favourites_total,
  p.reblogs_total,
  p.replies_total,
  p.interactions_total,
  p.favourites_total / p.toots AS favourites_mean,
  p.reblogs_total / p.toots AS reblogs_mean,
  p.replies_total / p.toots AS replies_mean,
  p.interactions_total / p.toots AS interactions_per_toot,
  CASE WHEN a.followers_count > 0 THEN p.interactions_total / p.toots / a.followers_count END AS engagement_rate
FROM per_account AS p
LEFT JOIN accounts AS a ON a.account_key = p.account_key
ORDER BY p.interactions_total DESC, p.account_key
