"""The map at city scale: streets as images in Web Mercator, and the residents a service serves.

The fixtures are those of ``tests/test_webmap.py`` (a grid city in UTM zone 35N, near 60° N,
where a degree of longitude is half a degree of latitude on the ground, so an image that were
not in Web Mercator pixel space would visibly misalign), plus a street grid of more than
:data:`~lifecircle.outputs.webmap.surface.STREET_IMAGE_ABOVE_EDGES` edges built with shapely.
"""

from __future__ import annotations

import base64
import io
import time
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from lifecircle import columns as col
from lifecircle.outputs.webmap import BIN_COLORS, UNREACHABLE_COLOR, make_map, write_map
from lifecircle.outputs.webmap.surface import (
    FINEST_PX_M,
    MAX_IMAGE_PX,
    STREET_IMAGE_ABOVE_EDGES,
    band_images,
    edge_minutes,
    image_grid,
)
from lifecircle.profiles import load_profile
from tests.test_webmap import (  # noqa: F401  (browser is a fixture)
    CRS,
    X0,
    Y0,
    _open,
    browser,
    console_errors,
    make_fixture,
    page_data,
)

SPEED = 80.0  # metres a minute: walk15's 4.8 km/h


def street_grid(n: int, pitch: float = 20.0) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """``n`` x ``n`` cells of ``pitch`` m from (X0, Y0): ``2 n (n + 1)`` straight edges.

    Returns the edges and their midpoints' distance in metres from the grid's south-west
    corner along the streets (Manhattan), the hand-checkable time of a facility there.
    """
    k = np.arange(n + 1) * pitch
    i, j = np.meshgrid(np.arange(n), np.arange(n + 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    # horizontal edges (x from i to i+1 at row j), then vertical ones (y from i to i+1 at x j)
    h = shapely.linestrings(np.stack([np.stack([X0 + k[i], Y0 + k[j]], 1),
                                      np.stack([X0 + k[i + 1], Y0 + k[j]], 1)], 1))
    v = shapely.linestrings(np.stack([np.stack([X0 + k[j], Y0 + k[i]], 1),
                                      np.stack([X0 + k[j], Y0 + k[i + 1]], 1)], 1))
    mid = np.r_[k[i] + pitch / 2 + k[j], k[j] + k[i] + pitch / 2]
    edges = gpd.GeoDataFrame({"length_m": np.full(len(mid), pitch)}, geometry=np.r_[h, v],
                             crs=CRS)
    return edges, mid


@pytest.fixture(scope="module")
def profile():
    return load_profile("walk15")


@pytest.fixture(scope="module")
def large():
    """A 160 x 160 street grid (51,520 edges) under the fixture's 8 x 6 blocks."""
    edges, mid = street_grid(160)
    assert len(edges) > STREET_IMAGE_ABOVE_EDGES
    city = make_fixture()
    return city, edges, mid


def _png(url: str) -> np.ndarray:
    from PIL import Image

    head = "data:image/png;base64,"
    assert url.startswith(head)
    image = Image.open(io.BytesIO(base64.b64decode(url[len(head):])))
    return np.asarray(image.convert("RGBA"))


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


# ---------------------------------------------------------------------------------------------
# the times and the grid


def test_edge_minutes_by_hand():
    """Path 0 -(100 m)- 1 -(50 m)- 2 -(30 m)- 3; the facility at node 0, node 3 beyond reach."""
    net = SimpleNamespace(edge_u=np.array([0, 1, 2]), edge_v=np.array([1, 2, 3]),
                          edge_length_m=np.array([100.0, 50.0, 30.0]),
                          group_masks={"carer": np.array([True, False, True])})
    nodes = SimpleNamespace(dist_m=np.array([0.0, 100.0, 150.0, np.inf]))
    access = {"shop": SimpleNamespace(nodes=nodes, speed_kmh=4.8)}
    # midpoints: 50 m, 100 + 25 m, 150 + 15 m at 80 m/min
    got = edge_minutes(net, access)["shop"]
    np.testing.assert_allclose(got, [50 / 80, 125 / 80, 165 / 80])
    # a group barred from the middle edge: that edge is uncoloured
    profile = SimpleNamespace(group_of=lambda c: SimpleNamespace(name="carer"))
    got = edge_minutes(net, access, profile)["shop"]
    assert got[0] == pytest.approx(50 / 80) and np.isnan(got[1])
    # neither end reached: no time
    nodes.dist_m = np.array([0.0, np.inf, np.inf, np.inf])
    assert np.isnan(edge_minutes(net, access)["shop"][1:]).all()


def test_image_grid_is_capped_and_never_finer_than_zoom_16():
    px, w, h = image_grid((0.0, 0.0, 40_000.0, 20_000.0))
    assert (w, h) == (MAX_IMAGE_PX, MAX_IMAGE_PX // 2) and px == pytest.approx(40_000 / 4096)
    px, w, h = image_grid((0.0, 0.0, 1_000.0, 500.0))
    assert px == pytest.approx(FINEST_PX_M) and w == int(np.ceil(1000 / FINEST_PX_M))


# ---------------------------------------------------------------------------------------------
# the image path


def test_large_network_takes_the_image_path(large, profile):
    city, edges, mid = large
    minutes = {c: mid / SPEED * (1 + i) for i, c in enumerate(profile.categories)}
    minutes["health"] = np.where(mid > 3000, np.nan, minutes["health"])
    data = page_data(make_map(city["blocks"], city["facilities"], edges, profile,
                              edge_minutes=minutes, tiles=None).render())
    assert data["network"] is None
    streets = data["streets"]
    assert len(streets["cats"]) == len(profile.categories)

    # the image bounds are the network's bounds in EPSG:3857, to within one pixel
    to_web = Transformer.from_crs(4326, 3857, always_xy=True)
    (south, west), (north, east) = streets["bounds"]
    x0, y0 = to_web.transform(west, south)
    x1, y1 = to_web.transform(east, north)
    minx, miny, maxx, maxy = edges.to_crs(3857).total_bounds
    px = streets["px"]
    for got, want in ((x0, minx), (y0, miny), (x1, maxx), (y1, maxy)):
        assert abs(got - want) <= px
    assert abs((x1 - x0) / px - streets["size"][0]) < 1e-6
    assert abs((y1 - y0) / px - streets["size"][1]) < 1e-6

    # a street's pixels carry its time class, a pixel inside a cell is empty: the image is in
    # Web Mercator pixel space (at 60° N an equirectangular image would be off by rows)
    to_3857 = Transformer.from_crs(CRS, 3857, always_xy=True)
    image = {c: _png(u) for c, u in zip(profile.categories, streets["cats"], strict=True)}
    for e in (0, 1000, 30_000, len(edges) - 1):
        cx, cy = shapely.get_coordinates(edges.geometry.iloc[e].interpolate(0.5,
                                                                            normalized=True))[0]
        wx, wy = to_3857.transform(cx, cy)
        row, column = int((y1 - wy) // px), int((wx - x0) // px)
        for c in ("elderly_care", "health"):
            want = classify_colour(minutes[c][e])
            assert tuple(image[c][row, column, :3]) == _rgb(want), (c, e)
            assert image[c][row, column, 3] == 255
    centre = to_3857.transform(X0 + 30.0, Y0 + 30.0)  # the middle of a 20 m cell
    row, column = int((y1 - centre[1]) // px), int((centre[0] - x0) // px)
    assert image["health"][row, column, 3] == 0
    grey = _png(streets["network"])
    assert grey[..., 3].astype(bool).sum() == image["health"][..., 3].astype(bool).sum()
    # a category without data gets no image (its view shows the grey streets)
    no_data = page_data(make_map(city["blocks"], city["facilities"], edges, profile,
                                 edge_minutes=minutes, tiles=None, no_data=["fitness"]).render())
    cats = list(profile.categories)
    assert no_data["streets"]["cats"][cats.index("fitness")] is None
    assert no_data["streets"]["cats"][cats.index("health")] == streets["cats"][cats.index("health")]


def classify_colour(minutes: float) -> str:
    """The colour of a time, written out from the legend's bins (an oracle, not the code)."""
    if not np.isfinite(minutes):
        return UNREACHABLE_COLOR
    for upper, colour in zip((5, 10, 15, 20, 30), BIN_COLORS, strict=False):
        if minutes <= upper:
            return colour
    return BIN_COLORS[-1]


def test_small_network_keeps_street_lines(profile):
    city = make_fixture()
    data = page_data(make_map(city["blocks"], city["facilities"], city["edges"], profile,
                              tiles=None).render())
    assert data["streets"] is None and data["network"]["features"]
    forced = page_data(make_map(city["blocks"], city["facilities"], city["edges"], profile,
                                tiles=None, street_image=True).render())
    assert forced["network"] is None and forced["streets"]["cats"] == [None] * 5
    assert forced["streets"]["network"].startswith("data:image/png;base64,")


# ---------------------------------------------------------------------------------------------
# the residents a service serves (issue 17): elderly care 50 % of all, 10 % of people 60+


def _served_city():
    gb = load_profile("gb50180-2018")
    city = make_fixture(4, 3)
    blocks = city["blocks"].copy()
    cats = list(gb.categories)
    for c in cats:
        blocks[col.walk_min(c)] = 30.0
        blocks[col.covered(c)] = False
    # two blocks of 1,000 residents: the covered one with 100 aged 60+, the other with 900
    rest = len(blocks) - 2
    blocks["population"] = [1000.0, 1000.0, *[0.0] * rest]
    blocks["pop_age60plus"] = [100.0, 900.0, *[0.0] * rest]
    for c in ("nursing_home", "elderly_day_care"):
        blocks[col.walk_min(c)] = [5.0, *[40.0] * (rest + 1)]
        blocks[col.covered(c)] = [True, *[False] * (rest + 1)]
    fac = city["facilities"].assign(category=[cats[i % len(cats)]
                                              for i in range(len(city["facilities"]))])
    return gb, blocks, fac, city["edges"]


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "reaches 50.0 % of all residents and 10.0 % of residents aged 60+"),
    ("zh", "覆盖全部居民的50.0 %，60岁及以上居民的10.0 %"),
])
def test_served_residents_beside_all_residents(lang, expected):
    gb, blocks, fac, edges = _served_city()
    data = page_data(make_map(blocks, fac, edges, gb, lang=lang, tiles=None).render())
    cats = list(gb.categories)
    served = {cats[s["k"]]: s for s in data["served"]}
    assert set(served) == {"nursing_home", "elderly_day_care"}  # only 60+ is counted here
    assert expected in served["nursing_home"]["area"]
    j = [s["k"] for s in data["served"]].index(cats.index("nursing_home"))
    assert [f["properties"]["r"][j] for f in data["blocks"]["features"]][:3] == [100, 900, 0]


# ---------------------------------------------------------------------------------------------
# in the browser


@pytest.mark.browser
def test_browser_large_network_shows_the_time_image(browser, large, profile,  # noqa: F811
                                                    tmp_path):
    city, edges, mid = large
    minutes = {c: mid / SPEED for c in profile.categories}
    t0 = time.perf_counter()
    page = write_map(city["blocks"], city["facilities"], edges, profile, tmp_path / "map.html",
                     edge_minutes=minutes, tiles=None)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert _open(browser, page) == []
    opened = time.perf_counter() - t0
    print(f"{len(edges):,} edges: built in {built:.1f} s, {page.stat().st_size / 1e6:.2f} MB, "
          f"opened in {opened:.1f} s")
    assert opened < 10
    shown = browser.execute_script("""
        const imgs = Array.from(document.querySelectorAll('img.lc-streets'));
        return imgs.map(i => [i.complete && i.naturalWidth, i.src.length]);""")
    assert len(shown) == 1 and shown[0][0] > 0
    grey = shown[0][1]
    browser.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers label'))"
        ".find(l => l.textContent.includes('Health care')).querySelector('input').click()")
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('img.lc-streets')).map(i => i.src.length)")
    assert len(shown) == 1 and shown[0] != grey  # the coloured image replaced the grey one
    # the image sits where the streets are: its box on screen is the network's box
    box = browser.execute_script("""
        const m = window.lcMap, b = document.querySelector('img.lc-streets')
          .getBoundingClientRect(), c = m.getContainer().getBoundingClientRect();
        const sw = m.containerPointToLatLng([b.left - c.left, b.bottom - c.top]);
        const ne = m.containerPointToLatLng([b.right - c.left, b.top - c.top]);
        return [sw.lat, sw.lng, ne.lat, ne.lng];""")
    (south, west), (north, east) = page_data(page.read_text(encoding="utf-8"))["streets"][
        "bounds"]
    assert box == pytest.approx([south, west, north, east], abs=2e-4)
    assert console_errors(browser) == []


@pytest.mark.browser
def test_browser_served_tooltip(browser, tmp_path):  # noqa: F811
    gb, blocks, fac, edges = _served_city()
    page = write_map(blocks, fac, edges, gb, tmp_path / "map.html", tiles=None, lang="zh",
                     category="nursing_home")
    assert _open(browser, page) == []
    inside = blocks.geometry.to_crs(4326).representative_point().iloc[0]
    browser.execute_script("window.lcBlocks.hover(arguments[0])", [inside.y, inside.x])
    tip = browser.execute_script("return document.querySelector('.leaflet-tooltip').textContent")
    label = gb.categories["nursing_home"].label("zh")
    assert f"{label}（服务60岁及以上居民）：本街区1,000名居民中100名" in tip
    assert "覆盖全部居民的50.0 %，60岁及以上居民的10.0 %" in tip
    legend = browser.execute_script("return document.querySelector('.lc-legend').textContent")
    assert "60岁及以上居民的10.0 %" in legend
    assert console_errors(browser) == []


def test_isochrone_bands_as_an_image_by_hand():
    """Two nested squares in Web Mercator metres on a 10 x 10 grid of 10 m pixels: the inner
    (5 min) band over the outer (10 min) one, each at its opacity, nothing outside."""
    from lifecircle.outputs.webmap.layers import isochrone_rows

    iso = gpd.GeoDataFrame(
        {"category": ["health", "health", "health"], "facility_id": ["all", "all", "f1"],
         "band_min": [10.0, 5.0, 5.0]},
        geometry=[shapely.box(0, 0, 80, 80), shapely.box(20, 20, 40, 40),
                  shapely.box(0, 0, 100, 100)], crs=3857)
    rows = isochrone_rows(iso, ["care", "health"])
    assert rows[0] is None
    order, bands, opacity = rows[1]
    assert order.tolist() == [0, 1] and bands.tolist() == [10.0, 5.0]  # the union only
    assert opacity.tolist() == [0.08, 0.28]
    images = band_images(iso, rows, [0.0, 100.0, 10.0, 10, 10], ["#000000", "#3366cc"])
    assert images[0] is None and images[1]["b"] == [5.0, 10.0]
    rgba = _png(images[1]["img"])
    assert rgba.shape == (10, 10, 4)
    # row 0 is the north edge (y 90-100 m): outside both squares
    assert rgba[0, 0, 3] == 0 and rgba[1, 9, 3] == 0
    assert tuple(rgba[9, 0]) == (*_rgb("#3366cc"), round(255 * 0.08))  # y 0-10: outer only
    assert tuple(rgba[7, 2]) == (*_rgb("#3366cc"), round(255 * 0.28))  # x 20-30, y 20-30
    assert (rgba[..., 3] == round(255 * 0.28)).sum() == 4
    assert (rgba[..., 3] == round(255 * 0.08)).sum() == 64 - 4


def test_large_network_draws_isochrones_as_images(large, profile):
    """With the streets as images, the bands are images on the same grid (no polygons)."""
    city, edges, _ = large
    blocks, fac = city["blocks"], city["facilities"]
    iso = gpd.GeoDataFrame(
        {"category": ["health"], "facility_id": ["all"], "band_min": [15.0]},
        geometry=[shapely.box(*edges.total_bounds).buffer(-50)], crs=edges.crs)
    data = page_data(make_map(blocks, fac, edges, profile, isochrones=iso, tiles=None,
                              street_image=True).render())
    k = list(profile.categories).index("health")
    assert set(data["iso"][k]) == {"img", "b"} and data["iso"][k]["b"] == [15.0]
    assert "grid" not in data["streets"]
    rgba = _png(data["iso"][k]["img"])
    assert list(rgba.shape[:2]) == data["streets"]["size"][::-1]
    assert rgba[rgba.shape[0] // 2, rgba.shape[1] // 2, 3] > 0
    assert rgba[0, 0, 3] == 0  # the 50 m margin
    assert "Isochrone bands: 15" in data["isoNote"]


def test_too_detailed_isochrones_are_left_out_with_a_note(large, profile, monkeypatch):
    """Above the vertex budget the bands are not burnt: no image, and the legend says why."""
    from lifecircle.outputs.webmap import surface

    city, edges, _ = large
    iso = gpd.GeoDataFrame(
        {"category": ["health"], "facility_id": ["all"], "band_min": [15.0]},
        geometry=[shapely.box(*edges.total_bounds).buffer(-50)], crs=edges.crs)
    monkeypatch.setattr(surface, "ISO_IMAGE_MAX_VERTICES", 4)  # the box has 5
    for lang, words in (("en", "too detailed"), ("zh", "过于精细")):
        data = page_data(make_map(city["blocks"], city["facilities"], edges, profile,
                                  isochrones=iso, tiles=None, street_image=True,
                                  lang=lang).render())
        assert data["iso"] == [None] * len(profile.categories)
        assert data["isoNote"] is None and words in data["isoCity"]
    monkeypatch.setattr(surface, "ISO_IMAGE_MAX_VERTICES", 5)
    data = page_data(make_map(city["blocks"], city["facilities"], edges, profile,
                              isochrones=iso, tiles=None, street_image=True).render())
    assert data["isoCity"] is None and any(data["iso"])


def test_streamed_isochrones_are_named_in_the_legend(large, profile):
    """A city's isochrones went to the GeoPackage only: the legend says where, not nothing."""
    city, edges, _ = large
    data = page_data(make_map(city["blocks"], city["facilities"], edges, profile,
                              isochrones=None, isochrones_elsewhere=True, tiles=None,
                              street_image=True).render())
    assert "lifecircle.gpkg" in data["isoCity"]
    assert data["iso"] == [None] * len(profile.categories)
    plain = page_data(make_map(city["blocks"], city["facilities"], edges, profile,
                               tiles=None, street_image=True).render())
    assert plain["isoCity"] is None  # isochrones switched off: no claim that they exist


def _burn_numpy(pixels, line, shape):
    """An independent oracle of the burn: every segment's samples at once with numpy."""
    burnt = np.zeros(shape, dtype=np.int32)
    same = line[1:] == line[:-1]
    a, b, seg_line = pixels[:-1][same], pixels[1:][same], line[:-1][same]
    steps = np.ceil(np.abs(b - a).max(axis=1)).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(a)), steps)
    first = np.cumsum(steps) - steps
    t = (np.arange(len(seg)) - first[seg]) / np.maximum(steps - 1, 1)[seg]
    points = a[seg] + t[:, None] * (b - a)[seg]
    cols = np.clip(np.floor(points[:, 0]).astype(np.int64), 0, shape[1] - 1)
    rows = np.clip(np.floor(points[:, 1]).astype(np.int64), 0, shape[0] - 1)
    burnt[rows, cols] = seg_line[seg] + 1
    return burnt


def test_streets_burn_by_hand_and_as_numpy():
    """The burnt streets: by hand, and the compiled burn as numpy's vectorised samples (where
    lines cross the later line's number stays)."""
    from lifecircle.outputs.webmap import surface

    # by hand: a horizontal line (0) on row 1, then a vertical one (1) through it at column 2
    pixels = np.array([[0.5, 1.5], [4.5, 1.5], [2.5, 0.5], [2.5, 3.5]])
    line = np.array([0, 0, 1, 1])
    expected = np.zeros((4, 5), dtype=np.int32)
    expected[1, :] = 1
    expected[:, 2] = 2
    assert (surface._burn(pixels, line, (4, 5)) == expected).all()
    rng = np.random.default_rng(7)
    line = np.sort(rng.integers(0, 300, 2_000))
    pixels = rng.uniform(-5, 105, (2_000, 2))  # some beyond the grid: clipped to its edge
    whole = surface._burn(pixels, line, (100, 100))
    assert (whole > 0).sum() > 5_000
    assert (whole == _burn_numpy(pixels, line, (100, 100))).all()
