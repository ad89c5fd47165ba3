"""``fediscope stream`` connects only to a streaming server of the instance's own host (or a subdomain of it).

Was (found by a review): Mastodon.py opened the stream at whatever host the instance document named
(``urls.streaming_api`` of ``/api/v1/instance``, else ``configuration.urls.streaming`` of ``/api/v2/instance``) and
sent the access token there, so a hostile or compromised instance could send the stream, and the token, to an
internal or third-party host, whose events landed under the instance's name. The instance is the recorded Mastodon
double on 127.0.0.1, its recorded documents changed only in the streaming URL they name; the other servers are
doubles too, under names made to resolve to 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env
from cli_run import run as run_cli
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from doubles.tls import TLSServer

from fediscope.config import Settings, load_settings, token_env_name
from fediscope.sources.spec import parse_source
from fediscope.sources.stream import StreamRun
from fediscope.sources.streaming_server import StreamingServerRefused, checked_streaming_base

STREAM = "/api/v1/streaming/public"
INSTANCE = "mastodon.example"
TOKEN = "token-of-the-instance"


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    """The instance, ``mastodon.example`` (resolving to 127.0.0.1)."""
    resolve_to_loopback(monkeypatch, INSTANCE, "streaming.mastodon.example", "evil.example",
                        "mastodon.example.evil.example", "evilmastodon.example")
    with MastodonDouble(statuses=5, hostname=INSTANCE) as double:
        yield double


def with_token(make_settings: Callable[..., Settings], instance: MastodonDouble, **overrides: Any) -> Settings:
    return make_settings(tokens=load_settings(env={token_env_name(instance.url): TOKEN}).tokens, **overrides)


def stream(settings: Settings, instance: MastodonDouble) -> Any:
    return StreamRun(settings, instance.url, parse_source("public"), duration=30, max_events=3).run()


def refusal(instance: MastodonDouble, named: str) -> str:
    return (f"{instance.domain}: the instance names its streaming server at {named} (not {INSTANCE} nor a subdomain "
            "of it): not connected, and the token is not sent there; fediscope streams only from the instance's host "
            "or a subdomain of it (fediscope collect reads the same timelines)")


# -- refused ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["evil.example", "mastodon.example.evil.example", "evilmastodon.example"])
def test_a_streaming_server_on_another_host_is_refused_before_connecting(
        instance: MastodonDouble, make_settings: Callable[..., Settings], lake: Any, name: str) -> None:
    """Was: connected, sent the token, and landed the other host's events under the instance's name."""
    with MastodonDouble(statuses=5, hostname=name) as elsewhere:
        named = elsewhere.domain
        instance.streaming_url = "ws://" + named
        summary = stream(with_token(make_settings, instance), instance)
        assert elsewhere.log == []  # nothing asked of it: no token sent, no event taken
    assert not summary.ok and summary.stopped == "error", summary.line()
    assert summary.error == refusal(instance, named)
    assert summary.connections == 0 and summary.failed_connections == 0
    assert instance.requests_to(STREAM) == []
    assert lake.records() == []


def test_the_address_named_in_the_v2_document_is_checked_too(
        instance: MastodonDouble, make_settings: Callable[..., Settings]) -> None:
    """Mastodon.py reads ``configuration.urls.streaming`` of ``/api/v2/instance`` when ``/api/v1/instance`` fails."""
    with MastodonDouble(statuses=5, hostname="evil.example") as elsewhere:
        named = elsewhere.domain
        instance.streaming_url = "wss://" + named
        instance.fail(404, times=100, path="/api/v1/instance")
        summary = stream(with_token(make_settings, instance), instance)
        assert elsewhere.log == []
    assert summary.error == refusal(instance, named)
    assert instance.requests_to("/api/v2/instance") and instance.requests_to(STREAM) == []


def test_the_command_says_so_in_one_line_and_exits_1(instance: MastodonDouble, tmp_path: Path, capsys: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="test-pseudonym-key-not-secret",
              **{token_env_name(instance.url): TOKEN})
    with MastodonDouble(statuses=5, hostname="evil.example") as elsewhere:
        named = elsewhere.domain
        instance.streaming_url = "ws://" + named
        code, out, err = run_cli(capsys, "stream", "--instance", instance.url, "--duration", "30", "--json",
                                 "--lake", str(tmp_path / "lake"))
        assert elsewhere.log == []
    assert code == 1 and "Traceback" not in err
    (result,) = json.loads(out)["streams"]
    assert result["ok"] is False and result["connections"] == 0
    assert result["error"] == refusal(instance, named)
    assert TOKEN not in out + err


def test_plain_http_streaming_from_an_https_instance_is_refused(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the token and the stream went over plain HTTP (here to the TLS port, whose handshake then failed)."""
    with TLSServer(tmp_path / "tls") as tls:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert))
        tls.streaming_url = f"ws://localhost:{tls.port}"
        settings = Settings(lake=str(tmp_path / "lake"), pseudonym_key="test-pseudonym-key-not-secret",
                            tokens=load_settings(env={token_env_name(tls.url()): TOKEN}).tokens, max_retries=1,
                            retry_backoff=0.01, request_timeout=5.0)
        summary = StreamRun(settings, tls.url(), parse_source("public"), duration=30).run()
        assert STREAM not in tls.requests and tls.connections == 2  # the two documents, over TLS: nothing else
    assert summary.error == (f"localhost:{tls.port}: the instance names its streaming server at localhost:"
                             f"{tls.port} over plain HTTP (ws:// or http://, unencrypted, while the instance is "
                             "https): not connected, and the token is not sent there; fediscope streams from an "
                             "https instance over TLS only")
    assert summary.connections == 0 and summary.failed_connections == 0


# -- taken --------------------------------------------------------------------------------------------------------

def test_a_streaming_server_on_a_subdomain_and_another_port_is_taken(
        instance: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    """As mastodon.social streams from streaming.mastodon.social (and Mastodon's streaming server from port 4000)."""
    with MastodonDouble(statuses=5, hostname="streaming.mastodon.example") as streaming:
        instance.streaming_url = "ws://" + streaming.domain
        summary = stream(with_token(make_settings, instance), instance)
        assert [s.authorization for s in streaming.requests_to(STREAM)] == [f"Bearer {TOKEN}"]
    assert summary.ok and summary.connections == 1 and summary.landed > 0, summary.line()
    assert instance.requests_to(STREAM) == []
    assert {p.split("/")[3] for p, _r in lake.records()} == {f"instance={instance.domain}"}


# -- the rule -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("instance_url", "named", "base"), [
    ("https://mastodon.social", "https://streaming.mastodon.social", "https://streaming.mastodon.social"),
    ("https://mastodon.social", "https://mastodon.social", "https://mastodon.social"),
    ("https://mastodon.social", "https://Streaming.Mastodon.Social.:443", "https://streaming.mastodon.social"),
    ("https://social.example.org", "https://streaming.social.example.org:4000",
     "https://streaming.social.example.org:4000"),
    ("http://localhost:3000", "http://localhost:4000", "http://localhost:4000"),  # a development server
    ("http://127.0.0.1:8765", "https://127.0.0.1:8765", "https://127.0.0.1:8765"),
])
def test_the_rule_takes_the_instances_host_and_its_subdomains(instance_url: str, named: str, base: str) -> None:
    assert checked_streaming_base(instance_url, named) == base


@pytest.mark.parametrize(("instance_url", "named", "says"), [
    ("https://social.example.org", "https://streaming.example.org", "at streaming.example.org (not "
                                                                    "social.example.org nor a subdomain of it)"),
    ("https://mastodon.social", "https://mastodon.social.evil.example", "at mastodon.social.evil.example (not"),
    ("https://mastodon.social", "https://social", "at social (not mastodon.social"),
    ("http://127.0.0.1:8765", "http://1.127.0.0.1:8765", "at 1.127.0.0.1:8765 (not 127.0.0.1 nor"),
    ("http://127.0.0.1:8765", "http://169.254.169.254", "at 169.254.169.254 (not 127.0.0.1 nor"),
    ("https://mastodon.social", "http://streaming.mastodon.social", "over plain HTTP"),
    ("https://mastodon.social", "https://user:pw@mastodon.social", "an address fediscope does not take"),
    ("https://mastodon.social", "https://[::1]", "an address fediscope does not take"),
    ("https://mastodon.social", "https://mastodon.social:99999", "an address fediscope does not take"),
    ("https://mastodon.social", "", "an address fediscope does not take"),
])
def test_the_rule_refuses_everything_else(instance_url: str, named: str, says: str) -> None:
    with pytest.raises(StreamingServerRefused) as info:
        checked_streaming_base(instance_url, named)
    message = str(info.value)
    assert says in message and message.endswith(("not connected", "timelines)", "TLS only")), message
    assert "pw" not in message and "token" not in message  # no token configured: nothing said of one
