"""An interpolated quantile of numbers at any fraction is not refused, as floating-point aggregates of DOUBLEs
(``avg``, ``stddev_samp``, …) are not: DuckDB computes ``lo * (1 - d) + hi * d`` with a fused multiply-add, the
translation for Spark without, so at a fraction other than 0, 0.5 and 1 (and 0.25 and 0.75 of whole numbers) the
last digit may differ — ordinary floating-point rounding, by another formula, which the README states for such
results. Was: refused (``an interpolated quantile at 0.3 … may differ in its last digit``), advising
``quantile_disc``, another statistic (one of the values), while ``avg`` of the same values passed."""

from __future__ import annotations

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import check_portable

#: DOUBLEs (written with an exponent: 0.5 is a DECIMAL, whose interpolation is refused) and whole numbers
VALUES = ("(VALUES (1, -9e0, -9), (1, 21e0, 21), (2, 5.218480833305253e0, 2), (2, 7.916216388874584e0, 7), "
          "(2, 0.4779177778297e0, 11)) AS v(g, x, n)")
SQL = ("SELECT g, quantile_cont(x, 0.3), quantile_cont(x / 7, 0.25), median(x), "
       "percentile_cont(0.1) WITHIN GROUP (ORDER BY x DESC), quantile_cont(n, 0.3), quantile_cont(n, 0.1) "
       f"FROM {VALUES} GROUP BY g ORDER BY g")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_quantile_at_any_fraction_is_not_refused_and_agrees_but_for_the_last_digits(
        engine: str, request: pytest.FixtureRequest) -> None:
    check_portable(SQL)
    expected = duckdb.sql(SQL).fetchall()
    assert expected[0][1] == 2.220446049250313e-16  # DuckDB's fused multiply-add: 0.0 computed as Spark does
    got = rows_on(engine, SQL, request)
    assert [row[0] for row in got] == [1, 2]
    if engine == "spark":
        assert got[0][1] == 0.0  # the last digit that differs: lo * (1 - d) + hi * d rounded twice
    for row, want in zip(got, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-12, abs=1e-12)
