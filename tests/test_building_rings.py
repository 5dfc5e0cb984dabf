"""Footprint rings measured from their coordinates (lifecircle.sources._footprint_kernels)
give GEOS's area and interior point to the bit, and the hand-computed ones."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.sources._footprint_kernels import ring_measures


def _measure(rings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    xy = np.concatenate(rings)
    ends = np.concatenate([[0], np.cumsum([r.shape[0] for r in rings])]).astype(np.int64)
    n = len(rings)
    area, px, py = np.empty(n), np.empty(n), np.empty(n)
    ring_measures(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), ends,
                  area, px, py)
    return area, np.column_stack([px, py])


def test_a_u_shaped_footprint_gets_the_middle_of_its_wider_arm():
    # a U of 10 m x 6 m open at the top: arms 0-2 and 5-10 wide
    u = np.array([[0, 0], [10, 0], [10, 6], [5, 6], [5, 2], [2, 2], [2, 6], [0, 6], [0, 0]],
                 dtype=float)
    area, pt = _measure([u])
    assert area[0] == 10 * 6 - 3 * 4
    # centre height 3: nearest vertex heights 2 (below) and 6 (above), the line at y = 4;
    # it crosses x = 0, 2, 5, 10: the wider interval is 5-10, its middle 7.5
    assert tuple(pt[0]) == (7.5, 4.0)


def test_an_empty_ring_has_no_point_and_a_flat_one_its_first_vertex():
    flat = np.array([[1.0, 1.0], [3.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    area, pt = _measure([np.empty((0, 2)), flat])
    assert area[0] == 0 and np.isnan(pt[0]).all()
    assert area[1] == 0 and tuple(pt[1]) == (1.0, 1.0)


@st.composite
def _star_rings(draw: st.DrawFn) -> np.ndarray:
    """A simple ring: vertices at increasing angles round a centre, snapped to a coarse grid
    so that edges run level and vertices sit on the scan line often."""
    n = draw(st.integers(3, 12))
    angles = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi, exclude_max=True),
                                            min_size=n, max_size=n, unique=True))))
    radii = np.array(draw(st.lists(st.floats(1, 20), min_size=n, max_size=n)))
    grid = draw(st.sampled_from([0.5, 1.0, 0.001]))
    xy = np.round(np.column_stack([radii * np.cos(angles), radii * np.sin(angles)]) / grid)
    xy = xy * grid + np.array([500_000.0, 3_500_000.0])
    return np.vstack([xy, xy[:1]])


@st.composite
def _concave_rings(draw: st.DrawFn) -> np.ndarray:
    """A simple ring that is not star-shaped round any point as a rule: the concave hull of
    scattered points (GEOS), in either direction."""
    n = draw(st.integers(6, 40))
    pts = np.array(draw(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)),
                                 min_size=n, max_size=n, unique=True)), dtype=float)
    hull = shapely.concave_hull(shapely.MultiPoint(pts), ratio=draw(st.sampled_from([0.1, 0.3])))
    if not isinstance(hull, shapely.Polygon) or hull.area == 0:
        return np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    xy = np.asarray(hull.exterior.coords) + np.array([500_000.0, 3_500_000.0])
    return xy[::-1] if draw(st.booleans()) else xy


def _clockwise_or_not(ring: np.ndarray, flip: bool) -> np.ndarray:
    return ring[::-1] if flip else ring


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.builds(_clockwise_or_not, _star_rings(), st.booleans()), _concave_rings()),
    min_size=1, max_size=5))
def test_rings_measure_as_geos_measures_their_polygons(rings):
    polys = np.array([shapely.Polygon(r) for r in rings], dtype=object)
    ok = shapely.is_valid(polys)  # snapping can fold a ring: GEOS's answer is not defined
    area, pt = _measure(rings)
    assert np.array_equal(area[ok], shapely.area(polys[ok]))
    geos = shapely.point_on_surface(polys[ok])
    assert np.array_equal(pt[ok], np.column_stack([shapely.get_x(geos), shapely.get_y(geos)]))


def test_only_invalid_polygons_are_repaired_and_valid_ones_kept_as_they_are():
    from lifecircle.sources.buildings import _repaired

    square = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)])
    bowtie = shapely.Polygon([(0, 0), (4, 4), (4, 0), (0, 4)])  # crosses itself at (2, 2)
    out = _repaired(np.array([square, bowtie, None], dtype=object))
    assert out[0] is square  # not re-made
    assert shapely.is_valid(out[1]) and shapely.area(out[1]) == 8.0  # two triangles of 4 m²
    assert out[2] is None
    assert shapely.equals(out[1], shapely.make_valid(bowtie))


def test_residential_land_use_is_repaired_once_for_the_buildings_and_blocks(monkeypatch):
    from lifecircle.sources import buildings
    from lifecircle.sources.osm_model import OSMData

    ring = shapely.MultiPolygon([shapely.Polygon([(7.42, 43.73), (7.421, 43.73),
                                                  (7.421, 43.731), (7.42, 43.731)])])
    data = OSMData("landuse", landuse=[("way", 1, shapely.to_wkb(ring))])
    calls = []
    real = buildings._repaired
    monkeypatch.setattr(buildings, "_repaired", lambda g: calls.append(len(g)) or real(g))
    kept = buildings._landuse_kept(data, "EPSG:32632")
    again = buildings.residential_landuse(data, "EPSG:32632")
    assert again is kept and calls == [1]
    # taken once: a third call (or one in another CRS) projects again
    third = buildings.residential_landuse(data, "EPSG:32632")
    assert calls == [1, 1] and shapely.equals_exact(third, kept, tolerance=0).all()
    # 0.001 degree: 80.4 m of longitude at 43.73 N, 111.1 m of latitude (UTM scale: +0.2 %)
    assert abs(shapely.area(third[0]) / (80.4 * 111.1) - 1) < 0.01


def test_every_footprint_of_a_city_measures_as_geos_measures_it():
    # the kernel (footprints=False) against GEOS's area and point on surface of the polygons
    # (footprints=True), footprint by footprint, on a real city's buildings
    from lifecircle.sources.buildings import buildings_from_osm
    from lifecircle.sources.osm import read_osm
    from tests.conftest import shared_osm

    data = read_osm(shared_osm("monaco.osm.pbf"))
    with_polygons = buildings_from_osm(data, 32632, footprints=True)
    measured = buildings_from_osm(data, 32632, footprints=False)
    assert len(measured) == len(with_polygons) > 1000
    for column in ("footprint_m2", "rep_x", "rep_y"):
        assert np.array_equal(measured[column].to_numpy(), with_polygons[column].to_numpy()), \
            column
