"""The lake lock of a ``spark-submit`` job: its own, or the one the batch DAG holds across both jobs.

The DAG (:func:`fediscope.orchestration.process_window`) takes the lock before submitting curation and then the
metrics, and hands its token down in ``FEDISCOPE_LAKE_LOCK_TOKEN``; a job started by hand has no token and takes
the lock itself. Read here, at the entry point: code inside the ``fediscope`` package never reads the environment.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

from fediscope.lake.backend import open_lake
from fediscope.lake.lock import INHERIT_ENV, LockHolder, lake_lock


def job_lock(lake_url: str, command: str) -> AbstractContextManager[LockHolder]:
    return lake_lock(open_lake(lake_url), command=command, inherit=os.environ.get(INHERIT_ENV) or None)
