"""A command asked for JSON that fails before its own document prints an error document on stdout.

It printed nothing there (the error was one line on stderr only), so a script reading stdout (``fediscope process
--json | jq …``) had nothing to parse and could not tell a failure's kind. Each test below printed nothing on stdout
before.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from child_process import child
from cli_run import clean_env, run

KEY = "cli-test-pseudonym-key-2b8e4f0a6c1d9e3f7a5b"


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    return clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
                     FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}", FEDISCOPE_RETRY_BACKOFF="0.01",
                     FEDISCOPE_MAX_RETRIES="1")


def error_of(out: str) -> dict[str, Any]:
    """The one error document on stdout (``json.loads`` fails on anything else there)."""
    document = json.loads(out)
    assert document["ok"] is False and set(document) == {"ok", "error"}, document
    return document["error"]


def test_a_failure_of_the_command_is_a_document_with_its_type_message_and_exit_code(cli_env, capsys) -> None:
    code, out, err = run(capsys, "process", "--json")

    assert code == 1
    error = error_of(out)
    assert error["type"] == "NoLakeError" and error["exit_code"] == 1
    assert "no lake at" in error["message"] and error["message"] in err  # the stderr line stays as it was
    assert err.startswith("fediscope: error: no lake at")


@pytest.mark.parametrize("args", [
    ("process", "--since", "nope", "--json"),
    ("process", "--json", "--since", "nope"),  # --json read first either way
    ("report", "--top", "0", "--format", "json"),
    ("report", "--format=JSON", "--top", "0"),
])
def test_a_bad_option_value_is_a_document_with_exit_2(cli_env, capsys, args) -> None:
    code, out, err = run(capsys, *args)

    assert code == 2
    error = error_of(out)
    assert error["type"] == "BadParameter" and error["exit_code"] == 2
    assert error["message"].startswith("Invalid value for '--")
    assert "Usage:" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [("process", "--nope", "--json"), ("report", "--format", "json", "--nope"),
                                  ("report", "--format=text", "--format=json", "--nope"),
                                  ("report", "--store", "--", "--format=json", "--nope")])  # "--" is --store's value
def test_an_unknown_option_is_a_document_too(cli_env, capsys, args) -> None:
    """click stops reading the command line there, before any option's value is looked at."""
    code, out, _err = run(capsys, *args)

    assert code == 2
    error = error_of(out)
    assert error["type"] == "NoSuchOption" and "--nope" in error["message"]


@pytest.mark.parametrize("args, message", [
    (("report", "--format=json", "--top"), "Option '--top' requires an argument"),
    (("process", "--json", "--recurate=1"), "Option '--recurate' does not take a value"),
])
def test_an_option_used_wrongly_is_a_document(cli_env, capsys, args, message) -> None:
    """click raises these without the command's context: the command is found from the command line."""
    code, out, _err = run(capsys, *args)

    assert code == 2
    error = error_of(out)
    assert error["type"] == "BadOptionUsage" and error["message"].startswith(message)


@pytest.mark.parametrize("args", [
    ("report", "--format=json", "--format=text", "--nope"),  # click keeps the last --format
    ("report", "--format", "json", "--format", "TEXT", "--nope"),
    ("report", "--store", "--format=json", "--nope"),  # "--format=json" is --store's value
    ("report", "--json", "--nope"),  # report has --format, not --json
    ("process", "--format=json", "--nope"),  # and process --json, not --format
])
def test_json_is_asked_for_only_as_click_reads_the_command_line(cli_env, capsys, args) -> None:
    code, out, err = run(capsys, *args)

    assert code == 2 and out == "" and "No such option '--" in err


@pytest.mark.parametrize("args", [("gdpr", "export", "--json", "--account", "a@b.example"),
                                  ("--json", "process")])
def test_json_given_where_the_command_has_no_such_option_is_not_a_request(cli_env, capsys, args) -> None:
    """``gdpr export`` prints its own JSON on stdout (no --json): an error document there could be read as the
    export; the group has no --json either."""
    code, out, err = run(capsys, *args)

    assert code == 2 and out == "" and "No such option '--json'" in err


def test_report_format_json_without_a_store(cli_env, capsys) -> None:
    code, out, _err = run(capsys, "report", "--format", "json", "--no-charts")

    assert code == 1
    error = error_of(out)
    assert error["type"] == "StoreError" and "does not exist yet" in error["message"]


@pytest.mark.parametrize("args", [("process",), ("report", "--format", "text", "--no-charts"),
                                  ("process", "--since", "nope"), ("process", "--nope")])
def test_without_json_stdout_stays_empty(cli_env, capsys, args) -> None:
    code, out, err = run(capsys, *args)

    assert code in (1, 2) and out == "" and err


def test_a_command_that_printed_its_document_prints_no_second_one(cli_env, capsys, mastodon_server) -> None:
    """collect prints its summary with ``"ok": false`` for a failed source, then exits 1: one document."""
    mastodon_server.fail(500, times=100, path="/api/v1/timelines/tag/")

    code, out, _err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "tag:hoot", "--json")

    assert code == 1
    summary = json.loads(out)
    assert summary["ok"] is False and "error" not in summary and summary["sources"][0]["source"] == "tag:hoot"


# A command asked for --json that is stopped while it works, and one that fails on a bug, run through the real
# entry point (fediscope.cli.main) beside the real commands, as the `fediscope` script runs them.
SCRIPT = textwrap.dedent("""
    import sys, time
    import click
    from fediscope import cli
    from fediscope.cli.common import json_option

    @click.command()
    @json_option("Print as JSON.")
    def spin(as_json):
        print("ready", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)

    @click.command()
    @json_option("Print as JSON.")
    def boom(as_json):
        raise RuntimeError("secret-looking detail from https://user:hunter2@db.example/x, Bearer abc.def.ghi")

    cli.COMMANDS["spin"] = ("__main__:spin", "waits")
    cli.COMMANDS["boom"] = ("__main__:boom", "fails on a bug")
    cli.main(sys.argv[1:])
""")


@pytest.mark.parametrize(("signum", "code", "message"), [(signal.SIGTERM, 143, "stopped (SIGTERM)"),
                                                         (signal.SIGINT, 130, "interrupted")])
def test_a_stopped_command_says_so_in_the_document(signum: int, code: int, message: str) -> None:
    with child([sys.executable, "-c", SCRIPT, "spin", "--json"]) as process:
        assert process.stderr is not None
        assert process.stderr.readline().strip() == "ready"
        time.sleep(0.2)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)

    assert process.returncode == code, err
    assert error_of(out) == {"type": "Interrupted", "message": message, "exit_code": code}
    assert err.strip() == f"fediscope: {message}"


def test_a_bug_is_a_document_naming_the_exception_not_quoting_it() -> None:
    """Its traceback goes to stderr as before; the document on stdout does not repeat what the exception holds."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, "boom", "--json"], capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 1
    error = error_of(done.stdout)
    assert error["type"] == "InternalError" and "RuntimeError" in error["message"]
    assert "secret-looking" not in done.stdout and "Traceback" in done.stderr


def test_a_bugs_traceback_is_masked_as_log_lines_are() -> None:
    """An exception's text may quote a URL with its password or a token: the traceback on stderr masks them."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, "boom"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert "RuntimeError: secret-looking detail" in done.stderr
    assert "hunter2" not in done.stderr and "abc.def.ghi" not in done.stderr


def test_the_document_counts_as_printed_before_it_is_written(cli_env, capsys, monkeypatch) -> None:
    """A Ctrl-C while a long document is being written must not add an error document after the partial one."""
    from fediscope.cli import common

    def interrupted_echo(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(common.click, "echo", interrupted_echo)
    common.JsonOutput.reset()
    common.JsonOutput.requested = True
    with pytest.raises(KeyboardInterrupt):
        common.emit_json({"rows": [1, 2, 3]})
    assert common.JsonOutput.printed
