"""A user's own metric (``FEDISCOPE_METRICS_DIR``) holding account keys: the access export lists the account's rows
in it, and the erasure deletes them, as for a built-in metric (both search every metric the store lists, by the key
the store recorded, never the metric files)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from gdpr_lake import SUBJECT, files_holding, store_files
from non_public_statuses import visible

import fediscope.engine.metrics as registry
from fediscope.analysis import metric as stored_metric
from fediscope.engine.process import run_process
from fediscope.errors import MetricFileError
from fediscope.gdpr.erase import AUDIT_PATH, erase_account, find_traces
from fediscope.gdpr.export import export_account
from fediscope.gdpr.subject import subject_from_settings
from fediscope.gdpr.suppression import SUPPRESSED_PATH
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
    """The curated statuses (not boosts) of ``account`` that metrics see (not the markers of those not public)."""
    import pyarrow.parquet as pq

    key = env.key(account)
    return [row for path in sorted((env.lake_dir / "curated" / "statuses").rglob("*.parquet"))
            for row in visible(pq.read_table(path).to_pylist()) if row["account_key"] == key and not row["is_reblog"]]


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


def _break_own_metric_file(env, monkeypatch: pytest.MonkeyPatch, broken: str) -> Path:  # noqa: ANN001
    """An own metric file of ``env``'s FEDISCOPE_METRICS_DIR (set in the environment) that the registry refuses:
    ``no_key`` (no ``-- key:`` line) or ``languages`` (the name of a built-in metric)."""
    path = env.settings.metrics_dir / f"{broken}.sql"
    path.write_text("-- question: Which languages, again?\nSELECT language FROM statuses\n" if broken == "no_key"
                    else OWN_SQL)
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(env.settings.metrics_dir))
    registry.load_metrics.cache_clear()
    with pytest.raises(MetricFileError, match=broken):  # the registry cannot be read
        registry.load_metrics(own_dir=env.settings.metrics_dir)
    return path


@pytest.mark.parametrize("broken", ["no_key", "languages"])
def test_a_broken_or_clashing_own_metric_file_does_not_hold_up_the_erasure_nor_the_export(
        own_metric, run_cli, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    """Erasure and export search the metrics the store lists, as it recorded them, never the metric files: a file
    the registry refuses, unrelated to the account, does not delay a data subject's request. Was: both refused
    (exit 2, "nothing was erased") until somebody fixed the file."""
    env = own_metric
    key = env.key(SUBJECT)
    _break_own_metric_file(env, monkeypatch, broken)
    traces = find_traces(env.lake, subject_from_settings(env.settings, SUBJECT))
    everywhere = [env.lake_dir, *store_files(env.db)]
    before = files_holding(everywhere, traces.values())
    assert any("/raw/" in path for path in before) and any(path.startswith(str(env.db)) for path in before)

    result = run_cli("gdpr", "export", "--account", SUBJECT)
    assert result.code == 0 and not result.err, result.err
    exported = json.loads(result.out)
    assert [row["account_key"] for row in exported["store"][OWN]] == [key] and exported["raw"]["records"]

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert result.code == 0 and not result.err, result.err
    assert json.loads(result.out)["store"] == {OWN: 1}
    after = files_holding(everywhere, traces.values())
    assert {path: set(found) for path, found in after.items()} == {  # where the pseudonyms stay, by design
        str(env.lake_dir / AUDIT_PATH): {key}, str(env.lake_dir / SUPPRESSED_PATH): {key, *traces.ids}}
    rows = _stored_rows(env.settings, OWN)
    assert rows and key not in {row["account_key"] for row in rows}

    result = run_cli("gdpr", "export", "--account", SUBJECT)
    assert result.code == 0 and not result.err, result.err
    exported = json.loads(result.out)
    assert exported["suppressed"] and exported["store"] == {} and not exported["raw"]["records"]


def test_tables_no_catalog_entry_lists_are_named_with_their_remedy_also_beside_a_clashing_own_file(
        own_metric, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which remedy removes a table no catalog entry lists depends on its metric's SQL file (gone: ``store drop``;
    there: ``process``). An own file clashing with a built-in metric's name does not keep the files from being
    listed (the built-in file is the metric's), so the warning names the one remedy, and the erasure and the export
    go on. Was: the listing's error stopped them; then, the clash made the warning name both remedies and the file."""
    import sqlite3

    env = own_metric
    clash = _break_own_metric_file(env, monkeypatch, "languages")
    with sqlite3.connect(env.db) as conn:
        conn.execute("CREATE TABLE metric_old_thing (account_key TEXT PRIMARY KEY, n INTEGER)")
        conn.execute("INSERT INTO metric_old_thing VALUES (?, 1)", (env.key(SUBJECT),))
    conn.close()
    named = ("metric_old_thing (metric old_thing)", "`fediscope store drop old_thing`")
    result = run_cli("gdpr", "export", "--account", SUBJECT)
    assert result.code == 0 and all(part in result.err for part in named), result.err
    assert "`fediscope process`" not in result.err and str(clash) not in result.err
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    warning = next(line for line in result.err.splitlines() if "no catalog entry lists" in line)
    assert result.code == 0 and warning.startswith("fediscope: warning: ") and all(p in warning for p in named)
    assert "`fediscope process`" not in warning
    assert len(result.err.strip().splitlines()) == 1, result.err


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


@pytest.mark.parametrize("made", ["missing", "file"])
def test_an_unusable_metrics_dir_is_ignored_with_one_warning_by_the_erasure_and_the_export_only(
        own_metric, run_cli, monkeypatch: pytest.MonkeyPatch, made: str) -> None:
    """A FEDISCOPE_METRICS_DIR that is gone (or is a file) made every command refuse its settings (exit 2), the
    erasure and the access export too, which never read the metric files. They now run and say once that it was
    ignored; every command that reads metric files still refuses it with the same line."""
    env = own_metric
    key = env.key(SUBJECT)
    target = env.settings.metrics_dir.parent / "nowhere"
    if made == "file":
        target.write_text(OWN_SQL)
    monkeypatch.setenv("FEDISCOPE_METRICS_DIR", str(target))
    problem = "does not exist" if made == "missing" else "is not a directory"
    refused = f"FEDISCOPE_METRICS_DIR is invalid: {target} {problem}"
    ignored = f"fediscope: warning: FEDISCOPE_METRICS_DIR is ignored: {target} {problem}"
    for command in (["process"], ["report"], ["doctor"]):
        result = run_cli(*command)
        assert result.code == 2 and refused in result.err and "Traceback" not in result.err, (command, result.err)

    result = run_cli("gdpr", "export", "--account", SUBJECT)
    assert result.code == 0, result.err
    assert result.err.splitlines() == [next(line for line in result.err.splitlines() if line.startswith(ignored))]
    assert [row["account_key"] for row in json.loads(result.out)["store"][OWN]] == [key]

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert result.code == 0, result.err
    assert len(result.err.splitlines()) == 1 and result.err.startswith(ignored), result.err
    report = json.loads(result.out)
    assert report["store"] == {OWN: 1} and report["raw"]["records_removed"] > 0
    assert report["warnings"] == [result.err.strip().removeprefix("fediscope: warning: ")]
    rows = _stored_rows(env.settings, OWN)
    assert rows and key not in {row["account_key"] for row in rows}
