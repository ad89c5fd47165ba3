"""A user's own metric (``FEDISCOPE_METRICS_DIR``) holding account keys: the access export lists the account's rows
in it, and the erasure deletes them, as for a built-in metric (both read the registry with the setting)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gdpr_lake import SUBJECT

import fediscope.engine.metrics as registry
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.store.port import open_store

OWN = "toots_per_account"
OWN_SQL = ("-- question: How many toots did each account post?\n-- key: account_key\n"
           "SELECT account_key, count(*) AS toots FROM statuses GROUP BY account_key\n")


@pytest.fixture
def own_metric(landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The landed recordings processed with the built-in metrics cut to ``languages`` (no account in it) and the
    own metric of ``mine/``, keyed by account."""
    mine, built_in = tmp_path / "mine", tmp_path / "sql"
    mine.mkdir()
    built_in.mkdir()
    (mine / f"{OWN}.sql").write_text(OWN_SQL)
    shutil.copy(registry.SQL_DIR / "languages.sql", built_in)
    monkeypatch.setattr(registry, "SQL_DIR", built_in)
    registry.load_metrics.cache_clear()
    landed.settings = landed.settings.replace(metrics_dir=mine)
    run_process(landed.settings, progress=False)
    yield landed
    registry.load_metrics.cache_clear()


def _own_rows(settings) -> list[dict]:  # noqa: ANN001
    store = open_store(settings.store)
    try:
        return store.all(registry.load_metrics(own_dir=settings.metrics_dir)[OWN])
    finally:
        store.close()


def test_an_own_metrics_rows_of_the_account_are_exported_and_erased(own_metric) -> None:
    env = own_metric
    key = env.key(SUBJECT)
    assert key in {row["account_key"] for row in _own_rows(env.settings)}
    exported = export_account(env.settings, SUBJECT)
    assert [row["account_key"] for row in exported["store"][OWN]] == [key]
    report = erase_account(env.settings, SUBJECT)
    assert report.store.get(OWN) == 1, report.store
    rows = _own_rows(env.settings)
    assert rows and key not in {row["account_key"] for row in rows}


def _files(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and modification time (ns)."""
    return {str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("broken", ["no_key", "languages"])
def test_a_broken_own_metric_file_stops_the_erasure_before_anything_is_touched(
        own_metric, run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    """Was: the registry was read at the store step, after the lake had been rewritten and the account put on
    the suppression list: a broken file, or one named as a built-in metric, stopped the erasure half-way."""
    env = own_metric
    path = env.settings.metrics_dir / f"{broken}.sql"
    path.write_text("-- question: Which languages, again?\nSELECT language FROM statuses\n" if broken == "no_key"
                    else OWN_SQL)
    problem = ("missing '-- key: …' header line" if broken == "no_key"
               else f"has the name of the built-in metric {tmp_path / 'sql' / 'languages.sql'}")
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(env.settings.metrics_dir))
    registry.load_metrics.cache_clear()
    lake = _files(env.lake_dir)
    store = {name: value for name, value in _files(env.db.parent).items() if name.startswith("store.db")}
    assert store and any(path.startswith("raw/") for path in lake)

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert result.code == 2 and problem in result.err and str(path) in result.err, result.err
    assert _files(env.lake_dir) == lake
    assert {n: v for n, v in _files(env.db.parent).items() if n.startswith("store.db")} == store
    assert "nothing was erased" in result.err and len(result.err.strip().splitlines()) == 1, result.err

    # on a terminal it is refused before the confirmation is asked
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("click.confirm", lambda *a, **k: pytest.fail("the erasure was confirmed first"))
    result = run_cli("gdpr", "erase", "--account", SUBJECT)
    assert result.code == 2 and problem in result.err, result.err
    assert _files(env.lake_dir) == lake


def test_a_broken_own_metric_file_stops_the_access_export_with_one_line(
        own_metric, run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export reads the registry too (an own metric's table may hold the account's rows): a broken file is
    one line naming it, and no partial answer is written."""
    broken = own_metric.settings.metrics_dir / "no_key.sql"
    broken.write_text("-- question: Which languages, again?\nSELECT language FROM statuses\n")
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(own_metric.settings.metrics_dir))
    registry.load_metrics.cache_clear()
    out = tmp_path / "export.json"
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))
    assert result.code == 2 and f"metric no_key ({broken}): missing '-- key: …' header line" in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and not out.exists(), result.err
