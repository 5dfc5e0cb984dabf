"""Ring bands from two levels' outlines (lifecircle.isochrones.coverage), by hand: the edges
the levels share dropped, pinches linked into valid rings. GEOS's difference of the two
levels is the oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely

from lifecircle.isochrones.coverage import ring_band
from lifecircle.isochrones.rings import _polygons, signed_area2


def _band(level: list[list[tuple[int, int]]], below: list[list[tuple[int, int]]]
          ) -> shapely.Geometry:
    q = np.array([v for r in level for v in r], dtype=np.int32)
    p = np.array([v for r in below for v in r], dtype=np.int32).reshape(-1, 2)
    sizes = np.array([len(r) for r in level])
    p_sizes = np.array([len(r) for r in below], dtype=np.int64)
    bq, bs = ring_band(q, sizes, p, p_sizes)
    # SNAP units with a cell of SNAP: the integers are the coordinates
    return _polygons(bq, bs, signed_area2(bq, bs) < 0, np.zeros(2), 1024.0)


def _expected(level, below):
    return shapely.difference(shapely.MultiPolygon([shapely.Polygon(r) for r in level]),
                              shapely.MultiPolygon([shapely.Polygon(r) for r in below]))


SQUARE = [(0, 0), (2, 0), (4, 0), (4, 4), (2, 4), (0, 4), (0, 2)]


@pytest.mark.parametrize(("below", "parts", "holes"), [
    # the same ring: the band is empty
    ([SQUARE], 0, 0),
    # a corner square sharing two edges: an L, the shared edges gone
    ([[(0, 0), (2, 0), (2, 2), (0, 2)]], 1, 0),
    # a diamond touching the square's bottom at (2, 0): a shell and a hole touching there
    # (the ring through (2, 0) twice is cut in two)
    ([[(2, 0), (3, 1), (2, 2), (1, 1)]], 1, 1),
    # a diamond touching bottom and top: two shells touching at two points (each wedge
    # closed on its own side)
    ([[(2, 0), (3, 2), (2, 4), (1, 2)]], 2, 0),
    # an island inside: a hole
    ([[(1, 1), (3, 1), (3, 3), (1, 3)]], 1, 1),
])
def test_ring_band_by_hand(below, parts, holes):
    got = _band([SQUARE], below)
    expect = _expected([SQUARE], below)
    assert shapely.is_valid(got), shapely.is_valid_reason(got)
    assert got.area == pytest.approx(expect.area) and got.area == 16 - below_area(below)
    assert shapely.symmetric_difference(got, expect).area == 0.0
    assert len(got.geoms) == parts
    assert sum(len(g.interiors) for g in got.geoms) == holes
    # no vertex but the levels' own, and none of the edges the levels share
    edges = set()
    for poly in got.geoms:
        for ring in [poly.exterior, *poly.interiors]:
            c = [tuple(map(int, v)) for v in ring.coords]
            edges |= {frozenset(e) for e in itertools.pairwise(c)}
    shared = {frozenset(e) for e in zip(SQUARE, SQUARE[1:] + SQUARE[:1], strict=True)} & {
        frozenset(e) for r in below for e in zip(r, r[1:] + r[:1], strict=True)}
    assert not edges & shared


def below_area(below):
    return sum(shapely.Polygon(r).area for r in below)


def test_empty_level_below_gives_the_level():
    q = np.array(SQUARE, dtype=np.int32)
    out_q, out_s = ring_band(q, np.array([7]), np.zeros((0, 2), np.int32),
                             np.zeros(0, np.int64))
    assert out_q is q and list(out_s) == [7]
