"""Travel-time rasters against a brute-force oracle (shapely distances + networkx Dijkstra).

Every cell's minutes are recomputed without the engine's snapping, routing or raster code:
the distance from the cell centre to every edge (shapely, one edge at a time), the snapping
rules spelled out (nearest edge outside fragments within ``max_snap_m``, else the nearest
edge; every eligible edge within 5 % of that leg), node distances from a networkx Dijkstra
from a virtual node joined to the ends of each facility's edges, and per candidate edge
``leg + min(d[u] + along, d[v] + length - along, direct along the edge from a facility on
it)``; NaN beyond the search horizon or ``max_snap_m``.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import rasterio
import shapely

from lifecircle.outputs.raster import raster_name
from lifecircle.pipeline import run
from lifecircle.snapping import FRAGMENT_MAX_NODES, TIE_REL, Snap
from tests.helpers import SPEED_KMH


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    from tests.helpers import make_grid_case

    case = make_grid_case(tmp_path_factory.mktemp("grid-raster-oracle"))
    return run(case.graphml, facilities=case.facilities, blocks=case.blocks,
               speed_kmh=SPEED_KMH, categories=["retail", "health"], out=case.folder / "out",
               map=False, figures=False)


def _node_distances(net, fsnap: Snap, limit_m: float) -> dict[int, float]:
    """networkx: metres from every node to the nearest facility (all its snaps)."""
    g = nx.Graph()
    for u, v, length in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["w"] > length):
            g.add_edge(int(u), int(v), w=float(length))
    src = "facilities"
    flat, _ = fsnap.candidates()
    for e, a, s in zip(flat.edge, flat.along_m, flat.dist_m, strict=True):
        if e < 0:
            continue
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length_m[e])
        for node, w in ((u, s + a), (v, s + length - a)):
            if not g.has_edge(src, node) or g[src][node]["w"] > w:
                g.add_edge(src, node, w=float(w))
    if src not in g:
        return {}
    return nx.single_source_dijkstra_path_length(g, src, cutoff=limit_m, weight="w")


def _fragments(net) -> np.ndarray:
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(), strict=True))
    parts = sorted(nx.connected_components(g), key=len, reverse=True)
    small = {n for part in parts[1:] if len(part) <= FRAGMENT_MAX_NODES for n in part}
    return np.array([int(u) in small for u in net.edge_u])


def _oracle_minutes(result, category: str, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    net = result.network
    lim = float(result.metadata["max_snap_m"])
    a = result.access[category]
    fac = result.facilities
    fsnap = Snap.from_columns(fac[fac["category"] == category])
    d_node = _node_distances(net, fsnap, a.nodes.limit_m)
    frag = _fragments(net)
    fflat, _ = fsnap.candidates()
    out = np.full(xs.shape[0], np.nan)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        p = shapely.Point(x, y)
        d = np.array([p.distance(line) for line in net.geometries])
        d_main = d[~frag].min(initial=np.inf)
        if d_main <= lim:
            near, eligible = d_main, ~frag
        elif d.min() <= lim:
            near, eligible = d.min(), np.ones(net.n_edges, dtype=bool)
        else:
            continue  # no street within max_snap_m: nodata
        reach = max(min(near * (1 + TIE_REL), lim), near + 1e-6)
        best = np.inf
        for e in np.flatnonzero(eligible & (d <= reach)):
            length = float(net.edge_length_m[e])
            along = net.geometries[e].project(p, normalized=True) * length
            u, v = int(net.edge_u[e]), int(net.edge_v[e])
            walk = min(d_node.get(u, np.inf) + along, d_node.get(v, np.inf) + length - along)
            for f in np.flatnonzero(fflat.edge == e):  # facilities on the same edge
                walk = min(walk, fflat.dist_m[f] + abs(fflat.along_m[f] - along))
            best = min(best, d[e] + walk)
        if best <= a.nodes.limit_m:
            out[i] = best / (a.speed_kmh * 1000 / 60)
    return out


def _check_cells(result, category: str, cells: np.ndarray | None = None) -> int:
    with rasterio.open(result.out / raster_name(category)) as src:
        values = src.read(1).astype(float)
        transform = src.transform
    rows, cols = np.indices(values.shape)
    rows, cols = rows.ravel(), cols.ravel()
    if cells is not None:
        rows, cols = rows[cells], cols[cells]
    xs, ys = (np.asarray(v) for v in rasterio.transform.xy(transform, rows, cols))
    expected = _oracle_minutes(result, category, xs, ys)
    got = values[rows, cols]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    # float32 cells: a relative 1e-7, and the oracle's own last bits
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=1e-6, equal_nan=True)
    return int(np.isfinite(got).sum())


@pytest.mark.parametrize("category", ["retail", "health"])
def test_every_grid_cell_matches_the_brute_force_oracle(grid_run, category):
    """All 4,352 cells of the grid fixture (25 m cells on a 100 m lattice: many cells lie
    equally far from two streets, so near-tied snaps are exercised; the island edge is a
    fragment)."""
    finite = _check_cells(grid_run, category)
    assert finite > (1000 if category == "retail" else 5)


def test_nanjing_cells_match_the_brute_force_oracle(nanjing_run):
    """A sample of cells of a real city's raster (every category's facilities, real street
    geometry with many vertices)."""
    with rasterio.open(nanjing_run.out / raster_name("retail")) as src:
        n = src.width * src.height
    cells = np.random.default_rng(7).choice(n, size=400, replace=False)
    finite = sum(_check_cells(nanjing_run, c, cells) for c in ("retail", "health"))
    assert finite > 300
