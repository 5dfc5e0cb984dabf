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
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from lifecircle.cli import cli
from lifecircle.network import WalkNetwork
from lifecircle.outputs.geopackage import read_metadata
from lifecircle.pipeline import default_osm, run
from lifecircle.sources.osm import read_osm

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
# error cases: name -> builder(inputs folder, tmp_path) -> (CLI args, exit code, key words)

Case = tuple[list[str], int, list[str]]
CASES: dict[str, Callable[[Path, Path], Case]] = {}


def case(name: str) -> Callable[[Callable[[Path, Path], Case]], Callable[[Path, Path], Case]]:
    def deco(f: Callable[[Path, Path], Case]) -> Callable[[Path, Path], Case]:
        assert name not in CASES, name
        CASES[name] = f
        return f

    return deco


def _laughs(levels: int = 8) -> str:
    ents = ['<!ENTITY e0 "ha">'] + [
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, levels + 1)
    ]
    return "<!DOCTYPE osm [" + "".join(ents) + "]>\n"


# -- OSM files and networks -------------------------------------------------------------------
@case("osm: missing path")
def _(d: Path, t: Path) -> Case:
    return ["--osm", str(d / "nope.osm.pbf")], 2, ["nope.osm.pbf", "file not found", "path"]


@case("osm: a directory")
def _(d: Path, t: Path) -> Case:
    sub = d / "extracts"
    sub.mkdir()
    return ["--osm", str(sub)], 2, ["extracts", "directory", ".osm.pbf"]


@case("osm: 0-byte file")
def _(d: Path, t: Path) -> Case:
    return (
        ["--osm", str(write(d / "empty.osm.pbf", b""))],
        2,
        ["empty.osm.pbf", "0 bytes", "download"],
    )


@case("osm: random bytes as .pbf")
def _(d: Path, t: Path) -> Case:
    data = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    return (
        ["--osm", str(write(d / "random.osm.pbf", data))],
        2,
        ["random.osm.pbf", "not an OSM PBF", "again"],
    )


@case("osm: HTML error page as .pbf")
def _(d: Path, t: Path) -> Case:
    page = "<html><body><h1>504 Gateway Timeout</h1></body></html>"
    return (
        ["--osm", str(write(d / "error.osm.pbf", page))],
        2,
        ["error.osm.pbf", "HTML", "download"],
    )


@case("osm: HTML error page as .osm")
def _(d: Path, t: Path) -> Case:
    page = "<!DOCTYPE html>\n<html><body>Too Many Requests</body></html>"
    return ["--osm", str(write(d / "error.osm", page))], 2, ["error.osm", "HTML", "download"]


@case("osm: vector tile as .pbf")
def _(d: Path, t: Path) -> Case:
    # a Mapbox vector tile: protobuf field 3 (layer) with a name, no OSMHeader blob
    tile = b"\x1a\x1c\x0a\x05water\x12\x0f\x08\x01\x12\x02\x00\x00\x18\x03\x22\x05\x09\x00\x00"
    return (
        ["--osm", str(write(d / "12_3456_1234.pbf", tile))],
        2,
        ["12_3456_1234.pbf", "vector tiles"],
    )


@case("osm: truncated PBF")
def _(d: Path, t: Path) -> Case:
    data = default_osm().read_bytes()
    return (
        ["--osm", str(write(d / "cut.osm.pbf", data[: len(data) // 2]))],
        2,
        ["cut.osm.pbf", "truncated or corrupt", "download"],
    )


@case("osm: bit-flipped PBF")
def _(d: Path, t: Path) -> Case:
    data = bytearray(default_osm().read_bytes())
    for k in range(64):  # flip bytes inside the compressed blobs after the header
        data[len(data) // 2 + 997 * k] ^= 0xFF
    return (
        ["--osm", str(write(d / "flip.osm.pbf", bytes(data)))],
        2,
        ["flip.osm.pbf", "corrupt", "download"],
    )


@case("osm: corrupt gzip")
def _(d: Path, t: Path) -> Case:
    data = gzip.compress(grid_osm().encode())[:40]
    return ["--osm", str(write(d / "bad.osm.gz", data))], 2, ["bad.osm.gz", "corrupt", "again"]


@case("osm: gzip stream corrupt in the middle (fuzz finding)")
def _(d: Path, t: Path) -> Case:
    data = bytearray(gzip.compress(grid_osm().encode(), mtime=0))
    for k in range(20, 60):
        data[k] ^= 0x5A
    return (
        ["--osm", str(write(d / "mid.osm.gz", bytes(data)))],
        2,
        [
            "mid.osm.gz",
            "compressed data is corrupt",
            "download the extract again",
        ],
    )


@case("osm: malformed coordinates (fuzz finding)")
def _(d: Path, t: Path) -> Case:
    text = grid_osm().replace('lon="24.9400000"', 'lon="24,9400000"', 1)
    return (
        ["--osm", str(write(d / "comma.osm", text))],
        2,
        [
            "comma.osm",
            "malformed coordinates",
            "export the extract again",
        ],
    )


@case("osm: an id that is not a number (fuzz finding)")
def _(d: Path, t: Path) -> Case:
    text = grid_osm().replace('<way id="101">', '<way id="1x01">', 1)
    return (
        ["--osm", str(write(d / "id.osm", text))],
        2,
        [
            "id.osm",
            "illegal id",
            "export the extract again",
        ],
    )


@case("osm: XML with a DOCTYPE")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(prolog='<!DOCTYPE osm SYSTEM "osm.dtd">\n')
    return (
        ["--osm", str(write(d / "doctype.osm", text))],
        2,
        ["doctype.osm", "DOCTYPE", "without a DOCTYPE"],
    )


@case("osm: entity expansion (billion laughs)")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(prolog=_laughs(), node_tags={1: {"name": "&e8;", "amenity": "cafe"}})
    text = text.replace("&amp;e8;", "&e8;")
    return (
        ["--osm", str(write(d / "laughs.osm", text))],
        2,
        ["laughs.osm", "entity", "without a DOCTYPE"],
    )


@case("osm: external entity (file:///etc/passwd)")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(
        prolog='<!DOCTYPE osm [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
        node_tags={1: {"name": "XXE", "amenity": "cafe"}},
    )
    text = text.replace('v="XXE"', 'v="&x;"')
    return ["--osm", str(write(d / "xxe.osm", text))], 2, ["xxe.osm", "entity", "DOCTYPE"]


@case("osm: DOCTYPE after a long comment")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(prolog="<!--" + "padding " * 2000 + "-->\n" + _laughs(3))
    return (
        ["--osm", str(write(d / "late.osm.gz", gzip.compress(text.encode())))],
        2,
        ["late.osm.gz", "DOCTYPE"],
    )


@case("osm: entity reference without a DOCTYPE")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(node_tags={1: {"name": "X", "amenity": "cafe"}}).replace('v="X"', 'v="&lol;"')
    return ["--osm", str(write(d / "ref.osm", text))], 2, ["ref.osm", "could not be read"]


@case("osm: enormous tag value")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(node_tags={1: {"name": "A" * 2_000_000, "amenity": "cafe"}})
    return (
        ["--osm", str(write(d / "huge.osm", text))],
        2,
        ["huge.osm", "too long", "255 characters"],
    )


@case("osm: not UTF-8")
def _(d: Path, t: Path) -> Case:
    text = grid_osm(node_tags={1: {"name": "Caf\u00e9", "amenity": "cafe"}})
    data = text.encode("utf-8").replace("Caf\u00e9".encode(), b"Caf\xe9")
    return (
        ["--osm", str(write(d / "latin1.osm", data))],
        2,
        ["latin1.osm", "could not be read", "corrupt"],
    )


@case("osm: not OSM XML")
def _(d: Path, t: Path) -> Case:
    text = "<?xml version='1.0'?>\n<gpx><trk/></gpx>\n"
    return ["--osm", str(write(d / "track.osm", text))], 2, ["track.osm", "<osm>", "OSM XML or PBF"]


@case("osm: no walkable ways")
def _(d: Path, t: Path) -> Case:
    nodes = grid_nodes()
    ways = [
        (1, [1, 2, 3], {"highway": "motorway"}),
        (2, [11, 12, 13], {"highway": "construction"}),
        (3, [21, 22, 23], {"highway": "residential", "foot": "no"}),
        (4, [31, 32, 33, 31], {"building": "yes"}),
    ]
    return (
        ["--osm", str(write(d / "nowalk.osm", osm_xml(nodes, ways)))],
        2,
        [
            "nowalk.osm",
            "no walkable ways",
            "motorway (1)",
            "construction (1)",
            "residential (1)",
            "streets or footpaths",
        ],
    )


@case("osm: walkable ways with every node missing")
def _(d: Path, t: Path) -> Case:
    ways = [(1, [901, 902, 903], {"highway": "residential"})]
    return (
        ["--osm", str(write(d / "clipped.osm", osm_xml({1: (LON0, LAT0)}, ways)))],
        2,
        ["clipped.osm", "two nodes inside the extract"],
    )


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


@case("graphml: no crs")
def _(d: Path, t: Path) -> Case:
    return (
        ["--osm", str(_graphml(d / "nocrs.graphml", crs=None))],
        2,
        ["nocrs.graphml", "no 'crs' attribute", "EPSG:4326"],
    )


@case("graphml: nodes without x/y")
def _(d: Path, t: Path) -> Case:
    return (
        ["--osm", str(_graphml(d / "noxy.graphml", crs="EPSG:32650", xy=False))],
        2,
        ["noxy.graphml", "'x' and 'y'", "['lon']", "export the graph with coordinates"],
    )


@case("graphml: unknown crs")
def _(d: Path, t: Path) -> Case:
    return (
        ["--osm", str(_graphml(d / "badcrs.graphml", crs="EPSG:99999"))],
        2,
        ["badcrs.graphml", "EPSG:99999", "EPSG code"],
    )


@case("graphml: not GraphML")
def _(d: Path, t: Path) -> Case:
    return (
        ["--osm", str(write(d / "net.graphml", "<graphml><graph"))],
        2,
        ["net.graphml", "could not be read as GraphML", "export the graph again"],
    )


@case("graphml: no facilities given")
def _(d: Path, t: Path) -> Case:
    return (
        ["--osm", str(_graphml(d / "ok.graphml", crs="EPSG:32650"))],
        2,
        ["ok.graphml", "no facilities", "--facilities"],
    )


# -- facilities, blocks, CRS ------------------------------------------------------------------
def _fac(d: Path, name: str, text: str | bytes, *extra: str) -> list[str]:
    return ["--facilities", str(write(d / name, text)), *extra]


@case("facilities: 0-byte CSV")
def _(d: Path, t: Path) -> Case:
    return _fac(d, "empty.csv", ""), 2, ["empty.csv", "0 bytes"]


@case("facilities: header only")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "header.csv", "id,category,lon,lat\n"),
        2,
        ["header.csv", "no rows", "add facility rows"],
    )


@case("facilities: no coordinate columns")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "cols.csv", "id,category,east,north\n1,retail,1,2\n"),
        2,
        ["cols.csv", "no coordinate columns", "id, category, east, north", "--x-col"],
    )


@case("facilities: NaN coordinate")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "nan.csv", "id,category,lon,lat\n1,retail,24.94,60.17\n2,retail,24.94,\n"),
        2,
        ["nan.csv", "row 2", "(24.94, nan)", "not finite", "fix or remove"],
    )


@case("facilities: inf coordinate")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "inf.csv", "id,category,lon,lat\n1,retail,inf,60.17\n"),
        2,
        ["inf.csv", "row 1", "(inf, 60.17)", "not finite"],
    )


@case("facilities: text coordinate")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "text.csv", "id,category,lon,lat\n1,retail,24.94,60.17\n2,retail,east,1\n"),
        2,
        ["text.csv", "row 2", "('east', 1.0)", "not finite"],
    )


@case("facilities: latitude 152.5")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "lat.csv", "id,category,lon,lat\n1,retail,24.94,152.5\n"),
        2,
        ["lat.csv", "row 1", "152.5", "out of range", "swapped"],
    )


@case("facilities: projected numbers claiming EPSG:4326")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(
            d,
            "utm.csv",
            "id,category,x,y\n1,retail,385000,6672000\n",
            "--facilities-crs",
            "EPSG:4326",
        ),
        2,
        ["utm.csv", "projected numbers", "WGS 84", "--facilities-crs EPSG:"],
    )


@case("facilities: swapped latitude/longitude")
def _(d: Path, t: Path) -> Case:
    rows = "".join(f"{i},retail,{60.168 + 0.001 * i},{24.94 + 0.001 * i}\n" for i in range(5))
    return (
        _fac(d, "swapped.csv", "id,category,lon,lat\n" + rows),
        2,
        ["swapped.csv", "5 of 5 points", "swapped", "swap the coordinate columns"],
    )


@case("facilities: vector file without CRS")
def _(d: Path, t: Path) -> Case:
    p = d / "nocrs.gpkg"
    pts = gpd.GeoDataFrame({"category": ["retail"]}, geometry=[shapely.Point(LON0, LAT0)])
    pyogrio.write_dataframe(pts, p)
    return ["--facilities", str(p)], 2, ["nocrs.gpkg", "no CRS", "--facilities-crs"]


@case("facilities: x/y columns without CRS")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "xy.csv", "id,category,x,y\n1,retail,385000,6672000\n"),
        2,
        ["xy.csv", "'x'/'y'", "no coordinate system", "--facilities-crs"],
    )


@case("facilities: not UTF-8")
def _(d: Path, t: Path) -> Case:
    data = "id,category,name,lon,lat\n1,retail,Caf\u00e9,24.94,60.17\n".encode("latin-1")
    return _fac(d, "latin1.csv", data), 2, ["latin1.csv", "could not be read as CSV", "UTF-8"]


@case("facilities: duplicate ids")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(
            d,
            "dup.csv",
            "id,category,lon,lat\n7,retail,24.94,60.17\n8,retail,24.94,60.17\n"
            "7,health,24.941,60.17\n",
        ),
        2,
        ["dup.csv", "duplicate facility ids", "'id'", "rows [1, 3]", "unique id"],
    )


@case("facilities: missing id")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "noid.csv", "id,category,lon,lat\n7,retail,24.94,60.17\n,retail,24.94,60.17\n"),
        2,
        ["noid.csv", "missing or duplicate facility ids", "rows [2]"],
    )


@case("facilities: unknown category")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "cat.csv", "id,category,lon,lat\n1,retial,24.94,60.17\n"),
        2,
        ["cat.csv", "row 1", "did you mean 'retail'", "use one of"],
    )


@case("facilities: no category column")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "nocat.csv", "id,kind,lon,lat\n1,retail,24.94,60.17\n"),
        2,
        ["nocat.csv", "no 'category' column", "id, kind", "--category-col"],
    )


@case("facilities: broken GeoJSON")
def _(d: Path, t: Path) -> Case:
    return (
        _fac(d, "broken.geojson", '{"type": "FeatureCollection", "features": ['),
        2,
        ["broken.geojson", "could not be read", "GeoJSON"],
    )


@case("facilities: unknown --facilities-crs")
def _(d: Path, t: Path) -> Case:
    args = _fac(
        d, "ok.csv", "id,category,lon,lat\n1,retail,24.94,60.17\n", "--facilities-crs", "EPSG:99999"
    )
    return args, 3, ["EPSG:99999", "gcj02", "bd09"]


@case("blocks: points")
def _(d: Path, t: Path) -> Case:
    p = d / "points.geojson"
    gpd.GeoDataFrame({"population": [1]}, geometry=[shapely.Point(LON0, LAT0)], crs=4326).to_file(p)
    return ["--blocks", str(p)], 2, ["points.geojson", "feature 1 is a Point", "buffer"]


@case("blocks: lines")
def _(d: Path, t: Path) -> Case:
    p = d / "lines.geojson"
    line = shapely.LineString([(LON0, LAT0), (LON0 + DLON, LAT0)])
    gpd.GeoDataFrame(
        {"population": [1, 2]}, geometry=[shapely.box(24.94, 60.17, 24.941, 60.171), line], crs=4326
    ).to_file(p)
    return ["--blocks", str(p)], 2, ["lines.geojson", "feature 2 is a LineString", "polygons"]


@case("blocks: empty geometry")
def _(d: Path, t: Path) -> Case:
    p = d / "empty.gpkg"
    gpd.GeoDataFrame(
        {"population": [1, 2]},
        geometry=[shapely.box(24.94, 60.17, 24.941, 60.171), shapely.Polygon()],
        crs=4326,
    ).to_file(p)
    return (
        ["--blocks", str(p)],
        2,
        ["empty.gpkg", "features [2] have no geometry", "draw their polygons"],
    )


@case("blocks: no CRS")
def _(d: Path, t: Path) -> Case:
    return (
        ["--blocks", str(block_file(d / "nocrs.gpkg", [(LON0, LAT0)], crs=None))],
        2,
        ["nocrs.gpkg", "no CRS", "--blocks-crs"],
    )


@case("blocks: duplicate ids")
def _(d: Path, t: Path) -> Case:
    p = block_file(
        d / "dup.geojson",
        [(LON0, LAT0), (LON0 + DLON, LAT0), (LON0, LAT0 + DLAT)],
        block_id=["a", "b", "a"],
        population=[1, 2, 3],
    )
    return ["--blocks", str(p)], 2, ["dup.geojson", "duplicate block ids", "rows [1, 3]"]


@case("blocks: missing id")
def _(d: Path, t: Path) -> Case:
    p = block_file(
        d / "noid.gpkg",
        [(LON0, LAT0), (LON0 + DLON, LAT0)],
        block_id=["a", None],
        population=[1, 2],
    )
    return ["--blocks", str(p)], 2, ["noid.gpkg", "missing or duplicate block ids", "rows [2]"]


@case("blocks: polygon that repairs to nothing")
def _(d: Path, t: Path) -> Case:
    p = d / "flat.geojson"
    flat = shapely.Polygon([(LON0, LAT0), (LON0 + DLON, LAT0), (LON0 + 2 * DLON, LAT0)])
    gpd.GeoDataFrame({"population": [1]}, geometry=[flat], crs=4326).to_file(p)
    return ["--blocks", str(p)], 2, ["flat.geojson", "no area once repaired"]


def _metre_blocks(path: Path, *, crs: int | None) -> Path:
    sq = gpd.GeoSeries([shapely.box(LON0, LAT0, LON0 + DLON, LAT0 + DLAT)], crs=4326)
    frame = gpd.GeoDataFrame({"population": [1]}, geometry=sq.to_crs(3067).to_numpy())
    pyogrio.write_dataframe(frame if crs is None else frame.set_crs(crs), path)
    return path


@case("blocks: projected numbers claiming EPSG:4326")
def _(d: Path, t: Path) -> Case:
    return (
        ["--blocks", str(_metre_blocks(d / "utm.geojson", crs=4326))],
        2,
        [
            "utm.geojson",
            "row 1",
            "projected numbers",
            "WGS 84",
            "--blocks-crs EPSG:",
        ],
    )


@case("blocks: geographic --blocks-crs for metre coordinates")
def _(d: Path, t: Path) -> Case:
    p = _metre_blocks(d / "metres.gpkg", crs=None)
    return (
        ["--blocks", str(p), "--blocks-crs", "EPSG:4326"],
        2,
        [
            "metres.gpkg",
            "projected numbers",
            "--blocks-crs EPSG:",
        ],
    )


# -- configuration and outputs ----------------------------------------------------------------
def _profile(d: Path, name: str, old: str, new: str) -> list[str]:
    assert old in WALK15
    return ["--profile", str(write(d / name, WALK15.replace(old, new, 1)))]


@case("config: unknown profile key")
def _(d: Path, t: Path) -> Case:
    return (
        _profile(d, "typo.toml", "threshold_min = 15.0", "threshhold_min = 15.0"),
        3,
        ["typo.toml", "unknown key 'threshhold_min'", "did you mean 'threshold_min'"],
    )


@case("config: unknown profile name")
def _(d: Path, t: Path) -> Case:
    return ["--profile", "walk16"], 3, ["walk16", "did you mean 'walk15'", ".toml"]


@case("config: wrong type")
def _(d: Path, t: Path) -> Case:
    return (
        _profile(d, "type.toml", "threshold_min = 15.0", "threshold_min = [15]"),
        3,
        ["type.toml", "threshold_min must be a number", "[15]"],
    )


@case("config: zero cutoff in profile")
def _(d: Path, t: Path) -> Case:
    return (
        _profile(d, "zero.toml", "threshold_min = 15.0", "threshold_min = 0"),
        3,
        ["zero.toml", "threshold_min must be a positive number"],
    )


@case("config: negative speed in profile")
def _(d: Path, t: Path) -> Case:
    return (
        _profile(d, "neg.toml", "speed_kmh = 4.8", "speed_kmh = -4.8"),
        3,
        ["neg.toml", "speed_kmh must be a positive number"],
    )


@case("config: '5 km/h' in profile")
def _(d: Path, t: Path) -> Case:
    return (
        _profile(d, "unit.toml", "speed_kmh = 4.8", 'speed_kmh = "5 km/h"'),
        3,
        ["unit.toml", "'5 km/h'", "units are in the key name"],
    )


@case("config: invalid TOML")
def _(d: Path, t: Path) -> Case:
    return (
        ["--profile", str(write(d / "bad.toml", 'name = "x"\n[groups\n'))],
        3,
        ["bad.toml", "not valid TOML", "line 2", "fix the syntax"],
    )


@case("config: profile file missing")
def _(d: Path, t: Path) -> Case:
    return ["--profile", str(d / "gone.toml")], 3, ["gone.toml", "not found", "built-in"]


@case("config: --minutes -5")
def _(d: Path, t: Path) -> Case:
    return ["--minutes", "-5"], 3, ["--minutes", "positive"]


@case("config: --minutes 0")
def _(d: Path, t: Path) -> Case:
    return ["--minutes", "0"], 3, ["--minutes", "positive"]


@case("config: --speed-kmh nan")
def _(d: Path, t: Path) -> Case:
    return ["--speed-kmh", "nan"], 3, ["--speed-kmh", "positive"]


@case("config: --speed-kmh '5 km/h'")
def _(d: Path, t: Path) -> Case:
    return ["--speed-kmh", "5 km/h"], 3, ["--speed-kmh", "'5 km/h'", "number alone", "--help"]


@case("config: --max-snap-m -1")
def _(d: Path, t: Path) -> Case:
    return ["--max-snap-m", "-1"], 3, ["--max-snap-m", "positive"]


@case("config: unknown --category")
def _(d: Path, t: Path) -> Case:
    return ["--category", "retial"], 3, ["retial", "did you mean 'retail'", "choose from"]


@case("config: unknown option")
def _(d: Path, t: Path) -> Case:
    return ["--speed", "4"], 3, ["--speed", "--speed-kmh", "--help"]


@case("output: equal to the input file")
def _(d: Path, t: Path) -> Case:
    src = write(d / "in.osm", grid_osm())
    return ["--osm", str(src), "--out", str(src)], 2, ["in.osm", "input", "another --out"]


@case("output: inside the input file")
def _(d: Path, t: Path) -> Case:
    src = write(d / "in2.osm", grid_osm())
    return ["--osm", str(src), "--out", str(src / "out")], 2, ["in2.osm", "input"]


@case("output: the folder holding an input")
def _(d: Path, t: Path) -> Case:
    src = write(d / "in3.osm", grid_osm())
    return ["--osm", str(src), "--out", str(d)], 2, ["in3.osm", "contain or replace the input"]


@case("output: exists without --overwrite")
def _(d: Path, t: Path) -> Case:
    out = t / "out"
    out.mkdir()
    write(out / "report.md", "an older run\n")
    return ["--out", str(out)], 2, ["out", "exists", "--overwrite"]


@case("output: another run is writing it")
def _(d: Path, t: Path) -> Case:
    # a live process holds the lock, as a concurrent run would
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    _HOLDERS.append(holder)
    write(t / ".out.lock", str(holder.pid))
    return [], 2, ["out", f"pid {holder.pid}", "is writing", "another --out"]


_HOLDERS: list[subprocess.Popen[bytes]] = []


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


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_line(tmp_path, name):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    args, code, words = CASES[name](inputs, tmp_path)
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


def test_unreadable_file(tmp_path, monkeypatch):
    """chmod 000 (or, as root, an open() that the OS denies): the error names the fix."""
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
    assert code == 2
    assert output.strip().startswith("lifecircle: error: ")
    assert "locked.osm" in output and "Permission denied" in output and "permissions" in output
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


def test_case_count():
    """The figure for the closing note: every case above, counted."""
    assert len(CASES) == 75  # + test_unreadable_file: 76 error cases
    assert len(SUCCESS_CASES) == 11


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
