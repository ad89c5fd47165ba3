"""infra/systemd cannot run here (no systemd), so its unit is checked against the command it starts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from fediscope.cli.stream import stream
from fediscope.sources.spec import parse_source

UNIT = Path(__file__).resolve().parents[2] / "infra" / "systemd" / "fediscope-stream@.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive in systemd
    parser.read_string(UNIT.read_text())
    return parser


def test_the_stream_unit_starts_a_valid_fediscope_stream_command() -> None:
    service = _unit()["Service"]
    defaults = dict(item.split("=", 1) for item in service["Environment"].split())
    argv = shlex.split(service["ExecStart"].replace("%i", "mastodon.social"))
    assert argv[0].endswith("/fediscope") and argv[1] == "stream"
    args = [defaults.get(a[2:-1], a) if a.startswith("${") else a for a in argv[2:]]
    context = stream.make_context("stream", args)  # raises on an option the command does not have
    assert context.params["instance"] == "https://mastodon.social"
    assert [parse_source(t).name for t in context.params["timelines"]] == ["public"]
    assert context.params["duration"] is None  # a service runs until stopped
    # a stop lands what was received: SIGTERM is what the command handles, within the stop timeout
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 10
    assert service["Restart"] == "always"
    assert not any(name.startswith("FEDISCOPE_") for name in defaults)  # not mistaken for a fediscope setting
