"""With privacy off, the erased account named in other people's words: in a status that has no mention of it (a profile
link written in the text, a handle Mastodon did not resolve, a quoted line), and in a link preview (``card``).

Was: ``gdpr erase`` rewrote such a status's texts (:mod:`fediscope.gdpr.mentions` looks at every status), but landing
after the erasure rewrote only a status that mentions, quotes or names the account as a card's author, so every later
fetch of the others landed its name and profile link again, as collected; and a link preview kept whatever its title,
description or byline said of it (the erasure replaced only ``name@domain`` written in its own case), and, for a
preview of the account's own profile or status, its display name, bio and address. The REAL recorded statuses of the
recorded server (admin's post, the recorded card), the subject's name written in them in the shapes people and
servers write it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import LOCAL, SUBJECT, lake_settings, recorded
from test_gdpr_erase_mentions import LINK, NAME, PROFILE, land, land_again, raw_statuses, well_formed

from fediscope.engine.visible_text import authored_length
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.subject import ERASED

#: One of the subject's REAL recorded statuses, as its link reads.
STATUS_LINK = f"{PROFILE}/117020583245459824"
#: Other people's names beside the subject's, which stay: admin's REAL mentioned account (a name the subject's begins
#: with), its profile link, and the subject's bare ``@name``, which names nobody without a mention.
OTHERS = "@mastodonpy_test@localhost:3000 http://localhost:3000/@mastodonpy_test"
BARE = f"@{NAME}"

#: Where (the status's field, or ``card.<field>``) and how the subject is named, mentioned nowhere.
WRITTEN = {
    "profile-link-as-mastodon-renders-it": ("content", LINK),
    "profile-link-as-text": ("content", f"{PROFILE}’s post"),
    "unresolved-handle": ("content", f"@{NAME}@{LOCAL}"),
    "handle-in-another-case": ("content", "@MastodonPy_Test_2@LocalHost:3000"),
    "handle-without-at": ("content", f"cc {NAME}@{LOCAL}"),
    "quoted-by-its-status-link": ("content", f"RE: {STATUS_LINK}"),
    "actor-link": ("content", f"http://localhost:3000/users/{NAME}"),
    "percent-encoded-at": ("content", f"http://localhost:3000/%40{NAME}"),
    "seen-from-another-server": ("content", f"https://mastodon.social/@{NAME}@{LOCAL}"),
    "in-the-content-warning": ("spoiler_text", f"about {PROFILE}"),
    "in-a-poll-option": ("poll", f"@{NAME}@{LOCAL}"),
    "link-preview-title-in-another-case": ("card.title", f"A post by @MastodonPy_Test_2@{LOCAL}"),
    "link-preview-byline-off-the-fediverse": ("card.author_name", f"{NAME}@{LOCAL}"),
    "link-preview-description": ("card.description", f"written by {PROFILE}"),
}


def admins_post() -> dict[str, Any]:
    """A REAL recorded post of admin that mentions nobody."""
    return next(json.loads(json.dumps(s)) for _, s in recorded(("test_home_tl.json",), "statuses")
                if s["account"]["acct"] == "admin" and not s.get("mentions") and not s.get("reblog"))


def recorded_card() -> dict[str, Any]:
    """The REAL recorded link preview (of ``http://example.org/``)."""
    return next(json.loads(json.dumps(s["card"])) for _, s in recorded(("test_status_card.json",), "statuses")
                if s.get("card"))


def naming(where: str, text: str, n: int = 7) -> dict[str, Any]:
    """Admin's post (another id and URI) with ``text`` written in ``where``, beside :data:`OTHERS`."""
    status = admins_post()
    status.update(id=f"{status['id']}{n}", uri=f"{status['uri']}-{n}", url=None)
    words = f"{text} {OTHERS} {BARE}"
    if where == "content":
        status["content"] = f"<p>{words}</p>"
    elif where == "spoiler_text":
        status["spoiler_text"] = words
    elif where == "poll":
        status["poll"] = {"id": "1", "expired": False, "multiple": False, "votes_count": 0,
                          "options": [{"title": words, "votes_count": 0}, {"title": "no", "votes_count": 0}]}
    else:
        status["card"] = dict(recorded_card(), **{where.removeprefix("card."): words})
    return status


@pytest.mark.parametrize("shape", sorted(WRITTEN))
def test_with_privacy_off_the_erased_account_written_in_a_status_that_does_not_mention_it_stays_erased(
        tmp_path: Path, shape: str) -> None:
    """The erasure writes the subject's handle or link [erased] (the other names stay), and a fetch after the erasure
    lands the status as the erasure left it, byte for byte, its length as written included."""
    settings = lake_settings(tmp_path, privacy=False)
    status = naming(*WRITTEN[shape])
    land(settings, [status])
    assert NAME.lower() in json.dumps(raw_statuses(settings, status["id"])).lower()

    erase_account(settings, SUBJECT)
    (erased,) = raw_statuses(settings, status["id"])
    land_again(settings, [status])

    erased_again, landed_after = raw_statuses(settings, status["id"])
    assert landed_after == erased_again == erased
    landed = json.dumps(landed_after)
    assert ERASED in landed and NAME.lower() not in landed.replace(BARE, "").lower()
    assert OTHERS in landed and BARE in landed  # other people's names, and the bare name, as written
    assert well_formed(landed_after["content"])
    if WRITTEN[shape][0] == "content":
        assert landed_after["authored_length"] == authored_length(status["content"])


@pytest.mark.parametrize("page", [PROFILE, STATUS_LINK, f"https://mastodon.social/@{NAME}@{LOCAL}"],
                         ids=["profile", "one-of-its-statuses", "profile-seen-from-another-server"])
def test_with_privacy_off_a_link_preview_of_the_erased_accounts_own_page_keeps_its_type_and_provider(
        tmp_path: Path, page: str) -> None:
    """A preview of the subject's profile (or one of its statuses) is its display name and handle (title), its bio or
    words (description) and its avatar (image): none of it is found by a search of its handle, so the erasure and a
    landing after it keep what privacy on keeps of any card. The status's own text, and another status's preview of
    another page, are left as they were."""
    settings = lake_settings(tmp_path, privacy=False)
    card = dict(recorded_card(), url=page, title=f"Someone (@{NAME}@{LOCAL})", description="my bio, in my words",
                image="http://localhost:3000/system/cache/preview_cards/images/000/000/001/original/avatar.png")
    status = dict(admins_post(), id=admins_post()["id"] + "8", uri=admins_post()["uri"] + "-8", card=card)
    other = dict(admins_post(), id=admins_post()["id"] + "9", uri=admins_post()["uri"] + "-9", card=recorded_card())
    land(settings, [status, other])

    erase_account(settings, SUBJECT)
    (erased,) = raw_statuses(settings, status["id"])
    land_again(settings, [status, other])

    erased_again, landed_after = raw_statuses(settings, status["id"])
    assert landed_after == erased_again == erased
    assert landed_after["card"] == {"type": card["type"], "provider_name": card["provider_name"]}
    assert landed_after["content"] == status["content"] and "authored_length" not in landed_after
    assert [landed["card"] for landed in raw_statuses(settings, other["id"])] == [recorded_card()] * 2
