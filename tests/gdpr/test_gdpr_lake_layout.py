"""``erase_account`` and ``export_account`` (the Python API of ``gdpr erase``/``export``) given the directory above
the lake: refused as ``gdpr retention`` refuses it (:func:`fediscope.lake.backend.require_lake_layout`), before the
lake lock creates ``_state/`` there and, for the erasure, before day-old temporary files anywhere below it are
removed. Was: ``require_lake`` alone, which a directory that exists passes."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import SUBJECT

from fediscope.errors import NoLakeError
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account


def _tree(root: Path) -> list[Path]:
    return sorted(path.relative_to(root) for path in root.rglob("*"))


@pytest.mark.parametrize(("run", "outcome"), [
    (lambda settings: erase_account(settings, SUBJECT), "nothing was erased"),
    (lambda settings: export_account(settings, SUBJECT), "nothing was exported"),
], ids=["erase", "export"])
def test_the_directory_above_the_lake_is_refused_touching_nothing(landed: Any, tmp_path: Path, run: Any,
                                                                  outcome: str) -> None:
    theirs = tmp_path / "work" / ".draft.a1b2c3d4.tmp"  # another program's temporary file, two days old
    theirs.parent.mkdir()
    theirs.write_text("someone's unsaved work")
    os.utime(theirs, (time.time() - 2 * 86400,) * 2)
    before = _tree(tmp_path)
    above = replace(landed.settings, lake=str(tmp_path))
    with pytest.raises(NoLakeError, match=r"^no lake at .*: it holds none of a lake's directories \(raw/, curated/, "
                                          r"quarantine/, _state/, _audit/\); point FEDISCOPE_LAKE .*at the lake's own "
                                          rf"directory, not one above it; {outcome}$"):
        run(above)
    assert _tree(tmp_path) == before and theirs.exists()
    run(landed.settings)  # the lake itself
