#!/usr/bin/env python3
"""Create the fediscope lake's top-level directories, on HDFS over WebHDFS (or in a local directory).

The directory names come from :mod:`fediscope.lake.layout`, the same functions the collector, the scraping API
and the NiFi flows use, so the layout is written down once. Partitions (``instance=…/dt=…``) are created by
the writers themselves; this script makes the fixed part, so that permissions can be set on it before the
first run and NiFi's PutHDFS finds its parent directories::

    raw/mastodon/<entity>/   one per entity (statuses, accounts, instance, …)
    curated/                 Parquet tables written by the batch jobs
    _state/                  collector checkpoints
    quarantine/              upstream data that could not be parsed
    _audit/                  GDPR audit trail

Usage (the lake defaults to the configured one: ``FEDISCOPE_LAKE`` or ``fediscope.toml``)::

    python infra/hdfs/create_layout.py --lake 'webhdfs://namenode:9870/data/fediscope?user=fediscope'
    python infra/hdfs/create_layout.py --instance mastodon.social --dry-run

Run it as the HDFS user that will write the lake (``?user=``): with simple authentication WebHDFS creates the
directories owned by that user. A parent such as ``/data`` must already exist and be writable by them
(``hdfs dfs -mkdir -p /data && hdfs dfs -chown fediscope /data`` as the HDFS superuser).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

if importlib.util.find_spec("fediscope") is None:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fediscope.config import instance_domain, load_settings  # noqa: E402
from fediscope.errors import ConfigError, FediscopeError, LakeError  # noqa: E402
from fediscope.lake.backend import LakeBackend, lake_url_problem, open_lake, url_below  # noqa: E402
from fediscope.lake.layout import (  # noqa: E402
    AUDIT_ROOT,
    CURATED_ROOT,
    ENTITIES,
    QUARANTINE_ROOT,
    RAW_ROOT,
    STATE_ROOT,
    partition_dir,
)
from fediscope.pipes import quiet_on_broken_pipe  # noqa: E402


def lake_directories(instances: Sequence[str] = ()) -> list[str]:
    """The directories to create, relative to the lake root, parents before children."""
    dirs = [RAW_ROOT, *(f"{RAW_ROOT}/{entity}" for entity in ENTITIES)]
    for instance in instances:
        domain = instance_domain(instance)
        # partition_dir validates entity and domain; the instance level is its parent directory
        dirs += [partition_dir(entity, domain, "1970-01-01").rsplit("/", 1)[0] for entity in ENTITIES]
    dirs += [CURATED_ROOT, STATE_ROOT, QUARANTINE_ROOT, AUDIT_ROOT]
    return dirs


def create_directories(lake: LakeBackend, directories: Sequence[str]) -> list[str]:
    """Create each directory (existing ones are fine); returns those that did not exist before. A path that is
    a file, or a directory that cannot be made (permission denied, a read-only filesystem), is a LakeError naming
    the path and the reason."""
    if lake.exists("") and not lake.is_dir(""):
        raise LakeError(f"the lake path {lake.url} is not a directory; point --lake / FEDISCOPE_LAKE at the "
                        "lake's directory")
    created = []
    for directory in directories:
        if lake.is_dir(directory):
            continue
        if lake.exists(directory):
            raise LakeError(f"cannot create the directory {url_below(lake.url, directory)}: a file is in the way")
        makedirs = getattr(lake, "makedirs", None)
        if makedirs is not None:
            makedirs(directory)
        else:
            local = lake.local_path(directory)
            if local is None:
                raise FediscopeError(f"{lake.url}: this lake backend cannot create directories")
            try:
                os.makedirs(local, exist_ok=True)
            except OSError as exc:
                raise LakeError(f"cannot create the directory {exc.filename or local}: {exc.strerror or exc}"
                                ) from None
        created.append(directory)
    return created


def main(argv: Sequence[str] | None = None) -> int:
    """The command; ``… | head`` stops it quietly with 141 (:func:`fediscope.pipes.quiet_on_broken_pipe`)."""
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", default=None,
                        help="lake URL: webhdfs://namenode:9870/path[?user=NAME], file:///path or a path "
                             "(default: the configured lake: FEDISCOPE_LAKE or fediscope.toml, else ./lake)")
    parser.add_argument("--instance", action="append", default=[],
                        help="also create raw/mastodon/<entity>/instance=<domain> for this instance (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print the directories, create nothing")
    args = parser.parse_args(argv)
    try:
        directories = lake_directories(args.instance)
        if args.dry_run:
            print("\n".join(directories))
            return 0
        if args.lake is not None and (problem := lake_url_problem(args.lake)):
            # named as given (--lake), not as the FEDISCOPE_LAKE it overrides; an empty --lake is refused too,
            # not taken for "the configured lake"
            from fediscope.redact import redact_url

            raise ConfigError(f"--lake is invalid: {redact_url(args.lake)!r}: {problem}")
        lake = open_lake(args.lake if args.lake is not None else load_settings().lake)
        created = create_directories(lake, directories)
    except (FediscopeError, ValueError) as exc:
        print(f"create_layout: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    for directory in directories:
        print(f"{'created' if directory in created else 'exists '} {url_below(lake.url, directory)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
