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


def test_every_footprint_of_a_city_measures_as_geos_measures_its_projected_polygon():
    # the local frame (footprints=False) against GEOS's area and point on surface of the
    # polygons projected vertex by vertex (footprints=True), on a real city's buildings: the
    # area to 1e-8 and far below a square centimetre, the point inside the projected footprint
    # and within a millimetre of GEOS's
    from lifecircle.sources.buildings import buildings_from_osm
    from lifecircle.sources.osm import read_osm
    from tests.conftest import shared_osm

    data = read_osm(shared_osm("monaco.osm.pbf"))
    with_polygons = buildings_from_osm(data, 32632, footprints=True)
    measured = buildings_from_osm(data, 32632, footprints=False)
    assert len(measured) == len(with_polygons) > 1000
    exact, area = with_polygons["footprint_m2"].to_numpy(), measured["footprint_m2"].to_numpy()
    assert np.abs(area - exact).max() < 1e-5  # m², i.e. 0.1 cm²
    assert np.abs(area / exact - 1).max() < 1e-8
    x, y = measured["rep_x"].to_numpy(), measured["rep_y"].to_numpy()
    assert np.hypot(x - with_polygons["rep_x"], y - with_polygons["rep_y"]).max() < 1e-3
    polygons = with_polygons.geometry.to_numpy()
    assert shapely.contains_xy(polygons, x, y).all()
    assert measured["home_rule"].equals(with_polygons["home_rule"])


def _wkb_column(rings: list[np.ndarray]):
    from lifecircle.sources._osm_columns import WkbColumn

    return WkbColumn.from_blobs(
        shapely.to_wkb(shapely.MultiPolygon([shapely.Polygon(r)]), byte_order=1)
        for r in rings)


@st.composite
def _footprints_in_a_zone(draw: st.DrawFn) -> tuple[list[np.ndarray], int]:
    """WGS 84 footprints of 1-250 m (stars or concave hulls of a metre grid, scaled) anywhere
    in one UTM zone between 80 S and 84 N, up to 3.5 degrees off its central meridian."""
    zone = draw(st.integers(1, 60))
    lat = draw(st.floats(-80, 84))
    lon = -183 + 6 * zone + draw(st.floats(-3.5, 3.5))
    rings = []
    for _ in range(draw(st.integers(1, 4))):
        shape = draw(st.one_of(_star_rings(), _concave_rings()))
        shape = shape - shape[:-1].mean(axis=0)
        size = draw(st.floats(1, 250)) / max(np.ptp(shape, axis=0).max(), 1e-9)
        metres = shape * size
        # metres to degrees on the sphere (the ring need not be any exact size)
        d_lat = metres[:, 1] / 111_000
        d_lon = metres[:, 0] / (111_000 * np.cos(np.radians(lat)))
        rings.append(np.column_stack([lon + d_lon, lat + d_lat]))
        lon, lat = lon + draw(st.floats(-0.05, 0.05)), min(84, lat + draw(st.floats(-0.05, 0.05)))
    return rings, (32600 if lat >= 0 else 32700) + zone


@settings(max_examples=150, deadline=None)
@given(_footprints_in_a_zone())
def test_footprints_measured_in_the_local_frame_match_their_projected_polygons(case):
    import pyproj

    from lifecircle.sources.buildings import _ring_measures

    rings, epsg = case
    area, points = _ring_measures(_wkb_column(rings), epsg)
    to_utm = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    projected = np.array([shapely.Polygon(np.column_stack(to_utm.transform(r[:, 0], r[:, 1])))
                          for r in rings], dtype=object)
    exact = shapely.area(projected)
    assert np.all(np.abs(area - exact) <= 1e-6 * exact + 1e-6)  # relative 1e-6, or 0.01 cm²
    ok = shapely.is_valid(projected) & (exact > 0)
    # the point lies inside the footprint projected vertex by vertex (not merely near it)
    assert shapely.contains_xy(projected[ok], points[ok, 0], points[ok, 1]).all()


def test_a_footprint_reaching_past_the_frame_is_projected_vertex_by_vertex():
    # a 400 m square reaches 200 m (0.0018 degrees of latitude) from its centroid, past
    # FRAME_REACH_DEG: it is measured from its projected vertices, GEOS's numbers to the bit;
    # a 40 m square is measured in the frame (not to the bit, to 1e-9)
    from lifecircle.sources import buildings
    from lifecircle.sources._footprint_kernels import FRAME_REACH_DEG

    def square(side_deg: float) -> np.ndarray:
        corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
        return np.array([118.78, 32.05]) + side_deg * corners

    big, small = square(0.0036), square(0.00036)
    assert 0.0036 / 2 > FRAME_REACH_DEG > 0.00036 / 2
    framed = buildings._ring_measures(_wkb_column([big, small]), 32650)
    for k, ring in enumerate([big, small]):
        exact = buildings._exact_rings(ring, np.array([0, 5]), 32650)
        if k == 0:
            assert framed[0][0] == exact[0][0] and np.array_equal(framed[1][0], exact[1][0])
        else:
            assert framed[0][1] != exact[0][0]
            assert abs(framed[0][1] / exact[0][0] - 1) < 1e-9
            assert np.hypot(*(framed[1][1] - exact[1][0])) < 1e-4


def test_a_footprint_with_a_nan_vertex_is_measured_vertex_by_vertex_alone_or_not():
    # a NaN coordinate leaves the lattice's box as the other footprints' (it made the box
    # infinite, and the lattice raised OverflowError): the NaN ring gets the vertex-by-vertex
    # path's numbers (a NaN area, as GEOS gives), its neighbour the frame's
    from lifecircle.sources import buildings

    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    good = np.array([7.42, 43.73]) + 0.0003 * square
    bad = good.copy()
    bad[1, 0] = np.nan
    exact_bad = buildings._exact_rings(bad, np.array([0, 5]), 32632)
    exact_good = buildings._exact_rings(good, np.array([0, 5]), 32632)
    for rings in ([bad], [bad, good], [good, bad]):
        area, points = buildings._ring_measures(_wkb_column(rings), 32632)
        k = next(i for i, r in enumerate(rings) if r is bad)
        assert np.isnan(area[k]) and np.isnan(exact_bad[0][0])
        assert np.array_equal(points[k], exact_bad[1][0], equal_nan=True)
        if len(rings) == 2:
            assert abs(area[1 - k] / exact_good[0][0] - 1) < 1e-9
            assert np.hypot(*(points[1 - k] - exact_good[1][0])) < 1e-4
