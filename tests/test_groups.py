"""Step-free groups, the residents each service serves, and stackable target sets.

The fixture is two parallel streets 60 m apart, joined by 40 steps at their west end and by a
ramp 1 km east, as a hand-written .osm (coordinates laid out in UTM zone 49N, so lengths are
the metres below up to the zone's scale factor, under 0.05 %):

    street B  (-100,60) (0,60) ------------------------------------------ (1000,60)--+
                |  steps (60 m)                                            | ramp (60+60+60 m)
    street A  (0,0) ------------------------------------------- (1000,0)---+
              (-400,0) starts street A

Block B1 at (80,-20) (leg 20 m to street A), B2 at (950,-20). The shop at (80,80) (leg 20 m
to street B). Walk B1 -> shop: default 20 + 80 + 60 (steps) + 80 + 20 = 260 m; step-free
20 + 920 + 180 (ramp) + 920 + 20 = 2,060 m. Elderly care at (-300,-20): B1 walks
20 + 380 + 20 = 420 m (covered within walk15's 1,200 m), B2 20 + 1,250 + 20 = 1,290 m (not).
B1 and B2 hold 1,000 residents each, of whom 100 and 900 are aged 60+: elderly care covers
50 % of residents and 10 % of residents aged 60+.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from lifecircle._errors import ConfigError
from lifecircle.profiles import load_profile
from lifecircle.profiles.targets import builtin_target_sets, load_target_set
from tests.helpers import oracle_distances

UTM = "EPSG:32649"
X0, Y0 = 500_000.0, 3_120_000.0
_TO_LONLAT = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)

NODES = {
    1: (-400, 0), 2: (0, 0), 3: (1000, 0),
    4: (0, 60), 5: (1000, 60),
    6: (1060, 0), 7: (1060, 60),
    8: (0, 30),  # used by the link of test_link_rules
    9: (-100, 60),
}
WAYS = [
    (101, [1, 2, 3], {"highway": "residential", "name": "Street A"}),
    (102, [9, 4, 5], {"highway": "residential", "name": "Street B"}),
    (103, [2, 4], {"highway": "steps", "step_count": "40"}),
    (104, [3, 6, 7, 5], {"highway": "footway", "wheelchair": "yes", "incline": "5%"}),
]


def write_osm(path: Path, ways: list[tuple[int, list[int], dict[str, str]]] = WAYS,
              node_tags: dict[int, dict[str, str]] | None = None) -> Path:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (x, y) in NODES.items():
        lon, lat = _TO_LONLAT.transform(X0 + x, Y0 + y)
        tags = (node_tags or {}).get(nid, {})
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<node id="{nid}" version="1" lat="{lat:.9f}" lon="{lon:.9f}">{body}</node>')
    for wid, refs, tags in ways:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{wid}" version="1">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _square(cx: float, cy: float, half: float = 5.0) -> shapely.Polygon:
    return shapely.box(X0 + cx - half, Y0 + cy - half, X0 + cx + half, Y0 + cy + half)


def make_case(folder: Path, *, pop60: bool = True) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    osm = write_osm(folder / "steps.osm")
    data: dict[str, list[object]] = {"block_id": ["B1", "B2"], "population": [1000.0, 1000.0]}
    if pop60:
        data["pop_60plus"] = [100.0, 900.0]
    blocks = gpd.GeoDataFrame(data, geometry=[_square(80, -20), _square(950, -20)], crs=UTM)
    blocks.to_file(folder / "blocks.gpkg", engine="pyogrio")
    fac = gpd.GeoDataFrame(
        {"id": ["shop", "care"], "category": ["retail", "elderly_care"],
         "name": ["Shop", "Care home"]},
        geometry=[shapely.Point(X0 + 80, Y0 + 80), shapely.Point(X0 - 300, Y0 - 20)], crs=UTM,
    )
    fac.to_file(folder / "facilities.gpkg", engine="pyogrio")
    return {"osm": osm, "blocks": folder / "blocks.gpkg",
            "facilities": folder / "facilities.gpkg"}


def _run(case: dict[str, Path], out: Path | None = None, **kw: object):  # type: ignore[no-untyped-def]
    from lifecircle import pipeline

    return pipeline.run(
        case["osm"], blocks=case["blocks"], facilities=case["facilities"], profile="walk15",
        out=out, map=False, figures=False, rasters=False, isochrones=False, **kw,
    )


def _b1(result, category: str) -> float:  # type: ignore[no-untyped-def]
    blocks = result.blocks.set_index("block_id")
    return float(blocks.loc["B1", f"walk_m_{category}"])


# ---------------------------------------------------------------------------------------------
# 17.1 step-free walking


def test_steps_bar_wheelchair_users_and_times_rederive(tmp_path: Path) -> None:
    case = make_case(tmp_path / "in")
    default = _run(case)
    assert _b1(default, "retail") == pytest.approx(260.0, rel=1e-3)
    res = _run(case, tmp_path / "out", group="wheelchair")
    assert _b1(res, "retail") == pytest.approx(2060.0, rel=1e-3)
    # 2,060 m at 0.79 m/s (2.84 km/h)
    blocks = res.blocks.set_index("block_id")
    assert blocks.loc["B1", "walk_min_retail"] == pytest.approx(2060 / (2840 / 60), rel=1e-3)
    gpkg = res.out / "lifecircle.gpkg"
    edges = gpd.read_file(gpkg, layer="edges", engine="pyogrio")
    assert "usable_wheelchair" in edges.columns
    steps = edges["highway"] == "steps"
    assert steps.sum() == 1 and not edges.loc[steps, "usable_wheelchair"].any()
    assert edges.loc[~steps, "usable_wheelchair"].all()
    from tests.helpers import rederive_from_gpkg

    reported, oracle = rederive_from_gpkg(gpkg, "retail")
    assert np.allclose(reported, oracle, rtol=1e-9, atol=1e-6)
    assert oracle[0] == pytest.approx(2060.0, rel=1e-3)
    # the report names the block covered for others but not for wheelchair users
    report = json.loads((res.out / "report.json").read_text())
    wheel = report["step_free"]["wheelchair"]
    assert wheel["edges_barred"] == 1 and wheel["edges_barred_steps"] == 1
    assert wheel["categories"]["retail"]["block_ids_covered_only"] == ["B1"]
    md = (res.out / "report.md").read_text()
    assert "- wheelchair users: 1 edges barred (1 of them steps)" in md
    assert "covered only by them (blocks B1)" in md


def _iso_contains(res, frame: gpd.GeoDataFrame, facility_id: str,  # type: ignore[no-untyped-def]
                  points: list[tuple[float, float]]) -> list[bool]:
    """Whether the isochrone row of ``facility_id`` holds each fixture point (x, y)."""
    (geom,) = frame.loc[frame["facility_id"] == facility_id, "geometry"]
    x, y = pyproj.Transformer.from_crs(UTM, res.network.crs, always_xy=True).transform(
        [X0 + px for px, _ in points], [Y0 + py for _, py in points])
    return [bool(b) for b in shapely.contains_xy(geom, np.asarray(x), np.asarray(y))]


#: street A where B1 meets it (240 m from the shop by the steps), the middle of the steps, and
#: street B beside the shop; the 6 min band reaches 284 m at 2.84 km/h, 480 m at 4.8 km/h
_ISO_POINTS = [(80.0, 0.0), (0.0, 30.0), (80.0, 60.0)]


def test_wheelchair_isochrone_follows_the_step_free_mask(tmp_path: Path) -> None:
    """The category's and the shop's own 6 min band: beyond the steps for the default group,
    not for wheelchair users (whose nearest way there is the 2,060 m ramp), also when drawn
    afterwards from the run's GeoPackage (``usable_wheelchair``)."""
    from lifecircle.outputs.isochrone_file import isochrones_from_run

    case = make_case(tmp_path / "in")
    kw = dict(bands_min=[6.0], walk_in_m=10.0)
    default = _run(case)
    wheel = _run(case, tmp_path / "out", group="wheelchair")
    for res, beyond in ((default, True), (wheel, False)):
        union = res.compute_isochrones(categories=["retail"], **kw)
        own = res.compute_isochrones(facility_ids=["user/shop"], categories=[], **kw)
        assert set(union["facility_id"]) == {"all"} and set(own["facility_id"]) == {"user/shop"}
        for frame, fid in ((union, "all"), (own, "user/shop")):
            assert _iso_contains(res, frame, fid, _ISO_POINTS) == [beyond, beyond, True]
    # reached street: B from the shop, 264 m east and 80 + 100 m west to its end (node 9);
    # the default group's 480 m add the steps and street A: 460 + 180 + 60 + 2 x 320 m
    wheel_m = wheel.compute_isochrones(categories=["retail"], **kw)["street_m"]
    default_m = default.compute_isochrones(categories=["retail"], **kw)["street_m"]
    assert float(wheel_m.iloc[0]) == pytest.approx(264 + 180, rel=1e-3)
    assert float(default_m.iloc[0]) == pytest.approx(460 + 180 + 60 + 640, rel=1e-3)
    again = isochrones_from_run(wheel.out, categories=["retail"], facility_ids=["user/shop"],
                                bands_min=[6.0], walk_in_m=10.0)
    for fid in ("all", "user/shop"):
        assert _iso_contains(wheel, again, fid, _ISO_POINTS) == [False, False, True]


@pytest.mark.parametrize("group", [None, "wheelchair"])
def test_report_names_the_group_each_category_was_judged_for(tmp_path: Path,
                                                            group: str | None) -> None:
    """gb50180-2018 judges elderly care and outdoor fitness for older people and childcare for
    carers on step-free ways; ``--group wheelchair`` judges every category for wheelchair users
    on step-free ways, and then no line may say older people or carers."""
    from lifecircle.outputs.report import render_markdown

    case = make_case(tmp_path / "in")
    fac = gpd.read_file(case["facilities"], engine="pyogrio")
    fac["category"] = ["convenience_store", "elderly_day_care"]
    fac.to_file(case["facilities"], engine="pyogrio")
    from lifecircle import pipeline

    res = pipeline.run(case["osm"], blocks=case["blocks"], facilities=case["facilities"],
                       profile="gb50180-2018", group=group, out=tmp_path / "out", map=False,
                       figures=False, rasters=False, isochrones=False)
    en = (res.out / "report.md").read_text(encoding="utf-8")
    zh = render_markdown(res.report, lang="zh", profile=res.profile)
    if group is None:
        assert ("Small ball court / outdoor fitness at the speed of older people (3.24 km/h); "
                in en)
        assert "Nursery (under 3) at the speed of carers with a small child (3 km/h) on ways " \
            "without steps;" in en
        assert "the other categories at the speed of adults (3.6 km/h)" in en
        assert "室外综合健身场地按老年人步速（3.24 km/h）评估；" in zh
        assert "托儿所按携幼儿的看护人步速（3 km/h）和无台阶的路网评估" in zh
        assert "wheelchair" not in en.lower() and "轮椅" not in zh
    else:
        assert ("- Judged for: every category at the speed of wheelchair users (2.84 km/h) on "
                "ways without steps or slopes above 8.3 %\n") in en
        assert ("- 评估人群：全部类别按轮椅使用者步速（2.84 km/h）和无台阶、坡度不超过 8.3%的路网"
                "评估\n") in zh
        for wrong in ("older people", "elderly speed", "carers"):
            assert wrong not in en
        for wrong in ("按老年人", "老年人步行速度", "看护人步速"):
            assert wrong not in zh


def test_speed_override_applies_to_the_chosen_group(tmp_path: Path) -> None:
    case = make_case(tmp_path / "in")
    res = _run(case, group="wheelchair", speed_kmh=3.6)
    blocks = res.blocks.set_index("block_id")
    assert blocks.loc["B1", "walk_min_retail"] == pytest.approx(2060 / 60, rel=1e-3)
    assert res.profile.default_group == "wheelchair"


def test_unrestricted_groups_keep_the_steps(tmp_path: Path) -> None:
    case = make_case(tmp_path / "in")
    res = _run(case, group="elderly")
    assert _b1(res, "retail") == pytest.approx(260.0, rel=1e-3)
    assert res.network.group_masks == {}
    assert res.report["step_free"] == {}


def test_steps_only_link_makes_a_block_unreachable(tmp_path: Path) -> None:
    """Without the ramp the shop is reachable only by steps: NaN and a reason, never 0."""
    case = make_case(tmp_path / "in")
    write_osm(case["osm"], ways=WAYS[:3])
    res = _run(case, group="wheelchair")
    blocks = res.blocks.set_index("block_id")
    assert np.isnan(blocks.loc["B1", "walk_min_retail"])
    assert "reachable only by steps" in blocks.loc["B1", "reason_retail"]
    cats = res.report["step_free"]["wheelchair"]["categories"]["retail"]
    assert cats["block_ids_reachable_only"] == ["B1", "B2"]


@pytest.mark.parametrize(
    ("way_tags", "node_tags", "barred"),
    [
        ({"highway": "steps", "ramp:wheelchair": "yes"}, {}, False),  # steps with a ramp
        ({"highway": "footway", "wheelchair": "no"}, {}, True),
        ({"highway": "footway", "incline": "12%"}, {}, True),  # steeper than 8.3 %
        ({"highway": "footway", "incline": "-8%"}, {}, False),
        ({"highway": "footway", "incline": "5°"}, {}, True),  # tan 5° = 8.75 %
        ({"highway": "footway", "incline": "up"}, {}, False),  # unknown grade
        # a raised kerb inside the link bars it; a lowered one does not
        ({"highway": "footway"}, {8: {"barrier": "kerb", "kerb": "raised"}}, True),
        ({"highway": "footway"}, {8: {"barrier": "kerb", "kerb": "lowered"}}, False),
        # at the junction with street B (three edges): it bars a crossing that ends there,
        # never the street
        ({"highway": "footway", "footway": "crossing"}, {4: {"kerb": "raised"}}, True),
        ({"highway": "footway"}, {4: {"kerb": "raised"}}, False),
    ],
)
def test_link_rules(tmp_path: Path, way_tags: dict[str, str], node_tags: dict[int, dict[str, str]],
                    barred: bool) -> None:
    """The west link tagged as given: barred for wheelchair users (2,060 m) or not (260 m)."""
    case = make_case(tmp_path / "in")
    write_osm(case["osm"], ways=[*WAYS[:2], (103, [2, 8, 4], way_tags), WAYS[3]],
              node_tags=node_tags)
    res = _run(case, group="wheelchair")
    assert _b1(res, "retail") == pytest.approx(2060.0 if barred else 260.0, rel=1e-3)


def test_dem_grade_bars_steep_edges(tmp_path: Path) -> None:
    """With a DEM the ramp's steepest stretch is checked against max_incline_pct."""
    from lifecircle.edge_access import usable_mask
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm

    net = WalkNetwork.from_osm(read_osm(write_osm(tmp_path / "s.osm")))
    group = load_profile("walk15").groups["wheelchair"]
    net.edge_max_grade_pct = np.where(net.edge_highway == "footway", 9.0, 2.0)
    usable = usable_mask(net, group)
    assert not usable[net.edge_highway == "footway"].any()
    assert not usable[net.edge_highway == "steps"].any()
    assert usable[net.edge_highway == "residential"].all()


def test_carer_is_step_free_in_gb50180() -> None:
    prof = load_profile("gb50180-2018")
    assert prof.groups["carer"].step_free and prof.groups["carer"].max_incline_pct is None
    wheel = prof.groups["wheelchair"]
    assert wheel.speed_kmh == pytest.approx(0.79 * 3.6, abs=0.01) and wheel.verified
    assert "Tolerico" in wheel.source


def test_unknown_group_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"no group 'wheelchiar'.*wheelchair"):
        load_profile("walk15").for_group("wheelchiar")


# ---------------------------------------------------------------------------------------------
# 17.2 the residents each service serves


def test_elderly_care_coverage_for_all_and_for_people_aged_60(tmp_path: Path) -> None:
    case = make_case(tmp_path / "in")
    res = _run(case, tmp_path / "out")
    report = json.loads((res.out / "report.json").read_text())
    care = report["summary"]["categories"]["elderly_care"]
    assert care["share_population_covered"] == pytest.approx(0.5)
    assert care["served"]["residents"] == "age60plus"
    assert care["served"]["share_population_covered"] == pytest.approx(0.1)
    assert care["served"]["methods"] == ["column"]
    assert "served" not in report["summary"]["categories"]["retail"]
    blocks = res.blocks.set_index("block_id")
    assert list(blocks["pop_method_age60plus"]) == ["column", "column"]
    md = (res.out / "report.md").read_text()
    assert "Elderly care: 10.0 % of residents aged 60+ covered (50.0 % of all residents" in md


def test_census_share_when_the_blocks_have_no_age_column(tmp_path: Path) -> None:
    case = make_case(tmp_path / "in", pop60=False)
    res = _run(case)
    care = res.report["summary"]["categories"]["elderly_care"]
    # 18.70 % of each block's 1,000 residents: covered share as for all residents
    assert care["served"]["population"] == pytest.approx(374.0)
    assert care["served"]["share_population_covered"] == pytest.approx(0.5)
    assert care["served"]["methods"] == ["share"]


def test_group_population_maps_a_column(tmp_path: Path) -> None:
    case = make_case(tmp_path / "in")
    blocks = gpd.read_file(case["blocks"]).rename(columns={"pop_60plus": "old"})
    blocks.to_file(case["blocks"], engine="pyogrio")
    res = _run(case, group_population=["age60plus=old"])
    care = res.report["summary"]["categories"]["elderly_care"]
    assert care["served"]["share_population_covered"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="no residents 'age60'"):
        _run(case, group_population=["age60=old"])


# ---------------------------------------------------------------------------------------------
# 17.3 target sets


def test_builtin_target_sets_have_sources() -> None:
    assert {"national-2021", "hunan-2021"} <= set(builtin_target_sets())
    hunan = load_target_set("hunan-2021")
    assert [t.value for t in hunan.values()] == [43.0, 18.0, 0.8]
    assert all(t.source and t.verified for t in hunan.values())
    # the national targets moved out of the profile, which still names them
    prof = load_profile("gb50180-2018")
    assert prof.targets["service_floor_area"].target_set == "national-2021"
    assert prof.targets["one_old_one_small_population"].population == "served"


def test_target_set_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown target set 'hunan'.*hunan-2021"):
        load_target_set("hunan")
    bad = tmp_path / "p.toml"
    bad.write_text('name = "p"\n[targets.x]\nkind = "staff_per_10000_residents"\nvalue = 1\n'
                   'categories = ["a"]\nunits = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'units'.*unit"):
        load_target_set(bad)


def _stations_case(folder: Path, *, staff: bool = True,
                   b2: tuple[float, float] = (300, -20)) -> dict[str, Path]:
    case = make_case(folder)
    blocks = gpd.GeoDataFrame(
        {"block_id": ["B1", "B2"], "population": [6000.0, 4000.0]},
        geometry=[_square(80, -20), _square(*b2)], crs=UTM,
    )
    blocks.to_file(case["blocks"], engine="pyogrio")
    data: dict[str, list[object]] = {
        "id": ["s1", "s2", "s3"],
        "category": ["community_service_station"] * 3,
        "area_m2": [1500, 1500, 1400],
        "volunteer_site": ["1", "1", "0"],
    }
    if staff:
        data["staff"] = [5, 6, 7]
    fac = gpd.GeoDataFrame(
        data, geometry=[shapely.Point(X0 + x, Y0 - 10) for x in (100, 150, 200)], crs=UTM)
    fac.to_file(case["facilities"], engine="pyogrio")
    return case


def _gb_run(case: dict[str, Path], out: Path, **kw: object):  # type: ignore[no-untyped-def]
    from lifecircle import pipeline

    return pipeline.run(
        case["osm"], blocks=case["blocks"], facilities=case["facilities"],
        profile="gb50180-2018", out=out, map=False, figures=False, rasters=False,
        isochrones=False, **kw)


def test_hunan_targets(tmp_path: Path) -> None:
    res = _gb_run(_stations_case(tmp_path / "in"), tmp_path / "out", targets=["hunan-2021"])
    report = json.loads((res.out / "report.json").read_text())
    got = {t["target"]: t for t in report["indicators"]["targets"]}
    area = got["hunan_service_floor_area"]
    assert area["value"] == pytest.approx(44.0) and area["meets"] is True
    workers = got["hunan_community_workers"]
    assert workers["value"] == pytest.approx(18.0) and workers["meets"] is True
    flags = got["hunan_volunteer_sites"]
    assert flags["value"] == pytest.approx(0.6667, abs=1e-4) and flags["meets"] is False
    assert area["target_set"] == "hunan-2021"
    assert got["service_floor_area"]["target_set"] == "national-2021"
    # 2SFCA per block: every resident reaches all three stations, so 4,400 m² / 10,000
    blocks = res.blocks.set_index("block_id")
    assert blocks["per100_hunan_service_floor_area"].tolist() == pytest.approx([44.0, 44.0])
    assert blocks["per10000_hunan_community_workers"].tolist() == pytest.approx([18.0, 18.0])
    md = (res.out / "report.md").read_text()
    assert "44" in md and "Community workers (Hunan)" in md


def test_workers_target_without_staff_column_names_it(tmp_path: Path) -> None:
    res = _gb_run(_stations_case(tmp_path / "in", staff=False), tmp_path / "out",
                  targets=["hunan-2021"])
    got = {t["target"]: t for t in res.report["indicators"]["targets"]}
    workers = got["hunan_community_workers"]
    assert workers["value"] is None and workers["meets"] is None
    assert workers["reason_code"] == "no_data"
    assert "give column 'staff'" in workers["reason"] and "--staff-col" in workers["reason"]
    assert got["hunan_service_floor_area"]["value"] == pytest.approx(44.0)


def test_staff_col_names_another_column(tmp_path: Path) -> None:
    case = _stations_case(tmp_path / "in")
    fac = gpd.read_file(case["facilities"]).rename(columns={"staff": "workers"})
    fac.to_file(case["facilities"], engine="pyogrio")
    res = _gb_run(case, tmp_path / "out", targets=["hunan-2021"], staff_col="workers")
    got = {t["target"]: t for t in res.report["indicators"]["targets"]}
    assert got["hunan_community_workers"]["value"] == pytest.approx(18.0)


def test_two_sfca_shares_supply_among_those_in_reach(tmp_path: Path) -> None:
    """B2 beyond every station's catchment: B1's 6,000 residents share all the supply.

    Catchment 15 min at 3.6 km/h = 900 m; B2 at (950, 80) walks over 1,100 m to the nearest
    station. Per block 2SFCA: B1 4,400 m² / 6,000 × 100 = 73.33, B2 0; city-wide still
    4,400 / 10,000 × 100 = 44.0.
    """
    case = _stations_case(tmp_path / "in", b2=(950, 80))
    res = _gb_run(case, tmp_path / "out", targets=["hunan-2021"])
    got = {t["target"]: t for t in res.report["indicators"]["targets"]}
    area = got["hunan_service_floor_area"]
    assert area["value"] == pytest.approx(44.0)
    assert area["population_within_catchment"] == pytest.approx(6000.0)
    blocks = res.blocks.set_index("block_id")
    assert blocks["per100_hunan_service_floor_area"].tolist() == pytest.approx(
        [4400 / 6000 * 100, 0.0])
    assert area["share_blocks_meeting"] == pytest.approx(0.5)


def test_oracle_sees_the_mask(tmp_path: Path) -> None:
    """The networkx oracle, given only usable edges, agrees with the masked search."""
    case = make_case(tmp_path / "in")
    res = _run(case, tmp_path / "out", group="wheelchair")
    gpkg = res.out / "lifecircle.gpkg"
    edges = gpd.read_file(gpkg, layer="edges", engine="pyogrio")
    fac = gpd.read_file(gpkg, layer="facilities", engine="pyogrio")
    aps = gpd.read_file(gpkg, layer="access_points", engine="pyogrio")
    for c in ("retail", "elderly_care"):
        f = fac[fac["category"] == c]
        oracle = oracle_distances(edges[edges["usable_wheelchair"].astype(bool)], f, aps)
        reported = aps[f"walk_m_{c}"].to_numpy(dtype=np.float64)
        assert np.allclose(np.nan_to_num(reported, nan=np.inf), oracle)


def test_cli_group_targets_and_columns(tmp_path: Path) -> None:
    """`lifecircle run --group ... --targets ... --staff-col ... --group-population ...`."""
    from click.testing import CliRunner

    from lifecircle.cli import cli

    case = _stations_case(tmp_path / "in")
    fac = gpd.read_file(case["facilities"]).rename(columns={"staff": "workers"})
    fac.to_file(case["facilities"], engine="pyogrio")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [
        "run", "--osm", str(case["osm"]), "--blocks", str(case["blocks"]),
        "--facilities", str(case["facilities"]), "--profile", "gb50180-2018",
        "--targets", "hunan-2021", "--staff-col", "workers", "--group", "wheelchair",
        "--no-map", "--no-figures", "--no-rasters", "--no-isochrones", "-q", "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    got = {t["target"]: t for t in report["indicators"]["targets"]}
    assert got["hunan_community_workers"]["value"] == pytest.approx(18.0)
    assert set(report["summary"]["groups"]) == {"wheelchair"}
    bad = CliRunner().invoke(cli, ["run", "--osm", str(case["osm"]), "--group", "wheelchiar",
                                   "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 3 and "did you mean" in bad.output.lower()
    bad = CliRunner().invoke(cli, ["run", "--osm", str(case["osm"]), "--blocks",
                                   str(case["blocks"]), "--group-population", "age60plus=old",
                                   "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 3 and "the blocks have no column 'old'" in bad.output


@pytest.mark.parametrize(("grade", "barred"), [(0.10, True), (0.05, False)])
def test_dem_grade_above_max_incline_bars_the_ramp(tmp_path: Path, grade: float,
                                                   barred: bool) -> None:
    """Street B lies 60 grade-metres above street A: the ramp's middle run climbs at ``grade``.

    With a DEM, a wheelchair user (max 8.3 %) cannot use a 10 % ramp but can use a 5 % one;
    street A and B themselves are flat.
    """
    from lifecircle.edge_access import usable_mask
    from lifecircle.elevation import apply_dem
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm
    from tests.test_elevation import write_dem

    dem = write_dem(tmp_path / "dem.tif", lambda x, y: grade * np.clip(y - Y0, 0, 60),
                    x0=X0 - 500, y0=Y0 + 200, nx_=170, ny=40, res=10, crs=UTM)
    net = apply_dem(WalkNetwork.from_osm(read_osm(write_osm(tmp_path / "s.osm"))), dem)
    usable = usable_mask(net, load_profile("walk15").groups["wheelchair"])
    ramp = net.edge_way_id == 104
    streets = np.isin(net.edge_way_id, [101, 102])
    assert ramp.sum() == 1 and bool(usable[ramp][0]) is not barred
    assert usable[streets].all()
    assert net.edge_max_grade_pct[ramp][0] == pytest.approx(100 * grade, rel=0.02)


@pytest.mark.parametrize("seed", range(6))
def test_masked_search_matches_networkx_on_usable_edges(seed: int) -> None:
    """Random lattices, a fifth of the edges steps: the step-free view agrees with networkx
    run on the usable edges alone (points snapped onto steps are unreachable in both)."""
    from lifecircle.edge_access import STEPS, network_for_group
    from lifecircle.routing import multi_source, point_distances
    from lifecircle.snapping import snap_points
    from tests.helpers import X0 as GX0
    from tests.helpers import Y0 as GY0
    from tests.test_elevation import _random_network

    rng = np.random.default_rng(seed)
    net = _random_network(rng)
    net.edge_flags = np.where(rng.random(net.n_edges) < 0.2, STEPS, 0).astype(np.uint8)
    view = network_for_group(net, load_profile("walk15").groups["wheelchair"])
    assert view.edge_usable is not None and view.node_id is net.node_id
    assert (net.edge_flags[~view.edge_usable] == STEPS).all()

    def points(k: int):  # type: ignore[no-untyped-def]
        xy = rng.uniform(0, 840, (k, 2)) + np.array([GX0 - 30, GY0 - 30])
        return snap_points(net, xy[:, 0], xy[:, 1], max_snap_m=200)

    fac, pts = points(4), points(40)
    nodes = multi_source(view, fac, limit_m=1e9)
    got, _ = point_distances(view, nodes, fac, pts)
    edges = net.edges_gdf()
    assert list(edges["usable_wheelchair"]) == list(view.edge_usable)
    oracle = oracle_distances(edges[edges["usable_wheelchair"]], fac.fields(net),
                              pts.fields(net))
    assert np.allclose(got, oracle, rtol=1e-9, atol=1e-6)
    assert np.isfinite(got).sum() >= 8  # not a vacuous comparison of infinities


def test_group_population_from_a_raster(tmp_path: Path) -> None:
    """--group-population age60plus=old.tif: exact zonal sums of that group's raster.

    10 m pixels holding 9 people west of x = 500 and 1 east of it. Each block is a 10 × 10 m
    square covering a quarter of four pixels (one pixel's area): B1 = 9 people aged 60+,
    B2 = 1; elderly care covers B1 only, so 90 % of them.
    """
    from tests.test_elevation import write_dem

    case = make_case(tmp_path / "in", pop60=False)
    tif = write_dem(tmp_path / "old.tif", lambda x, y: np.where(x < X0 + 500, 9.0, 1.0),
                    x0=X0 - 500, y0=Y0 + 200, nx_=170, ny=40, res=10, crs=UTM)
    res = _run(case, group_population=[f"age60plus={tif}"])
    blocks = res.blocks.set_index("block_id")
    assert list(blocks["pop_method_age60plus"]) == ["raster", "raster"]
    assert blocks["pop_age60plus"].tolist() == pytest.approx([9.0, 1.0])
    served = res.report["summary"]["categories"]["elderly_care"]["served"]
    assert served["share_population_covered"] == pytest.approx(0.9)


def test_group_population_raster_is_in_the_fingerprint(tmp_path: Path) -> None:
    """A group's raster counts by content, like the other input files: a run records it, the
    fingerprint a batch compares changes when the raster does, not when it only moves."""
    import shutil

    from lifecircle.batch import expected_fingerprint
    from lifecircle.outputs._atomic import file_sha256
    from tests.test_elevation import write_dem

    case = make_case(tmp_path / "in", pop60=False)

    def raster(path: Path, east: float) -> Path:
        return write_dem(path, lambda x, y: np.where(x < X0 + 500, 9.0, east), x0=X0 - 500,
                         y0=Y0 + 200, nx_=170, ny=40, res=10, crs=UTM)

    tif = raster(tmp_path / "old.tif", 1.0)
    opts = {"osm": str(case["osm"]), "blocks": str(case["blocks"]),
            "facilities": str(case["facilities"]), "profile": "walk15",
            "group_population": [f"age60plus={tif}"]}
    res = _run(case, tmp_path / "out", group_population=[f"age60plus={tif}"])
    written = json.loads((res.out / "_SUCCESS.json").read_text())["fingerprint"]
    first = expected_fingerprint({**opts, "isochrones": False, "map": False, "figures": False,
                                  "rasters": False})
    assert written == first
    assert first["inputs"]["group_population:age60plus"] == file_sha256(tif)
    assert res.metadata["inputs"]["group_population:age60plus"]["sha256"] == file_sha256(tif)
    # a batch region's relative raster path is taken from the region file's folder
    from lifecircle.config import resolve_paths

    rel = resolve_paths({"group_population": ["age60plus=old.tif", "age0to3=pop_0_3"]},
                        tmp_path)
    assert rel["group_population"] == [f"age60plus={tif}", "age0to3=pop_0_3"]
    moved = shutil.copy(tif, tmp_path / "moved.tif")
    assert expected_fingerprint({**opts, "group_population": [f"age60plus={moved}"]})[
        "sha256"] == expected_fingerprint(opts)["sha256"]
    raster(tif, 2.0)  # the same file, other people
    changed = expected_fingerprint(opts)
    assert changed["sha256"] != expected_fingerprint(
        {**opts, "group_population": [f"age60plus={moved}"]})["sha256"]
    assert changed["inputs"]["group_population:age60plus"] == file_sha256(tif)
    # a block column is a setting, not a file
    column = expected_fingerprint({**opts, "group_population": ["age60plus=pop_60plus"]})
    assert "group_population:age60plus" not in column["inputs"]


def test_siting_for_a_step_free_group_covers_on_its_mask(tmp_path: Path) -> None:
    """A new shop where the old one stood (260 m from B1 by the steps, 1,130 m from B2):
    within walk15's 15 min it covers both blocks for adults (1,200 m), and neither for
    wheelchair users (710 m at 2.84 km/h; their walks are 2,060 m and 1,190 m by the ramp),
    whom a matrix on the full network would have told B1 is covered."""
    from lifecircle import site

    case = make_case(tmp_path / "in")
    cand = gpd.GeoDataFrame({"id": ["C1"]}, geometry=[shapely.Point(X0 + 80, Y0 + 80)],
                            crs=UTM)
    gains = {}
    for group in (None, "wheelchair"):
        res = _run(case, group=group) if group else _run(case)
        plan = site(res, "retail", new=1, candidates=cand, remove=["user/shop"])
        gains[group] = plan.report["sites"][0]["gain_population"] if plan.report["sites"] else 0
    assert gains == {None: 2000.0, "wheelchair": 0.0}


def test_raster_cells_of_a_step_free_category_walk_on_its_mask(tmp_path: Path) -> None:
    """A raster cell 5 m east of the steps' middle snaps onto the steps: adults walk 5 m, 30 m
    up the steps, then 80 m along street B and the shop's 20 m leg: 135 m. For wheelchair
    users the cell is on a way they cannot use, so it has no time (as a block there would),
    never the adults' 135 m."""
    from lifecircle.outputs.raster import travel_time_cells

    case = make_case(tmp_path / "in")
    for group in (None, "wheelchair"):
        res = _run(case, group=group) if group else _run(case)
        cell = travel_time_cells(res, ["retail"], np.array([X0 + 5.0]), np.array([Y0 + 30.0]))
        speed = res.access["retail"].speed_kmh * 1000 / 60
        if group is None:
            assert cell["retail"][0] == pytest.approx(135.0 / speed, rel=1e-3)
        else:
            assert np.isnan(cell["retail"][0])
