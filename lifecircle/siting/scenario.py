"""Siting on top of a run: :func:`site` (proposed sites and a before / after scenario) and
:func:`scenario` (add or close facilities, recomputed by the core engine)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import columns as col
from .._errors import ConfigError, InputError
from ..catchment import CoverageMatrix, block_index, concat_snaps, coverage_matrix
from ..edge_access import network_for_group
from ..snapping import Snap, snap_points
from ..supply import capacities
from .candidates import resolve_candidates
from .solvers import Solution, max_coverage, set_cover

if TYPE_CHECKING:
    from ..result import Result

__all__ = ["Siting", "scenario", "scenario_layer", "site"]


@dataclass
class Siting:
    """The outcome of :func:`site`: proposed sites, the solution, before / after figures."""

    category: str
    proposed_sites: gpd.GeoDataFrame
    solution: Solution
    matrix: CoverageMatrix
    scenario_blocks: pd.DataFrame
    report: dict[str, Any]
    greedy: Solution | None = None


def site(
    result: Result,
    category: str,
    *,
    new: int | None = 3,
    target_share: float | None = None,
    candidates: gpd.GeoDataFrame | str | Path | None = None,
    candidates_crs: str | None = None,
    spacing_m: float = 100.0,
    method: str = "greedy",
    capacity: float | None = None,
    existing_capacity: str | float | None = None,
    remove: Sequence[str] = (),
    solver: str = "scipy",
    time_limit_s: float | None = 60.0,
) -> Siting:
    """Where to put ``new`` facilities of ``category`` so that most residents newly get one.

    Parameters
    ----------
    result
        A finished :func:`lifecircle.pipeline.run` (network, blocks, access points,
        facilities). On a sloped network (a DEM) walking times are the slope-aware times
        of the run, each walked in the resident's direction.
    category
        A category of the run's profile; its threshold and walking speed (its tier) apply.
    new
        Number of new sites (maximal coverage). Ignored when ``target_share`` is given.
    target_share
        Set covering instead: the fewest new sites bringing population coverage to this share.
    candidates
        Candidate sites: a GeoDataFrame with a CRS, a file (see :func:`read_candidates`),
        ``"osm"`` (:func:`candidates_from_osm`), or ``None`` for a regular sample of the
        network every ``spacing_m`` (:func:`network_sample`).
    method, capacity, solver, time_limit_s
        As in :func:`max_coverage`.
    existing_capacity
        Residents each existing facility can serve: a column of the facilities (e.g.
        ``"capacity"`` from the facility file) or one number for all; maximal coverage only.
    remove
        Ids of existing facilities of the category to close in the scenario (they are then
        not fixed either).

    Returns
    -------
    Siting
        ``proposed_sites`` has ``rank``, ``candidate_id``, ``category``, ``gain_population``
        (the residents newly covered by that site, given the sites ranked before it),
        ``cumulative_population`` and the snap fields.
    """
    prof = result.profile
    if category not in prof.categories:
        from .._errors import did_you_mean

        raise ConfigError(
            f"unknown category {category!r}{did_you_mean(category, prof.categories)}; "
            f"the run evaluated {', '.join(prof.categories)}"
        )
    if target_share is not None and existing_capacity is not None:
        raise ConfigError("capacities apply to maximal coverage (--new); drop --target-share "
                          "or the existing facilities' capacity")
    net = result.network
    t0 = time.perf_counter()
    cand = resolve_candidates(net, candidates, osm=result.osm, crs=candidates_crs,
                              spacing_m=spacing_m)
    if cand.empty:
        raise InputError(f"no candidate sites for {category}; pass --candidates FILE")
    csnap = snap_points(net, cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy(),
                        max_snap_m=prof.max_snap_m)
    cand = cand.reset_index(drop=True)
    existing = result.facilities[result.facilities["category"] == category]
    existing = existing[~existing["facility_id"].isin(list(remove))].reset_index(drop=True)
    fixed_cap = None
    if existing_capacity is not None:
        fixed_cap = capacities(existing, _number_or_column(existing_capacity, existing))
    group = prof.group_of(category)
    threshold = prof.threshold_of(category)
    # the same test as the verdict (minutes <= threshold), applied in metres
    limit_m = threshold * group.speed_m_per_min
    block_ids, ap_block = block_index(result)
    valid = ap_block >= 0
    # a step-free group's sites cover on the group's own mask, as its times are searched
    matrix = coverage_matrix(network_for_group(net, group),
                             concat_snaps(Snap.from_columns(existing), csnap),
                             Snap.from_columns(result.access_points).subset(valid),
                             ap_block[valid], len(block_ids), limit_m=limit_m * (1 + 1e-12))
    pop = result.blocks["population"].to_numpy(dtype=np.float64)
    kw: dict[str, Any] = {"fixed": np.arange(len(existing)), "method": method}
    if target_share is None:
        if new is None:
            raise ConfigError("give the number of new sites or a target share")
        kw.update(p=new, capacity=capacity, fixed_capacity=fixed_cap)
    else:
        kw.update(target_share=target_share)
    model = set_cover if target_share is not None else max_coverage
    sol = model(matrix, pop, solver=solver, time_limit_s=time_limit_s, **kw)
    greedy = model(matrix, pop, **{**kw, "method": "greedy"}) if method == "exact" else None
    sites = _proposed(result, cand, csnap, sol, len(existing), category)
    blocks_table, before_after = scenario(result, category, add=sites, remove=remove)
    report = {
        "category": category,
        "threshold_min": threshold,
        "speed_kmh": group.speed_kmh,
        "limit_m": round(limit_m, 3),
        "model": "set_cover" if target_share is not None else "max_coverage",
        "new_requested": None if target_share is not None else new,
        "target_share": target_share,
        "capacity": capacity,
        "existing_capacity": existing_capacity,
        "candidates": len(cand),
        "candidates_snapped": int(csnap.ok.sum()),
        "candidate_source": sorted(set(cand["source"].astype(str))),
        "existing_facilities": len(existing),
        "matrix": {"entries": int(matrix.cover.nnz), "seconds": round(matrix.seconds, 4)},
        "solution": sol.to_dict(),
        "greedy": None if greedy is None else greedy.to_dict(),
        "sites": [
            {"rank": int(r.rank), "candidate_id": str(r.candidate_id),
             "gain_population": float(r.gain_population)}
            for r in sites.itertuples()
        ],
        "before_after": before_after,
        "seconds": round(time.perf_counter() - t0, 4),
    }
    if capacity is not None or existing_capacity is not None:
        report["note"] = (
            "with capacities, gain_population counts the residents a site serves and the "
            "solution's figures the residents served; the before/after figures count every "
            "block within walking reach"
        )
    return Siting(category, sites, sol, matrix, blocks_table, report, greedy)


def _number_or_column(value: str | float, frame: pd.DataFrame) -> str | float:
    """A number given as text (the CLI's ``--existing-capacity 150``) unless it names a
    column."""
    if isinstance(value, str) and value not in frame.columns:
        try:
            return float(value)
        except ValueError:
            return value  # capacities() names the missing column
    return value


def _proposed(result: Result, cand: gpd.GeoDataFrame, csnap: Snap, sol: Solution,
              n_existing: int, category: str) -> gpd.GeoDataFrame:
    """The chosen candidates as the ``proposed_sites`` layer (rank, gains, snap fields)."""
    rows = sol.new - n_existing
    sites = cand.iloc[rows].copy()
    fields = csnap.subset(rows).fields(result.network)
    fields.index = sites.index
    sites = gpd.GeoDataFrame(
        pd.concat([sites.drop(columns="geometry"), fields], axis=1),
        geometry=sites.geometry, crs=sites.crs,
    )
    sites.insert(0, "rank", np.arange(1, len(sites) + 1, dtype=np.int64))
    sites.insert(2, "category", category)
    sites["gain_population"] = np.round(sol.gain, 3)
    sites["cumulative_population"] = np.round(sol.population_before + np.cumsum(sol.gain), 3)
    sites["method"] = sol.method
    return sites.reset_index(drop=True)


def scenario(
    result: Result,
    category: str,
    *,
    add: gpd.GeoDataFrame | None = None,
    remove: Sequence[str] = (),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Before / after: add proposed sites and/or remove facilities, recomputed by the engine.

    The category's access is recomputed with the core engine (:func:`compute_access`) on the
    changed facility set, so the after figures are the ones a new run would report.

    Returns
    -------
    blocks, figures
        Per block: ``block_id``, ``population``, ``walk_min_before``, ``walk_min_after``,
        ``covered_before``, ``covered_after``, ``change`` (``gained``, ``lost`` or ``""``);
        and the before / after coverage figures of the category with their differences.
    """
    from ..access import compute_access
    from ..coverage import block_verdict, summarize

    prof = result.profile.replace(categories=[category])
    fac = result.facilities
    unknown = sorted(set(remove) - set(fac.loc[fac["category"] == category, "facility_id"]))
    if unknown:
        raise InputError(
            f"no {category} facility with id {unknown[0]!r} to remove; ids are in the "
            "facilities layer"
        )
    keep = fac[~((fac["category"] == category) & fac["facility_id"].isin(list(remove)))]
    keep = keep[keep["category"] == category]
    if add is not None and len(add):
        added = add.to_crs(fac.crs)
        x, y = added.geometry.x.to_numpy(), added.geometry.y.to_numpy()
        snap = snap_points(result.network, x, y, max_snap_m=prof.max_snap_m)
        extra = gpd.GeoDataFrame(
            {"facility_id": [f"proposed-{r}" for r in range(1, len(added) + 1)],
             "category": category},
            geometry=added.geometry.values, crs=fac.crs,
        )
        fields = snap.fields(result.network)
        extra = gpd.GeoDataFrame(pd.concat([extra, fields], axis=1), geometry="geometry",
                                 crs=fac.crs)
        keep = pd.concat([keep, extra], ignore_index=True)
    apsnap = Snap.from_columns(result.access_points)
    after = compute_access(result.network, keep, apsnap, prof)
    blk = result.blocks[["block_id", "population", "geometry"]].copy()
    ap_block = result.access_points["block_id"].to_numpy()
    after_blk = block_verdict(blk, ap_block, after, prof)
    before = {category: result.access[category]}
    before_sum = summarize(block_verdict(blk, ap_block, before, prof), before, prof)
    after_sum = summarize(after_blk, after, prof)
    cb = result.blocks[col.covered(category)].to_numpy(dtype=bool)
    ca = after_blk[col.covered(category)].to_numpy(dtype=bool)
    table = pd.DataFrame({
        "block_id": result.blocks["block_id"].to_numpy(),
        "population": result.blocks["population"].to_numpy(dtype=np.float64),
        "walk_min_before": result.blocks[col.walk_min(category)].to_numpy(dtype=np.float64),
        "walk_min_after": after_blk[col.walk_min(category)].to_numpy(dtype=np.float64),
        "covered_before": cb,
        "covered_after": ca,
        "change": np.where(ca & ~cb, "gained", np.where(cb & ~ca, "lost", "")),
    })
    b = before_sum["categories"][category]
    a = after_sum["categories"][category]
    keys = ("facilities", "blocks_covered", "share_blocks_covered", "population_covered",
            "share_population_covered", "median_walk_min", "population_weighted_mean_walk_min")
    figures = {
        "added": 0 if add is None else len(add),
        "removed": list(remove),
        "before": {k: b[k] for k in keys},
        "after": {k: a[k] for k in keys},
        "change": {k: (None if a[k] is None or b[k] is None else round(a[k] - b[k], 4))
                   for k in keys},
        "blocks_gained": int((ca & ~cb).sum()),
        "blocks_lost": int((cb & ~ca).sum()),
    }
    return table, figures


def scenario_layer(result: Result, table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The before / after table as a block polygon layer (for the GeoPackage and the map)."""
    geom = result.blocks.set_index("block_id").geometry.reindex(table["block_id"]).values
    return gpd.GeoDataFrame(table.reset_index(drop=True), geometry=geom,
                            crs=result.blocks.crs)
