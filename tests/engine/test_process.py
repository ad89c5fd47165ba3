"""``fediscope process`` and run_process: curate → metrics → store, with DuckDB (no Java needed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from engine_data import at, land, policy, read_table, settings_for, statuses, variant

from fediscope.cli import main
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import redact_url, run_process
from fediscope.errors import ConfigError
from fediscope.lake.local import LocalLake
from fediscope.store.port import open_store

METRICS = load_metrics()


@pytest.fixture
def landed(lake: LocalLake, lake_dir: Path) -> Path:
    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json", "test_status_reblog_unreblog.json",
                              "test_media_post_multiple.json")):
        land(lake, "statuses", statuses(name), at(i), policy())
    return lake_dir


def test_process_curates_computes_and_stores_every_metric(landed: Path) -> None:
    settings = settings_for(landed)
    summary = run_process(settings, progress=False)
    assert summary.engine == "duckdb" and summary.curate["raw_files"] == 4
    assert set(summary.metrics) == set(METRICS)
    document = summary.as_dict()
    assert set(document["seconds"]) == {"start", "curate", "metrics", "store", "total"}
    assert document["metric_rows"] == sum(m["rows"] for m in document["metrics"].values()) > 0
    store = open_store(settings.store)
    try:
        for name, metric in METRICS.items():
            assert len(store.all(metric)) == summary.metrics[name].rows, name
        top = store.top(METRICS["top_accounts_by_followers"], 1)[0]
        most_followers = max(r["followers_count"] for r in store.all(METRICS["top_accounts_by_followers"]))
    finally:
        store.close()
    accounts = run_process(settings, progress=False, metrics={"top_accounts_by_followers":
                                                              METRICS["top_accounts_by_followers"]})
    assert accounts.curate["noop"] and accounts.metrics["top_accounts_by_followers"].rows >= 1
    assert "ranking" not in top and top["followers_count"] == most_followers  # the position is the top-N order


def test_process_twice_keeps_the_store_rows(landed: Path) -> None:
    settings = settings_for(landed)
    first = run_process(settings, progress=False)
    second = run_process(settings, progress=False)
    assert second.curate["noop"]
    assert {n: m.rows for n, m in second.metrics.items()} == {n: m.rows for n, m in first.metrics.items()}
    store = open_store(settings.store)
    try:
        assert sum(len(store.all(m)) for m in METRICS.values()) == first.metric_rows
    finally:
        store.close()


def test_progress_goes_to_stderr(landed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_process(settings_for(landed), progress=True)
    err = capsys.readouterr().err
    assert "process: curating the raw lake" in err and f"metric {len(METRICS)}/{len(METRICS)}" in err
    # curation's own steps, in order: at 500,000 statuses it runs ~15 s that were silent
    steps = [line.split()[1] for line in err.splitlines() if line.startswith("curation: ")]
    assert steps[0].isdigit() and steps[1:4] == ["parsing", "choosing", "merging"], steps
    assert "curation: merging and writing 1 day partition of statuses and hashtags\n" in err  # all on one day
    # a count of 1 takes the singular ("1 rows", "1 partitions" were said)
    assert re.findall(r"\b1 [a-z ]*?(?:rows|partitions|files|metrics)\b", err) == [], err
    assert ": 1 row\n" in err


def test_since_after_until_is_refused(landed: Path) -> None:
    from datetime import date

    with pytest.raises(ConfigError, match="after"):
        run_process(settings_for(landed), since=date(2026, 8, 2), until=date(2026, 8, 1))


def test_the_summary_line_names_raw_files_left_outside_the_window(landed: Path) -> None:
    from datetime import date

    outside = run_process(settings_for(landed), until=date(2000, 1, 1), progress=False)
    assert outside.curate["noop"]
    assert outside.line().startswith("process (duckdb): nothing new to curate (4 new raw files outside "
                                     "--since/--until left uncurated); ")
    inside = run_process(settings_for(landed), progress=False)
    assert "outside" not in inside.line() and inside.curate["raw_files"] == 4


def test_a_run_curating_only_streamed_deletions_does_not_count_the_accounts(landed: Path, lake: LocalLake) -> None:
    """New raw files holding only streamed deletions rewrite the partitions of the statuses they name, not the
    accounts table: the summary line left it said "0 accounts", as if there were none."""
    from streamed_deletions import land_deletion

    from fediscope.lake.batches import raw_batch_files, read_batch

    few = {"top_accounts_by_followers": METRICS["top_accounts_by_followers"]}
    first = run_process(settings_for(landed), progress=False, metrics=few)
    accounts = first.curate["accounts"]
    assert accounts > 1 and f", {accounts} accounts in all); 1 metric, " in first.line()
    record = next(read_batch(lake, raw_batch_files(lake, "statuses")[0]))
    land_deletion(lake, record["data"]["id"], record["meta"]["instance"], at(5))
    second = run_process(settings_for(landed), progress=False, metrics=few)
    curate = second.as_dict()["curate"]  # the --json document's
    assert curate["accounts"] == 0 and len(curate["partitions"]) == 1 and curate["statuses_written"] > 1
    assert second.line().startswith(f"process (duckdb): curated 1 raw file ({curate['statuses_written']} statuses "
                                    "in 1 rewritten partition); 1 metric, ")
    # --json keeps "accounts": 0 (0 when not rewritten) and says which tables the run rewrote
    assert "accounts" in first.curate["tables_rewritten"]
    assert curate["tables_rewritten"] == ["hashtags", "status_deletions", "statuses"]


def test_the_summary_line_tells_partitions_written_first_from_rewritten_ones(landed: Path, lake: LocalLake) -> None:
    """Was: ``curated 1 raw file (54 statuses in 1 partition, 12 accounts)`` on a run that curated one new status:
    the counts are the sizes of what the run wrote (a day partition that held statuses is merged and written again
    whole, the accounts table too), and read as 54 new statuses. A partition written again is said to be rewritten
    (``curate.partitions_rewritten`` in --json), one written first is not, and the accounts are all of them."""
    few = {"top_accounts_by_followers": METRICS["top_accounts_by_followers"]}
    first = run_process(settings_for(landed), progress=False, metrics=few)
    written, accounts = first.curate["statuses_written"], first.curate["accounts"]
    assert first.curate["partitions"] == ["2026-08-01"] and first.curate["partitions_rewritten"] == []
    assert first.line().startswith(f"process (duckdb): curated 4 raw files ({written} statuses written in 1 "
                                   f"partition, {accounts} accounts in all); 1 metric, ")
    base = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    land(lake, "statuses", [variant(base, "1")], at(5), policy())  # one new status, on the same day
    second = run_process(settings_for(landed), progress=False, metrics=few)
    assert second.curate["partitions_rewritten"] == ["2026-08-01"] and second.curate["statuses_written"] == written + 1
    assert second.line().startswith(f"process (duckdb): curated 1 raw file ({written + 1} statuses in 1 rewritten "
                                    f"partition, {accounts} accounts in all); 1 metric, ")
    # one more on that day, and one on a day the curated tables did not hold yet
    land(lake, "statuses", [variant(base, "2"), variant(base, "3", created_at="2026-07-30T12:00:00.000Z")], at(6),
         policy())
    third = run_process(settings_for(landed), progress=False, metrics=few)
    assert sorted(third.curate["partitions"]) == ["2026-07-30", "2026-08-01"]
    assert third.curate["partitions_rewritten"] == ["2026-08-01"] and third.curate["statuses_written"] == written + 3
    assert third.line().startswith(f"process (duckdb): curated 1 raw file ({written + 3} statuses in 1 new and 1 "
                                   f"rewritten partitions, {accounts} accounts in all); 1 metric, ")


@pytest.mark.parametrize("store", ["sqlite://", "sqlite:///:memory:"])
def test_a_store_that_forgets_is_refused_before_any_work(landed: Path, store: str) -> None:
    from dataclasses import replace

    settings = replace(settings_for(landed), store=store)  # as the Airflow DAGs call run_process, no CLI
    with pytest.raises(ConfigError, match="in-memory SQLite"):
        run_process(settings, progress=False)
    assert not (landed / "_state").exists() and not (landed / "curated").exists()


def test_redact_url_hides_passwords() -> None:
    assert redact_url("mysql+pymysql://writer:s3cret@db:3306/fediscope") == "mysql+pymysql://writer:***@db:3306/fediscope"
    assert redact_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def _cli(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """One successful command: ``main`` returns what the script's ``sys.exit`` gets, None or 0 for success."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(args) in (None, 0)


def test_cli_json_summary(landed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(landed.parent)
    _cli(["process", "--json", "--no-progress"], {"FEDISCOPE_LAKE": str(landed),
                                                  "FEDISCOPE_STORE": f"sqlite:///{landed.parent / 'cli.db'}"},
         monkeypatch)
    document = json.loads(capsys.readouterr().out)
    assert document["engine"] == "duckdb" and document["curate"]["raw_files"] == 4
    assert set(document["metrics"]) == set(METRICS)
    _cli(["process", "--no-progress", "--since", "2026-08-01"], {}, monkeypatch)
    assert capsys.readouterr().out.startswith("process (duckdb): nothing new to curate; "
                                                 f"{len(METRICS)} metrics")


@pytest.mark.parametrize("args, message", [
    (["process", "--since", "yesterday"], "is not a date; use YYYY-MM-DD"),
    (["process", "--since", "2026-08-02", "--until", "2026-08-01"], "is after --until"),
    (["process", "--engine", "hive"], "'hive' is not one of"),
])
def test_cli_bad_arguments(args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_bad_store_is_one_line(landed: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(landed.parent)
    with pytest.raises(SystemExit) as exit_info:
        _cli(["process", "--no-progress"], {"FEDISCOPE_LAKE": str(landed), "FEDISCOPE_STORE": "redis://x"},
             monkeypatch)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("fediscope: error: FEDISCOPE_STORE") and "Traceback" not in err


def test_cli_empty_lake_is_one_line_and_leaves_the_store_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    store_url = f"sqlite:///{tmp_path / 'kept.db'}"
    store = open_store(store_url)
    metric = METRICS["languages"]
    store.write(metric, [{"language": "en", "toots": 3, "share": 1.0}])
    store.close()
    (tmp_path / "empty-lake" / "raw" / "mastodon" / "statuses").mkdir(parents=True)  # the layout, no data
    with pytest.raises(SystemExit) as exit_info:
        _cli(["process", "--no-progress"], {"FEDISCOPE_LAKE": str(tmp_path / "empty-lake"),
                                            "FEDISCOPE_STORE": store_url}, monkeypatch)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("fediscope: error: the lake ") and "fediscope collect" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    store = open_store(store_url)
    try:
        assert store.all(metric) == [{"language": "en", "toots": 3, "share": 1.0}]  # not replaced by nothing
    finally:
        store.close()


@pytest.mark.parametrize("java_home", [None, "no-jdk-here"])
def test_spark_without_java_is_one_line_naming_it(landed: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], java_home: str | None) -> None:
    """Also when JAVA_HOME is set to a directory without bin/java (was: "JAVA_HOME not set")."""
    import shutil

    monkeypatch.chdir(landed.parent)
    if java_home is None:
        monkeypatch.delenv("JAVA_HOME", raising=False)
    else:
        monkeypatch.setenv("JAVA_HOME", str(landed.parent / java_home))
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    with pytest.raises(SystemExit) as exit_info:
        _cli(["process", "--no-progress", "--engine", "spark"],
             {"FEDISCOPE_LAKE": str(landed), "FEDISCOPE_STORE": f"sqlite:///{landed.parent / 'nojava.db'}"},
             monkeypatch)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("fediscope: error: engine=spark: Java not found") and "FEDISCOPE_ENGINE=duckdb" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "--engine duckdb" in err
    assert "or use the duckdb engine, which needs no Java" in err  # which engine does not need it
    assert ("JAVA_HOME not set" if java_home is None else
            f"JAVA_HOME={landed.parent / java_home} has no bin/java") in err


def test_duckdb_path_never_imports_pyspark(landed: Path) -> None:
    code = ("import sys; from fediscope.config import load_settings; from fediscope.engine.process import run_process;"
            f"run_process(load_settings(env={{}}, lake={str(landed)!r}, store='sqlite:///{landed.parent}/np.db'),"
            " progress=False); print('pyspark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=landed.parent)
    assert out.stdout.strip() == "False"


def test_process_never_imports_the_collectors_client(landed: Path) -> None:
    """Curation's opt-outs read the handle domains of gdpr.subject, whose module once imported the collector's pages,
    and with them Mastodon.py, requests and urllib3: a tenth of a second of every run, for a type name only."""
    code = ("import sys; from fediscope.config import load_settings; from fediscope.engine.process import run_process;"
            f"run_process(load_settings(env={{}}, lake={str(landed)!r}, store='sqlite:///{landed.parent}/nc.db'),"
            " progress=False); print(sorted(m for m in ('mastodon', 'requests', 'urllib3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=landed.parent)
    assert out.stdout.strip() == "[]"


def test_statuses_without_an_author_are_skipped_not_stored_with_a_null_key(lake: LocalLake, lake_dir: Path) -> None:
    """Privacy off lands what upstream sent: a status without ``account`` (or ``account: null``) has no account key.
    It used to reach account_engagement and instances as a NULL key, which every store refuses: the whole run failed,
    and every later one. REAL recorded statuses, two with the author removed."""
    recorded = statuses("test_public_tl.json")
    missing = dict(recorded[0], uri=recorded[0]["uri"] + "-no-author", id=recorded[0]["id"] + "1")
    missing.pop("account")
    null = dict(recorded[1], uri=recorded[1]["uri"] + "-null-author", id=recorded[1]["id"] + "1", account=None)
    land(lake, "statuses", [*recorded, missing, null], at(1), privacy=None)
    settings = settings_for(lake_dir)
    summary = run_process(settings, progress=False)
    assert summary.metrics["account_engagement"].rows > 0 and summary.metrics["instances"].rows > 0
    assert {r["uri"] for r in read_table(lake_dir, "statuses")} == {s["uri"] for s in recorded}
    store = open_store(settings.store)
    try:
        assert None not in {r["account_key"] for r in store.all(METRICS["account_engagement"])}
        assert sum(r["toots"] for r in store.all(METRICS["instances"])) == len(
            {s["uri"] for s in recorded if not s.get("reblog")})
    finally:
        store.close()


def test_a_remote_value_too_long_for_a_store_key_does_not_stop_the_run(lake: LocalLake, lake_dir: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Was: one hashtag of 300 characters (servers have sent 3,686) made the store refuse hashtags_daily's key, and
    the run failed after writing the metrics before it in name order; every later run failed the same way. A tag
    longer than a store key is dropped by curation (as by the MapReduce mapper); any other over-long key (here a
    "language" of 300 characters) leaves its metric's row out, with a warning. REAL recorded statuses, two changed."""
    (hashtagged,) = {s["id"]: s for s in statuses("test_hashtag_tl.json")}.values()
    public = list({s["id"]: s for s in statuses("test_public_tl.json")}.values())
    long_tag = "a" * 300
    tagged = dict(hashtagged, tags=[*hashtagged["tags"], {"name": long_tag, "url": "https://x.example/tags/a"}])
    babel = dict(public[0], language="x" * 300)
    land(lake, "statuses", [tagged, babel, *public[1:]], at(1), privacy=None)
    settings = settings_for(lake_dir)

    summary = run_process(settings, progress=False)

    assert set(summary.metrics) == set(METRICS)
    assert long_tag not in {t for r in read_table(lake_dir, "statuses") for t in r["hashtags"]}
    assert {t["name"].lower() for t in hashtagged["tags"]} <= {r["tag"] for r in read_table(lake_dir, "hashtags")}
    assert "metric languages: 1 row(s) left out" in caplog.text
    store = open_store(settings.store)
    try:
        languages = {r["language"] for r in store.all(METRICS["languages"])}
        assert languages and "x" * 300 not in languages
        assert len(store.all(METRICS["hashtags_daily"])) == summary.metrics["hashtags_daily"].rows > 0
    finally:
        store.close()
