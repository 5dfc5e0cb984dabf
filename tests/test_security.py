"""Hostile input: entity expansion, external entities and huge tokens are refused quickly;
nothing is ever unpickled; ruff's security rules stay on and clean.

(Region names that try to escape the output folder belong to the batch tests.)
"""

from __future__ import annotations

import ast
import gzip
import html
import inspect
import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle import _errors
from lifecircle.network import WalkNetwork
from lifecircle.sources import osm as osm_mod
from lifecircle.sources.osm import read_osm
from lifecircle.sources.tables import read_points
from tests.test_bad_inputs import grid_osm
from tests.test_webmap import browser  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
PASSWD = Path("/etc/passwd")


def laughs(levels: int = 9, root: str = "osm") -> str:
    """The billion-laughs DTD: ``&e{levels};`` expands to 10**levels copies of 'ha'."""
    ents = ['<!ENTITY e0 "ha">'] + [
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, levels + 1)
    ]
    return f"<!DOCTYPE {root} [" + "".join(ents) + "]>\n"


def _refused_quickly(func, *args, limit_s: float = 3.0, **kwargs) -> str:
    # CPU seconds of this process (every thread), not wall time: an expansion attack burns
    # CPU, while a loaded machine (parallel tests, other jobs) only stretches the wall clock
    # (the 50 MB tag once took 15.8 s of wall at load 11 and well under its limit of CPU)
    # (and a generous wall-clock cap: a refusal that hangs on I/O burns no CPU)
    t0, w0 = time.process_time(), time.perf_counter()
    with pytest.raises(_errors.InputFileError) as info:
        func(*args, **kwargs)
    elapsed = time.process_time() - t0
    assert elapsed < limit_s, f"took {elapsed:.2f} CPU s"
    assert time.perf_counter() - w0 < 60.0 + 4 * limit_s
    message = str(info.value)
    assert "root:" not in message  # nothing of /etc/passwd ever reaches a message
    return message


def _with_entity_in_name(prolog: str, entity: str) -> str:
    text = grid_osm(prolog=prolog, node_tags={1: {"name": "PLACEHOLDER", "amenity": "cafe"}})
    return text.replace("PLACEHOLDER", entity)


# ---------------------------------------------------------------------------------------------
# OSM XML


@pytest.mark.parametrize("compress", [False, True])
def test_billion_laughs_osm_refused(tmp_path, compress):
    text = _with_entity_in_name(laughs(), "&e9;").encode()
    p = tmp_path / ("laughs.osm.gz" if compress else "laughs.osm")
    p.write_bytes(gzip.compress(text) if compress else text)
    message = _refused_quickly(read_osm, p, limit_s=2.0)
    assert "DOCTYPE" in message and p.name in message


def test_external_entity_osm_refused(tmp_path):
    p = tmp_path / "xxe.osm"
    p.write_text(
        _with_entity_in_name(f'<!DOCTYPE osm [<!ENTITY x SYSTEM "file://{PASSWD}">]>\n', "&x;")
    )
    assert "DOCTYPE" in _refused_quickly(read_osm, p)


def test_parameter_entity_and_remote_dtd_refused(tmp_path):
    for i, prolog in enumerate(
        [
            '<!DOCTYPE osm [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>\n',
            '<!DOCTYPE osm SYSTEM "http://127.0.0.1:9/osm.dtd">\n',
        ]
    ):
        p = tmp_path / f"dtd{i}.osm"
        p.write_text(grid_osm(prolog=prolog))
        assert "DOCTYPE" in _refused_quickly(read_osm, p)


def test_libosmium_refuses_entities_even_without_the_prescan(tmp_path, monkeypatch):
    """Defence in depth: with the DOCTYPE pre-scan switched off, libosmium's expat reader
    still refuses entities (it never expands them) and the error stays clear."""
    monkeypatch.setattr(osm_mod, "_sniff", lambda path: None)
    for name, prolog, entity in [
        ("laughs.osm", laughs(), "&e9;"),
        ("xxe.osm", f'<!DOCTYPE osm [<!ENTITY x SYSTEM "file://{PASSWD}">]>\n', "&x;"),
    ]:
        p = tmp_path / name
        p.write_text(_with_entity_in_name(prolog, entity))
        message = _refused_quickly(read_osm, p)
        assert "entit" in message, message


def test_doctype_hidden_after_a_long_comment_refused(tmp_path):
    p = tmp_path / "late.osm"
    p.write_text(grid_osm(prolog="<!-- " + "x" * 200_000 + " -->\n" + laughs()))
    assert "DOCTYPE" in _refused_quickly(read_osm, p)


def test_huge_tag_value_refused_quickly(tmp_path):
    """A 50 MB attribute: refused with a clear error, not parsed into memory as a name."""
    p = tmp_path / "huge.osm"
    p.write_text(grid_osm(node_tags={1: {"name": "A" * 50_000_000, "amenity": "cafe"}}))
    # libosmium reads the file twice (areas need a first pass): a few seconds on 50 MB
    message = _refused_quickly(read_osm, p, limit_s=15.0)
    assert "too long" in message and "255 characters" in message


def test_huge_tag_key_and_many_attributes(tmp_path):
    p = tmp_path / "key.osm"
    p.write_text(grid_osm(node_tags={1: {"k" * 5000: "v", "amenity": "cafe"}}))
    assert "too long" in _refused_quickly(read_osm, p)


# ---------------------------------------------------------------------------------------------
# GraphML, KML and CSV


def _graphml(prolog: str, crs_text: str) -> str:
    return (
        '<?xml version="1.0"?>\n'
        + prolog
        + '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="d0" for="graph" attr.name="crs" attr.type="string"/>'
        f'<graph edgedefault="directed"><data key="d0">{crs_text}</data><node id="1"/>'
        "</graph></graphml>\n"
    )


def test_graphml_entities_refused(tmp_path):
    bomb = tmp_path / "laughs.graphml"
    bomb.write_text(_graphml(laughs(root="graphml"), "&e9;"))
    assert "DOCTYPE" in _refused_quickly(WalkNetwork.from_graphml, str(bomb), limit_s=1.0)
    xxe = tmp_path / "xxe.graphml"
    xxe.write_text(_graphml(f'<!DOCTYPE graphml [<!ENTITY x SYSTEM "file://{PASSWD}">]>\n', "&x;"))
    assert "DOCTYPE" in _refused_quickly(WalkNetwork.from_graphml, str(xxe))


def test_kml_with_entities_refused_by_gdal(tmp_path):
    p = tmp_path / "f.kml"
    p.write_text(
        '<?xml version="1.0"?>\n'
        + laughs(root="kml").replace("]>", f'<!ENTITY x SYSTEM "file://{PASSWD}">]>')
        + '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&x;</name>'
        "<description>&e9;</description><Point><coordinates>24.94,60.17</coordinates>"
        "</Point></Placemark></Document></kml>\n"
    )
    assert "could not be read" in _refused_quickly(read_points, p)


def test_huge_csv_cell_refused_quickly(tmp_path):
    """A 50 MB name in a CSV: Python's csv field limit (128 KiB) refuses it, clearly."""
    p = tmp_path / "big.csv"
    p.write_text("id,category,name,lon,lat\n1,retail," + "N" * 50_000_000 + ",24.94,60.17\n")
    message = _refused_quickly(read_points, p, limit_s=15.0)
    assert "big.csv" in message and "field larger than field limit" in message
    assert "UTF-8 CSV" in message


# ---------------------------------------------------------------------------------------------
# no pickle, anywhere

_UNSAFE_CALLS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("cPickle", "load"),
    ("cPickle", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("marshal", "load"),
    ("marshal", "loads"),
    ("shelve", "open"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
    ("torch", "load"),
}


def _python_files() -> list[Path]:
    return sorted([*(ROOT / "lifecircle").rglob("*.py"), *(ROOT / "scripts").glob("*.py")])


def test_no_code_path_unpickles():
    """No pickle/marshal/shelve import or load, no ``Connection.recv()`` and no
    ``allow_pickle=True`` anywhere."""
    found = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(
                    n.split(".")[0] in {"pickle", "cPickle", "dill", "marshal", "shelve"}
                    for n in names
                ):
                    found.append(f"{path}:{node.lineno} imports {names}")
            elif isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                    if (f.value.id, f.attr) in _UNSAFE_CALLS:
                        found.append(f"{path}:{node.lineno} calls {f.value.id}.{f.attr}")
                if isinstance(f, ast.Attribute) and f.attr in ("read_pickle", "load_pickle"):
                    found.append(f"{path}:{node.lineno} calls .{f.attr}")
                # multiprocessing's Connection.recv() unpickles what the pipe holds (a
                # socket's recv takes a size): the workers' messages are JSON bytes
                if isinstance(f, ast.Attribute) and f.attr == "recv" and not node.args:
                    found.append(f"{path}:{node.lineno} calls .recv() (unpickles)")
                for kw in node.keywords:
                    if kw.arg == "allow_pickle" and not (
                        isinstance(kw.value, ast.Constant) and kw.value.value is False
                    ):
                        found.append(f"{path}:{node.lineno} passes allow_pickle")
    assert not found, found


def test_osmnx_cache_is_json_not_pickle():
    """The only cache a run reads that the user did not write is osmnx's: JSON text."""
    import osmnx._http as http

    source = inspect.getsource(http)
    assert "json.loads(cache_filepath.read_text" in source
    assert "pickle" not in source


# ---------------------------------------------------------------------------------------------
# ruff's security rules


def test_ruff_security_rules_on_and_clean():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "S" in cfg["select"]
    # only these are waived: assert in library code, and subprocess without a shell
    assert {i for i in cfg["ignore"] if i.startswith("S")} <= {"S101", "S603", "S607"}
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed")
    proc = subprocess.run(
        [ruff, "check", "--select", "S", "--ignore", "S101,S603,S607", "lifecircle"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_error_for_hostile_xml_in_a_real_process(tmp_path):
    p = tmp_path / "laughs.osm"
    p.write_text(_with_entity_in_name(laughs(), "&e9;"))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lifecircle", "run", "--osm", str(p), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert time.perf_counter() - t0 < 60
    assert proc.returncode == 2
    assert proc.stderr.startswith("lifecircle: error: ") and proc.stderr.count("\n") == 1
    assert "DOCTYPE" in proc.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# the map: text from data is never markup, script or template (issue 11.1)

# Payloads a facility name, a block id, a profile label or a tile credit could carry. Each sets
# window.__pwned, opens a dialog or evaluates to something else if anything ever interprets it.
MAP_PAYLOADS = [
    "{{7*7}}",
    "{% if 1 %}IF{% endif %}{{ ''.__class__ }}",
    "${7*7}${window.__pwned=1}",
    "<script>window.__pwned=1</script>",
    "</script><script>window.__pwned=1</script>",
    "javascript:window.__pwned=1",
    "<a href=\"javascript:window.__pwned=1\">x</a>",
    "<img src=x onerror=\"window.__pwned=1\">",
    "\" onmouseover=\"window.__pwned=1\" x=\"",
    "'-alert(1)-'`+alert(1)+`",
    "line\u2028sep\u2029para",
    "\u202eevil.exe\u202c \u2066iso\u2069",
    "长" * 2000 + "<b>",
]


def _hostile_map(tmp_path: Path) -> tuple[Path, dict]:
    """A map whose every data-derived text is a payload; returns the page and what it used."""
    import dataclasses
    from types import MappingProxyType

    import geopandas as gpd
    from shapely.geometry import Point

    from lifecircle.outputs.webmap import write_map
    from lifecircle.profiles import load_profile
    from tests.test_webmap import make_fixture

    profile = load_profile("walk15")
    cats = list(profile.categories)
    labels = {c: MAP_PAYLOADS[i] for i, c in enumerate(cats)}
    profile = dataclasses.replace(profile, title_en=MAP_PAYLOADS[0], categories=MappingProxyType(
        {c: dataclasses.replace(v, label_en=labels[c]) for c, v in profile.categories.items()}))
    city = make_fixture(6, 4, names=MAP_PAYLOADS)
    blocks = city["blocks"].copy()
    blocks["block_id"] = [MAP_PAYLOADS[i % len(MAP_PAYLOADS)] + f"#{i}"
                          for i in range(len(blocks))]
    fac = city["facilities"].copy()
    payload_rows = fac["facility_id"].str.startswith("payload/").to_numpy()
    fac.loc[payload_rows, "facility_id"] = [f"{p}/{i}" for i, p in enumerate(MAP_PAYLOADS)]
    fac.loc[payload_rows, "source"] = MAP_PAYLOADS[2]
    sites = gpd.GeoDataFrame({"category": [MAP_PAYLOADS[3]], "rank": [1]},
                             geometry=[Point(fac.geometry.iloc[0].x + 30,
                                             fac.geometry.iloc[0].y)], crs=fac.crs)
    page = write_map(blocks, fac, city["edges"], profile, tmp_path / "hostile.html",
                     isochrones=city["isochrones"], proposed_sites=sites,
                     tiles="https://tiles.invalid/{z}/{x}/{y}.png",
                     tiles_attribution=MAP_PAYLOADS[7])
    return page, {"labels": labels, "blocks": list(blocks["block_id"])}


def test_map_text_never_enters_html_or_script_source(tmp_path):
    from lifecircle.outputs._escape import clean_text

    page, used = _hostile_map(tmp_path)
    text = page.read_text(encoding="utf-8")
    blob = re.search(r'<script type="application/json" id="lc-data">(.*?)</script>', text, re.S)
    outside = text.replace(blob.group(0), "")
    for payload in MAP_PAYLOADS:
        assert payload not in outside
    data = json.loads(blob.group(1))
    assert data["title"] == "{{7*7}}: walking time to everyday services"
    assert [c["label"] for c in data["cats"]] == [clean_text(v) for v in used["labels"].values()]
    assert data["tiles"]["attribution"] == MAP_PAYLOADS[7]
    assert len(re.findall(r"</script", text, re.I)) == len(re.findall(r"<script", text, re.I))


@pytest.mark.browser
def test_map_payloads_in_every_surface_are_inert_in_chromium(tmp_path, browser):  # noqa: F811
    """Payload list × every surface, in headless Chromium: shown literally, nothing runs."""
    from lifecircle.outputs._escape import clean_text
    from tests.test_webmap import _open, console_errors

    page, used = _hostile_map(tmp_path)
    assert _open(browser, page) == []
    shown = browser.execute_script("""
        const m = window.lcMap, out = {fac: [], blocks: [], sites: []};
        m.eachLayer(l => {
          const p = l.feature && l.feature.properties;
          if (!p) return;
          if (l instanceof L.Marker && p.i !== undefined) {
            l.openTooltip(); const t = l.getTooltip().getElement().textContent;
            l.openPopup(); out.fac.push([p.i, t, l.getPopup().getElement().textContent]);
          } else if (l instanceof L.Marker && p.r !== undefined) {
            l.openPopup(); out.sites.push(l.getPopup().getElement().textContent);
          } else if (p.m && out.blocks.length < 40) {
            l.fire("mouseover", {latlng: l.getBounds().getCenter()}, true);
            out.blocks.push([p.id, window.lcBlocks.getTooltip().getElement().textContent]);
          }
        });
        out.title = document.title;
        out.heading = document.querySelector('.lc-title').textContent;
        out.layers = Array.from(document.querySelectorAll('.leaflet-control-layers label'))
          .map(l => l.textContent.trim());
        out.legend = document.querySelector('.lc-legend').textContent;
        out.attribution = document.querySelector('.leaflet-control-attribution').textContent;
        return out;""")
    clean = [clean_text(p) for p in MAP_PAYLOADS]
    title = "{{7*7}}: walking time to everyday services"
    assert shown["title"] == shown["heading"] == title
    names = {fid: (tip, popup) for fid, tip, popup in shown["fac"]}
    for i, text in enumerate(clean):
        tip, popup = names[clean_text(f"{MAP_PAYLOADS[i]}/{i}")]
        assert tip == text  # the name, literally
        assert text in popup and clean[2] in popup  # name and source in the popup
    for block_id, tip in shown["blocks"]:
        assert block_id in used["blocks"] or block_id in [clean_text(b) for b in used["blocks"]]
        assert clean_text(block_id) in tip
    for label in [clean_text(v) for v in used["labels"].values()]:
        assert f"Walking time: {label}" in shown["layers"]
        assert label in shown["legend"] or label in "".join(shown["layers"])
    assert clean[3] in shown["sites"][0]
    assert clean[7] in shown["attribution"]
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return window.__dialogs") == []
    injected = browser.execute_script("""
        return [document.querySelectorAll('img[src="x"], a[href^="javascript"]').length,
          Array.from(document.querySelectorAll('*')).filter(e =>
            Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
          Array.from(document.querySelectorAll('b')).filter(
            e => e.textContent === 'x' || e.textContent === '').length,
          document.scripts.length];""")
    assert injected == [0, 0, 0, 3]  # the page's own scripts: data block, Leaflet, the map's
    assert console_errors(browser) == []


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_escaping_is_inert_and_idempotent_safe(value):
    from lifecircle.outputs._escape import clean_text, escape_text, script_json

    once = escape_text(value, max_len=None)
    twice = escape_text(once, max_len=None)
    for out in (once, twice):
        assert not re.search(r"[<>\"'`\\]|\$\{", out)
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                             "\u2066-\u2069]", out)
    # escaping the output again shows the once-escaped text literally: nothing is interpreted
    assert html.unescape(twice) == once
    assert html.unescape(once) == clean_text(value, max_len=None)
    assert clean_text(clean_text(value, max_len=None), max_len=None) == \
        clean_text(value, max_len=None)
    blob = script_json({"t": value})
    assert "</" not in blob and "<!--" not in blob and "\u2028" not in blob
    assert json.loads(blob) == {"t": value}
