-- question: Which accounts have the most followers?
-- key: account_key
-- rank: followers_count DESC
-- One row per known account (its latest snapshot), ranked by followers; ties are broken by account key,
-- so the ranking is the same on every engine. An account whose follower count is unknown ranks as 0.
SELECT
  row_number() OVER (ORDER BY coalesce(followers_count, 0) DESC, account_key) AS ranking,
  account_key,
  instance,
  coalesce(followers_count, 0) AS followers_count,
  coalesce(following_count, 0) AS following_count,
  coalesce(statuses_count, 0) AS statuses_count,
  coalesce(bot, false) AS bot
FROM accounts
ORDER BY ranking
