"""``fediscope gdpr erase`` and the temporary files that writes killed before their rename leave in the raw lake.

A collector lands a batch by writing it to a hidden ``.<name>.<random>.tmp`` beside its target and renaming it into
place (:meth:`~fediscope.lake.local.LocalLake.write_atomic`). ``fediscope collect`` killed in between leaves that file:
the batch's records, the account's among them, which no reader sees. Was: the erasure did not look at such files, so
the account's records stayed there until ``fediscope gdpr retention`` removed day-old temporary files (and for good
where retention is never run), and the erasure said nothing of them. Collectors take no lake lock, so a young one
may be a write under way: it is left, and named in a warning (test_gdpr_erase_unfinished_writes: what the erasure
then does about the account's records in it).

The temporary files are made by the backend's own temporary-file writer from the bytes of a landed batch holding the
account, as a collector killed between writing and renaming that batch leaves them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gdpr_lake import SUBJECT, files_holding

from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.opt_outs import pending_opt_outs
from fediscope.gdpr.suppression import SUPPRESSED_PATH
from fediscope.lake.debris import STALE_AFTER_SECONDS
from fediscope.lake.local import LocalLake


def _killed_write(batch: Path, age_seconds: float) -> Path:
    """The temporary file a write of ``batch``'s bytes killed before its rename leaves, last written ``age_seconds``
    ago."""
    temporary = Path(LocalLake._write_temporary(batch, batch.read_bytes()))
    written = time.time() - age_seconds
    os.utime(temporary, (written, written))
    return temporary


def test_an_erasure_removes_the_day_old_temporary_files_of_killed_writes_and_names_the_younger_ones(
        landed, run_cli) -> None:  # noqa: ANN001
    key = landed.key(SUBJECT)
    batches = sorted(files_holding([landed.lake_dir / "raw"], [key]))
    assert len(batches) >= 2
    stale = _killed_write(Path(batches[0]), STALE_AFTER_SECONDS + 60)
    young = _killed_write(Path(batches[1]), 60)
    assert {str(stale), str(young)} <= set(files_holding([landed.lake_dir], [key]))

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")

    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["other"]["temporary_files_removed"] == 1
    assert not stale.exists()
    assert young.exists()  # perhaps a collection's write under way: never touched
    relative = young.relative_to(landed.lake_dir).as_posix()
    assert [w for w in report["warnings"] if relative in w and "holds the account's records" in w]
    assert report["unfinished_writes"] == [relative]
    _, notes = pending_opt_outs(landed.lake)  # the next curation erases it once landed (test_gdpr_erase_unfinished…)
    assert set(files_holding([landed.lake_dir], [key])) == {  # where the pseudonym stays by design, and the young one
        str(landed.lake_dir / AUDIT_PATH), str(landed.lake_dir / SUPPRESSED_PATH), str(young),
        *(str(landed.lake_dir / note) for note in notes)}

    os.utime(young, (time.time() - STALE_AFTER_SECONDS - 60,) * 2)  # a day later: a killed write's, left for good
    again = json.loads(run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json").out)
    assert again["other"]["temporary_files_removed"] == 1 and not again["warnings"]
    assert not young.exists()
    assert pending_opt_outs(landed.lake) == (set(), [])  # the note went with the key (fediscope.gdpr.opt_outs)
