"""HBase: a cell whose value its column's type cannot hold (what the results API answers with 409 ``stale_metric``,
saying to re-run ``fediscope process``) is rewritten by the next write, and an erasure passes over it, as on the SQL
stores; reads keep reporting it until then."""

from __future__ import annotations

from typing import Any

import pytest
from metric_header import metric

from fediscope import python_api as fs
from fediscope.engine.metrics import load_metrics
from fediscope.errors import StoreError
from fediscope.store.rowkeys import encode_key

LANGUAGES = load_metrics()["languages"]  # key: language; rank: toots DESC
TOP = metric("top", "account", rank="followers DESC")


def language_key(language: str) -> bytes:
    return encode_key([language], ["str"])


def by_language(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["language"]: r for r in rows}


# -- a stored value its column's type cannot hold ------------------------------------------------------------------

@pytest.mark.parametrize("cell", [b'"abc"', b"abc", b"\xff"], ids=["text", "not-json", "not-utf8"])
@pytest.mark.parametrize("replace", [True, False], ids=["full", "append"])
def test_a_write_rewrites_a_value_its_column_type_cannot_hold(store, connection, sample_metric_rows, cell, replace):
    rows = sample_metric_rows["languages"]
    assert len(rows) >= 2
    store.write(LANGUAGES, rows)
    tampered = rows[0]["language"]
    connection.table("_languages").put(language_key(tampered), {b"m:toots": cell})
    # what readers report (the results API: 409 stale_metric, "re-run `fediscope process`")
    with pytest.raises(ValueError):
        store.top(LANGUAGES, 100)
    with pytest.raises(ValueError):
        store.get(LANGUAGES, [tampered])

    assert store.write(LANGUAGES, rows, replace=replace) == len(rows)  # what `fediscope process` does: repairs it
    assert store.get(LANGUAGES, [tampered]) == rows[0]
    assert by_language(store.all(LANGUAGES)) == by_language(rows)
    expected = sorted(rows, key=lambda r: (-r["toots"], r["language"]))
    assert store.top(LANGUAGES, len(rows)) == expected
    assert store.stored_metrics()["languages"] == len(rows)


def test_python_metric_rows_of_a_value_its_column_type_cannot_hold_say_to_store_it_again(
        store, connection, hbase_double, prefix, sample_metric_rows):  # noqa: ANN001
    """No write going on: was the store's decoding ``ValueError`` raised as it is by ``fs.metric_rows``, where the
    results API answers 409 ``stale_metric``."""
    rows = sample_metric_rows["languages"]
    store.write(LANGUAGES, rows)
    tampered = rows[0]["language"]
    connection.table("_languages").put(language_key(tampered), {b"m:toots": b'"abc"'})
    settings = fs.settings(store=hbase_double.url, hbase_table_prefix=prefix)
    for read in (lambda: fs.metric_rows(settings, "languages"), lambda: fs.metric_rows(settings, "languages", 1),
                 lambda: fs.metric_rows(settings, "languages", prefix=tampered)):
        with pytest.raises(StoreError, match="^metric languages in the store does not have what this fediscope "
                                             r"version reads \(.+\), as when another fediscope version stored it; "
                                             "re-run `fediscope process` "):
            read()


def test_a_full_write_removes_a_row_with_a_bad_value_that_left_the_result(store, connection, sample_metric_rows):
    rows = sample_metric_rows["languages"]
    store.write(LANGUAGES, rows)
    connection.table("_languages").put(language_key(rows[0]["language"]), {b"m:share": b'"half"'})
    store.write(LANGUAGES, rows[1:])
    assert by_language(store.all(LANGUAGES)) == by_language(rows[1:])
    assert store.stored_metrics()["languages"] == len(rows) - 1


def test_a_text_key_stored_as_a_number_is_the_row_of_that_text(store, connection):
    """A key cell is found by what it says as its column's type: the write overwrites the row, never deletes it."""
    store.write(TOP, [{"account": "5", "followers": 1}, {"account": "a", "followers": 2}])
    connection.table("_top").put(encode_key(["5"], ["str"]), {b"m:account": b"5"})
    store.write(TOP, [{"account": "5", "followers": 1}, {"account": "a", "followers": 2}])
    assert store.all(TOP) == [{"account": "5", "followers": 1}, {"account": "a", "followers": 2}]
    assert store.top(TOP, 5) == [{"account": "a", "followers": 2}, {"account": "5", "followers": 1}]


def test_key_cells_that_do_not_describe_their_row_are_a_clear_error(store, connection):
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    connection.table("_top").put(encode_key(["a"], ["str"]), {b"m:account": b'"b"'})
    with pytest.raises(StoreError, match=r"row b'a\\x00\\x01' of HBase table t\w+_top has key cells \(m:account\) "
                                         r"that do not encode to its row key.*deleteall"):
        store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])


@pytest.mark.parametrize("cell", [b'"abc"', b"abc"], ids=["text", "not-json"])
def test_an_erasure_passes_over_a_value_its_column_type_cannot_hold(store, connection, sample_metric_rows, cell):
    rows = sample_metric_rows["languages"]
    assert len(rows) >= 3
    store.write(LANGUAGES, rows)
    first, second, third = rows[0], rows[1], rows[2]
    connection.table("_languages").put(language_key(first["language"]), {b"m:toots": cell})
    # a column outside the key: the bad cell matches nothing, the row that has the value goes
    assert store.delete_where(LANGUAGES, "toots", second["toots"]) == sum(r["toots"] == second["toots"] for r in rows)
    assert store.get(LANGUAGES, [second["language"]]) is None
    # the key column: the row key says the value, whatever its cells hold
    assert store.delete_where(LANGUAGES, "language", first["language"]) == 1
    assert connection.table("_languages").row(language_key(first["language"])) == {}
    assert store.get(LANGUAGES, [third["language"]]) == third
