#!/usr/bin/env python
"""Validate block walking times against an independent networkx reference (issue 13.6).

    python scripts/validate_reference.py                      # the four shared Chinese extracts
    python scripts/validate_reference.py nanjing_xinjiekou    # some of them
    python scripts/validate_reference.py --sample 500         # 500 access points per extract

For each extract, ``lifecircle.run`` writes its GeoPackage; the reference then reads only the
``edges``, ``facilities``, ``access_points`` and ``blocks`` layers and ``run_metadata`` (never
the snap fields, never lifecircle's routing or snapping) and recomputes every access point's
metres to the nearest facility of each category:

- the graph is an ``networkx.Graph`` built from ``edges`` (``u``, ``v``, ``length_m``);
- points are snapped from their geometry with shapely, by the rules the README states: every
  edge within ``max_snap_m`` (plus, for an access point, its distance to its own block's
  boundary) is a candidate; edges in a fragment (a connected part of at most 4 nodes, other
  than the largest) are skipped when any other edge is in reach; every candidate within 5 % of
  the nearest one's leg is a snap. Each snap splits its edge at the projected position (scaled
  to ``length_m``) and joins the point by its straight leg, one way (out of a facility, into
  an access point);
- ``networkx.multi_source_dijkstra_path_length`` from all facilities of a category, cut off at
  the category's horizon (``horizon_min`` × its speed).

A block's time is the minimum over its access points. The report gives, per extract and
category, the distribution of |engine − reference| over blocks (max, p99, median) and the
count of reachability mismatches (a time on one side, none on the other).

Shanghai's roads-only extract has no points of interest: it gets a generated facility file
(points 15 m off randomly chosen edges, seeded), as in ``scripts/bench_scale.py``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"
EXTRACTS = ("nanjing_xinjiekou", "beijing_haidian", "taichung_xitun", "shanghai_center_roads")
#: the README's snapping rules, restated here (not imported: the reference is independent)
TIE_REL = 0.05
FRAGMENT_MAX_NODES = 4


def _fragment_edges(edges: pd.DataFrame) -> np.ndarray:
    g = nx.Graph()
    g.add_edges_from(zip(edges["u"], edges["v"], strict=True))
    parts = sorted(nx.connected_components(g), key=len, reverse=True)
    small = {n for part in parts[1:] if len(part) <= FRAGMENT_MAX_NODES for n in part}
    return edges["u"].isin(small).to_numpy()


def reference_snaps(
    edges: gpd.GeoDataFrame, points: np.ndarray, limit: np.ndarray
) -> pd.DataFrame:
    """Every snap of every point: ``point``, ``edge`` (row of ``edges``), ``along_m``, ``leg``."""
    tree = shapely.STRtree(edges.geometry.to_numpy())
    p, e = tree.query(points, predicate="dwithin", distance=limit)
    geoms = edges.geometry.to_numpy()
    d = shapely.distance(points[p], geoms[e])
    pairs = pd.DataFrame({"point": p, "edge": e, "leg": d})
    pairs = pairs[pairs["leg"] <= limit[p]]
    pairs["fragment"] = _fragment_edges(edges)[pairs["edge"].to_numpy()]
    # fragments only where nothing else is in reach
    any_main = pairs.groupby("point")["fragment"].transform("min") == 0
    pairs = pairs[~(pairs["fragment"] & any_main)]
    nearest = pairs.groupby("point")["leg"].transform("min")
    pairs = pairs[pairs["leg"] <= nearest * (1.0 + TIE_REL) + 1e-9].copy()
    g = geoms[pairs["edge"].to_numpy()]
    geom_len = shapely.length(g)
    at = shapely.line_locate_point(g, points[pairs["point"].to_numpy()])
    length_m = edges["length_m"].to_numpy()[pairs["edge"].to_numpy()]
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs["along_m"] = np.where(geom_len > 0, np.clip(at / geom_len, 0, 1), 0.0) * length_m
    return pairs[["point", "edge", "along_m", "leg"]].reset_index(drop=True)


def reference_distances(
    edges: gpd.GeoDataFrame, sources: pd.DataFrame, targets: pd.DataFrame, n_targets: int,
    cutoff: float,
) -> np.ndarray:
    """Metres from the nearest source to each target (``inf`` unreachable), by networkx."""
    g = nx.Graph()
    cuts: dict[int, list[tuple[float, Any]]] = {}
    for kind, frame in (("s", sources), ("t", targets)):
        for row in frame.itertuples(index=False):
            on = (kind, "on", int(row.point), int(row.edge), float(row.along_m))
            cuts.setdefault(int(row.edge), []).append((float(row.along_m), on))
    u, v, length = (edges[c].to_numpy() for c in ("u", "v", "length_m"))
    for i in range(len(edges)):
        chain = [(0.0, ("n", int(u[i]))), *sorted(cuts.get(i, []), key=lambda t: t[0])]
        chain.append((float(length[i]), ("n", int(v[i]))))
        for (pa, a), (pb, b) in itertools.pairwise(chain):
            if a == b:
                continue
            w = max(pb - pa, 0.0)
            if g.has_edge(a, b) and g[a][b]["weight"] <= w:
                continue
            g.add_edge(a, b, weight=w)
    dg = g.to_directed()
    for kind, frame in (("s", sources), ("t", targets)):
        for row in frame.itertuples(index=False):
            on = (kind, "on", int(row.point), int(row.edge), float(row.along_m))
            off = (kind, "off", int(row.point))
            if kind == "s":
                dg.add_edge(off, on, weight=float(row.leg))
            else:
                dg.add_edge(on, off, weight=float(row.leg))
    starts = {("s", "off", int(p)) for p in sources["point"].unique()}
    out = np.full(n_targets, np.inf)
    if not starts:
        return out
    dist = nx.multi_source_dijkstra_path_length(dg, starts, cutoff=cutoff, weight="weight")
    for t in range(n_targets):
        out[t] = dist.get(("t", "off", t), np.inf)
    return out


def compare_run(
    gpkg: Path, *, sample: int | None = None, seed: int = 0,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per category: blocks compared, |diff| max / p99 / median (m), reachability mismatches.

    With ``sample``, only the blocks of ``sample`` randomly chosen access points are compared
    (each over all of its access points).
    """
    meta = {k: json.loads(v) for k, v in pyogrio.read_dataframe(gpkg, layer="run_metadata")
            [["key", "value"]].itertuples(index=False)}
    edges = gpd.read_file(gpkg, layer="edges", engine="pyogrio")
    fac = gpd.read_file(gpkg, layer="facilities", engine="pyogrio")
    aps = gpd.read_file(gpkg, layer="access_points", engine="pyogrio")
    blocks = gpd.read_file(gpkg, layer="blocks", engine="pyogrio")
    if sample is not None and sample < len(aps):
        rng = np.random.default_rng(seed)
        chosen = set(aps["block_id"].to_numpy()[rng.choice(len(aps), sample, replace=False)])
        aps = aps[aps["block_id"].isin(chosen)].reset_index(drop=True)
    max_snap = float(meta["max_snap_m"])
    own = blocks.set_index("block_id").geometry.loc[aps["block_id"].to_numpy()].to_numpy()
    ap_pts = aps.geometry.to_numpy()
    inside = np.where(shapely.contains(own, ap_pts),
                      shapely.distance(shapely.boundary(own), ap_pts), 0.0)
    t_snaps = reference_snaps(edges, ap_pts, max_snap + inside)
    rows = []
    for c in categories or list(meta["speeds_kmh"]):
        f = fac[fac["category"] == c].reset_index(drop=True)
        f_pts = f.geometry.to_numpy()
        s_snaps = reference_snaps(edges, f_pts, np.full(len(f), max_snap))
        cutoff = float(meta["horizon_min"]) * float(meta["speeds_kmh"][c]) * 1000.0 / 60.0
        ref = reference_distances(edges, s_snaps, t_snaps, len(aps), cutoff)
        frame = pd.DataFrame({"block_id": aps["block_id"], "ref": ref,
                              "ours": aps[f"walk_m_{c}"].to_numpy(dtype=np.float64)})
        frame = frame.replace(np.inf, np.nan)
        per_block = frame.groupby("block_id")[["ref", "ours"]].min()
        got = blocks.set_index("block_id")[f"walk_m_{c}"].reindex(per_block.index)
        both = per_block["ref"].notna() & got.notna()
        diff = (got[both] - per_block["ref"][both]).abs().to_numpy()
        rows.append({
            "category": c,
            "facilities": len(f),
            "blocks": len(per_block),
            "reached": int(both.sum()),
            "max_m": float(diff.max()) if diff.size else 0.0,
            "p99_m": float(np.percentile(diff, 99)) if diff.size else 0.0,
            "median_m": float(np.median(diff)) if diff.size else 0.0,
            "mismatch": int((per_block["ref"].notna() != got.notna()).sum()),
        })
    return pd.DataFrame(rows)


def _shanghai_facilities(osm: Path, folder: Path) -> Path:
    """Generated facilities for a roads-only extract: 15 m off random edges, seeded."""
    from lifecircle.network import WalkNetwork
    from lifecircle.profiles import load_profile
    from lifecircle.sources.osm import read_osm

    net = WalkNetwork.from_osm(read_osm(osm))
    rng = np.random.default_rng(7)
    cats = list(load_profile("walk15").categories)
    n = 40 * len(cats)
    e = rng.choice(net.n_edges, size=n, replace=False)
    start = net.edge_coords[net.edge_ptr[e]]
    gdf = gpd.GeoDataFrame({"id": [f"g{i}" for i in range(n)],
                            "category": [cats[i % len(cats)] for i in range(n)]},
                           geometry=gpd.points_from_xy(start[:, 0] + 15.0, start[:, 1] + 15.0),
                           crs=net.crs)
    path = folder / "generated_facilities.gpkg"
    gdf.to_file(path, engine="pyogrio")
    return path


def validate(name: str, folder: Path, *, sample: int | None) -> pd.DataFrame:
    from lifecircle.pipeline import run

    osm = SHARED / f"{name}.osm.gz"
    facilities = _shanghai_facilities(osm, folder) if name == "shanghai_center_roads" else None
    out = folder / name
    t0 = time.perf_counter()
    run(osm, facilities=facilities, out=out, map=False, figures=False, rasters=False,
        isochrones=False)
    t_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = compare_run(out / "lifecircle.gpkg", sample=sample)
    table.insert(0, "extract", name)
    print(f"{name}: run {t_run:.1f} s, reference {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("extracts", nargs="*", default=list(EXTRACTS))
    parser.add_argument("--sample", type=int, default=None,
                        help="compare the blocks of this many random access points")
    args = parser.parse_args(argv)
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.extracts:
            tables.append(validate(name, Path(tmp), sample=args.sample))
    table = pd.concat(tables, ignore_index=True)
    with pd.option_context("display.width", 140, "display.float_format", "{:.2e}".format):
        print(table.to_string(index=False))
    worst = float(table["max_m"].max())
    mismatches = int(table["mismatch"].sum())
    print(f"\nmax |diff| {worst:.2e} m over {int(table['reached'].sum())} block times; "
          f"{mismatches} reachability mismatches")
    return 0 if worst <= 0.01 and mismatches == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
