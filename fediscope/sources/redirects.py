"""Which redirects an upstream request follows: to the same server only (one rule for collect, stream and the API).

An instance that redirects a request to another host would have that host's answers land under its own name (the
``instance=`` partition, pseudonyms keyed on it), and could point the collector at any address of the network it
runs in (a metadata service, an internal server), whose answer would be kept in ``quarantine/`` when it is not
Mastodon JSON. So every upstream session (:class:`~fediscope.sources.client.MastodonClient`'s, which the stream and
the scraping API use too) carries :func:`same_host_redirects_only`: a redirect is followed when it stays on the
server the answer came from, path and query changing freely, and ``http://host/`` → ``https://host/`` (an upgrade to
TLS on the ports the schemes connect to anyway) too; one to another host or port is refused before a connection is
made, with :class:`RedirectElsewhere`, and so is one from ``https://`` to ``http://`` on the same server (a
downgrade, was followed: requests drops the token then, but the request and its answer would travel unencrypted).
The collector's connections go only to the configured instance (and the streaming server it names, when that is the
instance's host or a subdomain of it: :mod:`fediscope.sources.streaming_server`), so a redirect cannot lead them to
an address the configuration did not; the API's address check (``FEDISCOPE_ALLOW_PRIVATE_ADDRESSES``,
:mod:`api.guard`) holds on its connections besides.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from fediscope.config import DEFAULT_PORTS
from fediscope.redact import redact_url
from fediscope.sources.endpoints import shown_url


def server_of(url: str) -> tuple[str | None, int | None]:
    """The server ``url`` names, told apart as :func:`~fediscope.config.instance_domain` tells instances apart: its
    host, and its port unless that is the one its scheme connects to anyway (None then). So ``https://host/`` and
    ``https://host:443/`` are one server (was: a redirect between them was refused as "another host"), and so are
    ``http://host/`` and ``http://host:80/``; ``https://host:8443/`` is another, and so is ``http://host:443/``
    (https's port, over http). A redirect from ``http://host/`` to ``https://host/`` (an upgrade to TLS) stays
    followed. Raises ValueError for a port that is no port (``:99999``, ``:x``)."""
    parts = urlsplit(url)
    return parts.hostname, None if parts.port == DEFAULT_PORTS.get(parts.scheme) else parts.port


class RedirectElsewhere(requests.exceptions.InvalidURL):
    """A redirect to another server, refused before it is followed: ``origin`` is the URL that answered with it,
    ``target`` the (absolute) URL it points to."""

    def __init__(self, origin: str, target: str) -> None:
        where = "plain HTTP" if is_downgrade(origin, target) else "another host"
        super().__init__(f"refused redirect from {urlsplit(origin).hostname} to {where}: {_shown_target(target)}")
        self.origin, self.target = origin, target

    def explained(self, who: str = "the instance") -> str:
        """One line: where ``who`` (the instance, the streaming server) redirects, that it is not followed, and what
        to configure if that is where the instance lives."""
        try:
            host, port = server_of(self.target)
            scheme = urlsplit(self.target).scheme.lower()
        except ValueError:
            host = None
        if not host:
            return f"{who} redirects to an invalid address ({_shown_target(self.target)}): not followed"
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address
        shown += f":{port}" if port is not None else ""
        try:
            origin = server_of(self.origin)
        except ValueError:
            origin = (None, None)
        if origin == (host, port) and is_downgrade(self.origin, self.target):
            return (f"{who} redirects from https to http://{shown} (a downgrade to plain HTTP, unencrypted): not "
                    f"followed; configure http://{shown} as the instance if it is served over plain HTTP only")
        what = "another port" if origin[0] == host else "another host"
        text = f"{who} redirects to {shown} ({what}): not followed"
        if scheme in DEFAULT_PORTS:
            text += f"; configure {scheme}://{shown} as the instance if that is where it lives"
        return text


def _shown_target(target: str) -> str:
    """A redirect's target as a message quotes it: secrets masked, an account's id and a lookup's handle too (an
    instance redirecting an account's request keeps them in the URL: :func:`~fediscope.sources.endpoints.shown_url`),
    at most 200 characters."""
    shown = shown_url(redact_url(target))
    return shown if len(shown) <= 200 else shown[:200] + " …"


def is_downgrade(origin: str, target: str) -> bool:
    """Whether going from ``origin`` to ``target`` leaves TLS for plain HTTP (``https://`` → ``http://``)."""
    return urlsplit(origin).scheme.lower() == "https" and urlsplit(target).scheme.lower() == "http"


def same_host_redirects_only(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: raise :class:`RedirectElsewhere` for a redirect to another server (see :func:`server_of`),
    or from https to plain HTTP (was: followed when the host and port were the same), before requests follows
    it."""
    if not response.is_redirect:
        return
    target = urljoin(response.url, response.headers.get("location", ""))
    try:
        elsewhere = server_of(target) != server_of(response.url)
    except ValueError:  # a port that is no port (":99999"): was a plain ValueError, 502 "failed or timed out"
        elsewhere = True
    if elsewhere or is_downgrade(response.url, target):
        raise RedirectElsewhere(response.url, target)
