"""An access answer a person can read, and a request under a name the lake does not use said to be one."""

from __future__ import annotations

import json
from pathlib import Path

from gdpr_lake import LOCAL, SUBJECT

from fediscope.gdpr.export import export_account

USER = SUBJECT.split("@")[0]
#: The name a person gives who knows their handle, not the address fediscope collected their server from (the
#: sample instance serves `sample.social` from 127.0.0.1; a server at social.example.com may hand out @x@example.org)
HANDLE = f"{USER}@social.example.org"


def test_every_field_of_the_export_is_explained_in_it(landed) -> None:
    """Was: a document of pseudonyms, `urn:fediscope:` links and table names with nothing to say what they are."""
    document = export_account(landed.settings, SUBJECT)
    assert document["raw"]["records"]  # a real answer, not an empty one
    about = document["about"]
    assert set(document) == set(about)
    assert all(set(other) <= set(about) for other in document["also"])
    assert "fediscope gdpr register" in about["about"]  # purposes, legal basis, retention, recipients
    for relation in ("mentions", "replies_to", "quotes", "names"):
        assert f"{relation} =" in about["raw"]


def test_an_export_under_another_domain_than_the_collected_instance_says_where_to_ask(landed, run_cli,
                                                                                     tmp_path: Path) -> None:
    """Was: exit 0 and an empty answer, as if nothing were held, about an account the lake holds."""
    out = tmp_path / "answer.json"
    result = run_cli("gdpr", "export", "--account", HANDLE, "--out", str(out))
    assert result.code == 0 and not json.loads(out.read_text())["raw"]["records"]
    assert (f"warning: nothing is held under {HANDLE}, and social.example.org is not an instance this lake was "
            f"collected from ({LOCAL})") in result.err
    assert f"ask again as {USER}@{LOCAL}" in result.err

    held = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))
    assert held.code == 0 and "warning" not in held.err


def test_an_erasure_that_found_nothing_under_another_domain_says_where_to_ask(landed, run_cli) -> None:
    result = run_cli("gdpr", "erase", "--account", HANDLE, "--yes", "--json")
    report = json.loads(result.out)
    assert result.code == 0 and not report["raw"]
    assert any(f"ask again as {USER}@{LOCAL}" in w for w in report["warnings"])
    assert f"ask again as {USER}@{LOCAL}" in result.err

    erased = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert erased.code == 0 and "ask again" not in erased.err
    again = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")  # its own instance: nothing left, no hint
    assert again.code == 0 and "raw: nothing" in again.out and "ask again" not in again.err
