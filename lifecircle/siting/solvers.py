"""Siting models on a coverage matrix: maximal coverage (MCLP) and set covering (LSCP).

* :func:`max_coverage`: ``p`` new sites maximising the residents who newly gain coverage;
  lazy greedy (any size) or the exact program of :mod:`.milp` (HiGHS through SciPy by
  default) with its status and optimality gap; optional capacities for new sites and for
  existing facilities (a site serves at most its capacity in residents).
* :func:`set_cover`: the fewest new sites that bring coverage to a target share.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._errors import ConfigError, InputError
from ..catchment import CoverageMatrix
from . import milp

__all__ = ["METHODS", "Solution", "max_coverage", "set_cover"]

METHODS = ("greedy", "exact")


@dataclass(frozen=True)
class Solution:
    """The sites a model chose.

    ``new`` are the chosen non-fixed rows, in the order chosen (greedy) or by gain (exact);
    ``gain`` the residents each newly covers (in that order, marginal to the ones before;
    with capacities the residents each serves); ``covered`` the covered share per block
    (0..1; fractional only with capacities).
    """

    method: str
    fixed: np.ndarray
    new: np.ndarray
    gain: np.ndarray
    covered: np.ndarray
    population_before: float
    population_after: float
    status: str = "optimal"
    gap: float | None = 0.0
    bound: float | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    solver: str | None = None

    @property
    def selected(self) -> np.ndarray:
        """Fixed rows followed by the new ones."""
        return np.concatenate([self.fixed, self.new])

    @property
    def objective(self) -> float:
        """Residents newly covered by the new sites."""
        return self.population_after - self.population_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "solver": self.solver,
            "status": self.status,
            "optimality_gap": self.gap,
            "bound_population": None if self.bound is None else round(self.bound, 3),
            "new_sites": int(self.new.shape[0]),
            "population_covered_before": round(self.population_before, 3),
            "population_covered_after": round(self.population_after, 3),
            "population_newly_covered": round(self.objective, 3),
            "seconds": round(self.seconds, 4),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Instance:
    """A checked instance: matrix, distances, weights, fixed rows, capacities, baseline."""

    cover: sp.csr_matrix
    dist: np.ndarray | None
    w: np.ndarray
    fixed: np.ndarray
    base: np.ndarray  # blocks fully covered before (given, or by uncapacitated fixed rows)
    cap: np.ndarray | None  # residents per row (inf: no limit); None when none is limited
    served: np.ndarray  # share of each block existing capacitated facilities serve
    t0: float

    @property
    def before(self) -> float:
        return float((self.w * np.maximum(self.base, self.served)).sum())

    def solution(self, method: str, chosen: list[int], gains: list[float],
                 covered: np.ndarray, **kw: Any) -> Solution:
        return Solution(method=method, fixed=self.fixed, new=np.asarray(chosen, dtype=np.int64),
                        gain=np.asarray(gains, dtype=np.float64), covered=covered,
                        population_before=self.before,
                        population_after=float((self.w * covered).sum()),
                        seconds=time.perf_counter() - self.t0, **kw)


def _capacity_of(value: float | np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy() \
        if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{what} needs one value per row ({n}), got shape {arr.shape}")
    if np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ConfigError(f"{what} must be non-negative numbers, got {value!r}")
    return arr


def _prepare(
    cover: sp.csr_matrix | CoverageMatrix,
    weight: np.ndarray,
    covered: np.ndarray | None,
    fixed: Iterable[int] | None,
    capacity: float | None = None,
    fixed_capacity: float | np.ndarray | None = None,
) -> _Instance:
    t0 = time.perf_counter()
    dist = None
    if isinstance(cover, CoverageMatrix):
        dist = cover.dist_m
        cover = cover.cover
    cover = sp.csr_matrix(cover)
    n_sites, n_dem = cover.shape
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (n_dem,):
        raise ValueError(f"weight needs one value per column ({n_dem}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("block populations must be finite and non-negative")
    fixed_l = [int(i) for i in (fixed if fixed is not None else [])]
    fixed_a = np.asarray(fixed_l, dtype=np.int64)
    if fixed_a.size and (fixed_a.min() < 0 or fixed_a.max() >= n_sites):
        raise ValueError(f"fixed rows must lie in [0, {n_sites})")
    if np.unique(fixed_a).shape[0] != fixed_a.shape[0]:
        raise ValueError("fixed rows must be distinct")
    if capacity is not None and not capacity > 0:
        raise ConfigError(f"capacity must be positive, got {capacity!r}")
    fcap = _capacity_of(fixed_capacity, fixed_a.shape[0], "existing facilities' capacity")
    base = np.zeros(n_dem, dtype=bool) if covered is None else np.asarray(covered, bool).copy()
    if base.shape != (n_dem,):
        raise ValueError(f"covered needs one flag per column ({n_dem})")
    cap = None
    if capacity is not None or fcap is not None:
        cap = np.full(n_sites, np.inf if capacity is None else float(capacity))
        cap[fixed_a] = np.inf if fcap is None else fcap
    if fixed_a.size and fcap is None:
        base[np.unique(cover[fixed_a].indices)] = True
    served = np.zeros(n_dem)
    order = np.argsort(fixed_a, kind="stable")
    inst = _Instance(cover, dist, w, fixed_a[order], base, cap, served, t0)
    if fcap is not None and fixed_a.size:
        served[:] = _existing_service(inst)
    return inst


def _existing_service(inst: _Instance) -> np.ndarray:
    """Share of each block the existing capacitated facilities serve at best (an LP).

    Ties go to the nearest facility with room, so the assignment is the one residents
    would choose; solved with SciPy's HiGHS whatever the siting solver.
    """
    prog = milp.build(inst.cover, inst.w, inst.base, inst.fixed, inst.fixed, p=0, target=None,
                      capacity=inst.cap, dist=inst.dist)
    out = milp.solve(prog, solver="scipy")
    if out.values is None:  # pragma: no cover - an LP with x fixed open is always feasible
        raise ConfigError(f"the assignment of existing capacities failed ({out.status})")
    return _shares(prog, out.values, inst.w.shape[0])


def _shares(prog: milp.Program, values: np.ndarray, n_dem: int) -> np.ndarray:
    """Share of each block served, from a capacitated program's ``z`` values."""
    z = np.clip(values[prog.site.shape[0]:], 0.0, 1.0)
    return np.minimum(np.bincount(prog.demand, weights=z, minlength=n_dem), 1.0)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown siting method {method!r}; use greedy or exact")


def _serve(cover: sp.csr_matrix, dist: np.ndarray | None, i: int, residual: np.ndarray,
           capacity: float) -> float:
    """Site ``i`` serves its nearest blocks first until ``capacity`` is used up.

    Lowers ``residual`` (unserved residents per block) in place; returns the residents served.
    """
    cols = cover.indices[cover.indptr[i]:cover.indptr[i + 1]]
    if not np.isfinite(capacity):
        total = float(residual[cols].sum())
        residual[cols] = 0.0
        return total
    d = dist[cover.indptr[i]:cover.indptr[i + 1]] if dist is not None else np.zeros(cols.size)
    left = capacity
    for j in cols[np.argsort(d, kind="stable")]:
        take = min(left, float(residual[j]))
        residual[j] -= take
        left -= take
        if left <= 0:
            break
    return capacity - left


def _greedy(inst: _Instance, *, p: int | None,
            target: float | None) -> tuple[list[int], list[float], np.ndarray]:
    """Lazy greedy (CELF): pop the best stale bound, refresh it, keep it if it stays best.

    Gains only fall as coverage grows (submodularity; with capacities ``min(C, residual)``
    too), so a refreshed gain that still tops every other bound is the true best: the picks
    equal plain greedy's, ties going to the lowest row. Existing capacitated facilities keep
    the residents :func:`_existing_service` gave them.
    """
    cover, w = inst.cover, inst.w
    residual = np.where(inst.base, 0.0, w * (1.0 - inst.served))
    indptr, indices = cover.indptr, cover.indices
    cap = np.full(cover.shape[0], np.inf) if inst.cap is None else inst.cap
    gains0 = np.minimum(cover @ residual, cap)
    is_fixed = np.zeros(cover.shape[0], dtype=bool)
    is_fixed[inst.fixed] = True
    heap = [(-float(g), int(i)) for i, g in enumerate(gains0) if g > 0 and not is_fixed[i]]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    total = inst.before
    while heap and (p is None or len(chosen) < p) and (target is None or total < target):
        _, i = heapq.heappop(heap)
        g = min(float(residual[indices[indptr[i]:indptr[i + 1]]].sum()), cap[i])
        if g <= 0:
            continue
        if heap and (-g, i) > heap[0]:
            heapq.heappush(heap, (-g, i))
            continue
        chosen.append(i)
        gains.append(g)
        total += g
        _serve(cover, inst.dist, i, residual, cap[i])
    covered = np.zeros(w.shape[0])
    pos_w = w > 0
    covered[pos_w] = 1.0 - residual[pos_w] / w[pos_w]
    if chosen and inst.cap is None:
        covered[np.unique(cover[np.asarray(chosen)].indices)] = 1.0  # empty blocks too
    covered[inst.base] = 1.0
    return chosen, gains, covered


def _exact(inst: _Instance, *, p: int | None, target: float | None, solver: str,
           time_limit_s: float | None) -> Solution:
    """The exact program for ``p`` sites or a ``target``, with the sites ordered by gain."""
    cover, w = inst.cover, inst.w
    is_fixed = np.zeros(cover.shape[0], dtype=bool)
    is_fixed[inst.fixed] = True
    capped_fixed = inst.fixed if inst.cap is not None and np.isfinite(
        inst.cap[inst.fixed]).any() else np.zeros(0, np.int64)
    model_rows = np.r_[np.flatnonzero(~is_fixed), capped_fixed]
    prog = milp.build(cover, w, inst.base, model_rows, capped_fixed, p=p,
                      target=None if target is None else target - float(w[inst.base].sum()),
                      capacity=inst.cap)
    out = milp.solve(prog, solver=solver, time_limit_s=time_limit_s)
    if out.values is None:
        raise ConfigError(
            f"the {solver} solver stopped ({out.status}) before finding a solution; raise "
            "--time-limit-s or use --method greedy")
    x = out.values[:prog.site.shape[0]]
    chosen = [int(i) for i in prog.site[(x > 0.5) & ~is_fixed[prog.site]]]
    cov = inst.base.astype(np.float64)
    if inst.cap is None:
        # y may sit below 1 where the target is already met: coverage follows the sites
        if chosen:
            cov[np.unique(cover[np.asarray(chosen)].indices)] = 1.0
        order, gains = _marginal_order(inst, chosen)
    else:
        cov = np.maximum(cov, _shares(prog, out.values, w.shape[0]))
        assert prog.pair_site is not None
        z = np.clip(out.values[prog.site.shape[0]:], 0.0, 1.0) * prog.weight
        per_site = np.bincount(prog.pair_site, weights=z, minlength=cover.shape[0])
        order = sorted(chosen, key=lambda i: (-per_site[i], i))
        gains = [float(per_site[i]) for i in order]
    bound = None if out.bound is None or p is None else out.bound + float(w[inst.base].sum())
    return inst.solution("exact", order, gains, cov, status=out.status, gap=out.gap,
                         bound=bound, solver=solver)


def _marginal_order(inst: _Instance, chosen: list[int]) -> tuple[list[int], list[float]]:
    """Order chosen sites by marginal gain (largest first), as greedy would rank them."""
    cover = inst.cover
    residual = np.where(inst.base, 0.0, inst.w)
    left = list(chosen)
    order: list[int] = []
    gains: list[float] = []
    while left:
        g = [float(residual[cover.indices[cover.indptr[i]:cover.indptr[i + 1]]].sum())
             for i in left]
        k = int(np.argmax(g))
        if g[k] <= 0:
            break  # the rest add nothing (a free slot the solver filled)
        i = left.pop(k)
        order.append(i)
        gains.append(g[k])
        residual[cover.indices[cover.indptr[i]:cover.indptr[i + 1]]] = 0.0
    return order, gains


def max_coverage(
    cover: sp.csr_matrix | CoverageMatrix,
    weight: np.ndarray,
    *,
    p: int,
    covered: np.ndarray | None = None,
    fixed: Iterable[int] | None = None,
    method: str = "greedy",
    capacity: float | None = None,
    fixed_capacity: float | np.ndarray | None = None,
    solver: str = "scipy",
    time_limit_s: float | None = None,
) -> Solution:
    """``p`` new sites (rows) that newly cover the most weight (residents).

    Parameters
    ----------
    cover
        Sites × demand coverage (a :class:`CoverageMatrix`, or any sparse 0/1 matrix).
    weight
        Weight (population) per demand column.
    p
        Number of new sites.
    covered
        Demand already covered before siting (by facilities not in the matrix).
    fixed
        Rows always in the solution (existing facilities); what they cover counts as covered.
    method
        ``"greedy"`` (lazy greedy, any size, within 1 - 1/e of the optimum) or ``"exact"``
        (the mixed-integer program of :mod:`lifecircle.siting.milp`; status and optimality
        gap reported).
    capacity
        A new site serves at most this many residents (nearest blocks first in greedy;
        a capacitated assignment in the exact model).
    fixed_capacity
        Residents each fixed row can serve (one number, or one per row of ``fixed`` in its
        order). Existing facilities then serve the residents an optimal assignment gives
        them (ties to the nearest), and only the rest counts as covered before; the exact
        model may reassign them once new sites open.
    solver
        Exact solver: ``"scipy"`` (default, HiGHS in SciPy), ``"highspy"`` or ``"pulp"``.
    time_limit_s
        Time limit of the exact solver; the gap then says how far from optimal it stopped.

    Returns
    -------
    Solution
    """
    _check_method(method)
    if int(p) != p or p < 0:
        raise ConfigError(f"the number of new sites must be a whole number >= 0, got {p!r}")
    inst = _prepare(cover, weight, covered, fixed, capacity, fixed_capacity)
    if method == "greedy":
        chosen, gains, cov = _greedy(inst, p=int(p), target=None)
        sol = inst.solution("greedy", chosen, gains, cov, status="heuristic", gap=None)
    else:
        sol = _exact(inst, p=int(p), target=None, solver=solver, time_limit_s=time_limit_s)
    if sol.new.shape[0] < p:
        sol.notes.append(f"only {sol.new.shape[0]} of the {p} new sites add coverage")
    if inst.cap is not None and fixed_capacity is not None and sol.gain.sum() > sol.objective:
        sol.notes.append("existing facilities hand some residents to the new sites: the "
                         "sites' gains add up to more than the coverage gained")
    return sol


def set_cover(
    cover: sp.csr_matrix | CoverageMatrix,
    weight: np.ndarray,
    *,
    target_share: float = 1.0,
    covered: np.ndarray | None = None,
    fixed: Iterable[int] | None = None,
    method: str = "greedy",
    solver: str = "scipy",
    time_limit_s: float | None = None,
) -> Solution:
    """The fewest new sites that bring covered weight to ``target_share`` of the total.

    Raises :class:`ConfigError` when every candidate together cannot reach the target (the
    message gives the share they can reach). ``solver`` and ``time_limit_s`` as in
    :func:`max_coverage`.
    """
    _check_method(method)
    if not 0 < target_share <= 1:
        raise ConfigError(f"target share must be in (0, 1], got {target_share!r}")
    inst = _prepare(cover, weight, covered, fixed)
    w = inst.w
    total = float(w.sum())
    target = target_share * total
    reach = inst.base.copy()
    reach[np.unique(inst.cover.indices)] = True
    best = float(w[reach].sum())
    if best < target - 1e-9 * max(total, 1.0):
        raise ConfigError(
            f"all candidates together cover {best / total:.1%} of the population, below the "
            f"target {target_share:.1%}; add candidates or lower the target"
        )
    target -= 1e-9 * max(total, 1.0)
    if method == "greedy":
        chosen, gains, cov = _greedy(inst, p=None, target=target)
        return inst.solution("greedy", chosen, gains, cov, status="heuristic", gap=None)
    return _exact(inst, p=None, target=target, solver=solver, time_limit_s=time_limit_s)
