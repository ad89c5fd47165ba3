"""Collecting from servers whose ids are text, end to end: GoToSocial (ULIDs), Pleroma and Akkoma (FlakeIds).

The instance is the recorded Mastodon double serving its REAL recorded statuses — a recorded reply and reblog among
them — with every id rewritten into the server's form (tests/doubles/fediverse_ids.py). Checked: the collector's
walks, checkpoints and incremental runs by text ids; curation (one row per status landed by three sources, the
reply's parent, the reblog's original); `fediscope process` and `fediscope report` over them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env, run
from collector_testing import TEST_KEY
from doubles.fediverse_ids import TextIdDouble

from fediscope.config import Settings
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import SourceRef, parse_source

STATUSES = 30


@pytest.fixture(params=["ulid", "flake"])
def server(request: pytest.FixtureRequest) -> Iterator[TextIdDouble]:
    with TextIdDouble(request.param, statuses=STATUSES) as double:
        double.add_threads()
        yield double


def targets(server: TextIdDouble) -> list[tuple[str, SourceRef]]:
    """The public timeline, the corpus's hashtag and its most frequent author: most statuses come three times."""
    statuses = server.public_statuses()
    tag = next(s["tags"][0]["name"] for s in statuses if s.get("tags"))
    author = Counter(s["account"]["acct"] for s in statuses).most_common(1)[0][0]
    return [(server.url, parse_source(spec)) for spec in ("public", f"tag:{tag}", f"account:{author}")]


def served(server: TextIdDouble) -> set[str]:
    return {server.text(s["id"]) for s in server.public_statuses()}


def test_walks_checkpoints_and_incremental_runs_by_text_ids(server: TextIdDouble,
                                                            make_settings: Callable[..., Settings], lake: Any) -> None:
    settings = make_settings(page_limit=7)
    first = run_collection(settings, targets(server), progress=False)
    assert first.ok, [r.error for r in first.failed]
    assert lake.status_ids() == served(server)
    newest = server.text(server.public_statuses()[0]["id"])
    assert lake.checkpoint(server.domain, "public")["newest_id"] == newest

    new = {server.text(s["id"]) for s in server.add_statuses(5)}
    server.log.clear()
    again = run_collection(settings, targets(server), progress=False)
    assert again.ok, [r.error for r in again.failed]
    assert {r.source: r.landed for r in again.sources}["public"] == 5
    asked = [s.params for s in server.requests_to("/api/v1/timelines/public")]
    assert asked[0].get("since_id") == newest  # the checkpoint, sent back as the instance wrote it
    assert lake.status_ids() == served(server) and new <= lake.status_ids()
    assert lake.checkpoint(server.domain, "public")["newest_id"] == max(new)

    nothing = run_collection(settings, targets(server), progress=False)
    assert nothing.ok and nothing.landed == 0


def test_curation_metrics_and_report_over_text_ids(server: TextIdDouble, make_settings: Callable[..., Settings],
                                                   lake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings()
    assert run_collection(settings, targets(server), progress=False).ok
    from fediscope.engine.base import open_engine

    with open_engine(settings, "duckdb") as engine:
        engine.curate()
        engine.register_curated_views()
        rows = engine.query_arrow("SELECT status_id, uri, in_reply_to_id, is_reply, is_reblog, reblog_of_uri "
                                  "FROM statuses").to_pylist()
    by_id = {row["status_id"]: row for row in rows}
    assert len(rows) == len(by_id) == len(served(server)) and set(by_id) == served(server)  # one row each
    assert len({row["uri"] for row in rows}) == len(rows)
    replies = [row for row in rows if row["is_reply"]]
    assert len(replies) == 1 and replies[0]["in_reply_to_id"] in by_id  # the parent, by its text id
    reblogs = [row for row in rows if row["is_reblog"]]
    assert len(reblogs) == 1
    assert reblogs[0]["reblog_of_uri"] in {row["uri"] for row in rows if not row["is_reblog"]}

    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=settings.lake, FEDISCOPE_PSEUDONYM_KEY=TEST_KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}")
    code, _, err = run(capsys, "process")
    assert code == 0, err
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts", "--top", "1000")
    assert code == 0, err
    analyses = {a["name"]: a for a in json.loads(out)["analyses"]}
    toots = analyses["top_toots"]["rows"]
    # every status but the reblog (a share event), each once
    assert sorted(row["status_uri"] for row in toots) == sorted(row["uri"] for row in rows if not row["is_reblog"])
