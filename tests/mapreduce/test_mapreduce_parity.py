"""The Hadoop streaming chain (mapper | sort | reducer | sort | reducer) gives the SQL metrics' numbers.

Both sides start from the same raw lake: the DuckDB engine curates it and runs ``spark_jobs/sql/<metric>.sql``;
the streaming chain reads the raw JSON Lines directly. Rows must be equal, in the SQL's order, floats to 1e-9.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import zlib
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from mapreduce_lakes import NOT_REFETCHED, settings_for

from fediscope.config import load_settings
from fediscope.engine import curate_sql
from fediscope.engine.base import open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.gdpr.retention import curated_cutoff, cutoff
from spark_jobs.mapreduce import mapper, reducer, run_local
from spark_jobs.mapreduce.run_local import MAPPER, deletions_dir, parse_output, raw_files, run_lake

METRICS = tuple(reducer.COLUMNS)
RUN_LOCAL = MAPPER.parent / "run_local.py"
#: The retention test's "today" and FEDISCOPE_RETENTION_CURATED_DAYS: the first day kept is 2026-08-02, the day after
#: the retention lake's first fetch (``conftest.retention_lake``).
RETENTION_TODAY, RETENTION_DAYS = date(2026, 9, 1), 30


def assert_same_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]], what: str) -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} rows, SQL has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert set(g) == set(e), f"{what} row {i}: columns {sorted(g)} != {sorted(e)}"
        for column, value in e.items():
            if isinstance(value, float):
                assert isinstance(g[column], float) and math.isclose(g[column], value, rel_tol=1e-9, abs_tol=1e-12), \
                    f"{what} row {i} {column}: {g[column]!r} != {value!r}"
            else:
                assert g[column] == value and type(g[column]) is type(value), \
                    f"{what} row {i} {column}: {g[column]!r} != SQL {value!r}\n got {g}\n SQL {e}"


@pytest.mark.parametrize("lake_fixture", ["recorded_lake", "corpus_lake"])
def test_local_pipe_matches_the_sql_metrics(lake_fixture: str, request: pytest.FixtureRequest, tmp_path: Path,
                                            sql_results) -> None:
    raw = request.getfixturevalue(lake_fixture)
    expected = sql_results(raw)
    got = run_lake(raw, tmp_path / "metrics.tsv")
    for name in METRICS:
        assert expected[name], f"{name}: the SQL metric is empty on {lake_fixture}; the comparison would be void"
        assert_same_rows(got[name], expected[name], f"{lake_fixture}/{name}")
    # the inputs exercise what the rules are about
    engagement = expected["account_engagement"]
    assert any(r["engagement_rate"] is None for r in engagement) or lake_fixture == "corpus_lake"
    assert any(r["engagement_rate"] is not None for r in engagement)


def test_recorded_lake_has_versions_reblogs_and_deletions(recorded_lake: Path) -> None:
    """The recorded input really contains what the parity is about (otherwise the test above proves little)."""
    lines = []
    for path in raw_files(recorded_lake):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.name.endswith(".gz") else data
        for raw in data.decode().splitlines():
            lines.extend(mapper.map_record(json.loads(raw)))
    versions = defaultdict(list)
    for line in lines:
        if line.startswith("S\t"):
            versions[line.split("\t")[2]].append(line.split("\t"))
    assert any(len(v) > 1 for v in versions.values()), "no status landed twice"
    assert any(f[12] == "1" for v in versions.values() for f in v), "no reblog"
    assert any(f[3] == "1" for v in versions.values() for f in v), "no deletion"
    assert any(f[4] != mapper.NULL for v in versions.values() for f in v), "no edit"
    assert any(path.name.endswith(".gz") for path in raw_files(recorded_lake))


def test_streamed_deletions_tombstone_the_versions_they_name(recorded_lake: Path) -> None:
    """The side input turns into tombstones the versions fetched from the reporting instance with that id, and the
    versions of the status whose origin_ref a deletion names (the lake's deletions include an unknown id and one
    from an instance that did not land the status)."""
    deleted = mapper.load_deletions([str(d) for d in deletions_dir(recorded_lake)])
    pairs = {key for key in deleted if isinstance(key, tuple)}
    assert len(pairs) == 8 and len(deleted) == 16  # each deletion: its (instance, id) and its origin_ref
    tombstoned = set()
    for path in raw_files(recorded_lake, ("statuses",)):
        data = path.read_bytes()
        for raw in (gzip.decompress(data) if path.name.endswith(".gz") else data).decode().splitlines():
            plain, marked = (mapper.map_record(json.loads(raw), None, d) for d in (frozenset(), deleted))
            for before, after in zip(plain, marked, strict=True):
                fields, fields_after = before.split("\t"), after.split("\t")
                assert fields[:3] + fields[4:] == fields_after[:3] + fields_after[4:]
                if fields[0] == "S" and fields_after[3] == "1" and fields[3] == "0":
                    tombstoned.add((fields[11], fields[10]))
    assert len(tombstoned & pairs) == 5 and len(tombstoned - pairs) >= 1  # the origin_ref match


def test_the_mapper_refuses_a_missing_or_damaged_deletions_file(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(MAPPER), "--deletions", str(tmp_path / "nope.jsonl")], input="",
                         capture_output=True, text=True)
    assert out.returncode == 2 and "nope.jsonl" in out.stderr and "Traceback" not in out.stderr
    truncated = tmp_path / "deletions.jsonl.gz"
    truncated.write_bytes(gzip.compress(b'{"meta": {}, "data": {"id": "1"}}\n' * 100)[:40])
    out = subprocess.run([sys.executable, str(MAPPER), "--deletions", str(truncated)], input="",
                         capture_output=True, text=True)
    assert out.returncode == 2 and "cannot read the deletions" in out.stderr and "Traceback" not in out.stderr


def test_origins_are_read_from_whole_uris_only() -> None:
    """The mapper's rule is the curation SQL's: the pattern must match the whole URI (a final line break too)."""
    from fediscope.privacy import status_origin

    for uri in ("https://h.example/users/a/statuses/1", "https://h.example/users/a/statuses/1/activity\n",
                "https://h.example/users/a/statuses/1\n", "https://h.example/notes/1"):
        origin = status_origin(uri)
        assert mapper.origin_ref({"uri": uri}) == (f"{origin[0]}/{origin[1]}" if origin else None), uri
    assert mapper.STATUS_URI_RE.pattern == __import__("fediscope.privacy").privacy.STATUS_URI_PATTERN


def test_the_mapper_judges_visibility_as_landing_does() -> None:
    """The mapper's copy of the visibilities that are public data is landing's (and so the curation SQL's)."""
    from fediscope.privacy import PUBLIC_VISIBILITIES

    assert mapper.PUBLIC_VISIBILITIES == PUBLIC_VISIBILITIES
    assert [mapper.is_public({"visibility": v}) for v in (None, "public", "unlisted", "private", "direct", "")] == \
        [True, True, True, False, False, False]


@pytest.mark.parametrize("deletions", [True, False], ids=["with deletions", "no status_deletions"])
def test_shell_pipe_from_the_readme(recorded_lake: Path, tmp_path: Path, deletions: bool) -> None:
    """The README's local pipe, as written (run from the repository's root, the lake in $LAKE), gives what
    run_local gives. Was: its paths mixed the lake's root and the repository's, so pasted as written it read
    nothing and wrote an empty metrics.tsv; and on a lake without streamed deletions (the demo's) the mapper
    stopped on the missing directory and the pipe wrote an empty metrics.tsv."""
    text = (MAPPER.parent / "README.md").read_text()
    block = text.split("## Locally", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    plain_only = tmp_path / "lake"
    kept = [*raw_files(recorded_lake), *(raw_files(recorded_lake, ("status_deletions",)) if deletions else [])]
    assert any("status_deletions" in str(path) for path in kept) == deletions
    for path in kept:
        if not path.name.endswith(".gz"):
            target = plain_only / path.relative_to(recorded_lake)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    out = tmp_path / "metrics.tsv"
    script = block.replace("LAKE=./lake", f"LAKE='{plain_only}'").replace("python3 ", f"'{sys.executable}' ")
    script = script.replace("> metrics.tsv", f"> '{out}'")
    assert script.count(str(plain_only)) == 1 and script.count(sys.executable) == 3 and str(out) in script
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, cwd=MAPPER.parents[2])
    # nothing said but what the reducer left out (the recordings hold statuses that are not public)
    said = [line for line in done.stderr.splitlines() if not line.startswith("reducer: left out ")]
    assert done.returncode == 0 and said == [], done.stderr
    assert parse_output(out.read_text().splitlines()) == run_lake(plain_only)


def _hadoop_job(map_outputs: list[list[str]], reducers: int, seed: int) -> list[list[str]]:
    """What Hadoop streaming does between the mappers and the reducers, with the README's options.

    KeyFieldBasedPartitioner on fields 1-2 (``-k1,2``), key = fields 1-3 (``stream.num.map.output.key.fields=3``),
    each partition sorted by key only: the values of one key arrive in an arbitrary order (shuffled here).
    """
    rng = random.Random(seed)
    partitions: list[list[str]] = [[] for _ in range(reducers)]
    for lines in map_outputs:
        for line in lines:
            fields = line.split("\t", 3)
            partitions[zlib.crc32("\t".join(fields[:2]).encode()) % reducers].append(line)
    for part in partitions:
        rng.shuffle(part)
        part.sort(key=lambda line: "\t".join(line.split("\t", 3)[:3]).encode())
    return partitions


def test_cluster_semantics_several_reducers_and_unsorted_values(corpus_lake: Path, sql_results) -> None:
    """Hadoop's contract, not the local pipe's: one map task per file that knows its path (``.gz`` decompressed
    by the input format), 3 reducers, values of a key in any order (only keys are sorted). The chain still gives
    the SQL numbers. (Mapper and reducer run in process here; the pipe tests run them as scripts.)"""
    map_outputs = []
    deleted = mapper.load_deletions([str(d) for d in deletions_dir(corpus_lake)])  # the file -files ships
    for path in raw_files(corpus_lake):
        text = (gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()).decode()
        env = {"mapreduce_map_input_file": f"hdfs://nn:8020/lake/{path.relative_to(corpus_lake)}",
               "mapreduce_task_id": "task_1"}
        out, err = io.StringIO(), io.StringIO()
        mapper.run(io.StringIO(text), out, err, env, deleted)
        assert "reporter:counter:fediscope,malformed_input_lines,0" in err.getvalue()
        map_outputs.append(out.getvalue().splitlines())

    def reduce(lines: list[str]) -> list[str]:
        out = io.StringIO()
        reducer.run([line + "\n" for line in lines], out)
        return out.getvalue().splitlines()

    job1 = [reduce(part) for part in _hadoop_job(map_outputs, reducers=3, seed=1)]
    job2 = [reduce(part) for part in _hadoop_job(job1, reducers=3, seed=2)]
    assert all(job2), "every reducer of job 2 got work"
    got = parse_output([line for part in job2 for line in part])
    expected = sql_results(corpus_lake)
    for name in METRICS:
        assert_same_rows(got[name], expected[name], f"hadoop/{name}")


def test_mapper_skips_lines_that_are_not_envelopes(recorded_lake: Path) -> None:
    good = next(p for p in raw_files(recorded_lake, ("statuses",)) if not p.name.endswith(".gz")).read_text()
    noisy = "not json\n[1, 2]\n{\"meta\": {}}\n\n" + good
    out = subprocess.run([sys.executable, str(MAPPER)], input=noisy, capture_output=True, text=True, check=True)
    clean = subprocess.run([sys.executable, str(MAPPER)], input=good, capture_output=True, text=True, check=True)
    assert out.stdout == clean.stdout and out.stdout
    assert "skipped 3 line(s)" in out.stderr


def test_timestamps_read_like_duckdb() -> None:
    import duckdb

    from fediscope.engine.curate_sql import _ts

    samples = ["2026-08-01T13:55:50.338Z", "2026-08-01 13:55:50.338000+00:00", "2026-08-01T13:55:50+02:00",
               "2026-08-01T23:30:00-05:30", "2026-08-01", "2026-08-01T13:55:50.1234567Z", "2026-08-01 13:55",
               "garbage", "2026-13-01T00:00:00Z", "2026-08-01T10:00:00z", "2026-08-01T24:00:00Z",
               "2026-08-01T24:30:00Z", "2026-08-01T10:00:00 +02:00", "2026-08-01T10:00:00 utc",
               "2026-08-01T10:00:00UTC", "2026-08-01T10:00:00+05:30:00", "2026-08-01T10:00:00+5", "2026-08-01 ",
               " 2026-08-01T10:00:00Z ", "2026-08-01T10Z", "2026-02-30", "1969-12-31T23:59:59.999999Z",
               "2026-08-01T1:00:00Z", "2026-08-01T10:00:00-00", "20260801T100000Z"]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for text in samples:
        (value,) = con.execute(f"SELECT epoch_us({_ts('t')}) FROM (SELECT ? AS t)", [text]).fetchone()
        assert mapper.micros(text) == value, text


def test_links_emojis_and_keys_follow_the_curation_rules() -> None:
    content = ('<p>Hi <span class="h-card"><a href="https://x/@a" class="u-url mention">@a</a></span> '
               '<a href="https://x/tags/t" class="mention hashtag">#t</a> <a\thref="https://e.org">e.org</a> '
               '<A href="https://upper.case">no</A> 👍🏽🎉 ☕ &amp; ok</p>')
    assert mapper.url_count(content) == 2  # rules version 2: a tag's name in any case, as HTML reads it
    others = ('<a href="https://example.com/honorable-mention" rel="nofollow noopener">a link</a> '
              '<a class="hashtag" data-tag="x" href="https://p.example/tag/x" rel="tag ugc">#x</a> '
              '<a href="https://m.example/tags/y" rel="tag">#y</a> <a href="h" class="mentions">links</a>')
    assert mapper.url_count(others) == 2  # by class and rel tokens, not the substring "mention"
    assert mapper.NOT_LINK_RE.pattern == curate_sql.NOT_LINK_RE
    assert mapper.ANCHOR_RE.pattern == curate_sql.ANCHOR_RE
    assert mapper.unicode_emoji_count(content) == 3  # 👍🏽 (one, with its skin tone), 🎉, ☕
    assert mapper.content_length(content) == len("Hi @a #t e.org no 👍🏽🎉 ☕ & ok")
    assert mapper.account_key({"acct": "Alice"}, "Example.ORG") == "alice@example.org"
    assert mapper.account_key({"acct": "Bob@Remote.Social"}, "example.org") == "bob@remote.social"
    assert mapper.account_key({"acct": "aPseudonym", "domain": "example.org"}, "x") == "aPseudonym"
    assert mapper.home_instance({"acct": "bob@Remote.Social"}, "example.org") == "remote.social"
    assert reducer.unescape(mapper.escape("a\tb\\c\nd")) == "a\tb\\c\nd"


def test_readme_commands_set_what_the_chain_relies_on() -> None:
    """The cluster commands configure the key, partitioner and inputs that the Hadoop simulation above assumes."""
    text = (MAPPER.parent / "README.md").read_text()
    jobs = text.split("hadoop jar ")[1:]
    assert len(jobs) == 2
    for job in jobs:
        assert "-D stream.num.map.output.key.fields=3" in job
        assert "-D mapreduce.partition.keypartitioner.options=-k1,2" in job
        assert "-partitioner org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner" in job
        assert "-reducer 'python3 reducer.py'" in job
    assert '-mapper "python3 mapper.py --deletions deletions.jsonl $FIRST_DAY"' in jobs[0]
    assert "input.dir.recursive=true" in jobs[0]
    assert "reducer.py,deletions.jsonl \\" in jobs[0] and "> deletions.jsonl" in text  # shipped, and built
    assert 'DELETIONS=(--deletions "$LAKE/raw/mastodon/status_deletions")' in text  # the local pipe
    assert 'mapper.py "${DELETIONS[@]}" |' in text
    assert "-mapper cat" in jobs[1]
    for entity in ("statuses", "accounts", "directory"):
        assert f"-input $RAW/{entity}" in jobs[0]


def test_retention_matches_the_sql_metrics_after_curation(retention_lake: Path, tmp_path: Path) -> None:
    """Was: the chain read every raw status and account, so with FEDISCOPE_RETENTION_CURATED_DAYS set its metrics
    still counted the statuses posted, and the accounts last fetched, before the cutoff, which curation leaves out.
    Now run_local reads the setting and the mapper's --first-day expires them by the same cutoff (the statuses of
    2026-08-01, the accounts not fetched again on 2026-08-03)."""
    sql_lake = tmp_path / "sql" / "lake"
    shutil.copytree(retention_lake / "raw", sql_lake / "raw")
    settings = settings_for(sql_lake).replace(retention_curated_days=RETENTION_DAYS)
    assert curated_cutoff(settings, RETENTION_TODAY) == date(2026, 8, 2)
    metrics = load_metrics()
    with open_engine(settings, "duckdb") as engine:
        summary = engine.curate(today=RETENTION_TODAY)
        expected = {name: engine.run_metric(metrics[name]) for name in METRICS}
    assert summary.statuses_left_out > 100 and summary.accounts_left_out == len(NOT_REFETCHED), summary

    env = {**os.environ, "FEDISCOPE_RETENTION_CURATED_DAYS": str(RETENTION_DAYS)}
    done = subprocess.run([sys.executable, str(RUN_LOCAL), str(retention_lake), "--json",
                           "--today", RETENTION_TODAY.isoformat()], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    for name in METRICS:
        assert expected[name], f"{name}: the SQL metric is empty after retention; the comparison would be void"
        assert_same_rows(got[name], expected[name], f"retention/{name}")
    assert (f"left out {summary.statuses_left_out} status(es) posted and {summary.accounts_left_out} account(s) "
            "last fetched before") in done.stderr
    kept_all = run_lake(retention_lake)  # what the chain counted before: every status and account
    assert len(kept_all["top_accounts_by_followers"]) > len(expected["top_accounts_by_followers"])


@pytest.mark.parametrize("today", [date(2026, 9, 1), date(2024, 3, 1), date(2025, 3, 1), date(2000, 1, 1)])
def test_run_local_cuts_off_where_curation_does(today: date, tmp_path: Path) -> None:
    """run_local imports nothing of fediscope's: its first day must be fediscope's cutoff, also read from the
    setting as fediscope reads it."""
    for days in (0, 1, 29, 30, 365, 366, 36_500):
        assert run_local.first_day(today, days) == cutoff(today, days), (today, days)
        value = f" {days} "
        settings = load_settings(env={"FEDISCOPE_RETENTION_CURATED_DAYS": value}, toml_path=None,
                                 lake=str(tmp_path / "lake"), pseudonym_key="unused")
        assert run_local.retention_first_day(None, today.isoformat(), {"FEDISCOPE_RETENTION_CURATED_DAYS": value}) \
            == curated_cutoff(settings, today), (today, days)
    assert run_local.retention_first_day(None, today.isoformat(), {}) is None  # unset: every day is kept


@pytest.mark.parametrize(("argv", "env", "said"), [
    (["--retention-days", "-1"], {}, "--retention-days: expected a number of days from 0 to 36,500"),
    (["--retention-days", "a week"], {}, "--retention-days: expected a number of days"),
    ([], {"FEDISCOPE_RETENTION_CURATED_DAYS": "thirty"}, "FEDISCOPE_RETENTION_CURATED_DAYS: expected a number"),
    (["--retention-days", "30", "--today", "2026-02-30"], {}, "--today: expected a day YYYY-MM-DD, got '2026-02-30'"),
])
def test_run_local_refuses_a_bad_retention(recorded_lake: Path, argv: list[str], env: dict[str, str],
                                           said: str) -> None:
    done = subprocess.run([sys.executable, str(RUN_LOCAL), str(recorded_lake), "--json", *argv], capture_output=True,
                          text=True, env={**os.environ, **env})
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("day", ["2026-13-01", "2026-8-1", "20260801", "yesterday", ""])
def test_the_mapper_refuses_a_first_day_that_is_no_day(day: str) -> None:
    done = subprocess.run([sys.executable, str(MAPPER), "--first-day", day], input="", capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert f"argument --first-day: expected a day YYYY-MM-DD, got {day!r}" in done.stderr


def test_cluster_counters_say_what_the_retention_expired(retention_lake: Path) -> None:
    """Under Hadoop the mapper counts the versions it marks expired and job 1's reducer the statuses and accounts
    it leaves out (counters, not stderr lines)."""
    env = {"mapreduce_task_id": "task_1"}
    first_day = mapper.first_day_micros("2026-08-02")
    lines, err = io.StringIO(), io.StringIO()
    text = "".join((gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()).decode()
                   for p in raw_files(retention_lake))
    mapper.run(io.StringIO(text), lines, err, env, frozenset(), first_day)
    marked = sum(mapper.is_expired(line) for line in lines.getvalue().splitlines())
    assert marked > 100 and f"reporter:counter:fediscope,expired_versions,{marked}\n" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    reducer.run(sorted(lines.getvalue().splitlines(keepends=True)), out, err, env)
    counters = dict(line.rsplit(",", 2)[1:] for line in err.getvalue().splitlines())
    assert int(counters["expired_statuses"]) > 100 and int(counters["expired_accounts"]) == len(NOT_REFETCHED)


@pytest.mark.parametrize("days", [None, "0", "1", "30", "366"])
def test_readme_cluster_first_day_is_the_curation_cutoff(days: str | None) -> None:
    """The README's cluster commands give the mapper the first day curation keeps (none without a retention)."""
    text = (MAPPER.parent / "README.md").read_text()
    cluster = text.split("## On a cluster", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    block = cluster[cluster.index('FIRST_DAY=""'):]
    block = block[:block.index("\nfi\n") + len("\nfi\n")] + 'printf %s "$FIRST_DAY"'
    env = {k: v for k, v in os.environ.items() if k != "FEDISCOPE_RETENTION_CURATED_DAYS"}
    if days is not None:
        env["FEDISCOPE_RETENTION_CURATED_DAYS"] = days
    before = datetime.now(UTC).date()
    done = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, env=env)
    after = datetime.now(UTC).date()
    assert done.returncode == 0 and done.stderr == "", done.stderr
    expected = {cutoff(today, int(days or 0)) for today in (before, after)}
    assert (mapper.parse_day(done.stdout.split()[1]) if done.stdout else None) in expected, done.stdout
    assert done.stdout == "" or done.stdout.split()[0] == "--first-day"


def test_statuses_that_are_not_public_are_left_out_as_curation_leaves_them_out(
        tmp_path: Path, sql_results, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: the chain counted every raw status, so a followers-only or direct one landed by other means than the
    collectors (REAL recorded statuses with only their visibility changed: tests/non_public_statuses.py) reached its
    metrics. Now it gives the numbers of the same lake without them, which are curation's numbers too: a tagged
    status later fetched followers-only (its latest version), a public boost of a followers-only status, a quote of
    a direct one (the quote is kept)."""
    from mapreduce_lakes import KEY, T0
    from non_public_statuses import boost, land_raw, recorded, tagged, timeline, with_visibility

    from fediscope.lake.local import LocalLake
    from fediscope.privacy import PrivacyPolicy

    policy = PrivacyPolicy(key=KEY)
    quote = recorded("test_status_post_with_quote.json", lambda s: (s.get("quote") or {}).get("quoted_status"))
    quote["quote"]["quoted_status"] = with_visibility(quote["quote"]["quoted_status"], "direct")
    lakes = {name: tmp_path / name / "lake" for name in ("mixed", "public")}
    for root in lakes.values():
        land_raw(LocalLake(root), [*timeline("test_public_tl.json"), quote], T0, policy)
    mixed = LocalLake(lakes["mixed"])
    land_raw(mixed, [tagged()], T0.replace(minute=1), policy)
    land_raw(mixed, [with_visibility(tagged(), "private")], T0.replace(minute=2), policy)  # the latest: not public
    shared = boost()
    shared["reblog"] = with_visibility(shared["reblog"], "private")
    land_raw(mixed, [shared], T0.replace(minute=3))  # as collected: the policy would drop the whole record

    got, without = run_lake(lakes["mixed"]), run_lake(lakes["public"])
    said = capsys.readouterr().err
    expected = sql_results(lakes["mixed"])
    for name in METRICS:
        if name != "top_accounts_by_followers":  # the public first fetch's author snapshot is rightly newer
            assert got[name] == without[name], name
        assert_same_rows(got[name], expected[name], f"not public/{name}")
    assert "hoot" not in {r["tag"] for r in got["hashtags_daily"]}
    assert "reducer: left out 3 status(es) whose latest version is not public" in said
