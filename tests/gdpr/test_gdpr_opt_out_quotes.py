"""Opt-outs honoured backwards for an account the lake holds only inside other people's quote posts.

Was: the next curation looked for a noted account among the curated accounts and the owners of raw records not
curated yet, so an account that the lake held only as the author of a status someone quoted was never erased:
its quoted status stayed inside those records. REAL recorded quote: admin quotes a status of mastodonpy_test
(``test_status_quote_revoke.json``); only admin's quote post is landed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from gdpr_lake import LOCAL, RECORDINGS

from fediscope.engine.process import run_process
from fediscope.gdpr.opt_outs import note_opt_outs, pending_opt_outs
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import raw_batch_files, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import ERASED


def _quote_post() -> tuple[dict, dict]:
    """(the quoted status, the status quoting it), as the recorded server answered their creation."""
    interactions = json.loads((RECORDINGS / "test_status_quote_revoke.json").read_text())["interactions"]
    original, quoting = (i["response"]["body"] for i in interactions[:2])
    assert quoting["quote"]["quoted_status"]["id"] == original["id"] != quoting["id"]
    assert quoting["account"]["acct"] != original["account"]["acct"]
    return original, quoting


def _raw_bytes(env) -> bytes:  # noqa: ANN001
    return b"".join(env.lake.read(path) for path in raw_batch_files(env.lake))


def _curated_statuses(lake_dir: Path) -> list[dict]:
    return [row for f in sorted((lake_dir / "curated" / "statuses").rglob("*.parquet"))
            for row in pq.read_table(f).to_pylist()]


@pytest.mark.parametrize("curated_before", [True, False], ids=["curated", "not-curated-yet"])
def test_an_account_only_quoted_in_the_lake_loses_its_quoted_status(env, curated_before: bool) -> None:  # noqa: ANN001
    original, quoting = _quote_post()
    quoted_key = env.policy.account_key(original["account"]["acct"], LOCAL)
    quoting_key = env.policy.account_key(quoting["account"]["acct"], LOCAL)
    fetched = datetime.now(UTC)
    landed = env.policy.apply("statuses", quoting, LOCAL)
    assert landed["quote"]["quoted_status"]["account"]["acct"] == quoted_key
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", landed,
                                                       fetched_at=fetched)], fetched_at=fetched)
    if curated_before:
        run_process(env.settings, progress=False)
        assert [r["quoted_account_key"] for r in _curated_statuses(env.lake_dir)] == [quoted_key]
    assert quoted_key.encode() in _raw_bytes(env)

    note_opt_outs(env.lake, [quoted_key], "collect")
    summary = run_process(env.settings, progress=False)

    assert summary.curate["opted_out_erased"] == 1
    assert quoted_key.encode() not in _raw_bytes(env)  # the quoted status is gone from the quote post
    rows = _curated_statuses(env.lake_dir)
    assert [r["account_key"] for r in rows] == [quoting_key]  # the quote post itself stays
    assert rows[0]["quoted_account_key"] in (None, ERASED)
    assert quoted_key not in load_suppressed(env.lake)  # an opt-out, not an erasure request
    assert pending_opt_outs(env.lake) == (set(), [])
    assert run_process(env.settings, progress=False).curate["opted_out_erased"] == 0
