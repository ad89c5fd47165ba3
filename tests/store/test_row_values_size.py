"""InnoDB's row-size limit counted over rows given as dicts (a write from Python), as over an Arrow table (a result
of ``fediscope process``): :func:`fediscope.store.innodb_rows.least_dict_row_bytes` and
:func:`~fediscope.store.innodb_rows.least_row_bytes` give the same bytes and row for the same rows. The MariaDB
side: tests/store/test_mariadb_row_values_size.py."""

from __future__ import annotations

import pyarrow as pa
import pytest
from metric_header import metric

from fediscope.engine.metrics import check_row_values_size
from fediscope.errors import MetricFileError
from fediscope.store import innodb_rows

TEXTS = [f"t{i}" for i in range(200)]
TYPES = {"k": "str", "n": "int", "f": "float", "b": "bool", "z": "null", **dict.fromkeys(TEXTS, "str")}
ARROW = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "null": pa.null()}


def _row(key: str, text: str | None, **others: object) -> dict[str, object]:
    return {"k": key, "n": None, "f": None, "b": None, "z": None, **dict.fromkeys(TEXTS, text), **others}


ROWS = [
    _row("a", "x" * 40),  # inline: 41 bytes a value
    _row("b", "x" * 41, n=1, f=1.5, b=True),  # off-page: 22
    _row("é" * 255, "é" * 20),  # 40 bytes in 20 characters, the key 510 bytes
    _row("d", "é" * 21),  # 42 bytes in 21 characters: off-page
    _row("e", None, n=2),
    _row("f", "x" * 100_000),
    _row("g", "😀" * 10, b=False),  # 40 bytes in 10 characters
]


def _arrow(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema([(name, ARROW[type_]) for name, type_ in TYPES.items()]))


@pytest.mark.parametrize("index", range(len(ROWS)))
def test_a_dict_row_is_counted_as_its_arrow_row_is(index: int) -> None:
    rows = [ROWS[index]]
    assert innodb_rows.least_dict_row_bytes(["k"], None, TYPES, rows) == \
        innodb_rows.least_row_bytes(["k"], None, TYPES, _arrow(rows))


def test_the_largest_dict_row_is_the_arrow_table_s() -> None:
    counted = innodb_rows.least_dict_row_bytes(["k"], None, TYPES, ROWS)
    # the third row: 44, its key's 510 bytes and length, 200 text values of 41
    assert counted == innodb_rows.least_row_bytes(["k"], None, TYPES, _arrow(ROWS)) == (8755, 2)


def test_no_row_is_counted_when_none_can_reach_the_limit() -> None:
    types = {"k": "int", **dict.fromkeys(TEXTS[:150], "str")}
    assert innodb_rows.least_dict_row_bytes(["k"], None, types, [{"k": 1, **dict.fromkeys(TEXTS[:150], "x" * 40)}]) \
        == (0, -1)
    assert innodb_rows.least_dict_row_bytes(["k"], None, TYPES, []) == (0, -1)


def test_a_row_too_large_is_refused_with_the_message_of_a_result_s_row() -> None:
    wide = metric("u", "k")
    check_row_values_size(wide, TYPES, "sqlite:///x.db", ROWS)  # MariaDB's limit only
    check_row_values_size(wide, TYPES, "mysql+pymysql://u@h/db", ROWS[1:2])
    with pytest.raises(MetricFileError) as refused:
        check_row_values_size(wide, TYPES, "mysql+pymysql://u@h/db", ROWS[1:2] + ROWS[:1])
    assert str(refused.value) == (
        "metric u (spark_jobs/sql/u.sql): the row k='a' takes at least 8,246 bytes in a MariaDB table (a text value "
        "its length up to 40 bytes, 22 when longer; a number 8), and InnoDB refuses a row of 8,126 bytes or more; "
        "select fewer columns, or split it into several metrics, or shorten its text values")
