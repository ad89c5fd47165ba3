"""Users' own metrics: SQL files in a metrics directory of their own, whose headers name a text rank column or a
prefix column. Each metric is run by DuckDB, stored in SQLite, MariaDB and the HBase double side by side, and
must read back the same from all three (the project's rule), or be refused when its file is read or its result
computed, with one line naming the file (a ConfigError: exit 2)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from fediscope.config import load_settings
from fediscope.engine.base import open_engine
from fediscope.engine.metric_state import without_unstorable_keys
from fediscope.engine.metrics import SQL_DIR, load_metrics
from fediscope.errors import ConfigError, FediscopeError, MetricFileError, StoreError
from fediscope.store.port import MetricStore, open_store
from fediscope.store.schema import MAX_KEY_TEXT

#: names in code-point order (the order of SQLite's BINARY, MariaDB's utf8mb4_nopad_bin and HBase's row keys):
#: capitals before small letters, "a" before "a " before "ab", accents and emoji after ASCII; ties and NULLs
NAMES = ["Zoë", "a", "ab", "a ", "b", "é", "🐘 mastodon", "a", None, "", "x" * MAX_KEY_TEXT, None, "Ä"]
VALUES = ", ".join(f"({i}, {'NULL' if n is None else repr(n)})" for i, n in enumerate(NAMES, start=1))


def write_metric(directory: Path, name: str, header: str, sql: str | None = None) -> Path:
    path = directory / f"{name}.sql"
    path.write_text(f"-- question: Who is called what?\n{header}\n"
                    + (sql or f"SELECT id, name, length(name) AS letters FROM (VALUES {VALUES}) AS t(id, name)\n"))
    return path


def run(metric) -> list[dict]:  # noqa: ANN001
    result = duckdb.sql(metric.sql)
    return [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]


def expected_top(rows: list[dict], rank: str, descending: bool, key: tuple[str, ...]) -> list[tuple]:
    """Top order written out in Python: rank values in their direction (code points), NULL last, ties by key."""
    by_key = sorted(rows, key=lambda r: tuple(r[k] for k in key))
    present = sorted((r for r in by_key if r[rank] is not None), key=lambda r: r[rank], reverse=descending)
    return [tuple(r[k] for k in key) for r in present + [r for r in by_key if r[rank] is None]]


@pytest.fixture
def stores(tmp_path: Path, mariadb_url: str, hbase_double) -> Iterator[dict[str, MetricStore]]:  # noqa: ANN001
    opened = {"sqlite": open_store(f"sqlite:///{tmp_path / 'metrics.db'}"),
              "mariadb": open_store(mariadb_url),
              "hbase": open_store(hbase_double.url, table_prefix=f"t{uuid.uuid4().hex[:10]}")}
    try:
        yield opened
    finally:
        for store in opened.values():
            store.close()


def pages(store: MetricStore, metric, size: int) -> list[dict]:  # noqa: ANN001
    """Every row in top order, read ``size`` at a time as the results API pages (after the last row read)."""
    rows: list[dict] = []
    while True:
        page = store.top(metric, size, after=rows[-1] if rows else None)
        rows += page
        if len(page) < size:
            return rows


@pytest.mark.mariadb
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_a_text_rank_column_outside_the_key_ranks_alike_on_every_store(tmp_path, stores, direction):
    """Was: on MariaDB every run failed to index the table ("Specified key was too long; max key length is 3072
    bytes"): the rank index was the text rank column, LONGTEXT, with the key."""
    write_metric(tmp_path, "named", f"-- key: id\n-- rank: name {direction}")
    metric = load_metrics(tmp_path)["named"]
    rows = run(metric)
    want = expected_top(rows, "name", direction == "DESC", ("id",))
    for kind, store in stores.items():
        assert store.write(metric, rows) == len(NAMES), kind
        assert [(r["id"],) for r in store.top(metric, len(NAMES) + 1)] == want, kind
        assert [(r["id"],) for r in store.top(metric, 4)] == want[:4], kind
        assert [(r["id"],) for r in pages(store, metric, 3)] == want, kind
        assert store.all(metric) == sorted(rows, key=lambda r: r["id"]), kind
    # a later run that changes the rank values moves the rows alike
    moved = [dict(r, name=None if r["name"] == "b" else "b") if r["id"] in (2, 5) else r for r in rows]
    want = expected_top(moved, "name", direction == "DESC", ("id",))
    answers = {}
    for kind, store in stores.items():
        store.write(metric, moved)
        answers[kind] = store.top(metric, len(NAMES))
        assert [(r["id"],) for r in answers[kind]] == want, kind
    assert answers["sqlite"] == answers["mariadb"] == answers["hbase"]


@pytest.mark.mariadb
def test_a_text_rank_column_that_is_a_key_column_ranks_alike_on_every_store(tmp_path, stores):
    """Was: on MariaDB every run failed to index the table ("Duplicate column name 'name'"): the rank index named
    the rank column, then every key column, that one again."""
    write_metric(tmp_path, "by_name", "-- key: day, name\n-- rank: name DESC",
                 "SELECT day, name, count(*) AS n FROM (VALUES ('2026-12-01', 'b'), ('2026-12-01', 'a'), "
                 "('2026-12-02', 'b'), ('2026-12-02', 'Ä'), ('2026-12-02', 'c')) AS t(day, name) GROUP BY ALL\n")
    metric = load_metrics(tmp_path)["by_name"]
    rows = run(metric)
    want = expected_top(rows, "name", True, ("day", "name"))
    assert want[0] == ("2026-12-02", "Ä")
    answers = {}
    for kind, store in stores.items():
        store.write(metric, rows)
        answers[kind] = store.top(metric, 10)
        assert [(r["day"], r["name"]) for r in answers[kind]] == want, kind
        assert [(r["day"], r["name"]) for r in pages(store, metric, 2)] == want, kind
    assert answers["sqlite"] == answers["mariadb"] == answers["hbase"]


@pytest.mark.mariadb
def test_a_text_rank_value_longer_than_a_key_may_be_is_refused_by_every_store(tmp_path, stores):
    """HBase keeps a rank value in its rank index's row keys (32767 bytes at most): a text rank value is limited as
    a text key is, by every store alike, and left out of a computed result as such a key is."""
    write_metric(tmp_path, "named", "-- key: id\n-- rank: name ASC")
    metric = load_metrics(tmp_path)["named"]
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "x" * (MAX_KEY_TEXT + 1)}]
    for kind, store in stores.items():
        with pytest.raises(StoreError, match=rf"metric named: rank column 'name' has a value of {MAX_KEY_TEXT + 1} "
                                             rf"characters; text rank values are limited to {MAX_KEY_TEXT}"):
            store.write(metric, rows)
        assert store.stored_metrics() == {}, kind
    kept = without_unstorable_keys("named", pa.Table.from_pylist(rows), metric.key, metric.rank_column)
    assert kept.to_pylist() == rows[:1]


def test_a_prefix_column_outside_the_key_is_refused_when_the_metric_is_read(tmp_path):
    """Was: nothing checked '-- prefix:' against the key: a column missing from the result failed every store's
    write with a bare KeyError, and a text one outside the key made the stores' layouts (HBase's row keys start
    with the prefix column) and the documented reads ("one prefix value's rows in key order") not hold."""
    write_metric(tmp_path, "fine", "-- key: id, name\n-- prefix: name")
    assert load_metrics(tmp_path)["fine"].prefix == "name"
    path = write_metric(tmp_path, "outside", "-- key: id\n-- rank: letters DESC\n-- prefix: name")
    message = (f"metric outside ({path}): '-- prefix: name' is not a key column; the prefix column must be one of "
               "'-- key: id'")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_metrics(tmp_path)
    path.write_text(path.read_text().replace("-- prefix: name", "-- prefix: nowhere"))
    with pytest.raises(ConfigError, match=re.escape(f"({path}): '-- prefix: nowhere' is not a key column")):
        load_metrics(tmp_path)


def test_every_shipped_metric_has_its_prefix_and_rank_in_reach_of_every_store():
    metrics = load_metrics(SQL_DIR)
    assert metrics
    for name, metric in metrics.items():
        assert metric.prefix in metric.key, name


@pytest.mark.parametrize("missing", ["question", "key"])
def test_a_file_without_its_question_or_key_header_is_refused_naming_the_file(tmp_path, missing):
    """Was: a ValueError, which the CLI printed as a traceback (it is no FediscopeError)."""
    path = write_metric(tmp_path, "headless", "-- key: id")
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith(f"-- {missing}:")))
    with pytest.raises(ConfigError, match=re.escape(f"metric headless ({path}): missing '-- {missing}: …' header")):
        load_metrics(tmp_path)


RANK_FORM = "is not '-- rank: <column> [ASC|DESC]' (ASC or DESC in any case, DESC when left out"
Q = "-- question: Who is called what?\n"


@pytest.mark.parametrize(("header", "problem"), [
    # was: an IndexError traceback (a rank line whose value is blanks)
    (Q + "-- key: id\n-- rank: ", "'-- rank:' on line 3 is empty; the header line is '-- rank: <column> [ASC|DESC]'"),
    # was: read as a comment, so the metric had no rank (top-N reads in key order), or the first key column as prefix
    (Q + "-- key: id\n-- rank:", "'-- rank:' on line 3 is empty; the header line is '-- rank: <column> [ASC|DESC]'"),
    (Q + "-- key: id\n-- prefix:", "'-- prefix:' on line 3 is empty; the header line is "
                                    "'-- prefix: <one of the key columns>'"),
    # was: a question of one blank
    ("-- question: \n-- key: id", "'-- question:' on line 1 is empty; the header line is '-- question: <the question"),
    # was: the last line silently won (another question, a key that does not identify a row, a reversed rank)
    (Q + "-- key: id\n-- question: Who else?", "'-- question:' is given twice (lines 1 and 3); keep one '-- question: "
                                               "<the question the metric answers>' line"),
    (Q + "-- key: id\n-- key: name", "'-- key:' is given twice (lines 2 and 3); keep one "
                                     "'-- key: <column>[, <column>…]'"),
    (Q + "-- key: id\n-- rank: letters DESC\n-- Rank: letters asc", "'-- rank:' is given twice (lines 3 and 4)"),
    # was: read as the key (id), (), (id, name) and (id, name, id): a stray comma often stands for a column left
    # out; an empty key failed later with an IndexError traceback, a repeated column as a store's SQL error
    (Q + "-- key: id,", "'-- key: id,' has an empty column name (a comma too many?); the header line is "
                        "'-- key: <column>[, <column>…]'"),
    (Q + "-- key: ,", "'-- key: ,' has an empty column name"),
    (Q + "-- key: id,, name", "'-- key: id,, name' has an empty column name"),
    (Q + "-- key: id, name, id", "'-- key: id, name, id' names 'id' twice; name each key column once"),
    # refused before too, by a message that named neither the header's form nor the words' case
    (Q + "-- key: id\n-- rank: letters ascending", f"'-- rank: letters ascending' {RANK_FORM}"),
    (Q + "-- key: id\n-- rank: letters DESC NULLS LAST", f"'-- rank: letters DESC NULLS LAST' {RANK_FORM}"),
    # was: read as the rank column "letters," (or "letters,name"), refused only once the result was computed
    (Q + "-- key: id\n-- rank: letters,", "'-- rank: letters,' holds a comma; a metric ranks by one column: the "
                                           "header line is '-- rank: <column> [ASC|DESC]'"),
    (Q + "-- key: id\n-- rank: letters, DESC", "'-- rank: letters, DESC' holds a comma"),
    (Q + "-- key: id\n-- rank: letters,name", "'-- rank: letters,name' holds a comma"),
    # was: read as comments, so the metric silently had no rank, no prefix, or "missing '-- key:'" hid the typo
    (Q + "-- key: id\n-- ranking: letters", "'-- ranking:' on line 3 is no header line; did you mean '-- rank: "
                                            "<column> [ASC|DESC]'?"),
    (Q + "-- key: id\n-- Prefx: id", "'-- Prefx:' on line 3 is no header line; did you mean '-- prefix: <one of"),
    (Q + "-- keys: id", "'-- keys:' on line 2 is no header line; did you mean '-- key: <column>[, <column>…]'?"),
    (Q + "-- key: id\n-- rank_by: letters", "'-- rank_by:' on line 3 is no header line; did you mean '-- rank:"),
    # the timestamps line is read as the key line is
    (Q + "-- key: id\n-- timestamps: name,", "'-- timestamps: name,' has an empty column name (a comma too many?); "
                                              "the header line is '-- timestamps: <column>[, <column>…]'"),
    (Q + "-- key: id\n-- timestamps: name, name", "'-- timestamps: name, name' names 'name' twice; name each "
                                                   "timestamps column once"),
    (Q + "-- key: id\n-- timestamp: name", "'-- timestamp:' on line 3 is no header line; did you mean "
                                            "'-- timestamps: <column>[, <column>…]'?"),
])
def test_a_malformed_header_line_is_refused_naming_the_file_and_the_form(tmp_path, header, problem):
    path = tmp_path / "malformed.sql"
    path.write_text(f"{header}\nSELECT 1 AS id, 'a' AS name, 1 AS letters\n")
    with pytest.raises(MetricFileError, match=re.escape(f"metric malformed ({path}): {problem}")):
        load_metrics(tmp_path)


@pytest.mark.parametrize(("rank", "descending"), [
    ("letters", True), ("letters DESC", True), ("letters desc", True),
    ("letters ASC", False), ("letters asc", False), ("letters Asc", False),
])
def test_a_rank_line_takes_asc_or_desc_in_any_case_and_desc_when_left_out(tmp_path, rank, descending):
    write_metric(tmp_path, "ranked", f"-- key: id, name\n-- rank: {rank}\n-- Note: comment lines of this form are "
                                     "comments\n-- prefix: name")
    metric = load_metrics(tmp_path)["ranked"]
    assert (metric.rank_column, metric.rank_desc, metric.key, metric.prefix) == \
        ("letters", descending, ("id", "name"), "name")


def test_a_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    """Was: a UnicodeDecodeError traceback (a file saved as Latin-1 by an editor)."""
    path = tmp_path / "umlauts.sql"
    path.write_bytes("-- question: Wie viele Töne?\n-- key: id\nSELECT 1 AS id\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=re.escape(f"metric file {path}: not UTF-8 text (byte 24); save it as UTF-8")):
        load_metrics(tmp_path)


@pytest.mark.parametrize("name", ["Languages", "toots-per-day", "2026_toots", "toots\n"])
def test_a_file_name_no_store_can_hold_is_refused_when_the_file_is_read(tmp_path, name):
    """Was: read, computed, and refused only when stored (after every other metric), by a message naming no file.
    A name ending in a line break was taken, as ``$`` matches before it: catalogued under it, stored in the table of
    the name without it."""
    path = write_metric(tmp_path, name, "-- key: id")
    with pytest.raises(ConfigError, match=re.escape(f"metric file {path}: metric name {name!r} cannot be stored: "
                                                    "use lowercase letters") + ".*; rename the file$"):
        load_metrics(tmp_path)


@pytest.mark.parametrize(("sql", "holds"), [
    ("SELECT 1 AS id; SELECT 2 AS id\n", "2 SQL statements"),
    ("SELECT 1 AS id, 2 AS n;\n-- the totals\nSELECT 3 AS total;\n", "2 SQL statements"),
    ("SELECT 'a\n--'; SELECT 2 AS id", "2 SQL statements"),  # the second line starts in a string, not a comment
    ("/* nothing yet */\n", "no SQL statement"),
    ("\n", "no SQL statement"),
])
def test_a_file_holding_other_than_one_statement_is_refused_when_read_naming_the_file(compute, tmp_path, sql,
                                                                                     holds):
    """Was: DuckDB ran each statement and kept the last one's result (a metric of the wrong rows, or a missing
    column error), Spark refused with "expected one SQL statement" naming no file, and a file of header lines
    alone failed DuckDB's run with an AttributeError traceback."""
    path = write_metric(tmp_path, "twice", "-- key: id", sql)
    message = f"metric twice ({path}): holds {holds}; a metric file holds one SELECT"
    with pytest.raises(MetricFileError, match=re.escape(message)):
        load_metrics(tmp_path)
    with pytest.raises(MetricFileError, match=re.escape(message.replace(str(tmp_path), str(tmp_path / "metrics")))):
        compute("twice", "-- key: id", sql)  # the engine never runs it


@pytest.mark.parametrize("sql", [
    "SELECT 1 AS id;\n",
    "SELECT 1 AS id; -- the only one; really\n/* and a note; after it */\n",
    "-- a comment; with a semicolon\nSELECT ';' AS id, 'it''s; fine' AS \"a;b\"\n",
    "SELECT 1 AS id /* ; */;;\n",
    "SELECT $$;$$ AS id\n",
])
def test_one_statement_with_semicolons_in_comments_strings_or_at_its_end_is_one(tmp_path, sql):
    write_metric(tmp_path, "once", "-- key: id", sql)
    assert run(load_metrics(tmp_path)["once"])[0]["id"] in (1, ";")


def test_the_shipped_files_are_counted_as_one_statement_without_importing_duckdb():
    """Every command reads the metric files when it starts; importing duckdb to parse them would add a tenth of a
    second to commands that never use it (``fediscope report``, ``serve-api``)."""
    code = ("import sys; from fediscope.engine.metrics import load_metrics; "
            "assert len(load_metrics()) > 10; assert 'duckdb' not in sys.modules, 'duckdb imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SQL_DIR.parent.parent)


def test_a_file_with_the_sql_suffix_in_capitals_is_named_in_a_warning(tmp_path, caplog):
    """Was: left out without a word, as if the metric did not exist."""
    write_metric(tmp_path, "fine", "-- key: id")
    shouting = tmp_path / "per_day.SQL"
    shouting.write_text((tmp_path / "fine.sql").read_text())
    assert list(load_metrics(tmp_path)) == ["fine"]
    assert f"{shouting} is not read: metric files end in '.sql' (lower case)" in caplog.text


def _computing(tmp_path: Path, engine_name: str, **options: object) -> Iterator:
    (tmp_path / "lake").mkdir()
    settings = load_settings(env={}, toml_path=None, lake=str(tmp_path / "lake"), pseudonym_key="k" * 32,
                             store=f"sqlite:///{tmp_path / 'metrics.db'}")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    with open_engine(settings, engine_name, **options) as engine:
        def run_one(name: str, header: str, sql: str | None = None):  # noqa: ANN202
            write_metric(metrics_dir, name, header, sql)
            return engine.metric_table(load_metrics(metrics_dir)[name])
        yield run_one


@pytest.fixture
def compute(tmp_path: Path) -> Iterator:
    """``compute(name, header, sql)``: the metric's result as the DuckDB engine computes it for a run."""
    yield from _computing(tmp_path, "duckdb")


def test_a_result_repeating_a_key_is_refused_naming_the_file_and_a_key(compute, tmp_path):
    """Was: stored without a word, one row per key (whichever came last), though the header says the key
    identifies a row: a metric keyed by instance but grouped by instance and language lost the languages."""
    sql = ("SELECT instance, language, count(*) AS toots FROM (VALUES ('a.example', 'en'), ('a.example', 'de'), "
           "('b.example', 'en')) AS t(instance, language) GROUP BY ALL ORDER BY ALL\n")
    assert compute("per_language", "-- key: instance, language", sql).num_rows == 3
    path = tmp_path / "metrics" / "per_instance.sql"
    with pytest.raises(ConfigError, match=re.escape(f"metric per_instance ({path}): 1 row(s) repeat a key "
                                                    "(instance='a.example' is in 2 rows); the '-- key: instance' "
                                                    "columns must identify one row each")):
        compute("per_instance", "-- key: instance", sql)


@pytest.mark.parametrize("rows", [1, 3])
def test_a_result_with_a_null_key_is_refused_naming_the_file(compute, tmp_path, rows):
    """Was: ``metric per_language: key column(s) language are NULL in a row …``, a StoreError from the store's
    write naming no file (exit 1), though a NULL key is the metric file's mistake as a repeated one is (exit 2):
    toots whose client declared no language are common."""
    sql = ("SELECT instance, language, count(*) AS toots FROM (VALUES ('a.example', 'en'), ('a.example', NULL), "
           "('b.example', 'en')) AS t(instance, language) GROUP BY ALL "
           f"ORDER BY language NULLS FIRST LIMIT {rows}\n")
    path = tmp_path / "metrics" / "per_language.sql"
    with pytest.raises(MetricFileError, match=re.escape(f"metric per_language ({path}): key column language is "
                                                        "NULL in 1 row(s); the '-- key: instance, language' columns "
                                                        "must identify each row: COALESCE(language, …) in the SQL")):
        compute("per_language", "-- key: instance, language", sql)


@pytest.mark.parametrize("header", ["-- key: langauge", "-- key: id\n-- rank: tooots DESC",
                                    "-- key: id\n-- timestamps: tooots"])
def test_a_header_naming_a_column_the_result_lacks_is_refused_also_without_rows(compute, tmp_path, header):
    """Was: a StoreError naming no file (exit 1), and nothing at all while the result had no rows: the mistake
    then stopped a later run, once the data gave the metric rows."""
    sql = "SELECT id, 'x' AS language, 1 AS toots FROM range(3) AS t(id) WHERE id > 5\n"
    missing = "langauge" if "langauge" in header else "tooots"
    with pytest.raises(ConfigError, match=re.escape(f"metric typo ({tmp_path / 'metrics' / 'typo.sql'}): column(s) "
                                                    f"{missing} named in its header are not in the result, whose "
                                                    "columns are id, language, toots")):
        compute("typo", header, sql)


def test_an_engine_error_in_the_sql_names_the_metric_and_its_file(compute, tmp_path):
    """Was: "DuckDB failed: Parser Error: …" alone, which of a dozen metric files left to guess; then a plain
    FediscopeError (exit 1) where a header's mistake is a MetricFileError (exit 2), though both are the file's."""
    where = f"metric broken ({tmp_path / 'metrics' / 'broken.sql'}): DuckDB failed: "
    with pytest.raises(MetricFileError, match=re.escape(where + "Parser Error: syntax error")):
        compute("broken", "-- key: id", "SELECT id, count(* AS n FROM range(3) AS t(id) GROUP BY id\n")
    with pytest.raises(MetricFileError, match=re.escape(where + "Catalog Error: Scalar Function with name "
                                                                "percentile_approx does not exist")):
        compute("broken", "-- key: id", "SELECT 1 AS id, percentile_approx(2, 0.5) AS p\n")
    with pytest.raises(MetricFileError, match=re.escape(where + 'Binder Error: Referenced column "nope" not found')):
        compute("broken", "-- key: id", "SELECT nope AS id FROM range(3)\n")
    # a failure while the rows are read (here a value a cast refuses) is no mistake of the text: exit 1, still named
    with pytest.raises(FediscopeError, match=re.escape(where + "Conversion Error: Could not convert")) as raised:
        compute("broken", "-- key: id", "SELECT id, CAST(CASE WHEN id = 2 THEN 'x' ELSE '1' END AS INTEGER) AS n "
                                        "FROM range(3) AS t(id)\n")
    assert not isinstance(raised.value, ConfigError)


@pytest.mark.parametrize("value", ["id // (id - id)", "id % (id - id)"])
def test_a_division_by_zero_duckdb_stops_at_says_what_both_engines_run(compute, tmp_path, value):
    """// and % stop at a divisor of 0 on DuckDB (and on Spark). Was: DuckDB's advice, TRY(...) or a setting, which
    a metric cannot set and Spark does not run."""
    where = f"metric zero ({tmp_path / 'metrics' / 'zero.sql'}): DuckDB failed: "
    with pytest.raises(FediscopeError) as raised:
        compute("zero", "-- key: id", f"SELECT id, {value} AS n FROM range(3) AS t(id)\n")
    assert str(raised.value) == (
        f"{where}Invalid Input Error: Division by zero in expression ({value}) "
        "(// and % stop at a divisor of 0 on DuckDB and on Spark; write nullif(y, 0) as the divisor in the metric's "
        "SQL, which gives NULL there on both)")
    assert not isinstance(raised.value, ConfigError)


@pytest.mark.spark
def test_a_metric_spark_cannot_run_alike_is_refused_on_spark_naming_the_file(tmp_path, spark, capfd):  # noqa: ANN001
    """Was: a NotPortableError (a ValueError) traceback for a construct Spark would run differently (weekday
    numbering, a first-match regexp_replace), and "Spark SQL failed: …" naming no file for a DuckDB-only function,
    after pyspark's own logger had printed the JVM's stack trace of the failed query as a JSON line."""
    compute = _computing(tmp_path, "spark", spark=spark)
    run_one = next(compute)
    where = f"metric weekdays ({tmp_path / 'metrics' / 'weekdays.sql'}): "
    with pytest.raises(MetricFileError, match=re.escape(where + "not portable to Spark SQL: isodow/dayofweek differ")):
        run_one("weekdays", "-- key: d", "SELECT dayofweek(DATE '2026-12-04') AS d\n")
    # was: a FediscopeError (exit 1), where DuckDB's engine refuses the same mistakes with a MetricFileError (exit 2)
    with pytest.raises(MetricFileError, match=re.escape(where + "Spark SQL failed: [UNRESOLVED_ROUTINE]")):
        run_one("weekdays", "-- key: d", "SELECT jaro_winkler_similarity('toot', 'tooot') AS d\n")
    with pytest.raises(MetricFileError, match=re.escape(where + "Spark SQL failed: [UNRESOLVED_COLUMN")):
        run_one("weekdays", "-- key: d", "SELECT nope AS d FROM range(3)\n")
    # was: sqlglot's message over two lines, terminal escape codes and all
    with pytest.raises(MetricFileError, match=re.escape(where + "not portable to Spark SQL: not valid DuckDB SQL: "
                                                                "Expecting ) at line 3 near 'AS'") + "$"):
        run_one("weekdays", "-- key: d", "SELECT count(* AS d\n")
    assert "SQLQueryContextLogger" not in capfd.readouterr().err
    assert run_one("weekdays", "-- key: d", "SELECT 1 AS d\n").to_pylist() == [{"d": 1}]
    compute.close()


@pytest.mark.parametrize(("select", "holds"), [
    ("CAST(TIMESTAMP '2026-11-01 12:00:00' + id * INTERVAL 1 DAY AS DATE)", "dates"),
    ("id * 1000", "numbers"),
    ("id > 1", "booleans"),
])
def test_a_timestamps_column_of_another_type_is_refused_naming_the_file(compute, tmp_path, select, holds):
    """Was: stored without a word, then every read of the metric (``fediscope report``, ``fs.metric_rows``, the
    results API) failed saying the store held what this version does not read and to re-run ``fediscope process``,
    which stored it again as it was: a ``-- timestamps:`` line naming a DATE (``day``) is a researcher's likely
    slip. Refused when computed, as the header's other mistakes are, also without rows."""
    path = tmp_path / "metrics" / "stamped.sql"
    for where in ("", "WHERE id > 5"):
        with pytest.raises(MetricFileError, match=re.escape(
                f"metric stamped ({path}): column at, named in its '-- timestamps:' line, holds {holds}, not "
                "UTC timestamps")):
            compute("stamped", "-- key: id\n-- timestamps: at", f"SELECT id, {select} AS at FROM range(3) AS t(id) "
                                                                f"{where}\n")


def test_a_timestamps_column_of_text_that_is_no_timestamp_is_refused_naming_the_value(compute, tmp_path):
    """Text is what the line asks for (``strftime(…)``), so text is read value by value, as the stores' readers
    read it: a date alone (``strftime(x, '%Y-%m-%d')``) is no moment in time."""
    sql = "SELECT id, CASE WHEN id = 2 THEN '2026-11-03' ELSE '2026-11-01 12:00:00' END AS at FROM range(3) AS t(id)\n"
    path = tmp_path / "metrics" / "stamped.sql"
    with pytest.raises(MetricFileError, match=re.escape(
            f"metric stamped ({path}): column at, named in its '-- timestamps:' line, holds '2026-11-03', which is "
            "not a UTC timestamp written YYYY-MM-DD HH:MM:SS")):
        compute("stamped", "-- key: id\n-- timestamps: at", sql)


@pytest.mark.parametrize("select", ["TIMESTAMP '2026-11-01 12:00:00' + id * INTERVAL 1 HOUR",
                                    "strftime(TIMESTAMP '2026-11-01 12:00:00', '%Y-%m-%d %H:%M:%S')",
                                    "'2026-11-01T14:00:00+02:00'", "CAST(NULL AS VARCHAR)", "NULL"])
def test_a_timestamps_column_of_timestamps_or_their_text_is_computed(compute, select):
    assert compute("stamped", "-- key: id\n-- timestamps: at",
                   f"SELECT id, {select} AS at FROM range(3) AS t(id)\n").num_rows == 3


@pytest.mark.spark
def test_a_timestamps_column_holding_no_timestamps_is_refused_alike_on_spark(tmp_path, spark):  # noqa: ANN001
    compute = _computing(tmp_path, "spark", spark=spark)
    run_one = next(compute)
    where = f"metric stamped ({tmp_path / 'metrics' / 'stamped.sql'}): column at, named in its '-- timestamps:' line, "
    with pytest.raises(MetricFileError, match=re.escape(where + "holds dates, not UTC timestamps")):
        run_one("stamped", "-- key: id\n-- timestamps: at",
                "SELECT id, DATE '2026-11-01' AS at FROM (VALUES (1), (2)) AS t(id)\n")
    with pytest.raises(MetricFileError, match=re.escape(where + "holds '2026-11-01', which is not a UTC timestamp")):
        run_one("stamped", "-- key: id\n-- timestamps: at",
                "SELECT id, '2026-11-01' AS at FROM (VALUES (1), (2)) AS t(id)\n")
    assert run_one("stamped", "-- key: id\n-- timestamps: at",
                   "SELECT id, TIMESTAMP '2026-11-01 12:00:00' AS at FROM (VALUES (1), (2)) AS t(id)\n").num_rows == 2
    compute.close()
