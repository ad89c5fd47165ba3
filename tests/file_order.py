"""The order the suite's files run in: the heaviest first, so that the last files of a parallel run are short.

``make test`` runs the suite on two processes, a whole file in one of them (pytest-xdist's ``--dist loadfile``),
each process taking the next file when it is almost done with its own. xdist queued the files by their number of
tests, most first (its ``--loadscope-reorder``, on by default), which put the files of a few long Spark tests last:
tests/test_daily_runs.py, the own-metric Spark files, test_spark_job_provenance.py (the batch DAG's two Spark jobs)
ran at the end, one process working through them while the other had nothing left to take. Heaviest first, the
files left at the end are those of quick tests, which the two processes share until both are done.

A file's weight is a guess from its tests' markers (a Spark test takes tens of seconds, a plain one a fraction of
one); only the order of the files changes, never which tests run or the order of a file's own tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

#: The guessed cost of a test by its heaviest marker; a test without any of them costs :data:`PLAIN`.
MARKER_WEIGHTS = {"spark": 20.0, "slow": 10.0, "airflow": 5.0, "mariadb": 2.0}
PLAIN = 0.1


def item_weight(item: pytest.Item) -> float:
    return max((weight for name, weight in MARKER_WEIGHTS.items() if item.get_closest_marker(name)), default=PLAIN)


def heaviest_files_first(items: Sequence[pytest.Item]) -> list[pytest.Item]:
    """``items`` with their files in the order of their summed :func:`item_weight`, heaviest first (files of equal
    weight as they were collected); each file's tests stay together, in their own order."""
    weights: dict[str, float] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        weights[path] = weights.get(path, 0.0) + item_weight(item)
    collected = {path: index for index, path in enumerate(weights)}

    def file_rank(item: pytest.Item) -> tuple[float, int]:
        path = item.nodeid.split("::")[0]
        return -weights[path], collected[path]

    return sorted(items, key=file_rank)  # stable: a file's tests keep their order
