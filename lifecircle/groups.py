"""The people each service serves, and what step-free groups cannot reach.

Two additions to a run's verdict, both driven by the profile's data:

- **Served residents.** A category may name the residents it serves (``serves =
  "age60plus"``, a ``[residents.<name>]`` table). Their number per block comes, in this order,
  from a block column (the table's ``column``, e.g. ``pop_60plus``, or one mapped with
  ``--group-population NAME=COLUMN``), or a raster of the group's people per pixel
  (``--group-population NAME=FILE.tif``, exact zonal sums), else from the table's ``share``
  of the block population (China's 2020 census shares in the built-in profiles, with their
  source). Blocks get ``pop_<name>`` and ``pop_method_<name>`` (``"column"``, ``"raster"``
  or ``"share"``); each such category's coverage is reported for all residents and for the
  residents it serves.
- **Step-free groups.** A category whose group is restricted (``step_free``,
  ``max_incline_pct``; see :mod:`lifecircle.edge_access`) is searched on the group's edge mask.
  Its facilities are searched once more on the whole network at the same speed, so the report
  can name the blocks the group cannot reach, or cannot reach in time, while others can
  ("reachable only by steps").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns as col
from ._errors import ConfigError, did_you_mean
from .access import CategoryAccess, block_times
from .edge_access import STEPS, edge_flags, usable_mask
from .network import WalkNetwork
from .profiles import Profile
from .routing import multi_source, point_distances
from .snapping import Snap
from .sources.population import population_from_raster

__all__ = [
    "parse_group_population",
    "served_coverage",
    "served_population",
    "step_free_report",
    "unrestricted_distances",
]

#: how many block ids a report list names at most (the counts are always complete)
MAX_LISTED = 50


def parse_group_population(
    items: list[str] | Mapping[str, str] | None, profile: Profile
) -> dict[str, str]:
    """``["age60plus=old", ...]`` (``--group-population``) as ``{residents: column}``.

    A value ending in ``.tif``/``.tiff`` names a raster of that group's people per pixel.
    """
    if not items:
        return {}
    pairs = items.items() if isinstance(items, Mapping) else (
        [*i.split("=", 1), ""][:2] for i in items
    )
    out: dict[str, str] = {}
    for name, column in pairs:
        name, column = str(name).strip(), str(column).strip()
        if not name or not column:
            raise ConfigError(
                "--group-population takes RESIDENTS=COLUMN, e.g. age60plus=pop_60plus"
            )
        if name not in profile.residents:
            raise ConfigError(
                f"--group-population: profile {profile.name!r} has no residents {name!r}"
                f"{did_you_mean(name, profile.residents)}; choose from "
                f"{', '.join(profile.residents) or 'none (add [residents.<name>] tables)'}"
            )
        out[name] = column
    return out


def served_population(
    blocks: gpd.GeoDataFrame,
    profile: Profile,
    *,
    columns: Mapping[str, str] | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Add ``pop_<name>`` and ``pop_method_<name>`` for the residents the categories serve.

    A block column wins where it holds a number (negative or missing values fall back to the
    share); without column and share the residents are unknown (NaN, method ``"none"``).
    Returns the blocks and, per residents name, how their numbers were found.
    """
    out = blocks.copy()
    pop = out["population"].to_numpy(dtype=np.float64)
    used = {r for c in profile.categories if (r := profile.categories[c].serves)}
    used |= {r for r in (columns or {})}
    info: dict[str, Any] = {}
    for name in [r for r in profile.residents if r in used]:
        res = profile.residents[name]
        column = (columns or {}).get(name, res.column)
        share_values = pop * res.share if res.share is not None else np.full(len(out), np.nan)
        raster = col.is_raster_name(column)
        if raster:  # a raster of this group's people per pixel: exact zonal sums
            values = population_from_raster(out, column).to_numpy(dtype=np.float64)
            method = np.full(len(out), "raster")
        elif column in out.columns:
            given = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=np.float64)
            ok = np.isfinite(given) & (given >= 0)
            values = np.where(ok, given, share_values)
            method = np.where(ok, "column", "share" if res.share is not None else "none")
        elif (columns or {}).get(name):
            raise ConfigError(
                f"--group-population {name}={column}: the blocks have no column {column!r}"
                f"{did_you_mean(column, map(str, out.columns))}"
            )
        else:
            values = share_values
            method = np.full(len(out), "share" if res.share is not None else "none")
        out[f"pop_{name}"] = values
        out[f"pop_method_{name}"] = method
        counts = pd.Series(method).value_counts()
        info[name] = {
            "label_en": res.label_en,
            "label_zh": res.label_zh,
            "column": column,
            "share": res.share,
            "blocks_by_method": {str(k): int(v) for k, v in counts.items()},
            "population": round(float(np.nansum(values)), 1),
            "source": res.source,
            "verified": res.verified,
            "note": res.note,
        }
    return out, info


def served_coverage(
    blocks: gpd.GeoDataFrame, summary: dict[str, Any], profile: Profile
) -> None:
    """Add a ``served`` entry to each category of ``summary`` that serves named residents.

    ``share_population_covered`` there is the covered share of the residents it serves
    (``None`` for a category without data, or when their number is unknown).
    """
    for c, entry in summary["categories"].items():
        res = profile.residents_of(c)
        if res is None or f"pop_{res.name}" not in blocks.columns:
            continue
        served = blocks[f"pop_{res.name}"].to_numpy(dtype=np.float64)
        cov = blocks[col.covered(c)].to_numpy(dtype=bool)
        total = float(np.nansum(served))
        known = np.isfinite(served).any() and total > 0
        no_data = entry.get("status", "ok") == "no_data"
        entry["served"] = {
            "residents": res.name,
            "label_en": res.label_en,
            "label_zh": res.label_zh,
            "population": round(total, 1) if known else None,
            "population_covered": round(float(np.nansum(served[cov])), 1) if known else None,
            "share_population_covered": None if no_data or not known
            else round(float(np.nansum(served[cov])) / total, 4),
            # the distinct methods in one pass (iterating 10^5 strings took tenths of a s)
            "methods": sorted(set(blocks[f"pop_method_{res.name}"].astype(str).unique())),
        }


def unrestricted_distances(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    points: Snap,
    access: dict[str, CategoryAccess],
    profile: Profile,
) -> dict[str, np.ndarray]:
    """Metres per access point on the whole network, for each restricted category.

    Where the restricted time is missing but this one is not, the point's reason says so.
    """
    out: dict[str, np.ndarray] = {}
    for c, a in access.items():
        group = profile.group_of(c)
        if not group.restricted:
            continue
        fsnap = Snap.from_columns(facilities[facilities["category"] == c])
        nodes = multi_source(net, fsnap, limit_m=a.horizon_m)
        free, _ = point_distances(net, nodes, fsnap, points)
        out[c] = np.where(np.isfinite(free), free, np.nan)
        only = np.isfinite(free) & np.isnan(a.dist_m)
        a.reason[only] = (
            f"reachable only by steps or ways {group.label_en or group.name} cannot use"
        )
    return out


def step_free_report(
    net: WalkNetwork,
    blocks: gpd.GeoDataFrame,
    ap_block: np.ndarray,
    access: dict[str, CategoryAccess],
    free: dict[str, np.ndarray],
    profile: Profile,
) -> dict[str, Any]:
    """Per restricted group: its barred edges and the blocks others reach but it cannot.

    ``blocks_reachable_only_by_barred_ways``: no walk for the group within the horizon,
    a walk for others; ``blocks_covered_only_by_barred_ways``: covered for others at the
    group's speed and threshold, not for the group.
    """
    groups: dict[str, Any] = {}
    block_ids = blocks["block_id"].to_numpy()
    for c, dist in free.items():
        group = profile.group_of(c)
        a = access[c]
        g = groups.get(group.name)
        if g is None:
            usable = net.group_masks.get(group.name)
            if usable is None:
                usable = usable_mask(net, group)
            g = groups[group.name] = {
                "label_en": group.label_en,
                "label_zh": group.label_zh,
                "speed_kmh": group.speed_kmh,
                "step_free": group.step_free,
                "max_incline_pct": group.max_incline_pct,
                "source": group.restriction_source,
                "edges_barred": int((~usable).sum()),
                "edges_barred_steps": int((((edge_flags(net) & STEPS) != 0) & ~usable).sum()),
                "edges_column": f"usable_{group.name}",
                "categories": {},
            }
        free_m, _ = block_times(ap_block, dist, block_ids)
        mine = blocks[col.walk_min(c)].to_numpy(dtype=np.float64)
        free_min = free_m / (a.speed_kmh * 1000.0 / 60.0)
        reach_only = np.isfinite(free_min) & ~np.isfinite(mine)
        cover_only = (np.isfinite(free_min) & (free_min <= a.threshold_min)
                      & ~blocks[col.covered(c)].to_numpy(dtype=bool))
        g["categories"][c] = {
            "blocks_reachable_only_by_barred_ways": int(reach_only.sum()),
            "blocks_covered_only_by_barred_ways": int(cover_only.sum()),
            "block_ids_reachable_only": [str(b) for b in block_ids[reach_only][:MAX_LISTED]],
            "block_ids_covered_only": [str(b) for b in block_ids[cover_only][:MAX_LISTED]],
        }
    return groups

