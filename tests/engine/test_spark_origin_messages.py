"""The Spark engine's refusals, and ``fediscope doctor``'s privacy-off line, name where the setting they are about was
set, as ``fediscope doctor``'s engine findings do (:func:`fediscope.config.set_to`): the variable, or the key of
fediscope.toml. Was: ``FEDISCOPE_SPARK_MASTER``, ``use FEDISCOPE_ENGINE=duckdb`` and ``FEDISCOPE_PRIVACY`` whatever
set them, so a user who configured fediscope in fediscope.toml alone was sent to variables they never set."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from cli_run import clean_env, run
from engine_data import KEY, at, land, policy, statuses

from fediscope.config import load_settings
from fediscope.engine.base import open_engine
from fediscope.errors import ConfigError
from fediscope.lake.local import LocalLake

#: how each message names the engine and the master, by where they were set
ENGINE_FIX = {"variable": "use FEDISCOPE_ENGINE=duckdb", "file": "set fediscope.toml: [fediscope] engine to 'duckdb'"}
MASTER = {"variable": "FEDISCOPE_SPARK_MASTER", "file": "fediscope.toml: [fediscope] spark_master"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, **settings: str) -> None:
    """A shell in ``tmp_path`` with a landed lake and a store set by their variables, and ``settings`` (engine,
    spark_master) set ``where``: by their variables, or in ./fediscope.toml."""
    land(LocalLake(tmp_path / "lake"), "statuses", statuses("test_public_tl.json"), at(0), policy())
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"),
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}", FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    if where == "variable":
        for name, value in settings.items():
            monkeypatch.setenv(f"FEDISCOPE_{name.upper()}", value)
    else:
        lines = "".join(f'{name} = "{value}"\n' for name, value in settings.items())
        (tmp_path / "fediscope.toml").write_text(f"[fediscope]\n{lines}")


def _java_17(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """JAVA_HOME at a ``java`` answering ``-version`` as Java 17 and recording any other run (the driver's JVM
    started) in the returned file, before it exits 1."""
    started = tmp_path / "jdk" / "jvm-started"
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n"
                    "if [ \"$1\" = -version ]; then echo 'openjdk version \"17.0.12\" 2024-07-16' >&2; exit 0; fi\n"
                    f"echo \"$@\" >> '{started}'\nexit 1\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    return started


def _one_error(code: int, err: str, expected_code: int) -> str:
    errors = [line for line in err.splitlines() if not line.startswith("process: ")]  # its progress lines
    assert code == expected_code and len(errors) == 1 and "Traceback" not in err, (code, err)
    assert errors[0].startswith("fediscope: error: "), err
    return errors[0]


def _names_only(message: str, table: dict[str, str], where: str) -> None:
    assert table[where] in message, message
    for other in set(table) - {where}:
        assert table[other] not in message, message


@pytest.mark.parametrize("where", ["variable", "file"])
def test_spark_without_java_names_where_the_engine_was_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str], where: str) -> None:
    _configure(tmp_path, monkeypatch, where, engine="spark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)

    code, _out, err = run(capsys, "process", "--no-progress")

    error = _one_error(code, err, 2)
    assert error.startswith("fediscope: error: engine=spark: Java not found"), error
    assert "or use the duckdb engine, which needs no Java (--engine duckdb" in error
    if where == "variable":  # as it was
        assert error.endswith("(--engine duckdb, FEDISCOPE_ENGINE=duckdb)"), error
    else:
        assert error.endswith("(--engine duckdb, or set fediscope.toml: [fediscope] engine to 'duckdb')"), error
        assert "FEDISCOPE_ENGINE" not in error


@pytest.mark.parametrize("where", ["variable", "file"])
def test_a_master_that_does_not_answer_is_named_where_it_was_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 where: str) -> None:
    closed = _closed_port()
    _configure(tmp_path, monkeypatch, where, engine="spark", spark_master=f"spark://127.0.0.1:{closed}")
    started = _java_17(tmp_path, monkeypatch)

    code, _out, err = run(capsys, "process", "--no-progress")

    error = _one_error(code, err, 1)
    assert not started.exists()
    assert f"127.0.0.1:{closed}: connection refused" in error
    assert error.endswith(f"is the Spark master running, and is {MASTER[where]} its right address? Or "
                          f"{ENGINE_FIX[where]}"), error
    _names_only(error, MASTER, where)
    _names_only(error, ENGINE_FIX, where)


@pytest.mark.parametrize("where", ["variable", "file"])
def test_a_yarn_master_without_hadoop_conf_dir_is_named_where_it_was_set(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str],
                                                                         where: str) -> None:
    _configure(tmp_path, monkeypatch, where, engine="spark", spark_master="yarn")
    started = _java_17(tmp_path, monkeypatch)
    for name in ("HADOOP_CONF_DIR", "YARN_CONF_DIR"):
        monkeypatch.delenv(name, raising=False)

    code, _out, err = run(capsys, "process", "--no-progress")

    error = _one_error(code, err, 2)
    assert not started.exists()
    setting = {"variable": "FEDISCOPE_SPARK_MASTER=yarn",
               "file": "spark_master = 'yarn' (fediscope.toml: [fediscope] spark_master)"}[where]
    assert error.startswith(f"fediscope: error: {setting}: a yarn master needs HADOOP_CONF_DIR or YARN_CONF_DIR"), \
        error
    assert error.endswith(f"; or {ENGINE_FIX[where]}"), error
    _names_only(error, MASTER, where)
    _names_only(error, ENGINE_FIX, where)


@pytest.mark.parametrize("where", ["variable", "file"])
def test_a_webhdfs_lake_on_a_cluster_names_where_the_master_was_set(webhdfs_server, tmp_path: Path,  # noqa: ANN001
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    where: str) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"FEDISCOPE_LAKE": webhdfs_server.lake_url("/lake"), "FEDISCOPE_PSEUDONYM_KEY": KEY.decode()}
    toml = tmp_path / "fediscope.toml"
    if where == "variable":
        env.update(FEDISCOPE_ENGINE="spark", FEDISCOPE_SPARK_MASTER="spark://master:7077")
    else:
        toml.write_text('[fediscope]\nengine = "spark"\nspark_master = "spark://master:7077"\n')
    settings = load_settings(env=env, toml_path=toml if where == "file" else None)

    with pytest.raises(ConfigError) as raised:
        open_engine(settings)

    message = str(raised.value)
    assert "needs FEDISCOPE_SPARK_LAKE_URI (or [fediscope] spark_lake_uri in " in message, message
    fix = {"variable": "Or use FEDISCOPE_SPARK_MASTER=local[*] or the duckdb engine",
           "file": f"Or set {toml}: [fediscope] spark_master to 'local[*]' or the duckdb engine"}[where]
    assert message.endswith(fix), message


PRIVACY_OFF = {"variable": ("the privacy policy is OFF (FEDISCOPE_PRIVACY=off)", "unset FEDISCOPE_PRIVACY unless"),
               "file": ("the privacy policy is OFF (fediscope.toml: [fediscope] privacy)",
                        "remove fediscope.toml: [fediscope] privacy unless")}


@pytest.mark.parametrize("where", ["variable", "file"])
def test_doctor_names_where_the_privacy_policy_was_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str], where: str) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"),
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}")
    if where == "variable":
        monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    else:
        (tmp_path / "fediscope.toml").write_text(f'[fediscope]\nprivacy = false\npseudonym_key = "{KEY.decode()}"\n')

    _code, out, err = run(capsys, "doctor")

    lines = [line for line in (out + err).splitlines() if "privacy policy is OFF" in line]
    assert len(lines) == 1, out + err
    said, undo = PRIVACY_OFF[where]
    assert said in lines[0] and undo in out + err, out + err
    if where == "file":  # and the key, to be kept, where it is set
        assert "and set fediscope.toml: [fediscope] pseudonym_key" in out + err, out + err
        assert "FEDISCOPE_PRIVACY" not in out + err and "FEDISCOPE_PSEUDONYM_KEY" not in out + err
    else:
        assert "and set FEDISCOPE_PSEUDONYM_KEY" in out + err, out + err


def test_a_jvm_that_exits_at_start_names_where_the_engine_was_chosen(tmp_path: Path) -> None:
    """``fediscope process`` as a shell runs it, in a directory whose fediscope.toml chose Spark, with a ``java``
    that is found but exits at once (as a JVM refusing its heap does): the error's way out is the file's key."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    land(LocalLake(tmp_path / "lake"), "statuses", statuses("test_public_tl.json"), at(0), policy())
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'Invalid maximum heap size: -Xmxbanana' >&2\nexit 1\n")
    java.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "JAVA_HOME", "LOG4J"))}
    env.update(PATH=f"{java.parent}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(root),
               FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}",
               FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    (tmp_path / "fediscope.toml").write_text('[fediscope]\nengine = "spark"\nspark_master = "local[1]"\n')

    done = subprocess.run([sys.executable, "-m", "fediscope", "process", "--no-progress"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)

    errors = [line for line in done.stderr.splitlines() if line.startswith("fediscope: error: ")]
    assert done.returncode == 1 and len(errors) == 1, done.stderr
    assert errors[0].startswith("fediscope: error: cannot start Spark with master 'local[1]': its Java process "
                                "exited at start"), errors
    assert errors[0].endswith(", or set fediscope.toml: [fediscope] engine to 'duckdb'"), errors
    assert "FEDISCOPE_" not in errors[0]
