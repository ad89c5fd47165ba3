"""What a logger writes through fediscope's :class:`~fediscope.redact.RedactingFilter`, for the tests of what the
logs show (secrets, redaction)."""

from __future__ import annotations

import io
import logging

from fediscope.redact import RedactingFilter


def logged_through_filter(secrets: tuple[str, ...], name: str, *args: object) -> str:
    """What a logger ``name`` writes through a :class:`RedactingFilter` of ``secrets`` for ``logger.error(*args)``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(secrets))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error(*args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()
