"""``fediscope gdpr export`` and ``gdpr erase`` on a store holding a metric this fediscope version does not read (a
value its column's type cannot hold, a column missing from its table: as when another version stored it). Was: the
store's decoding ``ValueError`` as a traceback (a column missing: the store's own error, not saying what to do). Now
one line, exit 1, worded as ``fediscope store export``, ``fs.metric_rows`` and the results API's 409 ``stale_metric``
word it; the erasure adds that it is unfinished."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from gdpr_lake import SUBJECT

from fediscope.engine.process import run_process
from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.resume import TRACES_PATH

CHANGES = {
    "value-of-another-type": ("UPDATE metric_account_engagement SET toots = 'lots'",
                              "invalid literal for int() with base 10: 'lots'"),
    "column-missing": ("ALTER TABLE metric_account_engagement DROP COLUMN toots",
                       "store sqlite:///{db}: could not read metric_account_engagement: no such column: "
                       "metric_account_engagement.toots"),
}


def _stale(reason: str) -> str:
    return (f"fediscope: error: metric account_engagement in the store does not have what this fediscope version "
            f"reads ({reason}), as when another fediscope version stored it; re-run `fediscope process` with this "
            "version to store it again")


@pytest.fixture(params=list(CHANGES))
def stale(request: pytest.FixtureRequest, landed):  # noqa: ANN001, ANN201
    """The landed recordings processed into the SQLite store, then its account_engagement table changed by hand;
    yields the env and the reason the message gives."""
    run_process(landed.settings, progress=False)
    change, reason = CHANGES[request.param]
    with contextlib.closing(sqlite3.connect(landed.db)) as db, db:
        db.execute(change)
    return landed, reason.format(db=landed.db)


def test_the_export_of_an_account_is_one_line_exit_1_and_writes_no_file(stale, run_cli, tmp_path) -> None:  # noqa: ANN001
    env, reason = stale
    out = tmp_path / "subject.json"
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))
    assert (result.code, result.out) == (1, "")
    assert result.err == _stale(reason) + "\n"
    assert not out.exists()


def test_the_export_of_an_account_names_a_metric_table_dropped_by_hand_as_store_export_does(landed, run_cli,
                                                                                            tmp_path) -> None:  # noqa: ANN001
    """"metric <name>: its table … is missing (dropped by hand?)" and the fix, after the store, one line, exit 1
    (tests/test_unreadable_metric_wording.py has the other readers)."""
    run_process(landed.settings, progress=False)
    with contextlib.closing(sqlite3.connect(landed.db)) as db, db:
        db.execute("DROP TABLE metric_account_engagement")
    out = tmp_path / "subject.json"
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"fediscope: error: store sqlite:///{landed.db}: metric account_engagement: its table "
                          "metric_account_engagement is missing (dropped by hand?): run `fediscope process` to write "
                          "it again (`fediscope store drop account_engagement` if no SQL file defines it any more); "
                          "`fediscope doctor` lists every missing table\n")
    assert not out.exists()


def test_the_erasure_says_it_is_unfinished(stale, run_cli) -> None:  # noqa: ANN001
    env, reason = stale
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert (result.code, result.out) == (1, "")
    [line] = result.err.splitlines()
    assert line.startswith(_stale(reason) + "; the erasure is unfinished: its lake part is done"), line
    assert env.lake.exists(TRACES_PATH) and not env.lake.exists(AUDIT_PATH)


@pytest.mark.parametrize("damage", list(CHANGES))
def test_the_erasure_finishes_once_fediscope_process_stored_the_metric_again(landed, run_cli, damage) -> None:  # noqa: ANN001
    """What the message says to do mends it: ``fediscope process`` (which compares every metric with the store in
    full: the erasure forgot the kept results) writes the metric again, and the erasure run again finishes. Was, for a
    column dropped by hand: ``fediscope process`` failed reading the table it would update (``no such column``)."""
    run_process(landed.settings, progress=False)
    change, reason = CHANGES[damage]
    with contextlib.closing(sqlite3.connect(landed.db)) as db, db:
        db.execute(change)
    stopped = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert stopped.code == 1 and stopped.err.startswith(_stale(reason.format(db=landed.db)) + "; "), stopped.err
    run_process(landed.settings, progress=False)
    finished = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert finished.code == 0, finished.err
    assert landed.lake.exists(AUDIT_PATH) and not landed.lake.exists(TRACES_PATH)
