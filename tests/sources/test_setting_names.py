"""The collector's summary names the setting it tells the user to raise where that setting was set: the variable,
the config file's key, the Airflow Variable's key or the Python argument (:meth:`Settings.origin`), and a setting
set nowhere by both its variable and the config file's key. Was: always the ``FEDISCOPE_*`` variable, which a user
who configures fediscope in ``fediscope.toml`` or in the Airflow Variable does not set, or sets in vain (the
Variable wins over it).

Each run goes against the Mastodon double (the first-run depth, the rate-limit bound) or the sample instance (the
directory; the settle pass, whose statuses must be of a chosen age), with settings loaded as the commands, the
Airflow tasks and the Python API load them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from collector_testing import TEST_KEY

from fediscope import orchestration, python_api
from fediscope.config import SETTINGS, Settings, load_settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.summary import MAX_PAGES_OPTION, CollectSummary

VARIABLE = orchestration.VARIABLE
ENV = {s.name: s.env for s in SETTINGS}

#: how each origin names setting ``name`` (``{config}``: the config file's path)
NAMED = {
    "environment": lambda name: ENV[name],
    "file": lambda name: f"{{config}}: [fediscope] {name}",
    "variable": lambda name: f"Airflow Variable {VARIABLE}: {name}",
    "argument": lambda name: f"the {name!r} argument",
}


def _toml(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def settings_from(origin: str, config: Path, base: dict[str, Any], **values: Any) -> Settings:
    """Settings with ``values`` set from ``origin`` (``base`` from code, in every case), as the command (variables,
    ``fediscope.toml``), an Airflow task (the Variable over the workers' environment) and the Python API load them.
    The config file ``config`` is read in every case but the Variable's and the argument's (none is there)."""
    if origin == "environment":  # over the same keys in the file: the variable wins, and is named
        config.write_text("[fediscope]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items()))
        env = {ENV[k]: str(v) if not isinstance(v, bool) else str(v).lower() for k, v in values.items()}
        return load_settings(env=env, toml_path=config, **base)
    if origin == "file":
        config.write_text("[fediscope]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items()))
        return load_settings(env={}, toml_path=config, **base)
    if origin == "variable":
        return orchestration.settings_from_overrides({**base, **values}, env={})
    assert origin == "argument"
    return python_api.settings(**base, **values)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where a test's config file is written; the current directory holds no ``fediscope.toml`` of its own."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "settings").mkdir()
    return tmp_path / "settings" / "fediscope.toml"


@pytest.fixture
def base(lake_dir: Path) -> dict[str, Any]:
    return {"lake": str(lake_dir), "pseudonym_key": TEST_KEY, "retry_backoff": 0.01, "request_timeout": 2.0,
            "max_retries": 3, "page_limit": 10}


def expected(text: str, config: Path) -> str:
    return text.replace("{config}", str(config))


@pytest.mark.parametrize("origin", ["environment", "file", "variable", "argument"])
def test_a_first_run_cut_by_its_depth_names_the_setting_where_it_was_set(
        origin: str, mastodon_server: Any, config: Path, base: dict[str, Any]) -> None:
    """``backfill_pages`` is named where it was set; ``backfill_since``, set nowhere, by its variable and the key of
    the config file read (``fediscope.toml`` when none was)."""
    settings = settings_from(origin, config, base, backfill_pages=2)
    summary = run_collection(settings, [(mastodon_server.url, parse_source("public"))], progress=False)
    assert summary.ok and summary.sources[0].backfill_cut
    read = config if origin in ("environment", "file") else "fediscope.toml"
    assert summary.line().endswith(expected(
        f"; first run stopped at {NAMED[origin]('backfill_pages')} on 1 source: older statuses are not collected, "
        f"by this run or a later one; raise it or set FEDISCOPE_BACKFILL_SINCE (or [fediscope] backfill_since in "
        f"{read}) before a source's first run", config)), summary.line()


@pytest.mark.parametrize("origin", ["file", "variable"])
def test_a_wait_longer_than_the_bound_names_the_bound_where_it_was_set(
        origin: str, mastodon_server: Any, config: Path, base: dict[str, Any]) -> None:
    """A failed source's reason names ``rate_limit_max_wait`` where it was set (its variable, or set nowhere: the
    variable, as tests/sources/test_client.py says)."""
    mastodon_server.fail(429, times=10, retry_after="3600")
    settings = settings_from(origin, config, base, rate_limit_max_wait=10)
    summary = run_collection(settings, [(mastodon_server.url, parse_source("public"))], progress=False)
    assert [s.error for s in summary.failed] == [expected(
        f"{mastodon_server.domain}/api/v1/timelines/public: rate limited (HTTP 429); it asks to retry in 3600 s, "
        f"longer than the 10 s we wait ({NAMED[origin]('rate_limit_max_wait')}); run again later", config)]


# -- the sample instance: the directory, the settle pass -------------------------------------------------


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def instance(now: datetime) -> SampleInstance:
    """400 statuses ending three days ago: a directory of more than two pages, a corpus too old to settle."""
    return SampleInstance.generate(400, seed=5, end=now - timedelta(days=3))


@pytest.fixture
def sample_server(instance: SampleInstance) -> Iterator[SampleServer]:
    with SampleServer(instance, rate_limit=100_000) as running:
        yield running


@pytest.mark.parametrize("origin", ["environment", "file"])
def test_a_walk_by_offset_cut_by_the_backfill_depth_names_it_where_it_was_set(
        origin: str, sample_server: SampleServer, config: Path, base: dict[str, Any]) -> None:
    """Without ``--max-pages``, ``backfill_pages`` bounds the directory's walk: the note names it where it was set
    (an Airflow task always passes its ``max_pages``, and is told to raise that alone, as before)."""
    settings = settings_from(origin, config, base, backfill_pages=2)
    summary = run_collection(settings, [(sample_server.url, parse_source("directory"))], progress=False)
    assert summary.ok and not summary.sources[0].caught_up, summary.line()
    assert summary.line().endswith(expected(
        "; the directory walk stopped at its page budget on 1 instance, more accounts listed: raise "
        f"{MAX_PAGES_OPTION} or, without it, {NAMED[origin]('backfill_pages')} to take them", config)), summary.line()


@pytest.mark.parametrize("origin", ["file", "variable", "default"])
def test_a_settle_pass_behind_names_its_page_budget_where_it_was_set(
        origin: str, sample_server: SampleServer, instance: SampleInstance, now: datetime, config: Path,
        base: dict[str, Any]) -> None:
    """A pass of two pages of ten a run (20 of five by default), more statuses waiting: the pass falls behind, and the
    summary says what to raise, the pass's own budget named where it was set, or (set nowhere) by its variable and
    the config file's key (its variable, as before: tests/sources/test_settle.py)."""
    if origin == "default":  # 20 pages of five: fewer than the statuses waiting
        settings = load_settings(env={}, toml_path=False, **{**base, "page_limit": 5}, settle_hours=0.5)
    else:
        settings = settings_from(origin, config, base, settle_hours=0.5, settle_max_pages=2)
    named = orchestration.MAX_PAGES_NAMED if origin == "variable" else MAX_PAGES_OPTION

    def collect() -> CollectSummary:
        summary = run_collection(settings, [(sample_server.url, parse_source("public"))], progress=False,
                                 max_pages_named=named)
        assert summary.ok, summary.failed
        return summary

    collect()
    instance.grow(300 if origin == "default" else 70, at=now - timedelta(hours=1))
    behind = collect()
    assert behind.sources[0].settle_behind_hours, behind.line()
    setting = ("FEDISCOPE_SETTLE_MAX_PAGES (or [fediscope] settle_max_pages in fediscope.toml)" if origin == "default"
               else NAMED[origin]("settle_max_pages"))
    assert expected(f": raise {setting}, or {named})", config) in behind.line(), behind.line()
