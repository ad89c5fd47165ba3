"""What service answers at a port, asked after a client of another protocol failed there: for the messages that
name a URL pointed at the wrong port (an HBase store URL at HBase's REST port or web UI, a WebHDFS namenode
address at its HTTPS-only port), so that they say which service it is instead of "timed out" or "try again".

Each probe opens a connection of its own, separate from the failed client's, and sends what the other protocol's
client would send first; it is made only after a failure, or (:func:`http_status_line`'s ``unless_readable``) while a
client waits for a service that speaks first and has not yet, never before a healthy server's first answer."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import time

#: What an HTTP probe sends: the smallest request every HTTP/1.x server answers (even with an error status).
_HTTP_PROBE = b"HEAD / HTTP/1.0\r\n\r\n"
#: how every HTTP/1.x answer begins
_HTTP_START = b"HTTP/"


def http_status_line(host: str, port: int, timeout: float, *,
                     unless_readable: socket.socket | None = None, source: str | None = None) -> str | None:
    """The status line (``HTTP/1.1 404 Not Found``) an HTTP server at ``host:port`` answers a ``HEAD /`` with,
    within ``timeout`` seconds; None when nothing answers there, or something that is not HTTP.

    ``unless_readable``: another client's connection to the same port, waiting for a service that speaks first (a
    MySQL server's greeting). The probe gives up, None, as soon as that connection has something to read (or is
    closed): the service spoke, so it is no HTTP server, and its client is not kept waiting by the probe.
    ``source``: the local address to connect from, as that client does (PyMySQL's ``bind_address``)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout,
                                      source_address=(source, 0) if source else None) as sock:
            sock.sendall(_HTTP_PROBE)
            return status_line(first_answer(sock, max(deadline - time.monotonic(), 0), unless_readable=unless_readable))
    except (OSError, UnicodeError):
        return None


def first_answer(sock: socket.socket, timeout: float, *,
                 unless_readable: socket.socket | None = None) -> bytes | None:
    """The first bytes ``sock`` is answered with within ``timeout`` seconds: an HTTP status line read whole (up to
    its line end, at most 256 bytes, within the timeout), else what the first read brought; ``b""`` when it was
    closed unanswered, None when nothing came (or ``unless_readable`` had something to read first)."""
    deadline = time.monotonic() + timeout
    answer, closed = b"", False
    try:
        with selectors.DefaultSelector() as ready:
            ready.register(sock, selectors.EVENT_READ)
            if unless_readable is not None:
                ready.register(unless_readable, selectors.EVENT_READ)
            while b"\n" not in answer and len(answer) < 256 and _HTTP_START[:len(answer)] == answer[:5]:
                readable = {key.fileobj for key, _events in ready.select(max(deadline - time.monotonic(), 0))}
                if sock not in readable:  # out of time, or the other connection's service spoke first
                    break
                part = sock.recv(256)
                closed = not part
                if closed:
                    break
                answer += part
    except (OSError, ValueError):  # ValueError: a closed socket given as unless_readable
        closed = not answer
    return answer if answer or closed else None


def status_line(answer: bytes | None) -> str | None:
    """The HTTP status line an answer (:func:`first_answer`) begins with, None when it is no HTTP."""
    if not answer or not answer.startswith(_HTTP_START):
        return None
    return answer.split(b"\n", 1)[0].decode("ascii", "replace").strip()


def readable_within(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has something to read (data, or the peer's close) within ``timeout`` seconds; nothing is
    read from it."""
    with selectors.DefaultSelector() as ready:
        ready.register(sock, selectors.EVENT_READ)
        return bool(ready.select(timeout))


def speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether a TLS server answers at ``host:port`` within ``timeout`` seconds: a handshake that completes, one
    refused for its certificate, or one the server ends with a TLS alert (a port asking for a client certificate, or
    offering only protocol versions or ciphers this client does not): a TLS server either way. Nothing is verified
    and nothing is sent after it: only which protocol the port speaks is asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, context.wrap_socket(sock) as tls:
            with contextlib.suppress(OSError):
                tls.unwrap()
            return True
    except ssl.SSLCertVerificationError:
        return True
    except ssl.SSLError as exc:  # an alert: OpenSSL's SSLV3_ALERT_…, TLSV1_ALERT_… (a TLS 1.0-only server's too);
        return "_ALERT_" in (exc.reason or "")  # "wrong version number", an end of file: a server answering no TLS
    except (OSError, UnicodeError):
        return False
