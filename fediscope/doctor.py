"""``fediscope doctor``: is every configured service reachable and usable, and if not, what to do about it.

Each check returns a :class:`Check` (OK, WARN or FAIL, what was found, and the fix). Checks never raise: an
unexpected error becomes a FAIL naming it, so one broken service never hides the others. Nothing secret is ever
shown: settings marked secret are reported as set/unset/weak only, URLs lose their passwords, and every line is
scrubbed of the configured secret values before it leaves this module (a library's error message might quote
one).

The checks and what they do:

* ``lake`` — FAILs a lake path that is a file, in the words of every other command's refusal
  (:func:`fediscope.lake.backend.not_a_directory`); else writes, reads back and deletes a small probe file under
  ``_doctor/`` (proves write permission and, on HDFS, that both the namenode and the datanodes are reachable); on
  a local lake it WARNs about temporary files that interrupted writes left behind (:mod:`fediscope.lake.debris`;
  not on HDFS, where finding them takes a request per directory); on HDFS it WARNs about a lake at the file
  system's root (a URL with no directory: :func:`fediscope.lake.backend.hdfs_root_warning`), as ``config check``
  does; otherwise it WARNs about a directory that is no lake (it holds none of ``raw/``, ``curated/``,
  ``quarantine/``, ``_state/``, ``_audit/``, yet is not empty: the directory above the lake, one holding hidden files
  only), which ``gdpr erase``/``export``/``retention`` and ``store drop`` refuse
  (:func:`fediscope.lake.backend.holds_lake_layout`), naming the lake directly below it when there is one;
* ``lake_lock`` — (only while the lake lock ``_state/process.lock`` is held: :func:`check_lake_lock`) WARN naming its
  holder (command, pid, host, start time), its age and ``fediscope lake unlock`` when this host cannot tell whether
  the holder still runs (another host's, or a lock file naming no process): such a lock is never taken over, and
  ``process``, ``gdpr erase``, ``gdpr export`` and ``gdpr retention`` fail at once until it is removed; OK when its
  holder runs on this host, or is known gone (the next run takes it over);
* ``curation`` — (for a lake with curated tables only) reads the curated manifest alone: WARN when the curated
  tables were made by other curation rules than this fediscope's (an upgrade changed them; ``fediscope process``
  warns the same, ``rules_changed``), with the fix ``fediscope process --recurate``; FAIL when the manifest cannot be
  read (``process`` stops on it too);
* ``store`` — opens the store and lists the metrics it holds (a read round trip; doctor writes nothing
  into a store, so no probe table appears in BI tools); a SQLite file that does not exist yet is not created,
  only checked to be creatable, and an in-memory SQLite store FAILs (it keeps nothing); a table named as a
  metric's that no catalog entry lists and no SQL file defines (left by an interrupted write) WARNs, naming it and
  ``fediscope store drop NAME``, which removes it; a metric the catalog lists whose table is missing (dropped by
  hand; on HBase its data or rank table), which every read of it fails on, FAILs, naming the table and
  ``fediscope process``, which writes the metric again (or ``fediscope store drop NAME`` when no SQL file defines
  it);
* ``engine`` — DuckDB importable and working; for Spark: pyspark importable, Java 17+ on PATH, and a cluster
  master accepting TCP connections as ``process`` probes it before it starts the JVM
  (:func:`fediscope.engine.spark_engine.unreachable_master`: one of a ``spark://`` URL's masters, a ``k8s://``
  URL's API server; nothing for ``yarn``);
* ``spark_lake`` — (only where ``FEDISCOPE_SPARK_LAKE_URI`` is set and the lake is usable) whether it names the
  lake's directory, as far as that is told without a JVM (:func:`check_spark_lake`): a ``file:`` URI must hold the
  lake's top-level directories, an ``hdfs://`` one for a WebHDFS lake must name its path (FAIL otherwise); any
  other is WARNed as left to the check ``process`` makes when Spark starts;
* ``metrics`` — reads every metric file (``spark_jobs/sql/`` and ``FEDISCOPE_METRICS_DIR``) as ``process`` and
  ``serve-api`` do, and has DuckDB bind each one's SQL to empty curated tables of the real schemas (no lake
  needed, no row read, a few milliseconds a metric): FAIL naming every file that does not define a metric (a
  missing header line, two SQL statements, …) or whose SQL ``process`` would stop at (a syntax error, an unknown
  table, column or function, a statement that is no query, a ``-- key:``/``-- rank:`` column the result lacks),
  one per line with the error, or an own file named as a built-in metric (and, on a line of its own, a file not
  read, as the WARN names it), or a result wider than the configured store's table holds; WARN naming a file that
  is not read (``.SQL`` in capitals); OK with the number of metrics and the directories read;
* ``api_key`` / ``pseudonym_key`` — set or not; a common default value FAILs, a short or simple one WARNs
  (the rules of ``fediscope config check``, which lists every secret finding); a pseudonym key that is not the
  one the lake was landed with (its key check in ``_state/``, :mod:`fediscope.lake.key_check`) FAILs;
* ``tokens`` — (when an instance or a token is configured) which configured instances (``[[sources]]`` and
  ``FEDISCOPE_INSTANCES``) have an access token; a token that cannot be sent as written (empty, whitespace, a
  control or non-ASCII character: :func:`fediscope.config.token_problem`) or a common default value FAILs, a
  short or simple one WARNs, and so does a token of an instance no source or allowlist entry names (a mistyped
  ``FEDISCOPE_TOKEN_…`` variable is never used). Tokens are never shown, only where they are set;
* ``instance <domain>`` — ``GET /api/v1/instance`` on each configured instance, with a short timeout;
* ``variables`` — (only when there is one) WARN naming each ``FEDISCOPE_*`` variable nothing reads, with the
  setting it probably meant (``fediscope config check``'s finding, :func:`fediscope.config_check.unknown_variables`):
  a mistyped setting is left at its default.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

import requests

from fediscope.config import (
    API_KEY_COMMAND,
    PSEUDONYM_KEY_COMMAND,
    TOKEN_PREFIX,
    Settings,
    instance_base_url,
    instance_domain,
    set_to,
    token_env_name,
    token_key,
    token_label,
    token_problem,
)
from fediscope.config_check import MIN_API_KEY, MIN_PSEUDONYM_KEY, MIN_TOKEN, unknown_variables, weakness
from fediscope.console import printable
from fediscope.errors import ConfigError, FediscopeError, PrefixClashError, one_line
from fediscope.redact import redact_text, redact_url, secret_values
from fediscope.sources.client import USER_AGENT, refused_hint, tls_failure, tls_hint, user_agent
from fediscope.wording import count

if TYPE_CHECKING:
    from fediscope.lake.backend import LakeBackend

log = logging.getLogger(__name__)

OK, WARN, FAIL = "OK", "WARN", "FAIL"
PROBE_DIR = "_doctor"


@dataclass(frozen=True)
class Check:
    """One line of the report: ``status`` is OK, WARN or FAIL; ``fix`` says what to do (empty when OK)."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# -- lake ---------------------------------------------------------------------------------------------------


def check_lake(settings: Settings) -> Check:
    from fediscope.lake.backend import hdfs_root_warning, not_a_directory, open_lake

    started = time.monotonic()
    lake = open_lake(settings.lake)
    if not lake.is_dir("") and lake.exists(""):  # as every other command says it (was: the probe's write error,
        # and on HDFS a fix about the namenode address, the datanodes and ownership)
        return Check("lake", FAIL, *not_a_directory(redact_url(lake.url), settings.origin("lake", advice=True)))
    where = redact_url(lake.url) + _implicit_hdfs_user(lake, settings.origin("lake"))
    probe = f"{PROBE_DIR}/probe-{uuid.uuid4().hex[:12]}.txt"
    payload = f"fediscope doctor {uuid.uuid4().hex}\n".encode()
    created: list[Path] = []  # local directories the probe creates: removed again (doctor leaves nothing behind)
    root = getattr(lake, "root", None)
    if isinstance(root, Path):
        created = [d for d in (root / PROBE_DIR, *(root / PROBE_DIR).parents) if not d.exists()]
    lake.write_atomic(probe, payload)
    try:
        if lake.read(probe) != payload:
            return Check("lake", FAIL, f"{where}: the probe file read back differs from what was written",
                         "check the storage for corruption or a proxy rewriting responses")
    finally:
        lake.delete(probe)
    if lake.exists(probe):
        return Check("lake", FAIL, f"{where}: the probe file is still there after deletion",
                     "check that the lake user may delete files")
    try:
        lake.delete(PROBE_DIR)
    except Exception:  # noqa: BLE001 - a leftover empty directory is harmless
        log.debug("could not remove %s/%s", where, PROBE_DIR)
    for directory in created:  # innermost first; only while empty (something else may have written there)
        with contextlib.suppress(OSError):
            directory.rmdir()
    if created and root is not None and not root.exists():  # the probe's directories removed again (was: "wrote,
        # read and deleted a probe file …; the lake is not created yet", which read as a contradiction)
        return Check("lake", OK, f"{where}: not created yet; the location is writable (a probe file was written "
                     f"there, read back and removed with its directories, {time.monotonic() - started:.2f} s): the "
                     "first `fediscope collect` creates the lake")
    detail = f"{where}: wrote, read and deleted a probe file ({time.monotonic() - started:.2f} s)"
    if at_root := hdfs_root_warning(settings.lake):  # a warning, not a refusal: see its docstring
        warning, fix = at_root
        return Check("lake", WARN, f"{detail}; {warning}", f"{fix} ({settings.origin('lake')})")
    # before the temporary files: their fix, `gdpr retention`, refuses a directory that is no lake
    return _no_lake(lake, settings, detail) or _stale_temporary_files(lake, detail) or Check("lake", OK, detail)


#: The commands that refuse a lake directory that is no lake (:func:`fediscope.lake.backend.require_lake_layout`).
NO_LAKE_REFUSED_BY = "`fediscope gdpr erase`, `gdpr export`, `gdpr retention` and `store drop` refuse it"


def _no_lake(lake: LakeBackend, settings: Settings, detail: str) -> Check | None:
    """A WARN when the lake's directory exists but is no lake (:func:`fediscope.lake.backend.holds_lake_layout`: the
    directory above the lake, a home directory, one holding hidden files only), naming a lake found directly below it
    (None otherwise). A warning, not a FAIL: ``collect`` lands there (and makes it a lake), while the commands of
    :data:`NO_LAKE_REFUSED_BY` refuse it and ``process`` finds no data in it."""
    from fediscope.lake.backend import holds_lake_layout, lakes_below, no_lake_directories, url_below

    if holds_lake_layout(lake):
        return None
    origin = settings.origin("lake", advice=True)
    why = no_lake_directories()
    below = [url_below(redact_url(lake.url), path) for path in lakes_below(lake)]
    if below:
        fix = f"point {origin} at the lake in it: {' or '.join(below)}"
    elif not lake.list(""):  # hidden files only (a .DS_Store): no lake holds those alone
        hidden_files = [entry.path for entry in lake.walk_hidden("")]
        shown = f" ({hidden_files[0]}{', …' if len(hidden_files) > 1 else ''})" if hidden_files else ""
        why += f", only {count(len(hidden_files), 'hidden file')}{shown}"
        fix = (f"point {origin} at the lake's own directory; for a new lake there, remove the hidden files or run "
               "`fediscope collect`, which makes it a lake")
    else:
        fix = f"point {origin} at the lake's own directory, or at a new or empty one for a new lake"
    return Check("lake", WARN, f"{detail}; but it is no lake: {why}, so {NO_LAKE_REFUSED_BY} and `process` finds "
                 "no data in it", fix)


def _implicit_hdfs_user(lake: LakeBackend, origin: str) -> str:
    """``, as HDFS user NAME, the local login name (…)`` for a WebHDFS lake whose URL names no user, else ``''``.
    That user differs between the machines that run fediscope (an Airflow worker, a NiFi host), which a probe
    that works from here does not show. ``origin``: where the lake's URL was set (a WebHDFS lake is no default)."""
    if getattr(lake, "user_from_url", True):
        return ""
    return f", as HDFS user {lake.user}, the local login name (no ?user= in {origin})"  # type: ignore[attr-defined]


def _stale_temporary_files(lake: LakeBackend, detail: str) -> Check | None:
    """A WARN when a local lake holds temporary files of interrupted writes a day old or older (None otherwise).
    Skipped on a remote lake: walking it costs one WebHDFS request per directory, too slow for a health check."""
    from fediscope.lake.debris import STALE_AFTER_SECONDS, format_bytes, stale_temporary_files

    if lake.local_path("") is None:
        return None
    stale = stale_temporary_files(lake)
    if not stale:
        return None
    size = format_bytes(sum(e.size for e in stale))
    return Check("lake", WARN, f"{detail}; {count(len(stale), 'temporary file')} ({size}) left by interrupted writes, "
                 f"older than {STALE_AFTER_SECONDS // 3600} h, e.g. {stale[0].path}",
                 "`fediscope gdpr retention` removes them (the fediscope_maintenance DAG runs it daily; "
                 "`--dry-run` first lists everything it would delete)")


#: What stops while the lake lock is held: every run that takes it (:mod:`fediscope.lake.lock`).
LOCKED_OUT = "`fediscope process`, `gdpr erase`, `gdpr export` and `gdpr retention` on this lake fail at once"
LAKE_LOCK_FIX = "check that the lake's _state/ directory and the lock file in it can be read"


def check_lake_lock(settings: Settings, now: datetime | None = None) -> Check | None:
    """The lake lock (``_state/process.lock``, :mod:`fediscope.lake.lock`): None when it is not held. OK when its
    holder runs on this host (a run under way: the others fail at once until it ends), or is known gone (the next
    run takes the lock over, as :func:`~fediscope.lake.lock.lake_lock` does); WARN when this host cannot tell (a
    holder of another host, a lock file naming no process), since such a lock is never taken over: every run that
    needs it fails until it is removed by hand. A WARN, not a FAIL: another Airflow worker's batch holds the lock
    just so while it runs. ``now`` (UTC) is what the lock's age is counted from."""
    from fediscope.lake.backend import open_lake
    from fediscope.lake.lock import age_seconds, age_text, lock_status, shown_path

    lake = open_lake(settings.lake)
    status = lock_status(lake)
    if status is None:
        return None
    now = now or datetime.now(UTC)
    here = socket.gethostname()
    where = shown_path(lake, status.path)
    holder = status.holder
    seconds = age_seconds(holder.started_at, now)
    if seconds is None:  # no start time recorded: its age is unknown
        held_for = ""
    elif seconds < 0:
        held_for = " (its start time is ahead of this host's clock)"
    else:
        held_for = f", for {age_text(seconds)}"
    jobs = [job.describe() for job, state in status.jobs if state != "gone"]
    under = f"; running under it: {'; '.join(jobs)}" if jobs else ""
    if status.taken_over:
        return Check("lake_lock", OK, f"{where}: left by {holder.describe()}, which no longer runs on this host "
                     f"({here}): the next run takes it over")
    if status.running:
        running = "; ".join(who.describe() for who in status.running)
        return Check("lake_lock", OK, f"{where}: held by a running {running}{held_for}, on this host: until it ends "
                     f"{LOCKED_OUT}")
    if holder.pid is not None and holder.host and holder.host != here:
        why = f"this host ({here}) cannot tell whether pid {holder.pid} still runs on {holder.host}"
        fix = (f"if pid {holder.pid} no longer runs on {holder.host}, run `fediscope lake unlock` (it shows the lock "
               "and removes it); if it still runs, wait for it to finish")
    elif status.state == "gone":  # its holder is gone, a job recorded under it cannot be checked from here
        why = f"its holder has ended, but this host ({here}) cannot tell whether the jobs under it have"
        fix = ("once those jobs are known to be gone, run `fediscope lake unlock` (it shows the lock and removes it); "
               "while they run, wait for them to finish")
    else:  # no pid or host recorded, or not readable JSON
        why = "the lock file does not say which process holds it"
        fix = ("if no fediscope run is using this lake, run `fediscope lake unlock` (it shows the lock and removes "
               "it); else wait for that run to finish")
    return Check("lake_lock", WARN, f"{where}: held by {holder.describe()}{held_for}{under}; {why}, so no run takes "
                 f"it over: until it is removed, {LOCKED_OUT}", fix)


def _lake_fix(settings: Settings) -> str:
    """The fix of a lake check that raised, naming where the lake is set (``FEDISCOPE_LAKE``, the config file's key,
    the Airflow Variable's: :meth:`~fediscope.config.Settings.origin`), or for the default lake both places that set
    it, as the collection summary's notes name the settings they advise (was: the variable alone, which a user who
    configures fediscope in ``fediscope.toml`` does not set)."""
    where = settings.origin("lake", advice=True)
    if urlsplit(settings.lake).scheme in {"webhdfs", "hdfs"}:
        return (f"check the namenode address in {where} (webhdfs://namenode:9870/path?user=NAME), that the "
                "datanodes are reachable from here, and that the user owns the path (infra/hdfs/create_layout.py "
                "of fediscope's source repository creates it)")
    return f"set {where} to a directory this user can write (or file:///path, webhdfs://namenode:9870/path)"


# -- curation rules ---------------------------------------------------------------------------------------


#: The fix of a curated manifest that cannot be read (its error names the file); ``process`` stops on it too.
CURATION_FIX = ("restore the curated manifest from a backup, or delete it: the next `fediscope process` curates "
                "every raw file again (the same result, only slower)")
RECURATE_FIX = ("`fediscope process --recurate` rebuilds every curated table from the raw lake by this fediscope's "
                "rules (until then `process` goes on incrementally, and the rows curated before keep the old rules)")


def check_curation(settings: Settings) -> Check | None:
    """Whether the curated tables were made by this fediscope's curation rules, as the curated manifest records
    them (:mod:`fediscope.engine.manifest`); None without a lake or a manifest (nothing curated yet). Reads the
    manifest alone: the same comparison ``fediscope process`` warns about (``rules_changed``). A manifest that
    cannot be read raises its :class:`~fediscope.errors.LakeError`, which names the fix: ``process`` stops on it."""
    from fediscope.engine.curate_sql import rules_fingerprint
    from fediscope.engine.manifest import MANIFEST_PATH, load_manifest
    from fediscope.lake.backend import open_lake

    lake = open_lake(settings.lake)
    if not lake.exists(MANIFEST_PATH):
        return None
    manifest, rules = load_manifest(lake), rules_fingerprint()
    if manifest.files and manifest.rules != rules:
        made_by = f"rules {manifest.rules}" if manifest.rules else "rules not recorded (an older fediscope)"
        return Check("curation", WARN, f"the curated tables were made by other curation rules ({made_by}; this "
                     f"fediscope's are {rules}): an upgrade changed how raw records are curated", RECURATE_FIX)
    return Check("curation", OK, f"the curated tables were made by this fediscope's curation rules ({rules})")


# -- store --------------------------------------------------------------------------------------------------


def check_store(settings: Settings) -> Check:
    where = redact_url(settings.store)
    try:
        from fediscope.store.port import require_persistent, store_from_settings
        from fediscope.store.sqlite import sqlite_file

        path = sqlite_file(settings.store)
        if path is not None and not path.exists():  # opening it would create it: say whether `process` can
            return _missing_sqlite(where, path, settings.origin("store", advice=True))
        require_persistent(settings.store, settings.origin("store"))
        store = store_from_settings(settings, read_only=True)  # a read: creates no catalog, needs no CREATE right
    except ImportError as exc:
        return Check("store", FAIL, f"{where}: the store adapter cannot be loaded ({exc})",
                     "install fediscope with its dependencies (pip install -r requirements.txt -e .), or set "
                     f"{settings.origin('store', advice=True)} to sqlite:///fediscope.db")
    except PrefixClashError as exc:  # the store is fine, the prefix is not: no leftovers to drop either
        return Check("store", FAIL, str(exc), prefix_clash_fix(settings))
    except ConfigError as exc:
        return Check("store", FAIL, f"{where}: {exc}", f"fix {settings.origin('store', advice=True)}")
    try:
        stored = _stored_metrics(store)
        leftovers = _leftover_tables(store, settings.metrics_dir)
        missing = store.missing_tables() if hasattr(store, "missing_tables") else {}
    except PrefixClashError as exc:  # a clashing environment made since the store was opened
        return Check("store", FAIL, str(exc), prefix_clash_fix(settings))
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection is not the problem to report
            store.close()
    detail = f"{where}: connected, {stored} metric(s) stored"
    if missing:
        return _missing_tables(detail, missing, leftovers, settings.metrics_dir)
    if leftovers:
        return Check("store", WARN, _leftovers_detail(detail, leftovers), _leftovers_fix(leftovers))
    return Check("store", OK, detail)


def prefix_clash_fix(settings: Settings) -> str:
    """The fix of an HBase table prefix that clashes with another environment's, naming where the prefix was set
    (was: always FEDISCOPE_HBASE_TABLE_PREFIX, which does not win over the Airflow Variable that set it there)."""
    return (f"set {settings.origin('hbase_table_prefix', advice=True)} to a prefix that neither starts with another "
            "environment's on this HBase followed by '_' nor is the start of one (infra/hbase/README.md)")
MISSING_TABLES_FIX = "`fediscope process` rewrites them: every row of each, its tables made again"


def _tables_by_metric(tables: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{', '.join(names)} (metric {name})" for name, names in tables.items())


def _leftovers_detail(detail: str, leftovers: Mapping[str, list[str]]) -> str:
    return (f"{detail}; table(s) no catalog entry lists, left by an interrupted write or an older fediscope: "
            f"{_tables_by_metric(leftovers)}")


def _leftovers_fix(leftovers: Iterable[str]) -> str:
    return "remove them: " + "; ".join(f"fediscope store drop {name}" for name in leftovers)


def _missing_tables(detail: str, missing: Mapping[str, list[str]], leftovers: Mapping[str, list[str]],
                    own_dir: Path | None) -> Check:
    """The FAIL of a store whose catalog lists metrics whose tables are gone (dropped by hand): every read of them
    fails (``report``, ``store export``, the results API). ``fediscope process`` writes such a metric anew; one
    without its SQL file it does not compute, and ``fediscope store drop`` removes it."""
    from fediscope.engine.metrics import without_metric_file

    orphans = without_metric_file(missing, own_dir=own_dir)
    fixes = [MISSING_TABLES_FIX] if set(missing) - set(orphans) else []
    fixes += [f"`fediscope store drop {name}` (no SQL file defines it)" for name in orphans]
    if leftovers:
        detail = _leftovers_detail(detail, leftovers)
        fixes.append(_leftovers_fix(leftovers))
    return Check("store", FAIL, f"{detail}; metric(s) the catalog lists whose table(s) are missing (dropped by "
                                f"hand?), which every read of them fails on: {_tables_by_metric(missing)}",
                 "; ".join(fixes))


def _leftover_tables(store: Any, own_dir: Path | None) -> dict[str, list[str]]:
    """The tables of metrics that neither the catalog lists nor a SQL file defines, built in or in ``own_dir`` (the
    ``metrics_dir`` setting) (``fediscope store drop NAME`` removes them); those of a metric with its SQL file are
    replaced by its next first write (and on HBase may be made beforehand), and what a MariaDB load of it stopped
    half-way left (``_new_<name>``) is dropped by its next write, so they are no leftovers."""
    if not hasattr(store, "unlisted_metrics"):
        return {}
    from fediscope.engine.metrics import without_metric_file

    unlisted = store.unlisted_metrics()
    return {name: unlisted[name] for name in without_metric_file(unlisted, own_dir=own_dir)}


def _missing_sqlite(where: str, path: Path, origin: str) -> Check:
    """A SQLite store not created yet: fine when ``fediscope process`` can create it (doctor creates nothing),
    unless its path is relative where the absolute one exists (``sqlite:///tmp/x.db`` for ``/tmp/x.db``: the
    hint ``fediscope report`` gives, a warning here). ``origin``: where the store is set, the fix's subject
    (:meth:`~fediscope.config.Settings.origin`)."""
    from fediscope.store.sqlite import absolute_hint

    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return Check("store", FAIL, f"{where}: cannot be created: {parent} is a file, not a directory",
                     f"point {origin} at a path below a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        return Check("store", FAIL, f"{where}: cannot be created: {parent} is not writable by this user",
                     f"point {origin} at a directory this user can write")
    if hint := absolute_hint(path):
        return Check("store", WARN, f"{where}: not created yet; `fediscope process` creates it{hint}",
                     f"set {origin} to sqlite:///{Path('/') / path} if that was meant")
    return Check("store", OK, f"{where}: not created yet; `fediscope process` creates it")


def _stored_metrics(store: Any) -> int:
    if hasattr(store, "stored_metrics"):
        return len(store.stored_metrics())
    from fediscope.engine.metrics import Metric

    probe = Metric(name="doctor_probe", question="Can the store be read?", key=("id",), sql="")
    store.top(probe, 1)  # a read of a metric that does not exist: a round trip that changes nothing
    return 0


def _store_fix(settings: Settings) -> str:
    """The fix of a store check that raised, naming where the store is set (as :func:`_lake_fix` the lake)."""
    where = settings.origin("store", advice=True)
    scheme = urlsplit(settings.store).scheme
    if scheme.startswith(("mysql", "mariadb")):
        return (f"check host, port, user and password in {where}, and that the database exists "
                "(infra/mariadb/bootstrap.py of fediscope's source repository creates it and a least-privilege "
                "user)")
    if scheme == "hbase":
        return (f"start the HBase Thrift server (hbase thrift start -p 9090) and check host:port in {where}, "
                "and that its transport= and protocol= options match how the Thrift server was started (its socket "
                "port, not HTTP mode or the REST port)")
    return f"set {where} to sqlite:///path/to/fediscope.db in a directory this user can write"


# -- engine -------------------------------------------------------------------------------------------------


def check_engine(settings: Settings, which: Callable[[str], str | None] = shutil.which) -> Check:
    if settings.engine == "spark":
        return _check_spark(settings, which)
    duckdb = importlib.import_module("duckdb")
    answer = duckdb.connect().execute("SELECT 42").fetchone()
    if not answer or answer[0] != 42:
        return Check("engine", FAIL, "duckdb answered a test query wrongly", "reinstall duckdb")
    return Check("engine", OK, f"duckdb {_version('duckdb')} works")


def _duckdb_fallback(settings: Settings) -> str:
    """How a Spark engine's FAIL offers DuckDB, naming where the engine was set (:func:`set_to`)."""
    return f"or {set_to(settings, 'engine', 'duckdb', fix=True)} (single machine, no Java needed)"


def engine_crash_fix(settings: Settings) -> str:
    """The fix of an ``engine`` check that raised: for Spark, its needs or DuckDB, named where the engine was set
    (was: ``use FEDISCOPE_ENGINE=duckdb`` also for an engine set in fediscope.toml, and for DuckDB itself)."""
    if settings.engine == "spark":
        return f"pip install -r requirements.txt and install Java 17, {_duckdb_fallback(settings)}"
    return "pip install -r requirements.txt (it installs duckdb)"


def _set_spark_lake_uri(settings: Settings, uri: str) -> str:
    """How to set ``spark_lake_uri`` to ``uri``: where it was set (left empty in ``fediscope.toml`` or the Airflow
    Variable), else both places that set it. Was: the variable always, also for a file's empty key."""
    if "spark_lake_uri" in settings.origins:
        return f"set {settings.origin('spark_lake_uri')} to {uri} (the same directory as Spark addresses it)"
    return (f"set FEDISCOPE_SPARK_LAKE_URI={uri} (or [fediscope] spark_lake_uri in "
            f"{settings.config_file or 'fediscope.toml'}; the same directory as Spark addresses it)")


def _check_spark(settings: Settings, which: Callable[[str], str | None]) -> Check:
    engine, master_at = set_to(settings, "engine", "spark"), settings.origin("spark_master")
    fallback = _duckdb_fallback(settings)
    if importlib.util.find_spec("pyspark") is None:
        return Check("engine", FAIL, f"{engine} but pyspark is not installed",
                     f"pip install -r requirements.txt, {fallback}")
    from fediscope.engine.spark_engine import (
        MASTER_KINDS,
        MIN_JAVA,
        find_java,
        java_major,
        java_not_found,
        unreachable_master,
        yarn_conf_dir_missing,
    )

    java = find_java(which)
    if java is None:
        return Check("engine", FAIL, f"{engine} but Java not found: {java_not_found()}; Spark runs "
                     "on the JVM",
                     f"install Java 17 (e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME), {fallback}")
    major = java_major(java)
    if major is not None and major < MIN_JAVA:
        return Check("engine", FAIL,
                     f"Java {major} found at {java}; Spark {_version('pyspark')} needs Java {MIN_JAVA}+",
                     f"install Java 17 and set JAVA_HOME to it (Spark runs $JAVA_HOME/bin/java when it is set, "
                     f"else java on PATH), {fallback}")
    master = settings.spark_master
    detail = f"pyspark {_version('pyspark')}, Java {major or '?'} at {java}, master {master}"
    if settings.spark_lake_uri:
        detail += f", lake for Spark {redact_url(settings.spark_lake_uri)}"
    elif urlsplit(settings.lake).scheme in {"webhdfs", "hdfs"} and not master.startswith("local"):
        path = urlsplit(settings.lake).path or "/"
        return Check("engine", FAIL, f"{detail}: Spark's executors cannot read a webhdfs:// lake through the "
                     "driver's copy", f"{_set_spark_lake_uri(settings, f'hdfs://<namenode>:8020{path}')}, or "
                     f"{set_to(settings, 'spark_master', 'local[*]', fix=True)}")
    if problem := yarn_conf_dir_missing(master):  # what `process` refuses before it starts the JVM
        return Check("engine", FAIL, f"{detail}: {problem}", f"set HADOOP_CONF_DIR (or YARN_CONF_DIR), {fallback}")
    try:
        failures = unreachable_master(master, origin=master_at)  # what `process` probes before it starts the JVM
    except ConfigError as exc:
        return Check("engine", FAIL, f"{detail}: {exc}", f"fix {master_at}")
    if failures:
        kind = MASTER_KINDS[master.partition("://")[0]]
        return Check("engine", FAIL, f"{detail}: {kind} does not accept connections ({failures})",
                     f"start {kind} or fix {master_at}, {fallback}")
    return Check("engine", OK, detail)


def check_spark_lake(settings: Settings) -> Check | None:
    """Whether ``spark_lake_uri`` names the lake's directory, as far as that can be told without starting Spark's
    JVM (``fediscope process`` checks it through Spark's own filesystem client when Spark starts:
    ``SparkEngine._check_direct_root``); None where it is unset. A ``file:`` URI is looked at directly: the lake's
    top-level directories must be there (or it is the lake's own directory). An ``hdfs://`` URI for a WebHDFS lake
    must name the same path (the namenode's file system seen through its RPC port rather than its HTTP one): a
    different path is another directory, whichever namenode it is. Was: doctor said nothing of it, and a typo in the
    path surfaced only when ``process`` ran. Anything else (another scheme, a local lake read through HDFS) is said
    to be left to Spark's check."""
    from fediscope.lake.backend import open_lake

    uri = settings.spark_lake_uri
    if not uri:
        return None
    setting = f"{settings.origin('spark_lake_uri')}={redact_url(uri)}"
    fix = f"set {settings.origin('spark_lake_uri')} to the lake's directory as Spark addresses it"
    lake = open_lake(settings.lake)
    target, local = urlsplit(uri), lake.local_path("")
    scheme = target.scheme.lower()
    if scheme == "file":
        path = Path(unquote(target.path))
        if local is not None and os.path.realpath(path) == os.path.realpath(local):
            return Check("spark_lake", OK, f"{setting}: the lake's own directory")
        tops = sorted(e.path.rstrip("/").rsplit("/", 1)[-1] for e in lake.list("") if e.is_dir)
        missing = [name for name in tops if not (path / name).is_dir()]
        if missing:
            return Check("spark_lake", FAIL, f"{setting} is not the lake's directory: no "
                         f"{', '.join(name + '/' for name in missing)} there, which the lake "
                         f"{redact_url(lake.url)} holds", f"{fix}: file://{local}" if local else fix)
        said = "holds the lake's top-level directories" if tops else "not compared: the lake holds nothing yet"
        return Check("spark_lake", OK, f"{setting}: {said}")
    lake_path = (urlsplit(lake.url).path.rstrip("/") or "/") if local is None else None
    if scheme in {"hdfs", "viewfs"} and lake_path is not None:
        path = target.path.rstrip("/") or "/"
        if path != lake_path:
            return Check("spark_lake", FAIL, f"{setting} names {path}, another directory than the lake's, "
                         f"{lake_path} ({redact_url(lake.url)}): Spark would read and write another lake",
                         f"{fix}: {scheme}://{target.hostname or '<namenode>'}"
                         f"{f':{target.port}' if target.port else ''}{lake_path}")
        return Check("spark_lake", OK, f"{setting}: the lake's path, {lake_path}; that its namenode is the lake's is "
                     "checked when Spark starts (`fediscope process`)")
    where = "a local directory" if local is not None else redact_url(lake.url)
    return Check("spark_lake", WARN, f"{setting}: not compared with the lake ({where}) without Spark: `fediscope "
                 "process` checks that it holds the lake's directories when Spark starts",
                 f"make sure it is the same directory as the lake, or unset {settings.origin('spark_lake_uri')}")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


# -- metrics ------------------------------------------------------------------------------------------------

METRICS_FIX = ("fix the file as the error says, or move it out of the directory (README: \"Your own metric\"); "
               "`process` and `serve-api` refuse to start while one's header is broken, and `process` stores no "
               "metric while one's SQL fails")


def check_metrics(settings: Settings) -> Check:
    """The metric files of both directories (``spark_jobs/sql/`` and ``FEDISCOPE_METRICS_DIR``), each read afresh
    as :func:`~fediscope.engine.metrics.load_metrics` reads it (not its cached registry), then its SQL bound
    (:func:`_broken_metric_files`): a FAIL names every broken file with its error, one per line, so that all are
    fixed in one go (``process`` and ``serve-api`` stop at the first); an own file named as a built-in metric is one
    of them. An own directory gone raises its :class:`~fediscope.errors.MetricFileError`: :func:`run_checks` makes
    it the FAIL's detail, with :data:`METRICS_FIX`."""
    from fediscope.engine import metrics as registry

    files, clashes = registry.listed_metric_files(own_dir=settings.metrics_dir)
    # an own file named as a built-in metric is one broken file among the others, all in the order of their names
    named = [*_broken_metric_files(settings, files.values()), *((path, str(exc)) for path, exc in clashes.items())]
    broken = [error for _, error in sorted(named, key=lambda item: (item[0].stem, str(item[0])))]
    directories = registry.metric_dirs(own_dir=settings.metrics_dir)
    unread = [path for directory in directories for path in registry.unread_metric_files(directory)]
    # said with the broken files too (was: only when none was broken, so fixing them revealed one more problem)
    not_read = (f"not read: {', '.join(p.name for p in unread)} (metric files end in '.sql', lower case)"
                if unread else "")
    rename = "; rename a file not read to end in '.sql' to have it read, or move it away" if unread else ""
    if len(broken) == 1:
        return Check("metrics", FAIL, "\n".join([broken[0], *([not_read] if unread else [])]), METRICS_FIX + rename)
    if broken:
        total = len(files) + len(clashes)
        return Check("metrics", FAIL, "\n".join([f"{len(broken)} of {total} metric files are broken:", *broken,
                                                  *([not_read] if unread else [])]), METRICS_FIX + rename)
    detail = f"{len(files)} metric(s) in {' and '.join(map(str, directories))}"
    if unread:
        return Check("metrics", WARN, f"{detail}; {not_read}",
                     "rename the file to end in '.sql' to have it read, or move it away")
    return Check("metrics", OK, detail)


def _broken_metric_files(settings: Settings, paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """Each broken metric file of ``paths`` with what is wrong with it, in ``paths``' order: its header (as
    ``process`` reads it), then its SQL, bound by DuckDB to empty curated tables of the real schemas (the SQL is
    written in DuckDB's dialect whichever engine runs it): a syntax error, an unknown table, column or function, or
    a result lacking a column the header names, as ``process`` would find them running it. Nothing is read from
    the lake, which need not exist yet; binding takes a few milliseconds a metric. With ``FEDISCOPE_ENGINE=spark``,
    a construct Spark would run differently (:func:`~fediscope.engine.dialect.check_portable`, pure Python: no Java
    started) too, as ``process`` refuses it there."""
    from fediscope.engine.dialect import NotPortableError, to_spark
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.engine.metrics import read_metric

    broken = []
    with DuckDBEngine(settings) as engine:
        engine.register_curated_views(empty=True)
        for path in paths:
            try:
                metric = read_metric(path)
                engine.check_metric(metric)
                if settings.engine == "spark":
                    to_spark(metric.sql)
            except NotPortableError as exc:
                broken.append((path, f"{metric.where}: {exc}"))
            except FediscopeError as exc:
                broken.append((path, str(exc)))
    return broken


# -- secrets ------------------------------------------------------------------------------------------------


def _is_default(why: str) -> bool:
    return "default" in why


def check_api_key(settings: Settings) -> Check:
    """WARN when unset (only the API needs it); FAIL for a common default value; WARN when short or simple.

    Weakness is judged by :func:`fediscope.config_check.weakness`, as ``fediscope config check`` does.
    """
    keys = [k[:-3] if k.endswith(":ro") else k for k in settings.api_key]
    if not keys:
        return Check("api_key", WARN, "FEDISCOPE_API_KEY is not set: `fediscope serve-api` refuses to start",
                     f"only needed for the scraping API: {_new_secret(settings, 'api_key', API_KEY_COMMAND)}")
    problems = [(i, weakness(k, MIN_API_KEY)) for i, k in enumerate(keys, start=1)]
    found = [f"key #{i} {why}" for i, why in problems if why]
    random_value = (f"with a random value: $({API_KEY_COMMAND})"
                    if settings.origin_kind("api_key") in ("environment", "default")
                    else f"in {settings.origin('api_key')} with a random value, the output of {API_KEY_COMMAND}")
    fix = f"replace it {random_value} (comma-separate keys to rotate without downtime)"
    if any(why and _is_default(why) for _i, why in problems):
        return Check("api_key", FAIL, f"{len(keys)} key(s) set, but " + "; ".join(found), fix)
    if found:
        return Check("api_key", WARN, f"{len(keys)} key(s) set, but " + "; ".join(found), fix)
    return Check("api_key", OK, f"{len(keys)} key(s) set")


def _new_secret(settings: Settings, name: str, command: str) -> str:
    """How to give secret setting ``name`` a new random value made by ``command``, where it is set: ``export
    FEDISCOPE_PSEUDONYM_KEY=$(…)`` for the variable or a setting set nowhere, ``set fediscope.toml: [fediscope]
    pseudonym_key to the output of …`` for the file's key (or the Airflow Variable's). Was: ``export …`` also for a
    key set in fediscope.toml, which left the weak key in the file for every shell without that export."""
    where = settings.origin(name)
    if settings.origin_kind(name) in ("environment", "default"):
        return f"export {where}=$({command})"
    return f"set {where} to the output of {command}"


def check_pseudonym_key(settings: Settings, read_lake: bool = True) -> Check:
    """``read_lake=False``: the key is not compared with the lake's key check (the ``lake`` check failed: an
    unusable lake is said once, and a namenode that does not answer is not waited for twice more)."""
    if not settings.privacy:
        mismatch = _lake_key_mismatch(settings) if read_lake else None
        if mismatch:
            return Check("pseudonym_key", FAIL, *mismatch)
        # named where it was set, as the lake's key check names it (was: FEDISCOPE_PRIVACY, also for the file's key)
        privacy_from = settings.origin("privacy")
        by_variable = settings.origin_kind("privacy") == "environment"
        said = set_to(settings, "privacy", "off") if by_variable else privacy_from
        undo = f"unset {privacy_from}" if by_variable else f"remove {privacy_from}"
        return Check("pseudonym_key", WARN, f"the privacy policy is OFF ({said}): account identifiers land in the "
                     f"lake as they are", f"{undo} unless you have a documented reason, and set "
                     f"{settings.origin('pseudonym_key')}")
    key = settings.pseudonym_key
    fix = (f"{_new_secret(settings, 'pseudonym_key', PSEUDONYM_KEY_COMMAND)} and keep it: pseudonyms change with "
           "the key, so changing it later breaks joins with earlier data")
    if not key:
        landed = _lake_missing_key(settings) if read_lake else None
        if landed:  # a new key would not be the lake's: ask for the one it was landed with
            return Check("pseudonym_key", FAIL, *landed)
        return Check("pseudonym_key", FAIL, "FEDISCOPE_PSEUDONYM_KEY is not set: collection refuses to start", fix)
    mismatch = _lake_key_mismatch(settings) if read_lake else None
    if mismatch:
        return Check("pseudonym_key", FAIL, *mismatch)
    why = weakness(key, MIN_PSEUDONYM_KEY)
    if why and _is_default(why):
        return Check("pseudonym_key", FAIL, f"set, but {why}: anyone can recompute the pseudonyms", fix)
    if why:
        return Check("pseudonym_key", WARN, f"set, but {why}: pseudonyms can be brute-forced", fix)
    return Check("pseudonym_key", OK, "set")


def _lake_missing_key(settings: Settings) -> tuple[str, str] | None:
    """(what is wrong, the fix) when no key is set for a lake that records the key it was landed with
    (:func:`fediscope.lake.key_check.missing_key_problem`); None otherwise, or when the lake cannot be opened."""
    from fediscope.lake.backend import open_lake
    from fediscope.lake.key_check import missing_key_problem

    try:
        return missing_key_problem(settings, open_lake(settings.lake))
    except FediscopeError as exc:  # an unusable FEDISCOPE_LAKE: the ``lake`` check reports it
        log.debug("the lake's key check could not be read: %s", exc)
        return None


def _lake_key_mismatch(settings: Settings) -> tuple[str, str] | None:
    """(what is wrong, the fix) when the pseudonym key, or the privacy mode, is not what the lake was landed with
    (its recorded key check, :mod:`fediscope.lake.key_check`), or the check cannot be read; None when they are the
    lake's, when the lake holds no check, or when the lake itself cannot be read (the ``lake`` check reports that)."""
    from fediscope.lake.backend import open_lake
    from fediscope.lake.key_check import KEY_CHECK_PATH, DamagedKeyCheck, key_mismatch

    try:
        lake = open_lake(settings.lake)
    except FediscopeError as exc:  # an unusable FEDISCOPE_LAKE: the ``lake`` check reports it
        log.debug("the lake's key check could not be read: %s", exc)
        return None
    try:
        message = key_mismatch(settings, lake, "`collect`, `stream`, `serve-api` and `gdpr erase/export` refuse to "
                                               "run with it")
    except DamagedKeyCheck as exc:
        reason, _sep, fix = str(exc).partition("; ")
        return f"cannot be compared with what this lake was landed with: {reason}", fix
    except FediscopeError as exc:
        try:
            readable = lake.is_dir("")
        except FediscopeError:
            readable = False
        if not readable:
            log.debug("the lake's key check could not be read: %s", exc)
            return None
        return (f"cannot be compared with what this lake was landed with: its {KEY_CHECK_PATH} cannot be read "
                f"({exc}); `collect`, `stream` and `gdpr erase/export` stop on it",
                f"make {KEY_CHECK_PATH} a readable file again (restore it from a backup, or delete it if you are "
                "sure the key and privacy mode are the lake's)")
    if message is None:
        return None
    what, _sep, fix = message.partition(". ")
    return what, fix


def check_tokens(settings: Settings, env: Mapping[str, str] | None = None) -> Check:
    """The access tokens: which configured instance has one, and whether each token can be used. ``env``
    (default: the process environment) only tells which ``FEDISCOPE_TOKEN_*`` variable set a token, so a finding
    names it as it is spelled."""
    env = os.environ if env is None else env
    configured: dict[str, str] = {}  # token key → the instance's domain
    for instance in configured_instances(settings):
        with contextlib.suppress(ConfigError):  # a bad address: its instance check FAILs
            configured.setdefault(token_key(instance_domain(instance)), instance_domain(instance))

    failed, warned = [], []
    for key, token in sorted(settings.tokens.items()):
        label = token_label(key, settings, env)
        problem = token_problem(token)
        if why := problem or weakness(token, MIN_TOKEN):
            (failed if problem or _is_default(why) else warned).append(f"the token of {label} {why}")
        if key not in configured:
            warned.append(f"the token of {label} is for no configured instance ([[sources]], "
                          "FEDISCOPE_INSTANCES): only `collect --instance` and `stream --instance` of it use it")
    with_token = [domain for key, domain in configured.items() if settings.tokens.get(key)]
    without = [domain for key, domain in configured.items() if not settings.tokens.get(key)]
    summary = (f"{len(with_token)} of {len(configured)} configured instance(s) have a token"
               + (f" ({', '.join(with_token)})" if with_token else "")
               + (f"; public data only for {', '.join(without)}" if without else ""))
    fix = ("set the token the instance issued (Preferences → Development → your application) exactly as issued, "
           f"in {TOKEN_PREFIX}<INSTANCE> or [tokens]; unset a token to collect public data only")
    if failed:
        return Check("tokens", FAIL, "; ".join(failed + warned), fix)
    if warned:
        return Check("tokens", WARN, "; ".join([summary, *warned]),
                     "check the variable's spelling (the instance's domain: FEDISCOPE_TOKEN_MASTODON_SOCIAL for "
                     "mastodon.social), or remove the token; " + fix)
    return Check("tokens", OK, summary)


# -- instances ----------------------------------------------------------------------------------------------


def configured_instances(settings: Settings) -> list[str]:
    """The configured sources' instances, then the API allowlist, one per domain, in order."""
    seen: dict[str, str] = {}
    for instance in [s.instance for s in settings.sources] + list(settings.instances):
        try:
            key = instance_domain(instance)
        except ConfigError:
            key = instance  # reported as a FAIL by its check
        seen.setdefault(key, instance)
    return list(seen.values())


def _instance_check_name(instance: str) -> str:
    try:
        return f"instance {instance_domain(instance)}"
    except ConfigError:
        return f"instance {instance}"


def check_instance(instance: str, timeout: float = 5.0, token: str | None = None, agent: str = USER_AGENT,
                   timeout_setting: str = "FEDISCOPE_REQUEST_TIMEOUT") -> Check:
    """Ask the instance what it is (``/api/v1/instance``), sending ``token`` (its configured access token) and
    ``agent`` (the User-Agent, with the operator's contact) as the collector sends them: a 401 or 403 is then the
    token refused (FAIL: every request of a collection would be), not a missing one. ``timeout_setting``: where the
    collector's request timeout is set (:meth:`~fediscope.config.Settings.origin`), which a slow instance needs
    raised."""
    name = _instance_check_name(instance)
    url = f"{instance_base_url(instance)}/api/v1/instance"
    headers = {"User-Agent": agent, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.get(url, timeout=timeout, headers=headers)
    except requests.Timeout:
        return Check(name, FAIL, f"{url}: no answer within {timeout:g} s",
                     f"check the address and your network or proxy; a slow instance needs a larger "
                     f"{timeout_setting}")
    except OSError as exc:  # requests' ConnectionError (its SSLError too), or its own check of the CA bundle
        if (tls := tls_failure(exc)) is not None:
            return Check(name, FAIL, f"{url}: TLS error: {tls}", tls_hint(tls))
        if not isinstance(exc, requests.ConnectionError):
            raise
        return Check(name, FAIL, f"{url}: unreachable ({_reason(exc)})",
                     "check the instance address (https://host[:port]), DNS and your network or proxy")
    if response.status_code == 429:
        return Check(name, WARN, f"{url}: rate limited (HTTP 429)", "wait for the limit to reset; the collector "
                     "paces itself, but other clients on this address share the budget")
    if response.status_code in (401, 403) and token:
        return Check(name, FAIL, f"{url}: HTTP {response.status_code}", refused_hint(instance, token_sent=True))
    if response.status_code in (401, 403):
        return Check(name, WARN, f"{url}: HTTP {response.status_code}, the instance requires authentication",
                     f"set an access token: {token_env_name(instance)}=… or [tokens] in fediscope.toml")
    if response.status_code != 200:
        return Check(name, FAIL, f"{url}: HTTP {response.status_code}",
                     "check the address: it must be a Mastodon-compatible server (the API lives at /api/v1/)")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ({"uri", "domain"} & body.keys()):
        return Check(name, FAIL, f"{url}: answers, but not with the Mastodon instance API",
                     "check the address: it must be a Mastodon-compatible server, not a web page or proxy")
    version = body.get("version", "?")
    title = str(body.get("title") or "").strip()
    users = (body.get("stats") or {}).get("user_count") if isinstance(body.get("stats"), dict) else None
    extra = f", {users} users" if isinstance(users, int) else ""
    return Check(name, OK, f"{url}: version {version}" + (f" ({title[:60]})" if title else "") + extra)


def _sendable_token(settings: Settings, instance: str) -> str | None:
    """The access token the collector sends to ``instance``, or None: also for one that cannot be sent as written
    (the tokens check FAILs it), so that the instance is still asked, without it."""
    try:
        return settings.token_for(instance)
    except ConfigError:
        return None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker, reason in (("Connection refused", "connection refused"),
                           ("Name or service not known", "host name not found"),
                           ("nodename nor servname", "host name not found"),
                           ("Temporary failure in name resolution", "host name not found"),
                           ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
                           ("timed out", "timed out")):
        if marker in text:
            return reason
    return type(exc).__name__


# -- the whole report ---------------------------------------------------------------------------------------


def _guarded(name: str, check: Callable[[], Check], fix: str) -> Check:
    """Run one check; any exception becomes a FAIL with the error's own message and the check's usual fix."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, it never crashes
        return _failure(name, exc, fix)


def _failure(name: str, exc: Exception, fix: str) -> Check:
    """The FAIL of a check that raised ``exc``: its own message, and ``fix`` (or, for a full disk, how to free it)."""
    message = one_line(exc)
    if "No space left on device" in message or "Disk quota exceeded" in message:
        fix = "free space on that disk (or raise the quota), or point the setting at a disk with room"
    return Check(name, FAIL, message, fix)


def _after_lake(name: str, check: Callable[[Settings], Check | None], fix: str, settings: Settings,
                lake: Check) -> list[Check]:
    """A check of what the lake holds, as doctor runs it: none when the ``lake`` check failed (an unusable lake is
    said once) or ``check`` has nothing to say; an exception is a FAIL, as in :func:`_guarded`."""
    if lake.status == FAIL:
        return []
    try:
        found = check(settings)
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, it never crashes
        return [_failure(name, exc, fix)]
    return [found] if found is not None else []


def _curation_line(settings: Settings, lake: Check) -> list[Check]:
    """The ``curation`` check (:func:`check_curation`): none when nothing was curated yet."""
    return _after_lake("curation", check_curation, CURATION_FIX, settings, lake)


def lake_lock_line(settings: Settings, lake: Check) -> list[Check]:
    """The ``lake_lock`` check (:func:`check_lake_lock`) as doctor and the Airflow ``lake_health`` task run it: none
    when the lake is not locked."""
    return _after_lake("lake_lock", check_lake_lock, LAKE_LOCK_FIX, settings, lake)


def guarded_storage_check(name: Literal["lake", "store"], settings: Settings,
                          check: Callable[[], Check] | None = None) -> Check:
    """The lake or store check (``check``, else :func:`check_lake` / :func:`check_store`) as ``fediscope doctor``
    runs it: an exception becomes a FAIL with the fix the doctor prints for it (the Airflow health tasks too)."""
    default, fix = {"lake": (check_lake, _lake_fix), "store": (check_store, _store_fix)}[name]
    failed = _guarded(name, check or (lambda: default(settings)), fix(settings))
    # the store's (or the lake's) own error names it, "store <url>: could not connect …": the line's name column
    # says it already (was: "FAIL  store          store mysql+pymysql://…")
    return replace(failed, detail=failed.detail.removeprefix(f"{name} ")) if failed.status == FAIL else failed


def check_variables(env: Mapping[str, str] | None = None) -> Check | None:
    """WARN for the ``FEDISCOPE_*`` variables of ``env`` nothing reads (one line each); None when there is none."""
    found = unknown_variables(os.environ if env is None else env)
    if not found:
        return None
    return Check("variables", WARN, "\n".join(f.text for f in found),
                 "rename each to the setting it was meant for, or unset it (`fediscope config check` lists them)")


def run_checks(settings: Settings, timeout: float = 5.0, env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in a fixed order (lake, lake_lock, curation, store, engine, spark_lake, metrics, api_key,
    pseudonym_key, tokens, instances, variables; ``lake_lock`` only while the lake is locked, ``curation`` only for
    a lake with curated tables, ``spark_lake`` only where FEDISCOPE_SPARK_LAKE_URI is set and the lake did not
    fail, ``variables`` only when a ``FEDISCOPE_*`` variable is unknown), secrets scrubbed. ``env``: the
    environment the variables are read from (``os.environ``)."""
    lake = guarded_storage_check("lake", settings)
    checks = [lake, *lake_lock_line(settings, lake), *_curation_line(settings, lake)]
    checks += [
        guarded_storage_check("store", settings),
        _guarded("engine", lambda: check_engine(settings), engine_crash_fix(settings)),
        # after the lake, as the checks of what it holds: an unusable lake is said once (was: its failure again here)
        *(_after_lake("spark_lake", check_spark_lake,
                      f"set {settings.origin('spark_lake_uri')} to the lake's directory as Spark addresses it",
                      settings, lake)
          if settings.spark_lake_uri else []),
        _guarded("metrics", lambda: check_metrics(settings), METRICS_FIX),
        _guarded("api_key", lambda: check_api_key(settings), f"set {settings.origin('api_key', advice=True)}"),
        _guarded("pseudonym_key", lambda: check_pseudonym_key(settings, read_lake=lake.status != FAIL),
                 f"set {settings.origin('pseudonym_key', advice=True)}"),
    ]
    instances = configured_instances(settings)
    if instances or settings.tokens:  # without either there is nothing to say about tokens
        checks.append(_guarded("tokens", lambda: check_tokens(settings),
                               f"set {TOKEN_PREFIX}<INSTANCE> or [tokens] in the config file"))
    if not instances:
        checks.append(Check("instances", WARN, "no instance configured",
                            "pass --instance URL to `fediscope collect`, or add [[sources]] to "
                            f"{settings.config_file or 'fediscope.toml'}"))
    else:
        timeout_at = settings.origin("request_timeout", advice=True)
        with ThreadPoolExecutor(max_workers=min(8, len(instances))) as pool:
            checks += pool.map(lambda i: _guarded(_instance_check_name(i),
                                                  lambda: check_instance(i, timeout, _sendable_token(settings, i),
                                                                         user_agent(settings.contact), timeout_at),
                                                  "use the instance's address, e.g. https://mastodon.social"),
                               instances)
    if (variables := check_variables(env)) is not None:
        checks.append(variables)
    return scrub(checks, secret_values(settings), shown_urls(settings))


def shown_urls(settings: Settings) -> list[str]:
    """The store URL, the lake URL and the Spark lake URI as the checks show them: masked by
    :func:`~fediscope.redact.redact_url` (so is a store's own error message, ``store <url>: …``)."""
    return [redact_url(str(url)) for url in (settings.store, settings.lake, settings.spark_lake_uri) if url]


def scrub(checks: Iterable[Check], secrets: Iterable[str], shown: Iterable[str] = ()) -> list[Check]:
    """The checks with known secret values, and anything shaped like a credential, masked as ``***``
    (:func:`scrub_text`)."""
    secrets, shown = list(secrets), list(shown)
    return [replace(c, detail=scrub_text(c.detail, secrets, shown), fix=scrub_text(c.fix, secrets, shown))
            for c in checks]


def scrub_text(text: str, secrets: Iterable[str], shown: Iterable[str] = ()) -> str:
    """``text`` with known secret values, and anything shaped like a credential, masked as ``***``; each of
    ``shown`` in it, a URL :func:`~fediscope.redact.redact_url` masked already (:func:`shown_urls`), is redacted
    apart from the text around it. Was: ``?password=***: connected`` (a URL and the colon after it) became
    ``?password=*** connected``, the secret query parameter's shape taking the colon for its value; and then (session
    42's fix) a shown URL had only the known secrets masked, so a credential :func:`redact_url` leaves but
    :func:`redact_text` masks (``?cookie=…``) was shown."""
    secrets = list(secrets)
    urls = sorted({url for url in shown if url}, key=len, reverse=True)
    if not urls:
        return redact_text(text, secrets)
    pieces = re.split("(" + "|".join(map(re.escape, urls)) + ")", text)
    # the odd pieces are the shown URLs, the even ones the text around them: each redacted on its own, so a URL's
    # ``***`` is not read with the ``:`` after it, and what redact_url leaves but redact_text masks is masked
    return "".join(redact_text(piece, secrets) for piece in pieces)


def exit_code(checks: Iterable[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 1 if any(c.status == FAIL for c in checks) else 0


def format_check(check: Check) -> str:
    """``FAIL  store          <what was found> -> fix: <what to do>`` (one line; a detail of several lines, as
    the metrics check's list of broken files, has the later ones indented under the first)."""
    # a detail may quote what an instance answered: its control characters are shown, not obeyed
    detail = printable(check.detail, keep="\n").replace("\n", "\n" + " " * 21)  # the status and name columns
    line = f"{check.status:<5} {check.name:<14} {detail}"
    return f"{line} -> fix: {printable(check.fix)}" if check.fix and check.status != OK else line
