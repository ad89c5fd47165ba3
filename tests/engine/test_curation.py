"""Curation (DuckDB engine) on REAL recorded statuses: dedup of edits, reblogs, counts, keys, accounts."""

from __future__ import annotations

import html
import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from engine_data import (
    INSTANCE,
    ORIGIN_CASES,
    QUOTE_FALLBACKS,
    QUOTED,
    T0,
    at,
    content_warned,
    curated_both_ways,
    derived_origins,
    interactions,
    land,
    policy,
    read_table,
    settings_for,
    snapshots,
    statuses,
    strip_column,
    tree_digest,
    with_quote_fallback,
)
from metric_reference import is_link

from fediscope.engine.metrics import load_metrics
from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.batches import read_batch
from fediscope.lake.local import LocalLake


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _landed_uri(raw: dict) -> str:
    return policy().apply("statuses", raw, INSTANCE)["uri"]


def test_latest_edit_wins_whichever_order_the_versions_arrive(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    posted, edited, fetched = snapshots("test_status_edit.json")[:3]
    assert posted["edited_at"] is None and edited["edited_at"] is not None
    privacy = policy()
    # the edited version (fetched later) is curated first, the original version (fetched earlier) arrives later
    land(lake, "statuses", [fetched], at(3), privacy)
    land(lake, "statuses", [edited], at(2), privacy)
    duckdb_engine().curate()
    land(lake, "statuses", [posted], at(1), privacy)
    summary = duckdb_engine().curate()
    assert summary.raw_files == 1 and summary.status_versions == 1

    rows = read_table(lake_dir, "statuses")
    assert len(rows) == 1
    row = rows[0]
    assert row["edited_at"] == _utc(edited["edited_at"])
    assert row["fetched_at"] == at(3).replace(tzinfo=None)
    visible = html.unescape(re.sub(r"<[^>]+>", "", fetched["content"]))
    assert "Kate" in visible and row["content_length"] == len(visible)


def test_reblog_is_a_share_event_and_its_original_counts_once(lake: LocalLake, lake_dir: Path,
                                                             duckdb_engine) -> None:
    posted, reblogged, unreblogged = snapshots("test_status_reblog_unreblog.json")[:3]
    original = reblogged["reblog"]
    assert original["id"] == posted["id"] and original["reblogs_count"] == 1
    privacy = policy()
    land(lake, "statuses", [posted], at(1), privacy)
    land(lake, "statuses", [reblogged], at(2), privacy)
    engine = duckdb_engine()
    engine.curate()

    rows = {r["uri"]: r for r in read_table(lake_dir, "statuses")}
    original_uri, wrapper_uri = _landed_uri(posted), _landed_uri(reblogged)
    assert set(rows) == {original_uri, wrapper_uri}
    share = rows[wrapper_uri]
    assert share["is_reblog"] and share["reblog_of_uri"] == original_uri
    assert (share["replies_count"], share["reblogs_count"], share["favourites_count"]) == (0, 0, 0)
    assert not rows[original_uri]["is_reblog"] and rows[original_uri]["reblogs_count"] == 1

    engagement = engine.run_metric(load_metrics()["account_engagement"])
    assert [(r["toots"], r["reblogs_total"], r["interactions_total"]) for r in engagement] == [(1, 1, 1)]

    # the unreblog response is the original's newest snapshot: its count wins, the share event stays
    land(lake, "statuses", [unreblogged], at(3), privacy)
    duckdb_engine().curate()
    rows = {r["uri"]: r for r in read_table(lake_dir, "statuses")}
    assert rows[original_uri]["reblogs_count"] == unreblogged["reblogs_count"] == 0
    assert rows[wrapper_uri]["is_reblog"]


def test_original_seen_only_inside_a_reblog_is_curated(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    reblogged = snapshots("test_status_reblog_unreblog.json")[1]
    land(lake, "statuses", [reblogged], at(1), policy())
    duckdb_engine().curate()
    rows = {r["uri"]: r for r in read_table(lake_dir, "statuses")}
    original = rows[_landed_uri(reblogged["reblog"])]
    assert not original["is_reblog"] and original["reblogs_count"] == reblogged["reblog"]["reblogs_count"]
    assert original["created_at"] == _utc(reblogged["reblog"]["created_at"])


RECORDED_CASES = ("test_media_post_multiple.json", "test_media_post[True].json", "test_status_card.json",
                  "test_hashtag_tl.json", "test_status_reply.json", "test_public_tl.json")


class _Anchors:
    """Links a reader sees: anchors that are not mentions or hashtags (computed with html.parser, not SQL)."""

    @staticmethod
    def count(content: str) -> int:
        from html.parser import HTMLParser

        found = []

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
                if tag == "a" and is_link(dict(attrs)):
                    found.append(tag)

        Parser().feed(content)
        return len(found)


def test_counts_keys_and_flags_match_the_recorded_statuses(lake: LocalLake, lake_dir: Path,
                                                          duckdb_engine) -> None:
    privacy = policy()
    raw = {}
    for i, name in enumerate(RECORDED_CASES):
        for status in statuses(name, method="POST") + statuses(name, method="GET"):
            raw[status["id"]] = status
        land(lake, "statuses", statuses(name, method="POST") + statuses(name, method="GET"), at(i), privacy)
    duckdb_engine().curate()
    rows = {r["status_id"]: r for r in read_table(lake_dir, "statuses")}
    assert set(rows) == set(raw)
    expected_types = Counter()
    for sid, status in raw.items():
        row = rows[sid]
        media = Counter(m["type"] for m in status["media_attachments"])
        expected_types.update(media)
        landed = privacy.apply("statuses", status, INSTANCE)
        assert row["account_key"] == privacy.account_key(status["account"]["acct"], INSTANCE)
        assert row["instance"] == INSTANCE and row["fetched_from"] == INSTANCE
        assert row["created_at"] == _utc(status["created_at"]) and row["dt"] == "2026-08-01"
        assert (row["media_count"], row["image_count"], row["video_count"], row["gifv_count"],
                row["audio_count"]) == (len(status["media_attachments"]), media["image"], media["video"],
                                        media["gifv"], media["audio"])
        assert row["hashtags"] == sorted({t["name"].lower() for t in status["tags"]})
        assert row["mentions"] == sorted({privacy.account_key(m["acct"], INSTANCE) for m in status["mentions"]})
        assert row["is_reply"] == (status["in_reply_to_id"] is not None)
        assert row["in_reply_to_id"] == status["in_reply_to_id"]
        assert row["url_count"] == _Anchors.count(landed["content"])
        assert row["language"] == status["language"] and row["visibility"] == status["visibility"]
        assert row["custom_emoji_count"] == len(status["emojis"]) == 0
    # the recordings exercise each case at least once, so the assertions above are not vacuous
    assert expected_types["image"] == 2 and expected_types["video"] == 1
    assert sum(r["url_count"] for r in rows.values()) >= 1
    assert any(r["hashtags"] == ["hoot"] for r in rows.values())
    assert any(r["mentions"] for r in rows.values()) and any(r["is_reply"] for r in rows.values())


def test_emoji_counts_on_a_recorded_status_with_emojis_added(lake: LocalLake, lake_dir: Path,
                                                            duckdb_engine) -> None:
    status = snapshots("test_status_reblog_unreblog.json")[0]
    status["content"] = "<p>Toot! 🎉 ❤️ 👍🏽 :blobcat: &amp; more</p>"
    status["emojis"] = [{"shortcode": "blobcat", "url": "https://localhost:3000/emoji/blobcat.png",
                         "static_url": "https://localhost:3000/emoji/blobcat.png", "visible_in_picker": True}]
    land(lake, "statuses", [status], at(1), policy())
    duckdb_engine().curate()
    (row,) = read_table(lake_dir, "statuses")
    assert row["unicode_emoji_count"] == 3  # 🎉, ❤️ (with its VS16), 👍🏽 (with its skin tone)
    assert row["custom_emoji_count"] == 1
    assert row["content_length"] == len("Toot! 🎉 ❤️ 👍🏽 :blobcat: & more")


def test_an_emoji_in_a_link_s_address_counts_once(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Was: the emojis were counted in the HTML, so one in a link's address counted twice (Mastodon writes a URL in
    the anchor's ``href`` and in its text alike). A REAL recorded status with a link, its URL given an emoji."""
    (status,) = [s for s in statuses("test_status_card.json") if "invisible" in s["content"]][:1]
    url = re.search(r'href="([^"]+)"', status["content"])[1]
    shown = url.split("://", 1)[1]
    status = dict(status, content=status["content"].replace(f'href="{url}"', f'href="{url}🎉"')
                  .replace(f">{shown}<", f">{shown}🎉<"))
    assert status["content"].count("🎉") == 2
    land(lake, "statuses", [status], at(1), policy())
    duckdb_engine().curate()
    (row,) = read_table(lake_dir, "statuses")
    assert row["unicode_emoji_count"] == 1


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy on", "privacy off"])
def test_a_quote_post_s_fallback_link_is_neither_a_link_nor_text_of_its_author(
        privacy_on: bool, lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Was: the paragraph Mastodon puts first in a quote post for clients that show no quotes (``<p
    class="quote-inline">RE: <a …>…</a></p>``, hidden by those that do) counted as a link, and its text (the quoted
    status's address; with privacy on, its pseudonym) in ``content_length``. REAL recorded quote posts. The length is
    that of the text as written, also with privacy on (the mention's pseudonym is not measured)."""
    recorded = {s["id"]: s for name in ("test_status_post_with_quote.json", "test_status_reply_with_quote.json",
                                        "test_status_quote_revoke.json") for s in statuses(name)}
    quotes = [s for s in recorded.values() if s["content"].startswith('<p class="quote-inline">RE: <a ')
              and s["visibility"] in ("public", "unlisted")]
    assert len(quotes) >= 2
    land(lake, "statuses", quotes, at(1), policy() if privacy_on else None)
    duckdb_engine().curate()
    rows = {r["status_id"]: r for r in read_table(lake_dir, "statuses")}
    for status in quotes:
        landed = policy().apply("statuses", dict(status), INSTANCE) if privacy_on else status  # mentions keyed
        row = rows[landed["id"]]
        authored = landed["content"].split("</p>", 1)[1]
        assert row["url_count"] == _Anchors.count(authored) == _Anchors.count(landed["content"]) - 1, status["content"]
        written = status["content"].split("</p>", 1)[1]
        assert row["content_length"] == len(html.unescape(re.sub(r"<[^>]+>", "", written))), status["content"]


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy on", "privacy off"])
def test_another_server_s_quote_fallback_at_the_end_is_neither_a_link_nor_text_of_its_author(
        privacy_on: bool, lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Was: only Mastodon's own fallback (a first paragraph) was left out; the one other servers append for clients
    that show no quotes (FEP-e232 / Misskey / Pleroma: ``<span class="quote-inline">…RE: <a …>…</a></span>`` at the
    end, or a last ``<p class="quote-inline">``: :data:`engine_data.QUOTE_FALLBACKS`, derived from those servers'
    code, as no recording holds one) counted as a link and as text. REAL recorded statuses (toots, a reply
    mentioning), each with every fallback appended: curated as the status without it; a fallback the author's text
    follows is no fallback, and counts."""
    recorded = [s for name in ("test_status_reply.json", "test_status_reply_with_quote.json")
                for s in statuses(name) if s["visibility"] in ("public", "unlisted") and s["content"].endswith("</p>")
                and not s["content"].startswith('<p class="quote-inline">')]
    assert recorded
    quoting = {(status["id"], form): with_quote_fallback(status, form) for status in recorded
               for form in QUOTE_FALLBACKS}
    followed = {status["id"]: with_quote_fallback(status, "misskey", suffix=" and more") for status in recorded}
    land(lake, "statuses", [*recorded, *quoting.values(), *followed.values()], at(1),
         policy() if privacy_on else None)
    duckdb_engine().curate()
    rows = {r["status_id"]: r for r in read_table(lake_dir, "statuses")}
    columns = ("url_count", "content_length", "unicode_emoji_count")
    for (status_id, form), quote in quoting.items():
        assert {c: rows[quote["id"]][c] for c in columns} == {c: rows[status_id][c] for c in columns}, form
    for status_id, quote in followed.items():
        assert rows[quote["id"]]["url_count"] == rows[status_id]["url_count"] + 1
        assert rows[quote["id"]]["content_length"] == rows[status_id]["content_length"] + len(
            f"RE: {QUOTED} and more")


#: Handles and links written in the text of a status, not mentions: the privacy policy replaces them too.
TEXT_HANDLES = " cc @carol@elsewhere.social, dave@mail.example.org and https://elsewhere.social/@carol"


def test_content_length_is_the_length_of_the_text_as_written_also_with_privacy_on(
        lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Was: with privacy on, ``content_length`` measured the pseudonyms the landing writes in place of mentions and
    handles (25 characters each): 47 for the reply "@mastodonpy_test yoooo check this out" (37). Now every status has
    the same length landed with privacy on and off. REAL recorded statuses (a reply quoting, replies mentioning), and
    one of them with handles and a profile link written in its text (:data:`TEXT_HANDLES`)."""
    recorded = [s for name in ("test_status_reply_with_quote.json", "test_status_reply.json")
                for s in statuses(name) if s["visibility"] in ("public", "unlisted")]
    mention = next(s for s in recorded if s["mentions"] and not s["content"].startswith('<p class="quote-inline">'))
    handles = dict(mention, id=mention["id"] + "1", uri=mention["uri"] + "-1",
                   content=mention["content"].removesuffix("</p>") + TEXT_HANDLES + "</p>")
    recorded.append(handles)
    land(lake, "statuses", recorded, at(1), policy())
    land(lake, "statuses", recorded, at(1), None)
    duckdb_engine().curate()
    lengths: dict[tuple[str, bool], int] = {}
    for row in read_table(lake_dir, "statuses"):
        lengths[(row["status_id"], row["uri"].startswith("urn:fediscope:"))] = row["content_length"]
    assert len(lengths) == 2 * len({s["id"] for s in recorded})
    for status in recorded:
        landed = policy().apply("statuses", dict(status), INSTANCE)
        assert landed["content"] != status["content"] or not status["mentions"]  # the policy rewrote the text
        assert lengths[(status["id"], True)] == lengths[(status["id"], False)], status["content"]
    quote_reply = next(s for s in recorded if "yoooo check this out" in s["content"])
    assert lengths[(quote_reply["id"], True)] == len("@mastodonpy_test yoooo check this out")
    assert lengths[(handles["id"], True)] == len("@mastodonpy_test_2 same!" + TEXT_HANDLES)


def test_a_content_warning_is_curated_as_whether_there_is_one_and_its_length_as_written_never_its_text(
        lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Was: curated statuses kept neither the content warning nor the ``sensitive`` flag, so no metric could say
    how many toots carry one. Now ``sensitive``, ``has_content_warning`` and ``content_warning_length`` (NULL
    without one), the length as written with privacy on (landing replaces handles by longer pseudonyms, and records
    the length) as off; the warning's text is curated nowhere."""
    recorded = content_warned(TEXT_HANDLES)
    land(lake, "statuses", recorded, at(1), policy())
    land(lake, "statuses", recorded, at(1), None)
    duckdb_engine().curate()
    rows = {(r["status_id"], r["uri"].startswith("urn:fediscope:")): r for r in read_table(lake_dir, "statuses")}
    assert len(rows) == 2 * len(recorded)
    columns = ("sensitive", "has_content_warning", "content_warning_length")
    expected = {"Content warning": (True, True, 15), "Content warning" + TEXT_HANDLES: (True, True, 15 + 86),
                "": (False, False, None), " \t\u3000\u2003": (True, False, None), None: (True, False, None)}
    assert len(TEXT_HANDLES) == 86
    for status in recorded:
        for privacy_on in (True, False):
            got = tuple(rows[(status["id"], privacy_on)][c] for c in columns)
            assert got == expected[status["spoiler_text"]], (status["spoiler_text"], privacy_on)
    handles = next(s for s in recorded if s["spoiler_text"] and TEXT_HANDLES in s["spoiler_text"])
    assert policy().apply("statuses", dict(handles), INSTANCE)["spoiler_text"] != handles["spoiler_text"]
    assert not [row for row in rows.values() if any("Content warning" in str(v) for v in row.values())]


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy on", "privacy off"])
def test_a_hashtag_name_that_is_empty_or_only_white_space_is_no_tag(
        privacy_on: bool, lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Was: a tag ``{"name": ""}`` in a status was curated, in its ``hashtags`` (``['', 'hoot']``) and as a row of the
    ``hashtags`` table; one of spaces only, there and in the trending tags too. A REAL recorded tagged status and
    REAL trending tags, with such names added."""
    status = statuses("test_hashtag_tl.json", method="POST")[0]
    tag = status["tags"][0]
    blank = ["", " ", "\u3000", " \t\n"]  # an ideographic space; ASCII spaces
    land(lake, "statuses", [dict(status, tags=[*(dict(tag, name=name) for name in blank), tag])], at(1),
         policy() if privacy_on else None)
    trends = interactions("test_suggested_tags.json")[1]["response"]["body"]
    land(lake, "trends_tags", [*trends, *(dict(trends[0], name=name) for name in blank)], at(1),
         endpoint="/api/v1/trends/tags")
    duckdb_engine().curate()
    (row,) = read_table(lake_dir, "statuses")
    assert row["hashtags"] == ["hoot"]
    assert [r["tag"] for r in read_table(lake_dir, "hashtags")] == ["hoot"]
    assert {r["tag"] for r in read_table(lake_dir, "tag_trends")} == {t["name"].lower() for t in trends}


def test_a_blank_hashtag_a_row_curated_before_holds_makes_no_hashtag_row(lake: LocalLake, lake_dir: Path,
                                                                          duckdb_engine) -> None:
    """A ``statuses`` row curated before blank tag names were left out may still hold one in its ``hashtags`` (until
    ``--recurate``): when a new version of its day rewrites its partition, the ``hashtags`` table gets no row of it.
    A REAL recorded tagged status; its curated row given an empty tag as an older curation wrote it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    status = statuses("test_hashtag_tl.json", method="POST")[0]
    land(lake, "statuses", [status], at(1), policy())
    duckdb_engine().curate()
    for file in (lake_dir / "curated" / "statuses").rglob("*.parquet"):
        table = pq.read_table(file, partitioning=None)
        kind = table.schema.field("hashtags").type
        tags = pa.array([["", *row] for row in table.column("hashtags").to_pylist()], kind)
        pq.write_table(table.set_column(table.schema.get_field_index("hashtags"), "hashtags", tags), file)
    assert [r["hashtags"] for r in read_table(lake_dir, "statuses")] == [["", "hoot"]]
    land(lake, "statuses", [dict(status, id=status["id"] + "1", uri=status["uri"] + "-1")], at(2), policy())
    duckdb_engine().curate()
    assert len(read_table(lake_dir, "statuses")) == 2  # the day was rewritten, with the row curated before
    assert [r["tag"] for r in read_table(lake_dir, "hashtags")] == ["hoot", "hoot"]


def test_language_tags_are_one_value_whatever_their_case(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """Language tags are case-insensitive (BCP 47) and servers other than Mastodon send them as their clients
    wrote them: 'EN' and 'en' were two languages in the languages metric."""
    recorded = snapshots("test_status_reblog_unreblog.json")[0]
    assert recorded["language"] == "en"
    versions = []
    for n, language in enumerate(["EN", "en", "pt-BR", None]):
        status = dict(recorded, id=f"{recorded['id']}{n}", uri=f"{recorded['uri']}/{n}", language=language)
        versions.append(status)
    land(lake, "statuses", versions, at(1), policy())
    engine = duckdb_engine()
    engine.curate()
    assert sorted((r["language"] or "") for r in read_table(lake_dir, "statuses")) == ["", "en", "en", "pt-br"]
    shares = {r["language"]: r["toots"] for r in engine.run_metric(load_metrics()["languages"])}
    assert shares == {"en": 2, "pt-br": 1, "und": 1}


def test_links_are_told_from_mentions_and_hashtags_by_class_and_rel_tokens(lake: LocalLake, lake_dir: Path,
                                                                           duckdb_engine) -> None:
    """Was: any anchor holding "mention" anywhere (``href="…/honorable-mention"``) was taken for a mention, and
    hashtags of servers that mark them ``class="hashtag"`` (Pleroma) or ``rel="tag"`` (Misskey) counted as links.
    A REAL recorded status (its mention and hashtag anchors as Mastodon writes them) with three anchors added."""
    (status,) = {s["id"]: s for s in statuses("test_hashtag_tl.json")}.values()
    recorded_links = _Anchors.count(status["content"])
    status = dict(status, content=status["content"] + (
        '<p><a href="https://example.com/honorable-mention" rel="nofollow noopener" target="_blank">a link</a> '
        '<a class="hashtag" data-tag="x" href="https://pleroma.example/tag/x" rel="tag ugc">#x</a> '
        '<a href="https://misskey.example/tags/y" rel="tag">#y</a></p>'))
    land(lake, "statuses", [status], at(1), policy())
    duckdb_engine().curate()
    (row,) = read_table(lake_dir, "statuses")
    assert row["url_count"] == recorded_links + 1 == _Anchors.count(status["content"])


def test_privacy_off_keys_are_user_at_domain(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    reply = statuses("test_status_reply.json", method="POST")
    land(lake, "statuses", reply, at(1), privacy=None)
    duckdb_engine().curate()
    rows = {r["status_id"]: r for r in read_table(lake_dir, "statuses")}
    for status in reply:
        row = rows[status["id"]]
        assert row["account_key"] == f"{status['account']['acct']}@{INSTANCE}".lower()
        assert row["mentions"] == sorted(f"{m['acct']}@{INSTANCE}".lower() if "@" not in m["acct"]
                                         else m["acct"].lower() for m in status["mentions"])
    accounts = {a["account_key"] for a in read_table(lake_dir, "accounts")}
    assert {r["account_key"] for r in rows.values()} <= accounts


def test_accounts_keep_the_latest_snapshot(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    privacy = policy()
    listed = interactions("test_directory.json")[0]["response"]["body"]
    post = statuses("test_public_tl.json", method="POST")[0]
    author = post["account"]["acct"]
    listed_author = next(a for a in listed if a["acct"] == author)
    assert listed_author["statuses_count"] != post["account"]["statuses_count"]
    land(lake, "directory", listed, at(10), privacy, endpoint="/api/v1/directory")
    land(lake, "statuses", [post], at(5), privacy)  # an older snapshot of the author, curated later
    duckdb_engine().curate()
    accounts = {a["account_key"]: a for a in read_table(lake_dir, "accounts")}
    key = privacy.account_key(author, INSTANCE)
    assert accounts[key]["statuses_count"] == listed_author["statuses_count"]
    assert accounts[key]["fetched_at"] == at(10).replace(tzinfo=None)
    assert len(accounts) == len({a["acct"] for a in listed} | {author})
    assert accounts[key]["created_at"] == _utc(listed_author["created_at"])
    assert accounts[key]["bot"] is False and accounts[key]["group"] is False


@pytest.mark.parametrize("flipped_first", [False, True], ids=["flipped landed second", "flipped landed first"])
def test_snapshots_fetched_at_the_same_moment_pick_one_winner_in_one_run_or_two(
        flipped_first: bool, tmp_path: Path) -> None:
    """Two views of the same accounts fetched in the same millisecond (two instances collected side by side) that
    agree on every count but not on ``bot``, ``group`` or ``last_status_at``: the same snapshot wins whether both
    are curated in one run or one run after the other, and whichever was landed first. Was: the order left a tie
    between them, so a day-by-day lake and one curated from scratch held different accounts."""

    listed = interactions("test_directory.json")[0]["response"]["body"]
    other_view = [{**a, "bot": not a["bot"], "group": not a["group"], "last_status_at": "2020-01-01"}
                  for a in listed]
    batches = [other_view, listed] if flipped_first else [listed, other_view]
    lands = [lambda lake, items=items: land(lake, "directory", items, at(10), policy(), endpoint="/api/v1/directory")
             for items in batches]
    one_run, run_after_run = (sorted(read_table(lake_dir, "accounts"), key=lambda a: a["account_key"])
                              for lake_dir in curated_both_ways(tmp_path, lands))
    assert run_after_run == one_run
    assert all(a["bot"] is True and a["group"] is True for a in one_run)  # a flag set wins a tie


@pytest.mark.parametrize("erased_first", [False, True], ids=["erased batch second", "erased batch first"])
def test_the_version_an_erasure_rewrote_wins_over_the_same_fetch_in_one_run_or_two(
        erased_first: bool, tmp_path: Path) -> None:
    """An erasure rewrites raw batches keeping their ``fetched_at``: a reply to the erased account's status gets
    ``in_reply_to_id`` ``[erased]`` and loses its mention (and the handle in its text), a quote of its status loses
    the quoted status. A ``fediscope process`` that reads such a batch again meets two versions of each status that
    tie on the fetch and the counts. The erasure's version wins, whether both are curated in one run or one after
    the other, whichever batch comes first. Was: the longer (unscrubbed) text won the tie, or the file order
    decided, so the erased account's reply id and mention came back into the curated statuses."""
    from erased_versions import as_erased, reply_and_quote

    from fediscope.gdpr.subject import ERASED
    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    reply, quote, accounts = reply_and_quote()
    privacy = policy()
    landed = [envelope(INSTANCE, "/api/v1/timelines/public", privacy.apply("statuses", s, INSTANCE), at(10))
              for s in (reply, quote)]
    erased = as_erased(landed, accounts, at(10), tmp_path / "scratch", privacy)
    assert len(erased) == 2 and erased != landed
    batches = [erased, landed] if erased_first else [landed, erased]
    lands = [lambda lake, records=records, batch_id=batch_id: write_batch(
                 lake, "statuses", INSTANCE, records, fetched_at=at(10), batch_id=batch_id)
             for records, batch_id in zip(batches, ("20260801T141000Z-0000000a", "20260801T141000Z-0000000b"),
                                          strict=True)]
    rows, run_after_run = ({row["status_id"]: row for row in read_table(lake_dir, "statuses")}
                           for lake_dir in curated_both_ways(tmp_path, lands))
    assert run_after_run == rows
    assert rows[reply["id"]]["in_reply_to_id"] == ERASED and rows[reply["id"]]["is_reply"]
    assert rows[reply["id"]]["mentions"] == []
    assert rows[quote["id"]]["quoted_account_key"] is None


def test_instance_activity_weeks(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    weeks = interactions("test_instance_activity.json")[0]["response"]["body"]
    land(lake, "instance_activity", weeks, at(1), endpoint="/api/v1/instance/activity")
    newer = [dict(weeks[0], statuses=str(int(weeks[0]["statuses"]) + 5))]
    land(lake, "instance_activity", newer, at(2), endpoint="/api/v1/instance/activity")
    duckdb_engine().curate()
    rows = {r["week"]: r for r in read_table(lake_dir, "instance_activity")}
    assert len(rows) == len(weeks)
    for week in weeks:
        day = datetime.fromtimestamp(int(week["week"]), UTC).date()
        assert rows[day]["logins"] == int(week["logins"])
        assert rows[day]["registrations"] == int(week["registrations"])
    first = datetime.fromtimestamp(int(weeks[0]["week"]), UTC).date()
    assert rows[first]["statuses"] == int(weeks[0]["statuses"]) + 5


def test_tag_trends_days_latest_fetch_wins(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    tags = interactions("test_suggested_tags.json")[1]["response"]["body"]  # Tag entities with their history
    assert tags and all(len(t["history"]) == 7 for t in tags)
    land(lake, "trends_tags", tags, at(1), endpoint="/api/v1/trends/tags")
    today = tags[0]["history"][0]
    # days that are no day: not a number, too large for an integer, too large for a timestamp (all dropped)
    bad_days = [{"day": bad, "uses": "1", "accounts": "1"}
                for bad in ("not a day", "99999999999999999999", "9999999999999")]
    newer = [dict(tags[0], name=tags[0]["name"].upper(),  # the same tag, as another server might capitalise it
                  history=[dict(today, uses="12", accounts="5"), *bad_days])]
    land(lake, "trends_tags", newer, at(2), endpoint="/api/v1/trends/tags")
    summary = duckdb_engine().curate()
    rows = {(r["tag"], r["day"]): r for r in read_table(lake_dir, "tag_trends")}
    assert summary.trend_days == len(rows) == sum(len(t["history"]) for t in tags)
    for tag in tags:
        for day in tag["history"]:
            row = rows[(tag["name"].lower(), datetime.fromtimestamp(int(day["day"]), UTC).date())]
            assert row["instance"] == INSTANCE
            if tag is tags[0] and day is today:
                assert (row["uses"], row["accounts"], row["fetched_at"]) == (12, 5, at(2).replace(tzinfo=None))
            else:
                assert (row["uses"], row["accounts"]) == (int(day["uses"]), int(day["accounts"]))
    assert duckdb_engine().curate().noop


def test_instance_peers_keep_first_and_last_day_listed(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    from fediscope.sample.instance import SampleInstance

    recorded = interactions("test_instance_peers.json")[0]["response"]["body"]  # ['chitter.xyz']
    others = SampleInstance.generate(50, seed=3).peers
    day1, day3 = datetime(2026, 8, 1, 9, tzinfo=UTC), datetime(2026, 8, 3, 9, tzinfo=UTC)
    land(lake, "instance_peers", recorded + others[:2], day1, endpoint="/api/v1/instance/peers")
    duckdb_engine().curate()
    land(lake, "instance_peers", [" " + recorded[0].upper() + " ", *others[1:]], day3,
         endpoint="/api/v1/instance/peers")
    summary = duckdb_engine().curate()
    rows = {r["peer"]: (r["first_seen"], r["last_seen"]) for r in read_table(lake_dir, "instance_peers")}
    assert summary.peers == len(rows) == len({recorded[0], *others})
    assert rows[recorded[0]] == (day1.date(), day3.date())  # the same domain, however it was written
    assert rows[others[0]] == (day1.date(), day1.date())  # gone: not in the latest list
    assert all(rows[p] == (day3.date(), day3.date()) for p in others[2:])
    assert {r["instance"] for r in read_table(lake_dir, "instance_peers")} == {INSTANCE}


def test_a_deletion_tombstone_removes_the_status_from_metrics(lake: LocalLake, lake_dir: Path,
                                                             duckdb_engine) -> None:
    status = statuses("test_hashtag_tl.json", method="POST")[0]
    land(lake, "statuses", [status], at(1), policy())
    engine = duckdb_engine()
    engine.curate()
    assert [r["tag"] for r in read_table(lake_dir, "hashtags")] == ["hoot"]
    land(lake, "statuses", [dict(status, deleted=True)], at(2), policy())
    engine.curate()
    (row,) = read_table(lake_dir, "statuses")
    assert row["deleted"] is True
    assert read_table(lake_dir, "hashtags") == []
    assert engine.run_metric(load_metrics()["languages"]) == []
    # an older copy arriving later does not resurrect it
    land(lake, "statuses", [status], at(3), policy())
    engine.curate()
    assert read_table(lake_dir, "statuses")[0]["deleted"] is True


def test_rerun_over_the_same_input_changes_nothing(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    for i, name in enumerate(RECORDED_CASES):
        land(lake, "statuses", statuses(name), at(i), policy())
    first = duckdb_engine().curate()
    assert first.raw_files == len(RECORDED_CASES) and not first.noop
    before = tree_digest(lake_dir / "curated")
    again = duckdb_engine().curate()
    assert again.noop and again.raw_files == 0 and again.files_published == 0
    assert tree_digest(lake_dir / "curated") == before


def test_curating_everything_again_gives_the_same_rows(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    for i, name in enumerate(RECORDED_CASES):
        land(lake, "statuses", statuses(name), at(i), policy())
    duckdb_engine().curate()
    before = {t: sorted(map(repr, read_table(lake_dir, t))) for t in ("statuses", "accounts", "hashtags")}
    (lake_dir / "_state" / "curated_manifest.json").unlink()
    summary = duckdb_engine().curate()
    assert summary.raw_files == len(RECORDED_CASES)
    assert {t: sorted(map(repr, read_table(lake_dir, t))) for t in before} == before


def test_a_rebuild_does_not_call_the_raw_files_it_curates_again_new(lake: LocalLake, lake_dir: Path,
                                                                     duckdb_engine) -> None:
    """Was: `process --recurate --progress` said ``curation: 3 new raw files (…)`` of raw files all curated
    before; an incremental run still calls the ones it reads new."""
    land(lake, "statuses", statuses(RECORDED_CASES[0]), at(0), policy())
    said: list[str] = []
    duckdb_engine().curate(progress=said.append)
    assert "curation: 1 new raw file (1 of statuses, 0 of accounts)" in said, said
    for i, name in enumerate(RECORDED_CASES[1:], 1):
        land(lake, "statuses", statuses(name), at(i), policy())
    said.clear()
    duckdb_engine().curate(progress=said.append)
    assert f"curation: {len(RECORDED_CASES) - 1} new raw files ({len(RECORDED_CASES) - 1} of statuses, 0 of " \
           "accounts)" in said, said
    said.clear()
    summary = duckdb_engine().curate(rebuild=True, progress=said.append)
    assert summary.rebuilt and summary.raw_files == len(RECORDED_CASES)
    assert f"curation: {len(RECORDED_CASES)} raw files to curate ({len(RECORDED_CASES)} of statuses, 0 of " \
           "accounts)" in said, said
    assert not any("new raw file" in line for line in said), said


def test_since_until_limit_the_raw_partitions_read(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    posts = statuses("test_public_tl.json", method="GET", path_contains="local=1")
    day1 = datetime(2026, 8, 1, 14, tzinfo=UTC)
    day2 = datetime(2026, 8, 2, 14, tzinfo=UTC)
    land(lake, "statuses", posts[:3], day1, policy())
    land(lake, "statuses", posts[3:], day2, policy())
    first = duckdb_engine().curate(since=date(2026, 8, 2), until=date(2026, 8, 2))
    assert first.raw_files == 1 and first.raw_files_outside_window == 1
    assert len(read_table(lake_dir, "statuses")) == len(posts) - 3
    rest = duckdb_engine().curate()
    assert rest.raw_files == 1
    assert len(read_table(lake_dir, "statuses")) == len(posts)


def test_gzip_batches_are_curated(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    posts = statuses("test_public_tl.json", method="GET", path_contains="local=1")
    records = [envelope(INSTANCE, "/api/v1/timelines/public", policy().apply("statuses", s, INSTANCE), T0)
               for s in posts]
    path = write_batch(lake, "statuses", INSTANCE, records, fetched_at=T0, compressed=True)
    assert path.endswith(".jsonl.gz") and len(list(read_batch(lake, path))) == len(posts)
    duckdb_engine().curate()
    assert len(read_table(lake_dir, "statuses")) == len(posts)


def test_a_corrupt_raw_file_fails_with_a_clear_error(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    path = land(lake, "statuses", statuses("test_hashtag_tl.json"), at(1), policy())
    (lake_dir / path).write_bytes((lake_dir / path).read_bytes()[:-40] + b"\n")
    with pytest.raises(FediscopeError, match="DuckDB failed"):
        duckdb_engine().curate()
    assert not (lake_dir / "_state" / "curated_manifest.json").exists()


def test_a_corrupt_manifest_says_how_to_recover(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    land(lake, "statuses", statuses("test_hashtag_tl.json"), at(1), policy())
    (lake_dir / "_state").mkdir(parents=True)
    (lake_dir / "_state" / "curated_manifest.json").write_text("{not json")
    with pytest.raises(LakeError, match="delete it"):
        duckdb_engine().curate()


def test_empty_lake_curates_nothing_and_metrics_are_empty(duckdb_engine) -> None:
    engine = duckdb_engine()
    assert engine.curate().noop
    for metric in load_metrics().values():
        assert engine.run_metric(metric) == [], metric.name


def test_partitioned_writes_are_sorted_and_byte_identical_across_runs(tmp_path: Path) -> None:
    """With several threads, DuckDB's partitioned COPY ignores an ORDER BY inside its query once the rows span
    several chunks; the engine sorts with COPY's own ORDER_BY, so re-curating the same rows gives the same bytes."""
    import hashlib

    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.engine.schema import Table

    table = Table("t", {"uri": "string", "n": "bigint", "dt": "date"}, partition_by="dt")
    with DuckDBEngine(settings_for(tmp_path / "lake"), threads=2) as engine:
        engine.materialize("rows", "SELECT md5(CAST(i AS VARCHAR)) AS uri, i AS n, "
                                   "DATE '2026-01-01' + CAST(i % 3 AS INTEGER) AS dt FROM range(300000) AS r(i)")
        digests = []
        for run in range(2):
            out = tmp_path / f"run{run}"
            engine.write_table("rows", table, out, ["uri"])
            digests.append({p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                            for p in out.rglob("*.parquet")})
        unsorted = engine.query(f"SELECT count(*) AS n FROM (SELECT uri < lag(uri) OVER () AS down FROM "
                                f"read_parquet('{tmp_path / 'run0'}/dt=2026-01-02/*.parquet')) WHERE down")
    assert len(digests[0]) == 3 and digests[0] == digests[1]
    assert unsorted == [{"n": 0}]


def test_copies_dated_on_either_side_of_midnight_are_one_status_incrementally_as_in_full(
        tmp_path: Path) -> None:
    """Two servers date one status a moment apart, across midnight (UTC): its copies fall into two day partitions.
    Was: a run merged new versions only with the rows of their own day, so curating them in two runs kept both
    rows (every metric counted the toot twice; top_toots sent a duplicate key), where one run kept one."""
    from fediscope.engine.base import open_engine

    status = next(s for s in statuses("test_hashtag_tl.json") if s.get("tags") and not s.get("reblog"))
    first = dict(status, created_at="2026-03-01T23:59:59.900Z", favourites_count=1)
    second = dict(status, id="999", created_at="2026-03-02T00:00:00.000Z", favourites_count=5)
    curated = {}
    for how in ("full", "incremental"):
        lake_dir = tmp_path / how / "lake"
        lake = LocalLake(lake_dir)
        land(lake, "statuses", [first], at(1), instance="a.example")
        if how == "incremental":
            with open_engine(settings_for(lake_dir), "duckdb") as engine:
                engine.curate()
        land(lake, "statuses", [second], at(2), instance="b.example")
        with open_engine(settings_for(lake_dir), "duckdb") as engine:
            engine.curate()
        curated[how] = (read_table(lake_dir, "statuses"), read_table(lake_dir, "hashtags"))
        (row,) = curated[how][0]
        assert (str(row["dt"]), row["favourites_count"], row["fetched_from"]) == ("2026-03-02", 5, "b.example")
    assert curated["incremental"] == curated["full"]


def test_a_run_stopped_between_the_statuses_and_the_hashtags_removes_a_deleted_status_s_tags_when_run_again(
        lake: LocalLake, lake_dir: Path, duckdb_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the first run published the tombstone in `statuses`, then stopped (a kill, a failed upload) before
    `hashtags`; the next run read the same deletion again, found the status a tombstone already and rewrote no day,
    so the deleted toot stayed in every hashtag metric for good."""
    from streamed_deletions import land_deletion

    from fediscope.engine.workspace import Workspace

    status = next(s for s in statuses("test_hashtag_tl.json") if s.get("tags") and not s.get("reblog"))
    land(lake, "statuses", [status], at(1))
    duckdb_engine().curate()
    assert read_table(lake_dir, "hashtags")
    land_deletion(lake, status["id"], INSTANCE, at(2))
    publish = Workspace.publish

    def stopped_before_the_hashtags(self: Workspace, table: str, *args: object, **kwargs: object) -> int:
        if table == "hashtags":
            raise KeyboardInterrupt
        return publish(self, table, *args, **kwargs)

    monkeypatch.setattr(Workspace, "publish", stopped_before_the_hashtags)
    with pytest.raises(KeyboardInterrupt):
        duckdb_engine().curate()
    monkeypatch.setattr(Workspace, "publish", publish)
    assert [r["deleted"] for r in read_table(lake_dir, "statuses")] == [True]
    assert read_table(lake_dir, "hashtags")  # the stopped run's state: the tags of a deleted status

    summary = duckdb_engine().curate()  # the deletion is read again: the manifest was not saved
    assert summary.raw_files == 1 and summary.partitions
    assert [r["deleted"] for r in read_table(lake_dir, "statuses")] == [True]
    assert not read_table(lake_dir, "hashtags")


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy-on", "privacy-off"])
def test_a_deletion_from_the_home_instance_reaches_a_copy_fetched_elsewhere(privacy_on: bool, lake: LocalLake,
                                                                             lake_dir: Path, duckdb_engine) -> None:
    """A status curated only from another instance's copy (another id there) is deleted by its home instance's
    stream: the deletion and the copy share the home and the home's id, read from the REAL recorded URI
    (pseudonymised at landing as ``origin_ref`` with privacy on, derived from the URI by curation without)."""
    from streamed_deletions import land_deletion

    from fediscope.privacy import status_origin

    status = next(s for s in statuses("test_public_tl.json") if status_origin(s["uri"]) and not s.get("reblog"))
    home, home_id = status_origin(status["uri"])
    assert home == INSTANCE
    other = "other.example"
    copy = dict(status, id="777777", account=dict(status["account"], acct=f"{status['account']['acct']}@{home}"))
    privacy = policy() if privacy_on else None
    land(lake, "statuses", [copy], at(1), privacy, instance=other)
    duckdb_engine().curate()
    (row,) = read_table(lake_dir, "statuses")
    assert (row["fetched_from"], row["status_id"], row["deleted"]) == (other, "777777", False)
    assert (row["origin_ref"] == policy().origin_ref(home, home_id)) if privacy_on else (
        row["origin_ref"] == f"{home}/{home_id}")

    # the home's id reported by the instance that served the copy names another status there: no match
    land_deletion(lake, home_id, other, at(2), policy=privacy)
    duckdb_engine().curate()
    assert [r["deleted"] for r in read_table(lake_dir, "statuses")] == [False]
    # the home instance reports it: the copy's partition is rewritten with the status as a tombstone
    land_deletion(lake, home_id, home, at(3), policy=privacy)
    summary = duckdb_engine().curate()
    assert summary.partitions == [str(row["dt"])] and summary.status_versions == 0
    (row,) = read_table(lake_dir, "statuses")
    assert row["deleted"] is True and row["status_id"] == "777777"
    assert not read_table(lake_dir, "hashtags")
    # and a copy fetched later from a third instance is a tombstone at once
    land(lake, "statuses", [dict(copy, id="888888", favourites_count=5)], at(4), privacy, instance="third.example")
    duckdb_engine().curate()
    (row,) = read_table(lake_dir, "statuses")
    assert row["deleted"] is True


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy-on", "privacy-off"])
def test_a_deletion_of_a_copy_superseded_in_an_earlier_run_applies_as_in_a_full_run(
        privacy_on: bool, lake: LocalLake, lake_dir: Path, duckdb_engine, tmp_path: Path) -> None:
    """Was: the curated row kept only its winning copy's instance and id, so a deletion streamed by the instance of
    a copy superseded in an earlier run matched nothing: the status stayed live in every metric, while a full run
    over the same raw files deleted it (8 metrics differed). The row now keeps every copy merged into it."""
    import shutil

    from engine_data import land_superseded_copy_then_its_deletion

    privacy = policy() if privacy_on else None
    uri = land_superseded_copy_then_its_deletion(lake, lambda: duckdb_engine().curate(), privacy)
    (row,) = read_table(lake_dir, "statuses")
    assert row["uri"] == uri and row["deleted"] is True
    assert (row["fetched_from"], row["copies"]) == (INSTANCE, ["remote.example/8880001"])
    assert not read_table(lake_dir, "hashtags")
    # a full run over the same raw files makes the same row
    full = tmp_path / "full"
    shutil.copytree(lake_dir / "raw", full / "raw")
    from fediscope.engine.base import open_engine

    with open_engine(settings_for(full)) as engine:
        engine.curate()
    assert read_table(full, "statuses") == [row]


def test_duckdb_derives_origins_from_whole_uris_only(duckdb_engine) -> None:
    assert derived_origins(duckdb_engine()) == ORIGIN_CASES


def test_a_deletion_landed_with_two_origins_keeps_both(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """The same delete event landed once without privacy (origin ``host/id``) and once with it (the pseudonym):
    both rows are kept, so the copy matches whichever sorts first (a host after the pseudonyms' ``o``)."""
    from streamed_deletions import land_deletion

    status = statuses("test_public_tl.json")[0]
    home = "zeta.example"
    copy = dict(status, id="777777", uri=f"https://{home}/users/someone/statuses/123",
                account=dict(status["account"], acct=f"{status['account']['acct']}@{home}"))
    land(lake, "statuses", [copy], at(1), policy(), instance="other.example")
    land_deletion(lake, "123", home, at(2))  # no privacy: origin zeta.example/123, matching no pseudonymised copy
    land_deletion(lake, "123", home, at(3), policy=policy())
    duckdb_engine().curate()
    kept = sorted(r["origin_ref"] for r in read_table(lake_dir, "status_deletions"))
    assert kept == sorted([f"{home}/123", policy().origin_ref(home, "123")])
    assert [r["deleted"] for r in read_table(lake_dir, "statuses")] == [True]


def test_rows_curated_before_origins_existed_get_one_from_a_raw_uri(lake: LocalLake, lake_dir: Path,
                                                                     duckdb_engine) -> None:
    """Privacy off: an upgraded lake's rows still hold the raw URI, so a deletion from the home instance reaches
    them, and their rewritten partition carries the origin from then on."""
    from streamed_deletions import land_deletion

    from fediscope.privacy import status_origin

    first, second = list({s["id"]: s for s in statuses("test_public_tl.json")}.values())[:2]
    land(lake, "statuses", [first, second], at(1), None, instance="other.example")
    duckdb_engine().curate()
    strip_column(lake_dir / "curated" / "statuses", "origin_ref")
    home, home_id = status_origin(first["uri"])
    land_deletion(lake, home_id, home, at(2))
    duckdb_engine().curate()
    rows = {r["status_id"]: r for r in read_table(lake_dir, "statuses")}
    assert rows[first["id"]]["deleted"] is True and rows[first["id"]]["origin_ref"] == f"{home}/{home_id}"
    assert rows[second["id"]]["deleted"] is False


def test_curated_tables_written_before_a_column_existed_are_still_read(lake: LocalLake, lake_dir: Path,
                                                                        duckdb_engine) -> None:
    """Tables curated before ``origin_ref`` was added lack it: they are read with it NULL (and merged with new
    rows that have it), not refused."""
    first, second = list({s["id"]: s for s in statuses("test_public_tl.json")}.values())[:2]
    land(lake, "statuses", [first], at(1), policy())
    land(lake, "status_deletions", [{"id": "1"}], at(1), endpoint="/api/v1/streaming/public")
    duckdb_engine().curate()
    assert strip_column(lake_dir / "curated" / "statuses", "origin_ref") >= 1
    assert strip_column(lake_dir / "curated" / "status_deletions", "origin_ref") == 1
    land(lake, "statuses", [second], at(2), policy())
    land(lake, "status_deletions", [{"id": "2"}], at(2), endpoint="/api/v1/streaming/public")
    duckdb_engine().curate()
    refs = {r["status_id"]: r["origin_ref"] for r in read_table(lake_dir, "statuses")}
    assert refs[second["id"]] == policy().origin_ref(INSTANCE, second["id"])
    assert refs[first["id"]] is None  # an existing row is kept as it was curated (raw files are not re-read)
    deletions = {r["status_id"]: r["origin_ref"] for r in read_table(lake_dir, "status_deletions")}
    assert deletions == {"1": f"{INSTANCE}/1", "2": f"{INSTANCE}/2"}  # the old row: derived, as without privacy
    engine = duckdb_engine()
    engine.register_curated_views()
    assert engine.query("SELECT count(*) AS n FROM statuses") == [{"n": 2}]


def test_streamed_deletions_tombstone_the_status_they_name(lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    unique = {s["id"]: s for s in statuses("test_public_tl.json")}
    first, second, third, fourth = list(unique.values())[:4]
    privacy = policy()
    land(lake, "statuses", [first, second, third], at(1), privacy)
    duckdb_engine().curate()
    uri = {s["id"]: _landed_uri(s) for s in (first, second, third, fourth)}

    # a deletion from the instance the status was fetched from applies; the same id from another instance does not
    land(lake, "status_deletions", [{"id": first["id"]}], at(2), endpoint="/api/v1/streaming/public")
    land(lake, "status_deletions", [{"id": second["id"]}], at(2), instance="elsewhere.example",
         endpoint="/api/v1/streaming/public")
    summary = duckdb_engine().curate()
    assert summary.deletions == 2 and summary.status_versions == 0
    assert summary.partitions == [_utc(first["created_at"]).date().isoformat()]
    deleted = {r["uri"]: r["deleted"] for r in read_table(lake_dir, "statuses")}
    assert deleted == {uri[first["id"]]: True, uri[second["id"]]: False, uri[third["id"]]: False}
    assert uri[first["id"]] not in {r["status_uri"] for r in read_table(lake_dir, "hashtags")}
    kept = {(r["instance"], r["status_id"]) for r in read_table(lake_dir, "status_deletions")}
    assert kept == {(INSTANCE, first["id"]), ("elsewhere.example", second["id"])}

    # a copy fetched later (a lagging walk) stays a tombstone; a status deleted in the run that lands it is one
    land(lake, "statuses", [first, fourth], at(3), privacy)
    land(lake, "status_deletions", [{"id": fourth["id"]}], at(3), endpoint="/api/v1/streaming/public")
    duckdb_engine().curate()
    deleted = {r["uri"]: r["deleted"] for r in read_table(lake_dir, "statuses")}
    assert deleted[uri[first["id"]]] and deleted[uri[fourth["id"]]] and not deleted[uri[third["id"]]]
    assert len(read_table(lake_dir, "status_deletions")) == 3
    assert duckdb_engine().curate().noop

    # the deletion wins over a newer copy fetched from another instance in the same run (another id there)
    other = "other.example"
    federated = dict(third, id="999999", account=dict(third["account"], acct=f"{third['account']['acct']}@{INSTANCE}"))
    assert policy().apply("statuses", federated, other)["uri"] == uri[third["id"]]  # the same status
    land(lake, "status_deletions", [{"id": third["id"]}], at(5), endpoint="/api/v1/streaming/public")
    land(lake, "statuses", [federated], at(6), privacy, instance=other)
    duckdb_engine().curate()
    (row,) = [r for r in read_table(lake_dir, "statuses") if r["uri"] == uri[third["id"]]]
    # every version of a deleted status is a tombstone: the row is its latest version, with every copy merged
    assert row["deleted"] is True and (row["fetched_from"], row["status_id"]) == (other, "999999")
    assert row["copies"] == [f"{INSTANCE}/{third['id']}"]  # the other copy; its own is fetched_from/status_id
    # and over a copy from that instance arriving in a later run
    land(lake, "statuses", [dict(federated, favourites_count=99)], at(7), privacy, instance=other)
    duckdb_engine().curate()
    (row,) = [r for r in read_table(lake_dir, "statuses") if r["uri"] == uri[third["id"]]]
    assert row["deleted"] is True


@pytest.mark.parametrize("privacy_on", [True, False])
def test_a_quote_keeps_the_key_of_the_quoted_author_until_the_quote_is_revoked(
        privacy_on: bool, lake: LocalLake, lake_dir: Path, duckdb_engine) -> None:
    """REAL recorded quote: admin quotes mastodonpy_test's status, which then revokes the quote."""
    original, quoting, revoked = snapshots("test_status_quote_revoke.json")[:3]
    privacy = policy() if privacy_on else None
    land(lake, "statuses", [original, quoting], at(1), privacy)
    duckdb_engine().curate()
    author = original["account"]["acct"]
    expected = policy().account_key(author, INSTANCE) if privacy_on else f"{author}@{INSTANCE}".lower()

    def row(status: dict) -> dict:
        uri = _landed_uri(status) if privacy_on else status["uri"]
        return {r["uri"]: r for r in read_table(lake_dir, "statuses")}[uri]

    assert row(quoting)["quoted_account_key"] == expected != row(quoting)["account_key"]
    assert row(original)["quoted_account_key"] is None  # quotes nobody
    land(lake, "statuses", [revoked], at(2), privacy)
    duckdb_engine().curate()
    assert row(quoting)["quoted_account_key"] is None  # the latest version's quote was revoked: no quoted status


@pytest.mark.parametrize("anything_new", [True, False])
def test_staging_directories_a_killed_run_left_are_removed_by_the_next_run(lake: LocalLake, lake_dir: Path,
                                                                          duckdb_engine, anything_new: bool) -> None:
    """A run killed while it staged (SIGKILL, a power cut) left ``curated/_staging/<run>/`` with partial Parquet
    files for good: pseudonymous rows an erasure does not reach, a broken file for tools reading curated/**."""
    land(lake, "statuses", statuses("test_hashtag_tl.json"), at(1), policy())
    if not anything_new:
        duckdb_engine().curate()
    left = lake_dir / "curated" / "_staging" / "0123456789ab" / "accounts"
    left.mkdir(parents=True)
    (left / "part-0.parquet").write_bytes(b"PAR1 cut short")

    summary = duckdb_engine().curate()

    assert not (lake_dir / "curated" / "_staging").exists()
    assert summary.noop is not anything_new
    assert len(read_table(lake_dir, "statuses")) == len({s["uri"] for s in statuses("test_hashtag_tl.json")})


@pytest.mark.parametrize("killed", ["between the renames", "after the renames"])
def test_a_partition_a_killed_publish_moved_aside_is_put_back(lake: LocalLake, lake_dir: Path, duckdb_engine,
                                                              killed: str) -> None:
    """Publishing a partition renames the old one aside (``.dt=….old-<hex>``), the staged one into place, then
    deletes the old one. A run killed between the renames left the partition missing: the next run merged its raw
    files into nothing, and the partition's earlier rows were gone until --recurate."""
    land(lake, "statuses", statuses("test_hashtag_tl.json"), at(1), policy())
    duckdb_engine().curate()
    before = sorted(r["uri"] for r in read_table(lake_dir, "statuses"))
    table = lake_dir / "curated" / "statuses"
    partition = sorted(p for p in table.iterdir() if p.name.startswith("dt="))[0]
    aside = table / f".{partition.name}.old-0123abcd"
    shutil.copytree(partition, aside)
    if killed == "between the renames":
        shutil.rmtree(partition)

    duckdb_engine().curate()

    assert not aside.exists()
    assert partition.is_dir()
    assert sorted(r["uri"] for r in read_table(lake_dir, "statuses")) == before


def test_a_plain_run_after_an_interrupted_rebuild_finishes_it(lake: LocalLake, lake_dir: Path, duckdb_engine,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: Ctrl-C during `process --recurate` after `statuses` was published left the other tables un-rebuilt, and a
    plain `process` curated only the new raw files on top, saying nothing of the rebuild left half done."""
    from fediscope.engine.workspace import Workspace

    for i, name in enumerate(RECORDED_CASES):
        land(lake, "statuses", statuses(name), at(i), policy())
    duckdb_engine().curate()
    publish = Workspace.publish

    def stopped_before_the_accounts(self: Workspace, table: str, *args: object, **kwargs: object) -> int:
        if table == "accounts":
            raise KeyboardInterrupt
        return publish(self, table, *args, **kwargs)

    monkeypatch.setattr(Workspace, "publish", stopped_before_the_accounts)
    with pytest.raises(KeyboardInterrupt):
        duckdb_engine().curate(rebuild=True)
    monkeypatch.setattr(Workspace, "publish", publish)

    said: list[str] = []
    summary = duckdb_engine().curate(progress=said.append)
    assert summary.rebuilt and summary.raw_files == len(RECORDED_CASES)
    assert any("finishing the interrupted rebuild" in line for line in said), said
    assert not (lake_dir / "_state" / "curation_rebuild.json").exists()
    after = duckdb_engine().curate()  # finished: the next run is incremental again, with nothing new
    assert after.noop and not after.rebuilt


def test_a_windowed_run_after_an_interrupted_rebuild_is_refused(lake: LocalLake, lake_dir: Path, duckdb_engine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from fediscope.engine.workspace import Workspace

    land(lake, "statuses", statuses(RECORDED_CASES[0]), at(0), policy())
    duckdb_engine().curate()

    def stopped(self: Workspace, table: str, *args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(Workspace, "publish", stopped)
    with pytest.raises(KeyboardInterrupt):
        duckdb_engine().curate(rebuild=True)
    monkeypatch.undo()
    with pytest.raises(FediscopeError, match=r"interrupted.*fediscope process --recurate"):
        duckdb_engine().curate(since=date(2000, 1, 1))
