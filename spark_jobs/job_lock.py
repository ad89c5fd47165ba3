"""The lake lock of a ``spark-submit`` job: its own, or the one the batch DAG holds across both jobs.

The DAG (:func:`fediscope.orchestration.process_window`) takes the lock before submitting curation and then the
metrics, and hands its token down in ``FEDISCOPE_LAKE_LOCK_TOKEN``; a job started by hand has no token and takes
the lock itself. Read here, at the entry point: code inside the ``fediscope`` package never reads the environment.
A job running under the DAG's lock records its own pid beside it (a job file, :mod:`fediscope.lake.lock`), so the
lock is not taken over while the job still runs, even when the Airflow task that took it was killed.

Before the lock, the lake must exist and hold data (:func:`fediscope.orchestration.require_batch_lake`, the check
of ``fediscope process``): the lock file would otherwise create a mistyped lake, and the metrics job would replace
every metric in the store with the empty results of an empty lake.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

from fediscope.lake.backend import open_lake
from fediscope.lake.lock import INHERIT_ENV, LockHolder, lake_lock
from fediscope.orchestration import require_batch_lake


def job_lock(lake_url: str, command: str) -> AbstractContextManager[LockHolder]:
    lake = open_lake(lake_url)
    require_batch_lake(lake)  # LakeError, nothing created, the store not touched
    return lake_lock(lake, command=command, inherit=os.environ.get(INHERIT_ENV) or None)
