"""Stitching tiles at their seams (lifecircle.isochrones.rings), on hand-drawn rings.

Coordinates are in cells (x 1024 in the integer units of the module); origin (0, 0) and a
1 m cell, so areas are in cells.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lifecircle.isochrones.rings import SNAP, TileRings, _stitch, merge_tiles

ORIGIN = np.zeros(2)


def tile(*rings: list[tuple[float, float]], hole: list[bool] | None = None,
         border: list[bool] | None = None) -> TileRings:
    q = np.round(np.concatenate([np.asarray(r, float) for r in rings]) * SNAP).astype(np.int64)
    n = len(rings)
    return TileRings(q, np.array([len(r) for r in rings]),
                     np.array(hole or [False] * n), np.array(border or [True] * n))


def polygons_of(t: TileRings) -> shapely.Geometry:
    """The tile's polygons built by shapely (one shell, then its holes)."""
    rings = np.split(t.q / SNAP, np.cumsum(t.sizes)[:-1])
    return shapely.Polygon(rings[0], rings[1:])


def test_two_squares_across_a_seam_become_one_rectangle():
    a = tile([(0, 0), (2, 0), (2, 1), (2, 2), (0, 2)])  # the seam x = 2 has a vertex at y = 1
    b = tile([(2, 0), (4, 0), (4, 2), (2, 2), (2, 1)])
    merged = merge_tiles([a, b], ORIGIN, 1.0)
    assert shapely.get_type_id(merged) == 6 and shapely.get_num_geometries(merged) == 1
    assert merged.area == 8.0 and shapely.is_valid(merged)
    assert shapely.equals(merged, shapely.box(0, 0, 4, 2))


def test_a_hole_closed_by_the_seam_and_a_free_hole():
    """Two C shapes facing each other make a ring with a hole; a hole off the border passes
    through to its shell."""
    a = tile([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (2, 2), (2, 3), (0, 3)])
    b = tile([(2, 0), (4, 0), (4, 3), (2, 3), (2, 2), (3, 2), (3, 1), (2, 1)],
             [(3.5, 0.25), (3.25, 0.25), (3.25, 0.5), (3.5, 0.5)], hole=[False, True],
             border=[True, False])
    merged = merge_tiles([a, b], ORIGIN, 1.0)
    assert shapely.get_num_geometries(merged) == 1
    (poly,) = shapely.get_parts(merged)
    assert poly.area == 12 - 2 - 0.0625
    assert len(poly.interiors) == 2 and shapely.is_valid(poly)
    union = shapely.coverage_union_all([polygons_of(a), polygons_of(b)])
    assert shapely.equals(merged, union)


def test_nested_island_goes_to_the_innermost_shell():
    """A shell inside another shell's hole holds its own hole."""
    outer = [(0, 0), (8, 0), (8, 8), (0, 8)]
    outer_hole = [(1, 1), (1, 7), (7, 7), (7, 1)]
    island = [(2, 2), (6, 2), (6, 6), (2, 6)]
    island_hole = [(3, 3), (3, 5), (5, 5), (5, 3)]
    t = tile(outer, outer_hole, island, island_hole, hole=[False, True, False, True],
             border=[False] * 4)
    merged = merge_tiles([t], ORIGIN, 1.0)
    parts = sorted(shapely.get_parts(merged), key=lambda p: -p.area)
    assert [p.area for p in parts] == [64 - 36, 16 - 4]
    assert [len(p.interiors) for p in parts] == [1, 1]


def test_rings_that_only_touch_fall_back_to_the_coverage_union():
    """Squares meeting at a corner are not stitched (a vertex with two ways on): the stitch
    declines and the GEOS union gives the same two squares."""
    a = tile([(0, 0), (1, 0), (1, 1), (0, 1)])
    b = tile([(1, 1), (2, 1), (2, 2), (1, 2)])
    assert _stitch(np.concatenate([a.q, b.q]), np.concatenate([a.sizes, b.sizes])) is None
    merged = merge_tiles([a, b], ORIGIN, 1.0)
    assert merged.area == 2.0 and shapely.get_num_geometries(merged) == 2


def test_world_coordinates_follow_origin_and_cell():
    a = tile([(0, 0), (2, 0), (2, 2), (0, 2)], border=[False])
    merged = merge_tiles([a], np.array([500_000.0, 3_500_000.0]), 5.0)
    assert shapely.equals(merged, shapely.box(500_000, 3_500_000, 500_010, 3_500_010))


@pytest.mark.parametrize("cumulative", [False, True])
def test_stretches_stamped_once_at_their_lowest_band_give_the_same_polygons(cumulative,
                                                                             monkeypatch):
    """Dropping a stretch's repeats in later bands changes no polygon (the grid keeps each
    cell's lowest band), and does drop most segments."""
    from lifecircle import isochrones as iso
    from lifecircle.isochrones import polygons
    from tests.helpers import monaco_sources

    net, xy, src, nodes = monaco_sources(5, seed=5, offset_m=6.0, limit_m=1200.0)
    kw = dict(category="x", speed_kmh=4.8, points_xy=(xy[:, 0], xy[:, 1]),
              cumulative=cumulative)
    kept: list[tuple[int, int]] = []
    lowest = polygons._lowest_band

    def spy(pieces, n_bands):
        out = lowest(pieces, n_bands)
        kept.append((len(pieces), len(out)))
        return out

    monkeypatch.setattr(polygons, "_lowest_band", spy)
    once = iso.category_isochrones(net, nodes, src, **kw).geometry.to_numpy()
    monkeypatch.setattr(polygons, "_lowest_band", lambda pieces, n_bands: pieces)
    every = iso.category_isochrones(net, nodes, src, **kw).geometry.to_numpy()
    (before, after), = kept
    assert after < 0.6 * before
    for a, b in zip(once, every, strict=True):
        assert a.area > 0 and shapely.equals(a, b)
        assert shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b)
