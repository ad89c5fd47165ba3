"""Counts in the human output take the singular for 1 (``1 raw file``, not ``1 raw files``): fediscope.wording."""

from __future__ import annotations

import pytest

from fediscope.wording import count, quoted, some_of


@pytest.mark.parametrize("n, noun, said", [
    (0, "row", "0 rows"), (1, "row", "1 row"), (2, "row", "2 rows"),
    (1, "raw file", "1 raw file"), (4, "raw file", "4 raw files"),
    (1, "status", "1 status"), (82, "status", "82 statuses"),
    (3, "batch", "3 batches"), (2, "directory", "2 directories"), (7, "day", "7 days"),
])
def test_count_says_the_noun_in_the_plural_unless_there_is_one(n: int, noun: str, said: str) -> None:
    assert count(n, noun) == said


def test_an_irregular_plural_is_given_and_thousands_can_be_separated() -> None:
    assert (count(1, "analysis", "analyses"), count(3, "analysis", "analyses")) == ("1 analysis", "3 analyses")
    assert (count(12345, "row", thousands=True), count(1, "row", thousands=True)) == ("12,345 rows", "1 row")


@pytest.mark.parametrize("items, said", [([], ""), (["a"], "a"), (list("abcde"), "a, b, c, d, e"),
                                             (list("abcdefg"), "a, b, c, d, e and 2 more")])
def test_some_of_names_the_first_five_and_counts_the_rest(items: list[str], said: str) -> None:
    assert some_of(items) == said


def test_quoted_cuts_a_long_value_and_says_so() -> None:
    assert quoted("mastodon.social") == "'mastodon.social'"
    assert quoted("a" * 100) == repr("a" * 100)  # no ellipsis at the limit itself
    assert quoted("a" * 101) == repr("a" * 100) + "…"
    assert quoted("b" * 50, 40) == repr("b" * 40) + "…"
