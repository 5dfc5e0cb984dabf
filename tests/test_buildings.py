"""Buildings measured without holding their footprints: the runs of records projected at a
time, the frame without polygons, and the OSM tables a run drops once it has read them
(lifecircle.sources.buildings, _osm_columns, osm)."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from lifecircle.profiles import PopulationSettings
from lifecircle.sources import _osm_columns
from lifecircle.sources._osm_columns import (
    BuildingTable,
    WkbColumn,
    projected_geometries,
    projected_measures,
)
from lifecircle.sources.buildings import buildings_from_osm, floor_area, homes_of
from lifecircle.sources.osm import NETWORK_TABLES, read_osm, release_tables
from lifecircle.sources.osm_model import OSMData
from tests.conftest import shared_osm

UTM = "EPSG:32632"  # Monaco's zone


@pytest.fixture(scope="module")
def monaco() -> OSMData:
    return read_osm(shared_osm("monaco.osm.pbf"))


def _wkb(geoms: np.ndarray) -> list[bytes]:
    return list(shapely.to_wkb(geoms))


def test_runs_of_records_give_the_geometries_of_the_whole_column(monaco, monkeypatch):
    column = monaco.buildings.wkb
    whole = projected_geometries(column, UTM)
    # runs of 7 records: thousands of run boundaries, and the footprints with holes (which
    # take the slower path) fall inside runs of one-ring ones (projected_measures reads
    # _osm_columns' name; buildings binds its own: test_runs_of_seven_records_... below)
    monkeypatch.setattr(_osm_columns, "PROJECT_CHUNK", 7)
    runs = projected_measures(column, UTM, lambda g: g)
    assert len(runs) == -(-len(column) // 7)
    assert _wkb(np.concatenate(runs)) == _wkb(whole)
    holes = shapely.get_num_interior_rings(shapely.get_geometry(whole, 0)) > 0
    assert holes.sum() >= 1  # the extract has both kinds of record


def test_a_slice_of_a_bigger_buffer_projects_only_its_own_records(monaco):
    column = monaco.buildings.wkb
    lo, hi = 1000, 1500
    view = WkbColumn(column.buf, column.offsets[lo : hi + 1])  # offsets into the whole buffer
    assert _wkb(projected_geometries(view, UTM)) == _wkb(projected_geometries(column, UTM)[lo:hi])


def test_a_square_footprint_measures_its_hand_computed_area():
    # a 20 m x 30 m rectangle drawn in UTM, stored in WGS 84 as the read does
    to_wgs = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
    x0, y0 = 740_000.0, 4_840_000.0
    xs, ys = [x0, x0 + 20, x0 + 20, x0, x0], [y0, y0, y0 + 30, y0 + 30, y0]
    lon, lat = to_wgs.transform(xs, ys)
    ring = shapely.MultiPolygon([shapely.Polygon(np.column_stack([lon, lat]))])
    table = BuildingTable.from_rows([("way", 1, "house", "2", shapely.to_wkb(ring))])
    data = OSMData("square", buildings=table)
    for footprints in (True, False):
        bld = buildings_from_osm(data, UTM, footprints=footprints)
        assert bld["footprint_m2"].iloc[0] == pytest.approx(600.0, rel=1e-6)
        assert x0 < bld["rep_x"].iloc[0] < x0 + 20 and y0 < bld["rep_y"].iloc[0] < y0 + 30
        # a tagged house of two storeys: 2 x 600 m2 of floor
        assert floor_area(bld, PopulationSettings())[0] == pytest.approx(1200.0, rel=1e-6)
    assert bld.geometry.iloc[0] is None


def test_the_frame_without_footprints_holds_the_same_buildings_and_homes(monaco):
    full = buildings_from_osm(monaco, UTM)
    lean = buildings_from_osm(monaco, UTM, footprints=False)
    assert list(lean.columns) == [c for c in full.columns if c != "osm_id"]
    # the lean frame's measures come from the local frame (tests/test_building_rings.py):
    # equal to a part in 1e-8 (area) and within a millimetre (point), the rest the same
    measures = ["rep_x", "rep_y", "footprint_m2"]
    columns = [c for c in lean.columns if c not in ("geometry", *measures)]
    assert lean[columns].equals(full[columns])
    np.testing.assert_allclose(lean["footprint_m2"], full["footprint_m2"], rtol=1e-8)
    np.testing.assert_allclose(lean[["rep_x", "rep_y"]], full[["rep_x", "rep_y"]], atol=1e-3,
                               rtol=0)
    assert full["osm_id"].iloc[0].startswith(("way/", "relation/"))
    assert lean.geometry.isna().all() and not full.geometry.isna().any()
    assert np.array_equal(full["footprint_m2"].to_numpy(), shapely.area(full.geometry.to_numpy()))
    settings = PopulationSettings()
    np.testing.assert_allclose(floor_area(lean, settings), floor_area(full, settings), rtol=1e-8)
    # the homes of either, and of a frame of polygons only (measured again), are the same
    # (the lean frame's to the same tolerances)
    by_polygon = full.drop(columns=measures)
    homes = [homes_of(b, settings) for b in (full, lean, by_polygon)]
    assert homes[0].points.shape[0] == full["residential"].sum() > 10_000
    for a, b in zip(homes[0], homes[2], strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(homes[0], homes[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-3 if a.ndim == 2 else 0)


def test_released_tables_are_emptied_and_the_others_kept(monaco):
    data = read_osm(shared_osm("monaco.osm.pbf"))
    ways, gates = len(data.way_ids), len(data.gates)
    assert len(data.buildings) == len(monaco.buildings) > 0 and len(data.pois) > 0
    release_tables(data, ("buildings", "pois"))
    assert len(data.buildings) == 0 and len(data.pois) == 0
    assert len(data.way_ids) == ways > 0 and len(data.gates) == gates
    release_tables(data, NETWORK_TABLES)
    assert len(data.way_ids) == 0 and data.refs.size == 0 and data.ref_lon.size == 0
    assert data.way_ptr.tolist() == [0]  # an empty table, as a fresh OSMData has it
    with pytest.raises(AttributeError):
        release_tables(data, ("no_such_table",))


def _ring_blobs(column: WkbColumn) -> list[bytes]:
    ends = column.offsets
    return [column.buf[ends[k] : ends[k + 1]].tobytes() for k in range(len(ends) - 1)]


@pytest.mark.parametrize("stray_lon", [60.0, 120.0, -170.0])
def test_a_stray_building_far_away_leaves_the_city_measured_to_1e_8(monaco, stray_lon):
    # the lattice once grew to span every footprint in 128 steps: one building on another
    # continent made it coarse for the whole city (1.1e-7 of the area at lon -170); its step
    # is now fixed and the footprints off it are projected vertex by vertex
    from lifecircle.sources.buildings import _ring_measures

    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    stray = shapely.MultiPolygon([shapely.Polygon(np.array([stray_lon, 43.7]) + 3e-4 * square)])
    column = WkbColumn.from_blobs([*_ring_blobs(monaco.buildings.wkb),
                                   shapely.to_wkb(stray, byte_order=1)])
    area, _ = _ring_measures(column, UTM)
    exact = shapely.area(projected_geometries(column, UTM))  # pyproj vertex by vertex, GEOS
    assert np.isfinite(exact).all() and len(exact) > 1000
    assert np.abs(area / exact - 1).max() < 1e-8


def test_runs_of_seven_records_measure_as_one_run(monaco, monkeypatch):
    # the name _ring_measures reads (buildings binds PROJECT_CHUNK by value): runs of 7
    # records make the lattice again and again as the box widens, on the same nodes
    from lifecircle.sources import buildings

    column = monaco.buildings.wkb
    area, points = buildings._ring_measures(column, UTM)
    monkeypatch.setattr(buildings, "PROJECT_CHUNK", 7)
    runs_area, runs_points = buildings._ring_measures(column, UTM)
    assert np.abs(runs_area / area - 1).max() < 1e-10
    assert np.hypot(*(runs_points - points).T).max() < 1e-8


def test_without_a_lattice_every_footprint_is_measured_vertex_by_vertex(monaco, monkeypatch):
    # where the projection is not finite on the lattice (local_frame gives None) the rings
    # are projected vertex by vertex: the same measures as the frame's to 1e-8
    from lifecircle.sources import _footprint_frame, buildings

    column = monaco.buildings.wkb
    area, points = buildings._ring_measures(column, UTM)
    monkeypatch.setattr(_footprint_frame, "local_frame", lambda *args: None)
    exact_area, exact_points = buildings._ring_measures(column, UTM)
    assert not np.array_equal(area, exact_area)  # the frame's are not the bits of GEOS's
    assert np.abs(area / exact_area - 1).max() < 1e-8
    assert np.hypot(*(points - exact_points).T).max() < 1e-3
    exact = shapely.area(projected_geometries(column, UTM))
    assert np.array_equal(exact_area, exact)
