"""Static figures: files, sizes, bins shared with the web map, languages, targets, no pyplot."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.image as mimage
import numpy as np
import pytest

from lifecircle import columns as col
from lifecircle.outputs import plots
from lifecircle.outputs.plots import (
    block_bins,
    coverage_figure,
    coverage_share_figure,
    deficiency_figure,
    figure_names,
    target_share,
    write_figures,
)
from lifecircle.outputs.webmap import BIN_COLORS, UNREACHABLE_COLOR, classify_minutes, make_map
from lifecircle.profiles import load_profile
from tests.test_webmap import data_of, make_fixture


@pytest.fixture(scope="module")
def city():
    return make_fixture()


@pytest.fixture(scope="module")
def profile():
    return load_profile("walk15")


def _block_colors(fig) -> list[str]:
    ax = fig.axes[0]
    return [mcolors.to_hex(c) for c in ax.collections[0].get_facecolors()]


def test_run_writes_every_figure(nanjing_run):
    cats = list(nanjing_run.profile.categories)
    listed = json.loads((nanjing_run.out / "_SUCCESS.json").read_text())["files"]
    for name in figure_names(cats):
        path = nanjing_run.out / name
        assert name in listed
        image = mimage.imread(path)
        # maps: 10 in wide at 150 dpi, as tall as the blocks' extent needs
        if "coverage_share" not in name:
            assert image.shape[1] == 1500, name
            assert 3.0 * 150 < image.shape[0] < 12 * 150, name
        assert 20_000 < path.stat().st_size < 1_500_000, name


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
        colors = _block_colors(fig)
        bins = block_bins(blocks, c)
        map_bins = np.array([by_id[b][k] for b in blocks["block_id"]])
        np.testing.assert_array_equal(bins, map_bins)
        assert colors == [palette[b] for b in map_bins]
    # the health column of the fixture has unreachable blocks: grey in both
    assert (block_bins(blocks, "health") == len(BIN_COLORS)).sum() == 6


def test_bins_by_hand():
    np.testing.assert_array_equal(classify_minutes([0, 5, 5.01, 15, 15.01, 30, 31, np.nan]),
                                  [0, 0, 1, 2, 3, 4, 5, 6])


def test_coverage_figure_furniture(city, profile):
    fig = coverage_figure(city["blocks"], city["facilities"], profile, "health")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "© OpenStreetMap contributors" in texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:6] == ["0–5 min", "5–10 min", "10–15 min", "15–20 min", "20–30 min",
                          "> 30 min"]
    assert "unreachable on foot" in legend and "Health care facility" in legend
    assert ax.get_legend().get_title().get_text() == "Walking time (min)"
    assert ax.get_xlabel() == "Easting (m)" and ax.get_aspect() == 1.0
    assert "Health care" in ax.get_title() and "4.8 km/h" in ax.get_title()
    # the facility points drawn are the category's
    pts = ax.collections[-1].get_offsets()
    fac = city["facilities"][city["facilities"]["category"] == "health"]
    assert len(pts) == len(fac)


def test_deficiency_counts(city, profile):
    fig = deficiency_figure(city["blocks"], profile)
    colors = _block_colors(fig)
    n = city["blocks"]["n_lacking"].to_numpy()
    expected = [mcolors.to_hex(plots._DEFICIENCY_COLORS[v]) for v in n]
    assert colors == expected
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["none", *(f"{i} / 5" for i in range(1, 6))]


def test_coverage_share_bars_and_target(tmp_path, profile):
    summary = {"categories": {
        c: {"share_population_covered": s, "threshold_min": 15.0}
        for c, s in zip(profile.categories, [0.0, 0.55, 0.805, None, 1.0], strict=True)}}
    fig = coverage_share_figure(summary, profile)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.0, 55.0, 80.5, 0.0, 100.0])
    assert not ax.collections  # no target in walk15
    assert [t.get_text() for t in ax.texts][:5] == ["0 %", "55 %", "80 %", "0 %", "100 %"]
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
    fig = coverage_share_figure(summary, with_targets)
    assert fig.axes[0].texts[0].get_text() == "no facility in the data"
    lines = fig.axes[0].collections
    assert len(lines) == 3
    levels = [seg[0][1] for coll in lines for seg in coll.get_segments()]
    assert levels == pytest.approx([80.0, 80.0, 90.0])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("target 80 %") == 2 and "target 90 %" in texts


def test_chinese_labels_use_a_cjk_font(city, profile):
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    fig = coverage_figure(city["blocks"], city["facilities"], profile, "health", lang="zh")
    ax = fig.axes[0]
    assert ax.get_title().startswith("步行至最近医疗卫生设施的时间")
    assert "CJK" in ax.title.get_fontproperties().get_file() or ax.title.get_fontname()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "0–5 分钟" in legend and "步行无法到达" in legend


def test_chinese_falls_back_to_english_without_a_font(city, profile, monkeypatch, caplog):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    with caplog.at_level(logging.WARNING, logger="lifecircle.outputs.plots"):
        fig = coverage_figure(city["blocks"], city["facilities"], profile, "health", lang="zh")
    assert fig.axes[0].get_title().startswith("Walking time to the nearest facility: Health care")
    assert "fonts-noto-cjk" in caplog.text


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
