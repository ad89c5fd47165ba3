"""An erased account's mentions and profile links in texts kept as collected (``FEDISCOPE_PRIVACY=off``).

With privacy on, landing writes every mention and profile link of an account as the account's pseudonym, and an
erased (suppressed) account's as :data:`ERASED`. With privacy off the texts are as collected: a mention is
Mastodon's ``<a href="https://host/@name" class="u-url mention">@<span>name</span></a>``. Both ``gdpr erase``, on a
lake that holds such texts (:mod:`fediscope.gdpr.mentions`), and landing with privacy off after the erasure
(:meth:`fediscope.privacy.PrivacyPolicy.apply`, for an account on the suppression list that a status mentions,
quotes, names as a link preview's author, or names in its texts by a handle or a profile link of a known shape)
rewrite them with :class:`ProfileLinks`, so a status landed before the erasure and the same status landed after it
say the same.

:class:`ProfileLinks` finds them: an anchor (``<a href>``) whose link is one of the account's profile links becomes
what landing with privacy on makes of an erased account's (``<a href="[erased]" …>@<span>[erased]</span></a>``;
a text shown that does not start with ``@``, such as a link's own address, becomes ``[erased]``), its other
attributes kept, so the HTML stays well-formed; a profile link written elsewhere (the plain ``spoiler_text``, a
poll option, an attribute) becomes ``[erased]``, and so does its handle, ``name@domain`` in any case, or ``@name``
alone in a status that mentions it. The account's profile links are, matched in any ASCII case and ``http`` as
``https``, as landing matches them:

- on each of its hosts (the domain of its key, the hosts of the links below): ``/@name`` (also ``/%40name``) and
  ``/users/name`` (the ActivityPub actor), and anything under them (a status's path);
- on any host, ``/@name@domain`` (the account seen from another server);
- ``/ap/users/<id>`` of the account's ids on the instances that served them (Mastodon 4.5's numeric actor);
- exactly, the ``url`` and ``uri`` the records give the account or a mention of it, whatever their shape (other
  servers': ``/u/name``, ``/profile/name``).

A card's author (``author_name``/``author_url``, an entry of ``authors`` with the account or its profile link) is
removed as a mention is (:func:`unlink_card_author`): the card stays, without the person. A card's texts and links
(title, description, byline, …) are erased as a status's text is; a card that previews one of the account's own pages
(its profile, one of its statuses: its title, description and image are the account's display name, bio, avatar or
words, which no search of its handle finds) keeps only what privacy on keeps of any card, its type and provider
(:func:`minimised_card`).

Nothing here imports the rest of fediscope: the privacy policy (landing) and the erasure both use it.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: What the handle or link of an account on the suppression list (an erased account) is replaced by.
ERASED = "[erased]"
#: ``<a … href="…" …>inner</a>`` in status HTML (Mastodon renders mentions and links this way). Groups: the tag's
#: start (``<a`` and the character after it), what comes before the ``href``, the ``href``, what comes after it,
#: the text shown, and the closing tag.
#: Each part stops at the next tag (``[^<>]``, and the text at the next ``<a`` or ``</a>``), so text with many
#: unclosed ``<a href="…`` costs time in proportion to its length, not to its cube; only a tag's first ``href="``
#: is tried (one ``<a`` with thousands of them was quadratic: 100 kB took 9 s).
#:
#: Wider than the curation's anchor on purpose (``\s`` is every Unicode space, and any case): landing and the
#: erasure scrub the link and the text shown of ``<A\x0bhref="…">`` too, though HTML (and curation's
#: ``ANCHOR_RE``, the MapReduce mapper's) reads it as no anchor; scrubbing more than a browser shows is safe. A
#: rewritten anchor keeps its start and its closing tag as written (:func:`anchor_written`): writing ``<a `` there
#: made a text that is no link to curation one after landing or an erasure, so a status had one more ``url_count``
#: with privacy on than off, and after an erasure than before.
LINK_ANCHOR_RE = re.compile(
    r'(<a\s)((?:(?!href=")[^<>])*)href="([^"<>]*)"([^<>]*)>((?:(?!</?a[\s>]).)*)(</a>)', re.IGNORECASE | re.DOTALL)


def anchor_written(match: re.Match[str], href: str, inner: str) -> str:
    """The anchor ``match`` (of :data:`LINK_ANCHOR_RE`) with another ``href`` (written as is: escape it first) and
    text shown ``inner``, its start, other attributes and closing tag as written."""
    start, before, _, after, _, end = match.groups()
    return f'{start}{before}href="{href}"{after}>{inner}{end}'

_TAG_RE = re.compile(r"<[^>]+>")
#: A link's next characters that continue the name it ends with (``…/@bob`` of ``…/@bobby`` or ``…/@bob.b``), as
#: landing reads them.
_NAME_GOES_ON = r"(?![A-Za-z0-9_@]|[.\-][A-Za-z0-9_])"
#: What may follow a profile link and be erased with it (a status's path, a query), not a closing punctuation mark.
_UNDER = r"""(?:[/?#](?:[^\s"'<>]*[^\s"'<>.,;:!?)\]])?)?"""
#: What a link cannot go on with, for a link known exactly (:attr:`ProfileLinks` ``exact``).
_LINK_ENDS = r"""/?(?![^\s"'<>.,;:!?)\]]|[.,;:!?)\]][^\s"'<>.,;:!?)\]])"""
_HOST_RE = re.compile(r"(?i:https?)://([^/?#\s\"'<>]+)")


def quoted_paths(status: Any) -> list[tuple[str, ...]]:
    """Where ``status`` holds the status it quotes, each path a list of fields: Mastodon's ``quote.quoted_status``;
    the ``quote`` that Akkoma and Fedibird send as the quoted status itself, and Pleroma's ``pleroma.quote`` (an
    object with an ``account`` object). Landing with privacy on keeps only Mastodon's (an Akkoma quote lands as a
    quote without its status, ``pleroma`` is dropped); a lake landed with privacy off keeps them all, the quoted
    author's whole profile and words included, so an erasure and an opt-out look at each."""
    if not isinstance(status, dict):
        return []
    paths: list[tuple[str, ...]] = []
    quote = status.get("quote")
    if isinstance(quote, dict):
        if isinstance(quote.get("quoted_status"), dict):
            paths.append(("quote", "quoted_status"))
        elif "quoted_status" not in quote and isinstance(quote.get("account"), dict):
            paths.append(("quote",))
    pleroma = status.get("pleroma")
    if isinstance(pleroma, dict) and isinstance(pleroma.get("quote"), dict) \
            and isinstance(pleroma["quote"].get("account"), dict):
        paths.append(("pleroma", "quote"))
    return paths


def value_at(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` (:func:`quoted_paths`) of ``record``."""
    value: Any = record
    for name in path:
        value = value[name]
    return value


def nested_statuses(status: Any) -> Iterator[dict[str, Any]]:
    """A status, the original it reblogs and the status it quotes (one level each, as Mastodon nests them; a quote
    as other servers send it too: :func:`quoted_paths`)."""
    if not isinstance(status, dict):
        return
    yield status
    if isinstance(status.get("reblog"), dict):
        yield from nested_statuses(status["reblog"])
    for path in quoted_paths(status):
        yield from nested_statuses(value_at(status, path))


class ProfileLinks:
    """The profile links of one account whose texts are kept as collected (module docstring), to erase from the texts
    of other people's statuses. ``key``: its clear account key (``name@domain``, lower case); ``links``: the ``url``
    and ``uri`` records give it; ``ids``: its ids as ``instance/id`` (:func:`fediscope.privacy.instance_account_id`).
    """

    def __init__(self, key: str, links: Iterable[str] = (), ids: Iterable[str] = ()) -> None:
        user, _, domain = key.rpartition("@")
        collected = sorted(link for link in set(links) if _HOST_RE.match(link))
        hosts = {domain, *(match.group(1).lower() for link in collected if (match := _HOST_RE.match(link)))}
        name = re.escape(user)
        own = "|".join(re.escape(host) for host in sorted(hosts))
        forms = [rf"(?:{own})/(?:(?:@|%40){name}|users/{name})",
                 rf"""[^/?#\s"'<>]+/(?:@|%40){name}@{re.escape(domain)}"""]
        forms += [rf"{re.escape(instance)}/ap/users/{re.escape(account_id)}"
                  for instance, _, account_id in sorted(each.partition("/") for each in set(ids))]
        derived = rf"https?://(?:{'|'.join(forms)}){_NAME_GOES_ON}{_UNDER}"
        exact = [rf"https?://{re.escape(link.split('://', 1)[1].rstrip('/'))}{_LINK_ENDS}"
                 for link in collected]
        self._pattern = re.compile("|".join([derived, *exact]), re.IGNORECASE)
        self.key = key
        #: ``@name`` alone, a handle of the account in a status that mentions it (``text``, Mastodon's source of the
        #: ``content``, says ``@name same!``), not inside a link, another handle (``@name@other.social``) or name
        self._handle = re.compile(rf"(?<![\w/=@.%+-])@{name}{_NAME_GOES_ON}", re.IGNORECASE)
        #: ``name@domain`` in any case (``@Alice@Example.social``): the erasure's search of the key, a word in its own
        #: case (:func:`~fediscope.gdpr.subject.scrub`), does not find another case
        self._whole = re.compile(rf"(?<![\w.-]){name}@{re.escape(domain)}(?![\w-]|\.\w)", re.IGNORECASE)

    def is_link(self, link: str) -> bool:
        """Is ``link`` (an ``href``, unescaped) one of the account's profile links, or under one?"""
        return self._pattern.fullmatch(link) is not None

    def in_html(self, text: str) -> str:
        """Status HTML with the anchors to the account and its profile links written as text erased."""
        if "://" not in text or (self._pattern.search(text) is None and (
                "&" not in text or self._pattern.search(html.unescape(text)) is None)):
            return text  # most texts: no anchor to the account either (an href is searched as written, unescaped)

        def anchor(match: re.Match[str]) -> str:
            href, inner = match.group(3), match.group(5)
            if not self.is_link(html.unescape(href)):
                return match.group(0)
            shown = f"@<span>{ERASED}</span>" if _TAG_RE.sub("", inner).startswith("@") else ERASED
            return anchor_written(match, ERASED, shown)

        return self._pattern.sub(ERASED, LINK_ANCHOR_RE.sub(anchor, text))

    def in_text(self, text: str, mentioned: bool = False) -> str:
        """Plain text (or what is left of HTML) with the account's profile links erased, and with ``mentioned`` (the
        status mentions the account) its handle written alone (``@name``) too, as ``@[erased]``."""
        if "://" in text:
            text = self._pattern.sub(ERASED, text)
        if "@" in text:
            text = self._whole.sub(ERASED, text)
            if mentioned:
                text = self._handle.sub(f"@{ERASED}", text)
        return text

    def erase(self, data: Any, mentioned: list[bool] | None = None) -> Any:
        """A raw status record's ``data`` with the account's mentions and profile links erased from the texts of
        every status it carries (the status, a reblogged and a quoted one, :func:`nested_statuses`: ``content``,
        ``spoiler_text``, ``text``, the poll's options, the link preview's texts and links: :func:`_texts`), and its
        handle written alone in those that mention it (``mentioned``, one flag per status carried, in that order); a
        link preview of one of the account's own pages keeps only what privacy on keeps of any card
        (:func:`minimised_card`). A copy when any changes, else ``data`` itself."""
        flags = [*(mentioned or []), *[False] * len(list(nested_statuses(data)))]
        if not any(self._previews(status) or _texts(status, self._visit(flag, apply=False)) for status, flag in zip(
                nested_statuses(data), flags, strict=False)):
            return data
        out = copy.deepcopy(data)
        for status, flag in zip(nested_statuses(out), flags, strict=False):
            if self._previews(status):
                status["card"] = minimised_card(status["card"])
            _texts(status, self._visit(flag, apply=True))
        return out

    def erase_profile(self, account: Any) -> Any:
        """An account object as collected (a record of the ``accounts`` entity, a status's author, a ``moved``
        account) with the account's mentions, profile links and handle erased from its texts: its bio (``note``),
        display name and profile fields (:func:`_profile_texts`), as landing with privacy off writes them after the
        erasure and the erasure rewrites them in the records landed before. A copy when any changes, else
        ``account`` itself. Was: another person's bio kept a mention of the erased account landed after the
        erasure, while the erasure rewrote (part of) it in the records landed before."""
        if not isinstance(account, dict):
            return account
        # the account it moved to, a whole profile too, as landing rewrites it (PrivacyPolicy._collected_profile)
        moved = self.erase_profile(account.get("moved"))
        if not _profile_texts(account, self._visit(False, apply=False)):
            return account if moved is account.get("moved") else {**account, "moved": moved}
        out = copy.deepcopy(account)
        _profile_texts(out, self._visit(False, apply=True))
        if moved is not account.get("moved"):
            out["moved"] = moved
        return out

    def erase_authors(self, data: Any) -> Any:
        """A raw status record's ``data`` with :meth:`erase_profile` applied to the author of every status it
        carries (:func:`nested_statuses`) and to the account of each of their link previews' authors, as landing
        rewrites them (:meth:`~fediscope.privacy.PrivacyPolicy._collected_card_author`). A copy when any changes,
        else ``data`` itself. Was: a link preview author's bio was left as landed before the erasure."""
        erased = {index: account for index, (holder, name) in enumerate(_status_accounts(data))
                  if (account := self.erase_profile(holder.get(name))) is not holder.get(name)}
        if not erased:
            return data
        out = copy.deepcopy(data)  # the same accounts in the same order: each erased once, its copy put in
        for index, (holder, name) in enumerate(_status_accounts(out)):
            if index in erased:
                holder[name] = erased[index]
        return out

    def erase_contacts(self, data: Any) -> Any:
        """A raw instance document's ``data`` with :meth:`erase_profile` applied to its contact account (``contact``'s
        ``account``, v1's ``contact_account``), as landing rewrites it (:meth:`~fediscope.privacy.PrivacyPolicy.
        _collected_instance`). A copy when it changes, else ``data`` itself."""
        if not isinstance(data, dict):
            return data
        out = data
        contact = data.get("contact")
        if isinstance(contact, dict) and (account := self.erase_profile(contact.get("account"))) \
                is not contact.get("account"):
            out = {**out, "contact": {**contact, "account": account}}
        if (account := self.erase_profile(data.get("contact_account"))) is not data.get("contact_account"):
            out = {**out, "contact_account": account}
        return out

    def _previews(self, status: dict[str, Any]) -> bool:
        """Is the link preview (``card``) of ``status`` one of the account's own pages (its profile, one of its
        statuses: a link :meth:`is_link` finds)? Its title, description, image and embedded HTML then are the
        account's display name, bio, avatar or words, which no search of its handle finds."""
        card = status.get("card")
        return isinstance(card, dict) and isinstance(card.get("url"), str) and self.is_link(card["url"].strip())

    def _visit(self, mentioned: bool, apply: bool) -> Callable[[str, bool], Any]:
        """What :func:`_texts` calls: the text erased (``apply``), or whether erasing changes it."""
        def visit(text: str, markup: bool) -> Any:
            new = self.in_text(self.in_html(text), mentioned) if markup else self.in_text(text, mentioned)
            return new if apply else new != text
        return visit


#: What a link preview (``card``) keeps when it is a preview of an erased account's own page: what privacy on lands of
#: any card.
CARD_KEPT = ("type", "provider_name")
#: The texts and links of a link preview written as plain text (its ``html``, an embed's, is HTML), where a page's
#: title, description or byline may name an account as a status's text does; those of an ``authors`` entry too.
_CARD_TEXTS = ("url", "title", "description", "author_name", "author_url", "provider_name", "provider_url",
               "image_description", "embed_url")
_CARD_AUTHOR_TEXTS = ("name", "url")


def minimised_card(card: dict[str, Any]) -> dict[str, Any]:
    """A link preview as privacy on lands it: its type and provider only (:data:`CARD_KEPT`)."""
    return {name: card.get(name) for name in CARD_KEPT if name in card}


def _texts(status: dict[str, Any], visit: Callable[[str, bool], Any]) -> bool:
    """Call ``visit(text, markup)`` on each text of ``status`` (``markup``: it is HTML, ``content`` or a link
    preview's ``html``) — its content, content warning, source text, poll options, and its link preview's texts and
    links (:data:`_CARD_TEXTS`) —, replacing the text with what it returns when that is a string; True when any
    ``visit`` returned something truthy."""
    slots: list[tuple[dict[str, Any], str, bool]] = [
        (status, name, name == "content") for name in ("content", "spoiler_text", "text")]
    poll = status.get("poll")
    if isinstance(poll, dict) and isinstance(poll.get("options"), list):
        slots += [(option, "title", False) for option in poll["options"] if isinstance(option, dict)]
    card = status.get("card")
    if isinstance(card, dict):
        slots += [(card, name, False) for name in _CARD_TEXTS] + [(card, "html", True)]
        if isinstance(card.get("authors"), list):
            slots += [(author, name, False) for author in card["authors"] if isinstance(author, dict)
                      for name in _CARD_AUTHOR_TEXTS]
    return _visit_slots(slots, visit)


def _status_accounts(data: Any) -> list[tuple[dict[str, Any], str]]:
    """(holder, field) of each account object a status record's ``data`` carries whose profile landing rewrites: the
    author of every status it carries (:func:`nested_statuses`) and each of their link previews' authors'."""
    found: list[tuple[dict[str, Any], str]] = []
    for status in nested_statuses(data):
        if isinstance(status.get("account"), dict):
            found.append((status, "account"))
        card = status.get("card")
        authors = card.get("authors") if isinstance(card, dict) else None
        found += [(author, "account") for author in (authors if isinstance(authors, list) else ())
                  if isinstance(author, dict) and isinstance(author.get("account"), dict)]
    return found


def _profile_texts(account: dict[str, Any], visit: Callable[[str, bool], Any]) -> bool:
    """Call ``visit(text, markup)`` on each text of an account object (``markup``: it is HTML) — its bio
    (``note``), display name and profile fields' names and values —, as :func:`_texts` does on a status's."""
    slots: list[tuple[dict[str, Any], str, bool]] = [(account, "note", True), (account, "display_name", False)]
    if isinstance(account.get("fields"), list):
        slots += [(each, name, name == "value") for each in account["fields"] if isinstance(each, dict)
                  for name in ("name", "value")]
    return _visit_slots(slots, visit)


def profile_texts(account: dict[str, Any]) -> list[str]:
    """The texts of an account object that :meth:`ProfileLinks.erase_profile` erases (:func:`_profile_texts`)."""
    texts: list[str] = []
    _profile_texts(account, lambda text, markup: texts.append(text))
    return texts


def _visit_slots(slots: list[tuple[dict[str, Any], str, bool]], visit: Callable[[str, bool], Any]) -> bool:
    """:func:`_texts`' and :func:`_profile_texts`' loop over (holder, field, markup)."""
    found = False
    for holder, name, markup in slots:
        if isinstance(holder.get(name), str):
            result = visit(holder[name], markup)
            if isinstance(result, str):
                holder[name] = result
            found = found or bool(result)
    return found


def written_texts(status: dict[str, Any]) -> list[str]:
    """The texts of ``status`` that :meth:`ProfileLinks.erase` erases (:func:`_texts`), as they are."""
    texts: list[str] = []
    _texts(status, lambda text, markup: texts.append(text))
    return texts


def unlink_card_author(status: dict[str, Any], is_account: Callable[[Any], bool], links: ProfileLinks | None) -> None:
    """Remove an account from the link preview (``card``) of ``status`` (in place): an entry of ``authors`` holding
    it (``is_account(author["account"])``) or its profile link (``links``) goes (as a mention does), and
    ``author_name``/``author_url`` become empty (as Mastodon writes a card without an author) when the link is its
    profile link."""
    card = status.get("card")
    if not isinstance(card, dict):
        return
    if isinstance(card.get("authors"), list):
        card["authors"] = [author for author in card["authors"] if not (isinstance(author, dict) and (
            is_account(author.get("account"))
            or (links is not None and isinstance(author.get("url"), str) and links.is_link(author["url"]))))]
    url = card.get("author_url")
    if links is not None and isinstance(url, str) and url and links.is_link(url):
        card["author_name"] = card["author_url"] = ""
