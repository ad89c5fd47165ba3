"""The test tree collects in any combination of its directories, as ``pytest tests/sources tests/api`` runs them.

Every directory under tests/ but ``doubles`` is no package (tests/api as a package would shadow the real ``api``),
so pytest imports its modules by their bare name, with the directory put first on ``sys.path``. Each directory's
conftest is a module named ``conftest``: given several directories, pytest loads all their conftests before any
test module, so ``from conftest import …`` in a test module got the last one loaded, not its own, and the module
failed to collect (tests/sources' modules, run with tests/api or tests/gdpr). Shared constants live in helper
modules of their own names (tests/sources/collector_testing.py, tests/api/api_testing.py).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "data" not in path.relative_to(TESTS).parts)


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def test_no_test_module_imports_a_conftest() -> None:
    importing = [str(path.relative_to(ROOT)) for path in _modules() if "conftest" in _imported_names(path)]
    assert importing == [], "import shared test constants from a helper module, not from conftest"


def test_the_collector_tests_collect_beside_another_directorys_tests() -> None:
    """The case that failed: tests/sources' modules that import its shared key, given with other directories."""
    modules = ["tests/sources/test_setting_names.py", "tests/sources/test_text_id_servers.py",
               "tests/api/test_api_host.py", "tests/gdpr/test_gdpr_retention.py"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *modules], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for module in modules:
        assert f"{module}::" in done.stdout
