"""``config show`` says which config file was read and where each value came from; ``config check`` warns of a
variable that overrides what the file sets. Was: ``FEDISCOPE_BACKFILL_PAGES 7`` with nothing saying that the file's
``backfill_pages = 3`` was read and lost, nor which file was read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import clean_env, run

KEY = "cli-test-pseudonym-key-0123456789abcdef"
FILE_KEY = "file-pseudonym-key-fedcba9876543210fedcba"
FILE_PASSWORD = "Filepw4417x"
ENV_PASSWORD = "Envpw8832y"


@pytest.fixture
def overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fediscope.toml in the current directory whose backfill_pages, pseudonym key and store URL (with a
    password) the environment overrides; its request_timeout is not overridden."""
    (tmp_path / "fediscope.toml").write_text(
        f'[fediscope]\nbackfill_pages = 3\nrequest_timeout = 12\npseudonym_key = "{FILE_KEY}"\n'
        f'store = "mysql+pymysql://writer:{FILE_PASSWORD}@db/fediscope"\n')
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_BACKFILL_PAGES="7",
              FEDISCOPE_STORE=f"mysql+pymysql://writer:{ENV_PASSWORD}@db/fediscope")
    return tmp_path


def _secrets_not_in(text: str) -> None:
    for secret in (KEY, FILE_KEY, FILE_PASSWORD, ENV_PASSWORD):
        assert secret not in text


def test_config_show_names_the_file_and_where_each_value_came_from(overridden: Path, capsys) -> None:
    code, out, err = run(capsys, "config", "show")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split(None, 2)[:2] == ["config", "file"] and lines[0].endswith(str(overridden / "fediscope.toml"))
    below = {lines[i].split()[0]: lines[i + 1] for i in range(len(lines) - 1) if lines[i + 1].startswith("  from ")}
    assert below["FEDISCOPE_BACKFILL_PAGES"] == ("  from FEDISCOPE_BACKFILL_PAGES, over backfill_pages = 3 in "
                                                 "fediscope.toml")
    assert below["FEDISCOPE_REQUEST_TIMEOUT"] == "  from fediscope.toml: [fediscope] request_timeout"
    assert below["FEDISCOPE_PSEUDONYM_KEY"] == ("  from FEDISCOPE_PSEUDONYM_KEY, over pseudonym_key = *** in "
                                                "fediscope.toml")
    assert below["FEDISCOPE_STORE"] == ('  from FEDISCOPE_STORE, over store = "mysql+pymysql://writer:***@db/fediscope"'
                                        ' in fediscope.toml')
    assert "FEDISCOPE_LAKE" not in below  # a default: no line
    # the value lines keep their form: the variable and the value as it takes it
    values = dict(line.split(None, 1) for line in lines if line.startswith("FEDISCOPE_"))
    assert (values["FEDISCOPE_BACKFILL_PAGES"], values["FEDISCOPE_REQUEST_TIMEOUT"]) == ("7", "12")
    _secrets_not_in(out + err)


def test_config_show_json_has_the_file_and_each_settings_origin(overridden: Path, capsys) -> None:
    code, out, err = run(capsys, "config", "show", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["config_file"] == str(overridden / "fediscope.toml") and document["backfill_pages"] == 7
    origins = document["origins"]
    assert origins["backfill_pages"] == {"from": "environment", "where": "FEDISCOPE_BACKFILL_PAGES",
                                         "overrides": "backfill_pages = 3 in fediscope.toml"}
    assert origins["request_timeout"] == {"from": "file", "where": "fediscope.toml: [fediscope] request_timeout"}
    assert origins["lake"] == {"from": "default", "where": None}
    assert origins["pseudonym_key"]["overrides"] == "pseudonym_key = *** in fediscope.toml"
    _secrets_not_in(out + err)


def test_config_show_says_when_no_config_file_was_read(tmp_path: Path, monkeypatch, capsys) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY)
    code, out, _err = run(capsys, "config", "show")
    assert code == 0 and out.splitlines()[0].split(None, 2)[2].startswith("none: no ./fediscope.toml here")
    assert json.loads(run(capsys, "config", "show", "--json")[1])["config_file"] is None


def test_config_check_warns_of_each_variable_that_overrides_the_file(overridden: Path, capsys) -> None:
    code, out, err = run(capsys, "config", "check")
    assert code == 0, out + err  # warnings only
    assert "warning: FEDISCOPE_BACKFILL_PAGES=7 overrides backfill_pages = 3 in fediscope.toml\n" in out
    assert "warning: FEDISCOPE_PSEUDONYM_KEY=*** overrides pseudonym_key = *** in fediscope.toml\n" in out
    assert ("warning: FEDISCOPE_STORE=mysql+pymysql://writer:***@db/fediscope overrides store = "
            '"mysql+pymysql://writer:***@db/fediscope" in fediscope.toml\n') in out
    assert "request_timeout" not in out  # the file's value is the one used
    _secrets_not_in(out + err)
    findings = json.loads(run(capsys, "config", "check", "--json")[1])["findings"]
    assert {"level": "warning", "setting": "FEDISCOPE_BACKFILL_PAGES",
            "message": "FEDISCOPE_BACKFILL_PAGES=7 overrides backfill_pages = 3 in fediscope.toml"} in findings


@pytest.mark.parametrize("command", [("config", "show"), ("config", "show", "--json"), ("config", "check")])
def test_a_credential_in_the_spark_masters_query_is_masked_where_the_settings_are_shown(
        tmp_path: Path, monkeypatch, capsys, command: tuple[str, ...]) -> None:
    """Was: `config show` printed FEDISCOPE_SPARK_MASTER as written, ``?access_token=`` and its value too (the lake's,
    the store's and the Spark lake URI's credentials were masked; `doctor` masked it too)."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_SPARK_MASTER="k8s://https://api.example:6443?access_token=S3cretTok",
              FEDISCOPE_PSEUDONYM_KEY="a" * 8 + "b" * 24 + "c" * 32)
    _code, out, err = run(capsys, *command)
    assert "S3cretTok" not in out + err
    if command[1] == "show":
        assert "k8s://https://api.example:6443?access_token=***" in out, out


@pytest.mark.parametrize("master", ["spark://m1:7077,m2:7077?password=S3cretPw",
                                    "k8s://https://api.example:x?token=S3cretPw"])
def test_a_refused_master_does_not_echo_a_credential_in_its_query(tmp_path: Path, monkeypatch, capsys,
                                                                   master: str) -> None:
    """Was: "FEDISCOPE_SPARK_MASTER is invalid: 'spark://m1:7077,m2:7077?password=S3cretPw': 'm2:7077?password=
    S3cretPw' is not host:port" (the user name and password before an ``@`` were masked, a query's were not)."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_SPARK_MASTER=master)
    code, out, err = run(capsys, "config", "show")
    assert code == 2 and "FEDISCOPE_SPARK_MASTER is invalid" in err, (code, err)
    assert "S3cretPw" not in out + err and "=***" in err, err
