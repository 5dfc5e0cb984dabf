"""block_verdict on a hand-made case: times, flags, lacks, tiers and deficiency lists."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from lifecircle.access import CategoryAccess
from lifecircle.coverage import block_verdict
from lifecircle.profiles import load_profile


def _access(category: str, minutes: list[float], reasons: list[str],
            threshold: float) -> CategoryAccess:
    walk = np.array(minutes)
    return CategoryAccess(
        category=category, speed_kmh=3.6, threshold_min=threshold, horizon_m=1800.0,
        nodes=None,  # type: ignore[arg-type]  # not read by the verdict
        dist_m=walk * 60.0, walk_min=walk,
        nearest=np.array([f"{category}-{k}" for k in range(len(walk))], dtype=object),
        reason=np.array(reasons, dtype=object), n_facilities=1, n_facilities_snapped=1,
        seconds=0.0)


@pytest.fixture
def verdict() -> gpd.GeoDataFrame:
    profile = load_profile("gb50180-2018")
    # tiers: min10 = primary_school; min5 = health_station, kindergarten (profile order)
    blocks = gpd.GeoDataFrame({"block_id": ["A", "B", "C"], "population": [10.0, 20.0, 30.0]},
                              geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1), box(4, 0, 5, 1)],
                              crs=3857)
    blocks.attrs["derivation"] = {"max_block_area_ha": 5.0}
    # access points: A has 0 and 2, B has 1, C has 3 and 4
    ap_block = np.array(["A", "B", "A", "C", "C"], dtype=object)
    far = "no facility within 30 min on the network"
    access = {
        "primary_school": _access("primary_school", [12.0, 4.0, 9.0, np.nan, np.nan],
                                  ["", "", "", far, "C's second"], threshold=10.0),
        "health_station": _access("health_station", [1.0, 6.0, 2.0, 3.0, 5.5],
                                  ["", "", "", "", ""], threshold=5.0),
        "kindergarten": _access("kindergarten", [7.0, 8.0, 4.0, 6.0, 6.0],
                                ["", "", "", "", ""], threshold=5.0),
    }
    return block_verdict(blocks, ap_block, access, profile, no_data=())


def test_times_flags_and_nearest(verdict: gpd.GeoDataFrame) -> None:
    np.testing.assert_array_equal(verdict["walk_min_primary_school"], [9.0, 4.0, np.nan])
    np.testing.assert_array_equal(verdict["walk_m_primary_school"], [540.0, 240.0, np.nan])
    assert verdict["covered_primary_school"].tolist() == [True, True, False]
    np.testing.assert_array_equal(verdict["short_min_kindergarten"], [0.0, 3.0, 1.0])
    # C's two access points tie at 6.0 for kindergarten: the first (row 3) is the nearest
    assert verdict["nearest_kindergarten"].tolist() == ["kindergarten-2", "kindergarten-1",
                                                        "kindergarten-3"]
    assert verdict["nearest_primary_school"].isna().tolist() == [False, False, True]
    # an unreachable block gives its first access point's reason
    assert verdict["reason_primary_school"].tolist() == ["", "", "no facility within 30 min "
                                                         "on the network"]


def test_lacks_tiers_and_deficiencies(verdict: gpd.GeoDataFrame) -> None:
    assert verdict["lacks"].tolist() == ["", "health_station,kindergarten",
                                         "primary_school,kindergarten"]
    assert verdict["n_lacking"].tolist() == [0, 2, 2]
    assert verdict["complete"].tolist() == [True, False, False]
    assert verdict["tier_met_min10"].tolist() == [True, True, False]
    assert verdict["tier_met_min5"].tolist() == [True, False, False]
    assert verdict["tier_lacks_min5"].tolist() == ["", "health_station,kindergarten",
                                                   "kindergarten"]
    assert verdict["deficiencies"].tolist() == [
        "", "min5: health_station, kindergarten",
        "min10: primary_school; min5: kindergarten"]
    assert isinstance(verdict, gpd.GeoDataFrame) and verdict.crs == "EPSG:3857"


def test_the_blocks_attrs_are_kept(verdict: gpd.GeoDataFrame) -> None:
    # what the derivation recorded on the frame survives the new columns
    assert verdict.attrs == {"derivation": {"max_block_area_ha": 5.0}}
