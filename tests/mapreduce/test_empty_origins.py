"""An empty ``uri`` or ``origin_ref`` (a hostile server's status, or raw files landed by other means than fediscope's
collectors: valid JSON) is read by the MapReduce mapper as the curation SQL reads it.

* A status with an empty ``uri`` got the ``origin_ref`` ``/`` in the SQL (``_origin_ref``: the pattern's match, or
  ``''`` when none, must be the whole URI, and an empty URI is its own match); the mapper gave it none, so a
  deletion naming ``/`` tombstoned it on one side only. Since curation rules version 2 an empty URI is none on both
  sides (``curate_sql._uri``, ``mapper.status_uri``): no origin, and the status is not curated.
* A deletion with an empty ``origin_ref`` keeps it in the SQL (``coalesce`` falls back to ``instance/id`` only for a
  missing one); the mapper fell back for an empty one too, and so tombstoned another status (the one whose URI
  names that instance and id) than the SQL (the one landed with an empty ``origin_ref``).

The SQL is the rule: the mapper follows it. Input: REAL recorded statuses (``tests/data``), modified.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
from mapreduce_lakes import RECORDINGS, T0, is_status, settings_for
from streamed_deletions import land_deletion

from fediscope.engine import curate_sql
from fediscope.engine.base import open_engine
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from spark_jobs.mapreduce import mapper
from spark_jobs.mapreduce.run_local import run_lake

LOCAL = "localhost:3000"  # the recorded server
OTHER = "other.example"


def recorded_statuses(count: int) -> list[dict[str, Any]]:
    """``count`` REAL recorded public statuses of the recorded server, none a reblog, of distinct URIs."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(RECORDINGS.glob("test_*.json")):
        for interaction in json.loads(path.read_text())["interactions"]:
            if interaction["response"]["status"] != 200 or LOCAL not in interaction["request"]["uri"]:
                continue
            body = interaction["response"]["body"]
            for item in body if isinstance(body, list) else [body]:
                if (is_status(item) and not item.get("reblog") and item.get("visibility") == "public"
                        and LOCAL in item["uri"] and item["uri"] not in found):
                    found[item["uri"]] = copy.deepcopy(item)
    assert len(found) >= count
    return list(found.values())[:count]


def test_an_empty_uri_has_the_origin_the_sql_derives() -> None:
    """Curation rules version 2: an empty URI is none (``curate_sql._uri``), so it gives no origin (it gave ``/``)."""
    status = recorded_statuses(1)[0]
    with duckdb.connect() as con:
        query = f"SELECT {curate_sql._origin_ref(curate_sql._uri('s'))} FROM (SELECT {{'uri': ?}} AS s)"
        for uri in ("", status["uri"], status["uri"] + "\n", "x"):
            (expected,) = con.execute(query, [uri]).fetchone()
            assert mapper.origin_ref({**status, "uri": uri}) == expected, uri
    assert mapper.origin_ref({**status, "uri": ""}) is None
    assert mapper.origin_ref({**status, "uri": "", "origin_ref": ""}) == ""  # landed: kept as it is


def test_a_deletion_with_an_empty_origin_keeps_it_as_the_sql_does(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    received = T0 + timedelta(minutes=5)
    for origin in ("", None, "/"):
        land_deletion(lake, "1234", OTHER, received, origin_ref=origin)
    root = tmp_path / "lake" / "raw" / "mastodon" / "status_deletions"
    records = [json.loads(line) for path in sorted(root.rglob("*.jsonl")) for line in path.read_text().splitlines()]
    assert sorted(repr(r["data"].get("origin_ref")) for r in records) == sorted(["''", "None", "'/'"])
    with duckdb.connect() as con:
        files = str(root / "**" / "*.jsonl").replace("'", "''")
        con.execute(f"CREATE VIEW raw_status_deletions AS SELECT * FROM read_json('{files}', columns={{"
                    "'meta': 'STRUCT(instance VARCHAR, fetched_at VARCHAR)', "
                    "'data': 'STRUCT(id VARCHAR, origin_ref VARCHAR)'})")
        expected = sorted(origin for *_, origin in con.execute(curate_sql.DELETION_VERSIONS).fetchall())
    got = sorted(key for record in records for key in mapper.deletion_keys(record) if isinstance(key, str))
    assert expected == got == sorted(["", f"{OTHER}/1234", "/"])


def _lake(root: Path) -> dict[str, dict[str, Any]]:
    """A raw lake (privacy off: texts and URIs as collected) of four REAL recorded statuses, three made hostile, and
    two deletions naming an empty origin (``/``, and an empty ``origin_ref``); the statuses by their role."""
    empty_uri, empty_origin, other_home, control = recorded_statuses(4)
    empty_uri["uri"] = ""
    empty_origin["origin_ref"] = ""  # raw files landed by other means
    home_id = other_home["uri"].rsplit("/", 1)[1]
    other_home["uri"] = other_home["uri"].replace(LOCAL, OTHER, 1)  # home OTHER/<id>, fetched from LOCAL
    statuses = {"empty_uri": empty_uri, "empty_origin": empty_origin, "other_home": other_home, "control": control}
    lake = LocalLake(root)
    fetched = T0 + timedelta(minutes=1)
    write_batch(lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", status, fetched_at=fetched)
                                          for status in statuses.values()], fetched_at=fetched)
    received = T0 + timedelta(minutes=5)
    land_deletion(lake, "987654321", LOCAL, received, origin_ref="/")  # no status has that id
    land_deletion(lake, home_id, OTHER, received, origin_ref="")  # OTHER/<home id>, with an empty origin_ref
    return statuses


def test_the_chain_tombstones_the_statuses_the_sql_tombstones(
        tmp_path: Path, sql_results: Callable[[Path], dict[str, list[dict]]]) -> None:
    root = tmp_path / "lake"
    statuses = _lake(root)

    expected = sql_results(root)
    got = run_lake(root, tmp_path / "metrics.tsv")

    assert got == expected
    # what the SQL made of them (the fixture curated a copy of the lake: this one is curated too)
    with open_engine(settings_for(root), "duckdb") as engine:
        engine.curate()
    with duckdb.connect() as con:
        rows = dict(con.execute("SELECT uri, deleted FROM read_parquet(?, hive_partitioning = true)",
                                [str(root / "curated" / "statuses" / "**" / "*.parquet")]).fetchall())
    # the status with an empty URI is not curated (rules version 2: none), so the deletion naming ``/`` names nothing
    assert rows == {statuses["empty_origin"]["uri"]: True, statuses["other_home"]["uri"]: False,
                    statuses["control"]["uri"]: False}
    toots = sum(row["toots"] for row in expected["account_engagement"])
    assert toots == 2  # the other home's status and the control: the deletions took the two others
