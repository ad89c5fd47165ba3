"""An own metric whose column names make a MariaDB table definition over the 64 KiB MariaDB allows (errno 1117,
``Table definition is too large``), below its 1,017 columns: refused by ``fediscope process`` before anything is
stored, naming the metric's file, and only when the server refuses it too. The pair of results is one byte apart at
the limit, as :mod:`fediscope.store.table_definition` counts it: the server stores the smaller and refuses the
larger, each written directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import clean_env, run
from metric_fixtures import land_generated_corpus, shipped_metrics_dir

import fediscope.engine.metrics as registry
from fediscope.errors import MetricFileError, StoreError
from fediscope.store.mysql import MySQLStore
from fediscope.store.port import open_store
from fediscope.store.table_definition import DEFINITION_LIMIT, definition_bytes

pytestmark = pytest.mark.mariadb

KEY = "mariadb-table-definition-test-pseudonym-key"


def _columns(last: int) -> list[str]:
    """k, 795 names of 64 characters and one of ``last``: 65,517 + ``last`` bytes of definition."""
    return ["k", *(f"{'c' * 60}{i:04d}" for i in range(795)), "z" * last]


def _sql(columns: list[str]) -> str:
    return "-- question: How wide?\n-- key: k\nSELECT " + ", ".join(
        ["'a' AS k", *(f"true AS {name}" for name in columns[1:])]) + "\n"


def test_a_result_over_mariadbs_table_definition_size_is_refused_before_anything_is_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], mariadb_url: str) -> None:
    """Was: every metric computed, the built-in ``languages`` stored, then MariaDB's CREATE TABLE refused the metric's
    table (``could not load table metric_wide: (1117, 'Table definition is too large')``, exit 1), naming no file."""
    fits, over = _columns(18), _columns(19)
    assert (definition_bytes(fits), definition_bytes(over)) == (DEFINITION_LIMIT, DEFINITION_LIMIT + 1)
    (tmp_path / "mine").mkdir()
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=mariadb_url, FEDISCOPE_METRICS_DIR=str(tmp_path / "mine"))
    land_generated_corpus(40)
    shipped_metrics_dir(tmp_path / "sql", ["languages"], monkeypatch)
    path = tmp_path / "mine" / "wide.sql"
    path.write_text(_sql(over))
    registry.load_metrics.cache_clear()
    try:
        code, out, err = run(capsys, "process")
        metric = registry.read_metric(path)
    finally:
        registry.load_metrics.cache_clear()
    assert code == 2, err
    assert err == (f"fediscope: error: metric wide ({path}): a MariaDB table of its 797 columns has a definition of "
                   "65,536 bytes as MariaDB counts it (18 a column and its name's bytes; the names take 50,900), and "
                   "MariaDB refuses one over 65,535 bytes; shorten the column names (… AS new_name), select fewer "
                   "columns, or split it into several metrics\n"), err
    store = open_store(mariadb_url)
    try:
        assert store.stored_metrics() == {}, "nothing stored: was the built-in languages, before the failing write"
        # written directly (from Python), the store refuses the larger up front alike
        with pytest.raises(MetricFileError) as refused:
            store.write(metric, [{"k": "a", **dict.fromkeys(over[1:], True)}])
        assert f"fediscope: error: {refused.value}\n" == err
        # the server's verdict on the same columns, past the store's check: the larger refused, the smaller stored
        monkeypatch.setattr(MySQLStore, "_check_storable", lambda *args, **kwargs: None)
        with pytest.raises(StoreError, match=r"\(1117, 'Table definition is too large'\)"):
            store.write(metric, [{"k": "a", **dict.fromkeys(over[1:], True)}])
        store.write(metric, [{"k": "a", **dict.fromkeys(fits[1:], True)}])
        assert store.stored_metrics() == {"wide": 1}
    finally:
        store.close()
