"""A Ctrl-C that Python loses in a finalizer, for the tests of the stop points (:func:`fediscope.interrupts.
raise_if_lost`) of the commands run in-process (:func:`fediscope.cli.main`, whose watch notes it)."""

from __future__ import annotations

import gc
import signal
import weakref
from collections.abc import Callable
from typing import Any


class _Resource:
    pass


def lose_a_ctrl_c() -> None:
    """SIGINT while Python runs a finalizer (a ``weakref.finalize`` callback, as DuckDB, Arrow and matplotlib use):
    the handler runs at once, in the callback, and its KeyboardInterrupt cannot propagate."""
    resource = _Resource()
    weakref.finalize(resource, signal.raise_signal, signal.SIGINT)
    del resource
    gc.collect()


def losing_at_the_first_call(function: Callable[..., Any], calls: list[Any]) -> Callable[..., Any]:
    """``function``, each call noted in ``calls``; the first one loses a Ctrl-C (:func:`lose_a_ctrl_c`) when done."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        calls.append(args)
        if len(calls) == 1:
            lose_a_ctrl_c()
        return result

    return wrapped
