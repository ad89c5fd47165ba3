"""One SQL text, two engines: the fediscope SQL is written in DuckDB's dialect and translated to Spark SQL.

sqlglot (``sqlglot.transpile(sql, read="duckdb", write="spark")``) rewrites function names, casts, lambdas,
``UNNEST``, ``QUALIFY`` and NULL ordering. A few DuckDB constructs translate to Spark SQL that runs but means
something else; :func:`check_portable` refuses them, so a metric cannot silently differ between engines:

* ``isodow``/``dayofweek``/``dow``/``weekday``/``yearweek``: the day numbering differs between the engines and
  sqlglot's rewrite is off by one (``weekday`` is Sunday = 0 in DuckDB, Monday = 0 in Spark; ``dow`` is neither's
  function, ``yearweek`` not Spark's). Compute the weekday from a day difference instead (see
  ``activity_by_hour.sql``), and ``yearweek`` from ``weekofyear``, ``month`` and ``year``: each refusal says how.
* ``extract(<part> FROM x)``/``date_part('<part>', x)`` other than year, quarter, month, week (ISO in both), day,
  day of year, hour and minute: ``dow`` is Sunday=0 in DuckDB, Sunday=1 in Spark; ``second`` is a whole number in
  DuckDB, with the fraction in Spark; others (``isodow``, ``yearweek``, ``epoch``, …) Spark does not know.
* ``date_diff``/``datediff``: DuckDB counts the unit's boundaries crossed, Spark whole units elapsed (23:00 to
  01:00 the next day is 1 day in DuckDB, 0 in Spark). Both agree only on days between two DATEs, so the unit
  must be ``'day'`` and both arguments DATEs (a ``CAST(… AS DATE)``, a DATE literal, a DATE column of a curated
  table, or a column computed from those: the types are inferred from :mod:`fediscope.engine.schema`).
* ``regexp_replace`` without the ``'g'`` flag replaces only the first match in DuckDB, every match in Spark.
* ``len``/``length`` on a list (a list column such as ``hashtags``, a list function's result, or a map's keys or
  values: ``map_keys(m)``) becomes Spark's string ``LENGTH``, which refuses it; use ``array_length`` (Spark
  ``SIZE``).
* ``list_distinct``/``array_distinct``: its items in no fixed order in DuckDB, in first-seen order in Spark (so
  ``array_to_string(list_distinct(list(x)), ',')`` differs), unless only counted (``array_length``), unnested or
  sorted: ``list_sort(list_distinct(…))``. (Its NULLs, dropped by DuckDB and kept once by Spark's ``ARRAY_DISTINCT``,
  are dropped on Spark too: see below.)
* ``list``/``array_agg`` with ``ORDER BY``: sqlglot writes Spark's ``COLLECT_LIST`` without it, so the items come in
  no fixed order; ``string_agg(x, ',' ORDER BY …, x)`` joins them in order on both.
* ``string_agg(x, ',' ORDER BY o)`` whose keys lack ``x``, and a list or ``string_agg`` over a window whose
  ``ORDER BY`` lacks its value: rows tied on the keys (two statuses of one ``dt``; a window's peers) come in the
  order the rows do (``b,a,c`` in DuckDB, ``c,a,b`` in Spark). With the value as a key, rows tied on every key hold
  the same value, so their order cannot show: ``string_agg(x, ',' ORDER BY o, x)``.
* ``list``/``array_agg`` without ``ORDER BY`` (``DISTINCT`` or not) and ``string_agg`` without ``ORDER BY``: the items
  come in the order the rows do, which differs between the engines (``string_agg(DISTINCT x)`` ``c,b,a`` in DuckDB,
  ``b,a,c`` in Spark). A list is refused unless its order cannot show: only counted, sorted, deduplicated
  (``list_distinct``, checked on its own), searched (``list_contains``, ``list_max``/``list_min``) or unnested, also
  through ``flatten``/``list_concat``/``list_transform``/``list_filter``, or aggregated over a window with an
  ``ORDER BY`` that has the list's value among its keys (the frame's order), or a result column (refused for every
  engine). Write ``string_agg(x, ',' ORDER BY x)`` (``string_agg(DISTINCT x, ',' ORDER BY x)``)
  or ``list_sort(list(x))``.
* ``strftime`` formats with literal letters (``'%Y-%m-%dT%H'``): Spark reads the ``T`` as a pattern letter.
* ``strftime`` codes sqlglot does not translate (``%w``, ``%u``, ``%V``, ``%e``, ``%%``, …), ``%j`` (zero-padded to
  3 digits in DuckDB, 2 in Spark) and the zone codes ``%z``/``%Z`` (the curated timestamps have no zone).
* ``DATE - DATE``: a number of days in DuckDB, an interval in Spark; ``date_diff('day', b, a)`` is both's number.
* ``DATE ± INTERVAL`` and ``date_trunc`` of a DATE: a TIMESTAMP in DuckDB, a DATE in Spark (same day), unless cast
  back with ``CAST(… AS DATE)``. (``DATE ± n`` days, ``TIMESTAMP ± INTERVAL`` and ``TIMESTAMP - TIMESTAMP`` agree.)
* ``age``, ``date_sub(part, a, b)`` (whole parts elapsed; Spark's ``date_sub`` subtracts days from a date) and
  ``week`` (ISO week) Spark does not have; ``weekofyear``/``extract(week …)`` are ISO weeks in both.
* ``dayname``/``monthname`` (``Sunday``/``March`` in DuckDB, ``Sun``/``Mar`` in Spark): ``strftime`` ``%A``/``%B``.
* ``epoch``: seconds with their fraction (DOUBLE) in DuckDB, whole seconds (BIGINT) in Spark.
* ``log(x)``: base 10 in DuckDB, natural in Spark (``log10``/``log(2, x)`` are translated to Spark's ``LOG10``/
  ``LOG2``: its ``LOG(10, x)`` gives 2.9999999999999996 for ``log10(1000)``).
* ``format``: DuckDB's ``{}`` placeholders are printed as they are by Spark's ``format_string``.
* a ``CAST`` of a fractional number (DOUBLE, DECIMAL) to an integer type rounds in DuckDB, truncates in Spark; a
  ``TRY_CAST`` of text to an integer type reads ``'1.9'`` as 2 and ``'1e3'`` as 1000 in DuckDB, as NULL in Spark,
  and a ``CAST`` of such text fails the run in Spark (of quoted whole-number text both agree); text read from JSON
  (``json_extract_string(j, '$.i')``, ``j ->> 'i'``), which sqlglot leaves untyped, is such text.
* JSON's arrow ``j -> 'k'`` (``json_extract``): JSON in DuckDB, a string keeping its quotes (``"a"``), the string's
  text in Spark (``a``), unless cast to a list, map or struct or read further; ``j ->> 'k'`` is the text in both.
  sqlglot read ``->`` in a function's arguments (``coalesce(j -> 'k', …)``) as a lambda, which Spark refused: it is
  JSON's arrow, as to DuckDB, whose arrow lambda (``x -> x + 1``) is refused (deprecated) (:class:`_Parser`).
  ``CAST(x AS JSON)``/``x::JSON`` and ``json(x)``: sqlglot's ``TO_JSON`` fails the run on text, and ``json(x)``
  rewrites the text in DuckDB (``{"i":1}``); DuckDB's JSON functions read text, so the cast is not needed.
  ``to_json`` writes JSON otherwise in Spark (a NULL field left out, ``2.50``, ``1.0E20``, a TIMESTAMP with a ``T``),
  and ``json_object``/``json_array`` are not Spark functions: build the text with ``concat``.
* ``INTERVAL 1.5 DAY`` (a number of a unit other than seconds not written as a whole number, also ``'1.5 days'``):
  Spark fails the run on it, DuckDB cuts the fraction off (of ``'1.5 days'`` keeps it); ``1.5 * INTERVAL 1 DAY`` is
  alike in both (:func:`_check_fractional_intervals`).
* ``round(x, n)`` of a DOUBLE: DuckDB rounds its binary value (1.005 → 1.0), Spark its decimal text (1.01); to
  whole numbers both agree, so ``round(x * 100) / 100`` is the portable spelling.
* ``/`` with a decimal literal (``x * 100.0 / y``): a DOUBLE in DuckDB, a DECIMAL rounded to 6 or so places in
  Spark; write ``100 * x / y`` (integers divide to a DOUBLE in both).
* ``avg`` of a DECIMAL: a DOUBLE in DuckDB, a DECIMAL rounded to 4 more places in Spark; write ``sum(x) / count(x)``
  (a DECIMAL divided is divided as DOUBLEs in both: see below).
* ``//`` of a DOUBLE or DECIMAL: DuckDB divides without rounding (``7.5 // 2`` is 3.75), Spark's ``DIV`` to a whole
  number (3), and fails for a DOUBLE; write ``floor(x / y)`` or ``x / y``.
* ``array_intersect``: its items in no fixed order in DuckDB, in the first list's order in Spark, unless only counted,
  sorted, searched or unnested (as ``list_distinct``; its NULLs are dropped on Spark too: see below).
* DuckDB list functions Spark has not, which sqlglot leaves as they are (``list_sum``, ``list_avg``,
  ``list_aggregate``, ``list_reduce``, ``list_apply``, … : any ``list_*``/``array_*`` function Spark does not know),
  which Spark refused only when the metric ran, and ``fediscope doctor`` passed; ``list_sum`` and the like are not
  translated (``AGGREGATE`` would add the items in another type: DuckDB sums integers to a HUGEINT).
* ``list_sort`` of a list of lists or structs (typed so from the curated tables' schemas): a NULL inside an item
  sorts last in DuckDB, first in Spark.
* a slice with a step (``l[a:b:s]``, ``list_slice(l, a, b, s)``), and a slice of text (``s[a:b]``, typed so) or of
  a value sqlglot does not type (``json_extract_string(…)[a:b]``, ``regexp_extract(…)[a:b]``: text, which DuckDB
  slices too): ``substring(s, a, b - a + 1)`` is alike in both for a start of 1 or more. (A list's slice is
  translated: below.)
* ``element_at``/``map_extract`` (of a map a list in DuckDB, ``[v]`` or ``[]``, the value in Spark: ``m[k]``),
  ``map_concat`` (DuckDB keeps the last map's value of a key two maps hold, Spark fails the run) and the ``map_…``
  functions Spark has not (``map_contains_value``, ``map_extract_value``, …).
* a DOUBLE (or FLOAT) written as text: ``CAST(x AS VARCHAR)``/``x::VARCHAR``, ``concat``/``||``/``concat_ws`` with
  it, ``string_agg`` of it, ``array_to_string`` of a list of them, ``printf`` of it. DuckDB writes ``123456789.0``,
  ``2e+20``, ``1e-05``, Spark ``1.23456789E8``, ``2.0E20``, ``1.0E-5`` (both ``0.1``, ``1.5``: only some magnitudes
  differ); ``floor``/``ceil`` are DOUBLEs in DuckDB (``7.0``), BIGINTs in Spark (``7``); ``printf('%.2f', x)`` rounds
  a tie such as 1.005 by its binary value in DuckDB (``1.00``), by its decimal text in Spark (``1.01``); ``-0.0`` and
  ``0.0`` are two values in DuckDB's ``string_agg(DISTINCT …)``, one in Spark's, and the one a GROUP BY keeps is
  written ``-0.0`` or ``0.0`` as the rows come in DuckDB, ``0.0`` in Spark. The text of a DECIMAL or an integer is
  alike: ``CAST(round(x * 100) / 100 AS DECIMAL(18, 2))`` or ``CAST(round(x) AS BIGINT)``. The DOUBLE is known
  from the types sqlglot infers (a column of a curated table or a CTE, ``avg``, ``/``, …), except that a number
  literal with a decimal point is a DECIMAL in DuckDB (``x * 1.5``: alike), which sqlglot types DOUBLE.
* an INTERVAL written as text (``CAST(created_at - fetched_at AS VARCHAR)``, ``::VARCHAR``, ``concat``/``||``/
  ``concat_ws`` with it, ``string_agg`` of it, ``array_to_string`` of a list of them, ``printf`` of it): DuckDB writes
  ``1 day 00:30:00``, Spark ``INTERVAL '1 00:30:00' DAY TO SECOND``. Give it as a number (:func:`interval_as_number`:
  ``epoch`` and ``date_diff`` other than in days are refused). A TIMESTAMP minus a TIMESTAMP (or a DATE) is typed an
  INTERVAL by :func:`_duckdb_arithmetic`.
* a ``CAST`` of a DOUBLE to a DECIMAL with decimal places: a tie such as 1.005 (``201 / 200``) becomes 1.00 in
  DuckDB (its binary value is below the tie), 1.01 in Spark (its decimal text), unless rounded to that many places
  first: ``CAST(round(x * 100) / 100 AS DECIMAL(18, 2))``, ``CAST(round(x) AS DECIMAL(18, 2))`` (to no places both
  agree).
* ``l[i]`` and ``x / y`` of a lambda's parameter whose list's items sqlglot cannot type (a JSON value's list):
  whether it is a list's item, a map's value or a character, and whether a DECIMAL is divided, decide its Spark SQL;
  a ``CAST`` of the list types it. A lambda's parameters are typed from its list otherwise (:func:`_typed_lambdas`).
* an index of text (``s[i]``: a character in DuckDB): Spark has none; ``substring(s, i, 1)`` is alike.
* an interpolated quantile (``median``, ``quantile_cont``, ``percentile_cont … WITHIN GROUP``) of a DECIMAL: a
  DECIMAL cut to its places in DuckDB (0.03 for 0.01, 0.02, 0.05, 0.06), a DOUBLE in Spark (0.035); a list of
  fractions; of a DATE, a TIMESTAMP or another non-number (a TIMESTAMP between two values in
  DuckDB; the translation below interpolates numbers only, and Spark refused the rest when the metric ran):
  ``quantile_disc`` takes one of the values in both (``percentile_disc(q) WITHIN GROUP (ORDER BY x DESC)`` for a
  descending order, which ``quantile_disc(x, 1 - q)`` is not); ``approx_quantile`` (estimated by other algorithms:
  T-Digest, Spark's GK) and ``reservoir_quantile`` (estimated from a sample in DuckDB; Spark has none).
* a list comprehension using its position in its result after ``IF`` (``[x || i FOR x, i IN l IF c]``): DuckDB
  numbers the items before the ``IF``, the translation's ``TRANSFORM`` after it. (Others are translated: below.)
* ``regexp_split_to_array``/``string_split_regex`` with options (sqlglot made the third argument Spark's limit), and
  ``fmod``/``divide`` with other than two arguments.
* what DuckDB refuses and Spark answered (so ``fediscope doctor`` and ``--engine spark`` took a metric the DuckDB
  engine fails): ``INTERVAL -1 DAY`` (a sign before the number: a syntax error to DuckDB, ``INTERVAL '-1' DAY`` to
  sqlglot: :func:`_check_signed_intervals`); a count, position, index or series bound computed from a ``sum`` of
  whole numbers (``left(s, sum(x) - n)``, ``l[sum(x)]``, ``range(sum(x))``, also through a CTE's or a subquery's
  column: a HUGEINT in DuckDB, :func:`_integer_sum`); ``lpad``/``rpad``'s count or ``chr``'s code point of a BIGINT
  (``lpad(s, length(s) + 2, '-')``, ``chr(count(*))``: DuckDB takes an INTEGER there); ``split_part`` with a
  part index of text or JSON; a regular expression escape RE2 has not (``\\8``, a back reference ``\\1``:
  :mod:`fediscope.engine.dialect_text`); ``range``/``generate_series`` with other than 1 to 3 arguments (sqlglot
  dropped a fourth: :func:`_series_call`).
* ``range``/``generate_series`` of timestamps, as a table or a list (Spark stopped the run), and as a table with a
  step of 0 (which fails on both; as a list it is ``[]`` on both).
* a quoted timestamp whose zone the engines read otherwise (``TIMESTAMP '2026-01-01 10:00+02'``: Spark fails the run
  on a zone after minutes; ``+2``, ``GMT+2``, ``utc``, a zone name): one rule, not each spelling: only an offset of
  two-digit hours, ``Z`` or `` UTC`` right after the seconds passes (:func:`_check_zoned_timestamp_text`).

Beyond sqlglot's translation, :func:`to_spark` writes some constructs otherwise, so that Spark gives DuckDB's answer:
``log10(x)`` as ``LOG10(x)``; ``list_distinct(x)`` as ``ARRAY_COMPACT(ARRAY_DISTINCT(x))`` (DuckDB drops the list's
NULLs); ``string_agg(DISTINCT x, sep ORDER BY x)`` as the sorted set of its values joined (sqlglot's ``LISTAGG
… WITHIN GROUP``, which Spark fails beside another DISTINCT aggregate); and the list constructs that treat NULL items
otherwise (:func:`_spark_null_items`): ``list(x)``/``array_agg(x)`` keeps the rows' NULLs as items (Spark's
``COLLECT_LIST`` drops them) and is NULL with no row (Spark's ``[]``), ``flatten`` skips a NULL list,
``array_to_string`` of NULLs only is NULL and ``list_contains`` is false, not NULL, for a list holding NULLs; and
the list functions Spark has not, or answers otherwise for NULL items or a missing one (:data:`_SPARK_LIST_FUNCTIONS`):
``list_has_any``, ``list_has_all``, ``list_position``, ``list_count`` and ``list_unique``; and ``concat(a, b, …)``
with each argument cast to text first (:func:`_spark_concat_text`: sqlglot's ``CONCAT(COALESCE(a, ''), …)`` wrote a
DECIMAL as a DOUBLE on Spark, ``3.5`` for ``3.50``, and failed the run on a NULL number). With the types of
expressions (:func:`_spark_typed`): ``/`` with a DECIMAL with the DECIMAL cast to a DOUBLE (DuckDB divides to a DOUBLE,
Spark to a DECIMAL rounded to 6 places); and a list's item ``l[i]`` as ``TRY_ELEMENT_AT`` (DuckDB gives NULL out of
range and for 0, where Spark fails in ANSI mode; sqlglot wrote ``l[-1]`` as Spark's ``l[-2]`` and a computed index
unshifted), also of a map's keys or values (``map_keys(m)[i]``, typed as lists by :func:`_map_part_list`).
``array_intersect(a, b)`` drops the NULLs both hold and is ``[]`` for a NULL ``b``, as in DuckDB
(:func:`_spark_intersect_without_nulls`). The types are sqlglot's, with DuckDB's for number literals and arithmetic
(:data:`_DUCKDB_TYPING`: ``1.5`` a DECIMAL, a DOUBLE with a DECIMAL a DOUBLE, ``/`` a DOUBLE). ``sum`` of whole
numbers is Spark's BIGINT sum; ``to_spark(sql, wide_sums=True)``, which the Spark engine runs once that overflowed,
sums them as a ``DECIMAL(38, 0)``, as DuckDB sums to a HUGEINT (Spark's BIGINT sum stopped the run once a partial
sum passed 64 bits), and casts back to a BIGINT unless cast itself or computed with (:func:`_wide_sum`). A list's slice
(``l[a:b]``, ``list_slice``, ``array_slice``) is Spark's ``SLICE`` with DuckDB's bounds (:func:`_spark_slices`;
sqlglot left ``l[a:b]`` as it is, which Spark does not parse, and wrote ``array_slice(l, a, b)`` as ``SLICE(l, a, b)``,
whose third argument is a length); a map literal ``MAP {k: v}`` Spark's ``MAP(k, v)`` (sqlglot: ``MAP STRUCT(v AS
k)``), a map's value ``m[k]`` ``TRY_ELEMENT_AT(m, k)`` (sqlglot shifted a number key as a list's index) and
``map_contains`` ``MAP_CONTAINS_KEY`` (:func:`_spark_maps`); a slice without a start, ``l[:b]``, is read as one
(:class:`_Parser`; sqlglot read ``:b`` as a parameter, so that ``l[:abs(b)]`` did not parse); ``list_concat`` skips
a NULL list as in DuckDB (:func:`_spark_list_concat`; ``||`` is NULL with one in both); and ``x / y`` gives DuckDB's
±infinity (NaN for 0 / 0) for ``y`` 0, and ``%`` of a DOUBLE its NaN, where Spark (ANSI mode) stops the run
(:func:`_by_zero`). ``//`` and ``%`` of whole numbers and DECIMALs stop at 0 in both; the engines' errors then say to
write ``nullif(y, 0)``.
Inside a lambda these are written alike, its parameters typed from its list (:func:`_typed_lambdas`), and its second
parameter, the item's position, counts from 1 as in DuckDB (:func:`_spark_lambda_positions`; Spark's from 0).
DuckDB's names Spark has not are written as what they are (:func:`_duckdb_normalized`): ``list_intersect`` as
``array_intersect``, ``regexp_split_to_array`` as ``string_split_regex`` (Spark's ``SPLIT``), ``divide`` as ``//``;
``fmod(x, y)``, ``x - y * floor(x / y)`` in DOUBLEs, by :func:`_spark_fmod`; ``date_add(ts, INTERVAL …)`` as
``ts + INTERVAL …``, also of one computed, ``n * INTERVAL 1 DAY`` (Spark's ``date_add`` adds days only; of a DATE
and an INTERVAL refused as ``DATE ± INTERVAL``), ``prefix``/
``suffix`` as ``starts_with``/``ends_with`` and ``strlen`` as ``octet_length``; a list comprehension ``[f(x) FOR x IN l
IF c]`` as ``list_transform(list_filter(l, lambda x: c), lambda x: f(x))`` (sqlglot wrote ``ARRAY(f(x) FOR x IN l IF
c)``, which Spark does not parse); ``a || NULL`` with a bare NULL as
``IF(FALSE, a, NULL)`` (Spark refused ``||`` of a list and its text-typed NULL: :func:`_spark_null_concat`);
``range``/``generate_series`` as a table (``FROM range(24) AS t(h)``, a calendar) as Spark's ``RANGE`` table, its
column named as DuckDB names it (:func:`_spark_series`; sqlglot wrote ``EXPLODE(SEQUENCE(0, 23), _u(t))``,
which Spark does not resolve), refused of timestamps or of another table's column (:func:`_check_series_table`); and
the quantiles, ``median``, ``quantile_cont``, ``quantile``/``quantile_disc`` and ``percentile_cont``/``percentile_disc …
WITHIN GROUP``, as DuckDB computes them over the sorted values (:func:`_spark_quantiles`; sqlglot wrote ``quantile``
as Spark's interpolated ``PERCENTILE``, ``… WITHIN GROUP`` as the approximate ``PERCENTILE_APPROX``).

Text functions Spark runs with another meaning (a ``substring`` from 0 or of a negative length, ``left``/``right``
of a negative count, ``regexp_replace``'s ``\\1``, a ``LIKE`` pattern's backslash, ``upper``/``lower``/``ILIKE``
of ``ß``, ``Σ``, ``İ``, a regular expression's ``$``, ``.``, ``\\s``, ``\\b`` and ``[`` in a class, ``split_part``
of ``''``, ``to_timestamp``'s fraction, ``chr`` of a code point over 255) are written as DuckDB means them, and
``hash``, ``mode``, ``arg_max``/``arg_min``, ``reverse`` of text, a regular expression that is not quoted text and
RE2's flag ``(?U)`` refused, by :mod:`fediscope.engine.dialect_text`.

Floating-point aggregates of DOUBLEs (``sum``, ``avg``, ``stddev_…``, ``var_…``, ``covar_…``, ``corr``, ``regr_…``)
are deliberately not refused, though their last digits may differ (``stddev_samp`` 3.7656119785455617 in DuckDB,
3.765611978545562 in Spark): the engines add the values in another order and compute these by other formulas,
ordinary floating-point rounding, which the README states for every such aggregate. So is an interpolated quantile
(``median``, ``quantile_cont``, ``percentile_cont``) of numbers at any fraction: DuckDB computes
``lo * (1 - d) + hi * d`` with a fused multiply-add, the translation without, so at a fraction other than 0, 0.5
and 1 (and 0.25 and 0.75 of whole numbers) the last digit may differ (2.220446049250313e-16 in DuckDB, 0.0 in
Spark for 0.3 of -9 and 21): the same rounding, by another formula. Was: refused there, though ``avg`` of the same
values was not, and ``quantile_disc``, its advice, is another statistic (one of the values).

The parity test runs every metric on both engines, so anything this check misses still fails a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.tokens import TokenType

from fediscope.engine.dialect_text import TextNotPortable, check_text_portable, spark_text_functions
from fediscope.engine.schema import COLLECTION_STARTS, CURATED, STATUSES, duckdb_type

_FORBIDDEN_FUNCTIONS = {"ISODOW", "DOW", "WEEKDAY", "DAYOFWEEK", "YEARWEEK", "LEN"}

#: ``extract``/``date_part`` parts both engines number alike (checked on DuckDB and Spark 4)
_PORTABLE_PARTS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOY", "HOUR", "MINUTE"}
_DATE_PART_FUNCTIONS = {"DATE_PART", "DATEPART"}
#: ``date_diff`` units both engines count alike (between two DATEs only)
_PORTABLE_DIFF_UNITS = {"DAY", "DAYS", "D"}
#: ``strftime`` codes sqlglot translates to a Spark pattern that formats alike
_PORTABLE_FORMAT_CODES = {"%a", "%A", "%b", "%B", "%d", "%-d", "%f", "%H", "%-H", "%I", "%-I", "%m", "%-m", "%M",
                          "%-M", "%p", "%S", "%-S", "%y", "%Y", "%-j"}
_WEEKDAY_HINT = "(date_diff('day', DATE '1970-01-05', CAST(x AS DATE)) % 7 + 7) % 7 + 1 (Monday = 1)"
#: DuckDB's weekday numbering (``dayofweek``, ``weekday``, ``extract(dow …)``), Sunday = 0, written portably
_SUNDAY_ZERO_HINT = "(date_diff('day', DATE '1970-01-04', CAST(x AS DATE)) % 7 + 7) % 7 (Sunday = 0)"
#: DuckDB's ``yearweek``: the ISO year (of the week's Thursday: early January may be the last year's week 52 or 53,
#: late December the next year's week 1) times 100 plus the ISO week, from parts both engines number alike
_YEARWEEK_HINT = ("(CASE WHEN weekofyear(x) >= 52 AND month(x) = 1 THEN year(x) - 1 WHEN weekofyear(x) = 1 AND "
                  "month(x) = 12 THEN year(x) + 1 ELSE year(x) END) * 100 + weekofyear(x)")
#: how to write JSON text alike in both engines
_JSON_TEXT_ADVICE = ("build the JSON text with concat() instead, e.g. concat('{{\"n\":', n, '}}') of a whole number n "
                     "(alike in both)")
#: DuckDB functions Spark has not (or has under the name with another meaning) → what the refusal says
_REFUSED_FUNCTIONS = {
    # was: the generic "not portable to Spark SQL (use array_length for lists, date_diff arithmetic for weekdays)"
    "DOW": ("dow() is a function of neither DuckDB nor Spark (DuckDB's date part dow, dayofweek(x), is Sunday = 0); "
            f"for the ISO weekday write {_WEEKDAY_HINT}, for DuckDB's numbering {_SUNDAY_ZERO_HINT}"),
    "WEEKDAY": ("weekday() is Sunday = 0 in DuckDB, Monday = 0 in Spark; for the ISO weekday write "
                f"{_WEEKDAY_HINT}, for DuckDB's numbering {_SUNDAY_ZERO_HINT}"),
    "YEARWEEK": ("yearweek() (the ISO year times 100 plus the ISO week in DuckDB) is not a Spark function; write "
                 f"{_YEARWEEK_HINT}"),
    "AGE": "age() is not a Spark function; write date_diff('day', CAST(b AS DATE), CAST(a AS DATE)) for days, "
           "or a - b between TIMESTAMPs (an interval in both)",
    "DATE_SUB": "date_sub() counts whole units elapsed in DuckDB and subtracts days from a date in Spark; write "
                "date_diff('day', CAST(a AS DATE), CAST(b AS DATE)), or d - n for a day n days before",
    **dict.fromkeys(("LIST_SUM", "LIST_AVG", "LIST_PRODUCT"), (
        "{function}() is not a Spark function; aggregate the items as rows instead: for {function}(list(x)) "
        "aggregate x itself, or unnest the list in a subquery and aggregate that")),
    **dict.fromkeys(("LIST_AGGREGATE", "LIST_AGGR", "ARRAY_AGGREGATE", "ARRAY_AGGR"), (
        "{function}() is not a Spark function; write list_max, list_min, list_count (its non-NULL items), "
        "list_unique (its distinct ones) or array_length, or aggregate the items as rows (sum(x) for "
        "{function}(list(x), 'sum'), or unnest the list in a subquery and aggregate it there)")),
    **dict.fromkeys(("LIST_APPLY", "ARRAY_APPLY", "ARRAY_TRANSFORM"),
                    "{function}() is not a Spark function; write list_transform(l, lambda x: …)"),
    "LIST_CAT": "{function}() is not a Spark function; write list_concat(a, b)",
    "RESERVOIR_QUANTILE": ("{function}() is not a Spark function (DuckDB estimates it from a sample of the values); "
                           "write quantile_cont(x, q) or quantile_disc(x, q), exact and alike in both"),
    # a map's value: DuckDB's element_at/map_extract give a list of it ([v], [] for a missing key), Spark's
    # element_at the value (and of a list, an error out of range in ANSI mode, where DuckDB gives NULL)
    **dict.fromkeys(("ELEMENT_AT", "MAP_EXTRACT"), (
        "{function}() of a map is a list ([v], or [] for a missing key) in DuckDB, the value in Spark; write m[k] "
        "for a map's value (NULL for a missing key in both), l[i] for a list's item")),
    "MAP_EXTRACT_VALUE": "{function}() is not a Spark function; write m[k] (NULL for a missing key in both)",
    "MAP_CONCAT": ("{function}() keeps the last map's value of a key two maps hold in DuckDB, and fails the run in "
                   "Spark; take the values by key instead: coalesce(b[k], a[k])"),
    **dict.fromkeys(("MAP_CONTAINS_VALUE", "MAP_CONTAINS_ENTRY"), (
        "{function}() is not a Spark function; write list_contains(map_values(m), v) for a value, or m[k] = v for "
        "an entry")),
    **dict.fromkeys(("LIST_PACK", "ARRAY_VALUE"), "{function}() is not a Spark function; write [a, b, …]"),
    # DuckDB {"a":1,"b":null,"e":2.5,"f":100000000000000000000.0,"t":"2024-01-01 10:00:00"}, Spark {"a":1,"e":2.50,
    # "f":1.0E20,"t":"2024-01-01T10:00:00.000"} (checked on Spark 4)
    "TO_JSON": ("{function}() writes a value's JSON otherwise in Spark (a NULL field left out, a DECIMAL 2.50 as 2.50 "
                "where DuckDB writes 2.5, a DOUBLE 1e20 as 1.0E20, a TIMESTAMP with a T); " + _JSON_TEXT_ADVICE),
    # with its order given as quoted text, sqlglot parses a sort into its own node and translates it
    **dict.fromkeys(("LIST_SORT", "ARRAY_SORT", "LIST_REVERSE_SORT", "ARRAY_REVERSE_SORT"), (
        "{function}() is translated for Spark only with its order as quoted text: write list_sort(l, 'DESC', "
        "'NULLS LAST') and the like")),
}
#: DuckDB's list functions Spark has not that sqlglot leaves as they are: refused when the name starts with one of
#: these and Spark has no function of that name (Spark 4's own: ``SHOW FUNCTIONS``), with the advice of
#: :data:`_REFUSED_FUNCTIONS` when it has one; :data:`_SPARK_LIST_FUNCTIONS` are translated instead
_LIST_PREFIXES = ("LIST_", "ARRAY_")
_SPARK_ARRAY_FUNCTIONS = {"ARRAY_AGG", "ARRAY_APPEND", "ARRAY_COMPACT", "ARRAY_CONTAINS", "ARRAY_DISTINCT",
                          "ARRAY_EXCEPT", "ARRAY_INSERT", "ARRAY_INTERSECT", "ARRAY_JOIN", "ARRAY_MAX", "ARRAY_MIN",
                          "ARRAY_POSITION", "ARRAY_PREPEND", "ARRAY_REMOVE", "ARRAY_REPEAT", "ARRAY_SIZE",
                          "ARRAY_SORT", "ARRAY_UNION"}
#: the ``map_…`` functions Spark knows (Spark 4's ``SHOW FUNCTIONS``), or that :func:`_spark_maps` translates
#: (``map_contains``); any other, and those of :data:`_REFUSED_FUNCTIONS`, are refused
_SPARK_MAP_FUNCTIONS = {"MAP_CONTAINS", "MAP_CONTAINS_KEY", "MAP_ENTRIES", "MAP_FILTER", "MAP_FROM_ARRAYS",
                        "MAP_FROM_ENTRIES", "MAP_KEYS", "MAP_VALUES", "MAP_ZIP_WITH"}
_INTEGER_TYPES = {exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
                  exp.DataType.Type.BIGINT, exp.DataType.Type.INT128, exp.DataType.Type.UTINYINT,
                  exp.DataType.Type.USMALLINT, exp.DataType.Type.UINT, exp.DataType.Type.UBIGINT}
_FLOATING_TYPES = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}
_FRACTIONAL_TYPES = {*_FLOATING_TYPES, exp.DataType.Type.DECIMAL}


class _Parser(DuckDBParser):
    """sqlglot's DuckDB parser, with a slice without a start (``l[:b]``) read as one: sqlglot read ``:b`` as a
    parameter (which DuckDB names none so), so that ``l[:abs(b)]`` did not parse (``Expected ]``) and ``l[:b:2]``
    lost its step (a start ``:b`` and an end 2); a column named ``interval`` followed by an operator
    (``interval - 1``) read as that column, as DuckDB reads it (:meth:`_parse_interval`); and ``->`` always JSON's
    arrow, as DuckDB reads it (its arrow lambda, ``x -> x + 1``, is refused: ``Deprecated lambda arrow``): sqlglot read
    ``j -> 'k'`` in a function's arguments (``coalesce(j -> 'k', …)``) as a lambda, which Spark refused
    (:func:`_check_json_extract`)."""

    LAMBDAS = {token: build for token, build in DuckDBParser.LAMBDAS.items() if token != TokenType.ARROW}
    #: ``range``/``generate_series`` as DuckDB takes them, with 1 to 3 arguments (:func:`_series_call`): sqlglot
    #: dropped a fourth (``range(1, 2, 3, 4)``, which DuckDB refuses, was Spark's ``SEQUENCE(1, 1, 3)``)
    FUNCTIONS = {**DuckDBParser.FUNCTIONS,
                 "RANGE": lambda args: _series_call("range", DuckDBParser.FUNCTIONS["RANGE"], args),
                 "GENERATE_SERIES": lambda args: _series_call("generate_series",
                                                              DuckDBParser.FUNCTIONS["GENERATE_SERIES"], args)}

    #: what may follow ``INTERVAL`` in DuckDB's interval literal: ``'1 day'``, ``1 DAY``, ``(n) DAY``
    _INTERVAL_OPERANDS = (TokenType.STRING, TokenType.NUMBER, TokenType.L_PAREN)

    def _parse_bracket_key_value(self, is_map: bool = False) -> exp.Expression | None:
        if (self._prev is not None and self._prev.token_type == TokenType.L_BRACKET
                and self._curr is not None and self._curr.token_type == TokenType.COLON):
            return self._parse_slice(None)
        return super()._parse_bracket_key_value(is_map)

    def _parse_interval(self, require_interval: bool = True,
                        parse_function_unit: bool = True) -> exp.Add | exp.Interval | None:
        """None (the ``INTERVAL`` token left to be read as a column) unless a quoted text, a number or a
        parenthesized value follows it: sqlglot read ``interval - 1`` (a column named ``interval`` minus 1, to
        DuckDB) as the interval ``INTERVAL '-1'``, which Spark refused, ``interval * 2`` as a sum of intervals
        and ``interval / 2`` not at all. (``INTERVAL -1 DAY``, which DuckDB refuses, is then ``interval - 1`` named
        ``DAY``, refused by :func:`_check_signed_intervals`.)"""
        if (require_interval and self._curr is not None and self._curr.token_type == TokenType.INTERVAL
                and (self._next is None or self._next.token_type not in self._INTERVAL_OPERANDS)):
            return None
        return super()._parse_interval(require_interval, parse_function_unit)


#: how many arguments a ``range``/``generate_series`` was written with (sqlglot adds ``range(n)``'s start, 0)
_WRITTEN_ARGUMENTS = "fediscope_written_arguments"


def _series_call(function: str, build: Callable[[list], exp.Expression], args: list) -> exp.Expression:
    """``range``/``generate_series`` of ``args`` as sqlglot builds it, the number written in its meta; with other
    than 1 to 3 arguments, which DuckDB refuses, a call of that name, refused by :func:`check_portable`."""
    if not 1 <= len(args) <= 3:
        return exp.Anonymous(this=function, expressions=args)
    written = len(args)
    series = build(args)
    series.meta[_WRITTEN_ARGUMENTS] = written
    return series


def _series_written(series: exp.GenerateSeries) -> str:
    """``series`` as it was written: ``range(v.n)``, not sqlglot's ``range(0, v.n)``."""
    function = "range" if series.args.get("is_end_exclusive") else "generate_series"
    args = [series.args.get(arg) for arg in ("start", "end", "step")]
    args = [arg for arg in args if arg is not None][-series.meta.get(_WRITTEN_ARGUMENTS, 3):]
    return f"{function}({', '.join(_text(arg) for arg in args)})"


#: the SQL text a statement was parsed from, in its meta: a refusal quotes a node as written (:func:`_written`)
_SOURCE = "fediscope_source"


def _parse(sql: str) -> list[exp.Expression | None]:
    """The DuckDB statements of ``sql``, parsed by :class:`_Parser`, each with ``sql`` in its meta."""
    duckdb = sqlglot.Dialect.get_or_raise("duckdb")
    statements = _Parser(dialect=duckdb).parse(duckdb.tokenize(sql), sql)
    for statement in statements:
        if statement is not None:
            statement.meta[_SOURCE] = sql
    return statements


def _parse_one(sql: str) -> exp.Expression:
    """``sql`` parsed as ``sqlglot.parse_one(sql, read="duckdb")`` does, by :class:`_Parser`."""
    statements = _parse(sql)
    if not statements or statements[0] is None:
        raise sqlglot.errors.ParseError(f"No expression was parsed from '{sql}'")
    return exp.Block(expressions=statements) if len(statements) > 1 else statements[0]


class NotPortableError(ValueError):
    """The SQL uses a DuckDB construct whose Spark translation means something different."""


#: the units of an ``INTERVAL n <unit>`` (DuckDB's, singular and plural)
_INTERVAL_UNITS = {unit + plural for unit in ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND",
                                              "MILLISECOND", "MICROSECOND", "DECADE", "CENTURY", "MILLENNIUM")
                   for plural in ("", "S")} | {"CENTURIES", "MILLENNIA"}


def _check_signed_intervals(sql: str, name: str) -> None:
    """Refuse ``INTERVAL -1 DAY`` (a sign before the interval's number): DuckDB's parser refuses it (``syntax error
    at or near "DAY"``), so the DuckDB engine failed the metric, where sqlglot reads it as ``INTERVAL '-1' DAY``,
    which Spark ran. Read from the tokens: the parsed interval is the same as the quoted one's. A column named
    ``interval`` (``interval - 1``, which DuckDB takes) has no unit after its operand."""
    tokens = _tokens_if_any(sql)
    if tokens is None:
        return  # the parse reports it
    kinds = sqlglot.tokens.TokenType
    for i, token in enumerate(tokens[:-3]):
        if token.token_type != kinds.INTERVAL or tokens[i + 1].token_type not in (kinds.DASH, kinds.PLUS):
            continue
        j, depth = i + 2, 0
        while j < len(tokens):  # past the operand: one token, or a parenthesized one
            depth += {kinds.L_PAREN: 1, kinds.R_PAREN: -1}.get(tokens[j].token_type, 0)
            j += 1
            if depth <= 0:
                break
        if j < len(tokens) and tokens[j].text.upper() in _INTERVAL_UNITS:
            written = sql[token.start:tokens[j].end + 1]
            sign = "-" if tokens[i + 1].token_type == kinds.DASH else ""
            operand, unit = sql[tokens[i + 2].start:tokens[j - 1].end + 1], tokens[j].text
            advice = (f"{sign}INTERVAL {operand} {unit} or INTERVAL '{sign}{operand}' {unit}"
                      if j == i + 3 and tokens[i + 2].token_type == kinds.NUMBER else
                      f"{sign}{operand} * INTERVAL 1 {unit}")
            raise NotPortableError(
                f"{name}: {written} (a sign before the interval's number) is not valid DuckDB SQL (a syntax error at "
                f"{unit}), though Spark takes it; write {advice}")


#: the units whose fraction Spark takes, as DuckDB does (``INTERVAL 1.5 SECOND``: 1.5 seconds in both)
_FRACTION_UNITS = {"SECOND", "SECONDS"}
#: the units DuckDB counts in months, which Spark multiplies otherwise (``1.5 * INTERVAL 1 MONTH``: 1 month 15 days
#: in DuckDB, a year-month interval in Spark)
_MONTH_UNITS = {unit + plural for unit in ("YEAR", "QUARTER", "MONTH", "DECADE") for plural in ("", "S")} | {
    "CENTURY", "CENTURIES", "MILLENNIUM", "MILLENNIA"}
_WHOLE = re.compile(r"\s*[+-]?[0-9]+\s*")
#: ``'1 day 1.5 hours'``: an interval's text of numbers and their units, and one of its parts
_PART = re.compile(r"([+-]?[0-9.]+(?:e[+-]?[0-9]+)?)\s*([a-z]+)", re.IGNORECASE)
_PARTS = re.compile(rf"\s*(?:{_PART.pattern}\s*)+", re.IGNORECASE)


def _interval_parts(operand: sqlglot.tokens.Token, unit: sqlglot.tokens.Token | None) -> list[tuple[str, str]]:
    """The numbers and units of ``INTERVAL <operand> [<unit>]``: ``INTERVAL 1.5 DAY``'s, ``INTERVAL '1.5' DAY``'s,
    ``INTERVAL '1 day 1.5 hours'``'s; none of other text (``'01:30:00'``)."""
    if unit is not None:
        return [(operand.text, unit.text)]
    if operand.token_type == TokenType.STRING and _PARTS.fullmatch(operand.text):
        parts = _PART.findall(operand.text)
        if all(part_unit.upper() in _INTERVAL_UNITS for _, part_unit in parts):
            return parts
    return []


def _check_fractional_intervals(sql: str, name: str) -> None:
    """Refuse ``INTERVAL 1.5 DAY`` (a number with a fraction, or written with an exponent, in a unit other than
    seconds): Spark fails the run on it (``INVALID_INTERVAL_FORMAT.INVALID_FRACTION``: sqlglot writes
    ``INTERVAL '1.5' DAY``; ``INTERVAL '1 day 1.5 hours'`` it does not parse), where DuckDB drops the fraction (1
    day; ``INTERVAL 0.5 MINUTE`` is no time) or, of the text ``INTERVAL '1.5 days'``, keeps it (1 day 12 hours).
    Read from the tokens, so that the refusal quotes what was written. (``INTERVAL (x) DAY`` of a computed ``x`` is
    refused as such in :func:`_check_typed`.)"""
    tokens = _tokens_if_any(sql)
    if tokens is None:
        return  # the parse reports it
    kinds = sqlglot.tokens.TokenType
    for i, token in enumerate(tokens[:-1]):
        operand = tokens[i + 1]
        if token.token_type != kinds.INTERVAL or operand.token_type not in (kinds.NUMBER, kinds.STRING):
            continue
        unit = tokens[i + 2] if i + 2 < len(tokens) and tokens[i + 2].text.upper() in _INTERVAL_UNITS else None
        fractional = [(value, unit_name) for value, unit_name in _interval_parts(operand, unit)
                      if not _WHOLE.fullmatch(value) and unit_name.upper() not in _FRACTION_UNITS]
        if not fractional:
            continue
        (value, unit_name), *_ = fractional
        written = sql[token.start:(unit or operand).end + 1]
        part = f" for {value} {unit_name.lower()}" if len(_interval_parts(operand, unit)) > 1 else ""
        duckdb = ("DuckDB keeps its fraction" if unit is None else
                  f"DuckDB cuts its fraction off (INTERVAL {value} {unit_name} is INTERVAL {int(float(value))} "
                  f"{unit_name} there)")
        singular = {"CENTURIES": "CENTURY", "MILLENNIA": "MILLENNIUM"}.get(unit_name.upper(),
                                                                          unit_name.upper().removesuffix("S"))
        plural = {"CENTURY": "centuries", "MILLENNIUM": "millennia"}.get(singular, f"{singular.lower()}s")
        advice = ("whole months and days, e.g. INTERVAL 1 MONTH + INTERVAL 15 DAY (Spark multiplies months otherwise)"
                  if unit_name.upper() in _MONTH_UNITS else
                  f"{value.strip()} * INTERVAL 1 {singular}{part}, alike in both")
        raise NotPortableError(
            f"{name}: {written} (a number of {plural} not written as a whole number) is not translated to Spark SQL, "
            f"which fails the run on it, and {duckdb}; write {advice}")


def check_portable(sql: str, name: str = "query") -> None:
    """Raise :class:`NotPortableError` when ``sql`` uses a construct listed in the module docstring; its message
    starts with ``name``."""
    _check_signed_intervals(sql, name)  # first: the parse reads INTERVAL -1 DAY as a column interval, and fails
    _check_fractional_intervals(sql, name)
    try:
        tree = _parse_one(sql)
    except sqlglot.errors.ParseError as exc:
        raise NotPortableError(f"{name}: not valid DuckDB SQL: {_parse_error(exc)}") from None
    tree = _duckdb_normalized(tree)
    for node in tree.walk():
        try:
            check_text_portable(node)
        except TextNotPortable as exc:
            raise NotPortableError(f"{name}: {exc}") from None
        if isinstance(node, exp.Anonymous) and node.name.upper() in {"RANGE", "GENERATE_SERIES"}:
            raise NotPortableError(
                f"{name}: {node.name.lower()}() with {len(node.expressions)} arguments ({node.name.lower()}("
                f"{', '.join(arg.sql('duckdb') for arg in node.expressions)})) is refused by "
                f"DuckDB, which takes {node.name.lower()}(end), {node.name.lower()}(start, end) or "
                f"{node.name.lower()}(start, end, step), and is not translated to Spark SQL")
        if (isinstance(node, exp.Anonymous) and node.name.upper() in _SPLIT_FUNCTIONS | {"FMOD", "DIVIDE"}
                and len(node.expressions) != 2):
            raise NotPortableError(
                f"{name}: {node.name.lower()}() with {len(node.expressions)} arguments is not translated to Spark "
                "SQL; write " + ("regexp_split_to_array(s, pattern), with its options in the pattern ((?i)x for 'i')"
                                 if node.name.upper() in _SPLIT_FUNCTIONS else f"{node.name.lower()}(x, y)"))
        if isinstance(node, exp.Comprehension):  # the others are list functions (_duckdb_normalized)
            position = node.args.get("position")
            raise NotPortableError(
                f"{name}: a list comprehension using its position after IF ({_text(node.parent)}) is not translated to "
                f"Spark SQL (DuckDB numbers the items before the IF, Spark's FILTER and TRANSFORM after it); use "
                f"{position.name} only in the IF, or leave the IF out"
                if _position_after_filter(node) else
                f"{name}: a list comprehension ({_text(node.parent)}) is not translated to Spark SQL; write "
                "list_transform(list_filter(l, lambda x: c), lambda x: f)")
        if isinstance(node, exp.RegexpSplit) and node.args.get("limit") is not None:
            raise NotPortableError(
                f"{name}: string_split_regex() with options ({_text(node)}) is not translated to Spark SQL (its third "
                "argument became Spark's limit); write the options in the pattern: (?i)x for 'i'")
        if isinstance(node, exp.JSONObject | exp.JSONArray):  # sqlglot: JSON_OBJECT('a': 1), which Spark does not parse
            function = "json_object" if isinstance(node, exp.JSONObject) else "json_array"
            raise NotPortableError(f"{name}: {function}() ({_text(node)}) is not a Spark function (Spark refuses it "
                                   f"when the metric runs); {_JSON_TEXT_ADVICE.format()}")
        if (isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON)
                or isinstance(node, exp.ParseJSON)):
            raise NotPortableError(
                f"{name}: {_text(node)} is not translated to Spark SQL, which has no JSON type (sqlglot's TO_JSON "
                "takes structs, maps and lists, and fails the run on text; json(x) rewrites the text in DuckDB, "
                "{\"i\":1} for {\"i\": 1}); DuckDB's JSON functions read text: write x ->> 'k' or "
                "json_extract_string(x, '$.k') of the text x itself")
        _check_zoned_timestamp_text(node, name)
        if isinstance(node, exp.GenerateSeries) and isinstance(node.parent, exp.Table):
            _check_series_table(node, name)
        elif isinstance(node, exp.GenerateSeries) and not _whole_series(node):
            _refuse_timestamp_series_list(node, name)
        if isinstance(node, exp.DayOfWeekIso | exp.DayOfWeek):
            raise NotPortableError(f"{name}: isodow/dayofweek differ between DuckDB and Spark; "
                                   f"for the ISO weekday use {_WEEKDAY_HINT}")
        if isinstance(node, exp.Anonymous) and node.name.upper() in _REFUSED_FUNCTIONS:
            advice = _REFUSED_FUNCTIONS[node.name.upper()]
            raise NotPortableError(f"{name}: {advice.format(function=node.name.lower())}")
        if (isinstance(node, exp.Anonymous) and node.name.upper().startswith("MAP_")
                and node.name.upper() not in _SPARK_MAP_FUNCTIONS):
            raise NotPortableError(f"{name}: {node.name.lower()}() is not a Spark function (Spark refuses it when "
                                   "the metric runs); write it with m[k], map_keys, map_values or cardinality")
        if isinstance(node, exp.ToMap) and not isinstance(node.this, exp.Struct | exp.Bracket):
            raise NotPortableError(f"{name}: MAP {node.this.sql('duckdb')} is not translated to Spark SQL; write "
                                   "MAP {'k': v, …} or MAP(['k', …], [v, …])")
        step = _slice_step(node)
        if step is not None:
            raise NotPortableError(f"{name}: a slice with a step ({node.sql('duckdb')}) is not translated to Spark "
                                   "SQL; write the slice without a step (l[a:b], list_slice(l, a, b))")
        if (isinstance(node, exp.Anonymous) and node.name.upper().startswith(_LIST_PREFIXES)
                and node.name.upper() not in _SPARK_ARRAY_FUNCTIONS and node.name.upper() != "LIST_SLICE"
                and _LIST_FUNCTION_ALIASES.get(node.name.upper(), node.name.upper()) not in _SPARK_LIST_FUNCTIONS):
            raise NotPortableError(f"{name}: {node.name.lower()}() is not a Spark function (Spark refuses it when "
                                   "the metric runs); write it with the list functions both engines have")
        if isinstance(node, exp.Week):
            raise NotPortableError(f"{name}: week() is not a Spark function; write weekofyear(x) or "
                                   "extract(week FROM x) (the ISO week in both)")
        if isinstance(node, exp.Dayname | exp.Monthname):
            raise NotPortableError(f"{name}: dayname()/monthname() give 'Sunday'/'March' in DuckDB, 'Sun'/'Mar' in "
                                   "Spark; write strftime(x, '%A') or strftime(x, '%B')")
        if isinstance(node, exp.TimeToUnix):
            raise NotPortableError(
                f"{name}: epoch() keeps the fraction of a second in DuckDB, Spark drops it; for whole seconds write "
                "date_diff('day', DATE '1970-01-01', CAST(x AS DATE)) * 86400 + hour(x) * 3600 + minute(x) * 60 "
                "+ second(x)")
        if isinstance(node, exp.Log) and node.expression is None:
            raise NotPortableError(f"{name}: log(x) is base 10 in DuckDB, natural in Spark; write log10(x) or ln(x)")
        if isinstance(node, exp.Format):
            raise NotPortableError(f"{name}: format() with {{}} placeholders is printed as it is by Spark's "
                                   "format_string; write concat() or ||")
        if isinstance(node, exp.Div) and any(_has_decimal_literal(side) for side in (node.this, node.expression)):
            raise NotPortableError(
                f"{name}: / with a decimal literal ({node.sql('duckdb')}) gives a DOUBLE in DuckDB, a DECIMAL "
                "rounded to about 6 places in Spark; write integers (100 * x / y) or CAST(x AS DOUBLE)")
        if isinstance(node, exp.Anonymous) and node.name.upper() in _FORBIDDEN_FUNCTIONS:
            raise NotPortableError(f"{name}: {node.name}() is not portable to Spark SQL "
                                   "(use array_length for lists, date_diff arithmetic for weekdays)")
        if isinstance(node, exp.Extract):
            _check_part(node.this.name, "extract", name)
        if isinstance(node, exp.Anonymous) and node.name.upper() in _DATE_PART_FUNCTIONS:
            part = node.expressions[0] if node.expressions else None
            if not (isinstance(part, exp.Literal) and part.is_string):
                raise NotPortableError(f"{name}: {node.name}() needs its part as one quoted name "
                                       "('year', 'month', …) to be checked for Spark")
            _check_part(part.name, node.name, name)
        if isinstance(node, exp.RegexpReplace):
            modifiers = node.args.get("modifiers")
            if modifiers is None or "g" not in modifiers.name:
                raise NotPortableError(f"{name}: regexp_replace needs the 'g' flag (Spark always replaces "
                                       "every match, DuckDB only the first without it)")
        if isinstance(node, exp.TimeToStr) and re.search(r"[A-Za-z]", re.sub(r"%-?.", "", node.args["format"].name)):
            raise NotPortableError(f"{name}: strftime format {node.args['format'].name!r} has literal letters, "
                                   "which Spark's date_format reads as pattern letters; use only %-codes")
        if isinstance(node, exp.TimeToStr):
            codes = [c for c in re.findall(r"%-?.", node.args["format"].name) if c not in _PORTABLE_FORMAT_CODES]
            if codes:
                raise NotPortableError(
                    f"{name}: strftime code {codes[0]} formats differently in Spark (or not at all); use "
                    f"%Y %m %d %H %M %S %f %y %a %A %b %B %I %p (%-d and the like unpadded, %-j the day of the "
                    f"year), and for a weekday {_WEEKDAY_HINT}")
        if isinstance(node, exp.Length) and _is_list_expression(node.this):
            raise NotPortableError(f"{name}: length() of a list becomes a string LENGTH in Spark; "
                                   "use array_length()")
        if isinstance(node, exp.ArrayDistinct) and not _order_free(node):
            raise NotPortableError(
                f"{name}: list_distinct() ({node.sql('duckdb')}) gives its items in no fixed order in DuckDB, in "
                f"first-seen order in Spark; write list_sort({node.sql('duckdb')}), or only count it "
                "(array_length) or unnest it")
        if isinstance(node, exp.ArrayIntersect) and not _items_order_hidden(node):
            raise NotPortableError(
                f"{name}: array_intersect() ({node.sql('duckdb')}) gives its items in no fixed order in DuckDB, in "
                f"the first list's order in Spark; write list_sort({node.sql('duckdb')}), or only count it "
                "(array_length) or unnest it")
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            joined = f"string_agg({node.this.this.sql('duckdb')}, ',' ORDER BY {_keys_breaking_ties(node.this)})"
            raise NotPortableError(
                f"{name}: {node.sql('duckdb')} loses its ORDER BY in Spark (collect_list, its items in no fixed "
                f"order); to join the items in that order write {joined}")
        if isinstance(node, exp.ArrayAgg) and not isinstance(node.this, exp.Order) and not _list_order_hidden(node):
            raise NotPortableError(f"{name}: {_unordered_list_advice(node)}")
        if isinstance(node, exp.GroupConcat) and not isinstance(node.this, exp.Order):
            window = _window(node)
            if window is None or window.args.get("order") is None:
                raise NotPortableError(f"{name}: {_unordered_join_advice(node)}")
            if not _ordered_by_value(window.args["order"], node.this):
                raise NotPortableError(f"{name}: {_tied_window_advice(node, window)}")
        if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order) and not _ordered_by_value(node.this):
            raise NotPortableError(f"{name}: {_tied_join_advice(node)}")
    _check_typed(tree, name)


#: a timestamp's text: its date and time, and what follows them (a zone, an offset)
_TIMESTAMP_TEXT = re.compile(r"\s*[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}(?:[T ][0-9]{1,2}(?::[0-9]{2}(?P<seconds>:[0-9]{2}"
                             r"(?:\.[0-9]*)?)?)?)?(?P<zone>.*?)\s*")
#: the zones both engines read alike after the seconds (checked on DuckDB 1 and Spark 4): an offset of two-digit
#: hours (``+02``, ``-05:30``, ``+0200``, ``+02:00:00``), ``Z`` or `` UTC``; a TIMESTAMP drops it in both, a
#: TIMESTAMPTZ is converted to UTC by it in both
_ALIKE_ZONE = re.compile(r"[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2})?)?|Z| UTC")


def _check_zoned_timestamp_text(node: exp.Expression, name: str) -> None:
    """Refuse a quoted timestamp (``TIMESTAMP '…'``, ``CAST('…' AS TIMESTAMPTZ)``, ``'…'::TIMESTAMP``) whose zone or
    offset the engines read otherwise: without seconds (``'2026-01-01 10:00+02'``: DuckDB reads it, Spark fails the
    run), a zone name or ``UTC`` (read by both in some spellings only: ``' utc'`` fails on Spark; the zone databases
    are DuckDB's ICU and Java's), ``+2`` or ``GMT+2`` (Spark reads them, DuckDB fails the run), ``' +02:00'`` (a
    TIMESTAMPTZ: DuckDB fails the run). A general rule, not each spelling: what follows the seconds must be
    :data:`_ALIKE_ZONE`. Text read from a column is cast by each engine as it reads it (the README says so)."""
    if not (isinstance(node, exp.Cast | exp.TryCast) and isinstance(node.this, exp.Literal) and node.this.is_string
            and node.to.this in _TIMESTAMP_TYPES):
        return
    text = node.this.name
    parts = _TIMESTAMP_TEXT.fullmatch(text)
    if parts is None or not parts.group("zone"):
        return  # no zone (or not a timestamp: the engines' casts report it)
    zone = parts.group("zone")
    if parts.group("seconds") and _ALIKE_ZONE.fullmatch(zone):
        return
    why = ("without seconds, which Spark fails the run on (DuckDB reads it)" if not parts.group("seconds") else
           "which the engines do not both read (DuckDB fails the run on +2, GMT+2 and a TIMESTAMPTZ's space before "
           "its offset, Spark on utc; a zone name each looks up in its own zone database)")
    comma = "," if parts.group("seconds") else ""
    raise NotPortableError(
        f"{name}: the timestamp {text!r} has the zone {zone.strip()!r}{comma} {why}; write the seconds and an offset "
        "of two-digit hours right after them, '2026-01-01 10:00:00+02:00' (Z for UTC): a TIMESTAMP drops it in both, "
        "a TIMESTAMPTZ is converted to UTC by it in both")


def _check_json_extract(node: exp.JSONExtract, name: str) -> None:
    """Refuse ``j -> 'k'``/``json_extract(j, 'k')`` where its JSON shows: DuckDB gives JSON, a string keeping its
    quotes (``"a"``), Spark's ``GET_JSON_OBJECT`` the string's text (``a``); ``->>``/``json_extract_string`` give the
    text in both. Cast to a list, map or struct (Spark's ``FROM_JSON``), a lambda function's list (whose
    parameters :func:`_check_lambda_parameter_types` checks) or read further (``j -> 'o' ->> 'k'``), it is let
    through. And ``->`` with a path that is not
    quoted text or a number: DuckDB's deprecated arrow lambda (``x -> x + 1``, which DuckDB refuses), read so by
    :class:`_Parser`, or a computed JSON path, which sqlglot does not translate."""
    if not isinstance(node.expression, exp.JSONPath):
        raise NotPortableError(
            f"{name}: {_text(node)} is DuckDB's arrow lambda, which DuckDB refuses (deprecated), or JSON's -> with a "
            "path that is not quoted text, which is not translated to Spark SQL; write a lambda as lambda x: …, "
            "a JSON path as quoted text: j ->> '$.k'")
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    if (isinstance(parent, exp.Cast) and _is_nested(parent.to)
            or isinstance(parent, (*_LAMBDA_FUNCTIONS, exp.JSONExtract, exp.JSONExtractScalar))
            and parent.this is node):
        return
    text = exp.JSONExtractScalar(this=_plain(node.this), expression=node.expression.copy()).sql("duckdb")
    raise NotPortableError(
        f"{name}: {_text(node)} is JSON in DuckDB, a string keeping its quotes (\"a\"), and the string's text in Spark "
        f"(a); write {text} (json_extract_string), the text in both, or for a JSON list cast it: CAST({_text(node)} "
        "AS VARCHAR[])")


#: the types of a ``split_part`` index DuckDB refuses (``No function matches … array_extract(VARCHAR[], DOUBLE)``),
#: where Spark casts it to an INT, cutting a fraction off (``split_part('a/b', '/', 1.5)`` was ``'a'``)
_NOT_A_PART_INDEX = {exp.DataType.Type.DECIMAL, exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT,
                     exp.DataType.Type.INT128, exp.DataType.Type.UINT128, exp.DataType.Type.BIGDECIMAL}


def _counts(node: exp.Expression) -> list[exp.Expression]:
    """The arguments of ``node`` (typed) that DuckDB takes as a BIGINT only, not a HUGEINT: a count of characters or
    repetitions, a position, a list's index, a part's index, a series' bounds and step."""
    if isinstance(node, exp.Left | exp.Right):
        return [node.expression]
    if isinstance(node, exp.Substring):
        return [arg for arg in (node.args.get("start"), node.args.get("length")) if arg is not None]
    if isinstance(node, exp.Repeat):
        return [node.args["times"]]
    if isinstance(node, exp.SplitPart):
        return [node.args["part_index"]] if node.args.get("part_index") is not None else []
    if isinstance(node, exp.GenerateSeries):
        return [node.args[arg] for arg in ("start", "end", "step") if node.args.get(arg) is not None]
    if (isinstance(node, exp.Bracket) and len(node.expressions) == 1 and _sliced(node) is None
            and node.this.type is not None and node.this.type.is_type(exp.DataType.Type.ARRAY)):
        return [node.expressions[0]]
    return []


def _int_counts(node: exp.Expression) -> list[exp.Expression]:
    """The arguments of ``node`` (typed) that DuckDB takes as an INTEGER only, not a BIGINT: ``lpad``/``rpad``'s
    count, ``chr``'s code point."""
    if isinstance(node, exp.Pad):
        return [node.expression]
    if isinstance(node, exp.Chr):
        return list(node.expressions[:1])
    return []


#: the whole-number types DuckDB does not cast to an INTEGER for a function (``lpad(VARCHAR, BIGINT, …)``: ``No
#: function matches``), where Spark casts them
_WIDER_THAN_INT = {exp.DataType.Type.BIGINT, exp.DataType.Type.UBIGINT, exp.DataType.Type.UINT,
                   exp.DataType.Type.INT128, exp.DataType.Type.UINT128}


def _count_function(node: exp.Expression) -> str:
    """How the function :func:`_counts` took ``node``'s count from is written in DuckDB: ``lpad()``, ``range()``."""
    if isinstance(node, exp.Bracket):
        return "l[i]"
    if isinstance(node, exp.Pad):
        return "lpad()" if node.args.get("is_left") else "rpad()"
    if isinstance(node, exp.GenerateSeries):
        return "range()" if node.args.get("is_end_exclusive") else "generate_series()"
    return f"{node.sql_name().lower()}()"


#: a column of a CTE or a subquery (typed): the expression its SELECT computes it with (:func:`_column_sources`)
_Sources = dict[int, exp.Expression]


def _column_sources(typed: exp.Expression) -> _Sources:
    """Each column of ``typed`` (qualified by :func:`_typed`) read from a CTE or a subquery, by ``id``: the
    expression that CTE's or subquery's SELECT computes it with (``WITH a AS (SELECT sum(x) AS s …) … a.s``:
    ``sum(x)``). Empty where sqlglot cannot resolve the statement's scopes."""
    sources: _Sources = {}
    try:
        scopes = traverse_scope(typed)
    except (sqlglot.errors.SqlglotError, AssertionError):
        return sources
    for scope in scopes:
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, Scope) or not isinstance(source.expression, exp.Select):
                continue
            for projection in source.expression.selects:
                if projection.alias_or_name == column.name:
                    sources[id(column)] = projection.unalias()
                    break
    return sources


def _integer_sum(node: exp.Expression, sources: _Sources | None = None,
                 seen: frozenset[int] = frozenset()) -> exp.Expression | None:
    """The ``sum`` of whole numbers ``node`` (typed) is computed from with whole-number arithmetic (``sum(x) - n``),
    also through a column of a CTE or a subquery computing it so (``sources``: :func:`_column_sources`): a HUGEINT in
    DuckDB, which ``left``, ``substring``, ``repeat``, ``split_part``, a series' bounds, a list's index,
    ``lpad`` and ``chr`` refuse (``No function matches … left(VARCHAR, HUGEINT)``), where Spark took its
    BIGINT; None for any other value (a ``CAST`` of it is a BIGINT in both). sqlglot types such a sum a BIGINT."""
    while isinstance(node, exp.Paren | exp.Neg | exp.Abs | exp.Filter | exp.Window):
        node = node.this
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.IntDiv):
        return _integer_sum(node.this, sources, seen) or _integer_sum(node.expression, sources, seen)
    if isinstance(node, exp.Coalesce):
        return next(filter(None, (_integer_sum(arg, sources, seen) for arg in (node.this, *node.expressions))), None)
    if isinstance(node, exp.Column) and sources is not None and id(node) in sources and id(node) not in seen:
        return _integer_sum(sources[id(node)], sources, seen | {id(node)})
    if isinstance(node, exp.Sum):
        value = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
        if value is not None and value.type is not None and value.type.this in _INTEGER_TYPES:
            return node.parent if isinstance(node.parent, exp.Filter | exp.Window) else node
    return None


def _check_typed(tree: exp.Expression, name: str) -> None:
    """The checks that need the types of expressions (inferred from the curated tables' schemas)."""
    for number, diff in enumerate(tree.find_all(exp.DateDiff)):  # marked for _check_date_diffs, copied along
        diff.meta[_MARK] = number
    typed = _typed(tree)
    sources = _column_sources(typed)
    _check_date_diffs(tree, typed, name)
    for node in typed.walk():  # breadth first: a refusal of a JSON value's use (CAST, split_part) before its own
        _check_lambda_parameter_types(node, name)
        if isinstance(node, exp.JSONExtract):
            _check_json_extract(node, name)
        if (isinstance(node, exp.Bracket) and len(node.expressions) == 1 and _sliced(node) is None
                and node.this.type is not None and node.this.type.is_type(*exp.DataType.TEXT_TYPES)):
            index = _duckdb_index(_plain(node)).sql("duckdb")
            raise NotPortableError(
                f"{name}: an index of text ({_text(node.this)}[{index}]: a character in DuckDB) is not translated to "
                f"Spark SQL, which has none; write substring({_text(node.this)}, {index}, 1), with an index of 1 or "
                "more (alike in both)")
        sliced = _sliced(node)
        if sliced is not None and sliced[0].type is not None and sliced[0].type.is_type(*exp.DataType.TEXT_TYPES):
            raise NotPortableError(
                f"{name}: a slice of text ({_text(node)}) is not translated to Spark SQL (only a list's); write "
                f"{_substring_advice(*sliced)}, with a start of 1 or more (alike in both)")
        if sliced is not None and _unknown(sliced[0].type) and not _sliced_list(sliced[0]):
            x = _text(sliced[0])
            bounds = ":".join(_text(bound) if bound is not None else "" for bound in sliced[1:])
            raise NotPortableError(
                f"{name}: a slice of a value whose type is not known ({_text(node)}) is translated to Spark SQL only "
                f"as a list's, and DuckDB slices text too; for text write {_substring_advice(*sliced)}, with a start "
                f"of 1 or more; for a list cast it first: CAST({x} AS VARCHAR[])[{bounds}]")
        for count in _counts(node):
            summed = _integer_sum(count, sources)
            if summed is not None:
                written = (f"{_text(node.this)}[{_text(count)}]" if isinstance(node, exp.Bracket) else
                           _series_written(node) if isinstance(node, exp.GenerateSeries) else _text(node))
                column = next((c for c in count.find_all(exp.Column)
                               if id(c) in sources and _integer_sum(c, sources) is summed), None)
                of, where = ((f" ({column.name}, from {_text(summed)})", " in the CTE or subquery that sums it")
                             if column is not None else ("", ""))
                raise NotPortableError(
                    f"{name}: {_count_function(node)} with {_text(count)} ({written}), of a sum of whole numbers{of}, "
                    f"a HUGEINT in DuckDB, which refuses it there (Spark took it); write CAST({_text(summed)} AS "
                    f"BIGINT){where}")
        for count in _int_counts(node):
            summed = _integer_sum(count, sources)
            if summed is not None or count.type is not None and count.type.this in _WIDER_THAN_INT:
                kind = "of a sum of whole numbers, a HUGEINT" if summed is not None else f"a {count.type.sql('duckdb')}"
                raise NotPortableError(
                    f"{name}: {_count_function(node)} with {_text(count)} ({_text(node)}), {kind} in DuckDB, which "
                    f"takes an INTEGER there and refuses it (Spark took it); write CAST({_text(count)} AS INT)")
        index = node.args.get("part_index") if isinstance(node, exp.SplitPart) else None
        if index is not None and _text_or_json(index):
            raise NotPortableError(
                f"{name}: split_part() with the part index {_text(index)}, text or JSON, not a number, is not "
                "translated to Spark SQL (DuckDB refuses it, Spark reads it as a number, cutting a fraction off); "
                "write a whole number: CAST(floor(CAST(i AS DOUBLE)) AS BIGINT) of the index i")
        if index is not None and index.type is not None and index.type.this in _NOT_A_PART_INDEX:
            raise NotPortableError(
                f"{name}: split_part() with the part index {_text(index)} (of the type {index.type.sql('duckdb')}) is "
                "not translated to Spark SQL (DuckDB refuses an index other than a whole number, Spark cuts its "
                f"fraction off); write a whole number: CAST(floor({_text(index)}) AS BIGINT)")
        if isinstance(node, exp.ArraySort) and _nested_items(node.this):
            raise NotPortableError(
                f"{name}: list_sort() of a list of lists or structs ({_text(node)}) sorts a NULL inside an item last "
                "in DuckDB, first in Spark; sort plain values: list_sort(flatten(l)), or the items as text: "
                "list_sort(list_transform(l, lambda x: array_to_string(x, ',')))")
        if (isinstance(node, exp.Length) and node.this.type is not None
                and node.this.type.is_type(exp.DataType.Type.ARRAY)):  # a list column (hashtags), or one of a CTE's
            raise NotPortableError(f"{name}: length() of a list ({_text(node)}) becomes a string LENGTH in Spark, "
                                   "which refuses a list; use array_length()")
        if isinstance(node, exp.Sub) and _is_date(node.this) and _is_date(node.expression):
            raise NotPortableError(
                f"{name}: DATE - DATE ({_text(node)}) is a number of days in DuckDB, an interval in Spark; write "
                f"date_diff('day', {_text(node.expression)}, {_text(node.this)})")
        cast_to_date = isinstance(node.parent, exp.Cast) and node.parent.to.is_type(exp.DataType.Type.DATE)
        if (isinstance(node, exp.Add | exp.Sub) and not cast_to_date
                and any(_is_date(a) for a in (node.this, node.expression))
                and any(isinstance(a, exp.Interval) for a in (node.this, node.expression))):
            raise NotPortableError(
                f"{name}: DATE ± INTERVAL ({_text(node)}) is a TIMESTAMP in DuckDB, a DATE in Spark; write "
                f"CAST({_text(node)} AS DATE), or d ± n for n days")
        if (isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and not cast_to_date
                and _is_date(node.this)):
            raise NotPortableError(
                f"{name}: date_trunc of a DATE ({_text(node)}) is a TIMESTAMP in DuckDB, a DATE in Spark; write "
                f"CAST({_text(node)} AS DATE)")
        if (isinstance(node, exp.Cast) and any(node.to.is_type(t) for t in _INTEGER_TYPES)
                and node.this.type is not None and node.this.type.this in _FRACTIONAL_TYPES
                and not isinstance(node.this, exp.Round | exp.Floor | exp.Ceil)):
            raise NotPortableError(
                f"{name}: CAST of a fractional number to {node.to.sql('duckdb')} ({_text(node)}) rounds in DuckDB, "
                "truncates in Spark; round(), floor() or ceil() it first")
        if (type(node) is exp.Cast and any(node.to.is_type(t) for t in _INTEGER_TYPES) and _text_or_json(node.this)
                and not (isinstance(node.this, exp.Literal) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", node.this.name))):
            raise NotPortableError(
                f"{name}: CAST of text to {node.to.sql('duckdb')} ({_text(node)}) reads '1.9' as 2 and '1e3' as 1000 "
                "in DuckDB, and fails the run on such text in Spark; write CAST(round(CAST(x AS DOUBLE)) AS BIGINT), "
                "alike in both (exact up to 2^53)")
        if (isinstance(node, exp.TryCast) and any(node.to.is_type(t) for t in _INTEGER_TYPES)
                and _text_or_json(node.this)):
            raise NotPortableError(
                f"{name}: TRY_CAST of text to {node.to.sql('duckdb')} ({_text(node)}) reads '1.9' as 2 and '1e3' as "
                "1000 in DuckDB, as NULL in Spark; write TRY_CAST(round(TRY_CAST(x AS DOUBLE)) AS BIGINT), alike in "
                "both")
        if (isinstance(node, exp.Round) and node.args.get("decimals") is not None
                and _number_kind(node.this) is _DOUBLE  # 2.675, x * 1.5: a DECIMAL in both (sqlglot says DOUBLE)
                and not (isinstance(node.args["decimals"], exp.Literal) and node.args["decimals"].this == "0")):
            raise NotPortableError(
                f"{name}: round() of a DOUBLE to decimal places ({_text(node)}) rounds a tie such as 1.005 by its "
                "binary value in DuckDB (1.0), by its decimal text in Spark (1.01); write round(x * 100) / 100")
        quantile = _quantile(node)
        if quantile is not None and isinstance(quantile[1], exp.Array):
            raise NotPortableError(
                f"{name}: a quantile of a list of fractions ({_text(node)}) is not translated to Spark SQL; write one "
                "quantile a fraction, quantile_cont(x, 0.25), quantile_cont(x, 0.75), …")
        if quantile is not None and quantile[2] and not _unknown(quantile[0].type) and not (
                quantile[0].type.this in _NUMBER_TYPES or quantile[0].type.is_type(exp.DataType.Type.NULL)):
            between = (" (a TIMESTAMP between two of them in DuckDB)"
                       if quantile[0].type.this in exp.DataType.TEMPORAL_TYPES else "")
            raise NotPortableError(
                f"{name}: an interpolated quantile of {_a(_type_name(quantile[0].type))} ({_text(node)}) is not "
                f"translated to Spark SQL, which interpolates numbers only; take one of the values{between}: "
                f"{_discrete_advice(*quantile)}")
        if quantile is not None and quantile[2] and _number_kind(quantile[0]) is _DECIMAL:
            x = _text(quantile[0])
            raise NotPortableError(
                f"{name}: an interpolated quantile of a DECIMAL ({_text(node)}) is a DECIMAL cut to its places in "
                "DuckDB (median 0.03 of 0.01, 0.02, 0.05 and 0.06), a DOUBLE in Spark (0.035); interpolate DOUBLEs, "
                f"alike in both: write it of CAST({x} AS DOUBLE), e.g. median(CAST({x} AS DOUBLE))")
        if isinstance(node, exp.ApproxQuantile):
            raise NotPortableError(
                f"{name}: approx_quantile() ({_text(node)}) is estimated otherwise in DuckDB (T-Digest) and Spark "
                "(percentile_approx); write quantile_cont(x, q) or quantile_disc(x, q), exact and alike in both")
        if isinstance(node, exp.Avg) and _number_kind(node.this) is _DECIMAL:
            x = _text(node.this)
            raise NotPortableError(
                f"{name}: avg() of a DECIMAL ({_text(node)}) is a DOUBLE in DuckDB, a DECIMAL rounded to 4 more "
                f"places in Spark; write sum({x}) / count({x}) (divided as DOUBLEs in both)")
        if isinstance(node, exp.IntDiv) and {_number_kind(node.this), _number_kind(node.expression)} - {None}:
            raise NotPortableError(
                f"{name}: // of a DOUBLE or DECIMAL ({_text(node)}) divides without rounding in DuckDB (7.5 // 2 is "
                "3.75), to a whole number in Spark (DIV: 3; of a DOUBLE it fails); write floor(x / y) for the whole "
                "number, or x / y")
        floating = _floating_as_text(node)
        if floating is not None:
            raise NotPortableError(f"{name}: {_floating_text_advice(node, floating)}")
        interval = _interval_as_text(node)
        if interval is not None:
            raise NotPortableError(f"{name}: {_interval_text_advice(node, interval)}")
        if (isinstance(node, exp.Cast | exp.TryCast) and node.to.is_type(exp.DataType.Type.DECIMAL)
                and _number_kind(node.this) is _DOUBLE and not _rounded_to_scale(node.this, _scale(node.to))):
            x = _text(node.this)
            scale = _scale(node.to)
            raise NotPortableError(
                f"{name}: CAST of a DOUBLE to {node.to.sql('duckdb')} ({_text(node)}) rounds a tie such as 1.005 by "
                f"its binary value in DuckDB (1.00), by its decimal text in Spark (1.01); round it to {scale} places "
                f"first: CAST(round({_scaled(x, scale)}){_per_scale(scale)} AS {node.to.sql('duckdb')})")


def _text_or_json(node: exp.Expression) -> bool:
    """``node`` (typed) is text, or a value read from JSON (``json_extract_string(j, '$.i')``, ``j ->> 'i'``,
    ``j -> 'i'``), which sqlglot leaves untyped and DuckDB reads as text (a JSON number too) when it casts it."""
    return (node.type is not None and node.type.is_type(*exp.DataType.TEXT_TYPES)
            or isinstance(_plain(node).unnest(), exp.JSONExtract | exp.JSONExtractScalar))


def _check_lambda_parameter_types(node: exp.Expression, name: str) -> None:
    """Refuse an index (``l[1]``) or a division (``d / 3``) of a lambda's parameter whose type is not known (its list's
    items are not typed: :func:`_typed_lambdas`): whether ``l[1]`` is a list's item (``TRY_ELEMENT_AT``), a map's value
    or a character, and whether ``d`` is a DECIMAL (divided as DOUBLEs), decide its Spark SQL."""
    if not isinstance(node, exp.Bracket | exp.Div):
        return
    names = {p.name for lam in _enclosing_lambdas(node) for p in lam.expressions}
    if not names:
        return
    if isinstance(node, exp.Bracket):
        if (len(node.expressions) == 1 and _sliced(node) is None and _unknown(node.this.type)
                and not _is_list_expression(node.this) and _refers_to(node.this, names)):
            raise NotPortableError(
                f"{name}: {_text(node)} indexes a lambda's parameter whose type is not known (the items of its list "
                "are not typed), so it is not translated to Spark SQL as DuckDB numbers it; cast the list to its type "
                "first, e.g. list_transform(CAST(l AS VARCHAR[][]), lambda x: x[1])")
        return
    for side in (node.this, node.expression):
        if _number_kind(side) is None and _unknown(side.type) and _refers_to(side, names):
            raise NotPortableError(
                f"{name}: {_text(node)} divides a lambda's parameter whose type is not known (the items of its list "
                "are not typed: a DECIMAL divides to a DOUBLE in DuckDB, to a DECIMAL rounded to 6 places in Spark); "
                f"cast it first: CAST({_text(side)} AS DOUBLE), or cast the list, e.g. CAST(l AS DOUBLE[])")


def _enclosing_lambdas(node: exp.Expression) -> list[exp.Lambda]:
    lambdas = []
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.Lambda) and child.arg_key == "this":
            lambdas.append(parent)
        child, parent = parent, parent.parent
    return lambdas


def _refers_to(node: exp.Expression, names: set[str]) -> bool:
    """Whether ``node`` uses one of the lambda parameters ``names`` (see :func:`_parameter_refs`)."""
    return any((isinstance(n, exp.Column) and not n.table and n.name in names)
               or (isinstance(n, exp.Identifier) and n.name in names and not isinstance(n.parent, exp.Column | exp.Dot))
               for n in node.walk())


_DOUBLE = exp.DataType.Type.DOUBLE
_DECIMAL = exp.DataType.Type.DECIMAL
#: what DuckDB computes in the type of its number arguments (a DECIMAL with a DECIMAL, a DOUBLE once one is a DOUBLE)
_KEEPS_NUMBER_TYPE = (exp.Paren, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.Abs, exp.Round, exp.Coalesce,
                      exp.Greatest, exp.Least, exp.Case, exp.If, exp.Nullif, exp.Sum, exp.Min, exp.Max,
                      exp.AnyValue, exp.First, exp.Last, exp.Filter, exp.Window)


def _number_kind(node: exp.Expression) -> exp.DataType.Type | None:
    """Whether ``node`` (typed by :func:`_typed`) is a DOUBLE (or FLOAT: :data:`_DOUBLE`) or a DECIMAL in DuckDB,
    or None (neither, or not known). The type :func:`_typed` gives it (DuckDB's for literals and arithmetic), and
    what computes in the type of its arguments (:data:`_KEEPS_NUMBER_TYPE`) from theirs."""
    if isinstance(node, exp.Literal):
        if node.is_string or node.is_int:
            return None
        return _DOUBLE if "e" in node.this.lower() else _DECIMAL
    if isinstance(node, exp.Floor | exp.Ceil) and _number_kind(node.this) is _DECIMAL:
        return _DECIMAL  # of a BIGINT or DOUBLE, a DOUBLE (sqlglot's type)
    if isinstance(node, _KEEPS_NUMBER_TYPE):
        kinds = {_number_kind(value) for value in _number_values(node)}
        return _DOUBLE if _DOUBLE in kinds else _DECIMAL if _DECIMAL in kinds else None
    if node.type is None:
        return None
    if node.type.this in _FLOATING_TYPES:
        return _DOUBLE
    return _DECIMAL if node.type.this is _DECIMAL else None


def _number_values(node: exp.Expression) -> list[exp.Expression]:
    """The arguments of ``node`` (one of :data:`_KEEPS_NUMBER_TYPE`) whose type its value takes."""
    if isinstance(node, exp.Case):
        return [branch.args["true"] for branch in node.args.get("ifs") or []] + [
            v for v in [node.args.get("default")] if v is not None]
    if isinstance(node, exp.If):
        return [v for v in (node.args.get("true"), node.args.get("false")) if v is not None]
    if isinstance(node, exp.Round | exp.Nullif | exp.Filter | exp.Window | exp.Paren | exp.Neg | exp.Abs):
        return [node.this]
    values = [node.this, node.args.get("expression"), *node.expressions]
    return [v for v in values if isinstance(v, exp.Expression)]


def _floating_items(node: exp.Expression) -> bool:
    """Whether ``node`` is a list of DOUBLEs (``list(x)``, ``[x, …]`` or a column typed so)."""
    while isinstance(node, exp.Paren | exp.Filter | exp.Window):
        node = node.this
    if isinstance(node, exp.ArrayAgg) and not isinstance(node.this, exp.Order):
        return _number_kind(_aggregated(node)[1]) is _DOUBLE
    if isinstance(node, exp.Array):
        return any(_number_kind(item) is _DOUBLE for item in node.expressions)
    return (node.type is not None and node.type.is_type(exp.DataType.Type.ARRAY) and bool(node.type.expressions)
            and node.type.expressions[0].this in _FLOATING_TYPES)


def _floating_as_text(node: exp.Expression) -> exp.Expression | None:
    """The DOUBLE (or list of DOUBLEs) that ``node`` writes as text, or None: a ``CAST`` to text, ``concat``/``||``
    with it, ``string_agg`` of it, ``array_to_string`` of a list of them, ``printf`` of it. DuckDB writes
    ``123456789.0``, ``2e+20``, ``1e-05``, Spark ``1.23456789E8``, ``2.0E20``, ``1.0E-5`` (both ``0.1``, ``1.5``);
    ``floor``/``ceil`` are DOUBLEs in DuckDB (``3.0``), BIGINTs in Spark (``3``); ``printf('%.2f', x)`` rounds a tie
    such as 1.005 by its binary value in DuckDB (``1.00``), by its decimal text in Spark (``1.01``); and
    ``-0.0`` and ``0.0`` are one value in Spark's DISTINCT and GROUP BY (written ``0.0``), two in DuckDB's
    ``string_agg(DISTINCT …)``, and the one a GROUP BY keeps is ``-0.0`` or ``0.0`` as the rows come in DuckDB."""
    if isinstance(node, exp.Cast | exp.TryCast) and node.to.is_type(*exp.DataType.TEXT_TYPES):
        if _number_kind(node.this) is _DOUBLE or _floating_items(node.this):
            return node.this
    elif isinstance(node, exp.Concat | exp.ConcatWs | exp.DPipe):
        for value in (node.this, node.args.get("expression"), *node.expressions):
            if isinstance(value, exp.Expression) and _number_kind(value) is _DOUBLE:
                return value
    elif isinstance(node, exp.GroupConcat):
        value = node.this.this if isinstance(node.this, exp.Order) else node.this
        value = value.expressions[0] if isinstance(value, exp.Distinct) and value.expressions else value
        if _number_kind(value) is _DOUBLE:
            return value
    elif isinstance(node, exp.ArrayToString):
        if _floating_items(node.this):
            return node.this
    elif isinstance(node, exp.Anonymous) and node.name.upper() in {"PRINTF", "FORMAT_STRING"}:
        for value in node.expressions[1:]:
            if _number_kind(value) is _DOUBLE:
                return value
    return None


def _floating_text_advice(node: exp.Expression, value: exp.Expression) -> str:
    """The refusal of :func:`_floating_as_text` for ``node`` writing ``value`` as text."""
    how = ("DuckDB writes 123456789.0, 2e+20 and -0.0, Spark 1.23456789E8, 2.0E20 and 0.0, and a DISTINCT or GROUP "
           "BY keeps -0.0 or 0.0 otherwise")
    if isinstance(node, exp.Anonymous):
        how = ("printf rounds a tie such as 1.005 by its binary value in DuckDB (1.00), by its decimal text in Spark "
               "(1.01)")
    if isinstance(node, exp.ArrayToString):
        return (f"DOUBLEs joined as text ({_text(node)}) differ between DuckDB and Spark ({how}); join them as "
                "DECIMALs or integers, whose text is alike: list_transform(l, lambda v: CAST(round(v * 100) / 100 AS "
                "DECIMAL(18, 2))), or CAST(round(v) AS BIGINT)")
    while isinstance(value, exp.Paren):
        value = value.this
    x = _text(value)
    whole = f"CAST({x} AS BIGINT)" if _whole(value) else f"CAST(round({x}) AS BIGINT)"
    return (f"the DOUBLE {x} written as text ({_text(node)}) differs between DuckDB and Spark ({how}); write it as a "
            f"DECIMAL or an integer, whose text is alike: CAST(round({_scaled(x, 2)}) / 100 AS DECIMAL(18, 2)) for "
            f"two places, or {whole}")


def _is_interval(node: exp.Expression) -> bool:
    return node.type is not None and node.type.is_type(exp.DataType.Type.INTERVAL)


def _interval_as_text(node: exp.Expression) -> exp.Expression | None:
    """The INTERVAL (or list of INTERVALs) that ``node`` writes as text, or None: a ``CAST`` to text (``::VARCHAR``),
    ``concat``/``concat_ws``/``||`` with it, ``string_agg`` of it, ``array_to_string`` of a list of them, ``printf``
    of it. DuckDB writes ``1 day 00:30:00``, Spark ``INTERVAL '1 00:30:00' DAY TO SECOND``. An INTERVAL is typed so
    by :func:`_typed` (a TIMESTAMP minus a TIMESTAMP or a DATE, an ``INTERVAL`` literal, a CTE's column of one)."""
    if isinstance(node, exp.Cast | exp.TryCast) and node.to.is_type(*exp.DataType.TEXT_TYPES):
        values = [node.this]
    elif isinstance(node, exp.Concat | exp.ConcatWs | exp.DPipe):
        values = [node.this, node.args.get("expression"), *node.expressions]
    elif isinstance(node, exp.GroupConcat):
        value = node.this.this if isinstance(node.this, exp.Order) else node.this
        values = [value.expressions[0] if isinstance(value, exp.Distinct) and value.expressions else value]
    elif isinstance(node, exp.ArrayToString):
        item = _item_type(node.this)
        return node.this if item is not None and item.is_type(exp.DataType.Type.INTERVAL) else None
    elif isinstance(node, exp.Anonymous) and node.name.upper() in {"PRINTF", "FORMAT_STRING"}:
        values = node.expressions[1:]
    else:
        return None
    return next((v for v in values if isinstance(v, exp.Expression) and _is_interval(v)), None)


def interval_as_number(a: str, b: str) -> str:
    """What to write for the INTERVAL ``b - a`` between two timestamps: numbers both engines give alike (``epoch()``
    keeps the fraction of a second on DuckDB, drops it on Spark, and ``date_diff`` counts only days between DATEs
    alike, so both are refused)."""
    days = f"date_diff('day', CAST({a} AS DATE), CAST({b} AS DATE))"
    return (f"{days} * 86400 + (hour({b}) - hour({a})) * 3600 + (minute({b}) - minute({a})) * 60 + second({b}) "
            f"- second({a}) for seconds (between their whole seconds) or {days} for days (midnights crossed)")


def _interval_text_advice(node: exp.Expression, value: exp.Expression) -> str:
    """The refusal of :func:`_interval_as_text` for ``node`` writing ``value`` as text: the rewrite over ``value``'s
    own timestamps when it is one minus the other, else over ``b - a``."""
    while isinstance(value, exp.Paren):
        value = value.this
    if isinstance(value, exp.Sub) and not any(_is_interval(side) or isinstance(side, exp.Interval)
                                              for side in (value.this, value.expression)):
        rewrite = interval_as_number(_text(value.expression), _text(value.this))
    else:
        rewrite = f"for b - a between two timestamps, {interval_as_number('a', 'b')}"
    return (f"an INTERVAL written as text ({_text(node)}) differs between DuckDB and Spark (1 day 00:30:00 in "
            f"DuckDB, INTERVAL '1 00:30:00' DAY TO SECOND in Spark); write it as a number: {rewrite}")


def _scale(decimal: exp.DataType) -> int:
    """The scale of a DECIMAL type (DuckDB's ``DECIMAL`` without one is ``DECIMAL(18, 3)``)."""
    params = decimal.expressions
    if not params:
        return 3
    return int(params[1].this.this) if len(params) > 1 else 0


def _scaled(x: str, scale: int) -> str:
    """``x`` multiplied by 10 to the ``scale`` (DuckDB SQL), bracketed when it has an operator."""
    if scale == 0:
        return x
    bracketed = f"({x})" if re.search(r"[^\w.()]", x) else x
    return f"{bracketed} * {10 ** scale}"


def _per_scale(scale: int) -> str:
    return f" / {10 ** scale}" if scale else ""


def _rounded_to_scale(node: exp.Expression, scale: int) -> bool:
    """Whether the DOUBLE ``node`` is rounded to at most ``scale`` decimal places, so that DuckDB and Spark make
    the same DECIMAL of it: a whole number (``round(x)``, ``floor``, ``ceil``), or one divided by 10, 100, …
    (``round(x * 100) / 100``), whose double is the nearest to that decimal, which both then keep. Other DOUBLEs
    at a tie are rounded by their binary value in DuckDB, by their decimal text in Spark; to no places (whole
    numbers) both agree (a DOUBLE is a tie at .5 exactly)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if scale == 0 or _whole(node):
        return True
    if isinstance(node, exp.Div) and _whole(node.this):
        divisor = node.expression
        return (isinstance(divisor, exp.Literal) and divisor.is_int
                and re.fullmatch(r"10+", divisor.this) is not None and len(divisor.this) - 1 <= scale)
    return False


def _whole(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Round):
        decimals = node.args.get("decimals")
        return decimals is None or (isinstance(decimals, exp.Literal) and decimals.this == "0")
    return isinstance(node, exp.Floor | exp.Ceil) and node.args.get("decimals") is None


def _nested_items(node: exp.Expression) -> bool:
    """Whether ``node`` (typed by :func:`_typed`) is a list whose items are lists, structs or maps: typed so, or
    (sqlglot types no lambda's result) a ``list``/``array_agg``, ``[…]`` or ``list_transform`` of such items."""
    if node.type is not None and node.type.is_type(exp.DataType.Type.ARRAY) and node.type.expressions:
        return _is_nested(node.type.expressions[0])
    while isinstance(node, exp.Paren | exp.Filter | exp.Window):
        node = node.this
    if isinstance(node, exp.ArrayAgg) and not isinstance(node.this, exp.Order):
        return _is_nested_value(_aggregated(node)[1])
    if isinstance(node, exp.Array):
        return any(_is_nested_value(item) for item in node.expressions)
    if isinstance(node, exp.Transform) and isinstance(node.expression, exp.Lambda):
        return _is_nested_value(node.expression.this)
    return False


def _is_nested(kind: exp.DataType) -> bool:
    return kind.is_type(exp.DataType.Type.ARRAY, exp.DataType.Type.STRUCT, exp.DataType.Type.MAP)


def _is_nested_value(node: exp.Expression) -> bool:
    return (_is_list_expression(node) or isinstance(node, exp.Struct)
            or (node.type is not None and _is_nested(node.type)))


def _is_date(node: exp.Expression) -> bool:
    return node.type is not None and node.type.is_type(exp.DataType.Type.DATE)


def _text(node: exp.Expression) -> str:
    """``node`` as the metric's SQL has it (:func:`_written`), or else as DuckDB SQL, without the table names
    :func:`_typed` qualified its columns with."""
    return _written(node) or _plain(node).sql("duckdb")


@lru_cache(maxsize=8)
def _tokens(sql: str) -> tuple[sqlglot.tokens.Token, ...]:
    return tuple(sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql))


def _tokens_if_any(sql: str) -> tuple[sqlglot.tokens.Token, ...] | None:
    """:func:`_tokens`, or None for SQL that does not tokenize (its parse reports that)."""
    try:
        return _tokens(sql)
    except sqlglot.errors.TokenError:
        return None


def _written(node: exp.Expression) -> str | None:
    """``node``'s text in the SQL it was parsed from (:data:`_SOURCE`): ``x::JSON``, not sqlglot's ``CAST(x AS
    JSON)``; ``json_extract(j, '$.i')``, not ``j -> '$.i'``. sqlglot records where the tokens of names and literals
    are (a function's name, a column's, a literal), not where a node begins and ends: its span is found among the
    few tokens around those, the one that parses to the same expression (as DuckDB SQL); None where none does."""
    sql = node.root().meta.get(_SOURCE)
    # not a column's table: qualify (:func:`_typed`) names it with the identifier, and place, of the table's alias
    spans = [n.meta for n in node.walk() if "start" in n.meta and "end" in n.meta
             and not (isinstance(n.parent, exp.Column) and n.arg_key in ("table", "db", "catalog"))]
    if not isinstance(sql, str) or not spans:
        return None
    first, last = min(span["start"] for span in spans), max(span["end"] for span in spans)
    tokens = _tokens_if_any(sql)
    if tokens is None:
        return None
    starts = [i for i, token in enumerate(tokens) if token.start == first]
    ends = [i for i, token in enumerate(tokens) if token.end == last]
    if not starts or not ends:
        return None
    expected = _plain(node).sql("duckdb")
    # the shortest span, never one starting after a dot: a column's table (v.n) is in the text, not in ``expected``
    for j in range(ends[0], min(ends[0] + 16, len(tokens))):
        for i in range(starts[0], max(starts[0] - 7, -1), -1):
            if i > 0 and tokens[i - 1].token_type == TokenType.DOT:
                continue
            text = re.sub(r"\s*[\r\n]\s*", " ", sql[tokens[i].start:tokens[j].end + 1])  # on one line
            if _balanced(tokens[i:j + 1]) and _parses_to(text, expected):
                return text
    return None


_OPENING = {TokenType.L_PAREN: TokenType.R_PAREN, TokenType.L_BRACKET: TokenType.R_BRACKET,
            TokenType.L_BRACE: TokenType.R_BRACE}


def _balanced(tokens: tuple[sqlglot.tokens.Token, ...]) -> bool:
    """Whether ``tokens`` close each parenthesis, bracket and brace they open (sqlglot parses ``CAST(x AS JSON``)."""
    waiting: list[TokenType] = []
    for token in tokens:
        if token.token_type in _OPENING:
            waiting.append(_OPENING[token.token_type])
        elif token.token_type in _OPENING.values() and (not waiting or waiting.pop() != token.token_type):
            return False
    return not waiting


@lru_cache(maxsize=256)
def _parses_to(text: str, expected: str) -> bool:
    """Whether ``text``, an expression, is ``expected`` (DuckDB SQL, as :func:`_plain` writes it) once parsed."""
    try:
        statements = _parse(f"SELECT {text}")
    except sqlglot.errors.SqlglotError:
        return False
    if (len(statements) != 1 or not isinstance(statements[0], exp.Select) or len(statements[0].expressions) != 1
            or any(value for key, value in statements[0].args.items() if key != "expressions")):
        return False  # SELECT DISTINCT x: a DISTINCT in front of x is not x's
    return _plain(_duckdb_normalized(statements[0]).expressions[0]).sql("duckdb") == expected


def _plain(node: exp.Expression) -> exp.Expression:
    """A copy of ``node`` (typed by :func:`_typed`) with its columns and lambda parameters named as written, untyped:
    so that DuckDB's index of ``x[i]`` is written as parsed (sqlglot's generator shifts it by the type of ``x``)."""
    def plain(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column):
            return exp.column(n.name)
        if isinstance(n, exp.Identifier) and not isinstance(n.parent, exp.Column):
            return exp.to_identifier(n.name)
        return n
    return node.transform(plain)


def _has_decimal_literal(node: exp.Expression) -> bool:
    """Whether ``node`` is, or computes with ``+ - *``, a number literal written with a decimal point (a DECIMAL in
    both engines; Spark divides DECIMALs to a DECIMAL)."""
    if isinstance(node, exp.Literal):
        return not node.is_string and "." in node.this and "e" not in node.this.lower()
    if isinstance(node, exp.Paren | exp.Neg):
        return _has_decimal_literal(node.this)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        return _has_decimal_literal(node.this) or _has_decimal_literal(node.expression)
    return False


def _check_series_table(series: exp.GenerateSeries, name: str) -> None:
    """Refuse ``range``/``generate_series`` as a table (``FROM range(24) AS t(h)``) where :func:`_spark_series`
    cannot write it as Spark's ``RANGE``: of TIMESTAMPs (Spark's is of whole numbers only), or of another table's
    column (``FROM v, range(v.n)``: Spark's arguments must be constants)."""
    function = "range" if series.args.get("is_end_exclusive") else "generate_series"
    args = [series.args.get(arg) for arg in ("start", "end", "step")]
    args = [arg for arg in args if arg is not None]
    written = _series_written(series)
    if any(arg.find(exp.Column) for arg in args):
        raise NotPortableError(
            f"{name}: {function}() as a table of another table's column ({written}) is not translated to Spark "
            f"SQL (its arguments must be constants there); write a fixed {function}() (FROM range(0, 1000) AS t(i)) "
            "and join it on i < n")
    if len(args) == 3 and _int_literal(args[2]) == 0:  # DuckDB: "interval cannot be 0!"; Spark: FAILED_FUNCTION_CALL
        raise NotPortableError(
            f"{name}: {function}() as a table with a step of 0 ({written}) fails the run on both engines; write a "
            "step other than 0")
    if not _whole_series(series):
        raise NotPortableError(
            f"{name}: {function}() of timestamps as a table ({written}) is not translated to Spark SQL (Spark's "
            f"range is of whole numbers); write {function}() of whole numbers (FROM range(24) AS t(h)) and compute "
            "the timestamps from them")


def _refuse_timestamp_series_list(series: exp.GenerateSeries, name: str) -> None:
    """Refuse ``range``/``generate_series`` of timestamps as a list: Spark stopped the run on ``range``'s (the
    translation compared its INTERVAL step with 0: ``DATATYPE_MISMATCH``), and on ``generate_series``'s whose end
    lies before its start (``Illegal sequence boundaries``, where DuckDB gives ``[]``); a list of whole numbers is
    translated with DuckDB's values (:func:`_spark_series`)."""
    function = "range" if series.args.get("is_end_exclusive") else "generate_series"
    written = _series_written(series)
    raise NotPortableError(
        f"{name}: {function}() of timestamps as a list ({written}) is not translated to Spark SQL (Spark stops the "
        f"run on it, or where the end lies before the start); write {function}() of whole numbers and compute the "
        "timestamps from them: list_transform(range(n), lambda h: start + h * INTERVAL 1 HOUR)")


def _step_sign(step: exp.Expression) -> exp.Expression:
    """The sign of a series' whole-number ``step``: 1 or -1 when written as a number, else Spark's ``SIGN`` of it
    (a DOUBLE) as a BIGINT."""
    literal = _int_literal(step)
    if literal is not None:
        return exp.Literal.number((literal > 0) - (literal < 0))
    return exp.Cast(this=exp.func("SIGN", step.copy()), to=exp.DataType.build("BIGINT"))


def _whole_series(series: exp.GenerateSeries) -> bool:
    """Whether ``series`` is of whole numbers: neither an INTERVAL step nor an argument known to be of another type
    (a TIMESTAMP; DuckDB's ``range`` of TIMESTAMPs takes an INTERVAL step)."""
    args = [series.args.get(arg) for arg in ("start", "end", "step")]
    typed = [annotate_types(arg.copy(), dialect="duckdb", expression_metadata=_DUCKDB_TYPING)
             for arg in args if arg is not None]
    return not any(isinstance(arg, exp.Interval) or (not _unknown(arg.type) and arg.type.this not in _INTEGER_TYPES)
                   for arg in typed)


def _spark_series(node: exp.Expression) -> exp.Expression:
    """``range``/``generate_series`` of whole numbers as Spark gives DuckDB's values (DuckDB's ``range`` ends before
    its end, ``generate_series`` at it):

    * as a table (``FROM range(24) AS t(h)``, a calendar to join on), Spark's ``RANGE(start, end, step)`` table
      (sqlglot wrote ``EXPLODE(SEQUENCE(0, 23), _u(t))``, which Spark refused: ``Cannot resolve routine `_u```),
      which ends before its end: ``generate_series``'s end is moved on by the step's sign (whole numbers,
      :func:`_check_series_table`). Its column is named as DuckDB names it: as the alias's column, else as the alias
      (``range(3) AS t`` is column ``t``), else as the function (``range``), where Spark's is ``id``.
    * as a list (``range(1, 4, 2)``), ``SEQUENCE(start, last, step)`` with the last value ``end - sign(step)`` for
      ``range``, and ``[]`` where the end lies before the start in the step's direction (sqlglot wrote the last
      value as ``end - step``: ``range(1, 4, 2)`` was ``[1]`` for ``[1, 3]``, ``range(5, 0, -2)`` ``[5, 3]``, and
      ``generate_series(1, n, 2)`` of ``n`` 0 stopped the run with Spark's ``Illegal sequence boundaries``), and
      with a step of 0 ``[]``, as in DuckDB (``generate_series(1, 4, 0)`` stopped the run, ``(1, 1, 0)`` was ``[1]``;
      as a table a step of 0 fails on both, refused by :func:`_check_series_table`).
      Of TIMESTAMPs it is refused (:func:`_refuse_timestamp_series_list`)."""
    table = node if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries) else None
    series = table.this if table is not None else node
    if not isinstance(series, exp.GenerateSeries) or not _whole_series(series):
        return node
    exclusive = bool(series.args.get("is_end_exclusive"))
    start, end = series.args.get("start") or exp.Literal.number(0), series.args["end"]
    step = series.args.get("step") or exp.Literal.number(1)
    sign = _step_sign(step)
    if table is not None:
        if not exclusive:
            end = exp.Add(this=exp.Paren(this=end), expression=sign)
        alias = table.args.get("alias")
        function = "range" if exclusive else "generate_series"
        name = alias.this if alias is not None and alias.this else exp.to_identifier(function, quoted=True)
        columns = alias.columns if alias is not None and alias.columns else [exp.to_identifier(name.name, quoted=True)]
        return exp.Table(this=exp.Anonymous(this="RANGE", expressions=[start, end, step]),
                         alias=exp.TableAlias(this=name, columns=columns))
    ahead = exp.Mul(this=exp.Paren(this=exp.Sub(this=exp.Paren(this=end.copy()), expression=exp.Paren(
        this=start.copy()))), expression=sign.copy())
    empty: exp.Expression = (exp.LTE if exclusive else exp.LT)(this=ahead, expression=exp.Literal.number(0))
    if not exclusive and _int_literal(sign) != 1 and _int_literal(sign) != -1:
        # a step of 0 is [] in DuckDB (range's ahead * 0 <= 0 says so too); Spark's SEQUENCE stopped the run
        # (Illegal sequence boundaries: 1 to 4 by 0), or gave [1] for generate_series(1, 1, 0)
        empty = exp.or_(empty, exp.EQ(this=sign.copy(), expression=exp.Literal.number(0)))
    last = exp.Sub(this=exp.Paren(this=end), expression=sign) if exclusive else end
    values = _spark("SEQUENCE", *(exp.Cast(this=value, to=exp.DataType.build("BIGINT")) for value in
                                  (start, last, step)))
    return exp.If(this=empty, true=exp.Array(expressions=[]), false=values)


def _check_part(part: str, function: str, name: str) -> None:
    if part.upper() not in _PORTABLE_PARTS:
        raise NotPortableError(
            f"{name}: {function}({part.lower()}) differs between DuckDB and Spark; use year, quarter, month, week, "
            f"day, doy, hour or minute, and for a weekday {_WEEKDAY_HINT}")


def _check_date_diffs(tree: exp.Expression, typed_tree: exp.Expression, name: str) -> None:
    """Refuse a ``date_diff`` other than in days between two DATEs (see the module docstring); ``typed_tree`` is
    ``tree`` typed by :func:`_typed`."""
    diffs = list(tree.find_all(exp.DateDiff))
    if not diffs:
        return
    for diff in diffs:
        diff.meta.pop(_MARK, None)
    for diff in diffs:
        unit = diff.unit.name.upper() if diff.unit else "DAY"
        if unit not in _PORTABLE_DIFF_UNITS:
            raise NotPortableError(
                f"{name}: date_diff('{unit.lower()}', …) counts boundaries crossed in DuckDB, whole units in Spark; "
                "use date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) and divide")
    # each diff's typed self found by its mark (:func:`_check_typed`), not by its place in the walk: typing expands
    # an alias in GROUP BY (GROUP BY d of date_diff(…) AS d) into a second diff, which put the typed diffs out of
    # step (the refusal named the DATE literal of date_diff('day', DATE '1970-01-05', created_at))
    typed: dict[int, exp.DateDiff] = {}
    for typed_diff in typed_tree.find_all(exp.DateDiff):
        typed.setdefault(typed_diff.meta.get(_MARK, -1), typed_diff)
    for number, diff in enumerate(diffs):
        typed_diff = typed.get(number)
        for arg, typed_arg in ((diff.expression, typed_diff and typed_diff.expression),
                               (diff.this, typed_diff and typed_diff.this)):
            if not (typed_arg and typed_arg.type and typed_arg.type.is_type(exp.DataType.Type.DATE)):
                text = arg.sql("duckdb")
                raise NotPortableError(
                    f"{name}: date_diff('day', …) of {text}, not known to be a DATE: DuckDB counts midnights "
                    f"crossed, Spark whole 24-hour periods; write CAST({text} AS DATE)")


def _typed(tree: exp.Expression) -> exp.Expression:
    """A copy of ``tree`` with the types sqlglot infers from the curated tables' schemas, with DuckDB's types of
    number literals and arithmetic (:data:`_DUCKDB_TYPING`). When its columns cannot be resolved (an unknown
    column, which the engine reports itself), only casts and literals are typed. A lambda's parameters are typed
    from its list (:func:`_typed_lambdas`), which sqlglot leaves untyped."""
    try:
        typed = annotate_types(qualify(tree.copy(), schema=_SCHEMA, dialect="duckdb"), schema=_SCHEMA,
                               dialect="duckdb", expression_metadata=_DUCKDB_TYPING)
        schema: dict | None = _SCHEMA
    # AssertionError: sqlglot's own check where it cannot expand a * it orders by position (SELECT * FROM range(24)
    # ORDER BY 1: a table function's columns are unknown to it), which stopped the run with a traceback
    except (sqlglot.errors.SqlglotError, AssertionError):
        typed = annotate_types(tree.copy(), dialect="duckdb", expression_metadata=_DUCKDB_TYPING)
        schema = None
    return _typed_lambdas(typed, schema)


#: the list functions taking a lambda over their list's items (``this``), and what their result is
_LAMBDA_FUNCTIONS = (exp.Transform, exp.ArrayFilter)
_TYPED_LAMBDA = "fediscope_typed_lambda"


def _typed_lambdas(typed: exp.Expression, schema: dict | None) -> exp.Expression:
    """``typed`` (typed by sqlglot) with the parameters of each ``list_transform``/``list_filter`` lambda typed: the
    first as the list's items (``lambda l: l[1]`` over a list of lists, ``lambda d: d / 3`` over DECIMALs), the
    second (DuckDB's position, from 1) as a BIGINT; then what computes with them, and the lambda's list
    (``list_transform``: a list of its body's type, ``list_filter``: its list's type), again and again for lambdas
    inside lambdas and over lambdas' results. sqlglot types neither, so ``l[1]``, ``d / 3`` and ``list_transform(…)[1]``
    inside or over a lambda were not translated as the same outside one (:func:`_spark_typed`). A lambda over a list
    whose items' type is not known stays untyped: :func:`_check_typed` refuses an index or a division of its
    parameters."""
    for _ in range(16):  # each round types one more level of nesting; metrics have few
        changed = False
        for function in typed.find_all(*_LAMBDA_FUNCTIONS):
            lam = function.expression
            if not isinstance(lam, exp.Lambda):
                continue
            if not lam.meta.get(_TYPED_LAMBDA):
                item = _item_type(function.this)
                if item is None:
                    continue
                kinds = dict(zip([p.name for p in lam.expressions], [item, exp.DataType.build("BIGINT")],
                                 strict=False))
                for ref in _parameter_refs(lam):
                    ref.type = kinds[ref.name].copy()
                lam.meta[_TYPED_LAMBDA] = True
                changed = True
            elif _unknown(function.type):
                result = function.this.type if isinstance(function, exp.ArrayFilter) else (
                    None if _unknown(lam.this.type) else exp.DataType(
                        this=exp.DataType.Type.ARRAY, expressions=[lam.this.type.copy()], nested=True))
                if result is not None:
                    function.type = result
                    changed = True
        if not changed:
            return typed
        typed = annotate_types(typed, schema=schema, dialect="duckdb", expression_metadata=_DUCKDB_TYPING,
                               overwrite_types=False)
    return typed


def _unknown(kind: exp.DataType | None) -> bool:
    return kind is None or kind.is_type(exp.DataType.Type.UNKNOWN)


def _item_type(items: exp.Expression) -> exp.DataType | None:
    """The type of the items of the list ``items`` (typed), or None when it is not known."""
    kind = items.type
    if kind is None or not kind.is_type(exp.DataType.Type.ARRAY) or not kind.expressions:
        return None
    item = kind.expressions[0]
    return None if _unknown(item) else item


def _parameter_refs(lam: exp.Lambda) -> list[exp.Expression]:
    """The references to ``lam``'s parameters in its body (an identifier, or a column without a table when sqlglot
    could not qualify the query), not those of a lambda inside it naming a parameter alike."""
    names = {p.name for p in lam.expressions}
    refs = []
    for node in lam.this.walk(prune=lambda n: isinstance(n, exp.Lambda) and bool(
            names & {p.name for p in n.expressions})):
        column = isinstance(node, exp.Column) and not node.table
        identifier = (isinstance(node, exp.Identifier) and not isinstance(node.parent, exp.Column | exp.Dot)
                      and not (isinstance(node.parent, exp.Lambda) and node.arg_key == "expressions"))
        if (column or identifier) and node.name in names:
            refs.append(node)
    return refs


_NUMBER_TYPES = {*_INTEGER_TYPES, *_FRACTIONAL_TYPES}


#: the types DuckDB subtracts a TIMESTAMP from, or from a TIMESTAMP, to an INTERVAL (with one TIMESTAMP at least)
_TIMESTAMP_TYPES = {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.TIMESTAMPTZ,
                    exp.DataType.Type.TIMESTAMPLTZ, exp.DataType.Type.TIMESTAMP_S, exp.DataType.Type.TIMESTAMP_MS,
                    exp.DataType.Type.TIMESTAMP_NS, exp.DataType.Type.DATETIME}


def _duckdb_arithmetic(annotate):  # noqa: ANN001, ANN202 - sqlglot's annotator functions are untyped
    """sqlglot's annotator of ``+ - * / %`` (``annotate``), then DuckDB's type where sqlglot's differs: a DOUBLE (or
    FLOAT) with an integer or a DECIMAL is a DOUBLE (sqlglot: the DECIMAL, as ``DECIMAL(18, 2)`` has parameters),
    ``/`` of two numbers is always a DOUBLE (sqlglot: a DECIMAL when one is), and a TIMESTAMP minus a TIMESTAMP (or
    a DATE) an INTERVAL (sqlglot: a TIMESTAMP). Typed so, a CTE's column computed so is a DOUBLE too, and checked as
    one (written as text, rounded, cast to a DECIMAL), and a refusal names the INTERVAL as such."""
    def annotated(self, node: exp.Expression) -> exp.Expression:  # noqa: ANN001
        annotate(self, node)
        kinds = [side.type.this if side.type else None for side in (node.this, node.expression)]
        if all(kind in _NUMBER_TYPES for kind in kinds) and (
                isinstance(node, exp.Div) or any(kind in _FLOATING_TYPES for kind in kinds)):
            self._set_type(node, exp.DataType.Type.DOUBLE)
        elif (isinstance(node, exp.Sub) and all(kind in {*_TIMESTAMP_TYPES, exp.DataType.Type.DATE} for kind in kinds)
              and any(kind in _TIMESTAMP_TYPES for kind in kinds)):
            self._set_type(node, exp.DataType.Type.INTERVAL)
        return node
    return annotated


def _duckdb_literal(annotate):  # noqa: ANN001, ANN202
    """sqlglot's annotator of a literal (``annotate``), then DuckDB's type of a number written with a decimal point
    and no exponent: ``DECIMAL(p, s)`` of its digits (sqlglot: a DOUBLE), so that ``x * 1.5`` is a DECIMAL as in
    DuckDB, also as a CTE's column."""
    def annotated(self, node: exp.Literal) -> exp.Literal:  # noqa: ANN001
        annotate(self, node)
        match = re.fullmatch(r"(\d*)\.(\d*)", "" if node.is_string else node.this)
        if match and 0 < len(match.group(1) + match.group(2)) <= 38:
            digits = len(match.group(1) + match.group(2))
            self._set_type(node, exp.DataType.build(f"DECIMAL({digits}, {len(match.group(2))})"))
        return node
    return annotated


def _text_list(self, node: exp.Expression) -> exp.Expression:  # noqa: ANN001
    """A list of text (``string_split``, ``string_split_regex``, ``regexp_extract_all``), which sqlglot leaves
    untyped."""
    self._set_type(node, exp.DataType.build("VARCHAR[]", dialect="duckdb"))
    return node


def _list_of_first(self, node: exp.Expression) -> exp.Expression:  # noqa: ANN001
    """A list of the type of the first list it takes (``list_distinct``, ``array_intersect``, ``list_append``, …),
    or for ``flatten`` of its items, which sqlglot leaves untyped."""
    first = node.expressions[0] if isinstance(node, exp.ArrayIntersect) and node.expressions else node.this
    kind = first.type if isinstance(first, exp.Expression) else None
    if kind is not None and isinstance(node, exp.Flatten):
        kind = kind.expressions[0] if kind.is_type(exp.DataType.Type.ARRAY) and kind.expressions else None
    listed = kind is not None and kind.is_type(exp.DataType.Type.ARRAY)
    self._set_type(node, kind if listed else exp.DataType.Type.UNKNOWN)
    return node


def _map_part_list(self, node: exp.Expression) -> exp.Expression:  # noqa: ANN001
    """``map_keys(m)``/``map_values(m)``: a list of the map's key or value type (of items not known when the map's
    type is not), which sqlglot leaves untyped; typed so, their ``l[i]`` is a list's item (``TRY_ELEMENT_AT``: Spark's
    plain ``[i]`` was 0-based and failed the run out of range, where DuckDB gives NULL) and ``length()`` of one is
    refused as a list's (Spark's string ``LENGTH``)."""
    values = isinstance(node, exp.Anonymous)
    source = node.expressions[0] if values else node.this
    kind = source.type if isinstance(source, exp.Expression) else None
    item = (kind.expressions[1 if values else 0].copy()
            if kind is not None and kind.is_type(exp.DataType.Type.MAP) and len(kind.expressions) == 2
            else exp.DataType.build("UNKNOWN"))
    self._set_type(node, exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[item], nested=True))
    return node


#: DuckDB's functions sqlglot does not know that give a BIGINT (a byte or character count), as DuckDB types them:
#: untyped, ``lpad(s, strlen(s), '-')`` passed the check and DuckDB refused it at the run (``strlen`` is checked as
#: the ``octet_length`` it is written as)
_BIGINT_FUNCTIONS = frozenset({"STRLEN", "OCTET_LENGTH", "LENGTH_GRAPHEME"})


def _unknown_function_types(annotate):  # noqa: ANN001, ANN202
    """sqlglot's annotator of a function it does not know (``annotate``), then ``fmod``'s type, a DOUBLE (so that it
    is checked as one: written as text, rounded, cast to a DECIMAL), ``map_values``'s, a list
    (:func:`_map_part_list`), and a BIGINT for :data:`_BIGINT_FUNCTIONS`."""
    def annotated(self, node: exp.Anonymous) -> exp.Expression:  # noqa: ANN001
        annotate(self, node)
        if node.name.upper() == "FMOD":
            self._set_type(node, exp.DataType.Type.DOUBLE)
        elif node.name.upper() in _BIGINT_FUNCTIONS:
            self._set_type(node, exp.DataType.Type.BIGINT)
        elif node.name.upper() == "MAP_VALUES" and len(node.expressions) == 1:
            _map_part_list(self, node)
        return node
    return annotated


_DUCKDB_METADATA = sqlglot.Dialect.get_or_raise("duckdb").EXPRESSION_METADATA
#: sqlglot's DuckDB typing, with :func:`_duckdb_arithmetic` and :func:`_duckdb_literal`
_DUCKDB_TYPING = {
    **_DUCKDB_METADATA,
    **{kind: {**_DUCKDB_METADATA[kind], "annotator": _duckdb_arithmetic(_DUCKDB_METADATA[kind]["annotator"])}
       for kind in (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)},
    exp.Literal: {**_DUCKDB_METADATA[exp.Literal],
                  "annotator": _duckdb_literal(_DUCKDB_METADATA[exp.Literal]["annotator"])},
    exp.Anonymous: {**_DUCKDB_METADATA.get(exp.Anonymous, {}), "annotator": _unknown_function_types(
        _DUCKDB_METADATA.get(exp.Anonymous, {}).get("annotator")
        or (lambda self, node: self._set_type(node, exp.DataType.Type.UNKNOWN)))},
    **{kind: {"annotator": _text_list} for kind in (exp.Split, exp.RegexpSplit, exp.RegexpExtractAll)},
    exp.MapKeys: {"annotator": _map_part_list},
    # strpos/instr/position and levenshtein: a BIGINT in DuckDB, where sqlglot says INT (then lpad(s, strpos(s,
    # 'b'), …) passed)
    **{kind: {"returns": exp.DataType.Type.BIGINT} for kind in (exp.StrPosition, exp.Levenshtein)},
    **{kind: {"annotator": _list_of_first} for kind in (exp.Flatten, exp.ArrayDistinct, exp.ArrayIntersect,
                                                        exp.ArrayCompact, exp.ArrayAppend, exp.ArrayPrepend)},
}


_SCHEMA = {t.name: {c: duckdb_type(ty) for c, ty in t.columns.items()}
           for t in (*CURATED.values(), COLLECTION_STARTS)}
#: ``curated_statuses``: every curated status row, tombstones and the markers of statuses not public too, which the
#: ``statuses`` view leaves out (:meth:`fediscope.engine.base.Engine.register_curated_views`); the metrics read it
#: for the latest fetch of any status (``last_fetched_at``).
_SCHEMA["curated_statuses"] = _SCHEMA[STATUSES.name]


def _parse_error(exc: sqlglot.errors.ParseError) -> str:
    """sqlglot's parse error in one line: its own message spans lines, the text near the error underlined with
    terminal escape codes. Its column is where the token named ends, so the token is named instead."""
    if not exc.errors:
        return str(exc).splitlines()[0]
    error = exc.errors[0]
    near = f" near {error['highlight']!r}" if error.get("highlight") else ""
    return f"{error['description']} at line {error['line']}{near}"


#: what may take a ``list_distinct`` result without its items' order showing: counted, sorted, unnested into rows
#: (``len``/``length`` of a list is refused on its own, with ``array_length`` as the advice)
_ORDER_FREE = (exp.ArraySize, exp.ArraySort, exp.Explode, exp.Unnest, exp.Length)


def _order_free(node: exp.Expression) -> bool:
    """Whether ``node``'s list reaches only something its items' order does not change (:data:`_ORDER_FREE`)."""
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, _ORDER_FREE)


#: what passes a list on with its items in the order they came (a list taken whole by one of these shows its order
#: only where the list it gives does)
_KEEPS_ORDER = (exp.Paren, exp.Filter, exp.Flatten, exp.ArrayConcat, exp.Transform, exp.ArrayFilter, exp.ArrayCompact,
                exp.ArrayIntersect)
#: what takes a list without its items' order showing: besides :data:`_ORDER_FREE`, ``list_distinct`` (checked on its
#: own), ``list_contains`` and a list's largest and smallest item
_LIST_ORDER_FREE = (*_ORDER_FREE, exp.ArrayDistinct, exp.ArrayContains, exp.ArrayMax, exp.ArrayMin)


#: the translated list functions (:data:`_SPARK_LIST_FUNCTIONS`) whose answer the items' order does not change
_ORDER_FREE_CALLS = {"LIST_HAS_ANY", "LIST_HAS_ALL", "LIST_COUNT", "LIST_UNIQUE"}


def _list_order_hidden(node: exp.Expression) -> bool:
    """Whether the items' order of ``node``, a ``list``/``array_agg`` without ``ORDER BY``, cannot show: it is
    aggregated over a window with an ``ORDER BY`` (the frame's order, in both engines), reaches only something its
    items' order does not change (:data:`_LIST_ORDER_FREE`, :data:`_ORDER_FREE_CALLS`, through :data:`_KEEPS_ORDER`),
    or is a result column (a list there is refused for every engine, with its own advice)."""
    child, parent = node, node.parent
    while True:
        if isinstance(parent, exp.Window):
            # rows tied on the window's ORDER BY are peers, listed in the order the rows come: hidden only with the
            # value among its keys
            if parent.args.get("order") is not None and _ordered_by_value(parent.args["order"], _aggregated(node)[1]):
                return True
        elif isinstance(parent, _LIST_ORDER_FREE) or (_list_call(parent) or ("", []))[0] in _ORDER_FREE_CALLS:
            return True
        elif not isinstance(parent, _KEEPS_ORDER):
            return _is_result_column(child)
        child, parent = parent, parent.parent


def _items_order_hidden(node: exp.Expression) -> bool:
    """Whether the items' order of the list ``node`` reaches only something it does not change
    (:data:`_LIST_ORDER_FREE`, :data:`_ORDER_FREE_CALLS`, through :data:`_KEEPS_ORDER`)."""
    parent = node.parent
    while isinstance(parent, _KEEPS_ORDER):
        parent = parent.parent
    return isinstance(parent, _LIST_ORDER_FREE) or (_list_call(parent) or ("", []))[0] in _ORDER_FREE_CALLS


def _is_result_column(node: exp.Expression) -> bool:
    """Whether ``node`` is (the value of) a column of the statement's result: one of the outermost SELECT's."""
    if isinstance(node.parent, exp.Alias):
        node = node.parent
    select = node.parent
    if not isinstance(select, exp.Select) or node.arg_key != "expressions":
        return False
    while isinstance(select.parent, exp.SetOperation):
        select = select.parent
    return select.parent is None


def _window(node: exp.Expression) -> exp.Window | None:
    """The window ``node``, an aggregate, is computed over (with its ``FILTER``, if any), or None."""
    parent = node.parent
    if isinstance(parent, exp.Filter):
        parent = parent.parent
    return parent if isinstance(parent, exp.Window) else None


def _tied_window_advice(node: exp.Expression, window: exp.Window) -> str:
    keys = ", ".join(key.sql("duckdb") for key in window.args["order"].expressions)
    separator = node.args.get("separator")
    written = f"string_agg({_text(node.this)}{', ' + separator.sql('duckdb') if separator is not None else ''})"
    return (f"{written} over a window ordered by {keys} joins rows tied on {keys} (peers) in no fixed order (in the "
            f"order the rows come, which differs between DuckDB and Spark); add the value as the window's last key "
            f"(ORDER BY {keys}, {_text(node.this)}), which also makes rows tied on {keys} no longer peers")


def _aggregated(node: exp.Expression) -> tuple[bool, exp.Expression]:
    """Whether the aggregate ``node`` is DISTINCT, and the value it aggregates."""
    if isinstance(node.this, exp.Distinct) and len(node.this.expressions) == 1:
        return True, node.this.expressions[0]
    return False, node.this


def _unordered_list_advice(node: exp.Expression) -> str:
    distinct, value = _aggregated(node)
    text, listed = _text(value), node.sql("duckdb")
    return (f"{listed} gives its items in no fixed order (in the order the rows come, which differs between DuckDB "
            f"and Spark); to join them write string_agg({'DISTINCT ' if distinct else ''}{text}, ',' ORDER BY "
            f"{text}), or sort it (list_sort({listed})), only count it (array_length) or unnest it")


def _unordered_join_advice(node: exp.Expression) -> str:
    distinct, value = _aggregated(node)
    text = _text(value)
    separator = node.args.get("separator")
    separator_text = separator.sql("duckdb") if separator is not None else "','"
    written = f"string_agg({'DISTINCT ' if distinct else ''}{text}{', ' + separator_text if separator else ''})"
    return (f"{written} joins its items in no fixed order (in the order the rows come, which differs between "
            f"DuckDB and Spark); write string_agg({'DISTINCT ' if distinct else ''}{text}, {separator_text} "
            f"ORDER BY {text})")


def _ordered_by_value(order: exp.Order, value: exp.Expression | None = None) -> bool:
    """Whether an aggregate's ``ORDER BY`` (``order``; or its window's, with the aggregated ``value``) has the
    aggregated value among its keys: rows tied on every
    key then hold the same value, so their order cannot show. Without it, rows tied on the keys (two statuses of
    one ``dt`` or ``created_at``) come in the order the rows do, which differs between the engines
    (``string_agg(x, ',' ORDER BY o)`` ``b,a,c`` in DuckDB, ``c,a,b`` in Spark)."""
    if value is None:  # the aggregate's own ORDER BY: its value is what it orders
        value = order.this.expressions[0] if isinstance(order.this, exp.Distinct) else order.this
    text = _plain(value).sql("duckdb")  # compared as parsed, not as written (statuses.language is language)
    return any(_plain(key.this if isinstance(key, exp.Ordered) else key).sql("duckdb") == text
               for key in order.expressions)


def _keys_breaking_ties(order: exp.Order) -> str:
    """The ``ORDER BY`` keys of ``order`` (DuckDB SQL), the aggregated value added last when they lack it
    (:func:`_ordered_by_value`)."""
    keys = ", ".join(key.sql("duckdb") for key in order.expressions)
    return keys if _ordered_by_value(order) else f"{keys}, {_text(order.this)}"


def _tied_join_advice(node: exp.Expression) -> str:
    order = node.this
    separator = node.args.get("separator")
    separator_text = separator.sql("duckdb") if separator is not None else "','"
    keys = ", ".join(key.sql("duckdb") for key in order.expressions)
    value = _text(order.this)
    written = f"string_agg({value}{', ' + separator_text if separator is not None else ''} ORDER BY {keys})"
    return (f"{written} joins rows tied on {keys} in no fixed order (in the order the rows come, which differs "
            f"between DuckDB and Spark); add the value as the last key: string_agg({value}, {separator_text} "
            f"ORDER BY {_keys_breaking_ties(order)})")


def _is_list_expression(node: exp.Expression) -> bool:
    """Whether ``node`` is a list by what it is (sqlglot types none of these but ``[…]``, ``list_sort`` and
    ``list_concat``): a list function's result, or ``list``/``array_agg``."""
    return isinstance(node, exp.ArrayFilter | exp.Transform | exp.RegexpExtractAll | exp.Array | exp.ArrayDistinct
                      | exp.ArraySort | exp.ArrayConcat | exp.ArrayAgg | exp.Split | exp.StringToArray | exp.Flatten
                      | exp.ArrayAppend | exp.ArrayPrepend | exp.RegexpSplit | exp.ArrayIntersect)


#: DuckDB's names of ``string_split_regex`` that sqlglot leaves as they are (Spark has none of them)
_SPLIT_FUNCTIONS = {"REGEXP_SPLIT_TO_ARRAY"}


def _duckdb_normalized(tree: exp.Expression) -> exp.Expression:
    """``tree`` with the DuckDB functions sqlglot leaves as they are, and Spark has not, written as the DuckDB
    constructs they are the same as, which are checked and translated as those are: ``list_intersect(a, b)`` as
    ``array_intersect(a, b)`` (its alias), ``regexp_split_to_array(s, p)`` as ``string_split_regex(s, p)`` (its
    alias: Spark's ``SPLIT``) and ``divide(x, y)`` as ``x // y`` (DuckDB's function of ``//``: 3 for 7 and 2, -3 for
    -7), and a list comprehension ``[f(x) FOR x IN l IF c(x)]`` as ``list_transform(list_filter(l, lambda x:
    c(x)), lambda x: f(x))`` (:func:`_comprehension`). Other numbers of arguments are refused by
    :func:`check_portable`. (``fmod``, which is no other DuckDB construct, is typed by
    :func:`_unknown_function_types` and written for Spark by :func:`_spark_fmod`.)"""
    for node in reversed(list(tree.find_all(exp.Array, bfs=False))):  # innermost first: [[y FOR y IN x] FOR x IN l]
        comprehension = _comprehension(node)
        if comprehension is not None:
            if node is tree:
                tree = comprehension
            node.replace(comprehension)

    def normalized(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DateAdd) and node.expression.find(exp.Interval) is not None:
            # Spark's date_add takes days only: an INTERVAL, or one computed (n * INTERVAL 1 DAY), is added
            return exp.Add(this=node.this, expression=node.expression)
        if isinstance(node, exp.Anonymous) and node.name.upper() == "STRLEN" and len(node.expressions) == 1:
            return exp.Anonymous(this="OCTET_LENGTH", expressions=node.expressions)
        if not isinstance(node, exp.Anonymous) or len(node.expressions) != 2:
            return node
        first, second = node.expressions
        function = node.name.upper()
        if function == "PREFIX":
            return exp.StartsWith(this=first, expression=second)
        if function == "SUFFIX":
            return exp.EndsWith(this=first, expression=second)
        if function == "LIST_INTERSECT":
            return exp.ArrayIntersect(expressions=[first, second])
        if function in _SPLIT_FUNCTIONS:
            return exp.RegexpSplit(this=first, expression=second)
        if function == "DIVIDE":  # divide(a - 5, 2): (a - 5) // 2
            first, second = (arg if isinstance(arg, exp.Column | exp.Literal | exp.Func | exp.Paren)
                             else exp.paren(arg, copy=False) for arg in (first, second))
            return exp.Paren(this=exp.IntDiv(this=first, expression=second))
        return node
    return tree.transform(normalized, copy=False)


def _comprehension(node: exp.Expression) -> exp.Expression | None:
    """DuckDB's list comprehension ``[f(x) FOR x IN l IF c(x)]`` (``node``, the list holding it) as the list
    functions it is, ``list_transform(list_filter(l, lambda x: c(x)), lambda x: f(x))`` (without ``IF``,
    ``list_transform(l, lambda x: f(x))``; ``f(x)`` ``x`` itself: ``list_filter`` alone), which are checked and
    translated as those are: sqlglot wrote it for Spark as it is, ``ARRAY(f(x) FOR x IN l IF c(x))``, which Spark does
    not parse. A position (``FOR x, i IN l``) is the lambdas' second parameter; used in ``f`` with an ``IF``, it
    numbers the items before the filter in DuckDB, after it here, so that is refused by :func:`check_portable`, and
    left as it is; or None when ``node`` is no list comprehension."""
    if not (isinstance(node, exp.Array) and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Comprehension)):
        return None
    comprehension = node.expressions[0]
    if _position_after_filter(comprehension):
        return None
    parameters = [p for p in (comprehension.expression, comprehension.args.get("position")) if p is not None]
    items = comprehension.args["iterator"]
    condition = comprehension.args.get("condition")
    if condition is not None:
        items = exp.ArrayFilter(this=items, expression=_comprehension_lambda(condition, parameters))
    body = comprehension.this
    if condition is not None and isinstance(body, exp.Column) and not body.table and body.name == parameters[0].name:
        return items
    return exp.Transform(this=items, expression=_comprehension_lambda(body, parameters))


def _position_after_filter(comprehension: exp.Comprehension) -> bool:
    """Whether the list comprehension ``comprehension`` uses its position in its result after an ``IF``."""
    position = comprehension.args.get("position")
    return (position is not None and comprehension.args.get("condition") is not None
            and any(not column.table and column.name == position.name
                    for column in comprehension.this.find_all(exp.Column)))


def _comprehension_lambda(body: exp.Expression, parameters: list[exp.Expression]) -> exp.Lambda:
    """``lambda <parameters>: body`` with the columns naming a parameter written as DuckDB's parser writes a lambda's
    (sqlglot's ``_replace_lambda``): ``x`` an identifier, ``x.f`` a field of it."""
    names = {parameter.name for parameter in parameters}
    body = body.copy()
    for column in list(body.find_all(exp.Column)):
        if column.parts[0].name in names:
            reference = column.to_dot() if column.table else column.this
            if column is body:
                body = reference
            else:
                column.replace(reference)
    return exp.Lambda(this=body, expressions=[parameter.copy() for parameter in parameters])


@lru_cache(maxsize=256)
def to_spark(sql: str, wide_sums: bool = False) -> str:
    """The Spark SQL translation of one DuckDB statement (checked with :func:`check_portable` first). With
    ``wide_sums``, a ``sum`` of whole numbers is summed as a ``DECIMAL(38, 0)``, as DuckDB sums to a HUGEINT
    (:func:`_wide_sum`): the Spark engine runs a query so again only once Spark's BIGINT sum overflowed, as the
    DECIMAL sums cost (the built-in metrics took half as long again)."""
    check_portable(sql, "not portable to Spark SQL")
    statements = [_spark_quantiles(_spark_null_items(_spark_list_functions(
        spark_text_functions(_spark_typed(_duckdb_normalized(s), wide_sums)).transform(_spark_series)
        .transform(_spark_log10)
        .transform(_spark_intersect_without_nulls).transform(_spark_distinct_without_nulls)
        .transform(_spark_distinct_string_agg)
        .transform(_spark_concat_text).transform(_spark_list_concat).transform(_spark_null_concat).transform(_spark_lambda_positions)
        .transform(_spark_fmod), _spark_slices, _spark_maps)))
        .sql("spark")
                  for s in _parse(sql) if s]
    if len(statements) != 1:
        raise NotPortableError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


_MARK = "fediscope_node"


def _spark_typed(statement: exp.Expression, wide_sums: bool = False) -> exp.Expression:
    """``statement`` with the constructs whose Spark SQL depends on their types (:func:`_typed`) written so that
    Spark gives DuckDB's answer:

    * ``/`` with a DECIMAL: a DOUBLE in DuckDB, a DECIMAL rounded to 6 places in Spark (``CAST(7 AS DECIMAL(18, 2))
      / 3`` is 2.3333333333333335 in DuckDB, 2.333333 in Spark); the DECIMAL is cast to a DOUBLE first, which both
      then divide alike. (A decimal literal divided is refused by :func:`check_portable` first.)
    * ``l[i]`` of a list: NULL in DuckDB when ``i`` is 0 or out of range, an error in Spark (ANSI mode, Spark 4's
      default); and sqlglot shifts a literal index to Spark's 0-based one (a negative one wrongly: ``l[-1]``, the
      last item in DuckDB, became ``l[-2]``), a computed one not at all (``l[i]`` the item after DuckDB's). Written
      ``TRY_ELEMENT_AT(l, i)`` (1-based, from the end when negative, NULL out of range), with a computed index as
      ``CAST(NULLIF(i, 0) AS INT)`` (Spark refuses 0, and an index other than an INT).
    * ``sum`` of whole numbers, with ``wide_sums``: a HUGEINT in DuckDB, a BIGINT in Spark, whose ANSI mode stopped
      the run once a partial sum passed 64 bits (``sum`` of 2^63 - 1, 10 and -20: -11 stored by DuckDB). Summed as
      ``DECIMAL(38, 0)`` (a HUGEINT's digits), then cast back to a BIGINT, the type the rest of the Spark SQL
      expects, unless the sum is cast itself (``CAST(sum(x) AS DOUBLE)``: the whole sum, as in DuckDB) or computed
      with (``sum(a) - sum(b)``, ``sum(x) / 2`` as a DOUBLE, ``sum(x) > n``: as DuckDB computes with its HUGEINT;
      :func:`_wide_sum`); a sum of a value of a type sqlglot does not know as Spark's DECIMAL sum of it. A total
      beyond 64 bits no store holds: DuckDB's is refused when stored, Spark's stops at the cast back; both then
      advise ``CAST(sum(x) AS DOUBLE)`` (:func:`~fediscope.engine.spark_engine._raise_if_wide_sum`). Without
      ``wide_sums`` a plain BIGINT ``sum``, which the Spark engine runs again with them once it overflowed
      (:meth:`~fediscope.engine.spark_engine.SparkEngine._job`)."""
    kinds = exp.Div | exp.Mod | exp.Bracket | exp.Sum if wide_sums else exp.Div | exp.Mod | exp.Bracket
    marked = [node for node in statement.walk() if isinstance(node, kinds)]
    if not marked:
        return statement
    for number, node in enumerate(marked):
        node.meta[_MARK] = number
    typed = {node.meta[_MARK]: node for node in _typed(statement).walk() if _MARK in node.meta}
    # a node's descendants before it (the walk is breadth-first), so that what a node copies is already written
    for number, node in reversed(list(enumerate(marked))):
        node.meta.pop(_MARK)
        typed_node = typed.get(number)
        if isinstance(node, exp.Div):
            for side in ("this", "expression"):
                # a DECIMAL, or a wide sum computed with as a whole number (:func:`_wide_side`): a DOUBLE, as in DuckDB
                if typed_node is not None and (_number_kind(typed_node.args[side]) is _DECIMAL or (
                        wide_sums and _wide_side(node.args[side], typed_node.args[side]))):
                    node.set(side, exp.Cast(this=node.args[side], to=exp.DataType.build("DOUBLE")))
            divisor = typed_node.expression.type if typed_node is not None else None
            _by_zero(node, "Infinity", signed=not (divisor is not None and divisor.this in _EXACT_TYPES))
        elif isinstance(node, exp.Mod):
            if typed_node is not None and _number_kind(typed_node) is _DOUBLE:
                _by_zero(node, "NaN")
        elif typed_node is None:
            continue
        elif isinstance(node, exp.Sum):
            _wide_sum(node, typed_node)
        elif (len(node.expressions) == 1 and _sliced(node) is None
              and typed_node.this.type is not None and typed_node.this.type.is_type(exp.DataType.Type.MAP)):
            node.replace(_spark("TRY_ELEMENT_AT", node.this, _duckdb_index(node)))  # NULL for a missing key
        elif (len(node.expressions) == 1 and _sliced(node) is None and not isinstance(node.expressions[0], exp.Slice)
              and _is_list_value(typed_node.this)):
            index = _duckdb_index(node)
            if not (index.is_int and index.to_py() != 0):  # a whole number, negative or not
                index = exp.Cast(this=exp.Nullif(this=index, expression=exp.Literal.number(0)),
                                 to=exp.DataType.build("INT"))
            node.replace(_spark("TRY_ELEMENT_AT", node.this, index))
    return statement


def _wide_sum(node: exp.Sum, typed_node: exp.Sum) -> None:
    """``sum(x)`` of whole numbers (``typed_node``: ``node`` typed) summed as ``DECIMAL(38, 0)``, as DuckDB sums them
    to a HUGEINT (:func:`_spark_typed`), and cast back to a BIGINT, the type the rest of the Spark SQL expects (printf's
    ``%d`` takes no DECIMAL), but where DuckDB computes with its HUGEINT: a sum cast itself, divided (as a DOUBLE:
    :func:`_wide_side`), compared or ordered by, and whole-number arithmetic of it (``sum(a) - sum(b)``,
    :data:`_WHOLE_ARITHMETIC`, also through ``coalesce``: ``coalesce(sum(a), 0) - sum(b)``, a HUGEINT in DuckDB too)
    cast back as a whole, or not at all as a result column (DECIMAL, as DuckDB's HUGEINT: stored, or refused, as a
    BIGINT) or with another type (``sum(x) * 1.5``): so a result within 64 bits of a sum beyond them is DuckDB's
    (was: the cast back of the sum stopped the run; inside ``coalesce`` until it passed the sum on to arithmetic;
    ``coalesce(sum(x), 0)`` alone is still cast back inside it, as before). A sum of a value whose type
    sqlglot does not know (a column of a subquery over ``unnest``, say) is summed as ``x + CAST(0 AS DECIMAL(1,
    0))``: Spark's DECIMAL sum of whole numbers (``DECIMAL(31, 0)`` of a BIGINT: totals to 10^31), its sum of a DOUBLE
    as before, of a DECIMAL of its scale (only a ``DECIMAL(38, s)`` loses a digit of it; a wider constant would take
    the digits beyond 6 of a DECIMAL(38, 18)); not cast back, as its type is not known (was: not widened, the same
    overflow again)."""
    value = typed_node.this.expressions[0] if isinstance(typed_node.this, exp.Distinct) else typed_node.this
    if value is None:
        return
    untyped = _unknown(value.type)
    if not untyped and value.type.this not in _INTEGER_TYPES:
        return
    summed = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
    if untyped:
        zero = exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build("DECIMAL(1, 0)"))
        summed.replace(exp.Add(this=exp.Paren(this=summed.copy()), expression=zero))
        return
    summed.replace(exp.Cast(this=summed.copy(), to=exp.DataType.build("DECIMAL(38, 0)")))
    whole: exp.Expression = node  # with its FILTER and OVER: what stands for the sum
    typed_whole: exp.Expression = typed_node
    while isinstance(whole.parent, exp.Filter | exp.Window) and whole.arg_key == "this":
        whole, typed_whole = whole.parent, typed_whole.parent
    # up through the whole-number arithmetic it is in (sum(a) - sum(b)): DuckDB's HUGEINT, computed with whole;
    # and through coalesce (coalesce(sum(a), 0) - sum(b): a HUGEINT too), cast back below it unless computed with
    chained = False
    cast_back = whole  # where the cast back goes: not around a coalesce only passing the sum on
    while (isinstance(whole.parent, (*_WHOLE_ARITHMETIC, exp.Coalesce)) and typed_whole.parent is not None
           and (isinstance(whole.parent, exp.Paren) or _whole_typed(typed_whole.parent))):
        whole, typed_whole = whole.parent, typed_whole.parent
        if not isinstance(whole, exp.Coalesce):
            chained = chained or not isinstance(whole, exp.Paren)
            cast_back = whole
    outer = whole.parent
    if isinstance(outer, (exp.Cast, exp.TryCast, exp.Div, exp.Predicate, exp.Ordered, *_WHOLE_ARITHMETIC)):
        return  # cast, divided (as a DOUBLE: _wide_side), compared, ordered by, or computed with another type
    if chained and _projected(whole):
        return  # a result column (a DECIMAL as DuckDB's HUGEINT is: each stored, or refused, as a BIGINT)
    # wrapped as it is, not a copy: ``cast_back`` may hold another sum not yet written (``sum(a) - sum(b)``: the
    # walk writes ``sum(b)`` first), which would then be written in the node left out of the statement
    cast = exp.Cast(to=exp.DataType.build("BIGINT"))
    cast_back.replace(cast)
    cast.set("this", cast_back)


#: the whole-number arithmetic a wide sum (:func:`_wide_sum`) is computed in as a ``DECIMAL(38, 0)``, as DuckDB
#: computes in its HUGEINT
_WHOLE_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.IntDiv, exp.Neg, exp.Abs, exp.Paren)


def _whole_typed(typed: exp.Expression) -> bool:
    return typed.type is not None and typed.type.this in _INTEGER_TYPES


def _projected(node: exp.Expression) -> bool:
    """Whether ``node`` is a result column of the statement (not of a subquery's, whose columns the rest uses)."""
    column = node.parent if isinstance(node.parent, exp.Alias) else node
    select = column.parent
    return isinstance(select, exp.Select) and column.arg_key == "expressions" and select.parent is None


def _wide_side(side: exp.Expression, typed_side: exp.Expression) -> bool:
    """Whether a side of ``/`` holds a wide sum (:func:`_wide_sum`) and is a whole number (or not known to be anything
    else): cast to a DOUBLE, as DuckDB divides a HUGEINT (Spark's ``/`` of a ``DECIMAL(38, 0)`` is a DECIMAL rounded
    to 6 places; of a BIGINT, its DOUBLE, the same)."""
    kind = typed_side.type
    return side.find(exp.Sum) is not None and (_unknown(kind) or kind.this in _INTEGER_TYPES)


def _sliced(node: exp.Expression) -> tuple[exp.Expression, exp.Expression | None, exp.Expression | None] | None:
    """``node`` as a slice without a step (``l[a:b]``, ``list_slice(l, a, b)``, ``array_slice(l, a, b)``): what is
    sliced and its bounds (None for one left out, ``l[:b]``), or None when it is no such slice."""
    if (isinstance(node, exp.Bracket) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice)
            and node.expressions[0].args.get("step") is None):
        return node.this, node.expressions[0].this, node.expressions[0].expression
    if isinstance(node, exp.ArraySlice) and node.args.get("step") is None and not node.args.get("is_length"):
        return node.this, node.args.get("start"), node.args.get("end")
    if isinstance(node, exp.Anonymous) and node.name.upper() == "LIST_SLICE" and len(node.expressions) == 3:
        return node.expressions[0], node.expressions[1], node.expressions[2]
    return None


def _sliced_list(node: exp.Expression) -> bool:
    """Whether ``node`` (typed by :func:`_typed`), sliced, is a list: typed so (a map's keys or values too:
    :func:`_map_part_list`), or a list function's result. Anything else sqlglot does not type may be text
    (``json_extract_string``, ``regexp_extract``, ``printf``, ``replace``, …), which :func:`_spark_slices` would slice
    as a list."""
    return _is_list_value(node)


def _slice_step(node: exp.Expression) -> exp.Expression | None:
    """The step of a slice written with one (``l[a:b:s]``, ``list_slice(l, a, b, s)``), or None."""
    if isinstance(node, exp.Slice):
        return node.args.get("step")
    if isinstance(node, exp.ArraySlice):
        return node.args.get("step")
    if isinstance(node, exp.Anonymous) and node.name.upper() in {"LIST_SLICE", "ARRAY_SLICE"}:
        return node.expressions[3] if len(node.expressions) > 3 else None
    return None


def _substring_advice(text: exp.Expression, start: exp.Expression | None, end: exp.Expression | None) -> str:
    """The ``substring`` giving the slice ``text[start:end]`` (DuckDB SQL), for a start of 1 or more."""
    first = _text(start) if start is not None else "1"
    if end is None:
        return f"substring({_text(text)}, {first})"
    length = _text(end) if start is None else f"{_text(end)} - {first} + 1"
    return f"substring({_text(text)}, {first}, {length})"


def _spark_slices(node: exp.Expression) -> exp.Expression:
    """A list's slice (``l[a:b]``, ``list_slice(l, a, b)``, ``array_slice(l, a, b)``) as Spark's ``SLICE(l, start,
    length)`` with DuckDB's bounds: from 1, the end included, a negative bound counted from the end (-1 the last
    item), a start of 0 or before the first item the first, [] when the end comes before the start, NULL with a NULL
    bound. sqlglot wrote ``l[a:b]`` as it is, which Spark does not parse, and ``array_slice(l, a, b)`` as ``SLICE(l,
    a, b)``, whose third argument is a length. Whole numbers written as such are worked out here (``l[2:3]``:
    ``SLICE(l, 2, 2)``; Spark's ``SLICE`` stops at the end); others as ``CASE WHEN a IS NULL OR b IS NULL THEN NULL
    ELSE SLICE(l, GREATEST(IF(a < 0, SIZE(l) + a + 1, a), 1), GREATEST(<end> - <start> + 1, 0)) END`` (GREATEST skips a
    NULL, hence the guard). (A slice of text is refused by :func:`check_portable`, and so is a step.)"""
    sliced = _sliced(node)
    if sliced is None:
        return node
    items, start, end = sliced
    size = exp.ArraySize(this=items.copy())
    first = _slice_position(size, start, 1)
    last = _slice_position(size, end, None)
    if isinstance(first, exp.Literal) and isinstance(last, exp.Literal):  # l[2:3]: SLICE(l, 2, 2), [] past the end
        return _spark("SLICE", items, first, exp.Literal.number(max(int(last.this) - int(first.this) + 1, 0)))
    if isinstance(first, exp.Literal) and end is None:  # l[2:]: SLICE(l, 2, SIZE(l)), as long as l, or longer
        return _spark("SLICE", items, first, size)
    length = exp.Greatest(this=exp.Add(this=exp.Sub(this=last, expression=first.copy()),
                                       expression=exp.Literal.number(1)), expressions=[exp.Literal.number(0)])
    sliced_items = _spark("SLICE", items, _as_int(first), _as_int(length))
    computed = [bound for bound in (start, end) if bound is not None and _int_literal(bound) is None]
    if not computed:
        return sliced_items
    missing = exp.or_(*(exp.Is(this=bound.copy(), expression=exp.null()) for bound in computed))
    return exp.Case(ifs=[exp.If(this=missing, true=exp.null())], default=sliced_items)


def _as_int(value: exp.Expression) -> exp.Expression:
    return value if isinstance(value, exp.Literal) else exp.Cast(this=value, to=exp.DataType.build("INT"))


def _int_literal(node: exp.Expression | None) -> int | None:
    """``node``'s value when it is a whole number written as it is (``2``, ``-2``), or None."""
    if isinstance(node, exp.Neg):
        value = _int_literal(node.this)
        return -value if value is not None else None
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.this)
    return None


def _slice_position(size: exp.Expression, bound: exp.Expression | None, first: int | None) -> exp.Expression:
    """DuckDB's position of a slice's bound in a list of ``size`` items, counted from the end when negative (-1:
    ``size``); the start (``first`` 1) at least 1 (0, or before the first item: the first), and 1 when left out; the
    end (``first`` None) ``size`` when left out (past the end, Spark's ``SLICE`` stops at it)."""
    value = _int_literal(bound)
    if bound is None:
        return exp.Literal.number(first) if first is not None else size.copy()
    if value is not None and value >= 0:
        return exp.Literal.number(max(value, first or 0))
    from_end = exp.Add(this=exp.Add(this=size.copy(), expression=exp.paren(bound.copy(), copy=False)),
                       expression=exp.Literal.number(1))
    position = from_end if value is not None else exp.If(
        this=exp.LT(this=bound.copy(), expression=exp.Literal.number(0)), true=from_end, false=bound.copy())
    return exp.Greatest(this=position, expressions=[exp.Literal.number(first)]) if first is not None else position


def _spark_maps(node: exp.Expression) -> exp.Expression:
    """DuckDB's map literal ``MAP {k: v, …}`` as Spark's ``MAP(k, v, …)`` (sqlglot wrote ``MAP STRUCT(v AS k)``,
    which Spark does not parse), also with a value taken from it at once (``MAP {…}[k]``, which sqlglot parses as
    the struct's field), and ``map_contains(m, k)`` as Spark's ``MAP_CONTAINS_KEY``. (A map's value ``m[k]`` is
    ``TRY_ELEMENT_AT`` by :func:`_spark_typed`.)"""
    if isinstance(node, exp.Anonymous) and node.name.upper() == "MAP_CONTAINS" and len(node.expressions) == 2:
        return _spark("MAP_CONTAINS_KEY", *node.expressions)
    if not isinstance(node, exp.ToMap):
        return node
    struct, key = node.this, None
    if isinstance(struct, exp.Bracket) and len(struct.expressions) == 1:
        struct, key = struct.this, _duckdb_index(struct)
    if not isinstance(struct, exp.Struct):
        return node  # refused by check_portable
    pairs: list[exp.Expression] = []
    for entry in struct.expressions:
        if isinstance(entry, exp.PropertyEQ):
            entry_key = entry.this
            if isinstance(entry_key, exp.Identifier):  # MAP {a: 1}: DuckDB reads a bare name as a column
                entry_key = exp.column(entry_key)
            pairs += [entry_key, entry.expression]
        else:
            return node
    literal = _spark("MAP", *pairs)
    return literal if key is None else _spark("TRY_ELEMENT_AT", literal, key)


#: the number types without a negative 0 (whose text starts with ``-``)
_EXACT_TYPES = {*_INTEGER_TYPES, exp.DataType.Type.DECIMAL}


def _by_zero(node: exp.Div | exp.Mod, value: str, signed: bool = False) -> None:
    """Replace ``x / y`` (``x % y`` of a DOUBLE) by Spark SQL giving DuckDB's answer when ``y`` is 0, where Spark
    (ANSI mode) stops the run: ``CASE WHEN y = 0 THEN CAST(x AS DOUBLE) * v ELSE x / y END``, ``v`` infinity for
    ``/`` (DuckDB: ±inf, NaN for 0 / 0; -inf for 1 / -0.0, whose text starts with ``-``: checked when ``signed``,
    a divisor not known to be a whole number or a DECIMAL) and NaN for ``%``. A
    divisor that cannot be 0 (a number other than 0, ``nullif(y, 0)``) is left as it is. (``//``, and ``%`` of
    integers and DECIMALs, DuckDB stops at too.)"""
    divisor = node.expression
    while isinstance(divisor, exp.Paren):
        divisor = divisor.this
    if (isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.this) != 0) or (
            isinstance(divisor, exp.Nullif) and isinstance(divisor.expression, exp.Literal)
            and not divisor.expression.is_string and float(divisor.expression.this) == 0):
        return
    infinite: exp.Expression = exp.Cast(this=exp.Literal.string(value), to=exp.DataType.build("DOUBLE"))
    if signed:
        negative_zero = exp.Like(this=exp.Cast(this=node.expression.copy(), to=exp.DataType.build("STRING")),
                                 expression=exp.Literal.string("-%"))
        infinite = exp.If(this=negative_zero, true=exp.Neg(this=infinite.copy()), false=infinite)
    special = exp.Mul(this=exp.Cast(this=node.this.copy(), to=exp.DataType.build("DOUBLE")), expression=infinite)
    zero = exp.EQ(this=node.expression.copy(), expression=exp.Literal.number(0))
    node.replace(exp.Paren(this=exp.Case(ifs=[exp.If(this=zero, true=special)], default=node.copy())))


def _spark_list_concat(node: exp.Expression) -> exp.Expression:
    """``list_concat(a, b, …)`` with each list but a ``[…]`` as ``COALESCE(a, ARRAY())``: DuckDB skips a NULL list
    (``list_concat(NULL, NULL)`` is ``[]``), Spark's ``CONCAT`` is NULL with one. (``a || b`` is NULL with a NULL list
    in both.)"""
    if not isinstance(node, exp.ArrayConcat):
        return node
    for arg in [node.this, *node.expressions]:
        if not isinstance(arg, exp.Array):
            arg.replace(exp.Coalesce(this=arg.copy(), expressions=[exp.Array(expressions=[])]))
    return node


def _spark_lambda_positions(node: exp.Expression) -> exp.Expression:
    """A lambda's second parameter, its item's position, as DuckDB numbers it (from 1) in Spark's ``TRANSFORM`` and
    ``FILTER`` (from 0): ``list_filter(l, lambda x, i: i > 1)`` keeps the items after the first in DuckDB, after the
    second in Spark. Its uses in the body are written ``(i + 1)``."""
    if (isinstance(node, exp.Lambda) and isinstance(node.parent, _LAMBDA_FUNCTIONS) and node.arg_key == "expression"
            and len(node.expressions) == 2):
        position = node.expressions[1].name
        for ref in _parameter_refs(node):
            if ref.name == position:
                ref.replace(exp.Paren(this=exp.Add(this=ref.copy(), expression=exp.Literal.number(1))))
    return node


_POWER_52 = 4503599627370496  # 2 ** 52: a DOUBLE this large is a whole number


def _spark_fmod(node: exp.Expression) -> exp.Expression:
    """DuckDB's ``fmod(x, y)``, which Spark has not: a DOUBLE, ``x - y * floor(x / y)`` in DOUBLEs (the sign of ``y``:
    2.0 for -7 and 3, -2.0 for 7 and -3, where ``%`` gives -1 and 1; NaN for ``y`` 0; -inf for 1e300 and 3e-300).
    Written so in Spark with ``X``/``Y`` the arguments cast to DOUBLE, ``CASE WHEN Y = 0 THEN X * NaN ELSE X - Y *
    f(X / Y) END`` (NULL for a NULL ``X``; Spark stops at a division by 0), ``f(q)`` DuckDB's ``floor`` of a DOUBLE:
    ``CAST(FLOOR(q) AS DOUBLE)`` below 2 ** 52 and ``q`` beyond (a whole number, or infinite or NaN, where Spark's
    ``FLOOR``, a BIGINT, would stop at the largest BIGINT)."""
    if not (isinstance(node, exp.Anonymous) and node.name.upper() == "FMOD" and len(node.expressions) == 2):
        return node

    def double(value: exp.Expression) -> exp.Expression:
        return exp.Cast(this=value.copy(), to=exp.DataType.build("DOUBLE"))

    x, y = node.expressions
    quotient = exp.Div(this=double(x), expression=double(y))
    floored = exp.If(this=exp.LT(this=exp.Abs(this=quotient.copy()), expression=exp.Literal.number(_POWER_52)),
                     true=exp.Cast(this=exp.Floor(this=quotient.copy()), to=exp.DataType.build("DOUBLE")),
                     false=quotient)
    remainder = exp.Sub(this=double(x), expression=exp.Mul(this=double(y), expression=floored))
    nan = exp.Cast(this=exp.Literal.string("NaN"), to=exp.DataType.build("DOUBLE"))
    return exp.Paren(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=double(y), expression=exp.Literal.number(0)),
                                               true=exp.Mul(this=double(x), expression=nan))], default=remainder))


def _spark_null_concat(node: exp.Expression) -> exp.Expression:
    """``a || NULL`` (``NULL || a``) with a bare NULL as ``IF(FALSE, a, NULL)``: NULL in both, but Spark types the
    bare NULL as text, and refuses ``||`` of a list and text (``[1, 2] || NULL``: DATATYPE_MISMATCH); the ``IF`` is
    NULL of ``a``'s type, whatever it is."""
    if isinstance(node, exp.DPipe):
        sides = (node.this, node.expression)
        for side, other in (sides, sides[::-1]):
            if isinstance(side, exp.Null) and not isinstance(other, exp.Null):
                return exp.If(this=exp.false(), true=other, false=exp.null())
    return node


def _duckdb_index(node: exp.Bracket) -> exp.Expression:
    """The index of ``node`` as DuckDB numbers it (from 1): sqlglot's parser made one it types as an integer
    (``l[1]``, ``l[-1]``, ``l[CAST(i AS INT)]``) 0-based (0, -2, ``CAST(i AS INT) + -1``), and left one it cannot
    type (a column: ``l[i]``) as it is; its DuckDB generator undoes the one and not the other."""
    return _DUCKDB_GENERATOR.bracket_offset_expressions(node)[0]


_DUCKDB_GENERATOR = sqlglot.Dialect.get_or_raise("duckdb").generator()


def _is_list_value(node: exp.Expression) -> bool:
    """Whether ``node`` (typed by :func:`_typed`) is a list: typed so, or a list function's result."""
    while isinstance(node, exp.Paren):
        node = node.this
    return (node.type is not None and node.type.is_type(exp.DataType.Type.ARRAY)) or _is_list_expression(node)


def _spark_intersect_without_nulls(node: exp.Expression) -> exp.Expression:
    """``array_intersect(a, b)`` as ``ARRAY_COMPACT(ARRAY_INTERSECT(a, COALESCE(b, FILTER(a, i -> FALSE))))``:
    DuckDB drops the NULLs both lists hold, Spark keeps one (``[1, NULL]`` and ``[NULL, 1]``: ``[1]`` in DuckDB,
    ``[1, NULL]`` in Spark); and with ``b`` NULL DuckDB gives ``[]`` (with ``a`` NULL, NULL), Spark NULL. (Its items'
    order, none fixed in DuckDB, ``a``'s in Spark, is refused by :func:`check_portable` where it shows.)"""
    if not isinstance(node, exp.ArrayIntersect) or len(node.expressions) != 2:
        return node
    first, second = node.expressions
    if not isinstance(second, exp.Array):  # [a, b]: never NULL
        none = exp.ArrayFilter(this=first.copy(), expression=_lambda(lambda item: exp.false()))
        second = exp.Coalesce(this=second, expressions=[none])
    return exp.ArrayCompact(this=exp.ArrayIntersect(expressions=[first, second]))


def _spark_log10(node: exp.Expression) -> exp.Expression:
    """``log10(x)`` as Spark's ``LOG10``: sqlglot writes ``LOG(10, x)``, which Spark computes as ln(x) / ln(10),
    2.9999999999999996 for 1000 (so ``floor`` of it 2), where DuckDB and Spark's ``LOG10`` give 3."""
    if (isinstance(node, exp.Log) and node.expression is not None and isinstance(node.this, exp.Literal)
            and not node.this.is_string and node.this.this == "10"):
        return exp.Anonymous(this="LOG10", expressions=[node.expression])
    return node


def _spark_concat_text(node: exp.Expression) -> exp.Expression:
    """``concat(a, b, …)`` with each argument but a quoted text cast to text first: sqlglot writes ``CONCAT(COALESCE(a,
    ''), …)`` (DuckDB's concat skips a NULL), in which Spark makes a number and ``''`` one type, the number's: a
    DECIMAL becomes a DOUBLE (``3.50`` written ``3.5``, ``13576923.08`` ``1.357692308E7``), and a NULL number fails
    the run (``''`` is no BIGINT). Cast to text first, each is written as DuckDB writes it (``CAST(x AS VARCHAR)``)."""
    if not isinstance(node, exp.Concat):
        return node
    for arg in node.expressions:
        if not (isinstance(arg, exp.Literal) and arg.is_string) and not (
                isinstance(arg, exp.Cast) and arg.to.is_type(*exp.DataType.TEXT_TYPES)):
            arg.replace(exp.Cast(this=arg.copy(), to=exp.DataType.build("VARCHAR")))
    return node


def _spark_distinct_without_nulls(node: exp.Expression) -> exp.Expression:
    """``list_distinct(x)`` as Spark's ``ARRAY_COMPACT(ARRAY_DISTINCT(x))``: DuckDB drops the NULLs of the list,
    Spark's ``ARRAY_DISTINCT`` keeps one (``list_distinct([1, NULL, NULL])`` is ``[1]`` in DuckDB, ``[1, NULL]`` in
    Spark: ``array_length`` 1 and 2, ``unnest`` one row and two)."""
    if isinstance(node, exp.ArrayDistinct) and not isinstance(node.parent, exp.ArrayCompact):
        return exp.ArrayCompact(this=node)
    return node


def _spark_distinct_string_agg(node: exp.Expression) -> exp.Expression:
    """``string_agg(DISTINCT x, sep ORDER BY x)`` as Spark SQL that runs: sqlglot writes ``LISTAGG(DISTINCT x, sep)
    WITHIN GROUP (ORDER BY x)``, which Spark 4 fails with a ClassCastException (AttributeReference cannot be cast to
    SortOrder) once the query has another DISTINCT aggregate (``count(DISTINCT …)``, a second ``string_agg``).
    Written instead as the sorted set of the values joined, NULL when there is none, as DuckDB's ``string_agg``:
    ``IF(SIZE(COLLECT_SET(x)) = 0, NULL, ARRAY_JOIN(TRANSFORM(SORT_ARRAY(COLLECT_SET(x), asc), v -> CAST(v AS
    STRING)), sep))``. The values are sorted as they are (numbers as numbers) and cast to text afterwards, as DuckDB
    orders them before it joins them; a ``FILTER (WHERE …)`` goes to each ``COLLECT_SET``. This gives DuckDB's text
    for text, integers and DECIMALs, not for a DOUBLE: Spark writes another text of it (``2.0E20`` for ``2e+20``)
    and its ``COLLECT_SET`` keeps one of ``-0.0`` and ``0.0``, DuckDB's ``DISTINCT`` here both, so a DOUBLE is
    refused by :func:`check_portable` (a DOUBLE written as text) before it comes here."""
    where = None
    aggregate = node
    if isinstance(node, exp.Filter):
        where, aggregate = node.expression, node.this
    elif isinstance(node.parent, exp.Filter):
        return node  # rewritten with its filter, from the Filter node
    if not isinstance(aggregate, exp.GroupConcat) or isinstance(node.parent, exp.Window):
        return node  # Spark has no DISTINCT window aggregate: left for Spark to refuse
    order = aggregate.this
    if not (isinstance(order, exp.Order) and isinstance(order.this, exp.Distinct)
            and len(order.this.expressions) == 1 and len(order.expressions) == 1):
        return node
    value = order.this.expressions[0]
    ordered = order.expressions[0]
    if ordered.this != value:  # DuckDB refuses it (an ORDER BY of a DISTINCT aggregate must be its argument)
        return node
    separator = aggregate.args.get("separator") or exp.Literal.string(",")

    def distinct_values() -> exp.Expression:
        values = exp.Anonymous(this="COLLECT_SET", expressions=[value.copy()])
        return exp.Filter(this=values, expression=where.copy()) if where is not None else values

    item = exp.to_identifier("fediscope_item")
    sorted_values = exp.Anonymous(this="SORT_ARRAY", expressions=[
        distinct_values(), exp.false() if ordered.args.get("desc") else exp.true()])
    as_text = exp.Transform(this=sorted_values, expression=exp.Lambda(
        this=exp.Cast(this=exp.column(item), to=exp.DataType.build("STRING")), expressions=[item]))
    joined = exp.Anonymous(this="ARRAY_JOIN", expressions=[as_text, separator.copy()])
    empty = exp.EQ(this=exp.Anonymous(this="SIZE", expressions=[distinct_values()]), expression=exp.Literal.number(0))
    return exp.If(this=empty, true=exp.null(), false=joined)


def _spark(function: str, *args: exp.Expression) -> exp.Expression:
    """A call of Spark's ``function``, written as it is."""
    return exp.Anonymous(this=function, expressions=list(args))


def _size(items: exp.Expression) -> exp.Expression:
    return exp.ArraySize(this=items)


#: DuckDB list functions Spark has not (or has with another answer for NULL items, a missing item or an empty
#: list) → their Spark SQL giving DuckDB's answer, each checked on both engines (NULL items, a NULL searched for,
#: empty lists, a NULL list; ``tests/engine/test_own_metric_list_functions_spark.py``). DuckDB ignores the NULL
#: items where Spark answers NULL:
#:
#: * ``list_has_any(a, b)`` (``a && b``): false when the lists share no item other than NULL (Spark's
#:   ``ARRAYS_OVERLAP`` NULL when either holds one; sqlglot writes ``a && b``, which Spark does not parse);
#: * ``list_has_all(a, b)`` (``array_has_all``, ``a @> b``; ``b <@ a``): whether ``a`` holds every item of ``b``
#:   other than NULL (Spark has no such function);
#: * ``list_position(l, x)`` (``list_indexof``, ``array_position``): NULL when ``x`` is not an item (Spark's
#:   ``ARRAY_POSITION`` 0), the position of the first NULL item when ``x`` is NULL (Spark NULL);
#: * ``list_count(l)``: the number of items other than NULL; ``list_unique(l)``: of distinct ones.
_SPARK_LIST_FUNCTIONS = {
    "LIST_HAS_ANY": (2, lambda a, b: _spark("ARRAYS_OVERLAP", _without_nulls(a), _without_nulls(b))),
    "LIST_HAS_ALL": (2, lambda a, b: exp.EQ(this=_size(_spark("ARRAY_EXCEPT", _without_nulls(b), a)),
                                            expression=exp.Literal.number(0))),
    "LIST_POSITION": (2, lambda items, x: exp.Nullif(this=_spark("ARRAY_POSITION", exp.Transform(
        this=items, expression=_lambda(lambda item: exp.NullSafeEQ(this=item, expression=x))), exp.true()),
        expression=exp.Literal.number(0))),
    "LIST_COUNT": (1, lambda items: _size(_without_nulls(items))),
    "LIST_UNIQUE": (1, lambda items: _size(_spark("ARRAY_DISTINCT", _without_nulls(items)))),
}
#: the other names DuckDB has for them (sqlglot parses some into its own nodes: see :func:`_list_call`)
_LIST_FUNCTION_ALIASES = {"ARRAY_HAS_ANY": "LIST_HAS_ANY", "ARRAY_HAS_ALL": "LIST_HAS_ALL",
                          "LIST_INDEXOF": "LIST_POSITION", "ARRAY_INDEXOF": "LIST_POSITION",
                          "ARRAY_POSITION": "LIST_POSITION", "ARRAY_UNIQUE": "LIST_UNIQUE"}


def _list_call(node: exp.Expression) -> tuple[str, list[exp.Expression]] | None:
    """``node`` as a call of one of :data:`_SPARK_LIST_FUNCTIONS` with its arguments, or None when it is none."""
    if isinstance(node, exp.ArrayOverlaps):
        return "LIST_HAS_ANY", [node.this, node.expression]
    if isinstance(node, exp.ArrayContainsAll):
        return "LIST_HAS_ALL", [node.this, node.expression]
    if isinstance(node, exp.ArrayContainedBy):  # a <@ b: b holds every item of a
        return "LIST_HAS_ALL", [node.expression, node.this]
    if isinstance(node, exp.ArrayPosition):
        return "LIST_POSITION", [node.this, node.expression]
    if isinstance(node, exp.Anonymous):
        function = _LIST_FUNCTION_ALIASES.get(node.name.upper(), node.name.upper())
        if function in _SPARK_LIST_FUNCTIONS and len(node.expressions) == _SPARK_LIST_FUNCTIONS[function][0]:
            return function, list(node.expressions)
    return None


def _spark_list_functions(tree: exp.Expression, *rewrites: Callable[[exp.Expression], exp.Expression]
                          ) -> exp.Expression:
    """The calls of :data:`_SPARK_LIST_FUNCTIONS` written as their Spark SQL, and each node as ``rewrites`` write
    it (:func:`_spark_slices`, :func:`_spark_maps`), innermost first: a rewrite keeps its node's arguments as they
    are, already rewritten (a slice of a slice, a map literal's key looked up)."""
    for node in reversed(list(tree.walk(bfs=False))):  # a node's descendants before it
        call = _list_call(node)
        if call is not None:
            function, args = call
            node.replace(_SPARK_LIST_FUNCTIONS[function][1](*(arg.copy() for arg in args)))
            continue
        for rewrite in rewrites:
            written = rewrite(node)
            if written is not node:
                if node is tree:
                    tree = written
                node.replace(written)
                break
    return tree


def _spark_null_items(tree: exp.Expression) -> exp.Expression:
    """The list constructs that treat NULL items otherwise in Spark, written so that Spark gives DuckDB's answer
    (each checked on both engines), innermost first:

    * ``list(x)``/``array_agg(x)``: DuckDB keeps the rows' NULLs as items (``list(DISTINCT x)`` one NULL), Spark's
      ``COLLECT_LIST``/``COLLECT_SET`` drops them, and gives ``[]`` where DuckDB gives NULL (no row, or none its
      ``FILTER`` keeps). Written as ``IF(SIZE(c) = 0, NULL, TRANSFORM(c, i -> i.fediscope_value))`` with ``c`` the
      ``COLLECT_LIST`` (``COLLECT_SET``) of ``NAMED_STRUCT('fediscope_value', x)``: a struct holding a NULL is kept
      (one, by ``COLLECT_SET``). Its ``FILTER`` and window go with each ``c``.
    * ``flatten(l)``: DuckDB skips a NULL list of ``l``, Spark's ``FLATTEN`` gives NULL for all of ``l``; written
      ``FLATTEN(FILTER(l, i -> NOT i IS NULL))``.
    * ``array_to_string(l, sep)``: NULL in DuckDB when ``l`` has items and every one is NULL, ``''`` in Spark's
      ``ARRAY_JOIN``; written ``IF(SIZE(l) > 0 AND FORALL(l, i -> i IS NULL), NULL, ARRAY_JOIN(l, sep))``.
    * ``list_contains(l, v)``: false in DuckDB when ``l`` holds NULLs and not ``v``, NULL in Spark's
      ``ARRAY_CONTAINS``; written ``ARRAY_CONTAINS(FILTER(l, i -> NOT i IS NULL), v)``."""
    kinds = (exp.ArrayAgg, exp.Flatten, exp.ArrayToString, exp.ArrayContains)
    for node in reversed(list(tree.find_all(*kinds, bfs=False))):  # a node's descendants before it
        if isinstance(node, exp.ArrayAgg):
            _spark_list_keeping_nulls(node)
        elif isinstance(node, exp.Flatten | exp.ArrayContains):
            node.set("this", _without_nulls(node.this))
        elif isinstance(node, exp.ArrayToString):
            items = node.this
            every_null = exp.Anonymous(this="FORALL", expressions=[items.copy(), _lambda(
                lambda item: exp.Is(this=item, expression=exp.null()))])
            has_items = exp.GT(this=exp.Anonymous(this="SIZE", expressions=[items.copy()]),
                               expression=exp.Literal.number(0))
            node.replace(exp.If(this=exp.and_(has_items, every_null), true=exp.null(), false=node.copy()))
    return tree


#: DuckDB's quantile aggregates: ``median``, ``quantile_cont`` (sqlglot: PercentileCont), ``quantile``/``quantile_disc``
#: (Quantile, PercentileDisc), and ``percentile_cont``/``percentile_disc(q) WITHIN GROUP (ORDER BY x)``
_QUANTILES = (exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile, exp.WithinGroup)


def _quantile(node: exp.Expression) -> tuple[exp.Expression, exp.Expression, bool, bool] | None:
    """``node`` as one of :data:`_QUANTILES`: its value, its quantile, whether it is continuous (interpolated) and
    whether its order is descending; or None when it is none."""
    if isinstance(node, exp.Median):
        return node.this, exp.Literal.number("0.5"), True, False
    if isinstance(node, exp.WithinGroup):
        function, order = node.this, node.expression
        if (isinstance(function, exp.PercentileCont | exp.PercentileDisc) and function.args.get("expression") is None
                and isinstance(order, exp.Order) and len(order.expressions) == 1):
            key = order.expressions[0]
            value = key.this if isinstance(key, exp.Ordered) else key
            return value, function.this, isinstance(function, exp.PercentileCont), bool(key.args.get("desc"))
        return None
    if isinstance(node, exp.PercentileCont | exp.PercentileDisc) and node.args.get("expression") is not None:
        if isinstance(node.parent, exp.WithinGroup):
            return None
        return node.this, node.expression, isinstance(node, exp.PercentileCont), False
    if isinstance(node, exp.Quantile) and node.args.get("quantile") is not None:
        return node.this, node.args["quantile"], False, False
    return None


def _spark_quantiles(tree: exp.Expression) -> exp.Expression:
    """DuckDB's quantiles written as Spark SQL computing them as DuckDB does, innermost first. sqlglot wrote
    ``quantile(x, q)`` (DuckDB: discrete) as Spark's ``PERCENTILE`` (interpolated), ``percentile_cont``/
    ``percentile_disc(q) WITHIN GROUP (ORDER BY x DESC)`` as ``PERCENTILE_APPROX(x, q)`` (approximate, its order
    dropped), and ``quantile_cont``/``quantile_disc(x, q)`` as functions Spark refuses with two arguments; Spark
    interpolates ``median`` and ``PERCENTILE`` as ``(c - rn) * lo + (rn - f) * hi`` (``f``/``c`` the positions below
    and above ``rn``), DuckDB as ``lo * (1 - d) + hi * d`` with ``d = rn - f`` (14.299999999999999 where Spark gives
    14.3); and Spark's ``PERCENTILE_DISC`` is a DOUBLE (7.0 for DuckDB's 7) and refuses text. Written over ``s``, the
    values sorted (``SORT_ARRAY(COLLECT_LIST(x))``, with the aggregate's ``FILTER`` and window; NULLs left out as by
    both), and ``n`` its size:
    continuous, with ``rn = (n - 1) * q`` (a DOUBLE), ``lo``/``hi`` the values at ``floor(rn)``/``ceil(rn)`` (from 0),
    ``lo * (1.0 - d) + hi * d`` as DOUBLEs with ``d = rn - floor(rn)`` (``lo`` when ``rn`` is whole); discrete, the
    value at ``max(n - floor(n - n * q), 1)`` (from 1; ``q`` a DECIMAL computes exactly in both), of ``x``'s own
    type. The sorted values are bound once, as a lambda's parameter: ``ELEMENT_AT(TRANSFORM(ARRAY(s), s -> …), 1)``.
    (A DECIMAL interpolated, cut to its places in DuckDB, is refused by :func:`check_portable`; at a fraction other
    than 0, 0.5 and 1 the last digit may differ, DuckDB's ``lo * (1 - d) + hi * d`` a fused multiply-add, as the
    module docstring says of floating-point aggregates.)"""
    for node in reversed(list(tree.find_all(*_QUANTILES, bfs=False))):
        found = _quantile(node)
        if found is None:
            continue
        value, quantile, continuous, descending = found
        whole: exp.Expression = node
        if isinstance(whole.parent, exp.Filter):
            whole = whole.parent
        if isinstance(whole.parent, exp.Window):
            whole = whole.parent
        collect: exp.Expression = _spark("COLLECT_LIST", value.copy())
        if whole is not node:
            copy = whole.copy()
            aggregate = copy.this if isinstance(copy, exp.Window) else copy
            (aggregate if isinstance(aggregate, exp.Filter) else copy).set("this", collect)
            collect = copy
        ordered = _spark("SORT_ARRAY", collect, exp.false() if descending else exp.true())
        formula = _interpolated(quantile) if continuous else _discrete(quantile)
        written = _spark("ELEMENT_AT", exp.Transform(this=exp.Array(expressions=[ordered]), expression=exp.Lambda(
            this=formula, expressions=[exp.to_identifier(_SORTED)])), exp.Literal.number(1))
        if whole is tree:
            return written
        whole.replace(written)
    return tree


def _discrete_advice(value: exp.Expression, quantile: exp.Expression, continuous: bool, descending: bool) -> str:
    """The discrete quantile taking the value a refused interpolated one (``value`` at ``quantile``, as
    :func:`_quantile` gives them) comes nearest to, in its order: ``quantile_disc(x, q)``, or with the values in
    descending order ``percentile_disc(q) WITHIN GROUP (ORDER BY x DESC)``, which ``quantile_disc(x, 1 - q)`` is not
    (of 1, 2, 3 and 4 at 0.25: 4 descending, 3 for ``quantile_disc(x, 0.75)``: DuckDB takes the value at the
    ``ceil(n * q)``-th place of the order, so ``q`` and ``1 - q`` count from either end to different places)."""
    x, q = _text(value), _text(quantile)
    return f"percentile_disc({q}) WITHIN GROUP (ORDER BY {x} DESC)" if descending else f"quantile_disc({x}, {q})"


def _type_name(kind: exp.DataType) -> str:
    """``kind`` as DuckDB names it (``VARCHAR`` for text, which sqlglot writes ``TEXT``)."""
    return "VARCHAR" if kind.is_type(*exp.DataType.TEXT_TYPES) else kind.sql("duckdb")


def _a(name: str) -> str:
    """``name`` with its indefinite article: ``a DATE``, ``an INTERVAL``."""
    return f"{'an' if name[:1] in 'AEIOU' else 'a'} {name}"


_SORTED = "fediscope_sorted"
_POSITION = "fediscope_position"


def _interpolated(quantile: exp.Expression) -> exp.Expression:
    """DuckDB's continuous quantile ``quantile`` of the sorted values :data:`_SORTED` (see :func:`_spark_quantiles`)."""
    values, position = exp.column(_SORTED), exp.column(_POSITION)
    size = exp.ArraySize(this=values.copy())

    def at(bound: type[exp.Floor | exp.Ceil]) -> exp.Expression:
        index = exp.Add(this=exp.Cast(this=bound(this=position.copy()), to=exp.DataType.build("INT")),
                        expression=exp.Literal.number(1))
        return exp.Cast(this=_spark("ELEMENT_AT", values.copy(), index), to=exp.DataType.build("DOUBLE"))

    low = at(exp.Floor)
    fraction = exp.paren(exp.Sub(this=position.copy(), expression=exp.Floor(this=position.copy())), copy=False)
    interpolated = exp.Add(
        this=exp.Mul(this=low.copy(), expression=exp.paren(exp.Sub(
            this=exp.Literal.number("1.0"), expression=fraction.copy()), copy=False)),
        expression=exp.Mul(this=at(exp.Ceil), expression=fraction))
    whole = exp.EQ(this=exp.Floor(this=position.copy()), expression=exp.Ceil(this=position.copy()))
    body = exp.Case(ifs=[exp.If(this=whole, true=low)], default=interpolated)
    rank = exp.Mul(this=exp.Cast(this=exp.Sub(this=size.copy(), expression=exp.Literal.number(1)),
                                 to=exp.DataType.build("DOUBLE")),
                   expression=exp.Cast(this=quantile.copy(), to=exp.DataType.build("DOUBLE")))
    bound = _spark("ELEMENT_AT", exp.Transform(this=exp.Array(expressions=[rank]), expression=exp.Lambda(
        this=body, expressions=[exp.to_identifier(_POSITION)])), exp.Literal.number(1))
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=size, expression=exp.Literal.number(0)), true=exp.null())],
                    default=bound)


def _discrete(quantile: exp.Expression) -> exp.Expression:
    """DuckDB's discrete quantile ``quantile`` of the sorted values :data:`_SORTED` (see :func:`_spark_quantiles`)."""
    values = exp.column(_SORTED)
    size = exp.ArraySize(this=values.copy())
    floored = exp.Floor(this=exp.Sub(this=size.copy(), expression=exp.Mul(this=size.copy(),
                                                                          expression=quantile.copy())))
    index = exp.Greatest(this=exp.Sub(this=size, expression=floored), expressions=[exp.Literal.number(1)])
    return _spark("TRY_ELEMENT_AT", values, exp.Cast(this=index, to=exp.DataType.build("INT")))


_ITEM = "fediscope_item"
_VALUE = "fediscope_value"


def _lambda(body: object) -> exp.Lambda:
    """``fediscope_item -> body(fediscope_item)``."""
    item = exp.to_identifier(_ITEM)
    return exp.Lambda(this=body(exp.column(item)), expressions=[item])  # type: ignore[operator]


def _without_nulls(items: exp.Expression) -> exp.Expression:
    return exp.ArrayFilter(this=items, expression=_lambda(
        lambda item: exp.Not(this=exp.Is(this=item, expression=exp.null()))))


def _spark_list_keeping_nulls(node: exp.ArrayAgg) -> None:
    """Replace ``node`` (with its ``FILTER`` and window) by the Spark SQL of :func:`_spark_null_items`."""
    if isinstance(node.this, exp.Order):
        return  # refused by check_portable
    distinct, value = _aggregated(node)
    whole: exp.Expression = node
    if isinstance(whole.parent, exp.Filter):
        whole = whole.parent
    if isinstance(whole.parent, exp.Window):
        whole = whole.parent

    def collected() -> exp.Expression:
        wrapped = exp.Anonymous(this="NAMED_STRUCT", expressions=[exp.Literal.string(_VALUE), value.copy()])
        collect: exp.Expression = exp.Anonymous(this="COLLECT_SET" if distinct else "COLLECT_LIST",
                                                expressions=[wrapped])
        if whole is node:
            return collect
        copy = whole.copy()
        aggregate = copy.this if isinstance(copy, exp.Window) else copy
        if isinstance(aggregate, exp.Filter):
            aggregate.set("this", collect)
        else:
            copy.set("this", collect)
        return copy

    values = exp.Transform(this=collected(), expression=_lambda(
        lambda item: exp.Dot(this=item, expression=exp.to_identifier(_VALUE))))
    empty = exp.EQ(this=exp.Anonymous(this="SIZE", expressions=[collected()]), expression=exp.Literal.number(0))
    whole.replace(exp.If(this=empty, true=exp.null(), false=values))
