"""Text no store can keep: a lone UTF-16 surrogate (``"\\ud800"``) in a column name, a text value or a question.

A Python ``str`` may hold one (written so, or a byte that is not UTF-8 read with ``surrogateescape``), UTF-8 cannot,
and every store keeps text as UTF-8: each driver raised a UnicodeEncodeError at the write (a traceback through the
Python API), HBase after the rows before it were stored. Such a write is refused before anything is written, with
a message naming the metric and where the surrogate is, its text escaped.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from metric_header import metric

from fediscope.errors import ConfigError, StoreError

PLAIN = metric("plain", "id")


@pytest.mark.parametrize("column", ["\ud800", "x\udcff", "\udfff"])
def test_a_column_named_with_a_lone_surrogate_is_refused_before_writing(metric_store, column):
    with pytest.raises(ConfigError) as error:
        metric_store.write(PLAIN, [{"id": 1, column: 1}])
    assert str(error.value) == (
        f"metric plain (spark_jobs/sql/plain.sql): column {column!r} cannot be stored: the name contains a lone "
        "surrogate (U+D800-U+DFFF: no character, as Python makes of bytes that are not UTF-8), which no store can "
        "keep: they keep names as UTF-8; rename it in the SQL (… AS new_name)")
    assert "\\ud" in str(error.value) and str(error.value).encode()  # shown escaped: the message itself is UTF-8
    assert metric_store.stored_metrics() == {}
    metric_store.write(PLAIN, [{"id": 1, "v": 1}])  # the store goes on taking writes
    with pytest.raises(ConfigError, match="lone surrogate"):  # also as a column added to a stored table
        metric_store.write(PLAIN, [{"id": 2, column: 1}], replace=False)
    with pytest.raises(ConfigError, match="lone surrogate"):
        metric_store.write_changes(PLAIN, [{"id": 2, "v": 2, column: 1}], [], 2)
    assert metric_store.all(PLAIN) == [{"id": 1, "v": 1}]


@pytest.mark.parametrize(("row", "where"), [
    ({"id": 2, "v": "caf\udce9"}, "column 'v' has the text 'caf\\udce9' (key (2,))"),
    ({"id": "k\ud800", "v": "x"}, "column 'id' has the text 'k\\ud800' (key ('k\\ud800',))"),
])
def test_a_text_value_with_a_lone_surrogate_is_refused_before_writing(metric_store, row, where):
    keyed = metric("texts", "id")
    good = {"id": 1 if isinstance(row["id"], int) else "a", "v": "é"}
    with pytest.raises(StoreError) as error:
        metric_store.write(keyed, [good, row])
    assert str(error.value) == (f"metric texts: {where}, which holds a lone surrogate (U+D800-U+DFFF: no character, "
                                "as Python makes of bytes that are not UTF-8); no store can keep it: they keep text "
                                "as UTF-8")
    assert metric_store.stored_metrics() == {}  # not even the row before it
    metric_store.write(keyed, [good])
    with pytest.raises(StoreError, match="lone surrogate"):
        metric_store.write(keyed, [row], replace=False)
    with pytest.raises(StoreError, match="lone surrogate"):
        metric_store.write_changes(keyed, [row], [], 2)
    assert metric_store.all(keyed) == [good]


def test_a_question_with_a_lone_surrogate_is_refused_before_writing(metric_store):
    asked = replace(PLAIN, question="how many \udcff?")
    with pytest.raises(StoreError) as error:
        metric_store.write(asked, [{"id": 1, "v": 1}])
    assert str(error.value) == ("metric plain: its question 'how many \\udcff?' holds a lone surrogate "
                                "(U+D800-U+DFFF: no character, as Python makes of bytes that are not UTF-8), which no "
                                "store can keep: they keep text as UTF-8")
    assert metric_store.stored_metrics() == {}
    with pytest.raises(StoreError, match="lone surrogate"):  # computed with no rows: listed without a table
        metric_store.write(asked, [])
    assert metric_store.stored_metrics() == {}


def test_a_deletion_or_settling_with_a_question_holding_a_lone_surrogate_is_refused_before_changing(metric_store):
    """A deletion (``delete_where``) and ``settle`` record the metric's question in its catalog entry, as a write does,
    but did not go through the write's checks: the driver's UnicodeEncodeError (a traceback) when the catalog entry
    was written, on HBase too."""
    metric_store.write(PLAIN, [{"id": 1, "v": 1}, {"id": 2, "v": 2}])
    generation = metric_store.generation("plain")
    asked = replace(PLAIN, question="how many \udcff?")
    message = ("metric plain: its question 'how many \\udcff?' holds a lone surrogate (U+D800-U+DFFF: no character, as "
               "Python makes of bytes that are not UTF-8), which no store can keep: they keep text as UTF-8")
    for change in (lambda: metric_store.delete_where(asked, "id", 1), lambda: metric_store.settle(asked, 5)):
        with pytest.raises(StoreError) as error:
            change()
        assert str(error.value) == message
    assert metric_store.all(PLAIN) == [{"id": 1, "v": 1}, {"id": 2, "v": 2}]
    assert metric_store.stored_metrics() == {"plain": 2} and metric_store.generation("plain") == generation
    assert metric_store.delete_where(PLAIN, "id", 1) == 1  # the store goes on
    assert metric_store.all(PLAIN) == [{"id": 2, "v": 2}]
