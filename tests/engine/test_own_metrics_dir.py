"""A directory of the user's own metric files (``FEDISCOPE_METRICS_DIR``), read beside ``spark_jobs/sql/``: its
metrics are computed and stored by ``fediscope process``, served by the results routes, counted by ``doctor``,
and not taken for metrics whose file is gone; a file named as a built-in metric, and a directory that is not
there, are refused with one line naming them. ``doctor`` names every broken metric file, not only the first."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from cli_run import clean_env, run
from metric_fixtures import land_generated_corpus, shipped_metrics_dir

import fediscope.engine.metrics as registry

KEY = "own-metrics-dir-test-pseudonym-key"
API_KEY = "own-metrics-dir-api-key-7c1e9b04d2"
BUILT_IN = ["languages"]  # one shipped metric: a quick run that still has a built-in metric beside the own one
OWN = "toots_per_account"
OWN_SQL = ("-- question: How many toots did each account post?\n-- key: account_key\n-- rank: toots DESC\n"
           "SELECT account_key, count(*) AS toots FROM statuses WHERE NOT is_reblog GROUP BY account_key\n")
NO_KEY = "-- question: Which languages, again?\nSELECT language FROM statuses\n"
TWICE = "-- question: How many?\n-- key: n\nSELECT 1 AS n; SELECT 2 AS n\n"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No FEDISCOPE_* from the caller, cwd in tmp_path, a lake holding a small generated corpus, a SQLite store,
    the built-in metrics cut to ``languages`` (a copy of spark_jobs/sql/ holding it), and ``mine/`` holding the
    user's own metric, set as FEDISCOPE_METRICS_DIR."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / f"{OWN}.sql").write_text(OWN_SQL)
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}", FEDISCOPE_API_KEY=API_KEY,
              FEDISCOPE_METRICS_DIR=str(mine))
    land_generated_corpus(40)
    shipped_metrics_dir(tmp_path / "sql", BUILT_IN, monkeypatch)
    yield tmp_path
    registry.load_metrics.cache_clear()


def _stored_rows(tmp_path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "store.db") as conn:
        return sorted(conn.execute(f"SELECT account_key, toots FROM metric_{table}"))  # noqa: S608 - a metric name


def test_an_own_metric_is_computed_stored_and_served(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "process", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert sorted(summary["metrics"]) == sorted([*BUILT_IN, OWN])
    assert summary["metrics"][OWN]["rows"] > 0 and summary["stored_metrics_without_sql_file"] == []
    stored = _stored_rows(cli_env, OWN)
    assert len(stored) == summary["metrics"][OWN]["rows"] and sum(toots for _, toots in stored) > 0

    from api import create_app
    from fediscope.config import load_settings

    client = create_app(load_settings()).test_client()
    listed = client.get("/v1/metrics", headers={"X-API-Key": API_KEY})
    assert listed.status_code == 200, listed.get_data(as_text=True)
    mine = {m["name"]: m for m in listed.get_json()["metrics"]}[OWN]
    assert mine["question"] == "How many toots did each account post?" and mine["key"] == ["account_key"]
    page = client.get(f"/v1/metrics/{OWN}", query_string={"limit": 1000}, headers={"X-API-Key": API_KEY})
    assert page.status_code == 200, page.get_data(as_text=True)
    assert sorted((r["account_key"], r["toots"]) for r in page.get_json()["rows"]) == stored

    code, out, err = run(capsys, "process")  # a second run: the own metric's file is there, not gone
    assert code == 0, err
    assert "no SQL file" not in out
    code, out, err = run(capsys, "store", "drop", OWN, "--yes")
    assert code == 2 and f"metric {OWN} still has its SQL file {cli_env / 'mine' / f'{OWN}.sql'}" in err, err
    (cli_env / "mine" / f"{OWN}.sql").unlink()  # gone now: named, and dropped
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process")
    assert code == 0, err
    assert f"with no SQL file any more: {OWN} (`fediscope store drop {OWN}` removes it)" in out
    code, out, err = run(capsys, "store", "drop", OWN, "--yes")
    assert code == 0, err


def test_an_own_file_named_as_a_built_in_metric_is_refused(cli_env: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    clash = cli_env / "mine" / "languages.sql"
    clash.write_text(OWN_SQL)
    message = f"metric file {clash} has the name of the built-in metric {cli_env / 'sql' / 'languages.sql'}"
    code, out, err = run(capsys, "process")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (cli_env / "store.db").exists()  # refused before anything was written
    code, out, err = run(capsys, "doctor")
    (line,) = [line for line in out.splitlines() if line[6:].startswith("metrics ")]
    assert code == 1 and line.startswith(f"FAIL  metrics        {message}"), out


def test_a_missing_built_in_metric_directory_is_an_incomplete_installation(
        cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: a wheel without spark_jobs/sql/ installed a ``fediscope process`` that computed no metric and exited 0."""
    gone = cli_env / "site-packages" / "spark_jobs" / "sql"
    monkeypatch.setattr(registry, "SQL_DIR", gone)
    registry.load_metrics.cache_clear()
    message = (f"the built-in metric files are missing: {gone} is not a directory, so this fediscope installation "
               "is incomplete; reinstall fediscope")
    code, out, err = run(capsys, "process")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (cli_env / "store.db").exists()
    code, out, err = run(capsys, "doctor")
    (line,) = [line for line in out.splitlines() if line[6:].startswith("metrics ")]
    assert code == 1 and line.startswith(f"FAIL  metrics        {message}"), out


@pytest.mark.parametrize(("header", "problem"), [
    ("-- rank: toots ascending", "'-- rank: toots ascending' is not '-- rank: <column> [ASC|DESC]'"),
    # was: an IndexError traceback
    ("-- rank: ", "'-- rank:' on line 3 is empty; the header line is '-- rank: <column> [ASC|DESC]'"),
    ("-- key: account_key, account_key", "'-- key: account_key, account_key' names 'account_key' twice"),
])
def test_process_refuses_a_malformed_header_of_an_own_metric_with_one_line(
        header: str, problem: str, cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    own = cli_env / "mine" / f"{OWN}.sql"
    own.write_text(OWN_SQL.replace("-- rank: toots DESC" if "rank" in header else "-- key: account_key", header))
    code, out, err = run(capsys, "process")
    assert code == 2 and f"metric {OWN} ({own}): {problem}" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (cli_env / "store.db").exists()  # refused before anything was computed or written


@pytest.mark.parametrize(("sql", "problem"), [
    # the header's mistake, found when the file is read
    (OWN_SQL.replace("-- rank: toots DESC", "-- rank: toots DESC\n-- rank: toots ASC"),
     "'-- rank:' is given twice (lines 3 and 4)"),
    # the SQL's, found when DuckDB runs it: was exit 1, "type": "FediscopeError"
    (OWN_SQL.replace("count(*)", "count(*"), 'DuckDB failed: Parser Error: syntax error at or near "AS"'),
    (OWN_SQL.replace("NOT is_reblog", "NOT is_boost"),
     'DuckDB failed: Binder Error: Referenced column "is_boost" not found in FROM clause! (did you mean "is_reblog"?)'),
    # the result's, found when it is computed: was exit 2, but "type": "ConfigError"
    (OWN_SQL.replace("-- rank: toots DESC", "-- rank: tooots DESC"),
     "column(s) tooots named in its header are not in the result, whose columns are account_key, toots"),
])
def test_a_mistake_in_an_own_metric_file_exits_2_with_one_line_or_one_json_document(
        sql: str, problem: str, cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whether the header or the SQL is wrong, the file is the user's input to fix: exit 2 (a header's mistake
    always was), one line naming the file and the error, and one JSON error document of the same type."""
    own = cli_env / "mine" / f"{OWN}.sql"
    own.write_text(sql)
    message = f"metric {OWN} ({own}): {problem}"
    code, out, err = run(capsys, "process")
    assert code == 2 and err.startswith(f"fediscope: error: {message}"), err
    assert len(err.strip().splitlines()) == 1, err
    code, out, err = run(capsys, "process", "--json")
    error = json.loads(out)["error"]
    assert code == 2 and (error["type"], error["exit_code"]) == ("MetricFileError", 2), out
    assert error["message"].startswith(message) and "\n" not in error["message"], out


@pytest.mark.parametrize("made", ["missing", "file"])
def test_a_metrics_dir_that_is_no_directory_is_refused_naming_the_variable(
        made: str, cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    target = cli_env / "nowhere"
    if made == "file":
        target.write_text(OWN_SQL)
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(target))
    problem = "does not exist" if made == "missing" else "is not a directory"
    for command in (["process"], ["doctor"], ["serve-api", "--port", "0"], ["config", "check"]):
        code, out, err = run(capsys, *command)
        assert code == 2, (command, out, err)
        assert f"FEDISCOPE_METRICS_DIR is invalid: {target} {problem}" in err and "Traceback" not in err, err


def test_a_relative_metrics_dir_in_the_config_file_is_made_absolute(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The Spark jobs of the batch DAG run the driver from another directory: they get the absolute path."""
    from fediscope.config import load_settings
    from fediscope.orchestration import spark_submit_env

    monkeypatch.delenv("FEDISCOPE_METRICS_DIR")
    (cli_env / "fediscope.toml").write_text('[fediscope]\nmetrics_dir = "mine"\n')
    settings = load_settings()
    assert settings.metrics_dir == cli_env / "mine"
    assert spark_submit_env(settings, {})["FEDISCOPE_METRICS_DIR"] == str(cli_env / "mine")
    assert "FEDISCOPE_METRICS_DIR" not in spark_submit_env(settings.replace(metrics_dir=None), {})
    (cli_env / "fediscope.toml").write_text('[fediscope]\nmetrics_dir = "gone"\n')
    code, out, err = run(capsys, "process")
    assert code == 2 and f"[fediscope] metrics_dir is invalid: {cli_env / 'gone'} does not exist" in err, err


def test_config_check_knows_the_variable_and_config_show_lists_it(cli_env: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "config", "check", "--json")
    findings = json.loads(out)["findings"]
    assert not [f for f in findings if f["setting"] == "FEDISCOPE_METRICS_DIR"], findings  # was: unknown variable
    code, out, err = run(capsys, "config", "show")
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith("FEDISCOPE_METRICS_DIR ")]
    assert line.split()[-1] == str(cli_env / "mine")


def test_doctor_counts_both_directories_and_names_every_broken_file(cli_env: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "doctor")
    (line,) = [line for line in out.splitlines() if line[6:].startswith("metrics ")]
    assert line == f"OK    metrics        2 metric(s) in {cli_env / 'sql'} and {cli_env / 'mine'}", out

    no_key, twice = cli_env / "mine" / "no_key.sql", cli_env / "mine" / "twice.sql"
    no_key.write_text(NO_KEY)
    twice.write_text(TWICE)
    code, out, err = run(capsys, "doctor")
    assert code == 1, out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line[6:].startswith("metrics "))
    assert lines[start] == "FAIL  metrics        2 of 4 metric files are broken:"
    assert lines[start + 1].startswith(f"{' ' * 21}metric no_key ({no_key}): missing '-- key: …' header line")
    assert lines[start + 2].startswith(f"{' ' * 21}metric twice ({twice}): holds 2 SQL statements")
    assert "-> fix: fix the file as the error says" in lines[start + 2]
    code, out, err = run(capsys, "doctor", "--json")
    (check,) = [c for c in json.loads(out)["checks"] if c["name"] == "metrics"]
    assert check["status"] == "FAIL" and check["detail"].splitlines()[1:] == [
        line.strip().split(" -> fix:")[0] for line in lines[start + 1:start + 3]]


def test_a_rank_line_with_a_comma_is_refused_when_read_and_failed_by_doctor(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: read as the rank column "toots,", so doctor said OK and process refused it only once computed."""
    own = cli_env / "mine" / f"{OWN}.sql"
    own.write_text(OWN_SQL.replace("-- rank: toots DESC", "-- rank: toots,"))
    message = f"metric {OWN} ({own}): '-- rank: toots,' holds a comma; a metric ranks by one column"
    code, out, err = run(capsys, "doctor")
    (line,) = [line for line in out.splitlines() if line[6:].startswith("metrics ")]
    assert code == 1 and line.startswith(f"FAIL  metrics        {message}"), out
    code, out, err = run(capsys, "process")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (cli_env / "store.db").exists()  # refused before anything was computed or written


def test_serve_api_refuses_to_start_with_a_broken_own_metric_file(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    broken = cli_env / "mine" / "no_key.sql"
    broken.write_text(NO_KEY)
    monkeypatch.setattr("api.app.make_server", lambda *a, **k: pytest.fail("serve-api went on to listen"))
    code, out, err = run(capsys, "serve-api", "--port", "0")
    assert code == 2 and f"metric no_key ({broken}): missing '-- key: …' header line" in err, err
    assert "the API was not started" in err


@pytest.mark.spark
def test_the_spark_metrics_job_computes_an_own_metric(spark, cli_env: Path,  # noqa: ANN001 - lazy pyspark
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The job's rows of the own metric are DuckDB's, on the same curated lake. DuckDB curates it (``process``, which
    stores DuckDB's rows): what is checked is the metrics job reading FEDISCOPE_METRICS_DIR, not Spark's curation,
    whose tables are compared with DuckDB's in tests/engine/test_spark_parity.py (was: spark_jobs/curate.py first,
    a Spark curation of the corpus, most of the test's time)."""
    from spark_jobs import metrics

    code, _, err = run(capsys, "process", "--engine", "duckdb", "--json")  # curates, and stores DuckDB's rows
    assert code == 0, err
    out = cli_env / "results.json"
    assert metrics.main(["--no-store", "--out", str(out), "--metric", OWN], spark=spark) == 0, capsys.readouterr()
    assert json.loads(capsys.readouterr().out)[OWN]["rows"] > 0
    assert sorted((r["account_key"], r["toots"]) for r in json.loads(out.read_text())[OWN]) == \
        _stored_rows(cli_env, OWN)


def test_an_own_file_ending_in_capitals_is_warned_about_not_read(cli_env: Path, caplog: pytest.LogCaptureFixture,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (cli_env / "mine" / "per_day.SQL").write_text(OWN_SQL)
    code, out, err = run(capsys, "doctor", "--json")
    (check,) = [c for c in json.loads(out)["checks"] if c["name"] == "metrics"]
    assert check["status"] == "WARN" and "not read: per_day.SQL (metric files end in '.sql'" in check["detail"]
    from fediscope.config import load_settings

    assert sorted(registry.load_metrics(own_dir=load_settings().metrics_dir)) == sorted([*BUILT_IN, OWN])
    assert f"{cli_env / 'mine' / 'per_day.SQL'} is not read: metric files end in '.sql'" in caplog.text


def test_a_command_says_the_file_not_read_as_its_own_warning(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Was a log line, ``2026-12-06 06:02:01,071 WARNING fediscope.engine.metrics …``, where the command's other
    warnings read ``fediscope: warning: …``; the Spark job says it as its own (``fediscope metrics: warning:``).
    With ``FEDISCOPE_LOG_FORMAT=json`` it is a JSON line, as every warning then is."""
    shouting = cli_env / "mine" / "per_day.SQL"
    shouting.write_text(OWN_SQL)
    said = f"{shouting} is not read: metric files end in '.sql' (lower case)"
    for command in (["process"], ["report", "--no-charts"]):
        registry.load_metrics.cache_clear()  # each command a process of its own, as from a shell
        code, out, err = run(capsys, *command)
        assert code == 0, err
        assert err.splitlines() == [f"fediscope: warning: {said}"], err

    from spark_jobs import metrics as spark_metrics

    registry.load_metrics.cache_clear()
    assert spark_metrics.main(["--metric", "nope", "--no-store"]) == 2  # refused before Spark starts
    assert f"fediscope metrics: warning: {said}\n" in capsys.readouterr().err

    monkeypatch.setenv("FEDISCOPE_LOG_FORMAT", "json")
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    (line,) = [json.loads(text) for text in err.splitlines()]
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "fediscope.engine.metrics", said)
    assert not [key for key in line if "said" in key]


QUIET = "quiet_days"
QUIET_SQL = ("-- question: On which days were toots posted?\n-- key: day\n-- rank: toots DESC\n"
             "SELECT CAST(created_at AS DATE) AS day, count(*) AS toots, avg(content_length) AS mean_length\n"
             "FROM statuses WHERE {condition} GROUP BY 1\n")


def _declared(tmp_path: Path, table: str) -> tuple[list[tuple[str, str]], int]:
    """A metric table's columns with their declared types, as a BI tool reads them, and its row count."""
    with sqlite3.connect(tmp_path / "store.db") as conn:
        columns = [(name, kind) for _, name, kind, *_ in conn.execute(f"PRAGMA table_info(metric_{table})")]
        return columns, conn.execute(f"SELECT count(*) FROM metric_{table}").fetchone()[0]  # noqa: S608


def test_an_own_metric_with_no_rows_has_its_table_with_typed_columns(cli_env: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A dashboard on a metric that has no rows (yet, or any more) finds its table, empty, with the columns and
    declared types it has with rows; before, the table was made only once there were rows, and a rows-to-none
    change of columns dropped it."""
    own = cli_env / "mine" / f"{QUIET}.sql"
    columns = [("day", "TEXT"), ("toots", "BIGINT"), ("mean_length", "DOUBLE")]
    for condition, rows in (("false", False), ("true", True), ("false", False)):
        own.write_text(QUIET_SQL.format(condition=condition))
        registry.load_metrics.cache_clear()
        code, out, err = run(capsys, "process", "--json")
        assert code == 0, err
        assert (json.loads(out)["metrics"][QUIET]["rows"] > 0) == rows
        declared, count = _declared(cli_env, QUIET)
        assert declared == columns and (count > 0) == rows


def test_an_own_metric_file_changed_in_a_long_lived_process_is_read_again(tmp_path: Path) -> None:
    """Was: the files were read once per process (a notebook editing its own metric ran the first SQL it read, and a
    deleted file's metric was still computed)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    path = mine / f"{OWN}.sql"
    path.write_text(OWN_SQL)
    assert registry.load_metrics(own_dir=mine)[OWN].rank_column == "toots"
    path.write_text(OWN_SQL.replace("-- rank: toots DESC\n", "").replace("count(*)", "count(DISTINCT id)"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later time stamp, whatever the clock's grain
    changed = registry.load_metrics(own_dir=mine)[OWN]
    assert changed.rank_column is None and "count(DISTINCT id)" in changed.sql
    (mine / "second.sql").write_text(OWN_SQL)
    assert sorted(registry.load_metrics(own_dir=mine)) == sorted([*registry.load_metrics(), OWN, "second"])
    path.unlink()
    assert OWN not in registry.load_metrics(own_dir=mine)
    assert registry.load_metrics(own_dir=mine) is registry.load_metrics(own_dir=mine)  # unchanged: read once
