"""fediscope as a user installs it: a wheel built from the sources, installed outside the checkout.

The wheel is built without the network (``pip wheel --no-build-isolation`` with this venv's setuptools, which
requirements-dev.txt pins to what pyproject's ``[build-system]`` asks for) and must hold every file the code reads
at run time (the metric SQL of ``spark_jobs/sql/``, the sample instance's templates, the Spark log settings) and
declare the dependencies of requirements.txt (a wheel without them installs a ``fediscope`` that stops at its first
import). Installed into a new venv with ``--no-deps`` (this venv's packages reached through a ``.pth``) and run
from an empty directory, ``fediscope process`` must store what the checkout's stores from the same lake.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from email.parser import Parser
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import fediscope

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: the importable packages the code needs (``api`` for serve-api, ``spark_jobs`` for the metric SQL and spark-submit)
PACKAGES = ("fediscope", "api", "spark_jobs")
#: what a checkout holds beside the sources and no build reads: venvs, caches, outputs (top level only)
NOT_SOURCES = {".venv", ".git", "build", "dist", "demo-lake", "demo-out", "lake", "fediscope-out", "spark-warehouse",
               "metastore_db", ".airflow", ".mariadb", ".pytest_cache", ".ruff_cache", "tests", "bench",
               ".demo-lake.deleting", ".demo-out.deleting"}  # what an interrupted `--fresh` leaves


def _sources_only(directory: str, names: list[str]) -> set[str]:
    """``shutil.copytree``'s ignore: caches everywhere, and :data:`NOT_SOURCES` at the top of the checkout."""
    ignored = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", ".pyc"))}
    return ignored | (NOT_SOURCES & set(names) if Path(directory) == REPO else set())


def test_every_directory_git_ignores_at_the_top_of_the_checkout_is_no_source() -> None:
    """An output directory at the top of the checkout (``/demo-lake/`` in .gitignore) is copied into no wheel's
    sources: was missing ``.demo-lake.deleting``, the old lake an interrupted ``--fresh`` leaves (a whole lake,
    copied for every wheel built). Read from .gitignore, so the next one added there is caught here."""
    ignored = {line.strip().strip("/") for line in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
               if re.fullmatch(r"/[^/*?\[!#]+/", line.strip())}
    assert ".demo-lake.deleting" in ignored, ignored  # the lines read are the ones meant
    assert ignored - NOT_SOURCES == set()


def _check_build_backend() -> None:
    """Fail with what to do when this venv cannot build offline: a setuptools older than ``[build-system]``'s."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    for line in pyproject["build-system"]["requires"]:
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            installed = None
        if installed is None or not requirement.specifier.contains(installed, prereleases=True):
            pytest.fail(f"this venv has {requirement.name} {installed or '(none)'}, the build needs {requirement}: "
                        "run `make install` (requirements-dev.txt pins it)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (a build writes build/ and *.egg-info beside the sources)."""
    _check_build_backend()
    base = tmp_path_factory.mktemp("wheel")
    sources, dist = base / "src", base / "dist"
    shutil.copytree(REPO, sources, ignore=_sources_only)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(dist), str(sources)], check=True, capture_output=True, text=True, timeout=300)
    (built,) = dist.glob("fediscope-*.whl")
    return built


def _needed_files() -> set[str]:
    """Every file of :data:`PACKAGES` in the checkout (modules and the data they read), READMEs aside."""
    found = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.name != "README.md":
                found.add(path.relative_to(REPO).as_posix())
    return found


def _metadata(wheel: Path) -> tuple[dict[str, str], list[str]]:
    """The wheel's METADATA headers (the last of each name) and its Requires-Dist lines."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(name).decode("utf-8"))
    return dict(message.items()), message.get_all("Requires-Dist") or []


def _pins(lines: list[str]) -> dict[str, str]:
    """``{canonical name: specifier}`` of requirement lines."""
    return {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, lines)}


def test_the_wheel_holds_every_file_the_code_reads(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    missing = _needed_files() - shipped
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert "spark_jobs/sql/top_toots.sql" in shipped and "fediscope/engine/spark_log4j2.properties" in shipped


def test_the_wheel_declares_the_requirements_and_the_version(wheel: Path) -> None:
    headers, requires = _metadata(wheel)
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pinned = [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    assert _pins(requires) == _pins(pinned)
    assert headers["Version"] == fediscope.__version__


def _dependency_paths() -> list[str]:
    """The directories this interpreter imports installed packages from: ``sys.path`` less the checkout (named by
    PYTHONPATH and pytest's ``pythonpath``) and the standard library. The venv's own directories stay, also when
    the venv lies inside the checkout (``make test``'s ``.venv``)."""
    stdlib = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    venv = Path(sys.prefix).resolve()

    def of_checkout(path: Path) -> bool:
        return path.is_relative_to(REPO) and not path.is_relative_to(venv)

    return [p for p in dict.fromkeys(sys.path)
            if p and p not in stdlib and Path(p).is_dir() and not of_checkout(Path(p).resolve())]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding the wheel (``--no-deps``); this venv's packages come through a ``.pth`` (a path listed
    there is searched, but the ``.pth`` files in it, the checkout's editable install among them, are not run)."""
    root = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=300, env=_without_checkout())
    # after the install: pip would take the checkout's fediscope, seen through the .pth, as already installed
    Path(purelib, "zz_dependencies.pth").write_text("".join(f"{p}\n" for p in _dependency_paths()), encoding="utf-8")
    return root


def _without_checkout() -> dict[str, str]:
    """This process's environment without its fediscope settings and PYTHONPATH (which names the checkout)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_") and k != "PYTHONPATH"}


def _environment(lake: Path, store: Path, pythonpath: Path | None = None) -> dict[str, str]:
    """:func:`_without_checkout`, with a lake, a SQLite store and privacy off (the lake is landed without it)."""
    env = _without_checkout()
    env.update(FEDISCOPE_LAKE=str(lake), FEDISCOPE_STORE=f"sqlite:///{store}", FEDISCOPE_PRIVACY="off")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def _metric_rows(store: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(store) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE "
                                           "'metric\\_%' ESCAPE '\\' ORDER BY name")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


def test_the_installed_command_processes_a_lake_as_the_checkout_does(venv: Path, tmp_path: Path) -> None:
    from fediscope.lake.local import LocalLake
    from fediscope.sample.landing import write_raw_lake

    write_raw_lake(LocalLake(tmp_path / "lake"), 300, seed=5)
    shutil.copytree(tmp_path / "lake", tmp_path / "lake-checkout")
    elsewhere = tmp_path / "elsewhere"  # no fediscope.toml, no spark_jobs/: nothing of the checkout
    elsewhere.mkdir()
    installed_env = _environment(tmp_path / "lake", tmp_path / "installed.db")

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import fediscope.engine.metrics as m, api; "
                            "print(m.SQL_DIR); print(api.__file__)"],
                           cwd=elsewhere, env=installed_env, check=True, capture_output=True, text=True).stdout
    assert all(Path(line).is_relative_to(venv) for line in where.split()), where
    shown = subprocess.run([str(venv / "bin" / "fediscope"), "--version"], cwd=elsewhere, env=installed_env,
                           check=True, capture_output=True, text=True).stdout
    assert shown.split()[-1] == fediscope.__version__

    installed = subprocess.run([str(venv / "bin" / "fediscope"), "process", "--json"], cwd=elsewhere,
                               env=installed_env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    checkout = subprocess.run([sys.executable, "-m", "fediscope", "process", "--json"], cwd=elsewhere,
                              env=_environment(tmp_path / "lake-checkout", tmp_path / "checkout.db", REPO),
                              capture_output=True, text=True, timeout=300)
    assert checkout.returncode == 0, checkout.stderr

    ours, theirs = (json.loads(run.stdout) for run in (installed, checkout))
    assert (sorted(ours["metrics"]), ours["metric_rows"]) == (sorted(theirs["metrics"]), theirs["metric_rows"])
    stored = _metric_rows(tmp_path / "installed.db")
    assert len(stored) == len(list((REPO / "spark_jobs" / "sql").glob("*.sql")))
    assert stored == _metric_rows(tmp_path / "checkout.db")
