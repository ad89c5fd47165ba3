"""Paging through a metric's rows with ``after``: every row of a metric larger than a page (1,000 rows at most)
arrives once, in order, by following ``next.after`` (or the ``Link: rel="next"`` header) until it is null, on
every store; bad cursors are 400 and a cursor of a metric written again since is 409.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from api_testing import LiveApi, assert_error, make_settings

from fediscope.analysis import metric
from fediscope.store.port import MetricStore, open_store

ROWS = 2500  # two and a half pages of the largest limit


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def accounts(sample: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ROWS accounts shaped as the pipeline's (the sample corpus's rows with more keys): many followers counts
    shared (ties broken by key) and some unknown (NULL: last)."""
    rows = []
    for i in range(ROWS):
        row = dict(sample[i % len(sample)], account_key=f"{sample[i % len(sample)]['account_key'][:20]}{i:05d}")
        row["followers_count"] = None if i % 17 == 0 else (row["followers_count"] or 0) % 500
        rows.append(row)
    return rows


def daily(sample: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1,200 tags on one day, 30 on each of two others."""
    days = {"2026-11-01": 1200, "2026-10-31": 30, "2026-11-02": 30}
    return [dict(sample[i % len(sample)], day=day, tag=f"{sample[i % len(sample)]['tag'][:20]}{i:04d}")
            for day, count in days.items() for i in range(count)]


def walk(api: LiveApi, path: str, **params: str) -> list[dict[str, Any]]:
    """Every page from the first, following next.after, checking the Link header says the same."""
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        response = api.get(path, params={**params, **({"after": after} if after else {})})
        body = ok(response)
        pages.append(body)
        assert len(pages) < 100, "paging does not end"
        if body["next"] is None:
            assert "Link" not in response.headers
            return pages
        after = body["next"]["after"]
        link = urlsplit(response.links["next"]["url"])
        assert link._replace(query="").geturl() == api.url + path
        assert parse_qs(link.query) == {name: [value] for name, value in {**params, "after": after}.items()}


def ranked_keys(rows: list[dict[str, Any]]) -> list[str]:
    present = sorted((r for r in rows if r["followers_count"] is not None), key=lambda r: r["account_key"])
    present.sort(key=lambda r: r["followers_count"], reverse=True)
    return [r["account_key"] for r in present] + sorted(r["account_key"] for r in rows
                                                        if r["followers_count"] is None)


@pytest.fixture
def big_store(tmp_path: Path, sample_metric_rows: dict[str, list[dict[str, Any]]]) -> str:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    store = open_store(url)
    try:
        store.write(metric("top_accounts_by_followers"), accounts(sample_metric_rows["top_accounts_by_followers"]))
        store.write(metric("hashtags_daily"), daily(sample_metric_rows["hashtags_daily"]))
    finally:
        store.close()
    return url


@pytest.fixture
def big_api(big_store: str, live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api(make_settings(store=big_store))


def test_every_row_of_a_ranked_metric_arrives_once_in_order(metric_store: MetricStore,
                                                            live_api: Callable[..., LiveApi],
                                                            sample_metric_rows: dict[str, list[Any]]) -> None:
    """Was: a metric's route gave its first 1,000 rows at most, and no way to read the rest."""
    rows = accounts(sample_metric_rows["top_accounts_by_followers"])
    metric_store.write(metric("top_accounts_by_followers"), rows)
    api = live_api(make_settings(store=metric_store.url,
                                 hbase_table_prefix=getattr(metric_store, "prefix", "fediscope")))
    pages = walk(api, "/v1/metrics/top_accounts_by_followers", limit="1000")
    assert [p["count"] for p in pages] == [1000, 1000, 500]
    got = [r["account_key"] for p in pages for r in p["rows"]]
    assert len(set(got)) == ROWS
    assert got == ranked_keys(rows)
    assert all(p["order"] == "rank" and p["limit"] == 1000 for p in pages)
    by_key = {r["account_key"]: r for r in rows}
    assert all(r == by_key[r["account_key"]] for p in pages for r in p["rows"])  # whole rows, as stored


@pytest.mark.parametrize("limit", ["1000", "97"])
def test_every_row_of_a_prefix_arrives_once_in_key_order(big_api: LiveApi, limit: str,
                                                         sample_metric_rows: dict[str, list[Any]]) -> None:
    rows = daily(sample_metric_rows["hashtags_daily"])
    for day in ("2026-11-01", "2026-10-31"):
        pages = walk(big_api, "/v1/metrics/hashtags_daily", prefix=day, limit=limit)
        got = [(r["day"], r["tag"]) for p in pages for r in p["rows"]]
        assert got == sorted((r["day"], r["tag"]) for r in rows if r["day"] == day)
        assert all(p["prefix"] == {"column": "day", "value": day} and p["order"] == "key" for p in pages)


def test_a_metric_without_a_rank_pages_in_key_order(big_api: LiveApi, big_store: str,
                                                    sample_metric_rows: dict[str, list[Any]]) -> None:
    sample = sample_metric_rows["activity_by_hour"]
    rows = [dict(sample[0], weekday=weekday, hour=hour, toots=hour % 5) for weekday in range(7) for hour in range(24)]
    store = open_store(big_store)
    try:
        store.write(metric("activity_by_hour"), rows[::-1])
    finally:
        store.close()
    pages = walk(big_api, "/v1/metrics/activity_by_hour", limit="10")
    assert [p["count"] for p in pages] == [10] * 16 + [8] and all(p["order"] == "key" for p in pages)
    assert [(r["weekday"], r["hour"]) for p in pages for r in p["rows"]] == [(r["weekday"], r["hour"]) for r in rows]
    # a ranked metric read in small pages is its large read
    whole = ok(big_api.get("/v1/metrics/hashtags_daily", params={"limit": "1000"}))
    got = [r for p in walk(big_api, "/v1/metrics/hashtags_daily", limit="333") for r in p["rows"]]
    assert len(got) == 1260 and got[:1000] == whole["rows"]


def test_the_last_page_has_no_next_and_a_small_metric_one_page(big_api: LiveApi) -> None:
    body = ok(big_api.get("/v1/metrics/hashtags_daily", params={"prefix": "2026-10-31", "limit": "30"}))
    assert body["count"] == 30 and body["next"] is None  # exactly a page: no empty page after it
    body = ok(big_api.get("/v1/metrics/hashtags_daily", params={"prefix": "2026-10-31", "limit": "29"}))
    assert body["count"] == 29 and body["next"] is not None
    last = ok(big_api.get("/v1/metrics/hashtags_daily",
                          params={"prefix": "2026-10-31", "limit": "29", "after": body["next"]["after"]}))
    assert last["count"] == 1 and last["next"] is None


def _cursor(state: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).rstrip(b"=").decode()


def _first_cursor(api: LiveApi, **params: str) -> tuple[str, dict[str, Any]]:
    after = ok(api.get("/v1/metrics/top_accounts_by_followers", params={"limit": "5", **params}))["next"]["after"]
    return after, json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))


def test_bad_cursors_are_400_naming_after(big_api: LiveApi) -> None:
    after, state = _first_cursor(big_api)
    path = "/v1/metrics/top_accounts_by_followers"
    bad = [
        "", "not a cursor!", "x" * 8193, after + "%",   # not the cursor's alphabet or length
        "AAAA", _cursor([1, 2]), _cursor("text"),       # not a cursor's JSON
        _cursor({**state, "extra": 1}), _cursor({**state, "after": state["after"][:1]}),
        _cursor({**state, "after": [{"x": 1}, "k"]}), _cursor({**state, "generation": 3}),
        _cursor({**state, "after": ["many", state["after"][1]]}),  # text where the store holds numbers
        _cursor({**state, "after": [True, state["after"][1]]}),
        _cursor({**state, "after": [2**70, state["after"][1]]}),   # beyond what every store's numbers hold
        _cursor({**state, "after": [state["after"][0], 5]}),        # a number for a text key
        base64.urlsafe_b64encode(b'{"after":[NaN,"a"],"generation":null,"prefix":null}').decode().rstrip("="),
        base64.urlsafe_b64encode(b"[" * 6000).decode(),  # deeper than json goes (RecursionError): was a 500
    ]
    for value in bad:
        assert_error(big_api.get(path, params={"limit": "5", "after": value}), 400, "invalid_parameter", "after")
    # a cursor of another query: another prefix, or the rank order's cursor given to a prefix read
    assert_error(big_api.get(path, params={"after": after, "prefix": "x"}), 400, "invalid_parameter", "after")
    day_after = ok(big_api.get("/v1/metrics/hashtags_daily",
                               params={"prefix": "2026-11-01", "limit": "2"}))["next"]["after"]
    assert_error(big_api.get("/v1/metrics/hashtags_daily", params={"prefix": "2026-10-31", "after": day_after}),
                 400, "invalid_parameter", "after")
    assert_error(big_api.get("/v1/metrics/hashtags_daily", params={"after": day_after}),
                 400, "invalid_parameter", "after")
    # the same cursor twice, or on a route without pages
    assert_error(big_api.get(f"{path}?after={after}&after={after}"), 400, "invalid_parameter", "after")
    assert_error(big_api.get("/v1/analyses/top_accounts", params={"after": after}), 400, "invalid_parameter",
                 "after")
    assert ok(big_api.get(path, params={"after": after}))["count"] == 100  # the good one still reads


def test_a_cursor_holding_text_that_is_not_utf_8_is_400_not_a_stale_metric(big_api: LiveApi,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    """JSON's ``\\ud800`` reads as a lone surrogate, which no store can encode. Was: 409 ``stale_metric`` (the
    store's ValueError), with a WARNING telling the operator the metric is stale; in the generation, 409
    ``stale_cursor``."""
    after, state = _first_cursor(big_api)
    path = "/v1/metrics/top_accounts_by_followers"
    for tampered in ({**state, "after": [state["after"][0], "\ud800"]},
                     {**state, "after": [state["after"][0], state["after"][1] + "\udcff"]},
                     {**state, "generation": "\ud800"}):
        caplog.clear()
        assert_error(big_api.get(path, params={"after": _cursor(tampered)}), 400, "invalid_parameter", "after")
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert ok(big_api.get(path, params={"after": after}))["count"] == 100


def test_a_cursor_of_another_metric_or_without_its_metric_is_400(big_api: LiveApi, big_store: str,
                                                                  sample_metric_rows: dict[str, list[Any]]) -> None:
    """A cursor holds its metric: given to another metric with the same position columns (rank and one key) it is
    400 naming after, not 409 stale_cursor, which would say that metric was written again; a cursor without the
    metric (made before cursors held it) is 400 too, as the API cannot tell which metric it pages."""
    store = open_store(big_store)
    try:
        store.write(metric("account_engagement"), sample_metric_rows["account_engagement"])
    finally:
        store.close()
    after, state = _first_cursor(big_api)
    error = assert_error(big_api.get("/v1/metrics/account_engagement", params={"after": after}), 400,
                         "invalid_parameter", "after")
    assert "another metric" in error["message"]
    old = _cursor({k: v for k, v in state.items() if k != "metric"})
    error = assert_error(big_api.get("/v1/metrics/top_accounts_by_followers", params={"after": old}), 400,
                         "invalid_parameter", "after")
    assert "first page" in error["message"]
    assert ok(big_api.get("/v1/metrics/top_accounts_by_followers", params={"after": after}))["count"] == 100


def test_a_cursor_of_a_metric_written_again_since_is_409(big_api: LiveApi, big_store: str,
                                                         sample_metric_rows: dict[str, list[Any]]) -> None:
    after, _ = _first_cursor(big_api)
    store = open_store(big_store)
    try:  # what the next `fediscope process` does: the rows move, some go
        store.write(metric("top_accounts_by_followers"),
                    accounts(sample_metric_rows["top_accounts_by_followers"])[::2])
    finally:
        store.close()
    error = assert_error(big_api.get("/v1/metrics/top_accounts_by_followers", params={"after": after}), 409,
                         "stale_cursor")
    assert "first page" in error["message"] and error["parameter"] == "after"
    pages = walk(big_api, "/v1/metrics/top_accounts_by_followers", limit="1000")
    assert sum(p["count"] for p in pages) == ROWS // 2  # a walk from the start reads the new rows


def test_a_cursor_outlives_a_write_that_changes_no_row(metric_store: MetricStore, live_api: Callable[..., LiveApi],
                                                        sample_metric_rows: dict[str, list[Any]]) -> None:
    """Was: re-running `fediscope process` with nothing new ("0 written") made every open cursor 409 stale_cursor,
    as every write gave the metric a new generation; a write that changes no row keeps it, on every store."""
    top = metric("top_accounts_by_followers")
    rows = accounts(sample_metric_rows["top_accounts_by_followers"])
    metric_store.write(top, rows)
    api = live_api(make_settings(store=metric_store.url,
                                 hbase_table_prefix=getattr(metric_store, "prefix", "fediscope")))
    after, _ = _first_cursor(api)
    metric_store.write(top, list(reversed(rows)))  # what `fediscope process` writes when no row changed
    assert metric_store.write_changes(top, [], [], ROWS) is not None  # ... and with the difference it kept
    page = ok(api.get("/v1/metrics/top_accounts_by_followers", params={"limit": "5", "after": after}))
    assert [r["account_key"] for r in page["rows"]] == ranked_keys(rows)[5:10]
    metric_store.write(top, rows[1:])  # a row gone: the cursor is stale
    assert_error(api.get("/v1/metrics/top_accounts_by_followers", params={"after": after}), 409, "stale_cursor")


def test_a_key_too_long_to_page_past_is_409_naming_the_export_command(tmp_path: Path,
                                                                       live_api: Callable[..., LiveApi]) -> None:
    """An own metric keyed by many long text columns: the next page's cursor would exceed what ``after`` takes, so
    the first page is 409 ``cursor_too_long``, pointing at ``fediscope store export``, which reads every row."""
    import fediscope.engine.metrics as registry

    # 33 values of 255 three-byte characters: a cursor of ~34,000 characters. A key of 32 columns or fewer holds less:
    # what a MariaDB key holds, 3072 bytes of text (fediscope.store.schema.key_text_limit)
    key = [f"k{i}" for i in range(1, 34)]
    own = tmp_path / "own"
    own.mkdir()
    (own / "long_keys.sql").write_text(f"-- question: Which long names?\n-- key: {', '.join(key)}\n"
                                       f"SELECT {', '.join(key)}, n FROM t\n", encoding="utf-8")
    registry.load_metrics.cache_clear()
    url = f"sqlite:///{tmp_path / 'long.db'}"
    store = open_store(url)
    try:
        store.write(registry.load_metrics(own_dir=own)["long_keys"],
                    [{**{k: "語" * 255 for k in key[:-1]}, key[-1]: str(n) * 255, "n": n} for n in (1, 2)])
    finally:
        store.close()
    api = live_api(make_settings(store=url, metrics_dir=own))
    try:
        error = assert_error(api.get("/v1/metrics/long_keys", params={"limit": "1"}), 409, "cursor_too_long")
        assert error["message"] == ("metric long_keys has a key too long to page past (the next page's cursor would "
                                    "be over 8192 characters): read every row with `fediscope store export "
                                    "long_keys` (CSV or JSON Lines)"), error
        assert ok(api.get("/v1/metrics/long_keys", params={"limit": "2"}))["count"] == 2  # one page needs no cursor
    finally:
        registry.load_metrics.cache_clear()
