"""How the collector's messages name an ``account:`` source while privacy is on: :func:`text_for_logs` rewrites an
error (fediscope's own, or an instance's answer it quotes) so that it names the source by the digest its log lines
name it by, and quotes no part of the handle that names the person."""

from __future__ import annotations

from fediscope.lake.state import source_for_logs, text_for_logs
from fediscope.privacy import PrivacyPolicy

POLICY = PrivacyPolicy(key=b"test-pseudonym-key-0123456789abcdef")


def said(text: str, source: str, instance: str | tuple[str, ...] | None = None) -> tuple[str, str]:
    """``text`` as said for ``source`` (collected from ``instance``), and the digest the source is named by."""
    named = source_for_logs(source, POLICY)
    return text_for_logs(text, source, named, instance), named.partition(":")[2]


def test_the_local_part_of_a_handle_written_alone_is_hidden() -> None:
    """Was: ``user alice not found`` (an instance's error quoting the account's local part) stayed as it was, though
    the source and its whole handle were named by the digest."""
    text, digest = said("example.org: HTTP 404 (user Alice not found; try acct=alice or /@alice)",
                        "account:alice@example.org")
    assert text == f"example.org: HTTP 404 (user {digest} not found; try acct={digest} or /@{digest})"
    text, digest = said("account:alice@example.org: alice@example.org is alice", "account_lookup:alice@example.org")
    assert text == f"account:{digest}: {digest} is {digest}"


def test_the_local_part_is_hidden_only_where_it_stands_alone() -> None:
    """Not inside a longer word or name, nor as another account's handle (``alice@other.org``)."""
    text, digest = said("alice: malice, alice_b, alice-b, alice.org and alice@other.org", "account:alice@example.org")
    assert text == f"{digest}: malice, alice_b, alice-b, alice.org and alice@other.org"


def test_a_local_part_is_hidden_from_three_characters_on() -> None:
    """A local part of one or two characters is too often a word (``on``, ``id``), so it is left where written
    alone, as a status's plain text leaves a bare name of one or two letters; the whole handle is still hidden."""
    text, digest = said("no account id on example.org for id@example.org", "account:id@example.org")
    assert text == f"no account id on example.org for {digest}"
    text, digest = said("user bob is not on example.org", "account:bob@example.org")
    assert text == f"user {digest} is not on example.org"


def test_a_handle_without_a_domain_is_hidden_as_written_with_its_instances_domain() -> None:
    """Was: for ``account:alice`` collected from mastodon.social, ``alice`` and ``@alice`` were hidden but
    ``alice@mastodon.social`` (the same account, written with the domain of the instance it is collected from) was
    left as it was: followed by ``@`` and a domain, it was read as another account's handle."""
    text, digest = said("account alice was not found; see alice@mastodon.social and @alice", "account:alice",
                        "mastodon.social")
    assert text == f"account {digest} was not found; see {digest} and @{digest}"
    # in any case, with a leading @, percent-encoded (also its @), in a URL
    text, digest = said("@Alice@Mastodon.Social: acct=alice%40mastodon.social, acct=%40alice%40MASTODON.social, "
                        "https://mastodon.social/@alice@mastodon.social", "account:alice", "mastodon.social")
    assert text == (f"@{digest}: acct={digest}, acct=%40{digest}, https://mastodon.social/@{digest}")
    # another domain's alice is someone else, and so is every alice@… when the instance is not known, as before
    text, digest = said("alice@mastodon.social, alice@other.org, alice@mastodon.social.evil.org, "
                        "malice@mastodon.social", "account:alice", "mastodon.social")
    assert text == f"{digest}, alice@other.org, alice@mastodon.social.evil.org, malice@mastodon.social"
    text, digest = said("alice@mastodon.social and alice", "account:alice")
    assert text == f"alice@mastodon.social and {digest}"


def test_a_handle_without_a_domain_is_hidden_with_its_instances_handle_domain_too() -> None:
    """An instance served from social.example.test whose handles are ``@user@example.test``: both domains name the
    instance's own accounts."""
    text, digest = said("alice@example.test is alice@social.example.test, not alice@example.org", "account:alice",
                        ("social.example.test", "example.test"))
    assert text == f"{digest} is {digest}, not alice@example.org"


def test_a_handle_with_its_instances_domain_is_hidden_when_mentioned_by_its_local_part() -> None:
    """The mirror case: ``account:alice@mastodon.social`` collected from mastodon.social. ``alice`` and ``@alice``
    were hidden already (a local part of three characters or more); a short one mentioned (``@id``, ``%40id``) is
    that account on its own instance, hidden now, while ``id`` alone stays a word. On another instance, as before."""
    text, digest = said("alice, @alice, alice@mastodon.social, alice@other.org", "account:alice@mastodon.social",
                        "mastodon.social")
    assert text == f"{digest}, @{digest}, {digest}, alice@other.org"
    text, digest = said("no id for @id (acct=%40id), see /@id or @id@other.org", "account:id@Mastodon.Social",
                        "mastodon.social")
    assert text == f"no id for @{digest} (acct=%40{digest}), see /@{digest} or @id@other.org"
    text, digest = said("no id for @id", "account:id@mastodon.social", "other.social")
    assert text == "no id for @id"


def test_a_handle_after_a_percent_encoded_at_is_hidden() -> None:
    """Was: ``acct=%40alice%40example.org`` (a URL's query, its ``@`` encoded) was left as it was for
    ``account:alice@example.org``: the ``0`` of ``%40`` was read as a letter of a longer name."""
    text, digest = said("GET /api/v1/accounts/lookup?acct=%40alice%40example.org: user %40alice not found",
                        "account:alice@example.org")
    assert text == f"GET /api/v1/accounts/lookup?acct=%40{digest}: user %40{digest} not found"
    text, digest = said("acct=alice%40example.org:8443 or alice%40example.org%3A8443", "account:alice@example.org:8443")
    assert text == f"acct={digest} or {digest}"
