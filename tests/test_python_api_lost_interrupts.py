"""A Ctrl-C lost in a finalizer during a call of fediscope's Python API (:func:`fediscope.interrupts.
keyboard_interrupts`, what :mod:`fediscope.python_api` wraps each call in) is not lost.

Python cannot raise KeyboardInterrupt out of a finalizer (a ``weakref.finalize`` callback, as DuckDB, Arrow and
matplotlib use): it printed "Exception ignored in … Traceback … KeyboardInterrupt" and went on. The command line
notes it (:class:`~fediscope.interrupts.LostInterrupts`): the work stops at its next stop point
(:func:`~fediscope.interrupts.raise_if_lost`), or the command says "interrupted" once it returns. Was: a notebook's
call had none of it, so "interrupt the kernel" went unheard and the call finished as if nothing happened.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from child_process import child

# A block of the Python API during which the Ctrl-C arrives while Python runs a finalizer (raise_signal runs the
# handler at once, in that callback); argv[1] "stop": the work then reaches a stop point, "end": it just returns.
SCRIPT = textwrap.dedent("""
    import gc
    import signal
    import sys
    import weakref
    from fediscope.interrupts import keyboard_interrupts, raise_if_lost

    class Resource:
        pass

    handler = signal.getsignal(signal.SIGINT)
    try:
        with keyboard_interrupts():
            resource = Resource()
            weakref.finalize(resource, signal.raise_signal, signal.SIGINT)
            del resource
            gc.collect()
            print("finished", flush=True)
            if sys.argv[1] == "stop":
                raise_if_lost()
                print("went on past the stop point", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    print("handler restored:", signal.getsignal(signal.SIGINT) is handler, sys.unraisablehook is sys.__unraisablehook__,
          flush=True)
    try:  # a later Ctrl-C that propagates is raised as before
        with keyboard_interrupts():
            signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        print("KeyboardInterrupt again", flush=True)
""")


@pytest.mark.parametrize("how", ["stop", "end"])
def test_a_ctrl_c_lost_in_a_finalizer_reaches_the_caller_as_keyboard_interrupt(how: str) -> None:
    with child([sys.executable, "-c", SCRIPT, how]) as process:
        out, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert process.returncode == 0, err
    assert out.splitlines() == ["finished", "KeyboardInterrupt", "handler restored: True True",
                                "KeyboardInterrupt again"], err
