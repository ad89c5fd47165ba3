"""The server that pushes the stream step's events: ``python -m bench.push '<json args>'``.

It runs in a process of its own, started by :mod:`bench.run` beside the measured ``stream`` stage, not inside
it: the stage's peak memory (its process tree's, :mod:`bench.measure`) is then ``fediscope stream``'s alone. In
the stage, the server held the events twice (their list and the joined body), about 160 MiB of the step's peak at
50,000 events.

Arguments: ``lake`` (the raw lake whose statuses it pushes), ``events`` (at most that many) and ``body`` (a file
it writes the event stream into). Each request for the public stream is answered from that file in chunks, so the
server holds no copy of the events either. Once listening on 127.0.0.1 (a free port), it prints
``PUSH_READY {json}`` (``url``, ``events``, ``bytes``, ``pid``) on stdout and serves until terminated; when it
cannot, ``PUSH_ERROR {json}`` (its one-line error) and exit 1.
"""

from __future__ import annotations

import json
import shutil
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

READY_PREFIX = "PUSH_READY "
ERROR_PREFIX = "PUSH_ERROR "
CHUNK = 1 << 16


def write_body(lake: Path, wanted: int, body: Path) -> int:
    """Write up to ``wanted`` statuses of ``lake`` as ``update`` events into ``body``; returns how many."""
    from bench.stages import _status_files
    from fediscope.lake.batches import read_batch
    from fediscope.lake.local import LocalLake

    source = LocalLake(lake)
    count = 0
    with open(body, "wb") as handle:
        handle.write(b":)\n")
        for path in _status_files(lake):
            for record in read_batch(source, str(Path(path).relative_to(lake))):
                handle.write(b"event: update\ndata: " + json.dumps(record["data"]).encode() + b"\n\n")
                count += 1
                if count == wanted:
                    return count
    return count


def serve(body: Path) -> ThreadingHTTPServer:
    """A minimal streaming server on 127.0.0.1: the instance document naming itself as the streaming server, and
    ``body`` as the public stream (then the response ends)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/api/v1/streaming/public":
                self._send(body.stat().st_size, "text/event-stream")
                try:
                    with open(body, "rb") as handle:
                        shutil.copyfileobj(handle, self.wfile, CHUNK)
                except ConnectionError:  # the client stopped reading once it had its events
                    self.close_connection = True
            elif path == "/api/v1/instance":
                host = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
                payload = json.dumps({"uri": host, "urls": {"streaming_api": f"ws://{host}"}}).encode()
                self._send(len(payload), "application/json")
                self.wfile.write(payload)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        def _send(self, length: int, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(length))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def main(argv: list[str]) -> int:
    import os

    if len(argv) != 1:
        sys.stderr.write("usage: python -m bench.push '<json args>'\n")
        return 2
    args = json.loads(argv[0])
    body = Path(args["body"])
    try:
        events = write_body(Path(args["lake"]), args["events"], body)
        server = serve(body)
    except Exception as exc:  # noqa: BLE001 - one line for the benchmark's output, not a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(f"bench push server: {type(exc).__name__}: {first}\n")
        sys.stdout.write(ERROR_PREFIX + json.dumps(f"{type(exc).__name__}: {first}") + "\n")
        return 1
    ready = {"url": f"http://127.0.0.1:{server.server_address[1]}", "events": events,
             "bytes": body.stat().st_size, "pid": os.getpid()}
    sys.stdout.write(READY_PREFIX + json.dumps(ready) + "\n")
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
