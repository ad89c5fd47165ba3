"""``unicode_emoji_count`` counts emoji *sequences* (UTS #51), the same on DuckDB, Spark and the MapReduce mapper.

A flag (two regional indicators), a keycap, an emoji with a skin tone or VS16, and a ZWJ sequence of those count
one each; the emoji characters are Unicode's (emoji-data: Emoji_Presentation, and the other Emoji characters
only with VS16 or a skin tone), kept as code point ranges in ``fediscope.engine.curate_sql`` that both the SQL
and the mapper's pattern are built from, and checked here against the ``regex`` package's ``\\p{}`` data.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from engine_data import settings_for
from metric_reference import emoji_count

from fediscope.engine import curate_sql
from fediscope.engine.dialect import to_spark
from fediscope.engine.duckdb_engine import DuckDBEngine
from spark_jobs.mapreduce import mapper

#: (text, emoji sequences in it): the exact numbers every implementation must give.
CASES = [
    ("", 0),
    ("plain text, #1 and 2*3 = 6", 0),
    (":blobcat: :blobfox: custom emojis are counted apart", 0),
    ("日本語 é ñ — «»", 0),
    ("🇫🇷", 1),  # a flag: two regional indicators
    ("🇫🇷🇩🇪🇯🇵", 3),
    ("🇫", 0),  # a lone regional indicator is no emoji
    ("🇫a🇷 🇫 🇷", 0),  # nor are two that text parts
    ("👨\u200d👩\u200d👧", 1),  # a ZWJ family
    ("👍🏽", 1),  # a skin tone
    ("👍🏽👍🏿👍", 3),
    ("👍 🏽", 2),  # a skin tone on its own is one (Emoji_Presentation)
    ("🧑🏽\u200d💻", 1),  # a skin tone inside a ZWJ sequence
    ("👩🏻\u200d🤝\u200d👩🏿", 1),
    ("☝🏽", 1),  # a text-default base with a skin tone
    ("#\ufe0f\u20e3", 1),  # keycaps, with and without VS16
    ("1\u20e3 *\ufe0f\u20e3", 2),
    ("©\ufe0f", 1),  # an Emoji character with VS16
    ("© ® ™", 0),  # ... and without: text
    ("⌚", 1),  # Emoji_Presentation outside the old blocks
    ("✓ ★ ☐ ♪", 0),  # symbols that are no emoji
    ("❤\ufe0f", 1),
    ("❤", 0),
    ("❤\ufe0f\u200d🔥", 1),
    ("🏳\ufe0f\u200d🌈", 1),
    ("🤷\u200d♂\ufe0f", 1),
    ("🏃\u200d♂", 1),  # a ZWJ sequence missing its VS16: the ♂ is no emoji, the runner one
    ("🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", 1),  # a tag sequence (England)
    ("🎉🎉", 2),
    ("👍\u200d", 1),  # a joiner with nothing to join
    ("<p>Toot! 🎉 ❤️ 👍🏽 :blobcat: &amp; more</p>", 3),
    ('<p><a href="https://x.test/tags/a" class="mention hashtag" rel="tag">#<span>a</span></a> 📷 日本</p>', 1),
    # an emoji in a link's address is in its href and its text, as Mastodon writes a link: seen once, in the text
    ('<p><a href="https://x.test/🎉" rel="nofollow"><span class="invisible">https://</span>x.test/🎉</a></p>', 1),
    ('<img alt="🎉" title="❤\ufe0f">', 0),  # in attributes only: not in the visible text
]

#: Pieces of random texts: every kind of character the patterns tell apart, and the joiners between them.
_PIECES = ["a", " ", "#", "1", "é", "✓", "★", "©", "❤", "☝", "♂", "⌚", "🎉", "👍", "🏽", "🏿", "🇫", "🇷", "🏴",
           "\U000E0067", "\U000E007F", "\u200d", "\u200d", "\ufe0f", "\ufe0f", "\ufe0e", "\u20e3", ":blobcat:"]


def _random_texts(count: int = 300, seed: int = 51) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 12))) for _ in range(count)]


RANDOM = _random_texts()
TEXTS = [text for text, _ in CASES] + RANDOM


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duckdb(texts: list[str], tmp_path: Path) -> list[int]:
    values = ", ".join(f"({i}, {_literal(t)})" for i, t in enumerate(texts))
    sql = f"SELECT {curate_sql._unicode_emoji_count('text')} AS n FROM (VALUES {values}) AS texts(i, text) ORDER BY i"
    with DuckDBEngine(settings_for(tmp_path / "lake")) as engine:
        return [row["n"] for row in engine.query(sql)]


def _spark(texts: list[str], spark) -> list[int]:  # noqa: ANN001
    spark.createDataFrame(list(enumerate(texts)), "i INT, text STRING").createOrReplaceTempView("emoji_texts")
    try:
        sql = to_spark(f"SELECT {curate_sql._unicode_emoji_count('text')} AS n FROM emoji_texts ORDER BY i")
        return [row["n"] for row in spark.sql(sql).collect()]
    finally:
        spark.catalog.dropTempView("emoji_texts")


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark), "mapper"])
def test_unicode_emoji_count_is_one_per_emoji_sequence(engine: str, request: pytest.FixtureRequest,
                                                       tmp_path: Path) -> None:
    if engine == "duckdb":
        counts = _duckdb(TEXTS, tmp_path)
    elif engine == "spark":
        counts = _spark(TEXTS, request.getfixturevalue("spark"))
    else:
        counts = [mapper.unicode_emoji_count(t) for t in TEXTS]
    got = dict(zip(TEXTS, counts, strict=True))
    for text, expected in CASES:
        assert got[text] == expected, f"{engine}: {text!r}"
    # the random texts against the plain-Python reference (a scan, not a regex), so the patterns agree also on
    # the odd combinations: joiners and selectors in every place
    for text in RANDOM:
        assert got[text] == emoji_count(text), f"{engine}: {text!r}"
    assert sum(emoji_count(t) for t in RANDOM) > 100 and any(emoji_count(t) == 0 for t in RANDOM)


def test_reference_count_gives_the_cases() -> None:
    for text, expected in CASES:
        assert emoji_count(re.sub(r"<[^>]*>", "", text)) == expected, repr(text)  # in the visible text


def test_the_mapper_carries_the_curation_emoji_patterns() -> None:
    """The mapper runs alone on Hadoop nodes, so it has a copy of the ranges and of the pattern builders."""
    for name in ("EMOJI_PRESENTATION", "EMOJI_TEXT", "REGIONAL_INDICATORS", "EMOJI_MODIFIERS"):
        assert getattr(mapper, name) == getattr(curate_sql, name), name
    for name in ("EMOJI_RE", "NON_EMOJI_RE"):
        # the SQL's pattern is the mapper's, in the other escapes: RE2/Java ``\x{1F600}``, Python ``\U0001F600``
        as_python = re.sub(r"\\x\{([0-9A-F]+)\}", lambda m: f"\\U{int(m[1], 16):08X}", getattr(curate_sql, name))
        assert as_python == getattr(mapper, name).pattern, name


def test_the_mapper_carries_the_quote_fallback_patterns() -> None:
    """The mapper matches Mastodon's at the start of the text (``re.match``); the SQL's is anchored by ``^``. Other
    servers' at the end: ``\\z`` in the SQL's, ``\\Z`` in Python's (which has no ``\\z`` before 3.14)."""
    assert "^" + mapper.QUOTE_INLINE_RE.pattern == curate_sql.QUOTE_INLINE_RE
    assert mapper.TRAILING_QUOTE_INLINE_RE.pattern.replace(r"\Z", r"\z") == curate_sql.TRAILING_QUOTE_INLINE_RE


def test_the_mapper_leaves_out_another_server_s_quote_fallback_as_the_sql_does() -> None:
    """Was: the mapper counted the fallback other servers append to a quote post (``engine_data.QUOTE_FALLBACKS``)
    as a link and as text. Its status line of a REAL recorded reply with each appended has the reply's length and
    links; with the author's text after it, the fallback counts. Privacy on and off."""
    from copy import deepcopy

    from engine_data import INSTANCE, QUOTE_FALLBACKS, policy, statuses, with_quote_fallback

    from fediscope.privacy import PrivacyPolicy

    (reply,) = [s for s in statuses("test_status_reply.json") if s["mentions"] and s["visibility"] == "public"]
    meta = {"instance": INSTANCE, "fetched_at": "2026-08-01T14:00:00.000Z"}

    def counts(status: dict, privacy: PrivacyPolicy) -> tuple[str, str]:
        fields = mapper.status_line(privacy.apply("statuses", deepcopy(status), INSTANCE), meta, False).split("\t")
        return fields[9], fields[15]  # content_length, url_count

    for privacy in (policy(), PrivacyPolicy(key=None, enabled=False)):
        want = counts(reply, privacy)
        assert want == (str(len("@mastodonpy_test_2 same!")), "0")
        for form in QUOTE_FALLBACKS:
            assert counts(with_quote_fallback(reply, form), privacy) == want, form
        assert counts(with_quote_fallback(reply, "misskey", suffix="!"), privacy)[1] == "1"


def test_no_emoji_holds_a_character_of_the_skipped_runs() -> None:
    """Every character an emoji sequence may hold is outside the runs the count replaces by a space first."""
    held = [*curate_sql.EMOJI_PRESENTATION, *curate_sql.EMOJI_TEXT, *curate_sql.REGIONAL_INDICATORS,
            *curate_sql.EMOJI_MODIFIERS, (0x23, 0x23), (0x2A, 0x2A), (0x30, 0x39), (0x200D, 0x200D),
            (0x20E3, 0x20E3), (0xFE0F, 0xFE0F)]
    for first, last in held:
        for cp in range(first, last + 1):
            assert not mapper.NON_EMOJI_RE.match(chr(cp)), hex(cp)
    assert mapper.NON_EMOJI_RE.fullmatch("plain text, é, «日本語» and :blobcat:")  # ordinary text: one run


def _ranges(pattern: str) -> tuple[tuple[int, int], ...]:
    """The code points matching a one-character ``regex`` pattern (set operations on), as inclusive ranges."""
    import regex

    matches = regex.compile("(?V1)" + pattern).match
    out: list[list[int]] = []
    for cp in range(0x110000):
        if matches(chr(cp)):
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return tuple((first, last) for first, last in out)


def _literal_ranges(name: str, ranges: tuple[tuple[int, int], ...]) -> str:
    """``ranges`` as the Python constant curate_sql.py and mapper.py hold, to paste when Unicode adds emojis."""
    lines, line = [], "   "
    for first, last in ranges:
        item = f" (0x{first:X}, 0x{last:X}),"
        if len(line) + len(item) > 120:
            lines.append(line)
            line = "   "
        line += item
    return f"{name}: tuple[tuple[int, int], ...] = (\n" + "\n".join([*lines, line]) + "\n)"


def test_emoji_ranges_are_unicode_emoji_data() -> None:
    """The committed ranges are what the ``regex`` package's Unicode data says; on a difference (a ``regex`` with a
    newer Unicode) the failure prints the new constants, for curate_sql.py and mapper.py."""
    try:
        import regex  # noqa: F401
    except ImportError:
        pytest.skip("EMOJI RANGES NOT CHECKED against Unicode: the regex package is missing "
                    "(pip install -r requirements-dev.txt)")
    expected = {
        "EMOJI_PRESENTATION": _ranges(r"[\p{Emoji_Presentation}--\p{Regional_Indicator}]"),
        "EMOJI_TEXT": _ranges(r"[\p{Emoji}--\p{Emoji_Presentation}--[#*0-9]]"),
        "REGIONAL_INDICATORS": _ranges(r"\p{Regional_Indicator}"),
        "EMOJI_MODIFIERS": _ranges(r"\p{Emoji_Modifier}"),
    }
    assert _ranges(r"[\p{Emoji}&&\p{ASCII}]") == ((0x23, 0x23), (0x2A, 0x2A), (0x30, 0x39))  # the keycap bases
    for name, ranges in expected.items():
        assert getattr(curate_sql, name) == ranges, "new ranges:\n" + _literal_ranges(name, ranges)
