"""Protocol-level doubles of external systems (Mastodon, WebHDFS), served on 127.0.0.1 for tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on right now (for servers that need one up front, or for 'unreachable')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
