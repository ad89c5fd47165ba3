"""``make demo`` (``python -m fediscope.demo``): the whole pipeline on one machine, offline, in a few minutes.

It starts the sample instance in this process (a generated corpus served over a Mastodon-compatible API on
127.0.0.1), collects from it into ``./demo-lake`` through the collector, then runs the later steps of the
pipeline (curation and metrics into ``./demo-out/demo.db``, report and charts into ``./demo-out``) and says
where everything is. The configuration is isolated: ``FEDISCOPE_*`` variables and ``fediscope.toml`` are
ignored, privacy is on with a demo pseudonym key kept in ``./demo-lake/_state/demo-key``, and the engine is
DuckDB, so no Java is needed.

The demo is a list of :class:`Step` s. A step whose module is not importable (a part of fediscope not built
yet) is reported as "not yet available" and the demo goes on. The sample corpus covers the 14 days up to the
current hour. Running the demo again is incremental: the instance gains a few statuses "now" at each run, and
the collector, resuming from its checkpoints, lands only the statuses newer than the last run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fediscope.config import Settings, SourceSpec

DEFAULT_STATUSES = 5000
DEFAULT_PORT = 8765
KEY_FILE = "_state/demo-key"


@dataclass
class DemoContext:
    """What the steps share: where things go, the settings, the running instance, what each step produced."""

    base: Path
    n_statuses: int = DEFAULT_STATUSES
    seed: int = 0
    port: int = DEFAULT_PORT
    new_statuses: int = 25
    settings: Settings | None = None
    server: Any = None
    outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    out: Any = None  # where progress is printed (default: stdout)

    @property
    def lake_dir(self) -> Path:
        return self.base / "demo-lake"

    @property
    def out_dir(self) -> Path:
        return self.base / "demo-out"

    def need_settings(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("the sample instance step did not run")
        return self.settings


@dataclass(frozen=True)
class Step:
    """One stage: ``requires`` are the modules it needs; ``run`` returns a one-line result."""

    name: str
    requires: tuple[str, ...]
    run: Callable[[DemoContext], str]
    essential: bool = True  # a failure stops the demo (a missing module never does)

    def available(self) -> str | None:
        """None when every required module imports, else the name of the first one that does not."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError:
                return module
        return None


# -- the steps ---------------------------------------------------------------------------------------------------
def demo_key(lake_dir: Path) -> str:
    """The demo's pseudonym key: generated once (random), kept beside the checkpoints, readable only by you."""
    path = lake_dir / KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key + "\n")
    os.chmod(path, 0o600)
    return key


def demo_settings(ctx: DemoContext, instance_url: str, tag: str | None) -> Settings:
    """Isolated settings: nothing read from the environment or fediscope.toml."""
    timelines = ["public", "local", *([f"tag:{tag}"] if tag else []), "instance", "instance_activity",
                 "instance_peers", "trends_tags", "directory"]
    return Settings().replace(
        lake=str(ctx.lake_dir), store=f"sqlite:///{ctx.out_dir / 'demo.db'}", engine="duckdb",
        pseudonym_key=demo_key(ctx.lake_dir), privacy=True, allow_private_addresses=True,
        instances=(instance_url,), backfill_pages=100_000, page_limit=40, request_timeout=10.0, max_retries=3,
        sources=(SourceSpec(instance=instance_url, timelines=tuple(timelines)),),
    )


def start_instance(ctx: DemoContext) -> str:
    from fediscope.sample.instance import SampleInstance
    from fediscope.sample.server import SampleServer

    # the corpus ends at the current hour, so "the last 7 days" analyses see it; re-runs within the hour
    # serve the very same corpus, and the statuses grown at "now" are what an incremental re-run collects
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    instance = SampleInstance.generate(ctx.n_statuses, ctx.seed, end=end)
    if ctx.new_statuses:
        instance.grow(ctx.new_statuses)  # "new since last run": what an incremental re-run collects
    try:
        server = SampleServer(instance, port=ctx.port, rate_limit=10_000)
    except OSError:
        server = SampleServer(instance, port=0, rate_limit=10_000)
        ctx.notes.append(f"port {ctx.port} was busy, the instance ran on {server.port}: the lake partitions of "
                         "this run are named after that port (use --port to keep one)")
    ctx.server = server.start()
    trending = instance.trending_tags()
    ctx.settings = demo_settings(ctx, server.url, trending[0]["name"] if trending else None)
    public = len(instance.public_timeline_ids())
    return (f"{server.url} serves {len(instance.statuses)} statuses of {len(instance.accounts)} accounts "
            f"({public} on the public timeline) as {instance.home}")


def collect(ctx: DemoContext) -> str:
    from fediscope.sources.collector import run_collection
    from fediscope.sources.spec import parse_source

    settings = ctx.need_settings()
    targets = [(spec.instance, parse_source(t)) for spec in settings.sources for t in spec.timelines]
    summary = run_collection(settings, targets, max_pages=None, progress=sys.stderr.isatty())
    ctx.outputs["raw lake"] = str(ctx.lake_dir / "raw")
    failed = getattr(summary, "failed", [])
    if failed:
        raise RuntimeError("; ".join(f"{s.instance} {s.source}: {s.error}" for s in failed))
    return summary.line() if hasattr(summary, "line") else str(summary)


def process(ctx: DemoContext) -> str:
    from fediscope.engine.process import run_process

    summary = run_process(ctx.need_settings(), progress=False)
    ctx.outputs["curated tables"] = str(ctx.lake_dir / "curated")
    ctx.outputs["metric store"] = ctx.need_settings().store
    return summary.line() if hasattr(summary, "line") else str(summary)


def report(ctx: DemoContext) -> str:
    from fediscope.report import build_report
    from fediscope.store.port import store_from_settings

    chart_dir = ctx.out_dir / "charts"
    store = store_from_settings(ctx.need_settings())
    try:
        result = build_report(store, out_dir=chart_dir, n=10, charts=True)
    finally:
        store.close()
    text = result.text()
    report_path = ctx.out_dir / "report.txt"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")
    ctx.outputs["report"] = str(report_path)
    if result.charts:
        ctx.outputs["charts"] = f"{chart_dir} ({len(result.charts)} PNG)"
    print(_indent(_head(text, 40)), file=ctx.out or sys.stdout)
    return f"{len(result.run.results)} analyses, {len(result.charts)} charts"


STEPS: list[Step] = [
    Step("sample instance", ("fediscope.sample.server",), start_instance),
    Step("collect", ("fediscope.sources.collector",), collect),
    Step("process (curate, metrics, store)", ("fediscope.engine.process",), process),
    Step("report and charts", ("fediscope.report", "fediscope.charts"), report),
]


# -- running ------------------------------------------------------------------------------------------------------
def _head(text: str, lines: int) -> str:
    rows = text.splitlines()
    return "\n".join(rows[:lines] + ([f"… ({len(rows) - lines} more lines in the report file)"]
                                     if len(rows) > lines else []))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def run_demo(ctx: DemoContext, steps: Sequence[Step] = STEPS, out: Any = None) -> int:
    """Run every step in order; returns the exit code (0: every available step succeeded)."""
    out = out or ctx.out or sys.stdout
    ctx.out = out
    started = time.monotonic()
    print(f"fediscope demo in {ctx.base} ({ctx.n_statuses} statuses, seed {ctx.seed})", file=out)
    if not java_available():
        print("Java not found: fine, the demo runs on DuckDB (the embedded engine); Spark mode needs Java 17+.",
              file=out)
    code = 0
    try:
        for number, step in enumerate(steps, start=1):
            label = f"[{number}/{len(steps)}] {step.name}"
            missing = step.available()
            if missing is not None:
                print(f"{label}: not yet available ({missing} is not installed in this checkout)", file=out)
                continue
            print(f"{label} …", file=out, flush=True)
            step_started = time.monotonic()
            try:
                result = step.run(ctx)
            except Exception as exc:  # report and stop: later steps depend on this one
                print(f"{label}: FAILED: {type(exc).__name__}: {exc}", file=out)
                code = 1
                if step.essential:
                    break
                continue
            print(f"{label}: {result} ({time.monotonic() - step_started:.1f} s)", file=out)
    finally:
        if ctx.server is not None:
            ctx.server.stop()
    print(f"\nDone in {time.monotonic() - started:.1f} s. Outputs:", file=out)
    for name, where in {"lake": str(ctx.lake_dir), **ctx.outputs}.items():
        print(f"  {name:16} {where}", file=out)
    print(f"  {'pseudonym key':16} {ctx.lake_dir / KEY_FILE} (demo only; set FEDISCOPE_PSEUDONYM_KEY for real use)",
          file=out)
    for note in ctx.notes:
        print(f"Note: {note}", file=out)
    return code


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fediscope.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--statuses", type=int, default=DEFAULT_STATUSES, help="statuses in the sample corpus")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample corpus")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the sample instance (0: any)")
    parser.add_argument("--new", type=int, default=25, dest="new_statuses",
                        help="statuses the instance gains at each run (what an incremental re-run collects)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where demo-lake/ and demo-out/ go")
    parser.add_argument("--fresh", action="store_true",
                        help="delete demo-lake/ and demo-out/ first (the demo key is kept)")
    args = parser.parse_args(argv)
    if args.statuses < 1 or args.new_statuses < 0 or not 0 <= args.port <= 65535:
        parser.error("--statuses must be >= 1, --new >= 0 and --port between 0 and 65535")
    return args


def fresh_start(ctx: DemoContext) -> None:
    key_path = ctx.lake_dir / KEY_FILE
    key = key_path.read_text() if key_path.exists() else None
    for directory in (ctx.lake_dir, ctx.out_dir):
        shutil.rmtree(directory, ignore_errors=True)
    if key:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_text(key)
        os.chmod(key_path, 0o600)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = DemoContext(base=args.dir.resolve(), n_statuses=args.statuses, seed=args.seed, port=args.port,
                      new_statuses=args.new_statuses)
    if args.fresh:
        fresh_start(ctx)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    return run_demo(ctx)


if __name__ == "__main__":
    sys.exit(main())
