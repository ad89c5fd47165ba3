"""fediscope.orchestration without Airflow: settings from the Variable, targets, batch windows, failure lines."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest

from fediscope import orchestration as orch
from fediscope.config import Settings, SourceSpec
from fediscope.errors import ConfigError, UpstreamError


@pytest.fixture(autouse=True)
def _no_local_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # load_settings reads ./fediscope.toml


# -- settings ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [None, ""])
def test_no_variable_means_no_overrides(raw: str | None) -> None:
    assert orch.parse_overrides(raw) == {}


@pytest.mark.parametrize("raw, message", [
    ("{lake: x}", "not valid JSON"),
    ('["lake"]', "must be a JSON object"),
    ('{"lakee": "/x"}', "unknown key(s) lakee"),
])
def test_bad_variable_is_a_config_error_naming_it(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match="fediscope_settings") as info:
        orch.parse_overrides(raw)
    assert message in str(info.value)


@pytest.mark.parametrize("key, suggested", [("sorces", "sources"), ("max_page", "max_pages"),
                                            ("FEDISCOPE_LAKE", "lake"), ("Engine", "engine")])
def test_a_mistyped_variable_key_is_refused_with_the_key_it_probably_meant(key: str, suggested: str) -> None:
    with pytest.raises(ConfigError) as info:
        orch.parse_overrides({key: 1})
    assert f"unknown key(s) {key} (did you mean {suggested}?); known: lake, " in str(info.value)


@pytest.mark.parametrize("name", orch.TIMEOUT_SETTINGS)
def test_a_dag_timeout_in_the_variable_is_refused_not_silently_ignored(name: str) -> None:
    """The DAG files read the timeouts when Airflow parses them, never from the Variable: taken, the key would
    change nothing while the operator believes the timeout raised."""
    with pytest.raises(ConfigError) as info:
        orch.settings_from_overrides({name: 600}, env={})
    env = "FEDISCOPE_" + name.upper()
    assert str(info.value) == (f"Airflow Variable fediscope_settings: {name} is not read from the Variable: Airflow "
                               f"reads the DAG timeouts when it parses the DAG files; set {env} in the DAG "
                               f"processor's environment (or [fediscope] {name} in its fediscope.toml) and remove "
                               "the key")
    with pytest.raises(ConfigError, match=name):
        orch.max_pages({name: 600, "max_pages": 3})
    with pytest.raises(ConfigError) as unknown:
        orch.parse_overrides({"lakee": "/x"})
    assert name not in str(unknown.value)  # nor listed as a key the Variable takes


def test_variable_overrides_the_environment_and_is_parsed_like_it() -> None:
    env = {"FEDISCOPE_ENGINE": "duckdb", "FEDISCOPE_LAKE": "/env/lake", "FEDISCOPE_STORE": "sqlite:///env.db"}
    settings = orch.settings_from_overrides(
        json.dumps({"engine": "spark", "spark_master": "yarn", "privacy": False, "instances": ["a.example",
                                                                                              "b.example"],
                    "backfill_pages": 3}), env=env)
    assert (settings.engine, settings.spark_master, settings.lake) == ("spark", "yarn", "/env/lake")
    assert settings.privacy is False and settings.backfill_pages == 3
    assert settings.instances == ("a.example", "b.example")
    assert settings.store == "sqlite:///env.db"


def test_invalid_value_in_variable_fails_like_the_environment_variable_naming_the_variable() -> None:
    """Same parsing and message as FEDISCOPE_ENGINE=sparkk, but naming where the value came from."""
    with pytest.raises(ConfigError) as from_env:
        orch.settings_from_overrides({}, env={"FEDISCOPE_ENGINE": "sparkk"})
    with pytest.raises(ConfigError) as from_variable:
        orch.settings_from_overrides({"engine": "sparkk"}, env={"FEDISCOPE_ENGINE": "duckdb"})
    assert str(from_variable.value) == str(from_env.value).replace(
        "FEDISCOPE_ENGINE", "Airflow Variable fediscope_settings: engine"), str(from_variable.value)


@pytest.mark.parametrize("overrides, message", [
    ({"lake": 123}, "lake is invalid: expected a string, got a number (123)"),
    ({"lake": True}, "lake is invalid: expected a string, got a boolean (true)"),
    ({"lake": ["/a", "/b"]}, "lake is invalid: expected a string, got a list"),
    ({"engine": ["duckdb"]}, "engine is invalid: expected a string, got a list"),
    ({"max_retries": [1]}, "max_retries is invalid: expected an integer, got a list"),
    ({"max_retries": 2.5}, "max_retries is invalid: expected an integer, got a number (2.5)"),
    ({"pseudonym_key": 1234567890123456}, "pseudonym_key is invalid: expected a string, got a number."),
    ({"lake": None}, "lake is null"),
])
def test_a_variable_value_of_the_wrong_json_type_is_refused_not_coerced(overrides: dict, message: str) -> None:
    """A wrong JSON type is checked as a typed TOML value is: {"lake": 123} was the relative lake './123' of the
    worker's directory (which ingest would create), null the worker's FEDISCOPE_LAKE or './lake'."""
    with pytest.raises(ConfigError) as info:
        orch.settings_from_overrides(overrides, env={"FEDISCOPE_LAKE": "/env/lake"})
    assert f"Airflow Variable fediscope_settings: {message}" in str(info.value), str(info.value)
    assert "1234567890123456" not in str(info.value)  # a secret's value is never repeated


def test_variable_values_of_their_settings_json_types_are_taken() -> None:
    settings = orch.settings_from_overrides({"max_retries": 2, "request_timeout": 2.5, "privacy": False,
                                             "instances": ["a.example"], "refresh_hours": "6"}, env={})
    assert (settings.max_retries, settings.request_timeout, settings.privacy) == (2, 2.5, False)
    assert (settings.instances, settings.refresh_hours) == (("a.example",), 6.0)
    assert settings.origins["max_retries"] == "Airflow Variable fediscope_settings: max_retries"


def test_sources_and_config_path_from_variable(tmp_path: Path) -> None:
    toml = tmp_path / "cluster.toml"
    toml.write_text('[fediscope]\nstore = "sqlite:///from-toml.db"\n')
    settings = orch.settings_from_overrides(
        {"config": str(toml), "sources": [{"instance": "https://mastodon.social", "timelines": ["tag:python"]},
                                          {"instance": "fosstodon.org"}]}, env={})
    assert settings.store == "sqlite:///from-toml.db"
    assert settings.sources == (SourceSpec("https://mastodon.social", ("tag:python",)),
                                SourceSpec("fosstodon.org", ("public",)))


@pytest.mark.parametrize(("config", "message"), [
    ("missing.toml", "config file missing.toml does not exist; create it or point Airflow Variable fediscope_settings: "
                     "config at an existing file"),
    (5, "Airflow Variable fediscope_settings: config must be the path of a fediscope.toml, a non-empty string (got "
        "5); remove the key to use the workers' FEDISCOPE_CONFIG (or ./fediscope.toml)"),
    (None, "Airflow Variable fediscope_settings: config must be the path of a fediscope.toml, a non-empty string "
           "(got null)"),
    ("", "a non-empty string (got \"\")"),
])
def test_a_bad_config_key_is_named_as_the_variables(config: object, message: str) -> None:
    """The Variable's ``config`` is its own key: a missing file is named by it (was: "point FEDISCOPE_CONFIG at an
    existing file", a variable the worker does not set and the key overrides), a number refused (was: read as the
    file ``5``), a ``null`` refused as every other key's (was: silently the workers' file)."""
    with pytest.raises(ConfigError) as info:
        orch.settings_from_overrides({"config": config}, env={"FEDISCOPE_CONFIG": "/workers/fediscope.toml"})
    assert message in str(info.value), str(info.value)
    if config is not None:
        assert "FEDISCOPE_CONFIG" not in str(info.value).replace("the workers' FEDISCOPE_CONFIG", ""), str(info.value)


def test_a_source_instance_that_is_not_a_string_is_named_so() -> None:
    """Was: "sources[1] has no 'instance'", for an entry that has one."""
    with pytest.raises(ConfigError) as info:
        orch.settings_from_overrides({"sources": [{"instance": 5}]}, env={})
    assert str(info.value).startswith("Airflow Variable fediscope_settings: sources[1]: 'instance' must be a string"), (
        str(info.value))
    assert str(info.value).endswith("got 5"), str(info.value)


@pytest.mark.parametrize("sources", ["public", [{"timelines": ["public"]}],
                                     [{"instance": "x.org", "timelines": "public"}]])
def test_malformed_sources_are_refused(sources: object) -> None:
    with pytest.raises(ConfigError, match="sources"):
        orch.settings_from_overrides({"sources": sources}, env={})


@pytest.mark.parametrize(("sources", "message"), [
    # a typo of a key: the entry collected the public timeline (the default) instead of the hashtag
    ([{"instance": "x.org", "timeline": ["tag:python"]}],
     "sources[1]: unknown key(s) 'timeline'; known: instance, timelines"),
    # an empty list collected nothing from the entry, silently ([[sources]] refuses it)
    ([{"instance": "y.org"}, {"instance": "x.org", "timelines": []}],
     "sources[2]: 'timelines' is empty, so nothing would be collected from x.org"),
    # not a list: a TypeError traceback from every task that reads the settings
    ([{"instance": "x.org", "timelines": 5}], "sources[1]: 'timelines' must be a list of strings"),
    ([{"instance": "x.org", "timelines": {"tag:python": True}}], "sources[1]: 'timelines' must be a list of strings"),
    (["x.org"], "sources[1] must be a table with 'instance' and 'timelines'"),
])
def test_sources_of_the_variable_are_checked_as_the_config_files_are(sources: object, message: str) -> None:
    """The Variable's ``sources`` take what ``[[sources]]`` of ``fediscope.toml`` takes, and refuse the rest with one
    line naming the entry: an unknown key, an empty or non-list ``timelines``."""
    with pytest.raises(ConfigError) as refused:
        orch.settings_from_overrides({"sources": sources}, env={})
    assert f"Airflow Variable {orch.VARIABLE}: {message}" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("raw, expected", [(None, orch.DEFAULT_MAX_PAGES), ({"max_pages": 3}, 3),
                                           ({"max_pages": "5"}, 5), ('{"max_pages": " 7 "}', 7)])
def test_max_pages(raw: dict | str | None, expected: int) -> None:
    """A whole number, or a string of one: the Variable takes a string for every setting, parsed as its variable
    is (``"request_timeout": "5"``), and so for ``max_pages`` (it refused ``"5"``)."""
    assert orch.max_pages(raw) == expected


@pytest.mark.parametrize("value", [0, "0", "x", "1.5", "", True, 1.5, None, [3], 10**10])
def test_bad_max_pages(value: object) -> None:
    """The value as the Variable's JSON spells it (``true``, ``null``: was Python's ``True``, ``None``), a string
    quoted."""
    with pytest.raises(ConfigError) as info:
        orch.max_pages({"max_pages": value})
    shown = {True: "true", None: "null"}.get(value, repr(value)) if not isinstance(value, list) else "[3]"
    assert str(info.value) == (f"Airflow Variable fediscope_settings: max_pages must be a whole number from 1 to "
                               f"1,000,000,000 (got {shown})")


def test_the_targets_task_checks_max_pages_once_for_every_collect_task() -> None:
    """The ingest DAG's ``targets`` (:func:`orch.ingest_targets`) refuses a bad ``max_pages`` with the line each
    ``collect`` task gives, so it fails once rather than every mapped task (tests/airflow/test_ingest_retries.py runs
    the DAG); a good one leaves the targets as they were."""
    sources = [{"instance": "https://mastodon.social", "timelines": ["public", "local"]}]
    with pytest.raises(ConfigError) as info:
        orch.ingest_targets({"sources": sources, "max_pages": "1.5"})
    assert str(info.value) == ("Airflow Variable fediscope_settings: max_pages must be a whole number from 1 to "
                               "1,000,000,000 (got '1.5')")
    settings = orch.settings_from_overrides({"sources": sources, "max_pages": 3})
    assert orch.ingest_targets({"sources": sources, "max_pages": 3}) == orch.collection_targets(settings)


# -- ingest -----------------------------------------------------------------------------------------------------
def test_targets_one_per_instance_and_timeline() -> None:
    settings = orch.settings_from_overrides({"sources": [
        {"instance": "https://mastodon.social", "timelines": ["public", "tag:#Python"]},
        {"instance": "http://127.0.0.1:8080", "timelines": ["account:alice@example.org"]}]},
        env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM})
    targets = orch.collection_targets(settings)
    assert targets == [{"instance": "https://mastodon.social", "source": "public"},
                       {"instance": "https://mastodon.social", "source": "tag:python"},
                       {"instance": "http://127.0.0.1:8080", "source": "account:alice@example.org"}]
    labels = [orch.target_label(t, settings) for t in targets]
    assert labels[:2] == ["mastodon.social public", "mastodon.social tag:python"]
    assert labels[2] == f"127.0.0.1:8080 {_logged('account:alice@example.org', settings)}"


def _logged(source: str, settings: object) -> str:
    """The source as the collector's own log lines name it (a keyed digest of an account's handle)."""
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    named = source_for_logs(source, policy_from_settings(settings))  # type: ignore[arg-type]
    assert named != source and "alice" not in named and "nobody" not in named
    return named


def test_an_accounts_source_is_named_by_its_digest_never_its_handle() -> None:
    """While privacy is on, in the Airflow UI (the mapped task's label), the task's log lines and its failure line,
    as the collector's own warning names it: the handle is personal data, and Airflow keeps its logs."""
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    settings = orch.settings_from_overrides({"privacy": True}, env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM})
    for source in ("account:Alice@example.org", "account_lookup:alice"):
        label = orch.target_label({"instance": "https://example.org", "source": source}, settings)
        assert label == f"example.org {source_for_logs(source, policy_from_settings(settings))}"
        assert "alice" not in label.lower()


def test_with_privacy_off_an_accounts_source_is_named_as_written_as_the_collector_names_it() -> None:
    """Was: an unkeyed digest (``account_lookup:ff53be4237ed``) in the label, the failure line's source and the
    task's "collected …" line, while the collector's lines, the returned summary, the Asset event and the error
    they quote named the handle: ``collecting host account_lookup:ff53be4237ed: account nobody_x was not found``."""
    off = orch.settings_from_overrides({"privacy": False}, env={})
    for source in ("account:Alice@example.org", "account_lookup:alice"):
        assert orch.logged_source(source, off) == orch.announced_source(source, off) == source
        assert orch.target_label({"instance": "https://example.org", "source": source}, off) == f"example.org {source}"


def test_a_task_label_fits_what_airflow_keeps() -> None:
    """Airflow keeps a mapped task's label in ``task_instance.rendered_map_index``, a VARCHAR(250): PostgreSQL and
    MySQL refuse a longer one. A 253-character host with a 100-character hashtag (both valid) made 358."""
    host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    settings = orch.settings_from_overrides({}, env={})
    tag = "t" * 99 + "z"
    label = orch.target_label({"instance": f"https://{host}", "source": f"tag:{tag}"}, settings)
    assert len(label) == orch.MAX_TASK_LABEL == 250
    assert label.startswith("a" * 63 + ".") and label.endswith(f"tag:{tag}") and "…" in label
    short = orch.target_label({"instance": "https://example.org", "source": f"tag:{tag}"}, settings)
    assert short == f"example.org tag:{tag}"


def test_a_source_named_twice_is_one_target() -> None:
    """Two spellings of one instance, or of one hashtag, name one source: as ``fediscope collect`` does, it is
    collected once. Two mapped tasks walked it at once, racing on its checkpoint (a WebHDFS lake has no walk lock)
    or, on a local lake, one failing on the other's walk lock through all its retries."""
    settings = orch.settings_from_overrides({"sources": [
        {"instance": "mastodon.social", "timelines": ["tag:Python", "public"]},
        {"instance": "https://Mastodon.Social/", "timelines": ["public", "tag:python", "local"]},
        {"instance": "mastodon.social:443", "timelines": ["public"]}]}, env={})
    assert orch.collection_targets(settings) == [{"instance": "mastodon.social", "source": "tag:python"},
                                                 {"instance": "mastodon.social", "source": "public"},
                                                 {"instance": "https://Mastodon.Social/", "source": "local"}]


def test_no_sources_or_a_bad_one_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="nothing to collect"):
        orch.collection_targets(orch.settings_from_overrides({}, env={}))
    bad = orch.settings_from_overrides({"sources": [{"instance": "x.org", "timelines": ["tag:no spaces"]}]}, env={})
    with pytest.raises(ConfigError, match="hashtag"):
        orch.collection_targets(bad)


def test_a_failed_source_raises_so_its_task_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from fediscope.sources import collector
    from fediscope.sources.summary import CollectSummary, SourceResult

    calls = []

    def fake_run(settings, targets=None, *, max_pages=None, progress=None, max_pages_named=None):  # noqa: ANN001, ANN202
        calls.append((targets, max_pages, progress))
        assert max_pages_named == orch.MAX_PAGES_NAMED
        return CollectSummary([SourceResult("x.org", "public", status="failed", error="HTTP 503 after 5 tries")])

    monkeypatch.setattr(collector, "run_collection", fake_run)
    settings = orch.settings_from_overrides({}, env={})
    with pytest.raises(UpstreamError, match=r"x\.org public: HTTP 503 after 5 tries"):
        orch.collect_target(settings, {"instance": "https://x.org", "source": "public"}, 4)
    ((targets, pages, progress),) = calls
    assert [(i, s.name) for i, s in targets] == [("https://x.org", "public")] and pages == 4 and progress is False


def test_what_a_failed_try_landed_is_announced_by_the_next_that_succeeds(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Kept in the lake under the checkpoint's name, a keyed digest for an account (never the handle), added up
    over failed tries, returned once as ``unannounced`` (new records: the task emits its Asset event) and gone."""
    from fediscope.sources import collector
    from fediscope.sources.summary import CollectSummary, SourceResult

    answers = [SourceResult("x.org", "account:alice@x.org", status="failed", error="HTTP 503", landed=40),
               SourceResult("x.org", "account:alice@x.org", status="failed", error="HTTP 503", refreshed=3),
               SourceResult("x.org", "account:alice@x.org", status="failed", error="HTTP 503"),
               SourceResult("x.org", "account:alice@x.org"), SourceResult("x.org", "account:alice@x.org")]
    monkeypatch.setattr(collector, "run_collection", lambda *a, **k: CollectSummary([answers.pop(0)]))
    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake"),
                                             "pseudonym_key": "unannounced-test-key-0123456789abcdef"}, env={})
    target = {"instance": "https://x.org", "source": "account:alice@x.org"}
    named = _logged(target["source"], settings)
    for _ in range(3):
        with pytest.raises(UpstreamError) as failed:
            orch.collect_target(settings, target, 4)
        # the task's failure message names the source as the collector's log lines do, never by the handle
        assert str(failed.value) == f"collecting x.org {named}: HTTP 503"
    (kept,) = (tmp_path / "lake" / "_state").glob(f"*/{orch.UNANNOUNCED_PASS}/*.json")
    assert "alice" not in str(kept.relative_to(tmp_path)), kept
    with caplog.at_level(logging.INFO, logger="fediscope.orchestration"):
        result = orch.collect_target(settings, target, 4)
    assert result["unannounced"] == 43 and orch.new_records(result) == 43
    assert not kept.exists()
    lines = [r.getMessage() for r in caplog.records if r.name == "fediscope.orchestration"]
    assert lines == [f"x.org {named}: 43 records landed by earlier failed tries are announced now",
                     f"collected x.org {named}: landed 0 records"]
    assert orch.new_records(orch.collect_target(settings, target, 4)) == 0, "announced once"


@pytest.mark.parametrize("content, reason", [
    ('{"extra": {"records": Infinity}}', "cannot convert float infinity to integer"),  # Python's json reads it
    ('{"extra": {"records": NaN}}', "cannot convert float NaN to integer"),
    ('{"extra": {"records": "many"}}', "invalid literal for int()"),
    ('{"extra": [43]}', "extra is a JSON list, not an object"),
    ("[43]", "JSON list, not an object"),
])
def test_a_hand_edited_unannounced_file_is_announced_with_a_warning_not_a_traceback(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str,
        reason: str) -> None:
    """The file is there only because a failed try landed records: one that does not count them still makes the
    next try that succeeds announce (counted as 1), with a warning naming the file; the collect task never fails
    on it."""
    from fediscope.sources import collector
    from fediscope.sources.summary import CollectSummary, SourceResult

    monkeypatch.setattr(collector, "run_collection",
                        lambda *a, **k: CollectSummary([SourceResult("x.org", "public")]))
    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake")}, env={})
    target = {"instance": "https://x.org", "source": "public"}
    kept = tmp_path / "lake" / orch._unannounced_path(settings, target)
    kept.parent.mkdir(parents=True)
    kept.write_text(content)
    with caplog.at_level(logging.WARNING, logger="fediscope.orchestration"):
        result = orch.collect_target(settings, target, 4)
    assert result["unannounced"] == 1 and not kept.exists()
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert line.endswith(": announced all the same") and reason in line, line


# -- batch windows ----------------------------------------------------------------------------------------------
def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_interval_is_exactly_its_day() -> None:
    window = orch.batch_window(_utc(2026, 11, 23), _utc(2026, 11, 24))
    assert (window.since, window.until) == (date(2026, 11, 23), date(2026, 11, 23))
    assert window.days() == [date(2026, 11, 23)]


def test_longer_interval_covers_each_day_once() -> None:
    window = orch.batch_window(_utc(2026, 11, 1), _utc(2026, 11, 8))
    assert window.days() == [date(2026, 11, d) for d in range(1, 8)]


def test_naive_and_offset_datetimes_are_read_as_utc() -> None:
    from datetime import timezone

    plus2 = timezone(timedelta(hours=2))
    window = orch.batch_window(datetime(2026, 11, 24, 1, 0, tzinfo=plus2), datetime(2026, 11, 24, 0, 0) + timedelta(
        days=1))
    assert (window.since, window.until) == (date(2026, 11, 23), date(2026, 11, 24))


def test_asset_triggered_run_covers_events_to_now() -> None:
    window = orch.batch_window(None, None, run_after=_utc(2026, 11, 24, 0, 10),
                               event_times=[_utc(2026, 11, 23, 23, 50), _utc(2026, 11, 24, 0, 5)])
    assert window.days() == [date(2026, 11, 23), date(2026, 11, 24)]


def test_zero_length_interval_falls_back_to_the_run_day() -> None:
    moment = _utc(2026, 11, 23, 19, 0)
    assert orch.batch_window(moment, moment, run_after=moment).days() == [date(2026, 11, 23)]


def test_window_from_an_airflow_like_context_round_trips() -> None:
    event = SimpleNamespace(timestamp=_utc(2026, 11, 22, 12))
    context = {"data_interval_start": None, "data_interval_end": None,
               "dag_run": SimpleNamespace(run_after=_utc(2026, 11, 23, 1)),
               "triggering_asset_events": {"raw": [event]}}
    window = orch.window_from_context(context)
    assert window.as_dict() == {"since": "2026-11-22", "until": "2026-11-23", "earlier": True}
    assert orch.BatchWindow.from_dict(window.as_dict()) == window
    # the XCom of a run made before `earlier` existed
    assert orch.BatchWindow.from_dict({"since": "2026-11-22", "until": "2026-11-23"}).earlier is False


class _RunType(str, Enum):  # noqa: UP042 -- as the Task SDK declares it, str() is not the value
    """Like the Task SDK's ``DagRunType`` (``str(_RunType.MANUAL)`` is ``'_RunType.MANUAL'``)."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"


def _context(run_type: str, logical: datetime | None, start: datetime | None, end: datetime | None,
             run_after: datetime) -> dict[str, object]:
    run = SimpleNamespace(run_type=_RunType(run_type), logical_date=logical, run_after=run_after)
    return {"dag_run": run, "logical_date": logical, "data_interval_start": start, "data_interval_end": end}


def test_manual_run_with_a_logical_date_covers_that_day_not_its_data_interval() -> None:
    # `airflow dags trigger --logical-date 2026-03-02` on 2026-12-02: Airflow's interval is the day before the trigger
    context = _context("manual", _utc(2026, 3, 2), _utc(2026, 12, 1), _utc(2026, 12, 2), _utc(2026, 12, 2, 23, 3))
    assert orch.window_from_context(context).days() == [date(2026, 3, 2)]
    # `airflow dags test fediscope_batch 2026-12-02`: the interval is the day before the logical date
    context = _context("manual", _utc(2026, 12, 2), _utc(2026, 12, 1), _utc(2026, 12, 2), _utc(2026, 12, 2, 23, 1))
    assert orch.window_from_context(context).days() == [date(2026, 12, 2)]
    # a logical date late in the day in another time zone: its UTC day
    from datetime import timezone

    logical = datetime(2026, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    context = _context("manual", logical, _utc(2026, 3, 2), _utc(2026, 3, 3), _utc(2026, 3, 4))
    assert orch.window_from_context(context).days() == [date(2026, 3, 3)]


def test_manual_run_without_a_logical_date_covers_the_day_it_runs() -> None:
    context = _context("manual", None, None, None, _utc(2026, 12, 2, 23, 3))
    assert orch.window_from_context(context).days() == [date(2026, 12, 2)]


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_scheduled_and_backfill_runs_keep_their_data_interval(run_type: str) -> None:
    context = _context(run_type, _utc(2026, 3, 1), _utc(2026, 3, 1), _utc(2026, 3, 2), _utc(2026, 3, 2, 0, 5))
    assert orch.window_from_context(context).days() == [date(2026, 3, 1)]


@pytest.mark.parametrize("run_type, logical, earlier", [
    ("scheduled", _utc(2026, 3, 1), True),   # the daily run: also the late files of earlier days
    ("backfill", _utc(2026, 3, 1), False),   # an explicit day: exactly that day
    ("manual", _utc(2026, 3, 1), False),     # a dated manual run: exactly that day
    ("manual", None, True),                  # "run now"
])
def test_which_runs_also_curate_uncurated_earlier_days(run_type: str, logical: datetime | None,
                                                       earlier: bool) -> None:
    start, end = (_utc(2026, 3, 1), _utc(2026, 3, 2)) if logical else (None, None)
    context = _context(run_type, logical, start, end, _utc(2026, 3, 2, 0, 5))
    window = orch.window_from_context(context)
    assert window.earlier is earlier
    assert window.curate_since == (None if earlier else window.since)


def test_an_asset_triggered_run_also_curates_uncurated_earlier_days() -> None:
    run = SimpleNamespace(run_type="asset_triggered", logical_date=None, run_after=_utc(2026, 3, 2, 10))
    context = {"dag_run": run, "data_interval_start": None, "data_interval_end": None,
               "triggering_asset_events": {"raw": [SimpleNamespace(timestamp=_utc(2026, 3, 2, 9))]}}
    assert orch.window_from_context(context) == orch.BatchWindow(date(2026, 3, 2), date(2026, 3, 2), earlier=True)


def test_a_manual_run_cleared_by_a_backfill_covers_its_logical_day() -> None:
    # `airflow dags test fediscope_batch 2026-03-02` failed; `backfill create --reprocess-behavior failed` cleared it:
    # now a backfill run, logical date 2026-03-02, still the manual run's data interval (the day before)
    context = _context("backfill", _utc(2026, 3, 2), _utc(2026, 3, 1), _utc(2026, 3, 2), _utc(2026, 12, 2, 23))
    assert orch.window_from_context(context).days() == [date(2026, 3, 2)]


# -- failures ---------------------------------------------------------------------------------------------------
def test_failure_reason_is_one_redacted_line() -> None:
    ti = SimpleNamespace(dag_id="fediscope_ingest", task_id="collect", map_index=2,
                         rendered_map_index="mastodon.social public", try_number=3)
    error = UpstreamError("GET https://u:hunter2@x.org/api?access_token=tok123 failed\nX-API-Key: sekrit-value")
    line = orch.failure_reason({"task_instance": ti, "exception": error, "run_id": "scheduled__2026"})
    assert "\n" not in line
    assert line.startswith("fediscope task fediscope_ingest.collect[mastodon.social public] failed "
                           "(run scheduled__2026, try 3): UpstreamError: GET")
    for secret in ("hunter2", "tok123", "sekrit-value"):
        assert secret not in line


def test_failure_without_exception_says_so(caplog: pytest.LogCaptureFixture) -> None:
    ti = SimpleNamespace(dag_id="fediscope_batch", task_id="process", map_index=-1, try_number=1)
    with caplog.at_level("ERROR", logger="fediscope.orchestration"):
        orch.log_failure({"ti": ti, "dag_run": SimpleNamespace(run_id="r1")})
    (record,) = caplog.records
    assert record.getMessage() == ("fediscope task fediscope_batch.process failed (run r1, try 1): no exception "
                                   "recorded (killed, timed out or marked failed)")


def test_default_args_back_off_exponentially() -> None:
    args = orch.default_args()
    assert args["retries"] >= 2 and args["retry_exponential_backoff"] > 1
    assert args["max_retry_delay"] >= args["retry_delay"]
    assert args["on_failure_callback"] is orch.log_failure


def _lake_with_data(lake: Path) -> Path:
    """A local lake holding one raw batch: what a batch run may process."""
    from fediscope.lake import layout

    part = lake / layout.partition_dir("statuses", "mastodon.social", date(2026, 11, 23))
    part.mkdir(parents=True)
    (part / "20261123T000000Z-00000000.jsonl").write_text("{}\n")
    return lake


# -- Spark on a cluster -----------------------------------------------------------------------------------------
FAKE_SPARK_SUBMIT = """#!{python}
import json, os, sys
from fediscope.errors import LakeLockedError
from fediscope.lake.lock import INHERIT_ENV
from spark_jobs.job_lock import job_lock

# what a job sees of the lake lock (the jobs' own job_lock): it runs under the parent's; without the token it
# is locked out
with job_lock(os.environ["FEDISCOPE_LAKE"], "the job") as holder:
    lock = {{"job_runs_under": holder.command}}
del os.environ[INHERIT_ENV]
try:
    with job_lock(os.environ["FEDISCOPE_LAKE"], "another run"):
        lock["another_run"] = "took the lock"
except LakeLockedError as exc:
    lock["another_run"] = str(exc)
if os.environ.get("FAKE_SPARK_SLEEP"):  # a long job, which says how it was stopped: the handler is set before the
    import signal                       # log line a test waits for (was after it: a SIGTERM sent at once, under load,
                                        # found the default action, and the job died without saying so)

    def stopped(signum, frame):
        open(os.environ["FAKE_SPARK_LOG"] + ".stopped", "w").write(signal.Signals(signum).name)
        if not os.environ.get("FAKE_SPARK_IGNORE_SIGTERM"):  # else a job that goes on after SIGTERM (a JVM slow to
            sys.exit(143)                                    # stop, a driver stuck in a native call)

    signal.signal(signal.SIGTERM, stopped)
if os.environ.get("FAKE_SPARK_LINGER"):  # a process the job started, which holds the job's output pipes after the
    import time                           # job is stopped, and writes to them until the task says it has returned

    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        deadline = time.monotonic() + 60  # no leftover process if the task never says so
        while not os.path.exists(os.environ["FAKE_SPARK_LINGER"]) and time.monotonic() < deadline:
            print("still running", flush=True)
            print("still running", file=sys.stderr, flush=True)
            time.sleep(0.05)
        os._exit(0)
if os.environ.get("FAKE_SPARK_PROGRESS"):  # the driver's own log lines (fediscope's text format), on its stderr,
    import logging                          # which spark-submit merges into its stdout; then a line of the JVM's
    from fediscope.cli.common import TEXT_FORMAT

    logging.basicConfig(format=TEXT_FORMAT, level=logging.INFO, stream=sys.stderr)
    curation = logging.getLogger("fediscope.engine.curation")
    curation.info("curation: 7 new raw files, for %s", os.environ.get("FEDISCOPE_STORE"))
    curation.warning("curation: 2 status versions dated after their fetch skipped")
    print("26/12/01 23:59:39 INFO BlockManager: BlockManager started", file=sys.stderr, flush=True)
if os.environ.get("FAKE_SPARK_SAID"):  # a warning the job says as its own (console.SAID), through its real text log
    import pyarrow as pa
    from fediscope.cli.common import configure_logging
    from fediscope.engine.metric_state import without_unstorable_keys

    configure_logging("WARNING", program="fediscope " + ("curate" if "--until" in sys.argv else "metrics"))
    without_unstorable_keys("languages", pa.table({{"language": ["en", "x" * 300], "toots": [2, 1]}}), ["language"])
    if "--until" in sys.argv:  # curation's: a forced rebuild's (curation._check_rebuild, as --recurate --force runs it)
        from fediscope.engine.curation import _check_rebuild
        from fediscope.engine.manifest import Manifest

        _check_rebuild(Manifest(files={{"raw/gone.jsonl": 1}}), set(), allow_missing=True)
with open(os.environ["FAKE_SPARK_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "store": os.environ.get("FEDISCOPE_STORE"),
                          "lake": os.environ.get("FEDISCOPE_LAKE"), "engine": os.environ.get("FEDISCOPE_ENGINE"),
                          "spark_lake": os.environ.get("FEDISCOPE_SPARK_LAKE_URI"), "lock": lock}})
              + "\\n")
if os.environ.get("FAKE_SPARK_FAIL"):
    print("Exception in thread main: cannot reach " + os.environ["FEDISCOPE_STORE"], file=sys.stderr)
    sys.exit(2)
if os.environ.get("FAKE_SPARK_EXIT"):  # a job's own error line (the driver's stderr, merged into spark-submit's
    print(os.environ["FAKE_SPARK_ERROR"], flush=True)  # stdout), its exit code, then a line of the JVM's
    print("26/12/01 23:59:40 INFO ShutdownHookManager: Shutdown hook called", file=sys.stderr)
    sys.exit(int(os.environ["FAKE_SPARK_EXIT"]))
if os.environ.get("FAKE_SPARK_SLEEP"):
    import time

    time.sleep(float(os.environ["FAKE_SPARK_SLEEP"]))
print("some spark log line")
print(json.dumps({{"job": os.path.basename(next(arg for arg in sys.argv if arg.endswith(".py")))}}))
"""


@pytest.fixture
def spark_home(tmp_path: Path) -> Path:
    import sys

    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    script = home / "bin" / "spark-submit"
    script.write_text(FAKE_SPARK_SUBMIT.format(python=sys.executable))
    script.chmod(0o755)
    return home


@pytest.fixture
def spark_master() -> Iterator[str]:
    """A ``spark://`` master URL whose address takes connections (a plain TCP listener: what the probe asks)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"spark://127.0.0.1:{listener.getsockname()[1]}"


def test_cluster_spark_runs_the_jobs_through_spark_submit(spark_home: Path, spark_master: str,
                                                          tmp_path: Path) -> None:
    lake = str(_lake_with_data(tmp_path / "lake"))
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": spark_master,
                                             "store": "mysql+pymysql://fediscope:pw-123@db/fediscope",
                                             "lake": lake}, env={})
    assert orch.uses_spark_submit(settings)
    env = {"SPARK_HOME": str(spark_home), "PATH": "/usr/bin:/bin", "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl")}
    result = orch.process_window(settings, orch.BatchWindow(date(2026, 11, 22), date(2026, 11, 23)), env=env)
    assert result["engine"] == "spark-submit"
    assert result["curate"] == {"job": "curate.py"} and result["metrics"] == {"job": "metrics.py"}
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    curate, metrics = calls
    assert curate["argv"][:4] == ["--master", spark_master, "--deploy-mode", "client"]
    assert curate["argv"][-9].endswith("spark_jobs/curate.py")
    # its messages name the worker's command to rebuild the curated tables, where the job run by hand names its own
    assert curate["argv"][-8:-6] == ["--recurate-name", "`fediscope process --recurate`"]
    # and the run's days, where the job run by hand names its --since/--until
    assert curate["argv"][-6:] == ["--window-name", "this run's days 2026-11-22 to 2026-11-23",
                                   "--since", "2026-11-22", "--until", "2026-11-23"]
    assert metrics["argv"][-1].endswith("spark_jobs/metrics.py")
    earlier = orch.BatchWindow(date(2026, 11, 22), date(2026, 11, 23), earlier=True)
    curate_argv, _ = orch.spark_submit_jobs(settings, earlier, "spark-submit")
    assert "--since" not in curate_argv and curate_argv[-4:] == ["--window-name", "this run's days up to 2026-11-23",
                                                                 "--until", "2026-11-23"]
    for call in calls:
        assert not any("pw-123" in arg for arg in call["argv"]), "no password on a command line"
        assert (call["store"], call["lake"], call["engine"]) == (settings.store, lake, "spark")
        assert call["spark_lake"] is None
        # both jobs ran under the lock process_window held, which kept every other run out meanwhile
        assert call["lock"]["job_runs_under"] == "fediscope batch 2026-11-22..2026-11-23 (spark-submit)"
        assert call["lock"]["another_run"].startswith(f"the lake {lake} is locked by another run: fediscope batch")
    assert not (tmp_path / "lake" / "_state" / "process.lock").exists()  # released after the jobs


def _spark_at_a_closed_port(spark_home: Path, tmp_path: Path) -> tuple[str, Path, Settings, dict[str, str]]:
    """A lake with data and the Airflow Variable's settings of the Spark engine at a master nobody listens at (a
    port bound, then closed), with the environment of the fake spark-submit (``calls.jsonl`` records each job)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        master = f"spark://127.0.0.1:{closed.getsockname()[1]}"
    lake = _lake_with_data(tmp_path / "lake")
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": master, "lake": str(lake)}, env={})
    env = {"SPARK_HOME": str(spark_home), "PATH": "/usr/bin:/bin", "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl")}
    return master, lake, settings, env


def test_a_cluster_master_that_does_not_answer_fails_before_spark_submit(spark_home: Path, tmp_path: Path) -> None:
    """Was: spark-submit's JVM retried the master for over a minute, then the task failed with Spark's own last
    log line. Now an EngineStartError naming the master (a scheduled task retries it), before any job is submitted
    and before the lake is locked."""
    from fediscope.errors import EngineStartError

    master, lake, settings, env = _spark_at_a_closed_port(spark_home, tmp_path)

    with pytest.raises(EngineStartError, match=rf"the Spark master of {master} does not answer \(127\.0\.0\.1:\d+: "
                                               r"connection refused"):
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    assert not (tmp_path / "calls.jsonl").exists()  # no job was submitted
    assert not (lake / "_state" / "process.lock").exists()


# a batch task as Airflow runs it: its task runner's SIGTERM handler (which calls on_kill) is in place
KILLED_TASK = textwrap.dedent("""
    import json, logging, signal, sys, threading
    from datetime import date
    from fediscope import orchestration as orch
    from fediscope.interrupts import Terminated

    signal.signal(signal.SIGTERM, lambda *_: print("on_kill", flush=True))
    logging.basicConfig(format="%(levelname)s %(message)s", level=logging.INFO, stream=sys.stderr)
    settings = orch.settings_from_overrides(json.loads(sys.argv[1]), env={})
    try:
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)),
                            env=json.loads(sys.argv[2]))
    except Terminated as exc:
        print(f"terminated: {exc}", flush=True)
        if linger := json.loads(sys.argv[2]).get("FAKE_SPARK_LINGER"):  # the job's lingering process ends now, and
            open(linger, "w").close()                                    # so do the task's readers of its output
            for thread in threading.enumerate():
                if thread is not threading.main_thread():
                    thread.join(timeout=60)
            print(f"threads left: {threading.active_count() - 1}", flush=True)
        sys.exit(143)
""")


def test_a_killed_batch_task_releases_the_lake_lock(spark_home: Path, tmp_path: Path) -> None:
    """Airflow kills a task with SIGTERM, then SIGKILL seconds later: the task stops at once and releases the lake
    lock (it stayed behind, and on another worker every later batch failed until `fediscope lake unlock`)."""
    import signal
    import sys
    import time

    from child_process import child

    lake = _lake_with_data(tmp_path / "lake")
    calls = tmp_path / "calls.jsonl"
    overrides = {"engine": "spark", "spark_master": "yarn", "lake": str(lake)}
    env = {**os.environ, "SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(calls), "FAKE_SPARK_SLEEP": "300",
           "FAKE_SPARK_PROGRESS": "1"}
    with child([sys.executable, "-c", KILLED_TASK, json.dumps(overrides), json.dumps(env)]) as task:
        deadline = time.monotonic() + 60
        while not calls.exists() and time.monotonic() < deadline and task.poll() is None:
            time.sleep(0.1)
        assert calls.exists(), task.communicate(timeout=5)
        assert (lake / "_state" / "process.lock").exists()  # the curation job runs under the task's lock
        task.send_signal(signal.SIGTERM)
        out, err = task.communicate(timeout=30)
    assert out.splitlines() == ["on_kill", "terminated: the batch's process task was stopped (SIGTERM)"], err
    assert task.returncode == 143
    assert not (lake / "_state" / "process.lock").exists()
    assert len(calls.read_text().splitlines()) == 1  # the metrics job never started
    # stopped gracefully (its driver's job file goes with it), not killed outright
    assert (tmp_path / "calls.jsonl.stopped").read_text() == "SIGTERM"
    # the job's progress reached the task log while it ran, and what it printed last is there after it was stopped
    # (a job stopped at its timeout left nothing of its output in the task log)
    lines = err.splitlines()
    assert any(line.startswith("INFO spark-submit fediscope-curate-2026-11-23: ") and
               line.endswith(" INFO fediscope.engine.curation curation: 7 new raw files, for sqlite:///fediscope.db")
               for line in lines), err
    # its own log lines once: as they were relayed, not again in the tail
    assert "WARNING spark-submit fediscope-curate-2026-11-23 was stopped; its stderr (last 3 lines, 2 of them shown " \
           "above):" in lines, err
    assert "WARNING spark-submit fediscope-curate-2026-11-23 stderr: 26/12/01 23:59:39 INFO BlockManager: " \
           "BlockManager started" in lines, err
    assert sum("curation: 7 new raw files" in line for line in lines) == 1, err


def test_a_stopped_jobs_output_read_after_the_task_returned_is_no_traceback(spark_home: Path, tmp_path: Path) -> None:
    """A process the job started holds its output pipes after the job was stopped, and writes on. The task's
    readers of the job's output read until the pipes end, after the task returned. Was: the task closed the pipes as
    it returned, under the readers still reading them, which died with "Exception in thread …" and a ValueError's
    traceback in the task log. Deterministic: the lingering process writes until the task has returned (a file it
    waits for, made by the task's script once the task returned), so the task's readers are still reading when it
    returns."""
    import signal
    import sys
    import time

    from child_process import child

    lake = _lake_with_data(tmp_path / "lake")
    calls = tmp_path / "calls.jsonl"
    overrides = {"engine": "spark", "spark_master": "yarn", "lake": str(lake)}
    env = {**os.environ, "SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(calls), "FAKE_SPARK_SLEEP": "300",
           "FAKE_SPARK_LINGER": str(tmp_path / "task-returned")}
    with child([sys.executable, "-c", KILLED_TASK, json.dumps(overrides), json.dumps(env)]) as task:
        deadline = time.monotonic() + 60
        while not calls.exists() and time.monotonic() < deadline and task.poll() is None:
            time.sleep(0.1)
        assert calls.exists(), task.communicate(timeout=5)
        task.send_signal(signal.SIGTERM)
        out, err = task.communicate(timeout=90)
    # the readers ended with the pipes, once the lingering process did
    assert out.splitlines() == ["on_kill", "terminated: the batch's process task was stopped (SIGTERM)",
                                "threads left: 0"], err
    assert task.returncode == 143
    assert "Traceback" not in err and "Exception in thread" not in err, err
    assert "WARNING spark-submit fediscope-curate-2026-11-23 stdout: still running" in err.splitlines(), err
    assert not (lake / "_state" / "process.lock").exists()


# a batch task as Airflow runs it (Airflow loaded, its SIGTERM handler in place), on a clock of its own: a wait of
# the stop that runs out moves the clock ahead by its whole timeout at once, so what the test measures is how long the
# stop's waits can take on any machine, not how long they took on this one (and it runs in a moment)
STOP_ON_ITS_CLOCK = textwrap.dedent("""
    import json, os, signal, subprocess, sys, threading, time
    from datetime import date
    import airflow.configuration
    from fediscope import orchestration as orch
    from fediscope.interrupts import Terminated

    real_monotonic, real_wait, real_join = time.monotonic, subprocess.Popen.wait, threading.Thread.join
    ahead, stopping, ran_out, unbounded = [0.0], [], [], []
    time.monotonic = lambda: real_monotonic() + ahead[0]

    def job_wait(self, timeout=None):
        if not stopping:
            return real_wait(self, timeout)
        if timeout is None:
            unbounded.append("the job")
            return real_wait(self)
        try:
            return real_wait(self, min(timeout, 0.3))
        except subprocess.TimeoutExpired:
            ahead[0] += max(0.0, timeout - 0.3)
            ran_out.append(timeout)
            raise subprocess.TimeoutExpired(self.args, timeout) from None

    def join(self, timeout=None):
        if not stopping or not self.name.startswith("spark-submit "):  # only the readers of the job's output
            return real_join(self, timeout)
        if timeout is None:
            unbounded.append(self.name)
            return real_join(self)
        real_join(self, min(timeout, 0.3))
        if self.is_alive():
            ahead[0] += max(0.0, timeout - 0.3)
            ran_out.append(timeout)

    subprocess.Popen.wait, threading.Thread.join = job_wait, join
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))  # the task runner's (it calls on_kill)
    env = json.loads(sys.argv[2])
    settings = orch.settings_from_overrides(json.loads(sys.argv[1]), env={})
    try:
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    except Terminated:
        print(json.dumps({"ran_out": ran_out, "unbounded": unbounded,
                          "lock_left": os.path.exists(os.path.join(settings.lake, "_state", "process.lock"))}),
              flush=True)
        open(env["FAKE_SPARK_LINGER"], "w").close()  # the job's lingering process ends now
        sys.exit(143)
""")


@pytest.mark.parametrize("cleanup_time", [None, "2"])
def test_a_stopped_task_whose_job_ignores_sigterm_releases_the_lock_within_airflows_grace(
        spark_home: Path, tmp_path: Path, cleanup_time: str | None) -> None:
    """Airflow sends SIGKILL 5 s after SIGTERM (Airflow 3's task supervisor, whatever ``killed_task_cleanup_time``
    says, which Airflow 3 does not read): the stop of a job that goes on after SIGTERM, with a process of its own
    holding its output pipes, waits for it and for its readers only so long that the task releases the lake lock with
    a second to spare. Was 3 s for the job, then 3 s more for its readers: SIGKILL came first, and the lock stayed
    behind. The waits are counted on the task's own clock (:data:`STOP_ON_ITS_CLOCK`), not timed.

    A ``killed_task_cleanup_time`` of 2 changes nothing either: was taken as the grace, so the job was killed at
    once (no time to stop on SIGTERM, its driver left holding the lock) and the task log said to set it to 5, though
    Airflow 3 gave the task its 5 s all the same."""
    grace = orch.AIRFLOW_KILL_GRACE
    said = "spark-submit fediscope-curate-2026-11-23 did not stop within 3.0 s of SIGTERM: killed (SIGKILL)"
    import signal
    import sys
    import time

    from child_process import child

    lake = _lake_with_data(tmp_path / "lake")
    calls = tmp_path / "calls.jsonl"
    overrides = {"engine": "spark", "spark_master": "yarn", "lake": str(lake)}
    env = {**os.environ, "SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(calls), "FAKE_SPARK_SLEEP": "300",
           "FAKE_SPARK_IGNORE_SIGTERM": "1", "FAKE_SPARK_LINGER": str(tmp_path / "task-returned"),
           "AIRFLOW_HOME": str(tmp_path / "airflow")}
    env.pop("AIRFLOW__CORE__KILLED_TASK_CLEANUP_TIME", None)
    if cleanup_time is not None:
        env["AIRFLOW__CORE__KILLED_TASK_CLEANUP_TIME"] = cleanup_time
    with child([sys.executable, "-c", STOP_ON_ITS_CLOCK, json.dumps(overrides), json.dumps(env)], env=env) as task:
        deadline = time.monotonic() + 60
        while not calls.exists() and time.monotonic() < deadline and task.poll() is None:
            time.sleep(0.1)
        assert calls.exists(), task.communicate(timeout=5)
        task.send_signal(signal.SIGTERM)
        out, err = task.communicate(timeout=60)
    assert task.returncode == 143, err
    stop = json.loads(out.splitlines()[-1])  # after the task log, which Airflow's logging sends to stdout
    assert not stop["lock_left"] and not (lake / "_state" / "process.lock").exists()
    assert stop["ran_out"], stop  # the job did not stop on SIGTERM, and its readers were left reading
    assert sum(stop["ran_out"]) <= grace - 1.0, stop
    assert stop["unbounded"] == [], stop  # every wait of the stop has a timeout
    assert said in out, out
    assert (tmp_path / "calls.jsonl.stopped").exists()  # the job got a SIGTERM (the fake spark-submit notes it)
    assert "at once" not in out and "killed_task_cleanup_time" not in out, out  # no warning at the job's start


def test_a_grace_that_leaves_a_job_no_time_after_sigterm_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Airflow's grace leaves a stopped job no time between SIGTERM and SIGKILL (2 s or less: 1.5 s kept for
    releasing the lock, 0.5 s for reaping the job), the task log says why; above that the job gets some, and nothing
    is said. No setting is named: Airflow 3's 5 s are fixed (was: "set killed_task_cleanup_time to 5", a setting
    Airflow 3 does not read)."""
    for grace, says in ((0.0, True), (1.0, True), (2.0, True), (2.1, False), (3.0, False), (5.0, False)):
        monkeypatch.setattr(orch, "airflow_kill_grace", lambda grace=grace: grace)
        said = orch.no_time_to_stop("fediscope-curate", "would be killed (SIGKILL) at once if this task is stopped")
        assert (said is not None) is says, (grace, said)
        assert (orch.sigterm_grace(orch.stop_budget()) == 0) is says, grace
    monkeypatch.setattr(orch, "airflow_kill_grace", lambda: 1.0)
    assert orch.no_time_to_stop("fediscope-curate", "was killed (SIGKILL) at once") == (
        "spark-submit fediscope-curate was killed (SIGKILL) at once, with no time to stop on SIGTERM: Airflow sends "
        "SIGKILL 1 s after SIGTERM, and a stopped task keeps 1.5 s of it for releasing the lake lock and 0.5 s "
        "for reaping the job; its Python driver may outlive it and keep the lake lock until it ends")


def test_a_stopped_tasks_grace_is_airflows_5_s_whatever_the_cleanup_time_says(tmp_path: Path) -> None:
    """Airflow 3 sends SIGKILL 5 s after SIGTERM and reads no ``killed_task_cleanup_time``: no value of it, longer
    (60 by default), shorter (was taken) or unreadable, changes the grace. Read in a process that loaded Airflow's
    configuration, as a task's has (Airflow never runs in the pytest process)."""
    import subprocess
    import sys

    code = textwrap.dedent("""
        import os, sys
        from fediscope import orchestration as orch
        grace = [orch.airflow_kill_grace()]
        import airflow.configuration
        for value in sys.argv[1:]:
            os.environ["AIRFLOW__CORE__KILLED_TASK_CLEANUP_TIME"] = value
            grace.append(orch.airflow_kill_grace())
        print(grace)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")} | {"AIRFLOW_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code, "60", "2", "soon", "-1"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[5.0, 5.0, 5.0, 5.0, 5.0]", done.stdout


def test_the_grace_taken_is_the_installed_airflows_own() -> None:
    """:data:`AIRFLOW_KILL_GRACE` is the delay after which the installed Airflow's task supervisor follows its
    SIGTERM to a task with SIGKILL (``WatchedSubprocess.kill``'s ``escalation_delay``, which each of its stops of a
    running task leaves as it is), and ``killed_task_cleanup_time`` is no setting that code reads: an Airflow that
    changes either fails here, not in a task whose lock is left behind."""
    import inspect

    from airflow.sdk.execution_time import supervisor

    delay = inspect.signature(supervisor.WatchedSubprocess.kill).parameters["escalation_delay"].default
    assert delay == orch.AIRFLOW_KILL_GRACE
    assert "killed_task_cleanup_time" not in inspect.getsource(supervisor)


def test_a_failed_jobs_own_log_lines_are_in_the_task_log_once(spark_home: Path, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """The job's own log lines, relayed as it printed them, are left out of the tail of its output logged when
    it fails; the tail's head says how many of its lines were shown above. Was: each of them logged twice, its last
    warning among them."""
    from fediscope.errors import FediscopeError

    lake = str(_lake_with_data(tmp_path / "lake"))
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "yarn", "lake": lake}, env={})
    env = {"SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl"),
           "FAKE_SPARK_PROGRESS": "1", "FAKE_SPARK_FAIL": "1"}
    with caplog.at_level(logging.INFO, logger="fediscope.orchestration"), pytest.raises(FediscopeError):
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("spark-submit ")]
    for line in ("curation: 7 new raw files", "curation: 2 status versions dated after their fetch skipped"):
        assert sum(line in message for message in said) == 1, said
    job = "spark-submit fediscope-curate-2026-11-23"
    assert said[2:] == [f"{job} failed (exit 2); its stderr (last 4 lines, 2 of them shown above):",
                        f"{job} stderr: 26/12/01 23:59:39 INFO BlockManager: BlockManager started",
                        f"{job} stderr: Exception in thread main: cannot reach sqlite:///fediscope.db"], said


def test_a_tail_whose_lines_were_all_relayed_says_so_and_repeats_none(caplog: pytest.LogCaptureFixture) -> None:
    output = {"stdout": [("2026-12-06 06:05:48,949 INFO fediscope.engine.curation curation: 7 new raw files", True)],
              "stderr": []}
    with caplog.at_level(logging.INFO, logger="fediscope.orchestration"):
        orch._log_tail("fediscope-curate-2026-11-23", output, (), "was stopped")
    assert [r.getMessage() for r in caplog.records] == [
        "spark-submit fediscope-curate-2026-11-23 was stopped; its stdout (last 1 lines, all shown above)"]


def test_a_spark_jobs_progress_reaches_the_task_log_while_it_runs(spark_home: Path, spark_master: str,
                                                                   tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The driver's own log lines (curation's and the metrics' progress, their warnings) are copied into the task
    log as the job prints them, at their level, secrets masked; the JVM's lines and the job's other output are not
    (they are in the tail logged when the job fails). Was: nothing of a job's output until it failed, so a Spark
    curation of hours showed one "processing …" line in the task log."""
    lake = str(_lake_with_data(tmp_path / "lake"))
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": spark_master, "lake": lake,
                                             "store": "mysql+pymysql://fediscope:pw-0123456789@db/fediscope"},
                                            env={})
    env = {"SPARK_HOME": str(spark_home), "PATH": "/usr/bin:/bin", "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl"),
           "FAKE_SPARK_PROGRESS": "1"}
    with caplog.at_level(logging.INFO, logger="fediscope.orchestration"):
        result = orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    assert result["curate"] == {"job": "curate.py"} and result["metrics"] == {"job": "metrics.py"}
    timestamp = re.compile(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")  # the job's own, of its log line
    relayed = [(r.levelno, timestamp.sub(" ", r.getMessage(), count=1)) for r in caplog.records
               if r.getMessage().startswith("spark-submit ")]
    assert relayed == [
        line for job in ("curate-2026-11-23", "metrics-2026-11-23") for line in (
            (logging.INFO, f"spark-submit fediscope-{job}: INFO fediscope.engine.curation curation: 7 new raw "
                           "files, for mysql+pymysql://fediscope:***@db/fediscope"),
            (logging.WARNING, f"spark-submit fediscope-{job}: WARNING fediscope.engine.curation curation: 2 status "
                              "versions dated after their fetch skipped"))]
    assert not any("pw-0123456789" in r.getMessage() for r in caplog.records)


def test_a_spark_jobs_own_warning_reaches_the_task_log(spark_home: Path, spark_master: str, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """A warning a job says as its own (a record marked console.SAID: the job's text log writes it ``fediscope
    metrics: warning: …``, not as a log line) is copied into the task log as it is printed, as the job's log lines
    are. Was: only the lines in fediscope's log format were, so a metric's rows left out (a key longer than a store
    key may hold) were said in the task log only when the job failed, in its output's tail."""
    lake = str(_lake_with_data(tmp_path / "lake"))
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": spark_master, "lake": lake}, env={})
    env = {"SPARK_HOME": str(spark_home), "PATH": "/usr/bin:/bin", "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl"),
           "FAKE_SPARK_SAID": "1", "PYTHONPATH": str(Path(orch.__file__).parents[1])}  # this checkout's fediscope
    with caplog.at_level(logging.INFO, logger="fediscope.orchestration"):
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    relayed = [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("spark-submit ")]
    said = ("warning: metric languages: 1 row(s) left out: a key (language) longer than the 255 characters a store "
            "key may hold")
    forced = "warning: curation: rebuilding without 1 raw file(s) curated before and gone from the lake"
    assert relayed == [(logging.WARNING, f"spark-submit fediscope-curate-2026-11-23: fediscope curate: {said}"),
                       (logging.WARNING, f"spark-submit fediscope-curate-2026-11-23: fediscope curate: {forced}"),
                       (logging.WARNING, f"spark-submit fediscope-metrics-2026-11-23: fediscope metrics: {said}")]


def test_spark_submit_jobs_get_the_lake_as_spark_addresses_it(spark_home: Path, tmp_path: Path,
                                                             webhdfs_server) -> None:
    _lake_with_data(webhdfs_server.local("/data/fediscope"))
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "yarn",
                                             "lake": webhdfs_server.lake_url("/data/fediscope", user="fediscope"),
                                             "spark_lake_uri": "hdfs://namenode:8020/data/fediscope"}, env={})
    env = {"SPARK_HOME": str(spark_home), "PATH": "/usr/bin:/bin", "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl")}
    orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c["spark_lake"] for c in calls] == ["hdfs://namenode:8020/data/fediscope"] * 2
    assert all(c["lock"]["job_runs_under"].startswith("fediscope batch") for c in calls)  # a lock on HDFS too
    assert all("is locked by another run" in c["lock"]["another_run"] for c in calls)
    assert not webhdfs_server.local("/data/fediscope/_state/process.lock").exists()


def test_a_failing_spark_job_fails_with_its_last_error_line(spark_home: Path, tmp_path: Path) -> None:
    from fediscope.errors import FediscopeError

    lake = str(_lake_with_data(tmp_path / "lake"))
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "yarn", "lake": lake,
                                             "store": "mysql+pymysql://fediscope:s3cret@db/fediscope"}, env={})
    env = {"SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl"), "FAKE_SPARK_FAIL": "1"}
    with pytest.raises(FediscopeError, match=r"spark-submit fediscope-curate-2026-11-23 failed \(exit 2\): "
                                             r"Exception in thread main") as info:
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    assert type(info.value) is FediscopeError  # exit 2 without the job's own line: no bad setting, retried
    assert "s3cret" not in str(info.value)
    assert not (tmp_path / "lake" / "_state" / "process.lock").exists()  # released when a job fails too


@pytest.mark.parametrize(("job", "code", "line", "kind"), [
    ("curate", 2, "fediscope curate: error: a rebuild of the curated tables (`fediscope process --recurate`) was "
                  "interrupted before it finished: a run limited by this run's day 2026-11-23 cannot finish it; run "
                  "`fediscope process --recurate`", "ConfigError"),
    ("curate", 2, "spark_jobs/curate.py: error: unrecognized arguments: --window-name", "ConfigError"),
    ("curate", 4, "fediscope curate: error: the lake /lake holds no data (no raw batches, nothing curated)",
     "NoLakeError"),
    ("curate", 6, "fediscope curate: error: the raw file raw/x.jsonl is cut short or damaged", "DamagedBatchError"),
    ("metrics", 5, "fediscope metrics: error: nothing is curated in the lake /lake", "NothingCuratedError"),
])
def test_a_spark_jobs_exit_code_is_raised_as_the_error_it_stands_for(spark_home: Path, tmp_path: Path, job: str,
                                                                    code: int, line: str, kind: str) -> None:
    """The job's exit code says what failed (2 a bad setting or argument, 4 no lake, 5 nothing curated, 6 a damaged
    raw file): raised as that error, which the process task does not retry, with the job's own line. Was a
    FediscopeError for every exit, retried 8 times over 2 hours."""
    import fediscope.errors

    lake = _lake_with_data(tmp_path / "lake")
    if job == "metrics":  # curated something (the manifest): _nothing_curated leaves the job's own line
        (lake / "_state").mkdir()
        (lake / "_state" / "curated_manifest.json").write_text("{}")
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "yarn", "lake": str(lake)}, env={})
    env = {"SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl"),
           "FAKE_SPARK_ERROR": line, "FAKE_SPARK_EXIT": str(code)}
    if job == "metrics":  # the curation job succeeds, the metrics job fails
        script = spark_home / "bin" / "spark-submit"
        script.write_text(script.read_text().replace('if os.environ.get("FAKE_SPARK_EXIT"):',
                                                     'if os.environ.get("FAKE_SPARK_EXIT") and "metrics.py" in '
                                                     'sys.argv[-1]:'))
    window = orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23))
    with pytest.raises(getattr(fediscope.errors, kind)) as info:
        orch.process_window(settings, window, env=env)
    assert type(info.value).__name__ == kind
    assert str(info.value) == f"spark-submit fediscope-{job}-2026-11-23 failed (exit {code}): {line}"
    assert isinstance(info.value, orch.NOT_RETRIED)
    assert not (lake / "_state" / "process.lock").exists()
    # the same exit without the job's own line (the JVM's, or a Python traceback's): no kind of the job's, retried
    jvm = "py4j.protocol.Py4JJavaError: An error occurred while calling o42.sql"
    with pytest.raises(fediscope.errors.FediscopeError) as info:
        orch.process_window(settings, window, env={**env, "FAKE_SPARK_ERROR": jvm})
    assert type(info.value) is fediscope.errors.FediscopeError and not isinstance(info.value, orch.NOT_RETRIED)
    assert str(info.value) == f"spark-submit fediscope-{job}-2026-11-23 failed (exit {code}): {jvm}"


def test_a_metrics_job_with_nothing_curated_says_why_as_verify_does(spark_home: Path, tmp_path: Path) -> None:
    """A dated run of a day without raw files on a lake never curated: the curation job curates nothing, and the
    metrics job refuses the lake (exit 5). Said as verify says it on DuckDB, which run curates the raw files (the
    job's "run spark_jobs/curate.py first" is no fix: it just ran), and not retried."""
    from fediscope.errors import NothingCuratedError

    lake = _lake_with_data(tmp_path / "lake")  # its one raw file is of 2026-11-23
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "yarn", "lake": str(lake)}, env={})
    env = {"SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl"),
           "FAKE_SPARK_ERROR": "fediscope metrics: error: nothing is curated in the lake", "FAKE_SPARK_EXIT": "5"}
    script = spark_home / "bin" / "spark-submit"
    script.write_text(script.read_text().replace('if os.environ.get("FAKE_SPARK_EXIT"):',
                                                 'if os.environ.get("FAKE_SPARK_EXIT") and "metrics.py" in '
                                                 'sys.argv[-1]:'))
    with pytest.raises(NothingCuratedError) as info:
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 20), date(2026, 11, 20)), env=env)
    assert str(info.value) == (
        "spark-submit fediscope-metrics-2026-11-20 computed no metric, the store was not touched: nothing is curated "
        "in the lake yet, and this run's day 2026-11-20 has no raw files (1 raw file lies outside it): let an undated "
        "run (`airflow dags trigger fediscope_batch`) or the daily run curate them first, then clear this run")


def test_local_spark_and_duckdb_run_in_the_worker() -> None:
    assert not orch.uses_spark_submit(orch.settings_from_overrides({"engine": "spark"}, env={}))  # local[2]
    assert not orch.uses_spark_submit(orch.settings_from_overrides({"spark_master": "yarn"}, env={}))  # duckdb
    assert orch.spark_submit_binary({"PATH": ""}) is None


def test_spark_submit_jobs_read_the_variables_settings_as_the_task_does(tmp_path: Path) -> None:
    """The jobs call load_settings() on the environment they are given: every setting they read has the task's
    value, the Variable's included. Before, the Variable's retention_curated_days did not reach them, so a
    cluster curation kept the statuses the curated retention expires (a local engine left them out)."""
    from fediscope.config import load_settings

    overrides = {"engine": "spark", "spark_master": "yarn", "lake": str(tmp_path / "lake"),
                 "store": f"sqlite:///{tmp_path / 'store.db'}", "retention_curated_days": 30,
                 "hbase_table_prefix": "staging", "log_level": "INFO",
                 "spark_lake_uri": "hdfs://namenode:8020/data/fediscope"}
    task = orch.settings_from_overrides(overrides, env={})
    worker = {"FEDISCOPE_RETENTION_CURATED_DAYS": "7", "FEDISCOPE_SPARK_LAKE_URI": "hdfs://old:8020/lake"}
    job = load_settings(env=orch.spark_submit_env(task, worker))
    assert job.retention_curated_days == 30
    for name in orch.SPARK_JOB_SETTINGS:
        assert getattr(job, name) == getattr(task, name), name
    # a setting the task leaves unset is unset for the jobs, whatever the worker's environment held
    job = load_settings(env=orch.spark_submit_env(task.replace(spark_lake_uri=None), worker))
    assert job.spark_lake_uri is None


def test_spark_submit_jobs_log_text_whatever_the_workers_log_format() -> None:
    """The task reads a job's summary as the last line of its stdout starting with "{", and spark-submit merges the
    driver's stderr into that stdout: with a worker's FEDISCOPE_LOG_FORMAT=json (meant for its own logs) passed on,
    a JSON log line logged after the summary (as the Spark session closes) would be taken for it."""
    task = orch.settings_from_overrides({"engine": "spark", "spark_master": "yarn"}, env={})
    assert orch.spark_submit_env(task, {"FEDISCOPE_LOG_FORMAT": "json"})["FEDISCOPE_LOG_FORMAT"] == "text"


# -- maintenance ------------------------------------------------------------------------------------------------
def test_health_checks_pass_on_a_writable_lake_and_a_sqlite_store(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake"),
                                             "store": f"sqlite:///{tmp_path / 'store.db'}"}, env={})
    assert orch.check_lake(settings)["status"] == "OK"
    assert orch.check_store(settings)["status"] == "OK"
    assert not (tmp_path / "lake" / "_doctor").exists() or not any((tmp_path / "lake" / "_doctor").iterdir())


def test_lake_health_warns_of_a_lock_of_another_host_without_failing(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Was: lake_health passed in silence while a lock another host left days ago failed every retention try (12
    retries, some 4 hours) and every batch. A warning naming the holder and `fediscope lake unlock`, not a failure:
    another worker's batch holds the lock just so while it runs."""
    from lock_holders import lock_document

    (tmp_path / "lake" / "_state").mkdir(parents=True)
    (tmp_path / "lake" / "_state" / "process.lock").write_bytes(lock_document(4242, host="worker-7.example"))
    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake")}, env={})
    with caplog.at_level(logging.INFO, logger="fediscope.orchestration"):
        result = orch.check_lake(settings)
    assert result["status"] == "OK" and result["lock"]["status"] == "WARN"
    assert "held by fediscope process (pid 4242 on host worker-7.example, since 2026-11-23T19:05:01Z)" in \
        result["lock"]["detail"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "fediscope.orchestration"
                and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("WARN  lake_lock ")
    assert "-> fix: if pid 4242 no longer runs on worker-7.example, run `fediscope lake unlock`" in warnings[0]


def test_retention_refuses_a_directory_that_is_no_lake_at_once(tmp_path: Path) -> None:
    """The lake setting naming the directory above the lake: retention walked all of it, removing day-old temporary
    files anywhere below, and created _state/ there. Refused as a missing lake is (no retry mends it)."""
    from fediscope.errors import NoLakeError

    (tmp_path / "lake" / "raw").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("someone else's file")
    settings = orch.settings_from_overrides({"lake": str(tmp_path)}, env={})
    with pytest.raises(NoLakeError, match=r"^no lake at .*: it holds none of a lake's directories \(raw/, curated/, "
                                          r"quarantine/, _state/, _audit/\); point .* at the lake's own directory"):
        orch.apply_retention(settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "notes.txt"]


def test_unusable_lake_fails_its_task_with_the_fix(tmp_path: Path) -> None:
    from fediscope.errors import LakeError

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the lake should be")
    settings = orch.settings_from_overrides({"lake": str(blocker)}, env={})
    with pytest.raises(LakeError, match=r"^lake check failed: (?!FAIL).* -> fix: "):
        orch.check_lake(settings)


def test_unreachable_store_fails_its_task_with_the_doctors_fix(tmp_path: Path) -> None:
    """The store check raising (a MySQL server that refuses the connection) gives the fix `fediscope doctor`
    prints for it, not a pointer to run the doctor, and no password."""
    import socket

    from fediscope.errors import StoreError

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = orch.settings_from_overrides({"store": f"mysql+pymysql://fedi:PwSecret99@127.0.0.1:{port}/fediscope"},
                                            env={})
    with pytest.raises(StoreError) as info:
        orch.check_store(settings)
    assert "PwSecret99" not in str(info.value)
    # the store named once (was: "store check failed: FAIL  store  store mysql…"), and where it was set: the
    # Variable's key (was: FEDISCOPE_STORE, which this worker does not set)
    assert str(info.value).startswith(f"store check failed: mysql+pymysql://fedi:***@127.0.0.1:{port}/fediscope: "
                                      "could not connect to the store: ")
    assert ("-> fix: check host, port, user and password in Airflow Variable fediscope_settings: store, and that "
            "the database exists") in str(info.value)
    from_env = orch.settings_from_overrides({}, env={"FEDISCOPE_STORE": settings.store})
    with pytest.raises(StoreError, match=r"^store check failed: mysql\+pymysql://fedi:\*\*\*@.* -> fix: check "
                                         r"host, port, user and password in FEDISCOPE_STORE, "):
        orch.check_store(from_env)


def test_a_store_check_with_a_password_in_the_query_is_redacted_once(tmp_path: Path) -> None:
    """The store's error masks its URL; the task redacted that message a second time, the query parameter's pattern
    then taking the ``:`` after ``***`` for the password (was: ``…/fediscope?password=*** could not connect``)."""
    from fediscope.errors import StoreError

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"mysql+pymysql://fedi@127.0.0.1:{port}/fediscope?password=PwSecret99"
    settings = orch.settings_from_overrides({"store": url}, env={})
    with pytest.raises(StoreError) as info:
        orch.check_store(settings)
    assert "PwSecret99" not in str(info.value)
    assert str(info.value).startswith(f"store check failed: mysql+pymysql://fedi@127.0.0.1:{port}/fediscope?"
                                      "password=***: could not connect to the store: ")


def test_retention_deletes_old_raw_partitions_only(tmp_path: Path) -> None:
    from fediscope.lake import layout

    lake = tmp_path / "lake"
    today = datetime.now(UTC).date()
    old, recent = today - timedelta(days=40), today - timedelta(days=2)
    for day in (old, recent):
        part = lake / layout.partition_dir("statuses", "mastodon.social", day)
        part.mkdir(parents=True)
        (part / "b.jsonl").write_text("{}\n")
    curated = lake / "curated" / "statuses" / f"dt={old.isoformat()}"
    curated.mkdir(parents=True)
    (curated / "part-0.parquet").write_bytes(b"PAR1")
    settings = orch.settings_from_overrides({"lake": str(lake), "retention_raw_days": 30}, env={})
    orch.apply_retention(settings)
    assert not (lake / layout.partition_dir("statuses", "mastodon.social", old)).exists()
    assert (lake / layout.partition_dir("statuses", "mastodon.social", recent) / "b.jsonl").exists()
    assert (curated / "part-0.parquet").exists(), "curated data is kept (retention_curated_days=0)"


def test_refreshed_statuses_count_as_new_records_for_the_ingest_asset() -> None:
    assert orch.new_records({"landed": 0}) == 0  # skipped: no Asset event
    assert orch.new_records({"landed": 3}) == 3
    assert orch.new_records({"landed": 0, "refreshed": 5}) == 5  # engagement changed: curate again
    assert orch.new_records({"landed": 0, "settled": 3}) == 3  # settled counts: curate again too
    assert orch.new_records({}) == 0


# -- a missing lake ---------------------------------------------------------------------------------------------
def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _missing_lake_settings(tmp_path: Path, **extra: object) -> object:
    return orch.settings_from_overrides({"lake": str(tmp_path / "lake"), "store": f"sqlite:///{tmp_path / 's.db'}",
                                         **extra}, env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM})


PSEUDONYM = "orchestration-test-pseudonym-key-0123456789"


@pytest.mark.parametrize("task", ["retention", "lake_health", "verify", "process", "process_spark_submit"])
def test_tasks_refuse_a_missing_lake_and_create_nothing(task: str, tmp_path: Path, spark_home: Path) -> None:
    """As `fediscope gdpr retention` and `fediscope process`: no lock directory, probe, lake or store is created."""
    from fediscope.errors import LakeError

    work = tmp_path / "work"
    work.mkdir()
    settings = _missing_lake_settings(work, **({"engine": "spark", "spark_master": "yarn"}
                                               if task == "process_spark_submit" else {}))
    env = {"SPARK_HOME": str(spark_home), "FAKE_SPARK_LOG": str(tmp_path / "calls.jsonl")}
    window = orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23))
    call = {"retention": lambda: orch.apply_retention(settings), "lake_health": lambda: orch.check_lake(settings),
            "verify": lambda: orch.verify_store(settings),
            "process": lambda: orch.process_window(settings, window, env=env),
            "process_spark_submit": lambda: orch.process_window(settings, window, env=env)}[task]
    with pytest.raises(LakeError, match=rf"no lake at {work / 'lake'}: it does not exist") as info:
        call()
    assert "\n" not in str(info.value)
    assert _tree(work) == [], "nothing created"
    assert not (tmp_path / "calls.jsonl").exists(), "no spark-submit"


def test_a_lake_path_that_is_a_file_is_refused_untouched(tmp_path: Path) -> None:
    from fediscope.errors import LakeError

    (tmp_path / "lake").write_text("not a lake")
    settings = _missing_lake_settings(tmp_path)
    window = orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23))
    for call in (lambda: orch.apply_retention(settings), lambda: orch.process_window(settings, window)):
        with pytest.raises(LakeError, match="is not a directory"):
            call()
    assert _tree(tmp_path) == ["lake"] and (tmp_path / "lake").read_text() == "not a lake"


@pytest.mark.parametrize(("where", "named"), [
    ("variable", "Airflow Variable fediscope_settings: lake"), ("env", "FEDISCOPE_LAKE"),
    ("default", "FEDISCOPE_LAKE on the workers (or 'lake' in the Airflow Variable fediscope_settings, or "
                "[fediscope] lake in fediscope.toml)")])
@pytest.mark.parametrize("task", ["retention", "lake_health", "verify", "process", "collect"])
def test_a_tasks_lake_error_names_where_the_lake_was_set(task: str, where: str, named: str, tmp_path: Path) -> None:
    """The fix names the place the operator set the lake in: with the Variable's ``lake``, the Variable's key (was:
    "point FEDISCOPE_LAKE at …", a variable the Variable overrides, so following the fix changed nothing)."""
    from fediscope.errors import LakeError

    lake = tmp_path / "lake"  # the default lake is ./lake, and the test runs in tmp_path
    if task == "collect":
        lake.write_text("a file where the lake should be")  # collect creates a missing lake
    env = {"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM, **({"FEDISCOPE_LAKE": str(lake)} if where == "env" else {})}
    settings = orch.settings_from_overrides({"lake": str(lake)} if where == "variable" else {}, env=env)
    window = orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23))
    call = {"retention": lambda: orch.apply_retention(settings), "lake_health": lambda: orch.check_lake(settings),
            "verify": lambda: orch.verify_store(settings), "process": lambda: orch.process_window(settings, window),
            "collect": lambda: orch.collect_target(settings, {"instance": "https://mastodon.example",
                                                              "source": "public"}, 1)}[task]
    with pytest.raises(LakeError) as info:
        call()
    assert f"point {named} at " in str(info.value), str(info.value)
    if where != "default":
        assert "FEDISCOPE_LAKE" not in str(info.value).replace(named, ""), str(info.value)


@pytest.mark.parametrize("state", ["missing", "file"])
def test_lake_health_on_a_missing_lake_fails_without_retries(state: str, tmp_path: Path) -> None:
    """As process and retention: no retry mends a missing lake (only ingest creates it), so the task fails at once
    with the "not retried" line. It was a plain LakeError, retried three times over 7 minutes."""
    from airflow.sdk.exceptions import AirflowFailException

    lake = tmp_path / "lake"
    if state == "file":
        lake.write_text("a file where the lake should be")
    settings = orch.settings_from_overrides({"lake": str(lake)}, env={})
    with pytest.raises(AirflowFailException) as info, orch.failing_at_once():
        orch.check_lake(settings)
    text = str(info.value)
    found = {"missing": f"no lake at {lake}: it does not exist", "file": f"the lake path {lake} is not a directory"}
    assert text.startswith(f"lake check failed: {found[state]} -> fix: "), text
    assert text.endswith("(not retried: no retry mends this)"), text
    assert "point Airflow Variable fediscope_settings: lake at" in text, text
    assert _tree(tmp_path) == ([] if state == "missing" else ["lake"]), "nothing created"


def test_process_refuses_an_empty_lake_before_the_store_is_touched(tmp_path: Path) -> None:
    """A lake holding nothing would replace every metric of the store with nothing (as `fediscope process`)."""
    from fediscope.errors import LakeError

    (tmp_path / "lake").mkdir()
    settings = _missing_lake_settings(tmp_path)
    with pytest.raises(LakeError, match="holds no data .*the store was not touched"):
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)))
    assert _tree(tmp_path) == ["lake"], "no store, no lock directory"


@pytest.mark.parametrize("lake", ["a-file", "unwritable"])
def test_ingest_refuses_an_unusable_lake_before_asking_the_instance(lake: str, tmp_path: Path) -> None:
    """As `fediscope collect`: a lake error, not the source's UpstreamError after a fetch (a closed port here)."""
    import os
    import socket

    from fediscope.errors import LakeError

    if lake == "a-file":
        path = tmp_path / "lake"
        path.write_text("not a lake")
    else:
        if os.geteuid() == 0:
            path = Path("/proc/fediscope-lake")  # root writes everywhere but here
        else:
            (tmp_path / "ro").mkdir(mode=0o500)
            path = tmp_path / "ro" / "lake"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = orch.settings_from_overrides({"lake": str(path), "max_retries": 0},
                                            env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM})
    with pytest.raises(LakeError, match=r"(is not a directory|cannot create the lake directory|not writable)"):
        orch.collect_target(settings, {"instance": f"http://127.0.0.1:{port}", "source": "public"}, 1)


def test_verify_store_reads_only_and_creates_no_store(tmp_path: Path) -> None:
    """The batch's verify task is a check: a store that does not exist is an error, never created (it opened the
    store writable, which creates a SQLite file and the catalog table)."""
    from fediscope.errors import StoreError

    _lake_with_data(tmp_path / "lake")
    settings = _missing_lake_settings(tmp_path)
    with pytest.raises(StoreError, match="does not exist yet"):
        orch.verify_store(settings)
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(("change", "reason"), [
    ("UPDATE metric_languages SET toots = 'lots'", "invalid literal for int() with base 10: 'lots'"),
    ("ALTER TABLE metric_languages DROP COLUMN share",
     "store sqlite:///{db}: could not read metric_languages: no such column: metric_languages.share"),
], ids=["value-of-another-type", "column-missing"])
def test_verify_store_names_a_metric_this_version_cannot_read_in_one_line(change: str, reason: str,
                                                                         tmp_path: Path) -> None:
    """A metric whose rows this version cannot decode (as when another fediscope version stored it) fails the verify
    task with the one wording every reader gives, naming the task that stores it again. Was: the store's decoding
    ``ValueError`` itself (a column missing: the store's error, not saying what to do)."""
    import contextlib
    import sqlite3

    from fediscope.engine.metrics import load_metrics
    from fediscope.errors import StoreError
    from fediscope.store.port import open_store

    _lake_with_data(tmp_path / "lake")
    settings = _missing_lake_settings(tmp_path)
    with contextlib.closing(open_store(settings.store)) as store:
        store.write(load_metrics()["languages"], [{"language": "en", "toots": 3, "share": 0.75},
                                                  {"language": "de", "toots": 1, "share": 0.25}])
    with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as db, db:
        db.execute(change)
    with pytest.raises(StoreError) as info:
        orch.verify_store(settings)
    assert str(info.value) == (
        f"metric languages in the store does not have what this fediscope version reads "
        f"({reason.format(db=tmp_path / 's.db')}), as when another fediscope version stored it; re-run "
        "`fediscope process` (the fediscope_batch DAG's process task) with this version to store it again")


def test_verify_store_names_a_metric_table_dropped_by_hand_as_every_reader_does(tmp_path: Path) -> None:
    """"metric <name>: its table … is missing (dropped by hand?)" and the fix, after the store (the task's log names
    it nowhere else), as ``fediscope store export`` says it; the error keeps its type (tests/test_unreadable_metric_
    wording.py has the other readers). Its fix names the DAG's process task, as the task's stale-metric wording does
    (was: `fediscope process` alone)."""
    import contextlib
    import sqlite3

    from fediscope.engine.metrics import load_metrics
    from fediscope.errors import MissingTableError
    from fediscope.store.port import open_store

    _lake_with_data(tmp_path / "lake")
    settings = _missing_lake_settings(tmp_path)
    with contextlib.closing(open_store(settings.store)) as store:
        store.write(load_metrics()["languages"], [{"language": "en", "toots": 3, "share": 0.75}])
    with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as db, db:
        db.execute("DROP TABLE metric_languages")
    with pytest.raises(MissingTableError) as info:
        orch.verify_store(settings)
    assert str(info.value) == (
        f"store sqlite:///{tmp_path / 's.db'}: metric languages: its table metric_languages is missing (dropped by "
        "hand?): run `fediscope process` (the fediscope_batch DAG's process task) to write it again (`fediscope store "
        "drop languages` if no SQL file defines it any more); `fediscope doctor` lists every missing table")


def test_an_ingest_tasks_collection_names_its_page_budget_as_the_variable_sets_it(tmp_path: Path,
                                                                                 caplog: pytest.LogCaptureFixture
                                                                                 ) -> None:
    """The collector's summary says what stopped a walk and what to raise: inside Airflow the Variable's
    ``max_pages``, not ``fediscope collect``'s ``--max-pages``, which no Airflow user has."""
    from doubles.mastodon_server import MastodonDouble

    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake"), "max_retries": 0},
                                            env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM})
    with MastodonDouble(statuses=100) as server, caplog.at_level(logging.INFO, logger="fediscope"):
        result = orch.collect_target(settings, {"instance": server.url, "source": "public"},
                                     orch.max_pages('{"max_pages": "1"}'))
        domain = server.domain
    assert result["pages"] == 1 and not result["sources"][0]["caught_up"]
    (summary,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("collected 1 source")]
    assert ("; the timeline walk stopped at its page budget ('max_pages' in the Airflow Variable fediscope_settings) "
            f"on 1 source ({domain} public), more statuses to fetch") in summary
    assert "--max-pages" not in caplog.text


def test_an_ingest_tasks_summary_failure_and_logs_name_an_accounts_source_by_its_digest(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Was: the task's label and its own lines named an ``account:`` source by its digest, but the summary it
    returns (its XCom, kept in Airflow's metadata database), the collector's log lines in its task log, and its
    failure line (the instance's "account nosuchuser was not found" it quotes) named the handle. Privacy on, the
    digest everywhere now; the Asset event's ``extra.source`` takes it from :func:`orch.announced_source`. Nothing
    downstream reads the handle there: the ``targets`` list, which the tasks collect from, keeps it."""
    from doubles.mastodon_server import MastodonDouble

    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake"), "max_retries": 0},
                                            env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM})
    with MastodonDouble(statuses=100) as server, caplog.at_level(logging.INFO, logger="fediscope"):
        result = orch.collect_target(settings, {"instance": server.url, "source": "account:mastodonpy_test_2"}, 1)
        with pytest.raises(UpstreamError) as failed:
            orch.collect_target(settings, {"instance": server.url, "source": "account:NoSuchUser"}, 1)
        domain = server.domain
    named = _logged("account:mastodonpy_test_2", settings)
    assert result["landed"] > 0 and [s["source"] for s in result["sources"]] == [named], result
    assert orch.announced_source("account:mastodonpy_test_2", settings) == named
    digest = _logged("account:NoSuchUser", settings)
    assert str(failed.value) == (f"collecting {domain} {digest}: account {digest.partition(':')[2]} was not found "
                                 f"on {domain}")
    said = json.dumps(result) + str(failed.value) + caplog.text
    assert "mastodonpy_test" not in said.lower() and "nosuchuser" not in said.lower(), said
    off = orch.settings_from_overrides({"privacy": False}, env={})
    assert orch.announced_source("account:mastodonpy_test_2", off) == "account:mastodonpy_test_2"  # as before


def test_with_privacy_off_an_ingest_tasks_failure_and_own_lines_name_an_accounts_source_as_written(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """As the collector's lines and the returned summary name it: was an unkeyed digest in the failure line's
    source (``collecting host account:1c2f…: account NoSuchUser was not found``) and the "collected …" line."""
    from doubles.mastodon_server import MastodonDouble

    settings = orch.settings_from_overrides({"lake": str(tmp_path / "lake"), "max_retries": 0, "privacy": False},
                                            env={})
    with MastodonDouble(statuses=100) as server, caplog.at_level(logging.INFO, logger="fediscope"):
        result = orch.collect_target(settings, {"instance": server.url, "source": "account:mastodonpy_test_2"}, 1)
        with pytest.raises(UpstreamError) as failed:
            orch.collect_target(settings, {"instance": server.url, "source": "account:NoSuchUser"}, 1)
        domain = server.domain
    assert [s["source"] for s in result["sources"]] == ["account:mastodonpy_test_2"], result
    assert f"collected {domain} account:mastodonpy_test_2: landed {result['landed']} records" in caplog.messages
    assert str(failed.value) == (f"collecting {domain} account:NoSuchUser: account NoSuchUser was not found "
                                 f"on {domain}")


def test_a_cluster_master_that_does_not_answer_is_named_as_the_variable_sets_it(spark_home: Path,
                                                                               tmp_path: Path) -> None:
    """The master and the engine set in the Airflow Variable are named by its keys (was: "is
    FEDISCOPE_SPARK_MASTER its right address? Or use FEDISCOPE_ENGINE=duckdb", variables the workers never set)."""
    from fediscope.errors import EngineStartError

    _, _, settings, env = _spark_at_a_closed_port(spark_home, tmp_path)

    with pytest.raises(EngineStartError) as raised:
        orch.process_window(settings, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)), env=env)
    assert str(raised.value).endswith(
        f"is Airflow Variable {orch.VARIABLE}: spark_master its right address? Or set Airflow Variable "
        f"{orch.VARIABLE}: engine to 'duckdb'"), raised.value
    assert "FEDISCOPE_" not in str(raised.value)
    assert not (tmp_path / "calls.jsonl").exists()  # no job was submitted
