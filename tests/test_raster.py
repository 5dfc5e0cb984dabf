"""Travel-time rasters: hand-computed cells on the grid fixture, agreement with block times,
and every cell against a brute-force oracle.

Grid fixture (tests/helpers.py): 100 m lattice from (X0, Y0), the shop ``shop1`` (retail) at
(150, 20), the island clinic (health) at (1050, 1010). The raster grid is aligned to 25 m and
padded by max_snap_m (300 m), so its top-left corner is (X0 - 300, Y0 + 1300) and cell centres
sit at odd multiples of 12.5 m.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import rasterio
import shapely

from lifecircle import columns as col
from lifecircle._errors import ConfigError, ResourceLimitError
from lifecircle.outputs import raster as raster_mod
from lifecircle.outputs import raster_grid as raster_grid_mod
from lifecircle.outputs.raster import raster_grid, raster_name, travel_time_cells, write_rasters
from lifecircle.pipeline import run
from lifecircle.routing import point_distances
from lifecircle.snapping import FRAGMENT_MAX_NODES, TIE_REL, Snap, snap_points
from tests.helpers import SPEED_KMH, X0, Y0

M_PER_MIN = SPEED_KMH * 1000 / 60  # 80


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    from tests.helpers import make_grid_case

    case = make_grid_case(tmp_path_factory.mktemp("grid-raster"))
    return run(case.graphml, facilities=case.facilities, blocks=case.blocks,
               speed_kmh=SPEED_KMH, categories=["retail", "health"], out=case.folder / "out",
               map=False, figures=False)


def _value_at(src, x: float, y: float) -> float:
    row, column = src.index(x, y)
    return float(src.read(1)[row, column])


def test_grid_raster_georeferencing(grid_run):
    path = grid_run.out / raster_name("retail")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32650 == grid_run.network.crs.to_epsg()
        t = src.transform
        assert (t.a, t.e, t.b, t.d) == (25.0, -25.0, 0.0, 0.0)
        assert (t.c, t.f) == (X0 - 300, Y0 + 1300)
        # x from -300 to 1100 + 300, y from -300 to 1000 + 300, in 25 m cells
        assert (src.width, src.height) == (1700 // 25, 1600 // 25)
        assert src.dtypes == ("float32",)
        assert math.isnan(src.nodata)
        assert src.descriptions == (col.walk_min("retail"),)
        tags = src.tags()
        assert tags["units"] == "minutes" and tags["category"] == "retail"
        assert float(tags["speed_kmh"]) == SPEED_KMH and float(tags["cell_m"]) == 25
        if raster_mod._has_cog():
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    listed = (grid_run.out / "_SUCCESS.json").read_text()
    assert '"rasters/walk_min_retail.tif"' in listed and '"rasters/walk_min_health.tif"' in listed


def test_grid_raster_cells_by_hand(grid_run):
    with rasterio.open(grid_run.out / raster_name("retail")) as src:
        # centre (162.5, 12.5): same edge as the shop; 12.5 leg + 12.5 along + 20 leg = 45 m
        assert _value_at(src, X0 + 162.5, Y0 + 12.5) == pytest.approx(45 / M_PER_MIN, abs=1e-5)
        # centre (262.5, 112.5): shop -> (200,0) 70 m, up 100 m, along 62.5 m, leg 12.5 m
        assert _value_at(src, X0 + 262.5, Y0 + 112.5) == pytest.approx(245 / M_PER_MIN,
                                                                       abs=1e-5)
        # the island edge has no shop: NaN, not 0 or a sentinel
        assert math.isnan(_value_at(src, X0 + 1037.5, Y0 + 1012.5))
        # (712.5, 512.5) is 500 m from the lattice and the island edge: beyond max_snap_m
        assert math.isnan(_value_at(src, X0 + 712.5, Y0 + 512.5))
    with rasterio.open(grid_run.out / raster_name("health")) as src:
        # island clinic at along 50 leg 10; centre (1037.5, 1012.5): 10 + 12.5 + 12.5 = 35 m
        assert _value_at(src, X0 + 1037.5, Y0 + 1012.5) == pytest.approx(35 / M_PER_MIN,
                                                                         abs=1e-5)
        assert math.isnan(_value_at(src, X0 + 162.5, Y0 + 12.5))


def test_nodata_exactly_where_no_street_is_within_max_snap(grid_run):
    with rasterio.open(grid_run.out / raster_name("retail")) as src:
        values = src.read(1)
        rows, cols = np.indices(values.shape)
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    d = shapely.distance(shapely.points(np.asarray(xs), np.asarray(ys)),
                         shapely.multilinestrings(list(grid_run.network.geometries)))
    near_main = d <= 300
    finite = np.isfinite(values.ravel())
    # every finite cell is within max_snap_m of a street; every mainland cell that is near a
    # street has a time (the whole lattice is connected to the shop)
    assert not (finite & ~near_main).any()
    mainland = shapely.distance(shapely.points(np.asarray(xs), np.asarray(ys)),
                                shapely.box(X0, Y0, X0 + 300, Y0 + 200)) <= 300 - 1e-6
    assert finite[mainland].all()
    assert np.nanmin(values) > 0


def test_cells_at_access_points_equal_block_times_exactly(nanjing_run):
    """Cells are evaluated like access points: at an access point's spot, the same minutes."""
    aps = nanjing_run.access_points
    ok = (aps["snap_dist_m"] <= nanjing_run.metadata["max_snap_m"]).to_numpy()
    x, y = aps.geometry.x.to_numpy()[ok], aps.geometry.y.to_numpy()[ok]
    cats = list(nanjing_run.access)
    values = travel_time_cells(nanjing_run, cats, x, y)
    for c in cats:
        np.testing.assert_array_equal(values[c], aps[col.walk_min(c)].to_numpy()[ok])
    assert np.isfinite(values["retail"]).sum() > 50


def test_points_far_from_every_street_are_left_unsnapped(nanjing_run):
    """Only the points with an edge within ``max_snap_m`` are snapped (the edge grid's
    query): exactly those an STRtree ``dwithin`` query finds, the others unsnapped with the
    reason, the near ones snapped as :func:`snap_points` snaps them."""
    net = nanjing_run.network
    max_snap = float(nanjing_run.metadata["max_snap_m"])
    lo, hi = net.edge_coords.min(axis=0) - 3 * max_snap, net.edge_coords.max(axis=0) + 3 * max_snap
    rng = np.random.default_rng(5)
    x, y = rng.uniform(lo[0], hi[0], 4000), rng.uniform(lo[1], hi[1], 4000)
    snap = raster_mod._snap_near_network(net, x, y, max_snap)
    tree = shapely.STRtree(net.geometries)
    near = np.zeros(x.shape[0], bool)
    near[tree.query(shapely.points(x, y), predicate="dwithin", distance=max_snap)[0]] = True
    assert 0 < near.sum() < x.shape[0]
    far = snap.status == f"unreachable: no walkable edge within {max_snap:g} m"
    np.testing.assert_array_equal(far, ~near)
    ref = snap_points(net, x[near], y[near], max_snap_m=max_snap)
    np.testing.assert_array_equal(snap.edge[near], ref.edge)
    np.testing.assert_array_equal(snap.along_m[near], ref.along_m)
    assert (snap.edge[~near] == -1).all()


def test_nanjing_raster_agrees_with_routing_and_access_points(nanjing_run):
    net = nanjing_run.network
    cat = "health"
    path = nanjing_run.out / raster_name(cat)
    with rasterio.open(path) as src:
        assert src.crs == rasterio.crs.CRS.from_wkt(net.crs.to_wkt())
        values = src.read(1)
        transform = src.transform
    # a few cell centres, recomputed with the public routing primitives
    rows = np.array([10, 40, 70, 100, 130])
    cols = np.array([20, 60, 90, 120, 170])
    xs, ys = rasterio.transform.xy(transform, rows, cols)
    snap = snap_points(net, np.asarray(xs), np.asarray(ys),
                       max_snap_m=nanjing_run.metadata["max_snap_m"])
    fac = nanjing_run.facilities
    dist, _ = point_distances(net, nanjing_run.access[cat].nodes,
                              Snap.from_columns(fac[fac["category"] == cat]), snap)
    expected = dist / (nanjing_run.access[cat].speed_kmh * 1000 / 60)
    got = values[rows, cols].astype(float)
    np.testing.assert_allclose(np.where(np.isfinite(expected), expected, np.nan), got,
                               rtol=1e-6, equal_nan=True)
    assert np.isfinite(got).sum() >= 3

    # cells containing an access point whose centre snaps to the point's street: the times
    # differ by at most the walk between them (a change of leg plus a change along the edge,
    # each no longer than the straight gap between centre and point)
    aps = nanjing_run.access_points
    ok = (aps["snap_dist_m"] <= nanjing_run.metadata["max_snap_m"]).to_numpy()
    ap_min = aps[col.walk_min(cat)].to_numpy()[ok]
    ap_edge = aps["snap_edge_id"].to_numpy(dtype=float, na_value=-1)[ok]
    px, py = aps.geometry.x.to_numpy()[ok], aps.geometry.y.to_numpy()[ok]
    r, c = (np.asarray(v) for v in rasterio.transform.rowcol(transform, px, py))
    cx, cy = (np.asarray(v) for v in rasterio.transform.xy(transform, r, c))
    centre_snap = snap_points(net, cx, cy, max_snap_m=nanjing_run.metadata["max_snap_m"])
    gap_min = np.hypot(cx - px, cy - py) / (nanjing_run.access[cat].speed_kmh * 1000 / 60)
    cell = values[r, c].astype(float)
    # ... and neither has alternative snaps (a near-tied street adds walks of its own)
    single = aps["snap_alt"].isna().to_numpy()[ok]
    single &= ~np.isin(np.arange(len(cx)), centre_snap.alt.point if centre_snap.alt else [])
    same = (centre_snap.edge == ap_edge) & single & np.isfinite(cell) & np.isfinite(ap_min)
    assert same.sum() > 20
    assert np.all(np.abs(cell[same] - ap_min[same]) <= 2 * gap_min[same] + 1e-4)
    assert np.all(gap_min <= math.hypot(12.5, 12.5) / 80 + 1e-9)


def test_raster_options_are_checked(grid_run, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="positive"):
        raster_grid(grid_run.network, cell_m=0, margin_m=300)
    with pytest.raises(ConfigError, match="positive"):
        raster_grid(grid_run.network, cell_m=float("nan"), margin_m=300)
    monkeypatch.setattr(raster_grid_mod, "MAX_CELLS", 1000)
    with pytest.raises(ResourceLimitError, match="--cell-m"):
        write_rasters(grid_run, tmp_path, cell_m=10)


def test_chunked_writing_gives_the_same_raster(grid_run, tmp_path, monkeypatch):
    monkeypatch.setattr(raster_mod, "WINDOW_ROWS", 3)  # small windows, ragged at the edges
    monkeypatch.setattr(raster_mod, "WINDOW_COLS", 5)
    assert len(list(raster_mod._windows(raster_grid(
        grid_run.network, cell_m=25.0, margin_m=float(grid_run.metadata["max_snap_m"]))))) > 4
    (path,) = write_rasters(grid_run, tmp_path, categories=["retail"])
    with rasterio.open(path) as a, rasterio.open(grid_run.out / raster_name("retail")) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_automatic_cell_keeps_the_raster_under_the_cap(grid_run):
    """The default cell is 25 m unless the grid would pass AUTO_MAX_CELLS; then the next round
    size whose grid fits (the one before it does not); the run records the cell it used."""
    net = grid_run.network
    margin = float(grid_run.metadata["max_snap_m"])
    assert raster_mod.auto_cell_m(net, margin_m=margin) == raster_mod.DEFAULT_CELL_M == 25.0
    assert grid_run.metadata["raster_cell_m"] == 25.0
    with rasterio.open(grid_run.out / raster_name("retail")) as src:
        assert float(src.tags()["cell_m"]) == 25.0
    n25 = raster_grid(net, cell_m=25.0, margin_m=margin).n_cells  # 68 x 64 = 4,352
    assert n25 == 68 * 64
    for cap in (n25 - 1, 1000, 200, 30):
        cell = raster_mod.auto_cell_m(net, margin_m=margin, max_cells=cap)
        assert raster_grid(net, cell_m=cell, margin_m=margin).n_cells <= cap
        steps = [s for s in raster_grid_mod._AUTO_STEPS if s < cell]
        if steps:  # the next finer round size would not fit
            assert raster_grid(net, cell_m=steps[-1], margin_m=margin).n_cells > cap
    # 1,700 m x 1,600 m: 40 m cells give 43 x 40 = 1,720 cells, 30 m give 57 x 54 = 3,078
    assert raster_mod.auto_cell_m(net, margin_m=margin, max_cells=2000) == 40.0


# ---------------------------------------------------------------------------------------------
# Against a brute-force oracle (shapely distances + networkx Dijkstra)
#
# Every cell's minutes are recomputed without the engine's snapping, routing or raster code:
# the distance from the cell centre to every edge (shapely, one edge at a time), the snapping
# rules spelled out (nearest edge outside fragments within ``max_snap_m``, else the nearest
# edge; every eligible edge within 5 % of that leg), node distances from a networkx Dijkstra
# from a virtual node joined to the ends of each facility's edges, and per candidate edge
# ``leg + min(d[u] + along, d[v] + length - along, direct along the edge from a facility on
# it)``; NaN beyond the search horizon or ``max_snap_m``.


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
