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


#: The longest line kept (bytes), and the most data an event may gather over its lines. A Mastodon status is a
#: few KiB of JSON, and a large one some hundreds; a longer
#: line (a broken or hostile server: a compressed stream can unpack to gigabytes) is skipped and counted.
MAX_LINE_BYTES = 8 * 1024 * 1024


class SSEParser:
    """Incremental: :meth:`feed` takes whatever bytes arrived and returns the events they completed.

    An unfinished line waits as a list of its pieces, joined once its end arrives: joining the buffer again for
    every chunk made a long line cost quadratic time (32 MB in 64 KiB chunks: 9 s). A line over
    :data:`MAX_LINE_BYTES` is dropped as it grows, and counted as malformed; so is an event whose ``data:`` lines
    add up to more (each line under the cap, the blank line ending the event never coming)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the unfinished line's pieces
        self._pending_size = 0
        self._skipping = False  # the unfinished line is over the cap: dropped up to its end
        self._name: str | None = None
        self._data: list[str] | None = None
        self._data_size = 0  # bytes of the event's data lines so far
        self._data_skipped = False  # the event's data went over the cap: dropped up to its end
        self.comments = 0  # greetings and heartbeats seen
        self.malformed = 0  # lines that were not UTF-8, or over MAX_LINE_BYTES (skipped)

    def feed(self, chunk: bytes) -> list[Event]:
        parts = chunk.split(b"\n")
        tail = parts.pop()  # an unfinished line (or b"") waits for the next chunk
        events = []
        for index, part in enumerate(parts):
            if index == 0 and (self._pending or self._skipping):
                skipped = self._skipping or self._pending_size + len(part) > MAX_LINE_BYTES
                raw = b"" if skipped else b"".join([*self._pending, part])
                self._pending, self._pending_size, self._skipping = [], 0, False
                if skipped:
                    self.malformed += 1
                    continue
            else:
                raw = part
                if len(raw) > MAX_LINE_BYTES:
                    self.malformed += 1
                    continue
            event = self._line(raw[:-1] if raw.endswith(b"\r") else raw)
            if event is not None:
                events.append(event)
        if tail and not self._skipping:
            self._pending.append(tail)
            self._pending_size += len(tail)
            if self._pending_size > MAX_LINE_BYTES:
                self._pending, self._pending_size, self._skipping = [], 0, True
        return events

    def _line(self, raw: bytes) -> Event | None:
        if not raw:  # end of an event
            name, data, skipped = self._name, self._data, self._data_skipped
            self._name, self._data, self._data_size, self._data_skipped = None, None, 0, False
            if skipped:
                self.malformed += 1
                return None
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
        elif field == "data" and not self._data_skipped:
            self._data_size += len(raw)
            if self._data_size > MAX_LINE_BYTES:
                self._data, self._data_skipped = None, True
            elif self._data is None:
                self._data = [value]
            else:
                self._data.append(value)  # not a new list per line: that was quadratic in the event's lines
        return None  # "id" and "retry" are not used by Mastodon
