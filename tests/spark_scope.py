"""The files that use the test session's Spark run in ONE process of ``make test``.

The ``spark`` fixture (tests/conftest.py) starts a Spark driver JVM per test process, and each JVM warms up on its
own: its JIT compiles Spark, and Spark generates and compiles the code of every query shape anew (the curation's,
which most of these files run). pytest-xdist's ``--dist loadfile`` handed the files to whichever process was free,
so both processes started and warmed up a JVM. Measured on this 2-core machine, the 672 tests of the 33 files that
use it, on two processes: 699 s of CPU time with one JVM in each, 653 s with every such file in one process (as
:func:`spark_files_together` schedules them; 370 s and 539 s of wall time: in ``make test``, the other process runs
the rest of the suite meanwhile, and the suite is CPU-bound, so the CPU time is what counts).

Whether a file uses it is read from its code, once: a function with a parameter named ``spark`` (a test or fixture
requesting it, or a helper a test hands it got through ``request.getfixturevalue("spark")``), such a call itself, or
a function imported from a helper module of tests/ that does either (tests/sql_rows.py's ``rows_on``). A wrong guess
changes only which process runs the file, never which tests run or what they assert.

(pytest-xdist's own ``--dist loadgroup`` with ``xdist_group`` marks would do this, but it finds the groups by a
suffix it appends to the node ids, which pytest 9.2's node ids no longer take: pytest-xdist issue #1386.)
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

#: the one scope (xdist's unit of work, given to one process whole) of every file that uses the session's Spark
SPARK_SCOPE = "the files that use the session's Spark"

#: where the tests' own helper modules are (``from sql_rows import rows_on``: tests/ is on the tests' path)
HELPERS = Path(__file__).resolve().parent


@cache
def uses_the_session_spark(path: Path) -> bool:
    """Whether the test file ``path`` uses the session's Spark: a function of it has a parameter named ``spark`` or
    calls ``request.getfixturevalue("spark")``, or it imports from a helper module of tests/ a function that does
    (tests/sql_rows.py's ``rows_on``: its files' Spark halves started a second JVM in the other process). Only a file
    whose text names ``spark`` or such a function is parsed."""
    text = _text(path)
    helpers = _helpers_using_spark()
    if "spark" not in text and not any(name in text for names in helpers.values() for name in names):
        return False
    tree = _parsed(text)
    return tree is not None and any(_asks_for_spark(node) or isinstance(node, ast.ImportFrom) and node.module in helpers
               and {alias.name for alias in node.names} & helpers[node.module] for node in ast.walk(tree))


@cache
def _helpers_using_spark() -> dict[str, frozenset[str]]:
    """The modules of tests/ a test file may import (``sql_rows``, ``metric_fixtures``, a ``test_…`` file's fixtures),
    each with its top-level functions that use the session's Spark: one that asks for it (:func:`_asks_for_spark`),
    or calls such a function of the module. The modules that have none are left out."""
    helpers = {}
    for module in HELPERS.glob("*.py"):
        text = _text(module)
        tree = _parsed(text) if "spark" in text else None  # asking for it names it
        if tree is None:
            continue
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        using = {name for name, function in functions.items() if any(map(_asks_for_spark, ast.walk(function)))}
        callers = using
        while callers:  # and the functions that call them
            callers = {name for name, function in functions.items() if name not in using and any(
                isinstance(node, ast.Name) and node.id in using for node in ast.walk(function))}
            using |= callers
        if using:
            helpers[module.stem] = frozenset(using)
    return helpers


def _text(path: Path) -> str:
    """``path``'s text; empty when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def _asks_for_spark(node: ast.AST) -> bool:
    """Whether ``node`` is a function with a parameter named ``spark`` or a ``….getfixturevalue("spark")`` call."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        arguments = node.args
        named = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        return "spark" in {argument.arg for argument in named if argument is not None}
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "getfixturevalue"
            and bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "spark")


def spark_files_together(config: Any, log: Any) -> Any:
    """xdist's ``--dist loadfile`` scheduler, with every file that uses the session's Spark in :data:`SPARK_SCOPE`.
    A scope goes to one process whole; the scopes are queued in the order the tests were collected (heaviest files
    first, tests/file_order.py), so this one, holding the heaviest, starts first."""
    from xdist.scheduler import LoadFileScheduling

    class SparkFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SPARK_SCOPE if uses_the_session_spark(config.rootpath / path) else path

    return SparkFilesTogether(config, log)
