"""The refresh and settle passes on servers whose ids are text (GoToSocial's ULIDs, Pleroma's FlakeIds) land the same
statuses again as on Mastodon.

Both passes need an id "just above" or "just below" a status: on Mastodon the next snowflake, which text ids do not
have. Each test runs the same collection twice, against the recorded Mastodon double (snowflakes) and against the
same corpus served with text ids (tests/doubles/fediverse_ids.py), and compares what the pass landed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from doubles.fediverse_ids import TextIdDouble
from doubles.mastodon_server import MastodonDouble

from fediscope.config import Settings
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.summary import CollectSummary

STATUSES = 30
#: The doubles post a status a minute, the newest this long before the test starts: no status lies within
#: seconds of a window's edge (a quarter of an hour below), so the numbers compared cannot depend on timing.
OFFSET = timedelta(seconds=30)


def collect(settings: Settings, server: MastodonDouble) -> CollectSummary:
    summary = run_collection(settings, [(server.url, parse_source("public"))], progress=False)
    assert summary.ok, [r.error for r in summary.failed]
    return summary


def pass_ids(lake_dir: Path, name: str) -> list[str]:
    """The status ids a pass landed (its batch files carry ``-<name>-`` in their names)."""
    return [json.loads(line)["data"]["id"] for path in sorted((lake_dir / "raw").rglob(f"*-{name}-*.jsonl"))
            for line in path.read_text().splitlines()]


def run_twice(server: MastodonDouble, settings: Callable[[int], Settings],
              new: int) -> tuple[CollectSummary, list[str]]:
    """A first run, ``new`` statuses posted, a second run; what the second run's passes landed."""
    collect(settings(1), server)
    server.add_statuses(new)
    second = collect(settings(2), server)
    return second, pass_ids(Path(settings(2).lake), "refresh") + pass_ids(Path(settings(2).lake), "settle")


def both_servers(kind: str, tmp_path: Path, make_settings: Callable[..., Settings],
                 settings: Callable[[int], dict[str, Any]], new: int = 0
                 ) -> tuple[tuple[CollectSummary, list[str]], tuple[CollectSummary, list[str]], TextIdDouble]:
    """``run_twice`` on Mastodon and on a ``kind`` server (each with its own lake); settings(run) → overrides."""
    newest_at = datetime.now(UTC) - OFFSET
    with MastodonDouble(statuses=STATUSES, newest_at=newest_at) as mastodon, \
            TextIdDouble(kind, statuses=STATUSES, newest_at=newest_at) as text:
        numbers = run_twice(mastodon, lambda run: make_settings(lake=str(tmp_path / "numbers"), **settings(run)),
                            new)
        texts = run_twice(text, lambda run: make_settings(lake=str(tmp_path / kind), **settings(run)), new)
        return numbers, texts, text


@pytest.mark.parametrize("kind", ["ulid", "flake"])
@pytest.mark.parametrize("new", [0, 3])
def test_the_refresh_pass_refreshes_the_same_statuses_as_on_mastodon(kind: str, new: int, tmp_path: Path,
                                                                   make_settings: Callable[..., Settings]) -> None:
    """The newest status below the checkpoint is refreshed too (there is no "next" text id to ask below), and
    the statuses the second run's gap walk landed (``new``) are not refreshed."""
    numbers, texts, server = both_servers(kind, tmp_path, make_settings, lambda _run: {"refresh_hours": 0.25}, new)
    (mastodon_run, refreshed), (text_run, text_refreshed) = numbers, texts
    newest_before = server.public_statuses()[new]["id"]  # the first run's checkpoint, a snowflake
    assert newest_before in refreshed and 10 < len(refreshed) <= 15  # a status a minute; opted-out ones skipped
    assert sorted(text_refreshed) == sorted(server.text(i) for i in refreshed)
    assert text_run.refreshed == mastodon_run.refreshed == len(refreshed)
    assert text_run.landed == mastodon_run.landed == new


@pytest.mark.parametrize("kind", ["ulid", "flake"])
def test_a_first_runs_young_statuses_settle_as_on_mastodon(kind: str, tmp_path: Path,
                                                          make_settings: Callable[..., Settings]) -> None:
    """A source's first run lands 15 statuses younger than settle_hours; "later" (a shorter settle_hours) they
    settle, all of them: the mark starts just below the oldest of them, for a text id at the status landed
    below it."""
    numbers, texts, server = both_servers(kind, tmp_path, make_settings,
                                          lambda run: {"settle_hours": 0.25 if run == 1 else 0.001})
    (mastodon_run, settled), (text_run, text_settled) = numbers, texts
    young = [s["id"] for s in server.public_statuses()
             if datetime.fromisoformat(s["created_at"]) > datetime.now(UTC) - timedelta(minutes=15)]
    assert 10 < len(settled) <= len(young) == 15 and set(settled) <= set(young)
    assert sorted(text_settled) == sorted(server.text(i) for i in settled)
    assert text_run.settled == mastodon_run.settled == len(settled)


@pytest.mark.parametrize("kind", ["ulid", "flake"])
def test_when_a_first_run_landed_nothing_older_only_its_oldest_status_does_not_settle(
        kind: str, tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """Every status of the first run is younger than settle_hours: on Mastodon the mark starts just below the
    oldest, for text ids (no "just below", no older status landed) at the oldest, which alone never settles."""
    numbers, texts, server = both_servers(kind, tmp_path, make_settings,
                                          lambda run: {"settle_hours": 1 if run == 1 else 0.001})
    (_mastodon_run, settled), (_text_run, text_settled) = numbers, texts
    oldest = server.public_statuses()[-1]["id"]
    assert oldest in settled and len(settled) > 20
    assert sorted(text_settled) == sorted(server.text(i) for i in settled if i != oldest)


@pytest.mark.parametrize("kind", ["ulid", "flake"])
def test_the_refresh_pass_spends_no_page_on_the_statuses_the_gap_walk_just_landed(
        kind: str, tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """More new statuses than the refresh pass has pages for (25: three pages of ten). Was, for text ids: the pass
    began at the newest page and walked down through them again, its two pages spent above the checkpoint and
    nothing refreshed; it begins below the lowest of them, as on Mastodon."""
    numbers, texts, server = both_servers(kind, tmp_path, make_settings,
                                          lambda _run: {"refresh_hours": 0.25, "refresh_max_pages": 2}, new=25)
    (mastodon_run, refreshed), (text_run, text_refreshed) = numbers, texts
    assert server.public_statuses()[25]["id"] in refreshed and 10 < len(refreshed) <= 15
    assert sorted(text_refreshed) == sorted(server.text(i) for i in refreshed)  # was: none
    assert text_run.refreshed == mastodon_run.refreshed and text_run.landed == mastodon_run.landed
    assert text_run.pages == mastodon_run.pages == 6  # the gap walk: 10, 10, 5 and an empty page; the pass: 2
