"""Times equal an independent networkx computation: random graphs and real cities.

The real-city checks read only the output contract (the ``edges`` layer and the snap fields
of ``facilities`` and ``access_points``), exactly as an outside checker would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import dijkstra

from lifecircle.network import WalkNetwork
from lifecircle.routing import multi_source, point_distances
from lifecircle.snapping import snap_points
from tests.conftest import shared_osm
from tests.helpers import oracle_distances, rederive_from_gpkg


def random_network(seed: int, n: int = 120) -> WalkNetwork:
    """Random planar-ish graph: near neighbours joined, two islands, zero-length edges."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, size=(n, 2))
    # island: a cluster far away
    xy[-8:] += 10_000
    us, vs = [], []
    for i in range(n):
        d = np.hypot(*(xy - xy[i]).T)
        for j in np.argsort(d)[1:4]:
            if i < j or rng.random() < 0.3:
                us.append(i)
                vs.append(int(j))
    # zero-length edges: duplicate node positions joined
    dup = rng.choice(n - 8, size=3, replace=False)
    x = np.concatenate([xy[:, 0], xy[dup, 0]]) + 500_000
    y = np.concatenate([xy[:, 1], xy[dup, 1]]) + 3_500_000
    for k, i in enumerate(dup):
        us.append(int(i))
        vs.append(n + k)
    # a parallel edge that is longer than the straight one (a detour)
    us.append(0)
    vs.append(int(np.argsort(np.hypot(*(xy - xy[0]).T))[1]))
    lengths = np.hypot(x[us] - x[vs], y[us] - y[vs])
    lengths[-1] *= 1.7
    return WalkNetwork.from_arrays(
        crs="EPSG:32650", node_id=np.arange(len(x)) + 1000, x=x, y=y,
        edge_u=np.array(us), edge_v=np.array(vs), edge_length_m=lengths,
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_graph_point_times_match_networkx(seed):
    net = random_network(seed)
    rng = np.random.default_rng(100 + seed)
    lo, _hi = net.x.min(), net.x.max()
    n_f, n_p = 7, 60
    fx = rng.uniform(lo, lo + 2000, n_f)
    fy = rng.uniform(net.y.min(), net.y.min() + 2000, n_f)
    px = np.concatenate([rng.uniform(lo, lo + 2000, n_p - 5), net.x[-5:]])
    py = np.concatenate([rng.uniform(net.y.min(), net.y.min() + 2000, n_p - 5), net.y[-5:]])
    fsnap = snap_points(net, fx, fy, max_snap_m=250)
    psnap = snap_points(net, px, py, max_snap_m=250)
    limit = 1e9 if seed % 2 == 0 else 900.0
    nodes = multi_source(net, fsnap, limit_m=limit)
    got, which = point_distances(net, nodes, fsnap, psnap)

    edges = net.edges_gdf()
    want = oracle_distances(edges, fsnap.fields(net), psnap.fields(net))
    want = np.where(want <= limit, want, np.inf)
    assert np.isfinite(want).sum() > 10
    assert np.isinf(want).sum() >= 1  # island / far points exist
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # the nearest facility named is one whose oracle distance is the minimum
    for i in np.flatnonzero(np.isfinite(got))[:10]:
        one = oracle_distances(edges, fsnap.fields(net).iloc[[which[i]]],
                               psnap.fields(net).iloc[[i]])
        assert one[0] == pytest.approx(got[i], abs=1e-6)


def test_node_distances_match_scipy_per_source():
    """Multi-source node distances = min over single-source searches (no virtual nodes)."""
    net = random_network(42)
    rng = np.random.default_rng(7)
    fsnap = snap_points(net, rng.uniform(net.x.min(), net.x.min() + 2000, 5),
                        rng.uniform(net.y.min(), net.y.min() + 2000, 5), max_snap_m=400)
    nodes = multi_source(net, fsnap, limit_m=1e12)
    full = dijkstra(net.csr, directed=False)
    best = np.full(net.n_nodes, np.inf)
    for f in np.flatnonzero(fsnap.ok):
        e = fsnap.edge[f]
        u, v = net.edge_u[e], net.edge_v[e]
        a, s, length = fsnap.along_m[f], fsnap.dist_m[f], net.edge_length_m[e]
        best = np.minimum(best, np.minimum(full[u] + a + s, full[v] + length - a + s))
    np.testing.assert_allclose(nodes.dist_m, best, atol=1e-6)


@pytest.mark.parametrize("category", ["health", "retail", "fitness"])
def test_nanjing_times_rederived_from_outputs(nanjing_run, category):
    gpkg = nanjing_run.out / "lifecircle.gpkg"
    reported, oracle = rederive_from_gpkg(gpkg, category)
    horizon = nanjing_run.access[category].horizon_m
    oracle = np.where(oracle <= horizon, oracle, np.inf)
    assert np.isfinite(reported).sum() >= 20
    np.testing.assert_allclose(np.nan_to_num(reported, nan=np.inf), oracle, rtol=0, atol=0.01)


def test_monaco_times_rederived_from_outputs(tmp_path):
    from lifecircle.pipeline import run

    res = run(shared_osm("monaco.osm.pbf"), out=tmp_path / "out", categories=["health",
                                                                               "retail"])
    for category in ("health", "retail"):
        reported, oracle = rederive_from_gpkg(res.out / "lifecircle.gpkg", category)
        horizon = res.access[category].horizon_m
        oracle = np.where(oracle <= horizon, oracle, np.inf)
        assert np.isfinite(reported).sum() >= 50
        np.testing.assert_allclose(np.nan_to_num(reported, nan=np.inf), oracle, rtol=0,
                                   atol=0.01)


def test_block_time_is_min_over_access_points(nanjing_run):
    aps = nanjing_run.access_points
    blocks = nanjing_run.blocks.set_index("block_id")
    grouped = aps.groupby("block_id")["walk_min_retail"].min()
    pd.testing.assert_series_equal(
        blocks.loc[grouped.index, "walk_min_retail"], grouped, check_names=False)
