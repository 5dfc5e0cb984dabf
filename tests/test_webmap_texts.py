"""The map's texts cleaned a chunk at a time are ``clean_text`` of each value, whatever the
values: clean and dirty texts (controls, line breaks, bidi overrides, over-long), missing
values, numbers, bytes, on either side of a chunk's edge."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.outputs._escape import MAX_TEXT_LEN, clean_text
from lifecircle.outputs.webmap import layers
from lifecircle.outputs.webmap.layers import CLEAN_CHUNK, clean_texts

DIRTY = ["tab\there", "two\nlines", "\u202eevil", "bell\x07", "x" * (MAX_TEXT_LEN + 5),
         "sep\u2028x", "del\x7f", " edge ", "\x85"]


def _oracle(values: list) -> list[str]:
    return [clean_text(v) for v in values]


def test_a_dirty_value_anywhere_is_cleaned():
    n = 3 * CLEAN_CHUNK + 7
    for at in (0, CLEAN_CHUNK - 1, CLEAN_CHUNK, 2 * CLEAN_CHUNK + 300, n - 1):
        for dirty in DIRTY:
            values = [f"b{k}" for k in range(n)]
            values[at] = dirty
            got = clean_texts(values)
            assert got == _oracle(values)
            if clean_text(dirty) != dirty:
                assert got[at] != dirty


def test_values_that_are_not_texts():
    values = [None, math.nan, 7, 2.5, b"caf\xc3\xa9", b"\xff", "ok", ""]
    assert clean_texts(values) == ["", "", "7", "2.5", "café", "\ufffd", "ok", ""]
    assert clean_texts([]) == []


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=8), st.none(), st.integers(),
                          st.sampled_from(DIRTY)), max_size=60),
       st.integers(1, 9))
def test_any_values_any_chunk(values, chunk):
    old = layers.CLEAN_CHUNK
    layers.CLEAN_CHUNK = chunk  # small chunks: many edges among few values
    try:
        assert clean_texts(values) == _oracle(values)
    finally:
        layers.CLEAN_CHUNK = old
