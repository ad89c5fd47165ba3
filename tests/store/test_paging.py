"""Paging with ``after`` (``top`` and ``scan_prefix``), on every adapter: the pages of a metric, read each from the
last row of the one before, are its rows in order, each once, whatever the page size; as on the results API's
``after`` cursor (tests/api/test_api_results_paging.py)."""

from __future__ import annotations

from typing import Any

import pytest
from metric_header import metric

from fediscope.store.port import MetricStore, PositionError

DESC = metric("desc", "instance, account", rank="followers DESC")
ASC = metric("asc", "instance, account", rank="share ASC")
UNRANKED = metric("unranked", "instance, account")
BY_ACCOUNT = metric("by_account", "instance, account", prefix="account")  # prefix not the first key column

INSTANCES = ["a.example", "b.example", "é.example", "a"]
ROWS = [{"instance": instance, "account": f"user{i % 7}{'✓' * (i % 2)}",
         "followers": None if i % 5 == 0 else (i * 7) % 4,  # ties and rows without a rank value
         "share": (i % 3) / 4 - 0.25}
        for n, instance in enumerate(INSTANCES) for i in range(n, n + 12)]
ROWS = list({(r["instance"], r["account"]): r for r in ROWS}.values())


def pages(read: Any, size: int) -> list[list[dict[str, Any]]]:
    """Every page of ``read(size, after)``, each read from the last row of the one before."""
    out, after = [], None
    while True:
        page = read(size, after)
        assert len(page) <= size
        if not page:
            return out
        out.append(page)
        after = page[-1]


def ranked(rows: list[dict[str, Any]], column: str, descending: bool) -> list[tuple[str, str]]:
    """Top order written out: rank values in their direction, ties by key, rows without a rank value last."""
    present = sorted((r for r in rows if r[column] is not None), key=lambda r: (r["instance"], r["account"]))
    present.sort(key=lambda r: r[column], reverse=descending)
    absent = sorted((r for r in rows if r[column] is None), key=lambda r: (r["instance"], r["account"]))
    return [(r["instance"], r["account"]) for r in present + absent]


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["instance"], r["account"]) for r in rows]


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_top_pages_are_every_row_once_in_order(metric_store: MetricStore, size: int) -> None:
    for m, column, descending in ((DESC, "followers", True), (ASC, "share", False)):
        metric_store.write(m, ROWS)
        got = pages(lambda n, after, m=m: metric_store.top(m, n, after=after), size)
        assert keys([r for page in got for r in page]) == ranked(ROWS, column, descending), m.name
        assert all(len(page) == size for page in got[:-1])
    for m in (UNRANKED, BY_ACCOUNT):  # no rank column: key order (HBase's row keys are not, for BY_ACCOUNT)
        metric_store.write(m, ROWS)
        got = pages(lambda n, after, m=m: metric_store.top(m, n, after=after), size)
        assert keys([r for page in got for r in page]) == sorted(keys(ROWS)), m.name


@pytest.mark.parametrize("m", [UNRANKED, BY_ACCOUNT], ids=["prefix-first", "prefix-second"])
def test_prefix_pages_are_the_prefixs_rows_once_in_key_order(metric_store: MetricStore, m: Any) -> None:
    metric_store.write(m, ROWS)
    column = m.prefix
    for value in sorted({r[column] for r in ROWS}):
        expected = sorted(k for k, r in zip(keys(ROWS), ROWS, strict=True) if r[column] == value)
        for size in (1, 3):
            got = pages(lambda n, after, v=value: metric_store.scan_prefix(m, v, n, after=after), size)
            assert keys([r for page in got for r in page]) == expected, (value, size)


FLAGS = metric("flags", "is_bot, instance", rank="toots DESC")
BY_BOT = metric("bot_ranked", "instance", rank="is_bot ASC")
BOOL_ROWS = [{"is_bot": b, "instance": i, "toots": t}
             for b, i, t in [(False, "a", 5), (True, "b", 3), (False, "c", 1), (True, "d", 5), (False, "e", None)]]


@pytest.mark.parametrize("size", [1, 2])
def test_pages_go_past_a_boolean_key_or_rank_value(metric_store: MetricStore, size: int) -> None:
    metric_store.write(FLAGS, BOOL_ROWS)
    got = pages(lambda n, after: metric_store.top(FLAGS, n, after=after), size)
    assert [r["instance"] for page in got for r in page] == ["a", "d", "b", "c", "e"]
    got = pages(lambda n, after: metric_store.scan_prefix(FLAGS, False, n, after=after), size)
    assert [r["instance"] for page in got for r in page] == ["a", "c", "e"]
    metric_store.write(BY_BOT, BOOL_ROWS)
    got = pages(lambda n, after: metric_store.top(BY_BOT, n, after=after), size)
    assert [r["instance"] for page in got for r in page] == ["a", "c", "e", "b", "d"]
    assert metric_store.top(FLAGS, 2, after={"toots": 5, "is_bot": False, "instance": "a"}) == [
        {"is_bot": True, "instance": "d", "toots": 5}, {"is_bot": True, "instance": "b", "toots": 3}]


def test_a_position_is_values_not_a_row_that_must_still_exist(metric_store: MetricStore) -> None:
    metric_store.write(DESC, ROWS)
    first = metric_store.top(DESC, 3)
    metric_store.delete_where(DESC, "instance", first[-1]["instance"])  # the page's last row is gone
    rest = metric_store.top(DESC, 1000, after=first[-1])
    kept = [r for r in ROWS if r["instance"] != first[-1]["instance"]]
    order = ranked(ROWS, "followers", True)
    assert keys(rest) == [k for k in order[order.index(keys(first)[-1]) + 1:] if k in keys(kept)]
    # a position past the last row, or in the rows without a rank value, pages on from there
    assert metric_store.top(DESC, 5, after={"followers": None, "instance": "\uffff", "account": ""}) == []
    nulls = [k for k in ranked(kept, "followers", True) if by_key(kept)[k]["followers"] is None]
    assert nulls and keys(metric_store.top(DESC, 1000, after={"followers": None, "instance": "", "account": ""})) \
        == nulls

def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["instance"], r["account"]): r for r in rows}


@pytest.mark.parametrize("after", [
    {"instance": "a.example"},                                       # the key is incomplete
    {"instance": "a.example", "account": "user1", "followers": "3"},  # a text rank value
    {"instance": 3, "account": "user1", "followers": 3},              # a number for a text key
    {"instance": "a.example", "account": "user1", "followers": True},  # a boolean for a number
    {"instance": None, "account": "user1", "followers": 3},           # a key value is never NULL
])
def test_a_position_that_is_not_one_of_the_metrics_is_refused(metric_store: MetricStore,
                                                               after: dict[str, Any]) -> None:
    metric_store.write(DESC, ROWS)
    with pytest.raises(PositionError):
        metric_store.top(DESC, 5, after=after)


@pytest.mark.parametrize("after", [{"instance": "a.example"}, {"instance": 3, "account": "user1"},
                                   {"instance": "a.example", "account": False}])
def test_a_key_position_that_is_not_one_of_the_metrics_is_refused(metric_store: MetricStore,
                                                                   after: dict[str, Any]) -> None:
    metric_store.write(BY_ACCOUNT, ROWS)
    with pytest.raises(PositionError):
        metric_store.scan_prefix(BY_ACCOUNT, "user1", 5, after=after)
    with pytest.raises(PositionError):
        metric_store.top(BY_ACCOUNT, 5, after=after)
