"""Paging a metric while ``fediscope process`` writes it: a walk never ends with rows of two writes.

The store changes a metric in several steps (a provisional generation, then the rows, then the final
generation: :meth:`fediscope.store.base.BaseStore._begin_change`), and a page reads the generation and the rows
in two steps too. These tests run a real write at the moments in between (a real HTTP request inside the write,
or the write inside a page's read) and check the walk is told to start again (409 ``stale_cursor``) rather than
given a last page of the new rows after pages of the old ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_testing import LiveApi, assert_error, make_settings

from fediscope.analysis import PLAIN_PARTLY_WRITTEN_ADVICE, languages, metric
from fediscope.store.port import open_store
from fediscope.store.sqlite import SQLiteStore

ROWS = 1500
TOP = "/v1/metrics/top_accounts_by_followers"


def accounts(sample: list[dict[str, Any]], shift: int = 0) -> list[dict[str, Any]]:
    """ROWS accounts with distinct follower counts; ``shift`` moves every count (a new result, every row changed)."""
    return [dict(sample[i % len(sample)], account_key=f"acct{i:05d}", followers_count=ROWS - i + shift)
            for i in range(ROWS)]


@pytest.fixture
def store_url(tmp_path: Path, sample_metric_rows: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        store.write(metric("top_accounts_by_followers"), accounts(sample_metric_rows["top_accounts_by_followers"]))
    finally:
        store.close()
    yield url


@pytest.fixture
def api(store_url: str, live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api(make_settings(store=store_url))


def test_a_last_page_read_while_the_metric_is_written_is_a_stale_cursor(
        api: LiveApi, store_url: str, sample_metric_rows: dict[str, list[Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the page noted the generation, then the write ran, then the page read the new rows: a last page
    (``next: null``) of the new rows after pages of the old ones, a walk that skipped rows with no sign."""
    first = api.get(TOP, params={"limit": "1000"}).json()
    assert first["count"] == 1000 and first["next"] is not None
    read_rows = SQLiteStore.top
    fired: list[bool] = []

    def top_after_a_write(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        if not fired:  # the write lands between the page's generation and its rows
            fired.append(True)
            writer = open_store(store_url)
            try:  # half the accounts gone: the next page is the last one, of the new rows
                writer.write(metric("top_accounts_by_followers"),
                             accounts(sample_metric_rows["top_accounts_by_followers"])[::2])
            finally:
                writer.close()
        return read_rows(self, *args, **kwargs)

    monkeypatch.setattr(SQLiteStore, "top", top_after_a_write)
    response = api.get(TOP, params={"limit": "1000", "after": first["next"]["after"]})
    assert fired
    assert_error(response, 409, "stale_cursor", "after")


def test_a_walk_begun_while_the_metric_is_written_is_a_stale_cursor(
        api: LiveApi, store_url: str, sample_metric_rows: dict[str, list[Any]]) -> None:
    """Was: pages read after the write's provisional generation and before its final one all carried the
    provisional generation, so a walk whose first page had the old rows and whose last page the new rows
    (every row's rank moved) passed the cursor's check."""
    writer = open_store(store_url)
    assert isinstance(writer, SQLiteStore)
    upsert = writer._upsert
    pages: list[Any] = []

    def upsert_between_pages(*args: Any, **kwargs: Any) -> None:
        pages.append(api.get(TOP, params={"limit": "1000"}))  # the old rows, under the provisional generation
        upsert(*args, **kwargs)
        after = pages[0].json()["next"]["after"]
        pages.append(api.get(TOP, params={"limit": "1000", "after": after}))  # the new rows, before the commit

    writer._upsert = upsert_between_pages  # type: ignore[method-assign]
    try:
        writer.write(metric("top_accounts_by_followers"),
                     accounts(sample_metric_rows["top_accounts_by_followers"], shift=-1000)[::-1][:1200])
    finally:
        writer.close()
    assert len(pages) == 2 and pages[0].status_code == 200
    error = assert_error(pages[1], 409, "stale_cursor", "after")
    assert "first page" in error["message"]
    # what to do when no write is going on, as the report's "Partly written" says it: a stopped erasure too
    assert "(fediscope process or an erasure)" in error["message"] and PLAIN_PARTLY_WRITTEN_ADVICE in error["message"]
    assert "if no fediscope process is running, run it again, or the erasure if one stopped" in error["message"]


def test_a_last_page_read_while_an_erasure_deletes_rows_is_a_stale_cursor(api: LiveApi, store_url: str) -> None:
    """Was: ``delete_where`` (``fediscope gdpr erase`` deleting an account's rows) gave the metric a new generation
    only once it recorded the deletion, after the rows had gone: a page read in between kept the generation of the
    walk's first page, and ended the walk (``next: null``) without the deleted rows of that page after a first page
    that had those of its own, a walk of neither state of the metric. It marks the generation provisional before
    the rows go, as a write does."""
    first = api.get(TOP, params={"limit": "1000"}).json()
    assert first["count"] == 1000 and first["next"] is not None
    instance = first["rows"][0]["instance"]  # rows on either page: the deletion straddles the walk's position
    on_first = sum(row["instance"] == instance for row in first["rows"])
    assert 0 < on_first < 1000
    pages: list[Any] = []
    eraser = open_store(store_url)
    commit = eraser._commit  # type: ignore[attr-defined]

    def page_before_the_record(*args: Any, **kwargs: Any) -> Any:
        # the rows are gone, the catalog does not say so yet: the next page is read now
        pages.append(api.get(TOP, params={"limit": "1000", "after": first["next"]["after"]}))
        return commit(*args, **kwargs)

    eraser._commit = page_before_the_record  # type: ignore[attr-defined]
    try:
        deleted = eraser.delete_where(metric("top_accounts_by_followers"), "instance", instance)
    finally:
        eraser.close()
    assert deleted > on_first and len(pages) == 1
    error = assert_error(pages[0], 409, "stale_cursor", "after")
    assert "(fediscope process or an erasure)" in error["message"] and PLAIN_PARTLY_WRITTEN_ADVICE in error["message"]


def test_an_analysis_whose_metric_is_written_between_its_two_reads_is_read_again(
        api: LiveApi, store_url: str, sample_metric_rows: dict[str, list[Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not HBase alone: ``languages`` reads its top rows, then every row (the total and the "other" row), two
    queries on SQLite too. Was: the top rows of the old write, with the total and "other" of the new one, and no
    check (the analyses' route compared no generation at all)."""
    langs = metric("languages")
    old = sample_metric_rows["languages"]
    new = [dict(row, toots=(row["toots"] or 0) * 3 + len(old) - i) for i, row in enumerate(old)][::-1]
    seeded = open_store(store_url)
    try:
        seeded.write(langs, old)
    finally:
        seeded.close()
    read_all = SQLiteStore.all
    fired: list[bool] = []

    def all_after_a_write(self: SQLiteStore, read: Any) -> Any:
        if read.name == "languages" and not fired:  # between the analysis' top rows and every row
            fired.append(True)
            writer = open_store(store_url)
            try:
                writer.write(langs, new)
            finally:
                writer.close()
        return read_all(self, read)

    monkeypatch.setattr(SQLiteStore, "all", all_after_a_write)
    response = api.get("/v1/analyses/languages", params={"n": "3"})
    assert fired and response.status_code == 200, response.text
    monkeypatch.setattr(SQLiteStore, "all", read_all)
    reader = open_store(store_url)
    try:
        assert response.json()["rows"] == languages(reader, 3).to_dict()["rows"]
    finally:
        reader.close()
