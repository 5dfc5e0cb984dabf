"""The CLI end to end: the output contract, and one clear line for every bad input."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from lifecircle.cli import cli
from lifecircle.outputs.geopackage import read_metadata
from lifecircle.pipeline import default_osm
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


# ---------------------------------------------------------------------------------------------
# bad inputs: one line, the right exit code, no _SUCCESS.json, inputs unchanged

NO_WALKABLE_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="32.04" lon="118.78"/>
  <node id="2" lat="32.041" lon="118.78"/>
  <node id="3" lat="32.041" lon="118.781"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/>
    <tag k="building" v="yes"/></way>
  <way id="11"><nd ref="1"/><nd ref="3"/><tag k="highway" v="motorway"/></way>
</osm>
"""


def _case_files(tmp: Path) -> dict[str, tuple[list[str], int, str]]:
    """name -> (CLI args, exit code, text expected in the message)."""
    empty = tmp / "empty.osm.pbf"
    empty.write_bytes(b"")
    truncated = tmp / "truncated.osm.pbf"
    truncated.write_bytes(default_osm().read_bytes()[:300_000])
    html = tmp / "error.osm.pbf"
    html.write_text("<html><body>504 Gateway Timeout</body></html>")
    nowalk = tmp / "nowalk.osm"
    nowalk.write_text(NO_WALKABLE_OSM)
    gz = tmp / "bad.osm.gz"
    gz.write_bytes(gzip.compress(b"<osm>")[:10])
    nocrs = tmp / "nocrs.gpkg"
    pts = gpd.GeoDataFrame({"category": ["retail"]}, geometry=[shapely.Point(24.94, 60.17)])
    pyogrio.write_dataframe(pts, nocrs)
    swapped = tmp / "swapped.csv"
    swapped.write_text("name,category,lon,lat\nA,retail,60.170,24.940\nB,health,60.168,24.945\n")
    badlat = tmp / "badlat.csv"
    badlat.write_text("name,category,lon,lat\nA,retail,24.94,152.5\n")
    projected = tmp / "projected.csv"
    projected.write_text("name,category,lon,lat\nA,retail,385000,6672000\n")
    headeronly = tmp / "header.csv"
    headeronly.write_text("name,category,lon,lat\n")
    nocols = tmp / "nocols.csv"
    nocols.write_text("name,category,east,north\nA,retail,1,2\n")
    badcat = tmp / "badcat.csv"
    badcat.write_text("name,category,lon,lat\nA,retial,24.94,60.17\n")
    profile = tmp / "typo.toml"
    text = (Path(__file__).parent.parent / "lifecircle/profiles/walk15.toml").read_text()
    profile.write_text(text.replace("threshold_min = 15.0", "threshhold_min = 15.0"))
    speed = tmp / "speed.toml"
    speed.write_text(text.replace("speed_kmh = 4.8", 'speed_kmh = "5 km/h"'))
    lines = tmp / "lines.geojson"
    gpd.GeoDataFrame({"population": [1]}, geometry=[shapely.LineString([(24.94, 60.17),
                                                                        (24.95, 60.17)])],
                     crs=4326).to_file(lines)
    return {
        "missing file": (["--osm", str(tmp / "nope.osm.pbf")], 2, "file not found"),
        "directory": (["--osm", str(tmp)], 2, "directory"),
        "empty file": (["--osm", str(empty)], 2, "empty"),
        "truncated pbf": (["--osm", str(truncated)], 2, "truncated or corrupt"),
        "html as pbf": (["--osm", str(html)], 2, "HTML"),
        "corrupt gzip": (["--osm", str(gz)], 2, "corrupt"),
        "no walkable ways": (["--osm", str(nowalk)], 2, "highway tags seen: motorway"),
        "facilities without crs": (["--facilities", str(nocrs)], 2, "no CRS"),
        "swapped coordinates": (["--facilities", str(swapped)], 2, "swapped"),
        "latitude out of range": (["--facilities", str(badlat)], 2, "152.5"),
        "projected numbers as lon/lat": (["--facilities", str(projected)], 2, "projected"),
        "header only": (["--facilities", str(headeronly)], 2, "no rows"),
        "no coordinate columns": (["--facilities", str(nocols)], 2, "east, north"),
        "unknown category": (["--facilities", str(badcat)], 2, "did you mean 'retail'"),
        "unknown profile key": (["--profile", str(profile)], 3, "did you mean 'threshold_min'"),
        "unknown profile name": (["--profile", "walk16"], 3, "did you mean 'walk15'"),
        "speed as text": (["--profile", str(speed)], 3, "units are in the key name"),
        "negative minutes": (["--minutes", "-5"], 3, "positive"),
        "blocks are lines": (["--blocks", str(lines)], 2, "not a polygon"),
    }


CASE_NAMES = [
    "missing file", "directory", "empty file", "truncated pbf", "html as pbf", "corrupt gzip",
    "no walkable ways", "facilities without crs", "swapped coordinates",
    "latitude out of range", "projected numbers as lon/lat", "header only",
    "no coordinate columns", "unknown category", "unknown profile key", "unknown profile name",
    "speed as text", "negative minutes", "blocks are lines",
]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_one_clear_line(tmp_path, name):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    cases = _case_files(inputs)
    args, code, expected = cases[name]
    before = _digest(inputs)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", *args, "--out", str(out), "-q"])
    assert res.exit_code == code, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("lifecircle: error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in res.output
    assert not (out / "_SUCCESS.json").exists()
    assert not out.exists() or not any(out.iterdir())
    assert _digest(inputs) == before
    # no staging folders left behind
    assert not list(tmp_path.glob(".out.staging-*"))


def test_bad_input_cases_all_listed(tmp_path):
    assert sorted(_case_files(tmp_path)) == sorted(CASE_NAMES)


def test_cli_error_has_no_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lifecircle", "run", "--osm",
                           str(tmp_path / "nope.pbf"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "Traceback" not in proc.stderr


def test_output_inside_input_is_refused(tmp_path):
    src = tmp_path / "in.osm.pbf"
    shutil.copy(default_osm(), src)
    res = CliRunner().invoke(cli, ["run", "--osm", str(src), "--out", str(src), "-q"])
    assert res.exit_code == 2
    assert "input" in res.output
    assert src.read_bytes() == default_osm().read_bytes()


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
