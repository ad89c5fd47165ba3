"""``fediscope report`` shows every stored metric no analysis reads (a user's own): a table of its first ``--top``
rows in text, all of them under ``"other_metrics"`` in JSON, also once its SQL file is gone; no chart."""

from __future__ import annotations

import json
import sqlite3

import pytest
from cli_run import clean_env, run
from metric_fixtures import land_generated_corpus, shipped_metrics_dir
from report_text import unwrapped

import fediscope.engine.metrics as registry
from fediscope import analysis
from fediscope.engine.metrics import parse_metric
from fediscope.store.port import open_store

KEY = "report-own-metric-test-pseudonym-key"
SHIPPED = ["languages"]  # one built-in analysis's metric: its rows are the check of the own metric's
#: the user's own metric: toots per language (as the shipped ``languages`` counts them, by other SQL) and a quarter of
#: them, a column of decimals
OWN = """-- question: How many toots are written in each language, and a quarter of that?
-- key: language
-- rank: toots DESC
SELECT coalesce(nullif(language, ''), 'und') AS language, count(*) AS toots, count(*) / 4.0 AS quarter
FROM statuses
WHERE NOT is_reblog
GROUP BY 1
"""


@pytest.fixture
def processed(tmp_path, monkeypatch, capsys):
    """A lake holding a small generated corpus, processed by `fediscope process` into a SQLite store, with the
    registry reading a directory of its own: the shipped ``languages`` metric and the own metric ``language_mix``."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}")
    land_generated_corpus(300)
    sql = shipped_metrics_dir(tmp_path / "sql", SHIPPED, monkeypatch)
    (sql / "language_mix.sql").write_text(OWN, encoding="utf-8")
    code, _, err = run(capsys, "process")
    assert code == 0, err
    yield tmp_path
    registry.load_metrics.cache_clear()


def _expected(tmp_path) -> list[dict]:
    """The own metric's rows, from the shipped ``languages`` metric in the store (toots desc, then language)."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        languages = store.all(analysis.metric("languages"))
    finally:
        store.close()
    assert len(languages) > 3  # more rows than --top 3 shows
    ranked = sorted(languages, key=lambda r: (-r["toots"], r["language"]))
    return [{"language": r["language"], "toots": r["toots"], "quarter": r["toots"] / 4} for r in ranked]


def _report_json(capsys, *args: str) -> dict:
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts", *args)
    assert code == 0, err
    return json.loads(out)


def test_json_gives_every_row_of_an_own_metric_under_other_metrics(processed, capsys):
    document = _report_json(capsys, "--top", "3")
    expected = _expected(processed)
    assert document["other_metrics"] == {"language_mix": {
        "question": "How many toots are written in each language, and a quarter of that?",
        "sql_file": True, "columns": ["language", "toots", "quarter"], "rows": expected, "total_rows": len(expected),
        "error": None}}
    assert document["metrics"]["language_mix"] == len(expected)
    assert [a["name"] for a in document["analyses"]] == ["languages"]  # it is no analysis, and gets no chart


def test_text_shows_an_own_metric_s_first_top_rows_and_how_many_there_are(processed, capsys):
    expected = _expected(processed)
    assert any(r["toots"] % 2 for r in expected)  # a quarter with two decimals somewhere: the column has two
    code, out, err = run(capsys, "report", "--top", "3", "--out", "charts")
    assert code == 0, err
    section = out.split("== language_mix ==\n")[1]
    lines = section.splitlines()
    assert lines[0] == "How many toots are written in each language, and a quarter of that?"
    assert lines[1].split() == ["language", "toots", "quarter"]
    for line, row in zip(lines[3:6], expected[:3], strict=True):
        assert line.split() == [row["language"], f"{row['toots']:,}", f"{row['quarter']:,.2f}"]
    assert lines[6] == f"(the first 3 of {len(expected)} rows; --format json has them all)"
    assert out.index("== Languages ==") < out.index("== language_mix ==")  # after the built-in analyses
    assert sorted(p.name for p in (processed / "charts").iterdir()) == ["languages.png"]


def test_an_own_metric_whose_sql_file_is_gone_is_still_shown(processed, capsys):
    (processed / "sql" / "language_mix.sql").unlink()
    registry.load_metrics.cache_clear()
    document = _report_json(capsys)
    expected = _expected(processed)
    # the question is the one the store recorded at the last write (as the results API gives it)
    assert document["other_metrics"]["language_mix"]["question"] == (
        "How many toots are written in each language, and a quarter of that?")
    assert document["other_metrics"]["language_mix"]["sql_file"] is False
    assert document["other_metrics"]["language_mix"]["rows"] == expected
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    lines = out.split("== language_mix ==\n")[1].splitlines()
    assert lines[0] == "How many toots are written in each language, and a quarter of that?"
    assert lines[1] == ("(its SQL file is gone; the store keeps it: `fediscope store drop language_mix` removes it)")
    assert lines[4].split()[:2] == [expected[0]["language"], f"{expected[0]['toots']:,}"]


def test_an_own_metric_whose_table_lost_a_column_is_named_and_the_report_exits_1(processed, capsys):
    with sqlite3.connect(processed / "store.db") as conn:
        conn.execute('ALTER TABLE "metric_language_mix" DROP COLUMN "quarter"')
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 1
    out = unwrapped(out)
    assert "== Languages ==" in out
    assert ("Could not read language_mix: metric language_mix in the store does not have what this fediscope version "
            "reads (store sqlite:///") in out
    assert ("could not read metric_language_mix: no such column: metric_language_mix.quarter), as when another "
            "fediscope version stored it; re-run `fediscope process` with this version to store it again\n") in out
    assert "Traceback" not in err
    assert "fediscope: error: 1 other metric could not be read (see above): language_mix" in err



@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_own_metric_whose_table_was_dropped_by_hand_is_named_with_the_fix(processed, capsys, fmt):
    """Was: the report stopped at it (MissingTableError), printing nothing; then it said the table without its
    metric ("Could not read language_mix: its table …"), where a failed analysis says "metric <name>: its table …"."""
    with sqlite3.connect(processed / "store.db") as conn:
        conn.execute('DROP TABLE "metric_language_mix"')
    code, out, err = run(capsys, "report", "--format", fmt, "--no-charts")
    assert code == 1 and "Traceback" not in err
    assert "fediscope: error: 1 other metric could not be read (see above): language_mix" in err
    said = ("metric language_mix: its table metric_language_mix is missing (dropped by hand?): run `fediscope "
            "process` to write it again (`fediscope store drop language_mix` if no SQL file defines it any more)")
    if fmt == "json":
        document = json.loads(out)
        assert document["other_metrics"]["language_mix"]["error"] == said
        assert document["ok"] is False and document["failed"] == {}  # no analysis failed: the exit 1 is this
        assert [a["name"] for a in document["analyses"]] == ["languages"]
    else:
        assert f"Could not read language_mix: {said}" in unwrapped(out) and "== Languages ==" in out


# -- the same on every store -----------------------------------------------------------------------------------

ROWS = [{"tag": tag, "day": day, "uses": uses, "mean": mean}
        for tag, day, uses, mean in [("a", "2024-01-01", 5, 0.5), ("b", "2024-01-01", 9, 1.25),
                                     ("c", "2024-01-02", 5, None), ("d", "2024-01-02", None, 2.0),
                                     ("e", "2024-01-03", 1, 0.004), ("f", "2024-01-03", 9, 3.0),
                                     ("g", "2024-01-04", 2, 7.5)]]


def test_other_metrics_read_alike_on_every_store_a_page_at_a_time(metric_store, monkeypatch):
    """Rank order (uses desc, ties by key, no rank last) from each store, every row read in pages of 3."""
    monkeypatch.setattr(analysis, "PAGE_ROWS", 3)
    own = parse_metric("tag_uses", "-- question: q?\n-- key: tag, day\n-- rank: uses DESC\nSELECT 1")
    metric_store.write(own, ROWS)
    metric_store.write(analysis.metric("languages"), [{"language": "en", "toots": 2, "share": 1.0}])
    stored = metric_store.stored_metrics()
    ranked = [*sorted((r for r in ROWS if r["uses"] is not None), key=lambda r: (-r["uses"], r["tag"])),
              *(r for r in ROWS if r["uses"] is None)]
    (every,) = analysis.other_metrics(metric_store, stored, None)
    # no SQL file: read by the key and rank the store recorded, with the question it recorded
    assert (every.name, every.question, every.sql_file, every.columns, every.total_rows) == (
        "tag_uses", "q?", False, ["tag", "day", "uses", "mean"], 7)
    assert every.rows == ranked
    (first,) = analysis.other_metrics(metric_store, stored, 2)
    assert first.rows == ranked[:2] and first.total_rows == 7



def test_an_own_metric_of_the_metrics_dir_is_shown_with_its_question(processed, capsys, monkeypatch):
    """A metric kept in FEDISCOPE_METRICS_DIR (not beside the shipped ones) is the report's too, with its question."""
    own = processed / "own"
    own.mkdir()
    (processed / "sql" / "language_mix.sql").rename(own / "language_mix.sql")
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(own))
    registry.load_metrics.cache_clear()
    document = _report_json(capsys)
    assert document["other_metrics"]["language_mix"]["question"] == (
        "How many toots are written in each language, and a quarter of that?")
    assert document["other_metrics"]["language_mix"]["rows"] == _expected(processed)


def test_json_gives_an_own_metric_s_timestamp_columns_as_rfc3339_utc(processed, capsys):
    """Was: its ``-- timestamps:`` column came as the stored ``YYYY-MM-DD HH:MM:SS``, which JavaScript reads as local
    time; JSON gives it as the results API does (RFC 3339 with Z), the text report as stored."""
    (processed / "sql" / "newest_toot.sql").write_text(
        "-- question: When was each language's newest toot posted?\n-- key: language\n-- timestamps: newest\n"
        "SELECT coalesce(nullif(language, ''), 'und') AS language,\n"
        "       strftime(max(created_at), '%Y-%m-%d %H:%M:%S') AS newest\nFROM statuses GROUP BY 1\n",
        encoding="utf-8")
    registry.load_metrics.cache_clear()
    code, _, err = run(capsys, "process")
    assert code == 0, err
    store = open_store(f"sqlite:///{processed / 'store.db'}")
    try:
        stored = {r["language"]: r["newest"] for r in store.all(registry.load_metrics()["newest_toot"])}
    finally:
        store.close()
    rows = _report_json(capsys)["other_metrics"]["newest_toot"]["rows"]
    assert rows and {r["language"]: r["newest"] for r in rows} == {
        language: text.replace(" ", "T") + "Z" for language, text in stored.items()}
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    assert next(iter(stored.values())) in out.split("== newest_toot ==\n")[1]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_an_own_metric_whose_timestamp_is_past_the_year_9999_in_utc_is_named_and_the_rest_printed(
        processed, capsys, fmt):
    """Was: ``--format json`` ended in an OverflowError traceback (exit 1, nothing printed) converting the value of a
    ``-- timestamps:`` column that is past 9999-12-31 once in UTC; it is a value this version cannot read, named with
    its reason as any other, in either format. `fediscope process` now refuses to store such a value (exit 2), so
    the row is stored as another fediscope version stored it, by the store's own write."""
    path = processed / "sql" / "far_future.sql"
    path.write_text("-- question: When does the far future start?\n-- key: name\n-- timestamps: starts\n"
                    "SELECT 'far' AS name, '9999-12-31 23:30:00-01:00' AS starts\n", encoding="utf-8")
    registry.load_metrics.cache_clear()
    code, _, err = run(capsys, "process")
    assert code == 2 and f"metric far_future ({path}): column starts, named in its '-- timestamps:' line" in err
    store = open_store(f"sqlite:///{processed / 'store.db'}")
    try:
        store.write(registry.load_metrics()["far_future"], [{"name": "far", "starts": "9999-12-31 23:30:00-01:00"}])
    finally:
        store.close()
    code, out, err = run(capsys, "report", "--format", fmt, "--no-charts")
    assert code == 1 and "Traceback" not in err
    assert "fediscope: error: 1 other metric could not be read (see above): far_future" in err
    said = ("metric far_future in the store does not have what this fediscope version reads (not a UTC timestamp "
            "between the years 1 and 9999: '9999-12-31 23:30:00-01:00'), as when another fediscope version stored it; "
            "re-run `fediscope process` with this version to store it again")
    if fmt == "text":
        assert f"Could not read far_future: {said}" in unwrapped(out)
        assert "== Languages ==" in out and "== language_mix ==" in out
        return
    document = json.loads(out)
    assert document["other_metrics"]["far_future"]["error"] == said
    assert document["other_metrics"]["language_mix"]["rows"] == _expected(processed)
    assert [a["name"] for a in document["analyses"]] == ["languages"]
