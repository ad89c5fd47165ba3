"""Raw batch file names, quarantine file names and the curated manifest name no status while privacy is on.

A timeline page's batch was named after the ids it was asked with (``<source>-s<since_id>-m<max_id>``,
``…-settle-n<mark>``, ``…-refresh-<run>-m<max_id>``): ``max_id`` is the oldest status of the page above, which may
be a status skipped for its author (here an account that opted out), and with its instance a status id names its
author. With privacy on the ids give way to a keyed digest of that name (still fixed per page: the kill-and-resume
tests in test_kill_resume.py prove nothing is lost or landed twice); with privacy off the names are as before.
Against the Mastodon double replaying the recorded statuses, with the walk, the settle and the refresh pass and a
quarantined page, then curated with DuckDB.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from doubles.mastodon_server import MastodonDouble
from privacy_skips import NOBOT_NOTE

from fediscope.config import Settings
from fediscope.engine.base import open_engine
from fediscope.engine.manifest import MANIFEST_PATH
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import read_batch, write_batch
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

PUBLIC = "/api/v1/timelines/public"


def _collect(settings: Settings, double: MastodonDouble) -> None:
    summary = run_collection(settings, [(double.url, parse_source("public"))], progress=False)
    assert summary.ok, summary.failed


def _curate(settings: Settings) -> None:
    with open_engine(settings, "duckdb") as engine:
        engine.curate()


def _names(root: Path) -> list[str]:
    """The path of every file of the lake (relative to its root)."""
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]


def _naming(names: list[str] | str, ids: set[str]) -> set[str]:
    text = "\n".join(names) if isinstance(names, list) else names
    return {i for i in ids if i in text}


@pytest.fixture
def double() -> Any:
    """100 recorded statuses a minute apart, the newest 30 minutes old (so the refresh and settle passes take them);
    the author of the oldest status of the first page (10 a page) opts out: the second page is asked below it."""
    with MastodonDouble(newest_at=datetime.now(UTC) - timedelta(minutes=30)) as served:
        edge = served.public_statuses()[9]
        assert served.set_account_note(edge["account"]["acct"], NOBOT_NOTE) > 0
        yield served


def test_no_status_id_in_a_batch_or_quarantine_name_or_the_manifest_with_privacy_on(
        double, make_settings, tmp_path: Path) -> None:
    on = make_settings(lake=str(tmp_path / "on"), refresh_hours=3, settle_hours=0.25)
    off = make_settings(lake=str(tmp_path / "off"), privacy=False, pseudonym_key=None, refresh_hours=3,
                        settle_hours=0.25)
    edge = double.public_statuses()[9]["id"]
    for settings in (on, off):
        double.malformed("missing_fields", after=1, path=PUBLIC)  # the second page: items quarantined
        _collect(settings, double)
    double.add_statuses(15)  # the next runs walk above the checkpoint, settle and refresh
    for settings in (on, off):
        _collect(settings, double)
        _curate(settings)
    ids = {s["id"] for s in double.public_statuses()}  # landed or skipped
    lakes = {name: Path(settings.lake) for name, settings in (("on", on), ("off", off))}
    landed = {name: {r["data"]["id"] for r in _records(root)} for name, root in lakes.items()}
    assert edge not in landed["on"] and landed["on"] == landed["off"]  # the opted-out status was skipped

    names = _names(lakes["on"])
    assert any("-refresh-" in n for n in names) and any("-settle-" in n for n in names)
    assert any(n.startswith("quarantine/") for n in names)
    assert _naming(names, ids) == set()
    assert _naming((lakes["on"] / MANIFEST_PATH).read_text(), ids) == set()
    # privacy off: the names as they were, the page below the opted-out status named after it
    off_names = _names(lakes["off"])
    assert edge in _naming(off_names, ids) and edge in _naming((lakes["off"] / MANIFEST_PATH).read_text(), ids)
    assert any(n.endswith("/public-s0-mhead.jsonl") for n in off_names)
    assert any(re.search(rf"quarantine/.*-public-s0-m{edge}\.json$", n) for n in off_names)
    shape = sorted(_kinds(names)), sorted(_kinds(off_names))
    assert shape[0] == shape[1]  # one file per page either way


def _records(root: Path) -> list[dict[str, Any]]:
    lake = open_lake(str(root))
    return [r for p in (root / "raw").rglob("*.jsonl") for r in read_batch(lake, str(p.relative_to(root)))]


def _kinds(names: list[str]) -> list[str]:
    """What each raw or quarantine file is, without its name: its directory and pass."""
    out = []
    for name in names:
        if name.startswith(("raw/", "quarantine/")):
            kind = "refresh" if "-refresh-" in name else "settle" if "-settle-" in name else "walk"
            out.append(f"{name.rsplit('/', 2)[0]} {kind}")
    return out


def test_old_and_new_names_in_one_partition_are_curated_once(double, make_settings, lake_dir: Path) -> None:
    """A lake an older fediscope collected keeps its names; a page it landed and the new collector lands again
    (a walk resumed across the upgrade) sits twice in the partition, under both names, and is curated once."""
    settings = make_settings()
    _collect(settings, double)
    lake = open_lake(str(lake_dir))
    batches = sorted((lake_dir / "raw").rglob("*.jsonl"))
    assert batches and all(re.fullmatch(r"public-[0-9a-f]{16}\.jsonl", p.name) for p in batches)
    page = batches[0]
    records = list(read_batch(lake, str(page.relative_to(lake_dir))))
    old = f"public-s0-m{records[-1]['data']['id']}"  # as an older fediscope named a page
    at = datetime.fromisoformat(records[0]["meta"]["fetched_at"].replace("Z", "+00:00"))
    old_path = write_batch(lake, "statuses", double.domain, records, fetched_at=at, batch_id=old)
    assert old_path is not None and (lake_dir / old_path).parent == page.parent

    _curate(settings)

    with open_engine(settings, "duckdb") as engine:
        engine.register_curated_views()
        rows = engine.query_arrow("SELECT status_id, count(*) AS n FROM statuses GROUP BY status_id").to_pylist()
    assert {r["status_id"] for r in rows} == {r["data"]["id"] for r in _records(lake_dir)}
    assert {r["n"] for r in rows} == {1}
    manifest = (lake_dir / MANIFEST_PATH).read_text()
    assert old_path in manifest and str(page.relative_to(lake_dir)) in manifest
