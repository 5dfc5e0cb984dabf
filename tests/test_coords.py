"""Tests for lifecircle.sources.coords (GCJ-02 / BD-09 / WGS 84 conversions)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle._errors import ConfigError, InputError
from lifecircle.sources.coords import (
    CHINA_BOX,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_box,
    parse_facilities_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = pyproj.Geod(ellps="WGS84")

ALL_CONVERSIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]

CITIES_OUTSIDE = {
    "London": (-0.1276, 51.5072),
    "New York": (-74.0060, 40.7128),
    "Sydney": (151.2093, -33.8688),
}

CITIES_INSIDE = {
    "Beijing": (116.397, 39.909),
    "Shanghai": (121.47, 31.23),
    "Guangzhou": (113.26, 23.13),
    "Chengdu": (104.07, 30.67),
    "Urumqi": (87.62, 43.83),
    "Lhasa": (91.11, 29.65),
    "Harbin": (126.63, 45.75),
    "Kunming": (102.71, 25.04),
    "Haikou": (110.20, 20.04),
    "Changsha": (112.94, 28.23),
}


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance on WGS 84 between two sets of points."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --------------------------------------------------------------------------------------------
# Independent oracle: a scalar, pure-``math`` transcription of the published algorithm in its
# customary form (two "transform" polynomials and the "magic" radius factors), deliberately
# not sharing code or arrangement with the vectorised implementation.

KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0


def _oracle_outside(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _oracle_transform_lat(x: float, y: float) -> float:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    out += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    out += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    out += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return out


def _oracle_transform_lon(x: float, y: float) -> float:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    out += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    out += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    out += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return out


def oracle_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _oracle_outside(lon, lat):
        return lon, lat
    d_lat = _oracle_transform_lat(lon - 105.0, lat - 35.0)
    d_lon = _oracle_transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def oracle_gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    if _oracle_outside(lon, lat):
        return lon, lat
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _sample_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded points over mainland China's extent (a margin inside the conversion box)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(73.5, 134.8, n), rng.uniform(18.0, 53.5, n)


# --------------------------------------------------------------------------------------------
# known pairs


# Published reference pairs: the input (116.404, 39.915) and the outputs printed in the README
# test of the widely used wandergis/coordtransform library (same constants as here).
def test_published_pair_wgs84_to_gcj02():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-12)


def test_published_pair_gcj02_to_bd09():
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-12)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-12)


# That library's inverses are the one-step approximations. The exact inverse must land near
# them (same neighbourhood) but map forward onto the input far more precisely than they do.
@pytest.mark.parametrize(
    ("inverse", "oracle_forward", "one_step"),
    [
        (gcj02_to_wgs84, oracle_wgs84_to_gcj02, (116.39775550083061, 39.91359571849836)),
        (bd09_to_gcj02, oracle_gcj02_to_bd09, (116.39762729119315, 39.90865673957631)),
    ],
    ids=["gcj02_to_wgs84", "bd09_to_gcj02"],
)
def test_exact_inverse_beats_published_one_step(inverse, oracle_forward, one_step):
    target = (116.404, 39.915)
    lon, lat = inverse(*target)
    exact_miss = metres(*oracle_forward(float(lon), float(lat)), *target)
    one_step_miss = metres(*oracle_forward(*one_step), *target)
    assert exact_miss < 1e-6
    assert one_step_miss > 0.01  # 6 cm (GCJ-02) and 5 cm (BD-09) at this point
    assert metres(lon, lat, *one_step) < 1.0


def test_forward_conversions_match_the_oracle():
    lons, lats = _sample_points(500, seed=11)
    lons = np.concatenate([lons, [p[0] for p in CITIES_INSIDE.values()]])
    lats = np.concatenate([lats, [p[1] for p in CITIES_INSIDE.values()]])
    gcj_lon, gcj_lat = wgs84_to_gcj02(lons, lats)
    bd_lon, bd_lat = gcj02_to_bd09(lons, lats)
    for i, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
        want_lon, want_lat = oracle_wgs84_to_gcj02(lon, lat)
        assert gcj_lon[i] == pytest.approx(want_lon, abs=1e-11)
        assert gcj_lat[i] == pytest.approx(want_lat, abs=1e-11)
        want_lon, want_lat = oracle_gcj02_to_bd09(lon, lat)
        assert bd_lon[i] == pytest.approx(want_lon, abs=1e-11)
        assert bd_lat[i] == pytest.approx(want_lat, abs=1e-11)


def test_wgs84_to_bd09_is_gcj02_then_bd09_per_the_oracle():
    lon, lat = wgs84_to_bd09(121.4737, 31.2304)
    want = oracle_gcj02_to_bd09(*oracle_wgs84_to_gcj02(121.4737, 31.2304))
    assert float(lon) == pytest.approx(want[0], abs=1e-11)
    assert float(lat) == pytest.approx(want[1], abs=1e-11)


def test_inverses_solve_the_oracle_forward_equations():
    lons, lats = _sample_points(300, seed=12)
    wgs_lon, wgs_lat = gcj02_to_wgs84(lons, lats)
    gcj_lon, gcj_lat = bd09_to_gcj02(lons, lats)
    for i, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
        back = oracle_wgs84_to_gcj02(float(wgs_lon[i]), float(wgs_lat[i]))
        assert back == pytest.approx((lon, lat), abs=1e-11)
        back = oracle_gcj02_to_bd09(float(gcj_lon[i]), float(gcj_lat[i]))
        assert back == pytest.approx((lon, lat), abs=1e-11)


# --------------------------------------------------------------------------------------------
# sanity bounds


def test_beijing_gcj02_shift_is_between_100_and_700_m():
    lon, lat = 116.397, 39.909
    shift = metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 100.0 < shift < 700.0


@pytest.mark.parametrize("city", sorted(CITIES_INSIDE))
def test_city_shifts_are_plausible(city):
    lon, lat = CITIES_INSIDE[city]
    assert 100.0 < metres(lon, lat, *wgs84_to_gcj02(lon, lat)) < 700.0
    # BD-09 adds roughly 0.0065 deg east and 0.006 deg north on top: about 0.8-1.5 km in all.
    assert 700.0 < metres(lon, lat, *wgs84_to_bd09(lon, lat)) < 1500.0


# --------------------------------------------------------------------------------------------
# round trips

china_points = st.lists(
    st.tuples(
        st.floats(min_value=73.5, max_value=134.8, allow_nan=False),
        st.floats(min_value=18.0, max_value=53.5, allow_nan=False),
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)],
    ids=lambda f: f.__name__,
)
@settings(derandomize=True, max_examples=60, deadline=None)
@given(points=china_points)
def test_round_trip_hypothesis(forward, inverse, points):
    lon, lat = np.array(points).T
    error = metres(lon, lat, *inverse(*forward(lon, lat)))
    assert error.max() < 1e-6


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (wgs84_to_gcj02, gcj02_to_wgs84),
        (wgs84_to_bd09, bd09_to_wgs84),
        (gcj02_to_bd09, bd09_to_gcj02),
        (gcj02_to_wgs84, wgs84_to_gcj02),
        (bd09_to_wgs84, wgs84_to_bd09),
    ],
    ids=lambda f: f.__name__,
)
def test_round_trips_on_many_seeded_points(forward, inverse):
    lon, lat = _sample_points(20_000, seed=7)
    error = metres(lon, lat, *inverse(*forward(lon, lat)))
    assert np.median(error) < 1e-7
    assert error.max() < 1e-6


def test_round_trip_near_the_sqrt_kink_at_105_east():
    rng = np.random.default_rng(5)
    lon = 105.0 + rng.uniform(-1e-7, 1e-7, 200)
    lat = rng.uniform(20.0, 50.0, 200)
    lon[0] = 105.0
    error = metres(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)))
    assert error.max() < 1e-6


# --------------------------------------------------------------------------------------------
# outside China and the box convention


@pytest.mark.parametrize("city", sorted(CITIES_OUTSIDE))
@pytest.mark.parametrize("convert", ALL_CONVERSIONS, ids=lambda f: f.__name__)
def test_identity_outside_china(city, convert):
    lon, lat = CITIES_OUTSIDE[city]
    out_lon, out_lat = convert(lon, lat)
    assert float(out_lon) == lon
    assert float(out_lat) == lat


@pytest.mark.parametrize("system", ["wgs84", "gcj02", "bd09"])
def test_to_wgs84_identity_outside_china(system):
    lons = np.array([p[0] for p in CITIES_OUTSIDE.values()])
    lats = np.array([p[1] for p in CITIES_OUTSIDE.values()])
    out_lon, out_lat = to_wgs84(lons, lats, system)
    np.testing.assert_array_equal(out_lon, lons)
    np.testing.assert_array_equal(out_lat, lats)


@pytest.mark.parametrize(
    "place",
    [(114.1694, 22.3193), (113.5439, 22.1987), (121.5654, 25.0330)],
    ids=["Hong Kong", "Macau", "Taipei"],
)
def test_hong_kong_macau_taiwan_are_shifted_per_the_box_convention(place):
    shift = metres(*place, *wgs84_to_gcj02(*place))
    assert 100.0 < shift < 800.0


def test_box_edges_are_inclusive_and_sharp():
    west, south, east, north = CHINA_BOX
    eps = 1e-6
    inside_lon = np.array([west, east, 100.0, 100.0, west + eps])
    inside_lat = np.array([30.0, 30.0, south, north, 30.0])
    outside_lon = np.array([west - eps, east + eps, 100.0, 100.0])
    outside_lat = np.array([30.0, 30.0, south - eps, north + eps])
    assert in_china_box(inside_lon, inside_lat).all()
    assert not in_china_box(outside_lon, outside_lat).any()
    moved = metres(inside_lon, inside_lat, *wgs84_to_gcj02(inside_lon, inside_lat))
    assert (moved > 1.0).all()
    out_lon, out_lat = wgs84_to_gcj02(outside_lon, outside_lat)
    np.testing.assert_array_equal(out_lon, outside_lon)
    np.testing.assert_array_equal(out_lat, outside_lat)


def test_mixed_inside_and_outside_in_one_array():
    lon = np.array([116.397, -0.1276, 121.47])
    lat = np.array([39.909, 51.5072, 31.23])
    out_lon, out_lat = gcj02_to_wgs84(lon, lat)
    assert out_lon[1] == lon[1] and out_lat[1] == lat[1]
    for i in (0, 2):
        single = gcj02_to_wgs84(lon[i], lat[i])
        assert out_lon[i] == float(single[0]) and out_lat[i] == float(single[1])
        assert metres(lon[i], lat[i], out_lon[i], out_lat[i]) > 100.0


# --------------------------------------------------------------------------------------------
# NaN, inputs, shapes, dtypes


@pytest.mark.parametrize("convert", ALL_CONVERSIONS, ids=lambda f: f.__name__)
def test_nan_in_either_coordinate_gives_nan_in_both(convert):
    lon = np.array([np.nan, 116.397, np.nan, 121.47])
    lat = np.array([39.909, np.nan, np.nan, 31.23])
    out_lon, out_lat = convert(lon, lat)
    assert np.isnan(out_lon[:3]).all() and np.isnan(out_lat[:3]).all()
    want = convert(121.47, 31.23)
    assert out_lon[3] == float(want[0]) and out_lat[3] == float(want[1])


def test_nan_scalar():
    lon, lat = gcj02_to_wgs84(float("nan"), 39.9)
    assert math.isnan(lon) and math.isnan(lat)


@pytest.mark.parametrize("convert", ALL_CONVERSIONS, ids=lambda f: f.__name__)
def test_inputs_are_not_modified_or_aliased(convert):
    lon = np.array([116.397, np.nan, -0.1276, 121.47])
    lat = np.array([39.909, 30.0, 51.5072, 31.23])
    lon_before, lat_before = lon.copy(), lat.copy()
    out_lon, out_lat = convert(lon, lat)
    np.testing.assert_array_equal(lon, lon_before)
    np.testing.assert_array_equal(lat, lat_before)
    assert not np.shares_memory(out_lon, lon) and not np.shares_memory(out_lat, lat)


def test_to_wgs84_wgs84_returns_copies():
    lon = np.array([116.397, 121.47])
    lat = np.array([39.909, 31.23])
    out_lon, out_lat = to_wgs84(lon, lat, "wgs84")
    np.testing.assert_array_equal(out_lon, lon)
    out_lon[0] = 0.0
    assert lon[0] == 116.397
    assert not np.shares_memory(out_lat, lat)


def test_pandas_series_are_accepted_and_unchanged():
    frame = pd.DataFrame({"lon": [116.397, 121.47], "lat": [39.909, 31.23]})
    before = frame.copy()
    lon, lat = to_wgs84(frame["lon"], frame["lat"], "gcj02")
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(lon, np.ndarray) and lon.shape == (2,) and lat.shape == (2,)
    want = gcj02_to_wgs84(116.397, 39.909)
    assert (float(lon[0]), float(lat[0])) == (float(want[0]), float(want[1]))


def test_nullable_pandas_missing_values_become_nan():
    lon = pd.Series([116.397, None], dtype="Float64")
    lat = pd.Series([39.909, 31.23], dtype="Float64")
    out_lon, out_lat = to_wgs84(lon, lat, "bd09")
    assert np.isnan(out_lon[1]) and np.isnan(out_lat[1])
    assert float(out_lon[0]) == float(bd09_to_wgs84(116.397, 39.909)[0])


def test_scalars_lists_ints_and_shapes():
    lon, lat = wgs84_to_gcj02(116, 40)
    assert lon.shape == () and lon.dtype == np.float64 and lat.dtype == np.float64
    assert isinstance(float(lon), float)
    lon_l, lat_l = wgs84_to_gcj02([116, 121.47], [40, 31.23])
    assert lon_l.shape == (2,) and float(lon_l[0]) == float(lon) and float(lat_l[0]) == float(lat)
    grid_lon, grid_lat = np.meshgrid(np.linspace(110, 120, 4), np.linspace(25, 35, 3))
    out_lon, out_lat = bd09_to_wgs84(grid_lon, grid_lat)
    assert out_lon.shape == (3, 4) and out_lat.shape == (3, 4)
    flat = bd09_to_wgs84(grid_lon.ravel(), grid_lat.ravel())
    np.testing.assert_array_equal(out_lon.ravel(), flat[0])


def test_broadcasting_and_float32_input():
    lon = np.array([116.0, 117.0, 118.0], dtype=np.float32)
    out_lon, out_lat = wgs84_to_gcj02(lon, np.float32(40.0))
    assert out_lon.dtype == np.float64 and out_lat.shape == (3,)
    assert float(out_lon[0]) == float(wgs84_to_gcj02(116.0, 40.0)[0])


def test_empty_arrays():
    out_lon, out_lat = gcj02_to_wgs84(np.array([]), np.array([]))
    assert out_lon.shape == (0,) and out_lat.shape == (0,)


def test_bad_coordinates_raise_input_error():
    with pytest.raises(InputError, match="numbers"):
        wgs84_to_gcj02(["116.4 E"], [39.9])
    with pytest.raises(InputError, match="shape"):
        gcj02_to_wgs84(np.zeros(3), np.zeros(2))


# --------------------------------------------------------------------------------------------
# names: to_wgs84 and parse_facilities_crs


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("wgs84", None),
        ("WGS-84", None),
        ("EPSG:4326", None),
        ("epsg:4326", None),
        ("gcj02", gcj02_to_wgs84),
        ("GCJ-02", gcj02_to_wgs84),
        (" gcj_02 ", gcj02_to_wgs84),
        ("bd09", bd09_to_wgs84),
        ("BD09", bd09_to_wgs84),
        ("bd09ll", bd09_to_wgs84),
    ],
)
def test_to_wgs84_system_names(system, expected):
    lon, lat = np.array([116.397, 112.94]), np.array([39.909, 28.23])
    out_lon, out_lat = to_wgs84(lon, lat, system)
    want_lon, want_lat = (lon, lat) if expected is None else expected(lon, lat)
    np.testing.assert_array_equal(out_lon, want_lon)
    np.testing.assert_array_equal(out_lat, want_lat)


def test_unknown_system_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'gcj02'") as info:
        to_wgs84(116.4, 39.9, "gcj2")
    assert info.value.exit_code == 3
    with pytest.raises(ConfigError, match="did you mean 'bd09'"):
        to_wgs84(116.4, 39.9, "BD-9")


@pytest.mark.parametrize("system", ["mercator", "", None, 4326])
def test_unknown_system_lists_the_valid_names(system):
    with pytest.raises(ConfigError, match=r"'gcj02'.*'bd09'"):
        to_wgs84(116.4, 39.9, system)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("bd09", "bd09"), ("BD09", "bd09")],
)
def test_parse_facilities_crs_obfuscated_systems(value, kind):
    assert parse_facilities_crs(value) == (kind, None)


@pytest.mark.parametrize(
    ("value", "epsg"),
    [("EPSG:4547", 4547), ("epsg:4490", 4490), ("EPSG:4326", 4326), ("wgs84", 4326)],
)
def test_parse_facilities_crs_real_crs(value, epsg):
    kind, crs = parse_facilities_crs(value)
    assert kind == "crs"
    assert isinstance(crs, pyproj.CRS)
    assert crs.to_epsg() == epsg


def test_parse_facilities_crs_typo_suggests_a_name():
    with pytest.raises(ConfigError, match="did you mean 'gcj02'") as info:
        parse_facilities_crs("gcj2")
    assert "--facilities-crs gcj02" in str(info.value)


@pytest.mark.parametrize("value", ["nonsense", "EPSG:999999", "", "   "])
def test_parse_facilities_crs_bad_values_say_how_to_fix(value):
    with pytest.raises(ConfigError, match="EPSG:4326"):
        parse_facilities_crs(value)


def test_parse_facilities_crs_rejects_a_vertical_crs():
    with pytest.raises(ConfigError, match="not a horizontal CRS"):
        parse_facilities_crs("EPSG:5773")
