"""Micro benchmark: many small bounded searches on a million-node lattice.

Times ``BoundedSearch.run_many`` (1,000 searches of 1200 m) against
``scipy.sparse.csgraph.dijkstra`` with ``limit=`` run once per source (a smaller sample,
reported per search) and, when it is installed and works, pandana's ``nodes_in_range``.

pandana builds a contraction hierarchy when the network is created, and on a lattice (the worst
case for contraction) that takes minutes already at 90,000 nodes, so it runs on a smaller
lattice (``--pandana-side``) next to BoundedSearch on that same lattice. Both searches cost
what they reach, so per-search times carry over to larger graphs of the same density.

Run from the repository root::

    python scripts/bench_kernels.py                 # 1000 x 1000 lattice, pandana on 200 x 200
    python scripts/bench_kernels.py --side 300 --pandana-side 0   # no pandana
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lifecircle._kernels import BoundedSearch


def lattice(side: int, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """A ``side`` x ``side`` grid, 100 m spacing, edge lengths jittered to 80–120 m.

    Returns
    -------
    csr, x, y
        The symmetric adjacency (int32 indices, float64 metres) and node coordinates.
    """
    rng = np.random.default_rng(seed)
    node = np.arange(side * side, dtype=np.int64).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    w = rng.uniform(80.0, 120.0, u.shape[0])
    n = side * side
    csr = sp.csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))),
        shape=(n, n),
    )
    csr.sort_indices()
    csr.indptr = csr.indptr.astype(np.int32)
    csr.indices = csr.indices.astype(np.int32)
    yy, xx = np.divmod(np.arange(n), side)
    return csr, xx * 100.0, yy * 100.0


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` calls, in seconds."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="lattice side (nodes)")
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--scipy-searches", type=int, default=50)
    parser.add_argument("--radius", type=float, default=1200.0, help="metres")
    parser.add_argument("--pandana-side", type=int, default=200,
                        help="lattice side for the pandana comparison; 0 skips pandana")
    args = parser.parse_args()

    t0 = time.perf_counter()
    csr, x, y = lattice(args.side)
    n = csr.shape[0]
    print(f"lattice {args.side}x{args.side}: {n:,} nodes, {csr.nnz:,} arcs "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    rng = np.random.default_rng(1)
    sources = rng.choice(n, args.searches, replace=False).astype(np.int64)
    radius = args.radius

    # -- BoundedSearch ------------------------------------------------------------------
    t0 = time.perf_counter()
    search = BoundedSearch.from_csr(csr)
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    search.run(sources[:1], np.zeros(1), radius)
    t_first = time.perf_counter() - t0
    seed_ptr = np.arange(args.searches + 1, dtype=np.int64)
    zeros = np.zeros(args.searches)
    t_many = timed(lambda: search.run_many(seed_ptr, sources, zeros, radius), repeat=3)
    ptr, _, _ = search.run_many(seed_ptr, sources, zeros, radius)
    t_loop = timed(lambda: [search.run(sources[i:i + 1], zeros[:1], radius)
                            for i in range(args.searches)], repeat=3)
    reached = np.diff(ptr)
    ms_many = 1000 * t_many / args.searches
    print(f"nodes reached per search: mean {reached.mean():.0f}, "
          f"min {reached.min()}, max {reached.max()}")
    print(f"BoundedSearch: init {1000 * t_init:.0f} ms, first call (numba compile or cache "
          f"load, incl. numba import) {t_first:.2f} s")
    print(f"  run_many  {args.searches} searches: {1000 * t_many:.1f} ms total, "
          f"{ms_many:.4f} ms/search")
    print(f"  run loop  {args.searches} searches: {1000 * t_loop:.1f} ms total, "
          f"{1000 * t_loop / args.searches:.4f} ms/search")

    # -- scipy --------------------------------------------------------------------------
    from scipy.sparse.csgraph import dijkstra

    k = min(args.scipy_searches, args.searches)
    # check exactness on the sample while timing it
    dijkstra(csr, directed=True, indices=int(sources[-1]), limit=radius)  # warm up
    t0 = time.perf_counter()
    rows = [dijkstra(csr, directed=True, indices=int(s), limit=radius) for s in sources[:k]]
    t_scipy = (time.perf_counter() - t0) / k
    for i, row in enumerate(rows):
        want = np.flatnonzero(np.isfinite(row))
        got_nodes = search.run(sources[i:i + 1], zeros[:1], radius)
        assert np.array_equal(got_nodes[0], want), "reached sets differ from scipy"
        assert np.allclose(got_nodes[1], row[want], rtol=1e-12, atol=0)
    print(f"scipy dijkstra(limit=) per source, {k} sources: {1000 * t_scipy:.2f} ms/search "
          f"-> BoundedSearch.run_many is {1000 * t_scipy / ms_many:.0f}x faster "
          "(results identical)")

    # -- pandana (optional) ---------------------------------------------------------------
    if args.pandana_side <= 0:
        return
    try:
        import pandana
        import pandas as pd
    except ImportError as exc:
        print(f"pandana: skipped ({exc})")
        return
    csr, x, y = lattice(args.pandana_side)
    n = csr.shape[0]
    sources = rng.choice(n, min(args.searches, n), replace=False).astype(np.int64)
    small = BoundedSearch.from_csr(csr)
    seed_ptr = np.arange(sources.shape[0] + 1, dtype=np.int64)
    zeros = np.zeros(sources.shape[0])
    t_small = timed(lambda: small.run_many(seed_ptr, sources, zeros, radius), repeat=3)
    ms_small = 1000 * t_small / sources.shape[0]
    print(f"lattice {args.pandana_side}x{args.pandana_side} ({n:,} nodes) for pandana: "
          f"BoundedSearch.run_many {ms_small:.4f} ms/search")
    try:
        coo = sp.triu(csr, k=1).tocoo()
        t0 = time.perf_counter()
        net = pandana.Network(
            pd.Series(x, index=np.arange(n)), pd.Series(y, index=np.arange(n)),
            pd.Series(coo.row.astype(np.int64)), pd.Series(coo.col.astype(np.int64)),
            pd.DataFrame({"length": coo.data}), twoway=True,
        )
        t_build = time.perf_counter() - t0
        net.nodes_in_range(sources[:2].tolist(), radius)  # warm up
        t0 = time.perf_counter()
        res = net.nodes_in_range(sources.tolist(), radius)
        t_pdna = (time.perf_counter() - t0) / sources.shape[0]
    except Exception as exc:  # pandana's C++ extension can fail in many ways; just report
        print(f"pandana: skipped ({type(exc).__name__}: {exc})")
        return
    ptr, _, _ = small.run_many(seed_ptr, sources, zeros, radius)
    print(f"pandana: network build (contraction hierarchy) {t_build:.1f} s; nodes_in_range "
          f"{sources.shape[0]} sources: {1000 * t_pdna:.3f} ms/search ({len(res):,} rows; "
          f"BoundedSearch: {ptr[-1]:,}) -> BoundedSearch.run_many is "
          f"{1000 * t_pdna / ms_small:.1f}x faster")


if __name__ == "__main__":
    main()
