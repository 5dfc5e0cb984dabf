"""The verdict: which blocks are covered, by what, and what they lack.

Per block and category: minutes to the nearest facility, covered or not at the category's
threshold, minutes beyond it; per block the list of categories it lacks; per category the share
of blocks and of population covered; overall the share of population with every category
covered (a complete life circle).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns as col
from .access import CategoryAccess, block_times
from .profiles import Profile

__all__ = ["block_verdict", "summarize"]


def block_verdict(
    blocks: gpd.GeoDataFrame,
    ap_block: np.ndarray,
    access: dict[str, CategoryAccess],
    profile: Profile,
) -> gpd.GeoDataFrame:
    """Add per-category times, coverage flags, shortfalls and deficiency lists to blocks."""
    out = blocks.copy()
    block_ids = out["block_id"].to_numpy()
    lacking: list[list[str]] = [[] for _ in range(len(out))]
    for c, a in access.items():
        t, i = block_times(ap_block, a.walk_min, block_ids)
        d, _ = block_times(ap_block, a.dist_m, block_ids)
        threshold = a.threshold_min
        out[col.walk_min(c)] = t
        out[col.walk_m(c)] = d
        out[col.covered(c)] = np.isfinite(t) & (t <= threshold)
        out[col.short_min(c)] = np.where(np.isfinite(t), np.maximum(t - threshold, 0.0), np.nan)
        out[col.nearest(c)] = np.where(i >= 0, a.nearest[np.maximum(i, 0)], None)
        reason = np.where(i >= 0, "", _first_reason(ap_block, a.reason, block_ids))
        out[f"reason_{c}"] = reason
        for k in np.flatnonzero(~out[col.covered(c)].to_numpy()):
            lacking[k].append(c)
    out["lacks"] = [",".join(x) for x in lacking]
    out["n_lacking"] = np.array([len(x) for x in lacking], dtype=np.int64)
    out["complete"] = out["n_lacking"].to_numpy() == 0
    return out


def _first_reason(ap_block: np.ndarray, reasons: np.ndarray, block_ids: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame({"block": ap_block, "r": reasons}).drop_duplicates("block")
    return frame.set_index("block")["r"].reindex(pd.Index(block_ids)).fillna("").to_numpy()


def summarize(
    blocks: gpd.GeoDataFrame,
    access: dict[str, CategoryAccess],
    profile: Profile,
) -> dict[str, Any]:
    """Coverage figures per category and for the complete life circle."""
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
            "share_blocks_covered": _share(cov.sum(), n),
            "population": round(total_pop, 1),
            "population_covered": round(float(pop[cov].sum()), 1),
            "share_population_covered": _share(pop[cov].sum(), total_pop),
            "blocks_unreachable": int((~finite).sum()),
            "median_walk_min": _round(np.median(t[finite])) if finite.any() else None,
            "max_walk_min": _round(t[finite].max()) if finite.any() else None,
            "population_weighted_mean_walk_min": _round(np.average(t[finite], weights=pop[finite]))
            if finite.any() and pop[finite].sum() > 0
            else None,
            "search_seconds": round(a.seconds, 4),
            "source": profile.categories[c].source,
            "verified": profile.categories[c].verified,
        }
    complete = blocks["complete"].to_numpy(dtype=bool)
    return {
        "blocks": n,
        "population": round(total_pop, 1),
        "categories": cats,
        "complete_life_circle": {
            "blocks": int(complete.sum()),
            "share_blocks": _share(complete.sum(), n),
            "population": round(float(pop[complete].sum()), 1),
            "share_population": _share(pop[complete].sum(), total_pop),
        },
        "blocks_lacking_any": int((~complete).sum()),
    }


def _share(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _round(x: float) -> float:
    return round(float(x), 2)
