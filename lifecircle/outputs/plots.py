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

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``, so nothing leaks into a caller's pyplot state. Chinese labels need a CJK font
(Debian/Ubuntu package ``fonts-noto-cjk``); without one the figures fall back to English and
say so once per process rather than drawing empty boxes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PathCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath

from .. import columns as col
from .._errors import ConfigError, OutputError
from ..i18n import display_width, label_of
from ..profiles import Profile
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
from .report import category_status
from .webmap import BIN_COLORS, BINS_MIN, CATEGORY_COLORS, UNREACHABLE_COLOR, classify_minutes

__all__ = [
    "DPI",
    "MIN_PT",
    "PAGE_IN",
    "block_bins",
    "cjk_font",
    "coverage_figure",
    "deficiency_colors",
    "deficiency_figure",
    "figure_names",
    "write_figures",
]

# Blocks lacking nothing: a calm green; lacking 1..n: the map's warm ramp, light to dark.
_NONE_LACKING = "#d9f0d3"
# Map layout (inches from the figure's bottom): the legend or count scale under the axes.
_BOTTOM_IN = 1.75
_LEGEND_TOP_IN = 1.1


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


def _map_figure(blocks: gpd.GeoDataFrame) -> Figure:
    """An A4-wide figure whose height follows the blocks' extent, legend below the map.

    Fixed margins (inches) instead of constrained layout, which measured every tick label and
    took a third of a figure's time.
    """
    minx, miny, maxx, maxy = blocks.total_bounds
    aspect = (maxy - miny + 1.0) / (maxx - minx + 1.0)
    width = PAGE_IN[0]
    left, right, bottom, top = 0.95, 0.3, _BOTTOM_IN, 0.85
    axes_w = width - left - right
    axes_h = min(max(axes_w * aspect, 3.0), PAGE_IN[1] - bottom - top)
    height = axes_h + bottom + top
    fig = _new_figure((width, height))
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height)
    return fig


def _map_axes(fig: Figure, blocks: gpd.GeoDataFrame, st: _Style) -> Any:
    if blocks.crs is None or blocks.crs.is_geographic:
        raise ConfigError(
            f"figures need blocks in a projected CRS in metres, got {blocks.crs}; "
            "reproject them with blocks.to_crs(result.network.crs)"
        )
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_xlabel(st.text["x"], fontproperties=st.fp("label"))
    ax.set_ylabel(st.text["y"], fontproperties=st.fp("label"))
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=_PT["tick"])
    ax.locator_params(nbins=5)
    ax.set_facecolor("#f4f4f4")
    return ax


def _furniture(ax: Any, st: _Style, edges: gpd.GeoDataFrame | None, crs: Any) -> None:
    """Streets, a scale bar, a north arrow and the OSM credit."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    if edges is not None and not edges.empty:
        # every street in one path: one matplotlib Path per street cost more than the drawing
        coords, codes, _ = _vertices(np.asarray(edges.to_crs(crs).geometry.values))
        ax.add_collection(PathCollection([MplPath(coords, codes)], facecolors="none",
                                         edgecolors="#6b7780", linewidths=0.35, alpha=0.7,
                                         zorder=2))
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


def _vertices(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices and path codes of every ring or line of ``geoms`` in one array each (rings
    closed, each line or ring a sub-path), and where each geometry's vertices start (length
    ``len(geoms) + 1``); built with shapely's array functions, not a Python loop per ring."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    rings, ring_part = shapely.get_rings(parts[polygonal], return_index=True)
    pieces = np.concatenate([rings, parts[~polygonal]])
    piece_owner = np.concatenate([owner[polygonal][ring_part], owner[~polygonal]])
    order = np.argsort(piece_owner, kind="stable")
    pieces, piece_owner = pieces[order], piece_owner[order]
    coords, piece = shapely.get_coordinates(pieces, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    if len(coords):
        first = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
        codes[first] = MplPath.MOVETO
        closed = shapely.get_type_id(pieces) == 2  # a polygon's ring: close it
        last = np.r_[first[1:] - 1, len(coords) - 1]
        codes[last[closed[piece[first]]]] = MplPath.CLOSEPOLY
    cut = np.searchsorted(piece_owner[piece], np.arange(len(geoms) + 1))
    return coords, codes, cut


def _polygons(ax: Any, frame: gpd.GeoDataFrame, colors: Sequence[str], *,
              hatch: str | None = None) -> None:
    """Fill the polygons of ``frame`` in ``colors`` (one per row) and frame the view on them.

    Drawn as one PathCollection rather than with ``GeoDataFrame.plot``: that redraws the
    whole canvas on every call, which doubled the time of a figure. Hatched polygons (all in
    one colour) are drawn as one path: Agg renders the hatch pattern once per path, which
    made a figure of a thousand hatched blocks five times slower than a coloured one.
    """
    geoms = np.asarray(frame.geometry.values)
    coords, codes, cut = _vertices(geoms)
    if hatch:
        paths = [MplPath(coords, codes)]
        colors = list(colors)[:1]
    else:
        paths = [MplPath(coords[a:b], codes[a:b]) for a, b in pairwise(cut)]
    ax.add_collection(PathCollection(paths, facecolors=list(colors),
                                     edgecolors="#bbbbbb" if hatch else "white",
                                     linewidths=0.3, hatch=hatch, zorder=1))
    minx, miny, maxx, maxy = frame.total_bounds
    pad = 0.03 * max(maxx - minx, maxy - miny, 1.0)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)


def _nice_length(x: float) -> float:
    exp = 10 ** np.floor(np.log10(max(x, 1.0)))
    for m in (5, 2, 1):
        if m * exp <= x:
            return float(m * exp)
    return float(exp)


def _metres(x: float) -> str:
    return f"{_num(x / 1000)} km" if x >= 1000 else f"{_num(x)} m"


def _legend_below(ax: Any, handles: list[Artist], title: str, st: _Style) -> None:
    """A legend under the map, in up to four columns (it never hides a block)."""
    fig = ax.get_figure()
    legend = fig.legend(handles=handles, title=title, loc="upper center",
                        bbox_to_anchor=(0.5, _LEGEND_TOP_IN / fig.get_figheight()),
                        ncol=min(4, len(handles)), prop=st.fp("legend"),
                        title_fontproperties=st.fp("label"), frameon=False, handlelength=1.6,
                        columnspacing=1.4)
    legend.set_in_layout(False)


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


def _title(ax: Any, title: str, subtitle: str, st: _Style) -> None:
    ax.set_title(title, fontproperties=st.fp("title"), pad=22 if subtitle else 8)
    if subtitle:
        ax.text(0.5, 1.012, subtitle, transform=ax.transAxes, ha="center", va="bottom",
                color="#333", fontproperties=st.fp("subtitle"))


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
    """
    st = _style(lang)
    text = st.text
    label = profile.categories[category].label(st.lang)
    from ..sources.facilities import primary_rows  # one marker per facility

    fac = primary_rows(facilities).to_crs(blocks.crs)
    fac = fac[fac["category"] == category]
    if fac.empty and no_data is None:
        no_data = "no_facilities"
    fig = _map_figure(blocks)
    ax = _map_axes(fig, blocks, st)
    k = list(profile.categories).index(category)
    color = CATEGORY_COLORS[k % len(CATEGORY_COLORS)]
    handles: list[Artist]
    if no_data is not None:
        _polygons(ax, blocks, [NO_DATA_COLOR] * len(blocks), hatch=NO_DATA_HATCH)
        handles = [Patch(facecolor=NO_DATA_COLOR, edgecolor="#999", hatch=NO_DATA_HATCH,
                         label=text["no_data"])]
    else:
        bins = block_bins(blocks, category)
        _polygons(ax, blocks, list(np.array([*BIN_COLORS, UNREACHABLE_COLOR])[bins]))
        handles = [Patch(facecolor=c, edgecolor="#999", label=lab)
                   for c, lab in zip(BIN_COLORS, bin_labels(text["min"]), strict=True)]
        handles.append(Patch(facecolor=UNREACHABLE_COLOR, edgecolor="#999",
                             label=text["unreachable"]))
    _furniture(ax, st, edges, blocks.crs)
    if not fac.empty:
        pts = fac.geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=26, c=color, edgecolors="white", linewidths=0.8, zorder=4)
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=7,
                              markerfacecolor=color, markeredgecolor="white",
                              label=_fill(text["facility"], label=label)))
    _legend_below(ax, handles, text["legend_title"], st)
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
    _title(ax, _fill(text["coverage_title"], label=label), note, st)
    return fig


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
) -> Figure:
    """Blocks coloured by how many categories with data they lack, on one count scale.

    Categories in ``no_data`` (no usable facility data) are left out of the count and named
    under the title.
    """
    st = _style(lang)
    text = st.text
    cats = [c for c in profile.categories if c not in no_data]
    n = len(cats)
    lacking = _lacking(blocks, profile, cats)
    palette = deficiency_colors(n)
    fig = _map_figure(blocks)
    ax = _map_axes(fig, blocks, st)
    _polygons(ax, blocks, [palette[min(int(v), n)] for v in lacking])
    _furniture(ax, st, edges, blocks.crs)
    # one count scale (a colour bar) instead of one legend entry per count
    h = fig.get_figheight()
    cax = fig.add_axes((0.25, (_LEGEND_TOP_IN - 0.45) / h, 0.5, 0.16 / h))
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
        fig.text(0.5, (_LEGEND_TOP_IN - 0.75) / h, _wrap(note), ha="center", va="top",
                 color="#333", fontproperties=st.fp("small"))
    _title(ax, text["deficiency_title"], "", st)
    return fig


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
    base = Path(folder)
    (base / "figures").mkdir(parents=True, exist_ok=True)
    cats = list(result.profile.categories)
    summary = result.report["summary"]
    status = {c: category_status(summary["categories"][c]) if c in summary["categories"]
              else None for c in cats}
    edges = result.edges
    figures = [coverage_figure(result.blocks, result.facilities, result.profile, c,
                               edges=edges, lang=lang, no_data=status[c],
                               coverage=summary["categories"].get(c)) for c in cats]
    figures.append(deficiency_figure(result.blocks, result.profile, edges=edges, lang=lang,
                                     no_data=[c for c in cats if status[c]]))
    from .share_chart import coverage_share_figure

    figures.append(coverage_share_figure(summary, result.profile, lang=lang))
    paths = [base / name for name in figure_names(cats)]
    # PNG compression (zlib, which releases the GIL) of one figure runs in a thread while the
    # next one is drawn: it was half of the figures' time
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(_write_png, _pixels(fig), path)
                   for fig, path in zip(figures, paths, strict=True)]
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
    return np.array(np.asarray(canvas.buffer_rgba())[..., :3])


def _write_png(pixels: np.ndarray, path: Path) -> None:
    """``pixels`` as a PNG with its print resolution and the credit in its metadata."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", "lifecircle")
    info.add_text("Copyright", CREDIT)
    Image.fromarray(pixels).save(path, format="png", dpi=(DPI, DPI), pnginfo=info)
