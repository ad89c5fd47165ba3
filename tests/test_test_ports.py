"""A server the tests start never gets a port that one started before it in this process was given (doubles/ports.py).

The OS may hand the port of a server stopped a moment ago to the next bind to port 0; a test cannot make it do so,
so here the next bind to port 0 is given that port (as the OS would), and the server started must take another.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from doubles import free_port
from doubles.hbase_thrift_server import HBaseThriftDouble
from doubles.mastodon_server import MastodonDouble
from doubles.ports import listening_socket
from doubles.webhdfs_server import WebHDFSDouble
from werkzeug.serving import make_server


@contextmanager
def _mastodon(_: Path) -> Iterator[set[int]]:
    with MastodonDouble(statuses=1) as double:
        yield {int(double.domain.rsplit(":", 1)[1])}


@contextmanager
def _webhdfs(root: Path) -> Iterator[set[int]]:
    with WebHDFSDouble(root) as double:
        yield {int(double.namenode_address.rsplit(":", 1)[1]), double.datanode_port}


@contextmanager
def _hbase(_: Path) -> Iterator[set[int]]:
    with HBaseThriftDouble() as double:
        yield {double.port}


@contextmanager
def _werkzeug(_: Path) -> Iterator[set[int]]:  # the API tests' server (tests/api/api_testing.py)
    server = make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield {server.server_port}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()  # werkzeug's serve_forever closes the server once more on its way out: till then the port was
        # seen still bound


@contextmanager
def _free_port(_: Path) -> Iterator[set[int]]:
    yield {free_port()}


@contextmanager
def _listening_socket(_: Path) -> Iterator[set[int]]:
    with listening_socket() as sock:
        yield {sock.getsockname()[1]}


SERVERS: dict[str, Callable[[Path], AbstractContextManager[set[int]]]] = {
    "mastodon": _mastodon, "webhdfs": _webhdfs, "hbase": _hbase, "werkzeug": _werkzeug, "free_port": _free_port,
    "listening_socket": _listening_socket}


def _next_bind_to_port_0_gets(port: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the next bind to port 0 bind ``port``, as the OS may when it was freed a moment ago. The list returned
    holds the port until that bind came."""
    offered = [port]
    bind = socket.socket.bind

    def handing_out_again(sock: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and address[1] == 0 and offered:
            address = (address[0], offered.pop(), *address[2:])
        bind(sock, address)

    monkeypatch.setattr(socket.socket, "bind", handing_out_again)
    return offered


# each kind after itself, and before and after a free_port() (a port for 'unreachable' must stay so)
PAIRS = sorted({(kind, kind) for kind in SERVERS} | {(kind, "free_port") for kind in SERVERS}
               | {("free_port", kind) for kind in SERVERS})


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_server_started_after_another_stopped_never_gets_its_port(first, second, tmp_path, monkeypatch) -> None:
    with SERVERS[first](tmp_path / "first") as ports:
        pass
    offered = _next_bind_to_port_0_gets(min(ports), monkeypatch)
    with SERVERS[second](tmp_path / "second") as later:
        assert not offered, "the port was not offered again: the test would prove nothing"
        assert not later & ports
    monkeypatch.undo()
    with socket.socket() as sock:  # the port rejected was let go
        sock.bind(("127.0.0.1", min(ports)))
