-- question: Which accounts have the most followers?
-- key: account_key
-- rank: followers_count DESC
-- One row per known account (its latest snapshot). There is no stored ranking column: the ranking is the
-- store's top-N order (followers_count DESC, ties broken by the key account_key ascending), so a follower
-- count that changes rewrites only that account's row, not the positions of every account below it.
-- An account whose follower count is unknown counts as 0. The ORDER BY is that same order, on every engine.
SELECT
  account_key,
  instance,
  coalesce(followers_count, 0) AS followers_count,
  coalesce(following_count, 0) AS following_count,
  coalesce(statuses_count, 0) AS statuses_count,
  coalesce(bot, false) AS bot
FROM accounts
ORDER BY coalesce(followers_count, 0) DESC, account_key
