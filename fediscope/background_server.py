"""A waitress server run in a background thread, and stopped so that nothing of it lives on.

waitress has no public "stop" for a server running in another thread. Its loop runs while its socket map is not
empty, and its trigger runs a function inside the loop thread; so :meth:`BackgroundServer.stop` shuts the worker
threads down, then asks the loop to close every socket it holds (the listening socket, open keep-alive
connections, the trigger itself), and the loop ends by itself.

``server.close()`` from another thread is not a stop: it closes the listening socket and the trigger's pipe
while the loop and the workers go on, and a worker that finishes a request later writes its wake-up byte to the
pipe's old descriptor number, which by then may be another socket of the process (a byte ``x`` before a Thrift
reply: "No protocol version header").

Its dispatcher's "Task queue depth is N" is logged at DEBUG, not as a warning (:class:`_QueueAtDebug`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any


class _QueueAtDebug(logging.LoggerAdapter):
    """Stands for the ``waitress.queue`` logger in one server's dispatcher: its warnings are logged at DEBUG.

    waitress warns "Task queue depth is 1" whenever a request waits for a worker, which on an embedded server is
    this process's own client: a keep-alive request sent before waitress counted the worker that served the last
    one idle (``make demo`` printed it now and then). That is no load to warn of. Errors (waitress logs a failed
    request on its ``waitress`` logger, not this one) are untouched, and ``fediscope serve-api`` keeps waitress's
    own warning, which there can mean too few ``--threads``.
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level <= logging.WARNING else level, msg, *args, **kwargs)


class BackgroundServer:
    """``server`` (a waitress server, e.g. :func:`api.app.make_server`'s) served by a daemon thread."""

    def __init__(self, server: Any, name: str = "waitress") -> None:
        self.server = server
        server.task_dispatcher.queue_logger = _QueueAtDebug(logging.getLogger("waitress.queue"), {})
        self._thread = threading.Thread(target=server.run, name=name, daemon=True)

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Let the worker threads finish the requests they serve, then close the loop's sockets, each connection
        once the answer it is sending has been sent (for up to ``drain_seconds``; then it is cut).

        In that order: a worker that finishes a request wakes the loop through its trigger, so a trigger closed
        first was written to when closed (EBADF, a traceback in the demo's output) or, its number reused, into
        another file; and the request was cut. A connection closed at once cut an answer larger than what the
        socket took at the first send (the rest waits in waitress's buffer for the loop to send it).
        """
        def close_all() -> None:
            for channel in list(self.server._map.values()):
                if getattr(channel, "total_outbufs_len", 0):
                    channel.close_when_flushed = True  # the loop sends the rest, then closes it
                else:
                    channel.close()  # the listening socket's close closes the trigger too

        self.server.task_dispatcher.shutdown()
        if self._thread.is_alive():
            try:
                self.server.trigger.pull_trigger(close_all)
            except OSError:  # the trigger's pipe was closed under it (EBADF; seen once in a full test run)
                self._close_without_trigger()
            self._thread.join(timeout=drain_seconds)
            if self._thread.is_alive():  # a client that stopped reading: its answer is cut
                self._close_without_trigger()
                self._thread.join(timeout=5)
        else:
            close_all()

    def _close_without_trigger(self) -> None:
        """Stop the loop when its trigger cannot be pulled: close every channel from this thread, so that the
        loop finds its map empty and ends. The trigger is only taken out of the map (waitress's own "closed"
        flag set): its pipe's write end is gone, and closing that number again could close whatever reuses it.
        A listening server's own ``close`` would close the trigger again, so it is closed as a plain channel."""
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer

        trigger = self.server.trigger
        trigger._closed = True
        trigger.del_channel()
        for channel in list(self.server._map.values()):
            with contextlib.suppress(OSError):
                if isinstance(channel, BaseWSGIServer):
                    wasyncore.dispatcher.close(channel)
                else:
                    channel.close()
