"""The map's layers reprojected and rounded in one pass are geopandas' ``to_crs(4326)`` rounded
to the map's decimals, coordinate for coordinate, as the map made them before (a third
dimension dropped), for projected, 3-D and geographic layers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from lifecircle.outputs.webmap.prepare import DECIMALS, _to_web


def _coords(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.get_coordinates(np.asarray(gdf.geometry.values), include_z=True)


def _expected(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The former way: geopandas reprojects, then each geometry's x, y are rounded."""
    moved = np.asarray(gdf.to_crs(4326).geometry.values)
    return shapely.get_coordinates(shapely.transform(moved, lambda xy: np.round(xy, DECIMALS)),
                                   include_z=True)


def test_one_pass_equals_to_crs_then_round():
    rng = np.random.default_rng(3)
    x0, y0 = 660_000.0, 3_550_000.0  # UTM 50N, Nanjing
    geoms = [Point(x0 + dx, y0 + dy) for dx, dy in rng.uniform(0, 5000, (50, 2))]
    geoms += [Polygon(np.array([x0, y0]) + rng.uniform(0, 5000, 2)
                      + rng.uniform(0, 80, (6, 2))).convex_hull
              for _ in range(50)]
    geoms += [LineString(np.array([x0, y0]) + rng.uniform(0, 5000, (4, 2))) for _ in range(20)]
    gdf = gpd.GeoDataFrame({"k": range(len(geoms))}, geometry=geoms, crs=32650)
    got = _to_web(gdf, "blocks", simplify=False)
    assert got.crs.to_epsg() == 4326
    assert np.array_equal(_coords(got), _expected(gdf), equal_nan=True)
    assert got["k"].tolist() == list(range(len(geoms)))


def test_three_d_and_geographic_layers():
    flat = gpd.GeoDataFrame(geometry=[Point(660_000, 3_550_000, 12.5)], crs=32650)
    assert np.array_equal(_coords(_to_web(flat, "x", simplify=False)), _expected(flat),
                          equal_nan=True)
    lonlat = gpd.GeoDataFrame(geometry=[Point(118.123456789, 32.987654321)], crs=4326)
    assert shapely.get_coordinates(np.asarray(_to_web(lonlat, "x", simplify=False).geometry
                                              .values)).tolist() == [[118.123457, 32.987654]]
