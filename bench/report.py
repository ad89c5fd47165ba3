"""The benchmark's figures: the table of seconds, statuses/s and peak memory, the ratios, the targets.

Targets (issue 3, item 6), each reported PASS or MISS exactly as measured — or SKIP when a stage did not run. A
target's ratio is rounded to :data:`DIGITS` decimals before its verdict, and shown and stored with those
decimals: the number shown and the verdict never disagree (2.00004 is 2.0000, within "at most 2").

* DuckDB end-to-end (``fediscope process``: curate + every metric + store) within 2× of the bare DuckDB
  ``read_json`` aggregation over the same raw files;
* Spark metrics over the curated Parquet at least 3× faster than the MapReduce pipe over the raw JSON, on the
  same core metrics (the four both compute);
* an incremental run over 1% new data at most 5% of the full run's time (both ``fediscope process`` on DuckDB).

Two targets carry a **floor**, measured in the same run: the least the ratio can be whatever the pipeline does,
because the run cannot skip that work.

* end-to-end: the DuckDB run's own start (importing DuckDB, Arrow and SQLAlchemy, opening the engine and the
  store) plus curation's one pass over the raw statuses with nothing kept (the baseline's "features" figure):
  parsing every field curation reads and computing the curated columns the issue asks for (counts of URLs,
  emoji and media, hashtags, mentions, text length, keys and timestamps) with the very SQL curation runs. The
  baseline parses three fields and computes nothing; "parse only" (every field parsed, nothing computed) is
  shown beside it for context;
* incremental: the incremental run's own start, which does not shrink with the new data.

The report gives each floor with the **headroom** it leaves: the seconds the target allows on top of the floor
for all the rest (deduplication, Parquet, metrics, store; or curating, recomputing and storing the new data).
A target at or below its floor cannot be met by this design on this machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DIGITS = 4  # decimals of a target's ratio and floor: its verdict, the table and the JSON all use them


@dataclass
class Target:
    name: str
    description: str
    value: float | None
    threshold: float
    higher_is_better: bool
    status: str  # PASS | MISS | SKIP
    note: str = ""
    floor: float | None = None  # the least the ratio can be (see the module docstring); None: no floor measured
    floor_basis: str = ""
    headroom_seconds: float | None = None  # (threshold - floor) x the ratio's denominator

    @property
    def below_floor(self) -> bool:
        """The threshold is at or under the measured floor: no run of this design can meet the target here."""
        return self.headroom_seconds is not None and self.headroom_seconds <= 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)  # the value: already rounded to DIGITS, as judged
        out["floor"] = None if self.floor is None else round(self.floor, DIGITS)
        out["headroom_seconds"] = None if self.headroom_seconds is None else round(self.headroom_seconds, 3)
        out["below_floor"] = self.below_floor
        return out


def _get(stages: dict[str, Any], stage: str, key: str) -> float | None:
    entry = stages.get(stage) or {}
    if entry.get("skipped") or key not in entry:
        return None
    return float(entry[key])


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _target(name: str, description: str, value: float | None, threshold: float, higher_is_better: bool,
            skipped_because: str, floor: float | None = None, floor_basis: str = "",
            denominator: float | None = None) -> Target:
    if value is None:
        return Target(name, description, None, threshold, higher_is_better, "SKIP", skipped_because)
    value = round(value, DIGITS)  # judged as shown and stored
    ok = value >= threshold if higher_is_better else value <= threshold
    headroom = None if floor is None or denominator is None else (threshold - floor) * denominator
    return Target(name, description, value, threshold, higher_is_better, "PASS" if ok else "MISS",
                  floor=floor, floor_basis=floor_basis, headroom_seconds=headroom)


def _sum(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def ratios(stages: dict[str, Any]) -> dict[str, float | None]:
    duck_total = _get(stages, "duckdb", "total_seconds")
    mr = _get(stages, "mapreduce", "seconds")
    return {
        "duckdb_end_to_end_vs_baseline": _ratio(duck_total, _get(stages, "baseline", "seconds")),
        "duckdb_curate_vs_baseline": _ratio(_get(stages, "duckdb", "curate_seconds"),
                                            _get(stages, "baseline", "seconds")),
        "duckdb_end_to_end_vs_full_parse": _ratio(duck_total, _get(stages, "baseline", "full_parse_seconds")),
        "mapreduce_vs_spark_core_metrics": _ratio(mr, _get(stages, "spark", "core_metrics_seconds")),
        "mapreduce_vs_spark_all_metrics": _ratio(mr, _get(stages, "spark", "metrics_seconds")),
        "mapreduce_vs_duckdb_core_metrics": _ratio(mr, _get(stages, "duckdb", "core_metrics_seconds")),
        "mapreduce_vs_duckdb_end_to_end": _ratio(mr, duck_total),
        "spark_curate_vs_duckdb_curate": _ratio(_get(stages, "spark", "curate_seconds"),
                                                _get(stages, "duckdb", "curate_seconds")),
        "incremental_vs_full": _ratio(_get(stages, "duckdb_incremental", "total_seconds"), duck_total),
        "incremental_curate_vs_full_curate": _ratio(_get(stages, "duckdb_incremental", "curate_seconds"),
                                                    _get(stages, "duckdb", "curate_seconds")),
        "floor_end_to_end_vs_baseline": _ratio(
            _sum(_get(stages, "duckdb", "engine_start_seconds"), _get(stages, "baseline", "features_seconds")),
            _get(stages, "baseline", "seconds")),
        "floor_incremental_vs_full": _ratio(_get(stages, "duckdb_incremental", "engine_start_seconds"), duck_total),
        # the DuckDB full run of the lake it erased from (that of a corpus of its own when the benchmark's is larger)
        "erase_vs_duckdb_full": _ratio(_get(stages, "erase", "seconds"), _get(stages, "erase", "process_seconds")),
    }


def targets(stages: dict[str, Any]) -> list[Target]:
    r = ratios(stages)

    def why(*names: str) -> str:
        missing = [n for n in names if not stages.get(n) or stages[n].get("skipped") or stages[n].get("failed")]
        reasons = [f"{n}: {_not_measured(stages.get(n) or {})}" for n in missing]
        return "; ".join(reasons) or "not measured"

    return [
        _target("duckdb_within_2x_of_read_json", "DuckDB end-to-end / bare read_json aggregation",
                r["duckdb_end_to_end_vs_baseline"], 2.0, False, why("duckdb", "baseline"),
                r["floor_end_to_end_vs_baseline"], "process start + parsing and computing the curated columns",
                _get(stages, "baseline", "seconds")),
        _target("spark_metrics_3x_faster_than_mapreduce",
                "MapReduce pipe over raw JSON / Spark core metrics over curated Parquet",
                r["mapreduce_vs_spark_core_metrics"], 3.0, True, why("spark", "mapreduce")),
        _target("incremental_at_most_5_percent", "incremental run (+1% new data) / full run (DuckDB)",
                r["incremental_vs_full"], 0.05, False, why("duckdb", "duckdb_incremental"),
                r["floor_incremental_vs_full"], "the incremental run's process start alone",
                _get(stages, "duckdb", "total_seconds")),
    ]


def _not_measured(entry: dict[str, Any]) -> str:
    if entry.get("skipped"):
        return str(entry["skipped"])
    return f"failed: {entry['failed']}" if entry.get("failed") else "not run"


def _fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _fmt_rate(records: float | None, seconds: float | None) -> str:
    if not records or not seconds:
        return "-"
    return f"{records / seconds:,.0f}"


def _fmt_mib(stages: dict[str, Any], stage: str) -> str:
    value = (stages.get(stage) or {}).get("peak_rss_mib")
    return "-" if value is None else f"{value:,.0f}"


def _written(stages: dict[str, Any], stage: str) -> str:
    """'N of M rows written' for a process stage (the incremental run sends only what changed)."""
    metrics = ((stages.get(stage) or {}).get("summary") or {}).get("metrics") or {}
    written = sum(m.get("stored") or 0 for m in metrics.values())
    held = sum(m.get("rows") or 0 for m in metrics.values())
    return f"{written:,} of {held:,} rows written"


def _of(erase: dict[str, Any]) -> str:
    """' (890 of 101,432 statuses)' for the erasure step's label: the account's statuses of the lake's (nothing
    when it did not run)."""
    if "lake_statuses" not in erase:
        return ""
    return f" ({erase.get('account_statuses') or 0:,} of {erase['lake_statuses']:,} statuses)"


def _erased(erase: dict[str, Any], statuses: int | None) -> str:
    """The erasure step's note below its row: its lake, and what it removed or scrubbed (its statuses/s are
    the lake's statuses over its seconds)."""
    lake = ("a copy of the DuckDB full run's lake" if erase.get("corpus_statuses") == statuses else
            f"a {erase.get('corpus_statuses') or 0:,}-status corpus of its own (--erase-statuses)")
    return (f"from {lake}: {erase['raw_records']:,} raw records, {erase['curated_rows']:,} curated rows, "
            f"{erase['store_rows']:,} store rows removed or scrubbed")


def table(results: dict[str, Any]) -> str:
    """The human-readable report: one line per measured step, then ratios and targets."""
    stages = results["stages"]
    corpus = (stages.get("generate") or {}).get("corpus", {})
    new = (stages.get("generate") or {}).get("new_data", {})
    n, n_new = corpus.get("statuses"), new.get("statuses")
    rows: list[tuple[str, str, float | None, float | None, bool]] = [
        ("baseline", "bare DuckDB read_json + GROUP BY (raw JSON)", _get(stages, "baseline", "seconds"), n, True),
        ("baseline", "  floor: read_json + computing the curated columns", _get(stages, "baseline", "features_seconds"),
         n, False),
        ("baseline", "  for context: read_json parsing every curated field",
         _get(stages, "baseline", "parse_only_seconds"), n, False),
        ("baseline", "  for context: read_json keeping every column", _get(stages, "baseline", "full_parse_seconds"),
         n, False),
        ("duckdb", "DuckDB curate (raw JSON -> Parquet)", _get(stages, "duckdb", "curate_seconds"), n, False),
        ("duckdb", "DuckDB metrics, all (curated Parquet)", _get(stages, "duckdb", "metrics_seconds"), n, False),
        ("duckdb", "DuckDB metrics, 4 core", _get(stages, "duckdb", "core_metrics_seconds"), n, False),
        ("duckdb", "DuckDB store write (SQLite, every metric)", _get(stages, "duckdb", "store_seconds"), None, False),
        ("duckdb", "DuckDB end-to-end (fediscope process)", _get(stages, "duckdb", "total_seconds"), n, True),
        ("duckdb_incremental", "DuckDB incremental: curate (+1% new data)",
         _get(stages, "duckdb_incremental", "curate_seconds"), n_new, False),
        ("duckdb_incremental", "DuckDB incremental: metrics (all recomputed)",
         _get(stages, "duckdb_incremental", "metrics_seconds"), n, False),
        ("duckdb_incremental", f"DuckDB incremental: store ({_written(stages, 'duckdb_incremental')})",
         _get(stages, "duckdb_incremental", "store_seconds"), None, False),
        ("duckdb_incremental", "DuckDB incremental: whole run (+1% new data)",
         _get(stages, "duckdb_incremental", "total_seconds"), n_new, True),
        ("erase", f"gdpr erase: most active account{_of(stages.get('erase') or {})}",
         _get(stages, "erase", "seconds"), _get(stages, "erase", "lake_statuses"), True),
        ("spark", "Spark JVM start (session)", _get(stages, "spark", "jvm_start_seconds"), None, False),
        ("spark", "Spark curate (raw JSON -> Parquet)", _get(stages, "spark", "curate_seconds"), n, False),
        ("spark", "Spark metrics, all (curated Parquet)", _get(stages, "spark", "metrics_seconds"), n, False),
        ("spark", "Spark metrics, 4 core", _get(stages, "spark", "core_metrics_seconds"), n, False),
        ("spark", "Spark end-to-end, JVM start excluded", _get(stages, "spark", "total_seconds"), n, True),
        ("mapreduce", "MapReduce pipe, 4 core metrics (raw JSON)", _get(stages, "mapreduce", "seconds"), n, True),
        ("stream", f"fediscope stream: {_get(stages, 'stream', 'events') or 0:,.0f} events over HTTP -> raw lake",
         _get(stages, "stream", "seconds"), _get(stages, "stream", "events"), True),
    ]
    width = max(len(r[1]) for r in rows)
    lines = []
    failed = results.get("failed")
    if failed:
        which = f" ({failed['run']})" if failed.get("run") else ""
        lines += [f"FAILED at step {failed['step']}{which}: {failed['error']}", "(partial results: the steps after it "
                  "did not run)", ""]
    lines += [f"{'step':<{width}}  {'seconds':>10}  {'statuses/s':>12}  {'peak MiB':>9}", "-" * (width + 37)]
    shown_failed: set[str] = set()
    for stage, label, seconds, records, show_memory in rows:
        if (stages.get(stage) or {}).get("skipped"):
            lines.append(f"{label:<{width}}  skipped: {stages[stage]['skipped']}")
            continue
        if (stages.get(stage) or {}).get("failed"):  # once, on the step's first row
            if stage not in shown_failed:
                lines.append(f"{label:<{width}}  FAILED: {stages[stage]['failed']}")
                shown_failed.add(stage)
            continue
        if stage not in stages:
            continue
        memory = _fmt_mib(stages, stage) if show_memory else ""
        lines.append(f"{label:<{width}}  {_fmt_seconds(seconds):>10}  {_fmt_rate(records, seconds):>12}  "
                     f"{memory:>9}")
        if stage == "erase":
            lines.append(f"  {_erased(stages['erase'], (results.get('params') or {}).get('statuses'))}")
    repeat = (results.get("params") or {}).get("repeat", 1)
    if repeat > 1:
        lines.append(f"(baseline and DuckDB steps: the median of {repeat} runs, every run's seconds in the JSON; "
                     "Spark and MapReduce: one run)")
    lines.append("")
    lines.append("ratios")
    for name, value in ratios(stages).items():
        if value is not None:
            lines.append(f"  {name:<36} {value:,.3f}")
    lines.append("")
    lines.append("targets")
    for t in targets(stages):
        bound = (">=" if t.higher_is_better else "<=") + f" {t.threshold:g}"
        value = "-" if t.value is None else f"{t.value:,.{DIGITS}f}"
        note = f"  [{t.note}]" if t.note else ""
        if t.floor is not None and t.headroom_seconds is not None:
            note += (f"\n        floor {t.floor:,.{DIGITS}f} ({t.floor_basis}): the target leaves "
                     f"{t.headroom_seconds:,.2f} s for everything else" + (" - below the floor, cannot be met here"
                                                                          if t.below_floor else ""))
        lines.append(f"  {t.status:<4}  {t.description}: {value} (target {bound}){note}")
    return "\n".join(lines)
