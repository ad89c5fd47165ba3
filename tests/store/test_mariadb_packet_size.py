"""A MariaDB store refuses, before it changes anything, a write one of whose statements is more than the server's
``max_allowed_packet`` takes (:mod:`fediscope.store.packets`): a row's ``INSERT`` (a long text value) or the catalog
entry's (a long question), read from the server (``SELECT @@max_allowed_packet``), with a message naming the setting.
Was: the server's error part-way (1153, seen as 2006 ``MySQL server has gone away`` or 2013 ``Lost connection``: it
closes the connection), after a write had altered the table for its new columns (a provisional generation left),
loaded part of a new one (``_new_<metric>`` left) or, for a long question, loaded the metric's table and then failed
to list it in the catalog (a table no catalog entry lists). Here the server's value is lowered to 1 MiB (from its
16 MiB default) for the test, so the store must read it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from mariadb_packet import store_with_packet
from metric_header import metric
from test_mariadb_merged_row_size import _columns

from fediscope.errors import StoreError
from fediscope.store.port import MetricStore

pytestmark = pytest.mark.mariadb

PACKET = 1 << 20
LONGEST = PACKET - 2  # a statement's bytes; with its command byte, the server refuses a packet of PACKET or more
W = metric("w", "k")
SETTING = (f"and the server takes at most {LONGEST:,} (its max_allowed_packet is {PACKET:,} bytes); {{fix}}, or raise "
           "max_allowed_packet on the server (SET GLOBAL max_allowed_packet = …, or in its configuration; at most "
           "1 GiB)")


@pytest.fixture
def store(mariadb_instance, mariadb_url: str) -> Iterator[MetricStore]:  # noqa: ANN001
    """A store of a server whose max_allowed_packet is 1 MiB (set back afterwards)."""
    with store_with_packet(mariadb_instance, mariadb_url, PACKET) as opened:
        yield opened


def _text(length: int) -> str:
    """Text of ``length`` characters, some of them escaped in a statement (``'``, a new line) or of 2 bytes (``é``)."""
    start = "é'\n" * 1000
    return start + "x" * (length - len(start))


def _row_refused(key: int, value_bytes: int, size: int) -> str:
    return (f"could not write metric w: the row of key ({key},) (its value of column 'v' {value_bytes:,} bytes as "
            f"sent) makes a statement of {size:,} bytes, " + SETTING.format(fix="shorten such values in the metric's "
                                                                               "SQL (left(…, n))"))


def _refused_size(error: pytest.ExceptionInfo[StoreError]) -> int:
    return int(re.search(r"makes a statement of ([\d,]+) bytes", str(error.value))[1].replace(",", ""))


def test_a_row_is_refused_exactly_when_its_insert_is_over_the_server_s_max_allowed_packet(store: MetricStore) -> None:
    """The largest row the store takes is one the server takes: the store counts each statement's bytes as sent.
    ``share_%`` and ``café``: a name's ``%`` is doubled in the compiled statement only, ``é`` takes 2 bytes."""
    first = {"k": 1, "v": "a", "share_%": 0.5, "café": True}
    store.write(W, [first])
    generation = store.generation("w")
    others = {"share_%": -1.25e-300, "café": False}
    with pytest.raises(StoreError) as refused:
        store.write(W, [{"k": 2, "v": _text(1_100_000), **others}], replace=False)
    fits = {"k": 2, "v": _text(1_100_000 - (_refused_size(refused) - LONGEST)), **others}
    over = {**fits, "v": fits["v"] + "x"}
    with pytest.raises(StoreError) as refused:
        store.write(W, [over], replace=False)
    sent = len(over["v"].encode()) + 2000 + 2  # 1,000 quotes and new lines escaped, and the value's own quotes
    assert str(refused.value).endswith(_row_refused(2, sent, LONGEST + 1)), str(refused.value)
    assert store.generation("w") == generation and store.all(W) == [first]
    store.write(W, [fits], replace=False)  # exactly the longest statement: the server takes it
    assert store.all(W) == [first, fits]


#: the store's own refusal of a row, not the server's (its 1153 "Got a packet bigger than 'max_allowed_packet' bytes"
#: names the setting too)
ROW_REFUSED = r"the row of key \(2,\) .* makes a statement of [\d,]+ bytes, and the server takes at most"


def test_a_first_write_or_an_append_with_a_row_too_long_changes_nothing(store: MetricStore, mariadb_url: str) -> None:
    long = {"k": 2, "v": _text(PACKET)}
    with pytest.raises(StoreError, match=ROW_REFUSED):
        store.write(W, [{"k": 1, "v": "a"}, long])
    assert store.stored_metrics() == {} and store.unlisted_metrics() == {}  # was: _new_w left, no catalog entry
    store.write(W, [{"k": 1, "v": "a"}])
    generation = store.generation("w")
    with pytest.raises(StoreError, match=ROW_REFUSED):
        store.write(W, [{**long, "added": 1}], replace=False)
    with pytest.raises(StoreError, match=ROW_REFUSED):  # a known difference alike
        store.write_changes(W, [{**long, "added": 1}], [], 2)
    assert store.generation("w") == generation and store.all(W) == [{"k": 1, "v": "a"}]
    assert list(_columns(mariadb_url, "metric_w")) == ["k", "v"]  # not altered: was, then the INSERT refused


def test_a_question_too_long_for_the_catalog_is_refused_before_anything_changes(store: MetricStore) -> None:
    asked = replace(W, question="q" * PACKET)
    with pytest.raises(StoreError) as refused:
        store.write(asked, [{"k": 1, "v": "a"}])
    assert re.fullmatch(
        r"store \S+: could not write metric w: its catalog entry \(its question 1,048,578 bytes as sent, its "
        r"definition \d+\) makes a statement of [\d,]+ bytes, " + re.escape(SETTING.format(
            fix="shorten its question ('-- question:' line)")), str(refused.value)), str(refused.value)
    assert store.stored_metrics() == {} and store.unlisted_metrics() == {}  # was: metric_w, listed nowhere
    store.write(W, [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}])
    generation = store.generation("w")
    for change in (lambda: store.delete_where(asked, "k", 1), lambda: store.settle(asked, 5)):
        with pytest.raises(StoreError, match="its catalog entry .* max_allowed_packet"):
            change()
    assert store.all(W) == [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}] and store.generation("w") == generation
