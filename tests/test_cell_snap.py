"""Raster cell snapping (outputs/_cell_snap.py) against the GEOS one (snapping.snap_points).

The splat kernel must give every cell centre the snap :func:`snap_points` gives it: the same
primary edge (exact ties by edge index), the same position along it and leg (to 1e-6 m), the
same rule (fragments passed over) and the same near-tied alternatives, so the rasters' values
do not depend on which snapper ran.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lifecircle.network import WalkNetwork
from lifecircle.outputs import raster as raster_mod
from lifecircle.outputs._cell_snap import snap_cells
from lifecircle.snapping import RULE_PAST_FRAGMENT, snap_points
from tests.conftest import shared_osm


def _assert_same_snap(net: WalkNetwork, grid: raster_mod.Grid, row0: int, col0: int,
                      h: int, w: int, max_snap_m: float) -> int:
    """Compare both snappers on a window; the number of snapped cells."""
    x, y = raster_mod.cell_centres(grid, slice(row0, row0 + h), slice(col0, col0 + w))
    geos = snap_points(net, x, y, max_snap_m=max_snap_m)
    new = snap_cells(net, np.arange(net.n_edges), x0=grid.x0, y0=grid.y0, cell_m=grid.cell_m,
                     row0=row0, col0=col0, height=h, width=w, max_snap_m=max_snap_m)
    ok = geos.ok
    np.testing.assert_array_equal(new.ok, ok)
    np.testing.assert_array_equal(new.edge, geos.edge)
    np.testing.assert_allclose(new.along_m[ok], geos.along_m[ok], rtol=0, atol=1e-6)
    np.testing.assert_allclose(new.dist_m[ok], geos.dist_m[ok], rtol=0, atol=1e-6)
    assert new.rule is not None and geos.rule is not None
    np.testing.assert_array_equal(new.rule[ok], geos.rule[ok])
    assert new.alt is not None and geos.alt is not None

    def alts(s):
        order = np.lexsort((s.alt.edge, s.alt.point))
        return (s.alt.point[order], s.alt.edge[order], s.alt.along_m[order],
                s.alt.dist_m[order])

    (pa, ea, aa, da), (pb, eb, ab, db) = alts(new), alts(geos)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(ea, eb)
    np.testing.assert_allclose(aa, ab, rtol=0, atol=1e-6)
    np.testing.assert_allclose(da, db, rtol=0, atol=1e-6)
    return int(ok.sum())


def _hand_network() -> WalkNetwork:
    """A 100 m square (0-1-2-3) with edge 0-1 stored twice (exact ties), a bent edge 0-2
    through (40, 70) with a repeated vertex (a zero-length segment), walking lengths 1.3x
    the geometry on the bent edge, and a fragment 4-5 east of the square."""
    x = np.array([0.0, 100.0, 100.0, 0.0, 190.0, 215.0])
    y = np.array([0.0, 0.0, 100.0, 100.0, 50.0, 50.0])
    u = np.array([0, 1, 2, 3, 0, 0, 4])
    v = np.array([1, 2, 3, 0, 1, 2, 5])
    coords, ptr = [], [0]
    for a, b in zip(u, v, strict=True):
        pts = [(x[a], y[a]), (x[b], y[b])]
        if (a, b) == (0, 2):
            pts = [pts[0], (40.0, 70.0), (40.0, 70.0), pts[1]]
        coords += pts
        ptr.append(len(coords))
    geo_len = shapely.length(shapely.linestrings(np.array(coords), indices=np.repeat(
        np.arange(len(u)), np.diff(ptr))))
    length = geo_len * np.where((u == 0) & (v == 2), 1.3, 1.0)
    return WalkNetwork.from_arrays(crs="EPSG:32650", node_id=np.arange(6), x=x, y=y,
                                   edge_u=u, edge_v=v, edge_length_m=length,
                                   edge_coords=np.array(coords), edge_ptr=np.array(ptr))


@pytest.mark.parametrize("cell_m", [10.0, 7.0])
def test_hand_made_grid_matches_geos(cell_m):
    """10 m cells put centres on the streets, on nodes and equidistant from parallel
    streets (exact ties); 7 m cells do not. Near the fragment, cells within reach of the
    square pass it over, the others snap to it; some cells are beyond reach."""
    net = _hand_network()
    max_snap = 60.0
    grid = raster_mod.raster_grid(net, cell_m=cell_m, margin_m=max_snap + 20)
    if cell_m == 10.0:  # centres at multiples of 10 m: shift the grid by half a cell
        grid = raster_mod.Grid(grid.x0 - 5.0, grid.y0 + 5.0, cell_m, grid.width + 1,
                               grid.height + 1)
    n_ok = _assert_same_snap(net, grid, 0, 0, grid.height, grid.width, max_snap)
    assert 0 < n_ok < grid.n_cells
    # a window away from the grid's corner sees the same snaps
    _assert_same_snap(net, grid, 3, 5, grid.height - 7, grid.width - 9, max_snap)
    x, y = raster_mod.cell_centres(grid, slice(0, grid.height))
    s = snap_cells(net, np.arange(net.n_edges), x0=grid.x0, y0=grid.y0, cell_m=cell_m,
                   row0=0, col0=0, height=grid.height, width=grid.width, max_snap_m=max_snap)
    assert s.rule is not None and (s.rule == RULE_PAST_FRAGMENT).any()
    assert (s.edge == 6).any()  # stuck on the fragment: nothing else within reach
    if cell_m == 10.0:
        # 40 m south of edge 0-1, stored twice: the lower index is primary, the twin an
        # alternative at the same place
        at = np.flatnonzero((x == 50.0) & (y == -40.0))[0]
        assert s.edge[at] == 0 and s.dist_m[at] == pytest.approx(40.0, abs=1e-9)
        assert s.along_m[at] == pytest.approx(50.0, abs=1e-9)
        assert s.alt is not None and list(s.alt.edge[s.alt.point == at]) == [4]


def test_monaco_cells_match_geos():
    """Every cell of Monaco's 25 m raster grid, in windows, as the GEOS snapping gives it."""
    from lifecircle.pipeline import run

    res = run(shared_osm("monaco.osm.pbf"), out=None, map=False, figures=False,
              rasters=False, isochrones=False)
    net = res.network
    max_snap = float(res.metadata["max_snap_m"])
    grid = raster_mod.raster_grid(net, cell_m=25.0, margin_m=max_snap)
    total = 0
    for row0 in range(0, grid.height, 97):
        for col0 in range(0, grid.width, 131):
            total += _assert_same_snap(net, grid, row0, col0, min(97, grid.height - row0),
                                       min(131, grid.width - col0), max_snap)
    assert total > 0.5 * grid.n_cells


def test_zero_length_edge_matches_geos():
    """A zero-length edge (two nodes at one spot, as OSM data has) ties with the corner's
    streets; its position along is its start, as GEOS gives it, never a division by zero."""
    x = np.array([0.0, 100.0, 100.0, 100.0])
    y = np.array([0.0, 0.0, 100.0, 100.0])
    u, v = np.array([2, 0, 1]), np.array([3, 1, 2])  # the zero-length edge first: primary
    coords = np.array([(100.0, 100.0), (100.0, 100.0), (0.0, 0.0), (100.0, 0.0),
                       (100.0, 0.0), (100.0, 100.0)])
    net = WalkNetwork.from_arrays(crs="EPSG:32650", node_id=np.arange(4), x=x, y=y,
                                  edge_u=u, edge_v=v, edge_length_m=np.array([0.0, 100, 100]),
                                  edge_coords=coords, edge_ptr=np.array([0, 2, 4, 6]))
    grid = raster_mod.raster_grid(net, cell_m=7.0, margin_m=50.0)
    assert _assert_same_snap(net, grid, 0, 0, grid.height, grid.width, 50.0) > 0
