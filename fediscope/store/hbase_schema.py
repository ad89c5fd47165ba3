"""The HBase table layout, defined once: used by the adapter, the ``--create`` command and the shell script.

Per metric ``<name>`` (``<prefix>`` is ``FEDISCOPE_HBASE_TABLE_PREFIX``, one per environment; two environments on
one server must not have prefixes of which one starts with the other followed by ``_``: see
:func:`clashing_prefixes`):

``<prefix>_<name>`` — the data, one row per metric row.
    row key: the key columns, prefix column first (:mod:`fediscope.store.rowkeys`);
    family ``m``: one cell per column, ``m:<column>`` = the value as JSON (``3``, ``0.25``, ``"fr"``, ``null``);
    family ``i``: ``i:rank`` = the row key of this row's rank-index entry (empty without a rank column),
    so a rewrite knows which index entry to delete when the rank value changes.
``<prefix>_<name>-rank`` — the rank index (only for metrics with a ``-- rank:`` header).
    row key: rank value (inverted when descending, NULL last) + key; family ``r``: ``r:row`` = data row key.
``<prefix>-catalog`` — one row per stored metric (row key = metric name), family ``c``: ``c:definition``
    (typed columns, key, rank; JSON), ``c:question``, ``c:rows``, ``c:updated_at``, ``c:rank_pending`` (``1``
    while a write or erasure changes the metric's rank index, ``0`` once done; see :mod:`fediscope.store.hbase`).

Every family keeps one version (``VERSIONS => 1``): a rewrite replaces a value, it does not pile up history.

Run ``python -m fediscope.store.hbase_schema --create`` to create the tables of every metric in the registry
on the configured store (``FEDISCOPE_STORE=hbase://host:9090``), or ``--shell`` to print the same layout as an
``hbase shell`` script (checked in as ``infra/hbase/create_tables.hbase``). The adapter also creates a
metric's tables on its first write, so creating them beforehand is optional. Tables that exist with the families
above are kept, with any settings made on them (compression, region splits): a first write or a rebuild only
empties them of rows (what an interrupted first write left, the rows a rebuild replaces).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from fediscope.config import hbase_prefix, store_url
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.errors import ConfigError, FediscopeError
from fediscope.pipes import quiet_on_broken_pipe
from fediscope.redact import redact_url
from fediscope.store.schema import metric_name_problem

FAMILY_OPTIONS: dict[str, Any] = {"max_versions": 1}
DATA_FAMILIES = {"m": FAMILY_OPTIONS, "i": FAMILY_OPTIONS}
RANK_FAMILIES = {"r": FAMILY_OPTIONS}
CATALOG_FAMILIES = {"c": FAMILY_OPTIONS}


def check_prefix(prefix: str) -> str:
    """The prefix as the settings check it (:func:`fediscope.config.hbase_prefix`), for callers given one directly."""
    try:
        return hbase_prefix(prefix)
    except ValueError as exc:
        raise ConfigError(f"FEDISCOPE_HBASE_TABLE_PREFIX: {exc}") from None


def option_prefix(prefix: str) -> str:
    """A ``--prefix`` option's value, by the rule of FEDISCOPE_HBASE_TABLE_PREFIX (:func:`check_prefix`), an
    error naming the option (was: it named the variable, and an empty ``--prefix`` took the variable's value)."""
    try:
        return hbase_prefix(prefix)
    except ValueError as exc:
        raise ConfigError(f"--prefix: {exc}") from None


def option_url(url: str) -> str:
    """A ``--url`` option's value, checked as ``--store`` and FEDISCOPE_STORE are (:func:`fediscope.config.store_url`),
    an error naming the option (was: an empty ``--url``, a shell variable that is not set, took FEDISCOPE_STORE's
    store and created the tables there, and a URL with a blank around it was reported as a bad port)."""
    try:
        return store_url(url)
    except ValueError as exc:
        raise ConfigError(f"--url is invalid: {exc}") from None


def data_table(prefix: str, metric: str) -> str:
    return f"{prefix}_{metric}"


def rank_table(prefix: str, metric: str) -> str:
    return f"{prefix}_{metric}-rank"


def metric_of_table(prefix: str, table: str) -> str | None:
    """The metric whose data or rank table ``table`` is named as (:func:`data_table`, :func:`rank_table`), or None.
    A table of another prefix that starts with this one and ``_`` (``fediscope_test_x`` for ``fediscope``) reads
    as a metric's (``test_x``): HBase table names cannot tell them apart, which is why a store refuses to share
    a server with such a prefix (:func:`clashing_prefixes`)."""
    if not table.startswith(f"{prefix}_"):
        return None
    return table[len(prefix) + 1:].removesuffix("-rank")


_CATALOG_SUFFIX = "-catalog"


def catalog_table(prefix: str) -> str:
    return f"{prefix}{_CATALOG_SUFFIX}"


def prefix_of_catalog(table: str) -> str | None:
    """The prefix whose catalog ``table`` is named as (:func:`catalog_table`), or None. No metric's table ends in
    ``-catalog`` (a metric name holds no ``-``), so such a table is an environment's catalog, or not fediscope's."""
    if not table.endswith(_CATALOG_SUFFIX):
        return None
    prefix = table.removesuffix(_CATALOG_SUFFIX)
    return prefix if prefix and not problem_of_prefix(prefix) else None


def problem_of_prefix(prefix: str) -> str | None:
    try:
        hbase_prefix(prefix)
    except ValueError as exc:
        return str(exc)
    return None


def clashing_prefixes(prefix: str, tables: Iterable[str]) -> list[str]:
    """The prefixes of the other environments whose catalog is among ``tables`` (one server's) and whose tables
    cannot be told from this prefix's: those that start with ``prefix`` and ``_``, and those ``prefix`` starts
    with followed by ``_``. With ``fediscope`` and ``fediscope_staging`` on one server, ``fediscope_staging_x``
    is both staging's metric ``x`` and the table of a metric ``staging_x`` of ``fediscope`` (metric names hold
    ``_``): the one environment would list the other's tables as its own leftovers (``fediscope store drop``
    would delete them), and both would write to it. Telling them apart when reading would not help the writes,
    and would depend on the longer prefix's catalog being there first; so the store refuses to open on a server
    holding a clashing environment (:class:`~fediscope.errors.PrefixClashError`), whichever came first.
    ``fediscope-staging`` (or ``staging``) shares a server with ``fediscope``.

    Only a continuation that can start a metric name clashes (:func:`_extends`): ``fediscope_`` (or
    ``fediscope__v2``) shares a server with ``fediscope``, as its tables ``fediscope__<name>`` would be ``fediscope``'s
    metric ``_<name>``, which no metric can be (names start with a letter): every listing drops such names
    (``_metric_tables``), and no write or drop takes them (``check_metric_name``)."""
    found = {other for other in map(prefix_of_catalog, tables) if other is not None and other != prefix
             and (_extends(other, prefix) or _extends(prefix, other))}
    return sorted(found)


def _extends(long: str, short: str) -> bool:
    """Whether ``long`` is ``short``, ``_`` and a start of a metric name, so that a table ``<long>_<name>`` is also
    named as a metric's table of ``short`` (:func:`metric_of_table`): the rest and ``_<name>`` form a valid metric
    name for some metric ``<name>`` (the shortest, one letter, stands for all)."""
    rest = long.removeprefix(f"{short}_")
    return rest != long and metric_name_problem(f"{rest}_a") is None


def metric_tables(prefix: str, metric: str, ranked: bool) -> dict[str, dict[str, Any]]:
    """Table name → column families, for one metric."""
    tables = {data_table(prefix, metric): DATA_FAMILIES}
    if ranked:
        tables[rank_table(prefix, metric)] = RANK_FAMILIES
    return tables


def all_tables(prefix: str, metrics: Iterable[Metric]) -> dict[str, dict[str, Any]]:
    """Every table of the given metrics plus the catalog, in creation order."""
    tables = {catalog_table(prefix): CATALOG_FAMILIES}
    for metric in metrics:
        tables.update(metric_tables(prefix, metric.name, metric.rank_column is not None))
    return tables


def shell_script(prefix: str, metrics: Iterable[Metric]) -> str:
    """The layout as ``hbase shell`` commands, for a fresh cluster (``create`` fails on an existing table)."""
    lines = ["# Generated by `python -m fediscope.store.hbase_schema --shell`; do not edit by hand.",
             f"# Creates the fediscope tables with prefix {prefix!r} on a fresh cluster:",
             "#   hbase shell -n <this file>   (for the default prefix: infra/hbase/create_tables.hbase)",
             "# It stops at a table that already exists; `python -m fediscope.store.hbase_schema --create`",
             "# creates only the missing ones. Layout and row keys: infra/hbase/README.md.", ""]
    for name, families in all_tables(prefix, metrics).items():
        specs = ", ".join(f"{{NAME => '{family}', VERSIONS => {opts['max_versions']}}}"
                          for family, opts in families.items())
        lines.append(f"create '{name}', {specs}")
    lines += ["", "exit", ""]
    return "\n".join(lines)


def create_tables(url: str, prefix: str, metrics: Iterable[Metric]) -> list[str]:
    """Create the missing tables on the HBase Thrift server at ``url``; returns the names created."""
    from fediscope.store.hbase import HBaseStore

    # read_only: opening the store does not create the catalog by itself, so the catalog is among the names
    # returned when this call made it (the list printed by --create)
    store = HBaseStore(url, table_prefix=prefix, read_only=True)
    try:
        return store.create_tables(all_tables(prefix, metrics))
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    """The command; ``… | head`` stops it quietly with 141 (:func:`fediscope.pipes.quiet_on_broken_pipe`)."""
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fediscope.store.hbase_schema",
                                     description="Create fediscope's HBase tables, or print them as a shell script.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--create", action="store_true", help="create the tables on the configured HBase")
    action.add_argument("--shell", action="store_true", help="print an hbase shell script that creates them")
    parser.add_argument("--url", help="hbase://host:9090 (default: FEDISCOPE_STORE)")
    parser.add_argument("--prefix", help="table prefix (default: FEDISCOPE_HBASE_TABLE_PREFIX)")
    args = parser.parse_args(argv)
    try:
        from fediscope.cli.common import settings_from_context

        settings = settings_from_context()  # and logging: FEDISCOPE_LOG_LEVEL, secrets masked
        prefix = option_prefix(args.prefix) if args.prefix is not None else check_prefix(settings.hbase_table_prefix)
        metrics = list(load_metrics(own_dir=settings.metrics_dir).values())
        if args.shell:
            sys.stdout.write(shell_script(prefix, metrics))
            return 0
        url = option_url(args.url) if args.url is not None else settings.store
        if not url.startswith("hbase://"):
            raise ConfigError(f"--create needs an HBase store (hbase://host:9090), got {redact_url(url)!r}; "
                              "pass --url or set FEDISCOPE_STORE")
        created = create_tables(url, prefix, metrics)
        print(f"created {len(created)} table(s)" + (": " + ", ".join(created) if created else " (all existed)"))
        return 0
    except FediscopeError as exc:
        print(f"hbase_schema: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
