"""The erasure's store pass counts each row it removes once, also when the rows it finds by a trace and those it
finds by one of the account's status ids (:func:`fediscope.gdpr.subject.names_status`, deleted by their key:
``_delete_rows``) are of the same statuses, on the real SQLite store.

Checked because a review suspected that a trace-based delete could also remove a row already queued for deletion by
status id, which ``_delete_rows`` then counted again. It cannot: ``delete_where`` removes the rows whose column
*equals* the trace-holding value (every store compares exactly: SQLite's and MariaDB's binary collations, the HBase
store's decoded cells), so such a row holds the trace itself and is never queued. This test keeps it so."""

from __future__ import annotations

from pathlib import Path

from fediscope.engine.metrics import parse_metric
from fediscope.gdpr.erase import erase_store, stored_metrics
from fediscope.gdpr.subject import Traces
from fediscope.store.port import open_store

KEY = "a" + "1" * 24
LINK = "urn:fediscope:u" + "2" * 24
POSTS = parse_metric("posts", "-- question: test metric posts\n-- key: instance, status_id\nSELECT 1\n")
ROWS = [
    {"instance": "i1", "status_id": "1", "account_key": KEY, "link": "x", "n": 1},  # by account_key
    {"instance": "i1", "status_id": "2", "account_key": "b", "link": LINK, "n": 2},  # a trace, and its status id
    {"instance": "i2", "status_id": "9", "account_key": "b", "link": LINK, "n": 3},  # the same trace (one delete)
    {"instance": "i1", "status_id": "3", "account_key": "b", "link": "y", "n": 4},  # its status id alone
    {"instance": "i1", "status_id": "4", "account_key": "b", "link": f"{LINK} z", "n": 5},  # a trace in a text
    {"instance": "i1", "status_id": "5", "account_key": "b", "link": "y", "n": 6},  # its status id alone
    {"instance": "i2", "status_id": "3", "account_key": "b", "link": "y", "n": 7},  # another status, same id
]


def test_the_store_pass_counts_each_removed_row_once(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.write(POSTS, ROWS)
    traces = Traces(key=KEY)
    traces.status_links.add(LINK)
    traces.status_ids.update({("i1", "2"), ("i1", "3"), ("i1", "5")})

    deleted = erase_store(store, traces, stored_metrics(store))

    left = store.all(POSTS)
    assert [row["n"] for row in left] == [7]
    assert deleted == {"posts": len(ROWS) - len(left)}
    assert store.stored_metrics() == {"posts": len(left)}
    store.close()
