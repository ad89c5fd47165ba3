"""The MapReduce tests' raw lakes: landed from REAL recordings the way a collector lands them.

Every successful recorded response is one fetch (its own batch, fetched a minute after the previous one), from
the instance in the request URL, through the privacy policy. Statuses fetched several times (post → edit →
fetch, post → reblog → unreblog) therefore land as several versions, which is what the "latest version wins"
rule is about. A module of its own (not the conftest) so that tests import it by a name no other test
directory's conftest shadows.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streamed_deletions import land_deletions

from fediscope.config import load_settings
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
KEY = b"mapreduce-tests-pseudonym-key-3b8e0f6a1c9d"
T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after every recorded status was created
CORPUS_STATUSES = 3000


def is_status(item: Any) -> bool:
    return isinstance(item, dict) and "account" in item and "uri" in item and "content" in item


def is_account(item: Any) -> bool:
    return isinstance(item, dict) and "acct" in item and "followers_count" in item and "content" not in item


def recorded_fetches() -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(entity, instance, endpoint, entities) of every successful recorded response holding statuses/accounts."""
    fetches = []
    for path in sorted(RECORDINGS.glob("test_*.json")):
        for interaction in json.loads(path.read_text())["interactions"]:
            request, response = interaction["request"], interaction["response"]
            if response["status"] != 200:
                continue
            body = response["body"]
            items = body if isinstance(body, list) else [body]
            instance = request["uri"].split("/")[2].lower()
            endpoint = "/" + request["uri"].split("/", 3)[3].split("?")[0]
            found = [copy.deepcopy(i) for i in items if is_status(i)]
            if found:
                fetches.append(("statuses", instance, endpoint, found))
            found = [copy.deepcopy(i) for i in items if is_account(i)]
            if found:
                entity = "directory" if "/directory" in endpoint else "accounts"
                fetches.append((entity, instance, endpoint, found))
    return fetches


def land_recordings(lake: LocalLake, policy: PrivacyPolicy) -> dict[str, int]:
    """Land every recorded fetch as its own batch; then a deletion and a gzip-compressed re-fetch, and streamed
    deletions (``delete`` events) of five of the landed statuses.

    Returns counts of what was landed (for the tests' sanity checks).
    """
    counts = {"batches": 0, "statuses": 0, "accounts": 0}
    minute = 0
    last_statuses: list[dict[str, Any]] = []
    last_instance = ""
    for entity, instance, endpoint, items in recorded_fetches():
        minute += 1
        at = T0 + timedelta(minutes=minute)
        records = []
        for item in items:
            data = policy.apply("statuses" if entity == "statuses" else "accounts", item, instance)
            if data is not None:
                records.append(envelope(instance, endpoint, data, fetched_at=at))
        if write_batch(lake, entity, instance, records, fetched_at=at, compressed=minute % 7 == 0):
            counts["batches"] += 1
            counts["statuses" if entity == "statuses" else "accounts"] += len(records)
        if entity == "statuses":
            last_statuses, last_instance = items, instance
    # a later fetch finds the first status of the last timeline deleted (a tombstone: the full status,
    # deleted=true), and the same batch re-fetched twice at the same moment (exact duplicate versions)
    at = T0 + timedelta(minutes=minute + 1)
    tomb = dict(last_statuses[0], deleted=True)
    write_batch(lake, "statuses", last_instance,
                [envelope(last_instance, "/api/v1/timelines/public", policy.apply("statuses", tomb, last_instance),
                          fetched_at=at)], fetched_at=at)
    again = [envelope(last_instance, "/api/v1/timelines/public", policy.apply("statuses", s, last_instance),
                      fetched_at=at) for s in last_statuses[1:]]
    for compressed in (False, True):
        write_batch(lake, "statuses", last_instance, again, fetched_at=at, compressed=compressed)
    land_deletions(lake, at + timedelta(minutes=1))
    return counts


#: The retention lake's second fetch, and the recorded accounts it does not see again (the recordings have four).
REFETCHED = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)
NOT_REFETCHED = frozenset({"admin", "admin2"})


def _by(item: dict[str, Any], accts: frozenset[str]) -> bool:
    """The recorded status or account is one of ``accts``, by one, or reblogs one's status."""
    reblog = item.get("reblog") if isinstance(item.get("reblog"), dict) else {}
    return any(a.get("acct") in accts for a in (item, item.get("account") or {}, reblog.get("account") or {}))


def recent_copy(status: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A recorded status as another status (another id and URI) posted two hours before ``at``; a reblog's original
    stays as recorded (posted on the recorded day)."""
    copied = copy.deepcopy(status)
    copied.update(id=f"9{status['id']}", uri=status["uri"].replace(status["id"], f"9{status['id']}"), url=None,
                  created_at=(at - timedelta(hours=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    return copied


def land_refetch(lake: LocalLake, policy: PrivacyPolicy, at: datetime = REFETCHED,
                 not_again: frozenset[str] = NOT_REFETCHED) -> None:
    """Land every recorded response again, fetched at ``at``, without the records of the accounts ``not_again``
    (theirs, by them, reblogs of theirs), and with its statuses also posted anew (:func:`recent_copy`): the
    statuses posted on 2026-08-02 (dated after the first fetch) are curated now, the copies are posted on the day
    of ``at`` (the copied reblogs too, their originals on the recorded day), and the other accounts have a recent
    snapshot; those of ``not_again`` were last fetched on 2026-08-01."""
    for entity, instance, endpoint, items in recorded_fetches():
        kind = "statuses" if entity == "statuses" else "accounts"
        again = [item for item in items if not _by(item, not_again)]
        if kind == "statuses":
            again += [recent_copy(item, at) for item in again]
        records = [envelope(instance, endpoint, data, fetched_at=at)
                   for data in (policy.apply(kind, item, instance) for item in again) if data is not None]
        write_batch(lake, entity, instance, records, fetched_at=at)


def settings_for(lake_dir: Path) -> Any:
    return load_settings(env={}, toml_path=None, lake=str(lake_dir), pseudonym_key=KEY.decode(),
                         store=f"sqlite:///{lake_dir.parent / 'metrics.db'}")


def tagged_status() -> dict[str, Any]:
    """A copy of the first status with hashtags (and its account and URI) of the recorded hashtag timeline."""
    for interaction in json.loads((RECORDINGS / "test_hashtag_tl.json").read_text())["interactions"]:
        body = interaction["response"]["body"]
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and item.get("tags") and "account" in item and "uri" in item:
                return copy.deepcopy(item)
    raise AssertionError("the recording has no status with tags")
