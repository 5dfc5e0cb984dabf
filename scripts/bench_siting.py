"""Benchmark section ``siting``: coverage matrix and greedy solve for 10,000 candidates.

Registered in ``scripts/benchmark.py`` as ``bench_siting:section_siting``. First the exact
maximal-coverage model on the Nanjing elderly-care instance (p = 3, candidates every 200 m):
time (best of 3) and optimum of each solver (``scipy.optimize.milp``, highspy, pulp) beside
greedy. Then::

    python scripts/benchmark.py siting                       # shared extract + ~1M-node tiling
    python scripts/benchmark.py siting --nodes 200000        # a smaller tiling

On the largest shared extract (andorra or shanghai_center_roads, whichever has more nodes) and
on a tiled ~``--nodes`` graph (``benchmark.tiled_network``): 10,000 candidate points on random
edges, ``--points`` block access points (two per block), a ``--minutes`` walk at
``--speed-kmh``. Reported: the coverage matrix build (``siting.coverage_matrix``: one
``BoundedSearch`` per candidate plus exact point times), one
``scipy.sparse.csgraph.dijkstra(indices=i, limit=...)`` per candidate timed on a sample of
``--scipy-sample`` candidates and extrapolated to all (search only, from the candidate's edge
end, so a lower bound of what scipy would need), greedy solves for p = 10 and p = 100, and
peak memory (tracemalloc peak of the step; numba's own allocations are not traced, so the
process's max RSS is printed too).
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

import numpy as np
from benchmark import SHARED, measure, row, tiled_network

N_CANDIDATES = 10_000


def _instance(net: Any, n_points: int, seed: int) -> tuple[Any, Any, np.ndarray, int]:
    from lifecircle.snapping import Snap, snap_points

    rng = np.random.default_rng(seed)
    e = rng.integers(0, net.n_edges, N_CANDIDATES)
    cand = Snap(e, rng.uniform(0, 1, e.shape[0]) * net.edge_length_m[e],
                rng.uniform(0, 30, e.shape[0]), np.full(e.shape[0], "snapped", dtype=object))
    pts = rng.choice(net.n_nodes, size=min(net.n_nodes, n_points), replace=False)
    psnap = snap_points(net, net.x[pts] + 20.0, net.y[pts] + 20.0, max_snap_m=300)
    point_block = np.arange(len(psnap)) // 2
    return cand, psnap, point_block, int(point_block.max()) + 1


def _one_graph(label: str, net: Any, args: argparse.Namespace) -> None:
    from scipy.sparse.csgraph import dijkstra

    from lifecircle import siting

    limit = args.minutes * args.speed_kmh * 1000.0 / 60.0
    cand, psnap, point_block, n_blocks = _instance(net, args.points, seed=3)
    print(f"\n-- {label}: {net.n_nodes:,} nodes, {net.n_edges:,} edges; "
          f"{N_CANDIDATES:,} candidates, {len(psnap):,} access points in {n_blocks:,} blocks, "
          f"{limit:.0f} m --")
    row("step", "seconds", "peak MiB", "", "notes")
    # warm up numba (compile or cache load) on a few candidates, not timed
    siting.coverage_matrix(net, cand.subset(np.arange(N_CANDIDATES) < 5), psnap, point_block,
                           n_blocks, limit_m=limit)
    t_mat, m_mat, matrix = measure(
        lambda: siting.coverage_matrix(net, cand, psnap, point_block, n_blocks, limit_m=limit))
    per_row = matrix.cover.getnnz(axis=1)
    row("coverage matrix (ours)", f"{t_mat:.3f}", f"{m_mat:.1f}", "",
        f"{matrix.cover.nnz:,} entries, {per_row.mean():.1f} blocks/candidate")
    k = min(args.scipy_sample, N_CANDIDATES)
    src = net.edge_u[cand.edge[:k]].astype(np.int64)
    dijkstra(net.csr, directed=True, indices=int(src[0]), limit=limit)  # warm up
    t0 = time.perf_counter()
    for s in src:
        d = dijkstra(net.csr, directed=True, indices=int(s), limit=limit)
        np.flatnonzero(np.isfinite(d))
    t_scipy = (time.perf_counter() - t0) / k * N_CANDIDATES
    row("scipy dijkstra per candidate", f"{t_scipy:.3f}", "", "",
        f"extrapolated from {k}; search only; scipy / ours = {t_scipy / t_mat:.1f}")
    pop = np.random.default_rng(4).integers(20, 2000, n_blocks).astype(np.float64)
    for p in (10, 100):
        t_g, m_g, sol = measure(lambda p=p: siting.max_coverage(matrix, pop, p=p),
                                repeat=args.repeat)
        row(f"greedy p={p}", f"{t_g:.4f}", f"{m_g:.1f}", "",
            f"covers {sol.population_after / pop.sum():.1%} of population")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS so far: {rss:.0f} MiB")


def _exact_solvers() -> None:
    """The exact MCLP on Nanjing elderly care, p = 3: each solver's time and optimum."""
    from lifecircle import siting
    from lifecircle.pipeline import run

    path = SHARED / "nanjing_xinjiekou.osm.gz"
    if not path.exists():
        print(f"{path.name}: missing; exact solvers skipped")
        return
    result = run(path, categories=["elderly_care"])
    s = siting.site(result, "elderly_care", new=3, spacing_m=200.0)
    fixed = s.solution.fixed
    pop = result.blocks["population"].to_numpy(dtype=np.float64)
    print(f"\n-- exact MCLP, nanjing_xinjiekou elderly_care, p=3: {s.report['candidates']:,} "
          f"candidates, {len(fixed)} existing, {s.matrix.cover.nnz:,} matrix entries --")
    row("solver", "seconds", "objective", "status", "gap / sites")
    for solver in siting.SOLVERS:
        try:
            best = None
            for _ in range(3):
                sol = siting.max_coverage(s.matrix, pop, p=3, fixed=fixed, method="exact",
                                          solver=solver)
                best = sol if best is None or sol.seconds < best.seconds else best
        except Exception as exc:  # an optional solver missing
            print(f"{solver}: {exc}")
            continue
        assert best is not None
        row(f"exact ({solver})", f"{best.seconds:.3f}", f"{best.objective:,.1f}", best.status,
            f"{best.gap} / {sorted(best.new.tolist())}")
    g = siting.max_coverage(s.matrix, pop, p=3, fixed=fixed)
    row("greedy", f"{g.seconds:.4f}", f"{g.objective:,.1f}", g.status,
        f"- / {sorted(g.new.tolist())}")


def section_siting(args: argparse.Namespace) -> None:
    """Exact solvers on a real instance; coverage matrix build (ours vs scipy per candidate)
    and greedy solve times for 10,000 candidates."""
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm

    print("\n== siting: exact solvers (scipy.optimize.milp vs highspy vs pulp) ==")
    _exact_solvers()
    if getattr(args, "solvers_only", False):
        return
    print("\n== siting: coverage matrix and greedy for 10,000 candidates ==")
    best = None
    for name in ("andorra.osm.pbf", "shanghai_center_roads.osm.gz"):
        path = SHARED / name
        if not path.exists():
            print(f"{name}: missing")
            continue
        net = WalkNetwork.from_osm(read_osm(path))
        if best is None or net.n_nodes > best[1].n_nodes:
            best = (name, net)
    if best is None:
        print("no shared extract found; skipped")
        return
    if not hasattr(args, "scipy_sample"):
        args.scipy_sample = 200
    _one_graph(best[0], best[1], args)
    tiled = tiled_network(best[1], args.nodes)
    _one_graph(f"tiled {best[0]}", tiled, args)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--speed-kmh", type=float, default=4.8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scipy-sample", type=int, default=200)
    parser.add_argument("--solvers-only", action="store_true",
                        help="only the exact solvers on the Nanjing instance")
    section_siting(parser.parse_args())
