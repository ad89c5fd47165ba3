"""fediscope from Python, as a notebook uses it (:mod:`fediscope.python_api`): settings built in code, the pipeline
called again and again in one long-lived interpreter, from the main thread and a worker thread, and Ctrl-C.

Found by walking it: ``run_process`` interrupted by Ctrl-C raised ``RuntimeError: Query interrupted`` (DuckDB's),
not KeyboardInterrupt, and only when DuckDB next looked (a long query ran on for a minute and more); an own metric
file edited (or deleted) between two runs in one interpreter was run as first read (``load_metrics`` cached it for
the life of the process); settings given from code were taken unchecked (``engine="sprak"``), and
``load_settings(env={})`` still read a ``./fediscope.toml`` of whatever directory the notebook started in.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from child_process import child

from fediscope import python_api as fs
from fediscope.engine.metrics import load_metrics
from fediscope.errors import ConfigError, NoLakeError, StoreError
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.landing import write_raw_lake

ROOT = Path(__file__).resolve().parent.parent
KEY = b"python-api-tests-pseudonym-key-5b0e27c9a4"


def land(lake: Path, statuses: int = 200) -> Path:
    """A generated corpus landed in ``lake`` as the collectors would (privacy applied)."""
    write_raw_lake(LocalLake(lake), statuses, seed=5, policy=PrivacyPolicy(key=KEY))
    return lake


PER_LANGUAGE = "FROM statuses WHERE language IS NOT NULL GROUP BY language"


def own_metric(directory: Path, sql: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "toots_per_language.sql"
    path.write_text(f"-- question: How many toots in each language?\n-- key: language\n-- rank: toots DESC\n{sql}\n")
    return path


@pytest.fixture
def no_outside_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A notebook started in ``tmp_path``, whose environment names another lake and whose directory holds a
    fediscope.toml that cannot be read: settings built in code must use neither."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEDISCOPE_LAKE", str(tmp_path / "not-this-lake"))
    monkeypatch.setenv("FEDISCOPE_ENGINE", "spark")
    (tmp_path / "fediscope.toml").write_text("[fediscope]\nnot_a_setting = 1\n")
    return tmp_path


def test_settings_built_in_code_read_neither_the_environment_nor_the_current_directory(
        no_outside_config: Path) -> None:
    settings = fs.settings(lake=no_outside_config / "lake", store="sqlite:///metrics.db")
    assert (settings.lake, settings.store, settings.engine) == (str(no_outside_config / "lake"),
                                                                "sqlite:///metrics.db", "duckdb")
    with pytest.raises(ConfigError, match=r"fediscope.toml: unknown setting \[fediscope\] 'not_a_setting'"):
        fs.settings(environment=True)  # as the commands read them
    (no_outside_config / "fediscope.toml").unlink()
    assert fs.settings(environment=True).engine == "spark"


def test_settings_read_from_the_environment_warn_of_a_mistyped_variable_as_the_commands_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Was: only the commands warned (tests/cli/test_unknown_variables_cli.py); a notebook reading the environment
    got the default backfill depth without a word. Variables read by name that are not settings are no finding."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("FEDISCOPE_")]:
        monkeypatch.delenv(name)
    for name, value in {"FEDISCOPE_BACKFIL_PAGES": "1000", "FEDISCOPE_TOKEN_MASTODON_SOCIAL": "t" * 43,
                        "FEDISCOPE_BACKFILL_PAGES": "3"}.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.WARNING)

    assert fs.settings(environment=True).backfill_pages == 3
    assert [(r.name, r.levelno, r.getMessage(), r.variable) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("fediscope.python_api", logging.WARNING,
         "FEDISCOPE_BACKFIL_PAGES: unknown variable, ignored: did you mean FEDISCOPE_BACKFILL_PAGES?",
         "FEDISCOPE_BACKFIL_PAGES")]
    caplog.clear()
    fs.settings(lake=tmp_path / "lake")  # the environment not read: nothing in it to warn of
    assert caplog.records == []


def test_settings_given_in_code_are_checked_as_the_variables_are(no_outside_config: Path) -> None:
    with pytest.raises(ConfigError, match=r"^the 'engine' argument is invalid: expected one of duckdb, spark, "
                                          r"got 'sprak'"):
        fs.settings(engine="sprak")
    with pytest.raises(ConfigError, match=r"^unknown setting 'lakes'; did you mean 'lake'\?$"):
        fs.settings(lakes="lake")
    with pytest.raises(ConfigError, match=r"^the 'duckdb_memory_limit' argument is invalid"):
        fs.settings(duckdb_memory_limit="lots")
    settings = fs.settings(privacy="off", engine="DuckDB", instances=("a.example", "b.example"))
    assert (settings.privacy, settings.engine, settings.instances) == (False, "duckdb", ("a.example", "b.example"))


def test_process_refuses_a_lake_without_data_and_creates_nothing(no_outside_config: Path) -> None:
    settings = fs.settings(lake="lake", store="sqlite:///out/metrics.db")
    with pytest.raises(NoLakeError, match=r"^no lake at .*lake: it does not exist; run `fediscope collect` first, "
                                          r"or point the 'lake' argument at the lake you collected into; the store "
                                          r"was not touched$"):
        fs.process(settings)
    assert sorted(p.name for p in no_outside_config.iterdir()) == ["fediscope.toml"]
    with pytest.raises(ConfigError, match=r"^since='last week' is not a date; use YYYY-MM-DD"):
        fs.process(settings, since="last week")


def test_errors_name_the_python_arguments_not_the_command_options(no_outside_config: Path) -> None:
    """Was: errors told a notebook to ``point --store / FEDISCOPE_STORE`` at a store, named ``--since … --until``,
    ``--recurate`` and ``--force``, and told it to ``point FEDISCOPE_CONFIG`` at the file given as ``config_file=``:
    options and variables its user does not have (without ``environment=True`` the variables are not even read).
    They name the arguments now, as the lake's errors already did."""
    missing = no_outside_config / "nowhere" / "metrics.db"
    for settings in (fs.settings(store=f"sqlite:///{missing}"), fs.settings()):  # a default store too
        with pytest.raises(StoreError, match=r"does not exist yet: .* or point the 'store' argument at an existing "
                                             r"one$"):
            fs.analyses(settings)
    with pytest.raises(StoreError, match=r"is a directory, not a database file: point the 'store' argument at a "
                                         r"file$"):
        fs.metric_rows(fs.settings(store=f"sqlite:///{no_outside_config}"), "languages")
    settings = fs.settings(lake=land(no_outside_config / "lake"), store="sqlite:///metrics.db")
    for arguments, said in [({"since": "2026-11-05", "until": "2026-11-01"},
                             "since=2026-11-05 is after until=2026-11-01"),
                            ({"since": "2026-11-05", "recurate": True},
                             "recurate=True curates every raw file: it cannot be combined with since/until"),
                            ({"allow_missing": True}, "allow_missing=True only applies to recurate=True")]:
        with pytest.raises(ConfigError, match=f"^{re.escape(said)}$"):
            fs.process(settings, **arguments)
    assert not (no_outside_config / "metrics.db").exists()
    with pytest.raises(ConfigError, match=r"^config file .*absent.toml does not exist; create it or point the "
                                          r"'config_file' argument at an existing file$"):
        fs.settings(config_file=no_outside_config / "absent.toml")
    with pytest.raises(ConfigError, match=r"^cannot read config file .*: .*; point the 'config_file' argument at a "
                                          r"readable TOML file$"):
        fs.settings(config_file=no_outside_config)


def test_an_interrupted_rebuild_is_refused_naming_the_call_that_finishes_it(no_outside_config: Path) -> None:
    """Was: "… a run limited by since/until cannot finish it; run `fediscope process --recurate`", a command for a
    notebook whose user calls process()."""
    from fediscope.engine.manifest import mark_rebuild_started

    lake = land(no_outside_config / "lake", statuses=60)
    settings = fs.settings(lake=lake, store="sqlite:///metrics.db")
    fs.process(settings)
    mark_rebuild_started(LocalLake(lake), False)  # a process(settings, recurate=True) stopped part-way
    with pytest.raises(ConfigError) as info:
        fs.process(settings, until="2099-01-01")
    assert str(info.value) == ("a rebuild of the curated tables (`process(settings, recurate=True)`) was interrupted "
                               "before it finished: a run limited by since/until cannot finish it; run "
                               "`process(settings, recurate=True)`")
    assert fs.process(settings, recurate=True).curate["rebuilt"]  # the call it names finishes it


def test_a_run_that_finishes_an_interrupted_rebuild_names_the_call_that_started_it(
        no_outside_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Was: "a rebuild of the curated tables (`fediscope process --recurate`) was interrupted …", the command's
    name for a notebook's process(settings, recurate=True)."""
    from fediscope.console import SAID
    from fediscope.engine.manifest import mark_rebuild_started, rebuild_interrupted

    lake = land(no_outside_config / "lake", statuses=60)
    settings = fs.settings(lake=lake, store="sqlite:///metrics.db")
    fs.process(settings)
    mark_rebuild_started(LocalLake(lake), False)  # a process(settings, recurate=True) stopped part-way
    started = (rebuild_interrupted(LocalLake(lake)) or {})["started_at"]
    with caplog.at_level(logging.WARNING, logger="fediscope.engine.curation"):
        assert fs.process(settings).curate["rebuilt"]  # a run not limited to some days finishes it
    (record,) = [r for r in caplog.records if r.name == "fediscope.engine.curation"]
    assert record.getMessage() == ("curation: a rebuild of the curated tables (`process(settings, recurate=True)`) "
                                   f"was interrupted before it finished (started {started}): this run finishes it")
    assert record.__dict__.get(SAID) is True  # the person who ran it is told, not a service's log


def _interpreter_state() -> tuple[object, ...]:
    """What a library call must leave as it found it: logging handlers, SIGINT's handler and the wakeup fd, the
    threads, the open file descriptors (each with what it is open on)."""
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    return (list(logging.getLogger().handlers), list(logging.getLogger("fediscope").handlers),
            signal.getsignal(signal.SIGINT), wakeup, {(t.ident, t.name) for t in threading.enumerate()},
            _open_descriptors())


def _open_descriptors() -> set[tuple[str, str]]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
    return found


def _left_behind(before: tuple[object, ...], after: tuple[object, ...]) -> tuple[object, ...]:
    """What changed, and what was started or opened and is still there. Threads and descriptors of the tests that
    ran before in this process (a server's connection threads) may end meanwhile: that is not this call's doing."""
    return (*(a for a, b in zip(after[:4], before[:4], strict=True) if a != b),
            after[4] - before[4], after[5] - before[5])  # type: ignore[operator]


def test_calls_again_and_again_from_the_main_thread_and_a_worker_leave_nothing_behind(
        no_outside_config: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    spill = no_outside_config / "tmp"
    spill.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spill))  # where DuckDB's spill directories go
    settings = fs.settings(lake=land(no_outside_config / "lake"), store="sqlite:///metrics.db")
    before = _interpreter_state()
    first = fs.process(settings)
    assert first.curate["raw_files"] > 0 and first.metric_rows > 0
    run = fs.analyses(settings, n=3)
    assert run.missing == [] and run.failed == {}
    languages = fs.analysis(settings, "languages", 3)
    assert languages.rows == run.get("languages").rows and len(languages.rows) == 4  # 3, and "other"
    assert set(languages.rows[0]) == {"language", "toots", "share"}
    assert fs.metric_rows(settings, "languages", 2) == [
        {k: row[k] for k in ("language", "toots", "share")} for row in fs.metric_rows(settings, "languages")[:2]]

    again: dict[str, object] = {}

    def worker() -> None:
        try:
            again["process"] = fs.process(settings)
            again["analyses"] = fs.analyses(settings, n=3)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            again["error"] = exc

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(60)
    assert "error" not in again, again
    assert again["process"].metrics_skipped  # type: ignore[attr-defined]
    assert [r.rows for r in again["analyses"].results] == [r.rows for r in run.results]  # type: ignore[attr-defined]
    assert fs.process(settings).metrics_skipped
    assert _left_behind(before, _interpreter_state()) == (set(), set())
    assert list(spill.iterdir()) == []
    assert capfd.readouterr() == ("", "")  # nothing printed unless asked (progress=True)


def test_an_own_metric_file_edited_between_two_runs_is_run_as_it_is_now(no_outside_config: Path) -> None:
    mine = no_outside_config / "mine"
    path = own_metric(mine, f"SELECT language, count(*) AS toots {PER_LANGUAGE}")
    settings = fs.settings(lake=land(no_outside_config / "lake"), store="sqlite:///metrics.db", metrics_dir=mine)
    fs.process(settings)
    counted = fs.metric_rows(settings, "toots_per_language")
    assert counted and all(row["toots"] > 0 for row in counted)
    own_metric(mine, f"SELECT language, 10 * count(*) AS toots {PER_LANGUAGE}")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later time stamp, whatever the clock's grain
    summary = fs.process(settings)
    assert not summary.metrics["toots_per_language"].reused
    assert fs.metric_rows(settings, "toots_per_language") == [{**row, "toots": 10 * row["toots"]} for row in counted]
    path.unlink()
    assert "toots_per_language" not in fs.process(settings).metrics
    with pytest.raises(StoreError, match="the store holds no metric nope: run `fediscope process`"):
        fs.metric_rows(settings, "nope")
    with pytest.raises(StoreError, match="the store holds no metric languagse: did you mean 'languages'\\? run "):
        fs.metric_rows(settings, "languagse")  # a typo: was only told to run fediscope process
    with pytest.raises(ConfigError, match="^no analysis named 'nope'; the analyses are: top_accounts, "):
        fs.analysis(settings, "nope")



def test_a_metric_read_from_an_empty_store_says_to_run_process(tmp_path: Path) -> None:
    """Was: ``… run `fediscope process` (fediscope.python_api.process) first, or see
    fediscope.python_api.analyses(settings).stored for those it holds``, and that call raised in turn (``holds no
    metrics yet``): an empty store holds none to list."""
    from fediscope.store.port import open_store

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()  # the store and its catalog, no metric yet
    settings = fs.settings(store=url)
    with pytest.raises(StoreError, match="holds no metrics yet"):
        fs.analyses(settings)
    with pytest.raises(StoreError) as raised:
        fs.metric_rows(settings, "languages")
    assert str(raised.value) == ("the store holds no metrics yet, so no metric languages: run `fediscope process` "
                                 "(fediscope.python_api.process) first")


def test_an_analysis_of_a_metric_this_version_does_not_read_is_a_store_error(tmp_path: Path) -> None:
    """A metric stored without a column its analysis reads (as another fediscope version stored it): was a bare
    ``KeyError: 'following_count'``; it is the one-line error ``fs.analyses`` lists under ``failed``, in the one
    wording of a stale metric (``fs.metric_rows``'s, the results API's 409 ``stale_metric``): it said "its SQL and
    fediscope/analysis.py disagree (re-run `fediscope process` after updating fediscope)", another case's words
    for the same fix."""
    from fediscope.analysis import metric
    from fediscope.store.port import open_store

    url = f"sqlite:///{tmp_path / 'older.db'}"
    store = open_store(url)
    try:
        store.write(metric("top_accounts_by_followers"),
                    [{"account_key": "a1", "instance": "one.example", "followers_count": 3}])
    finally:
        store.close()
    settings = fs.settings(store=url)
    failed = fs.analyses(settings).failed["top_accounts"]
    with pytest.raises(StoreError) as raised:
        fs.analysis(settings, "top_accounts")
    assert str(raised.value) == failed
    assert failed == ("metric top_accounts_by_followers in the store does not have what analysis top_accounts reads "
                      "(column 'following_count' missing), as when another fediscope version stored it; re-run "
                      "`fediscope process` (fediscope.python_api.process) with this version to store it again")


#: how fs.metric_rows refuses rows this version does not read, the reason between the brackets
STALE = re.compile(r"^metric languages in the store does not have what this fediscope version reads \((.+)\), as "
                   r"when another fediscope version stored it; re-run `fediscope process` "
                   r"\(fediscope\.python_api\.process\) with this version to store it again$")


@pytest.mark.parametrize(("change", "reason"), [
    ("UPDATE metric_languages SET toots = 'lots' WHERE language = 'en'",
     "invalid literal for int() with base 10: 'lots'"),
    ("ALTER TABLE metric_languages DROP COLUMN share", "no such column: metric_languages.share"),
], ids=["value-of-another-type", "column-missing"])
def test_rows_this_version_does_not_read_are_a_store_error_saying_to_store_them_again(tmp_path: Path, change: str,
                                                                                      reason: str) -> None:
    """A metric stored as another fediscope version stored it, no write going on: was the store's decoding
    ``ValueError: invalid literal for int()`` raised as it is (a column missing: the store's error, saying nothing
    of what to do), where the results API answers 409 ``stale_metric``. Every way of reading the rows says so."""
    import sqlite3

    from fediscope.analysis import metric
    from fediscope.store.port import open_store

    path = tmp_path / "older.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.write(metric("languages"), [{"language": "en", "toots": 3, "share": 0.75},
                                          {"language": "de", "toots": 1, "share": 0.25}])
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(change)
    settings = fs.settings(store=f"sqlite:///{path}")
    for read in (lambda: fs.metric_rows(settings, "languages"), lambda: fs.metric_rows(settings, "languages", 1),
                 lambda: fs.metric_rows(settings, "languages", prefix="en"),
                 lambda: fs.metric_rows(settings, "languages", 1, prefix="en")):
        with pytest.raises(StoreError) as raised:
            read()
        assert type(raised.value) is StoreError
        found = STALE.match(str(raised.value))
        assert found is not None, str(raised.value)
        assert reason in found.group(1)

#: A notebook's cell: fs.process over a lake with an own metric of one long DuckDB pipeline (about a minute), which
#: Ctrl-C stops; then the same settings once the metric file is gone. Prints what it saw on stdout.
NOTEBOOK = textwrap.dedent("""
    import signal, sys
    from pathlib import Path
    from fediscope import python_api as fs

    root = Path(sys.argv[1])
    slow = root / "mine" / "slow.sql"
    settings = fs.settings(lake=root / "lake", store=f"sqlite:///{root / 'metrics.db'}", metrics_dir=root / "mine")
    handler = signal.getsignal(signal.SIGINT)
    try:
        fs.process(settings, progress=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    except BaseException as exc:
        print("not KeyboardInterrupt:", type(exc).__name__, exc, flush=True)
    print("handler restored:", signal.getsignal(signal.SIGINT) is handler, "wakeup fd:", signal.set_wakeup_fd(-1))
    slow.unlink()
    summary = fs.process(settings)
    print("again:", "slow" not in summary.metrics, len(summary.metrics), flush=True)
""")


def test_ctrl_c_stops_process_at_once_as_keyboard_interrupt_and_the_next_call_goes_on(tmp_path: Path) -> None:
    land(tmp_path / "lake")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "slow.sql").write_text(
        "-- question: How long?\n-- key: n\nSELECT count(*) AS n FROM range(3000000000) t(i) WHERE hash(i) % 7 = 1\n")
    with child([sys.executable, "-c", NOTEBOOK, str(tmp_path)]) as process:
        assert process.stderr is not None
        for line in process.stderr:  # the progress lines: the metrics step starts after this one
            if line.startswith("process: curated"):
                break
        time.sleep(0.5)  # the slow metric runs
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = process.communicate(timeout=300)
        waited = time.monotonic() - sent
    assert process.returncode == 0, err
    assert out.splitlines() == ["KeyboardInterrupt", "handler restored: True wakeup fd: -1",
                                f"again: True {len(load_metrics())}"], err  # the built-in metrics, without slow
    assert waited < 20, f"ended {waited:.1f} s after Ctrl-C"


def _examples() -> list[tuple[str, str]]:
    """The Python examples of the docs: :mod:`fediscope.python_api`'s (its docstring's ``Example::`` block) and
    every ```python block of the README."""
    docstring = fs.__doc__ or ""
    block = docstring.split("::\n", 1)[1].splitlines()  # the literal block after "Example (…)::"
    module_example = textwrap.dedent("\n".join(itertools.takewhile(lambda line: not line or line[:4] == "    ", block)))
    readme = (ROOT / "README.md").read_text()
    return [("fediscope.python_api", module_example),
            *((f"README.md block {i + 1}", code) for i, code in
              enumerate(re.findall(r"^```python\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)))]


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[where for where, _ in _examples()])
def test_the_documented_python_examples_run_as_written(where: str, code: str, no_outside_config: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Each example runs verbatim in a directory holding ``demo-lake`` (what ``make demo`` leaves)."""
    (no_outside_config / "fediscope.toml").unlink()
    land(no_outside_config / "demo-lake")
    exec(compile(code, where, "exec"), {"__name__": "__main__"})  # noqa: S102 - the docs' own example
    out = capsys.readouterr().out
    assert "process (duckdb): curated" in out and "Top accounts" in out, out


def test_an_analysis_asked_by_a_metric_s_name_says_how_to_read_that_metric(tmp_path: Path) -> None:
    """Was: ``no analysis named 'toots_per_language'; the analyses are: …`` alone, though `fediscope report` shows
    one's own metric beside the analyses: a notebook asking for it (or a built-in metric by its table's name) was not
    told that ``fs.metric_rows`` reads it. A typo of an analysis' name is told the name meant. No store is opened."""
    mine = tmp_path / "mine"
    own_metric(mine, f"SELECT language, count(*) AS toots {PER_LANGUAGE}")
    settings = fs.settings(store=f"sqlite:///{tmp_path / 'not-created.db'}", metrics_dir=mine)
    with pytest.raises(ConfigError) as raised:
        fs.analysis(settings, "toots_per_language")
    assert str(raised.value).startswith(
        "no analysis named 'toots_per_language': it is a metric no analysis reads; read its rows with "
        "fediscope.python_api.metric_rows(settings, 'toots_per_language'). The analyses are: top_accounts, ")
    with pytest.raises(ConfigError) as raised:
        fs.analysis(settings, "hashtags_daily")
    assert str(raised.value).startswith(
        "no analysis named 'hashtags_daily': it is the metric of analysis hashtags_per_day; read its rows with "
        "fediscope.python_api.metric_rows(settings, 'hashtags_daily'). The analyses are: top_accounts, ")
    with pytest.raises(ConfigError, match="^no analysis named 'langauges' \\(did you mean 'languages'\\?\\); the "
                                          "analyses are: top_accounts, "):
        fs.analysis(settings, "langauges")
    assert not (tmp_path / "not-created.db").exists()
