#!/usr/bin/env python3
"""Hadoop streaming reducer of both jobs of the chain: latest versions (job 1), then the metrics (job 2).

Standard library only. Input lines are sorted so that lines with the same first three fields (``TAG``,
``part``, ``key``) are adjacent; the ``TAG`` says which job a line belongs to, so one script serves both::

    job 1 (after mapper.py)       S  <part> <uri>           versions of a status → the latest one wins
                                  A  <part> <account_key>   snapshots of an account → the home server's latest one wins
    job 2 (mapper: cat)           E  <part> <account_key>   per-account toot totals (S) and the snapshot (A)
                                  H  <part> <day> <tag>     per (day, tag, author) toots and engagement
                                  F  <part> <feature>       per-feature partial counts

Job 1 applies the curation rules of ``fediscope/engine/curate_sql.py``: per status URI the version that wins is a
deletion tombstone first, then the newest ``edited_at``, then the newest ``fetched_at``, then the larger counts, the
version an erasure rewrote (``[erased]`` reply id, fewer mentions, no quoted author), longer text, smaller status
id, smaller fetching instance, one that is not public, then the other fields of its line — the SQL's ORDER BY; per
account the snapshot with the fewest missing counts, then the one fetched from the account's home server (a count
it hides stays hidden), then of other servers' copies the one hiding the fewest counts, then the newest fetch, and
so on (``curate_sql.ACCOUNT_ORDER``). A status whose winning version the mapper marked not public (followers-only,
direct…: raw files landed by other means than the collectors) is left out, as curation leaves it out (Hadoop
counter ``non_public_statuses``; a line on stderr outside Hadoop). Deleted statuses then drop out, and share events
(reblogs) carry no engagement and are not toots, so a reblog counts toward its original (through the original's own
``reblogs_count``) and never twice. A status whose winning version the mapper marked expired (posted before its
``--first-day``, the curated retention) is left out, as is an account whose every snapshot it marked expired
(fetched before it: the others are left out before the winner is chosen), as curation leaves them out; they are counted
(Hadoop counters ``expired_statuses`` and ``expired_accounts``; a line on stderr outside Hadoop). Partial sums are
combined in memory (per reducer task)
before they are written, so job 2 reads few lines.

Job 2 writes the metric rows, one per line, tab-separated, ``\\N`` for NULL, ``true``/``false`` for booleans::

    top_accounts_by_followers  account_key instance followers_count following_count statuses_count bot
    account_engagement  account_key instance followers_count toots favourites_total reblogs_total replies_total
                        interactions_total favourites_mean reblogs_mean replies_mean interactions_per_toot
                        engagement_rate
    hashtags_daily      day tag toots accounts engagement_total engagement_mean
    content_features    feature toots_with toots share items per_toot

with the meaning of the same-named SQL metrics (``spark_jobs/sql/<metric>.sql``), in no particular order. Like the
SQL metric, ``top_accounts_by_followers`` has no ranking column (a store's top-N read orders it: followers
descending, ties by account key), so each account's row is written by the reducer that holds its key.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

NULL = "\\N"
BUCKETS = 1009
#: Partial sums kept in memory by a job-1 reducer before they are flushed (bounds its memory).
FLUSH_AT = 200_000
FEATURES = ("url", "custom_emoji", "unicode_emoji", "media", "hashtag", "mention")
#: Output columns of each metric, in order (the names of the SQL metrics' columns).
COLUMNS: dict[str, tuple[str, ...]] = {
    "top_accounts_by_followers": ("account_key", "instance", "followers_count", "following_count",
                                  "statuses_count", "bot"),
    "account_engagement": ("account_key", "instance", "followers_count", "toots", "favourites_total",
                           "reblogs_total", "replies_total", "interactions_total", "favourites_mean",
                           "reblogs_mean", "replies_mean", "interactions_per_toot", "engagement_rate"),
    "hashtags_daily": ("day", "tag", "toots", "accounts", "engagement_total", "engagement_mean"),
    "content_features": ("feature", "toots_with", "toots", "share", "items", "per_toot"),
}
_UNESCAPE = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def escape(text: str | None) -> str:
    if text is None:
        return NULL
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def unescape(field: str) -> str | None:
    if field == NULL:
        return None
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field):
            out.append(_UNESCAPE.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def bucket(key: str) -> str:
    return str(zlib.crc32(key.encode("utf-8", "surrogatepass")) % BUCKETS)


def _int(field: str) -> int | None:
    return None if field == NULL else int(field)


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


def render(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return escape(str(value)) if isinstance(value, str) else str(value)


def row_line(metric: str, values: Iterable[Any]) -> str:
    return "\t".join([metric, *(render(v) for v in values)])


def _head(fields: list[str]) -> tuple[str, str, str]:
    return fields[0], fields[1], fields[2]


def groups(lines: Iterable[str]) -> Iterator[tuple[str, str, Iterator[list[str]]]]:
    """(tag, key, fields of each line…) per run of adjacent lines with the same first three fields. Each run is an
    iterator, read once as the lines go by (the next run starts where it ends, read or not), so no run is held
    whole: one key may have millions of lines (an account's snapshots, one per status of it and per fetch; a viral
    status's versions, one per reblog embedding it), and a reducer holding them all ran out of memory."""
    rows = (fields for fields in (line.rstrip("\n").split("\t") for line in lines) if len(fields) >= 3)
    for (tag, _part, key), members in itertools.groupby(rows, key=_head):
        yield tag, key, members


# -- job 1: the latest version -------------------------------------------------------------------------------
#: Where the mapper's expired mark (``mapper.EXPIRED``: ``1``) is, in an ``S`` and in an ``A`` line: their last field.
S_EXPIRED, A_EXPIRED = 24, 11
#: Where the mapper's public mark (``mapper.PUBLIC``: ``1``; ``0``: the version is not public) is in an ``S`` line.
S_PUBLIC = 23
#: Where an ``A`` line says whether the snapshot was fetched from the account's home server (``1``).
A_FROM_HOME = 10


def status_order(f: list[str]) -> tuple[Any, ...]:
    """Sort key of an ``S`` line (smallest = the version that wins): curate_sql.STATUS_ORDER, a tombstone first.
    Of versions alike in time and counts, one that is not public wins, as in the SQL, so that whether a status is left
    out never depends on the fields this order does not see (nor on those the SQL's markers do not keep). Then, of one
    fetch, the version an erasure rewrote (its reply id ``[erased]``, fewer mentions, no quoted author), then the
    longer text, the smaller status id and fetching instance, then the other fields of the line in the SQL's order (a
    share event last, the account key, the day, the counts, the hashtags): where the SQL's winner and this one
    differ, they differ in no field the metrics read."""
    edited, fetched = _int(f[4]), _int(f[5])
    replies, reblogs, favourites = int(f[6]), int(f[7]), int(f[8])
    return (f[3] != "1",
            _nulls_last(None if edited is None else -edited),
            _nulls_last(None if fetched is None else -fetched),
            -(replies + reblogs + favourites), -replies, -reblogs, -favourites, f[S_PUBLIC] == "1",
            f[21] != "1", int(f[20]), f[22] == "1",
            -int(f[9]), _nulls_last(unescape(f[10])), _nulls_last(unescape(f[11])),
            f[12], _nulls_last(unescape(f[13])), f[14], *(int(n) for n in f[15:19]),
            json.loads(unescape(f[19]) or "[]"))


def account_order(f: list[str]) -> tuple[Any, ...]:
    """Sort key of an ``A`` line: the fewest missing counts, the home server's snapshot (also one hiding a count),
    of other servers' copies the one hiding the fewest counts (a remote -1 never wins over a known count), the newest
    fetch, then the larger counts, the older account, the smaller
    instance, then a bot flag set before one unset before an unknown one (the SQL's order,
    ``curate_sql.ACCOUNT_ORDER``)."""
    fetched = _int(f[3])
    counts = [_int(x) for x in f[4:7]]
    created = _int(f[7])
    bot = _int(f[9])
    home = f[A_FROM_HOME] == "1"
    return (sum(c is None for c in counts), not home, 0 if home else sum(c is not None and c < 0 for c in counts),
            _nulls_last(None if fetched is None else -fetched),
            *(-(c if c is not None else -1) for c in counts),
            _nulls_last(created), _nulls_last(unescape(f[8])), _nulls_last(None if bot is None else -bot))


class Partials:
    """Per-task partial sums of job 1, written as job-2 lines (flushed when large, and at the end)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.engagement: dict[str | None, list[int]] = {}  # account → [toots, favourites, reblogs, replies]
        self.tags: dict[tuple[str, str, str | None], list[int]] = {}  # (day, tag, account) → [toots, engagement]
        self.features = {name: [0, 0, 0] for name in FEATURES}  # feature → [toots_with, toots, items]

    def add_toot(self, f: list[str]) -> None:
        account = unescape(f[13])
        replies, reblogs, favourites = int(f[6]), int(f[7]), int(f[8])
        sums = self.engagement.setdefault(account, [0, 0, 0, 0])
        sums[0] += 1
        sums[1] += favourites
        sums[2] += reblogs
        sums[3] += replies
        tags = json.loads(unescape(f[19]) or "[]")
        counts = (int(f[15]), int(f[16]), int(f[17]), int(f[18]), len(tags), int(f[20]))
        for name, n in zip(FEATURES, counts):  # noqa: B905 - no strict=: Python 3.8+ on the nodes
            feature = self.features[name]
            feature[0] += n > 0
            feature[1] += 1
            feature[2] += n
        engagement = replies + reblogs + favourites
        for tag in tags:
            per = self.tags.setdefault((f[14], tag, account), [0, 0])
            per[0] += 1
            per[1] += engagement
        if len(self.engagement) + len(self.tags) > FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        write = self.out.write
        for account, (toots, favourites, reblogs, replies) in self.engagement.items():
            key = escape(account)
            write(f"E\t{bucket(key)}\t{key}\tS\t{toots}\t{favourites}\t{reblogs}\t{replies}\n")
        for (day, tag, account), (toots, engagement) in self.tags.items():
            key = f"{day} {escape(tag)}"
            write(f"H\t{bucket(key)}\t{key}\t{escape(account)}\t{toots}\t{engagement}\n")
        for name, (with_, toots, items) in self.features.items():
            if toots:
                write(f"F\t{bucket(name)}\t{name}\t{with_}\t{toots}\t{items}\n")
        self.engagement, self.tags = {}, {}
        self.features = {name: [0, 0, 0] for name in FEATURES}


def reduce_status(members: Iterable[list[str]], partials: Partials, left_out: dict[str, int]) -> None:
    latest = min(members, key=status_order)
    if latest[S_PUBLIC] != "1":  # its latest version is not public (followers-only, direct…): not curated
        left_out["non_public"] += 1
        return
    if latest[S_EXPIRED] == "1":  # posted before the retention's first day: not curated
        left_out["statuses"] += 1
        return
    if latest[3] == "1" or latest[12] == "1":  # deleted, or a share event: no toot, no engagement
        return
    partials.add_toot(latest)


def reduce_account(key: str, members: Iterable[list[str]], out: TextIO, left_out: dict[str, int]) -> None:
    # the snapshots fetched before the retention's first day are left out before the winner is chosen, as curation
    # does (curate_sql.merge_accounts): an account seen within it keeps its best snapshot from within it
    f = min((f for f in members if f[A_EXPIRED] != "1"), key=account_order, default=None)
    if f is None:  # not fetched since the retention's first day: not curated
        left_out["accounts"] += 1
        return
    # the snapshot: instance, then followers, following and statuses counts (\N when unknown), then bot
    out.write(f"E\t{bucket(key)}\t{key}\tA\t{f[8]}\t{f[5]}\t{f[6]}\t{f[4]}\t{f[9]}\n")


# -- job 2: the metrics ----------------------------------------------------------------------------------------
def known_count(count: int | None) -> int:
    """An account's count as the SQL metrics give it: 0 when unknown, i.e. missing or below 0 (-1 is what a server
    hiding the count sends)."""
    return count if count is not None and count > 0 else 0


def reduce_account_metrics(key: str, members: Iterable[list[str]], out: TextIO) -> None:
    """One account's ``top_accounts_by_followers`` row (when its snapshot is known) and, when it has toots, its
    ``account_engagement`` row."""
    toots = favourites = reblogs = replies = 0
    instance: str | None = None
    followers: int | None = None
    for f in members:
        if f[3] == "S":
            toots += int(f[4])
            favourites += int(f[5])
            reblogs += int(f[6])
            replies += int(f[7])
        else:
            instance, followers = unescape(f[4]), _int(f[5])
            following, statuses = _int(f[6]), _int(f[7])
            out.write(row_line("top_accounts_by_followers", (
                unescape(key), instance, known_count(followers), known_count(following), known_count(statuses),
                f[8] == "1")) + "\n")
    if not toots:
        return
    interactions = favourites + reblogs + replies
    rate = interactions / toots / followers if followers is not None and followers > 0 else None
    out.write(row_line("account_engagement", (
        unescape(key), instance, known_count(followers), toots, favourites, reblogs, replies, interactions,
        favourites / toots, reblogs / toots, replies / toots, interactions / toots, rate)) + "\n")


def reduce_hashtag(key: str, members: Iterable[list[str]], out: TextIO) -> None:
    toots = engagement = 0
    accounts: set[str] = set()
    for f in members:
        if f[3] != NULL:
            accounts.add(f[3])
        toots += int(f[4])
        engagement += int(f[5])
    day, tag = key.split(" ", 1)  # "<day> <tag>": a day has no space (and not always 10 characters: 10000-01-01)
    out.write(f"hashtags_daily\t{day}\t{tag}\t{toots}\t{len(accounts)}\t{engagement}\t"
              f"{render(engagement / toots)}\n")


def reduce_feature(key: str, members: Iterable[list[str]], out: TextIO) -> None:
    with_ = toots = items = 0
    for f in members:  # one pass: the lines are read as they go by (:func:`groups`)
        with_ += int(f[3])
        toots += int(f[4])
        items += int(f[5])
    out.write(row_line("content_features", (unescape(key), with_, toots, with_ / toots, items, items / toots))
              + "\n")


def report_left_out(left_out: dict[str, int], stderr: TextIO, env: Mapping[str, str]) -> None:
    """Say what job 1 left out, the statuses that are not public and what the curated retention expired: Hadoop
    counters in a task, else a line on stderr for each (when any)."""
    if "mapreduce_task_id" in env or "mapred_task_id" in env:
        stderr.write(f"reporter:counter:fediscope,non_public_statuses,{left_out['non_public']}\n")
        for what in ("statuses", "accounts"):
            stderr.write(f"reporter:counter:fediscope,expired_{what},{left_out[what]}\n")
        return
    if left_out["non_public"]:
        stderr.write(f"reducer: left out {left_out['non_public']} status(es) whose latest version is not public "
                     "(followers-only, direct…)\n")
    if left_out["statuses"] or left_out["accounts"]:
        stderr.write(f"reducer: left out {left_out['statuses']} status(es) posted and {left_out['accounts']} "
                     "account(s) last fetched before the mapper's --first-day (the curated retention)\n")


def run(stdin: Iterable[str], stdout: TextIO, stderr: TextIO | None = None,
        env: Mapping[str, str] | None = None) -> int:
    partials = Partials(stdout)
    left_out = {"non_public": 0, "statuses": 0, "accounts": 0}
    for tag, key, members in groups(stdin):
        if tag == "S":
            reduce_status(members, partials, left_out)
        elif tag == "A":
            reduce_account(key, members, stdout, left_out)
        elif tag == "E":
            reduce_account_metrics(key, members, stdout)
        elif tag == "H":
            reduce_hashtag(key, members, stdout)
        elif tag == "F":
            reduce_feature(key, members, stdout)
    partials.flush()
    report_left_out(left_out, stderr or sys.stderr, os.environ if env is None else env)
    return 0


#: The exit status when the output was closed before everything was written (``reducer.py | head``): what a shell
#: reports for a Unix tool that SIGPIPE ended (128 + 13), here without a traceback.
BROKEN_PIPE_EXIT = 141


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """No options: both jobs run ``reducer.py`` bare. One given is a usage error (exit 2) rather than ignored (an
    ``--first-day`` meant for the mapper, which marks the expired versions, would otherwise change nothing)."""
    parser = argparse.ArgumentParser(prog="reducer.py", description="fediscope Hadoop streaming reducer (jobs 1 "
                                     "and 2: it tells them apart by their lines); it takes no options")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)
    try:
        with open(sys.stdin.fileno(), encoding="utf-8", errors="surrogateescape", newline="\n",
                  closefd=False) as stdin, \
                open(sys.stdout.fileno(), "w", encoding="utf-8", errors="surrogateescape", newline="\n",
                     closefd=False, buffering=1 << 16) as stdout:
            return run(stdin, stdout, sys.stderr, dict(os.environ))
    except BrokenPipeError:  # the reader is gone: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit fails
        return BROKEN_PIPE_EXIT


if __name__ == "__main__":
    sys.exit(main())
