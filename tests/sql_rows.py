"""One query's rows on either engine, for the tests that run a DuckDB statement on DuckDB and, translated with
:func:`~fediscope.engine.dialect.to_spark`, on Spark, and require the same rows."""

from __future__ import annotations

import duckdb
import pytest

from fediscope.engine.dialect import to_spark

#: the engines such a test is parametrized over (Spark marked, so that ``-m "not spark"`` runs DuckDB's half)
ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


def rows_on(engine: str, sql: str, request: pytest.FixtureRequest) -> list[tuple]:
    """``sql``'s rows as tuples: run by DuckDB in-process, or translated and run by the tests' Spark session."""
    if engine == "duckdb":
        return duckdb.sql(sql).fetchall()
    return [tuple(row) for row in request.getfixturevalue("spark").sql(to_spark(sql)).collect()]
