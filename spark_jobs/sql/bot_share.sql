-- question: What share of accounts are bots, and what share of toots do bots write?
-- key: instance
-- One row per instance (the accounts' home servers) and one row with instance = '*' for all of them.
-- An account is a bot when its profile says so (the bot flag); toots are attributed by their author.
-- Share events excluded from toots.
WITH acc AS (
  SELECT instance, CASE WHEN bot THEN 1 ELSE 0 END AS is_bot FROM accounts
),
toots AS (
  SELECT s.instance, CASE WHEN a.bot THEN 1 ELSE 0 END AS is_bot
  FROM statuses AS s
  LEFT JOIN accounts AS a ON a.account_key = s.account_key
  WHERE NOT s.is_reblog
),
acc_stats AS (
  SELECT instance, count(*) AS accounts, sum(is_bot) AS bots FROM acc GROUP BY instance
  UNION ALL
  SELECT '*', count(*), sum(is_bot) FROM acc
),
toot_stats AS (
  SELECT instance, count(*) AS toots, sum(is_bot) AS bot_toots FROM toots GROUP BY instance
  UNION ALL
  SELECT '*', count(*), sum(is_bot) FROM toots
)
SELECT
  a.instance,
  a.accounts,
  coalesce(a.bots, 0) AS bots,
  coalesce(a.bots, 0) / nullif(a.accounts, 0) AS bot_share,
  coalesce(t.toots, 0) AS toots,
  coalesce(t.bot_toots, 0) AS bot_toots,
  coalesce(t.bot_toots, 0) / nullif(t.toots, 0) AS bot_toot_share
FROM acc_stats AS a
LEFT JOIN toot_stats AS t ON t.instance = a.instance
WHERE a.accounts > 0
ORDER BY a.instance
