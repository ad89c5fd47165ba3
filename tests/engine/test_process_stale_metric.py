"""A stored metric this version cannot decode (a column missing from its table, a value its column's type cannot
hold: changed by hand, or as when another fediscope version stored it) is stored again by the next ``fediscope
process`` that compares it with the store in full (its kept results forgotten, as an erasure does), as every read of
it says to do (:func:`fediscope.analysis.stale_metric_message`). Was: process failed reading the table it would
update (``could not read metric_…: no such column``; a text value in an integer key: a raw ``ValueError``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from engine_data import settings_for
from sqlalchemy import create_engine, text

from fediscope.analysis import run_analyses, stale_as_store_error
from fediscope.config import Settings
from fediscope.engine.metric_state import forget
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.engine.process import run_process
from fediscope.errors import StoreError
from fediscope.lake.local import LocalLake
from fediscope.store.port import mysql_url, store_from_settings
from fediscope.store.sqlite import sqlite_file

#: account_engagement: key account_key, ranked by interactions_total; activity_by_hour: key (weekday, hour), integers
NAMES = ("account_engagement", "activity_by_hour")
#: what is changed by hand: the statements, and which stores can hold the change (MariaDB refuses text in a BIGINT).
#: Text in a column not of the key was rewritten already: the comparison finds the row changed
#: (tests/gdpr/test_gdpr_stale_metric.py).
DAMAGE = {
    "column-missing": (["ALTER TABLE metric_account_engagement DROP COLUMN toots"], ("sqlite", "mariadb")),
    "text-in-an-integer-key": (["UPDATE metric_activity_by_hour SET hour = 'noon' WHERE hour = 12"], ("sqlite",)),
}
CASES = [pytest.param(store, damage, id=f"{store}-{damage}",
                      marks=[pytest.mark.mariadb] if store == "mariadb" else [])
         for damage, (_, stores) in DAMAGE.items() for store in stores]


def _metrics() -> dict[str, Metric]:
    every = load_metrics()
    return {name: every[name] for name in NAMES}


@pytest.fixture
def settings(request: pytest.FixtureRequest, corpus_lake: Path, tmp_path: Path) -> Settings:
    if request.param == "mariadb":
        return settings_for(corpus_lake, store=request.getfixturevalue("mariadb_url"))
    return settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'metrics.db'}")


def _change_by_hand(settings: Settings, statements: list[str]) -> None:
    path = sqlite_file(settings.store)
    engine = create_engine(f"sqlite:///{path}" if path else mysql_url(settings.store))
    with engine.begin() as connection:
        for statement in statements:
            assert connection.execute(text(statement)).rowcount != 0 or "ALTER" in statement, statement
    engine.dispose()


def _contents(settings: Settings) -> dict[str, Any]:
    """Each metric's rows in top order and its column types; a stale metric's read raises the shared wording."""
    store = store_from_settings(settings, read_only=True)
    try:
        found: dict[str, Any] = {}
        for name, metric in _metrics().items():
            with stale_as_store_error(name):
                found[name] = (store.top(metric, 10_000), store.column_types(name))
        return found
    finally:
        store.close()


@pytest.mark.parametrize(("settings", "damage"), CASES, indirect=["settings"])
def test_process_stores_again_a_metric_it_cannot_decode_when_it_compares_in_full(
        settings: Settings, damage: str, corpus_lake: Path, tmp_path: Path) -> None:
    run_process(settings, progress=False, metrics=_metrics())
    _change_by_hand(settings, DAMAGE[damage][0])
    with pytest.raises(StoreError, match="in the store does not have what this fediscope version reads"):
        _contents(settings)
    forget(LocalLake(corpus_lake))  # the kept results gone (as an erasure leaves them): the store compared in full

    again = run_process(settings, progress=False, metrics=_metrics())
    assert not again.metrics_skipped and all(not m.reused for m in again.metrics.values())

    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    run_process(full, progress=False, metrics=_metrics())
    assert _contents(settings) == _contents(full)
    store = store_from_settings(settings, read_only=True)
    try:
        assert not run_analyses(store).failed  # the report reads it
    finally:
        store.close()
    # and current again: the next run recomputes nothing
    assert run_process(settings, progress=False, metrics=_metrics()).metrics_skipped


def _edited(metric: Metric) -> Metric:
    """``metric`` with SQL of another fingerprint and other rows: every toot count one more."""
    sql = metric.sql.replace("count(*) AS toots", "count(*) + 1 AS toots")
    assert sql != metric.sql
    return replace(metric, sql=sql)


@pytest.mark.parametrize("settings", [pytest.param("sqlite", id="sqlite"),
                                      pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)],
                         indirect=True)
def test_process_stores_again_a_metric_missing_a_column_when_it_writes_only_what_changed(
        settings: Settings, corpus_lake: Path, tmp_path: Path) -> None:
    """Its kept results still match the store (a change by hand leaves the generation as it was), so process writes
    only the rows that differ from them, into a table without a column they have. Was: ``table … has no column
    named toots`` (MariaDB: ``Unknown column``), the run failed; now that write gives way to the full one above."""
    run_process(settings, progress=False, metrics=_metrics())
    _change_by_hand(settings, DAMAGE["column-missing"][0])
    edited = {**_metrics(), "account_engagement": _edited(_metrics()["account_engagement"])}

    again = run_process(settings, progress=False, metrics=edited)
    assert not again.metrics["account_engagement"].reused

    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    run_process(full, progress=False, metrics=edited)
    assert _contents(settings) == _contents(full)
