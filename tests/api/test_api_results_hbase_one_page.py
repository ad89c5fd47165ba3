"""A first page of a metric, or an analysis, read over HTTP on HBase while ``fediscope process`` writes the metric.

On HBase a read is a scan (of the rank index, then a ``getRows`` of the data rows it names; of the data table in key
order for a prefix) and no snapshot: a write landing during it gives rows of neither write. The metric route
compared the metric's generation only when ``after`` was given, so a first page that is also the last
(``next: null``) was never checked, and the analyses' route never compared it: both served such rows as a
result. Here the write lands on the Thrift double right after the API's scanner is opened on the metric's
tables, by a store of its own (another process's ``fediscope process``); the API is served over real HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from api_testing import LiveApi, assert_error, make_settings
from doubles.hbase_scans import DAILY, DAY, FOLLOWERS, accounts, keys_by_rank, tags, write_during_scans
from doubles.hbase_thrift_server import HBaseThriftDouble

from fediscope.analysis import READ_ATTEMPTS, metric
from fediscope.store.hbase import HBaseStore


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def writer(hbase_double: HBaseThriftDouble, prefix: str) -> Iterator[HBaseStore]:
    """A store of its own on the API's tables: another process's ``fediscope process``."""
    store = HBaseStore(hbase_double.url, table_prefix=prefix)
    yield store
    store.close()


@pytest.fixture
def api(hbase_double: HBaseThriftDouble, prefix: str, live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api(make_settings(store=hbase_double.url, hbase_table_prefix=prefix))


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_a_one_page_metric_written_during_its_read_is_read_again_whole(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: acct0, acct1, acct2, acct4, acct5, acct6 (acct3's old rank entry gone, its new one and acct7's not in the
    scan), ``next: null``: neither the 7 rows of before nor the 8 of after, and nothing to say so."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = accounts(sample, moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, [lambda: writer.write(metric(FOLLOWERS),
                                                                                                    new)])
    page = ok(api.get(f"/v1/metrics/{FOLLOWERS}"))
    assert written == [0]  # the write did land during the (first) read
    assert page["next"] is None and page["count"] == 8
    assert [row["account_key"] for row in page["rows"]] == keys_by_rank(new)


def test_a_one_page_prefix_written_during_its_read_is_read_again_whole(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: t0 … t4 with their new uses, without t9 (not in the scan): neither write's rows."""
    sample = sample_metric_rows[DAILY]
    writer.write(metric(DAILY), tags(sample))
    new = tags(sample, moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, DAILY, [lambda: writer.write(metric(DAILY), new)])
    page = ok(api.get(f"/v1/metrics/{DAILY}", params={"prefix": DAY}))
    assert written == [0]
    assert page["next"] is None
    assert [(row["tag"], row["toots"]) for row in page["rows"]] == [(row["tag"], row["toots"]) for row in new]


def test_a_first_page_written_during_each_read_is_409_saying_to_retry(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Written again during each of its reads, a first page gives up after ``READ_ATTEMPTS``, as the store's whole
    reads do: a 409 of its own (a first page has no cursor to call stale). Was: the first read's mixed rows."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    writes = [lambda more=more: writer.write(metric(FOLLOWERS), accounts(sample, moved=True, more=more))
              for more in range(1, READ_ATTEMPTS + 2)]  # one more than the tries: the last is not made
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, writes)
    error = assert_error(api.get(f"/v1/metrics/{FOLLOWERS}", params={"limit": "5"}), 409, "written_while_read")
    assert written == list(range(READ_ATTEMPTS))
    assert "parameter" not in error  # no cursor to drop: the same request, once the write is done
    assert error["message"] == (
        f"metric {FOLLOWERS} was written again (fediscope process or an erasure) while this request read it, each "
        f"of the {READ_ATTEMPTS} times it was read, so its rows would mix two writes: retry once the write is done")
    # the write done, the same request is answered
    assert [row["account_key"] for row in ok(api.get(f"/v1/metrics/{FOLLOWERS}", params={"limit": "5"}))["rows"]] \
        == keys_by_rank(accounts(sample, moved=True, more=READ_ATTEMPTS))[:5]


def test_an_analysis_written_during_its_read_is_read_again_whole(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the rows of the mixed scan (acct3 and acct7 missing), ranked 1 to 6, as the analysis."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = accounts(sample, moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, [lambda: writer.write(metric(FOLLOWERS),
                                                                                                    new)])
    result = ok(api.get("/v1/analyses/top_accounts"))
    assert written == [0]
    assert [row["account_key"] for row in result["rows"]] == keys_by_rank(new)
    assert [row["ranking"] for row in result["rows"]] == list(range(1, 9))


def test_an_analysis_written_during_each_read_is_409_saying_to_retry(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    writes = [lambda more=more: writer.write(metric(FOLLOWERS), accounts(sample, moved=True, more=more))
              for more in range(1, READ_ATTEMPTS + 2)]
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, writes)
    error = assert_error(api.get("/v1/analyses/top_accounts"), 409, "written_while_read")
    assert written == list(range(READ_ATTEMPTS))
    assert error["message"] == (
        f"metric {FOLLOWERS} was written again (fediscope process or an erasure) while this request read it, each "
        f"of the {READ_ATTEMPTS} times it was read, so its rows would mix two writes: retry once the write is done")


def test_the_openapi_description_names_the_409_of_a_read_overtaken_by_writes(api: LiveApi) -> None:
    paths = api.get("/openapi.json", key=None).json()["paths"]
    for path in ("/v1/metrics/{name}", "/v1/analyses/{name}"):
        conflict = paths[path]["get"]["responses"]["409"]["description"]
        assert (f"(written_while_read) the metric was written again while a first page (no after) or an analysis "
                f"was read, each of the {READ_ATTEMPTS} times it was read") in conflict, path


def retyped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with following_count as text: a write that changes a column's type. A reader holding the column
    types of before cannot read the rows of after as them, though each write reads fine on its own."""
    return [dict(row, following_count=f"about {row['following_count']}") for row in rows]


def test_an_analysis_failing_on_rows_of_neither_write_is_read_again_not_409_stale_metric(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: 409 ``stale_metric`` (``invalid literal for int()``: re-run `fediscope process`), answered before the
    generations were compared, for a metric a ``fediscope process`` run was writing that moment."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = retyped(accounts(sample, moved=True))
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, [lambda: writer.write(metric(FOLLOWERS),
                                                                                                    new)])
    result = ok(api.get("/v1/analyses/top_accounts"))
    assert written == [0]
    following = {row["account_key"]: row["following_count"] for row in new}
    assert [(row["account_key"], row["following_count"]) for row in result["rows"]] \
        == [(key, following[key]) for key in keys_by_rank(new)]


def test_a_first_page_failing_on_rows_of_neither_write_is_read_again_not_409_stale_metric(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = retyped(accounts(sample, moved=True))
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, [lambda: writer.write(metric(FOLLOWERS),
                                                                                                    new)])
    page = ok(api.get(f"/v1/metrics/{FOLLOWERS}"))
    assert written == [0]
    assert [row["account_key"] for row in page["rows"]] == keys_by_rank(new)
    assert {row["following_count"] for row in page["rows"]} == {row["following_count"] for row in new}


def test_a_next_page_failing_on_rows_of_neither_write_is_409_stale_cursor(
        api: LiveApi, writer: HBaseStore, hbase_double: HBaseThriftDouble, prefix: str,
        sample_metric_rows: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A page after a cursor, overtaken by a write its rows cannot be read as: the walk starts again (was: 409
    ``stale_metric``, saying to re-run `fediscope process`)."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    first = ok(api.get(f"/v1/metrics/{FOLLOWERS}", params={"limit": "2"}))
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, [
        lambda: writer.write(metric(FOLLOWERS), retyped(accounts(sample, moved=True)))])
    assert_error(api.get(f"/v1/metrics/{FOLLOWERS}", params={"limit": "2", "after": first["next"]["after"]}), 409,
                 "stale_cursor")
    assert written == [0]

