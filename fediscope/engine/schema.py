"""Schemas of the raw lake records and of the curated tables: declared once, rendered for DuckDB and Spark.

Both engines read the raw JSON Lines with an explicit schema instead of inferring one. Inference looks at a
sample, so two batches could yield two different types for the same field (an empty ``tags`` list, a ``null``
poll, an id that one collector wrote as a number), and DuckDB and Spark would infer differently. With one
declared schema both engines see the same columns and types; fields not listed are ignored, missing ones are
NULL. Timestamps and ids are read as text and converted in SQL, which accepts every format the collectors
write (``2026-08-01T13:55:50.338Z`` from the API, ``2026-08-01 13:55:50.338000+00:00`` from a ``datetime``).

Only the fields the curation SQL (:mod:`fediscope.engine.curate_sql`) reads are declared: every declared field
is extracted from every record (DuckDB materialises the parsed statuses), so a field nobody reads only costs
time. Declare a field here when a curated column starts to use it.

The curated tables (:data:`CURATED`) are declared the same way, so both engines write Parquet files with the
same column types: timestamps are UTC wall-clock values without a zone (DuckDB ``TIMESTAMP``, Spark
``TIMESTAMP_NTZ``), so an hour of the day means the same thing whichever engine or session reads them.

A type is ``"string"``, ``"bigint"``, ``"double"``, ``"boolean"``, ``"timestamp"``, ``"date"``, a one-element
list ``[T]`` (array of T) or a dict ``{field: T}`` (struct).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Type = Any  # str | list[Type] | dict[str, Type]

META: dict[str, Type] = {"instance": "string", "fetched_at": "string"}

ACCOUNT: dict[str, Type] = {
    "acct": "string", "username": "string", "domain": "string",
    "created_at": "string", "followers_count": "bigint", "following_count": "bigint",
    "statuses_count": "bigint", "bot": "boolean", "group": "boolean", "last_status_at": "string",
}

_STATUS_FIELDS: dict[str, Type] = {
    "id": "string", "uri": "string", "origin_ref": "string", "created_at": "string", "edited_at": "string",
    "in_reply_to_id": "string", "visibility": "string",
    "language": "string", "replies_count": "bigint", "reblogs_count": "bigint", "favourites_count": "bigint",
    "content": "string", "deleted": "boolean",
    # the length of ``content`` as its author wrote it, when the privacy policy rewrote it (fediscope.privacy)
    "authored_length": "bigint",
    # the content warning (only whether there is one and its length are curated, never its text) and the flag
    "spoiler_text": "string", "sensitive": "boolean",
    # the length of ``spoiler_text`` as its author wrote it, when the privacy policy rewrote it (fediscope.privacy)
    "authored_spoiler_length": "bigint",
    "account": ACCOUNT,
    "tags": [{"name": "string"}],
    "emojis": [{"shortcode": "string"}],  # only counted: a list needs an element type
    "mentions": [{"acct": "string", "url": "string"}],
    "media_attachments": [{"type": "string"}],
    # whose status a quote post quotes (only its author: an opt-out of that author must find the quote), and
    # whether that status is public (curation keeps no author of a quoted status that is not)
    "quote": {"quoted_status": {"visibility": "string",
                                "account": {"acct": "string", "username": "string", "domain": "string"}}},
}

#: A status, with the reblogged original nested one level deep (an original is never itself a reblog).
STATUS: dict[str, Type] = {**_STATUS_FIELDS, "reblog": dict(_STATUS_FIELDS)}

INSTANCE_ACTIVITY: dict[str, Type] = {
    "week": "string", "statuses": "string", "logins": "string", "registrations": "string",
}

#: A trending hashtag (``/api/v1/trends/tags``) with the instance's own daily counts: ``day`` is the day's start
#: in Unix seconds, ``uses`` and ``accounts`` are numbers sent as text (all three strings, as the API documents).
TREND_TAG: dict[str, Type] = {
    "name": "string", "history": [{"day": "string", "uses": "string", "accounts": "string"}],
}

#: Entity in the lake → the schema of its ``data``. ``directory`` entries are accounts; an ``instance_peers``
#: record is one domain the instance knows of (a string).
DATA_SCHEMAS: dict[str, Type] = {
    "statuses": STATUS,
    "accounts": ACCOUNT,
    "directory": ACCOUNT,
    "instance_activity": INSTANCE_ACTIVITY,
    "trends_tags": TREND_TAG,
    "instance_peers": "string",
    # a streamed ``delete`` event: the instance's id of the status (and, with privacy on, the pseudonym of the
    # instance and that id, as fediscope.privacy's origin_ref)
    "status_deletions": {"id": "string", "origin_ref": "string"},
}

_DUCKDB_SCALARS = {"string": "VARCHAR", "bigint": "BIGINT", "boolean": "BOOLEAN", "double": "DOUBLE",
                   "timestamp": "TIMESTAMP", "date": "DATE"}
_SPARK_SCALARS = {"string": "STRING", "bigint": "BIGINT", "boolean": "BOOLEAN", "double": "DOUBLE",
                  "timestamp": "TIMESTAMP_NTZ", "date": "DATE"}


def duckdb_type(t: Type) -> str:
    if isinstance(t, str):
        return _DUCKDB_SCALARS[t]
    if isinstance(t, list):
        return duckdb_type(t[0]) + "[]"
    return "STRUCT(" + ", ".join(f'"{name}" {duckdb_type(sub)}' for name, sub in t.items()) + ")"


def spark_type(t: Type) -> str:
    if isinstance(t, str):
        return _SPARK_SCALARS[t]
    if isinstance(t, list):
        return f"ARRAY<{spark_type(t[0])}>"
    return "STRUCT<" + ", ".join(f"`{name}`: {spark_type(sub)}" for name, sub in t.items()) + ">"


def record_schema(entity: str) -> dict[str, Type]:
    """The schema of one raw record (``meta`` + ``data``) of ``entity``."""
    if entity not in DATA_SCHEMAS:
        raise ValueError(f"no raw schema for entity {entity!r}; known: {', '.join(DATA_SCHEMAS)}")
    return {"meta": META, "data": DATA_SCHEMAS[entity]}


def duckdb_columns(entity: str) -> dict[str, str]:
    """The ``columns=`` argument of DuckDB's ``read_json`` for a raw entity."""
    return {name: duckdb_type(t) for name, t in record_schema(entity).items()}


def spark_ddl(entity: str) -> str:
    """The DDL schema string for ``spark.read.schema(...).json(...)`` of a raw entity."""
    return ", ".join(f"`{name}` {spark_type(t)}" for name, t in record_schema(entity).items())


# -- curated tables ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """A curated table: its columns (in file order) and the column it is partitioned by, if any."""

    name: str
    columns: dict[str, Type]
    partition_by: str | None = None

    @property
    def file_columns(self) -> list[str]:
        """The columns stored inside the Parquet files (a partition column lives in the directory name)."""
        return [c for c in self.columns if c != self.partition_by]


STATUSES = Table("statuses", {
    "uri": "string", "status_id": "string", "account_key": "string", "instance": "string",
    "fetched_from": "string", "created_at": "timestamp", "dt": "date", "language": "string",
    "visibility": "string", "replies_count": "bigint", "reblogs_count": "bigint", "favourites_count": "bigint",
    "url_count": "bigint", "custom_emoji_count": "bigint", "unicode_emoji_count": "bigint",
    "media_count": "bigint", "image_count": "bigint", "video_count": "bigint", "gifv_count": "bigint",
    "audio_count": "bigint", "hashtags": ["string"], "mentions": ["string"], "is_reply": "boolean",
    "in_reply_to_id": "string", "is_reblog": "boolean", "reblog_of_uri": "string", "edited_at": "timestamp",
    "content_length": "bigint", "fetched_at": "timestamp", "deleted": "boolean", "origin_ref": "string",
    "quoted_account_key": "string", "copies": ["string"],
    "sensitive": "boolean", "has_content_warning": "boolean", "content_warning_length": "bigint",
    "last_fetched_at": "timestamp",
}, partition_by="dt")

ACCOUNTS = Table("accounts", {
    "account_key": "string", "instance": "string", "followers_count": "bigint", "following_count": "bigint",
    "statuses_count": "bigint", "created_at": "timestamp", "bot": "boolean", "group": "boolean",
    "last_status_at": "date", "fetched_at": "timestamp", "fetched_from": "string",
})

HASHTAGS = Table("hashtags", {
    "status_uri": "string", "tag": "string", "dt": "date", "created_at": "timestamp", "account_key": "string",
    "instance": "string", "engagement": "bigint",
}, partition_by="dt")

INSTANCE_ACTIVITY_TABLE = Table("instance_activity", {
    "instance": "string", "week": "date", "statuses": "bigint", "logins": "bigint", "registrations": "bigint",
    "fetched_at": "timestamp",
})

TAG_TRENDS = Table("tag_trends", {
    "instance": "string", "tag": "string", "day": "date", "uses": "bigint", "accounts": "bigint",
    "fetched_at": "timestamp",
})

INSTANCE_PEERS = Table("instance_peers", {
    "instance": "string", "peer": "string", "first_seen": "date", "last_seen": "date",
})

#: Every deletion an instance's stream reported: its id of the status, and when the deletion was first received.
STATUS_DELETIONS = Table("status_deletions", {
    "instance": "string", "status_id": "string", "deleted_at": "timestamp", "origin_ref": "string",
})

#: Every curated table, by name.
CURATED: dict[str, Table] = {t.name: t for t in (STATUSES, ACCOUNTS, HASHTAGS, INSTANCE_ACTIVITY_TABLE,
                                                 TAG_TRENDS, INSTANCE_PEERS, STATUS_DELETIONS)}


#: Where each source's collection begins (:func:`fediscope.lake.state.collection_starts`): not curated but read
#: from the lake's ``_state/<domain>/start/`` records when the metrics run, beside the curated tables, so a metric
#: can tell whether the first day collected is whole (``trending_hashtags``'s ``first_day_partial``). No source
#: names: a source may name a person.
COLLECTION_STARTS = Table("collection_starts", {"instance": "string", "ended": "string", "oldest_day": "date"})


def table_spark_ddl(table: Table, columns: list[str] | None = None) -> str:
    return ", ".join(f"`{c}` {spark_type(table.columns[c])}" for c in (columns or list(table.columns)))
