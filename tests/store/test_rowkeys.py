"""Row-key encodings: byte order must equal value order, and no encoding may be a prefix of another."""

from __future__ import annotations

import itertools
import random

import pytest

from fediscope.errors import StoreError
from fediscope.store.rowkeys import encode, encode_key, encode_rank, longest_row_key, row_key_length

INTS = [-(2**63), -(2**40), -1000, -1, 0, 1, 2, 255, 256, 10**9, 2**53 + 1, 2**63 - 1]
FLOATS = [float("-inf"), -1e300, -2.5, -1.0, -1e-300, -5e-324, 0.0, 5e-324, 1e-300, 0.1, 0.30000000000000004,
          1.0, 2.5, 1e300, float("inf")]
STRS = ["", "\x00", "\x00\x00", "a", "a\x00", "a\x00b", "a\x01", "a b", "ab", "b", "Z", "ß", "é", "日本", "\U0001f418",
        "\xff", "a\xff"]


@pytest.mark.parametrize(("values", "type_"), [(INTS, "int"), (FLOATS, "float"), (STRS, "str"),
                                               ([False, True], "bool")])
def test_byte_order_is_value_order(values, type_):
    shuffled = random.Random(1).sample(values, len(values))
    assert sorted(shuffled, key=lambda v: encode(v, type_)) == sorted(values)


@pytest.mark.parametrize(("values", "type_"), [(INTS, "int"), (FLOATS, "float"), (STRS, "str")])
def test_no_encoding_is_a_prefix_of_another(values, type_):
    for a, b in itertools.permutations(values, 2):
        assert not encode(b, type_).startswith(encode(a, type_)), (a, b)


def test_composite_keys_sort_component_by_component():
    keys = [(s, i) for s in ["a", "a\x00", "ab", "b"] for i in [-3, 0, 7]]
    shuffled = random.Random(2).sample(keys, len(keys))
    assert sorted(shuffled, key=lambda k: encode_key(k, ["str", "int"])) == sorted(keys)


def test_rank_keys_descending_nulls_last_ties_by_key():
    rows = [("b", 5), ("a", 5), ("c", None), ("d", 9), ("e", -1), ("f", None)]

    def rank_key(row, desc):
        return encode_rank(row[1], "int", desc) + encode_key([row[0]], ["str"])

    assert [r[0] for r in sorted(rows, key=lambda r: rank_key(r, True))] == ["d", "a", "b", "e", "c", "f"]
    assert [r[0] for r in sorted(rows, key=lambda r: rank_key(r, False))] == ["e", "a", "b", "d", "c", "f"]


def test_descending_text_ranks_reverse_the_order():
    names = ["a", "ab", "a\x00", "b", ""]
    assert sorted(names, key=lambda n: encode_rank(n, "str", True)) == sorted(names, reverse=True)


def test_minus_zero_is_zero_and_limits_are_checked():
    assert encode(-0.0, "float") == encode(0.0, "float")
    with pytest.raises(StoreError, match="64-bit"):
        encode(2**63, "int")
    with pytest.raises(StoreError, match="NULL"):
        encode(None, "int")


def test_row_key_lengths_are_those_of_the_encoded_keys_and_bounded_by_the_longest():
    """The lengths the row-key limit is checked with are the encodings' own: a data row's key, a rank entry's (the
    rank value, NULL or inverted, then the key); and no value of at most 255 characters makes a longer one than
    ``longest_row_key`` says (the worst text: four-byte characters; an escaped NUL takes two)."""
    types = ["str", "int", "float", "bool", "str"]
    worst = ["\U0001f418" * 255, -1, 2.5, True, "\U0001f418" * 255]
    for key in (worst, ["a\x00b", 2**62, -0.0, False, ""], ["\x00" * 255, 0, 0.0, True, "é"]):
        data = encode_key(key, types)
        assert row_key_length(key, types) == len(data)
        for rank, rank_type in (("\U0001f418" * 255, "str"), (None, "str"), (7, "int")):
            entry = encode_rank(rank, rank_type, descending=True) + data
            assert row_key_length(key, types, rank, rank_type) == len(entry)
    assert row_key_length(worst, types) == longest_row_key(types, None, 255) == 2 * 1022 + 8 + 8 + 1
    assert row_key_length(worst, types, "\U0001f418" * 255, "str") == longest_row_key(types, "str", 255)
    assert row_key_length(["\x00" * 255], ["str"]) == 512 < longest_row_key(["str"], None, 255)
    assert row_key_length([None, 1], ["str", "int"]) == 8  # a NULL key value, refused as such, counts as nothing
