"""Static figures: files, sizes, bins shared with the web map, languages, targets, no pyplot."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lifecircle import columns as col
from lifecircle.outputs import plots
from lifecircle.outputs._png import png_text
from lifecircle.outputs.plots import (
    block_bins,
    coverage_figure,
    deficiency_figure,
    figure_names,
    write_figures,
)
from lifecircle.outputs.share_chart import coverage_share_figure, target_share
from lifecircle.outputs.webmap import BIN_COLORS, UNREACHABLE_COLOR, classify_minutes, make_map
from lifecircle.profiles import load_profile
from tests.test_webmap import data_of, make_fixture


@pytest.fixture(scope="module")
def city():
    return make_fixture()


@pytest.fixture(scope="module")
def profile():
    return load_profile("walk15")


def _block_image(fig):
    from lifecircle.outputs._block_image import PixelImage

    return next(a for a in fig.axes[0].get_children()
                if isinstance(a, PixelImage) and a.get_gid() == "blocks")


def _block_pixels(fig, blocks, *, dx: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blocks' image and the (row, column) of each block's interior point in it."""
    image = _block_image(fig)
    pixels = image.get_array()
    left, right, bottom, top = image.get_extent()
    h, w = pixels.shape[:2]
    pts = blocks.geometry.representative_point()
    cols = np.floor((pts.x.to_numpy() - left) / (right - left) * w).astype(int) + dx
    rows = np.floor((top - pts.y.to_numpy()) / (top - bottom) * h).astype(int)
    return pixels, rows, cols


def _block_colors(fig, blocks, *, dx: int = 0) -> list[str]:
    """The colour drawn at each block's interior point (the blocks are one image)."""
    pixels, rows, cols = _block_pixels(fig, blocks, dx=dx)
    return [mcolors.to_hex(pixels[r, c, :3] / 255) for r, c in zip(rows, cols, strict=True)]


def test_run_writes_every_figure(nanjing_run):
    from PIL import Image

    cats = list(nanjing_run.profile.categories)
    listed = json.loads((nanjing_run.out / "_SUCCESS.json").read_text())["files"]
    for name in figure_names(cats):
        path = nanjing_run.out / name
        assert name in listed
        with Image.open(path) as image:
            width, height = image.size
            dpi = image.info["dpi"]
        # A4 wide (8.27 in) at 200 dpi, never taller than an A4 page
        assert dpi == pytest.approx((200, 200), abs=0.01), name
        assert width == round(8.27 * 200), name
        assert 3.0 * 200 < height <= round(11.69 * 200), name
        assert 20_000 < path.stat().st_size < 2_500_000, name


def test_figure_bins_equal_the_map_bins(city, profile):
    """The PNG and map.html classify the same blocks into the same planning bins."""
    blocks = city["blocks"]
    page = make_map(blocks, city["facilities"], city["edges"], profile,
                    tiles=None).render()
    feats = data_of(page, "_blocks")["features"]
    by_id = {f["properties"]["id"]: f["properties"]["b"] for f in feats}
    cats = list(profile.categories)
    palette = [*BIN_COLORS, UNREACHABLE_COLOR]
    for k, c in enumerate(cats):
        fig = coverage_figure(blocks, city["facilities"], profile, c, edges=city["edges"])
        colors = _block_colors(fig, blocks)
        bins = block_bins(blocks, c)
        map_bins = np.array([by_id[b][k] for b in blocks["block_id"]])
        np.testing.assert_array_equal(bins, map_bins)
        assert colors == [palette[b] for b in map_bins]
    # the health column of the fixture has unreachable blocks: grey in both
    assert (block_bins(blocks, "health") == len(BIN_COLORS)).sum() == 6


def test_bins_by_hand():
    np.testing.assert_array_equal(classify_minutes([0, 5, 5.01, 15, 15.01, 30, 31, np.nan]),
                                  [0, 0, 1, 2, 3, 4, 5, 6])


def _legend_texts(fig) -> list[str]:
    legends = [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend())]
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def test_coverage_figure_furniture(city, profile):
    fig = coverage_figure(city["blocks"], city["facilities"], profile, "health")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "© OpenStreetMap contributors" in texts
    legend = _legend_texts(fig)
    assert legend[:6] == ["0–5 min", "5–10 min", "10–15 min", "15–20 min", "20–30 min",
                          "> 30 min"]
    assert "unreachable on foot" in legend and "Health care facility" in legend
    assert fig.legends[0].get_title().get_text() == "Walking time (min)"
    assert ax.get_xlabel() == "Easting (m)" and ax.get_aspect() == 1.0
    assert "Health care" in ax.get_title()
    assert "4.8 km/h; covered within 15 min" in texts
    # the facility points drawn are the category's
    pts = ax.collections[-1].get_offsets()
    fac = city["facilities"][city["facilities"]["category"] == "health"]
    assert len(pts) == len(fac)


def test_a_category_without_data_is_drawn_as_no_data(city, profile):
    """No facility: every block in the no-data fill, one legend entry, the reason under the
    title; never the unreachable grey or the minute bins."""
    fac = city["facilities"][city["facilities"]["category"] != "childcare"]
    fig = coverage_figure(city["blocks"], fac, profile, "childcare")
    fill, hatch = mcolors.to_hex(plots.NO_DATA_COLOR), mcolors.to_hex(plots._HATCH_COLOR)
    # 14 pixels of a row across each block's middle meet one diagonal stripe of the hatch
    rows = [set(_block_colors(fig, city["blocks"], dx=dx)[i] for dx in range(-7, 7))
            for i in range(len(city["blocks"]))]
    assert all(row == {fill, hatch} for row in rows), rows
    assert _legend_texts(fig) == ["no data"]
    assert "No data: the data hold no facility of this category" in [
        t.get_text() for t in fig.axes[0].texts]
    # a "sparse" status from the report is drawn the same way, with its own reason
    fig = coverage_figure(city["blocks"], city["facilities"], profile, "childcare",
                          no_data="sparse")
    assert {c for dx in range(-7, 7) for c in _block_colors(fig, city["blocks"], dx=dx)} \
        == {fill, hatch}
    assert any("too few facilities" in t.get_text() for t in fig.axes[0].texts)


def test_deficiency_counts(city, profile):
    fig = deficiency_figure(city["blocks"], profile)
    colors = _block_colors(fig, city["blocks"])
    n = city["blocks"]["n_lacking"].to_numpy()
    palette = plots.deficiency_colors(5)
    assert colors == [mcolors.to_hex(palette[v]) for v in n]
    # one count scale, no legend entry per count
    assert _legend_texts(fig) == []
    scale = fig.axes[-1]
    assert [t.get_text() for t in scale.get_xticklabels()] == ["0", "1", "2", "3", "4", "5"]
    assert "of 5 with data" in scale.get_xlabel()


def test_deficiency_leaves_out_categories_without_data(city, profile):
    fig = deficiency_figure(city["blocks"], profile, no_data=["childcare"])
    blocks = city["blocks"]
    expected = sum((~blocks[col.covered(c)]).astype(int) for c in profile.categories
                   if c != "childcare").to_numpy()
    palette = plots.deficiency_colors(4)
    assert _block_colors(fig, blocks) == [mcolors.to_hex(palette[v]) for v in expected]
    notes = [t.get_text() for t in fig.texts]
    assert any("Not counted for want of data: Childcare" in t for t in notes)


def _gb_blocks(city):
    """The fixture's blocks judged against the 15 GB 50180-2018 categories (random verdicts)."""
    gb = load_profile("gb50180-2018")
    rng = np.random.default_rng(7)
    blocks = city["blocks"][["block_id", "population", "geometry"]].copy()
    for c in gb.categories:
        minutes = rng.uniform(0, 40, len(blocks))
        blocks[col.walk_min(c)] = minutes
        blocks[col.covered(c)] = minutes <= gb.threshold_of(c)
    return gb, blocks


def test_fifteen_categories_share_one_count_scale(city):
    """GB 50180-2018's 15 categories: one colour bar with legible ticks, not 16 legend rows."""
    gb, blocks = _gb_blocks(city)
    fig = deficiency_figure(blocks, gb)
    assert len(_legend_texts(fig)) <= len(gb.categories)
    lacking = sum((~blocks[col.covered(c)]).astype(int) for c in gb.categories).to_numpy()
    palette = plots.deficiency_colors(15)
    assert len(set(palette)) == 16
    assert _block_colors(fig, blocks) == [mcolors.to_hex(palette[v]) for v in lacking]
    ticks = [t.get_text() for t in fig.axes[-1].get_xticklabels()]
    assert ticks[0] == "0" and len(ticks) <= 9


def _texts(fig):
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_text_is_legible_and_rounded_at_print_size(city, lang):
    """Every text >= 8 pt at A4 width; no number with more than one decimal (the GB limits
    are 16.6667 and 5.5556 minutes, 3.24 km/h)."""
    import re

    if lang == "zh" and plots.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    gb, blocks = _gb_blocks(city)
    summary = {"categories": {
        c: {"share_population_covered": 0.123456, "threshold_min": gb.threshold_of(c),
            "facilities": 3} for c in gb.categories}}
    summary["categories"]["nursery"]["facilities"] = 0
    summary["categories"]["nursing_home"]["served"] = _SERVED
    figs = [coverage_figure(blocks, city["facilities"].assign(category="health_centre"), gb,
                            "health_centre", lang=lang),
            coverage_figure(blocks, city["facilities"], gb, "nursery", lang=lang),
            deficiency_figure(blocks, gb, lang=lang, no_data=["nursery"]),
            coverage_share_figure(summary, gb, lang=lang)]
    for fig in figs:
        assert fig.get_figwidth() == pytest.approx(plots.PAGE_IN[0])
        assert fig.get_figheight() <= plots.PAGE_IN[1] + 1e-9
        assert fig.dpi == plots.DPI
        texts = _texts(fig)
        assert texts
        for t in texts:
            assert t.get_fontsize() >= plots.MIN_PT, t.get_text()
            assert not re.search(r"\d\.\d{2,}", t.get_text()), t.get_text()
        # one legend entry per meaning
        legend = _legend_texts(fig)
        assert len(legend) == len(set(legend))
    shown = " ".join(t.get_text() for t in _texts(figs[0]))
    assert ("16.7" in shown) and ("3.6" in shown)


#: a category's ``served`` entry as report.json holds it (groups.served_coverage)
_SERVED = {"residents": "age60plus", "label_en": "residents aged 60+",
           "label_zh": "60岁及以上居民", "share_population_covered": 0.0987654}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_served_residents_beside_all_residents(city, profile, lang):
    """Elderly care serves people aged 60+: its row has a bar for all residents (50 %) and a
    darker one for them (10 %), each labelled, and its map's subtitle gives both shares;
    a category serving all residents keeps its one bar."""
    if lang == "zh" and plots.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    cats = {c: {"share_population_covered": 0.75, "threshold_min": 15.0, "facilities": 2}
            for c in profile.categories}
    cats["elderly_care"] = {**cats["elderly_care"], "share_population_covered": 0.5,
                            "served": _SERVED}
    ax = coverage_share_figure({"categories": cats}, profile, lang=lang).axes[0]
    bars = [(p.get_y() + p.get_height() / 2, p.get_width(), mcolors.to_hex(p.get_facecolor()))
            for p in ax.patches]
    assert len(bars) == len(cats) + 1
    (all_y, all_w, all_c), (served_y, served_w, served_c) = bars[:2]
    assert (all_w, served_w) == pytest.approx((50.0, 9.87654))
    assert all_y < 0 < served_y and served_y - all_y < 0.5  # both in the first row
    assert all_c != served_c and bars[2][2] == all_c  # other rows: the all-residents colour
    texts = [t.get_text() for t in ax.texts]
    if lang == "en":
        assert texts[:3] == ["50 % of all residents", "10 % of residents aged 60+", "75 %"]
        assert ["all residents", "the residents it serves"] == _legend_texts(ax.get_figure())
    else:
        assert texts[:3] == ["全体居民 50 %", "60岁及以上居民 10 %", "75 %"]
        assert ["全体居民", "服务对象人群"] == _legend_texts(ax.get_figure())
    fig = coverage_figure(city["blocks"], city["facilities"], profile, "elderly_care",
                          lang=lang, coverage=cats["elderly_care"])
    subtitle = [t.get_text() for t in fig.axes[0].texts if "%" in t.get_text()]
    assert subtitle == [("4.8 km/h; covered within 15 min; covers 50 % of all residents, "
                         "10 % of residents aged 60+") if lang == "en" else
                        "步行速度 4.8 公里/小时；15 分钟内视为覆盖；覆盖全体居民 50 %、"
                        "60岁及以上居民 10 %"]


def test_coverage_share_bars_and_target(tmp_path, profile):
    summary = {"categories": {
        c: {"share_population_covered": s, "threshold_min": 15.0}
        for c, s in zip(profile.categories, [0.0, 0.55, 0.805, None, 1.0], strict=True)}}
    fig = coverage_share_figure(summary, profile)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([0.0, 55.0, 80.5, 0.0, 100.0])
    assert not ax.collections  # no target in walk15
    assert [t.get_text() for t in ax.texts][:5] == ["0 %", "55 %", "80 %", "0 %", "100 %"]
    assert ax.get_yticklabels()[0].get_text() == "Elderly care (≤ 15 min)"
    assert target_share(profile, "elderly_care") is None

    base = Path(profile.path).read_text(encoding="utf-8")
    toml = tmp_path / "targets.toml"
    # the 14th Five-Year Plan's "one old, one small" target, as profiles write it
    toml.write_text(base + """
[targets.one_old_one_small]
kind = "block_share"
value = 0.7
requires = [["elderly_care"], ["childcare"]]
label_en = "one old, one small"

[targets.one_old_one_small_population]
kind = "population_share"
value = 0.8
requires = [["elderly_care"], ["childcare"]]
label_en = "one old, one small (residents)"

[targets.shops]
kind = "block_share"
value = 0.9
requires = [["retail"]]
label_en = "shops"
""", encoding="utf-8")
    with_targets = load_profile(toml)
    assert target_share(with_targets, "elderly_care") == 0.8  # the residents' target first
    assert target_share(with_targets, "childcare") == 0.8
    assert target_share(with_targets, "retail") == 0.9
    assert target_share(with_targets, "health") is None
    summary["categories"]["elderly_care"]["facilities"] = 0
    summary["categories"]["health"]["status"] = "no_data"
    fig = coverage_share_figure(summary, with_targets)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("no data") == 2  # no facility, and the report's no_data status
    # targets only where there are data: childcare and retail, each across its own row
    lines = ax.collections
    assert len(lines) == 2
    segments = [seg for coll in lines for seg in coll.get_segments()]
    assert [seg[0][0] for seg in segments] == pytest.approx([80.0, 90.0])
    rows = [(seg[0][1], seg[1][1]) for seg in segments]
    assert all(abs(a - b) < 1.0 for a, b in rows)  # inside one row
    assert rows[0][0] == pytest.approx(1 - 0.42) and rows[1][0] == pytest.approx(4 - 0.42)
    assert "target 80 %" in texts and "target 90 %" in texts
    # one legend entry per meaning: no data, plan target
    assert _legend_texts(fig) == ["no data", "plan target"]


def test_chinese_labels_use_a_cjk_font(city, profile):
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    fig = coverage_figure(city["blocks"], city["facilities"], profile, "health", lang="zh")
    ax = fig.axes[0]
    assert ax.get_title().startswith("步行至最近医疗卫生设施的时间")
    assert "CJK" in ax.title.get_fontproperties().get_file() or ax.title.get_fontname()
    assert "Bold" not in ax.title.get_fontproperties().get_file()  # the regular weight
    legend = _legend_texts(fig)
    assert "0–5 分钟" in legend and "步行无法到达" in legend


def test_chinese_falls_back_to_english_without_a_font(city, profile, monkeypatch, caplog):
    from lifecircle.outputs import _figure_style

    monkeypatch.setattr(_figure_style, "cjk_font", lambda: None)
    monkeypatch.setattr(_figure_style, "_WARNED", set())
    with caplog.at_level(logging.WARNING, logger="lifecircle.outputs.plots"):
        fig = coverage_figure(city["blocks"], city["facilities"], profile, "health", lang="zh")
        deficiency_figure(city["blocks"], profile, lang="zh")
        coverage_figure(city["blocks"], city["facilities"], profile, "retail", lang="zh")
    assert fig.axes[0].get_title().startswith("Walking time to the nearest facility: Health care")
    # one warning for the whole run, naming the package to install
    warnings = [r for r in caplog.records if r.name == "lifecircle.outputs.plots"]
    assert len(warnings) == 1
    assert "fonts-noto-cjk" in warnings[0].getMessage()


def test_no_pyplot_figures_leak(nanjing_run, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    paths = write_figures(nanjing_run, tmp_path, lang="en")
    assert plt.get_fignums() == before
    assert [p.name for p in paths] == [n.split("/")[1] for n in
                                       figure_names(list(nanjing_run.profile.categories))]


def test_projected_crs_required(city, profile):
    from lifecircle._errors import ConfigError

    with pytest.raises(ConfigError, match="projected CRS"):
        coverage_figure(city["blocks"].to_crs(4326), city["facilities"], profile, "health")
    assert col.walk_min("health") in city["blocks"].columns


# ---------------------------------------------------------------------------------------------
# the blocks as one image


def _random_blocks(seed: int, n: int):
    """Disjoint-ish polygons with holes and multipolygons, in metres."""
    import shapely

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x, y = rng.uniform(0, 1000, 2)
        r = rng.uniform(3, 80)
        k = int(rng.integers(3, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = r * rng.uniform(0.4, 1.0, k)
        poly = shapely.make_valid(
            shapely.Polygon(np.c_[x + rad * np.cos(ang), y + rad * np.sin(ang)]))
        if rng.random() < 0.3:
            poly = poly.difference(shapely.Point(x, y).buffer(r * 0.25))
        if rng.random() < 0.2:
            poly = shapely.union(poly, shapely.box(x + r + 5, y, x + r + 25, y + 15))
        out.append(poly)
    return np.array(out, dtype=object)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 60),
       size=st.sampled_from([(50, 40), (301, 207), (640, 480)]), chunk=st.sampled_from([7, 10**5]))
def test_label_image_agrees_with_shapely_at_every_pixel_centre(seed, n, size, chunk):
    """A pixel shows the last polygon containing its centre (holes stay empty), whether the
    polygons are filled all at once or a few at a time; the oracle is shapely's
    point-in-polygon test at the pixel centres."""
    import shapely

    from lifecircle.outputs._block_image import label_image, map_grid

    geoms = _random_blocks(seed, n)
    grid = map_grid(shapely.total_bounds(geoms), *size)
    labels = label_image(geoms, grid, chunk=chunk)
    assert labels.shape == (size[1], size[0])
    rows, cols = np.indices(labels.shape)
    x = grid.x0 + (cols.ravel() + 0.5) * grid.res
    y = grid.y1 - (rows.ravel() + 0.5) * grid.res
    want = np.full(x.size, -1)
    for i, g in enumerate(geoms):
        want[shapely.contains_xy(g, x, y)] = i
    got = labels.ravel()
    # a polygon too small to hold a pixel centre gets the pixel of its first vertex if free
    small = got != want
    assert not np.any(small & (want >= 0)), "a pixel centre inside a block lost its block"
    for i in np.unique(got[small]):
        assert not np.any(want == i) and np.sum(got == i) == 1


def test_every_block_shows_even_below_a_pixel():
    import shapely

    from lifecircle.outputs._block_image import label_image, map_grid

    geoms = np.array([shapely.box(0, 0, 1000, 1000), shapely.box(2000, 2000, 2001, 2001)])
    labels = label_image(geoms, map_grid((0, 0, 2001, 2001), 100, 100))
    assert set(np.unique(labels)) == {-1, 0, 1} and np.sum(labels == 1) == 1


def test_the_figure_shows_the_block_image_pixel_for_pixel(city, profile):
    """The canvas holds the blocks' image the right way up, one image pixel per canvas pixel:
    the canvas colour at each block's interior point is the colour of its bin."""
    blocks = city["blocks"]
    fig = coverage_figure(blocks, city["facilities"], profile, "health")  # on street corners
    canvas = plots._pixels(fig)
    ax = fig.axes[0]
    pts = blocks.geometry.representative_point()
    disp = ax.transData.transform(np.c_[pts.x, pts.y])
    height = canvas.shape[0]
    got = [mcolors.to_hex(canvas[height - 1 - int(py), int(px)] / 255) for px, py in disp]
    palette = [*BIN_COLORS, UNREACHABLE_COLOR]
    want = [palette[b] for b in block_bins(blocks, "health")]
    assert got == want
    image = _block_image(fig).get_array()
    box = ax.bbox
    assert image.shape[:2] == (round(box.height), round(box.width))


def test_a_city_draws_faint_streets_and_small_markers(city):
    """Streets over most of the map are drawn fainter (the blocks' colours stay legible), and
    thousands of facilities get small markers."""
    import shapely

    from lifecircle.outputs.plots import map_base

    blocks = city["blocks"]
    x0, y0, x1, y1 = blocks.total_bounds
    dense = [shapely.LineString([(x, y0), (x, y1)]) for x in np.linspace(x0, x1, 800)]
    edges = city["edges"].iloc[:0].copy()
    edges = edges.set_geometry(gpd_series(dense, blocks.crs))
    base = map_base(blocks, edges)
    assert base.streets is not None
    mean = base.streets[..., 3].mean() / 255
    assert mean == pytest.approx(plots._STREET_MEAN_MAX, rel=0.05)
    sparse = map_base(blocks, city["edges"])
    assert abs(int(sparse.streets[..., 3].max()) - 255 * plots._STREET_ALPHA) <= 1  # as drawn
    assert plots._marker_size(base, 5) == 26.0
    assert 3.0 <= plots._marker_size(base, 20_000) < 26.0


def gpd_series(geoms, crs):
    import geopandas as gpd

    return gpd.GeoSeries(geoms, crs=crs)


def _figures_without_childcare(city, profile, tmp_path):
    """The run's figures of ``city`` with no childcare facility (that map says "no data"):
    the categories, the facilities, the summary and the figures' paths."""
    from types import SimpleNamespace

    cats = list(profile.categories)
    fac = city["facilities"][city["facilities"]["category"] != "childcare"]
    summary = {"categories": {c: {"share_population_covered": 0.5, "threshold_min": 15.0,
                                  "facilities": int((fac["category"] == c).sum())}
                              for c in cats}}
    result = SimpleNamespace(profile=profile, report={"summary": summary},
                             blocks=city["blocks"], facilities=fac, edges=city["edges"])
    paths = write_figures(result, tmp_path, lang="en")
    return cats, fac, summary, paths


def test_category_maps_drawn_on_one_frame_equal_figures_of_their_own(city, profile, tmp_path):
    """write_figures redraws only each category's layer on one shared frame: every PNG equals
    the standalone figure of its category, pixel for pixel (nothing of the previous category
    is left over)."""
    from PIL import Image

    cats, fac, summary, paths = _figures_without_childcare(city, profile, tmp_path)
    base = plots.map_base(city["blocks"], city["edges"])
    for c, path in zip(cats, paths, strict=False):
        status = plots.category_status(summary["categories"][c])
        alone = plots._pixels(coverage_figure(city["blocks"], fac, profile, c, base=base,
                                              no_data=status,
                                              coverage=summary["categories"][c]))
        with Image.open(path) as image:
            np.testing.assert_array_equal(np.asarray(image), alone, err_msg=c)


def test_the_deficiency_map_on_the_maps_frame_equals_its_own_figure(city, profile, tmp_path,
                                                                    monkeypatch):
    """The deficiency map is drawn on the category maps' frame and every map after the first
    reuses the first one's axis pixels (:mod:`lifecircle.outputs._axis_pixels`): its PNG
    equals the standalone figure pixel for pixel, and the reuse did happen."""
    from PIL import Image

    from lifecircle.outputs import _axis_pixels

    drawn = _axis_pixels.drawn_with
    hidden: list[bool] = []

    def spy(kept, ax, own, draw):
        return drawn(kept, ax, own, lambda: (hidden.append(not ax.xaxis.get_visible()),
                                             draw())[1])

    monkeypatch.setattr(_axis_pixels, "drawn_with", spy)
    cats, _fac, summary, paths = _figures_without_childcare(city, profile, tmp_path)
    assert hidden == [True] * len(cats)  # the maps after the first and the deficiency map
    no_data = [c for c in cats if plots.category_status(summary["categories"][c])]
    assert no_data == ["childcare"]
    alone = plots._pixels(plots.deficiency_figure(city["blocks"], profile, no_data=no_data,
                                                  base=plots.map_base(city["blocks"],
                                                                      city["edges"])))
    with Image.open(paths[len(cats)]) as image:
        np.testing.assert_array_equal(np.asarray(image), alone)


def test_axis_pixels_are_drawn_whole_where_a_maps_own_artist_comes_near(city):
    """An artist of the map under the axes box (where the kept tick labels are) makes the
    map draw its axes itself; without it the kept pixels equal a whole drawing; ticks into
    the axes are never kept."""
    import matplotlib as mpl

    from lifecircle.outputs import _axis_pixels
    from lifecircle.outputs._figure_style import _style

    base = plots.map_base(city["blocks"], city["edges"])
    ax = plots._map_frame(base, _style("en"))
    fig = ax.get_figure()
    whole = plots._pixels(fig)
    kept = _axis_pixels.keep(ax, whole)
    assert kept is not None and len(kept.boxes) == 2
    seen: list[bool] = []

    def draw():
        seen.append(ax.xaxis.get_visible())
        return plots._pixels(fig)

    np.testing.assert_array_equal(_axis_pixels.drawn_with(kept, ax, [], draw), whole)
    assert seen == [False] and ax.xaxis.get_visible()
    near = ax.text(0.5, -0.08, "over the tick labels", transform=ax.transAxes)
    _axis_pixels.drawn_with(kept, ax, [near], draw)
    assert seen == [False, True]
    near.remove()
    with mpl.rc_context({"xtick.direction": "in"}):
        assert _axis_pixels.keep(ax, whole) is None
    ax.xaxis.set_ticks_position("both")  # ticks on top too: drawn by the axis, not kept
    assert _axis_pixels.keep(ax, whole) is None
    ax.xaxis.set_ticks_position("bottom")
    ax.grid(True)  # grid lines inside the box: drawn by the axis, not kept
    assert _axis_pixels.keep(ax, whole) is None
    ax.grid(False)
    assert _axis_pixels.keep(ax, whole) is not None
    ax.minorticks_on()
    ax.grid(True, which="minor")  # minor grid lines alone: not kept either
    assert _axis_pixels.keep(ax, whole) is None
    ax.grid(False, which="minor")
    ax.minorticks_off()
    # the first map's own artist near the kept pixels: they would carry it to every map
    near = ax.text(0.5, -0.08, "the first map's note", transform=ax.transAxes)
    assert _axis_pixels.keep(ax, whole, [near]) is None
    near.remove()
    # a later map whose axes moved (or a figure of another size) is drawn whole
    ax.set_position([0.2, 0.2, 0.5, 0.5])
    _axis_pixels.drawn_with(kept, ax, [], draw)
    assert seen == [False, True, True]


def test_a_map_figure_saves_with_a_tight_box_at_any_dpi(city, profile, tmp_path):
    """Saved as a notebook shows it (bbox_inches="tight") or at another dpi, the blocks'
    image follows the axes: the white margin is cropped, the blocks keep their colours."""
    from PIL import Image

    fig = coverage_figure(city["blocks"], city["facilities"], profile, "health",
                          edges=city["edges"])
    full = fig.get_size_inches() * fig.dpi
    fig.savefig(tmp_path / "tight.png", bbox_inches="tight")
    fig.savefig(tmp_path / "small.png", dpi=100)
    with Image.open(tmp_path / "tight.png") as image:
        assert image.size[0] < full[0] and image.size[1] < full[1]
    with Image.open(tmp_path / "small.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    ax = fig.axes[0]
    pts = city["blocks"].geometry.representative_point()
    disp = ax.transData.transform(np.c_[pts.x, pts.y]) / 2  # 100 of 200 dpi
    got = [mcolors.to_hex(pixels[pixels.shape[0] - 1 - int(y), int(x)] / 255) for x, y in disp]
    palette = [*BIN_COLORS, UNREACHABLE_COLOR]
    assert got == [palette[b] for b in block_bins(city["blocks"], "health")]


@settings(max_examples=20, deadline=None)
@given(width=st.integers(1, 40), height=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_png_round_trips_through_pillow(tmp_path_factory, width, height, seed):
    """The hand-written PNG: Pillow reads back the same pixels, the print resolution and the
    credit (random pixels: every byte value, rows of any length)."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("png") / "x.png"
    plots._write_png(pixels, path)
    with Image.open(path) as img:
        img.load()
        assert img.mode == "RGB" and img.size == (width, height)
        np.testing.assert_array_equal(np.asarray(img), pixels)
        assert img.info["dpi"] == pytest.approx((plots.DPI, plots.DPI), abs=0.01)
        assert img.info["Copyright"] == "© OpenStreetMap contributors"
        assert img.info["Software"] == "lifecircle"


def test_png_text_outside_latin1_is_utf8():
    kind, body = png_text("Copyright", "© 开放街道地图")
    assert kind == b"iTXt"
    assert body == b"Copyright\0\0\0\0\0" + "© 开放街道地图".encode()
    assert png_text("Software", "lifecircle") == (b"tEXt", b"Software\0lifecircle")


@settings(max_examples=30, deadline=None)
@given(width=st.integers(1, 40), height=st.integers(1, 30), n=st.integers(1, 255),
       seed=st.integers(0, 2**32 - 1))
def test_palette_png_round_trips_through_pillow(width, height, n, seed):
    """The map's palette images (1, 2, 4 or 8 bits a pixel, rows of any length): Pillow reads
    back every pixel's colour and opacity, index 0 transparent."""
    import io

    from PIL import Image

    from lifecircle.outputs._png import palette_png

    rng = np.random.default_rng(seed)
    index = rng.integers(0, n + 1, (height, width), dtype=np.uint8)
    colors = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rng.integers(0, 256, (n, 3))]
    alphas = rng.random(n).tolist()
    # Pillow reads a tRNS chunk of only 255s and one 0 as one transparent index with the
    # pattern rb"^\xff*\x00\xff*$", whose "$" also matches before a last byte 10 ("\n"):
    # alphas [0, 10] then read as [0, 255]. The file is right (libpng, so browsers, read
    # it); that one oracle's mistake is left out
    trns = bytes([0, *(round(255 * a) for a in alphas)])
    assume(re.fullmatch(rb"\xff*\x00\xff*\n", trns) is None)
    with Image.open(io.BytesIO(palette_png(index, colors, alphas))) as img:
        got = np.asarray(img.convert("RGBA"))
    want = np.zeros((height, width, 4), dtype=np.uint8)
    for k in range(1, n + 1):
        c = colors[k - 1]
        want[index == k] = [int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16),
                            round(255 * alphas[k - 1])]
    np.testing.assert_array_equal(got, want)
