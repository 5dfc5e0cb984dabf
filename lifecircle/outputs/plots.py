"""Static figures for reports: coverage maps per category, the deficiency map, a coverage chart.

* ``figures/coverage_<category>.png``: blocks in the map's fixed planning bins and colours
  (:func:`lifecircle.outputs.webmap.classify_minutes`, so the PNG and ``map.html`` always agree),
  the category's facilities, a legend in minutes, metre axes, a scale bar, a north arrow and the
  OpenStreetMap credit;
* ``figures/deficiency.png``: how many categories each block lacks within its limit;
* ``figures/coverage_share.png``: share of the population covered per category, with each
  category's limit and the plan target line where the profile sets one.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``, so nothing leaks into a caller's pyplot state. Chinese labels need a CJK font
(Debian ``fonts-noto-cjk``); without one the figures fall back to English with a logged warning
rather than drawing empty boxes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findSystemFonts, fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath

from .. import columns as col
from .._errors import ConfigError, OutputError
from ..i18n import check_lang, messages
from ..profiles import Profile
from .webmap import BIN_COLORS, BINS_MIN, CATEGORY_COLORS, UNREACHABLE_COLOR, classify_minutes

__all__ = [
    "block_bins",
    "cjk_font",
    "coverage_figure",
    "coverage_share_figure",
    "deficiency_figure",
    "figure_names",
    "target_share",
    "write_figures",
]

log = logging.getLogger(__name__)

DPI = 150
CREDIT = "© OpenStreetMap contributors"
# Families tried first (as matplotlib knows them), then file names on the system.
_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
                 "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei",
                 "PingFang SC", "Noto Serif CJK SC")
_CJK_FILES = ("notosanscjk-regular", "notosanscjk", "sourcehansans", "wqy-microhei",
              "wqy-zenhei", "simhei", "msyh", "pingfang", "notoserifcjk")
# Colours of 0, 1, 2, ... categories lacking (light to dark red; 0 is a calm grey-green).
_DEFICIENCY_COLORS = ("#d9f0d3", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26",
                      "#a50f15", "#67000d")

# Legends sit right of the map, where they hide no block.
_LEGEND_OUTSIDE: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0),
                                   "borderaxespad": 0.0, "framealpha": 0.9}



# ---------------------------------------------------------------------------------------------
# fonts and language


@cache
def cjk_font() -> str | None:
    """A font file with Chinese glyphs (the Simplified Chinese face of a collection when the
    installed matplotlib can pick faces), or ``None`` when the system has none."""
    for family in _CJK_FAMILIES:
        for entry in fontManager.ttflist:
            if entry.name == family:
                return _face(str(entry.fname), getattr(entry, "index", 0))
    # matplotlib's font cache may predate a font installed later: look at the files too.
    files = sorted(findSystemFonts(), key=lambda p: (os.path.basename(p).lower(), p))
    for stem in _CJK_FILES:
        for path in files:
            name = os.path.basename(path).lower()
            if name.startswith(stem) and "bold" not in name:
                return _face(path, _sc_face(path))
    return None


def _sc_face(path: str) -> int:
    """Index of the Simplified Chinese face in a font collection (0 when unknown)."""
    try:
        from matplotlib.ft2font import FT2Font

        for i in range(FT2Font(path).num_faces):
            if FT2Font(path, face_index=i).family_name.endswith(" SC"):
                return i
    except (TypeError, RuntimeError, OSError, AttributeError):
        pass
    return 0


def _face(path: str, index: int) -> str:
    """``path`` naming face ``index`` of a collection, where matplotlib supports faces."""
    if not index:
        return path
    import matplotlib.font_manager

    font_path: Any = getattr(matplotlib.font_manager, "FontPath", None)
    if font_path is None:  # matplotlib < 3.11 reads the first face only
        return path
    face: str = font_path(path, index)  # a str subclass carrying the face index
    return face


def _language(lang: str) -> tuple[str, FontProperties | None]:
    """The language the figures can really use, and the font for its text."""
    check_lang(lang, option="lang")
    if lang != "zh":
        return lang, None
    path = cjk_font()
    if path is None:
        log.warning("no CJK font found (install fonts-noto-cjk); figures use English labels")
        return "en", None
    return lang, FontProperties(fname=path)


def _fill(template: str, **values: Any) -> str:
    return template.format(**{k: f"{v:g}" if isinstance(v, float) else v
                              for k, v in values.items()})


def _label(profile: Profile, category: str, lang: str) -> str:
    return profile.categories[category].label(lang)


def bin_labels(unit: str = "min") -> list[str]:
    """Labels of the planning bins, short to long (the map's legend wording)."""
    edges = (0.0, *BINS_MIN)
    labels = [f"{edges[i]:g}–{edges[i + 1]:g} {unit}" for i in range(len(BINS_MIN))]
    return [*labels, f"> {BINS_MIN[-1]:g} {unit}"]


def block_bins(blocks: gpd.GeoDataFrame, category: str) -> np.ndarray:
    """Planning bin of every block for ``category`` (the same as on the web map)."""
    return classify_minutes(blocks[col.walk_min(category)].to_numpy(dtype=float,
                                                                     na_value=np.nan))


# ---------------------------------------------------------------------------------------------
# map furniture


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _map_figure(blocks: gpd.GeoDataFrame) -> Figure:
    """A 10 in wide figure whose height follows the blocks' extent (no empty bands).

    Fixed margins instead of constrained layout, which measured every tick label and took a
    third of a figure's time.
    """
    minx, miny, maxx, maxy = blocks.total_bounds
    aspect = (maxy - miny + 1.0) / (maxx - minx + 1.0)
    left, right, bottom, top = 0.09, 0.74, 0.8, 0.7  # inches for bottom/top
    width = 10.0
    axes_h = min(max(width * (right - left) * aspect, 3.0), 10.0)
    height = axes_h + bottom + top
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(left=left, right=right, bottom=bottom / height, top=1 - top / height)
    FigureCanvasAgg(fig)
    return fig


def _map_axes(fig: Figure, blocks: gpd.GeoDataFrame, text: Mapping[str, str],
              font: FontProperties | None) -> Any:
    if blocks.crs is None or blocks.crs.is_geographic:
        raise ConfigError(
            f"figures need blocks in a projected CRS in metres, got {blocks.crs}; "
            "reproject them with blocks.to_crs(result.network.crs)"
        )
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_xlabel(text["x"], fontproperties=font)
    ax.set_ylabel(text["y"], fontproperties=font)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    ax.set_facecolor("#f4f4f4")
    return ax


def _furniture(ax: Any, text: Mapping[str, str], font: FontProperties | None,
               edges: gpd.GeoDataFrame | None, crs: Any) -> None:
    """Streets, a scale bar, a north arrow and the OSM credit."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    if edges is not None and not edges.empty:
        lines = shapely.get_parts(np.asarray(edges.to_crs(crs).geometry.values))
        ax.add_collection(LineCollection(
            [np.asarray(shapely.get_coordinates(g)) for g in lines], colors="#6b7780",
            linewidths=0.35, alpha=0.7, zorder=2))
    x0, x1 = ax.get_xlim()
    span = x1 - x0
    length = _nice_length(span / 5)
    size_bar = AnchoredSizeBar(ax.transData, length, _metres(length), "lower right", pad=0.4,
                               sep=3, frameon=True, size_vertical=span / 250,
                               fontproperties=FontProperties(size=7))
    size_bar.patch.set_alpha(0.85)
    ax.add_artist(size_bar)
    ax.annotate(text["north"], xy=(0.965, 0.96), xytext=(0.965, 0.86),
                xycoords="axes fraction", ha="center", va="center", fontsize=9,
                fontproperties=font, arrowprops={"arrowstyle": "-|>", "color": "#222"})
    ax.text(0.005, 0.005, CREDIT, transform=ax.transAxes, fontsize=6.5, ha="left",
            va="bottom", color="#333", bbox={"facecolor": "white", "alpha": 0.75,
                                             "edgecolor": "none", "pad": 1.5})


def _polygons(ax: Any, frame: gpd.GeoDataFrame, colors: Sequence[str]) -> None:
    """Fill the polygons of ``frame`` in ``colors`` (one per row) and frame the view on them.

    Drawn as one PathCollection rather than with ``GeoDataFrame.plot``: that redraws the
    whole canvas on every call, which doubled the time of a figure.
    """
    paths = []
    for geom in frame.geometry.values:
        rings = [] if geom is None else [
            MplPath(np.asarray(ring.coords)[:, :2], closed=True)
            for poly in shapely.get_parts(geom) if not poly.is_empty
            for ring in (poly.exterior, *poly.interiors)]
        paths.append(MplPath.make_compound_path(*rings) if rings else MplPath(np.empty((0, 2))))
    ax.add_collection(PathCollection(paths, facecolors=list(colors), edgecolors="white",
                                     linewidths=0.3, zorder=1))
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
    return f"{x / 1000:g} km" if x >= 1000 else f"{x:g} m"


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
    """
    lang, font = _language(lang)
    text = messages("figures", lang)
    label = _label(profile, category, lang)
    fig = _map_figure(blocks)
    ax = _map_axes(fig, blocks, text, font)
    bins = block_bins(blocks, category)
    colors = np.array([*BIN_COLORS, UNREACHABLE_COLOR])[bins]
    _polygons(ax, blocks, list(colors))
    _furniture(ax, text, font, edges, blocks.crs)
    from ..sources.facilities import primary_rows  # one marker per facility

    fac = primary_rows(facilities).to_crs(blocks.crs)
    fac = fac[fac["category"] == category]
    k = list(profile.categories).index(category) if category in profile.categories else 0
    if not fac.empty:
        pts = fac.geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=22, c=CATEGORY_COLORS[k % len(CATEGORY_COLORS)],
                   edgecolors="white", linewidths=0.8, zorder=4)
    handles: list[Artist] = [Patch(facecolor=c, edgecolor="#999", label=lab)
                             for c, lab in zip(BIN_COLORS, bin_labels(text["min"]), strict=True)]
    handles.append(Patch(facecolor=UNREACHABLE_COLOR, edgecolor="#999",
                         label=text["unreachable"]))
    handles.append(Line2D([], [], marker="o", linestyle="", markersize=6,
                          markerfacecolor=CATEGORY_COLORS[k % len(CATEGORY_COLORS)],
                          markeredgecolor="white", label=_fill(text["facility"], label=label)))
    legend = ax.legend(handles=handles, title=text["legend_title"], fontsize=7,
                       title_fontsize=8, prop=_sized(font, 7), **_LEGEND_OUTSIDE)
    if font is not None:
        legend.get_title().set_fontproperties(_sized(font, 8))
    note = _fill(text["note"], speed=profile.group_of(category).speed_kmh,
                 threshold=profile.threshold_of(category)) if category in profile.categories \
        else ""
    ax.set_title(_fill(text["coverage_title"], label=label) + ("\n" + note if note else ""),
                 fontsize=11, fontproperties=_sized(font, 11))
    return fig


def deficiency_figure(
    blocks: gpd.GeoDataFrame,
    profile: Profile,
    *,
    edges: gpd.GeoDataFrame | None = None,
    lang: str = "en",
) -> Figure:
    """Blocks coloured by the number of categories they lack within their limit."""
    lang, font = _language(lang)
    text = messages("figures", lang)
    n = len(profile.categories)
    if "n_lacking" in blocks.columns:
        lacking = blocks["n_lacking"].fillna(0).to_numpy(dtype=np.int64)
    else:
        lacking = np.zeros(len(blocks), dtype=np.int64)
        for c in profile.categories:
            t = blocks[col.walk_min(c)].to_numpy(dtype=float, na_value=np.nan)
            lacking += ~(t <= profile.threshold_of(c))
    palette = [_DEFICIENCY_COLORS[min(i, len(_DEFICIENCY_COLORS) - 1)] for i in range(n + 1)]
    fig = _map_figure(blocks)
    ax = _map_axes(fig, blocks, text, font)
    _polygons(ax, blocks, [palette[min(int(v), n)] for v in lacking])
    _furniture(ax, text, font, edges, blocks.crs)
    handles = [Patch(facecolor=palette[i], edgecolor="#999",
                     label=text["none"] if i == 0 else f"{i} / {n}") for i in range(n + 1)]
    legend = ax.legend(handles=handles, title=text["deficiency_legend"], **_LEGEND_OUTSIDE,
                       fontsize=7, prop=_sized(font, 7))
    legend.get_title().set_fontproperties(_sized(font, 8))
    ax.set_title(text["deficiency_title"], fontsize=11, fontproperties=_sized(font, 11))
    return fig


def target_share(profile: Profile, category: str) -> float | None:
    """The plan target (0-1) of the share of residents covered that ``category`` is part of.

    Targets are the profile's ``[targets.<name>]`` tables (``kind``, ``value``, ``requires``
    as groups of categories, or ``categories``). A ``population_share`` target naming the
    category counts first, else a ``block_share`` one; ``None`` when no target names it.
    """
    tables = getattr(profile, "targets", None)
    if not tables:
        raw = profile.raw.get("targets") if profile.raw else None
        tables = raw if isinstance(raw, Mapping) else {}
    found: dict[str, float] = {}
    for target in tables.values():
        get = target.get if isinstance(target, Mapping) else (
            lambda key, default=None, t=target: getattr(t, key, default))
        kind, value = get("kind"), get("value")
        if kind not in ("population_share", "block_share") or isinstance(value, bool) \
                or not isinstance(value, int | float):
            continue
        named = {c for group in (get("requires") or ()) for c in group}
        named |= set(get("categories") or ())
        if category in named:
            found.setdefault(str(kind), float(value))
    return found.get("population_share", found.get("block_share"))


def coverage_share_figure(
    summary: Mapping[str, Any], profile: Profile, *, lang: str = "en"
) -> Figure:
    """Bar chart of the population share covered per category, with limits and targets.

    Parameters
    ----------
    summary
        ``Result.report["summary"]`` (``categories`` with ``share_population_covered`` and
        ``threshold_min``).
    profile
        The run's profile (labels; targets from its ``[targets]`` table).
    lang
        ``"en"`` or ``"zh"``.
    """
    lang, font = _language(lang)
    text = messages("figures", lang)
    cats = [c for c in summary["categories"] if c in profile.categories]
    shares = np.array([100 * (summary["categories"][c]["share_population_covered"] or 0.0)
                       for c in cats])
    fig = _new_figure((max(5.0, 1.3 * len(cats) + 2), 4.8))
    ax = fig.add_subplot()
    x = np.arange(len(cats))
    colors = [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in range(len(cats))]
    bars = ax.bar(x, shares, color=colors, width=0.65, zorder=2)
    for i, (bar, c) in enumerate(zip(bars, cats, strict=True)):
        none = summary["categories"][c].get("facilities") == 0
        ax.text(bar.get_x() + bar.get_width() / 2, shares[i] + 1.5,
                text["no_facility"] if none else f"{shares[i]:.0f} %", ha="center",
                va="bottom", fontsize=8, fontproperties=_sized(font, 8))
        target = target_share(profile, c)
        if target is not None:
            ax.hlines(100 * target, bar.get_x() - 0.1, bar.get_x() + bar.get_width() + 0.1,
                      colors="#b2182b", linestyles="--", linewidth=1.6, zorder=3)
            ax.text(bar.get_x() + bar.get_width() + 0.12, 100 * target,
                    _fill(text["target"], share=round(100 * target)), color="#b2182b",
                    fontsize=7, va="center", fontproperties=_sized(font, 7))
    ticks = [_label(profile, c, lang) + "\n" + _fill(
        text["within"], threshold=float(summary["categories"][c]["threshold_min"]))
        for c in cats]
    ax.set_xticks(x, ticks)
    for t in ax.get_xticklabels():
        t.set_fontsize(8)
        t.set_linespacing(1.5)
        if font is not None:
            t.set_fontproperties(_sized(font, 8))
    ax.set_ylim(0, 110)
    ax.set_yticks(np.arange(0, 101, 20))
    ax.set_ylabel(text["share_axis"], fontproperties=font)
    ax.set_title(text["share_title"], fontsize=11, fontproperties=_sized(font, 11))
    ax.grid(axis="y", color="#ddd", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.text(1.0, -0.2, CREDIT, transform=ax.transAxes, fontsize=6, ha="right", color="#555")
    return fig


def _sized(font: FontProperties | None, size: float) -> FontProperties:
    if font is None:
        return FontProperties(size=size)
    out = font.copy()
    out.set_size(size)
    return out


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
    edges = result.edges
    figures = [coverage_figure(result.blocks, result.facilities, result.profile, c,
                               edges=edges, lang=lang) for c in cats]
    figures.append(deficiency_figure(result.blocks, result.profile, edges=edges, lang=lang))
    figures.append(coverage_share_figure(result.report["summary"], result.profile, lang=lang))
    paths = []
    for name, fig in zip(figure_names(cats), figures, strict=True):
        path = base / name
        try:
            fig.savefig(path, dpi=DPI, metadata={"Software": "lifecircle",
                                                  "Copyright": CREDIT})
        except OSError as exc:
            raise OutputError(f"{path}: cannot write the figure ({exc.strerror or exc})"
                              ) from exc
        paths.append(path)
    return paths
