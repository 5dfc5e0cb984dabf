"""Benchmark section ``isochrones``: per-facility isochrone polygons, ours vs the common recipe.

For every facility of the shared Nanjing and Monaco extracts (OSM facilities of the default
profile, snapped as a run snaps them), one 15-minute isochrone at 4.8 km/h (``--minutes``,
``--speed-kmh``) with a 50 m walk-in width:

- lifecircle: ``facility_isochrones`` (one ``BoundedSearch`` per facility, reached stretches
  cut at the remaining budget, rasterised buffer), default raster method, and the exact
  ``method="vector"`` for reference;
- the buffer-and-union recipe: ``networkx.ego_graph`` with ``distance="length"`` on the
  osmnx-style ``MultiDiGraph`` from the facility's nearest node, every reached node and every
  edge of the subgraph buffered by the same width, ``shapely.union_all``.

Prints time per isochrone, the ratio and PASS/FAIL against the target (ours >= 10x cheaper),
and the area agreement: the recipe takes whole edges between reached nodes (overstating where
the middle of a long edge is out of reach) and drops the reachable stretch of edges leading
out of the isochrone (understating), so neither polygon contains the other in general.

    python scripts/benchmark.py isochrones
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"
EXTRACTS = ("nanjing_xinjiekou.osm.gz", "monaco.osm.pbf")
WALK_IN_M = 50.0


def _row(*cells: Any, widths: tuple[int, ...] = (34, 12, 12, 14, 26)) -> None:
    print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)))


def _facilities(path: Path) -> tuple[Any, Any, Any]:
    """The network, the snapped facilities (snapped rows only) and their ids."""
    from lifecircle.network import WalkNetwork
    from lifecircle.profiles import load_profile
    from lifecircle.snapping import snap_points
    from lifecircle.sources.facilities import facilities_from_osm
    from lifecircle.sources.osm import read_osm

    data = read_osm(path)
    net = WalkNetwork.from_osm(data)
    prof = load_profile("walk15")
    fac = facilities_from_osm(data, prof).to_crs(net.crs).reset_index(drop=True)
    snap = snap_points(net, fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy(),
                       max_snap_m=prof.max_snap_m)
    keep = snap.ok
    return net, snap.subset(keep), fac["facility_id"].to_numpy(dtype=object)[keep]


def recipe_isochrone(graph: Any, center: Any, budget_m: float, walk_in_m: float) -> Any:
    """The buffer-and-union recipe of the osmnx examples (nodes and edges buffered)."""
    import networkx as nx
    import shapely

    sub = nx.ego_graph(graph, center, radius=budget_m, distance="length")
    nodes = shapely.points([(d["x"], d["y"]) for _, d in sub.nodes(data=True)])
    edges = [d["geometry"] for _, _, d in sub.edges(data=True)]
    parts = [shapely.buffer(nodes, walk_in_m)]
    if edges:
        parts.append(shapely.buffer(np.asarray(edges, dtype=object), walk_in_m))
    return shapely.union_all(np.concatenate(parts))


def _bench_extract(path: Path, args: argparse.Namespace) -> None:
    import shapely

    from lifecircle._kernels import BoundedSearch
    from lifecircle.isochrones import facility_isochrones

    net, snap, ids = _facilities(path)
    n = len(snap)
    budget = args.minutes * args.speed_kmh * 1000 / 60
    print(f"\n-- {path.name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {n} facilities, "
          f"{args.minutes:g} min at {args.speed_kmh:g} km/h ({budget:.0f} m), walk-in "
          f"{WALK_IN_M:g} m --")
    if n == 0:
        _row("no snapped facilities")
        return
    search = BoundedSearch.from_csr(net.csr)
    kw = dict(category="all", speed_kmh=args.speed_kmh, bands_min=(args.minutes,),
              walk_in_m=WALK_IN_M, search=search)
    facility_isochrones(net, snap.subset(np.arange(min(n, 2))), list(ids[:2]), **kw)  # compile
    t0 = time.perf_counter()
    ours = facility_isochrones(net, snap, list(ids), **kw)
    t_ours = (time.perf_counter() - t0) / n
    # the exact vector buffers on (up to) the same facilities, for reference
    n_vec = min(n, args.iso_vector_sample)
    t0 = time.perf_counter()
    vec = facility_isochrones(net, snap.subset(np.arange(n_vec)), list(ids[:n_vec]),
                              method="vector", **kw)
    t_vec = (time.perf_counter() - t0) / n_vec

    graph = net.to_networkx().to_directed()  # the osmnx-style MultiDiGraph
    # the recipe starts at the facility's nearest node (the end of its edge it is closer to)
    e = snap.edge
    to_v = snap.along_m > net.edge_length_m[e] / 2
    centre = np.where(to_v, net.edge_v[e], net.edge_u[e])
    centre_id = net.node_id[centre]
    t0 = time.perf_counter()
    recipe = [recipe_isochrone(graph, int(c), budget, WALK_IN_M) for c in centre_id]
    t_rec = (time.perf_counter() - t0) / n

    ratio = t_rec / t_ours
    _row("method", "ms / iso", "isochrones", "ratio", "target")
    _row("lifecircle (raster, 5 m cells)", f"{1000 * t_ours:.2f}", n, "", "")
    _row("lifecircle (vector, exact)", f"{1000 * t_vec:.2f}", n_vec,
         f"recipe/vec {t_rec / t_vec:.1f}", "")
    _row("buffer-and-union recipe", f"{1000 * t_rec:.2f}", n, f"recipe/ours {ratio:.1f}",
         "ours >= 10x cheaper: " + ("PASS" if ratio >= 10 else "FAIL"))
    a_ours = ours["area_m2"].to_numpy()
    a_rec = shapely.area(np.asarray(recipe, dtype=object))
    ok = a_rec > 0
    share = a_ours[ok] / a_rec[ok]
    inter = shapely.area(shapely.intersection(ours.geometry.to_numpy()[ok],
                                              np.asarray(recipe, dtype=object)[ok]))
    a_vec = vec["area_m2"].to_numpy()
    print(f"  area ours/recipe: median {np.median(share):.3f} (p10 {np.quantile(share, 0.1):.3f}, "
          f"p90 {np.quantile(share, 0.9):.3f}); ours smaller or equal for "
          f"{np.mean(share <= 1.0 + 1e-9):.0%} of facilities; recipe area outside ours: median "
          f"{np.median(1 - inter / a_rec[ok]):.1%}")
    print(f"  area raster/vector (same facilities): median "
          f"{np.median(a_ours[:n_vec] / np.where(a_vec > 0, a_vec, np.nan)):.3f}")


def section_isochrones(args: argparse.Namespace) -> None:
    """Per-facility isochrones for every facility of the shared Nanjing and Monaco extracts."""
    if not hasattr(args, "iso_vector_sample"):
        args.iso_vector_sample = 50
    print(f"\n== isochrones: per-facility polygons, ours vs buffer-and-union "
          f"({args.minutes:g} min) ==")
    for name in EXTRACTS:
        path = SHARED / name
        if not path.exists():
            _row(name, "missing")
            continue
        _bench_extract(path, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--speed-kmh", type=float, default=4.8)
    parser.add_argument("--iso-vector-sample", type=int, default=50)
    section_isochrones(parser.parse_args())
