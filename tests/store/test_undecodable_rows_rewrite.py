"""A full write (``replace``) of a metric whose stored rows this version cannot decode (a column of the catalog
missing from its table, a value its column's type cannot hold: changed by hand, or as when another fediscope version
stored it) replaces the table with the result, where it failed reading the rows it was to replace: ``no such column``,
or a raw ``ValueError`` for text in an integer key. Both the comparing write and the rebuilding one (a column the
result no longer has)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_header import metric
from sqlalchemy import create_engine, text

from fediscope.errors import StoreSchemaError
from fediscope.store.base import BaseStore
from fediscope.store.port import mysql_url, open_store
from fediscope.store.sqlite import sqlite_file

HOURLY = metric("hourly", "weekday, hour", rank="toots DESC")
ROWS = [{"weekday": d, "hour": h, "toots": 10 * d + h, "label": f"{d}-{h}"} for d in range(2) for h in range(3)]
TYPES = {"weekday": "int", "hour": "int", "toots": "int", "label": "str"}
#: the damage, and which stores can hold it (MariaDB refuses text in a BIGINT)
DAMAGE = {
    "column-missing": ("ALTER TABLE metric_hourly DROP COLUMN label", ("sqlite", "mariadb")),
    "text-in-an-integer-key": ("UPDATE metric_hourly SET hour = 'noon' WHERE weekday = 1 AND hour = 2", ("sqlite",)),
}
CASES = [pytest.param(kind, damage, id=f"{kind}-{damage}", marks=[pytest.mark.mariadb] if kind == "mariadb" else [])
         for damage, (_, kinds) in DAMAGE.items() for kind in kinds]


@pytest.fixture
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "mariadb":
        return request.getfixturevalue("mariadb_url")
    return f"sqlite:///{tmp_path / 'metrics.db'}"


@pytest.fixture
def damaged(url: str, damage: str) -> Iterator[BaseStore]:
    """The store holding ROWS, then changed by hand as ``damage`` says."""
    store = open_store(url)
    store.write(HOURLY, ROWS, types=TYPES, exact_types=True)
    path = sqlite_file(url)
    engine = create_engine(f"sqlite:///{path}" if path else mysql_url(url))
    with engine.begin() as connection:
        connection.execute(text(DAMAGE[damage][0]))
    engine.dispose()
    with pytest.raises((ValueError, StoreSchemaError)):  # not what this version reads
        store.all(HOURLY)
    yield store
    store.close()


@pytest.mark.parametrize(("url", "damage"), CASES, indirect=["url"])
def test_a_full_write_replaces_rows_it_cannot_decode(damaged: BaseStore) -> None:
    rows = [{**row, "toots": row["toots"] + 1} for row in ROWS[1:]]  # one row fewer, the others changed
    counts = damaged.write_counted(HOURLY, rows, types=TYPES, exact_types=True)
    assert (counts.rows, counts.changed) == (len(rows), len(rows))
    assert damaged.top(HOURLY, 100) == sorted(rows, key=lambda r: (-r["toots"], r["weekday"], r["hour"]))
    assert damaged.column_types("hourly") == TYPES
    assert damaged.stored_metrics() == {"hourly": len(rows)}
    # and written whole: the next write of the same rows changes nothing
    assert damaged.write_counted(HOURLY, rows, types=TYPES, exact_types=True).changed == 0


@pytest.mark.parametrize(("url", "damage"), CASES, indirect=["url"])
def test_a_rebuilding_write_replaces_rows_it_cannot_decode(damaged: BaseStore) -> None:
    """The result lacks a stored column (``label``): the table is rebuilt, after a read of the rows it had, only to
    count the ones gone."""
    rows = [{k: v for k, v in row.items() if k != "label"} for row in ROWS]
    types = {k: v for k, v in TYPES.items() if k != "label"}
    counts = damaged.write_counted(HOURLY, rows, types=types, exact_types=True)
    assert (counts.rows, counts.changed) == (len(rows), len(rows))
    assert damaged.top(HOURLY, 100) == sorted(rows, key=lambda r: (-r["toots"], r["weekday"], r["hour"]))
    assert damaged.column_types("hourly") == types
