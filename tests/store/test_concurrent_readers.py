"""What a reader of the SQL stores (a BI tool, the results API) sees while ``fediscope process`` writes a metric: the
table with its old rows or with all its new rows, never no table, an empty one or a part of the rows.

A second connection reads the metric's table after every statement the writer sends, on a real SQLite file (in WAL
mode, as the writer runs it) and on a real MariaDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from fediscope.engine.metrics import Metric, parse_metric
from fediscope.store.port import open_store

MISSING = "no table"


def metric(header: str) -> Metric:
    return parse_metric("top", f"-- question: Who leads?\n{header}\nSELECT 1")


RANKED_BY_FOLLOWERS = metric("-- key: account\n-- rank: followers")
RANKED_BY_RATE = metric("-- key: account\n-- rank: rate")  # another rank: the table is rebuilt
KEYED_BY_TWO = metric("-- key: account, instance\n-- rank: followers")  # another key: rebuilt
OLD = [{"account": f"a{i}", "instance": "x.example", "followers": i, "rate": i / 10} for i in range(5)]
NEW = [{"account": f"a{i}", "instance": "y.example", "followers": 10 * i, "rate": 1 - i / 10} for i in range(1, 8)]


def snapshot(conn: Any) -> Any:
    """What a reader sees of ``metric_top``: its rows as sorted tuples of (column, value) pairs, or MISSING."""
    try:
        result = conn.execute(text("SELECT * FROM metric_top"))
    except SQLAlchemyError:
        return MISSING
    return sorted(tuple(sorted(row._mapping.items())) for row in result)


def as_rows(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    return sorted(tuple(sorted(row.items())) for row in rows)


@contextmanager
def watched(store: Any, reader_url: str) -> Iterator[list[Any]]:
    """What a separate reader connection sees after each statement the store's writer sends (autocommit: each
    read sees what is committed at that moment)."""
    reader = create_engine(reader_url, isolation_level="AUTOCOMMIT")
    seen: list[Any] = []
    with reader.connect() as conn:
        def look(*_: Any) -> None:
            seen.append(snapshot(conn))

        event.listen(store._engine, "after_cursor_execute", look)
        try:
            yield seen
        finally:
            event.remove(store._engine, "after_cursor_execute", look)
    reader.dispose()


def check_readers_see_old_or_new(url: str, reader_url: str, first: Callable[[Any], None],
                                 then: Callable[[Any], None], before: Any, after: Any) -> None:
    store = open_store(url)
    try:
        first(store)
        with watched(store, reader_url) as seen:
            then(store)
        assert seen, "the reader looked at nothing"
        assert snapshot_now(reader_url) == after
        assert [s for s in seen if s not in (before, after)] == []
    finally:
        store.close()


def snapshot_now(reader_url: str) -> Any:
    engine = create_engine(reader_url)
    with engine.connect() as conn:
        found = snapshot(conn)
    engine.dispose()
    return found


NEW_WITHOUT_INSTANCE = [{k: v for k, v in r.items() if k != "instance"} for r in NEW]
TYPES = {"account": "str", "followers": "int", "rate": "float"}  # as `fediscope process` gives them


def holds(rows: list[dict[str, Any]], written: Metric = RANKED_BY_FOLLOWERS) -> Callable[[Any], None]:
    return lambda store: store.write(written, rows)


CASES = {
    # (what the store holds first, the write watched, what a reader sees before it, and after it)
    "first write": (lambda store: None, holds(NEW), MISSING, as_rows(NEW)),
    "rows change": (holds(OLD), holds(NEW), as_rows(OLD), as_rows(NEW)),
    "rank changes": (holds(OLD), holds(NEW, RANKED_BY_RATE), as_rows(OLD), as_rows(NEW)),
    "key changes": (holds(OLD), holds(NEW, KEYED_BY_TWO), as_rows(OLD), as_rows(NEW)),
    "a column widens": (holds([dict(r, flag=True) for r in OLD]), holds([dict(r, flag=2.5) for r in OLD]),
                        as_rows([dict(r, flag=1) for r in OLD]), as_rows([dict(r, flag=2.5) for r in OLD])),
    "a column goes": (holds(OLD), lambda store: store.write(RANKED_BY_FOLLOWERS, NEW_WITHOUT_INSTANCE, types=TYPES),
                      as_rows(OLD), as_rows(NEW_WITHOUT_INSTANCE)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_sqlite_reader_sees_the_old_or_the_new_table_never_none_or_part(tmp_path, case):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    check_readers_see_old_or_new(url, url, *CASES[case])


@pytest.mark.mariadb
@pytest.mark.parametrize("case", list(CASES))
def test_a_mariadb_reader_sees_the_old_or_the_new_table_never_none_or_part(mariadb_url, case):
    check_readers_see_old_or_new(mariadb_url, mariadb_url, *CASES[case])
