"""The reads the analyses make (``top``, ``scan_prefix``, ``get``, ``delete_where``, pages read on ``after``) give the
same answer on every store for the values where the databases' own orders and comparisons part: text that differs
only by trailing NUL characters, by case, accents or trailing spaces; ties in a top-N cut at N; floats and 64-bit
integers at their edges. Each expected answer is written out here (Python's ``sorted`` of text is code-point order,
the order every store keeps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from metric_header import metric

#: texts MariaDB's sort of the first N rows told apart from none of the others with the same letters: it compares
#: sort keys padded with 0x00 bytes
NULS = [letters + "\0" * nuls for letters in ("", "a", "b") for nuls in range(5)]


def _paged(read, size):  # noqa: ANN001, ANN202
    """Every row, read page by page of ``size`` rows, each page after the last row of the one before."""
    rows, after = [], None
    while page := read(size, after):
        rows += page
        after = page[-1]
        assert len(rows) <= 100, "paging does not end"
    return rows


def test_a_text_rank_differing_only_by_trailing_nul_characters_sorts_alike(metric_store):
    """Was (MariaDB): ``"a"``, ``"a\\0"`` and ``"a\\0\\0"`` tied in a top-N, and came back in key order (``"a"`` first
    in a descending rank), and reading on after a page's last row skipped rows."""
    descending = metric("notes_desc", "id", rank="note DESC")
    ascending = metric("notes_asc", "id", rank="note ASC")
    # the key runs against the rank's order among the texts that tie, so that a tie broken by key shows
    metric_store.write(descending, [{"id": i, "note": note} for i, note in enumerate(sorted(NULS))])
    metric_store.write(ascending, [{"id": i, "note": note} for i, note in enumerate(sorted(NULS, reverse=True))])
    for stored, order in ((descending, sorted(NULS, reverse=True)), (ascending, sorted(NULS))):
        assert [r["note"] for r in metric_store.top(stored, 100)] == order
        for n in (1, 3, 7):
            assert [r["note"] for r in metric_store.top(stored, n)] == order[:n]
        for size in (1, 2, 4):
            paged = _paged(lambda size, after, stored=stored: metric_store.top(stored, size, after=after), size)
            assert [r["note"] for r in paged] == order
    assert sorted(NULS)[:7] == ["", "\0", "\0\0", "\0\0\0", "\0\0\0\0", "a", "a\0"]


def test_text_keys_differing_only_by_trailing_nul_characters_sort_alike_in_ties_and_prefixes(metric_store):
    """Was (MariaDB): rows whose rank ties, which come in key order, came back in another order among keys that differ
    by trailing NULs only, and pages read on after the last row skipped rows. (A prefix's rows, and a top-N without a
    rank column, came in key order already.)"""
    by_tag = metric("tags_by_day", "tag, day", rank="uses DESC", prefix="day")
    by_day = metric("daily_tags", "day, tag", rank="uses ASC")
    unranked = metric("tags_of_days", "day, tag")
    days = ["x", "x\0", "y"]
    rows = [{"tag": tag, "day": day, "uses": 1} for tag in reversed(NULS) for day in days]
    for stored in (by_tag, by_day, unranked):
        metric_store.write(stored, rows)
    tag_order = [(tag, day) for tag in sorted(NULS) for day in days]
    day_order = [(day, tag) for day in days for tag in sorted(NULS)]
    for stored, key, order in ((by_tag, ("tag", "day"), tag_order), (by_day, ("day", "tag"), day_order),
                               (unranked, ("day", "tag"), day_order)):
        def keys(rows, key=key):  # noqa: ANN001, ANN202
            return [tuple(r[k] for k in key) for r in rows]

        assert keys(metric_store.top(stored, 100)) == order
        assert keys(metric_store.top(stored, 10)) == order[:10]
        assert keys(_paged(lambda size, after, stored=stored: metric_store.top(stored, size, after=after), 4)) == order
        for day in days:
            assert [r["tag"] for r in metric_store.scan_prefix(stored, day)] == sorted(NULS)
            assert [r["tag"] for r in metric_store.scan_prefix(stored, day, limit=6)] == sorted(NULS)[:6]
            paged = _paged(lambda size, after, stored=stored, day=day: metric_store.scan_prefix(
                stored, day, size, after=after), 2)
            assert [r["tag"] for r in paged] == sorted(NULS)
        assert metric_store.scan_prefix(stored, "x\0\0") == []


#: texts of the most characters a rank or key text holds (255) that share all but their last, or last two: MariaDB
#: sorts text by its first ``max_sort_length`` bytes (of 3-byte weights a character), which a server may set as low
#: as 64, which ``"x" * 22`` fills
SHARED = ["🐘" * 254 + c for c in "🦣🐘a"] + ["🐘" * 253 + c for c in ("ab", "a🐘")] + ["x" * 254 + c for c in "cba"]


@pytest.fixture
def short_sort_keys(metric_store, request: pytest.FixtureRequest) -> Iterator[None]:  # noqa: ANN001
    """MariaDB's ``max_sort_length`` lowered to its least, 64 bytes, for the test (set back afterwards), and the store's
    connections made again, so that theirs is it; nothing for the other stores."""
    if metric_store.kind != "mariadb":
        yield
        return
    server = request.getfixturevalue("mariadb_instance")
    with server._root() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT @@global.max_sort_length")
        (before,) = cursor.fetchone()
        cursor.execute("SET GLOBAL max_sort_length = 64")
    metric_store._engine.dispose()
    try:
        yield
    finally:
        with server._root() as conn, conn.cursor() as cursor:
            cursor.execute(f"SET GLOBAL max_sort_length = {before}")


def test_long_texts_sharing_their_first_bytes_sort_alike(metric_store, short_sort_keys):
    """Was (MariaDB, its ``max_sort_length`` set below 765 bytes): rank texts that differ only past its first
    ``max_sort_length`` bytes tied in a top-N's sort, and came back in key order."""
    descending = metric("shared_desc", "id", rank="note DESC")
    ascending = metric("shared_asc", "id", rank="note ASC")
    by_tag = metric("shared_tags", "tag, day", rank="uses DESC", prefix="day")
    # the key runs against the rank's order, so that a tie broken by key shows
    metric_store.write(descending, [{"id": i, "note": note} for i, note in enumerate(sorted(SHARED))])
    metric_store.write(ascending, [{"id": i, "note": note} for i, note in enumerate(sorted(SHARED, reverse=True))])
    metric_store.write(by_tag, [{"tag": tag, "day": "x", "uses": 1} for tag in reversed(SHARED)])
    for stored, order in ((descending, sorted(SHARED, reverse=True)), (ascending, sorted(SHARED))):
        assert [r["note"] for r in metric_store.top(stored, 100)] == order
        assert [r["note"] for r in metric_store.top(stored, 3)] == order[:3]
        paged = _paged(lambda size, after, stored=stored: metric_store.top(stored, size, after=after), 2)
        assert [r["note"] for r in paged] == order
    assert [r["tag"] for r in metric_store.top(by_tag, 100)] == sorted(SHARED)
    assert [r["tag"] for r in metric_store.top(by_tag, 3)] == sorted(SHARED)[:3]
    assert [r["tag"] for r in metric_store.scan_prefix(by_tag, "x", limit=3)] == sorted(SHARED)[:3]
    paged = _paged(lambda size, after: metric_store.scan_prefix(by_tag, "x", size, after=after), 2)
    assert [r["tag"] for r in paged] == sorted(SHARED)


def test_text_compares_byte_for_byte_in_lookups_prefixes_and_deletions(metric_store):
    """No store folds case or accents, normalises Unicode or ignores trailing spaces (MariaDB's default collations
    do all of that but the last, and PAD SPACE ones that too), in a key, a prefix or a value column."""
    texts = ["Café", "cafe", "CAFE", "café", "cafe\u0301", "a", "a ", " a", "ß", "ss", "Ω", "\u2126", "🐘", ""]
    tags = metric("spelled", "lang, tag", rank="uses DESC", prefix="lang")
    metric_store.write(tags, [{"lang": lang, "tag": tag, "uses": 1, "note": tag}
                              for lang in ("de", "DE") for tag in texts])
    assert metric_store.get(tags, ["de", "cafe"]) == {"lang": "de", "tag": "cafe", "uses": 1, "note": "cafe"}
    assert metric_store.get(tags, ["de", "CAFÉ"]) is None
    assert metric_store.get(tags, ["de", "a  "]) is None
    assert metric_store.get(tags, ["de ", "a"]) is None
    assert [r["tag"] for r in metric_store.scan_prefix(tags, "DE")] == [
        "", " a", "CAFE", "Café", "a", "a ", "cafe", "cafe\u0301", "café", "ss", "ß", "Ω", "\u2126", "🐘"]
    assert metric_store.scan_prefix(tags, "De") == []
    assert metric_store.delete_where(tags, "note", "a ") == 2
    assert metric_store.delete_where(tags, "note", "CAFÉ") == 0
    assert metric_store.delete_where(tags, "note", "café") == 2
    assert metric_store.delete_where(tags, "tag", "SS") == 0
    assert [r["tag"] for r in metric_store.scan_prefix(tags, "de")] == [
        "", " a", "CAFE", "Café", "a", "cafe", "cafe\u0301", "ss", "ß", "Ω", "\u2126", "🐘"]
    assert metric_store.stored_metrics() == {"spelled": 24}


def test_numeric_ranks_at_their_edges_and_ties_cut_at_n_sort_alike(metric_store):
    """Ties straddling the N-th row are cut by key; -0.0 is 0.0; integers beyond 2^53 and at the 64-bit limits keep
    their order; NULL comes last in either direction; paging on after the last row reads every row once."""
    floats = metric("float_ranks", "id", rank="share DESC")
    shares = {"a": 0.5, "b": None, "c": -0.0, "d": 0.0, "e": 5e-324, "f": -5e-324, "g": 1e308, "h": -1e308,
              "i": 0.5, "j": None, "k": 0.1 + 0.2, "l": 0.3}
    metric_store.write(floats, [{"id": key, "share": share} for key, share in reversed(shares.items())])
    order = ["g", "a", "i", "k", "l", "e", "c", "d", "f", "h", "b", "j"]
    assert [r["id"] for r in metric_store.top(floats, 100)] == order
    assert [r["id"] for r in metric_store.top(floats, 2)] == ["g", "a"]  # a tie (a, i) cut at 2: by key
    assert [r["id"] for r in metric_store.top(floats, 7)] == order[:7]  # the tie of 0.0 and -0.0 (c, d) cut at 7
    assert [r["share"] for r in metric_store.top(floats, 8)][6:] == [0.0, 0.0]
    assert [r["id"] for r in _paged(lambda size, after: metric_store.top(floats, size, after=after), 3)] == order
    assert [r["id"] for r in metric_store.top(floats, 2, after={"id": "c", "share": -0.0})] == ["d", "f"]

    ints = metric("int_ranks", "id", rank="n ASC")
    numbers = {"a": 2**53 + 1, "b": 2**53, "c": -(2**63), "d": 2**63 - 1, "e": None, "f": 2**53 + 1, "g": -1}
    metric_store.write(ints, [{"id": key, "n": n} for key, n in numbers.items()])
    order = ["c", "g", "b", "a", "f", "d", "e"]
    assert [r["id"] for r in metric_store.top(ints, 100)] == order
    assert [r["id"] for r in metric_store.top(ints, 4)] == order[:4]
    assert [r["id"] for r in _paged(lambda size, after: metric_store.top(ints, size, after=after), 2)] == order
    assert [r["n"] for r in metric_store.top(ints, 1, after={"id": "b", "n": 2**53})] == [2**53 + 1]


def test_reads_with_nothing_to_answer_are_empty_alike(metric_store):
    tags = metric("tags", "day, tag", rank="uses DESC")
    metric_store.write(tags, [], types={"day": "str", "tag": "str", "uses": "int"})
    assert (metric_store.top(tags, 5), metric_store.all(tags), metric_store.scan_prefix(tags, "x")) == ([], [], [])
    metric_store.write(tags, [{"day": "x", "tag": "a", "uses": 1}])
    assert metric_store.top(tags, 5, after={"day": "x", "tag": "a", "uses": 1}) == []
    assert metric_store.scan_prefix(tags, "x", after={"day": "x", "tag": "a"}) == []
    assert metric_store.scan_prefix(tags, "w", after={"day": "x", "tag": "a"}) == []
    assert metric_store.scan_prefix(tags, "", limit=5) == []


#: texts longer than any key a store holds (255 characters), and than HBase takes in a row key once encoded (32,767
#: bytes): what a lookup or a page's cursor may still be given
LONG = "a" + "z" * 40_000
LONG_ACCENTED = "é" * 20_000  # 40,000 bytes: HBase's limit falls within a character
#: the stored texts around them: the longest key text below each, and one just above
AROUND = ["a", "a" + "z" * 254, "a" + "z" * 253 + "{", "b", "é" * 255, "é" * 254 + "ê"]


def test_lookups_longer_than_any_stored_key_find_nothing_alike(metric_store):
    """Was (HBase): such a value was sent to HBase as given, which refuses a row key over 32,767 bytes in a get or
    a scan ("Internal error processing getRowWithColumns"), where SQLite and MariaDB answer that nothing matches.
    No stored row key is that long, so nothing can."""
    tags = metric("long_lookups", "day, tag", rank="uses DESC")
    by_tag = metric("long_lookups_by_tag", "day, tag", prefix="tag")
    rows = [{"day": day, "tag": tag, "uses": 1} for day in ("x", "y") for tag in AROUND]
    for stored in (tags, by_tag):
        metric_store.write(stored, rows)
        for long in (LONG, LONG_ACCENTED):
            assert metric_store.get(stored, ["x", long]) is None
            assert metric_store.get(stored, [long, "a"]) is None
            assert metric_store.scan_prefix(stored, long) == []
            assert metric_store.scan_prefix(stored, long, limit=3, after={"day": "x", "tag": long}) == []
    assert metric_store.delete_where(tags, "day", LONG) == 0
    assert metric_store.delete_where(by_tag, "tag", LONG) == 0
    assert metric_store.delete_where(tags, "tag", LONG_ACCENTED) == 0
    assert metric_store.stored_metrics() == {"long_lookups": 12, "long_lookups_by_tag": 12}


def test_pages_after_a_position_longer_than_any_stored_key_go_on_alike(metric_store):
    """A page's ``after`` holds whatever the caller gives (the results API's cursor): one longer than any stored key
    reads on from where that position falls. Was (HBase): the scan started at its encoding, a start row over the
    32,767 bytes HBase takes ("Internal error processing scannerOpenWithScan"); now at the first row key HBase
    could hold after it."""
    tags = metric("long_pages", "day, tag", rank="uses DESC")
    unranked = metric("long_pages_by_key", "day, tag")
    noted = metric("long_pages_by_note", "id", rank="note DESC")
    noted_asc = metric("long_pages_by_note_asc", "id", rank="note ASC")
    rows = [{"day": day, "tag": tag, "uses": 1} for day in ("x", "y") for tag in AROUND]
    metric_store.write(tags, rows)
    metric_store.write(unranked, rows)
    after_long = ["a" + "z" * 253 + "{", "b", "é" * 255, "é" * 254 + "ê"]  # what sorts after LONG
    after_accented = ["é" * 254 + "ê"]
    assert [r["tag"] for r in metric_store.scan_prefix(tags, "x", after={"day": "x", "tag": LONG})] == after_long
    assert [r["tag"] for r in metric_store.scan_prefix(tags, "x", after={"day": "x", "tag": LONG_ACCENTED})] == (
        after_accented)
    assert [r["tag"] for r in metric_store.scan_prefix(tags, "x", 2, after={"day": "x", "tag": LONG})] == (
        after_long[:2])
    for stored in (tags, unranked):
        position = {"day": "x", "tag": LONG, "uses": 1}
        assert [(r["day"], r["tag"]) for r in metric_store.top(stored, 100, after=position)] == [
            *(("x", tag) for tag in after_long), *(("y", tag) for tag in AROUND)]
        position = {"day": "x" + "z" * 40_000, "tag": "a", "uses": 1}
        assert [(r["day"], r["tag"]) for r in metric_store.top(stored, 3, after=position)] == [
            ("y", tag) for tag in AROUND[:3]]
        position = {"day": "y", "tag": LONG_ACCENTED, "uses": 1}
        assert [r["tag"] for r in metric_store.top(stored, 100, after=position)] == after_accented

    notes = [*AROUND, None]
    for stored in (noted, noted_asc):
        metric_store.write(stored, [{"id": i, "note": note} for i, note in enumerate(notes)])
    descending = ["a" + "z" * 254, "a", None]  # what comes after LONG in descending order, NULL last
    assert [r["note"] for r in metric_store.top(noted, 100, after={"id": 0, "note": LONG})] == descending
    assert [r["note"] for r in metric_store.top(noted, 100, after={"id": 0, "note": LONG_ACCENTED})] == [
        "é" * 255, "b", "a" + "z" * 253 + "{", *descending]
    assert [r["note"] for r in metric_store.top(noted_asc, 100, after={"id": 0, "note": LONG})] == [
        *after_long, None]
    assert [r["note"] for r in metric_store.top(noted_asc, 2, after={"id": 0, "note": LONG_ACCENTED})] == [
        "é" * 254 + "ê", None]
