"""``fediscope gdpr export`` holds the lake lock (fediscope.lake.lock) while it reads, as ``gdpr erase`` and
``fediscope process`` do while they write: an erasure finishing during an export made its answer stale (rows listed
that were gone, beside others read after). While another run holds the lock the export stops at once with the one
line the other commands give (exit 1), and writes nothing.

A real local lake landed from the recorded Mastodon payloads (gdpr_lake), the real CLI in-process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import SUBJECT
from lock_holders import lock_document

from fediscope.errors import LakeLockedError
from fediscope.gdpr import export as export_module
from fediscope.gdpr.export import export_account
from fediscope.lake.lock import lock_path, lock_status


def test_the_export_fails_at_once_while_an_erasure_holds_the_lock(landed: Any, run_cli: Any, tmp_path: Path,
                                                                   live_pid: int) -> None:
    landed.lake.write_atomic(lock_path(), lock_document(live_pid, command="fediscope gdpr erase"))
    out = tmp_path / "export.json"

    with pytest.raises(LakeLockedError, match=rf"fediscope gdpr erase \(pid {live_pid} on host "):
        export_account(landed.settings, SUBJECT)
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))

    assert result.code == 1 and result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert lines[0].startswith(f"fediscope: error: the lake {landed.lake_dir} is locked by another run: "
                               f"fediscope gdpr erase (pid {live_pid} on host ")
    assert lines[0].endswith("Wait for it to finish, or run `fediscope lake unlock` if that process is gone")
    assert not out.exists()  # no partial answer
    assert json.loads(landed.lake.read(lock_path()))["pid"] == live_pid  # the holder's lock is left as it was


def test_the_export_holds_the_lock_while_it_reads_and_releases_it(landed: Any, run_cli: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []
    notes_about = export_module.notes_about

    def noting_the_lock(lake: Any, keys: Any) -> Any:
        status = lock_status(lake)
        seen.append(status.holder.command if status else None)
        return notes_about(lake, keys)

    monkeypatch.setattr(export_module, "notes_about", noting_the_lock)
    out = tmp_path / "export.json"
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))

    assert result.code == 0, result.err
    assert json.loads(out.read_text())["account_key"] == landed.key(SUBJECT)
    assert seen == ["fediscope gdpr export"]  # held while the lake is read
    assert lock_status(landed.lake) is None  # and released
