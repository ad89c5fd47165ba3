"""A user's own metric file edited between two ``fediscope process`` runs: the run that follows compares the new
result with the rows kept from the last one (:mod:`fediscope.engine.metric_state`), and must leave the store as a
run from scratch into a fresh store leaves it, whatever the edit changed (a column's type, a key's type), without
running anything its column names spell; and a metric returning an integer wider than 64 bits is refused naming
its file and column (exit 2), as the README says, where an integer that fits stays an integer."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cli_run import clean_env, run
from metric_fixtures import land_generated_corpus, shipped_metrics_dir

import fediscope.engine.metrics as registry

KEY = "own-metric-edits-test-pseudonym-key"
BUILT_IN = ["languages"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No FEDISCOPE_* from the caller, cwd in tmp_path, a lake holding a small generated corpus, the SQLite store
    ``a.db``, the built-in metrics cut to ``languages``, and ``mine/`` (empty) as FEDISCOPE_METRICS_DIR."""
    (tmp_path / "mine").mkdir()
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'a.db'}", FEDISCOPE_METRICS_DIR=str(tmp_path / "mine"))
    land_generated_corpus(40)
    shipped_metrics_dir(tmp_path / "sql", BUILT_IN, monkeypatch)
    yield tmp_path
    registry.load_metrics.cache_clear()


def _write_metric(tmp_path: Path, name: str, sql: str) -> Path:
    path = tmp_path / "mine" / f"{name}.sql"
    path.write_text(sql)
    registry.load_metrics.cache_clear()
    return path


def _assert_refused(cli_env: Path, capsys: pytest.CaptureFixture[str], name: str, sql: str, reason: str) -> None:
    """The metric ``name`` written as ``sql``, ``fediscope process`` is refused as the file's mistake: exit 2 and
    one line on stderr, no traceback, naming the metric and its file, then ``reason``."""
    path = _write_metric(cli_env, name, sql)
    code, out, err = run(capsys, "process")
    assert code == 2, err
    assert err.strip() == f"fediscope: error: metric {name} ({path}): {reason}", err


def _assert_no_metric_stored(cli_env: Path) -> None:
    """Nothing written to the store ``a.db`` (was: the built-in languages, before the failing write)."""
    store = cli_env / "a.db"
    if store.exists():
        with closing(sqlite3.connect(store)) as db:
            assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'metric_%'").fetchall() == []


def _process(capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run(capsys, "process", "--json")
    assert code == 0, err
    return json.loads(out)


def _stored(url: str, name: str) -> tuple[dict[str, str], list[tuple[tuple[str, object], ...]], object]:
    """The metric's column types, its rows with each value's Python type, and the row of key 1 (``get``)."""
    from fediscope.store.port import open_store

    store = open_store(url)
    try:
        metric = store.recorded_metric(name)
        assert metric is not None
        rows = [tuple((type(v).__name__, v) for v in row.values()) for row in store.all(metric)]
        return store.column_types(name), sorted(rows), store.get(metric, [1])
    finally:
        store.close()


WEEKDAYS = """-- question: How many toots were posted on each ISO weekday?
-- key: wd
SELECT {wd} AS wd, {toots} AS toots, {busy} AS busy
FROM statuses WHERE created_at IS NOT NULL GROUP BY 1
"""


def test_an_edit_that_changes_column_types_leaves_the_store_as_a_fresh_run_does(
        cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the recomputed result was compared with the kept rows by DuckDB's EXCEPT, which unifies the types, so
    int → float, text → int and bool → int changed no row: "(0 written)", the store kept the old types (a count
    ``1421`` where a fresh store has ``1421.0``) and the text key ``'1'``, under which ``get([1])`` found nothing."""
    _write_metric(cli_env, "weekdays", WEEKDAYS.format(wd="CAST(isodow(created_at) AS VARCHAR)", toots="count(*)",
                                                       busy="count(*) > 0"))
    _process(capsys)
    assert _stored(f"sqlite:///{cli_env / 'a.db'}", "weekdays")[0] == {"wd": "str", "toots": "int", "busy": "bool"}

    _write_metric(cli_env, "weekdays", WEEKDAYS.format(wd="isodow(created_at)", toots="CAST(count(*) AS DOUBLE)",
                                                       busy="CAST(count(*) > 0 AS INTEGER)"))
    edited = _process(capsys)["metrics"]["weekdays"]
    assert edited["stored"] == edited["rows"] > 0, edited  # every row changed its types
    monkeypatch.setenv("FEDISCOPE_STORE", f"sqlite:///{cli_env / 'b.db'}")
    _process(capsys)  # the same lake into a fresh store

    incremental = _stored(f"sqlite:///{cli_env / 'a.db'}", "weekdays")
    fresh = _stored(f"sqlite:///{cli_env / 'b.db'}", "weekdays")
    assert fresh[0] == {"wd": "int", "toots": "float", "busy": "int"}
    assert incremental == fresh
    assert incremental[2] is not None and incremental[2]["wd"] == 1


def test_a_key_column_name_is_never_run_as_sql(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: the key columns were pasted between double quotes into the SQL comparing a recomputed result with
    the kept rows, and DuckDB ran every statement of it: a key named so ran a ``COPY … TO`` of the user's choosing
    at the run after the file was edited, where the README promises a statement that is not a query never runs."""
    column = """k"FROM old_rows;COPY(SELECT 42)TO'pwned';SELECT"k"""
    quoted = '"' + column.replace('"', '""') + '"'
    sql = f"-- question: Which?\n-- key: {column}\nSELECT 'a' AS k, 'a' AS {quoted}, {{n}} AS n\n"
    _write_metric(cli_env, "tricky", sql.format(n=1))
    _process(capsys)
    _write_metric(cli_env, "tricky", sql.format(n=2))  # recomputed and compared with the kept rows
    summary = _process(capsys)
    assert summary["metrics"]["tricky"]["stored"] == 1
    assert not (cli_env / "pwned").exists()  # and the row stays: the statements made its key look stale

    from fediscope.store.port import open_store

    store = open_store(f"sqlite:///{cli_env / 'a.db'}")
    try:
        assert store.all(registry.load_metrics(own_dir=cli_env / "mine")["tricky"]) == [{"k": "a", column: "a", "n": 2}]
    finally:
        store.close()


@pytest.mark.parametrize(("value", "shown"), [
    ("18446744073709551615::UBIGINT", "18446744073709551615"),  # was: a pyarrow ArrowInvalid traceback
    ("sum(x) + 9223372036854775807", "9223372036854775813"),  # was: HUGEINT stored as float
    ("-9223372036854775809::HUGEINT", "-9223372036854775809"),
])
def test_an_integer_wider_than_64_bits_is_refused_naming_the_file_and_column(
        cli_env: Path, capsys: pytest.CaptureFixture[str], value: str, shown: str) -> None:
    """The README: integers must fit 64 bits; a metric returning a larger one is refused (CAST it to DOUBLE). An
    integer that fits keeps its type, also from a HUGEINT (DuckDB's ``sum`` of a BIGINT)."""
    sql = "-- question: How big?\n-- key: k\nSELECT 'a' AS k, sum(x) AS fits, {value} AS big FROM range(4) t(x)\n"
    _assert_refused(cli_env, capsys, "wide", sql.format(value=value),
                    f"column 'big' has the integer {shown}, wider than the 64 bits every store holds; CAST it to "
                    "DOUBLE in the metric's SQL")
    code, out, err = run(capsys, "process", "--json")
    error = json.loads(out)["error"]
    assert code == 2 and (error["type"], error["exit_code"]) == ("MetricFileError", 2), out

    _write_metric(cli_env, "wide", sql.format(value="CAST(" + value + " AS DOUBLE)"))
    _process(capsys)
    types, rows, _ = _stored(f"sqlite:///{cli_env / 'a.db'}", "wide")
    assert types == {"k": "str", "fits": "int", "big": "float"}
    assert rows[0][1] == ("int", 6)


@pytest.mark.parametrize(("value", "where"), [
    ("list(DISTINCT language)", "true"),
    ("map([any_value(language)], [count(*)])", "true"),  # was: a pyarrow traceback
    ("[1, 2]::INTEGER[2]", "true"),
    ("list(language)", "false"),  # no rows yet: refused all the same, not only once some come
])
def test_a_list_column_is_refused_naming_the_file_and_column_before_anything_is_stored(
        cli_env: Path, capsys: pytest.CaptureFixture[str], value: str, where: str) -> None:
    """Was: every metric computed, the built-in ones written to the store, then the write of this one failed with
    ``fediscope: error: cannot store a value of type list (['en', 'de'])`` (exit 1), naming neither the metric,
    its file nor the column. A list is the file's mistake, as a wider integer is: refused before the store is
    written, naming both, with the fix (exit 2)."""
    sql = f"-- question: Which?\n-- key: k\nSELECT 'a' AS k, {value} AS seen FROM statuses WHERE {where} GROUP BY 1\n"
    _assert_refused(cli_env, capsys, "listed", sql,
                    "column 'seen' holds lists, which no store holds (a value is a number, text, a boolean or "
                    "NULL); join them into text in the metric's SQL (array_to_string(seen, ', '), or "
                    "string_agg(x, ', ' ORDER BY x) instead of list(x)), or unnest them into rows")
    _assert_no_metric_stored(cli_env)

    _write_metric(cli_env, "listed", sql.replace(f"{value} AS seen", "'x' AS seen"))
    assert _process(capsys)["metrics"]["listed"]["rows"] == (1 if where == "true" else 0)


@pytest.mark.parametrize(("before", "after", "kind"), [
    ("CAST(count(*) AS DOUBLE)", "count(*)", "int"),  # avg() edited to count(): was 1421.0 for good
    ("count(*)", "count(*) > 0", "bool"),
    ("avg(content_length)", "count(*) > 0", "bool"),
])
def test_an_edit_that_narrows_a_column_type_leaves_the_store_as_a_fresh_run_does(
        cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, before: str, after: str,
        kind: str) -> None:
    """Was: a full write merged the result's types into the stored ones, which only widen, so a float column whose
    SQL now gives integers kept them as floats (``127.0``; a store made afresh holds ``127``), in the store, the
    report and ``store export`` alike."""
    _write_metric(cli_env, "weekdays", WEEKDAYS.format(wd="isodow(created_at)", toots=before, busy="true"))
    _process(capsys)
    _write_metric(cli_env, "weekdays", WEEKDAYS.format(wd="isodow(created_at)", toots=after, busy="true"))
    _process(capsys)
    monkeypatch.setenv("FEDISCOPE_STORE", f"sqlite:///{cli_env / 'b.db'}")
    _process(capsys)  # the same lake into a fresh store

    incremental = _stored(f"sqlite:///{cli_env / 'a.db'}", "weekdays")
    fresh = _stored(f"sqlite:///{cli_env / 'b.db'}", "weekdays")
    assert fresh[0]["toots"] == kind
    assert incremental == fresh


def test_an_interval_column_is_refused_naming_the_file_and_column(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: ``fediscope: error: cannot store a value of type list ([0, 3, 0])`` (exit 1), naming nothing: DuckDB's
    INTERVAL reaches the store as months, days and nanoseconds."""
    sql = ("-- question: How long?\n-- key: k\n"
           "SELECT 'a' AS k, max(created_at) - min(created_at) AS span FROM statuses\n")
    _assert_refused(cli_env, capsys, "spans", sql,
                    "column 'span' holds intervals, which no store holds (a value is a number, text, a boolean or "
                    "NULL); give it as a number in the metric's SQL; for b - a between two timestamps, e.g. "
                    "date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) * 86400 + (hour(b) - hour(a)) * 3600 + "
                    "(minute(b) - minute(a)) * 60 + second(b) - second(a) for seconds (between their whole seconds) "
                    "or date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) for days (midnights crossed)")
    # as it says (portable: the same number on Spark, tests/engine/test_dialect.py)
    seconds = ("date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) * 86400 + (hour(b) - hour(a)) * 3600 "
               "+ (minute(b) - minute(a)) * 60 + second(b) - second(a)")
    ends = {"a": "min(created_at)", "b": "max(created_at)"}
    _write_metric(cli_env, "spans", sql.replace("max(created_at) - min(created_at)",
                                                re.sub(r"\b[ab]\b", lambda m: ends[m.group()], seconds)))
    assert _process(capsys)["metrics"]["spans"]["rows"] == 1


@pytest.mark.parametrize(("value", "holds", "fix", "converted"), [
    ("any_value(language)::BLOB", "bytes (a BLOB)", "give it as text in the metric's SQL: hex(seen), or "
     "seen::VARCHAR for a BIT", "hex(any_value(language)::BLOB)"),
    ("'101'::BIT", "bytes (a BLOB)", "give it as text in the metric's SQL: hex(seen), or seen::VARCHAR for a BIT",
     "'101'::BIT::VARCHAR"),
    ("{'n': count(*)}", "structs", "give it as text in the metric's SQL: to_json(seen), or select its fields as "
     "columns of their own (seen.field AS field)", "to_json({'n': count(*)})"),
])
def test_a_blob_or_struct_column_is_refused_naming_the_file_and_column(
        cli_env: Path, capsys: pytest.CaptureFixture[str], value: str, holds: str, fix: str, converted: str) -> None:
    """Was: stored as Python's text of the value, ``b'en'`` for a BLOB (``b'\\x05\\xfd'`` for a BIT) and
    ``{'n': 40}`` for a STRUCT, which no SQL reading the store can take apart. Refused as a list is, with the
    conversion to text (exit 2); converted so, it is stored."""
    sql = f"-- question: Which?\n-- key: k\nSELECT 'a' AS k, {value} AS seen FROM statuses GROUP BY 1\n"
    _assert_refused(cli_env, capsys, "typed", sql,
                    f"column 'seen' holds {holds}, which no store holds (a value is a number, text, a boolean or "
                    f"NULL); {fix}")

    _write_metric(cli_env, "typed", sql.replace(f"{value} AS seen", f"{converted} AS seen"))
    assert _process(capsys)["metrics"]["typed"]["rows"] == 1
    types, rows, _ = _stored(f"sqlite:///{cli_env / 'a.db'}", "typed")
    assert types["seen"] == "str" and not rows[0][1][1].startswith(("b'", "{'")), rows


def test_a_timetz_column_is_refused_naming_the_file_and_column(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: stored without a word as the time of day as written, its offset dropped (``12:00:01+02`` as
    ``12:00:01``, not that moment in UTC): DuckDB's Arrow gives a TIMETZ as a plain time, which the store holds as
    text. Its Arrow type cannot tell it from a TIME, so it is refused by DuckDB's own type (exit 2), with the
    conversions; a TIME is stored as before, and so is the TIMETZ converted as advised."""
    sql = ("-- question: When?\n-- key: k\n"
           "SELECT 'a' AS k, '12:00:01+02'::TIMETZ AS seen, '12:00:01'::TIME AS plain FROM statuses LIMIT 1\n")
    _assert_refused(cli_env, capsys, "typed", sql,
                    "column 'seen' holds times with a time zone (TIMETZ), which no store holds (a value is a "
                    "number, text, a boolean or NULL); give it as a time in UTC in the metric's SQL: "
                    "CAST(timezone('UTC', seen) AS TIME), or as text, which keeps its offset: CAST(seen AS VARCHAR)")

    _write_metric(cli_env, "typed", sql.replace("'12:00:01+02'::TIMETZ AS seen",
                                                "CAST(timezone('UTC', '12:00:01+02'::TIMETZ) AS TIME) AS seen, "
                                                "CAST('12:00:01+02'::TIMETZ AS VARCHAR) AS text"))
    assert _process(capsys)["metrics"]["typed"]["rows"] == 1
    _, rows, _ = _stored(f"sqlite:///{cli_env / 'a.db'}", "typed")
    assert rows == [(("str", "a"), ("str", "10:00:01"), ("str", "12:00:01+02"), ("str", "12:00:01"))], rows


def test_a_union_column_is_refused_naming_the_file_and_column(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: a pyarrow traceback (``ArrowInvalid: Could not convert 'x' with type str: tried to convert to int64``,
    exit 1) for a DuckDB UNION column whose rows hold different members, and the value of whichever member a row
    holds, stored without a word, when they all held the same one. Refused as a struct is (exit 2); cast to text, it
    is stored."""
    union = "UNION(n BIGINT, s VARCHAR)"
    value = (f"CASE WHEN language IS NULL THEN union_value(s := 'none')::{union} "
             f"ELSE union_value(n := count(*))::{union} END")
    sql = ("-- question: Which?\n-- key: k\n"
           f"SELECT coalesce(language, '?') AS k, {value} AS seen FROM statuses GROUP BY language\n"
           "UNION ALL SELECT 'zz' AS k, union_value(s := 'x')::" + union + " AS seen\n")
    _assert_refused(cli_env, capsys, "typed", sql,
                    "column 'seen' holds values of a union type, which no store holds (a value is a number, text, "
                    "a boolean or NULL); give it as one type in the metric's SQL: CAST(seen AS VARCHAR), or a CASE "
                    "on union_tag(seen)")

    _write_metric(cli_env, "typed", sql.replace(" AS seen", "::VARCHAR AS seen"))
    assert _process(capsys)["metrics"]["typed"]["rows"] >= 2
    types, rows, _ = _stored(f"sqlite:///{cli_env / 'a.db'}", "typed")
    assert types["seen"] == "str", types


def test_a_result_wider_than_the_stores_table_is_refused_before_anything_is_stored(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: every metric computed, then SQLite's CREATE TABLE refused the metric's (``too many columns``, exit 1),
    naming no file. Refused as the file's mistake (exit 2) in one line naming the count and SQLite's limit, before
    the store is written."""
    columns = ", ".join(f"{i} AS c{i}" for i in range(1, 2100))
    _assert_refused(cli_env, capsys, "wide", f"-- question: How wide?\n-- key: k\nSELECT 'a' AS k, {columns}\n",
                    "the result has 2100 columns, more than the 2,000 a SQLite store's table holds; select fewer "
                    "columns, or split it into several metrics")
    _assert_no_metric_stored(cli_env)
