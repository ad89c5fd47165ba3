"""Keep the API from becoming a proxy into the network it runs in (server-side request forgery).

The API fetches the ``instance`` a client names, so two checks stand before every upstream request:

1. **Allowlist.** Only instances in ``FEDISCOPE_INSTANCES`` or the configured ``[[sources]]`` may be fetched
   (403 otherwise, naming the setting). The request only *selects* an allowlisted instance: the scheme
   (https, or http for a local sample instance) comes from the configuration, so a client cannot downgrade it.
2. **Addresses.** Even an allowlisted name is resolved, and refused when any of its addresses is not a public
   unicast address: loopback, private (RFC 1918, unique local), link-local (which holds the cloud metadata
   services at 169.254.169.254), carrier-grade NAT, multicast, reserved, unspecified, or one of those
   wrapped in IPv4-mapped / NAT64 IPv6. ``FEDISCOPE_ALLOW_PRIVATE_ADDRESSES=true`` lifts this for local use
   (the sample instance, tests).

A name can resolve differently a moment later (DNS rebinding), so the check is repeated where it cannot be
dodged: :func:`harden_session` makes the upstream ``requests`` session one whose connections check the address they
actually connected to before a byte is sent, and which refuses redirects to another host or from https to plain
HTTP (the rule of :mod:`fediscope.sources.redirects`, which ``fediscope collect`` and ``fediscope stream`` follow
too). Proxies from the environment are ignored by that session: the API talks to the allowlisted instances
directly.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from api.errors import ApiError
from fediscope.config import DEFAULT_PORTS, Settings, instance_base_url, instance_domain
from fediscope.sources.client import ConnectHookAdapter
from fediscope.sources.redirects import same_host_redirects_only

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

#: Names of cloud metadata services, refused by name before any lookup.
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: IPv6 documentation space (RFC 9637), which Python 3.11's ``is_global`` does not know yet.
_DOCUMENTATION_V6 = ipaddress.ip_network("3fff::/20")


def is_public_address(address: IPAddress) -> bool:
    """True only for global unicast addresses (what a public Mastodon instance has).

    ``is_global`` alone is not enough on Python 3.11: it calls IPv4-compatible (``::7f00:1``) and local-use NAT64
    (``64:ff9b:1::/48``, RFC 8215, translated into a private IPv4 network) addresses global, as it does the other
    IETF-reserved IPv6 space, site-local ``fec0::/10`` and the documentation range ``3fff::/20``: all refused here.
    Global unicast is ``2000::/3`` (none of it reserved), and the well-known NAT64 prefix keeps being judged by the
    IPv4 address inside it (checked before the reserved ``::/8`` it lies in)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
        if address.is_site_local or address in _DOCUMENTATION_V6:
            return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as strings."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def allowed_base_urls(settings: Settings) -> dict[str, str]:
    """Each allowlisted instance (``FEDISCOPE_INSTANCES`` and the configured sources) → the base URL it is fetched
    at: a bare ``host[:port]`` over https, ``http://host:port`` as given (the sample instance has no TLS); the same
    host configured with both schemes is fetched over https."""
    base_urls: dict[str, str] = {}
    for entry in [*settings.instances, *(s.instance for s in settings.sources)]:
        domain, base_url = instance_domain(entry), instance_base_url(entry)
        if domain not in base_urls or base_url.startswith("https://"):
            base_urls[domain] = base_url
    return base_urls


class InstanceGuard:
    """Decides whether an instance may be fetched, and at which base URL."""

    def __init__(self, settings: Settings, resolver: Resolver = system_resolver) -> None:
        self.allow_private = settings.allow_private_addresses
        self.resolver = resolver
        self.base_urls = allowed_base_urls(settings)

    def base_url(self, domain: str) -> str:
        """The configured base URL of an allowlisted instance; 403 naming the setting otherwise."""
        if domain not in self.base_urls:
            raise ApiError(403, "instance_not_allowed",
                           f"instance {domain!r} is not on the allowlist; add it to FEDISCOPE_INSTANCES "
                           f"(comma-separated) or to the [[sources]] of fediscope.toml",
                           setting="FEDISCOPE_INSTANCES")
        return self.base_urls[domain]

    def check_addresses(self, domain: str) -> None:
        """Resolve the instance and refuse non-public addresses (unless private addresses are allowed)."""
        if self.allow_private:
            return
        parts = urlsplit(self.base_urls.get(domain) or f"https://{domain}")
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or DEFAULT_PORTS[parts.scheme]  # instance_base_url gives http or https only
        named_local = host in METADATA_NAMES or host == "localhost" or host.endswith((".localhost", ".internal"))
        refused = _refusal(domain) if named_local else None
        if refused is None:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise ApiError(502, "upstream_unresolvable",
                               f"instance {domain!r} could not be resolved ({exc.__class__.__name__}); "
                               "check the name and try again later") from None
            if not addresses:
                raise ApiError(502, "upstream_unresolvable", f"instance {domain!r} resolved to no address")
            for text in addresses:
                if not is_public_address(ipaddress.ip_address(text)):
                    refused = _refusal(domain)
                    break
        if refused is not None:
            log.warning("refused instance %s: it resolves to a non-public address", domain)
            raise refused


def _refusal(domain: str) -> ApiError:
    return ApiError(403, "address_not_allowed",
                    f"instance {domain!r} resolves to a loopback, private, link-local or metadata address, "
                    "which the API does not fetch; for a local instance (the sample instance) set "
                    "FEDISCOPE_ALLOW_PRIVATE_ADDRESSES=true",
                    setting="FEDISCOPE_ALLOW_PRIVATE_ADDRESSES")


# -- connection-time check -------------------------------------------------------------------------------


class AddressRefusedError(OSError):
    """A connection reached a non-public address (after DNS rebinding, or through a redirect)."""


def _check_peer(sock: socket.socket, connection: object = None) -> None:
    """Connect hook: refuse (close) a connection whose peer is not a public address, before a byte is sent."""
    peer = sock.getpeername()[0]
    if not is_public_address(ipaddress.ip_address(str(peer).split("%", 1)[0])):
        sock.close()
        raise AddressRefusedError(f"refused to talk to non-public address {peer}")


def _guard_connections(session: requests.Session) -> None:
    """Make every new connection of ``session`` check its peer address first (on the adapter the client
    mounted for its deadline, or on a new one)."""
    for prefix in ("http://", "https://"):
        adapter = session.adapters.get(prefix)
        if isinstance(adapter, ConnectHookAdapter):
            adapter.on_connect.insert(0, _check_peer)
        else:
            session.mount(prefix, ConnectHookAdapter(_check_peer))


def harden_session(session: requests.Session, allow_private: bool) -> requests.Session:
    """Harden a session for upstream requests: peer-address check (unless ``allow_private``), same-host
    redirects only, no proxies from the environment. Returns the same session."""
    session.trust_env = False
    # trust_env off also drops REQUESTS_CA_BUNDLE: keep it (as requests reads it), so a private CA is trusted the
    # way the collector trusts it and the TLS error's hint holds for the API too
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.max_redirects = 3
    if same_host_redirects_only not in session.hooks["response"]:  # a MastodonClient's session has it already
        session.hooks["response"].insert(0, same_host_redirects_only)
    if not allow_private:
        _guard_connections(session)
    return session
