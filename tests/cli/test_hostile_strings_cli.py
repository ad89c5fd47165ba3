"""Strings a hostile server sends, on the operator's terminal and in the logs: shown, never obeyed.

:class:`~doubles.hostile_strings.HostileDouble` serves the recorded timeline and trending tags with escape sequences
and control characters in the hashtags, languages, trend names and an error message (an ANSI CSI clearing the
screen, an OSC 8 hyperlink, an OSC 52 clipboard write, C1 controls, a carriage return, a newline forging a log line,
bidi overrides). Collected, processed and reported through the real commands, over real HTTP.

Was: they reached the terminal as they were: ``fediscope report``'s tables, ``fediscope store export`` printed on
a terminal, ``fediscope lake ls`` of a file so named; a text log line quoting the error body was split in two, the
second a forged ``ERROR`` line; the charts drew the controls as boxes and asked for fonts to fill them.

What is written as data (the lake, the store, an export to a file or a pipe, ``--format json``, JSON log lines) keeps
the values exactly as sent.
"""

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
from doubles.hostile_strings import RAW_CONTROLS, VARIANTS, HostileDouble, hostile_error
from terminal_screen import fediscope_argv, on_terminal

from fediscope.cli.common import configure_logging

KEY = "hostile-strings-pseudonym-key-5d1c7e9a3b"
SECRET = "tk-Qm4Zr8Wx2Lp7Vn3Bc9Hd5Jf1Ks6Ty0Ue"
#: A text log line: ``time level logger message``.
TEXT_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ ")
#: The start of the line :data:`~doubles.hostile_strings.VARIANTS`' newline variant forges.
FORGED = "2026-01-01 00:00:00,000"


def fediscope(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fediscope", *args], env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=180, check=False)


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


def raw_controls(text: str, allowed: str = "\n") -> list[str]:
    """The characters of :data:`RAW_CONTROLS` in ``text``, but ``allowed``."""
    return [char for char in RAW_CONTROLS.findall(text) if char not in allowed]


@pytest.fixture(scope="module")
def double() -> Iterator[HostileDouble]:
    with HostileDouble(statuses=30) as server:
        yield server


@pytest.fixture(scope="module")
def env(double: HostileDouble, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The hostile instance's public timeline, trending tags and instance document, collected and processed."""
    base = tmp_path_factory.mktemp("hostile")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "LC_")) and k != "COLUMNS"}
    env = {**kept, "LANG": "C.UTF-8", "FEDISCOPE_LAKE": str(base / "lake"),
           "FEDISCOPE_STORE": f"sqlite:///{base / 'store.db'}", "FEDISCOPE_PSEUDONYM_KEY": KEY,
           "FEDISCOPE_RETRY_BACKOFF": "0.01", "FEDISCOPE_MAX_RETRIES": "1"}
    succeeded(fediscope(env, "collect", "--instance", double.url, "--timeline", "public", "--timeline",
                        "trends_tags", "--timeline", "instance"))
    succeeded(fediscope(env, "process", "--no-progress"))
    return env


def served_tags(double: HostileDouble) -> set[str]:
    """The hostile tag names, as the metrics hold them (lower-cased)."""
    return {name.lower() for name in double.tag_names}


def test_the_report_shows_the_escapes_of_what_the_server_sent(env: dict[str, str]) -> None:
    out = succeeded(fediscope(env, "report", "--no-charts"))
    assert raw_controls(out) == []
    for shown in ("heeho\\x1b[2j\\x1b[1;31m", "\\x1b]8;;https://evil.invalid/", "heeho\\rforged",
                  "heeho\\u202eoheeh\\u2066x\\u2069", "heeho\\u009b2j", "\\x08\\u007f\\x00\\t", "ja\\n2026-01-01"):
        assert shown in out
    assert not any(line.startswith(FORGED) for line in out.splitlines())


def test_the_json_report_keeps_the_values(env: dict[str, str], double: HostileDouble) -> None:
    document = json.loads(succeeded(fediscope(env, "report", "--no-charts", "--format", "json")))
    trending = next(a for a in document["analyses"] if a["name"] == "trending_hashtags")
    assert {row["tag"] for row in trending["rows"]} == served_tags(double)


def test_the_charts_draw_the_escapes_not_boxes(env: dict[str, str], tmp_path: Path) -> None:
    """Was: ``12 character(s) no installed font has are drawn as boxes (ESC, BS, …)``, the warning itself holding
    them raw, and a suggestion to install fonts."""
    result = fediscope(env, "report", "--out", str(tmp_path))
    succeeded(result)
    assert "drawn as boxes" not in result.stderr and raw_controls(result.stderr) == []
    assert {"hashtags_per_day.png", "languages.png"} <= {p.name for p in tmp_path.iterdir()}


def test_store_export_on_a_terminal_shows_escapes_and_to_a_pipe_the_values(env: dict[str, str],
                                                                            double: HostileDouble) -> None:
    run = on_terminal(fediscope_argv("store", "export", "trending_hashtags"), 200, env)
    assert run.code == 0, run.terminal
    screen = run.terminal.replace("\r\n", "\n")  # CSV's own line ends (the pty's "\r\n" for "\n" is undone)
    assert raw_controls(screen) == []
    assert "heeho\\x1b]52;c;" in screen and "heeho\\rforged" in screen
    jsonl = on_terminal(fediscope_argv("store", "export", "trending_hashtags", "--format", "jsonl"), 200, env)
    rows = [json.loads(line) for line in jsonl.terminal.splitlines()]  # still JSON Lines
    assert raw_controls(jsonl.terminal) == [] and len(rows) == len(served_tags(double))
    piped = succeeded(fediscope(env, "store", "export", "trending_hashtags", "--format", "jsonl"))
    assert {json.loads(line)["tag"] for line in piped.splitlines()} == served_tags(double)


def test_lake_ls_shows_a_hostile_file_name_escaped(env: dict[str, str], double: HostileDouble) -> None:
    partition = next((Path(env["FEDISCOPE_LAKE"]) / "raw" / "mastodon" / "statuses").glob("*/*"))
    name = f"{double.tag_names[2]}.jsonl"  # another writer of the lake chose it
    (partition / name).write_text("")
    try:
        out = succeeded(fediscope(env, "lake", "ls", str(partition.relative_to(env["FEDISCOPE_LAKE"]))))
    finally:
        (partition / name).unlink()
    assert raw_controls(out) == [] and "\\x1b]52;c;" in out


def test_doctor_shows_the_instance_documents_title_escaped(env: dict[str, str], double: HostileDouble) -> None:
    result = fediscope({**env, "FEDISCOPE_INSTANCES": double.url}, "doctor")
    line = next(line for line in result.stdout.splitlines() if line.startswith("OK    instance"))
    assert "(\\x1b]8;;https://evil.invalid/\\x1b\\Mastodon" in line, result.stdout
    assert raw_controls(result.stdout + result.stderr) == []


def collect_failing(env: dict[str, str], double: HostileDouble, log_format: str,
                    log_level: str = "WARNING") -> subprocess.CompletedProcess[str]:
    """A collection whose timeline answers 422 with :func:`hostile_error` as Mastodon's error message."""
    double.fail(status=422, error=hostile_error(), times=1, path="/api/v1/timelines/public")
    return fediscope({**env, "FEDISCOPE_LOG_FORMAT": log_format, "FEDISCOPE_LOG_LEVEL": log_level}, "collect",
                     "--instance", double.url, "--timeline", "public")


def test_a_text_log_line_quoting_an_error_body_stays_one_line(env: dict[str, str], double: HostileDouble) -> None:
    """The failed source's line of the summary (the only line at the default level: the collector logs the same
    reason at INFO), and at INFO the collector's log line too: one line each, the body's controls escaped."""
    result = collect_failing(env, double, "text")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.lstrip().startswith("failed: ") and raw_controls(result.stderr) == []
    assert "Something went wrong\\n2026-01-01 00:00:00,000 ERROR fediscope forged log line" in line
    assert "\\rforged" in line and "\\x1b[2J" in line

    result = collect_failing(env, double, "text", log_level="INFO")
    assert result.returncode == 1 and raw_controls(result.stderr) == []
    lines = result.stderr.splitlines()
    assert all(TEXT_LOG_LINE.match(each) or each.lstrip().startswith("failed: ") for each in lines), result.stderr
    logged = [each for each in lines if TEXT_LOG_LINE.match(each) and "Something went wrong" in each]
    assert logged and all("went wrong\\n2026-01-01 00:00:00,000 ERROR fediscope forged" in each for each in logged)


def test_a_json_log_line_keeps_the_error_body(env: dict[str, str], double: HostileDouble) -> None:
    result = collect_failing(env, double, "json")
    records: list[dict[str, Any]] = [json.loads(line) for line in result.stderr.splitlines()]
    sent = "Something went wrong\n2026-01-01 00:00:00,000 ERROR fediscope forged log lineSomething went wrong\rforged"
    assert any(sent in record["message"] for record in records), records


# -- the text log format, in-process: a logged value's control characters, escaped -----------------------------------
@pytest.fixture
def text_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Logging as a command sets it up (text lines); what it wrote to stderr so far."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    root.handlers = []
    configure_logging("INFO", secrets=[SECRET])
    try:
        yield lambda: capsys.readouterr().err
    finally:
        root.handlers, root.level = saved


def test_a_logged_value_cannot_forge_a_text_log_line(text_logging: Callable[[], str]) -> None:
    log = logging.getLogger("fediscope.tests.hostile")
    sent = VARIANTS["newline"]("mastopytesttag")
    log.warning("tag %s used %d times, by %r", sent, 3, {"name": VARIANTS["cr"]("x")})
    log.warning("a message's own lines:\n%s", VARIANTS["osc52"](f"token {SECRET}"))
    try:
        raise RuntimeError(VARIANTS["csi"]("upstream said"))
    except RuntimeError:
        log.exception("the request failed")
    lines = text_logging().splitlines()
    assert lines[0].endswith("tag mastopytesttag\\n2026-01-01 00:00:00,000 ERROR fediscope forged log line used 3 "
                             "times, by {'name': 'x\\rforged'}")  # repr escapes it itself
    assert lines[1].endswith("a message's own lines:") and lines[2].startswith("token ***\\x1b]52;c;")
    assert TEXT_LOG_LINE.match(lines[3]) and lines[4] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: upstream said\\x1b[2J\\x1b[1;31m"
    assert not any(line.startswith(FORGED) for line in lines) and raw_controls("\n".join(lines)) == []
