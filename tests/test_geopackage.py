"""The GeoPackage writer on hand-made layers: the Arrow path keeps every value, type and CRS
QGIS reads, and the edges layer keeps ``edge_id`` once, as its feature id."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from lifecircle.outputs.geopackage import (
    layer_names,
    read_layers,
    read_metadata,
    write_geopackage,
)

CRS = "EPSG:32650"


def _edges(ids: list[int]) -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(i, 0), (i + 1, 0), (i + 1, 2)]) for i in range(len(ids))]
    return gpd.GeoDataFrame(
        {"edge_id": np.array(ids, dtype=np.int64), "u": np.arange(len(ids)) + 10,
         "v": np.arange(len(ids)) + 11, "key": np.zeros(len(ids), dtype=np.int64),
         "length_m": [3.0] * len(ids), "name": ["Main St", None, "中山路"][:len(ids)]},
        geometry=lines, crs=CRS)


def _blocks() -> gpd.GeoDataFrame:
    one = shapely.box(0, 0, 10, 10)
    two = shapely.MultiPolygon([shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)])
    return gpd.GeoDataFrame(
        {"block_id": ["a", "b"], "population": [12.5, np.nan],
         "gate_osm_id": pd.Series([None, 4242], dtype=object),
         "snap_u": pd.array([7, None], dtype="Int64"), "complete": [True, False]},
        geometry=[one, two], crs=CRS)


def test_layers_round_trip_with_types_and_crs(tmp_path):
    path = tmp_path / "out.gpkg"
    write_geopackage(path, {"blocks": _blocks(), "edges": _edges([0, 1, 2]), "none": None},
                     {"version": "x", "timings_s": {"load": 1.5}})
    names = dict(pyogrio.list_layers(path))
    assert set(names) == {"blocks", "edges", "run_metadata"}
    info = pyogrio.read_info(path, layer="blocks")
    # a Polygon beside a MultiPolygon: the layer is MultiPolygon (one declared type)
    assert info["geometry_type"] == "MultiPolygon" and info["crs"] == CRS
    blocks = read_layers(path, ["blocks"])["blocks"]
    assert blocks["block_id"].tolist() == ["a", "b"]
    assert blocks["population"][0] == 12.5 and math.isnan(blocks["population"][1])
    assert pd.isna(blocks["gate_osm_id"][0]) and blocks["gate_osm_id"][1] == "4242"  # as text
    assert blocks["snap_u"].tolist()[0] == 7 and pd.isna(blocks["snap_u"][1])
    assert blocks["complete"].tolist() == [True, False]
    assert blocks.geometry[0].equals(shapely.MultiPolygon([shapely.box(0, 0, 10, 10)]))
    assert blocks.geometry[1].equals(_blocks().geometry[1])
    assert read_metadata(path) == {"version": "x", "timings_s": {"load": 1.5}}


def test_edge_id_is_the_feature_id_and_read_back_as_a_column(tmp_path):
    path = tmp_path / "out.gpkg"
    edges = _edges([0, 1, 2])
    write_geopackage(path, {"edges": edges}, {})
    info = pyogrio.read_info(path, layer="edges")
    assert info["fid_column"] == "edge_id"
    assert "edge_id" not in list(info["fields"])  # not a second column of the same numbers
    assert info["geometry_type"] == "LineString"
    back = read_layers(path, ["edges"])["edges"]
    assert list(back.columns[:5]) == ["edge_id", "u", "v", "key", "length_m"]
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(edges.drop(columns="geometry")),
                                  check_dtype=False)
    assert all(a.equals(b) for a, b in zip(back.geometry, edges.geometry, strict=True))
    # what a plain reader (QGIS, the oracle's gpd.read_file) sees: every field but the id
    plain = gpd.read_file(path, layer="edges")
    assert plain["u"].tolist() == [10, 11, 12] and plain["name"].tolist()[2] == "中山路"


def test_edge_ids_that_cannot_be_feature_ids_stay_a_column(tmp_path):
    path = tmp_path / "out.gpkg"
    write_geopackage(path, {"edges": _edges([5, 5, 6])}, {})
    info = pyogrio.read_info(path, layer="edges")
    assert info["fid_column"] == "fid" and "edge_id" in list(info["fields"])
    assert read_layers(path, ["edges"])["edges"]["edge_id"].tolist() == [5, 5, 6]


def test_parquet_format_puts_the_big_layers_beside_the_geopackage(tmp_path):
    path = tmp_path / "lifecircle.gpkg"
    sites = gpd.GeoDataFrame({"rank": [1]}, geometry=[shapely.Point(1, 1)], crs=CRS)
    written = write_geopackage(
        path, {"blocks": _blocks(), "proposed_sites": sites, "edges": _edges([0, 1, 2])},
        {"version": "x"}, layer_format="parquet")
    assert [p.name for p in written] == ["lifecircle.gpkg", "blocks.parquet", "edges.parquet"]
    assert {str(n) for n, _ in pyogrio.list_layers(path)} == {"proposed_sites", "run_metadata"}
    assert read_metadata(path)["layer_files"] == {"blocks": "blocks.parquet",
                                                  "edges": "edges.parquet"}
    assert layer_names(path) == ["proposed_sites", "blocks", "edges"]
    layers = read_layers(tmp_path)
    assert set(layers) == {"proposed_sites", "blocks", "edges"}
    assert layers["edges"]["edge_id"].tolist() == [0, 1, 2]
    assert layers["edges"].crs == CRS and layers["blocks"].crs == CRS
    assert layers["blocks"]["gate_osm_id"][1] == "4242"
    assert layers["blocks"].geometry[1].equals(_blocks().geometry[1])


def test_parquet_run_rederives_and_redraws_its_map(tmp_path, grid_case):
    """`lifecircle run --format parquet` on the hand-computable grid: the blocks and edges
    are GeoParquet files, every time still re-derives from the edges (the oracle), and the map
    of the finished run draws from them."""
    from click.testing import CliRunner

    from lifecircle.cli import cli
    from lifecircle.outputs.products import map_from_run
    from tests.helpers import oracle_distances

    out = tmp_path / "run"
    res = CliRunner().invoke(cli, [
        "run", str(grid_case.graphml), "--facilities", str(grid_case.facilities),
        "--blocks", str(grid_case.blocks), "--out", str(out), "--format", "parquet",
        "--no-figures", "--no-rasters", "--tiles", "none", "-q"])
    assert res.exit_code == 0, res.output
    success = json.loads((out / "_SUCCESS.json").read_text())
    assert {"blocks.parquet", "access_points.parquet", "facilities.parquet",
            "edges.parquet"} <= set(success["files"])
    layers = read_layers(out)
    fac = layers["facilities"]
    reported = layers["access_points"]["walk_m_retail"].to_numpy(dtype=float)
    oracle = oracle_distances(layers["edges"], fac[fac["category"] == "retail"],
                              layers["access_points"])
    # 250, 220 and 340 m by hand (tests/helpers.py); B4 is unreachable (NaN; the oracle: inf)
    np.testing.assert_allclose(reported[:3], [250.0, 220.0, 340.0], atol=0.01)
    np.testing.assert_allclose(reported[:3], oracle[:3], atol=0.01)
    assert np.isnan(reported[3]) and np.isinf(oracle[3])
    assert map_from_run(out, out=tmp_path / "again.html", tiles=None).is_file()


def test_layers_stream_in_batches_with_one_type_and_one_schema(tmp_path, monkeypatch):
    """Batches of 2 rows: a Polygon batch and a MultiPolygon batch still make one MultiPolygon
    layer; a text column that is all missing in one batch keeps its type; an empty layer is
    written with its fields."""
    from lifecircle.outputs import geopackage

    monkeypatch.setattr(geopackage, "BATCH_ROWS", 2)
    polys = [shapely.box(i, 0, i + 1, 1) for i in range(3)]
    polys.append(shapely.MultiPolygon([shapely.box(9, 0, 10, 1), shapely.box(11, 0, 12, 1)]))
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c", "d"], "note": pd.Series([None, None, "x", None], dtype=object),
         "n": [1, 2, 3, 4]}, geometry=polys, crs=CRS)
    path = tmp_path / "out.gpkg"
    write_geopackage(path, {"blocks": frame, "isochrones": frame.iloc[:0],
                            "edges": _edges([0, 1, 2])}, {})
    assert pyogrio.read_info(path, layer="blocks")["geometry_type"] == "MultiPolygon"
    back = read_layers(path)
    assert back["blocks"]["id"].tolist() == ["a", "b", "c", "d"]
    assert back["blocks"]["note"].fillna("").tolist() == ["", "", "x", ""]
    assert back["blocks"]["n"].tolist() == [1, 2, 3, 4]
    assert back["blocks"].geometry[3].equals(polys[3])
    assert back["edges"]["edge_id"].tolist() == [0, 1, 2]
    assert len(back["isochrones"]) == 0
    assert {"id", "note", "n"} <= set(back["isochrones"].columns)


def test_columns_held_as_arrow_chunks_are_written(tmp_path):
    """A text column concatenated from frames is Arrow chunks inside pandas (as the
    isochrone layer's are): written as one column."""
    import pyarrow as pa

    parts = [gpd.GeoDataFrame({"category": pd.array([c], dtype="string[pyarrow]")},
                              geometry=[shapely.Point(i, 0)], crs=CRS)
             for i, c in enumerate(["shop", "care"])]
    frame = pd.concat(parts, ignore_index=True)
    assert isinstance(pa.array(frame["category"], from_pandas=True), pa.ChunkedArray)
    write_geopackage(tmp_path / "out.gpkg", {"isochrones": frame}, {})
    back = read_layers(tmp_path / "out.gpkg")["isochrones"]
    assert back["category"].tolist() == ["shop", "care"]


def test_append_adds_the_layers_to_a_geopackage_another_writer_began(tmp_path):
    """``append``: the layers join the file's own (an early worker's isochrone layer) as the
    same layers in a new file would be, and a layer the file has already is refused."""
    import pytest

    fresh, began = tmp_path / "fresh.gpkg", tmp_path / "began.gpkg"
    first = gpd.GeoDataFrame({"category": ["retail"]}, geometry=[shapely.box(0, 0, 1, 1)],
                             crs=CRS)
    pyogrio.write_dataframe(first, began, layer="isochrones", driver="GPKG")
    layers = {"blocks": _blocks(), "edges": _edges([0, 1, 2])}
    write_geopackage(fresh, layers, {"version": "x"})
    write_geopackage(began, {**layers, "isochrones": None}, {"version": "x"}, append=True)
    assert set(layer_names(began)) == {"isochrones", "blocks", "edges"}
    for name in layers:
        a = pyogrio.read_arrow(fresh, layer=name)[1]
        assert a.equals(pyogrio.read_arrow(began, layer=name)[1]), name
    assert read_layers(began, ["isochrones"])["isochrones"]["category"].tolist() == ["retail"]
    assert read_metadata(began) == {"version": "x"}
    with pytest.raises(ValueError, match="blocks"):
        write_geopackage(began, {"blocks": _blocks()}, {}, append=True)
