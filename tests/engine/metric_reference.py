"""An independent, plain-Python implementation of curation and of every metric, for the engine tests.

It reads the raw lake records directly and applies the documented rules (fediscope.engine.curate_sql and the
comments of each spark_jobs/sql/*.sql file) with ordinary Python — html.parser for links, a scan for
emojis, dicts for grouping — so a test comparing it with the engines' SQL compares two implementations, not
one implementation with itself.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from fediscope.engine import curate_sql
from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.privacy import status_origin


def _code_points(ranges: tuple[tuple[int, int], ...]) -> frozenset[str]:
    return frozenset(chr(cp) for first, last in ranges for cp in range(first, last + 1))


_PRESENTATION, _TEXT = _code_points(curate_sql.EMOJI_PRESENTATION), _code_points(curate_sql.EMOJI_TEXT)
_INDICATOR, _MODIFIER = _code_points(curate_sql.REGIONAL_INDICATORS), _code_points(curate_sql.EMOJI_MODIFIERS)
_VS16, _ZWJ, _KEYCAP = "\ufe0f", "\u200d", "\u20e3"


def _emoji_end(text: str, i: int) -> int | None:
    """Where the emoji that starts at ``text[i]`` ends (a flag, a keycap, an emoji with its skin tone or VS16), or
    None when none starts there."""
    at = text[i:i + 1]
    after = text[i + 1:i + 2]
    if at in _INDICATOR:
        return i + 2 if after and after in _INDICATOR else None
    if at and at in "#*0123456789":
        j = i + 2 if after == _VS16 else i + 1
        return j + 1 if text[j:j + 1] == _KEYCAP else None
    if at in _PRESENTATION:
        return i + 2 if after and (after in _MODIFIER or after == _VS16) else i + 1
    if at in _TEXT:
        return i + 2 if after and (after in _MODIFIER or after == _VS16) else None
    return None


def emoji_count(text: str) -> int:
    """Emoji sequences in ``text`` (UTS #51; the rules of ``curate_sql.emoji_pattern``), found by a scan from left
    to right: an emoji and the emojis a ZWJ joins to it count one."""
    count, i = 0, 0
    while i < len(text):
        end = _emoji_end(text, i)
        if end is None:
            i += 1
            continue
        while text[end:end + 1] == _ZWJ and (joined := _emoji_end(text, end + 1)) is not None:
            end = joined
        count, i = count + 1, end
    return count


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and is_link(dict(attrs)):
            self.links += 1


def is_link(attrs: dict[str, str | None]) -> bool:
    """An anchor is a link unless its class has a ``mention`` or ``hashtag`` token or its rel a ``tag`` token."""
    classes, rel = (attrs.get("class") or "").split(), (attrs.get("rel") or "").split()
    return not ({"mention", "hashtag"} & set(classes) or "tag" in rel)


def links(content: str) -> int:
    parser = _Links()
    parser.feed(content)
    return parser.links


def text_length(content: str) -> int:
    return len(html.unescape(visible_text(content)))


def authored_length(status: dict[str, Any], content: str) -> int:
    """The length of the text as its author wrote it: what the privacy policy recorded when it replaced handles and
    links by pseudonyms of other lengths (``authored_length``), else the text's own length."""
    recorded = status.get("authored_length")
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded >= 0:
        return recorded
    return text_length(content)


_WHITE_SPACE = _code_points(curate_sql.WHITE_SPACE)


def content_warning_length(status: dict[str, Any]) -> int | None:
    """The length of the content warning as its author wrote it (recorded by the privacy policy when it rewrote it,
    ``authored_spoiler_length``), None without one: no ``spoiler_text``, or only Unicode White_Space."""
    spoiler = status.get("spoiler_text")
    if not isinstance(spoiler, str) or all(c in _WHITE_SPACE for c in spoiler):
        return None
    recorded = status.get("authored_spoiler_length")
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded >= 0:
        return recorded
    return len(spoiler)


def visible_text(content: str) -> str:
    """``content`` without its HTML tags (character references left as they are)."""
    return re.sub(r"<[^>]*>", "", content)


def authored(content: str) -> str:
    """``content`` without the paragraph Mastodon puts first in a quote post for clients that show no quotes
    (``<p class="quote-inline">RE: <a …>…</a></p>``), nor the element of that class other servers put last
    (``<span class="quote-inline">…RE: <a …>…</a></span>`` before the last ``</p>``, or a last paragraph): a link to
    the quoted status, not the author's."""
    if content.startswith('<p class="quote-inline">') and "</p>" in content:
        content = content.split("</p>", 1)[1]
    for opening, ends in (('<span class="quote-inline">', ("</span>", "</span></p>")),
                          ('<p class="quote-inline">', ("</p>",))):
        last = content.rfind(opening)
        if last >= 0 and content.endswith(ends) and content.count("</a>", last) == 1:
            return content[:last]
    return content


def ts(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


#: How far after the fetch that saw it a time may lie (a remote clock running fast); later is impossible.
CLOCK_SKEW = timedelta(hours=1)


def after_fetch(moment: datetime | None, fetched: datetime | None) -> bool:
    """A time later than its fetch allows (never, when either is unknown)."""
    return moment is not None and fetched is not None and moment > fetched + CLOCK_SKEW


def account_key(account: dict[str, Any], instance: str) -> str:
    acct = account.get("acct") or account.get("username")
    if account.get("domain") is not None:
        return acct
    return acct.lower() if "@" in acct else f"{acct}@{instance}".lower()


def home(account: dict[str, Any], instance: str) -> str:
    if account.get("domain") is not None:
        return account["domain"]
    acct = account.get("acct") or account.get("username")
    return acct.rsplit("@", 1)[1].lower() if "@" in acct else instance.lower()


def raw_records(lake: LakeBackend, entity: str) -> list[dict[str, Any]]:
    return [r for path in raw_batch_files(lake, entity) for r in read_batch(lake, path)]


# -- curation ----------------------------------------------------------------------------------------------
def is_public(s: Any) -> bool:
    """A status (or None: none) whose visibility is public data, as landing judges it."""
    from fediscope.privacy import PUBLIC_VISIBILITIES

    return not isinstance(s, dict) or s.get("visibility") in PUBLIC_VISIBILITIES


def version_is_public(s: dict[str, Any]) -> bool:
    """A version curation keeps when it wins: public, and a boost only of a public status."""
    return is_public(s) and is_public(s.get("reblog"))


def status_row(s: dict[str, Any], meta: dict[str, Any], wrapper_of: str | None) -> dict[str, Any]:
    content = authored(s.get("content") or "")
    media = Counter(m.get("type") for m in s.get("media_attachments") or [])
    share = wrapper_of is not None
    created = ts(s["created_at"])
    instance = meta["instance"]
    mentions = set()
    for m in s.get("mentions") or []:
        acct = m.get("acct") or ""
        mentions.add(acct if str(m.get("url", "")).startswith("acct:")
                      else (acct.lower() if "@" in acct else f"{acct}@{instance}".lower()))
    return {
        "uri": s["uri"], "status_id": s.get("id"), "account_key": account_key(s["account"], instance),
        "instance": home(s["account"], instance), "fetched_from": instance.lower(), "created_at": created,
        "dt": created.date(), "language": s.get("language"), "visibility": s.get("visibility"),
        "public": version_is_public(s),
        "replies_count": 0 if share else s.get("replies_count") or 0,
        "reblogs_count": 0 if share else s.get("reblogs_count") or 0,
        "favourites_count": 0 if share else s.get("favourites_count") or 0,
        "url_count": links(content), "custom_emoji_count": len(s.get("emojis") or []),
        "unicode_emoji_count": emoji_count(visible_text(content)),
        "media_count": sum(media.values()), "image_count": media["image"], "video_count": media["video"],
        "gifv_count": media["gifv"], "audio_count": media["audio"],
        "hashtags": sorted({t["name"].lower() for t in s.get("tags") or [] if t.get("name") and len(t["name"]) <= 255}),
        "mentions": sorted(mentions), "is_reply": s.get("in_reply_to_id") is not None,
        "in_reply_to_id": s.get("in_reply_to_id"), "is_reblog": share, "reblog_of_uri": wrapper_of,
        "edited_at": ts(s.get("edited_at")), "content_length": authored_length(s, content),
        "fetched_at": ts(meta["fetched_at"]), "deleted": bool(s.get("deleted")), "origin_ref": origin_ref(s),
        "quoted_account_key": quoted_account_key(s, instance), "sensitive": s.get("sensitive"),
        "has_content_warning": content_warning_length(s) is not None,
        "content_warning_length": content_warning_length(s),
    }


def quoted_account_key(s: dict[str, Any], instance: str) -> str | None:
    """The key of the author of the status ``s`` quotes (None: no quote, or its status withheld)."""
    quoted_status = (s.get("quote") or {}).get("quoted_status") or {}
    quoted = quoted_status.get("account") if is_public(quoted_status) else None
    if not isinstance(quoted, dict) or not (quoted.get("acct") or quoted.get("username")):
        return None
    return account_key(quoted, instance)


def _version_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Bigger is later: tombstone, then edit time, then fetch time, then larger counts."""
    return (row["deleted"], row["edited_at"] is not None, row["edited_at"] or datetime.min, row["fetched_at"],
            row["replies_count"] + row["reblogs_count"] + row["favourites_count"], row["replies_count"],
            row["reblogs_count"], row["favourites_count"], row["content_length"])


def curate_statuses(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """uri → the latest version of every status (wrappers and the originals embedded in them), with the other copies
    seen (``instance/id``); a status any version of which is a tombstone is one in every version."""
    versions_of: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        data, meta = record["data"], record["meta"]
        original = data.get("reblog")
        versions = [status_row(data, meta, original["uri"] if original else None)]
        if original:
            versions.append(status_row(original, meta, None))
        for row in versions:
            if row["uri"] is None or row["created_at"] is None:
                continue
            if after_fetch(row["created_at"], row["fetched_at"]) or after_fetch(row["edited_at"], row["fetched_at"]):
                continue  # dated after the fetch that saw it: impossible
            versions_of.setdefault(row["uri"], []).append(row)
    latest: dict[str, dict[str, Any]] = {}
    for uri, versions in versions_of.items():
        deleted = any(v["deleted"] for v in versions)
        winner = max((dict(v, deleted=deleted) for v in versions), key=_version_key)
        others = sorted({f"{v['fetched_from']}/{v['status_id']}" for v in versions if v["status_id"] is not None}
                        - {f"{winner['fetched_from']}/{winner['status_id']}"})
        winner["copies"] = others or None  # the copies merged into the row besides its own
        # the latest fetch of any version (also of a copy that lost to an earlier fetch)
        winner["last_fetched_at"] = max((v["fetched_at"] for v in versions if v["fetched_at"] is not None),
                                        default=None)
        if winner.pop("public"):  # a status whose latest version is not public is not curated
            latest[uri] = winner
    return latest


def account_row(a: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    instance = meta["instance"]
    last, created = ts(a.get("last_status_at")), ts(a.get("created_at"))
    return {"account_key": account_key(a, instance), "instance": home(a, instance),
            "followers_count": a.get("followers_count"), "following_count": a.get("following_count"),
            "statuses_count": a.get("statuses_count"),
            "created_at": None if after_fetch(created, ts(meta["fetched_at"])) else created,
            "bot": a.get("bot"), "group": a.get("group"), "last_status_at": last.date() if last else None,
            "fetched_at": ts(meta["fetched_at"]), "fetched_from": instance.lower()}


def from_home(row: dict[str, Any]) -> bool:
    """Fetched from the account's home server: its domain, or a server on a subdomain serving that handle domain."""
    domain, fetched_from = row["instance"], row["fetched_from"]
    return domain == fetched_from or bool(domain) and fetched_from.split(":")[0].endswith("." + domain)


def account_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """The larger wins: fewer missing counts, the home server's (even hiding a count), of other servers' copies the
    one hiding fewer counts (below 0), the newest fetch, the larger counts (the rest of the SQL's order never decides
    between the snapshots the reference corpus holds)."""
    names = ("statuses_count", "followers_count", "following_count")
    counts = [row[c] if row[c] is not None else -1 for c in names]
    home = from_home(row)
    hidden = 0 if home else sum(row[c] is not None and row[c] < 0 for c in names)
    return (-sum(row[c] is None for c in names), home, -hidden, row["fetched_at"], *counts)


def curate_accounts(status_records: list[dict[str, Any]], account_records: list[dict[str, Any]]
                    ) -> dict[str, dict[str, Any]]:
    snapshots = [account_row(r["data"], r["meta"]) for r in account_records]
    for r in status_records:  # authors of public versions only
        if version_is_public(r["data"]):
            snapshots.append(account_row(r["data"]["account"], r["meta"]))
        if r["data"].get("reblog") and is_public(r["data"]["reblog"]):
            snapshots.append(account_row(r["data"]["reblog"]["account"], r["meta"]))
    latest: dict[str, dict[str, Any]] = {}
    for row in snapshots:
        if row["account_key"] not in latest or account_order(row) > account_order(latest[row["account_key"]]):
            latest[row["account_key"]] = row
    return latest


def origin_ref(s: dict[str, Any]) -> str | None:
    """The landed ``origin_ref`` (privacy on), else ``host/id`` of a Mastodon status URI."""
    origin = status_origin(s.get("uri"))
    return s.get("origin_ref") or (f"{origin[0]}/{origin[1]}" if origin else None)


def apply_deletions(statuses: dict[str, dict[str, Any]], deletions: Iterable[dict[str, Any]]) -> None:
    """A streamed deletion makes the status curated from that instance with that id a tombstone, and the status
    with the deletion's ``origin_ref`` (every copy of a status shares its URI, so its origin)."""
    pairs, origins = set(), set()
    for r in deletions:
        instance, status_id = r["meta"]["instance"].lower(), r["data"]["id"]
        pairs.add((instance, status_id))
        origins.add(r["data"].get("origin_ref") or f"{instance}/{status_id}")
    for row in statuses.values():
        if (row["fetched_from"], row["status_id"]) in pairs or row["origin_ref"] in origins:
            row["deleted"] = True


def curate_lake(lake: LakeBackend) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    statuses = raw_records(lake, "statuses")
    accounts = raw_records(lake, "accounts") + raw_records(lake, "directory")
    curated = curate_statuses(statuses)
    apply_deletions(curated, raw_records(lake, "status_deletions"))
    return curated, curate_accounts(statuses, accounts)


# -- metrics -----------------------------------------------------------------------------------------------
def _toots(statuses: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statuses.values() if not s["is_reblog"] and not s["deleted"]]


def _known(count: int | None) -> int:
    """An account's count, 0 when unknown: missing, or below 0 (what a server hiding it sends)."""
    return count if count is not None and count > 0 else 0


def _interactions(s: dict[str, Any]) -> int:
    return s["favourites_count"] + s["reblogs_count"] + s["replies_count"]


def hashtag_engagement_row(tag: str, toots: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``hashtag_engagement`` row of ``tag`` from the toots using it (each toot once): totals, and the means
    per toot with media and without (None when the tag has no such toot)."""
    with_media = [s for s in toots if s["media_count"] > 0]
    without = [s for s in toots if s["media_count"] == 0]
    total, media_total = sum(map(_interactions, toots)), sum(map(_interactions, with_media))
    return {"tag": tag, "toots": len(toots), "accounts": len({s["account_key"] for s in toots}),
            "engagement_total": total, "engagement_per_toot": total / len(toots),
            "toots_with_media": len(with_media), "engagement_with_media": media_total,
            "engagement_per_toot_with_media": media_total / len(with_media) if with_media else None,
            "engagement_per_toot_without_media":
                sum(map(_interactions, without)) / len(without) if without else None}


def first_day_partial(starts: Sequence[tuple[str, str, date | None]], first: date) -> bool | None:
    """Whether the day ``first`` was collected in part, by the ``collection_starts`` rows ``starts``: the walks that
    began on it, one cut (or started from now) leaves it partial, else it is whole when a walk began on it or
    before (a day without tags); unknown without one, or beside a timeline collected before the records (it may
    have begun that day)."""
    began = [ended for _, ended, day in starts if day == first]
    covered = any(day is not None and day <= first for _, _, day in starts)
    return True if any(ended in ("cut", "now") for ended in began) else None if (
        not covered or any(ended == "unknown" for _, ended, _ in starts)) else False


def posted_days(statuses: dict[str, dict[str, Any]],
                starts: Sequence[tuple[str, str, date | None]] = ()) -> list[dict[str, Any]]:
    """``posted_days``: per instance fetched from (and ``'*'`` for all), the first and last posted day of the
    visible statuses (boosts included), their count, the latest fetch's day and whether the first day is partial
    (by that instance's ``starts``; every one for ``'*'``). The latest fetch is of every curated row, tombstones
    too: for ``'*'`` of every version merged into it (``last_fetched_at``), for an instance the winner's own."""
    scopes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    fetches: dict[str, list[datetime]] = defaultdict(list)
    for s in statuses.values():
        if not s["deleted"]:
            scopes[s["fetched_from"]].append(s)
            scopes["*"].append(s)
        fetches[s["fetched_from"]].append(s["fetched_at"])
        fetches["*"].append(s["last_fetched_at"])
    rows = []
    for scope in sorted(scopes):
        members = scopes[scope]
        first, last = min(s["dt"] for s in members), max(s["dt"] for s in members)
        own = [start for start in starts if scope == "*" or start[0] == scope]
        rows.append({"instance": scope, "first_day": first.isoformat(), "last_day": last.isoformat(),
                     "days": (last - first).days + 1, "statuses": len(members),
                     "latest_fetch_day": max(fetches[scope]).date().isoformat(),
                     "first_day_partial": first_day_partial(own, first)})
    return rows


def metrics(statuses: dict[str, dict[str, Any]], accounts: dict[str, dict[str, Any]],
            starts: Sequence[tuple[str, str, date | None]] = ()) -> dict[str, list[dict[str, Any]]]:
    """Every metric, as lists of rows in the documented order; ``starts``: the lake's ``collection_starts`` rows
    (instance, ended, oldest_day), none in the corpus."""
    toots = _toots(statuses)
    out: dict[str, list[dict[str, Any]]] = {}

    ranked = sorted(accounts.values(), key=lambda a: (-_known(a["followers_count"]), a["account_key"]))
    out["top_accounts_by_followers"] = [
        {"account_key": a["account_key"], "instance": a["instance"],
         "followers_count": _known(a["followers_count"]), "following_count": _known(a["following_count"]),
         "statuses_count": _known(a["statuses_count"]), "bot": bool(a["bot"])} for a in ranked]

    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in toots:
        by_account[s["account_key"]].append(s)
    rows = []
    for key, own in by_account.items():
        n = len(own)
        fav, reb, rep = (sum(s[c] for s in own) for c in ("favourites_count", "reblogs_count", "replies_count"))
        total = fav + reb + rep
        followers = (accounts.get(key) or {}).get("followers_count")
        rows.append({"account_key": key, "instance": (accounts.get(key) or {}).get("instance"),
                     "followers_count": _known(followers), "toots": n, "favourites_total": fav,
                     "reblogs_total": reb, "replies_total": rep, "interactions_total": total,
                     "favourites_mean": fav / n, "reblogs_mean": reb / n, "replies_mean": rep / n,
                     "interactions_per_toot": total / n,
                     "engagement_rate": total / n / followers if _known(followers) else None})
    out["account_engagement"] = sorted(rows, key=lambda r: (-r["interactions_total"], r["account_key"]))

    monthly = Counter((a["instance"], a["created_at"].strftime("%Y-%m")) for a in accounts.values()
                      if a["created_at"] is not None)
    rows, running = [], Counter()
    for (instance, month), n in sorted(monthly.items()):
        running[instance] += n
        rows.append({"instance": instance, "month": month, "accounts": n, "accounts_cumulative": running[instance]})
    out["signups_by_month"] = rows

    popular = sorted(toots, key=lambda s: (-_interactions(s), s["uri"]))[:1000]
    out["top_toots"] = [
        {"ranking": i, "status_uri": s["uri"], "account_key": s["account_key"], "instance": s["instance"],
         "created_at": s["created_at"].strftime("%Y-%m-%d %H:%M:%S"), "language": s["language"] or "und",
         "favourites_count": s["favourites_count"], "reblogs_count": s["reblogs_count"],
         "replies_count": s["replies_count"], "interactions": _interactions(s), "media_count": s["media_count"],
         "hashtag_count": len(s["hashtags"]), "is_reply": s["is_reply"]} for i, s in enumerate(popular, 1)]

    features = {"url": lambda s: s["url_count"], "custom_emoji": lambda s: s["custom_emoji_count"],
                "unicode_emoji": lambda s: s["unicode_emoji_count"], "media": lambda s: s["media_count"],
                "hashtag": lambda s: len(s["hashtags"]), "mention": lambda s: len(s["mentions"])}
    rows = []
    for name in sorted(features):
        counts = [features[name](s) for s in toots]
        if counts:
            with_ = sum(1 for c in counts if c > 0)
            rows.append({"feature": name, "toots_with": with_, "toots": len(counts), "share": with_ / len(counts),
                         "items": sum(counts), "per_toot": sum(counts) / len(counts)})
    out["content_features"] = rows

    groups = {"none": lambda s: s["media_count"] == 0, "any": lambda s: s["media_count"] > 0,
              "image": lambda s: s["image_count"] > 0, "video": lambda s: s["video_count"] > 0,
              "gifv": lambda s: s["gifv_count"] > 0, "audio": lambda s: s["audio_count"] > 0}
    rows = []
    for name in sorted(groups):
        members = [s for s in toots if groups[name](s)]
        if members:
            n = len(members)
            rows.append({"media_type": name, "toots": n, "interactions_total": sum(map(_interactions, members)),
                         "favourites_mean": sum(s["favourites_count"] for s in members) / n,
                         "reblogs_mean": sum(s["reblogs_count"] for s in members) / n,
                         "replies_mean": sum(s["replies_count"] for s in members) / n,
                         "interactions_mean": sum(map(_interactions, members)) / n})
    out["media_engagement"] = rows

    tagged = [(s, tag) for s in toots for tag in s["hashtags"]]
    daily: dict[tuple[date, str], list[dict[str, Any]]] = defaultdict(list)
    for s, tag in tagged:
        daily[(s["dt"], tag)].append(s)
    rows = [{"day": day.isoformat(), "tag": tag, "toots": len(ss), "accounts": len({s["account_key"] for s in ss}),
             "engagement_total": sum(map(_interactions, ss)),
             "engagement_mean": sum(map(_interactions, ss)) / len(ss)} for (day, tag), ss in daily.items()]
    out["hashtags_daily"] = sorted(rows, key=lambda r: (r["day"], -r["toots"], r["tag"]))

    by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s, tag in tagged:
        by_tag[tag].append(s)
    out["hashtag_engagement"] = sorted((hashtag_engagement_row(tag, ss) for tag, ss in by_tag.items()),
                                       key=lambda r: (-r["engagement_total"], r["tag"]))

    rows = []
    if tagged:
        # the last complete day: the latest day with hashtag data before the day of the latest fetch (collected in
        # part), that day itself only when no data is before it; never a day after it
        bound = max(s["last_fetched_at"] for s in statuses.values()).date()
        last = max((s["dt"] for s, _ in tagged if s["dt"] < bound),
                   default=max((s["dt"] for s, _ in tagged if s["dt"] <= bound), default=date.max))
        windows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for s, tag in tagged:
            age = (last - s["dt"]).days
            if 0 <= age <= 6:
                windows[tag][0] += 1
                windows[tag][2] += _interactions(s)
            elif 7 <= age <= 13:
                windows[tag][1] += 1
        trending = [(tag, c, p, e) for tag, (c, p, e) in windows.items() if c > 0]
        trending.sort(key=lambda t: (-(t[1] + 1) / (t[2] + 1), t[0]))
        first = min(s["dt"] for s, _ in tagged if s["dt"] <= bound)
        partial = first_day_partial(starts, first)
        # the later days (up to the window's end) on which a walk began cut or from now: a source added later
        later = ",".join(sorted({day.isoformat() for _, ended, day in starts
                                 if ended in ("cut", "now") and day is not None and first < day <= last}))
        rows = [{"ranking": i, "tag": tag, "window_end": last.isoformat(), "current_toots": c, "previous_toots": p,
                 "delta": c - p, "growth": (c + 1) / (p + 1), "current_engagement": e,
                 "latest_fetch_day": bound.isoformat(),
                 "first_day": first.isoformat(), "first_day_partial": partial, "partial_start_days": later}
                for i, (tag, c, p, e) in enumerate(trending, 1)]
    out["trending_hashtags"] = rows

    mentioned: dict[str, list[str]] = defaultdict(list)
    for s in toots:
        for key in s["mentions"]:
            mentioned[key].append(s["account_key"])
    rows = [{"account_key": k, "mentions": len(v), "mentioned_by": len(set(v))} for k, v in mentioned.items()]
    out["top_mentioned_accounts"] = sorted(rows, key=lambda r: (-r["mentions"], r["account_key"]))

    langs = Counter((s["language"] or "und") for s in toots)
    out["languages"] = [{"language": k, "toots": n, "share": n / len(toots)}
                        for k, n in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))]

    by_language: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in toots:
        by_language[s["language"] or "und"].append(s)
    rows = []
    for language, members in by_language.items():
        warned = [s for s in members if s["has_content_warning"]]
        unwarned = [s for s in members if not s["has_content_warning"]]
        sensitive = sum(1 for s in members if s["sensitive"])
        rows.append({"language": language, "toots": len(members), "toots_with_cw": len(warned),
                     "cw_share": len(warned) / len(members), "sensitive_toots": sensitive,
                     "sensitive_share": sensitive / len(members),
                     "interactions_mean_with_cw": sum(map(_interactions, warned)) / len(warned) if warned else None,
                     "interactions_mean_without_cw":
                         sum(map(_interactions, unwarned)) / len(unwarned) if unwarned else None,
                     "cw_length_mean": sum(s["content_warning_length"] for s in warned) / len(warned)
                     if warned else None})
    out["content_warnings"] = sorted(rows, key=lambda r: (-r["toots"], r["language"]))

    per_instance: dict[str, list[str]] = defaultdict(list)
    for s in toots:
        per_instance[s["instance"]].append(s["account_key"])
    out["instances"] = [{"instance": k, "toots": len(v), "accounts": len(set(v)), "share": len(v) / len(toots)}
                        for k, v in sorted(per_instance.items(), key=lambda kv: (-len(kv[1]), kv[0]))]

    cells = Counter((s["created_at"].isoweekday(), s["created_at"].hour) for s in toots)
    out["activity_by_hour"] = [{"weekday": w, "hour": h, "toots": n} for (w, h), n in sorted(cells.items())]

    # bot_share: one row per instance of an account or of a toot's author ('*': every one, also without an
    # instance); a toot whose author has no account row is a toot, not a bot's (its bot flag is unknown)
    rows = []
    scopes = {a["instance"] for a in accounts.values()} | {s["instance"] for s in toots}
    scopes = {scope for scope in scopes if scope is not None} | ({"*"} if accounts or toots else set())
    for scope in sorted(scopes):
        members = [a for a in accounts.values() if scope == "*" or a["instance"] == scope]
        bots = sum(1 for a in members if a["bot"])
        scoped = [s for s in toots if scope == "*" or s["instance"] == scope]
        bot_toots = sum(1 for s in scoped if (accounts.get(s["account_key"]) or {}).get("bot"))
        rows.append({"instance": scope, "accounts": len(members), "bots": bots,
                     "bot_share": bots / len(members) if members else None,
                     "toots": len(scoped), "bot_toots": bot_toots,
                     "bot_toot_share": bot_toots / len(scoped) if scoped else None})
    out["bot_share"] = rows
    out["posted_days"] = posted_days(statuses, starts)
    return out


def server_trending_tags(lake: LakeBackend, statuses: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The instances' own daily tag counts (latest fetch per instance, tag and day), next to the collected toots
    using the tag that day."""
    latest: dict[tuple[str, str, date], tuple[datetime, int, int]] = {}
    for record in raw_records(lake, "trends_tags"):
        meta, tag = record["meta"], record["data"]
        for day in tag.get("history") or []:
            key = (meta["instance"].lower(), tag["name"].lower(), datetime.fromtimestamp(int(day["day"]), UTC).date())
            version = (ts(meta["fetched_at"]), int(day["uses"]), int(day["accounts"]))
            if key[2] > (version[0] + CLOCK_SKEW).date():  # a day after the fetch: impossible
                continue
            if key not in latest or version > latest[key]:
                latest[key] = version
    collected = Counter((tag, s["dt"]) for s in _toots(statuses) for tag in s["hashtags"])
    first_day = min((day for _, day in collected), default=None)  # days before it were not collected
    rows = [{"instance": instance, "tag": tag, "day": day.isoformat(), "uses": uses, "accounts": accounts,
             "collected_toots": None if first_day is None or day < first_day else collected[(tag, day)]}
            for (instance, tag, day), (_, uses, accounts) in latest.items()]
    return sorted(rows, key=lambda r: (r["instance"], r["day"], -r["uses"], r["tag"]))


def federation_peers(lake: LakeBackend) -> list[dict[str, Any]]:
    """Per instance: peers in its latest fetch (by UTC day), those first listed in the 7 days up to it (the first
    fetch excepted), those listed before but not by the latest fetch, and every peer ever listed."""
    seen: dict[str, dict[str, list[date]]] = defaultdict(lambda: defaultdict(list))
    for record in raw_records(lake, "instance_peers"):
        day = ts(record["meta"]["fetched_at"]).date()
        seen[record["meta"]["instance"].lower()][record["data"].strip().lower()].append(day)
    rows = []
    for instance, peers in sorted(seen.items()):
        first_fetch = min(min(days) for days in peers.values())
        latest = max(max(days) for days in peers.values())
        current = [days for days in peers.values() if max(days) == latest]
        rows.append({"instance": instance, "latest_fetch": latest.isoformat(), "peers": len(current),
                     "new_peers_7d": sum(min(d) > first_fetch and (latest - min(d)).days < 7 for d in current),
                     "gone_peers": len(peers) - len(current), "peers_ever": len(peers)})
    return rows
