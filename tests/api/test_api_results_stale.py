"""409 ``stale_metric``: a stored metric that is not what this fediscope version reads (as when another version
stored it) — its table lacks a column the schema selects, a value does not have its column's type — on both the
analysis and the metric routes; a store that cannot be read stays 503 ``store_unavailable``; a table dropped by hand
is 409 ``missing_table``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_testing import LiveApi, assert_error, make_settings

from fediscope.analysis import metric
from fediscope.store.port import open_store

METRICS = ("languages", "activity_by_hour", "hashtags_daily")


def _store(url: str, rows: dict[str, list[Any]]) -> None:
    store = open_store(url)
    try:
        for name in METRICS:
            store.write(metric(name), rows[name])
    finally:
        store.close()


@pytest.fixture
def sqlite_path(tmp_path: Path, sample_metric_rows: dict[str, list[Any]]) -> Path:
    path = tmp_path / "metrics.db"
    _store(f"sqlite:///{path}", sample_metric_rows)
    return path


def _alter(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement)
    conn.close()


def assert_stale(response: Any, metric_name: str) -> None:
    error = assert_error(response, 409, "stale_metric")
    assert f"metric {metric_name}" in error["message"] and "`fediscope process`" in error["message"]
    assert str(Path.cwd()) not in error["message"] and "sqlite" not in error["message"]


def test_a_table_without_a_column_of_the_schema_is_409(sqlite_path: Path,
                                                       live_api: Callable[..., LiveApi]) -> None:
    _alter(sqlite_path, "ALTER TABLE metric_languages DROP COLUMN share")
    api = live_api(make_settings(store=f"sqlite:///{sqlite_path}"))
    assert_stale(api.get("/v1/analyses/languages"), "languages")
    assert_stale(api.get("/v1/metrics/languages"), "languages")
    assert_stale(api.get("/v1/metrics/languages", params={"prefix": "en"}), "languages")
    assert api.get("/v1/metrics/hashtags_daily").status_code == 200  # the other metrics are served
    assert api.get("/v1/metrics").status_code == 200


def test_a_value_of_another_type_is_409(sqlite_path: Path, live_api: Callable[..., LiveApi]) -> None:
    _alter(sqlite_path, "UPDATE metric_activity_by_hour SET toots = 'lots' WHERE weekday = 1")
    api = live_api(make_settings(store=f"sqlite:///{sqlite_path}"))
    assert_stale(api.get("/v1/metrics/activity_by_hour", params={"limit": "1000"}), "activity_by_hour")
    assert_stale(api.get("/v1/metrics/activity_by_hour", params={"prefix": "1"}), "activity_by_hour")
    assert_stale(api.get("/v1/analyses/activity"), "activity_by_hour")
    assert api.get("/v1/metrics/languages").status_code == 200


def test_the_409_says_it_as_the_export_and_the_python_api_say_it(sqlite_path: Path,
                                                                  live_api: Callable[..., LiveApi]) -> None:
    """One wording of a stale metric (:func:`fediscope.analysis.stale_metric_message`): the API's said "(with this
    version)" where ``fediscope store export`` and ``fs.metric_rows`` say "with this version"."""
    _alter(sqlite_path, "UPDATE metric_activity_by_hour SET toots = 'lots' WHERE weekday = 1")
    api = live_api(make_settings(store=f"sqlite:///{sqlite_path}"))
    error = assert_error(api.get("/v1/metrics/activity_by_hour", params={"limit": "1000"}), 409, "stale_metric")
    assert error["message"] == ("metric activity_by_hour in the store does not have what this fediscope version reads "
                                "(invalid literal for int() with base 10: 'lots'), as when another fediscope version "
                                "stored it; re-run `fediscope process` with this version to store it again")


def test_a_metric_table_dropped_by_hand_is_409_missing_table(sqlite_path: Path,
                                                             live_api: Callable[..., LiveApi]) -> None:
    """Not a stale metric, nor a store that cannot be reached (was 503 ``store_unavailable``, which a client may
    retry for ever): the store answers, and `fediscope process` writes the metric again, its table made anew."""
    _alter(sqlite_path, "DROP TABLE metric_languages")
    api = live_api(make_settings(store=f"sqlite:///{sqlite_path}"))
    for path in ("/v1/analyses/languages", "/v1/metrics/languages"):
        error = assert_error(api.get(path), 409, "missing_table")
        assert error["message"] == ("metric languages: its table is missing from the metrics store (dropped by "
                                    "hand?): run `fediscope process` to write it again (`fediscope store drop "
                                    "languages` if no SQL file defines it any more)")
    assert api.get("/v1/metrics/hashtags_daily").status_code == 200  # the other metrics are served


# -- MariaDB: its "Unknown column" is a stale metric, a table the user may not read is not ----------------------

@pytest.fixture
def mariadb_stored(mariadb_url: str, sample_metric_rows: dict[str, list[Any]]) -> str:
    _store(mariadb_url, sample_metric_rows)
    return mariadb_url


@pytest.fixture
def catalog_reader(mariadb_instance: Any, mariadb_stored: str) -> Iterator[str]:
    """A user who may read the catalog and nothing else of the test database."""
    database = urlsplit(mariadb_stored).path.lstrip("/")
    user, password = "fediscope_cat", "catalog-reader-password-0123"
    with mariadb_instance._root() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT SELECT ON `{database}`.`fediscope_catalog` TO %s@'127.0.0.1'", (user,))
    yield f"mysql+pymysql://{user}:{password}@127.0.0.1:{mariadb_instance.port}/{database}"
    with mariadb_instance._root() as conn, conn.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'127.0.0.1'", (user,))


@pytest.mark.mariadb
def test_a_mariadb_table_without_a_column_of_the_schema_is_409(mariadb_instance: Any, mariadb_stored: str,
                                                               live_api: Callable[..., LiveApi]) -> None:
    database = urlsplit(mariadb_stored).path.lstrip("/")
    with mariadb_instance._root() as conn, conn.cursor() as cur:
        cur.execute(f"ALTER TABLE `{database}`.metric_languages DROP COLUMN share")
    api = live_api(make_settings(store=mariadb_stored))
    assert_stale(api.get("/v1/analyses/languages"), "languages")
    assert_stale(api.get("/v1/metrics/languages"), "languages")


@pytest.mark.mariadb
def test_a_mariadb_table_the_user_may_not_read_is_503(catalog_reader: str,
                                                      live_api: Callable[..., LiveApi]) -> None:
    api = live_api(make_settings(store=catalog_reader))
    assert api.get("/v1/metrics").json()["metrics"]  # the catalog is read
    for path in ("/v1/analyses/languages", "/v1/metrics/languages"):
        assert_error(api.get(path), 503, "store_unavailable")


def test_a_posted_days_without_a_column_leaves_the_analyses_listed_with_no_period(
        tmp_path: Path, sample_metric_rows: dict[str, list[Any]], live_api: Callable[..., LiveApi]) -> None:
    """The list of analyses reads the report's period from ``posted_days``: one the store holds as another version
    wrote it gives ``"period": null`` (the report too goes on without it), not a 409 of the whole list."""
    path = tmp_path / "metrics.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.write(metric("posted_days"), sample_metric_rows["posted_days"])
    finally:
        store.close()
    _alter(path, "ALTER TABLE metric_posted_days DROP COLUMN first_day")
    api = live_api(make_settings(store=f"sqlite:///{path}"))
    response = api.get("/v1/analyses")
    assert response.status_code == 200, response.text
    assert response.json()["period"] is None
    assert_stale(api.get("/v1/metrics/posted_days"), "posted_days")


def test_a_stored_timestamp_beyond_the_year_9999_in_utc_is_409(tmp_path: Path, sample_metric_rows: dict[str, list[Any]],
                                                                live_api: Callable[..., LiveApi]) -> None:
    """``top_toots.created_at`` (a ``-- timestamps:`` column) holding a moment that is past the year 9999 once in UTC:
    was a 500 ``internal_error`` (an OverflowError converting it), on the analysis and the metric routes alike."""
    rows = [dict(row) for row in sample_metric_rows["top_toots"]]
    rows[0]["created_at"] = "9999-12-31 23:30:00-01:00"
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        store.write(metric("top_toots"), rows)
    finally:
        store.close()
    api = live_api(make_settings(store=url))
    for path in ("/v1/analyses/top_toots", "/v1/metrics/top_toots"):
        response = api.get(path, params={"n" if "analyses" in path else "limit": str(len(rows))})
        assert_stale(response, "top_toots")
        assert "not a UTC timestamp between the years 1 and 9999: '9999-12-31 23:30:00-01:00'" in response.json()[
            "error"]["message"]


def test_the_report_says_a_stale_analysis_as_the_409_says_it(sqlite_path: Path,
                                                            live_api: Callable[..., LiveApi]) -> None:
    """An analysis of a metric this version does not read, in ``fediscope report`` and ``fs.analyses``' ``failed``:
    was "metric activity_by_hour: …; its SQL and fediscope/analysis.py disagree (re-run `fediscope process` after
    updating fediscope)", the same case as the 409 ``stale_metric`` in other words and another fix."""
    from fediscope.analysis import run_analyses

    _alter(sqlite_path, "UPDATE metric_activity_by_hour SET toots = 'lots' WHERE weekday = 1")
    api = live_api(make_settings(store=f"sqlite:///{sqlite_path}"))
    error = assert_error(api.get("/v1/analyses/activity"), 409, "stale_metric")
    store = open_store(f"sqlite:///{sqlite_path}")
    try:
        failed = run_analyses(store).failed
    finally:
        store.close()
    assert failed["activity"] == error["message"]
    assert error["message"] == ("metric activity_by_hour in the store does not have what analysis activity reads "
                                "(invalid literal for int() with base 10: 'lots'), as when another fediscope version "
                                "stored it; re-run `fediscope process` with this version to store it again")
