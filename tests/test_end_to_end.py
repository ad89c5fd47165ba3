"""End to end: the path ``make demo`` runs (``python -m fediscope.demo``), in a subprocess, twice.

sample instance → scraping API → collector → raw lake → curation (Parquet) → metrics (DuckDB) → SQLite → report
and charts; the second run must be incremental. Every assertion reads the outputs themselves (lake files,
Parquet, the store, PNG headers), not only what the demo prints. Also: a broken installation and a failing step
end the demo with one line and exit 1, and the API check of the demo really fails on a record that differs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from demo_reruns import last_run_hours_ago

from fediscope.analysis import metric
from fediscope.demo import (
    API_PAGE_LIMIT,
    API_PAGES,
    DemoContext,
    check_api,
    check_results_api,
    collect,
    process,
    report,
    start_api,
    start_instance,
)
from fediscope.engine.metrics import load_metrics
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.local import LocalLake
from fediscope.store.port import open_store

REPO = Path(__file__).resolve().parents[1]
STATUSES = 300
NEW = 10  # statuses the instance gains at each run
TIMELINES = 3  # public, local and one hashtag: the paged sources of the demo
#: a timeline page's batch: ``<source>-s<since_id>-m<max_id>``, or (privacy on, as in the demo) ``<source>-<16 hex>``
BATCH_NAME = re.compile(r"^(?P<source>.+?)-(?:s[^/]*-m[^/]*|[0-9a-f]{16})\.jsonl(\.gz)?$")
STREAM_NAME = re.compile(r"^(?P<source>[a-z]+)-stream-\d{8}T\d{6}Z-[0-9a-f]{8}\.jsonl$")
API_LINE = re.compile(r"API check: scraping API at http://127\.0\.0\.1:(?P<port>\d+) served (?P<served>\d+) records? "
                      r"in \d+ pages?, identical to the collector's")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(base: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fediscope.demo", "--dir", str(base), "--statuses", str(STATUSES),
               "--new", str(NEW), *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def status_ids(lake_dir: Path, streamed: bool = False) -> dict[tuple[str, str], list[str]]:
    """Status ids in the raw lake, by (partition directory, source of the batch file): those the collector
    landed, or (``streamed``) those the stream step landed."""
    lake = LocalLake(lake_dir)
    found: dict[tuple[str, str], list[str]] = {}
    for path in raw_batch_files(lake, "statuses"):
        partition, name = path.rsplit("/", 1)
        if bool(STREAM_NAME.match(name)) != streamed:
            continue
        match = STREAM_NAME.match(name) or BATCH_NAME.match(name)
        assert match, f"unexpected batch file name {path}"
        found.setdefault((partition, match["source"]), []).extend(r["data"]["id"] for r in read_batch(lake, path))
    return found


def total(ids: dict[tuple[str, str], list[str]]) -> int:
    return sum(len(v) for v in ids.values())


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@dataclass
class DemoRuns:
    base: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    after_first: dict[tuple[str, str], list[str]]
    after_second: dict[tuple[str, str], list[str]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRuns:
    base = tmp_path_factory.mktemp("demo")
    port = str(free_port())  # one port for both runs: the lake names partitions after host:port
    first = run_demo(base, "--port", port)
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = status_ids(base / "demo-lake")
    last_run_hours_ago(base / "demo-lake", 6)  # a re-run seconds later has nothing due: as if hours had passed
    second = run_demo(base, "--port", port)
    assert second.returncode == 0, second.stdout + second.stderr
    return DemoRuns(base, first, second, after_first, status_ids(base / "demo-lake"))


@pytest.mark.slow
def test_every_step_runs_and_says_where_the_outputs_are(demo: DemoRuns) -> None:
    for run in (demo.first, demo.second):
        if "Traceback" in run.stdout + run.stderr or "FAILED" in run.stdout + run.stderr:
            pytest.fail(f"the demo printed a traceback or FAILED (whole output, not cut):\n{run.stdout}{run.stderr}")
        assert "Note:" not in run.stdout  # no note: the port was free, the instance kept its name
        for number, name in enumerate(("sample instance", "scraping API", "collect", "API check", "stream",
                                       "curate, metrics, SQLite", "report and charts", "results API"), start=1):
            assert re.search(rf"^\[{number}/8\] {re.escape(name)}: .+ \(\d+\.\d s\)$", run.stdout, re.MULTILINE)
        outputs = run.stdout.split("Outputs:")[1]
        for path in ("demo-lake", "demo-lake/raw", "demo-lake/curated", "demo-out/demo.db", "demo-out/report.txt",
                     "demo-out/charts"):
            assert str(demo.base / path) in outputs
        assert "Java: " in run.stdout
        # the records the run landed: the collection's and the stream's (was: the collection's only)
        collected = int(re.search(r"^\[3/8\] collect: landed (\d+) records", run.stdout, re.MULTILINE).group(1))
        streamed = int(re.search(r"^\[5/8\] stream: .*; landed (\d+) ", run.stdout, re.MULTILINE).group(1))
        assert streamed > 0 and f"({collected + streamed} records landed by this run)" in outputs, outputs


@pytest.mark.slow
def test_the_next_step_the_demo_suggests_runs_as_printed(demo: DemoRuns, tmp_path: Path) -> None:
    suggested = re.search(r"^Next: `([^`]+)`", demo.second.stdout, re.MULTILINE)
    assert suggested, demo.second.stdout
    command = shlex.split(suggested.group(1))
    assert command[1:3] == ["report", "--store"]
    # run where the demo ran (the command is relative to it); its charts go to tmp_path, not into the checkout
    done = subprocess.run([*command, "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Top accounts by followers" in done.stdout and list(tmp_path.glob("*.png"))
    # the line after it names the store's tables: they are there, as named
    tables = re.search(r"^  (\S+) is plain SQLite: a table per metric \(metric_<name>, e.g. (metric_\w+)\), each "
                       r"listed with its question in (\w+);", demo.second.stdout, re.MULTILINE)
    assert tables, demo.second.stdout
    with sqlite3.connect(REPO / tables.group(1)) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {tables.group(2), tables.group(3)} <= names
        assert db.execute(f"SELECT count(*) FROM {tables.group(2)}").fetchone()[0] > 0


@pytest.mark.slow
def test_make_clean_removes_what_the_demo_made_and_nothing_else(demo: DemoRuns, tmp_path: Path) -> None:
    """README: "`make clean` removes what `make demo` made". Every output the demo lists goes (they are all in
    demo-lake/ and demo-out/); was: it also removed a ./demo.db, which the demo never writes (its store is
    demo-out/demo.db) but a user's own store could be (``fediscope report --help`` showed ``sqlite:///demo.db``)."""
    checkout = tmp_path / "checkout"
    shutil.copytree(demo.base, checkout)  # the fixture's outputs stay for the other tests
    (checkout / "demo.db").write_bytes(b"a store of the user's own")
    outputs = demo.second.stdout.split("Outputs:")[1].split("Next:")[0]  # not the next command's paths
    listed = re.findall(rf"{re.escape(str(demo.base))}/(\S+)", outputs)
    assert len(listed) >= 6 and all((checkout / path).exists() for path in listed), listed
    done = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "clean"], cwd=checkout, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in checkout.iterdir()) == ["demo.db"]
    assert (checkout / "demo.db").read_bytes() == b"a store of the user's own"


@pytest.mark.slow
def test_the_lake_holds_raw_batches_and_curated_parquet(demo: DemoRuns) -> None:
    lake_dir = demo.base / "demo-lake"
    lake = LocalLake(lake_dir)
    entities = {p.split("/")[2] for p in raw_batch_files(lake)}
    assert {"statuses", "instance", "instance_activity", "directory"} <= entities
    assert total(demo.after_first) > STATUSES / 2  # three timelines of a corpus of STATUSES
    parquet = sorted((lake_dir / "curated").rglob("*.parquet"))
    tables = {p.relative_to(lake_dir / "curated").parts[0] for p in parquet}
    assert {"statuses", "accounts"} <= tables
    curated = [pq.ParquetFile(p).read(columns=["uri", "status_id"]).to_pylist() for p in parquet
               if p.relative_to(lake_dir / "curated").parts[0] == "statuses"]
    uris = [row["uri"] for rows in curated for row in rows]
    assert uris and len(uris) == len(set(uris))  # one row per status, across sources and runs
    public = {i for (_, source), ids in demo.after_second.items() if source == "public" for i in ids}
    assert public <= {str(row["status_id"]) for rows in curated for row in rows}
    # the demo's key is checked like any landing's: a later `fediscope collect` with another key is refused
    from fediscope.lake.key_check import KEY_CHECK_PATH

    assert (lake_dir / KEY_CHECK_PATH).is_file()


@pytest.mark.slow
def test_the_store_holds_every_metric(demo: DemoRuns) -> None:
    store = open_store(f"sqlite:///{demo.base / 'demo-out' / 'demo.db'}")
    try:
        stored = store.stored_metrics()
    finally:
        store.close()
    metrics = load_metrics()
    assert metrics and {name: stored.get(name, 0) > 0 for name in metrics} == {name: True for name in metrics}


@pytest.mark.slow
def test_the_report_and_charts_are_written(demo: DemoRuns) -> None:
    out = demo.base / "demo-out"
    text = (out / "report.txt").read_text(encoding="utf-8")
    sections = re.findall(r"^== (.+) ==$", text, re.MULTILINE)
    assert len(sections) >= 10 and len(text) > 3000
    assert sections[0] in demo.second.stdout  # the excerpt printed at the end is the report's
    charts = sorted((out / "charts").glob("*.png"))
    printed = re.search(r"report and charts: (\d+) analyses, (\d+) charts", demo.second.stdout)
    served = re.search(r"results API: http://127\.0\.0\.1:\d+/v1/analyses served the (\d+) analyses "
                       r"of the report identically", demo.second.stdout)
    assert served and served[1] == printed[1] == str(len(sections)), demo.second.stdout
    assert printed and charts and len(charts) == int(printed[2])
    for chart in charts:
        width, height = png_size(chart)
        assert width >= 400 and height >= 300 and chart.stat().st_size > 10_000, chart.name


@pytest.mark.slow
def test_the_scraping_api_served_what_the_collector_landed(demo: DemoRuns) -> None:
    first, second = API_LINE.search(demo.first.stdout), API_LINE.search(demo.second.stdout)
    assert first and second, demo.first.stdout + demo.second.stdout
    instance_port = re.search(r"sample instance: http://127\.0\.0\.1:(\d+) ", demo.first.stdout)
    assert instance_port and first["port"] != instance_port[1]  # the API is its own server, not the instance
    public = {i for (_, source), ids in demo.after_first.items() if source == "public" for i in ids}
    assert int(first["served"]) == min(len(public), API_PAGES * API_PAGE_LIMIT)
    assert 0 < int(second["served"]) <= NEW + 5  # the second run compares what it collected: the new statuses


@pytest.mark.slow
def test_the_stream_step_landed_what_the_instance_posted(demo: DemoRuns) -> None:
    printed = [int(n) for run in (demo.first, demo.second)
               for n in re.findall(r"stream: the public stream pushed the (?:public status|\d+ public statuses) .*?; "
                                   r"landed (\d+)",
                                   run.stdout)]
    assert len(printed) == 2 and all(printed), demo.first.stdout
    streamed = status_ids(demo.base / "demo-lake", streamed=True)
    ids = [i for (_, source), found in streamed.items() if source == "public" for i in found]
    assert len(ids) == len(set(ids)) == sum(printed)
    assert set(ids).isdisjoint(i for found in demo.after_second.values() for i in found)  # posted after collection


@pytest.mark.slow
def test_the_second_run_is_incremental(demo: DemoRuns) -> None:
    landed = total(demo.after_second) - total(demo.after_first)
    # what the corpus posts at its rhythm in the hours between the runs, at most NEW, on up to three timelines (a few
    # more if the hour turned between the runs); not the corpus again
    assert 0 < landed <= TIMELINES * (NEW + 5), landed
    assert "only what is new since the last run" in demo.second.stdout
    for (partition, source), ids in demo.after_second.items():
        duplicates = [i for i, n in Counter(ids).items() if n > 1]
        assert not duplicates, f"{partition} {source}: statuses landed twice: {duplicates[:5]}"
    for key, ids in demo.after_first.items():
        assert set(ids) <= set(demo.after_second[key])  # nothing landed before went missing


@pytest.mark.slow
def test_a_broken_installation_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "duckdb"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("duckdb is broken on purpose")\n')
    path = os.pathsep.join(p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p)
    run = run_demo(tmp_path / "demo", "--port", "0", env={"PYTHONPATH": path, "MAKELEVEL": "1"})  # as make demo
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "duckdb is broken on purpose" in run.stderr and "make install" in run.stderr


@pytest.mark.slow
def test_a_failing_step_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "demo-out" / "demo.db").mkdir(parents=True)  # the SQLite store cannot be opened
    run = run_demo(tmp_path, "--port", "0")
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert run.stderr.splitlines() == [next(line for line in run.stderr.splitlines() if "FAILED" in line)]
    assert run.stderr.startswith("[6/8] curate, metrics, SQLite: FAILED: "), run.stderr
    assert "StoreError" not in run.stderr  # a fediscope error's message, without its type name
    assert "[4/8] API check: scraping API" in run.stdout and "[5/8] stream: the public stream pushed" in run.stdout
    assert "Stopped in" in run.stdout and "[7/8]" not in run.stdout


@pytest.mark.slow
def test_a_collection_that_cannot_land_fails_in_one_line(tmp_path: Path) -> None:
    """README: "A step that fails is one line on stderr". Was: every failed source was logged as a WARNING line
    first, then the FAILED line repeated each source's reason with its path (a full disk: 9 lines on stderr, the
    last of 1,800 characters, saying "No space left on device" 8 times)."""
    (tmp_path / "demo-lake").mkdir()
    (tmp_path / "demo-lake" / "raw").write_text("")  # a file where the raw lake goes: no batch can land
    run = run_demo(tmp_path, "--port", "0")
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("[3/8] collect: FAILED: "), run.stderr
    assert lines[0].count("Not a directory") == 1, lines[0]  # the first source's reason, once
    assert re.search(r" public: cannot write \S+: Not a directory \(and 7 other sources: local, tag:\S+, instance, "
                     r"instance_activity, instance_peers, trends_tags, directory\)$", lines[0]), lines[0]
    assert "Stopped in" in run.stdout and "[4/8]" not in run.stdout


def test_the_api_check_fails_when_a_record_differs_and_the_api_stops(tmp_path: Path) -> None:
    ctx = DemoContext(base=tmp_path, n_statuses=150, port=0, new_statuses=0)
    try:
        start_instance(ctx)
        start_api(ctx)
        collect(ctx)
        assert "identical to the collector's" in check_api(ctx)
        # change one landed public status the API serves on its first page
        lake = LocalLake(ctx.lake_dir)
        public = [p for p in raw_batch_files(lake, "statuses") if p.rsplit("/", 1)[1].startswith("public-")]
        newest = max(((p, r["data"]["id"]) for p in public for r in read_batch(lake, p)),
                     key=lambda item: (len(item[1]), item[1]))
        path = ctx.lake_dir / newest[0]
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        for record in lines:
            if record["data"]["id"] == newest[1]:
                record["data"]["favourites_count"] += 1
        path.write_text("".join(json.dumps(r) + "\n" for r in lines))
        with pytest.raises(RuntimeError, match=rf"^1 of the \d+ records .* e\.g\. status {newest[1]}$"):
            check_api(ctx)
        api_url = ctx.api.url if ctx.api else ""
    finally:
        ctx.stop_servers()
    assert ctx.api is None and ctx.server is None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api_url}/health", timeout=2)


def test_the_results_check_fails_when_the_store_no_longer_matches_the_report(tmp_path: Path) -> None:
    import io

    ctx = DemoContext(base=tmp_path, n_statuses=150, port=0, new_statuses=0, out=io.StringIO())
    try:
        start_instance(ctx)
        start_api(ctx)
        collect(ctx)
        process(ctx)
        report(ctx)
        assert ctx.analyses and "identically" in check_results_api(ctx)
        store = open_store(f"sqlite:///{ctx.db_path}")
        try:
            rows = store.all(metric("languages"))
            store.write(metric("languages"), [dict(rows[0], toots=rows[0]["toots"] + 1), *rows[1:]])
        finally:
            store.close()
        with pytest.raises(RuntimeError, match=r"answered 1 of \d+ analyses differently from the report: languages$"):
            check_results_api(ctx)
    finally:
        ctx.stop_servers()


def test_a_demo_lake_curated_by_an_older_fediscope_is_rebuilt(tmp_path: Path) -> None:
    import io

    from fediscope.engine.curate_sql import rules_fingerprint
    from fediscope.engine.manifest import MANIFEST_PATH

    ctx = DemoContext(base=tmp_path, n_statuses=150, port=0, new_statuses=0, out=io.StringIO())
    try:
        start_instance(ctx)
        collect(ctx)
        assert process(ctx).startswith("duckdb: curated ")
        manifest = ctx.lake_dir / MANIFEST_PATH
        body = json.loads(manifest.read_text())
        assert body["rules"] == rules_fingerprint()
        body["rules"] = "rules-of-an-older-fediscope"
        manifest.write_text(json.dumps(body))
        line = process(ctx)
        assert line.startswith("duckdb: rebuilt (curated by an older fediscope) from "), line
        assert json.loads(manifest.read_text())["rules"] == rules_fingerprint()
        assert "nothing new to curate" in process(ctx)
    finally:
        ctx.stop_servers()


def test_the_demo_api_stops_when_its_trigger_pipe_was_closed_under_it(tmp_path: Path) -> None:
    """Seen once in a full test run: ``stop`` found the write end of waitress's trigger pipe closed (EBADF). The
    API still stops: every socket closed, the loop ended."""
    import io

    ctx = DemoContext(base=tmp_path, n_statuses=150, port=0, new_statuses=0, out=io.StringIO())
    try:
        start_instance(ctx)
        start_api(ctx)
        api = ctx.api
        assert api is not None and requests.get(f"{api.url}/health", timeout=5).status_code == 200
        os.close(api.server.trigger.trigger)  # what the stray close did
        ctx.stop_servers()
        assert not api._thread.is_alive()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{api.url}/health", timeout=2)
    finally:
        ctx.stop_servers()


@pytest.mark.slow
def test_a_rerun_asking_for_another_corpus_is_refused_and_collects_nothing(demo: DemoRuns) -> None:
    refused = run_demo(demo.base, "--statuses", str(STATUSES + 1))  # the last --statuses counts
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith(f"fediscope demo: this lake was collected from the sample corpus of {STATUSES} "
                                     "statuses (seed 0)"), refused.stderr
    assert "--fresh" in refused.stderr and "Traceback" not in refused.stderr and not refused.stdout
    assert status_ids(demo.base / "demo-lake") == demo.after_second
