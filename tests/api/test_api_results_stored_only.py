"""A metric the store holds whose SQL file is gone (deleted, or an own metric of a ``FEDISCOPE_METRICS_DIR`` not
set for the API process) is the results routes' too, as ``fediscope report`` shows it: ``GET /v1/metrics`` lists it
with ``"sql_file": false``, and ``/v1/metrics/<name>`` serves its rows (paging, prefix) by the key, rank and
prefix the store recorded at its last write. A name the store does not hold either stays 404 ``unknown_metric``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_testing import LiveApi, assert_error, make_settings
from cli_run import clean_env, run

import fediscope.engine.metrics as registry
from fediscope import analysis
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.store.port import MetricStore, open_store

NAME = "tag_uses"
QUESTION = "How often is each tag used each day?"
#: an own metric keyed by (tag, day), ranked by uses, prefix-read by day (not its first key column): the API must
#: read it by what the store recorded, as nothing else defines it once its file is gone
OWN = f"""-- question: {QUESTION}
-- key: tag, day
-- rank: uses DESC
-- prefix: day
SELECT tag, day, uses, mean FROM hashtags
"""
ROWS = [{"tag": tag, "day": day, "uses": uses, "mean": mean}
        for tag, day, uses, mean in [("a", "2024-01-01", 5, 0.5), ("b", "2024-01-01", 9, 1.25),
                                     ("c", "2024-01-02", 5, None), ("d", "2024-01-02", None, 2.0),
                                     ("e", "2024-01-03", 1, 0.004), ("f", "2024-01-03", 9, 3.0),
                                     ("g", "2024-01-01", 2, 7.5)]]
#: rank order: uses desc, ties by key, rows without a rank value last
RANKED = [*sorted((r for r in ROWS if r["uses"] is not None), key=lambda r: (-r["uses"], r["tag"], r["day"])),
          *(r for r in ROWS if r["uses"] is None)]
LANGUAGES = [{"language": "en", "toots": 2, "share": 1.0}]  # one analysis' metric, whose file is there


@pytest.fixture
def own_dir(tmp_path: Path) -> Iterator[Path]:
    """A FEDISCOPE_METRICS_DIR holding the own metric's file."""
    directory = tmp_path / "own"
    directory.mkdir()
    (directory / f"{NAME}.sql").write_text(OWN, encoding="utf-8")
    registry.load_metrics.cache_clear()
    yield directory
    registry.load_metrics.cache_clear()


def own_metric(own_dir: Path) -> Metric:
    return load_metrics(own_dir=own_dir)[NAME]


def write(store: MetricStore, own: Metric) -> None:
    """What ``fediscope process`` stores with the own metric's file in place."""
    store.write(own, ROWS)
    store.write(analysis.metric("languages"), LANGUAGES)


@pytest.fixture
def sqlite_url(tmp_path: Path, own_dir: Path) -> str:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        write(store, own_metric(own_dir))
    finally:
        store.close()
    return url


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def every_row(api: LiveApi, limit: int, **params: str) -> list[dict[str, Any]]:
    """Every row of the metric, following ``next.after`` from the first page."""
    rows: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(len(ROWS) + 1):  # bounded: a walk that never ends fails
        page = ok(api.get(f"/v1/metrics/{NAME}", params={"limit": str(limit), **params,
                                                           **({"after": after} if after else {})}))
        assert page["metric"] == NAME and page["question"] == QUESTION
        rows.extend(page["rows"])
        if page["next"] is None:
            return rows
        after = page["next"]["after"]
    pytest.fail("the pages never ended")


def assert_listed_without_file(api: LiveApi) -> None:
    listed = {m["name"]: m for m in ok(api.get("/v1/metrics"))["metrics"]}
    assert listed[NAME] == {"name": NAME, "question": QUESTION, "key": ["tag", "day"], "prefix": "day",
                            "rank": {"column": "uses", "order": "desc"}, "timestamps": [], "stored": True,
                            "rows": len(ROWS), "sql_file": False}
    assert listed["languages"]["sql_file"] is True and listed["languages"]["rows"] == 1
    assert listed["top_toots"]["sql_file"] is True and listed["top_toots"]["stored"] is False
    names = [m["name"] for m in ok(api.get("/v1/metrics"))["metrics"]]
    assert names == sorted(names) and set(names) == {*load_metrics(), NAME}


@pytest.mark.parametrize("gone", ["deleted", "metrics_dir_not_set"])
def test_a_stored_metric_without_its_file_is_listed_and_served_as_the_report_shows_it(
        gone: str, tmp_path: Path, own_dir: Path, sqlite_url: str, live_api: Callable[..., LiveApi],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: 404 unknown_metric, and missing from the list, though `fediscope report` shows it."""
    if gone == "deleted":
        (own_dir / f"{NAME}.sql").unlink()
        settings = make_settings(store=sqlite_url, metrics_dir=own_dir)
    else:  # the file is there, but the API is not told where
        settings = make_settings(store=sqlite_url)
    registry.load_metrics.cache_clear()
    api = live_api(settings)
    assert_listed_without_file(api)

    clean_env(tmp_path, monkeypatch)
    code, out, err = run(capsys, "report", "--store", sqlite_url, "--format", "json", "--no-charts")
    assert code == 0, err
    reported = json.loads(out)["other_metrics"][NAME]["rows"]
    assert reported == RANKED
    assert every_row(api, 3) == reported  # three pages, by the recorded rank
    first = ok(api.get(f"/v1/metrics/{NAME}", params={"limit": "2"}))
    assert first["order"] == "rank" and first["prefix"] is None and first["rows"] == reported[:2]
    assert f"/v1/metrics/{NAME}?limit=2&after=" in api.get(f"/v1/metrics/{NAME}", params={"limit": "2"}).headers[
        "Link"]


def test_a_stored_metric_without_its_file_is_read_by_its_recorded_prefix(sqlite_url: str,
                                                                        live_api: Callable[..., LiveApi]) -> None:
    api = live_api(make_settings(store=sqlite_url))  # the own metric's directory not set: no file for it
    expected = sorted((r for r in ROWS if r["day"] == "2024-01-01"), key=lambda r: r["tag"])
    page = ok(api.get(f"/v1/metrics/{NAME}", params={"prefix": "2024-01-01"}))
    assert page["prefix"] == {"column": "day", "value": "2024-01-01"} and page["order"] == "key"
    assert page["rows"] == expected
    assert every_row(api, 1, prefix="2024-01-01") == expected  # paged one row at a time
    assert ok(api.get(f"/v1/metrics/{NAME}", params={"prefix": "a"}))["rows"] == []  # a tag is no day


def test_a_dropped_metric_is_unknown_again(sqlite_url: str, live_api: Callable[..., LiveApi]) -> None:
    api = live_api(make_settings(store=sqlite_url))
    assert ok(api.get(f"/v1/metrics/{NAME}"))["rows"] == RANKED
    store = open_store(sqlite_url)
    try:
        assert store.drop(NAME)
    finally:
        store.close()
    body = assert_error(api.get(f"/v1/metrics/{NAME}"), 404, "unknown_metric")
    assert "GET /v1/metrics" in body["message"]
    assert NAME not in {m["name"] for m in ok(api.get("/v1/metrics"))["metrics"]}


def test_every_store_serves_a_stored_metric_without_its_file(metric_store: MetricStore, own_dir: Path,
                                                             live_api: Callable[..., LiveApi]) -> None:
    """The rows the report gives (analysis.other_metrics, its "other_metrics" in JSON), from SQLite, MariaDB and
    the HBase Thrift double alike."""
    write(metric_store, own_metric(own_dir))
    (own_dir / f"{NAME}.sql").unlink()
    registry.load_metrics.cache_clear()
    (reported,) = analysis.other_metrics(metric_store, metric_store.stored_metrics(), None, own_dir=own_dir)
    assert reported.rows == RANKED
    api = live_api(make_settings(store=metric_store.url, metrics_dir=own_dir,
                                 hbase_table_prefix=getattr(metric_store, "prefix", "fediscope")))
    assert_listed_without_file(api)
    assert every_row(api, 3) == reported.rows
    assert every_row(api, 2, prefix="2024-01-01") == sorted(
        (r for r in ROWS if r["day"] == "2024-01-01"), key=lambda r: r["tag"])
