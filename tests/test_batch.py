"""`lifecircle batch`: the regions file, safe names, isolation, rerun skip, the summary.

Most batches run on a ThreadPoolExecutor (fast, same process); the dask LocalCluster paths
(a worker killed, the CLI) are in test_faults.py and at the end of this file.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import json
import shutil
import tomllib
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from lifecircle import batch as batch_mod
from lifecircle._errors import ConfigError, InputFileError
from lifecircle.batch import (
    REGION_OPTIONS,
    SUMMARY_NAME,
    Region,
    check_region_name,
    expected_fingerprint,
    read_regions,
    region_options,
    run_batch,
)
from lifecircle.cli import cli
from lifecircle.config import Analysis, Outputs, read_toml, split_options
from lifecircle.config import write_toml as write_toml_config
from lifecircle.pipeline import default_osm, run
from tests.helpers import make_grid_case

# hand-computed on the grid (tests/helpers.py): retail walks B1 3.125, B2 2.75, B3 4.25 min,
# B4 unreachable; population 100, 200, 300, 50 -> share covered within 3 min 200/650, within
# 5 min 600/650 (with retail the only category, that is also the complete life circle)
SHARE_3_MIN = round(200 / 650, 4)
SHARE_5_MIN = round(600 / 650, 4)


def grid_options(case, **extra):
    return {"osm": str(case.graphml), "facilities": str(case.facilities),
            "blocks": str(case.blocks), "categories": ["retail"], **extra}


def threads():
    return cf.ThreadPoolExecutor(max_workers=2)


# ---------------------------------------------------------------------------------------------
# the regions file


def write_toml(folder: Path, text: str) -> Path:
    path = folder / "regions.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_regions_file_defaults_and_relative_paths(tmp_path):
    (tmp_path / "data").mkdir()
    path = write_toml(tmp_path, """
[defaults]
minutes = 10
lang = "zh"

[[region]]
name = "a"
osm = "data/x.osm.pbf"
minutes = 12.5

[[region]]
name = "南京-新街口"
place = "Xinjiekou, Nanjing"
categories = ["retail", "health"]
facility_columns = { category_col = "type" }
""")
    a, nj = read_regions(path)
    assert a.name == "a"
    assert a.options == {"minutes": 12.5, "lang": "zh",
                         "osm": str(tmp_path.resolve() / "data" / "x.osm.pbf")}
    assert nj.name == "南京-新街口"
    assert nj.options == {"minutes": 10, "lang": "zh", "place": "Xinjiekou, Nanjing",
                          "categories": ["retail", "health"],
                          "facility_columns": {"category_col": "type"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[region]]\nname = "a"\nosm = "x.pbf"\nspeed_kmhh = 4\n',
         r"region 'a': unknown key 'speed_kmhh' \(did you mean 'speed_kmh'\?\)"),
        ('[[region]]\nname = "a"\nspeed_kmh = 4\n',
         "region 'a': the region needs one of osm, place or polygon"),
        ('[[region]]\nname = "a"\nosm = "x.pbf"\nplace = "Oslo"\n',
         "region 'a': give one of osm or place, not both"),
        ('[defaults]\nosm = "x.pbf"\n[[region]]\nname = "a"\nplace = "Oslo"\n',
         "region 'a': give one of osm or place, not both"),
        ('[[region]]\nname = "a"\nplace = "Oslo"\npolygon = "p.geojson"\n',
         "region 'a': polygon goes with osm"),
        ('[[region]]\nname = "a"\nosm = "x.pbf"\nminutes = "15 min"\n',
         "region 'a': minutes must be a int or float, got str '15 min'"),
        ('[[region]]\nname = "a"\nosm = "x.pbf"\ncategories = "retail"\n',
         "region 'a': categories must be a list"),
        ('[[region]]\nname = "a"\nosm = "x.pbf"\nfacility_columns = { categry_col = "t" }\n',
         r"unknown facility_columns key 'categry_col' \(did you mean 'category_col'\?\)"),
        ('[defaults]\nminuts = 3\n[[region]]\nname = "a"\nosm = "x.pbf"\n',
         r"\[defaults\]: unknown key 'minuts' \(did you mean 'minutes'\?\)"),
        ('[[regions]]\nname = "a"\n', r"unknown top-level key 'regions' \(did you mean 'region'"),
        ('[defaults]\nminutes = 3\n', "no regions; add one \\[\\[region\\]\\] table"),
        ('[[region]]\nosm = "x.pbf"\n', "region 1: every region needs a non-empty string 'name'"),
        ('[[region]]\nname = "Oslo"\nplace = "Oslo"\n[[region]]\nname = "oslo"\nplace = "O"\n',
         r"region 'oslo': the name is used twice \(as 'Oslo' too, ignoring case\)"),
        ('[[region]\nname = "a"\n', "not valid TOML"),
    ],
)
def test_regions_file_errors_name_region_and_key(tmp_path, body, expected):
    path = write_toml(tmp_path, body)
    with pytest.raises(ConfigError, match=expected) as info:
        read_regions(path)
    assert str(path) in str(info.value)


def test_region_options_are_the_config_fields_and_run_takes_them_all():
    """A region may set every field of the two configurations; run() takes each as a keyword
    argument (a new field must be added to run's signature too)."""
    params = inspect.signature(run).parameters
    runtime_only = {"out", "overwrite", "progress", "extras"}
    fields = set(Analysis.keys()) | set(Outputs.keys())
    assert set(region_options()) == set(REGION_OPTIONS) == fields
    assert set(params) - runtime_only == fields


# ---------------------------------------------------------------------------------------------
# region names cannot escape the output folder

BAD_NAMES = ["../../x", "..", ".", "a/b", "a\\b", "/etc", "", ".hidden", "-rf", "a..b",
             "trailing.", "con", "NUL.txt", "com1", "batch_summary.json", "a b", "tab\t",
             "x" * 81, "名字/..", "e\u0301", "semi;colon", "null\x00byte", "\u202eevil"]
GOOD_NAMES = ["nanjing", "南京-新街口", "haidian_2024.v1", "東京", "서울", "a" * 80, "Console"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_region_names_are_refused(name, tmp_path):
    with pytest.raises(ConfigError, match="region"):
        check_region_name(name, where="t.toml: region 1")
    out = tmp_path / "batch" / "out"
    result = run_batch([Region(name, {"place": "x"})], out, executor=threads())
    # a failed region with its reason; nothing written but the summary, inside the batch folder
    assert [r["status"] for r in result.regions] == ["failed"]
    assert "name" in result.regions[0]["reason"]
    assert sorted(p.name for p in out.iterdir()) == [SUMMARY_NAME]
    assert [p.name for p in tmp_path.iterdir()] == ["batch"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_region_names_are_one_folder_inside_out(name, tmp_path):
    assert check_region_name(name, where="t") == name
    folder = batch_mod._region_folder(tmp_path, name)
    assert folder.parent == tmp_path.resolve() and folder.name == name


def test_symlink_planted_at_a_region_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "r").symlink_to(elsewhere, target_is_directory=True)
    row = run_batch([Region("r", {"place": "x"})], out, executor=threads()).regions[0]
    assert row["status"] == "failed"
    assert "would write outside the batch folder" in row["reason"]
    assert list(elsewhere.iterdir()) == []


def test_run_batch_refuses_duplicate_names_ignoring_case(tmp_path):
    regions = [Region("Oslo", {"place": "Oslo", "minutes": -1}), Region("OSLO", {"place": "O"})]
    rows = run_batch(regions, tmp_path / "out", executor=threads()).regions
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert "region 'Oslo': minutes must be a positive number" in rows[0]["reason"]
    assert "used twice" in rows[1]["reason"]


# ---------------------------------------------------------------------------------------------
# isolation, figures, rerun skip


@pytest.fixture
def grid_batch(tmp_path):
    case = make_grid_case(tmp_path / "grid")
    corrupt = tmp_path / "corrupt.osm.pbf"
    corrupt.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    regions = [
        Region("g3", grid_options(case, minutes=3.0)),
        Region("g5", grid_options(case, minutes=5.0)),
        Region("corrupt", {"osm": str(corrupt)}),
        Region("g5-slow", grid_options(case, minutes=5.0, speed_kmh=2.4)),
    ]
    return case, regions, tmp_path / "out"


def test_batch_isolates_failures_and_reports_figures(grid_batch):
    _case, regions, out = grid_batch
    seen = []
    with threads() as ex:
        result = run_batch(regions, out, executor=ex, progress=seen.append)
    rows = {r["name"]: r for r in result.regions}
    assert [r["name"] for r in result.regions] == ["g3", "g5", "corrupt", "g5-slow"]
    assert sorted(r["name"] for r in seen) == sorted(rows)
    assert rows["g3"]["status"] == "ok" and rows["g5"]["status"] == "ok"
    assert rows["g3"]["share_population_covered"] == {"retail": SHARE_3_MIN}
    assert rows["g3"]["complete_share_population"] == SHARE_3_MIN
    assert rows["g5"]["complete_share_population"] == SHARE_5_MIN
    # half the speed doubles the walk: B2 5.5, B1 6.25, B3 8.5 min -> nothing within 5 min
    assert rows["g5-slow"]["complete_share_population"] == 0.0
    assert rows["g3"]["blocks"] == 4 and rows["g3"]["population"] == 650.0
    bad = rows["corrupt"]
    assert bad["status"] == "failed"
    assert "corrupt.osm.pbf" in bad["reason"] and "HTML" in bad["reason"]
    assert [r["name"] for r in result.failed] == ["corrupt"]
    # every finished region is a complete run folder; the failed one left nothing
    for name in ("g3", "g5", "g5-slow"):
        done = json.loads((out / name / "_SUCCESS.json").read_text())
        assert {"lifecircle.gpkg", "report.json", "report.md"} <= set(done["files"])
    assert not (out / "corrupt").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["counts"] == {"ok": 3, "skipped": 0, "failed": 1}
    assert [(r["name"], r["status"]) for r in summary["regions"]] == [
        ("g3", "ok"), ("g5", "ok"), ("corrupt", "failed"), ("g5-slow", "ok")]
    assert all({"name", "status", "reason", "seconds"} <= set(r) for r in summary["regions"])
    assert result.to_frame().loc["g5", "complete_share_population"] == SHARE_5_MIN


def test_rerun_skips_up_to_date_regions_and_redoes_changed_ones(grid_batch):
    case, regions, out = grid_batch
    with threads() as ex:
        run_batch(regions, out, executor=ex)
    stamps = {n: (out / n / "_SUCCESS.json").stat().st_mtime_ns for n in ("g3", "g5", "g5-slow")}

    with threads() as ex:
        again = run_batch(regions, out, executor=ex)
    status = {r["name"]: r["status"] for r in again.regions}
    assert status == {"g3": "skipped", "g5": "skipped", "corrupt": "failed", "g5-slow": "skipped"}
    skipped = {r["name"]: r for r in again.regions}["g3"]
    assert skipped["complete_share_population"] == SHARE_3_MIN  # figures read back
    assert all((out / n / "_SUCCESS.json").stat().st_mtime_ns == t for n, t in stamps.items())

    # a changed option, an edited output file, --force
    changed = [Region("g3", grid_options(case, minutes=5.0)), *regions[1:]]
    (out / "g5" / "report.md").write_text("edited by hand")
    with threads() as ex:
        third = run_batch(changed, out, executor=ex)
    rows = {r["name"]: r for r in third.regions}
    assert {n: r["status"] for n, r in rows.items()} == {
        "g3": "ok", "g5": "ok", "corrupt": "failed", "g5-slow": "skipped"}
    assert rows["g3"]["complete_share_population"] == SHARE_5_MIN
    with threads() as ex:
        forced = run_batch(changed, out, executor=ex, force=True)
    assert [r["status"] for r in forced.regions] == ["ok", "ok", "failed", "ok"]


def test_rerun_redoes_a_region_whose_input_file_changed(tmp_path):
    case = make_grid_case(tmp_path / "grid")
    mine = tmp_path / "fac.gpkg"
    shutil.copy(case.facilities, mine)
    regions = [Region("r", grid_options(case, facilities=str(mine), minutes=3.0))]
    with threads() as ex:
        assert run_batch(regions, tmp_path / "out", executor=ex).regions[0]["status"] == "ok"
    # move the shop 100 m east along its street: B2 now walks 100 m more (4.0 min)
    fac = gpd.read_file(mine)
    fac.loc[fac["id"] == "shop1", "geometry"] = shapely.Point(500_250.0, 3_500_020.0)
    mine.unlink()
    fac.to_file(mine, engine="pyogrio")
    with threads() as ex:
        row = run_batch(regions, tmp_path / "out", executor=ex).regions[0]
    assert row["status"] == "ok"
    # the shop now sits on edge x200..300 (y 0) at along 50, leg 20. B2 (edge x100..200,
    # along 50, leg 200): 200 + 50 + 50 + 20 = 320 m = 4.0 min; B1 (edge x200..300 at y 100,
    # along 50, leg 30): 30 + 50 + 100 + 50 + 20 = 250 m = 3.125 min: none within 3 min
    assert row["complete_share_population"] == 0.0


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"speed_kmh": 3.6, "minutes": 12},
        {"categories": ["health", "retail"], "max_snap_m": 150.0, "lang": "zh"},
    ],
)
def test_expected_fingerprint_matches_what_run_writes(tmp_path, options):
    run(out=tmp_path / "o", **options)
    done = json.loads((tmp_path / "o" / "_SUCCESS.json").read_text())
    expected = expected_fingerprint({"osm": str(default_osm()), **options})
    assert done["fingerprint"] == expected
    assert expected_fingerprint(options) == expected  # the bundled extract when no source
    other = expected_fingerprint({**options, "minutes": 7})
    assert other["sha256"] != expected["sha256"]


def test_region_folder_that_is_not_a_lifecircle_output_is_left_alone(grid_batch):
    _case, regions, out = grid_batch
    (out / "g3").mkdir(parents=True)
    (out / "g3" / "notes.txt").write_text("mine")
    with threads() as ex:
        result = run_batch(regions[:2], out, executor=ex)
    rows = {r["name"]: r for r in result.regions}
    assert rows["g3"]["status"] == "failed" and "not a lifecircle output" in rows["g3"]["reason"]
    assert rows["g5"]["status"] == "ok"
    assert (out / "g3" / "notes.txt").read_text() == "mine"


def test_runner_exception_is_that_regions_failure(grid_batch):
    _case, regions, out = grid_batch

    def flaky(**kwargs):
        if Path(kwargs["out"]).name == "g5":
            raise RuntimeError("boom")
        return run(**kwargs)

    with threads() as ex:
        rows = {r["name"]: r for r in run_batch(regions[:2], out, executor=ex,
                                                runner=flaky).regions}
    assert rows["g3"]["status"] == "ok"
    assert rows["g5"] == {"name": "g5", "status": "failed",
                          "reason": "unexpected error RuntimeError: boom",
                          "seconds": rows["g5"]["seconds"]}


# ---------------------------------------------------------------------------------------------
# polygon areas


def test_polygon_with_osm_restricts_blocks(tmp_path):
    full = run()
    pts = full.blocks.representative_point()
    xs = sorted(set(pts.x))
    k = len(xs) // 2
    west = (xs[k] + xs[k + 1]) / 2  # between two blocks' points, never on one
    minx, miny, _maxx, maxy = full.blocks.total_bounds
    area = gpd.GeoDataFrame(geometry=[shapely.box(minx - 500, miny - 500, west, maxy + 500)],
                            crs=full.blocks.crs)
    path = tmp_path / "west.gpkg"
    area.to_file(path)
    part = run(polygon=path, osm=default_osm())
    inside = set(full.blocks.loc[(pts.x <= west).to_numpy(), "block_id"])
    assert set(part.blocks["block_id"]) == inside
    assert 0 < len(inside) < len(full.blocks)
    # the network and facilities stay whole: each block keeps its time from the full run
    col = "walk_min_retail"
    merged = part.blocks[["block_id", col]].merge(full.blocks[["block_id", col]],
                                                  on="block_id", suffixes=("", "_full"))
    assert (merged[col].fillna(-1) == merged[col + "_full"].fillna(-1)).all()
    assert part.metadata["inputs"]["polygon"]["sha256"] == expected_fingerprint(
        {"polygon": str(path), "osm": str(default_osm())})["inputs"]["polygon"]


def test_polygon_outside_the_extract_is_a_clear_error(tmp_path):
    path = tmp_path / "far.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4326).to_file(path)
    with pytest.raises(InputFileError, match=r"none of the .* blocks lies inside the area"):
        run(default_osm(), polygon=path, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_polygon_alone_downloads_that_area(tmp_path, monkeypatch):
    """The online path with a recorded response: the grid stands in for the download."""
    import lifecircle.sources.online as osm_mod
    from tests.helpers import grid_graph

    case = make_grid_case(tmp_path / "grid")
    calls = []

    def fake_download(*, place=None, bbox=None, polygon=None, cache_dir=None):
        calls.append((place, polygon))
        return grid_graph(), None

    monkeypatch.setattr(osm_mod, "download_osm", fake_download)
    area = shapely.box(116.0, 31.0, 118.0, 32.0)
    path = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[area], crs=4326).to_file(path)
    result = run(polygon=path, facilities=case.facilities, blocks=case.blocks,
                 categories=["retail"], minutes=3.0)
    assert len(calls) == 1 and calls[0][0] is None
    assert calls[0][1].equals(area)
    summary = result.report["summary"]
    assert summary["complete_life_circle"]["share_population"] == SHARE_3_MIN
    assert "osm" not in result.metadata["inputs"]


# ---------------------------------------------------------------------------------------------
# the CLI on a real LocalCluster


def test_cli_batch_on_a_local_cluster(tmp_path):
    case = make_grid_case(tmp_path / "grid")
    (tmp_path / "broken.osm.gz").write_bytes(b"\x1f\x8b not really gzip")
    path = write_toml(tmp_path, f"""
[defaults]
facilities = "grid/{case.facilities.name}"
blocks = "grid/{case.blocks.name}"
categories = ["retail"]

[[region]]
name = "three"
osm = "grid/{case.graphml.name}"
minutes = 3

[[region]]
name = "五分钟"
osm = "grid/{case.graphml.name}"
minutes = 5

[[region]]
name = "broken"
osm = "broken.osm.gz"
""")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["batch", str(path), "--out", str(out), "--workers", "2"])
    assert res.exit_code == 4, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("lifecircle: error:")]
    assert len(lines) == 1 and "1 of 3 regions failed: broken (" in lines[0]
    assert "Traceback" not in res.output
    assert "五分钟" in res.stdout and "92%" in res.stdout and "31%" in res.stdout
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert {r["name"]: r["status"] for r in summary["regions"]} == {
        "three": "ok", "五分钟": "ok", "broken": "failed"}
    assert "broken.osm.gz" in summary["regions"][2]["reason"]

    # fixed: the rerun computes only the broken region
    shutil.copy(case.graphml, tmp_path / "broken.osm.gz.graphml")
    path.write_text(path.read_text().replace('osm = "broken.osm.gz"',
                                             'osm = "broken.osm.gz.graphml"'))
    # ... on a running scheduler this time (--scheduler), a thread-based cluster for speed
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        res = CliRunner().invoke(cli, ["batch", str(path), "--out", str(out), "-q",
                                       "--scheduler", cluster.scheduler_address])
    assert res.exit_code == 0, res.output
    assert res.output == ""
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert [r["status"] for r in summary["regions"]] == ["skipped", "skipped", "ok"]


def test_cli_batch_bad_region_name_fails_that_region_alone(tmp_path):
    """Issue 11: an unsafe name is that region's failure (exit 4, reason in the summary),
    not a batch that cannot start; nothing is written outside the batch folder."""
    path = write_toml(tmp_path, '[[region]]\nname = "../up"\nplace = "x"\n')
    res = CliRunner().invoke(cli, ["batch", str(path), "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 4
    assert res.output.count("\n") == 1 and "region name '../up' contains '/'" in res.output
    summary = json.loads((tmp_path / "o" / SUMMARY_NAME).read_text())
    assert summary["counts"] == {"ok": 0, "skipped": 0, "failed": 1}
    assert "contains '/'" in summary["regions"][0]["reason"]
    assert [p.name for p in (tmp_path / "o").iterdir()] == [SUMMARY_NAME]
    assert not (tmp_path.parent / "up").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--scheduler", "tcp://127.0.0.1:9", "cannot reach the dask scheduler tcp://127.0.0.1:9"),
        ("--memory-limit", "lots", "memory limit 'lots' is not a size; use e.g. 2GB"),
    ],
)
def test_cli_batch_bad_cluster_option_is_exit_3(tmp_path, option, value, message):
    """An unreachable scheduler or a memory limit that is no size: exit 3 and the reason."""
    path = write_toml(tmp_path, '[[region]]\nname = "a"\nplace = "x"\n')
    res = CliRunner().invoke(cli, ["batch", str(path), "--out", str(tmp_path / "o"),
                                   option, value, "-q"])
    assert res.exit_code == 3, res.output
    assert message in res.output


def test_cli_output_prints_reasons_literally(capsys):
    """Error text with rich markup brackets (paths, TOML sections) is printed as is."""
    from lifecircle._batch_cli import BatchProgress, summary_table

    row = {"name": "r", "status": "failed", "seconds": 0.0,
           "reason": "/data/[red]x[/red]/a.osm.pbf: [defaults] [/bold] is not an OSM file"}
    with BatchProgress(1, quiet=False) as progress:
        progress(row)
    summary_table([row], Path("/o/[b]/batch_summary.json"))
    out, err = capsys.readouterr()
    assert row["reason"] in err.replace("\n", "")
    assert row["reason"] in out and "/o/[b]/batch_summary.json" in out


def test_cli_run_polygon_option_restricts_blocks(tmp_path):
    case = make_grid_case(tmp_path / "grid")
    # the left half of the grid: B2 (x 150) and B3 (x 50) inside, B1 (x 250) outside
    area = gpd.GeoDataFrame(geometry=[shapely.box(499_900, 3_499_700, 500_200, 3_500_300)],
                            crs="EPSG:32650")
    area.to_file(tmp_path / "left.gpkg")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", "--osm", str(case.graphml), "--facilities",
                                   str(case.facilities), "--blocks", str(case.blocks),
                                   "--polygon", str(tmp_path / "left.gpkg"),
                                   "--category", "retail", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    blocks = gpd.read_file(out / "lifecircle.gpkg", layer="blocks")
    assert sorted(blocks["block_id"]) == ["B2", "B3"]
    assert json.loads((out / "_SUCCESS.json").read_text())["fingerprint"]["inputs"]["polygon"]


def test_run_batch_is_exported():
    import lifecircle

    assert lifecircle.run_batch is run_batch


#: a value other than the default for every configuration field that is not a file
FINGERPRINT_SAMPLES = {
    "place": "Oslo", "profile": "rural", "categories": ["retail"], "speed_kmh": 4.0,
    "minutes": 10.0, "max_snap_m": 99.0, "population_total": 5000.0,
    "facility_columns": {"name_col": "n"},
    "facilities_crs": "gcj02", "blocks_crs": "EPSG:3857", "lang": "zh", "isochrones": False,
    "isochrone_bands_min": [5.0, 10.0], "walk_in_m": 30.0, "facility_isochrones": True,
    "isochrone_cell_m": 5.0,
    "map": False, "self_contained": True, "cdn": True, "tiles": "none", "tiles_attribution": "me",
    "figures": False, "rasters": False, "raster_cell_m": 10.0, "layer_format": "parquet",
    "group": "elderly",
    "group_population": ["age60plus=pop_60"], "targets": ["national-2021"],
    "staff_col": "staff_n", "flag_col": "volunteer",
}


def test_fingerprint_derives_from_every_config_field():
    """Every option of the two configuration objects changes the fingerprint (a new field
    needs a sample here); file options count by content, not path."""
    from lifecircle.config import FILE_OPTIONS
    from lifecircle.fingerprint import run_fingerprint

    fields = (set(Analysis.keys()) | set(Outputs.keys())) - set(FILE_OPTIONS)
    assert set(FINGERPRINT_SAMPLES) == fields
    base = run_fingerprint(Analysis(), Outputs())["sha256"]
    assert run_fingerprint(Analysis(facility_columns={}), Outputs(lang="en"))["sha256"] == base
    assert run_fingerprint(Analysis(osm=default_osm()), Outputs())["sha256"] == base
    seen = {base}
    for key, value in FINGERPRINT_SAMPLES.items():
        analysis, outputs = split_options({key: value})
        if key == "place":  # a download has no input file; compare with another place
            analysis = analysis.replace(place="Bergen")
        seen.add(run_fingerprint(analysis, outputs)["sha256"])
    assert len(seen) == len(FINGERPRINT_SAMPLES) + 1


def test_config_round_trips_through_toml(tmp_path):
    analysis, outputs = split_options(
        {"osm": str(default_osm()), **{k: v for k, v in FINGERPRINT_SAMPLES.items()
                                       if k != "place"}})
    path = write_toml_config(tmp_path / "run.toml", analysis, outputs)
    assert read_toml(path) == (analysis, outputs)
    assert Analysis.from_toml(path) == analysis
    # the same keys a batch region takes
    data = tomllib.loads(path.read_text())
    (r,) = batch_mod.regions_from_dict({"region": [{"name": "r", **data}]}, base_dir=tmp_path)
    assert r.config() == (analysis, outputs)
