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

:meth:`CorpusGenerator.next_day` continues a corpus by a day of the same instance (the same accounts posting
again, a few new ones, older statuses re-fetched with more interactions or an edit): what an incremental run
over "the next day" reads. The same seed gives byte-identical output. :func:`iter_statuses` streams (millions
of statuses in constant memory); :func:`generate_corpus` keeps everything in lists;
:mod:`fediscope.sample.landing` writes JSONL files or raw lake batches directly. Generated records share their
``account`` dicts (and a reblog shares the reblogged status): treat them as read-only.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from fediscope.sample import content, vocab
from fediscope.sample.accounts import AccountInfo, build_accounts, custom_emoji
from fediscope.sample.clock import IsoFormatter, iso_date, sorted_times
from fediscope.sample.shapes import template
from fediscope.timestamps import snowflake, snowflake_ms, to_ms

DEFAULT_INSTANCES = ("sample.social", "demo.example", "fedi.example", "toot.test", "kaffee.example")
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT_WINDOW = timedelta(days=14)
_POOL_SIZE = 4000
DAY_MS = 86_400_000
#: A next day's share of re-fetched older statuses, per new status, and of those the share edited since; its new
#: accounts per new status (:meth:`CorpusGenerator.next_day`).
REFETCHED_SHARE = 0.1
REFETCHED_EDITED = 0.2
NEW_ACCOUNT_SHARE = 0.01
#: How far back a next day re-fetches statuses: those created in the last 48 hours, as a collector's refresh pass
#: with ``FEDISCOPE_REFRESH_HOURS=48`` does.
REFRESH_WINDOW_MS = 48 * 3_600_000
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
        self._finished = False
        self._days = 0  # next days generated (:meth:`next_day`)
        self._recent: list[dict[str, Any]] = []  # a sample of the latest statuses (:meth:`_offer_recent`)
        self._recent_seen = 0
        self._recent_rng = Random(f"{seed}:recent")
        self._today: NextDay | None = None

    # -- public --------------------------------------------------------------------------------------------
    def statuses(self) -> Iterator[dict[str, Any]]:
        """The ``n_statuses`` statuses of the corpus, oldest first (ids strictly increasing). Call once."""
        if self._started:
            raise RuntimeError("statuses() can be iterated once per generator")
        self._started = True
        recent_from = self.end_ms - REFRESH_WINDOW_MS
        for ms in sorted_times(Random(f"{self.seed}:times"), self.n_statuses, self.start_ms, self.end_ms):
            status = self._status(ms)
            if ms >= recent_from:
                self._offer_recent(status)
            yield status
        self._finished = True

    def _offer_recent(self, status: dict[str, Any]) -> None:
        """Keep a uniform sample (at most :data:`_POOL_SIZE`) of the original statuses of the last
        :data:`REFRESH_WINDOW_MS`, what a next day re-fetches from; a random source of its own, so the corpus is
        the same with it."""
        if status["reblog"] is not None:
            return
        self._recent_seen += 1
        if len(self._recent) < _POOL_SIZE:
            self._recent.append(status)
        else:
            slot = self._recent_rng.randrange(self._recent_seen)
            if slot < _POOL_SIZE:
                self._recent[slot] = status

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

    def next_day(self, count: int, *, refetched: float = REFETCHED_SHARE,
                 new_accounts: float = NEW_ACCOUNT_SHARE) -> NextDay:
        """The day after the corpus (after the previous next day, called again): the same instance a day on.

        ``count`` statuses posted over the day (day/night rhythm, ids above every earlier one) by the same
        accounts, chosen as in the corpus (by activity: the active ones post again), plus a few accounts that
        joined that day (``new_accounts`` per status, at least one); some of the day's statuses reply to or boost
        the corpus's. ``refetched`` per status of the statuses of the last 48 hours (:data:`REFRESH_WINDOW_MS`) are
        fetched again during the day (the collector's refresh pass) with more favourites, boosts and replies, some
        of them edited then (:data:`REFETCHED_EDITED`). Every
        account seen that day (author, re-fetched author, new account) has a new snapshot: followers moved, and one
        status more per status it posted, embedded in its statuses and listed by :attr:`NextDay.accounts`.

        The corpus's statuses are generated first when :meth:`statuses` was not iterated (without being kept), so
        ``CorpusGenerator(n, seed).next_day(k)`` gives the same day as the generator that yielded the corpus."""
        if count < 0:
            raise ValueError("count must be >= 0")
        if not 0 <= refetched <= 1 or not 0 <= new_accounts <= 1:
            raise ValueError("refetched and new_accounts must be shares from 0 to 1")
        if not self._started:
            with bulk_allocation():
                for _ in self.statuses():
                    pass
        if not self._finished or (self._today is not None and not self._today.done):
            raise RuntimeError("next_day() needs the corpus's statuses (and any earlier day) generated to the end")
        self._days += 1
        start_ms = self.end_ms
        self.end_ms = start_ms + DAY_MS
        self.end = datetime.fromtimestamp(self.end_ms / 1000, UTC)
        tag = f"{self.seed}:day{self._days}"
        rng = Random(f"{tag}:changes")
        # this day's accounts: copies (a snapshot is a new dict at each change; the corpus's stay as they were)
        self.accounts = [replace(a) for a in self.accounts]
        joined = build_accounts(Random(f"{tag}:accounts"), max(1, round(count * new_accounts)) if count else 1,
                                self.instances, self.home, self.end_ms, start_ms, existing=self.accounts,
                                joined_ms=start_ms)
        for info in joined:  # a new account: few followers yet, no status before today
            info.entity = {**info.entity, "followers_count": info.entity["followers_count"] // 50,
                           "following_count": info.entity["following_count"] // 4, "statuses_count": 0,
                           "last_status_at": None}
        self.accounts += joined
        self._author_cum = _cumulative([a.activity for a in self.accounts])
        self._mention_cum = _cumulative([math.log1p(a.entity["followers_count"]) + 0.1 for a in self.accounts])
        self._engagement.update({a.id: 0.25 * (1 + a.entity["followers_count"]) ** 0.55
                                 * (0.15 if a.kind == "bot" else 1.0) for a in joined})
        self._recent = [s for s in self._recent if snowflake_ms(s["id"]) >= start_ms - REFRESH_WINDOW_MS]
        latest = sorted(self._recent, key=lambda s: int(s["id"]))
        chosen = rng.sample(latest, min(len(latest), round(count * refetched)))
        moments = sorted(start_ms + int(rng.random() * DAY_MS) for _ in chosen)
        self._today = day = NextDay(self, start_ms, list(zip(moments, chosen, strict=True)), joined, rng)
        day.times = sorted_times(Random(f"{tag}:times"), count, start_ms, self.end_ms)
        return day

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
        if self._today is not None:
            self._today.posted(author)
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
        # by id, not identity: on a next day (:meth:`next_day`) an account's snapshot is a new dict at every post
        if parent is not None and parent[1]["id"] != acc["id"]:
            mentioned.append(parent[1])
        if random() < 0.1:
            other = self.accounts[bisect(self._mention_cum, random() * self._mention_cum[-1])].entity
            if other["id"] != acc["id"] and all(other["id"] != m["id"] for m in mentioned):
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


class NextDay:
    """A day after a corpus (:meth:`CorpusGenerator.next_day`): iterate it for ``(status, refetched_at)`` in time
    order — the day's new statuses (``refetched_at`` None) and, at their moment (Unix ms), the versions of older
    statuses fetched again; then :attr:`accounts` holds every account seen that day, as it was at the day's end."""

    def __init__(self, generator: CorpusGenerator, start_ms: int, refetches: list[tuple[int, dict[str, Any]]],
                 joined: list[AccountInfo], rng: Random) -> None:
        self.generator, self.start_ms, self.end_ms = generator, start_ms, generator.end_ms
        self.date = iso_date(start_ms)
        self.joined = joined
        self.times: Iterator[int] = iter(())
        self.done = False
        self._refetches, self._rng = refetches, rng
        self._by_id = {a.id: a for a in generator.accounts}
        self._seen: dict[str, AccountInfo] = {a.id: a for a in joined}  # new accounts: seen (listed) anyway

    @property
    def accounts(self) -> list[AccountInfo]:
        """The accounts seen so far this day (their latest snapshots), in the generator's order."""
        return [a for a in self.generator.accounts if a.id in self._seen]

    def __iter__(self) -> Iterator[tuple[dict[str, Any], int | None]]:
        if self.done or self.generator._today is not self:
            raise RuntimeError("a next day can be iterated once, before the day after it")
        pending = iter(self._refetches)
        due = next(pending, None)
        for ms in self.times:
            while due is not None and due[0] <= ms:
                yield self._refetched(*due), due[0]
                due = next(pending, None)
            status = self.generator._status(ms)
            self.generator._offer_recent(status)
            yield status, None
        while due is not None:
            yield self._refetched(*due), due[0]
            due = next(pending, None)
        self.done = True

    def see(self, info: AccountInfo) -> AccountInfo:
        """The account's snapshot of this day: at its first sight, its follower and follow counts moved."""
        if info.id not in self._seen:
            rng, entity = self._rng, info.entity
            followers = entity["followers_count"]
            info.entity = {**entity, "followers_count": max(0, followers + round(followers * rng.gauss(0.003, 0.01))
                                                             + rng.randint(-1, 3)),
                           "following_count": max(0, entity["following_count"] + rng.randint(-1, 2))}
            self._seen[info.id] = info
        return info

    def posted(self, info: AccountInfo) -> None:
        """The account posts a status: one more in its ``statuses_count``, ``last_status_at`` today (a new dict:
        the statuses posted before keep the snapshot they were fetched with)."""
        entity = self.see(info).entity
        info.entity = {**entity, "statuses_count": entity["statuses_count"] + 1, "last_status_at": self.date}

    def _refetched(self, moment: int, status: dict[str, Any]) -> dict[str, Any]:
        """``status`` fetched again at ``moment``: more interactions, sometimes edited since, its author's snapshot
        of the moment. Later boosts of it embed this version (the pool's entry is replaced)."""
        rng = self._rng
        author = self.see(self._by_id[status["account"]["id"]])
        version = dict(status)
        for name, share in (("favourites_count", 0.3), ("reblogs_count", 0.15), ("replies_count", 0.1)):
            version[name] = status[name] + int(rng.expovariate(1.0) * share * (1 + status[name]))
        version["account"] = author.entity
        if rng.random() < REFETCHED_EDITED:
            before = to_ms(datetime.fromisoformat((status["edited_at"] or status["created_at"]).replace("Z", "+00:00")))
            edited = moment - int(rng.random() * min(moment - before, 3 * 3_600_000))
            version["edited_at"] = self.generator._iso(max(edited, before + 1))
            version["content"] = status["content"].removesuffix("</p>") + " (edit: one more thing)</p>"
        pool, recent = self.generator._pool, self.generator._recent
        for i, (entry, owner) in enumerate(pool):
            if entry["id"] == status["id"]:
                pool[i] = (version, owner)
                break
        for i, entry in enumerate(recent):  # a later day re-fetches it as it is now
            if entry["id"] == status["id"]:
                recent[i] = version
                break
        return version


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
