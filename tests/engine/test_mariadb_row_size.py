"""An own metric whose rows a MariaDB table cannot hold by InnoDB's row-size limit (errno 1118, ``Row size too
large (> 8126)``), far below its 1,017 columns: refused by ``fediscope process`` before anything is stored, naming
the metric's file, and only when the server refuses it too. Each case is a pair, one byte apart at the limit, as
InnoDB counts it: the smaller is stored, the larger refused (and refused by the server alike when written
directly)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import clean_env, run
from metric_fixtures import land_generated_corpus, shipped_metrics_dir

import fediscope.engine.metrics as registry
from fediscope.errors import MetricFileError, StoreError
from fediscope.store.mysql import MySQLStore
from fediscope.store.port import open_store

pytestmark = pytest.mark.mariadb

KEY = "mariadb-row-size-test-pseudonym-key"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mariadb_url: str):
    """A lake of a small generated corpus, the test MariaDB server's store, the built-in metrics cut to
    ``languages``, and ``mine/`` as FEDISCOPE_METRICS_DIR."""
    (tmp_path / "mine").mkdir()
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=mariadb_url, FEDISCOPE_METRICS_DIR=str(tmp_path / "mine"))
    land_generated_corpus(40)
    shipped_metrics_dir(tmp_path / "sql", ["languages"], monkeypatch)
    yield tmp_path
    registry.load_metrics.cache_clear()


def _numbers(ints: int, bools: int) -> str:
    """Table bytes: 5 header, 13 hidden, a bit a nullable column; key ``k`` (VARCHAR(255)) 21, BIGINT 8, BOOL 1."""
    return ", ".join([*(f"{i} AS i{i}" for i in range(ints)), *(f"true AS b{i}" for i in range(bools))])


def _nulls(nulls: int, bools: int) -> str:
    """Table bytes as :func:`_numbers`, a column of bare NULLs (no type: ``null``) 8, as the store declares it
    ``BIGINT``; each row takes a bit of it, far below."""
    return ", ".join([*(f"NULL AS n{i}" for i in range(nulls)), *(f"true AS b{i}" for i in range(bools))])


def _texts(columns: int, ints: int, bools: int) -> str:
    """Table bytes as :func:`_numbers`, a LONGTEXT 21; each one-byte value takes 2 bytes of a row, far below."""
    return ", ".join([*(f"'x' AS t{i}" for i in range(columns)), _numbers(ints, bools)])


def _short_values(last: int) -> str:
    """Row bytes: 5 header, 13 hidden, 25 of nullable bits (198 columns), key 'a' 2; 196 values of 40 bytes (20
    two-byte characters) 41 each, one of 100 bytes 22 (off-page), the last its length and 1: 8,103 + 1 + last."""
    texts = [*(f"'{'é' * 20}' AS t{i}" for i in range(196)), f"'{'y' * 100}' AS long_one", f"'{'z' * last}' AS last"]
    return ", ".join(texts)


#: (columns of the metric at the limit: 8,125 bytes a row, as InnoDB counts them; one byte more; what is over)
CASES = {
    # 18 + ceil(1,002 / 8) = 126 + 21 + 994 * 8 + 8 = 8,125; one bool more (1,003 columns: still 126) 8,126
    "numbers": (_numbers(994, 8), _numbers(994, 9), "a MariaDB table of its 1004 columns (1 of them text) has rows "
                "of up to 8,126 bytes as InnoDB counts them"),
    # as numbers: a column all NULL is BIGINT in the table the store creates (was counted 1 byte: 1,160 bytes, taken
    # here, and the server's CREATE TABLE refused it)
    "null columns": (_nulls(994, 8), _nulls(994, 9), "a MariaDB table of its 1004 columns (1 of them text) has rows "
                     "of up to 8,126 bytes as InnoDB counts them"),
    # 18 + ceil(388 / 8) = 49 + 21 + 380 * 21 + 7 * 8 + 1 = 8,125 (the values short: the table's count is over)
    "text columns": (_texts(380, 7, 1), _texts(380, 7, 2), "a MariaDB table of its 390 columns (381 of them text) "
                     "has rows of up to 8,126 bytes as InnoDB counts them"),
    # the table's count is 18 + 25 + 21 + 198 * 21 = 4,222: the values are over
    "text values": (_short_values(21), _short_values(22), "the row k='a' takes at least 8,126 bytes in a MariaDB "
                    "table"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_result_over_innodbs_row_size_is_refused_before_anything_is_stored(
        cli_env: Path, capsys: pytest.CaptureFixture[str], mariadb_url: str, case: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: every metric computed, ``languages`` stored, then MariaDB's CREATE TABLE or INSERT refused the metric's
    table or row (errno 1118, exit 1), naming no file; a metric of one byte less is stored."""
    fits, over, said = CASES[case]
    path = cli_env / "mine" / "wide.sql"
    path.write_text(f"-- question: How wide?\n-- key: k\nSELECT 'a' AS k, {over}\n")
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process")
    assert code == 2, err
    assert err.startswith(f"fediscope: error: metric wide ({path}): {said}"), err
    assert "InnoDB refuses" in err and err.strip().endswith(("several metrics", "shorten its text values")), err
    assert len(err.strip().splitlines()) == 1, err
    store = open_store(mariadb_url)
    try:
        assert store.stored_metrics() == {}, "nothing stored: was the built-in languages, before the failing write"
        # written directly (from Python, rows as dicts), the store refuses it up front alike
        metric = registry.read_metric(path)
        row = _row(cli_env, over)
        with pytest.raises(MetricFileError) as refused:
            store.write(metric, [row])
        assert str(refused.value) == err.strip().removeprefix("fediscope: error: ")
        # and the server refuses it too: written past the store's check, the server's own error
        monkeypatch.setattr(MySQLStore, "_check_storable", lambda *args, **kwargs: None)
        with pytest.raises(StoreError, match="1118"):
            store.write(metric, [row])
    finally:
        store.close()

    path.write_text(f"-- question: How wide?\n-- key: k\nSELECT 'a' AS k, {fits}\n")
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process")
    assert code == 0, err
    store = open_store(mariadb_url)
    try:
        assert store.stored_metrics()["wide"] == 1
    finally:
        store.close()


def _row(directory: Path, columns: str) -> dict[str, object]:
    """The row ``SELECT 'a' AS k, <columns>`` gives, as DuckDB gives it."""
    import duckdb

    with duckdb.connect() as con:
        cursor = con.execute(f"SELECT 'a' AS k, {columns}")
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def test_text_columns_all_null_in_a_run_beside_new_columns_are_stored(cli_env: Path, capsys: pytest.CaptureFixture[str],
                                                                     mariadb_url: str) -> None:
    """A table keeps 383 text columns (``LONGTEXT``, 21 bytes each as InnoDB counts it: 8,118 bytes a row); the next
    run has them all NULL (typed null in the result, 1 byte each: its check passes) and 3 new numbers. Was: exit 1,
    ``could not alter table metric_u: (1118, 'Row size too large…')`` naming no file, the first new column left in
    the table, and every later run alike. The table is rebuilt from the result instead
    (tests/store/test_mariadb_merged_row_size.py)."""
    path = cli_env / "mine" / "u.sql"
    texts = ", ".join(f"'x' AS t{i}" for i in range(383))
    path.write_text(f"-- question: How wide?\n-- key: k\nSELECT 1 AS k, {texts}, true AS b\n")
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process")
    assert code == 0, err
    nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS t{i}" for i in range(383))
    path.write_text(f"-- question: How wide?\n-- key: k\nSELECT 1 AS k, {nulls}, true AS b, 1 AS n0, 2 AS n1, "
                    "3 AS n2\n")
    registry.load_metrics.cache_clear()
    code, out, err = run(capsys, "process")
    assert code == 0, err
    store = open_store(mariadb_url)
    try:
        types = store.column_types("u")
        assert (types["t0"], types["b"], types["n2"]) == ("null", "bool", "int")
        metric = registry.read_metric(path)
        assert store.all(metric) == [{"k": 1, **dict.fromkeys(f"t{i}" for i in range(383)), "b": True, "n0": 1,
                                      "n1": 2, "n2": 3}]
    finally:
        store.close()
