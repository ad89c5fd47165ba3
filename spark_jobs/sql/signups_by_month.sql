-- question: How many of the accounts fediscope has seen were created each month, per home instance?
-- key: instance, month
-- prefix: instance
-- Accounts by the month (UTC) of their created_at, among the accounts fediscope has seen (authors, boosters,
-- directory): not the instance's own sign-up count;
-- accounts_cumulative is the running total per instance up to and including that month.
SELECT
  instance,
  month,
  accounts,
  sum(accounts) OVER (PARTITION BY instance ORDER BY month) AS accounts_cumulative
FROM (
  SELECT instance, strftime(created_at, '%Y-%m') AS month, count(*) AS accounts
  FROM accounts
  WHERE created_at IS NOT NULL
  GROUP BY instance, strftime(created_at, '%Y-%m')
) AS monthly
ORDER BY instance, month
