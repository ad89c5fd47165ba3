"""MariaDB's limit of a table's definition (errno 1117, ``Table definition is too large``): the bytes
:mod:`fediscope.store.table_definition` counts for a metric table, and the verdict of
:func:`fediscope.engine.metrics.check_definition_size`. The counts are the server's, byte for byte: the real server's
verdict at the boundary is tested in tests/engine/test_mariadb_table_definition.py."""

from __future__ import annotations

import pytest

from fediscope.engine.metrics import Metric, check_definition_size
from fediscope.errors import MetricFileError
from fediscope.store.table_definition import DEFINITION_LIMIT, definition_bytes

MARIADB = "mysql+pymysql://u@127.0.0.1:1/db"


def names(count: int, length: int) -> list[str]:
    """``k`` and ``count - 1`` distinct names of ``length`` characters (at least 4)."""
    return ["k", *(f"{'c' * (length - 4)}{i:04d}" for i in range(count - 1))]


#: each as MariaDB 10.11 took it (a metric table of these columns, written by the store): stored up to 65,535 bytes
@pytest.mark.parametrize(("columns", "size"), [
    # the bracket first measured: 800 columns of 61-character names stored, 860 refused
    (names(800, 61), 63430),
    (names(860, 61), 68170),
    # its boundary: 826 stored, 827 refused
    (names(826, 61), 65484),
    (names(827, 61), 65563),
    # every column InnoDB holds (as booleans: numbers are over its row-size limit) fits with names up to 46 long
    (names(1017, 46), 65333),
    (names(1017, 47), 66349),
])
def test_the_definition_counts_18_bytes_a_column_and_its_names(columns: list[str], size: int) -> None:
    assert definition_bytes(columns) == size == 290 + 18 * len(columns) + sum(map(len, columns))


def test_a_name_counts_its_utf8_bytes_not_its_characters() -> None:
    """MariaDB stores the names as utf8mb3: ``é`` takes 2 bytes, ``名`` 3, as in UTF-8."""
    assert definition_bytes(["k", "é", "名"]) == 290 + 3 * 18 + 1 + 2 + 3


def _metric() -> Metric:
    return Metric(name="wide", question="How wide?", key=("k",), sql="SELECT 1", source="/own/wide.sql")


def _at(size: int) -> list[str]:
    """Columns whose definition is ``size`` bytes (65,499 from k and 795 names of 64 characters, and one more)."""
    columns = names(796, 64)
    last = size - definition_bytes(columns) - 18
    assert 0 < last <= 64
    return [*columns, "z" * last]


def test_a_definition_of_65535_bytes_passes_and_one_byte_more_is_refused_on_mariadb() -> None:
    """Was: no check; the store's CREATE TABLE failed (``could not load table metric_wide: (1117, 'Table
    definition is too large')``, exit 1) after every metric was computed."""
    fits, over = _at(DEFINITION_LIMIT), _at(DEFINITION_LIMIT + 1)
    assert (len(fits), len(over)) == (797, 797)
    check_definition_size(_metric(), fits, MARIADB)
    with pytest.raises(MetricFileError) as refused:
        check_definition_size(_metric(), over, MARIADB)
    assert str(refused.value) == (
        "metric wide (/own/wide.sql): a MariaDB table of its 797 columns has a definition of 65,536 bytes as MariaDB "
        "counts it (18 a column and its name's bytes; the names take 50,900), and MariaDB refuses one over 65,535 "
        "bytes; shorten the column names (… AS new_name), select fewer columns, or split it into several metrics")


@pytest.mark.parametrize("store", ["sqlite:///fediscope.db", "hbase://127.0.0.1:9090"])
def test_other_stores_have_no_such_limit(store: str) -> None:
    check_definition_size(_metric(), _at(DEFINITION_LIMIT + 1), store)
