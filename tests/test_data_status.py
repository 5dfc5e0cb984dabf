"""Missing data said as missing (issue 13.4): a category the source cannot support is
"no data in the source — not a finding", never 0 % coverage."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from lifecircle import columns as col
from lifecircle.access import CategoryAccess
from lifecircle.coverage import NO_DATA, SPARSE_RESIDENTS, category_status
from lifecircle.outputs.geopackage import read_metadata
from lifecircle.pipeline import run
from lifecircle.routing import NodeDistances


def _access(n_fac: int, minutes: list[float], *, snapped: int | None = None) -> CategoryAccess:
    t = np.array(minutes, dtype=np.float64)
    return CategoryAccess(
        category="x", speed_kmh=4.8, threshold_min=15.0, horizon_m=4800.0,
        nodes=NodeDistances(np.empty(0), np.empty(0, dtype=np.int64), 4800.0),
        dist_m=t * 80.0, walk_min=t, nearest=np.full(t.shape, None, dtype=object),
        reason=np.full(t.shape, "", dtype=object), n_facilities=n_fac,
        n_facilities_snapped=n_fac if snapped is None else snapped, seconds=0.0)


def test_status_rules_by_hand():
    access = {
        "none": _access(0, [np.nan, np.nan]),
        "far": _access(3, [np.nan, np.nan]),  # facilities, none within the horizon of a block
        "thin": _access(2, [4.0, 30.0]),  # 2 for 250,000 residents: fewer than 1 per 100,000
        "enough": _access(3, [4.0, np.nan]),  # 3 per 250,000: a finding
        "unsnapped": _access(5, [4.0, 9.0], snapped=2),  # only snapped facilities count
    }
    s = category_status(access, 250_000.0)
    assert {c: (v["status"], v["status_reason"]) for c, v in s.items()} == {
        "none": (NO_DATA, "no_facilities"),
        "far": (NO_DATA, "sparse"),
        "thin": (NO_DATA, "sparse"),
        "enough": ("ok", None),
        "unsnapped": (NO_DATA, "sparse"),
    }
    assert 2 * SPARSE_RESIDENTS < 250_000 <= 3 * SPARSE_RESIDENTS
    # a user facility file vouches for its categories, even an empty-handed one
    cleared = category_status(access, 250_000.0, user_categories=["none", "thin"])
    assert cleared["none"]["status"] == cleared["thin"]["status"] == "ok"


def test_helsinki_childcare_is_no_data_not_zero(default_run):
    """The bundled Helsinki extract has no OSM childcare facility."""
    s = default_run.report["summary"]
    child = s["categories"]["childcare"]
    assert child["facilities"] == 0
    assert (child["status"], child["status_reason"]) == (NO_DATA, "no_facilities")
    assert child["share_population_covered"] is None and child["share_blocks_covered"] is None
    assert s["no_data_categories"] == ["childcare"]
    assert all(v["status"] == "ok" for c, v in s["categories"].items() if c != "childcare")
    blk = default_run.blocks
    # walk_min kept as computed (NaN: no facility); no block lacks it
    assert blk[col.walk_min("childcare")].isna().all()
    assert not blk["lacks"].str.contains("childcare").any()
    # complete = every other category covered
    others = [c for c in s["categories"] if c != "childcare"]
    want = np.column_stack([blk[col.covered(c)].to_numpy(bool) for c in others]).all(1)
    np.testing.assert_array_equal(blk["complete"].to_numpy(bool), want)
    pop = blk["population"].to_numpy(float)
    assert s["complete_life_circle"]["share_population"] == pytest.approx(
        round(pop[want].sum() / pop.sum(), 4))
    assert s["complete_life_circle"]["share_population"] > 0
    # said in report.md and run_metadata
    md = (default_run.out / "report.md").read_text(encoding="utf-8")
    assert "Categories with incomplete data" in md
    assert any("Childcare" in line and "no facility of this category" in line
               for line in md.splitlines())
    meta = read_metadata(default_run.out / "lifecircle.gpkg")
    assert meta["category_status"]["childcare"]["status"] == NO_DATA
    report = json.loads((default_run.out / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["categories"]["childcare"]["share_population_covered"] is None


def test_a_facility_file_with_childcare_clears_the_flag(tmp_path):
    fac = gpd.GeoDataFrame(
        {"id": ["k1", "k2"], "category": ["childcare", "childcare"]},
        geometry=[shapely.Point(24.9440, 60.1700), shapely.Point(24.9420, 60.1680)], crs=4326)
    path = tmp_path / "kids.gpkg"
    fac.to_file(path, engine="pyogrio")
    res = run(facilities=path, categories=["childcare", "retail"], out=tmp_path / "o",
              map=False, figures=False, rasters=False)
    s = res.report["summary"]
    assert s["categories"]["childcare"]["status"] == "ok"
    assert s["no_data_categories"] == []
    assert s["categories"]["childcare"]["share_population_covered"] is not None
    lacking = ~res.blocks[col.covered("childcare")].to_numpy(bool)
    assert (res.blocks["lacks"].str.contains("childcare").to_numpy() == lacking).all()


def test_share_target_over_no_data_categories_is_unjudged_not_zero():
    """A plan target whose categories all have no data says so (reason no_data), where a
    target over categories with data keeps its share (hand-made blocks, two categories)."""
    from lifecircle.indicators import covered_by, unjudged
    from lifecircle.profiles import Target

    blocks = gpd.GeoDataFrame(
        {col.covered("care"): [True, False], col.covered("child"): [True, True]},
        geometry=[shapely.Point(0, 0), shapely.Point(1, 0)], crs=32650)
    both = Target(name="t", kind="block_share", value=0.8, unit="", label_en="t",
                  requires=(("care",), ("child",)))
    ok, missing = covered_by(blocks, both)
    assert ok.tolist() == [True, False] and missing == []
    ok, missing = covered_by(blocks, both, no_data=["care"])
    assert ok is None and missing == ["care"]
    assert unjudged(missing, ["care"])["reason_code"] == "no_data"
    assert unjudged(["gone"], ["care"])["reason_code"] == "not_evaluated"
