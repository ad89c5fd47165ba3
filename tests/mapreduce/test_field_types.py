"""Raw records with a field of another JSON type than the raw schema declares: the MapReduce chain reads them as the
SQL curation does. Input: a REAL recorded hashtag status (and its author as an ``accounts`` record), one field changed
per case, landed in a batch of its own beside the untouched originals.

Landing quarantines such records (:func:`fediscope.sources.pages.shape_problem`); a raw file landed by other means
may still hold them. DuckDB's reader converts every declared field to its type (:mod:`fediscope.engine.schema`):

* **refused** — a value it cannot convert (``"tags": {}``, ``"media_attachments": "x"``, ``"bot": "1"``,
  ``"followers_count": "12.5"``): the curation stops, naming the file and line, with what to do. The mapper skips the
  record as malformed (counter ``skipped_bad_type``; ``--strict`` stops, naming the file and line), so its numbers are
  those of the lake without it. Was: the mapper read each as something (no tags, no media, unknown, 12 for ``"+12"``,
  3 for ``"٣"``) and gave numbers the SQL never gives, and DuckDB's message had no advice.
* **read** — a value it converts (``"bot": "yes"`` true, ``2`` true, ``"followers_count": "0x10"`` 16, ``true`` 1, a
  ``content`` or ``visibility`` that is an object: its JSON text): the mapper reads the same value. Was: NULL or the
  empty text in the mapper (a bot counted as no bot, a status whose visibility is an object counted as public).
"""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mapreduce_lakes import tagged_status
from test_odd_inputs import _same_rows

from fediscope.config import load_settings
from fediscope.engine.base import RAW_DAMAGE_HINT, open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.batches import RESTORE_ADVICE, write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from spark_jobs.mapreduce import mapper
from spark_jobs.mapreduce.reducer import COLUMNS
from spark_jobs.mapreduce.run_local import PipelineError, run_lake

T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after the recorded statuses were created
INSTANCE = "localhost:3000"
REFUSED, READ = "refused", "read"

#: (id, where the field is, field, value, what DuckDB does). ``status``: the changed copy of the status; ``author``:
#: its author inside it; ``original``: the original inside a reblog of it; ``account``: the author's ``accounts``
#: record, fetched after the statuses (its snapshot wins).
CASES: list[tuple[str, str, str, Any, str]] = [
    ("tags object", "status", "tags", {}, REFUSED),
    ("tags string", "status", "tags", "x", REFUSED),
    ("tags of strings", "status", "tags", ["x"], REFUSED),
    ("tag name object", "status", "tags", [{"name": {"a": "B"}}], READ),
    ("tag name number", "status", "tags", [{"name": 5}], READ),
    ("media string", "status", "media_attachments", "x", REFUSED),
    ("media object", "status", "media_attachments", {}, REFUSED),
    ("emojis of numbers", "status", "emojis", [1, 2], REFUSED),
    ("mentions object", "status", "mentions", {}, REFUSED),
    ("favourites numeric string", "status", "favourites_count", " 7 ", READ),
    ("favourites hexadecimal string", "status", "favourites_count", "0x10", READ),
    ("favourites true", "status", "favourites_count", True, READ),
    ("favourites fraction", "status", "favourites_count", 2.5, READ),
    ("favourites with a plus", "status", "favourites_count", "+7", REFUSED),
    ("favourites with leading zeros", "status", "favourites_count", "007", REFUSED),
    ("favourites fraction string", "status", "favourites_count", "7.5", REFUSED),
    ("favourites object", "status", "favourites_count", {}, REFUSED),
    # more digits than Python converts to an int (4,300): was a ValueError traceback from the mapper
    ("favourites of 5000 digits", "status", "favourites_count", "9" * 5000, REFUSED),
    ("content object", "status", "content", {"p": '<a href="https://example.com/">x</a>'}, READ),
    ("content list", "status", "content", ["\U0001F600"], READ),
    ("visibility object", "status", "visibility", {}, READ),
    ("deleted yes", "status", "deleted", "yes", READ),
    ("deleted number", "status", "deleted", 1, READ),
    ("deleted digit string", "status", "deleted", "1", REFUSED),
    ("author string", "status", "account", "x", REFUSED),
    ("reblog list", "status", "reblog", [], REFUSED),
    ("quote string", "status", "quote", "x", REFUSED),
    ("original's tags object", "original", "tags", {}, REFUSED),
    ("bot yes", "author", "bot", "yes", READ),
    ("bot number", "author", "bot", 2, READ),
    ("bot digit string", "author", "bot", "1", REFUSED),
    ("bot y", "account", "bot", "y", REFUSED),
    ("group object", "author", "group", {}, REFUSED),
    ("acct object", "author", "acct", {"x": 1}, READ),
    ("followers null", "account", "followers_count", None, READ),
    ("followers numeric string", "account", "followers_count", "12", READ),
    ("followers true", "account", "followers_count", True, READ),
    ("followers arabic digit", "account", "followers_count", "\u0663", REFUSED),
    ("followers beyond 64 bits", "account", "followers_count", str(2**63), REFUSED),
]


def changed_lake(lake_dir: Path, where: str, field: str, value: Any) -> Path:
    """The recorded status and its author (as an ``accounts`` record), and in a batch of its own the one record
    changed; returns that batch."""
    return changed_records_lake(lake_dir, [(where, field, value)])[0]


def case_author(base: dict[str, Any], number: int | None) -> dict[str, Any]:
    """The recorded author, or (``number``) another account of the same instance: its own id, name and key."""
    if number is None:
        return copy.deepcopy(base["account"])
    account = base["account"]
    name = f"{account['username']}_{number}"
    return dict(copy.deepcopy(account), id=f"{account['id']}{number}", username=name, acct=name,
                url=account["url"].replace(account["username"], name), uri=f"{account['uri']}{number}")


def case_key(number: int | None) -> tuple[str, str]:
    """The account key and the hashtag of the case ``number`` of :func:`changed_records_lake`."""
    base = tagged_status()
    return f"{case_author(base, number)['acct']}@{INSTANCE}".lower(), case_status(base, number)["tags"][0]["name"]


def case_status(base: dict[str, Any], number: int | None) -> dict[str, Any]:
    """The recorded status, or (``number``) a copy of it posted by :func:`case_author` under its own hashtag."""
    if number is None:
        return copy.deepcopy(base)
    tag = f"{base['tags'][0]['name']}_{number}"
    return dict(copy.deepcopy(base), id=f"{base['id']}{number}", uri=f"{base['uri']}{number}",
                account=case_author(base, number), tags=[dict(base["tags"][0], name=tag,
                                                              url=base["tags"][0]["url"] + f"_{number}")])


def changed_records_lake(lake_dir: Path, changes: list[tuple[str, str, Any]]) -> list[Path]:
    """:func:`changed_lake` of several changes in one lake: with one change, the recorded status and author as they
    are; with more, change ``i`` on a copy of each of its own (:func:`case_status`, :func:`case_author` numbered
    ``i``), so that each shows in rows of its own (its account's, its hashtag's). The untouched records land in one
    batch per kind, the changed ones in one batch per kind; returns the batch holding each change's record."""
    base = tagged_status()
    lake = LocalLake(lake_dir)
    at = T0 + timedelta(minutes=1)
    numbers: list[int | None] = [None] if len(changes) == 1 else list(range(1, len(changes) + 1))

    def land(entity: str, records: list[dict[str, Any]], minutes: int) -> Path:
        landed = write_batch(lake, entity, INSTANCE, [envelope(INSTANCE, "/api/v1/timelines/tag/x", r,
                                                               fetched_at=at + timedelta(minutes=minutes))
                                                      for r in records], fetched_at=at + timedelta(minutes=minutes))
        assert landed
        return lake_dir / landed

    land("statuses", [case_status(base, n) for n in numbers], 0)
    land("accounts", [case_author(base, n) for n in numbers], 1)
    statuses: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    for number, (where, field, value) in zip(numbers, changes, strict=True):
        status = case_status(base, number)
        changed = copy.deepcopy(status)
        changed.update(id=f"{status['id']}7", uri=f"{status['uri']}-7", favourites_count=3)
        if where == "account":
            account = dict(case_author(base, number), followers_count=40)
            account[field] = value
            accounts.append(account)
            continue
        if where == "original":
            original = changed
            original[field] = value
            changed = dict(copy.deepcopy(status), id=f"{status['id']}8", uri=f"{status['uri']}-8", reblog=original)
        else:
            (changed["account"] if where == "author" else changed)[field] = value
        statuses.append(changed)
    landed = {entity: land(entity, records, 2) for entity, records in (("statuses", statuses), ("accounts", accounts))
              if records}
    return [landed["accounts" if where == "account" else "statuses"] for where, _, _ in changes]


def copied_lake_settings(lake_dir: Path, work: Path) -> tuple[Any, Path]:
    """Settings of a copy of the lake's raw files under ``work`` (started afresh), with a SQLite store beside it, and
    the copy's directory."""
    copy_dir = work / "lake"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(lake_dir / "raw", copy_dir / "raw")
    return load_settings(env={}, toml_path=None, lake=str(copy_dir), pseudonym_key="unused-privacy-is-off",
                         store=f"sqlite:///{work / 'metrics.db'}"), copy_dir


#: The curated statuses' columns a read case's value shows in (:func:`duckdb_metrics` with ``statuses``), each
#: status on its own: ``content_features`` sums them over every status of the lake.
STATUS_COLUMNS = ("uri", "account_key", "favourites_count", "reblogs_count", "replies_count", "url_count",
                  "custom_emoji_count", "unicode_emoji_count", "media_count", "visibility")
STATUS_ROWS = f"SELECT {', '.join(STATUS_COLUMNS)} FROM statuses ORDER BY uri"


def duckdb_metrics(lake_dir: Path, tmp_path: Path, statuses: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The SQL metrics the chain reproduces, by the DuckDB engine over a copy of the lake (paths said as in the
    lake); FediscopeError when its curation stops. ``statuses``: and under ``"statuses"`` the curated statuses'
    :data:`STATUS_COLUMNS`."""
    settings, copy_dir = copied_lake_settings(lake_dir, tmp_path / "sql")
    metrics = load_metrics()
    try:
        with open_engine(settings, "duckdb") as engine:
            engine.curate()
            return {name: engine.run_metric(metrics[name]) for name in COLUMNS} | (
                {"statuses": engine.query(STATUS_ROWS)} if statuses else {})
    except FediscopeError as exc:
        raise FediscopeError(str(exc).replace(str(copy_dir), str(lake_dir))) from None


@pytest.mark.parametrize(("where", "field", "value", "outcome"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_field_of_another_type_is_read_by_the_chain_as_duckdb_reads_it(where: str, field: str, value: Any,
                                                                         outcome: str, tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    batch = changed_lake(lake_dir, where, field, value)
    got = run_lake(lake_dir)
    if outcome == READ:
        expected = duckdb_metrics(lake_dir, tmp_path)
    else:
        with pytest.raises(FediscopeError) as raised:
            duckdb_metrics(lake_dir, tmp_path)
        said = str(raised.value)
        assert "\n" not in said and f'in file "{batch}", in line 1' in said and said.endswith(RAW_DAMAGE_HINT), said
        with pytest.raises(PipelineError, match=f"the raw file {batch} is damaged: line 1 is not a JSON record"):
            run_lake(lake_dir, strict=True)
        batch.unlink()  # without it, both engines agree on the rest: the numbers the chain gave without --strict
        expected = duckdb_metrics(lake_dir, tmp_path)
    for name in COLUMNS:
        assert expected[name], name
        _same_rows(got[name], expected[name], name)


def test_the_read_values_are_duckdbs(tmp_path: Path) -> None:
    """What some of the read cases give, so that the parity above is not parity on nothing: the values of DuckDB."""
    lake_dir = tmp_path / "lake"
    changed_lake(lake_dir, "author", "bot", "yes")
    (account,) = duckdb_metrics(lake_dir, tmp_path)["top_accounts_by_followers"]
    assert account["bot"] is True and run_lake(lake_dir)["top_accounts_by_followers"][0]["bot"] is True
    shutil.rmtree(lake_dir)
    changed_lake(lake_dir, "account", "followers_count", "0x10")
    for metrics in (duckdb_metrics(lake_dir, tmp_path), run_lake(lake_dir)):
        assert metrics["top_accounts_by_followers"][0]["followers_count"] == 16
    shutil.rmtree(lake_dir)
    changed_lake(lake_dir, "status", "visibility", {})  # its JSON text, "{}": not public, left out
    for metrics in (duckdb_metrics(lake_dir, tmp_path), run_lake(lake_dir)):
        assert [r["toots"] for r in metrics["account_engagement"]] == [1]


def test_the_mapper_refuses_with_the_reason_and_the_field() -> None:
    """The mapper's counter and ``--strict`` line say which field it could not read."""
    base = tagged_status()
    record = envelope(INSTANCE, "/api/v1/timelines/tag/x", dict(base, tags={}), fetched_at=T0)
    with pytest.raises(mapper.NotARecord) as raised:
        mapper.map_record(record, "statuses")
    assert raised.value.reason == "bad_type"
    assert str(raised.value) == "a field curation cannot read as its type: data.tags is an object, expected a list"
    record = envelope(INSTANCE, "/api/v1/accounts/x", dict(base["account"], followers_count="12.5"), fetched_at=T0)
    with pytest.raises(mapper.NotARecord, match=r'data\.followers_count: "12\.5" is not an integer'):
        mapper.map_record(record, "accounts")


def test_the_mappers_raw_schema_is_curations() -> None:
    from fediscope.engine.schema import DATA_SCHEMAS, META

    assert mapper.RAW_META == META
    assert DATA_SCHEMAS["statuses"] == mapper.RAW_STATUS
    assert mapper.RAW_ACCOUNT == DATA_SCHEMAS["accounts"] == DATA_SCHEMAS["directory"]


def test_counts_and_flags_are_cast_as_duckdbs_reader_casts_them(tmp_path: Path) -> None:
    """Every JSON value tried, read by DuckDB's ``read_json`` into a BIGINT and a BOOLEAN column, and by the mapper:
    the same value, or both refuse it."""
    import json

    import duckdb

    values: list[Any] = [
        "7", "-7", "+7", "007", "0", "-0", "00", " 7", "7 ", "\t7\n", "\x0b7", "\xa07", "0x10", "0X1f", "-0x10",
        "0b101", "0B11", "0b", "0x", "0o7", "1_000", "7.0", "1e3", "", " ", "\u0663", "\uff17", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "0x7FFFFFFFFFFFFFFF", "0x8000000000000000", "inf",
        "true", "false", "True", "FALSE", "t", "F", "yes", "NO", "nO", "y", "n", "on", "off", "1", " true", "true ",
        True, False, 0, 1, 2, -1, 0.0, -0.0, 0.5, 1.5, 2.5, 1e300, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63),
        -(2**63) - 1, {}, {"a": 1}, [], [1],
    ]
    con = duckdb.connect()
    for declared, read in (("BIGINT", mapper.as_int), ("BOOLEAN", mapper.as_bool)):
        for value in values:
            path = tmp_path / "one.jsonl"
            path.write_text(json.dumps({"x": value}) + "\n")
            try:
                (expected,) = con.execute(f"SELECT x FROM read_json('{path}', format = 'newline_delimited', "
                                          f"columns = {{'x': '{declared}'}})").fetchone()
            except duckdb.InvalidInputException:
                expected = "refused"
            try:
                got = read(value)
            except mapper.NotARecord:
                got = "refused"
            assert got == expected and type(got) is type(expected), (declared, value, got, expected)


#: The cases Spark's curation is checked on (each takes a curation on both engines): a count and a flag converted,
#: a count with a fraction, true as a count, a list, a count, a flag and an author refused, text holding an object.
SPARK_CASES = ["followers numeric string", "bot yes", "favourites fraction", "favourites true", "tags object",
               "favourites with a plus", "bot y", "author string", "content object", "visibility object"]


def spark_metrics(lake_dir: Path, tmp_path: Path, spark: object, statuses: bool = False,
                  ) -> dict[str, list[dict[str, Any]]]:
    """:func:`duckdb_metrics`, by the Spark engine."""
    from fediscope.engine.spark_engine import SparkEngine

    settings, copy_dir = copied_lake_settings(lake_dir, tmp_path / "spark")
    metrics = load_metrics()
    try:
        with SparkEngine(settings, spark=spark) as engine:
            engine.curate()
            return {name: engine.run_metric(metrics[name]) for name in COLUMNS} | (
                {"statuses": engine.query(STATUS_ROWS)} if statuses else {})
    except FediscopeError as exc:
        raise type(exc)(str(exc).replace(str(copy_dir), str(lake_dir))) from None


SPARK_READ = [c for c in CASES if c[0] in SPARK_CASES and c[4] == READ]
SPARK_REFUSED = [c for c in CASES if c[0] in SPARK_CASES and c[4] == REFUSED]


@pytest.mark.spark
def test_spark_reads_a_field_of_another_type_as_duckdb(tmp_path: Path, spark: object) -> None:
    """Spark converts what DuckDB converts. Was: NULL where DuckDB converts (``"bot": "yes"``,
    ``"followers_count": "12"``, ``true`` or ``2.5`` as a count).

    Every read case in ONE lake (a curation costs Spark seconds whatever its size), each on a status and an account
    of its own under a hashtag of its own (:func:`changed_records_lake`): its account's and its hashtag's rows are
    compared on their own, naming the case, and so are its curated statuses (:data:`STATUS_COLUMNS`), before every
    row of every metric (``content_features`` sums every status)."""
    lake_dir = tmp_path / "lake"
    changed_records_lake(lake_dir, [c[1:4] for c in SPARK_READ])
    expected = duckdb_metrics(lake_dir, tmp_path, statuses=True)
    got = spark_metrics(lake_dir, tmp_path, spark, statuses=True)
    compared = COLUMNS | {"statuses": STATUS_COLUMNS}
    for number, case in enumerate(SPARK_READ, 1):
        mine = dict(zip(("account_key", "tag"), case_key(number), strict=True))
        for name, columns in compared.items():
            for column, value in mine.items():
                if column in columns:
                    rows = [r for r in expected[name] if r[column] == value]
                    assert rows, (case[0], name, value)
                    _same_rows([r for r in got[name] if r[column] == value], rows, f"{case[0]}: spark {name}")
    for name in compared:
        assert expected[name], name
        _same_rows(got[name], expected[name], f"spark {name}, over the statuses of every case: "
                                              f"{', '.join(c[0] for c in SPARK_READ)}")


@pytest.mark.spark
@pytest.mark.parametrize(("where", "field", "value"), [c[1:4] for c in SPARK_REFUSED],
                         ids=[c[0] for c in SPARK_REFUSED])
def test_spark_stops_where_duckdb_stops(where: str, field: str, value: Any, tmp_path: Path, spark: object) -> None:
    """Spark stops, naming the file and the field, where DuckDB stops. Was: the field NULL or the status dropped,
    without a word. A lake each: the first such record stops the curation."""
    lake_dir = tmp_path / "lake"
    batch = changed_lake(lake_dir, where, field, value)
    with pytest.raises(FediscopeError):
        duckdb_metrics(lake_dir, tmp_path)
    with pytest.raises(LakeError) as raised:
        spark_metrics(lake_dir, tmp_path, spark)
    said = str(raised.value)
    path = "data." + ("account." if where == "author" else "") + field
    assert "\n" not in said and said.startswith(f"the raw file {batch} holds a record with a field curation cannot "
                                                f"read as its type: {path} is "), said
    assert said.endswith(RESTORE_ADVICE), said
    # no file recorded as curated: the next run reads every file again
    assert not (tmp_path / "spark" / "lake" / "_state" / "curated_manifest.json").exists()


def test_the_spark_cases_are_cases() -> None:
    assert len(SPARK_CASES) == len({c[0] for c in CASES} & set(SPARK_CASES))


@pytest.mark.spark
def test_spark_converts_counts_and_flags_as_duckdbs_reader(tmp_path: Path, spark: object) -> None:
    """Every JSON value of the DuckDB comparison above, converted by the Spark SQL that reads a record Spark's typed
    read could not (:mod:`fediscope.engine.spark_raw`): DuckDB's value, or NULL (the job then stops) where DuckDB
    refuses it. JSON null is NULL in both."""
    import json

    import duckdb

    from fediscope.engine.spark_raw import flag_of, integer_of

    values: list[Any] = [
        None, "7", "-7", "+7", "007", "0", "-0", " 7", "7 ", "\t7\n", "\x0b7", "\xa07", "0x10", "0X1f", "-0x10",
        "0b101", "0b", "0x", "0x7FFFFFFFFFFFFFFF", "0x8000000000000000", "0x00000000000000010", "1_000", "7.0", "1e3",
        "", "\u0663", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "true", "FALSE", "t",
        "yes", "NO", "y", "1", " true", True, False, 0, 1, 2, -1, 0.0, 0.5, 1.5, 2.5, 3.5, 1e300, 2**63 - 1, 2**63,
        2**64 - 1, 2**64, -(2**63), -(2**63) - 1, {}, {"a": 1}, [], [1],
    ]
    # and numbers as a file may write them, which json.dumps does not: DuckDB reads a number with a fraction as a
    # double (its digits past a double's precision lost) and refuses infinity, as a count and as a flag alike
    lines = [json.dumps({"x": value}) for value in values] + [
        '{"x": 123456789012345678.5}', '{"x": -123456789012345678.5}', '{"x": 1e400}', '{"x": -1e400}',
        '{"x": 9223372036854775807.5}', '{"x": -9223372036854775808.5}', '{"x": 1e-400}']
    frame = spark.createDataFrame(list(enumerate(lines)), "i INT, line STRING")  # type: ignore[attr-defined]
    got = {row["i"]: {"BIGINT": row["n"], "BOOLEAN": row["b"]} for row in frame.selectExpr(
        "i", "from_json(line, 'x VARIANT').x AS x").selectExpr(
        "i", f"{integer_of('x')} AS n", f"{flag_of('x')} AS b").collect()}
    con = duckdb.connect()
    path = tmp_path / "one.jsonl"
    for index, line in enumerate(lines):
        path.write_text(line + "\n")
        for declared in ("BIGINT", "BOOLEAN"):
            try:
                (expected,) = con.execute(f"SELECT x FROM read_json('{path}', format = 'newline_delimited', "
                                          f"columns = {{'x': '{declared}'}})").fetchone()
            except duckdb.InvalidInputException:
                expected = None
            read = got[index][declared]
            assert read == expected and type(read) is type(expected), (declared, line, read, expected)
