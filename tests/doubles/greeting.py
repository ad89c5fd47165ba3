"""A port whose service speaks first with bytes of another protocol (an SSH banner, a MariaDB handshake), or says
nothing at all: what a URL pointed at the wrong port reaches. For the tests of how fediscope names such a port."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def greeting_port(greeting: bytes | None, hold: float = 5) -> Iterator[int]:
    """A port on 127.0.0.1 that sends ``greeting`` to each connection, then reads what comes (at most ``hold``
    seconds) until the client closes, each connection apart (one held open does not keep the next waiting);
    ``None``: nothing takes the connections but the kernel's backlog, so nothing ever answers.
    Closed when the block ends."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def greet(connection: socket.socket) -> None:
            with connection:
                connection.sendall(greeting or b"")
                connection.settimeout(hold)
                with contextlib.suppress(OSError):
                    connection.recv(65536)

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
