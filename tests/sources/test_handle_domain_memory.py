"""The handle domain an instance was last seen to have is remembered in the lake, so a run that cannot read the
instance document keys the instance's local accounts as the runs before did (one person, one key).

The home instance is the recorded Mastodon double reached as ``social.example.test`` (resolved to 127.0.0.1 for
the test) with its recorded instance document declaring ``example.test``; a later run finds both instance
documents answering 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_run import clean_env, run
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, PUBLIC, WEB_HOST

from fediscope.config import Settings
from fediscope.errors import LakeError
from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings
from fediscope.sources.collector import run_collection
from fediscope.sources.handle_domains import (
    HANDLE_DOMAINS_PATH,
    load_handle_domains,
    preload_handle_domains,
    remember_handle_domain,
    served_domains,
)
from fediscope.sources.spec import parse_source
from fediscope.sources.stream import StreamRun


def fail_instance_documents(double: MastodonDouble) -> None:
    for path in ("/api/v2/instance", "/api/v1/instance"):
        double.fail(status=500, times=1000, path=path)


def landed_domains(lake_dir: Path, domain: str, batches: set[Path] | None = None) -> set[str]:
    """The author ``domain`` fields of the statuses landed from ``domain`` (in ``batches`` only, when given)."""
    found = set()
    for path in (lake_dir / "raw" / "mastodon" / "statuses").rglob("*.jsonl"):
        if batches is not None and path not in batches:
            continue
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["meta"]["instance"] == domain:
                found.add(record["data"]["account"]["domain"])
    assert found
    return found


def batch_files(lake_dir: Path) -> set[Path]:
    return set((lake_dir / "raw" / "mastodon" / "statuses").rglob("*.jsonl"))


def test_a_run_that_cannot_read_the_document_keys_by_the_remembered_handle_domain(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings()
    run_collection(settings, [(home.url, PUBLIC)])
    assert load_handle_domains(open_lake(str(lake_dir))) == {home.domain: HANDLE_DOMAIN}
    first = batch_files(lake_dir)
    assert landed_domains(lake_dir, home.domain) == {HANDLE_DOMAIN}

    fail_instance_documents(home)
    home.add_statuses(15)  # the next run has new statuses to land
    with caplog.at_level(logging.INFO, logger="fediscope.sources.handle_domains"):
        summary = run_collection(settings, [(home.url, PUBLIC)])
    assert [r.status for r in summary.sources] == ["ok"]
    assert summary.sources[0].landed > 0
    later = batch_files(lake_dir) - first
    assert later and landed_domains(lake_dir, home.domain, later) == {HANDLE_DOMAIN}
    policy = policy_from_settings(settings)
    users = {s["account"]["acct"] for s in home.public_statuses()}
    authors = {json.loads(line)["data"]["account"]["acct"] for p in later for line in p.read_text().splitlines()}
    assert authors <= {policy.account_key(f"{user}@{HANDLE_DOMAIN}") for user in users}
    said = [r for r in caplog.records if "remembered" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO and HANDLE_DOMAIN in said[0].getMessage()
    assert load_handle_domains(open_lake(str(lake_dir))) == {home.domain: HANDLE_DOMAIN}  # unchanged


def test_the_stream_uses_the_handle_domain_a_collection_remembered(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake_dir: Path) -> None:
    settings = make_settings()
    run_collection(settings, [(home.url, parse_source("instance"))])  # learns and remembers it; lands no status
    assert not (lake_dir / "raw" / "mastodon" / "statuses").exists()
    fail_instance_documents(home)
    summary = StreamRun(settings, home.url, PUBLIC, max_events=6, flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert landed_domains(lake_dir, home.domain) == {HANDLE_DOMAIN}


def test_the_stream_remembers_what_it_learned(home: MastodonDouble, make_settings: Callable[..., Settings],
                                             lake_dir: Path) -> None:
    summary = StreamRun(make_settings(), home.url, PUBLIC, max_events=6, flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert load_handle_domains(open_lake(str(lake_dir))) == {home.domain: HANDLE_DOMAIN}


def test_a_settled_answer_replaces_the_remembered_one(
        monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], lake_dir: Path) -> None:
    """The server's document now names no parent domain: that is remembered (null), and a later run that cannot
    read the document keys by the served domain, as the run before it did."""
    resolve_to_loopback(monkeypatch, WEB_HOST)
    lake = open_lake(str(lake_dir))
    with MastodonDouble(statuses=10, hostname=WEB_HOST) as home:  # the recorded document: localhost:3000
        remember_handle_domain(lake, home.domain, HANDLE_DOMAIN)
        run_collection(make_settings(), [(home.url, PUBLIC)])
        assert load_handle_domains(lake) == {home.domain: None}
        first = batch_files(lake_dir)
        fail_instance_documents(home)
        home.add_statuses(5)
        run_collection(make_settings(), [(home.url, PUBLIC)])
        later = batch_files(lake_dir) - first
        assert later and landed_domains(lake_dir, home.domain, later) == {home.domain}


def test_the_file_is_written_only_when_the_answer_changes_and_never_for_hosts_without_a_parent(
        lake_dir: Path) -> None:
    lake = open_lake(str(lake_dir))
    assert remember_handle_domain(lake, "Social.Example.test", HANDLE_DOMAIN)
    assert not remember_handle_domain(lake, WEB_HOST, HANDLE_DOMAIN)
    assert remember_handle_domain(lake, "chat.other.test:8443", None)
    assert not remember_handle_domain(lake, "127.0.0.1:3000", None)
    assert not remember_handle_domain(lake, "mastodon.social", None)
    document = json.loads((lake_dir / HANDLE_DOMAINS_PATH).read_text())
    assert set(document["instances"]) == {WEB_HOST, "chat.other.test:8443"}
    assert document["instances"][WEB_HOST]["learned_at"]
    assert load_handle_domains(lake) == {WEB_HOST: HANDLE_DOMAIN, "chat.other.test:8443": None}
    assert served_domains(load_handle_domains(lake), HANDLE_DOMAIN) == {HANDLE_DOMAIN, WEB_HOST}
    assert served_domains(load_handle_domains(lake), WEB_HOST) == {HANDLE_DOMAIN, WEB_HOST}
    assert served_domains(load_handle_domains(lake), "mastodon.social") == {"mastodon.social"}


@pytest.mark.parametrize("content", [
    "{not json", '["a list"]', '{"instances": {"social.example.test": "example.test"}}',
    '{"instances": {"social.example.test": {"handle_domain": "elsewhere.test"}}}',
])
def test_a_damaged_file_is_a_clear_error_and_fails_the_instance_not_the_run(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake_dir: Path, content: str) -> None:
    path = lake_dir / HANDLE_DOMAINS_PATH
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(LakeError, match=r"_state/handle_domains\.json .*damaged.*delete it"):
        load_handle_domains(open_lake(str(lake_dir)))
    with MastodonDouble(statuses=5) as other:
        summary = run_collection(make_settings(), [(home.url, PUBLIC), (other.url, PUBLIC)])
    assert [r.status for r in summary.sources] == ["failed", "ok"]
    assert "handle_domains.json" in str(summary.sources[0].error) and "delete it" in str(summary.sources[0].error)
    assert path.read_text() == content  # left for the user to look at



def test_an_unreadable_memory_warns_of_erasures_and_opt_outs_with_the_fix(
        make_settings: Callable[..., Settings], lake_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Was: `… could not be read (…): an account erased under one of its names is matched under the other only on
    instances this run learns`, though the opt-outs met on another instance are noted under their other name by
    the same memory, and the fix (delete the damaged file) came in the middle of the line, inside the brackets."""
    path = lake_dir / HANDLE_DOMAINS_PATH
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    policy = policy_from_settings(make_settings())
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.handle_domains"):
        preload_handle_domains(open_lake(str(lake_dir)), policy)
    (line,) = [r.getMessage() for r in caplog.records if "handle domains remembered" in r.getMessage()]
    assert line.startswith("the handle domains remembered in the lake could not be read, so an account erased under "
                           "one of its names is matched under the other, and an opted-out account is noted under its "
                           "other name too, only on instances this run learns: _state/handle_domains.json in the lake "
                           "is damaged (not JSON: "), line
    assert line.endswith("; delete it — the next collect, stream or API request that reads an instance's document "
                         "learns its handle domain again"), line
    assert path.read_text() == "{not json"  # left for the user to look at


@pytest.mark.parametrize("command", ["collect", "stream"])
@pytest.mark.parametrize(("memory", "reason", "fix"), [
    ("{not json", "(damaged: not JSON: ", "; delete it (the next collect, stream or API request that reads an "
                                         "instance's document learns its handle domain again); then retry"),
    (None, "(", "; check the lake; then retry"),  # a directory where the file should be: the lake fails to read it
], ids=["damaged", "unreadable"])
def test_an_unreadable_memory_refuses_collect_and_stream_while_anybody_is_erased(
        command: str, memory: str | None, reason: str, fix: str, mastodon_server: MastodonDouble, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: a WARNING, and the run went on, though an account erased under one of its names before the lake knew its
    handle domain is on the suppression list under that name alone: the memory is what finds it under the other, and
    without it the run could land it so. The scraping API answers 503 then; `collect` and `stream` now refuse alike,
    before any request: one line naming the file and its fix (the API's words), exit 1, nothing landed. Nobody
    erased, a damaged file is still only warned about (test_a_damaged_file_is_a_clear_error_and_fails_the_instance_
    not_the_run)."""
    lake_dir = tmp_path / "lake"
    key = "memory-test-pseudonym-key-5c1e9a7b3d2f8e04"
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_PSEUDONYM_KEY=key,
              FEDISCOPE_RETRY_BACKOFF="0.01", FEDISCOPE_MAX_RETRIES="1")
    policy = policy_from_settings(Settings(lake=str(lake_dir), pseudonym_key=key))
    add_suppressed(open_lake(str(lake_dir)), policy.account_key(f"mastodonpy_test_2@social.{HANDLE_DOMAIN}"))
    path = lake_dir / HANDLE_DOMAINS_PATH
    if memory is None:
        path.mkdir()
    else:
        path.write_text(memory)
    bound = ("--max-pages", "1") if command == "collect" else ("--max-events", "3", "--duration", "10")

    code, out, err = run(capsys, command, "--instance", mastodon_server.url, *bound)

    assert code == 1, (out, err)
    assert mastodon_server.log == []
    assert not (lake_dir / "raw").exists()
    [line] = [line for line in err.splitlines() if "handle_domains.json" in line]
    said = line.split("the handle domains remembered in the lake ", 1)[-1]
    assert said.startswith(f"(FEDISCOPE_LAKE), {HANDLE_DOMAINS_PATH}, cannot be read {reason}"), line
    assert said.endswith(fix), line
    assert "so an account erased under one of its names could be landed under the other" in said, line
    assert "Traceback" not in err
