"""A handle of one or two letters (Mastodon allows them) is pseudonymised in the plain-text fields of a status too.

Mastodon links mentions in ``content`` (rewritten whole as links), but ``spoiler_text`` and ``text`` (the source
of a status, which delete-and-redraft answers carry) are plain text: there the handles are found by search. A
bare word is replaced only from three letters on (``al`` would garble ``also``), but ``@al`` is a handle
however short. The status is a REAL recorded reply (``test_status_reply.json``), its accounts renamed short.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fediscope.privacy import ERASED, PrivacyPolicy

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
LOCAL = "localhost:3000"  # the recorded server (see tests/data/README.md)
KEY = b"test-pseudonym-key-0123456789abcdef"


def recorded_reply() -> dict[str, Any]:
    """The recorded reply that mentions ``mastodonpy_test_2``, with the mentioned account renamed ``jo`` and the
    author ``al``; its plain-text fields name both by handle."""
    status = json.loads((RECORDINGS / "test_status_reply.json").read_text())["interactions"][2]["response"]["body"]
    status = copy.deepcopy(status)
    (mention,) = status["mentions"]
    assert mention["acct"] == "mastodonpy_test_2"
    status["content"] = status["content"].replace("mastodonpy_test_2", "jo")
    mention.update(username="jo", acct="jo", url=mention["url"].replace("mastodonpy_test_2", "jo"))
    author = status["account"]
    author.update(username="al", acct="al", url=author["url"].replace(author["username"], "al"))
    status["spoiler_text"] = "re @jo, also from @al"
    status["text"] = "@jo same! (@jo@localhost:3000 knows) ~al"
    return status


def test_short_handles_leave_no_trace_in_plain_text_fields() -> None:
    landed = PrivacyPolicy(key=KEY).status(recorded_reply(), LOCAL)
    assert landed is not None
    for name in ("spoiler_text", "text", "content"):
        assert "@jo" not in landed[name] and "@al" not in landed[name], (name, landed[name])
    jo, al = landed["mentions"][0]["acct"], landed["account"]["acct"]
    assert landed["spoiler_text"] == f"re @{jo}, also from @{al}"  # ordinary words stay as they are
    # a local handle written with its domain is the same account: replaced whole (was: ``@<key>@localhost:3000``,
    # the domain left behind); a bare 2-letter word is not taken for the handle
    assert landed["text"] == f"@{jo} same! (@{jo} knows) ~al"


def test_a_short_handle_of_an_erased_account_becomes_erased() -> None:
    probe = PrivacyPolicy(key=KEY)
    erased = probe.account_key("jo", LOCAL)
    landed = PrivacyPolicy(key=KEY, suppressed=frozenset({erased})).status(recorded_reply(), LOCAL)
    assert landed is not None and landed["mentions"] == []
    assert landed["spoiler_text"].startswith(f"re @{ERASED},") and "@jo" not in landed["text"]
