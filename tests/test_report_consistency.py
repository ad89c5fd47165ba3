"""``fediscope report`` reads every section from one state of the store: a ``fediscope process`` run that writes it
while the report reads it (the batch DAG while a dashboard makes its report) makes the report read everything
again, and one that goes on writing during every read is named in the report's head and its JSON. On every store:
the report sees writes through the port's generations alone."""

from __future__ import annotations

import json

import pytest

from fediscope import analysis
from fediscope.report import REPORT_READS, build_report
from fediscope.store.port import open_store


def _accounts(name: str) -> list[dict]:
    return [{"account_key": f"{name}@mastodon.social", "instance": "mastodon.social", "followers_count": 10,
             "following_count": 1, "statuses_count": 2, "bot": False}]


def _fill(store) -> None:
    store.write(analysis.metric("top_accounts_by_followers"), _accounts("before"))
    store.write(analysis.metric("languages"), [{"language": "en", "toots": 3, "share": 1.0}])


@pytest.fixture
def writer(metric_store):
    """Another connection to the store, as ``fediscope process``'s in another process."""
    options = {"table_prefix": metric_store.prefix} if metric_store.kind.startswith("hbase") else {}
    second = open_store(metric_store.url, **options)
    yield second
    second.close()


def _write_when_languages_is_read(monkeypatch, store, writer, times: int) -> list[str]:
    """``writer`` writes top accounts each time the report reads languages (after top accounts, whose section is
    then read), the first ``times`` times; the names written."""
    written: list[str] = []
    top = store.top

    def hooked(metric, n, after=None):
        if metric.name == "languages" and len(written) < times:
            written.append(f"after{len(written)}")
            writer.write(analysis.metric("top_accounts_by_followers"), _accounts(written[-1]))
        return top(metric, n, after=after)

    monkeypatch.setattr(store, "top", hooked)
    return written


def test_a_write_between_two_sections_makes_the_report_read_them_all_again(metric_store, writer, monkeypatch, caplog):
    """Was: the top accounts section showed the rows of before the write, the rest of the report those of after."""
    store = metric_store
    _fill(store)
    written = _write_when_languages_is_read(monkeypatch, store, writer, times=1)
    with caplog.at_level("INFO", logger="fediscope.report"):
        report = build_report(store, charts=False)
    assert written == ["after0"]
    keys = [r["account_key"] for r in report.run.get("top_accounts").rows]
    assert keys == ["after0@mastodon.social"]
    assert report.written_while_read == [] and "Written while read" not in report.text()
    assert "metrics=top_accounts_by_followers written while the report read them" in caplog.text


def test_a_store_written_during_every_read_is_named_in_the_head_and_the_json(metric_store, writer, monkeypatch):
    store = metric_store
    _fill(store)
    written = _write_when_languages_is_read(monkeypatch, store, writer, times=REPORT_READS)
    report = build_report(store, charts=False)
    assert len(written) == REPORT_READS
    head = report.text().split("\n\n")[0]
    assert "Written while read: top_accounts_by_followers (by `fediscope process`" in head
    assert json.loads(json.dumps(report.to_dict()))["written_while_read"] == ["top_accounts_by_followers"]


def test_a_report_of_a_store_no_one_writes_is_read_once(metric_store, monkeypatch):
    store = metric_store
    _fill(store)
    reads = []
    generations = store.generations
    monkeypatch.setattr(store, "generations", lambda: reads.append(1) or generations())
    report = build_report(store, charts=False)
    assert len(reads) == 2 and report.to_dict()["written_while_read"] == []
