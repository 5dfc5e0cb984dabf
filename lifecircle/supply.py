"""Supply and demand: two-step floating catchment area scores (2SFCA and its enhanced form).

Step 1 gives every facility j a supply-to-demand ratio
``R_j = S_j / sum_i P_i w(t_ij)`` over the blocks i within the catchment ``t_ij <= max``;
step 2 gives every block ``A_i = sum_j R_j w(t_ij)`` over the facilities within the catchment:
supply (capacity) per resident. Plain 2SFCA has ``w = 1``; the enhanced variant (E2SFCA)
decays ``w`` with the walking time (stepwise, Gaussian or a user function).

Why hand-written, not PySAL ``access``: ``access`` takes long pandas cost tables and merges
them per call (seconds for the pair counts a city gives); here the pairs already sit in the
sparse coverage matrix, so the two steps are two sparse products. The tests check these
numbers against ``access`` on its own hospital example and on random instances.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._errors import ConfigError, InputError

if TYPE_CHECKING:
    from .result import Result

__all__ = [
    "E2SFCA_STEPS_MIN",
    "capacities",
    "gaussian_weight",
    "step_weight",
    "supply_demand",
    "two_step_fca",
]

#: the stepwise weights of the original enhanced 2SFCA, scaled to a 15-minute catchment:
#: up to 5 min 1.0, to 10 min 0.68, to 15 min 0.22 (Luo & Qi 2009 used 10/20/30 min)
E2SFCA_STEPS_MIN: Mapping[float, float] = {5.0: 1.0, 10.0: 0.68, 15.0: 0.22}


def step_weight(steps: Mapping[float, float]) -> Callable[[np.ndarray], np.ndarray]:
    """A stepwise weight: ``steps[k]`` for the smallest cut-off ``k >= t``, 0 beyond all."""
    cuts = np.array(sorted(steps), dtype=np.float64)
    values = np.array([steps[k] for k in sorted(steps)], dtype=np.float64)
    if np.any(values < 0):
        raise ConfigError("step weights must be non-negative")

    def weight(t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(cuts, np.asarray(t, dtype=np.float64), side="left")
        out = np.zeros(k.shape)
        inside = k < cuts.shape[0]
        out[inside] = values[k[inside]]
        return out

    return weight


def gaussian_weight(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    """``exp(-t² / (2 σ²))`` (1 at t = 0; no normalising constant)."""
    if not sigma > 0:
        raise ConfigError(f"sigma must be positive, got {sigma!r}")

    def weight(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return np.exp(-(t * t) / (2.0 * sigma * sigma))

    return weight


def two_step_fca(
    supply_index: np.ndarray,
    demand_index: np.ndarray,
    cost: np.ndarray,
    supply: np.ndarray,
    demand: np.ndarray,
    *,
    max_cost: float,
    weight: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-step floating catchment scores from (supply, demand, cost) pairs.

    Parameters
    ----------
    supply_index, demand_index, cost
        One entry per reachable (facility, block) pair and its cost (e.g. walking minutes);
        pairs not listed are out of reach.
    supply
        Capacity per facility (``S_j``).
    demand
        Population per block (``P_i``).
    max_cost
        Catchment: pairs with ``cost <= max_cost`` count.
    weight
        Distance decay ``w(cost)`` (None: 1 everywhere, the plain 2SFCA).

    Returns
    -------
    access, ratio
        Supply per resident of every block (``A_i``; 0 where no facility is in reach), and
        every facility's supply-to-demand ratio (``R_j``; NaN where no resident is in reach).
    """
    s_idx = np.asarray(supply_index, dtype=np.int64)
    d_idx = np.asarray(demand_index, dtype=np.int64)
    c = np.asarray(cost, dtype=np.float64)
    s = np.asarray(supply, dtype=np.float64)
    p = np.asarray(demand, dtype=np.float64)
    if not (s_idx.shape == d_idx.shape == c.shape):
        raise ValueError("supply_index, demand_index and cost need the same length")
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise InputError("facility capacities must be finite and non-negative")
    if np.any(~np.isfinite(p)) or np.any(p < 0):
        raise InputError("block populations must be finite and non-negative")
    keep = c <= max_cost
    s_idx, d_idx, c = s_idx[keep], d_idx[keep], c[keep]
    w = np.ones(c.shape[0]) if weight is None else np.asarray(weight(c), dtype=np.float64)
    mat = sp.csr_matrix((w, (s_idx, d_idx)), shape=(s.shape[0], p.shape[0]))
    reached = mat @ p  # weighted demand in each facility's catchment
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reached > 0, s / reached, np.nan)
    access = mat.T @ np.nan_to_num(ratio, nan=0.0)
    return np.asarray(access, dtype=np.float64), ratio


def supply_demand(
    result: Result,
    category: str,
    *,
    capacity: str | float | None = None,
    decay: str | Callable[[np.ndarray], np.ndarray] | None = None,
    sigma_min: float | None = None,
) -> pd.DataFrame:
    """Supply per resident of every block for one category, on network walking times.

    Parameters
    ----------
    result
        A finished run.
    category
        A profile category; its threshold is the catchment, its speed converts metres.
    capacity
        A column of the facilities (e.g. ``"capacity"``, beds or places), a number for every
        facility, or None: the ``capacity`` column when present, else 1 per facility.
    decay
        None (plain 2SFCA), ``"steps"`` (:data:`E2SFCA_STEPS_MIN` scaled to the threshold),
        ``"gaussian"`` (``sigma_min``, default threshold / 2) or a function of minutes.

    Returns
    -------
    pandas.DataFrame
        ``block_id``, ``population``, ``supply_per_resident`` and ``supply_per_1000``;
        ``attrs["facility_ratio"]`` holds each facility's supply-to-demand ratio.
    """
    from .catchment import block_index, coverage_matrix
    from .snapping import Snap

    prof = result.profile
    if category not in prof.categories:
        raise ConfigError(f"unknown category {category!r}; the run has "
                          f"{', '.join(prof.categories)}")
    fac = result.facilities[result.facilities["category"] == category].reset_index(drop=True)
    cap = capacities(fac, capacity)
    threshold = prof.threshold_of(category)
    speed = prof.group_of(category).speed_m_per_min
    block_ids, ap_block = block_index(result)
    valid = ap_block >= 0
    matrix = coverage_matrix(result.network, Snap.from_columns(fac),
                             Snap.from_columns(result.access_points).subset(valid), ap_block[valid],
                             len(block_ids), limit_m=threshold * speed * (1 + 1e-12))
    coo = matrix.cover.tocoo()
    minutes = matrix.dist_m / speed  # aligned with the CSR data, which tocoo keeps in order
    weight = _decay(decay, threshold, sigma_min)
    pop = result.blocks["population"].to_numpy(dtype=np.float64)
    # a facility with several access points (a campus's entrances) is one supply, reached
    # from each block at its nearest access point
    which, ids = pd.factorize(fac["facility_id"].astype(str))
    f, b = which[coo.row], coo.col
    order = np.lexsort((minutes, b, f))
    f, b, minutes = f[order], b[order], minutes[order]
    nearest = np.r_[True, (f[1:] != f[:-1]) | (b[1:] != b[:-1])]
    acc, ratio = two_step_fca(f[nearest], b[nearest], minutes[nearest],
                              np.bincount(which, weights=cap, minlength=len(ids)), pop,
                              max_cost=threshold * (1 + 1e-12), weight=weight)
    out = pd.DataFrame({
        "block_id": block_ids,
        "population": pop,
        "supply_per_resident": acc,
        "supply_per_1000": acc * 1000.0,
    })
    out.attrs["facility_ratio"] = dict(zip(ids, ratio, strict=True))
    return out


def capacities(fac: pd.DataFrame, capacity: str | float | None) -> np.ndarray:
    """Capacity per facility: a column of ``fac`` (``None``: ``capacity`` when present),
    or one number for all; one-line errors name the facility and the column to fix."""
    # a facility's further access points (entrances of a campus) add no capacity of their own
    from .sources.facilities import is_first_access_point

    once = is_first_access_point(fac)
    if capacity is None:
        capacity = "capacity" if "capacity" in fac.columns else 1.0
    if isinstance(capacity, str):
        if capacity not in fac.columns:
            raise InputError(
                f"the facilities have no column {capacity!r} "
                f"(columns: {', '.join(map(str, fac.columns))}); add it to the facility file")
        values = pd.to_numeric(fac[capacity], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if bad.size:
            raise InputError(
                f"facility {fac['facility_id'].iloc[bad[0]]!r}: capacity "
                f"{fac[capacity].iloc[bad[0]]!r} is not a non-negative number; fix the "
                f"{capacity!r} column")
        return np.where(once, values, 0.0)
    value = float(capacity)
    if not value >= 0:
        raise ConfigError(f"capacity must be non-negative, got {capacity!r}")
    return np.where(once, value, 0.0)


def _decay(decay: Any, threshold: float, sigma_min: float | None
           ) -> Callable[[np.ndarray], np.ndarray] | None:
    if decay is None or decay == "none":
        return None
    if callable(decay):
        return decay  # type: ignore[no-any-return,unused-ignore]
    if decay == "steps":
        scale = threshold / 15.0
        return step_weight({k * scale: v for k, v in E2SFCA_STEPS_MIN.items()})
    if decay == "gaussian":
        return gaussian_weight(sigma_min if sigma_min is not None else threshold / 2.0)
    raise ConfigError(f"unknown decay {decay!r}; use none, steps or gaussian")
