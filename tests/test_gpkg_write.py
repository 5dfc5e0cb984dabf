"""The GeoPackage writer's fast paths: the WKB written from coordinate arrays is shapely's, byte
for byte; every layer keeps a working R-tree (a window query through it finds the features a
brute-force bounding-box filter finds); the edge-id check; the SQLite option restored."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.outputs import geopackage
from lifecircle.outputs.geopackage import _is_row_number, _simple_wkb, write_geopackage

CRS = "EPSG:32650"

# coordinates on a 0.5 m lattice below 2**20: exact as float32, so the R-tree's boxes (float32,
# rounded outwards) are the geometries' own and a window query has one right answer
coordinate = st.integers(-2_000_000, 2_000_000).map(lambda k: k / 2)
point = st.tuples(coordinate, coordinate)


def _pieces(data: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    return [data[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(offsets) - 1)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(point, min_size=2, max_size=7) | st.just([]), min_size=1,
                max_size=30))
def test_line_wkb_is_shapelys(lines):
    geoms = np.array([shapely.LineString(c) for c in lines], dtype=object)
    made = _simple_wkb(geoms, 1)
    assert made is not None
    data, offsets = made
    assert offsets.dtype == np.int32 and offsets[0] == 0
    assert _pieces(data, offsets) == list(shapely.to_wkb(geoms))


@settings(max_examples=40, deadline=None)
@given(st.lists(point, min_size=1, max_size=30))
def test_point_wkb_is_shapelys(points):
    geoms = shapely.points(np.array(points, dtype=float))
    made = _simple_wkb(geoms, 0)
    assert made is not None
    data, offsets = made
    assert _pieces(data, offsets) == list(shapely.to_wkb(geoms))


def test_missing_or_empty_geometries_go_through_shapely():
    """A missing geometry (null WKB) or an empty point (shapely writes NaN NaN) is not made
    from coordinates: the batch falls back to shapely."""
    lines = np.array([shapely.LineString([(0, 0), (1, 1)]), None], dtype=object)
    assert _simple_wkb(lines, 1) is None
    assert _simple_wkb(np.array([shapely.Point(1, 2), shapely.Point()]), 0) is None


def test_written_layers_keep_every_geometry_as_given(tmp_path, monkeypatch):
    """Through GDAL and back, batches of 3 rows: line strings, points, a line layer with a
    missing geometry and a point layer with an empty point are the geometries given."""
    monkeypatch.setattr(geopackage, "BATCH_ROWS", 3)
    rng = np.random.default_rng(7)
    lines = [shapely.LineString(rng.integers(0, 1000, (rng.integers(2, 6), 2)) / 4)
             for _ in range(10)]
    points = list(shapely.points(rng.integers(0, 1000, (8, 2)) / 4))
    layers = {
        "edges": gpd.GeoDataFrame({"edge_id": np.arange(10)}, geometry=lines, crs=CRS),
        "facilities": gpd.GeoDataFrame({"n": np.arange(8)}, geometry=points, crs=CRS),
        "gaps": gpd.GeoDataFrame({"n": [0, 1, 2, 3]},
                                 geometry=[lines[0], None, lines[1], lines[2]], crs=CRS),
        "empty_point": gpd.GeoDataFrame({"n": [0, 1]},
                                        geometry=[points[0], shapely.Point()], crs=CRS),
    }
    path = tmp_path / "out.gpkg"
    write_geopackage(path, layers, {})
    for name, frame in layers.items():
        back = pyogrio.read_dataframe(path, layer=name)
        given_ = [None if g is None or g.is_empty else g.wkb for g in frame.geometry]
        read = [None if g is None or g.is_empty else g.wkb for g in back.geometry]
        assert read == given_, name
    assert pyogrio.read_info(path, layer="edges")["geometry_type"] == "LineString"
    assert pyogrio.read_info(path, layer="facilities")["geometry_type"] == "Point"


def _rtree_window(con: sqlite3.Connection, layer: str, box: tuple[float, ...]) -> set[int]:
    minx, miny, maxx, maxy = box
    rows = con.execute(
        f'SELECT id FROM "rtree_{layer}_geom" WHERE maxx >= ? AND minx <= ? '
        "AND maxy >= ? AND miny <= ?", (minx, maxx, miny, maxy))
    return {int(i) for (i,) in rows}


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(point, min_size=2, max_size=5), min_size=1, max_size=60),
       st.lists(point, min_size=1, max_size=60),
       st.lists(st.tuples(point, point), min_size=1, max_size=6))
def test_every_layer_has_a_working_spatial_index(tmp_path_factory, lines, points, windows):
    """The R-tree of each layer holds one box per feature, the GeoPackage lists it in
    ``gpkg_extensions``, SQLite finds the file sound, and a window query through the R-tree
    returns the feature ids a brute-force filter on the geometries' bounds returns."""
    path = tmp_path_factory.mktemp("rtree") / "out.gpkg"
    edges = gpd.GeoDataFrame({"edge_id": np.arange(len(lines)) * 3},  # ids, not row numbers
                             geometry=[shapely.LineString(c) for c in lines], crs=CRS)
    facilities = gpd.GeoDataFrame({"n": np.arange(len(points))},
                                  geometry=shapely.points(np.array(points)), crs=CRS)
    write_geopackage(path, {"edges": edges, "facilities": facilities}, {})
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        listed = {(t, c) for t, c in con.execute(
            "SELECT table_name, column_name FROM gpkg_extensions "
            "WHERE extension_name = 'gpkg_rtree_index'")}
        assert listed == {("edges", "geom"), ("facilities", "geom")}
        fids = {"edges": edges["edge_id"].to_numpy(),
                "facilities": np.arange(1, len(points) + 1)}  # GDAL numbers from 1
        for name, frame in (("edges", edges), ("facilities", facilities)):
            count = con.execute(f'SELECT count(*) FROM "rtree_{name}_geom"').fetchone()[0]
            assert count == len(frame)
            bounds = shapely.bounds(frame.geometry.to_numpy())
            for (x0, y0), (x1, y1) in windows:
                box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
                hit = ((bounds[:, 2] >= box[0]) & (bounds[:, 0] <= box[2])
                       & (bounds[:, 3] >= box[1]) & (bounds[:, 1] <= box[3]))
                assert _rtree_window(con, name, box) == set(fids[name][hit].tolist())
    con.close()


@pytest.mark.parametrize(("ids", "expected"), [
    ([0, 1, 2, 3], True),
    ([4, 9, 10], True),
    ([3, 0, 2, 1], True),  # distinct, not rising: the sort decides
    ([0, 2, 2, 5], False),
    ([5, 1, 5], False),
    ([-1, 0, 1], False),
    ([], True),
])
def test_row_numbers(ids, expected):
    assert _is_row_number(pd.Series(ids, dtype=np.int64)) is expected


def test_row_numbers_refuse_missing_and_text():
    assert not _is_row_number(pd.Series([0, None, 2], dtype="Int64"))
    assert not _is_row_number(pd.Series(["0", "1"]))


@pytest.mark.parametrize("fail", [False, True])
def test_sqlite_sync_option_is_restored_after_the_write(tmp_path, monkeypatch, fail):
    """The layers are written with ``OGR_SQLITE_SYNCHRONOUS=OFF``; afterwards (also after a
    failed write) the option is what it was, so other GDAL writes in the process sync."""
    key = "OGR_SQLITE_SYNCHRONOUS"
    seen = []
    real = geopackage.write_layer

    def spy(path, name, gdf):
        seen.append(pyogrio.get_gdal_config_option(key))
        if fail:
            raise RuntimeError("disk full")
        real(path, name, gdf)

    monkeypatch.setattr(geopackage, "write_layer", spy)
    before = pyogrio.get_gdal_config_option(key)
    pyogrio.set_gdal_config_options({key: "FULL"})
    try:
        frame = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(0, 0)], crs=CRS)
        if fail:
            with pytest.raises(RuntimeError, match="disk full"):
                write_geopackage(tmp_path / "out.gpkg", {"facilities": frame}, {})
        else:
            write_geopackage(tmp_path / "out.gpkg", {"facilities": frame}, {})
        assert seen and all(v in ("OFF", False) for v in seen)  # pyogrio reads OFF as False
        assert pyogrio.get_gdal_config_option(key) == "FULL"
    finally:
        pyogrio.set_gdal_config_options({key: before})
