"""Killing the collector at any moment and running it again loses no status and lands none twice per partition.

Two proofs: an exhaustive in-process one that "kills" the run (an exception nothing catches) at every single
lake write of a run — before and after the write — and a real one that SIGKILLs ``fediscope collect`` running
as a subprocess at several points of its walk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from doubles.mastodon_server import MastodonDouble

import fediscope.sources.collector as collector
from fediscope.config import Settings
from fediscope.lake.backend import open_lake
from fediscope.sources.spec import parse_source


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so the collector cannot catch it."""


class KillingLake:
    """A lake that dies at its ``kill_at``-th write, before or after the write reaches the disk."""

    def __init__(self, inner, kill_at: int, after_write: bool) -> None:
        self.inner, self.kill_at, self.after_write, self.writes = inner, kill_at, after_write, 0

    def write_atomic(self, path: str, data: bytes) -> None:
        self.writes += 1
        if self.writes == self.kill_at and not self.after_write:
            raise Killed(path)
        self.inner.write_atomic(path, data)
        if self.writes == self.kill_at and self.after_write:
            raise Killed(path)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def _assert_exactly_once(lake, server: MastodonDouble) -> None:
    counts = lake.ids()
    served = {s["id"] for s in server.public_statuses()}
    assert {status_id for _partition, status_id in counts} == served, "a status was lost"
    twice = [key for key, n in counts.items() if n > 1]
    assert twice == [], "a status landed twice in one partition"


def _count_writes(settings: Settings, targets) -> int:
    holder = {}

    def counting(url: str):
        holder["lake"] = KillingLake(open_lake(url), kill_at=-1, after_write=False)
        return holder["lake"]

    original = collector.open_lake
    collector.open_lake = counting
    try:
        collector.run_collection(settings, targets, progress=False)
    finally:
        collector.open_lake = original
    return holder["lake"].writes


def test_a_kill_at_every_write_loses_nothing_and_duplicates_nothing(make_settings, lake_dir, lake,
                                                                    monkeypatch) -> None:
    with MastodonDouble(statuses=25) as probe:
        settings = make_settings()
        writes = _count_writes(settings, [(probe.url, parse_source("public")),
                                          (probe.url, parse_source("instance"))])
    shutil.rmtree(lake_dir)
    assert writes >= 8
    for kill_at in range(1, writes + 1):
        for after_write in (False, True):
            with MastodonDouble(statuses=25) as server:
                targets = [(server.url, parse_source("public")), (server.url, parse_source("instance"))]
                monkeypatch.setattr(collector, "open_lake",
                                    lambda url, k=kill_at, a=after_write: KillingLake(open_lake(url), k, a))
                with pytest.raises(Killed):
                    collector.run_collection(settings, targets, progress=False)
                monkeypatch.undo()
                server.add_statuses(6)  # the world moves on while the collector is down
                collector.run_collection(settings, targets, max_pages=2, progress=False)
                collector.run_collection(settings, targets, progress=False)
                _assert_exactly_once(lake, server)
            shutil.rmtree(lake_dir)


def _collect_process(server: MastodonDouble, lake_dir: Path, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_PSEUDONYM_KEY="kill-test-key", FEDISCOPE_PAGE_LIMIT="10",
               FEDISCOPE_BACKFILL_PAGES="1000", FEDISCOPE_RETRY_BACKOFF="0.01")
    command = [sys.executable, "-c", "from fediscope.cli import main; main()", "collect", "--instance", server.url,
               "--timeline", "public", "--timeline", "instance", "--json"]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow  # five collector processes: ~1.5 s on an idle machine, more under load
def test_sigkill_mid_run_and_resume(tmp_path, lake) -> None:
    lake_dir = lake.root
    with MastodonDouble(statuses=300, delay=0.01) as server:
        for kill_after in (3, 7, 5, 9):  # timeline answers served before the SIGKILL (30 pages in all)
            process = _collect_process(server, lake_dir, tmp_path)
            start = len(server.requests_to("/api/v1/timelines"))
            deadline = time.monotonic() + 30
            while len(server.requests_to("/api/v1/timelines")) < start + kill_after:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.002)
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
            server.add_statuses(4)
        final = _collect_process(server, lake_dir, tmp_path)
        out, err = final.communicate(timeout=60)
        assert final.returncode == 0, err
        assert lake.records("instance")
        _assert_exactly_once(lake, server)
