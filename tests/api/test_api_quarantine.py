"""Malformed upstream data the API leaves out is quarantined in the lake as the collector quarantines it (same
functions, same layout, values withheld while privacy is on); a lake that cannot be written is a 503 JSON answer.

The upstream is the Mastodon double on 127.0.0.1 serving statuses cloned from the recordings in tests/data; a
status is damaged in the double's corpus itself, so the page carries exactly one malformed item.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_testing import PSEUDONYM_KEY, LiveApi, assert_error, make_settings

from fediscope.sources.quarantine import item_entry

PUBLIC = "/v1/timelines/public"


def _live(live_api: Callable[..., LiveApi], double: Any, lake: Path, **overrides: Any) -> LiveApi:
    return live_api(make_settings(instances=(double.url,), allow_private_addresses=True, lake=str(lake),
                                  **overrides))


def _one_malformed(double: Any) -> dict[str, Any]:
    """Publish three statuses (the newest page of 3) and take the account out of the middle one."""
    added = double.add_statuses(3)
    del added[1]["account"]
    return added[1]


def _quarantine_files(lake: Path) -> list[Path]:
    return sorted((lake / "quarantine").rglob("*.json"))


@pytest.mark.parametrize("privacy", [True, False])
def test_a_malformed_item_is_quarantined_in_the_lake(mastodon_server: Any, live_api: Callable[..., LiveApi],
                                                     tmp_path: Path, privacy: bool) -> None:
    lake = tmp_path / "lake"
    live = _live(live_api, mastodon_server, lake, privacy=privacy)
    damaged = _one_malformed(mastodon_server)
    response = live.get(PUBLIC, params={"instance": mastodon_server.domain, "limit": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2 and body["quarantined"] == 1  # still counted; the two good ones answered
    assert damaged["id"] not in {r["data"]["id"] for r in body["records"]}

    files = _quarantine_files(lake)
    assert len(files) == 1
    path = files[0].relative_to(lake)
    assert path.parts[:2] == ("quarantine", f"instance={mastodon_server.domain}")
    assert path.parts[2].startswith("dt=") and path.name.startswith("api_v1_timelines_public-api-")
    document = json.loads(files[0].read_text())
    assert document["instance"] == mastodon_server.domain and document["endpoint"] == "/api/v1/timelines/public"
    # what the collector writes for the same item (collector.py uses the same item_entry)
    assert document["entries"] == [item_entry("status has no account", damaged, keep_raw=not privacy)]
    entry = document["entries"][0]
    assert entry["reason"] == "status has no account" and entry["shape"]["id"] == "str"
    if privacy:
        assert "item" not in entry
        text = files[0].read_text()
        for value in (damaged["id"], damaged["uri"], damaged["created_at"]):
            assert value not in text  # shape and fingerprint only, no values
    else:
        assert entry["item"] == damaged

    # the same malformed data asked for again overwrites that day's file instead of adding one per request
    assert live.get(PUBLIC, params={"instance": mastodon_server.domain, "limit": 3}).json()["quarantined"] == 1
    assert _quarantine_files(lake) == files


def test_a_malformed_body_is_quarantined_and_still_502(mastodon_server: Any, live_api: Callable[..., LiveApi],
                                                       tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    live = _live(live_api, mastodon_server, lake)
    mastodon_server.malformed(how="not_json", path="/api/v1/timelines/public")
    assert_error(live.get(PUBLIC, params={"instance": mastodon_server.domain}), 502, "upstream_malformed")
    files = _quarantine_files(lake)
    assert len(files) == 1 and files[0].name.startswith("api_v1_timelines_public-api-")
    [entry] = json.loads(files[0].read_text())["entries"]
    assert entry["kind"] == "body" and entry["status"] == 200 and entry["content_type"].startswith("text/html")
    assert "not JSON" in entry["reason"] and "body" not in entry  # privacy on: no body kept


def test_a_lake_that_cannot_be_written_is_503_and_the_items_are_quarantined_on_retry(
        mastodon_server: Any, live_api: Callable[..., LiveApi], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "quarantine").write_text("not a directory")  # the suppression list stays readable; writes fail
    live = _live(live_api, mastodon_server, lake)
    damaged = _one_malformed(mastodon_server)
    params = {"instance": mastodon_server.domain, "limit": 3}
    with caplog.at_level(logging.WARNING, logger="api.upstream"):
        response = live.get(PUBLIC, params=params)
    error = assert_error(response, 503, "lake_unavailable")
    assert "quarantine" in error["message"] and "FEDISCOPE_LAKE" in error["message"]
    assert "records" not in response.text
    warnings = [r.getMessage() for r in caplog.records if r.name == "api.upstream"]
    assert any("could not be quarantined" in m and "status has no account" in m for m in warnings), warnings
    for message in warnings:
        assert damaged["id"] not in message and PSEUDONYM_KEY not in message

    (lake / "quarantine").unlink()  # the lake is back: the client's retry gets the page, the item is quarantined
    response = live.get(PUBLIC, params=params)
    assert response.status_code == 200 and response.json()["quarantined"] == 1
    assert len(_quarantine_files(lake)) == 1


def test_a_malformed_body_the_lake_cannot_keep_is_503(mastodon_server: Any, live_api: Callable[..., LiveApi],
                                                      tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "quarantine").write_text("not a directory")
    live = _live(live_api, mastodon_server, lake)
    mastodon_server.malformed(how="wrong_shape", path="/api/v1/timelines/public")
    error = assert_error(live.get(PUBLIC, params={"instance": mastodon_server.domain}), 503, "lake_unavailable")
    assert "not what the Mastodon API documents" in error["message"]


def test_with_privacy_off_a_malformed_item_keeps_nothing_of_an_erased_account(
        mastodon_server: Any, live_api: Callable[..., LiveApi], tmp_path: Path) -> None:
    """The path the NiFi flows take: a malformed item the API quarantines with privacy off, another person's status
    that mentions an erased account, is kept as the collector keeps it (``PrivacyPolicy.quarantine_scrub``): the
    mention and the handle and profile link in its text ``[erased]``, its reason and shape those of the item as sent."""
    from fediscope.erased_mentions import ERASED
    from fediscope.gdpr.suppression import add_suppressed
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import clear_key_digest, policy_from_settings
    from fediscope.sources.quarantine import shape

    lake = tmp_path / "lake"
    settings = make_settings(instances=(mastodon_server.url,), allow_private_addresses=True, lake=str(lake),
                             privacy=False)
    erased = "mastodonpy_test"  # the account the recorded statuses of admin mention
    # as `gdpr erase` lists it with privacy off: the digest of its clear key
    add_suppressed(open_lake(settings.lake),
                   clear_key_digest(policy_from_settings(settings).account_key(erased, mastodon_server.domain)))
    live = live_api(settings)
    mentioning = next(s for s in mastodon_server.add_statuses(22, author="admin")
                      if any(m["acct"] == erased for m in s.get("mentions") or []))
    sent = {k: v for k, v in mentioning.items() if k != "account"}
    del mentioning["account"]  # malformed, as in _one_malformed
    response = live.get(PUBLIC, params={"instance": mastodon_server.domain, "limit": 40})
    assert response.status_code == 200 and response.json()["quarantined"] == 1, response.text

    (file,) = _quarantine_files(lake)
    (entry,) = json.loads(file.read_text())["entries"]
    assert entry["reason"] == "status has no account" and entry["shape"] == shape(sent)
    assert erased not in json.dumps(entry["item"]) and ERASED in entry["item"]["content"]
    assert entry["item"]["mentions"][0]["acct"] == ERASED and entry["item"]["id"] == sent["id"]
