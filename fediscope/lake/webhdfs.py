"""Lake backend on HDFS over WebHDFS, through the ``hdfs`` package's ``InsecureClient``.

How WebHDFS works, in short: every call goes to the namenode's HTTP port (9870 on Hadoop 3, 50070 on Hadoop 2)
at ``/webhdfs/v1/<absolute path>?op=…&user.name=…``. Metadata operations (GETFILESTATUS, LISTSTATUS, MKDIRS,
RENAME, DELETE) are answered by the namenode itself, in JSON. Data takes two steps: the namenode answers CREATE
and OPEN with ``307 Temporary Redirect`` to a *datanode*, and the bytes flow between the client and that
datanode. A client must therefore reach the datanodes too, by the host names the namenode hands out: when
listing works but reading or writing fails, that is the first thing to check.

Atomic writes: a file is written to ``.<name>.<random>.tmp`` beside its target, then renamed into place with
``RENAME&renameoptions=OVERWRITE``, the namenode's ``rename2``: one metadata operation that replaces an
existing file atomically (``create_exclusive`` renames with ``renameoptions=NONE``, which fails instead when
the target exists). Readers see the old file or the new one, never a partial one, and ``list``/``walk``
hide temporary names and dot-files (HDFS shows a file that is still being written, with a growing length). A server that
ignores ``renameoptions`` (old HttpFS gateways) answers a plain rename's ``{"boolean": false}`` when the target
exists; we then delete the target and rename again: a moment without the file, still never a partial one.

HDFS forbids ``:`` in file names, which a partition such as ``instance=127.0.0.1:8080`` contains; it is stored
as ``%3A`` (and ``%`` as ``%25``), the escaping Hive and Spark apply to partition values, and listed unescaped.

"Insecure" means Hadoop's simple authentication: the user name travels as ``user.name`` and is trusted (no
Kerberos). It comes from ``?user=`` in the lake URL, else the local login name, as in ``hdfs dfs``.
"""

from __future__ import annotations

import getpass
import logging
import posixpath
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from hdfs import HdfsError, InsecureClient

from fediscope.errors import ConfigError, LakeError
from fediscope.lake.backend import Entry, hidden, split_webhdfs_url
from fediscope.redact import redact_url

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
#: RemoteExceptions that mean "no such path" (a parent that is a file: the path cannot exist either). Every other
#: error answer (AccessControlException, a namenode's 500, a proxy's HTML page) is an error, never "absent".
_ABSENT = {"FileNotFoundException", "ParentNotDirectoryException"}
#: Waits before the retries of a read-only call (GETFILESTATUS, LISTSTATUS, OPEN) that failed in a way that heals:
#: a connection that broke off (a node restarting, a datanode dying mid-download) or the namenode's
#: RetriableException. Writes are not retried here: their callers start over from a state they know.
READ_RETRY_DELAYS = (0.5, 2.0)
_RETRIABLE = {"RetriableException"}

_T = TypeVar("_T")


def parse_webhdfs_url(url: str) -> tuple[str, str, str | None]:
    """``webhdfs://namenode:9870/lake?user=etl`` → (``http://namenode:9870``, ``/lake``, ``etl``).

    ``hdfs://`` is refused: it names the namenode's RPC port, which WebHDFS does not speak.
    """
    try:
        return split_webhdfs_url(url)
    except ValueError as exc:
        raise ConfigError(f"FEDISCOPE_LAKE={redact_url(url)!r}: {exc}") from None


def _login_name() -> str:
    """The local login name, as ``hdfs dfs`` would use; Hadoop's anonymous ``dr.who`` when there is none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # e.g. a container user without a passwd entry
        return "dr.who"


def _never_connected(exc: Exception) -> bool:
    """Whether a requests failure happened before a connection existed (refused, unresolvable, connect timeout),
    as opposed to a connection that broke off or a server that stopped answering."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _heals(exc: BaseException) -> bool:
    """A failure a read-only call may be retried after (not a refusal, a timeout or a missing path)."""
    if isinstance(exc, HdfsError):
        return getattr(exc, "exception", None) in _RETRIABLE
    if isinstance(exc, requests.Timeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        return not _never_connected(exc)
    return isinstance(exc, urllib3.exceptions.ProtocolError)


def _cause(exc: Exception) -> str:
    """The innermost reason of a broken connection: ``ConnectionResetError``, ``RemoteDisconnected``, …."""
    reason: object = exc.args[0] if exc.args else exc
    while isinstance(reason, Exception) and len(reason.args) > 1 and isinstance(reason.args[1], Exception):
        reason = reason.args[1]
    return type(reason).__name__ if isinstance(reason, Exception) else str(reason)


def _escape(name: str) -> str:
    """HDFS file names cannot contain ':' (``instance=127.0.0.1:8080``); escape it as Hive and Spark do."""
    return name.replace("%", "%25").replace(":", "%3A")


def _unescape(name: str) -> str:
    return re.sub(r"%(25|3A)", lambda m: "%" if m.group(1) == "25" else ":", name)


class WebHDFSLake:
    """The lake on HDFS: ``WebHDFSLake("webhdfs://namenode:9870/data/fediscope?user=etl")``.

    Paths given to the methods are relative to the lake root (``/data/fediscope`` above) and use ``/``.
    ``timeout`` bounds each HTTP request in seconds.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.http_url, self.root, user = parse_webhdfs_url(url)
        self.user = user or _login_name()
        self.url = redact_url(url)
        self._client = InsecureClient(self.http_url, user=self.user, timeout=timeout)

    def __repr__(self) -> str:
        return f"WebHDFSLake({self.url!r})"

    # -- paths --------------------------------------------------------------------------------------------

    def _abs(self, path: str) -> str:
        target = posixpath.normpath(posixpath.join(self.root, path.lstrip("/"))) if path.strip("/") else self.root
        if target != self.root and not target.startswith(self.root.rstrip("/") + "/"):
            raise LakeError(f"path {path!r} escapes the lake root {self.url}")
        if target == self.root:
            return target
        relative = posixpath.relpath(target, self.root)
        return posixpath.join(self.root, "/".join(_escape(part) for part in relative.split("/")))

    def _rel(self, absolute: str) -> str:
        if absolute == self.root:
            return ""
        return "/".join(_unescape(part) for part in posixpath.relpath(absolute, self.root).split("/"))

    # -- errors -------------------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str, path: str) -> Iterator[None]:
        """Turn client and HTTP failures into a LakeError that says what to check."""
        where = f"{self.url} ({path or '/'})"
        try:
            yield
        except HdfsError as exc:
            raise LakeError(self._remote_message(action, where, exc)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise LakeError(self._connection_message(action, where, exc)) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # urllib3's own errors reach us from a streamed body: a datanode that dies during a download
            # (ProtocolError: IncompleteRead) fails in ``reader.read()``, outside requests' wrapping.
            raise LakeError(f"cannot {action} {where}: the transfer broke off ({type(exc).__name__}: {exc}); "
                            "the datanode may have failed or restarted: try again, or check its log") from None

    def _remote_message(self, action: str, where: str, exc: HdfsError) -> str:
        kind = getattr(exc, "exception", None) or ""
        detail = exc.message.decode("utf-8", "replace") if isinstance(exc.message, bytes) else str(exc.message)
        detail = " ".join(detail.split())[:200]
        text = f"cannot {action} {where}: {kind + ': ' if kind else ''}{detail}"
        user = self.user
        if kind == "AccessControlException":
            return (f"{text}. The HDFS user {user} lacks permission: set ?user=NAME in FEDISCOPE_LAKE to a user "
                    "that owns the lake directory, or create it with infra/hdfs/create_layout.py")
        if kind == "SafeModeException":
            return f"{text}. The namenode is in safe mode (starting up, or low on space); wait or check its log"
        if kind in {"StandbyException", "RetriableException"}:
            return f"{text}. This namenode is not the active one; point FEDISCOPE_LAKE at the active namenode"
        if not kind and "Authentication failure" in detail:
            return (f"{text}. The cluster requires authentication (Kerberos); fediscope speaks simple "
                    "authentication only (?user=NAME): use a gateway or a cluster with security off")
        if not kind:
            return (f"{text}. The server at {self.http_url} did not answer like a WebHDFS namenode; check that "
                    "host and port are the namenode HTTP address (9870 by default) and dfs.webhdfs.enabled is true")
        return text

    def _connection_message(self, action: str, where: str, exc: Exception) -> str:
        request = getattr(exc, "request", None)
        failed = urlsplit(request.url) if request is not None and request.url else None
        failed_at = f"{failed.scheme}://{failed.netloc}" if failed else self.http_url
        reason = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        node = f"datanode {failed_at}" if failed and failed_at != self.http_url else f"namenode {self.http_url}"
        if not isinstance(exc, requests.Timeout) and not _never_connected(exc):
            return (f"cannot {action} {where}: the connection to the {node} broke off ({_cause(exc)}). The node "
                    "may have failed or restarted: try again, or check its log")
        if failed and failed_at != self.http_url:
            return (f"cannot {action} {where}: the namenode redirected the data to datanode {failed_at}, which "
                    f"is unreachable from here ({reason}). Make the datanode host names resolvable and reachable "
                    "from this machine (e.g. /etc/hosts entries, or dfs.datanode.hostname / "
                    "dfs.client.use.datanode.hostname on the cluster), or run fediscope inside the cluster network")
        return (f"cannot {action} {where}: the WebHDFS namenode at {self.http_url} is unreachable ({reason}). "
                "Check that the namenode is running, that host and port are its HTTP address "
                "(dfs.namenode.http-address, 9870 by default), that dfs.webhdfs.enabled is true, "
                "and that no firewall is in the way")

    def _read_only(self, what: str, call: Callable[[], _T]) -> _T:
        """``call()`` (a read-only request), retried after each of :data:`READ_RETRY_DELAYS` when it fails in a
        way that heals; the last failure is raised as it came."""
        for delay in (*READ_RETRY_DELAYS, None):
            try:
                return call()
            except (HdfsError, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if delay is None or not _heals(exc):
                    raise
                log.info("retrying %s on %s in %.1f s after %s", what, self.url, delay, type(exc).__name__)
                time.sleep(delay)
        raise AssertionError("unreachable")

    # -- the LakeBackend protocol --------------------------------------------------------------------------

    def write_atomic(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        parent, name = posixpath.split(target)
        if not name:
            raise LakeError(f"cannot write the lake root {self.url} as a file")
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
        try:
            with self._errors("write", path):
                self._client.write(tmp, data=data, overwrite=True)  # CREATE makes missing parents
                self._rename_over(tmp, target, path)
        except BaseException:
            self._discard(tmp)
            raise
        log.debug("wrote %s bytes to %s%s", len(data), self.url, target)

    def _rename_over(self, tmp: str, target: str, path: str) -> None:
        # The hdfs package wraps plain RENAME only; its generated per-op handlers (_rename, _list_status) take
        # any WebHDFS query parameter, so rename2's renameoptions goes through the same request path.
        response = self._client._rename(tmp, destination=target, renameoptions="OVERWRITE")
        if not response.content.strip():
            return  # rename2 succeeded: it answers 200 with no body, and raises on failure
        if response.json().get("boolean"):
            return
        # The server ignored renameoptions and did a plain rename, which never replaces an existing file.
        log.info("WebHDFS server ignored renameoptions=OVERWRITE; replacing %s by delete + rename", target)
        self._client.delete(target)
        if not self._client._rename(tmp, destination=target).json().get("boolean"):
            raise LakeError(f"cannot write {self.url} ({path}): the namenode refused to rename the temporary file "
                            "into place; check that the target is not a directory and the user may write there")

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Write a temporary file, then rename it to ``path`` with ``renameoptions=NONE`` (rename2 without
        OVERWRITE): one namenode operation that fails with FileAlreadyExistsException when ``path`` exists, so
        of two callers exactly one wins and the file appears whole. (``CREATE&overwrite=false`` is exclusive
        too, but shows a half-written file to readers while the datanode receives it.)"""
        target = self._abs(path)
        parent, name = posixpath.split(target)
        if not name:
            raise LakeError(f"cannot create the lake root {self.url} as a file")
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
        created = False
        try:
            with self._errors("create", path):
                self._client.write(tmp, data=data, overwrite=True)
                created = self._rename_if_absent(tmp, target, path)
        finally:
            if not created:
                self._discard(tmp)
        return created

    def _rename_if_absent(self, tmp: str, target: str, path: str) -> bool:
        try:
            response = self._client._rename(tmp, destination=target, renameoptions="NONE")
        except HdfsError as exc:
            if getattr(exc, "exception", None) == "FileAlreadyExistsException":
                return False
            raise
        if not response.content.strip() or response.json().get("boolean"):
            return True  # rename2 answers 200 with no body; a plain rename answers true
        # A server that ignores renameoptions did a plain rename, which answers false (and never replaces)
        # when the target exists.
        if self._stat(target) is not None:
            return False
        raise LakeError(f"cannot create {self.url} ({path}): the namenode refused to rename the temporary file "
                        "into place; check that the user may write there")

    def _discard(self, tmp: str) -> None:
        try:
            self._client.delete(tmp)
        except (HdfsError, requests.RequestException) as exc:
            log.warning("could not remove temporary file %s%s after a failed write: %s", self.url, tmp, exc)

    def read(self, path: str) -> bytes:
        target = self._abs(path)
        def download() -> bytes:
            with self._client.read(target) as reader:
                return bytes(reader.read())

        with self._errors("read", path):
            try:
                return self._read_only("OPEN", download)
            except HdfsError as exc:
                if getattr(exc, "exception", None) == "FileNotFoundException":
                    raise LakeError(f"cannot read {self.url} ({path}): no such file") from None
                raise

    def exists(self, path: str) -> bool:
        with self._errors("check", path):
            return self._stat(self._abs(path)) is not None

    def is_dir(self, path: str) -> bool:
        status = self._status(self._abs(path), path)
        return status is not None and status.get("type") == "DIRECTORY"

    def _status(self, absolute: str, path: str) -> dict[str, Any] | None:
        with self._errors("list", path):
            return self._stat(absolute)

    def _stat(self, absolute: str) -> dict[str, Any] | None:
        """GETFILESTATUS: the FileStatus, or None when the path does not exist. Not the client's
        ``status(strict=False)``, which answers None for *any* error response: a namenode's 500 or a refused
        permission would then read as "no such file", and a caller such as the erasure suppression list or the
        audit log would start over from nothing."""
        try:
            return self._read_only("GETFILESTATUS", lambda: self._client.status(absolute))
        except HdfsError as exc:
            if getattr(exc, "exception", None) in _ABSENT:
                return None
            raise

    def _children(self, directory: str) -> list[tuple[str, dict[str, Any]]]:
        """(name, FileStatus) of a directory's children: one LISTSTATUS (empty if it vanished meanwhile)."""
        try:
            statuses = self._read_only("LISTSTATUS", lambda: self._client._list_status(directory).json())[
                "FileStatuses"]["FileStatus"]
        except HdfsError as exc:
            if getattr(exc, "exception", None) == "FileNotFoundException":
                return []
            raise
        return [(s["pathSuffix"], s) for s in statuses if s.get("pathSuffix")]

    def list(self, path: str) -> list[Entry]:
        base = self._abs(path)
        status = self._status(base, path)
        if status is None or status.get("type") != "DIRECTORY":
            return []
        with self._errors("list", path):
            children = self._children(base)
        entries = [self._entry(posixpath.join(base, name), info) for name, info in children if not hidden(name)]
        return sorted(entries, key=lambda e: e.path.split("/"))

    def walk(self, path: str) -> list[Entry]:
        base = self._abs(path)
        status = self._status(base, path)
        if status is None or status.get("type") != "DIRECTORY":
            return []
        entries: list[Entry] = []
        pending = [base]
        with self._errors("walk", path):
            while pending:
                directory = pending.pop()
                for name, info in self._children(directory):
                    child = posixpath.join(directory, name)
                    if info.get("type") == "DIRECTORY":
                        pending.append(child)
                    elif not hidden(name):
                        entries.append(self._entry(child, info))
        return sorted(entries, key=lambda e: e.path.split("/"))

    def _entry(self, absolute: str, info: dict[str, Any]) -> Entry:
        is_dir = info.get("type") == "DIRECTORY"
        return Entry(self._rel(absolute), is_dir, 0 if is_dir else int(info.get("length", 0)))

    def delete(self, path: str, recursive: bool = False) -> bool:
        with self._errors("delete", path):
            return bool(self._client.delete(self._abs(path), recursive=recursive))

    def rename(self, path: str, destination: str) -> None:
        """A plain RENAME (not rename2): HDFS would move a directory *into* an existing destination directory,
        so an existing destination is refused first."""
        source, target = self._abs(path), self._abs(destination)
        with self._errors("rename", path):
            if self._stat(target) is not None:
                raise LakeError(f"cannot rename {self.url} ({path}) to {destination}: the destination exists")
            self._client.makedirs(posixpath.dirname(target))
            self._client.rename(source, target)

    def local_path(self, path: str) -> str | None:
        return None

    def storage_path(self, path: str) -> str:
        target = self._abs(path)
        return "" if target == self.root else posixpath.relpath(target, self.root)

    def makedirs(self, path: str) -> None:
        """Create a directory and its parents (used by ``infra/hdfs/create_layout.py``)."""
        with self._errors("create directory", path):
            self._client.makedirs(self._abs(path))
