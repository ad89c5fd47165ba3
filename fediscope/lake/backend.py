"""The one interface every lake backend implements, and the factory that picks one from the lake URL.

Paths are always relative to the lake root and use ``/``. Writes are atomic: ``write_atomic`` writes to a
temporary name beside the target and renames it into place, so a reader sees a batch whole or not at all;
``create_exclusive`` does the same but never replaces an existing file (create-if-absent, for lock files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from fediscope.errors import ConfigError


def hidden(name: str) -> bool:
    """Names ``list``/``walk`` never show: files being written. Ours end in ``.tmp``; NiFi's PutFile/PutHDFS
    write ``.<name>`` and rename it, and Hadoop tools skip dot-files for the same reason."""
    return name.startswith(".") or name.endswith(".tmp")


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the lake root
    is_dir: bool
    size: int = 0


class LakeBackend(Protocol):
    url: str

    def write_atomic(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` so that it appears whole or not at all (replacing any old file)."""

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` only if nothing is there yet: True when this call created it, False
        when it already existed. Atomic like ``write_atomic`` (whole or not at all), and of two concurrent calls
        exactly one wins; lake locks (:mod:`fediscope.lake.lock`) are built on it."""

    def read(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def list(self, path: str) -> list[Entry]:
        """Direct children of a directory (empty list when it does not exist)."""

    def walk(self, path: str) -> list[Entry]:
        """Every file below a directory, recursively (empty list when it does not exist)."""

    def delete(self, path: str, recursive: bool = False) -> bool: ...

    def rename(self, path: str, destination: str) -> None:
        """Move a file or a whole directory to ``destination``, which must not exist yet (its parents are
        created). One metadata operation on HDFS: how Spark's directly written output is published."""

    def local_path(self, path: str) -> str | None:
        """A local filesystem path for engines that read files directly (None for remote backends)."""

    def storage_path(self, path: str) -> str:
        """``path`` as it is named in storage, below the lake root: what an engine reading the lake's directory
        itself must use (HDFS has no ``:`` in names, so WebHDFS escapes ``instance=host:8080`` as ``%3A``)."""


def open_lake(url: str) -> LakeBackend:
    """``/data/lake`` or ``file:///data/lake`` → local directory; ``webhdfs://namenode:9870/lake`` → HDFS."""
    from fediscope.redact import redact_url

    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise ConfigError(f"FEDISCOPE_LAKE={redact_url(url)!r} is not a valid URL ({exc}); "
                          "use a path, file:///path or webhdfs://namenode:9870/path") from None
    if parts.scheme in {"", "file"}:
        from fediscope.lake.local import LocalLake

        return LocalLake(parts.path if parts.scheme == "file" else url)
    if parts.scheme in {"webhdfs", "hdfs"}:
        from fediscope.lake.webhdfs import WebHDFSLake

        return WebHDFSLake(url)
    raise ConfigError(f"FEDISCOPE_LAKE={redact_url(url)!r}: unsupported scheme {parts.scheme!r}; "
                      "use a path, file:///path or webhdfs://namenode:9870/path")
