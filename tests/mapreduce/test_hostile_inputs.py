"""Inputs that used to slip through the streaming chain, or take it quadratic time. Input: REAL recorded statuses
(``tests/data``) and the recorded lake's batches and streamed deletions, damaged or varied.

* Contents built to make a backtracking regex quadratic (``"<" * n``, ``"<a " * n``, an unclosed ``class="mention
  mention …``) are read in linear time, with the numbers the curation SQL (DuckDB's RE2) gives.
* A line that is not UTF-8 text (an undecodable byte, a JSON escape of a lone surrogate), which DuckDB refuses, is
  a malformed line, not a record with a mangled tag; a gzip-compressed input stops the mapper, saying so.
* A damaged line of a deletions file stops the mapper (naming the file and line): skipping it would bring back
  the statuses it deletes.
* ``run_local`` refuses a batch without a final newline (it would be glued to the next batch's first record) and
  splits its output at ``\\n`` only (a tag may hold U+2028, U+0085, ``\\x1c``, ``\\v``).
* A URI's host is lowered as DuckDB's ``lower`` lowers it (``İzmir``).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fediscope.engine import curate_sql
from fediscope.lake.batches import encode_jsonl, write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from spark_jobs.mapreduce import mapper
from spark_jobs.mapreduce.run_local import MAPPER, PipelineError, raw_files, run_lake

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
RUN_LOCAL = [sys.executable, str(MAPPER.parent / "run_local.py")]
T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after the recorded statuses were created


def _recorded_statuses() -> list[dict[str, Any]]:
    found = []
    for path in sorted(RECORDINGS.glob("test_*.json")):
        for interaction in json.loads(path.read_text())["interactions"]:
            body = interaction["response"]["body"]
            for item in body if isinstance(body, list) else [body]:
                if isinstance(item, dict) and "account" in item and "uri" in item and isinstance(item.get("content"),
                                                                                                   str):
                    found.append(copy.deepcopy(item))
    return found


def _tagged_status() -> dict[str, Any]:
    return next(s for s in _recorded_statuses() if s.get("tags"))


def _line(status: dict[str, Any]) -> bytes:
    """One raw lake line (privacy off) of ``status``."""
    return encode_jsonl([envelope("localhost:3000", "/api/v1/timelines/tag/x", status,
                                  fetched_at=T0 + timedelta(minutes=1))])


def _map(data: bytes, *args: str, hadoop: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("mapreduce_map_input_file", "map_input_file")}
    if hadoop:
        env["mapreduce_task_id"] = "task_1"
    return subprocess.run([sys.executable, str(MAPPER), *args], input=data, capture_output=True, env=env,
                          timeout=120)


def _counter(stderr: bytes, name: str) -> int:
    (value,) = [line.rsplit(",", 1)[1] for line in stderr.decode().splitlines()
                if line.startswith(f"reporter:counter:fediscope,{name},")]
    return int(value)


# --- linear-time content scans ---------------------------------------------------------------------------------

_DUCK_QUERY = (f"SELECT coalesce(array_length(list_filter(regexp_extract_all(x, '{curate_sql.ANCHOR_RE}'), "
               f"lambda a: NOT regexp_matches(a, '{curate_sql._quoted(curate_sql.NOT_LINK_RE)}'))), 0), "
               f"CAST({curate_sql._visible_length('x')} AS BIGINT) FROM (SELECT ? AS x)")


def _duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE OR REPLACE TEMP MACRO array_sum(elements) AS list_sum(elements)")  # as the engine does
    return con


def _sql_counts(con: duckdb.DuckDBPyConnection, content: str) -> tuple[int, int]:
    """(url_count, content_length) of ``content`` as the curation SQL computes them."""
    return con.execute(_DUCK_QUERY, [content]).fetchone()


def test_content_scans_take_linear_time_and_give_the_sql_numbers() -> None:
    base = _tagged_status()["content"]
    con = _duckdb()
    hostile = [base + "<" * 100_000, base + "<a " * 40_000, base + '<a class="' + "mention " * 15_000 + ">",
               base + '<a rel="' + "tag " * 30_000 + ">" + base, "<a " + base * 200 + "<" * 50_000,
               # anchors whose quoted values never close, or open again inside one another; tags never ended
               base + '<a b="' * 40_000, base + "<a b= " * 40_000 + '"', base + "<a b=\"<a c='" * 20_000,
               "<a b=' " * 30_000 + "'>" + base, base + "<a =" * 40_000 + ">", base + "<a" * 50_000]
    for content in hostile:
        started = time.perf_counter()
        got = (mapper.url_count(content), mapper.content_length(content))
        seconds = time.perf_counter() - started
        assert seconds < 2, (content[:80], seconds)  # quadratic: 10 s and more each
        assert got == _sql_counts(con, content), content[:80]


def test_content_scans_give_the_sql_numbers_on_mutated_recorded_contents() -> None:
    contents = sorted({s["content"] for s in _recorded_statuses()})[:120]
    pieces = ['<a href="x">', "<a\u00a0href=x>", "<a\x0bhref=x>", "<A HREF=x>", "</a>", '<a class="mention" href=x>',
              "<a class='mention' href=x>", '<a rel="tag"\thref=x>', "&amp;", "&;", "<", ">", "<<a >>", "<a", " ",
              "\t", "\n", "\f", "\r", "class", "rel", "=", '"', "mention", "hashtag", "tag", "mentions", ' class = "',
              'rel="', "<a\n", "é", "x", "'", '="', "='", "= '", '<a title=">" ', "< ", "<3", "</", "&#65", "&#x41"]
    rng = random.Random(11)
    samples = list(contents)
    for content in contents:
        for _ in range(3):
            chars = list(content)
            for _ in range(rng.randint(1, 6)):
                at = rng.randint(0, len(chars))
                chars[at:at + rng.randint(0, 3)] = [rng.choice(pieces)]
            samples.append("".join(chars))
    samples += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 15))) for _ in range(600)]
    con = _duckdb()
    for content in samples:
        assert (mapper.url_count(content), mapper.content_length(content)) == _sql_counts(con, content), content


# --- text that is not UTF-8, gzip input -------------------------------------------------------------------------

def test_lines_that_are_not_utf8_text_are_malformed() -> None:
    status = _tagged_status()
    status["tags"] = [dict(status["tags"][0], name="cafeXX")]
    line = _line(status)
    assert b"cafeXX" in line
    good = _map(line)
    assert good.returncode == 0 and _counter(good.stderr, "malformed_input_lines") == 0
    for damaged in (line.replace(b"cafeXX", b"caf\xe9XX"), line.replace(b"cafeXX", b"caf\\ud83dXX"),
                    line.replace(b"cafeXX", b"caf\\uDE00XX")):
        out = _map(damaged + line)
        assert out.returncode == 0, out.stderr
        assert _counter(out.stderr, "malformed_input_lines") == 1, damaged
        assert out.stdout == good.stdout  # the other line only, no mangled tag
        local = _map(damaged, hadoop=False)
        assert local.stdout == b"" and b"skipped 1 line(s)" in local.stderr and b"UTF-8" in local.stderr
    # a surrogate PAIR is one character (what DuckDB reads too)
    paired = _map(line.replace(b"cafeXX", b"caf\\ud83d\\ude00XX"))
    assert _counter(paired.stderr, "malformed_input_lines") == 0
    assert "caf\U0001f600xx".encode() in paired.stdout


def test_gzip_input_stops_the_mapper_saying_so() -> None:
    data = gzip.compress(_line(_tagged_status()) * 3)
    for hadoop in (True, False):
        out = _map(data, hadoop=hadoop)
        assert out.returncode == 2 and out.stdout == b""
        message = out.stderr.decode()
        assert "gzip" in message and "decompress" in message and "Traceback" not in message
        assert len([line for line in message.splitlines() if not line.startswith("reporter:")]) == 1


# --- damaged deletions --------------------------------------------------------------------------------------------

def test_a_damaged_deletions_line_stops_the_mapper(recorded_lake: Path, tmp_path: Path) -> None:
    sources = sorted(p for p in (recorded_lake / "raw" / "mastodon" / "status_deletions").rglob("*.jsonl"))
    lines = b"".join(p.read_bytes() for p in sources).splitlines(keepends=True)
    assert len(lines) >= 3
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"".join(lines))
    assert _map(b"", "--deletions", str(good)).returncode == 0
    for label, damage in [("cut", lambda raw: raw.rstrip(b"\n")[:-1] + b"\n"),
                          ("not UTF-8", lambda raw: raw.replace(b'"', b'"\xff', 1)),
                          ("lone surrogate", lambda raw: raw.replace(b'"id"', b'"id\\ud83d"', 1))]:
        for compressed in (False, True):
            damaged = tmp_path / f"deletions-{len(label)}.jsonl{'.gz' if compressed else ''}"
            data = b"".join([*lines[:1], damage(lines[1]), *lines[2:]])
            damaged.write_bytes(gzip.compress(data) if compressed else data)
            out = _map(b"", "--deletions", str(good), "--deletions", str(damaged))
            message = out.stderr.decode()
            assert out.returncode == 2, (label, message)
            assert f"{damaged} line 2 is damaged" in message, message
            assert "Traceback" not in message and len(message.strip().splitlines()) == 1, message


# --- run_local: batches without a final newline, output lines --------------------------------------------------

@pytest.mark.parametrize("compressed", [False, True])
def test_run_local_refuses_a_batch_without_a_final_newline(tmp_path: Path, compressed: bool) -> None:
    statuses = _recorded_statuses()[:3]
    lake = tmp_path / "lake"
    first = write_batch(LocalLake(lake), "statuses", "localhost:3000",
                        [envelope("localhost:3000", "/api/v1/x", s, fetched_at=T0 + timedelta(minutes=1))
                         for s in statuses[:2]], fetched_at=T0 + timedelta(minutes=1), compressed=compressed)
    write_batch(LocalLake(lake), "statuses", "localhost:3000",
                [envelope("localhost:3000", "/api/v1/x", s, fetched_at=T0 + timedelta(minutes=2))
                 for s in statuses[2:]], fetched_at=T0 + timedelta(minutes=2))
    path = lake / first
    assert raw_files(lake)[0] == path
    text = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
    for cut in (text.rstrip(b"\n"), text[:-200]):  # a whole last record without its newline; a record cut short
        path.write_bytes(gzip.compress(cut) if compressed else cut)
        for mode in ([], ["--json"], ["--out", str(tmp_path / "metrics.tsv")]):
            out = subprocess.run([*RUN_LOCAL, str(lake), *mode], capture_output=True, text=True, timeout=300)
            assert out.returncode == 1, mode
            assert out.stderr.startswith(f"run_local: the raw file {path} is cut short or damaged: it does not end "
                                         "with a newline"), out.stderr
            assert out.stdout == ""
        with pytest.raises(PipelineError, match="does not end with a newline"):
            run_lake(lake)


def test_run_local_splits_its_output_at_newlines_only(tmp_path: Path, sql_results) -> None:
    base = _tagged_status()
    names = ["caf\u2028Tag", "caf\u0085tag", "caf\x1ctag", "caf\x0btag", "caf\x0ctag", "caf\u2029tag"]
    statuses = [{**copy.deepcopy(base), "id": f"{base['id']}{i}", "uri": f"{base['uri']}-{i}",
                 "tags": [dict(base["tags"][0], name=name)]} for i, name in enumerate(names)]
    lake = tmp_path / "lake"
    at = T0 + timedelta(minutes=1)
    write_batch(LocalLake(lake), "statuses", "localhost:3000",
                [envelope("localhost:3000", "/api/v1/x", s, fetched_at=at) for s in statuses], fetched_at=at)
    expected = sql_results(lake)
    assert sorted(r["tag"] for r in expected["hashtags_daily"]) == sorted(mapper.fold(n) for n in names)
    got = run_lake(lake, tmp_path / "metrics.tsv")
    assert got["hashtags_daily"] == expected["hashtags_daily"]
    out = subprocess.run([*RUN_LOCAL, str(lake), "--json"], capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["hashtags_daily"] == expected["hashtags_daily"]
    # the benchmark's stage reads the output as run_lake does
    bench = Path(__file__).resolve().parents[2] / "bench" / "stages.py"
    assert ".splitlines()" not in bench.read_text().split("def mapreduce", 1)[1].split("\ndef ", 1)[0]


# --- hosts lowered as DuckDB lowers them -----------------------------------------------------------------------

def test_origin_hosts_are_lowered_as_in_the_sql() -> None:
    base = _tagged_status()
    con = duckdb.connect()
    query = f"SELECT {curate_sql._origin_ref('x')} FROM (SELECT ? AS x)"
    host = base["uri"].split("/")[2]
    for new_host in ("İzmir.example", "ΟΔΟΣ.Example", "STRASSE.example", host.upper()):
        uri = base["uri"].replace(host, new_host, 1)
        (expected,) = con.execute(query, [uri]).fetchone()
        assert expected is not None, uri
        assert mapper.origin_ref({**base, "uri": uri}) == expected, uri


def test_deletions_of_a_file_read_whole_are_unchanged(recorded_lake: Path, tmp_path: Path) -> None:
    """Reading deletions as bytes line by line loads what the text reader loaded from undamaged files."""
    root = recorded_lake / "raw" / "mastodon" / "status_deletions"
    copy_root = tmp_path / "deletions"
    shutil.copytree(root, copy_root)
    keys = mapper.load_deletions([str(copy_root)])
    assert len(keys) >= 10
    expected: set[Any] = set()
    for path in sorted(copy_root.rglob("*.jsonl")):
        for raw in path.read_text().splitlines():
            if raw.strip():
                expected.update(mapper.deletion_keys(json.loads(raw)))
    assert keys == expected
