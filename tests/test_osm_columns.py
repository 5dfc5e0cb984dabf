"""The loader's columnar storage: WKB columns, building and POI tables, in-buffer projection.

Properties against plain lists of ``bytes`` (the layout they replace), and the projection of
real footprints against geopandas' ``to_crs`` (coordinates identical, not just close).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.sources._osm_columns import (
    BuildingTable,
    HexChunks,
    PoiTable,
    WkbColumn,
    projected_geometries,
    read_only,
    ring_lonlat,
)
from lifecircle.sources.access_points import utm_of
from lifecircle.sources.osm import OSMData, read_osm
from tests.conftest import shared_osm

records = st.lists(st.binary(max_size=12), max_size=30)


@settings(max_examples=200, deadline=None)
@given(records, st.data())
def test_take_and_compact_select_like_a_list(blobs, data):
    column = WkbColumn.from_blobs(blobs)
    assert column.blobs() == blobs
    assert [column[i] for i in range(len(blobs))] == blobs
    index = data.draw(st.lists(st.integers(0, max(len(blobs) - 1, 0)), max_size=10)
                      if blobs else st.just([]))
    assert column.take(np.asarray(index, dtype=np.int64)).blobs() == [blobs[i] for i in index]
    got = column.records(np.asarray(index, dtype=np.int64))
    assert got == [blobs[i] for i in index] and all(type(b) is bytes for b in got)
    rising = sorted(set(index))
    extra = data.draw(st.lists(st.binary(max_size=5), max_size=3))
    room = sum(map(len, extra))
    buf = np.concatenate([column.buf, np.zeros(room, dtype=np.uint8)])
    spare = WkbColumn(buf, column.offsets.copy())
    compacted = spare.compact(np.asarray(rising, dtype=np.int64), extra)
    assert compacted.blobs() == [blobs[i] for i in rising] + extra
    assert compacted.buf is buf  # written over the same buffer: no second copy
    # without room (a read-only buffer) it copies, with the same records
    again = WkbColumn.from_blobs(blobs).compact(np.asarray(rising, dtype=np.int64), extra)
    assert again.blobs() == [blobs[i] for i in rising] + extra


@given(st.lists(records, max_size=4))
def test_concat_is_list_concatenation(parts):
    columns = [WkbColumn.from_blobs(p) for p in parts]
    assert WkbColumn.concat(columns).blobs() == [b for p in parts for b in p]


@given(st.lists(st.binary(max_size=40), max_size=50))
def test_hex_chunks_decode_every_record_in_order(blobs):
    chunk, HexChunks.CHUNK = HexChunks.CHUNK, 7  # several chunks
    try:
        chunks = HexChunks()
        for b in blobs:
            chunks.append(b.hex())
        assert bytes(chunks.to_bytes()) == b"".join(blobs)
    finally:
        HexChunks.CHUNK = chunk


def test_tables_yield_the_rows_they_were_built_from():
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    pois = [("node", 1, 2.5, 3.5, {"amenity": "cafe", "name": "A"}, None),
            ("way", 7, float("nan"), float("nan"), {"shop": "bakery"}, square)]
    table = PoiTable.from_rows(pois)
    rows = list(table)
    assert rows[0] == pois[0]
    assert rows[1][:2] == ("way", 7) and rows[1][4:] == pois[1][4:]
    assert list(table.areas()) == [("way", 7, {"shop": "bakery"}, square)]
    buildings = [("way", 5, "yes", None, square), ("relation", 5, "house", "2", square)]
    btable = BuildingTable.from_rows(buildings)
    assert list(btable) == buildings
    assert btable.keys().tolist() == [10, 11]  # way and relation ids kept apart
    assert btable.labels() == ["way/5", "relation/5"]
    # OSMData built from rows (the layout before the tables) turns them into tables
    data = OSMData("x", pois=pois, buildings=buildings)  # type: ignore[arg-type]
    assert isinstance(data.pois, PoiTable) and list(data.buildings) == buildings


def test_projection_in_the_buffer_equals_to_crs_on_real_footprints():
    """Monaco: tens of thousands of closed-way footprints and some multipolygon relations."""
    table = read_osm(shared_osm("monaco.osm.pbf")).buildings
    assert (table.osm_type == "relation").any() and (table.osm_type == "way").any()
    wgs = gpd.GeoSeries(table.wkb.geometries(), crs=4326)
    crs = utm_of(wgs)
    want = wgs.to_crs(crs).to_numpy()
    got = projected_geometries(table.wkb, crs)
    np.testing.assert_array_equal(shapely.get_type_id(got), shapely.get_type_id(want))
    np.testing.assert_array_equal(shapely.get_coordinates(got), shapely.get_coordinates(want))
    assert shapely.equals_exact(got, want, tolerance=0).all()


def test_kernels_get_one_specialization_whoever_wrote_the_buffer():
    """A column over ``bytes`` (read-only) and one over a built array (writable) give the same
    rings, through one compiled specialization of each kernel (an array's writeability is
    part of numba's type: a second one is a second cache load per run)."""
    from lifecircle.sources._footprint_kernels import one_rings, ring_bytes
    from lifecircle.sources._osm_kernels import copy_spans

    square = shapely.MultiPolygon([shapely.box(7.0, 43.0, 7.5, 43.25)])
    blobs = [shapely.to_wkb(square, flavor="iso"), shapely.to_wkb(shapely.Point(1, 2))]
    frozen = WkbColumn.from_blobs(blobs)
    assert not frozen.buf.flags.writeable
    built = WkbColumn.concat([WkbColumn.from_blobs(blobs)])
    assert built.buf.flags.writeable
    for got in (ring_lonlat(frozen), ring_lonlat(built)):
        np.testing.assert_array_equal(got[0], [True, False])
        np.testing.assert_array_equal(got[1], shapely.get_coordinates(square))
        np.testing.assert_array_equal(got[2], [5])
    assert built.take(np.array([1, 0])).blobs() == blobs[::-1]
    assert frozen.take(np.array([1, 0])).blobs() == blobs[::-1]
    for kernel in (one_rings, ring_bytes, copy_spans):
        assert kernel.signatures and all(not sig[0].mutable for sig in kernel.signatures)
    assert len(one_rings.signatures) == len(ring_bytes.signatures) == 1
    assert {sig[0].dtype.name for sig in copy_spans.signatures} <= {"uint8", "int32"}
    assert len(copy_spans.signatures) == len({sig[0].dtype for sig in copy_spans.signatures})


def test_read_only_is_a_view_not_a_copy():
    a = np.arange(4, dtype=np.int32)
    view = read_only(a)
    assert not view.flags.writeable and np.shares_memory(view, a) and a.flags.writeable
    assert read_only(view) is view


rings_xy = st.lists(
    st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=3, max_size=7),
    min_size=1, max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(rings_xy, st.floats(1e-6, 1e-3), st.floats(-180, 180), st.floats(-80, 80))
def test_convex_shortcut_never_passes_an_invalid_ring(rings, scale, x0, y0):
    """The loader's convex fast path (closed_way_polygons) against GEOS: every ring it calls
    valid is a valid polygon, and every result equals GEOS's is_valid on the ring."""
    from lifecircle.sources._osm_arrays import _clearly_convex, closed_way_polygons

    closed = [[*r, r[0]] for r in rings]
    raw = b"".join(shapely.to_wkb(shapely.linestrings(
        [(x0 + scale * x, y0 + scale * y) for x, y in r]), byte_order=1) for r in closed)
    counts = np.asarray([len(r) for r in closed])
    _, valid = closed_way_polygons(raw, counts)
    for ring, ok in zip(closed, valid, strict=True):
        xy = [(x0 + scale * x, y0 + scale * y) for x, y in ring]
        kept = [p for i, p in enumerate(xy) if i == 0 or p != xy[i - 1]]
        assert ok == (len(kept) >= 4 and shapely.is_valid(shapely.Polygon(kept)))
    # the shortcut alone never calls an invalid ring valid
    deduped = [[p for i, p in enumerate(r) if i == 0 or p != r[i - 1]] for r in closed]
    scaled = [[(x0 + scale * x, y0 + scale * y) for x, y in r] for r in deduped]
    coords = np.asarray([p for r in scaled for p in r], dtype=np.float64)
    fast = _clearly_convex(coords, np.asarray([len(r) for r in scaled]))
    for ring, quick in zip(scaled, fast.tolist(), strict=True):
        if quick:
            assert len(ring) >= 4 and shapely.is_valid(shapely.Polygon(ring))
    # axis-aligned rectangles (most footprints) take the shortcut
    square = [(0, 0), (2, 0), (2, 1), (0, 1), (0, 0)]
    sq = np.asarray([(x0 + scale * x, y0 + scale * y) for x, y in square])
    assert _clearly_convex(sq, np.asarray([5])).all()
