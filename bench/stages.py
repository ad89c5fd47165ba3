"""The benchmark's stages, each run in its own process by :mod:`bench.measure` (``python -m bench.stages``).

* ``generate`` — land a generated corpus in a raw lake (privacy applied, edit history included, as the
  collector would land it), plus the "1% new data" of the incremental run in a second lake: the next day of the
  same instance (:meth:`fediscope.sample.corpus.CorpusGenerator.next_day`) — statuses of the day after the corpus
  (new ``dt`` partitions) posted mostly by the corpus's accounts, a few new accounts, the day's snapshots of the
  accounts seen, and some of the corpus's latest statuses re-fetched with more interactions or an edit (versions of
  statuses already curated, in the corpus's last partitions), as the next day's collection would land them.
* ``baseline`` — the bare DuckDB floor: one ``read_json`` over the raw statuses files (with the engine's declared
  schema) and one aggregation (toots and interactions per account). No deduplication, no Parquet, no metrics:
  what reading the raw data costs at least. DuckDB pushes the projection into the JSON reader, so only the few
  fields the aggregation needs are materialised. It also times a "parse only" (every declared field parsed —
  ``hash(meta, data)`` needs them all — and nothing kept), the least curation's reading can cost and so part of
  the end-to-end target's floor (:mod:`bench.report`), and for context a "full parse" (every declared column
  kept in a temporary table), closer to what curation does.
* ``process`` — ``fediscope process`` itself (:func:`fediscope.engine.process.run_process`: curate, every metric
  of ``spark_jobs/sql/``, SQLite store) on DuckDB or Spark. For Spark the session (the JVM) is started first
  and timed on its own.
* ``mapreduce`` — the Hadoop streaming chain over the raw files, locally (``spark_jobs/mapreduce/run_local.py``:
  cat | mapper | sort | reducer | sort | reducer).
* ``stream`` — ``fediscope stream`` (:class:`fediscope.sources.stream.StreamRun`) landing statuses of the corpus
  that a local server pushes as one public stream as fast as it can: the streaming path's own throughput. The
  server (:mod:`bench.push`) runs in a process of its own, outside the measured one.
* ``erase`` — ``fediscope gdpr erase`` (:func:`fediscope.gdpr.erase.erase_account`, what the command runs once
  confirmed) of one account from a copy of a processed lake and its store: raw batches, curated Parquet, store
  rows. :func:`most_active_account` picks the account (the one with the most curated statuses, by its clear
  name from the generator): the erasure that finds the most traces of the account in every file it reads.

Each prints ``BENCH_RESULT {json}`` as its last stdout line; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.measure import ERROR_PREFIX, RESULT_PREFIX

PSEUDONYM_KEY = "fediscope-benchmark-pseudonym-key-0b1c2d3e4f5a6b7c"
#: The metrics the MapReduce chain computes too (``spark_jobs/mapreduce/reducer.py``'s COLUMNS).
CORE_METRICS = ("top_accounts_by_followers", "account_engagement", "hashtags_daily", "content_features")


def say(text: str) -> None:
    sys.stderr.write(f"  {text}\n")
    sys.stderr.flush()


def _heartbeat(what: str, root: Path, stop: threading.Event, every: float = 15.0) -> None:
    started = time.perf_counter()
    while not stop.wait(every):
        files = [p for p in root.rglob("*.jsonl*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        say(f"{what}: {time.perf_counter() - started:.0f} s, {len(files)} batch files, {size / 2**20:.0f} MiB so far")


def generate(args: dict[str, Any]) -> dict[str, Any]:
    from fediscope.lake.local import LocalLake
    from fediscope.privacy import PrivacyPolicy
    from fediscope.sample.landing import write_raw_lake

    base, new = Path(args["base"]), Path(args["new"])
    policy = PrivacyPolicy(key=PSEUDONYM_KEY.encode())
    stop = threading.Event()
    ticker = threading.Thread(target=_heartbeat, args=("generating", base, stop), daemon=True)
    ticker.start()
    try:
        started = time.perf_counter()
        full = write_raw_lake(LocalLake(base), args["statuses"], seed=args["seed"], policy=policy,
                              edit_history=True)
        full_seconds = time.perf_counter() - started
        n_new = max(1, round(args["statuses"] * args["new_fraction"]))
        started = time.perf_counter()
        # the same instance a day later: mostly the same accounts posting again, older statuses re-fetched
        extra = write_raw_lake(LocalLake(new), args["statuses"], seed=args["seed"], policy=policy,
                               edit_history=True, next_day=1, day_statuses=n_new)
        new_seconds = time.perf_counter() - started
    finally:
        stop.set()
    return {"corpus": {**full.as_dict(), "requested_statuses": args["statuses"], "seconds": round(full_seconds, 3)},
            "new_data": {**extra.as_dict(), "requested_statuses": n_new, "seconds": round(new_seconds, 3)}}


def _status_files(lake: Path) -> list[str]:
    root = lake / "raw" / "mastodon" / "statuses"
    return sorted(str(p) for p in root.rglob("*.jsonl*") if p.is_file() and not p.name.startswith("."))


def baseline(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    from fediscope.config import Settings
    from fediscope.engine.curate_sql import STATUS_RECORDS
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.engine.schema import duckdb_columns

    files = _status_files(Path(args["lake"]))
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    spec = "{" + ", ".join(f"'{n}': '{t}'" for n, t in duckdb_columns("statuses").items()) + "}"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # no bar on the stage's stdout
    con.execute("SET TimeZone = 'UTC'")
    template = """
        SELECT data.account.acct AS account, count(*) AS toots,
               sum(coalesce(data.favourites_count, 0) + coalesce(data.reblogs_count, 0)
                   + coalesce(data.replies_count, 0)) AS interactions
        FROM read_json({files}, format = 'newline_delimited', columns = {{<the engine's raw statuses schema>}})
        GROUP BY ALL"""
    query = template.replace("{{<the engine's raw statuses schema>}}", spec).replace("{files}", listing)
    source = f"read_json({listing}, format = 'newline_delimited', columns = {spec})"
    measures = {  # nothing kept: hash() needs every value, so every field is parsed and every column computed
        "parse_only": ("baseline (context): read_json parsing every declared field",
                       f"SELECT max(hash(meta, data)) FROM {source}"),
        # the end-to-end floor: curation's one pass over the raw statuses, which computes the columns issue 3
        # asks for (keys, timestamps, counts of URLs, emoji and media, hashtags, mentions, text length)
        "features": ("baseline (floor): read_json + the curated columns of every record (curation's one pass)",
                     f"SELECT max(hash(r)) FROM ({STATUS_RECORDS}) AS r"),
        "full_parse": ("baseline (context): read_json keeping every column",
                       f"CREATE TEMP TABLE parsed AS SELECT meta, data FROM {source}"),
    }
    for name, (what, statement) in measures.items():
        if args.get(name):
            say(f"{what} of {len(files)} raw statuses files")
            if name == "features":  # the engine's own view and macros, as curation runs it
                engine = DuckDBEngine(Settings(lake=args["lake"]))
                engine.register_raw("raw_statuses", "statuses", files)
                con = engine.con
            started = time.perf_counter()
            con.execute(statement).fetchall()
            return {"seconds": round(time.perf_counter() - started, 3), "files": len(files)}
    say(f"baseline: read_json + GROUP BY over {len(files)} raw statuses files")
    started = time.perf_counter()
    rows = con.execute(f"SELECT count(*), sum(toots) FROM ({query})").fetchone()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "accounts": rows[0], "records": int(rows[1] or 0), "files": len(files),
            "query": " ".join(template.replace("{{", "{").replace("}}", "}").split())}


def process(args: dict[str, Any]) -> dict[str, Any]:
    from fediscope.config import load_settings
    from fediscope.engine.process import run_process

    lake = Path(args["lake"])
    # loading the settings checks the lake and store URLs: part of the run a user pays, so part of its start and
    # total here (next to nothing for a SQLite store: its URL check needs no SQLAlchemy)
    loading = time.perf_counter()
    settings = load_settings(env={}, toml_path=None, lake=str(lake), store=f"sqlite:///{args['store']}",
                             pseudonym_key=PSEUDONYM_KEY, engine=args["engine"],
                             spark_master=args.get("spark_master", "local[2]"))
    settings_seconds = time.perf_counter() - loading
    options: dict[str, Any] = {}
    result: dict[str, Any] = {}
    session = None
    if args["engine"] == "spark":
        from fediscope.engine.spark_engine import build_session

        say(f"spark: starting the JVM ({settings.spark_master})")
        started = time.perf_counter()
        session = build_session(settings.spark_master, app_name="fediscope-bench", settings=settings)
        session.sparkContext.setLogLevel("ERROR")
        result["jvm_start_seconds"] = round(time.perf_counter() - started, 3)
        options = {"spark": session}
    try:
        summary = run_process(settings, engine=args["engine"], progress=True, engine_options=options).as_dict()
    finally:
        if session is not None:
            session.stop()
    metrics = summary["metrics"]
    result.update({
        "curate_seconds": summary["seconds"].get("curate", 0.0),
        "metrics_seconds": summary["seconds"].get("metrics", 0.0),
        "core_metrics_seconds": round(sum(metrics[m]["seconds"] for m in CORE_METRICS if m in metrics), 3),
        "store_seconds": summary["seconds"].get("store", 0.0),
        "settings_seconds": round(settings_seconds, 3),
        "engine_start_seconds": round(settings_seconds + summary["seconds"].get("start", 0.0), 3),
        "total_seconds": round(settings_seconds + summary["seconds"].get("total", 0.0), 3),
        "summary": summary,
    })
    return result


def mapreduce(args: dict[str, Any]) -> dict[str, Any]:
    from spark_jobs.mapreduce.run_local import deletions_dir, parse_output, raw_files, run_pipeline

    files = raw_files(Path(args["lake"]))
    out = Path(args["out"])
    say(f"mapreduce: cat | mapper | sort | reducer | sort | reducer over {len(files)} raw files")
    started = time.perf_counter()
    with open(out, "wb") as handle:
        run_pipeline(files, handle, deletions=deletions_dir(Path(args["lake"])))
    seconds = time.perf_counter() - started
    rows = parse_output(out.read_text("utf-8", "surrogateescape").split("\n"))  # not splitlines: U+2028…
    return {"seconds": round(seconds, 3), "files": len(files), "rows": {k: len(v) for k, v in rows.items()}}


def stream(args: dict[str, Any]) -> dict[str, Any]:
    """``fediscope stream`` landing the ``events`` statuses the server at ``url`` pushes as fast as it can: SSE
    parsing, validation, the privacy policy and batch writing, over real HTTP. The server (:mod:`bench.push`) runs
    in a process of its own, so this stage's memory is the streaming path's alone."""
    from fediscope.config import Settings
    from fediscope.sources.spec import SourceRef
    from fediscope.sources.stream import StreamRun

    settings = Settings(lake=args["out"], pseudonym_key=PSEUDONYM_KEY)
    say(f"stream: {args['events']:,} update events over HTTP into a raw lake")
    started = time.perf_counter()
    summary = StreamRun(settings, args["url"], SourceRef("public"), max_events=args["events"],
                        flush_records=1000).run()
    seconds = time.perf_counter() - started
    if not summary.ok:
        raise RuntimeError(summary.error)
    return {"seconds": round(seconds, 3), "events": sum(summary.events.values()), "landed": summary.landed,
            "skipped": summary.skipped, "quarantined": summary.quarantined, "batches": len(summary.batches)}


def most_active_account(lake: Path, statuses: int, seed: int) -> dict[str, Any]:
    """The account with the most curated statuses in ``lake`` (ties: the smaller key), with its clear
    ``user@domain`` found by pseudonymising the generator's accounts (``statuses`` and ``seed`` of the corpus) with
    the benchmark's key: the lake holds only pseudonyms, and an erasure is asked for by the clear name."""
    import duckdb

    from fediscope.gdpr.curated import curated_files
    from fediscope.gdpr.subject import subject_for_policy
    from fediscope.lake.local import LocalLake
    from fediscope.privacy import PrivacyPolicy
    from fediscope.sample.corpus import CorpusGenerator

    files = [str(lake / path) for path in curated_files(LocalLake(lake), "statuses")]
    if not files:
        raise RuntimeError(f"no curated statuses in {lake}: run fediscope process first")
    key, count = duckdb.connect().execute(
        "SELECT account_key, count(*) AS n FROM read_parquet(?) WHERE account_key IS NOT NULL "
        "GROUP BY account_key ORDER BY n DESC, account_key LIMIT 1", [files]).fetchone()
    policy = PrivacyPolicy(key=PSEUDONYM_KEY.encode())
    for info in CorpusGenerator(statuses, seed).accounts:
        account = f"{info.entity['username']}@{info.domain}"
        if subject_for_policy(policy, account).key == key:
            return {"account": account, "account_key": key, "account_statuses": int(count)}
    raise RuntimeError(f"account key {key} is none of the generated accounts ({statuses} statuses, seed {seed})")


def erase(args: dict[str, Any]) -> dict[str, Any]:
    """Erase ``args["account"]`` from the lake and store in ``args`` (a copy: the erasure rewrites them)."""
    from fediscope.config import load_settings
    from fediscope.gdpr.erase import erase_account

    loading = time.perf_counter()  # as for process: checking the lake and store URLs is part of what a user pays
    settings = load_settings(env={}, toml_path=None, lake=args["lake"], store=f"sqlite:///{args['store']}",
                             pseudonym_key=PSEUDONYM_KEY, engine="duckdb")
    settings_seconds = time.perf_counter() - loading
    say(f"erase: {args['account_statuses']:,} curated statuses of the most active account, from every raw batch, "
        "curated file and stored metric")
    started = time.perf_counter()
    report = erase_account(settings, args["account"], progress=say).as_dict()  # its passes, as process shows its steps
    seconds = time.perf_counter() - started
    return {"seconds": round(settings_seconds + seconds, 3), "erase_seconds": round(seconds, 3),
            "settings_seconds": round(settings_seconds, 3), "account_statuses": args["account_statuses"],
            "raw_records": _erased(report["raw"]), "raw_files": _erased(report["raw"], files=True),
            "curated_rows": _erased(report["curated"]), "curated_files": _erased(report["curated"], files=True),
            "store_rows": sum(report["store"].values()), "account": args["account"], "report": report}


def _erased(counts: dict[str, int], files: bool = False) -> int:
    """Records (or rows) removed or scrubbed in an erasure report's counts; with ``files``, the files rewritten or
    deleted (``files_*``)."""
    return sum(v for k, v in counts.items() if k.startswith("files_") == files)


STAGES = {"generate": generate, "baseline": baseline, "process": process, "mapreduce": mapreduce, "stream": stream,
          "erase": erase}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STAGES:
        sys.stderr.write(f"usage: python -m bench.stages {{{','.join(STAGES)}}} '<json args>'\n")
        return 2
    try:
        result = STAGES[argv[0]](json.loads(argv[1]))
    except Exception as exc:  # noqa: BLE001 - one line for the benchmark's output, not a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(f"bench stage {argv[0]}: {type(exc).__name__}: {first}\n")
        sys.stdout.write(ERROR_PREFIX + json.dumps(f"{type(exc).__name__}: {first}") + "\n")  # for the JSON
        return 1
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
