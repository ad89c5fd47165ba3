#!/usr/bin/env python3
"""Hadoop streaming mapper (job 1 of 2): raw lake records → one line per status version and account snapshot.

Standard library only, so it runs on any Hadoop node with ``python3``. Input: raw lake JSON Lines (one
``{"meta": …, "data": …}`` envelope per line) of the ``statuses``, ``accounts`` and ``directory`` entities, plain
or already decompressed (Hadoop's ``TextInputFormat`` decompresses ``.jsonl.gz`` by itself). Output: the
intermediate lines ``reducer.py`` reads, one record per line, fields separated by tabs::

    S  <part>  <uri>          <version fields>   one version of a status (a record, or the original inside a reblog)
    A  <part>  <account_key>  <snapshot fields>  one snapshot of an account (accounts/directory entry, or an author),
                                                 with whether it was fetched from the account's home server

``<part>`` is the partition field (a hash bucket of the key): the documented ``hadoop jar`` command partitions
on the first two fields and sorts on the first three, so every version of one status meets in one reducer call.
The fields are those the curation SQL (``fediscope/engine/curate_sql.py``) derives, computed the same way — the
same account-key rule, the same link and emoji patterns, the same "latest version wins" ordering inputs — so the
reducer can pick the version the SQL picks. See ``README.md`` next to this file for the whole chain.

Streamed deletions (``raw/mastodon/status_deletions``: the reporting instance and its id of a status) are a side
input, not a job input: ``--deletions PATH`` (a JSON Lines file, ``.gz`` too, or a directory of them; repeatable)
loads them into memory, and a version fetched from that instance with that id, or whose ``origin_ref`` is the
deletion's, is a tombstone, as in the curation SQL. On a cluster the file is shipped to every mapper with
``-files`` (see ``README.md``).

The curated retention (``FEDISCOPE_RETENTION_CURATED_DAYS``) is ``--first-day YYYY-MM-DD``, the first day curation
keeps (``fediscope.gdpr.retention.curated_cutoff``): a status version posted before it (its ``created_at``'s UTC
day, the curated ``dt``: a reblog by its own day, the original inside it by the original's) and an account
snapshot fetched before it are *expired*. They are not dropped here but marked (the last field, ``1``): curation
applies the retention to the version that wins, so an expired version that wins (a snapshot fetched before the day
over one of unknown fetch time, which sorts last; a version whose server changed its ``created_at``) takes its
status or account out, and the reducer does that; dropping it here would bring the losing version in instead.
They are counted (Hadoop counter ``expired_versions``).

A status version that is not public (its ``visibility`` neither ``public`` nor ``unlisted`` nor missing, or a share
of such a status: what landing never lands, but raw files landed by other means may hold) is marked (``0`` in the
field before the last), not dropped: curation leaves a status out when its LATEST version is not public, and the
reducer does that. No account snapshot is read from such a version, and a quoted status that is not public has no
author, as in the curation SQL.

Which entity a line is: under Hadoop the input file's path (``mapreduce_map_input_file``) names it, by its last
``raw/mastodon/<entity>/`` segment; otherwise (``cat files | mapper.py``) the record's shape does — a status has
``account``/``content``/``reblog``/``deleted``, an account has ``acct``/``username``. Lines that are not records
(:data:`SKIP_REASONS`: not UTF-8 text — bytes that are not UTF-8, a JSON escape of a lone surrogate such as
``\\ud83d`` —, not JSON, JSON that is not an object, an object that is not a lake envelope, a count no 64-bit
integer can hold, a field DuckDB's reader cannot convert to its declared type (:func:`check_types`: ``"tags": {}``,
``"bot": "1"``); DuckDB's reader refuses them, or curation has nothing to read in them) are skipped and counted by
reason (counters ``skipped_<reason>``, their sum ``malformed_input_lines``; outside Hadoop one line on stderr), or,
with ``--strict``, stop the mapper (exit 2) with one line naming the input file and the line, as curation stops.
Empty lines, ``{}`` and ``null`` hold no record: skipped without a word, as both engines skip them. The lines of
an input file whose path names no entity, or one that is not ``statuses``, ``accounts`` or ``directory``, are
skipped and counted too (counter ``unknown_entity_input_lines``, and a line on stderr).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import errno
import gzip
import json
import math
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet  # annotations only: no runtime generics on old python3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

NULL = "\\N"
#: Partition buckets of job 1 and of job 2's per-key lines.
BUCKETS = 1009
#: An opening ``<a …>`` tag, its name in any case, ending at the first ``>`` outside a quoted attribute value (the
#: curation SQL's ``ANCHOR_RE``, which says how): HTML's tag spaces, not Java's or Unicode's. Read by :func:`_anchors`.
ANCHOR_RE = re.compile(r'<[aA][\t\n\f\r ](?:[^>=]|=[\t\n\f\r ]*(?:"[^"]*"|\x27[^\x27]*\x27|[^"\x27>\t\n\f\r ]))*'
                       r"(?:=[\t\n\f\r ]*)?>")
_ANCHOR_START_RE = re.compile(r"<[aA][\t\n\f\r ]")
_ANCHOR_STOP_RE = re.compile("[>=]")
#: An anchor that is a mention or a hashtag, not a link: a ``mention``/``hashtag`` token in its class or ``tag`` in
#: its rel, the attribute's name in any case, its value quoted with ``"`` or ``'`` or unquoted (the curation SQL's
#: ``NOT_LINK_RE``, spaces spelled out as RE2 reads ``\s``).
_WS = r"[\t\n\f\r ]"


def _attribute_token(name: str, tokens: str) -> str:
    """A copy of ``fediscope.engine.curate_sql._attribute_token``, which says what it matches."""
    caseless = "".join(f"[{c.lower()}{c.upper()}]" for c in name)
    return (rf"{_WS}{caseless}{_WS}*={_WS}*"
            rf"""(?:"(?:[^"]*{_WS})?{tokens}(?:{_WS}[^"]*)?"|'(?:[^']*{_WS})?{tokens}(?:{_WS}[^']*)?'"""
            rf"|{tokens}[\t\n\f\r >])")


NOT_LINK_RE = re.compile(f"{_attribute_token('class', '(?:mention|hashtag)')}|{_attribute_token('rel', 'tag')}")
_WS_CHARS = "\t\n\f\r "
_WS_SPLIT_RE = re.compile(_WS)
#: The start of a ``class`` or ``rel`` attribute's value in an anchor (after its ``=``), and the tokens that make the
#: anchor no link (:data:`NOT_LINK_RE`, read by :func:`is_not_link`).
_ATTRIBUTE_RE = re.compile(rf"{_WS}([cC][lL][aA][sS][sS]|[rR][eE][lL]){_WS}*=")
_NOT_LINK_TOKENS = {"class": frozenset(("mention", "hashtag")), "rel": frozenset(("tag",))}
#: A numeric character reference, its ``;`` optional (the curation SQL's ``_DECIMAL_REFERENCE_RE``,
#: ``_HEX_REFERENCE_RE`` and ``_REFERENCE_RE`` after the ``&#`` it splits at): its decimal value's digits (group 1),
#: its hexadecimal's (group 2), or more digits than any code point has (neither).
REFERENCE_RE = re.compile(r"&#(?:0*([0-9]{1,7})(?![0-9])|[xX]0*([0-9a-fA-F]{1,6})(?![0-9a-fA-F])|[0-9]+"
                          r"|[xX][0-9a-fA-F]+);?")
#: A numeric reference without its ``;`` before a ``<`` (the curation SQL's ``UNENDED_REFERENCE_RE``): given its ``;``
#: before the tags are removed.
UNENDED_REFERENCE_RE = re.compile(r"(&#(?:[0-9]+|[xX][0-9a-fA-F]+))<")
#: A reference to a code point from U+0100 on (the curation SQL's ``WIDE_REFERENCE_RE``).
WIDE_REFERENCE_RE = re.compile(r"&#(?:0*[1-9][0-9]{2}|[xX]0*[1-9a-fA-F][0-9a-fA-F]{2})")
#: The emoji characters of Unicode 17.0, as code point ranges: a copy of the curation SQL's
#: (``fediscope.engine.curate_sql.EMOJI_PRESENTATION`` and the others, which say what they are; a test keeps the
#: copies equal).
EMOJI_PRESENTATION: tuple[tuple[int, int], ...] = (
    (0x231A, 0x231B), (0x23E9, 0x23EC), (0x23F0, 0x23F0), (0x23F3, 0x23F3), (0x25FD, 0x25FE), (0x2614, 0x2615),
    (0x2648, 0x2653), (0x267F, 0x267F), (0x2693, 0x2693), (0x26A1, 0x26A1), (0x26AA, 0x26AB), (0x26BD, 0x26BE),
    (0x26C4, 0x26C5), (0x26CE, 0x26CE), (0x26D4, 0x26D4), (0x26EA, 0x26EA), (0x26F2, 0x26F3), (0x26F5, 0x26F5),
    (0x26FA, 0x26FA), (0x26FD, 0x26FD), (0x2705, 0x2705), (0x270A, 0x270B), (0x2728, 0x2728), (0x274C, 0x274C),
    (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757), (0x2795, 0x2797), (0x27B0, 0x27B0), (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x1F004, 0x1F004), (0x1F0CF, 0x1F0CF), (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A), (0x1F201, 0x1F201), (0x1F21A, 0x1F21A), (0x1F22F, 0x1F22F), (0x1F232, 0x1F236),
    (0x1F238, 0x1F23A), (0x1F250, 0x1F251), (0x1F300, 0x1F320), (0x1F32D, 0x1F335), (0x1F337, 0x1F37C),
    (0x1F37E, 0x1F393), (0x1F3A0, 0x1F3CA), (0x1F3CF, 0x1F3D3), (0x1F3E0, 0x1F3F0), (0x1F3F4, 0x1F3F4),
    (0x1F3F8, 0x1F43E), (0x1F440, 0x1F440), (0x1F442, 0x1F4FC), (0x1F4FF, 0x1F53D), (0x1F54B, 0x1F54E),
    (0x1F550, 0x1F567), (0x1F57A, 0x1F57A), (0x1F595, 0x1F596), (0x1F5A4, 0x1F5A4), (0x1F5FB, 0x1F64F),
    (0x1F680, 0x1F6C5), (0x1F6CC, 0x1F6CC), (0x1F6D0, 0x1F6D2), (0x1F6D5, 0x1F6D9), (0x1F6DC, 0x1F6DF),
    (0x1F6EB, 0x1F6EC), (0x1F6F4, 0x1F6FC), (0x1F7E0, 0x1F7EB), (0x1F7F0, 0x1F7F0), (0x1F90C, 0x1F93A),
    (0x1F93C, 0x1F945), (0x1F947, 0x1F9FF), (0x1FA70, 0x1FA7C), (0x1FA80, 0x1FAC6), (0x1FAC8, 0x1FAC8),
    (0x1FACC, 0x1FADD), (0x1FADF, 0x1FAEB), (0x1FAEF, 0x1FAFA),
)
EMOJI_TEXT: tuple[tuple[int, int], ...] = (
    (0xA9, 0xA9), (0xAE, 0xAE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122), (0x2139, 0x2139),
    (0x2194, 0x2199), (0x21A9, 0x21AA), (0x2328, 0x2328), (0x23CF, 0x23CF), (0x23ED, 0x23EF), (0x23F1, 0x23F2),
    (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FC),
    (0x2600, 0x2604), (0x260E, 0x260E), (0x2611, 0x2611), (0x2618, 0x2618), (0x261D, 0x261D), (0x2620, 0x2620),
    (0x2622, 0x2623), (0x2626, 0x2626), (0x262A, 0x262A), (0x262E, 0x262F), (0x2638, 0x263A), (0x2640, 0x2640),
    (0x2642, 0x2642), (0x265F, 0x2660), (0x2663, 0x2663), (0x2665, 0x2666), (0x2668, 0x2668), (0x267B, 0x267B),
    (0x267E, 0x267E), (0x2692, 0x2692), (0x2694, 0x2697), (0x2699, 0x2699), (0x269B, 0x269C), (0x26A0, 0x26A0),
    (0x26A7, 0x26A7), (0x26B0, 0x26B1), (0x26C8, 0x26C8), (0x26CF, 0x26CF), (0x26D1, 0x26D1), (0x26D3, 0x26D3),
    (0x26E9, 0x26E9), (0x26F0, 0x26F1), (0x26F4, 0x26F4), (0x26F7, 0x26F9), (0x2702, 0x2702), (0x2708, 0x2709),
    (0x270C, 0x270D), (0x270F, 0x270F), (0x2712, 0x2712), (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D),
    (0x2721, 0x2721), (0x2733, 0x2734), (0x2744, 0x2744), (0x2747, 0x2747), (0x2763, 0x2764), (0x27A1, 0x27A1),
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
    (0x1F170, 0x1F171), (0x1F17E, 0x1F17F), (0x1F202, 0x1F202), (0x1F237, 0x1F237), (0x1F321, 0x1F321),
    (0x1F324, 0x1F32C), (0x1F336, 0x1F336), (0x1F37D, 0x1F37D), (0x1F396, 0x1F397), (0x1F399, 0x1F39B),
    (0x1F39E, 0x1F39F), (0x1F3CB, 0x1F3CE), (0x1F3D4, 0x1F3DF), (0x1F3F3, 0x1F3F3), (0x1F3F5, 0x1F3F5),
    (0x1F3F7, 0x1F3F7), (0x1F43F, 0x1F43F), (0x1F441, 0x1F441), (0x1F4FD, 0x1F4FD), (0x1F549, 0x1F54A),
    (0x1F56F, 0x1F570), (0x1F573, 0x1F579), (0x1F587, 0x1F587), (0x1F58A, 0x1F58D), (0x1F590, 0x1F590),
    (0x1F5A5, 0x1F5A5), (0x1F5A8, 0x1F5A8), (0x1F5B1, 0x1F5B2), (0x1F5BC, 0x1F5BC), (0x1F5C2, 0x1F5C4),
    (0x1F5D1, 0x1F5D3), (0x1F5DC, 0x1F5DE), (0x1F5E1, 0x1F5E1), (0x1F5E3, 0x1F5E3), (0x1F5E8, 0x1F5E8),
    (0x1F5EF, 0x1F5EF), (0x1F5F3, 0x1F5F3), (0x1F5FA, 0x1F5FA), (0x1F6CB, 0x1F6CB), (0x1F6CD, 0x1F6CF),
    (0x1F6E0, 0x1F6E5), (0x1F6E9, 0x1F6E9), (0x1F6F0, 0x1F6F0), (0x1F6F3, 0x1F6F3),
)

REGIONAL_INDICATORS: tuple[tuple[int, int], ...] = ((0x1F1E6, 0x1F1FF),)
EMOJI_MODIFIERS: tuple[tuple[int, int], ...] = ((0x1F3FB, 0x1F3FF),)  # the skin tones


def _members(ranges: Iterable[tuple[int, int]], char: Callable[[int], str]) -> str:
    """The inside of a character class of ``ranges`` (inclusive), each code point written by ``char``."""
    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


def emoji_pattern(char: Callable[[int], str]) -> str:
    """A copy of ``fediscope.engine.curate_sql.emoji_pattern``, which says what it matches and why."""
    vs16 = char(0xFE0F)
    modifier, indicator = f"[{_members(EMOJI_MODIFIERS, char)}]", f"[{_members(REGIONAL_INDICATORS, char)}]"
    element = (f"(?:{indicator}{indicator}|[#*0-9]{vs16}?{char(0x20E3)}"
               f"|[{_members(EMOJI_PRESENTATION, char)}](?:{modifier}|{vs16})?"
               f"|[{_members(EMOJI_TEXT, char)}](?:{vs16}|{modifier}))")
    return f"{element}(?:{char(0x200D)}{element})*"


def non_emoji_pattern(char: Callable[[int], str]) -> str:
    """A copy of ``fediscope.engine.curate_sql.non_emoji_pattern``, which says what it matches and why."""
    used = sorted((*EMOJI_PRESENTATION, *EMOJI_TEXT, *REGIONAL_INDICATORS, (0x23, 0x23), (0x2A, 0x2A), (0x30, 0x39),
                   (0x200D, 0x200D), (0x20E3, 0x20E3), (0xFE0F, 0xFE0F)))
    spans: list[tuple[int, int]] = []
    for first, last in used:
        if spans and first > 0xFF and first - spans[-1][1] <= 0x80:
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((first, last))
    gaps: list[tuple[int, int]] = []
    start = 0
    for first, last in spans:
        if first > start:
            gaps.append((start, first - 1))
        start = last + 1
    return f"[{_members([*gaps, (start, 0x10FFFF)], char)}]+"


#: The curation SQL's ``EMOJI_RE`` and ``NON_EMOJI_RE``, in Python's escapes.
EMOJI_RE = re.compile(emoji_pattern(lambda cp: f"\\U{cp:08X}"))
NON_EMOJI_RE = re.compile(non_emoji_pattern(lambda cp: f"\\U{cp:08X}"))
#: Longer hashtag names (in characters, after lower-casing) are dropped from a status's tags: no store key can hold
#: one, and servers have sent tags of thousands of characters. The curation SQL's rule:
#: ``fediscope.engine.curate_sql.MAX_TAG_LENGTH``.
MAX_TAG_LENGTH = 255
#: A character that is not one of Unicode's White_Space characters: a tag name without one (empty, or spaces only)
#: names no tag and is dropped, as the curation SQL drops it (``curate_sql.TAG_CHARACTER_RE``).
TAG_CHARACTER_RE = re.compile("[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
#: A tag's start and a character reference (the curation SQL's ``TAG_RE`` and ``ENTITY_RE``): a tag runs from a
#: ``<`` and a letter, ``/``, ``!`` or ``?`` to the next ``>``; a numeric reference needs no ``;``.
_TAG_START_RE = re.compile(r"<[A-Za-z/!?]")
_ENTITY_RE = re.compile(r"&(?:#(?:[0-9]+|[xX][0-9a-fA-F]+);?|[A-Za-z0-9]+;)")
#: A quote post's fallback link (``fediscope.engine.curate_sql.QUOTE_INLINE_RE``, which says why it is removed), its
#: tag and attribute names in any case.
QUOTE_INLINE_RE = re.compile(r'<[pP] [cC][lL][aA][sS][sS]="quote-inline">(?:[^<]|<[bB][rR][^>]*>)*'
                             r"<[aA][\t\n\f\r ][^>]*>(?:[^<]|<[^/]|</[^aA])*</[aA]>(?:[^<]|<[bB][rR][^>]*>)*</[pP]>")
#: Another server's quote fallback at the end of the text (``fediscope.engine.visible_text.TRAILING_QUOTE_INLINE_RE``,
#: which says why ``re.search`` finds it in linear time; ``\z`` there).
_QUOTE_BODY = (r"(?:[^<]|<[bB][rR][^>]*>)*<[aA][\t\n\f\r ][^>]*>"
               r"(?:[^<]|<[^/pPsS]|<[sS][^pP]|<[pP][^\t\n\f\r >]|</[^aA])*</[aA]>(?:[^<]|<[bB][rR][^>]*>)*")
TRAILING_QUOTE_INLINE_RE = re.compile(rf'(?:<[sS][pP][aA][nN] [cC][lL][aA][sS][sS]="quote-inline">{_QUOTE_BODY}'
                                      rf'</[sS][pP][aA][nN]>(?:</[pP]>)?'
                                      rf'|<[pP] [cC][lL][aA][sS][sS]="quote-inline">{_QUOTE_BODY}</[pP]>)\Z')
_HOME_RE = re.compile(r"@([^@]+)\Z")
#: A Mastodon status URI: home instance and the status's id there (``fediscope.privacy.STATUS_URI_PATTERN``).
STATUS_URI_RE = re.compile(r"^https?://([^/?#]+)/(?:ap/)?users/[^/?#]+/statuses/([^/?#]+)(?:/activity)?$")
_TS_RE = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                    r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?| [Uu][Tt][Cc])?\s*)?\Z")
#: The curation SQL's ``TIMESTAMP_RE`` (``\\z`` there; ``[0-9]``, not ``\\d``, which matches other scripts' digits
#: too): the one timestamp form curated, alike on every engine; any other text is unknown.
TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
                          r"(Z|[+-](0[0-9]|1[0-7])(:?[0-5][0-9])?|[+-]18(:?00)?)?)?\Z")
UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; Hadoop nodes may have an older python3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The ``--first-day`` form: a day, as ``fediscope.gdpr.retention`` writes a cutoff.
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DAY_US = 86_400 * 1_000_000
_BIGINT_MIN, _BIGINT_MAX = -(1 << 63), (1 << 63) - 1
#: Days in 400 Gregorian years, after which the calendar repeats.
_CYCLE_DAYS = 146_097
#: How far after its fetch a status may be dated (a remote clock running fast), in microseconds: the curation SQL's
#: ``CLOCK_SKEW``. A version created or edited later than that is impossible and skipped, as the SQL skips it.
CLOCK_SKEW_US = 3600 * 1_000_000
#: The visibilities of a status that is public data (none given counts as public): a copy of
#: ``fediscope.privacy.PUBLIC_VISIBILITIES``, the rule of landing and of the curation SQL (a test keeps them equal).
PUBLIC_VISIBILITIES = (None, "public", "unlisted")
_STATUS_ENTITIES = ("statuses",)
_ACCOUNT_ENTITIES = ("accounts", "directory")
#: The raw schemas curation reads the lake with: a copy of ``fediscope.engine.schema``'s ``META``, ``ACCOUNT`` and
#: ``STATUS`` (a test keeps them equal). DuckDB's reader converts every declared field of a record to its type and
#: stops the curation on one it cannot convert (``"tags": {}``, ``"bot": "y"``, ``"followers_count": "12.5"``), so
#: the mapper checks the same fields (:func:`check_types`) and skips such a record as malformed.
RAW_META: dict[str, Any] = {"instance": "string", "fetched_at": "string"}
RAW_ACCOUNT: dict[str, Any] = {
    "acct": "string", "username": "string", "domain": "string",
    "created_at": "string", "followers_count": "bigint", "following_count": "bigint",
    "statuses_count": "bigint", "bot": "boolean", "group": "boolean", "last_status_at": "string",
}
_RAW_STATUS_FIELDS: dict[str, Any] = {
    "id": "string", "uri": "string", "origin_ref": "string", "created_at": "string", "edited_at": "string",
    "in_reply_to_id": "string", "visibility": "string",
    "language": "string", "replies_count": "bigint", "reblogs_count": "bigint", "favourites_count": "bigint",
    "content": "string", "deleted": "boolean",
    "authored_length": "bigint",
    "spoiler_text": "string", "sensitive": "boolean",
    "authored_spoiler_length": "bigint",
    "account": RAW_ACCOUNT,
    "tags": [{"name": "string"}],
    "emojis": [{"shortcode": "string"}],
    "mentions": [{"acct": "string", "url": "string"}],
    "media_attachments": [{"type": "string"}],
    "quote": {"quoted_status": {"visibility": "string",
                                "account": {"acct": "string", "username": "string", "domain": "string"}}},
}
RAW_STATUS: dict[str, Any] = {**_RAW_STATUS_FIELDS, "reblog": dict(_RAW_STATUS_FIELDS)}
#: The curation SQL's ``MAX_ENGAGEMENT_COUNT``: a reply, boost or favourite count above it, or negative, is unknown (0).
MAX_ENGAGEMENT_COUNT = 2**32 - 1
#: The entity directory of a raw lake path: ``…/raw/mastodon/<entity>/…``, the LAST such segment (the lake's own;
#: the greedy prefix makes it the last, also when segments overlap: ``…/raw/mastodon/raw/mastodon/statuses/…``).
_PATH_ENTITY_RE = re.compile(r"(?:.*/)?raw/mastodon/([^/]+)/", re.DOTALL)


def escape(text: str) -> str:
    """A string as one tab-free field (backslash escapes); ``None`` is ``\\N``, as in Hive and MySQL dumps."""
    if text is None:
        return NULL
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def bucket(key: str) -> str:
    return str(zlib.crc32(key.encode("utf-8", "surrogatepass")) % BUCKETS)


def as_text(value: Any) -> str | None:
    """A JSON value read as VARCHAR, like DuckDB's ``read_json`` with a string column (and Spark's reader): numbers
    and booleans as their text, an object or a list as its compact JSON text (``{"a":1}``), not as NULL: a
    ``content``, ``uri`` or ``visibility`` that is an object is that text to curation."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):  # noqa: UP038
        return _COMPACT_JSON(value)
    return json.dumps(value)


def engagement_count(count: int | None) -> int:
    """A status's reply, boost or favourite count as curation reads it: 0 when unknown, negative or beyond
    :data:`MAX_ENGAGEMENT_COUNT`."""
    return count if count is not None and 0 <= count <= MAX_ENGAGEMENT_COUNT else 0


def as_int(value: Any) -> int | None:
    """A JSON value read as BIGINT, as DuckDB's ``read_json`` reads it into a BIGINT column (None for null).

    A number with a fraction is rounded half to even (``2.5`` → 2, ``3.5`` → 4), as DuckDB's reader rounds it
    (Python's ``round``; adding 0.5 rounded halves up, and lost precision past 2**52); ``true`` is 1, ``false`` 0;
    a string is read as DuckDB casts text: an ASCII decimal integer without a ``+`` or leading zeros
    (``"12"``, ``"-3"``), or a ``0x`` hexadecimal or ``0b`` binary one (``"0x10"`` is 16), between ASCII white
    space. What the reader refuses, which stops the SQL curation ("Failed to cast value to numerical"), raises
    :class:`NotARecord`, and the mapper skips the record as malformed (counted): a number no 64-bit integer can hold
    (``1e999``, ``Infinity``, ``NaN``, 2**63; ``bad_count``), any other string (``"12.5"``, ``"+7"``, ``"abc"``,
    ``"٣"``), an object or a list (``bad_type``).
    """
    if type(value) is int and _BIGINT_MIN <= value <= _BIGINT_MAX:  # the common case, first
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotARecord("bad_count", f"{value!r} is not a 64-bit integer")
        value = round(value)
    elif isinstance(value, str):
        match = _INTEGER_TEXT_RE.fullmatch(value.strip(_C_SPACES))
        if match is None:
            raise NotARecord("bad_type", f"{json.dumps(value, ensure_ascii=False)[:40]} is not an integer")
        text, (decimal, hexadecimal, binary) = value, match.groups()
        if decimal is not None and len(decimal.lstrip("-")) > _BIGINT_DIGITS:
            # beyond 64 bits; and past 4,300 digits int() raises a ValueError (Python's limit on converting text),
            # which was a traceback stopping the mapper
            raise NotARecord("bad_count", f"{_shortened(text)} is not a 64-bit integer")
        value = (int(decimal) if decimal is not None else
                 int(hexadecimal, 16) if hexadecimal is not None else int(binary, 2))
        if not _BIGINT_MIN <= value <= _BIGINT_MAX:  # said as its text: repr() of a huge integer raises too
            raise NotARecord("bad_count", f"{_shortened(text)} is not a 64-bit integer")
    elif not isinstance(value, int):
        raise NotARecord("bad_type", f"{_json_kind(value)} is not an integer")
    if not _BIGINT_MIN <= value <= _BIGINT_MAX:
        raise NotARecord("bad_count", f"{value!r} is not a 64-bit integer")
    return value


#: The text DuckDB casts to an integer (:func:`as_int`), once the white space of C's ``isspace`` is stripped.
_INTEGER_TEXT_RE = re.compile(r"(-?(?:0|[1-9][0-9]*))|0[xX]([0-9a-fA-F]+)|0[bB]([01]+)")
_C_SPACES = " \t\n\v\f\r"
#: The most digits of a decimal integer text (without leading zeros) that a 64-bit integer can hold
_BIGINT_DIGITS = len(str(_BIGINT_MAX))


def _shortened(text: str) -> str:
    """A string value as the mapper names it in a message: its JSON text, cut after 40 characters."""
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= 40 else f"{shown[:40]}…"


#: The words DuckDB reads as a boolean, in any case of their ASCII letters (:func:`as_bool`).
_TRUE_WORDS, _FALSE_WORDS = frozenset(("true", "t", "yes")), frozenset(("false", "f", "no"))
_UBIGINT_MAX = (1 << 64) - 1


def as_bool(value: Any) -> bool | None:
    """A JSON value read as BOOLEAN, as DuckDB's ``read_json`` reads it into a BOOLEAN column (None for null): a
    number is true unless it is 0 (``1``, ``2``, ``0.5``: true), a string ``true``, ``t``, ``yes``, ``false``,
    ``f``, ``no`` in any case (``"yes"``: true); anything else (``"1"``, ``"y"``, ``" true"``, an object, a list, a
    number beyond 64 bits) raises :class:`NotARecord` (``bad_type``): the reader refuses it, which stops the SQL
    curation."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and _BIGINT_MIN <= value <= _UBIGINT_MAX:
        return value != 0
    if isinstance(value, float) and math.isfinite(value):
        return value != 0
    if isinstance(value, str) and value.isascii():
        word = value.lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    shown = json.dumps(value, ensure_ascii=False)[:40] if isinstance(value, (str, int, float)) else _json_kind(value)
    raise NotARecord("bad_type", f"{shown} is not a boolean")


def check_types(value: Any, declared: Any, path: str) -> None:
    """Raises :class:`NotARecord` (``bad_type``, ``bad_count``), naming the field, when ``value`` holds a field of the
    raw schema ``declared`` (:data:`RAW_STATUS`, :data:`RAW_ACCOUNT`) that DuckDB's reader cannot convert to its
    type: an object that is not an object, a list that is not a list or holds something else than objects and
    nulls, a count or flag :func:`as_int` or :func:`as_bool` refuses. Text fields take any value
    (:func:`as_text`).

    It runs for every record, so a fast pass (:func:`types_readable`, which builds no strings) says whether there is
    anything to refuse, and only then does :func:`find_type_problem` walk the record again for the field's path (the
    path of every field of every record made the mapper 9% slower)."""
    if declared is RAW_STATUS:
        shape = _STATUS_SHAPE
    elif declared is RAW_ACCOUNT:
        shape = _ACCOUNT_SHAPE
    else:
        shape = None
    if shape is None or value is None or type(value) is not dict or not types_readable(value, shape):
        find_type_problem(value, declared, path)


def find_type_problem(value: Any, declared: Any, path: str) -> None:
    """:func:`check_types` the slow way: every field visited in the schema's order, with its path (``data.account.bot``,
    ``data.tags[0]``), so the first field that cannot be read is the one named."""
    if value is None:
        return
    if isinstance(declared, dict):
        if not isinstance(value, dict):
            raise NotARecord("bad_type", f"{path} is {_json_kind(value)}, expected an object")
        for name, sub in declared.items():
            find_type_problem(value.get(name), sub, f"{path}.{name}")
    elif isinstance(declared, list):
        if not isinstance(value, list):
            raise NotARecord("bad_type", f"{path} is {_json_kind(value)}, expected a list")
        for index, element in enumerate(value):
            find_type_problem(element, declared[0], f"{path}[{index}]")
    elif declared in ("bigint", "boolean"):
        try:
            as_int(value) if declared == "bigint" else as_bool(value)
        except NotARecord as exc:
            raise NotARecord(exc.reason, f"{path}: {exc.detail}") from None


#: A raw schema's object compiled for :func:`types_readable`: its count fields, its flag fields, its objects (name and
#: compiled schema) and its lists (name and the compiled schema of an element, or a scalar type's name). Text fields
#: take any value and are left out; so is an object's schema that has nothing but text fields (None). (Spelt out for
#: type checkers only: a runtime ``tuple[…]`` fails on the old python3 of a Hadoop node.)
if TYPE_CHECKING:
    Shape = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]


def compile_shape(declared: dict[str, Any]) -> Shape | None:
    """The :data:`Shape` of an object of a raw schema; None when all its fields are text (any value is read)."""
    bigints = tuple(name for name, sub in declared.items() if sub == "bigint")
    booleans = tuple(name for name, sub in declared.items() if sub == "boolean")
    objects = tuple((name, compile_shape(sub)) for name, sub in declared.items() if isinstance(sub, dict))
    lists = tuple((name, compile_shape(sub[0]) if isinstance(sub[0], dict) else sub[0])
                  for name, sub in declared.items() if isinstance(sub, list))
    return (bigints, booleans, objects, lists) if bigints or booleans or objects or lists else None


def _converts(read: Callable[[Any], Any], value: Any) -> bool:
    """Whether ``read`` (:func:`as_int`, :func:`as_bool`) reads ``value`` without an error."""
    try:
        read(value)
    except ValueError:  # NotARecord; or what else it raises: find_type_problem then raises it as before
        return False
    return True


def _scalar_readable(value: Any, declared: str) -> bool:
    if declared == "bigint":
        return (type(value) is int and _BIGINT_MIN <= value <= _BIGINT_MAX) or _converts(as_int, value)
    if declared == "boolean":
        return type(value) is bool or _converts(as_bool, value)
    return True


def types_readable(value: dict[str, Any], shape: Shape) -> bool:
    """Whether :func:`find_type_problem` finds nothing in the object ``value`` of the schema ``shape``
    (:func:`compile_shape`), quickly: exact JSON types (an object or list of another class is left to
    :func:`find_type_problem`), text fields not visited, no paths built. Loops, not ``all(<generator>)``: this runs
    for every field of every record."""
    bigints, booleans, objects, lists = shape
    get = value.get
    for name in bigints:
        field = get(name)
        if field is not None and not (type(field) is int and _BIGINT_MIN <= field <= _BIGINT_MAX) \
                and not _converts(as_int, field):
            return False
    for name in booleans:
        field = get(name)
        if field is not None and type(field) is not bool and not _converts(as_bool, field):
            return False
    for name, sub in objects:
        field = get(name)
        if field is not None and (type(field) is not dict or (sub is not None and not types_readable(field, sub))):
            return False
    for name, sub in lists:
        field = get(name)
        if field is None:
            continue
        if type(field) is not list:
            return False
        if sub is None:  # objects of text fields
            for element in field:
                if element is not None and type(element) is not dict:
                    return False
        elif type(sub) is str:
            for element in field:
                if element is not None and not _scalar_readable(element, sub):
                    return False
        else:
            for element in field:
                if element is not None and (type(element) is not dict or not types_readable(element, sub)):
                    return False
    return True


_STATUS_SHAPE, _ACCOUNT_SHAPE = compile_shape(RAW_STATUS), compile_shape(RAW_ACCOUNT)


#: The times :func:`micros` read lately, by their text: a batch's records share their ``fetched_at`` and an author's
#: ``created_at`` comes with each of their statuses (3 of 4 reads in a generated corpus are repeats). Emptied when
#: full; texts longer than a timestamp are not kept.
_MICROS_READ: dict[str, int | None] = {}
_MICROS_READ_SIZE, _MICROS_TEXT_MAX = 4096, 64


def micros(value: Any) -> int | None:
    """An ISO timestamp of the form :data:`TIMESTAMP_RE` → microseconds since the epoch in UTC; None for any
    other text and for a time that does not exist (February 30th).

    Mirrors the curation SQL's ``_ts``: fractions beyond microseconds are truncated, a date alone is midnight, no
    offset is UTC. Year ``0000`` (1 BC) is a year, as in DuckDB.
    """
    if not isinstance(value, str):
        return None
    if value in _MICROS_READ:
        return _MICROS_READ[value]
    found = _read_micros(value)
    if len(value) <= _MICROS_TEXT_MAX:
        if len(_MICROS_READ) >= _MICROS_READ_SIZE:
            _MICROS_READ.clear()
        _MICROS_READ[value] = found
    return found


def _read_micros(value: str) -> int | None:
    """:func:`micros`, not remembered."""
    if not TIMESTAMP_RE.match(value):
        return None
    match = _TS_RE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    # Python's dates start in year 1: year 0 is read 400 years later (the Gregorian calendar repeats every 400
    # years, :data:`_CYCLE_DAYS` days) and moved back
    shift = _CYCLE_DAYS if int(year) == 0 else 0
    try:
        moment = datetime(int(year) + (400 if shift else 0), int(month), int(day), int(hour or 0),
                          int(minute or 0), int(second or 0), int((fraction or "0")[:6].ljust(6, "0")), tzinfo=UTC)
    except ValueError:
        return None
    if offset and offset[0] in "+-":
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0), seconds=int(digits[4:6] or 0))
        moment = moment.replace(tzinfo=timezone(delta if offset[0] == "+" else -delta))
    diff = moment - _EPOCH
    return (diff.days - shift) * _DAY_US + diff.seconds * 1_000_000 + diff.microseconds


def utc_day(us: int) -> str | None:
    """The UTC date (``YYYY-MM-DD``, the year zero-padded to four digits as DuckDB writes a ``DATE``) of a time in
    epoch microseconds; None before year 1, a time the curation SQL loses (DuckDB dates it ``… (BC)``, and such a
    status never reaches the curated table), so the mapper skips the version as the SQL does. Computed from the
    day count (proleptic Gregorian), not with ``datetime``, which stops at the years 1 and 9999."""
    days = us // _DAY_US + 719_468  # days since 0000-03-01
    era, day_of_era = divmod(days, _CYCLE_DAYS)
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = month_from_march + 3 if month_from_march < 10 else month_from_march - 9
    year = era * 400 + year_of_era + (month <= 2)
    return None if year < 1 else f"{year:04d}-{month:02d}-{day:02d}"


def fold(text: str) -> str:
    """Lower-case as the curation SQL does (``curate_sql._lower``, DuckDB's ``lower``: code point by code point):
    Python's ``str.lower`` lowers a final capital sigma to ``ς`` and ``İ`` to ``i`` plus a combining dot, so those
    two letters are lowered first."""
    return text.replace("\u0130", "i").replace("\u03a3", "\u03c3").lower()


def _lower(text: str | None) -> str | None:
    return None if text is None else fold(text)


def account_key(account: dict[str, Any], instance: str | None) -> str | None:
    """The curated account key: the pseudonymous ``acct`` when the policy set ``domain``, else ``user@domain``."""
    acct = as_text(account.get("acct"))
    if acct is None:
        acct = as_text(account.get("username"))
    if as_text(account.get("domain")) is not None:
        return acct
    if acct is None:
        return None
    if "@" in acct:
        return fold(acct)
    return None if instance is None else fold(acct + "@" + instance)


def home_instance(account: dict[str, Any], instance: str | None) -> str | None:
    domain = as_text(account.get("domain"))
    if domain is not None:
        return domain
    acct = as_text(account.get("acct"))
    if acct is None:
        acct = as_text(account.get("username"))
    if acct is not None and "@" in acct:
        match = _HOME_RE.search(acct)
        return fold(match.group(1)) if match else ""
    return _lower(instance)


def from_home(home: str | None, instance: str | None) -> bool:
    """Whether an account snapshot fetched from ``instance`` comes from the account's home server (``home``, see
    :func:`home_instance`): ``instance`` is that domain or a subdomain of it, a server serving handles of a parent
    domain (``curate_sql._from_home``)."""
    if home is None or instance is None:
        return False
    fetched = fold(instance)
    return home == fetched or (home != "" and fetched.split(":", 1)[0].endswith("." + home))


def _dicts(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _anchor_end(content: str, pos: int, stops: list[int], known: dict[int, int]) -> int:
    """Where :data:`ANCHOR_RE` ends an anchor whose attributes start at ``pos``: the index of its ``>``, -1 when it
    matches none there. Outside quotes only ``>`` (the end) and ``=`` (a value follows: quoted, its closing quote
    skipped; unquoted; none before the ``>``) matter, found among ``stops`` (every ``>`` and ``=``, ascending). What
    follows an ``=`` does not depend on where the anchor started: ``known`` keeps the end each ``=`` read led to, so
    anchors that fail and start again inside one another read each ``=`` once."""
    seen: list[int] = []
    end = -1
    while True:
        index = bisect.bisect_left(stops, pos)
        if index == len(stops):
            break
        at = stops[index]
        if content[at] == ">":
            end = at
            break
        if at in known:
            end = known[at]
            break
        seen.append(at)
        value = at + 1
        while value < len(content) and content[value] in _WS_CHARS:
            value += 1
        if value == len(content):
            break
        char = content[value]
        if char == ">":
            end = value
            break
        if char in "\"'":
            close = content.find(char, value + 1)
            if close < 0:  # a quote never closed: no anchor here
                break
            pos = close + 1
        else:  # an unquoted value; the rest of it is read as the attributes are
            pos = value + 1
    for at in seen:
        known[at] = end
    return end


def _anchors(content: str) -> Iterator[str]:
    """``ANCHOR_RE.findall(content)`` in linear time (a logarithm apart). Python's backtracking ``re`` takes quadratic
    time on a ``<a `` with no ``>`` after it, trying every later ``<a `` to the end (``"<a " * n``); RE2 does not.
    :func:`_anchor_end` reads each anchor; an anchor that does not end (no ``>``, or a quote never closed) is no
    match, and the search goes on after its ``<`` as a regex's does."""
    if _ANCHOR_START_RE.search(content) is None:
        return
    stops = [match.start() for match in _ANCHOR_STOP_RE.finditer(content)]
    known: dict[int, int] = {}
    pos = 0
    while (start := _ANCHOR_START_RE.search(content, pos)) is not None:
        end = _anchor_end(content, start.end(), stops, known)
        if end < 0:
            pos = start.start() + 1
            continue
        yield content[start.start():end + 1]
        pos = end + 1


def is_not_link(anchor: str) -> bool:
    """``NOT_LINK_RE.search(anchor)`` in linear time (the regex backtracks quadratically over a long unclosed
    ``class="mention mention …``): a ``class`` attribute (its name in any case) whose value, quoted with ``"`` or
    ``'``, has a ``mention`` or ``hashtag`` token, or unquoted is one, or a ``rel`` whose value has or is ``tag``,
    tokens separated by the RE2 spaces of :data:`_WS`. Once a quote is not closed after one value, it is not after any
    later one either (``unclosed``)."""
    unclosed: set[str] = set()
    for match in _ATTRIBUTE_RE.finditer(anchor):
        start = match.end()
        while start < len(anchor) and anchor[start] in _WS_CHARS:
            start += 1
        tokens = _NOT_LINK_TOKENS[match.group(1).lower()]
        quote = anchor[start:start + 1]
        if quote in ('"', "'"):
            end = -1 if quote in unclosed else anchor.find(quote, start + 1)
            if end < 0:
                unclosed.add(quote)
                continue
            if not tokens.isdisjoint(_WS_SPLIT_RE.split(anchor[start + 1:end])):
                return True
        else:  # unquoted: the value runs to a space or the tag's end (an anchor ends with its ">")
            end = start
            while end < len(anchor) and anchor[end] not in _WS_CHARS and anchor[end] != ">":
                end += 1
            if end < len(anchor) and anchor[start:end] in tokens:
                return True
    return False


def url_count(content: str) -> int:
    """Links: anchors (:data:`ANCHOR_RE`) that are not mentions or hashtags (:data:`NOT_LINK_RE`), as the curation
    SQL counts them, in linear time (:func:`_anchors`, :func:`is_not_link`)."""
    return sum(1 for anchor in _anchors(content) if not is_not_link(anchor))


def authored_text(content: str) -> str:
    """``content`` without a quote post's fallback link (the curation SQL's ``_authored_text``): Mastodon's first
    paragraph, then another server's last element."""
    match = QUOTE_INLINE_RE.match(content) if content[8:24] == '="quote-inline">' else None
    text = content if match is None else content[match.end():]
    trailing = TRAILING_QUOTE_INLINE_RE.search(text) if '="quote-inline">' in text else None
    return text if trailing is None else text[:trailing.start()]


def _referenced(match: re.Match[str]) -> str:
    """The character HTML reads for a numeric character reference (:data:`REFERENCE_RE`), as far as the emoji count
    sees it (the curation SQL's ``_referenced``): U+FFFD for 0, a surrogate, one beyond U+10FFFF and the C1 controls
    but ``&#153;``, which HTML reads as ™ (Windows-1252)."""
    decimal, hexadecimal = match.group(1), match.group(2)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16) if hexadecimal is not None else -1
    if code == 0x99:
        return "\u2122"
    if code <= 0 or 0x80 <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\ufffd"
    return chr(code)


def unicode_emoji_count(content: str) -> int:
    """Emoji sequences in ``content`` without its tags, its numeric character references read as characters, as the
    curation SQL counts them (``curate_sql._unicode_emoji_count``): a flag, a keycap, an emoji with its skin tone, a
    ZWJ sequence count one each."""
    references = "&#" in content
    if content.isascii() and not (references and WIDE_REFERENCE_RE.search(content)):
        return 0
    if references:  # a tag ends a reference's number: its ";" first
        visible = REFERENCE_RE.sub(_referenced, strip_tags(UNENDED_REFERENCE_RE.sub(r"\1;<", content)))
    else:
        visible = strip_tags(content)
    return len(EMOJI_RE.findall(NON_EMOJI_RE.sub(" ", visible)))


def strip_tags(content: str) -> str:
    """The curation SQL's ``regexp_replace(content, TAG_RE, '')`` in linear time. The regex takes quadratic time on
    a tag's start with no ``>`` after it, trying every later start to the end (``"<a" * n``); RE2 does not. A tag
    ends at the first ``>`` after its start (:data:`_TAG_START_RE`), and once a start has none, no later start has
    one either."""
    parts: list[str] = []
    pos = 0
    while True:
        found = _TAG_START_RE.search(content, pos)
        if found is None:
            break
        start = found.start()
        end = content.find(">", start + 2)
        if end < 0:
            break
        parts.append(content[pos:start])
        pos = end + 1
    if not pos:
        return content
    parts.append(content[pos:])
    return "".join(parts)


def content_length(content: str) -> int:
    """Characters of ``content`` without its tags, a character reference counting as one (the curation SQL's
    ``_visible_length``), the references read first (a tag ends a numeric one without its ``;``)."""
    return len(strip_tags(_ENTITY_RE.sub("&", content)))


def authored_length(status: dict[str, Any], content: str) -> int:
    """The curated ``content_length`` of a status version (``curate_sql._content_length``): the ``authored_length``
    the privacy policy recorded when it rewrote the text (handles and links became pseudonyms of other lengths),
    else the :func:`content_length` of its authored ``content``."""
    recorded = as_int(status.get("authored_length"))
    return recorded if recorded is not None and recorded >= 0 else content_length(content)


def mention_keys(status: dict[str, Any], instance: str | None) -> set[str | None]:
    keys: set[str | None] = set()
    for mention in _dicts(status.get("mentions")):
        if not isinstance(mention, dict) or as_text(mention.get("acct")) is None:
            continue
        acct = as_text(mention["acct"]) or ""
        url = as_text(mention.get("url"))
        if url is not None and url.startswith("acct:"):
            keys.add(acct)
        elif "@" in acct:
            keys.add(fold(acct))
        else:
            keys.add(None if instance is None else fold(acct + "@" + instance))
    return keys


def hashtags(status: dict[str, Any]) -> list[str]:
    """The status's distinct tag names, lower-cased (:func:`fold`), without those longer than
    :data:`MAX_TAG_LENGTH` characters or without a character that is not white space (:data:`TAG_CHARACTER_RE`)."""
    names = {as_text(t.get("name")) for t in _dicts(status.get("tags")) if isinstance(t, dict)}
    return sorted({tag for tag in (fold(n) for n in names if n is not None)
                   if len(tag) <= MAX_TAG_LENGTH and TAG_CHARACTER_RE.search(tag)})


#: ``json.dumps(…, ensure_ascii=False, separators=(",", ":"))``, without making an encoder for each call.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _tags_json(tags: list[str]) -> str:
    """A status's tag names (:func:`hashtags`) as the compact JSON list of its ``S`` line."""
    return _COMPACT_JSON(tags) if tags else "[]"


def status_uri(status: dict[str, Any]) -> str | None:
    """The status's ``uri``; an empty one is none, as the curation SQL reads it (``curate_sql._uri``)."""
    return as_text(status.get("uri")) or None


def origin_ref(status: dict[str, Any]) -> str | None:
    """The status's ``origin_ref`` as landed (privacy on; an empty one too, as the SQL's ``coalesce`` keeps it), else
    ``host/id`` from a Mastodon URI (:func:`status_uri`: an empty one is none), else None. The host is lowered as
    DuckDB's ``lower`` does (:func:`fold`), as in the curation SQL."""
    landed = as_text(status.get("origin_ref"))
    if landed is not None:
        return landed
    match = STATUS_URI_RE.fullmatch(status_uri(status) or "")  # the whole URI, as the SQL requires
    return f"{fold(match.group(1))}/{match.group(2)}" if match else None


def deletion_keys(record: Any) -> list[tuple[str, str] | str]:
    """What one raw ``status_deletions`` envelope tombstones: (instance, status id) and the ``origin_ref`` (landed,
    an empty one too, as the SQL's ``coalesce`` keeps it; else ``instance/id``); none when the curation SQL skips it
    (no instance, an empty id, or a ``fetched_at`` that is not a timestamp)."""
    if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
        return []
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    instance, status_id = _lower(as_text(meta.get("instance"))), as_text(record["data"].get("id"))
    if instance is None or not status_id or micros(as_text(meta.get("fetched_at"))) is None:
        return []
    landed = as_text(record["data"].get("origin_ref"))
    return [(instance, status_id), f"{instance}/{status_id}" if landed is None else landed]


class DeletionsError(ValueError):
    """A line of a deletions file that cannot be read (:func:`load_deletions`); the message names the file and
    line."""


#: JSON escapes of a UTF-16 surrogate (``\ud83d``): a pair is one character, a lone one is no text.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
#: The gzip magic bytes at the start of a line, as the mapper reads its input (``surrogateescape``), or as a
#: reader that replaced the undecodable byte or decoded it as Latin-1 gives them.
_GZIP_STARTS = ("\x1f\udc8b", "\x1f\ufffd", "\x1f\x8b")


#: Why a line that is not a record is skipped (each a Hadoop counter ``skipped_<reason>``), and what it is. Empty
#: lines, ``{}`` and ``null`` are none of these: they hold no record, and both engines skip them without a word.
SKIP_REASONS = {
    "not_utf8": "not UTF-8 text",
    "not_json": "not JSON",
    "not_an_object": "JSON that is not an object",
    "not_an_envelope": "not a lake envelope",
    "bad_count": "a count no 64-bit integer holds",
    "bad_type": "a field curation cannot read as its type",
}
#: The mapper's exit status when ``--strict`` stops it on a line that is not a record (as on gzip input: bad input).
NOT_A_RECORD_EXIT = 2
#: What to do about a damaged raw batch: the words of curation's message (``fediscope.lake.batches``).
RESTORE_ADVICE = "restore it from a copy, or move it out of the lake, and run again"
#: The ``--strict`` stop of a mapper that does not know its input file (a pipe), which ``run_local.py`` reads back
#: to name the file and its line (:func:`not_a_record_message`).
PIPE_STOP_RE = re.compile(r"mapper: line ([0-9]+) of the input is not a JSON record \((.*)\); "
                          + re.escape(RESTORE_ADVICE) + r"\Z")


class NotARecord(ValueError):
    """A line the mapper skips (``--strict``: stops on): ``reason`` is a key of :data:`SKIP_REASONS`, the message
    says what the line is."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(SKIP_REASONS[reason] + (f": {detail}" if detail else ""))
        self.reason, self.detail = reason, detail


def _unreadable(exc: BaseException) -> NotARecord:
    """What :func:`read_line`'s error (a UnicodeError, a JSONDecodeError, a RecursionError) says of the line."""
    if isinstance(exc, UnicodeError):
        return NotARecord("not_utf8")
    if isinstance(exc, json.JSONDecodeError):
        return NotARecord("not_json", f"{exc.msg} at character {exc.pos + 1}")
    return NotARecord("not_json", "nested too deep")


def _json_kind(value: Any) -> str:
    return ("an array" if isinstance(value, list) else "an object" if isinstance(value, dict) else
            "a string" if isinstance(value, str) else "a boolean" if isinstance(value, bool) else "a number")


def read_record(raw: str) -> dict[str, Any] | None:
    """One input line → its lake envelope; None for a line that holds no record (empty, ``{}``, ``null``: both
    engines read it as a row of nothing and skip it). :class:`NotARecord` for any other line that is not an
    envelope, an object whose ``data`` is an object and whose ``meta``, when set, is one: DuckDB's reader refuses
    what is not JSON, not UTF-8, not an object, or a ``meta``/``data`` of another type, and curation has nothing to
    read in an object without ``data``."""
    try:
        value = read_line(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeError and JSONDecodeError are ValueErrors
        raise _unreadable(exc) from None
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise NotARecord("not_an_object", _json_kind(value))
    if not isinstance(value.get("data"), dict):
        raise NotARecord("not_an_envelope", "no data object")
    if value.get("meta") is not None and not isinstance(value["meta"], dict):
        raise NotARecord("not_an_envelope", "its meta is not an object")
    return value


def not_a_record_message(env: dict[str, str], number: int, exc: NotARecord) -> str:
    """The ``--strict`` stop on line ``number`` of the mapper's input: under Hadoop naming the input file (and the
    split's first byte when the split is not the file's start, where line numbers count from), else "the input"
    (in :data:`PIPE_STOP_RE`'s form). Curation's words (``fediscope.lake.batches.decode_jsonl``)."""
    path = input_path_from_env(env)
    if path is None:
        return f"mapper: line {number} of the input is not a JSON record ({exc}); {RESTORE_ADVICE}"
    start = env.get("mapreduce_map_input_start") or env.get("map_input_start") or "0"
    line = f"line {number}" if start == "0" else f"line {number} of its split from byte {start}"
    return f"mapper: the raw file {path} is damaged: {line} is not a JSON record ({exc}); {RESTORE_ADVICE}"


def skipped_summary(skipped: dict[str, int]) -> str | None:
    """One line saying how many lines were skipped for each reason (None when none was)."""
    total = sum(skipped.values())
    if not total:
        return None
    reasons = ", ".join(f"{SKIP_REASONS.get(reason, reason)}: {count}" for reason, count in skipped.items() if count)
    return (f"skipped {total} line(s) that are not records ({reasons}); the SQL curation stops on such a line, "
            "except an envelope without a data object, which it skips (--strict stops on each)")


def read_line(raw: str) -> Any:
    """One JSON Lines line → its value (None for a blank line). Raises ValueError (as DuckDB's ``read_json`` refuses
    the file) when it is not JSON, or not UTF-8 text: it holds bytes that are not UTF-8 (read with
    ``surrogateescape``, as the mapper reads its input) or a JSON escape of a lone surrogate (``"\\ud83d"``)."""
    if not raw.strip():
        return None
    if not raw.isascii():
        raw.encode("utf-8")  # an undecodable byte (a surrogate here): UnicodeEncodeError, a ValueError
    value = json.loads(raw)
    if "\\u" in raw and _SURROGATE_ESCAPE_RE.search(raw):  # a pair decodes to one character; a lone one stays
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def lake_files(root: Path) -> list[Path]:
    """The batch files (``.jsonl``, ``.jsonl.gz``) below the directory ``root``, sorted; dot-files, which are
    in-flight writes, left out. Symbolic links to directories are followed, each directory once, as the lake and
    the SQL engines follow them (``fediscope.lake.local``; ``Path.rglob`` does not, and would skip a partition
    moved to another disk and linked back). A directory that cannot be listed is an OSError naming it (``rglob``
    skipped it without a word: its batches not read)."""
    def unlistable(exc: OSError) -> None:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):  # one that vanished meanwhile lists nothing
            raise OSError(f"cannot list {exc.filename}: {exc.strerror or exc}") from None

    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for directory, subdirectories, names in os.walk(str(root), onerror=unlistable, followlinks=True):
        try:
            info = os.stat(directory)
        except OSError as exc:
            unlistable(exc)
            continue
        if (info.st_dev, info.st_ino) in seen:  # a link loop, or a directory linked twice
            subdirectories[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        for name in names:
            path = Path(directory, name)
            if not name.startswith(".") and name.endswith((".jsonl", ".jsonl.gz")) and path.is_file():
                found.append(path)
    return sorted(found)


def load_deletions(paths: Iterable[str]) -> set[tuple[str, str] | str]:
    """Every streamed deletion in ``paths`` (JSON Lines files, plain or ``.gz``, or directories holding them;
    dot-files, which are in-flight writes, skipped), as :func:`deletion_keys`: (instance, id) pairs and origin
    refs in one set. A path that does not exist is an error, and so is a damaged line (:class:`DeletionsError`):
    not JSON, or not UTF-8 text (:func:`read_line`), which stops the curation SQL too; skipping it would bring the
    statuses it deletes back into the metrics."""
    found: set[tuple[str, str] | str] = set()
    for name in paths:
        path = Path(name)
        if not path.exists():
            raise FileNotFoundError(f"--deletions {name}: no such file or directory")
        files = lake_files(path) if path.is_dir() else [path]
        for file in files:
            if file.name.startswith("."):
                continue
            with (gzip.open(file, "rb") if file.name.endswith(".gz") else open(file, "rb")) as handle:
                for number, data in enumerate(handle, 1):
                    try:
                        record = read_line(data.decode("utf-8"))
                    except (ValueError, RecursionError) as exc:  # UnicodeError and JSONDecodeError are ValueErrors
                        why = _unreadable(exc)
                        raise DeletionsError(f"{file} line {number} is damaged ({why}); skipping it would lose the "
                                             "deletions it holds: restore the file from a copy, or move it "
                                             "away") from None
                    if record is not None:
                        found.update(deletion_keys(record))
    return found


def is_public(status: Any) -> bool:
    """A status (or the quoted status of a quote; None: no quote) whose ``visibility`` is public data, as the curation
    SQL reads it (its ``_public``)."""
    return not isinstance(status, dict) or as_text(status.get("visibility")) in PUBLIC_VISIBILITIES


def version_is_public(status: dict[str, Any], share: bool) -> bool:
    """A status version the curation SQL may curate: public, and a share event only of a public status."""
    return is_public(status) and not (share and not is_public(status.get("reblog")))


def after_fetch(moment: int | None, fetched: int | None) -> bool:
    """A time (epoch microseconds) later than its fetch plus :data:`CLOCK_SKEW_US`; never when either is unknown."""
    return moment is not None and fetched is not None and moment > fetched + CLOCK_SKEW_US


def parse_day(text: str) -> date:
    """A day written ``YYYY-MM-DD`` (only that form: ``date.fromisoformat`` takes others on newer Pythons);
    ValueError saying so for any other text."""
    if _DAY_RE.match(text):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(text)
    raise ValueError(f"expected a day YYYY-MM-DD, got {text!r}")


def first_day_micros(text: str) -> int:
    """``--first-day YYYY-MM-DD`` → its midnight (UTC) in epoch microseconds: a version created before it is posted
    before that day, as curation compares the ``dt`` (a ``created_at``'s UTC date) and a snapshot's ``fetched_at``
    cast to a date with the day. ValueError (:func:`parse_day`) for any other text."""
    return (parse_day(text) - _EPOCH.date()).days * _DAY_US


def expired(moment: int | None, first_day: int | None) -> bool:
    """A time (epoch microseconds) before ``first_day`` (:func:`first_day_micros`); never when either is unknown:
    curation keeps a row whose day it cannot read."""
    return moment is not None and first_day is not None and moment < first_day


#: What ``fediscope gdpr erase`` writes in place of a reply's ``in_reply_to_id`` to an erased account's status
#: (``fediscope.privacy.ERASED``).
ERASED = "[erased]"


def erasure_marks(status: dict[str, Any], instance: str | None) -> tuple[bool, bool]:
    """Whether the version's ``in_reply_to_id`` is :data:`ERASED`, and whether it quotes a status with a known author
    (the curated ``quoted_account_key`` is set; never for a quoted status that is not public): with the mention count,
    what the curation SQL prefers in the version an erasure rewrote (``curate_sql._ERASED_FIRST``)."""
    quote = status.get("quote")
    quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
    author = quoted.get("account") if isinstance(quoted, dict) and is_public(quoted) else None
    return (as_text(status.get("in_reply_to_id")) == ERASED,
            isinstance(author, dict) and account_key(author, instance) is not None)


#: The marks of the last field of an ``S`` and an ``A`` line: expired by ``--first-day`` (:func:`expired`), or not.
EXPIRED, KEPT = "1", "0"
#: The marks of the field before it in an ``S`` line: the version is public (:func:`version_is_public`), or not.
PUBLIC, NOT_PUBLIC = "1", "0"


def is_expired(line: str) -> bool:
    """An intermediate line marked expired (its last field)."""
    return line.endswith("\t" + EXPIRED)


def status_line(status: dict[str, Any], meta: dict[str, Any], share: bool,
                deleted: AbstractSet[object] = frozenset(), first_day: int | None = None) -> str | None:
    """The ``S`` line of one status version; None when it has no URI, no parseable ``created_at`` (or one before
    the year 1 in UTC, :func:`utc_day`) or no author (no account key), or is created or edited after its fetch
    (:func:`after_fetch`), as the curation SQL skips it.

    ``share`` marks the outer record of a reblog: a share event, with zero engagement of its own. A version
    fetched from an instance that reported its id deleted, or whose origin a deletion names (``deleted``, see
    :func:`load_deletions`), is a tombstone. One posted before ``first_day`` (:func:`first_day_micros`) is marked
    expired. One that is not public (:func:`version_is_public`) is marked so, not dropped: the reducer leaves its
    status out when it wins, as curation does (dropping it here would bring an older public version in).
    """
    uri = status_uri(status)
    created = micros(as_text(status.get("created_at")))
    day = None if created is None else utc_day(created)
    instance = as_text(meta.get("instance"))
    account = status.get("account")
    key = account_key(account, instance) if isinstance(account, dict) else None
    if uri is None or day is None or key is None:
        return None
    content = authored_text(as_text(status.get("content")) or "")
    if share:
        replies = reblogs = favourites = 0
    else:
        replies = engagement_count(as_int(status.get("replies_count")))
        reblogs = engagement_count(as_int(status.get("reblogs_count")))
        favourites = engagement_count(as_int(status.get("favourites_count")))
    edited, fetched = micros(as_text(status.get("edited_at"))), micros(as_text(meta.get("fetched_at")))
    if after_fetch(created, fetched) or after_fetch(edited, fetched):
        return None
    status_id = as_text(status.get("id"))
    tombstone = as_bool(status.get("deleted")) or (deleted and (
        (_lower(instance), status_id) in deleted or origin_ref(status) in deleted))
    reply_erased, quotes = erasure_marks(status, instance)
    fields = [
        "S", bucket(uri), escape(uri),
        "1" if tombstone else "0",
        NULL if edited is None else str(edited),
        NULL if fetched is None else str(fetched),
        str(replies), str(reblogs), str(favourites),
        str(authored_length(status, content)),
        escape(status_id),
        escape(_lower(instance)),
        "1" if share else "0",
        escape(key),
        day,
        str(url_count(content)),
        str(len(_dicts(status.get("emojis")))),
        str(unicode_emoji_count(content)),
        str(len(_dicts(status.get("media_attachments")))),
        escape(_tags_json(hashtags(status))),
        str(len(mention_keys(status, instance))),
        "1" if reply_erased else "0",
        "1" if quotes else "0",
        PUBLIC if version_is_public(status, share) else NOT_PUBLIC,
        EXPIRED if expired(created, first_day) else KEPT,
    ]
    return "\t".join(fields)


def _count_field(value: Any) -> str:
    count = as_int(value)
    return NULL if count is None else str(count)


def account_line(account: dict[str, Any], meta: dict[str, Any], first_day: int | None = None) -> str | None:
    """The ``A`` line of one account snapshot; None when no account key can be derived. One fetched before
    ``first_day`` (:func:`first_day_micros`) is marked expired."""
    instance = as_text(meta.get("instance"))
    key = account_key(account, instance)
    if key is None:
        return None
    fetched, created = micros(as_text(meta.get("fetched_at"))), micros(as_text(account.get("created_at")))
    if after_fetch(created, fetched):  # created after the snapshot was fetched: unknown, as in the SQL
        created = None
    bot = as_bool(account.get("bot"))
    home = home_instance(account, instance)
    fields = [
        "A", bucket(key), escape(key),
        NULL if fetched is None else str(fetched),
        _count_field(account.get("statuses_count")),
        _count_field(account.get("followers_count")),
        _count_field(account.get("following_count")),
        NULL if created is None else str(created),
        escape(home),
        NULL if bot is None else ("1" if bot else "0"),
        "1" if from_home(home, instance) else "0",
        EXPIRED if expired(fetched, first_day) else KEPT,
    ]
    return "\t".join(fields)


def entity_of(data: dict[str, Any], path_entity: str | None) -> str | None:
    if path_entity is not None:
        return ("statuses" if path_entity in _STATUS_ENTITIES else
                "accounts" if path_entity in _ACCOUNT_ENTITIES else None)
    if any(k in data for k in ("account", "content", "reblog", "deleted")):
        return "statuses"
    if "acct" in data or "username" in data:
        return "accounts"
    return None


def map_record(record: Any, path_entity: str | None = None,
               deleted: AbstractSet[object] = frozenset(), first_day: int | None = None) -> list[str]:
    """Every intermediate line of one raw envelope (empty when it carries nothing job 1 uses); those posted or
    fetched before ``first_day`` (:func:`first_day_micros`) marked expired."""
    if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
        raise NotARecord("not_an_envelope", "no data object")
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    data = record["data"]
    entity = entity_of(data, path_entity)
    lines: list[str | None] = []
    if entity == "statuses":
        check_types(data, RAW_STATUS, "data")  # every field DuckDB reads, also those the metrics do not use
        reblog = data.get("reblog")
        share = reblog is not None and status_uri(reblog) is not None
        lines.append(status_line(data, meta, share, deleted, first_day))
        if share:
            lines.append(status_line(reblog, meta, False, deleted, first_day))
        # an author only of a public version, as the curation SQL reads them (ACCOUNT_VERSIONS)
        for account in (data.get("account") if version_is_public(data, share) else None,
                        reblog.get("account") if reblog and is_public(reblog) else None):
            if isinstance(account, dict):
                lines.append(account_line(account, meta, first_day))
    elif entity == "accounts":
        check_types(data, RAW_ACCOUNT, "data")
        lines.append(account_line(data, meta, first_day))
    return [line for line in lines if line is not None]


def input_path_from_env(env: dict[str, str]) -> str | None:
    """The input file's path under Hadoop (``mapreduce_map_input_file``, or its old name); None outside Hadoop."""
    return env.get("mapreduce_map_input_file") or env.get("map_input_file") or None


def path_entity_from_env(env: dict[str, str]) -> str | None:
    """The lake entity named by the input file's path under Hadoop: the directory after the LAST
    ``raw/mastodon/`` of the path (the lake layout is ``<lake>/raw/mastodon/<entity>/instance=…/dt=…/<batch>``,
    and the lake itself may sit under a directory called ``mastodon`` or ``raw``). None outside Hadoop (no path:
    the records' shape tells), ``""`` when the path has no ``raw/mastodon/<entity>/``."""
    path = input_path_from_env(env)
    if path is None:
        return None
    match = _PATH_ENTITY_RE.match(path)
    return match.group(1) if match else ""


def run(stdin: TextIO, stdout: TextIO, stderr: TextIO, env: dict[str, str],
        deleted: AbstractSet[object] = frozenset(), first_day: int | None = None, strict: bool = False,
        counters: bool = False) -> int:
    """Map ``stdin`` to ``stdout``. A line that is not a record (:func:`read_record`, a bad count) is skipped and
    counted by reason, or with ``strict`` stops the mapper (exit :data:`NOT_A_RECORD_EXIT`, one line on
    ``stderr``: :func:`not_a_record_message`). The counts go to ``stderr`` as Hadoop streaming counters under
    Hadoop or with ``counters`` (``run_local.py`` reads them), else as one line (:func:`skipped_summary`)."""
    path_entity = path_entity_from_env(env)
    # an input file that is not a statuses/accounts/directory batch of a lake: its lines cannot be read as any
    # entity, so they are skipped, but counted and said (a wrong -input must not give empty metrics silently)
    unknown_input = path_entity is not None and path_entity not in (*_STATUS_ENTITIES, *_ACCOUNT_ENTITIES)
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    written = unread = old = 0
    write = stdout.write
    for number, raw in enumerate(stdin, 1):
        if raw.startswith(_GZIP_STARTS):
            where = input_path_from_env(env) or "the input"
            stderr.write(f"mapper: line {number} of {where} starts with the gzip magic bytes: the input is gzip-"
                         "compressed, not JSON Lines; decompress it first (zcat, hdfs dfs -text), or run "
                         "run_local.py, which decompresses .jsonl.gz batches (a cluster's input format does so "
                         "only for file names ending with .gz)\n")
            return 2
        if not raw.strip():
            continue
        if unknown_input:
            unread += 1
            continue
        try:
            record = read_record(raw)
            lines = [] if record is None else map_record(record, path_entity, deleted, first_day)
        except NotARecord as exc:
            if strict:
                stderr.write(not_a_record_message(env, number, exc) + "\n")
                return NOT_A_RECORD_EXIT
            skipped[exc.reason] += 1
            continue
        for line in lines:
            write(line + "\n")
            if first_day is not None:
                old += is_expired(line)
        written += len(lines)
    if unknown_input:
        entities = ", ".join((*_STATUS_ENTITIES, *_ACCOUNT_ENTITIES))
        why = (f"its entity {path_entity!r} is none of {entities}" if path_entity else
               "its path has no raw/mastodon/<entity>/ directory")
        stderr.write(f"mapper: skipped {unread} line(s) of {input_path_from_env(env)}: {why}\n")
    if counters or "mapreduce_task_id" in env or "mapred_task_id" in env:
        stderr.write(f"reporter:counter:fediscope,map_lines_out,{written}\n")
        stderr.write(f"reporter:counter:fediscope,malformed_input_lines,{sum(skipped.values())}\n")
        for reason, count in skipped.items():
            stderr.write(f"reporter:counter:fediscope,skipped_{reason},{count}\n")
        stderr.write(f"reporter:counter:fediscope,unknown_entity_input_lines,{unread}\n")
        stderr.write(f"reporter:counter:fediscope,expired_versions,{old}\n")
    else:
        summary = skipped_summary(skipped)
        if summary:
            stderr.write(f"mapper: {summary}\n")
    return 0


def _first_day_arg(text: str) -> int:
    """argparse's reading of ``--first-day``: a usage error (exit 2) naming the option when it is not a day."""
    try:
        return first_day_micros(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mapper.py", description="fediscope Hadoop streaming mapper (job 1)")
    parser.add_argument("--deletions", action="append", default=[], metavar="PATH",
                        help="raw status_deletions JSON Lines (a file or a directory; repeatable)")
    parser.add_argument("--first-day", type=_first_day_arg, metavar="YYYY-MM-DD",
                        help="the curated retention's first day: status versions posted and account snapshots "
                             "fetched before it are expired (default: none, every day is kept)")
    parser.add_argument("--strict", action="store_true",
                        help="stop (exit 2) at the first line that is not a record, naming it, as the SQL curation "
                             "stops, instead of skipping and counting it (empty lines, {} and null hold no record "
                             "and are skipped either way)")
    parser.add_argument("--counters", action="store_true",
                        help="report the counts as Hadoop streaming counters on stderr also outside Hadoop (as "
                             "run_local.py reads them)")
    args = parser.parse_args(argv)
    try:
        deleted = load_deletions(args.deletions)
    except (OSError, EOFError, zlib.error, DeletionsError) as exc:  # missing, unreadable, a truncated/corrupt .gz,
        # or a damaged line
        sys.stderr.write(f"mapper: cannot read the deletions: {exc or type(exc).__name__}\n")
        return 2
    with open(sys.stdin.fileno(), encoding="utf-8", errors="surrogateescape", newline="\n", closefd=False) as stdin, \
            open(sys.stdout.fileno(), "w", encoding="utf-8", errors="surrogatepass", newline="\n", closefd=False,
                 buffering=1 << 16) as stdout:
        return run(stdin, stdout, sys.stderr, dict(os.environ), deleted, args.first_day, args.strict, args.counters)


if __name__ == "__main__":
    sys.exit(main())
