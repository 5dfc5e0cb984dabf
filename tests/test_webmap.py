"""Tests of the interactive map: escaping, layers, legend, languages, size, offline use.

The fixtures are synthetic and hand-checkable: a grid of square blocks in UTM zone 35N with
streets between them, facilities on the streets and walking times computed as Manhattan
distances at the profile's speed. The browser tests open the self-contained page in headless
Chromium from Debian (``/usr/bin/chromium`` driven through ``/usr/bin/chromedriver`` by
selenium) with no network.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from lifecircle import columns as col
from lifecircle._errors import ConfigError, InputError, OutputError
from lifecircle.outputs._escape import escape_text, script_json
from lifecircle.outputs.webmap import (
    BIN_COLORS,
    CLUSTER_ABOVE,
    UNREACHABLE_COLOR,
    classify_minutes,
    make_map,
    write_map,
)
from lifecircle.profiles import load_profile

CRS = "EPSG:32635"
X0, Y0 = 385_000.0, 6_672_000.0
PITCH, STREET = 250.0, 40.0

# Payloads as they could appear in an OSM name. Each must be shown as text, never run.
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "`+alert(1)+`",
    "${alert(1)}",
    "</script><script>alert(1)</script>",
    "</SCRIPT ><script>alert(1)</script>",
    "\u202eevil.exe\u202c",
    "\u2066isolate\u2069",
    "back\\slash\\",
    "nul\x00ctrl\x01\x1b\x7f\x9b",
    '"><svg onload=alert(1)>',
    "'-alert(1)-'",
    "\\`${alert(1)}\\`",
    "line\u2028break",
]
# Payloads for the browser: each would set window.__pwned if any of it ran.
BROWSER_PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<img src=x onerror=window.__pwned=1>",
    "`+(window.__pwned=1)+`",
    "${window.__pwned=1}",
    "</script><script>window.__pwned=1</script>",
    '"><svg onload="window.__pwned=1">',
    "\\`;window.__pwned=1;//",
    "\u202e<b onmouseover=window.__pwned=1>x</b>",
    "<iframe srcdoc=\"<script>parent.__pwned=1</script>\"></iframe>",
    "<details open ontoggle=alert(1)>",
]


# ---------------------------------------------------------------------------------------------
# synthetic data


def make_fixture(
    nx: int = 8, ny: int = 6, *, names: list[str] | None = None, n_retail: int = 3,
    seed: int = 0,
) -> dict[str, gpd.GeoDataFrame]:
    """A grid city: nx × ny blocks, streets between them, facilities on street corners.

    Walking time of a block to a facility = Manhattan distance from the block centre to the
    facility at the profile's speed (80 m/min). Blocks in the last column cannot reach any
    health facility (NaN), as if across a river.
    """
    profile = load_profile("walk15")
    speed = profile.walk_speed_kmh * 1000 / 60
    rng = np.random.default_rng(seed)
    half = (PITCH - STREET) / 2
    cx = X0 + PITCH * (np.arange(nx) + 0.5)
    cy = Y0 + PITCH * (np.arange(ny) + 0.5)
    centres = np.array([(x, y) for y in cy for x in cx])
    polys = [box(x - half, y - half, x + half, y + half) for x, y in centres]

    corners = [(X0 + PITCH * i, Y0 + PITCH * j) for i in range(nx + 1) for j in range(ny + 1)]
    picks = {
        "elderly_care": [corners[0], corners[-1]],
        "childcare": [corners[len(corners) // 2]],
        "health": [corners[3], corners[10]],
        "fitness": [corners[len(corners) // 3]],
        "retail": [corners[i] for i in rng.choice(len(corners), n_retail, replace=True)],
    }
    fac_rows = []
    for cat, pts in picks.items():
        for i, (x, y) in enumerate(pts):
            fac_rows.append({"facility_id": f"{cat}/{i}", "category": cat,
                             "name": f"{cat.title()} {i} & Co", "source": "osm",
                             "snap_status": "ok", "geometry": Point(x, y)})
    for i, name in enumerate(names or []):
        x, y = corners[(7 * i + 5) % len(corners)]
        fac_rows.append({"facility_id": f"payload/{i}", "category": "childcare", "name": name,
                         "source": "user", "snap_status": "ok",
                         "geometry": Point(x + 3.0 * i, y)})
    facilities = gpd.GeoDataFrame(fac_rows, crs=CRS)

    data: dict[str, object] = {"block_id": [f"B{i:04d}" for i in range(len(polys))],
                               "population": rng.integers(50, 3000, len(polys)).astype(float)}
    lacks = [[] for _ in polys]
    for cat in profile.categories:
        pts = facilities.loc[facilities["category"] == cat].geometry
        xy = np.column_stack([pts.x, pts.y])
        dist = np.abs(centres[:, None, :] - xy[None, :, :]).sum(axis=2).min(axis=1)
        minutes = dist / speed
        if cat == "health":
            minutes[np.isclose(centres[:, 0], cx[-1])] = np.nan
        covered = minutes <= profile.threshold_of(cat)
        data[col.walk_min(cat)] = minutes
        data[col.covered(cat)] = covered
        data[col.short_min(cat)] = np.where(np.isnan(minutes), np.nan,
                                            np.maximum(minutes - 15, 0))
        data[col.nearest(cat)] = [None if np.isnan(m) else f"{cat}/0" for m in minutes]
        for r in np.flatnonzero(~covered):
            lacks[r].append(cat)
    data["lacks"] = [",".join(x) for x in lacks]
    data["n_lacking"] = [len(x) for x in lacks]
    data["complete"] = [not x for x in lacks]
    blocks = gpd.GeoDataFrame(data, geometry=polys, crs=CRS)

    lines, u, v = [], [], []
    for j in range(ny + 1):
        for i in range(nx):
            a, b = (X0 + PITCH * i, Y0 + PITCH * j), (X0 + PITCH * (i + 1), Y0 + PITCH * j)
            lines.append(LineString([a, b]))
            u.append(j * (nx + 1) + i)
            v.append(j * (nx + 1) + i + 1)
    for i in range(nx + 1):
        for j in range(ny):
            a, b = (X0 + PITCH * i, Y0 + PITCH * j), (X0 + PITCH * i, Y0 + PITCH * (j + 1))
            lines.append(LineString([a, b]))
            u.append(j * (nx + 1) + i)
            v.append((j + 1) * (nx + 1) + i)
    edges = gpd.GeoDataFrame({"u": u, "v": v, "key": 0,
                              "length_m": [g.length for g in lines],
                              "highway": "residential"}, geometry=lines, crs=CRS)

    iso_rows = []
    for cat, pts in picks.items():
        for band in (5, 10, 15):
            reach = band * speed
            geom = shapely.union_all([Point(p).buffer(reach, cap_style="square").intersection(
                Point(p).buffer(reach, quad_segs=1)) for p in pts])
            iso_rows.append({"category": cat, "facility_id": "all", "band_min": band,
                             "geometry": geom})
            iso_rows.append({"category": cat, "facility_id": f"{cat}/0", "band_min": band,
                             "geometry": Point(pts[0]).buffer(reach, quad_segs=1)})
    isochrones = gpd.GeoDataFrame(iso_rows, crs=CRS)
    sites = gpd.GeoDataFrame(
        {"category": ["fitness", "health"], "rank": [1, 2], "gain_population": [4200.0, 1300.0]},
        geometry=[Point(corners[-3]), Point(corners[5])], crs=CRS)
    return {"blocks": blocks, "facilities": facilities, "edges": edges,
            "isochrones": isochrones, "proposed_sites": sites}


@pytest.fixture(scope="module")
def profile():
    return load_profile("walk15")


@pytest.fixture(scope="module")
def city():
    return make_fixture(names=PAYLOADS)


def render(city, profile, **kwargs) -> str:
    m = make_map(city["blocks"], city["facilities"], city["edges"], profile, **kwargs)
    return m.get_root().render()


def shown(page: str) -> str:
    """The page with JavaScript ``\\uXXXX`` escapes decoded, to look for displayed text."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def data_of(page: str, suffix: str) -> dict:
    """The JSON assigned to the first ``var lifecircle_<id><suffix> = ...;`` in the page."""
    match = re.search(r"var (lifecircle_\w+" + suffix + r") = (\{.*?\});\n", page)
    assert match, f"no lifecircle data variable ending in {suffix!r}"
    return json.loads(match.group(2))


# ---------------------------------------------------------------------------------------------
# escaping


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("`+alert(1)+`", "&#96;+alert(1)+&#96;"),
        ("${alert(1)}", "&#36;{alert(1)}"),
        ("</script><script>alert(1)</script>",
         "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("</ScRiPt>", "&lt;/ScRiPt&gt;"),
        ("a\u202eb\u202cc\u202ad\u202be\u202df", "abcdef"),
        ("\u2066x\u2067y\u2068z\u2069", "xyz"),
        ("C:\\temp\\x", "C:&#92;temp&#92;x"),
        ("nul\x00bell\x07esc\x1bdel\x7fcsi\x9bend", "nulbellescdelcsiend"),
        ("tab\tnew\nline\r\n\u2028sep", "tab new line sep"),
        ("\"quote\" & 'apos'", "&quot;quote&quot; &amp; &#x27;apos&#x27;"),
        ("$5 and {braces}", "$5 and {braces}"),
        ("养老院 «Sunset»", "养老院 «Sunset»"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        (None, ""),
        (float("nan"), ""),
        (42, "42"),
        (b"caf\xc3\xa9 \xff", "café \ufffd"),
    ],
)
def test_escape_text_table(raw, expected):
    assert escape_text(raw) == expected


@pytest.mark.parametrize("payload", PAYLOADS + BROWSER_PAYLOADS)
def test_escape_text_leaves_nothing_active(payload):
    out = escape_text(payload)
    for bad in ("<", ">", "`", "${", "\\", '"', "'"):
        assert bad not in out
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", out)
    # What the browser shows is the payload minus control and bidi characters.
    shown = re.sub(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", "",
                   payload.replace("\u2028", " "))
    assert html.unescape(out).replace(" ", "") == shown.replace(" ", "")


def test_escape_text_truncates_long_names():
    out = escape_text("<" * 5000, max_len=50)
    assert out.endswith("…") and out.count("&lt;") == 49
    assert len(escape_text("x" * 5000, max_len=None)) == 5000


def test_script_json_cannot_close_the_script():
    text = script_json({"a": "</script><!--", "b": "\u2028\u2029", "c": "it's & <b>"})
    assert "</" not in text and "<!--" not in text and "'" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!--", "b": "\u2028\u2029", "c": "it's & <b>"}
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})


# ---------------------------------------------------------------------------------------------
# the page


def test_payload_names_never_appear_raw(city, profile):
    page = render(city, profile)
    for payload in PAYLOADS:
        visible = payload.strip("\x00")
        if re.search(r"[<>`\\\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028]|\$\{",
                     visible):
            assert visible not in page, f"payload {payload!r} is in the page raw"
    # Not a single raw bidi override or control character anywhere in the page.
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
                         page)
    # Exactly one </script> per <script> element: data cannot close a script block early.
    assert len(re.findall(r"</script", page, re.I)) == len(re.findall(r"<script", page, re.I))
    assert "<img" not in page and "<svg" not in page and "onerror=alert(1)>" not in page
    # The escaped names are there, so they are shown as text.
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown(page)
    assert "&#96;+alert(1)+&#96;" in shown(page)
    assert "&#36;{alert(1)}" in shown(page)


def test_layers_and_legend(city, profile):
    page = shown(render(city, profile, isochrones=city["isochrones"],
                        proposed_sites=city["proposed_sites"], tiles=None))
    expected = [f"Walking time: {c.label_en}" for c in profile.categories.values()]
    expected += ["Walking time: worst category", "Blocks lacking a service (outlined)",
                 "Walking network", "Proposed sites"]
    expected += [f"Facilities: {c.label_en}" for c in profile.categories.values()]
    expected += [f"Walking isochrones: {c.label_en}" for c in profile.categories.values()]
    control = re.search(r"_layers = \{(.*?)\};\s*let", page, re.S)
    assert control, "no layer control"
    names = re.findall(r'"((?:[^"\\]|\\.)*)" :', control.group(1))
    assert sorted(json.loads(f'"{n}"') for n in names) == sorted(expected)
    # The time layers are radio buttons (base layers); the worst one is shown first.
    base = re.search(r"base_layers : \{(.*?)\}", control.group(1), re.S).group(1)
    assert base.count("lifecircle_layer_") == len(profile.categories) + 1
    # Legend: fixed bins with units, unreachable grey, and the colours used on the map.
    for label in ("0–5 min", "5–10 min", "10–15 min", "15–20 min", "20–30 min", "&gt; 30 min",
                  "unreachable on foot", "15 min limit", "Walking at 4.8 km/h"):
        assert label in page, label
    for color in [*BIN_COLORS, UNREACHABLE_COLOR]:
        assert color in page
    assert "OpenStreetMap</a> contributors" in page
    assert "L.control.layers" in page and "collapsed\": false" in page


def test_osm_credit_without_tiles_and_custom_tiles(city, profile):
    page = render(city, profile, tiles=None)
    assert "attributionControl.addAttribution" in page
    assert "tile.openstreetmap.org" not in page
    page = shown(render(city, profile, tiles="https://tiles.example.cn/{z}/{x}/{y}.png",
                        tiles_attribution="Example <Tiles>"))
    assert "tiles.example.cn" in page and "Example &lt;Tiles&gt;" in page
    assert "OpenStreetMap</a> contributors" in page
    with pytest.raises(ConfigError, match="tiles_attribution"):
        render(city, profile, tiles="https://tiles.example.cn/{z}/{x}/{y}.png")
    with pytest.raises(ConfigError, match="unknown tile provider"):
        render(city, profile, tiles="NoSuchProvider")


def test_chinese_labels(city, profile):
    page = shown(render(city, profile, lang="zh", isochrones=city["isochrones"]))
    for c in profile.categories.values():
        assert f"步行时间：{c.label_zh}" in page
        assert f"设施：{c.label_zh}" in page
        assert f"步行等时圈：{c.label_zh}" in page
    for label in ("步行至最近设施的时间（分钟）", "步行无法到达", "缺少服务的街区", "步行路网",
                  "分钟", "15分钟步行（国际通用）"):
        assert label in page, label
    assert "Walking time" not in page and "unreachable on foot" not in page
    with pytest.raises(ConfigError, match="lang"):
        render(city, profile, lang="fr")


def test_block_properties_and_bins(city, profile):
    page = render(city, profile, tiles=None)
    data = data_of(page, "_blocks")
    blocks = city["blocks"]
    assert len(data["features"]) == len(blocks)
    cats = list(profile.categories)
    for feature, (_, row) in zip(data["features"], blocks.iterrows(), strict=True):
        p = feature["properties"]
        assert set(p) == {"id", "m", "b", "w", "c", "l", "n", "p"}
        assert p["id"] == row["block_id"] and p["p"] == round(row["population"])
        for i, c in enumerate(cats):
            minutes = row[col.walk_min(c)]
            assert (p["m"][i] is None) == bool(np.isnan(minutes))
            assert p["b"][i] == classify_minutes([minutes])[0]
        assert [cats[i] for i in p["l"]] == [s for s in row["lacks"].split(",") if s]
    # Every bin is used somewhere in this fixture, unreachable included.
    used = {b for f in data["features"] for b in f["properties"]["b"]}
    assert used == set(range(len(BIN_COLORS) + 1))


def test_classify_minutes_edges():
    got = classify_minutes([0, 5, 5.01, 10, 15, 15.01, 20, 30, 30.5, 400, np.nan, np.inf, -1])
    assert got.tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 6, 0]
    assert classify_minutes([np.nan, np.nan]).tolist() == [6, 6]
    assert classify_minutes([]).tolist() == []


def test_isochrones_use_the_union_rows(city, profile):
    page = render(city, profile, isochrones=city["isochrones"], tiles=None)
    calls = re.findall(r"\.isoLayer\((\{.*?\}), (\d+)\)", page)
    assert len(calls) == len(profile.categories)
    for payload, _ in calls:
        bands = [f["properties"]["b"] for f in json.loads(payload)["features"]]
        assert bands == [15, 10, 5]  # widest first, union rows only


def test_clustering_only_when_many(profile):
    small = make_fixture(4, 3, n_retail=CLUSTER_ABOVE)
    big = make_fixture(4, 3, n_retail=CLUSTER_ABOVE + 1)
    page_small = render(small, profile, tiles=None)
    page_big = render(big, profile, tiles=None)
    assert "leaflet.markercluster" not in page_small
    assert "leaflet.markercluster" in page_big
    assert page_big.count(", true)") == 1  # only retail is clustered


def test_unused_cdn_resources_are_dropped(city, profile):
    page = render(city, profile)
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()
    assert "awesome-markers" not in page and "fontawesome" not in page
    assert "leaflet@1.9.3/dist/leaflet.js" in page


def test_self_contained_has_no_remote_scripts_or_styles(profile, tmp_path):
    big = make_fixture(4, 3, n_retail=CLUSTER_ABOVE + 5)
    out = write_map(big["blocks"], big["facilities"], big["edges"], profile,
                    tmp_path / "map.html", self_contained=True, tiles=None)
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*\shref\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"url\((['\"]?)(https?:)?//", page)
    assert "url(images/" not in page  # Leaflet's images are inlined as data: URIs
    assert "L.MarkerClusterGroup=" in page and 'version="1.9.3"' in page
    assert "sourceMappingURL" not in page
    assert not (tmp_path / "map.html.tmp").exists()


def test_self_contained_refuses_resources_it_cannot_inline(city, profile, monkeypatch):
    from lifecircle.outputs.webmap import assets as webmap

    monkeypatch.setattr(webmap, "_UNUSED_RESOURCES", frozenset())  # jQuery etc. now "needed"
    with pytest.raises(OutputError, match=r"cannot inline .*jquery"):
        render(city, profile, tiles=None, self_contained=True)


def test_geographic_input_is_accepted(city, profile):
    blocks = city["blocks"].to_crs(4326)
    data = data_of(render({**city, "blocks": blocks}, profile, tiles=None), "_blocks")
    assert len(data["features"]) == len(blocks)


def test_write_map_is_atomic(city, profile, tmp_path, monkeypatch):
    target = tmp_path / "map.html"
    target.write_text("old", encoding="utf-8")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="No space left"):
        write_map(city["blocks"], city["facilities"], city["edges"], profile, target,
                  tiles=None)
    assert target.read_text(encoding="utf-8") == "old"
    assert not (tmp_path / "map.html.tmp").exists()
    with pytest.raises(OutputError, match="does not exist"):
        write_map(city["blocks"], city["facilities"], city["edges"], profile,
                  tmp_path / "missing" / "map.html")


def test_bad_inputs(city, profile):
    no_crs = city["blocks"].copy()
    no_crs = no_crs.set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="no CRS"):
        make_map(no_crs, city["facilities"], city["edges"], profile)
    with pytest.raises(InputError, match=r"walk_min_health"):
        make_map(city["blocks"].drop(columns=[col.walk_min("health")]), city["facilities"],
                 city["edges"], profile)
    empty = city["blocks"].iloc[:0]
    with pytest.raises(InputError, match="nothing to map"):
        make_map(empty, city["facilities"].iloc[:0], city["edges"].iloc[:0], profile)


def test_only_shown_columns_and_rounded_coordinates(city, profile):
    page = render(city, profile, tiles=None)
    assert "short_min" not in page and "nearest_" not in page and "snap_status" not in page
    coords = re.findall(r"\[(2[0-9]\.\d+),(6[0-9]\.\d+)\]", page)
    assert coords
    assert max(len(x.split(".")[1]) for pair in coords for x in pair) <= 6


def test_district_sized_map_stays_small(profile, tmp_path):
    """About 3000 blocks with detailed outlines, 6000 streets and 900 facilities."""
    city = make_fixture(60, 50, n_retail=600)
    blocks = city["blocks"]
    # Detailed outlines: 60-vertex rounded blocks plus a vertex every metre along one side
    # (collinear points that simplification removes).
    blocks = blocks.set_geometry(blocks.geometry.buffer(-5).buffer(5, quad_segs=15)
                                 .segmentize(1.0), crs=blocks.crs)
    edges = city["edges"].set_geometry(city["edges"].geometry.segmentize(5.0))
    out = write_map(blocks, city["facilities"], edges, profile, tmp_path / "map.html",
                    isochrones=city["isochrones"], tiles=None)
    size_mb = out.stat().st_size / 1e6
    assert size_mb < 5, f"{size_mb:.1f} MB"


# ---------------------------------------------------------------------------------------------
# headless browser

CHROMIUM = os.environ.get("LIFECIRCLE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LIFECIRCLE_CHROMEDRIVER", "/usr/bin/chromedriver")


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'lifecircle[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return (f"{path} not found (apt-get install chromium chromium-driver, or set "
                    "LIFECIRCLE_CHROMIUM / LIFECIRCLE_CHROMEDRIVER)")
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _browser_missing()
    if reason:
        if os.environ.get("LIFECIRCLE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LIFECIRCLE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix="lifecircle-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1400,950", f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    # Record dialogs instead of letting them block: any alert/confirm/prompt is a failure.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        window.__dialogs = [];
        for (const f of ["alert", "confirm", "prompt", "print"]) {
          window[f] = function () { window.__dialogs.push(f); };
        }"""})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def _open(driver, path: Path) -> list[dict]:
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


_MAP_JS = "return window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))]"


@pytest.mark.browser
def test_browser_self_contained_map(browser, profile, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    city = make_fixture(names=BROWSER_PAYLOADS + PAYLOADS, n_retail=CLUSTER_ABOVE + 20)
    page = write_map(city["blocks"], city["facilities"], city["edges"], profile,
                     tmp_path / "map.html", isochrones=city["isochrones"],
                     proposed_sites=city["proposed_sites"], tiles=None, self_contained=True)
    errors = _open(browser, page)
    assert errors == [], errors
    assert browser.execute_script("return typeof L !== 'undefined' && L.version") == "1.9.3"

    # Every layer is listed in the (expanded) layer control.
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-list label'))"
        ".map(l => l.textContent.trim())")
    expected = [f"Walking time: {c.label_en}" for c in profile.categories.values()]
    expected += ["Walking time: worst category", "Blocks lacking a service (outlined)",
                 "Walking network", "Proposed sites"]
    expected += [f"Facilities: {c.label_en}" for c in profile.categories.values()]
    expected += [f"Walking isochrones: {c.label_en}" for c in profile.categories.values()]
    assert sorted(shown) == sorted(expected)
    legend = browser.find_element(By.CSS_SELECTOR, ".lc-legend").text
    assert "0–5 min" in legend and "unreachable on foot" in legend
    assert "worst of all categories" in legend
    assert "© OpenStreetMap contributors" in browser.find_element(
        By.CSS_SELECTOR, ".leaflet-control-attribution").text
    assert browser.execute_script(
        "return document.querySelectorAll('.lc-cluster').length") > 0

    # Hovering a block over the map shows its figures (the panes above let the mouse through).
    # The block nearest the middle of the map, away from the legend and the layer control.
    map_el = browser.find_element(By.CSS_SELECTOR, ".folium-map")
    point = browser.execute_script(
        _MAP_JS.replace("return ", "const m = ") + """;
        const mid = m.getSize().divideBy(2);
        let best = null, bestD = Infinity;
        m.eachLayer(l => {
          if (l.feature && l.feature.properties.m) {
            const p = m.latLngToContainerPoint(l.getBounds().getCenter());
            if (p.distanceTo(mid) < bestD) { bestD = p.distanceTo(mid); best = p; }
          }
        });
        return [best.x - mid.x, best.y - mid.y];""")

    def hover_tooltip(driver):
        # Leaflet throttles canvas hit-testing: move twice, then look for the tooltip.
        for dx in (0, 2):
            ActionChains(driver).move_to_element_with_offset(
                map_el, int(point[0]) + dx, int(point[1])).perform()
        return driver.execute_script(
            "const t = document.querySelector('.leaflet-tooltip'); return t && t.textContent")

    tooltip = WebDriverWait(browser, 5, poll_frequency=0.2).until(hover_tooltip)
    assert "Block B" in tooltip and "min" in tooltip and "Population" in tooltip

    # Switching the time layer updates the legend heading.
    browser.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))"
        ".find(l => l.textContent.includes('Health care')).querySelector('input').click()")
    assert "Health care" in browser.find_element(By.CSS_SELECTOR, ".lc-legend-heading").text

    browser.save_screenshot(str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").stat().st_size > 20_000
    if os.environ.get("LIFECIRCLE_SCREENSHOT_DIR"):
        shutil.copy(tmp_path / "map.png", Path(os.environ["LIFECIRCLE_SCREENSHOT_DIR"]))

    # Open the popup and tooltip of every facility named with a payload.
    texts = browser.execute_script(_MAP_JS.replace("return ", "const m = ") + """;
        const out = [];
        m.eachLayer(l => {
          if (l instanceof L.CircleMarker && l.feature &&
              l.feature.properties.i.startsWith("payload/")) {
            l.openTooltip(); const t = l.getTooltip().getElement().textContent;
            l.openPopup(); const p = l.getPopup().getElement().textContent;
            out.push([l.feature.properties.i, t, p]);
          }
        });
        return out;""")
    assert len(texts) == len(BROWSER_PAYLOADS + PAYLOADS)
    names = BROWSER_PAYLOADS + PAYLOADS
    strip = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
    for fid, tip, popup in texts:
        name = strip.sub("", names[int(fid.split("/")[1])].replace("\u2028", " "))
        assert tip == name  # shown literally
        assert name in popup
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return window.__dialogs") == []
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert  # a real (unpatched) dialog would be open here
    injected = browser.execute_script("""
        return Array.from(document.querySelectorAll('img[src="x"], iframe, details, svg[onload]'))
          .length + Array.from(document.querySelectorAll('*')).filter(e =>
            Array.from(e.attributes).some(a => a.name.startsWith('on'))).length;""")
    assert injected == 0
    late = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert late == [], late


@pytest.mark.browser
def test_browser_chinese_map(browser, profile, tmp_path):
    city = make_fixture(5, 4)
    page = write_map(city["blocks"], city["facilities"], city["edges"], profile,
                     tmp_path / "map_zh.html", lang="zh", tiles=None, self_contained=True)
    assert _open(browser, page) == []
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-list label'))"
        ".map(l => l.textContent.trim())")
    assert "步行时间：养老服务" in shown and "步行路网" in shown
    assert "步行无法到达" in browser.execute_script(
        "return document.querySelector('.lc-legend').textContent")
    if os.environ.get("LIFECIRCLE_SCREENSHOT_DIR"):
        browser.save_screenshot(str(Path(os.environ["LIFECIRCLE_SCREENSHOT_DIR"])
                                    / "map_zh.png"))


def test_pandas_frames_are_not_modified(city, profile):
    before = city["blocks"].copy()
    render(city, profile, tiles=None)
    pd.testing.assert_frame_equal(city["blocks"], before)


def test_cdn_map_says_so_when_leaflet_cannot_load(city, profile):
    page = render(city, profile, tiles=None)
    assert "d.className='lc-no-leaflet'" in page and "--self-contained" in shown(page)
    inlined = render(city, profile, tiles=None, self_contained=True)
    assert "d.className='lc-no-leaflet'" not in inlined


@pytest.mark.browser
def test_browser_offline_cdn_map_shows_a_note_not_a_blank_page(browser, city, profile, tmp_path):
    out = write_map(city["blocks"], city["facilities"], city["edges"], profile,
                    tmp_path / "map.html", tiles=None, lang="zh")
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*cdn.jsdelivr.net*"]})
    try:
        browser.get(out.as_uri())
        note = browser.execute_script(
            "const d = document.querySelector('.lc-no-leaflet'); return d && d.textContent")
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    assert note and "Leaflet" in note and "--self-contained" in note and "离线" in note
