"""The generated corpus: deterministic, shaped like the recordings, realistic where the analytics look."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fediscope.sample import shapes
from fediscope.sample.corpus import (
    DEFAULT_END,
    DEFAULT_INSTANCES,
    Corpus,
    generate_corpus,
    iter_statuses,
    on_public_timeline,
)
from fediscope.timestamps import snowflake_ms, to_ms


def _ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _dump(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, ensure_ascii=False, sort_keys=True)


# -- determinism -----------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_corpus() -> None:
    a, b = generate_corpus(600, seed=3), generate_corpus(600, seed=3)
    assert _dump(a.statuses) == _dump(b.statuses)
    assert _dump(a.accounts) == _dump(b.accounts)


def test_different_seeds_differ() -> None:
    a, b = generate_corpus(300, seed=1), generate_corpus(300, seed=2)
    assert [s["id"] for s in a.statuses] != [s["id"] for s in b.statuses]
    assert _dump(a.accounts) != _dump(b.accounts)


def test_iter_statuses_streams_the_same_records() -> None:
    assert _dump(list(iter_statuses(400, seed=9))) == _dump(generate_corpus(400, seed=9).statuses)


def test_records_are_plain_json(corpus: Corpus) -> None:
    sample = corpus.statuses[:500] + corpus.accounts[:100]
    assert json.loads(json.dumps(sample)) == sample


# -- time and ids ----------------------------------------------------------------------------------------------
def test_ids_are_strictly_increasing_snowflakes_of_created_at(corpus: Corpus) -> None:
    ids = [int(s["id"]) for s in corpus.statuses]
    assert all(isinstance(s["id"], str) and s["id"].isdigit() for s in corpus.statuses)
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False))
    for status in corpus.statuses:
        # Mastodon's snowflake: the high bits are the creation time in ms (low bits may carry over by a few ms)
        assert 0 <= snowflake_ms(status["id"]) - _ms(status["created_at"]) < 50


def test_created_at_lies_in_the_default_window(corpus: Corpus) -> None:
    times = [_ms(s["created_at"]) for s in corpus.statuses]
    assert min(times) >= to_ms(DEFAULT_END - timedelta(days=14))
    assert max(times) < to_ms(DEFAULT_END)
    days = Counter(datetime.fromtimestamp(t / 1000, UTC).date() for t in times)
    assert len(days) == 14  # spread over the whole window, not bunched


def test_window_is_configurable() -> None:
    end = datetime(2025, 3, 1, tzinfo=UTC)
    corpus = generate_corpus(200, seed=1, end=end, window=timedelta(days=2))
    assert all(to_ms(end - timedelta(days=2)) <= _ms(s["created_at"]) < to_ms(end) for s in corpus.statuses)


def test_posting_follows_a_day_and_night_rhythm(corpus: Corpus) -> None:
    hours = Counter(datetime.fromisoformat(s["created_at"].replace("Z", "+00:00")).hour for s in corpus.statuses)
    assert hours[15] > 2 * hours[3]


def test_edits_come_after_creation(corpus: Corpus) -> None:
    edited = [s for s in corpus.statuses if s["edited_at"]]
    assert edited
    assert all(_ms(s["created_at"]) < _ms(s["edited_at"]) < to_ms(DEFAULT_END) for s in edited)


# -- shapes ----------------------------------------------------------------------------------------------------
def test_every_status_has_every_key_of_the_recorded_status(corpus: Corpus) -> None:
    keys = set(shapes.status_keys())
    for status in corpus.statuses:
        assert keys <= set(status)
        if status["reblog"]:
            assert keys <= set(status["reblog"])


def test_every_account_has_every_key_of_the_recorded_account(corpus: Corpus) -> None:
    keys = set(shapes.account_keys())
    assert all(keys <= set(account) for account in corpus.accounts)


def test_nested_entities_have_the_recorded_keys(corpus: Corpus) -> None:
    media = [m for s in corpus.statuses for m in s["media_attachments"]]
    assert media and all(set(shapes.template("media_image")) <= set(m) for m in media)
    cards = [s["card"] for s in corpus.statuses if s["card"]]
    assert cards and all(set(shapes.template("card")) <= set(c) for c in cards)
    polls = [s["poll"] for s in corpus.statuses if s["poll"]]
    assert polls and all(set(shapes.template("poll")) <= set(p) for p in polls)
    mentions = [m for s in corpus.statuses for m in s["mentions"]]
    assert mentions and all(set(m) == set(shapes.template("mention")) for m in mentions)


def test_types_match_the_recorded_status(corpus: Corpus) -> None:
    recorded = shapes.template("status")
    for status in corpus.statuses[:2000]:
        for key in ("id", "created_at", "sensitive", "spoiler_text", "visibility", "uri", "url", "replies_count",
                    "reblogs_count", "favourites_count", "content", "media_attachments", "mentions", "tags"):
            assert type(status[key]) is type(recorded[key]), key


# -- realism ---------------------------------------------------------------------------------------------------
def test_followers_are_heavy_tailed(corpus: Corpus) -> None:
    followers = sorted((a["followers_count"] for a in corpus.accounts), reverse=True)
    top = followers[: max(1, len(followers) // 100)]
    assert sum(top) / sum(followers) > 0.2  # uniform would be 0.01
    assert followers[0] > 50 * followers[len(followers) // 2]


def test_engagement_is_heavy_tailed(corpus: Corpus) -> None:
    favourites = sorted((s["favourites_count"] for s in corpus.statuses if not s["reblog"]), reverse=True)
    assert sum(favourites[: len(favourites) // 100]) / sum(favourites) > 0.15
    assert sum(1 for f in favourites if f == 0) / len(favourites) > 0.2  # many statuses get nothing


def test_hashtags_are_zipf_like(corpus: Corpus) -> None:
    counts = [n for _, n in Counter(t["name"] for s in corpus.statuses for t in s["tags"]).most_common()]
    assert len(counts) > 100
    top = counts[:50]
    xs = [math.log(rank) for rank in range(1, len(top) + 1)]
    ys = [math.log(n) for n in top]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    assert -1.6 < slope < -0.6


def test_several_languages_instances_and_media_types(corpus: Corpus) -> None:
    languages = Counter(s["language"] for s in corpus.statuses if not s["reblog"])
    assert len([lang for lang, n in languages.items() if lang and n >= 20]) >= 6
    assert languages.most_common(1)[0][1] < 0.6 * sum(languages.values())
    assert set(corpus.domains.values()) == set(DEFAULT_INSTANCES)
    media = Counter(m["type"] for s in corpus.statuses for m in s["media_attachments"])
    assert {"image", "video", "gifv", "audio"} <= set(media)


def test_reblogs_replies_edits_bots_groups_present(corpus: Corpus) -> None:
    statuses = corpus.statuses
    position = {s["id"]: i for i, s in enumerate(statuses)}
    reblogs = [s for s in statuses if s["reblog"]]
    replies = [s for s in statuses if s["in_reply_to_id"]]
    assert len(reblogs) > 0.05 * len(statuses) and len(replies) > 0.05 * len(statuses)
    for status in reblogs:  # a boost points to an earlier status of the corpus, and carries no text
        assert position[status["reblog"]["id"]] < position[status["id"]] and status["content"] == ""
    for status in replies:
        parent = statuses[position[status["in_reply_to_id"]]]
        assert position[parent["id"]] < position[status["id"]]
        assert status["in_reply_to_account_id"] == parent["account"]["id"]
    assert any(s["edited_at"] for s in statuses)
    assert any(s["account"]["bot"] for s in statuses) and any(s["account"]["group"] for s in statuses)
    assert sum(s["account"]["bot"] for s in statuses) < 0.3 * len(statuses)


def test_some_accounts_opt_out_of_indexing(corpus: Corpus) -> None:
    noindex = [a for a in corpus.accounts if a["noindex"] is True]
    nobot = [a for a in corpus.accounts if "#nobot" in a["note"].lower()]
    assert noindex and nobot
    assert len(noindex) + len(nobot) < 0.1 * len(corpus.accounts)
    opted_out = {a["id"] for a in noindex + nobot}
    assert any(s["account"]["id"] in opted_out for s in corpus.statuses)


def test_content_has_mentions_hashtags_links_and_emojis(corpus: Corpus) -> None:
    contents = [s for s in corpus.statuses if s["content"]]
    with_mention = [s for s in contents if s["mentions"]]
    assert with_mention
    assert all(f'href="{m["url"]}"' in s["content"] for s in with_mention for m in s["mentions"])
    with_tags = [s for s in contents if s["tags"]]
    assert all(f'#<span>{t["name"]}</span>' in s["content"] for s in with_tags for t in s["tags"])
    assert any('rel="nofollow noopener"' in s["content"] for s in contents)
    custom = [s for s in contents if s["emojis"]]
    assert custom and all(f':{e["shortcode"]}:' in s["content"] for s in custom for e in s["emojis"])
    assert any(ch in s["content"] for s in contents for ch in ("🎉", "🐘", "☕"))


def test_acct_is_written_from_the_home_instance(corpus: Corpus) -> None:
    for account in corpus.accounts:
        domain = corpus.domains[account["id"]]
        expected = account["username"] if domain == corpus.home else f"{account['username']}@{domain}"
        assert account["acct"] == expected
        assert account["url"] == f"https://{domain}/@{account['username']}"


def test_a_sizeable_share_reaches_the_public_timeline(corpus: Corpus) -> None:
    public = [s for s in corpus.statuses if on_public_timeline(s)]
    assert 0.5 * len(corpus.statuses) < len(public) < 0.9 * len(corpus.statuses)


@pytest.mark.parametrize("bad", [{"n_statuses": -1}, {"n_statuses": 10, "instances": ()},
                                 {"n_statuses": 10, "home": "elsewhere.example"}])
def test_bad_arguments_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        generate_corpus(**bad)



def test_streaming_keeps_a_bounded_number_of_statuses_alive() -> None:
    """Millions of statuses stream in constant memory: only the recent pool (for boosts and replies) stays."""
    import gc

    from fediscope.sample.corpus import _POOL_SIZE, QUOTE_APPROVAL, CorpusGenerator

    generator = CorpusGenerator(15_000, seed=2, n_accounts=4000, end=datetime(2031, 1, 1, tzinfo=UTC))
    for _ in generator.statuses():
        pass
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if isinstance(o, dict) and o.get("quote_approval") is QUOTE_APPROVAL
                and str(o.get("created_at")).startswith("2030-"))  # only this generator's (other tests keep corpora)
    assert alive <= _POOL_SIZE + 10
