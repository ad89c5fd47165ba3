"""``fs.metric_rows`` gives a metric's ``-- timestamps:`` columns as RFC 3339 UTC (``…Z``), as an analysis'
``to_dict()`` and the results API do, on every store alike.

Was: the stored text, whatever form the metric wrote it in (``2026-11-01 12:00:00``, ``…T14:00:00+02:00``): a
notebook got a different value for the same moment than ``fs.analysis(...).to_dict()`` and the results API gave, and
``pandas.to_datetime`` read the text without an offset as a naive (local) moment. Every store hands the text back as
``str`` (SQLite TEXT, MariaDB LONGTEXT, HBase bytes): what differed was the form, not the type.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fediscope import python_api as fs
from fediscope.engine.metrics import load_metrics
from fediscope.errors import StoreError
from fediscope.store.port import MetricStore

STAMPS_SQL = ("-- question: When was each tag last seen?\n-- key: tag\n-- rank: n DESC\n-- timestamps: seen_at\n"
              "SELECT 1\n")
#: the same moment (or none) as metrics write it: strftime's text, isoformat's T, an offset, a fraction
STAMPS = [{"tag": "a", "n": 5, "seen_at": "2026-11-01 12:00:00", "day": "2026-11-01"},
          {"tag": "b", "n": 4, "seen_at": "2026-11-01T14:00:00+02:00", "day": "2026-11-01"},
          {"tag": "c", "n": 3, "seen_at": "2026-11-01 12:00:00.25", "day": "2026-11-02"},
          {"tag": "d", "n": 2, "seen_at": None, "day": "2026-11-02"}]
GIVEN = ["2026-11-01T12:00:00Z", "2026-11-01T12:00:00Z", "2026-11-01T12:00:00.250000Z", None]


def _settings(store: MetricStore, metrics_dir: Path | None = None):
    more = {"hbase_table_prefix": store.prefix} if store.url.startswith("hbase://") else {}
    if metrics_dir is not None:
        more["metrics_dir"] = metrics_dir
    return fs.settings(store=store.url, **more)


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "stamps.sql").write_text(STAMPS_SQL)
    return directory


def test_every_store_gives_an_own_metric_s_timestamps_as_rfc3339_utc(metric_store, metrics_dir):
    metric_store.write(load_metrics(own_dir=metrics_dir)["stamps"], STAMPS)
    settings = _settings(metric_store, metrics_dir)
    expected = [{**row, "seen_at": given} for row, given in zip(STAMPS, GIVEN, strict=True)]
    assert fs.metric_rows(settings, "stamps") == expected  # dates (day) stay as stored
    assert fs.metric_rows(settings, "stamps", limit=2) == expected[:2]
    (metrics_dir / "stamps.sql").unlink()  # the store does not record the line: as stored, as the results API does
    assert fs.metric_rows(settings, "stamps") == STAMPS


def test_every_store_gives_top_toots_created_at_as_the_analysis_to_dict_does(metric_store):
    top_toots = load_metrics()["top_toots"]
    rows = [{"ranking": rank, "status_uri": f"https://x.example/s/{rank}", "account_key": f"k{rank}",
             "created_at": created_at, "language": "en", "interactions": 10 - rank, "favourites_count": 1,
             "reblogs_count": 2, "replies_count": 3}
            for rank, created_at in [(1, "2026-11-01 12:00:00"), (2, "2026-10-31 23:59:59.5"), (3, None)]]
    metric_store.write(top_toots, rows)
    settings = _settings(metric_store)
    given = fs.metric_rows(settings, "top_toots")
    assert [row["created_at"] for row in given] == ["2026-11-01T12:00:00Z", "2026-10-31T23:59:59.500000Z", None]
    assert given == fs.analysis(settings, "top_toots").to_dict()["rows"]  # its columns are the metric's


def test_a_timestamps_column_holding_no_timestamp_is_a_store_error_naming_it(metric_store, metrics_dir):
    metric_store.write(load_metrics(own_dir=metrics_dir)["stamps"], [{"tag": "a", "n": 1, "seen_at": "soon"}])
    with pytest.raises(StoreError) as raised:
        fs.metric_rows(_settings(metric_store, metrics_dir), "stamps")
    assert str(raised.value) == (
        "metric stamps: its -- timestamps: column(s) seen_at hold a value that is not a UTC timestamp written "
        "YYYY-MM-DD HH:MM:SS: 'soon': correct the line in its SQL file, or re-run `fediscope process` if another "
        "fediscope version stored it")
