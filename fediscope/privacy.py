"""The privacy policy applied at landing: keyed pseudonyms, data minimisation, opt-outs.

Every account identifier (id, username, acct, display name, profile url/uri) is replaced by a keyed pseudonym
(HMAC-SHA256 with ``FEDISCOPE_PSEUDONYM_KEY``). Pseudonyms are stable for one key, so analytics still join
across runs and instances, and change completely when the key changes. Two pseudonyms exist per account:

* the **account key** (``acct:`` + ``user@domain``): global, the same on every instance; it replaces
  ``username``, ``acct`` and ``display_name`` and is what curated tables and metrics use;
* the **id pseudonym** (``id:`` + ``instance/id``): account ids are local to the instance that serves them, and
  some fields (``in_reply_to_account_id``) carry only an id, so ids get a pseudonym of their own.

Status ``uri``/``url`` embed the author's id or name, so they are pseudonymised whole (still unique, so
deduplication by URI works). A status whose URI has Mastodon's shape (its home instance and its id there) also
gets an ``origin_ref``, the pseudonym of that home and id (``origin:`` + ``host/id``): a ``delete`` event from the
home instance names the same pair, so the deletion applies to every copy of the status, from any instance it was
fetched from (:mod:`fediscope.sources.stream` lands the deletion's ``origin_ref``). Mentions and the
links/handles they leave inside ``content`` are rewritten, and so is every other handle or profile/status link
written in the text (``content``, ``text``, ``spoiler_text``, poll options; a reblogged or quoted status's too):
``@user@domain`` becomes ``@`` and the account key of ``user@domain`` (what a mention of that account lands as, so
it joins), a link its pseudonym. ``user@domain`` without the leading ``@`` may be a handle written without it or
an e-mail address (they look the same): it is replaced by that key too, never landed as written. A bare
``@user`` (no domain) that Mastodon did not resolve stays: whose it is depends on the server it was written on.
Fields no metric needs (avatars, headers, profile fields, notes, media URLs) are dropped. Accounts that opted
out (``noindex: true``, or ``#nobot``/``#noindex``/``#nosearch``/``#noarchive`` in their bio) and accounts on the
suppression list (erasure requests) are skipped, together with every status they wrote or boosted (the keys of the
opted-out ones are kept in :attr:`PrivacyPolicy.opted_out`, for :mod:`fediscope.gdpr.opt_outs` to erase what was
landed of them before they opted out); in other people's statuses, mentions of a suppressed account are dropped
and its handles and links become ``[erased]`` (the list also holds its id pseudonyms, so replies to it lose
``in_reply_to_account_id``, and their ``in_reply_to_id`` becomes ``[erased]``). With the policy off
(``FEDISCOPE_PRIVACY=off``) records land as collected, but opted-out and erased accounts are skipped and noted all
the same (:meth:`PrivacyPolicy._as_collected`), and the mentions and profile links of an erased account that a status
mentions, quotes, names as a link preview's author or names in its texts (a handle, a profile link of a known shape)
become ``[erased]`` in its texts and link preview, as ``gdpr erase`` rewrote them in the statuses it found
(:mod:`fediscope.erased_mentions`).

**Local accounts and the handle domain.** An instance answers ``acct`` without a domain for its own (local)
accounts, so the policy completes it with a domain. A Mastodon server may hand out handles of one domain
(``LOCAL_DOMAIN``, ``@alice@example.com``) while it is served from another (``WEB_DOMAIN``,
``social.example.com``): every other instance answers ``acct: "alice@example.com"``. The landing paths learn
the handle domain from the instance document (:func:`handle_domain_of`) and register it with
:meth:`PrivacyPolicy.use_handle_domain`, which accepts it only when it is a proper parent domain of the host
connected to (``social.example.com`` → ``example.com``) and not a public suffix (:func:`parent_handle_domain`);
local accounts, their mentions, reblogged and quoted authors and the suppression-list check then all use it, so
one person has one account key. Any other instance (and any answer that is not such a parent) keeps the domain
connected to. An erasure may have listed the account under its other name (``alice@social.example.com``, made before
the lake knew the handle domain, when its records were keyed so): the suppression list holds the pseudonym of the
name erased, so an account is looked up there under both names, computed from its clear handle before it is
pseudonymised (:meth:`PrivacyPolicy.is_erased`), by the handle domains registered and those the lake remembers
(:meth:`PrivacyPolicy.use_remembered_handle_domains`, registered for that look-up alone). An opted-out account is
noted under both names by the same ones, wherever it was met, also when the run learns the handle domain only after
meeting it (:meth:`PrivacyPolicy._note_opt_outs_again`): its home instance's older records may be keyed by
the served domain, and another instance names it by the handle (``acct: "alice@example.com"``). Id pseudonyms,
``origin_ref`` and links in the text stay keyed by the host named in them (ids and
status URIs belong to the serving host).

**Internationalised domains.** Mastodon's API writes a remote account's domain in Unicode (``lfdi@bawü.social``),
while an instance is collected from its ASCII address (``xn--baw-joa.social``), which its local accounts are keyed
by. Every handle or domain the policy keys on (account keys, mentions', reblogged and quoted authors', those written
in the text, ``domain``, a handle domain) is settled on the ASCII spelling (:func:`fediscope.idn.landed_domain`),
and so is a remote ``acct``'s domain with privacy off: one person, one key. A domain that cannot be spelled in
ASCII stays as written, in lower case. Records landed before keep the key they were landed with (the Unicode
spelling's, for a remote account): ``gdpr erase``/``export`` look for both (:meth:`PrivacyPolicy.spelled_key`), and
an opted-out account is noted under both.

**Public suffixes.** A domain under which anyone can register a name (``co.uk``, ``pvt.k12.ma.us``; also the
private section of the Public Suffix List: ``github.io`` hosts many owners' sites) is nobody's handle domain:
``x.co.uk`` declaring ``co.uk`` would key its accounts as accounts of a domain whose other names belong to other
people. So a handle domain must not be a public suffix (:func:`is_public_suffix`, both sections of the list
bundled with the pinned ``publicsuffixlist`` package: never fetched, so the same version keys the same way
everywhere), nor lie above one of the host's: ``x.s3.amazonaws.com`` declaring ``amazonaws.com`` (not itself a
public suffix, but ``s3.amazonaws.com`` is) would claim a domain of the suffix's operator, whose other names
(``y.s3.amazonaws.com``) belong to other people again. A handle domain is therefore a parent between the host and
its nearest public suffix: its registrable domain (``example.co.uk``) or a name below it. A host that has no such
parent (``mastodon.co.uk``, ``x.github.io``, ``x.s3.amazonaws.com``: its direct parent is a public suffix already)
is not asked for one at all (:func:`may_have_handle_domain`, true exactly when some parent would be accepted).
The list is loaded on the first check (about 0.1 s, once per process), not on import; a check is then a few set
look-ups, made per instance (per page of the API, per batch of the stream), never per record.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import ipaddress
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import islice
from typing import Any
from urllib.parse import quote, unquote

from fediscope.config import PSEUDONYM_KEY_COMMAND, Settings
from fediscope.engine.visible_text import authored_length
from fediscope.erased_mentions import (
    ERASED,
    LINK_ANCHOR_RE,
    ProfileLinks,
    anchor_written,
    minimised_card,
    nested_statuses,
    profile_texts,
    quoted_paths,
    unlink_card_author,
    value_at,
    written_texts,
)
from fediscope.errors import ConfigError
from fediscope.idn import landed_domain, landed_handle, unicode_domain

#: A status URI as Mastodon writes it: ``https://<host>/users/<name>/statuses/<id>`` (``/ap/users/<id>/…`` since
#: 4.5; a reblog's ends in ``/activity``). Groups: the home instance and the status's id there. Written for
#: Python, RE2 (DuckDB) and Java (Spark) alike: the curation SQL derives the same pair from unpseudonymised URIs.
STATUS_URI_PATTERN = r"^https?://([^/?#]+)/(?:ap/)?users/[^/?#]+/statuses/([^/?#]+)(?:/activity)?$"
_STATUS_URI_RE = re.compile(STATUS_URI_PATTERN)

#: The field a landed status gets when the policy rewrote its ``content`` (a handle or a link became a pseudonym of
#: another length, or :data:`ERASED` for an erased account's): the length of the text as its author wrote it, as its
#: readers saw it, as curation counts it (:func:`fediscope.engine.visible_text.authored_length`), which curation takes
#: for ``content_length``. Privacy off lands the text as written, so landing writes one there only where it rewrote
#: an erased account's mention (:meth:`PrivacyPolicy._erase_names`; a server's own is dropped); ``gdpr erase`` keeps
#: it in a text it rewrites, and writes it with privacy off (:func:`keep_lengths_as_written`): the length of a status
#: is the same whether it was landed before or after an erasure, with privacy on or off.
AUTHORED_LENGTH = "authored_length"
#: The same for the content warning (``spoiler_text``, plain text): its length (characters) as its author wrote it,
#: when the policy rewrote it, which curation takes for ``content_warning_length`` (the warning's text itself is never
#: curated). Written, dropped and kept as :data:`AUTHORED_LENGTH` is.
AUTHORED_SPOILER_LENGTH = "authored_spoiler_length"
#: Each text field whose length as written a landed status may carry, with the field that carries it.
WRITTEN_LENGTHS = {"content": AUTHORED_LENGTH, "spoiler_text": AUTHORED_SPOILER_LENGTH}
OPT_OUT_TAGS = ("#nobot", "#noindex", "#nosearch", "#noarchive")
_OPT_OUT_RE = re.compile("(?:" + "|".join(re.escape(t) for t in OPT_OUT_TAGS) + r")\b", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]+>")
#: Profile and status links of any account, on any server: ``/@user``, ``/@user@remote``, ``/users/user``
#: (ActivityPub actor), ``/ap/users/<id>`` (Mastodon 4.5+ numeric actor), optionally followed by a status path.
_ACCOUNT_LINK_RE = re.compile(
    r"^https?://(?P<host>[^/?#\s]+)/(?:@(?P<user>[^/?#@\s]+)(?:@(?P<remote>[^/?#\s]+))?"
    r"|users/(?P<ap_user>[^/?#\s]+)|ap/users/(?P<ap_id>\d+))(?P<rest>/[^?#\s]*)?", re.IGNORECASE)

#: The user name a profile link's path starts with (``bob`` of ``…/@bob’s``): user names are ASCII.
_LINKED_NAME_RE = re.compile(r"[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*")

#: Account fields kept as they are (counts and flags the metrics use).
ACCOUNT_KEPT = ("locked", "bot", "group", "discoverable", "indexable", "noindex", "created_at",
                "followers_count", "following_count", "statuses_count", "last_status_at", "memorial",
                "suspended", "limited")
#: Account fields replaced by pseudonyms.
ACCOUNT_PSEUDONYMISED = ("id", "username", "acct", "display_name", "url", "uri")
#: Account fields dropped (every other field is dropped too: the policy keeps an allowlist).
ACCOUNT_DROPPED = ("note", "avatar", "avatar_static", "header", "header_static", "fields", "emojis",
                   "avatar_description", "header_description", "source", "roles", "hide_collections")
#: The statuses that are public data; ``private`` (followers-only), ``direct`` and ``limited`` ones are never
#: landed, whatever a token lets an instance answer (an account's timeline read with a follower's token, a stream),
#: nor inside another status (a boost of one, a quote of one).
PUBLIC_VISIBILITIES = (None, "public", "unlisted")
#: Status fields kept as they are.
STATUS_KEPT = ("id", "created_at", "edited_at", "in_reply_to_id", "sensitive", "spoiler_text", "visibility",
               "language", "replies_count", "reblogs_count", "favourites_count", "quotes_count", "content",
               "text", "tags", "emojis", "poll", "application", "pinned", "deleted")
STATUS_PSEUDONYMISED = ("uri", "url", "account", "in_reply_to_account_id", "mentions", "reblog", "quote")
MEDIA_KEPT = ("id", "type")

REGISTER_PURPOSES = {
    "statuses": "engagement analytics: counts of replies, reblogs and favourites; hashtags; languages; media",
    "accounts": "follower and activity statistics per pseudonymous account",
    "instance": "instance size and activity",
    "status_deletions": "honouring deletions: a status its author deleted (as the streaming API reports it) leaves "
                        "every analysis; only the instance and its id of the status are kept, with the pseudonym "
                        "of that pair that every copy of the status carries (origin_ref)",
}


def status_origin(uri: Any) -> tuple[str, str] | None:
    """(home instance in lower case, the status's id there) of a Mastodon status URI; None for other URIs."""
    match = _STATUS_URI_RE.fullmatch(uri) if isinstance(uri, str) else None  # whole URI, as the SQL requires
    return (match.group(1).lower(), match.group(2)) if match else None


def _acct_of(account: dict[str, Any]) -> str:
    acct = str(account.get("acct") or account.get("username") or "")
    if not acct:
        raise KeyError("account has no acct/username")
    return acct


def _ascii_acct(account: Any) -> Any:
    """An account (or mention) object as privacy off lands it: as collected, but a remote ``acct``'s domain in ASCII
    (``lfdi@bawü.social`` → ``lfdi@xn--baw-joa.social``, :func:`fediscope.idn.landed_handle`), so curation keys it
    as the records of its own server, collected from its ASCII address (``moved`` likewise). The same object when
    nothing changes."""
    if not isinstance(account, dict):
        return account
    out = account
    acct = account.get("acct")
    if isinstance(acct, str) and (landed := landed_handle(acct)) != acct:
        out = {**out, "acct": landed}
    if (moved := _ascii_acct(account.get("moved"))) is not account.get("moved"):
        out = {**out, "moved": moved}
    return out


def _replaced(record: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A shallow copy of ``record`` with the value at ``path`` (fields, outermost first) replaced by ``value``; the
    objects on the way copied, the rest shared."""
    head, *rest = path
    return {**record, head: _replaced(record[head], tuple(rest), value) if rest else value}


def clear_account_key(acct: str, instance: str) -> str:
    """The account key of records landed with privacy off: ``user@domain`` in lower case, a local account's domain
    being the instance it was fetched from (as curation keys them)."""
    acct = acct.lstrip("@").lower()
    return acct if "@" in acct else f"{acct}@{instance.lower()}"


def instance_account_id(instance: str, account_id: Any) -> str:
    """An account id with the instance that served it, ``instance/id``: ids are each instance's own numbers. What an
    id pseudonym is made of, and what privacy off keeps of an erased account's ids (as digests)."""
    return f"{instance.lower()}/{account_id}"


def clear_key_digest(key: str) -> str:
    """What the suppression list and the audit log hold for a clear account key (privacy off): never the name."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:32]


#: Any handle or account link written in a status's text, whoever's it is (the people a status names are known
#: from its ``mentions``, but a handle Mastodon did not resolve, in ``spoiler_text``, in a poll option or in the
#: source ``text`` is plain text): an ``http(s)`` URL (replaced only when it is a profile or status link, see
#: ``_ACCOUNT_LINK_RE``), or ``user@domain`` not inside a word, a URL path or a query (``/``, ``=``), with a
#: leading ``@`` (a handle: ``@carol@elsewhere.social``, a port allowed) or without one (a handle written without
#: it or an e-mail address, which cannot be told apart: its domain must have a dot or a port). Mastodon's own
#: mention syntax (``MENTION_RE``: not after a word character, ``/`` or ``=``) for ``@user@domain`` (so ``.@carol@x``
#: and ``@@carol@x`` are handles too), with the e-mail characters added for ``user@domain``.
_TEXT_ACCOUNT = (r"(?P<link>(?i:https?)://[^\s<>\"'\x00]*[^\s<>\"'\x00.,;:!?)\]])"
                 r"|(?:(?<![A-Za-z0-9/=])(?=@)|(?<![\w/=@.%+-])(?!@))(?P<at>@?)(?P<user>\w[\w.%+-]*)@"
                 r"(?P<domain>[^\W_][\w-]*(?:\.(?:[^\W_]|-)+)*(?::[0-9]+)?)(?![^\W_]|[@-]|\.[\w-]|:[0-9])")
_TEXT_ACCOUNT_RE = re.compile(_TEXT_ACCOUNT)
#: A link inside another link's path or query (``https://web.archive.org/web/2024/https://x.social/@bob/1``).
_NESTED_LINK_RE = re.compile(r"(?i:https?)://")
#: A percent-encoded link in another link's query (``?u=https%3A%2F%2Fx.social%2F%40bob``), up to its parameter's end.
_ENCODED_LINK_RE = re.compile(r"(?i:https?)%3A%2F%2F[^&#\s]*", re.IGNORECASE)
#: A tag as status HTML writes one (a stray ``<`` of text is not one).
#: A quoted value may hold ``<`` or ``>`` (``alt="bob > x"``); a quote left open is one character.
_TAG_SHAPED_RE = re.compile(r"""</?[A-Za-z](?>[^<>"']+|"[^"]*"|'[^']*'|["'])*?>""")
#: One ``name="value"`` of a tag.
_ATTRIBUTE_RE = re.compile(r"""(?<![\w:-])([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
#: A tag's name, from its ``<``.
_TAG_NAME_RE = re.compile(r"</?[A-Za-z][\w:-]*")
#: Attributes whose values only style or label the markup: names in them are markup, not text.
_MARKUP_ATTRIBUTES = frozenset({"class", "rel", "translate", "target", "lang", "dir", "start", "reversed"})
#: What may stay glued after a known person's link (``https://x.social/@bob’s``, ``…/@bob**``): nothing that could
#: carry an address, a link or a query.
_GLUED_TAIL_RE = re.compile(r"[^@%/:=&\s\"'<>]*")
#: A link's next characters that continue the name it ends with (``…/@bob`` of ``…/@bobby`` or ``…/@bob.b``).
#: User names are ASCII (Mastodon, GoToSocial, Misskey, Pleroma): a letter of another script glued after one
#: (``…/@bobまで``, Japanese has no spaces) is text, not more of the name.
_CONTINUES_NAME_RE = re.compile(r"[A-Za-z0-9_@]|[.\-][A-Za-z0-9_]")
#: The authority of a link, from just after its ``://``.
_AUTHORITY_RE = re.compile(r"[^/?#]*")
#: More links inside one link than any real one holds (see ``link_written``).
_MAX_NESTED_LINKS = 16
#: ``/%40user``: a profile path with its ``@`` percent-encoded.
_ENCODED_AT_RE = re.compile(r"/%40(?=\w)")
#: What may follow a known person's link and stay after their key: a path of plain characters.
_PLAIN_PATH_RE = re.compile(r"[\w/.,;!)\-~]*")
#: Characters that show nothing, which a label could hide a user name behind (``b&shy;ob``).
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")


def _fold(text: str) -> str:
    """``text`` with its ASCII letters in lower case: the length stays, so a position in one is one in the other
    (hosts and handles are compared without case, as Mastodon compares them). ``bytes.lower`` changes only ASCII
    letters, and in UTF-8 no byte of another character is one: twenty times faster than ``str.translate``."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _link_form(url: str) -> str:
    """A link as compared with a known one: without case, ``http`` and ``https`` alike."""
    return _form_of_folded(_fold(url))


def _form_of_folded(folded: str) -> str:
    """:func:`_link_form` of a link already folded (:func:`_fold`)."""
    return folded[folded.index("://"):] if folded.startswith(("http://", "https://")) else folded


@lru_cache(maxsize=4096)
def _without_userinfo(url: str) -> str | None:
    """``url`` without the user name (and password) before its host (``https://bob@mail.example.org/`` →
    ``https://mail.example.org/``), or None when it has none: ``user@host`` is never landed as written, and a
    pseudonym there would be taken for a user name again by the next pass."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority = rest[:end]
    if not sep or "@" not in authority:
        return None
    return f"{scheme}://{authority.rpartition('@')[2]}{rest[end:]}"


def _userinfo_parts(url: str) -> list[str]:
    """The user names and passwords of ``url`` and of any link inside it (decoded, as :func:`_shown` compares
    them)."""
    parts = []
    for scheme in _NESTED_LINK_RE.finditer(url):
        authority = _AUTHORITY_RE.match(url, scheme.end()).group(0)  # type: ignore[union-attr]  # always matches
        for part in re.split("[:@]", authority.rpartition("@")[0]):
            parts += {_shown(part), _shown(unquote(part))} - {""}
    return parts


def _markup_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` that are markup (see ``in_markup`` in ``PrivacyPolicy._scrub_text``), in order, with
    one empty span past the end so the list is never empty: in each tag-shaped span, its name, its attributes'
    names and the values of :data:`_MARKUP_ATTRIBUTES`; anything else in it (other values, quoted or not, what
    cannot be parsed) is text."""
    spans = []
    for tag in _TAG_SHAPED_RE.finditer(text):
        name = _TAG_NAME_RE.match(text, tag.start())
        end = name.end() if name else tag.start() + 1
        spans.append((tag.start(), end))
        for attribute in _ATTRIBUTE_RE.finditer(text, end, tag.end() - 1):
            spans.append(attribute.span(1))
            value = next((i for i in (2, 3, 4) if attribute.group(i) is not None), None)
            if value is not None and attribute.group(1).lower() in _MARKUP_ATTRIBUTES:
                spans.append(attribute.span(value))
    spans.append((len(text) + 1, len(text) + 1))
    return spans


def _shown(text: str) -> str:
    """Markup text as a reader sees it, to be searched: entities decoded, compatibility forms folded (NFKC),
    characters that show nothing removed, in lower case."""
    return _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", html.unescape(text))).lower()


def _version_like(domain: str) -> bool:
    """Whether the "domain" of a ``name@domain`` ends in a number (``react@18.2.0``, ``python@3.12``): a package
    version, not an address (no top-level domain is a number), so the text stays as written. An IPv4 address
    (``alice@192.168.1.10``, ``alice@127.0.0.1:3000``) is an address."""
    host = domain.split(":", 1)[0]
    return host.rsplit(".", 1)[-1].isdigit() and not _is_address(host)


@lru_cache(maxsize=4096)
def _handles_pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation of whole-word handles and links, longest first, then any other handle or account link
    (:data:`_TEXT_ACCOUNT`), compiled once per combination. A known handle followed by ``@`` is not taken
    (``@alice`` of ``@alice@elsewhere.social`` is another account's handle, matched whole by the last branch), nor
    the start of a longer user name with its domain (``@alice.b@other.example``). A known ``http(s)`` link is
    taken alone only where the link written ends with it (before a space or closing punctuation): any other
    (``…/@bob/1170…``, ``…/@bob?ref=…``, ``…/@bob%2Fcarol``) is matched whole by the last branch, where the known
    link it starts with decides first (see ``PrivacyPolicy._scrub_text``). ASCII letters of handles and links
    match in either case (``@Alice``); a bare name (``alice``, no ``@``) only as written, being a word too
    (``Mastodon``, ``mastodon``), and never as a link's scheme (an account named ``https``)."""
    def one(value: str) -> str:
        # bounded (no local part is longer than 64): unbounded, ``carol-carol-…`` cost time in its length squared
        longer_name = r"[.\-](?:[\w.%+\-]{0,63}\w@\w|[\w.%+\-]{64})"  # 64 characters more: longer anyway
        if _is_bare(value):
            # nor the digits of a placeholder (``\x0012\x00``) when the name is a number
            # ``carol@x.social`` is not the start of ``carol@x.social.org`` or ``carol@x.social-media.org``
            domain_goes_on = r"|-|\.[A-Za-z0-9]" if "@" in value else ""
            return rf"(?<![\w\x00]){re.escape(value)}(?![\w@\x00]|://|{longer_name}{domain_goes_on})"
        if _fold(value).startswith(("http://", "https://")):
            return rf"(?<!\w)(?ai:{re.escape(value)})(?=[.,;:!?)\]]*(?:[\s<>\"'\x00]|$))"
        if "://" in value:
            return rf"(?<!\w)(?ai:{re.escape(value)})(?![\w@])"
        # a handle glued after a letter of another script or ``_`` (``詳しくは@bob@x.social``, ``_@bob@x.social_``)
        # is still one; after it, a letter of another script is text, and ``_`` too once it has a domain, which
        # goes on only with a letter, digit, ``-`` or a dot and a label (``@bob@x.social-media.org`` is another)
        before = r"(?<![A-Za-z0-9])" if value.startswith("@") else r"(?<!\w)"  # ``x.social/@bob``, ``cc=@bob``
        after = r"[A-Za-z0-9@\-]|\.[A-Za-z0-9]" if value.count("@") > value.startswith("@") else r"[A-Za-z0-9_@]"
        return rf"{before}(?ai:{re.escape(value)})(?!{after}|{longer_name})"

    def fallback(value: str) -> str:
        """After :data:`_TEXT_ACCOUNT`: a known address whose domain goes on is another address, keyed whole there,
        except where that branch takes none (after ``=`` or ``/``, a port, a version-like end): then the known
        one is replaced and the rest stays (``to=carol@x.social.org`` → ``to=<key>.org``), never left in clear."""
        if _is_bare(value):
            return rf"(?<![\w\x00]){re.escape(value)}(?![\w@\x00]|://)"
        return rf"(?<![A-Za-z0-9])(?ai:{re.escape(value)})(?![A-Za-z0-9@])"
    addresses = [v for v in values if "@" in v.lstrip("@") and "://" not in v]
    return re.compile("|".join([*(one(v) for v in values), _TEXT_ACCOUNT, *(fallback(v) for v in addresses)]))


def _is_bare(value: str) -> bool:
    """A known name written without ``@`` (neither a handle nor a link): matched in its own case only."""
    return not value.startswith("@") and "://" not in value


class _KnownNames:
    """The known handles and links of one status's people (:meth:`PrivacyPolicy._known_names`), made once for all
    its texts, on first use (most statuses have empty ones)."""

    def __init__(self, make: Callable[[], tuple[dict[str, str], dict[str, str]]]) -> None:
        self._make = make

    @cached_property
    def _made(self) -> tuple[dict[str, str], dict[str, str]]:
        return self._make()

    @property
    def links(self) -> dict[str, str]:
        return self._made[1]

    @cached_property
    def replacements(self) -> dict[str, str]:
        handles, links = self._made
        return {**handles, **links}

    @cached_property
    def forms(self) -> dict[str, str]:
        """Each known link in the form links are compared in (:func:`_link_form`) → the link's key in ``links``."""
        return {_link_form(k): k for k in self.links}


def _opted_out(account: dict[str, Any]) -> bool:
    """``noindex: true``, or an opt-out tag in the bio. Mastodon renders a bio hashtag as HTML
    (``<a … class="mention hashtag">#<span>nobot</span></a>``), so markup is stripped before searching.

    A ``noindex`` that is neither ``false`` nor absent (null) counts as an opt-out too: a server that writes it
    otherwise (``"true"``, ``1``) means something we cannot read as consent to be indexed, and only ``true`` was
    honoured (the account landed with ``"noindex": "true"`` in its record)."""
    noindex = account.get("noindex")
    if noindex is not None and noindex is not False:
        return True
    note = html.unescape(_TAG_RE.sub("", str(account.get("note") or "")))
    return bool(_OPT_OUT_RE.search(note))


def status_opted_out(status: dict[str, Any]) -> bool:
    """Whether ``status`` is left out for an opt-out: its author's or, a boost, its original's author's (what the
    demo's stream step looks at to post a status that lands)."""
    reblog = status.get("reblog")
    return any(isinstance(account, dict) and _opted_out(account)
               for account in (status.get("account"), reblog.get("account") if isinstance(reblog, dict) else None))


def _host_of(instance: str) -> str:
    """The host of an instance domain (``social.example.com:8443`` → ``social.example.com``)."""
    host = instance.strip().lower().rstrip(".")
    if host.startswith("["):  # [IPv6]:port
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_address(host: str) -> bool:
    if ":" not in host and not host[-1:].isdigit():  # neither IPv6 nor dotted IPv4: skip the costly parse
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def _public_suffix_list() -> Any:
    """The Public Suffix List bundled with ``publicsuffixlist`` (read from the package's own file, never from the
    network), parsed on first use: importing this module stays cheap."""
    try:
        from publicsuffixlist import PublicSuffixList
    except ImportError:  # pragma: no cover - a dependency (requirements.txt), but keep the message clear
        raise ConfigError("handle domains are checked against the Public Suffix List of the publicsuffixlist "
                          "package, which is not installed: pip install -r requirements.txt -c constraints.txt"
                          ) from None
    return PublicSuffixList()  # accept_unknown: a top-level domain missing from the list is a public suffix too


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` (lower case, no port) is a public suffix: a top-level domain, or a name of the Public
    Suffix List's ICANN (``co.uk``) or private (``github.io``) section, or matched by one of its wildcards."""
    return bool(_public_suffix_list().is_public(domain))


def _parents(host: str) -> Iterator[str]:
    """The proper parent domains of ``host``, nearest first (``a.b.example.com`` → ``b.example.com``,
    ``example.com``, ``com``)."""
    start = host.find(".")
    while start != -1:
        yield host[start + 1:]
        start = host.find(".", start + 1)


def _below_public_suffixes(host: str, domain: str) -> bool:
    """Whether no public suffix lies between ``host`` and its parent ``domain``, ``domain`` included: ``domain`` is
    the host's registrable domain or a name below it, not a public suffix or a name above one."""
    for parent in _parents(host):
        if is_public_suffix(parent):
            return False
        if parent == domain:
            return True
    return False


def may_have_handle_domain(instance: str) -> bool:
    """Whether the host of ``instance`` has a parent domain that :func:`parent_handle_domain` would accept as its
    handle domain: not an address, and a parent (a domain name) comes before the first public suffix on the way up
    (``social.example.com``, ``social.example.co.uk``, ``a.b.example.co.uk``; not ``mastodon.social``,
    ``mastodon.co.uk``, ``x.github.io`` or ``x.s3.amazonaws.com``, whose direct parent is a public suffix already,
    see :func:`is_public_suffix`). The landing paths ask an instance for its handle domain only then. Most hosts
    are answered by their direct parent, one look-up."""
    host = _host_of(instance)
    if _is_address(host) or host.count(".") < 2:  # the cheap answers first: no list needed for them
        return False
    for parent in _parents(host):
        if is_public_suffix(parent):  # it and every parent above it are refused (see _below_public_suffixes)
            return False
        if proper_parent_domain(instance, parent) == parent:  # a domain name (not ``ex_ample.com``, an address)
            return True
    return False


_HANDLE_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                               r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


def handle_domain_of(instance: str, document: Any) -> str | None:
    """The handle domain an instance document declares (``domain``, v2; ``uri``, v1) when it is a proper parent
    domain of the host of ``instance`` and not a public suffix (see :func:`parent_handle_domain`); None for
    anything else, a malformed document included."""
    if not isinstance(document, dict):
        return None
    return parent_handle_domain(instance, document.get("domain") if "domain" in document else document.get("uri"))


def parent_handle_domain(instance: str, value: Any) -> str | None:
    """``value`` as a handle domain of ``instance`` (lower case), when it is a proper parent domain of the host of
    ``instance`` (``social.example.com`` → ``example.com``: a Mastodon server with ``LOCAL_DOMAIN`` ≠
    ``WEB_DOMAIN``) and neither a public suffix nor above one of the host's (:func:`is_public_suffix`:
    ``x.co.uk`` → ``co.uk`` and ``x.s3.amazonaws.com`` → ``amazonaws.com`` are refused, ``s3.amazonaws.com``
    being a public suffix); None for anything else: the instance's own host, an unrelated or child domain, a
    top-level domain or other public suffix, an address, a value that is not a domain name (an old v1 ``uri``
    written as a URL is read as its host). Every path that takes a handle domain checks it here."""
    domain = proper_parent_domain(instance, value)
    return domain if domain is not None and _below_public_suffixes(_host_of(instance), domain) else None


def proper_parent_domain(instance: str, value: Any) -> str | None:
    """``value`` (lower case, read as :func:`parent_handle_domain` reads it) when it is a proper parent domain of
    the host of ``instance``, public suffix or not; None otherwise. Only the shape of a handle domain: whether a
    domain may be used as one is :func:`parent_handle_domain`'s answer. (What fediscope accepted before public
    suffixes were refused, so :mod:`fediscope.sources.handle_domains` tells such a remembered entry from a
    damaged one.)"""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    text = text.split("://", 1)[1] if "://" in text else text
    text = landed_domain(text.rstrip("/").rstrip("."))  # ``bawü.social``: as its accounts' keys spell it
    host = _host_of(instance)
    if (not _HANDLE_DOMAIN_RE.fullmatch(text) or _is_address(host) or _is_address(text)
            or not host.endswith("." + text)):
        return None
    return text


_MEMO_SIZE = 100_000  # pseudonyms remembered per policy (a few MiB at most)
#: How many ``moved`` hops of a link preview's author are looked at for an opt-out (:meth:`PrivacyPolicy.
#: _note_card_opt_outs`): Mastodon nests one, a hand-made answer might nest them in a cycle.
_MOVED_DEPTH = 8


@dataclass
class PrivacyPolicy:
    """Apply with :meth:`apply` (one raw Mastodon entity in, the landed form out, or None when skipped)."""

    key: bytes | None
    enabled: bool = True
    suppressed: frozenset[str] = frozenset()  # account keys on the erasure suppression list
    counts: Counter[str] = field(default_factory=Counter)
    #: instance connected to (lower case) → the domain of its local accounts' handles, when it differs
    #: (see :meth:`use_handle_domain`)
    handle_domains: dict[str, str] = field(default_factory=dict)
    #: served domain (lower case) → handle domain, remembered in the lake but not (yet) answered by this run, with
    #: privacy on: used only to find an account's other name (:meth:`_other_names`: looked up on the suppression list,
    #: noted for an opt-out), never to key one (:meth:`use_remembered_handle_domains`)
    remembered_handle_domains: dict[str, str] = field(default_factory=dict)
    #: account keys of the opted-out accounts met (fediscope.gdpr.opt_outs notes them in the lake); an account of an
    #: instance with another handle domain under both its keys (:meth:`_other_names`), wherever it was met
    opted_out: set[str] = field(default_factory=set)
    #: the clear handles (:meth:`_handle`) of the opted-out accounts noted, in memory only: a handle domain registered
    #: later in the run notes them under the other name it gives them too (:meth:`_note_opt_outs_again`)
    _opted_out_handles: set[str] = field(default_factory=set, repr=False, compare=False)
    #: pseudonyms already computed (an account appears on many statuses); bounded, kept in memory only
    _memo: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: digests of account profiles' texts found to name no erased account (:meth:`_named_in_profile`): an author's
    #: bio comes back with each of its statuses; bounded, in memory only, forgotten when a handle domain is
    #: registered (which may make a handle name an erased account)
    _unnamed_profiles: set[bytes] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.enabled and not self.key:
            raise ConfigError(
                "no pseudonym key: set FEDISCOPE_PSEUDONYM_KEY to a long random secret, e.g. "
                f"export FEDISCOPE_PSEUDONYM_KEY=$({PSEUDONYM_KEY_COMMAND}), "
                "or disable the privacy policy explicitly with FEDISCOPE_PRIVACY=off")

    # -- pseudonyms ---------------------------------------------------------------------------------------
    def pseudonym(self, kind: str, value: str) -> str:
        assert self.key is not None
        text = f"{kind}:{value}"
        known = self._memo.get(text)
        if known is None:
            digest = hmac.new(self.key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
            known = f"{kind[0]}{digest[:24]}"
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[text] = known
        return known

    def use_handle_domain(self, instance: str, handle_domain: Any) -> str | None:
        """Key the local accounts of ``instance`` (the domain connected to) by ``handle_domain`` (what its instance
        document declares, :func:`handle_domain_of`), when that is a proper parent domain of it and not a public
        suffix (:func:`parent_handle_domain`); returns the domain used, or None when nothing changes."""
        domain = parent_handle_domain(instance, handle_domain)
        self._unnamed_profiles.clear()  # a handle may now name an erased account under its other name
        # this run's answer overrides one remembered (:meth:`use_remembered_handle_domains`)
        self.remembered_handle_domains.pop(instance.lower(), None)
        if domain is not None:
            self.handle_domains[instance.lower()] = domain
            self._note_opt_outs_again({instance.lower(), domain})
        else:
            self.handle_domains.pop(instance.lower(), None)
        return domain

    def use_remembered_handle_domains(self, remembered: Mapping[str, str | None]) -> None:
        """Register every handle domain the lake remembers (served domain → handle domain, as
        :func:`fediscope.sources.handle_domains.load_handle_domains` reads them; a refused public suffix or a
        ``None`` is left out, as :meth:`use_handle_domain` leaves it), before anything is landed: an account is
        looked up on the suppression list (and an opted-out one noted) under its other name by these
        (:meth:`_other_names`), and with only the instances met so far registered, ``alice@example.com`` on another
        instance was not matched with an erasure of ``alice@social.example.com`` (nor noted under it) until the run
        had reached social.example.com (an order of the instances, or what the API was asked for). With privacy off
        they are registered as handle domains (privacy off keys no record by them); with privacy on in
        :attr:`remembered_handle_domains`, for finding that name alone: the local accounts of an instance are keyed
        only by the handle domain this run learned for it (or, when its document cannot be read, the one remembered:
        :func:`fediscope.sources.handle_domains.handle_domain_for_run`), registered before they land. An instance
        this run answered already keeps its answer."""
        for served, handle in remembered.items():
            if handle is None or served.lower() in self.handle_domains:
                continue
            if not self.enabled:
                self.use_handle_domain(served, handle)
            elif (domain := parent_handle_domain(served, handle)) is not None:
                self.remembered_handle_domains[served.lower()] = domain
                self._note_opt_outs_again({served.lower(), domain})

    def local_domain(self, instance: str) -> str:
        """The domain of the handles of ``instance``'s local accounts: its handle domain when one was registered
        (:meth:`use_handle_domain`), else the instance itself."""
        return self.handle_domains.get(instance.lower(), instance.lower())

    def account_key(self, acct: str, instance: str | None = None) -> str:
        """Pseudonym of ``user@domain`` (``acct`` without a domain is local to ``instance``: its domain is
        :meth:`local_domain`); with privacy off, the clear key (:func:`clear_account_key`)."""
        return self._key_of(self._handle(acct, instance))

    def _key_of(self, handle: str) -> str:
        """The account key of a clear ``handle`` as :meth:`_handle` gives it."""
        return self.pseudonym("acct", handle) if self.enabled else handle

    def _handle(self, acct: str, instance: str | None) -> str:
        """The clear ``user@domain`` :meth:`account_key` keys ``acct`` by (with privacy off, the key itself)."""
        canonical = landed_handle(acct.lstrip("@").lower())  # one spelling of a domain (fediscope.idn)
        if "@" not in canonical and not instance:
            raise ValueError(f"account {acct!r} needs a domain (user@instance)")
        if not self.enabled:
            return clear_account_key(canonical, instance or "")
        return canonical if "@" in canonical else f"{canonical}@{self.local_domain(instance or '')}"

    def spelled_key(self, handle: str) -> str:
        """The key of ``user@domain`` with its domain as spelled, not settled on ASCII as :meth:`account_key` does:
        what the landing made of a Unicode domain (``lfdi@bawü.social``) before, which lakes landed then still
        hold (``gdpr erase``/``export`` look for it too). The same as :meth:`account_key` for an ASCII domain."""
        handle = handle.lstrip("@").lower()
        return self.pseudonym("acct", handle) if self.enabled else handle

    def _spellings(self, acct: str, instance: str) -> set[str]:
        """The account key of ``acct`` (:meth:`account_key`) and, when its domain has a Unicode spelling, the key of
        that spelling (:meth:`spelled_key`), which records landed before the landing settled on ASCII carry."""
        key = self.account_key(acct, instance)
        handle = acct.lstrip("@").lower()
        # with privacy off a local account is keyed by the domain connected to, whatever handle domain is registered
        local = self.local_domain(instance) if self.enabled else instance.lower()
        user, _, domain = handle.rpartition("@") if "@" in handle else (handle, "", local)
        spelled = unicode_domain(landed_domain(domain))
        return {key} if spelled is None else {key, self.spelled_key(f"{user}@{spelled}")}

    def text_key(self, acct: str, instance: str | None = None) -> str:
        """What an account written in a text lands as: its key (:meth:`account_key`), :data:`ERASED` when it is on
        the suppression list."""
        handle = self._handle(acct, instance)  # once, for the key and the look-up
        return ERASED if self._handle_erased(handle) else self._key_of(handle)

    def id_pseudonym(self, instance: str, account_id: Any) -> str:
        return self.pseudonym("id", instance_account_id(instance, account_id))

    def origin_ref(self, home: str, status_id: str) -> str:
        """Pseudonym of a status's home instance and its id there: what a status and a deletion share."""
        return self.pseudonym("origin", f"{home.lower()}/{status_id}")

    # -- entities -----------------------------------------------------------------------------------------
    def apply(self, entity: str, record: Any, instance: str) -> Any | None:
        """The landed form of one raw entity of type ``entity`` from ``instance``; None when skipped."""
        if not self.enabled:
            return self._as_collected(entity, record, instance)
        if entity in {"statuses"}:
            return self.status(record, instance)
        if entity in {"accounts", "directory"}:
            return self.account(record, instance)
        if entity == "instance":
            return self.instance(record, instance)
        return record

    def skip_reason(self, account: dict[str, Any], instance: str) -> str | None:
        """``"opt_out"`` or ``"suppressed"`` when this account must not be landed, else None."""
        if _opted_out(account):
            return "opt_out"
        if self.is_erased(_acct_of(account), instance):
            return "suppressed"
        return None

    def left_out_unread(self, entity: str, record: Any, instance: str) -> str | None:
        """The reason a record the landing does not read (malformed: quarantined instead) is left out whole, as
        :meth:`apply` would leave it out: its account (an account record) or its author, or its boosted status's
        author (a status) opted out (the opt-out noted) or was erased; counted as :meth:`apply` counts it. None when
        it is not, or its accounts cannot be read (then it is quarantined as it is). Was: such a record was
        quarantined all the same, which with privacy off keeps it as collected — an erased account's handle,
        profile and text, or an opted-out one's, in the lake again."""
        if entity in {"accounts", "directory"}:
            accounts: list[Any] = [record]
        elif entity == "statuses" and isinstance(record, dict):
            reblog = record.get("reblog")
            accounts = [record.get("account"), reblog.get("account") if isinstance(reblog, dict) else None]
        else:
            return None
        for index, account in enumerate(accounts):
            if not isinstance(account, dict):
                continue
            try:
                reason = self.skip_reason(account, instance)
                if reason == "opt_out":
                    self._note_opt_out(self._handle(_acct_of(account), instance))
            except (KeyError, TypeError, ValueError, AttributeError, UnicodeError):
                continue  # an account it cannot read: quarantined as it is
            if reason:
                self._counted(reason if index == 0 else "reblog_of_opted_out")
                return reason if index == 0 else "reblog_of_opted_out"
        return None

    def _on_suppression_list(self, key: str) -> bool:
        """With privacy off the list holds digests of the clear keys (:func:`clear_key_digest`)."""
        return (key if self.enabled else clear_key_digest(key)) in self.suppressed

    def is_erased(self, acct: str, instance: str | None = None) -> bool:
        """Is the account ``acct`` (as :meth:`account_key` takes it) on the suppression list, under its key or under
        its other name (:meth:`_other_names`)? With privacy on the other names are found from the clear handle,
        before it is pseudonymised: the list holds the pseudonyms of the names erased, and an account erased as
        ``alice@social.example.com`` before the lake knew that server's handle domain is keyed
        ``alice@example.com`` by every landing that knows it (its home instance's, once learned, and every other
        instance's): without this, all of them landed the account again."""
        return self._handle_erased(self._handle(acct, instance))

    def _handle_erased(self, handle: str) -> bool:
        """:meth:`is_erased` of the clear ``handle`` as :meth:`_handle` gives it."""
        if not self.suppressed:  # nobody erased (the usual landing): no pseudonym to compute
            return False
        return any(self._on_suppression_list(self._key_of(name)) for name in (handle, *self._other_names(handle)))

    def _key_erased(self, key: str) -> bool:
        """Is the account of ``key`` (a clear key, privacy off: :meth:`account_key`) on the suppression list, under
        this key or under its other name (:meth:`_other_names`)? With privacy on, only under this key (a pseudonym
        names no other): :meth:`is_erased` looks an account up under both."""
        return self._on_suppression_list(key) or (
            not self.enabled and bool(self.suppressed) and any(map(self._on_suppression_list, self._other_names(key))))

    def _other_names(self, handle: str) -> list[str]:
        """The other clear names (``user@domain``) of the account of ``handle``, by the handle domains registered
        (:meth:`use_handle_domain`) and, with privacy on, remembered (:attr:`remembered_handle_domains`):
        ``alice@example.com`` for ``alice@social.example.com`` and ``alice@social.example.com`` for
        ``alice@example.com``. Privacy off keys each record as collected (its home instance's records by the domain
        connected to, other instances' by the handle), so the account has both keys in the lake; privacy on keys it
        by the handle once the handle domain is known, by the served domain before (or when its document could not
        be read). Either way an erasure may have listed one name alone (made before the lake remembered the handle
        domain: ``gdpr erase`` lists both once it does); without this, its statuses on the routes that do not name
        it (a timeline, a hashtag) landed under the other name. An opted-out account is noted under these names
        too, so the next curation erases what the lake holds of it under either."""
        user, _, domain = handle.rpartition("@")
        known = {**self.remembered_handle_domains, **self.handle_domains} if self.remembered_handle_domains \
            else self.handle_domains
        if not user or not known:
            return []
        names = [f"{user}@{parent}" for parent in [known.get(domain)] if parent]
        return names + [f"{user}@{served}" for served, parent in sorted(known.items()) if parent == domain]

    def replies_to_suppressed(self, replied_to: Any, instance: str) -> bool:
        """Is ``replied_to``, a status's ``in_reply_to_account_id`` as landed from ``instance`` (an id pseudonym; with
        privacy off the instance's own id), an erased account's? ``gdpr erase`` lists the id pseudonyms, or with
        privacy off digests of ``instance/id``. A reply to it is landed :func:`unreplied`, and the erasure scrubs
        one a lake still holds (:mod:`fediscope.gdpr.old_replies`)."""
        if not self.suppressed or replied_to in (None, "", ERASED):
            return False
        return self._on_suppression_list(str(replied_to) if self.enabled else instance_account_id(instance, replied_to))

    # -- opt-outs ---------------------------------------------------------------------------------------------
    def _note_opt_out(self, handle: str) -> None:
        """Note the opted-out account of ``handle`` (its clear ``user@domain``, :meth:`_handle`) in :attr:`opted_out`
        under its key and every other key the lake may hold of it, so the next curation erases what was landed of it
        before it opted out: the key of its domain's Unicode spelling (:meth:`_spellings`) and, for an account of a
        server with another handle domain, its other names by the handle domains registered or remembered
        (:meth:`_other_names`): what was keyed by the served domain before (before the handle-domain rule, or by a
        run that could not learn it) goes too, whether the account was met on its home instance (``alice``) or on
        another (``alice@example.com``). Privacy off keys its home instance's records by the served domain and other
        instances' by the handle, so both are needed there too. The handle is kept (in memory) for a handle domain
        registered later in the run (:meth:`_note_opt_outs_again`).

        An erased (suppressed) account is not noted, under either name: nothing of it is landed any more, and `gdpr
        erase` has just removed it from the pending notes; noting it again would only put its pseudonym back there."""
        self._opted_out_handles.add(handle)
        if self.enabled:
            if not self._handle_erased(handle):
                names = (handle, *self._other_names(handle))
                self.opted_out.update(set().union(*(self._spellings(n, "") for n in names)) - self.suppressed)
        elif not self._key_erased(handle):
            noted = self._spellings(handle, "")
            self.opted_out.update(noted, *map(self._other_names, noted))

    def _note_opt_outs_again(self, domains: set[str]) -> None:
        """Note again (:meth:`_note_opt_out`) the opted-out accounts already met whose handle has one of ``domains``
        (an instance and the handle domain just registered for it): one met on another instance
        (``alice@example.com``) before the run learned its home instance's handle domain was noted under that name
        alone, and is noted under its served-domain name (``alice@social.example.com``) now, as in any other order.
        Was: a fresh lake (nothing remembered) and nobody erased (so the run did not learn the handle domains first)
        left the served-domain name out."""
        for handle in [h for h in self._opted_out_handles if h.rpartition("@")[2] in domains]:
            self._note_opt_out(handle)

    # -- privacy off: records as collected, opt-outs and erasures still honoured ----------------------------------
    def _as_collected(self, entity: str, record: Any, instance: str) -> Any | None:
        """Privacy off keeps what is landed as collected (no pseudonyms, nothing dropped), but not whom: an account
        that opted out or was erased is skipped with its statuses and boosts of them, counted and (opted out)
        noted as with privacy on; a status quoting one loses the quoted status, a link preview naming one as its
        author loses that author's profile (:meth:`_collected_card`), and mentions of an erased one go, as does the
        id of an erased account a status replies to.
        Handles and links inside the text stay as collected, but those of an erased account that the status (or one
        it reblogs or quotes) mentions, quotes, names as a link preview's author or names in its texts
        (:meth:`_note_written`) become :data:`ERASED`, as ``gdpr erase`` rewrites them in the statuses landed before
        (:meth:`_erase_names`)."""
        if entity in {"accounts", "directory"} and isinstance(record, dict):
            return self._collected_account(record, instance)
        if entity == "statuses" and isinstance(record, dict):
            erased: dict[str, _Erased] = {}
            landed = self._collected_status(record, instance, erased)
            if erased and isinstance(landed, dict):
                landed = self._erase_names(landed, instance, erased)
            return self._counted(landed)
        if entity == "instance" and isinstance(record, dict):
            return self._collected_instance(record, instance)
        return record

    def _collected_instance(self, record: dict[str, Any], instance: str) -> dict[str, Any]:
        """An instance document as collected, but a contact account that opted out or was erased is None, as with
        privacy on (:meth:`instance`): an erased admin's profile came back with every document collected."""
        out = record
        contact = record.get("contact")
        if isinstance(contact, dict) and isinstance(contact.get("account"), dict) \
                and (landed := self._collected_account(contact["account"], instance)) is not contact["account"]:
            out = {**out, "contact": {**contact, "account": landed}}
        if isinstance(record.get("contact_account"), dict) \
                and (landed := self._collected_account(record["contact_account"], instance)) \
                is not record["contact_account"]:
            out = {**out, "contact_account": landed}
        return out

    def _collected_account(self, account: dict[str, Any], instance: str) -> dict[str, Any] | None:
        """Privacy off's :meth:`account`: the account as collected (its ``acct``'s domain in ASCII:
        :func:`_ascii_acct`); None (counted) when it must be skipped."""
        return self._counted(self._collected_skip(account, instance) or self._collected_profile(account, instance))

    def _collected_profile(self, account: Any, instance: str) -> Any:
        """An account that is landed, as privacy off lands it (:func:`_ascii_acct`), but the account it ``moved`` to
        None when that one opted out or was erased (the opt-out noted), as privacy on's :meth:`_account` leaves
        it: a moved account is a whole profile (bio, avatar, display name), so an erased account came back in clear
        inside the record of every account that had moved to it, and an opted-out one was landed. Its bio, display
        name and profile fields with an erased account's handle and profile links (a mention) :data:`ERASED`
        (:meth:`~fediscope.erased_mentions.ProfileLinks.erase_profile`), as ``gdpr erase`` rewrites them in the
        records landed before. The same object when nothing changes."""
        out = _ascii_acct(account)
        if self.suppressed and isinstance(out, dict):
            # its bio, display name and fields naming an erased account, as `gdpr erase` rewrites them
            for key, who in self._named_in_profile(profile_texts(out)).items():
                out = ProfileLinks(key, who.links, who.ids).erase_profile(out)
        moved = account.get("moved") if isinstance(account, dict) else None
        if isinstance(moved, dict):
            landed = None if self._collected_skip(moved, instance) else self._collected_profile(moved, instance)
            if landed is not out.get("moved"):
                out = {**out, "moved": landed}
        return out

    def _named_in_profile(self, texts: list[str]) -> dict[str, _Erased]:
        """The erased accounts an account profile's ``texts`` name (:meth:`_note_named`), by key. A profile found to
        name none is remembered by a digest of its texts (:attr:`_unnamed_profiles`): landing with privacy off reads
        the bio of each status's author, and a bio's links made that read (a search of each link, and a digest of
        each handle it names to look up) cost three times what the rest of the status did once any account was
        erased."""
        erased: dict[str, _Erased] = {}
        if not any("@" in text or "://" in text for text in texts):  # most display names and many bios
            return erased
        digest = hashlib.blake2b("".join(f"{len(text)}:{text}" for text in texts).encode("utf-8", "surrogatepass"),
                                 digest_size=16).digest()
        if digest in self._unnamed_profiles:
            return erased
        self._note_named(texts, erased)
        if not erased:
            if len(self._unnamed_profiles) >= _MEMO_SIZE:
                self._unnamed_profiles.clear()
            self._unnamed_profiles.add(digest)
        return erased

    def _collected_skip(self, account: Any, instance: str) -> str | None:
        if not isinstance(account, dict):
            return None
        acct = str(account.get("acct") or account.get("username") or "")
        if not acct:  # no key to note or look up (a shape the landing checks report)
            return "opt_out" if _opted_out(account) else None
        reason = self.skip_reason(account, instance)
        if reason == "opt_out":
            self._note_opt_out(self._handle(acct, instance))
        return reason

    def _collected_status(self, status: dict[str, Any], instance: str,
                          erased: dict[str, _Erased]) -> dict[str, Any] | str:
        """The status as collected (:meth:`_as_collected`), or the reason it is skipped. The erased accounts it (or a
        status it carries) mentions, quotes or names as a card's author are noted in ``erased`` (by key), the status as
        landed among those that mention one."""
        reason = self._collected_skip(status.get("account"), instance)
        if reason:
            return reason
        out = status
        if any(field in status for field in WRITTEN_LENGTHS.values()):
            # only the policy writes them (curation would take them for the texts' lengths)
            out = {k: v for k, v in status.items() if k not in WRITTEN_LENGTHS.values()}
        if (author := self._collected_profile(status.get("account"), instance)) is not status.get("account"):
            out = {**out, "account": author}
        if isinstance(status.get("reblog"), dict):
            if not _is_public_status(status["reblog"]):
                return "reblog_of_non_public"
            original = self._collected_status(status["reblog"], instance, erased)
            if isinstance(original, str):
                return "reblog_of_opted_out"
            if original is not status["reblog"]:
                out = {**out, "reblog": original}
        # Mastodon's quote.quoted_status, and the quoted status as Akkoma, Fedibird (``quote``) or Pleroma
        # (``pleroma.quote``) send it, the quoted author's whole account with it: each is left out as Mastodon's is
        for path in quoted_paths(status):
            quoted_status = value_at(status, path)
            quoted = (self._collected_status(quoted_status, instance, erased)
                      if _is_public_status(quoted_status) else "non_public")
            if quoted is not quoted_status:
                out = _replaced(out, path, None if isinstance(quoted, str) else quoted)
            # erased also when it opted out too ("opt_out", the reason checked first), as a mention or a link
            # preview's author is (was: its quote_url kept, an opt-out's link)
            if isinstance(quoted, str) and (key := self._suppressed_key(quoted_status.get("account"), instance)):
                # the link to the quoted status, which Mastodon writes in the text, is one of the erased account's
                erased.setdefault(key, _Erased()).note(quoted_status["account"], instance)
                if path[-1] != "quoted_status" and isinstance(value_at(out, path[:-1]).get("quote_url"), str):
                    # other servers name the quoted status's link beside it, as `gdpr erase` leaves it: [erased]
                    out = _replaced(out, (*path[:-1], "quote_url"), ERASED)
        mentions = status.get("mentions")
        mentioned: list[_Erased] = []
        if isinstance(mentions, list):
            kept = []
            for m in mentions:
                if (key := self._suppressed_key(m, instance)) is not None:
                    mentioned.append(erased.setdefault(key, _Erased()).note(m, instance))
                else:
                    kept.append(_ascii_acct(m))
            if len(kept) != len(mentions) or any(k is not m for k, m in zip(kept, mentions, strict=False)):
                out = {**out, "mentions": kept}
        if isinstance(status.get("card"), dict) and (card := self._collected_card(status["card"], instance)) \
                is not status["card"]:
            out = {**out, "card": card}
        if self.suppressed and isinstance(status.get("card"), dict):
            self._note_card_authors(status["card"], instance, erased)
        if self.suppressed:
            self._note_written(status, erased)
        # a reply to an erased account no longer says whose status, nor which (unreplied)
        if self.replies_to_suppressed(status.get("in_reply_to_account_id"), instance):
            out = unreplied(out)
        for each in mentioned:
            each.mentioning.append(out)  # the status as landed (its parent holds this very object)
        return out

    def _collected_card(self, card: dict[str, Any], instance: str) -> dict[str, Any]:
        """A link preview as privacy off lands it: as collected, but the ``account`` of an ``authors`` entry (the
        linked page's author's whole profile: bio, avatar, display name) None when that account opted out (the
        opt-out noted), as Mastodon writes an author without a fediverse account; any other author's account as
        :meth:`_collected_profile` lands a profile (its ``moved`` left out when that one opted out or was erased).
        Privacy on lands no author at all (:func:`~fediscope.erased_mentions.minimised_card`). Was: an opted-out
        account came back in clear in the card of every status linking to a page it wrote. An erased author's entry
        is left to :meth:`_erase_names`, which removes it whole (its name and link too), as ``gdpr erase`` does. The
        same object when nothing changes."""
        authors = card.get("authors")
        if not isinstance(authors, list):
            return card
        landed = [self._collected_card_author(author, instance) for author in authors]
        if all(new is old for new, old in zip(landed, authors, strict=True)):
            return card
        return {**card, "authors": landed}

    def _collected_card_author(self, author: Any, instance: str) -> Any:
        """One entry of a link preview's ``authors`` (:meth:`_collected_card`)."""
        account = author.get("account") if isinstance(author, dict) else None
        if not isinstance(account, dict):
            return author
        reason = self._collected_skip(account, instance)  # notes an opt-out
        if reason == "suppressed" or self._suppressed_key(account, instance) is not None:
            return author  # erased (also when it opted out): _erase_names removes the entry whole
        landed = None if reason else self._collected_profile(account, instance)
        return author if landed is account else {**author, "account": landed}

    def quarantine_scrub(self, instance: str) -> Callable[[Any], Any] | None:
        """What a quarantined item or body collected from ``instance`` is kept as (:mod:`fediscope.sources.quarantine`,
        which keeps them only with privacy off): :meth:`erased_in_quarantine`; None when nothing needs it (privacy
        on keeps no value, an empty suppression list names nobody)."""
        if self.enabled or not self.suppressed:
            return None
        return lambda value: self.erased_in_quarantine(value, instance)

    def erased_in_quarantine(self, value: Any, instance: str) -> Any:
        """A malformed item (or a body's text) as collected, with privacy off, without what it holds of an erased
        account, as landing leaves a good one without it, but in its own shape (it is kept to diagnose what was
        wrong with it: its field names, types and the lengths of its lists stay, and its reason, shape and
        fingerprint are of the item as sent). Landing's rewrite (:meth:`_as_collected`) is not used, as it expects
        the documented shape the item does not have: every object with an ``acct`` or ``username`` that is an erased
        account (a mention, a moved account), and every object whose ``account`` is one (its status, quoted or
        reblogged; a link preview's author entry), keeps its fields with each text in it (nested ones too)
        :data:`ERASED`, and every text naming an erased account — such an object, a handle or a
        profile link of it (:meth:`_note_named`) — has its mentions, profile links and handle written
        :data:`ERASED` (:class:`~fediscope.erased_mentions.ProfileLinks`). A body (a string: JSON cut short, or
        none) naming an erased account by a handle or link has its ``@name``, a mention's text shown
        (``@<span>name</span>``, whose anchor's quotes JSON escapes) and its JSON strings ``"name"`` (a mention's
        ``acct`` and ``username``) :data:`ERASED` too; the other fields of its objects (a mention's
        ``id``) stay, as text nothing reads as an account. Was: kept as collected, the erased account's handle
        and profile in it, until the erasure was run again."""
        if not self.suppressed:
            return value
        erased: dict[str, _Erased] = {}
        out = self._blank_erased(value, instance, erased, 0)
        texts: list[str] = []
        _each_string(out, texts.append, 0)
        self._note_named(texts, erased)
        for key, who in erased.items():
            links = ProfileLinks(key, who.links, who.ids)
            if isinstance(out, str):  # a body (JSON cut short, or no JSON): its mention objects are text too
                # as JSON writes them (an anchor's quotes escaped: no anchor to in_html, its text shown kept)
                name = re.escape(key.rpartition("@")[0])
                bare = re.compile(rf'"{name}"|(?<=@<span>){name}(?=</span>)', re.IGNORECASE)
                out = bare.sub(lambda found: f'"{ERASED}"' if found.group(0).startswith('"') else ERASED,
                               links.in_text(links.in_html(out), mentioned=True))
            else:
                out = _map_strings(out, lambda text, links=links: links.in_text(links.in_html(text)), 0)
        return out

    def _blank_erased(self, value: Any, instance: str, erased: dict[str, _Erased], depth: int) -> Any:
        """``value`` with each object that is an erased account's (:meth:`erased_in_quarantine`) blanked, noted in
        ``erased``."""
        if depth > _QUARANTINE_DEPTH:
            return value
        if isinstance(value, dict):
            account, key = value, self._erased_key_of(value, instance)
            if key is None and isinstance(value.get("account"), dict):  # a status (quoted, reblogged), a card author
                account = value["account"]
                key = self._erased_key_of(account, instance)
            if key is not None:
                erased.setdefault(key, _Erased()).note(account, instance)
                return _map_strings(value, lambda _text: ERASED, depth)
            return {k: self._blank_erased(v, instance, erased, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self._blank_erased(v, instance, erased, depth + 1) for v in value]
        return value

    def _erased_key_of(self, value: dict[str, Any], instance: str) -> str | None:
        """:meth:`_suppressed_key` of an object of a malformed item, None for one it cannot read as an account."""
        try:
            return self._suppressed_key(value, instance)
        except (ValueError, UnicodeError, TypeError, AttributeError):  # not an account after all
            return None

    def _suppressed_key(self, account: Any, instance: str) -> str | None:
        """The key of ``account`` (an account or mention object as collected) when it is on the suppression list."""
        if not (self.suppressed and isinstance(account, dict) and (account.get("acct") or account.get("username"))):
            return None
        key = self.account_key(_acct_of(account), instance)
        return key if self._key_erased(key) else None

    def _note_card_authors(self, card: dict[str, Any], instance: str, erased: dict[str, _Erased]) -> None:
        """Note in ``erased`` the erased accounts a link preview names as its author: an ``authors`` entry's
        ``account``, or a profile link (``author_url``, an entry's ``url``) of the shape any server gives one
        (``https://host/@name``, ``/@name@domain``, ``/users/name``)."""
        authors = card.get("authors") if isinstance(card.get("authors"), list) else []
        for author in authors:
            if isinstance(author, dict) and (key := self._suppressed_key(author.get("account"), instance)):
                erased.setdefault(key, _Erased()).note(author["account"], instance)
        for url in [card.get("author_url"), *(a.get("url") for a in authors if isinstance(a, dict))]:
            match = _ACCOUNT_LINK_RE.fullmatch(url) if isinstance(url, str) and url else None
            if match and (user := match.group("user") or match.group("ap_user")) \
                    and not (match.group("rest") or "").strip("/"):
                key = self.account_key(f"{user}@{match.group('remote') or match.group('host')}")
                if self._key_erased(key):
                    erased.setdefault(key, _Erased()).links.add(url)

    def _note_written(self, status: dict[str, Any], erased: dict[str, _Erased]) -> None:
        """Note in ``erased`` the erased accounts that the texts of ``status`` (not those of a status it carries: its
        own call notes them) name without a mention: a handle ``user@domain`` (with or without ``@``, in any case),
        or a profile or status link of the shapes any server gives one (``https://host/@name``, ``/%40name``,
        ``/users/name``, ``/@name@domain``, and what lies under them) — in the content, content warning, source text,
        poll options or link preview (:func:`~fediscope.erased_mentions.written_texts`). The erasure rewrites them in
        every status it finds; without this, a later fetch of a status that names the account only in its words
        landed them as collected. A bare ``@name`` names nobody without a mention (whose it is depends on the server
        it was written on), and a link by number (``/ap/users/<id>``) names no handle to look up: both stay."""
        self._note_named(written_texts(status), erased)

    def _note_named(self, texts: list[str], erased: dict[str, _Erased]) -> None:
        """Note in ``erased`` the erased accounts that ``texts`` name by a handle or a profile link
        (:meth:`_note_written`)."""
        for text in texts:
            if "@" not in text and "://" not in text:  # most texts: neither a handle nor a link
                continue
            for match in _TEXT_ACCOUNT_RE.finditer(text):
                link = match.group("link")
                if link is None:
                    handle = f"{match.group('user')}@{match.group('domain')}"
                else:
                    found = _ACCOUNT_LINK_RE.match(_ENCODED_AT_RE.sub("/@", link))
                    # user names are ASCII: text glued after one (``…/@bob’s``) is not part of it
                    user = found and _LINKED_NAME_RE.match(found.group("user") or found.group("ap_user") or "")
                    if not found or not user:
                        continue
                    handle = f"{user.group(0)}@{found.group('remote') or found.group('host')}"
                try:
                    key = self.account_key(handle)
                except (ValueError, UnicodeError):  # not a handle after all (an empty name, a domain idna refuses)
                    continue
                if self._key_erased(key):
                    who = erased.setdefault(key, _Erased())
                    if link is not None:
                        who.links.add(link)

    def _erase_names(self, landed: dict[str, Any], instance: str, erased: dict[str, _Erased]) -> dict[str, Any]:
        """``landed`` (a status as collected, :meth:`_collected_status`) with the mentions and profile links of the
        erased accounts it names (``erased``) written :data:`ERASED` in its texts, and those accounts gone from its
        link previews' authors: what ``gdpr erase`` makes of the status landed before the erasure
        (:mod:`fediscope.gdpr.mentions`, the same :class:`~fediscope.erased_mentions.ProfileLinks`), with the length
        of each text it rewrote as written (:data:`AUTHORED_LENGTH`, :func:`keep_lengths_as_written`). Only statuses
        that name an erased account get here."""
        carried = list(nested_statuses(landed))
        out = copy.deepcopy(landed)  # ``landed`` shares its cards and texts with the record as collected
        for key, who in erased.items():
            links = ProfileLinks(key, who.links, who.ids)
            for status in nested_statuses(out):
                unlink_card_author(status, lambda account, key=key: self._suppressed_key(account, instance) == key,
                                   links)
            out = links.erase(out, [any(status is m for m in who.mentioning) for status in carried])
        keep_lengths_as_written(landed, out, clear=True)
        return out

    def account(self, account: dict[str, Any], instance: str) -> dict[str, Any] | None:
        """The landed form of one account; None (counted as ``skipped_<reason>``) when it must be skipped."""
        return self._counted(self._account(account, instance))

    def status(self, status: dict[str, Any], instance: str) -> dict[str, Any] | None:
        """The landed form of one status; None (counted once, by reason) when it must be skipped."""
        return self._counted(self._status(status, instance))

    def _counted(self, landed: dict[str, Any] | str) -> dict[str, Any] | None:
        if isinstance(landed, str):
            self.counts[f"skipped_{landed}"] += 1
            return None
        return landed

    def _account(self, account: dict[str, Any], instance: str) -> dict[str, Any] | str:
        """The landed account, or the reason it is skipped (nested entities are not counted separately)."""
        if not isinstance(account, dict):
            raise TypeError("account is not an object")
        acct = _acct_of(account)
        reason = self.skip_reason(account, instance)
        if reason:
            if reason == "opt_out":  # records landed before it opted out are erased by the next curation
                self._note_opt_out(self._handle(acct, instance))
            return reason
        key = self.account_key(acct, instance)
        out: dict[str, Any] = {k: account[k] for k in ACCOUNT_KEPT if k in account}
        out.update(id=self.id_pseudonym(instance, account.get("id")), username=key, acct=key,
                   display_name=key, url=f"acct:{key}", uri=f"acct:{key}")
        out["domain"] = landed_domain(acct.split("@", 1)[1]) if "@" in acct else self.local_domain(instance)
        if isinstance(account.get("moved"), dict):
            moved = self._account(account["moved"], instance)
            out["moved"] = None if isinstance(moved, str) else moved
        return out

    def _status(self, status: dict[str, Any], instance: str) -> dict[str, Any] | str:
        if not isinstance(status, dict):
            raise TypeError("status is not an object")
        account = self._account(status["account"], instance)
        if isinstance(account, str):
            return account
        out: dict[str, Any] = {k: status[k] for k in STATUS_KEPT if k in status}
        out["account"] = account
        for name in ("uri", "url"):
            if status.get(name):
                out[name] = self._status_link(str(status[name]))
        origin = status_origin(status.get("uri"))
        if origin is not None:
            out["origin_ref"] = self.origin_ref(*origin)
        out["in_reply_to_account_id"] = None
        if status.get("in_reply_to_account_id") is not None:
            out["in_reply_to_account_id"] = self.id_pseudonym(instance, status["in_reply_to_account_id"])
            if self.replies_to_suppressed(out["in_reply_to_account_id"], instance):
                out = unreplied(out)
        mentions = [m for m in status.get("mentions") or [] if isinstance(m, dict)]
        out["mentions"] = [landed for m in mentions if not self.is_erased(_acct_of(m), instance)
                           and (landed := self._mention(m, instance))["id"] not in self.suppressed]
        people = [*mentions, status["account"]]
        hidden_links: list[str] = []
        quote = status.get("quote")
        quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
        if isinstance(quoted, dict) and isinstance(quoted.get("account"), dict):
            people.append(quoted["account"])
            if self.is_erased(_acct_of(quoted["account"]), instance):
                hidden_links += [str(quoted[k]) for k in ("uri", "url") if quoted.get(k)]
        names = _KnownNames(lambda: self._known_names(people, instance, hidden_links))
        for text_field in ("content", "text", "spoiler_text"):
            if isinstance(out.get(text_field), str):
                out[text_field] = self._scrub_text(out[text_field], names, markup=text_field == "content")
        if isinstance(status.get("content"), str) and out["content"] != status["content"]:
            # handles and links became pseudonyms (an erased account's ERASED) of other lengths: curation counts the
            # text as written, as privacy off does, and as `gdpr erase` keeps it (fediscope.gdpr.texts)
            out[AUTHORED_LENGTH] = authored_length(status["content"])
        if isinstance(status.get("spoiler_text"), str) and out["spoiler_text"] != status["spoiler_text"]:
            out[AUTHORED_SPOILER_LENGTH] = len(status["spoiler_text"])  # plain text: its characters, as written
        poll = out.get("poll")
        if isinstance(poll, dict) and isinstance(poll.get("options"), list):  # options are the author's text too
            out["poll"] = {**poll, "options": [
                {**option, "title": self._scrub_text(option["title"], names)}
                if isinstance(option, dict) and isinstance(option.get("title"), str) else option
                for option in poll["options"]]}
        out["media_attachments"] = [{k: m.get(k) for k in MEDIA_KEPT}
                                    for m in status.get("media_attachments") or [] if isinstance(m, dict)]
        if isinstance(status.get("card"), dict):
            self._note_card_opt_outs(status["card"], instance)
            out["card"] = minimised_card(status["card"])
        out["reblog"] = None
        if isinstance(status.get("reblog"), dict):
            if not _is_public_status(status["reblog"]):
                return "reblog_of_non_public"
            original = self._status(status["reblog"], instance)
            if isinstance(original, str):
                return "reblog_of_opted_out"
            out["reblog"] = original
        if isinstance(quote, dict):
            landed_quote = self._status(quoted, instance) if _is_public_status(quoted) else None
            out["quote"] = {"state": quote.get("state"),
                            "quoted_status": landed_quote if isinstance(landed_quote, dict) else None}
        return out

    def _note_card_opt_outs(self, card: dict[str, Any], instance: str) -> None:
        """Note (:meth:`_note_opt_out`) the opt-out of each account a link preview names as its author (an ``authors``
        entry's ``account``, and the account it ``moved`` to), as :meth:`_account` notes a status's author's: the card
        lands without them (:func:`~fediscope.erased_mentions.minimised_card`), but what was landed of them before
        they opted out must still go at the next curation. Privacy off notes them the same way
        (:meth:`_collected_card`). Was: privacy on left them out without noting them."""
        authors = card.get("authors")
        for author in authors if isinstance(authors, list) else ():
            account = author.get("account") if isinstance(author, dict) else None
            for _ in range(_MOVED_DEPTH):  # an account that moved to one that moved …: a few hops, never a loop
                if not isinstance(account, dict) or not (account.get("acct") or account.get("username")):
                    break
                if self._collected_skip(account, instance):  # notes an opt-out, as _account does
                    break
                account = account.get("moved")

    def _status_link(self, url: str) -> str:
        """A status ``uri``/``url`` embeds its author: replaced whole, still unique (deduplication by URI)."""
        return f"urn:fediscope:{self.pseudonym('uri', url)}"

    def _mention(self, mention: dict[str, Any], instance: str) -> dict[str, Any]:
        key = self.account_key(_acct_of(mention), instance)
        return {"id": self.id_pseudonym(instance, mention.get("id")), "username": key, "acct": key,
                "url": f"acct:{key}"}

    def _account_link(self, url: str) -> str | None:
        """The pseudonym of a profile or status link of any account (see ``_ACCOUNT_LINK_RE``), else None;
        :data:`ERASED` when the account is on the suppression list."""
        match = _ACCOUNT_LINK_RE.match(url)
        if not match:
            return None
        host = match.group("host").lower()
        if match.group("ap_id"):
            owner = self.id_pseudonym(host, match.group("ap_id"))
            if owner in self.suppressed:
                return ERASED
        else:
            handle = (match.group("user") or match.group("ap_user")) + "@" + (match.group("remote") or host)
            if self.is_erased(handle):  # under its other name too (a served domain's link, a handle's)
                return ERASED
            owner = self.account_key(handle)
        if not (match.group("rest") or "").strip("/"):
            return f"acct:{owner}"
        # as the status's own url is written (``Https://Host/…`` by a phone's keyboard or a person), so they join
        return self._status_link(_fold(url[:match.end("host")]) + url[match.end("host"):])

    def _known_names(self, people: Iterable[dict[str, Any]], instance: str,
                     hidden_links: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """The handles and links of the people a status names, and what each becomes (see :meth:`_scrub_text`):
        handles and links keyed by their folded form (:func:`_fold`: they are matched in any case, ``@Alice``,
        ``HTTPS://``), bare names as written."""
        links: dict[str, str] = {_fold(link): ERASED for link in hidden_links}
        handles: dict[str, str] = {}
        for person in people:
            acct = str(person.get("acct") or person.get("username") or "")
            if not acct:
                continue
            key = self.text_key(acct, instance)
            for value in (person.get("url"), person.get("uri")):
                if value and len(str(value)) >= 3:
                    links[_fold(str(value))] = ERASED if key == ERASED else f"acct:{key}"
            local = acct.lstrip("@")
            # a local account (``acct`` without a domain) written with its domain, as other servers show it
            whole = () if "@" in local else (f"{local}@{self.local_domain(instance)}",)
            for value in (acct, person.get("username"), *whole):
                if value:  # ``@al``: a handle however short (a bare word only from 3 letters: it garbles text)
                    handles[_fold("@" + str(value).lstrip("@"))] = "@" + key
                if value and len(str(value)) >= 3:  # a bare name in its own case: ``mastodon`` is a word too
                    handles[str(value) if _is_bare(str(value)) else _fold(str(value))] = key
        return handles, links

    def _scrub_text(self, text: str, names: _KnownNames, markup: bool = False) -> str:
        """Replace the handles and profile/status links of accounts inside status HTML.

        Links (``<a href>``) to a profile or status are rewritten whole, href and visible text: Mastodon splits
        the text of a link into ``invisible``/``ellipsis`` spans and cuts it mid-name, so a partial handle would
        survive a plain search. Then the remaining handles and links of the people involved (mentions, author,
        quoted author) are replaced in one pass, so no replacement is rewritten again, together with every other
        handle and account link written as text (:data:`_TEXT_ACCOUNT`: a mention Mastodon did not resolve, a
        handle in ``spoiler_text``): ``@user@domain`` becomes ``@`` and the account key that account gets
        anywhere else (so it joins), ``user@domain`` (a handle without its ``@``, or an e-mail address: they look
        the same) that key alone, a profile or status link its pseudonym. Accounts on the suppression list (and
        ``hidden_links``, their statuses) become :data:`ERASED`. ``markup``: ``text`` is status HTML (``content``),
        not plain text (``spoiler_text``, ``text``, poll options, where ``<bob>`` is a name in angle brackets).
        """
        if not text:
            return text
        links, replacements = names.links, names.replacements
        protected: list[str] = []

        def under_known(link: str) -> str | None:
            """``link`` when it is, or lies under, a known person's link (the longest such; without case, ``http``
            as ``https``; followed by ``/``, ``?``, ``#`` or only punctuation): :data:`ERASED` when that person is
            erased, whatever the rest (``_account_link`` would key a split-domain person's link by its host, which
            the erasure may not cover); a status under it gets that status's own pseudonym, as its ``url`` lands
            (so the two join). Otherwise the person's key, with a query or fragment dropped (it may hold an address
            or another link, and what is returned is not scanned again), a path of plain characters kept after it
            (``acct:<key>/photos``), and any other path making it the whole link's pseudonym."""
            if not links:
                return None
            folded = _fold(link)
            exact = links.get(folded)
            if exact is not None:  # the common case: a mention's link, as the status lists it
                return exact
            form = _form_of_folded(folded)
            under = [f for f in names.forms if form.startswith(f)]  # most links: none
            known = max((f for f in under if not _CONTINUES_NAME_RE.match(form, len(f))), key=len, default=None)
            if known is None:
                dotted = [f for f in under if form[len(f):len(f) + 1] in ".-"  # ``…/pat.Thanks``, ``…/pat.b``
                          and "/" in f[3:]]  # in a path (f is ``://host/…``): not ``https://bob.net`` → ``bob.net.au``
                if not dotted or self._account_link(link) is not None:
                    return None  # another name (``…/@bobby``), or an account link read on its own
                # a link of a shape not recognised that goes on past a known one: erased with its person (even
                # if it names another), else opaque
                erased = any(links[names.forms[f]] == ERASED for f in dotted)
                return ERASED if erased else self._status_link(link)
            replacement = links[names.forms[known]]
            if replacement == ERASED:
                return ERASED
            rest = link[len(link) - (len(form) - len(known)):]
            if not rest or rest.startswith(("?", "#")):
                return replacement
            if rest.startswith("/"):
                if not rest.strip("/"):
                    return replacement + rest
                status = self._account_link(link)
                if status is not None:
                    return status
            # a path of plain characters, or text glued on (a closing quote, ``’s``, ``**``), naming nobody else
            # (``/carol``), stays after the key; anything else makes the whole link's pseudonym
            kept = _PLAIN_PATH_RE if rest.startswith("/") else _GLUED_TAIL_RE
            if kept.fullmatch(rest) and not any(_fold(name) in _fold(rest) for name in replacements):
                return replacement + rest
            return self._status_link(link)

        def link_written(link: str, depth: int = 0) -> str:
            """A link as landed: a known person's or any account's profile or status link replaced (see
            ``under_known``, ``_account_link``), else without its user name and password, with any link inside
            its path or query (an archive's or a redirect's, also percent-encoded) landed the same way. A link
            holding more links than any real one does (:data:`_MAX_NESTED_LINKS`, or encoded inside encoded
            ones) is replaced whole by its pseudonym: walking it would cost time growing with its square."""
            if depth > 2 or next(islice(_NESTED_LINK_RE.finditer(link), _MAX_NESTED_LINKS + 1, None), None):
                return self._status_link(link)
            landed: list[str] = []
            while True:  # one link inside another, inside another…: a loop, however deep
                plain = _ENCODED_AT_RE.sub("/@", link) if "%40" in link else link  # ``/%40bob`` is ``/@bob``
                new = under_known(plain) or self._account_link(plain)
                if new is not None:
                    landed.append(new)
                    break
                start = link.find("://") + 3
                nested = _NESTED_LINK_RE.search(link, start) if "://" in link[start:] else None
                head = link[:nested.start()] if nested else link
                head = _without_userinfo(head) or head
                landed.append(_ENCODED_LINK_RE.sub(lambda m: encoded_written(m.group(0), depth), head)
                              if "%" in head else head)
                if nested is None:
                    break
                link = link[nested.start():]
            return "".join(landed)

        def encoded_written(encoded: str, depth: int) -> str:
            """A percent-encoded link in a query, landed (:func:`link_written`) and encoded again; as written when
            that changes nothing (``+`` and ``%2f`` stay as they are)."""
            link = unquote(encoded)
            new = link_written(link, depth + 1)
            return encoded if new == link else quote(new, safe="", errors="surrogatepass")

        def anchor(match: re.Match[str]) -> str:
            href, inner = match.group(3), match.group(5)
            link = html.unescape(href)
            new = under_known(link) or self._account_link(link)
            if new is None:
                cleaned = link_written(link)
                if cleaned == link:
                    return match.group(0)  # its text is scrubbed by the pass below, as any text
                # a user name and password, or a link inside, go from the href and from the text shown, which
                # Mastodon splits into spans that may cut them anywhere: a text shown that is a link, or shows an
                # @, the user name or the password (in an image's alt too), becomes the landed link; any other (a
                # label, an image) is kept, and scrubbed by the pass below as any text
                text_shown = _TAG_RE.sub("", inner)
                shown, whole = _shown(text_shown) + " " + _shown(unquote(text_shown)), _shown(inner)
                if "@" in shown or "://" in shown or any(part in shown or part in whole
                                                          for part in _userinfo_parts(link)
                                                          + _userinfo_parts(unquote(link))):
                    inner = html.escape(cleaned)
                return anchor_written(match, html.escape(cleaned), inner)
            shown = html.escape(new)
            if _TAG_RE.sub("", inner).startswith("@"):
                shown = f"@<span>{shown.removeprefix('acct:')}</span>"
            # only the link and its text are kept from the pass below: its other attributes are scanned as any
            protected.extend((html.escape(new), shown))
            return anchor_written(match, f"\x00{len(protected) - 2}\x00", f"\x00{len(protected) - 1}\x00")

        def written(match: re.Match[str]) -> str:
            if match.group("link") is not None:
                return link_written(match.group("link"))
            if match.group("user") is None:  # one of the known handles and links (in any case) or bare names
                found = match.group(0)
                if markup and _is_bare(found) and in_markup(match.start()):
                    return found  # a tag's or attribute's name, a class (``span``, ``lang``, ``h-card``)
                return replacements.get(found) or replacements[_fold(found)]
            at, user, domain = match.group("at"), match.group("user"), match.group("domain")
            if not at and "." not in domain and ":" not in domain and not (user[-1].isascii() and user[-1] != "_"):
                # ``ありがとう@bob``, ``_@bob``: a handle glued after a word (Japanese has no spaces), which this
                # match would hide from the handles: the rest is scanned again from its ``@``
                return user + pattern.sub(written, match.group(0)[len(user):])
            if not at and _version_like(domain):  # ``react@18.2.0``: no address, unless a known one starts it
                whole = _fold(match.group(0))  # addresses in any case; the known one ends where a label does
                known = next((v for v in present if _is_bare(v) and "@" in v and whole.startswith(_fold(v))
                              and whole[len(v):len(v) + 1] in (".", ":")), None)
                return match.group(0) if known is None else replacements[known] + match.group(0)[len(known):]
            if not at and "." not in domain and ":" not in domain:
                return match.group(0)  # ``word@word``: neither handle nor address
            return at + self.text_key(f"{user}@{domain}")

        text = LINK_ANCHOR_RE.sub(anchor, text.replace("\x00", ""))
        markup_spans: list[tuple[int, int]] = []

        def in_markup(position: int) -> bool:
            """Whether ``position`` of ``text`` lies in markup: a tag's or attribute's name, or a value of the
            attributes that only style or label (``class``, ``rel``, …: :data:`_MARKUP_ATTRIBUTES`). The values
            of any other attribute (``href``, ``alt``, ``title``) are text a reader may see: names there are
            replaced. The spans are found once per text (:func:`_markup_spans`)."""
            if not markup_spans:
                markup_spans.extend(_markup_spans(text))
            start, end = markup_spans[bisect_right(markup_spans, (position, len(text) + 2)) - 1]
            return start <= position < end

        folded_text = _fold(text)
        present = tuple(sorted((v for v in replacements if v in folded_text or (v in text and _is_bare(v))), key=len,
                               reverse=True))
        pattern = _handles_pattern(present) if present else _TEXT_ACCOUNT_RE
        if present or "@" in text or "://" in text:  # most texts hold none: their links were rewritten above
            text = pattern.sub(written, text)
        return re.sub("\x00([0-9]+)\x00", lambda m: protected[int(m.group(1))], text)

    def instance(self, record: dict[str, Any], instance: str) -> dict[str, Any]:
        """The landed instance document: the contact account pseudonymised (None when it opted out or was
        erased), the contact e-mail dropped, and the texts an admin writes (:meth:`_instance_text_slots`)
        scrubbed as a status's are. The people they name are the contact account and every local account written
        as ``@user`` (on this server that is a handle: nothing resolves an instance's texts into mentions), by
        handle or link, not by bare name: a rule saying "write to admin@example.org" or "appeals: @staff", a
        description naming ``@alice@example.social`` as moderator."""
        if not isinstance(record, dict):
            raise TypeError("instance is not an object")
        out = dict(record)
        contact = out.get("contact")
        people = []
        if isinstance(contact, dict):
            contact = {k: v for k, v in contact.items() if k != "email"}
            if isinstance(contact.get("account"), dict):
                people.append(contact["account"])
                contact["account"] = self.account(contact["account"], instance)
            out["contact"] = contact
        if isinstance(out.get("contact_account"), dict):  # v1
            people.append(out["contact_account"])
            out["contact_account"] = self.account(out["contact_account"], instance)
        out.pop("email", None)
        names = _KnownNames(lambda: self._handles_only(people, instance))

        def local(match: re.Match[str]) -> str:
            return "@" + self.text_key(match.group(1), instance)

        for holder, key in _instance_text_slots(out):
            # local handles first, each replaced where it is (not made known names: a document may hold thousands)
            holder[key] = self._scrub_text(_LOCAL_HANDLE_RE.sub(local, holder[key]), names)
        return out

    def _handles_only(self, people: list[dict[str, Any]], instance: str) -> tuple[dict[str, str], dict[str, str]]:
        """:meth:`_known_names` without bare names: an instance's contact account is often named after the
        server or the software (mastodon.social's is ``Mastodon``), which its description names as a word."""
        handles, links = self._known_names(people, instance, ())
        return {k: v for k, v in handles.items() if "@" in k}, links


#: The free texts of an instance document, Mastodon's v2 and v1 and GoToSocial's (``*_text``: the source of the
#: HTML field beside it; ``terms``): top level, inside an object, and in each rule (and each of its translations).
_INSTANCE_TEXTS = ("description", "short_description", "description_text", "short_description_text", "terms",
                   "terms_text", "thumbnail_description")
_INSTANCE_NESTED_TEXTS = {"registrations": ("message",), "thumbnail": ("description", "thumbnail_description")}
_RULE_TEXTS = ("text", "hint")
#: ``@user`` without a domain, not inside a word, a path segment, a query or a longer handle (``@user@domain``);
#: after ``.`` or ``@`` it is one (``.@staff``, ``@@staff``: mentions to Mastodon), after ``_`` or other punctuation
#: too (privacy first), also glued to a link (``https://x.org/rules,@staff``: where a link ends cannot be told);
#: not right after ``/`` or ``/@`` (a profile link, left to the link rules; Plone's ``/@@download``).
_LOCAL_HANDLE_RE = re.compile(
    r"(?<![A-Za-z0-9/=])(?<!/@)@([A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?)(?![A-Za-z0-9_@]|[.\-][A-Za-z0-9_])")


def _instance_text_slots(document: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(holder, key) of every free text of an instance document (:data:`_INSTANCE_TEXTS`) holding a string, the
    holders inside ``document`` copied first (a rule, its translations, ``registrations``, ``thumbnail``), so
    writing through a slot never changes the collected document."""
    slots: list[tuple[dict[str, Any], str]] = [(document, key) for key in _INSTANCE_TEXTS]
    for nested, keys in _INSTANCE_NESTED_TEXTS.items():
        if isinstance(document.get(nested), dict):
            document[nested] = holder = dict(document[nested])
            slots += [(holder, key) for key in keys]
    if isinstance(document.get("rules"), list):
        document["rules"] = [dict(rule) if isinstance(rule, dict) else rule for rule in document["rules"]]
        for rule in document["rules"]:
            if not isinstance(rule, dict):
                continue
            slots += [(rule, key) for key in _RULE_TEXTS]
            if isinstance(rule.get("translations"), dict):
                rule["translations"] = {lang: dict(t) if isinstance(t, dict) else t
                                        for lang, t in rule["translations"].items()}
                slots += [(t, key) for t in rule["translations"].values() if isinstance(t, dict)
                          for key in _RULE_TEXTS]
    return [(holder, key) for holder, key in slots if isinstance(holder.get(key), str)]


#: How deep :meth:`PrivacyPolicy.erased_in_quarantine` looks into a malformed item (JSON a server may nest deeper
#: than Python recurses); what lies deeper is kept as it is.
_QUARANTINE_DEPTH = 64


def _each_string(value: Any, found: Callable[[str], Any], depth: int) -> None:
    """Call ``found`` on every string of a JSON value (:data:`_QUARANTINE_DEPTH` deep)."""
    if isinstance(value, str):
        found(value)
    elif depth <= _QUARANTINE_DEPTH and isinstance(value, dict):
        for each in value.values():
            _each_string(each, found, depth + 1)
    elif depth <= _QUARANTINE_DEPTH and isinstance(value, list):
        for each in value:
            _each_string(each, found, depth + 1)


def _map_strings(value: Any, change: Callable[[str], str], depth: int) -> Any:
    """A JSON value with every string (not the keys) replaced by ``change`` of it (:data:`_QUARANTINE_DEPTH`
    deep)."""
    if isinstance(value, str):
        return change(value)
    if depth > _QUARANTINE_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _map_strings(v, change, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change, depth + 1) for v in value]
    return value


@dataclass
class _Erased:
    """What one status as collected tells of an erased account it names (:meth:`PrivacyPolicy._collected_status`):
    its profile links and ids (``instance/id``), as :class:`~fediscope.erased_mentions.ProfileLinks` takes them,
    and the statuses (as landed) whose ``mentions`` named it."""

    links: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    mentioning: list[dict[str, Any]] = field(default_factory=list)

    def note(self, account: dict[str, Any], instance: str) -> _Erased:
        """Note the links and id of ``account`` (an account or mention object as collected from ``instance``)."""
        self.links.update(str(account[k]) for k in ("url", "uri") if account.get(k) and "://" in str(account[k]))
        if account.get("id") not in (None, "", ERASED):
            self.ids.add(instance_account_id(instance, account["id"]))
        return self


def keep_lengths_as_written(before: Any, after: Any, clear: bool) -> None:
    """Give each status ``after`` carries (a raw status record's ``data`` as the erasure scrubbed it, or as landing
    with privacy off rewrote an erased account's mentions in it: the status, a reblogged and a quoted one) whose
    ``content`` (or ``spoiler_text``) differs from that of the same status in ``before`` (the ``data`` before the
    rewrite, which keeps every nested status where it was) the length of its text (or content warning) as written (in
    place, :data:`WRITTEN_LENGTHS`), where it has none and the texts are kept as collected (``clear``, privacy off):
    the text before was collected as written. With privacy on, the one landing recorded is kept as the scrub copied
    it; a text without one was landed so by an older release, with pseudonyms in it, and is measured
    (:mod:`fediscope.gdpr.texts`)."""
    if not clear:
        return
    for old, new in zip(nested_statuses(before), nested_statuses(after), strict=False):
        for text, recorded in WRITTEN_LENGTHS.items():  # the text (HTML) and the content warning (plain text)
            written = old.get(text)
            if recorded not in new and isinstance(written, str) and new.get(text) != written:
                new[recorded] = authored_length(written) if text == "content" else len(written)


def unreplied(status: dict[str, Any]) -> dict[str, Any]:
    """A reply to an erased account's status, landed without whose status it was (``in_reply_to_account_id``) nor
    which (``in_reply_to_id`` becomes :data:`ERASED`: a status id on a known instance names its author through the
    instance's API); still a reply, as ``fediscope gdpr erase`` leaves the replies it finds."""
    out = {**status, "in_reply_to_account_id": None}
    if status.get("in_reply_to_id") not in (None, ""):
        out["in_reply_to_id"] = ERASED
    return out


def policy_from_settings(settings: Settings, suppressed: Iterable[str] = ()) -> PrivacyPolicy:
    """The landing policy; refuses to build without a pseudonym key unless privacy is explicitly off."""
    key = settings.pseudonym_key.encode() if settings.pseudonym_key else None
    return PrivacyPolicy(key=key, enabled=settings.privacy, suppressed=frozenset(suppressed))


def describe_policy(policy: PrivacyPolicy) -> dict[str, Any]:
    """What is kept, pseudonymised and dropped: the data the processing register is generated from."""
    return {
        "enabled": policy.enabled,
        "account": {"kept": ACCOUNT_KEPT, "pseudonymised": ACCOUNT_PSEUDONYMISED, "dropped": ACCOUNT_DROPPED},
        "status": {"kept": STATUS_KEPT, "pseudonymised": STATUS_PSEUDONYMISED,
                   "minimised": ("media_attachments: id and type only", "card: type and provider only"),
                   "added": ("origin_ref: pseudonym of the status's home instance and its id there, which a "
                             "deletion from that instance carries too",
                             f"{AUTHORED_LENGTH}: the length of the text as its author wrote it, when handles or "
                             "links in it were replaced (the curated content_length)",
                             f"{AUTHORED_SPOILER_LENGTH}: the length of the content warning as its author wrote it, "
                             "when handles or links in it were replaced (the curated content_warning_length)")},
        "opt_out_tags": OPT_OUT_TAGS,
        "purposes": REGISTER_PURPOSES,
    }


def _is_public_status(status: Any) -> bool:
    """A nested status (a boosted or quoted one) that may be landed: an object whose visibility is public data."""
    return isinstance(status, dict) and status.get("visibility") in PUBLIC_VISIBILITIES
