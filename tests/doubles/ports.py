"""Ports for the tests' servers: never one this process handed out lately.

Asked for port 0, the OS may hand out the port of a server stopped a moment ago. Much of what the tests check is
keyed by ``127.0.0.1:<port>``: an instance's domain (its lake partitions, checkpoints, walk state), the HBase store's
process-wide connection pools, a session's keep-alive connections; and a stopped double's handler threads still
answer the connections they had accepted. A double started after another one stopped could then be taken for it (a
source-added-later test failed in CI that way). So every server the tests start on port 0 in this process gets a
port none of them was given before (of the last :data:`REMEMBERED`): socketserver's (the Mastodon, WebHDFS and TLS
doubles, werkzeug's, the sample instance, a test's own ``ThreadingHTTPServer``) once :func:`install` has run
(tests/conftest.py runs it), the HBase Thrift double's, :func:`listening_socket`'s and :func:`free_port`'s. A test's
own ``socket.bind(("127.0.0.1", 0))`` is not covered: one whose port could be taken for another server's uses
:func:`listening_socket`.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections import OrderedDict
from collections.abc import Callable

#: how many of the ports handed out are remembered: far more than any test starts servers, and under a third of
#: Linux's default ephemeral range (32768-60999), so that a port not among them is found in a few tries
REMEMBERED = 8192
#: binds to port 0 tried before giving up (each rejected port stays bound meanwhile, so none comes back)
ATTEMPTS = 100

_handed_out: OrderedDict[int, None] = OrderedDict()
_lock = threading.Lock()


def _claim(port: int) -> bool:
    """Remember ``port`` as handed out; False (and nothing remembered) when it was handed out lately."""
    with _lock:
        if port in _handed_out:
            return False
        _handed_out[port] = None
        while len(_handed_out) > REMEMBERED:
            _handed_out.popitem(last=False)
        return True


def bind_unused(bind: Callable[[], socket.socket]) -> socket.socket:
    """The socket of the first call of ``bind`` (which makes a socket and binds it to port 0) whose port was not
    handed out lately. The sockets of the ports rejected stay bound until then, so the OS cannot give them again."""
    rejected: list[socket.socket] = []
    try:
        for _ in range(ATTEMPTS):
            sock = bind()
            if _claim(sock.getsockname()[1]):
                return sock
            rejected.append(sock)
        raise OSError(f"no port that was not handed out lately in {ATTEMPTS} binds to port 0")
    finally:
        for sock in rejected:
            sock.close()


def _bound() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A TCP port nothing listens on right now, and that no server of this process was given lately (for servers
    that need one up front, or for 'unreachable'). It is remembered: no server started later gets it either."""
    with bind_unused(_bound) as sock:
        return int(sock.getsockname()[1])


def listening_socket(backlog: int = 5) -> socket.socket:
    """A socket listening on 127.0.0.1 at a port no server of this process was given lately: for a test's own
    server answering by hand (or never)."""
    sock = bind_unused(_bound)
    sock.listen(backlog)
    return sock


_tcp_server_bind = socketserver.TCPServer.server_bind


def _server_bind(server: socketserver.TCPServer) -> None:
    """:meth:`socketserver.TCPServer.server_bind`, at a port not handed out lately when the address asks for any."""
    address = server.server_address
    if not (isinstance(address, tuple) and address[1] == 0):
        _tcp_server_bind(server)
        return
    unbound = [server.socket]  # made by the server's __init__: the first try binds it

    def bind() -> socket.socket:
        server.socket = unbound.pop() if unbound else socket.socket(server.address_family, server.socket_type)
        server.server_address = address
        _tcp_server_bind(server)  # its socket options, then bind, then server_address = the bound address
        return server.socket

    bind_unused(bind)


def install() -> None:
    """Make every socketserver server of this process bind through :func:`_server_bind`."""
    socketserver.TCPServer.server_bind = _server_bind  # type: ignore[method-assign]
