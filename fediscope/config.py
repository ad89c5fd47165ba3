"""One typed settings object, built once from ``FEDISCOPE_*`` variables and an optional ``fediscope.toml``.

Everything configurable is declared in :data:`SETTINGS` (name, environment variable, default, help) so the
README's configuration table can be checked against it. Environment variables win over the TOML file, which
wins over defaults. Code deeper in the package receives a :class:`Settings`; it never reads the environment.

The TOML file (``./fediscope.toml`` or the path in ``FEDISCOPE_CONFIG``) may hold the same keys as the settings
table under ``[fediscope]`` plus two tables of its own::

    [tokens]                      # per-instance access tokens (optional; public data needs none)
    "mastodon.social" = "..."

    [[sources]]                   # what `fediscope collect` collects when no --instance is given
    instance = "https://mastodon.social"
    timelines = ["public", "local", "tag:python", "account:Gargron", "instance", "trends_tags"]
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date as _date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fediscope.errors import ConfigError
from fediscope.redact import redact_url
from fediscope.sources.spec import parse_source
from fediscope.timestamps import parse_day
from fediscope.wording import quoted


class HintedValueError(ValueError):
    """A setting's parse error that already says how to write the value (a store or lake URL's problem, worded as
    the store or lake reports it when opened: ``…; use sqlite:///path, …``; the values an enumerated setting takes;
    a Spark master URL's forms): the setting's help, which lists the same forms, is not appended to it
    (:func:`_parse`)."""


@dataclass(frozen=True)
class Setting:
    """One configurable value: its attribute name, environment variable, default and help text."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False
    #: Why the thing a well-formed value names cannot be used now (a directory that is not there), or None: checked
    #: once every source is read, on the value that won (:func:`_check_usable`), so a command that does not use it
    #: may go on with a warning instead (``unusable`` of :func:`load_settings`).
    usable: Callable[[Any], str | None] | None = None
    #: What makes a parsed value unusable as written wherever it was set (a TOML list's items are not parsed), or
    #: None: refused as an invalid value (:func:`_parse`). Never quotes the value: it is for secrets too.
    check: Callable[[Any], str | None] | None = None

    @property
    def env(self) -> str:
        return "FEDISCOPE_" + self.name.upper()

    @property
    def kind(self) -> str:
        """What a typed TOML value must be: ``string``, ``integer``, ``number``, ``boolean``, ``list`` or ``date``."""
        return _KINDS.get(self.parse, "string")


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false (also on/off, yes/no, 1/0), got {value!r}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


#: The command every hint for a new API key gives (doctor, config check, serve-api, api/README.md): URL-safe
#: characters, all of which an X-API-Key header carries.
API_KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
#: The command every hint for a new pseudonym key gives (README's Quick start, doctor, config check, collect).
PSEUDONYM_KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


def api_key_problem(keys: tuple[str, ...]) -> str | None:
    """What makes one of the API keys unusable (None when none is), naming it by position, never quoting it. A key
    is sent in the X-API-Key header, which carries ASCII only (the server reads its bytes as Latin-1; the key is
    compared as UTF-8): a key with a character beyond ASCII (``clé``) could never be sent, every request 401. A
    space or a control character cannot be one of its characters either (a space around it is not sent)."""
    for position, key in enumerate(keys, start=1):
        if not all("!" <= char <= "~" for char in key):
            return (f"key #{position} holds a character other than ASCII letters, digits and punctuation (a space, "
                    "a control character, or a non-ASCII one such as an accented letter): an X-API-Key header "
                    "cannot carry it as written, so no client could send the key; use e.g. "
                    f"$({API_KEY_COMMAND})")
    return None


def integer_text(value: str) -> int:
    """A whole number as a ``FEDISCOPE_*`` variable gives it (``" 5 "``); ValueError naming the text otherwise."""
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None


def _number(value: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


#: Upper bounds of the numeric settings: far beyond any real use, and within what the arithmetic they feed takes
#: (a date ``days`` ago, a socket timeout, float pacing): a larger value was a traceback where it was used.
MAX_COUNT = 1_000_000_000
MAX_DAYS = 36_500  # 100 years
MAX_HOURS = MAX_DAYS * 24
MAX_SECONDS = 7 * 24 * 3600.0  # a week


def _positive_int(value: str) -> int:
    number = integer_text(value)
    if not 0 <= number <= MAX_COUNT:
        raise ValueError(f"expected a number from 0 to {MAX_COUNT:,}, got {value!r}")
    return number


def _days(value: str) -> int:
    number = integer_text(value)
    if not 0 <= number <= MAX_DAYS:
        raise ValueError(f"expected a number of days from 0 to {MAX_DAYS:,} (100 years), got {value!r}")
    return number


#: The most statuses a Mastodon timeline answers per page (``limit``; a larger one is served as 40).
MAX_PAGE_LIMIT = 40


def _page_limit(value: str) -> int:
    number = integer_text(value)
    if not 1 <= number <= MAX_PAGE_LIMIT:
        raise HintedValueError(f"expected a number from 1 to {MAX_PAGE_LIMIT} (the Mastodon API's cap), "
                               f"got {value!r}")
    return number


#: The longest contact a User-Agent carries: an address or a URL, not a letter.
MAX_CONTACT_LENGTH = 200


def _contact(value: str) -> str | None:
    """How an instance's admin reaches whoever runs this collector (``mailto:ops@example.org``, a URL, a fediverse
    handle), sent in the User-Agent of every request; empty is unset. It goes into an HTTP header, inside the
    User-Agent's comment: printable ASCII only (no line break could forge a header), no parentheses or backslash
    (they end or escape the comment)."""
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_CONTACT_LENGTH:
        raise ValueError(f"expected at most {MAX_CONTACT_LENGTH} characters, got {len(text)}")
    if not all(" " <= char <= "~" and char not in "()\\" for char in text):
        raise ValueError("expected printable ASCII without parentheses or backslash (it is sent in the User-Agent "
                         f"header), got {value!r}")
    return text


def _seconds(value: str) -> float:
    number = _number(value)
    if not 0 <= number <= MAX_SECONDS:  # also refuses nan
        raise ValueError(f"expected a number of seconds from 0 to {MAX_SECONDS:,.0f} (a week), got {value!r}")
    return number


def _hours(value: str) -> float:
    number = _number(value)
    if not 0 <= number <= MAX_HOURS:  # also refuses nan
        raise ValueError(f"expected a number of hours from 0 to {MAX_HOURS:,} (100 years), got {value!r}")
    return number


def _timeout(value: str) -> float:
    number = _number(value)
    if not 0 < number <= MAX_SECONDS:  # also refuses nan
        raise ValueError(f"expected a number of seconds above 0, at most {MAX_SECONDS:,.0f} (a week), got {value!r}")
    return number


#: The longest Airflow timeout a ``*_timeout_minutes`` setting takes: a week (a run longer than that is a hang).
MAX_TIMEOUT_MINUTES = 7 * 24 * 60


def _minutes(value: str) -> int:
    number = integer_text(value)
    if not 1 <= number <= MAX_TIMEOUT_MINUTES:
        raise ValueError(f"expected a whole number of minutes from 1 to {MAX_TIMEOUT_MINUTES:,} (a week), "
                         f"got {value!r}")
    return number


#: An HBase table-name prefix (the adapter names tables ``<prefix>_<metric>``; HBase takes letters, digits, ``_``,
#: ``-`` and ``.``, not ``-`` or ``.`` first): checked when the settings load.
HBASE_PREFIX_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def hbase_prefix(value: str) -> str:
    """``value`` as an HBase table-name prefix (:data:`HBASE_PREFIX_RE`); ValueError saying what it may hold."""
    if not HBASE_PREFIX_RE.fullmatch(value):  # whole: ``$`` also matches before a final line break
        raise ValueError(f"use letters, digits, '_', '-' and '.' ('-' and '.' not first), got {value!r}")
    return value


def _iso_date(value: str) -> str:
    try:
        return parse_day(value.strip()).isoformat()
    except ValueError:
        raise HintedValueError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _engine(value: str) -> str:
    """Case-insensitive like every enumerated setting (``SPARK`` is ``spark``)."""
    if value.strip().lower() not in ENGINES:
        raise HintedValueError(f"expected one of {', '.join(ENGINES)}, got {value!r}")
    return value.strip().lower()


ENGINES = ("duckdb", "spark")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


def _log_level(value: str) -> str:
    """Case-insensitive (``info`` is ``INFO``); kept upper-case, as :mod:`logging` names levels."""
    if value.strip().upper() not in LOG_LEVELS:
        raise HintedValueError(f"expected DEBUG, INFO, WARNING or ERROR (any case), got {value!r}")
    return value.strip().upper()


def _log_format(value: str) -> str:
    """Case-insensitive (``JSON`` is ``json``), as every enumerated setting."""
    if value.strip().lower() not in LOG_FORMATS:
        raise HintedValueError(f"expected text or json (any case), got {value!r}")
    return value.strip().lower()


def location_text_problem(value: str) -> str | None:
    """What makes a location (a lake path or URL, a store URL) unusable as written, before its form is looked at:
    a NUL or other control character (a NUL was a traceback deep in the file system calls), or whitespace around
    it (``/data/lake `` created a directory named with a trailing space; ``hbase://h:9090 `` was read as port
    ``9090 ``). A value that is only whitespace is left to the form's own check (it says "empty")."""
    if "\x00" in value:
        return "contains a NUL character (\\x00)"
    if value.strip():
        leading, trailing = value[:1].isspace(), value[-1:].isspace()
        if leading or trailing:
            where = "leading and trailing" if leading and trailing else "leading" if leading else "trailing"
            return f"has {where} whitespace; remove it (a space, tab or newline there is a copy-paste slip)"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character (a tab, newline or the like)"
    return None


def _lake(value: str) -> str:
    """A lake URL the lake factory accepts (checked here so the message can name where it came from)."""
    from fediscope.lake.backend import lake_url_problem

    if problem := location_text_problem(value) or lake_url_problem(value):
        raise HintedValueError(f"{redact_url(value)!r}: {problem}")
    return value


def store_url(value: str) -> str:
    """A store URL :func:`~fediscope.store.port.open_store` accepts, checked as it checks one (without opening
    anything), so a broken URL is reported when the settings load, naming where it came from (also for a command's
    own option that names a store, such as ``hbase_schema --url``)."""
    from fediscope.store.port import store_url_problem

    if problem := location_text_problem(value) or store_url_problem(value):
        raise HintedValueError(f"{redact_url(value)!r} {problem}")
    return value


def _metrics_dir(value: str) -> Path | None:
    """The directory of the user's own metric files (:mod:`fediscope.engine.metrics`), made absolute: the Spark
    jobs the batch DAG submits get it as it is, from another working directory. Empty is unset. Whether it is a
    readable directory is :func:`_metrics_dir_usable`'s question."""
    if not value.strip():
        return None
    if problem := location_text_problem(value):
        raise ValueError(f"{value!r} {problem}")
    return Path(value).absolute()


def _metrics_dir_usable(path: Path | None) -> str | None:
    from fediscope.engine.metrics import metrics_dir_problem

    return None if path is None else metrics_dir_problem(path)


_HADOOP_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s]*/[^\s]*$")


def _proxy_address(value: str) -> str | None:
    import ipaddress

    value = value.strip()
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"expected the IP address the reverse proxy connects from, e.g. 127.0.0.1, got "
                         f"{value!r}") from None


def _hadoop_uri(value: str) -> str | None:
    """The lake's root as Spark addresses it, without a trailing ``/``; empty (or only whitespace) is unset.
    Whitespace around it is refused as the lake's, the store's and the Spark master's is
    (:func:`location_text_problem`; was: trimmed silently, so the value Spark was given was not the one written)."""
    if not value.strip():
        return None
    if problem := location_text_problem(value):
        raise HintedValueError(f"{redact_url(value)!r} {problem}")
    value = value.rstrip("/")
    if not _HADOOP_URI_RE.fullmatch(value + "/"):
        raise HintedValueError("expected the lake's root as a Hadoop filesystem URI such as "
                               f"hdfs://namenode:8020/fediscope, got {redact_url(value)!r}")
    if value.split("://", 1)[0].lower() in ("webhdfs", "swebhdfs"):
        raise HintedValueError("Spark cannot read webhdfs:// with pyspark's bundled Hadoop client (it fails on the "
                         "namenode's error answers); give the namenode's RPC address, hdfs://namenode:8020/path")
    return value


#: DuckDB's memory size syntax (its ``memory_limit`` setting): a number and a unit, 1000- or 1024-based, any case,
#: spaces allowed between (``2GB``, ``512 MiB``, ``1.5g``), or a share of the machine's memory (``50%``).
_MEMORY_SIZE_RE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)\s*(?:[KMGT]B?|[KMGT]iB|%)", re.IGNORECASE)


def _memory_size(value: str) -> str | None:
    """A memory size DuckDB's ``memory_limit`` takes (:data:`_MEMORY_SIZE_RE`), kept as written for DuckDB to read;
    empty is unset (DuckDB's default, 80% of the machine's memory). Checked here, not by DuckDB, so that loading
    the settings need not import it; a limit too small to run anything is not refused here: ``process`` says so,
    naming the setting, when DuckDB runs out of memory under it."""
    text = value.strip()
    if not text:
        return None
    if not _MEMORY_SIZE_RE.fullmatch(text) or not float(re.sub(r"[^\d.]", "", text)) > 0:
        raise HintedValueError(f"expected a size above 0 such as 2GB or 512MiB (KB, MB, GB, TB count in 1000s; "
                               f"KiB, MiB, GiB, TiB in 1024s) or a share of the memory such as 50%, got {value!r}")
    if text.endswith("%") and float(text.rstrip("% ")) > 100:
        raise HintedValueError(f"a share of the memory is at most 100%, got {value!r}")
    return text


#: The most DuckDB threads a setting asks for: far more than any machine's cores (DuckDB starts as many as asked).
MAX_THREADS = 1024


def _threads(value: str) -> int | None:
    """A number of threads from 1 to :data:`MAX_THREADS`; empty is unset (DuckDB's default, one per core)."""
    if not value.strip():
        return None
    number = integer_text(value)
    if not 1 <= number <= MAX_THREADS:
        raise ValueError(f"expected a number of threads from 1 to {MAX_THREADS:,}, got {value!r}")
    return number


def _spark_master(value: str) -> str:
    """A master URL of a form Spark accepts, whose addresses the engine can probe before it starts a JVM (each
    master of ``spark://…`` with its port): refused when the settings load, whatever the command, as a broken
    store or lake URL is, not when the engine starts. Whitespace around it is refused as the lake's and the
    store's is (:func:`location_text_problem`; was: trimmed silently), and so is ``mesos://`` (was: accepted,
    and ``doctor`` said OK), which Spark 4 no longer runs."""
    from fediscope.engine.spark_master import (
        LOCAL_CLUSTER_REFUSED,
        MASTER_FORM_RE,
        MASTER_FORMS,
        master_problem,
        shown_master,
    )

    if problem := location_text_problem(value):
        raise HintedValueError(f"{shown_master(value)!r} {problem}")
    if value.partition("://")[0].lower() == "mesos":
        raise HintedValueError(f"{shown_master(value)!r}: {MESOS_REMOVED}")
    if value.startswith("local-cluster"):
        raise HintedValueError(f"{shown_master(value)!r}: {LOCAL_CLUSTER_REFUSED}")
    if not MASTER_FORM_RE.fullmatch(value):
        raise HintedValueError(f"expected a Spark master URL: {MASTER_FORMS}, got {shown_master(value)!r}")
    if problem := master_problem(value):
        raise HintedValueError(f"{shown_master(value)!r}: {problem}")
    return value


#: Why a ``mesos://`` master is refused: Spark 4 (the pyspark of requirements.txt) dropped Mesos support.
MESOS_REMOVED = ("Spark 4, which fediscope runs, no longer supports Mesos; run the jobs on a standalone cluster "
                 "(spark://host:7077), YARN (yarn) or Kubernetes (k8s://https://host:6443)")

SETTINGS: tuple[Setting, ...] = (
    Setting("lake", "./lake", "Where the data lake lives: a path, file://…, or webhdfs://namenode:9870/path.",
            _lake),
    Setting("store", "sqlite:///fediscope.db",
            "Where metrics are stored: sqlite:///path, mysql+pymysql://user:<password>@host/db, hbase://host:9090.",
            store_url),
    Setting("engine", "duckdb", "Batch engine for curation and metrics: duckdb (single machine) or spark.",
            _engine),
    Setting("spark_master", "local[2]", "Spark master URL when engine=spark (local[*], spark://…, yarn).",
            _spark_master),
    Setting("spark_lake_uri", None, "The lake's root as Spark addresses it (hdfs://namenode:8020/path for a "
            "webhdfs:// lake): Spark then reads and writes the lake directly, as a cluster needs.", _hadoop_uri),
    Setting("duckdb_memory_limit", None, "Most memory DuckDB (engine=duckdb; with any engine, process's comparison "
            "of recomputed metrics with the last run's) may use before it spills to a temporary directory, in "
            "DuckDB's size syntax (2GB, 512MiB, 50%); unset, DuckDB's default, 80% of the machine's memory.",
            _memory_size),
    Setting("duckdb_threads", None, "Threads DuckDB (engine=duckdb; with any engine, process's metric comparison) "
            "runs a query on; unset, one per core. Fewer threads need less memory.", _threads),
    Setting("metrics_dir", None, "A directory of your own metric SQL files, read beside the built-in ones of "
            "spark_jobs/sql/ (a file named as a built-in metric is refused).", _metrics_dir,
            usable=_metrics_dir_usable),
    Setting("api_key", (), "Comma-separated API keys the API (scraping and results routes) accepts in X-API-Key. "
            "Suffix a key with ':ro' to limit it to read-only requests (its client sends it without the suffix).",
            _csv, secret=True, check=api_key_problem),
    Setting("api_rate_limit", 120, "Requests per minute each API key may make to the API (scraping and results routes) "
            "(token bucket, bursts up to the same number; 0 turns the limit off).", _positive_int),
    Setting("api_trusted_proxy", None, "IP address of the TLS reverse proxy in front of the scraping API: its "
            "X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For are believed (the Link URLs then carry the "
            "proxy's https and host); unset, those headers are dropped.", _proxy_address),
    Setting("pseudonym_key", None, "Secret key for the keyed pseudonyms (HMAC-SHA256) applied at landing.",
            secret=True),
    # an error about its value adds how to turn it off where it was set (_help_for)
    Setting("privacy", True, "Apply the privacy policy at landing (pseudonyms, minimisation, opt-outs).", _bool),
    Setting("instances", (), "Comma-separated allowlist of instances the scraping API may fetch "
            "(the configured sources are always allowed).", _csv),
    Setting("allow_private_addresses", False, "Let the API fetch instances that resolve to loopback or "
            "private addresses (only for local use, such as the sample instance).", _bool),
    Setting("backfill_pages", 10, "Pages walked back on a source's first run (no checkpoint yet).",
            _positive_int),
    Setting("backfill_since", None, "On a first run, stop walking back at statuses older than this date "
            "(YYYY-MM-DD).", _iso_date),
    Setting("refresh_hours", 0.0, "Refresh pass: on each run, re-fetch each timeline's statuses created in the "
            "last N hours so their reply, boost and favourite counts are current (0 turns it off).", _hours),
    Setting("refresh_max_pages", 10, "Pages per source and run the refresh pass may fetch (its extra requests).",
            _positive_int),
    Setting("settle_hours", 0.0, "Settle pass: land each timeline status once more when it is N hours old, so "
            "its counts are the ones it settled at, the same age for every status (0 turns it off).", _hours),
    Setting("settle_max_pages", 20, "Pages per source and run the settle pass may fetch (its extra requests).",
            _positive_int),
    Setting("page_limit", 40, f"Statuses requested per page, 1 to {MAX_PAGE_LIMIT} (the Mastodon API's cap).",
            _page_limit),
    Setting("contact", None, "How an instance's admin reaches you (mailto:ops@example.org, a URL or a fediverse "
            "handle): sent in the User-Agent of every request to an instance.", _contact),
    Setting("request_timeout", 30.0, "Seconds before an upstream request times out.", _timeout),
    Setting("max_retries", 5, "Retries of a failing upstream request (5xx, timeouts, and the 429s a collect "
            "waits out: one budget for both) before the source is reported failed.", _positive_int),
    Setting("retry_backoff", 1.0, "Base delay in seconds of the exponential backoff between retries "
            "(doubled per attempt, with jitter, capped at 60 s).", _seconds),
    Setting("rate_limit_max_wait", 300.0, "Longest wait in seconds for an instance's rate-limit window to "
            "reset; a longer throttle reports the source failed for this run.", _seconds),
    Setting("retention_raw_days", 90, "Raw and quarantine partitions older than this many days are deleted by "
            "retention (0 keeps them forever).", _days),
    Setting("retention_curated_days", 0, "Curated statuses and hashtags posted, and account snapshots last "
            "fetched, more than this many days ago are deleted by retention and left out by curation (0 keeps them "
            "forever).", _days),
    Setting("hbase_table_prefix", "fediscope", "Prefix of the HBase table names (one per environment).",
            hbase_prefix),
    Setting("process_timeout_minutes", 240, "Airflow: minutes a try of fediscope_batch's process task (curation, "
            "metrics, store) may run before it is stopped and retried; a first Spark curation of months of data "
            "may need more. Read when Airflow parses the DAG files.", _minutes),
    Setting("batch_run_timeout_minutes", None, "Airflow: minutes a whole fediscope_batch run may take, at least "
            "the process timeout; unset, 720 (12 h) or 3 times the process timeout if that is longer. Read when "
            "Airflow parses the DAG files.", _minutes),
    Setting("retention_timeout_minutes", 120, "Airflow: minutes a try of fediscope_maintenance's retention task "
            "may run before it is stopped and retried. Read when Airflow parses the DAG files.", _minutes),
    Setting("check_timeout_minutes", 15, "Airflow: minutes the verify, lake_health and store_health tasks may "
            "run. Read when Airflow parses the DAG files.", _minutes),
    Setting("maintenance_run_timeout_minutes", None, "Airflow: minutes a whole fediscope_maintenance run may "
            "take, at least retention's retries (which outlast the process timeout) plus one retention run; unset, "
            "480 (8 h) or that least if it is longer. Read when Airflow parses the DAG files.", _minutes),
    Setting("log_level", "WARNING", "Logging level: DEBUG, INFO, WARNING, ERROR (any case).", _log_level),
    Setting("log_format", "text", "Format of the log lines on stderr: text (time level logger message) or json "
            "(one JSON object per line, for a log shipper).", _log_format),
)

_KINDS: dict[Callable[[str], Any], str] = {
    _bool: "boolean", _csv: "list", _positive_int: "integer", _days: "integer", _page_limit: "integer",
    _seconds: "number", _hours: "number", _timeout: "number", _iso_date: "date", _minutes: "integer",
    _threads: "integer",
}


@dataclass(frozen=True)
class SourceSpec:
    """A configured collection target: one instance and the timelines/endpoints to collect from it."""

    instance: str
    timelines: tuple[str, ...] = ("public",)


@dataclass(frozen=True)
class Settings:
    lake: str = "./lake"
    store: str = "sqlite:///fediscope.db"
    engine: str = "duckdb"
    spark_master: str = "local[2]"
    spark_lake_uri: str | None = None
    duckdb_memory_limit: str | None = None
    duckdb_threads: int | None = None
    metrics_dir: Path | None = None
    api_key: tuple[str, ...] = ()
    api_rate_limit: int = 120
    api_trusted_proxy: str | None = None
    pseudonym_key: str | None = None
    privacy: bool = True
    instances: tuple[str, ...] = ()
    allow_private_addresses: bool = False
    backfill_pages: int = 10
    backfill_since: str | None = None
    refresh_hours: float = 0.0
    refresh_max_pages: int = 10
    settle_hours: float = 0.0
    settle_max_pages: int = 20
    page_limit: int = 40
    contact: str | None = None
    request_timeout: float = 30.0
    max_retries: int = 5
    retry_backoff: float = 1.0
    rate_limit_max_wait: float = 300.0
    retention_raw_days: int = 90
    retention_curated_days: int = 0
    hbase_table_prefix: str = "fediscope"
    process_timeout_minutes: int = 240
    batch_run_timeout_minutes: int | None = None
    retention_timeout_minutes: int = 120
    check_timeout_minutes: int = 15
    maintenance_run_timeout_minutes: int | None = None
    log_level: str = "WARNING"
    log_format: str = "text"
    tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    sources: tuple[SourceSpec, ...] = ()
    #: Where each setting's value came from, as a message names it (:meth:`origin`): the TOML key and file
    #: (``fediscope.toml: [fediscope] store``), the variable or the command-line option. Not compared: the same
    #: values are the same settings wherever they were set.
    origins: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: The config file that was read (as named: ``fediscope.toml`` or ``FEDISCOPE_CONFIG``'s path), None when none
    #: was (no ``./fediscope.toml`` and no ``FEDISCOPE_CONFIG``, or settings built in code). Not compared, as
    #: :attr:`origins`.
    config_file: Path | None = field(default=None, repr=False, compare=False)
    #: The settings the config file sets whose value came from elsewhere (a variable, an option, the Airflow
    #: Variable): name → (the file's origin, ``fediscope.toml: [fediscope] name``, and its TOML value as read), for
    #: ``config show`` and ``config check`` to say what overrode the file. Not compared, as :attr:`origins`.
    overridden: Mapping[str, tuple[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback
        shown = []
        for f in fields(self):
            if f.name in ("origins", "config_file", "overridden"):
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_NAMES and value:
                value = "***"
            elif f.name in URL_NAMES and isinstance(value, str):
                value = redact_url(value)
            if f.name == "tokens":
                value = {k: "***" for k in value}
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def token_for(self, instance: str) -> str | None:
        """The access token configured for an instance (by domain), or None for anonymous access. A token that
        cannot be sent as it is (:func:`token_problem`) is a ConfigError naming where it is set, never the token
        (was: the request library's error quoted it, and the collection summary printed that)."""
        token = self.tokens.get(_token_key(instance))
        if token and (problem := token_problem(token)):
            raise ConfigError(f"the access token of {instance_domain(instance)} ({token_env_name(instance)} or "
                              f"[tokens] in the config file) {problem}; use the token exactly as the instance "
                              "issued it, or unset it to collect public data only")
        return token

    def allowed_instances(self) -> set[str]:
        """Domains the scraping API may fetch: the allowlist plus every configured source."""
        return {instance_domain(i) for i in self.instances} | {instance_domain(s.instance) for s in self.sources}

    def origin(self, name: str, *, advice: bool = False) -> str:
        """Where setting ``name`` is changed, as an error or finding about its value names it: where the value came
        from (a TOML key names its file: a user who configures fediscope only there has no variable set), else
        (a default, or a value set from code) its ``FEDISCOPE_*`` variable.

        ``advice``: the message tells the user to set it (``raise …``, ``set … before a source's first run``), so a
        setting set nowhere is named by both places that set it, the variable and the config file's key (of the
        file read, else ``fediscope.toml``): ``FEDISCOPE_SETTLE_MAX_PAGES (or [fediscope] settle_max_pages in
        fediscope.toml)``. A value set somewhere is changed there: ``fediscope.toml: [fediscope] settle_max_pages``,
        ``Airflow Variable fediscope_settings: settle_max_pages``, the variable, option or Python argument."""
        where = self.origins.get(name)
        if where:
            return where
        variable = _BY_NAME[name].env
        if not advice:
            return variable
        return f"{variable} (or [fediscope] {name} in {self.config_file or 'fediscope.toml'})"

    def replace(self, **changes: Any) -> Settings:
        """These settings with ``changes``, which no longer come from where the values they replace came from."""
        from dataclasses import replace

        origins = {name: where for name, where in self.origins.items() if name not in changes}
        overridden = {name: was for name, was in self.overridden.items() if name not in changes}
        return replace(self, **{"origins": origins, "overridden": overridden, **changes})

    def origin_kind(self, name: str) -> str:
        """Where setting ``name``'s value came from, as ``config show --json`` names it: ``default``, ``file``,
        ``environment``, ``option`` (a command-line option), ``airflow_variable`` or ``code`` (set from Python:
        :mod:`fediscope.python_api`'s arguments, or :meth:`replace`)."""
        where = self.origins.get(name)
        if where is None:
            return "default" if getattr(self, name) == _BY_NAME[name].default else "code"
        if where == _BY_NAME[name].env:
            return "environment"
        if where.startswith("--"):
            return "option"
        if where.startswith("Airflow Variable "):
            return "airflow_variable"
        if self.config_file is not None and where == _file_origin(self.config_file, name):
            return "file"
        return "code"


def option_origin(settings: Settings, name: str) -> str:
    """Where setting ``name`` is changed, as the fix of an error from a command with an option of the same name
    (``--lake``, ``--store``) names it: where the value came from (:meth:`Settings.origin`: ``--lake``, the
    variable, ``fediscope.toml: [fediscope] lake``, the Airflow Variable's key), and for a default the option
    before both places that set it (``--lake / FEDISCOPE_LAKE (or [fediscope] lake in fediscope.toml)``). Was: the
    fixed ``--lake / FEDISCOPE_LAKE``, also for a lake set in fediscope.toml alone."""
    if name in settings.origins:
        return settings.origin(name)
    return f"--{name.replace('_', '-')} / {settings.origin(name, advice=True)}"


def set_to(settings: Settings, name: str, value: str, *, fix: bool = False) -> str:
    """Setting ``name`` as ``value``, named where it is set (:meth:`Settings.origin`): ``FEDISCOPE_ENGINE=spark``
    for a variable, ``engine = 'spark' (fediscope.toml: [fediscope] engine)`` for the file's key or another place;
    ``fix``: as advice to set it (``use FEDISCOPE_ENGINE=duckdb``, ``set fediscope.toml: [fediscope] engine to
    'duckdb'``). The one way ``fediscope doctor``'s findings and the Spark engine's errors say it. Was: the variable
    always, also for a value set in ``fediscope.toml``."""
    where = settings.origin(name, advice=fix)
    if settings.origin_kind(name) == "environment":
        return f"use {where}={value}" if fix else f"{where}={value}"
    return f"set {where} to {value!r}" if fix else f"{name} = {value!r} ({where})"


SECRET_NAMES = {s.name for s in SETTINGS if s.secret}
#: may embed a password (mysql+pymysql://user:password@host/db) or a credential in a query (a k8s:// master's
#: ``?access_token=``: was shown by ``config show``)
URL_NAMES = {"lake", "store", "spark_lake_uri", "spark_master"}
_BY_NAME = {s.name: s for s in SETTINGS}


#: A host name (RFC 1123: labels of 1 to 63 letters, digits and ``-``, neither first nor last; IDNs in their ``xn--``
#: form), as the lake can hold it in ``instance=<domain>``; at most :data:`HOST_MAX_LENGTH` characters (DNS's bound)
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)*$")
HOST_MAX_LENGTH = 253
#: What around an address is a copy-paste slip and dropped (a line break from a file, blanks): every character up to
#: U+0020, as Java's ``String.trim`` drops it (the NiFi flows' ``trim()``: they name the quarantine after the same
#: domain). Inside an address, these and every other unprintable character are refused: ``urlsplit`` drops a tab or
#: line break anywhere (``mast<TAB>odon.social`` was ``mastodon.social``).
BLANKS = "".join(chr(code) for code in range(0x21))

#: The port each scheme an instance is reached over connects to when the address names none.
DEFAULT_PORTS = {"http": 80, "https": 443}


def instance_domain(instance: str) -> str:
    """``https://mastodon.social/`` → ``mastodon.social``; ``127.0.0.1:8080`` stays as it is (port kept).

    What names the same server is the same instance (one lake partition, one token, one key for its local
    accounts), so two spellings are dropped: a fully qualified name's final dot (``mastodon.social.``, the DNS
    root), and the port the scheme connects to anyway (``https://mastodon.social:443``, ``http://host:80``; an
    address without a scheme is https, so ``mastodon.social:443`` too). Any other port is kept, as it may be
    another server (``http://host:443``, ``127.0.0.1:8080``).

    An IPv6 address (``http://[::1]:8765``) is refused with a message saying so (was: "expected e.g.
    https://mastodon.social"): the domain names lake partitions (``instance=<domain>``, a form the lake layout
    checks), ``FEDISCOPE_TOKEN_*`` variables and account keys, none of them written for brackets and colons, and a
    Mastodon instance has a host name anyway (one in ``/etc/hosts`` reaches a local server on an IPv6 address).

    An address with a user name or password (``https://user:pw@host``) is refused, its password masked: fediscope
    sends neither (it dropped them silently, and showed the password in errors and ``config show``). So is one with
    a path, query or fragment (``https://mastodon.social/@Gargron``), which were dropped silently too: Mastodon
    serves its API at the root of its host.

    Blanks and control characters around the address are dropped (:data:`BLANKS`), inside it refused
    (``urlsplit`` dropped a tab or line break anywhere). An instance is reached over https or http only: another
    scheme (``ftp://host``) is refused here, not only by :func:`instance_base_url` (an allowlist entry
    ``ftp://host`` was taken, and the API then failed to start), and so is port 0 (was dropped, as if no port were
    named). The host is a host name (:data:`_HOST_RE`: ``host..example`` and ``-host.example`` are none). The
    scraping API reads its ``instance`` parameter with this function (``api.params.parse_instance``), so it takes
    every address the configuration takes, and names it by the same domain."""
    text = instance.strip(BLANKS)
    if "://" not in text:
        text = "https://" + text
    shown = _shown_address(instance, text)
    # a user or password first: the address is quoted with its password masked, which may hide the blank or control
    # character a password holds (``https://alice:pw /@host``), so that "it holds a blank" would name none to be seen
    if _names_user(text):
        raise ConfigError(f"not an instance address: {shown} (it names a user or password, which fediscope "
                          "never sends: give the host alone, and an access token in FEDISCOPE_TOKEN_<INSTANCE>)")
    if not text.isprintable() or any(c.isspace() for c in text):
        raise ConfigError(f"not an instance address: {shown} (it holds a blank, tab, line break or other control "
                          "character inside it; only those around it are dropped)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL" (an unclosed bracket)
        raise ConfigError(f"not an instance address: {shown} ({exc}; expected e.g. "
                          "https://mastodon.social or http://127.0.0.1:8765)") from None
    try:
        port = parts.port
    except ValueError:  # "host:abc", "host:99999": Python's own text quoted the port again, the quote twice over
        raise ConfigError(f"not an instance address: {shown} (its port is not a whole number from 1 to 65535; "
                          "expected e.g. https://mastodon.social or http://127.0.0.1:8765)") from None
    if parts.scheme not in DEFAULT_PORTS:  # was: ftp://host read as host (instance_base_url alone refused it)
        raise ConfigError(f"instance {shown}: scheme must be http or https (an instance is reached over https, or "
                          "http for a local one)")
    if port == 0:  # was: dropped, as if no port were named (so the scheme's own port was used)
        raise ConfigError(f"not an instance address: {shown} (port 0, which no server listens on: give the "
                          "instance's port, 1-65535, or none)")
    if parts.path not in {"", "/"} or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ConfigError(f"not an instance address: {shown} (a path, query or fragment, which fediscope would "
                          "drop: an instance is the server alone, e.g. https://mastodon.social; an account is a "
                          "source, account:NAME)")
    host = (host or "").lower()
    if ":" in host:  # only an IPv6 address in brackets gets here with a colon
        raise ConfigError(f"not an instance address: {shown} (an IPv6 address, which fediscope does not take; "
                          "use a host name that resolves to it, e.g. one added to /etc/hosts)")
    host = host[:-1] if host.endswith(".") else host
    if len(host) > HOST_MAX_LENGTH or not _HOST_RE.fullmatch(host):
        raise ConfigError(f"not an instance address: {shown} (expected a host name, e.g. https://mastodon.social)")
    return f"{host}:{port}" if port and port != DEFAULT_PORTS.get(parts.scheme) else host


def _names_user(url: str) -> bool:
    """Whether an address names a user or password: an ``@`` in the host part of the masked URL (a password may hold
    an unencoded ``/ ? #``, which ends the host part for ``urlsplit``; :func:`~fediscope.redact.redact_url` masks it
    whole, to the last ``@`` of the userinfo). An address ``urlsplit`` cannot read names none here: it is refused
    for that."""
    try:
        return "@" in urlsplit(redact_url(url)).netloc
    except ValueError:
        return False


def _shown_address(instance: str, url: str) -> str:
    """An instance address as an error quotes it (:func:`~fediscope.wording.quoted`: its first 100 characters, as the
    scraping API's other 400 answers quote a parameter): as typed, unless it holds a password or a secret query
    parameter (``?access_token=…``), then as :func:`~fediscope.redact.redact_url` masks ``url`` (the address with
    its scheme), masked before it is cut."""
    masked = redact_url(url)
    return quoted(instance if masked == url else masked)


def instance_base_url(instance: str) -> str:
    """The API base URL of an instance: keeps an explicit scheme, defaults to https. The host and port are
    :func:`instance_domain`'s, so a port the scheme connects to anyway is left out (``https://host:443`` →
    ``https://host``) and any other kept (``http://host:443``)."""
    domain = instance_domain(instance)  # its errors quote the address as written; http or https only
    text = instance.strip(BLANKS)
    return f"{urlsplit(text).scheme if '://' in text else 'https'}://{domain}"


#: Per-instance access tokens come from ``FEDISCOPE_TOKEN_<INSTANCE>`` variables.
TOKEN_PREFIX = "FEDISCOPE_TOKEN_"


def token_key(name: str) -> str:
    """The one normal form under which a token is filed and looked up, whoever names the instance: lower-case,
    every character but a letter or digit as ``_``. ``mastodon.social`` (an instance's domain, a ``[tokens]``
    key), ``MASTODON.SOCIAL`` and ``MASTODON_SOCIAL`` (what follows ``FEDISCOPE_TOKEN_``) all give
    ``mastodon_social``."""
    return re.sub(r"[^a-z0-9]", "_", name.strip().lower())


def _token_key(instance: str) -> str:
    """The key of an instance's token: its domain (``https://Mastodon.social/`` → ``mastodon.social``) in
    :func:`token_key`'s form."""
    return token_key(instance_domain(instance))


def token_variable_key(variable: str) -> str | None:
    """The key of the token a ``FEDISCOPE_TOKEN_<INSTANCE>`` variable sets (None for any other variable): the
    suffix in :func:`token_key`'s form, so ``FEDISCOPE_TOKEN_MASTODON.SOCIAL``, ``FEDISCOPE_TOKEN_mastodon_social``
    and ``FEDISCOPE_TOKEN_MASTODON_SOCIAL`` all set the token of ``mastodon.social``."""
    if not variable.startswith(TOKEN_PREFIX):
        return None
    return token_key(variable[len(TOKEN_PREFIX):])


def token_variables(env: Mapping[str, str]) -> dict[str, list[str]]:
    """Token key → the names of the non-empty ``FEDISCOPE_TOKEN_*`` variables in ``env`` that set it (sorted)."""
    found: dict[str, list[str]] = {}
    for name in sorted(env):
        key = token_variable_key(name)
        if key is not None and env[name]:
            found.setdefault(key, []).append(name)
    return found


def token_problem(token: str) -> str | None:
    """What makes an access token unusable as written (None when it looks like one), never quoting it. Instances
    issue tokens of letters, digits, ``-`` and ``_``: whitespace around one is a copy-paste slip (a newline
    from a file), and an HTTP header cannot carry a control character or anything beyond ASCII."""
    if not token:
        return "is empty"
    if not token.strip():
        return "is only whitespace"
    if token != token.strip():
        return "has whitespace (a space or a newline) before or after it"
    if any(c.isspace() for c in token):
        return "contains whitespace"
    if any(ord(c) < 32 or ord(c) == 127 for c in token):
        return "contains a control character"
    if not (token.isascii() and token.isprintable()):
        return "contains characters other than printable ASCII"
    return None


def token_env_name(instance: str) -> str:
    """``mastodon.social`` → ``FEDISCOPE_TOKEN_MASTODON_SOCIAL`` (the spelling hints give; any spelling
    :func:`token_variable_key` files under the same key is read too)."""
    return TOKEN_PREFIX + _token_key(instance).upper()


def token_label(key: str, settings: Settings, env: Mapping[str, str]) -> str:
    """How ``config show``, ``config check`` and ``doctor`` name the token filed under ``key``, so that a user
    finds where to change it; never the key itself (``127_0_0_1_8765``), which no one wrote.

    The name is the domain of the configured instance ([[sources]], ``FEDISCOPE_INSTANCES``) the token is for, as
    a ``[tokens]`` key names it (``127.0.0.1:8765``), else the ``FEDISCOPE_TOKEN_<INSTANCE>`` variable that sets
    it. After it, in brackets, where the token is set unless the name says it already: the ``FEDISCOPE_TOKEN_*``
    variable(s) as ``env`` spells them (a variable wins over the file), else ``[tokens] of the config file``.
    """
    variables = token_variables(env).get(key)
    where = " and ".join(variables) if variables else "[tokens] of the config file"
    for instance in [s.instance for s in settings.sources] + list(settings.instances):
        with contextlib.suppress(ConfigError):  # a bad address is reported by its own check
            if _token_key(instance) == key:
                return f"{instance_domain(instance)} ({where})"
    if variables:
        return where
    return f"{TOKEN_PREFIX}{key.upper()} ({where})"


#: TOML value types each kind of setting takes besides a string (a string goes through the same parsing as an
#: environment variable's value). ``bool`` is a subclass of ``int``, hence checked first.
_TOML_TYPES: dict[str, tuple[type, ...]] = {"integer": (int,), "number": (int, float), "boolean": (bool,),
                                            "date": (_date,), "list": (), "string": ()}
_ARTICLE = {"integer": "an integer", "number": "a number", "boolean": "true or false", "list": "a list of strings",
            "date": "a date (YYYY-MM-DD)", "string": "a string"}


#: The kinds of setting whose TOML value must not be a string (a date and a list still take one: ``2026-01-31`` and
#: ``"2026-01-31"``, ``["a", "b"]`` and ``"a,b"`` are the same value, and README's examples quote them).
_STRICT_TOML_KINDS = ("integer", "number", "boolean")
#: How a value of each strict kind is written in TOML, for a hint when the string given does not parse.
_TOML_EXAMPLE = {"integer": "10", "number": "30", "boolean": "true"}


def _quoted_in_toml(setting: Setting, raw: str, origin: str) -> str:
    """The one-line error for a number or boolean written as a TOML string: what it should have been, and the line
    to write instead (the value without quotes when it parses, else an example of the kind)."""
    key = setting.name
    why = ""
    try:
        parsed = setting.parse(raw)
    except ValueError as exc:  # what is wrong besides the quotes: ``page_limit = "99"`` is out of range; not a
        # boolean's (its "also on/off, yes/no, 1/0" are the variable's spellings, which the file does not take)
        parsed, why = None, "" if setting.kind == "boolean" else f" ({exc})"
    if not raw.strip():  # an empty string is how a variable unsets a setting; a file leaves the key out
        hint = f"leave {key} out to use its default, or write {_ARTICLE[setting.kind]} without quotes"
    elif parsed is None or setting.secret:
        example = setting.default if type(setting.default) in (int, float) else _TOML_EXAMPLE[setting.kind]
        hint = f"write {_ARTICLE[setting.kind]} without quotes, e.g. {key} = {_toml_number(example)}{why}"
    elif isinstance(parsed, bool):
        hint = f"write {key} = {'true' if parsed else 'false'}"
    else:
        hint = f"write {key} = {_toml_number(parsed)}"
    shown = "" if setting.secret else f" ({_toml_string(raw)})"
    return f"{origin} is invalid: expected {_ARTICLE[setting.kind]}, got a string{shown}; {hint}"


def _toml_number(value: Any) -> str:
    """A number as the config file would hold it: ``30``, not ``30.0``."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are TOML's), as the file spells it."""
    import json

    return json.dumps(text, ensure_ascii=False)


def _toml_type(raw: Any) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, (int, float)):
        return "a number"
    if isinstance(raw, _date):
        return "a date"
    return {"list": "a list", "dict": "a table"}.get(type(raw).__name__, f"a {type(raw).__name__}")


def _parse(setting: Setting, raw: Any, origin: str, *, from_toml: bool = False) -> Any:
    """Validate one value. TOML values arrive typed (``42``, ``true``, lists, dates) and must fit the setting's
    kind (a string setting takes no ``true`` or ``5``); strings go through the same checks as those from the
    environment. A secret's value is never repeated in the message.

    ``from_toml``: ``raw`` is a value of the config file, where a number or a boolean is written as one: a string
    there (``request_timeout = "30"``) is refused (:func:`_quoted_in_toml`), as README says of a TOML value of the
    wrong type. The Airflow Variable's values share the rest of this path but take a string for any setting,
    parsed as the environment variable's (README, "Airflow"), as do the options and the Python API's arguments."""
    if from_toml and isinstance(raw, str) and setting.kind in _STRICT_TOML_KINDS:
        raise ConfigError(_quoted_in_toml(setting, raw, origin))
    value = _parse_value(setting, raw, origin)
    if value is not None and setting.check is not None and (problem := setting.check(value)):
        raise ConfigError(f"{origin} is invalid: {problem}")
    return value


def _parse_value(setting: Setting, raw: Any, origin: str) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        kind = setting.kind
        if kind == "list" and isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        allowed = _TOML_TYPES[kind]
        if not isinstance(raw, allowed) or (isinstance(raw, bool) and bool not in allowed):
            shown = "" if setting.secret or isinstance(raw, (list, dict)) else f" ({_toml_text(raw)})"
            raise ConfigError(f"{origin} is invalid: expected {_ARTICLE[kind]}, got {_toml_type(raw)}{shown}. "
                              f"{_help_for(setting, origin)}")
        raw = _toml_text(raw)
    try:
        return setting.parse(raw)
    except ValueError as exc:
        detail = "the value cannot be parsed" if setting.secret else str(exc)
        help_text = "" if isinstance(exc, HintedValueError) else f" {_help_for(setting, origin)}"
        raise ConfigError(f"{origin} is invalid: {detail}.{help_text}") from None


def _help_for(setting: Setting, origin: str) -> str:
    """The setting's help as an error about its value set at ``origin`` ends with it; the privacy setting's adds
    how to turn it off there, in the values that place takes (was always "requires an explicit
    FEDISCOPE_PRIVACY=off", also for the Airflow Variable's key or the config file's, which take ``false``)."""
    if setting.name != "privacy":
        return setting.help
    if origin == setting.env:
        off = f"{setting.env}=off (or false, no, 0)"
    elif origin.startswith("Airflow Variable ") and origin.endswith(f": {setting.name}"):
        variable = origin.removesuffix(f": {setting.name}")
        off = f'"{setting.name}": false in the {variable} (or a string: "off", "false", "no", "0")'
    elif origin.endswith(f": [fediscope] {setting.name}"):  # the config file's key (_file_origin): a TOML boolean
        off = f"{setting.name} = false under [fediscope] of {origin.removesuffix(f': [fediscope] {setting.name}')}"
    elif origin == f"the {setting.name!r} argument":  # fediscope.python_api.settings(privacy=…)
        off = f'{setting.name}=False (or "off", "no", "0")'
    else:  # anything else is parsed as the variable's text
        off = f"false value at {origin} (false, off, no or 0)"
    return f"{setting.help} Turning it off requires an explicit {off}."


#: What :func:`load_settings` is given to hear of a setting whose value names something that cannot be used now
#: (``origin`` — the variable, TOML key or option it came from — and the problem), instead of refusing it.
Unusable = Callable[[str, str], None]


def _check_usable(wanted: Iterable[Setting], values: Mapping[str, Any], origin_of: Mapping[str, str],
                  unusable: Unusable | None) -> None:
    """Check what the parsed values of ``wanted`` name (:attr:`Setting.usable`), as they stand once every source is
    read: a problem is a ConfigError worded as a parse error, or passed to ``unusable`` when given. A value set
    from code (an override without an origin) is taken as given, as it is not parsed either."""
    for setting in wanted:
        origin = origin_of.get(setting.name)
        if setting.usable is None or origin is None:
            continue
        if problem := setting.usable(values.get(setting.name)):
            if unusable is None:
                raise ConfigError(f"{origin} is invalid: {problem}. {_help_for(setting, origin)}")
            unusable(origin, problem)


def _toml_text(raw: Any) -> str:
    """A typed TOML value as it would be written in an environment variable (``true``, ``5``, ``2026-01-31``)."""
    return str(raw).lower() if isinstance(raw, bool) else str(raw)


def _file_origin(path: Path, name: str) -> str:
    """How a message names setting ``name`` set in the config file at ``path``: ``fediscope.toml: [fediscope] lake``."""
    return f"{path}: [fediscope] {name}"


TOML_TABLES = ("fediscope", "tokens", "sources")
SOURCE_KEYS = ("instance", "timelines")


def _toml_document(path: Path, origin: str = "", chosen_by: str | None = None) -> dict[str, Any]:
    """The file as TOML, unchecked; ConfigError when it cannot be read (naming ``origin``, `` (FEDISCOPE_CONFIG)``
    when that variable named the file, as the error of a missing one does, and with the fix pointing ``chosen_by``,
    what named the file, elsewhere) or is not TOML.

    Its bytes are read as the environment's are (``os.fsdecode``: the file system's encoding, UTF-8 on a UTF-8
    locale and under ``LC_ALL=C``): a value names the same file as the same bytes in ``FEDISCOPE_LAKE`` would. As
    UTF-8 whatever the locale, a non-ASCII lake path could not be opened under a Latin-1 or ASCII locale (a
    traceback); as the locale's text encoding (``read_text()``), any non-ASCII byte made the file "not valid TOML"
    under an ASCII one."""
    try:
        return tomllib.loads(os.fsdecode(path.read_bytes()))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:  # a directory, no permission
        fix = f"; point {chosen_by} at a readable TOML file" if chosen_by else ""
        raise ConfigError(f"cannot read config file {path}{origin}: {exc.strerror or exc}{fix}") from None


def _read_toml(path: Path, origin: str = "", chosen_by: str | None = None) -> dict[str, Any]:
    document = _toml_document(path, origin, chosen_by)
    unknown = [k for k in document if k not in TOML_TABLES]
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(map(repr, unknown))}; settings go under "
                          "[fediscope], tokens under [tokens], sources under [[sources]]")
    for name, kind in (("fediscope", dict), ("tokens", dict), ("sources", list)):
        if name in document and not isinstance(document[name], kind):
            shape = f"[[{name}]] (an array of tables)" if kind is list else f"a [{name}] table"
            raise ConfigError(f"{path}: {name!r} must be {shape}")
    return document


def _known_settings_hint(key: str) -> str:
    """What an unknown ``[fediscope]`` key is most likely meant to be (``backfill_page`` → ``backfill_pages``), or,
    when none is close, every known setting."""
    close = difflib.get_close_matches(key.lower(), list(_BY_NAME), n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(_BY_NAME)}"


def checked_source(source: Any, where: str, *, check_values: bool = True) -> SourceSpec:
    """One ``[[sources]]`` entry of ``fediscope.toml`` (or of the Airflow Variable's ``sources``, whose ``where``
    names it) as a :class:`SourceSpec`, refused in one line naming the entry: an unknown key (a typo such as
    ``timeline`` collected the public timeline instead), no instance, an empty or non-list ``timelines``. With
    ``check_values`` the instance and each timeline are checked too (the Airflow Variable leaves those to the
    ingest task, so a bad hashtag fails that task only)."""
    if not isinstance(source, Mapping):
        raise ConfigError(f"{where} must be a table with 'instance' and 'timelines'")
    unknown = [k for k in source if k not in SOURCE_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; known: "
                          f"{', '.join(SOURCE_KEYS)}")
    if source.get("instance") is not None and not isinstance(source["instance"], str):  # was: "has no 'instance'"
        raise ConfigError(f"{where}: 'instance' must be a string, the instance's address (e.g. instance = "
                          f"\"https://mastodon.social\"), got {source['instance']!r}")
    if not isinstance(source.get("instance"), str) or not source["instance"].strip():
        raise ConfigError(f"{where} has no 'instance' (e.g. instance = \"https://mastodon.social\")")
    timelines = source.get("timelines", ["public"])
    if not isinstance(timelines, list) or not all(isinstance(t, str) for t in timelines):
        raise ConfigError(f"{where}: 'timelines' must be a list of strings")
    if not timelines:  # was: an entry that silently collected nothing
        raise ConfigError(f"{where}: 'timelines' is empty, so nothing would be collected from "
                          f"{source['instance'].strip()}: list what to collect (left out, it is [\"public\"]), "
                          "or remove the entry")
    if check_values:
        try:
            instance_base_url(source["instance"])  # the address collect connects to: a domain, http(s) only
            for timeline in timelines:  # a typo fails here (and in `config check`), not at the next collection
                parse_source(timeline)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return SourceSpec(instance=source["instance"], timelines=tuple(timelines))


def _toml_sources(path: Path, document: dict[str, Any]) -> list[SourceSpec]:
    return [checked_source(source, f"{path}: [[sources]] entry {i}")
            for i, source in enumerate(document.get("sources", []), 1)]


def _list_hint(instance: str) -> str:
    """For an allowlist entry that holds ``;`` or several hosts apart by whitespace (``a.example;b.example``,
    ``a.example b.example``): that the list is comma-separated, written out when every part is an instance
    address with a dot or a port (``not a url`` is not three hosts); else nothing."""
    parts = [part for part in re.split(r"[;\s]+", instance) if part]
    hosts = []
    for part in parts:
        with contextlib.suppress(ConfigError):
            if instance_domain(part) and ("." in part or ":" in part):
                hosts.append(part)
    if ";" not in instance and not len(hosts) == len(parts) > 1:
        return ""
    example = ",".join(hosts) if parts and len(hosts) == len(parts) else "a.example,b.example"
    return f"; the list is comma-separated: FEDISCOPE_INSTANCES={example}"


#: ``toml_path`` of a caller that reads a config file only when it names one: False
TomlPath = str | Path | Literal[False] | None


#: What names the config file when it is not ``./fediscope.toml``, as its errors say (the commands read it)
CONFIG_VARIABLE = "FEDISCOPE_CONFIG"


def _config_path(env: Mapping[str, str], toml_path: TomlPath,
                 chosen_by: str | None = None) -> tuple[Path, str, str | None] | None:
    """The config file to read, how its errors name where it was named after its path (`` (FEDISCOPE_CONFIG)``,
    else empty), and what a fix would point at another file (None for ``./fediscope.toml``, found by itself):
    ``toml_path`` (named by ``chosen_by``: the caller's own argument, as ``the 'config_file' argument`` of
    :mod:`fediscope.python_api`), else ``FEDISCOPE_CONFIG``, else ``./fediscope.toml`` if it exists (None if it
    does not); ConfigError when a named file does not exist. ``toml_path=False`` reads none, whatever
    the current directory holds: settings built in code (:mod:`fediscope.python_api`) must not change with the
    directory a notebook was started in."""
    if toml_path is False:
        return None
    explicit = toml_path or env.get(CONFIG_VARIABLE)
    path = Path(explicit or "fediscope.toml")
    origin = f" ({CONFIG_VARIABLE})" if explicit and not toml_path else ""
    named_by = (chosen_by or CONFIG_VARIABLE) if toml_path else CONFIG_VARIABLE if explicit else None
    if path.exists():
        return path, origin, named_by
    if explicit:
        raise ConfigError(f"config file {path}{origin} does not exist; create it or point {named_by} "
                          "at an existing file")
    return None


def load_settings_only(names: Iterable[str], env: Mapping[str, str] | None = None,
                       toml_path: TomlPath = None) -> Settings:
    """Settings with only ``names`` read, from the config file's ``[fediscope]`` table and then ``FEDISCOPE_*``
    variables as :func:`load_settings` reads them (same parsing, same messages naming the variable or the key);
    every other setting keeps its default, and nothing else in the environment or the file is looked at.

    For what must be read where a problem with an unrelated setting must not stop it: the Airflow DAG files
    read their timeouts so when Airflow parses them (:func:`fediscope.orchestration.dag_timeouts`). A config
    file that cannot be read as TOML is still an error (what it sets for ``names`` is unknown)."""
    env = os.environ if env is None else env
    wanted = [_BY_NAME[name] for name in names]
    values: dict[str, Any] = {}
    origin_of: dict[str, str] = {}
    config = _config_path(env, toml_path)
    if config is not None:
        path, named_in, chosen_by = config
        table = _toml_document(path, named_in, chosen_by).get("fediscope", {})
        if isinstance(table, dict):
            for setting in wanted:
                if setting.name in table:
                    origin_of[setting.name] = _file_origin(path, setting.name)
                    values[setting.name] = _parse(setting, table[setting.name], origin_of[setting.name],
                                                  from_toml=True)
    for setting in wanted:
        if setting.env in env:
            origin_of[setting.name] = setting.env
            values[setting.name] = _parse(setting, env[setting.env], setting.env)
    _check_usable(wanted, values, origin_of, None)
    return Settings(**values, origins=origin_of, config_file=config[0] if config else None)


def load_settings(env: Mapping[str, str] | None = None, toml_path: TomlPath = None, *,
                  origins: Mapping[str, str] | None = None, unusable: Unusable | None = None,
                  **overrides: Any) -> Settings:
    """Build the settings from defaults, then ``fediscope.toml``, then ``FEDISCOPE_*``, then overrides.

    ``origins`` names where an override came from, e.g. ``{"lake": "--lake"}`` for a command-line option: such
    an override is validated like the environment's value, and an error names the option (an error about a
    value from the environment names the variable, one from the file its TOML key); its ``config_file`` names
    where ``toml_path`` came from, for the errors about that file (default: ``FEDISCOPE_CONFIG``). ``toml_path``:
    the config file to read, else ``FEDISCOPE_CONFIG``'s, else ``./fediscope.toml`` when there is one; ``False``:
    none.

    A well-formed value naming something that cannot be used now (:attr:`Setting.usable`: a
    ``FEDISCOPE_METRICS_DIR`` that does not exist) is refused as an invalid one, unless ``unusable`` is given: it
    is then told (the origin and the problem) and the value is kept as set. Only for a command that does not use
    that setting beyond a hint: ``gdpr erase`` and ``gdpr export`` never read the metric files.
    """
    env = os.environ if env is None else env
    origins = origins or {}
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    origin_of: dict[str, str] = {}
    tokens: dict[str, str] = {}
    sources: list[SourceSpec] = []
    in_file: dict[str, tuple[str, Any]] = {}  # what the file sets: name → (its origin, its TOML value)

    config = _config_path(env, toml_path, origins.get("config_file"))
    if config is not None:
        path, named_in, chosen_by = config
        document = _read_toml(path, named_in, chosen_by)
        for key, raw in document.get("fediscope", {}).items():
            if key not in _BY_NAME:
                raise ConfigError(f"{path}: unknown setting [fediscope] {key!r}; {_known_settings_hint(key)}")
            origin_of[key] = _file_origin(path, key)
            in_file[key] = (origin_of[key], raw)
            values[key] = _parse(_BY_NAME[key], raw, origin_of[key], from_toml=True)
        named_by: dict[str, str] = {}
        for instance, token in document.get("tokens", {}).items():
            if not isinstance(token, str):
                raise ConfigError(f"{path}: [tokens] {instance!r} must be a string (the instance's access token)")
            try:
                key = _token_key(instance)
            except ConfigError as exc:
                raise ConfigError(f"{path}: [tokens] {instance!r}: {exc}") from None
            if key in tokens and tokens[key] != token:  # never the values: they are secrets
                raise ConfigError(f"{path}: [tokens] {named_by[key]!r} and {instance!r} name the same instance "
                                  "with different tokens; keep one")
            tokens[key], named_by[key] = token, instance
        sources = _toml_sources(path, document)

    for setting in SETTINGS:
        if setting.env in env:
            origin_of[setting.name] = setting.env
            values[setting.name] = _parse(setting, env[setting.env], setting.env)
    for key, names in token_variables(env).items():  # over the file's [tokens]
        if len({env[name] for name in names}) > 1:  # never the values: they are secrets
            raise ConfigError(f"{' and '.join(names)} set the token of the same instance to different values; "
                              "keep one")
        tokens[key] = env[names[0]]
    for key, value in overrides.items():
        if key not in _BY_NAME and key not in {"tokens", "sources"}:
            raise ConfigError(f"unknown setting {key!r}; {_known_settings_hint(key)}")
        if key in origins:
            origin_of[key] = origins[key]
            values[key] = _parse(_BY_NAME[key], value, origins[key])
        else:
            origin_of.pop(key, None)
            values[key] = value
    _check_usable(SETTINGS, values, origin_of, unusable)
    if "tokens" not in overrides:
        values["tokens"] = tokens
    if "sources" not in overrides:
        values["sources"] = tuple(sources)
    if str(values["log_level"]).upper() not in LOG_LEVELS:  # an override from code (parsed values are checked)
        raise ConfigError(f"FEDISCOPE_LOG_LEVEL is invalid: {values['log_level']!r}; "
                          "expected DEBUG, INFO, WARNING or ERROR")
    for source in values["sources"]:
        instance_domain(source.instance)
    for instance in values["instances"]:
        try:
            instance_domain(instance)
        except ConfigError as exc:
            where = origin_of.get("instances", _BY_NAME["instances"].env)
            raise ConfigError(f"{where} is invalid: {exc}{_list_hint(instance)}") from None
    overridden = {name: was for name, was in in_file.items() if origin_of.get(name) != was[0]}
    return Settings(**values, origins=origin_of, config_file=config[0] if config else None, overridden=overridden)
