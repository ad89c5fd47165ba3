"""Engine test input: REAL recorded Mastodon responses landed through the privacy policy, and helpers to read
curated tables back without going through the engines.

Every recorded interaction can be landed with its own fetch time (``at(minutes)``), so a sequence of
responses (post → reblog → unreblog; post → edit → get) becomes a sequence of snapshots like a collector
fetching the same status several times.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fediscope.config import Settings, load_settings
from fediscope.engine.metrics import load_metrics
from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import raw_batch_files, write_batch
from fediscope.lake.layout import envelope, parse_partition
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.store.port import open_store

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
INSTANCE = "localhost:3000"  # the recorded server
KEY = b"engine-tests-pseudonym-key-7c1e4b9a2d5f8e3c"
T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after every recorded status was created


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def policy() -> PrivacyPolicy:
    return PrivacyPolicy(key=KEY)


def interactions(name: str) -> list[dict[str, Any]]:
    """The recorded (request, response) pairs of one recording file."""
    return json.loads((RECORDINGS / name).read_text())["interactions"]


def is_status(item: Any) -> bool:
    return isinstance(item, dict) and "account" in item and "uri" in item and "content" in item


def statuses(name: str, method: str | None = None, path_contains: str = "") -> list[dict[str, Any]]:
    """Every status in the successful responses of a recording (optionally of one method / URL part)."""
    out = []
    for interaction in interactions(name):
        request, response = interaction["request"], interaction["response"]
        if response["status"] != 200 or (method and request["method"] != method):
            continue
        if path_contains not in request["uri"]:
            continue
        body = response["body"]
        out.extend(copy.deepcopy(item) for item in (body if isinstance(body, list) else [body]) if is_status(item))
    return out


def snapshots(name: str) -> list[dict[str, Any]]:
    """The status of each successful response of a recording, in recorded order (one per interaction)."""
    out = []
    for interaction in interactions(name):
        body = interaction["response"]["body"]
        if interaction["response"]["status"] == 200 and is_status(body):
            out.append(copy.deepcopy(body))
    return out


def activity_answered_later(weeks: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """A recorded ``/api/v1/instance/activity`` answer as Mastodon gives it ``days`` later: every window starts
    ``days`` later (Mastodon counts back from when it answers); the counts are kept."""
    return [dict(w, week=str(int(w["week"]) + days * 86400)) for w in weeks]


def land(lake: LakeBackend, entity: str, items: Iterable[Any], fetched_at: datetime,
         privacy: PrivacyPolicy | None = None, instance: str = INSTANCE,
         endpoint: str = "/api/v1/timelines/public") -> str | None:
    """Land raw entities as one batch fetched at ``fetched_at`` (through the privacy policy when given)."""
    records = []
    for item in items:
        data = privacy.apply(entity, item, instance) if privacy is not None else item
        if data is not None:
            records.append(envelope(instance, endpoint, data, fetched_at=fetched_at))
    return write_batch(lake, entity, instance, records, fetched_at=fetched_at)


def read_table(lake_dir: Path, table: str) -> list[dict[str, Any]]:
    """Rows of a curated table read with pyarrow (not through an engine), ``dt`` from the directory name."""
    root = lake_dir / "curated" / table
    rows = []
    for file in sorted(root.rglob("*.parquet")):
        part = {k: v for k, v in (p.split("=", 1) for p in file.relative_to(root).parts[:-1])}
        for row in pq.read_table(file).to_pylist():
            rows.append({**row, **part})
    return rows


def tree_digest(directory: Path) -> dict[str, str]:
    """sha256 of every file below ``directory`` (relative path → digest), to prove nothing was rewritten."""
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_rows_equal(got: list[dict[str, Any]], expected: list[dict[str, Any]], what: str = "") -> None:
    """Same rows in the same order; floats equal to a relative 1e-9 (the parity tolerance)."""
    assert len(got) == len(expected), f"{what}: {len(got)} rows, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert set(g) == set(e), f"{what} row {i}: columns {sorted(g)} != {sorted(e)}"
        for column, value in e.items():
            if isinstance(value, float) and isinstance(g[column], float):
                assert math.isclose(g[column], value, rel_tol=1e-9, abs_tol=1e-12), \
                    f"{what} row {i} {column}: {g[column]!r} != {value!r}"
            else:
                assert g[column] == value and type(g[column]) is type(value), \
                    f"{what} row {i} {column}: {g[column]!r} != {value!r}\n got {g}\n expected {e}"


def settings_for(lake_dir: Path, **overrides: object) -> Settings:
    """Settings for a test lake (``lake=`` may override the path, e.g. with a webhdfs:// URL)."""
    values = {"lake": str(lake_dir), "pseudonym_key": KEY.decode(),
              "store": f"sqlite:///{lake_dir.parent / 'metrics.db'}", **overrides}
    return load_settings(env={}, toml_path=None, **values)


def strip_column(table_dir: Path, column: str) -> int:
    """Rewrite every Parquet file of a curated table without ``column``, as an older version wrote them."""
    files = sorted(table_dir.rglob("*.parquet"))
    for file in files:
        table = pq.read_table(file, partitioning=None)
        pq.write_table(table.drop_columns([column]), file)
    return len(files)


#: Status URIs and the origin (home/id) the curation SQL derives from each, as fediscope.privacy.status_origin
#: reads them: SQL literal → expected. The match is the whole URI in every engine: after ``/activity`` a final
#: line break is no match (Java's ``$`` alone would take it), after an id it is part of the id.
ORIGIN_CASES = {
    "'https://Mastodon.Social/users/Gargron/statuses/109'": "mastodon.social/109",
    "'http://localhost:3000/ap/users/1170/statuses/1171'": "localhost:3000/1171",
    "'https://gts.example/users/x/statuses/01HX9/activity'": "gts.example/01HX9",
    "'https://gts.example/users/x/statuses/01HX9/activity' || chr(10)": None,
    "'https://gts.example/users/x/statuses/01HX9' || chr(10)": "gts.example/01HX9\n",
    "'https://misskey.example/notes/9abc'": None,
    "'urn:fediscope:u123'": None,
}


def derived_origins(engine: Any) -> dict[str, str | None]:
    """What ``engine`` derives from each URI of :data:`ORIGIN_CASES` (the curation SQL's own expression)."""
    from fediscope.engine.curate_sql import _origin_ref

    rows = " UNION ALL ".join(f"SELECT {i} AS n, {literal} AS uri" for i, literal in enumerate(ORIGIN_CASES))
    found = engine.query(f"SELECT n, {_origin_ref('uri')} AS origin FROM ({rows}) AS cases ORDER BY n")
    return {literal: row["origin"] for literal, row in zip(ORIGIN_CASES, found, strict=True)}


def land_superseded_copy_then_its_deletion(lake: LakeBackend, curate: Callable[[], Any],
                                           privacy: PrivacyPolicy | None) -> str:
    """A REAL recorded status fetched first from another instance (its id there 8880001), then from its home
    instance, later (that copy wins), then deleted by the other instance's stream: each step landed and curated
    (``curate()``) in turn, as the incremental runs of a collecting lake do. Returns the status's landed URI."""
    steps = superseded_copy_then_its_deletion(lake, privacy)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        curate()


def superseded_copy_then_its_deletion(lake: LakeBackend, privacy: PrivacyPolicy | None,
                                      author: str | None = None) -> Generator[None, None, str]:
    """The landings of :func:`land_superseded_copy_then_its_deletion`, one step at a time: yields after each (the
    lake is to be curated then); returns the status's landed URI. With ``author``, the first recorded status of that
    author (its ``acct``) instead of the first one."""
    from streamed_deletions import land_deletion

    status = next(s for s in statuses("test_public_tl.json")
                  if not s.get("reblog") and author in (None, s["account"]["acct"]))
    other = "remote.example"
    remote = dict(status, id="8880001", account=dict(status["account"], acct=f"{status['account']['acct']}@{INSTANCE}"))
    land(lake, "statuses", [remote], at(1), privacy, instance=other)
    yield
    land(lake, "statuses", [dict(status, favourites_count=6)], at(2), privacy)
    yield
    land_deletion(lake, "8880001", other, at(3), policy=privacy)
    yield
    return (privacy or PrivacyPolicy(key=None, enabled=False)).apply("statuses", dict(status), INSTANCE)["uri"]


def curated_both_ways(tmp_path: Path, lands: list[Callable[[LakeBackend], object]]) -> tuple[Path, Path]:
    """Two lakes given the same batches in the same order (each of ``lands`` lands one): one curated once at the
    end, one curated after every batch (a day-by-day lake); their directories, in that order."""
    from fediscope.engine.base import open_engine
    from fediscope.lake.local import LocalLake

    one_run, run_after_run = tmp_path / "one run" / "lake", tmp_path / "run after run" / "lake"
    for land_batch in lands:
        land_batch(LocalLake(one_run))
        land_batch(LocalLake(run_after_run))
        with open_engine(settings_for(run_after_run), "duckdb") as engine:
            engine.curate()
    with open_engine(settings_for(one_run), "duckdb") as engine:
        engine.curate()
    return one_run, run_after_run


def author_counts(status: dict[str, Any], followers: int, following: int, posted: int) -> dict[str, Any]:
    """A recorded status whose author has these counts (followers, follows, statuses); nothing else changed."""
    return dict(status, account=dict(status["account"], followers_count=followers, following_count=following,
                                     statuses_count=posted))


def federated_copy(status: dict[str, Any], status_id: str, home: str = INSTANCE) -> dict[str, Any]:
    """A recorded status as another server shows it: its own id of the status, and the author's ``acct`` with the
    home domain (what a server answers for a remote account); nothing else changed, the counts included."""
    return dict(status, id=status_id, account=dict(status["account"], acct=f"{status['account']['acct']}@{home}"))


def variant(base: dict[str, Any], suffix: str, **changes: Any) -> dict[str, Any]:
    """Another status derived from a recorded one: its own id and URI, and ``changes``."""
    status = copy.deepcopy(base)
    status["id"] = f"{base['id']}{suffix}"
    status["uri"] = f"{base['uri']}-{suffix}"
    status.update(changes)
    return status


def stored_rows(store_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every metric's rows as the store at ``store_url`` holds them, by metric name."""
    store = open_store(store_url)
    try:
        return {name: store.all(metric) for name, metric in load_metrics().items()}
    finally:
        store.close()


def raw_days(lake_dir: Path) -> list[date]:
    """The days (``dt``) of the lake's raw batches, in order: the days a run can be ``until``."""
    return sorted({date.fromisoformat(parse_partition(p)["dt"]) for p in raw_batch_files(LocalLake(lake_dir))})


#: The address of a quoted status on another server, in :data:`QUOTE_FALLBACKS`.
QUOTED = "https://misskey.example/notes/9k3c7d8e9f"
#: The fallbacks other servers append to the text of a quote post for clients that show no quotes. No recording holds
#: one (the recorded server is Mastodon, whose own comes first: ``<p class="quote-inline">``, recorded), and FEP-e232
#: (object links: a ``Link`` tag, ``RE: <url>`` in the text) leaves the markup to the servers, so these are written
#: after the code of the servers that send them: Misskey and the Bluesky bridge (a ``span`` inside the last
#: paragraph), Pleroma / Akkoma's InlineQuotePolicy (``<br/>``, its configurable prefix, a link with attributes), and
#: a last paragraph of that class. Each is placed as its server places it by :func:`with_quote_fallback`.
QUOTE_FALLBACKS = {
    "misskey": f'<span class="quote-inline"><br><br>RE: <a href="{QUOTED}">{QUOTED}</a></span>',
    "pleroma": f'<span class="quote-inline"><br/><br/>QT: <a href="{QUOTED}" rel="nofollow noopener noreferrer" '
               f'target="_blank">{QUOTED}</a></span>',
    "paragraph": f'<p class="quote-inline">RE: <a href="{QUOTED}">{QUOTED}</a></p>',
}


def content_warned(handles: str) -> list[dict[str, Any]]:
    """The REAL recorded public status posted with a content warning (``sensitive``, ``spoiler_text`` "Content
    warning"), and copies of it whose warning names people (``handles`` added: landing with privacy on rewrites
    them), is blank (white space only: no warning) or is missing; and a recorded status without one."""
    (warned,) = statuses("test_status_post[Content warning-public].json", method="POST")
    assert warned["sensitive"] is True and warned["spoiler_text"] == "Content warning"
    plain = statuses("test_public_tl.json")[0]
    assert plain["spoiler_text"] == "" and plain["sensitive"] is False
    variants = {"handles": "Content warning" + handles, "blank": " \t\u3000\u2003", "missing": None}
    copies = [dict(warned, id=warned["id"] + str(i), uri=f"{warned['uri']}-{name}", spoiler_text=spoiler)
              for i, (name, spoiler) in enumerate(variants.items())]
    return [warned, plain, *copies]


def with_quote_fallback(status: dict[str, Any], form: str, suffix: str = "") -> dict[str, Any]:
    """A copy of ``status`` (another id and URI) whose text ends with the fallback ``form`` of
    :data:`QUOTE_FALLBACKS`: a ``span`` inside the last paragraph, a paragraph after it; ``suffix`` is text after
    it inside that paragraph (then it is not last: the author's text goes on)."""
    fallback, content = QUOTE_FALLBACKS[form], status["content"]
    if fallback.startswith("<span"):
        content = content.removesuffix("</p>") + fallback + suffix + "</p>"
    else:
        content = content + fallback.removesuffix("</p>") + suffix + "</p>"
    tag = f"{form}{len(suffix)}"
    return dict(copy.deepcopy(status), id=f"{status['id']}{len(tag)}{sum(map(ord, tag))}", uri=f"{status['uri']}-{tag}",
                content=content)


#: A user's own log4j2 configuration for Spark's JVM: every INFO line on stderr, in Spark's own pattern.
INFO_LOG4J2 = """rootLogger.level = info
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def info_spark_conf_dir(directory: Path) -> Path:
    """``directory`` made a ``SPARK_CONF_DIR`` whose ``log4j2.properties`` logs at INFO: a job of ``spark_jobs/``
    keeps the user's log configuration (else it logs the JVM's errors only, once its SparkContext has started)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "log4j2.properties").write_text(INFO_LOG4J2)
    return directory


def curation_patterns() -> list[tuple[str, str]]:
    """(statement name, regex) of every literal pattern of a regex function in the curation statements."""
    import sqlglot
    from sqlglot import exp

    from fediscope.engine import curate_sql

    found = []
    for name, statement in curate_sql.STATEMENTS.items():
        for node in sqlglot.parse_one(statement, read="duckdb").walk():
            if isinstance(node, exp.RegexpLike | exp.RegexpExtract | exp.RegexpExtractAll | exp.RegexpReplace):
                pattern = node.args.get("expression")
                assert isinstance(pattern, exp.Literal), f"{name}: a regex that is not a literal: {node.sql()}"
                found.append((name, pattern.this))
    return found
