"""``fediscope process``: curate the raw lake, compute every metric, load the metric store. One function.

The three steps run in order with one engine (``settings.engine`` unless ``engine`` is given):

1. **curate** — raw files not yet curated (fetch dates ``since``..``until``) are merged into the curated
   Parquet tables (:mod:`fediscope.engine.curation`);
2. **metrics** — every SQL file of ``spark_jobs/sql/`` runs over the curated tables, whole (metrics are
   recomputed in full, so they always describe every curated day, not only the window);
3. **store** — each metric's rows replace what the store held for it (``write(..., replace=True)``), so a
   re-run never duplicates them; the store writes only the rows that changed.

When curation found nothing new and the store already holds every metric, steps 2 and 3 are skipped: the
curated tables did not change, so neither can the metrics (``metrics_skipped`` in the summary; the row counts
shown are the store's). A changed metric SQL file is therefore picked up by the next run with new data.

A failing metric stops the run before the store is touched, so the store never mixes two runs' results.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

from fediscope.config import Settings
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.redact import redact_url

if TYPE_CHECKING:
    from fediscope.store.port import MetricStore

log = logging.getLogger(__name__)


@dataclass
class MetricResult:
    rows: int
    seconds: float
    stored: int | None = None


@dataclass
class ProcessSummary:
    engine: str
    store: str
    since: date | None = None
    until: date | None = None
    curate: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per step: start, curate, metrics, store, total
    metrics_skipped: bool = False  # nothing new curated and every metric already stored: not recomputed

    @property
    def metric_rows(self) -> int:
        return sum(m.rows for m in self.metrics.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "store": self.store,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "curate": self.curate,
            "metrics": {name: {"rows": m.rows, "seconds": round(m.seconds, 3), "stored": m.stored}
                        for name, m in self.metrics.items()},
            "metric_rows": self.metric_rows,
            "metrics_skipped": self.metrics_skipped,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        cur = self.curate
        curated = ("nothing new to curate" if cur.get("noop") else
                   f"curated {cur.get('raw_files', 0)} raw files ({cur.get('statuses_written', 0)} statuses in "
                   f"{len(cur.get('partitions', []))} partitions, {cur.get('accounts', 0)} accounts)")
        stored = "unchanged (not recomputed)" if self.metrics_skipped else "stored"
        return (f"process ({self.engine}): {curated}; {len(self.metrics)} metrics, {self.metric_rows} rows "
                f"{stored} in {self.store}; {self.seconds.get('total', 0.0):.1f} s")


class _Progress:
    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled, self.stream = enabled, stream or sys.stderr

    def __call__(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()


def run_process(settings: Settings, *, engine: str | None = None, since: date | None = None,
                until: date | None = None, progress: bool | None = None,
                metrics: dict[str, Metric] | None = None, engine_options: dict[str, Any] | None = None
                ) -> ProcessSummary:
    """Curate, compute every metric, load the store; see the module docstring.

    ``metrics`` defaults to every metric of ``spark_jobs/sql/``; ``engine_options`` go to the engine's
    constructor (tests pass an existing SparkSession as ``{"spark": session}``).
    """
    from fediscope.errors import ConfigError
    from fediscope.store.port import store_from_settings

    if since and until and since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    show = _Progress(sys.stderr.isatty() if progress is None else progress)
    metrics = metrics if metrics is not None else load_metrics()
    started = time.perf_counter()
    name = engine or settings.engine
    summary = ProcessSummary(engine=name, store=redact_url(settings.store), since=since, until=until)

    store = store_from_settings(settings)  # a wrong store URL fails before any work is done
    try:
        _compute(settings, name, since, until, metrics, summary, show, engine_options or {}, store, started)
    finally:
        store.close()
    summary.seconds["total"] = time.perf_counter() - started
    log.info("process: %s", summary.line())
    return summary


def _compute(settings: Settings, name: str, since: date | None, until: date | None, metrics: dict[str, Metric],
             summary: ProcessSummary, show: _Progress, engine_options: dict[str, Any], store: MetricStore,
             started: float) -> None:
    from fediscope.engine.base import open_engine

    show(f"process: starting the {name} engine")
    with open_engine(settings, name, **engine_options) as eng:
        summary.seconds["start"] = time.perf_counter() - started
        step = time.perf_counter()
        show("process: curating the raw lake")
        curated = eng.curate(since=since, until=until)
        summary.curate = curated.as_dict()
        summary.seconds["curate"] = time.perf_counter() - step
        show(f"process: curated {curated.raw_files} raw files in {summary.seconds['curate']:.1f} s")
        if curated.noop and _skip_metrics(metrics, summary, store):
            show("process: nothing new curated and every metric stored: metrics unchanged, not recomputed")
            return

        step = time.perf_counter()
        results: dict[str, list[dict[str, Any]]] = {}
        for i, (metric_name, metric) in enumerate(metrics.items(), 1):
            t = time.perf_counter()
            results[metric_name] = eng.run_metric(metric)
            summary.metrics[metric_name] = MetricResult(len(results[metric_name]), time.perf_counter() - t)
            show(f"process: metric {i}/{len(metrics)} {metric_name}: {len(results[metric_name])} rows")
        summary.seconds["metrics"] = time.perf_counter() - step

    step = time.perf_counter()
    for metric_name, metric in metrics.items():
        summary.metrics[metric_name].stored = store.write(metric, results[metric_name], replace=True)
    show(f"process: stored {summary.metric_rows} rows in {summary.store}")
    summary.seconds["store"] = time.perf_counter() - step


def _skip_metrics(metrics: dict[str, Metric], summary: ProcessSummary, store: MetricStore) -> bool:
    """After a curation that found nothing new: when the store holds every metric, report its row counts.

    The curated tables are what the metrics are computed from; unchanged tables give unchanged metrics, so
    the run can stop here (an incremental run over no new data costs a manifest read and a catalog read).
    """
    stored = store.stored_metrics()
    if any(name not in stored for name in metrics):
        return False
    for name in metrics:
        summary.metrics[name] = MetricResult(rows=stored[name], seconds=0.0, stored=0)
    summary.metrics_skipped = True
    summary.seconds["metrics"] = summary.seconds["store"] = 0.0
    log.info("process: nothing new curated; the %d metrics in the store are current, not recomputed", len(metrics))
    return True
