"""The data subject of a GDPR request, and how landed records refer to them.

A request names an account in clear (``user@instance``). The lake never holds that name when the privacy
policy is on: landed records carry the **account key** (a keyed pseudonym of ``user@domain``) in ``acct``, the
**id pseudonym** (per serving instance) in ``id``, ``in_reply_to_account_id`` and mention ids, and a
pseudonym of each status URI. :class:`Subject` holds the account key; :class:`Traces` collects everything else
that points at the subject, found by scanning (the id pseudonyms cannot be recomputed without the clear
instance-local ids, which the lake does not keep). With privacy off the records carry clear names, and the key
is ``user@domain`` in lower case, exactly the curation's account key.

One person may have two keys: the local accounts of a server served from ``social.example.com`` whose handles
are ``@alice@example.com`` are keyed as ``alice@example.com``, but records landed before that rule, or by a run
that could not read the instance document before the handle domain was remembered, carry
``alice@social.example.com``. :func:`subjects_from_settings` gives a subject per key, from the handle domains
remembered in the lake.

The clear name lives only in memory: the audit log and the suppression list receive :attr:`Subject.audit_id`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field, fields
from typing import Any

from fediscope.config import Settings, instance_domain
from fediscope.erased_mentions import nested_statuses, quoted_paths, value_at
from fediscope.errors import ConfigError
from fediscope.idn import ascii_domain, unicode_domain
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import ENTITIES, RAW_ROOT, parse_partition
from fediscope.privacy import (
    ERASED,
    PrivacyPolicy,
    clear_account_key,
    clear_key_digest,
    instance_account_id,
    policy_from_settings,
)
from fediscope.sources.handle_domains import served_domains
from fediscope.wording import some_of

__all__ = ["ERASED", "Subject", "Traces", "collected_instances", "nested_statuses", "parse_account",
           "subject_from_settings", "subjects_from_settings", "unknown_instance_hint"]


@dataclass(frozen=True)
class Subject:
    """One account a request is about."""

    key: str  # the account key as landed records carry it
    pseudonymised: bool  # False when the lake was landed with privacy off (clear names)
    username: str  # clear local part: only used to find checkpoint files named after an account source
    domain: str

    @property
    def audit_id(self) -> str:
        """What may be written down about the subject: the pseudonym, or a hash when there is none."""
        return self.key if self.pseudonymised else clear_key_digest(self.key)


#: A profile link, as a browser shows it: ``https://host/@user``, or ``https://host/@user@remote`` (a remote
#: account seen on ``host``); the scheme may be left out (then it is https, as for an instance address).
_PROFILE_LINK_RE = re.compile(r"(?P<scheme>https?://)?(?P<host>[^/?#\s@]+)/@(?P<user>[^/?#@\s]+)"
                              r"(?:@(?P<remote>[^/?#@\s]+))?/?", re.IGNORECASE)


#: A user name as an account key can hold one: Mastodon's ``[a-z0-9_]`` with the ``.`` and ``-`` of other servers'
#: names, and the e-mail characters the landing reads a ``user@domain`` written in a text with (``%``, ``+``).
_USER_RE = re.compile(r"[\w.%+-]+")


def parse_account(account: str) -> tuple[str, str]:
    """``@User@Mastodon.Social`` → ``("user", "mastodon.social")``, and so does its profile link
    ``https://mastodon.social/@User``; anything else is a clear error."""
    text = account.strip().lstrip("@")
    if "/" in text:  # a link, its scheme maybe left out (``mastodon.social/@alice``: was user ``mastodon.social/``)
        link = _PROFILE_LINK_RE.fullmatch(text)
        if link is None:
            raise ConfigError(f"--account {account!r}: a link, but not a profile link (https://host/@user); "
                              "expected ACCT@INSTANCE, e.g. alice@mastodon.social")
        # the host keeps the link's scheme, so instance_domain drops the port only when it is that scheme's:
        # was ``http://host:80/@alice`` another account than ``http://host/@alice``, and ``http://host:443/@alice``
        # the account of ``https://host``
        text = f"{link['user']}@{link['remote'] or (link['scheme'] or '') + link['host']}"
    user, sep, domain = text.partition("@")
    if not sep or not user or not domain or "@" in domain or any(c.isspace() for c in text):
        raise ConfigError(f"--account {account!r}: expected ACCT@INSTANCE, e.g. alice@mastodon.social")
    if not _USER_RE.fullmatch(user):  # was: ``mailto:alice@x`` "erased" user ``mailto:alice``, a key nobody has
        raise ConfigError(f"--account {account!r}: {user!r} is not a user name (letters, digits, '_', '.', '-'); "
                          "expected ACCT@INSTANCE, e.g. alice@mastodon.social")
    # instance_domain drops the DNS root's dot (``mastodon.social.``), as the landing does: kept, it was another key,
    # so an erasure found nothing and suppressed a key no landing makes, and an export answered that nothing was held
    return user.lower(), instance_domain(_ascii_domain(account, domain))


def _ascii_domain(account: str, domain: str) -> str:
    """``bawü.social`` → ``xn--baw-joa.social``: an internationalised domain as an instance address spells it, and as
    the landing keys it (:func:`fediscope.idn.ascii_domain`; was refused as "not an instance address", so an account
    of such a server could be neither erased nor exported). Lakes landed before the landing settled on that spelling
    hold a key of the other one too: :func:`unicode_domain`."""
    if domain.isascii():
        return domain
    scheme, sep, address = domain.rpartition("://")  # a profile link's host keeps its scheme (parse_account)
    ascii_address = ascii_domain(address)
    if ascii_address is None:
        raise ConfigError(f"--account {account!r}: {domain!r} is not a domain name; expected ACCT@INSTANCE, e.g. "
                          "alice@mastodon.social")
    return scheme + sep + ascii_address


def subject_from_settings(settings: Settings, account: str) -> Subject:
    """The subject of ``account`` under the active privacy policy (needs the pseudonym key when privacy is on)."""
    user, domain = parse_account(account)
    return _subject(settings, user, domain)


def _subject(settings: Settings, user: str, domain: str) -> Subject:
    """The subject ``user@domain``, both as :func:`parse_account` gives them (or a domain's other spelling)."""
    if not settings.privacy:
        return Subject(key=f"{user}@{domain}", pseudonymised=False, username=user, domain=domain)
    # a missing key: gdpr erase/export first ask for it as the lake records it (require_pseudonym_key: the key it was
    # landed with, the demo's key file, or privacy off); this is for a lake that records none (an older one). Was
    # followed by the landing's advice to generate a key: a new one finds nothing
    if not settings.pseudonym_key:
        raise ConfigError("cannot find the account's records without the pseudonym key that landed them: set "
                          f"{settings.origin('pseudonym_key', advice=True)} to the key the lake was landed with (the "
                          "one its collectors use; a new key would find nothing), or FEDISCOPE_PRIVACY=off for a lake "
                          "landed with the privacy policy off")
    policy = policy_from_settings(settings)
    # the key of the domain as spelled: a Unicode spelling's is what lakes landed before the landing settled on
    # ASCII hold (account_key would give the ASCII spelling's, the first subject's)
    return Subject(key=policy.spelled_key(f"{user}@{domain}"), pseudonymised=True, username=user, domain=domain)


def subjects_from_settings(settings: Settings, account: str,
                           handle_domains: Mapping[str, str | None]) -> list[Subject]:
    """The subject of ``account`` first, then the same account under every other domain that names it by the
    handle domains remembered in the lake (``handle_domains``, :func:`fediscope.sources.handle_domains.
    load_handle_domains`): for ``alice@example.com``, ``alice@social.example.com`` when ``social.example.com``
    is remembered with the handle domain ``example.com`` (its local accounts were keyed by the served domain
    before the handle-domain rule, or by a run that could not read its document), and the other way round."""
    subject = subject_from_settings(settings, account)
    others = sorted(served_domains(handle_domains, subject.domain) - {subject.domain})
    subjects = [subject, *(subject_from_settings(settings, f"{subject.username}@{domain}") for domain in others)]
    # an internationalised domain's Unicode spelling, as remote instances' records named its accounts in lakes
    # landed before the landing settled on the ASCII one (:func:`unicode_domain`): was never found, so the erasure
    # left those records and the export did not list them
    spelled = [(each.username, unicode_domain(each.domain)) for each in subjects]
    return subjects + [_subject(settings, user, domain) for user, domain in spelled if domain]


def collected_instances(lake: LakeBackend) -> set[str]:
    """The instances the raw lake holds records from (its ``instance=`` partitions, of every entity)."""
    return {instance for entity in ENTITIES for entry in lake.list(f"{RAW_ROOT}/{entity}")
            if entry.is_dir and (instance := parse_partition(entry.path).get("instance"))}


def unknown_instance_hint(lake: LakeBackend, account: str) -> str | None:
    """Why a request that found nothing may have asked under the wrong name, or None.

    An instance's own accounts are held under the address it was collected from unless fediscope learned that its
    handles use a parent domain (:mod:`fediscope.sources.handle_domains`): a server at ``127.0.0.1:8765`` (the
    sample instance) or ``social.example.com`` whose handles read ``@alice@example.org`` holds alice as
    ``alice@127.0.0.1:8765`` or ``alice@social.example.com``. Asked as ``alice@example.org``, the export answered
    "nothing held" and the erasure erased nothing, with nothing to say the lake does hold her."""
    user, domain = parse_account(account)
    instances = collected_instances(lake)
    if not instances or domain in instances:
        return None
    others = sorted(instances)
    shown = some_of(others)
    return (f"nothing is held under {user}@{domain}, and {domain} is not an instance this lake was collected from "
            f"({shown}); if the account is a local account of one of them, its records are held under that "
            f"instance's address: ask again as {user}@{others[0]}" + (" (or another of them)" if len(others) > 1
                                                                       else ""))


def subject_for_policy(policy: PrivacyPolicy, account: str) -> Subject:
    user, domain = parse_account(account)
    return Subject(key=policy.account_key(f"{user}@{domain}"), pseudonymised=True, username=user, domain=domain)


# -- how records refer to accounts --------------------------------------------------------------------------
def account_key_of(account: Any, instance: str) -> str | None:
    """The account key of an account (or mention) object in a landed record."""
    if not isinstance(account, dict):
        return None
    acct = str(account.get("acct") or account.get("username") or "")
    if not acct:
        return None
    if "domain" in account or str(account.get("url") or "").startswith("acct:"):
        return acct  # landed by the privacy policy: acct is the key already
    return clear_account_key(acct, instance)


def status_author(status: Any, instance: str) -> str | None:
    return account_key_of(status.get("account"), instance) if isinstance(status, dict) else None


def quoted_author(status: dict[str, Any], instance: str) -> str | None:
    """The account key of the author of the status ``status`` quotes (None without a quoted status): Mastodon's
    ``quote.quoted_status``, or the quoted status as Akkoma, Fedibird or Pleroma send it
    (:func:`~fediscope.erased_mentions.quoted_paths`)."""
    paths = quoted_paths(status)
    return status_author(value_at(status, paths[0]), instance) if paths else None


@dataclass
class Traces:
    """Every value in the lake that points at the subject: found in a first pass, removed in a second.

    :data:`ERASED` is never one: an id or status link that an erasure already replaced by it (a status landed under
    two keys of one account, scrubbed by the erasure of the other key) points at nobody, and taken as a trace it
    would go on the suppression list and take with it every store row and quarantined file holding the marker."""

    key: str
    #: Landed with privacy off: ids are the instances' own, numbers that are neither unique across instances nor
    #: unlike other numbers (``13179``, the id of mastodon.social's @Mastodon, is also a status id elsewhere, and
    #: inside longer ids): they are kept as ``instance/id`` and are never looked for in text, only in id fields.
    clear: bool = False
    ids: set[str] = field(default_factory=set)  # account id pseudonyms (one per serving instance), or instance/id
    status_links: set[str] = field(default_factory=set)  # uri/url of the subject's statuses
    #: The subject's statuses as a metric may key them (:func:`names_status`): ``(instance, status id)`` pairs —
    #: the id is the instance-local one, kept clear, paired with the instance it was fetched from and with the
    #: author's home instance (curated ``fetched_from`` and ``instance``) —, and their ``origin_ref`` values. Never
    #: among :meth:`values`: an id is a number found in many other places.
    status_ids: set[tuple[str, str]] = field(default_factory=set)
    origin_refs: set[str] = field(default_factory=set)
    #: The copies of the subject's statuses exactly, as ``instance/id`` (the curation's ``copies``): each id paired
    #: only with the instance it was fetched from, where it is that status's id (:attr:`status_ids` also pairs it
    #: with the home instance, where it may be another status's). What a streamed deletion (:meth:`names_deletion`)
    #: or another person's ``in_reply_to_id`` names. Never among :meth:`values`.
    status_copies: set[str] = field(default_factory=set)
    #: Other people's boosts of the subject's statuses, as ``instance/id`` (the boost's own id): the erasure removes
    #: them whole (:func:`~fediscope.gdpr.erase.is_owned`), yet with its instance a boost's id still leads to the
    #: subject's status. Only the checkpoints are searched for them (:mod:`fediscope.gdpr.cursors`); never among
    #: :meth:`values`.
    boost_copies: set[str] = field(default_factory=set)
    #: Landed with privacy off: the subject's profile links as the records give them (the ``url`` and ``uri`` of its
    #: account objects and of mentions of it), which other people's texts link its mentions to
    #: (:mod:`fediscope.gdpr.mentions`). Never among :meth:`values`: they are matched in any case, and as links.
    profile_links: set[str] = field(default_factory=set)
    #: Whether the streamed deletions of the subject's statuses (:meth:`names_deletion`) go with it. Not for an
    #: opt-out (:mod:`fediscope.gdpr.opt_outs`): it is not suppressed, so an account that opts back in may be landed
    #: again, and a lagging copy of a status it deleted needs the deletion to stay a tombstone.
    with_deletions: bool = True
    _values: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def values(self) -> frozenset[str]:
        """Every value that, found in a record (whole, or as a word of a text: :func:`contains_trace`), points at
        the subject. A clear id only as the path of an id-based profile link of its instance (``…/ap/users/ID``).
        Frozen: :func:`contains_trace` and :func:`scrub` build their search of it once, not per string.

        The same object as the last call's while the values are the same: the search is cached by the set, and a
        lookup with an equal set of another object compares the two element by element, for every string looked
        at (the erasure called this once per file: each string of the lake cost as much as the account has status
        links, an erasure grew with the lake times the account's statuses)."""
        if self.clear:
            values = frozenset({self.key, *self.status_links, *(f"{instance}/ap/users/{i}" for instance, _, i in
                                                               (each.partition("/") for each in self.ids))})
        else:
            values = frozenset({self.key, *self.ids, *self.status_links})
        if values != self._values:
            self._values = values
        return self._values

    def found(self) -> dict[str, list[Any]]:
        """Everything found (each set field: ids, links, status ids, ``origin_ref`` values, copies), as JSON can
        hold it, sorted: what :mod:`fediscope.gdpr.resume` keeps for an erasure run again."""
        return {name: sorted(list(each) if isinstance(each, tuple) else each for each in values)
                for name, values in self._sets().items()}

    def add_found(self, found: Mapping[str, Any]) -> None:
        """Add what :meth:`found` gave (read back from JSON: pairs as lists). ValueError when it is not that."""
        sets = self._sets()
        for name, values in found.items():
            if name not in sets or not isinstance(values, list):
                raise ValueError(f"not a set of traces: {name!r}")
            for value in values:
                pair = isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
                if not (isinstance(value, str) or pair):
                    raise ValueError(f"not a trace in {name}: {value!r}")
                sets[name].add(tuple(value) if pair else value)

    def _sets(self) -> dict[str, set[Any]]:
        return {f.name: value for f in fields(self) if isinstance(value := getattr(self, f.name), set)}

    def is_account_id(self, value: Any, instance: str) -> bool:
        """Is ``value``, an account id field of a record landed from ``instance``, the subject's id there?"""
        if value in (None, "", ERASED):
            return False
        return (instance_account_id(instance, value) if self.clear else str(value)) in self.ids

    def note_record(self, entity: str, data: Any, instance: str) -> None:
        """Remember the id pseudonyms and status links of the subject found in one landed record."""
        if not isinstance(data, dict):
            return
        if entity in {"accounts", "directory"}:
            self._note_account(data, instance)
        elif entity == "instance":
            contact = data.get("contact")
            self._note_account(contact.get("account") if isinstance(contact, dict) else None, instance)
            self._note_account(data.get("contact_account"), instance)
        elif entity == "statuses":
            if status_author(data.get("reblog"), instance) == self.key and (
                    boost := status_copy(instance, data.get("id"))):
                self.boost_copies.add(boost)
            for status in nested_statuses(data):
                if self._note_account(status.get("account"), instance):
                    self.status_links.update(str(status[k]) for k in ("uri", "url")
                                             if status.get(k) and status[k] != ERASED)
                    self.note_status(status.get("id"), (instance, home_instance(status["account"], instance)),
                                     status.get("origin_ref"), copies=[status_copy(instance, status.get("id"))])
                for mention in status.get("mentions") or []:
                    self._note_account(mention, instance)

    def note_status(self, status_id: Any, instances: Iterable[Any], origin_ref: Any = None,
                    copies: Iterable[str | None] = ()) -> None:
        """Remember one of the subject's statuses by its id on each of ``instances``, its ``origin_ref`` and its
        exact ``copies`` (``instance/id``, :func:`status_copy`)."""
        if status_id not in (None, "", ERASED):
            self.status_ids.update((str(each).lower(), str(status_id)) for each in instances if each)
        if origin_ref not in (None, "", ERASED):
            self.origin_refs.add(str(origin_ref))
        self.status_copies.update(copy for copy in copies if copy)

    def names_deletion(self, instance: Any, status_id: Any, origin_ref: Any) -> bool:
        """Does a streamed deletion (the reporting instance, its id of the status, the deletion's ``origin_ref``)
        name one of the subject's statuses? Exactly: by a copy of it, or by its ``origin_ref`` (a deletion from its
        home instance). Never by the home-instance pairs of :attr:`status_ids`: a deletion of another status with
        that id would be erased, and that status could come back if collected again."""
        return status_copy(instance, status_id) in self.status_copies or (
            origin_ref not in (None, "", ERASED) and str(origin_ref) in self.origin_refs)

    def replies_to(self, status: Mapping[str, Any], instance: str) -> bool:
        """Does ``status``, another person's, fetched from ``instance``, reply to one of the subject's statuses? By
        its ``in_reply_to_account_id`` (then its ``in_reply_to_id`` is remembered as a copy of the subject's status:
        a curated row holds only that id) or by its ``in_reply_to_id`` being a known copy."""
        copy = status_copy(instance, status.get("in_reply_to_id"))
        if self.is_account_id(status.get("in_reply_to_account_id"), instance):
            if copy:
                self.status_copies.add(copy)
            return True
        return copy in self.status_copies

    def _note_account(self, account: Any, instance: str) -> bool:
        if account_key_of(account, instance) != self.key:
            return False
        if account.get("id") not in (None, "", ERASED):
            self.ids.add(instance_account_id(instance, account["id"]) if self.clear else str(account["id"]))
        if self.clear:
            self.profile_links.update(str(account[k]) for k in ("url", "uri")
                                      if account.get(k) and "://" in str(account[k]))
        return True


def status_copy(instance: Any, status_id: Any) -> str | None:
    """``instance/id``: one copy of a status, its id on the instance it was fetched from (the curation's
    ``fetched_from || '/' || status_id``, an entry of ``copies``); None without both, or for an erased id."""
    if instance in (None, "") or status_id in (None, "", ERASED):
        return None
    return f"{str(instance).lower()}/{status_id}"


def home_instance(account: Any, instance: str) -> str:
    """The home instance of a landed account object, as the curation's ``instance`` column has it: its ``domain``
    (landed by the privacy policy), else the domain of a remote ``acct``, else the instance it was fetched from."""
    if isinstance(account, dict):
        if account.get("domain"):
            return str(account["domain"]).lower()
        acct = str(account.get("acct") or "")
        if "@" in acct:
            return acct.rsplit("@", 1)[1].lower()
    return instance.lower()


#: The columns that identify a status in a metric's row, as the curated ``statuses`` table names them: its id on an
#: instance (``status_id`` with ``fetched_from`` or ``instance``), and ``origin_ref``. A status link (``uri``,
#: ``status_uri``) is found as a trace (:meth:`Traces.values`).
STATUS_ID_COLUMN = "status_id"
STATUS_INSTANCE_COLUMNS = ("fetched_from", "instance")
ORIGIN_REF_COLUMN = "origin_ref"


def names_status(row: Mapping[str, Any], traces: Traces) -> bool:
    """Does a row (of a metric, by its column names) identify one of the subject's statuses?

    A status id is an instance's own number: it counts only with an instance column of the same row that it is
    the subject's id on. Paired with the author's home instance as well as the instance it was fetched from (a
    metric may select the curated ``instance`` with ``status_id``), another person's status of the same id on
    that home instance may match too; its row is then recomputed by the next ``fediscope process``."""
    status_id = row.get(STATUS_ID_COLUMN)
    if status_id not in (None, "") and any(
            (str(row[column]).lower(), str(status_id)) in traces.status_ids
            for column in STATUS_INSTANCE_COLUMNS if row.get(column)):
        return True
    return row.get(ORIGIN_REF_COLUMN) not in (None, "") and str(row[ORIGIN_REF_COLUMN]) in traces.origin_refs


#: A pseudonym (:meth:`fediscope.privacy.PrivacyPolicy.pseudonym`), or a status link made of one.
_PSEUDONYM_RE = re.compile(r"(?:urn:fediscope:)?[a-z][0-9a-f]{24}")


def _word(trace: str) -> str:
    if _PSEUDONYM_RE.fullmatch(trace):
        # wherever it is: the landing replaces a handle in text up to any non-word character, so a pseudonym may be
        # glued to "-" or "." (``@bob-style`` → ``<key>-style``), and nothing else is a pseudonym's 24 hex digits
        return re.escape(trace)
    return rf"(?<![\w.-]){re.escape(trace)}(?![\w-]|\.\w)"


@functools.lru_cache(maxsize=256)
def _words(traces: tuple[str, ...]) -> re.Pattern[str]:
    """The traces as whole words, longest first: not inside a longer name, number or domain (``bob@x.social`` is
    not in ``superbob@x.social`` nor in ``bob@x.social.example``; a status link ending ``/12`` is not in one ending
    ``/123``). A pseudonym is found wherever it is, as before (:func:`_word`)."""
    return re.compile("|".join(_word(t) for t in traces))


@functools.lru_cache(maxsize=32)
def _any_of(traces: frozenset[str]) -> re.Pattern[str]:
    """A pattern found in a text exactly when one of ``traces`` is in it, as a prefix tree of the traces: its search
    reads each character of the text once or a few times, however many traces there are. Testing each trace in
    turn read every string of the lake once per trace: with the thousands of status links of an account that
    posted a lot, erasing it from a lake of 100,000 statuses took four minutes, nearly all of it here."""
    if "" in traces:
        return re.compile("")
    return re.compile(_alternatives(_prefix_tree(traces)) or "(?!)")


@functools.lru_cache(maxsize=32)
def _any_of_bytes(traces: frozenset[str]) -> re.Pattern[bytes]:
    """:func:`_any_of` for the bytes of a JSON file: found when a trace is in them in any form a JSON writer may give
    it (:func:`_json_byte_forms`). The pattern is over the bytes, each read as the Latin-1 character of its value."""
    if "" in traces:
        return re.compile(b"")
    return re.compile((_alternatives(_prefix_tree(traces), _json_byte_forms) or "(?!)").encode("latin-1"))


#: The short escapes of JSON (RFC 8259): what a writer may put for these characters instead of themselves.
_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
#: Printable ASCII characters some writers escape as ``\\uXXXX``: HTML-safe output (Go's encoding/json, Flask's
#: htmlsafe dumps, Jackson's and Gson's HTML escaping).
_HTML_ESCAPED = frozenset("<>&'=")


def _json_byte_forms(char: str) -> str:
    """The regular expression (over bytes read as Latin-1) of every way a JSON writer may write ``char`` inside a
    string: itself in UTF-8, and, for a character some writer escapes, its short escape (``\\"``, ``\\\\``,
    ``\\/``, ``\\n`` …) and its ``\\uXXXX`` escape in either case of hex digits (a UTF-16 surrogate pair beyond
    U+FFFF). Those are: the short-escaped ones, the other control characters, DEL, the HTML-sensitive
    :data:`_HTML_ESCAPED` and every non-ASCII character (``ensure_ascii``). The project writes raw batches with
    ``ensure_ascii=False`` (:func:`~fediscope.lake.batches.encode_jsonl`), which escapes only ``"``, ``\\`` and
    control characters; a batch NiFi landed was written again by its JSON library (which may write ``/`` as
    ``\\/``), and other files (opt-out notes, quarantine) are written with ``ensure_ascii``. Letters, digits and
    the other printable ASCII characters — all a pseudonym holds — are matched as themselves, so the pattern of
    pseudonyms is as fast as a plain search."""
    plain = re.escape(char.encode("utf-8", "surrogatepass").decode("latin-1"))
    if " " <= char <= "~" and char not in _SHORT_ESCAPES and char not in _HTML_ESCAPED:
        return plain
    forms = [plain, "".join(_u_escape(unit) for unit in _utf16_units(char))]
    if char in _SHORT_ESCAPES:
        forms.append(re.escape("\\" + _SHORT_ESCAPES[char]))
    return "(?:" + "|".join(forms) + ")"


def _utf16_units(char: str) -> list[int]:
    code = ord(char)
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def _u_escape(unit: int) -> str:
    """``\\uXXXX`` of one UTF-16 code unit, its hex digits in either case (Python writes ``\\u00e9``, Jackson
    ``\\u00E9``)."""
    return re.escape("\\u") + "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{unit:04x}")


def _prefix_tree(traces: Iterable[str]) -> dict[str, Any]:
    """The traces as a prefix tree of their characters; the key ``""`` marks where a trace ends."""
    tree: dict[str, Any] = {}
    for trace in traces:
        node = tree
        for char in trace:
            node = node.setdefault(char, {})
        node[""] = {}
    return tree


def _alternatives(node: dict[str, Any], form: Callable[[str], str] = re.escape) -> str:
    """The regular expression of a prefix tree's branches, each character as ``form`` writes it: a trace ending at
    ``node`` (its ``""`` key) ends the match there, as the shortest trace suffices to tell that one is present."""
    if "" in node:
        return ""
    branches = [form(char) + _alternatives(child, form) for char, child in sorted(node.items())]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def may_hold_trace(raw: bytes, traces: Set[str]) -> bool:
    """Can ``raw`` (the bytes of a JSON or JSON Lines file) hold one of ``traces`` in a string? False only when no
    trace is in them in any form a JSON writer may give it (:func:`_json_byte_forms`: as UTF-8, and escaped —
    ``"``, ``\\``, control characters by every writer, non-ASCII ones with ``ensure_ascii``, ``/`` as ``\\/`` by
    some): searched as written alone, a trace holding such a character was not found in a file that held it, and
    the file was skipped with the trace left in it. One search of the bytes, however many traces: testing each
    trace in turn read every raw batch once per trace, which grew with the lake times the traces of the account
    (at 100,000 statuses, a third of an erasure)."""
    return trace_search(traces).search(raw) is not None


def trace_search(traces: Set[str]) -> re.Pattern[bytes]:
    """The search :func:`may_hold_trace` makes: ``trace_search(traces).search(raw)`` finds something exactly when
    ``may_hold_trace(raw, traces)``. For a caller that searches many texts, or parts of one (``pos``, ``endpos``: the
    pattern has no anchor nor lookaround, so a search between them is that of the slice), with the same traces: the
    pattern is cached by the set, and looking up an equal set of another object compares them element by element."""
    return _any_of_bytes(_frozen(traces))


def copy_ids(copies: Iterable[str]) -> set[str]:
    """The status ids that may be those of ``copies`` (``instance/id``, :func:`status_copy`): every part after a
    ``/``, so an id holding one is there too (an instance's address may hold a ``/``)."""
    return {copy[i + 1:] for copy in copies for i, char in enumerate(copy) if char == "/"}


def may_hold_in_json(text: str, traces: Set[str]) -> bool:
    """Can a value whose JSON is ``text`` (as :func:`json.dumps` writes it by default) hold one of ``traces``? False
    only when it cannot: JSON escapes each character of a string on its own, so a trace in a string of the value
    is, escaped, in its JSON. One search of the JSON is much cheaper than :func:`contains_trace` walking the value."""
    return _any_of(_json_forms(_frozen(traces))).search(text) is not None


@functools.lru_cache(maxsize=32)
def _json_forms(traces: frozenset[str]) -> frozenset[str]:
    """The traces as :func:`json.dumps` writes them inside a string; ``traces`` itself when that is each as it is (a
    pseudonym, a link): an equal set of another object, the key of :func:`_any_of`'s cache first, made each lookup of
    ``traces`` there compare the two element by element (:meth:`Traces.values`), for every string an erasure looks
    at."""
    forms = frozenset(json.dumps(trace)[1:-1] for trace in traces)
    return traces if forms == traces else forms


def _frozen(traces: Set[str]) -> frozenset[str]:
    return traces if isinstance(traces, frozenset) else frozenset(traces)


def _present(value: str, traces: frozenset[str], pattern: re.Pattern[str]) -> tuple[str, ...]:
    if pattern.search(value) is None:  # most texts hold none: the erasure and export look at every string
        return ()
    return tuple(sorted((t for t in traces if t in value), key=len, reverse=True))


def scrub(value: Any, traces: Set[str]) -> Any:
    """``value`` with every trace removed: list items equal to one dropped, each one in a text (as a whole word)
    rewritten."""
    frozen = _frozen(traces)
    return _scrub(value, frozen, _any_of(frozen))


def _scrub(value: Any, traces: frozenset[str], pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        present = _present(value, traces, pattern)
        return _words(present).sub(ERASED, value) if present else value
    if isinstance(value, list):
        return [_scrub(v, traces, pattern) for v in value if not (isinstance(v, str) and v in traces)]
    if isinstance(value, dict):
        return {k: _scrub(v, traces, pattern) for k, v in value.items()}
    return value


def contains_trace(value: Any, traces: Set[str]) -> bool:
    """Does ``value`` hold one of ``traces`` (a whole string, or a whole word of one: see :func:`scrub`)?"""
    frozen = _frozen(traces)
    return _contains(value, frozen, _any_of(frozen))


def _contains(value: Any, traces: frozenset[str], pattern: re.Pattern[str]) -> bool:
    if isinstance(value, str):
        present = _present(value, traces, pattern)
        return bool(present) and _words(present).search(value) is not None
    if isinstance(value, list):
        return any(_contains(v, traces, pattern) for v in value)
    if isinstance(value, dict):
        return any(_contains(v, traces, pattern) for v in value.values())
    return False
