"""A seedable generator of realistic Mastodon statuses and accounts, for the demo, tests and benchmarks.

Records are built on the shapes of real recorded API entities (``templates/``): a generated status has every
key a Mastodon 4.x public timeline returns. The corpus is realistic where analytics look:

* heavy tails — followers, activity and engagement (favourites, reblogs, replies) are log-normal mixtures;
* Zipf-like hashtags, ten languages (each instance leaning towards one), media of five types, link cards,
  polls, mentions, replies and threads, reblogs of popular statuses, edits (``edited_at``), sensitive posts
  with content warnings, bots and groups, custom and Unicode emojis, links;
* several instances (``sample.social`` … by default) and a few accounts that opted out of indexing;
* ids are Mastodon snowflakes that increase with ``created_at``; ``created_at`` follows a day/night rhythm over
  a window (default: the 14 days before :data:`DEFAULT_END`, fixed so a seed always gives the same corpus).

The same seed gives byte-identical output. :func:`iter_statuses` streams (millions of statuses in constant
memory); :func:`generate_corpus` keeps everything in lists; :mod:`fediscope.sample.landing` writes JSONL
files or raw lake batches directly. Generated records share their ``account`` dicts (and a reblog shares
the reblogged status): treat them as read-only.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from fediscope.sample import content, vocab
from fediscope.sample.accounts import AccountInfo, build_accounts, custom_emoji
from fediscope.sample.clock import IsoFormatter, sorted_times
from fediscope.sample.shapes import template
from fediscope.timestamps import snowflake, to_ms

DEFAULT_INSTANCES = ("sample.social", "demo.example", "fedi.example", "toot.test", "kaffee.example")
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT_WINDOW = timedelta(days=14)
_POOL_SIZE = 4000
_CW = ("spoilers", "food", "politics", "eye contact", "mental health", "long post", "lewd joke")

_STATUS = template("status")
#: The one ``quote_approval`` object every generated status shares (read-only; it also marks them).
QUOTE_APPROVAL = _STATUS["quote_approval"]
_BOT_APP = {"name": "rss-poster", "website": None}


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


_LANGS = list(vocab.LANGUAGES)
_LANG_CUM = _cumulative([vocab.LANGUAGES[lang][0] for lang in _LANGS])
_TAGS = list(vocab.HASHTAGS) + [w + s for w in vocab.USER_WORDS for s in vocab.TAIL_SUFFIXES]
_TAG_CUM = _cumulative([1.0 / (rank + 1) ** 1.1 for rank in range(len(_TAGS))])
_TAG_TOTAL = _TAG_CUM[-1]
_PHRASES = {lang: phrases for lang, (_, phrases) in vocab.LANGUAGES.items()}
_UNICODE, _CUSTOM, _LINKS = vocab.UNICODE_EMOJIS, vocab.CUSTOM_EMOJIS, vocab.LINK_TARGETS
_APPS = [app for app, _ in vocab.APPLICATIONS]
_APP_CUM = _cumulative([w for _, w in vocab.APPLICATIONS])


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while generating: corpus records hold no reference cycles, and
    collections triggered by millions of new dicts would otherwise cost a third of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def on_public_timeline(status: dict[str, Any]) -> bool:
    """Whether Mastodon shows a status on the public (federated/local) timelines: public visibility, not a
    boost, and not a reply to someone else (replies to oneself, i.e. threads, are shown)."""
    return (status["visibility"] == "public" and status["reblog"] is None
            and (status["in_reply_to_id"] is None
                 or status["in_reply_to_account_id"] == status["account"]["id"]))


def default_accounts(n_statuses: int, n_instances: int) -> int:
    """About one account per six statuses (bounded), as on a public timeline over two weeks."""
    return max(5 * n_instances, min(max(n_statuses, 1) // 6, 200_000))


@dataclass
class Corpus:
    """A generated corpus held in memory: accounts, and statuses sorted by id (oldest first)."""

    accounts: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    instances: tuple[str, ...]
    home: str
    start: datetime
    end: datetime
    seed: int
    domains: dict[str, str] = field(default_factory=dict)  # account id → instance domain

    def domain_of(self, account: dict[str, Any]) -> str:
        return self.domains[account["id"]]


class CorpusGenerator:
    """Builds the accounts up front, then generates statuses in time order (see :meth:`statuses`).

    ``home`` is the instance whose point of view ``acct`` is written from (default: the first instance), the
    one the sample server impersonates. After :meth:`statuses` is exhausted, :meth:`status_at` keeps producing
    newer statuses (the sample server's ``--grow`` mode).
    """

    def __init__(self, n_statuses: int, seed: int = 0, instances: Sequence[str] = DEFAULT_INSTANCES,
                 n_accounts: int | None = None, end: datetime | None = None,
                 window: timedelta = DEFAULT_WINDOW, home: str | None = None) -> None:
        if n_statuses < 0:
            raise ValueError("n_statuses must be >= 0")
        self.instances = tuple(dict.fromkeys(i.lower() for i in instances))
        if not self.instances:
            raise ValueError("at least one instance is needed")
        self.home = (home or self.instances[0]).lower()
        if self.home not in self.instances:
            raise ValueError(f"home instance {self.home!r} is not one of {self.instances}")
        self.n_statuses = n_statuses
        self.seed = seed
        self.end = (end or DEFAULT_END).astimezone(UTC)
        self.start = self.end - window
        self.end_ms, self.start_ms = to_ms(self.end), to_ms(self.start)
        if self.end_ms <= self.start_ms:
            raise ValueError("the window must be positive")
        count = n_accounts if n_accounts is not None else default_accounts(n_statuses, len(self.instances))
        self.accounts: list[AccountInfo] = build_accounts(Random(f"{seed}:accounts"), count, self.instances,
                                                          self.home, self.end_ms, self.start_ms)
        self._author_cum = _cumulative([a.activity for a in self.accounts])
        self._mention_cum = _cumulative([math.log1p(a.entity["followers_count"]) + 0.1 for a in self.accounts])
        self._engagement = {a.id: 0.25 * (1 + a.entity["followers_count"]) ** 0.55 * (0.15 if a.kind == "bot" else 1.0)
                            for a in self.accounts}
        self._rng = Random(f"{seed}:statuses")
        self._iso = IsoFormatter()
        self._last_id = 0
        self._pool: list[tuple[dict[str, Any], AccountInfo]] = []
        self._pool_next = 0
        self._last_by_author: dict[str, str] = {}  # account id → id of its latest status (for threads)
        self._counter = 0
        self._started = False

    # -- public --------------------------------------------------------------------------------------------
    def statuses(self) -> Iterator[dict[str, Any]]:
        """The ``n_statuses`` statuses of the corpus, oldest first (ids strictly increasing). Call once."""
        if self._started:
            raise RuntimeError("statuses() can be iterated once per generator")
        self._started = True
        for ms in sorted_times(Random(f"{self.seed}:times"), self.n_statuses, self.start_ms, self.end_ms):
            yield self._status(ms)

    def status_at(self, moment: datetime) -> dict[str, Any]:
        """One more status created at ``moment`` (or just after the newest one, if that is later)."""
        return self._status(max(to_ms(moment), (self._last_id >> 16) + 1))

    def statuses_between(self, count: int, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """``count`` more statuses created from ``since`` to ``until`` (from just after the newest one, if that is
        later), oldest first, drawn with the corpus's day/night rhythm (:func:`sorted_times`) rather than all at
        one moment: their ids increase with ``created_at`` and are above every id before. The times have a random
        source of their own, so the statuses (authors, content) are those :meth:`status_at` would have made."""
        start = max(to_ms(since), (self._last_id >> 16) + 1)
        times = sorted_times(Random(f"{self.seed}:grown:{start}"), count, start, max(to_ms(until), start + 1))
        return [self._status(ms) for ms in times]

    def account_entities(self) -> list[dict[str, Any]]:
        return [a.entity for a in self.accounts]

    # -- one status ------------------------------------------------------------------------------------------
    def _pick_author(self) -> AccountInfo:
        return self.accounts[bisect(self._author_cum, self._rng.random() * self._author_cum[-1])]

    def _pick_popular(self) -> tuple[dict[str, Any], AccountInfo]:
        """Two random recent statuses, keep the more engaging one: boosts and replies favour popular posts."""
        a = self._pool[int(self._rng.random() * len(self._pool))]
        b = self._pool[int(self._rng.random() * len(self._pool))]
        return a if a[0]["favourites_count"] >= b[0]["favourites_count"] else b

    def _next_id(self, ms: int) -> int:
        new = max(snowflake(ms, self._rng.getrandbits(12)), self._last_id + 1)
        self._last_id = new
        return new

    def _status(self, ms: int) -> dict[str, Any]:
        rng = self._rng
        author = self._pick_author()
        sid = self._next_id(ms)
        roll = rng.random()
        reblog_p = 0.55 if author.kind == "group" else 0.0 if author.kind == "bot" else 0.11
        if self._pool and roll < reblog_p:
            return self._reblog(sid, ms, author)
        parent = None
        if self._pool and author.kind != "bot" and roll < reblog_p + 0.16:
            own = self._last_by_author.get(author.id)
            if own is not None and rng.random() < 0.25:
                parent = (own, author.entity)
            else:
                popular = self._pick_popular()[0]
                parent = (popular["id"], popular["account"])
        status = self._original(sid, ms, author, parent)
        self._remember(status, author)
        return status

    def _remember(self, status: dict[str, Any], author: AccountInfo) -> None:
        if len(self._pool) < _POOL_SIZE:
            self._pool.append((status, author))
        else:
            self._pool[self._pool_next] = (status, author)
            self._pool_next = (self._pool_next + 1) % _POOL_SIZE
        self._last_by_author[author.id] = status["id"]

    def _reblog(self, sid: int, ms: int, author: AccountInfo) -> dict[str, Any]:
        original, _ = self._pick_popular()
        acc = author.entity
        uri = f"https://{author.domain}/users/{acc['username']}/statuses/{sid}/activity"
        return {
            "id": str(sid), "created_at": self._iso(ms), "in_reply_to_id": None, "in_reply_to_account_id": None,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": None, "uri": uri,
            "url": uri, "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "quotes_count": 0,
            "edited_at": None, "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "pinned": False, "content": "", "filtered": [], "reblog": original, "application": None,
            "account": acc, "media_attachments": [], "mentions": [], "tags": [], "emojis": [],
            "tagged_collections": [], "quote": None, "card": None, "poll": None,
            "quote_approval": QUOTE_APPROVAL,
        }

    def _original(self, sid: int, ms: int, author: AccountInfo,
                  parent: tuple[str, dict[str, Any]] | None) -> dict[str, Any]:
        """An original status or, with ``parent`` (its id and its author's account), a reply."""
        rng = self._rng
        random = rng.random
        expo = rng.expovariate
        acc = author.entity
        bot = author.kind == "bot"
        language = author.language if random() < 0.85 else _LANGS[bisect(_LANG_CUM, random() * _LANG_CUM[-1])]
        phrases = _PHRASES[language]
        mentioned: list[dict[str, Any]] = []
        if parent is not None and parent[1] is not acc:
            mentioned.append(parent[1])
        if random() < 0.1:
            other = self.accounts[bisect(self._mention_cum, random() * self._mention_cum[-1])].entity
            if other is not acc and all(other is not m for m in mentioned):
                mentioned.append(other)
        parts = [content.mention_html(m) for m in mentioned] if mentioned else []
        parts.append(phrases[int(random() * len(phrases))])
        if random() < 0.35:
            parts.append(phrases[int(random() * len(phrases))])
        emojis: list[dict[str, Any]] = []
        if random() < 0.2:
            parts.append(_UNICODE[int(random() * len(_UNICODE))])
        if random() < 0.06:
            code = _CUSTOM[int(random() * len(_CUSTOM))]
            parts.append(f":{code}:")
            emojis.append(custom_emoji(code, author.domain))
        link = None
        if random() < (0.6 if bot else 0.12):
            link = f"{_LINKS[int(random() * len(_LINKS))]}{rng.getrandbits(24)}"
            parts.append(content.link_html(link))
        tags: list[str] = []
        roll = random()
        if roll >= 0.55:
            count = 1 if roll < 0.8 else 2 if roll < 0.92 else 3 if roll < 0.97 else 4
            for _ in range(count):
                tag = _TAGS[bisect(_TAG_CUM, random() * _TAG_TOTAL)]
                if tag not in tags:
                    tags.append(tag)
                    parts.append(content.hashtag_html(tag, author.domain))

        lam = self._engagement[author.id] * math.exp(rng.gauss(0.0, 1.0))
        media: list[dict[str, Any]] = []
        if random() < (0.05 if bot else 0.2):
            lam *= 1.4
            count = 1 if random() < 0.7 else 2 + int(random() * 3)
            media = [content.media_attachment(rng, author, str(snowflake(ms, rng.getrandbits(16))), self.home)
                     for _ in range(count)]
        if parent is not None:
            lam *= 0.3
        favourites = int(lam * expo(1.0))
        sensitive = random() < 0.04
        edited_ms = ms + int(expo(1 / 900_000)) if random() < 0.06 else None
        if edited_ms is not None and edited_ms >= max(self.end_ms, ms + 1):
            edited_ms = None
        text = " ".join(parts)
        if edited_ms is not None:
            text += " (edit: fixed a typo)"
        self._counter += 1
        username = acc["username"]
        domain = author.domain
        home = self.home
        public = (parent is None or random() < 0.7) and random() < 0.88
        return {
            "id": str(sid), "created_at": self._iso(ms),
            "in_reply_to_id": parent[0] if parent else None,
            "in_reply_to_account_id": parent[1]["id"] if parent else None,
            "sensitive": sensitive,
            "spoiler_text": _CW[int(random() * len(_CW))] if sensitive and random() < 0.7 else "",
            "visibility": "public" if public else "unlisted",
            "language": language,
            "uri": f"https://{domain}/users/{username}/statuses/{sid}",
            "url": f"https://{domain}/@{username}/{sid}",
            "replies_count": int(lam * 0.12 * expo(1.0)),
            "reblogs_count": int(lam * 0.22 * expo(1.0)),
            "favourites_count": favourites,
            "quotes_count": int(lam * 0.01 * expo(1.0)),
            "edited_at": self._iso(edited_ms) if edited_ms is not None else None,
            "favourited": False, "reblogged": False, "muted": False, "bookmarked": False, "pinned": False,
            "content": f"<p>{text}</p>", "filtered": [], "reblog": None,
            "application": _BOT_APP if bot else _APPS[bisect(_APP_CUM, random() * _APP_CUM[-1])],
            "account": acc,
            "media_attachments": media,
            "mentions": [content.mention_entity(m) for m in mentioned] if mentioned else [],
            "tags": [{"name": t, "url": f"https://{home}/tags/{t}"} for t in tags] if tags else [],
            "emojis": emojis,
            "tagged_collections": [], "quote": None,
            "card": content.link_card(rng, link, language) if link and random() < 0.7 else None,
            "poll": (content.poll(rng, self._counter, ms, self.end_ms, self._iso, favourites)
                     if not media and random() < (0.1 if bot else 0.02) else None),
            "quote_approval": QUOTE_APPROVAL,
        }


def iter_statuses(n_statuses: int, seed: int = 0, instances: Sequence[str] = DEFAULT_INSTANCES,
                  n_accounts: int | None = None, end: datetime | None = None,
                  window: timedelta = DEFAULT_WINDOW, home: str | None = None) -> Iterator[dict[str, Any]]:
    """Stream ``n_statuses`` generated statuses, oldest first, in constant memory."""
    generator = CorpusGenerator(n_statuses, seed, instances, n_accounts, end, window, home)
    return generator.statuses()


def generate_corpus(n_statuses: int, seed: int = 0, instances: Sequence[str] = DEFAULT_INSTANCES,
                    n_accounts: int | None = None, end: datetime | None = None,
                    window: timedelta = DEFAULT_WINDOW, home: str | None = None) -> Corpus:
    """The whole corpus in memory: accounts and statuses (sorted by id, oldest first)."""
    generator = CorpusGenerator(n_statuses, seed, instances, n_accounts, end, window, home)
    with bulk_allocation():
        statuses = list(generator.statuses())
    return Corpus(accounts=generator.account_entities(), statuses=statuses, instances=generator.instances,
                  home=generator.home, start=generator.start, end=generator.end, seed=seed,
                  domains={a.id: a.domain for a in generator.accounts})


def __getattr__(name: str) -> Any:
    """``write_raw_lake`` and ``write_jsonl`` live in :mod:`fediscope.sample.landing` (lake I/O kept apart)."""
    if name in {"write_raw_lake", "write_jsonl", "LandingSummary"}:
        from fediscope.sample import landing

        return getattr(landing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
