"""Shared set-up of the tests that run ``fediscope process`` over a small generated lake with a registry of their
own: the lake landed as the collector would land it, and the built-in metrics cut to a few shipped ones."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

import fediscope.engine.metrics as registry


def land_generated_corpus(statuses: int, seed: int = 7) -> None:
    """A generated corpus of ``statuses`` landed in the lake of the current settings (``FEDISCOPE_*``), with their
    privacy policy."""
    from fediscope.config import load_settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    settings = load_settings()
    write_raw_lake(open_lake(settings.lake), statuses, seed=seed, policy=policy_from_settings(settings))


def shipped_metrics_dir(directory: Path, names: Iterable[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """``directory`` created, holding copies of the shipped metric files ``names``, and set as the built-in metrics'
    directory (:data:`~fediscope.engine.metrics.SQL_DIR`) with the registry's cache cleared."""
    directory.mkdir()
    for name in names:
        shutil.copy(registry.SQL_DIR / f"{name}.sql", directory)
    monkeypatch.setattr(registry, "SQL_DIR", directory)
    registry.load_metrics.cache_clear()
    return directory


def own_metric_settings(lake: Path, store: Path, key: str):  # noqa: ANN201 — fediscope.config.Settings
    """The settings of a run over ``lake`` into the SQLite store ``store``, with pseudonym key ``key``, read from
    nothing else (no environment, no fediscope.toml)."""
    from fediscope.config import load_settings

    return load_settings(env={}, toml_path=False, lake=str(lake), pseudonym_key=key, store=f"sqlite:///{store}")


def curated_generated_lake(root: Path, key: str, statuses: int = 40) -> Path:
    """A lake at ``root`` holding a small generated corpus (seed 7), curated once by DuckDB (in a second: the curated
    tables are the same for both engines), so that the Spark cases' runs have nothing to curate."""
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    settings = own_metric_settings(root, root.parent / "unused.db", key)
    write_raw_lake(open_lake(settings.lake), statuses, seed=7, policy=policy_from_settings(settings))
    with DuckDBEngine(settings) as engine:
        assert engine.curate().raw_files
    return root


def stored_rows(store: Path, metric: str, order_by: str = "instance") -> list[tuple]:
    """The rows the SQLite store ``store`` holds of ``metric``, its own columns only (not the store's ``_``-led
    ones), ordered by ``order_by``."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(store)) as db:
        columns = [r[1] for r in db.execute(f"PRAGMA table_info(metric_{metric})") if not r[1].startswith("_")]
        return db.execute(f"SELECT {', '.join(columns)} FROM metric_{metric} ORDER BY {order_by}").fetchall()


def rows_on_both_engines(lake: Path, spark, tmp_path: Path, metric: str, sql: str, key: str,  # noqa: ANN001
                         order_by: str = "instance") -> dict[str, list[tuple]]:
    """``sql`` written as the own metric ``metric`` (under ``tmp_path/mine``) and processed over ``lake`` by DuckDB
    and by Spark (the session ``spark``), each into a SQLite store of its own: the rows each stored, by engine."""
    from fediscope.engine.metrics import read_metric
    from fediscope.engine.process import run_process

    (tmp_path / "mine").mkdir(exist_ok=True)
    path = tmp_path / "mine" / f"{metric}.sql"
    path.write_text(sql)
    metrics = {metric: read_metric(path)}
    stored = {}
    for engine, options in (("duckdb", {}), ("spark", {"spark": spark})):
        store = tmp_path / f"{engine}-{metric}.db"
        run_process(own_metric_settings(lake, store, key), engine=engine, metrics=metrics, engine_options=options,
                    progress=False)
        stored[engine] = stored_rows(store, metric, order_by)
    return stored
