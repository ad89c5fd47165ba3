"""``fediscope report``: how many rows a metric no analysis reads holds is said of the rows the report read, not of
the catalog as it was when the report began: a ``fediscope process`` writing the metric in between changed them."""

from __future__ import annotations

import pytest

from fediscope.engine.metrics import parse_metric
from fediscope.report import build_report
from fediscope.store.port import open_store

OWN = parse_metric("tag_counts", "-- question: How often is each tag used?\n-- key: tag\n-- rank: uses DESC\nSELECT 1")


def _rows(n: int) -> list[dict]:
    return [{"tag": f"tag{i:03d}", "uses": 1000 - i} for i in range(n)]


def _written_between(store, rows_then: int, rows_now: int):
    """The store holding ``rows_then`` rows of the own metric when the report reads its catalog (the first read, by
    the analyses), and ``rows_now`` once it reads the metric's rows: a real write in between, as a `fediscope
    process` running meanwhile makes it."""
    store.write(OWN, _rows(rows_then))
    catalog = store.stored_metrics
    calls = []

    def stored_metrics():
        listed = catalog()
        if not calls:
            store.write(OWN, _rows(rows_now))
        calls.append(listed)
        return listed

    store.stored_metrics = stored_metrics
    return calls


@pytest.mark.parametrize(("then", "now", "note"), [
    (3, 25, "(the first 10 of 25 rows; --format json has them all)"),  # was: no such line under 10 rows of 25
    (25, 4, None),  # was: "(the first 4 of 25 rows; …)" under every row there was
])
def test_the_text_reports_count_of_an_own_metric_is_of_the_write_its_rows_come_from(metric_store, then, now, note):
    store = metric_store
    calls = _written_between(store, then, now)
    report = build_report(store, n=10, charts=False)
    assert calls[0]["tag_counts"] == then  # the catalog the report began with: the other write's
    (other,) = report.others
    assert len(other.rows) == min(10, now) and other.total_rows == now
    section = report.other_section(other)
    lines = [line for line in section.splitlines() if line.startswith("(the first")]
    assert lines == ([note] if note else []), section


def test_the_json_reports_total_rows_of_an_own_metric_is_the_rows_it_gives(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    _written_between(store, 3, 5)
    given = build_report(store, n=10, charts=False, every_row=True).to_dict()["other_metrics"]["tag_counts"]
    assert given["total_rows"] == len(given["rows"]) == 5  # was: total_rows 3, the catalog's before the write


def test_a_metric_written_again_between_its_rows_and_its_count_is_read_again(metric_store):
    """The count is read with the rows under one generation: a write between the two (here, each time but the
    last) makes them read again, so the count is the rows' write's."""
    store = metric_store
    store.write(OWN, _rows(30))
    top = store.top
    sizes = iter([40, 50])

    def top_then_write(metric, n, after=None):
        rows = top(metric, n, after)
        size = next(sizes, None)
        if metric.name == OWN.name and size is not None:
            store.write(OWN, _rows(size))  # after the rows, before their count
        return rows

    store.top = top_then_write
    (other,) = build_report(store, n=10, charts=False).others
    assert other.total_rows == 50 and [r["tag"] for r in other.rows] == [f"tag{i:03d}" for i in range(10)]
