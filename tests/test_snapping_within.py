"""The snapping searches' edges within a radius (lifecircle._edge_grid): the pairs of an
STRtree query of the points' boxes whose shapely distance is within the radius, with that
distance to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle._edge_grid import edge_grid, locate, seg_dist


def _lines(rng: np.random.Generator, n_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """Random polylines of 2-5 vertices (some segments of zero length): (ptr, xy)."""
    counts = rng.integers(2, 6, n_lines)
    ptr = np.r_[0, np.cumsum(counts)]
    xy = np.repeat(rng.uniform(0, 500, (n_lines, 2)), counts, axis=0)
    xy += rng.normal(0, 60, xy.shape)
    xy[rng.random(xy.shape[0]) < 0.1] = xy[0]  # a few repeated vertices
    return ptr, xy


def _old(ptr: np.ndarray, xy: np.ndarray, pxy: np.ndarray, radius: np.ndarray,
         eligible: np.ndarray | None = None) -> set[tuple[int, int, float]]:
    """What snapping asked before: the tree's candidates in the boxes, shapely's distance."""
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(ptr.shape[0] - 1),
                                                      np.diff(ptr)))
    box = shapely.box(pxy[:, 0] - radius, pxy[:, 1] - radius, pxy[:, 0] + radius,
                      pxy[:, 1] + radius)
    q, e = shapely.STRtree(lines).query(box)
    if eligible is not None:
        q, e = q[eligible[e]], e[eligible[e]]
    d = shapely.distance(shapely.points(pxy[q]), lines[e])
    ok = d <= radius[q]
    return {(int(a), int(b), float(c)) for a, b, c in zip(q[ok], e[ok], d[ok], strict=True)}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 60),
       st.sampled_from([3.0, 64.0, 1000.0]), st.booleans())
def test_pairs_and_distances_are_those_of_the_tree_and_shapely(seed, n_lines, n_points,
                                                               size, some):
    rng = np.random.default_rng(seed)
    ptr, xy = _lines(rng, n_lines)
    pxy = rng.uniform(-50, 550, (n_points, 2))
    pxy[: n_points // 4] = xy[rng.integers(0, xy.shape[0], n_points // 4)]  # on vertices
    radius = rng.uniform(0, 80, n_points)
    eligible = rng.random(n_lines) < 0.7 if some else None
    q, e, d = edge_grid(ptr, xy, size=size).within(pxy[:, 0], pxy[:, 1], radius, eligible)
    got = {(int(a), int(b), float(c)) for a, b, c in zip(q, e, d, strict=True)}
    assert len(got) == q.shape[0]  # each pair once
    assert got == _old(ptr, xy, pxy, radius, eligible)


def test_a_point_in_a_diagonal_line_s_box_is_within_only_past_its_distance():
    ptr, xy = np.array([0, 2]), np.array([[0.0, 0.0], [100.0, 100.0]])
    grid = edge_grid(ptr, xy)
    # 60 / sqrt(2) = 42.43 m from the line, inside its box
    q, e, d = grid.within(np.array([80.0, 80.0]), np.array([20.0, 20.0]),
                          np.array([10.0, 50.0]))
    assert q.tolist() == [1] and e.tolist() == [0]
    assert np.isclose(d[0], 60 / np.sqrt(2))


def test_segment_distance_by_hand():
    assert seg_dist(3.0, 4.0, 0.0, 0.0, 0.0, 0.0) == 5.0  # a point segment
    assert seg_dist(-3.0, 4.0, 0.0, 0.0, 10.0, 0.0) == 5.0  # before a
    assert seg_dist(13.0, 4.0, 0.0, 0.0, 10.0, 0.0) == 5.0  # past b
    assert seg_dist(5.0, -2.5, 0.0, 0.0, 10.0, 0.0) == 2.5  # beside it


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sampled_from([3.0, 64.0, 1000.0]))
def test_edges_meeting_a_box_are_the_tree_s_sorted(seed, n_lines, size):
    rng = np.random.default_rng(seed)
    ptr, xy = _lines(rng, n_lines)
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(n_lines), np.diff(ptr)))
    lx, ly = rng.uniform(-100, 500, 2)
    hx, hy = lx + rng.uniform(0, 300), ly + rng.uniform(0, 300)
    want = np.sort(shapely.STRtree(lines).query(shapely.box(lx, ly, hx, hy)))
    assert np.array_equal(edge_grid(ptr, xy, size=size).meeting(lx, ly, hx, hy), want)


def test_a_box_touching_an_envelope_meets_it():
    grid = edge_grid(np.array([0, 2, 4]), np.array([[0.0, 0.0], [10.0, 5.0],
                                                    [20.0, 0.0], [30.0, 5.0]]))
    assert grid.meeting(10.0, 5.0, 12.0, 9.0).tolist() == [0]  # the corner (10, 5) shared
    assert grid.meeting(10.5, 0.0, 19.5, 9.0).tolist() == []  # between the two
    assert grid.meeting(-5.0, -5.0, 40.0, 1.0).tolist() == [0, 1]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.booleans())
def test_locate_is_shapely_s_normalised_line_locate_point(seed, n_lines, whole):
    rng = np.random.default_rng(seed)
    ptr, xy = _lines(rng, n_lines)
    if whole:  # integer vertices: points on vertices and segments exactly
        xy = np.round(xy)
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(n_lines), np.diff(ptr)))
    e = rng.integers(0, n_lines, 40)
    p = rng.uniform(-50, 550, (40, 2))
    p[:10] = xy[rng.integers(0, xy.shape[0], 10)]
    want = shapely.line_locate_point(lines[e], shapely.points(p), normalized=True)
    assert np.array_equal(locate(ptr, xy, e, p[:, 0], p[:, 1]), want)


def test_locate_by_hand():
    ptr, xy = np.array([0, 3, 5]), np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 30.0],
                                            [5.0, 5.0], [5.0, 5.0]])
    got = locate(ptr, xy, np.array([0, 0, 0, 1]), np.array([4.0, 13.0, -2.0, 9.0]),
                 np.array([3.0, 20.0, 1.0, 9.0]))
    # 4 of 40 m; 30 of 40 (beside (10, 20)); the start; a line of no length: 0
    assert got.tolist() == [0.1, 0.75, 0.0, 0.0]
    # (what shapely 2.2 / GEOS 3.14 say of that line too)
    assert shapely.line_locate_point(shapely.linestrings(xy[3:]), shapely.points(9.0, 9.0),
                                     normalized=True) == 0.0


def test_grid_boxes_beyond_every_bucket_and_nan_points():
    # an infinite radius meets every bucket (each edge once); a NaN point meets nothing
    ptr = np.array([0, 2, 4, 6])
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [500.0, 0.0], [501.0, 0.0], [0.0, 900.0],
                   [1.0, 900.0]])
    grid = edge_grid(ptr, xy, size=64.0)
    q, e, d = grid.within(np.array([0.0, np.nan]), np.array([0.0, 0.0]),
                          np.array([np.inf, 10.0]))
    assert q.tolist() == [0, 0, 0] and sorted(e.tolist()) == [0, 1, 2]
    assert sorted(d.tolist()) == [0.0, 500.0, 900.0]


def test_grid_and_locate_refuse_arrays_the_kernels_would_overrun():
    ptr, xy = np.array([0, 2]), np.array([[0.0, 0.0], [10.0, 0.0]])
    grid = edge_grid(ptr, xy)
    with pytest.raises(ValueError, match="one length"):
        grid.within(np.zeros(2), np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="mask of 1 edges"):
        grid.within(np.zeros(1), np.zeros(1), np.ones(1), eligible=np.ones(5, bool))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        locate(ptr, xy, np.array([1]), np.zeros(1), np.zeros(1))


def test_denormal_segments_measure_as_geos_does():
    # the squares of a 1e-311 m segment underflow to 0: GEOS divides by zero (C: inf, NaN)
    tiny = 2.225073858507e-311
    ptr, xy = np.array([0, 2]), np.array([[0.0, 0.0], [0.0, tiny]])
    line = shapely.linestrings(xy)
    px, py = np.array([0.0, 3.0, 0.0]), np.array([-4.0, 4.0, 5.0])
    q, _, d = edge_grid(ptr, xy).within(px, py, np.full(3, 10.0))
    with np.errstate(divide="ignore", invalid="ignore"):  # (GEOS's, reported by shapely)
        want = shapely.distance(shapely.points(px, py), line)
        frac = shapely.line_locate_point(line, shapely.points(px, py), normalized=True)
    assert want[0] == 4.0 and want[1] == 5.0  # the ends' distances
    assert np.array_equal(d[np.argsort(q)], want[want <= 10.0])
    assert np.array_equal(locate(ptr, xy, np.zeros(3, np.int64), px, py), frac)
