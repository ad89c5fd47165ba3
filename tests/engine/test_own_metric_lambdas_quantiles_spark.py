"""An own metric indexing or dividing inside a lambda, using quantiles, ``list_intersect``,
``regexp_split_to_array``, ``fmod``, ``divide`` or ``list || NULL`` stores the same rows on Spark as on DuckDB. Was:
a lambda's parameters untyped, so ``lambda l: l[1]`` became Spark's ``l[0]`` (the run stopped at an empty list in
ANSI mode), ``lambda d: d / 3`` of DECIMALs a DECIMAL rounded to 6 places on Spark, ``list_transform(…)[1][2]`` a
plain index; a lambda's position (``lambda x, i``) counted from 0 on Spark; ``quantile(x, q)`` (DuckDB: one of the
values) became Spark's interpolated ``PERCENTILE``, ``percentile_cont``/``percentile_disc … WITHIN GROUP (ORDER BY x
DESC)`` ``PERCENTILE_APPROX(x, q)`` (approximate, ascending), ``quantile_cont``/``quantile_disc(x, q)`` functions
Spark refuses with two arguments, and Spark's ``median`` interpolated otherwise (14.3 for DuckDB's
14.299999999999999); ``list_intersect`` was refused as no Spark function; ``regexp_split_to_array``, ``fmod`` and
``divide`` passed the check and Spark refused them when the metric ran; ``[…] || NULL`` failed on Spark with a
type error; a list comprehension ``[f(x) FOR x IN l IF c]`` passed the check and Spark did not parse it; and
``l[:abs(b)]`` was refused as not valid DuckDB SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, rows_on_both_engines

KEY = "own-metric-lambdas-quantiles-spark-test-pseudonym-key"

#: per status: its hashtags and mentions as a list of two lists (one often empty), indexed inside a lambda and
#: after one; its counts as DECIMALs divided inside a lambda (and by a count that is 0 for some); its items' positions
#: from a lambda; the tags both lists share; its URI split by a pattern; fmod and divide of its counts (negative
#: too); a list concatenated with a bare NULL
LAMBDAS = """-- question: What do a status's lists and counts give inside lambdas?
-- key: uri
WITH s AS (SELECT uri, hashtags, mentions, [hashtags, mentions] AS lists, favourites_count AS f, replies_count AS r,
                  [CAST(favourites_count AS DECIMAL(10, 2)) / 4, CAST(replies_count AS DECIMAL(10, 2))] AS amounts
           FROM statuses)
SELECT uri,
  array_to_string(list_transform(lists, lambda l: l[1]), '|') AS firsts,
  array_to_string(list_transform(lists, lambda l: l[-1]), '|') AS lasts,
  list_transform(lists, lambda l: l)[1][2] AS second_tag,
  list_transform(lists, lambda l: list_transform(l, lambda t: upper(t)))[1][-1] AS last_tag_upper,
  list_transform(amounts, lambda d: d / 3)[1] AS third,
  list_transform(amounts, lambda d: d / 3)[2] AS replies_third,
  array_length(list_filter(amounts, lambda d: d / 7 > 0.2)) AS large,
  CASE WHEN list_transform([f % 3], lambda d: 10 / d)[1] > 1e300 THEN 'past' ELSE 'within' END AS by_zero,
  array_to_string(list_transform(hashtags, lambda t, i: i || ':' || t), ',') AS numbered,
  array_to_string(list_filter(hashtags, lambda t, i: i > 1), ',') AS after_first,
  array_to_string(list_sort(list_intersect(hashtags, ['fediverse', 'mastodon', hashtags[1]])), ',') AS shared,
  array_to_string(regexp_split_to_array(uri, '[/:]+'), '|') AS uri_parts,
  fmod(f - 5, 3) AS f_mod, fmod(r, -2) AS r_mod, fmod(f, r) AS by_replies,
  divide(f - 5, 2) AS halved,
  array_length(hashtags || NULL) AS with_null, array_length(NULL || mentions) AS null_with,
  array_to_string([upper(t) FOR t IN hashtags IF t <> hashtags[1]], ',') AS upper_after_first,
  array_to_string([t || ':' || i FOR t, i IN hashtags], ',') AS comprehension_numbered,
  array_to_string([t FOR t, i IN hashtags IF i > 1], ',') AS comprehension_after_first,
  array_length(flatten([[t FOR t IN l IF t > 'm'] FOR l IN lists])) AS late_names,
  array_to_string(hashtags[:abs(f % 5 - 2)], ',') AS up_to_abs
FROM s
ORDER BY uri
"""

#: per instance (and over all statuses): medians, quantiles interpolated at 0.5 and 0.25 (whole numbers), one of
#: the values at 0.3 and 0.7, ascending and descending, with a FILTER and over a window
QUANTILES = """-- question: How are favourites spread within an instance?
-- key: instance
SELECT instance,
  median(favourites_count) AS median_favourites,
  median(favourites_count / 7) AS median_sevenths,
  median(favourites_count) FILTER (WHERE is_reply) AS median_replies,
  quantile_cont(favourites_count, 0.25) AS lower_quartile,
  quantile_cont(replies_count, 0.75) AS upper_quartile_replies,
  quantile_disc(favourites_count, 0.7) AS seventh_decile,
  quantile(favourites_count / 7, 0.3) AS third_decile_sevenths,
  quantile_disc(language, 0.5) AS middle_language,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY favourites_count / 3 DESC) AS median_thirds_desc,
  percentile_disc(0.3) WITHIN GROUP (ORDER BY favourites_count DESC) AS third_decile_desc,
  max(median_all) AS median_all,
  quantile_disc(dt, 0.5) AS middle_day
FROM (SELECT *, median(favourites_count / 11) OVER () AS median_all FROM statuses)
GROUP BY instance
ORDER BY instance
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("lambdas") / "lake", KEY, statuses=120)


@pytest.mark.spark
def test_lambdas_and_the_functions_spark_has_not_store_the_same_rows_on_both_engines(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, "lambdas", LAMBDAS, KEY, "uri")
    rows = stored["duckdb"]
    # the corpus has what the metric is about: empty and filled lists, fractions divided, 0 divisors, several tags,
    # shared tags, negative remainders
    assert rows and {row[1] is None or "|" not in row[1] for row in rows} >= {False}
    assert {row[3] is None for row in rows} == {True, False}
    assert any(row[5] is not None and row[5] != round(row[5], 6) for row in rows)
    assert {row[8] for row in rows} == {"past", "within"}
    assert any(row[10] for row in rows) and any(row[11] for row in rows) and all(row[12] for row in rows)
    assert min(row[13] for row in rows) >= 0 and max(row[14] for row in rows) <= 0  # fmod: the sign of y
    assert {row[13] for row in rows} > {0.0} and {row[14] for row in rows} > {0.0}
    assert {row[16] < 0 for row in rows} == {True, False}
    assert {row[17] for row in rows} == {None} and {row[18] for row in rows} == {None}
    # list comprehensions (kept and not, numbered from 1, nested) and a slice up to a computed end (empty and not)
    assert {row[19] for row in rows} >= {""} and any(row[19] and row[19] == row[19].upper() for row in rows)
    assert any(row[20] and ":2" in row[20] for row in rows) and all(row[21] == row[10] for row in rows)
    assert {row[22] > 0 for row in rows} == {True, False}
    assert {row[23] for row in rows} >= {""} and any(row[23] and "," in row[23] for row in rows)
    assert stored["spark"] == rows


@pytest.mark.spark
def test_quantiles_store_the_same_rows_on_both_engines(lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001
    stored = rows_on_both_engines(lake, spark, tmp_path, "spread", QUANTILES, KEY)
    rows = stored["duckdb"]
    # several instances, interpolated medians (a fraction) and values of the column alike
    assert len(rows) > 1 and any(row[1] != int(row[1]) for row in rows if row[1] is not None)
    assert all(isinstance(row[6], int) for row in rows) and all(isinstance(row[8], str) for row in rows)
    assert all(row[12] is not None for row in rows)  # a DATE's middle value, what a refused median(dt) advises
    assert stored["spark"] == rows
