"""The results routes over real HTTP: stored metrics and analyses, on every store, as the report gives them.

The store is loaded with every metric's rows over a small generated corpus (``sample_metric_rows``: the real
``spark_jobs/sql`` files run by DuckDB), so the routes serve what ``fediscope process`` would have stored.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_testing import KEY, RO_KEY, LiveApi, assert_error, make_settings
from cli_run import run

from fediscope.analysis import ANALYSES, metric
from fediscope.engine.metrics import load_metrics
from fediscope.store.port import MetricStore, open_store


def load(store: MetricStore, rows_by_metric: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in rows_by_metric.items():
        store.write(metric(name), rows)


def settings_for(store: MetricStore) -> Any:
    return make_settings(store=store.url, hbase_table_prefix=getattr(store, "prefix", "fediscope"))


@pytest.fixture
def sqlite_url(tmp_path: Path, sample_metric_rows: dict[str, list[dict[str, Any]]]) -> str:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        load(store, sample_metric_rows)
    finally:
        store.close()
    return url


@pytest.fixture
def results_api(sqlite_url: str, live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api(make_settings(store=sqlite_url))


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def by_key(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    key = load_metrics()[name].key
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))


# -- what the routes answer ---------------------------------------------------------------------------------

def test_analyses_are_what_the_report_prints(results_api: LiveApi, sqlite_url: str, capsys: Any) -> None:
    code, out, err = run(capsys, "report", "--store", sqlite_url, "--format", "json", "--no-charts", "--top", "7")
    assert code == 0, err
    report = json.loads(out)
    listed = ok(results_api.get("/v1/analyses"))
    assert [a["name"] for a in listed["analyses"]] == [function.__name__ for function, _ in ANALYSES]
    assert all(a["stored"] for a in listed["analyses"])
    assert set(listed) == {"analyses", "period", "provenance"}  # answers do not name the store
    assert len(report["analyses"]) >= 12
    for expected in report["analyses"]:
        got = ok(results_api.get(f"/v1/analyses/{expected['name']}", params={"n": "7"}))
        assert got == expected, expected["name"]


def test_the_analyses_list_gives_the_period_and_provenance_the_report_gives(tmp_path: Path, capsys: Any,
                                                                            live_api: Callable[..., LiveApi],
                                                                            sample_metric_rows: dict[str, Any]) -> None:
    """Was: the report's head (the days its numbers cover, what computed them) was nowhere in the results routes, so a
    dashboard could not say which period its analyses cover."""
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        for i, (name, rows) in enumerate(sorted(sample_metric_rows.items())):
            # two runs, and the first metrics as an older fediscope wrote them (no record)
            store.provenance = None if i < 2 else {"engine": "duckdb", "inputs": f"run {i % 2}", "sql": name,
                                                   "own": False}
            store.write(metric(name), rows)
    finally:
        store.close()
    code, out, err = run(capsys, "report", "--store", url, "--format", "json", "--no-charts")
    assert code == 0, err
    report = json.loads(out)
    listed = ok(live_api(make_settings(store=url)).get("/v1/analyses"))
    assert listed["period"] == report["period"] and listed["period"]["first_day"] is not None
    assert listed["provenance"] == {k: v for k, v in report["provenance"].items() if k != "report"}
    assert len(listed["provenance"]["runs"]) == 2 and len(listed["provenance"]["unrecorded"]) == 2


def test_the_analyses_list_gives_each_analysis_its_own_question(results_api: LiveApi) -> None:
    """Was: the list gave the metric's question, so engagement_distribution (which asks its own) was listed with
    account_engagement's question and answered with another."""
    listed = ok(results_api.get("/v1/analyses"))["analyses"]
    for entry in listed:
        assert entry["question"] == ok(results_api.get(f"/v1/analyses/{entry['name']}"))["question"], entry["name"]
    own = next(a for a in listed if a["name"] == "engagement_distribution")
    assert own["question"] != load_metrics()["account_engagement"].question


def test_metrics_list_every_metric_with_its_stored_row_count(results_api: LiveApi,
                                                             sample_metric_rows: dict[str, list[Any]]) -> None:
    body = ok(results_api.get("/v1/metrics"))
    registry = load_metrics()
    assert [m["name"] for m in body["metrics"]] == sorted(registry)
    for entry in body["metrics"]:
        m = registry[entry["name"]]
        assert entry["key"] == list(m.key) and entry["prefix"] == m.prefix
        assert entry["rank"] == ({"column": m.rank_column, "order": "desc" if m.rank_desc else "asc"}
                                 if m.rank_column else None)
        assert entry["stored"] is True and entry["rows"] == len(sample_metric_rows[entry["name"]])


def test_top_rows_follow_the_rank_column(results_api: LiveApi, sample_metric_rows: dict[str, list[Any]]) -> None:
    rows = sample_metric_rows["top_accounts_by_followers"]
    expected = sorted(rows, key=lambda r: (-r["followers_count"], r["account_key"]))[:5]
    body = ok(results_api.get("/v1/metrics/top_accounts_by_followers", params={"limit": "5"}))
    assert body["limit"] == 5 and body["count"] == 5
    assert body["prefix"] is None and body["order"] == "rank"
    assert [r["account_key"] for r in body["rows"]] == [r["account_key"] for r in expected]
    assert [r["followers_count"] for r in body["rows"]] == [r["followers_count"] for r in expected]
    default = ok(results_api.get("/v1/metrics/top_accounts_by_followers"))
    assert default["limit"] == 100 and default["count"] == min(100, len(rows))
    assert default["rows"][:5] == body["rows"]
    # a metric without a rank column comes in key order
    unranked = ok(results_api.get("/v1/metrics/activity_by_hour", params={"limit": "1000"}))
    assert unranked["order"] == "key"
    assert [(r["weekday"], r["hour"]) for r in unranked["rows"]] == [
        (r["weekday"], r["hour"]) for r in by_key(sample_metric_rows["activity_by_hour"], "activity_by_hour")]


def test_prefix_rows_are_one_value_in_key_order(results_api: LiveApi,
                                                sample_metric_rows: dict[str, list[Any]]) -> None:
    daily = sample_metric_rows["hashtags_daily"]
    day = sorted({r["day"] for r in daily})[-1]
    body = ok(results_api.get("/v1/metrics/hashtags_daily", params={"prefix": str(day)}))
    expected = by_key([r for r in daily if r["day"] == day], "hashtags_daily")
    assert body["prefix"] == {"column": "day", "value": str(day)} and body["limit"] == 100
    assert body["order"] == "key"
    assert [r["tag"] for r in body["rows"]] == [r["tag"] for r in expected][:100]
    limited = ok(results_api.get("/v1/metrics/hashtags_daily", params={"prefix": str(day), "limit": "2"}))
    assert limited["rows"] == body["rows"][:2]
    # an integer prefix column (weekday) is matched as a number, not as text
    hours = sample_metric_rows["activity_by_hour"]
    weekday = hours[0]["weekday"]
    body = ok(results_api.get("/v1/metrics/activity_by_hour", params={"prefix": str(weekday), "limit": "1000"}))
    assert body["prefix"]["value"] == weekday
    assert [r["hour"] for r in body["rows"]] == [r["hour"] for r in by_key(
        [r for r in hours if r["weekday"] == weekday], "activity_by_hour")]
    assert body["count"] > 0
    assert ok(results_api.get("/v1/metrics/hashtags_daily", params={"prefix": "1999-01-01"}))["rows"] == []


RFC3339_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def test_timestamps_are_rfc3339_utc_and_dates_stay_dates(results_api: LiveApi,
                                                         sample_metric_rows: dict[str, list[Any]]) -> None:
    """Was: top_toots.created_at came as the stored text ``2026-10-22 15:06:50``, which JavaScript's ``new Date``
    reads as local time; a dashboard in another time zone showed the toots at the wrong hour."""
    stored = {r["status_uri"]: r["created_at"] for r in sample_metric_rows["top_toots"]}
    assert all(re.fullmatch(r"[0-9-]{10} [0-9:]{8}", text) for text in stored.values())  # what the store holds
    listed = {m["name"]: m["timestamps"] for m in ok(results_api.get("/v1/metrics"))["metrics"]}
    assert listed["top_toots"] == ["created_at"] and listed["hashtags_daily"] == []
    rows = ok(results_api.get("/v1/metrics/top_toots", params={"limit": "1000"}))["rows"]
    analysis = ok(results_api.get("/v1/analyses/top_toots", params={"n": "5"}))["rows"]
    assert len(rows) == len(stored) and analysis == [{c: r[c] for c in analysis[0]} for r in rows[:5]]
    for row in rows:
        given, text = row["created_at"], stored[row["status_uri"]]
        assert given == text.replace(" ", "T") + "Z" and RFC3339_UTC.fullmatch(given)
        moment = datetime.fromisoformat(given)  # Python 3.11 reads the Z, as JavaScript's Date does
        assert moment.utcoffset() == timedelta(0)
        assert moment == datetime.fromisoformat(text).replace(tzinfo=UTC)
    daily = ok(results_api.get("/v1/metrics/hashtags_daily", params={"limit": "5"}))["rows"]
    assert daily and all(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", r["day"]) for r in daily)


@pytest.mark.slow
def test_every_store_answers_alike(metric_store: MetricStore, sample_metric_rows: dict[str, list[Any]],
                                   sqlite_url: str, live_api: Callable[..., LiveApi]) -> None:
    load(metric_store, sample_metric_rows)
    mine, reference = live_api(settings_for(metric_store)), live_api(make_settings(store=sqlite_url))
    day = str(sample_metric_rows["hashtags_daily"][0]["day"])
    paths = [(f"/v1/analyses/{function.__name__}", {"n": "5"}) for function, _ in ANALYSES] + [
        ("/v1/metrics/account_engagement", {"limit": "20"}),
        ("/v1/metrics/top_toots", {"limit": "20"}),  # timestamps, given as RFC 3339 from each store's text
        ("/v1/metrics/hashtags_daily", {"prefix": day}),
        ("/v1/metrics/activity_by_hour", {"prefix": "2"}),
        ("/v1/metrics", {}),
    ]
    for path, query in paths:
        got, expected = ok(mine.get(path, params=query)), ok(reference.get(path, params=query))
        assert without_generation(got) == without_generation(expected), path


def without_generation(body: dict[str, Any]) -> dict[str, Any]:
    """A metric's page with its next page's cursor decoded, less the metric's generation (each store's own
    random value): the position and prefix, which every store must give alike."""
    if not body.get("next"):
        return body
    after = body["next"]["after"]
    cursor = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    assert isinstance(cursor.pop("generation"), str)
    return {**body, "next": cursor}


# -- refusals ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "query", "parameter"), [
    ("/v1/metrics/languages", {"limit": "0"}, "limit"),
    ("/v1/metrics/languages", {"limit": "1001"}, "limit"),
    ("/v1/metrics/languages", {"limit": "ten"}, "limit"),
    ("/v1/metrics/languages", {"prefix": "en", "top": "3"}, "top"),
    ("/v1/metrics/languages", {"prefix": ""}, "prefix"),
    ("/v1/metrics/languages", {"prefix": "x" * 301}, "prefix"),
    ("/v1/metrics/languages", {"n": "3"}, "n"),
    ("/v1/metrics/activity_by_hour", {"prefix": "monday"}, "prefix"),
    ("/v1/analyses/languages", {"n": "-1"}, "n"),
    ("/v1/analyses/languages", {"top": "3"}, "top"),
    ("/v1/analyses", {"n": "3"}, "n"),
    ("/v1/metrics", {"instance": "x"}, "instance"),
])
def test_bad_parameters_are_400_naming_them(results_api: LiveApi, path: str, query: dict[str, str],
                                            parameter: str) -> None:
    assert_error(results_api.get(path, params=query), 400, "invalid_parameter", parameter)


def test_repeated_parameters_are_refused(results_api: LiveApi) -> None:
    assert_error(results_api.get("/v1/metrics/languages?limit=1&limit=2"), 400, "invalid_parameter", "limit")


def test_unknown_names_are_404(results_api: LiveApi) -> None:
    body = assert_error(results_api.get("/v1/analyses/nope"), 404, "unknown_analysis")
    assert "top_accounts" in body["message"]
    assert_error(results_api.get("/v1/metrics/nope"), 404, "unknown_metric")


def test_a_metric_not_in_the_store_is_404_saying_what_to_run(tmp_path: Path, live_api: Callable[..., LiveApi],
                                                            sample_metric_rows: dict[str, list[Any]]) -> None:
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    store = open_store(url)
    load(store, {"languages": sample_metric_rows["languages"]})
    store.close()
    api = live_api(make_settings(store=url))
    listed = {a["name"]: a["stored"] for a in ok(api.get("/v1/analyses"))["analyses"]}
    assert listed["languages"] is True and listed["top_accounts"] is False
    assert ok(api.get("/v1/analyses/languages"))["rows"]
    for path in ("/v1/analyses/top_accounts", "/v1/metrics/top_accounts_by_followers"):
        body = assert_error(api.get(path), 404, "not_stored")
        assert "fediscope process" in body["message"]
    metrics = {m["name"]: m for m in ok(api.get("/v1/metrics"))["metrics"]}
    assert metrics["languages"]["rows"] == len(sample_metric_rows["languages"])
    assert metrics["top_toots"] == {**metrics["top_toots"], "stored": False, "rows": None}


def test_a_missing_sqlite_store_holds_nothing_and_is_not_created(tmp_path: Path,
                                                                  live_api: Callable[..., LiveApi]) -> None:
    path = tmp_path / "never-processed.db"
    api = live_api(make_settings(store=f"sqlite:///{path}"))
    # the lists answer as for an empty store; one metric or analysis is 404 saying what to run
    assert not any(m["stored"] for m in ok(api.get("/v1/metrics"))["metrics"])
    assert not any(a["stored"] for a in ok(api.get("/v1/analyses"))["analyses"])
    for route in ("/v1/metrics/languages", "/v1/analyses/languages"):
        body = assert_error(api.get(route), 404, "not_stored")
        assert "fediscope process" in body["message"] and str(path) not in body["message"]
    assert not path.exists()  # a GET never creates the database


def test_a_numeric_prefix_beyond_what_stores_hold_is_400(results_api: LiveApi) -> None:
    for value in ("9" * 30, "-" + "9" * 20, "nan", "inf"):
        assert_error(results_api.get("/v1/metrics/activity_by_hour", params={"prefix": value}), 400,
                     "invalid_parameter", "prefix")
    body = assert_error(results_api.get("/v1/metrics", params={"n": "1"}), 400, "invalid_parameter", "n")
    assert body["message"].endswith("this route takes no parameters")


def test_a_numeric_prefix_reads_every_64_bit_integer(results_api: LiveApi) -> None:
    """Was: -2**63 was refused (the check took the magnitude), though a cursor and every store hold it."""
    for value in (-2**63, 2**63 - 1):
        body = ok(results_api.get("/v1/metrics/activity_by_hour", params={"prefix": str(value)}))
        assert body["prefix"] == {"column": "weekday", "value": value} and body["rows"] == []
    for value in (-2**63 - 1, 2**63):
        assert_error(results_api.get("/v1/metrics/activity_by_hour", params={"prefix": str(value)}), 400,
                     "invalid_parameter", "prefix")


def test_a_numeric_prefix_of_a_metric_with_no_rows_is_still_a_number(tmp_path: Path,
                                                                      live_api: Callable[..., LiveApi]) -> None:
    """Was: the prefix column's type was read from a stored row, so on a metric left with 0 rows (a run that found
    none) prefix=abc was read as text (200) and prefix=3 as "3"; the store's catalog still types the column."""
    url = f"sqlite:///{tmp_path / 'emptied.db'}"
    store = open_store(url)
    store.write(metric("activity_by_hour"), [{"weekday": 3, "hour": 12, "toots": 5}])
    store.write(metric("activity_by_hour"), [])  # the next run's result: no rows
    store.close()
    api = live_api(make_settings(store=url))
    assert {m["name"]: m["rows"] for m in ok(api.get("/v1/metrics"))["metrics"]}["activity_by_hour"] == 0
    assert_error(api.get("/v1/metrics/activity_by_hour", params={"prefix": "abc"}), 400, "invalid_parameter",
                 "prefix")
    body = ok(api.get("/v1/metrics/activity_by_hour", params={"prefix": "3"}))
    assert body["prefix"] == {"column": "weekday", "value": 3} and body["rows"] == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_store_is_503_naming_the_setting_not_the_store(live_api: Callable[..., LiveApi]) -> None:
    port = _closed_port()
    url = f"mysql+pymysql://fediscope:s3cret-pw@127.0.0.1:{port}/metrics"
    api = live_api(make_settings(store=url))
    for path in ("/v1/analyses", "/v1/metrics", "/v1/metrics/languages", "/v1/analyses/languages"):
        response = api.get(path)
        body = assert_error(response, 503, "store_unavailable")
        assert body["setting"] == "FEDISCOPE_STORE" and "FEDISCOPE_STORE" in body["message"]
        assert "s3cret-pw" not in response.text and str(port) not in response.text and "fediscope:" not in \
            response.text
    # the scraping routes do not need the store
    assert api.get("/health").status_code == 200


def test_results_need_a_key_and_a_read_only_key_reads_them(results_api: LiveApi) -> None:
    assert_error(results_api.get("/v1/metrics", key=None), 401, "unauthorized")
    assert_error(results_api.get("/v1/analyses", key="wrong-key-0123456789"), 401, "unauthorized")
    assert ok(results_api.get("/v1/analyses/languages", key=RO_KEY))["rows"]
    assert ok(results_api.get("/v1/metrics", key=KEY))["metrics"]
