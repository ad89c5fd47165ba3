"""``fediscope doctor``'s ``spark_lake`` line: ``FEDISCOPE_SPARK_LAKE_URI`` checked against the lake without starting
Spark's JVM (fediscope.doctor.check_spark_lake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fediscope.config import load_settings
from fediscope.doctor import FAIL, OK, WARN, Check, run_checks

STRONG_KEY = "pX7-2vQ_kL9mZr4TnW8sYb1c-Hd5JfA0eUo3iRy6"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FEDISCOPE_* from the developer's shell, no fediscope.toml: each test states its configuration."""
    import os

    for name in list(os.environ):
        if name.startswith("FEDISCOPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {"FEDISCOPE_LAKE": str(tmp / "lake"), "FEDISCOPE_STORE": f"sqlite:///{tmp / 'fediscope.db'}",
            "FEDISCOPE_PSEUDONYM_KEY": STRONG_KEY, **extra}


def _spark_lake_line(env: dict[str, str]) -> Check | None:
    return next((check for check in run_checks(load_settings(env=env), timeout=1) if check.name == "spark_lake"), None)


def test_a_spark_lake_uri_naming_another_directory_than_the_lake_fails_without_starting_spark(clean_env: Path) -> None:
    """``FEDISCOPE_SPARK_LAKE_URI`` is checked by ``process`` only once Spark's JVM runs (its filesystem client
    looks for the lake's directories there); doctor said nothing of it. Now a line of its own, checked as far as it
    can be without a JVM: a ``file:`` URI must hold the lake's top-level directories; an ``hdfs://`` URI for a
    WebHDFS lake must name the lake's path; anything else is said to be left to ``process``. None when unset."""
    lake = clean_env / "lake"
    (lake / "raw").mkdir(parents=True)
    (lake / "_state").mkdir()
    elsewhere = clean_env / "elsewhere"
    elsewhere.mkdir()
    assert _spark_lake_line(_env(clean_env)) is None
    wrong = _spark_lake_line(_env(clean_env, FEDISCOPE_SPARK_LAKE_URI=elsewhere.as_uri()))
    assert wrong is not None and wrong.status == FAIL, wrong
    assert wrong.detail == (f"FEDISCOPE_SPARK_LAKE_URI={elsewhere.as_uri()} is not the lake's directory: no _state/, "
                            f"raw/ there, which the lake {lake} holds"), wrong
    assert wrong.fix.endswith(f": file://{lake}"), wrong
    for right in (lake.as_uri(), lake.as_uri() + "/"):
        assert _spark_lake_line(_env(clean_env, FEDISCOPE_SPARK_LAKE_URI=right)).status == OK  # type: ignore[union-attr]
    (elsewhere / "raw").mkdir()
    (elsewhere / "_state").mkdir()  # a copy of its layout (a mount of the same directory): as far as can be told
    assert _spark_lake_line(_env(clean_env, FEDISCOPE_SPARK_LAKE_URI=elsewhere.as_uri())).status == OK  # type: ignore[union-attr]
    unknown = _spark_lake_line(_env(clean_env, FEDISCOPE_SPARK_LAKE_URI="hdfs://namenode:8020/data/fediscope"))
    assert unknown is not None and unknown.status == WARN and "`fediscope process` checks" in unknown.detail, unknown


@pytest.mark.parametrize("uri, status", [("hdfs://namenode:8020/data/fediscope", OK),
                                         ("hdfs://namenode:8020/data/fediscope/", OK),
                                         ("hdfs://namenode:8020/data/fediscop", FAIL),
                                         ("hdfs://namenode:8020/fediscope", FAIL)])
def test_an_hdfs_spark_lake_uri_names_the_webhdfs_lakes_path(clean_env: Path, uri: str, status: str) -> None:
    """The same namenode's file system through its RPC port (Spark) and its HTTP one (the lake): the same path, or
    Spark reads and writes another directory. Compared without a request (the lake's own line says whether the
    namenode answers)."""
    import fediscope.doctor as doctor

    env = _env(clean_env, FEDISCOPE_LAKE="webhdfs://namenode:9870/data/fediscope?user=fediscope",
               FEDISCOPE_SPARK_LAKE_URI=uri)
    check = doctor.check_spark_lake(load_settings(env=env))
    assert check is not None and check.status == status, check
    if status == FAIL:
        assert "another directory than the lake's, /data/fediscope" in check.detail, check
        assert check.fix.endswith(": hdfs://namenode:8020/data/fediscope"), check


def test_an_unusable_lake_is_said_once_not_again_on_the_spark_lake_line(clean_env: Path) -> None:
    """A lake that cannot be used fails the ``lake`` line; the ``spark_lake`` line, which compares the URI with
    that lake, is left out as the checks of what the lake holds are (was: a remote lake's failure said a second
    time, and here "OK … not compared: the lake holds nothing yet" of a lake that is a file)."""
    (clean_env / "lake").write_text("a file, not a directory\n")
    checks = run_checks(load_settings(env=_env(clean_env, FEDISCOPE_SPARK_LAKE_URI=(clean_env / "x").as_uri())),
                        timeout=1)
    lake = next(check for check in checks if check.name == "lake")
    assert lake.status == FAIL, lake
    assert [check.name for check in checks if check.status == FAIL] == ["lake"], checks
    assert "spark_lake" not in [check.name for check in checks], checks
