"""Ctrl-C (and a kill) that reaches native code at once, not when its current call returns.

Python runs a signal handler only between bytecodes of the main thread. While the main thread is inside one
long DuckDB query, DuckDB's Python client notices the pending SIGINT only between the query's tasks: a query
that is one long pipeline (a big scan, a big aggregation) runs on to its end first. Measured: a 30-second query
ended after 30 seconds; ``fediscope process`` on 500,000 statuses took 9 to 21 seconds to stop after one Ctrl-C.

:class:`SignalRelay` relays SIGINT the moment it arrives. Python's C-level handler writes the signal number to a
wakeup fd (:func:`signal.set_wakeup_fd`); a daemon thread reading the other end calls every interrupter
registered with :func:`on_interrupt` (the DuckDB engine registers its connection's ``interrupt()``, which DuckDB
allows from any thread). The query then ends within milliseconds, and the Python handler runs as before
(KeyboardInterrupt: the command says "interrupted" and exits 130). The relay does not change what Ctrl-C means;
it only makes it prompt.

:func:`stop_on_sigterm` does the same for SIGTERM, which is how Airflow kills a task (marked failed, timed out,
heartbeat lost; SIGKILL follows a few seconds later). Without it, the task's Python went on until SIGKILL, and
the lake lock it held stayed behind: the next run takes a lock over only on the same host, so on another worker
every batch and retention run failed until someone ran ``fediscope lake unlock``. With it, SIGTERM ends the
work with :class:`Terminated` at once, and the ``finally`` blocks run: the lock is released, staging removed.

:class:`LostInterrupts` keeps a Ctrl-C that Python raised inside a finalizer (``__del__``, a ``weakref.finalize``
callback, which DuckDB, matplotlib and tempfile use) from being lost: there the KeyboardInterrupt cannot propagate,
Python prints it as "Exception ignored in … Traceback … KeyboardInterrupt" and the program goes on (measured in
about one of fifteen Ctrl-Cs of a real demo run, which then finished with exit 0).

The wakeup fd is process-wide: when someone else set one (an asyncio loop in the main thread), the relay stays
out of the way and Ctrl-C is as prompt as without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_interrupters: dict[int, Callable[[], None]] = {}
_next_id = 0


class Terminated(BaseException):
    """SIGTERM arrived during :func:`stop_on_sigterm`. A BaseException, as KeyboardInterrupt is: no
    ``except Exception`` on the way may take it for a failure to handle and go on."""


def on_interrupt(interrupt: Callable[[], None]) -> Callable[[], None]:
    """Call ``interrupt`` (from another thread) when a relayed signal arrives while a :class:`SignalRelay` is
    active; returns the function that removes it again."""
    global _next_id
    with _lock:
        _next_id += 1
        token = _next_id
        _interrupters[token] = interrupt

    def remove() -> None:
        with _lock:
            _interrupters.pop(token, None)

    return remove


def interrupt_all() -> int:
    """Call every registered interrupter now; returns how many were called. A failing one is logged and skipped."""
    with _lock:
        interrupters = list(_interrupters.values())
    for interrupt in interrupters:
        try:
            interrupt()
        except Exception as exc:  # e.g. a connection closed meanwhile: nothing to interrupt
            log.debug("interrupt relay: %s failed: %s", interrupt, exc)
    return len(interrupters)


class SignalRelay:
    """While active (a context manager, entered in the main thread), each of ``signals`` (SIGINT by default)
    calls :func:`interrupt_all` at once.

    Only signals Python handles write to the wakeup fd, so a SIGINT that is ignored (``SIG_IGN``, as for a
    background job of a non-interactive shell) relays nothing, as it interrupts nothing.
    """

    def __init__(self, signals: Iterable[int] = (signal.SIGINT,)) -> None:
        self.signals = frozenset(int(s) for s in signals)
        self._write_fd = -1
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SignalRelay:
        # Windows wants a socket as wakeup fd (and has no os.set_blocking for pipes before 3.12): relay nothing there
        if threading.current_thread() is not threading.main_thread() or os.name != "posix":
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
        self._thread = threading.Thread(target=self._relay, args=(read_fd, self.signals),
                                        name="fediscope-signal-relay", daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _relay(read_fd: int, signals: frozenset[int]) -> None:
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
                if signals.intersection(received):
                    interrupt_all()
        finally:
            with contextlib.suppress(OSError):
                os.close(read_fd)

    def __exit__(self, kind: type[BaseException] | None = None, exc: BaseException | None = None,
                 tb: TracebackType | None = None) -> None:
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


@contextlib.contextmanager
def stop_on_sigterm(what: str = "the task") -> Iterator[None]:
    """SIGTERM during the block interrupts registered native work at once and raises :class:`Terminated` (see the
    module docstring); so does SIGINT where Python does not handle it (``SIG_DFL``: an Airflow task's process).
    A Python handler already there for SIGTERM (Airflow's, which calls the operator's ``on_kill``) is called
    first. Outside the main thread, or when SIGTERM is ignored or handled outside Python, nothing changes.
    Terminated is raised once: a second signal while it unwinds only goes to the handler that was there. Raised
    out of a py4j call (local Spark), it closes that call's connection first (:func:`_discard_py4j_connection`).

    Any other error out of the block after the signal arrived is raised as Terminated too (with that error as its
    cause): DuckDB runs Python's pending signal handlers between a query's tasks, and when the handler raises
    there, it ends the query with ``RuntimeError: Query interrupted`` in place of our Terminated. Whether DuckDB
    or the relay gets there first is a race (seen under load): without this the task failed with a traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        yield
        return

    # Airflow 3 runs a task with SIGINT at SIG_DFL and forwards a SIGINT its supervisor gets (a worker stopped with
    # Ctrl-C): by default that kills the process at once, no finally block runs, and the lake lock stays. Where
    # Python handles SIGINT (KeyboardInterrupt, the CLI's watch) it keeps its meaning.
    signals = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:
        signals.append(signal.SIGINT)
    previous_handlers = {signum: signal.getsignal(signum) for signum in signals}
    received: list[str] = []  # the signal that stopped the block, once one did

    def terminate(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGTERM and callable(previous):
            previous(signum, frame)
        if received:  # a second signal (a supervisor forwarding one, a kill of the process group) while the first
            return  # one unwinds: the finally blocks that release the lock must not be cut short
        received.append(signal.Signals(signum).name)
        _discard_py4j_connection(frame)
        raise Terminated(f"{what} was stopped ({received[0]})")

    for signum in signals:
        signal.signal(signum, terminate)
    try:
        with SignalRelay(signals):
            yield
    except Terminated:
        raise
    except BaseException as exc:
        if received:  # a library took the Terminated for its own interruption and raised an error of its own
            raise Terminated(f"{what} was stopped ({received[0]})") from exc
        raise
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def keyboard_interrupts() -> Iterator[None]:
    """For a caller of fediscope's Python functions (a notebook's cell, a script): Ctrl-C (SIGINT) during the block
    reaches the caller as KeyboardInterrupt, and at once.

    At once: a :class:`SignalRelay` interrupts registered native work (a running DuckDB query). As
    KeyboardInterrupt: DuckDB ends the query Ctrl-C stopped with ``RuntimeError: Query interrupted``, which a
    notebook showed as a failure (and a script's ``except KeyboardInterrupt`` missed); any error out of the block
    after SIGINT arrived is raised as KeyboardInterrupt, with that error as its cause. The command line does the
    same with its own watch (:class:`fediscope.cli.SigintWatch`), which also covers SIGTERM.

    The SIGINT handler in place (Python's, or a host's such as IPython's) is still called, then put back on exit.
    Outside the main thread (where no signal handler can be set, and no KeyboardInterrupt arrives), or where
    SIGINT is ignored or handled outside Python, nothing changes. A BaseException (:class:`Terminated`) is never
    replaced.

    A KeyboardInterrupt raised while Python ran a finalizer (which cannot propagate: Python printed "Exception ignored
    … Traceback … KeyboardInterrupt" and went on) is noted by a :class:`LostInterrupts`, as the command line notes
    it: the work stops at its next :func:`raise_if_lost` (``process`` between metrics, ``collect`` between pages),
    or the block ends with KeyboardInterrupt once the work returns. Was: the call finished as if nothing happened.
    """
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if not callable(previous):
        yield
        return
    seen: list[int] = []
    lost = LostInterrupts(lambda: bool(seen))

    def note(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)
        lost.delivering()
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        with SignalRelay(), lost:
            yield
        if lost.lost:  # the work returned, but a Ctrl-C during it was lost in a finalizer: said now
            raise KeyboardInterrupt
    except Exception as exc:
        if seen:
            raise KeyboardInterrupt from exc
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


class LostInterrupts:
    """While active (a context manager), a KeyboardInterrupt that Python could not raise because a finalizer was
    running is noted in :attr:`lost`, without the "Exception ignored … Traceback" Python prints for it, when
    ``seen()`` says the signal that raised it arrived (the caller's SIGINT handler noted it). The work then stops at
    its next :func:`raise_if_lost`, or the caller at the end of what it runs (the command, the demo's step).

    Any other unraisable exception (and a KeyboardInterrupt no signal explains) goes to the hook that was there.
    The handler that raises KeyboardInterrupt resets :attr:`lost` first (:meth:`delivering`): a later Ctrl-C that
    did propagate, and was handled (``serve-api`` stops on it, exit 0), leaves nothing lost behind.
    """

    def __init__(self, seen: Callable[[], bool]) -> None:
        self.seen = seen
        self.lost = False
        self._previous: Callable[[Any], object] | None = None

    def _hook(self, unraisable: Any) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt) and self.seen():
            self.lost = True
            return
        assert self._previous is not None
        self._previous(unraisable)

    def delivering(self) -> None:
        """Called by the signal handler about to raise KeyboardInterrupt: that one is not lost (yet)."""
        self.lost = False

    def __enter__(self) -> LostInterrupts:
        self._previous = sys.unraisablehook
        sys.unraisablehook = self._hook
        _watching.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None = None, exc: BaseException | None = None,
                 tb: TracebackType | None = None) -> None:
        if self._previous is not None:
            if sys.unraisablehook == self._hook:  # replaced meanwhile: leave the newer one in place
                sys.unraisablehook = self._previous
            self._previous = None
        with contextlib.suppress(ValueError):
            _watching.remove(self)


_watching: list[LostInterrupts] = []  # the active ones


def raise_if_lost() -> None:
    """Raise the KeyboardInterrupt a finalizer swallowed (:class:`LostInterrupts`) now: called between two pieces of
    long work (``process`` between metrics, ``collect`` between pages, ``gdpr erase``/``export`` between files
    (:func:`fediscope.step_progress.in_steps`) and passes, ``gdpr retention`` between partitions, ``report`` between
    analyses and charts, ``store export`` between pages), where a Ctrl-C may stop it anyway, so that such a Ctrl-C
    stops the work there rather than when the command returns. Only in the main thread, where Python raises
    KeyboardInterrupt: another thread (a request of ``serve-api``) is not stopped by it."""
    if threading.current_thread() is threading.main_thread() and any(watch.lost for watch in _watching):
        raise KeyboardInterrupt


#: py4j methods that send one command to the JVM and read its answer on the connection ``self``.
_PY4J_SEND = frozenset({"ClientServerConnection.send_command", "GatewayConnection.send_command"})


def _discard_py4j_connection(frame: FrameType | None) -> None:
    """Close the py4j connection whose answer the main thread is waiting for, if it is.

    Raised out of py4j's read, :class:`Terminated` leaves the answer to come (when the running Spark job ends)
    on the connection, which py4j keeps as this thread's: the next call made on the way out (the engine's clean-up)
    would send its command, then wait for the job to end and take its answer for its own ("Method dropTempView
    does not exist"). Measured: the lock was released 24 s after SIGTERM, long after Airflow's SIGKILL, and the
    task failed with a Py4JError. Closed, the connection is replaced by a new one at the next call.
    """
    while frame is not None:
        code = frame.f_code
        if code.co_qualname in _PY4J_SEND and "py4j" in code.co_filename:
            connection = frame.f_locals.get("self")
            with contextlib.suppress(Exception):
                connection.close()  # type: ignore[union-attr]
            return
        frame = frame.f_back
