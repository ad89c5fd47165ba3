"""``fediscope store drop``: remove a metric whose SQL file was deleted from the store and the kept results.

Deleting a metric's file (in ``spark_jobs/sql/`` or ``FEDISCOPE_METRICS_DIR``) leaves its table in the store
(``fediscope process`` names such metrics in its summary): BI tools still see it and the lake still keeps its last
results. ``drop`` removes the
metric's tables and catalog entry from the configured store (:meth:`~fediscope.store.port.MetricStore.drop`) and
its kept results under ``<lake>/_state/metrics/<store id>/`` (:mod:`fediscope.engine.metric_state`), holding the
lake lock as ``fediscope process`` does, so that no run writes the store meanwhile. A metric that still has its
SQL file is refused: the next ``fediscope process`` would only store it again. A name the catalog does not list
but whose tables the store holds (:meth:`~fediscope.store.port.MetricStore.unlisted_metrics`: left by a write or a
removal stopped half-way, or made beforehand on HBase) is dropped the same way: its tables are removed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from fediscope.cli.common import emit_json, json_option, settings_from_context
from fediscope.config import Settings
from fediscope.errors import ConfigError, FediscopeError
from fediscope.redact import redact_url

if TYPE_CHECKING:
    from fediscope.store.port import MetricStore


@click.group()
def store() -> None:
    """Manage what the metric store holds (FEDISCOPE_STORE)."""


@store.command("drop")
@click.argument("name")
@click.option("--store", "store_url", default=None, metavar="URL", help="Store to drop from (overrides "
              "FEDISCOPE_STORE).")
@click.option("--lake", default=None, metavar="URL", help="Lake whose kept results to delete (overrides "
              "FEDISCOPE_LAKE).")
@click.option("--yes", is_flag=True, help="Drop without asking (required without a terminal).")
@json_option("Print what was dropped as JSON.")
def drop(name: str, store_url: str | None, lake: str | None, yes: bool, as_json: bool) -> None:
    """Remove metric NAME, whose SQL file was deleted, from the store and the lake's kept results.

    Drops the metric's table (on HBase its tables, the rank index included) and its catalog entry, and deletes
    its kept results (<lake>/_state/metrics/), holding the lake lock. A metric's leftover tables that no catalog
    entry lists (a first write stopped before it listed the metric; `fediscope doctor` names them) are dropped
    the same way. Refused (exit 2) while NAME.sql exists in spark_jobs/sql/ or FEDISCOPE_METRICS_DIR (delete the
    file first, or `fediscope process` stores it again) and for a name the store holds neither way (the error
    lists the ones it does). Asks for confirmation on a terminal; --yes skips the question and is required
    without one.

    \b
    Examples:
      fediscope store drop my_old_metric
      fediscope store drop my_old_metric --yes --json
    """
    from fediscope.engine.metrics import metric_files
    from fediscope.store.port import open_existing, require_persistent

    settings = settings_from_context(store=store_url, lake=lake)
    require_persistent(settings.store)
    sql_file = metric_files(own_dir=settings.metrics_dir).get(name)
    if sql_file is not None:
        raise ConfigError(f"metric {name} still has its SQL file {sql_file}: delete the file first "
                          "(while it exists, `fediscope process` stores the metric again)")
    shown = redact_url(settings.store)
    metric_store = open_existing(settings)
    try:
        stored = {} if metric_store is None else metric_store.stored_metrics()
        leftover = [] if metric_store is None or name in stored else metric_store.unlisted_metrics().get(name, [])
        if metric_store is None or (name not in stored and not leftover):
            held = ", ".join(sorted(stored)) or "none"
            raise ConfigError(f"the store {shown} holds no metric {name!r}; the metrics it holds: {held}")
        what = (f"metric {name} ({stored[name]} rows)" if name in stored else
                f"the leftover table(s) {', '.join(leftover)} of metric {name}, which no catalog entry lists")
        _confirm(what, shown, yes)
        kept = _drop_everywhere(settings, metric_store, name)
    finally:
        if metric_store is not None:
            metric_store.close()
    if as_json:
        emit_json({"metric": name, "store": shown, "rows": stored.get(name), "dropped": True,
                   "leftover_tables": leftover, "kept_results_deleted": kept})
        return
    click.echo(f"dropped {what} from {shown}" + ("; deleted its kept results from the lake" if kept else ""))


def _confirm(what: str, shown: str, yes: bool) -> None:
    """Ask on stderr before dropping, as `lake unlock` does; without a terminal only --yes goes on."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise FediscopeError("not dropped: there is no terminal to confirm on; add --yes to drop the metric")
    if not click.confirm(f"Drop {what} from {shown}? This cannot be undone", default=False, err=True):
        raise FediscopeError("not dropped: declined")


def _drop_everywhere(settings: Settings, metric_store: MetricStore, name: str) -> bool:
    """Drop ``name`` from the store and its kept results from the lake, under the lake lock; returns whether kept
    results were deleted. A lake that does not exist keeps nothing: the store alone is changed, without a lock."""
    from fediscope.engine.metric_state import MetricSnapshots, store_id
    from fediscope.lake.backend import open_lake
    from fediscope.lake.lock import lake_lock

    backend = open_lake(settings.lake)
    if not backend.is_dir(""):
        metric_store.drop(name)
        return False
    shown = redact_url(settings.store)
    with lake_lock(backend, command="fediscope store drop"):
        metric_store.drop(name)
        return MetricSnapshots(backend, store_id(shown, settings.hbase_table_prefix), shown).drop(name)
