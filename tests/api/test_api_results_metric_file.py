"""A metric SQL file on the server that is not a metric (a user's own file in ``spark_jobs/sql/`` without its
``-- key:`` line, not UTF-8, or badly named): the results routes answer 500 ``metric_definition_error``, naming
neither the file nor the store (the server log has both), not 503 ``store_unavailable`` (the store is fine) nor a
bare ``internal_error``; ``fediscope serve-api`` refuses to start with one line naming the file (exit 2)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_testing import KEY, PSEUDONYM_KEY, LiveApi, assert_error, make_settings, sqlite_store_holding
from cli_run import clean_env, run

from api.openapi import build_document
from fediscope.engine import metrics as registry

ROUTES = ("/v1/analyses", "/v1/analyses/languages", "/v1/metrics", "/v1/metrics/languages")

#: file name → content: the ways a user's own metric file is refused when read (fediscope.engine.metrics)
BROKEN = {
    "no_key.sql": b"-- question: Which languages, again?\nSELECT language FROM statuses\n",
    "latin1.sql": "-- question: Quelles langues ?\n-- key: langue\nSELECT 'é' AS langue\n".encode("latin-1"),
    "Bad-Name.sql": b"-- question: Which?\n-- key: language\nSELECT language FROM statuses\n",
}


@pytest.fixture
def store_url(tmp_path: Path, sample_metric_rows: dict[str, list[Any]]) -> str:
    """A SQLite store holding the languages metric (written with the real registry)."""
    return sqlite_store_holding(tmp_path / "metrics.db", {"languages": sample_metric_rows["languages"]})


@pytest.fixture
def sql_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of spark_jobs/sql/ that the registry reads instead (nothing read from it until a test asks)."""
    copy = tmp_path / "sql"
    shutil.copytree(registry.SQL_DIR, copy)
    monkeypatch.setattr(registry, "SQL_DIR", copy)
    registry.load_metrics.cache_clear()
    yield copy
    registry.load_metrics.cache_clear()  # the real directory's metrics again for the next test


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_metric_file_is_500_metric_definition_error(name: str, store_url: str, sql_dir: Path,
                                                             live_api: Callable[..., LiveApi],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    api = live_api(make_settings(store=store_url))
    assert api.get("/v1/metrics/languages").status_code == 200  # the store and the registry are fine
    registry.load_metrics.cache_clear()  # as a server whose registry was not read yet when the file was added
    (sql_dir / name).write_bytes(BROKEN[name])
    caplog.set_level(logging.ERROR, logger="api")
    for path in ROUTES:
        response = api.get(path)
        error = assert_error(response, 500, "metric_definition_error")
        assert "metric definition" in error["message"] and "server log" in error["message"], error
        assert str(sql_dir) not in response.text and "sqlite" not in response.text and name not in response.text
        assert "Retry-After" not in response.headers
    logged = [r.getMessage() for r in caplog.records if str(sql_dir / name) in r.getMessage()]
    assert len(logged) == len(ROUTES), caplog.text  # the file and the reason, for the operator
    assert "Traceback" not in caplog.text
    (sql_dir / name).unlink()  # fixed: served again (a refused registry is not cached)
    assert api.get("/v1/analyses/languages").status_code == 200
    assert api.get("/v1/metrics").status_code == 200


def test_serve_api_with_a_broken_metric_file_refuses_to_start(tmp_path: Path, sql_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
              FEDISCOPE_LAKE=str(tmp_path / "lake"))
    (sql_dir / "no_key.sql").write_bytes(BROKEN["no_key.sql"])

    def listen(*args: Any, **kwargs: Any) -> None:
        pytest.fail("serve-api went on to listen with a broken metric file")

    monkeypatch.setattr("api.app.make_server", listen)
    code, out, err = run(capsys, "serve-api", "--port", "0")
    assert code == 2, err
    assert str(sql_dir / "no_key.sql") in err and "-- key:" in err and "not started" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_openapi_document_lists_it_on_the_results_routes() -> None:
    paths = build_document()["paths"]
    for path in ("/v1/analyses", "/v1/analyses/{name}", "/v1/metrics", "/v1/metrics/{name}"):
        assert "metric_definition_error" in paths[path]["get"]["responses"]["500"]["description"]
        assert "headers" not in paths[path]["get"]["responses"]["500"]  # no Retry-After


def test_a_timestamps_line_naming_a_column_without_timestamps_is_409_stale_metric(
        store_url: str, sql_dir: Path, live_api: Callable[..., LiveApi]) -> None:
    """A column the metric's ``-- timestamps:`` line names but whose stored values are no timestamps (the line names
    the wrong column, or the store holds what another version wrote) cannot be given as RFC 3339: 409 with the
    value's reason, not a 500 or the value as stored."""
    path = sql_dir / "languages.sql"
    path.write_text(path.read_text().replace("-- key: language\n", "-- key: language\n-- timestamps: language\n"))
    api = live_api(make_settings(store=store_url))
    error = assert_error(api.get("/v1/metrics/languages"), 409, "stale_metric")
    assert "not a UTC timestamp written YYYY-MM-DD HH:MM:SS" in error["message"], error
    error = assert_error(api.get("/v1/analyses/languages"), 409, "stale_metric")
    assert "not a UTC timestamp" in error["message"], error
