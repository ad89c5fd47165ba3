"""A curation regex ends its match at the very end of the text on every engine (``\\z``, never ``$``).

Java's ``$`` (Spark) also matches before a final line break, RE2's (DuckDB) does not: with ``'^[0-9]{1,11}$'``, an
activity week or trending-tag day sent as ``"1700000000\\n"`` was a day on Spark (whose cast trims the break) and no
day on DuckDB, so one raw record was curated on one engine only. The rules fingerprint hashes the regexes as spelt
before (``$``): DuckDB, whose text the rules are, reads them alike, so lakes curated before are not told to re-curate.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from engine_data import curation_patterns, settings_for

from fediscope.engine import curate_sql
from fediscope.engine.dialect import to_spark
from fediscope.engine.duckdb_engine import DuckDBEngine
from fediscope.privacy import STATUS_URI_PATTERN

#: (text, its curated day (``_day``), its home domain (``_home`` of an acct)): what every engine must give
CASES: list[tuple[str, date | None, str]] = [
    ("1700000000", date(2023, 11, 14), ""),
    ("1700000000\n", None, ""),  # Spark: 2023-11-14 with '$'
    ("1700000000\r\n", None, ""),  # Spark: 2023-11-14 with '$'
    ("1700000000\u2028", None, ""),
    ("\n1700000000", None, ""),
    ("2026-08-01", date(2026, 8, 1), ""),
    ("2026-08-01\n", None, ""),
    ("alice@example.social", None, "example.social"),
    ("alice@example.social\n", None, "example.social\n"),
    ("alice@example.social@\n", None, "\n"),
    ("alice@exam\nple.social", None, "exam\nple.social"),
]
TEXTS = [text for text, _, _ in CASES]
EXPECTED = [(day, home) for _, day, home in CASES]
SELECT = (f"SELECT i, {curate_sql._day('t')} AS day, regexp_extract(t, '{curate_sql._HOME_DOMAIN_RE}', 1) AS home "
          "FROM texts")


def _duckdb(tmp_path: Path, sql: str = SELECT) -> list[tuple[date | None, str]]:
    values = ", ".join(f"({i}, '{text}')" for i, text in enumerate(TEXTS))
    with DuckDBEngine(settings_for(tmp_path / "lake")) as engine:
        rows = engine.query(f"WITH texts AS (SELECT * FROM (VALUES {values}) AS v(i, t)) {sql} ORDER BY i")
        return [(row["day"], row["home"]) for row in rows]


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_every_engine_reads_a_day_and_a_home_domain_ending_in_a_line_break_alike(
        engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if engine == "duckdb":
        got = _duckdb(tmp_path)
    else:
        spark = request.getfixturevalue("spark")
        spark.createDataFrame(list(enumerate(TEXTS)), "i INT, t STRING").createOrReplaceTempView("texts")
        try:
            got = [(row["day"], row["home"]) for row in spark.sql(to_spark(f"{SELECT} ORDER BY i")).collect()]
        finally:
            spark.catalog.dropTempView("texts")
    wrong = [(text, expected, value) for text, expected, value in zip(TEXTS, EXPECTED, got, strict=True)
             if value != expected]
    assert not wrong, f"{engine} read these otherwise (text, expected, got): {wrong}"


def _ends_with_dollar(pattern: str) -> bool:
    """Whether ``pattern`` holds a ``$`` anchor: one not escaped and not inside a character class."""
    return "$" in re.sub(r"\[(?:\\.|[^\]\\])*\]", "", re.sub(r"\\.", "", pattern))


def test_no_curation_regex_ends_with_dollar() -> None:
    """Every regex of the curation SQL ends its match with ``\\z``, not ``$``. One exception: a status URI
    (:data:`~fediscope.privacy.STATUS_URI_PATTERN`, Python's too), whose match is compared with the whole URI."""
    patterns = curation_patterns()
    assert len(patterns) > 50 and any(r"\z" in pattern for _, pattern in patterns)
    dollar = sorted({(name, pattern) for name, pattern in patterns
                     if _ends_with_dollar(pattern) and pattern != STATUS_URI_PATTERN})
    assert not dollar, f"regexes anchored with $ (Java's also matches before a final line break): {dollar}"
    assert _ends_with_dollar(STATUS_URI_PATTERN) and not _ends_with_dollar(r"[$]\$\z")
    assert f"regexp_extract(uri, '{STATUS_URI_PATTERN}', 0) = uri" in curate_sql._origin_ref("uri")


def test_the_rules_fingerprint_hashes_the_regexes_as_spelt_before(tmp_path: Path) -> None:
    """The fingerprint hashes the statements with these regexes ending in ``$``, as they were written before: lakes
    curated before are not told to re-curate. DuckDB, whose text the rules are, reads both spellings alike."""
    hashed = curate_sql._rules_statements()
    for name in ("ACTIVITY_VERSIONS", "TREND_VERSIONS", "ACCOUNT_VERSIONS", "STATUS_RECORDS"):
        now = getattr(curate_sql, name)
        assert "'^[0-9]{1,11}\\z'" in now or "'@([^@]+)\\z'" in now, name
        assert "'^[0-9]{1,11}$'" in hashed[name] or "'@([^@]+)$'" in hashed[name], name
        assert "'^[0-9]{1,11}\\z'" not in hashed[name] and "'@([^@]+)\\z'" not in hashed[name], name
    assert hashed["ACTIVITY_VERSIONS"] == curate_sql.ACTIVITY_VERSIONS.replace(r"'^[0-9]{1,11}\z'",
                                                                               "'^[0-9]{1,11}$'")
    before = SELECT
    for now, spelt in curate_sql._RULES_SPELT_BEFORE.items():
        if not now.endswith(r"\z"):
            continue  # the anchor's spaces: test_regex_class_parity
        assert f"'{now}'" in before
        before = before.replace(f"'{now}'", f"'{spelt}'")
    assert _duckdb(tmp_path, before) == _duckdb(tmp_path, SELECT) == EXPECTED
