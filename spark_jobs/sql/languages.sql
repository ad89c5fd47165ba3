-- question: In which languages are toots written?
-- key: language
-- rank: toots DESC
-- The language the author's client declared, lower-cased at curation ('EN' is 'en');
-- 'und' (undetermined, ISO 639) when none was declared.
-- share = the language's toots / all toots. Share events excluded.
SELECT
  language,
  toots,
  toots / sum(toots) OVER () AS share
FROM (
  SELECT coalesce(nullif(language, ''), 'und') AS language, count(*) AS toots
  FROM statuses
  WHERE NOT is_reblog
  GROUP BY coalesce(nullif(language, ''), 'und')
) AS per_language
ORDER BY toots DESC, language
