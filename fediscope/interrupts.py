"""Ctrl-C that reaches native code at once, not when its current call returns.

Python runs a signal handler only between bytecodes of the main thread. While the main thread is inside one
long DuckDB query, DuckDB's Python client notices the pending SIGINT only between the query's tasks: a query
that is one long pipeline (a big scan, a big aggregation) runs on to its end first. Measured: a 30-second query
ended after 30 seconds; ``fediscope process`` on 500,000 statuses took 9 to 21 seconds to stop after one Ctrl-C.

:class:`SigintRelay` relays SIGINT the moment it arrives. Python's C-level handler writes the signal number to a
wakeup fd (:func:`signal.set_wakeup_fd`); a daemon thread reading the other end calls every interrupter
registered with :func:`on_sigint` (the DuckDB engine registers its connection's ``interrupt()``, which DuckDB
allows from any thread). The query then ends within milliseconds, and the Python handler runs as before
(KeyboardInterrupt: the command says "interrupted" and exits 130). The relay does not change what Ctrl-C means;
it only makes it prompt.

The wakeup fd is process-wide: when someone else set one (an asyncio loop in the main thread), the relay stays
out of the way and Ctrl-C is as prompt as without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)

_lock = threading.Lock()
_interrupters: dict[int, Callable[[], None]] = {}
_next_id = 0


def on_sigint(interrupt: Callable[[], None]) -> Callable[[], None]:
    """Call ``interrupt`` (from another thread) when SIGINT arrives while a :class:`SigintRelay` is active;
    returns the function that removes it again."""
    global _next_id
    with _lock:
        _next_id += 1
        token = _next_id
        _interrupters[token] = interrupt

    def remove() -> None:
        with _lock:
            _interrupters.pop(token, None)

    return remove


def relay_sigint() -> int:
    """Call every registered interrupter now; returns how many were called. A failing one is logged and skipped."""
    with _lock:
        interrupters = list(_interrupters.values())
    for interrupt in interrupters:
        try:
            interrupt()
        except Exception as exc:  # e.g. a connection closed meanwhile: nothing to interrupt
            log.debug("interrupt relay: %s failed: %s", interrupt, exc)
    return len(interrupters)


class SigintRelay:
    """While active (a context manager, entered in the main thread), SIGINT calls :func:`relay_sigint` at once.

    Only signals Python handles write to the wakeup fd, so a SIGINT that is ignored (``SIG_IGN``, as for a
    background job of a non-interactive shell) relays nothing, as it interrupts nothing.
    """

    def __init__(self) -> None:
        self._write_fd = -1
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SigintRelay:
        if threading.current_thread() is not threading.main_thread():
            return self
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)  # set_wakeup_fd's requirement: a signal handler never blocks
        try:
            previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        except (ValueError, OSError) as exc:
            log.debug("interrupt relay: not installed (%s)", exc)
            os.close(read_fd)
            os.close(write_fd)
            return self
        if previous != -1:  # someone else's wakeup fd: give it back, and relay nothing
            signal.set_wakeup_fd(previous)
            os.close(read_fd)
            os.close(write_fd)
            return self
        self._write_fd = write_fd
        self._thread = threading.Thread(target=self._relay, args=(read_fd,), name="fediscope-sigint-relay",
                                        daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _relay(read_fd: int) -> None:
        try:
            while True:
                try:
                    received = os.read(read_fd, 64)
                except InterruptedError:
                    continue
                except OSError:
                    return
                if not received:  # the write end was closed: the relay ended
                    return
                if signal.SIGINT in received:
                    relay_sigint()
        finally:
            with contextlib.suppress(OSError):
                os.close(read_fd)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._write_fd == -1:
            return
        with contextlib.suppress(ValueError, OSError):
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, self._write_fd):  # replaced meanwhile: leave the newer one in place
                signal.set_wakeup_fd(current)
        os.close(self._write_fd)  # the thread reads end-of-file, closes its end and ends
        self._write_fd = -1
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None
