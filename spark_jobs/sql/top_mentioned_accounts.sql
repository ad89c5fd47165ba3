-- question: Which accounts are mentioned the most?
-- key: account_key
-- rank: mentions DESC
-- mentions = toots mentioning the account (a toot counts once per mentioned account);
-- mentioned_by = distinct accounts that mentioned it. Share events excluded.
SELECT
  mentioned AS account_key,
  count(*) AS mentions,
  count(DISTINCT author) AS mentioned_by
FROM (
  SELECT account_key AS author, unnest(mentions) AS mentioned
  FROM statuses
  WHERE NOT is_reblog
) AS m
GROUP BY mentioned
ORDER BY mentions DESC, account_key
