"""A public suffix is nobody's handle domain: an instance at ``social.alice.github.io`` that declares ``github.io``
(or one at ``mastodon.co.uk`` that declares ``co.uk``) keeps its served domain, whether the claim comes from its
instance document or from ``_state/handle_domains.json`` written by an earlier version.

The instances are the recorded Mastodon double under those names (resolved to 127.0.0.1 for the test), its
instance documents declaring the public suffix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import PUBLIC
from test_handle_domain_memory import batch_files, fail_instance_documents, landed_domains

from fediscope.config import Settings
from fediscope.lake.backend import open_lake
from fediscope.sources.collector import run_collection
from fediscope.sources.handle_domains import (
    HANDLE_DOMAINS_PATH,
    load_handle_domains,
    remember_handle_domain,
    remembered_handle_domain,
    served_domains,
)

PAGES_HOST = "social.alice.github.io"  # its parent alice.github.io is registrable: it is asked
SUFFIX_HOST = "mastodon.co.uk"  # its only parents are public suffixes: it is not asked


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    resolve_to_loopback(monkeypatch, PAGES_HOST)
    with MastodonDouble(statuses=20, hostname=PAGES_HOST, handle_domain="github.io") as double:
        yield double


def write_remembered(lake_dir: Path, entries: dict[str, str | None]) -> str:
    """The file as a version that accepted public suffixes wrote it; returns its text."""
    path = lake_dir / HANDLE_DOMAINS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"instances": {served: {"handle_domain": handle, "learned_at": "2026-01-01T00:00:00+00:00"}
                                     for served, handle in entries.items()},
                       "updated_at": "2026-01-01T00:00:00+00:00"}, indent=1)
    path.write_text(text)
    return text


def test_an_instance_declaring_a_public_suffix_keeps_its_served_domain(
        pages: MastodonDouble, make_settings: Callable[..., Settings], lake_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fediscope.sources.pages"):
        summary = run_collection(make_settings(), [(pages.url, PUBLIC)])
    assert [r.status for r in summary.sources] == ["ok"]
    assert len(pages.requests_to("/api/v2/instance")) == 1  # asked: alice.github.io could be a handle domain
    assert landed_domains(lake_dir, pages.domain) == {pages.domain}
    assert load_handle_domains(open_lake(str(lake_dir))) == {pages.domain: None}  # settled: its own
    said = [r.getMessage() for r in caplog.records if "public suffix" in r.getMessage()]
    assert len(said) == 1 and "github.io" in said[0]


def test_a_remembered_public_suffix_is_not_used_and_is_warned_of_once(
        pages: MastodonDouble, make_settings: Callable[..., Settings], lake_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    text = write_remembered(lake_dir, {pages.domain: "github.io"})
    fail_instance_documents(pages)
    settings = make_settings()
    with caplog.at_level(logging.INFO, logger="fediscope.sources.handle_domains"):
        first = run_collection(settings, [(pages.url, PUBLIC)])
        before = batch_files(lake_dir)
        pages.add_statuses(5)
        second = run_collection(settings, [(pages.url, PUBLIC)])
    assert [r.status for r in (*first.sources, *second.sources)] == ["ok", "ok"]  # not a damaged file
    assert landed_domains(lake_dir, pages.domain) == {pages.domain}
    assert landed_domains(lake_dir, pages.domain, batch_files(lake_dir) - before) == {pages.domain}
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "github.io" in warned[0].getMessage() and "public suffix" in warned[0].getMessage()
    assert not any("keyed by github.io" in r.getMessage() for r in caplog.records)
    lake = open_lake(str(lake_dir))
    assert remembered_handle_domain(lake, pages.domain) is None
    assert load_handle_domains(lake) == {pages.domain: "github.io"}  # as recorded: what those runs keyed by
    assert (lake_dir / HANDLE_DOMAINS_PATH).read_text() == text


def test_a_host_under_a_public_suffix_is_not_asked_and_its_remembered_suffix_not_used(
        monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], lake_dir: Path) -> None:
    resolve_to_loopback(monkeypatch, SUFFIX_HOST)
    with MastodonDouble(statuses=10, hostname=SUFFIX_HOST, handle_domain="co.uk") as home:
        write_remembered(lake_dir, {home.domain: "co.uk"})
        summary = run_collection(make_settings(), [(home.url, PUBLIC)])
        assert [r.status for r in summary.sources] == ["ok"]
        assert home.requests_to("/api/v2/instance") == [] and home.requests_to("/api/v1/instance") == []
        assert landed_domains(lake_dir, home.domain) == {home.domain}
        assert remembered_handle_domain(open_lake(str(lake_dir)), home.domain) is None


def test_a_public_suffix_is_never_written_to_the_file(lake_dir: Path) -> None:
    lake = open_lake(str(lake_dir))
    for served, handle in ((PAGES_HOST, "github.io"), ("social.x.co.uk", "co.uk"), (SUFFIX_HOST, "co.uk"),
                           ("social.school.pvt.k12.ma.us", "pvt.k12.ma.us")):
        with pytest.raises(ValueError, match="not a handle domain"):
            remember_handle_domain(lake, served, handle)
    assert not (lake_dir / HANDLE_DOMAINS_PATH).exists()
    assert remember_handle_domain(lake, PAGES_HOST, "alice.github.io")
    assert load_handle_domains(lake) == {PAGES_HOST: "alice.github.io"}


def test_an_erasure_links_a_remembered_public_suffix_to_its_own_instance_only() -> None:
    """Erasing alice@social.alice.github.io also finds what an earlier version keyed alice@github.io, but never
    alice@social.bob.github.io, a different owner that made the same claim."""
    remembered: dict[str, str | None] = {PAGES_HOST: "github.io", "social.bob.github.io": "github.io",
                                         "social.example.test": "example.test", "chat.example.test": "example.test"}
    assert served_domains(remembered, PAGES_HOST) == {PAGES_HOST, "github.io"}
    assert served_domains(remembered, "social.bob.github.io") == {"social.bob.github.io", "github.io"}
    assert served_domains(remembered, "github.io") == {"github.io"}
    assert served_domains(remembered, "example.test") == {"example.test", "social.example.test", "chat.example.test"}


def test_an_erasure_links_a_remembered_domain_above_a_public_suffix_to_its_own_instance_only() -> None:
    """amazonaws.com lies above s3.amazonaws.com, a public suffix: remembered for two buckets by an earlier version,
    it linked every bucket's alice to every other's."""
    remembered: dict[str, str | None] = {"social.a.s3.amazonaws.com": "amazonaws.com",
                                         "social.b.s3.amazonaws.com": "amazonaws.com"}
    assert served_domains(remembered, "social.a.s3.amazonaws.com") == {"social.a.s3.amazonaws.com", "amazonaws.com"}
    assert served_domains(remembered, "amazonaws.com") == {"amazonaws.com"}
