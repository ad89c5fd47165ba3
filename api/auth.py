"""API keys: several active at once (rotation), compared in constant time, optionally read-only.

Keys come from ``FEDISCOPE_API_KEY`` (comma-separated). Rotation: add the new key next to the old one,
move clients over, then remove the old key; both work in between. A key written ``secret:ro`` is read-only:
it may call the read methods (GET, HEAD, OPTIONS) and gets 403 on any other method. Every route the API
serves today is a read route (they fetch from Mastodon and return records; none lands them, though a scraping
request may write the lake's bookkeeping: quarantine, opt-out notes, handle domains, the key check),
so ``:ro`` keys can call all of them; the check is made on the HTTP method, so any write route added later
is refused to read-only keys without anything to remember.

The secret is never logged or echoed: logs and rate-limit buckets use the key's label (``key#2``), its
position in the setting.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from fediscope.config import API_KEY_COMMAND, api_key_problem
from fediscope.errors import ConfigError

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_SUFFIX = ":ro"
HEADER = "X-API-Key"
#: Shorter keys still work, but are reported at start-up: they can be guessed.
MIN_RECOMMENDED_LENGTH = 16


@dataclass(frozen=True)
class ApiKey:
    label: str
    read_only: bool
    digest: bytes = field(repr=False)


def _digest(secret: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison time independent of the secret's length too.
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    """The accepted keys. :meth:`match` returns the key a request presented, or None."""

    def __init__(self, configured: tuple[str, ...] | list[str]) -> None:
        # load_settings refuses such a key already; settings made in code (Settings(...), .replace) are not parsed
        if problem := api_key_problem(tuple(configured)):
            raise ConfigError(f"FEDISCOPE_API_KEY is invalid: {problem}")
        keys: list[ApiKey] = []
        for position, raw in enumerate(configured, start=1):
            secret, read_only = raw, False
            if raw.endswith(READ_ONLY_SUFFIX):
                secret, read_only = raw[: -len(READ_ONLY_SUFFIX)], True
            if not secret.strip():
                raise ConfigError(f"FEDISCOPE_API_KEY entry {position} is empty; remove it or set a secret")
            label = f"key#{position}" + (" (ro)" if read_only else "")
            if len(secret) < MIN_RECOMMENDED_LENGTH:
                log.warning("API %s is shorter than %d characters; use e.g. %s",
                            label, MIN_RECOMMENDED_LENGTH, API_KEY_COMMAND)
            keys.append(ApiKey(label=label, read_only=read_only, digest=_digest(secret)))
        if not keys:
            raise ConfigError("the scraping API needs at least one key: set FEDISCOPE_API_KEY to a long random "
                              f"secret, e.g. export FEDISCOPE_API_KEY=$({API_KEY_COMMAND}) (comma-separate several "
                              "keys to rotate them)")
        self.keys = tuple(keys)

    def match(self, presented: str | None) -> ApiKey | None:
        """The configured key equal to ``presented``; every key is compared, so timing reveals nothing."""
        if not presented:
            return None
        candidate = _digest(presented)
        found: ApiKey | None = None
        for key in self.keys:
            if hmac.compare_digest(candidate, key.digest):
                found = key
        return found


class RepeatedKeyHeader(ValueError):
    """The key header came more than once (or as a comma-separated list) with values that differ."""


def presented_key(header: str | None) -> str | None:
    """The one key a request's :data:`HEADER` presents.

    A header sent twice reaches the app as one value, joined with a comma (werkzeug's server writes ``a,b``,
    waitress ``a, b``; RFC 9110 section 5.3 lets any proxy do the same), and some proxies duplicate headers. No key
    holds a comma (``FEDISCOPE_API_KEY`` is a comma-separated list), so a comma separates values: when they are all
    the same, that value is the key presented (the spaces a join adds are not part of it); when they differ,
    :class:`RepeatedKeyHeader` — which key was meant cannot be guessed, and trying each would let one request
    test several keys. A value without a comma is taken exactly as sent (``key `` is not ``key``).
    """
    if header is None or "," not in header:
        return header
    values = {value.strip(" \t") for value in header.split(",")}
    if len(values) > 1:
        raise RepeatedKeyHeader(f"the {HEADER} header was sent more than once (or as a comma-separated list) with "
                                "different values; send it once, with one key")
    return values.pop()


def unknown_key_message(presented: str | None) -> str:
    """The 401's message. A value ending in :data:`READ_ONLY_SUFFIX` is most likely a read-only key copied from
    ``FEDISCOPE_API_KEY`` as written there (``secret:ro``), where the suffix only marks it: the client sends
    ``secret``. The hint depends on the value sent alone, never on the configured keys, so it reveals nothing."""
    message = f"missing or unknown API key: send it in the {HEADER} header (keys are configured in FEDISCOPE_API_KEY)"
    if presented and presented.endswith(READ_ONLY_SUFFIX):
        message += (f"; a read-only key is sent without the '{READ_ONLY_SUFFIX}' that marks it in FEDISCOPE_API_KEY "
                    "(FEDISCOPE_API_KEY=secret:ro: send X-API-Key: secret)")
    return message


def may_call(key: ApiKey, method: str) -> bool:
    """Read-only keys may use the read methods only."""
    return not key.read_only or method.upper() in READ_METHODS
