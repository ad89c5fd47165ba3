-- question: How active is each instance per week, as the instance itself reports it?
-- key: instance, week
-- prefix: instance
-- From /api/v1/instance/activity: statuses posted, logins and registrations in the week starting on
-- week (UTC date). Latest report per instance and week.
SELECT
  instance,
  strftime(week, '%Y-%m-%d') AS week,
  statuses,
  logins,
  registrations
FROM instance_activity
ORDER BY instance, week
