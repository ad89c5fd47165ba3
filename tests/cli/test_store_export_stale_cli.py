"""``fediscope store export`` of a metric whose stored rows this fediscope version does not read (a value its column's
type cannot hold, a column missing from its table: as when another version stored it). Was: the store's decoding
``ValueError`` as a traceback (a column missing: the store's own error, saying nothing of what to do). Now one line,
exit 1, worded as ``fs.metric_rows`` and the results API's 409 ``stale_metric`` word it; ``--out`` keeps the file it
names as it was. On SQLite and on HBase (the Thrift double), whose rows are decoded apart."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import happybase
import pytest
from cli_run import clean_env, run

from fediscope import analysis
from fediscope.engine.metrics import parse_metric
from fediscope.store.port import open_store
from fediscope.store.rowkeys import encode_key

#: a metric of one's own ranked by uses (read by the key and rank the store recorded); ``d`` is last in rank order,
#: on the third page of 3 rows, and one of the three rows of the day 2024-01-02
ROWS = [{"tag": tag, "day": day, "uses": uses, "mean": mean}
        for tag, day, uses, mean in [("a", "2024-01-01", 5, 0.5), ("b", "2024-01-01", 9, 1.25),
                                     ("c", "2024-01-02", 5, None), ("d", "2024-01-02", None, 2.0),
                                     ("e", "2024-01-03", 1, 0.004), ("f", "2024-01-02", 8, 3.0),
                                     ("g", "2024-01-04", 2, 7.5)]]
DAY_USES = parse_metric("day_uses", "-- question: q?\n-- key: day, tag\n-- rank: uses DESC\nSELECT 1")


def stale(reason: str) -> str:
    return (f"fediscope: error: metric day_uses in the store does not have what this fediscope version reads "
            f"({reason}), as when another fediscope version stored it; re-run `fediscope process` with this version "
            "to store it again\n")


@pytest.fixture(params=["sqlite", "hbase"])
def tampered(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``day_uses`` stored, then its row ``d``'s ``mean`` (a float column) set to the text ``lots`` behind the store's
    back; the CLI pointed at the store, pages of 3 rows. Yields the store's kind."""
    kind = request.param
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        url, extra = f"sqlite:///{tmp_path / 'metrics.db'}", {}
    else:
        url, extra = request.getfixturevalue("hbase_double").url, {"FEDISCOPE_HBASE_TABLE_PREFIX": prefix}
    store = open_store(url, table_prefix=prefix) if extra else open_store(url)
    try:
        store.write(DAY_USES, ROWS)
    finally:
        store.close()
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(tmp_path / "metrics.db")) as conn, conn:
            conn.execute("UPDATE metric_day_uses SET mean = 'lots' WHERE tag = 'd'")
    else:
        port = request.getfixturevalue("hbase_double").port
        connection = happybase.Connection("127.0.0.1", port, table_prefix=prefix, table_prefix_separator=b"")
        try:
            connection.table("_day_uses").put(encode_key(["2024-01-02", "d"], ["str", "str"]), {b"m:mean": b'"lots"'})
        finally:
            connection.close()
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=url, **extra)
    monkeypatch.setattr(analysis, "PAGE_ROWS", 3)
    yield kind


@pytest.mark.parametrize("args", [[], ["--format", "jsonl"], ["--prefix", "2024-01-02"],
                                  ["--prefix", "2024-01-02", "--format", "jsonl"]],
                         ids=["csv", "jsonl", "prefix-csv", "prefix-jsonl"])
def test_a_value_its_column_cannot_hold_is_one_line_saying_to_store_it_again(tampered, capsys, args) -> None:  # noqa: ANN001
    code, out, err = run(capsys, "store", "export", "day_uses", *args)
    assert code == 1
    assert err == stale("could not convert string to float: 'lots'")
    assert '"tag":"d"' not in out and "\r\nd," not in out  # the rows before it may be out: stdout is no file


def test_out_keeps_the_file_it_names_when_a_later_page_holds_such_a_value(tampered, capsys, tmp_path) -> None:  # noqa: ANN001
    """Row ``d`` is on the third page: two pages were written to the temporary file before its read failed."""
    kept = tmp_path / "day_uses.csv"
    kept.write_text("an earlier export\n")
    for fmt in ("csv", "jsonl"):
        code, out, err = run(capsys, "store", "export", "day_uses", "--format", fmt, "--out", str(kept))
        assert (code, out, err) == (1, "", stale("could not convert string to float: 'lots'"))
        assert kept.read_text() == "an earlier export\n"
        assert sorted(p.name for p in tmp_path.iterdir() if "day_uses" in p.name) == ["day_uses.csv"]
    code, out, err = run(capsys, "store", "export", "day_uses", "--prefix", "2024-01-04", "--out", str(kept))
    assert (code, err) == (0, f"exported 1 row of day_uses to {kept}\n")  # a prefix without that row: exported


@pytest.mark.parametrize("args", [[], ["--format", "jsonl"], ["--prefix", "2024-01-02"],
                                  ["--out", "day_uses.csv"]], ids=["csv", "jsonl", "prefix", "out"])
def test_a_sqlite_table_missing_a_column_is_the_same_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                                          args: list[str]) -> None:  # noqa: ANN001
    """Was: the store's ``could not read metric_day_uses: no such column`` alone, not saying what to do."""
    path = tmp_path / "metrics.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.write(DAY_USES, ROWS)
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("ALTER TABLE metric_day_uses DROP COLUMN mean")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=f"sqlite:///{path}")
    code, out, err = run(capsys, "store", "export", "day_uses", *args)
    assert (code, out) == (1, "")
    assert err == stale(f"store sqlite:///{path}: could not read metric_day_uses: no such column: "
                        "metric_day_uses.mean")
    assert not [p.name for p in tmp_path.iterdir() if "day_uses" in p.name]

