"""How the collector's messages name an ``account:`` source while privacy is on: :func:`text_for_logs` rewrites an
error (fediscope's own, or an instance's answer it quotes) so that it names the source by the digest its log lines
name it by, and quotes no part of the handle that names the person."""

from __future__ import annotations

from fediscope.lake.state import source_for_logs, text_for_logs
from fediscope.privacy import PrivacyPolicy

POLICY = PrivacyPolicy(key=b"test-pseudonym-key-0123456789abcdef")


def said(text: str, source: str) -> tuple[str, str]:
    """``text`` as said for ``source``, and the digest the source is named by."""
    named = source_for_logs(source, POLICY)
    return text_for_logs(text, source, named), named.partition(":")[2]


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
