"""``figures/coverage_share.png``: the share of the population covered per category.

One row per category: its label and limit on the left, a bar of the share of all residents
covered, and for a category that serves named residents (elderly care: people aged 60+,
childcare: young children) a second, darker bar of the share of those residents; the plan
target as a red mark across the row with its value on the right. The styles, fonts and sizes
are those of :mod:`lifecircle.outputs.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..i18n import display_width, label_of
from ..profiles import Profile
from ._figure_style import (
    _PT,
    NO_DATA_COLOR,
    NO_DATA_HATCH,
    PAGE_IN,
    _fill,
    _new_figure,
    _Style,
    _style,
)
from .report import category_status
from .webmap import BIN_COLORS

__all__ = ["coverage_share_figure", "target_share"]

_BAR_COLOR = BIN_COLORS[1]
_SERVED_COLOR = BIN_COLORS[0]  # the residents a service serves: the darker blue beside it
_TARGET_COLOR = "#b2182b"


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


def _share_bar(ax: Any, y: float, height: float, share: float, color: str, label: str,
               st: _Style, per_in: float) -> None:
    """One bar of ``share`` percent with ``label`` at its end: inside the bar (white) when it
    would run past 100 % outside, else after it (``per_in``: axis units per inch)."""
    ax.barh(y, share, height=height, color=color, zorder=2)
    wide = display_width(label) * 0.065 * per_in  # ~0.065 in per half-width character at 8 pt
    inside = share + 1.5 + wide > 100 and share - 1.5 - wide > 0
    ax.text(share - 1.5 if inside else share + 1.5, y, label, va="center",
            ha="right" if inside else "left", color="white" if inside else "#222",
            fontproperties=st.fp("small"), zorder=4)


def coverage_share_figure(
    summary: Mapping[str, Any], profile: Profile, *, lang: str = "en"
) -> Figure:
    """Horizontal bars of the population share covered per category, with limits and targets.

    One row per category (its label and limit on the left, the share at the bar's end, the
    plan target as a red mark across its own row and its value in a column on the right), so
    labels and target marks never overlap however many categories there are. Categories
    without data (see :func:`lifecircle.outputs.report.category_status`) show "no data", not 0.

    Parameters
    ----------
    summary
        ``Result.report["summary"]`` (``categories`` with ``share_population_covered``,
        ``threshold_min``, ``facilities`` and, when known, ``status``).
    profile
        The run's profile (labels; targets from its ``[targets]`` table).
    lang
        ``"en"`` or ``"zh"``.
    """
    st = _style(lang)
    text = st.text
    cats = [c for c in summary["categories"] if c in profile.categories]
    n = len(cats)
    height = min(max(1.7 + 0.42 * n, 3.4), PAGE_IN[1])
    fig = _new_figure((PAGE_IN[0], height))
    ticks = [profile.categories[c].label(st.lang) + _fill(
        text["within"], threshold=float(summary["categories"][c]["threshold_min"]))
        for c in cats]
    # room for the longest category label (about 0.075 in per half-width character at 9 pt)
    left = min(max(0.4 + 0.075 * max(map(display_width, ticks), default=0), 1.5), 4.2)
    fig.subplots_adjust(left=left / PAGE_IN[0], right=1 - 1.05 / PAGE_IN[0],
                        top=1 - 0.75 / height, bottom=0.95 / height)
    ax = fig.add_subplot()
    y = np.arange(n)
    handles: dict[str, Artist] = {}  # one legend entry per meaning
    per_in = 100.0 / (PAGE_IN[0] - left - 1.05)  # axis units per inch
    for i, c in enumerate(cats):
        v = summary["categories"][c]
        if category_status({"facilities": 1, **v}) is not None:
            ax.barh(i, 100, height=0.62, color=NO_DATA_COLOR, hatch=NO_DATA_HATCH,
                    edgecolor="#bbbbbb", linewidth=0.5, zorder=2)
            ax.text(2, i, text["no_data"], va="center", ha="left", color="#444",
                    fontproperties=st.fp("small"), zorder=4)
            handles.setdefault("no_data", Patch(facecolor=NO_DATA_COLOR, hatch=NO_DATA_HATCH,
                                                edgecolor="#bbbbbb", label=text["no_data"]))
            continue
        share = 100.0 * (v.get("share_population_covered") or 0.0)
        served = v.get("served") or {}
        if served.get("share_population_covered") is None:
            _share_bar(ax, i, 0.62, share, _BAR_COLOR, f"{share:.0f} %", st, per_in)
        else:  # the residents it serves beside all residents, on one row
            _share_bar(ax, i - 0.17, 0.32, share, _BAR_COLOR,
                       _fill(text["all_share"], share=round(share)), st, per_in)
            s_share = 100.0 * served["share_population_covered"]
            _share_bar(ax, i + 0.17, 0.32, s_share, _SERVED_COLOR,
                       _fill(text["served_share"], share=round(s_share),
                             who=label_of(served, st.lang)), st, per_in)
            handles.setdefault("all", Patch(color=_BAR_COLOR, label=text["all_residents"]))
            handles.setdefault("served", Patch(color=_SERVED_COLOR,
                                               label=text["served_residents"]))
        target = target_share(profile, c)
        if target is not None:
            ax.vlines(100 * target, i - 0.42, i + 0.42, colors=_TARGET_COLOR, linewidth=2.2,
                      zorder=3)
            ax.text(1.02, i, _fill(text["target"], share=100 * target), color=_TARGET_COLOR,
                    va="center", ha="left", transform=ax.get_yaxis_transform(),
                    fontproperties=st.fp("small"))
            handles.setdefault("target", Line2D([], [], color=_TARGET_COLOR, linewidth=2.2,
                                                label=text["target_legend"]))
    ax.set_yticks(y, ticks)
    for t in ax.get_yticklabels():
        t.set_fontproperties(st.fp("label"))
    ax.set_ylim(n - 0.5, -0.5)  # first category on top
    ax.set_xlim(0, 100)
    ax.set_xticks(np.arange(0, 101, 20))
    ax.tick_params(axis="x", labelsize=_PT["tick"])
    ax.set_xlabel(text["share_axis"], fontproperties=st.fp("label"))
    fig.text(0.02, 1 - 0.18 / height, text["share_title"], ha="left", va="top",
             fontproperties=st.fp("title"))
    ax.grid(axis="x", color="#ddd", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    if handles:
        fig.legend(handles=list(handles.values()), loc="lower left",
                   bbox_to_anchor=(0.01, 0.0), ncol=len(handles), prop=st.fp("legend"),
                   frameon=False)
    fig.text(0.99, 0.01, text["credit"], ha="right", va="bottom", color="#555",
             fontproperties=st.fp("small"))
    return fig
