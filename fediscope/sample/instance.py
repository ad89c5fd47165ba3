"""The sample instance's data: a generated corpus indexed the way Mastodon's timelines read it.

The instance impersonates the corpus' ``home`` domain (``sample.social`` by default) federating with the
other generated instances: its *local* timeline holds statuses of its own accounts, the *federated* (public)
one everything it knows. Like Mastodon, the public and hashtag timelines show only public statuses that are
neither boosts nor replies to someone else; an account's own timeline shows its public and unlisted statuses,
boosts and replies included. The ``--grow`` mode appends new statuses while the server runs, so incremental
collection can be demonstrated; :meth:`SampleInstance.engage` changes a status's engagement counts while it runs
(as replies, boosts and favourites accrue after posting), so the collector's refresh pass can be tested.
"""

from __future__ import annotations

import json
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fediscope.sample.accounts import AccountInfo
from fediscope.sample.corpus import (
    DEFAULT_INSTANCES,
    DEFAULT_WINDOW,
    CorpusGenerator,
    bulk_allocation,
    on_public_timeline,
)
from fediscope.sample.paging import PageRequest, select
from fediscope.sample.shapes import template
from fediscope.timestamps import snowflake_ms

Status = dict[str, Any]
DAY_MS = 86_400_000


def _has_media(status: Status) -> bool:
    return bool(status["media_attachments"])


class SampleInstance:
    """A generated corpus plus the indexes the HTTP API pages through. Thread-safe for reads during growth."""

    def __init__(self, generator: CorpusGenerator, extra_peers: int = 20) -> None:
        self.generator = generator
        self.home = generator.home
        self._lock = threading.RLock()
        self.statuses: dict[int, Status] = {}
        self._order: list[int] = []
        self._public: list[int] = []
        self._by_tag: dict[str, list[int]] = defaultdict(list)
        self._by_account: dict[str, list[int]] = defaultdict(list)
        self._views: dict[tuple[Any, ...], list[int]] = {}
        self._json: dict[int, bytes] = {}
        self._derived: dict[str, Any] = {}
        self._subscribers: list[queue.Queue[Status]] = []  # the streaming connections (see subscribe)
        self.accounts: dict[str, AccountInfo] = {a.id: a for a in generator.accounts}
        self._by_acct = {self._canonical_acct(a): a for a in generator.accounts}
        self.peers = sorted({d for d in generator.instances if d != self.home}
                            | {f"peer{i}.example" for i in range(extra_peers)})
        with bulk_allocation():
            for status in generator.statuses():
                self._index(status)

    @classmethod
    def generate(cls, n_statuses: int, seed: int = 0, instances: Sequence[str] = DEFAULT_INSTANCES,
                 n_accounts: int | None = None, end: datetime | None = None,
                 window: timedelta = DEFAULT_WINDOW, home: str | None = None) -> SampleInstance:
        return cls(CorpusGenerator(n_statuses, seed, instances, n_accounts, end, window, home))

    # -- indexing ------------------------------------------------------------------------------------------
    def _canonical_acct(self, account: AccountInfo) -> str:
        return f"{account.entity['username']}@{account.domain}".lower()

    def _index(self, status: Status) -> None:
        sid = int(status["id"])
        self.statuses[sid] = status
        self._order.append(sid)
        self._by_account[status["account"]["id"]].append(sid)
        if on_public_timeline(status):
            self._public.append(sid)
            for tag in status["tags"]:
                self._by_tag[tag["name"].lower()].append(sid)

    def grow(self, count: int, at: datetime | None = None, since: datetime | None = None) -> list[Status]:
        """Add ``count`` new statuses created now (or at ``at``), or with ``since`` spread from then to that moment
        with the corpus's day/night rhythm (:meth:`~fediscope.sample.corpus.CorpusGenerator.statuses_between`);
        they page in above everything else (newer ids, in the order of their ``created_at``)."""
        moment = at or datetime.now(UTC)
        with self._lock:
            added = ([self.generator.status_at(moment) for _ in range(count)] if since is None
                     else self.generator.statuses_between(count, since, moment))
            for status in added:
                self._index(status)
            self._views.clear()
            self._derived.clear()
            for subscriber in self._subscribers:
                for status in added:
                    subscriber.put(status)
        return added

    def subscribe(self) -> queue.Queue[Status]:
        """A queue that receives every status :meth:`grow` adds from now on (a streaming connection's feed);
        give it back with :meth:`unsubscribe`."""
        feed: queue.Queue[Status] = queue.Queue()
        with self._lock:
            self._subscribers.append(feed)
        return feed

    @property
    def subscribers(self) -> int:
        """How many streaming connections are open."""
        with self._lock:
            return len(self._subscribers)

    def unsubscribe(self, feed: queue.Queue[Status]) -> None:
        with self._lock:
            if feed in self._subscribers:
                self._subscribers.remove(feed)

    def streams(self, status: Status, stream: str, tag: str | None = None) -> bool:
        """Whether a new status is sent on a stream (``public``, ``public:local``, ``hashtag``,
        ``hashtag:local``): the public timeline's statuses, only the local accounts' for ``:local``, only those
        carrying ``tag`` for the hashtag streams."""
        if not on_public_timeline(status):
            return False
        if stream.endswith(":local") and "@" in status["account"]["acct"]:
            return False
        if stream.startswith("hashtag"):
            return tag is not None and tag.lower() in {t["name"].lower() for t in status["tags"]}
        return True

    def engage(self, status_id: int | str, *, favourites: int | None = None, reblogs: int | None = None,
               replies: int | None = None) -> Status:
        """Set a status's ``favourites_count``/``reblogs_count``/``replies_count`` (None: unchanged); thread-safe.

        The status is replaced by an updated copy (the generator's objects, and so the corpus, stay as generated),
        and later answers serve the new counts. Raises KeyError for an unknown id.
        """
        sid = int(status_id)
        changes = {name: value for name, value in (("favourites_count", favourites), ("reblogs_count", reblogs),
                                                   ("replies_count", replies)) if value is not None}
        for name, value in changes.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        with self._lock:
            updated = {**self.statuses[sid], **changes}
            self.statuses[sid] = updated
            self._json.pop(sid, None)
            self._derived.clear()
        return updated

    def edit(self, status_id: int | str, content: str, at: datetime | None = None) -> Status:
        """Edit a status as its author would: new ``content`` and ``edited_at`` now (or ``at``); thread-safe.

        Like :meth:`engage`, the status is replaced by an updated copy. Raises KeyError for an unknown id.
        """
        sid = int(status_id)
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        edited_at = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # as the corpus writes it
        with self._lock:
            self.statuses[sid] = {**self.statuses[sid], "content": content, "edited_at": edited_at}
            self._json.pop(sid, None)
            self._derived.clear()
        return self.statuses[sid]

    def set_followers(self, account_id: str, followers: int) -> dict[str, Any]:
        """Give an account ``followers`` followers; thread-safe. Raises KeyError for an unknown id.

        The account's entity is changed in place, as every status of the account embeds that same object: the
        account lookup, the directory and every status served afterwards carry the new count (the generator's
        objects change, so the corpus no longer is the seed's as generated).
        """
        if not isinstance(followers, int) or isinstance(followers, bool) or followers < 0:
            raise ValueError(f"followers must be an integer >= 0, got {followers!r}")
        with self._lock:
            entity = self.accounts[account_id].entity
            entity["followers_count"] = followers
            self._json.clear()  # the statuses embedding the account
            self._derived.clear()
        return entity

    # -- lookups ---------------------------------------------------------------------------------------------
    def domain_of(self, status: Status) -> str:
        return self.accounts[status["account"]["id"]].domain

    def account(self, account_id: str) -> AccountInfo | None:
        return self.accounts.get(account_id)

    def lookup(self, acct: str) -> AccountInfo | None:
        """``user``, ``@user``, ``user@home`` or ``user@other.domain`` → the account, or None."""
        text = acct.strip().lstrip("@").lower()
        if "@" not in text:
            text = f"{text}@{self.home}"
        return self._by_acct.get(text)

    def status_json(self, sid: int) -> bytes:
        """The status as the API sends it (cached; :meth:`engage` drops the entry of the status it changes)."""
        cached = self._json.get(sid)
        if cached is None:
            with self._lock:  # a concurrent engage() must not be overwritten by JSON of the old counts
                cached = json.dumps(self.statuses[sid], ensure_ascii=False, separators=(",", ":")).encode()
                self._json[sid] = cached
        return cached

    # -- timelines -------------------------------------------------------------------------------------------
    def public_timeline_ids(self) -> list[int]:
        """Every id on the federated timeline, oldest first (a copy)."""
        with self._lock:
            return list(self._public)

    def _view(self, key: tuple[Any, ...], base: list[int], keep: Callable[[Status], bool] | None) -> list[int]:
        if keep is None:
            return base
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = [sid for sid in base if keep(self.statuses[sid])]
        return view

    def public_timeline(self, request: PageRequest, local: bool = False, remote: bool = False,
                        only_media: bool = False) -> list[int]:
        """One page of the federated timeline; ``local`` and ``remote`` together filter nothing, as Mastodon's
        ``PublicFeed`` (``local_only?`` is ``local && !remote``, ``remote_only?`` the converse) serves them."""
        if local and remote:
            local = remote = False
        home = self.home
        checks: list[Callable[[Status], bool]] = []
        if local:
            checks.append(lambda s: self.domain_of(s) == home)
        if remote:
            checks.append(lambda s: self.domain_of(s) != home)
        if only_media:
            checks.append(_has_media)
        keep = (lambda s: all(c(s) for c in checks)) if checks else None
        with self._lock:
            return select(self._view(("public", local, remote, only_media), self._public, keep), request)

    def tag_timeline(self, tag: str, request: PageRequest, local: bool = False, only_media: bool = False) -> list[int]:
        name = tag.lower()
        home = self.home
        checks: list[Callable[[Status], bool]] = []
        if local:
            checks.append(lambda s: self.domain_of(s) == home)
        if only_media:
            checks.append(_has_media)
        keep = (lambda s: all(c(s) for c in checks)) if checks else None
        with self._lock:
            base = self._by_tag.get(name, [])
            return select(self._view(("tag", name, local, only_media), base, keep), request)

    def account_timeline(self, account_id: str, request: PageRequest, *, only_media: bool = False,
                         exclude_replies: bool = False, exclude_reblogs: bool = False,
                         tagged: str | None = None) -> list[int]:
        def keep(s: Status) -> bool:
            if only_media and not s["media_attachments"]:
                return False
            if exclude_reblogs and s["reblog"] is not None:
                return False
            if exclude_replies and s["in_reply_to_id"] is not None \
                    and s["in_reply_to_account_id"] != s["account"]["id"]:
                return False
            return tagged is None or any(t["name"].lower() == tagged.lower() for t in s["tags"])

        flags = (only_media, exclude_replies, exclude_reblogs, tagged)
        with self._lock:
            base = self._by_account.get(account_id, [])
            return select(self._view(("account", account_id, *flags), base, keep if any(flags) else None), request)

    # -- instance documents ------------------------------------------------------------------------------------
    def now_ms(self) -> int:
        """The instance's clock for activity and trends: just after its newest status (so a fixed corpus
        always shows the same activity and trends, whatever the real date)."""
        return snowflake_ms(self._order[-1]) + 1 if self._order else self.generator.end_ms

    def _localise(self, document: Any) -> Any:
        text = json.dumps(document).replace("http://localhost:3000", f"https://{self.home}")
        return json.loads(text.replace("ws://localhost:4000", f"wss://{self.home}").replace("localhost:3000",
                                                                                           self.home))

    def _contact(self) -> dict[str, Any] | None:
        local = [a for a in self.accounts.values() if a.domain == self.home and a.kind == "person"]
        return max(local, key=lambda a: a.entity["followers_count"]).entity if local else None

    def _local_counts(self) -> tuple[int, int]:
        users = sum(1 for a in self.accounts.values() if a.domain == self.home)
        statuses = sum(1 for s in self.statuses.values() if self.domain_of(s) == self.home)
        return users, statuses

    def instance_v2(self) -> dict[str, Any]:
        doc = self._localise(template("instance_v2"))
        users, _ = self._local_counts()
        doc.update(domain=self.home, title=f"{self.home} (fediscope sample)",
                   description="A generated Mastodon-compatible instance serving a synthetic corpus.")
        doc["usage"] = {"users": {"active_month": users}}
        doc["contact"] = {"email": f"admin@{self.home}", "account": self._contact()}
        return doc

    def instance_v1(self) -> dict[str, Any]:
        doc = self._localise(template("instance_v1"))
        users, statuses = self._local_counts()
        doc.update(uri=self.home, title=f"{self.home} (fediscope sample)", email=f"admin@{self.home}",
                   short_description="A generated Mastodon-compatible instance.",
                   stats={"user_count": users, "status_count": statuses, "domain_count": len(self.peers)},
                   contact_account=self._contact())
        return doc

    def activity(self) -> list[dict[str, str]]:
        """Twelve windows of local activity, newest first, as Mastodon counts them: ``week`` is the answer's time
        minus 0, 7, 14, … days (Unix seconds) and each window sums the six UTC days from its ``week``'s day
        (Mastodon's ``ActivityTracker#sum`` over ``start.to_date...(start + 6.days).to_date``), so the newest is
        today so far, and the day before each window's successor is in none."""
        with self._lock:
            cached = self._derived.get("activity")
            if cached is not None:
                return cached
            now = self.now_ms()
            out = []
            local = [s for s in self.statuses.values() if self.domain_of(s) == self.home]
            for i in range(12):
                start = now - i * 7 * DAY_MS
                first = start - start % DAY_MS
                in_week = [s for s in local if first <= snowflake_ms(s["id"]) < first + 6 * DAY_MS]
                registrations = sum(1 for a in self.accounts.values() if a.domain == self.home
                                    and first <= snowflake_ms(a.id) < first + 6 * DAY_MS)
                out.append({"week": str(start // 1000), "statuses": str(len(in_week)),
                            "logins": str(len({s["account"]["id"] for s in in_week})),
                            "registrations": str(registrations)})
            self._derived["activity"] = out
            return out

    def trending_tags(self) -> list[dict[str, Any]]:
        """Hashtags ranked by accounts using them over the last two days, with seven days of history."""
        with self._lock:
            cached = self._derived.get("trends")
            if cached is not None:
                return cached
            now = self.now_ms()
            today = now - now % DAY_MS
            uses: dict[str, Counter[int]] = defaultdict(Counter)
            people: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
            for name, ids in self._by_tag.items():
                for sid in ids:
                    created = snowflake_ms(sid)
                    if created >= today - 6 * DAY_MS:
                        day = created - created % DAY_MS
                        uses[name][day] += 1
                        people[name][day].add(self.statuses[sid]["account"]["id"])
            shape = template("tag")

            def recent_accounts(name: str) -> int:
                return len(set().union(*(people[name][d] for d in (today, today - DAY_MS))))

            ranked = sorted(uses, key=lambda n: (-recent_accounts(n), -sum(uses[n].values()), n))
            out = []
            for rank, name in enumerate(ranked[:40], start=1):
                days = [today - k * DAY_MS for k in range(7)]
                history = [{"day": str(day // 1000), "accounts": str(len(people[name][day])),
                            "uses": str(uses[name][day])} for day in days]
                entity = dict.fromkeys(shape)
                entity.update(id=str(rank), name=name, url=f"https://{self.home}/tags/{name}", history=history,
                              following=False, featuring=False)
                out.append(entity)
            self._derived["trends"] = out
            return out

    def directory(self, order: str = "active", local: bool = False) -> list[dict[str, Any]]:
        accounts = [a for a in self.accounts.values() if a.entity["discoverable"] is True
                    and (not local or a.domain == self.home)]
        if order == "new":
            accounts.sort(key=lambda a: int(a.id), reverse=True)
        else:
            accounts.sort(key=lambda a: (a.entity["last_status_at"] or "", a.entity["followers_count"]),
                          reverse=True)
        return [a.entity for a in accounts]
