"""Planning standards as data: tiers, group speeds, plan indicators, Chinese POI inputs.

Grid figures (tests/helpers.py: 100 m lattice, x 0..300, y 0..200; block access points at the
block centres): from a facility at (150, 20) the walk is B1 250 m, B2 220 m, B3 340 m, B4
unreachable (1.4 km from any street). Speeds: adult 4.8 km/h = 80 m/min, elderly 3.24 km/h =
54 m/min.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from lifecircle import columns as col
from lifecircle._errors import ConfigError, InputFileError
from lifecircle.cli import cli
from lifecircle.coverage import (
    DEFICIENCY_LIST_MAX,
    deficiency_list,
    deficiency_summary,
)
from lifecircle.indicators import households
from lifecircle.network import WalkNetwork
from lifecircle.outputs.report import render_markdown
from lifecircle.pipeline import run
from lifecircle.profiles import load_profile, profile_from_dict
from lifecircle.snapping import snap_points
from lifecircle.sources.coords import wgs84_to_gcj02
from lifecircle.sources.facilities import (
    categories_from_types,
    facilities_from_osm,
    read_facilities,
    read_type_map,
)
from lifecircle.sources.osm import OSMData
from tests.conftest import shared_osm
from tests.helpers import CRS, X0, Y0

GRID_PROFILE = """
name = "grid-standards"
threshold_min = 15.0
default_group = "adult"

[groups.adult]
speed_kmh = 4.8

[groups.elderly]
speed_kmh = 3.24
source = "test"

[tiers.t5]
label_en = "5-minute tier"
distance_m = 300.0
verified = true

[tiers.t15]
label_en = "15-minute tier"
distance_m = 1000.0
verified = false
source = "test source"

[categories.station]
tier = "t5"
tags = [{ amenity = "station_x" }]

[categories.centre]
tier = "t15"
tags = [{ amenity = "centre_x" }]

[categories.care_adult]
tier = "t15"
threshold_min = 4.0

[categories.care_elderly]
tier = "t15"
group = "elderly"
threshold_min = 4.0

[categories.care_radius]
tier = "t5"
group = "elderly"
radius_m = 300.0

[categories.eld]
tier = "t15"
threshold_min = 4.0

[categories.kid]
tier = "t15"
threshold_min = 3.0

[categories.svc]
tier = "t15"
threshold_min = 15.0

[targets.ooos]
kind = "block_share"
value = 0.8
unit = "share of blocks"
requires = [["eld"], ["kid"]]
verified = true

[targets.ooos_pop]
kind = "population_share"
value = 0.8
unit = "share of residents"
requires = [["eld"], ["kid"]]
verified = false
source = "test"

[targets.community]
kind = "block_share"
value = 1.0
unit = "share of blocks"
requires = [["svc"]]
verified = true

[targets.floor]
kind = "floor_area_per_100_households"
value = 30.0
unit = "m2 per 100 households"
categories = ["svc"]
catchment_min = 15.0
verified = true
"""


def _pt(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


@pytest.fixture(scope="module")
def grid_standards(tmp_path_factory):
    from tests.helpers import make_grid_case

    folder = tmp_path_factory.mktemp("standards")
    case = make_grid_case(folder)
    profile = folder / "grid.toml"
    profile.write_text(GRID_PROFILE, encoding="utf-8")
    rows = [
        # station: far (node (0,0) through a 20 m leg); centre: on B1's own edge
        ("st1", "station", _pt(0, -20), None),
        ("ce1", "centre", _pt(250, 90), None),
        ("ca1", "care_adult", _pt(150, 20), None),
        ("ca2", "care_elderly", _pt(150, 20), None),
        ("ca3", "care_radius", _pt(150, 20), None),
        ("el1", "eld", _pt(150, 20), None),
        ("ki1", "kid", _pt(150, 20), None),
        ("sv1", "svc", _pt(150, 20), 120.0),
        ("sv2", "svc", _pt(1050, 1010), 80.0),  # on the island: no block reaches it
        ("sv3", "svc", _pt(150, 20), None),  # floor area unknown
    ]
    fac = gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "area_m2": [r[3] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs=CRS,
    )
    fac_path = folder / "standards_facilities.gpkg"
    fac.to_file(fac_path, engine="pyogrio")
    result = run(
        case.graphml, profile=profile, facilities=fac_path, blocks=case.blocks, out=folder / "out"
    )
    return result


def _row(result, block_id):
    return result.blocks.set_index("block_id").loc[block_id]


# -- tier semantics --------------------------------------------------------------------------


def test_a_15_minute_facility_does_not_satisfy_a_5_minute_requirement(grid_standards):
    b1 = _row(grid_standards, "B1")
    # centre: along B1's own edge, 10 m leg + 0 m along + 30 m leg = 40 m = 0.5 min
    assert b1[col.walk_m("centre")] == pytest.approx(40.0)
    assert b1[col.walk_min("centre")] == pytest.approx(0.5)
    # station: 20 m leg to node (0,0), 300 m to (200,100), 50 m along, 30 m leg = 400 m
    assert b1[col.walk_m("station")] == pytest.approx(400.0)
    assert b1[col.walk_min("station")] == pytest.approx(5.0)
    # the station limit is its tier's 300 m at 80 m/min = 3.75 min: 1.25 min over
    assert grid_standards.profile.threshold_of("station") == pytest.approx(3.75)
    assert b1[col.short_min("station")] == pytest.approx(1.25)
    assert not b1[col.covered("station")]
    assert b1[col.covered("centre")]
    # the near centre does not make up for the missing station: t5 fails, t15 passes
    # (the t15 categories eld/kid/svc/care_* have their own verdicts below)
    assert "station" in b1[col.tier_lacks("t5")].split(",")
    assert "centre" not in b1[col.tier_lacks("t15")].split(",")
    assert not b1[col.tier_met("t5")]
    assert b1[col.DEFICIENCIES].startswith("t5: station")


def test_elderly_speed_turns_a_covered_block_uncovered(grid_standards):
    b1 = _row(grid_standards, "B1")
    # 250 m: adults 250 / 80 = 3.125 min <= 4; older people 250 / 54 = 4.63 min > 4
    assert b1[col.walk_min("care_adult")] == pytest.approx(250 / 80)
    assert b1[col.walk_min("care_elderly")] == pytest.approx(250 / 54)
    assert b1[col.covered("care_adult")]
    assert not b1[col.covered("care_elderly")]
    assert b1[col.short_min("care_elderly")] == pytest.approx(250 / 54 - 4.0)
    # a radius in metres is converted at the group's speed: the distance rule, 250 <= 300 m
    assert grid_standards.profile.threshold_of("care_radius") == pytest.approx(300 / 54)
    assert b1[col.covered("care_radius")]
    cats = grid_standards.report["summary"]["categories"]
    assert cats["care_elderly"]["speed_kmh"] == 3.24
    assert cats["care_adult"]["speed_kmh"] == 4.8


def test_unreachable_block_has_nan_and_a_reason(grid_standards):
    b4 = _row(grid_standards, "B4")
    assert math.isnan(b4[col.walk_min("centre")])
    assert math.isnan(b4[col.short_min("centre")])
    assert b4["reason_centre"]
    assert not b4[col.tier_met("t15")]


def test_indicator_arithmetic_by_hand(grid_standards):
    targets = {t["target"]: t for t in grid_standards.report["indicators"]["targets"]}
    # eld (4 min = 320 m) covers B1 (250), B2 (220); kid (3 min = 240 m) covers B2 only;
    # both: B2 -> 1 of 4 blocks, 200 of 650 residents
    assert targets["ooos"]["value"] == 0.25
    assert targets["ooos"]["meets"] is False
    assert targets["ooos_pop"]["value"] == round(200 / 650, 4)
    assert targets["ooos_pop"]["population_covered"] == 200.0
    # svc within 15 min: B1, B2, B3 -> 3 of 4 blocks against 100 %
    assert targets["community"]["value"] == 0.75
    assert targets["community"]["meets"] is False
    # floor area: households = population / 2.5 = 40, 80, 120, 20 (260 in all); known areas
    # 120 + 80 m² (sv3 unknown) -> 100 * 200 / 260 = 76.92 m² per 100 households
    floor = targets["floor"]
    assert floor["households"] == 260.0
    assert floor["floor_area_m2"] == 200.0
    assert floor["facilities_area_unknown"] == 1
    assert floor["lower_bound"] is True
    assert floor["value"] == round(100 * 200 / 260, 2)
    assert floor["meets"] is True
    # per block: only sv1 (120 m²) is within 15 min: B1 300, B2 150, B3 100; B4 0
    per = grid_standards.blocks.set_index("block_id")[col.floor_area_per_100hh("floor")]
    assert per["B1"] == pytest.approx(300.0)
    assert per["B2"] == pytest.approx(150.0)
    assert per["B3"] == pytest.approx(100.0)
    assert per["B4"] == pytest.approx(0.0)
    assert floor["share_blocks_meeting"] == 0.75


def test_report_marks_unverified_figures(grid_standards):
    md_en = render_markdown(grid_standards.report, lang="en")
    md_zh = render_markdown(grid_standards.report, lang="zh")
    assert "15-minute tier †" in md_en  # the t15 tier is unverified
    assert "5-minute tier (`t5`)" in md_en  # t5 is verified: no dagger
    assert "| ooos_pop † |" in md_en and "| ooos |" in md_en
    assert "Plan indicators" in md_en and "规划指标" in md_zh
    assert "76.9 m²" in md_en and "25.0 %" in md_en
    assert "lower bound" in md_en


def test_deficiency_list_in_report(grid_standards):
    deficits = {d["block_id"]: d for d in grid_standards.report["deficiencies"]}
    b1 = deficits["B1"]
    assert b1["lacks"]["t5"] == ["station"]
    # B1 misses kid (250 m > 240 m) and care_elderly at t15
    assert set(b1["lacks"]["t15"]) == {"care_elderly", "kid"}
    assert b1["n_lacking"] == 3


def test_deficiency_list_is_bounded_and_the_summary_covers_every_block():
    """Hand-made: 5 blocks, 4 lacking something; the list keeps the 2 lacking most, the
    summary counts all 4 by what they lack, most people first."""
    prof = load_profile("gb50180-2018")
    t5, t15 = col.tier_lacks("min5"), col.tier_lacks("min15")
    blocks = pd.DataFrame({
        "block_id": ["a", "b", "c", "d", "e"],
        "population": [100.0, 50.0, 400.0, 30.0, 999.0],
        "n_lacking": [1, 2, 1, 2, 0],
        t5: ["kindergarten", "kindergarten", "", "kindergarten", ""],
        t15: ["", "nursing_home", "nursing_home", "nursing_home", ""],
    })
    assert {"min5", "min15"} <= set(prof.tier_categories())
    worst = deficiency_list(blocks, prof, limit=2)
    assert [w["block_id"] for w in worst] == ["b", "d"]
    assert worst[0]["lacks"] == {"min5": ["kindergarten"], "min15": ["nursing_home"]}
    assert len(deficiency_list(blocks, prof, limit=None)) == 4
    summary = deficiency_summary(blocks, prof, listed=2, patterns=2)
    assert summary["blocks"] == 4 and summary["population"] == 580.0
    assert summary["listed"] == 2
    # c alone lacks the nursing home (400 people); b, d lack both (80); a the kindergarten (100)
    assert summary["patterns"] == [
        {"lacks": {"min15": ["nursing_home"]}, "blocks": 1, "population": 400.0},
        {"lacks": {"min5": ["kindergarten"]}, "blocks": 1, "population": 100.0},
    ]
    assert summary["other_patterns"] == {"patterns": 1, "blocks": 2, "population": 80.0}
    assert summary["full_list"]["columns"] == [t15, t5]  # the profile's tier order


def test_households_column_wins():
    frame = pd.DataFrame({"population": [100.0, 50.0], "households": [10, 30]})
    hh, method = households(frame, load_profile("walk15"))
    assert hh.tolist() == [10.0, 30.0] and method == "column"
    hh, method = households(frame[["population"]], load_profile("walk15"))
    assert hh.tolist() == [40.0, 20.0] and "2.5" in method


def test_walk15_has_one_tier_at_15_minutes(default_run):
    prof = default_run.profile
    assert list(prof.tiers) == ["min15"]
    assert all(prof.threshold_of(c) == 15.0 for c in prof.categories)
    assert all(prof.group_of(c).speed_kmh == 4.8 for c in prof.categories)
    blk = default_run.blocks
    # categories with no data in the source (Helsinki's childcare) count in no tier
    no_data = default_run.report["summary"]["no_data_categories"]
    expected = np.logical_and.reduce(
        [blk[col.covered(c)] for c in prof.categories if c not in no_data])
    assert (blk[col.tier_met("min15")].to_numpy() == expected).all()


# -- built-in profiles: figures and statuses per the standards notes -------------------------


@pytest.mark.parametrize(
    ("tier", "distance_m", "verified"),
    [("min15", 1000.0, True), ("min10", 500.0, True), ("min5", 300.0, False)],
)
def test_gb_tiers(tier, distance_m, verified):
    t = load_profile("gb50180-2018").tiers[tier]
    assert t.distance_m == distance_m and t.verified is verified and t.source


@pytest.mark.parametrize(
    ("category", "tier", "radius_m", "verified", "group"),
    [
        ("junior_middle_school", "min15", 1000.0, True, "adult"),
        ("health_centre", "min15", 1000.0, False, "adult"),
        ("nursing_home", "min15", 1000.0, False, "elderly"),
        ("primary_school", "min10", 500.0, True, "carer"),
        ("food_market", "min10", 500.0, False, "adult"),
        ("sports_ground", "min10", 500.0, False, "adult"),
        ("community_service_station", "min5", 300.0, False, "adult"),
        ("health_station", "min5", 300.0, False, "adult"),
        ("elderly_day_care", "min5", 300.0, False, "elderly"),
        ("kindergarten", "min5", 300.0, False, "carer"),
        ("nursery", "min5", 300.0, True, "carer"),
        ("outdoor_fitness", "min5", 300.0, False, "elderly"),
    ],
)
def test_gb_categories(category, tier, radius_m, verified, group):
    p = load_profile("gb50180-2018")
    assert p.tier_of(category).name == tier
    assert p.limit_m_of(category) == radius_m
    assert p.categories[category].verified is verified
    assert p.group_of(category).name == group
    assert p.threshold_of(category) == pytest.approx(
        radius_m / p.group_of(category).speed_m_per_min
    )


def test_gb_and_rural_targets():
    gb = load_profile("gb50180-2018").targets
    assert gb["one_old_one_small"].value == 0.8
    assert gb["community_service"].value == 1.0
    assert gb["service_floor_area"].value == 30.0
    rural = load_profile("rural")
    assert rural.area_type == "rural"
    assert rural.targets["community_service"].value == 0.8
    assert all(not t.verified and t.note for t in rural.tiers.values())


def test_gb_speeds():
    g = load_profile("gb50180-2018").groups
    assert g["adult"].speed_kmh == 3.6  # 60 m/min
    assert 0.8 <= g["elderly"].speed_kmh / 3.6 <= 1.0  # m/s


# -- strict loader ---------------------------------------------------------------------------


def _profile(**overrides):
    base = {
        "name": "x",
        "groups": {"adult": {"speed_kmh": 4.8}},
        "tiers": {"t5": {"distance_m": 300.0}, "t15": {"minutes": 15.0}},
        "categories": {"a": {"tier": "t5", "tags": [{"amenity": "a"}]}},
    }
    for key, value in overrides.items():
        base[key] = value
    return base


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tier": {}}, "unknown key 'tier' (did you mean 'tiers'?)"),
        (
            {"tiers": {"t5": {"distnce_m": 300}}},
            "[tiers.t5]: unknown key 'distnce_m' (did you mean 'distance_m'?)",
        ),
        (
            {"categories": {"a": {"tier": "t5", "radius": 300}}},
            "unknown key 'radius' (did you mean 'radius_m'?)",
        ),
        ({"categories": {"a": {"tier": "t55"}}}, "tier 't55' is not defined (did you mean 't5'?)"),
        ({"categories": {"a": {}}}, "[categories.a]: name its tier"),
        (
            {"categories": {"a": {"tier": "t5", "radius_m": "300 m"}}},
            "[categories.a]: radius_m must be a number",
        ),
        (
            {"categories": {"a": {"tier": "t5", "radius_m": -3}}},
            "[categories.a]: radius_m must be a positive number",
        ),
        ({"tiers": {"t5": {"minutes": 0}}}, "[tiers.t5]: minutes must be a positive number"),
        ({"tiers": {"t5": {"verified": "yes"}}}, "[tiers.t5]: verified must be true or false"),
        (
            {"targets": {"x": {"kind": "block_shares", "value": 1, "requires": ["a"]}}},
            "did you mean 'block_share'",
        ),
        (
            {"targets": {"x": {"value": 0.8, "requires": [["b"]]}}},
            "[targets.x]: category 'b' is not in the profile",
        ),
        (
            {"targets": {"x": {"value": 0.8, "requires": ["a"], "valu": 1}}},
            "unknown key 'valu' (did you mean 'value'?)",
        ),
        ({"targets": {"x": {"requires": ["a"]}}}, "[targets.x]: value is required"),
        ({"area_type": "suburban"}, "area_type must be"),
        (
            {"categories": {"a": {"tier": "t5", "tags": [{"name_contains": ["x"]}]}}},
            "needs at least one OSM tag",
        ),
    ],
)
def test_loader_errors(overrides, message):
    with pytest.raises(ConfigError) as info:
        profile_from_dict(_profile(**overrides), where="p.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("p.toml")


def test_threshold_override_wins_over_radii():
    p = load_profile("gb50180-2018").replace(threshold_min=12.0)
    assert all(p.threshold_of(c) == 12.0 for c in p.categories)


# -- facility matching -----------------------------------------------------------------------


def _osm_with(pois) -> OSMData:
    empty = np.empty(0)
    return OSMData(
        path="mem",
        way_ids=empty,
        way_highway=[],
        way_name=[],
        refs=empty,
        way_ptr=np.zeros(1, dtype=np.int64),
        ref_lon=empty,
        ref_lat=empty,
        pois=pois,
        landuse=[],
        buildings=[],
        gates=[],
    )


def test_tag_name_rules_and_keyword_fallback():
    lon, lat = 118.78, 32.04
    # a 20 m × 10 m community-centre building with 3 levels (about 600 m² of floor)
    dx, dy = 20 / (111_320 * math.cos(math.radians(lat))), 10 / 110_574
    building = shapely.box(lon, lat, lon + dx, lat + dy).wkb
    pois = [
        ("node", 1, lon, lat, {"amenity": "clinic", "name": "新街口社区卫生服务中心"}, None),
        ("node", 2, lon, lat, {"amenity": "clinic", "name": "仁爱诊所"}, None),
        ("node", 3, lon, lat, {"name": "阳光幼儿园"}, None),
        ("node", 4, lon, lat, {"amenity": "kindergarten", "name": "Sunshine"}, None),
        (
            "way",
            5,
            math.nan,
            math.nan,
            {
                "amenity": "community_centre",
                "name": "丰富路社区党群服务中心",
                "building": "yes",
                "building:levels": "3",
            },
            building,
        ),
        (
            "node",
            6,
            lon,
            lat,
            {"amenity": "community_centre", "name": "华侨路街道社区服务中心"},
            None,
        ),
    ]
    fac = facilities_from_osm(_osm_with(pois), load_profile("gb50180-2018"))
    by = {(r.facility_id, r.category): r for r in fac.itertuples()}
    assert ("node/1", "health_centre") in by and ("node/1", "health_station") not in by
    assert ("node/2", "health_station") in by and ("node/2", "health_centre") not in by
    kw = by[("node/3", "kindergarten")]
    assert kw.match == "name_keyword" and kw.source == "name_keyword"
    assert by[("node/4", "kindergarten")].match == "tag"
    station = by[("way/5", "community_service_station")]
    assert station.floor_area_m2 == pytest.approx(600.0, rel=0.01)
    assert station.area_source == "osm_footprint_x_levels"
    assert ("node/6", "community_centre") in by and (
        "node/6",
        "community_service_station",
    ) not in by
    assert math.isnan(by[("node/6", "community_centre")].floor_area_m2)
    assert by[("node/6", "community_centre")].area_source == "unknown"


def test_type_map_longest_prefix(tmp_path):
    tmap = tmp_path / "types.csv"
    tmap.write_text(
        "prefix,category\n09,health_centre\n090102,health_station\n"
        "医疗保健服务;诊所,health_station\n医疗保健服务,health_centre\n",
        encoding="utf-8",
    )
    rules = read_type_map(tmap, load_profile("gb50180-2018"))
    values = pd.Series(
        [
            "090101",
            "090102",
            "06|090102",
            "医疗保健服务;诊所",
            "医疗保健服务;综合医院",
            "9999",
            None,
        ]
    )
    got = categories_from_types(values, rules).tolist()
    assert got == [
        "health_centre",
        "health_station",
        "health_station",
        "health_station",
        "health_centre",
        None,
        None,
    ]


def test_type_map_errors(tmp_path):
    prof = load_profile("gb50180-2018")
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,category\n09,helth_station\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"row 1: category 'helth_station'.*did you mean"):
        read_type_map(bad, prof)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("code,cat\n09,health_station\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="needs the columns prefix and category"):
        read_type_map(nohead, prof)


def test_type_map_through_the_cli(grid_case, tmp_path):
    """A POI table with a type column: unmatched rows are counted, not silently dropped."""
    tmap = tmp_path / "types.csv"
    tmap.write_text("prefix,category\n0601,retail\n09,health\n", encoding="utf-8")
    pois = tmp_path / "pois.csv"
    pd.DataFrame(
        {
            "x": [X0 + 150, X0 + 160, X0 + 170],
            "y": [Y0 + 20, Y0 + 20, Y0 + 20],
            "typecode": ["060101", "090100", "150700"],
            "name": ["shop", "clinic", "bus stop"],
        }
    ).to_csv(pois, index=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "run",
            "--osm",
            str(grid_case.graphml),
            "--blocks",
            str(grid_case.blocks),
            "--facilities",
            str(pois),
            "--facilities-crs",
            "EPSG:32650",
            "--type-map",
            str(tmap),
            "--type-col",
            "typecode",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    tm = report["facilities"]["type_map"]
    assert tm["unmatched"] == 1 and tm["matched"] == 2 and tm["unmatched_examples"] == ["150700"]
    assert report["facilities"]["by_category_and_match"]["retail"] == {"type_map": 1}
    assert "150700" in (out / "report.md").read_text()
    fac = gpd.read_file(out / "lifecircle.gpkg", layer="facilities")
    assert set(fac["match"]) == {"type_map"}


# -- shared extracts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extract", "lang"), [("nanjing_xinjiekou.osm.gz", "zh"), ("beijing_haidian.osm.gz", "en")]
)
def test_gb_profile_on_real_extracts(extract, lang, tmp_path):
    osm = shared_osm(extract)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "run",
            "--osm",
            str(osm),
            "--profile",
            "gb50180-2018",
            "--lang",
            lang,
            "--out",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    blocks = gpd.read_file(out / "lifecircle.gpkg", layer="blocks")
    prof = load_profile("gb50180-2018")
    for tier, cats in prof.tier_categories().items():
        assert blocks[col.tier_met(tier)].dtype == bool
        lacks = blocks[col.tier_lacks(tier)].fillna("")
        # a tier is met exactly when it lacks nothing, and lacks only its own categories
        assert (blocks[col.tier_met(tier)] == (lacks == "")).all()
        assert set(",".join(lacks).split(",")) - {""} <= set(cats)
    report = json.loads((out / "report.json").read_text())
    assert {t["target"] for t in report["indicators"]["targets"]} == set(prof.targets)
    n_lacking = int((blocks["n_lacking"] > 0).sum())
    assert report["report_version"] == 2
    assert report["deficiency_summary"]["blocks"] == n_lacking
    assert sum(p["blocks"] for p in report["deficiency_summary"]["patterns"]) + report[
        "deficiency_summary"]["other_patterns"]["blocks"] == n_lacking
    assert len(report["deficiencies"]) == min(n_lacking, DEFICIENCY_LIST_MAX)
    md = (out / "report.md").read_text()
    other = render_markdown(report, lang="en" if lang == "zh" else "zh")
    for text in (md, other):
        assert "†" in text
    zh, en = (md, other) if lang == "zh" else (other, md)
    assert "规划指标" in zh and "五分钟生活圈 †" in zh and "“一老一小”" in zh
    assert "Plan indicators" in en and "5-minute life circle †" in en
    assert "Community service floor area" in en


def test_gcj02_file_lands_on_the_same_streets(tmp_path):
    """GCJ-02 copies of WGS 84 points, declared as gcj02, snap like their twins."""
    osm = shared_osm("nanjing_xinjiekou.osm.gz")
    from lifecircle.pipeline import load_network

    net, data = load_network(osm)
    assert data is not None
    fac = facilities_from_osm(data, load_profile("walk15")).drop_duplicates("facility_id")
    fac = fac.head(40)
    lon, lat = fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    frame = pd.DataFrame({"id": range(len(fac)), "category": fac["category"].to_numpy()})
    wgs = tmp_path / "wgs.csv"
    gcj = tmp_path / "gcj.csv"
    frame.assign(lon=lon, lat=lat).to_csv(wgs, index=False)
    frame.assign(lon=glon, lat=glat).to_csv(gcj, index=False)
    prof = load_profile("walk15")
    a = read_facilities(wgs, prof).to_crs(net.crs)
    b = read_facilities(gcj, prof, crs="gcj02").to_crs(net.crs)
    naive = read_facilities(gcj, prof).to_crs(net.crs)
    shift = a.geometry.distance(b.geometry).to_numpy()
    assert shift.max() < 3.0  # metres
    assert a.geometry.distance(naive.geometry).min() > 100.0  # undeclared GCJ-02 is far off
    sa = _snap(net, a)
    sb = _snap(net, b)
    assert (sa.edge == sb.edge).mean() >= 0.95
    same = sa.edge == sb.edge
    assert np.abs(sa.along_m[same] - sb.along_m[same]).max() < 3.0


def _snap(net: WalkNetwork, gdf: gpd.GeoDataFrame):
    return snap_points(net, gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), max_snap_m=300)


def test_builtin_profiles_all_load():
    from lifecircle.profiles import builtin_profiles

    assert {"gb50180-2018", "rural", "walk15"} <= set(builtin_profiles())
    for name in builtin_profiles():
        p = load_profile(name)
        d = p.to_dict()
        assert set(d["tiers"]) == set(p.tiers)
        json.dumps(d)  # plain data


def test_horizon_reaches_the_longest_threshold():
    data = _profile(
        horizon_min=10.0,
        categories={"a": {"tier": "t5", "radius_m": 2000.0}},  # 2000 m at 80 m/min = 25 min
    )
    p = profile_from_dict(data)
    assert p.threshold_of("a") == 25.0
    assert p.horizon_min == 25.0
    slower = p.replace(speed_kmh=2.4)  # 40 m/min: 2000 m take 50 min
    assert slower.threshold_of("a") == 50.0 and slower.horizon_min == 50.0


def test_user_profile_typo_through_the_cli(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text(GRID_PROFILE.replace("distance_m = 300.0", "distnce_m = 300.0"), "utf-8")
    res = CliRunner().invoke(cli, ["run", "--profile", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3
    assert "[tiers.t5]: unknown key 'distnce_m' (did you mean 'distance_m'?)" in res.output
    assert "Traceback" not in res.output


def test_unknown_floor_area_is_said_in_both_languages(grid_standards):
    report = json.loads(json.dumps(grid_standards.report))
    floor = next(t for t in report["indicators"]["targets"] if t["target"] == "floor")
    floor.update(value=None, meets=None, reason_code="area_unknown")
    assert "floor area unknown for every facility" in render_markdown(report, lang="en")
    assert "全部设施面积未知" in render_markdown(report, lang="zh")
    assert "floor-area catchments use the adult speed (4.8 km/h)" in render_markdown(report)
