"""Odd inputs the SQL metrics and the streaming chain must treat alike. Input: a REAL recorded hashtag status,
varied: its tags and its author's domain renamed, its author removed.

* Lower-casing gives one value on every path: hashtags and account keys with the letters whose lower case differs
  between DuckDB (code point by code point) and Python/Java (Unicode's contextual rules): a capital sigma ending
  a word (``ΟΔΟΣ``) and the dotted capital I (``İzmir``).
* A status without an author has no account key: skipped by both.
* A status version dated after its fetch (``created_at`` or ``edited_at`` beyond the clock-skew tolerance) is
  skipped by both; an author's ``created_at`` after the fetch is unknown to both.
* The curated retention applies to the version that wins: an expired one that wins takes its status or account
  out of both, also over a version that is not expired.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mapreduce_lakes import RECORDINGS, tagged_status

from fediscope.config import load_settings
from fediscope.engine.base import open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.gdpr.retention import curated_cutoff
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from spark_jobs.mapreduce import mapper
from spark_jobs.mapreduce.reducer import COLUMNS, status_order
from spark_jobs.mapreduce.run_local import run_lake

T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after the recorded statuses were created
STAMP = "%Y-%m-%dT%H:%M:%S.000Z"
WORDS = ["ΟΔΟΣ", "İzmir", "ΣΟΦΙΑ", "ΑΘΗΝΑΣ_ΣΗΜΕΡΑ"]




def _same_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]], what: str) -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} rows, SQL has {len(expected)}"
    for g, e in zip(got, expected, strict=True):
        assert set(g) == set(e), what
        for column, value in e.items():
            if isinstance(value, float):
                assert math.isclose(g[column], value, rel_tol=1e-9, abs_tol=1e-12), (what, column, g, e)
            else:
                assert g[column] == value, (what, column, g, e)


def test_fold_lowers_as_duckdb_does() -> None:
    con = duckdb.connect()
    for word in [*WORDS, "ΣΑΣ", "Straße", "ǅ", "plain ascii", "İİ Σ"]:
        (expected,) = con.execute("SELECT lower(?)", [word]).fetchone()
        assert mapper.fold(word) == expected, word


def test_fold_lowers_every_code_point_as_duckdb_does() -> None:
    """Every code point alone, and each whose Python lower case is not one code point for one or depends on its
    neighbours (``İ``, a final ``Σ``) also inside, before and after letters of several scripts: :func:`mapper.fold`
    gives what DuckDB's own ``lower`` gives (asked of DuckDB, not written down here)."""
    import pyarrow as pa

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    special = [c for c in chars if len(c.lower()) != 1 or ("a" + c + " ").lower() != "a" + c.lower() + " "]
    assert "\u0130" in special and "\u03a3" in special  # what the contexts below are about
    contexts = ["{}", "a{}", "{}a", "\u0391{}", "\u0391{} \u0392", "{}{}", "\u10a0{}\u13a0", "\u01c5{}\u01c4"]
    words = chars + [form.format(c, c) for c in special for form in contexts]
    con = duckdb.connect()
    con.register("words", pa.table({"word": words}))
    lowered = con.execute("SELECT word, lower(word) FROM words").fetchall()
    differ = [(word, expected, mapper.fold(word)) for word, expected in lowered if mapper.fold(word) != expected]
    assert not differ, f"{len(differ)} differ from DuckDB's lower, e.g. {differ[:5]}"


def _variant(base: dict[str, Any], suffix: str, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(base), "id": f"{base['id']}{suffix}", "uri": f"{base['uri']}-{suffix}", **changes}


def _land(lake_dir: Path, statuses: list[dict[str, Any]], at: datetime = T0 + timedelta(minutes=1),
          entity: str = "statuses", fetched_at: str | None = "landed", instance: str = "localhost:3000") -> None:
    """Privacy off (what upstream sent): keys are the lower-cased user@domain. ``fetched_at``: the envelopes'
    (``landed``: ``at``; None: none); ``instance``: the server they were fetched from."""
    records = [envelope(instance, "/api/v1/timelines/tag/x", s, fetched_at=at) for s in statuses]
    for record in records:
        if fetched_at != "landed":
            record["meta"]["fetched_at"] = fetched_at
    write_batch(LocalLake(lake_dir), entity, instance, records, fetched_at=at)


def _sql_and_chain(lake_dir: Path, tmp_path: Path, future_skipped: int = 0, retention_days: int = 0,
                   today: date | None = None) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """The SQL metrics the chain reproduces (DuckDB over a copy of the lake, which skips ``future_skipped``
    versions dated after their fetch; with a curated retention of ``retention_days`` before ``today``) and the
    chain's (with the same retention)."""
    sql_lake = tmp_path / "sql" / "lake"
    shutil.copytree(lake_dir / "raw", sql_lake / "raw")
    metrics = load_metrics()
    settings = load_settings(env={}, toml_path=None, lake=str(sql_lake), pseudonym_key="unused-privacy-is-off",
                             store=f"sqlite:///{tmp_path / 'metrics.db'}", retention_curated_days=retention_days)
    with open_engine(settings, "duckdb") as engine:
        assert engine.curate(today=today).future_versions_skipped == future_skipped
        expected = {name: engine.run_metric(metrics[name]) for name in COLUMNS}
    keep_from = curated_cutoff(settings, today)
    return expected, run_lake(lake_dir, tmp_path / "metrics.tsv", keep_from)


def test_tags_and_keys_with_special_lower_cases_match_the_sql(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    variants = []
    for i, word in enumerate(WORDS):
        status = copy.deepcopy(base)
        status["uri"] = f"{base['uri']}-{i}"
        status["id"] = f"{base['id']}{i}"
        status["tags"] = [dict(base["tags"][0], name=word), dict(base["tags"][0], name=word.lower())]
        status["account"] = dict(base["account"], acct=f"{base['account']['acct']}@{word}.example")
        status["favourites_count"] = i + 1
        variants.append(status)
    _land(lake_dir, variants)
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    tags = {row["tag"] for row in expected["hashtags_daily"]}
    assert {"οδοσ", "izmir", "σοφια", "αθηνασ_σημερα"} <= tags
    assert {row["account_key"] for row in expected["account_engagement"]} == {
        f"{base['account']['acct']}@{word}.example".lower().replace("i̇", "i").replace("ς", "σ") for word in WORDS}
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


def test_statuses_without_an_author_are_skipped_by_both(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    missing = dict(base, uri=base["uri"] + "-no-author", id=base["id"] + "1")
    missing.pop("account")
    null = dict(base, uri=base["uri"] + "-null-author", id=base["id"] + "2", account=None, favourites_count=7)
    _land(lake_dir, [base, missing, null])
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    assert [r["toots"] for r in expected["content_features"]] == [1] * 6
    for name in COLUMNS:
        assert expected[name], name
        _same_rows(got[name], expected[name], name)


def test_versions_dated_after_their_fetch_are_skipped_as_in_the_sql(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    future = "2099-01-01T00:00:00.000Z"
    fetched = T0 + timedelta(minutes=2)
    _land(lake_dir, [base])
    _land(lake_dir, [
        _variant(base, "1", created_at=future, favourites_count=50),  # skipped: its day would be 2099-01-01
        _variant(base, "2", created_at=(fetched + timedelta(minutes=59)).strftime(STAMP)),  # clock skew: kept
        dict(copy.deepcopy(base), edited_at=future, favourites_count=999),  # skipped: would win for ever
        _variant(base, "3", account=dict(base["account"], acct="skewed", created_at=future)),  # kept, no signup
    ], fetched)
    expected, got = _sql_and_chain(lake_dir, tmp_path, future_skipped=2)
    assert {r["day"] for r in expected["hashtags_daily"]} == {base["created_at"][:10]}
    assert max(r["interactions_total"] for r in expected["account_engagement"]) < 50
    for name in COLUMNS:
        assert expected[name], name
        _same_rows(got[name], expected[name], name)


def test_counts_no_server_reaches_are_unknown_to_both(tmp_path: Path) -> None:
    """Was: each count up to 2**63 - 1 is landed (a 64-bit integer), but a status's interactions add three of them:
    `favourites_count` 2**63 - 1 with one boost stopped every curation ("Overflow in addition of INT64"), naming no
    file. A count beyond MAX_ENGAGEMENT_COUNT, or negative, is now unknown (0) in the SQL and in the mapper."""
    from fediscope.engine.curate_sql import MAX_ENGAGEMENT_COUNT

    assert mapper.MAX_ENGAGEMENT_COUNT == MAX_ENGAGEMENT_COUNT
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    _land(lake_dir, [
        dict(base, favourites_count=3, reblogs_count=2, replies_count=1),
        _variant(base, "1", favourites_count=2**63 - 1, reblogs_count=1, replies_count=MAX_ENGAGEMENT_COUNT),
        _variant(base, "2", favourites_count=-(2**63), reblogs_count=MAX_ENGAGEMENT_COUNT + 1, replies_count=-1),
    ])
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    (engagement,) = expected["account_engagement"]
    assert engagement["toots"] == 3
    assert engagement["favourites_total"] == 3 and engagement["reblogs_total"] == 3
    assert engagement["replies_total"] == 1 + MAX_ENGAGEMENT_COUNT
    for name in COLUMNS:
        assert expected[name], name
        _same_rows(got[name], expected[name], name)


def test_counts_written_as_fractions_are_rounded_as_in_the_sql(tmp_path: Path) -> None:
    """A count written as a number with a fraction (``2.5``: a server or a tool writing JSON numbers as floats) is
    rounded by DuckDB's reader half to even (``0.5`` → 0, ``2.5`` → 2, ``3.5`` → 4). The mapper rounded halves away
    from zero (``int(value + 0.5)``, which also lost precision past 2**52): one favourite, boost or follower more
    than the SQL metrics for each such count."""
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    base["account"].update(followers_count=12.5, following_count=4503599627370497.0, statuses_count=1.5)
    _land(lake_dir, [
        dict(base, favourites_count=2.5, reblogs_count=0.5, replies_count=3.5),
        _variant(base, "1", favourites_count=1.4999, reblogs_count=7.5, replies_count=-0.5),
    ])
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    (engagement,) = expected["account_engagement"]
    assert (engagement["favourites_total"], engagement["reblogs_total"], engagement["replies_total"]) == (3, 8, 4)
    (account,) = expected["top_accounts_by_followers"]
    assert (account["followers_count"], account["following_count"], account["statuses_count"]) == (
        12, 4503599627370497, 2)
    for name in COLUMNS:
        assert expected[name], name
        _same_rows(got[name], expected[name], name)


def test_the_mapper_tolerance_is_the_sql_one() -> None:
    from fediscope.engine.curate_sql import CLOCK_SKEW

    assert CLOCK_SKEW == "INTERVAL 1 HOUR" and mapper.CLOCK_SKEW_US == 3600 * 1_000_000
    fetched = mapper.micros("2026-08-01T14:00:00Z")
    assert not mapper.after_fetch(mapper.micros("2026-08-01T15:00:00Z"), fetched)
    assert mapper.after_fetch(mapper.micros("2026-08-01T15:00:00.000001Z"), fetched)
    assert not mapper.after_fetch(mapper.micros("2099-01-01T00:00:00Z"), None)


def test_dates_at_the_ends_of_the_calendar_are_read_as_in_the_sql(tmp_path: Path) -> None:
    """A ``created_at`` whose UTC time is before the year 1 never reaches the curated statuses: skipped by the
    mapper too (it crashed on it). Years before 1000 are days with a four-digit year (``0999-06-01``, not
    ``999-06-01``), year 0 turning into year 1 in UTC is read, and a day of the year 10000 (possible without a
    ``fetched_at`` to judge the date by) keeps its tag: the reducer splits a hashtag key at its separator."""
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    _land(lake_dir, [
        base,
        _variant(base, "1", created_at="0001-01-01T00:00:00+01:00", favourites_count=50),  # 1 BC in UTC: skipped
        _variant(base, "2", created_at="0999-06-01T00:00:00Z", favourites_count=2),
        _variant(base, "3", created_at="0000-12-31T23:00:00-02:00", favourites_count=3),  # 0001-01-01 in UTC
    ])
    unjudged = envelope("localhost:3000", "/api/v1/timelines/tag/x",
                        _variant(base, "4", created_at="9999-12-31T23:59:59-01:00", favourites_count=4))
    del unjudged["meta"]["fetched_at"]
    write_batch(LocalLake(lake_dir), "statuses", "localhost:3000", [unjudged], fetched_at=T0 + timedelta(minutes=3))
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    tag = base["tags"][0]["name"].lower()
    assert [(r["day"], r["tag"]) for r in expected["hashtags_daily"]] == [
        ("0001-01-01", tag), ("0999-06-01", tag), ("10000-01-01", tag), (base["created_at"][:10], tag)]
    assert [r["toots"] for r in expected["content_features"]] == [4] * 6
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


def test_utc_days_are_duckdb_dates() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    samples = ["0001-01-01T00:00:00+01:00", "0001-01-01T01:00:00+01:00", "0000-01-01", "0000-02-29T12:00:00Z",
               "0000-12-31T23:00:00-02:00", "0999-06-01T00:00:00Z", "1600-02-29", "1900-02-28T23:30:00-01:00",
               "1969-12-31T23:59:59.999999Z", "2000-02-29T00:10:00+00:30", "9999-12-31T23:59:59Z",
               "9999-12-31T23:59:59-01:00"]
    for text in samples:
        us, day = con.execute("SELECT epoch_us(t), CAST(t AS DATE)::VARCHAR FROM "
                              "(SELECT TRY_CAST(TRY_CAST(? AS TIMESTAMPTZ) AS TIMESTAMP) AS t)", [text]).fetchone()
        assert mapper.micros(text) == us, text
        assert mapper.utc_day(us) == (None if "BC" in day else day), text


def test_counts_no_64_bit_integer_holds_make_the_record_malformed(tmp_path: Path) -> None:
    """``1e999``, ``Infinity``, ``NaN`` or 2**63 as a count: DuckDB's reader (BIGINT columns) refuses the record, so
    the mapper skips it as malformed and counts it (it crashed with OverflowError) — wherever the count is: the
    status, its author, a share event's own counts (which the metrics do not use), the reblogged original."""
    import subprocess
    import sys

    from fediscope.engine.schema import duckdb_columns
    from spark_jobs.mapreduce.run_local import MAPPER

    base = tagged_status()
    reblog = {**_variant(base, "r"), "reblog": _variant(base, "o"), "favourites_count": 0}
    marker = 987654321987
    odd = [
        _variant(base, "1", favourites_count=marker),
        _variant(base, "2", account=dict(base["account"], followers_count=marker)),
        {**reblog, "reblogs_count": marker},
        {**reblog, "reblog": _variant(base, "o", replies_count=marker)},
        {**reblog, "reblog": _variant(base, "o", account=dict(base["account"], statuses_count=marker))},
    ]
    good = [json.dumps(envelope("localhost:3000", "/api/v1/timelines/tag/x", s, fetched_at=T0)) for s in (base, reblog)]
    con = duckdb.connect()
    columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in duckdb_columns("statuses").items()) + "}"
    lines = []
    for number in ("1e999", "-1e999", "Infinity", "-Infinity", "NaN", str(2**63), str(-(2**63) - 1), "1e19"):
        for status in odd:
            line = json.dumps(envelope("localhost:3000", "/api/v1/timelines/tag/x", status, fetched_at=T0))
            lines.append(line.replace(str(marker), number))
            batch = tmp_path / "odd.jsonl"
            batch.write_text(lines[-1] + "\n")
            try:  # the SQL side: the reader refuses the record (and so the whole curation run)
                con.execute(f"SELECT * FROM read_json('{batch}', format = 'newline_delimited', columns = {columns})")
                raise AssertionError(f"DuckDB read {lines[-1]}")
            except duckdb.InvalidInputException as exc:
                assert "Failed to cast value to numerical" in str(exc)
    env = {"mapreduce_map_input_file": "hdfs://nn/lake/raw/mastodon/statuses/instance=x/dt=d/b.jsonl",
           "mapreduce_task_id": "task_1", "PATH": "/usr/bin:/bin"}
    clean = subprocess.run([sys.executable, str(MAPPER)], input="\n".join(good) + "\n", env=env,
                           capture_output=True, text=True, check=True)
    noisy = subprocess.run([sys.executable, str(MAPPER)], input="\n".join([*lines[:20], *good, *lines[20:]]) + "\n",
                           env=env, capture_output=True, text=True, check=True)
    assert noisy.stdout == clean.stdout and clean.stdout.count("\nS\t") >= 2
    assert f"reporter:counter:fediscope,malformed_input_lines,{len(lines)}" in noisy.stderr
    assert "Traceback" not in noisy.stderr
    # the largest and smallest 64-bit integers are read (not malformed), as counts no server reaches: unknown (0)
    for number in (str(2**63 - 1), str(-(2**63))):
        out = subprocess.run([sys.executable, str(MAPPER)], input=lines[0].replace("1e999", number) + "\n", env=env,
                             capture_output=True, text=True, check=True)
        assert f"\t{number}\t" not in out.stdout and out.stdout.startswith("S\t")
        assert "malformed_input_lines,0" in out.stderr


def test_hashtags_longer_than_the_sql_limit_are_dropped_as_in_the_sql(tmp_path: Path) -> None:
    """A tag name of more than MAX_TAG_LENGTH characters (counted as characters, not bytes) is dropped from the
    status's tags by the curation SQL; the mapper drops it too, and the status keeps its other tags."""
    from fediscope.engine.curate_sql import MAX_TAG_LENGTH

    assert mapper.MAX_TAG_LENGTH == MAX_TAG_LENGTH == 255
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    tag = base["tags"][0]
    long_names = ["É" * 300, "é" * 256, "Ĳ" * 255]  # 300 and 256 characters: dropped; 255 (510 bytes): kept
    _land(lake_dir, [
        _variant(base, "1", tags=[dict(tag, name="Normal"), dict(tag, name="X" * 300)], favourites_count=3),
        *(_variant(base, str(i + 2), tags=[dict(tag, name=name)], replies_count=i)
          for i, name in enumerate(long_names)),
    ])
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    day = base["created_at"][:10]
    assert [(r["day"], r["tag"], r["toots"], r["engagement_total"]) for r in expected["hashtags_daily"]] == [
        (day, "normal", 1, 3), (day, "ĳ" * 255, 1, 2)]
    (hashtag,) = [r for r in expected["content_features"] if r["feature"] == "hashtag"]
    assert (hashtag["toots_with"], hashtag["toots"], hashtag["items"]) == (2, 4, 2)
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


def test_hashtag_names_of_white_space_only_are_dropped_as_in_the_sql(tmp_path: Path) -> None:
    """Was: a tag named ``""`` (or spaces only) counted as a hashtag in the chain, as in the curation SQL. Both drop it
    now: a status with only such tags has no hashtag, one with others keeps those. The rule is one: the mapper's
    pattern and the SQL's agree on every code point."""
    from fediscope.engine.curate_sql import TAG_CHARACTER_RE

    con = duckdb.connect()
    points = [p for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF]
    sql = con.execute(f"SELECT p FROM unnest(?) AS t(p) WHERE NOT regexp_matches(chr(p), '{TAG_CHARACTER_RE}')",
                      [points]).fetchall()
    assert sorted(p for (p,) in sql) == [p for p in points if not mapper.TAG_CHARACTER_RE.search(chr(p))]
    assert {chr(p) for (p,) in sql} >= {"\t", "\n", " ", "\u00a0", "\u3000"} and len(sql) == 25
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    tag = base["tags"][0]
    _land(lake_dir, [
        _variant(base, "1", tags=[dict(tag, name=""), tag, dict(tag, name=" \u3000")], favourites_count=3),
        _variant(base, "2", tags=[dict(tag, name=" "), dict(tag, name="")], replies_count=1),
    ])
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    day = base["created_at"][:10]
    assert [(r["day"], r["tag"], r["toots"]) for r in expected["hashtags_daily"]] == [(day, tag["name"], 1)]
    (hashtag,) = [r for r in expected["content_features"] if r["feature"] == "hashtag"]
    assert (hashtag["toots_with"], hashtag["toots"], hashtag["items"]) == (1, 2, 1)
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


def test_the_mapper_reads_the_length_of_the_text_as_written() -> None:
    """Was: with privacy on the mapper measured the pseudonym landed for a mention (25 characters) in the length
    that orders a status's versions, as curation did: 47 for "@mastodonpy_test yoooo check this out" (37). It takes
    the length the policy recorded, as curation does. A REAL recorded reply quoting."""
    from fediscope.privacy import PrivacyPolicy

    recording = RECORDINGS / "test_status_reply_with_quote.json"
    replies = [item for interaction in json.loads(recording.read_text())["interactions"]
               for item in [interaction["response"]["body"]]
               if isinstance(item, dict) and "yoooo check this out" in str(item.get("content"))]
    assert replies
    meta = {"instance": "localhost:3000", "fetched_at": T0.strftime(STAMP)}
    for reply in replies:
        for policy in (PrivacyPolicy(key=b"mapper-test-key-5d0c"), PrivacyPolicy(key=None, enabled=False)):
            line = mapper.status_line(policy.apply("statuses", copy.deepcopy(reply), "localhost:3000"), meta, False)
            assert line is not None and line.split("\t")[9] == str(len("@mastodonpy_test yoooo check this out"))


def test_retention_applies_to_the_winning_version_as_in_the_sql(tmp_path: Path) -> None:
    """The curated retention (first day 2026-08-01 here) leaves out the merged rows, so what expires is the version
    that wins: dropping every expired version before the merge would bring a losing one in instead. A status whose
    server changed its ``created_at``: the version edited last wins and was posted on 2026-07-31, so the status is
    gone, also its version of 2026-08-01. Accounts are the exception: their snapshots fetched before the first day
    are left out before the merge chooses one (an account seen within the retention stays), so the account whose
    snapshot of 2026-07-20 would win keeps its snapshot of unknown fetch time (which never expires) instead; one with
    only a snapshot of unknown fetch time is kept by both."""
    lake_dir = tmp_path / "lake"
    base = dict(tagged_status(), created_at="2026-08-01T10:00:00.000Z", edited_at=None)
    moved = _variant(base, "moved", created_at="2026-07-31T23:00:00.000Z", edited_at="2026-08-01T13:00:00.000Z")
    _land(lake_dir, [base, moved])
    _land(lake_dir, [dict(moved, created_at="2026-08-01T09:00:00.000Z", edited_at=None, favourites_count=77)],
          T0 + timedelta(minutes=2))
    gone = dict(base["account"], acct="gone", username="gone", followers_count=12345)
    kept = dict(base["account"], acct="unknown", username="unknown", followers_count=54321)
    _land(lake_dir, [gone], datetime(2026, 7, 20, 12, tzinfo=UTC), entity="accounts")
    _land(lake_dir, [dict(gone, followers_count=999), kept], entity="accounts", fetched_at=None)

    expected, got = _sql_and_chain(lake_dir, tmp_path, retention_days=30, today=date(2026, 8, 31))
    followers = {row["account_key"]: row["followers_count"] for row in expected["top_accounts_by_followers"]}
    assert (followers["unknown@localhost:3000"], followers["gone@localhost:3000"]) == (54321, 999)
    (engagement,) = expected["account_engagement"]
    assert engagement["toots"] == 1 and engagement["favourites_total"] == base["favourites_count"]
    for name in COLUMNS:
        assert expected[name], name
        _same_rows(got[name], expected[name], name)


def test_a_hidden_follower_count_counts_as_unknown_in_the_chain_as_in_the_sql(tmp_path: Path) -> None:
    """Follower and following counts of -1 (what a server hiding them sends) are unknown: 0 in both metrics of the
    chain and the SQL, and no engagement rate."""
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    _land(lake_dir, [dict(base, account=dict(base["account"], followers_count=-1, following_count=-1))])
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    (account,) = expected["top_accounts_by_followers"]
    assert (account["followers_count"], account["following_count"]) == (0, 0)
    (engagement,) = expected["account_engagement"]
    assert engagement["followers_count"] == 0 and engagement["engagement_rate"] is None
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


@pytest.mark.parametrize("home_seen", [True, False], ids=["home snapshot", "no home snapshot"])
@pytest.mark.parametrize("remote_first", [True, False], ids=["remote landed first", "remote landed second"])
def test_the_home_servers_snapshot_wins_in_the_chain_as_in_the_sql(home_seen: bool, remote_first: bool,
                                                                   tmp_path: Path) -> None:
    """The recorded status as its home server gave it, and, fetched later, as two other servers show it (their own
    id of the status, the author's ``acct`` with its domain): one with stale counts, one hiding followers and follows
    (-1); only the counts change. The chain keeps the home server's counts as the SQL does; without a home snapshot,
    the newest one that knows them, not the hidden one. Was: the newest fetch won in both."""
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    author = base["account"]
    assert "@" not in author["acct"]  # a local account of the recorded server, localhost:3000
    remote_author = dict(author, acct=f"{author['acct']}@localhost:3000")
    home = dict(base, account=dict(author, followers_count=120, following_count=80, statuses_count=40))
    stale = dict(base, id=f"{base['id']}1", account=dict(remote_author, followers_count=100, following_count=70,
                                                           statuses_count=35))
    hidden = dict(base, id=f"{base['id']}2", account=dict(remote_author, followers_count=-1, following_count=-1))
    remote = [("other.example", stale, 2), ("remote.example", hidden, 3)]
    lands = [*remote, ("localhost:3000", home, 1)] if remote_first else [("localhost:3000", home, 1), *remote]
    for instance, status, minutes in lands:
        if home_seen or status is not home:
            _land(lake_dir, [status], T0 + timedelta(minutes=minutes), instance=instance)
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    (account,) = expected["top_accounts_by_followers"]
    counts = (account["followers_count"], account["following_count"], account["statuses_count"])
    assert counts == ((120, 80, 40) if home_seen else (100, 70, 35))
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


def test_a_count_the_home_server_hides_stays_hidden_in_the_chain_as_in_the_sql(tmp_path: Path) -> None:
    """The recorded status as its home server gave it hiding followers and follows (-1: the account's choice), and
    as another server shows it later with counts it cached: both keep the home server's snapshot (0: unknown)."""
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    author = base["account"]
    home = dict(base, account=dict(author, followers_count=-1, following_count=-1, statuses_count=40))
    stale = dict(base, id=f"{base['id']}1", account=dict(author, acct=f"{author['acct']}@localhost:3000",
                                                           followers_count=100, following_count=70,
                                                           statuses_count=35))
    _land(lake_dir, [home], T0 + timedelta(minutes=1))
    _land(lake_dir, [stale], T0 + timedelta(minutes=2), instance="other.example")
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    (account,) = expected["top_accounts_by_followers"]
    assert (account["followers_count"], account["following_count"], account["statuses_count"]) == (0, 0, 40)
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


@pytest.mark.parametrize("bot_first", [True, False], ids=["bot view landed first", "bot view landed second"])
def test_snapshots_fetched_at_the_same_moment_give_the_sql_bot_flag(bot_first: bool, tmp_path: Path) -> None:
    """Two views of an account fetched in the same millisecond that agree on every count but not on ``bot``: the
    chain picks the snapshot the SQL picks (a flag set wins the tie), whichever input file comes first."""
    lake_dir = tmp_path / "lake"
    base = tagged_status()
    views = [dict(base["account"], bot=True), dict(base["account"], bot=False)]
    for view in views if bot_first else views[::-1]:
        _land(lake_dir, [view], entity="accounts")
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    (account,) = expected["top_accounts_by_followers"]
    assert account["bot"] is True
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)


@pytest.mark.parametrize("erased_first", [True, False], ids=["erased batch first", "erased batch second"])
def test_the_version_an_erasure_rewrote_wins_in_the_chain_as_in_the_sql(erased_first: bool, tmp_path: Path) -> None:
    """A reply to an account and a quote of its status, and their versions as the erasure of that account rewrote
    them (the same fetch: ``[erased]`` reply id, no mention, no quoted status): the chain keeps the erasure's
    version as the SQL does (no toot with a mention), whichever input file comes first, and job 1's reducer picks it
    in whichever order its input lists the versions (Hadoop sorts by key only). Was: of versions tying on its
    order, the first listed won."""
    from erased_versions import INSTANCE, as_erased, reply_and_quote

    from fediscope.privacy import ERASED

    assert mapper.ERASED == ERASED  # the mapper's copy (standard library only)
    reply, quote, accounts = reply_and_quote()
    at = T0 + timedelta(minutes=1)
    landed = [envelope(INSTANCE, "/api/v1/timelines/public", status, fetched_at=at) for status in (reply, quote)]
    erased = as_erased(landed, accounts, at, tmp_path / "scratch")
    assert erased != landed
    lake_dir = tmp_path / "lake"
    for records in [erased, landed] if erased_first else [landed, erased]:
        write_batch(LocalLake(lake_dir), "statuses", INSTANCE, records, fetched_at=at)
    expected, got = _sql_and_chain(lake_dir, tmp_path)
    mentions = next(row for row in expected["content_features"] if row["feature"] == "mention")
    assert mentions["toots"] == 2 and mentions["toots_with"] == 0
    for name in COLUMNS:
        _same_rows(got[name], expected[name], name)
    for status, before, after in zip((reply, quote), landed, erased, strict=True):
        versions = [line for record in (before, after) for line in mapper.map_record(record) if line.startswith("S\t")]
        assert len(versions) == 2 and versions[0] != versions[1], status["uri"]
        for listed in (versions, versions[::-1]):
            assert min((line.split("\t") for line in listed), key=status_order) == versions[1].split("\t")
