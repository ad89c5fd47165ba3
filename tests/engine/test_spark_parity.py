"""Spark against DuckDB on the same input: curated tables and every metric must be identical (floats to 1e-9).

One SparkSession for the whole test session (the ``spark`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from engine_data import (
    INSTANCE,
    QUOTE_FALLBACKS,
    activity_answered_later,
    assert_rows_equal,
    at,
    author_counts,
    content_warned,
    federated_copy,
    interactions,
    land,
    policy,
    read_table,
    settings_for,
    snapshots,
    statuses,
    strip_column,
    with_quote_fallback,
)

from fediscope.engine.metrics import load_metrics
from fediscope.engine.spark_engine import SparkEngine
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.layout import parse_partition
from fediscope.lake.local import LocalLake

pytestmark = pytest.mark.spark
METRICS = load_metrics()
TABLES = ("statuses", "accounts", "hashtags", "tag_trends", "instance_peers", "status_deletions")


def _rows(lake_dir: Path, table: str) -> list[str]:
    return sorted(map(repr, read_table(lake_dir, table)))


def _schema(lake_dir: Path, table: str) -> list[tuple[str, str]]:
    first = next((lake_dir / "curated" / table).rglob("*.parquet"))
    return [(f.name, str(f.type)) for f in pq.read_schema(first)]


def _curated_on_both(spark, lake_dir: Path, tmp_path: Path, today: date | None = None,  # noqa: ANN001
                     **settings: object) -> tuple[Path, dict[str, dict[str, object]]]:
    """Curate the raw lake at ``lake_dir`` with Spark, and a copy of its raw files with DuckDB (``settings``
    override both engines' settings; ``today`` dates the curated retention); the copy's root and each engine's
    curation summary."""
    import shutil

    from fediscope.engine.duckdb_engine import DuckDBEngine

    twin = tmp_path / "twin" / "lake"
    shutil.copytree(lake_dir / "raw", twin / "raw")
    with SparkEngine(settings_for(lake_dir, **settings), spark=spark) as engine:
        on_spark = engine.curate(today=today).as_dict()
    with DuckDBEngine(settings_for(twin, **settings)) as engine:
        on_duckdb = engine.curate(today=today).as_dict()
    return twin, {"spark": on_spark, "duckdb": on_duckdb}


# --- Scenarios curated alike on both engines, landed together ---------------------------------------------------
# Each scenario below was a test with a lake of its own, curated once by Spark and once by DuckDB (~10-15 s of Spark
# each). They share three lakes now, each curated once per engine (the module-scoped ``alike`` fixture); a test asserts
# its own scenario's rows, as before. What makes that sound (checked by the fixture, not assumed): each scenario is
# also curated alone by DuckDB (cheap), and the rows the combined DuckDB curation has under that scenario's keys
# (statuses by URI, accounts by key, hashtags by status, trends by instance and tag, deletions by instance and id)
# must be exactly its alone rows (a key two share, an author of both, has the same row in each), and no row may be
# of no scenario: so no dedupe or latest-wins rule acts across scenarios, and a scenario's rows in the combined lake
# are the rows its own lake had. Scenarios that do interfere go in different lakes (:data:`_GROUPS`).

#: The key of a curated table's row, by table: what a dedupe or latest-wins rule of curation merges on.
_KEYS = {"statuses": ("uri",), "accounts": ("account_key",), "hashtags": ("status_uri",),
         "tag_trends": ("instance", "tag"), "status_deletions": ("instance", "status_id")}


def _key(table: str, row: dict[str, object]) -> tuple[object, ...]:
    return tuple(row[k] for k in _KEYS[table])


def _every_key(owned: dict[str, dict[str, set[tuple[object, ...]]]], table: str) -> set[tuple[object, ...]]:
    """The keys of ``table`` that any of the scenarios ``owned`` (scenario → table → keys) has rows under."""
    return set().union(*(mine[table] for mine in owned.values()))


class _Alike:
    """The combined lake of the ``alike`` (or ``stepped``) scenarios curated by Spark (``spark_dir``) and DuckDB
    (``duck_dir``), each engine's (last) curation summary, what each scenario's landing returned, the keys of its rows
    per table and, by engine, the rows of metrics run on the combined lake."""

    def __init__(self, spark_dir: Path, duck_dir: Path, summaries: dict[str, dict[str, object]],
                 landed: dict[str, dict[str, object]], owned: dict[str, dict[str, set[tuple[object, ...]]]],
                 metrics: dict[str, dict[str, list[dict[str, object]]]] | None = None) -> None:
        self.spark_dir, self.duck_dir, self.summaries, self.landed, self.owned, self.metrics = (
            spark_dir, duck_dir, summaries, landed, owned, metrics or {})
        self.everyone = {table: _every_key(owned, table) for table in _KEYS}

    def alone(self, scenario: str) -> Path:
        """The lake of ``scenario`` landed alone (curated by DuckDB)."""
        return self.spark_dir.parent.parent / scenario / "lake"

    def rows(self, scenario: str, table: str, engine: str = "spark") -> list[dict[str, object]]:
        """The rows of ``scenario`` in ``table`` as ``engine`` curated the combined lake: those under its keys, and
        any of no scenario's keys (none on DuckDB, the fixture checked; on Spark a row DuckDB does not make, e.g. of
        a status that is not public, which every scenario of the lake then sees)."""
        keys, everyone = self.owned[scenario][table], self.everyone[table]
        lake_dir = self.spark_dir if engine == "spark" else self.duck_dir
        return [r for r in read_table(lake_dir, table) if _key(table, r) in keys or _key(table, r) not in everyone]

    def assert_alike(self, scenario: str, *tables: str) -> None:
        """The rows of ``scenario`` in each of ``tables`` are the same on Spark as on DuckDB: those under its keys,
        then those under no scenario's key (a row Spark makes and DuckDB does not, or makes with another key: it
        may be another scenario's of this lake, which fails on its own rows too)."""
        for table in tables:
            spark_rows, duckdb_rows = self.rows(scenario, table), self.rows(scenario, table, "duckdb")
            mine = [sorted(repr(r) for r in rows if _key(table, r) in self.owned[scenario][table])
                    for rows in (spark_rows, duckdb_rows)]
            assert mine[0] == mine[1], f"{scenario}: {table}"
            stray = [r for r in spark_rows if _key(table, r) not in self.everyone[table]]
            assert not stray, f"{scenario}: {table}: on Spark, rows under no scenario's key: {stray}"


def _land_lower_cased(lake: LocalLake, scratch: Path) -> dict[str, object]:
    import copy

    words = ["ΟΔΟΣ", "İzmir", "ΑΘΗΝΑΣ_ΣΗΜΕΡΑ"]
    base = next(s for s in statuses("test_hashtag_tl.json") if s.get("tags"))
    variants = []
    for i, word in enumerate(words):
        status = copy.deepcopy(base)
        status.update(uri=f"{base['uri']}-{i}", id=f"{base['id']}{i}",
                      tags=[dict(base["tags"][0], name=word)],
                      account=dict(base["account"], acct=f"{base['account']['acct']}@{word}.example"))
        variants.append(status)
    land(lake, "statuses", variants, at(1), None)
    (trend,) = interactions("test_suggested_tags.json")[1]["response"]["body"]
    land(lake, "trends_tags", [dict(trend, name=w) for w in words], at(1), endpoint="/api/v1/trends/tags")
    return {}


def _land_blank_tags(lake: LocalLake, scratch: Path) -> dict[str, object]:
    status = statuses("test_hashtag_tl.json", method="POST")[0]
    blank = ["", " ", "\u3000"]
    land(lake, "statuses", [dict(status, tags=[*(dict(status["tags"][0], name=n) for n in blank), *status["tags"]])],
         at(1), None)
    trends = interactions("test_suggested_tags.json")[1]["response"]["body"]
    land(lake, "trends_tags", [*trends, *(dict(trends[0], name=n) for n in blank)], at(1),
         endpoint="/api/v1/trends/tags")
    replies = [s for s in statuses("test_status_reply_with_quote.json") if "yoooo check this out" in s["content"]]
    quoting = [with_quote_fallback(replies[0], form) for form in QUOTE_FALLBACKS]
    land(lake, "statuses", [*replies[:1], *quoting], at(2), policy())
    return {"trends": trends, "replies": replies, "quoting": quoting}


def _land_quoted_authors(lake: LocalLake, scratch: Path) -> dict[str, object]:
    for i, name in enumerate(("test_status_quote_revoke.json", "test_status_post_with_quote.json",
                              "test_status_reply_with_quote.json")):
        for j, status in enumerate(snapshots(name)):
            land(lake, "statuses", [status], at(10 * i + j), policy())
    return {}


def _land_home_snapshot(lake: LocalLake, scratch: Path) -> dict[str, object]:
    privacy = policy()
    handle_domain = privacy.use_handle_domain("social.example.com", "example.com")  # the policy learns it here
    post = statuses("test_public_tl.json", method="POST")[0]
    admin = next(s for s in statuses("test_public_tl.json", method="GET", path_contains="local=1")
                 if s["account"]["acct"] == "admin")
    for status, home, domain, counts in ((post, INSTANCE, INSTANCE, (120, 80, 40)),
                                         (admin, "social.example.com", "example.com", (-1, -1, 40))):
        land(lake, "statuses", [author_counts(status, *counts)], at(1), privacy, instance=home)
        copy = federated_copy(status, "8880001", home=domain)
        land(lake, "statuses", [author_counts(copy, -1, -1, 40)], at(2), privacy, instance="remote.example")
        land(lake, "statuses", [author_counts(copy, 100, 70, 35)], at(3), privacy, instance="other.example")
    return {"handle_domain": handle_domain}


def _land_versions_of_one_fetch(lake: LocalLake, scratch: Path) -> dict[str, object]:
    from erased_versions import as_erased, reply_and_quote

    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    reply, quote, accounts = reply_and_quote()
    privacy = policy()
    landed = [envelope(INSTANCE, "/api/v1/timelines/public", privacy.apply("statuses", s, INSTANCE), at(10))
              for s in (reply, quote)]
    tagged = next(s for s in statuses("test_hashtag_tl.json") if s["tags"] and not s["reblog"])
    write_batch(lake, "statuses", INSTANCE, landed, fetched_at=at(10))
    write_batch(lake, "statuses", INSTANCE, as_erased(landed, accounts, at(10), scratch, privacy), fetched_at=at(10))
    for names in (["a", "b"], ["a!"]):
        land(lake, "statuses", [{**tagged, "tags": [dict(tagged["tags"][0], name=n) for n in names]}], at(11), privacy)
    return {"reply": reply, "quote": quote, "tagged": tagged}


def _land_not_public(lake: LocalLake, scratch: Path) -> dict[str, object]:
    from non_public_statuses import boost, land_raw, recorded, tagged, with_visibility

    land(lake, "statuses", statuses("test_public_tl.json"), at(0), policy())
    land_raw(lake, [tagged()], at(1), policy())
    land_raw(lake, [with_visibility(tagged(), "private")], at(2), policy())  # the latest version wins: not public
    shared = boost()
    shared["reblog"] = with_visibility(shared["reblog"], "private")
    quote = recorded("test_status_post_with_quote.json", lambda s: (s.get("quote") or {}).get("quoted_status"))
    quote["quote"]["quoted_status"] = with_visibility(quote["quote"]["quoted_status"], "direct")
    land_raw(lake, [shared, quote], at(3))  # as collected, without privacy: the policy would drop the private parts
    return {"tagged": tagged(), "shared": shared, "quote": quote}


def _land_unpseudonymised_origin(lake: LocalLake, scratch: Path) -> dict[str, object]:
    from streamed_deletions import land_deletion

    from fediscope.privacy import status_origin

    status = next(s for s in statuses("test_public_tl.json") if status_origin(s["uri"]) and not s.get("reblog"))
    home, home_id = status_origin(status["uri"])
    copy = dict(status, id="777777", account=dict(status["account"], acct=f"{status['account']['acct']}@{home}"))
    land(lake, "statuses", [copy], at(1), None, instance="other.example")
    land_deletion(lake, home_id, home, at(2))
    return {"home": home, "home_id": home_id}


#: The scenarios landed together, by the name their tests' failures give.
_SCENARIOS = {"lower_cased": _land_lower_cased, "blank_tags": _land_blank_tags,
              "quoted_authors": _land_quoted_authors, "home_snapshot": _land_home_snapshot,
              "versions_of_one_fetch": _land_versions_of_one_fetch, "not_public": _land_not_public,
              "unpseudonymised_origin": _land_unpseudonymised_origin}


def _combine(scenarios: dict[str, object], root: Path) -> tuple[Path, dict[str, dict[str, object]],
                                                                 dict[str, dict[str, set[tuple[object, ...]]]]]:
    """Land each of ``scenarios`` in a lake of its own under ``root`` and curate it there with DuckDB; copy their raw
    files into one lake (no file of two). The combined lake's root, what each landing returned and its keys per table
    (:data:`_KEYS`)."""
    import shutil

    from fediscope.engine.duckdb_engine import DuckDBEngine

    combined = root / "combined" / "lake"
    landed, owned = {}, {}
    for name, land_scenario in scenarios.items():
        alone = root / name / "lake"
        landed[name] = land_scenario(LocalLake(alone), root / name / "scratch")
        for file in (alone / "raw").rglob("*"):
            if file.is_file():
                target = combined / file.relative_to(alone)
                assert not target.exists(), f"{name}: {target} is landed by another scenario too"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
        with DuckDBEngine(settings_for(alone)) as engine:
            engine.curate()
        owned[name] = {t: {_key(t, r) for r in read_table(alone, t)} for t in _KEYS}
    return combined, landed, owned


def _assert_apart(root: Path, twin: Path, owned: dict[str, dict[str, set[tuple[object, ...]]]]) -> None:
    """The combined lake curated by DuckDB at ``twin`` has each scenario's alone rows under its keys (no rule acted
    across scenarios: a key two scenarios share, an author of both, has the same row in each and in the combined
    lake) and no row of none."""
    for table in _KEYS:
        rows = read_table(twin, table)
        assert {_key(table, r) for r in rows} <= _every_key(owned, table), (
            f"{table}: rows of no scenario in the combined lake")
        for name, mine in owned.items():
            together = sorted(repr(r) for r in rows if _key(table, r) in mine[table])
            assert together == sorted(map(repr, read_table(root / name / "lake", table))), (
                f"{name}: its {table} rows differ when landed with the other scenarios")


#: The scenarios that share a lake, by lake: no two with a rule acting across them (found with
#: :func:`_assert_apart`; e.g. ``blank_tags`` and ``quoted_authors`` land the same recorded reply, the
#: ``not_public`` public timeline has the status whose copy ``unpseudonymised_origin`` deletes).
_GROUPS = (("lower_cased", "blank_tags", "not_public"), ("quoted_authors", "home_snapshot"),
           ("versions_of_one_fetch", "unpseudonymised_origin"))


@pytest.fixture(scope="module")
def alike(spark, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], _Alike]:  # noqa: ANN001
    """The lake of a scenario's group (:data:`_GROUPS`), curated once by Spark and once by DuckDB (a copy of its raw
    files) after checking that its scenarios do not interfere (:func:`_assert_apart`); built when a test first asks
    for one of its scenarios."""
    import shutil

    from fediscope.engine.duckdb_engine import DuckDBEngine

    built: dict[tuple[str, ...], _Alike] = {}

    def of(scenario: str) -> _Alike:
        (group,) = [g for g in _GROUPS if scenario in g]
        if group not in built:
            root = tmp_path_factory.mktemp("alike")
            combined, landed, owned = _combine({name: _SCENARIOS[name] for name in group}, root)
            twin = root / "twin" / "lake"
            shutil.copytree(combined / "raw", twin / "raw")
            with DuckDBEngine(settings_for(twin)) as engine:
                on_duckdb = engine.curate().as_dict()
            _assert_apart(root, twin, owned)
            with SparkEngine(settings_for(combined), spark=spark) as engine:
                on_spark = engine.curate().as_dict()
            built[group] = _Alike(combined, twin, {"spark": on_spark, "duckdb": on_duckdb}, landed, owned)
        return built[group]

    return of


# --- Scenarios of several curations (land, curate, land more, curate again), landed together step by step ---------
# Four tests each had a lake of their own, curated by Spark one to three times (~10 s each; 8 curations in all). They
# share one lake now, curated four times per engine (the module-scoped ``stepped`` fixture): a scenario is a
# generator that lands a step's batches and yields (the lake is curated then; what it yields, if anything, is then
# done to each curated lake, e.g. strip a column as an older version wrote its files); each lands at the steps
# :data:`_STEPPED` gives it (the tests read the lake after the last curation). Soundness as for :data:`_GROUPS`, at
# every step: each scenario is also landed and curated alone by DuckDB, step by step, and after each curation the
# combined DuckDB lake has its alone rows under its keys and no row of none (:func:`_assert_apart`). Scenarios whose
# authors would be shared take another recorded author, or one renamed (an account's latest snapshot acts across
# scenarios).


def _steps_superseded_deletion(lake: LocalLake) -> Generator[Callable[[Path], None] | None, None, dict[str, object]]:
    from engine_data import superseded_copy_then_its_deletion

    uri = yield from superseded_copy_then_its_deletion(lake, policy(), author="admin")  # latest_fetch's is the other
    return {"uri": uri}


def _steps_latest_fetch(lake: LocalLake) -> Generator[Callable[[Path], None] | None, None, dict[str, object]]:
    from non_public_statuses import land_raw, with_visibility
    from streamed_deletions import land_deletion

    toots = [s for s in statuses("test_hashtag_tl.json") if s.get("tags") and not s.get("reblog")]
    edited = dict(toots[0], edited_at="2026-08-01T13:00:00.000Z")
    land(lake, "statuses", [edited, *toots[1:]], at(0), policy())
    yield None
    later = datetime(2026, 8, 2, 2, tzinfo=UTC)
    deleted = dict(toots[1], id=f"{toots[1]['id']}d", uri=f"{toots[1]['uri']}-d")
    hidden = dict(with_visibility(toots[1], "private"), id=f"{toots[1]['id']}p", uri=f"{toots[1]['uri']}-p")
    land(lake, "statuses", [federated_copy(toots[0], "9990001")], later, policy(), instance="remote.example")
    land(lake, "statuses", [deleted], later, policy())
    land_deletion(lake, deleted["id"], INSTANCE, later, policy=policy())
    land_raw(lake, [hidden], later, policy())
    yield None
    return {"later": later}


def _steps_before_a_column(lake: LocalLake) -> Generator[Callable[[Path], None] | None, None, dict[str, object]]:
    superseded = next(s for s in statuses("test_public_tl.json")  # the scenario above's
                      if not s.get("reblog") and s["account"]["acct"] == "admin")
    unique = {s["id"]: s for s in statuses("test_public_tl.json")
              if s["id"] != superseded["id"] and s["account"]["acct"] == "admin"}
    # posted on a day of their own (the other scenarios' first landing, with its second, rewrites none of its files)
    # by an author of their own (the other scenarios' authors' latest snapshots are theirs)
    first, second = (dict(s, created_at="2026-07-30" + s["created_at"][10:],
                          account=dict(s["account"], id="9990002", username="older", acct="older"))
                     for s in list(unique.values())[:2])
    first_uri = policy().apply("statuses", dict(first), INSTANCE)["uri"]

    def strip(lake_dir: Path) -> None:
        def uris(file: Path) -> set[str]:
            return set(pq.read_table(file, columns=["uri"], partitioning=None).column("uri").to_pylist())

        table = lake_dir / "curated" / "statuses"
        partitions = {f.parent for f in table.rglob("*.parquet") if first_uri in uris(f)}
        assert partitions, f"before_a_column: no curated file of {first_uri} in {lake_dir}"
        for file in table.rglob("*.parquet"):  # none of another scenario: the next curation reads these alone
            assert uris(file) <= {first_uri}, f"before_a_column: {file} holds rows of other scenarios"
        for partition in partitions:
            assert strip_column(partition, "origin_ref") >= 1

    land(lake, "statuses", [first], at(1), policy())
    yield strip
    land(lake, "statuses", [second], at(2), policy())
    land(lake, "status_deletions", [{"id": second["id"]}], at(3), endpoint="/api/v1/streaming/public")
    yield None
    return {"first": first, "second": second}


def _steps_content_warned(lake: LocalLake) -> Generator[Callable[[Path], None] | None, None, dict[str, object]]:
    recorded = content_warned(" cc @carol@elsewhere.social and https://elsewhere.social/@carol")
    # the status without a warning by an author of its own: latest_fetch's author is the same, later fetched
    recorded = [s if s["account"]["acct"] != "mastodonpy_test_2" else
                dict(s, account=dict(s["account"], id="9990003", username="plain", acct="plain")) for s in recorded]
    land(lake, "statuses", recorded, at(1), policy())
    land(lake, "statuses", recorded, at(2), None)
    yield None
    return {}


#: The scenarios of several curations landed together, by the name their tests' failures give: their steps and the
#: curations (1 to 4) that follow them. ``before_a_column`` lands first and alone: its second curation reads its own
#: stripped files only (no other file is curated before it), as in a lake of its own.
_STEPPED = {"before_a_column": (_steps_before_a_column, (1, 2)),
            "superseded_deletion": (_steps_superseded_deletion, (2, 3, 4)),
            "latest_fetch": (_steps_latest_fetch, (3, 4)), "content_warned": (_steps_content_warned, (4,))}
#: The metrics run on the stepped lake after its last curation, on both engines (``latest_fetch``'s).
_STEPPED_METRICS = ("posted_days", "trending_hashtags")


@pytest.fixture(scope="module")
def stepped(spark, tmp_path_factory: pytest.TempPathFactory) -> _Alike:  # noqa: ANN001
    """The scenarios of :data:`_STEPPED` landed in one lake step by step, curated by Spark after each step and a
    copy of its raw files by DuckDB, checking after each that they do not interfere (:func:`_assert_apart`); then
    :data:`_STEPPED_METRICS` run on both engines."""
    import shutil

    from fediscope.engine.duckdb_engine import DuckDBEngine

    root = tmp_path_factory.mktemp("stepped")
    combined, twin = root / "combined" / "lake", root / "twin" / "lake"
    total = max(max(steps) for _, steps in _STEPPED.values())
    runs = {name: steps(LocalLake(root / name / "lake")) for name, (steps, _) in _STEPPED.items()}
    landed: dict[str, dict[str, object]] = {}
    copied: set[Path] = set()
    for step in range(1, total + 1):
        after: dict[str, Callable[[Path], None]] = {}
        started = [name for name, (_, steps) in _STEPPED.items() if step >= min(steps)]
        for name in started:
            alone = root / name / "lake"
            if step in _STEPPED[name][1]:
                try:
                    then = next(runs[name])
                except StopIteration:
                    raise AssertionError(f"{name}: fewer steps than {len(_STEPPED[name][1])}") from None
                if then is not None:
                    after[name] = then
            for file in (alone / "raw").rglob("*"):
                if file.is_file() and file not in copied:
                    copied.add(file)
                    for target in (combined / file.relative_to(alone), twin / file.relative_to(alone)):
                        assert not target.exists(), f"{name}: {target} is landed by another scenario too"
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(file, target)
            with DuckDBEngine(settings_for(alone)) as engine:
                engine.curate()
        with DuckDBEngine(settings_for(twin)) as engine:
            on_duckdb = engine.curate().as_dict()
        owned = {name: {t: {_key(t, r) for r in read_table(root / name / "lake", t)} for t in _KEYS}
                 for name in started}
        try:
            _assert_apart(root, twin, owned)
        except AssertionError as exc:
            raise AssertionError(f"after curation {step}: {exc}") from exc
        for name, then in after.items():
            then(root / name / "lake")
            then(twin)
        with SparkEngine(settings_for(combined), spark=spark) as engine:
            on_spark = engine.curate().as_dict()
        for then in after.values():
            then(combined)
    for name, run in runs.items():
        try:
            next(run)
        except StopIteration as done:
            landed[name] = done.value
        else:
            raise AssertionError(f"{name}: more steps than {len(_STEPPED[name][1])}")
    with SparkEngine(settings_for(combined), spark=spark) as engine:
        on_spark_metrics = {name: engine.run_metric(METRICS[name]) for name in _STEPPED_METRICS}
    with DuckDBEngine(settings_for(twin)) as engine:
        on_duckdb_metrics = {name: engine.run_metric(METRICS[name]) for name in _STEPPED_METRICS}
    return _Alike(combined, twin, {"spark": on_spark, "duckdb": on_duckdb}, landed, owned,
                  {"spark": on_spark_metrics, "duckdb": on_duckdb_metrics})


def test_spark_curation_equals_duckdb_curation(spark, corpus_lake: Path, curated_corpus: Path) -> None:  # noqa: ANN001
    with SparkEngine(settings_for(corpus_lake), spark=spark) as engine:
        summary = engine.curate()
        assert summary.raw_files == len(raw_batch_files(LocalLake(corpus_lake)))
        assert engine.curate().noop
    for table in TABLES:
        assert _schema(corpus_lake, table) == _schema(curated_corpus, table), table
        assert _rows(corpus_lake, table) == _rows(curated_corpus, table), table
    tombstones = [r for r in read_table(corpus_lake, "statuses") if r["deleted"]]
    assert len(tombstones) == 6  # the corpus' streamed deletions (tests/streamed_deletions.py), one by origin_ref


def test_every_metric_is_identical_on_both_engines(spark, curated_corpus: Path) -> None:  # noqa: ANN001
    from fediscope.engine.duckdb_engine import DuckDBEngine

    with DuckDBEngine(settings_for(curated_corpus)) as duck:
        expected = {name: duck.run_metric(metric) for name, metric in METRICS.items()}
        columns = {name: duck.metric_table(metric).schema.names for name, metric in METRICS.items()}
    with SparkEngine(settings_for(curated_corpus), spark=spark) as engine:
        for name, metric in METRICS.items():
            if name != "instance_activity_weekly":
                assert expected[name], f"{name} has no rows on the corpus: parity would prove nothing"
            # the Arrow path `fediscope process` takes (each metric run once: a Spark job per metric is most of
            # this test's time; run_metric's own path is compared in the other parity tests)
            table = engine.metric_table(metric)
            assert_rows_equal(table.to_pylist(), expected[name], name)
            assert table.schema.names == columns[name], name


@pytest.mark.parametrize(("ended", "unrecorded", "began", "partial"), [
    ("cut", False, "first", True), ("end", False, "first", False), ("end", True, "first", None),
    ("cut", False, "before", False),  # a walk cut the day before the first with hashtags collected the first whole
])
def test_the_first_day_partial_is_identical_on_both_engines(spark, curated_corpus: Path, tmp_path: Path,  # noqa: ANN001
                                                            ended: str, unrecorded: bool, began: str,
                                                            partial: bool | None) -> None:
    """The corpus has no records of where its collections begin (``first_day_partial`` NULL on both): a copy with
    one, of a walk that began on the first day with hashtag data (or the day ``before``), ``ended`` as given, on
    both engines; with ``unrecorded``, also a timeline collected before the records (a checkpoint alone). Sources
    added later began on the window's last day, one cut, one from now and one whole: ``partial_start_days`` names
    that day once."""
    import shutil
    from datetime import date, timedelta

    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.lake.state import Checkpoint, save_checkpoint, save_walk_start

    lake_dir = tmp_path / "lake"
    shutil.copytree(curated_corpus, lake_dir)
    metric = METRICS["trending_hashtags"]
    with DuckDBEngine(settings_for(lake_dir)) as duck:
        head = duck.run_metric(metric)[0]
    first, last = head["first_day"], head["window_end"]
    assert first < last and head["partial_start_days"] == ""
    day = first if began == "first" else (date.fromisoformat(first) - timedelta(days=1)).isoformat()
    save_walk_start(LocalLake(lake_dir), "mastodon.social", "public", ended, f"{day}T23:00:00.000Z")
    for source, later in (("tag:cut", "cut"), ("tag:now", "now"), ("tag:whole", "since")):
        save_walk_start(LocalLake(lake_dir), "mastodon.social", source, later, f"{last}T12:00:00.000Z")
    if unrecorded:
        save_checkpoint(LocalLake(lake_dir), "mastodon.social", "local", Checkpoint("1"))
    with DuckDBEngine(settings_for(lake_dir)) as duck:
        expected = duck.run_metric(metric)
        posted = duck.run_metric(METRICS["posted_days"])  # its first day is read from the same records
    assert {r["first_day_partial"] for r in expected} == {partial}
    assert {r["partial_start_days"] for r in expected} == {last}
    with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
        assert_rows_equal(engine.run_metric(metric), expected)
        assert_rows_equal(engine.run_metric(METRICS["posted_days"]), posted)


def test_the_first_posted_day_per_instance_is_identical_on_both_engines(spark, curated_corpus: Path) -> None:  # noqa: ANN001
    """What decides whether a ``fediscope process --since`` window's first day is cut (:func:`~fediscope.engine.base.
    starts_in_curated`): each instance's first posted day of its curated statuses, a ``date`` on both engines (a
    string or a timestamp from Spark's partition column would drop every instance and mark no day)."""
    from fediscope.engine.duckdb_engine import DuckDBEngine

    with DuckDBEngine(settings_for(curated_corpus)) as duck:
        expected = duck._first_posted_days()
    assert expected and all(type(day) is date for day in expected.values())
    with SparkEngine(settings_for(curated_corpus), spark=spark) as engine:
        assert engine._first_posted_days() == expected


def test_instance_activity_weekly_is_identical_on_both_engines(spark, lake: LocalLake,  # noqa: ANN001
                                                               lake_dir: Path) -> None:
    """The corpus has no instance activity: answers of three days (the recorded one, a day and a week later;
    tests/engine/test_metrics.py checks the rows) curated by DuckDB, the metric run on both engines."""
    from fediscope.engine.duckdb_engine import DuckDBEngine

    weeks = interactions("test_instance_activity.json")[0]["response"]["body"]
    for days in (0, 1, 7):
        land(lake, "instance_activity", activity_answered_later(weeks, days), at(1 + days * 24 * 60),
             endpoint="/api/v1/instance/activity")
    metric = METRICS["instance_activity_weekly"]
    with DuckDBEngine(settings_for(lake_dir)) as duck:
        duck.curate()
        expected = duck.run_metric(metric)
    assert len(expected) == 12  # eleven complete windows of the latest answer, one older one of the first
    with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
        assert_rows_equal(engine.run_metric(metric), expected)


def test_content_warnings_are_curated_alike_on_both_engines(spark, stepped: _Alike) -> None:  # noqa: ANN001
    """``sensitive``, ``has_content_warning`` (a warning of Unicode white space only is none: a regex both engines
    read alike, not their own ``trim``) and ``content_warning_length`` (the length as written, recorded by the
    landing where it put pseudonyms in the warning), on the REAL recorded status posted with a content warning and
    its variants, landed with privacy on and off (:func:`_steps_content_warned`, in the last step of the stepped
    lake); and the ``content_warnings`` metric over them: its rows on DuckDB over the scenario alone, and the same
    rows on both engines over the stepped lake."""
    from fediscope.engine.duckdb_engine import DuckDBEngine

    name = "content_warned"
    rows = stepped.rows(name, "statuses")
    assert {(r["has_content_warning"], r["content_warning_length"]) for r in rows} == {
        (True, 15), (True, 15 + 63), (False, None)}, name
    stepped.assert_alike(name, "statuses")
    metric = METRICS["content_warnings"]
    with DuckDBEngine(settings_for(stepped.alone(name))) as duck:
        alone = duck.run_metric(metric)
    assert [(r["language"], r["toots"], r["toots_with_cw"]) for r in alone] == [("en", 8, 4), ("ja", 2, 0)], name
    with DuckDBEngine(settings_for(stepped.duck_dir)) as duck:
        expected = duck.run_metric(metric)
    with SparkEngine(settings_for(stepped.spark_dir), spark=spark) as engine:
        assert_rows_equal(engine.run_metric(metric), expected, name)


def test_engines_take_turns_on_one_lake(spark, corpus_lake: Path, curated_corpus: Path) -> None:  # noqa: ANN001
    from fediscope.engine.duckdb_engine import DuckDBEngine

    days = sorted({date.fromisoformat(parse_partition(p)["dt"]) for p in raw_batch_files(LocalLake(corpus_lake))})
    with DuckDBEngine(settings_for(corpus_lake)) as duck:
        duck.curate(until=days[-3])
    with SparkEngine(settings_for(corpus_lake), spark=spark) as engine:
        assert engine.curate(until=days[-2]).raw_files > 0
    with DuckDBEngine(settings_for(corpus_lake)) as duck:
        assert duck.curate().raw_files > 0
    for table in TABLES:
        assert _rows(corpus_lake, table) == _rows(curated_corpus, table), table


def test_spark_submit_entry_points(spark, lake: LocalLake, lake_dir: Path, tmp_path: Path,  # noqa: ANN001
                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from spark_jobs import curate, metrics

    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json", "test_media_post_multiple.json")):
        land(lake, "statuses", statuses(name), at(i), policy())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "unused-by-these-jobs")
    assert curate.main(["--lake", str(lake_dir)], spark=spark) == 0
    assert json.loads(capsys.readouterr().out)["raw_files"] == 3
    out = tmp_path / "results.json"
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    chosen = ["languages", "media_engagement", "top_toots"]
    args = ["--lake", str(lake_dir), "--store", store, "--out", str(out)] + [f"--metric={m}" for m in chosen]
    assert metrics.main(args, spark=spark) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sorted(summary) == chosen and all(s["stored"] == s["rows"] > 0 for s in summary.values())
    results = json.loads(out.read_text())
    assert results["languages"] and {r["language"] for r in results["languages"]} == {"en", "ja"}
    assert metrics.main(["--lake", str(lake_dir), "--metric", "nope", "--no-store"], spark=spark) == 2  # a bad argument
    assert "unknown metric(s) nope" in capsys.readouterr().err


def test_a_materialized_step_is_a_checkpoint_on_a_local_master_and_persisted_on_a_cluster(  # noqa: ANN001
        spark, lake_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A query over a step's view is analysed against a leaf (the checkpoint's rows) on a local master, not with the
    plans of the steps before it inlined (SparkEngine.materialize: most of a small curation's time); on a cluster the
    step is persisted, its plan kept to recompute a lost executor's blocks. Both give the step's rows."""
    from fediscope.engine import spark_engine

    assert spark_engine.checkpoints_steps(spark.sparkContext.master)
    assert not spark_engine.checkpoints_steps("spark://h:7077") and not spark_engine.checkpoints_steps("yarn")
    for local in (True, False):
        monkeypatch.setattr(spark_engine, "checkpoints_steps", lambda master, local=local: local)
        with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
            assert engine.materialize("step_a", "SELECT 1 AS a UNION ALL SELECT 2 AS a") == 2
            assert engine.materialize("step_b", "SELECT a + 10 AS b FROM step_a WHERE a > 1") == 1
            assert engine.query("SELECT b FROM step_b") == [{"b": 12}]
            capsys.readouterr()
            spark.table("step_b").explain(extended=True)
            plans = capsys.readouterr().out
        analysed = plans.split("== Analyzed Logical Plan ==")[1].split("== Optimized Logical Plan ==")[0]
        assert ("Union" in analysed) is not local, f"local={local}: the steps' plans {'' if local else 'not '}" \
            f"inlined:\n{analysed}"
        assert ("InMemoryRelation" in plans) is not local, plans


def test_process_with_spark_matches_duckdb(spark, lake: LocalLake, lake_dir: Path, tmp_path: Path,  # noqa: ANN001
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The process path on Spark gives DuckDB's curated counts and stored metrics, with the steps persisted as on a
    cluster (every other Spark test curates with checkpoints, a local master's: SparkEngine.materialize)."""
    import shutil

    from fediscope.engine import spark_engine
    from fediscope.engine.process import run_process
    from fediscope.store.port import open_store

    monkeypatch.setattr(spark_engine, "checkpoints_steps", lambda master: False)

    for i, name in enumerate(("test_status_reblog_unreblog.json", "test_status_edit.json", "test_status_reply.json")):
        land(lake, "statuses", statuses(name), at(i), policy())
    reply = statuses("test_status_reply.json")[-1]  # its author's counts hidden (-1) in the latest snapshot
    land(lake, "statuses", [dict(reply, account=dict(reply["account"], followers_count=-1, following_count=-1))],
         at(3), policy())
    twin = tmp_path / "twin" / "lake"
    shutil.copytree(lake_dir / "raw", twin / "raw")
    spark_settings = settings_for(lake_dir)
    duck_settings = settings_for(twin)
    on_spark = run_process(spark_settings, engine="spark", progress=False, engine_options={"spark": spark})
    on_duckdb = run_process(duck_settings, engine="duckdb", progress=False)
    assert on_spark.curate["statuses_written"] == on_duckdb.curate["statuses_written"] > 0
    a, b = open_store(spark_settings.store), open_store(duck_settings.store)
    try:
        for metric in METRICS.values():
            assert_rows_equal(a.all(metric), b.all(metric), metric.name)
    finally:
        a.close()
        b.close()


def test_spark_reads_tables_curated_before_a_column_existed(stepped: _Alike) -> None:
    """As on DuckDB (tests/engine/test_curation.py): files without ``origin_ref`` are read with it NULL, beside
    files that have it, and a later curation merges into them (:func:`_steps_before_a_column`: the files of its
    first curation stripped of the column, as an older version wrote them, before the second)."""
    name = "before_a_column"
    first, second = (stepped.landed[name][k] for k in ("first", "second"))
    rows = {r["status_id"]: r for r in stepped.rows(name, "statuses")}
    assert rows[first["id"]]["origin_ref"] is None and not rows[first["id"]]["deleted"], name
    assert rows[second["id"]]["origin_ref"] == policy().origin_ref("localhost:3000", second["id"]), name
    assert rows[second["id"]]["deleted"] is True, name


def test_spark_derives_the_origin_of_unpseudonymised_uris(alike: Callable[[str], _Alike]) -> None:
    """Privacy off: the origin comes from the REAL recorded URI through Spark's regex functions, as on DuckDB, and a
    deletion from the home instance reaches a copy fetched elsewhere (:func:`_land_unpseudonymised_origin`)."""
    name = "unpseudonymised_origin"
    lake = alike(name)
    home, home_id = (lake.landed[name][k] for k in ("home", "home_id"))
    (row,) = lake.rows(name, "statuses")
    assert (row["origin_ref"], row["status_id"], row["deleted"]) == (f"{home}/{home_id}", "777777", True), name


def test_spark_applies_a_deletion_of_a_copy_superseded_in_an_earlier_run(stepped: _Alike) -> None:
    """As on DuckDB (tests/engine/test_curation.py): the curated row keeps every copy merged into it, so the
    deletion of a copy superseded in an earlier run still reaches the status (each step of
    ``engine_data.land_superseded_copy_then_its_deletion`` curated in turn: :func:`_steps_superseded_deletion`)."""
    name = "superseded_deletion"
    (row,) = stepped.rows(name, "statuses")
    assert (row["uri"], row["deleted"]) == (stepped.landed[name]["uri"], True), name
    assert (row["fetched_from"], row["copies"]) == ("localhost:3000", ["remote.example/8880001"]), name


def test_spark_derives_origins_from_whole_uris_only(spark, lake_dir: Path) -> None:  # noqa: ANN001
    """Java's ``$`` also matches before a final line break; the SQL requires the match to be the whole URI."""
    from engine_data import ORIGIN_CASES, derived_origins

    with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
        assert derived_origins(engine) == ORIGIN_CASES


def test_tags_and_keys_lower_cased_alike_on_both_engines(alike: Callable[[str], _Alike]) -> None:
    """Spark's lower() follows Unicode's contextual rules (a final capital sigma → ς, İ → i + combining dot), DuckDB's
    lowers code point by code point: the curation SQL's lower-casing gives both engines the same tags and keys.
    Input (:func:`_land_lower_cased`): a REAL recorded hashtag status and REAL trending tags, names and the author's
    domain renamed."""
    name = "lower_cased"
    lake = alike(name)
    assert {r["tag"] for r in lake.rows(name, "hashtags", "duckdb")} == {"οδοσ", "izmir", "αθηνασ_σημερα"}, name
    lake.assert_alike(name, "statuses", "accounts", "hashtags", "tag_trends")


def test_blank_tags_and_lengths_as_written_are_curated_alike_on_both_engines(alike: Callable[[str], _Alike]) -> None:
    """A tag name that is empty or white space only is no tag on Spark either (statuses, hashtags, trending tags),
    a status landed with privacy on has the length of its text as written there too, and another server's quote
    fallback at the end of a text (``engine_data.QUOTE_FALLBACKS``) is neither a link nor text there either. REAL
    recorded statuses (a tagged one with such tag names added, a reply quoting, with each fallback appended) and REAL
    trending tags (:func:`_land_blank_tags`)."""
    name = "blank_tags"
    lake = alike(name)
    trends, replies, quoting = (lake.landed[name][k] for k in ("trends", "replies", "quoting"))
    lake.assert_alike(name, "statuses", "hashtags", "tag_trends")
    rows = lake.rows(name, "statuses")  # Spark's
    assert sorted(tag for r in rows for tag in r["hashtags"]) == ["hoot"], name
    assert [r["tag"] for r in lake.rows(name, "hashtags")] == ["hoot"], name
    assert {r["tag"] for r in lake.rows(name, "tag_trends")} == {t["name"].lower() for t in trends}, name
    (reply,) = [r for r in rows if r["status_id"] == replies[0]["id"]]
    assert reply["content_length"] == len("@mastodonpy_test yoooo check this out"), name
    for quote in quoting:
        (row,) = [r for r in rows if r["status_id"] == quote["id"]]
        assert (row["content_length"], row["url_count"]) == (reply["content_length"], reply["url_count"]), (
            f"{name}: {quote['uri']}")


def test_quoted_authors_are_curated_alike_on_both_engines(alike: Callable[[str], _Alike]) -> None:
    """REAL recorded quotes (accepted, revoked, a reply quoting; :func:`_land_quoted_authors`): the same rows on
    Spark as on DuckDB."""
    name = "quoted_authors"
    lake = alike(name)
    assert _schema(lake.spark_dir, "statuses") == _schema(lake.duck_dir, "statuses"), name
    lake.assert_alike(name, "statuses")
    quoted = {r["quoted_account_key"] for r in lake.rows(name, "statuses")} - {None}
    assert quoted == {policy().account_key("mastodonpy_test", "localhost:3000")}, name


def test_an_accounts_home_snapshot_wins_alike_on_both_engines(alike: Callable[[str], _Alike]) -> None:
    """REAL recorded statuses of two authors, each as its home server gave it and, fetched later, as other servers
    show it (their own id, the author's ``acct`` with its domain; only the counts change): one author's home is the
    recorded server, the other's a server serving a handle domain (``social.example.com`` for ``example.com``;
    :func:`_land_home_snapshot`). The same account rows on Spark as on DuckDB: the home server's counts, not the
    remote hidden (-1) or stale ones; the second author's home server hides followers and follows, which stay
    hidden."""
    name = "home_snapshot"
    lake = alike(name)
    assert lake.landed[name]["handle_domain"] == "example.com", name
    assert _schema(lake.spark_dir, "accounts") == _schema(lake.duck_dir, "accounts"), name
    lake.assert_alike(name, "accounts")
    rows = sorted(lake.rows(name, "accounts"), key=lambda r: r["instance"])
    counts = [(r["followers_count"], r["following_count"], r["statuses_count"]) for r in rows]
    assert counts == [(-1, -1, 40), (120, 80, 40)], name
    assert [(r["instance"], r["fetched_from"]) for r in rows] == [("example.com", "social.example.com"),
                                                                  (INSTANCE, INSTANCE)], name


def test_spark_leaves_out_what_the_curated_retention_expires_as_duckdb_does(  # noqa: ANN001
        spark, lake: LocalLake, lake_dir: Path, tmp_path: Path) -> None:
    """FEDISCOPE_RETENTION_CURATED_DAYS in curation: REAL recorded statuses posted (and fetched) on 2026-08-01, five
    of admin's again and a recorded reblog, posted and fetched on 2026-08-20; a retention of 10 days on 2026-08-25
    leaves out the first day (the reblog's original among it) and mastodonpy_test_2, fetched only then, alike on
    both engines."""
    old = [s for s in statuses("test_public_tl.json") if not s.get("reblog")]
    land(lake, "statuses", old, at(0), policy())
    reblog = snapshots("test_status_reblog_unreblog.json")[1]
    posted = "2026-08-20T10:00:00.000Z"
    recent = [dict(s, id=f"9{s['id']}", uri=s["uri"].replace(s["id"], f"9{s['id']}"), url=None, created_at=posted)
              for s in [*[s for s in old if s["account"]["acct"] == "admin"][:5], reblog]]
    land(lake, "statuses", recent, datetime(2026, 8, 20, 12, tzinfo=UTC), policy())

    twin, summaries = _curated_on_both(spark, lake_dir, tmp_path, today=date(2026, 8, 25), retention_curated_days=10)

    left_out = {name: (s["retention_cutoff"], s["statuses_left_out"], s["accounts_left_out"])
                for name, s in summaries.items()}
    assert left_out["spark"] == left_out["duckdb"]
    assert left_out["spark"][0] == "2026-08-15" and left_out["spark"][1] > 5 and left_out["spark"][2] > 0
    for table in ("statuses", "accounts", "hashtags"):
        assert _rows(lake_dir, table) == _rows(twin, table), table
    assert {str(r["dt"]) for r in read_table(lake_dir, "statuses")} == {"2026-08-20"}


def test_versions_of_one_fetch_have_the_same_winner_on_both_engines(alike: Callable[[str], _Alike]) -> None:
    """Versions that tie on the fetch and the counts: a REAL reply and quote and their versions as an erasure
    rewrote them, and two copies of a REAL tagged status that differ only in their hashtag lists (the lists compare
    alike on both engines; :func:`_land_versions_of_one_fetch`). The same rows on Spark as on DuckDB: the erasure's
    version of each."""
    from fediscope.gdpr.subject import ERASED

    name = "versions_of_one_fetch"
    lake = alike(name)
    reply, quote, tagged = (lake.landed[name][k] for k in ("reply", "quote", "tagged"))
    lake.assert_alike(name, "statuses")
    rows = {row["status_id"]: row for row in lake.rows(name, "statuses")}
    assert rows[reply["id"]]["in_reply_to_id"] == ERASED and rows[quote["id"]]["quoted_account_key"] is None, name
    assert rows[tagged["id"]]["hashtags"] == ["a", "b"], name  # ['a', 'b'] sorts before ['a!'], as 'a' before 'a!'


def test_spark_leaves_out_the_statuses_that_are_not_public_as_duckdb_does(alike: Callable[[str], _Alike]) -> None:
    """Raw files landed by other means than the collectors: REAL recorded statuses with only their visibility changed
    (tests/non_public_statuses.py; :func:`_land_not_public`) — a tagged status later fetched followers-only, a public
    boost of a followers-only status, a quote of one. One Spark curation: the rows DuckDB makes, none of those
    statuses, the same count (the other scenarios of its lake land none that is not public)."""
    from non_public_statuses import visible

    name = "not_public"
    lake = alike(name)
    tagged, shared, quote = (lake.landed[name][k] for k in ("tagged", "shared", "quote"))
    rows = lake.rows(name, "statuses")
    uris = {r["uri"] for r in visible(rows)}  # the markers of the others apart
    assert policy().apply("statuses", tagged, INSTANCE)["uri"] not in uris, name
    assert not uris & {shared["uri"], shared["reblog"]["uri"]} and quote["uri"] in uris, name
    assert {r["quoted_account_key"] for r in rows} == {None}, name
    assert "hoot" not in {r["tag"] for r in lake.rows(name, "hashtags")}, name
    summaries = lake.summaries
    assert summaries["spark"]["non_public_left_out"] == summaries["duckdb"]["non_public_left_out"] == 3, name
    lake.assert_alike(name, "statuses", "accounts", "hashtags")


def test_the_latest_fetch_of_every_curated_status_is_alike_on_both_engines(stepped: _Alike) -> None:
    """As on DuckDB (tests/engine/test_metrics.py): a fetch on the next day that saw only a stale copy losing to the
    earlier fetch of a toot's edit, a toot deleted since and one not public moves the latest fetch onto that day,
    merged into the curated rows of an earlier run alike (``last_fetched_at``, posted_days, trending_hashtags).
    Input: REAL recorded tagged toots; the copies and variants change only their ids, edit time and visibility
    (:func:`_steps_latest_fetch`). The metrics run on the whole stepped lake: no other scenario of it fetches on or
    after that day (checked), so that day is this scenario's."""
    name = "latest_fetch"
    later = stepped.landed[name]["later"].replace(tzinfo=None)
    others = [r for r in read_table(stepped.spark_dir, "statuses")
              if _key("statuses", r) in stepped.everyone["statuses"] - stepped.owned[name]["statuses"]]
    assert others and all(r["last_fetched_at"] < later.replace(hour=0) for r in others), name
    stepped.assert_alike(name, "statuses")
    on_spark = stepped.metrics["spark"]
    for metric, rows in stepped.metrics["duckdb"].items():
        assert_rows_equal(on_spark[metric], rows, f"{name}: {metric}")
    assert {r["latest_fetch_day"] for r in on_spark["trending_hashtags"]} == {"2026-08-02"}, name
    assert {r["instance"]: r["latest_fetch_day"] for r in on_spark["posted_days"]}["*"] == "2026-08-02", name
    rows = stepped.rows(name, "statuses")
    assert sum(r["last_fetched_at"] == later for r in rows) == 3, name  # the copy's, tombstone, marker
