"""``account:alice`` and ``account:alice@<the instance's own domain>`` are one source: one checkpoint, one collection,
against the sample instance served over real HTTP on 127.0.0.1 (its own domain is the address it is served at).

Was: each spelling had its own checkpoint, so the same timeline was collected twice into the raw lake (curation
kept one copy, but raw files and requests doubled).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fediscope.config import Settings, SourceSpec
from fediscope.errors import LakeError
from fediscope.lake.layout import state_path
from fediscope.lake.local import LocalLake
from fediscope.lake.state import checkpoint_source
from fediscope.orchestration import collection_targets
from fediscope.privacy import policy_from_settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

ACCT = "ada_raven"  # a local account of the sample instance below, with 19 public statuses


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(400, seed=5), rate_limit=100_000) as running:
        yield running


def domain_of(server: SampleServer) -> str:
    return server.url.split("//", 1)[1]


def served_ids(server: SampleServer) -> set[str]:
    """The ids of the account's statuses, as the instance serves them (one page of 40: all of them)."""
    with urllib.request.urlopen(f"{server.url}/api/v1/accounts/lookup?acct={ACCT}", timeout=10) as reply:
        account_id = json.load(reply)["id"]
    with urllib.request.urlopen(f"{server.url}/api/v1/accounts/{account_id}/statuses?limit=40", timeout=10) as reply:
        return {status["id"] for status in json.load(reply)}


def state_files(lake_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(lake_dir / "_state")) for p in (lake_dir / "_state").rglob("*.json")
                  if p.parent.name != "_state")


@pytest.mark.parametrize("privacy", [True, False])
def test_two_spellings_of_one_account_are_collected_once(server, make_settings, lake, lake_dir, privacy) -> None:
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    both = [(server.url, parse_source(f"account:{ACCT}@{domain_of(server).upper()}")),
            (server.url, parse_source(f"account:{ACCT}"))]
    summary = run_collection(settings, both, progress=False)
    assert summary.ok and len(summary.sources) == 1, summary.line()
    # --json names it as first written
    assert summary.to_dict()["sources"][0]["source"] == f"account:{ACCT}@{domain_of(server).upper()}"
    assert summary.landed == len(served_ids(server)) > 10
    assert max(lake.ids().values()) == 1
    # one checkpoint and one walk start, named as the bare name's (by its digest while privacy is on)
    policy = policy_from_settings(settings) if privacy else None
    name = Path(state_path(domain_of(server), checkpoint_source(f"account:{ACCT}", policy))).name
    assert state_files(lake_dir) == [f"{domain_of(server)}/{name}", f"{domain_of(server)}/start/{name}"]
    if privacy:
        assert ACCT not in " ".join(str(p) for p in lake_dir.rglob("*"))


@pytest.mark.parametrize("bare_too", [False, True], ids=["moved", "merged"])
def test_a_lake_checkpointed_under_the_spelling_with_the_domain_goes_on_where_it_was(
        server, make_settings, lake, lake_dir, caplog, bare_too: bool) -> None:
    """A lake collected by an earlier fediscope under ``account:alice@<domain>`` keeps its checkpoint: the run
    that collects it under the bare name moves it (``moved``) rather than walking the timeline again; where the
    bare name has its own already (the timeline was collected twice), the other spelling's is deleted (``merged``)."""
    settings = make_settings()
    policy = policy_from_settings(settings)
    domain = domain_of(server)
    spelled = f"account:{ACCT}@{domain}"
    bare = lake_dir / state_path(domain, checkpoint_source(f"account:{ACCT}", policy))
    old = lake_dir / state_path(domain, checkpoint_source(spelled, policy))
    summary = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert summary.landed == len(served_ids(server))
    # the state as the earlier fediscope kept it, under the spelling with the domain
    for path in (bare, bare.parent / "start" / bare.name):
        target = path.parent / old.name
        target.write_bytes(path.read_bytes())
        if not bare_too:
            path.unlink()
    checkpoint = json.loads(old.read_text())
    with caplog.at_level(logging.INFO, logger="fediscope"):
        again = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert again.ok and again.landed == 0 and again.fetched == 0, again.line()  # nothing walked again
    assert again.sources[0].checkpoint == checkpoint["newest_id"]
    assert state_files(lake_dir) == [f"{domain}/{bare.name}", f"{domain}/start/{bare.name}"]
    said = "is its own from now on" if not bare_too else "is deleted: the source's own checkpoint covers"
    assert [r.getMessage() for r in caplog.records if said in r.getMessage()] == [
        f"{domain} {checkpoint_source(f'account:{ACCT}', policy)}: the checkpoint kept under its spelling with the "
        f"instance's domain {said}" + (" the same timeline" if bare_too else "")]
    assert ACCT not in caplog.text


def test_the_ingest_dag_maps_two_spellings_of_one_account_to_one_task(server, make_settings) -> None:
    """Two mapped tasks would walk one timeline at once, each under its own checkpoint."""
    timelines = ("public", f"account:{ACCT}@{domain_of(server)}", f"account:{ACCT}", f"account:{ACCT}@other.example")
    settings: Settings = make_settings(sources=(SourceSpec(server.url, timelines),))
    assert collection_targets(settings) == [
        {"instance": server.url, "source": "public"},
        {"instance": server.url, "source": f"account:{ACCT}"},
        {"instance": server.url, "source": f"account:{ACCT}@other.example"}]


@pytest.mark.parametrize("privacy", [True, False])
def test_two_cases_of_one_account_are_one_source(server, make_settings, lake, lake_dir, privacy) -> None:
    """Mastodon looks a handle up whatever its case. Was: with privacy off ``account:Ada_Raven`` and
    ``account:ada_raven`` had a checkpoint each (the walk lock was already one), so the timeline was collected
    twice; in one run (privacy on or off) they were two sources."""
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    first = run_collection(settings, [(server.url, parse_source(f"account:{ACCT.title()}"))], progress=False)
    assert first.ok and first.landed == len(served_ids(server))
    again = run_collection(settings, [(server.url, parse_source(f"account:{ACCT.upper()}")),
                                      (server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert again.ok and len(again.sources) == 1 and again.fetched == 0, again.line()
    assert again.to_dict()["sources"][0]["source"] == f"account:{ACCT.upper()}"  # as first written
    assert max(lake.ids().values()) == 1
    policy = policy_from_settings(settings) if privacy else None
    name = Path(state_path(domain_of(server), checkpoint_source(f"account:{ACCT}", policy))).name
    assert state_files(lake_dir) == [f"{domain_of(server)}/{name}", f"{domain_of(server)}/start/{name}"]
    if privacy:
        assert ACCT not in " ".join(str(p) for p in lake_dir.rglob("*")).lower()


@pytest.mark.parametrize("privacy", [True, False])
@pytest.mark.parametrize("bare_too", [False, True], ids=["moved", "merged"])
def test_a_lake_checkpointed_under_another_case_goes_on_where_it_was(
        server, make_settings, lake_dir, caplog, privacy: bool, bare_too: bool) -> None:
    """A checkpoint named after the handle as written in another case — by a fediscope that kept the case (privacy
    off), or one from before keyed digests (privacy on) — is the source's from now on, or deleted where the source
    has its own; the log line names the source as the run's other lines do, without the handle while privacy is on."""
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    policy = policy_from_settings(settings) if privacy else None
    domain = domain_of(server)
    bare = lake_dir / state_path(domain, checkpoint_source(f"account:{ACCT}", policy))
    old = lake_dir / state_path(domain, f"account:{ACCT.title()}")  # named after the handle as written
    summary = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert summary.landed == len(served_ids(server))
    for path in (bare, bare.parent / "start" / bare.name):
        (path.parent / old.name).write_bytes(path.read_bytes())
        if not bare_too:
            path.unlink()
    checkpoint = json.loads(old.read_text())
    with caplog.at_level(logging.INFO, logger="fediscope"):
        again = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert again.ok and again.landed == 0 and again.fetched == 0, again.line()
    assert again.sources[0].checkpoint == checkpoint["newest_id"]
    assert state_files(lake_dir) == [f"{domain}/{bare.name}", f"{domain}/start/{bare.name}"]
    said = "is its own from now on" if not bare_too else "is deleted: the source's own checkpoint covers"
    named = checkpoint_source(f"account:{ACCT}", policy) if privacy else f"account:{ACCT}"
    assert [r.getMessage() for r in caplog.records if said in r.getMessage()] == [
        f"{domain} {named}: the checkpoint kept under its spelling in another case {said}"
        + (" the same timeline" if bare_too else "")]
    if privacy:
        assert ACCT not in caplog.text.lower()


@pytest.mark.parametrize("privacy", [True, False])
def test_the_log_line_of_a_spelling_in_another_case_and_with_the_domain_names_both(
        server, make_settings, lake_dir, caplog, privacy: bool) -> None:
    """``account:Ada_Raven@<domain>`` of ``account:ada_raven``: a checkpoint named after that handle as written (an
    older fediscope) is the source's from now on, and the log line says it differs in case and by the instance's
    domain. Was: "its spelling in another case", as for ``account:Ada_Raven``."""
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    policy = policy_from_settings(settings) if privacy else None
    domain = domain_of(server)
    bare = lake_dir / state_path(domain, checkpoint_source(f"account:{ACCT}", policy))
    old = lake_dir / state_path(domain, f"account:{ACCT.title()}@{domain}")  # named after the handle as written
    summary = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert summary.landed == len(served_ids(server))
    for path in (bare, bare.parent / "start" / bare.name):
        path.rename(path.parent / old.name)
    checkpoint = json.loads(old.read_text())
    with caplog.at_level(logging.INFO, logger="fediscope"):
        again = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert again.ok and again.fetched == 0 and again.sources[0].checkpoint == checkpoint["newest_id"], again.line()
    assert state_files(lake_dir) == [f"{domain}/{bare.name}", f"{domain}/start/{bare.name}"]
    named = checkpoint_source(f"account:{ACCT}", policy) if privacy else f"account:{ACCT}"
    assert [r.getMessage() for r in caplog.records if "is its own from now on" in r.getMessage()] == [
        f"{domain} {named}: the checkpoint kept under its spelling in another case and with the instance's domain "
        "is its own from now on"]
    if privacy:
        assert ACCT not in caplog.text.lower()


@pytest.mark.parametrize("privacy", [True, False])
def test_a_run_stopped_while_it_moves_another_spellings_state_loses_none_of_it(
        server, make_settings, lake_dir, monkeypatch, privacy: bool) -> None:
    """The first run after an upgrade, stopped (here: the lake refuses a write) while it moves the state an earlier
    fediscope kept under ``account:alice@<domain>`` to ``account:alice``: the next run still moves the walk start.
    Was: the checkpoint was moved first, so the next run found the source with its own checkpoint and deleted the
    spelling's walk start as a duplicate; where the source's first walk ended was no longer known (the report's
    first day ``(partial?)``)."""
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    policy = policy_from_settings(settings) if privacy else None
    domain = domain_of(server)
    bare = lake_dir / state_path(domain, checkpoint_source(f"account:{ACCT}", policy))
    old = lake_dir / state_path(domain, checkpoint_source(f"account:{ACCT}@{domain}", policy))
    first = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert first.ok and first.landed == len(served_ids(server))
    start = (bare.parent / "start" / bare.name).read_bytes()
    for path in (bare, bare.parent / "start" / bare.name):  # the state as the earlier fediscope kept it
        (path.parent / old.name).write_bytes(path.read_bytes())
        path.unlink()

    write = LocalLake.write_atomic

    def refuse_one(self: LocalLake, path: str, data: bytes) -> None:
        if "/start/" not in path:
            return write(self, path, data)
        monkeypatch.setattr(LocalLake, "write_atomic", write)  # once
        raise LakeError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(LocalLake, "write_atomic", refuse_one)
    stopped = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert not stopped.ok and "No space left on device" in str(stopped.sources[0].error)
    again = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert again.ok and again.fetched == 0, again.line()  # nothing walked again
    assert state_files(lake_dir) == [f"{domain}/{bare.name}", f"{domain}/start/{bare.name}"]
    assert (bare.parent / "start" / bare.name).read_bytes() == start
