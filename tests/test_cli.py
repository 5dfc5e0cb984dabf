"""The CLI end to end: the output contract, and one clear line for every bad input."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from click.testing import CliRunner

from lifecircle.cli import cli
from lifecircle.outputs.geopackage import read_metadata
from tests.conftest import shared_osm

SNAP = ["snap_u", "snap_v", "snap_key", "snap_along_m", "snap_dist_m"]


def assert_contract(out: Path, categories: list[str]) -> None:
    """What every finished run folder must hold (design.md §4, issue 2 item 8)."""
    success = json.loads((out / "_SUCCESS.json").read_text())
    for name in ("lifecircle.gpkg", "report.json", "report.md"):
        assert name in success["files"]
        assert success["files"][name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    gpkg = out / "lifecircle.gpkg"
    layers = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    assert {"blocks", "access_points", "facilities", "edges", "run_metadata"} <= layers
    edges = gpd.read_file(gpkg, layer="edges")
    assert {"u", "v", "key", "length_m"} <= set(edges.columns)
    assert edges.crs is not None and edges.crs.is_projected
    assert (edges["length_m"] >= 0).all()
    for layer in ("access_points", "facilities"):
        frame = gpd.read_file(gpkg, layer=layer)
        assert set(SNAP) <= set(frame.columns), layer
    blocks = gpd.read_file(gpkg, layer="blocks")
    aps = gpd.read_file(gpkg, layer="access_points")
    for c in categories:
        for frame in (blocks, aps):
            t = frame[f"walk_min_{c}"].to_numpy(dtype=float)
            # unreachable is NaN: never negative, never a sentinel like -999 or 4294967.295
            finite = t[np.isfinite(t)]
            assert (finite >= 0).all() and (finite < 1000).all()
    meta = read_metadata(gpkg)
    assert meta["walk_speed_kmh"] > 0
    assert meta["threshold_min"] > 0
    files = [v for v in meta["inputs"].values() if isinstance(v, dict) and "path" in v]
    assert all(len(v["sha256"]) == 64 for v in files)
    assert "network" in meta["timings_s"]
    report = json.loads((out / "report.json").read_text())
    assert set(report["summary"]["categories"]) == set(categories)


def test_default_run_as_the_readme_says(tmp_path):
    """`lifecircle run` with no input options: the bundled extract, the full contract."""
    out = tmp_path / "lifecircle-out"
    proc = subprocess.run([sys.executable, "-m", "lifecircle", "run", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Elderly care" in proc.stdout
    assert_contract(out, ["elderly_care", "childcare", "health", "fitness", "retail"])
    meta = read_metadata(out / "lifecircle.gpkg")
    assert meta["walk_speed_kmh"] == 4.8
    assert Path(meta["inputs"]["osm"]["path"]).name == "helsinki.osm.pbf"


def test_nanjing_cli_contract(tmp_path):
    out = tmp_path / "nj"
    res = CliRunner().invoke(cli, ["run", "--osm", str(shared_osm("nanjing_xinjiekou.osm.gz")),
                                   "--out", str(out), "--speed-kmh", "3.6", "-q"])
    assert res.exit_code == 0, res.output
    assert_contract(out, ["elderly_care", "childcare", "health", "fitness", "retail"])
    meta = read_metadata(out / "lifecircle.gpkg")
    assert meta["walk_speed_kmh"] == 3.6
    blocks = gpd.read_file(out / "lifecircle.gpkg", layer="blocks")
    assert len(blocks) >= 20
    # Nanjing has hospitals and supermarkets: most blocks have some health access
    assert np.isfinite(blocks["walk_min_health"]).mean() > 0.5


def test_overwrite_is_required(tmp_path):
    out = tmp_path / "o"
    runner = CliRunner()
    assert runner.invoke(cli, ["run", "--out", str(out), "-q"]).exit_code == 0
    first = (out / "_SUCCESS.json").read_bytes()
    res = runner.invoke(cli, ["run", "--out", str(out), "-q"])
    assert res.exit_code == 2
    assert "--overwrite" in res.output
    assert (out / "_SUCCESS.json").read_bytes() == first
    assert runner.invoke(cli, ["run", "--out", str(out), "-q", "--overwrite"]).exit_code == 0


def test_version_lists_geo_stack():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0
    for name in ("lifecircle", "geopandas", "shapely", "osmnx", "rasterio", "GDAL", "PROJ"):
        assert name in res.output


# bad inputs: the parametrised table in tests/test_bad_inputs.py


def test_unreachable_is_nan_in_gpkg(tmp_path, grid_case):
    res = CliRunner().invoke(cli, [
        "run", "--osm", str(grid_case.graphml), "--facilities", str(grid_case.facilities),
        "--blocks", str(grid_case.blocks), "--out", str(tmp_path / "g"), "-q",
        "--category", "health"])
    assert res.exit_code == 0, res.output
    blocks = gpd.read_file(tmp_path / "g" / "lifecircle.gpkg", layer="blocks")
    assert all(math.isnan(v) for v in blocks["walk_min_health"])


def test_facility_columns_are_mappable(tmp_path):
    """A POI table with its own column names: mapped by options, replaces OSM's retail."""
    csv = tmp_path / "pois.csv"
    csv.write_text("编号,类别,名称,E,N\nS1,retail,超市一号,24.9440,60.1700\n"
                   "S2,retail,便利店,24.9420,60.1680\n", encoding="utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, [
        "run", "--facilities", str(csv), "--category-col", "类别", "--name-col", "名称",
        "--id-col", "编号", "--x-col", "E", "--y-col", "N", "--facilities-crs", "EPSG:4326",
        "--category", "retail", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    fac = gpd.read_file(out / "lifecircle.gpkg", layer="facilities")
    retail = fac[fac["category"] == "retail"]
    assert sorted(retail["facility_id"]) == ["user/S1", "user/S2"]
    assert set(retail["name"]) == {"超市一号", "便利店"}
    assert (retail["snap_dist_m"] < 300).all()
