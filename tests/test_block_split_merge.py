"""A small piece merges into the neighbour GEOS's shared-outline lengths choose: the compiled
bounds settle most pieces without asking GEOS, and the choice is GEOS's whether they settle
or not (shared whole segments, a neighbour's vertex on the shared line, ties)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import shapely

from lifecircle.sources import block_split
from lifecircle.sources.block_split import _best_neighbour, _shared_bounds, merge_small
from lifecircle.sources.planar import faces


def _by_geos(pieces: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[int, int]:
    """The neighbour of each small piece by GEOS's lengths alone (the rule of merge_small)."""
    shared = block_split._shared_edge(pieces[a], pieces[b])
    best: dict[int, tuple[float, int]] = {}
    for i, j, s in zip(a.tolist(), b.tolist(), shared.tolist(), strict=True):
        if s > 0.01 and (i not in best or (-s, j) < (-best[i][0], best[i][1])):
            best[i] = (s, j)
    return {i: j for i, (_, j) in best.items()}


def _pairs(pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = shapely.STRtree(pieces).query(pieces)
    return a[a != b], b[a != b]


def test_bounds_by_hand() -> None:
    # a 1 x 1 square; right: a box sharing its whole right edge (one segment, same ends);
    # left: a box whose edge on x = 0 has a vertex at y = 0.5 (no segment alike, 1 m
    # collinear); top: touching at a corner only
    square = shapely.box(0, 0, 1, 1)
    right = shapely.box(1, 0, 2, 1)
    left = shapely.Polygon([(-1, 0), (0, 0), (0, 0.5), (0, 2), (-1, 2)])
    top = shapely.box(1, 1, 2, 2)
    pieces = np.array([square, right, left, top])
    lo, hi = _shared_bounds(pieces, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert lo.tolist() == [1.0, 0.0, 0.0]
    assert hi[0] == pytest.approx(1.0, abs=1e-4) and hi[0] >= 1.0
    assert hi[1] == pytest.approx(1.0, abs=1e-4) and hi[1] >= 1.0
    assert hi[2] == pytest.approx(0.0, abs=1e-4)  # the corner: a point, no length


def test_a_piece_with_a_clear_best_is_not_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    # faces of one arrangement: a 1 x 2 piece between a neighbour sharing its 2 m right edge
    # and one sharing 1 m of its left edge, whole segments each
    small = shapely.Polygon([(0, 0), (1, 0), (1, 1), (1, 2), (0, 2), (0, 1)])
    long = shapely.Polygon([(1, -1), (3, -1), (3, 3), (1, 3), (1, 2), (1, 1), (1, 0)])
    short = shapely.box(-1, 0, 0, 1)
    pieces = np.array([small, long, short])
    asked: list[int] = []
    real = block_split._shared_edge

    def spy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        asked.append(a.size)
        return real(a, b)

    monkeypatch.setattr(block_split, "_shared_edge", spy)
    a, b = _best_neighbour(pieces, np.array([0, 0]), np.array([2, 1]))
    assert (a.tolist(), b.tolist()) == ([0], [1])
    assert sum(asked) == 0
    # a tie (two 1 m neighbours) is GEOS's: the lower position wins
    pieces = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), short])
    a, b = _best_neighbour(pieces, np.array([0, 0]), np.array([2, 1]))
    assert (a.tolist(), b.tolist()) == ([0], [1])
    assert sum(asked) == 2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_choice_is_geos_on_random_faces_and_cells(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # faces of random lines (shared whole segments), and a grid's cells clipped to a
    # polygon (shared lines with other vertices, equal sides)
    pts = rng.uniform(0, 100, (60, 2))
    lines = shapely.linestrings(np.stack([pts[:30], pts[30:]], axis=1))
    lines = np.concatenate([lines, [shapely.box(0, 0, 100, 100).boundary]])
    face = faces(lines)
    blob = shapely.Polygon(rng.uniform(0, 40, (12, 2))).convex_hull.buffer(3, quad_segs=2)
    cells = np.array([shapely.box(x, y, x + 5, y + 5) for x in range(-5, 45, 5)
                      for y in range(-5, 45, 5)])
    cut = shapely.intersection(cells, blob)
    cut = cut[(shapely.get_type_id(cut) == 3) & (shapely.area(cut) > 0)]
    for pieces in (face, cut):
        a, b = _pairs(pieces)
        small = shapely.area(pieces) < np.median(shapely.area(pieces))
        keep = small[a]
        a, b = a[keep], b[keep]
        got_a, got_b = _best_neighbour(pieces, a, b)
        assert dict(zip(got_a.tolist(), got_b.tolist(), strict=True)) == _by_geos(pieces, a, b)
        assert np.all(np.diff(got_a) > 0)


def test_merge_small_takes_non_polygons_to_geos() -> None:
    # a multi-polygon piece: no bounds, every pair asked; the result is the same rule's
    multi = shapely.MultiPolygon([shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)])
    pieces = np.array([shapely.box(0, 0, 1, 1), multi, shapely.box(-3, 0, 0, 0.5)])
    assert _shared_bounds(pieces, np.array([0]), np.array([1])) is None
    out, parent, into = merge_small(pieces, np.zeros(3, dtype=np.int64),
                                    np.array([True, False, False]))
    assert into.tolist() == [0, 0, 1]  # 1 m shared with the multi-polygon, 0.5 m with the box
    assert shapely.area(out).tolist() == [3.0, 1.5]
    assert parent.tolist() == [0, 0]


def test_rings_of_polygons_with_holes_and_empty() -> None:
    holed = shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4)).difference(
        shapely.box(6, 6, 8, 8))
    polys = np.array([shapely.box(0, 0, 1, 1), holed, shapely.Polygon(), shapely.box(5, 5, 6, 7)])
    xy, ring_off, poly_off = block_split._rings_of(polys)
    assert poly_off.tolist() == [0, 1, 4, 5, 6]
    assert ring_off.tolist() == [0, 5, 10, 15, 20, 20, 25]
    np.testing.assert_array_equal(xy[ring_off[2]:ring_off[3]],
                                  shapely.get_coordinates(holed.interiors[0]))
    np.testing.assert_array_equal(xy[ring_off[5]:], shapely.get_coordinates(polys[3]))


def test_a_pair_of_long_outlines_is_left_to_geos() -> None:
    # two pieces sharing a wiggly outline of 1,200 vertices: the kernel's work would exceed
    # MAX_PAIR_WORK, so the pair is unsettled (-1, inf) and GEOS chooses; a small pair beside
    # them is still bounded
    xs = np.linspace(0.0, 600.0, 1200)
    wiggle = np.column_stack([xs, 0.3 * np.sin(xs)])
    below = shapely.Polygon(np.vstack([wiggle, [(600.0, -10.0), (0.0, -10.0)]]))
    above = shapely.Polygon(np.vstack([wiggle, [(600.0, 10.0), (0.0, 10.0)]]))
    cell, beside = shapely.box(700, 0, 701, 1), shapely.box(701, 0, 702, 1)
    pieces = np.array([below, above, cell, beside])
    assert 1200 * 2400 > block_split.MAX_PAIR_WORK
    lo, hi = _shared_bounds(pieces, np.array([0, 2]), np.array([1, 3]))
    assert lo[0] == -1.0 and hi[0] == np.inf
    assert lo[1] == 1.0 and hi[1] == pytest.approx(1.0, abs=1e-4)
    a, b = np.array([0, 2]), np.array([1, 3])
    got_a, got_b = _best_neighbour(pieces, a, b)
    assert dict(zip(got_a.tolist(), got_b.tolist(), strict=True)) == _by_geos(pieces, a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choice_is_geos_on_rows_of_unequal_boxes(seed: int) -> None:
    # rows of boxes of unequal widths whose vertical edges do not line up from row to row,
    # far from the origin: neighbours share stretches of lines with other vertices, where the
    # high bound must count the collinear cover
    rng = np.random.default_rng(seed)
    x0, y0 = 4.0e6, 3.0e5
    boxes = []
    for row in range(4):
        edges = np.r_[0.0, np.cumsum(rng.uniform(0.5, 3.0, 12))]
        edges[-1] = 20.0
        edges = edges[edges <= 20.0]
        for lo_x, hi_x in pairwise(edges):
            boxes.append(shapely.box(x0 + lo_x, y0 + row, x0 + hi_x, y0 + row + 1))
    pieces = np.array(boxes)
    a, b = _pairs(pieces)
    got_a, got_b = _best_neighbour(pieces, a, b)
    assert dict(zip(got_a.tolist(), got_b.tolist(), strict=True)) == _by_geos(pieces, a, b)
