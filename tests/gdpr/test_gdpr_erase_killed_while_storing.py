"""``fediscope gdpr erase`` killed outright (SIGKILL, the OOM killer, a reboot) in its store pass, after the lake was
erased, then run again, leaves the store as an uninterrupted erasure does.

The store removes a metric's rows in one transaction and records the metric's row count and a new generation in its
catalog (``fediscope_catalog``) in the next (:meth:`~fediscope.store.base.BaseStore.delete_where`, and a deletion by
key, :meth:`~fediscope.store.base.BaseStore.write_changes`, mark the generation provisional first). Killed in between,
the rows are gone but the catalog keeps the count of before and a provisional generation (the generation of before,
when an older fediscope deleted them).
Was: the run again found none of the account's rows left — no row of it stayed — so it wrote nothing, and the
catalog, ``fediscope report`` and the results API's cursors kept the stale count and generation until the next
``fediscope process``.

The real CLI runs in a child process that ends with ``os._exit`` just before the store records a chosen metric's
deletions (no clean-up of any kind runs: the lake lock stays, the SQLite store stays in WAL mode), so the kill
point is deterministic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_run import clean_env, run
from gdpr_lake import BY_ID, KEY, SUBJECT, files_holding, processed_twins, raw_records, store_files, store_rows

from fediscope.config import Settings
from fediscope.gdpr.resume import TRACES_PATH
from fediscope.privacy import policy_from_settings
from fediscope.store.base import PROVISIONAL
from fediscope.store.port import open_store

LOCK = "_state/process.lock"

# The real entry point, dying just before the store records the first change of the metric named first: after the
# metric's rows were deleted, before its catalog entry says so.
KILLED_BEFORE_A_COMMIT = textwrap.dedent("""
    import os, sys
    from fediscope.cli import main
    from fediscope.store.base import BaseStore

    METRIC, real = sys.argv[1], BaseStore._commit

    def commit(self, schema, *args, **kwargs):
        if schema.metric == METRIC:
            os._exit(137)
        return real(self, schema, *args, **kwargs)

    BaseStore._commit = commit
    main(sys.argv[2:])
""")


def _erase(settings: Settings, *hook: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_LAKE=settings.lake, FEDISCOPE_STORE=settings.store)
    command = ["-c", KILLED_BEFORE_A_COMMIT, *hook] if hook else ["-m", "fediscope"]
    return subprocess.run([sys.executable, *command, "gdpr", "erase", "--account", SUBJECT, "--yes", "--json",
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=300)


def _catalog(settings: Settings) -> tuple[dict[str, int], dict[str, str | None]]:
    """Every listed metric's row count and generation, as the catalog records them."""
    store = open_store(settings.store)
    try:
        return store.stored_metrics(), store.generations()
    finally:
        store.close()


def _report(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> dict:
    with monkeypatch.context() as shell:
        clean_env(tmp_path, shell, FEDISCOPE_STORE=settings.store)
        code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    document = json.loads(out)
    document.pop("store")  # the store's URL
    return document


@pytest.mark.parametrize("metric", ["top_toots", BY_ID.name], ids=["deleted-by-account", "deleted-by-status-id"])
def test_an_erasure_killed_while_storing_and_run_again_leaves_the_store_as_an_uninterrupted_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], metric: str) -> None:
    killed, clean = processed_twins(tmp_path)
    before = _catalog(clean)
    assert _erase(clean).returncode == 0

    stopped = _erase(killed, metric)
    assert stopped.returncode == 137, stopped.stderr
    lake = Path(killed.lake)
    assert (lake / LOCK).exists() and (lake / TRACES_PATH).exists()  # killed outright, the erasure unfinished
    assert raw_records(killed) == raw_records(clean)  # in its store pass: the lake was erased already
    again = _erase(killed)
    assert again.returncode == 0, again.stderr

    assert store_rows(killed) == store_rows(clean)  # none of the account's rows stayed, none else went
    key = policy_from_settings(killed).account_key(SUBJECT)
    assert not files_holding(store_files(Path(killed.store.removeprefix("sqlite:///"))), [key])
    (counts, generations), (clean_counts, clean_generations) = _catalog(killed), _catalog(clean)
    assert counts == clean_counts
    changed = {name for name, generation in clean_generations.items() if generation != before[1][name]}
    assert metric in changed
    assert {name for name, generation in generations.items() if generation != before[1][name]} == changed
    assert not [name for name, generation in generations.items() if (generation or "").startswith(PROVISIONAL)]
    assert _report(killed, tmp_path, monkeypatch, capsys) == _report(clean, tmp_path, monkeypatch, capsys)
