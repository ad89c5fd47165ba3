"""``ILIKE`` folds case as DuckDB's ``lower()`` does on Spark too. DuckDB's ``s ILIKE p`` is ``lower(s) LIKE lower(p)``
with its own ``lower``; Spark's lowers both with Java's, which maps a final ``Σ`` to ``ς`` and ``İ`` to two
characters. Was: ``'ΟΣ' ILIKE '%σ'`` and ``'İx' ILIKE 'i_'`` were false on Spark (true on DuckDB), ``'ος' ILIKE 'ΟΣ'``
true (false on DuckDB); ``NOT ILIKE`` the other way round."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

SELECT = r"""SELECT i, s ILIKE p AS matched, s NOT ILIKE p AS not_matched, s ILIKE '%σ' AS ends_sigma,
  s ILIKE 'A!_%' ESCAPE '!' AS escaped
FROM (VALUES (1, 'ΟΣ', '%σ'), (2, 'İx', 'i_'), (3, 'ος', 'ΟΣ'), (4, 'ẞ', 'ß'), (5, 'a\b', 'A\_'), (6, 'a_b', 'A_B'),
             (7, NULL, 'a'), (8, 'a', NULL)) AS t(i, s, p)
ORDER BY i"""

EXPECTED = [
    (1, True, False, True, False),
    (2, True, False, False, False),
    (3, False, True, False, False),
    (4, True, False, False, False),
    (5, True, False, False, False),
    (6, True, False, False, True),
    (7, None, None, None, None),
    (8, None, None, False, False),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_ilike_folds_case_as_duckdb_on_every_engine(engine: str, request: pytest.FixtureRequest) -> None:
    got = rows_on(engine, SELECT, request)
    assert got == EXPECTED
