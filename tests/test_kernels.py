"""Tests of the per-source bounded search kernel (:mod:`lifecircle._kernels`).

Oracles: ``scipy.sparse.csgraph.dijkstra`` with ``limit=`` (offset seeds through one virtual
source node with an arc to each seed) and networkx ``multi_source_dijkstra``, on seeded random
geometric graphs with islands, isolated nodes, parallel edges and zero-length edges; hand-made
graphs for the boundary cases; hypothesis properties on tiny graphs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from lifecircle._kernels import BoundedSearch, _bounded_searches, compile_kernel
from lifecircle.network import WalkNetwork

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-9


# -- graph builders ---------------------------------------------------------------------------
def random_network(seed: int, n_main: int = 250) -> WalkNetwork:
    """A random geometric street graph: a main cluster, two far islands, isolated nodes.

    Each node joins its three nearest neighbours (so clusters stay apart); lengths are the
    straight distance times 1.0–1.4; about 15% of edges get a longer or shorter parallel twin
    and about 5% are zero-length.
    """
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(0, 2000, (n_main, 2))]
    for ox in (10_000.0, 20_000.0):  # islands
        parts.append(rng.uniform(0, 300, (int(rng.integers(5, 20)), 2)) + ox)
    xy = np.vstack(parts)
    _, nbr = cKDTree(xy).query(xy, k=4)
    u = np.repeat(np.arange(xy.shape[0]), 3)
    v = nbr[:, 1:].ravel()
    n_connected = xy.shape[0]
    isolated = rng.uniform(5000, 6000, (3, 2))  # nodes with no edge at all
    xy = np.vstack([xy, isolated])
    length = np.hypot(*(xy[u] - xy[v]).T) * rng.uniform(1.0, 1.4, u.shape[0])
    length[rng.random(u.shape[0]) < 0.05] = 0.0
    twin = rng.random(u.shape[0]) < 0.15
    u = np.concatenate([u, u[twin]])
    v = np.concatenate([v, v[twin]])
    length = np.concatenate([length, length[twin] * rng.uniform(0.7, 1.5, twin.sum())])
    assert u.max() < n_connected
    return WalkNetwork.from_arrays(
        crs="EPSG:3067", node_id=np.arange(xy.shape[0]) + 1000, x=xy[:, 0], y=xy[:, 1],
        edge_u=u, edge_v=v, edge_length_m=length,
    )


def csr_from_edges(n: int, edges: list[tuple[int, int, float]]) -> sp.csr_matrix:
    """Symmetric CSR from undirected edges; parallel edges keep the shortest, zeros kept."""
    dense = np.full((n, n), np.inf)
    for a, b, w in edges:
        if a != b:
            dense[a, b] = dense[b, a] = min(dense[a, b], w)
    rows, cols = np.nonzero(np.isfinite(dense))
    csr = sp.csr_matrix((dense[rows, cols], (rows, cols)), shape=(n, n))
    assert csr.nnz == rows.shape[0]  # explicit zeros survived
    return csr


def scipy_reach(
    csr: sp.csr_matrix, seeds: np.ndarray, offsets: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Oracle: scipy Dijkstra from one virtual node with an arc of each offset to its seed."""
    n = csr.shape[0]
    seeds = np.asarray(seeds, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.float64)
    uniq, inverse = np.unique(seeds, return_inverse=True)
    best = np.full(uniq.shape[0], np.inf)
    np.minimum.at(best, inverse, offsets)
    indptr = np.concatenate([csr.indptr, [csr.indptr[-1] + uniq.shape[0]]]).astype(np.int64)
    indices = np.concatenate([csr.indices, uniq]).astype(np.int64)
    data = np.concatenate([csr.data, best])
    g = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    d = dijkstra(g, directed=True, indices=n, limit=limit)[:n]
    reached = np.flatnonzero(np.isfinite(d))
    return reached, d[reached]


def snapped_seeds(
    net: WalkNetwork, rng: np.random.Generator, n_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeds of ``n_points`` random points snapped onto random edges (both edge ends)."""
    e = rng.integers(0, net.n_edges, n_points)
    length = net.edge_length_m[e]
    along = rng.uniform(0, 1, n_points) * length
    snap = rng.uniform(0, 60, n_points)
    nodes = np.concatenate([net.edge_u[e], net.edge_v[e]])
    dist = np.concatenate([snap + along, snap + length - along])
    return nodes, dist


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=RTOL, atol=0)


def split(ptr: np.ndarray, nodes: np.ndarray, dist: np.ndarray, s: int
          ) -> tuple[np.ndarray, np.ndarray]:
    return nodes[ptr[s]:ptr[s + 1]], dist[ptr[s]:ptr[s + 1]]


# -- oracles on random graphs ----------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("limit", [0.0, 150.0, 600.0, np.inf])
def test_every_node_as_source_matches_scipy(seed: int, limit: float) -> None:
    net = random_network(seed)
    csr = net.csr
    n = net.n_nodes
    search = BoundedSearch.from_csr(csr)
    ptr, nodes, dist = search.run_many(
        np.arange(n + 1), np.arange(n), np.zeros(n), limit)
    # a true Dijkstra pops each reached node exactly once (a heap out of order would still
    # give the right distances, by re-pushing improved nodes, but pop more)
    assert search._last_pops == nodes.shape[0]
    want = dijkstra(csr, directed=True, indices=np.arange(n), limit=limit)
    for s in range(n):
        row = want[s]
        reached = np.flatnonzero(np.isfinite(row))
        assert_same(split(ptr, nodes, dist, s), (reached, row[reached]))


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_snapped_offset_seeds_match_scipy_virtual_source(seed: int) -> None:
    net = random_network(seed)
    csr = net.csr
    rng = np.random.default_rng(seed)
    search = BoundedSearch.from_csr(csr)
    seed_nodes, seed_dist, ptr = [], [], [0]
    for _ in range(60):
        nodes_s, dist_s = snapped_seeds(net, rng, int(rng.integers(1, 4)))
        seed_nodes.append(nodes_s)
        seed_dist.append(dist_s)
        ptr.append(ptr[-1] + nodes_s.shape[0])
    limit = 400.0
    out = search.run_many(np.array(ptr), np.concatenate(seed_nodes), np.concatenate(seed_dist),
                          limit)
    assert search._last_pops == out[1].shape[0]
    for s in range(60):
        want = scipy_reach(csr, seed_nodes[s], seed_dist[s], limit)
        assert_same(split(*out, s), want)
        assert_same(search.run(seed_nodes[s], seed_dist[s], limit), want)


@pytest.mark.parametrize("seed", [7, 8])
def test_matches_networkx_multi_source_dijkstra(seed: int) -> None:
    net = random_network(seed, n_main=120)
    search = BoundedSearch.from_csr(net.csr)
    graph = net.to_networkx()  # a MultiGraph: networkx itself picks among parallel edges
    rng = np.random.default_rng(seed)
    limit = 350.0
    for _ in range(5):
        # several seeds at offset 0: plain multi-source Dijkstra on the multigraph
        seeds = rng.choice(net.n_nodes, 3, replace=False)
        lengths, _ = nx.multi_source_dijkstra(
            graph, {int(net.node_id[s]) for s in seeds}, cutoff=limit, weight="length")
        index = {int(i): k for k, i in enumerate(net.node_id)}
        want_nodes = np.array(sorted(index[key] for key in lengths))
        want_dist = np.array([lengths[int(net.node_id[k])] for k in want_nodes])
        assert_same(search.run(seeds, np.zeros(3), limit), (want_nodes, want_dist))

    # offset seeds: a directed copy plus a virtual start with one-way arcs to the seeds
    digraph = nx.DiGraph()
    for a, b, d in graph.edges(data=True):
        for x, y in ((a, b), (b, a)):
            if not digraph.has_edge(x, y) or digraph[x][y]["length"] > d["length"]:
                digraph.add_edge(x, y, length=d["length"])
    digraph.add_nodes_from(graph.nodes)
    for _ in range(5):
        seed_nodes, seed_dist = snapped_seeds(net, rng, 2)
        g = digraph.copy()
        for s, off in zip(seed_nodes, seed_dist, strict=True):
            key = int(net.node_id[s])
            if not g.has_edge("start", key) or g["start"][key]["length"] > off:
                g.add_edge("start", key, length=float(off))
        lengths, _ = nx.multi_source_dijkstra(g, {"start"}, cutoff=limit, weight="length")
        del lengths["start"]
        index = {int(i): k for k, i in enumerate(net.node_id)}
        want_nodes = np.array(sorted(index[key] for key in lengths), dtype=np.int64)
        want_dist = np.array([lengths[int(net.node_id[k])] for k in want_nodes])
        assert_same(search.run(seed_nodes, seed_dist, limit), (want_nodes, want_dist))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_int32_and_int64_graphs_agree(dtype: type) -> None:
    net = random_network(9)
    csr = net.csr
    search = BoundedSearch(csr.indptr.astype(dtype), csr.indices.astype(dtype), csr.data,
                           net.n_nodes)
    rng = np.random.default_rng(9)
    seed_nodes, seed_dist = snapped_seeds(net, rng, 3)
    nodes, dist = search.run(seed_nodes.astype(dtype), seed_dist, 500.0)
    assert nodes.dtype == dtype
    assert dist.dtype == np.float64
    assert_same((nodes, dist), scipy_reach(csr, seed_nodes, seed_dist, 500.0))


def test_mixed_index_dtypes_are_accepted() -> None:
    csr = random_network(10).csr
    search = BoundedSearch(csr.indptr.astype(np.int64), csr.indices.astype(np.uint32),
                           csr.data.astype(np.float32), csr.shape[0])
    nodes, _ = search.run(np.array([0], dtype=np.int16), np.zeros(1), 300.0)
    assert nodes.dtype == np.int64  # uint32 indices are widened
    want = scipy_reach(sp.csr_matrix(csr.astype(np.float32), dtype=np.float64),
                       np.array([0]), np.zeros(1), 300.0)
    np.testing.assert_array_equal(nodes, want[0])


def test_islands_and_whole_components() -> None:
    net = random_network(11)
    csr = net.csr
    _, label = connected_components(csr, directed=False)
    search = BoundedSearch.from_csr(csr)
    for s in (0, net.n_nodes - 1, net.n_nodes - 10):  # main cluster, isolated node, island
        nodes, dist = search.run(np.array([s]), np.array([5.0]), np.inf)
        np.testing.assert_array_equal(nodes, np.flatnonzero(label == label[s]))
        assert dist.min() == 5.0
    nodes, dist = search.run(np.array([net.n_nodes - 1]), np.array([0.0]), 1e9)
    np.testing.assert_array_equal(nodes, [net.n_nodes - 1])
    np.testing.assert_array_equal(dist, [0.0])


# -- hand-made boundary cases ------------------------------------------------------------------
@pytest.fixture
def chain() -> BoundedSearch:
    """0 -0- 1 -0.5- 2 -0.25- 3 -0- 4    5 (isolated); dyadic lengths, exact sums."""
    csr = csr_from_edges(6, [(0, 1, 0.0), (1, 2, 0.5), (2, 3, 0.25), (3, 4, 0.0)])
    return BoundedSearch.from_csr(csr)


def test_node_exactly_at_limit_is_included(chain: BoundedSearch) -> None:
    nodes, dist = chain.run(np.array([0]), np.array([0.0]), 0.75)
    np.testing.assert_array_equal(nodes, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(dist, [0.0, 0.0, 0.5, 0.75, 0.75])
    nodes, _ = chain.run(np.array([0]), np.array([0.0]), np.nextafter(0.75, 0))
    np.testing.assert_array_equal(nodes, [0, 1, 2])
    nodes, dist = chain.run(np.array([2]), np.array([0.75]), 0.75)  # seed exactly at limit
    np.testing.assert_array_equal(nodes, [2])
    np.testing.assert_array_equal(dist, [0.75])


def test_zero_length_arcs_and_zero_limit(chain: BoundedSearch) -> None:
    nodes, dist = chain.run(np.array([1]), np.array([0.0]), 0.0)
    np.testing.assert_array_equal(nodes, [0, 1])
    np.testing.assert_array_equal(dist, [0.0, 0.0])


def test_seeds_beyond_limit_or_nan_are_ignored(chain: BoundedSearch) -> None:
    nodes, dist = chain.run(np.array([0, 3, 5]), np.array([0.0, 0.8, np.nan]), 0.6)
    np.testing.assert_array_equal(nodes, [0, 1, 2])
    np.testing.assert_array_equal(dist, [0.0, 0.0, 0.5])
    nodes, dist = chain.run(np.array([3]), np.array([0.61]), 0.6)
    assert nodes.size == 0 and dist.size == 0


def test_duplicate_seeds_take_the_minimum(chain: BoundedSearch) -> None:
    nodes, dist = chain.run(np.array([2, 2, 2]), np.array([0.5, 0.125, 0.25]), 10.0)
    np.testing.assert_array_equal(nodes, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(dist, [0.625, 0.625, 0.125, 0.375, 0.375])


def test_seeds_on_both_ends_of_an_edge(chain: BoundedSearch) -> None:
    # a point 0.1 off the network, 0.125 along edge 1-2 (length 0.5)
    nodes, dist = chain.run(np.array([1, 2]), np.array([0.1 + 0.125, 0.1 + 0.375]), 10.0)
    np.testing.assert_array_equal(nodes, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(dist, [0.225, 0.225, 0.475, 0.725, 0.725], rtol=RTOL)


def test_empty_sources(chain: BoundedSearch) -> None:
    nodes, dist = chain.run(np.array([], dtype=np.int64), np.array([]), 1.0)
    assert nodes.size == 0 and dist.size == 0
    ptr, nodes, dist = chain.run_many(np.array([0, 0, 1, 1]), np.array([5]), np.zeros(1), 1.0)
    np.testing.assert_array_equal(ptr, [0, 0, 1, 1])
    np.testing.assert_array_equal(nodes, [5])
    ptr, nodes, dist = chain.run_many(np.array([0]), np.array([], dtype=int), np.array([]), 1.0)
    np.testing.assert_array_equal(ptr, [0])
    assert nodes.size == 0


def test_negative_offsets_are_exact(chain: BoundedSearch) -> None:
    nodes, dist = chain.run(np.array([2]), np.array([-0.25]), 0.0)
    np.testing.assert_array_equal(nodes, [2, 3, 4])
    np.testing.assert_array_equal(dist, [-0.25, 0.0, 0.0])


def test_empty_graph() -> None:
    search = BoundedSearch(np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int32),
                           np.zeros(0), 0)
    ptr, nodes, _ = search.run_many(np.array([0, 0]), np.array([], dtype=int), np.array([]),
                                    1.0)
    np.testing.assert_array_equal(ptr, [0, 0])
    assert nodes.size == 0


def test_large_reach_grows_the_output_buffers() -> None:
    side = 60
    node = np.arange(side * side).reshape(side, side)
    edges = [(int(a), int(b), 1.0) for a, b in zip(node[:, :-1].ravel(), node[:, 1:].ravel(),
                                                     strict=True)]
    edges += [(int(a), int(b), 1.0) for a, b in zip(node[:-1].ravel(), node[1:].ravel(),
                                                      strict=True)]
    csr = csr_from_edges(side * side, edges)
    search = BoundedSearch.from_csr(csr)
    k = 7
    ptr, nodes, dist = search.run_many(np.arange(k + 1), np.arange(k) * 400, np.zeros(k),
                                       np.inf)
    np.testing.assert_array_equal(np.diff(ptr), side * side)
    for s in range(k):
        assert_same(split(ptr, nodes, dist, s), scipy_reach(csr, [s * 400], [0.0], np.inf))


# -- workspace ------------------------------------------------------------------------------
def test_workspace_is_reset_between_searches() -> None:
    net = random_network(12)
    rng = np.random.default_rng(12)
    a_nodes, a_dist = snapped_seeds(net, rng, 3)
    b_nodes, b_dist = snapped_seeds(net, rng, 2)
    used = BoundedSearch.from_csr(net.csr)
    used.run(a_nodes, a_dist, 800.0)
    used.run(a_nodes, a_dist, np.inf)
    fresh = BoundedSearch.from_csr(net.csr)
    for limit in (100.0, 800.0, np.inf):
        assert_same(used.run(b_nodes, b_dist, limit), fresh.run(b_nodes, b_dist, limit))
    assert np.all(np.isinf(used._dist))
    assert np.all(used._heap_pos == -1)


def test_workspace_recovers_after_an_interrupted_call(chain: BoundedSearch) -> None:
    want = chain.run(np.array([0]), np.array([0.0]), 1.0)
    chain._dist[:] = 0.0  # as if a call had died half-way
    chain._heap_pos[:] = 3
    chain._clean = False
    assert_same(chain.run(np.array([0]), np.array([0.0]), 1.0), want)


def test_pure_python_kernel_agrees_with_compiled() -> None:
    net = random_network(13, n_main=60)
    csr = net.csr
    n = net.n_nodes
    rng = np.random.default_rng(13)
    seed_nodes, seed_dist = snapped_seeds(net, rng, 8)
    seed_ptr = np.arange(0, 17, 2)
    compiled = BoundedSearch.from_csr(csr).run_many(seed_ptr, seed_nodes, seed_dist, 300.0)
    ws = (np.full(n, np.inf), np.full(n, -1, np.int32), np.empty(n), np.empty(n, np.int32),
          np.empty(n, np.int32))
    python = _bounded_searches(csr.indptr, csr.indices, csr.data, seed_ptr,
                               seed_nodes.astype(np.int64), seed_dist, 300.0, *ws, 4)
    for got, want in zip(python[:3], compiled, strict=True):
        np.testing.assert_array_equal(got, want)


# -- validation -----------------------------------------------------------------------------
def test_bad_graphs_are_refused() -> None:
    indptr = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        BoundedSearch(indptr, np.array([1, 0]), np.array([1.0, -1.0]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        BoundedSearch(indptr, np.array([1, 0]), np.array([1.0, np.nan]), 2)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 2\)"):
        BoundedSearch(indptr, np.array([1, 2]), np.array([1.0, 1.0]), 2)
    with pytest.raises(ValueError, match="n_nodes=3 needs 4"):
        BoundedSearch(indptr, np.array([1, 0]), np.array([1.0, 1.0]), 3)
    with pytest.raises(ValueError, match="indptr"):
        BoundedSearch(np.array([0, 2, 1]), np.array([1, 0]), np.array([1.0, 1.0]), 2)
    with pytest.raises(ValueError, match="weights"):
        BoundedSearch(indptr, np.array([1, 0]), np.array([1.0]), 2)
    with pytest.raises(ValueError, match="square"):
        BoundedSearch.from_csr(sp.csr_matrix((2, 3)))


def test_bad_seeds_are_refused(chain: BoundedSearch) -> None:
    with pytest.raises(ValueError, match=r"seed_nodes must lie in \[0, 6\)"):
        chain.run(np.array([6]), np.zeros(1), 1.0)
    with pytest.raises(ValueError, match="seed_nodes must lie"):
        chain.run(np.array([-1]), np.zeros(1), 1.0)
    with pytest.raises(ValueError, match="shape"):
        chain.run(np.array([0, 1]), np.zeros(1), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        chain.run(np.array([0]), np.zeros(1), np.nan)
    with pytest.raises(ValueError, match="seed_ptr must run"):
        chain.run_many(np.array([0, 3]), np.array([0, 1]), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="never decrease"):
        chain.run_many(np.array([0, 2, 1, 2]), np.array([0, 1]), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="integers"):
        chain.run(np.array([0.5]), np.zeros(1), 1.0)
    # the workspace is untouched by refused calls
    assert np.all(np.isinf(chain._dist))


def test_import_compiles_nothing() -> None:
    code = ("import sys, lifecircle._kernels as k; "
            "assert 'numba' not in sys.modules, 'numba imported at import time'; "
            "assert k._compiled.cache_info().currsize == 0")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# -- properties ----------------------------------------------------------------------------
WEIGHTS = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 2.0]),
                    st.floats(0.0, 5.0, allow_nan=False))


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, float]]]:
    n = draw(st.integers(1, 12))
    edge = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), WEIGHTS)
    return n, draw(st.lists(edge, max_size=3 * n))


@st.composite
def graph_and_seeds(draw: st.DrawFn) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    n, edges = draw(graphs())
    seeds = draw(st.lists(st.tuples(st.integers(0, n - 1), WEIGHTS), min_size=1, max_size=5))
    return (csr_from_edges(n, edges), np.array([s for s, _ in seeds]),
            np.array([d for _, d in seeds]))


LIMITS = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, np.inf]), st.floats(0.0, 12.0))
PROPS = settings(derandomize=True, max_examples=120, deadline=None)


@PROPS
@given(graph_and_seeds(), LIMITS)
def test_property_matches_scipy(case: tuple, limit: float) -> None:
    csr, seed_nodes, seed_dist = case
    search = BoundedSearch.from_csr(csr)
    got = search.run(seed_nodes, seed_dist, limit)
    assert_same(got, scipy_reach(csr, seed_nodes, seed_dist, limit))
    assert search._last_pops == got[0].shape[0]


@PROPS
@given(graph_and_seeds(), LIMITS, LIMITS)
def test_property_reach_is_monotone_in_limit(case: tuple, l1: float, l2: float) -> None:
    csr, seed_nodes, seed_dist = case
    small, large = sorted((l1, l2))
    search = BoundedSearch.from_csr(csr)
    n_small, d_small = search.run(seed_nodes, seed_dist, small)
    n_large, d_large = search.run(seed_nodes, seed_dist, large)
    assert set(n_small) <= set(n_large)
    np.testing.assert_array_equal(d_large[np.isin(n_large, n_small)], d_small)
    assert np.all(d_small <= small) and np.all(d_large <= large)
    assert np.all(d_large[~np.isin(n_large, n_small)] > small)


@PROPS
@given(graph_and_seeds(), LIMITS, st.randoms(use_true_random=False))
def test_property_seed_order_does_not_matter(case: tuple, limit: float, rnd) -> None:  # type: ignore[no-untyped-def]
    csr, seed_nodes, seed_dist = case
    order = list(range(seed_nodes.shape[0]))
    rnd.shuffle(order)
    search = BoundedSearch.from_csr(csr)
    a = search.run(seed_nodes, seed_dist, limit)
    b = search.run(seed_nodes[order], seed_dist[order], limit)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@PROPS
@given(graphs(), st.data(), LIMITS)
def test_property_run_many_equals_repeated_run(graph: tuple, data: st.DataObject,
                                               limit: float) -> None:
    n, edges = graph
    csr = csr_from_edges(n, edges)
    sizes = data.draw(st.lists(st.integers(0, 4), min_size=0, max_size=6))
    total = sum(sizes)
    seed_nodes = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=total,
                                             max_size=total)), dtype=np.int64)
    seed_dist = np.array(data.draw(st.lists(WEIGHTS, min_size=total, max_size=total)))
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    many = BoundedSearch.from_csr(csr).run_many(ptr, seed_nodes, seed_dist, limit)
    one = BoundedSearch.from_csr(csr)
    assert many[0].shape == (len(sizes) + 1,)
    for s in range(len(sizes)):
        got = split(*many, s)
        want = one.run(seed_nodes[ptr[s]:ptr[s + 1]], seed_dist[ptr[s]:ptr[s + 1]], limit)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert np.all(np.diff(got[0]) > 0)  # ascending, no repeats


def test_compile_kernel_makes_one_dispatcher_whichever_thread_asks():
    """Threads asking for a kernel at once share one dispatcher: each dispatcher loads its
    specializations from the disk cache again (the ``@cache`` factories do not lock)."""
    from concurrent.futures import ThreadPoolExecutor


    def double(a):
        return 2 * a

    barrier = threading.Barrier(4)

    def ask(_):
        barrier.wait()
        return compile_kernel(double)

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(ask, range(4)))
    assert all(d is got[0] for d in got) and compile_kernel(double) is got[0]
    assert got[0](21) == 42 and len(got[0].signatures) == 1
