"""The bad-input suite: every row of reliability.md §1 (but rasters and batches) as a case.

Errors: the CLI exit code, ONE line on stderr starting ``lifecircle: error:`` that names the
file (and row or id) and says how to fix it, no traceback, no ``_SUCCESS.json`` under
``--out``, every input byte-identical afterwards. Inputs that must *work* (clipped extracts,
one-way streets, islands, odd names, other CRSs, ...) are tests further down that assert the
semantics, not just a zero exit code.

Every case builds its inputs in ``tmp_path`` from tiny hand-written files; the bundled
Helsinki extract is the only PBF used.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from lifecircle.cli import cli
from lifecircle.network import WalkNetwork
from lifecircle.outputs.geopackage import read_metadata
from lifecircle.pipeline import default_osm, run
from lifecircle.sources.osm import read_osm
from tests.helpers import write_geotiff

ROOT = Path(__file__).resolve().parent.parent
WALK15 = (ROOT / "lifecircle" / "profiles" / "walk15.toml").read_text(encoding="utf-8")

# ---------------------------------------------------------------------------------------------
# tiny hand-written OSM XML

LON0, LAT0 = 24.940, 60.170  # central Helsinki, where the bundled extract is
DLON, DLAT = 0.002, 0.001  # about 111 m each way


def osm_xml(
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
    *,
    node_tags: dict[int, dict[str, str]] | None = None,
    prolog: str = "",
) -> str:
    """An OSM XML document; ``nodes`` maps id -> (lon, lat)."""
    from xml.sax.saxutils import quoteattr

    out = ["<?xml version='1.0' encoding='UTF-8'?>", prolog + '<osm version="0.6">']
    for nid, (lon, lat) in nodes.items():
        tags = (node_tags or {}).get(nid, {})
        inner = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        out.append(f'<node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}">{inner}</node>')
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        inner = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        out.append(f'<way id="{wid}">{nds}{inner}</way>')
    out.append("</osm>\n")
    return "\n".join(out)


def grid_nodes(n: int = 4) -> dict[int, tuple[float, float]]:
    """Node ``10 * row + col + 1`` at (LON0 + col·DLON, LAT0 + row·DLAT)."""
    return {10 * r + c + 1: (LON0 + c * DLON, LAT0 + r * DLAT) for r in range(n) for c in range(n)}


def grid_ways(
    n: int = 4, tags: dict[str, str] | None = None
) -> list[tuple[int, list[int], dict[str, str]]]:
    tags = tags or {"highway": "residential"}
    ways = [(100 + r, [10 * r + c + 1 for c in range(n)], dict(tags)) for r in range(n)]
    ways += [(200 + c, [10 * r + c + 1 for r in range(n)], dict(tags)) for c in range(n)]
    return ways


def grid_osm(**kwargs: object) -> str:
    return osm_xml(grid_nodes(), grid_ways(), **kwargs)  # type: ignore[arg-type]


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def block_file(
    path: Path, centres: list[tuple[float, float]], *, crs: int | None = 4326, **cols: list[object]
) -> Path:
    """Small square blocks (about 20 m) around WGS 84 centres."""
    geoms = [shapely.box(x - 0.0002, y - 0.0001, x + 0.0002, y + 0.0001) for x, y in centres]
    gdf = gpd.GeoDataFrame(cols or {"population": [100] * len(geoms)}, geometry=geoms, crs=4326)
    if crs is None:
        pyogrio.write_dataframe(gdf.set_crs(None, allow_override=True), path)
    else:
        gdf.to_crs(crs).to_file(path)
    return path


def facility_csv(path: Path, rows: list[tuple[str, str, float, float]]) -> Path:
    lines = ["id,category,lon,lat"] + [f"{i},{c},{x},{y}" for i, c, x, y in rows]
    return write(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# the table: every bad input the suite tries, with its exit code and message fragments

TABLE = Path(__file__).with_name("bad_inputs.toml")
ROWS: list[dict[str, Any]] = tomllib.loads(TABLE.read_text(encoding="utf-8"))["case"]
BY_NAME = {row["name"]: row for row in ROWS}
assert len(BY_NAME) == len(ROWS), "case names must be unique"
#: rows whose inputs need code (a truncated PBF, a GeoPackage, a live lock holder, ...):
#: name -> builder(inputs folder, tmp_path) -> CLI arguments
BUILDERS: dict[str, Callable[[Path, Path], list[str]]] = {}


def build(name: str) -> Callable[[Callable[[Path, Path], list[str]]], Callable[..., list[str]]]:
    def deco(f: Callable[[Path, Path], list[str]]) -> Callable[[Path, Path], list[str]]:
        assert BY_NAME.get(name, {}).get("build"), f"{name!r}: no row with build = true"
        assert name not in BUILDERS, name
        BUILDERS[name] = f
        return f

    return deco


def case_args(row: dict[str, Any], d: Path, t: Path) -> list[str]:
    """The CLI arguments of a table row, its input files written into ``d``."""
    if row.get("build"):
        return BUILDERS[row["name"]](d, t)
    if "profile" in row:
        old, new = row["edit"]
        assert old in WALK15, old
        return ["--profile", str(write(d / row["profile"], WALK15.replace(old, new, 1)))]
    args = [str(a) for a in row.get("args", [])]
    if "file" in row:
        data = bytes.fromhex(row["hex"]) if "hex" in row else row["text"]
        return [row["option"], str(write(d / row["file"], data)), *args]
    return args


def _laughs(levels: int = 8) -> str:
    ents = ['<!ENTITY e0 "ha">'] + [
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, levels + 1)
    ]
    return "<!DOCTYPE osm [" + "".join(ents) + "]>\n"


# -- OSM files and networks -------------------------------------------------------------------
@build("osm: missing path")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(d / "nope.osm.pbf")]


@build("osm: a directory")
def _(d: Path, t: Path) -> list[str]:
    sub = d / "extracts"
    sub.mkdir()
    return ["--osm", str(sub)]


@build("osm: random bytes as .pbf")
def _(d: Path, t: Path) -> list[str]:
    data = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    return ["--osm", str(write(d / "random.osm.pbf", data))]


@build("osm: truncated PBF")
def _(d: Path, t: Path) -> list[str]:
    data = default_osm().read_bytes()
    return ["--osm", str(write(d / "cut.osm.pbf", data[: len(data) // 2]))]


@build("osm: bit-flipped PBF")
def _(d: Path, t: Path) -> list[str]:
    data = bytearray(default_osm().read_bytes())
    for k in range(64):  # flip bytes inside the compressed blobs after the header
        data[len(data) // 2 + 997 * k] ^= 0xFF
    return ["--osm", str(write(d / "flip.osm.pbf", bytes(data)))]


@build("osm: gzip stream corrupt in the middle (fuzz finding)")
def _(d: Path, t: Path) -> list[str]:
    data = bytearray(gzip.compress(grid_osm().encode(), mtime=0))
    for k in range(20, 60):
        data[k] ^= 0x5A
    return ["--osm", str(write(d / "mid.osm.gz", bytes(data)))]


@build("osm: malformed coordinates (fuzz finding)")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm().replace('lon="24.9400000"', 'lon="24,9400000"', 1)
    return ["--osm", str(write(d / "comma.osm", text))]


@build("osm: an id that is not a number (fuzz finding)")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm().replace('<way id="101">', '<way id="1x01">', 1)
    return ["--osm", str(write(d / "id.osm", text))]


@build("osm: XML with a DOCTYPE")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(prolog='<!DOCTYPE osm SYSTEM "osm.dtd">\n')
    return ["--osm", str(write(d / "doctype.osm", text))]


@build("osm: entity expansion (billion laughs)")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(prolog=_laughs(), node_tags={1: {"name": "&e8;", "amenity": "cafe"}})
    text = text.replace("&amp;e8;", "&e8;")
    return ["--osm", str(write(d / "laughs.osm", text))]


@build("osm: external entity (file:///etc/passwd)")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(
        prolog='<!DOCTYPE osm [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
        node_tags={1: {"name": "XXE", "amenity": "cafe"}},
    )
    text = text.replace('v="XXE"', 'v="&x;"')
    return ["--osm", str(write(d / "xxe.osm", text))]


@build("osm: DOCTYPE after a long comment")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(prolog="<!--" + "padding " * 2000 + "-->\n" + _laughs(3))
    return ["--osm", str(write(d / "late.osm.gz", gzip.compress(text.encode())))]


@build("osm: entity reference without a DOCTYPE")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(node_tags={1: {"name": "X", "amenity": "cafe"}}).replace('v="X"', 'v="&lol;"')
    return ["--osm", str(write(d / "ref.osm", text))]


@build("osm: enormous tag value")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(node_tags={1: {"name": "A" * 2_000_000, "amenity": "cafe"}})
    return ["--osm", str(write(d / "huge.osm", text))]


@build("osm: not UTF-8")
def _(d: Path, t: Path) -> list[str]:
    text = grid_osm(node_tags={1: {"name": "Caf\u00e9", "amenity": "cafe"}})
    data = text.encode("utf-8").replace("Caf\u00e9".encode(), b"Caf\xe9")
    return ["--osm", str(write(d / "latin1.osm", data))]


@build("osm: no walkable ways")
def _(d: Path, t: Path) -> list[str]:
    nodes = grid_nodes()
    ways = [
        (1, [1, 2, 3], {"highway": "motorway"}),
        (2, [11, 12, 13], {"highway": "construction"}),
        (3, [21, 22, 23], {"highway": "residential", "foot": "no"}),
        (4, [31, 32, 33, 31], {"building": "yes"}),
    ]
    return ["--osm", str(write(d / "nowalk.osm", osm_xml(nodes, ways)))]


def _graphml(path: Path, *, crs: str | None, xy: bool = True) -> Path:
    import networkx as nx

    g = nx.MultiDiGraph()
    if crs is not None:
        g.graph["crs"] = crs
    for i in range(3):
        attrs = {"x": 500_000.0 + 100 * i, "y": 3_500_000.0} if xy else {"lon": 1.0 * i}
        g.add_node(i + 1, **attrs)
    g.add_edge(1, 2, length=100.0)
    g.add_edge(2, 3, length=100.0)
    nx.write_graphml(g, path)
    return path


@build("graphml: no crs")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(_graphml(d / "nocrs.graphml", crs=None))]


@build("graphml: nodes without x/y")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(_graphml(d / "noxy.graphml", crs="EPSG:32650", xy=False))]


@build("graphml: unknown crs")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(_graphml(d / "badcrs.graphml", crs="EPSG:99999"))]


@build("graphml: no facilities given")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(_graphml(d / "ok.graphml", crs="EPSG:32650"))]


# -- facilities, blocks, CRS ------------------------------------------------------------------
@build("facilities: vector file without CRS")
def _(d: Path, t: Path) -> list[str]:
    p = d / "nocrs.gpkg"
    pts = gpd.GeoDataFrame({"category": ["retail"]}, geometry=[shapely.Point(LON0, LAT0)])
    pyogrio.write_dataframe(pts, p)
    return ["--facilities", str(p)]


@build("blocks: empty geometry")
def _(d: Path, t: Path) -> list[str]:
    p = d / "empty.gpkg"
    gpd.GeoDataFrame(
        {"population": [1, 2]},
        geometry=[shapely.box(24.94, 60.17, 24.941, 60.171), shapely.Polygon()],
        crs=4326,
    ).to_file(p)
    return ["--blocks", str(p)]


@build("blocks: no CRS")
def _(d: Path, t: Path) -> list[str]:
    return ["--blocks", str(block_file(d / "nocrs.gpkg", [(LON0, LAT0)], crs=None))]


@build("blocks: duplicate ids")
def _(d: Path, t: Path) -> list[str]:
    p = block_file(
        d / "dup.geojson",
        [(LON0, LAT0), (LON0 + DLON, LAT0), (LON0, LAT0 + DLAT)],
        block_id=["a", "b", "a"],
        population=[1, 2, 3],
    )
    return ["--blocks", str(p)]


@build("blocks: missing id")
def _(d: Path, t: Path) -> list[str]:
    p = block_file(
        d / "noid.gpkg",
        [(LON0, LAT0), (LON0 + DLON, LAT0)],
        block_id=["a", None],
        population=[1, 2],
    )
    return ["--blocks", str(p)]


def _metre_blocks(path: Path, *, crs: int | None) -> Path:
    sq = gpd.GeoSeries([shapely.box(LON0, LAT0, LON0 + DLON, LAT0 + DLAT)], crs=4326)
    frame = gpd.GeoDataFrame({"population": [1]}, geometry=sq.to_crs(3067).to_numpy())
    pyogrio.write_dataframe(frame if crs is None else frame.set_crs(crs), path)
    return path


@build("blocks: geographic --blocks-crs for metre coordinates")
def _(d: Path, t: Path) -> list[str]:
    p = _metre_blocks(d / "metres.gpkg", crs=None)
    return ["--blocks", str(p), "--blocks-crs", "EPSG:4326"]


# -- configuration and outputs ----------------------------------------------------------------
@build("config: profile file missing")
def _(d: Path, t: Path) -> list[str]:
    return ["--profile", str(d / "gone.toml")]


@build("output: equal to the input file")
def _(d: Path, t: Path) -> list[str]:
    src = write(d / "in.osm", grid_osm())
    return ["--osm", str(src), "--out", str(src)]


@build("output: inside the input file")
def _(d: Path, t: Path) -> list[str]:
    src = write(d / "in2.osm", grid_osm())
    return ["--osm", str(src), "--out", str(src / "out")]


@build("output: the folder holding an input")
def _(d: Path, t: Path) -> list[str]:
    src = write(d / "in3.osm", grid_osm())
    return ["--osm", str(src), "--out", str(d)]


@build("output: exists without --overwrite")
def _(d: Path, t: Path) -> list[str]:
    out = t / "out"
    out.mkdir()
    write(out / "report.md", "an older run\n")
    return ["--out", str(out)]


@build("output: another run is writing it")
def _(d: Path, t: Path) -> list[str]:
    # a live process holds the lock, as a concurrent run would
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    _HOLDERS.append(holder)
    write(t / ".out.lock", str(holder.pid))
    return []


_HOLDERS: list[subprocess.Popen[bytes]] = []


# -- issue 11 ---------------------------------------------------------------------------------
@build("blocks: a GeoPackage table without geometry")
def _(d: Path, t: Path) -> list[str]:
    p = d / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"block_id": ["a"], "population": [1]}), p)
    return ["--blocks", str(p)]


@build("facilities: Excel workbook renamed .csv")
def _(d: Path, t: Path) -> list[str]:
    p = d / "book.csv"
    frame = pd.DataFrame({"id": [1], "category": ["retail"], "lon": [LON0], "lat": [LAT0]})
    frame.to_excel(p, index=False, engine="openpyxl")
    return ["--facilities", str(p)]


@build("osm: a named pipe")
def _(d: Path, t: Path) -> list[str]:
    os.mkfifo(d / "extract.osm")  # nothing writes to it: opening it would block for ever
    return ["--osm", str(d / "extract.osm")]


@build("facilities: a named pipe")
def _(d: Path, t: Path) -> list[str]:
    os.mkfifo(d / "pois.csv")
    return ["--osm", str(write(d / "grid.osm", grid_osm())), "--facilities", str(d / "pois.csv")]


@build("output: a dangling symbolic link")
def _(d: Path, t: Path) -> list[str]:
    (t / "out").symlink_to(t / "gone" / "folder")
    return ["--osm", str(write(d / "grid.osm", grid_osm()))]


def _graphml_lengths(path: Path, lengths: list[object]) -> Path:
    """Three nodes 100 m apart in a row (EPSG:32650); edge lengths as given (None: none)."""
    import networkx as nx

    g = nx.MultiDiGraph(crs="EPSG:32650")
    for i in range(3):
        g.add_node(i + 1, x=500_000.0 + 100 * i, y=3_500_000.0)
    for (u, v), length in zip([(1, 2), (2, 3)], lengths, strict=True):
        g.add_edge(u, v, **({} if length is None else {"length": length}))
    nx.write_graphml(g, path)
    return path


@build("graphml: a negative edge length")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(_graphml_lengths(d / "neglen.graphml", [-5.0, 100.0]))]


@build("graphml: an edge length that is not a number")
def _(d: Path, t: Path) -> list[str]:
    return ["--osm", str(_graphml_lengths(d / "strlen.graphml", ["abc", 100.0]))]


#: EPSG:3067 metres of (LON0, LAT0), where the small grid and its blocks are
X67, Y67 = 385_805.0, 6_672_200.0


def _population_case(d: Path, raster: Path) -> list[str]:
    return [
        "--osm",
        str(write(d / "grid.osm", grid_osm())),
        "--facilities",
        str(facility_csv(d / "fac.csv", [("s", "retail", LON0, LAT0)])),
        "--blocks",
        str(block_file(d / "b.geojson", [(LON0 + DLON, LAT0 + 0.0002)])),
        "--population",
        str(raster),
        "--category",
        "retail",
    ]


@build("population: every pixel under the blocks is nodata")
def _(d: Path, t: Path) -> list[str]:
    from rasterio.transform import from_origin

    data = np.full((100, 100), -9999.0, dtype="float32")
    tif = write_geotiff(d / "nodata.tif", data, from_origin(X67 - 500, Y67 + 500, 10, 10),
                        crs=3067, nodata=-9999.0)
    return _population_case(d, tif)


@build("population: every pixel NaN (NaN nodata)")
def _(d: Path, t: Path) -> list[str]:
    from rasterio.transform import from_origin

    data = np.full((100, 100), np.nan, dtype="float32")
    tif = write_geotiff(d / "nan.tif", data, from_origin(X67 - 500, Y67 + 500, 10, 10),
                        crs=3067, nodata=np.nan)
    return _population_case(d, tif)


@build("osm: clipped extract (ways cut at missing nodes)")
def _(d: Path, t: Path) -> list[str]:
    ways = grid_ways()
    ways[0] = (100, [1, 2, 9001, 3, 4], {"highway": "residential"})  # 9001 outside the clip
    ways.append((300, [9002, 9003], {"highway": "footway"}))  # wholly outside
    return ["--osm", str(write(d / "clipped.osm", osm_xml(grid_nodes(), ways)))]


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _invoke(args: list[str], out: Path) -> tuple[int, str]:
    if "--out" not in args:
        args = [*args, "--out", str(out)]
    res = CliRunner().invoke(cli, ["run", *args, "-q"])
    return res.exit_code, res.output


def test_every_build_row_has_a_builder():
    assert sorted(BUILDERS) == sorted(r["name"] for r in ROWS if r.get("build"))


@pytest.mark.parametrize("name", [r["name"] for r in ROWS if r["exit"] != 0 and "runner" not in r])
def test_bad_input_is_one_clear_line(tmp_path, name):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    row = BY_NAME[name]
    args, code, words = case_args(row, inputs, tmp_path), row["exit"], row["expect"]
    before = _files(tmp_path)
    out = tmp_path / "out"
    try:
        exit_code, output = _invoke(args, out)
    finally:
        while _HOLDERS:
            h = _HOLDERS.pop()
            h.kill()
            h.wait()
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    line = lines[0]
    assert line.startswith("lifecircle: error: "), line
    assert "Traceback" not in output
    for word in words:
        assert word in line, (word, line)
    assert exit_code == code, (exit_code, line)
    # no output that looks complete, no staging folder left, every input untouched
    assert not list(tmp_path.rglob("_SUCCESS.json"))
    assert not list(tmp_path.glob(".out.staging-*"))
    after = {k: v for k, v in _files(tmp_path).items() if k != ".out.lock"}
    assert after == {k: v for k, v in before.items() if k != ".out.lock"}


def _with_defaults(args: list[str], d: Path) -> list[str]:
    """A complete small run around a row's input: the grid, one shop, one block."""
    defaults = {
        "--osm": lambda: write(d / "grid.osm", grid_osm()),
        "--facilities": lambda: facility_csv(d / "fac.csv", [("s", "retail", LON0, LAT0)]),
        "--blocks": lambda: block_file(
            d / "blocks.geojson",
            [(LON0 + DLON, LAT0 + 0.0002)],
            block_id=["B0"],
            population=[100],
        ),
    }
    for option, make in defaults.items():
        if option not in args:
            args = [*args, option, str(make())]
    return [*args, "--category", "retail", "--no-map", "--no-figures", "--no-rasters"]


@pytest.mark.parametrize("name", [r["name"] for r in ROWS if r["exit"] == 0])
def test_warned_repair_finishes_and_says_so(tmp_path, caplog, name):
    """Rows with exit 0: the run completes, one warning carries every fragment, inputs
    are untouched."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    row = BY_NAME[name]
    args = _with_defaults(case_args(row, inputs, tmp_path), inputs)
    before = _files(tmp_path)
    with caplog.at_level("WARNING", logger="lifecircle"):
        code, output = _invoke(args, tmp_path / "out")
    assert code == 0, output
    assert "Traceback" not in output
    assert (tmp_path / "out" / "_SUCCESS.json").is_file()
    assert {k: v for k, v in _files(tmp_path).items() if not k.startswith("out/")} == before
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(all(w in m for w in row["expect"]) for m in messages), messages


def test_unreadable_file(tmp_path, monkeypatch):
    """chmod 000 (or, as root, an open() that the OS denies): the error names the fix."""
    row = BY_NAME["osm: unreadable file (permission denied)"]
    assert row["runner"] == "test_unreadable_file"
    p = write(tmp_path / "locked.osm", grid_osm())
    if os.geteuid() != 0:
        p.chmod(0)
    else:
        real_open = Path.open

        def deny(self: Path, *a: object, **k: object) -> object:
            if self.name == "locked.osm":
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *a, **k)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "open", deny)
    code, output = _invoke(["--osm", str(p)], tmp_path / "out")
    p.chmod(0o644)
    assert code == row["exit"]
    assert output.strip().startswith("lifecircle: error: ")
    assert all(w in output for w in row["expect"]), output
    assert not (tmp_path / "out").exists()


def test_bad_input_errors_in_a_real_process(tmp_path):
    """The installed entry point: stderr is one line, no traceback, the exit code holds."""
    bad = write(tmp_path / "laughs.osm", grid_osm(prolog=_laughs()))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifecircle",
            "run",
            "--osm",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("lifecircle: error: ")
    proc = subprocess.run(
        [sys.executable, "-m", "lifecircle", "run", "--speed-kmh", "5 km/h"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "Usage:" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# inputs that must work, with the right semantics

SUCCESS_CASES: list[str] = []


def works(f: Callable[..., None]) -> Callable[..., None]:
    SUCCESS_CASES.append(f.__name__)
    return f


def _run_small(
    tmp: Path,
    osm_text: str,
    fac: list[tuple[str, str, float, float]],
    blocks: list[tuple[float, float]],
    **kw: object,
):
    tmp.mkdir(parents=True, exist_ok=True)
    osm = write(tmp / "net.osm", osm_text)
    f = facility_csv(tmp / "fac.csv", fac)
    b = block_file(
        tmp / "blocks.geojson",
        blocks,
        block_id=[f"B{i}" for i in range(len(blocks))],
        population=[100] * len(blocks),
    )
    cats = sorted({c for _, c, _, _ in fac})
    before = _files(tmp)
    res = run(osm, facilities=f, blocks=b, categories=cats, out=tmp / "out", **kw)
    assert {k: v for k, v in _files(tmp).items() if not k.startswith("out/")} == before
    assert (tmp / "out" / "_SUCCESS.json").is_file()
    return res


@works
def test_clipped_extract_cuts_ways_and_counts_them(tmp_path):
    nodes = grid_nodes()
    ways = grid_ways()
    ways[0] = (100, [1, 2, 9001, 3, 4], {"highway": "residential"})  # 9001 outside the clip
    ways.append((300, [9002, 9003], {"highway": "footway"}))  # wholly outside
    res = _run_small(
        tmp_path,
        osm_xml(nodes, ways),
        [("s", "retail", LON0, LAT0)],
        [(LON0 + 3 * DLON, LAT0 + 0.0002)],
    )
    net = res.network.stats
    assert net["ways_cut_at_missing_nodes"] == 2
    assert net["missing_node_refs"] == 3
    meta = read_metadata(res.out / "lifecircle.gpkg")
    assert meta["network"]["ways_cut_at_missing_nodes"] == 2
    # the cut row-0 street: node 2 to node 3 is gone, so the walk goes round via row 1
    t = res.blocks["walk_m_retail"].iloc[0]
    direct = 3 * 111.0
    assert direct + 150 < t < direct + 2 * 111.3 + 60


@works
def test_one_way_and_roundabout_are_walked_both_ways(tmp_path):
    nodes = {
        1: (LON0, LAT0),
        2: (LON0 + DLON, LAT0),
        3: (LON0 + 2 * DLON, LAT0),
        4: (LON0 + 2 * DLON, LAT0 + DLAT),
        5: (LON0 + DLON, LAT0 + DLAT),
    }
    ways = [
        (1, [1, 2], {"highway": "residential", "oneway": "yes"}),
        (2, [2, 3, 4, 5, 2], {"highway": "tertiary", "junction": "roundabout"}),
    ]
    text = osm_xml(nodes, ways)
    a = (LON0 + 0.0001, LAT0 - 0.00005)
    b = (LON0 + 2 * DLON - 0.00005, LAT0 + DLAT + 0.00005)
    forward = _run_small(tmp_path / "f", text, [("s", "retail", *a)], [b])
    backward = _run_small(tmp_path / "b", text, [("s", "retail", *b)], [a])
    tf = forward.blocks["walk_m_retail"].iloc[0]
    tb = backward.blocks["walk_m_retail"].iloc[0]
    # (a block's access point is its representative point, within mm of the centre)
    assert np.isfinite(tf) and tf == pytest.approx(tb, abs=0.01)
    # against the one-way direction (2 -> 1) and the roundabout's (5 -> 2 -> 3) both work
    assert 2 * 111 < tf < 4 * 111 + 40


@works
def test_foot_and_access_tags(tmp_path):
    nodes = grid_nodes()
    ways = [
        (1, [1, 2], {"highway": "residential", "foot": "no"}),
        (2, [2, 3], {"highway": "service", "access": "private"}),
        (3, [3, 4], {"highway": "service", "access": "private", "foot": "yes"}),
        (4, [11, 12], {"highway": "motorway"}),
        (5, [12, 13], {"highway": "trunk", "foot": "yes"}),
        (6, [13, 14], {"highway": "footway", "area": "yes"}),
        (7, [21, 22], {"highway": "service", "service": "private"}),
        (8, [22, 23], {"highway": "path", "oneway": "yes"}),
    ]
    data = read_osm(write(tmp_path / "tags.osm", osm_xml(nodes, ways)))
    assert sorted(data.way_ids.tolist()) == [3, 5, 8]
    net = WalkNetwork.from_osm(data)
    assert net.n_edges == 3
    # every kept edge is walkable both ways: the CSR is symmetric
    csr = net.csr
    assert (csr != csr.T).nnz == 0


@works
def test_island_is_unreachable_with_a_reason(tmp_path):
    nodes = grid_nodes()
    nodes.update({901: (LON0 + 0.02, LAT0), 902: (LON0 + 0.021, LAT0)})
    ways = [*grid_ways(), (900, [901, 902], {"highway": "footway"})]
    res = _run_small(
        tmp_path,
        osm_xml(nodes, ways),
        [("s", "retail", LON0, LAT0 + 0.0001)],
        [(LON0 + 0.0205, LAT0 + 0.0001), (LON0 + DLON, LAT0 + 0.0001)],
    )
    t = res.blocks["walk_min_retail"].to_numpy()
    assert np.isnan(t[0]) and np.isfinite(t[1])
    reason = res.access["retail"].reason[0]
    assert "network part of 2 nodes" in reason and "no retail facility" in reason
    assert res.access["retail"].reason[1] == ""


@works
def test_zero_length_edges_and_duplicate_nodes(tmp_path):
    nodes = grid_nodes()
    nodes[500] = nodes[2]  # a second node at the same spot as node 2
    ways = [
        *grid_ways(),
        (400, [2, 500], {"highway": "footway"}),  # zero-length edge
        (401, [500, 500, 12], {"highway": "footway"}),  # a repeated reference
        (402, [1, 2, 2, 2, 3], {"highway": "service"}),
    ]  # repeated refs along a way
    res = _run_small(
        tmp_path,
        osm_xml(nodes, ways),
        [("s", "retail", LON0, LAT0 + 0.0001)],
        [(LON0 + 3 * DLON, LAT0 + 3 * DLAT + 0.0001)],
    )
    lengths = res.network.edge_length_m
    assert (lengths >= 0).all() and (lengths == 0).any()
    t = res.blocks["walk_m_retail"].iloc[0]
    # Manhattan distance on the grid: 3 · 111 m east + 3 · 111 m north, plus the legs
    assert 6 * 110.5 < t < 6 * 111.5 + 30


NAMES = [
    "Rue \u202eetruoc\u202c",
    "tab\there",
    "bell\x07and\x1bescape",
    "\u4e2d\u5c71\u8def",
    "zw\u200dj \U0001f6b6",
    "quote \" ' < > &",
    "line\nbreak",
]


@works
def test_odd_names_survive_into_the_geopackage(tmp_path):
    nodes = grid_nodes()
    ways = grid_ways()
    for k, name in enumerate(NAMES):
        # XML 1.0 cannot carry most C0 controls, even as &#7;: OSM names carry the rest
        xml_name = "".join(ch for ch in name if ch in "\t\n" or ord(ch) >= 32)
        ways[k][2]["name"] = xml_name
    osm = write(tmp_path / "names.osm", osm_xml(nodes, ways))
    fac = tmp_path / "fac.geojson"
    gpd.GeoDataFrame(
        {"id": [f"f{i}" for i in range(len(NAMES))], "category": "retail", "name": NAMES},
        geometry=[shapely.Point(LON0 + 0.0001 * i, LAT0) for i in range(len(NAMES))],
        crs=4326,
    ).to_file(fac)
    blocks = block_file(tmp_path / "b.geojson", [(LON0 + DLON, LAT0 + DLAT)])
    res = run(osm, facilities=fac, blocks=blocks, categories=["retail"], out=tmp_path / "out")
    gpkg = res.out / "lifecircle.gpkg"
    edges = gpd.read_file(gpkg, layer="edges")
    got = set(edges["name"])
    for name in NAMES:
        assert "".join(ch for ch in name if ch in "\t\n" or ord(ch) >= 32) in got
    facs = gpd.read_file(gpkg, layer="facilities")
    assert sorted(facs["name"]) == sorted(NAMES)
    assert json.loads((res.out / "report.json").read_text())["summary"]["blocks"] == 1


@works
def test_far_points_are_unreachable_with_a_reason(tmp_path):
    far = (LON0 + 0.05, LAT0 + 0.05)  # about 4 km from the grid
    res = _run_small(
        tmp_path,
        grid_osm(),
        [("s", "retail", LON0, LAT0), ("far", "retail", *far)],
        [(LON0 + DLON, LAT0 + 0.0001), far],
    )
    fac = res.facilities.set_index("facility_id")
    assert fac.loc["user/s", "snap_status"] == "snapped"
    status = fac.loc["user/far", "snap_status"]
    assert status.startswith("unreachable") and "max_snap_m" in status
    assert np.isnan(fac.loc["user/far", "snap_dist_m"]) or fac.loc["user/far", "snap_dist_m"] > 3000
    t = res.blocks["walk_min_retail"].to_numpy()
    assert np.isfinite(t[0]) and np.isnan(t[1])
    assert "max_snap_m" in res.access["retail"].reason[1]
    assert res.metadata["facilities"] == {"total": 2, "access_points": 2, "unreachable": 1}


@works
def test_different_crss_across_inputs_are_reprojected(tmp_path):
    centres = [(LON0 + DLON, LAT0 + 0.0002), (LON0 + 3 * DLON, LAT0 + 2 * DLAT + 0.0002)]
    base = _run_small(tmp_path / "wgs", grid_osm(), [("s", "retail", LON0, LAT0)], centres)
    d = tmp_path / "mixed"
    d.mkdir()
    fac = d / "fac.gpkg"
    gpd.GeoDataFrame(
        {"id": ["s"], "category": ["retail"]}, geometry=[shapely.Point(LON0, LAT0)], crs=4326
    ).to_crs(3067).to_file(fac)
    blocks = block_file(
        d / "b.gpkg", centres, crs=3857, block_id=["B0", "B1"], population=[100, 100]
    )
    mixed = run(
        write(d / "net.osm", grid_osm()), facilities=fac, blocks=blocks, categories=["retail"]
    )
    np.testing.assert_allclose(
        mixed.blocks["walk_m_retail"], base.blocks["walk_m_retail"], atol=0.01
    )


@works
def test_self_intersecting_and_multipart_blocks(tmp_path):
    d = tmp_path
    x, y = LON0 + DLON, LAT0 + 0.0002
    bow = shapely.Polygon(
        [
            (x - 0.0003, y - 0.0001),
            (x + 0.0003, y + 0.0001),
            (x + 0.0003, y - 0.0001),
            (x - 0.0003, y + 0.0001),
        ]
    )
    multi = shapely.MultiPolygon(
        [
            shapely.box(x + 0.002, y, x + 0.0024, y + 0.0001),
            shapely.box(x + 0.004, y + 0.002, x + 0.0044, y + 0.0021),
        ]
    )
    p = d / "odd.geojson"
    gpd.GeoDataFrame(
        {"block_id": ["bow", "multi"], "population": [10, 20]}, geometry=[bow, multi], crs=4326
    ).to_file(p)
    res = run(
        write(d / "net.osm", grid_osm()),
        facilities=facility_csv(d / "f.csv", [("s", "retail", LON0, LAT0)]),
        blocks=p,
        categories=["retail"],
        out=d / "out",
    )
    meta = read_metadata(res.out / "lifecircle.gpkg")
    assert meta["blocks"]["invalid_repaired"] == 1
    blk = res.blocks.set_index("block_id")
    assert blk.loc["bow"].geometry.is_valid and blk.loc["bow", "area_m2"] > 100
    assert np.isfinite(blk["walk_min_retail"]).all()
    assert blk.loc["multi", "population"] == 20


@works
def test_gcj02_read_as_wgs84_is_warned(tmp_path, caplog):
    """A 100-700 m shift cannot be detected; points inside China get a reminder naming the
    option, and declaring the CRS (even wgs84) silences it."""
    from lifecircle.sources.tables import read_points

    csv = facility_csv(
        tmp_path / "amap.csv", [("1", "retail", 118.78, 32.04), ("2", "retail", 24.94, 60.17)]
    )
    with caplog.at_level("WARNING", logger="lifecircle"):
        read_points(csv)
    (record,) = [r for r in caplog.records if "GCJ-02" in r.getMessage()]
    assert "amap.csv" in record.getMessage() and "1 of 2 points" in record.getMessage()
    assert "--facilities-crs gcj02" in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="lifecircle"):
        read_points(csv, crs="wgs84")
        got = read_points(csv, crs="gcj02")
    assert not caplog.records
    # declared as GCJ-02 the point moves by the offset (hundreds of metres in Nanjing)
    shift = gpd.GeoSeries([got.geometry.iloc[0], shapely.Point(118.78, 32.04)], crs=4326).to_crs(
        32650
    )
    assert 100 < shift.iloc[0].distance(shift.iloc[1]) < 700


@works
def test_two_runs_writing_one_folder_at_once(tmp_path):
    """Two processes, same --out: each either finishes or refuses; the folder ends complete."""
    out = tmp_path / "shared-out"
    cmd = [
        sys.executable,
        "-m",
        "lifecircle",
        "run",
        "--out",
        str(out),
        "--overwrite",
        "-q",
        "--category",
        "retail",
    ]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        assert code == 0 or (code == 2 and "is writing this folder" in err), (code, err)
    success = json.loads((out / "_SUCCESS.json").read_text())
    for name, digest in success["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob(".shared-out.*"))


def table_counts() -> tuple[int, int, int]:
    """(rows, error rows, warned-repair rows) of tests/bad_inputs.toml."""
    errors = sum(r["exit"] != 0 for r in ROWS)
    return len(ROWS), errors, len(ROWS) - errors


@works
def test_graphml_missing_or_nan_lengths_are_measured(tmp_path):
    """No length or a NaN length: the edge is measured from its geometry (100 m each)."""
    fac = write(tmp_path / "f.csv", "id,category,x,y\n1,retail,500000,3500010\n")
    blocks = tmp_path / "b.gpkg"
    gpd.GeoDataFrame(
        {"block_id": ["a"], "population": [1]},
        geometry=[shapely.box(500_180, 3_500_005, 500_190, 3_500_015)],
        crs=32650,
    ).to_file(blocks)
    for lengths in ([None, 100.0], [float("nan"), 100.0], [None, None]):
        g = _graphml_lengths(tmp_path / "g.graphml", lengths)
        res = run(
            g, facilities=fac, blocks=blocks, categories=["retail"], facilities_crs="EPSG:32650"
        )
        np.testing.assert_allclose(res.network.edge_length_m, [100.0, 100.0])
        # legs of 10 m at both ends, 185 m along the street
        assert res.blocks["walk_m_retail"].iloc[0] == pytest.approx(205.0, abs=1e-6)


def _two_blocks() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"block_id": ["a", "b"]},
        geometry=[
            shapely.box(X67 + 20, Y67 - 80, X67 + 120, Y67 - 20),
            shapely.box(X67 + 200, Y67 - 300, X67 + 260, Y67 - 200),
        ],
        crs=3067,
    )


def _rotated_expected(blocks: gpd.GeoDataFrame, transform: object, n: int) -> list[float]:
    """People (2 per pixel) from the rotated raster's footprint over each block."""
    corners = [transform @ xy for xy in ((0, 0), (n, 0), (n, n), (0, n))]  # type: ignore[operator]
    foot = shapely.Polygon(corners)
    return [2.0 * shapely.intersection(g, foot).area / 100.0 for g in blocks.geometry]


@works
def test_population_rasters_of_every_shape(tmp_path):
    """Zonal sums (2 people per pixel) are exact for square and non-square pixels, NaN
    nodata, another CRS and a rotated grid."""
    from rasterio.transform import Affine, from_origin

    from lifecircle.sources.population import population_from_raster

    blocks = _two_blocks()
    ones = np.full((100, 100), 2.0, dtype="float32")
    half_nan = ones.copy()
    half_nan[:5, :] = np.nan  # the top 50 m: half of block a, none of b
    merc = blocks.to_crs(3857)
    west, _, _, north = merc.total_bounds
    rotated = Affine.translation(X67, Y67) @ Affine.rotation(30) @ Affine.scale(10, -10)
    cases = {
        "square": (ones, from_origin(X67, Y67, 10, 10), 3067, None, [120.0, 120.0]),
        "non-square": (ones, from_origin(X67, Y67, 10, 20), 3067, None, [60.0, 60.0]),
        "NaN nodata": (half_nan, from_origin(X67, Y67, 10, 10), 3067, np.nan, [60.0, 120.0]),
        "Web Mercator": (
            ones,
            from_origin(west - 100, north + 100, 10, 10),
            3857,
            None,
            (merc.area / 100.0 * 2.0).tolist(),
        ),
        "rotated": (ones, rotated, 3067, None, _rotated_expected(blocks, rotated, 100)),
    }
    for name, (data, transform, crs, nodata, expected) in cases.items():
        tif = write_geotiff(tmp_path / "r.tif", data, transform, crs=crs, nodata=nodata)
        got = population_from_raster(blocks, tif)
        np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-6, err_msg=name)
    assert 0 < _rotated_expected(blocks, rotated, 100)[0] < 119  # the grid cuts block a
    # a huge sparse raster read through windows: test_population.py


ODD = ["{{7*7}}", "商业 \u202eetruoc", "bell\x07", "x" * 300, "${alert(1)}"]


@works
def test_odd_labels_and_type_map_values_are_kept_verbatim(tmp_path):
    """A profile category named in Chinese with a template-looking, control-character, very
    long label; type-map prefixes and POI types of the same kind: all are data, kept as
    written in report.json and report.md, and each POI lands in its mapped category."""
    label = " ".join(ODD)
    text = WALK15.replace("[categories.retail]", '[categories."商业"]', 1).replace(
        'label_en = "Daily shopping"', f"label_en = {json.dumps(label)}", 1
    )
    profile = write(tmp_path / "odd.toml", text)
    types = write(
        tmp_path / "types.csv",
        "prefix,category\n" + "".join(f"{json.dumps(v)},商业\n" for v in ODD),
    )
    rows = [f"{json.dumps(v + '|tail')},{LON0 + 0.0001 * k},{LAT0}" for k, v in enumerate(ODD)]
    pois = write(tmp_path / "pois.csv", "type,lon,lat\n" + "\n".join(rows) + "\n")
    blocks = block_file(
        tmp_path / "b.geojson", [(LON0 + DLON, LAT0 + 0.0002)], block_id=["b\x07{{7*7}}"],
        population=[10],
    )
    res = run(
        write(tmp_path / "net.osm", grid_osm()),
        profile=profile,
        facilities=pois,
        facility_columns={"type_map": types},
        blocks=blocks,
        categories=["商业"],
        out=tmp_path / "out",
    )
    assert len(res.facilities) == len(ODD)
    assert res.report["facilities"]["type_map"]["matched"] == len(ODD)
    assert np.isfinite(res.blocks["walk_min_商业"]).all()
    report = json.loads((res.out / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["categories"]["商业"]["label_en"] == label
    assert label in (res.out / "report.md").read_text(encoding="utf-8")
    layer = gpd.read_file(res.out / "lifecircle.gpkg", layer="blocks")
    assert layer["block_id"].tolist() == ["b\x07{{7*7}}"]
    # the spreadsheet cannot hold control characters: shown as U+FFFD, the rest as written
    sheet = pd.read_excel(res.out / "report.xlsx", sheet_name=None)
    text = " ".join(map(str, [*next(iter(sheet.values())).columns,
                              *next(iter(sheet.values())).iloc[0]]))
    assert "b\ufffd{{7*7}}" in text and "{{7*7}} 商业" in text


@works
def test_polygon_facility_is_reached_at_its_outline_and_rederives(tmp_path):
    """A 166 m x 178 m campus from a user file: one facility, its representative point and
    7 boundary points (688 m of outline), each a facilities-layer row with snap fields; the
    block's time is the minimum over them, nearest names the campus, and re-derives."""
    from tests.helpers import rederive_from_gpkg

    campus = shapely.box(LON0 + 0.0025, LAT0 + 0.0012, LON0 + 0.0055, LAT0 + 0.0028)
    fac = tmp_path / "campus.gpkg"
    gpd.GeoDataFrame(
        {"id": ["H"], "category": ["retail"], "area_m2": [5000.0]}, geometry=[campus], crs=4326
    ).to_file(fac)
    blocks = block_file(tmp_path / "b.geojson", [(LON0 + 0.0062, LAT0 + 0.00295)])
    res = run(
        write(tmp_path / "net.osm", grid_osm()),
        facilities=fac,
        blocks=blocks,
        categories=["retail"],
        out=tmp_path / "out",
    )
    layer = gpd.read_file(res.out / "lifecircle.gpkg", layer="facilities")
    assert set(layer["facility_id"]) == {"user/H"}
    assert layer["access_kind"].tolist() == ["representative"] + ["boundary"] * 7
    assert layer["access_id"].iloc[0] == "user/H" and layer["access_id"].is_unique
    assert np.nansum(layer["floor_area_m2"]) == 5000.0
    assert (layer["snap_status"] == "snapped").all()
    assert res.blocks["nearest_retail"].iloc[0] == "user/H"
    # the nearest boundary point, not the campus centre, decides the time
    centre = layer.to_crs(4326).geometry.iloc[0]
    alone = run(
        write(tmp_path / "net2.osm", grid_osm()),
        facilities=facility_csv(tmp_path / "c.csv", [("c", "retail", centre.x, centre.y)]),
        blocks=blocks,
        categories=["retail"],
    )
    assert res.blocks["walk_m_retail"].iloc[0] < alone.blocks["walk_m_retail"].iloc[0] - 50
    reported, oracle = rederive_from_gpkg(res.out / "lifecircle.gpkg", "retail")
    np.testing.assert_allclose(reported, oracle, rtol=0, atol=1e-6)
    facts = res.report["facilities"]["access_points"]
    assert facts == {
        "facilities": 1,
        "access_points": 8,
        "access_points_by_kind": {"boundary": 7, "representative": 1},
        "polygon_facilities": 1,
        "large_polygon_facilities": 1,
    }
    assert res.report["summary"]["categories"]["retail"]["facilities"] == 1
    # the run metadata counts the campus once, its 8 rows as access points
    assert res.metadata["facilities"] == {"total": 1, "access_points": 8, "unreachable": 0}


@works
def test_osm_polygon_facility_uses_its_entrances(tmp_path):
    """An OSM supermarket of about 1.3 ha (a closed way) with two entrances on its outline
    and a locked one: the two open entrances are its extra access points; floor area is
    footprint x levels, once."""
    nodes = grid_nodes()
    x0, y0, x1, y1 = LON0 + 0.0025, LAT0 + 0.0011, LON0 + 0.0045, LAT0 + 0.0019
    ring = {
        801: (x0, y0),
        802: ((x0 + x1) / 2, y0),
        803: (x1, y0),
        804: (x1, y1),
        805: ((x0 + x1) / 2, y1),
        806: (x0, y1),
    }
    nodes.update(ring)
    ways = [
        *grid_ways(),
        (
            800,
            [801, 802, 803, 804, 805, 806, 801],
            {
                "shop": "supermarket",
                "building": "retail",
                "building:levels": "2",
                "name": "Campus market",
            },
        ),
    ]
    tags = {
        802: {"entrance": "main"},
        805: {"entrance": "yes"},
        804: {"entrance": "service", "locked": "yes"},
    }
    osm = write(tmp_path / "shop.osm", osm_xml(nodes, ways, node_tags=tags))
    blocks = block_file(tmp_path / "b.geojson", [(LON0 + 0.0035, LAT0 + 0.0029)])
    res = run(osm, blocks=blocks, categories=["retail"])
    fac = res.facilities[res.facilities["facility_id"] == "way/800"]
    assert fac["access_kind"].tolist() == ["representative", "entrance", "entrance"]
    assert fac["access_id"].tolist()[1:] == [
        "way/800@entrance-node/802",
        "way/800@entrance-node/805",
    ]
    footprint = gpd.GeoSeries([shapely.box(x0, y0, x1, y1)], crs=4326).to_crs(3067).area[0]
    assert np.nansum(fac["floor_area_m2"]) == pytest.approx(2 * footprint, rel=1e-3)
    assert res.blocks["nearest_retail"].iloc[0] == "way/800"


def test_case_count():
    """The README's reliability section states the table's counts, computed here."""
    import re

    total, errors, repairs = table_counts()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"(\d+) bad inputs \((\d+) refused with one clear line, (\d+) repaired with a warning\)",
        readme,
    )
    assert found, "README: state the bad-input counts"
    assert tuple(map(int, found.groups())) == (total, errors, repairs)
    assert errors >= 76 and len(SUCCESS_CASES) == 16


def test_fuzz_seed_corpus_replays_clean():
    """The fuzz harness on its seed corpus plus a few seeded mutations: no crash other than
    a LifecircleError, and every target has seeds that load (the corpus is not all junk)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import fuzz
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    for target in fuzz.TARGETS:
        report = fuzz.fallback(target, runs=25, seed=3, out=Path("unused"))
        assert report["findings"] == [], report
        seeds = [fuzz.one_input(target, data) for data in fuzz.seeds(target)]
        assert "ok" in seeds, (target, seeds)
