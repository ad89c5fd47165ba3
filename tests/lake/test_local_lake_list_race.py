"""``LocalLake.list`` while another process changes the directory: an entry (or the directory itself) removed
between reading the directory and looking at the entry is left out, as ``walk`` leaves it out, instead of a
FileNotFoundError out of ``list``.

The race is made deterministic by removing the file (or directory) at the exact moment ``list`` reaches it:
``Path.stat`` of that one path (and ``Path.iterdir`` of the directory) first removes it, as the concurrent
process would have just then. Everything else is the real backend on a real directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fediscope.lake.local import LocalLake


def remove_before(monkeypatch: pytest.MonkeyPatch, method: str, victim: Path, remove: Callable[[Path], Any]) -> None:
    """``Path.<method>`` of ``victim`` first removes it (once), then does what it does."""
    original = getattr(Path, method)
    removed: list[Path] = []

    def racing(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == victim and not removed:
            removed.append(self)
            remove(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, racing)


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[LocalLake]:
    directory = tmp_path / "lake" / "raw" / "statuses"
    directory.mkdir(parents=True)
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (directory / name).write_text(name)
    (directory / "sub").mkdir()
    yield LocalLake(tmp_path / "lake")


def test_a_file_removed_while_it_is_listed_is_left_out(lake: LocalLake, monkeypatch: pytest.MonkeyPatch) -> None:
    remove_before(monkeypatch, "stat", lake.root / "raw/statuses/b.jsonl", Path.unlink)
    entries = lake.list("raw/statuses")
    assert [e.path for e in entries] == ["raw/statuses/a.jsonl", "raw/statuses/c.jsonl", "raw/statuses/sub"]
    assert [(e.is_dir, e.size) for e in entries] == [(False, 7), (False, 7), (True, 0)]


def test_a_directory_removed_while_it_is_listed_is_left_out(lake: LocalLake,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    remove_before(monkeypatch, "stat", lake.root / "raw/statuses/sub", Path.rmdir)
    assert [e.path for e in lake.list("raw/statuses")] == [f"raw/statuses/{n}" for n in ("a.jsonl", "b.jsonl",
                                                                                          "c.jsonl")]


def test_a_directory_removed_before_it_is_read_lists_as_empty(lake: LocalLake,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    remove_before(monkeypatch, "iterdir", lake.root / "raw/statuses", shutil.rmtree)
    assert lake.list("raw/statuses") == []
    assert lake.list("raw") == []  # and it is really gone: nothing of it is listed
