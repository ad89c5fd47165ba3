"""Quarantine: where upstream data that is not what the Mastodon API documents goes instead of the raw lake.

A quarantine file (``<lake>/quarantine/instance=<domain>/dt=<day>/<endpoint>-<batch>.json``) records what was
wrong, from which endpoint and when, so a broken instance or a change of the API can be diagnosed. Quarantined
data never passed the privacy policy, so with the policy on (the default) a file keeps only the reason, the
*shape* of the item (field names and value types), its size and a SHA-256 fingerprint — never the values,
which may be account identifiers. With ``FEDISCOPE_PRIVACY=off`` the raw item or body is kept as well, with the
secrets the request held (its token: ``secrets``) and anything shaped like a credential masked
(:func:`~fediscope.redact.redact_value`, as the logs mask them): a proxy's or a server's debug page may echo the
request, its ``Authorization`` header included, and secrets are never written to the lake. The fingerprint is of
what was sent. A malformed record of an account that opted out or was erased (its own, or its boost of a status
of one) is not quarantined at all: it is left out and counted as the policy leaves the record out
(:meth:`~fediscope.privacy.PrivacyPolicy.left_out_unread`), so with privacy off their data is not kept here either.
Another person's malformed item (or a body) kept with privacy off that names an erased account — mentions it,
quotes it, writes its handle or a link to its profile — is kept without it, as landing keeps a good one
(:meth:`~fediscope.privacy.PrivacyPolicy.erased_in_quarantine`: that account's objects keep their fields with their
texts ``[erased]``, and its mentions and links in texts become ``[erased]``), in the shape it came in: its reason,
shape and fingerprint are of the item as sent.

The collector and the scraping API (:mod:`api.upstream`) write a page's malformed items with
:func:`quarantine_items` and a body that is not the documented shape with :func:`quarantine_body`, so both
produce the same files. The collector names a file after its page (a page fetched again overwrites it); the API,
which serves the same page to any number of requests, names it after its content (``by_content``), so malformed
data asked for again lands in the same file of the day instead of one more file per request. The stream
(:mod:`fediscope.sources.stream`) writes its events' entries with :func:`item_entry`, with the same ``scrub``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import quarantine_path
from fediscope.redact import redact_text, redact_value

if TYPE_CHECKING:
    from fediscope.sources.client import MalformedResponse
    from fediscope.sources.pages import QuarantinedItem

MAX_BODY = 64 * 1024
#: Bytes read past :data:`MAX_BODY` before masking, so a secret the cut would split is still whole when masked.
_MASK_MARGIN = 1024


def shape(value: Any, depth: int = 0) -> Any:
    """Field names and value types of a JSON value (``{"id": "str", "account": {...}}``), no values."""
    if isinstance(value, dict):
        if depth >= 4:
            return "object"
        return {str(k)[:60]: shape(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list):
        return [shape(value[0], depth + 1), f"len={len(value)}"] if value else []
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), type(value).__name__)


def _fingerprint(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def item_entry(reason: str, item: Any, keep_raw: bool, secrets: Iterable[str] = (),
               scrub: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """One quarantined item (a malformed entity inside an otherwise readable page); kept (``keep_raw``) with
    ``secrets`` and credential-shaped text masked, and what it holds of an erased account taken out by ``scrub``
    (module docstring)."""
    raw = json.dumps(item, sort_keys=True, default=str).encode()
    entry: dict[str, Any] = {"kind": "item", "reason": reason, "shape": shape(item), **_fingerprint(raw)}
    if keep_raw:
        kept = scrub(item) if scrub is not None else item
        entry["item"] = redact_value(kept, tuple(secrets))  # every string, field names included
    return entry


def body_entry(reason: str, content: bytes, status: int, content_type: str, keep_raw: bool,
               secrets: Iterable[str] = (), scrub: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """One quarantined response body (not JSON, or not the documented shape); kept (``keep_raw``) with ``secrets``
    and credential-shaped text masked, and what it says of an erased account taken out by ``scrub`` (module
    docstring)."""
    entry: dict[str, Any] = {"kind": "body", "reason": reason, "status": status,
                             "content_type": content_type[:100], **_fingerprint(content)}
    if keep_raw:
        # masked before it is cut: no cut-off part of a secret stays (one across the cut is masked too)
        secrets = tuple(secrets)
        text = content[:MAX_BODY + _MASK_MARGIN].decode("utf-8", "replace")
        if len(content) > MAX_BODY + _MASK_MARGIN:  # what was read ends inside the body: maybe inside a secret
            text = without_secret_start(text.rstrip("\ufffd"), secrets)
            if scrub is not None:  # or inside an erased account's handle or link, which scrub finds only whole
                text = _CUT_WORD_RE.sub("", text)
        if scrub is not None:
            text = scrub(text)
        entry["body"] = redact_text(text, secrets)[:MAX_BODY]
    return entry


#: The word (a handle, a link) a body read in part ends with: cut there, a handle or link of an erased account is no
#: longer one that :meth:`~fediscope.privacy.PrivacyPolicy.erased_in_quarantine` finds, but still names it in part
#: (``alice@exam``). Was: kept, in a body of multi-byte text (``MAX_BODY`` characters are more than what was read) or
#: one the scrub shortened before the cut.
_CUT_WORD_RE = re.compile(r"""[^\s"'<>]+\Z""")


def without_secret_start(text: str, secrets: Iterable[str]) -> str:
    """``text`` (what was read of a longer body) without the start of a known secret it ends with, in any case (as
    :func:`~fediscope.redact.mask_secrets` finds them): cut there, it is no whole secret to mask. Was: kept, in a
    body of multi-byte text (:data:`MAX_BODY` characters are more than what was read) or of secrets masked before
    the cut (each ``***`` is shorter than its secret): 20 of a token's 36 characters stayed in the lake."""

    def started(secret: str) -> int:
        return next((n for n in range(min(len(secret) - 1, len(text)), 0, -1)
                     if text[-n:].lower() == secret[:n].lower()), 0)

    length = max((started(secret) for secret in secrets), default=0)
    return text[:-length] if length else text


def write_quarantine(lake: LakeBackend, instance: str, endpoint: str, entries: list[dict[str, Any]],
                     batch_id: str, fetched_at: datetime | None = None) -> str | None:
    """Write the entries of one page as one quarantine file (atomically). Returns its lake path."""
    if not entries:
        return None
    fetched = (fetched_at or datetime.now(UTC)).astimezone(UTC)
    path = quarantine_path(instance, endpoint, fetched.date(), batch_id)
    document = {"instance": instance, "endpoint": endpoint,
                "fetched_at": fetched.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "entries": entries}
    # a lone surrogate (JSON's "\\ud800", quarantined for it) can only be in a string: written as that escape again
    lake.write_atomic(path, json.dumps(document, ensure_ascii=False, indent=1, default=str).encode(
        "utf-8", "backslashreplace"))
    return path


def content_tag(entries: list[dict[str, Any]]) -> str:
    """16 hex digits naming what ``entries`` hold (a digest of their fingerprints, no values)."""
    return hashlib.sha256("\n".join(f"{e['kind']}:{e['sha256']}" for e in entries).encode()).hexdigest()[:16]


def _batch_id(batch_id: str, entries: list[dict[str, Any]], by_content: bool) -> str:
    return f"{batch_id}-{content_tag(entries)}" if by_content and entries else batch_id


def quarantine_items(lake: LakeBackend, instance: str, endpoint: str, quarantined: Iterable[QuarantinedItem],
                     batch_id: str, *, keep_raw: bool, fetched_at: datetime | None = None,
                     by_content: bool = False, secrets: Iterable[str] = (),
                     scrub: Callable[[Any], Any] | None = None) -> str | None:
    """Write the malformed items of one landed page (``Landed.quarantined``) as one quarantine file; None when
    there are none. ``by_content`` appends :func:`content_tag` to ``batch_id`` (module docstring); ``secrets``
    are masked in the items kept, and ``scrub`` (the policy's :meth:`~fediscope.privacy.PrivacyPolicy.
    quarantine_scrub`) takes what they hold of an erased account out. Raises :class:`~fediscope.errors.LakeError`
    when the lake cannot be written."""
    secrets = tuple(secrets)
    entries = [item_entry(q.reason, q.item, keep_raw=keep_raw, secrets=secrets, scrub=scrub) for q in quarantined]
    return write_quarantine(lake, instance, endpoint, entries, _batch_id(batch_id, entries, by_content), fetched_at)


def quarantine_body(lake: LakeBackend, instance: str, exc: MalformedResponse, batch_id: str, *, keep_raw: bool,
                    by_content: bool = False, secrets: Iterable[str] = (),
                    scrub: Callable[[Any], Any] | None = None) -> str | None:
    """Write the body of a :class:`~fediscope.sources.client.MalformedResponse` (not JSON, or not the documented
    shape) as one quarantine file under its endpoint, the reason being the exception's message; returns the
    file's lake path. ``secrets`` are masked in the body kept, and ``scrub`` takes what it says of an erased
    account out (as :func:`quarantine_items`). Raises :class:`~fediscope.errors.LakeError` when the lake cannot be
    written."""
    entries = [body_entry(str(exc), exc.content, exc.status, exc.content_type, keep_raw=keep_raw, secrets=secrets,
                          scrub=scrub)]
    return write_quarantine(lake, instance, exc.endpoint, entries, _batch_id(batch_id, entries, by_content))
