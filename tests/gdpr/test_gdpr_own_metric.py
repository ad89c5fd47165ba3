"""A user's own metric (``FEDISCOPE_METRICS_DIR``) holding account keys: the access export lists the account's rows
in it, and the erasure deletes them, as for a built-in metric (both read the registry with the setting)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from gdpr_lake import SUBJECT

import fediscope.engine.metrics as registry
from fediscope.analysis import metric as stored_metric
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.store.port import store_from_settings

OWN = "toots_per_account"
OWN_SQL = ("-- question: How many toots did each account post?\n-- key: account_key\n"
           "SELECT account_key, count(*) AS toots FROM statuses GROUP BY account_key\n")


#: Own metrics keyed by a status and naming no account: by its id on an instance (either instance column of the
#: curated statuses), by its origin_ref, and by its link.
BY_STATUS = {
    "favourites_by_home_and_id": "-- key: instance, status_id\nSELECT instance, status_id, favourites_count "
                                 "FROM statuses WHERE NOT is_reblog\n",
    "favourites_by_fetched_id": "-- key: fetched_from, status_id\nSELECT fetched_from, status_id, "
                                "favourites_count FROM statuses WHERE NOT is_reblog\n",
    "favourites_by_origin": "-- key: origin_ref\nSELECT origin_ref, max(favourites_count) AS favourites "
                            "FROM statuses WHERE NOT is_reblog AND origin_ref IS NOT NULL GROUP BY origin_ref\n",
    "favourites_by_uri": "-- key: uri\nSELECT uri, favourites_count FROM statuses WHERE NOT is_reblog\n",
}


def _process_with(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own: dict[str, str]):  # noqa: ANN001
    """Process ``env``'s lake with the built-in metrics cut to ``languages`` (no account in it) and the own
    metrics ``own`` (name → SQL after the question line) of ``mine/``."""
    mine, built_in = tmp_path / "mine", tmp_path / "sql"
    mine.mkdir()
    built_in.mkdir()
    for name, sql in own.items():
        (mine / f"{name}.sql").write_text(f"-- question: {name}?\n{sql}")
    shutil.copy(registry.SQL_DIR / "languages.sql", built_in)
    monkeypatch.setattr(registry, "SQL_DIR", built_in)
    registry.load_metrics.cache_clear()
    env.settings = env.settings.replace(metrics_dir=mine)
    run_process(env.settings, progress=False)
    return env


@pytest.fixture
def own_metric(landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The landed recordings processed with the own metric of ``mine/``, keyed by account."""
    yield _process_with(landed, tmp_path, monkeypatch, {OWN: OWN_SQL.split("\n", 1)[1]})
    registry.load_metrics.cache_clear()


@pytest.fixture(params=["sqlite", "hbase"])
def own_metric_on(request: pytest.FixtureRequest, landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """:func:`own_metric` on a SQLite store, and on HBase (the Thrift double)."""
    if request.param == "hbase":
        landed.settings = landed.settings.replace(store=request.getfixturevalue("hbase_double").url,
                                                  hbase_table_prefix=f"t{uuid.uuid4().hex[:10]}")
    yield _process_with(landed, tmp_path, monkeypatch, {OWN: OWN_SQL.split("\n", 1)[1]})
    registry.load_metrics.cache_clear()


@pytest.fixture
def by_status(landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The landed recordings processed with the own metrics keyed by a status (:data:`BY_STATUS`)."""
    yield _process_with(landed, tmp_path, monkeypatch, BY_STATUS)
    registry.load_metrics.cache_clear()


def _own_rows(settings, name: str = OWN) -> list[dict]:  # noqa: ANN001
    store = store_from_settings(settings)
    try:
        return store.all(registry.load_metrics(own_dir=settings.metrics_dir)[name])
    finally:
        store.close()


def _stored_rows(settings, name: str) -> list[dict]:  # noqa: ANN001
    """Every row of ``name`` as the store holds it, without its SQL file (the store reads by the metric's name)."""
    store = store_from_settings(settings)
    try:
        return store.all(stored_metric(name))
    finally:
        store.close()


def _statuses_of(env, account: str) -> list[dict]:  # noqa: ANN001
    """The curated statuses (not boosts) of ``account``."""
    import pyarrow.parquet as pq

    key = env.key(account)
    return [row for path in sorted((env.lake_dir / "curated" / "statuses").rglob("*.parquet"))
            for row in pq.read_table(path).to_pylist() if row["account_key"] == key and not row["is_reblog"]]


def _identity(metric: str, row: dict) -> tuple:
    """The key of ``metric``'s row for a curated status row (or for a row of the metric itself)."""
    columns = BY_STATUS[metric].split("\n", 1)[0].removeprefix("-- key: ").split(", ")
    return tuple(str(row[column]) for column in columns)


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


@pytest.mark.parametrize("metric", sorted(BY_STATUS))
def test_an_own_metric_keyed_by_the_accounts_statuses_loses_their_rows(by_status, metric: str) -> None:
    """Keyed by a status, the rows name no account; they are the account's statuses all the same. Without erasing
    them, the results API served them until the next ``fediscope process``."""
    env = by_status
    own = {_identity(metric, row) for row in _statuses_of(env, SUBJECT)}
    assert own, "the recordings hold statuses of the subject"
    before = {_identity(metric, row) for row in _own_rows(env.settings, metric)}
    assert own <= before
    exported = export_account(env.settings, SUBJECT)
    assert {_identity(metric, row) for row in exported["store"][metric]} == own
    report = erase_account(env.settings, SUBJECT)
    assert report.store.get(metric) == len(own), report.store
    # exactly the account's: the other statuses' rows stay
    assert {_identity(metric, row) for row in _own_rows(env.settings, metric)} == before - own


def test_a_status_keyed_metric_whose_key_changed_since_the_store_was_written_loses_the_rows_too(by_status) -> None:
    """The store's rows are keyed by the key it recorded; with the metric's file now naming another key, the
    erasure still deletes exactly the account's rows, by the recorded key (was: by their status id alone, other
    statuses' rows of the same id going too)."""
    env = by_status
    metric = "favourites_by_home_and_id"
    own = {_identity(metric, row) for row in _statuses_of(env, SUBJECT)}
    before = {_identity(metric, row) for row in _own_rows(env.settings, metric)}
    path = env.settings.metrics_dir / f"{metric}.sql"
    path.write_text(path.read_text().replace("-- key: instance, status_id", "-- key: status_id"))
    registry.load_metrics.cache_clear()
    report = erase_account(env.settings, SUBJECT)
    assert report.store[metric] == len(own), report.store
    assert {_identity(metric, row) for row in _stored_rows(env.settings, metric)} == before - own


def _without_its_file(env, how: str):  # noqa: ANN001
    """The settings of a shell where the own metrics' SQL files are not read: ``unset`` (FEDISCOPE_METRICS_DIR not
    set) or ``deleted`` (the file gone, the directory still set)."""
    registry.load_metrics.cache_clear()
    if how == "unset":
        return env.settings.replace(metrics_dir=None)
    for path in env.settings.metrics_dir.glob("*.sql"):
        path.unlink()
    return env.settings


@pytest.mark.parametrize("how", ["unset", "deleted"])
def test_an_own_metric_without_its_file_is_exported_and_erased_all_the_same(own_metric_on, how: str) -> None:
    """The store keeps an own metric's rows whatever this shell's FEDISCOPE_METRICS_DIR says (``fediscope report``
    shows them): the export lists the account's and the erasure deletes them, by the key the store recorded. Was:
    both went through the registry alone, and the rows stayed."""
    env = own_metric_on
    key = env.key(SUBJECT)
    before = _own_rows(env.settings)
    assert key in {row["account_key"] for row in before}
    settings = _without_its_file(env, how)
    assert OWN not in registry.load_metrics(own_dir=settings.metrics_dir)
    exported = export_account(settings, SUBJECT)
    assert [row["account_key"] for row in exported["store"][OWN]] == [key]
    report = erase_account(settings, SUBJECT)
    assert report.store.get(OWN) == 1, report.store
    rows = _stored_rows(settings, OWN)
    assert sorted(map(str, rows)) == sorted(str(row) for row in before if row["account_key"] != key)
    assert OWN not in export_account(settings, SUBJECT)["store"]


def test_status_keyed_own_metrics_without_their_files_lose_the_accounts_statuses(by_status) -> None:
    """The status-identity matching (instance or fetched_from with status_id, origin_ref, a status link) works by
    the recorded schema too: exactly the account's statuses' rows go, exported first."""
    env = by_status
    own = {metric: {_identity(metric, row) for row in _statuses_of(env, SUBJECT)} for metric in BY_STATUS}
    before = {metric: {_identity(metric, row) for row in _own_rows(env.settings, metric)} for metric in BY_STATUS}
    assert all(own.values()) and all(own[m] <= before[m] for m in BY_STATUS)
    settings = _without_its_file(env, "unset")
    exported = export_account(settings, SUBJECT)
    assert {m: {_identity(m, row) for row in exported["store"].get(m, [])} for m in BY_STATUS} == own
    report = erase_account(settings, SUBJECT)
    assert {m: report.store.get(m) for m in BY_STATUS} == {m: len(own[m]) for m in BY_STATUS}
    assert {m: {_identity(m, row) for row in _stored_rows(settings, m)} for m in BY_STATUS} == \
        {m: before[m] - own[m] for m in BY_STATUS}


def test_tables_no_catalog_entry_lists_are_named_by_the_erasure_and_the_export(own_metric, run_cli, caplog) -> None:
    """A table left without a catalog entry (a removal stopped half-way) cannot be read without a recorded schema:
    the erasure and the export say so, naming it and how to remove it, instead of answering as if it were searched."""
    import sqlite3

    env = own_metric
    with sqlite3.connect(env.db) as conn:
        conn.execute("CREATE TABLE metric_old_thing (account_key TEXT PRIMARY KEY, n INTEGER)")
        conn.execute("INSERT INTO metric_old_thing VALUES (?, 1)", (env.key(SUBJECT),))
    conn.close()
    registry.load_metrics.cache_clear()
    named = ("metric_old_thing (metric old_thing)", "`fediscope store drop old_thing`")
    result = run_cli("gdpr", "export", "--account", SUBJECT)
    assert result.code == 0 and all(part in result.err for part in named), result.err
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    warning = next(line for line in result.err.splitlines() if "no catalog entry lists" in line)
    assert result.code == 0 and warning.startswith("fediscope: warning: ") and all(p in warning for p in named)
    assert "toots_per_account" not in warning  # listed, and erased
