"""A user's own metric (``FEDISCOPE_METRICS_DIR``) holding account keys: the access export lists the account's rows
in it, and the erasure deletes them, as for a built-in metric (both read the registry with the setting)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gdpr_lake import SUBJECT

import fediscope.engine.metrics as registry
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.store.port import open_store

OWN = "toots_per_account"
OWN_SQL = ("-- question: How many toots did each account post?\n-- key: account_key\n"
           "SELECT account_key, count(*) AS toots FROM statuses GROUP BY account_key\n")


@pytest.fixture
def own_metric(landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The landed recordings processed with the built-in metrics cut to ``languages`` (no account in it) and the
    own metric of ``mine/``, keyed by account."""
    mine, built_in = tmp_path / "mine", tmp_path / "sql"
    mine.mkdir()
    built_in.mkdir()
    (mine / f"{OWN}.sql").write_text(OWN_SQL)
    shutil.copy(registry.SQL_DIR / "languages.sql", built_in)
    monkeypatch.setattr(registry, "SQL_DIR", built_in)
    registry.load_metrics.cache_clear()
    landed.settings = landed.settings.replace(metrics_dir=mine)
    run_process(landed.settings, progress=False)
    yield landed
    registry.load_metrics.cache_clear()


def _own_rows(settings) -> list[dict]:  # noqa: ANN001
    store = open_store(settings.store)
    try:
        return store.all(registry.load_metrics(own_dir=settings.metrics_dir)[OWN])
    finally:
        store.close()


def test_an_own_metrics_rows_of_the_account_are_exported_and_erased(own_metric) -> None:
    env = own_metric
    key = env.key(SUBJECT)
    assert key in {row["account_key"] for row in _own_rows(env.settings)}
    exported = export_account(env.settings, SUBJECT)
    assert [row["account_key"] for row in exported["store"][OWN]] == [key]
    report = erase_account(env.settings, SUBJECT)
    assert report.store.get(OWN) == 1, report.store
    rows = _own_rows(env.settings)
    assert rows and key not in {row["account_key"] for row in rows}
