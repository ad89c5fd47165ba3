"""The lake lock of a ``spark-submit`` job: its own, or the one the batch DAG holds across both jobs.

The DAG (:func:`fediscope.orchestration.process_window`) takes the lock before submitting curation and then the
metrics, and hands its token down in ``FEDISCOPE_LAKE_LOCK_TOKEN``; a job started by hand has no token and takes
the lock itself. Read here, at the entry point: code inside the ``fediscope`` package never reads the environment.
A job running under the DAG's lock records its own pid beside it (a job file, :mod:`fediscope.lake.lock`), so the
lock is not taken over while the job still runs, even when the Airflow task that took it was killed.

Before the lock, the lake must exist and hold data (:func:`fediscope.orchestration.require_batch_lake`, the check
of ``fediscope process``): the lock file would otherwise create a mistyped lake, and the metrics job would replace
every metric in the store with the empty results of an empty lake. The metrics job (``curated=True``) also needs
something curated (:func:`require_curated`, checked once the lock is held, or before it when the lake has no
``_state/`` directory, which taking the lock would create): a lake holding raw batches only (the metrics job run
before ``spark_jobs/curate.py``, or pointed at a copy of ``raw/``) would empty every metric too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from fediscope.engine.manifest import MANIFEST_PATH
from fediscope.errors import NothingCuratedError
from fediscope.lake.backend import LAKE_SETTING, LakeBackend, open_lake
from fediscope.lake.layout import CURATED_ROOT, STATE_ROOT
from fediscope.lake.lock import INHERIT_ENV, LockHolder, lake_lock
from fediscope.orchestration import require_batch_lake


@contextmanager
def job_lock(lake_url: str, command: str, *, curated: bool = False, untouched: str | None = None,
             chosen_by: str = LAKE_SETTING) -> Iterator[LockHolder]:
    """Hold the lake lock for the job; ``curated``: the lake must also hold curated tables (the metrics job);
    ``untouched``: what a refused job says it left alone, the store unless given (the curation job has none);
    ``chosen_by``: where the lake was set, as a refusal's hint names it (the jobs: :func:`~fediscope.config.
    option_origin`, as they have ``--lake``)."""
    lake = open_lake(lake_url)
    # LakeError, nothing created, nothing changed
    require_batch_lake(lake, chosen_by=chosen_by, untouched=untouched)
    if curated and not lake.exists(STATE_ROOT):
        # no _state/: no run holds the lock (its file lives there), so none is curating now; refused before the
        # lock file would create _state/ in a lake never curated (a copy of raw/), and leave it behind, empty
        require_curated(lake)
    with lake_lock(lake, command=command, inherit=os.environ.get(INHERIT_ENV) or None) as holder:
        if curated:  # under the lock: a curation running now is reported as holding it, not as missing
            require_curated(lake)
        yield holder


def require_curated(lake: LakeBackend) -> None:
    """The lake has been curated: it holds the curated manifest or a curated file (stops at the first one);
    :class:`~fediscope.errors.NothingCuratedError` otherwise (a LakeError, exit 5 from the job)."""
    if lake.exists(MANIFEST_PATH):
        return
    pending = [CURATED_ROOT]
    while pending:
        for entry in lake.list(pending.pop()):
            if not entry.is_dir:
                return
            pending.append(entry.path)
    raise NothingCuratedError(f"nothing is curated in the lake {lake.url} (no {MANIFEST_PATH}, no curated tables): run "
                    "spark_jobs/curate.py (or `fediscope process`) first; the store was not touched")
