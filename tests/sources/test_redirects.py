"""``fediscope collect`` and ``fediscope stream`` follow a redirect only on the same server, as the scraping API does.

Was (found by a hostile-upstream fuzz): both followed up to 30 redirects to any host, so another host's answers
landed under the instance's name (its ``instance=`` partition, pseudonyms keyed on it), and a hostile instance could
point the collector at internal addresses (keeping up to 64 KB of each answer in ``quarantine/``). The instance is
the recorded Mastodon double on 127.0.0.1; the redirect's target is a second double, under another name (made to
resolve to 127.0.0.1) or on another port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env
from cli_run import run as run_cli
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from doubles.tls import TLSServer

from fediscope.config import Settings
from fediscope.sources.client import MastodonClient, RedirectRefused, UpstreamTLSError
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.stream import StreamRun

TIMELINE = "/api/v1/timelines/public"
STREAM = "/api/v1/streaming/public"
ELSEWHERE = "social.example"


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    """Another Mastodon server, ``social.example`` (resolving to 127.0.0.1): where the instance redirects to."""
    resolve_to_loopback(monkeypatch, ELSEWHERE)
    with MastodonDouble(statuses=5, hostname=ELSEWHERE) as double:
        yield double


def refusal(target: MastodonDouble, what: str = "another host", who: str = "the instance") -> str:
    return (f"{who} redirects to {target.domain} ({what}): not followed; configure {target.url} as the instance "
            "if that is where it lives")


# -- collect ------------------------------------------------------------------------------------------------------

def test_collect_fails_a_source_redirected_to_another_host_at_once_and_lands_nothing(
        mastodon_server: Any, elsewhere: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    mastodon_server.redirect(elsewhere.url, times=100, path=TIMELINE)
    summary = run_collection(make_settings(), [(mastodon_server.url, parse_source("public"))], progress=False)
    (failed,) = summary.failed
    assert failed.error == f"{mastodon_server.domain}{TIMELINE}: {refusal(elsewhere)}"
    assert elsewhere.log == []  # not followed: nothing was asked of the other host
    assert len(mastodon_server.requests_to(TIMELINE)) == 1  # not retried
    assert lake.records() == [] and lake.quarantine_files() == []


def test_a_redirect_to_another_port_of_the_host_is_another_server(
        mastodon_server: Any, make_settings: Callable[..., Settings]) -> None:
    with MastodonDouble(statuses=5) as other_port:
        mastodon_server.redirect(other_port.url, times=100, path=TIMELINE)
        summary = run_collection(make_settings(), [(mastodon_server.url, parse_source("public"))], progress=False)
        (failed,) = summary.failed
        assert failed.error == f"{mastodon_server.domain}{TIMELINE}: {refusal(other_port, 'another port')}"
        assert other_port.log == []


def test_collect_says_so_in_one_line(mastodon_server: Any, elsewhere: MastodonDouble, tmp_path: Path, capsys: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="test-pseudonym-key-not-secret",
              FEDISCOPE_MAX_RETRIES="5", FEDISCOPE_RETRY_BACKOFF="2")  # retried, this would take a minute
    mastodon_server.redirect(elsewhere.url, times=100, path=TIMELINE)
    code, _out, err = run_cli(capsys, "collect", "--instance", mastodon_server.url, "--lake", str(tmp_path / "lake"))
    assert code == 1 and "Traceback" not in err
    (failed,) = [line for line in err.splitlines() if line.startswith("  failed: ")]
    assert "\n" not in failed and len(failed) < 400
    assert failed.endswith(f"{mastodon_server.domain}{TIMELINE}: {refusal(elsewhere)}"), failed


def test_a_redirect_on_the_same_server_is_followed(mastodon_server: Any, make_settings: Callable[..., Settings],
                                                    lake: Any) -> None:
    """A path change on the same host and port (Mastodon behind a proxy that canonicalises paths) stays followed."""
    mastodon_server.redirect(mastodon_server.url, times=1, path=TIMELINE)
    summary = run_collection(make_settings(backfill_pages=1), [(mastodon_server.url, parse_source("public"))],
                             progress=False)
    assert summary.ok, summary.line()
    assert [s.status for s in mastodon_server.requests_to(TIMELINE)][:2] == [302, 200]
    assert len(lake.records()) == 10


def test_a_redirect_to_the_metadata_service_is_refused_before_connecting(mastodon_server: Any) -> None:
    """No connection to 169.254.169.254 is tried (was: followed, its answer quarantined when not Mastodon JSON)."""
    mastodon_server.redirect("http://169.254.169.254/latest/meta-data/", times=100, path=TIMELINE)
    client = MastodonClient(mastodon_server.url, max_retries=3, backoff_base=0.01, timeout=2.0)
    with pytest.raises(RedirectRefused) as info:
        client.get(TIMELINE)
    assert str(info.value) == (f"{mastodon_server.domain}{TIMELINE}: the instance redirects to 169.254.169.254 "
                               "(another host): not followed; configure http://169.254.169.254 as the instance if "
                               "that is where it lives")
    assert client.stats["retries"] == 0 and len(mastodon_server.requests_to(TIMELINE)) == 1


def test_a_redirect_to_a_port_that_is_no_port_is_refused_as_invalid(mastodon_server: Any) -> None:
    mastodon_server.redirect("http://127.0.0.1:99999/x", times=100, path=TIMELINE)
    with pytest.raises(RedirectRefused, match=r"redirects to an invalid address \(http://127\.0\.0\.1:99999/x\): "
                                              r"not followed$"):
        MastodonClient(mastodon_server.url, max_retries=3, backoff_base=0.01).get(TIMELINE)


def test_a_redirect_from_https_to_plain_http_on_the_same_server_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: followed (the same host and port), the request sent on unencrypted: here to the TLS port, whose
    handshake then failed; on ports 443 and 80 it reaches a plain-HTTP server (tests/api/test_api_guard.py)."""
    with TLSServer(tmp_path / "tls") as tls:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert))
        tls.redirects[TIMELINE] = f"http://localhost:{tls.port}{TIMELINE}"
        client = MastodonClient(tls.url(), max_retries=3, backoff_base=0.01, timeout=2.0)
        with pytest.raises(RedirectRefused) as info:
            client.get(TIMELINE)
        assert tls.connections == 1 and tls.requests == [TIMELINE]  # nothing asked over plain HTTP
    assert str(info.value) == (f"localhost:{tls.port}{TIMELINE}: the instance redirects from https to "
                               f"http://localhost:{tls.port} (a downgrade to plain HTTP, unencrypted): not followed; "
                               f"configure http://localhost:{tls.port} as the instance if it is served over plain "
                               "HTTP only")
    assert client.stats["retries"] == 0


def test_an_upgrade_from_http_to_https_on_the_same_server_stays_followed(mastodon_server: Any) -> None:
    """Only the downgrade is refused: ``http://`` → ``https://`` (the same host and port) is followed, as before
    (here to the double's plain-HTTP port, whose TLS handshake then fails: the redirect was followed)."""
    mastodon_server.redirect(mastodon_server.url.replace("http://", "https://"), times=1, path=TIMELINE)
    with pytest.raises(UpstreamTLSError):
        MastodonClient(mastodon_server.url, max_retries=0).get(TIMELINE)


# -- stream -------------------------------------------------------------------------------------------------------

def test_a_stream_redirected_to_another_host_stops_at_once(mastodon_server: Any, elsewhere: MastodonDouble,
                                                           make_settings: Callable[..., Settings]) -> None:
    mastodon_server.redirect(elsewhere.url, times=100, path=STREAM)
    summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), duration=30).run()
    assert not summary.ok and summary.stopped == "error" and summary.seconds < 5, summary.line()
    assert summary.error == refusal(elsewhere, who="the streaming server")
    assert summary.failed_connections == 1 and summary.connections == 0
    assert len(mastodon_server.requests_to(STREAM)) == 1 and elsewhere.log == []
    assert summary.landed == 0 and summary.deletions == 0
