"""What the Airflow DAGs do, as plain functions: settings, targets, date windows, the calls into the core.

The DAG files in ``airflow/dags/`` only wire tasks to these functions, so everything here is testable without
Airflow and importing this module stays cheap (Airflow parses DAG files every few seconds: no pandas, DuckDB,
Spark or Mastodon.py at import time; the core is imported inside each function).

Configuration, in increasing precedence: defaults → ``fediscope.toml`` (or ``FEDISCOPE_CONFIG``) →
``FEDISCOPE_*`` environment variables of the worker → the Airflow Variable ``fediscope_settings``, a JSON
object whose keys are setting names (``{"lake": "webhdfs://nn:9870/lake", "engine": "spark",
"spark_master": "yarn"}``) plus three of its own: ``sources`` (a list of ``{"instance", "timelines"}`` like the
TOML ``[[sources]]``), ``max_pages`` (pages per source per ingest run) and ``config`` (a TOML path). Keep
secrets (pseudonym key, tokens) in the worker's environment or an Airflow secrets backend, not in the Variable.

Timeouts, retention's and process's retries (:class:`DagTimeouts`) are fixed when Airflow parses the DAG files, so
the DAG files read them then (:func:`parse_time_timeouts`): the ``FEDISCOPE_*_TIMEOUT_MINUTES`` settings from the DAG
processor's environment and ``fediscope.toml``, never the Variable (read by running tasks only), and nothing else
of the configuration, so a wrong unrelated setting does not stop the DAGs from parsing.

Date windows: a scheduled or backfilled ``fediscope_batch`` run covers the days of its data interval
(``[start, end)``, so the daily run of 2026-11-23 processes exactly ``dt=2026-11-23``); a manual run given a
logical date covers the UTC day of that date (``airflow dags trigger fediscope_batch --logical-date 2026-11-23``
and ``airflow dags test fediscope_batch 2026-11-23`` process ``dt=2026-11-23``; the data interval Airflow gives
such a run, the last full day before the trigger time or the date, is not used, nor when a backfill re-runs the
failed run); a manual run without a logical date covers the day it runs; a run triggered by the raw-lake Asset
has no data interval and covers the days from its oldest triggering event to its start. Scheduled, Asset-triggered
and undated manual runs also curate the raw files of earlier days no run curated yet (late NiFi landings, the day
of a daily run that never happened); backfill runs and dated manual runs process exactly their day.

A missing lake: the tasks that read or prune the lake (``process``, ``verify``, ``retention``,
``lake_health``) refuse a lake that does not exist or is not a directory, as ``fediscope process`` and ``fediscope
gdpr retention`` do, and create nothing (a mistyped path must not become a new empty lake whose empty metrics
replace the store's). ``process`` also refuses a lake with no data, like ``fediscope process``. Only ingest
creates the lake.

Secrets in task logs: Airflow writes task logs through its own handlers, not fediscope's CLI handler, so
:func:`task_settings` (the first call of every task that reads the configuration) runs
:func:`mask_secrets_for_airflow`: every secret fediscope knows is registered with Airflow's secrets masker,
and fediscope's :class:`~fediscope.redact.RedactingFilter` is put on the handlers the task logs through. A failed
task's traceback passes through neither in ``dag.test()`` (Airflow formats it with structlog, and applies its masker
only where its supervisor writes the log file), so every task's work runs in :func:`failing_at_once`, which masks
the exception's text, and that of the exceptions it was raised from, before Airflow sees it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fediscope.config import (
    SETTINGS,
    Settings,
    SourceSpec,
    checked_source,
    load_settings,
    load_settings_only,
)
from fediscope.errors import (
    ConfigError,
    DamagedBatchError,
    FediscopeError,
    LakeError,
    NoLakeError,
    NothingCuratedError,
    StoreError,
    UpstreamError,
    job_error_type,
)

if TYPE_CHECKING:
    from fediscope.lake.backend import LakeBackend
    from fediscope.sources.spec import SourceRef

log = logging.getLogger(__name__)

#: The Airflow Variable holding the JSON overrides.
VARIABLE = "fediscope_settings"
#: The Asset the ingest DAG updates and the batch DAG is scheduled on.
RAW_ASSET_URI = "fediscope://lake/raw"
RAW_ASSET_NAME = "fediscope_raw_lake"
#: Pages walked per source in one ingest run when the Variable does not say (runs are 30 minutes apart).
DEFAULT_MAX_PAGES = 20
_EXTRA_KEYS = {"sources", "max_pages", "config"}
_BY_NAME = {s.name: s for s in SETTINGS}


# -- settings -----------------------------------------------------------------------------------------------
def parse_overrides(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The Variable's JSON as a dict; ConfigError naming the Variable when it is not a JSON object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Airflow Variable {VARIABLE} is not valid JSON ({exc.msg} at char {exc.pos}); "
                              'expected an object such as {"lake": "/data/lake", "engine": "duckdb"}') from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"Airflow Variable {VARIABLE} must be a JSON object of setting names to values")
    known = [*(name for name in _BY_NAME if name not in TIMEOUT_SETTINGS), *sorted(_EXTRA_KEYS)]
    unknown = sorted(set(raw) - set(_BY_NAME) - _EXTRA_KEYS)
    if unknown:
        raise ConfigError(f"Airflow Variable {VARIABLE}: unknown key(s) "
                          f"{', '.join(_with_suggestion(key, known) for key in unknown)}; known: {', '.join(known)}")
    parse_time = [name for name in TIMEOUT_SETTINGS if name in raw]
    if parse_time:  # taken, they would change nothing: the DAG files read them when Airflow parses them
        name = parse_time[0]
        raise ConfigError(f"Airflow Variable {VARIABLE}: {name} is not read from the Variable: Airflow reads the "
                          "DAG timeouts when it parses the DAG files; set "
                          f"{_BY_NAME[name].env} in the DAG processor's environment (or [fediscope] {name} in its "
                          "fediscope.toml) and remove the key")
    return dict(raw)


def _with_suggestion(key: str, known: list[str]) -> str:
    """``sorces (did you mean sources?)``; a setting's variable name (``FEDISCOPE_LAKE``) suggests its key."""
    by_env = {_BY_NAME[name].env: name for name in known if name in _BY_NAME}
    close = ([by_env[key.upper()]] if key.upper() in by_env
             else difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.7))
    return f"{key} (did you mean {close[0]}?)" if close else key


def _env_text(value: Any) -> str:
    """A parsed setting's value as its ``FEDISCOPE_*`` variable is written (for the ``spark-submit`` jobs)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


_SOURCE_EXAMPLE = '{"instance": "https://…", "timelines": ["public", "tag:python"]}'


def _sources(value: Any) -> tuple[SourceSpec, ...]:
    """The Variable's ``sources``, taking what ``[[sources]]`` of ``fediscope.toml`` takes. The instance and the
    timelines themselves are checked where they are used (:func:`collection_targets`), so a bad one fails ingest
    only."""
    if not isinstance(value, list):
        raise ConfigError(f"Airflow Variable {VARIABLE}: 'sources' must be a list of {_SOURCE_EXAMPLE}")
    return tuple(checked_source(item, f"Airflow Variable {VARIABLE}: sources[{i}]", check_values=False)
                 for i, item in enumerate(value, 1))


def settings_from_overrides(overrides: str | Mapping[str, Any] | None,
                            env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (``FEDISCOPE_*``, ``fediscope.toml``) overridden by the Variable's values.

    Each value is checked as a typed value of ``fediscope.toml`` is (a string setting takes no ``123``, ``true``
    or list, an integer one no ``2.5``) and then parsed as an environment variable's, so ``"engine": "sparkk"``
    fails with the message of ``FEDISCOPE_ENGINE=sparkk``, naming the Variable's key instead. A ``null`` is
    refused: it would silently leave the worker's value (or the default) in place.
    """
    values = parse_overrides(overrides)
    merged = dict(os.environ if env is None else env)
    settings = {name: value for name, value in values.items() if name in _BY_NAME}
    origins = {name: _variable_origin(name) for name in settings}
    toml_path = None
    if "config" in values:  # the file's errors name the Variable's key (was: FEDISCOPE_CONFIG, not set anywhere)
        toml_path = values["config"]
        if not isinstance(toml_path, str) or not toml_path.strip():
            raise ConfigError(f"{_variable_origin('config')} must be the path of a fediscope.toml, a non-empty "
                              f"string (got {json.dumps(toml_path)}); remove the key to use the workers' "
                              "FEDISCOPE_CONFIG (or ./fediscope.toml)")
        origins["config_file"] = _variable_origin("config")
    for name, value in settings.items():
        if value is None:
            raise ConfigError(f"{_variable_origin(name)} is null; set a value, or remove the key to use the "
                              f"workers' {_BY_NAME[name].env} (or the default)")
    extra: dict[str, Any] = {}
    if "sources" in values:
        extra["sources"] = _sources(values["sources"])
    return load_settings(env=merged, toml_path=toml_path, origins=origins, **settings, **extra)


def _variable_origin(name: str) -> str:
    """How an error or ``fediscope doctor`` names a setting the Variable gave: ``Airflow Variable …: lake``."""
    return f"Airflow Variable {VARIABLE}: {name}"


#: How the collector's summary and log lines name an ingest task's page budget where they say to raise it (the
#: command's ``--max-pages`` means nothing to an Airflow user): :func:`collect_target` passes it on.
MAX_PAGES_NAMED = f"'max_pages' in the Airflow Variable {VARIABLE}"


def max_pages(overrides: str | Mapping[str, Any] | None) -> int:
    """The Variable's ``max_pages`` (:data:`DEFAULT_MAX_PAGES` without it): a whole number from 1, given as a number
    or, as every setting of the Variable may be, as a string (``"5"``), parsed as a ``FEDISCOPE_*`` count is."""
    from fediscope.config import MAX_COUNT, integer_text

    value = parse_overrides(overrides).get("max_pages", DEFAULT_MAX_PAGES)
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        with suppress(ValueError):
            number = integer_text(value)
    if number is None or not 1 <= number <= MAX_COUNT:
        # the value as the Variable's JSON spells it (was Python's: True, None), a string quoted as the others' are
        shown = repr(value) if isinstance(value, str) else json.dumps(value)
        raise ConfigError(f"Airflow Variable {VARIABLE}: max_pages must be a whole number from 1 to {MAX_COUNT:,} "
                          f"(got {shown})")
    return number


def variable_overrides() -> dict[str, Any]:
    """Read the Airflow Variable (inside a running task only: this imports the Airflow task SDK)."""
    from airflow.sdk import Variable

    return parse_overrides(Variable.get(VARIABLE, default=None))


def task_settings(overrides: str | Mapping[str, Any] | None = None) -> Settings:
    """The settings of a running Airflow task: environment plus the Variable (read here unless ``overrides``
    is given), with their secrets registered for masking (:func:`mask_secrets_for_airflow`); a warning logged for
    each ``FEDISCOPE_*`` variable of the worker's environment that nothing reads (a mistyped setting's)."""
    settings = settings_from_overrides(variable_overrides() if overrides is None else overrides)
    mask_secrets_for_airflow(settings)
    from fediscope.config_check import unknown_variables

    for finding in unknown_variables(os.environ):  # in the task's log, as every command warns of them
        log.warning("%s", finding.text)
    return settings


def mask_secrets_for_airflow(settings: Settings) -> list[str]:
    """Keep every secret of ``settings`` out of the task log; returns the secrets registered.

    Two layers, as in the CLI: each value of :func:`fediscope.redact.secret_values` (instance tokens, API keys,
    the pseudonym key, passwords in the store or lake URL — also URL-quoted, as they appear in a URL) goes to
    Airflow's secrets masker through ``airflow.sdk.log.mask_secret``, which also tells the task's supervisor
    process, the one that writes the log file, so whatever the task logs (tracebacks and third-party log
    lines included) is masked there; and fediscope's :class:`~fediscope.redact.RedactingFilter` goes on the
    handlers fediscope's loggers reach in this process (:func:`fediscope.redact.install_redacting_filter`),
    so its lines are masked before they leave it, shapes of credentials included. Safe to call more than once.

    Airflow is imported here, not at module level, so fediscope never needs it; outside Airflow only the
    filter is installed. Airflow ignores values shorter than its ``[logging] min_length_masked_secret`` (5).
    """
    from urllib.parse import quote

    from fediscope.redact import install_redacting_filter, secret_values

    secrets = secret_values(settings)
    install_redacting_filter(secrets)
    _TASK_SECRETS.update(secrets)
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return secrets
    for secret in secrets:
        for form in dict.fromkeys((secret, quote(secret, safe=""))):
            mask_secret(form)
    return secrets


# -- ingest ---------------------------------------------------------------------------------------------------
def collection_targets(settings: Settings) -> list[dict[str, str]]:
    """One ``{"instance", "source"}`` per configured (instance, timeline): the ingest DAG maps a task over these.

    Sources are parsed here so a typo fails this one task with a clear message before any collection starts. A
    source named twice (``mastodon.social`` and ``https://mastodon.social/``, ``tag:Python`` and ``tag:python``) is
    one target, the first spelling's, as in ``fediscope collect`` (:func:`fediscope.sources.collector.resolve_targets`):
    two mapped tasks would walk it at once, racing on its checkpoint. An account source is named as the collector
    collects it (:func:`fediscope.sources.spellings.on_instance`: ``account:alice@mastodon.social`` of
    mastodon.social is ``account:alice``), so the task's label and its log lines name it alike; so is one written
    with its instance's handle domain (``account:alice@example.com`` of social.example.com), once the lake remembers
    that handle domain (:func:`remembered_handle_domains`: this task asks no instance for it). Before that (a first
    run), such a spelling stays a task of its own, and the one that finds the other walking the account is skipped
    (:func:`collect_target`).
    """
    from fediscope.config import instance_base_url, instance_domain
    from fediscope.privacy import may_have_handle_domain
    from fediscope.sources.handle_domains import usable_handle_domain
    from fediscope.sources.spec import parse_source
    from fediscope.sources.spellings import on_instance

    configured: list[tuple[str, str, SourceRef]] = []
    for spec in settings.sources:
        instance_base_url(spec.instance)
        domain = instance_domain(spec.instance)
        configured.extend((spec.instance, domain, parse_source(timeline)) for timeline in spec.timelines)
    if not configured:
        raise ConfigError("nothing to collect: configure [[sources]] in fediscope.toml (FEDISCOPE_CONFIG) or "
                          f"'sources' in the Airflow Variable {VARIABLE}")
    may_fold = sorted({domain for _i, domain, source in configured
                       if source.names_an_account and may_have_handle_domain(domain)})
    remembered = remembered_handle_domains(settings, may_fold) if may_fold else {}
    targets: dict[tuple[str, str], dict[str, str]] = {}
    for instance, domain, source in configured:
        handle_domain = usable_handle_domain(remembered, domain) if domain in may_fold else None
        name = on_instance(source, domain, handle_domain).name
        targets.setdefault((domain, name), {"instance": instance, "source": name})
    return list(targets.values())


def remembered_handle_domains(settings: Settings, domains: Iterable[str]) -> Mapping[str, str | None]:
    """The handle domains the lake remembers (:func:`fediscope.sources.handle_domains.load_handle_domains`, what the
    collector keys and folds by when it cannot read an instance's document), read by the ``targets`` task, which
    asks no instance. Empty when the lake, or the file, is not there yet (nothing is created); a lake that cannot be
    read, or a damaged file, is a warning and empty too (the ``collect`` tasks report the lake's problem, as before,
    and the collector leaves such spellings as written then too)."""
    from fediscope.lake.backend import open_lake
    from fediscope.sources.handle_domains import load_handle_domains

    try:
        return load_handle_domains(open_lake(settings.lake))
    except FediscopeError as exc:
        log.warning("the handle domains remembered in the lake could not be read (%s): account sources written "
                    "with the handle domain of %s stay tasks of their own", exc, ", ".join(domains))
        return {}


def ingest_targets(overrides: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ingest DAG's first task: :func:`collection_targets` of the task's settings, the Variable's ``max_pages``
    checked too (:func:`max_pages`). Each ``collect`` task reads it again (the Variable may change in between), but
    a bad value fails here, once, before any collection: it failed every mapped task, N failures of one line."""
    settings = task_settings(overrides)
    max_pages(overrides)
    return collection_targets(settings)


#: The longest label Airflow keeps for a mapped task (``map_index_template``): its metadata database holds it in
#: ``task_instance.rendered_map_index``, a VARCHAR(250), which PostgreSQL and MySQL refuse to overflow.
MAX_TASK_LABEL = 250


def target_label(target: Mapping[str, str], settings: Settings) -> str:
    """How a mapped ingest task is named in the Airflow UI, its log lines and its failure messages:
    ``mastodon.social tag:python``; an ``account:`` source as the collector's log lines name it
    (:func:`logged_source`: by its keyed digest while privacy is on, never the handle then).

    At most :data:`MAX_TASK_LABEL` characters: a longer one (a 253-character host with a long hashtag, or a remote
    handle with a long domain) keeps its start and end around ``…``, so the domain and the source's end stay."""
    from fediscope.config import instance_domain

    label = f"{instance_domain(target['instance'])} {logged_source(target['source'], settings)}"
    if len(label) <= MAX_TASK_LABEL:
        return label
    head = (MAX_TASK_LABEL - 1) // 2
    return f"{label[:head]}…{label[-(MAX_TASK_LABEL - 1 - head):]}"


def collected_label(target: Mapping[str, str], settings: Settings,
                    handle_domains: Mapping[str, str | None] | None = None) -> str:
    """:func:`target_label` of ``target`` as its collector took it: on a first run (before the ``targets`` task can
    fold it, :func:`collection_targets`) a source written with its instance's handle domain
    (``account:alice@example.com`` of social.example.com) is collected as the bare one once the collector learned
    that domain, and its log lines name it so, by the bare one's digest while privacy is on; labelled alike after
    the collection. ``handle_domains``: the collection summary's; without it, those the lake remembers (where the
    collector keeps what it learned; a lake that cannot be read leaves the label as it was). With privacy off the
    collector names a source as written: :func:`target_label` then."""
    from fediscope.config import instance_domain
    from fediscope.privacy import may_have_handle_domain
    from fediscope.sources.spec import parse_source
    from fediscope.sources.spellings import on_instance

    domain = instance_domain(target["instance"])
    source = parse_source(target["source"])
    if not settings.privacy or not source.names_an_account or "@" not in (source.arg or "") \
            or not may_have_handle_domain(domain):
        return target_label(target, settings)
    if handle_domains is None:
        from fediscope.lake.backend import open_lake
        from fediscope.sources.handle_domains import load_handle_domains, usable_handle_domain

        try:
            handle_domain = usable_handle_domain(load_handle_domains(open_lake(settings.lake)), domain)
        except FediscopeError:
            handle_domain = None
    else:
        handle_domain = handle_domains.get(domain)
    return target_label({**target, "source": on_instance(source, domain, handle_domain).name}, settings)


def logged_source(source: str, settings: Settings) -> str:
    """A source as the collector's log lines name it (``named`` of the collector's run context): one
    naming an account by its checkpoint's name, a keyed digest (:func:`fediscope.lake.state.source_for_logs`),
    while privacy is on, so the handle reaches neither Airflow's task logs nor its UI; with privacy off, and any
    other source, as it is written (was: an unkeyed digest with privacy off, while the collector's lines, the
    task's returned summary and its error named the handle). The privacy policy (which needs the pseudonym key)
    is built only for a source naming an account."""
    from fediscope.lake.state import PERSONAL_SOURCES, source_for_logs
    from fediscope.privacy import policy_from_settings

    if not settings.privacy or source.partition(":")[0] not in PERSONAL_SOURCES:
        return source
    return source_for_logs(source, policy_from_settings(settings))


def announced_source(source: str, settings: Settings) -> str:
    """How what a ``collect`` task keeps in Airflow's metadata database (its returned summary, the raw-lake Asset
    event's ``extra.source``) names its source: as its label and log lines do (:func:`logged_source`), so one
    naming an account by its digest while privacy is on; nothing downstream reads the handle there (the ``targets``
    list, which the tasks collect from, keeps it). With privacy off, as it is written."""
    return logged_source(source, settings)


def _as_dict(summary: Any) -> dict[str, Any]:
    for name in ("as_dict", "to_dict"):
        if hasattr(summary, name):
            return dict(getattr(summary, name)())
    return dict(summary)


def new_records(result: Mapping[str, Any]) -> int:
    """Records the raw-lake Asset event of an ingest task announces: those its collection run wrote (newly
    collected ones plus statuses re-landed by the refresh or settle pass: their engagement changes the curated tables
    too), and those earlier failed tries landed that no event announced yet (``unannounced``, see
    :func:`collect_target`). Zero: the ingest task skips, no Asset event."""
    return sum(int(result.get(name) or 0) for name in ("landed", "refreshed", "settled", "unannounced"))


#: The collection pass name under which :func:`collect_target` keeps the records of a source that failed tries
#: landed and no Asset event announced yet: ``_state/<domain>/unannounced/<source>.json``.
UNANNOUNCED_PASS = "unannounced"


def _unannounced_path(settings: Settings, target: Mapping[str, str]) -> str:
    """Named like the source's checkpoint (a keyed digest for a source naming an account, which an erasure of that
    account deletes with the checkpoint)."""
    from fediscope.config import instance_domain
    from fediscope.lake.layout import state_path
    from fediscope.lake.state import PERSONAL_SOURCES, checkpoint_source
    from fediscope.privacy import policy_from_settings
    from fediscope.sources.spec import parse_source
    from fediscope.sources.spellings import on_instance

    source = on_instance(parse_source(target["source"]), instance_domain(target["instance"])).name
    # only a source naming an account needs the key (the collector refused it without one already)
    policy = policy_from_settings(settings) if source.partition(":")[0] in PERSONAL_SOURCES else None
    return state_path(instance_domain(target["instance"]), checkpoint_source(source, policy), UNANNOUNCED_PASS)


def _read_unannounced(lake: LakeBackend, path: str) -> int:
    """The records the file counts, 0 when there is none. A file that is not one (a warning) counts 1: it is there
    only because a failed try landed records, which the next event must announce all the same."""
    from fediscope.lake.state import UnreadableCheckpoint, read_state

    if not lake.exists(path):
        return 0
    try:
        extra = read_state(lake, path).extra or {}
        if not isinstance(extra, dict):
            raise TypeError(f"extra is a JSON {type(extra).__name__}, not an object")
        return max(0, int(extra.get("records", 0)))
    # OverflowError: ``{"records": Infinity}``, which Python's json reads, has no int
    except (UnreadableCheckpoint, TypeError, ValueError, OverflowError) as exc:
        log.warning("%s does not count unannounced records (%s): announced all the same", path, exc)
        return 1


def collect_target(settings: Settings, target: Mapping[str, str], pages: int | None) -> dict[str, Any]:
    """Collect one (instance, source) into the raw lake; UpstreamError when the source failed.

    Raising is what makes Airflow retry this mapped task (with backoff) while the other sources go on. The lake
    is prepared first, as by ``fediscope collect`` (:func:`fediscope.lake.backend.prepare_lake`: created when
    missing; LakeError when it is a file or cannot be written), so a broken lake fails before the instance is asked
    for anything, as a lake error rather than the source's; so does a pseudonym key that is not the one the lake was
    landed with (:func:`fediscope.lake.key_check.check_landing_key`, which also warns about a weak key).

    A try that fails after landing records (a later page, or the refresh pass, failed) emits no Asset event (Airflow
    emits one only for a task that succeeds), and its retry, finding nothing new, was skipped and emitted none
    either: the landed files waited for another source's event or the daily batch run. The count is kept in the
    lake (``_state/<domain>/unannounced/<source>.json``), where every later try of the source reads it (a retry, or
    the next run's task when every retry failed: XComs do not outlive a try); the first that succeeds returns it as
    ``unannounced``, so its event announces those records even when it lands nothing new, and removes the file.
    Emitting an event on every retry instead would trigger a batch run for each retry of a source that is down
    and landed nothing.

    An account source configured in two spellings that the collector takes as one (``account:alice`` and
    ``account:alice@example.com`` of social.example.com, whose handle domain is example.com) is two mapped tasks
    until the lake remembers that handle domain (:func:`collection_targets`). The task that finds the other walking
    the account (its walk lock held) is not failed, nor retried: it returns the reason it was skipped as
    ``duplicate`` (:func:`skip_reason`), nothing landed, and the ingest DAG marks it skipped.
    """
    from fediscope.lake.backend import open_lake, prepare_lake
    from fediscope.lake.key_check import check_landing_key
    from fediscope.sources.collector import run_collection
    from fediscope.sources.spec import parse_source

    lake = open_lake(settings.lake)
    prepare_lake(lake, chosen_by=lake_named(settings))
    # a worker whose pseudonym key is not the lake's is refused (ConfigError) before the instance is asked for
    # anything; the first landing records the key's check (fediscope.lake.key_check)
    check_landing_key(settings, lake)
    summary = run_collection(settings, targets=[(target["instance"], parse_source(target["source"]))],
                             max_pages=pages, progress=False, max_pages_named=MAX_PAGES_NAMED)
    result = _as_dict(summary)
    failed = result.get("failed") or []
    # named as the collector named the source it walked (one written with the handle domain, folded on a first run)
    label = collected_label(target, settings, getattr(summary, "handle_domains", None) or {})
    if failed and (duplicate := _walked_by_a_twin(settings, target, result, getattr(summary, "handle_domains", None))):
        log.warning("%s: %s", label, duplicate)
        from fediscope.sources.summary import CollectSummary

        shown = summary.to_dict(shown=True) if isinstance(summary, CollectSummary) else result
        return {**shown, "duplicate": duplicate}
    pending_path = _unannounced_path(settings, target)
    earlier = _read_unannounced(lake, pending_path)
    if failed and (landed := new_records(result)):
        # what this try landed is durable, but a failed task emits no Asset event, and a retry that lands nothing
        # new is skipped: kept here, it is announced by the next try of this source that succeeds (a retry, or
        # the next run's), which then emits the event even with nothing new of its own
        from fediscope.lake.state import Checkpoint, write_state

        write_state(lake, pending_path, Checkpoint(None, datetime.now(UTC).isoformat(timespec="seconds"),
                                                   {"records": earlier + landed}))
    if failed:  # the upstream's own error text may repeat a secret (an echoed token): mask the known ones
        from fediscope.console import printable
        from fediscope.redact import redact_text, secret_values

        # and may hold control characters: Airflow prints this message in the task's traceback itself, through no
        # filter of fediscope's (a newline in it would forge a log line of ``dag.test()``'s text output)
        lines = _failed_sources(result, settings, getattr(summary, "handle_domains", None))
        raise UpstreamError(printable(redact_text("collecting " + "; ".join(lines), secret_values(settings))))
    # returned (kept in the XCom), an account's source by its digest while privacy is on (announced_source)
    from fediscope.sources.summary import CollectSummary

    returned = summary.to_dict(shown=True) if isinstance(summary, CollectSummary) else result
    if earlier:  # announced by this try's Asset event: the task succeeds right after returning
        returned["unannounced"] = earlier
        lake.delete(pending_path)
        log.info("%s: %s records landed by earlier failed tries are announced now", label, earlier)
    log.info("collected %s: landed %s records", label, result.get("landed"))
    return returned


def _walked_by_a_twin(settings: Settings, target: Mapping[str, str], result: Mapping[str, Any],
                      handle_domains: Mapping[str, str] | None) -> str | None:
    """Why ``target``'s task is skipped, when its only source failed on its walk lock and another configured
    spelling of its instance's sources is the same account by the handle domain the collector learned
    (``handle_domains``: the summary's); None otherwise (a lock held by anything else fails the task as before).
    Both sources are named as the tasks' labels name them (:func:`logged_source`), never by the handle while privacy
    is on."""
    from fediscope.config import instance_domain
    from fediscope.sources.spec import parse_source
    from fediscope.sources.spellings import on_instance
    from fediscope.sources.walk_lock import held_by_another

    sources = [s for s in result.get("sources") or [] if isinstance(s, Mapping)]
    if len(sources) != 1 or sources[0].get("status") != "failed" or not held_by_another(sources[0].get("error")):
        return None
    domain = instance_domain(target["instance"])
    handle_domain = (handle_domains or {}).get(domain)
    if not handle_domain:
        return None
    walked = on_instance(parse_source(target["source"]), domain, handle_domain).name
    for spec in settings.sources:
        if instance_domain(spec.instance) != domain:
            continue
        for timeline in spec.timelines:
            other = on_instance(parse_source(timeline), domain)  # as the targets task named it
            if other.name != target["source"] and on_instance(other, domain, handle_domain).name == walked:
                return (f"skipped: the same account as the source "
                        f"{logged_source(other.name, settings)} of {domain} ({domain}'s handle domain is "
                        f"{handle_domain}), whose task is walking it; from the next run on, the two are one task "
                        "(remove one spelling from the sources)")
    return None


def skip_reason(result: Mapping[str, Any]) -> str:
    """Why a ``collect`` task that landed nothing (:func:`new_records`) is skipped: the ``duplicate`` reason of
    :func:`collect_target`, else nothing new."""
    return str(result.get("duplicate") or "nothing new")


def _failed_sources(result: Mapping[str, Any], settings: Settings,
                    handle_domains: Mapping[str, str] | None = None) -> list[str]:
    """``<instance> <source>: <error>`` of each failed source of a collection's summary (its ``failed`` list, which
    names an account's source by the handle), the source named as a log line names it (:func:`logged_source`); so
    is the source, and its handle, in the error while privacy is on (an error, or an instance's answer it quotes,
    may hold the handle, also written with the instance's domain or its handle domain, ``handle_domains``: the
    collector summary's :attr:`~fediscope.sources.summary.CollectSummary.handle_domains`;
    :func:`~fediscope.lake.state.text_for_logs`)."""
    from fediscope.lake.state import text_for_logs

    failed = [s for s in result.get("sources") or [] if isinstance(s, Mapping) and s.get("status") == "failed"]
    if not failed:  # a summary without its sources: its own list
        return [str(line) for line in result.get("failed") or []]
    from fediscope.sources.spec import parse_source
    from fediscope.sources.spellings import on_instance

    lines = []
    for s in failed:
        source, error = str(s.get("source")), str(s.get("error"))
        named = logged_source(source, settings)
        instance = s.get("instance")  # its domain: there the handle may also be written with it
        domains = [instance] if isinstance(instance, str) else []
        if domains and (handle_domain := (handle_domains or {}).get(domains[0])):
            domains.append(handle_domain)
            if settings.privacy:  # as the collector named it: one written with the handle domain by the bare one's
                with contextlib.suppress(FediscopeError):
                    named = logged_source(on_instance(parse_source(source), domains[0], handle_domain).name, settings)
        said = text_for_logs(error, source, named, domains) if settings.privacy else error
        lines.append(f"{instance} {named}: {said}")
    return lines


# -- batch windows --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchWindow:
    """The fetch days (``dt`` partitions, UTC, both ends included) one batch run processes.

    ``earlier``: the run also curates the raw files of days before ``since`` that no run curated yet (files that
    landed after their day's run started, or the days of a run that never happened): curation then has no lower
    bound (it reads only uncurated files, so this costs nothing when there are none). Scheduled, Asset-triggered
    and undated manual runs set it (:func:`window_from_context`); backfill runs and manual runs given a logical
    date process exactly their day.
    """

    since: date
    until: date
    earlier: bool = False

    def days(self) -> list[date]:
        return [self.since + timedelta(days=i) for i in range((self.until - self.since).days + 1)]

    @property
    def curate_since(self) -> date | None:
        """The lower bound of curation: ``since``, or None when the run also takes uncurated earlier days."""
        return None if self.earlier else self.since

    @property
    def one_day(self) -> bool:
        """Whether the run curates one day's raw files alone (what :attr:`named` names in the singular)."""
        return not self.earlier and self.since == self.until

    @property
    def named(self) -> str:
        """How a run's messages name what limits its curation, where ``fediscope process``'s name its
        ``--since/--until``, which an Airflow run has none of (:attr:`fediscope.engine.process.RunArguments.window`):
        ``this run's day 2026-11-23``; ``this run's days up to 2026-11-23`` for a run that also takes the
        uncurated raw files of earlier days."""
        if self.earlier:
            return f"this run's days up to {self.until}"
        if self.one_day:
            return f"this run's day {self.since}"
        return f"this run's days {self.since} to {self.until}"

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "earlier": self.earlier}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchWindow:
        return cls(date.fromisoformat(data["since"]), date.fromisoformat(data["until"]),
                   bool(data.get("earlier", False)))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def batch_window(data_interval_start: datetime | None, data_interval_end: datetime | None, *,
                 run_after: datetime | None = None, event_times: Iterable[datetime] = ()) -> BatchWindow:
    """The days a batch run covers.

    * A data interval ``[start, end)`` (scheduled runs, backfills) covers the days it overlaps:
      ``[2026-11-23 00:00, 2026-11-24 00:00)`` → 2026-11-23 only, so a backfill over N days runs N times, each
      over exactly one day, and re-running a day gives the same result.
    * Without one (an Asset-triggered run, a manual run without a logical date), the days from the oldest
      triggering event to ``run_after``.

    Manual runs with a logical date are :func:`window_from_context`'s: their day is the logical date's.
    """
    start, end = _utc(data_interval_start), _utc(data_interval_end)
    if start is not None and end is not None and end > start:
        return BatchWindow(start.date(), (end - timedelta(microseconds=1)).date())
    times = [t for t in (_utc(e) for e in event_times) if t is not None]
    last = _utc(run_after) or end or start or (max(times) if times else None) or datetime.now(UTC)
    first = min([*times, last])
    return BatchWindow(first.date(), last.date())


def _run_type(dag_run: Any) -> str | None:
    run_type = getattr(dag_run, "run_type", None)
    return None if run_type is None else str(getattr(run_type, "value", run_type))


def window_from_context(context: Mapping[str, Any]) -> BatchWindow:
    """The days of the running ``fediscope_batch`` run, from its Airflow task context.

    A manual run with a logical date covers the UTC day of its logical date: Airflow 3 gives it the last full
    data interval *before* the trigger time (``airflow dags trigger --logical-date``) or the logical date
    (``airflow dags test``, the REST API), so its data interval would be the day before or yesterday. So does a
    run whose data interval does not start at its logical date: a failed manual run that ``airflow backfill
    create --reprocess-behavior failed`` cleared keeps that interval but becomes a backfill run of its logical
    date's day (scheduled and backfill runs of the DAG's daily timetable start their interval at their logical
    date). Every other run is :func:`batch_window` of its data interval, ``run_after`` and triggering asset events.

    Scheduled, Asset-triggered and undated manual runs also curate the raw files of earlier days that no run
    curated yet (:attr:`BatchWindow.earlier`): NiFi lands files with no Asset event, so files of day D landing
    after D's daily run started (merge delay, landing retries, quarantined batches moved back), or a whole day
    whose daily run never happened (``catchup=False``, a scheduler down over midnight), would otherwise be left
    uncurated by every later run. Backfill runs and manual runs given a logical date process exactly their day.
    """
    dag_run = context.get("dag_run")
    run_type = _run_type(dag_run)
    logical = _utc(context.get("logical_date") or getattr(dag_run, "logical_date", None))
    start = _utc(context.get("data_interval_start"))
    if logical is not None and (run_type == "manual" or (start is not None and start != logical)):
        return BatchWindow(logical.date(), logical.date())
    events = context.get("triggering_asset_events") or {}
    times = [e.timestamp for evs in events.values() for e in evs if getattr(e, "timestamp", None)]
    window = batch_window(context.get("data_interval_start"), context.get("data_interval_end"),
                          run_after=getattr(dag_run, "run_after", None), event_times=times)
    return BatchWindow(window.since, window.until, earlier=run_type != "backfill")


# -- the lake -------------------------------------------------------------------------------------------------
def lake_named(settings: Settings) -> str:
    """How a task's lake error tells the operator where to point the lake: where the task's settings took it from
    (``Airflow Variable fediscope_settings: lake``, the workers' ``FEDISCOPE_LAKE``, the key of their
    ``fediscope.toml``), or, for the default, the places a task reads it from. Was: always ``FEDISCOPE_LAKE``
    (and a note naming the Variable too), so a lake set in the Variable was to be fixed in a variable the
    Variable overrides."""
    if "lake" in settings.origins:
        return settings.origin("lake")
    return (f"FEDISCOPE_LAKE on the workers (or 'lake' in the Airflow Variable {VARIABLE}, or [fediscope] lake in "
            f"{settings.config_file or 'fediscope.toml'})")


def existing_lake(settings: Settings) -> LakeBackend:
    """The configured lake, which must exist and be a directory (:func:`fediscope.lake.backend.require_lake`);
    LakeError otherwise, and nothing is created: every task but ingest only reads or prunes the lake, and a lock
    or a probe file would turn a mistyped path into a new, empty lake."""
    from fediscope.lake.backend import open_lake, require_lake

    lake = open_lake(settings.lake)
    named = lake_named(settings)
    require_lake(lake, f"run `fediscope collect` (the fediscope_ingest DAG) first, or point {named} at the lake you "
                       "collected into", chosen_by=named)
    return lake


def require_batch_lake(lake: LakeBackend, *, chosen_by: str | None = None, untouched: str | None = None) -> None:
    """A lake a batch run may process (:func:`fediscope.lake.backend.require_batch_lake`, as ``fediscope process``
    requires). Used by :func:`process_window` and the ``spark-submit`` jobs (``spark_jobs/job_lock.py``).
    ``chosen_by``: how the hint names the lake, ``FEDISCOPE_LAKE`` (:data:`~fediscope.lake.backend.LAKE_SETTING`)
    unless given (the DAG's tasks: :func:`lake_named`; the jobs, which have ``--lake``:
    :func:`~fediscope.config.option_origin`).
    ``untouched``: what a refusal says the run left alone, the store unless given (the curation job has none)."""
    from fediscope.lake.backend import LAKE_SETTING, STORE_UNTOUCHED
    from fediscope.lake.backend import require_batch_lake as require

    chosen_by = chosen_by or LAKE_SETTING
    require(lake, collect_hint=f"run `fediscope collect` (the fediscope_ingest DAG) first, or point {chosen_by} at "
                               "the lake you collected into", chosen_by=chosen_by,
            untouched=untouched or STORE_UNTOUCHED)


# -- batch ----------------------------------------------------------------------------------------------------
def process_window(settings: Settings, window: BatchWindow, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Curate, compute the metrics and load the store for the window's days (engine and store from settings).

    ``engine=duckdb`` (and Spark with a ``local[…]`` master) runs in the worker through
    :func:`fediscope.engine.process.run_process`. ``engine=spark`` with a cluster master (``spark://…``, ``yarn``,
    ``k8s://…``) submits ``spark_jobs/curate.py`` then ``spark_jobs/metrics.py`` with ``spark-submit`` (from
    ``$SPARK_HOME/bin`` or the ``PATH``) in client mode, so the driver runs on the worker and the executors on
    the cluster; without a ``spark-submit`` it falls back to ``run_process`` with a pyspark client session. The
    two jobs run under one lake lock, held here and handed to them (:data:`fediscope.lake.lock.INHERIT_ENV`). A
    ``spark://`` or ``k8s://`` master that takes no connection fails first, before the lock, an
    :class:`~fediscope.errors.EngineStartError` the task retries
    (:func:`~fediscope.engine.spark_engine.require_reachable_master`).
    """
    from fediscope.interrupts import stop_on_sigterm

    # a killed task (SIGTERM, then SIGKILL seconds later) releases the lake lock instead of leaving it behind
    with stop_on_sigterm("the batch's process task"):
        return _process_window(settings, window, os.environ if env is None else env)


def _process_window(settings: Settings, window: BatchWindow, env: Mapping[str, str]) -> dict[str, Any]:
    from fediscope.lake.backend import open_lake

    lake = open_lake(settings.lake)
    # before the lock (it lives in the lake) and before the store is opened
    require_batch_lake(lake, chosen_by=lake_named(settings))
    binary = spark_submit_binary(env) if uses_spark_submit(settings) else None
    log.info("processing %s to %s%s with %s into %s", window.since, window.until,
             " and the uncurated raw files of earlier days" if window.earlier else "",
             f"spark-submit --master {settings.spark_master}" if binary else settings.engine,
             _store_label(settings.store))
    if binary:
        from fediscope.engine.spark_engine import require_reachable_master
        from fediscope.lake.lock import INHERIT_ENV, lake_lock

        # else spark-submit's JVM retries it for over a minute
        require_reachable_master(settings.spark_master, settings=settings)
        curate_job, metrics_job = spark_submit_jobs(settings, window, binary)
        job_env = spark_submit_env(settings, env)
        # one lock across both jobs, so no other run rewrites the lake between curation and metrics
        with lake_lock(lake, command=f"fediscope batch {window.since}..{window.until} "
                       "(spark-submit)") as holder:
            job_env[INHERIT_ENV] = holder.token or ""
            curated = _run_spark_job(curate_job, job_env, settings)
            try:
                computed = _run_spark_job(metrics_job, job_env, settings)
            except NothingCuratedError as exc:  # the run's days have no raw file: the job's "run curate.py first" is
                if why := _nothing_curated(lake, window):  # no fix here (it just ran); said as verify says it
                    name = metrics_job[metrics_job.index("--name") + 1]
                    raise NothingCuratedError(f"spark-submit {name} computed no metric, the store was not touched: "
                                              f"{why}") from exc
                raise
            return {"engine": "spark-submit", "master": settings.spark_master, **window.as_dict(),
                    "curate": curated, "metrics": computed}
    from fediscope.engine.process import RunArguments, run_process

    # its messages name the run's day where `fediscope process` names --since/--until, which a task has none of
    return _as_dict(run_process(settings, engine=None, since=window.curate_since, until=window.until,
                                progress=False, named=RunArguments(window=window.named)))


def uses_spark_submit(settings: Settings) -> bool:
    """Spark on a cluster: ``engine=spark`` and a master that is not ``local[…]``."""
    return settings.engine == "spark" and not settings.spark_master.startswith("local")


def spark_submit_binary(env: Mapping[str, str]) -> str | None:
    """``$SPARK_HOME/bin/spark-submit``, else ``spark-submit`` on the ``PATH`` (None when there is neither)."""
    import shutil
    from pathlib import Path

    if env.get("SPARK_HOME"):
        candidate = Path(env["SPARK_HOME"]) / "bin" / "spark-submit"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("spark-submit", path=env.get("PATH"))


def _spark_jobs_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("spark_jobs")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("spark_jobs is not installed next to fediscope; install the project "
                          "(pip install -r requirements.txt .)")
    return list(spec.submodule_search_locations)[0]


def spark_submit_jobs(settings: Settings, window: BatchWindow, binary: str) -> list[list[str]]:
    """The two ``spark-submit`` command lines (curation of the window, then every metric into the store); the
    curation has no ``--since`` when the window takes uncurated earlier days (:attr:`BatchWindow.earlier`), and its
    ``--window-name`` is :attr:`BatchWindow.named`, so its messages name the run's day where they name
    ``--since/--until`` when the job is run by hand, and its ``--recurate-name`` ``fediscope process --recurate``
    (the worker's command) where they name the job's own ``--recurate``.

    Secrets never go on a command line (visible to every user of the host): the store URL and the rest of the
    configuration travel in the environment, see :func:`spark_submit_env`.
    """
    import posixpath

    from fediscope.engine.curation import RECURATE_NAMED

    jobs = _spark_jobs_dir()
    common = [binary, "--master", settings.spark_master, "--deploy-mode", "client",
              "--conf", "spark.sql.session.timeZone=UTC"]
    return [
        [*common, "--name", f"fediscope-curate-{window.since}", posixpath.join(jobs, "curate.py"),
         "--recurate-name", RECURATE_NAMED, "--window-name", window.named,
         *(["--since", window.since.isoformat()] if window.curate_since else []), "--until", window.until.isoformat()],
        [*common, "--name", f"fediscope-metrics-{window.until}", posixpath.join(jobs, "metrics.py")],
    ]


#: The settings the ``spark-submit`` jobs read (:func:`spark_submit_env` hands each to them): the lake as fediscope
#: and as Spark address it, the store, the engine, the user's metric files (an absolute path), the log level, and
#: the curated retention, which curation applies (statuses posted before its first day are left out).
SPARK_JOB_SETTINGS = ("lake", "spark_lake_uri", "store", "hbase_table_prefix", "engine", "spark_master",
                      "metrics_dir", "log_level", "retention_curated_days")


def spark_submit_env(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """The worker's environment plus the settings the Spark jobs read (:data:`SPARK_JOB_SETTINGS`, as
    ``FEDISCOPE_*``; the jobs call ``load_settings()``), so the Variable's values reach them as they reach a task
    (the Variable's ``retention_curated_days`` did not: a cluster curation kept the statuses it expires).

    The jobs' driver runs in this worker's Python (``PYSPARK_DRIVER_PYTHON``), the one that has fediscope
    installed: spark-submit would otherwise start ``python3`` from the ``PATH``, often another interpreter than
    the worker's virtualenv (``No module named 'fediscope'``). A ``PYSPARK_DRIVER_PYTHON`` or ``PYSPARK_PYTHON``
    of the worker's environment is left as it is. The jobs log text lines, whatever the worker's
    ``FEDISCOPE_LOG_FORMAT``: see below."""
    import sys

    out = dict(env)
    if not out.get("PYSPARK_DRIVER_PYTHON") and not out.get("PYSPARK_PYTHON") and sys.executable:
        out["PYSPARK_DRIVER_PYTHON"] = sys.executable
    for name in SPARK_JOB_SETTINGS:
        value = getattr(settings, name)
        if value is None:  # unset for the task: unset for the jobs too
            out.pop(_BY_NAME[name].env, None)
        else:
            out[_BY_NAME[name].env] = _env_text(value)
    out["FEDISCOPE_ENGINE"] = "spark"
    # the job's output is read by the task, not shipped: its summary is the last line of stdout that starts with "{"
    # (spark-submit merges the driver's stderr into it: a JSON log line would be taken for the summary), and its
    # failure is found in text lines (job_failure_line); the tail copied into the task log is text, as the rest of it
    out[_BY_NAME["log_format"].env] = "text"
    return out


#: Seconds Airflow gives a task it stops between SIGTERM and SIGKILL: Airflow 3's task supervisor
#: (``airflow.sdk.execution_time.supervisor``, ``WatchedSubprocess.kill(SIGTERM, force=True)``, its
#: ``escalation_delay`` of 5 s) escalates after a fixed 5 s. ``[core] killed_task_cleanup_time`` (the grace of
#: Airflow 2's task runner, 60 by default) is read by no code of Airflow 3: a value set there, lower or higher,
#: changes nothing, and is not taken (was: a lower one was, so a task with it set to 2 killed its job at once, and
#: said to set it to 5, which changed nothing either).
AIRFLOW_KILL_GRACE = 5.0
#: Seconds of that grace a stopped task keeps for what follows its stopped spark-submit job: logging the job's tail,
#: releasing the lake lock (on a remote lake, a request to its filesystem), unwinding the task.
STOP_MARGIN = 1.5
#: Seconds a spark-submit job gets to stop after SIGTERM when its task is stopped, at most: fewer where the stop's
#: budget (:func:`stop_budget`) less :data:`SPARK_KILL_WAIT` is shorter.
SPARK_STOP_GRACE = 3.0
#: Seconds of the stop's budget kept for after SIGKILL: the job is reaped, and its readers read what it left.
SPARK_KILL_WAIT = 0.5
#: Lines of a failed (or stopped) job's output copied into the task log (spark-submit's own output is not kept
#: otherwise).
SPARK_LOG_TAIL = 60
#: The job's own error line: its one-line error, or argparse's usage error (``spark_jobs/curate.py: error: …``).
_JOB_ERROR_RE = re.compile(r"^(?:fediscope (?:curate|metrics)|spark_jobs/(?:curate|metrics)\.py): error: ")
_EXCEPTION_RE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception|Exit)\b(?::|$)")
_LOG4J_RE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (?:TRACE|DEBUG|INFO|WARN|ERROR) ")
#: A log line of the job's own (fediscope's text format, ``FEDISCOPE_LOG_FORMAT=text``, which
#: :func:`spark_submit_env` sets): ``2026-12-06 06:05:48,949 INFO fediscope.engine.curation curation: …``.
_JOB_LOG_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                         r"(?:fediscope|spark_jobs)(?:\.[\w.]+)? ")
#: A warning the job says as its own (a record marked :data:`~fediscope.console.SAID`, which its text log writes
#: ``fediscope metrics: warning: metric x: 1 row(s) left out: …``, as the job's program): relayed as a log line is
#: (was: only in the tail of a failed job, so a run that left rows out said nothing of it in the task log).
_JOB_SAID_RE = re.compile(r"^fediscope (?:curate|metrics): (warning): ")


def job_failure_line(stdout: str, stderr: str) -> str:
    """Why a ``spark-submit`` job failed, in one line, from its output.

    spark-submit runs the Python driver with its stderr merged into its own stdout, and after the driver exits
    the JVM still logs its shutdown on stderr; so the job's reason is neither stream's last line. In order: the
    job's own error line (``fediscope curate: error: …``), the last exception line of a Python traceback, the last
    line of stderr that is not a Spark log line, the last line of either stream.
    """
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
    for pattern in (_JOB_ERROR_RE, _EXCEPTION_RE):
        found = [line for line in lines if pattern.match(line)]
        if found:
            return found[-1]
    plain = [line.strip() for line in stderr.splitlines() if line.strip() and not _LOG4J_RE.match(line.strip())]
    return (plain or lines or ["no output"])[-1]


def _run_spark_job(argv: list[str], env: Mapping[str, str], settings: Settings) -> dict[str, Any]:
    """Run one job; its JSON summary (last JSON line of stdout), or FediscopeError with the reason it failed
    (:func:`job_failure_line`), after copying the tail of its output into the task log (secrets masked).

    A job that failed with its own error line is raised as the type its exit code stands for
    (:func:`~fediscope.errors.job_error_type`: ConfigError for 2, NoLakeError, NothingCuratedError, DamagedBatchError),
    so :func:`failing_at_once` fails the task at once on what no retry mends, as when the engine runs in the worker
    (was: a FediscopeError for every exit, retried 8 times, a bad setting and a damaged raw file included). Without that
    line (the JVM failed, or a Python traceback) it is a FediscopeError, retried.

    The job's own log lines (its curation's and metrics' progress, its warnings: :data:`_JOB_LOG_RE`,
    :data:`_JOB_SAID_RE`) go to the task log as the job prints them, so a job of hours shows how far it got while it
    runs (was: nothing until it ended, and nothing at all when its task was stopped at its timeout). A job stopped
    with its task (a timeout, a task marked failed) also leaves the tail of its output in the task log.

    Each reader closes its own pipe when the pipe ends: the task never closes one under it. A stopped job's pipes
    can outlive it (a process it started still holds them): the readers still reading after
    the stop's budget (:func:`_stop_job`) are left to end with them (daemon threads), where the task closed the pipes
    as it returned, and a reader then reading one died with "Exception in thread …" and a traceback in the task log (and
    the close itself waited for the reader's read to return)."""
    import subprocess
    import threading

    from fediscope.redact import redact_text, secret_values

    name = argv[argv.index("--name") + 1]
    secrets = secret_values(settings)
    output: dict[str, list[tuple[str, bool]]] = {"stdout": [], "stderr": []}  # each line, and whether it was relayed

    def relay(stream: str, pipe: Any) -> None:
        with pipe:
            for line in pipe:
                line = line.rstrip("\n")
                found = _JOB_LOG_RE.match(line) or _JOB_SAID_RE.match(line)
                if found:
                    log.log(logging.getLevelName(found.group(1).upper()), "spark-submit %s: %s", name,
                            redact_text(line, secrets))
                output[stream].append((line, bool(found)))

    too_short = no_time_to_stop(name, "would be killed (SIGKILL) at once if this task is stopped")
    if too_short:  # said before it runs: a task stopped later says it again, but a reader wants it up front
        log.warning("%s", too_short)
    # a JVM log line the locale cannot decode is no crash (errors="replace"); not `with Popen`: its exit closes the
    # pipes, which are the readers' (see above)
    job = subprocess.Popen(argv, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace")
    readers = [threading.Thread(target=relay, args=(stream, pipe), name=f"spark-submit {name} {stream}", daemon=True)
               for stream, pipe in (("stdout", job.stdout), ("stderr", job.stderr))]
    for reader in readers:
        reader.start()
    try:
        job.wait()
    except BaseException:  # the task is stopped (Terminated, KeyboardInterrupt): so is the job, gracefully first
        _stop_job(job, readers, name)
        _log_tail(name, output, secrets, "was stopped")
        raise
    for reader in readers:
        reader.join()
    stdout, stderr = ("\n".join(line for line, _ in output[stream]) for stream in ("stdout", "stderr"))
    if job.returncode != 0:
        _log_tail(name, output, secrets, f"failed (exit {job.returncode})")
        reason = job_failure_line(stdout, stderr)
        kind = job_error_type(job.returncode) if _JOB_ERROR_RE.match(reason) else FediscopeError
        raise kind(redact_text(f"spark-submit {name} failed (exit {job.returncode}): {reason}", secrets))
    for line, _ in reversed(output["stdout"]):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise FediscopeError(f"spark-submit {name} printed no JSON summary; see the task log")


def _log_tail(name: str, output: Mapping[str, list[tuple[str, bool]]], secrets: Iterable[str], what: str) -> None:
    """The last :data:`SPARK_LOG_TAIL` lines of each stream of a job that failed or was stopped, a record per line
    (a text log line shows a value's newlines as escapes), secrets masked; but not the job's own log lines, which
    were relayed as it printed them (``its stderr (last 60 lines, 12 of them shown above):``). Was: every line of the
    tail, so the job's own lines, its warnings among them, were in the task log twice."""
    from fediscope.redact import redact_text

    for stream in ("stdout", "stderr"):
        tail = list(output[stream][-SPARK_LOG_TAIL:])  # a copy: a reader may still append to it
        if not tail:
            continue
        shown = sum(relayed for _, relayed in tail)
        left = [line for line, relayed in tail if not relayed]
        which = ("" if not shown else ", all shown above" if not left else
                 f", {shown} of them shown above")
        log.warning("spark-submit %s %s; its %s (last %d lines%s)%s", name, what, stream, len(tail), which,
                    ":" if left else "")
        for line in left:
            log.warning("spark-submit %s %s: %s", name, stream, redact_text(line, secrets))


def airflow_kill_grace() -> float:
    """Seconds between Airflow's SIGTERM to a task and its SIGKILL: :data:`AIRFLOW_KILL_GRACE`, the fixed delay of
    Airflow 3's task supervisor; ``[core] killed_task_cleanup_time`` is not read (Airflow 3 does not read it)."""
    return AIRFLOW_KILL_GRACE


def stop_budget(grace: float | None = None) -> float:
    """Seconds a stopped task may spend stopping its spark-submit job, readers included: Airflow's grace
    (:func:`airflow_kill_grace` unless given) less :data:`STOP_MARGIN`, which is left for releasing the lake lock."""
    return max(0.0, (airflow_kill_grace() if grace is None else grace) - STOP_MARGIN)


def sigterm_grace(budget: float) -> float:
    """Seconds a stopped task's spark-submit job gets between SIGTERM and SIGKILL within the stop's ``budget``
    (:func:`stop_budget`): :data:`SPARK_STOP_GRACE`, or what the budget leaves after :data:`SPARK_KILL_WAIT`."""
    return max(0.0, min(SPARK_STOP_GRACE, budget - SPARK_KILL_WAIT))


def no_time_to_stop(name: str, what: str) -> str | None:
    """Why a spark-submit job is (or, if its task is stopped, would be) killed at once, with no time to stop on
    SIGTERM (``what`` says which); None when it gets some (:func:`sigterm_grace`).

    That is when Airflow's grace (:func:`airflow_kill_grace`) is :data:`STOP_MARGIN` + :data:`SPARK_KILL_WAIT` (2 s)
    or less: the job is then killed outright, and its Python driver, which a SIGTERM would have stopped with it, may
    go on for a while and keep the lake lock (its ``process.lock.job-…``) until it ends. Said in the task log when the
    job starts, not only once it is stopped. Airflow 3's 5 s leave the job 3 s; no setting of Airflow 3 changes them
    (``[core] killed_task_cleanup_time`` is Airflow 2's, and was wrongly named here as the one to change)."""
    grace = airflow_kill_grace()
    if sigterm_grace(stop_budget(grace)) > 0:
        return None
    return (f"spark-submit {name} {what}, with no time to stop on SIGTERM: Airflow sends SIGKILL {grace:g} s after "
            f"SIGTERM, and a stopped task keeps {STOP_MARGIN:g} s of it for releasing the lake lock and "
            f"{SPARK_KILL_WAIT:g} s for reaping the job; its Python driver may outlive it and keep the lake lock until "
            f"it ends")


def _stop_job(job: Any, readers: Iterable[Any], name: str) -> None:
    """Stop a job whose task is stopped, and wait for its output readers, all within :func:`stop_budget` (3.5 s
    of Airflow's 5), so the task releases the lake lock before Airflow's SIGKILL. Was up to 6 s: 3 s for the job
    after SIGTERM, then 3 s more for its readers, so a job that ignored SIGTERM, with a process of its own holding
    its pipes, had its task killed with the lock still held (taken over only by a later run on the same host).

    SIGTERM first, SIGKILL after :data:`SPARK_STOP_GRACE` seconds (fewer when the budget is shorter): spark-submit's
    JVM stops its Spark context and its Python driver on SIGTERM, and the driver's job file
    (``process.lock.job-…``) goes with it; SIGKILL would leave the driver running for a while, and the lock with it.
    Every wait ends by one deadline: a job not reaped after SIGKILL, and readers still reading (a process the job
    started holds its pipes), are left behind (daemon threads) rather than waited for. A budget that leaves the job
    no time after SIGTERM (an Airflow grace of 2 s or less, which Airflow 3's 5 s are not) kills it at once, saying
    so and why (:func:`no_time_to_stop`)."""
    import subprocess
    import time

    budget = stop_budget()
    deadline = time.monotonic() + budget

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    grace = sigterm_grace(budget)
    at_once = no_time_to_stop(name, "was killed (SIGKILL) at once") if grace <= 0 else None
    if at_once:  # a SIGTERM it would have no time to act on: SIGKILL alone, said as what it is
        log.warning("%s", at_once)
        job.kill()
        with suppress(subprocess.TimeoutExpired):
            job.wait(timeout=left())
    else:
        job.terminate()
        try:
            job.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("spark-submit %s did not stop within %.1f s of SIGTERM: killed (SIGKILL); a Python driver "
                        "that outlives it keeps the lake lock until it ends", name, grace)
            job.kill()
            with suppress(subprocess.TimeoutExpired):
                job.wait(timeout=left())
    for reader in readers:
        reader.join(timeout=left())


def _store_label(url: str) -> str:
    from fediscope.redact import redact_url

    return redact_url(url)


#: what stores a metric the verify task cannot read again (:func:`verify_store`)
VERIFY_RERUN = "`fediscope process` (the fediscope_batch DAG's process task)"


def verify_store(settings: Settings, window: BatchWindow | None = None) -> dict[str, Any]:
    """Read every metric back from the store; StoreError when the lake has data but the store has no rows, or when a
    metric's rows are not what this version reads (a value its column's type cannot hold, a column missing from its
    table): one line saying so and how to store it again (:func:`~fediscope.analysis.stale_as_store_error`), where
    the task failed with the store's decoding ``ValueError`` itself.

    No rows because nothing is curated yet and the run's days (``window``) have no raw files (a first backfill of a
    day before the collection began) is a :class:`~fediscope.errors.NothingCuratedError` saying so and which run
    curates the raw files (:func:`_nothing_curated`), not retried: was "holds no rows …; see the log of the process
    task", which said nothing of it, and retried."""
    from fediscope.analysis import stale_as_store_error
    from fediscope.engine.metrics import load_metrics
    from fediscope.lake.batches import raw_batch_files
    from fediscope.store.port import open_for_reading

    lake = existing_lake(settings)
    if not raw_batch_files(lake):
        return {"metrics": {}, "note": "the raw lake is empty: nothing to verify yet"}
    metrics = load_metrics(own_dir=settings.metrics_dir)
    store = open_for_reading(settings)  # read-only: a check creates nothing (no schema, no SQLite file)
    try:
        present = {}
        for name, metric in sorted(metrics.items()):
            with stale_as_store_error(name, rerun=VERIFY_RERUN):
                present[name] = len(store.top(metric, 1)) > 0
    finally:
        store.close()
    if not any(present.values()):
        empty = f"the store {_store_label(settings.store)} holds no rows for any of {len(metrics)} metrics"
        if window is not None and (why := _nothing_curated(lake, window)):
            raise NothingCuratedError(f"{empty}: {why}")
        raise StoreError(f"{empty} after processing; see the log of the process task")
    return {"metrics": present, "with_rows": sum(present.values()), "total": len(present)}


def _nothing_curated(lake: LakeBackend, window: BatchWindow) -> str | None:
    """Why a run's store holds no rows when nothing is curated in the lake yet and none of its raw files lie in the
    run's days: they are other days', which a run of those days curates (an undated run takes every uncurated raw
    file up to its day). None otherwise (something is curated, or the run's days have raw files)."""
    from fediscope.engine.manifest import load_manifest, plan_curation
    from fediscope.wording import count

    manifest = load_manifest(lake)
    if manifest.files:
        return None
    plan = plan_curation(lake, manifest, window.curate_since, window.until)
    if plan.total or not plan.skipped_outside_window:
        return None
    have = "has" if window.one_day else "have"
    outside = plan.skipped_outside_window
    return (f"nothing is curated in the lake yet, and {window.named} {have} no raw files "
            f"({count(outside, 'raw file')} {'lies' if outside == 1 else 'lie'} outside it): let an undated run "
            "(`airflow dags trigger fediscope_batch`) or the daily run curate them first, then clear this run")


# -- maintenance ----------------------------------------------------------------------------------------------
def apply_retention(settings: Settings) -> dict[str, Any]:
    """Delete raw and quarantine partitions older than ``retention_raw_days``, curated ones and the account
    snapshots last fetched before ``retention_curated_days`` (0 keeps a layer forever); see
    :mod:`fediscope.gdpr.retention`."""
    from fediscope.gdpr.retention import apply_retention as run
    from fediscope.interrupts import stop_on_sigterm
    from fediscope.lake.backend import require_lake_layout

    # a missing lake is refused, as by `fediscope gdpr retention`: its lock would create <lake>/_state/; and so is a
    # directory that is no lake (the one above it), whose temporary files it would remove at any depth
    lake = existing_lake(settings)
    require_lake_layout(lake, chosen_by=lake_named(settings))
    with stop_on_sigterm("the maintenance DAG's retention task"):  # a killed task releases the lake lock
        summary = run(settings, dry_run=False, lake=lake)
    for path in summary.skipped:
        log.warning("retention: %s has no readable date; left alone", path)
    return _as_dict(summary)


def check_lake(settings: Settings) -> dict[str, Any]:
    """The doctor's lake check; LakeError with its fix when the lake is not usable. A missing lake fails it
    (the doctor's probe file would create one: here the lake is expected to exist, ingest made it).

    While the lake lock is held, the doctor's ``lake_lock`` line is logged (a WARNING when this host cannot tell
    whether its holder still runs: such a lock fails every retention try until it is removed by hand) and returned
    under ``lock``; it never fails the task (another worker's batch holds the lock just so while it runs)."""
    from fediscope import doctor
    from fediscope.redact import redact_text, secret_values

    result = _doctor_check(settings, "lake", LakeError)
    for lock in doctor.lake_lock_line(settings, doctor.Check(**result)):
        secrets = secret_values(settings)
        line = redact_text(doctor.format_check(lock), secrets)
        log.log(logging.INFO if lock.status == doctor.OK else logging.WARNING, "%s", line)
        result["lock"] = {"status": lock.status, "detail": redact_text(lock.detail, secrets)}
    return result


def check_store(settings: Settings) -> dict[str, Any]:
    """The doctor's store check; StoreError with its fix when the store is not usable."""
    return _doctor_check(settings, "store", StoreError)


def _missing_lake(settings: Settings) -> str | None:
    """What is wrong when the lake does not exist or is not a directory, with its fix (None when it is there, or
    when the lake cannot answer, which the doctor's check reports with its own fix): checked before the doctor's
    probe file, whose write would create a missing lake."""
    from fediscope.lake.backend import not_a_directory, open_lake

    lake = open_lake(settings.lake)
    try:
        if lake.is_dir(""):
            return None
        there = lake.exists("")
    except LakeError:
        return None
    named = lake_named(settings)
    if there:
        return " -> fix: ".join(not_a_directory(lake.url, named))
    return (f"no lake at {lake.url}: it does not exist -> fix: run the fediscope_ingest DAG first (it creates the "
            f"lake when it first lands data), or point {named} at the lake it collects into")


def _doctor_check(settings: Settings, name: Literal["lake", "store"], error: type[FediscopeError]) -> dict[str, Any]:
    from fediscope import doctor
    from fediscope.console import printable
    from fediscope.redact import redact_text, secret_values

    missing = _missing_lake(settings) if name == "lake" else None
    if missing is not None:  # no retry mends it: failing_at_once fails the task at once, as process and retention
        raise NoLakeError(redact_text(f"lake check failed: {printable(missing)}", secret_values(settings)))
    check = {"lake": doctor.check_lake, "store": doctor.check_store}[name]
    # a check that raises: the doctor's own fix
    # named once: guarded_storage_check drops the "store " an exception's message starts with ("store <url>: …")
    result = doctor.guarded_storage_check(name, settings, lambda: check(settings))
    # redacted once: the URLs the detail shows are masked already (doctor.scrub_text)
    secrets, shown = secret_values(settings), doctor.shown_urls(settings)
    if result.status == doctor.FAIL:
        fix = f" -> fix: {printable(result.fix)}" if result.fix else ""
        raise error(doctor.scrub_text(f"{name} check failed: {printable(result.detail)}{fix}", secrets, shown))
    line = doctor.scrub_text(doctor.format_check(result), secrets, shown)
    if result.status != doctor.OK:
        log.warning("%s", line)
    return {"name": result.name, "status": result.status, "detail": doctor.scrub_text(result.detail, secrets, shown)}


# -- failures -------------------------------------------------------------------------------------------------
def failure_reason(context: Mapping[str, Any]) -> str:
    """One line: which task of which run failed, on which try, and why (secrets redacted)."""
    from fediscope.redact import redact_text

    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    label = getattr(ti, "rendered_map_index", None) or (str(map_index) if map_index not in (None, -1) else "")
    run_id = getattr(context.get("dag_run"), "run_id", None) or context.get("run_id", "?")
    error = context.get("exception")
    kind = type(error).__name__
    if kind == "AirflowFailException" and error.__cause__ is not None:  # failing_at_once's: named as its cause
        kind = type(error.__cause__).__name__
    text = str(error)
    if isinstance(error, MaskedError):  # named as the exception it stands in for
        kind, text = error.kind, error.text
    if error is None:
        reason = "no exception recorded (killed, timed out or marked failed)"
    else:
        reason = f"{kind}: {' '.join(text.split()) or kind}"
    where = f"{dag_id}.{task_id}" + (f"[{label}]" if label else "")
    return redact_text(f"fediscope task {where} failed (run {run_id}, try {getattr(ti, 'try_number', '?')}): "
                       f"{reason}")[:2000]


#: What no retry of a task mends (:func:`failing_at_once`): a setting; a lake that is not there or holds nothing;
#: a batch run's days with no raw file and nothing curated yet; a raw file damaged since it was landed (landing is
#: atomic, fediscope's and NiFi's alike, so the file will not be whole on a later try: retried, the process task
#: failed 9 times over 2 hours on it).
NOT_RETRIED = (ConfigError, NoLakeError, NothingCuratedError, DamagedBatchError)


@contextmanager
def failing_at_once() -> Iterator[None]:
    """Around a task's work: what no retry mends (:data:`NOT_RETRIED`: a setting, :class:`ConfigError`; a lake that
    is not there or holds nothing, :class:`NoLakeError`; a damaged raw file…) fails the task at once, not after its
    retries (the batch's process task retried a missing lake for 11 minutes). Anything else (an instance down, the
    lake lock held) is retried.

    Every exception leaves it masked (:func:`masked_exception`): Airflow renders the traceback of a failed task
    itself, with structlog and through none of fediscope's log filters, and in ``dag.test()`` (``airflow dags test``)
    without its own secrets masker either (that one acts where Airflow's supervisor writes the task's log file)."""
    try:
        yield
    except NOT_RETRIED as exc:
        from airflow.sdk.exceptions import AirflowFailException

        cause = masked_exception(exc)
        raise AirflowFailException(_shown_text(f"{cause} (not retried: no retry mends this)")) from cause
    except Exception as exc:
        masked = masked_exception(exc)
        if masked is exc:
            raise
        # __context__ (the original, in clear) is set by this raise: suppressed, and the masked chain is the cause
        raise masked from masked.__cause__


#: The secrets :func:`mask_secrets_for_airflow` registered in this process, for :func:`masked_exception`.
_TASK_SECRETS: set[str] = set()


class MaskedError(Exception):
    """Stands in for an exception whose text held a secret or a control character and could not be masked in
    place (its ``__str__`` is its own, as SQLAlchemy's errors' is): the original type's name and masked text."""

    def __init__(self, original: BaseException, text: str) -> None:
        self.kind = type(original).__name__
        self.text = text
        super().__init__(f"{type(original).__module__}.{type(original).__qualname__}: {text}")


def _shown_text(text: str) -> str:
    """An exception's text as a task log may show it: known secrets and shapes of credentials masked, control
    characters escaped (newlines too: a message's newline would start a forged line of the text log)."""
    from fediscope.console import printable
    from fediscope.redact import redact_text

    return printable(redact_text(text, _TASK_SECRETS))


def _exception_text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__: Python's traceback shows a placeholder, nothing of the value
        return ""


def masked_exception(exc: BaseException, _seen: set[int] | None = None) -> BaseException:
    """``exc`` with every secret :func:`mask_secrets_for_airflow` registered, and every shape of a credential,
    masked in its text, its notes and those of the exceptions it was raised from (its ``__cause__`` or shown
    ``__context__``), and their control characters escaped (:func:`_shown_text`); the same object, changed in place
    (its ``args``), so its type (which Airflow's retries go by) stays, or a :class:`MaskedError` where its own
    ``__str__`` still shows the secret. A clean exception comes back untouched.

    Airflow formats a failed task's traceback with structlog (``str()`` of each exception of the chain, and its
    notes) and through no log filter of fediscope's, so the text is masked before the exception reaches it.
    """
    seen = set() if _seen is None else _seen
    seen.add(id(exc))
    follows = exc.__cause__ if exc.__cause__ is not None else (None if exc.__suppress_context__ else exc.__context__)
    if follows is not None and id(follows) not in seen:
        masked_follows = masked_exception(follows, seen)
        if masked_follows is not follows:
            if exc.__cause__ is not None:
                exc.__cause__ = masked_follows
            else:
                exc.__context__ = masked_follows
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        exc.__notes__ = [_shown_text(str(note)) for note in notes]
    if isinstance(exc, BaseExceptionGroup):
        return _masked_group(exc, seen)
    text = _exception_text(exc)
    shown = _shown_text(text)
    if shown == text:
        return exc
    with suppress(Exception):  # an args that cannot be set: the stand-in below
        exc.args = (shown,)
    now = _exception_text(exc)
    if now and _shown_text(now) == now:
        return exc
    stand_in = MaskedError(exc, shown)
    stand_in.__cause__ = exc.__cause__ if exc.__cause__ is not None else (
        None if exc.__suppress_context__ else exc.__context__)
    stand_in.__suppress_context__ = True
    stand_in.__traceback__ = exc.__traceback__
    if isinstance(notes, list):
        stand_in.__notes__ = list(exc.__notes__)
    return stand_in


def _masked_group(group: BaseExceptionGroup, seen: set[int]) -> BaseException:
    """An exception group (``asyncio.TaskGroup``'s, ``except*``'s) with its sub-exceptions masked as
    :func:`masked_exception` masks them (with their own chains and sub-groups): Python's traceback, and Airflow's,
    shows each of them. A sub-exception masked in place leaves the group as it is; one replaced by a stand-in, or a
    message that held a secret, makes a new group (:meth:`~BaseExceptionGroup.derive`, or one of the built-in type
    where the message changes) with the original's chain, traceback and notes: a group's text is its message, which
    its ``args`` do not change."""
    subs = [sub if id(sub) in seen else masked_exception(sub, seen) for sub in group.exceptions]
    message = _shown_text(group.message)
    if message == group.message and all(new is old for new, old in zip(subs, group.exceptions, strict=True)):
        return group
    masked = group.derive(subs) if message == group.message else BaseExceptionGroup(message, subs)
    masked.__cause__, masked.__context__ = group.__cause__, group.__context__
    masked.__suppress_context__ = group.__suppress_context__
    masked.__traceback__ = group.__traceback__
    if isinstance(getattr(group, "__notes__", None), list):
        masked.__notes__ = list(group.__notes__)
    return masked


def log_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: one clear line in the task log and the scheduler's callback log."""
    log.error("%s", failure_reason(context))


def log_retry(context: Mapping[str, Any]) -> None:
    """``on_retry_callback``: the same line, as a warning (Airflow retries with exponential backoff)."""
    log.warning("%s; retrying", failure_reason(context))


DEFAULT_RETRIES = 3
RETRY_DELAY = timedelta(minutes=1)  # the first retry's delay; each next one doubles, up to MAX_RETRY_DELAY
RETRY_BACKOFF = 2.0
MAX_RETRY_DELAY = timedelta(minutes=30)


def retry_delays(span: timedelta) -> list[timedelta]:
    """The delays of the fewest retries (:func:`default_args`' backoff, capped) that add up to ``span`` at least.

    A task that fails at once while a batch holds the lake lock (retention) needs retries outlasting the longest
    a batch may hold it, the process task's timeout; fewer, and every maintenance run that meets a long batch
    fails."""
    delays: list[timedelta] = []
    waited, delay = timedelta(0), RETRY_DELAY
    while waited < span:
        delays.append(min(delay, MAX_RETRY_DELAY))
        waited += delays[-1]
        delay *= RETRY_BACKOFF
    return delays


#: The ``*_timeout_minutes`` settings the DAG files read when Airflow parses them (:func:`parse_time_timeouts`).
TIMEOUT_SETTINGS = ("process_timeout_minutes", "batch_run_timeout_minutes", "retention_timeout_minutes",
                    "check_timeout_minutes", "maintenance_run_timeout_minutes")
#: The least a whole batch or maintenance run may take when its timeout is not set (the settings' defaults).
MIN_BATCH_RUN_TIMEOUT = timedelta(hours=12)
MIN_MAINTENANCE_RUN_TIMEOUT = timedelta(hours=8)


class TimeoutTooShort(ConfigError):
    """A run timeout set shorter than what its run must hold; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


@dataclass(frozen=True)
class DagTimeouts:
    """Timeouts of the long tasks and of whole runs, and the retries of retention and of the batch's process task.

    A hung spark-submit, HDFS or store call would otherwise hold the lake lock forever and, with
    ``max_active_runs=1``, block every later run. A task past its timeout is stopped like a killed one (the lake
    lock is released, a running spark-submit job stopped: :func:`process_window`) and retried; a run past its
    ``dagrun_timeout`` fails with its running tasks stopped.

    Set by the ``FEDISCOPE_*_TIMEOUT_MINUTES`` settings (or their keys in ``fediscope.toml``), which Airflow
    reads when it parses the DAG files: :func:`parse_time_timeouts`. Not from the ``fediscope_settings``
    Variable, which only running tasks read; a change takes effect when the DAG processor next parses the files
    (within ``min_file_process_interval``, or restart it after changing its environment).
    """

    process: timedelta  # curation + metrics + store of a batch run (one try)
    batch_run: timedelta  # the process task's tries and its waits in the queue behind other runs
    retention: timedelta  # one try of retention
    check: timedelta  # verify, lake_health, store_health
    maintenance_run: timedelta  # retention's retries while a batch holds the lock, then a whole retention run
    retention_retries: int  # they outlast a batch holding the lake lock until its timeout (12, ~4 h by default)
    process_retries: int  # they outlast a retention try holding the lake lock (8, ~2 h by default; at least 3)


def dag_timeouts(settings: Settings) -> DagTimeouts:
    """The DAGs' timeouts from ``settings``; the run timeouts, when not set, derived so that they hold.

    Retention's retries always follow the process timeout (:func:`retry_delays`), and the process task's the
    retention timeout: each fails at once on the lake lock the other holds. Unset, a batch run may
    take 12 hours or 3 process timeouts if that is longer; a maintenance run 8 hours, or retention's retries plus
    one retention run if that is longer. Set, each run timeout must hold what it must (a batch run at least a
    process try, a maintenance run retention's retries plus one retention run, both at least a check): a
    ConfigError naming the variables otherwise."""
    minutes = {name: getattr(settings, name) for name in TIMEOUT_SETTINGS}
    process = timedelta(minutes=minutes["process_timeout_minutes"])
    retention = timedelta(minutes=minutes["retention_timeout_minutes"])
    check = timedelta(minutes=minutes["check_timeout_minutes"])
    retention_delays = retry_delays(process)
    retention_wait = sum(retention_delays, timedelta(0))  # the least its retries span (jitter only adds)

    def run_timeout(name: str, least: timedelta, needs: str, default: timedelta) -> timedelta:
        if minutes[name] is None:
            return max(default, least)
        chosen = timedelta(minutes=minutes[name])
        if chosen < least:
            env = _BY_NAME[name].env
            raise TimeoutTooShort(env, f"{env} (or [fediscope] {name} of the config file) is too short: "
                                       f"{minutes[name]} minutes, less than {needs}: {_whole_minutes(least)} "
                                       "minutes; raise it to at least that, or unset it to have it derived")
        return chosen

    batch_run = run_timeout(
        "batch_run_timeout_minutes", max(process, check),
        "the process timeout (FEDISCOPE_PROCESS_TIMEOUT_MINUTES)" if process >= check
        else "the check timeout (FEDISCOPE_CHECK_TIMEOUT_MINUTES)", max(MIN_BATCH_RUN_TIMEOUT, 3 * process))
    maintenance_run = run_timeout(
        "maintenance_run_timeout_minutes", max(retention_wait + retention, check),
        "retention's retries, which outlast the process timeout (FEDISCOPE_PROCESS_TIMEOUT_MINUTES), plus one "
        "retention run (FEDISCOPE_RETENTION_TIMEOUT_MINUTES)" if retention_wait + retention >= check
        else "the check timeout (FEDISCOPE_CHECK_TIMEOUT_MINUTES)", MIN_MAINTENANCE_RUN_TIMEOUT)
    return DagTimeouts(process=process, batch_run=batch_run, retention=retention, check=check,
                       maintenance_run=maintenance_run, retention_retries=len(retention_delays),
                       process_retries=max(DEFAULT_RETRIES, len(retry_delays(retention))))


def _whole_minutes(span: timedelta) -> int:
    return -(-int(span.total_seconds()) // 60)


def parse_time_timeouts(env: Mapping[str, str] | None = None) -> DagTimeouts:
    """The timeouts as the DAG files read them when Airflow parses them: only the ``*_timeout_minutes`` settings,
    from the DAG processor's ``FEDISCOPE_*`` variables and config file (``FEDISCOPE_CONFIG`` or
    ``./fediscope.toml``), as :func:`~fediscope.config.load_settings` reads them; not the ``fediscope_settings``
    Variable (read by running tasks only: reading it while parsing would query the metadata DB every parse).

    Only these settings are read, so a problem with another setting (a mistyped lake URL) does not stop the DAGs
    from parsing: the tasks report it when they run. A bad timeout, or one too short for what it must hold, is a
    ConfigError with one line naming the variable (or the file's key), which Airflow shows as the DAG file's
    import error (with a short traceback unless ``[core] dagbag_import_error_tracebacks`` is off): the DAG is
    not scheduled until it is fixed, rather than run with a timeout that is not the one configured."""
    try:
        return dag_timeouts(load_settings_only(TIMEOUT_SETTINGS, env))
    except ConfigError as exc:
        raise ConfigError(f"fediscope DAG timeouts: {exc}") from None


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff and the one-line failure log, shared by the three DAGs.

    In Airflow 3.3 ``retry_exponential_backoff`` is a multiplier (``True`` would mean 1: a constant delay).
    """
    return {
        "owner": "fediscope",
        "retries": DEFAULT_RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": MAX_RETRY_DELAY,
        "on_failure_callback": log_failure,
        "on_retry_callback": log_retry,
    }
