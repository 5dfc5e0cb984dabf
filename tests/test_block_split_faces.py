"""planar.faces against GEOS's noded union + polygonize (the construction it replaces)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.sources import planar
from lifecircle.sources.planar import faces


def _geos(lines: np.ndarray) -> np.ndarray:
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    return polys[shapely.area(polys) > 0]


def _keys(polys: np.ndarray) -> list[bytes]:
    return sorted(shapely.to_wkb(shapely.normalize(shapely.set_precision(polys, 1e-6))))


def _same(lines: list) -> np.ndarray:
    arr = np.array(lines, dtype=object)
    out = faces(arr, geos_below=0)  # the half-edge walk, however few the lines
    assert _keys(out) == _keys(_geos(arr))
    # GEOS's path (small inputs) lists the same faces in the same order
    by_geos = faces(arr, geos_below=arr.size + 1)
    assert shapely.equals(by_geos, out).all()
    return out


def _line(*xy: float) -> shapely.LineString:
    return shapely.LineString(np.reshape(xy, (-1, 2)))


def test_a_grid_of_streets_gives_its_cells():
    lines = [_line(0, y, 3, y) for y in range(4)] + [_line(x, 0, x, 3) for x in range(4)]
    out = _same(lines)  # the lines cross without shared vertices: all noded
    assert len(out) == 9
    assert np.allclose(shapely.area(out), 1.0)


def test_faces_are_listed_by_lowest_left_vertex():
    lines = [_line(0, y, 3, y) for y in range(4)] + [_line(x, 0, x, 3) for x in range(4)]
    out = faces(np.array(lines, dtype=object), geos_below=0)
    low = [tuple(shapely.get_coordinates(p).min(axis=0)) for p in out]
    assert low == sorted((x, y) for x in range(3) for y in range(3))


def test_dangles_and_cut_edges_bound_no_face():
    square = _line(0, 0, 4, 0, 4, 4, 0, 4, 0, 0)
    island = _line(1, 1, 2, 1, 2, 2, 1, 2, 1, 1)
    bridge = _line(0, 0, 1, 1)  # joins the island to the square: a cut edge
    dangle = _line(4, 4, 6, 6)
    out = _same([square, island, bridge, dangle])
    assert sorted(shapely.area(out)) == [1.0, 15.0]  # the square holds the island as a hole


def test_an_island_inside_a_face_is_its_hole():
    outer = _line(0, 0, 10, 0, 10, 10, 0, 10, 0, 0)
    inner = _line(2, 2, 4, 2, 4, 4, 2, 4, 2, 2)
    inner2 = _line(4, 4, 6, 4, 6, 6, 4, 6, 4, 4)  # touches inner at one vertex
    out = _same([outer, inner, inner2])
    big = out[np.argmax(shapely.area(out))]
    assert shapely.get_num_interior_rings(big) == 2
    assert shapely.area(big) == 92.0


@pytest.mark.parametrize("per_box", [20, 0])  # 0: the candidates from a tree of the boxes
def test_an_island_goes_to_the_smallest_shell_holding_it(monkeypatch, per_box):
    monkeypatch.setattr(planar, "_IN_BOXES_PAIRS", per_box)
    outer = _line(0, 0, 20, 0, 20, 20, 0, 20, 0, 0)
    ring = _line(2, 2, 12, 2, 12, 12, 2, 12, 2, 2)  # an island of the outer square ...
    core = _line(5, 5, 7, 5, 7, 7, 5, 7, 5, 5)  # ... with an island of its own
    # an L-shaped island whose bounding box holds the last one, which lies outside it
    ell = _line(14, 14, 19, 14, 19, 15, 15, 15, 15, 19, 14, 19, 14, 14)
    dot = _line(17, 17, 18, 17, 18, 18, 17, 18, 17, 17)
    out = _same([outer, ring, core, ell, dot])
    area = sorted(shapely.area(out).tolist())
    assert area == [1.0, 4.0, 9.0, 96.0, 400.0 - 100.0 - 9.0 - 1.0]
    holes = dict(zip(shapely.area(out).tolist(), shapely.get_num_interior_rings(out).tolist(),
                     strict=True))
    assert holes == {1.0: 0, 4.0: 0, 9.0: 0, 96.0: 1, 290.0: 3}


def test_a_hole_touching_its_shell_at_a_vertex():
    outer = _line(0, 0, 10, 0, 10, 10, 0, 10, 0, 0)
    inner = _line(0, 0, 3, 1, 1, 3, 0, 0)  # shares the shell's corner
    out = _same([outer, inner])
    assert sorted(shapely.area(out)) == [4.0, 96.0]


def test_overlaps_and_t_junctions_are_noded():
    lines = [
        _line(0, 0, 4, 0), _line(2, 0, 6, 0),  # overlapping
        _line(6, 0, 6, 4, 0, 4, 0, 0),
        _line(3, 4, 3, 0),  # ends on a segment's interior, no shared vertex
        _line(3, 0, 3, 4),  # the same line again, reversed
    ]
    out = _same(lines)
    assert sorted(shapely.area(out)) == [12.0, 12.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 6)] * 4), min_size=1, max_size=25),
       st.integers(0, 3))
def test_random_lines_on_a_small_grid_match_geos(segs, shift):
    # integer ends make collinear overlaps, T-junctions and shared vertices common
    lines = [_line(x0, y0, x1 + shift * 0.5, y1) for x0, y0, x1, y1 in segs
             if (x0, y0) != (x1 + shift * 0.5, y1)]
    if not lines:
        return
    _same(lines)


def _grids(n: int, size: int = 3) -> list:
    """``n`` separate street grids whose lines cross without shared vertices."""
    out = []
    for k in range(n):
        x0 = 10.0 * k + 0.25 * (k % 3)
        out += [_line(x0, y + 0.1 * k, x0 + size, y + 0.1 * k) for y in range(size + 1)]
        out += [_line(x0 + x, 0.1 * k, x0 + x, 0.1 * k + size) for x in range(size + 1)]
    return out


def _exactly_alike(a: np.ndarray, b: np.ndarray) -> None:
    assert a.size == b.size
    assert shapely.equals_exact(a, b, tolerance=1e-9).all()


def test_noding_split_over_threads_by_groups_gives_the_same_faces(monkeypatch):
    from lifecircle.sources import _halves, planar

    arr = np.array(_grids(7), dtype=object)
    whole = faces(arr, geos_below=0)
    monkeypatch.setattr(planar, "NODE_SPLIT_FROM", 0)
    monkeypatch.setattr(planar, "workers", lambda: 3)
    monkeypatch.setattr(_halves, "workers", lambda: 3)  # the threads in_parts starts
    split = faces(arr, geos_below=0)
    assert whole.size == 7 * 9
    _exactly_alike(whole, split)  # same faces, same order, same vertex order
    assert _keys(split) == _keys(_geos(arr))


def test_rings_start_at_their_lowest_left_vertex():
    outer = _line(5, 0, 10, 0, 10, 10, 0, 10, 0, 5, 5, 0)
    inner = _line(6, 6, 8, 6, 8, 8, 6, 8, 6, 6)
    out = faces(np.array([outer, inner], dtype=object), geos_below=0)
    for poly in out:
        for ring in [shapely.get_exterior_ring(poly), *shapely.get_interior_ring(
                poly, range(shapely.get_num_interior_rings(poly)))]:
            xy = shapely.get_coordinates(ring)[:-1]
            assert tuple(xy[0]) == min(map(tuple, xy))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 6)] * 4), min_size=1, max_size=25),
       st.randoms(use_true_random=False))
def test_faces_do_not_depend_on_the_order_of_the_lines(segs, rnd):
    # vertex numbering follows the line order; rings start at their lowest-left vertex and
    # holes are listed by theirs, so the polygons (vertex order included) stay the same
    lines = [_line(x0, y0, x1, y1) for x0, y0, x1, y1 in segs if (x0, y0) != (x1, y1)]
    if not lines:
        return
    shuffled = lines[:]
    rnd.shuffle(shuffled)
    shuffled = [shapely.reverse(g) if rnd.random() < 0.5 else g for g in shuffled]
    _exactly_alike(faces(np.array(lines, dtype=object), geos_below=0),
                   faces(np.array(shuffled, dtype=object), geos_below=0))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-2, 8)] * 4), min_size=1, max_size=25),
       st.integers(0, 25), st.integers(0, 3))
def test_lines_added_to_an_arrangement_give_the_faces_of_all(segs, k, repeat):
    # the study limit is added to the streets' arrangement once drawn: its segments are
    # tested against the old ones in the cells they cross (or lie outside of), and against
    # each other; some repeat old segments (land use past the hull is in both)
    from lifecircle.sources.planar import Arrangement

    lines = [_line(x0, y0, x1, y1) for x0, y0, x1, y1 in segs if (x0, y0) != (x1, y1)]
    if not lines:
        return
    old, more = lines[:k], lines[k:] + lines[: min(repeat, k)]
    whole = faces(np.array(old + more, dtype=object), geos_below=0)
    added = Arrangement(np.array(old, dtype=object), geos_below=0).faces(
        np.array(more, dtype=object))
    _exactly_alike(whole, added)
    # below the threshold in all, GEOS's path, as faces takes it
    few = Arrangement(np.array(old, dtype=object), geos_below=len(lines) + repeat + 1)
    _exactly_alike(faces(np.array(old + more, dtype=object), geos_below=len(lines) + 9),
                   few.faces(np.array(more, dtype=object)))


def test_a_limit_added_round_a_street_grid_cuts_what_crosses_it():
    from lifecircle.sources.planar import Arrangement

    streets = np.array(_grids(3, size=4), dtype=object)
    limit = np.array([shapely.box(-0.5, -0.5, 12.7, 2.5).boundary], dtype=object)
    got = Arrangement(streets, geos_below=0).faces(limit)
    want = faces(np.concatenate([streets, limit]), geos_below=0)
    _exactly_alike(got, want)
    assert _keys(got) == _keys(_geos(np.concatenate([streets, limit])))
    assert got.size > faces(streets, geos_below=0).size  # the limit cut cells and closed rings
