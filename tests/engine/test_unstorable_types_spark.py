"""An own metric whose result has a column of a type no store holds (a list, map, struct, bytes, interval) is
refused by ``fediscope process`` on Spark as on DuckDB: the same :class:`MetricFileError` (exit 2) naming the file,
the column and the conversion, before anything is stored. Spark's own column types are checked, not the rows it
collects: those gave a struct, map, binary or day-time interval as Python's text of the value (``{'n': 40}``,
``b'en'``, ``1 day, 0:00:00``), stored without a word, and a year-month interval a pyspark traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings

from fediscope.config import Settings
from fediscope.engine.metrics import SQL_DIR, read_metric
from fediscope.engine.process import run_process
from fediscope.errors import MetricFileError

KEY = "unstorable-types-spark-test-pseudonym-key"
LISTS = ("lists", "join them into text in the metric's SQL (array_to_string(seen, ', '), or string_agg(x, ', ' "
                  "ORDER BY x) instead of list(x)), or unnest them into rows")
INTERVALS = ("intervals", "give it as a number in the metric's SQL; for b - a between two timestamps, e.g. "
                          "date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) * 86400 + (hour(b) - hour(a)) * 3600 "
                          "+ (minute(b) - minute(a)) * 60 + second(b) - second(a) for seconds (between their whole "
                          "seconds) or date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) for days (midnights "
                          "crossed)")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A lake holding a small generated corpus, curated once (by DuckDB, in a second: the curated tables are the
    same for both engines), so that the cases' runs have nothing to curate."""
    yield curated_generated_lake(tmp_path_factory.mktemp("unstorable") / "lake", KEY)


def _settings(lake: Path, store: Path) -> Settings:
    return own_metric_settings(lake, store, KEY)


@pytest.mark.spark
@pytest.mark.parametrize(("value", "holds", "fix"), [
    ("list(language)", *LISTS),  # Spark's collect_list
    ("map([any_value(language)], [count(*)])", *LISTS),  # was: stored as "{'en': 40}"
    ("{'n': count(*)}", "structs", "give it as text in the metric's SQL: to_json(seen), or select its fields as "
                                   "columns of their own (seen.field AS field)"),  # was: "{'n': 40}"
    ("any_value(language)::BLOB", "bytes (a BLOB)", "give it as text in the metric's SQL: hex(seen), or "
                                                    "seen::VARCHAR for a BIT"),  # was: "b'en'"
    ("max(created_at) - min(created_at)", *INTERVALS),  # a day-time interval; was: "0:41:00"
    ("INTERVAL 1 MONTH", *INTERVALS),  # a year-month interval; was: PySparkNotImplementedError (a traceback)
], ids=["list", "map", "struct", "blob", "day-time-interval", "year-month-interval"])
def test_spark_refuses_the_column_types_duckdb_refuses_with_the_same_error_storing_nothing(
        lake: Path, spark, tmp_path: Path, value: str, holds: str, fix: str) -> None:  # noqa: ANN001 - lazy pyspark
    (tmp_path / "mine").mkdir()
    path = tmp_path / "mine" / "typed.sql"
    path.write_text(f"-- question: Which?\n-- key: k\nSELECT 'a' AS k, {value} AS seen FROM statuses GROUP BY 1\n")
    metrics = {"languages": read_metric(SQL_DIR / "languages.sql"), "typed": read_metric(path)}
    expected = (f"metric typed ({path}): column 'seen' holds {holds}, which no store holds (a value is a number, "
                f"text, a boolean or NULL); {fix}")
    for engine, options in (("duckdb", {}), ("spark", {"spark": spark})):
        store = tmp_path / f"{engine}.db"
        with pytest.raises(MetricFileError) as refused:
            run_process(_settings(lake, store), engine=engine, metrics=metrics, engine_options=options,
                        progress=False)
        assert str(refused.value) == expected, engine
        if store.exists():  # nothing written, not even the built-in metric computed before this one
            with closing(sqlite3.connect(store)) as db:
                assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'metric_%'").fetchall() == [], engine
