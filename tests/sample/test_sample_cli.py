"""``fediscope sample-instance``: help, serving until interrupted, clear errors."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fediscope.cli import cli
from fediscope.sample.instance import SampleInstance
from fediscope.sample.paging import PageRequest
from fediscope.sample.server import SampleServer

FEDISCOPE = [sys.executable, "-c", "from fediscope.cli import main; main()"]


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(cli, ["sample-instance", "--help"])
    assert result.exit_code == 0
    for option in ("--statuses", "--seed", "--port", "--host", "--grow", "--end", "--enforce-rate-limit"):
        assert option in result.output


def test_serves_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen([*FEDISCOPE, "sample-instance", "--statuses", "120", "--port", "0", "--seed", "3"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = process.stdout.readline().strip()
        assert "120 statuses" in banner and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/api/v1/timelines/public?limit=3", timeout=10) as reply:
            assert len(json.loads(reply.read())) == 3
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([*FEDISCOPE, "sample-instance", "--statuses", "10", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr


def test_bad_end_is_refused() -> None:
    result = CliRunner().invoke(cli, ["sample-instance", "--end", "yesterday-ish"])
    assert result.exit_code == 2 and "--end" in result.output


@pytest.mark.parametrize("end", ["20250101", "2025-W01-3", "2025-01-01 12:00", "2025-01-01T12", "2025-01-01t12:00",
                                 "2025-01-01T12:00:00", "2025-01-01T12:00+0530"])
def test_an_end_not_written_as_its_help_says_is_refused(end: str) -> None:
    """--end takes ``YYYY-MM-DD[THH:MM]`` (and an offset), as ``process --since`` takes only ``YYYY-MM-DD``. Was:
    ``datetime.fromisoformat`` read all of these (basic and week dates, a space, an hour alone, seconds) and served,
    although the error for a bad --end names only the two spellings."""
    line = run_refused("--end", end)
    assert line == (f"Error: Invalid value for --end: {end!r} is not 'now' or a date such as 2026-11-01 or "
                    "2026-11-01T12:00"), line


def test_an_end_too_early_for_the_corpus_window_is_a_usage_error() -> None:
    """Was: --end 0001-01-05 generated until the window's start overflowed: a traceback (OverflowError)."""
    result = CliRunner().invoke(cli, ["sample-instance", "--end", "0001-01-05", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "--end" in result.output and "too early" in result.output


def test_a_host_it_cannot_bind_names_the_host_as_the_fix_not_the_port() -> None:
    """Was: an unknown host name or an IPv6 address said "pick another --port"."""
    result = subprocess.run([*FEDISCOPE, "sample-instance", "--host", "::1", "--port", "0", "--statuses", "5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot listen on ::1:0" in result.stderr and "--host" in result.stderr
    assert "another --port" not in result.stderr


def run_refused(*args: str) -> str:
    """Run the real command with ``args``; it must refuse them at once: exit 2, nothing served, one error line on
    stderr (click's usage lines aside), no traceback. Returns that line. (Was: served, or hung generating.)"""
    result = subprocess.run([*FEDISCOPE, "sample-instance", "--statuses", "10", "--port", "0", *args],
                            capture_output=True, text=True, timeout=30)  # a server that starts never exits
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    return line


@pytest.mark.parametrize("rate", ["60001", "1e12", "1e300"])
def test_a_grow_rate_over_60000_per_minute_is_refused(rate: str) -> None:
    """Was: accepted; the grow thread then never slept and the corpus grew without bound (1e12: as fast as one
    thread can generate, the server starved and its memory growing ~3 MB a second, until killed)."""
    line = run_refused("--grow", rate)
    assert line.startswith("Error: Invalid value for '--grow': ") and "0<=x<=60000" in line, line


def test_a_grow_rate_of_60000_per_minute_is_served() -> None:
    from fediscope.sample import MAX_GROW_PER_MINUTE
    from fediscope.sample.instance import SampleInstance
    from fediscope.sample.server import SampleServer

    assert MAX_GROW_PER_MINUTE == 60_000
    with SampleServer(SampleInstance.generate(10, 0), grow_per_minute=60_000) as server:
        time.sleep(0.3)
        assert len(server.instance.public_timeline_ids()) > 10
    with pytest.raises(ValueError, match="between 0 and 60000"):
        SampleServer(SampleInstance.generate(10, 0), grow_per_minute=60_001)


def test_a_tiny_grow_rate_keeps_the_grow_thread_alive() -> None:
    """Was: --grow 1e-300 (one status every 6e301 s) ended the grow thread with an OverflowError traceback (no
    timeout that long can be waited); now it waits in steps, and stops at once."""
    from fediscope.sample.instance import SampleInstance
    from fediscope.sample.server import SampleServer

    server = SampleServer(SampleInstance.generate(10, 0), grow_per_minute=1e-300).start()
    try:
        time.sleep(0.3)
        (grow,) = [thread for thread in server._threads if thread.name == "sample-grow"]
        assert grow.is_alive()
    finally:
        started = time.monotonic()
        server.stop()
    assert not grow.is_alive() and time.monotonic() - started < 5


@pytest.mark.parametrize("end", ["9999-12-31", "2300-01-01T00:00", "day after tomorrow"])
def test_an_end_later_than_tomorrow_is_refused(end: str) -> None:
    """Was: served a corpus of statuses dated in the future, their snowflake ids past 64 bits from the year 6429 on,
    and the statuses --grow added got ids above them, out of step with their created_at."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    if end == "day after tomorrow":
        end = (tomorrow + timedelta(days=1)).isoformat()
    line = run_refused("--end", end)
    assert line.startswith(f"Error: Invalid value for --end: '{end}' is later than tomorrow ("), line
    assert any(f"({day.isoformat()} UTC)" in line for day in (tomorrow, tomorrow + timedelta(days=1))), line  # midnight


def test_an_end_up_to_the_last_minute_of_tomorrow_is_accepted() -> None:
    from fediscope.cli.sample import _parse_end

    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert _parse_end(f"{tomorrow.isoformat()}T23:59") == datetime.combine(tomorrow, dtime(23, 59), tzinfo=UTC)
    assert _parse_end("now") is not None and _parse_end("2020-01-01") is not None
    with pytest.raises(click.BadParameter, match="later than tomorrow"):
        _parse_end((tomorrow + timedelta(days=1)).isoformat())
    with pytest.raises(click.BadParameter, match="later than tomorrow"):  # an offset is read in UTC
        _parse_end(f"{tomorrow.isoformat()}T23:00-05:00")


def test_the_help_example_collects_the_whole_local_timeline(tmp_path: Path) -> None:
    """The help's commands, run as written (but for the port), land every local status: a first run stops at
    FEDISCOPE_BACKFILL_PAGES (10 pages by default), which would keep 400 and never collect the rest."""
    help_text = CliRunner().invoke(cli, ["sample-instance", "--help"]).output
    env = {"FEDISCOPE_LAKE": str(tmp_path / "lake"), "FEDISCOPE_PSEUDONYM_KEY": "a-test-key-" + "x" * 40}
    for name, value in re.findall(r"export (FEDISCOPE_\w+)=(\S+)", help_text):
        env.setdefault(name, value)
    statuses = re.search(r"fediscope sample-instance --statuses (\d+)", help_text)
    collect = re.search(r"fediscope (collect --instance \S+ .*)", help_text)
    assert statuses and collect
    with SampleServer(SampleInstance.generate(int(statuses.group(1)), seed=0), rate_limit=100_000) as server:
        args = collect.group(1).replace("http://127.0.0.1:8765", server.url).split()
        result = CliRunner().invoke(cli, [*args, "--json"], env=env)
        local = server.instance.public_timeline(PageRequest(limit=100_000), local=True)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert len(local) > 400 and summary["fetched"] == len(local)
    assert "backfill_cut" not in summary["sources"][0]
