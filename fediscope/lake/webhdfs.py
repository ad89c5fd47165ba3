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

Retries: a failure that heals (a connection that broke off after it was made, the namenode's
RetriableException, a 502/503/504 answer) is retried twice, after :data:`READ_RETRY_DELAYS` for read-only calls
and :data:`WRITE_RETRY_DELAYS` for writes, where a timed-out answer is retried as well. A write retries step by
step: a CREATE that failed is done again into a *fresh* temporary file (the one that failed may still be held
open by a dying datanode's lease; it is deleted), and a RENAME whose answer was lost is first checked
(GETFILESTATUS: the temporary file gone and the target holding the data's length means it happened) before it is
sent again. Refusals (403: permission, quota, safe mode, the target of a create-if-absent existing) fail at once.

HDFS forbids ``:`` in file names, which a partition such as ``instance=127.0.0.1:8080`` contains; it is stored
as ``%3A`` (and ``%`` as ``%25``), the escaping Hive and Spark apply to partition values, and listed unescaped.

"Insecure" means Hadoop's simple authentication: the user name travels as ``user.name`` and is trusted (no
Kerberos). It comes from ``?user=`` in the lake URL, else the local login name, as in ``hdfs dfs``.
"""

from __future__ import annotations

import email.utils
import getpass
import http.client
import logging
import posixpath
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from hdfs import HdfsError, InsecureClient
from hdfs.client import _to_error

from fediscope.errors import ConfigError, LakeError
from fediscope.lake.backend import Entry, hidden, split_webhdfs_url, url_below
from fediscope.port_probe import speaks_tls
from fediscope.redact import redact_text, redact_url

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
#: RemoteExceptions that mean "no such path" (a parent that is a file: the path cannot exist either). Every other
#: error answer (AccessControlException, a namenode's 500, a proxy's HTML page) is an error, never "absent".
_ABSENT = {"FileNotFoundException", "ParentNotDirectoryException"}
#: Waits before the retries of a read-only call (GETFILESTATUS, LISTSTATUS, OPEN) that failed in a way that heals:
#: a connection that broke off (a node restarting, a datanode dying mid-download), the namenode's
#: RetriableException, or a 502/503/504 answer (a namenode starting, a gateway whose namenode restarts).
READ_RETRY_DELAYS = (0.5, 2.0)
#: Waits before the retries of a write step (CREATE of the temporary file, RENAME into place) that failed in a way
#: that heals, as for reads, or timed out after the request was sent (see :meth:`WebHDFSLake._land`).
WRITE_RETRY_DELAYS = (0.5, 2.0)
#: RemoteExceptions that heal. A plain SafeModeException does not within seconds (safe mode entered by hand or for
#: low disk space; a namenode still starting stays in it for tens of seconds): an active HA namenode leaving its
#: startup safe mode wraps it in a RetriableException itself. Permission, quota and "already exists" never heal.
_RETRIABLE = {"RetriableException"}
#: HTTP statuses that mean "not now" rather than "no": the answer of a gateway (Knox, HttpFS, a load balancer)
#: whose namenode is down or restarting, or of a namenode's web server that is not ready yet.
_UNAVAILABLE_STATUSES = {502, 503, 504}
#: What a WebHDFS call may raise: the namenode's error answers, requests' own, urllib3's from a streamed body.
_FAILURES = (HdfsError, requests.RequestException, urllib3.exceptions.HTTPError)

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


class _Unavailable(requests.HTTPError):
    """A 502, 503 or 504 answer (see :data:`_UNAVAILABLE_STATUSES`), told apart from the namenode's own error
    answers, which the ``hdfs`` package turns into an HdfsError without the status."""


def _foreign_error(response: requests.Response) -> HdfsError | None:
    """An error answer in JSON that is not a WebHDFS ``RemoteException`` (another service's API on that port), as
    an HdfsError without an exception name; None for any other answer. The ``hdfs`` package reads such a body
    with ``json()['RemoteException']`` and fails with a KeyError or TypeError."""
    if response.status_code < 400 or response.status_code == 401:  # 401: the package names it itself
        return None
    try:
        remote = response.json()["RemoteException"]
        if isinstance(remote, dict) and isinstance(remote.get("message"), str):
            return None
    except ValueError:  # not JSON: the package quotes the body itself
        return None
    except (KeyError, TypeError, IndexError):
        pass
    return HdfsError(f"HTTP {response.status_code} {response.reason or ''}".strip() + ": "
                     + response.text[:200], exception=None)


class _NotWebHDFS(HdfsError):
    """An answer no WebHDFS server gives (an error page in HTML, a CREATE answered without a redirect, a listing
    that is not JSON): the lake URL names a port where some other HTTP server listens. ``str()`` is short:
    ``answered HTTP 404 text/html, not WebHDFS JSON``, never the body (a web server's error page quoted whole
    buried what to check). ``server`` is the address that answered (``http://host:port``)."""

    def __init__(self, response: requests.Response, what: str) -> None:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "without a content type"
        super().__init__(f"answered HTTP {response.status_code} {kind}, {what}", exception=None)
        address = urlsplit(response.url or "")
        self.server = f"{address.scheme}://{address.netloc}"


#: The operations a namenode answers with a JSON body (RENAME's rename2 with an empty one): any other body is not
#: WebHDFS's. (OPEN's and CREATE's data steps are answered by a datanode, with the bytes or nothing.)
_JSON_OPS = {"GETFILESTATUS", "LISTSTATUS", "DELETE", "MKDIRS", "RENAME", "GETHOMEDIRECTORY"}


def _not_webhdfs(response: requests.Response, op: str | None) -> _NotWebHDFS | None:
    """The answer as :class:`_NotWebHDFS` when no WebHDFS server would give it, else None: an error answer whose
    body is not JSON (every WebHDFS error is a JSON ``RemoteException``; 401 aside, which the ``hdfs`` package
    names itself, as a Kerberos cluster's), a namenode's CREATE answered without a redirect, a namenode's answer to
    a JSON operation (:data:`_JSON_OPS`) that is not JSON. ``op``: the operation of a namenode request (None for a
    datanode's, whose URL the namenode gave)."""
    if response.status_code >= 400:
        if response.status_code == 401 or _is_json(response):
            return None
        return _NotWebHDFS(response, "not WebHDFS JSON")
    if op == "CREATE" and "location" not in response.headers:
        return _NotWebHDFS(response, "not the redirect to a datanode a WebHDFS namenode answers CREATE with")
    if op in _JSON_OPS and response.content.strip() and not _is_json(response):
        return _NotWebHDFS(response, "not WebHDFS JSON")
    return None


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


class _Client(InsecureClient):
    """``InsecureClient`` whose requests raise :class:`_Unavailable` on a 502/503/504, so that it can be retried,
    :class:`_NotWebHDFS` on an answer no WebHDFS server gives, and an HdfsError on an error answer that is JSON but
    not WebHDFS's (see :func:`_foreign_error`)."""

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response: requests.Response = super()._request(method, url, **kwargs)
        if response.status_code in _UNAVAILABLE_STATUSES:
            raise _Unavailable(f"{response.status_code} {response.reason or ''}".strip(), response=response)
        params = kwargs.get("params")
        op = str(params.get("op", "")).upper() if isinstance(params, dict) else None
        if (not_webhdfs := _not_webhdfs(response, op)) is not None:
            raise not_webhdfs
        foreign = _foreign_error(response)
        if foreign is not None:
            raise foreign
        return response


def _heals(exc: BaseException) -> bool:
    """A failure a read-only call may be retried after (not a refusal, a timeout or a missing path)."""
    if isinstance(exc, HdfsError):
        return getattr(exc, "exception", None) in _RETRIABLE
    if isinstance(exc, _Unavailable):
        return True
    if isinstance(exc, requests.Timeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        return not _never_connected(exc)
    return isinstance(exc, urllib3.exceptions.ProtocolError)


def _write_heals(exc: BaseException) -> bool:
    """A failure a write step may be retried after: what heals for reads, and an answer that did not come in time
    from a node that was reached (a slow datanode pipeline, a busy namenode). A write's step is repeated only from a
    state that was checked first (see :meth:`WebHDFSLake._land`), so retrying after a timeout is safe; a read's
    timeout is not retried, as a namenode that does not answer would make every listing wait three times."""
    if isinstance(exc, requests.ReadTimeout):
        return True
    return _heals(exc)


#: seconds the namenode's port is given to begin a TLS handshake (:meth:`WebHDFSLake._speaks_tls`): a TLS server
#: answers at once; a port of another protocol (a Thrift server reading the handshake as a call) may say nothing
TLS_PROBE_SECONDS = 2.0
#: the innermost causes (:func:`_cause`) of a connection that broke off which a TLS-only port gives a plain HTTP
#: request: a reset or a close unanswered (OpenSSL, Java), or a TLS alert where a status line was read
_BROKE_OFF = frozenset({"ConnectionResetError", "RemoteDisconnected", "BadStatusLine"})
#: how a namenode port broke a connection off before any answer (:meth:`WebHDFSLake._connection_message`), by cause
_UNANSWERED = {"RemoteDisconnected": "closed", "ConnectionResetError": "reset"}


def _innermost(exc: Exception) -> object:
    """The innermost reason of a broken connection: the ``ConnectionResetError``, ``RemoteDisconnected``, … itself."""
    reason: object = exc.args[0] if exc.args else exc
    if not isinstance(reason, Exception) and len(exc.args) > 1 and isinstance(exc.args[1], Exception):
        reason = exc  # urllib3's own ProtocolError("Connection aborted.", cause), not wrapped by requests
    while isinstance(reason, Exception) and len(reason.args) > 1 and isinstance(reason.args[1], Exception):
        reason = reason.args[1]
    return reason


def _cause(exc: Exception) -> str:
    """The innermost reason of a broken connection, named: ``ConnectionResetError``, ``RemoteDisconnected``, …."""
    reason = _innermost(exc)
    return type(reason).__name__ if isinstance(reason, Exception) else str(reason)


#: how a TLS alert record begins (content type 21, protocol version 3.x): what a TLS-only port may answer plain HTTP
#: with, read by the HTTP client where it expected a status line
_TLS_ALERT = "\x15\x03"


def _answered_tls(exc: Exception) -> bool | None:
    """Whether the bytes a broken connection answered where a status line was expected (``BadStatusLine``) are a TLS
    alert: True, or those of another protocol (a Redis or memcached error line): False. None when it answered no
    bytes (a close or a reset unanswered), which leaves it to the TLS probe."""
    reason = _innermost(exc)
    if type(reason) is not http.client.BadStatusLine:  # RemoteDisconnected is one too: a close with no byte
        return None
    line = reason.args[0] if reason.args and isinstance(reason.args[0], str) else ""
    return line.startswith(_TLS_ALERT) if line else None


def _what(exc: Exception) -> str:
    """What went wrong, in a word for a log line, never the request's URL (its query may hold a delegation
    token): the RemoteException's name, the HTTP status or the innermost cause of a broken connection."""
    if isinstance(exc, HdfsError):
        return getattr(exc, "exception", None) or "an error answer"
    if isinstance(exc, _Unavailable):
        return str(exc)
    return redact_text(_cause(exc))


def _escape(name: str) -> str:
    """HDFS file names cannot contain ':' (``instance=127.0.0.1:8080``); escape it as Hive and Spark do."""
    return name.replace("%", "%25").replace(":", "%3A")


def _unescape(name: str) -> str:
    return re.sub(r"%(25|3A)", lambda m: "%" if m.group(1) == "25" else ":", name)


#: What removes the temporary files a failed write leaves: :mod:`fediscope.lake.debris`, run by retention.
_LEFT_BEHIND_REMOVAL = "`fediscope gdpr retention` removes such files once they are a day old"


@dataclass(frozen=True)
class _Leftover:
    """A temporary file a write could not remove: as log lines show it, why its DELETE failed, and why its
    presence could not be checked either (None: it was checked, and is there)."""

    path: str
    failure: str
    unchecked: str | None = None

    def describe(self) -> str:
        """``<path> (RemoteDisconnected)``, or with ``; not checked: <why>`` when it may be gone."""
        return f"{self.path} ({self.failure}{'; not checked: ' + self.unchecked if self.unchecked else ''})"


class WebHDFSLake:
    """The lake on HDFS: ``WebHDFSLake("webhdfs://namenode:9870/data/fediscope?user=etl")``.

    Paths given to the methods are relative to the lake root (``/data/fediscope`` above) and use ``/``.
    ``timeout`` bounds each HTTP request in seconds.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.http_url, self.root, user = parse_webhdfs_url(url)
        self.user = user or _login_name()
        self.user_from_url = user is not None  # False: the login name, which differs between machines
        self.url = redact_url(url)
        self._client = _Client(self.http_url, user=self.user, timeout=timeout)
        self._timeout = timeout
        #: whether the namenode's port speaks TLS, once asked (:meth:`_speaks_tls`)
        self._tls_port: bool | None = None

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

    def _shown(self, absolute: str) -> str:
        """An absolute path of the lake as log lines show it: the lake's (redacted) URL and the path below it."""
        return url_below(self.url, self._rel(absolute))

    # -- errors -------------------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str, path: str) -> Iterator[None]:
        """Turn client and HTTP failures into a LakeError that says what to check."""
        where = f"{self.url} ({path or '/'})"
        try:
            yield
        except HdfsError as exc:
            raise LakeError(self._remote_message(action, where, exc)) from None
        except _Unavailable as exc:
            raise LakeError(self._unavailable_message(action, where, exc)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise LakeError(self._connection_message(action, where, exc)) from None
        except requests.TooManyRedirects as exc:  # was: "the transfer broke off … the datanode may have failed"
            raise LakeError(self._redirect_loop_message(action, where, exc)) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # urllib3's own errors reach us from a streamed body: a datanode that dies during a download
            # (ProtocolError: IncompleteRead) fails in ``reader.read()``, outside requests' wrapping. Their text
            # may quote the request URL, whose query can hold a delegation token: redacted.
            raise LakeError(redact_text(f"cannot {action} {where}: the transfer broke off ({type(exc).__name__}: "
                                        f"{exc}); the datanode may have failed or restarted: try again, or check "
                                        "its log")) from None

    def _remote_message(self, action: str, where: str, exc: HdfsError) -> str:
        if isinstance(exc, _NotWebHDFS):
            node = "namenode" if exc.server == self.http_url else "datanode"
            return (f"cannot {action} {where}: the server at {exc.server} {exc}: it did not answer like a WebHDFS "
                    f"{node}; check that host and port are the namenode HTTP address (9870 by default) and "
                    "dfs.webhdfs.enabled is true")
        kind = getattr(exc, "exception", None) or ""
        detail = exc.message.decode("utf-8", "replace") if isinstance(exc.message, bytes) else str(exc.message)
        detail = " ".join(detail.split())[:200]
        text = f"cannot {action} {where}: {kind + ': ' if kind else ''}{detail}"
        user = self.user
        if kind == "AccessControlException":
            return (f"{text}. The HDFS user {user} lacks permission: set ?user=NAME in FEDISCOPE_LAKE to a user "
                    "that owns the lake directory, or create it with infra/hdfs/create_layout.py (in fediscope's "
                    "source repository: it is not installed with the package)")
        if kind == "SafeModeException":
            return f"{text}. The namenode is in safe mode (starting up, or low on space); wait or check its log"
        if kind == "StandbyException":
            return f"{text}. This namenode is not the active one; point FEDISCOPE_LAKE at the active namenode"
        if kind == "RetriableException":
            return (f"{text}. The namenode asked to be asked again (it may be leaving safe mode or failing over), "
                    "also after retries; try again later, or check its log")
        if not kind and "Authentication failure" in detail:
            return (f"{text}. The cluster requires authentication (Kerberos); fediscope speaks simple "
                    "authentication only (?user=NAME): use a gateway or a cluster with security off")
        if not kind:
            return (f"{text}. The server at {self.http_url} did not answer like a WebHDFS namenode; check that "
                    "host and port are the namenode HTTP address (9870 by default) and dfs.webhdfs.enabled is true")
        return text

    def _node(self, exc: Exception) -> str:
        """``namenode http://nn:9870`` or ``datanode http://dn:9864``: the node a failed request went to (scheme
        and address only: the query of a datanode URL may hold a delegation token)."""
        request = getattr(exc, "request", None) or getattr(getattr(exc, "response", None), "request", None)
        failed = urlsplit(request.url) if request is not None and request.url else None
        failed_at = f"{failed.scheme}://{failed.netloc}" if failed else self.http_url
        return f"datanode {failed_at}" if failed and failed_at != self.http_url else f"namenode {self.http_url}"

    def _redirect_loop_message(self, action: str, where: str, exc: requests.TooManyRedirects) -> str:
        """A request redirected again and again (``requests`` gives up after 30): a WebHDFS namenode redirects
        OPEN and CREATE once, to a datanode, which answers; a server that redirects to itself (or two that redirect
        to each other) is not answering as WebHDFS does. Named by the addresses in the loop, as ``host:port`` only
        (a redirect's query may hold a delegation token)."""
        response = getattr(exc, "response", None)
        history = [*getattr(response, "history", ()), response] if response is not None else []
        # the addresses redirected to (the first request's is where the loop was entered, perhaps from outside it)
        urls = [r.request.url for r in history[1:] if r.request is not None and r.request.url]
        addresses = list(dict.fromkeys(urlsplit(url).netloc.rpartition("@")[2] for url in urls)) or [
            urlsplit(self.http_url).netloc]
        at = addresses[0] if len(addresses) == 1 else "between " + ", ".join(addresses[:-1]) + " and " + addresses[-1]
        return (f"cannot {action} {where}: a redirect loop at {at} ({len(history) - 1 if history else 'too many'} "
                f"redirects, {'each back to the same address' if len(addresses) == 1 else 'round in a circle'}): "
                "the service there is not answering as WebHDFS does (a namenode redirects a read or write once, to a "
                "datanode, which answers it); check that host and port are the namenode HTTP address (9870 by "
                "default), not a proxy's or another service's, and that dfs.webhdfs.enabled is true")

    def _unavailable_message(self, action: str, where: str, exc: _Unavailable) -> str:
        return (f"cannot {action} {where}: the {self._node(exc)} answered {exc} (it, or a gateway in front of it, "
                "is starting, restarting or overloaded): try again later, or check its log")

    def _speaks_tls(self) -> bool:
        """Whether the namenode's port speaks TLS (:func:`~fediscope.port_probe.speaks_tls`): asked once, after a
        connection to it broke off."""
        if self._tls_port is None:
            address = urlsplit(self.http_url)
            self._tls_port = bool(address.hostname and address.port) and speaks_tls(
                address.hostname, address.port, min(self._timeout, TLS_PROBE_SECONDS))
        return self._tls_port

    def _port_speaks_tls(self, exc: Exception) -> bool:
        """Whether the namenode's port, whose connection broke off with ``exc``, speaks TLS: read from the bytes it
        answered when it answered any (a TLS alert, or another protocol's words), else asked (:meth:`_speaks_tls`).
        Was: asked always, and a port of a line protocol (Redis, memcached), which answers only a whole line, held
        the probe's handshake unanswered for its 2 s; a TLS server that answers a handshake it refuses with an alert
        was taken for none."""
        answered = _answered_tls(exc)
        return self._speaks_tls() if answered is None else answered

    def _connection_message(self, action: str, where: str, exc: Exception) -> str:
        request = getattr(exc, "request", None)
        failed = urlsplit(request.url) if request is not None and request.url else None
        failed_at = f"{failed.scheme}://{failed.netloc}" if failed else self.http_url
        reason = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        node = f"datanode {failed_at}" if failed and failed_at != self.http_url else f"namenode {self.http_url}"
        if (node.startswith("namenode") and not isinstance(exc, requests.Timeout) and not _never_connected(exc)
                and _cause(exc) in _BROKE_OFF and self._port_speaks_tls(exc)):
            # plain HTTP sent to a TLS port: the server resets the connection, closes it or answers a TLS alert,
            # every time; was "broke off … The node may have failed or restarted: try again"
            return (f"cannot {action} {where}: the namenode port {urlsplit(self.http_url).netloc} speaks HTTPS (TLS) "
                    "only, and fediscope's WebHDFS client speaks plain HTTP: swebhdfs:// (WebHDFS over HTTPS) is not "
                    "supported; point the URL at the namenode's HTTP address (dfs.namenode.http-address, 9870 by "
                    "default; the cluster's dfs.http.policy must be HTTP_ONLY or HTTP_AND_HTTPS)")
        if (node.startswith("namenode") and not isinstance(exc, requests.Timeout) and not _never_connected(exc)
                and _cause(exc) == "BadStatusLine"):
            # it answered, with bytes that are no HTTP status line (an SSH banner, a database's handshake): another
            # service's port, where trying again never helps, not a node that failed
            return (f"cannot {action} {where}: the {node} answered something that is not HTTP (BadStatusLine): "
                    "the service at that address did not answer like a WebHDFS namenode (a database's, SSH's or "
                    "another service's port?): check that host and port are the namenode HTTP address "
                    "(dfs.namenode.http-address, 9870 by default)")
        if not isinstance(exc, requests.Timeout) and not _never_connected(exc):
            text = (f"cannot {action} {where}: the connection to the {node} broke off ({_cause(exc)}). The node "
                    "may have failed or restarted: try again, or check its log")
            if node.startswith("namenode") and _cause(exc) in _UNANSWERED:
                # closed or reset without a byte of answer, after retries: also what a port of another service does
                # (an HBase Thrift or Hadoop RPC port, one refusing what it read), where trying again never helps
                text += ("; if it happens every time, the service at that address did not answer like a WebHDFS "
                         f"namenode (it {_UNANSWERED[_cause(exc)]} each connection without answering: a Thrift, RPC "
                         "or TLS-only port?): check that host and port are the namenode HTTP address "
                         "(dfs.namenode.http-address, 9870 by default)")
            return text
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
        if not posixpath.basename(target):
            raise LakeError(f"cannot write the lake root {self.url} as a file")
        with self._errors("write", path):
            self._land(target, data, lambda tmp: self._rename_over(tmp, target, path))
        log.debug("wrote %s bytes to %s", len(data), self._shown(target))

    def _land(self, target: str, data: bytes, rename: Callable[[str], bool]) -> bool:
        """Write ``data`` to a temporary file beside ``target`` (CREATE: namenode, then datanode), then
        ``rename(tmp)`` it into place; what ``rename`` answers (False: create-if-absent found the target
        there). Each step is retried after :data:`WRITE_RETRY_DELAYS` when it fails in a way that heals:

        * a failed CREATE is done again into a fresh temporary file (``overwrite`` of the same name would do as
          well, unless the dying datanode still holds that file's lease: the namenode would refuse the new CREATE
          with AlreadyBeingCreatedException for a minute);
        * a RENAME that failed without an answer (connection broke off, timed out, 502/503/504) may have happened:
          before sending it again, GETFILESTATUS tells. The temporary file gone and ``target`` a file of
          ``len(data)`` bytes: it happened, done. The temporary file still there: rename it again. Both gone:
          start over with a new temporary file. The answer to a RENAME sent again is checked the same way when it is
          an error (FileNotFound: the first one moved the file) or False (create-if-absent's "already exists":
          the target may be the file the first one put there).

        Failures that do not heal (403 and any other RemoteException but RetriableException, a refused connection)
        and the last failure are raised as they came; every temporary file left is removed (best effort), and
        those that could not be are named in one warning (:meth:`_warn_left_behind`), however many attempts
        made them.
        """
        parent, name = posixpath.split(target)
        temps: list[str] = []  # temporary files created (or perhaps half-created) here, to remove at the end
        tmp: str | None = None  # the temporary file known to hold all of ``data``
        maybe_renamed = False  # a RENAME of ``tmp`` was sent and its outcome is unknown
        moved: str | None = None  # the temporary file that became ``target``
        delays = iter(WRITE_RETRY_DELAYS)
        try:
            while True:
                step, redirected = "CREATE", False
                try:
                    if tmp is None:
                        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
                        temps.append(tmp)
                        maybe_renamed = False
                        location = self._client._create(tmp, overwrite=True).headers["location"]
                        redirected = True
                        self._upload(location, data)  # CREATE makes missing parents
                    step = "RENAME"
                    done = rename(tmp)
                    if done:
                        moved = tmp
                    elif maybe_renamed and self._check_landed(tmp, target, len(data)) == "landed":
                        done, moved = True, tmp  # "already exists": the file our lost RENAME put there
                    return done
                except _FAILURES as exc:
                    if step == "CREATE":
                        # the namenode's step of CREATE makes no file (see _upload), nor does an upload that never
                        # connected: no DELETE to send, which a namenode that does not answer would wait out again,
                        # nor a leftover to warn of (a namenode redirecting to itself, then gone, failed both)
                        if not redirected or _never_connected(exc):
                            temps.remove(tmp)
                        tmp = None  # half written, or its datanode dying: the next attempt uses a new file
                    elif maybe_renamed or not isinstance(exc, HdfsError):  # no answer: the RENAME may have happened
                        assert tmp is not None  # set before the RENAME step
                        maybe_renamed = True
                        state = self._check_landed(tmp, target, len(data))
                        if state == "landed":
                            moved = tmp
                            return True
                        if state == "gone":
                            tmp = None  # neither the temporary file nor our data at the target: start over
                    delay = next(delays, None)
                    if delay is None or not _write_heals(exc):
                        raise
                    log.info("retrying %s of %s in %.1f s after %s", step, self._shown(target), delay, _what(exc))
                    time.sleep(delay)
        finally:
            leftovers = [self._discard(leftover) for leftover in temps if leftover != moved]
            self._warn_left_behind([left for left in leftovers if left is not None])

    def _check_landed(self, tmp: str, target: str, size: int) -> str:
        """After a RENAME whose outcome is unknown: "landed" (``tmp`` is gone and ``target`` is a file of ``size``
        bytes), "pending" (``tmp`` is still there: the RENAME did not happen, or the check failed too) or "gone"
        (neither)."""
        try:
            if self._stat(tmp) is not None:
                return "pending"
            status = self._stat(target)
        except _FAILURES as exc:
            log.info("could not check whether %s was renamed into place: %s", self._shown(target), _what(exc))
            return "pending"
        if status is not None and status.get("type") == "FILE" and int(status.get("length", -1)) == size:
            return "landed"
        return "gone"

    def _rename_over(self, tmp: str, target: str, path: str) -> bool:
        # The hdfs package wraps plain RENAME only; its generated per-op handlers (_rename, _list_status) take
        # any WebHDFS query parameter, so rename2's renameoptions goes through the same request path.
        response = self._client._rename(tmp, destination=target, renameoptions="OVERWRITE")
        if not response.content.strip():
            return True  # rename2 succeeded: it answers 200 with no body, and raises on failure
        if response.json().get("boolean"):
            return True
        # The server ignored renameoptions and did a plain rename, which never replaces an existing file.
        log.info("WebHDFS server ignored renameoptions=OVERWRITE; replacing %s by delete + rename", target)
        self._client.delete(target)
        if not self._client._rename(tmp, destination=target).json().get("boolean"):
            raise LakeError(f"cannot write {self.url} ({path}): the namenode refused to rename the temporary file "
                            "into place; check that the target is not a directory and the user may write there")
        return True

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Write a temporary file, then rename it to ``path`` with ``renameoptions=NONE`` (rename2 without
        OVERWRITE): one namenode operation that fails with FileAlreadyExistsException when ``path`` exists, so
        of two callers exactly one wins and the file appears whole. (``CREATE&overwrite=false`` is exclusive
        too, but shows a half-written file to readers while the datanode receives it.) Retried as
        :meth:`write_atomic` is; a RENAME whose answer was lost counts as created only when our temporary file is
        gone and the target has our data's length, and a RENAME sent again never replaces anything."""
        target = self._abs(path)
        if not posixpath.basename(target):
            raise LakeError(f"cannot create the lake root {self.url} as a file")
        with self._errors("create", path):
            return self._land(target, data, lambda tmp: self._rename_if_absent(tmp, target, path))

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

    def _upload(self, location: str, data: bytes) -> None:
        """The second step of a CREATE: ``data`` sent to the ``location`` the namenode redirected to (a datanode,
        or an HttpFS gateway's own ``data=true`` URL), as ``hdfs``'s ``Client.write`` sends it. The file is made
        there: the namenode's first step only picks where to send the bytes, so a CREATE that failed before its
        redirect (refused, timed out, an error answer), or whose upload never connected, left nothing to remove."""
        response = self._client._request(method="PUT", url=location, data=data)
        if not response:
            raise _to_error(response)

    def _discard(self, tmp: str) -> _Leftover | None:
        """Remove a temporary file of a write (best effort); what may be left behind, or None. It runs as the
        write's error propagates, so it never raises a failure of its own: that would replace the write's error
        (urllib3's own errors included, which reach us unwrapped when requests does not make the call itself, as
        from a streamed body). It logs nothing either: the write's leftovers are named in one warning.

        The temporary file may never have been made (a CREATE refused, e.g. for permission, or one that failed
        before the datanode created it), and then the DELETE's failure (refused too, the namenode unreachable) is
        no news: a leftover is reported only when the file is still there after the failed DELETE, or when that
        cannot be checked either."""
        try:
            self._client.delete(tmp)  # False (no error) when there was nothing to remove
            return None
        except _FAILURES as exc:
            failure = _what(exc)
        try:
            left = self._stat(tmp) is not None
        except _FAILURES as exc:
            return _Leftover(self._shown(tmp), failure, unchecked=_what(exc))
        if left:
            return _Leftover(self._shown(tmp), failure)
        log.debug("temporary file %s was never made (its DELETE failed: %s)", self._shown(tmp), failure)
        return None

    @staticmethod
    def _warn_left_behind(leftovers: list[_Leftover]) -> None:
        """One warning for the temporary files a write could not remove (none when there are none): a namenode
        failing mid-write fails every attempt's clean-up, and a warning per file would bury the write's error."""
        if not leftovers:
            return
        certain = all(left.unchecked is None for left in leftovers)
        if len(leftovers) == 1:
            [left] = leftovers
            if certain:
                log.warning("could not remove temporary file %s after a write: %s; it is left behind, hidden from "
                            "listings; %s", left.path, left.failure, _LEFT_BEHIND_REMOVAL)
            else:
                log.warning("could not remove temporary file %s after a write (%s), nor check whether it is there "
                            "(%s): it may be left behind, hidden from listings; %s", left.path, left.failure,
                            left.unchecked, _LEFT_BEHIND_REMOVAL)
            return
        log.warning("could not remove %d temporary files after a write: %s; they %s left behind, hidden from "
                    "listings; %s", len(leftovers), ", ".join(left.describe() for left in leftovers),
                    "are" if certain else "may be", _LEFT_BEHIND_REMOVAL)

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
        """(name, FileStatus) of a directory's children: one LISTSTATUS. None of a path that is not there (or
        vanished meanwhile, or whose parent is a file: :data:`_ABSENT`), nor of a file (the namenode lists a file as
        itself, with an empty ``pathSuffix``)."""
        try:
            statuses = self._read_only("LISTSTATUS", lambda: self._client._list_status(directory).json())[
                "FileStatuses"]["FileStatus"]
        except HdfsError as exc:
            if getattr(exc, "exception", None) in _ABSENT:
                return []
            raise
        return [(s["pathSuffix"], s) for s in statuses if s.get("pathSuffix")]

    def list(self, path: str) -> list[Entry]:
        """One LISTSTATUS, not a GETFILESTATUS first: a missing path or a file lists nothing either way (the
        collector lists each instance's state folder every run: :func:`~fediscope.lake.state.list_state`). HttpFS of
        Hadoop 2 lists a file as one child named like it, as a directory holding one file of its own name is
        listed: only that answer is told apart with a GETFILESTATUS (as the ``hdfs`` package's ``Client.list``
        does)."""
        base = self._abs(path)
        with self._errors("list", path):
            children = self._children(base)
            if len(children) == 1 and children[0][0] == posixpath.basename(base) \
                    and children[0][1].get("type") != "DIRECTORY":
                status = self._stat(base)
                if status is None or status.get("type") != "DIRECTORY":
                    return []
        entries = [self._entry(posixpath.join(base, name), info) for name, info in children if not hidden(name)]
        return sorted(entries, key=lambda e: e.path.split("/"))

    def walk(self, path: str) -> list[Entry]:
        return self._files(path, hidden_ones=False)

    def walk_hidden(self, path: str) -> list[Entry]:
        return self._files(path, hidden_ones=True)

    def _files(self, path: str, hidden_ones: bool) -> list[Entry]:
        """The files below ``path`` whose names are hidden (``hidden_ones``) or not: one LISTSTATUS per
        directory."""
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
                    elif hidden(name) == hidden_ones:
                        entries.append(self._entry(child, info))
        return sorted(entries, key=lambda e: e.path.split("/"))

    def _entry(self, absolute: str, info: dict[str, Any]) -> Entry:
        is_dir = info.get("type") == "DIRECTORY"
        modified = info.get("modificationTime")  # milliseconds since the epoch, in every FileStatus
        return Entry(self._rel(absolute), is_dir, 0 if is_dir else int(info.get("length", 0)),
                     modified / 1000 if isinstance(modified, int | float) and not isinstance(modified, bool) else None)

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

    def server_time(self) -> float | None:
        """The namenode's clock now, in seconds since the epoch: the ``Date`` header (RFC 7231, whole seconds) of
        its answer to a GETFILESTATUS of the lake's root (whether or not that exists); None when the answer has
        none, or one that is not a date. The modification times of a listing are the namenode's clock, so the age
        of a file is judged against this, not against this host's clock (:mod:`fediscope.lake.debris`)."""
        with self._errors("read the clock of", ""):
            response = self._read_only("GETFILESTATUS", lambda: self._client._get_file_status(self.root,
                                                                                           strict=False))
        header = response.headers.get("Date")
        if not header:
            return None
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000" or an obsolete form without a zone: RFC 7231 dates are GMT
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
