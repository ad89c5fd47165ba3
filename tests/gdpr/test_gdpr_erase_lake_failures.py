"""``fediscope gdpr erase``, and the opt-out erasure of ``fediscope process``, stopped by the lake: the message says the
erasure is unfinished and how to finish it, as a store failure's does (:func:`fediscope.gdpr.erase.unfinished`).

Was: the lake's error alone (``fediscope: error: cannot write <lake>/raw/…: Permission denied``), exit 1, though the
account was on the suppression list already, some files rewritten and what the run found kept in
``<lake>/_state/erasing_traces.json``: nothing told the user that running the same command again finishes it.

The failure is a real one: the raw lake's directories are read-only and the erasure runs in a child process that
permission bits stop (:func:`permissions.without_dac_rights`, also as root), through the real entry point; the
erasure run again, the directories writable again, runs in-process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gdpr_lake import KEY, SUBJECT, files_holding
from permissions import without_dac_rights

from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.opt_outs import OPT_OUTS_ROOT, note_opt_outs, pending_opt_outs
from fediscope.gdpr.resume import TRACES_PATH
from fediscope.gdpr.suppression import SUPPRESSED_PATH

ROOT = Path(__file__).resolve().parents[2]


def _unfinished_in_lake(lake_dir: Path) -> str:
    return ("; the erasure is unfinished: the account is on the suppression list, but the lake may still hold some of "
            "its records and the store its rows, and no audit line was written; run the same command again once "
            "that is fixed: it finishes the erasure, starting from what this run found (kept in "
            f"{lake_dir}/{TRACES_PATH})")


@pytest.fixture()
def read_only_raw(landed) -> Iterator[list[Path]]:  # noqa: ANN001
    """Every directory of the landed lake's raw part made read-only (made writable again afterwards)."""
    directories = sorted((p for p in (landed.lake_dir / "raw").rglob("*") if p.is_dir()), reverse=True)
    for directory in directories:
        directory.chmod(0o555)
    yield directories
    for directory in directories:
        directory.chmod(0o755)


def _run_in_child(env, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    """``fediscope ARGS…`` in a child that permission bits stop, on ``env``'s lake and store."""
    variables = {name: value for name, value in os.environ.items() if not name.startswith("FEDISCOPE_")}
    variables.update(FEDISCOPE_LAKE=str(env.lake_dir), FEDISCOPE_STORE=env.settings.store,
                     FEDISCOPE_PSEUDONYM_KEY=KEY, PYTHONPATH=str(ROOT))
    return subprocess.run([*without_dac_rights(), sys.executable, "-m", "fediscope", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=variables, stdin=subprocess.DEVNULL)


def test_a_lake_that_refuses_a_write_says_the_erasure_is_unfinished_and_running_it_again_finishes_it(
        landed, read_only_raw: list[Path], run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    key = landed.key(SUBJECT)
    assert files_holding([landed.lake_dir / "raw"], [key])

    stopped = _run_in_child(landed, tmp_path, "gdpr", "erase", "--account", SUBJECT, "--yes")

    assert stopped.returncode == 1 and stopped.stdout == "" and "Traceback" not in stopped.stderr, stopped.stderr
    [line] = stopped.stderr.splitlines()
    assert line.startswith(f"fediscope: error: cannot write {landed.lake_dir}/raw/"), line
    assert "Permission denied" in line, line
    assert line.endswith(_unfinished_in_lake(landed.lake_dir)), line
    assert [landed.lake.exists(path) for path in (SUPPRESSED_PATH, TRACES_PATH, AUDIT_PATH)] == [True, True, False]
    assert files_holding([landed.lake_dir / "raw"], [key])  # what the message says: the lake may still hold them

    for directory in read_only_raw:  # fixed
        directory.chmod(0o755)
    finished = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")  # the same command again: as it says
    assert finished.code == 0, finished.err
    assert finished.out.startswith(f"erased account {key}")
    assert [landed.lake.exists(path) for path in (SUPPRESSED_PATH, TRACES_PATH, AUDIT_PATH)] == [True, False, True]
    assert not files_holding([landed.lake_dir / "raw"], [key])


def test_a_lake_that_refuses_the_audit_line_says_the_account_is_erased_but_the_erasure_unfinished(
        landed, run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    """Stopped after the store pass (the audit log's folder read-only), the message says what is done (the lake and
    the store) and what may not be (the audit line, the opt-out notes), and the same command finishes it."""
    key = landed.key(SUBJECT)
    audit = landed.lake_dir / "_audit"
    audit.mkdir(exist_ok=True)
    audit.chmod(0o555)
    try:
        stopped = _run_in_child(landed, tmp_path, "gdpr", "erase", "--account", SUBJECT, "--yes")
    finally:
        audit.chmod(0o755)

    assert stopped.returncode == 1 and stopped.stdout == "" and "Traceback" not in stopped.stderr, stopped.stderr
    line = stopped.stderr.splitlines()[-1]
    assert line.startswith(f"fediscope: error: cannot write {audit}/"), line
    assert line.endswith(
        "; the erasure is unfinished: the account is erased from the lake and the store (it is on the suppression "
        "list), but the audit line and the removal of the account's key from pending opt-out notes may not be done; "
        "run the same command again once that is fixed: it finishes the erasure, starting from what this run found "
        f"(kept in {landed.lake_dir}/{TRACES_PATH})"), line
    assert [landed.lake.exists(path) for path in (SUPPRESSED_PATH, TRACES_PATH, AUDIT_PATH)] == [True, True, False]
    assert not files_holding([landed.lake_dir / "raw"], [key])  # as it says: erased from the lake

    finished = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")  # the same command again: as it says
    assert finished.code == 0, finished.err
    assert [landed.lake.exists(path) for path in (SUPPRESSED_PATH, TRACES_PATH, AUDIT_PATH)] == [True, False, True]


def test_an_opt_out_erasure_the_lake_stops_says_it_is_unfinished_and_the_next_process_finishes_it(
        landed, read_only_raw: list[Path], run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    """The opt-out erasure that ``fediscope process`` runs before it curates (:mod:`fediscope.gdpr.opt_outs`), stopped
    by the lake, says what ``fediscope gdpr erase`` says, with ``fediscope process`` to run again. Was: the lake's
    error alone."""
    for directory in read_only_raw:  # processed first, the lake writable
        directory.chmod(0o755)
    assert run_cli("process").code == 0
    key = landed.key(SUBJECT)
    note_opt_outs(landed.lake, [key], "stream")  # the account opted out after it was landed
    for directory in read_only_raw:
        directory.chmod(0o555)

    stopped = _run_in_child(landed, tmp_path, "process")

    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr
    line = stopped.stderr.splitlines()[-1]
    assert line.startswith(f"fediscope: error: cannot write {landed.lake_dir}/raw/"), line
    assert line.endswith(
        "; the erasure is unfinished: the lake may still hold records of 1 account, landed before their opt-out (or "
        "after their erasure by `fediscope gdpr erase`), as the notes in "
        f"{landed.lake_dir}/{OPT_OUTS_ROOT} still say; run `fediscope process` again once that is fixed: it finishes "
        "the erasure"), line
    assert pending_opt_outs(landed.lake)[0] == {key}  # what the message says: the notes are still there

    for directory in read_only_raw:  # fixed
        directory.chmod(0o755)
    assert run_cli("process").code == 0  # as it says
    assert pending_opt_outs(landed.lake) == (set(), [])
    assert not files_holding([landed.lake_dir / "raw", landed.lake_dir / "curated"], [key])
