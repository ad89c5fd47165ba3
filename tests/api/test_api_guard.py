"""The API is not a proxy: allowlist (403 naming FEDISCOPE_INSTANCES), non-public addresses refused (by lookup,
at connection time against DNS rebinding, and on redirects), unless private addresses are explicitly allowed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from api_testing import LiveApi, assert_error, make_settings
from doubles.tls import TLSServer

from api.errors import ApiError
from api.guard import InstanceGuard, harden_session, is_public_address

_Server = TypeVar("_Server")


def test_instance_not_on_the_allowlist_is_403_naming_the_setting(api: LiveApi, mastodon_server: Any) -> None:
    for instance in ("mastodon.social", "https://evil.example", "127.0.0.1:1", "localhost"):
        error = assert_error(api.get("/v1/instance", params={"instance": instance}), 403, "instance_not_allowed")
        assert "FEDISCOPE_INSTANCES" in error["message"]
        assert error["setting"] == "FEDISCOPE_INSTANCES"
    assert mastodon_server.log == []


def test_configured_sources_are_allowed_too(mastodon_server: Any, live_api: Callable[..., LiveApi]) -> None:
    from fediscope.config import SourceSpec

    live = live_api(make_settings(sources=(SourceSpec(mastodon_server.url, ("public",)),),
                                  allow_private_addresses=True))
    assert live.get("/v1/instance", params={"instance": mastodon_server.domain}).status_code == 200


def test_the_configured_scheme_wins_over_the_requested_one(api: LiveApi, mastodon_server: Any) -> None:
    """The request only selects an allowlisted instance: asking for https:// of an http:// double still reaches
    it over the configured http (and asking for http:// of an https:// instance cannot downgrade it)."""
    response = api.get("/v1/instance", params={"instance": f"https://{mastodon_server.domain}/"})
    assert response.status_code == 200, response.text
    guard = InstanceGuard(make_settings(instances=("https://secure.example", "http://secure.example")))
    assert guard.base_url("secure.example") == "https://secure.example"


@pytest.mark.parametrize(("configured", "requested", "looked_up"), [
    ("https://secure.example:443", "secure.example", ("secure.example", 443)),
    ("secure.example", "https://secure.example:443/", ("secure.example", 443)),
    ("http://plain.example:80", "plain.example", ("plain.example", 80)),
    ("http://plain.example:443", "http://plain.example:443", ("plain.example", 443)),  # without http://: https
])
def test_the_port_of_the_scheme_selects_the_same_instance(live_api: Callable[..., LiveApi], configured: str,
                                                          requested: str, looked_up: tuple[str, int]) -> None:
    """Was: ``https://secure.example:443`` on the allowlist and ``secure.example`` asked for (or the other way
    round) were two instances: 403 instance_not_allowed. Now the request reaches the address check, at the
    configured scheme's port (the TEST-NET address the resolver gives is refused there: nothing is fetched)."""
    lookups: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return ["192.0.2.1"]

    live = live_api(make_settings(instances=(configured,)), {"FEDISCOPE_RESOLVER": resolver})
    assert_error(live.get("/v1/instance", params={"instance": requested}), 403, "address_not_allowed")
    assert lookups == [looked_up]


def test_another_port_is_another_instance(live_api: Callable[..., LiveApi]) -> None:
    """``http://plain.example:443`` is not ``plain.example`` (https's port, but over http)."""
    live = live_api(make_settings(instances=("http://plain.example:443",)),
                    {"FEDISCOPE_RESOLVER": lambda host, port: pytest.fail("no lookup expected")})
    for requested in ("plain.example", "http://plain.example", "https://plain.example:443"):
        assert_error(live.get("/v1/instance", params={"instance": requested}), 403, "instance_not_allowed")


def test_allowlisted_loopback_instance_is_refused_without_the_local_opt_in(
        mastodon_server: Any, live_api: Callable[..., LiveApi]) -> None:
    live = live_api(make_settings(instances=(mastodon_server.url,)))
    error = assert_error(live.get("/v1/instance", params={"instance": mastodon_server.domain}), 403,
                         "address_not_allowed")
    assert "FEDISCOPE_ALLOW_PRIVATE_ADDRESSES" in error["message"]
    assert mastodon_server.log == []


REFUSED = ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
           "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00:ec2::254", "::ffff:10.0.0.1",
           "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:db8::1",
           # ranges Python 3.11's is_global still calls global: IPv4-compatible (::/96, deprecated), local-use
           # NAT64 (RFC 8215: 64:ff9b:1::/48, translated into a private IPv4 network), site-local (fec0::/10),
           # documentation (RFC 9637: 3fff::/20), other IETF-reserved space (5f00::/16, SRv6)
           "::7f00:1", "::a00:1", "64:ff9b:1::a00:1", "64:ff9b:1::808:808", "fec0::1", "3fff::1", "5f00::1"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    guard = InstanceGuard(make_settings(instances=("mastodon.example",)), resolver=lambda host, port: [address])
    with pytest.raises(ApiError) as refused:
        guard.check_addresses("mastodon.example")
    assert refused.value.status == 403 and refused.value.code == "address_not_allowed"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    InstanceGuard(make_settings(instances=("mastodon.example",)),
                  resolver=lambda host, port: [address]).check_addresses("mastodon.example")


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    guard = InstanceGuard(make_settings(instances=("mastodon.example",)),
                          resolver=lambda host, port: ["8.8.8.8", "10.0.0.7"])
    with pytest.raises(ApiError, match="private"):
        guard.check_addresses("mastodon.example")


@pytest.mark.parametrize("name", ["metadata.google.internal", "localhost", "api.localhost", "db.internal"])
def test_metadata_and_local_names_are_refused_without_a_lookup(name: str) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("no lookup expected")

    with pytest.raises(ApiError) as refused:
        InstanceGuard(make_settings(instances=(name,)), resolver=resolver).check_addresses(name)
    assert refused.value.status == 403


def test_addresses_are_refused_over_http_too(live_api: Callable[..., LiveApi]) -> None:
    live = live_api(make_settings(instances=("mastodon.example",)),
                    {"FEDISCOPE_RESOLVER": lambda host, port: ["169.254.169.254"]})
    error = assert_error(live.get("/v1/timelines/public", params={"instance": "mastodon.example"}), 403,
                         "address_not_allowed")
    assert error["setting"] == "FEDISCOPE_ALLOW_PRIVATE_ADDRESSES"


def test_unresolvable_instance_is_502(live_api: Callable[..., LiveApi]) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    live = live_api(make_settings(instances=("gone.example",)), {"FEDISCOPE_RESOLVER": resolver})
    assert_error(live.get("/v1/instance", params={"instance": "gone.example"}), 502, "upstream_unresolvable")


def test_dns_rebinding_is_caught_at_connection_time(mastodon_server: Any, live_api: Callable[..., LiveApi]) -> None:
    """The lookup says "public", the connection lands on 127.0.0.1: the connection check refuses it before a
    single byte is sent."""
    live = live_api(make_settings(instances=(mastodon_server.url,)),
                    {"FEDISCOPE_RESOLVER": lambda host, port: ["93.184.216.34"]})
    assert_error(live.get("/v1/instance", params={"instance": mastodon_server.domain}), 502)
    assert mastodon_server.log == []


def test_hardened_session_refuses_non_public_peers(mastodon_server: Any) -> None:
    session = harden_session(requests.Session(), allow_private=False)
    with pytest.raises(requests.exceptions.ConnectionError, match="non-public address"):
        session.get(mastodon_server.url + "/api/v1/instance", timeout=5)
    assert mastodon_server.log == []
    allowed = harden_session(requests.Session(), allow_private=True)
    assert allowed.get(mastodon_server.url + "/api/v1/instance", timeout=5).status_code == 200


class _Redirects(BaseHTTPRequestHandler):
    """Redirects ``/to?<url>`` to <url>; answers ``{"ok": true}`` elsewhere."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/to?"):
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _bound(port: int, make: Callable[[], _Server]) -> _Server:
    """``make()``, a server on 127.0.0.1:``port``; a loud skip when that port cannot be bound (80 and 443 need root,
    and may be taken)."""
    try:
        return make()
    except OSError as exc:
        pytest.skip(f"SKIPPED LOUDLY: this test needs a server on 127.0.0.1:{port} (a scheme's default port), which "
                    f"cannot be bound here ({exc})")


@contextmanager
def _redirect_server(port: int = 0) -> Iterator[int]:
    """A server on 127.0.0.1:``port`` (0: any free one) that redirects ``/to?<url>`` to <url>; yields its port."""
    server = _bound(port, lambda: ThreadingHTTPServer(("127.0.0.1", port), _Redirects))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def redirector() -> Iterator[Callable[[str], str]]:
    """A server on 127.0.0.1 that redirects ``/to?<url>`` to <url>."""
    with _redirect_server() as port:
        yield lambda target: f"http://127.0.0.1:{port}/to?{target.replace('{port}', str(port))}"


def test_redirects_to_another_host_are_refused(redirector: Callable[[str], str]) -> None:
    session = harden_session(requests.Session(), allow_private=True)
    assert session.get(redirector("/done"), timeout=5).json() == {"ok": True}  # same host: followed
    with pytest.raises(requests.exceptions.InvalidURL, match="another host"):
        session.get(redirector("http://localhost:{port}/done"), timeout=5)


@pytest.mark.parametrize(("origin", "target"), [
    ("http://127.0.0.1", "http://127.0.0.1:80/done"),
    ("http://127.0.0.1:80", "http://127.0.0.1/done"),
])
def test_a_redirect_naming_the_port_of_its_scheme_stays_on_the_host(origin: str, target: str) -> None:
    """Was: refused as "another host" (the ports compared as written: none, and 80), though the same server."""
    session = harden_session(requests.Session(), allow_private=True)
    with _redirect_server(80):
        response = session.get(f"{origin}/to?{target}", timeout=5)
        with pytest.raises(requests.exceptions.InvalidURL, match="another host"):  # https's port, over http
            session.get(f"{origin}/to?http://127.0.0.1:443/done", timeout=5)
    assert response.json() == {"ok": True}
    assert [hop.status_code for hop in response.history] == [302]


def test_a_redirect_naming_https_port_stays_on_the_host(tmp_path: Path) -> None:
    """Was: ``https://host/`` → ``https://host:443/`` refused as "another host"; and an upgrade from
    ``http://host/`` to ``https://host/`` stays followed (the port each scheme connects to anyway is no other
    server)."""
    session = harden_session(requests.Session(), allow_private=True)
    with _bound(443, lambda: TLSServer(tmp_path / "tls", port=443)) as tls, _redirect_server(80):
        session.verify = str(tls.cert)
        for origin, target in [("https://127.0.0.1", "https://127.0.0.1:443/api/v1/instance"),
                               ("https://127.0.0.1:443", "https://127.0.0.1/api/v1/instance"),
                               ("http://127.0.0.1", "https://127.0.0.1/api/v1/instance"),
                               ("http://127.0.0.1:80", "https://127.0.0.1:443/api/v1/instance")]:
            response = session.get(f"{origin}/to?{target}", timeout=5)
            assert response.json()["uri"] == "localhost", (origin, target)
        with pytest.raises(requests.exceptions.InvalidURL, match="another host"):  # another port: another server
            session.get("https://127.0.0.1/to?https://127.0.0.1:8443/", timeout=5)
    assert tls.requests.count("/api/v1/instance") == 4


def test_a_redirect_from_https_to_plain_http_is_refused(tmp_path: Path) -> None:
    """Was: ``https://host/`` → ``http://host/`` followed (the same server by host and the schemes' own ports), so
    the request went on, and its answer came back, unencrypted: here the plain-HTTP server on port 80 answered."""
    session = harden_session(requests.Session(), allow_private=True)
    with _bound(443, lambda: TLSServer(tmp_path / "tls", port=443)) as tls, _redirect_server(80):
        session.verify = str(tls.cert)
        with pytest.raises(requests.exceptions.InvalidURL, match=r"^refused redirect from 127\.0\.0\.1 to plain "
                                                                 r"HTTP: http://127\.0\.0\.1/done$"):
            session.get("https://127.0.0.1/to?http://127.0.0.1/done", timeout=5)
        assert session.get("http://127.0.0.1/done", timeout=5).json() == {"ok": True}  # the target is there


def test_environment_proxies_are_ignored() -> None:
    assert harden_session(requests.Session(), allow_private=False).trust_env is False
