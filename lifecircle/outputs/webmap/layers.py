"""The data of each layer: blocks, facilities, isochrones and proposed sites."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ... import columns as col
from ...profiles import Profile
from .._escape import escape_text, script_json
from .elements import _JsLayer
from .legend import _fill
from .prepare import _collection, _feature, _none_if_nan, _numbers
from .style import CLUSTER_ABOVE, classify_minutes


def _block_collection(
    frame: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str]
) -> dict[str, Any]:
    """GeoJSON of the blocks with only what the map shows, under short property names.

    ``id`` escaped block id; ``m`` minutes per category (``None`` unreachable); ``b`` bin per
    category and, last, of the worst category; ``w`` index of the worst category; ``c`` bit
    mask of covered categories; ``l`` lacking categories (index, or escaped name when the
    profile does not know it); ``n`` number lacking; ``p`` population.
    """
    n, k = len(frame), len(cats)
    minutes = np.column_stack([_numbers(frame, col.walk_min(c)) for c in cats])
    # Unreachable counts as the longest walk: a block's worst category is then that one.
    reach = np.where(np.isnan(minutes), np.inf, minutes)
    worst_idx = reach.argmax(axis=1)
    worst = reach[np.arange(n), worst_idx]
    bins = np.column_stack([classify_minutes(minutes[:, i]) for i in range(k)]
                           + [classify_minutes(worst)])

    covered = np.zeros((n, k), dtype=bool)
    for i, c in enumerate(cats):
        name = col.covered(c)
        if name in frame.columns:
            covered[:, i] = frame[name].fillna(False).astype(bool).to_numpy()
        else:
            covered[:, i] = minutes[:, i] <= profile.threshold_of(c)
    mask = (covered * (1 << np.arange(k))).sum(axis=1)

    index = {c: i for i, c in enumerate(cats)}
    if "lacks" in frame.columns:
        lacks: list[list[int | str]] = []
        for value in frame["lacks"].to_numpy(dtype=object):
            names = [] if not isinstance(value, str) else [s.strip() for s in value.split(",")]
            lacks.append([index.get(s, escape_text(s)) for s in names if s])
    else:
        lacks = [[i for i in range(k) if not covered[r, i]] for r in range(n)]
    if "n_lacking" in frame.columns:
        n_lacking = pd.to_numeric(frame["n_lacking"], errors="coerce").fillna(0).to_numpy()
    else:
        n_lacking = np.array([len(x) for x in lacks])
    population = _numbers(frame, "population") if "population" in frame.columns else \
        np.full(n, np.nan)

    features = []
    for r, (geom, block_id) in enumerate(zip(frame.geometry.values, frame["block_id"],
                                             strict=True)):
        features.append(_feature(geom, {
            "id": escape_text(block_id),
            "m": [_none_if_nan(x) for x in minutes[r]],
            "b": [int(x) for x in bins[r]],
            "w": int(worst_idx[r]),
            "c": int(mask[r]),
            "l": lacks[r],
            "n": int(n_lacking[r]),
            "p": _none_if_nan(population[r], None),
        }))
    return _collection(features)


def _source_text(value: Any, text: Mapping[str, str]) -> str:
    key = f"src_{value}"
    return escape_text(text[key] if isinstance(value, str) and key in text else value)


def _add_facilities(
    m: folium.Map, frame: gpd.GeoDataFrame, cats: Sequence[str], labels: Sequence[str],
    text: Mapping[str, str], helper: str,
) -> bool:
    """Add one layer per category; return whether any of them clusters its markers."""
    from folium.plugins import MarkerCluster

    if frame.empty or "category" not in frame.columns:
        return False
    clustered = False
    geoms = np.asarray(frame.geometry.values)
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    unnamed = escape_text(text["unnamed"])
    for k, c in enumerate(cats):
        rows = np.flatnonzero((frame["category"] == c).to_numpy())
        if not len(rows):
            continue
        sub = frame.iloc[rows]
        names = sub["name"] if "name" in sub.columns else pd.Series([None] * len(sub))
        ids = sub["facility_id"] if "facility_id" in sub.columns else pd.Series([""] * len(sub))
        sources = sub["source"] if "source" in sub.columns else pd.Series([None] * len(sub))
        features = [
            _feature(points[r], {"n": escape_text(nm) or unnamed, "i": escape_text(fid),
                                 "s": _source_text(src, text)})
            for r, nm, fid, src in zip(rows, names, ids, sources, strict=True)
        ]
        cluster = len(rows) > CLUSTER_ABOVE
        clustered |= cluster
        _JsLayer(
            f"{helper}.facilityLayer({script_json(_collection(features))}, {k}, "
            f"{'true' if cluster else 'false'})",
            name=_fill(text["layer_fac"], label=labels[k]),
            overlay=True, show=True,
            js_links=MarkerCluster.default_js if cluster else (),
            css_links=MarkerCluster.default_css if cluster else (),
        ).add_to(m)
    return clustered


def _add_isochrones(
    m: folium.Map, frame: gpd.GeoDataFrame, cats: Sequence[str], labels: Sequence[str],
    text: Mapping[str, str], helper: str,
) -> list[float]:
    if frame.empty or "category" not in frame.columns or "band_min" not in frame.columns:
        return []
    bands_all = _numbers(frame, "band_min")
    shown: set[float] = set()
    for k, c in enumerate(cats):
        # a category with no facility has empty rings: no layer for it
        in_cat = ((frame["category"] == c).to_numpy() & np.isfinite(bands_all)
                  & ~frame.geometry.is_empty.to_numpy() & frame.geometry.notna().to_numpy())
        if "facility_id" in frame.columns:
            union = in_cat & (frame["facility_id"].astype(str) == "all").to_numpy()
            if union.any():
                in_cat = union
        rows = np.flatnonzero(in_cat)
        if not len(rows):
            continue
        bands = sorted({float(b) for b in bands_all[rows]})
        # The widest band first, so nearer (darker) bands are drawn on top of it.
        order = sorted(rows, key=lambda r: -bands_all[r])
        geoms = frame.geometry.values
        features = [
            _feature(geoms[r], {"b": float(bands_all[r]),
                                "o": round(0.08 + 0.2 * (len(bands) - 1 - bands.index(
                                    float(bands_all[r]))) / max(len(bands) - 1, 1), 3)})
            for r in order
        ]
        shown.update(bands)
        _JsLayer(f"{helper}.isoLayer({script_json(_collection(features))}, {k})",
                 name=_fill(text["layer_iso"], label=labels[k]),
                 overlay=True, show=False).add_to(m)
    return sorted(shown)


def _site_collection(frame: gpd.GeoDataFrame, cats: Sequence[str]) -> dict[str, Any]:
    index = {c: i for i, c in enumerate(cats)}
    ranks = _numbers(frame, "rank") if "rank" in frame.columns else np.full(len(frame), np.nan)
    gains = (_numbers(frame, "gain_population") if "gain_population" in frame.columns
             else np.full(len(frame), np.nan))
    category = frame["category"] if "category" in frame.columns else pd.Series([""] * len(frame))
    geoms = np.asarray(frame.geometry.values)
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    features = []
    for r, c in enumerate(category):
        features.append(_feature(points[r], {
            "c": index[c] if c in index else escape_text(c),
            "r": int(ranks[r]) if np.isfinite(ranks[r]) else r + 1,
            "g": _none_if_nan(gains[r], None),
        }))
    return _collection(features)
