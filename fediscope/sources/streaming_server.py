"""Which streaming server ``fediscope stream`` connects to: the one the instance names, when it is the instance's.

Mastodon.py finds the streaming server in the instance document (``urls.streaming_api`` of ``/api/v1/instance``,
else ``configuration.urls.streaming`` of ``/api/v2/instance``) and sends the access token there. That document is
the instance's own word and may name any host: a hostile or compromised instance could send the stream, and the
token with it, to an internal address or a third party, and have that host's events land under its own name (was:
connected to whatever it named). Big instances do stream from a host of their own (mastodon.social names
``wss://streaming.mastodon.social``), and Mastodon's streaming server listens on a port of its own (a development
server names ``ws://localhost:4000`` for its API at ``localhost:3000``). So the named server is taken when its host is
the instance's host or a subdomain of it, on any port, and over TLS (``wss://``, ``https://``) unless the instance
itself is plain HTTP (a local server); anything else is refused before a connection is made, with
:class:`StreamingServerRefused`, and the run stops.

Kept strict on purpose: a sibling (``streaming.example.org`` for ``social.example.org``) is refused too, since the
parent may be a domain that many operators share (a hosting provider's), and an instance named by an IP address
streams from that address only. A subdomain may resolve to any address, as the instance's own name may: it is the
instance operator's name either way. There is no setting to allow another host.

:func:`pin_streaming_server` asks Mastodon.py once per run, checks the answer and pins the checked address (rebuilt
from its host and port alone) as the one Mastodon.py streams from, so every reconnection uses what was checked, not
a later answer of the instance.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from mastodon.errors import MastodonError

from fediscope.config import instance_domain
from fediscope.errors import ConfigError, UpstreamError
from fediscope.sources.client import MastodonClient
from fediscope.sources.redirects import server_of


class StreamingServerRefused(UpstreamError):
    """The instance names a streaming server that is not its own (another host, plain HTTP from an https instance,
    an address that is none); nothing was sent there."""


def is_own_host(host: str, instance_host: str) -> bool:
    """Whether ``host`` is ``instance_host`` or a subdomain of it (never for an instance named by an IP address)."""
    if host == instance_host:
        return True
    try:
        ipaddress.ip_address(instance_host)
    except ValueError:
        return host.endswith("." + instance_host)
    return False


def checked_streaming_base(instance_url: str, named: str, *, token: bool = False) -> str:
    """The base URL to stream from when ``named`` (the streaming server's ``scheme://host[:port]``, as Mastodon.py
    derives it from the instance document: ``wss`` read as ``https``, ``ws`` as ``http``) is the instance's, rebuilt
    from its scheme, host and port alone; else :class:`StreamingServerRefused`, whose message says whether the
    ``token`` was kept back."""
    domain = instance_domain(instance_url)
    instance_host, instance_scheme = server_of(instance_url)[0] or "", urlsplit(instance_url).scheme
    refused = "not connected" + (", and the token is not sent there" if token else "")
    scheme = urlsplit(named).scheme.lower()
    try:
        if scheme not in ("http", "https"):
            raise ConfigError(scheme)
        host_port = instance_domain(named)  # no user or password, path or IPv6 literal; a port that is a port
    except ConfigError:
        raise StreamingServerRefused(
            f"{domain}: the instance names as its streaming server an address fediscope does not take (not "
            f"wss://host[:port]): {refused}") from None
    host = server_of(f"{scheme}://{host_port}")[0] or ""
    if not is_own_host(host, instance_host):
        raise StreamingServerRefused(
            f"{domain}: the instance names its streaming server at {host_port} (not {instance_host} nor a subdomain "
            f"of it): {refused}; fediscope streams only from the instance's host or a subdomain of it (fediscope "
            "collect reads the same timelines)")
    if instance_scheme == "https" and scheme != "https":
        raise StreamingServerRefused(
            f"{domain}: the instance names its streaming server at {host_port} over plain HTTP (ws:// or http://, "
            f"unencrypted, while the instance is https): {refused}; fediscope streams from an https instance over "
            "TLS only")
    return f"{scheme}://{host_port}"


def pin_streaming_server(client: MastodonClient) -> str:
    """Ask Mastodon.py where ``client``'s instance streams (it reads the instance document), check it
    (:func:`checked_streaming_base`) and make the checked base URL the one Mastodon.py streams from, for every
    connection of this client; returns it. Raises :class:`StreamingServerRefused` before any connection to a
    streaming server. An instance document that cannot be had leaves the instance itself (Mastodon.py's fallback)."""
    api = client.api
    try:
        named = api._Mastodon__get_streaming_base()  # type: ignore[attr-defined]
    except MastodonError:  # a scheme Mastodon.py cannot read ("ftp://…", a bare host name)
        named = ""
    base = checked_streaming_base(client.base_url, named, token=bool(client.access_token))
    api._Mastodon__streaming_base = base  # read by Mastodon.py's __stream for every (re)connection
    return base
