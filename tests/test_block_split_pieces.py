"""The splits' shortcuts give what the full work gives: a cut parent keeps its neighbour's
vertices on their shared edge, corner neighbours are not asked for a shared edge, the
islands' candidate shells come from a grid of the points, the shells' bounds from one pass
over their vertices."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lifecircle.sources import planar
from lifecircle.sources._planar_kernels import _ring_box
from lifecircle.sources.block_split import line_pieces, merge_small


def test_line_pieces_keep_a_neighbours_vertex_on_the_shared_edge():
    # the second parent is cut; the first, which no line meets, has a vertex on their shared
    # edge: the cut parent's piece keeps it, and the first comes back whole
    first = shapely.Polygon([(0, 0), (1, 0), (1, 0.5), (1, 1), (0, 1)])
    parents = np.array([first, shapely.box(1, 0, 2, 1)])
    lines = np.array([shapely.LineString([(1.5, -1), (1.5, 2)])])
    pieces, parent = line_pieces(parents, lines)
    assert sorted(parent.tolist()) == [0, 1, 1]
    assert shapely.equals(pieces[parent == 0][0], first)
    left = next(p for p in pieces[parent == 1] if shapely.bounds(p)[0] == 1.0)
    assert [1.0, 0.5] in shapely.get_coordinates(left).tolist()
    assert sorted(shapely.area(pieces[parent == 1]).tolist()) == [0.5, 0.5]


def test_a_corner_neighbour_is_no_merge_partner():
    small = shapely.box(0, 0, 1, 1)
    corner = shapely.box(1, 1, 3, 3)  # touches it at one point only
    side = shapely.box(1, 0, 3, 1)  # shares its 1 m right edge
    thin = shapely.box(-2, 0.996, 0, 3)  # shares 4 mm of its left edge: below 0.01 m
    pieces = np.array([small, corner, side, thin])
    out, parent, into = merge_small(pieces, np.zeros(4, dtype=np.int64),
                                    np.array([True, False, False, False]))
    assert into.tolist() == [0, 1, 0, 2]
    assert shapely.area(out).tolist() == [3.0, 4.0, 2.0 * 2.004]
    assert shapely.equals(out[0], shapely.box(0, 0, 3, 1))
    assert parent.tolist() == [0, 0, 0]


def test_ring_bounds_are_the_least_and_greatest_vertex():
    xy = np.array([[0.0, 0.0], [4.0, -1.0], [5.0, 3.0], [-2.0, 7.0], [1.0, 1.0]])
    ring_nodes = np.array([0, 1, 2, 3, 4, 2, 1, 0, 4])
    ring_ptr = np.array([0, 4, 7, 9])
    rings = np.array([2, 0, 1])
    expect_lo = [[0.0, 0.0], [-2.0, -1.0], [1.0, -1.0]]
    expect_hi = [[1.0, 1.0], [5.0, 7.0], [5.0, 3.0]]
    for fn in (_ring_box, planar._ring_bounds):  # as written and compiled
        lo, hi = fn(xy, ring_nodes, ring_ptr, rings)
        assert lo.tolist() == expect_lo
        assert hi.tolist() == expect_hi


@pytest.mark.parametrize("per_box", [20, 0])  # 0: every call by the grid of the points
def test_points_in_boxes_are_every_pair_and_no_other(monkeypatch, per_box):
    monkeypatch.setattr(planar, "_IN_BOXES_PAIRS", per_box)
    rnd = np.random.default_rng(5)
    pts = np.round(rnd.uniform(0, 100, (300, 2)))  # on whole metres: points on box edges
    lo = np.round(rnd.uniform(0, 90, (200, 2)))
    hi = lo + np.round(rnd.uniform(0, 15, (200, 2)))
    p_i, b_i = planar._in_boxes(pts, lo, hi)
    inside = ((pts[:, None, :] >= lo[None]) & (pts[:, None, :] <= hi[None])).all(axis=2)
    assert sorted(zip(p_i.tolist(), b_i.tolist(), strict=True)) == [
        tuple(p) for p in np.argwhere(inside).tolist()]
