"""Plan indicators from target sets: supply per resident, staff, flagged facilities, served people.

The profile's targets (and any stacked with ``--targets NAME|FILE``, see
:mod:`lifecircle.profiles.targets`) are evaluated here. The coverage kinds of earlier
versions (``block_share``, ``population_share``, ``floor_area_per_100_households``) are left
to :func:`lifecircle.indicators.plan_indicators`; this module adds

- ``floor_area_per_100_residents`` and ``staff_per_10000_residents``: a facility column
  (floor area, staff) summed over the facilities of the target's categories, per 100 or
  10,000 residents city-wide; per block, 2SFCA-style within the target's catchment
  (``catchment_min`` at the default group's speed): each facility's supply is shared among
  the residents who can reach it, so nothing is counted once per block
  (:func:`lifecircle.supply.two_step_fca`);
- ``facility_flag_share``: the share of those facilities whose flag column is set;
- ``population_share`` with ``population = "served"``: the covered share of the residents
  the required categories serve (older people and young children for "one old, one small").

A target whose inputs are missing is reported with ``value = None`` and a reason naming the
column to give (``reason_code = "no_data"``), never as 0 and never as a failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import ConfigError
from .indicators import IndicatorInputs, covered_by, plan_indicators, unjudged
from .network import WalkNetwork
from .profiles import Profile, Target
from .profiles.schema import SUPPLY_TARGET_KINDS
from .snapping import Snap

__all__ = ["FACILITY_VALUE_COLUMNS", "facility_values", "indicators", "parse_flags"]

#: facility-file columns targets read, and the option that names another column
FACILITY_VALUE_COLUMNS = {"staff": "--staff-col", "volunteer_site": "--flag-col"}
#: per how many residents each supply kind is stated
_PER = {"floor_area_per_100_residents": 100.0, "staff_per_10000_residents": 10_000.0}
#: the target's own fields every indicator entry repeats (as indicators.plan_indicators does)
_ENTRY_FIELDS = ("kind", "label_en", "label_zh", "unit", "source", "verified", "note")
_TRUE = {"1", "yes", "true", "y", "是", "有"}
_FALSE = {"0", "no", "false", "n", "否", "无"}


def parse_flags(values: pd.Series) -> np.ndarray:
    """1.0 / 0.0 for yes/no-like values (1, yes, true, 是; 0, no, false, 否), NaN otherwise."""
    text = values.astype("string").str.strip().str.lower()
    num = pd.to_numeric(text, errors="coerce")
    out = np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan))
    out = np.where(np.isnan(out) & num.notna().to_numpy(), (num.fillna(0) != 0).astype(float), out)
    return np.asarray(out, dtype=np.float64)


def facility_values(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The facility table with ``staff`` as numbers and ``volunteer_site`` as 1/0 (NaN unknown).

    The facility reader keeps these columns as text (see ``read_facilities(extra_cols=...)``).
    """
    out = facilities
    if "staff" in out.columns:
        staff = pd.to_numeric(out["staff"].astype("string"), errors="coerce").to_numpy(
            dtype=np.float64)
        out = out.assign(staff=np.where(np.isfinite(staff) & (staff >= 0), staff, np.nan))
    if "volunteer_site" in out.columns:
        out = out.assign(volunteer_site=parse_flags(out["volunteer_site"]))
    return out


def indicators(
    blocks: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    profile: Profile,
    *,
    net: WalkNetwork,
    points: Snap,
    ap_block: np.ndarray,
    no_data: Collection[str] = (),
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Every target of ``profile``, in its order: ``(blocks, report["indicators"])``.

    Categories in ``no_data`` (no data in the source) make a share target unjudged
    (``reason_code = "no_data"``), never 0 %.

    The blocks gain a column per supply target (``per100_<target>`` or ``per10000_<target>``).
    """
    inputs = IndicatorInputs(facilities, net, points, ap_block, no_data)
    mine = {k: t for k, t in profile.targets.items() if _is_mine(t)}
    rest = {k: t for k, t in profile.targets.items() if k not in mine}
    base = dataclasses.replace(profile, targets=MappingProxyType(rest)) if mine else profile
    out, result = plan_indicators(blocks, base, inputs)
    by_name = {e["target"]: e for e in result["targets"]}
    for name, target in mine.items():
        entry: dict[str, Any] = {"target": name, "target_value": target.value}
        entry.update({k: getattr(target, k) for k in _ENTRY_FIELDS})
        if target.kind == "population_share":
            entry.update(_served_share(out, profile, target, no_data))
        else:
            entry.update(_supply(out, profile, target, inputs))
        by_name[name] = entry
    for name, target in profile.targets.items():
        by_name[name]["target_set"] = target.target_set or profile.name
    result["targets"] = [by_name[k] for k in profile.targets]
    return out, result


def _is_mine(target: Target) -> bool:
    return target.kind in SUPPLY_TARGET_KINDS or (
        target.kind == "population_share" and target.population == "served"
    )


def _no_data(reason: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "value": None, "meets": None, "reason_code": "no_data", "reason": reason}


def _served_share(blocks: gpd.GeoDataFrame, profile: Profile, target: Target,
                  no_data: Collection[str] = ()) -> dict[str, Any]:
    """Covered share of the residents the target's categories serve (all groups covered)."""
    info: dict[str, Any] = {"requires": [list(g) for g in target.requires],
                            "population": "served"}
    ok, missing = covered_by(blocks, target, no_data)  # the all-residents share's rule
    if ok is None:
        return {**info, "value": None, "meets": None, **unjudged(missing, no_data)}
    present = [c for g in target.requires for c in g if c not in missing]
    names = sorted({r.name for c in present if (r := profile.residents_of(c))})
    cols = [f"pop_{n}" for n in names if f"pop_{n}" in blocks.columns]
    if not cols:
        return _no_data("no residents named for these categories (serves = ...) ",
                        **info, residents=names)
    weight = np.nansum(np.column_stack([blocks[c].to_numpy(dtype=np.float64) for c in cols]),
                       axis=1)
    total = float(weight.sum())
    if total <= 0:
        return _no_data(f"no {' or '.join(names)} residents in the blocks: give block columns "
                        f"{', '.join(profile.residents[n].column for n in names)}",
                        **info, residents=names)
    share = round(float(weight[ok].sum()) / total, 4)
    return {**info, "residents": names, "value": share, "meets": bool(share >= target.value),
            "blocks_covered": int(ok.sum()),
            "residents_served": round(total, 1),
            "residents_served_covered": round(float(weight[ok].sum()), 1),
            "not_evaluated": missing}


def _supply(
    blocks: gpd.GeoDataFrame, profile: Profile, target: Target, inputs: IndicatorInputs
) -> dict[str, Any]:
    cats = [c for c in target.categories if c in profile.categories]
    fac = inputs.facilities[inputs.facilities["category"].isin(cats)].reset_index(drop=True)
    column = target.column
    info: dict[str, Any] = {"categories": list(target.categories), "column": column,
                            "facilities": len(fac)}
    if not cats:
        return {**info, "value": None, "meets": None, "reason_code": "not_evaluated",
                "reason": f"categories not in profile {profile.name!r}: "
                f"{', '.join(target.categories)}"}
    if fac.empty:
        return _no_data(f"no {' or '.join(cats)} facility found", **info)
    option = FACILITY_VALUE_COLUMNS.get(column)
    give = _give_column(column, option)
    if column not in fac.columns:
        return _no_data(f"no data: {give}", **info)
    values = pd.to_numeric(fac[column], errors="coerce").to_numpy(dtype=np.float64)
    known = np.isfinite(values)
    info.update(facilities_known=int(known.sum()), facilities_unknown=int((~known).sum()))
    if not known.any():
        return _no_data(f"no data: {column} unknown for all {len(fac)} facilities; {give}",
                        **info)
    if target.kind == "facility_flag_share":
        share = round(float(values[known].sum()) / int(known.sum()), 4)
        return {**info, "value": share, "meets": bool(share >= target.value),
                "facilities_flagged": int(values[known].sum())}
    per = _PER[target.kind]
    pop = blocks["population"].to_numpy(dtype=np.float64)
    total_pop = float(pop.sum())
    supply = float(values[known].sum())
    value = round(per * supply / total_pop, 2) if total_pop > 0 else None
    info.update(
        supply=round(supply, 2),
        population=round(total_pop, 1),
        value=value,
        meets=None if value is None else bool(value >= target.value),
        facilities_value_unknown=int((~known).sum()),
    )
    info.update(_per_block(blocks, fac[known], values[known], profile, target, inputs, per))
    return info


def _give_column(column: str, option: str | None) -> str:
    if column == "floor_area_m2":
        return "give a facility file with an area_m2 column, or OSM building polygons " \
               "with building:levels"
    hint = f" (or name yours with {option})" if option else ""
    return f"give column {column!r} in the facility file{hint}"


def _per_block(
    blocks: gpd.GeoDataFrame,
    fac: gpd.GeoDataFrame,
    supply: np.ndarray,
    profile: Profile,
    target: Target,
    inputs: IndicatorInputs,
    per: float,
) -> dict[str, Any]:
    """2SFCA supply per ``per`` residents of every block within the target's catchment."""
    from .catchment import coverage_matrix
    from .supply import two_step_fca

    group = profile.groups[profile.default_group]
    limit_m = target.catchment_min * group.speed_m_per_min
    column = f"per{per:g}_{target.name}"
    block_ids = blocks["block_id"].to_numpy()
    pos = pd.Index(block_ids).get_indexer(inputs.ap_block)
    valid = pos >= 0
    out: dict[str, Any] = {
        "catchment_min": target.catchment_min,
        "catchment_m": round(limit_m, 1),
        "catchment_speed_kmh": group.speed_kmh,
        "catchment_group": {"name": group.name, "label_en": group.label_en,
                            "label_zh": group.label_zh},
        "block_column": column,
    }
    try:
        matrix = coverage_matrix(inputs.net, Snap.from_columns(fac), inputs.points.subset(valid),
                                 pos[valid], len(block_ids), limit_m=limit_m * (1 + 1e-12))
    except ConfigError as exc:  # a network the coverage matrix refuses: said, not failed
        blocks[column] = np.nan
        return {**out, "per_block": f"not computed: {exc}"}
    coo = matrix.cover.tocoo()
    pop = blocks["population"].to_numpy(dtype=np.float64)
    acc, _ = two_step_fca(coo.row, coo.col, matrix.dist_m, supply, pop,
                          max_cost=limit_m * (1 + 1e-12))
    blocks[column] = acc * per
    reached = np.zeros(len(block_ids), dtype=bool)
    reached[coo.col] = True
    return {
        **out,
        "population_within_catchment": round(float(pop[reached].sum()), 1),
        "share_blocks_meeting": round(float((acc * per >= target.value).mean()), 4)
        if len(acc) else None,
    }

