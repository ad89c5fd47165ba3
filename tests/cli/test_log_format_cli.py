"""``FEDISCOPE_LOG_FORMAT=json``: every line a command writes to stderr is one JSON object a log shipper (Loki,
Elasticsearch) can parse, with its secrets masked as in the text lines."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fediscope.cli.common import configure_logging
from fediscope.config import token_env_name

TOKEN = "tk-Lg7Wq2Zr9Mx4Vb8Nc3Hp6Jd1Ks5Ty0Ue"
API_KEY = "ak-Pz3Xc8Vb1Nm6Qw4Er9Ty2Ui7Op5As0Df"
PSEUDONYM_KEY = "pk-Hj4Kl9Zx2Cv7Bn3Mq8Wr1Et6Yu5Io0Pa"
SECRETS = (TOKEN, API_KEY, PSEUDONYM_KEY)
#: RFC 3339 in UTC, to the millisecond: ``2026-01-31T09:05:00.123Z``.
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of ``stderr`` as a JSON object with the keys every log line has (a line that is not: the test
    fails naming it)."""
    records = []
    for line in stderr.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert RFC3339_UTC.fullmatch(record["time"]), line
        assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, line
        assert record["logger"] and isinstance(record["message"], str), line
        records.append(record)
    return records


def env_of(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_API_KEY=API_KEY, FEDISCOPE_LOG_FORMAT="json", FEDISCOPE_LOG_LEVEL="INFO", **extra)
    return env


def fediscope(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fediscope", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_a_collect_run_logs_json_lines_only_with_its_secrets_masked(tmp_path: Path, mastodon_server: Any) -> None:
    """A collection whose instance quotes the token it was sent, and the API key, in its error (a proxy in front of
    it): every stderr line is a JSON object, the failure has its fields, and neither secret is in any line."""
    env = env_of(tmp_path, **{token_env_name(mastodon_server.url): TOKEN, "FEDISCOPE_MAX_RETRIES": "1",
                              "FEDISCOPE_RETRY_BACKOFF": "0.01"})
    mastodon_server.fail(401, times=2, error=f"invalid token (Bearer {TOKEN}; X-API-Key: {API_KEY})")
    mastodon_server.fail(500, times=1, path="/api/v1/timelines/public")  # a retry, logged at INFO
    result = fediscope(env, tmp_path, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                       "--timeline", "local", "--max-pages", "1")
    assert result.returncode == 1, result.stderr
    records = json_lines(result.stderr)
    assert {r["level"] for r in records} >= {"INFO", "ERROR"}  # at INFO: retries, the summary
    # the collector's own line of a failure is INFO: the ERROR `failed:` line below says it (was: both, at WARNING)
    assert {r["level"] for r in records if "failed" in r["message"] and r["logger"] != "fediscope"} == {"INFO"}
    failed = [r for r in records if r["logger"] == "fediscope" and r["message"].startswith("failed: ")]
    assert failed and all(r["level"] == "ERROR" and r["instance"] == mastodon_server.domain for r in failed)
    assert "Bearer ***" in result.stderr
    assert f"Bearer {TOKEN}" in {s.authorization for s in mastodon_server.log}  # the token was in flight
    assert not [s for s in SECRETS if s in result.stdout + result.stderr]


def test_a_commands_error_is_a_json_line_with_its_exit_code(tmp_path: Path, mastodon_server: Any) -> None:
    """The line a failing command ends with (``fediscope: error: …`` in text) is a JSON line too, so a cron job's
    reason for failing reaches the log store parsed."""
    env = env_of(tmp_path)
    args = ("collect", "--instance", mastodon_server.url, "--timeline", "public", "--max-pages", "1")
    assert fediscope(env, tmp_path, *args).returncode == 0
    result = fediscope({**env, "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY[::-1]}, tmp_path, *args)
    assert result.returncode == 2, result.stderr
    last = json_lines(result.stderr)[-1]
    assert (last["level"], last["logger"], last["exit_code"]) == ("ERROR", "fediscope", 2)
    assert "is not the key this lake was landed with" in last["message"]
    assert not last["message"].startswith("fediscope: error")  # the prefix is the text format's
    assert not [s for s in SECRETS + (PSEUDONYM_KEY[::-1],) if s in result.stderr]


def test_a_stream_that_failed_says_why_in_a_json_line_its_summary_stays_on_stdout(tmp_path: Path,
                                                                                   mastodon_server: Any) -> None:
    """As ``collect`` says a failed source: was only in the summary on stdout, so the log store had no error line
    for a stream a cron job or a service ran and that failed for good (exit 1). stdout is unchanged (``--json`` for
    a document there)."""
    mastodon_server.fail(401, times=5, path="/api/v1/streaming/public")
    result = fediscope(env_of(tmp_path), tmp_path, "stream", "--instance", mastodon_server.url, "--duration", "30")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"stream {mastodon_server.domain} public: 0 events")
    assert "stopped by an error: the streaming server refused the connection (HTTP 401)" in result.stdout
    (failed,) = [r for r in json_lines(result.stderr) if r["level"] == "ERROR"]
    assert (failed["logger"], failed["instance"], failed["source"]) == ("fediscope", mastodon_server.domain, "public")
    assert failed["message"].startswith(f"failed: {mastodon_server.domain} public: the streaming server refused")


@pytest.mark.parametrize("value", ["yaml", "JSONL", ""])
def test_a_log_format_other_than_text_or_json_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    result = fediscope({**env_of(tmp_path), "FEDISCOPE_LOG_FORMAT": value}, tmp_path, "config", "show")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"fediscope: error: FEDISCOPE_LOG_FORMAT is invalid: expected text or json (any "
                             f"case), got {value!r}.\n")


def test_text_stays_the_default_and_json_is_any_case(tmp_path: Path) -> None:
    env = {k: v for k, v in env_of(tmp_path).items() if k != "FEDISCOPE_LOG_FORMAT"}
    shown = json.loads(fediscope(env, tmp_path, "config", "show", "--json").stdout)
    assert shown["log_format"] == "text"
    shown = json.loads(fediscope({**env, "FEDISCOPE_LOG_FORMAT": "JSON"}, tmp_path, "config", "show", "--json").stdout)
    assert shown["log_format"] == "json"


# -- before the settings are read: click's usage errors, and settings that cannot be read ----------------------------
@pytest.mark.parametrize(("args", "message", "usage"), [
    (("collect", "--bogus"), "No such option '--bogus'.", "fediscope collect [OPTIONS]"),
    (("store", "export"), "Missing argument 'NAME'.", "fediscope store export [OPTIONS] NAME"),
    (("report", "--format", "yaml"), "Invalid value for '--format': 'yaml' is not one of 'text', 'json'.",
     "fediscope report [OPTIONS]"),
    (("stream",), "Missing option '--instance'.", "fediscope stream [OPTIONS]"),
    (("bogus",), "No such command 'bogus'.", "fediscope [OPTIONS] COMMAND [ARGS]..."),
])
def test_a_usage_error_is_one_json_line_with_exit_2(tmp_path: Path, args: tuple[str, ...], message: str,
                                                    usage: str) -> None:
    """Was: click's ``Usage: …`` / ``Try …`` / ``Error: …`` lines, in text whatever the log format (a cron job's
    mistyped option reached the log store as four lines it could not parse). Text stays click's own."""
    result = fediscope(env_of(tmp_path), tmp_path, *args)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    (record,) = json_lines(result.stderr)
    assert (record["level"], record["logger"], record["message"]) == ("ERROR", "fediscope", message)
    assert (record["exit_code"], record["usage"]) == (2, usage)

    text = fediscope({**env_of(tmp_path), "FEDISCOPE_LOG_FORMAT": "text"}, tmp_path, *args)
    assert text.returncode == 2 and text.stderr.startswith(f"Usage: {usage}\n") and f"Error: {message}" in text.stderr


def test_a_usage_error_of_a_command_asked_for_json_keeps_its_document_on_stdout(tmp_path: Path) -> None:
    result = fediscope(env_of(tmp_path), tmp_path, "collect", "--max-pages", "x", "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["type"] == "BadParameter"
    (record,) = json_lines(result.stderr)
    assert "Invalid value for '--max-pages'" in record["message"] and record["exit_code"] == 2


def test_a_group_given_no_command_gives_its_help_in_one_json_line(tmp_path: Path) -> None:
    result = fediscope(env_of(tmp_path), tmp_path, "gdpr")
    assert (result.returncode, result.stdout) == (2, "")
    (record,) = json_lines(result.stderr)
    assert record["message"].startswith("Usage: fediscope gdpr [OPTIONS] COMMAND") and "erase" in record["message"]


def test_usage_errors_in_one_process_follow_each_runs_log_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """In-process (a test's, CliRunner's, a host's): JSON for the run with ``FEDISCOPE_LOG_FORMAT=json``, click's
    text again for the next run without it."""
    from cli_run import clean_env, run

    clean_env(tmp_path, monkeypatch, FEDISCOPE_LOG_FORMAT="json")
    code, out, err = run(capsys, "collect", "--bogus")
    assert (code, out) == (2, "") and json_lines(err)[0]["message"] == "No such option '--bogus'."
    monkeypatch.delenv("FEDISCOPE_LOG_FORMAT")
    code, out, err = run(capsys, "collect", "--bogus")
    assert (code, out) == (2, "") and err.startswith("Usage: fediscope collect [OPTIONS]\n")


def test_an_error_after_the_settings_were_read_keeps_their_log_format(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Once a command's settings have set its log format, its failure is said in that format: the settings are not
    looked up again (a second reading could differ, and a Ctrl-C during it escaped as a traceback). Only an error
    before they were read looks the format up. Was: it was looked up again on every failure."""
    from cli_run import clean_env, run

    import fediscope.cli.common as common

    lookups: list[str] = []
    real = common.log_format_without_settings
    monkeypatch.setattr(common, "log_format_without_settings", lambda: lookups.append("looked up") or real())
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LOG_FORMAT="json")

    code, out, err = run(capsys, "report", "--store", "sqlite:///missing/x.db")
    assert (code, lookups) == (1, [])
    assert json_lines(err)[0]["message"].startswith("the SQLite store missing/x.db does not exist")
    code, out, err = run(capsys, "collect", "--bogus")  # before any settings: looked up
    assert (code, lookups) == (2, ["looked up"]) and json_lines(err)[0]["message"] == "No such option '--bogus'."


#: (what fediscope.toml holds, or None for none; FEDISCOPE_* set beside FEDISCOPE_LOG_FORMAT=json; the error)
UNREADABLE_SETTINGS = [
    ("[fediscope\nlake = 1\n", {}, "fediscope.toml: not valid TOML (Expected ']'"),
    ('[fediscope]\nlog_format = "text"\nlake = 1\n', {},  # the environment's json over the file's text
     "fediscope.toml: [fediscope] lake is invalid: expected a string, got a number (1)."),
    ('[fediscope]\nlake_dir = "x"\n', {}, "fediscope.toml: unknown setting [fediscope] 'lake_dir'; known: lake, "),
    (None, {"FEDISCOPE_MAX_RETRIES": "x"}, "FEDISCOPE_MAX_RETRIES is invalid: 'x' is not an integer."),
    (None, {"FEDISCOPE_CONFIG": "missing.toml"}, "config file missing.toml (FEDISCOPE_CONFIG) does not exist"),
]


@pytest.mark.parametrize(("toml", "variables", "message"), UNREADABLE_SETTINGS)
def test_settings_that_cannot_be_read_are_one_json_line_with_the_environments_json(
        tmp_path: Path, toml: str | None, variables: dict[str, str], message: str) -> None:
    """Was: ``fediscope: error: …`` in text, as the log format is itself a setting: the environment's
    ``FEDISCOPE_LOG_FORMAT`` is read on its own, also when the config file is what cannot be read."""
    if toml is not None:
        (tmp_path / "fediscope.toml").write_text(toml, encoding="utf-8")
    result = fediscope(env_of(tmp_path, **variables), tmp_path, "config", "show")
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    (record,) = json_lines(result.stderr)
    assert (record["level"], record["logger"], record["exit_code"]) == ("ERROR", "fediscope", 2)
    assert record["message"].startswith(message), record["message"]
    assert not [s for s in SECRETS if s in result.stderr]


def test_sample_instance_with_an_unreadable_config_file_is_one_json_line(tmp_path: Path) -> None:
    """``sample-instance`` reads ``FEDISCOPE_LOG_FORMAT`` alone (its own way), from the same file."""
    (tmp_path / "fediscope.toml").write_text("[fediscope\n", encoding="utf-8")
    result = fediscope(env_of(tmp_path), tmp_path, "sample-instance", "--port", "0")
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    (record,) = json_lines(result.stderr)
    assert record["message"].startswith("fediscope.toml: not valid TOML") and record["exit_code"] == 2


def test_a_config_file_that_is_a_directory_is_one_json_line(tmp_path: Path) -> None:
    (tmp_path / "fediscope.toml").mkdir()
    result = fediscope(env_of(tmp_path), tmp_path, "config", "show")
    assert result.returncode == 2
    (record,) = json_lines(result.stderr)
    assert record["message"] == "cannot read config file fediscope.toml: Is a directory"


def test_the_config_files_log_format_is_honoured_unless_the_environment_sets_one(tmp_path: Path) -> None:
    """``[fediscope] log_format = "json"`` is read for the error about another setting; ``FEDISCOPE_LOG_FORMAT``
    wins over it, as it does once the settings are read."""
    (tmp_path / "fediscope.toml").write_text('[fediscope]\nlog_format = "json"\n', encoding="utf-8")
    env = {k: v for k, v in env_of(tmp_path, FEDISCOPE_MAX_RETRIES="x").items() if k != "FEDISCOPE_LOG_FORMAT"}
    (record,) = json_lines(fediscope(env, tmp_path, "config", "show").stderr)
    assert record["message"].startswith("FEDISCOPE_MAX_RETRIES is invalid") and record["exit_code"] == 2
    result = fediscope({**env, "FEDISCOPE_LOG_FORMAT": "text"}, tmp_path, "config", "show")
    assert result.returncode == 2 and result.stderr.startswith("fediscope: error: FEDISCOPE_MAX_RETRIES is invalid")


# -- the formatter, in-process: what a record holds reaches the line, masked ----------------------------------------
@pytest.fixture
def json_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Logging as a command with ``FEDISCOPE_LOG_FORMAT=json`` sets it up; what it wrote to stderr so far; the root
    logger's handlers and level as they were afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    root.handlers = []
    configure_logging("INFO", secrets=[TOKEN, API_KEY], fmt="json")
    try:
        yield lambda: capsys.readouterr().err
    finally:
        configure_logging("WARNING")  # text again, Python's warnings no longer logged
        root.handlers, root.level = saved


def test_secrets_in_the_message_its_arguments_the_traceback_and_extra_fields_are_masked(
        json_logging: Callable[[], str]) -> None:
    log = logging.getLogger("fediscope.tests.json")
    log.warning(f"token {TOKEN} in the message")
    log.warning("key %s in the arguments, %s", API_KEY, {"token": TOKEN})
    try:
        raise RuntimeError(f"upstream said: Authorization: Bearer {TOKEN}")
    except RuntimeError:
        log.exception("the request failed")
    log.info("done", extra={"url": f"http://h/x?access_token={TOKEN}", "headers": {"X-API-Key": API_KEY},
                            "tried": [TOKEN, 3], "status": 200, "ok": True, "level": "overridden?"})
    text = json_logging()
    records = json_lines(text)
    assert [r["message"] for r in records] == ["token *** in the message",
                                               "key *** in the arguments, {'token': '***'}",
                                               "the request failed", "done"]
    assert "RuntimeError: upstream said: Authorization: Bearer ***" in records[2]["exception"]
    assert records[2]["exception"].startswith("Traceback (most recent call last):")
    assert "exception" not in records[0]
    assert records[3]["url"] == "http://h/x?access_token=***" and records[3]["headers"] == {"X-API-Key": "***"}
    assert (records[3]["tried"], records[3]["status"], records[3]["ok"]) == (["***", 3], 200, True)
    assert records[3]["level"] == "INFO"  # an extra field does not replace a key of the line's own
    assert TOKEN not in text and API_KEY not in text
    assert len(text.splitlines()) == 4  # the traceback is inside its line


def test_pythons_warnings_are_json_lines_too(json_logging: Callable[[], str]) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(True)  # catch_warnings put back the showwarning it found on entry
        warnings.warn(f"deprecated, called with {TOKEN}", DeprecationWarning, stacklevel=1)
    (record,) = json_lines(json_logging())
    assert record["logger"] == "py.warnings" and "deprecated, called with ***" in record["message"]
