"""The ``trends_tags`` source walks Mastodon's offset pages (``GET /api/v1/trends/tags?offset=&limit=``), against
the recorded Mastodon double served over real HTTP on 127.0.0.1, its trending tags cloned from the recorded tag
entities.

Was: one page only (at most 20 tags), however many the instance had trending and whatever ``--max-pages`` said.
Mastodon (3.5 and later) pages its trending tags by ``offset``; ``Api::V1::Trends::TagsController`` serves at most
twice its default limit (``MAX_TRENDING_TAGS``, 10 unless set: 20) per page and sends ``Link: <…?offset=N>;
rel="next"`` exactly when the page was full. Mastodon 3.0–3.4 served them at ``/api/v1/trends``, without ``offset``:
one page there.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
from doubles.mastodon_server import MastodonDouble

from fediscope.config import Settings
from fediscope.engine.base import open_engine
from fediscope.sources.client import RawResponse
from fediscope.sources.collector import run_collection
from fediscope.sources.pages import Page, next_offset
from fediscope.sources.spec import parse_source

PAGE = 10  # make_settings' page_limit: the trending tags' limit too (within Mastodon's 20)
TRENDING = 45  # the recorded tags and clones of them: four full pages and a short one


def trends(double: MastodonDouble) -> list[tuple[str, Any]]:
    return [(double.url, parse_source("trends_tags"))]


def landed_names(lake) -> list[str]:
    return [record["data"]["name"] for _partition, record in lake.records("trends_tags")]


def offsets(double: MastodonDouble, path: str = "/api/v1/trends/tags") -> list[str | None]:
    return [served.params.get("offset") for served in double.requests_to(path) if served.path == path]


def curated_trends(settings: Settings) -> list[dict[str, Any]]:
    """Curate the lake with DuckDB and read ``tag_trends``: one row per instance, tag and day."""
    with open_engine(settings, "duckdb") as engine:
        engine.curate()
        engine.register_curated_views()
        return engine.query_arrow("SELECT instance, tag, day, uses, fetched_at FROM tag_trends").to_pylist()


@pytest.fixture
def double() -> Any:
    with MastodonDouble(statuses=5) as running:  # few statuses: only the trends are asked for
        running.add_trending_tags(TRENDING - len(running.tags))
        yield running


def test_every_trending_tag_is_walked_landed_and_curated_once(double, make_settings, lake) -> None:
    names = [t["name"] for t in double.tags]
    assert len(names) == TRENDING and len(set(names)) == TRENDING
    settings = make_settings()
    summary = run_collection(settings, trends(double), max_pages=20, progress=False)
    result = summary.sources[0]
    assert summary.ok and result.caught_up and result.pages == 5 and result.fetched == TRENDING
    assert offsets(double) == [None, "10", "20", "30", "40"]  # the Link header's next offsets, then a short page
    assert sorted(landed_names(lake)) == sorted(names) and result.landed == TRENDING
    assert len(result.batches) == 5  # one batch per page, as the directory lands them
    rows = curated_trends(settings)
    days = {len(t["history"]) for t in double.tags}
    assert days == {7} and len(rows) == 7 * TRENDING
    assert Counter(r["tag"] for r in rows) == {name.lower(): 7 for name in names}
    assert {r["instance"] for r in rows} == {double.domain}


@pytest.mark.parametrize("with_ids", [True, False], ids=["tag-ids", "no-tag-ids"])
def test_a_tag_moving_down_between_pages_is_landed_and_curated_once(double, make_settings, lake,
                                                                    with_ids: bool) -> None:
    """The list can shift between two requests: a tag that starts trending meanwhile pushes the last tag of page
    one onto page two. It is counted as already collected, not landed twice, keyed by its name when the instance
    sends no tag ``id`` (Mastodon before 4.x)."""
    if not with_ids:
        for tag in double.tags:
            tag.pop("id", None)
    real, served = double._trends, [0]
    newcomer = copy.deepcopy(double.tags[0]) | {"name": "newcomer", "url": "http://localhost:3000/tags/newcomer"}
    newcomer.pop("id", None)

    def shifting(path: str, params: dict[str, str]) -> Any:
        served[0] += 1
        if served[0] == 2:  # after page one: a new tag trends at the top
            double.tags.insert(0, newcomer)
        return real(path, params)

    double._trends = shifting
    settings = make_settings()
    summary = run_collection(settings, trends(double), max_pages=20, progress=False)
    result = summary.sources[0]
    repeated = double.tags[PAGE]["name"]  # last of page one, first of page two
    assert summary.ok and result.caught_up and result.fetched == TRENDING + 1
    assert result.out_of_range == 1 and result.landed == TRENDING  # the newcomer is not on any page read
    names = Counter(landed_names(lake))
    assert names[repeated] == 1 and set(names.values()) == {1} and "newcomer" not in names
    rows = curated_trends(settings)
    assert Counter((r["tag"], r["day"]) for r in rows).most_common(1)[0][1] == 1
    assert len(rows) == 7 * TRENDING


def test_a_walk_follows_the_next_link_when_the_instance_serves_fewer_tags_than_asked(double, make_settings,
                                                                                    lake) -> None:
    """Mastodon serves at most twice ``MAX_TRENDING_TAGS`` a page: a server that sets it to 3 answers 6 tags to
    ``limit=10``, with a ``next`` link. A walk ending at the first page shorter than asked would stop there."""
    double.trends_default_limit = 3
    summary = run_collection(make_settings(), trends(double), max_pages=20, progress=False)
    result = summary.sources[0]
    assert summary.ok and result.caught_up and result.fetched == TRENDING
    assert offsets(double) == [None, "6", "12", "18", "24", "30", "36", "42"]
    assert sorted(landed_names(lake)) == sorted(t["name"] for t in double.tags)


def test_the_page_budget_cuts_the_walk_and_says_so(double, make_settings, lake, capsys) -> None:
    summary = run_collection(make_settings(), trends(double), max_pages=2, progress=True)
    result = summary.sources[0]
    assert summary.ok and not result.caught_up and result.pages == 2 and result.fetched == 2 * PAGE
    assert sorted(landed_names(lake)) == sorted(t["name"] for t in double.tags[:2 * PAGE])
    assert f"2 pages, {2 * PAGE} landed (more trending tags: raise --max-pages)" in capsys.readouterr().err
    assert summary.line().endswith("; the trending tags walk stopped at its page budget on 1 instance, more tags "
                                   "listed: raise --max-pages or, without it, FEDISCOPE_BACKFILL_PAGES (or [fediscope] "
                                   "backfill_pages in fediscope.toml) to take them")


def test_without_max_pages_the_backfill_depth_bounds_the_walk(double, make_settings, lake) -> None:
    summary = run_collection(make_settings(backfill_pages=3), trends(double), progress=False)
    assert summary.ok and summary.pages == 3 and summary.fetched == 3 * PAGE
    assert offsets(double) == [None, "10", "20"]


def test_mastodon_3_4_trends_are_one_page_without_offset(make_settings, lake) -> None:
    """``/api/v1/trends`` (Mastodon 3.0–3.4) takes no ``offset``: asked for the next page it would answer the first
    one again. One page is taken, as before, and the source is complete (no page budget cut it)."""
    with MastodonDouble(statuses=5, trends_offset=False) as old:
        old.add_trending_tags(TRENDING - len(old.tags))
        summary = run_collection(make_settings(), trends(old), max_pages=20, progress=False)
        result = summary.sources[0]
        assert summary.ok and result.caught_up and result.pages == 1 and result.fetched == PAGE
        assert [s.status for s in old.requests_to("/api/v1/trends/")] == [404]  # /api/v1/trends/tags
        assert offsets(old, "/api/v1/trends") == [None]
        assert landed_names(lake) == [t["name"] for t in old.tags[:PAGE]]
        assert "trending tags walk" not in summary.line()


def test_fetched_at_of_each_page_is_the_one_curation_keeps(double, make_settings, lake) -> None:
    """Each page lands as its own batch with its own fetch time; curation keeps per tag and day the latest."""
    settings = make_settings()
    run_collection(settings, trends(double), max_pages=20, progress=False)
    first = {r["tag"]: r["fetched_at"] for r in curated_trends(settings)}
    run_collection(settings, trends(double), max_pages=20, progress=False)
    rows = curated_trends(settings)
    assert len(rows) == 7 * TRENDING
    assert all(r["fetched_at"] > first[r["tag"]] for r in rows)


@pytest.mark.parametrize(("endpoint", "header", "returned", "expected"), [
    ("/api/v1/trends/tags", '<https://h/api/v1/trends/tags?limit=20&offset=30>; rel="next"', 20, 30),
    ("/api/v1/trends/tags", '<https://h/api/v1/trends/tags?limit=20&offset=16>; rel="next"', 6, 16),  # fewer served
    ("/api/v1/trends/tags", '<https://h/api/v1/trends/tags?offset=0>; rel="prev"', 20, None),  # no next: the end
    ("/api/v1/trends/tags", '<https://h/api/v1/trends/tags?offset=0>; rel="next"', 20, None),  # backwards: a loop
    ("/api/v1/trends/tags", '<https://h/api/v1/trends/tags?offset=' + "9" * 5000 + '>; rel="next"', 20, None),
    # "30\n" once decoded: ``$`` matched before the final line break and the walk went on, to offset 30
    ("/api/v1/trends/tags", '<https://h/api/v1/trends/tags?limit=20&offset=30%0A>; rel="next"', 20, None),
    ("/api/v1/trends/tags", "", 20, 10 + 20),  # no Link header at all: a full page may have more after it
    ("/api/v1/trends/tags", "", 7, None),
    ("/api/v1/trends", "", 20, None),  # Mastodon 3.0–3.4: no offset to ask for
])
def test_where_the_next_page_starts(endpoint: str, header: str, returned: int, expected: int | None) -> None:
    page = Page(parse_source("trends_tags"), "h", endpoint, [{"name": f"t{i}"} for i in range(returned)])
    links = RawResponse(200, {"Link": header} if header else {}, b"[]", "https://h" + endpoint, endpoint).links()
    assert next_offset(page, 10, links, asked=20) == expected
