"""Tests of the interactive map: escaping, layers, legend, languages, size, offline use.

The fixtures are synthetic and hand-checkable: a grid of square blocks in UTM zone 35N with
streets between them, facilities on the streets and walking times computed as Manhattan
distances at the profile's speed. The browser tests open the page in headless Chromium from
Debian (``/usr/bin/chromium`` driven through ``/usr/bin/chromedriver`` by selenium) with every
network request blocked.
"""

from __future__ import annotations

import base64
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

import lifecircle.outputs
from lifecircle import columns as col
from lifecircle._errors import ConfigError, InputError, OutputError
from lifecircle.i18n import messages
from lifecircle.outputs._escape import clean_text, escape_text, script_json
from lifecircle.outputs.webmap import (
    BIN_COLORS,
    CLUSTER_ABOVE,
    UNREACHABLE_COLOR,
    classify_minutes,
    make_map,
    tile_spec,
    write_map,
)
from lifecircle.outputs.webmap.style import FACILITY_GROUPS, facility_group
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
    return make_map(city["blocks"], city["facilities"], city["edges"], profile,
                    **kwargs).render()


def shown(page: str) -> str:
    """The page with JavaScript ``\\uXXXX`` escapes decoded, to look for displayed text."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


_DATA = re.compile(r'<script type="application/json" id="lc-data">(.*?)</script>', re.S)


def page_data(page: str) -> dict:
    """The page's JSON data block (the only place data-derived text is in the page), with the
    blocks unpacked into GeoJSON features as the page's script does."""
    found = _DATA.findall(page)
    assert len(found) == 1, "expected exactly one data block"
    data = json.loads(found[0])
    data["blocks"] = unpack_blocks(data["blocks"])
    for entry in data["facilities"]:
        entry["data"] = unpack_points(entry["data"])
    return data


def unpack_points(packed: dict) -> dict:
    """Packed facilities as GeoJSON points (``unpackPoints`` in ``lifecircle-map.js``)."""
    xy = np.cumsum(np.asarray(packed["xy"], dtype=np.int64).reshape(-1, 2), axis=0)
    ids = read_texts(packed["i"])
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "geometry": {"type": "Point", "coordinates": (c / packed["q"]).tolist()},
         "properties": {"n": packed["n"][i], "i": ids[i],
                        "s": packed["src"][packed["s"][i]], "k": packed["k"][i]}}
        for i, c in enumerate(xy)]}


def read_varints(b64: str) -> list[int]:
    """LEB128 varints decoded one byte at a time (``decodeVarints`` in ``lifecircle-map.js``,
    written again)."""
    out, value, shift = [], 0, 0
    for byte in base64.b64decode(b64):
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(value)
            value, shift = 0, 0
    assert shift == 0, "a varint is cut off"
    return out


def read_typed(column: dict, n: int) -> list[list]:
    """A typed column as ``n`` rows of ``w`` values (``None`` for the null sentinel)."""
    dtype = {"u8": "<u1", "u16": "<u2", "u32": "<u4"}[column["t"]]
    values = np.frombuffer(base64.b64decode(column["d"]), dtype=dtype)
    assert len(values) == n * column["w"]
    top = np.iinfo(dtype).max
    return [[None if column["n"] and v == top else int(v) for v in row]
            for row in values.reshape(n, column["w"])]


def read_texts(column: list | dict) -> list[str]:
    """A text column: the list itself, or prefixes and number steps rebuilt."""
    if isinstance(column, list):
        return column
    steps = np.asarray(read_varints(column["num"]), dtype=np.int64)
    numbers = np.cumsum(np.where(steps % 2 == 1, -(steps + 1) // 2, steps // 2))
    which = ([row[0] for row in read_typed(column["k"], len(numbers))] if "k" in column
             else [0] * len(numbers))
    return [f"{column['pre'][w]}{x}" for w, x in zip(which, numbers, strict=True)]


def unpack_blocks(packed: dict) -> dict:
    """The packed blocks of the data block as a FeatureCollection of Polygon/MultiPolygon-free
    ring lists (``decodeBlocks`` and ``blockProps`` in ``lifecircle-map.js``, written again):
    ``geometry`` is a GeoJSON Polygon whose rings are all the block's rings (exteriors and
    holes, filled even-odd), in degrees."""
    n = packed["n"]
    counts = read_varints(packed["rings"])
    steps = np.asarray(read_varints(packed["xy"]), dtype=np.int64)
    signed = np.where(steps % 2 == 1, -(steps + 1) // 2, steps // 2)
    xy = np.cumsum(signed.reshape(-1, 2), axis=0) / packed["q"]
    rings_of, at, v = [], 0, 0
    for _ in range(n):
        rings = []
        for _ in range(counts[at]):
            at += 1
            ring = xy[v:v + counts[at]].tolist()
            v += counts[at]
            rings.append([*ring, ring[0]])
        at += 1
        rings_of.append(rings)
    assert at == len(counts) and v == len(xy)
    cols = {k: read_typed(packed[k], n) for k in ("m", "b", "l", "f", "s", "p", "r")
            if k in packed}
    k = packed["m"]["w"]
    ids = read_texts(packed["id"])

    def props(i: int) -> dict:
        bits = np.unpackbits(np.asarray(cols["l"][i], dtype=np.uint8), bitorder="little")
        p = {"id": ids[i],
             "m": [None if x is None else x / 10 for x in cols["m"][i]],
             "b": [(cols["b"][i][j // 2] >> (4 * (j % 2))) & 15 for j in range(k)],
             "l": np.flatnonzero(bits[:k]).tolist(),
             "f": None if cols["f"][i][0] is None else cols["f"][i][0] / 10,
             "s": cols["s"][i][0], "p": cols["p"][i][0]}
        if "r" in cols:
            p["r"] = cols["r"][i]
        return p

    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props(i),
         "geometry": {"type": "Polygon", "coordinates": rings}}
        for i, rings in enumerate(rings_of)]}


def data_of(page: str, suffix: str) -> dict:
    """One entry of the data block: ``"_blocks"`` gives the blocks' GeoJSON."""
    return page_data(page)[suffix.lstrip("_")]


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


def test_payload_names_are_data_only(city, profile):
    page = render(city, profile)
    data = page_data(page)
    outside = _DATA.sub("", page)
    names = {f["properties"]["n"] for layer in data["facilities"]
             for f in layer["data"]["features"]}
    for payload in PAYLOADS:
        assert clean_text(payload) in names  # kept as text, not escaped, not evaluated
        if len(payload) > 3:
            assert payload not in outside
    # Not a single raw bidi override or control character anywhere in the page.
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
                         page)
    # Exactly one </script> per <script> element: data cannot close a script block early.
    assert len(re.findall(r"</script", page, re.I)) == len(re.findall(r"<script", page, re.I))
    assert "<img" not in page and "<svg onload" not in page


def test_template_syntax_is_shown_literally(profile):
    city = make_fixture(4, 3, names=["{{7*7}}", "{% if 1 %}IF{% endif %}", "${7*7}", "#{7*7}"])
    data = page_data(render(city, profile, tiles=None, title="{{7*7}} plan"))
    names = [f["properties"]["n"] for layer in data["facilities"]
             for f in layer["data"]["features"]]
    assert {"{{7*7}}", "{% if 1 %}IF{% endif %}", "${7*7}", "#{7*7}"} <= set(names)
    assert "49" not in names and "IF" not in names
    assert data["title"] == "{{7*7}} plan"


def test_views_layers_and_legend(city, profile):
    data = page_data(render(city, profile, isochrones=city["isochrones"],
                            proposed_sites=city["proposed_sites"], tiles=None))
    views = data["views"]
    assert views[0]["name"] == "Complete life circle: is every service within its limit?"
    assert [v["name"] for v in views[1:]] == [
        f"Walking time: {c.label_en}" for c in profile.categories.values()]
    assert [v["k"] for v in views] == [-1, 0, 1, 2, 3, 4]
    assert data["view"] == 0
    first = [r["t"] for r in views[0]["rows"]]
    assert first[0] == "Yes: every service with data (5 of 5)"
    assert "No: worst service 5–10 min beyond its limit" in first
    assert first[-1] == "No: a service cannot be reached on foot"
    health = [r.get("t") or r.get("limit") for r in views[3]["rows"]]
    assert health[:4] == ["0–5 min", "5–10 min", "10–15 min", "15 min limit"]
    assert health[-1] == "unreachable on foot"
    assert "Walking at 4.8 km/h; a service counts within 15 min." in views[3]["notes"]
    assert data["binColors"] == [*BIN_COLORS, UNREACHABLE_COLOR]
    # isochrones: union rows only, widest band first
    for fc in data["iso"]:
        assert [f["properties"]["b"] for f in fc["features"]] == [15, 10, 5]
    assert data["isoNote"].startswith("Isochrone bands: 5 / 10 / 15 min walk")
    assert [f["properties"]["r"] for f in data["sites"]["features"]] == [1, 2]


def test_facility_groups_colours_and_shapes():
    gb = load_profile("gb50180-2018")
    groups = [facility_group(c) for c in gb.categories]
    assert groups.count("care") == 4 and groups.count("health") == 2
    assert facility_group("elderly_day_care") == "care"
    assert facility_group("food_market") == facility_group("convenience_store") == "retail"
    assert facility_group("primary_school") == "other"
    city = make_fixture(3, 2)
    blocks = city["blocks"]
    for c in gb.categories:
        blocks[col.walk_min(c)] = 3.0
    data = page_data(make_map(blocks, city["facilities"], city["edges"], gb,
                              tiles=None).render())
    colours = {g["color"] for g in data["groups"]}
    assert len(colours) == len(data["groups"]) <= 8
    marks = [(c["group"], c["shape"]) for c in data["cats"]]
    assert len(set(marks)) == len(marks) == 15  # every facility type looks different


def test_no_data_categories_never_grey_every_block(profile):
    """Elderly care has no facility: it is listed as no data and counts against no block."""
    city = make_fixture(6, 4)
    fac = city["facilities"]
    fac = fac[fac["category"] != "elderly_care"]
    blocks = city["blocks"].copy()
    blocks[col.walk_min("elderly_care")] = np.nan
    blocks[col.covered("elderly_care")] = False
    data = page_data(make_map(blocks, fac, city["edges"], profile, tiles=None,
                              no_data=["fitness"]).render())
    cats = list(profile.categories)
    flagged = {cats.index("elderly_care"), cats.index("fitness")}
    assert [c["noData"] for c in data["cats"]] == [i in flagged for i in range(len(cats))]
    assert data["views"][0]["notes"][-1] == "No data, not counted: Elderly care, Fitness and sport"
    assert data["views"][0]["rows"][0]["t"] == "Yes: every service with data (3 of 5)"
    assert data["views"][1]["name"] == "Walking time: Elderly care (no data)"
    thresholds = {i: profile.threshold_of(c) for i, c in enumerate(cats)}
    bins, worst_of = set(), []
    for f, (_, row) in zip(data["blocks"]["features"], blocks.iterrows(), strict=True):
        p = f["properties"]
        assert not flagged & set(p["l"])
        # worst shortfall over the categories with data, by hand
        over = [row[col.walk_min(c)] - thresholds[i] for i, c in enumerate(cats)
                if i not in flagged]
        lacking = [i for i, c in enumerate(cats)
                   if i not in flagged and not row[col.covered(c)]]
        assert p["l"] == lacking
        if any(np.isnan(over)):
            assert p["s"] == 5 and p["f"] is None
        elif not lacking:
            assert p["s"] == 0 and p["f"] == 0
        else:
            worst = max(over)
            assert p["f"] == pytest.approx(round(worst, 1))
            assert p["s"] == int(np.searchsorted([0, 5, 10, 15], worst, side="left"))
        bins.add(p["s"])
        if lacking:
            with_data = [i for i in range(len(cats)) if i not in flagged]
            over_i = [np.inf if np.isnan(x) else x for x in over]
            worst_of.append(with_data[int(np.argmax(over_i))])
    assert len(bins) >= 3  # the first view has something to say
    # the first view names the service that is most often the worst
    counts = {i: worst_of.count(i) for i in set(worst_of)}
    top = sorted(counts, key=lambda i: (-counts[i], i))[:3]
    label = {i: c.label_en for i, c in enumerate(profile.categories.values())}
    assert data["views"][0]["notes"][-2] == "Most often the worst service: " + ", ".join(
        f"{label[i]} ({counts[i]} blocks)" for i in top) + "."


def test_block_properties_and_bins(city, profile):
    data = data_of(render(city, profile, tiles=None), "_blocks")
    blocks = city["blocks"]
    assert len(data["features"]) == len(blocks)
    cats = list(profile.categories)
    for feature, (_, row) in zip(data["features"], blocks.iterrows(), strict=True):
        p = feature["properties"]
        assert set(p) == {"id", "m", "b", "l", "f", "s", "p"}
        assert p["id"] == row["block_id"] and p["p"] == round(row["population"])
        for i, c in enumerate(cats):
            minutes = row[col.walk_min(c)]
            assert (p["m"][i] is None) == bool(np.isnan(minutes))
            assert p["b"][i] == classify_minutes([minutes])[0]
        assert [cats[i] for i in p["l"]] == [s for s in row["lacks"].split(",") if s]
    used = {b for f in data["features"] for b in f["properties"]["b"]}
    assert used == set(range(len(BIN_COLORS) + 1))


def test_classify_minutes_edges():
    got = classify_minutes([0, 5, 5.01, 10, 15, 15.01, 20, 30, 30.5, 400, np.nan, np.inf, -1])
    assert got.tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 6, 0]
    assert classify_minutes([np.nan, np.nan]).tolist() == [6, 6]
    assert classify_minutes([]).tolist() == []


def test_clustering_only_when_many(profile):
    small = page_data(render(make_fixture(4, 3, n_retail=CLUSTER_ABOVE), profile, tiles=None))
    big_page = render(make_fixture(4, 3, n_retail=CLUSTER_ABOVE + 1), profile, tiles=None)
    assert not any(layer["cluster"] for layer in small["facilities"])
    assert [layer["cluster"] for layer in page_data(big_page)["facilities"]] == [
        False, False, False, True]  # only the retail group
    assert "L.MarkerClusterGroup=" in big_page


def test_tiles_spec():
    assert tile_spec(None, None) is None
    osm = tile_spec("OpenStreetMap", None)
    assert osm["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert osm["attribution"] is None  # the map's own (localised) OSM credit covers it
    url = "https://tiles.example.cn/{z}/{x}/{y}.png"
    assert tile_spec(url, "Example <Tiles>\u202e") == {
        "url": url, "attribution": "Example <Tiles>", "maxNativeZoom": 19, "subdomains": "abc"}
    with pytest.raises(ConfigError, match="tiles_attribution"):
        tile_spec(url, None)
    with pytest.raises(ConfigError, match="unknown tile provider"):
        tile_spec("NoSuchProvider", None)
    with pytest.raises(ConfigError, match="not a web address"):
        tile_spec("javascript:alert(1)//{z}/{x}/{y}", "x")


def test_offline_by_default_and_cdn_on_request(profile, tmp_path):
    big = make_fixture(4, 3, n_retail=CLUSTER_ABOVE + 5)
    out = write_map(big["blocks"], big["facilities"], big["edges"], profile,
                    tmp_path / "map.html", tiles=None)
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*\shref\s*=", page, re.I)
    assert not re.search(r"url\((['\"]?)(https?:)?//", page)
    assert "url(images/" not in page  # Leaflet's images are inlined as data: URIs
    assert "L.MarkerClusterGroup=" in page and 'version="1.9.3"' in page
    assert "BSD-2-Clause licence: see lifecircle/outputs/assets/LICENSE.leaflet.txt" in page
    assert "sourceMappingURL" not in page and "jquery" not in page.lower()
    assert not (tmp_path / "map.html.tmp").exists()
    small = make_map(big["blocks"], big["facilities"], big["edges"], profile, tiles=None,
                     cdn=True).render()
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"' in small
    assert 'version="1.9.3"' not in small and len(small) < len(page) - 100_000
    # every vendored package ships its licence beside it
    assets = Path(lifecircle.outputs.__file__).parent / "assets"
    for package in json.loads((assets / "manifest.json").read_text())["packages"]:
        assert (assets / f"LICENSE.{package}.txt").stat().st_size > 500


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
    with pytest.raises(ConfigError, match="lang"):
        render(city, profile, lang="fr")
    with pytest.raises(ConfigError, match="'heath'"):
        render(city, profile, category="heath")


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


def test_pandas_frames_are_not_modified(city, profile):
    before = city["blocks"].copy()
    render(city, profile, tiles=None)
    pd.testing.assert_frame_equal(city["blocks"], before)


def test_every_message_the_page_uses_is_in_the_catalogue():
    """The map's script and Python ask only for keys that exist (in both languages)."""
    pkg = Path(lifecircle.outputs.__file__).parent
    js = (pkg / "assets" / "lifecircle-map.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bT\.(\w+)", js))
    for path in (pkg / "webmap").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\b(?:t|text)\["(\w+)"\]', source))
        used |= {f"group_{g}" for g, _, _ in FACILITY_GROUPS}
    for lang in ("en", "zh"):
        assert used <= set(messages("map", lang)), sorted(used - set(messages("map", lang)))
    assert len(used) > 30


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
    # No test page may reach the network: every request but the file itself is blocked.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def _open(driver, path: Path, *, size: tuple[int, int] | None = None) -> list[dict]:
    """Open ``path``; return the console errors other than refused network requests."""
    if size is not None:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    return console_errors(driver)


def console_errors(driver) -> list[dict]:
    """Console errors of the page; blocked tile requests (the network is off) do not count."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")
            and not (e.get("source") == "network" and "ERR_BLOCKED_BY_CLIENT" in e["message"])]


_MAP_JS = "return window.lcMap"


def _labels(driver, selector: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(l => l.textContent.trim())", selector)


@pytest.mark.browser
def test_browser_offline_map_draws_everything(browser, profile, tmp_path):
    """Default page (OpenStreetMap tiles on) with every network request blocked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    city = make_fixture(names=BROWSER_PAYLOADS + PAYLOADS, n_retail=CLUSTER_ABOVE + 20)
    page = write_map(city["blocks"], city["facilities"], city["edges"], profile,
                     tmp_path / "map.html", isochrones=city["isochrones"],
                     proposed_sites=city["proposed_sites"])
    assert _open(browser, page) == []
    assert browser.execute_script("return typeof L !== 'undefined' && L.version") == "1.9.3"
    expected = ["Complete life circle: is every service within its limit?"]
    expected += [f"Walking time: {c.label_en}" for c in profile.categories.values()]
    assert _labels(browser, ".leaflet-control-layers-base label") == expected
    assert _labels(browser, ".leaflet-control-layers-overlays label") == [
        "Walking network", "Walking isochrones of the service on show",
        "Facilities: care (elderly and children)", "Facilities: health",
        "Facilities: sport and fitness", "Facilities: shops and markets", "Proposed sites",
        "Background map"]
    counts = browser.execute_script(_MAP_JS.replace("return ", "const m = ") + """;
        let markers = 0, lines = 0;
        m.eachLayer(l => {
          if (l instanceof L.Marker) markers++;
          if (l instanceof L.Polyline && !(l instanceof L.Polygon)) lines++;
        });
        return [window.lcBlocks.count, markers, lines];""")
    assert counts[0] == len(city["blocks"]) and counts[1] > 10 and counts[2] >= 1
    # the blocks are painted on canvas tiles, and a point inside each block finds that block
    painted = browser.execute_script("""
        return Array.from(document.querySelectorAll('canvas.lc-block-tile')).filter(c => {
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < px.length; i += 4) { if (px[i]) return true; }
          return false; }).length;""")
    assert painted >= 1
    inside = city["blocks"].geometry.to_crs(4326).representative_point()
    found = browser.execute_script(
        "return arguments[0].map(p => window.lcBlocks.at(p))", [[p.y, p.x] for p in inside])
    assert found == list(range(len(city["blocks"])))
    assert browser.execute_script("return window.lcBlocks.at(arguments[0])", [0.0, 0.0]) == -1
    # the tiles cannot load: the legend says so, in words
    WebDriverWait(browser, 5, poll_frequency=0.2).until(lambda d: d.execute_script(
        "return getComputedStyle(document.querySelector('.lc-tiles-failed')).display "
        "!== 'none'"))
    legend = browser.find_element(By.CSS_SELECTOR, ".lc-legend").text
    assert "background map could not be loaded" in legend
    assert "Yes: every service with data (5 of 5)" in legend
    assert "© OpenStreetMap contributors" in browser.find_element(
        By.CSS_SELECTOR, ".leaflet-control-attribution").text
    # the retail group clusters (many facilities): hidden at first, discs once ticked
    assert browser.execute_script("return document.querySelectorAll('.lc-cluster').length") == 0
    browser.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers label'))"
        ".find(l => l.textContent.includes('shops')).querySelector('input').click()")
    assert browser.execute_script("return document.querySelectorAll('.lc-cluster').length") > 0
    # choose health and tick the isochrones: its bands are drawn and the legend follows
    browser.execute_script("""
        const labels = Array.from(document.querySelectorAll('.leaflet-control-layers label'));
        labels.find(l => l.textContent.includes('Health care')).querySelector('input').click();
        labels.find(l => l.textContent.includes('isochrones')).querySelector('input').click();""")
    assert "Health care" in browser.find_element(By.CSS_SELECTOR, ".lc-legend-heading").text
    iso = browser.execute_script(_MAP_JS.replace("return ", "const m = ") + """;
        let n = 0; m.eachLayer(l => { if (l.feature && l.feature.properties.o) n++; });
        return n;""")
    assert iso == 3
    assert console_errors(browser) == []
    assert browser.execute_script("return window.__dialogs") == []


@pytest.mark.browser
def test_browser_cdn_map_offline_shows_a_note_not_a_blank_page(browser, city, profile, tmp_path):
    out = write_map(city["blocks"], city["facilities"], city["edges"], profile,
                    tmp_path / "map.html", tiles=None, lang="zh", cdn=True)
    browser.get(out.as_uri())
    note = browser.execute_script(
        "const d = document.querySelector('.lc-no-leaflet'); return d && d.textContent")
    assert note and "Leaflet" in note and "--cdn" in note and "离线" in note
    browser.get_log("browser")  # the refused CDN requests are the point of this test


# Visible text that would betray a missing translation or an unfilled template.
_RAW = re.compile(r"\{\w+\}|walk_min_|covered_|\b(?:layer|legend|group|view|short|no)_[a-z_]+\b")


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_browser_visual_check(browser, tmp_path, lang):
    """1280×800: the legend covers no control, no raw key shows, screenshots are kept."""
    gb = load_profile("gb50180-2018")
    city = make_fixture(10, 8, n_retail=4)
    blocks, fac = city["blocks"], city["facilities"]
    cats = list(gb.categories)
    rng = np.random.default_rng(1)
    for c in cats:
        blocks[col.walk_min(c)] = rng.uniform(1, 25, len(blocks))
    # facilities of 9 of the 15 types: the others are "no data"
    fac = fac.assign(category=[cats[i % 9] for i in range(len(fac))])
    page = write_map(blocks, fac, city["edges"], gb, tmp_path / f"map_{lang}.html",
                     isochrones=None, lang=lang, tiles=None)
    assert _open(browser, page, size=(1280, 800)) == []
    try:
        boxes = browser.execute_script("""
            const r = s => { const e = document.querySelector(s);
              const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
            return {legend: r('.lc-legend'), zoom: r('.leaflet-control-zoom'),
                    layers: r('.leaflet-control-layers'), scale: r('.leaflet-control-scale'),
                    title: r('.lc-title'), attribution: r('.leaflet-control-attribution'),
                    view: [innerWidth, innerHeight]};""")
        assert boxes["view"] == [1280, 800]

        def overlap(a, b):
            return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

        for other in ("zoom", "layers", "scale", "title", "attribution"):
            assert not overlap(boxes["legend"], boxes[other]), (other, boxes)
        assert not overlap(boxes["layers"], boxes["attribution"]), boxes
        for name in ("legend", "layers"):
            assert 0 <= boxes[name][1] and boxes[name][3] <= 800, boxes
        text = browser.execute_script("return document.body.innerText")
        assert not _RAW.search(text), _RAW.search(text).group(0)
        if lang == "zh":
            words = re.findall(r"[A-Za-z]{3,}", text)
            assert set(words) <= {"Leaflet", "OpenStreetMap"}, set(words)
            assert "无数据，不计入" in text
        else:
            assert not re.search(r"[\u4e00-\u9fff]", text)
            assert "No data, not counted" in text
        # what a planner reads when hovering a block
        inside = blocks.geometry.to_crs(4326).representative_point().iloc[0]
        browser.execute_script("window.lcBlocks.hover(arguments[0])", [inside.y, inside.x])
        tip = browser.execute_script(
            "return document.querySelector('.leaflet-tooltip').textContent")
        assert ("街区" if lang == "zh" else "Block") in tip
    finally:
        shot = tmp_path / f"map_{lang}_1280x800.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        if os.environ.get("LIFECIRCLE_SCREENSHOT_DIR"):
            shutil.copy(shot, Path(os.environ["LIFECIRCLE_SCREENSHOT_DIR"]))
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.browser
def test_browser_map_without_blocks(browser, city, profile, tmp_path):
    """Facilities and streets but no block: the page opens without error, nothing to hover."""
    page = write_map(city["blocks"].iloc[:0], city["facilities"], city["edges"], profile,
                     tmp_path / "map.html", tiles=None)
    assert _open(browser, page) == []
    assert browser.execute_script("return window.lcBlocks.count") == 0
    centre = city["facilities"].to_crs(4326).geometry.iloc[0]
    assert browser.execute_script("return window.lcBlocks.at(arguments[0])",
                                  [centre.y, centre.x]) == -1
    assert console_errors(browser) == []
