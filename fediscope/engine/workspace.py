"""A local directory the engines can read and write, mirroring the lake layout.

DuckDB and Spark (in local mode) read and write files, so they need the lake on a filesystem path:

* **local lake** (a path or ``file://``): the workspace *is* the lake. Curated partitions are written to
  ``curated/_staging/<run>/`` beside their final place and swapped in with directory renames, so a reader sees
  a partition either old or new, never half written.
* **remote lake** (``webhdfs://``): the files a run needs are downloaded through the lake backend into a
  temporary directory with the same layout, and the rewritten partitions are uploaded back (each file written
  atomically by the backend, then the files of the replaced version deleted). A reader may briefly see the
  new files and the old ones side by side in a rewritten partition; run readers after ``process`` finishes.

* **direct** (Spark with ``spark_lake_uri`` set, e.g. ``hdfs://namenode:8020/fediscope`` for the lake
  ``webhdfs://namenode:9870/fediscope``): nothing is copied. The engine reads and writes the lake itself through
  Hadoop's filesystem, at :class:`LakeURI` locations under that root; Spark writes a run's output to
  ``curated/_staging/<run>/`` in the lake, and publishing swaps directories with the lake backend's renames
  (a metadata operation on HDFS), as the local workspace does on disk. This is how Spark on a cluster
  (``spark://``, ``yarn``, ``k8s://``) works on an HDFS lake: its executors cannot see a driver's local copy.
  The lake backend (WebHDFS) still lists, renames and deletes, so both must name the same directory.
"""

from __future__ import annotations

import logging
import posixpath
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import CURATED_ROOT, STAGING_DIR, curated_dir

log = logging.getLogger(__name__)


class LakeURI(str):
    """A location in the lake as the engine addresses it directly (``hdfs://namenode:8020/fediscope/curated/x``).

    A string, since that is what Spark's readers and writers take, that joins like a :class:`~pathlib.Path`
    (``staged / "statuses"``) so curation builds locations the same way in every workspace mode.
    """

    def __truediv__(self, other: str) -> LakeURI:
        return LakeURI(f"{self.rstrip('/')}/{str(other).strip('/')}")

    @property
    def name(self) -> str:
        return self.rstrip("/").rsplit("/", 1)[-1]


#: A directory the engines read or write: a local path, or a :class:`LakeURI` in direct mode.
Location = Path | LakeURI


def partition_name(column: str, value: str) -> str:
    return f"{column}={value}"


#: A directory :meth:`Workspace._swap` moved aside: ``.<name>.old-<8 hex>``.
_ASIDE_RE = re.compile(r"\.(.+)\.old-[0-9a-f]{8}")


def _is_data_file(path: str) -> bool:
    name = posixpath.basename(path)
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def parquet_files(directory: Path) -> list[Path]:
    """The data files of a table or partition directory (Spark's ``.crc`` and ``_SUCCESS`` files excluded)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*.parquet") if not p.name.startswith((".", "_")))


class Workspace:
    """Local view of the lake for one engine run; see the module docstring."""

    def __init__(self, lake: LakeBackend, direct_uri: str | None = None) -> None:
        self.lake = lake
        local = lake.local_path("")
        self.direct = direct_uri is not None
        self.remote = local is None and not self.direct
        self._tmp: Path | None = None
        self.root: Location
        if self.direct:
            self.root = LakeURI(str(direct_uri).rstrip("/"))
        elif local is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fediscope-workspace-"))
            self.root = self._tmp
        else:
            self.root = Path(local)
        self._downloaded: set[str] = set()

    def _rel(self, location: Location) -> str:
        """The lake path (relative to the lake root) of a curated location of this workspace.

        Curated locations are built from table names, ``dt=<date>``, ``_staging`` and run ids, whose storage
        names equal their lake names (no ``:`` or ``%`` to escape); anything else is refused, not guessed.
        """
        text = str(location) if self.direct else Path(location).as_posix()
        root = str(self.root).rstrip("/") if self.direct else Path(self.root).as_posix()
        if text != root and not text.startswith(root + "/"):
            raise LakeError(f"{location} is not inside the workspace {root}")
        relative = text[len(root):].strip("/")
        if self.lake.storage_path(relative) != relative or "%" in relative:
            raise LakeError(f"{location}: a curated location with an escaped name is not supported")
        return relative

    def _lake_has_parquet(self, path: str) -> bool:
        return any(_is_data_file(e.path) for e in self.lake.walk(path))

    def has_parquet(self, location: Location) -> bool:
        """Whether a table or partition directory holds data files (listed through the lake when direct)."""
        if self.direct:
            return self._lake_has_parquet(self._rel(location))
        return bool(parquet_files(Path(location)))

    def lake_has_table(self, table: str) -> bool:
        """Whether the lake holds data files of a curated table, listed through the lake in every mode (a remote
        workspace's local mirror holds only what this run downloaded, so :meth:`has_parquet` of
        :meth:`table_path` may say no for a table the lake has)."""
        return self._lake_has_parquet(curated_dir(table))

    # -- reading -----------------------------------------------------------------------------------------
    def local_files(self, paths: list[str]) -> list[str]:
        """Paths of lake files the engine can read: local (downloaded first when the lake is remote), or the
        files' URIs in direct mode."""
        if self.direct:
            return [str(self.root / self.lake.storage_path(p)) for p in paths]
        return [str(self._fetch(p)) for p in paths]

    def _fetch(self, path: str) -> Path:
        target = Path(self.root) / path
        if self.remote and path not in self._downloaded:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.lake.read(path))
            self._downloaded.add(path)
        return target

    def _fetch_dir(self, path: str) -> Location:
        if self.remote:
            for entry in self.lake.walk(path):
                if entry.path.endswith(".parquet"):
                    self._fetch(entry.path)
        return self.root / path

    def table_path(self, table: str) -> Location:
        """The directory of a curated table, without downloading anything."""
        return self.root / curated_dir(table)

    def table_dir(self, table: str) -> Location:
        """The directory of a whole curated table (every partition downloaded when remote)."""
        return self._fetch_dir(curated_dir(table))

    def partition_dirs(self, table: str, column: str, values: list[str]) -> list[Location]:
        """Directories of the existing partitions ``column=value`` of a table (missing ones skipped)."""
        out = []
        for value in values:
            path = f"{curated_dir(table)}/{partition_name(column, value)}"
            if self.direct:
                if self._lake_has_parquet(path):
                    out.append(self.root / path)
                continue
            directory = self._fetch_dir(path)
            if parquet_files(Path(directory)):
                out.append(directory)
        return out

    def partition_values(self, table: str, column: str) -> list[str]:
        """The values of a table's existing ``column=value`` partitions, as the lake lists them."""
        prefix = f"{column}="
        return sorted(posixpath.basename(e.path)[len(prefix):] for e in self.lake.list(curated_dir(table))
                      if e.is_dir and posixpath.basename(e.path).startswith(prefix))

    # -- writing -----------------------------------------------------------------------------------------
    def remove_stale_staging(self) -> int:
        """Remove the staging directories runs left behind (killed, a power cut) and return how many there were.
        Called by a run holding the lake lock, before it stages anything: no other run is writing one then. Left
        in place, their partial Parquet files (pseudonymous rows an erasure does not reach) stayed for good."""
        path = STAGING_DIR
        if self.direct:
            if not self.lake.exists(path):
                return 0
            count = len(self.lake.list(path))
            self.lake.delete(path, recursive=True)
            return count
        local = Path(self.root) / path
        if not local.is_dir():
            return 0
        count = sum(1 for _ in local.iterdir())
        try:
            shutil.rmtree(local)
        except OSError as exc:
            log.warning("curation: cannot remove the staging left by a stopped run, %s: %s", local, exc.strerror or exc)
            return 0
        return count

    def recover_interrupted_publish(self) -> int:
        """Undo what a run killed while publishing (between :meth:`_swap`'s two renames) left: a partition or table
        moved aside (``.<name>.old-<hex>``) with nothing moved into its place is moved back, so the next run merges
        into the rows it had (the killed run's raw files are not in the manifest: the next run reads them again,
        and merging them again is idempotent); one whose replacement is in place is the old version, deleted.
        Returns how many were moved back. Local lakes only: in direct mode (Spark on HDFS) the lake hides
        dot-names from listings, and a remote workspace uploads file by file, with no aside directory."""
        if self.direct or self.remote:
            return 0
        curated = Path(self.root) / CURATED_ROOT
        if not curated.is_dir():
            return 0
        restored = 0
        for parent in [curated, *(d for d in curated.iterdir() if d.is_dir() and not d.name.startswith("."))]:
            for aside in list(parent.iterdir()):
                match = _ASIDE_RE.fullmatch(aside.name)
                if match is None or not aside.is_dir():
                    continue
                target = parent / match.group(1)
                if target.exists():
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    aside.rename(target)
                    restored += 1
        return restored

    def tidy_stopped_runs(self) -> None:
        """:meth:`recover_interrupted_publish`, then :meth:`remove_stale_staging`, logging what they did. For a run
        holding the lake lock, before it reads or rewrites curated files (a curation, an erasure, retention)."""
        if restored := self.recover_interrupted_publish():
            log.warning("%d curated partition(s) a stopped curation had moved aside were put back", restored)
        if stale := self.remove_stale_staging():
            log.info("removed %d staging director%s left by curations that were stopped", stale,
                     "y" if stale == 1 else "ies")

    def new_staging_dir(self) -> Location:
        """An empty directory for one run's output, on the same filesystem as the curated tables (in direct
        mode a location in the lake the engine creates when it writes there)."""
        staging = self.root / STAGING_DIR / uuid.uuid4().hex[:12]
        if not self.direct:
            Path(staging).mkdir(parents=True)
        return staging

    def publish(self, table: str, staged: Location, column: str | None = None,
                values: list[str] | None = None) -> int:
        """Replace curated data with what a run staged; returns the number of files published.

        Partitioned (``column``/``values`` given): each listed partition is replaced by its staged version, or
        removed when the run staged nothing for it. Unpartitioned: the whole table directory is replaced.
        """
        units = ([(f"{curated_dir(table)}/{partition_name(column, v)}", staged / partition_name(column, v))
                  for v in values or []] if column else [(curated_dir(table), staged)])
        if self.direct:
            return sum(self._publish_in_lake(target, self._rel(source)) for target, source in units)
        published = 0
        for target, source in units:
            source = Path(source)
            files = parquet_files(source)
            published += len(files)
            if self.remote and not files:  # nothing staged: the partition or table goes, its directory too
                self.lake.delete(target, recursive=True)
            elif self.remote:
                self._upload(target, source, files)
                self._downloaded = {p for p in self._downloaded if not p.startswith(target + "/")}
                self._downloaded.update(f"{target}/{f.relative_to(source).as_posix()}" for f in files)
            self._swap(Path(self.root) / target, source if files else None)  # remote: keep the local mirror current
        return published

    def _publish_in_lake(self, target: str, source: str) -> int:
        """Direct mode: the lake-side :meth:`_swap`: rename the old directory aside, the staged one into place,
        then delete the old one. Renames are metadata operations on HDFS, so no data is copied."""
        files = [e.path for e in self.lake.walk(source) if _is_data_file(e.path)]
        trash = f"{posixpath.dirname(target)}/.{posixpath.basename(target)}.old-{uuid.uuid4().hex[:8]}"
        moved_aside = False
        if self.lake.exists(target):
            self.lake.rename(target, trash)
            moved_aside = True
        if files:
            try:
                self.lake.rename(source, target)
            except LakeError:
                if moved_aside:  # put the old version back: a failed publish must not lose the partition
                    self.lake.rename(trash, target)
                raise
        if moved_aside:
            self.lake.delete(trash, recursive=True)
        return len(files)

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

    def discard(self, staged: Location) -> None:
        if self.direct:
            path = self._rel(staged)
            self.lake.delete(path, recursive=True)
            parent = posixpath.dirname(path)
            if self.lake.exists(parent) and not self.lake.list(parent):
                self.lake.delete(parent, recursive=True)
            return
        staged = Path(staged)
        shutil.rmtree(staged, ignore_errors=True)
        parent = staged.parent
        if parent.name == "_staging" and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()

    def in_lake_terms(self, text: str) -> str:
        """``text`` (an engine's error) with the paths of files downloaded from a remote lake given as the lake's:
        the downloaded copies are deleted when the run ends, and what to restore or move is the lake's file."""
        if self._tmp is None:
            return text
        from urllib.parse import quote, urlsplit

        from fediscope.redact import redact_url

        lake = urlsplit(redact_url(self.lake.url))._replace(query="", fragment="").geturl().rstrip("/")
        tmp = str(self._tmp)
        for form in (f"file://{quote(tmp)}", f"file:{quote(tmp)}", f"file://{tmp}", f"file:{tmp}", quote(tmp), tmp):
            text = text.replace(form, lake)  # Spark names files as URIs (file:///…, %-encoded), DuckDB as paths
        return text

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def tidy_stopped_runs(lake: LakeBackend) -> None:
    """:meth:`Workspace.tidy_stopped_runs` for a command without an engine (``fediscope gdpr erase``, ``fediscope
    gdpr retention``), holding the lake lock: what a curation killed outright left (a partition moved aside, its
    staged output with a file cut short) is put right as the next curation would, before the command reads the
    curated files. On a remote lake there is nothing of the kind to tidy (a remote workspace stages locally)."""
    workspace = Workspace(lake)
    try:
        workspace.tidy_stopped_runs()
    finally:
        workspace.close()
