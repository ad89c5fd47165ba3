"""An access answer a person can read."""

from __future__ import annotations

from gdpr_lake import SUBJECT

from fediscope.gdpr.export import export_account


def test_every_field_of_the_export_is_explained_in_it(landed) -> None:
    """Was: a document of pseudonyms, `urn:fediscope:` links and table names with nothing to say what they are."""
    document = export_account(landed.settings, SUBJECT, metrics={})
    assert document["raw"]["records"]  # a real answer, not an empty one
    about = document["about"]
    assert set(document) == set(about)
    assert all(set(other) <= set(about) for other in document["also"])
    assert "fediscope gdpr register" in about["about"]  # purposes, legal basis, retention, recipients
    for relation in ("mentions", "replies_to", "quotes", "names"):
        assert f"{relation} =" in about["raw"]
