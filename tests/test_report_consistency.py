"""``fediscope report`` reads every section from one state of the store: a ``fediscope process`` run that writes it
while the report reads it (the batch DAG while a dashboard makes its report) makes the report read everything
again, and one that goes on writing during every read is named in the report's head and its JSON. On every store:
the report sees writes through the port's generations alone."""

from __future__ import annotations

import json

import pytest
from report_text import unwrapped

from fediscope import analysis
from fediscope import python_api as fs
from fediscope.errors import StoreError
from fediscope.report import REPORT_READS, build_report
from fediscope.store.base import PROVISIONAL
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
    assert report.written_while_read == [] and "Written while read" not in unwrapped(report.text())
    assert "metrics=top_accounts_by_followers written while the report read them" in caplog.text


def test_a_store_written_during_every_read_is_named_in_the_head_and_the_json(metric_store, writer, monkeypatch):
    store = metric_store
    _fill(store)
    written = _write_when_languages_is_read(monkeypatch, store, writer, times=REPORT_READS)
    report = build_report(store, charts=False)
    assert len(written) == REPORT_READS
    head = unwrapped(report.text()).split("\n\n")[0]
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


# A write gives its metric a provisional generation before its rows change and its final one once they have
# (fediscope.store.base.BaseStore._begin_change): a write begun before the first read of the generations and ended
# after the second passes their check with the same provisional generation twice; one that stopped part-way leaves it.


def _write_spanning_the_read(monkeypatch, store, writer, read):
    """``writer`` writes top accounts and, once the metric has its provisional generation, ``read()`` runs: the rows
    change while ``read`` reads languages (after top accounts) and the write records its end once ``read`` is done.
    What ``read`` returned."""
    pending, results = [], []
    upsert, top = writer._upsert, type(store).top

    def hooked(self, metric, n, after=None):
        if self is not writer and metric.name == "languages" and pending:
            pending.pop()()
        return top(self, metric, n, after=after)

    def upsert_during_the_read(*args, **kwargs):
        pending.append(lambda: upsert(*args, **kwargs))
        results.append(read())
        assert not pending, "the rows were not changed during the read"

    monkeypatch.setattr(type(store), "top", hooked)
    writer._upsert = upsert_during_the_read
    writer.write(analysis.metric("top_accounts_by_followers"), _accounts("after"))
    return results[0]


def _killed(*_args, **_kwargs):
    """A catalog update that never happens: the process died after changing the rows."""
    raise StoreError("killed")


def _stop_a_write(writer) -> None:
    """``writer`` writes top accounts and stops after its rows changed, before recording the write's end (killed)."""
    writer._commit = _killed
    with pytest.raises(StoreError, match="killed"):
        writer.write(analysis.metric("top_accounts_by_followers"), _accounts("stopped"))
    assert writer.generation("top_accounts_by_followers").startswith(PROVISIONAL)


def _count_generation_reads(monkeypatch, store) -> list[int]:
    reads: list[int] = []
    generations = type(store).generations
    monkeypatch.setattr(type(store), "generations", lambda self: reads.append(1) or generations(self))
    return reads


def test_a_write_begun_before_the_report_and_ended_after_it_is_named_partly_written(metric_store, writer,
                                                                                    monkeypatch):
    """Was: both reads of the generations saw the same provisional one, the rows changed in between, and the report
    said nothing (``written_while_read: []``)."""
    _fill(metric_store)
    reads = _count_generation_reads(monkeypatch, metric_store)
    report = _write_spanning_the_read(monkeypatch, metric_store, writer,
                                      lambda: build_report(metric_store, charts=False))
    assert len(reads) == 2  # read once: a provisional generation unchanged is no reason to read again
    assert report.written_while_read == [] and report.run.written_while_read == []
    assert report.partly_written == report.run.partly_written == ["top_accounts_by_followers"]
    head = unwrapped(report.text()).split("\n\n")[0]
    assert ("Partly written: top_accounts_by_followers (being written now, or left part-way by a write that stopped: "
            "if no `fediscope process` is running, run it again, or the erasure if one stopped): their sections may "
            "mix rows of before and after that write") in head
    assert json.loads(json.dumps(report.to_dict()))["partly_written"] == ["top_accounts_by_followers"]
    # the write has ended: a report made now is of one state
    assert build_report(metric_store, charts=False).to_dict()["partly_written"] == []


def test_python_api_analyses_name_a_write_begun_before_them_and_ended_after(metric_store, writer, monkeypatch):
    _fill(metric_store)
    run = _write_spanning_the_read(monkeypatch, metric_store, writer, lambda: fs.analyses(_settings_of(metric_store)))
    assert run.written_while_read == [] and run.partly_written == ["top_accounts_by_followers"]
    assert fs.analyses(_settings_of(metric_store)).partly_written == []


def test_a_write_that_stopped_part_way_is_named_partly_written_and_read_once(metric_store, writer, monkeypatch):
    """A provisional generation a failed write left stays until the next ``fediscope process``: named, not read again
    (it would never change)."""
    _fill(metric_store)
    _stop_a_write(writer)
    reads = _count_generation_reads(monkeypatch, metric_store)
    report = build_report(metric_store, charts=False)
    assert len(reads) == 2
    assert report.written_while_read == [] and report.to_dict()["partly_written"] == ["top_accounts_by_followers"]
    assert "Partly written: top_accounts_by_followers (" in unwrapped(report.text()).split("\n\n")[0]
    run = fs.analyses(_settings_of(metric_store))
    assert len(reads) == 4 and run.written_while_read == [] and run.partly_written == ["top_accounts_by_followers"]


def test_a_write_that_stops_during_the_first_read_makes_one_read_again_then_is_named(metric_store, writer,
                                                                                    monkeypatch, caplog):
    """The first read saw the generation change (to the stopped write's provisional one): read again, once; the
    second read sees it unchanged and names it partly written, not written during each read."""
    _fill(metric_store)
    stopped: list[bool] = []
    top = type(metric_store).top

    def hooked(self, metric, n, after=None):
        if self is not writer and metric.name == "languages" and not stopped:
            stopped.append(True)
            _stop_a_write(writer)
        return top(self, metric, n, after=after)

    monkeypatch.setattr(type(metric_store), "top", hooked)
    reads = _count_generation_reads(monkeypatch, metric_store)
    with caplog.at_level("INFO", logger="fediscope.report"):
        report = build_report(metric_store, charts=False)
    assert stopped and len(reads) == 4
    assert "metrics=top_accounts_by_followers written while the report read them (read 1 of 3)" in caplog.text
    assert report.written_while_read == [] and report.partly_written == ["top_accounts_by_followers"]
    assert [r["account_key"] for r in report.run.get("top_accounts").rows] == ["stopped@mastodon.social"]


def test_an_erasure_that_stopped_part_way_is_named_partly_written_and_its_run_again_ends_it(metric_store,
                                                                                           monkeypatch):
    """Was: the "Partly written" advice named ``fediscope process`` alone, though a ``fediscope gdpr erase`` killed
    while deleting the account's rows by their key leaves the metric's generation provisional too, and the erasure
    run again settles it (:func:`fediscope.gdpr.erase.erase_store`). The advice names it; so do ``fs.analyses``'
    docstring and the results API's 409 ``stale_cursor`` (tests/api/test_api_results_paging_during_write.py)."""
    from fediscope.engine.metrics import parse_metric
    from fediscope.gdpr.erase import erase_store, stored_metrics
    from fediscope.gdpr.subject import Traces

    posts = parse_metric("posts", "-- question: test metric posts\n-- key: instance, status_id\nSELECT 1\n")
    _fill(metric_store)
    metric_store.write(posts, [{"instance": "i1", "status_id": str(n), "n": n} for n in range(1, 4)])
    traces = Traces(key="a" + "1" * 24)
    traces.status_ids.add(("i1", "2"))  # one of the account's statuses: its row goes by its key (write_changes)
    with monkeypatch.context() as stopped:
        stopped.setattr(metric_store, "_commit", _killed)
        with pytest.raises(StoreError, match="killed"):
            erase_store(metric_store, traces, stored_metrics(metric_store))
    assert metric_store.generation("posts").startswith(PROVISIONAL)
    report = build_report(metric_store, charts=False)
    assert report.partly_written == ["posts"]
    assert (f"Partly written: posts ({analysis.PARTLY_WRITTEN_ADVICE}): their sections may mix rows of before and "
            "after that write") in unwrapped(report.text())
    assert "run it again, or the erasure if one stopped" in analysis.PARTLY_WRITTEN_ADVICE
    assert analysis.PLAIN_PARTLY_WRITTEN_ADVICE in " ".join(fs.analyses.__doc__.replace("``", "").split())

    erase_store(metric_store, traces, stored_metrics(metric_store))  # the erasure run again
    assert build_report(metric_store, charts=False).partly_written == []
    assert [row["n"] for row in metric_store.all(posts)] == [1, 3]


def test_one_metrics_rows_or_one_analysis_read_under_a_stopped_write_are_warned_of(metric_store, writer, caplog):
    """Was: ``fs.metric_rows`` and ``fs.analysis`` compared the metric's generation alone, which a write left
    provisional passes unchanged: rows that may mix before and after that write came with no sign, where the report
    and ``fs.analyses`` name the metric partly written. They warn now, with the same advice."""
    _fill(metric_store)
    settings = _settings_of(metric_store)
    with caplog.at_level("WARNING", logger="fediscope"):
        fs.metric_rows(settings, "top_accounts_by_followers")
        fs.analysis(settings, "top_accounts")
    assert "partly" not in caplog.text and "had begun" not in caplog.text
    _stop_a_write(writer)
    for read in (lambda: fs.metric_rows(settings, "top_accounts_by_followers"),
                 lambda: fs.metric_rows(settings, "top_accounts_by_followers", limit=1),
                 lambda: fs.analysis(settings, "top_accounts")):
        caplog.clear()
        with caplog.at_level("WARNING", logger="fediscope"):
            read()
        assert [r.getMessage() for r in caplog.records] == [
            f"metric top_accounts_by_followers: a write had begun and not finished when it was read "
            f"({analysis.PARTLY_WRITTEN_ADVICE}): its rows may mix rows of before and after that write"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="fediscope"):
        fs.metric_rows(settings, "languages")  # another metric: nothing to say
    assert caplog.records == []


def test_a_store_no_one_writes_has_nothing_partly_written(metric_store):
    _fill(metric_store)
    report = build_report(metric_store, charts=False)
    assert report.partly_written == report.run.partly_written == [] and report.to_dict()["partly_written"] == []
    assert "Partly written" not in unwrapped(report.text())
    assert fs.analyses(_settings_of(metric_store)).partly_written == []


def _retype_languages_during_each_read(monkeypatch, store, writer) -> list[str]:
    """``writer`` writes languages again each time another store reads its top rows, after that store read its column
    types and before its rows (as a write landing during an HBase scan): the share alternates between text and a
    number, so the first and the last of :data:`REPORT_READS` reads decode the new rows as the old type and fail.
    The values of ``share`` written."""
    written: list[str] = []
    read_rows = type(store)._top

    def hooked(self, schema, n, after=None):
        if self is not writer and schema.metric == "languages" and len(written) < REPORT_READS:
            share = "n/a" if len(written) % 2 == 0 else 0.5
            written.append(share)
            writer.write(analysis.metric("languages"), [{"language": "en", "toots": 3, "share": share}])
        return read_rows(self, schema, n, after)

    monkeypatch.setattr(type(store), "_top", hooked)
    return written


OVERTAKEN = ("metric languages was written again (fediscope process) while its rows were read, so they would mix "
             "two writes: read it again once the write is done")


def test_an_analysis_a_write_overtook_during_every_read_is_failed_as_written_while_read(metric_store, writer,
                                                                                        monkeypatch):
    """Was: ``failed`` said the rows were not what this version reads, "re-run `fediscope process` after updating
    fediscope", for a metric each write of which reads fine and ``written_while_read`` named: it is a read a write
    overtook (as ``fs.analysis`` and the results API call it), read again."""
    _fill(metric_store)
    written = _retype_languages_during_each_read(monkeypatch, metric_store, writer)
    run = fs.analyses(_settings_of(metric_store))
    assert len(written) == REPORT_READS
    assert run.written_while_read == ["languages"]
    assert run.failed == {"languages": OVERTAKEN}
    assert run.get("top_accounts") is not None  # the other analyses are computed

    writer.write(analysis.metric("languages"), [{"language": "en", "toots": 3, "share": 1.0}])  # a number again
    written.clear()
    report = build_report(metric_store, charts=False)
    assert len(written) == REPORT_READS
    assert report.written_while_read == ["languages"] and report.run.failed == {"languages": OVERTAKEN}
    assert f"Could not compute languages: {OVERTAKEN}" in unwrapped(report.text())
    assert "re-run" not in unwrapped(report.text())

