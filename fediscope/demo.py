"""``make demo`` (``python -m fediscope.demo``): the whole pipeline on one machine, offline, in well under a minute.

The steps, each printed with its result and its time:

1. **sample instance** — a generated corpus served over a Mastodon-compatible API on 127.0.0.1 (in this process);
2. **scraping API** — ``fediscope serve-api``'s app (flask-restful) served by waitress on a free 127.0.0.1 port,
   with an API key generated for this run and kept only in memory, the sample instance on its allowlist;
3. **collect** — the collector walks every source of the instance into the raw lake (``./demo-lake/raw``);
4. **API check** — a client pages the public timeline THROUGH the scraping API over HTTP (``X-API-Key``, the
   ``Link: rel="next"`` cursor) and checks that every record it serves equals the record the collector landed
   for the same status: the API path and the collector path land the same data;
5. **stream** — the public streaming timeline (``fediscope stream``) is kept open while the instance posts a few
   statuses; what it pushes lands in the raw lake next to the collected statuses (curation merges them);
6. **process** — curation to Parquet (``./demo-lake/curated``), every metric with DuckDB, loaded into SQLite
   (``./demo-out/demo.db``);
7. **report and charts** — ``./demo-out/report.txt`` and the PNG charts in ``./demo-out/charts``;
8. **results API** — a client reads every analysis from the same API server (``GET /v1/analyses/<name>``, which
   reads the SQLite store) and checks each equals the report's: dashboards see what the report prints.

The configuration is isolated: ``FEDISCOPE_*`` variables and ``fediscope.toml`` are ignored, privacy is on with
a demo pseudonym key kept in ``./demo-lake/_state/demo-key``, and the engine is DuckDB, so no Java is needed.
Every step is required: a module that does not import stops the demo before it starts, a failing step stops it
there, each with one line on stderr and exit status 1 (never a traceback).

The sample corpus covers 14 days up to a few hours before the current hour. A first run's instance gains
``--new`` statuses posted from then to now, spread with the corpus's day/night rhythm (all at the run's moment, they
made a spike in the activity heatmap), their ids in the order of their times; a re-run's gains what the corpus posts
at that rhythm since the last run, at most ``--new`` (``--new`` at every run, minutes apart, made a dark cell there),
one of them posted live in the stream step. Running the demo again is incremental: the collector, resuming from its
checkpoints, lands only the statuses newer than the last run (the API check then compares those).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import secrets
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fediscope.background_server import BackgroundServer
from fediscope.config import Settings, SourceSpec, instance_domain
from fediscope.console import terminal_columns, tolerate_unencodable_output, wrap_line
from fediscope.errors import FediscopeError, one_line
from fediscope.files import atomic_out
from fediscope.lake.key_check import DEMO_KEY_PATH
from fediscope.wording import count

DEFAULT_STATUSES = 5000
DEFAULT_PORT = 8765
KEY_FILE = DEMO_KEY_PATH
#: The sample corpus (statuses, seed) the lake was collected from: a re-run serves the same one.
CORPUS_FILE = "_state/demo-corpus.json"
#: The API check reads at most this many pages of this many records through the scraping API.
API_PAGES = 3
#: The stream step keeps the public stream open at most this long while the instance posts at most this many
#: statuses (a re-run: as many public ones as the corpus's rhythm has due beyond --new, at least one).
STREAM_SECONDS = 10.0
STREAM_POSTS = 12
API_PAGE_LIMIT = 40
#: Sections of the report printed at the end (the whole report is in the report file), indented by INDENT and
#: fitted to the terminal's width (80 columns when it is not a terminal; never fewer than EXCERPT_MIN_COLUMNS): a
#: table wider than that keeps its leading columns, a longer line is wrapped (was: tables of 100 to 200 columns,
#: which an 80-column terminal wrapped into a tangle).
EXCERPT_SECTIONS = 2
EXCERPT_MIN_COLUMNS = 40
INDENT = "    "
#: what to do when a module does not import: in a checkout run by ``make demo``, and in any other installation
INSTALL_HINT = ("run it through `make demo` (or `.venv/bin/python -m fediscope.demo`), not another Python; if that "
                "is the one, the installation is incomplete: run `make install` (or delete .venv and run `make demo` "
                "again)")
PIP_INSTALL_HINT = ("run it with the Python fediscope is installed in (its venv's `bin/python -m fediscope.demo`); if "
                    "that is the one, the installation is incomplete: install fediscope again with its dependencies "
                    "(`pip install` of the wheel or the source directory, without --no-deps)")


class DemoStepError(FediscopeError, RuntimeError):
    """A step failed in a way its message says (a busy port, an answer that differs): printed without a type
    name, as the CLI prints fediscope's errors (:func:`one_line`). A RuntimeError too, as the one it replaces."""


@dataclass
class DemoContext:
    """What the steps share: where things go, the settings, the running servers, what each step produced."""

    base: Path
    n_statuses: int = DEFAULT_STATUSES
    seed: int = 0
    port: int = DEFAULT_PORT
    new_statuses: int = 25
    stream_posts: int = STREAM_POSTS  # public statuses the stream step posts (a re-run: as many as are due)
    settings: Settings | None = None
    server: Any = None  # the sample instance
    api: DemoApi | None = None
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    collected: Any = None  # the collector's CollectSummary
    streamed: Any = None  # the stream step's StreamSummary
    public_before: str | None = None  # the public timeline's checkpoint before this run's collection
    analyses: list[dict[str, Any]] | None = None  # the report's analyses (as --format json gives them)
    outputs: dict[str, str] = field(default_factory=dict)  # name -> path
    details: dict[str, str] = field(default_factory=dict)  # name -> what is there (printed after the path)
    notes: list[str] = field(default_factory=list)
    out: Any = None  # where progress is printed (default: stdout)

    @property
    def lake_dir(self) -> Path:
        return self.base / "demo-lake"

    @property
    def out_dir(self) -> Path:
        return self.base / "demo-out"

    @property
    def db_path(self) -> Path:
        return self.out_dir / "demo.db"

    def need_settings(self) -> Settings:
        if self.settings is None:
            raise DemoStepError("the sample instance step did not run")
        return self.settings

    def stop_servers(self) -> None:
        """Stop the API, then the instance (each at most once; safe to call when they never started)."""
        api, self.api = self.api, None
        server, self.server = self.server, None
        if api is not None:
            api.stop()
        if server is not None:
            server.stop()


@dataclass(frozen=True)
class Step:
    """One stage: ``requires`` are the modules it needs (checked before the demo starts); ``run`` returns a
    one-line result. A step that is not ``essential`` lets the later ones run, but its failure still fails
    the demo."""

    name: str
    requires: tuple[str, ...]
    run: Callable[[DemoContext], str]
    essential: bool = True

    def import_problem(self) -> str | None:
        """None when every required module imports, else ``"module (ErrorType: message)"`` of the first that
        does not (any exception at import counts: a syntax error or a broken dependency is as fatal)."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except Exception as exc:
                return f"{module} ({one_line(exc)})"
        return None


# -- the scraping API in this process -----------------------------------------------------------------------------
class DemoApi(BackgroundServer):
    """The scraping API (``api.create_app``) served by waitress in a background thread, as ``serve-api`` does."""

    def __init__(self, settings: Settings, threads: int = 2) -> None:
        from api import create_app
        from api.app import make_server

        super().__init__(make_server(create_app(settings), "127.0.0.1", 0, threads), name="demo-api")  # as serve-api
        self.url = f"http://127.0.0.1:{self.server.effective_port}"


# -- the steps ---------------------------------------------------------------------------------------------------
def demo_key(lake_dir: Path) -> str:
    """The demo's pseudonym key: generated once (random), kept beside the checkpoints, readable only by you."""
    path = lake_dir / KEY_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    key = secrets.token_hex(32)
    write_key(path, key + "\n")
    return key


def write_key(path: Path, text: str) -> None:
    """``text`` in a file at ``path`` that is ``0o600`` from the start (never, even for a moment, readable by others
    as the umask would make it), written whole or not at all by :func:`~fediscope.files.atomic_out`: what is at
    ``path`` (an empty key file, a symbolic link) is replaced, never written through. Failing raises the OSError,
    which :func:`main` words."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_out(path, 0o600) as write:
        write(text.encode("utf-8"))


def demo_settings(ctx: DemoContext, instance_url: str, tag: str | None) -> Settings:
    """Isolated settings: nothing read from the environment or fediscope.toml."""
    timelines = ["public", "local", *([f"tag:{tag}"] if tag else []), "instance", "instance_activity",
                 "instance_peers", "trends_tags", "directory"]
    return Settings().replace(
        lake=str(ctx.lake_dir), store=sqlite_url(ctx.db_path), engine="duckdb",
        pseudonym_key=demo_key(ctx.lake_dir), privacy=True, allow_private_addresses=True,
        instances=(instance_url,), backfill_pages=100_000, page_limit=40, request_timeout=10.0, max_retries=3,
        sources=(SourceSpec(instance=instance_url, timelines=tuple(timelines)),),
    )


def collected_ports(lake_dir: Path) -> list[int]:
    """Ports of the sample instances this lake holds checkpoints of (``_state/127.0.0.1:<port>/``), the most
    recently collected last."""
    found: list[tuple[float, int]] = []
    state = lake_dir / "_state"
    for entry in state.glob("127.0.0.1:*") if state.is_dir() else ():
        port = entry.name.partition(":")[2]
        if entry.is_dir() and port.isascii() and port.isdigit():
            found.append((entry.stat().st_mtime, int(port)))
    return [port for _, port in sorted(found)]


def _corpus_rate(n_statuses: int, hour: datetime) -> float:
    """Statuses per unit of :func:`~fediscope.sample.clock.diurnal_weight` hour in a corpus of ``n_statuses`` over
    the window before ``hour`` (its day/night rhythm scaled to its size)."""
    from fediscope.sample.clock import diurnal_weight
    from fediscope.sample.corpus import DEFAULT_WINDOW

    window = int(DEFAULT_WINDOW / timedelta(hours=1))
    weights = [diurnal_weight(moment.hour, moment.weekday())
               for moment in (hour - timedelta(hours=back) for back in range(1, window + 1))]
    return max(n_statuses, 1) / sum(weights)


def new_statuses_span(n_statuses: int, new_statuses: int, hour: datetime) -> timedelta:
    """The whole hours before ``hour`` the ``new_statuses`` of a run are posted over (and ``hour`` so far): as
    many as the corpus of ``n_statuses`` takes to post that many there, at its day/night rhythm
    (:func:`~fediscope.sample.clock.diurnal_weight`: more hours at night), at most its window. So they neither all
    fall in the run's hour (a spike in the activity heatmap) nor leave the hours since the corpus's end emptier
    than the corpus has them. 0 without new statuses."""
    from fediscope.sample.clock import diurnal_weight
    from fediscope.sample.corpus import DEFAULT_WINDOW

    if new_statuses <= 0:
        return timedelta(0)
    window = int(DEFAULT_WINDOW / timedelta(hours=1))
    per_weight, expected, span = _corpus_rate(n_statuses, hour), 0.0, 0
    while expected < new_statuses and span < window:
        moment = hour - timedelta(hours=span + 1)
        expected += per_weight * diurnal_weight(moment.hour, moment.weekday())
        span += 1
    return timedelta(hours=span)


def statuses_posted_between(n_statuses: int, since: datetime, until: datetime) -> float:
    """How many statuses the corpus of ``n_statuses`` posts from ``since`` to ``until`` at its day/night rhythm
    (0 when ``until`` is not later): what a re-run's instance gains, so that re-runs minutes apart add no burst to
    the activity heatmap that the corpus's own rhythm does not have."""
    from fediscope.sample.clock import diurnal_weight

    per_weight, posted, moment = _corpus_rate(n_statuses, until.replace(minute=0, second=0, microsecond=0)), 0.0, since
    while moment < until:
        step = min(moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), until)
        posted += per_weight * diurnal_weight(moment.hour, moment.weekday()) * ((step - moment) / timedelta(hours=1))
        moment = step
    return posted


def newest_collected(lake_dir: Path, port: int) -> datetime | None:
    """When the last run collected from the sample instance on ``port``: the latest of the moments its checkpoints
    were saved and of the newest status they hold (the time inside its snowflake id), or None before any
    collection. A run's new statuses come after it: an incremental collection asks only for ids above the
    checkpoints, and the last run's instance had nothing posted later."""
    from fediscope.lake.local import LocalLake
    from fediscope.lake.state import UnreadableCheckpoint, read_state
    from fediscope.timestamps import snowflake_ms

    lake = LocalLake(lake_dir)
    newest: list[datetime] = []
    for entry in lake.list(f"_state/127.0.0.1:{port}"):
        if entry.is_dir or not entry.path.endswith(".json"):
            continue
        try:
            checkpoint = read_state(lake, entry.path)
        except UnreadableCheckpoint:
            continue  # the collection says so when it reads it
        if checkpoint.newest_id is not None and checkpoint.newest_id.isascii() and checkpoint.newest_id.isdigit():
            newest.append(datetime.fromtimestamp(snowflake_ms(checkpoint.newest_id) / 1000, UTC))
        try:
            saved = datetime.fromisoformat(checkpoint.updated_at or "")
        except (TypeError, ValueError):
            continue
        if saved.tzinfo is not None:
            newest.append(saved.astimezone(UTC))
    return max(newest) if newest else None


def default_port(lake_dir: Path) -> int:
    """The port a run without ``--port`` serves the instance on: the one the lake was collected from (the lake
    names partitions and checkpoints after host:port, so another port would collect the corpus again as a
    second instance), else :data:`DEFAULT_PORT`."""
    ports = collected_ports(lake_dir)
    return DEFAULT_PORT if not ports or DEFAULT_PORT in ports else ports[-1]


def start_over_command(lake_dir: Path, *options: str) -> str:
    """The command that deletes the demo lake ``lake_dir`` (and the outputs beside it) and runs the demo with
    ``options``: ``--dir`` names the lake's directory unless it is the current one, so the command starts over
    where the refused run was, not in the current directory."""
    base = lake_dir.parent
    where = [] if base.resolve() == Path.cwd().resolve() else ["--dir", shown(base)]
    return shlex.join([python_command(), "-m", "fediscope.demo", *where, "--fresh", *options])


def port_for(lake_dir: Path, port: int | None) -> int:
    """The port a run serves the instance on: ``--port`` (``port``), else :func:`default_port`. Another port than
    the one a lake was collected from (``--port 0`` included) is refused (ValueError), as another corpus is by
    :func:`corpus_for`: the lake names partitions and checkpoints after host:port, so the whole corpus would be
    collected again as a second instance and counted twice."""
    if port is None:
        return default_port(lake_dir)
    collected = collected_ports(lake_dir)
    if collected and port not in collected:
        shown = ", ".join(f"127.0.0.1:{p}" for p in collected)
        raise ValueError(f"this lake was collected from the sample instance on {shown}: --port {port} would "
                         "collect the whole corpus again as a second instance and count it twice. Run without "
                         f"--port (it uses {default_port(lake_dir)}), or start over: "
                         f"{start_over_command(lake_dir, '--port', str(port))}")
    return port


def remembered_corpus(lake_dir: Path) -> tuple[int, int] | None:
    """(statuses, seed) of the corpus this lake was collected from; None for a new lake (or one collected before
    the demo remembered it, or a damaged note: nothing to hold a re-run to)."""
    try:
        note = json.loads((lake_dir / CORPUS_FILE).read_text(encoding="utf-8"))
        return int(note["statuses"]), int(note["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def corpus_for(lake_dir: Path, statuses: int | None, seed: int | None) -> tuple[int, int]:
    """The corpus a run serves: the one the lake was collected from, unless ``--statuses``/``--seed`` ask for
    another, which is refused (ValueError): its statuses would be collected into the same partitions next to
    the first corpus's, and every analysis would count the two mixed."""
    remembered = remembered_corpus(lake_dir)
    if remembered is None:
        return (DEFAULT_STATUSES if statuses is None else statuses), (0 if seed is None else seed)
    wanted = (remembered[0] if statuses is None else statuses, remembered[1] if seed is None else seed)
    if wanted != remembered:
        raise ValueError(f"this lake was collected from the sample corpus of {remembered[0]} statuses (seed "
                         f"{remembered[1]}); --statuses {wanted[0]} --seed {wanted[1]} would collect another corpus "
                         "into it and mix the two. Run without them, or start over with that corpus: "
                         f"{start_over_command(lake_dir, '--statuses', str(wanted[0]), '--seed', str(wanted[1]))}")
    return remembered


def start_instance(ctx: DemoContext) -> str:
    from fediscope.sample.instance import SampleInstance
    from fediscope.sample.server import SampleServer

    collected = collected_ports(ctx.lake_dir)
    try:
        port_for(ctx.lake_dir, ctx.port)  # `python -m fediscope.demo` refuses it before any step (exit 2)
    except ValueError as exc:
        raise DemoStepError(str(exc)) from None
    # the corpus ends a few hours before the current hour, so "the last 7 days" analyses see it; re-runs within
    # the hour serve the very same corpus. The statuses "new since the last run" (what an incremental re-run
    # collects) are posted from then to now with the corpus's day/night rhythm, after what the last run collected
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = hour - new_statuses_span(ctx.n_statuses, ctx.new_statuses, hour)
    instance = SampleInstance.generate(ctx.n_statuses, ctx.seed, end=end)
    corpus, gained, due = len(instance.statuses), 0, 0
    newest = newest_collected(ctx.lake_dir, ctx.port)
    if newest is not None:
        # a re-run's instance gains what the corpus posts since the last run, at most --new, one of them posted
        # live in the stream step: --new at every run, minutes apart, was a burst in the activity heatmap
        since = max(end, newest)
        due = round(statuses_posted_between(ctx.n_statuses, since, datetime.now(UTC)))
        ctx.stream_posts = min(STREAM_POSTS, max(1, due - ctx.new_statuses))
        wanted = min(ctx.new_statuses, max(0, due - 1))
    else:
        since, wanted = end, ctx.new_statuses
    if wanted:
        gained = len(instance.grow(wanted, since=since))
    try:
        server = SampleServer(instance, port=ctx.port, rate_limit=10_000)
    except OSError as exc:
        if ctx.port in collected:  # another port would land the whole corpus again, as a second instance
            raise DemoStepError(f"port {ctx.port} is in use ({exc.strerror or exc}), and this lake was collected "
                                f"from the sample instance on 127.0.0.1:{ctx.port}: another port would collect the "
                                "whole corpus again as a second instance and count it twice. Stop what uses the "
                                "port and run again, or start over: "
                                f"{start_over_command(ctx.lake_dir, '--port', '0')}") from None
        server = SampleServer(instance, port=0, rate_limit=10_000)
        ctx.notes.append(f"port {ctx.port} was busy, the instance ran on {server.port}: the lake partitions of "
                         "this run are named after that port, and the next run uses it again")
    others = [f"127.0.0.1:{p}" for p in collected if p != server.port]
    if others:
        ctx.notes.append(f"this lake also holds data collected from the sample instance on {', '.join(others)}: "
                         "the analyses count that corpus once per port (start over with --fresh)")
    ctx.server = server.start()
    note = ctx.lake_dir / CORPUS_FILE
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(json.dumps({"statuses": ctx.n_statuses, "seed": ctx.seed}) + "\n", encoding="utf-8")
    trending = instance.trending_tags()
    ctx.settings = demo_settings(ctx, server.url, trending[0]["name"] if trending else None)
    public = len(instance.public_timeline_ids())
    # was: "serves 5025 statuses" under the head's "(5000 statuses, seed 0)", with nothing to say what the 25 were
    made_of = f" (the corpus's {corpus} and {gained} new for this run)" if gained else ""
    if newest is not None and not gained:  # was "no status is due" also when one was (posted by the stream step)
        made_of = (" (none new yet: at the corpus's rhythm, no status is due since the last run)" if due <= 0 else
                   " (none new yet: the one status due at the corpus's rhythm since the last run is posted live by "
                   "the stream step)" if due == 1 else
                   f" (none new: --new {ctx.new_statuses}; the stream step posts {ctx.stream_posts} of the {due} "
                   "statuses due at the corpus's rhythm since the last run)")
    # was "… as sample.social" alone, while the lake, the store and the report name it 127.0.0.1:<port>: a newcomer
    # wondered which was which. The instance calls itself so (its statuses' URLs, its instance document); fediscope
    # names an instance by the address it collects from (its own accounts too: sample.social is no parent domain of
    # 127.0.0.1), and privacy drops the URLs at landing, so that name is the one every output says
    return (f"{server.url} serves {count(len(instance.statuses), 'status')}{made_of} of "
            f"{count(len(instance.accounts), 'account')} ({public} on the public timeline) as {instance.home} (the "
            f"domain in its statuses' URLs); the lake and the report name it {instance_domain(server.url)}, the "
            "address it is collected from")


def start_api(ctx: DemoContext) -> str:
    settings = ctx.need_settings()
    # the key lives in this process only; the allowlist is the configured source (the sample instance)
    ctx.api = DemoApi(settings.replace(api_key=(ctx.api_key,))).start()
    allowed = ", ".join(sorted(settings.allowed_instances()))
    return f"{ctx.api.url} (waitress; X-API-Key generated for this run; allowlist: {allowed})"


def collect(ctx: DemoContext) -> str:
    from fediscope.lake.backend import open_lake
    from fediscope.lake.key_check import check_landing_key
    from fediscope.lake.state import load_checkpoint
    from fediscope.sources.collector import run_collection
    from fediscope.sources.spec import parse_source

    settings = ctx.need_settings()
    lake = open_lake(settings.lake)
    # as `fediscope collect` does: the lake records its key's check, so a later collect, stream or erasure with
    # another key than the demo's is refused instead of landing records that join nothing
    check_landing_key(settings, lake, warn=False)
    checkpoint = load_checkpoint(lake, _domain(settings), "public")
    ctx.public_before = checkpoint.newest_id
    resumed = bool((checkpoint.extra or {}).get("walk"))
    targets = [(spec.instance, parse_source(t)) for spec in settings.sources for t in spec.timelines]
    # failures_shown: the FAILED line below says why, so the collector does not log each failed source as a warning
    summary = run_collection(settings, targets, max_pages=None, progress=sys.stderr.isatty(), failures_shown=True)
    ctx.collected = summary
    ctx.outputs["raw lake (JSONL)"] = str(ctx.lake_dir / "raw")
    ctx.details["raw lake (JSONL)"] = f"{summary.landed} records landed by this run"
    if summary.failed:
        raise DemoStepError(failed_sources(summary.failed))
    timelines = [s for s in summary.sources if parse_source(s.source).paged]
    statuses = sum(s.landed for s in timelines)
    # was "(the whole corpus)" beside more statuses than the instance serves: the timelines overlap (the local
    # and the hashtag timeline are parts of the public one), and each lands what it lists
    since = ("resuming the interrupted last run" if resumed else
             "each in full; a status on several of them lands from each" if ctx.public_before is None else
             "only what is new since the last run")
    return (f"landed {count(summary.landed, 'record')} in {count(summary.pages, 'page')}: "
            f"{count(statuses, 'status')} from "
            f"{count(len(timelines), 'timeline')} ({since}), {summary.landed - statuses} from "
            f"{count(len(summary.sources) - len(timelines), 'snapshot source')}; {_left_out(summary)}")


def failed_sources(failed: Sequence[Any]) -> str:
    """The collect step's failure, one line: the first failed source's reason, and the others by name. Was every
    source's reason in full: a full disk or an unwritable lake said the same of each of the 8 sources, with its path
    (1,800 characters), after a warning line for each."""
    first, others = failed[0], [s.source for s in failed[1:]]
    more = f" (and {count(len(others), 'other source')}: {', '.join(others)})" if others else ""
    return f"{first.instance} {first.source}: {first.error}{more}"


def _left_out(summary: Any) -> str:
    """What the privacy policy left out of a collection's or a stream's landing, and what was quarantined, as
    ``fediscope collect`` and ``stream`` count them (the opted-out apart)."""
    from fediscope.sources.summary import opted_out_note

    return (f"{summary.skipped} left out by the privacy policy{opted_out_note(summary.opted_out)}, "
            f"{summary.quarantined} quarantined")


def check_api(ctx: DemoContext) -> str:
    """Page the public timeline through the scraping API and compare each record with the collector's."""
    import requests

    settings = ctx.need_settings()
    if ctx.api is None or ctx.collected is None:
        raise DemoStepError("the scraping API and collect steps did not run")
    domain = _domain(settings)
    landed = _landed_public(settings, domain)
    url: str | None = f"{ctx.api.url}/v1/timelines/public"
    params: dict[str, str] | None = {"instance": domain, "limit": str(API_PAGE_LIMIT)}
    if ctx.public_before and params is not None:
        params["since_id"] = ctx.public_before  # only what this run collected: older records are older snapshots
    served = pages = 0
    differ: list[str] = []
    with requests.Session() as session:
        session.headers["X-API-Key"] = ctx.api_key
        while url and pages < API_PAGES:
            response = session.get(url, params=params, timeout=30)
            if response.status_code != 200:
                raise DemoStepError(f"the scraping API answered HTTP {response.status_code} to GET "
                                    f"/v1/timelines/public: {_api_message(response)}")
            body = response.json()
            pages += 1
            records = [r for r in body["records"]
                       if ctx.public_before is None or _id_key(r["data"]["id"]) > _id_key(ctx.public_before)]
            for record in records:
                if landed.get(record["data"]["id"]) != record["data"]:
                    differ.append(record["data"]["id"])
            served += len(records)
            if len(records) < len(body["records"]):
                break  # reached the previous run's checkpoint
            url = response.links.get("next", {}).get("url")  # the API's Link header: rel="next" is older
            params = None  # the next URL carries its own query
    if differ:
        raise DemoStepError(f"{len(differ)} of the {served} records the scraping API served differ from (or are "
                            f"missing in) what the collector landed, e.g. status {differ[0]}")
    if not served:
        return f"scraping API at {ctx.api.url}: nothing new on the public timeline since the last run"
    return (f"scraping API at {ctx.api.url} served {count(served, 'record')} in {count(pages, 'page')}, identical to "
            "the collector's")


def stream(ctx: DemoContext) -> str:
    """Keep the public stream open while the instance posts a few statuses, and land what it pushes."""
    from fediscope.privacy import status_opted_out
    from fediscope.sources.spec import SourceRef
    from fediscope.sources.stream import StreamRun

    settings = ctx.need_settings()
    if ctx.server is None:
        raise DemoStepError("the sample instance step did not run")
    instance = ctx.server.instance
    stop = threading.Event()
    run = StreamRun(settings, settings.sources[0].instance, SourceRef("public"), duration=STREAM_SECONDS,
                    flush_seconds=STREAM_SECONDS, stop=stop)
    reader = threading.Thread(target=run.run, name="demo-stream", daemon=True)
    reader.start()
    deadline = time.monotonic() + STREAM_SECONDS
    while not instance.subscribers and reader.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    posted: list[dict[str, Any]] = []
    for _ in range(STREAM_POSTS):  # one at a time until enough stream and land (at most STREAM_POSTS posted)
        if sum(not status_opted_out(s) for s in posted) >= ctx.stream_posts:
            break
        posted.extend(s for s in instance.grow(1) if instance.streams(s, "public"))
    while (run.summary.events["update"] < len(posted) and reader.is_alive()
           and time.monotonic() < deadline):
        time.sleep(0.02)
    stop.set()
    reader.join(10)
    summary = ctx.streamed = run.summary
    if not summary.ok:
        raise DemoStepError(f"the public stream failed: {summary.error}")
    if summary.events["update"] < len(posted):
        raise DemoStepError(f"the public stream pushed {summary.events['update']} of the {len(posted)} public "
                            f"statuses the instance posted in {STREAM_SECONDS:g} s")
    if ctx.collected is not None:  # the outputs' count of records this run landed: the collection's and these
        landed = ctx.collected.landed + summary.landed + summary.deletions
        ctx.details["raw lake (JSONL)"] = f"{landed} records landed by this run"
    pushed = "the public status" if len(posted) == 1 else f"the {len(posted)} public statuses"
    return (f"the public stream pushed {pushed} the instance posted while it was open; "
            f"landed {summary.landed} in {count(len(summary.batches), 'batch file')}; {_left_out(summary)}")


def process(ctx: DemoContext) -> str:
    from fediscope.engine.curate_sql import rules_fingerprint
    from fediscope.engine.manifest import load_manifest
    from fediscope.engine.process import curated_counts, run_process
    from fediscope.lake.backend import open_lake

    settings = ctx.need_settings()
    manifest = load_manifest(open_lake(settings.lake))
    # a demo lake curated by an older fediscope (other curation rules) is rebuilt: it keeps every raw file
    recurate = bool(manifest.files) and manifest.rules != rules_fingerprint()
    summary = run_process(settings, progress=False, recurate=recurate)
    ctx.outputs["curated (Parquet)"] = str(ctx.lake_dir / "curated")
    ctx.outputs["SQLite db"] = str(ctx.db_path)
    ctx.details["SQLite db"] = f"{count(len(summary.metrics), 'metric')}, {count(summary.metric_rows, 'row')}"
    cur = summary.curate
    verb = "rebuilt (curated by an older fediscope) from" if cur.get("rebuilt") else "curated"
    curated = ("nothing new to curate" if cur.get("noop") and not cur.get("rebuilt") else
               f"{verb} {count(cur.get('raw_files', 0), 'raw file')}{curated_counts(cur)}")
    written = sum(m.stored or 0 for m in summary.metrics.values())
    return (f"{summary.engine}: {curated}; {count(len(summary.metrics), 'metric')}, "
            f"{count(summary.metric_rows, 'row')} in SQLite "
            f"({written} new or changed written)")


def report(ctx: DemoContext) -> str:
    from fediscope.report import build_report
    from fediscope.store.port import store_from_settings

    chart_dir = ctx.out_dir / "charts"
    # named as the Next: line names it, so that its head says the same store: was sqlite:////<dir>/demo-out/demo.db
    # here (an absolute path) and sqlite:///./demo-out/demo.db there (relative), which read as two stores
    store = store_from_settings(ctx.need_settings().replace(store=shown_store(ctx)))
    try:
        result = build_report(store, out_dir=chart_dir, n=10, charts=True)
    finally:
        store.close()
    text = result.text()
    ctx.analyses = [r.to_dict() for r in result.run.results]
    report_path = ctx.out_dir / "report.txt"
    out = ctx.out or sys.stdout
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")
    ctx.outputs["report"] = str(report_path)
    if result.charts:
        ctx.outputs["charts"] = str(chart_dir)
        ctx.details["charts"] = f"{len(result.charts)} PNG"
    width = excerpt_width(out)
    print(_indent(excerpt(result.text(width), EXCERPT_SECTIONS, width, shown(report_path))), file=out)
    return f"{len(result.run.results)} analyses, {len(result.charts)} charts"


def check_results_api(ctx: DemoContext) -> str:
    """Read every analysis through the API's results routes and compare it with the report's."""
    import requests

    if ctx.api is None or ctx.analyses is None:
        raise DemoStepError("the scraping API and report steps did not run")
    differ: list[str] = []
    with requests.Session() as session:
        session.headers["X-API-Key"] = ctx.api_key
        listed = _results_get(session, f"{ctx.api.url}/v1/analyses")["analyses"]
        stored = [a["name"] for a in listed if a["stored"]]
        for expected in ctx.analyses:
            got = _results_get(session, f"{ctx.api.url}/v1/analyses/{expected['name']}", n="10")
            if got != expected:
                differ.append(expected["name"])
    if differ:
        raise DemoStepError(f"the results API answered {len(differ)} of {len(ctx.analyses)} analyses differently "
                            f"from the report: {', '.join(differ)}")
    return (f"{ctx.api.url}/v1/analyses served the {len(ctx.analyses)} analyses of the report identically "
            f"({len(stored)} of {len(listed)} analyses have their metric stored)")


def _results_get(session: Any, url: str, **params: str) -> Any:
    response = session.get(url, params=params, timeout=30)
    if response.status_code != 200:
        raise DemoStepError(f"the results API answered HTTP {response.status_code} to GET "
                            f"{url.split('/', 3)[-1]}: {_api_message(response)}")
    return response.json()


STEPS: list[Step] = [
    Step("sample instance", ("fediscope.sample.instance", "fediscope.sample.server"), start_instance),
    Step("scraping API", ("api", "waitress.server", "fediscope.cli.serve"), start_api),
    Step("collect", ("fediscope.sources.collector", "fediscope.lake.state"), collect),
    Step("API check", ("requests", "fediscope.lake.batches"), check_api, essential=False),
    Step("stream", ("fediscope.sources.stream", "fediscope.sources.sse"), stream, essential=False),
    Step("curate, metrics, SQLite", ("fediscope.engine.process", "fediscope.engine.duckdb_engine"), process),
    Step("report and charts", ("fediscope.report", "fediscope.charts", "matplotlib"), report),
    Step("results API", ("requests", "api.results"), check_results_api, essential=False),
]


# -- helpers -----------------------------------------------------------------------------------------------------
def _domain(settings: Settings) -> str:
    return instance_domain(settings.sources[0].instance)


def _id_key(status_id: str) -> tuple[int, str]:
    return len(status_id), status_id  # Mastodon ids are decimal strings: longer is newer


def _landed_public(settings: Settings, domain: str) -> dict[str, Any]:
    """Every status the collector landed from the public timeline of ``domain``, by id (the latest landing)."""
    from fediscope.lake.backend import open_lake
    from fediscope.lake.batches import raw_batch_files, read_batch

    lake = open_lake(settings.lake)
    landed: dict[str, Any] = {}
    for path in raw_batch_files(lake, "statuses"):
        parts = path.split("/")
        if f"instance={domain}" in parts and parts[-1].startswith("public-"):
            landed.update((r["data"]["id"], r["data"]) for r in read_batch(lake, path))
    return landed


def _api_message(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def excerpt(text: str, sections: int, width: int | None = None, where: str = "the report file") -> str:
    """The report's header and its first ``sections`` sections (a section starts with ``== title ==``), then a line
    saying how many more analyses the full report at ``where`` holds. With ``width``, every other line longer than
    it is wrapped (:func:`wrap_line`): ``text`` is then the report made for that width
    (``ReportResult.text(width)``), whose tables keep only the columns that fit."""
    rows, seen, kept = text.splitlines(), 0, []
    for row in rows:
        if row.startswith("== "):
            seen += 1
            if seen > sections:
                break
        kept.append(row)
    while kept and not kept[-1].strip():
        kept.pop()
    if len(kept) < len(rows):
        more = sum(r.startswith("== ") for r in rows) - sections
        kept.append(f"… {count(more, 'more analysis', 'more analyses')} in the full report: {where}")
    if width is not None:
        kept = [wrapped for row in kept for wrapped in wrap_line(row, width)]
    return "\n".join(kept)


def excerpt_width(out: Any) -> int:
    """Columns the report's excerpt may take (its 4 columns of indentation apart) where ``out`` is shown: its
    terminal's width (``COLUMNS`` when set), else 80 (a file, a pipe), at least :data:`EXCERPT_MIN_COLUMNS`."""
    return max(terminal_columns(out), EXCERPT_MIN_COLUMNS) - len(INDENT)


def shown(path: Path | str) -> str:
    """A path as the reader should type it: ``./demo-lake/raw`` below the current directory, else absolute."""
    try:
        return f"./{Path(path).relative_to(Path.cwd())}"
    except ValueError:
        return str(path)


def sqlite_url(path: Path | str) -> str:
    """The ``sqlite:///`` store URL of a file path. fediscope percent-decodes a SQLite URL's path and reads a ``?`` as
    the start of its options, so a ``%``, ``?`` or ``#`` in a directory name (``--dir 'run 50%'``) is escaped:
    was written as is, and the demo put its store in another directory (``p%41q`` became ``pAq``) or failed."""
    escaped = str(path).replace("%", "%25").replace("?", "%3F").replace("#", "%23")
    return f"sqlite:///{escaped}"


def shown_store(ctx: DemoContext) -> str:
    """The demo's store URL as the reader should type it: ``sqlite:///./demo-out/demo.db`` below the current
    directory (relative to it), else absolute (``sqlite:////srv/demo/demo-out/demo.db``: four slashes)."""
    return sqlite_url(shown(ctx.db_path))


def run_by_make() -> bool:
    """Whether ``make demo`` started this run (make sets ``MAKELEVEL`` for its recipes): only then do the hints name
    make's targets; a fediscope installed with pip has no Makefile beside it."""
    return bool(os.environ.get("MAKELEVEL"))


def install_hint() -> str:
    """What to do when a step's module does not import (the hint of make, or of a pip installation)."""
    return INSTALL_HINT if run_by_make() else PIP_INSTALL_HINT


def python_command() -> str:
    """This interpreter as the reader should type it (``./.venv/bin/python`` after ``make demo``): a bare ``python``
    in a hint is the system's, which lacks the demo's packages (and ``--fresh`` had already deleted the lake)."""
    return shown(sys.executable)


def _cli_command() -> str:
    """How to call the ``fediscope`` command of this interpreter from the current directory (the venv's script
    beside it, as ``make demo`` installs it), or plain ``fediscope`` when there is none."""
    script = Path(sys.executable).parent / "fediscope"
    return shown(script) if script.is_file() else "fediscope"


def _indent(text: str) -> str:
    return "\n".join(INDENT + line for line in text.splitlines())


def java_available() -> bool:
    from fediscope.engine.spark_engine import find_java  # imports no pyspark

    return find_java() is not None


def java_too_old() -> str | None:
    """How the Java Spark would run falls short of :data:`~fediscope.engine.spark_engine.MIN_JAVA`, as `fediscope
    doctor` checks it (``java -version``), or None: also where its version cannot be told (the engine's own check
    then lets it through as well)."""
    from fediscope.engine.spark_engine import MIN_JAVA, find_java, java_major  # imports no pyspark

    java = find_java()
    major = java_major(java) if java is not None else None
    if major is None or major >= MIN_JAVA:
        return None
    return f"Java {major} at {java}; the Spark engine needs Java {MIN_JAVA}+"


# -- running ------------------------------------------------------------------------------------------------------
def installation_problem(steps: Sequence[Step] = STEPS) -> str | None:
    """The line saying which step cannot run for a module that does not import, or None: checked before anything
    runs or is deleted (``--fresh``)."""
    for step in steps:
        problem = step.import_problem()
        if problem is not None:
            return f"fediscope demo: step {step.name!r} cannot run: {problem}; {install_hint()}"
    return None


def run_demo(ctx: DemoContext, steps: Sequence[Step] = STEPS, out: Any = None, err: Any = None) -> int:
    """Run every step in order; returns the exit code (0: every step succeeded).

    Progress goes to ``out``; a failure is one line on ``err`` (the demo stops at an essential step).
    """
    out = out or ctx.out or sys.stdout
    err = err or sys.stderr
    ctx.out = out
    if problem := installation_problem(steps):  # before anything runs: one clear line, not a half-done demo
        print(problem, file=err)
        return 1
    started = time.monotonic()
    print(f"fediscope demo in {ctx.base} ({ctx.n_statuses} statuses, seed {ctx.seed})", file=out)
    if java_available():
        if too_old := java_too_old():  # was "Java: found" whatever its version: a Java 11 read as ready for Spark
            print(f"Java: found, but too old for Spark ({too_old}: install it and set JAVA_HOME to it). Fine for "
                  "the demo, which computes with DuckDB (embedded).", file=out)
        else:
            print("Java: found, but not needed here (the demo computes with DuckDB; the Spark engine uses Java).",
                  file=out)
    else:
        from fediscope.engine.spark_engine import java_not_found  # imports no pyspark

        # where Spark looks, as `fediscope doctor` says it: was "not found … apt-get install" also for a JAVA_HOME
        # naming a removed JDK, where Spark runs $JAVA_HOME/bin/java whatever is installed
        how = ("point JAVA_HOME at a Java 17+ installation, or unset it" if os.environ.get("JAVA_HOME") else
               "`make system-deps` installs it as root" if run_by_make() else
               "Debian: `apt-get install openjdk-17-jre-headless`")
        print(f"Java: not found ({java_not_found()}). Fine for the demo, which computes with DuckDB (embedded); only "
              f"the Spark engine needs Java 17+ ({how}).", file=out)
    code, failed, stopped = 0, 0, False
    from fediscope.cli import SigintWatch  # click and fediscope.errors only

    try:
        with SigintWatch() as sigint:
            for number, step in enumerate(steps, start=1):
                label = f"[{number}/{len(steps)}] {step.name}"
                print(f"{label} …", file=out, flush=True)
                step_started = time.monotonic()
                try:
                    result = step.run(ctx)
                except Exception as exc:  # one line, then stop: the later steps depend on this one
                    if sigint.seen:  # Ctrl-C that a library reported as its own error (DuckDB: "Query interrupted")
                        raise KeyboardInterrupt from exc
                    out.flush()
                    print(f"{label}: FAILED: {one_line(exc)}", file=err, flush=True)
                    code, failed = 1, failed + 1
                    if step.essential:
                        stopped = True
                        break
                    continue
                print(f"{label}: {result} ({time.monotonic() - step_started:.1f} s)", file=out, flush=True)
                # a Ctrl-C that did not stop the step: one a finalizer swallowed (SigintWatch.lost, without its
                # traceback), or one a library caught and went on from
                if sigint.seen:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        out.flush()
        print("fediscope demo: interrupted; run it again to continue (collection resumes from its checkpoints)",
              file=err)
        code, stopped = 130, True
    finally:
        ctx.stop_servers()
    verdict = ("Interrupted" if code == 130 else "Stopped" if stopped else
               f"Done with {count(failed, 'failed step')}" if failed else "Done")
    print(f"\n{verdict} in {time.monotonic() - started:.1f} s. Outputs:", file=out)
    for name, where in {"lake": str(ctx.lake_dir), **ctx.outputs}.items():
        detail = f" ({ctx.details[name]})" if name in ctx.details else ""
        print(f"  {name:18} {shown(where)}{detail}", file=out)
    print(f"  {'pseudonym key':18} {shown(ctx.lake_dir / KEY_FILE)} (demo only; set FEDISCOPE_PSEUDONYM_KEY for "
          "real use)", file=out)
    if code == 0:
        # `make demo` runs in the current directory: a run given --dir elsewhere is repeated with that --dir
        here = ctx.base.resolve() == Path.cwd().resolve()
        where = [] if here else ["--dir", shown(ctx.base)]
        again = ("`make demo`" if here and run_by_make() else
                 f"`{shlex.join([python_command(), '-m', 'fediscope.demo', *where])}`")
        # its charts go where the demo's went (was: into ./fediscope-out, report's default, which `make clean` and
        # .gitignore's demo entries leave alone)
        report_command = shlex.join([_cli_command(), "report", "--store", shown_store(ctx), "--top",
                                     "20", "--out", shown(ctx.out_dir / "charts")])
        # ./ paths (as the outputs above name them) do not name these files from another directory: said so
        relative = any(p.startswith("./") for p in (shown(ctx.base), _cli_command(), python_command()))
        print(f"Next: `{report_command}`, or run "
              f"{again} again: it collects only what is new."
              + (" Run both from this directory: their ./ paths are relative to it." if relative else ""), file=out)
        print(f"  {shown(ctx.db_path)} is plain SQLite: a table per metric (metric_<name>, e.g. metric_languages), "
              "each listed with its question in fediscope_catalog; to add your own metric, see README "
              "\"Your own metric\".", file=out)
    for note in ctx.notes:
        print(f"Note: {note}", file=out)
    out.flush()
    return code


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    # the docstring's first paragraph, without its reST markup (was shown as ``make demo``)
    description = __doc__.split("\n\n")[0].replace("``", "`")
    parser = argparse.ArgumentParser(prog="python -m fediscope.demo", description=description)
    parser.add_argument("--statuses", type=int, default=None,
                        help=f"statuses in the sample corpus (default: the corpus the lake was collected from, "
                             f"else {DEFAULT_STATUSES}; another one needs --fresh)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the sample corpus (default: the lake's corpus's, else 0)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port of the sample instance (0: any free port; default: the port the lake was "
                             f"collected from, else {DEFAULT_PORT}; the lake names partitions and checkpoints "
                             "after host:port, so keep one port for incremental re-runs)")
    parser.add_argument("--new", type=int, default=25, dest="new_statuses",
                        help="statuses the instance gains at a first run, posted over the hours since the corpus; a "
                             "re-run gains what the corpus posts at its rhythm since the last run, at most this many "
                             "(what an incremental re-run collects)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where demo-lake/ and demo-out/ go")
    parser.add_argument("--fresh", action="store_true",
                        help="delete demo-lake/ and demo-out/ first (the demo key is kept)")
    args = parser.parse_args(argv)
    # only the options that are wrong (was one message naming all three, whichever was given)
    wrong = [rule for bad, rule in ((args.statuses is not None and args.statuses < 1, "--statuses must be >= 1"),
                                    (args.new_statuses < 0, "--new must be >= 0"),
                                    (args.port is not None and not 0 <= args.port <= 65535,
                                     "--port must be between 0 and 65535")) if bad]
    if wrong:
        parser.error("; ".join(wrong))
    return args


class LeftoverError(OSError):
    """What an earlier ``--fresh`` left to delete cannot be deleted (:func:`fresh_start`): its message says what to
    do, and :func:`main` adds no hint of its own."""


def _doomed(directory: Path) -> Path:
    """Where ``--fresh`` moves ``directory`` before deleting it (a hidden sibling, removed by the next run)."""
    return directory.with_name(f".{directory.name}.deleting")


def remove_leftovers(ctx: DemoContext) -> None:
    """Delete what a ``--fresh`` deletion that was cut short (Ctrl-C, a kill) left beside the lake: never part of
    the lake or the outputs themselves, which it had moved out of the way first."""
    for directory in (ctx.lake_dir, ctx.out_dir):
        doomed = _doomed(directory)
        if doomed.is_symlink():  # a lake linked to elsewhere: the link goes, what it points to is not deleted
            doomed.unlink()
        else:
            shutil.rmtree(doomed, ignore_errors=True)


def fresh_start(ctx: DemoContext) -> None:
    """Delete the lake and the outputs (the demo key is kept), whole or not at all: each is first renamed out of the
    way (the outputs first, so a lake is never left beside the store of an older one), with Ctrl-C held back until
    the key is back in the new lake, then deleted. Was: deleted in place, where a Ctrl-C (or a file it could not
    delete, ignored) left part of the old lake, its curated tables without their key, manifest and raw files, and
    the next run counted every account twice. A rename, or the key's writing, that fails raises the OSError, which
    :func:`main` words, before anything is deleted: what was moved aside is moved back first (:func:`_put_back`), as
    for a Ctrl-C that Python raises there. Was: left aside, where the next run's :func:`remove_leftovers` deleted it,
    the old lake with the only copy of the key when the key could not be written into the new one (a full disk).
    What an earlier run left aside and :func:`remove_leftovers` cannot delete stops it first (:class:`LeftoverError`,
    naming it)."""
    key_path = ctx.lake_dir / KEY_FILE
    key = key_path.read_text(encoding="utf-8") if key_path.exists() else None
    remove_leftovers(ctx)
    if stuck := [doomed for doomed in map(_doomed, (ctx.out_dir, ctx.lake_dir)) if os.path.lexists(doomed)]:
        # was the rename's "Directory not empty: 'demo-out' -> '.demo-out.deleting'; pass --dir with a writable
        # directory", as if the directory were the problem
        raise LeftoverError(f"{', '.join(map(str, stuck))}, left by an earlier --fresh, could not be deleted (it may "
                            "hold a file this user may not delete): delete it, then run again")
    held = {signal.SIGINT, signal.SIGTERM}
    moved: list[Path] = []
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, held)  # delivered when unblocked, below
    try:
        for directory in (ctx.out_dir, ctx.lake_dir):
            if directory.exists() or directory.is_symlink():
                directory.rename(_doomed(directory))
                moved.append(directory)
        if key:
            write_key(key_path, key)
    except BaseException:  # also a Ctrl-C that came before the mask and is raised only now (Python runs it late)
        _put_back(moved)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    remove_leftovers(ctx)


def _put_back(moved: Sequence[Path]) -> None:
    """Move back what :func:`fresh_start` moved aside before it failed, the last first: the new lake the key was
    being written into (nothing but that key) is removed to make way for the old one. Best effort: a directory that
    cannot be moved back stays aside (the error :func:`fresh_start` raises says why it stopped)."""
    for directory in reversed(moved):
        if directory.is_symlink():
            directory.unlink()
        elif directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            _doomed(directory).rename(directory)


def main(argv: Sequence[str] | None = None) -> int:
    tolerate_unencodable_output()  # a Latin-1 or ASCII terminal: `…`, a CJK hashtag or the --dir path is no crash
    args = parse_args(argv)
    ctx = DemoContext(base=args.dir.resolve(), new_statuses=args.new_statuses)
    if args.fresh and (problem := installation_problem(STEPS)):  # not deleting a lake the demo cannot then rebuild
        print(problem, file=sys.stderr)
        return 1
    try:
        remove_leftovers(ctx)
        if args.fresh:
            fresh_start(ctx)
        ctx.n_statuses, ctx.seed = corpus_for(ctx.lake_dir, args.statuses, args.seed)
        ctx.port = port_for(ctx.lake_dir, args.port)
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        secrets_to_hide = [ctx.api_key, demo_key(ctx.lake_dir)]
    except ValueError as exc:
        print(f"fediscope demo: {exc}", file=sys.stderr)
        return 2
    except LeftoverError as exc:
        print(f"fediscope demo: cannot prepare {ctx.base}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fediscope demo: cannot prepare {ctx.base}: {one_line(exc)}; pass --dir with a writable "
              "directory", file=sys.stderr)
        return 1
    try:
        from fediscope.cli.common import configure_logging
    except Exception as exc:
        print(f"fediscope demo: cannot import fediscope.cli.common ({one_line(exc)}); {install_hint()}",
              file=sys.stderr)
        return 1
    configure_logging("WARNING", secrets=secrets_to_hide)  # warnings as single lines, keys masked
    try:
        return run_demo(ctx)
    except BrokenPipeError:  # `python -m fediscope.demo | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before the steps started (they handle it themselves)
        print("fediscope demo: interrupted", file=sys.stderr)
        sys.exit(130)
