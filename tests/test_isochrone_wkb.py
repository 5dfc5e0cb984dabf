"""City outlines written as WKB straight from their integer rings (lifecircle.isochrones.wkb)
against the GEOS polygons of the same rings, and the streamed layer they make."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import lifecircle.isochrones as iso
from lifecircle.isochrones.rings import bands_from_tiles
from lifecircle.isochrones.wkb import EMPTY_WKB, Wkb, as_bytes, decoded_frame
from tests.test_isochrone_rings import outline, random_labels


def _tiles(label: np.ndarray, n: int, tile: int) -> list:
    from lifecircle.isochrones.rings import tile_rings

    h, w = label.shape
    return [tile_rings(np.ascontiguousarray(label[j0:j0 + tile + 1, i0:i0 + tile + 1]), n,
                       (i0, j0), (i0, j0), w)
            for j0 in range(0, h - 1, tile) for i0 in range(0, w - 1, tile)]


@pytest.mark.parametrize("cumulative", [True, False])
def test_wkb_is_the_geos_polygon(cumulative):
    """The same vertices in the same order (equal to the bit), rings with holes and islands
    in holes, tiles linked across seams; the area from the integer shoelace is GEOS's."""
    rng = np.random.default_rng(3)
    origin = np.array([312_345.5, 3_456_789.25])
    for k in range(40):
        n = int(rng.integers(1, 5))
        label = random_labels(rng, n, (int(rng.integers(4, 30)), int(rng.integers(4, 30))),
                              smooth=bool(k % 2))
        tile = int(rng.integers(2, 9))
        geos = bands_from_tiles(_tiles(label, n, tile), n, cumulative, origin, 10.0)
        wkb = bands_from_tiles(_tiles(label, n, tile), n, cumulative, origin, 10.0, wkb=True)
        for g, w in zip(geos, wkb, strict=True):
            assert isinstance(w, Wkb)
            back = w.geometry()
            assert shapely.get_type_id(back) == 6  # a MultiPolygon, even when empty
            assert shapely.equals_exact(back, g, tolerance=0.0)
            assert w.area == pytest.approx(g.area, rel=1e-12, abs=1e-9)


def test_holes_count_against_the_area():
    """A ring band (level 1 minus level 0) subtracts its holes: its area is level 1's minus
    level 0's, computed from the integers alone."""
    label = np.full((12, 12), 2, np.uint8)
    label[2:10, 2:10] = 1
    label[4:7, 4:7] = 0
    cum = outline(label, 2, True)
    tiles = _tiles(label, 2, 5)
    ring = bands_from_tiles(tiles, 2, False, np.zeros(2), 1.0, wkb=True)
    assert ring[1].area == pytest.approx(cum[1].area - cum[0].area, rel=1e-12)
    assert len(ring[1].geometry().geoms[0].interiors) == 1


def test_empty_and_geos_made_wkb():
    assert shapely.from_wkb(EMPTY_WKB).equals(shapely.MultiPolygon())
    w = Wkb.of(shapely.box(0, 0, 2, 3))  # a Polygon (vector unions) becomes a MultiPolygon
    assert shapely.get_type_id(w.geometry()) == 6 and w.area == 6.0
    assert as_bytes(np.frombuffer(EMPTY_WKB, np.uint8).copy()) == EMPTY_WKB


def test_streamed_city_rows_are_the_geos_rows(tmp_path, monkeypatch):
    """A category outlined in 16-cell tiles (the city path): the WKB rows a run streams are
    the GEOS rows of :func:`category_isochrones`, and the layer read back holds them."""
    import geopandas as gpd

    from lifecircle.isochrones import bands, polygons
    from lifecircle.outputs.isochrone_file import append_isochrones, read_isochrones
    from tests.helpers import monaco_sources

    monkeypatch.setattr(polygons, "TILE_CELLS", 16)
    net, xy, src, nodes = monaco_sources(4, seed=5, offset_m=7.0, limit_m=800.0)
    kw = dict(category="x", speed_kmh=4.8, points_xy=(xy[:, 0], xy[:, 1]))
    opt = bands._Bands.of({"bands_min": [4.0, 8.0]})
    geos = iso.category_isochrones(net, nodes, src, bands_min=[4.0, 8.0], **kw)
    frames = list(bands._category(net, nodes, src, opt, wkb=True, **kw))
    assert len(frames) == 2  # a row per band, each built when the previous one was taken
    assert all(not isinstance(f, gpd.GeoDataFrame) and f.attrs["crs"] == net.crs
               for f in frames)
    rows = pd.concat(frames, ignore_index=True)
    back = decoded_frame(rows, net.crs)
    assert shapely.equals_exact(back.geometry.to_numpy(), geos.geometry.to_numpy(), 0.0).all()
    np.testing.assert_allclose(rows["area_m2"], geos["area_m2"], rtol=1e-12)
    gpkg = tmp_path / "iso.gpkg"
    gpd.GeoDataFrame({"n": [0]}, geometry=gpd.points_from_xy([0.0], [0.0]),
                     crs=net.crs).to_file(gpkg, layer="blocks")
    n = append_isochrones(gpkg, [rows, geos], empty=iso.empty_isochrones(net.crs))
    layer = read_isochrones(gpkg)
    assert n == len(layer) == 2 * len(geos)
    assert pyogrio.read_info(gpkg, layer="isochrones")["geometry_type"] == "MultiPolygon"
    for half in (layer.iloc[:len(geos)], layer.iloc[len(geos):]):
        assert shapely.equals_exact(half.geometry.to_numpy(), geos.geometry.to_numpy(),
                                    0.0).all()
        assert (half["band_min"].to_numpy() == geos["band_min"].to_numpy()).all()


def test_run_table_keeps_no_crs_in_attrs():
    """The in-memory table (rows decoded from WKB) carries its CRS as a GeoDataFrame does,
    and only ``settings`` in ``attrs`` (GeoParquet stores ``attrs`` as JSON)."""
    import json

    from lifecircle.isochrones.wkb import encoded_frame

    frame = iso.empty_isochrones("EPSG:32650")
    frame.loc[0, "category"] = "x"
    frame = frame.set_geometry([shapely.MultiPolygon([shapely.box(0, 0, 1, 1)])],
                               crs="EPSG:32650")
    rows = encoded_frame(frame)
    assert rows.attrs["crs"] == frame.crs
    back = decoded_frame(rows, frame.crs)
    assert back.crs == frame.crs and "crs" not in back.attrs
    json.dumps(back.attrs)
    assert shapely.equals_exact(back.geometry.to_numpy(), frame.geometry.to_numpy(), 0.0).all()


def test_pages_go_back_once_a_category(monkeypatch, tmp_path):
    """A streamed layer's freed pages go back to the system once a category (when the next
    category's first row comes, and after the last), not after every band's row: rows of
    categories a, a, b, b, b trim twice, and every row is written."""
    import geopandas as gpd

    from lifecircle.isochrones.wkb import encoded_frame
    from lifecircle.outputs import isochrone_file

    trims = []
    monkeypatch.setattr(isochrone_file, "release_freed", lambda: trims.append(1) or True)
    empty = iso.empty_isochrones("EPSG:32650")

    def row(category: str, band: float) -> pd.DataFrame:
        frame = empty.copy()
        frame.loc[0, ["category", "facility_id"]] = [category, "all"]
        frame.loc[0, ["band_from_min", "band_min"]] = [band - 5.0, band]
        frame = frame.set_geometry([shapely.MultiPolygon([shapely.box(0, 0, band, 1)])],
                                   crs="EPSG:32650")
        return encoded_frame(frame)

    frames = [row("a", 5.0), row("a", 10.0), row("b", 5.0), row("b", 10.0), row("b", 15.0)]
    gpkg = tmp_path / "iso.gpkg"
    gpd.GeoDataFrame({"n": [0]}, geometry=gpd.points_from_xy([0.0], [0.0]),
                     crs="EPSG:32650").to_file(gpkg, layer="blocks")
    assert isochrone_file.append_isochrones(gpkg, iter(frames), empty=empty) == 5
    assert len(trims) == 2
    layer = isochrone_file.read_isochrones(gpkg)
    assert layer["category"].tolist() == ["a", "a", "b", "b", "b"]
    assert layer.geometry.area.tolist() == [5.0, 10.0, 5.0, 10.0, 15.0]
