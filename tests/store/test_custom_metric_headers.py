"""Users' own metrics: SQL files in a metrics directory of their own, whose headers name a text rank column or a
prefix column. Each metric is run by DuckDB, stored in SQLite, MariaDB and the HBase double side by side, and
must read back the same from all three (the project's rule), or be refused when its file is read."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from fediscope.engine.metric_state import without_unstorable_keys
from fediscope.engine.metrics import SQL_DIR, load_metrics
from fediscope.errors import ConfigError, StoreError
from fediscope.store.port import MetricStore, open_store
from fediscope.store.schema import MAX_KEY_TEXT

pytestmark = pytest.mark.mariadb

#: names in code-point order (the order of SQLite's BINARY, MariaDB's utf8mb4_nopad_bin and HBase's row keys):
#: capitals before small letters, "a" before "a " before "ab", accents and emoji after ASCII; ties and NULLs
NAMES = ["Zoë", "a", "ab", "a ", "b", "é", "🐘 mastodon", "a", None, "", "x" * MAX_KEY_TEXT, None, "Ä"]
VALUES = ", ".join(f"({i}, {'NULL' if n is None else repr(n)})" for i, n in enumerate(NAMES, start=1))


def write_metric(directory: Path, name: str, header: str, sql: str | None = None) -> Path:
    path = directory / f"{name}.sql"
    path.write_text(f"-- question: Who is called what?\n{header}\n"
                    + (sql or f"SELECT id, name, length(name) AS letters FROM (VALUES {VALUES}) AS t(id, name)\n"))
    return path


def run(metric) -> list[dict]:  # noqa: ANN001
    result = duckdb.sql(metric.sql)
    return [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]


def expected_top(rows: list[dict], rank: str, descending: bool, key: tuple[str, ...]) -> list[tuple]:
    """Top order written out in Python: rank values in their direction (code points), NULL last, ties by key."""
    by_key = sorted(rows, key=lambda r: tuple(r[k] for k in key))
    present = sorted((r for r in by_key if r[rank] is not None), key=lambda r: r[rank], reverse=descending)
    return [tuple(r[k] for k in key) for r in present + [r for r in by_key if r[rank] is None]]


@pytest.fixture
def stores(tmp_path: Path, mariadb_url: str, hbase_double) -> Iterator[dict[str, MetricStore]]:  # noqa: ANN001
    opened = {"sqlite": open_store(f"sqlite:///{tmp_path / 'metrics.db'}"),
              "mariadb": open_store(mariadb_url),
              "hbase": open_store(hbase_double.url, table_prefix=f"t{uuid.uuid4().hex[:10]}")}
    try:
        yield opened
    finally:
        for store in opened.values():
            store.close()


def pages(store: MetricStore, metric, size: int) -> list[dict]:  # noqa: ANN001
    """Every row in top order, read ``size`` at a time as the results API pages (after the last row read)."""
    rows: list[dict] = []
    while True:
        page = store.top(metric, size, after=rows[-1] if rows else None)
        rows += page
        if len(page) < size:
            return rows


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_a_text_rank_column_outside_the_key_ranks_alike_on_every_store(tmp_path, stores, direction):
    """Was: on MariaDB every run failed to index the table ("Specified key was too long; max key length is 3072
    bytes"): the rank index was the text rank column, LONGTEXT, with the key."""
    write_metric(tmp_path, "named", f"-- key: id\n-- rank: name {direction}")
    metric = load_metrics.__wrapped__(tmp_path)["named"]
    rows = run(metric)
    want = expected_top(rows, "name", direction == "DESC", ("id",))
    for kind, store in stores.items():
        assert store.write(metric, rows) == len(NAMES), kind
        assert [(r["id"],) for r in store.top(metric, len(NAMES) + 1)] == want, kind
        assert [(r["id"],) for r in store.top(metric, 4)] == want[:4], kind
        assert [(r["id"],) for r in pages(store, metric, 3)] == want, kind
        assert store.all(metric) == sorted(rows, key=lambda r: r["id"]), kind
    # a later run that changes the rank values moves the rows alike
    moved = [dict(r, name=None if r["name"] == "b" else "b") if r["id"] in (2, 5) else r for r in rows]
    want = expected_top(moved, "name", direction == "DESC", ("id",))
    answers = {}
    for kind, store in stores.items():
        store.write(metric, moved)
        answers[kind] = store.top(metric, len(NAMES))
        assert [(r["id"],) for r in answers[kind]] == want, kind
    assert answers["sqlite"] == answers["mariadb"] == answers["hbase"]


def test_a_text_rank_column_that_is_a_key_column_ranks_alike_on_every_store(tmp_path, stores):
    """Was: on MariaDB every run failed to index the table ("Duplicate column name 'name'"): the rank index named
    the rank column, then every key column, that one again."""
    write_metric(tmp_path, "by_name", "-- key: day, name\n-- rank: name DESC",
                 "SELECT day, name, count(*) AS n FROM (VALUES ('2026-12-01', 'b'), ('2026-12-01', 'a'), "
                 "('2026-12-02', 'b'), ('2026-12-02', 'Ä'), ('2026-12-02', 'c')) AS t(day, name) GROUP BY ALL\n")
    metric = load_metrics.__wrapped__(tmp_path)["by_name"]
    rows = run(metric)
    want = expected_top(rows, "name", True, ("day", "name"))
    assert want[0] == ("2026-12-02", "Ä")
    answers = {}
    for kind, store in stores.items():
        store.write(metric, rows)
        answers[kind] = store.top(metric, 10)
        assert [(r["day"], r["name"]) for r in answers[kind]] == want, kind
        assert [(r["day"], r["name"]) for r in pages(store, metric, 2)] == want, kind
    assert answers["sqlite"] == answers["mariadb"] == answers["hbase"]


def test_a_text_rank_value_longer_than_a_key_may_be_is_refused_by_every_store(tmp_path, stores):
    """HBase keeps a rank value in its rank index's row keys (32767 bytes at most): a text rank value is limited as
    a text key is, by every store alike, and left out of a computed result as such a key is."""
    write_metric(tmp_path, "named", "-- key: id\n-- rank: name ASC")
    metric = load_metrics.__wrapped__(tmp_path)["named"]
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "x" * (MAX_KEY_TEXT + 1)}]
    for kind, store in stores.items():
        with pytest.raises(StoreError, match=rf"metric named: rank column 'name' has a value of {MAX_KEY_TEXT + 1} "
                                             rf"characters; text rank values are limited to {MAX_KEY_TEXT}"):
            store.write(metric, rows)
        assert store.stored_metrics() == {}, kind
    kept = without_unstorable_keys("named", pa.Table.from_pylist(rows), metric.key, metric.rank_column)
    assert kept.to_pylist() == rows[:1]


def test_a_prefix_column_outside_the_key_is_refused_when_the_metric_is_read(tmp_path):
    """Was: nothing checked '-- prefix:' against the key: a column missing from the result failed every store's
    write with a bare KeyError, and a text one outside the key made the stores' layouts (HBase's row keys start
    with the prefix column) and the documented reads ("one prefix value's rows in key order") not hold."""
    write_metric(tmp_path, "fine", "-- key: id, name\n-- prefix: name")
    assert load_metrics.__wrapped__(tmp_path)["fine"].prefix == "name"
    path = write_metric(tmp_path, "outside", "-- key: id\n-- rank: letters DESC\n-- prefix: name")
    message = (f"metric outside ({path}): '-- prefix: name' is not a key column; the prefix column must be one of "
               "'-- key: id'")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_metrics.__wrapped__(tmp_path)
    path.write_text(path.read_text().replace("-- prefix: name", "-- prefix: nowhere"))
    with pytest.raises(ConfigError, match=re.escape(f"({path}): '-- prefix: nowhere' is not a key column")):
        load_metrics.__wrapped__(tmp_path)


def test_every_shipped_metric_has_its_prefix_and_rank_in_reach_of_every_store():
    metrics = load_metrics.__wrapped__(SQL_DIR)
    assert metrics
    for name, metric in metrics.items():
        assert metric.prefix in metric.key, name
