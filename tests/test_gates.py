"""Gates and entrances as access points of walled compounds (hand-computed on the grid)."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from lifecircle.access import compute_access
from lifecircle.coverage import block_verdict
from lifecircle.network import WalkNetwork
from lifecircle.profiles import load_profile
from lifecircle.snapping import snap_points
from lifecircle.sources import blocks as blocks_mod
from lifecircle.sources.facilities import read_facilities
from tests.conftest import shared_osm
from tests.helpers import CRS, SPEED_KMH, X0, Y0


def _gates(points: list[tuple[str, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"osm_id": [p[0] for p in points], "gate_kind": "gate"},
        geometry=[shapely.Point(X0 + x, Y0 + y) for _, x, y in points],
        crs=CRS,
    )


def _retail_times(grid_case, blocks: gpd.GeoDataFrame, gates: gpd.GeoDataFrame | None):
    """The pipeline's steps from access points to block times, on the grid network."""
    net = WalkNetwork.from_graphml(str(grid_case.graphml))
    full = load_profile("walk15").replace(speed_kmh=SPEED_KMH)
    prof = full.replace(categories=["retail"])
    fac = read_facilities(grid_case.facilities, full).to_crs(net.crs).reset_index(drop=True)
    fsnap = snap_points(net, fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy(), max_snap_m=300)
    fac = fac.assign(
        snap_edge_id=fsnap.edge,
        snap_along_m=fsnap.along_m,
        snap_dist_m=fsnap.dist_m,
        snap_status=fsnap.status,
    )
    aps = blocks_mod.access_points(blocks, gates)
    asnap = snap_points(
        net,
        aps.geometry.x.to_numpy(),
        aps.geometry.y.to_numpy(),
        max_snap_m=300 + blocks_mod.distance_to_boundary(aps, blocks),
    )
    access = compute_access(net, fac, asnap, prof)
    verdict = block_verdict(blocks, aps["block_id"].to_numpy(), access, prof)
    return aps, access["retail"], verdict.set_index("block_id")


@pytest.fixture
def compound() -> gpd.GeoDataFrame:
    # a walled compound in the grid cell x 100..200, y 100..200; its wall runs 5 m inside the
    # streets. Shop1 is at (150, 20): on the street y = 0 at along 50, leg 20.
    return gpd.GeoDataFrame(
        {"block_id": ["W"]},
        geometry=[shapely.box(X0 + 105, Y0 + 105, X0 + 195, Y0 + 195)],
        crs=CRS,
    )


def test_compound_is_left_through_its_far_gate(grid_case, compound):
    # the only gate is on the far (north) wall at (150, 195): 5 m to the street y = 200 at
    # along 50, then 50 to a corner, 200 down to y = 0, 50 along to the shop and its 20 m leg
    aps, _retail, blocks = _retail_times(grid_case, compound, _gates([("node/7", 150, 195)]))
    assert aps["ap_kind"].tolist() == ["gate"]
    assert aps["ap_id"].tolist() == ["W/node/7"]
    assert aps["gate_osm_id"].tolist() == ["node/7"]
    assert blocks.loc["W", "walk_m_retail"] == pytest.approx(5 + 50 + 200 + 50 + 20)
    assert blocks.loc["W", "walk_min_retail"] == pytest.approx(325 / 80)
    # without the gate the centre (150, 150) walks out through the wall: 50 m to the nearest
    # street (south, east or west; the north one is as near but its edge index is higher),
    # 50 to a corner, 100 down, 50 along, 20: 270 m
    aps0, _, blocks0 = _retail_times(grid_case, compound, None)
    assert aps0["ap_kind"].tolist() == ["centroid"]
    assert blocks0.loc["W", "walk_m_retail"] == pytest.approx(50 + 50 + 100 + 50 + 20)


def test_block_time_is_the_minimum_over_its_gates(grid_case, compound):
    gates = _gates([("node/1", 150, 195), ("node/2", 195, 150), ("node/3", 150, 105)])
    aps, retail, blocks = _retail_times(grid_case, compound, gates)
    assert sorted(aps["ap_id"]) == ["W/node/1", "W/node/2", "W/node/3"]
    by_ap = dict(zip(aps["ap_id"], retail.dist_m, strict=True))
    # east gate (195, 150): 5 to x = 200 at y 150, 50 down to (200, 100), 100 to (200, 0),
    # 50 along, 20 = 225; south gate (150, 105): 5 + 50 + 100 + 50 + 20 = 225
    assert by_ap["W/node/1"] == pytest.approx(325.0)
    assert by_ap["W/node/2"] == pytest.approx(225.0)
    assert by_ap["W/node/3"] == pytest.approx(225.0)
    assert blocks.loc["W", "walk_m_retail"] == pytest.approx(225.0)


def test_far_gates_and_other_blocks_keep_their_centre(grid_case, compound):
    other = gpd.GeoDataFrame(
        {"block_id": ["W", "O"]},
        geometry=[compound.geometry.iloc[0], shapely.box(X0 + 205, Y0 + 105, X0 + 295, Y0 + 195)],
        crs=CRS,
    )
    # a gate 45 m inside W (farther than the 10 m tolerance from its wall) and one on the
    # street 6 m outside W's east wall but 4 m from O's west wall: it belongs to O only
    gates = _gates([("node/in", 150, 150), ("node/st", 201, 150)])
    aps, _, _ = _retail_times(grid_case, other, gates)
    kinds = dict(zip(aps["block_id"], aps["ap_kind"], strict=True))
    assert kinds == {"W": "centroid", "O": "gate"}
    assert aps.set_index("block_id").loc["O", "gate_osm_id"] == "node/st"


def test_closed_gates_are_not_access_points():
    data = SimpleNamespace(
        gates=[
            (1, 116.3, 39.99, {"barrier": "gate"}),
            (2, 116.3, 39.99, {"barrier": "gate", "access": "private"}),
            (3, 116.3, 39.99, {"barrier": "gate", "access": "no", "foot": "yes"}),
            (4, 116.3, 39.99, {"entrance": "main"}),
            (5, 116.3, 39.99, {"entrance": "emergency"}),
            (6, 116.3, 39.99, {"barrier": "gate", "locked": "yes"}),
            (7, 116.3, 39.99, {"barrier": "gate", "foot": "no"}),
        ]
    )
    gates = blocks_mod.gates_from_osm(data, pyproj.CRS.from_epsg(32650))  # type: ignore[arg-type]
    assert gates["osm_id"].tolist() == ["node/1", "node/3", "node/4"]
    assert gates["gate_kind"].tolist() == ["gate", "gate", "entrance=main"]
    assert gates.crs.to_epsg() == 32650


def test_beijing_haidian_campus_gates():
    from lifecircle.pipeline import run

    res = run(shared_osm("beijing_haidian.osm.gz"), categories=["health"])
    aps = res.access_points
    gate_aps = aps[aps["ap_kind"] == "gate"]
    assert len(gate_aps) >= 1
    assert res.metadata["blocks"]["gate_access_points"] == len(gate_aps)
    # every gate access point lies within the tolerance of its own block's boundary
    geom = res.blocks.set_index("block_id").geometry
    own = geom.loc[gate_aps["block_id"]].to_numpy()
    d = shapely.distance(shapely.boundary(own), gate_aps.geometry.to_numpy())
    assert (d <= blocks_mod.GATE_TOLERANCE_M + 1e-9).all()
    # gated blocks have no centroid access point; each block's time is its gates' minimum
    gated = set(gate_aps["block_id"])
    assert not ((aps["ap_kind"] == "centroid") & aps["block_id"].isin(gated)).any()
    b = res.blocks.set_index("block_id")
    for block_id in gated:
        t = aps.loc[aps["block_id"] == block_id, "walk_min_health"].to_numpy(dtype=float)
        assert b.loc[block_id, "walk_min_health"] == pytest.approx(np.nanmin(t))


def test_access_point_of_an_unknown_block_is_named() -> None:
    # an access point whose block_id names no block is an error naming it, never the
    # distance to another block's boundary
    from lifecircle._errors import InputError

    blocks = gpd.GeoDataFrame({"block_id": ["a", "b"]},
                              geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)],
                              crs=CRS)
    points = gpd.GeoDataFrame({"block_id": ["b", "a"]},
                              geometry=[shapely.Point(22, 5), shapely.Point(3, 5)], crs=CRS)
    np.testing.assert_allclose(blocks_mod.distance_to_boundary(points, blocks), [2.0, 3.0])
    points.loc[1, "block_id"] = "zz"
    with pytest.raises(InputError, match="'zz'"):
        blocks_mod.distance_to_boundary(points, blocks)


def test_ring_holds_is_geos_contains_on_vertices_edges_and_ties():
    # GEOS's ray crossing, point by point: points on vertices, on edges (exact midpoints of
    # lattice segments), level with vertices, inside, outside, in concave and holed polygons
    from lifecircle.sources._ring_kernels import ring_holds
    from lifecircle.sources.block_gates import _held_and_outline

    rng = np.random.default_rng(7)
    polys, pts = [], []
    for i in range(3000):
        k = int(rng.integers(3, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(2, 20, k)
        xy = np.round(np.column_stack([r * np.cos(ang), r * np.sin(ang)]))  # star-shaped
        xy = np.unique(xy, axis=0)[np.argsort(np.arctan2(*np.unique(xy, axis=0).T[::-1]))]
        if len(xy) < 3:
            continue
        poly = shapely.Polygon(xy)
        if i % 50 == 0:  # a hole: GEOS judges these
            poly = shapely.Polygon([(-30, -30), (30, -30), (30, 30), (-30, 30)],
                                   [[(-1, -1), (1, -1), (1, 1), (-1, 1)]])
        pick = i % 4
        if pick == 0:
            q = xy[i % len(xy)]
        elif pick == 1:
            q = (xy[0] + xy[1]) / 2
        elif pick == 2:
            q = np.array([rng.integers(-20, 21), xy[i % len(xy), 1]])
        else:
            q = rng.integers(-20, 21, 2).astype(float)
        polys.append(poly)
        pts.append(shapely.Point(q))
    polys_a, pts_a = np.array(polys, dtype=object), np.array(pts, dtype=object)
    want = shapely.contains(polys_a, pts_a)
    inside, dist = _held_and_outline(polys_a, pts_a, groups=np.arange(polys_a.size))
    np.testing.assert_array_equal(inside, want)
    assert 0 < want.sum() < want.size  # both answers met
    on = shapely.distance(shapely.boundary(polys_a), pts_a) == 0
    assert on.sum() > 500  # many points on the outline, where only exactness tells
    np.testing.assert_array_equal(
        dist, np.where(want, shapely.distance(shapely.boundary(polys_a), pts_a), 0.0))
    # a square with a point on each side, a corner, inside, outside, and one left of it
    sq = np.array([0.0, 4, 4, 0, 0]), np.array([0.0, 0, 4, 4, 0])
    px = np.array([2.0, 4, 0, 2, 5, -1, 4])
    py = np.array([0.0, 2, 4, 2, 2, 2, 4])
    first = np.arange(0, 5 * px.size + 1, 5)
    got = ring_holds(np.tile(sq[0], px.size), np.tile(sq[1], px.size), first, px, py)
    # on the bottom side (horizontal), on the right side (its orientation is 0: left to
    # GEOS), on the top-left corner, inside, right of it, left of it, on the top-right corner
    assert got.tolist() == [0, -1, 0, 1, 0, 0, 0]
