"""A small WebHDFS server for tests: a namenode and a datanode on 127.0.0.1, backed by a temporary directory.

It follows the Hadoop WebHDFS REST API
(https://hadoop.apache.org/docs/stable/hadoop-project-dist/hadoop-hdfs/WebHDFS.html) closely enough that the
``hdfs`` package's client, and so ``fediscope.lake.webhdfs``, cannot tell it from a real cluster for the
operations fediscope uses:

* every URL is ``/webhdfs/v1/<absolute path>?op=<OP>&user.name=<user>&…`` (op values are case-insensitive);
* CREATE and OPEN take two steps: the namenode answers ``307 Temporary Redirect`` with a ``Location`` on the
  datanode (a second server on its own port), and the bytes travel to or from the datanode; CREATE on the
  datanode answers ``201 Created``. ``noredirect=true`` gets ``200 {"Location": …}`` instead of the 307;
* GETFILESTATUS / LISTSTATUS answer ``FileStatus`` / ``FileStatuses`` JSON; LISTSTATUS of a file is that one
  file with an empty ``pathSuffix`` (its name with ``list_file_by_name``, as HttpFS of Hadoop 2 answers); MKDIRS,
  DELETE and plain RENAME answer ``{"boolean": …}``;
* RENAME with ``renameoptions=OVERWRITE`` (or ``NONE``) follows the namenode's rename2: it atomically replaces
  an existing destination, answers 200 with an empty body, and raises instead of answering false;
* errors are ``{"RemoteException": {"exception", "javaClassName", "message"}}`` with the documented status
  codes (400 IllegalArgumentException, 401 SecurityException, 403 IOException and its subclasses such as
  AccessControlException or FileAlreadyExistsException, 404 FileNotFoundException, 500 RuntimeException).

Fault injection for tests of atomicity and error messages: :meth:`WebHDFSDouble.hold_next_write` pauses a
datanode upload half-way (the partial file is visible on disk, as an HDFS file under construction is),
:meth:`WebHDFSDouble.fail_next_write` lets the datanode drop the connection after part of the data,
:meth:`WebHDFSDouble.fail_next_read` lets it drop a download after part of the file (its Content-Length promised all),
:meth:`WebHDFSDouble.fail_next` makes the namenode fail one operation, :meth:`WebHDFSDouble.unavailable_next` makes
it answer one with a bare 503 (a gateway whose namenode is down), :meth:`WebHDFSDouble.drop_next` makes it drop the
connection of one, before or after doing it (an answer lost), :meth:`WebHDFSDouble.stall_next` makes it do one and
answer late, ``deny_users`` refuses writes with an AccessControlException, ``datanode_address`` makes the namenode
redirect to another address and ``redirect_params`` adds parameters to its redirects (a secure cluster's
``delegation`` token). ``clock_offset`` sets the cluster's clock ahead of or behind the host's (in the modification
times and the ``Date`` header of its answers), and ``send_date = False`` leaves that header out.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pytest

PREFIX = "/webhdfs/v1"
BLOCK_SIZE = 134217728

_EXCEPTIONS = {  # exception → (HTTP status, Java class), as NamenodeWebHdfsMethods' ExceptionHandler maps them
    "IllegalArgumentException": (400, "java.lang.IllegalArgumentException"),
    "UnsupportedOperationException": (400, "java.lang.UnsupportedOperationException"),
    "SecurityException": (401, "java.lang.SecurityException"),
    "IOException": (403, "java.io.IOException"),
    "AccessControlException": (403, "org.apache.hadoop.security.AccessControlException"),
    "FileAlreadyExistsException": (403, "org.apache.hadoop.fs.FileAlreadyExistsException"),
    "ParentNotDirectoryException": (403, "org.apache.hadoop.fs.ParentNotDirectoryException"),
    "PathIsNotEmptyDirectoryException": (403, "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"),
    "SafeModeException": (403, "org.apache.hadoop.hdfs.server.namenode.SafeModeException"),
    "RetriableException": (403, "org.apache.hadoop.ipc.RetriableException"),
    "DSQuotaExceededException": (403, "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException"),
    "FileNotFoundException": (404, "java.io.FileNotFoundException"),
    "RuntimeException": (500, "java.lang.RuntimeException"),
}
_WRITE_OPS = {"CREATE", "MKDIRS", "RENAME", "DELETE", "APPEND"}


class RemoteError(Exception):
    """Raised by an operation; turned into a RemoteException JSON response."""

    def __init__(self, exception: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.exception = exception
        self.message = message
        self.status = status or _EXCEPTIONS[exception][0]


@dataclass
class WriteHold:
    """A paused datanode upload: ``reached`` is set once half the data is on disk; ``release()`` resumes it."""

    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class _Fault:
    op: str
    exception: str = ""
    message: str = ""
    kind: str = "exception"  # "exception", "status" (a bare HTTP status), "drop" (no answer) or "stall"
    after: bool = False  # the namenode does the operation first, then fails to answer
    status: int = 0
    seconds: float = 0.0
    path: str | None = None  # only a request for this HDFS path (None: any)


class WebHDFSDouble:
    """A namenode and a datanode serving one directory tree as HDFS over WebHDFS.

    ``root`` holds the files (HDFS ``/a/b`` is ``root/a/b``). Start with :meth:`start` (or use it as a context
    manager); :meth:`lake_url` gives a ``webhdfs://`` URL for fediscope. ``requests`` records
    ``(server, method, op, hdfs_path, user)`` for every request, so tests can check the protocol was followed.
    """

    def __init__(self, root: str | os.PathLike[str], host: str = "127.0.0.1") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.requests: list[tuple[str, str, str, str, str]] = []
        self.deny_users: set[str] = set()
        self.datanode_address: str | None = None  # "host:port" the namenode redirects to (default: the datanode)
        self.rename_options_supported = True  # False: behave like a server that ignores renameoptions
        # True: LISTSTATUS of a file names it by its own name in pathSuffix, as HttpFS of Hadoop 2 does (its
        # FSListStatus answers listStatus(file) as a directory listing; the ``hdfs`` package's Client.list checks)
        self.list_file_by_name = False
        self.redirect_params: dict[str, str] = {}  # added to the redirects' query (a secure cluster's delegation)
        # The cluster's clock: this many seconds ahead of the host's (behind when negative), in the modification
        # times it reports and in its answers' Date header; send_date=False leaves that header out.
        self.clock_offset = 0.0
        self.send_date = True
        self._holds: list[WriteHold] = []
        self._write_failures: list[int] = []
        self._read_failures: list[int] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        # The namenode applies metadata operations one at a time (FSNamesystem's lock): a rename that must not
        # replace its target, or a listing while files are deleted, sees one consistent namespace.
        self._namespace = threading.RLock()
        self._namenode: ThreadingHTTPServer | None = None
        self._datanode: ThreadingHTTPServer | None = None

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> WebHDFSDouble:
        self._namenode = _server(self.host, self, "namenode")
        self._datanode = _server(self.host, self, "datanode")
        for server in (self._namenode, self._datanode):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhdfs-double",
                             daemon=True).start()
        return self

    def stop(self) -> None:
        for hold in self._holds:
            hold.release()
        for server in (self._namenode, self._datanode):
            if server is not None:
                server.shutdown()
                server.server_close()

    def __enter__(self) -> WebHDFSDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def namenode_address(self) -> str:
        assert self._namenode is not None, "start() the double first"
        return f"{self.host}:{self._namenode.server_address[1]}"

    @property
    def datanode_port(self) -> int:
        assert self._datanode is not None, "start() the double first"
        return int(self._datanode.server_address[1])

    @property
    def http_url(self) -> str:
        return f"http://{self.namenode_address}"

    def lake_url(self, base: str = "/lake", user: str | None = None) -> str:
        """``webhdfs://127.0.0.1:PORT/lake`` (``?user=…`` appended when given)."""
        url = f"webhdfs://{self.namenode_address}/{base.strip('/')}"
        return url + (f"?user={user}" if user else "")

    def local(self, hdfs_path: str) -> Path:
        """Where an HDFS path lives on the local disk (for assertions)."""
        return self.root / hdfs_path.strip("/")

    # -- fault injection ----------------------------------------------------------------------------------

    def hold_next_write(self) -> WriteHold:
        """Pause the next datanode upload after half of its bytes are written to the file."""
        hold = WriteHold()
        with self._lock:
            self._holds.append(hold)
        return hold

    def fail_next_write(self, after_bytes: int = 1, times: int = 1) -> None:
        """The next datanode upload (the next ``times`` ones) writes ``after_bytes`` to the file, then drops the
        connection."""
        with self._lock:
            self._write_failures.extend([after_bytes] * times)

    def fail_next_read(self, after_bytes: int = 1) -> None:
        """The next datanode download announces the whole file's length, sends ``after_bytes``, then drops the
        connection (a datanode that dies mid-transfer)."""
        with self._lock:
            self._read_failures.append(after_bytes)

    def fail_next(self, op: str, exception: str = "RuntimeException", message: str = "injected failure",
                  path: str | None = None) -> None:
        """The next namenode request with this op (and, given ``path``, for that HDFS path) fails with the given
        RemoteException."""
        with self._lock:
            self._faults.append(_Fault(op.upper(), exception, message, path=path))

    def unavailable_next(self, op: str, status: int = 503) -> None:
        """The next namenode request with this op is answered with a bare HTTP ``status`` and an HTML page, not
        done (what a gateway answers while its namenode is down, or a web server that is not ready)."""
        with self._lock:
            self._faults.append(_Fault(op.upper(), kind="status", status=status))

    def drop_next(self, op: str, after: bool = False) -> None:
        """The namenode drops the connection of the next request with this op without answering: before doing
        it, or (``after``) once it is done, so that the client never learns that it happened."""
        with self._lock:
            self._faults.append(_Fault(op.upper(), kind="drop", after=after))

    def stall_next(self, op: str, seconds: float) -> None:
        """The namenode does the next request with this op, then waits ``seconds`` before answering (a client
        with a shorter timeout gives up, not knowing it happened)."""
        with self._lock:
            self._faults.append(_Fault(op.upper(), kind="stall", after=True, seconds=seconds))

    def _take(self, queue: list[Any]) -> Any:
        with self._lock:
            return queue.pop(0) if queue else None

    def _take_fault(self, op: str, hdfs_path: str | None = None) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.op == op and (fault.path is None or fault.path.rstrip("/") == (hdfs_path or "").rstrip("/")):
                    return self._faults.pop(i)
        return None

    # -- the file system ----------------------------------------------------------------------------------

    def _resolve(self, hdfs_path: str) -> Path:
        parts = [p for p in hdfs_path.split("/") if p]
        if any(p in {".", ".."} or ":" in p for p in parts):  # HDFS names (DFSUtil.isValidName) exclude ':'
            raise RemoteError("IllegalArgumentException", f"Invalid file name: {hdfs_path}")
        return self.root.joinpath(*parts)

    def _check_parents(self, hdfs_path: str, create: bool) -> None:
        """Raise ParentNotDirectoryException when a parent is a file; create missing parents when asked."""
        parts = [p for p in hdfs_path.split("/") if p][:-1]
        current = self.root
        for part in parts:
            current = current / part
            if current.is_file():
                raise RemoteError("ParentNotDirectoryException",
                                  f"/{current.relative_to(self.root).as_posix()} (is not a directory)")
            if create and not current.exists():
                current.mkdir()

    def file_status(self, local: Path, suffix: str) -> dict[str, Any]:
        stat = local.stat()
        is_dir = local.is_dir()
        return {
            "accessTime": 0 if is_dir else int((stat.st_atime + self.clock_offset) * 1000),
            "blockSize": 0 if is_dir else BLOCK_SIZE,
            "childrenNum": len(list(local.iterdir())) if is_dir else 0,
            "fileId": stat.st_ino,
            "group": "supergroup",
            "length": 0 if is_dir else stat.st_size,
            "modificationTime": int((stat.st_mtime + self.clock_offset) * 1000),
            "owner": "hdfs",
            "pathSuffix": suffix,
            "permission": "755" if is_dir else "644",
            "replication": 0 if is_dir else 1,
            "storagePolicy": 0,
            "type": "DIRECTORY" if is_dir else "FILE",
        }

    def get_file_status(self, hdfs_path: str) -> dict[str, Any]:
        local = self._resolve(hdfs_path)
        if not local.exists():
            raise RemoteError("FileNotFoundException", f"File does not exist: {hdfs_path}")
        return {"FileStatus": self.file_status(local, "")}

    def list_status(self, hdfs_path: str) -> dict[str, Any]:
        local = self._resolve(hdfs_path)
        if not local.exists():
            raise RemoteError("FileNotFoundException", f"File {hdfs_path} does not exist.")
        if local.is_file():
            statuses = [self.file_status(local, local.name if self.list_file_by_name else "")]
        else:
            statuses = [self.file_status(child, child.name) for child in sorted(local.iterdir())]
        return {"FileStatuses": {"FileStatus": statuses}}

    def mkdirs(self, hdfs_path: str) -> dict[str, Any]:
        local = self._resolve(hdfs_path)
        self._check_parents(hdfs_path, create=False)
        if local.is_file():
            raise RemoteError("FileAlreadyExistsException", f"Path is not a directory: {hdfs_path}")
        local.mkdir(parents=True, exist_ok=True)
        return {"boolean": True}

    def delete(self, hdfs_path: str, recursive: bool) -> dict[str, Any]:
        local = self._resolve(hdfs_path)
        if local == self.root or not local.exists():
            return {"boolean": False}
        if local.is_dir():
            if any(local.iterdir()) and not recursive:
                raise RemoteError("PathIsNotEmptyDirectoryException", f"`{hdfs_path} is non empty': "
                                  "Directory is not empty")
            shutil.rmtree(local)
        else:
            local.unlink()
        return {"boolean": True}

    def rename(self, hdfs_path: str, destination: str | None, options: set[str]) -> dict[str, Any] | None:
        """FileSystem.rename (no options: answers a boolean) or rename2 (options: raises, answers nothing)."""
        if not destination or not destination.startswith("/"):
            raise RemoteError("IllegalArgumentException", f"Invalid value for webhdfs parameter \"destination\": "
                              f"{destination!r} is not an absolute path")
        src, dst = self._resolve(hdfs_path), self._resolve(destination)
        if not options:
            return {"boolean": self._plain_rename(src, dst)}
        overwrite = "OVERWRITE" in options
        if not src.exists() or src == self.root:
            raise RemoteError("FileNotFoundException", f"rename source {hdfs_path} is not found.")
        if src == dst:
            raise RemoteError("FileAlreadyExistsException",
                              f"The source {hdfs_path} and destination {destination} are the same")
        if src in dst.parents:
            raise RemoteError("IOException", f"Rename destination {destination} is a directory or file under "
                              f"source {hdfs_path}")
        parent = dst.parent
        if not parent.exists():
            raise RemoteError("FileNotFoundException", f"rename destination parent {parent_of(destination)} "
                              "not found.")
        if parent.is_file():
            raise RemoteError("ParentNotDirectoryException", f"rename destination parent "
                              f"{parent_of(destination)} is a file.")
        if dst.exists():
            if not overwrite:
                raise RemoteError("FileAlreadyExistsException", f"rename destination {destination} already exists")
            if dst.is_dir() != src.is_dir():
                kind = "directories" if src.is_dir() else "files"
                raise RemoteError("IOException", f"Source {hdfs_path} and destination {destination} must both "
                                  f"be {kind}")
            if dst.is_dir():
                if any(dst.iterdir()):
                    raise RemoteError("IOException", f"rename destination directory is not empty: {destination}")
                dst.rmdir()
        os.replace(src, dst)
        return None

    def _plain_rename(self, src: Path, dst: Path) -> bool:
        if not src.exists() or src == self.root or src == dst or src in dst.parents:
            return False
        if dst.is_dir():
            dst = dst / src.name
        if dst.exists() or not dst.parent.is_dir():
            return False
        os.rename(src, dst)
        return True

    def create(self, hdfs_path: str, body: Iterator[bytes], overwrite: bool) -> None:
        """The datanode half of CREATE: check, create missing parents, stream the bytes into the file."""
        local = self._resolve(hdfs_path)
        with self._namespace:  # the checks and the creation; the bytes then stream outside the lock
            if local.is_dir():
                raise RemoteError("FileAlreadyExistsException", f"{hdfs_path} already exists as a directory")
            if local.exists() and not overwrite:
                raise RemoteError("FileAlreadyExistsException", f"{hdfs_path} for client 127.0.0.1 already exists")
            self._check_parents(hdfs_path, create=True)
            handle = open(local, "wb")  # noqa: SIM115 - closed by the with below
        with handle:
            for chunk in body:
                handle.write(chunk)
                handle.flush()


def parent_of(hdfs_path: str) -> str:
    return "/" + "/".join([p for p in hdfs_path.split("/") if p][:-1])


def _server(host: str, double: WebHDFSDouble, role: str) -> ThreadingHTTPServer:
    handler = type(f"{role.title()}Handler", (_Handler,), {"double": double, "role": role})
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    """One request to the namenode or the datanode (``role``)."""

    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one segment (no Nagle / delayed-ACK stalls); flushed per request
    double: WebHDFSDouble
    role: str

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        """As the base class does, with the cluster's clock in ``Date`` (``clock_offset``), or without ``Date``
        (``send_date``)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        if self.double.send_date:
            self.send_header("Date", self.date_time_string(time.time() + self.double.clock_offset))

    # -- plumbing -----------------------------------------------------------------------------------------

    def _parse(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        if not parts.path.startswith(PREFIX):
            raise _NotWebHDFS
        hdfs_path = unquote(parts.path[len(PREFIX):]) or "/"
        params = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        return hdfs_path, params

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode())

    def _error(self, err: RemoteError) -> None:
        java = _EXCEPTIONS.get(err.exception, (500, "java.lang.RuntimeException"))[1]
        self._json({"RemoteException": {"exception": err.exception, "javaClassName": java,
                                        "message": err.message}}, err.status)

    def _body(self) -> Iterator[bytes]:
        """The request body, from Content-Length or chunked transfer encoding, in chunks."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def _drain(self) -> None:
        for _ in self._body():
            pass

    def _dispatch(self) -> None:
        try:
            hdfs_path, params = self._parse()
        except _NotWebHDFS:
            self._drain()
            self._send(404, b"<html><body>Not Found</body></html>", "text/html")
            return
        op = params.get("op", "").upper()
        user = params.get("user.name", "dr.who")
        self.double.requests.append((self.role, self.command, op, hdfs_path, user))
        try:
            # Permissions are checked where the change happens: CREATE on the datanode, the rest on the namenode.
            checks_here = op in _WRITE_OPS and (op != "CREATE" or self.role == "datanode")
            if checks_here and user in self.double.deny_users:
                self._drain()
                raise RemoteError("AccessControlException", f"Permission denied: user={user}, access=WRITE, "
                                  f"inode=\"{hdfs_path}\":hdfs:supergroup:drwxr-xr-x")
            if self.role == "namenode":
                self._namenode(op, hdfs_path, params)
            else:
                self._datanode(op, hdfs_path, params)
        except RemoteError as err:
            self._error(err)
        except _Dropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):  # a client that gave up on a stalled answer
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = _dispatch

    # -- the namenode -------------------------------------------------------------------------------------

    def _namenode(self, op: str, hdfs_path: str, params: dict[str, str]) -> None:
        double = self.double
        expected = {"OPEN": "GET", "GETFILESTATUS": "GET", "LISTSTATUS": "GET", "GETHOMEDIRECTORY": "GET",
                    "CREATE": "PUT", "MKDIRS": "PUT", "RENAME": "PUT", "DELETE": "DELETE"}
        if op not in expected:
            self._drain()
            raise RemoteError("IllegalArgumentException", f"Invalid value for webhdfs parameter \"op\": "
                              f"{op or 'null'} is not supported by this test double")
        if expected[op] != self.command:
            self._drain()
            raise RemoteError("IllegalArgumentException", f"Invalid value for webhdfs parameter \"op\": "
                              f"{op} is not a valid {self.command} operation.")
        fault = double._take_fault(op, hdfs_path)
        if fault and not fault.after:
            self._drain()
            if fault.kind == "drop":
                self._drop()
            if fault.kind == "status":
                self._send(fault.status, f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
                           .encode(), "text/html")
                return
            raise RemoteError(fault.exception, fault.message)
        if op == "OPEN":  # the namenode needs the file's blocks to pick a datanode
            local = double._resolve(hdfs_path)
            with double._namespace:
                if not local.exists():
                    raise RemoteError("FileNotFoundException", f"File does not exist: {hdfs_path}")
                if local.is_dir():
                    raise RemoteError("FileNotFoundException", f"Path is not a file: {hdfs_path}")
        if op in {"CREATE", "OPEN"}:
            # Two-step protocol: the namenode never touches data; it tells the client which datanode to use.
            if op == "CREATE" and int(self.headers.get("Content-Length") or 0) > 0:
                self._drain()
            address = double.datanode_address or f"{double.host}:{double.datanode_port}"
            query = dict(params)
            query["namenoderpcaddress"] = double.namenode_address
            query.update(double.redirect_params)
            location = f"http://{address}{PREFIX}{quote(hdfs_path)}?{urlencode(query)}"
            self._after(fault)
            if params.get("noredirect", "").lower() == "true":
                self._json({"Location": location})
            else:
                self._send(307, content_type="application/octet-stream", headers={"Location": location})
            return
        self._drain()
        with double._namespace:
            answer = self._metadata(op, hdfs_path, params)
        self._after(fault)
        if answer is None:  # rename2
            self._send(200, content_type="application/octet-stream")
        else:
            self._json(answer)

    def _after(self, fault: _Fault | None) -> None:
        """Apply a fault that strikes once the operation is done: drop the connection, or answer late."""
        if fault is None:
            return
        if fault.kind == "drop":
            self._drop()
        time.sleep(fault.seconds)

    def _drop(self) -> None:
        """Close the connection without an answer (the node failed, or a network hop dropped it)."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        raise _Dropped

    def _metadata(self, op: str, hdfs_path: str, params: dict[str, str]) -> dict[str, Any] | None:
        double = self.double
        if op == "GETFILESTATUS":
            return double.get_file_status(hdfs_path)
        if op == "LISTSTATUS":
            return double.list_status(hdfs_path)
        if op == "GETHOMEDIRECTORY":
            return {"Path": f"/user/{params.get('user.name', 'dr.who')}"}
        if op == "MKDIRS":
            return double.mkdirs(hdfs_path)
        if op == "DELETE":
            return double.delete(hdfs_path, params.get("recursive", "false").lower() == "true")
        options = {o.strip().upper() for o in params.get("renameoptions", "").split(",") if o.strip()}  # RENAME
        if not double.rename_options_supported:
            options = set()
        unknown = options - {"NONE", "OVERWRITE", "TO_TRASH"}
        if unknown:
            raise RemoteError("IllegalArgumentException", f"Invalid value for webhdfs parameter "
                              f"\"renameoptions\": {sorted(unknown)}")
        return double.rename(hdfs_path, params.get("destination"), options)

    # -- the datanode -------------------------------------------------------------------------------------

    def _datanode(self, op: str, hdfs_path: str, params: dict[str, str]) -> None:
        double = self.double
        if op == "CREATE" and self.command == "PUT":
            overwrite = params.get("overwrite", "false").lower() == "true"
            data = b"".join(self._body())  # read it all first, so the connection stays usable after an error
            double.create(hdfs_path, self._upload(data), overwrite)
            location = f"hdfs://{double.namenode_address}{quote(hdfs_path)}"
            self._send(201, content_type="application/octet-stream", headers={"Location": location})
        elif op == "OPEN" and self.command == "GET":
            local = double._resolve(hdfs_path)
            with double._namespace:
                if not local.is_file():
                    raise RemoteError("FileNotFoundException", f"File does not exist: {hdfs_path}")
                data = local.read_bytes()
            offset = int(params.get("offset") or 0)
            length = params.get("length")
            data = data[offset:offset + int(length)] if length not in (None, "", "null") else data[offset:]
            fail_after: int | None = double._take(double._read_failures)
            if fail_after is not None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:fail_after])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                raise _Dropped
            self._send(200, data, "application/octet-stream")
        else:
            self._drain()
            raise RemoteError("IllegalArgumentException", f"the datanode does not serve {self.command} {op}")

    def _upload(self, data: bytes) -> Iterator[bytes]:
        """The uploaded bytes, with the injected pause or connection drop applied."""
        hold: WriteHold | None = self.double._take(self.double._holds)
        fail_after: int | None = self.double._take(self.double._write_failures)
        if fail_after is not None:
            yield data[:fail_after]
            raise _Dropped
        if hold is not None:
            half = len(data) // 2
            yield data[:half]
            hold.reached.set()
            hold.released.wait(timeout=30)
            yield data[half:]
            return
        yield data


class _NotWebHDFS(Exception):
    pass


class _Dropped(Exception):
    """The datanode 'crashes': the connection closes without a response."""


@pytest.fixture
def webhdfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHDFSDouble]:
    """A running WebHDFS double (namenode + datanode on 127.0.0.1), stopped after the test."""
    double = WebHDFSDouble(tmp_path_factory.mktemp("webhdfs"))
    with double:
        yield double

