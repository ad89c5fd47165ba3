-- question: Which accounts have the most followers?
-- key: account_key
-- rank: followers_count DESC
-- One row per known account (its latest snapshot). There is no stored ranking column: the ranking is the
-- store's top-N order (followers_count DESC, ties broken by the key account_key ascending), so a follower
-- count that changes rewrites only that account's row, not the positions of every account below it.
-- A count that is unknown counts as 0: missing, or below 0 (a server hiding an account's followers or follows
-- sends -1: glitch-soc, and Mastodon for a remote account that hides them). The ORDER BY is that same order, on
-- every engine.
SELECT
  account_key,
  instance,
  greatest(coalesce(followers_count, 0), 0) AS followers_count,
  greatest(coalesce(following_count, 0), 0) AS following_count,
  greatest(coalesce(statuses_count, 0), 0) AS statuses_count,
  coalesce(bot, false) AS bot
FROM accounts
ORDER BY greatest(coalesce(followers_count, 0), 0) DESC, account_key
