"""Host names for doubles on 127.0.0.1: what an ``/etc/hosts`` line would do, for one test.

A double listening on 127.0.0.1 can only be reached under an address, and an address has no parent domain.
Tests of behaviour that depends on the host name (an instance served from ``social.example.test`` whose
handles are ``@user@example.test``) make that name resolve to 127.0.0.1 with :func:`resolve_to_loopback`; every
other name resolves as usual, and the connection is a real one to the double.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest


def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``names`` resolve to 127.0.0.1 until the test ends (through ``socket.getaddrinfo``)."""
    wanted = {n.lower() for n in names}
    system = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, (str, bytes)):
            text = host.decode() if isinstance(host, bytes) else host
            if text.lower().rstrip(".") in wanted:
                host = "127.0.0.1"
        return system(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
