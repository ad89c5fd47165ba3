"""The reducer holds one line of a key at a time, not all of them. Input: a REAL recorded status (``tests/data``),
mapped by ``mapper.py`` and fetched again and again.

Before: ``reducer.py`` gathered every line of a key into a list before it chose the winner, so its memory grew with
the largest group: job 1's lines of one account are one snapshot per status of it the lake holds, and per fetch of
each (a bot's or a busy account's millions), and those of one status one version per fetch and per reblog that
embeds it (a viral status). Some 0.5 KiB a snapshot, 2 KiB a version: a reducer container of 1 GiB failed on an
account with two million snapshots. Now the winner is chosen as the lines go by (a running minimum), and the sums
of job 2 are taken in one pass, so a group of any size takes the memory of one line (and, for a day's tag, of its
distinct authors, which the metric counts).
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

from mapreduce_lakes import tagged_status

from fediscope.lake.layout import envelope
from spark_jobs.mapreduce import mapper, reducer

T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after the recorded statuses were created
#: Lines of one key: enough that holding them takes tens of MiB, few enough to run in seconds.
MANY = 40_000
#: What the reducer may allocate at its peak over such a group (it held 30+ MiB).
PEAK_BYTES = 4 << 20




def _fetches(count: int) -> Iterator[str]:
    """Job 1's input for one status fetched ``count`` times, sorted as the shuffle sorts it: its author's
    ``count`` snapshots (one key), then its ``count`` versions (another), each line made as it is read."""
    status = tagged_status()
    record = envelope("mastodon.example", "/api/v1/timelines/tag/x", status, fetched_at=T0)
    lines = mapper.map_record(record)
    versions = [line.split("\t") for line in lines if line.startswith("S\t")]
    snapshots = [line.split("\t") for line in lines if line.startswith("A\t")]
    assert len(versions) == 1 and len(snapshots) == 1, lines
    fetched = mapper.micros(T0.isoformat())
    assert fetched is not None
    for fields, column in ((snapshots[0], 3), (versions[0], 5)):  # the fetched_at of an A and of an S line
        for i in range(count):
            yield "\t".join([*fields[:column], str(fetched + i * 1_000_000), *fields[column + 1:]]) + "\n"


def _reduce(lines: Iterator[str]) -> tuple[list[str], int]:
    """The reducer's output lines (sorted) and the peak of what it allocated while it read ``lines``."""
    out = io.StringIO()
    tracemalloc.start()
    try:
        reducer.run(lines, out, io.StringIO(), env={})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sorted(out.getvalue().splitlines()), peak


def test_a_key_with_many_lines_is_reduced_in_the_memory_of_one() -> None:
    few, _ = _reduce(_fetches(3))
    assert [line.split("\t")[3] for line in few if line.startswith("E\t")] == ["A", "S"], few

    many, peak = _reduce(_fetches(MANY))

    assert many == few  # the same status and account, whichever fetch won
    assert peak < PEAK_BYTES, f"the reducer held {peak / 2**20:.1f} MiB for one key's {MANY} lines"


def test_job_2_sums_a_key_with_many_lines_in_one_pass() -> None:
    """Job 2's lines of one key come from every job-1 reducer (and each of its flushes): a content feature's from
    all of them, a day's tag one per author. Read once, as a stream."""
    feature = [f"F\t{reducer.bucket('media')}\tmedia\t1\t2\t3\n"] * MANY
    tag = [f"H\t{reducer.bucket('2026-08-01 x')}\t2026-08-01 x\tauthor@example\t1\t5\n"] * MANY

    out, peak = _reduce(iter([*tag, *feature]))

    assert out == [f"content_features\tmedia\t{MANY}\t{2 * MANY}\t0.5\t{3 * MANY}\t1.5",
                   f"hashtags_daily\t2026-08-01\tx\t{MANY}\t1\t{5 * MANY}\t5.0"]
    assert peak < PEAK_BYTES, f"the reducer held {peak / 2**20:.1f} MiB for one key's {MANY} lines"
