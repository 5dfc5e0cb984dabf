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

``--city FILE [--base DIR]`` instead times a city's streamed ring rows (the run's
``iter_isochrones``) against another checkout's, with their WKB bytes and vertices.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


# ---------------------------------------------------------------------------------------------
# section: facilities (per-facility bounded searches at ~1M nodes, issue 15 item 5)

#: target per facility at ~1M nodes (issue 15, item 5)
FACILITY_TARGET_MS = 0.5


def _virtual_source_search(graph: Any, nodes: np.ndarray, dist: np.ndarray,
                           limit: float) -> dict[int, float]:
    """networkx from a virtual start joined to the facility's edge ends at their offsets.

    The virtual node ``-1`` is removed again afterwards; its own entry is dropped. A facility
    with near-tied snaps seeds a node more than once: the shortest arc is kept.
    """
    import networkx as nx

    with _virtual_start(graph, nodes, dist):
        out = nx.single_source_dijkstra_path_length(graph, -1, cutoff=limit, weight="length")
    out.pop(-1, None)
    return out


@contextmanager
def _virtual_start(graph: Any, nodes: np.ndarray, dist: np.ndarray) -> Iterator[None]:
    """Node ``-1`` joined to ``nodes`` by arcs of ``dist`` while the block runs, then removed
    (a node seeded twice keeps the shorter arc: the arcs are added longest first)."""
    order = np.argsort(-dist, kind="stable")
    graph.add_weighted_edges_from(((-1, int(v), float(d)) for v, d in zip(
        nodes[order], dist[order], strict=True)), weight="length")
    try:
        yield
    finally:
        graph.remove_node(-1)


def _nx_graph(net: Any) -> Any:
    """The network as an undirected ``networkx.Graph`` keeping the shortest of parallel edges.

    ``Graph`` keeps one edge per node pair, the last one added: edges go in longest first.
    Each edge keeps its ``length`` and its index ``eid`` in ``net`` (for its geometry).
    """
    import networkx as nx

    order = np.argsort(-net.edge_length_m, kind="stable")
    g = nx.Graph()
    g.add_edges_from(zip(net.edge_u[order].tolist(), net.edge_v[order].tolist(),
                         ({"length": w, "eid": e} for w, e in zip(
                             net.edge_length_m[order].tolist(), order.tolist(), strict=True)),
                         strict=True))
    return g


def _same_reach(ours: tuple[np.ndarray, np.ndarray], theirs: dict[int, float]) -> float:
    """Largest distance difference when the node sets agree, ``inf`` when they do not."""
    nodes, dist = ours
    if set(nodes.tolist()) != set(theirs):
        return float("inf")
    if not nodes.size:
        return 0.0
    return float(np.max(np.abs(dist - np.array([theirs[int(v)] for v in nodes]))))


def _seeds(net: Any, fsnap: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seed_ptr, seed_node, seed_dist) of every facility, as facility_isochrones builds them."""
    from lifecircle.routing import seed_arcs

    point, node, dist = seed_arcs(net, fsnap)
    order = np.argsort(point, kind="stable")
    ptr = np.zeros(len(fsnap) + 1, dtype=np.int64)
    np.cumsum(np.bincount(point, minlength=len(fsnap)), out=ptr[1:])
    return ptr, node[order], dist[order]


def section_facilities(args: argparse.Namespace) -> None:
    """Per-facility bounded searches on a tiled ~``--nodes`` graph: ours, networkx, pandana.

    ``--iso-facilities`` facilities on random edges (15 m off the street), ``--minutes`` at
    ``--speed-kmh``. Ours: ``seed_arcs`` plus ``BoundedSearch.run_many`` in batches of
    ``FACILITY_BATCH`` (what ``facility_isochrones`` and siting run per facility), then the
    whole ``facility_isochrones`` (search, reached stretches, raster polygons at the
    function's default 5 m cells, at the coarsest allowed, a quarter of the walk-in width,
    and at the cell a run takes for this network, ``auto_cell_m``: 10 m at a million nodes;
    then a run's own rows, ``--facility-isochrones``: that cell, 5/10/15-minute rings and the
    off-network legs) on the same facilities, against the whole isochrone of networkx
    (``ego_graph`` by length from the facility, nodes and edges buffered and unioned: the
    osmnx recipe) and of pandana
    (``nodes_in_range``, then the same buffer union) on the sample, wall and CPU time, with
    PASS/FAIL of ours (CPU) against ``FACILITY_TARGET_MS``.
    Baselines on ``--iso-sample`` of them: networkx
    ``single_source_dijkstra_path_length(cutoff=)`` from a virtual start joined to the
    facility's edge ends, scipy ``dijkstra(indices=, limit=)`` from the nearer edge end, and
    pandana ``nodes_in_range`` (contraction hierarchies; the C++ call and the public wrapper).
    Checks that our reach equals networkx's on the sample (node sets, distances to 1e-6).

        python scripts/benchmark.py facilities                  # ~1M nodes, no pandana
        python scripts/benchmark.py facilities --pandana-big    # with pandana (~20 min)
        python scripts/benchmark.py facilities --nodes 250000
        python scripts/benchmark.py facilities --no-networkx    # 1M nodes within ~2 GB
    """
    from benchmark import SHARED as SHARED_OSM
    from benchmark import _facility_points, measure, row, tiled_network
    from scipy.sparse.csgraph import dijkstra

    from lifecircle._kernels import BoundedSearch
    from lifecircle.isochrones import DEFAULT_BANDS_MIN, auto_cell_m, facility_isochrones
    from lifecircle.isochrones.bands import FACILITY_BATCH
    from lifecircle.network import WalkNetwork
    from lifecircle.snapping import snap_points
    from lifecircle.sources.osm import read_osm

    n_fac = getattr(args, "iso_facilities", 2000)
    k = getattr(args, "iso_sample", 50)
    limit = args.minutes * args.speed_kmh * 1000 / 60
    # Nanjing, as the 1M-node file (make_tiled_osm.py) is tiled from it
    base_path = SHARED_OSM / "nanjing_xinjiekou.osm.gz"
    if not base_path.exists():
        base_path = ROOT / "data" / "helsinki.osm.pbf"
    base = WalkNetwork.from_osm(read_osm(base_path))
    t0 = time.perf_counter()
    net = tiled_network(base, args.nodes)
    t_tile = time.perf_counter() - t0
    pts = _facility_points(net, n_fac, seed=5)  # also the run's rows' facility points
    fsnap = snap_points(net, *pts, max_snap_m=300)
    n_fac = len(fsnap)
    print(f"\n== facilities: per-facility bounded searches, tiled {base_path.name} "
          f"({net.n_nodes:,} nodes, {net.n_edges:,} edges, built in {t_tile:.1f} s); "
          f"{n_fac:,} facilities, {args.minutes:g} min at {args.speed_kmh:g} km/h "
          f"({limit:.0f} m) ==")
    search = BoundedSearch.from_csr(net.search_csr)

    def ours() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = []
        for lo in range(0, n_fac, FACILITY_BATCH):
            sub = fsnap.subset(np.arange(lo, min(lo + FACILITY_BATCH, n_fac)))
            parts.append(search.run_many(*_seeds(net, sub), limit))
        return parts[0] if len(parts) == 1 else _concat(parts)

    search.run_many(*_seeds(net, fsnap.subset(np.arange(2))), limit)  # compile / cache load
    t_ours, _, (ptr, reached, dist) = measure(ours, repeat=args.repeat)
    ms_ours = 1000 * t_ours / n_fac
    per_fac = np.diff(ptr)
    ids = [f"f{i}" for i in range(n_fac)]
    kw = dict(category="all", speed_kmh=args.speed_kmh, bands_min=(args.minutes,),
              walk_in_m=WALK_IN_M, search=search)
    facility_isochrones(net, fsnap.subset(np.arange(2)), ids[:2], **kw)  # compile
    # whole isochrones (search + polygons), best of --repeat, wall and CPU (shared machine):
    # at the function's default cell (5 m), the coarsest allowed, and the cell a run takes
    # for this network (auto_cell_m: what `lifecircle run --facility-isochrones` draws at)
    auto = auto_cell_m(net, WALK_IN_M)
    iso_ms: dict[Any, tuple[float, float]] = {
        cell: _best_ms(lambda c=cell: facility_isochrones(net, fsnap, ids, cell_m=c, **kw),
                       args.repeat, n_fac)
        for cell in dict.fromkeys((None, WALK_IN_M / 4, auto))}
    # the run's own per-facility rows: its bands (5 / 10 / 15 min rings) at its cell, with
    # the off-network legs from the facility points
    run_kw = {**kw, "bands_min": DEFAULT_BANDS_MIN}
    iso_ms[("run", auto)] = _best_ms(lambda: facility_isochrones(
        net, fsnap, ids, cell_m=auto, points_xy=pts, **run_kw), args.repeat, n_fac)

    sample = np.linspace(0, n_fac - 1, min(k, n_fac)).astype(np.int64)
    s_ptr, s_node, s_dist = _seeds(net, fsnap.subset(sample))
    use_nx = not getattr(args, "no_networkx", False)  # its graph: ~1 KB a node
    graph: Any = None
    t_build = m_build = ms_nx = worst = float("nan")
    if use_nx:
        t_build, m_build, graph = measure(lambda: _nx_graph(net))
        t0 = time.perf_counter()
        nx_out = [_virtual_source_search(graph, s_node[s_ptr[i]:s_ptr[i + 1]],
                                         s_dist[s_ptr[i]:s_ptr[i + 1]], limit)
                  for i in range(len(sample))]
        ms_nx = 1000 * (time.perf_counter() - t0) / len(sample)
        worst = max(_same_reach((reached[ptr[f]:ptr[f + 1]], dist[ptr[f]:ptr[f + 1]]), theirs)
                    for f, theirs in zip(sample, nx_out, strict=True))
    # scipy and pandana start from the facility's nearer edge end (a plain node)
    e = fsnap.edge[sample]
    near = np.where(fsnap.along_m[sample] <= net.edge_length_m[e] / 2, net.edge_u[e],
                    net.edge_v[e]).astype(np.int64)
    dijkstra(net.csr, directed=True, indices=int(near[0]), limit=limit)  # warm up
    t0 = time.perf_counter()
    for s in near:
        np.flatnonzero(np.isfinite(dijkstra(net.csr, directed=True, indices=int(s),
                                            limit=limit)))
    ms_sp = 1000 * (time.perf_counter() - t0) / len(sample)

    widths = (44, 10, 10, 14, 30)
    row("engine (per facility)", "ms", "searches", "ratio", "target", widths=widths)
    row("lifecircle BoundedSearch (seed_arcs+run_many)", f"{ms_ours:.3f}", n_fac, "",
        f"<= {FACILITY_TARGET_MS} ms: " + ("PASS" if ms_ours <= FACILITY_TARGET_MS else "FAIL"),
        widths=widths)
    if use_nx:
        row("networkx single_source_dijkstra (cutoff)", f"{ms_nx:.3f}", len(sample),
            f"nx/ours {ms_nx / ms_ours:.0f}", "", widths=widths)
    else:
        row("networkx", "skipped (--no-networkx)", widths=widths)
    row("scipy dijkstra(indices=1, limit=)", f"{ms_sp:.3f}", len(sample),
        f"scipy/ours {ms_sp / ms_ours:.0f}", "", widths=widths)
    pan = _pandana_rows(args, net, near, limit, ms_ours, search, widths)
    if use_nx:
        row("  (networkx graph build, s / MiB)", f"{t_build:.1f}", f"{m_build:.0f}", "", "",
            widths=widths)
    print(f"  reached nodes per facility: median {np.median(per_fac):.0f}, max "
          f"{per_fac.max()}" + (f"; ours vs networkx on {len(sample)} facilities: "
                                + ("same node sets, max |d| diff "
                                   f"{worst:.2e} m" if np.isfinite(worst) else
                                   "NODE SETS DIFFER")
                                + (" (PASS <= 1e-6)" if worst <= 1e-6 else " (FAIL)")
                                if use_nx else ""))
    _whole_isochrone_rows(net, graph, pan, iso_ms, n_fac, s_ptr, s_node, s_dist, near, limit,
                          search)
    import resource

    print(f"  peak RSS of this process so far: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


def _best_ms(fn: Any, repeat: int, n: int) -> tuple[float, float]:
    """Best wall and CPU milliseconds per item of ``repeat`` calls of ``fn`` (``n`` items).

    CPU time (``time.process_time``) is what the process itself spent: on a shared machine
    wall time also counts the waits for a core."""
    wall = cpu = float("inf")
    for _ in range(max(repeat, 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return 1000 * wall / n, 1000 * cpu / n


def _buffer_union(points: np.ndarray, lines: np.ndarray, walk_in_m: float) -> Any:
    """Reached nodes and edges buffered by the walk-in width and unioned (the recipe)."""
    import shapely

    return shapely.union_all(np.concatenate([shapely.buffer(points, walk_in_m),
                                             shapely.buffer(lines, walk_in_m)]))


def _nx_isochrone(graph: Any, nodes: np.ndarray, dist: np.ndarray, limit: float,
                  xy: np.ndarray, line_of: np.ndarray) -> Any:
    """The osmnx way: ``ego_graph`` by length from the facility (a virtual start joined to
    its edge ends), every node and edge of it buffered, ``union_all``."""
    import networkx as nx
    import shapely

    with _virtual_start(graph, nodes, dist):
        sub = nx.ego_graph(graph, -1, radius=limit, distance="length")
    sub.remove_node(-1)
    pts = shapely.points(xy[np.fromiter(sub.nodes, dtype=np.int64)])
    eids = np.fromiter((d["eid"] for _, _, d in sub.edges(data=True)), dtype=np.int64)
    return _buffer_union(pts, line_of[eids], WALK_IN_M)


def _pandana_isochrone(pan: Any, node: int, limit: float, xy: np.ndarray,
                       line_of: np.ndarray, node_edges: tuple[np.ndarray, np.ndarray],
                       ext: np.ndarray) -> Any:
    """pandana ``nodes_in_range`` (C++ call) from the nearer edge end, then the edges
    between reached nodes and the nodes buffered and unioned (the same recipe)."""
    import shapely

    reached = np.array([a for a, _ in pan.net.nodes_in_range(np.array([node]), limit, 0,
                                                             ext)[0]], dtype=np.int64)
    ptr, edge = node_edges
    inc = np.concatenate([edge[ptr[v]:ptr[v + 1]] for v in reached]) if reached.size else \
        np.zeros(0, np.int64)
    return _buffer_union(shapely.points(xy[reached]), line_of[np.unique(inc)], WALK_IN_M)


def _whole_isochrone_rows(net: Any, graph: Any, pan: Any,
                          iso_ms: dict[Any, tuple[float, float]], n_fac: int,
                          s_ptr: np.ndarray, s_node: np.ndarray, s_dist: np.ndarray,
                          near: np.ndarray, limit: float, search: Any) -> None:
    """Whole per-facility isochrones (search + polygon): ours, networkx, pandana."""
    import shapely

    from lifecircle.isochrones.search import _node_edges

    xy = np.column_stack([net.x, net.y])
    # the recipes' edge geometry (osmnx keeps it on the graph), built untimed for the edges
    # the sample can reach: those at the nodes within the limit of a seed
    ptr, edge, _ = _node_edges(net)
    reach = np.unique(np.concatenate([search.run(np.array([v]), np.array([0.0]), limit)[0]
                                      for v in np.unique(s_node)]))
    near_e = np.unique(np.concatenate([edge[ptr[v]:ptr[v + 1]] for v in reach]))
    line_of = np.empty(net.n_edges, dtype=object)
    first = net.edge_ptr[near_e]
    n_pts = net.edge_ptr[near_e + 1] - first
    idx = np.repeat(first, n_pts) + (np.arange(int(n_pts.sum()))
                                     - np.repeat(np.cumsum(n_pts) - n_pts, n_pts))
    line_of[near_e] = shapely.linestrings(net.edge_coords[idx],
                                          indices=np.repeat(np.arange(near_e.shape[0]), n_pts))
    widths = (44, 10, 10, 10, 16, 24)
    print(f"\n  whole per-facility isochrone ({limit:.0f} m, walk-in {WALK_IN_M:g} m): search "
          "+ polygon, ms per facility, ours best of --repeat, the baselines one run each "
          "(slow); CPU time is the process's own (the machine is shared), the target is "
          "judged on it")
    _row("isochrone engine", "ms wall", "ms CPU", "isochrones", "ratio (CPU)", "target",
        widths=widths)
    ours_cpu = iso_ms[None][1]
    for cell, (wall, cpu) in iso_ms.items():
        if isinstance(cell, tuple):
            label = f"  a run's rows ({cell[1]:g} m, 5/10/15 rings, legs)"
        else:
            label = ("lifecircle facility_isochrones (5 m cells)" if cell is None else
                     f"  the same, {cell:g} m cells")
        _row(label, f"{wall:.3f}", f"{cpu:.3f}", n_fac, "",
            f"<= {FACILITY_TARGET_MS} ms: " + ("PASS" if cpu <= FACILITY_TARGET_MS else "FAIL"),
            widths=widths)
    if graph is None:
        _row("networkx ego_graph + buffer union (osmnx)", "skipped (--no-networkx)",
             widths=widths)
    else:
        _nx_rows(graph, s_ptr, s_node, s_dist, limit, xy, line_of, ours_cpu, widths)
    if pan is None:
        _row("pandana nodes_in_range + buffer union", "skipped", "", "", "", "(see above)",
             widths=widths)
        return
    ext = pan.node_idx.index.to_numpy(dtype=np.int64)
    pan_wall, pan_cpu = _best_ms(lambda: [_pandana_isochrone(
        pan, int(v), limit, xy, line_of, (ptr, edge), ext) for v in near], 1, len(near))
    _row("pandana nodes_in_range + buffer union", f"{pan_wall:.3f}", f"{pan_cpu:.3f}",
         len(near), f"pandana/ours {pan_cpu / ours_cpu:.0f}", "", widths=widths)


def _nx_rows(graph: Any, s_ptr: np.ndarray, s_node: np.ndarray, s_dist: np.ndarray,
             limit: float, xy: np.ndarray, line_of: np.ndarray, ours_cpu: float,
             widths: tuple[int, ...]) -> None:
    """The networkx row of the whole-isochrone table."""
    k = s_ptr.shape[0] - 1
    nx_wall, nx_cpu = _best_ms(lambda: [_nx_isochrone(
        graph, s_node[s_ptr[i]:s_ptr[i + 1]], s_dist[s_ptr[i]:s_ptr[i + 1]], limit, xy, line_of)
        for i in range(k)], 1, k)
    _row("networkx ego_graph + buffer union (osmnx)", f"{nx_wall:.3f}", f"{nx_cpu:.3f}", k,
         f"nx/ours {nx_cpu / ours_cpu:.0f}", "", widths=widths)


def _concat(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched ``run_many`` results joined into one (ptr, nodes, dist)."""
    offsets = np.cumsum([0] + [p[0][-1] for p in parts[:-1]])
    ptr = np.concatenate([[0]] + [p[0][1:] + o for p, o in zip(parts, offsets, strict=True)])
    return (ptr, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))


@contextmanager
def _quiet_fd1() -> Iterator[None]:
    """Silence file descriptor 1 (C++ extensions write there, past ``sys.stdout``)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _pandana_rows(args: argparse.Namespace, net: Any, near: np.ndarray, limit: float,
                  ms_ours: float, search: Any, widths: tuple[int, ...]) -> Any:
    """pandana ``nodes_in_range`` from the sample's nearer edge ends (skipped if absent);
    returns the ``pandana.Network`` (``None`` when skipped)."""
    try:
        import pandana
        import pandas as pd
    except ImportError:
        _row("pandana", "not installed (skipped)", widths=widths)
        return None
    if getattr(args, "no_pandana", False):
        _row("pandana", "skipped (--no-pandana)", widths=widths)
        return None
    if net.n_nodes > 200_000 and not getattr(args, "pandana_big", False):
        # measured: 1,188 s and 3.0 GB peak RSS at 1,023,729 nodes on the 2-core machine
        _row("pandana", "skipped", "", "", "(--pandana-big: ~20 min CH build at 1M)",
             widths=widths)
        return None
    try:
        t0 = time.perf_counter()
        with _quiet_fd1():  # pandana prints its progress from C++
            p = pandana.Network(pd.Series(net.x), pd.Series(net.y), pd.Series(net.edge_u),
                                pd.Series(net.edge_v),
                                pd.DataFrame({"length": net.edge_length_m}), twoway=True)
        t_ch = time.perf_counter() - t0
        ext = p.node_idx.index.to_numpy(dtype=np.int64)
        ids = near.astype(np.int64)
        p.net.nodes_in_range(ids[:1], limit, 0, ext)  # warm up
        t0 = time.perf_counter()
        raw = p.net.nodes_in_range(ids, limit, 0, ext)
        ms_raw = 1000 * (time.perf_counter() - t0) / len(ids)
        t0 = time.perf_counter()
        p.nodes_in_range(ids, limit)
        ms_pub = 1000 * (time.perf_counter() - t0) / len(ids)
    except Exception as exc:  # pandana's C++ extension fails on some platforms
        _row("pandana", f"error: {type(exc).__name__}: {exc}", widths=widths)
        return None
    # pandana's reach from the same node, against ours from that node
    diff = 0.0
    for s, r in zip(ids, raw, strict=True):
        nodes, d = search.run(np.array([s]), np.array([0.0]), limit)
        theirs = {int(a): float(b) for a, b in r if b <= limit}
        diff = max(diff, _same_reach((nodes, d), theirs))
    _row("pandana nodes_in_range (C++ call)", f"{ms_raw:.3f}", len(ids),
        f"pandana/ours {ms_raw / ms_ours:.0f}", "", widths=widths)
    _row("pandana nodes_in_range (public, DataFrame)", f"{ms_pub:.3f}", len(ids),
        f"pandana/ours {ms_pub / ms_ours:.0f}", "", widths=widths)
    _row("  (pandana contraction build, s)", f"{t_ch:.1f}", "", "",
        "same reach as ours: " + ("yes" if np.isfinite(diff) else "NO")
        + (f", max |d| diff {diff:.1e} m" if np.isfinite(diff) else ""), widths=widths)
    return p


def _package_from(root: Path) -> Any:
    """The ``lifecircle.isochrones`` package of another checkout (``git archive`` of a base
    branch unpacked at ``root``), imported beside this one as ``lifecircle.iso_base``; its
    relative imports reach this checkout's modules outside the package."""
    import importlib.util

    init = root / "lifecircle" / "isochrones" / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "lifecircle.iso_base", init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"no isochrones package at {init}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lifecircle.iso_base"] = mod
    spec.loader.exec_module(mod)
    return mod


def section_city_rings(args: argparse.Namespace) -> None:
    """A city's streamed ring rows (``iter_isochrones``, the run's options, frames taken and
    dropped): CPU, WKB bytes and vertices of this checkout, and of ``--base`` (another
    checkout's isochrones package) interleaved round by round in the same process, with a
    hash of the WKB bytes (the same polygons print the same); the first round warms numba and
    is not counted."""
    import gc
    import hashlib

    import shapely

    import lifecircle.isochrones as ours
    from lifecircle.config import Analysis
    from lifecircle.pipeline import analyse

    variants = [("this", ours)]
    if args.base:
        variants.insert(0, ("base", _package_from(Path(args.base))))
    res = analyse(Analysis(osm=Path(args.city)), keep_osm=False)
    iso_args = res._isochrone_args(bands_min=None, walk_in_m=None, per_facility=False,
                                   enabled=True, cell_m=None)
    cpu: dict[str, list[float]] = {name: [] for name, _ in variants}
    for r in range(args.rounds + 1):
        for name, mod in variants if r % 2 == 0 else variants[::-1]:
            gc.collect()
            spent = 0.0
            n_bytes = n_vertices = 0
            digest = hashlib.sha256()
            frames = mod.iter_isochrones(**iso_args)
            while True:
                t0 = time.process_time()
                frame = next(frames, None)
                spent += time.process_time() - t0
                if frame is None:
                    break
                for data in frame["geometry"]:
                    raw = data.tobytes() if isinstance(data, np.ndarray) else data
                    n_bytes += len(raw)
                    digest.update(raw)
                    n_vertices += int(shapely.get_num_coordinates(shapely.from_wkb(raw)))
            if r:
                cpu[name].append(spent)
            print(f"round {r} {name}: {spent:.2f} s CPU, {n_bytes / 1e6:.1f} MB of WKB, "
                  f"{n_vertices:,} vertices, sha256 {digest.hexdigest()[:16]}", flush=True)
    for name, times in cpu.items():
        print(f"{name}: CPU {min(times):.2f}-{max(times):.2f} s over {len(times)} rounds")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--speed-kmh", type=float, default=4.8)
    parser.add_argument("--iso-vector-sample", type=int, default=50)
    parser.add_argument("--city", help="an OSM file: time its streamed ring rows instead "
                        "(section_city_rings)")
    parser.add_argument("--base", help="with --city: another checkout to compare with (e.g. "
                        "`git archive main | tar -x -C DIR`)")
    parser.add_argument("--rounds", type=int, default=2)
    parsed = parser.parse_args()
    if parsed.city:
        section_city_rings(parsed)
    else:
        section_isochrones(parsed)
