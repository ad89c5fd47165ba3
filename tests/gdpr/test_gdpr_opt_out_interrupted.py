"""An opt-out erasure (fediscope.gdpr.opt_outs, run by the curation) stopped part-way through its curated pass.

A known gap, kept as a strict xfail so that it is seen and flips once fixed: the notes stay pending (they are deleted
only after the erasure), but the next curation erases only the noted accounts it still finds in the lake
(``_curated_account_keys``: the curated accounts table, the statuses' ``quoted_account_key``; then raw files not
curated yet). The stopped pass rewrote the curated accounts table first (tables are rewritten in path order), and the
raw lake is rewritten already, so the account is found nowhere: the notes are deleted with its curated statuses, and
the replies to them, left. A real local lake landed from the recorded Mastodon payloads, the real CLI in-process.
"""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq
import pytest
from gdpr_lake import SUBJECT, stop_after

from fediscope.gdpr.opt_outs import note_opt_outs, pending_opt_outs


def _rows(env: Any, table: str) -> list[dict[str, Any]]:
    return [row for path in sorted((env.lake_dir / "curated" / table).rglob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]


@pytest.mark.xfail(strict=True, reason="the next curation no longer finds the account: it is not erased again")
@pytest.mark.parametrize("stop", [("curated/statuses/", 0), ("curated/hashtags/", 1)],
                         ids=["before-statuses", "after-hashtags"])
def test_an_opt_out_erasure_stopped_in_its_curated_pass_is_finished_by_the_next_curation(
        landed: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch, stop: tuple[str, int]) -> None:
    env = landed
    assert run_cli("process").code == 0
    key = env.key(SUBJECT)
    ids = {row["status_id"] for row in _rows(env, "statuses") if row["account_key"] == key}
    assert ids and [row for row in _rows(env, "statuses") if row["in_reply_to_id"] in ids]  # admin's reply
    note_opt_outs(env.lake, [key], "stream")
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, *stop)
        assert run_cli("process").code == 130
    assert pending_opt_outs(env.lake)[0] == {key}  # the notes are still there for the next curation
    assert not [row for row in _rows(env, "accounts") if row["account_key"] == key]  # rewritten before the stop

    assert run_cli("process").code == 0
    assert not [row for row in _rows(env, "statuses") if row["account_key"] == key or row["in_reply_to_id"] in ids]
