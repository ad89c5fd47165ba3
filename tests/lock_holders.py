"""Lock files as another run of fediscope would have written them (``<lake>/_state/process.lock``, see
:mod:`fediscope.lake.lock`), for the lock and ``fediscope lake unlock`` tests; the ``dead_pid`` and ``live_pid``
fixtures of tests/conftest.py give pids of this host to put in them."""

from __future__ import annotations

import json
import socket


def lock_document(pid: int, host: str | None = None, command: str = "fediscope process",
                  token: str = "someone-else", started_at: str = "2026-11-23T19:05:01Z") -> bytes:
    return json.dumps({"pid": pid, "host": host or socket.gethostname(), "started_at": started_at,
                       "command": command, "token": token}).encode()
