"""What can be collected: the source kinds, how they are named on the command line, and where they land.

A source is written ``public``, ``local``, ``tag:NAME``, ``account:ACCT`` (``user`` or ``user@domain``),
``instance``, ``instance_activity``, ``instance_peers``, ``trends_tags``, ``directory`` or
``account_lookup:ACCT`` (:data:`SOURCES_HELP`, shown by the CLI and in errors). Paged sources (the timelines)
walk Link-header pages down to a checkpoint. The others are snapshots, taken anew each run without a checkpoint:
fetched whole, except the directory and the trending tags, which Mastodon pages by ``offset``: they are walked page
by page within the run's page budget (:data:`OFFSET_PAGED`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from fediscope.errors import ConfigError

#: Where Unicode puts combining marks: the Basic and Supplementary Multilingual Planes and the variation selectors
#: of plane 14 (the other planes hold ideographs and private use only), scanned by :func:`tag_re` alone.
_MARK_PLANES = (range(0x20000), range(0xE0000, 0xE1000))


@cache
def tag_re() -> re.Pattern[str]:
    """Mastodon's hashtag charset (no '#'): its ``[[:word:]]`` — letters, combining marks, digits, connector
    punctuation — and the middle dot family, 1 to 100 characters. Python's ``\\w`` lacks the marks (categories Mn,
    Mc, Me) that Indic and other scripts write their vowels with (हिन्दी, தமிழ், বাংলা), which Mastodon takes; they
    are added as ranges. Built at the first use, not at import: the scan takes tens of milliseconds."""
    ranges: list[list[int]] = []
    for plane in _MARK_PLANES:
        for code in plane:
            if unicodedata.category(chr(code))[0] == "M":
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
    marks = "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)
    return re.compile(rf"^[\w\u00b7\u30fb\u200c{marks}]{{1,100}}$")


#: An account: a local user name as Mastodon allows it (letters, digits, ``_``; at most 30), or a remote one
#: (``user@domain``) as Mastodon's ``USERNAME_RE`` takes it from other servers: also ``.`` and ``-`` inside
#: (``john.doe@pleroma.example``), at most 64 characters here.
ACCT_RE = re.compile(r"^@?(?:[A-Za-z0-9_]{1,30}|[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,62}[A-Za-z0-9_])?(?=@))"
                     r"(@[A-Za-z0-9.\-]+(:[0-9]{1,5})?)?$")

#: kind → (lake entity, paged by id with Link headers and a checkpoint?)
KINDS: dict[str, tuple[str, bool]] = {
    "public": ("statuses", True),
    "local": ("statuses", True),
    "tag": ("statuses", True),
    "account": ("statuses", True),
    "instance": ("instance", False),
    "instance_activity": ("instance_activity", False),
    "instance_peers": ("instance_peers", False),
    "trends_tags": ("trends_tags", False),
    "directory": ("directory", False),
    "account_lookup": ("accounts", False),
}

class OffsetWalk(NamedTuple):
    """How the walk of a source paged by offset is named when the page budget cuts it short."""

    walk: str  # "the directory walk stopped …"
    items: str  # "… more accounts listed"
    more: str  # the progress line's "(more accounts in the directory: raise --max-pages)"


#: Snapshot kinds Mastodon pages by ``offset`` (how many items to skip) and ``limit``: the directory without a
#: ``Link`` header, the trending tags (Mastodon 3.5 and later) with one whose ``rel="next"`` gives the next offset.
OFFSET_PAGED: dict[str, OffsetWalk] = {
    "directory": OffsetWalk("directory", "accounts", "more accounts in the directory"),
    "trends_tags": OffsetWalk("trending tags", "tags", "more trending tags"),
}

#: kind → how its argument is written (kinds without one take none)
ARGUMENTS = {"tag": "NAME", "account": "ACCT", "account_lookup": "ACCT"}
#: Every way to write a source, for help texts and error messages.
SOURCES_HELP = ", ".join(f"{kind}:{ARGUMENTS[kind]}" if kind in ARGUMENTS else kind for kind in KINDS)


@dataclass(frozen=True)
class SourceRef:
    """One parsed source: ``kind`` plus its argument (tag name or account), e.g. ``tag:python``."""

    kind: str
    arg: str | None = None
    #: how the source was written when that is another spelling of it (``account:alice@mastodon.social`` on
    #: mastodon.social, :func:`fediscope.sources.spellings.on_instance`): what the summary's ``--json`` names it by
    written: str | None = field(default=None, compare=False, repr=False)

    @property
    def entity(self) -> str:
        return KINDS[self.kind][0]

    @property
    def paged(self) -> bool:
        return KINDS[self.kind][1]

    @property
    def offset_paged(self) -> bool:
        """A snapshot walked by ``offset`` pages (:data:`OFFSET_PAGED`), not fetched in one answer."""
        return self.kind in OFFSET_PAGED

    @property
    def offset_walk(self) -> OffsetWalk | None:
        """How this source's offset walk is named (None: it has none)."""
        return OFFSET_PAGED.get(self.kind)

    @property
    def name(self) -> str:
        """The canonical text form, also the checkpoint name."""
        return f"{self.kind}:{self.arg}" if self.arg is not None else self.kind

    @property
    def names_an_account(self) -> bool:
        """Whether the source's argument is an account (``account:ACCT``, ``account_lookup:ACCT``), so that an
        instance's "not found" means that account, not a missing endpoint."""
        return ARGUMENTS.get(self.kind) == "ACCT"

    def not_found_on(self, domain: str) -> str:
        """``account alice was not found on mastodon.social``: how the collector and the scraping API say that the
        instance answered "not found" (HTTP 404/410) for a source naming an account (:attr:`names_an_account`), by
        its handle as written (:attr:`written`: ``account Alice`` of ``account:Alice``, asked for as ``alice``)."""
        handle = self.written.partition(":")[2] if self.written else self.arg
        what = f"account {handle}" if self.names_an_account else self.name
        return f"{what} was not found on {domain}"

    def __str__(self) -> str:
        return self.name


def did_you_mean(text: str, kinds: Iterable[str] = KINDS) -> str:
    """`` (did you mean 'public'?)`` for a source whose kind is a slip away from one of ``kinds`` (``publc``,
    ``tags:python`` → ``tag:python``), the argument kept where the kind takes one; else nothing."""
    kind, _, arg = text.strip().partition(":")
    close = difflib.get_close_matches(kind.lower(), list(kinds), n=1, cutoff=0.6)
    if not close:
        return ""
    meant = close[0]
    if meant in ARGUMENTS:
        meant += f":{arg or ARGUMENTS[meant]}"
    return f" (did you mean {meant!r}?)"


def parse_source(text: str) -> SourceRef:
    """Parse ``public`` / ``local`` / ``tag:NAME`` / ``account:ACCT`` / ``instance`` …; ConfigError if invalid."""
    raw = text.strip()
    kind, _, arg = raw.partition(":")
    kind = kind.lower()
    if kind not in KINDS:
        raise ConfigError(f"unknown source {text!r}{did_you_mean(raw)}; expected one of {SOURCES_HELP}")
    if kind == "tag":
        tag = arg.lstrip("#")
        if not tag_re().fullmatch(tag):
            raise ConfigError(f"invalid hashtag in {text!r}: use letters, digits and underscores, e.g. tag:python")
        return SourceRef("tag", tag.lower())
    if ARGUMENTS.get(kind) == "ACCT":
        if not ACCT_RE.fullmatch(arg):
            raise ConfigError(f"invalid account in {text!r}: use account:user or account:user@domain")
        return SourceRef(kind, arg.lstrip("@"))
    if arg:
        raise ConfigError(f"source {kind!r} takes no argument (got {text!r})")
    return SourceRef(kind)
