-- question: What share of accounts are bots, and what share of toots do bots write?
-- key: instance
-- One row per instance (the home server of an account, or of a toot's author) and one row with instance = '*' for
-- all of them: an instance with toots but no account row, or accounts but no toots, has its row too.
-- An account is a bot when its profile says so (the bot flag); toots are attributed by their author's curated
-- account. A toot whose author has no account row (e.g. its only snapshot left out by the curated retention) has
-- an unknown bot flag: it counts in toots, not in bot_toots. bot_share is NULL where accounts = 0.
-- A row without an instance counts in '*' only. Share events excluded from toots.
WITH toots AS (
  SELECT s.instance, CASE WHEN a.bot THEN 1 ELSE 0 END AS is_bot
  FROM statuses AS s
  LEFT JOIN accounts AS a ON a.account_key = s.account_key
  WHERE NOT s.is_reblog
),
acc_stats AS (
  SELECT instance, count(*) AS accounts, sum(CASE WHEN bot THEN 1 ELSE 0 END) AS bots
  FROM accounts WHERE instance IS NOT NULL GROUP BY instance
  UNION ALL
  SELECT '*', count(*), sum(CASE WHEN bot THEN 1 ELSE 0 END) FROM accounts
),
toot_stats AS (
  SELECT instance, count(*) AS toots, sum(is_bot) AS bot_toots FROM toots WHERE instance IS NOT NULL GROUP BY instance
  UNION ALL
  SELECT '*', count(*), sum(is_bot) FROM toots
),
scopes AS (
  SELECT instance FROM acc_stats WHERE accounts > 0
  UNION
  SELECT instance FROM toot_stats WHERE toots > 0
)
SELECT
  k.instance,
  coalesce(a.accounts, 0) AS accounts,
  coalesce(a.bots, 0) AS bots,
  coalesce(a.bots, 0) / nullif(a.accounts, 0) AS bot_share,
  coalesce(t.toots, 0) AS toots,
  coalesce(t.bot_toots, 0) AS bot_toots,
  coalesce(t.bot_toots, 0) / nullif(t.toots, 0) AS bot_toot_share
FROM scopes AS k
LEFT JOIN acc_stats AS a ON a.instance = k.instance
LEFT JOIN toot_stats AS t ON t.instance = k.instance
ORDER BY k.instance
