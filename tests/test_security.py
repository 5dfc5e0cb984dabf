"""Hostile input: entity expansion, external entities and huge tokens are refused quickly;
nothing is ever unpickled; ruff's security rules stay on and clean.

(Region names that try to escape the output folder belong to the batch tests.)
"""

from __future__ import annotations

import ast
import gzip
import inspect
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from lifecircle import _errors
from lifecircle.network import WalkNetwork
from lifecircle.sources import osm as osm_mod
from lifecircle.sources.osm import read_osm
from lifecircle.sources.tables import read_points
from tests.test_bad_inputs import grid_osm

ROOT = Path(__file__).resolve().parent.parent
PASSWD = Path("/etc/passwd")


def laughs(levels: int = 9, root: str = "osm") -> str:
    """The billion-laughs DTD: ``&e{levels};`` expands to 10**levels copies of 'ha'."""
    ents = ['<!ENTITY e0 "ha">'] + [
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, levels + 1)
    ]
    return f"<!DOCTYPE {root} [" + "".join(ents) + "]>\n"


def _refused_quickly(func, *args, limit_s: float = 3.0, **kwargs) -> str:
    t0 = time.perf_counter()
    with pytest.raises(_errors.InputFileError) as info:
        func(*args, **kwargs)
    elapsed = time.perf_counter() - t0
    assert elapsed < limit_s, f"took {elapsed:.2f} s"
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
    """No pickle/marshal/shelve import or load, and no ``allow_pickle=True`` anywhere."""
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
