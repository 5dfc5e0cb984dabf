"""The blocks step's compiled kernels give GEOS's and numpy's numbers to the bit, and one-ring
polygons standing for their outline give the faces of their boundaries."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lifecircle.sources import blocks as blocks_mod
from lifecircle.sources._block_kernels import kernel
from lifecircle.sources.block_gates import _outline_by_geos, _to_outline
from lifecircle.sources.planar import faces, outlines


def _key(geoms: np.ndarray) -> list[bytes]:
    return list(shapely.to_wkb(shapely.normalize(geoms)))


def test_outline_distance_by_hand() -> None:
    square = shapely.box(0, 0, 10, 10)
    tri = shapely.Polygon([(0, 0), (4, 0), (0, 3)])  # hypotenuse 5 long, 12/5 from the origin
    twice = shapely.Polygon([(0, 0), (10, 0), (10, 0), (10, 10), (0, 10)])  # repeated vertex
    polys = np.array([square, square, tri, twice])
    pts = shapely.points([[3, 4], [5, 5], [0.5, 0.5], [9, 5]])
    np.testing.assert_array_equal(_to_outline(polys, pts), [3.0, 5.0, 0.5, 1.0])
    tri_origin = _to_outline(np.array([tri]), shapely.points([[0, 0]]))
    assert tri_origin[0] == 0.0


def test_holes_and_multipolygons_are_measured_by_geos() -> None:
    holed = shapely.box(0, 0, 10, 10).difference(shapely.box(4, 4, 6, 6))
    multi = shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)])
    got = _to_outline(np.array([holed, multi, shapely.box(0, 0, 2, 2)]),
                      shapely.points([[3, 5], [25, 6], [1, 1.5]]))
    np.testing.assert_array_equal(got, [1.0, 4.0, 0.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_outline_distance_is_geos_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    centre = rng.uniform(-1e5, 1e5, (n, 2)) + np.array([6.6e5, 3.55e6])  # UTM-sized
    polys = shapely.buffer(shapely.points(centre), rng.uniform(1, 300, n),
                           quad_segs=int(rng.integers(1, 9)))
    polys = shapely.affinity.rotate(shapely.GeometryCollection(list(polys)), 17).geoms
    polys = np.array(list(polys), dtype=object)
    # points inside, on the outline and at vertices
    inside = shapely.point_on_surface(polys)
    vertex = shapely.get_point(shapely.get_exterior_ring(polys), 3)
    for pts in (inside, vertex, shapely.points(shapely.get_coordinates(inside) + 0.3)):
        np.testing.assert_array_equal(_to_outline(polys, pts), _outline_by_geos(polys, pts))


def test_grid_keys_round_half_to_even_as_numpy() -> None:
    cell = 20.0
    x = np.array([10.0, 30.0, 50.0, -10.0, -30.0, 0.0, 19.999, 1e6 + 10.0, 123.4])
    y = np.array([-50.0, 10.0, 70.0, 30.0, 0.0, -10.0, 1e6 + 30.0, 5.0, 90.0])
    lo0, lo1 = -2, -3
    span = int(np.round(y.max() / cell)) - lo1 + 1
    key, top = kernel("grid")(x, y, cell, lo0, lo1, span)
    i = np.round(x / cell).astype(np.int64) - lo0
    j = np.round(y / cell).astype(np.int64) - lo1
    np.testing.assert_array_equal(key, i * span + j)
    assert top == i.max()
    # 10 / 20 = 0.5 rounds to 0, 30 / 20 = 1.5 to 2, 50 / 20 = 2.5 to 2
    np.testing.assert_array_equal(i[:3] + lo0, [0, 2, 2])


def test_hull_grid_points_are_the_rounded_distinct_points() -> None:
    rng = np.random.default_rng(5)
    xy = np.round(rng.uniform(0, 2000, (5000, 2)) / 10) * 10  # many exact half cells
    for cell in (20.0, 40.0, 70.0):
        keys, lo, span = blocks_mod._on_grid(xy, cell)
        want = np.unique(np.round(xy / cell), axis=0)
        got = blocks_mod._grid_points((keys, lo, span), cell) / cell
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("geos_below", [0, 10**9])
def test_one_ring_polygons_give_the_faces_of_their_boundaries(geos_below: int) -> None:
    holed = shapely.box(0, 0, 30, 30).difference(shapely.box(10, 10, 20, 20))
    multi = shapely.MultiPolygon([shapely.box(40, 0, 50, 10), shapely.box(55, 0, 60, 5)])
    polys = np.array([shapely.box(0, 0, 10, 10), shapely.Polygon([(5, 5), (25, 5), (15, 25)]),
                      holed, multi], dtype=object)
    lines = np.array([shapely.LineString([(-5, 3), (65, 3)]),
                      shapely.LineString([(15, -5), (15, 40)])], dtype=object)
    stood = outlines(polys)
    assert stood[0] is polys[0] and stood[1] is polys[1]  # no line made for one ring
    assert shapely.get_type_id(stood[2]) == 5 and shapely.get_type_id(stood[3]) == 5
    want = faces(np.concatenate([shapely.boundary(polys), lines]), geos_below=geos_below)
    got = faces(np.concatenate([stood, lines]), geos_below=geos_below)
    assert got.size == want.size > 10
    assert _key(got) == _key(want)
