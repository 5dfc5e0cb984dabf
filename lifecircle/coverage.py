"""The verdict: which blocks are covered, by what, and what they lack.

Per block and category: minutes to the nearest facility, covered or not at the category's
threshold, minutes beyond it; per block the list of categories it lacks; per category the share
of blocks and of population covered; overall the share of population with every category
covered (a complete life circle).

Data status: a category whose source cannot support a verdict is reported as "no data in the
source — not a finding" (:func:`category_status`), its coverage shares are ``null`` and it is
left out of every block's ``lacks``, ``complete``, tiers and the complete-life-circle share.

Tiers (GB 50180-2018's 5-, 10-, 15-minute circles, or a profile's single tier): a block meets a
tier when every category of the tier is covered, each by a facility of its own category, so a
larger facility of another tier never substitutes. The plan indicators built on these shares
are in :mod:`lifecircle.indicators`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns as col
from .access import BlockCodes, CategoryAccess, block_codes, block_times
from .profiles import Profile

__all__ = [
    "DEFICIENCY_LIST_MAX",
    "NO_DATA",
    "SPARSE_RESIDENTS",
    "block_verdict",
    "category_status",
    "deficiency_list",
    "deficiency_order",
    "deficiency_summary",
    "facility_summary",
    "summarize",
]


#: ``status`` of a category whose data cannot support a verdict
NO_DATA = "no_data"
#: Sparse rule: every life-circle category is provided at least once per 15-minute life
#: circle, which GB 50180-2018 (§3.0.4, table 3.0.4) sizes at 50,000 to 100,000 residents.
#: A category with fewer facilities (snapped to a street) than one per this many residents of
#: the study area is a gap in the source, not a finding about the area.
SPARSE_RESIDENTS = 100_000.0


def category_status(
    access: Mapping[str, CategoryAccess],
    population: float,
    user_categories: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Whether each category's data can support a verdict.

    ``{"status": "ok" | "no_data", "status_reason": None | "no_facilities" | "sparse",
    "status_detail": str | None}`` per category. ``no_data`` with

    - ``no_facilities``: the source has no facility of the category in the study area;
    - ``sparse``: it has some, but none within the search horizon of any block (they lie
      beyond reach of every block, e.g. outside the study area or on a disconnected part), or
      fewer than one per :data:`SPARSE_RESIDENTS` residents.

    A category given by the user's facility file (``user_categories``) is always ``ok``: the
    user vouches for the list.
    """
    users = set(user_categories)
    out: dict[str, dict[str, Any]] = {}
    for c, a in access.items():
        reason: str | None = None
        detail: str | None = None
        if c in users:
            pass
        elif a.n_facilities == 0:
            reason, detail = "no_facilities", f"no {c} facility in the source"
        elif not np.isfinite(a.walk_min).any():
            reason = "sparse"
            detail = (f"none of the {a.n_facilities} {c} facilities is within "
                      f"{a.horizon_m:.0f} m of any block")
        elif a.n_facilities_snapped * SPARSE_RESIDENTS < population:
            reason = "sparse"
            detail = (f"{a.n_facilities_snapped} {c} facilities for {population:,.0f} residents, "
                      f"fewer than one per {SPARSE_RESIDENTS:,.0f}")
        out[c] = {"status": NO_DATA if reason else "ok", "status_reason": reason,
                  "status_detail": detail}
    return out


def _no_data(status: Mapping[str, Mapping[str, Any]] | None) -> set[str]:
    return {c for c, v in (status or {}).items() if v.get("status", "ok") == NO_DATA}


def block_verdict(
    blocks: gpd.GeoDataFrame,
    ap_block: np.ndarray,
    access: dict[str, CategoryAccess],
    profile: Profile,
    *,
    no_data: Collection[str] = (),
) -> gpd.GeoDataFrame:
    """Add per-category times, coverage flags, shortfalls and deficiency lists to blocks.

    Categories in ``no_data`` keep their times and flags but count in no ``lacks``, tier or
    ``complete``: their source cannot say what a block lacks.
    """
    block_ids = blocks["block_id"].to_numpy()
    codes = block_codes(ap_block, block_ids)  # one hash of the ids for every category
    first_ap = _first_access_point(codes)
    new: dict[str, Any] = {}
    counted: list[str] = []  # the categories that count in lacks, in the profile's order
    for c, a in access.items():
        t, i = block_times(ap_block, a.walk_min, block_ids, codes=codes)
        d, _ = block_times(ap_block, a.dist_m, block_ids, codes=codes)
        threshold = a.threshold_min
        new[col.walk_min(c)] = t
        new[col.walk_m(c)] = d
        new[col.covered(c)] = np.isfinite(t) & (t <= threshold)
        new[col.short_min(c)] = np.where(np.isfinite(t), np.maximum(t - threshold, 0.0), np.nan)
        new[col.nearest(c)] = np.where(i >= 0, a.nearest[np.maximum(i, 0)], None)
        new[f"reason_{c}"] = np.where(i >= 0, "", _first_reason(first_ap, a.reason))
        if c not in no_data:
            counted.append(c)
    lacking = ~_covered(new, counted, len(blocks))
    new["lacks"] = _joined(lacking, counted, ",")
    new["n_lacking"] = lacking.sum(axis=1).astype(np.int64)
    new["complete"] = new["n_lacking"] == 0
    tiers: list[tuple[str, list[str], np.ndarray]] = []
    for tier, cats in profile.tier_categories().items():
        cats = [c for c in cats if c in access and c not in no_data]
        if not cats:
            continue
        missing = ~_covered(new, cats, len(blocks))
        new[col.tier_met(tier)] = ~missing.any(axis=1)
        new[col.tier_lacks(tier)] = _joined(missing, cats, ",")
        tiers.append((tier, cats, missing))
    new[col.DEFICIENCIES] = _deficiencies(tiers, len(blocks))
    return _with_columns(blocks, new)


def _covered(new: Mapping[str, np.ndarray], cats: list[str], n: int) -> np.ndarray:
    """The coverage flags of ``cats`` as a blocks x categories matrix."""
    if not cats:
        return np.ones((n, 0), dtype=bool)
    return np.column_stack([new[col.covered(c)] for c in cats])


def _joined(flags: np.ndarray, names: list[str], sep: str) -> np.ndarray:
    """Per row, the ``names`` whose column of ``flags`` is set, joined by ``sep``.

    Rows share a few combinations: each distinct one is joined once (a Python list per
    block cost seconds at a city's 10^5 blocks, most of it the collector's)."""
    if flags.shape[1] == 0:
        return np.full(flags.shape[0], "", dtype=object)
    combos, inverse = _distinct_rows(flags)
    text = np.array([sep.join(n for n, on in zip(names, row, strict=True) if on)
                     for row in combos], dtype=object)
    return text[inverse]


def _distinct_rows(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a boolean matrix and the row of each: rows of up to 62 flags as
    one integer each (``np.unique(axis=0)`` sorts rows as records, 20x slower)."""
    if flags.shape[1] > 62:
        combos, inverse = np.unique(flags, axis=0, return_inverse=True)
        return combos, inverse.reshape(-1)
    weights = np.left_shift(np.int64(1), np.arange(flags.shape[1], dtype=np.int64))
    codes, inverse = np.unique(flags.astype(np.int64) @ weights, return_inverse=True)
    return (codes[:, None] & weights) != 0, inverse.reshape(-1)


def _deficiencies(tiers: list[tuple[str, list[str], np.ndarray]], n: int) -> np.ndarray:
    """Per block, ``"<tier>: a, b; <tier>: c"`` over the tiers it misses (``""`` if none)."""
    if not tiers:
        return np.full(n, "", dtype=object)
    combos, inverse = _distinct_rows(np.column_stack([m for _, _, m in tiers]))
    text = []
    for row in combos:
        parts, k = [], 0
        for tier, cats, _ in tiers:
            lacks = [c for c, on in zip(cats, row[k:k + len(cats)], strict=True) if on]
            k += len(cats)
            if lacks:
                parts.append(f"{tier}: {', '.join(lacks)}")
        text.append("; ".join(parts))
    return np.array(text, dtype=object)[inverse]


def _with_columns(blocks: gpd.GeoDataFrame, new: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """``blocks`` with the ``new`` columns (replaced where it has them already), in one
    concatenation rather than one insertion per column."""
    if any(name in blocks.columns for name in new):
        out = blocks.copy()
        for name, values in new.items():
            out[name] = values
        return out
    frame = pd.DataFrame(dict(new), index=blocks.index)
    joined = pd.concat([pd.DataFrame(blocks), frame], axis=1)
    out = gpd.GeoDataFrame(joined, geometry=blocks.geometry.name, crs=blocks.crs)
    out.attrs = dict(blocks.attrs)  # (a concatenation drops them; a copy kept them)
    return out


def _first_access_point(codes: BlockCodes) -> np.ndarray:
    """Per block, its first access point; -1 for a block without one."""
    first = np.full(codes.n_keys + 1, -1, dtype=np.int64)
    order = codes.order
    key = codes.ap[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else key
    first[key[starts]] = order[starts]  # stable by block: the lowest position first
    return first[codes.block]


def _first_reason(first_ap: np.ndarray, reasons: np.ndarray) -> np.ndarray:
    """The reason of each block's first access point (``""`` without one)."""
    out = np.full(len(first_ap), "", dtype=object)
    has = first_ap >= 0
    picked = reasons[first_ap[has]]
    out[has] = np.where(pd.isna(picked), "", picked)
    return out


def summarize(
    blocks: gpd.GeoDataFrame,
    access: dict[str, CategoryAccess],
    profile: Profile,
    *,
    status: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Coverage figures per category and for the complete life circle.

    ``status`` (from :func:`category_status`) adds ``status``, ``status_reason`` and
    ``status_detail`` per category; a ``no_data`` category's coverage shares are ``None``.
    """
    no_data = _no_data(status)
    pop = blocks["population"].to_numpy(dtype=np.float64)
    total_pop = float(pop.sum())
    n = len(blocks)
    cats: dict[str, Any] = {}
    for c, a in access.items():
        cov = blocks[col.covered(c)].to_numpy(dtype=bool)
        t = blocks[col.walk_min(c)].to_numpy(dtype=np.float64)
        finite = np.isfinite(t)
        cats[c] = {
            "label_en": profile.categories[c].label_en,
            "label_zh": profile.categories[c].label_zh,
            "threshold_min": a.threshold_min,
            "speed_kmh": a.speed_kmh,
            "group": profile.group_of(c).name,
            "facilities": a.n_facilities,
            "facilities_snapped": a.n_facilities_snapped,
            "blocks": n,
            "blocks_covered": int(cov.sum()),
            "share_blocks_covered": share_of(cov.sum(), n),
            "population": round(total_pop, 1),
            "population_covered": round(float(pop[cov].sum()), 1),
            "share_population_covered": share_of(pop[cov].sum(), total_pop),
            "blocks_unreachable": int((~finite).sum()),
            "median_walk_min": _round(np.median(t[finite])) if finite.any() else None,
            "max_walk_min": _round(t[finite].max()) if finite.any() else None,
            "population_weighted_mean_walk_min": _round(np.average(t[finite], weights=pop[finite]))
            if finite.any() and pop[finite].sum() > 0
            else None,
            "search_seconds": round(a.seconds, 4),
            "source": profile.categories[c].source,
            "verified": profile.categories[c].verified,
            "tier": profile.tier_of(c).name,
            "limit_m": profile.limit_m_of(c),
            "note": profile.categories[c].note,
            "status": "ok",
            "status_reason": None,
            "status_detail": None,
            **(status or {}).get(c, {}),
        }
        if c in no_data:
            cats[c].update(share_blocks_covered=None, share_population_covered=None)
    tiers: dict[str, Any] = {}
    for tier, tcats in profile.tier_categories().items():
        if col.tier_met(tier) not in blocks.columns:
            continue
        t = profile.tiers[tier]
        met = blocks[col.tier_met(tier)].to_numpy(dtype=bool)
        tiers[tier] = {
            "label_en": t.label_en,
            "label_zh": t.label_zh,
            "minutes": t.minutes,
            "distance_m": t.distance_m,
            "categories": [c for c in tcats if c in access and c not in no_data],
            "categories_no_data": [c for c in tcats if c in no_data],
            "blocks_met": int(met.sum()),
            "share_blocks_met": share_of(met.sum(), n),
            "population_met": round(float(pop[met].sum()), 1),
            "share_population_met": share_of(pop[met].sum(), total_pop),
            "source": t.source,
            "verified": t.verified,
            "note": t.note,
        }
    complete = blocks["complete"].to_numpy(dtype=bool)
    return {
        "blocks": n,
        "population": round(total_pop, 1),
        "categories": cats,
        "no_data_categories": [c for c in cats if c in no_data],
        "tiers": tiers,
        "groups": {
            g: {"label_en": v.label_en, "label_zh": v.label_zh, "speed_kmh": v.speed_kmh,
                "source": v.source, "verified": v.verified}
            for g, v in profile.groups.items()
            if any(profile.group_of(c).name == g for c in access)
        },
        "complete_life_circle": {
            "blocks": int(complete.sum()),
            "share_blocks": share_of(complete.sum(), n),
            "population": round(float(pop[complete].sum()), 1),
            "share_population": share_of(pop[complete].sum(), total_pop),
            "categories_no_data": [c for c in cats if c in no_data],
        },
        "blocks_lacking_any": int((~complete).sum()),
    }


def share_of(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _round(x: float) -> float:
    return round(float(x), 2)


# ---------------------------------------------------------------------------------------------
# deficiency lists and plan indicators


#: Most blocks ``report.json`` lists one by one (``deficiencies``): the blocks lacking most.
#: Every block's deficiencies are in the blocks layer and ``blocks.csv``; a city's full list
#: made report.json 8 MB of repeated entries (76,381 blocks).
DEFICIENCY_LIST_MAX = 1_000
#: Most distinct combinations of lacking categories ``deficiency_summary`` names.
DEFICIENCY_PATTERNS_MAX = 50


def deficiency_order(blocks: pd.DataFrame) -> np.ndarray:
    """Row positions of ``blocks``, most lacking first, then most populous, then by block id
    (those lacking nothing last): the order of the deficiency list, from three columns without
    copying or sorting the frame."""
    ids = blocks["block_id"].astype(str).to_numpy()
    pop = blocks["population"].to_numpy(dtype=np.float64, na_value=0.0)
    return np.lexsort((ids, -pop, -blocks["n_lacking"].to_numpy(dtype=np.int64)))


def _tier_columns(blocks: pd.DataFrame, profile: Profile) -> list[str]:
    return [t for t in profile.tier_categories() if col.tier_lacks(t) in blocks.columns]


def deficiency_list(blocks: gpd.GeoDataFrame, profile: Profile, *,
                    limit: int | None = DEFICIENCY_LIST_MAX) -> list[dict[str, Any]]:
    """Blocks that lack anything, most lacking (then most populous) first, tier by tier: the
    first ``limit`` of them (all with ``None``)."""
    tiers = _tier_columns(blocks, profile)
    order = deficiency_order(blocks)
    order = order[: int((blocks["n_lacking"].to_numpy() > 0).sum())][:limit]
    lacking = blocks.iloc[order][["block_id", "population", "n_lacking",
                                  *(col.tier_lacks(t) for t in tiers)]]
    out = []
    for row in lacking.itertuples(index=False):
        values = row._asdict()
        out.append(
            {
                "block_id": str(values["block_id"]),
                "population": round(float(values["population"]), 1),
                "n_lacking": int(values["n_lacking"]),
                "lacks": {
                    t: values[col.tier_lacks(t)].split(",")
                    for t in tiers
                    if values[col.tier_lacks(t)]
                },
            }
        )
    return out


def deficiency_summary(blocks: gpd.GeoDataFrame, profile: Profile, *, listed: int,
                       patterns: int = DEFICIENCY_PATTERNS_MAX) -> dict[str, Any]:
    """How many blocks and people lack anything, and what they lack, over every block.

    ``patterns``: the distinct combinations of lacking categories, most people first (at most
    ``patterns`` of them; ``other_patterns`` adds up the rest); ``listed``: how many blocks
    the report lists one by one; ``full_list``: where every block's deficiencies are.
    """
    tiers = _tier_columns(blocks, profile)
    lacking = blocks[blocks["n_lacking"].to_numpy() > 0]
    pop = lacking["population"].to_numpy(dtype=np.float64)
    keys = [lacking[col.tier_lacks(t)].fillna("").astype(str).to_numpy() for t in tiers]
    frame = pd.DataFrame({**{t: k for t, k in zip(tiers, keys, strict=True)}, "pop": pop})
    groups = (frame.groupby(tiers, sort=False)["pop"].agg(["size", "sum"])
              .sort_values(["sum", "size"], ascending=False) if tiers and len(frame)
              else pd.DataFrame({"size": [], "sum": []}))
    shown = [
        {"lacks": {t: v.split(",") for t, v in zip(tiers, (key if isinstance(key, tuple)
                                                         else (key,)), strict=True) if v},
         "blocks": int(n), "population": round(float(p), 1)}
        for key, n, p in zip(groups.index, groups["size"], groups["sum"], strict=True)
    ][:patterns]
    rest = groups.iloc[patterns:]
    return {
        "blocks": len(lacking),
        "population": round(float(pop.sum()), 1),
        "listed": listed,
        "full_list": {"table": "blocks.csv", "layer": "lifecircle.gpkg: blocks",
                      "columns": [col.tier_lacks(t) for t in tiers]},
        "patterns": shown,
        "other_patterns": {"patterns": len(rest), "blocks": int(rest["size"].sum()),
                           "population": round(float(rest["sum"].sum()), 1)},
    }


def facility_summary(
    facilities: pd.DataFrame, type_map: dict[str, Any] | None = None
) -> dict[str, Any]:
    """How the facilities were recognised (tag, name keyword, type map, ...) per category."""
    match = facilities["match"].fillna("unknown") if "match" in facilities else None
    by: dict[str, dict[str, int]] = {}
    if match is not None:
        for (c, m), n in facilities.groupby([facilities["category"], match]).size().items():
            by.setdefault(str(c), {})[str(m)] = int(n)
    out: dict[str, Any] = {
        "total": len(facilities),
        "by_category_and_match": by,
        "name_keyword": int((match == "name_keyword").sum()) if match is not None else 0,
    }
    if type_map is not None:
        out["type_map"] = type_map
    return out
