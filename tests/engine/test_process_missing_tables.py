"""A metric's table dropped by hand while the catalog still lists it: ``fediscope doctor`` FAILs naming it, and the
next ``fediscope process`` writes the metric again (every row, its tables made again), after which it reads as a
full computation leaves it. Was: doctor said OK, and process reported the metric "unchanged (not recomputed)" (its
kept results matched the catalog's generation), leaving every read of it failing on the missing table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import happybase
import pytest
from engine_data import settings_for
from sqlalchemy import create_engine, text

from fediscope.config import Settings
from fediscope.doctor import FAIL, OK, check_store
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.engine.process import run_process
from fediscope.errors import StoreError
from fediscope.store.port import mysql_url, store_from_settings
from fediscope.store.sqlite import sqlite_file

#: two ranked metrics: on HBase one loses its data table, the other its rank table
NAMES = ("account_engagement", "languages")


def _metrics() -> dict[str, Metric]:
    every = load_metrics()
    return {name: every[name] for name in NAMES}


@pytest.fixture
def settings(corpus_settings_on_every_store: Settings) -> Settings:
    return corpus_settings_on_every_store


def _drop_by_hand(settings: Settings) -> list[str]:
    """Drop tables on a connection of its own; returns their names."""
    if settings.store.startswith("hbase://"):
        prefix = settings.hbase_table_prefix
        tables = [f"{prefix}_account_engagement", f"{prefix}_languages-rank"]
        host, _, port = settings.store.removeprefix("hbase://").partition(":")
        connection = happybase.Connection(host, int(port))
        for table in tables:
            connection.delete_table(table, disable=True)
        connection.close()
        return tables
    tables = ["metric_languages"]
    path = sqlite_file(settings.store)
    engine = create_engine(f"sqlite:///{path}" if path else mysql_url(settings.store))
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {tables[0]}"))
    engine.dispose()
    return tables


def _contents(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    store = store_from_settings(settings, read_only=True)
    try:
        return {name: store.top(metric, 10_000) for name, metric in _metrics().items()}
    finally:
        store.close()


def test_doctor_fails_on_a_dropped_table_and_process_writes_the_metric_again(
        settings: Settings, corpus_lake: Path, tmp_path: Path) -> None:
    run_process(settings, progress=False, metrics=_metrics())
    assert check_store(settings).status == OK
    dropped = _drop_by_hand(settings)

    check = check_store(settings)
    assert check.status == FAIL, check
    assert all(table in check.detail for table in dropped) and "fediscope process" in check.fix, check
    with pytest.raises(StoreError, match="|".join(map(re.escape, dropped))):  # what report stops at
        _contents(settings)

    again = run_process(settings, progress=False, metrics=_metrics())
    assert not again.metrics_skipped
    for name, result in again.metrics.items():
        if name == "languages" or settings.store.startswith("hbase://"):
            assert not result.reused and result.stored == result.rows > 0, (name, result)
    assert check_store(settings).status == OK
    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    run_process(full, progress=False, metrics=_metrics())
    assert _contents(settings) == _contents(full)
    # and current again: the next run recomputes nothing
    assert run_process(settings, progress=False, metrics=_metrics()).metrics_skipped
