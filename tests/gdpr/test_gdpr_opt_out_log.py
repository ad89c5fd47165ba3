"""The warning an opt-out erasure logs counts what the audit line counts.

Was: "(N raw records, M curated rows)" summed every curated counter (rows removed, rows scrubbed, files
rewritten, files deleted), so M was more than the audit's ``rows_removed``. The recordings landed and
processed (DuckDB, SQLite); the subject is the author of the recorded status the recorded reply answers.
"""

from __future__ import annotations

import json
import re

import pytest
from gdpr_lake import SUBJECT

from fediscope.engine.process import run_process
from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.opt_outs import apply_opt_outs, note_opt_outs


def test_the_logged_counts_are_the_audited_removals(landed, caplog: pytest.LogCaptureFixture) -> None:
    run_process(landed.settings, progress=False)
    note_opt_outs(landed.lake, [landed.key(SUBJECT)], "collect")

    with caplog.at_level("WARNING", logger="fediscope.gdpr.opt_outs"):
        report = apply_opt_outs(landed.lake)

    (audit,) = [json.loads(line) for line in landed.lake.read(AUDIT_PATH).decode().splitlines()]
    assert audit["curated"]["rows_removed"] > 0
    assert sum(audit["curated"].values()) > audit["curated"]["rows_removed"]  # files rewritten are counted apart
    (line,) = [r.getMessage() for r in caplog.records if "opted out after records" in r.getMessage()]
    counts = re.search(r"\((\d+) raw records, (\d+) curated rows\)", line)
    assert counts is not None, line
    assert (int(counts.group(1)), int(counts.group(2))) == (audit["raw"]["records_removed"],
                                                            audit["curated"]["rows_removed"])
    assert report.curated == audit["curated"]
