"""The curation SQL: raw lake records → the typed, deduplicated curated tables. Written once, in DuckDB's dialect.

Every engine runs exactly these statements (Spark through :func:`fediscope.engine.dialect.to_spark`). One
function is not DuckDB's own: ``array_sum`` (a list's sum), the name sqlglot translates to Spark's ``AGGREGATE``;
the DuckDB engine defines it as a macro over ``list_sum``. Each statement reads views the engine registers first:

* ``raw_statuses``, ``raw_accounts``, ``raw_instance_activity``, ``raw_trends_tags``, ``raw_instance_peers``,
  ``raw_status_deletions`` — the new raw records (``meta``, ``data``) of this run, with the schemas of
  :mod:`fediscope.engine.schema`;
* ``existing_statuses``, ``existing_accounts``, ``existing_instance_activity``, ``existing_tag_trends``,
  ``existing_instance_peers``, ``existing_status_deletions`` — the curated rows these records may replace (for
  statuses: only the ``dt`` partitions the new records fall into, or that hold a status a new deletion names;
  ``all_statuses`` is every partition, read only to find those);
* ``status_deletions_merged`` — every reported deletion, applied by the statuses merge.

The raw statuses are parsed once, by :data:`STATUS_RECORDS`, into narrow columns that the status and account
versions are then read from; the engines register the raw files as views, not tables.

Rules, shared by both engines:

* **One row per status URI.** A status without one, or with an empty one (:func:`_uri`), is skipped. Versions of a
  status come from every fetch of it: direct, or embedded as the original of a reblog. The latest version wins: a
  deletion tombstone (``deleted: true``) first, then the newest ``edited_at``, then the newest ``fetched_at``, then
  the larger counts. Of one fetch (two copies of it, or a version and the one ``fediscope gdpr erase`` rewrote it
  to, keeping the fetch time), the erasure's version wins: a reply id ``[erased]``, fewer mentions, no quoted
  author, before the longer text (:data:`STATUS_ORDER`); every other column breaks what ties remain, so the result
  never depends on file order or on which run curated which version.
* **Streamed deletions.** A ``delete`` event (``raw/mastodon/status_deletions``: the reporting instance and its
  id of the status) turns into tombstones, in whichever partition they are, the version fetched from that
  instance with that id, and every version whose ``origin_ref`` (its home instance and its id there, read from a
  Mastodon-shaped URI, pseudonymised at landing: :mod:`fediscope.privacy`) is the deletion's: so a status
  deleted on its home instance leaves the analytics also when it was only fetched from other instances. The
  tombstone wins over every copy. (Rows curated before ``origin_ref`` existed get it from their URI when that
  is the raw one, privacy off; with privacy on they match by the first rule only.)
* **Reblogs.** A reblog is a *share event* of its own (``is_reblog``, ``reblog_of_uri``), with zero
  engagement: its original's replies/reblogs/favourites come only from the original's own latest snapshot
  (which the server's ``reblogs_count`` already includes this reblog in). The original embedded in a reblog is
  curated as a version of the original, so originals seen only through a boost are not lost. Metrics of
  content and engagement skip share events, so nothing is counted twice.
* **Quotes.** ``quoted_account_key`` is the account key of the author of the status a version quotes (NULL without
  a quote, or when the quoted status is withheld: revoked, or its author opted out). The quoted status itself is
  not curated: only its author is kept, so an account that opts out is found also where it is only quoted
  (:mod:`fediscope.gdpr.opt_outs`).
* **Accounts** keep one snapshot per account key, from the accounts and directory endpoints and from every status
  author (``fetched_from``: the instance it was fetched from). An account is seen from its home server and from
  other servers, whose copy (in a status federated to them) holds the counts they cached, often stale, and -1 for
  a count the account hides. A snapshot missing a count never wins over one that has it; then the home server's
  snapshot wins (the newest of those, also when it hides a count: the account's choice, not replaced by a count
  another server cached before it), else the other server's copy hiding the fewest counts (a remote -1 never
  replaces a count another server knows), the newest of those (:data:`ACCOUNT_ORDER`). Ties are broken on every
  column (:data:`MERGE_ACCOUNTS`), so the winner does not depend on which run curated which snapshot.
* The **account key** is the pseudonym the privacy policy put in ``acct`` (records landed with privacy on carry
  ``account.domain``); with privacy off it is ``user@domain`` in lower case.
* ``dt`` of a status is the UTC date of its ``created_at``, which never changes, so every version of a status
  lands in the same partition and a merge only rewrites the partitions that received new versions.
* **Nothing is dated after we fetched it.** A status version whose ``created_at`` or ``edited_at`` is later than
  its ``fetched_at`` (the landing time in the raw envelope, our clock) plus :data:`CLOCK_SKEW` cannot be right:
  a remote server with a broken clock, or a forged date. It is skipped (counted by :data:`FUTURE_VERSIONS`), as
  clamping its time to the fetch would move its ``dt`` from one fetch to the next. A single toot "from 2099"
  would otherwise anchor every windowed metric (``trending_hashtags``) on 2099, and a version "edited in 2099"
  would win over every later fetch of its status. Likewise an account's ``created_at`` after its snapshot's
  fetch is unknown (NULL: the account is kept), and an instance's activity week or trending-tag day that starts
  after the fetch is skipped. A record without a parseable ``fetched_at`` cannot be judged and is kept.
* **Only public statuses.** A status whose latest version is not public (its ``visibility`` neither ``public``
  nor ``unlisted``, nor missing: :data:`~fediscope.privacy.PUBLIC_VISIBILITIES`, the landing's rule) is not
  curated (:data:`PUBLIC_STATUSES`, counted), nor are its hashtags; a share event of such a status is not public
  either; no author snapshot is read from a version that is not public, and no author of a quoted status that is
  not (``quoted_account_key`` NULL). Landing keeps none of these; raw files landed by other means may.
* **Retention.** With a curated retention (``FEDISCOPE_RETENTION_CURATED_DAYS``), the merged statuses posted before
  its cutoff day (by the ``dt`` of the status row: a reblog by its own day, whatever its original's) and the
  account snapshots fetched before it are left out before an account's snapshot is chosen
  (:func:`merge_accounts`: an account seen within the retention keeps the best snapshot fetched within it, even
  when its home server's is older), as ``fediscope gdpr retention`` would delete them; their hashtag rows go with
  the statuses. The deletions are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import NamedTuple

from fediscope.engine.schema import ACCOUNTS, INSTANCE_ACTIVITY_TABLE, STATUSES, TAG_TRENDS, Table, duckdb_type
from fediscope.engine.visible_text import (
    ENTITY_RE,
    QUOTE_INLINE_MARK,
    QUOTE_INLINE_MARK_AT,
    QUOTE_INLINE_RE,
    TAG_RE,
    TRAILING_QUOTE_INLINE_RE,
    caseless,
)
from fediscope.privacy import ERASED, PUBLIC_VISIBILITIES, STATUS_URI_PATTERN

#: The emoji characters of Unicode 17.0 (emoji-data.txt, UTS #51) as inclusive code point ranges, generated from the
#: ``regex`` package's ``\p{}`` data; tests/engine/test_emoji_count.py checks them against it and prints new ones
#: when a newer Unicode adds emojis. ``EMOJI_PRESENTATION``: the Emoji_Presentation characters, an emoji on their
#: own (regional indicators apart: they are one only as a pair, a flag). ``EMOJI_TEXT``: the other Emoji
#: characters, shown as text unless a VS16 (U+FE0F) or a skin tone follows (``#``, ``*`` and the digits apart:
#: they are one only as a keycap). The MapReduce mapper has a copy of these and of the two pattern builders.
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
    """The regex of one emoji sequence (UTS #51), its code points written by ``char`` (RE2 and Java read
    ``\\x{1F600}``, Python ``\\U0001F600``).

    A sequence is a flag (two regional indicators), a keycap (``#``, ``*`` or a digit, an optional VS16 and
    U+20E3), an Emoji_Presentation character with an optional skin tone or VS16, or another Emoji character with
    a VS16 or a skin tone; a ZWJ sequence of those joined by U+200D (a family: man, woman, girl) is one too. Tag
    characters (the flags of England, Scotland, Wales: 🏴 and tags) are no emoji, so such a flag counts once
    without a rule of its own. The alternatives share no first character, so RE2, Java and Python match alike.
    """
    vs16 = char(0xFE0F)
    modifier, indicator = f"[{_members(EMOJI_MODIFIERS, char)}]", f"[{_members(REGIONAL_INDICATORS, char)}]"
    element = (f"(?:{indicator}{indicator}|[#*0-9]{vs16}?{char(0x20E3)}"
               f"|[{_members(EMOJI_PRESENTATION, char)}](?:{modifier}|{vs16})?"
               f"|[{_members(EMOJI_TEXT, char)}](?:{vs16}|{modifier}))")
    return f"{element}(?:{char(0x200D)}{element})*"


def non_emoji_pattern(char: Callable[[int], str]) -> str:
    """The regex of a run of characters no emoji sequence holds: every code point but the spans (ranges less than
    128 apart above Latin-1 taken together) of those :func:`emoji_pattern` reads.

    The count replaces each run by a space, then looks for emojis in what is left: Java (Spark) and Python test a
    class range by range, and trying the emoji's classes (some 200 ranges) at every character of a text made the
    count 8 (Python) to 20 (Spark) times slower. This class starts with ASCII and Latin, so a run of ordinary text
    costs a comparison or two a character; RE2 (DuckDB) runs both as automata. The space keeps the emojis a run
    parted apart (🇫 x 🇷 is no flag).
    """
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


#: :func:`emoji_pattern` and :func:`non_emoji_pattern` in RE2 (DuckDB) and Java (Spark) syntax.
EMOJI_RE = emoji_pattern(lambda cp: f"\\x{{{cp:X}}}")
NON_EMOJI_RE = non_emoji_pattern(lambda cp: f"\\x{{{cp:X}}}")
#: Longer hashtag names are dropped: no store key can hold one (``fediscope.store.schema.MAX_KEY_TEXT``), and
#: servers have sent tags of thousands of characters. The MapReduce mapper has the same rule.
MAX_TAG_LENGTH = 255
#: Unicode's White_Space characters (PropList.txt), as inclusive code point ranges.
WHITE_SPACE: tuple[tuple[int, int], ...] = (
    (0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
    (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000))
#: A character that is not white space (:data:`WHITE_SPACE`): a hashtag name without one (empty, or spaces only: no
#: server makes such a tag, a broken or hostile one sends it) names no tag and is left out everywhere, of a status's
#: ``hashtags``, the ``hashtags`` table and the trending tags (:func:`_tag_name`). The MapReduce mapper has the same
#: rule.
TAG_CHARACTER_RE = "[^" + _members(WHITE_SPACE, lambda cp: f"\\x{{{cp:X}}}") + "]"
#: The white space of an HTML tag, spelt out: no curation regex uses a shorthand class (``\s``, ``\w``, ``\d``,
#: ``\b``) or ``.``, which RE2 (DuckDB), Java (Spark) and Python read differently. Java's ``\s`` also takes the
#: vertical tab (RE2's is exactly this class, Python's every Unicode space); Java's ``.`` stops at ``\r``, U+0085,
#: U+2028 and U+2029 too, RE2's at ``\n`` only; Java's ``\b`` sees non-ASCII letters, RE2's does not.
_WS = r"[\t\n\f\r ]"
#: An opening ``<a …>`` tag; mentions and hashtags are anchors with a ``mention`` class, links are the rest. HTML's
#: tag names are case-insensitive: ``<A HREF=…>`` is an anchor too. The tag ends at the first ``>`` outside a quoted
#: attribute value (``<a href="…?a>b" class="mention">`` is one tag): a value is quoted when a ``"`` or ``'`` follows
#: its ``=`` (after spaces), else unquoted, its first character any but a quote, a space or ``>``; a tag whose quote
#: is never closed is none (HTML drops it). ``\x27``: a ``'``, which a statement's literal would need doubled. The
#: MapReduce mapper has the same pattern (and reads it in linear time).
ANCHOR_RE = rf'<[aA]{_WS}(?:[^>=]|={_WS}*(?:"[^"]*"|\x27[^\x27]*\x27|[^"\x27>\t\n\f\r ]))*(?:={_WS}*)?>'


def _attribute_token(name: str, tokens: str) -> str:
    """A regex of the attribute ``name`` (any case, :func:`~fediscope.engine.visible_text.caseless`) whose value
    holds one of ``tokens`` (a regex) as a token separated by HTML spaces, its value quoted with ``"`` or ``'``, or
    unquoted (then the whole value, which ends at a space or the tag's ``>``), as an HTML parser reads attribute
    values."""
    return (rf"{_WS}{caseless(name)}{_WS}*={_WS}*"
            rf"""(?:"(?:[^"]*{_WS})?{tokens}(?:{_WS}[^"]*)?"|'(?:[^']*{_WS})?{tokens}(?:{_WS}[^']*)?'"""
            rf"|{tokens}[\t\n\f\r >])")


#: An anchor that is a mention or a hashtag, not a link: a ``mention`` or ``hashtag`` token in its ``class``
#: (Mastodon: ``u-url mention``, ``mention hashtag``; Pleroma: ``hashtag``), or ``tag`` in its ``rel`` (Misskey).
#: Tokens, not substrings: ``href="…/honorable-mention"`` is a link. The attribute's name in any case, its value in
#: double quotes, single quotes or none (:func:`_attribute_token`), as HTML reads them; the tokens as written (HTML
#: compares classes case-sensitively). The MapReduce mapper has the same pattern. Holds a ``'``: written doubled in a
#: statement's literal.
NOT_LINK_RE = f"{_attribute_token('class', '(?:mention|hashtag)')}|{_attribute_token('rel', 'tag')}"
#: What a local ``acct`` (no domain) is completed with to make an account key.
AT_INSTANCE = "'@' || meta.instance"
#: How far a remote server's clock may run ahead of ours: a time up to this much after the fetch that saw it is
#: taken as it is; a later one is impossible (see the module docstring). The MapReduce mapper has the same rule.
CLOCK_SKEW = "INTERVAL 1 HOUR"


def _lower(text: str) -> str:
    """``lower(text)`` that gives the same text on every engine (and in the MapReduce mapper).

    DuckDB lowers code point by code point; Spark (ICU) and Python apply Unicode's full, contextual rules, which
    differ for two letters: a capital sigma at the end of a word becomes ``ς`` (``ΟΔΟΣ`` → ``οδος``, DuckDB
    ``οδοσ``) and the dotted capital I becomes ``i`` plus a combining dot (``İzmir``, DuckDB ``izmir``). Both are
    lowered first as DuckDB lowers them, so a tag or an account key is one value whichever engine curated it.
    """
    return f"lower(replace(replace({text}, 'İ', 'i'), 'Σ', 'σ'))"


def _tag_name(name: str) -> str:
    """True when ``name`` is a hashtag name curated: not NULL, at most :data:`MAX_TAG_LENGTH` characters, and holding
    a character that is not white space (:data:`TAG_CHARACTER_RE`). Alike before and after :func:`_lower`."""
    return (f"({name} IS NOT NULL AND length({name}) <= {MAX_TAG_LENGTH} "
            f"AND regexp_matches({name}, '{TAG_CHARACTER_RE}'))")


#: The timestamps curation reads: ISO 8601 ``YYYY-MM-DD``, optionally ``T`` (or a space) ``hh:mm[:ss[.fraction]]``,
#: optionally ``Z`` or an offset ``±hh[[:]mm]`` up to 18 hours; no offset is UTC. Any other text is unknown (NULL).
#: The two engines' casts each accept more, but not the same more (DuckDB reads ``24:00:00`` and `` utc``, Spark
#: ``+1`` and a space before the offset, …), and the same raw status must be curated alike on both: only this
#: form, which both read the same, reaches the cast. A time without seconds gets ``:00`` first (Spark reads no such
#: time). The MapReduce mapper applies the same pattern (``TIMESTAMP_RE`` there).
TIMESTAMP_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
                r"(Z|[+-](0[0-9]|1[0-7])(:?[0-5][0-9])?|[+-]18(:?00)?)?)?\z")


def _ts(expr: str) -> str:
    """A text timestamp of the form :data:`TIMESTAMP_RE` → a UTC ``TIMESTAMP`` (NULL when it is not of that form or
    names no real time, such as February 30th)."""
    # a time without seconds: its 17th character (after yyyy-mm-ddThh:mm) is no ':'
    padded = (f"CASE WHEN length({expr}) > 10 AND substr({expr}, 17, 1) <> ':' "
              f"THEN substr({expr}, 1, 16) || ':00' || substr({expr}, 17) ELSE {expr} END")
    return (f"CASE WHEN regexp_matches({expr}, '{TIMESTAMP_RE}') "
            f"THEN TRY_CAST(TRY_CAST({padded} AS TIMESTAMPTZ) AS TIMESTAMP) END")


def _after_fetch(ts: str, fetched: str, day: bool = False) -> str:
    """True when the time ``ts`` is later than the fetch time ``fetched`` plus :data:`CLOCK_SKEW`; with ``day``,
    ``ts`` is a ``DATE`` (the start of a day), later than the day of that moment. NULL when either is NULL."""
    limit = f"{fetched} + {CLOCK_SKEW}"
    return f"{ts} > CAST({limit} AS DATE)" if day else f"{ts} > {limit}"


def _key(acct: str, domain: str) -> str:
    """The account key of an account struct's ``acct`` (see the module docstring)."""
    return (f"CASE WHEN {domain} IS NOT NULL THEN {acct} "
            f"WHEN {acct} LIKE '%@%' THEN {_lower(acct)} ELSE {_lower(f'{acct} || {AT_INSTANCE}')} END")


#: The domain of an ``acct``: what follows its last ``@``. ``\z``, not ``$``, ends every curation regex: RE2
#: (DuckDB) and Java (Spark) both read ``\z`` as the very end of the text, while Java's ``$`` also matches before a
#: final line break (RE2's does not), so ``$`` may let a value through on one engine only (:data:`_DAY_SECONDS_RE`).
#: Here the two read alike (``[^@]+`` takes the line break too), but it keeps to the one spelling.
_HOME_DOMAIN_RE = r"@([^@]+)\z"


def _home(acct: str, domain: str) -> str:
    domain_part = f"regexp_extract({acct}, '{_HOME_DOMAIN_RE}', 1)"
    return (f"coalesce({domain}, CASE WHEN {acct} LIKE '%@%' THEN {_lower(domain_part)} "
            f"ELSE lower(meta.instance) END)")


#: The largest reply, boost or favourite count curated. A count no server reaches (a broken or hostile one may send
#: up to 2**63 - 1, which the landing checks let through) or a negative one is unknown, curated as 0: summed in a
#: status's interactions and over many statuses it overflowed 64-bit arithmetic and stopped every curation (DuckDB)
#: or metric (Spark). Far above any real count; the MapReduce mapper applies the same bound.
MAX_ENGAGEMENT_COUNT = 2**32 - 1


def _count(list_expr: str) -> str:
    return f"coalesce(array_length({list_expr}), 0)"


def _media(s: str, kind: str) -> str:
    return _count(f"list_filter({s}.media_attachments, lambda m: m.type = '{kind}')")


def _authored_text(text: str) -> str:
    """``text`` without a quote post's fallback link: Mastodon's first paragraph (:data:`QUOTE_INLINE_RE`), then
    another server's last element (:data:`TRAILING_QUOTE_INLINE_RE`); each regex runs only on a text that may hold
    it (:func:`fediscope.engine.visible_text.authored_text` is the same in Python)."""
    # 'g': Spark replaces every match; each pattern is anchored (start, end), so there is one
    mark = f"substr({text}, {QUOTE_INLINE_MARK_AT}, {len(QUOTE_INLINE_MARK)})"  # the names before it in any case
    leading = (f"CASE WHEN {mark} = '{QUOTE_INLINE_MARK}' "
               f"THEN regexp_replace({text}, '{QUOTE_INLINE_RE}', '', 'g') ELSE {text} END")
    return (f"CASE WHEN contains({text}, '{QUOTE_INLINE_MARK}') "
            f"THEN regexp_replace({leading}, '{TRAILING_QUOTE_INLINE_RE}', '', 'g') ELSE {leading} END")


#: A numeric character reference (``&#128512;``, ``&#x1F600;``) as the text after its ``&#``: decimal or hexadecimal
#: digits, then an optional ``;`` (HTML reads ``&#128512`` too, a parse error: the number ends at the first character
#: that is no digit of it) (:data:`_REFERENCE_RE`); its value's digits (leading zeros apart) in group 1 of
#: :data:`_DECIMAL_REFERENCE_RE` or :data:`_HEX_REFERENCE_RE`, and matched by neither when they are more than any code
#: point has (beyond Unicode). No Mastodon server writes an emoji so (it sends the characters), other software may.
#: The MapReduce mapper has the same rule (``REFERENCE_RE``).
_DECIMAL_REFERENCE_RE = r"^0*([0-9]{1,7})(?:[^0-9]|\z)"
_HEX_REFERENCE_RE = r"^[xX]0*([0-9a-fA-F]{1,6})(?:[^0-9a-fA-F]|\z)"
_REFERENCE_RE = r"^(?:[0-9]+|[xX][0-9a-fA-F]+);?"
#: A numeric reference without its ``;`` just before a ``<``: the emoji count gives it its ``;`` (group 1 and ``;``,
#: which HTML reads alike) before it removes the tags, so that no digits after a tag (``&#9749<b>9</b>``, ☕ and 9)
#: join the reference's number. The MapReduce mapper has the same pattern.
UNENDED_REFERENCE_RE = r"(&#(?:[0-9]+|[xX][0-9a-fA-F]+))<"
#: A text holding a reference to a code point from U+0100 on (three significant digits, decimal or hexadecimal; a few
#: below it too): every emoji sequence holds such a code point (:func:`emoji_pattern`), so a text of ASCII characters
#: without one holds no emoji. The MapReduce mapper has the same pattern.
WIDE_REFERENCE_RE = r"&#(?:0*[1-9][0-9]{2}|[xX]0*[1-9a-fA-F][0-9a-fA-F]{2})"
#: A text holding a numeric reference other than ``&#39;``: Mastodon writes every ``'`` so, and an apostrophe is no
#: emoji, read as a reference or as the character, so a text whose only references are those skips the decoding
#: (:func:`_decoded_references`, the costlier part of the emoji count of such a text).
_OTHER_REFERENCE_RE = r"&#(?:[^3]|3[^9]|39[^;])"


def _quoted(regex: str) -> str:
    """``regex`` for a statement's string literal (its ``'`` doubled)."""
    return regex.replace("'", "''")


def _hex_value(digits: str) -> str:
    """The value of up to six hexadecimal ``digits`` (text), with the string functions both engines have: each
    digit's place in ``0-9a-f``, read from the digits padded to six and folded to lower case once (a lambda's
    parameter), and folded with ``translate``: ``lower()`` is spelt out at length in Spark's translation, to case
    the whole of Unicode as DuckDB does (:func:`fediscope.engine.dialect.to_spark`), and the statement's size alone
    costs Spark's curation time."""
    terms = " + ".join(f"(strpos('0123456789abcdef', substr(h, {k}, 1)) - 1) * {16 ** (6 - k)}" for k in range(1, 7))
    return f"list_transform([translate(lpad({digits}, 6, '0'), 'ABCDEF', 'abcdef')], lambda h: {terms})[1]"


def _referenced(code: str) -> str:
    """The character HTML reads for the code point ``code`` of a numeric reference, as far as the emoji count sees
    it: the character itself; U+FFFD for 0, a surrogate or one beyond U+10FFFF (HTML's), and for the C1 controls
    HTML reads as Windows-1252 characters, none of them an emoji but ``&#153;``, ™ (U+2122), read so. ``code`` is
    read five times: a name, not an expression (:func:`_decoded_references` binds it)."""
    return (f"CASE WHEN {code} = 153 THEN chr(8482) WHEN {code} = 0 OR {code} BETWEEN 128 AND 159 "
            f"OR {code} BETWEEN 55296 AND 57343 OR {code} > 1114111 THEN chr(65533) ELSE chr({code}) END")


def _decoded_references(text: str) -> str:
    """``text`` with its numeric character references (:data:`_DECIMAL_REFERENCE_RE`) replaced by the characters HTML
    reads for them (:func:`_referenced`), left to right, a replaced character not read again (``&#38;#128512;`` is
    the text ``&#128512;``). Split at every ``&#`` (after a leading space, so that the first piece never reads as a
    reference: it gets its ``&#`` back as any other piece that is none, and the three go): a piece starting with a
    reference's digits and an optional ``;`` (:data:`_REFERENCE_RE`) is that character and the rest. Each piece's
    code point is computed once and bound to a lambda's parameter (``list_transform([value], lambda code: …)[1]``):
    spelt out at each of its uses, the statement grew to eight times its size, which cost Spark's curation a fifth of
    its time for texts that never took this branch."""
    rest = f"regexp_replace(piece, '{_REFERENCE_RE}', '', 'g')"  # 'g': Spark's way; anchored, one match
    decimal = f"TRY_CAST(regexp_extract(piece, '{_DECIMAL_REFERENCE_RE}', 1) AS INTEGER)"
    digits = f"regexp_extract(piece, '{_HEX_REFERENCE_RE}', 1)"
    hexadecimal = f"CAST({_hex_value(digits)} AS INTEGER)"
    # a reference beyond Unicode (:data:`_REFERENCE_RE`, neither of the two) is read as one past its last code
    # point: U+FFFD
    code = (f"CASE WHEN regexp_matches(piece, '{_DECIMAL_REFERENCE_RE}') THEN {decimal} "
            f"WHEN regexp_matches(piece, '{_HEX_REFERENCE_RE}') THEN {hexadecimal} ELSE 1114112 END")
    piece = (f"CASE WHEN regexp_matches(piece, '{_REFERENCE_RE}') "
             f"THEN list_transform([{code}], lambda code: {_referenced('code')})[1] || {rest} "
             "ELSE '&#' || piece END")
    # the pieces bound to a lambda's parameter too: Spark's array_to_string reads its list three times (a list of
    # NULLs only is NULL), which spelt the split, its text and the decoding of every piece out three times
    pieces = f"list_transform(string_split(' ' || {text}, '&#'), lambda piece: {piece})"
    return f"list_transform([{pieces}], lambda pieces: substr(array_to_string(pieces, ''), 4))[1]"


def _unicode_emoji_count(text: str) -> str:
    """Emoji sequences in the visible text of ``text``, without its HTML tags (:data:`TAG_RE`: an emoji in an
    attribute, such as a link's ``href``, is not seen, and the link's text shows it once), its numeric character
    references read as HTML reads them (:func:`_decoded_references`: ``&#128512;`` is 😀) (:func:`emoji_pattern`;
    :func:`non_emoji_pattern` says why the runs of other characters are replaced first); text of ASCII characters
    only (one byte each) without a reference to a code point from U+0100 on (:data:`WIDE_REFERENCE_RE`) has none, so
    it skips the regexes, as does a text without a reference but ``&#39;`` the decoding
    (:data:`_OTHER_REFERENCE_RE`). A reference without its ``;`` before a tag gets it first
    (:data:`UNENDED_REFERENCE_RE`)."""
    def visible(t: str) -> str:
        return f"regexp_replace({t}, '{TAG_RE}', '', 'g')"

    ended = f"regexp_replace({text}, '{UNENDED_REFERENCE_RE}', '\\1;<', 'g')"
    read = (f"CASE WHEN contains({text}, '&#') AND regexp_matches({text}, '{_OTHER_REFERENCE_RE}') "
            f"THEN {_decoded_references(visible(ended))} ELSE {visible(text)} END")
    emoji = _count(f"regexp_extract_all(regexp_replace({read}, '{NON_EMOJI_RE}', ' ', 'g'), '{EMOJI_RE}')")
    return (f"CASE WHEN octet_length(encode({text})) = length({text}) AND NOT (contains({text}, '&#') "
            f"AND regexp_matches({text}, '{WIDE_REFERENCE_RE}')) THEN 0 ELSE {emoji} END")


#: A ``<`` that starts no tag (:data:`TAG_RE`): a text holding one takes the regexes in :func:`_visible_length`.
_NO_TAG_RE = r"<[^A-Za-z/!?]"


def _visible_length(text: str) -> str:
    """Characters of ``text`` without HTML tags, a character reference counting as one.

    The definition is the regex pair of the last branch: count every character reference (:data:`ENTITY_RE`) as one
    character, then remove every tag (:data:`TAG_RE`: from a ``<`` and a letter, ``/``, ``!`` or ``?`` to the next
    ``>``); references first, as HTML reads them (a tag ends a numeric reference without its ``;``). Stripping tags
    with a regex is the costliest column of curation, so the common cases take a cheaper route to the same number:

    * no ``<`` and no ``&``: nothing to remove, the length as it is;
    * no ``&``, the text ends with ``>`` (Mastodon HTML ends with ``</p>``) and every ``<`` starts a tag (a ``<``
      followed by another character, such as ``a < b``, is text): split at every ``>``; each piece but the last
      ends where a ``>`` was, and holds a tag iff it contains a ``<`` (the tag runs from its first ``<`` to that
      ``>``); the last piece is empty. The tags' characters are summed from the pieces (``array_sum``: Spark
      ``AGGREGATE``; DuckDB gets it as a macro, see the DuckDB engine).

    Anything else (a reference, a ``<`` after the last ``>``, or one that starts no tag) takes the regexes.
    """
    exact = f"length(regexp_replace(regexp_replace({text}, '{ENTITY_RE}', '&', 'g'), '{TAG_RE}', '', 'g'))"
    tag_chars = (f"coalesce(array_sum(list_transform(list_filter(string_split({text}, '>'), "
                 "lambda piece: contains(piece, '<')), lambda piece: length(piece) - strpos(piece, '<') + 2)), 0)")
    return (f"CASE WHEN contains({text}, '&') THEN {exact} "
            f"WHEN NOT contains({text}, '<') THEN length({text}) "
            f"WHEN {text} LIKE '%>' AND NOT regexp_matches({text}, '{_NO_TAG_RE}') THEN length({text}) - {tag_chars} "
            f"ELSE {exact} END")


def _content_length(s: str, text: str) -> str:
    """The curated ``content_length`` of the status struct ``s``: the length of the text its author wrote. The
    privacy policy rewrites handles and links in the text to pseudonyms of other lengths, and records that length
    (``authored_length``: :func:`fediscope.engine.visible_text.authored_length`) when it changed the text; else (no
    change, privacy off, a record landed before) the visible length of ``text`` (:func:`_visible_length`), the same
    number for a text landed as written. A negative ``authored_length`` (no landing writes one) is not read."""
    recorded = f"{s}.authored_length"
    return f"CASE WHEN {recorded} >= 0 THEN {recorded} ELSE CAST({_visible_length(text)} AS BIGINT) END"


def _has_content_warning(s: str) -> str:
    """Whether the status struct ``s`` carries a content warning: a ``spoiler_text`` holding a character that is not
    white space (:data:`TAG_CHARACTER_RE`, Unicode's White_Space, alike on every engine: a warning of blanks warns of
    nothing); never NULL. Its text is not curated (the author's words, as the content is): only this and its length
    (:func:`_content_warning_length`)."""
    return f"coalesce(regexp_matches({s}.spoiler_text, '{TAG_CHARACTER_RE}'), false)"


def _content_warning_length(s: str) -> str:
    """The curated ``content_warning_length`` of the status struct ``s``: the length (characters) of its content
    warning as its author wrote it, untrimmed; NULL without one (:func:`_has_content_warning`). As for
    ``content_length`` (:func:`_content_length`), the privacy policy rewrites handles and links in ``spoiler_text``
    to pseudonyms of other lengths and records the length as written (``authored_spoiler_length``) when it changed
    it; else the length of the text as landed. A negative recorded length (no landing writes one) is not read."""
    recorded = f"{s}.authored_spoiler_length"
    return (f"CASE WHEN NOT {_has_content_warning(s)} THEN CAST(NULL AS BIGINT) WHEN {recorded} >= 0 THEN {recorded} "
            f"ELSE CAST(length({s}.spoiler_text) AS BIGINT) END")


def _origin_ref(uri: str) -> str:
    """A status's home instance and its id there, ``host/id``, from a Mastodon-shaped URI (NULL otherwise): what the
    privacy policy lands pseudonymised as ``origin_ref``, derived here for records landed with privacy off."""
    pattern = STATUS_URI_PATTERN.replace("'", "''")
    # the match must be the whole URI: ``$`` also matches before a final line break in Java (Spark), not in RE2
    return (f"CASE WHEN regexp_extract({uri}, '{pattern}', 0) = {uri} THEN lower(regexp_extract({uri}, '{pattern}', "
            f"1)) || '/' || regexp_extract({uri}, '{pattern}', 2) END")


def _uri(s: str) -> str:
    """The ``uri`` of the status struct ``s``; an empty one is none (NULL). A URI is what deduplicates a status: an
    empty one names no status, and taking it for one made every status with an empty URI versions of a single status
    (the latest kept, the others gone). No Mastodon server sends one; landing with privacy on lands none (the status
    is landed without a ``uri``), so a raw file landed with privacy off or by other means is curated as privacy on
    would have landed it: such a status is skipped as one without a URI (:data:`STATUS_VERSIONS`), and a boost of
    one is no share event (its original has no URI to name), as with privacy on. The MapReduce mapper has the same
    rule (``status_uri``)."""
    return f"nullif({s}.uri, '')"


def _public(visibility: str) -> str:
    """True when a ``visibility`` is public data, as landing judges it (:data:`~fediscope.privacy.PUBLIC_VISIBILITIES`:
    ``public``, ``unlisted``, or none given); never NULL. The MapReduce mapper has the same rule."""
    named = ", ".join(f"'{v}'" for v in PUBLIC_VISIBILITIES if v is not None)
    missing = f"{visibility} IS NULL OR " if None in PUBLIC_VISIBILITIES else ""
    return f"coalesce({missing}{visibility} IN ({named}), false)"


def _visibility(s: str, wrapper: bool) -> str:
    """The curated ``visibility`` of a version: its own, but a share event of a status that is not public takes
    that status's (a public boost of a followers-only post is no public data either: landing skips the record)."""
    if not wrapper:
        return f"{s}.visibility"
    return (f"CASE WHEN {_uri('data.reblog')} IS NOT NULL AND NOT {_public('data.reblog.visibility')} "
            f"THEN data.reblog.visibility ELSE {s}.visibility END")


class _Shared(NamedTuple):
    """What several curated columns of one status version read (each more than once, or also its author's snapshot):
    its authored text (:func:`_authored_text` of its ``content``), its ``created_at`` and the record's ``fetched_at``
    as timestamps (:func:`_ts`), its author's account key (:func:`_key`) and home instance (:func:`_home`). Either
    the expressions themselves (:func:`_spelt`) or the columns of :data:`STATUS_RECORDS`'s subquery computing them
    once per record (:data:`_RECORD_COLUMNS`)."""

    text: str
    created: str
    fetched: str
    author_key: str
    author_home: str


def _author(a: str) -> tuple[str, str]:
    """The account key and the home instance of the account struct ``a``."""
    acct = f"coalesce({a}.acct, {a}.username)"
    return _key(acct, f"{a}.domain"), _home(acct, f"{a}.domain")


def _spelt(s: str) -> _Shared:
    """:class:`_Shared` of the status struct ``s`` (``data`` or ``data.reblog``) spelt out."""
    return _Shared(_authored_text(f"coalesce({s}.content, '')"), _ts(f"{s}.created_at"), _ts("meta.fetched_at"),
                   *_author(f"{s}.account"))


def _status_columns(s: str, wrapper: bool, shared: _Shared) -> list[tuple[str, str]]:
    """The curated columns (expression, name) of one status version, read from the struct ``s`` (``data`` or
    ``data.reblog``) and ``shared``, what several of them read (:class:`_Shared`).

    ``wrapper`` marks the outer status of a raw record: it is a share event when ``data.reblog`` is set.
    """
    text = shared.text
    is_reblog = f"{_uri('data.reblog')} IS NOT NULL" if wrapper else "false"

    def engagement(column: str) -> str:  # a share event carries no engagement of its own
        count = f"{s}.{column}"
        return f"CASE WHEN {is_reblog} THEN 0 WHEN {count} BETWEEN 0 AND {MAX_ENGAGEMENT_COUNT} THEN {count} ELSE 0 END"

    mention_acct = "coalesce(m.acct, '')"
    mention_key = (f"CASE WHEN m.url LIKE 'acct:%' THEN {mention_acct} WHEN {mention_acct} LIKE '%@%' "
                   f"THEN {_lower(mention_acct)} ELSE {_lower(f'{mention_acct} || {AT_INSTANCE}')} END")
    quoted_status = f"{s}.quote.quoted_status"
    quoted = f"{quoted_status}.account"
    return [
        (_uri(s), "uri"),
        (f"CAST({s}.id AS VARCHAR)", "status_id"),
        (shared.author_key, "account_key"),
        (shared.author_home, "instance"),
        ("lower(meta.instance)", "fetched_from"),
        (shared.created, "created_at"),
        (f"CAST({shared.created} AS DATE)", "dt"),
        (_lower(f"{s}.language"), "language"),  # a language tag is case-insensitive (BCP 47): 'EN' is 'en'
        (_visibility(s, wrapper), "visibility"),
        (engagement("replies_count"), "replies_count"),
        (engagement("reblogs_count"), "reblogs_count"),
        (engagement("favourites_count"), "favourites_count"),
        (_count(f"list_filter(regexp_extract_all({text}, '{ANCHOR_RE}'), "
                f"lambda a: NOT regexp_matches(a, '{_quoted(NOT_LINK_RE)}'))"), "url_count"),
        (_count(f"{s}.emojis"), "custom_emoji_count"),
        (_unicode_emoji_count(text), "unicode_emoji_count"),
        (_count(f"{s}.media_attachments"), "media_count"),
        (_media(s, "image"), "image_count"),
        (_media(s, "video"), "video_count"),
        (_media(s, "gifv"), "gifv_count"),
        (_media(s, "audio"), "audio_count"),
        ("coalesce(list_sort(list_distinct(list_transform(list_filter("
         f"{s}.tags, lambda t: {_tag_name('t.name')}), "
         f"lambda t: {_lower('t.name')}))), CAST([] AS VARCHAR[]))",
         "hashtags"),
        ("coalesce(list_sort(list_distinct(list_transform(list_filter("
         f"{s}.mentions, lambda m: m.acct IS NOT NULL), lambda m: {mention_key}))), CAST([] AS VARCHAR[]))",
         "mentions"),
        (f"{s}.in_reply_to_id IS NOT NULL", "is_reply"),
        (f"CAST({s}.in_reply_to_id AS VARCHAR)", "in_reply_to_id"),
        (is_reblog, "is_reblog"),
        (_uri("data.reblog") if wrapper else "CAST(NULL AS VARCHAR)", "reblog_of_uri"),
        (_ts(f"{s}.edited_at"), "edited_at"),
        (_content_length(s, text), "content_length"),
        (shared.fetched, "fetched_at"),
        (f"coalesce({s}.deleted, false)", "deleted"),
        (f"coalesce({s}.origin_ref, {_origin_ref(_uri(s))})", "origin_ref"),
        # the author of a quoted status that is not public is not kept (landing drops such a quoted status)
        (f"CASE WHEN {_public(f'{quoted_status}.visibility')} THEN "
         f"{_key(f'coalesce({quoted}.acct, {quoted}.username)', f'{quoted}.domain')} END", "quoted_account_key"),
        (f"{s}.sensitive", "sensitive"),  # Mastodon's flag (media hidden, or the text behind its warning) as sent
        (_has_content_warning(s), "has_content_warning"),
        (_content_warning_length(s), "content_warning_length"),
    ]


def _account_columns(a: str, shared: _Shared | None = None) -> list[tuple[str, str]]:
    """The curated columns (expression, name) of the account struct ``a``; of a status's author, its account key,
    home instance and fetch time are the status version's ``shared`` ones (:class:`_Shared`)."""
    key, home = _author(a) if shared is None else (shared.author_key, shared.author_home)
    return [
        (key, "account_key"),
        (home, "instance"),
        (f"{a}.followers_count", "followers_count"),
        (f"{a}.following_count", "following_count"),
        (f"{a}.statuses_count", "statuses_count"),
        (_ts(f"{a}.created_at"), "created_at"),
        (f"{a}.bot", "bot"),
        (f'{a}."group"', "group"),
        (f"CAST({_ts(f'{a}.last_status_at')} AS DATE)", "last_status_at"),
        (_ts("meta.fetched_at") if shared is None else shared.fetched, "fetched_at"),
        ("lower(meta.instance)", "fetched_from"),
    ]


def _select(table: Table, source: str, where: str = "") -> str:
    cols = ", ".join(f'"{c}"' for c in table.columns)
    return f"SELECT {cols} FROM {source}" + (f" WHERE {where}" if where else "")


def _latest(table: Table, source: str, partition: str, order: str) -> str:
    """Rows of ``source`` that are the first of their ``partition`` group by ``order``."""
    cols = ", ".join(f'"{c}"' for c in table.columns)
    return (f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY {order}) "
            f"AS version_rank FROM {source}) AS ranked WHERE version_rank = 1")


def _columns(columns: list[tuple[str, str]], prefix: str = "") -> str:
    return ",\n    ".join(f'{expr} AS "{prefix}{name}"' for expr, name in columns)


def _unprefixed(columns: list[tuple[str, str]], prefix: str) -> str:
    return ", ".join(f'"{prefix}{name}" AS "{name}"' for _, name in columns)


#: What the curated columns of a record's status (``s_``) and of the original it reblogs (``r_``) read more than once
#: (:class:`_Shared`), as the columns of :data:`STATUS_RECORDS`'s subquery computing each once per record: three
#: counts of the authored text and its length read it, each several times (spelt out at each use, 168 copies of
#: ``content``, a 56 KB statement); ``created_at`` and ``dt`` the parsed ``created_at``; the four snapshots' (status,
#: original, both authors) ``fetched_at`` the parsed ``fetched_at``; a status and its author's snapshot the author's
#: key and home instance. With only the texts computed once (a 35 KB statement), DuckDB planned it in 0.068 s and
#: sqlglot translated it for Spark in 0.65 s at every curation; now (32 KB) 0.060 s and 0.46 s (medians, alternating,
#: on a loaded machine). The rows, and the time DuckDB takes to compute them, are the same. Not curated column names.
_RECORD_SHARED = _Shared('"s_authored_text"', '"s_created_time"', '"fetched_time"', '"s_author_key"',
                         '"s_author_home"')
_ORIGINAL_SHARED = _Shared('"r_authored_text"', '"r_created_time"', '"fetched_time"', '"r_author_key"',
                           '"r_author_home"')
#: The columns of :data:`STATUS_RECORDS`'s subquery (name → expression), each computed once per record; the
#: originals' ``fetched_at`` is the record's.
_RECORD_COLUMNS = {**dict(zip(_RECORD_SHARED, _spelt("data"), strict=True)),
                   **dict(zip(_ORIGINAL_SHARED, _spelt("data.reblog"), strict=True))}
_TEXT = _RECORD_SHARED.text
_STATUS = _status_columns("data", wrapper=True, shared=_RECORD_SHARED)
_ORIGINAL = _status_columns("data.reblog", wrapper=False, shared=_ORIGINAL_SHARED)

#: The curated status columns computed from the status's text (``content``) and content warning (``spoiler_text``):
#: what changes in another person's row when ``fediscope gdpr erase`` rewrites the text of its raw record
#: (:mod:`fediscope.gdpr.texts`).
CONTENT_COLUMNS = tuple(name for expr, name in _STATUS
                        if any(read in expr for read in ("data.content", _TEXT, "data.spoiler_text")))
#: The curated status columns that are the merge's, not one version's (:data:`MERGE_STATUSES`): every other column of
#: a curated row is that of the version that won.
MERGED_COLUMNS = ("deleted", "copies", "last_fetched_at")
_AUTHOR = _account_columns("data.account", _RECORD_SHARED)
_ORIGINAL_AUTHOR = _account_columns("data.reblog.account", _ORIGINAL_SHARED)

#: One row per raw status record, the only statement that reads (and parses) the raw statuses: the curated
#: columns of the record's status (``s_``) and of the original it reblogs (``r_``, NULL without one), and the
#: account snapshots of both authors (``a_``, ``ra_``). Everything after reads these narrow columns: keeping the
#: parsed records themselves (the HTML content, the nested structs) for a second pass cost more than the parse.
def _status_records(status: _Shared, original: _Shared, source: str) -> str:
    return f"""
SELECT
    {_columns(_status_columns("data", wrapper=True, shared=status), "s_")},
    {_columns(_status_columns("data.reblog", wrapper=False, shared=original), "r_")},
    {_columns(_account_columns("data.account", status), "a_")},
    {_columns(_account_columns("data.reblog.account", original), "ra_")}
FROM {source}
"""


_RECORD_SELECT = ",\n         ".join(f"{expr} AS {name}" for name, expr in _RECORD_COLUMNS.items())
STATUS_RECORDS = _status_records(_RECORD_SHARED, _ORIGINAL_SHARED, f"""(
  SELECT meta, data,
         {_RECORD_SELECT}
  FROM raw_statuses
) AS records""")
#: :data:`STATUS_RECORDS` as :func:`rules_fingerprint` hashes it: the same statement with what its columns share
#: (:class:`_Shared`) spelt out at every use, as it was written before they became columns of its subquery. The
#: same rows, so the same rules: lakes curated before are not told to re-curate for a way of computing them.
_STATUS_RECORDS_RULES = _status_records(_spelt("data"), _spelt("data.reblog"), "raw_statuses")

#: A status version dated after the fetch that saw it (created or edited later than ``fetched_at`` plus
#: :data:`CLOCK_SKEW`): impossible, skipped (module docstring). NULL (kept) without a parseable ``fetched_at``.
_FUTURE_VERSION = f"({_after_fetch('created_at', 'fetched_at')} OR {_after_fetch('edited_at', 'fetched_at')})"


#: The earliest ``created_at`` a status version may have: a date before the year 1 (``0001-01-01T00:00:00+01:00``
#: is 1 BC in UTC) makes a ``dt`` partition no engine reads back. The MapReduce mapper skips such versions too.
FIRST_DAY = "TIMESTAMP '0001-01-01 00:00:00'"


def _versions(where: str) -> str:
    """The status versions of ``status_records`` (records and the originals in reblogs) that pass ``where``."""
    return f"""
SELECT * FROM (
  SELECT {_unprefixed(_STATUS, "s_")} FROM status_records
  UNION ALL
  SELECT {_unprefixed(_ORIGINAL, "r_")} FROM status_records WHERE "r_uri" IS NOT NULL
) AS versions
WHERE uri IS NOT NULL AND created_at >= {FIRST_DAY} AND account_key IS NOT NULL AND {where}
"""


#: Every version of every status in the new raw records: the records themselves, and the originals embedded
#: in reblogs. Rows without a URI or a parseable ``created_at`` (or one before the year 1 in UTC, which no ``dt``
#: partition can name: :data:`FIRST_DAY`) cannot be deduplicated or placed, rows without an
#: author (no ``account``, so no account key) cannot be attributed, and every metric keyed by account or instance
#: would hold a NULL key, which no store accepts: skipped. So are versions dated after their fetch.
STATUS_VERSIONS = _versions(f"NOT coalesce({_FUTURE_VERSION}, false)")

#: How many versions of the new raw records were skipped as dated after their fetch (one row, ``n``).
FUTURE_VERSIONS = f"SELECT count(*) AS n FROM ({_versions(f'coalesce({_FUTURE_VERSION}, false)')}) AS skipped"

#: What an erasure (``fediscope gdpr erase``, :mod:`fediscope.gdpr.erase`) leaves in another person's status
#: version, whose raw batch it rewrites keeping the fetch time: a reply to the erased account's status says
#: :data:`~fediscope.privacy.ERASED` in ``in_reply_to_id``, a mention of it is dropped, a quote of its status has no
#: quoted author (``quoted_account_key`` NULL). Of two versions of one fetch, the one that says so wins, before the
#: text's length (the erasure also shortens a text holding the account's handle or links), so a ``fediscope
#: process`` that reads a rewritten batch again never brings the reference back. The MapReduce mapper writes these
#: three on its ``S`` lines, and its reducer orders them alike.
_ERASED_FIRST = (f"coalesce(in_reply_to_id = '{ERASED}', false) DESC, {_count('mentions')} ASC, "
                 "quoted_account_key IS NULL DESC")

#: The columns a version differs in when nothing before tells (two copies of one fetch, or an erasure's version and
#: the one it rewrote), in a fixed order, so the winner never depends on which run or file brought which version:
#: first those the MapReduce reducer sees (its ``S`` lines), in its order, then every other column. Not ``uri`` (the
#: same for every version), ``deleted``, ``copies`` and ``last_fetched_at``: a curated row's are those of the merge
#: that made it, not the version's, so ordering by them would make the winner depend on the runs before.
_EVERY_COLUMN = ", ".join(
    f'"{column}" ASC NULLS LAST' for column in (
        "is_reblog", "account_key", "dt", "url_count", "custom_emoji_count", "unicode_emoji_count", "media_count",
        "hashtags", "quoted_account_key", "instance", "created_at", "language", "visibility", "image_count",
        "video_count", "gifv_count", "audio_count", "mentions", "is_reply", "in_reply_to_id", "reblog_of_uri",
        "origin_ref", "sensitive", "has_content_warning", "content_warning_length"))

#: Which version of a status wins (the curated row), latest first. Not whether it was deleted: a deletion makes
#: every version of its status a tombstone (:data:`MERGE_STATUSES`), so the winner is the same row whether the
#: deletion came in the run that curated the versions or in a later one. Of versions alike in time and counts, one
#: that is not public (:data:`PUBLIC_STATUSES` then leaves the status out): so a marker, which keeps only the columns
#: read up to there (:data:`NON_PUBLIC_MARKERS`), wins or loses as the version it stands for; the reducer of
#: spark_jobs/mapreduce orders alike. Then, of one fetch, the erasure's version (:data:`_ERASED_FIRST`); the rest is
#: a total order (:data:`_EVERY_COLUMN`).
STATUS_ORDER = ("edited_at DESC NULLS LAST, fetched_at DESC, "
                "replies_count + reblogs_count + favourites_count DESC, replies_count DESC, reblogs_count DESC, "
                f"favourites_count DESC, {_public('visibility')} ASC, {_ERASED_FIRST}, content_length DESC, "
                f"status_id ASC NULLS LAST, fetched_from ASC, {_EVERY_COLUMN}")


def _existing_statuses(source: str) -> str:
    """``_select(STATUSES, source)`` of curated rows, except that a row curated before ``origin_ref`` existed gets
    it from its URI when that is still the raw one (privacy off; a pseudonymised URI gives none), so upgraded
    lakes match deletions too, and one curated before ``last_fetched_at`` existed gets its own ``fetched_at``."""
    derived = _origin_ref('"uri"')
    special = {"origin_ref": f'coalesce("origin_ref", {derived}) AS "origin_ref"',
               "last_fetched_at": 'coalesce("last_fetched_at", "fetched_at") AS "last_fetched_at"'}
    cols = ", ".join(special.get(c, f'"{c}"') for c in STATUSES.columns)
    return f"SELECT {cols} FROM {source}"


#: The new status versions as curated rows: a version has no other copies merged into it yet, and its latest fetch
#: is its own.
_NEW_VERSION_COLUMNS = {"copies": 'CAST(NULL AS VARCHAR[]) AS "copies"',
                        "last_fetched_at": '"fetched_at" AS "last_fetched_at"'}
_NEW_VERSIONS = ("SELECT " + ", ".join(_NEW_VERSION_COLUMNS.get(c, f'"{c}"') for c in STATUSES.columns)
                 + " FROM status_versions")


#: Every candidate row of the merge: the curated rows of the affected partitions and the new versions, each with
#: whether a reported deletion names it (``reported``: by its own instance and id, by a copy merged into it, or by
#: its ``origin_ref``) and its own copy (``own_copy``: ``fetched_from/status_id``).
_MERGE_CANDIDATES = f"""
SELECT c.*, c."deleted" OR d.status_id IS NOT NULL OR o.origin_ref IS NOT NULL OR k.uri IS NOT NULL AS "reported",
       CASE WHEN c.status_id IS NOT NULL THEN c.fetched_from || '/' || c.status_id END AS "own_copy"
FROM ({_existing_statuses('existing_statuses')} UNION ALL {_NEW_VERSIONS}) AS c
LEFT JOIN (SELECT DISTINCT instance, status_id FROM status_deletions_merged) AS d
  ON d.instance = c.fetched_from AND d.status_id = c.status_id
LEFT JOIN (SELECT DISTINCT origin_ref FROM status_deletions_merged) AS o ON o.origin_ref = c.origin_ref
LEFT JOIN (SELECT DISTINCT e.uri
           FROM (SELECT uri, unnest(copies) AS copy FROM ({_existing_statuses('existing_statuses')}) AS x) AS e
           JOIN (SELECT DISTINCT instance || '/' || status_id AS copy FROM status_deletions_merged) AS r
             ON r.copy = e.copy) AS k ON k.uri = c.uri
"""

#: Every copy of a status with several versions (``instance/id``, each version's own and those merged before).
_EVERY_COPY = ("list_filter(list_sort(list_distinct(list_concat(flatten(list(coalesce(copies, "
               "CAST([] AS VARCHAR[])))), list(own_copy)))), lambda x: x IS NOT NULL)")
#: The winner's other copies: every copy but its own, NULL when none is left.
_OTHER_COPIES = "list_filter(m.every_copy, lambda x: x <> coalesce(w.own_copy, ''))"

#: The latest version of every status of the affected partitions: existing rows and new versions, one per URI
#: (:data:`STATUS_ORDER`), whatever its visibility (:data:`PUBLIC_STATUSES` keeps the curated ones). A status that an
#: instance reported deleted (``status_deletions_merged``: a version fetched from that instance with that id, a curated
#: row that has that copy among its ``copies``, or the status's ``origin_ref``) is a tombstone, every version of it: the
#: tombstone wins over any copy of the status fetched from another instance, also when the copy the deletion names was
#: superseded by an earlier run (the curated row keeps every copy merged into it, so an incremental run deletes what a
#: full run over the same raw files does, and keeps the same row). ``copies`` holds the copies merged into the row
#: besides its own ``fetched_from``/``status_id`` (NULL for most statuses: one copy); it is aggregated (a GROUP BY) only
#: for statuses with several versions, never as a window list, which would give each of a status's k versions all k
#: copies. ``last_fetched_at`` is the latest ``fetched_at`` of every version and copy merged into the row (those of
#: the curated row, merged before, and of the new versions), also of those that lost: the latest fetch that saw the
#: status, which the metrics read for the day the collection last ran (``posted_days``, ``trending_hashtags``).
_MERGED_SELECT = {
    "deleted": 'w."status_deleted" AS "deleted"',
    "copies": (f'CASE WHEN m.every_copy IS NULL THEN w."copies" WHEN array_length({_OTHER_COPIES}) > 0 '
               f'THEN {_OTHER_COPIES} END AS "copies"'),
    "last_fetched_at": 'w."status_last_fetched_at" AS "last_fetched_at"',
}
MERGE_STATUSES = f"""
WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY uri ORDER BY {STATUS_ORDER}) AS version_rank,
         count(*) OVER (PARTITION BY uri) AS versions,
         bool_or(reported) OVER (PARTITION BY uri) AS status_deleted,
         max(last_fetched_at) OVER (PARTITION BY uri) AS status_last_fetched_at
  FROM ({_MERGE_CANDIDATES}) AS candidates
),
merged_copies AS (SELECT uri, {_EVERY_COPY} AS every_copy FROM ranked WHERE versions > 1 GROUP BY uri)
SELECT {", ".join(_MERGED_SELECT.get(c, f'w."{c}"') for c in STATUSES.columns)}
FROM ranked AS w LEFT JOIN merged_copies AS m ON m.uri = w.uri
WHERE w.version_rank = 1
"""

#: The curated statuses of the affected partitions: those of :data:`MERGE_STATUSES` (materialized as
#: ``statuses_latest``) whose latest version is public (:func:`_public`). Landing keeps no other status
#: (:mod:`fediscope.sources.pages`), but raw files landed by other means (NiFi, an older release, a copy) may hold
#: some: a followers-only, direct or limited status, or one of a visibility landing does not know, leaves the
#: curated tables, and so every metric, with its hashtags. Only the latest version counts: a status public once and
#: later edited to followers-only leaves them; the versions that are not public take part in the merge for that.
#: The winner that is not public stays in the curated table as a marker (:data:`NON_PUBLIC_MARKERS`), so that an
#: older public version curated by a LATER run (a raw file landed late) loses to it, as in a rebuild.
PUBLIC_STATUSES = f"SELECT * FROM statuses_latest WHERE {_public('visibility')}"

#: How many statuses of the merge :data:`PUBLIC_STATUSES` left out that have a version in this run's raw files (one
#: row, ``n``): the markers of statuses left out by an earlier run, merged again as their partition is rewritten,
#: are not counted (nor said) again.
NON_PUBLIC_STATUSES = (f"SELECT count(*) AS n FROM statuses_latest WHERE NOT {_public('visibility')} "
                       "AND uri IN (SELECT uri FROM status_versions)")

#: The columns a marker of a status that is not public keeps: those :data:`STATUS_ORDER` reads before whether a
#: version is public (a marker only ever competes on those: after them a version that is not public wins, and which
#: of two such versions wins leaves a marker either way), those that place it (``dt``), name it for the deletions
#: (its copies, ``origin_ref``) and for an erasure (``account_key``, ``reblog_of_uri``), and its latest fetch
#: (``last_fetched_at``: the metrics' day of the latest fetch reads every curated row). Every other column (the
#: text's counts, the hashtags, the mentions, the language, the reply and the quoted author) is NULL: the curated
#: lake keeps nothing of such a status's content.
MARKER_COLUMNS = ("uri", "status_id", "account_key", "instance", "fetched_from", "created_at", "dt", "visibility",
                  "replies_count", "reblogs_count", "favourites_count", "is_reblog", "reblog_of_uri", "edited_at",
                  "fetched_at", "deleted", "origin_ref", "copies", "last_fetched_at")

#: The statuses of the merge whose latest version is not public, as markers (:data:`MARKER_COLUMNS`): written to the
#: curated table with the public ones, so they take part in later merges (an older public version landed late loses
#: to the marker; a newer one wins and brings the status back), but never seen by a metric (the ``statuses`` view,
#: :data:`VISIBLE_STATUSES`), nor their hashtags (:data:`HASHTAG_ROWS` reads :data:`PUBLIC_STATUSES`).
NON_PUBLIC_MARKERS = ("SELECT " + ", ".join(f'"{c}"' if c in MARKER_COLUMNS else
                                             f'CAST(NULL AS {duckdb_type(t)}) AS "{c}"'
                                             for c, t in STATUSES.columns.items())
                      + f" FROM statuses_latest WHERE NOT {_public('visibility')}")

#: The rows written to the curated statuses table: the public statuses and the markers (both within the retention).
CURATED_STATUS_ROWS = "SELECT * FROM statuses_merged UNION ALL SELECT * FROM status_markers_kept"

#: What the metrics read as ``statuses``: the curated rows but tombstones and markers of statuses not public.
VISIBLE_STATUSES = f"SELECT * FROM curated_statuses WHERE NOT deleted AND {_public('visibility')}"

#: Deletions reported by the streaming API (``delete`` events): the reporting instance and its id of the status,
#: and the ``origin_ref`` of that pair (landed pseudonymised with privacy on; ``instance/id`` with privacy off).
DELETION_VERSIONS = f"""
SELECT * FROM (
  SELECT lower(meta.instance) AS instance, data.id AS status_id, {_ts('meta.fetched_at')} AS deleted_at,
         coalesce(data.origin_ref, lower(meta.instance) || '/' || data.id) AS origin_ref
  FROM raw_status_deletions
) AS reported
WHERE instance IS NOT NULL AND status_id IS NOT NULL AND status_id <> '' AND deleted_at IS NOT NULL
"""

#: One row per reported deletion and origin, with the first time it was received. Kept, so that a copy of a
#: deleted status arriving later (a lagging walk, another source) is a tombstone too. A deletion landed with two
#: origins (before and after privacy changed, or a key rotation) keeps both rows: either may name a copy. A row
#: kept before ``origin_ref`` existed gets ``instance/id``, what a deletion landed without privacy carries.
MERGE_DELETIONS = """
SELECT instance, status_id, min(deleted_at) AS deleted_at, origin_ref
FROM (
  SELECT instance, status_id, deleted_at, coalesce(origin_ref, instance || '/' || status_id) AS origin_ref
  FROM existing_status_deletions
  UNION ALL
  SELECT instance, status_id, deleted_at, origin_ref FROM deletion_versions
) AS reported
GROUP BY instance, status_id, origin_ref
"""

#: The partitions holding curated statuses that new deletions name (to be rewritten with their tombstones): by the
#: row's own instance and id, by another copy merged into it (``copies``), or by ``origin_ref``. Also where the
#: row is a tombstone already: a run stopped after publishing the statuses but before the hashtags (a kill, a
#: failed upload) reads the same deletions again, and only rewriting the day removes the status's hashtag rows.
DELETED_DAYS = f"""
SELECT DISTINCT CAST(s.dt AS VARCHAR) AS dt
FROM all_statuses AS s JOIN deletion_versions AS d ON d.instance = s.fetched_from AND d.status_id = s.status_id
UNION
SELECT DISTINCT CAST(s.dt AS VARCHAR) AS dt
FROM (SELECT dt, unnest(copies) AS copy FROM all_statuses) AS s
JOIN deletion_versions AS d ON d.instance || '/' || d.status_id = s.copy
UNION
SELECT DISTINCT CAST(s.dt AS VARCHAR) AS dt
FROM ({_existing_statuses('all_statuses')}) AS s JOIN deletion_versions AS d ON d.origin_ref = s.origin_ref
"""

#: The partitions next to the new versions' days holding a status one of them is a version of (by URI).
NEIGHBOUR_DAYS = """
SELECT DISTINCT CAST(n.dt AS VARCHAR) AS dt
FROM neighbour_statuses AS n JOIN (SELECT DISTINCT uri FROM status_versions) AS v ON n.uri = v.uri
"""

#: One row per (status, hashtag) of the merged partitions; share events and deleted statuses have none, nor a name
#: that is no tag (:func:`_tag_name`: a row curated before that rule may still hold one in its ``hashtags``).
HASHTAG_ROWS = f"""
SELECT uri AS status_uri, tag, dt, created_at, account_key, instance,
       replies_count + reblogs_count + favourites_count AS engagement
FROM (SELECT *, unnest(hashtags) AS tag FROM statuses_merged WHERE NOT is_reblog AND NOT deleted) AS tagged
WHERE {_tag_name('tag')}
"""


#: Account snapshots from the accounts/directory endpoints, status authors and reblogged authors (a record
#: without an author has a NULL key: skipped). A ``created_at`` after the snapshot's fetch is unknown (NULL). An
#: author is read only from a version that is public (:func:`_public`), as landing lands no other.
_ACCOUNT_SNAPSHOT = ", ".join(
    f'CASE WHEN {_after_fetch("created_at", "fetched_at")} THEN NULL ELSE created_at END AS "created_at"'
    if name == "created_at" else f'"{name}"' for _, name in _AUTHOR)
ACCOUNT_VERSIONS = f"""
SELECT {_ACCOUNT_SNAPSHOT} FROM (
  SELECT {_columns(_account_columns("data"))} FROM raw_accounts
  UNION ALL
  SELECT {_unprefixed(_AUTHOR, "a_")} FROM status_records WHERE {_public('"s_visibility"')}
  UNION ALL
  SELECT {_unprefixed(_ORIGINAL_AUTHOR, "ra_")} FROM status_records WHERE {_public('"r_visibility"')}
) AS snapshots
WHERE account_key IS NOT NULL
"""

#: The counts of an account snapshot; one below 0 (a server hiding it sends -1) or missing is unknown, as the
#: metrics read it (0 there).
ACCOUNT_COUNTS = ("followers_count", "following_count", "statuses_count")
#: How many of a snapshot's counts are missing (a record without them), and how many are hidden (below 0: -1 is what
#: a server sends for a count the account hides).
_MISSING_COUNTS = " + ".join(f"CASE WHEN {c} IS NULL THEN 1 ELSE 0 END" for c in ACCOUNT_COUNTS)
_HIDDEN_COUNTS = " + ".join(f"CASE WHEN {c} < 0 THEN 1 ELSE 0 END" for c in ACCOUNT_COUNTS)


def _from_home(instance: str, fetched_from: str) -> str:
    """Whether an account snapshot was fetched from the account's home server: the instance it was fetched from is
    the account's domain (``instance``), or a subdomain of it, a server serving handles of a parent domain
    (``social.example.com`` for ``@alice@example.com``: :meth:`fediscope.privacy.PrivacyPolicy.use_handle_domain`).
    False when either is unknown (a row curated before ``fetched_from`` existed). The MapReduce mapper has the same
    rule (``from_home``)."""
    host = f"regexp_extract({fetched_from}, '^[^:]*', 0)"  # without a port
    return (f"coalesce({instance} = {fetched_from} OR (length({instance}) > 0 "
            f"AND right({host}, length({instance}) + 1) = '.' || {instance}), false)")


#: Which snapshot of an account wins, first first: the one with the fewest missing counts (a record without them),
#: then the home server's (other servers show the copy they cached, often stale; a count the home server hides
#: stays hidden), then of other servers' copies the one hiding the fewest counts (a remote -1 never replaces a count
#: another server knows), then the newest fetch, then the larger counts; then every other column, so that
#: snapshots fetched at the same moment (two instances' views of an account, collected side by side) have one
#: winner whatever the order they were curated in: a flag set wins (the reducer of spark_jobs/mapreduce orders its
#: bot flag alike), then the latest status day, then the instance fetched from. A total order: the winner is one
#: snapshot, the same whichever run curated which snapshot.
_HOME = _from_home("instance", "fetched_from")
ACCOUNT_ORDER = (f"{_MISSING_COUNTS} ASC, {_HOME} DESC, CASE WHEN {_HOME} THEN 0 ELSE {_HIDDEN_COUNTS} END ASC, "
                 "fetched_at DESC NULLS LAST, "
                 "coalesce(statuses_count, -1) DESC, coalesce(followers_count, -1) DESC, "
                 "coalesce(following_count, -1) DESC, created_at ASC NULLS LAST, instance ASC, "
                 'bot DESC NULLS LAST, "group" DESC NULLS LAST, last_status_at DESC NULLS LAST, '
                 "fetched_from ASC NULLS LAST")

#: The column by which an account snapshot expires: one fetched before the curated retention's cutoff day is
#: forgotten, by curation (:func:`merge_accounts`) and by ``fediscope gdpr retention``
#: (:func:`fediscope.gdpr.retention.account_expired`).
ACCOUNT_SEEN = "fetched_at"


def merge_accounts(first_day: date | None = None) -> str:
    """One snapshot per account (:data:`ACCOUNT_ORDER`) of the curated accounts and the new snapshots. With a curated
    retention (``first_day``, its cutoff), the snapshots fetched before it are left out BEFORE the winner is chosen:
    an account seen within the retention keeps the best snapshot fetched within it (the home server's, when one
    is), never loses to an expired one; only an account with no snapshot within it is forgotten."""
    candidates = f"{_select(ACCOUNTS, 'existing_accounts')} UNION ALL {_select(ACCOUNTS, 'account_versions')}"
    if first_day is not None:
        candidates = within_retention(candidates, ACCOUNT_SEEN, first_day)
    return _latest(ACCOUNTS, f"({candidates}) AS candidates", "account_key", ACCOUNT_ORDER)


MERGE_ACCOUNTS = merge_accounts()


#: A day as the Mastodon API sends it, Unix seconds of its start: digits only, at most 11 (a larger number would
#: overflow the conversion and fail the whole run). ``\z``: with ``$``, Spark read ``"1700000000\n"`` as a day (Java's
#: ``$`` matches before a final line break, and Spark's cast trims it) and DuckDB as none, so one raw activity week
#: or trending-tag day was curated on one engine only.
_DAY_SECONDS_RE = r"^[0-9]{1,11}\z"


def _day(expr: str) -> str:
    """A day the Mastodon API sends as Unix seconds of its start (:data:`_DAY_SECONDS_RE`, or an ISO date) → its UTC
    ``DATE``; NULL when it is neither."""
    return (f"CASE WHEN regexp_matches({expr}, '{_DAY_SECONDS_RE}') "
            f"THEN CAST(make_timestamp(TRY_CAST({expr} AS BIGINT) * 1000000) AS DATE) "
            f"ELSE CAST({_ts(expr)} AS DATE) END")


_WEEK = _day("data.week")

#: Weekly activity rows reported by instances (``/api/v1/instance/activity``); week = the reported week start.
ACTIVITY_VERSIONS = f"""
SELECT * FROM (
  SELECT lower(meta.instance) AS instance, {_WEEK} AS week,
         TRY_CAST(data.statuses AS BIGINT) AS statuses, TRY_CAST(data.logins AS BIGINT) AS logins,
         TRY_CAST(data.registrations AS BIGINT) AS registrations, {_ts('meta.fetched_at')} AS fetched_at
  FROM raw_instance_activity
) AS weeks
WHERE week IS NOT NULL AND instance IS NOT NULL AND NOT coalesce({_after_fetch('week', 'fetched_at', day=True)}, false)
"""

MERGE_ACTIVITY = _latest(
    INSTANCE_ACTIVITY_TABLE,
    f"({_select(INSTANCE_ACTIVITY_TABLE, 'existing_instance_activity')} UNION ALL "
    f"{_select(INSTANCE_ACTIVITY_TABLE, 'activity_versions')}) AS candidates",
    "instance, week",
    "fetched_at DESC NULLS LAST, coalesce(statuses, -1) DESC, coalesce(logins, -1) DESC, "
    "coalesce(registrations, -1) DESC")

#: The instances' own daily counts of their trending hashtags (``/api/v1/trends/tags``): one row per history day
#: of every fetched tag (seven per fetch). Today's row is a count so far, so a later fetch replaces it.
TREND_VERSIONS = f"""
SELECT * FROM (
  SELECT lower(meta.instance) AS instance, {_lower('data.name')} AS tag, {_day('h.day')} AS day,
         TRY_CAST(h.uses AS BIGINT) AS uses, TRY_CAST(h.accounts AS BIGINT) AS accounts,
         {_ts('meta.fetched_at')} AS fetched_at
  FROM (SELECT meta, data, unnest(data.history) AS h FROM raw_trends_tags) AS history
) AS trend_days
WHERE day IS NOT NULL AND instance IS NOT NULL AND {_tag_name('tag')}
  AND NOT coalesce({_after_fetch('day', 'fetched_at', day=True)}, false)
"""

MERGE_TRENDS = _latest(
    TAG_TRENDS,
    f"({_select(TAG_TRENDS, 'existing_tag_trends')} UNION ALL {_select(TAG_TRENDS, 'trend_versions')}) "
    "AS candidates",
    "instance, tag, day",
    "fetched_at DESC NULLS LAST, coalesce(uses, -1) DESC, coalesce(accounts, -1) DESC")

#: Every domain an instance listed as a peer (``/api/v1/instance/peers``), on the UTC day of the fetch.
PEER_SIGHTINGS = f"""
SELECT * FROM (
  SELECT lower(meta.instance) AS instance, lower(trim(data)) AS peer,
         CAST({_ts('meta.fetched_at')} AS DATE) AS seen
  FROM raw_instance_peers
) AS sightings
WHERE instance IS NOT NULL AND peer IS NOT NULL AND peer <> '' AND seen IS NOT NULL
"""

#: One row per instance and peer: the first and the last day it was listed (a peer missing from the latest
#: fetch keeps its last day, so "gone" peers stay visible).
MERGE_PEERS = """
SELECT instance, peer, min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM (
  SELECT instance, peer, first_seen, last_seen FROM existing_instance_peers
  UNION ALL
  SELECT instance, peer, seen AS first_seen, seen AS last_seen FROM peer_sightings
) AS spans
GROUP BY instance, peer
"""


def within_retention(statement: str, column: str, first_day: date) -> str:
    """The rows of ``statement`` whose ``column`` (a status's ``dt``, a snapshot's ``fetched_at``) falls on
    ``first_day`` or later, or is NULL: the curated retention (``FEDISCOPE_RETENTION_CURATED_DAYS``, whose
    ``first_day`` :func:`fediscope.gdpr.retention.curated_cutoff` gives), applied as retention applies it to the
    curated tables (to the merged status rows by their ``dt``; to the account snapshots by their ``fetched_at``
    before the merge: :func:`merge_accounts`), so curation writes no row retention would delete. It moves with the
    day of the run and is a setting, not a rule: :func:`rules_fingerprint` does not see it, and a lake curated before
    is not told to re-curate."""
    return (f"SELECT * FROM ({statement}) AS merged "
            f"WHERE NOT coalesce(CAST({column} AS DATE) < DATE '{first_day.isoformat()}', false)")


def distinct_count(key: str, views: Iterable[str]) -> str:
    """How many distinct ``key`` values ``views`` hold together (one row, ``n``): the rows a merge of them that
    keeps one row per ``key`` makes, before :func:`within_retention` leaves some out."""
    union = " UNION ALL ".join(f"SELECT {key} FROM {view}" for view in views)
    return f"SELECT count(DISTINCT {key}) AS n FROM ({union}) AS candidates"


#: name → statement, in the order a curation run executes them (for documentation and the dialect tests).
STATEMENTS = {
    "status_records": STATUS_RECORDS,
    "status_versions": STATUS_VERSIONS,
    "future_versions": FUTURE_VERSIONS,
    "deletion_versions": DELETION_VERSIONS,
    "status_deletions_merged": MERGE_DELETIONS,
    "deleted_days": DELETED_DAYS,
    "neighbour_days": NEIGHBOUR_DAYS,
    "statuses_latest": MERGE_STATUSES,
    "statuses_merged": PUBLIC_STATUSES,
    "non_public_statuses": NON_PUBLIC_STATUSES,
    "statuses_within_retention": within_retention(PUBLIC_STATUSES, "dt", date(2026, 1, 1)),
    "status_markers": NON_PUBLIC_MARKERS,
    "status_markers_kept": within_retention("SELECT * FROM status_markers", "dt", date(2026, 1, 1)),
    "statuses_curated": CURATED_STATUS_ROWS,
    "hashtags": HASHTAG_ROWS,
    "account_versions": ACCOUNT_VERSIONS,
    "accounts_merged": MERGE_ACCOUNTS,
    "accounts_within_retention": merge_accounts(date(2026, 1, 1)),
    "accounts_candidates": distinct_count("account_key", ["existing_accounts", "account_versions"]),
    "activity_versions": ACTIVITY_VERSIONS,
    "activity_merged": MERGE_ACTIVITY,
    "trend_versions": TREND_VERSIONS,
    "tag_trends_merged": MERGE_TRENDS,
    "peer_sightings": PEER_SIGHTINGS,
    "instance_peers_merged": MERGE_PEERS,
}



#: Raise when the curation rules change in a way :func:`rules_fingerprint` cannot see (an engine's macro, how
#: an engine reads the raw files), so lakes curated before are told to re-curate. 2: an empty ``uri`` is none
#: (:func:`_uri`); anchors and their ``class``/``rel`` read as HTML reads them (:data:`ANCHOR_RE`,
#: :data:`NOT_LINK_RE`: names in any case, values in any quotes, a ``>`` in a quoted value); numeric character
#: references read as characters by the emoji count (:func:`_decoded_references`), with or without their ``;``,
#: as one character by ``content_length`` with or without it (:data:`ENTITY_RE`); a tag only where HTML starts one
#: (:data:`TAG_RE`: ``a < b`` is text); a quote post's fallback with its tag and attribute names in any case
#: (:data:`QUOTE_INLINE_RE`, :data:`TRAILING_QUOTE_INLINE_RE`).
RULES_VERSION = 2

#: Regexes of the rules as :func:`rules_fingerprint` hashes them: as they were spelt before both engines read them
#: alike, ending with ``$`` before ``\z``. The rules are DuckDB's text (module docstring), and RE2 reads ``$`` as
#: ``\z`` (the very end; it has no "before a final line break"), so DuckDB makes the same rows with either: lakes
#: curated before were not told to re-curate for the new spelling. Only Spark's reading changed, to DuckDB's, as when
#: the Spark translation is mended (:mod:`fediscope.engine.dialect`). (The anchor, once hashed with ``\s`` for its
#: spaces likewise, is hashed as it is since rules version 2 changed what it matches: :data:`ANCHOR_RE`. Rules
#: version 2 tells every lake to re-curate anyway; these spellings keep the fingerprint of the rest as it was.)
_RULES_SPELT_BEFORE = {_HOME_DOMAIN_RE: r"@([^@]+)$", _DAY_SECONDS_RE: r"^[0-9]{1,11}$"}


def _rules_statements() -> dict[str, str]:
    """The statements :func:`rules_fingerprint` hashes, by name: every public text of this module, with
    :data:`STATUS_RECORDS` as :data:`_STATUS_RECORDS_RULES` and the regexes of :data:`_RULES_SPELT_BEFORE` as spelt
    before, in a statement's literals and as a public text of its own."""
    statements = {name: value for name, value in globals().items()
                  if name.isupper() and not name.startswith("_") and isinstance(value, str)}
    statements["STATUS_RECORDS"] = _STATUS_RECORDS_RULES
    for name, text in statements.items():
        for now, before in _RULES_SPELT_BEFORE.items():
            text = before if text == now else text.replace(f"'{now}'", f"'{before}'")
        statements[name] = text
    return statements


def rules_fingerprint() -> str:
    """A short hash of the curation rules: every statement of this module (:func:`_rules_statements`), the raw
    record schemas the engines parse and the curated tables' columns, and :data:`RULES_VERSION`. The curated
    manifest records the rules its tables were made by (:mod:`fediscope.engine.manifest`); any change of the rules,
    a fediscope upgrade that reads statuses differently, shows as another fingerprint, and ``fediscope process``
    then says the curated rows predate the rules (``--recurate`` rebuilds them from the raw lake).
    Engine-independent: Spark runs these same statements, translated."""
    import hashlib
    import json

    from fediscope.engine.schema import CURATED, DATA_SCHEMAS

    tables = {name: list(table.columns.items()) for name, table in sorted(CURATED.items())}
    body = json.dumps({"version": RULES_VERSION, "statements": _rules_statements(), "raw": DATA_SCHEMAS,
                       "tables": tables},
                      sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]
