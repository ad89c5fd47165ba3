"""The recorded Mastodon double as a server of other fediverse software sees it: text ids instead of snowflakes.

GoToSocial answers the Mastodon API with ULIDs (26 characters of Crockford's base32: 48 bits of milliseconds, then
80 more), Pleroma and Akkoma with FlakeIds (128 bits — 64 of milliseconds, 48 of node, 16 of sequence — in base62,
``0-9A-Za-z``: 18 characters today). Both sort by time as text, as the collector orders text ids
(:func:`fediscope.sources.pages.id_key`). :class:`TextIdDouble` serves the corpus of
:class:`~doubles.mastodon_server.MastodonDouble` (REAL recorded statuses) with every id rewritten into one of these
forms, consistently: status, account, mention, media and tag ids, ``in_reply_to_id``, ``in_reply_to_account_id``,
the reblogged status's, the ids inside ``uri``/``url``, and the ``Link`` header's cursors. Requests carry text ids
back (paging cursors, ``/api/v1/accounts/<id>/statuses``), which it reads back into the snowflakes the double pages
by: each encoding keeps the snowflake in its high bits, so any well-formed id it is given decodes (as the server
would compare it) and the order is the snowflakes'.

The recorded public statuses hold no reply and no reblog, so :meth:`TextIdDouble.add_threads` publishes the
recorded ones too: a public status and a public reply to it (``test_status_reply``), a public status and a public
reblog of it (``test_status_reblogged_by``), cloned with new snowflakes (each one's references moved with it) and
the corpus's account of each author.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from doubles.mastodon_server import RECORDINGS, MastodonDouble, snowflake

#: Keys whose digit-string value is an id of the instance (every object: statuses, accounts, mentions, media …).
ID_KEYS = ("id", "in_reply_to_id", "in_reply_to_account_id")
#: Keys whose string value is a link that may embed ids (``/ap/users/<id>/statuses/<id>``, ``/@user/<id>``).
LINK_KEYS = ("uri", "url")
#: A snowflake (or other long number) inside a link: ports and short numbers of the recordings are left alone.
_NUMBER_IN_LINK = re.compile(r"(?<![0-9])[0-9]{6,}(?![0-9])")
_CURSOR = re.compile(r"\b(max_id|min_id|since_id)=([0-9]+)")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PAGING = ("max_id", "since_id", "min_id")
#: The recorded public threads: (recording, the parent's interaction index, the child's). Their children answer
#: a POST (a reply, a reblog) and are public, as are their parents.
THREADS = (("test_status_reply.json", 0, 2), ("test_status_reblogged_by.json", 0, 1))


def rewrite_ids(value: Any, new_id: Callable[[str], str]) -> Any:
    """A copy of ``value`` (any JSON) with every id (:data:`ID_KEYS`, digits) and every long number inside a link
    (:data:`LINK_KEYS`) replaced by ``new_id`` of it."""
    if isinstance(value, list):
        return [rewrite_ids(item, new_id) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in ID_KEYS and isinstance(item, str) and item.isascii() and item.isdigit():
            out[key] = new_id(item)
        elif key in LINK_KEYS and isinstance(item, str):
            out[key] = _NUMBER_IN_LINK.sub(lambda m: new_id(m.group()), item)
        else:
            out[key] = rewrite_ids(item, new_id)
    return out


def _encode(number: int, alphabet: str, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(reversed(digits)).rjust(width, alphabet[0])


def _decode(text: str, alphabet: str) -> int:
    number = 0
    for char in text:
        number = number * len(alphabet) + alphabet.index(char)  # ValueError: not of this alphabet
    return number


def ulid(snowflake_id: str) -> str:
    """GoToSocial's form of a snowflake: its milliseconds and sequence in the ULID's high bits, then 64 bits
    derived from it (the ULID's randomness, here reproducible)."""
    number = int(snowflake_id)
    noise = int.from_bytes(hashlib.blake2b(snowflake_id.encode(), digest_size=8).digest(), "big")
    return _encode((number >> 16) << 80 | (number & 0xFFFF) << 64 | noise, CROCKFORD, 26)


def from_ulid(text: str) -> int:
    value = _decode(text.upper(), CROCKFORD)  # ULIDs are read in any case
    return (value >> 80) << 16 | (value >> 64) & 0xFFFF


#: the node (48 bits) of the FlakeIds: one server
FLAKE_NODE = 0x2A5C_91E0_3B17


def flake_id(snowflake_id: str) -> str:
    """Pleroma's and Akkoma's form of a snowflake: ``<<ms:64, node:48, seq:16>>`` in base62."""
    number = int(snowflake_id)
    return _encode((number >> 16) << 64 | FLAKE_NODE << 16 | number & 0xFFFF, BASE62, 1)


def from_flake_id(text: str) -> int:
    value = _decode(text, BASE62)
    return (value >> 64) << 16 | value & 0xFFFF


#: kind → (encode a snowflake, decode a text id back to it)
KINDS: dict[str, tuple[Callable[[str], str], Callable[[str], int]]] = {
    "ulid": (ulid, from_ulid), "flake": (flake_id, from_flake_id)}


def recorded_threads(recordings: Any = RECORDINGS) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The recorded (parent, child) pairs of :data:`THREADS`, as the instance answered them."""
    out = []
    for name, parent, child in THREADS:
        interactions = json.loads((recordings / name).read_text())["interactions"]
        out.append((copy.deepcopy(interactions[parent]["response"]["body"]),
                    copy.deepcopy(interactions[child]["response"]["body"])))
    return out


class TextIdDouble(MastodonDouble):
    """The Mastodon double serving ``kind`` ids (``"ulid"``: GoToSocial, ``"flake"``: Pleroma/Akkoma) instead of
    snowflakes; see the module docstring. ``public_statuses()`` stays in snowflakes, :meth:`text` turns one."""

    def __init__(self, kind: str = "ulid", **kwargs: Any) -> None:
        self.kind = kind
        self._encode, self._decode = KINDS[kind]
        super().__init__(**kwargs)

    def text(self, snowflake_id: str) -> str:
        """The id the double serves for ``snowflake_id``."""
        return self._encode(snowflake_id)

    def served(self, status: dict[str, Any]) -> dict[str, Any]:
        """``status`` (of :meth:`public_statuses`) as the double serves it."""
        return rewrite_ids(status, self._encode)

    def add_threads(self) -> list[dict[str, Any]]:
        """Publish the recorded threads (module docstring), newer than every other status: each parent, then its
        child. Returns them as published (snowflake ids)."""
        authors = {s["account"]["acct"]: s["account"] for s in self._templates}
        added = []
        with self._lock:
            for parent, child in recorded_threads():
                moved: dict[str, str] = {}
                created: dict[str, str] = {}
                for status in (parent, child):
                    self._newest_at += self.spacing
                    moved[status["id"]] = snowflake(self._newest_at, self._clones)
                    created[moved[status["id"]]] = self._newest_at.isoformat(timespec="milliseconds").replace(
                        "+00:00", "Z")
                    self._clones += 1
                for status in (parent, child):
                    clone = rewrite_ids(status, lambda i, moved=moved: moved.get(i, i))
                    for entity in (clone, clone.get("reblog")):
                        if isinstance(entity, dict):
                            entity["created_at"] = created.get(entity["id"], entity["created_at"])
                            entity["account"] = authors.get(entity["account"]["acct"], entity["account"])
                    if clone.get("in_reply_to_id"):
                        clone["in_reply_to_account_id"] = added[-1]["account"]["id"]
                    added.append(clone)
            self.statuses = sorted(added, key=lambda s: int(s["id"]), reverse=True) + self.statuses
        return added

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        try:
            params = {k: str(self._decode(v)) if k in PAGING and v else v for k, v in params.items()}
            if path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
                parts = path.split("/")
                parts[4] = str(self._decode(unquote(parts[4])))
                path = "/".join(parts)
        except ValueError:
            return 400, {}, {"error": "invalid id"}
        status, headers, body = super()._route(path, params)
        if "Link" in headers:
            headers = {**headers, "Link": _CURSOR.sub(lambda m: f"{m[1]}={quote(self._encode(m[2]))}",
                                                      headers["Link"])}
        return status, headers, rewrite_ids(body, self._encode)


class PleromaDouble(TextIdDouble):
    """:class:`TextIdDouble` serving FlakeIds, except for its ``numbered`` oldest statuses (at the start): a Pleroma
    instance older than its FlakeIds, whose statuses of before keep their numeric ids. They are numbered from
    ``first_number`` by ``step`` (``"95"``, ``"98"`` … ``"101"``: of differing lengths) and Pleroma places them
    as FlakeIds of time 0 (``FlakeId.from_string``: a number shorter than 18 characters), below every other id;
    as paging bounds it reads any number so, the ones between them too."""

    def __init__(self, numbered: int, *, first_number: int = 95, step: int = 3, **kwargs: Any) -> None:
        super().__init__("flake", **kwargs)
        old = sorted((s["id"] for s in self.statuses), key=int)[:numbered]
        self._numbers = {snowflake_id: str(first_number + i * step) for i, snowflake_id in enumerate(old)}
        self._snowflakes = sorted((int(number), int(snowflake_id)) for snowflake_id, number in self._numbers.items())
        self._encode, self._decode = self._pleroma_id, self._from_pleroma_id

    def _pleroma_id(self, snowflake_id: str) -> str:
        return self._numbers.get(snowflake_id) or flake_id(snowflake_id)

    def _from_pleroma_id(self, text: str) -> int:
        """The snowflake a paging id stands for: a FlakeId's own; a number's, when it is one of the old statuses',
        else just above the old status numbered below it (0: below them all), so that the double's exclusive
        bounds compare as Pleroma's do."""
        if not (text.isascii() and text.isdigit() and len(text) < 18):
            return from_flake_id(text)
        number = int(text)
        below = [(n, s) for n, s in self._snowflakes if n <= number]
        if not below:
            return 0
        n, snowflake_id = below[-1]
        return snowflake_id if n == number else snowflake_id + 1
