"""A local directory the engines can read and write, mirroring the lake layout.

DuckDB and Spark (in local mode) read and write files, so they need the lake on a filesystem path:

* **local lake** (a path or ``file://``): the workspace *is* the lake. Curated partitions are written to
  ``curated/_staging/<run>/`` beside their final place and swapped in with directory renames, so a reader sees
  a partition either old or new, never half written.
* **remote lake** (``webhdfs://``): the files a run needs are downloaded through the lake backend into a
  temporary directory with the same layout, and the rewritten partitions are uploaded back (each file written
  atomically by the backend, then the files of the replaced version deleted). A reader may briefly see the
  new files and the old ones side by side in a rewritten partition; run readers after ``process`` finishes.

Spark on a cluster (``spark://``, ``yarn``, ``k8s://``) needs paths its executors can see: a local lake on a
shared filesystem works; a WebHDFS lake is refused with :class:`~fediscope.errors.NotSupportedError`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path

from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import curated_dir

log = logging.getLogger(__name__)


def partition_name(column: str, value: str) -> str:
    return f"{column}={value}"


def parquet_files(directory: Path) -> list[Path]:
    """The data files of a table or partition directory (Spark's ``.crc`` and ``_SUCCESS`` files excluded)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*.parquet") if not p.name.startswith((".", "_")))


class Workspace:
    """Local view of the lake for one engine run; see the module docstring."""

    def __init__(self, lake: LakeBackend) -> None:
        self.lake = lake
        local = lake.local_path("")
        self.remote = local is None
        self._tmp: Path | None = None
        if local is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fediscope-workspace-"))
            self.root = self._tmp
        else:
            self.root = Path(local)
        self._downloaded: set[str] = set()

    # -- reading -----------------------------------------------------------------------------------------
    def local_files(self, paths: list[str]) -> list[str]:
        """Local paths of lake files (downloaded first when the lake is remote)."""
        return [str(self._fetch(p)) for p in paths]

    def _fetch(self, path: str) -> Path:
        target = self.root / path
        if self.remote and path not in self._downloaded:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.lake.read(path))
            self._downloaded.add(path)
        return target

    def _fetch_dir(self, path: str) -> Path:
        if self.remote:
            for entry in self.lake.walk(path):
                if entry.path.endswith(".parquet"):
                    self._fetch(entry.path)
        return self.root / path

    def table_path(self, table: str) -> Path:
        """The local directory of a curated table, without downloading anything."""
        return self.root / curated_dir(table)

    def table_dir(self, table: str) -> Path:
        """The local directory of a whole curated table (every partition downloaded when remote)."""
        return self._fetch_dir(curated_dir(table))

    def partition_dirs(self, table: str, column: str, values: list[str]) -> list[Path]:
        """Local directories of the existing partitions ``column=value`` of a table (missing ones skipped)."""
        out = []
        for value in values:
            directory = self._fetch_dir(f"{curated_dir(table)}/{partition_name(column, value)}")
            if parquet_files(directory):
                out.append(directory)
        return out

    # -- writing -----------------------------------------------------------------------------------------
    def new_staging_dir(self) -> Path:
        """An empty directory for one run's output, on the same filesystem as the curated tables."""
        staging = self.root / curated_dir("_staging") / uuid.uuid4().hex[:12]
        staging.mkdir(parents=True)
        return staging

    def publish(self, table: str, staged: Path, column: str | None = None, values: list[str] | None = None) -> int:
        """Replace curated data with what a run staged; returns the number of files published.

        Partitioned (``column``/``values`` given): each listed partition is replaced by its staged version, or
        removed when the run staged nothing for it. Unpartitioned: the whole table directory is replaced.
        """
        units = ([(f"{curated_dir(table)}/{partition_name(column, v)}", staged / partition_name(column, v))
                  for v in values or []] if column else [(curated_dir(table), staged)])
        published = 0
        for target, source in units:
            files = parquet_files(source)
            published += len(files)
            if self.remote:
                self._upload(target, source, files)
                self._downloaded = {p for p in self._downloaded if not p.startswith(target + "/")}
                self._downloaded.update(f"{target}/{f.relative_to(source).as_posix()}" for f in files)
            self._swap(self.root / target, source if files else None)  # remote: keep the local mirror current
        return published

    def _swap(self, target: Path, source: Path | None) -> None:
        trash = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        try:
            if target.exists():
                target.rename(trash)
            if source is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                source.rename(target)
        except OSError as exc:
            raise LakeError(f"cannot publish {target}: {exc.strerror or exc}") from None
        shutil.rmtree(trash, ignore_errors=True)

    def _upload(self, target: str, source: Path, files: list[Path]) -> None:
        old = {e.path for e in self.lake.walk(target)}
        new = set()
        for file in files:
            path = f"{target}/{file.relative_to(source).as_posix()}"
            self.lake.write_atomic(path, file.read_bytes())
            new.add(path)
        for path in sorted(old - new):
            self.lake.delete(path)

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)
        parent = staged.parent
        if parent.name == "_staging" and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
