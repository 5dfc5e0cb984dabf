"""Hand-computed walking times on the grid fixture (see tests/helpers.py for the figures)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lifecircle.pipeline import run
from tests.helpers import SPEED_KMH, X0, Y0


@pytest.fixture
def grid_result(grid_case):
    return run(grid_case.graphml, facilities=grid_case.facilities, blocks=grid_case.blocks,
               speed_kmh=SPEED_KMH, categories=["retail", "health"],
               out=grid_case.folder / "out")


def _block(result, block_id):
    b = result.blocks.set_index("block_id")
    return b.loc[block_id]


def test_access_points_are_block_centres(grid_result):
    aps = grid_result.access_points.set_index("block_id")
    assert aps.loc["B1"].geometry.x == pytest.approx(X0 + 250)
    assert aps.loc["B1"].geometry.y == pytest.approx(Y0 + 130)


def test_snap_fields_by_hand(grid_result):
    aps = grid_result.access_points.set_index("block_id")
    b1 = aps.loc["B1"]
    # edge from node 22 (200,100) to node 32 (300,100)
    assert {int(b1.snap_u), int(b1.snap_v)} == {22, 32}
    along_from_u = b1.snap_along_m if int(b1.snap_u) == 22 else 100 - b1.snap_along_m
    assert along_from_u == pytest.approx(50.0)
    assert b1.snap_dist_m == pytest.approx(30.0)
    fac = grid_result.facilities.set_index("facility_id")
    assert fac.loc["user/shop1"].snap_dist_m == pytest.approx(20.0)


@pytest.mark.parametrize(("block_id", "metres"), [("B1", 250.0), ("B2", 220.0), ("B3", 340.0)])
def test_retail_minutes_by_hand(grid_result, block_id, metres):
    row = _block(grid_result, block_id)
    assert row["walk_m_retail"] == pytest.approx(metres, abs=1e-6)
    assert row["walk_min_retail"] == pytest.approx(metres / 80.0, abs=1e-9)
    assert row["nearest_retail"] == "user/shop1"
    assert bool(row["covered_retail"]) is True
    assert row["short_min_retail"] == 0.0


def test_off_network_leg_is_walked(grid_result):
    """B2 stands 200 m from the street: those 200 m are paid at the walking speed."""
    row = _block(grid_result, "B2")
    assert row["walk_m_retail"] - 20.0 == pytest.approx(200.0)


def test_island_facility_leaves_nan_not_zero(grid_result):
    for block_id in ("B1", "B2", "B3"):
        row = _block(grid_result, block_id)
        assert math.isnan(row["walk_min_health"])
        assert bool(row["covered_health"]) is False
        assert "health" in row["lacks"].split(",")
        assert row["reason_health"]


def test_far_block_is_unreachable_with_reason(grid_result):
    row = _block(grid_result, "B4")
    assert math.isnan(row["walk_min_retail"])
    assert "unreachable" in row["reason_retail"]
    assert "max_snap_m" in row["reason_retail"]
    ap = grid_result.access_points.set_index("block_id").loc["B4"]
    assert ap.snap_status.startswith("unreachable")


def test_speed_changes_every_leg(grid_case):
    slow = run(grid_case.graphml, facilities=grid_case.facilities, blocks=grid_case.blocks,
               speed_kmh=2.4, categories=["retail"])
    row = slow.blocks.set_index("block_id").loc["B2"]
    assert row["walk_min_retail"] == pytest.approx(220.0 / 40.0)


def test_threshold_decides_coverage(grid_case):
    res = run(grid_case.graphml, facilities=grid_case.facilities, blocks=grid_case.blocks,
              speed_kmh=SPEED_KMH, minutes=3.0, categories=["retail"])
    b = res.blocks.set_index("block_id")
    assert bool(b.loc["B2", "covered_retail"]) is True  # 2.75 min
    assert bool(b.loc["B1", "covered_retail"]) is False  # 3.125 min
    assert b.loc["B1", "short_min_retail"] == pytest.approx(0.125)
    assert b.loc["B3", "short_min_retail"] == pytest.approx(1.25)


def test_report_population_weighting(grid_result):
    s = grid_result.report["summary"]
    retail = s["categories"]["retail"]
    # B1..B3 (100 + 200 + 300) covered, B4 (50) not
    assert retail["population_covered"] == pytest.approx(600.0)
    assert retail["share_population_covered"] == pytest.approx(round(600 / 650, 4))
    assert retail["blocks_covered"] == 3
    # nothing is complete: health is unreachable everywhere
    assert s["complete_life_circle"]["population"] == 0.0
    assert np.all(~grid_result.blocks["complete"].to_numpy())


def _blocks_file(tmp_path, polygons):
    import geopandas as gpd

    from tests.helpers import CRS

    path = tmp_path / "custom_blocks.gpkg"
    gpd.GeoDataFrame({"block_id": [f"C{i}" for i in range(len(polygons))]},
                     geometry=polygons, crs=CRS).to_file(path, engine="pyogrio")
    return path


def test_large_block_interior_walk_is_counted(grid_case, tmp_path):
    """A 700 m block whose centre is 450 m from the street (350 m of it inside the block):
    snapped, the 450 m leg walked; the cap starts at the block's own edge."""
    import shapely

    big = shapely.box(X0 - 800, Y0 - 250, X0 - 100, Y0 + 450)  # centre (-450, 100)
    res = run(grid_case.graphml, facilities=grid_case.facilities,
              blocks=_blocks_file(tmp_path, [big]), speed_kmh=SPEED_KMH,
              categories=["retail"])
    ap = res.access_points.iloc[0]
    assert ap.geometry.x == pytest.approx(X0 - 450)
    assert ap.snap_status == "snapped"
    assert ap.geometry.y == pytest.approx(Y0 + 100)
    assert ap.snap_dist_m == pytest.approx(450.0)  # straight to node (0, 100)
    # node (0, 0) is hypot(450, 100) = 461.0 m away, within 5 % of the leg: an alternative snap.
    # Through it: 461.0 + 100 to (100,0) + 50 along to shop1 + its 20 m leg = 631.0 (through
    # (0, 100) alone: 450 + 100 + 100 + 50 + 20 = 720)
    assert res.blocks.iloc[0]["walk_m_retail"] == pytest.approx(math.hypot(450, 100) + 170.0)


def test_block_on_a_disconnected_fragment_says_so(grid_case, tmp_path):
    import shapely

    near_island = shapely.box(X0 + 1040, Y0 + 1030, X0 + 1060, Y0 + 1050)
    res = run(grid_case.graphml, facilities=grid_case.facilities,
              blocks=_blocks_file(tmp_path, [near_island]), speed_kmh=SPEED_KMH,
              categories=["retail"])
    row = res.blocks.iloc[0]
    assert math.isnan(row["walk_min_retail"])
    assert "network part of 2 nodes with no retail facility" in row["reason_retail"]
