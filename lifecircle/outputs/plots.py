"""Static figures for reports, sized for print: coverage maps, the deficiency map, a chart.

* ``figures/coverage_<category>.png``: blocks in the map's fixed planning bins and colours
  (:func:`lifecircle.outputs.webmap.classify_minutes`, so the PNG and ``map.html`` always agree),
  the category's facilities, a legend in minutes, metre axes, a scale bar, a north arrow and the
  OpenStreetMap credit; a category without data is drawn as "no data", never as unreachable;
* ``figures/deficiency.png``: how many categories (of those with data) each block lacks within
  its limit, on one count scale;
* ``figures/coverage_share.png``: share of the population covered per category
  (:mod:`lifecircle.outputs.share_chart`).

Every figure is A4 wide (8.27 in) at :data:`DPI` dots per inch, no taller than an A4 page, with
text of at least :data:`MIN_PT` points at that size and numbers to at most one decimal.

The blocks and streets of every map figure are rasterised once per run at the figure's own
resolution and coloured per figure (:mod:`lifecircle.outputs._block_image`), so that a city's
hundred thousand blocks cost no more per figure than a town's. The category maps and the
deficiency map are drawn on one frame, the first map's tick and axis labels reused as pixels
by the others (:mod:`lifecircle.outputs._axis_pixels`; the same pixels, not a likeness).

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``, so nothing leaks into a caller's pyplot state. Chinese labels need a CJK font
(Debian/Ubuntu package ``fonts-noto-cjk``); without one the figures fall back to English and
say so once per process rather than drawing empty boxes.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import columns as col
from .._errors import ConfigError, OutputError
from ..i18n import display_width, label_of
from ..profiles import Profile
from . import _axis_pixels
from ._block_image import BlockRaster, MapGrid, PixelImage, block_raster, map_grid, street_pixels
from ._figure_style import (
    _PT,
    CREDIT,
    DPI,
    MIN_PT,
    NO_DATA_COLOR,
    NO_DATA_HATCH,
    PAGE_IN,
    _fill,
    _new_figure,
    _num,
    _Style,
    _style,
)
from ._fonts import cjk_font
from ._png import png_text, rgb_png
from .report import category_status
from .webmap import BIN_COLORS, BINS_MIN, CATEGORY_COLORS, UNREACHABLE_COLOR, classify_minutes

__all__ = [
    "DPI",
    "MIN_PT",
    "PAGE_IN",
    "MapBase",
    "block_bins",
    "cjk_font",
    "coverage_figure",
    "deficiency_colors",
    "deficiency_figure",
    "figure_names",
    "map_base",
    "write_figures",
]

# Blocks lacking nothing: a calm green; lacking 1..n: the map's warm ramp, light to dark.
_NONE_LACKING = "#d9f0d3"
# Map layout (inches from the figure's bottom): the legend or count scale under the axes.
_BOTTOM_IN = 1.75
_LEGEND_TOP_IN = 1.1
_LEFT_IN, _RIGHT_IN, _TOP_IN = 0.95, 0.3, 0.85
_BACKGROUND = "#f4f4f4"
_BORDER, _HATCH_COLOR = "#ffffff", "#bbbbbb"
_STREET, _STREET_PT, _STREET_ALPHA = "#6b7780", 0.35, 0.7
#: the streets' mean opacity over the map at most: a city's streets fill most pixels of an A4
#: page and would hide the blocks' colours, so dense streets are drawn fainter
_STREET_MEAN_MAX = 0.06
#: facility markers cover at most this share of the map (a city has thousands of them)
_MARKERS_SHARE = 0.03


def bin_labels(unit: str = "min") -> list[str]:
    """Labels of the planning bins, short to long (the map's legend wording)."""
    edges = (0.0, *BINS_MIN)
    labels = [f"{_num(edges[i])}–{_num(edges[i + 1])} {unit}" for i in range(len(BINS_MIN))]
    return [*labels, f"> {_num(BINS_MIN[-1])} {unit}"]


def block_bins(blocks: gpd.GeoDataFrame, category: str) -> np.ndarray:
    """Planning bin of every block for ``category`` (the same as on the web map)."""
    return classify_minutes(blocks[col.walk_min(category)].to_numpy(dtype=float,
                                                                     na_value=np.nan))


# ---------------------------------------------------------------------------------------------
# map furniture


@dataclass(frozen=True)
class MapBase:
    """What every map figure of a run shares: the figure's size, the pixel grid of its axes,
    the block at each pixel and the streets' pixels (rasterised once, coloured per figure;
    see :mod:`lifecircle.outputs._block_image`)."""

    size_in: tuple[float, float]
    grid: MapGrid
    blocks: BlockRaster
    streets: np.ndarray | None


def map_base(blocks: gpd.GeoDataFrame, edges: gpd.GeoDataFrame | None = None) -> MapBase:
    """The frame of the map figures of ``blocks`` (with the streets of ``edges``).

    An A4-wide figure whose height follows the blocks' extent, the legend below the map, with
    fixed margins (constrained layout measured every tick label and took a third of a figure's
    time) and an axes box of whole pixels at :data:`DPI`, so that the blocks' image maps one
    to one onto the figure's pixels.
    """
    if blocks.crs is None or blocks.crs.is_geographic:
        raise ConfigError(
            f"figures need blocks in a projected CRS in metres, got {blocks.crs}; "
            "reproject them with blocks.to_crs(result.network.crs)"
        )
    bounds = blocks.total_bounds if len(blocks) else np.array([0.0, 0.0, 1.0, 1.0])
    minx, miny, maxx, maxy = bounds
    aspect = (maxy - miny + 1.0) / (maxx - minx + 1.0)
    width = PAGE_IN[0]
    axes_w = round((width - _LEFT_IN - _RIGHT_IN) * DPI)
    axes_h = round(min(max(axes_w * aspect, 3.0 * DPI),
                       (PAGE_IN[1] - _BOTTOM_IN - _TOP_IN) * DPI))
    grid = map_grid(bounds, axes_w, axes_h)
    raster = block_raster(np.asarray(blocks.geometry.values), grid)
    streets = None
    if edges is not None and not edges.empty:
        lines = edges.geometry if edges.crs == blocks.crs else edges.to_crs(blocks.crs).geometry
        streets = street_pixels(np.asarray(lines.values), grid, dpi=DPI,
                                linewidth_pt=_STREET_PT, color=_STREET, alpha=_STREET_ALPHA)
        if streets is not None:
            mean = float(streets[..., 3].mean()) / 255.0
            if mean > _STREET_MEAN_MAX:
                faint = streets[..., 3] * (_STREET_MEAN_MAX / mean)
                streets[..., 3] = np.rint(faint).astype(np.uint8)
    return MapBase((width, axes_h / DPI + _BOTTOM_IN + _TOP_IN), grid, raster, streets)


def _map_axes(base: MapBase, st: _Style) -> Any:
    """A new figure of ``base``'s size and its map axes, framed on the blocks."""
    width, height = base.size_in
    fig = _new_figure((width, height))
    fig.subplots_adjust(left=_LEFT_IN / width, right=1 - _RIGHT_IN / width,
                        bottom=_BOTTOM_IN / height, top=1 - _TOP_IN / height)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_xlabel(st.text["x"], fontproperties=st.fp("label"))
    ax.set_ylabel(st.text["y"], fontproperties=st.fp("label"))
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=_PT["tick"])
    ax.locator_params(axis="x", nbins=6)
    ax.locator_params(axis="y", nbins=5)
    ax.set_facecolor(_BACKGROUND)
    left, right, bottom, top = base.grid.extent
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    return ax


def _rgb(colors: Sequence[str]) -> np.ndarray:
    """0-255 RGB rows of matplotlib colours."""
    return np.array([to_rgb(c) for c in colors]).reshape(-1, 3) * 255.0


def _draw_blocks(ax: Any, base: MapBase, palette: Sequence[str], index: np.ndarray, *,
                 hatch: bool = False) -> Artist:
    """The blocks, block ``i`` in ``palette[index[i]]``, with white borders (or all hatched
    in the "no data" grey): one image of the axes' pixels."""
    colors = _rgb(palette)[np.asarray(index, dtype=np.int64)]
    pixels = base.blocks.rgba(colors, _rgb([_BACKGROUND]),
                              _rgb([_HATCH_COLOR if hatch else _BORDER]),
                              hatch_color=_rgb([_HATCH_COLOR]) if hatch else None)
    image = PixelImage(ax, pixels, extent=base.grid.extent, zorder=1)
    image.set_gid("blocks")
    return ax.add_artist(image)


def _map_frame(base: MapBase, st: _Style) -> Any:
    """The map axes of a new figure with what every map figure of a run shares: the streets,
    a scale bar, a north arrow and the OSM credit."""
    ax = _map_axes(base, st)
    if base.streets is not None:
        streets = ax.add_artist(PixelImage(ax, base.streets, extent=base.grid.extent, zorder=2))
        streets.set_gid("streets")
    _furniture(ax, st)
    return ax


def _marker_size(base: MapBase, n: int) -> float:
    """Area (pt²) of a facility marker: 26 (about 6 pt across), smaller where ``n`` of them
    would cover more than :data:`_MARKERS_SHARE` of the map, never below 3."""
    area_pt2 = base.grid.width * base.grid.height * (72.0 / DPI) ** 2
    return float(np.clip(_MARKERS_SHARE * area_pt2 / max(n, 1), 3.0, 26.0))


def _furniture(ax: Any, st: _Style) -> None:
    """A scale bar, a north arrow and the OSM credit."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = ax.get_xlim()
    span = x1 - x0
    length = _nice_length(span / 5)
    size_bar = AnchoredSizeBar(ax.transData, length, _metres(length), "lower right", pad=0.4,
                               sep=3, frameon=True, size_vertical=span / 250,
                               fontproperties=FontProperties(size=_PT["small"]))
    size_bar.patch.set_alpha(0.85)
    ax.add_artist(size_bar)
    ax.annotate(st.text["north"], xy=(0.965, 0.96), xytext=(0.965, 0.86),
                xycoords="axes fraction", ha="center", va="center",
                fontproperties=st.fp("label"), arrowprops={"arrowstyle": "-|>", "color": "#222"})
    ax.text(0.005, 0.005, st.text["credit"], transform=ax.transAxes, ha="left", va="bottom",
            color="#333", fontproperties=st.fp("small"),
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.5})


def _nice_length(x: float) -> float:
    exp = 10 ** np.floor(np.log10(max(x, 1.0)))
    for m in (5, 2, 1):
        if m * exp <= x:
            return float(m * exp)
    return float(exp)


def _metres(x: float) -> str:
    return f"{_num(x / 1000)} km" if x >= 1000 else f"{_num(x)} m"


def _legend_below(ax: Any, handles: list[Artist], title: str, st: _Style) -> Artist:
    """A legend under the map, in up to four columns (it never hides a block)."""
    fig = ax.get_figure()
    legend = fig.legend(handles=handles, title=title, loc="upper center",
                        bbox_to_anchor=(0.5, _LEGEND_TOP_IN / fig.get_figheight()),
                        ncol=min(4, len(handles)), prop=st.fp("legend"),
                        title_fontproperties=st.fp("label"), frameon=False, handlelength=1.6,
                        columnspacing=1.4)
    legend.set_in_layout(False)
    return legend


def _wrap(text: str, width: int = 100) -> str:
    """``text`` broken after separators into lines of at most ``width`` half-width characters
    (Chinese characters count two); hand-written because :mod:`textwrap` breaks only at
    spaces, which Chinese text does not have."""
    lines, line, size = [], "", 0
    for piece in re.split(r"(?<=[、，,；; ])", text):
        n = display_width(piece)
        if line and size + n > width:
            lines.append(line.rstrip())
            line, size = "", 0
        line, size = line + piece, size + n
    return "\n".join([*lines, line.rstrip()])


def _title(ax: Any, title: str, subtitle: str, st: _Style) -> list[Artist]:
    """Set the title; the subtitle under it (the artists added: the subtitle, if any)."""
    # y given: matplotlib's automatic title position measures the tick labels at every draw
    ax.set_title(title, fontproperties=st.fp("title"), pad=22 if subtitle else 8, y=1.0)
    if not subtitle:
        return []
    return [ax.text(0.5, 1.012, subtitle, transform=ax.transAxes, ha="center", va="bottom",
                    color="#333", fontproperties=st.fp("subtitle"))]


# ---------------------------------------------------------------------------------------------
# figures


def coverage_figure(
    blocks: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    profile: Profile,
    category: str,
    *,
    edges: gpd.GeoDataFrame | None = None,
    lang: str = "en",
    no_data: str | None = None,
    coverage: Mapping[str, Any] | None = None,
    base: MapBase | None = None,
) -> Figure:
    """Blocks coloured by minutes to ``category`` in the planning bins, with its facilities.

    Parameters
    ----------
    blocks
        Blocks with ``walk_min_<category>`` in a projected CRS (metres).
    facilities
        Points with ``category``; drawn when in ``category``.
    profile
        The run's profile (labels, threshold, speed).
    category
        The category to show.
    edges
        The walking network, drawn as thin grey lines when given.
    lang
        ``"en"`` or ``"zh"`` (English when no CJK font is installed).
    no_data
        Why the category has no usable data (``"no_facilities"``, ``"sparse"``; see
        :func:`lifecircle.outputs.report.category_status`): its blocks are drawn as "no data".
        A category with no facility in ``facilities`` counts as ``"no_facilities"``.
    coverage
        The category's entry of ``report["summary"]["categories"]``: where it has the share
        of the residents it serves (``served``), the subtitle gives that share beside the
        share of all residents.
    base
        The frame and pixels the run's map figures share (:func:`map_base` of ``blocks`` and
        ``edges``); computed here when not given.
    """
    st = _style(lang)
    base = base or map_base(blocks, edges)
    ax = _map_frame(base, st)
    _coverage_layer(ax, base, st, blocks, _markers(facilities, blocks.crs), profile, category,
                    no_data=no_data, coverage=coverage)
    return ax.get_figure()


def _coverage_layer(ax: Any, base: MapBase, st: _Style, blocks: gpd.GeoDataFrame,
                    facilities: gpd.GeoDataFrame, profile: Profile, category: str, *,
                    no_data: str | None, coverage: Mapping[str, Any] | None) -> list[Artist]:
    """Draw what :func:`coverage_figure` shows of ``category`` on a map frame: the blocks'
    colours, the facilities (:func:`_markers`), the legend, the title and subtitle; the
    artists added (removed to draw the next category on the same frame)."""
    text = st.text
    label = profile.categories[category].label(st.lang)
    fac = facilities[facilities["category"] == category]
    if fac.empty and no_data is None:
        no_data = "no_facilities"
    k = list(profile.categories).index(category)
    color = CATEGORY_COLORS[k % len(CATEGORY_COLORS)]
    handles: list[Artist]
    if no_data is not None:
        added = [_draw_blocks(ax, base, [NO_DATA_COLOR], np.zeros(len(blocks), dtype=np.int64),
                              hatch=True)]
        handles = [Patch(facecolor=NO_DATA_COLOR, edgecolor="#999", hatch=NO_DATA_HATCH,
                         label=text["no_data"])]
    else:
        bins = block_bins(blocks, category)
        added = [_draw_blocks(ax, base, [*BIN_COLORS, UNREACHABLE_COLOR], bins)]
        handles = [Patch(facecolor=c, edgecolor="#999", label=lab)
                   for c, lab in zip(BIN_COLORS, bin_labels(text["min"]), strict=True)]
        handles.append(Patch(facecolor=UNREACHABLE_COLOR, edgecolor="#999",
                             label=text["unreachable"]))
    if not fac.empty:
        pts = fac.geometry.representative_point()
        size = _marker_size(base, len(pts))
        added.append(ax.scatter(pts.x, pts.y, s=size, c=color, edgecolors="white",
                                linewidths=0.8 * np.sqrt(size / 26.0), zorder=4))
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=7,
                              markerfacecolor=color, markeredgecolor="white",
                              label=_fill(text["facility"], label=label)))
    added.append(_legend_below(ax, handles, text["legend_title"], st))
    note = _fill(text["note"], speed=profile.group_of(category).speed_kmh,
                 threshold=profile.threshold_of(category))
    coverage = coverage or {}
    served = coverage.get("served") or {}
    if served.get("share_population_covered") is not None:
        note += text["sep"] + _fill(
            text["served_note"], all=round(100 * (coverage["share_population_covered"] or 0)),
            share=round(100 * served["share_population_covered"]),
            who=label_of(served, st.lang))
    if no_data is not None:
        note = text[f"no_data_{no_data}"] if f"no_data_{no_data}" in text else text["no_data"]
    return added + _title(ax, _fill(text["coverage_title"], label=label), note, st)


def _markers(facilities: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """One row per facility (its first access point: one marker each), in ``crs``."""
    from ..sources.facilities import primary_rows

    return primary_rows(facilities).to_crs(crs)


def deficiency_colors(n: int) -> list[str]:
    """Colours of 0, 1, ..., ``n`` categories lacking: calm green, then light to dark red."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    reds = colormaps["Reds"]
    return [_NONE_LACKING, *(to_hex(reds(0.25 + 0.7 * i / max(n - 1, 1))) for i in range(n))]


def _lacking(blocks: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str]) -> np.ndarray:
    """How many of ``cats`` each block lacks (not covered within its limit)."""
    out = np.zeros(len(blocks), dtype=np.int64)
    for c in cats:
        if col.covered(c) in blocks.columns:
            covered = blocks[col.covered(c)].fillna(False).to_numpy(dtype=bool)
        else:
            t = blocks[col.walk_min(c)].to_numpy(dtype=float, na_value=np.nan)
            covered = t <= profile.threshold_of(c)
        out += ~covered
    return out


def deficiency_figure(
    blocks: gpd.GeoDataFrame,
    profile: Profile,
    *,
    edges: gpd.GeoDataFrame | None = None,
    lang: str = "en",
    no_data: Collection[str] = (),
    base: MapBase | None = None,
) -> Figure:
    """Blocks coloured by how many categories with data they lack, on one count scale.

    Categories in ``no_data`` (no usable facility data) are left out of the count and named
    under the title; ``base`` as for :func:`coverage_figure`.
    """
    st = _style(lang)
    base = base or map_base(blocks, edges)
    ax = _map_frame(base, st)
    _deficiency_layer(ax, base, st, blocks, profile, no_data)
    return ax.get_figure()


def _deficiency_layer(ax: Any, base: MapBase, st: _Style, blocks: gpd.GeoDataFrame,
                      profile: Profile, no_data: Collection[str]) -> list[Artist]:
    """Draw what :func:`deficiency_figure` shows on a map frame: the blocks' colours, the
    count scale, the note on categories without data and the title; the artists added."""
    text = st.text
    cats = [c for c in profile.categories if c not in no_data]
    n = len(cats)
    lacking = _lacking(blocks, profile, cats)
    palette = deficiency_colors(n)
    fig = ax.get_figure()
    added = [_draw_blocks(ax, base, palette, np.minimum(lacking, n))]
    # one count scale (a colour bar) instead of one legend entry per count
    h = fig.get_figheight()
    cax = fig.add_axes((0.25, (_LEGEND_TOP_IN - 0.45) / h, 0.5, 0.16 / h))
    added.append(cax)
    mappable = ScalarMappable(norm=BoundaryNorm(np.arange(n + 2) - 0.5, n + 1),
                              cmap=ListedColormap(palette))
    bar = fig.colorbar(mappable, cax=cax, orientation="horizontal")
    step = max(1, int(np.ceil((n + 1) / 9)))
    ticks = list(range(0, n + 1, step))
    bar.set_ticks(ticks, labels=[str(i) for i in ticks])
    bar.ax.tick_params(labelsize=_PT["tick"], length=2)
    bar.set_label(_fill(text["deficiency_legend"], n=n), fontproperties=st.fp("label"))
    bar.ax.xaxis.set_label_position("top")
    if missing := [profile.categories[c].label(st.lang) for c in profile.categories
                   if c in no_data]:
        note = _fill(text["deficiency_no_data"], names=text["list_sep"].join(missing))
        added.append(fig.text(0.5, (_LEGEND_TOP_IN - 0.75) / h, _wrap(note), ha="center",
                              va="top", color="#333", fontproperties=st.fp("small")))
    return added + _title(ax, text["deficiency_title"], "", st)


# ---------------------------------------------------------------------------------------------
# writing


def figure_names(categories: Sequence[str]) -> list[str]:
    """Paths of the figures a run writes, relative to its output folder."""
    return ([f"figures/coverage_{c}.png" for c in categories]
            + ["figures/deficiency.png", "figures/coverage_share.png"])


def write_figures(result: Any, folder: str | os.PathLike[str], *, lang: str = "en") -> list[Path]:
    """Write every figure of a run into ``folder/figures``.

    Parameters
    ----------
    result
        A :class:`lifecircle.pipeline.Result`.
    folder
        The output (staging) folder.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    list of pathlib.Path
        The PNG files written, in the order of :func:`figure_names`.
    """
    base_dir = Path(folder)
    (base_dir / "figures").mkdir(parents=True, exist_ok=True)
    cats = list(result.profile.categories)
    summary = result.report["summary"]
    status = {c: category_status(summary["categories"][c]) if c in summary["categories"]
              else None for c in cats}
    base = map_base(result.blocks, result.edges)
    st = _style(lang)
    frame: Any = _map_frame(base, st) if cats else None
    layer: list[Artist] = []
    kept: list[_axis_pixels.AxisPixels | None] = []  # the first map's axis pixels
    markers = _markers(result.facilities, result.blocks.crs)

    def draw(k: int) -> np.ndarray:
        """Pixels of figure ``k``: the category maps and then the deficiency map share one
        frame (axes, ticks, streets, furniture) and only their own layer is redrawn, the
        first map's axis pixels reused for the others (:mod:`._axis_pixels`); the chart is a
        figure of its own."""
        if k <= len(cats) and frame is not None:
            for artist in layer:
                artist.remove()
            layer[:] = (_coverage_layer(frame, base, st, result.blocks, markers,
                                        result.profile, cats[k], no_data=status[cats[k]],
                                        coverage=summary["categories"].get(cats[k]))
                        if k < len(cats) else
                        _deficiency_layer(frame, base, st, result.blocks, result.profile,
                                          [c for c in cats if status[c]]))
            if not kept:
                kept.append(_axis_pixels.keep(frame, pixels := _pixels(frame.get_figure()),
                                              [*layer, frame.title]))
                return pixels
            return _axis_pixels.drawn_with(kept[0], frame, [*layer, frame.title],
                                           lambda: _pixels(frame.get_figure()))
        if k == len(cats):  # no category: no frame
            return _pixels(deficiency_figure(result.blocks, result.profile, lang=lang,
                                             base=base))
        from .share_chart import coverage_share_figure

        return _pixels(coverage_share_figure(summary, result.profile, lang=lang))

    paths = [base_dir / name for name in figure_names(cats)]
    # PNG compression (zlib, which releases the GIL) of one figure runs in a thread while the
    # next one is drawn: it was half of the figures' time; each figure is dropped once drawn
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(_write_png, draw(k), path) for k, path in enumerate(paths)]
        for job, path in zip(pending, paths, strict=True):
            try:
                job.result()
            except OSError as exc:
                raise OutputError(f"{path}: cannot write the figure ({exc.strerror or exc})"
                                  ) from exc
    return paths


def _pixels(fig: Figure) -> np.ndarray:
    """The figure drawn at :data:`DPI` on its Agg canvas, as RGB pixels (the background is
    opaque, so the alpha channel carries nothing and only slows the compression)."""
    if fig.get_dpi() != DPI:
        fig.set_dpi(DPI)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    # channel by channel: NumPy copies an (h, w, 3) slice of RGBA pixels element by element,
    # five times slower (25 against 5 ms of CPU a map page: 0.15 s a run's seven figures)
    rgb = np.empty((*rgba.shape[:2], 3), dtype=np.uint8)
    for k in range(3):
        rgb[..., k] = rgba[..., k]
    return rgb


def _write_png(pixels: np.ndarray, path: Path) -> None:
    """``pixels`` (RGB) as a PNG with its print resolution and the credit in its metadata.

    Written with :mod:`zlib` (see :mod:`lifecircle.outputs._png`), unfiltered rows; the chunks
    are Pillow's: IHDR, tEXt, pHYs, IDAT.
    """
    per_metre = round(DPI / 0.0254)
    # level 3: as fast as level 1 on these images, and smaller
    data = rgb_png(pixels, [png_text("Software", "lifecircle"), png_text("Copyright", CREDIT),
                            (b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))], level=3)
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError:
        path.unlink(missing_ok=True)
        raise
