"""Records a failed try landed under another spelling of an account source are still announced once the spellings
are one source.

Before the fold (fediscope/sources/spellings.py) ``account:user`` and ``account:user@<the instance's domain>`` were
two ingest tasks, each with its own checkpoint and, after a try that failed having landed records, its own
``_state/<domain>/unannounced/<source>.json`` (what the next try that succeeds announces in its Asset event). The
first run of the folded task adopts the spelling's state (fediscope.lake.state.adopt_spelling). Was: the bare
source had a checkpoint of its own, so the spelling's files were all deleted as "merged" — its unannounced count
too, which is no position in the timeline the bare checkpoint covers: the records it counted were never announced
(a task with nothing new is skipped and emits no event).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from doubles.mastodon_server import MastodonDouble

from fediscope import orchestration as orch
from fediscope.lake.layout import state_path
from fediscope.lake.local import LocalLake
from fediscope.lake.state import Checkpoint, checkpoint_source, write_state
from fediscope.privacy import policy_from_settings

PSEUDONYM = "orchestration-unannounced-spelling-key-0123456789"


@pytest.fixture(autouse=True)
def _no_local_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # load_settings reads ./fediscope.toml


@pytest.fixture
def home() -> Iterator[MastodonDouble]:
    with MastodonDouble(statuses=30) as double:
        yield double


@pytest.mark.parametrize("own", [0, 3], ids=["moved", "added"])
@pytest.mark.parametrize("privacy", [True, False])
def test_a_spellings_unannounced_records_are_announced_by_the_folded_task(
        home: MastodonDouble, tmp_path: Path, privacy: bool, own: int) -> None:
    """Moved to the bare source's name, or added to the records its own file counts (``own``)."""
    user = next(s["account"]["acct"] for s in home.public_statuses() if "@" not in s["account"]["acct"])
    overrides = {"lake": str(tmp_path / "lake"), "privacy": privacy, "max_retries": 0, "request_timeout": 3,
                 "sources": [{"instance": home.url, "timelines": [f"account:{user}", f"account:{user}@{home.domain}"]}]}
    settings = orch.settings_from_overrides(overrides, env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM} if privacy else {})
    (target,) = orch.collection_targets(settings)
    assert target["source"] == f"account:{user}"
    assert orch.new_records(orch.collect_target(settings, target, 5)) > 0  # the bare source's own checkpoint
    # as an earlier fediscope's task of the other spelling left it: 7 records landed by a try that failed
    policy = policy_from_settings(settings) if privacy else None
    lake = LocalLake(tmp_path / "lake")
    spelling = state_path(home.domain, checkpoint_source(f"account:{user}@{home.domain}", policy),
                          orch.UNANNOUNCED_PASS)
    write_state(lake, spelling, Checkpoint(None, "2026-01-01T00:00:00+00:00", {"records": 7}))
    if own:
        write_state(lake, orch._unannounced_path(settings, target),
                    Checkpoint(None, "2026-01-01T00:00:00+00:00", {"records": own}))

    result = orch.collect_target(settings, target, 5)  # nothing new on the instance

    assert result.get("unannounced") == 7 + own and orch.new_records(result) == 7 + own, result
    assert not list((tmp_path / "lake" / "_state").glob(f"*/{orch.UNANNOUNCED_PASS}/*.json"))
    assert orch.new_records(orch.collect_target(settings, target, 5)) == 0, "announced once"
