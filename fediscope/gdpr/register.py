"""The record of processing activities (GDPR Art. 30), generated from the active privacy policy and settings.

Generated rather than written by hand, so it cannot drift from what the code does: the data categories come
from :func:`fediscope.privacy.describe_policy`, retention and recipients from the settings. What only the
controller can know (who they are, the legal basis and its balancing test) is left as fields to fill in.
No secret and no credential ever appears in it: the store and lake are named by kind and host only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fediscope.config import Settings, instance_domain
from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.subject import collected_instances
from fediscope.lake.backend import LakeBackend
from fediscope.privacy import PrivacyPolicy, describe_policy

TO_FILL = "_(to fill in)_"


def store_description(url: str) -> str:
    """``mysql+pymysql://u:pw@db.example/x`` → ``MySQL/MariaDB at db.example``; never the credentials."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        return "SQLite file on the processing host"
    name = {"mysql": "MySQL/MariaDB", "mariadb": "MySQL/MariaDB", "hbase": "HBase (Thrift)"}.get(scheme, scheme)
    return f"{name} at {parts.hostname or '?'}"


def lake_description(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in {"webhdfs", "hdfs"}:
        return f"HDFS (WebHDFS) at {parts.hostname or '?'}"
    return "local directory on the processing host"


def _erasure_count(lake: LakeBackend | None) -> int | None:
    if lake is None or not lake.exists(AUDIT_PATH):
        return None if lake is None else 0
    return sum(1 for line in lake.read(AUDIT_PATH).splitlines() if line.strip())


def _days(days: int, after: str = "collection") -> str:
    return "kept until deleted by hand (0 = no limit)" if days == 0 else f"{days} days after {after}"


def _curated_retention(days: int) -> str:
    """Retention deletes the curated tables' ``dt=`` partitions, which are the statuses' own days (when posted), not
    the collection's, and the account snapshots last fetched before the same cutoff; the other unpartitioned
    tables are kept. Was: "N days after collection" for all of them, while a backfill of older statuses went at the
    next run; then the accounts table stayed for ever."""
    if days == 0:
        return f"Curated tables: {_days(days)}"
    last_seen = "the account was last fetched (an account not seen since is forgotten)"
    return (f"Curated statuses and hashtags: {_days(days, 'the status was posted (not collected)')}; the latest "
            f"snapshot of each account: {_days(days, last_seen)}; the other curated tables (instance activity, "
            "trending tags and peers, which are per instance; deletions, the ids of deleted statuses) are not dated "
            "and are kept until deleted by hand. Curation applies the same cutoff: it writes no status or account "
            "snapshot older than it, also when it rebuilds the tables or curates old raw files late")


def _list(items: Any) -> str:
    return ", ".join(f"`{i}`" for i in items) or "–"


def _configured_instances(settings: Settings) -> str:
    """The configured instances (``[[sources]]`` and ``FEDISCOPE_INSTANCES``, by domain), or where to name them: was
    a bare "–", also for a lake collected with ``collect --instance`` alone."""
    instances = sorted({instance_domain(i) for i in [s.instance for s in settings.sources] + list(settings.instances)})
    if instances:
        return _list(instances)
    return (f"none (name them under `[[sources]]` in {settings.config_file or 'fediscope.toml'}, or in "
            "`FEDISCOPE_INSTANCES`)")


def _collected_instances(lake: LakeBackend | None) -> list[str]:
    """The line of the instances the lake holds records from, whether configured or not; none without a lake."""
    if lake is None:
        return []
    collected = sorted(collected_instances(lake))
    shown = _list(collected) if collected else "none yet"
    return [f"- Instances collected (the lake holds records from them): {shown}"]


def build_register(settings: Settings, lake: LakeBackend | None = None, now: datetime | None = None) -> str:
    """The processing register as Markdown."""
    # Only the shape of the policy is described: a placeholder key builds it even when none is configured.
    policy = describe_policy(PrivacyPolicy(key=b"-", enabled=settings.privacy))
    erasures = _erasure_count(lake)
    key_state = ("configured (kept outside the lake and the store; never printed)" if settings.pseudonym_key
                 else "**NOT configured — collection will refuse to start**")
    lines = [
        "# Record of processing activities — fediscope",
        "",
        f"Generated {(now or datetime.now(UTC)).isoformat(timespec='seconds')} by `fediscope gdpr register` from "
        "the active privacy policy and configuration. Regenerate it after every change of configuration.",
        "",
        "## Controller",
        f"- Name and contact: {TO_FILL}",
        f"- Data protection officer: {TO_FILL}",
        "",
        "## Purposes",
        *[f"- **{entity}**: {purpose}" for entity, purpose in policy["purposes"].items()],
        "",
        "## Legal basis",
        f"- Legal basis (Art. 6 GDPR): {TO_FILL} — e.g. legitimate interests (Art. 6(1)(f)) with a documented "
        "balancing test, or scientific research with the safeguards of Art. 89",
        "",
        "## Data subjects and sources",
        "- People whose public Mastodon posts and profiles are served by the collected instances' public API.",
        f"- Instances configured: {_configured_instances(settings)}",
        *_collected_instances(lake),
        "",
        "## Categories of personal data",
        f"- Privacy policy at landing: **{'on' if policy['enabled'] else 'OFF — data is kept as collected'}**"
        f"{'' if policy['enabled'] else ' (opted-out and erased accounts are still skipped)'}",
        f"- Accounts — kept: {_list(policy['account']['kept'])}",
        f"- Accounts — pseudonymised: {_list(policy['account']['pseudonymised'])}",
        f"- Accounts — dropped: {_list(policy['account']['dropped'])} and every other field",
        f"- Statuses — kept: {_list(policy['status']['kept'])} (handles and profile links inside the text are "
        "replaced by pseudonyms)",
        f"- Statuses — pseudonymised: {_list(policy['status']['pseudonymised'])}",
        f"- Statuses — minimised: {'; '.join(policy['status']['minimised'])}",
        f"- Statuses — added at landing: {'; '.join(policy['status']['added'])}",
        "",
        "## Pseudonymisation",
        "- Keyed pseudonyms (HMAC-SHA256) replace every account identifier when data lands; they are stable for "
        "one key, so analyses join across runs, and unrelated after a key change.",
        f"- Pseudonym key (`FEDISCOPE_PSEUDONYM_KEY`): {key_state}.",
        "- The suppression list of erased accounts holds pseudonyms: after a key rotation, re-run the erasures.",
        "",
        "## Opt-outs",
        f"- Accounts with `noindex: true`, or with one of {_list(policy['opt_out_tags'])} in their bio, are not "
        "collected, nor their statuses, nor boosts of them.",
        "- An account that opts out after records of it were collected loses them at the next processing run: "
        "they are erased from the raw lake, the curated tables and the metrics (an `opt_out` line in the audit "
        "log), without putting the account on the suppression list.",
        "",
        "## Retention",
        f"- Raw lake (and quarantined items): {_days(settings.retention_raw_days)}.",
        f"- {_curated_retention(settings.retention_curated_days)}.",
        "- Metrics: recomputed from the curated tables at each processing run.",
        "- Applied daily by the maintenance DAG (`fediscope gdpr retention`).",
        "",
        "## Recipients and storage",
        f"- Lake: {lake_description(settings.lake)}.",
        f"- Metrics store: {store_description(settings.store)}.",
        f"- Processing engine: {settings.engine}" + (f" (Spark master `{settings.spark_master}`)"
                                                    if settings.engine == "spark" else "") + ".",
        f"- Other recipients, transfers outside the EEA: {TO_FILL}",
        "",
        "## Safeguards",
        "- Pseudonymisation and minimisation at landing; opt-outs honoured; statuses that are not public or "
        "unlisted (followers-only, direct) are never landed.",
        "- Deletions reported by the streaming API (`fediscope stream`) remove the status from the curated tables' "
        "analyses and every metric at the next processing run.",
        "- Erasure (`fediscope gdpr erase`) removes an account from the raw lake, curated tables and every store "
        "table, and suppresses it in later collections; each erasure is audited without the clear identifier.",
        "- Access (`fediscope gdpr export`) returns everything held about one account.",
        "- Writes are atomic; tokens, API keys and the pseudonym key are masked in logs and never stored in the "
        "lake.",
        "- The scraping API fetches only allowlisted instances, requires API keys and is rate-limited "
        f"({'configured' if settings.api_key else 'no API key configured'}).",
        f"- Organisational measures (access control, backups, encryption at rest): {TO_FILL}",
    ]
    if erasures is not None:
        lines += ["", "## Requests handled", f"- Erasures performed (audit log `{AUDIT_PATH}`): {erasures}"]
    return "\n".join(lines) + "\n"

