"""How an erasure (and an access export) looks for the account's traces in every string of the lake
(:func:`fediscope.gdpr.subject.contains_trace`, :func:`~fediscope.gdpr.subject.scrub`).

An account that posted a lot has thousands of traces (a link and an id per status). Each string used to be tested
against each trace in turn: erasing the most active account of a generated lake of 100,000 statuses (1,635 curated
rows) took 3 min 56 s, where ``fediscope process`` of the same lake took 3.4 s."""

from __future__ import annotations

import json

import pytest

from fediscope.gdpr.subject import ERASED, Traces, contains_trace, may_hold_in_json, may_hold_trace, scrub

LINKS = frozenset(f"https://x.social/users/bob/statuses/{n}" for n in range(100_000, 105_000))
TRACES = LINKS | {"a5bdca5217c93e352619a6618"}


def test_among_thousands_of_traces_each_one_is_found_and_near_misses_are_not() -> None:
    """The one search built of every trace finds each of them, and nothing that merely shares a prefix with them.
    (Its speed is not timed here: the 20,000 strings of this test took 9 s against these traces before, 0.05 s
    after.)"""
    texts = [f"<p>see https://x.social/users/alice/statuses/{n} and @a5bdca5217c93e35261</p>" for n in range(20_000)]
    assert [text for text in texts if contains_trace(text, TRACES)] == []
    hits = [f"<p>boost of https://x.social/users/bob/statuses/{n}</p>" for n in range(100_000, 105_000, 7)]
    assert all(contains_trace(text, TRACES) for text in hits)
    assert all(scrub(text, TRACES) == f"<p>boost of {ERASED}</p>" for text in hits)


@pytest.mark.parametrize(("value", "expected"), [
    ("boost of https://x.social/users/bob/statuses/104999 here", f"boost of {ERASED} here"),
    ("https://x.social/users/bob/statuses/1049990", None),  # a longer id: another status
    ("https://x.social/users/bob/statuses/10499", None),  # a prefix of the traces only
    ("ua5bdca5217c93e352619a6618-style", f"u{ERASED}-style"),  # a pseudonym is found wherever it is
    ("", None),
])
def test_a_trace_is_found_and_scrubbed_as_before(value: str, expected: str | None) -> None:
    assert contains_trace(value, TRACES) is (expected is not None)
    assert scrub(value, TRACES) == (value if expected is None else expected)


def test_a_shorter_trace_inside_a_longer_one_leaves_the_longer_one_whole() -> None:
    """Both are searched for, longest first, as before: the shorter one, found first by the search, must not hide
    the longer one in the same text."""
    traces = {"https://x.social/@bob", "https://x.social/@bob/123"}
    assert scrub("a https://x.social/@bob/123 b https://x.social/@bob", traces) == f"a {ERASED} b {ERASED}"
    assert scrub(["https://x.social/@bob", "kept"], set(traces)) == ["kept"]


#: Traces a lake may hold that JSON or UTF-8 write otherwise than the text: non-ASCII (an IRI, an IDN written in
#: Unicode, an emoji), a quote and a backslash.
ODD = ["https://bücher.example/@bob/1", "https://x.social/@bob/😀", 'https://x.social/@bob/"q"', "a\\b@x.social"]


@pytest.mark.parametrize("trace", ODD)
def test_a_file_is_skipped_only_when_its_bytes_hold_no_trace(trace: str) -> None:
    """The raw pass reads a batch only when :func:`may_hold_trace` finds a trace in its bytes (here as UTF-8; as JSON
    writers escape it: test_gdpr_escaped_traces.py)."""
    traces = TRACES | {trace}
    assert may_hold_trace(f"see {trace} now".encode(), traces)
    assert may_hold_trace(b"https://x.social/users/bob/statuses/104999", traces)
    assert not may_hold_trace(b"https://x.social/users/bob/statuses/10499 and " + trace[:-1].encode(), traces)


@pytest.mark.parametrize("trace", ODD)
def test_a_record_is_walked_unless_its_json_cannot_hold_a_trace(trace: str) -> None:
    """The raw pass looks for traces in a record only when :func:`may_hold_in_json` finds one in its JSON, as
    :func:`json.dumps` writes it (non-ASCII, quotes and backslashes escaped)."""
    traces = TRACES | {trace}
    record = {"data": {"content": f"<p>see {trace}</p>", "tags": ["x", trace]}}
    assert contains_trace(record, traces)
    assert may_hold_in_json(json.dumps(record, sort_keys=True), traces)
    other = {"data": {"content": f"<p>see {trace[:-1]}</p>"}}
    assert not may_hold_in_json(json.dumps(other, sort_keys=True), traces)


def test_the_traces_are_the_same_object_until_they_change() -> None:
    """The search built of the traces is cached by the set: an equal set of another object is compared element by
    element with the cached one for every string looked at (the erasure grew with the lake times the account's
    statuses), so :meth:`Traces.values` hands out one object while the values stay the same."""
    traces = Traces(key="a5bdca5217c93e352619a6618", status_links=set(LINKS))
    first = traces.values()
    assert traces.values() is first
    traces.status_copies.add("x.social/1")  # not among the values
    assert traces.values() is first
    traces.status_links.add("https://x.social/users/bob/statuses/1")
    changed = traces.values()
    assert changed == first | {"https://x.social/users/bob/statuses/1"}
    assert traces.values() is changed


def test_the_json_search_of_traces_json_writes_as_they_are_shares_their_search() -> None:
    """:func:`may_hold_in_json` searches the traces as JSON writes them: for pseudonyms and links, the traces
    themselves. Were they an equal set of another object, the first to reach the search's cache, every
    :func:`contains_trace` of the traces after it would compare the two element by element."""
    from fediscope.gdpr.subject import _any_of, _json_forms

    traces = Traces(key="a5bdca5217c93e352619a6618", status_links=set(LINKS)).values()
    assert _json_forms(traces) is traces
    assert may_hold_in_json(json.dumps({"content": min(LINKS)}), traces)
    assert _any_of(_json_forms(traces)) is _any_of(traces)
    odd = traces | {'say "hi"'}
    assert _json_forms(odd) == (odd - {'say "hi"'}) | {'say \\"hi\\"'}
