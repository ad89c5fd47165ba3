"""``fediscope report`` reads every section from one state of the store: a ``fediscope process`` run that writes it
while the report reads it (the batch DAG while a dashboard makes its report) makes the report read everything
again, and one that goes on writing during every read is named in the report's head and its JSON. On every store:
the report sees writes through the port's generations alone."""

from __future__ import annotations

import json

import pytest

from fediscope import analysis
from fediscope import python_api as fs
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


# The Python API's analyses (fediscope.python_api.analyses) read the same way, through the same check
# (fediscope.analysis.read_one_state): the store it opens is its own, so the hook is on the store's class.


def _settings_of(store):
    """Settings naming ``store``, as a notebook would give them."""
    extra = {"hbase_table_prefix": store.prefix} if store.kind.startswith("hbase") else {}
    return fs.settings(store=store.url, **extra)


def _write_when_any_store_reads_languages(monkeypatch, store, writer, times: int) -> list[str]:
    """As :func:`_write_when_languages_is_read`, for every store of ``store``'s class but ``writer``."""
    written: list[str] = []
    top = type(store).top

    def hooked(self, metric, n, after=None):
        if self is not writer and metric.name == "languages" and len(written) < times:
            written.append(f"after{len(written)}")
            writer.write(analysis.metric("top_accounts_by_followers"), _accounts(written[-1]))
        return top(self, metric, n, after=after)

    monkeypatch.setattr(type(store), "top", hooked)
    return written


def test_python_api_analyses_read_again_when_a_write_lands_between_two_of_them(metric_store, writer, monkeypatch,
                                                                               caplog):
    """Was: fs.analyses gave the top accounts of before the write and the languages of after it, saying nothing."""
    _fill(metric_store)
    written = _write_when_any_store_reads_languages(monkeypatch, metric_store, writer, times=1)
    with caplog.at_level("INFO", logger="fediscope.python_api"):
        run = fs.analyses(_settings_of(metric_store))
    assert written == ["after0"]
    assert [r["account_key"] for r in run.get("top_accounts").rows] == ["after0@mastodon.social"]
    assert run.written_while_read == []
    assert "metrics=top_accounts_by_followers written while the analyses read them (read 1 of 3)" in caplog.text


def test_python_api_analyses_name_the_metrics_written_during_every_read(metric_store, writer, monkeypatch):
    _fill(metric_store)
    written = _write_when_any_store_reads_languages(monkeypatch, metric_store, writer, times=REPORT_READS)
    run = fs.analyses(_settings_of(metric_store))
    assert len(written) == REPORT_READS
    assert run.written_while_read == ["top_accounts_by_followers"]
    # the last read's rows: written before it began, the write during it not yet read
    assert [r["account_key"] for r in run.get("top_accounts").rows] == [f"after{REPORT_READS - 2}@mastodon.social"]


def test_the_report_run_names_what_the_report_names(metric_store, writer, monkeypatch):
    """The report's run (what its charts are drawn from) says it too, as the Python API's run does."""
    _fill(metric_store)
    _write_when_languages_is_read(monkeypatch, metric_store, writer, times=REPORT_READS)
    report = build_report(metric_store, charts=False)
    assert report.run.written_while_read == report.written_while_read == ["top_accounts_by_followers"]
