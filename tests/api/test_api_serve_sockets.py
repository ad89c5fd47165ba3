"""The API's waitress server listening on several sockets: waitress's own refusals (a header block over
:data:`api.app.MAX_HEADER_BYTES`, a malformed request line, a body over the cap) are the JSON error envelope on
every one of them, not only on the first.

waitress opens one listening socket per address ``--host`` resolves to (``localhost`` is 127.0.0.1 and ::1 on
most machines, ``*`` is 0.0.0.0 and ::). So that the test stays on loopback and does not depend on this machine's
hosts file, the server runs in a subprocess where one made-up name resolves to the addresses the test picks (the
resolver is the only stand-in; waitress, :func:`api.app.make_server` and the app are the real ones).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_testing import KEY, PSEUDONYM_KEY

from api.app import MAX_BODY_BYTES, MAX_HEADER_BYTES, SECURITY_HEADERS

NAME = "several-sockets.fediscope.test"

# The resolver of the subprocess: NAME is the addresses in $ADDRESSES_VARIABLE (each with the asked port, so port
# 0 gives each socket a free port of its own); every other name resolves as usual.
ADDRESSES_VARIABLE = "SEVERAL_SOCKETS_ADDRESSES"
_RESOLVER = f"""
import os, socket
_real = socket.getaddrinfo
_addresses = os.environ[{ADDRESSES_VARIABLE!r}].split()
def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if host != {NAME!r}:
        return _real(host, port, family, type, proto, flags)
    port = int(port)
    found = []
    for address in _addresses:
        for info in _real(address, port, family, type, proto, flags | socket.AI_NUMERICHOST):
            found.append(info)
    return found
socket.getaddrinfo = _getaddrinfo
"""

# make_server itself, as serve-api calls it; prints each socket it listens on, one JSON line, then serves.
_SERVE = _RESOLVER + f"""
import json
from api import create_app
from api.app import make_server
server = make_server(create_app(), host={NAME!r}, port=0, threads=2)
listening = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
print(json.dumps(listening), flush=True)
server.run()
"""

# the command itself
_CLI = _RESOLVER + """
from fediscope.cli import main
main()
"""


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


ADDRESS_SETS = [
    pytest.param(["127.0.0.1", "127.0.0.1"], id="two-ports-on-127.0.0.1"),
    pytest.param(["127.0.0.1", "::1"], id="127.0.0.1-and-::1"),
]


def _env(tmp_path: Path, addresses: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES="allowed.example")
    env[ADDRESSES_VARIABLE] = " ".join(addresses)
    return env


def _skip_without_ipv6(addresses: list[str]) -> None:
    if "::1" in addresses and not _ipv6_loopback():
        pytest.skip("IPv6 loopback (::1) is not available on this machine: the IPv4 + IPv6 case is NOT tested")


@pytest.fixture(params=ADDRESS_SETS)
def listening(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[tuple[str, int]]]:
    """The (host, port) of each socket the API's waitress server listens on, while it serves."""
    addresses: list[str] = request.param
    _skip_without_ipv6(addresses)
    process = subprocess.Popen([sys.executable, "-c", _SERVE], env=_env(tmp_path, addresses), cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=10)
            pytest.fail(f"the server did not start: {process.stderr.read()}")
        sockets = [(host, int(port)) for host, port in json.loads(line)]
        assert len(sockets) == len(addresses), sockets  # really several sockets, one per address
        assert len(set(sockets)) == len(sockets), sockets
        yield sockets
    finally:
        process.terminate()
        process.wait(timeout=10)


def _exchange(where: tuple[str, int], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to one socket; the status, headers and body of the answer (read to the close).

    waitress closes after a refusal without reading what is left of the request, so the close can be a reset
    (ECONNRESET) rather than an end of file; the answer is whole when its Content-Length says so."""
    with socket.create_connection(where, timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except ConnectionResetError:
            if not raw:
                raise
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    assert re.fullmatch(r"HTTP/1\.[01] \d{3} .*", status_line), raw[:200]  # 1.0: a request line waitress could not read
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert int(headers["Content-Length"]) == len(body), raw[:300]
    return int(status_line.split()[1]), headers, body


def _assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict[str, Any]:
    got_status, headers, body = answer
    assert got_status == status, (headers, body[:300])
    assert headers["Content-Type"] == "application/json", body[:300]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    error = json.loads(body)["error"]
    assert error["status"] == status and error["code"] == code, error
    assert b"waitress" not in body and b"generated by" not in body
    return error


def test_every_socket_serves_the_api(listening: list[tuple[str, int]]) -> None:
    for where in listening:
        status, headers, body = _exchange(where, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 200 and json.loads(body) == {"status": "ok"}, where
        assert headers["Server"] == "fediscope"


def test_every_socket_refuses_a_large_header_block_with_the_json_error(listening: list[tuple[str, int]]) -> None:
    padding = b"x" * (MAX_HEADER_BYTES + 4096)
    for where in listening:
        error = _assert_json_error(_exchange(where, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + padding
                                             + b"\r\n\r\n"), 431, "headers_too_large")
        assert str(MAX_HEADER_BYTES) in error["message"], where


def test_every_socket_refuses_a_malformed_request_line_with_the_json_error(listening: list[tuple[str, int]]) -> None:
    for where in listening:  # a lowercase method: waitress refuses it before the app sees the request
        _assert_json_error(_exchange(where, b"get /health HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "bad_request")


def test_every_socket_refuses_a_large_body_with_the_json_error(listening: list[tuple[str, int]]) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    for where in listening:
        request = b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        error = _assert_json_error(_exchange(where, request), 413, "body_too_large")
        assert str(MAX_BODY_BYTES) in error["message"], where


@pytest.mark.parametrize("addresses", ADDRESS_SETS)
def test_serve_api_on_a_host_with_several_addresses_starts(tmp_path: Path, addresses: list[str]) -> None:
    """``serve-api --host localhost`` where localhost is 127.0.0.1 and ::1 (or ``--host '*'``) starts and says
    where it listens, rather than ending in a traceback."""
    _skip_without_ipv6(addresses)
    process = subprocess.Popen([sys.executable, "-c", _CLI, "serve-api", "--host", NAME, "--port", "0"],
                               env=_env(tmp_path, addresses), cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        while "WARNING" in line:  # e.g. a key warning before the banner
            line = process.stderr.readline()
        assert "Traceback" not in line and "fediscope API on http://" in line, line + process.stderr.read()
        for address in addresses:  # every socket's address is named
            assert f"http://[{address}]:" in line if ":" in address else f"http://{address}:" in line, line
    finally:
        process.terminate()
        process.wait(timeout=10)
