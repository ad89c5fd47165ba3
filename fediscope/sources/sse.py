"""Server-sent events, as Mastodon's streaming server sends them: bytes in, ``(event, data)`` pairs out.

The wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html), as Mastodon uses it::

    :)                         ← a comment: the server's greeting, and ``:thump`` heartbeats every ~15 s
    event: update              ← the event's name
    data: {"id":"1170…", …}    ← its payload (a Status as JSON; ``delete`` sends the bare id)
                               ← an empty line ends the event

A ``data`` field given twice is joined with a newline; lines end in LF or CRLF (a bare CR, which the spec
allows and no Mastodon server sends, is not a line end here); a field without a
colon is a field with an empty value; one space after the colon is dropped. Payload bytes are kept as they came
(decoded as UTF-8 per line), so the lake gets the upstream JSON unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    name: str       # "update", "status.update", "delete", … ("message" when the server gave none)
    data: str       # the payload text (JSON for statuses, a bare id for deletions)


class SSEParser:
    """Incremental: :meth:`feed` takes whatever bytes arrived and returns the events they completed."""

    def __init__(self) -> None:
        self._buffer = b""
        self._name: str | None = None
        self._data: list[str] | None = None
        self.comments = 0  # greetings and heartbeats seen
        self.malformed = 0  # lines that were not UTF-8 (skipped)

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        lines = self._buffer.split(b"\n")
        self._buffer = lines.pop()  # an unfinished line waits for the next chunk
        events = []
        for raw in lines:
            event = self._line(raw[:-1] if raw.endswith(b"\r") else raw)
            if event is not None:
                events.append(event)
        return events

    def _line(self, raw: bytes) -> Event | None:
        if not raw:  # end of an event
            name, data = self._name, self._data
            self._name, self._data = None, None
            if data is None:
                return None  # an event without data is not dispatched (the spec's rule)
            return Event(name or "message", "\n".join(data))
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.malformed += 1
            return None
        if line.startswith(":"):
            self.comments += 1
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._name = value
        elif field == "data":
            self._data = [*(self._data or []), value]
        return None  # "id" and "retry" are not used by Mastodon
