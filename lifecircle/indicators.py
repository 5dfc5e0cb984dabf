"""Plan indicators: the verdict's shares, and service floor area per 100 households, against
the profile's ``[targets]``.

A target is judged from the block verdict (:mod:`lifecircle.coverage`): shares of blocks or
residents served, or the floor area of the facilities within a catchment per 100 households
(one bounded search per facility). A target whose category has no data is left unjudged and
says why, never 0 %.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns as col
from ._kernels import BoundedSearch
from .coverage import share_of
from .network import WalkNetwork
from .profiles import Profile, Target
from .routing import NodeDistances, point_distances, seed_arcs
from .snapping import Snap

__all__ = [
    "IndicatorInputs",
    "catchment_floor_area",
    "covered_by",
    "households",
    "plan_indicators",
    "unjudged",
]


def households(blocks: pd.DataFrame, profile: Profile) -> tuple[np.ndarray, str]:
    """Households per block: a ``households`` column, else population / household size."""
    if "households" in blocks.columns:
        hh = pd.to_numeric(blocks["households"], errors="coerce").to_numpy(dtype=np.float64)
        return np.where(np.isfinite(hh) & (hh >= 0), hh, 0.0), "column"
    size = profile.population.household_size
    pop = blocks["population"].to_numpy(dtype=np.float64)
    return pop / size, f"population / {size:g} persons per household"


def catchment_floor_area(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    points: Snap,
    ap_block: np.ndarray,
    block_ids: np.ndarray,
    *,
    limit_m: float,
) -> np.ndarray:
    """Floor area (m²) of the ``facilities`` within ``limit_m`` walk of each block.

    One bounded search per facility (:class:`~lifecircle._kernels.BoundedSearch`, which reuses
    one workspace); a facility counts once per block when any of the block's access points is
    within reach. ``facilities`` must carry snap columns and a finite ``floor_area_m2``.
    """
    total = np.zeros(len(block_ids))
    if facilities.empty:
        return total
    fsnap = Snap.from_columns(facilities)
    area = facilities["floor_area_m2"].to_numpy(dtype=np.float64)
    # searches from facilities run on the reversed arcs when slope makes the graph directed
    search = BoundedSearch.from_csr(net.search_csr)
    point, node, dist = seed_arcs(net, fsnap)
    scratch = np.full(net.n_nodes, np.inf)
    no_source = np.zeros(net.n_nodes, dtype=np.int64)
    block_pos = pd.Index(block_ids).get_indexer(ap_block)
    for f in np.flatnonzero(fsnap.ok):
        mine = point == f
        reached, d = search.run(node[mine], dist[mine], limit_m)
        scratch[reached] = d
        one = fsnap.subset(np.arange(len(fsnap)) == f)
        ap_dist, _ = point_distances(net, NodeDistances(scratch, no_source, limit_m), one, points)
        scratch[reached] = np.inf
        hit = np.unique(block_pos[np.isfinite(ap_dist) & (block_pos >= 0)])
        total[hit] += area[f]
    return total


def unjudged(missing: list[str], no_data: Collection[str]) -> dict[str, str]:
    """Why a share target has no value: its categories have no data, or were not evaluated."""
    absent = [c for c in missing if c in no_data]
    if absent:
        return {"reason_code": "no_data", "reason": f"no data in the source: {', '.join(absent)}"}
    return {"reason_code": "not_evaluated",
            "reason": f"categories not evaluated: {', '.join(missing)}"}


def covered_by(
    blocks: pd.DataFrame, target: Target, no_data: Collection[str] = ()
) -> tuple[np.ndarray | None, list[str]]:
    """Blocks covered in every ``requires`` group (any category of a group); missing names
    (categories not evaluated, or with no data)."""
    def known(c: str) -> bool:
        return col.covered(c) in blocks.columns and c not in no_data

    present = [[c for c in group if known(c)] for group in target.requires]
    missing = [c for group in target.requires for c in group if not known(c)]
    if any(not group for group in present):
        return None, missing
    ok = np.ones(len(blocks), dtype=bool)
    for group in present:
        ok &= np.column_stack([blocks[col.covered(c)].to_numpy(dtype=bool) for c in group]).any(1)
    return ok, missing


@dataclass(frozen=True)
class IndicatorInputs:
    """What plan indicators read besides the blocks and the profile.

    Attributes
    ----------
    facilities
        The facility table (one row per facility).
    net
        The walking network.
    points
        The snapped block access points.
    ap_block
        The block id of every access point.
    no_data
        Categories with no data in the source: a target needing them is unjudged, never 0 %.
    """

    facilities: gpd.GeoDataFrame
    net: WalkNetwork
    points: Snap
    ap_block: np.ndarray
    no_data: Collection[str] = ()


def plan_indicators(
    blocks: gpd.GeoDataFrame, profile: Profile, inputs: IndicatorInputs
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Indicators against the profile's plan targets; adds per-block floor-area columns.

    Returns the blocks (with ``m2_per_100hh_<target>`` for every floor-area target) and the
    ``indicators`` section of ``report.json``: one entry per target with the figure, the target,
    whether it is met (``None`` when it cannot be computed, with the reason) and the target's
    source and verification status.
    """
    out = blocks.copy()
    pop = out["population"].to_numpy(dtype=np.float64)
    hh, hh_method = households(out, profile)
    results: list[dict[str, Any]] = []
    for name, target in profile.targets.items():
        entry: dict[str, Any] = {
            "target": name,
            "kind": target.kind,
            "label_en": target.label_en,
            "label_zh": target.label_zh,
            "target_value": target.value,
            "unit": target.unit,
            "source": target.source,
            "verified": target.verified,
            "note": target.note,
        }
        if target.kind == "floor_area_per_100_households":
            entry.update(_floor_area(out, profile, target, inputs, hh))
            entry["households_method"] = hh_method
        else:
            ok, missing = covered_by(out, target, inputs.no_data)
            entry["requires"] = [list(g) for g in target.requires]
            if ok is None:
                entry.update(value=None, meets=None, **unjudged(missing, inputs.no_data))
            else:
                share = (share_of(ok.sum(), len(ok)) if target.kind == "block_share"
                         else share_of(pop[ok].sum(), pop.sum()))
                entry.update(
                    value=share,
                    meets=None if share is None else bool(share >= target.value),
                    blocks_covered=int(ok.sum()),
                    population_covered=round(float(pop[ok].sum()), 1),
                    not_evaluated=missing,
                )
        results.append(entry)
    return out, {"area_type": profile.area_type, "targets": results}


def _floor_area(
    blocks: gpd.GeoDataFrame, profile: Profile, target: Target, inputs: IndicatorInputs,
    hh: np.ndarray,
) -> dict[str, Any]:
    cats = [c for c in target.categories if c in profile.categories]
    fac = inputs.facilities[inputs.facilities["category"].isin(cats)]
    area = fac["floor_area_m2"].to_numpy(dtype=np.float64)
    known = np.isfinite(area)
    speed = profile.groups[profile.default_group]
    limit_m = target.catchment_min * speed.speed_m_per_min
    column = col.floor_area_per_100hh(target.name)
    per_block = catchment_floor_area(
        inputs.net, fac[known], inputs.points, inputs.ap_block, blocks["block_id"].to_numpy(),
        limit_m=limit_m,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        blocks[column] = np.where(hh > 0, 100.0 * per_block / hh, np.nan)
        if not known.any():
            blocks[column] = np.nan
    total_hh = float(hh.sum())
    info: dict[str, Any] = {
        "categories": cats,
        "facilities": len(fac),
        "facilities_area_known": int(known.sum()),
        "facilities_area_unknown": int((~known).sum()),
        "floor_area_m2": round(float(area[known].sum()), 1),
        "households": round(total_hh, 1),
        "catchment_min": target.catchment_min,
        "catchment_m": round(limit_m, 1),
        "catchment_speed_kmh": speed.speed_kmh,
        "catchment_group": {"name": speed.name, "label_en": speed.label_en,
                            "label_zh": speed.label_zh},
        "block_column": column,
    }
    if not cats:
        return {**info, "value": None, "meets": None, "reason_code": "not_evaluated",
                "reason": "categories not evaluated"}
    if not known.any():
        reason = (
            f"floor area unknown for all {len(fac)} facilities" if len(fac)
            else f"no {' or '.join(cats)} facility found"
        )
        return {
            **info,
            "value": None,
            "meets": None,
            "reason_code": "area_unknown" if len(fac) else "no_facility",
            "reason": reason + ": give a facility file with an area_m2 column, or OSM building "
            "polygons with building:levels",
        }
    value = round(100.0 * float(area[known].sum()) / total_hh, 2) if total_hh else None
    per = blocks[column].to_numpy(dtype=np.float64)
    info.update(
        value=value,
        meets=None if value is None else bool(value >= target.value),
        lower_bound=bool((~known).any()),
        share_blocks_meeting=share_of((per >= target.value).sum(), len(per)),
    )
    return info
