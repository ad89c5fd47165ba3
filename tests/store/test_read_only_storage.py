"""A SQLite store on storage the reader cannot write (a read-only mount, another account's directory). A store
left in WAL mode could not be read there: its WAL index (``-shm``) must be made beside it ("attempt to write a
readonly database"). Its writer leaves it in rollback-journal mode when it closes it, which such a reader reads
under a shared lock; one still in WAL mode (a writer running or killed) is an error saying what to do.

The reads run in a child process that cannot write the directory: as another user would, through the directory's
permission bits; as root (which permissions do not stop) with the capabilities that bypass them dropped
(``setpriv``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from permissions import without_dac_rights

from fediscope.analysis import metric
from fediscope.store.port import open_store

_READ = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from fediscope.analysis import metric
from fediscope.errors import FediscopeError
from fediscope.store.port import open_store
try:
    store = open_store("sqlite:///" + sys.argv[1], read_only=True)
    print(json.dumps({"stored": store.stored_metrics(), "top": store.top(metric("languages"), 100)}))
except FediscopeError as exc:
    print(json.dumps({"error": str(exc)}))
"""


@pytest.fixture()
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "share"
    directory.mkdir()
    yield directory
    directory.chmod(0o755)


def _read_in_child(path: Path, directory_mode: int = 0o555) -> tuple[dict[str, Any], str]:
    """What the child read (or its error), and its log."""
    path.parent.chmod(directory_mode)
    try:
        done = subprocess.run([*without_dac_rights(), sys.executable, "-c", _READ, str(path)],
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    finally:
        path.parent.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert not list(path.parent.glob("*-shm")), "the reader created the WAL index: the directory was writable"
    return json.loads(done.stdout), done.stderr


def _write(url: str, rows: list[dict[str, Any]]) -> None:
    store = open_store(url)
    try:
        store.write(metric("languages"), rows)
    finally:
        store.close()


def test_a_store_on_storage_the_reader_cannot_write_reads_as_written(
        read_only_dir: Path, sample_metric_rows: dict[str, list[Any]]) -> None:
    path = read_only_dir / "metrics.db"
    _write(f"sqlite:///{path}", sample_metric_rows["languages"])
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["metrics.db"]  # closed: no -wal, no -shm
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # was: wal, at rest too
    conn.close()
    expected = open_store(f"sqlite:///{path}", read_only=True)
    try:
        top = expected.top(metric("languages"), 100)
    finally:
        expected.close()
    for name in ("metrics.db-wal", "metrics.db-shm"):  # the reader above, closed, leaves none
        (read_only_dir / name).unlink(missing_ok=True)

    read, logged = _read_in_child(path)

    assert read.get("error") is None, read
    assert "immutable" not in logged and "unchanging" not in logged, logged
    assert read["stored"] == {"languages": len(sample_metric_rows["languages"])}
    assert read["top"] == json.loads(json.dumps(top)) and len(top) == len(sample_metric_rows["languages"])


def test_a_store_a_writer_left_in_wal_mode_there_is_an_error_saying_what_to_do(
        read_only_dir: Path, sample_metric_rows: dict[str, list[Any]]) -> None:
    """Killed before it closed the store (or a store written by an older fediscope): WAL mode at rest."""
    path = read_only_dir / "metrics.db"
    _write(f"sqlite:///{path}", sample_metric_rows["languages"][:1])
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    conn.close()  # the last connection: -wal and -shm are removed, the file stays in WAL mode
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["metrics.db"]

    read, _logged = _read_in_child(path)

    assert "top" not in read
    assert "the store is in WAL mode (its writer is running, or was stopped before it closed the store)" \
        in read["error"], read
    assert "once `fediscope process` has ended where the store can be written, the store reads here" in read["error"]


def test_commits_waiting_in_a_wal_file_there_are_an_error_saying_what_to_do(
        tmp_path: Path, read_only_dir: Path, sample_metric_rows: dict[str, list[Any]]) -> None:
    source = tmp_path / "metrics.db"
    _write(f"sqlite:///{source}", sample_metric_rows["languages"][:1])
    writer = sqlite3.connect(source)
    writer.execute("PRAGMA journal_mode=WAL")  # as a writer runs it (a killed one leaves it so)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE fediscope_catalog SET row_count = 99")
    writer.commit()  # in metrics.db-wal only, while the writer is open
    try:
        shutil.copy(source, read_only_dir / "metrics.db")
        shutil.copy(source.with_name("metrics.db-wal"), read_only_dir / "metrics.db-wal")
    finally:
        writer.close()
    assert (read_only_dir / "metrics.db-wal").stat().st_size > 0

    read, _logged = _read_in_child(read_only_dir / "metrics.db")

    assert "top" not in read
    assert "the store is in WAL mode (commits wait in metrics.db-wal)" in read["error"], read
    assert "WAL index (metrics.db-shm) cannot be made here" in read["error"]
    assert "copy it with its -wal and -shm files somewhere writable" in read["error"]


def test_a_file_the_reader_cannot_read_is_that_error_not_an_unchanging_file(
        read_only_dir: Path, sample_metric_rows: dict[str, list[Any]]) -> None:
    path = read_only_dir / "metrics.db"
    _write(f"sqlite:///{path}", sample_metric_rows["languages"])
    path.chmod(0o000)
    try:
        read, _logged = _read_in_child(path, directory_mode=0o755)
    finally:
        path.chmod(0o644)

    assert "unable to open database file" in read["error"] and "WAL index" not in read["error"], read
