"""What the legend and the layer switcher say, per view, as data for the page.

The page has one view per base layer: first "is the complete life circle within reach, and if
not by how many minutes", then the walking time to each category. Each view has a name (the
layer switcher), a heading and rows (the legend). Every string comes from the message catalogue
(``lifecircle/locales/map.toml``) or from the profile's labels; the page shows them with
``textContent``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...profiles import Profile
from .style import (
    BIN_COLORS,
    BINS_MIN,
    NO_DATA_COLOR,
    SHORTFALL_COLORS,
    SHORTFALL_MIN,
    UNREACHABLE_COLOR,
)

__all__ = ["fmt", "views"]


def fmt(x: float) -> str:
    """A number of minutes or km/h as a reader sees it: at most one decimal (16.7, 15)."""
    # thresholds derived from a radius (1000 m at 3.6 km/h = 16.666... min) read as 16.7
    return f"{round(float(x), 1):g}"


def _complete_view(
    profile: Profile, cats: Sequence[str], labels: Sequence[str], no_data: Sequence[bool],
    t: Mapping[str, str], worst: Sequence[tuple[int, int]],
) -> dict[str, Any]:
    n_data = sum(not x for x in no_data)
    edges = (0.0, *SHORTFALL_MIN)
    rows: list[dict[str, str]] = [
        {"sw": SHORTFALL_COLORS[0], "t": t["complete_yes"].format(n=n_data, total=len(cats))}]
    for i in range(len(SHORTFALL_MIN)):
        rows.append({"sw": SHORTFALL_COLORS[i + 1],
                     "t": t["short_by_bin"].format(lo=fmt(edges[i]), hi=fmt(edges[i + 1]))})
    rows.append({"sw": SHORTFALL_COLORS[-2],
                 "t": t["short_by_more"].format(lo=fmt(SHORTFALL_MIN[-1]))})
    rows.append({"sw": SHORTFALL_COLORS[-1], "t": t["short_unreachable"]})
    data_cats = [c for c, nd in zip(cats, no_data, strict=True) if not nd]
    limits = sorted({profile.threshold_of(c) for c in data_cats})
    speeds = sorted({profile.group_of(c).speed_kmh for c in data_cats})
    notes = []
    if len(limits) == 1 and len(speeds) == 1:
        notes.append(t["speed"].format(speed=fmt(speeds[0]), threshold=fmt(limits[0])))
    elif limits:
        notes.append(t["limits"].format(limits=t["and"].join(fmt(x) for x in limits)))
    if worst:
        names = t["and"].join(t["n_blocks"].format(label=labels[i], n=f"{n:,}")
                              for i, n in worst[:3])
        notes.append(t["most_short"].format(names=names))
    missing = [labels[i] for i, nd in enumerate(no_data) if nd]
    if missing:
        notes.append(t["no_data"].format(names=t["and"].join(missing)))
    return {"name": t["view_complete"], "heading": t["legend_complete"], "k": -1,
            "rows": rows, "notes": notes}


def _time_view(
    profile: Profile, c: str, k: int, label: str, no_data: bool, t: Mapping[str, str],
) -> dict[str, Any]:
    limit = profile.threshold_of(c)
    edges = (0.0, *BINS_MIN)
    rows: list[dict[str, str]] = []
    for i, color in enumerate(BIN_COLORS):
        span = (f"> {fmt(edges[i])}" if i == len(BINS_MIN)
                else f"{fmt(edges[i])}–{fmt(edges[i + 1])}")
        rows.append({"sw": color, "t": f"{span} {t['min']}"})
        if i < len(BINS_MIN) and edges[i + 1] == limit:
            rows.append({"limit": t["limit"].format(threshold=fmt(limit))})
    rows.append({"sw": UNREACHABLE_COLOR, "t": t["unreachable"]})
    speed = fmt(profile.group_of(c).speed_kmh)
    notes = [t["speed"].format(speed=speed, threshold=fmt(limit))]
    if no_data:
        rows = [{"sw": NO_DATA_COLOR, "t": t["no_data_short"]}]
        notes = [t["no_data_cat"].format(label=label)]
    name = t["layer_time_no_data" if no_data else "layer_time"].format(label=label)
    return {"name": name, "heading": t["legend_title"].format(label=label), "k": k,
            "rows": rows, "notes": notes}


def views(
    profile: Profile, cats: Sequence[str], labels: Sequence[str], no_data: Sequence[bool],
    t: Mapping[str, str], *, worst: Sequence[tuple[int, int]] = (),
) -> list[dict[str, Any]]:
    """The views of the map, the complete-life-circle view first.

    Parameters
    ----------
    profile, cats, labels
        The profile, its category keys and their labels in the map's language.
    no_data
        Per category, whether it has no data (such a category never counts against a block).
    t
        The map's messages in the map's language.
    worst
        ``(category index, blocks)``: how many blocks each category is the worst shortfall
        of, most often first; the first view names the first three.

    Returns
    -------
    list of dict
        ``name`` (layer switcher), ``heading`` and ``rows`` (legend: ``sw`` colour and ``t``
        text, or ``limit`` text), ``notes`` and ``k`` (category index, -1 for the first view).
    """
    out = [_complete_view(profile, cats, labels, no_data, t, worst)]
    out += [_time_view(profile, c, k, labels[k], no_data[k], t) for k, c in enumerate(cats)]
    return out
