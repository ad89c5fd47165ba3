"""The flows run end to end on real answers: the scraping API (api/) on 127.0.0.1 in front of the Mastodon double
(the recorded statuses of tests/data), the flow definition's own processors and expressions played by
:mod:`flow_runner`, the batches written where the flow writes them, and ``fediscope process`` (DuckDB, a SQLite
store) curating that lake.

``test_flows.py`` checks each expression against the layout functions one at a time; this checks that they fit
together: the URL the flow builds is a page the API serves, the records its split, merge and writer land are the
records served, in the partition fediscope reads them from (HDFS's ``%3A`` included: the double's instance is
``127.0.0.1:<port>``), and the next poll's cursor asks for the new statuses only.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pyarrow.parquet as pq
import pytest
from cli_run import clean_env, run
from flow_runner import FlowRunner

from fediscope.lake import layout
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import raw_batch_files, read_batch

KEY = "nifi-flow-key-0123456789abcdef"
PSEUDONYM_KEY = "nifi-flow-pseudonym-key-0123456789"
TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"  # the recorded hashtag most statuses carry


@dataclass
class Lake:
    url: str  # FEDISCOPE_LAKE
    root: Path  # where its files are on disk
    parameters: dict[str, str]  # the flow's lake parameters
    hdfs_root: Path | None = None  # PutHDFS writes here (the WebHDFS double's disk)


@pytest.fixture
def lake(flow: dict[str, Any], tmp_path: Path, request: pytest.FixtureRequest) -> Lake:
    """The lake the flow lands into: a directory (PutFile) or the WebHDFS double (PutHDFS, at the flow's default
    ``hdfs_dir``), fediscope reading it through its own backend."""
    if flow["_file"] == "mastodon_to_files.json":
        root = tmp_path / "lake"
        return Lake(str(root), root, {"lake_dir": str(root)})
    hdfs = request.getfixturevalue("webhdfs_server")
    name = flow["parameterContexts"][flow["flowContents"]["parameterContextName"]]["parameters"]
    hdfs_dir = next(p["value"] for p in name if p["name"] == "hdfs_dir")
    return Lake(hdfs.lake_url(hdfs_dir), hdfs.local(hdfs_dir), {"hdfs_dir": hdfs_dir}, hdfs.root)


@pytest.fixture
def start_api(lake: Lake) -> Iterator[Callable[[str], str]]:
    """``start_api(instance_url)``: the scraping API over real HTTP (a free port), that instance allowlisted,
    landing into ``lake``; its URL."""
    from werkzeug.serving import make_server

    from api import create_app
    from fediscope.config import Settings

    servers = []

    def start(instance_url: str) -> str:
        settings = Settings(api_key=(KEY,), pseudonym_key=PSEUDONYM_KEY, instances=(instance_url,),
                            allow_private_addresses=True, lake=lake.url, api_rate_limit=0)
        server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api_url(mastodon_server: Any, start_api: Callable[[str], str]) -> str:
    """The scraping API in front of the Mastodon double."""
    return start_api(mastodon_server.url)


def runner_for(flow: dict[str, Any], lake: Lake, api_url: str, instance: str) -> FlowRunner:
    context = flow["parameterContexts"][flow["flowContents"]["parameterContextName"]]["parameters"]
    parameters = {p["name"]: p.get("value") or "" for p in context}
    parameters |= {"api_url": api_url, "api_key": KEY, "instance": instance, "hashtag": TAG} | lake.parameters
    return FlowRunner(flow, parameters, hdfs_root=lake.hdfs_root)


def served_records(runner: FlowRunner, since: int = 0) -> list[dict[str, Any]]:
    """The records of the pages the API answered (from the ``since``-th request on)."""
    return [record for exchange in runner.exchanges[since:] if exchange.status == 200
            for record in json.loads(exchange.body)["records"]]


def raw_records(lake: Lake) -> dict[str, list[dict[str, Any]]]:
    """The raw lake as fediscope reads it (its own backend, WebHDFS included): partition → records."""
    backend = open_lake(lake.url)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in raw_batch_files(backend, "statuses"):
        found.setdefault(path.rsplit("/", 1)[0], []).extend(read_batch(backend, path))
    return found


def process(lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
            ) -> dict[str, Any]:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY)
    code, out, err = run(capsys, "process", "--engine", "duckdb", "--lake", lake.url,
                         "--store", f"sqlite:///{tmp_path / 'metrics.db'}", "--json", "--no-progress")
    assert code == 0, err
    return dict(json.loads(out))


def writer(flow: dict[str, Any]) -> str:
    return "Land in HDFS" if flow["_file"] == "mastodon_to_hdfs.json" else "Land in lake directory"


def batch_files(lake: Lake) -> list[str]:
    """Names of the raw batch files fediscope finds in the lake."""
    return sorted(p.rsplit("/", 1)[1] for p in raw_batch_files(open_lake(lake.url), "statuses"))


def curated_status_ids(lake: Lake) -> list[str]:
    files = sorted((lake.root / "curated" / "statuses").rglob("*.parquet"))
    return [str(row["status_id"]) for file in files for row in pq.read_table(file, columns=["status_id"]).to_pylist()]


def test_a_page_landed_by_the_flow_is_curated_and_the_next_poll_adds_only_new_statuses(
        flow: dict[str, Any], lake: Lake, api_url: str, mastodon_server: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tagged = [s["id"] for s in mastodon_server.public_statuses() if any(t["name"] == TAG for t in s["tags"])]
    assert len(tagged) > 40, "the first walk should take more than one page"
    runner = runner_for(flow, lake, api_url, mastodon_server.domain)

    runner.poll()
    queries = [dict(parse_qsl(urlsplit(e.url).query)) for e in runner.exchanges]
    assert [e.status for e in runner.exchanges] == [200] * len(runner.exchanges) and len(queries) >= 2
    assert all(urlsplit(e.url).path == f"/v1/timelines/tag/{TAG}" for e in runner.exchanges)
    served = served_records(runner)
    assert [r["data"]["id"] for r in served] == tagged, "the walk pages down the whole timeline, once"
    # landed byte-for-byte what was served, one batch file per partition, where fediscope reads it from
    raw = raw_records(lake)
    fetched = {datetime.fromisoformat(r["meta"]["fetched_at"]).date() for r in served}
    assert set(raw) == {layout.partition_dir("statuses", mastodon_server.domain, day) for day in fetched}
    assert sorted(r["data"]["id"] for records in raw.values() for r in records) == sorted(tagged)
    assert {json.dumps(r, sort_keys=True) for records in raw.values() for r in records} == \
        {json.dumps(r, sort_keys=True) for r in served}
    assert [w.processor for w in runner.written] == [writer(flow)] * len(raw), "nothing quarantined"
    assert batch_files(lake) == sorted(w.filename for w in runner.written), "fediscope reads what was written"

    first = process(lake, tmp_path, monkeypatch, capsys)
    assert first["ok"] and first["curate"]["raw_files"] == len(raw)
    assert sorted(curated_status_ids(lake)) == sorted(tagged)

    # the next poll: new statuses, asked for above the checkpoint (since_id), landed once, beside the first batch
    checkpoint = tagged[0]
    new = [s["id"] for s in mastodon_server.add_statuses(20) if any(t["name"] == TAG for t in s["tags"])]
    assert new
    asked = len(runner.exchanges)
    runner.poll()
    second_queries = [dict(parse_qsl(urlsplit(e.url).query)) for e in runner.exchanges[asked:]]
    assert second_queries[0].get("since_id") == checkpoint and "max_id" not in second_queries[0]
    second_served = served_records(runner, asked)
    assert sorted(r["data"]["id"] for r in second_served) == sorted(new)
    after = raw_records(lake)
    ids = Counter(r["data"]["id"] for records in after.values() for r in records)
    assert set(ids) == set(tagged) | set(new) and max(ids.values()) == 1, "no status landed twice"
    landed = runner.written[len(raw):]
    days = {datetime.fromisoformat(r["meta"]["fetched_at"]).date() for r in second_served}
    assert [w.processor for w in landed] == [writer(flow)] * len(days)
    backend = open_lake(lake.url)
    new_files = [p for p in raw_batch_files(backend, "statuses") if p.rsplit("/", 1)[1] in {w.filename for w in landed}]
    assert sorted(p.rsplit("/", 1)[0] for p in new_files) == \
        sorted(layout.partition_dir("statuses", mastodon_server.domain, day) for day in days)
    for day in days:  # each new batch in its fetch day's partition, beside (not over) the first poll's
        (path,) = [p for p in new_files if p.startswith(layout.partition_dir("statuses", mastodon_server.domain, day))]
        assert sorted(r["data"]["id"] for r in read_batch(backend, path)) == \
            sorted(r["data"]["id"] for r in second_served if r["meta"]["fetched_at"].startswith(str(day)))
    assert batch_files(lake) == sorted(w.filename for w in runner.written)

    second = process(lake, tmp_path, monkeypatch, capsys)
    assert second["ok"] and not second["curate"].get("noop")
    curated = curated_status_ids(lake)
    assert sorted(curated) == sorted(tagged + new) and len(curated) == len(set(curated))


def _other_key_in_lake(lake: Lake) -> None:
    """The lake now holds the key check of another pseudonym key than the API's (landed by a collector with
    another key): the API answers 503 ``key_mismatch`` until its operator restarts it with the lake's key."""
    from fediscope.config import Settings
    from fediscope.lake.key_check import KEY_CHECK_PATH, check_landing_key

    backend = open_lake(lake.url)
    backend.delete(KEY_CHECK_PATH)
    check_landing_key(Settings(pseudonym_key="another-pseudonym-key-0123456789abcdef", lake=lake.url), backend)


#: How each answer a retry cannot help is provoked for real: the API's status and error code, and what the
#: instance (the Mastodon double) or the lake does to cause it.
PERMANENT: dict[str, tuple[int, Callable[[Any, Lake], None]]] = {
    "upstream_tls_error": (502, lambda double, lake: None),  # the API asks https:// of the plain-HTTP double
    "upstream_redirect_refused": (502, lambda double, lake: double.redirect("http://elsewhere.example:9", times=20)),
    "upstream_rejected": (502, lambda double, lake: double.fail(403, times=20, error="This action is not allowed")),
    "key_mismatch": (503, lambda double, lake: _other_key_in_lake(lake)),
}


@pytest.mark.parametrize("code", list(PERMANENT))
def test_an_answer_a_retry_cannot_help_is_quarantined_at_once(flow: dict[str, Any], lake: Lake,
                                                               mastodon_server: Any,
                                                               start_api: Callable[[str], str], code: str) -> None:
    """A 5xx whose error code says the same request fails the same way (the instance's TLS, its redirect or
    refusal, the lake's other key) is quarantined with the API's answer after one request: InvokeHTTP sends every
    5xx to ``Retry``, so it was asked 5 more times, a minute apart, before the same quarantine."""
    status, cause = PERMANENT[code]
    instance_url = mastodon_server.url.replace("http://", "https://") if code == "upstream_tls_error" \
        else mastodon_server.url
    api_url = start_api(instance_url)
    cause(mastodon_server, lake)
    runner = runner_for(flow, lake, api_url, mastodon_server.domain)
    runner.poll()
    assert [(e.status, json.loads(e.body)["error"]["code"]) for e in runner.exchanges] == [(status, code)]
    (quarantined,) = runner.written
    assert quarantined.processor == "Quarantine"
    assert quarantined.filename.startswith("nifi_unprocessable-")
    described = json.loads(quarantined.content)
    directory = f"quarantine/instance={mastodon_server.domain}/dt={described['at'][:10]}"
    root = next(iter(lake.parameters.values()))
    assert quarantined.directory == f"{root}/" + (directory.replace(":", "%3A") if lake.hdfs_root else directory)
    assert described["status"] == str(status) and f'"code":"{code}"' in described["answer"]
    # the API's whole answer, its message to the end (InvokeHTTP kept 256 bytes: a TLS error's answer is 271)
    assert json.loads(described["answer"]) == json.loads(runner.exchanges[0].body)
    assert batch_files(lake) == []


def test_an_answer_a_retry_can_help_is_still_retried(flow: dict[str, Any], lake: Lake, mastodon_server: Any,
                                                      api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The instance failing (502 ``upstream_unavailable``: the API retried once itself) is asked again by the flow,
    and the page lands. The flow asks again after its penalty, which outlasts the API's memory of an instance found
    down (503 ``upstream_down`` meanwhile, unsent); time does not pass in the runner, so that memory is off here."""
    import api.upstream

    (retry,) = [p for p in flow["flowContents"]["processors"] if p["name"] == "Retry fetch"]
    penalty = retry["penaltyDuration"]
    assert penalty == "1 min" and api.upstream.DOWN_MEMORY < 60, penalty
    monkeypatch.setattr(api.upstream, "DOWN_MEMORY", 0.0)
    mastodon_server.fail(503, times=2)
    runner = runner_for(flow, lake, api_url, mastodon_server.domain)
    runner.poll()
    assert [e.status for e in runner.exchanges][:2] == [502, 200]
    assert json.loads(runner.exchanges[0].body)["error"]["code"] == "upstream_unavailable"
    assert [w.processor for w in runner.written] == [writer(flow)]
    assert len(served_records(runner)) > 40


def test_every_code_the_flows_quarantine_at_once_is_provoked_above(build_flows: Any) -> None:
    """The codes ``Throttled?`` lets through to the quarantine are the ones the test above gets from the real API:
    a code the API renamed would be retried again, unnoticed."""
    assert set(build_flows.PERMANENT_ERRORS) == set(PERMANENT)


#: The longest answer the API gives to the flow's request: a 400 quoting an ``instance`` that is no address (its
#: first 100 characters, each 12 bytes JSON-escaped), its unreadable port in the reason too.
LONGEST_INSTANCE = "a:" + "\N{GRINNING FACE}" * 298


def test_the_longest_answer_the_api_gives_is_quarantined_whole(flow: dict[str, Any], lake: Lake, api_url: str,
                                                                build_flows: Any) -> None:
    """``Describe failed request`` quarantines the API's answer from ``invokehttp.response.body``, which InvokeHTTP
    cut at 256 bytes: the message, which says what to do, was lost. The flow keeps ``RESPONSE_BODY_BYTES``, more
    than the API ever answers this request with."""
    runner = runner_for(flow, lake, api_url, LONGEST_INSTANCE)
    runner.poll()
    (exchange,) = runner.exchanges
    assert exchange.status == 400 and json.loads(exchange.body)["error"]["parameter"] == "instance"
    assert 1024 < len(exchange.body) <= build_flows.RESPONSE_BODY_BYTES  # InvokeHTTP kept 256 bytes of it
    (quarantined,) = runner.written
    assert quarantined.processor == "Quarantine" and "/quarantine/instance=_invalid/" in quarantined.directory + "/"
    assert json.loads(json.loads(quarantined.content)["answer"]) == json.loads(exchange.body)


def _fetch_page_without(flow: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The flow with ``Fetch page``'s properties ``keys`` removed, as a user might leave them."""
    changed = copy.deepcopy(flow)
    (fetch,) = [p for p in changed["flowContents"]["processors"] if p["name"] == "Fetch page"]
    for key in keys:
        del fetch["properties"][key], fetch["propertyDescriptors"][key]
    return changed


def test_the_answer_size_applies_only_with_an_attribute_name(flow: dict[str, Any], lake: Lake,
                                                             mastodon_server: Any,
                                                             start_api: Callable[[str], str]) -> None:
    """NiFi's InvokeHTTP reads ``Response Body Attribute Size`` only when ``Response Body Attribute Name`` is set
    (the property depends on it); otherwise it keeps 256 bytes of a failed request's answer. Setting the size alone
    changes nothing in NiFi, so it must change nothing here either."""
    runner = runner_for(_fetch_page_without(flow, "Response Body Attribute Name"), lake,
                        start_api(mastodon_server.url.replace("http://", "https://")), mastodon_server.domain)
    runner.poll()
    (exchange,) = runner.exchanges
    assert json.loads(exchange.body)["error"]["code"] == "upstream_tls_error" and len(exchange.body) > 256
    (quarantined,) = runner.written
    assert json.loads(quarantined.content)["answer"] == exchange.body[:256].decode()


def test_a_page_needs_response_generation_once_the_answer_goes_to_an_attribute(
        flow: dict[str, Any], lake: Lake, api_url: str, mastodon_server: Any) -> None:
    """With ``Response Body Attribute Name`` set, InvokeHTTP puts a 2xx answer into that attribute of the request
    FlowFile (``Original``, dropped) instead of a ``Response``, unless ``Response Generation Required`` is true:
    without it the flow would fetch a page and land nothing."""
    runner = runner_for(_fetch_page_without(flow, "Response Generation Required"), lake, api_url,
                        mastodon_server.domain)
    runner.poll()
    assert [e.status for e in runner.exchanges] == [200]
    assert runner.written == []
    runner = runner_for(flow, lake, api_url, mastodon_server.domain)
    runner.poll()
    assert [w.processor for w in runner.written] == [writer(flow)]


def _fetching(flow: dict[str, Any], route: str) -> dict[str, Any]:
    """The flow with ``Fetch page`` asking ``route`` instead of the hashtag's, its query kept, as
    nifi_templates/README.md tells to follow another timeline."""
    changed = copy.deepcopy(flow)
    (fetch,) = [p for p in changed["flowContents"]["processors"] if p["name"] == "Fetch page"]
    url = fetch["properties"]["HTTP URL"]
    head = "append('/v1/timelines/tag/'):append(${#{hashtag}:urlEncode()}):append('?instance=')"
    assert head in url
    fetch["properties"]["HTTP URL"] = url.replace(head, f"append('{route}?instance=')")
    return changed


@pytest.mark.parametrize("privacy", [True, False])
def test_an_erased_accounts_route_is_quarantined_without_its_handle(flow: dict[str, Any], lake: Lake,
                                                                   mastodon_server: Any, privacy: bool) -> None:
    """A flow set to follow an account's statuses (nifi_templates/README.md) after that account was erased: the API
    answers 410 ``erased_account`` without asking the instance, and the flow quarantines a description of the failed
    request at every poll (``nifi_unprocessable-…``), written by NiFi, which fediscope never sees. Was: its ``url``
    named the erased account (``/v1/accounts/<user@domain>/statuses``), with privacy on or off, so its handle was in
    the lake again after the erasure, in a new file every poll. The flow masks an account route's account."""
    from werkzeug.serving import make_server

    from api import create_app
    from fediscope.config import Settings
    from fediscope.gdpr.erase import erase_account

    user = "mastodonpy_test_2"
    handle = f"{user}@{mastodon_server.domain}"
    settings = Settings(api_key=(KEY,), pseudonym_key=PSEUDONYM_KEY, instances=(mastodon_server.url,),
                        allow_private_addresses=True, lake=lake.url, api_rate_limit=0, privacy=privacy)
    open_lake(lake.url).write_atomic(f"{layout.STATE_ROOT}/.keep", b"")  # a lake, empty: nothing of it held
    erase_account(settings, handle)
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        runner = runner_for(_fetching(flow, f"/v1/accounts/{handle}/statuses"), lake,
                            f"http://127.0.0.1:{server.server_port}", mastodon_server.domain)
        runner.poll()
    finally:
        server.shutdown()
        server.server_close()
    assert [(e.status, json.loads(e.body)["error"]["code"]) for e in runner.exchanges] == [(410, "erased_account")]
    assert user in runner.exchanges[0].url  # what makes the test meaningful: the request named it
    (quarantined,) = runner.written
    assert quarantined.processor == "Quarantine" and quarantined.filename.startswith("nifi_unprocessable-")
    described = json.loads(quarantined.content)
    assert user not in quarantined.content.decode() and "/v1/accounts/***/statuses?instance=" in described["url"]
    assert '"code":"erased_account"' in described["answer"]  # still says what went wrong
