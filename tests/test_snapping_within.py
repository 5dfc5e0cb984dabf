"""The snapping searches' candidates (lifecircle.snapping._query_within): bounding boxes
within the radius, which hold every pair a ``dwithin`` query gives."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.snapping import _query_within


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 60))
def test_pairs_within_the_radius_are_those_of_a_dwithin_query(seed, n_lines, n_points):
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, 500, (n_lines, 2))
    lines = shapely.linestrings(np.stack([starts, starts + rng.normal(0, 60, (n_lines, 2))],
                                         axis=1))
    xy = rng.uniform(-50, 550, (n_points, 2))
    radius = rng.uniform(0, 80, n_points)
    tree = shapely.STRtree(lines)
    q, e = _query_within(tree, xy, radius)
    d = shapely.distance(shapely.points(xy[q]), lines[e])
    got = {(int(a), int(b)) for a, b in zip(q[d <= radius[q]], e[d <= radius[q]], strict=True)}
    want_q, want_e = tree.query(shapely.points(xy), predicate="dwithin", distance=radius)
    assert got == {(int(a), int(b)) for a, b in zip(want_q, want_e, strict=True)}


def test_a_point_in_a_diagonal_line_s_box_is_a_candidate_but_within_only_past_its_distance():
    line = np.array([shapely.LineString([(0, 0), (100, 100)])])
    xy = np.array([[80.0, 20.0], [80.0, 20.0]])  # 60 / sqrt(2) = 42.43 m from the line
    q, e = _query_within(shapely.STRtree(line), xy, np.array([10.0, 50.0]))
    assert q.tolist() == [0, 1] and e.tolist() == [0, 0]  # inside the line's box: both asked
    d = shapely.distance(shapely.points(xy[q]), line[e])
    assert np.allclose(d, 60 / np.sqrt(2))
    assert (d <= np.array([10.0, 50.0])[q]).tolist() == [False, True]
