"""Lake paths and settings from the command line: a lake that is a file, missing or empty, broken lake and
store URLs, and which name (option, variable, TOML key) an error gives."""

from __future__ import annotations

import os
import re
import time

import pytest
from cli_run import clean_env, run

KEY = "cli-test-pseudonym-key-0123456789abcdef"


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """No FEDISCOPE_* from the caller, cwd (without fediscope.toml) in tmp_path, and a regular file to misuse."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}", FEDISCOPE_MAX_RETRIES="0")
    (tmp_path / "afile").write_text("not a lake")
    return tmp_path


def _one_clear_line(err: str) -> str:
    assert "Traceback" not in err
    assert err.startswith("fediscope: error: ") and err.count("\n") == 1, err
    return err


def test_lake_ls_of_a_file_is_an_error(cli_env, capsys) -> None:
    code, out, err = run(capsys, "lake", "ls", "--lake", str(cli_env / "afile"))
    assert code == 1 and out == ""  # was: "(empty) …", exit 0
    assert f"the lake path {cli_env / 'afile'} is not a directory" in _one_clear_line(err)


def test_lake_ls_of_a_missing_lake_says_it_does_not_exist(cli_env, capsys) -> None:
    code, out, err = run(capsys, "lake", "ls", "--lake", str(cli_env / "nope"))
    assert code == 1 and out == ""
    assert f"no lake at {cli_env / 'nope'}: it does not exist" in _one_clear_line(err)
    assert not (cli_env / "nope").exists()


def test_lake_ls_of_an_empty_lake_says_so(cli_env, capsys) -> None:
    (cli_env / "lake").mkdir()
    code, out, _err = run(capsys, "lake", "ls")
    assert code == 0 and out.startswith("(empty) ")


def test_process_on_a_file_says_it_is_not_a_directory(cli_env, capsys) -> None:
    code, _out, err = run(capsys, "process", "--lake", str(cli_env / "afile"))
    assert code == 1
    assert "is not a directory" in _one_clear_line(err) and "holds no data" not in err
    assert not (cli_env / "metrics.db").exists()


def test_process_on_a_missing_lake_says_it_does_not_exist(cli_env, capsys) -> None:
    code, _out, err = run(capsys, "process", "--lake", str(cli_env / "nope"))
    assert code == 1 and "does not exist" in _one_clear_line(err)
    assert not (cli_env / "nope").exists() and not (cli_env / "metrics.db").exists()


@pytest.mark.parametrize(("pointed_at", "where"), [
    (".", "no lake, but the lake {lake} is in it"),  # `--lake .` beside the lake (the demo's ./demo-lake)
    ("lake/raw", "the raw/ directory of the lake {lake}"),  # the raw/ of the lake layout the README shows
])
def test_process_beside_a_lake_names_the_lake(cli_env, capsys, mastodon_server, pointed_at, where) -> None:
    """Was: "holds no data …: run `fediscope collect` first", about a directory next to a lake holding data."""
    lake = cli_env / "lake"
    code, _out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--max-pages", "1",
                          "--lake", str(lake))
    assert code == 0, err
    pointed = cli_env if pointed_at == "." else cli_env / pointed_at
    code, _out, err = run(capsys, "process", "--lake", str(pointed))
    assert code == 1
    assert _one_clear_line(err) == (f"fediscope: error: the lake {pointed} holds no data (no raw batches, nothing "
                                    f"curated): it is {where.format(lake=lake)}: point --lake at {lake}; the store "
                                    "was not touched\n")
    assert not (cli_env / "metrics.db").exists()


def test_process_of_the_default_lake_beside_the_demo_lake_names_it(cli_env, capsys, monkeypatch,
                                                                   mastodon_server) -> None:
    """After `make demo`, `fediscope process` in its directory looks for ./lake (the default) beside ./demo-lake. Was:
    "no lake at …/lake: it does not exist; run `fediscope collect` first, …", as if nothing had been collected."""
    code, _out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--max-pages", "1",
                          "--lake", str(cli_env / "demo-lake"))
    assert code == 0, err
    monkeypatch.delenv("FEDISCOPE_LAKE", raising=False)
    code, _out, err = run(capsys, "process")
    assert code == 1
    assert _one_clear_line(err) == (f"fediscope: error: no lake at {cli_env / 'lake'}: it does not exist; run "
                                    "`fediscope collect` first, or point --lake / FEDISCOPE_LAKE (or [fediscope] lake "
                                    "in fediscope.toml) at the lake you collected into; beside it is the lake "
                                    f"{cli_env / 'demo-lake'}; the store was not touched\n")
    assert not (cli_env / "lake").exists() and not (cli_env / "metrics.db").exists()


@pytest.mark.parametrize("lake", ["afile", "afile/lake"])
def test_collect_into_a_file_fails_before_fetching_anything(cli_env, capsys, mastodon_server, lake) -> None:
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--lake", str(cli_env / lake))
    assert code == 1 and out == ""
    assert "not a directory" in _one_clear_line(err).lower()
    assert mastodon_server.log == []  # was: every status fetched, then each source failed
    assert (cli_env / "afile").read_text() == "not a lake"


def test_stream_into_a_file_fails_before_opening_the_stream(cli_env, capsys, mastodon_server) -> None:
    code, out, err = run(capsys, "stream", "--instance", mastodon_server.url, "--duration", "5",
                         "--lake", str(cli_env / "afile"))
    assert code == 1 and out == ""
    assert "not a directory" in _one_clear_line(err).lower()
    assert mastodon_server.log == []


def test_collect_creates_a_missing_lake(cli_env, capsys, mastodon_server) -> None:
    code, _out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--max-pages", "1",
                          "--lake", str(cli_env / "new" / "lake"))
    assert code == 0, err
    assert (cli_env / "new" / "lake" / "raw").is_dir()


@pytest.mark.parametrize("args", [("gdpr", "retention"), ("gdpr", "retention", "--dry-run")])
def test_retention_on_a_missing_lake_creates_nothing(cli_env, capsys, args) -> None:
    code, _out, err = run(capsys, *args)
    assert code == 1 and "does not exist" in _one_clear_line(err)
    assert not (cli_env / "lake").exists()  # was: ./lake/_state created by the lake lock


def test_retention_on_an_existing_lake_still_runs(cli_env, capsys) -> None:
    (cli_env / "lake").mkdir()
    code, out, err = run(capsys, "gdpr", "retention")
    assert code == 0, err
    assert "deleted nothing" in out


@pytest.mark.parametrize("args", [("gdpr", "retention"), ("gdpr", "retention", "--dry-run")])
def test_retention_refuses_a_directory_that_is_no_lake(cli_env, capsys, monkeypatch, args) -> None:
    """Was: pointed at the directory above the lake, retention ran, created _state/ there and removed day-old
    `.<name>.<8 chars>.tmp` files anywhere below it (another program's too)."""
    (cli_env / "lake" / "raw" / "mastodon").mkdir(parents=True)
    theirs = cli_env / "work" / ".draft.a1b2c3d4.tmp"  # another program's temporary file, two days old
    theirs.parent.mkdir()
    theirs.write_text("someone's unsaved work")
    os.utime(theirs, (time.time() - 2 * 86400,) * 2)
    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env))
    code, out, err = run(capsys, *args)
    assert (code, out) == (1, "")
    assert _one_clear_line(err) == (f"fediscope: error: no lake at {cli_env}: it holds none of a lake's directories "
                                    "(raw/, curated/, quarantine/, _state/, _audit/); point FEDISCOPE_LAKE at the "
                                    "lake's own directory, not one above it\n")
    assert theirs.exists() and not (cli_env / "_state").exists()
    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env / "lake"))  # the lake itself
    code, _out, err = run(capsys, *args)
    assert code == 0, err


@pytest.mark.parametrize(("args", "outcome"), [
    (("gdpr", "erase", "--account", "someone@example.org", "--yes"), "nothing was erased"),
    (("gdpr", "export", "--account", "someone@example.org"), "nothing was exported"),
])
def test_erase_and_export_refuse_a_directory_that_is_no_lake(cli_env, capsys, monkeypatch, args, outcome) -> None:
    """Was: pointed at the directory above the lake, the erasure took the lake lock there (creating _state/), wrote
    its suppression list and audit line beside the lake and removed day-old `.<name>.<8 chars>.tmp` files anywhere
    below it (another program's too); the export created _state/ through the lock and answered "nothing held"."""
    (cli_env / "lake" / "raw" / "mastodon").mkdir(parents=True)
    theirs = cli_env / "work" / ".draft.a1b2c3d4.tmp"  # another program's temporary file, two days old
    theirs.parent.mkdir()
    theirs.write_text("someone's unsaved work")
    os.utime(theirs, (time.time() - 2 * 86400,) * 2)
    before = sorted(p.relative_to(cli_env) for p in cli_env.rglob("*"))
    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env))
    code, out, err = run(capsys, *args)
    assert (code, out) == (1, "")
    assert _one_clear_line(err) == (f"fediscope: error: no lake at {cli_env}: it holds none of a lake's directories "
                                    "(raw/, curated/, quarantine/, _state/, _audit/); point FEDISCOPE_LAKE at the "
                                    f"lake's own directory, not one above it; {outcome}\n")
    assert theirs.exists() and not (cli_env / "_state").exists()
    assert sorted(p.relative_to(cli_env) for p in cli_env.rglob("*")) == before  # nothing created or removed
    for lake in (cli_env / "lake", cli_env / "new-lake"):  # the lake itself, and an empty directory (a new lake)
        lake.mkdir(exist_ok=True)
        monkeypatch.setenv("FEDISCOPE_LAKE", str(lake))
        code, _out, err = run(capsys, *args)
        assert code == 0, err


def test_lake_ls_of_a_path_outside_the_lake_is_a_bad_argument(cli_env, capsys) -> None:
    """Was: exit 1 (`path '..' escapes the lake root …`), where the README gives 2 to a bad argument."""
    (cli_env / "lake" / "raw").mkdir(parents=True)
    for path in ("..", "raw/../..", "../lake/raw"):
        code, out, err = run(capsys, "lake", "ls", path)
        assert (code, out) == (2, ""), err
        assert f"Invalid value for PATH: {path!r} is outside the lake: paths are relative to the lake root " \
               f"{cli_env / 'lake'}" in err and "Traceback" not in err
    code, out, _err = run(capsys, "lake", "ls", "raw/../raw")  # inside, however written
    assert code == 0 and out.startswith("(empty) ")


def test_lake_ls_of_an_absolute_path_says_paths_are_relative_to_the_lake(cli_env, capsys) -> None:
    """Was: `'etc' does not exist in the lake …`: `lake ls /etc` reads <lake>/etc, which the error did not say."""
    (cli_env / "lake" / "raw").mkdir(parents=True)
    code, out, err = run(capsys, "lake", "ls", "/etc")
    assert (code, out) == (1, "")
    assert _one_clear_line(err) == (f"fediscope: error: '/etc' does not exist in the lake {cli_env / 'lake'} (paths "
                                    "are relative to the lake root); try `fediscope lake ls` for the top\n")
    code, out, _err = run(capsys, "lake", "ls", "--help")
    assert "relative to the lake root" in out and "a leading / is ignored" in " ".join(out.split())


@pytest.mark.parametrize("args", [("gdpr", "retention"), ("gdpr", "retention", "--dry-run")])
def test_retention_says_a_partition_it_cannot_date_once(cli_env, capsys, args) -> None:
    """Was: each dt= directory whose date cannot be read was said twice on stderr, as a log line
    (``… WARNING fediscope.gdpr.retention retention: … has no readable date; left alone``) and as the command's
    own line."""
    odd = "raw/mastodon/statuses/instance=mastodon.social/dt=2026-13-45"
    (cli_env / "lake" / odd).mkdir(parents=True)
    code, out, err = run(capsys, *args)
    assert code == 0 and "nothing" in out, err
    assert err == f"fediscope: warning: skipped {odd}: the dt= value is not a date; left alone\n"
    assert (cli_env / "lake" / odd).is_dir()


@pytest.mark.parametrize(("lake", "expected"), [
    ("", "empty"),
    ("file://", "no path"),
    ("file://host/x", "names no other host than localhost"),
    ("webhdfs://", "no namenode host"),
    ("hdfs://nn:8020/x", "use webhdfs://namenode:9870/path"),
])
def test_an_unusable_lake_option_is_refused_naming_the_option(cli_env, capsys, lake, expected) -> None:
    code, _out, err = run(capsys, "lake", "ls", "--lake", lake)
    assert code == 2
    assert _one_clear_line(err).startswith("fediscope: error: --lake is invalid: ") and expected in err
    assert list(cli_env.iterdir()) == [cli_env / "afile"]  # the current directory was not used as a lake


def test_an_unusable_lake_variable_is_refused_naming_the_variable(cli_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FEDISCOPE_LAKE", "hdfs://nn:8020/x")
    code, _out, err = run(capsys, "lake", "ls")
    assert code == 2  # was: taken as WebHDFS on the RPC port, "namenode unreachable"
    assert _one_clear_line(err).startswith("fediscope: error: FEDISCOPE_LAKE is invalid: ")
    assert "webhdfs://namenode:9870/path" in err


def test_a_lake_with_a_trailing_space_is_refused_before_any_directory_is_made(cli_env, capsys,
                                                                              monkeypatch) -> None:
    """Was: `collect` created a lake directory named 'lake ' (and `lake ls` looked in it)."""
    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env / "lake") + " ")
    code, out, err = run(capsys, "collect", "--instance", DEAD, "--max-pages", "1")
    assert code == 2 and out == ""
    message = _one_clear_line(err)
    assert message.startswith("fediscope: error: FEDISCOPE_LAKE is invalid: ") and "trailing whitespace" in message
    assert list(cli_env.iterdir()) == [cli_env / "afile"]


def test_a_lake_with_a_nul_in_the_config_file_is_one_clear_line(cli_env, capsys) -> None:
    """Was: a traceback ending in "ValueError: embedded null byte"."""
    (cli_env / "fediscope.toml").write_text('[fediscope]\nlake = "la\\u0000ke"\n')
    code, out, err = run(capsys, "lake", "ls")
    assert code == 2 and out == ""
    assert "fediscope.toml: [fediscope] lake is invalid: 'la\\x00ke': contains a NUL character" in \
        _one_clear_line(err)


def test_a_store_with_surrounding_whitespace_names_the_setting(cli_env, capsys, monkeypatch) -> None:
    code, _out, err = run(capsys, "report", "--store", "hbase://h:9090 ")
    assert code == 2 and "--store is invalid: 'hbase://h:9090 ' has trailing whitespace" in _one_clear_line(err)
    monkeypatch.setenv("FEDISCOPE_STORE", f" sqlite:///{cli_env / 'metrics.db'}")
    code, _out, err = run(capsys, "report")
    assert code == 2 and "FEDISCOPE_STORE is invalid: " in _one_clear_line(err) and "leading whitespace" in err


def test_a_broken_store_option_names_the_option(cli_env, capsys, monkeypatch) -> None:
    code, _out, err = run(capsys, "report", "--store", "hbase://:notaport")
    assert code == 2
    assert _one_clear_line(err).startswith("fediscope: error: --store is invalid: 'hbase://:notaport'")
    monkeypatch.setenv("FEDISCOPE_STORE", "hbase://:notaport")
    code, _out, err = run(capsys, "report")
    assert code == 2 and err.startswith("fediscope: error: FEDISCOPE_STORE is invalid: 'hbase://:notaport'")


@pytest.mark.parametrize("command", [["process", "--engine", "duckdb"], ["doctor"], ["config", "check"]])
def test_a_spark_master_without_its_port_is_refused_by_every_command(cli_env, capsys, command) -> None:
    """As a broken store or lake URL: the settings are wrong, whichever engine the command runs. Was: `process
    --engine duckdb` ran on, `doctor` FAILed its engine check (exit 1), `config check` passed the value."""
    (cli_env / "lake").mkdir()
    (cli_env / "fediscope.toml").write_text('[fediscope]\nspark_master = "spark://spark-master"\n')
    code, out, err = run(capsys, *command)
    assert code == 2 and out == ""
    assert _one_clear_line(err).startswith("fediscope: error: fediscope.toml: [fediscope] spark_master is invalid: "
                                           "'spark://spark-master': 'spark-master' is not host:port; Spark needs "
                                           "each master's port, e.g. spark://host:7077")
    assert not (cli_env / "metrics.db").exists()


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("FEDISCOPE_LAKE", "webhdfs://alice:Kq7wRt4Lm@host:9870/data",
     "FEDISCOPE_LAKE is invalid: 'webhdfs://alice:***@host:9870/data': holds a password"),
    ("FEDISCOPE_STORE", "hbase://u:Kq7wRt4Lm@host:9090",
     "FEDISCOPE_STORE is invalid: 'hbase://u:***@host:9090' names a user or password"),
    ("FEDISCOPE_STORE", "hbase://host:9090/somepath",
     "FEDISCOPE_STORE is invalid: 'hbase://host:9090/somepath' has a path or fragment ('/somepath')"),
    ("FEDISCOPE_STORE", "hbase://host:9090?max_cell_bytes=20MiB",
     "FEDISCOPE_STORE is invalid: 'hbase://host:9090?max_cell_bytes=20MiB' has option max_cell_bytes=20MiB, which is "
     "not a whole number of bytes from 1048576 (1 MiB) to 2147483647"),
    ("FEDISCOPE_STORE", "mysql+pymysql://u:Kq7wRt4Lm@127.0.0.1:1/db?bogus=1",
     "FEDISCOPE_STORE is invalid: 'mysql+pymysql://u:***@127.0.0.1:1/db?bogus=1' has an unknown option 'bogus'"),
    ("FEDISCOPE_SPARK_MASTER", "mesos://127.0.0.1:5050",
     "FEDISCOPE_SPARK_MASTER is invalid: 'mesos://127.0.0.1:5050': Spark 4, which fediscope runs, no longer"),
    ("FEDISCOPE_SPARK_MASTER", " local[2]", "FEDISCOPE_SPARK_MASTER is invalid: ' local[2]' has leading whitespace"),
])
@pytest.mark.parametrize("command", [["config", "check"], ["doctor"]])
def test_a_cluster_url_fediscope_would_misread_is_refused_by_config_check(cli_env, monkeypatch, capsys, variable,
                                                                         value, problem, command) -> None:
    """Were all accepted (`config check`: no problem, `doctor`: OK): a password or path dropped silently, a MySQL
    option refused only when connecting, a Mesos master Spark 4 cannot run, a master trimmed silently."""
    monkeypatch.setenv(variable, value)
    code, out, err = run(capsys, *command)
    assert code == 2 and out == ""
    assert _one_clear_line(err).startswith(f"fediscope: error: {problem}"), err
    assert "Kq7w" not in err and "Rt4Lm" not in err


@pytest.mark.parametrize("lake", ["webhdfs://namenode:9870", "webhdfs://etl@namenode:9870/"])
def test_config_check_warns_of_a_lake_at_the_hdfs_root(cli_env, capsys, monkeypatch, lake) -> None:
    """Was: no finding. A warning, not a problem (exit 0): a cluster of fediscope's own may hold the lake at its
    root; a lake with a directory gets none."""
    monkeypatch.setenv("FEDISCOPE_LAKE", lake)
    code, out, err = run(capsys, "config", "check")
    assert code == 0 and "Traceback" not in err, err
    (line,) = [line for line in out.splitlines() if "FEDISCOPE_LAKE" in line]
    assert line == (f"warning: FEDISCOPE_LAKE: the lake is the root directory of the HDFS file system (the URL names "
                    "no directory): its raw/, curated/, _state/ and _audit/ go beside every other top-level directory "
                    "of a shared file system; give the lake a directory of its own, e.g. "
                    f"{lake.rstrip('/')}/fediscope/lake"), out
    monkeypatch.setenv("FEDISCOPE_LAKE", f"{lake.rstrip('/')}/data/lake")
    code, out, err = run(capsys, "config", "check")
    assert code == 0 and "FEDISCOPE_LAKE" not in out, out


def test_a_broken_toml_value_names_the_key(cli_env, capsys) -> None:
    (cli_env / "fediscope.toml").write_text("[fediscope]\nlake = true\n")
    code, _out, err = run(capsys, "lake", "ls")
    assert code == 2
    assert "fediscope.toml: [fediscope] lake is invalid: expected a string, got a boolean" in _one_clear_line(err)


def test_config_check_refuses_an_unknown_timeline(cli_env, capsys) -> None:
    (cli_env / "fediscope.toml").write_text('[[sources]]\ninstance = "a.example"\ntimelines = ["publik"]\n')
    code, _out, err = run(capsys, "config", "check")
    assert code == 2  # was: exit 0, and the typo failed only at `collect`
    assert "[[sources]] entry 1: unknown source 'publik' (did you mean 'public'?)" in _one_clear_line(err)


def test_upper_case_engine_is_accepted(cli_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FEDISCOPE_ENGINE", "SPARK")
    monkeypatch.setenv("FEDISCOPE_LOG_LEVEL", "info")
    code, out, err = run(capsys, "config", "show", "--json")
    assert code == 0, err
    assert '"engine": "spark"' in out and '"log_level": "INFO"' in out


def _options_of(*names: str) -> set[str]:
    """The options of the command ``fediscope <names…>``."""
    import click

    from fediscope.cli import cli

    command: click.Command = cli
    for name in names:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
    return {opt for param in command.params for opt in param.opts}


DEAD = "http://127.0.0.1:1"  # never reached: the lake is refused before anything is fetched


@pytest.mark.parametrize(("command", "lake"), [
    (("lake", "ls"), "nope"), (("lake", "ls"), "afile"), (("lake", "unlock"), "nope"), (("lake", "unlock"), "afile"),
    (("process",), "nope"), (("process",), "afile"), (("process",), "empty"),
    (("collect", "--instance", DEAD), "afile"), (("collect", "--instance", DEAD), "afile/lake"),
    (("stream", "--instance", DEAD, "--duration", "5"), "afile"),
    (("gdpr", "retention", "--dry-run"), "nope"), (("gdpr", "retention"), "afile"),
    (("gdpr", "erase", "--account", "someone@example.org", "--yes"), "nope"),
    (("gdpr", "erase", "--account", "someone@example.org", "--yes"), "afile"),
    (("gdpr", "export", "--account", "someone@example.org"), "nope"),
    (("gdpr", "export", "--account", "someone@example.org"), "afile"),
])
def test_a_lake_error_names_only_options_the_command_has(cli_env, capsys, monkeypatch, command, lake) -> None:
    """The hint of a lake error names --lake where the command has it (and the lake was given with it),
    FEDISCOPE_LAKE alone where it does not (was: "point --lake / FEDISCOPE_LAKE at …" from gdpr retention, which has
    no --lake)."""
    (cli_env / "empty").mkdir()
    names = tuple(arg for arg in command if not arg.startswith("--") and arg != DEAD
                  and "@" not in arg and not arg.isdigit())
    options = _options_of(*names)
    if "--lake" in options:
        code, _out, err = run(capsys, *command, "--lake", str(cli_env / lake))
    else:
        monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env / lake))
        code, _out, err = run(capsys, *command)
    message = _one_clear_line(err)
    assert code == 1 and ("--lake" if "--lake" in options else "FEDISCOPE_LAKE") in message, message
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", message))
    assert named <= options, f"{named - options} named by `fediscope {' '.join(names)}`, which has no such option"
    assert ("--lake" in named) == ("--lake" in options), message


def test_python_dash_m_fediscope_cli_is_the_command(tmp_path) -> None:
    """For a venv whose scripts are not on PATH (was: "No module named fediscope.cli.__main__")."""
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "fediscope.cli", "--version"], capture_output=True, text=True,
                        cwd=tmp_path, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("fediscope, version ")
    bad = subprocess.run([sys.executable, "-m", "fediscope.cli", "process", "--engine", "nope"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "'nope'" in bad.stderr


@pytest.mark.parametrize("args", [
    ("stream", "--instance", "http://127.0.0.1:9", "--duration", "nan"),
    ("stream", "--instance", "http://127.0.0.1:9", "--flush-seconds", "inf"),
    ("doctor", "--timeout", "nan"),
    ("sample-instance", "--port", "0", "--grow", "nan"),
])
def test_a_number_option_refuses_nan_and_inf(cli_env, capsys, args) -> None:
    """Was: click's FloatRange let NaN through (it compares false with the bounds): `stream --duration nan` streamed
    until killed, `doctor --timeout nan` failed every instance check, `--grow nan` grew by nan statuses."""
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"Invalid value for '{args[-2]}': '{args[-1]}' is not a finite number." in err, err


def test_config_show_prints_an_unset_or_empty_setting_as_a_dash_and_a_list_comma_separated(cli_env, capsys,
                                                                                            monkeypatch) -> None:
    """Was: ``None`` for an unset setting, ``()`` for an empty list and ``('a.example', 'b.example')`` for a set one
    (Python's spellings), while the tokens line said ``-``. --json keeps null and lists."""
    import json

    monkeypatch.setenv("FEDISCOPE_INSTANCES", "a.example, b.example")
    code, out, err = run(capsys, "config", "show")
    assert code == 0, err
    shown = dict(line.split(None, 1) for line in out.splitlines())
    for name in ("FEDISCOPE_SPARK_LAKE_URI", "FEDISCOPE_API_KEY", "FEDISCOPE_BACKFILL_SINCE",
                 "FEDISCOPE_BATCH_RUN_TIMEOUT_MINUTES", "tokens"):
        assert shown[name] == "-", (name, out)
    assert shown["FEDISCOPE_INSTANCES"] == "a.example,b.example", out
    assert shown["FEDISCOPE_PSEUDONYM_KEY"] == "***" and shown["FEDISCOPE_BACKFILL_PAGES"] == "10", out
    assert not re.search(r" (None|\(.*\))$", out, re.M), out

    monkeypatch.delenv("FEDISCOPE_INSTANCES")
    code, out, err = run(capsys, "config", "show", "--json")
    document = json.loads(out)
    assert code == 0 and document["instances"] == [] and document["tokens"] == {}, out
    assert document["spark_lake_uri"] is None and document["api_key"] is None and document["backfill_pages"] == 10


def test_config_show_check_and_doctor_name_a_token_as_the_user_set_it(cli_env, capsys, monkeypatch) -> None:
    """Was: ``config check`` and ``config show`` named a [tokens] entry by the key it is filed under
    (``127_0_0_1_18765``), which is in no file and no variable, while ``doctor`` named the instance."""
    from fediscope.config import load_settings
    from fediscope.doctor import check_tokens

    (cli_env / "fediscope.toml").write_text('[tokens]\n"http://127.0.0.1:18765" = "short"\n')
    monkeypatch.setenv("FEDISCOPE_INSTANCES", "http://127.0.0.1:18765")
    monkeypatch.setenv("FEDISCOPE_TOKEN_mastodon.social", "changeme")  # for no configured instance
    code, out, err = run(capsys, "config", "check")
    assert code == 1, err
    assert "problem: 127.0.0.1:18765 ([tokens] of the config file): access token is shorter than 16" in out, out
    assert "problem: FEDISCOPE_TOKEN_mastodon.social: access token is a common default" in out, out
    code, out, err = run(capsys, "config", "show")
    assert code == 0, err
    assert re.search(r"^tokens +127\.0\.0\.1:18765 \(\[tokens\] of the config file\), "
                     r"FEDISCOPE_TOKEN_mastodon\.social$", out, re.M), out
    doctor = check_tokens(load_settings()).detail
    assert "the token of 127.0.0.1:18765 ([tokens] of the config file) is shorter" in doctor, doctor
    assert "the token of FEDISCOPE_TOKEN_mastodon.social is for no configured instance" in doctor, doctor
    assert "127_0_0_1" not in out + doctor and "mastodon_social" not in out + doctor
    monkeypatch.delenv("FEDISCOPE_INSTANCES")  # a [tokens] entry for no configured instance: named by its variable
    code, out, err = run(capsys, "config", "check")
    assert "problem: FEDISCOPE_TOKEN_127_0_0_1_18765 ([tokens] of the config file): access token is shorter" in out


def test_a_semicolon_separated_allowlist_is_one_clear_line_with_the_comma_hint(cli_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FEDISCOPE_INSTANCES", "a.example;b.example")
    code, out, err = run(capsys, "config", "check")
    assert code == 2 and out == ""
    assert err.endswith("the list is comma-separated: FEDISCOPE_INSTANCES=a.example,b.example\n")
    _one_clear_line(err)
