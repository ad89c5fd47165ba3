"""How ``collect`` and ``stream`` word a source failed by an exception fediscope did not expect (a bug).

The words go into the run's summary, which is printed on stdout (and in ``--json``), not through the log handler
that masks log lines: an exception may quote a URL with its password or a header with its token, and its message
may run over several lines. So they are masked here as a log line is (:func:`fediscope.redact.redact_text`, with the
settings' known secrets), put on one line and cut short.
"""

from __future__ import annotations

from fediscope.config import Settings
from fediscope.redact import redact_text, secret_values

#: The most of an exception's message a summary quotes (its traceback, in the log, has all of it).
MESSAGE_LIMIT = 300


def internal_error_text(exc: BaseException, settings: Settings) -> str:
    """``internal error: RuntimeError: …``: ``exc``'s type and message, masked, on one line, cut to
    :data:`MESSAGE_LIMIT` characters (the type alone when it has no message)."""
    text = masked_message(exc, settings, MESSAGE_LIMIT)
    return f"internal error: {type(exc).__name__}" + (f": {text}" if text else "")


def masked_message(exc: BaseException, settings: Settings, limit: int) -> str:
    """``exc``'s message as a summary may print it: masked as a log line is, on one line, at most ``limit``
    characters ("" when it has none)."""
    return " ".join(redact_text(str(exc), secret_values(settings)).split())[:limit]
