"""Opt-outs honoured backwards for an account the lake holds only inside other people's quote posts.

Was: the next curation looked for a noted account among the curated accounts and the owners of raw records not
curated yet, so an account that the lake held only as the author of a status someone quoted was never erased:
its quoted status stayed inside those records. REAL recorded quote: admin quotes a status of mastodonpy_test
(``test_status_quote_revoke.json``); only admin's quote post is landed.
The access export of such an account lists the quote post as a reference.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from gdpr_lake import KEY, LOCAL, RECORDINGS

from fediscope.engine.process import run_process
from fediscope.gdpr.opt_outs import note_opt_outs, pending_opt_outs
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import raw_batch_files, write_batch
from fediscope.lake.layout import envelope


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
    # the reference is cut, as in the raw quote post (a re-curation gives NULL): no "[erased]" marker left behind
    assert rows[0]["quoted_account_key"] is None
    assert quoted_key not in load_suppressed(env.lake)  # an opt-out, not an erasure request
    assert pending_opt_outs(env.lake) == (set(), [])
    assert run_process(env.settings, progress=False).curate["opted_out_erased"] == 0


@pytest.mark.parametrize("recurate", [False, True], ids=["process", "recurate"])
def test_an_account_only_quoted_in_statuses_curated_before_the_column_is_erased(env, recurate: bool,  # noqa: ANN001
                                                                              caplog: pytest.LogCaptureFixture
                                                                              ) -> None:
    """A lake curated by a fediscope before ``quoted_account_key`` (the files lack the column): the account quoted
    only there was not found — nor by ``--recurate``, whose opt-out step also looked only at the curated column and
    the raw files not curated yet — and its note was deleted, so the opt-out was lost for good."""
    original, quoting = _quote_post()
    quoted_key = env.policy.account_key(original["account"]["acct"], LOCAL)
    fetched = datetime.now(UTC)
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public",
                                                       env.policy.apply("statuses", quoting, LOCAL),
                                                       fetched_at=fetched)], fetched_at=fetched)
    run_process(env.settings, progress=False)
    for path in (env.lake_dir / "curated" / "statuses").rglob("*.parquet"):  # as an older fediscope wrote them
        pq.write_table(pq.read_table(path).drop(["quoted_account_key"]), path)

    note_opt_outs(env.lake, [quoted_key], "collect")
    with caplog.at_level("WARNING", logger="fediscope.gdpr.opt_outs"):
        summary = run_process(env.settings, progress=False, recurate=recurate)

    assert summary.curate["opted_out_erased"] == 1
    # was "reading 1 raw statuses files for quotes of 1 noted account(s)"
    assert any("--recurate" in r.getMessage() and "reading 1 raw statuses file for quotes of 1 noted account;"
               in r.getMessage() for r in caplog.records)
    assert quoted_key.encode() not in _raw_bytes(env)
    assert [r["quoted_account_key"] for r in _curated_statuses(env.lake_dir)] == [None]
    assert pending_opt_outs(env.lake) == (set(), [])
    assert run_process(env.settings, progress=False).curate["opted_out_erased"] == 0


def test_an_unquoted_noted_account_leaves_an_old_lake_alone(env) -> None:  # noqa: ANN001
    """In a lake curated before the column, a noted account that nobody quotes is looked for in the raw statuses
    and not found: nothing is erased, nothing rewritten, and the note is applied."""
    _, quoting = _quote_post()
    fetched = datetime.now(UTC)
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public",
                                                       env.policy.apply("statuses", quoting, LOCAL),
                                                       fetched_at=fetched)], fetched_at=fetched)
    run_process(env.settings, progress=False)
    for path in (env.lake_dir / "curated" / "statuses").rglob("*.parquet"):
        pq.write_table(pq.read_table(path).drop(["quoted_account_key"]), path)
    before = _raw_bytes(env)

    note_opt_outs(env.lake, [env.policy.account_key("somebody@elsewhere.example", LOCAL)], "collect")
    summary = run_process(env.settings, progress=False)

    assert summary.curate["opted_out_erased"] == 0
    assert _raw_bytes(env) == before
    assert pending_opt_outs(env.lake) == (set(), [])


def test_a_quoted_account_is_found_and_erased_on_a_webhdfs_lake(webhdfs_server, tmp_path: Path) -> None:  # noqa: ANN001
    """On a remote lake (no local path) the curated column is read from the whole file's bytes; the other
    account's rows stay, without the reference."""
    import io

    import pyarrow as pa

    from fediscope.config import Settings
    from fediscope.gdpr.opt_outs import apply_opt_outs
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings

    settings = Settings(lake=webhdfs_server.lake_url("/data/lake", user="fediscope"),
                        store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY)
    lake, policy = open_lake(settings.lake), policy_from_settings(settings)
    original, quoting = _quote_post()
    quoted_key = policy.account_key(original["account"]["acct"], LOCAL)
    landed = policy.apply("statuses", quoting, LOCAL)
    fetched = datetime.now(UTC)
    write_batch(lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", landed, fetched_at=fetched)],
                fetched_at=fetched)
    sink = io.BytesIO()
    pq.write_table(pa.table({"uri": [landed["uri"], "urn:other"], "account_key": ["someone", "someone"],
                             "quoted_account_key": [quoted_key, None]}), sink)
    path = "curated/statuses/dt=2026-01-01/part-0.parquet"
    lake.write_atomic(path, sink.getvalue())
    note_opt_outs(lake, [quoted_key], "collect")

    report = apply_opt_outs(lake, lambda: {})  # the raw file counts as curated: found by the curated column

    assert report.erased == [quoted_key]
    rows = pq.read_table(io.BytesIO(lake.read(path))).to_pylist()
    assert [(r["uri"], r["account_key"], r["quoted_account_key"]) for r in rows] == [
        (landed["uri"], "someone", None), ("urn:other", "someone", None)]
    assert not any(quoted_key.encode() in lake.read(p) for p in raw_batch_files(lake))
    assert pending_opt_outs(lake) == (set(), [])


def test_the_access_export_of_an_account_only_quoted_names_the_quote_post_not_its_content(env) -> None:  # noqa: ANN001
    """Was: the quote post's curated row was listed under ``statuses (mentions)``, which it is not."""
    from fediscope.gdpr.export import export_account

    original, quoting = _quote_post()
    fetched = datetime.now(UTC)
    landed = env.policy.apply("statuses", quoting, LOCAL)
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", landed,
                                                       fetched_at=fetched)], fetched_at=fetched)
    run_process(env.settings, progress=False)

    exported = export_account(env.settings, f"{original['account']['acct']}@{LOCAL}")

    assert not exported["raw"]["records"] and "statuses" not in exported["curated"]  # nothing of its own
    (raw,) = exported["raw"]["references"]
    assert raw["status"] == landed["uri"] and raw["relation"] == ["quotes"]
    (curated,) = exported["curated"]["statuses (references)"]
    assert curated["uri"] == landed["uri"] and curated["relation"] == ["quoted_account_key"]
    assert set(exported["curated"]) == {"statuses (references)"}
    text = json.dumps(exported, default=str)
    assert quoting["content"] not in text and landed["account"]["acct"] not in text  # the quoter's data stays out
