"""The front door: configuration as data, a result you act on, isolated batch regions, the CLI.

Values are the hand-computed grid of tests/helpers.py: retail walks B1 3.125, B2 2.75,
B3 4.25 min, B4 unreachable (population 100, 200, 300, 50).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math

import pyogrio
import pytest
from click.testing import CliRunner

from lifecircle import access as access_mod
from lifecircle import pipeline, routing
from lifecircle._errors import ConfigError
from lifecircle.batch import SUMMARY_NAME, read_regions, run_batch
from lifecircle.cli import cli
from lifecircle.config import Analysis, OptionError, Outputs, read_toml, split_options
from lifecircle.pipeline import analyse

RETAIL_MIN = {"B1": 3.125, "B2": 2.75, "B3": 4.25, "B4": math.nan}


def grid_config(case, **extra):
    return Analysis(osm=case.graphml, facilities=case.facilities, blocks=case.blocks,
                    categories=["retail"], **extra)


def walk_times(frame):
    return dict(zip(frame["block_id"], frame["walk_min_retail"], strict=True))


def assert_grid_times(times):
    assert set(times) == set(RETAIL_MIN)
    for block, expected in RETAIL_MIN.items():
        if math.isnan(expected):
            assert math.isnan(times[block])
        else:
            assert times[block] == pytest.approx(expected, abs=1e-9)


def test_one_search_serves_gpkg_map_figures_rasters_and_save(grid_case, tmp_path, monkeypatch):
    calls = {"access": 0, "search": 0}
    real_access, real_search = pipeline.compute_access, routing.multi_source

    def counted_access(*args, **kwargs):
        calls["access"] += 1
        return real_access(*args, **kwargs)

    def counted_search(*args, **kwargs):
        calls["search"] += 1
        return real_search(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compute_access", counted_access)
    monkeypatch.setattr(access_mod, "multi_source", counted_search)
    monkeypatch.setattr(routing, "multi_source", counted_search)  # isochrones import it late

    result = analyse(grid_config(grid_case))
    assert calls == {"access": 1, "search": 1}  # one category, one multi-source search
    gpkg = result.to_gpkg(tmp_path / "one.gpkg")
    page = result.map(tmp_path / "page.html", tiles="none")
    pngs = result.figures(tmp_path / "figs")
    tifs = result.rasters(tmp_path / "ras")
    out = result.save(tmp_path / "run", Outputs(tiles="none"))
    assert calls == {"access": 1, "search": 1}
    assert page.name == "page.html" and page.is_file()
    assert {p.name for p in pngs} >= {"coverage_retail.png"} and tifs
    assert_grid_times(walk_times(result.blocks))
    for path in (gpkg, out / "lifecircle.gpkg"):
        assert_grid_times(walk_times(pyogrio.read_dataframe(path, layer="blocks")))
    done = json.loads((out / "_SUCCESS.json").read_text())
    assert {"lifecircle.gpkg", "map.html", "report.json"} <= set(done["files"])
    assert result.metadata["config"]["categories"] == ["retail"]
    assert result.metadata["outputs"] == {"tiles": "none"}


def test_run_is_analyse_plus_save(grid_case, tmp_path):
    """The convenience wrapper gives the same times and the same fingerprint."""
    res = pipeline.run(grid_case.graphml, facilities=grid_case.facilities,
                       blocks=grid_case.blocks, categories=["retail"], out=tmp_path / "a",
                       map=False, figures=False, rasters=False)
    assert_grid_times(walk_times(res.blocks))
    again = analyse(grid_config(grid_case)).save(
        tmp_path / "b", Outputs(map=False, figures=False, rasters=False))
    fp = [json.loads((p / "_SUCCESS.json").read_text())["fingerprint"]["sha256"]
          for p in (res.out, again)]
    assert fp[0] == fp[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"minutes": -3}, "minutes must be a positive number, got -3"),
        ({"speed_kmh": "5 km/h"}, "speed_kmh must be a number, got '5 km/h'; write the number"),
        ({"max_snap_m": float("nan")}, "max_snap_m must be a positive number"),
        ({"place": "Oslo", "osm": "x.pbf"}, "place goes alone"),
        ({"categories": "retail"}, "categories must be a list of strings"),
    ],
)
def test_analysis_checks_itself_once_and_names_the_option(options, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(")) as info:
        Analysis(**options)
    assert info.value.option in message
    assert str(info.value.named("--x")).startswith("--x ")


def test_outputs_check_and_unknown_keys_suggest(tmp_path):
    with pytest.raises(OptionError, match="lang must be en or zh"):
        Outputs(lang="fr")
    with pytest.raises(ConfigError, match=r"unknown key 'minuts' \(did you mean 'minutes'\?\)"):
        split_options({"minuts": 3})
    path = tmp_path / "run.toml"
    path.write_text('osm = "x.osm.pbf"\nminutes = 0\n')
    with pytest.raises(OptionError, match=r"run.toml: minutes must be a positive number"):
        read_toml(path)


def test_cli_takes_the_osm_file_as_argument_and_short_out(grid_case, tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", str(grid_case.graphml), "--facilities",
                                   str(grid_case.facilities), "--blocks", str(grid_case.blocks),
                                   "--category", "retail", "-o", str(out), "-q", "--no-map",
                                   "--no-rasters", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert_grid_times(walk_times(pyogrio.read_dataframe(out / "lifecircle.gpkg",
                                                        layer="blocks")))
    twice = CliRunner().invoke(cli, ["run", "a.osm", "--osm", "b.osm"])
    assert twice.exit_code == 3 and "not both" in twice.output


@pytest.mark.parametrize(("args", "flag"), [
    (["--minutes", "-3"], "--minutes must be a positive number"),
    (["--max-snap-m", "0"], "--max-snap-m must be a positive number"),
    (["--cell-m", "-1"], "--cell-m must be a positive number"),
])
def test_cli_errors_name_the_option_typed(args, flag, tmp_path):
    res = CliRunner().invoke(cli, ["run", *args, "-o", str(tmp_path / "o")])
    assert res.exit_code == 3
    assert flag in res.output and "threshold_min" not in res.output
    assert not (tmp_path / "o").exists()


def test_batch_of_12_isolates_a_bad_name_and_a_missing_file(grid_case, tmp_path):
    """Issue 11 item 3: 10 finish, 2 fail with their reasons, the summary is written."""
    lines = [f'osm = "{grid_case.graphml}"', f'facilities = "{grid_case.facilities}"',
             f'blocks = "{grid_case.blocks}"', 'categories = ["retail"]', "map = false",
             "figures = false", "rasters = false"]
    body = "[defaults]\n" + "\n".join(lines) + "\n"
    for i in range(10):
        body += f'[[region]]\nname = "g{i}"\nminutes = {3 + i}\n'
    body += '[[region]]\nname = "../escape"\n'
    body += '[[region]]\nname = "gone"\nblocks = "missing.gpkg"\n'
    path = tmp_path / "regions.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=r"region name '\.\./escape'"):
        read_regions(path)  # the strict reader still refuses the file
    out = tmp_path / "out"
    with cf.ThreadPoolExecutor(max_workers=2) as ex:
        result = run_batch(path, out, executor=ex)
    rows = {r["name"]: r for r in result.regions}
    assert [r["status"] for r in result.regions].count("ok") == 10
    assert rows["../escape"]["status"] == "failed" and "contains '/'" in \
        rows["../escape"]["reason"]
    assert rows["gone"]["status"] == "failed" and "missing.gpkg" in rows["gone"]["reason"]
    # minutes 3 covers B2 (200 of 650 people); 5 and more add B1 and B3 (600 of 650)
    assert rows["g0"]["complete_share_population"] == round(200 / 650, 4)
    assert rows["g2"]["complete_share_population"] == round(600 / 650, 4)
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["counts"] == {"ok": 10, "skipped": 0, "failed": 2}
    assert not (tmp_path / "escape").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"g{i}" for i in range(10)), SUMMARY_NAME])


def test_cli_batch_that_cannot_start_is_exit_3_with_a_summary(tmp_path):
    path = tmp_path / "regions.toml"
    path.write_text("[[region]\nname = 'a'\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["batch", str(path), "-o", str(out)])
    assert res.exit_code == 3 and "not valid TOML" in res.output
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["regions"] == [] and "not valid TOML" in summary["error"]
