"""``fediscope gdpr erase`` stopped by its store: the message says how far the erasure got and how to finish it.

Was: only the store's error (``HBase at …: could not delete from account_engagement: …``), exit 1, though the
lake's part was done, the account suppressed and what the run found kept in ``<lake>/_state/erasing_traces.json``
for a run again: read as a failed erasure to start over some other way, or as done but for one table. Now a store
that fails in the store pass adds that the erasure is unfinished, what is done and not, and to run the same command
again; a store that fails when it is opened, before anything is touched, adds that nothing was erased.

The store is the HBase Thrift double (a server of this test's own, so that it can be stopped), written by a real
``fediscope process`` of the recordings; its failures are real ones: ``fail`` refuses one write call, ``stop`` ends
the server. A SQLite store with a metric's table dropped by hand fails as it would. The erasure runs through the
real CLI entry point, in-process.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from doubles.hbase_thrift_server import HBaseThriftDouble
from gdpr_lake import SUBJECT, files_holding

from fediscope.engine.process import run_process
from fediscope.gdpr.erase import AUDIT_PATH, stored_metrics
from fediscope.gdpr.resume import TRACES_PATH
from fediscope.gdpr.suppression import SUPPRESSED_PATH
from fediscope.lake.local import LocalLake
from fediscope.store.hbase import close_pools
from fediscope.store.port import store_from_settings

ERASE = ("gdpr", "erase", "--account", SUBJECT, "--yes")
NOTHING_ERASED = "; nothing was erased: run the same command again once that is fixed"


def _unfinished(lake_dir: object) -> str:
    return ("; the erasure is unfinished: its lake part is done (the account is on the suppression list), but the "
            "store may still hold the account's rows and no audit line was written; run the same command again "
            "once that is fixed: it finishes the erasure, starting from what this run found (kept in "
            f"{lake_dir}/{TRACES_PATH})")


@pytest.fixture()
def on_hbase(landed, run_cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, HBaseThriftDouble, str]]:
    """The landed recordings processed into an HBase store of a Thrift server of this test's own; the CLI's
    environment (``run_cli``) points at it. Yields the env, the server and the table prefix."""
    with HBaseThriftDouble() as hbase:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        landed.settings = landed.settings.replace(store=hbase.url, hbase_table_prefix=prefix)
        run_process(landed.settings, progress=False)
        close_pools()  # the erasure is a process of its own: no connection of the processing's to reuse
        monkeypatch.setenv("FEDISCOPE_STORE", hbase.url)
        monkeypatch.setenv("FEDISCOPE_HBASE_TABLE_PREFIX", prefix)
        yield landed, hbase, prefix
        close_pools()


def _subject_rows(env) -> list[str]:  # noqa: ANN001
    """Every stored row naming the subject's pseudonym (in the store of ``env``'s settings: its table prefix)."""
    key, store = env.key(SUBJECT), store_from_settings(env.settings, read_only=True)
    try:
        rows = [json.dumps(row, default=str) for metric in stored_metrics(store).values() for row in store.all(metric)]
    finally:
        store.close()
    return [row for row in rows if key in row]


def _state(env) -> dict[str, bool]:  # noqa: ANN001
    return {"suppressed": env.lake.exists(SUPPRESSED_PATH), "traces kept": env.lake.exists(TRACES_PATH),
            "audit line": env.lake.exists(AUDIT_PATH)}


@pytest.mark.parametrize(("call", "table", "skip", "some_deleted"), [
    ("mutateRows", "_account_engagement", 0, False),  # deleting the account's rows from the first metric's table
    ("mutateRows", "_top_toots", 0, True),  # from a later metric's, after other metrics' rows were deleted
    ("checkAndPut", "-catalog", 2, True),  # taking the second metric's write lease
], ids=["first-deletion", "later-deletion", "lease"])
def test_a_call_the_store_refuses_says_the_erasure_is_unfinished_and_running_it_again_finishes_it(
        on_hbase, run_cli, call: str, table: str, skip: int, some_deleted: bool) -> None:  # noqa: ANN001
    env, hbase, prefix = on_hbase
    before = _subject_rows(env)
    assert before
    hbase.fail(call, prefix + table, skip=skip)

    stopped = run_cli(*ERASE)
    assert stopped.code == 1 and stopped.out == "" and "Traceback" not in stopped.err
    [line] = stopped.err.splitlines()
    assert line.startswith(f"fediscope: error: HBase at 127.0.0.1:{hbase.port}: could not "), line
    assert f"java.io.IOException: injected failure of {call}" in line, line
    assert line.endswith(_unfinished(env.lake_dir)), line
    assert _state(env) == {"suppressed": True, "traces kept": True, "audit line": False}
    left = _subject_rows(env)  # what the message says: the store may still hold the account's rows
    assert left and (len(left) < len(before)) == some_deleted, (len(left), len(before))

    finished = run_cli(*ERASE)  # the same command again, the store working: as it says
    assert finished.code == 0, finished.err
    assert finished.out.startswith(f"erased account {env.key(SUBJECT)}")
    assert _state(env) == {"suppressed": True, "traces kept": False, "audit line": True}
    assert _subject_rows(env) == []


def test_a_store_down_from_the_start_says_nothing_was_erased(on_hbase, run_cli) -> None:  # noqa: ANN001
    env, hbase, _prefix = on_hbase
    hbase.stop()
    result = run_cli(*ERASE)
    assert result.code == 1 and "Traceback" not in result.err
    [line] = result.err.splitlines()
    assert line.startswith(f"fediscope: error: HBase at 127.0.0.1:{hbase.port}: could not connect"), line
    assert line.endswith(NOTHING_ERASED), line
    assert _state(env) == {"suppressed": False, "traces kept": False, "audit line": False}


def test_a_sqlite_table_dropped_by_hand_says_the_erasure_is_unfinished_keeping_the_errors_type(
        landed, run_cli) -> None:  # noqa: ANN001
    """A table dropped by hand (its fix: `fediscope process`, then the erasure again), in --json: the error document
    keeps the store error's type."""
    run_process(landed.settings, progress=False)
    with sqlite3.connect(landed.db) as db:
        db.execute("DROP TABLE metric_account_engagement")
    db.close()
    result = run_cli(*ERASE, "--json")
    assert result.code == 1 and "Traceback" not in result.err
    error = json.loads(result.out)["error"]
    assert error["type"] == "MissingTableError", error
    assert error["message"].startswith(f"store sqlite:///{landed.db}: metric account_engagement: its table "
                                       "metric_account_engagement is missing (dropped by hand?): run `fediscope "
                                       "process` to write it again"), error
    assert error["message"].endswith(_unfinished(landed.lake_dir)), error
    assert _state(landed) == {"suppressed": True, "traces kept": True, "audit line": False}


def test_the_warnings_said_before_the_store_stopped_the_erasure_are_printed_with_its_error(
        landed, run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    """Warnings the erasure gathered before its store stopped it (here: a young temporary file of a raw batch's
    write holding the account, left in place; a FEDISCOPE_METRICS_DIR that is gone, ignored) are printed before the
    error line. Was: lost with the report, only the error was printed."""
    run_process(landed.settings, progress=False)
    batch = Path(sorted(files_holding([landed.lake_dir / "raw"], [landed.key(SUBJECT)]))[0])
    young = Path(LocalLake._write_temporary(batch, batch.read_bytes()))  # a write killed before its rename
    with sqlite3.connect(landed.db) as db:
        db.execute("DROP TABLE metric_account_engagement")
    db.close()
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(tmp_path / "gone"))

    result = run_cli(*ERASE)

    assert result.code == 1 and result.out == "" and "Traceback" not in result.err
    *warnings, error = result.err.splitlines()
    assert error.startswith("fediscope: error: store sqlite:///") and error.endswith(_unfinished(landed.lake_dir))
    assert len(warnings) == 2 and all(w.startswith("fediscope: warning: ") for w in warnings), warnings
    assert "FEDISCOPE_METRICS_DIR" in warnings[0] and "is ignored" in warnings[0], warnings
    relative = young.relative_to(landed.lake_dir).as_posix()
    assert relative in warnings[1] and "holds the account's records" in warnings[1], warnings
