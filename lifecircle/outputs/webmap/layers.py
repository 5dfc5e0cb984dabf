"""The data of each layer: blocks, facilities, isochrones, proposed sites and the network.

Every function returns plain data (GeoJSON-like dicts) for the page's JSON block. Text from
data (names, ids, sources) goes through :func:`~lifecircle.outputs._escape.clean_text` only:
the page shows it with ``textContent``, so it is never HTML-escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ... import columns as col
from ...i18n import label_of, percent
from ...profiles import Profile
from .._escape import MAX_TEXT_LEN, clean_text
from .binary import outline_streams, text_column, typed_column
from .prepare import (
    DECIMALS,
    _collection,
    _feature,
    _none_if_nan,
    _numbers,
    packed_points,
)
from .style import CLUSTER_ABOVE, classify_minutes, classify_shortfall

__all__ = ["block_data", "facility_data", "isochrone_data", "isochrone_rows", "served_data",
           "site_data", "worst_counts"]


def _shortfalls(
    frame: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str], no_data: Sequence[bool]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minutes per category, which categories with data each block lacks, and by how much.

    Returns ``minutes`` (blocks × categories, NaN unreachable), ``lacking`` (bool, same shape)
    and ``over`` (minutes beyond the limit where lacking, infinite when unreachable, ``-inf``
    elsewhere).
    """
    n, k = len(frame), len(cats)
    minutes = np.column_stack([_numbers(frame, col.walk_min(c)) for c in cats]) if k else \
        np.zeros((n, 0))
    thresholds = np.array([profile.threshold_of(c) for c in cats], dtype=float)
    covered = np.zeros((n, k), dtype=bool)
    for i, c in enumerate(cats):
        covered[:, i] = _covered(frame, profile, c, minutes[:, i])
    lacking = ~covered & ~np.asarray(no_data, dtype=bool)[None, :]
    over = np.where(np.isnan(minutes), np.inf, minutes - thresholds[None, :])
    # a block lacking a category only by rounding still shows as short (by up to 5 min)
    return minutes, lacking, np.where(lacking, np.maximum(over, 1e-9), -np.inf)


def _covered(frame: gpd.GeoDataFrame, profile: Profile, c: str, minutes: np.ndarray) -> np.ndarray:
    """Whether each block is covered for ``c``: its ``covered_<c>``, else minutes <= limit."""
    name = col.covered(c)
    if name in frame.columns:
        return frame[name].fillna(False).astype(bool).to_numpy()
    return minutes <= profile.threshold_of(c)


def worst_counts(
    frame: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str], no_data: Sequence[bool]
) -> list[tuple[int, int]]:
    """How many blocks each category is the worst shortfall of, most often first.

    Returns ``(category index, blocks)`` pairs for the categories that are the worst of at
    least one block (ties go to the first category in profile order).
    """
    _, lacking, over = _shortfalls(frame, profile, cats, no_data)
    short = lacking.any(axis=1)
    if not short.any():
        return []
    counts = np.bincount(over[short].argmax(axis=1), minlength=len(cats))
    order = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], i))
    return [(int(i), int(counts[i])) for i in order]


def served_data(
    frame: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str], no_data: Sequence[bool],
    lang: str, text: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The categories that serve named residents (elderly care: people aged 60+), in order.

    Each entry: ``k`` category index, ``who`` the residents' label, ``col`` their block column
    (``pop_<name>``) and ``area``, the text comparing the shares of all residents and of these
    residents the category covers (the sums of report.json's ``served`` entry), or ``None``
    for a category without data. Categories whose residents the blocks do not count are left
    out.
    """
    out: list[dict[str, Any]] = []
    population = (_numbers(frame, "population") if "population" in frame.columns
                  else np.full(len(frame), np.nan))
    for k, c in enumerate(cats):
        res = profile.residents_of(c)
        name = f"pop_{res.name}" if res is not None else ""
        if res is None or name not in frame.columns:
            continue
        who = clean_text(label_of({"label_en": res.label_en, "label_zh": res.label_zh}, lang))
        cov = _covered(frame, profile, c, _numbers(frame, col.walk_min(c)))
        shares = [float(np.nansum(w[cov]) / total) if (total := float(np.nansum(w))) > 0
                  else None for w in (population, _numbers(frame, name))]
        area = None if no_data[k] else text["served_area"].format(
            label=clean_text(profile.categories[c].label(lang)), all=percent(shares[0]),
            who=who, share=percent(shares[1]))
        out.append({"k": k, "who": who, "col": name, "area": area})
    return out


def block_data(
    frame: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str], no_data: Sequence[bool],
    served: Sequence[Mapping[str, Any]] = (), *, outlines: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The blocks with only what the map shows, column by column in compact encodings.

    ``n`` blocks; ``q``, ``rings`` and ``xy`` their outlines
    (:func:`~lifecircle.outputs.webmap.binary.outline_streams`); ``id`` the block ids
    (:func:`~lifecircle.outputs.webmap.binary.text_column`);
    then typed columns (:func:`~lifecircle.outputs.webmap.binary.typed_column`), per block:
    ``m`` tenths of minutes per category (``null`` unreachable); ``b`` the time bin of each
    category, two a byte (category ``i`` in the low half of byte ``i // 2`` when ``i`` is even,
    else the high half); ``l`` the categories *with data* the block lacks, as bits (``w`` bytes
    a block, bit ``i % 8`` of byte ``i // 8`` for category ``i``); ``f`` the worst shortfall
    over those in tenths of minutes (``null`` when one is unreachable, 0 when complete);
    ``s`` its bin (:func:`~lifecircle.outputs.webmap.style.classify_shortfall`); ``p``
    population; with ``served`` (:func:`served_data`), ``r`` the residents each of those
    categories serves, in its order (``null`` where unknown). Categories without data never
    count against a block. The page decodes these into typed arrays and paints the blocks
    itself (``decodeBlocks`` and ``drawTile`` in ``lifecircle-map.js``). ``outlines``: the
    streams of ``frame``'s outlines when the caller made them
    (:func:`~lifecircle.outputs.webmap.binary.outlines`, from geometries not yet in EPSG:4326).
    """
    n, k = len(frame), len(cats)
    minutes, lacking, over = _shortfalls(frame, profile, cats, no_data)
    bins = np.column_stack([classify_minutes(minutes[:, i]) for i in range(k)]) if k else \
        np.zeros((n, 0), dtype=np.int64)
    shortfall = over.max(axis=1, initial=0.0)
    population = _numbers(frame, "population") if "population" in frame.columns else \
        np.full(n, np.nan)
    nibbles = np.zeros((n, 2 * max(1, -(-k // 2))), dtype=np.int64)
    nibbles[:, :k] = bins
    width = max(1, -(-k // 8))
    bits = np.zeros((n, width * 8), dtype=bool)
    bits[:, :k] = lacking
    out: dict[str, Any] = {
        "n": n,
        **(outline_streams(np.asarray(frame.geometry.values)) if outlines is None
           else outlines),
        "id": text_column(clean_texts(frame["block_id"].tolist())),
        "m": typed_column(10 * minutes, "u16", k),
        # two bins a byte (low half first): the bins are 0-6
        "b": typed_column(nibbles[:, 0::2] | (nibbles[:, 1::2] << 4), "u8", -(-k // 2) or 1,
                          nullable=False),
        "l": typed_column(np.packbits(bits, axis=1, bitorder="little"), "u8", width,
                          nullable=False),
        "f": typed_column(10 * np.round(shortfall, 1), "u16"),
        "s": typed_column(classify_shortfall(shortfall), "u8", nullable=False),
        "p": typed_column(population, "auto"),
    }
    if served:
        residents = np.column_stack([_numbers(frame, str(e["col"])) for e in served])
        out["r"] = typed_column(residents, "auto", len(served))
    return out


def _points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Each geometry's point: itself when a point, else a point on its surface (found only for
    those: a city's 120,000 facilities are nearly all points)."""
    geoms = np.asarray(frame.geometry.values)
    other = np.flatnonzero(shapely.get_type_id(geoms) != 0)
    if not len(other):
        return geoms
    out = geoms.copy()
    out[other] = shapely.point_on_surface(geoms[other])
    return out


def _column(frame: pd.DataFrame, name: str, default: Any) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series([default] * len(frame))


def facility_data(
    frame: gpd.GeoDataFrame, cats: Sequence[str], groups: Sequence[str],
    cat_group: Sequence[str], text: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One entry per facility group with facilities: ``g`` group index, ``cluster``, ``data``.

    ``data`` holds the facilities column by column: ``q`` units a degree, ``xy`` the points
    as one flat list of steps in those units
    (:func:`~lifecircle.outputs.webmap.prepare.packed_points`), ``src`` the sources as the
    reader should see them, and per facility ``n`` name (empty when unnamed), ``i`` id
    (:func:`~lifecircle.outputs.webmap.binary.text_column`), ``s``
    its source's index in ``src`` and ``k`` category index; the page rebuilds GeoJSON points
    with properties ``n``, ``i``, ``s`` (the text) and ``k``. Rows whose category is not in
    ``cats`` are left out.
    """
    if frame.empty or "category" not in frame.columns:
        return []
    index = {c: i for i, c in enumerate(cats)}
    category = frame["category"].map(index)
    points = _points(frame)
    name_values, id_values, source_values = (
        _column(frame, "name", None).to_numpy(dtype=object),
        _column(frame, "facility_id", "").to_numpy(dtype=object),
        _column(frame, "source", None).to_numpy(dtype=object))
    category_values = category.to_numpy()
    out = []
    for g, group in enumerate(groups):
        members = [index[c] for c, cg in zip(cats, cat_group, strict=True) if cg == group]
        rows = np.flatnonzero(category.isin(members).to_numpy())
        if not len(rows):
            continue
        # plain lists first: a pandas lookup per facility costs seconds for a city
        src_of = {v: _source_text(v, text) for v in pd.unique(source_values[rows])}
        shown = [src_of[v] for v in source_values[rows]]
        src = sorted(set(shown))
        src_index = {x: j for j, x in enumerate(src)}
        data = {"q": 10**DECIMALS, "xy": packed_points(points[rows]), "src": src,
                "n": clean_texts(name_values[rows].tolist()),
                "i": text_column(clean_texts(id_values[rows].tolist())),
                "s": [src_index[x] for x in shown],
                "k": category_values[rows].astype(int).tolist()}
        out.append({"g": g, "cluster": len(rows) > CLUSTER_ABOVE, "data": data})
    return out


#: texts :func:`clean_texts` checks at a time
CLEAN_CHUNK = 512


def clean_texts(values: Sequence[Any]) -> list[str]:
    """:func:`~lifecircle.outputs._escape.clean_text` of each value, the clean texts found a
    chunk at a time.

    A text that is already clean comes back unchanged, and most are (a city's 76,000 block
    ids, cleaned one call each, took half a second of its map): the texts of a chunk are
    joined by a space (which ``clean_text`` keeps and which joins nothing it would change) and
    cleaned as one; only a chunk that this changes, or with a text over the length limit, is
    cleaned text by text. A value that is not a text is ``clean_text``'s own.
    """
    out = [v if type(v) is str else clean_text(v) for v in values]
    for start in range(0, len(out), CLEAN_CHUNK):
        chunk = out[start:start + CLEAN_CHUNK]
        joined = " ".join(chunk)
        if max(map(len, chunk)) > MAX_TEXT_LEN or clean_text(joined, max_len=None) != joined:
            out[start:start + CLEAN_CHUNK] = [clean_text(v) for v in chunk]
    return out


def _source_text(value: Any, text: Mapping[str, str]) -> str:
    key = f"src_{value}"
    return clean_text(text[key] if isinstance(value, str) and key in text else value)


def isochrone_rows(
    frame: gpd.GeoDataFrame, cats: Sequence[str],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Per category, the isochrone rows to draw (widest band first), their bands and opacities.

    Where a category has rows with ``facility_id == "all"`` (the union), only those are drawn;
    a category without rows gets ``None``. The nearest band is the most opaque.
    """
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(cats)
    if frame.empty or "category" not in frame.columns or "band_min" not in frame.columns:
        return out
    bands_all = _numbers(frame, "band_min")
    geoms = np.asarray(frame.geometry.values)
    drawable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    for k, c in enumerate(cats):
        # a category with no facility has empty rings: no bands for it
        in_cat = (frame["category"] == c).to_numpy() & np.isfinite(bands_all) & drawable
        if "facility_id" in frame.columns:
            union = in_cat & (frame["facility_id"].astype(str) == "all").to_numpy()
            if union.any():
                in_cat = union
        rows = np.flatnonzero(in_cat)
        if not len(rows):
            continue
        bands = sorted({float(b) for b in bands_all[rows]})
        # The widest band first, so nearer (darker) bands are drawn on top of it.
        order = np.array(sorted(rows, key=lambda r: -bands_all[r]))
        last = max(len(bands) - 1, 1)
        opacity = np.array([round(0.08 + 0.2 * (len(bands) - 1 - bands.index(float(
            bands_all[r]))) / last, 3) for r in order])
        out[k] = (order, bands_all[order], opacity)
    return out


def isochrone_data(frame: gpd.GeoDataFrame, cats: Sequence[str]) -> list[dict[str, Any] | None]:
    """Per category, its isochrone bands (widest first, ``b`` band, ``o`` opacity) or ``None``
    (the rows of :func:`isochrone_rows`)."""
    geoms = frame.geometry.values
    return [None if entry is None else _collection([
        _feature(geoms[r], {"b": float(b), "o": float(o)}) for r, b, o in zip(*entry, strict=True)
    ]) for entry in isochrone_rows(frame, cats)]


def site_data(frame: gpd.GeoDataFrame, cats: Sequence[str]) -> dict[str, Any]:
    """Proposed sites: ``k`` category index (or ``c`` its name), ``r`` rank, ``g`` gain."""
    index = {c: i for i, c in enumerate(cats)}
    ranks = _numbers(frame, "rank") if "rank" in frame.columns else np.full(len(frame), np.nan)
    gains = (_numbers(frame, "gain_population") if "gain_population" in frame.columns
             else np.full(len(frame), np.nan))
    points = _points(frame)
    features = []
    for r, c in enumerate(_column(frame, "category", "")):
        features.append(_feature(points[r], {
            "k": index.get(c), "c": clean_text(c),
            "r": int(ranks[r]) if np.isfinite(ranks[r]) else r + 1,
            "g": _none_if_nan(gains[r], None),
        }))
    return _collection(features)
