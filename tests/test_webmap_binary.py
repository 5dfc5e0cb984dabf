"""The compact encodings of the map's blocks (webmap/binary.py), read back independently."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from lifecircle.outputs.webmap.binary import (
    QUANTUM_PER_DEGREE,
    outline_streams,
    outlines,
    text_column,
    typed_column,
    varints,
)
from tests.test_webmap import read_texts, read_typed, read_varints, unpack_blocks


def test_varints_by_hand():
    # 0 and 127 take a byte; 128 = 0b1_0000000 is [0x80, 0x01]; 300 = 0b10_0101100 is
    # [0xAC, 0x02]; 2**35 needs six bytes (5 x 7 = 35 bits, then a 1)
    data = varints(np.array([0, 127, 128, 300, 2**35], dtype=np.uint64))
    assert data == bytes([0, 127, 0x80, 0x01, 0xAC, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
    assert varints(np.array([], dtype=np.uint64)) == b""


@given(st.lists(st.integers(min_value=0, max_value=2**53), max_size=200))
def test_varints_round_trip(values):
    encoded = base64.b64encode(varints(np.array(values, dtype=np.uint64))).decode()
    assert read_varints(encoded) == values


def test_typed_column_nulls_and_range():
    col = typed_column(np.array([[0, 12.4], [np.nan, 65534]]), "u16", 2)
    assert read_typed(col, 2) == [[0, 12], [None, 65534]]
    flags = typed_column(np.array([255, 0]), "u8", nullable=False)
    assert read_typed(flags, 2) == [[255], [0]]  # no sentinel: 255 is a value
    assert [typed_column(np.array(v), "auto")["t"] for v in ([254.0], [255.0], [np.nan, 7e4])] \
        == ["u8", "u16", "u32"]
    assert typed_column(np.array([255.0]), "auto", nullable=False)["t"] == "u8"
    with pytest.raises(ValueError, match=r"0\.\.65534"):
        typed_column(np.array([65535.0]), "u16")
    with pytest.raises(ValueError, match=r"0\.\.255"):
        typed_column(np.array([-1.0]), "u8", nullable=False)


def test_outlines_round_trip_with_holes_and_parts():
    """A holed polygon and a two-part block come back within half a quantum, ring by ring."""
    holed = Polygon([(118.1, 32.1), (118.2, 32.1), (118.2, 32.2), (118.1, 32.2)],
                    [[(118.12, 32.12), (118.13, 32.12), (118.13, 32.13)]])
    two = MultiPolygon([Polygon([(-0.5, 51.5), (-0.49, 51.5), (-0.5, 51.51)]), holed])
    geoms = np.array([holed, two])
    streams = outline_streams(geoms)
    assert streams["q"] == QUANTUM_PER_DEGREE
    # block 0: 2 rings of 4 and 3 vertices; block 1: 3 rings of 3, 4 and 3 vertices
    assert read_varints(streams["rings"]) == [2, 4, 3, 3, 3, 4, 3]
    n = len(geoms)
    empty = {k: typed_column(np.zeros((n, 1)), "u8") for k in ("b", "l", "s", "p", "f")}
    packed = {"n": n, **streams, "id": ["a", "b"], "m": typed_column(np.zeros((n, 1)), "u16"),
              **empty}
    fc = unpack_blocks(packed)
    tol = 0.5 / QUANTUM_PER_DEGREE + 1e-12
    for geom, feature in zip(geoms, fc["features"], strict=True):
        expected = [np.asarray(r.coords) for p in getattr(geom, "geoms", [geom])
                    for r in [p.exterior, *p.interiors]]
        got = [np.asarray(r) for r in feature["geometry"]["coordinates"]]
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert a.shape == b.shape and np.abs(a - b).max() <= tol


def _random_blocks(seed: int, n: int, origin: tuple[float, float], spread: float,
                   unit: float) -> list:
    """``n`` boxes of 2 x 1 ``unit`` placed at random within ``spread`` of ``origin``; every
    third (from the second) with a hole, every fourth (from the third) with a second part."""
    rng = np.random.default_rng(seed)
    blocks = []
    for i in range(n):
        x, y = origin[0] + rng.uniform(0, spread), origin[1] + rng.uniform(0, spread)
        block = shapely.box(x, y, x + 2 * unit, y + unit)
        if i % 3 == 1:
            block = block.difference(shapely.box(x + unit / 2, y + unit / 5, x + unit,
                                                 y + 3 * unit / 5))
        if i % 4 == 2:
            block = MultiPolygon([block, shapely.box(x + 3 * unit, y, x + 4 * unit, y + unit)])
        blocks.append(block)
    return blocks


def test_outlines_made_in_chunks_are_the_streams_of_one_pass():
    """The steps carry across chunk edges: a chunk of one, of three and of all the blocks
    write the same bytes (random holed and multi-part blocks)."""
    geoms = np.array(_random_blocks(7, 11, (118.0, 32.0), 0.1, 0.001), dtype=object)
    whole = outline_streams(geoms, chunk=len(geoms))
    assert len(read_varints(whole["rings"])) > len(geoms)
    for chunk in (1, 3):
        assert outline_streams(geoms, chunk=chunk) == whole


def test_outlines_moved_as_read_are_those_of_moved_geometries():
    """Blocks in UTM whose coordinates the map's rounding to degrees moves as the streams read
    them give the bytes of the blocks moved first (``shapely.transform``), and the bounds of
    those moved blocks; ring counts too for holes, parts and an empty block."""
    from pyproj import Transformer

    to_deg = Transformer.from_crs(32650, 4326, always_xy=True)

    def web(xy: np.ndarray) -> np.ndarray:
        return np.round(np.array(to_deg.transform(xy[:, 0], xy[:, 1])).T, 6)

    geoms = _random_blocks(11, 13, (660_000, 3_550_000), 5000, 100)
    geoms.insert(5, Polygon())
    geoms = np.array(geoms, dtype=object)
    moved = shapely.transform(geoms, web)
    for chunk in (1, 4, len(geoms)):
        streams, box = outlines(geoms, chunk=chunk, web=web)
        assert streams == outline_streams(moved)
        assert box.tolist() == shapely.total_bounds(moved).tolist()
    assert read_varints(outline_streams(moved)["rings"])[:2] == [1, 4]
    assert np.isnan(outlines(np.array([Polygon()]))[1]).all()


def test_first_step_is_absolute_and_later_steps_small():
    square = shapely.box(118.0, 32.0, 118.001, 32.001)
    steps = read_varints(outline_streams(np.array([square, square]))["xy"])
    signed = [s // 2 if s % 2 == 0 else -(s + 1) // 2 for s in steps]
    first = np.asarray(square.exterior.coords[0]) * QUANTUM_PER_DEGREE
    assert signed[:2] == [round(first[0]), round(first[1])]
    # every later step is at most the square's side, 0.001 degree
    assert max(abs(s) for s in signed[2:]) <= 0.001 * QUANTUM_PER_DEGREE


@pytest.mark.parametrize(("ids", "prefixes"), [
    (["b1", "b2", "b10", "b3"], ["b"]),
    (["7", "0", "123456789012345"], [""]),
    (["街区12", "街区13"], ["街区"]),
    (["B0001", "B0002"], ["B000"]),  # the zeros are part of the prefix
    (["B0009", "B0010"], ["B00", "B000"]),
    (["node/42", "way/7", "node/9000000000"], ["node/", "way/"]),
    (["b1", "b"], None),  # a text without a number stays a list
    ([], None),
])
def test_numbered_ids(ids, prefixes):
    column = text_column(ids)
    assert read_texts(column) == ids
    if prefixes is None:
        assert column == ids
        return
    assert column["pre"] == prefixes and ("k" in column) == (len(prefixes) > 1)
    assert len(column["num"]) < sum(map(len, ids))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789b/街\n\x00", max_size=20), min_size=1, max_size=30)
       | st.lists(st.from_regex(r"[a-z/]{0,3}(0|[1-9][0-9]{0,17})", fullmatch=True), min_size=1,
                  max_size=30))
def test_ids_split_by_arrow_as_by_python(values):
    """Arrow's regular expressions split ids as Python's ``re`` does (the prefix, the longest
    number of at most 15 digits to the end, a line break at the end included), or both
    refuse."""
    from lifecircle.outputs.webmap.binary import _split_numbered, _split_python

    got, want = _split_numbered(values), _split_python(values)
    if want is None:
        assert got is None
        return
    assert got is not None and got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
