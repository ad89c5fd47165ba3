"""The erased account's mentions in other people's texts, with privacy on and off (fediscope.gdpr.mentions).

Was: with privacy off (texts as collected), the erasure left a mention's ``@<span>name</span>`` and its profile link
(``href="http://localhost:3000/@mastodonpy_test_2"``) in other people's statuses: only ``user@domain`` written whole
and the links of the account's statuses were replaced. The REAL recorded reply of admin to the subject (a Mastodon
mention: ``<span class="h-card"><a href="…/@mastodonpy_test_2" class="u-url mention">@<span>mastodonpy_test_2</span>
</a></span>``), landed as recorded and with its mention written in the other shapes servers and people write it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import (
    LOCAL,
    SUBJECT,
    curated_tables,
    file_bytes,
    files_holding,
    lake_settings,
    land_recordings,
    recorded,
)
from non_public_statuses import visible

from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.engine.visible_text import authored_length
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.subject import ERASED
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import policy_from_settings
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

NAME = "mastodonpy_test_2"
PROFILE = f"http://localhost:3000/@{NAME}"
#: The recorded reply's mention, as Mastodon writes it.
MENTION = f'<a href="{PROFILE}" class="u-url mention">@<span>{NAME}</span></a>'
#: What it becomes with privacy off: what landing with privacy on makes of an erased account's mention.
ERASED_MENTION = f'<a href="{ERASED}" class="u-url mention">@<span>{ERASED}</span></a>'
#: Mastodon's rendering of a link written in a text (its address split into spans).
LINK = (f'<a href="{PROFILE}" rel="nofollow noopener" target="_blank"><span class="invisible">http://</span>'
        f'<span class="">localhost:3000/@{NAME}</span><span class="invisible"></span></a>')

#: The shapes of the mention, each as the reply's text (``content``) holds it.
SHAPES = {
    "as-recorded": MENTION,
    "name-at-domain": MENTION.replace(f"@<span>{NAME}</span>", f"@<span>{NAME}@{LOCAL}</span>"),
    "users-path": MENTION.replace(PROFILE, f"http://localhost:3000/users/{NAME}"),
    "other-case-https": MENTION.replace(PROFILE, "https://LocalHost:3000/@MastodonPy_Test_2"),
    "seen-from-another-server": MENTION.replace(PROFILE, f"https://mastodon.social/@{NAME}@{LOCAL}"),
    "profile-link-as-text": f"{MENTION} see {LINK}",
    "status-link-under-the-profile": MENTION.replace(PROFILE, f"{PROFILE}/1170205"),
    "handle-in-another-case-as-text": f"{MENTION} cc @MastodonPy_Test_2@LocalHost:3000",
}


def the_reply() -> dict[str, Any]:
    return next(s for _, s in recorded(("test_status_reply.json",), "statuses") if s.get("mentions"))


def with_shape(shape: str) -> dict[str, Any]:
    """The recorded reply, its mention written as ``SHAPES[shape]`` (another id and URI)."""
    reply = the_reply()
    assert MENTION in reply["content"]
    return json.loads(json.dumps(dict(reply, id=reply["id"] + "9", uri=reply["uri"] + "-shape",
                                      content=reply["content"].replace(MENTION, SHAPES[shape]))))


def land(settings: Settings, statuses: list[dict[str, Any]]) -> None:
    """The recordings, and ``statuses`` (fetched from the recorded server), landed by ``settings``' policy."""
    lake, policy = open_lake(settings.lake), policy_from_settings(settings)
    assert land_recordings(lake, policy) > 50
    now = datetime.now(UTC)
    write_batch(lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", policy.apply(
        "statuses", json.loads(json.dumps(status)), LOCAL), now) for status in statuses], fetched_at=now)


def raw_statuses(settings: Settings, status_id: str) -> list[dict[str, Any]]:
    """Every raw record of the status ``status_id`` (the recordings land some statuses more than once)."""
    lake = open_lake(settings.lake)
    return [record["data"] for path in raw_batch_files(lake, "statuses") for record in read_batch(lake, path)
            if record["data"]["id"] == status_id]


def raw_status(settings: Settings, status_id: str) -> dict[str, Any]:
    (found,) = raw_statuses(settings, status_id)
    return found


class _Balance(HTMLParser):
    """The tags of an HTML text, checked to close in order."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.wrong = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.wrong = self.wrong or not self.open or self.open.pop() != tag


def well_formed(text: str) -> bool:
    parser = _Balance()
    parser.feed(text)
    parser.close()
    return not parser.wrong and not parser.open


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_erased_accounts_mention_goes_from_another_persons_text(tmp_path: Path, shape: str,
                                                                     privacy: bool) -> None:
    """The mention's text and link become [erased], as privacy on's landing of an erased account writes them, the
    HTML stays well-formed, the mention goes from ``mentions``, the reply loses whom it replies to, and the text
    keeps its length as written (``content_length``), the same with privacy on and off."""
    settings = lake_settings(tmp_path, privacy)
    status = with_shape(shape)
    land(settings, [status])

    erase_account(settings, SUBJECT)

    landed = raw_status(settings, status["id"])
    assert NAME not in json.dumps(landed).lower() and "mastodonpy_test_2" not in landed["content"].lower()
    assert landed["content"].endswith(" same!</p>")
    if privacy and shape == "status-link-under-the-profile":
        # landed as the pseudonym of a status the lake does not hold: it names nobody, and stays
        assert landed["content"].count("urn:fediscope:") == 2
    else:
        assert f"@<span>{ERASED}</span></a>" in landed["content"]
    if not privacy:
        assert ERASED_MENTION in landed["content"]
        assert "localhost:3000" not in landed["content"]
    assert well_formed(landed["content"])
    assert landed["mentions"] == [] and landed["in_reply_to_account_id"] is None
    assert landed["in_reply_to_id"] == ERASED
    assert landed["authored_length"] == authored_length(status["content"])  # the text as written


def test_with_privacy_off_no_byte_of_the_lake_names_the_erased_account_in_a_text(tmp_path: Path) -> None:
    """Every recorded status that mentions the subject (admin's reply, and a direct message to it), and the reply in
    every shape: after the erasure no raw batch holds the subject's name nor its profile link, and the curated
    lengths are those of before (the texts as written). Only the subject's: admin's REAL recorded mentions of
    mastodonpy_test (a name the subject's begins with), and links to other accounts of its server, stay as written."""
    settings = lake_settings(tmp_path, privacy=False)
    shapes = [dict(with_shape(shape), id=f"{the_reply()['id']}{i}", uri=f"{the_reply()['uri']}-{i}")
              for i, shape in enumerate(sorted(SHAPES))]
    others = f' <a href="http://localhost:3000/@mastodonpy_test">x</a> <a href="{PROFILE}x">y</a> @{NAME}x'
    shapes[0]["content"] = shapes[0]["content"].removesuffix("</p>") + others + "</p>"
    mentioning = [s for _, s in recorded(("test_home_tl.json",), "statuses")
                  if "@<span>mastodonpy_test</span>" in (s.get("content") or "")]
    assert mentioning
    land(settings, shapes)
    run_process(settings, progress=False)
    before = {row["uri"]: row["content_length"] for row in visible(curated_tables(Path(settings.lake))["statuses"])}
    lake_dir = Path(settings.lake)
    assert files_holding([lake_dir / "raw"], [PROFILE])

    report = erase_account(settings, SUBJECT)

    assert report.raw["records_scrubbed"] >= len(shapes) + 1
    named = re.compile(rf"{NAME}(?!x)".encode())  # not the longer name of another account written in ``others``
    assert not [path for path in sorted((lake_dir / "raw").rglob("*")) + sorted((lake_dir / "curated").rglob("*"))
                if path.is_file() and named.search(file_bytes(path))]
    after = {row["uri"]: row["content_length"] for row in visible(curated_tables(lake_dir)["statuses"])}
    assert after == {uri: length for uri, length in before.items() if uri in after}
    assert {s["uri"] for s in shapes} <= set(after)
    assert others in raw_status(settings, shapes[0]["id"])["content"]
    for each in mentioning:
        assert {landed["content"] for landed in raw_statuses(settings, each["id"])} == {each["content"]}



def card_authored_by_subject() -> dict:
    """The REAL recorded card's status, its card naming the REAL recorded account of the subject as its author (as
    Mastodon gives a linked page's fediverse author: ``author_name``, ``author_url`` and ``authors``)."""
    (_, carded), = [(h, s) for h, s in recorded(("test_status_card.json",), "statuses") if s.get("card")][:1]
    (_, account), *_ = [(h, a) for h, a in recorded(("test_accounts.json",), "accounts") if a["acct"] == NAME]
    card = dict(carded["card"], author_name=account["display_name"] or NAME, author_url=account["url"],
                authors=[{"name": account["display_name"] or NAME, "url": account["url"], "account": account}])
    return dict(carded, id=carded["id"] + "5", uri=carded["uri"] + "-5", card=card)

def test_with_privacy_off_a_link_preview_loses_the_erased_account_as_its_author(tmp_path: Path) -> None:
    """Mastodon names the author of a linked page in its card (``author_name``, ``author_url`` and ``authors``, with
    the author's whole account when it is on the fediverse): kept as collected with privacy off, it named the
    subject in another person's status. The REAL recorded card, the REAL recorded account of the subject as its
    author. Privacy on lands only the card's type and provider."""
    settings = lake_settings(tmp_path, privacy=False)
    status = card_authored_by_subject()
    collected = json.loads(json.dumps(status))
    assert status["account"]["acct"] != NAME
    land(settings, [status])

    erase_account(settings, SUBJECT)

    landed = raw_status(settings, status["id"])
    assert NAME not in json.dumps(landed)
    assert landed["card"]["authors"] == [] and landed["card"]["author_url"] == landed["card"]["author_name"] == ""
    assert landed["card"]["url"] == collected["card"]["url"]  # the preview stays


# -- landing with privacy off after the erasure ------------------------------------------------------------------
def land_again(settings: Settings, statuses: list[dict[str, Any]]) -> None:
    """A later fetch of ``statuses`` (as recorded), landed as the collector lands it: with the lake's suppression
    list."""
    lake = open_lake(settings.lake)
    policy = policy_from_settings(settings, suppressed=load_suppressed(lake))
    later = datetime.now(UTC) + timedelta(hours=1)
    write_batch(lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", policy.apply(
        "statuses", json.loads(json.dumps(status)), LOCAL), later) for status in statuses], fetched_at=later)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_with_privacy_off_the_status_landed_after_the_erasure_says_what_the_erasure_made_of_it(
        tmp_path: Path, shape: str) -> None:
    """Was: landing with privacy off after the erasure dropped the mention from ``mentions`` but kept the text as
    collected, so every later fetch of admin's reply brought ``@<span>mastodonpy_test_2</span>`` and its profile link
    back. Now the status landed after the erasure is the one the erasure left of it landed before, byte for byte,
    its length as written included."""
    settings = lake_settings(tmp_path, privacy=False)
    status = with_shape(shape)
    land(settings, [status])
    erase_account(settings, SUBJECT)

    land_again(settings, [status])

    erased, landed_after = raw_statuses(settings, status["id"])
    assert landed_after == erased
    assert NAME not in json.dumps(landed_after).lower() and "localhost:3000" not in landed_after["content"]
    assert ERASED_MENTION in landed_after["content"] and well_formed(landed_after["content"])
    assert landed_after["authored_length"] == authored_length(status["content"])


def test_with_privacy_off_a_content_warning_landed_after_the_erasure_is_rewritten_as_the_erasure_did(
        tmp_path: Path) -> None:
    """The recorded reply with its mention's handle and profile link in its content warning too (plain text): landed
    after the erasure, the warning says what the erasure made of it, with its length as written."""
    settings = lake_settings(tmp_path, privacy=False)
    status = dict(with_shape("as-recorded"), spoiler_text=f"re @{NAME} ({PROFILE})")
    land(settings, [status])
    erase_account(settings, SUBJECT)

    land_again(settings, [status])

    erased, landed_after = raw_statuses(settings, status["id"])
    assert landed_after == erased and landed_after["spoiler_text"] == f"re @{ERASED} ({ERASED})"
    assert landed_after["authored_spoiler_length"] == len(status["spoiler_text"])


def test_with_privacy_off_a_link_preview_landed_after_the_erasure_has_no_author(tmp_path: Path) -> None:
    """The REAL recorded card with the REAL recorded account of the subject as its author (as in the erasure's test
    above), fetched again after the erasure: its authors go as the erasure removed them; the text is not touched."""
    settings = lake_settings(tmp_path, privacy=False)
    status = card_authored_by_subject()
    collected = json.loads(json.dumps(status))
    land(settings, [status])
    erase_account(settings, SUBJECT)

    land_again(settings, [status])

    erased, landed_after = raw_statuses(settings, status["id"])
    assert landed_after == erased and NAME not in json.dumps(landed_after)
    assert landed_after["card"]["authors"] == [] and landed_after["card"]["author_url"] == ""
    assert landed_after["content"] == collected["content"] and "authored_length" not in landed_after


def test_with_privacy_off_a_quote_landed_after_the_erasure_loses_the_link_to_the_quoted_status(
        tmp_path: Path) -> None:
    """The REAL recorded quote of a status of mastodonpy_test: Mastodon writes the quoted status's link in the text
    (``RE: <a href="http://localhost:3000/@mastodonpy_test/117020583073249915">``). Erasing mastodonpy_test rewrites
    it; a later fetch lands it rewritten the same, not as collected."""
    settings = lake_settings(tmp_path, privacy=False)
    quoting = next(s for _, s in recorded(("test_status_quote_revoke.json",), "statuses")
                   if isinstance(s.get("quote"), dict) and s["quote"].get("quoted_status"))
    quoted_url = quoting["quote"]["quoted_status"]["url"]
    assert f'href="{quoted_url}"' in quoting["content"]
    land(settings, [])
    erase_account(settings, f"{quoting['quote']['quoted_status']['account']['acct']}@{LOCAL}")

    land_again(settings, [quoting])

    lake = open_lake(settings.lake)
    fetches = sorted(((record["meta"]["fetched_at"], record["data"]) for path in raw_batch_files(lake, "statuses")
                      for record in read_batch(lake, path) if record["data"]["id"] == quoting["id"]),
                     key=lambda fetch: fetch[0])
    *erased, (_, landed_after) = fetches
    assert landed_after in [data for _, data in erased]  # the recording's copy the erasure rewrote, byte for byte
    assert landed_after["quote"]["quoted_status"] is None
    assert quoted_url not in landed_after["content"] and "@mastodonpy_tes" not in landed_after["content"]
    assert f'href="{ERASED}"' in landed_after["content"] and well_formed(landed_after["content"])
    assert landed_after["authored_length"] == authored_length(quoting["content"])


def test_with_privacy_off_a_collection_after_the_erasure_brings_no_mention_of_the_account_back(
        mastodon_server, tmp_path: Path) -> None:  # noqa: ANN001
    """End to end: the real collector against the recorded Mastodon double, with privacy off. Its timeline clones the
    REAL recorded statuses, admin's mentions of mastodonpy_test (``@<span>mastodonpy_test</span> beep beep``) among
    them; mastodonpy_test is erased; admin posts again (more copies of them) and the next collection lands them. No
    raw batch names mastodonpy_test, and each status landed after the erasure says what the erasure made of those
    landed before."""
    settings = Settings(lake=str(tmp_path / "lake"), store=f"sqlite:///{tmp_path / 'store.db'}", privacy=False,
                        backfill_pages=20)
    public = [(mastodon_server.url, parse_source("public"))]
    named = re.compile(rb"mastodonpy_test(?!_2)")  # not the longer name of the other account
    assert run_collection(settings, public, progress=False).ok
    lake_dir = Path(settings.lake)
    raw_files = [path for path in sorted((lake_dir / "raw").rglob("*")) if path.is_file()]
    assert [path for path in raw_files if named.search(file_bytes(path))]
    erase_account(settings, f"mastodonpy_test@{mastodon_server.domain}")
    erased = {record["data"]["content"] for record in _raw(settings) if ERASED_MENTION in record["data"]["content"]}
    assert len(erased) == 1

    added = mastodon_server.add_statuses(40, author="admin")
    mentioning = {s["id"]: s for s in added if "@<span>mastodonpy_test</span>" in s["content"]}
    assert mentioning
    assert run_collection(settings, public, progress=False).ok

    raw_files = [path for path in sorted((lake_dir / "raw").rglob("*")) if path.is_file()]
    assert not [path for path in raw_files if named.search(file_bytes(path))]
    landed_after = [record["data"] for record in _raw(settings) if record["data"]["id"] in mentioning]
    assert len(landed_after) == len(mentioning) and {data["content"] for data in landed_after} == erased
    assert all(data["mentions"] == [] and data["authored_length"] == authored_length(
        mentioning[data["id"]]["content"]) for data in landed_after)


def _raw(settings: Settings) -> list[dict[str, Any]]:
    lake = open_lake(settings.lake)
    return [record for path in raw_batch_files(lake, "statuses") for record in read_batch(lake, path)]
