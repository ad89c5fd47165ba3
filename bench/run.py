"""``make bench`` (``python -m bench.run``): measure curation, metrics, the MapReduce pipe and an incremental run.

Usage::

    python -m bench.run [--statuses 500000] [--engines duckdb,spark,mapreduce] [--seed 7] [--repeat 3]
                        [--erase-statuses 100000] [--workdir DIR] [--keep] [--results-dir bench/results]
                        [--spark-master local[2]] [--spark-driver-memory 4g]

Steps, in order, each in its own process (:mod:`bench.measure`; peak memory per step):

1. generate the corpus into a raw lake (not timed as a result; reused when ``--workdir`` already holds the
   same corpus) and the next day of the same instance for the incremental run: 1% more statuses, by mostly the
   same accounts, plus re-fetched versions of some of the corpus's latest statuses and the day's account snapshots;
2. the bare DuckDB ``read_json`` baseline over the raw statuses;
3. ``fediscope process`` on DuckDB over a fresh lake (hard links to the raw files; nothing curated yet);
4. the incremental run: the 1% new files are added to that lake and ``fediscope process`` runs again;
5. ``fediscope gdpr erase`` of the account with the most curated statuses, once, from a copy of the last full
   run's lake and store (made before its incremental run) — or, when ``--statuses`` is over ``--erase-statuses``
   (100,000 by default), from a corpus of that many statuses of its own, generated and processed for it: the
   erasure takes many times a full run (tens of seconds at 100,000 statuses, so minutes at 500,000).
   ``--erase-statuses 0`` leaves it out; like the streaming step, it runs with the ``duckdb`` engine;
6. ``fediscope process`` on Spark (JVM start timed on its own) over another fresh lake — skipped, with the
   reason, when pyspark or Java 17+ is missing (an older Java too: Spark would fail on it);
7. ``fediscope stream`` landing up to 50,000 of the corpus' statuses pushed by a local server (with DuckDB); the
   server (:mod:`bench.push`) runs in a process of its own, so the step's peak memory is ``fediscope stream``'s;
8. the MapReduce chain over the raw files.

Steps 2 to 4 take seconds each and are run ``--repeat`` times (3 by default; the incremental run each time
after a full run over a fresh lake); each step keeps its median run, whose figures the table and the ratios use,
and the JSON lists the seconds of every run (``runs_seconds``). The erasure, Spark and MapReduce steps take tens of
seconds to minutes and run once.

Then it prints a table (seconds, statuses/s, peak MiB), the ratios and the targets (PASS / MISS / SKIP, as
measured), and writes everything as JSON to ``bench/results/<UTC timestamp>.json``. Everything runs on this
machine in one go; the load average at start and end is recorded, since other work on the machine skews times.

A step that fails ends the run, but not its figures: the JSON is written with what was measured before it, the
failed step's one-line error under ``stages.<step>.failed`` and ``failed`` (step and error) at the top; the table
shows what ran, and the exit status is 1. Before anything runs, ``--statuses`` is checked against the free space of
the work folder (:func:`space_needed`, exit 2 when short); interrupted (Ctrl-C, SIGTERM), the run ends the running
step's processes and removes its temporary work folder (exit 130 or 143).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from bench import push
from bench.measure import ROOT, Measured, StageError, child_env, end_process, run_stage
from bench.report import ratios, table, targets
from bench.stages import most_active_account
from fediscope.engine.spark_engine import require_java
from fediscope.errors import ConfigError
from fediscope.files import atomic_out

ENGINES = ("duckdb", "spark", "mapreduce")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
STREAM_EVENTS = 50_000  # statuses pushed through `fediscope stream` (at most the corpus size)
ERASE_STATUSES = 100_000  # the largest corpus the gdpr erase step erases from (`--erase-statuses`)
#: Bytes a generated status takes in the raw lake, rounded up: about 1.9-2.1 KB landed (edit history and account
#: snapshots included), measured at 2,000 and 500,000 statuses.
RAW_BYTES_PER_STATUS = 2_500
SPACE_MARGIN = 256 * 2**20  # stores, Parquet footers, small files: what does not grow with the corpus


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--statuses", type=int, default=500_000, help="statuses to generate (default 500000)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of duckdb,spark,mapreduce (default: all)")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (default 7)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the baseline and DuckDB steps, the median kept (default 3)")
    parser.add_argument("--new-fraction", type=float, default=0.01, help="new data of the incremental run (0.01)")
    parser.add_argument("--workdir", type=Path, help="where lakes are built (default: a temporary directory); "
                        "a corpus already generated there with the same size and seed is reused")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (default: delete it)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON result is written")
    parser.add_argument("--erase-statuses", type=int, default=ERASE_STATUSES,
                        help="the gdpr erase step erases from the DuckDB full run's lake when --statuses is at most "
                        f"this, else from a corpus of this many statuses of its own; 0: no erase step "
                        f"(default {ERASE_STATUSES})")
    parser.add_argument("--spark-master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--spark-driver-memory", default="4g", help="Spark driver heap (default 4g)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        parser.error(f"--engines: unknown {', '.join(unknown) or '(empty)'}; use a subset of {','.join(ENGINES)}")
    if args.statuses < 100:
        parser.error("--statuses must be at least 100")
    if not 0 < args.new_fraction <= 0.5:
        parser.error("--new-fraction must be in (0, 0.5]")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.erase_statuses != 0 and args.erase_statuses < 100:
        parser.error("--erase-statuses must be 0 (no erase step) or at least 100")
    args.engines = engines
    for option, folder in (("--results-dir", args.results_dir), ("--workdir", args.workdir)):
        problem = folder_problem(folder) if folder is not None else None
        if problem:  # checked now: found only after the run, it would lose minutes of measurements
            parser.error(f"{option} {folder}: {problem}")
    folder = args.workdir or Path(tempfile.gettempdir())
    needed, free = space_needed(args), shutil.disk_usage(folder).free
    if needed > free:  # else it generates for hours and fails when the disk is full
        parser.error(f"--statuses {args.statuses:,}: the run would write about {_gib(needed)} GiB into {folder}, "
                     f"which has {_gib(free)} GiB free; use fewer statuses or a --workdir with more space")
    return args


def _gib(size: int) -> str:
    return f"{size / 2**30:,.1f}" if size < 2**60 else f"{size // 2**30:,}"  # a float cannot hold any int


def space_needed(args: argparse.Namespace) -> int:
    """A conservative estimate of the bytes the run writes into its work folder (sort and Spark spills counted
    too, though they may go to the temporary folder): the raw corpus, at :data:`RAW_BYTES_PER_STATUS` a status,
    unless ``--workdir`` already holds it, and in that unit, per step: a full run's curated Parquet and store
    (half a raw corpus: about a third measured), the erasure (its raw batches rewritten, the curated Parquet and
    store copied: 1.5; on a corpus of its own, that corpus and its processing too), the streaming step (its
    landed lake and the pushed events' file: 2 for up to :data:`STREAM_EVENTS`), Spark's Parquet and scratch (1)
    and the MapReduce pipe's sort spills (1). Integer arithmetic: ``--statuses`` can be any integer."""
    raw = RAW_BYTES_PER_STATUS
    n, erase = args.statuses, args.erase_statuses

    def generated(statuses: int) -> Fraction:
        folder = args.workdir and corpus_home(args.workdir, argparse.Namespace(**{**vars(args), "statuses": statuses}))
        if folder and (folder / "corpus.json").exists():
            return Fraction(0)
        return statuses * raw * (1 + Fraction(args.new_fraction))

    need = generated(n)
    if "duckdb" in args.engines:
        need += n * raw * Fraction(1, 2)
        if 0 < n <= erase:
            need += n * raw * Fraction(3, 2)
        elif erase:
            need += generated(erase) + erase * raw * 2
        need += min(n, STREAM_EVENTS) * raw * 2
    if "spark" in args.engines:
        need += n * raw
    if "mapreduce" in args.engines:
        need += n * raw
    return int(need) + SPACE_MARGIN


def folder_problem(folder: Path) -> str | None:
    """Why the benchmark cannot write into ``folder`` (created when missing, as the run would), or None."""
    if folder.exists() and not folder.is_dir():
        return "not a directory"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if not os.access(folder, os.W_OK | os.X_OK):
        return "not writable"
    return None


def progress(text: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def spark_unavailable() -> str | None:
    """Why Spark cannot run here (None when it can)."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install pyspark)"
    try:  # missing, or too old to run Spark (which would fail the whole benchmark after the DuckDB steps)
        require_java("")
    except ConfigError as exc:
        return str(exc)
    return None


def link_tree(source: Path, target: Path) -> int:
    """Hard-link every file under ``source`` into ``target`` (same relative paths); returns the file count.

    Raw batches are never modified in place, so linked copies are as good as real ones and cost no space.
    """
    count = 0
    for path in sorted(source.rglob("*")):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copy2(path, dest)
            count += 1
    return count


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version()}
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    for package in ("duckdb", "pyspark"):
        try:
            from importlib.metadata import version

            info[package] = version(package)
        except Exception:  # noqa: BLE001 - informational only
            info[package] = None
    java = shutil.which("java")
    if java:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        info["java"] = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else None
    return info


def _stage(name: str, args: dict[str, Any], which: str = "", env: dict[str, str] | None = None) -> Measured:
    label = f"{name} ({which})" if which else name
    progress(f"{label}: running")
    try:
        measured = run_stage(name if name in ("generate", "baseline", "mapreduce", "stream", "erase") else "process",
                             args, env)
    except StageError as exc:  # named as the table names the step ("duckdb", not "process")
        raise StageError("erase" if name == "erase_lake" else name, exc.error, which) from None
    progress(f"{label}: done in {measured.wall_seconds:.1f} s wall, peak {measured.peak_rss_bytes / 2**20:.0f} MiB")
    return measured


def _median(runs: list[Measured], key: str) -> dict[str, Any]:
    """The median run (the lower one of an even count: always a run that happened) by its result's ``key``,
    with the seconds of every run, in the order they ran."""
    chosen = sorted(runs, key=lambda m: m.result[key])[(len(runs) - 1) // 2]
    out = chosen.as_dict()
    if len(runs) > 1:
        out.update(repeats=len(runs), runs_seconds=[round(m.result[key], 3) for m in runs])
    return out


def _repeated(name: str, args: dict[str, Any], repeat: int, key: str) -> dict[str, Any]:
    return _median([_stage(name, args, f"run {i}/{repeat}" if repeat > 1 else "") for i in range(1, repeat + 1)],
                   key)


def copy_processed(lake: Path, store: Path, lake_copy: Path, store_copy: Path) -> None:
    """A copy of a processed lake and its SQLite store that an erasure can rewrite without touching them: the raw
    batches hard-linked (:func:`link_tree`: lake writes replace files, never change them in place), the rest of the
    lake (curated Parquet, state) and the store copied."""
    shutil.rmtree(lake_copy, ignore_errors=True)
    store_copy.unlink(missing_ok=True)
    link_tree(lake / "raw", lake_copy / "raw")
    for entry in lake.iterdir():
        if entry.name != "raw":
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, lake_copy / entry.name)
    shutil.copy2(store, store_copy)


def _duckdb_runs(workdir: Path, base: Path, new: Path, repeat: int,
                 keep: tuple[Path, Path] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``repeat`` pairs of a full run over a fresh lake and the incremental run after it; the median of each.
    With ``keep`` (a lake and a store path), the last full run's lake and store are copied there
    (:func:`copy_processed`) before its incremental run changes them."""
    lake, store = workdir / "lake-duckdb", workdir / "duckdb-metrics.db"
    process = {"lake": str(lake), "store": str(store), "engine": "duckdb"}
    full: list[Measured] = []
    incremental: list[Measured] = []
    for i in range(1, repeat + 1):
        which = f"run {i}/{repeat}" if repeat > 1 else ""
        shutil.rmtree(lake, ignore_errors=True)
        store.unlink(missing_ok=True)
        link_tree(base / "raw", lake / "raw")
        full.append(_stage("duckdb", process, which))
        if keep is not None and i == repeat:
            copy_processed(lake, store, *keep)
        added = link_tree(new / "raw", lake / "raw")
        progress(f"duckdb_incremental: {added} new raw files added")
        incremental.append(_stage("duckdb_incremental", process, which))
    return _median(full, "total_seconds"), _median(incremental, "total_seconds")


def _erasure(lake: Path, store: Path, args: argparse.Namespace, lake_statuses: int,
             process_seconds: float) -> dict[str, Any]:
    """``fediscope gdpr erase`` of the most active account of the corpus of ``args.statuses`` from ``lake`` and
    ``store`` (processed by a DuckDB full run of ``process_seconds``; ``lake_statuses`` status records landed),
    once: it takes tens of seconds where the DuckDB steps take seconds."""
    who = most_active_account(lake, args.statuses, args.seed)
    progress(f"erase: the most active account has {who['account_statuses']:,} curated statuses")
    measured = _stage("erase", {"lake": str(lake), "store": str(store), **who}).as_dict()
    return {**measured, "corpus_statuses": args.statuses, "lake_statuses": lake_statuses,
            "process_seconds": process_seconds}


def _erasure_of_own_corpus(workdir: Path, lake: Path, store: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The erasure on a corpus of ``--erase-statuses`` statuses (same seed) when the benchmark's is larger: it
    takes a few times a full run (about 2× at 100,000 statuses), and at 500,000 statuses it alone would take
    far longer than the other DuckDB steps. The corpus is generated (reused with ``--workdir``, as the main one)
    and processed once on DuckDB, that run's seconds kept for the ratio; neither is a step of the table."""
    own = argparse.Namespace(**{**vars(args), "statuses": args.erase_statuses})
    holder: dict[str, Any] = {"stages": {}}
    try:
        base, _ = corpus(workdir, own, holder)
    except StageError as exc:  # the erase step's failure: the benchmark's own corpus is fine
        raise StageError("erase", exc.error, f"generating its {args.erase_statuses:,}-status corpus") from None
    shutil.rmtree(lake, ignore_errors=True)
    store.unlink(missing_ok=True)
    link_tree(base / "raw", lake / "raw")
    processed = _stage("erase_lake", {"lake": str(lake), "store": str(store), "engine": "duckdb"},
                       f"processing its {args.erase_statuses:,}-status corpus")
    return _erasure(lake, store, own, holder["stages"]["generate"]["corpus"]["statuses"],
                    processed.result["total_seconds"])


#: What a landed raw record holds; a reused corpus must have been landed with the same (2: statuses carry
#: ``origin_ref``; 3: the new data is the corpus's next day, not another seed's). Raise it when landing changes.
LANDING_FORMAT = 3


def corpus_home(workdir: Path, args: argparse.Namespace) -> Path:
    """Where the corpus of ``args`` is generated in ``workdir`` (and found again by a later run)."""
    return workdir / f"corpus-{args.statuses}-seed{args.seed}-new{args.new_fraction:g}"


def corpus(workdir: Path, args: argparse.Namespace, results: dict[str, Any]) -> tuple[Path, Path]:
    """The generated raw lakes (base corpus, new data), reused when ``workdir`` already holds them."""
    home = corpus_home(workdir, args)
    marker = home / "corpus.json"
    base, new = home / "base", home / "new"
    kept = json.loads(marker.read_text()) if marker.exists() else None
    if kept is not None and kept.get("landing_format") == LANDING_FORMAT:
        progress(f"generate: reusing the corpus in {home}")
        results["stages"]["generate"] = {**kept, "reused": True}
        return base, new
    if kept is not None:
        progress(f"generate: the corpus in {home} was landed by an older fediscope (records without fields landing "
                 "adds now, or new data of another kind): generating it again")
    shutil.rmtree(home, ignore_errors=True)
    progress(f"generate: {args.statuses:,} statuses + {args.new_fraction:.0%} new data into {home} "
             "(a few minutes for 500,000)")
    measured = _stage("generate", {"base": str(base), "new": str(new), "statuses": args.statuses,
                                   "seed": args.seed, "new_fraction": args.new_fraction})
    results["stages"]["generate"] = measured.as_dict()
    marker.write_text(json.dumps({**measured.as_dict(), "landing_format": LANDING_FORMAT}))
    c = measured.result["corpus"]
    progress(f"generate: {c['statuses']:,} status records ({c['skipped_by_policy']:,} skipped by the privacy "
             f"policy) and {c['accounts']:,} accounts in {measured.wall_seconds:.0f} s")
    return base, new


@contextlib.contextmanager
def pushing_server(lake: Path, events: int, body: Path) -> Iterator[dict[str, Any]]:
    """The stream step's server (:mod:`bench.push`) in a process of its own, pushing up to ``events`` statuses of
    ``lake`` from the file ``body``: yields its ``url``, ``events``, ``bytes`` and ``pid``; ended (and ``body``
    removed) on leaving. A process of this one, not of the measured stage: the stage's peak is fediscope's alone."""
    command = [sys.executable, "-m", "bench.push", json.dumps({"lake": str(lake), "events": events,
                                                                "body": str(body)})]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=None, cwd=ROOT, env=child_env(), text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith(push.READY_PREFIX):
            code = proc.wait()
            error = (json.loads(line[len(push.ERROR_PREFIX):]) if line.startswith(push.ERROR_PREFIX)
                     else f"exit {code}, not listening")
            raise StageError("stream", f"the pushing server: {error}")
        yield json.loads(line[len(push.READY_PREFIX):])
    finally:
        end_process(proc)
        if proc.stdout:
            proc.stdout.close()
        body.unlink(missing_ok=True)


def _stream_step(workdir: Path, base: Path, events: int) -> dict[str, Any]:
    out = workdir / "lake-stream"
    shutil.rmtree(out, ignore_errors=True)
    with pushing_server(base, events, workdir / "stream-events.sse") as pushed:
        progress(f"stream: a server (pid {pushed['pid']}, not measured) pushes {pushed['events']:,} update events "
                 f"({pushed['bytes'] / 2**20:.0f} MiB)")
        measured = _stage("stream", {"out": str(out), "url": pushed["url"], "events": pushed["events"]})
    return {**measured.as_dict(), "mib": round(pushed["bytes"] / 2**20, 1),
            "memory_covers": "fediscope stream's process alone: the pushing server runs in a process of its own"}


def _failure(exc: Exception, step: str) -> dict[str, str]:
    """The failed step and its one-line error (a stage's own, else this process' exception)."""
    if isinstance(exc, StageError):
        return {"step": exc.stage, "error": exc.error, **({"run": exc.run} if exc.run else {})}
    first = (str(exc).strip().splitlines() or [""])[0]
    return {"step": step, "error": f"{type(exc).__name__}: {first}"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "params": {"statuses": args.statuses, "seed": args.seed, "engines": args.engines, "repeat": args.repeat,
                   "new_fraction": args.new_fraction, "erase_statuses": args.erase_statuses,
                   "spark_master": args.spark_master,
                   "spark_driver_memory": args.spark_driver_memory},
        "machine": {**machine(), "load_average_at_start": list(os.getloadavg())},
        "stages": {},
    }
    stages = results["stages"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fediscope-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results["workdir"] = str(workdir)
    step = "generate"  # the step running, for a failure of this process (a stage's failure names its own)
    try:
        base, new = corpus(workdir, args, results)
        step = "baseline"
        stages["baseline"] = _repeated("baseline", {"lake": str(base)}, args.repeat, "seconds")
        context = _repeated("baseline", {"lake": str(base), "full_parse": True}, args.repeat, "seconds")
        stages["baseline"].update(full_parse_seconds=context["seconds"],
                                  full_parse_peak_rss_mib=context["peak_rss_mib"])
        parse = _repeated("baseline", {"lake": str(base), "parse_only": True}, args.repeat, "seconds")
        stages["baseline"].update(parse_only_seconds=parse["seconds"])
        floor = _repeated("baseline", {"lake": str(base), "features": True}, args.repeat, "seconds")
        stages["baseline"].update(features_seconds=floor["seconds"])

        if "duckdb" in args.engines:
            step = "duckdb"
            erased = workdir / "lake-erase", workdir / "erase-metrics.db"
            on_full_lake = 0 < args.statuses <= args.erase_statuses  # else a smaller corpus of its own, or none
            stages["duckdb"], stages["duckdb_incremental"] = _duckdb_runs(workdir, base, new, args.repeat,
                                                                          erased if on_full_lake else None)
            step = "erase"
            if on_full_lake:
                stages["erase"] = _erasure(*erased, args, stages["generate"]["corpus"]["statuses"],
                                           stages["duckdb"]["total_seconds"])
            elif args.erase_statuses:
                stages["erase"] = _erasure_of_own_corpus(workdir, *erased, args)
            else:
                stages["erase"] = {"skipped": "--erase-statuses 0"}

        if "spark" in args.engines:
            step = "spark"
            reason = spark_unavailable()
            if reason:
                progress(f"spark: SKIPPED — {reason}")
                stages["spark"] = {"skipped": reason}
            else:
                lake = workdir / "lake-spark"
                shutil.rmtree(lake, ignore_errors=True)
                link_tree(base / "raw", lake / "raw")
                (workdir / "spark-metrics.db").unlink(missing_ok=True)
                env = {"PYSPARK_SUBMIT_ARGS": f"--driver-memory {args.spark_driver_memory} pyspark-shell"}
                stages["spark"] = _stage("spark", {"lake": str(lake), "store": str(workdir / "spark-metrics.db"),
                                                   "engine": "spark", "spark_master": args.spark_master},
                                         env=env).as_dict()

        if "duckdb" in args.engines:  # the streaming path (no engine: it lands raw records)
            step = "stream"
            stages["stream"] = _stream_step(workdir, base, min(args.statuses, STREAM_EVENTS))

        if "mapreduce" in args.engines:
            step = "mapreduce"
            stages["mapreduce"] = _stage("mapreduce", {"lake": str(base),
                                                       "out": str(workdir / "mapreduce-metrics.tsv")}).as_dict()
    except Exception as exc:  # noqa: BLE001 - recorded with what was measured before it (main exits 1)
        failed = results["failed"] = _failure(exc, step)
        stages.setdefault(failed["step"], {})["failed"] = failed["error"]
        progress(f"FAILED: {failed['step']}{' (' + failed['run'] + ')' if 'run' in failed else ''}: "
                 f"{failed['error']}; the steps after it did not run")
    finally:
        results["machine"]["load_average_at_end"] = list(os.getloadavg())
        results["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results["ratios"] = {k: (None if v is None else round(v, 4)) for k, v in ratios(stages).items()}
    results["targets"] = [t.as_dict() for t in targets(stages)]
    return results


def _interrupt_on_sigterm() -> None:
    """SIGTERM as Ctrl-C: the running step's processes ended and the temporary work folder removed (the default
    action would leave both behind)."""
    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the clean-up short
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, handler)


def results_path(results_dir: Path, now: datetime) -> Path:
    """The run's results file: ``<results-dir>/<UTC timestamp>.json``."""
    return results_dir / f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.json"


def write_results(out: Path, results: dict[str, Any]) -> None:
    """Write the results whole or not at all (:func:`fediscope.files.atomic_out`), its folder made first: the name
    is foreseeable, so a symbolic link planted at it is replaced, never written through; a run stopped or a disk
    filled meanwhile leaves no partial file. Raises the OSError."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_out(out) as write:
        write((json.dumps(results, indent=1, default=str) + "\n").encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress(f"statuses={args.statuses:,} engines={','.join(args.engines)} cpus={os.cpu_count()} "
             f"load={os.getloadavg()[0]:.1f}")
    _interrupt_on_sigterm()
    try:
        results = run(args)
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        progress(f"interrupted ({signal.Signals(signum).name}): nothing written"
                 + ("" if args.workdir or args.keep else ", the work folder removed"))
        return 128 + signum
    out = results_path(args.results_dir, datetime.now(UTC))
    written = True
    try:
        write_results(out, results)
    except OSError as exc:  # e.g. the disk filled during the run: the table below still shows the figures
        progress(f"could not write the results to {out}: {exc.strerror or exc}")
        written = False
    print()
    landed = ((results["stages"].get("generate") or {}).get("corpus") or {}).get("statuses")
    print(f"fediscope benchmark: {args.statuses:,} generated statuses "
          f"({'no' if landed is None else f'{landed:,}'} status records landed), "
          f"{results['machine']['cpus']} CPUs, load average {results['machine']['load_average_at_start'][0]:.1f} "
          f"at start / {results['machine']['load_average_at_end'][0]:.1f} at end")
    print(table(results))
    if not written:
        return 1
    print(f"\nresults: {out}" + (" (partial: a step failed)" if "failed" in results else ""))
    return 1 if "failed" in results else 0


if __name__ == "__main__":
    sys.exit(main())
