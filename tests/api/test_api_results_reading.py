"""The results routes only read: they never create a store, a catalog or a table, so a SELECT-only database user
(infra/mariadb/bootstrap.sql's fediscope_ro, for BI tools) can serve them; and the names and prefixes they take
are checked against what the OpenAPI document says.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_testing import LiveApi, assert_error, make_settings
from cli_run import run

from fediscope.analysis import ANALYSES, metric
from fediscope.engine.metrics import load_metrics
from fediscope.store.port import open_store


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def assert_nothing_stored(api: LiveApi) -> None:
    metrics = ok(api.get("/v1/metrics"))["metrics"]
    assert [m["name"] for m in metrics] == sorted(load_metrics())
    assert all(m["stored"] is False and m["rows"] is None for m in metrics)
    analyses = ok(api.get("/v1/analyses"))["analyses"]
    assert [a["name"] for a in analyses] == [function.__name__ for function, _ in ANALYSES]
    assert all(a["stored"] is False for a in analyses)
    for path in ("/v1/metrics/languages", "/v1/analyses/languages"):
        assert "fediscope process" in assert_error(api.get(path), 404, "not_stored")["message"]


# -- a store that does not hold anything yet -------------------------------------------------------------------

def test_a_missing_sqlite_file_lists_nothing_stored_and_is_not_created(tmp_path: Path,
                                                                      live_api: Callable[..., LiveApi]) -> None:
    path = tmp_path / "nonexistent" / "x.db"
    api = live_api(make_settings(store=f"sqlite:///{path}"))
    assert_nothing_stored(api)
    assert not path.parent.exists()  # neither the file nor its directory


def test_an_empty_sqlite_store_lists_the_same(tmp_path: Path, live_api: Callable[..., LiveApi]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    assert_nothing_stored(live_api(make_settings(store=url)))


def test_a_sqlite_file_without_a_catalog_is_read_and_left_untouched(tmp_path: Path,
                                                                    live_api: Callable[..., LiveApi]) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    before = path.read_bytes()
    api = live_api(make_settings(store=f"sqlite:///{path}"))
    assert_nothing_stored(api)
    assert tables(path) == {"notes"}  # no fediscope_catalog created by a GET
    assert path.read_bytes() == before


def test_a_corrupt_sqlite_file_is_503_and_nothing_is_written(tmp_path: Path, live_api: Callable[..., LiveApi],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    api = live_api(make_settings(store=f"sqlite:///{path}"))
    with caplog.at_level(logging.WARNING, logger="api.results"):
        assert_error(api.get("/v1/metrics"), 503, "store_unavailable")
    assert "create" not in caplog.text and "could not open the store: file is not a database" in caplog.text
    assert path.read_bytes() == before


# -- a SELECT-only MariaDB user (what infra/mariadb/bootstrap.sql grants fediscope_ro) ---------------------------

READER, READER_PASSWORD = "fediscope_ro", "reader-test-password-0123"


@pytest.fixture
def reader_url(mariadb_instance: Any, mariadb_url: str) -> Iterator[str]:
    """The test database, as a user with SELECT on it and nothing else."""
    database = urlsplit(mariadb_url).path.lstrip("/")
    with mariadb_instance._root() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (READER, READER_PASSWORD))
        cur.execute(f"GRANT SELECT ON `{database}`.* TO %s@'127.0.0.1'", (READER,))
    yield f"mysql+pymysql://{READER}:{READER_PASSWORD}@127.0.0.1:{mariadb_instance.port}/{database}"
    with mariadb_instance._root() as conn, conn.cursor() as cur:
        cur.execute(f"REVOKE ALL PRIVILEGES ON `{database}`.* FROM %s@'127.0.0.1'", (READER,))


@pytest.mark.mariadb
def test_a_select_only_user_serves_an_empty_database(reader_url: str, live_api: Callable[..., LiveApi]) -> None:
    assert_nothing_stored(live_api(make_settings(store=reader_url)))


@pytest.mark.mariadb
def test_a_select_only_user_serves_the_stored_metrics(mariadb_url: str, reader_url: str,
                                                      live_api: Callable[..., LiveApi],
                                                      sample_metric_rows: dict[str, list[Any]], capsys: Any) -> None:
    writer = open_store(mariadb_url)
    try:
        writer.write(metric("languages"), sample_metric_rows["languages"])
    finally:
        writer.close()
    api = live_api(make_settings(store=reader_url))
    listed = {m["name"]: m for m in ok(api.get("/v1/metrics"))["metrics"]}
    assert listed["languages"]["rows"] == len(sample_metric_rows["languages"])
    assert ok(api.get("/v1/metrics/languages", params={"limit": "3"}))["count"] == 3
    assert ok(api.get("/v1/analyses/languages"))["rows"]
    # fediscope report reads through the same read-only opening
    code, out, err = run(capsys, "report", "--store", reader_url, "--format", "json", "--no-charts")
    assert code == 0, err
    assert '"languages"' in out


# -- names and prefixes as the OpenAPI document gives them -----------------------------------------------------

@pytest.fixture
def stored_api(tmp_path: Path, live_api: Callable[..., LiveApi], sample_metric_rows: dict[str, list[Any]]) -> LiveApi:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        for name in ("languages", "activity_by_hour", "hashtags_daily"):
            store.write(metric(name), sample_metric_rows[name])
    finally:
        store.close()
    return live_api(make_settings(store=url))


@pytest.mark.parametrize("name", ["Languages", "x" * 5000, "x" * 65, "lang-uages", "languages%20"])
def test_a_name_outside_the_documented_pattern_is_400(stored_api: LiveApi, name: str) -> None:
    for route in ("/v1/metrics/", "/v1/analyses/"):
        error = assert_error(stored_api.get(route + name), 400, "invalid_parameter", "name")
        assert "[a-z0-9_]" in error["message"]


def test_a_name_of_the_pattern_that_is_not_known_is_still_404(stored_api: LiveApi) -> None:
    assert_error(stored_api.get("/v1/metrics/nope"), 404, "unknown_metric")
    assert_error(stored_api.get("/v1/analyses/nope"), 404, "unknown_analysis")


@pytest.mark.parametrize("raw", [" 3", "3 ", "03", "+3", "3.0", "3_0", "%ff", "%203"])
def test_a_numeric_prefix_must_be_the_numbers_exact_text(stored_api: LiveApi, raw: str) -> None:
    response = stored_api.get(f"/v1/metrics/activity_by_hour?prefix={raw}")
    assert_error(response, 400, "invalid_parameter", "prefix")


def test_a_numeric_prefix_in_its_exact_text_is_read(stored_api: LiveApi,
                                                    sample_metric_rows: dict[str, list[Any]]) -> None:
    weekday = sample_metric_rows["activity_by_hour"][0]["weekday"]
    body = ok(stored_api.get(f"/v1/metrics/activity_by_hour?prefix={weekday}"))
    assert body["prefix"]["value"] == weekday and body["count"] > 0


def test_a_text_prefix_with_an_invalid_utf8_escape_is_400(stored_api: LiveApi) -> None:
    assert_error(stored_api.get("/v1/metrics/hashtags_daily?prefix=%ff"), 400, "invalid_parameter", "prefix")
    assert_error(stored_api.get("/v1/metrics/languages?prefix=a%e9b"), 400, "invalid_parameter", "prefix")
    # a valid escape is text like any other
    assert ok(stored_api.get("/v1/metrics/languages?prefix=%C3%A9"))["rows"] == []


def test_a_sqlite_store_deleted_or_replaced_is_read_again(tmp_path: Path, live_api: Callable[..., LiveApi],
                                                          sample_metric_rows: dict[str, list[Any]]) -> None:
    """Was: the store, once opened, was kept for the life of the server: after its file was deleted, or replaced
    (a backup restored with mv, `python -m fediscope.demo --fresh`), the API went on serving the old rows."""
    path = tmp_path / "metrics.db"
    rows = sample_metric_rows["languages"]

    def store(languages: list[dict[str, Any]]) -> None:
        writer = open_store(f"sqlite:///{path}")
        try:
            writer.write(metric("languages"), languages)
        finally:
            writer.close()

    store(rows)
    api = live_api(make_settings(store=f"sqlite:///{path}"))
    assert ok(api.get("/v1/metrics/languages"))["count"] == len(rows)

    for leftover in tmp_path.glob("metrics.db*"):
        leftover.unlink()
    assert_error(api.get("/v1/metrics/languages"), 404, "not_stored")
    assert not path.exists()  # and not created again by the read

    store(rows[:1])
    assert ok(api.get("/v1/metrics/languages"))["count"] == 1

    backup = tmp_path / "backup.db"
    path.rename(backup)
    store(rows)  # written anew at the path
    assert ok(api.get("/v1/metrics/languages"))["count"] == len(rows)
    backup.replace(path)  # and the backup restored over it
    assert ok(api.get("/v1/metrics/languages"))["count"] == 1
