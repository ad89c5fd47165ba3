"""A metric whose SQL file was deleted: ``fediscope process`` names it in its summary (text and --json), and
``fediscope store drop NAME`` removes its table, catalog entry and kept results, refusing a metric that still has
its file, a name the store does not hold, no confirmation, and a lake another run has locked. A metric's table left
without a catalog entry (a first write killed half-way) is dropped the same way, and ``fediscope doctor`` names
it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cli_run import clean_env, run
from lock_holders import lock_document
from metric_fixtures import land_generated_corpus, shipped_metrics_dir

import fediscope.engine.metrics as registry
from fediscope.engine.metric_state import SNAPSHOT_ROOT, store_id

KEY = "cli-store-drop-test-pseudonym-key"
KEPT = ["languages", "bot_share"]  # two shipped metrics: a quick run that still has something to keep


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """No FEDISCOPE_* from the caller, cwd in tmp_path, a lake holding a small generated corpus, a SQLite store, and
    the registry reading a directory of its own holding two shipped metrics and ``my_old_metric`` (a copy of one)."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}")
    land_generated_corpus(40)
    sql = shipped_metrics_dir(tmp_path / "sql", KEPT, monkeypatch)
    shutil.copy(sql / "languages.sql", sql / "my_old_metric.sql")
    yield tmp_path
    registry.load_metrics.cache_clear()


def _tables(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "store.db") as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _kept(tmp_path: Path) -> Path:
    """The kept results of the test's store in the lake (where ``fediscope process`` keeps them)."""
    from fediscope.config import load_settings

    settings = load_settings()
    return tmp_path / "lake" / SNAPSHOT_ROOT / store_id(settings.store, settings.hbase_table_prefix)


def _process_then_delete_the_file(cli_env: Path, capsys) -> None:
    code, out, err = run(capsys, "process", "--json")
    assert code == 0, err
    assert json.loads(out)["stored_metrics_without_sql_file"] == []
    assert (_kept(cli_env) / "my_old_metric.parquet").is_file()
    (cli_env / "sql" / "my_old_metric.sql").unlink()
    registry.load_metrics.cache_clear()


def test_process_names_a_stored_metric_whose_sql_file_is_gone(cli_env, capsys):
    code, out, err = run(capsys, "process")
    assert code == 0, err
    assert "no SQL file" not in out
    (cli_env / "sql" / "my_old_metric.sql").unlink()
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process")
    assert code == 0, err
    assert out.rstrip().endswith("; the store holds 1 metric with no SQL file any more: my_old_metric "
                                 "(`fediscope store drop my_old_metric` removes it)")
    (cli_env / "sql" / "bot_share.sql").unlink()
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["stored_metrics_without_sql_file"] == ["bot_share", "my_old_metric"]
    assert sorted(summary["metrics"]) == ["languages"]


def test_store_drop_removes_the_table_catalog_entry_and_kept_results(cli_env, capsys):
    _process_then_delete_the_file(cli_env, capsys)
    assert "metric_my_old_metric" in _tables(cli_env)
    code, out, err = run(capsys, "store", "drop", "my_old_metric", "--yes", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document.pop("rows") > 0
    assert document == {"metric": "my_old_metric", "store": f"sqlite:///{cli_env / 'store.db'}", "dropped": True,
                        "leftover_tables": [], "kept_results_deleted": True}
    assert _tables(cli_env) == {"fediscope_catalog", "metric_languages", "metric_bot_share"}
    assert not (_kept(cli_env) / "my_old_metric.parquet").exists()
    assert sorted(json.loads((_kept(cli_env) / "index.json").read_text())["metrics"]) == ["bot_share", "languages"]
    assert not (cli_env / "lake" / "_state" / "process.lock").exists()  # the lock it held is released
    code, out, err = run(capsys, "process")
    assert code == 0, err
    assert "no SQL file" not in out
    code, out, err = run(capsys, "store", "drop", "my_old_metric", "--yes")  # gone now: unknown
    assert code == 2 and "holds no metric 'my_old_metric'" in err


def test_store_drop_says_what_it_dropped(cli_env, capsys):
    _process_then_delete_the_file(cli_env, capsys)
    code, out, err = run(capsys, "store", "drop", "my_old_metric", "--yes")
    assert code == 0, err
    assert out.startswith("dropped metric my_old_metric (") and out.rstrip().endswith(
        f"rows) from sqlite:///{cli_env / 'store.db'}; deleted its kept results from the lake")


def test_store_drop_refuses_a_metric_that_still_has_its_sql_file(cli_env, capsys):
    code, _, err = run(capsys, "process")
    assert code == 0, err
    code, out, err = run(capsys, "store", "drop", "languages", "--yes")
    assert (code, out) == (2, "")
    assert err.strip() == ("fediscope: error: metric languages still has its SQL file "
                           f"{cli_env / 'sql' / 'languages.sql'}: delete the file first (while it exists, "
                           "`fediscope process` stores the metric again)")
    assert "metric_languages" in _tables(cli_env)


def test_store_drop_refuses_a_name_the_store_does_not_hold_listing_those_it_does(cli_env, capsys):
    code, out, err = run(capsys, "store", "drop", "nothing_here", "--yes")  # no store file yet: created by nothing
    assert code == 2 and "the metrics it holds: none" in err
    assert not (cli_env / "store.db").exists()
    _process_then_delete_the_file(cli_env, capsys)
    code, out, err = run(capsys, "store", "drop", "nothing_here", "--yes", "--json")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"fediscope: error: the store sqlite:///{cli_env / 'store.db'} holds no metric "
                           "'nothing_here'; the metrics it holds: bot_share, languages, my_old_metric")
    assert json.loads(out)["error"]["exit_code"] == 2


def test_store_drop_without_a_terminal_needs_yes_and_drops_nothing(cli_env, capsys):
    _process_then_delete_the_file(cli_env, capsys)
    code, out, err = run(capsys, "store", "drop", "my_old_metric")
    assert code == 2  # was 1, where `gdpr erase` refused with 2: a usage error, as the README says of it
    assert err.strip() == ("fediscope: error: not dropped: there is no terminal to confirm on; add --yes to drop "
                           "the metric")
    assert "metric_my_old_metric" in _tables(cli_env)
    assert (_kept(cli_env) / "my_old_metric.parquet").is_file()


def test_store_drop_waits_for_no_run_it_fails_while_the_lake_is_locked(cli_env, capsys, live_pid):
    _process_then_delete_the_file(cli_env, capsys)
    (cli_env / "lake" / "_state" / "process.lock").write_bytes(lock_document(live_pid))
    code, out, err = run(capsys, "store", "drop", "my_old_metric", "--yes")
    assert code == 1 and "fediscope process" in err and "Traceback" not in err
    assert "metric_my_old_metric" in _tables(cli_env)
    assert (_kept(cli_env) / "my_old_metric.parquet").is_file()


def _leftover(cli_env: Path, name: str) -> None:
    """The table of metric ``name`` as a first write killed before the catalog listed the metric leaves it."""
    from fediscope.config import load_settings
    from fediscope.engine.metrics import Metric
    from fediscope.errors import StoreError
    from fediscope.store.port import store_from_settings

    store = store_from_settings(load_settings())

    def killed(*_: object) -> None:
        raise StoreError("killed (injected)")

    store._save_schema = killed  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="injected"):
        store.write(Metric(name, "Half written?", ("tag",), ""), [{"tag": "python", "uses": 2}])
    store.close()
    assert f"metric_{name}" in _tables(cli_env)


def test_store_drop_removes_a_leftover_table_no_catalog_entry_lists(cli_env, capsys):
    code, _, err = run(capsys, "process")
    assert code == 0, err
    _leftover(cli_env, "half_written")
    before = _tables(cli_env)
    code, out, err = run(capsys, "store", "drop", "half_written")  # no terminal here: the question is not skipped
    assert code == 2 and "add --yes" in err and _tables(cli_env) == before
    code, out, err = run(capsys, "store", "drop", "half_written", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out) == {"metric": "half_written", "store": f"sqlite:///{cli_env / 'store.db'}", "rows": None,
                               "dropped": True, "leftover_tables": ["metric_half_written"],
                               "kept_results_deleted": False}
    assert _tables(cli_env) == before - {"metric_half_written"}
    code, out, err = run(capsys, "store", "drop", "half_written", "--yes")  # gone now: unknown
    assert code == 2 and "holds no metric 'half_written'" in err


def test_store_drop_removes_what_a_stopped_load_left_beside_a_listed_metric(cli_env, capsys):
    """A MariaDB load stopped before its RENAME leaves ``_new_<metric>`` beside the metric's table (made by hand
    here: SQLite loads in one transaction); dropping the metric removes it too, and says so."""
    _process_then_delete_the_file(cli_env, capsys)
    with sqlite3.connect(cli_env / "store.db") as conn:
        conn.execute("CREATE TABLE _new_my_old_metric (language TEXT PRIMARY KEY, toots BIGINT)")
    code, out, err = run(capsys, "store", "drop", "my_old_metric", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["leftover_tables"] == ["_new_my_old_metric"]
    assert not {"metric_my_old_metric", "_new_my_old_metric"} & _tables(cli_env)


def test_store_drop_says_it_dropped_a_leftover_table(cli_env, capsys):
    code, _, err = run(capsys, "process")
    assert code == 0, err
    _leftover(cli_env, "half_written")
    code, out, err = run(capsys, "store", "drop", "half_written", "--yes")
    assert (code, out) == (0, f"dropped the leftover table(s) metric_half_written of metric half_written, which no "
                              f"catalog entry lists from sqlite:///{cli_env / 'store.db'}\n"), err


def test_doctor_names_a_leftover_table_and_the_command_that_removes_it(cli_env, capsys):
    """Only tables of metrics without a SQL file: the next first write of one that has its file replaces its
    table."""
    from fediscope.config import load_settings
    from fediscope.doctor import OK, WARN, check_store

    _leftover(cli_env, "my_old_metric")  # a first write of a metric with its SQL file, stopped: no leftover
    assert check_store(load_settings()).status == OK
    _leftover(cli_env, "half_written")
    check = check_store(load_settings())
    assert check.status == WARN, check
    assert check.detail == (f"sqlite:///{cli_env / 'store.db'}: connected, 0 metric(s) stored; table(s) no catalog "
                            "entry lists, left by an interrupted write or an older fediscope: metric_half_written "
                            "(metric half_written)")
    assert check.fix == "remove them: fediscope store drop half_written"
    code, _, err = run(capsys, "store", "drop", "half_written", "--yes")
    assert code == 0, err
    code, _, err = run(capsys, "process")  # writes my_old_metric over the table its stopped first write left
    assert code == 0, err
    check = check_store(load_settings())
    assert check.status == OK and "3 metric(s) stored" in check.detail, check


def test_doctor_takes_a_metric_of_the_metrics_dir_for_one_with_its_sql_file(cli_env, capsys, monkeypatch):
    """A leftover table of an own metric (FEDISCOPE_METRICS_DIR) is no leftover either: its file defines it."""
    from fediscope.config import load_settings
    from fediscope.doctor import OK, check_store

    own = cli_env / "own"
    own.mkdir()
    (own / "my_own_metric.sql").write_text("-- question: Mine?\n-- key: tag\nSELECT 'x' AS tag\n")
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(own))
    _leftover(cli_env, "my_own_metric")
    check = check_store(load_settings())
    assert check.status == OK, check


def test_store_drop_refuses_a_directory_that_is_no_lake_before_dropping(cli_env, capsys):
    """Was: pointed at the directory above the lake, the metric was dropped from the store, the lake lock taken there
    (creating _state/ beside the lake) and the real lake's kept results left behind."""
    _process_then_delete_the_file(cli_env, capsys)
    code, out, err = run(capsys, "store", "drop", "my_old_metric", "--yes", "--lake", str(cli_env))
    assert (code, out) == (1, "")
    assert err == (f"fediscope: error: no lake at {cli_env}: it holds none of a lake's directories (raw/, curated/, "
                   "quarantine/, _state/, _audit/); point --lake at the lake's own directory, not one above it; "
                   "nothing was dropped\n")
    assert "metric_my_old_metric" in _tables(cli_env) and (_kept(cli_env) / "my_old_metric.parquet").is_file()
    assert not (cli_env / "_state").exists()
    code, _out, err = run(capsys, "store", "drop", "my_old_metric", "--yes")  # the lake itself
    assert code == 0, err
    assert "metric_my_old_metric" not in _tables(cli_env) and not (_kept(cli_env) / "my_old_metric.parquet").exists()
