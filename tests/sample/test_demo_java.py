"""The demo's line about Java: it needs none (DuckDB), and says once whether the Spark engine would find one (and
whether that one is new enough for Spark).

Was: "Java: not found … (Debian: `apt-get install openjdk-17-jre-headless`)" also where Java was installed and on
PATH but ``JAVA_HOME`` named a directory without it (a removed JDK): installing another would not have helped,
since Spark runs ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fediscope.demo import DemoContext, run_demo


def header(tmp_path: Path) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), steps=[], out=out, err=err) == 0
    assert err.getvalue() == ""
    return [line for line in out.getvalue().splitlines() if line.startswith("Java")]  # the paths may say java


def test_no_java_on_path_is_fine_for_the_demo_and_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("MAKELEVEL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no java there
    assert header(tmp_path) == [
        "Java: not found (no java on PATH, JAVA_HOME not set). Fine for the demo, which computes with DuckDB "
        "(embedded); only the Spark engine needs Java 17+ (Debian: `apt-get install openjdk-17-jre-headless`)."]


def test_a_java_home_without_java_is_named_not_a_missing_installation(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    java = tmp_path / "bin" / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # a java on PATH, which Spark does not run: JAVA_HOME is set
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "removed-jdk"))
    lines = header(tmp_path)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Java: not found (JAVA_HOME={tmp_path / 'removed-jdk'} has no bin/java"), lines[0]
    assert "apt-get" not in lines[0] and "point JAVA_HOME at a Java 17+ installation, or unset it" in lines[0]


def test_a_java_found_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jdk" / "bin").mkdir(parents=True)
    (tmp_path / "jdk" / "bin" / "java").write_text("")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert header(tmp_path) == [
        "Java: found, but not needed here (the demo computes with DuckDB; the Spark engine uses Java)."]


def fake_java(directory: Path, version: str) -> Path:
    """A ``java`` whose ``-version`` says ``version`` as a JDK does (on stderr)."""
    directory.mkdir(parents=True, exist_ok=True)
    java = directory / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize(("version", "major"), [("11.0.22", 11), ("1.8.0_402", 8)])
def test_a_java_too_old_for_spark_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str,
                                            major: int) -> None:
    """Was: "Java: found, but not needed here" for any Java, also one Spark refuses (it needs 17+)."""
    java = fake_java(tmp_path / "bin", version)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert header(tmp_path) == [
        f"Java: found, but too old for Spark (Java {major} at {java}; the Spark engine needs Java 17+: install it and "
        "set JAVA_HOME to it). Fine for the demo, which computes with DuckDB (embedded)."]


def test_the_java_home_one_is_the_java_whose_version_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spark runs ``$JAVA_HOME/bin/java`` when JAVA_HOME is set: a Java 17 on PATH does not make up for it."""
    fake_java(tmp_path / "bin", "17.0.10")
    old = fake_java(tmp_path / "jdk11" / "bin", "11.0.22")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk11"))
    lines = header(tmp_path)
    assert len(lines) == 1 and lines[0].startswith(f"Java: found, but too old for Spark (Java 11 at {old};"), lines


def test_a_java_new_enough_is_found_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_java(tmp_path / "bin", "17.0.10")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert header(tmp_path) == [
        "Java: found, but not needed here (the demo computes with DuckDB; the Spark engine uses Java)."]
