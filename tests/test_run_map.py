"""The map, figures and rasters as run outputs; `lifecircle map`; the run's map in a browser.

The browser tests open the map written by :func:`lifecircle.pipeline.run` on the shared Nanjing
extract (as written by default: offline, OpenStreetMap tiles that cannot load because every
network request is blocked) in headless Chromium, in English and in Chinese, with facilities
named with script payloads.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from click.testing import CliRunner

from lifecircle import columns as col
from lifecircle.cli import cli
from lifecircle.i18n import messages
from lifecircle.outputs.products import map_from_run, resolve_tiles, write_products
from lifecircle.outputs.webmap.style import FACILITY_GROUPS, facility_group
from lifecircle.pipeline import run
from tests.conftest import shared_osm
from tests.test_webmap import (  # noqa: F401  (browser is a fixture)
    _MAP_JS,
    BROWSER_PAYLOADS,
    _open,
    browser,
    console_errors,
    data_of,
    page_data,
    shown,
)


def _isochrones(result) -> gpd.GeoDataFrame:
    """Two nested bands around the health facilities (as h-iso's layer will look)."""
    fac = result.facilities[result.facilities["category"] == "health"]
    rows = []
    for band, start in ((5.0, 0.0), (10.0, 5.0)):
        rows.append({"category": "health", "facility_id": "all", "band_min": band,
                     "band_from_min": start,
                     "geometry": fac.geometry.buffer(band * 80).union_all()})
    return gpd.GeoDataFrame(rows, crs=result.network.crs)


# ---------------------------------------------------------------------------------------------
# outputs of a run


def test_run_writes_map_figures_rasters_listed(nanjing_run):
    files = json.loads((nanjing_run.out / "_SUCCESS.json").read_text())["files"]
    for name in ("map.html", "figures/deficiency.png", "figures/coverage_share.png",
                 *(f"rasters/{col.walk_min(c)}.tif" for c in nanjing_run.profile.categories)):
        assert name in files, name
        assert len(files[name]) == 64
    page = (nanjing_run.out / "map.html").read_text(encoding="utf-8")
    # default background: OpenStreetMap tiles, plus the walking network layer
    assert "tile.openstreetmap.org" in page and "Walking network" in page
    assert 'version="1.9.3"' in page  # Leaflet inlined: the map opens with no network
    assert (nanjing_run.out / "map.html").stat().st_size < 2_500_000


def test_skip_flags_and_cell_size(tmp_path):
    runner = CliRunner()
    out = tmp_path / "none"
    res = runner.invoke(cli, ["run", "--out", str(out), "-q", "--no-map", "--no-figures",
                              "--no-rasters"])
    assert res.exit_code == 0, res.output
    assert not (out / "map.html").exists()
    assert not (out / "figures").exists() and not (out / "rasters").exists()
    assert (out / "lifecircle.gpkg").is_file()

    out = tmp_path / "coarse"
    res = runner.invoke(cli, ["run", "--out", str(out), "-q", "--no-map", "--no-figures",
                              "--cell-m", "50", "--category", "retail"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "rasters").iterdir()) == ["walk_min_retail.tif"]
    with rasterio.open(out / "rasters" / "walk_min_retail.tif") as src:
        assert src.transform.a == 50 and src.transform.c % 50 == 0

    res = runner.invoke(cli, ["run", "--out", str(tmp_path / "bad"), "-q", "--cell-m", "-5"])
    assert res.exit_code == 3 and "positive" in res.output
    assert not (tmp_path / "bad").exists()


def test_tiles_names():
    assert resolve_tiles("osm") == "OpenStreetMap"
    assert resolve_tiles("none") is None and resolve_tiles(None) is None
    url = "https://t0.example.cn/{z}/{x}/{y}.png"
    assert resolve_tiles(url) == url


def test_custom_tiles_need_attribution(tmp_path):
    res = CliRunner().invoke(cli, ["run", "--out", str(tmp_path / "o"), "-q", "--no-figures",
                                   "--no-rasters", "--tiles", "https://t.example/{z}/{x}/{y}.png"])
    assert res.exit_code == 3 and "tiles_attribution" in res.output
    res = CliRunner().invoke(cli, ["run", "--out", str(tmp_path / "o"), "-q", "--no-figures",
                                   "--no-rasters", "--tiles", "https://t.example/{z}/{x}/{y}.png",
                                   "--tiles-attribution", "Example <b>tiles</b>"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "o" / "map.html").read_text(encoding="utf-8")
    assert page_data(page)["tiles"]["url"] == "https://t.example/{z}/{x}/{y}.png"
    assert page_data(page)["tiles"]["attribution"] == "Example <b>tiles</b>"  # shown as text
    assert "<b>tiles</b>" not in page


def test_result_isochrones_are_drawn(nanjing_run, tmp_path):
    res = copy.copy(nanjing_run)
    res.isochrones = _isochrones(nanjing_run)  # type: ignore[attr-defined]
    (path,) = write_products(res, tmp_path, figures=False, rasters=False, tiles=None)
    data = page_data(path.read_text(encoding="utf-8"))
    cats = list(nanjing_run.profile.categories)
    assert [f["properties"]["b"] for f in data["iso"][cats.index("health")]["features"]] == [
        10.0, 5.0]
    assert data["isoNote"].startswith("Isochrone bands: 5 / 10 min walk")


# ---------------------------------------------------------------------------------------------
# lifecircle map


@pytest.fixture
def finished_run(nanjing_run, tmp_path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(nanjing_run.out, folder)
    return folder


def test_map_command_recomputes_nothing(finished_run, nanjing_run, monkeypatch):
    import lifecircle.access
    import lifecircle.pipeline
    import lifecircle.routing

    def boom(*args, **kwargs):
        raise AssertionError("lifecircle map must not recompute")

    for mod, name in ((lifecircle.pipeline, "run"), (lifecircle.access, "compute_access"),
                      (lifecircle.routing, "multi_source"), (lifecircle.routing,
                                                             "point_distances")):
        monkeypatch.setattr(mod, name, boom)
    out = finished_run / "again.html"
    res = CliRunner().invoke(cli, ["map", str(finished_run), "--out", str(out), "--lang", "zh",
                                   "--category", "health", "--tiles", "none"])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    text = shown(page)
    assert "步行时间：医疗卫生" in text and "分钟" in text
    # the block figures are the run's, rounded to 0.1 min
    feats = data_of(page, "_blocks")["features"]
    cats = list(nanjing_run.profile.categories)
    by_id = {f["properties"]["id"]: f["properties"]["m"] for f in feats}
    blocks = nanjing_run.blocks.set_index("block_id")
    k = cats.index("health")
    for bid, minutes in list(by_id.items())[:40]:
        expected = blocks.loc[bid, col.walk_min("health")]
        if np.isnan(expected):
            assert minutes[k] is None
        else:
            assert minutes[k] == pytest.approx(round(float(expected), 1))
    # the health view is the one shown at opening, and its legend heading names it
    data = page_data(page)
    assert data["view"] == k + 1 and data["views"][k + 1]["k"] == k
    assert data["views"][k + 1]["heading"] == "步行至最近设施的时间（分钟）：医疗卫生"


def test_map_command_default_out_and_overwrite(finished_run):
    runner = CliRunner()
    res = runner.invoke(cli, ["map", str(finished_run), "--tiles", "none"])
    assert res.exit_code == 2 and "exists; pass --overwrite" in res.output
    before = (finished_run / "map.html").stat().st_mtime_ns
    res = runner.invoke(cli, ["map", str(finished_run), "--tiles", "none", "--overwrite", "-q"])
    assert res.exit_code == 0 and res.output == ""
    assert (finished_run / "map.html").stat().st_mtime_ns >= before
    assert "tile.openstreetmap.org" not in (finished_run / "map.html").read_text()


def test_map_command_errors(finished_run, tmp_path):
    runner = CliRunner()
    (finished_run / "_SUCCESS.json").unlink()
    res = runner.invoke(cli, ["map", str(finished_run), "--out", str(tmp_path / "m.html")])
    assert res.exit_code == 2
    assert "is not a finished run (no _SUCCESS.json)" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(cli, ["map", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "is not a folder" in res.output


def test_map_command_unknown_category(finished_run, tmp_path):
    res = CliRunner().invoke(cli, ["map", str(finished_run), "--out", str(tmp_path / "m.html"),
                                   "--category", "heath"])
    assert res.exit_code == 3 and "'heath'" in res.output and "health" in res.output


def test_map_reads_isochrones_and_sites_layers(finished_run, nanjing_run, tmp_path):
    gpkg = finished_run / "lifecircle.gpkg"
    pyogrio.write_dataframe(_isochrones(nanjing_run), gpkg, layer="isochrones", driver="GPKG")
    fac = nanjing_run.facilities
    sites = gpd.GeoDataFrame(
        {"category": ["childcare", "health"], "rank": [1, 2],
         "gain_population": [1200.0, 300.0]},
        geometry=list(fac.geometry.iloc[:2].translate(40, 40)), crs=fac.crs)
    pyogrio.write_dataframe(sites, gpkg, layer="proposed_sites", driver="GPKG")
    path = map_from_run(finished_run, out=tmp_path / "m.html", tiles=None)
    data = page_data(path.read_text(encoding="utf-8"))
    assert data["iso"][list(nanjing_run.profile.categories).index("health")] is not None
    assert [f["properties"]["r"] for f in data["sites"]["features"]] == [1, 2]


# ---------------------------------------------------------------------------------------------
# the run's map in a browser


@pytest.fixture(scope="module")
def payload_facilities(tmp_path_factory) -> Path:
    """Childcare facilities with script payloads as names, inside the Nanjing extract."""
    path = tmp_path_factory.mktemp("payloads") / "payloads.csv"
    lon0, lat0 = 118.7800, 32.0420  # Xinjiekou
    rows = [{"id": f"payload/{i}", "category": "childcare", "name": name,
             "lon": lon0 + 0.002 * (i % 5), "lat": lat0 - 0.002 * (i // 5)}
            for i, name in enumerate(BROWSER_PAYLOADS)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _browser_run(tmp_path: Path, facilities: Path, lang: str):
    return run(shared_osm("nanjing_xinjiekou.osm.gz"), facilities=facilities,
               out=tmp_path / f"nj-{lang}", lang=lang, figures=False, rasters=False)


def _layer_labels(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-list label'))"
        ".map(l => l.textContent.trim())")


def _hover_block(driver, word: str) -> str:
    """Hover block interiors near the middle of the map until a block tooltip shows."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    map_el = driver.find_element(By.CSS_SELECTOR, "#lc-map")
    # screen points near the middle that lie inside a block (the page's own lookup; the
    # real mouse then has to bring up the tooltip)
    script = (_MAP_JS.replace("return ", "const m = ") + """;
        const mid = m.getSize().divideBy(2);
        const out = [];
        for (let dy = -200; dy <= 200; dy += 10) {
          for (let dx = -300; dx <= 300; dx += 10) {
            const c = m.containerPointToLatLng([mid.x + dx, mid.y + dy]);
            if (window.lcBlocks.at([c.lat, c.lng]) >= 0) {
              out.push([Math.hypot(dx, dy), dx, dy]);
            }
          }
        }
        return out.sort((a, b) => a[0] - b[0]).slice(0, 6);""")
    # the canvas renders after the page loads: wait until block shapes are on screen
    points = WebDriverWait(driver, 10, poll_frequency=0.2).until(
        lambda d: d.execute_script(script) or None)

    assert points, "no block interior found on screen"
    for _, dx0, dy0 in points:
        def tooltip(d, dx0=dx0, dy0=dy0):
            for dx in (0, 1):
                ActionChains(d).move_to_element_with_offset(
                    map_el, int(dx0) + dx, int(dy0)).perform()
            return d.execute_script(
                "const t = document.querySelector('.leaflet-tooltip');"
                "return t && t.textContent.includes(arguments[0]) && t.textContent", word)
        try:
            return WebDriverWait(driver, 3, poll_frequency=0.2).until(tooltip)
        except TimeoutException:
            continue
    raise AssertionError("no block tooltip appeared")


@pytest.mark.browser
def test_browser_run_map_english(browser, tmp_path, payload_facilities):  # noqa: F811
    from selenium.webdriver.common.by import By

    result = _browser_run(tmp_path, payload_facilities, "en")
    page = result.out / "map.html"
    assert _open(browser, page) == []
    profile = result.profile
    have = set(result.facilities["category"])
    no_data = [c for c in profile.categories if c not in have]
    expected = ["Complete life circle: is every service within its limit?"]
    expected += [f"Walking time: {c.label_en}" + (" (no data)" if k in no_data else "")
                 for k, c in profile.categories.items()]
    expected += ["Walking network", "Walking isochrones of the service on show"]
    groups = {facility_group(c) for c in have if c in profile.categories}
    expected += [f"Facilities: {messages('map', 'en')[f'group_{g}']}"
                 for g, _, _ in FACILITY_GROUPS if g in groups]
    expected += ["Background map"]
    assert sorted(_layer_labels(browser)) == sorted(expected)
    legend = browser.find_element(By.CSS_SELECTOR, ".lc-legend").text
    n_cats = len(profile.categories)
    assert f"Yes: every service with data ({n_cats - len(no_data)} of {n_cats})" in legend
    assert "No: worst service 0–5 min beyond its limit" in legend
    assert "4.8 km/h" in legend
    if no_data:
        labels = ", ".join(profile.categories[c].label_en for c in no_data)
        assert f"No data, not counted: {labels}" in legend
    browser.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))"
        ".find(l => l.textContent.includes('Health care')).querySelector('input').click()")
    legend = browser.find_element(By.CSS_SELECTOR, ".lc-legend").text
    assert "0–5 min" in legend and "> 30 min" in legend and "15 min limit" in legend
    assert "unreachable on foot" in legend
    assert "© OpenStreetMap contributors" in browser.find_element(
        By.CSS_SELECTOR, ".leaflet-control-attribution").text
    scale = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-scale-line'))"
        ".map(e => e.textContent)")
    assert len(scale) == 1 and re.fullmatch(r"\d+ k?m", scale[0]), scale

    tip = _hover_block(browser, "Block")
    assert "Block" in tip and re.search(r"\d+\.\d\u00a0min", tip), tip
    assert "Lacks" in tip or "Every service with data within its limit" in tip

    # the screenshot shows the block tooltip a planner sees on hover
    shot = tmp_path / "nanjing_map_en.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 30_000
    if os.environ.get("LIFECIRCLE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["LIFECIRCLE_SCREENSHOT_DIR"]))

    # payload names: shown as text in tooltips and popups, nothing runs
    texts = browser.execute_script(_MAP_JS.replace("return ", "const m = ") + """;
        const out = [];
        m.eachLayer(l => {
          if (l instanceof L.Marker && l.feature && l.feature.properties.i &&
              String(l.feature.properties.i).startsWith("user/payload/")) {
            l.openTooltip(); const t = l.getTooltip().getElement().textContent;
            l.openPopup(); const p = l.getPopup().getElement().textContent;
            out.push([t, p]);
          }
        });
        return out;""")
    assert len(texts) == len(BROWSER_PAYLOADS)
    for tip_text, popup in texts:
        assert "Childcare" in popup and tip_text in popup
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return window.__dialogs") == []
    assert console_errors(browser) == []


@pytest.mark.browser
def test_browser_run_map_chinese(browser, tmp_path, payload_facilities):  # noqa: F811
    from selenium.webdriver.common.by import By

    result = _browser_run(tmp_path, payload_facilities, "zh")
    assert _open(browser, result.out / "map.html") == []
    labels = _layer_labels(browser)
    have = set(result.facilities["category"])
    expected = [f"步行时间：{c.label_zh}" + ("" if k in have else "（无数据）")
                for k, c in result.profile.categories.items()]
    assert set(expected) <= set(labels)
    assert {"生活圈完整性：各类服务是否均在时限内", "步行路网", "底图"} <= set(labels)
    legend = browser.find_element(By.CSS_SELECTOR, ".lc-legend").text
    assert "否：最差一类超出时限 0–5 分钟" in legend and "公里/小时" in legend
    assert "底图无法加载" in legend
    tip = _hover_block(browser, "街区")
    assert "街区" in tip and re.search(r"\d+\.\d\u00a0分钟", tip), tip
    assert browser.execute_script("return window.__pwned") is None
    shot = tmp_path / "nanjing_map_zh.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 30_000
    if os.environ.get("LIFECIRCLE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["LIFECIRCLE_SCREENSHOT_DIR"]))


def test_bad_tiles_refused_before_computing(monkeypatch, tmp_path):
    import lifecircle.pipeline

    def boom(*args, **kwargs):
        raise AssertionError("the network was loaded before the tile options were checked")

    monkeypatch.setattr(lifecircle.pipeline, "load_network", boom)
    from lifecircle._errors import ConfigError

    with pytest.raises(ConfigError, match="tiles_attribution"):
        run(out=tmp_path / "o", tiles="https://t.example/{z}/{x}/{y}.png")
    with pytest.raises(ConfigError, match="unknown tile provider"):
        run(out=tmp_path / "o", tiles="NoSuchTiles")
    assert not (tmp_path / "o").exists()


def test_map_command_cdn_alias_and_report_status(finished_run, nanjing_run):
    """--cdn links Leaflet; --self-contained is accepted and changes nothing; a category the
    report marks no_data is drawn as no data even though it has facilities."""
    runner = CliRunner()
    report = json.loads((finished_run / "report.json").read_text(encoding="utf-8"))
    report["summary"]["categories"]["health"]["status"] = "no_data"
    report["summary"]["categories"]["health"]["status_reason"] = "sparse"
    (finished_run / "report.json").write_text(json.dumps(report), encoding="utf-8")
    pages = {}
    for name, flags in (("cdn", ["--cdn"]), ("alias", ["--self-contained"]), ("plain", [])):
        out = finished_run / f"{name}.html"
        res = runner.invoke(cli, ["map", str(finished_run), "--out", str(out), "--tiles", "none",
                                  "-q", *flags])
        assert res.exit_code == 0, res.output
        pages[name] = out.read_text(encoding="utf-8")
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"' in pages["cdn"]
    assert pages["alias"] == pages["plain"] and 'version="1.9.3"' in pages["plain"]
    data = page_data(pages["plain"])
    cats = list(nanjing_run.profile.categories)
    k = cats.index("health")
    assert data["cats"][k]["noData"] and data["cats"][k]["drawn"]
    assert all(k not in f["properties"]["l"] for f in data["blocks"]["features"])
    assert "Health care" in data["views"][0]["notes"][-1]
