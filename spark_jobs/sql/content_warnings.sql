-- question: What share of toots in each language carry a content warning, and do they get more or less engagement than toots without one?
-- key: language
-- rank: toots DESC
-- One row per language, as `languages` has them ('und' when none was declared). A toot has a content warning when
-- its spoiler_text holds more than white space (only that and its length are curated, never its text).
-- cw_share = toots_with_cw / toots; sensitive_toots = toots Mastodon flags sensitive (a content warning sets the
-- flag; media marked sensitive without one too), sensitive_share = sensitive_toots / toots.
-- interactions = favourites + reblogs + replies; interactions_mean_with_cw / _without_cw are per toot, NULL for a
-- language with no such toot. cw_length_mean = mean length of the warnings (characters, as written). Share events
-- excluded.
WITH toots AS (
  SELECT coalesce(nullif(language, ''), 'und') AS language, has_content_warning, content_warning_length,
         coalesce(sensitive, false) AS sensitive,
         favourites_count + reblogs_count + replies_count AS interactions
  FROM statuses
  WHERE NOT is_reblog
)
SELECT
  language,
  count(*) AS toots,
  sum(CASE WHEN has_content_warning THEN 1 ELSE 0 END) AS toots_with_cw,
  sum(CASE WHEN has_content_warning THEN 1 ELSE 0 END) / count(*) AS cw_share,
  sum(CASE WHEN sensitive THEN 1 ELSE 0 END) AS sensitive_toots,
  sum(CASE WHEN sensitive THEN 1 ELSE 0 END) / count(*) AS sensitive_share,
  sum(CASE WHEN has_content_warning THEN interactions END)
    / nullif(sum(CASE WHEN has_content_warning THEN 1 ELSE 0 END), 0) AS interactions_mean_with_cw,
  sum(CASE WHEN has_content_warning THEN 0 ELSE interactions END)
    / nullif(sum(CASE WHEN has_content_warning THEN 0 ELSE 1 END), 0) AS interactions_mean_without_cw,
  avg(content_warning_length) AS cw_length_mean
FROM toots
GROUP BY language
ORDER BY toots DESC, language
