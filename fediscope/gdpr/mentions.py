"""The erased account's mentions and profile links in other people's texts, in a lake landed with privacy off.

With privacy on, landing writes every mention and profile link of an account as the account's pseudonym
(``<a href="acct:<key>" class="u-url mention">@<span><key></span></a>``), which the erasure finds as a word and
replaces by :data:`~fediscope.privacy.ERASED`. With privacy off the texts are as collected: a mention is Mastodon's
``<a href="https://host/@name" class="u-url mention">@<span>name</span></a>``, which holds neither ``name@domain``
nor a link of one of the account's statuses, the traces the erasure replaces in a text
(:meth:`~fediscope.gdpr.subject.Traces.values`), so the name and the profile link stayed in other people's texts.

:class:`ProfileLinks` finds them: an anchor (``<a href>``) whose link is one of the account's profile links becomes
what landing with privacy on makes of an erased account's (``<a href="[erased]" …>@<span>[erased]</span></a>``;
a text shown that does not start with ``@``, such as a link's own address, becomes ``[erased]``), its other
attributes kept, so the HTML stays well-formed; a profile link written elsewhere (the plain ``spoiler_text``, a
poll option, an attribute) becomes ``[erased]``, and so does its handle, ``name@domain`` in any case (the
erasure's search of the key finds it in the key's own case), or ``@name`` alone in a status that mentions it.
The account's profile links are, matched in any ASCII case and ``http`` as ``https``, as landing matches them:

- on each of its hosts (the domain of its key, the hosts of the links below): ``/@name`` (also ``/%40name``) and
  ``/users/name`` (the ActivityPub actor), and anything under them (a status's path);
- on any host, ``/@name@domain`` (the account seen from another server);
- ``/ap/users/<id>`` of the account's ids on the instances that served them (Mastodon 4.5's numeric actor);
- exactly, the ``url`` and ``uri`` the lake's records give the account or a mention of it, whatever their shape
  (other servers': ``/u/name``, ``/profile/name``), found by the first pass
  (:attr:`~fediscope.gdpr.subject.Traces.profile_links`).

A card's author (``author_name``/``author_url``, an entry of ``authors`` with the account or its profile link) is
removed as a mention is (:func:`unlink_card_author`): the card stays, without the person.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable
from typing import Any

from fediscope.gdpr.subject import ERASED, Traces, account_key_of, nested_statuses
from fediscope.privacy import LINK_ANCHOR_RE

_TAG_RE = re.compile(r"<[^>]+>")
#: A link's next characters that continue the name it ends with (``…/@bob`` of ``…/@bobby`` or ``…/@bob.b``), as
#: landing reads them.
_NAME_GOES_ON = r"(?![A-Za-z0-9_@]|[.\-][A-Za-z0-9_])"
#: What may follow a profile link and be erased with it (a status's path, a query), not a closing punctuation mark.
_UNDER = r"""(?:[/?#](?:[^\s"'<>]*[^\s"'<>.,;:!?)\]])?)?"""
#: What a link cannot go on with, for a link known exactly (:attr:`ProfileLinks` ``exact``).
_LINK_ENDS = r"""/?(?![^\s"'<>.,;:!?)\]]|[.,;:!?)\]][^\s"'<>.,;:!?)\]])"""
_HOST_RE = re.compile(r"(?i:https?)://([^/?#\s\"'<>]+)")


class ProfileLinks:
    """The profile links of one account of a lake landed with privacy off (module docstring), to erase from the texts
    of other people's statuses."""

    def __init__(self, traces: Traces) -> None:
        user, _, domain = traces.key.rpartition("@")
        collected = sorted(link for link in traces.profile_links if _HOST_RE.match(link))
        hosts = {domain, *(match.group(1).lower() for link in collected if (match := _HOST_RE.match(link)))}
        name = re.escape(user)
        own = "|".join(re.escape(host) for host in sorted(hosts))
        forms = [rf"(?:{own})/(?:(?:@|%40){name}|users/{name})",
                 rf"""[^/?#\s"'<>]+/(?:@|%40){name}@{re.escape(domain)}"""]
        forms += [rf"{re.escape(instance)}/ap/users/{re.escape(account_id)}"
                  for instance, _, account_id in sorted(each.partition("/") for each in traces.ids)]
        derived = rf"https?://(?:{'|'.join(forms)}){_NAME_GOES_ON}{_UNDER}"
        exact = [rf"https?://{re.escape(link.split('://', 1)[1].rstrip('/'))}{_LINK_ENDS}"
                 for link in collected]
        self._pattern = re.compile("|".join([derived, *exact]), re.IGNORECASE)
        self._key = traces.key
        #: ``@name`` alone, a handle of the account in a status that mentions it (``text``, Mastodon's source of the
        #: ``content``, says ``@name same!``), not inside a link, another handle (``@name@other.social``) or name
        self._handle = re.compile(rf"(?<![\w/=@.%+-])@{name}{_NAME_GOES_ON}", re.IGNORECASE)
        #: ``name@domain`` in another case than the key's (``@Alice@Example.social``), which the erasure's search of
        #: the key, a word in its own case (:func:`~fediscope.gdpr.subject.scrub`), does not find
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
            before, href, after, inner = match.groups()
            if not self.is_link(html.unescape(href)):
                return match.group(0)
            shown = f"@<span>{ERASED}</span>" if _TAG_RE.sub("", inner).startswith("@") else ERASED
            return f'<a {before}href="{ERASED}"{after}>{shown}</a>'

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

    def mentioned(self, data: Any, instance: str) -> list[bool]:
        """For each status a raw status record's ``data`` carries (:func:`~fediscope.gdpr.subject.nested_statuses`),
        whether its ``mentions`` name the account. Asked before the erasure drops them."""
        return [any(account_key_of(m, instance) == self._key for m in status.get("mentions") or [])
                if isinstance(status.get("mentions"), list) else False for status in nested_statuses(data)]

    def erase(self, data: Any, mentioned: list[bool] | None = None) -> Any:
        """A raw status record's ``data`` with the account's mentions and profile links erased from the texts of
        every status it carries (the status, a reblogged and a quoted one: ``content``, ``spoiler_text``, ``text``,
        the poll's options), and its handle written alone in those that mention it (``mentioned``, by
        :meth:`mentioned`): a copy when any changes, else ``data`` itself."""
        flags = [*(mentioned or []), *[False] * len(list(nested_statuses(data)))]
        if not any(_texts(status, self._visit(flag, apply=False)) for status, flag in zip(
                nested_statuses(data), flags, strict=False)):
            return data
        out = copy.deepcopy(data)
        for status, flag in zip(nested_statuses(out), flags, strict=False):
            _texts(status, self._visit(flag, apply=True))
        return out

    def _visit(self, mentioned: bool, apply: bool) -> Callable[[str, bool], Any]:
        """What :func:`_texts` calls: the text erased (``apply``), or whether erasing changes it."""
        def visit(text: str, markup: bool) -> Any:
            new = self.in_text(self.in_html(text), mentioned) if markup else self.in_text(text, mentioned)
            return new if apply else new != text
        return visit


def _texts(status: dict[str, Any], visit: Callable[[str, bool], Any]) -> bool:
    """Call ``visit(text, markup)`` on each text of ``status`` (``markup``: it is ``content``, HTML), replacing the
    text with what it returns when that is a string; True when any ``visit`` returned something truthy."""
    slots: list[tuple[dict[str, Any], str, bool]] = [
        (status, name, name == "content") for name in ("content", "spoiler_text", "text")]
    poll = status.get("poll")
    if isinstance(poll, dict) and isinstance(poll.get("options"), list):
        slots += [(option, "title", False) for option in poll["options"] if isinstance(option, dict)]
    found = False
    for holder, name, markup in slots:
        if isinstance(holder.get(name), str):
            result = visit(holder[name], markup)
            if isinstance(result, str):
                holder[name] = result
            found = found or bool(result)
    return found


def unlink_card_author(status: dict[str, Any], instance: str, traces: Traces, links: ProfileLinks | None) -> None:
    """Remove the account from the link preview (``card``) of ``status`` (in place): an entry of ``authors`` holding
    its account or its profile link goes (as a mention does), and ``author_name``/``author_url`` become empty (as
    Mastodon writes a card without an author) when the link is its profile link."""
    card = status.get("card")
    if not isinstance(card, dict):
        return
    if isinstance(card.get("authors"), list):
        card["authors"] = [author for author in card["authors"] if not (isinstance(author, dict) and (
            account_key_of(author.get("account"), instance) == traces.key
            or (links is not None and isinstance(author.get("url"), str) and links.is_link(author["url"]))))]
    url = card.get("author_url")
    if links is not None and isinstance(url, str) and url and links.is_link(url):
        card["author_name"] = card["author_url"] = ""
