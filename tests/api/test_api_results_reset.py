"""A store reset under a running API: its tables dropped (the catalog too), then loaded again by the next
``fediscope process``. The API reads it as it is at each request, without a restart, on every store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from api_testing import LiveApi, assert_error, make_settings
from doubles.stores import _drop_hbase_tables
from sqlalchemy import MetaData, create_engine

from fediscope.analysis import metric
from fediscope.store.port import MetricStore, open_store


def reset(store: MetricStore) -> None:
    """Drop every table of the store, as an operator emptying it does (the catalog included)."""
    if store.kind.startswith("hbase"):  # type: ignore[attr-defined]
        address = urlsplit(store.url)
        _drop_hbase_tables(address.hostname or "", address.port or 9090, store.prefix)  # type: ignore[attr-defined]
        return
    engine = create_engine(store.url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        assert "fediscope_catalog" in tables.tables
        tables.drop_all(engine)
    finally:
        engine.dispose()


def load_again(store: MetricStore, rows: list[dict[str, Any]]) -> None:
    """What the next ``fediscope process`` does: open the store for writing (the catalog is created) and load."""
    options = {"table_prefix": store.prefix} if store.kind.startswith("hbase") else {}  # type: ignore[attr-defined]
    writer = open_store(store.url, **options)
    try:
        writer.write(metric("languages"), rows)
    finally:
        writer.close()


def test_a_store_reset_and_loaded_again_is_read_without_a_restart(
        metric_store: MetricStore, live_api: Callable[..., LiveApi],
        sample_metric_rows: dict[str, list[dict[str, Any]]]) -> None:
    """Was: the read-only store remembered that the catalog existed once it had seen it, so after a reset every
    results request answered 503 store_unavailable (the catalog read failed on the missing table) until the
    catalog was created again, instead of what a store without a catalog holds: nothing."""
    rows = sample_metric_rows["languages"]
    metric_store.write(metric("languages"), rows)
    api = live_api(make_settings(store=metric_store.url,
                                 hbase_table_prefix=getattr(metric_store, "prefix", "fediscope")))
    assert api.get("/v1/metrics/languages").json()["count"] == min(len(rows), 100)

    reset(metric_store)
    for _ in range(2):  # and again: the catalog is looked for at each request while it is missing
        listed = api.get("/v1/metrics")
        assert listed.status_code == 200, listed.text
        assert not any(m["stored"] for m in listed.json()["metrics"])
        assert_error(api.get("/v1/metrics/languages"), 404, "not_stored")
        assert_error(api.get("/v1/analyses/languages"), 404, "not_stored")

    load_again(metric_store, rows[:3])
    body = api.get("/v1/metrics/languages").json()
    assert body["count"] == 3
    assert {m["name"]: m["rows"] for m in api.get("/v1/metrics").json()["metrics"]}["languages"] == 3
