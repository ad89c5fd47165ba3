"""A mistyped ``FEDISCOPE_*`` variable, warned of by every command (not only ``config check``); the config file's
error naming ``FEDISCOPE_CONFIG``; ``config show``'s values as their variables take them; one API-key hint."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cli_run import clean_env, run

from fediscope.config import Settings, load_settings
from fediscope.config_check import check_settings
from fediscope.doctor import check_api_key, check_pseudonym_key

KEY = "cli-test-pseudonym-key-0123456789abcdef"
TYPO = "FEDISCOPE_BACKFIL_PAGES"
WARNING = (f"{TYPO}: unknown variable, ignored: did you mean FEDISCOPE_BACKFILL_PAGES?")


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    return clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_LAKE=str(tmp_path / "lake"),
                     FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}", FEDISCOPE_MAX_RETRIES="0")


@pytest.mark.parametrize("command", [("config", "show"), ("lake", "ls"), ("collect", "--max-pages", "1"),
                                     ("report",)], ids=" ".join)
def test_every_command_warns_of_a_mistyped_variable(cli_env, monkeypatch, capsys, command) -> None:
    """Was: silently ignored (collect ran with the default backfill depth, which a first run makes final). The
    variables read by name that are not settings are not warned of."""
    toml = cli_env / "fediscope.toml"
    toml.write_text("[fediscope]\n")
    for name, value in {TYPO: "1000", "FEDISCOPE_CONFIG": str(toml), "FEDISCOPE_TOKEN_MASTODON_SOCIAL": "t" * 43,
                        "FEDISCOPE_TEST_ANYTHING": "1", "FEDISCOPE_LOG_FORMAT": "text",
                        "FEDISCOPE_DB_PASSWORD": "x", "FEDISCOPE_BACKFILL_PAGES": "3"}.items():
        monkeypatch.setenv(name, value)
    _code, _out, err = run(capsys, *command)
    assert f"fediscope: warning: {WARNING}\n" in err
    assert err.count("unknown variable") == 1 and err.count(TYPO) == 1 and "Traceback" not in err


def test_the_warning_is_a_json_log_line_with_json_logs(cli_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv(TYPO, "1000")
    monkeypatch.setenv("FEDISCOPE_LOG_FORMAT", "json")
    code, _out, err = run(capsys, "config", "show")
    assert code == 0
    (record,) = [json.loads(line) for line in err.splitlines()]
    assert (record["level"], record["message"], record["variable"]) == ("WARNING", WARNING, TYPO)


def test_doctor_shows_it_as_a_warn(cli_env, monkeypatch, capsys) -> None:
    """Was: no word of it. A line of the report, as it is a finding of ``config check`` (so neither says it on
    stderr too); no such line without one."""
    _code, out, _err = run(capsys, "doctor", "--json")
    assert "variables" not in [c["name"] for c in json.loads(out)["checks"]]
    monkeypatch.setenv(TYPO, "1000")
    _code, out, err = run(capsys, "config", "check")
    assert f"warning: {WARNING}\n" in out and TYPO not in err
    _code, out, err = run(capsys, "doctor")
    (line,) = [line for line in out.splitlines() if TYPO in line]
    assert line.split()[:2] == ["WARN", "variables"] and WARNING in line and TYPO not in err
    _code, out, _err = run(capsys, "doctor", "--json")
    (check,) = [c for c in json.loads(out)["checks"] if c["name"] == "variables"]
    assert (check["status"], check["detail"]) == ("WARN", WARNING)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_an_airflow_task_logs_it(cli_env, monkeypatch) -> None:
    """On the module's logger, which a task's log gets (Airflow's own logging set-up replaces caplog's)."""
    from fediscope.orchestration import log, task_settings

    monkeypatch.setenv(TYPO, "1000")
    records = _Records()
    level = log.level
    log.addHandler(records)
    log.setLevel(logging.WARNING)
    try:
        task_settings({})
    finally:
        log.removeHandler(records)
        log.setLevel(level)
    assert records.messages == [WARNING]


@pytest.mark.parametrize("command", [("config", "check"), ("config", "show")], ids=" ".join)
def test_a_config_directory_names_fediscope_config(cli_env, monkeypatch, capsys, command) -> None:
    """Was: ``cannot read config file /tmp: Is a directory``, while a missing file's error named the variable."""
    monkeypatch.setenv("FEDISCOPE_CONFIG", str(cli_env))
    code, out, err = run(capsys, *command)
    assert code == 2 and out == ""
    assert err == (f"fediscope: error: cannot read config file {cli_env} (FEDISCOPE_CONFIG): Is a directory; "
                   "point FEDISCOPE_CONFIG at a readable TOML file\n")


def test_config_show_prints_values_as_their_variables_take_them(cli_env, monkeypatch, capsys) -> None:
    """Was: ``FEDISCOPE_PRIVACY True``, ``FEDISCOPE_REFRESH_HOURS 0.0``: Python's spelling."""
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "on")
    monkeypatch.setenv("FEDISCOPE_REFRESH_HOURS", "0")
    code, out, _err = run(capsys, "config", "show")
    shown = dict(line.split(maxsplit=1) for line in out.splitlines() if line.startswith("FEDISCOPE_"))
    assert code == 0 and (shown["FEDISCOPE_PRIVACY"], shown["FEDISCOPE_REFRESH_HOURS"]) == ("true", "0")
    assert "True" not in out and "False" not in out
    # each value read back as its variable gives the same settings
    assert load_settings(env={**{k: v for k, v in shown.items() if v != "-"}, "FEDISCOPE_PSEUDONYM_KEY": KEY},
                         toml_path=False).replace(pseudonym_key=None) == \
        load_settings(toml_path=False).replace(pseudonym_key=None)


def test_config_show_keeps_a_fraction(cli_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FEDISCOPE_REFRESH_HOURS", "1.5")
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    _code, out, _err = run(capsys, "config", "show")
    assert "\nFEDISCOPE_REFRESH_HOURS" in out and out.split("FEDISCOPE_REFRESH_HOURS")[1].split()[0] == "1.5"
    assert out.split("FEDISCOPE_PRIVACY")[1].split()[0] == "false"


API_KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def test_every_api_key_hint_gives_the_same_command(tmp_path: Path) -> None:
    """Was: doctor and config check suggested token_hex(32), serve-api and api/README.md token_urlsafe(32). A
    pseudonym key's hints keep README's Quick start's token_hex(32) (for a new lake: not ./lake of wherever the tests
    run, which another test may have landed with a key)."""
    new_lake = Settings(lake=str(tmp_path / "lake"))
    pseudonym_hints = [check_pseudonym_key(new_lake).fix, *(f.message for f in check_settings(new_lake, env={})
                                                               if f.setting == "FEDISCOPE_PSEUDONYM_KEY")]
    assert len(pseudonym_hints) == 2 and all("secrets.token_hex(32)" in h for h in pseudonym_hints), pseudonym_hints
    from api.auth import KeyRing

    hints = [check_api_key(Settings()).fix, check_api_key(Settings(api_key=("short",))).fix,
             *(f.message for f in check_settings(Settings(api_key=("short",)), env={})
               if f.setting == "FEDISCOPE_API_KEY")]
    with pytest.raises(Exception) as refused:
        KeyRing(())
    hints.append(str(refused.value))
    assert len(hints) == 4 and all(API_KEY_COMMAND in hint and "token_hex" not in hint for hint in hints), hints
