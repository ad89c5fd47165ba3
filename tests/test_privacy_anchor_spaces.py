"""What follows ``<a`` in a status's HTML: landing and the erasure leave it as written, so curation counts the links
of the text they rewrite as it counts those of the text as collected.

Curation (``fediscope.engine.curate_sql.ANCHOR_RE``, and the MapReduce mapper) reads an anchor as HTML does: ``<a``
(or ``<A``: HTML's tag names are case-insensitive, since curation rules version 2) and one of HTML's tag spaces
(``\\t \\n \\f \\r`` and the space); ``<a\\x0bhref=…>``, ``<a\\u00a0href=…>`` are no link. Landing and the
erasure rewrite anchors found by a wider pattern (Python's ``\\s``, any case:
:data:`fediscope.erased_mentions.LINK_ANCHOR_RE`), on purpose: scrubbing such a tag's link and text is safe.
Was: the rewritten tag began with ``<a `` whatever it began with, so the REAL recorded reply below, its mention's
anchor started with a vertical tab, a no-break space or U+2028 (a hostile server's text, valid JSON), had a link
curated with privacy on and none with privacy off, and one more link after an erasure than before it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fediscope.engine import curate_sql
from fediscope.erased_mentions import ERASED, ProfileLinks
from fediscope.privacy import PrivacyPolicy

RECORDINGS = Path(__file__).parent / "data" / "mastodon" / "recordings"
LOCAL = "localhost:3000"  # the recorded server
KEY = b"test-pseudonym-key-0123456789abcdef"
NAME = "mastodonpy_test_2"
PROFILE = f"http://{LOCAL}/@{NAME}"
#: What may start an anchor in place of ``<a `` (HTML's tag spaces, then what HTML reads as none).
STARTS = ["<a ", "<a\t", "<a\n", "<A ", "<a\x0b", "<a\xa0", "<a\u2028", "<a\u2029", "<a\u3000", "<a\x85"]


def recorded_reply(start: str, mention_class: bool) -> dict[str, Any]:
    """The REAL recorded reply of admin to mastodonpy_test_2, its mention's anchor starting with ``start``; without
    ``mention_class`` the anchor is a plain link to the profile (a link to curation, as another server may send)."""
    raw = json.loads((RECORDINGS / "test_status_reply.json").read_text())["interactions"][2]["response"]["body"]
    raw = copy.deepcopy(raw)
    assert raw["content"].count(f'<a href="{PROFILE}" class="u-url mention">') == 1
    content = raw["content"].replace("<a ", start)
    raw["content"] = content if mention_class else content.replace(' class="u-url mention"', "")
    return raw


def url_count(content: str) -> int:
    """The curated ``url_count`` of a status whose ``content`` is ``content``, as DuckDB's curation computes it."""
    shared = curate_sql._Shared(curate_sql._authored_text("t"), "NULL", "NULL", "NULL", "NULL")
    (expr,) = [expr for expr, name in curate_sql._status_columns("data", False, shared) if name == "url_count"]
    with duckdb.connect() as con:
        (count,) = con.execute(f"SELECT {expr} FROM (SELECT ? AS t)", [content]).fetchone()
    return count


@pytest.mark.parametrize("mention_class", [False, True], ids=["plain-link", "mention"])
@pytest.mark.parametrize("start", STARTS, ids=[f"U+{ord(s[2]):04X}{'-upper' if s[1] == 'A' else ''}" for s in STARTS])
def test_landing_keeps_how_an_anchor_starts(start: str, mention_class: bool) -> None:
    raw = recorded_reply(start, mention_class)
    expected = url_count(raw["content"])  # privacy off lands the text as collected
    assert expected == (1 if start in ("<a ", "<a\t", "<a\n", "<A ") and not mention_class else 0)

    landed = PrivacyPolicy(key=KEY).status(copy.deepcopy(raw), LOCAL)

    assert NAME not in json.dumps(landed) and f"{LOCAL}/@" not in landed["content"]
    assert url_count(landed["content"]) == expected
    assert landed["content"].startswith(raw["content"][:raw["content"].index(start) + len(start)])  # as written


@pytest.mark.parametrize("start", STARTS, ids=[f"U+{ord(s[2]):04X}{'-upper' if s[1] == 'A' else ''}" for s in STARTS])
def test_the_erasure_keeps_how_an_anchor_starts(start: str) -> None:
    """With privacy off, erasing mastodonpy_test_2 from another person's text (the recorded reply) writes the
    mention's link and text [erased], however its anchor starts, and leaves the links curation counts as they
    were."""
    raw = recorded_reply(start, mention_class=False)
    expected = url_count(raw["content"])

    erased = ProfileLinks(f"{NAME}@{LOCAL}", [PROFILE]).erase(raw, [True])

    assert NAME not in erased["content"] and f'href="{ERASED}"' in erased["content"]
    assert f"@<span>{ERASED}</span>" in erased["content"]
    assert url_count(erased["content"]) == expected
