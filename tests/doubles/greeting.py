"""A port whose service speaks first with bytes of another protocol (an SSH banner, a MariaDB handshake), or says
nothing at all: what a URL pointed at the wrong port reaches. For the tests of how fediscope names such a port."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def greeting_port(greeting: bytes | None, hold: float = 5, per_line: bool = False,
                  reset: bool = False) -> Iterator[int]:
    """A port on 127.0.0.1 that sends ``greeting`` to each connection, then reads what comes (at most ``hold``
    seconds) until the client closes, each connection apart (one held open does not keep the next waiting);
    ``None``: nothing takes the connections but the kernel's backlog, so nothing ever answers. ``per_line``: it
    speaks only when spoken to, as a line protocol (Redis, memcached) or an HTTP server reading a request line (Go's)
    does: ``greeting`` answers each whole line (ended by LF, CRLF too) the client sends, and bytes with no line end
    are read and awaited (at most ``hold`` seconds). ``reset``: once it has read what the client sent, it resets the
    connection (a TCP RST, as a service refusing what it read does) instead of closing it.
    Closed when the block ends."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def greet(connection: socket.socket) -> None:
            with connection:
                connection.settimeout(hold)
                if per_line:
                    answer_lines(connection)
                    return
                connection.sendall(greeting or b"")
                with contextlib.suppress(OSError):
                    connection.recv(65536)
                if reset:  # closed with a linger of 0 s: the kernel sends RST, not FIN
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def answer_lines(connection: socket.socket) -> None:
            unended = b""
            with contextlib.suppress(OSError):
                while part := connection.recv(65536):
                    *lines, unended = (unended + part).split(b"\n")
                    for _line in lines:
                        connection.sendall(greeting or b"")

        def greet_each() -> None:  # each connection in a thread of its own, as a server answers them
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:  # the listener was closed: the test is over
                    return
                threading.Thread(target=greet, args=(connection,), daemon=True, name="greeting").start()

        if greeting is not None:
            threading.Thread(target=greet_each, daemon=True, name="greeting-port").start()
        yield listener.getsockname()[1]
