"""The count of records a failed ingest try landed (``_state/<domain>/unannounced/<source>.json``, kept by
:func:`fediscope.orchestration.collect_target` until a later try announces them) is named like the source's
checkpoint: for ``account:NAME`` after a keyed digest of the handle (privacy on) or the handle itself (privacy
off). ``fediscope gdpr erase`` deletes it with the checkpoint, in either case, whatever case the source was
written in, so no file of the lake names the erased account by its handle or its digest."""

from __future__ import annotations

from pathlib import Path

import pytest
from gdpr_lake import KEY, LOCAL, SUBJECT, land_recordings

from fediscope import orchestration as orch
from fediscope.config import Settings
from fediscope.errors import UpstreamError
from fediscope.gdpr.erase import erase_account
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings

USER = SUBJECT.split("@", 1)[0]


@pytest.mark.parametrize("privacy", [True, False])
@pytest.mark.parametrize("source", [f"account:{USER}", f"account_lookup:{USER.upper()}@{LOCAL}"])
def test_the_erasure_deletes_the_unannounced_count_of_the_accounts_source(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, privacy: bool, source: str) -> None:
    from fediscope.sources import collector
    from fediscope.sources.summary import CollectSummary, SourceResult

    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY,
                        privacy=privacy)
    land_recordings(open_lake(settings.lake), policy_from_settings(settings))
    monkeypatch.setattr(collector, "run_collection", lambda *a, **k: CollectSummary(
        [SourceResult(LOCAL, source, status="failed", error="HTTP 503", landed=7)]))
    other = {"instance": f"http://{LOCAL}", "source": "tag:python"}
    for target in ({"instance": f"http://{LOCAL}", "source": source}, other):
        with pytest.raises(UpstreamError):
            orch.collect_target(settings, target, 1)
    kept = {p.parent.parent.name: p for p in (lake_dir / "_state").glob(f"*/{orch.UNANNOUNCED_PASS}/*.json")}
    assert len(kept) == 1 and len(list((lake_dir / "_state").glob(f"*/{orch.UNANNOUNCED_PASS}/*.json"))) == 2
    theirs = orch._unannounced_path(settings, {"instance": f"http://{LOCAL}", "source": source})
    assert (lake_dir / theirs).exists()
    assert (USER in (lake_dir / theirs).name.lower()) is not privacy  # a digest with privacy on

    erase_account(settings, SUBJECT)

    assert not (lake_dir / theirs).exists()
    assert (lake_dir / orch._unannounced_path(settings, other)).exists(), "another source's count is kept"
