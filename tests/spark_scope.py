"""The files that use the test session's Spark run in ONE process of ``make test``.

The ``spark`` fixture (tests/conftest.py) starts a Spark driver JVM per test process, and each JVM warms up on its
own: its JIT compiles Spark, and Spark generates and compiles the code of every query shape anew (the curation's,
which most of these files run). pytest-xdist's ``--dist loadfile`` handed the files to whichever process was free,
so both processes started and warmed up a JVM. Measured on this 2-core machine, the 672 tests of the 33 files that
use it, on two processes: 699 s of CPU time with one JVM in each, 653 s with every such file in one process (as
:func:`spark_files_together` schedules them; 370 s and 539 s of wall time: in ``make test``, the other process runs
the rest of the suite meanwhile, and the suite is CPU-bound, so the CPU time is what counts).

Whether a file uses it is read from its text, once: a function with a parameter named ``spark`` (a test or fixture
requesting it, or a helper a test hands it got through ``request.getfixturevalue("spark")``), such a call itself, or
a function imported from a helper module of tests/ that does either (tests/sql_rows.py's ``rows_on``). A wrong guess
changes only which process runs the file, never which tests run or what they assert.

(pytest-xdist's own ``--dist loadgroup`` with ``xdist_group`` marks would do this, but it finds the groups by a
suffix it appends to the node ids, which pytest 9.2's node ids no longer take: pytest-xdist issue #1386.)
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

#: the one scope (xdist's unit of work, given to one process whole) of every file that uses the session's Spark
SPARK_SCOPE = "the files that use the session's Spark"

_FUNCTION = re.compile(r"\bdef \w+\(([^)]*)\)", re.S)
_GETS_IT = re.compile(r"""getfixturevalue\(\s*["']spark["']\s*\)""")
_FROM_IMPORT = re.compile(r"^from\s+(\w+)\s+import\s+(\([^)]*\)|[^\n]*)", re.M)
#: where the tests' own helper modules are (``from sql_rows import rows_on``: tests/ is on the tests' path)
HELPERS = Path(__file__).resolve().parent


@cache
def uses_the_session_spark(path: Path) -> bool:
    """Whether the test file ``path`` uses the session's Spark: it has a function with a parameter named ``spark``,
    gets the fixture with ``request.getfixturevalue("spark")``, or imports from a helper module of tests/ a function
    that does either (tests/sql_rows.py's ``rows_on``: its files' Spark halves started a second JVM in the other
    process)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if _GETS_IT.search(text):
        return True
    for signature in _FUNCTION.finditer(text):
        parameters = re.sub(r"#[^\n]*", "", signature.group(1)).split(",")
        if "spark" in {parameter.split(":")[0].split("=")[0].strip().lstrip("*") for parameter in parameters}:
            return True
    for imported in _FROM_IMPORT.finditer(text):
        names = {name.split(" as ")[0].strip() for name in re.sub(r"#[^\n]*|[()]", "", imported.group(2)).split(",")}
        if names & _spark_functions(HELPERS / f"{imported.group(1)}.py"):
            return True
    return False


@cache
def _spark_functions(helper: Path) -> frozenset[str]:
    """The top-level functions of the helper module ``helper`` (none when it is not one) that use the session's
    Spark: a parameter named ``spark``, a ``getfixturevalue("spark")``, or a call of such a function of the module."""
    import ast

    try:
        functions = {node.name: node for node in ast.parse(helper.read_text(encoding="utf-8")).body
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    except (OSError, UnicodeDecodeError, SyntaxError):
        return frozenset()

    def direct(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        arguments = function.args
        if "spark" in {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}:
            return True
        return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                   and node.func.attr == "getfixturevalue" and node.args
                   and isinstance(node.args[0], ast.Constant) and node.args[0].value == "spark"
                   for node in ast.walk(function))

    using = {name for name, function in functions.items() if direct(function)}
    while True:  # and the functions that call them
        callers = {name for name, function in functions.items() if name not in using and any(
            isinstance(node, ast.Name) and node.id in using for node in ast.walk(function))}
        if not callers:
            return frozenset(using)
        using |= callers


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
