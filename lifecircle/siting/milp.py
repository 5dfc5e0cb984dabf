"""Exact siting models as one mixed-integer program, solved with HiGHS.

The program is built once as sparse matrices (:class:`Program`) and handed to a solver:
``"scipy"`` (:func:`scipy.optimize.milp`, HiGHS inside SciPy: the default, no extra needed),
``"highspy"`` (HiGHS's own Python bindings) or ``"pulp"`` (PuLP with its HiGHS or CBC
backend); the last two come with the ``[siting]`` extra. Every solver is asked for a proven
optimum (relative MIP gap 0), so all give the same optimal value.

Variables: ``x_i`` (binary) opens candidate site ``i``. Without capacities ``y_j`` (0..1)
marks block ``j`` covered, with ``y_j <= sum x_i`` over the sites that reach it. With
capacities ``z_ij`` (0..1) is the share of block ``j`` site ``i`` serves, with ``z_ij <= x_i``,
``sum_i z_ij <= 1`` and ``sum_j w_j z_ij <= C_i x_i``; an existing facility with a capacity
enters as a site fixed open.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._errors import ConfigError

__all__ = ["EXACT_MAX_CANDIDATES", "EXACT_MAX_ENTRIES", "SOLVERS", "Program", "build", "solve"]

#: exact models refuse instances larger than this (candidates, matrix entries)
EXACT_MAX_CANDIDATES = 5_000
EXACT_MAX_ENTRIES = 1_000_000
SOLVERS = ("scipy", "highspy", "pulp")
#: weight of the walking distance in the assignment of existing capacities (a tie-break:
#: residents go to the nearest facility with room; far below one resident)
NEAR_EPS = 1e-6


@dataclass(frozen=True)
class Program:
    """``minimise c @ v`` subject to ``row_lb <= a @ v <= row_ub``, ``lb <= v <= ub``.

    The first ``len(site)`` columns are the sites' ``x`` (``site[k]`` is the matrix row of
    column ``k``); the rest are ``y`` per block (``demand``) or ``z`` per (site, block) pair
    (``pair_site``, ``demand``). ``weight`` is the residents a unit of each of those columns
    serves (``sum(weight * v[len(site):])`` is the population served).
    """

    c: np.ndarray
    a: sp.csr_matrix
    row_lb: np.ndarray
    row_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    site: np.ndarray
    pair_site: np.ndarray | None
    demand: np.ndarray
    weight: np.ndarray
    maximise: bool


@dataclass(frozen=True)
class Outcome:
    """A solver's answer: column values (None when it found none), status, gap, bound."""

    values: np.ndarray | None
    status: str
    gap: float | None
    bound: float | None


def build(
    cover: sp.csr_matrix,
    w: np.ndarray,
    base: np.ndarray,
    model_rows: np.ndarray,
    open_rows: np.ndarray,
    *,
    p: int | None,
    target: float | None,
    capacity: np.ndarray | None,
    dist: np.ndarray | None = None,
) -> Program:
    """The maximal-coverage (``p``) or set-covering (``target`` residents) program.

    Parameters
    ----------
    cover
        Sites × blocks coverage.
    w, base
        Residents per block; blocks already covered (left out of the program).
    model_rows
        Rows that take part (candidates and capacitated existing facilities).
    open_rows
        Of those, the rows fixed open (existing facilities); they do not count towards ``p``.
    capacity
        Residents each row can serve (``inf``: no limit); ``None`` for the model without.
    dist
        Walking metres of every stored entry of ``cover``; with capacities it breaks ties of
        the assignment towards the nearest site (``NEAR_EPS`` per metre and resident).
    """
    n_sites = cover.shape[0]
    if n_sites > EXACT_MAX_CANDIDATES or cover.nnz > EXACT_MAX_ENTRIES:
        raise ConfigError(
            f"the exact model is limited to {EXACT_MAX_CANDIDATES} candidates and "
            f"{EXACT_MAX_ENTRIES:,} candidate-block pairs; this instance has {n_sites} and "
            f"{cover.nnz:,}; use --method greedy or fewer candidates"
        )
    in_model = np.zeros(n_sites, dtype=bool)
    in_model[model_rows] = True
    open_dem = ~base & (w > 0)
    coo = cover.tocoo()
    useful = open_dem[coo.col] & in_model[coo.row]
    rows_u, cols_u = coo.row[useful], coo.col[useful]
    site = np.unique(rows_u)
    col_of = np.full(n_sites, -1, dtype=np.int64)
    col_of[site] = np.arange(site.shape[0])
    n_x = site.shape[0]
    is_open = np.isin(site, open_rows)
    x_lb = is_open.astype(np.float64)
    parts: list[sp.csr_matrix] = []
    row_lb: list[np.ndarray] = []
    row_ub: list[np.ndarray] = []
    if capacity is None:
        demand, dem_idx = np.unique(cols_u, return_inverse=True)
        n_v = demand.shape[0]
        weight = w[demand]
        # y_j - sum of x_i over the sites reaching j <= 0
        parts.append(sp.csr_matrix(
            (np.r_[-np.ones(rows_u.shape[0]), np.ones(n_v)],
             (np.r_[dem_idx, np.arange(n_v)], np.r_[col_of[rows_u], n_x + np.arange(n_v)])),
            shape=(n_v, n_x + n_v)))
        row_lb.append(np.full(n_v, -np.inf))
        row_ub.append(np.zeros(n_v))
        pair_site = None
        served_cost = -weight
    else:
        demand = cols_u
        n_v = demand.shape[0]
        weight = w[demand]
        k = np.arange(n_v)
        # z_ij - x_i <= 0
        parts.append(sp.csr_matrix(
            (np.r_[np.ones(n_v), -np.ones(n_v)], (np.r_[k, k], np.r_[n_x + k, col_of[rows_u]])),
            shape=(n_v, n_x + n_v)))
        row_lb.append(np.full(n_v, -np.inf))
        row_ub.append(np.zeros(n_v))
        # sum_i z_ij <= 1
        blocks, blk_idx = np.unique(cols_u, return_inverse=True)
        parts.append(sp.csr_matrix((np.ones(n_v), (blk_idx, n_x + k)),
                                   shape=(blocks.shape[0], n_x + n_v)))
        row_lb.append(np.full(blocks.shape[0], -np.inf))
        row_ub.append(np.ones(blocks.shape[0]))
        # sum_j w_j z_ij - C_i x_i <= 0 where C_i is finite
        cap = capacity[site]
        lim = np.flatnonzero(np.isfinite(cap))
        lim_row = np.full(n_x, -1, dtype=np.int64)
        lim_row[lim] = np.arange(lim.shape[0])
        pk = np.flatnonzero(lim_row[col_of[rows_u]] >= 0)
        parts.append(sp.csr_matrix(
            (np.r_[weight[pk], -cap[lim]],
             (np.r_[lim_row[col_of[rows_u[pk]]], np.arange(lim.shape[0])],
              np.r_[n_x + pk, lim])),
            shape=(lim.shape[0], n_x + n_v)))
        row_lb.append(np.full(lim.shape[0], -np.inf))
        row_ub.append(np.zeros(lim.shape[0]))
        pair_site = rows_u
        served_cost = -weight
        if dist is not None:
            near = dist[useful] / max(float(dist[useful].max(initial=0.0)), 1.0)
            served_cost = -weight * (1.0 - NEAR_EPS * near)
    if p is not None:
        c = np.r_[np.zeros(n_x), served_cost]
        parts.append(sp.csr_matrix(np.r_[(~is_open).astype(np.float64), np.zeros(n_v)][None, :]))
        row_lb.append(np.array([-np.inf]))
        row_ub.append(np.array([float(p)]))
    else:
        c = np.r_[(~is_open).astype(np.float64), np.zeros(n_v)]
        parts.append(sp.csr_matrix(np.r_[np.zeros(n_x), weight][None, :]))
        row_lb.append(np.array([float(target or 0.0)]))
        row_ub.append(np.array([np.inf]))
    return Program(
        c=c,
        a=sp.vstack(parts).tocsr(),
        row_lb=np.concatenate(row_lb),
        row_ub=np.concatenate(row_ub),
        lb=np.r_[x_lb, np.zeros(n_v)],
        ub=np.ones(n_x + n_v),
        integer=np.r_[np.ones(n_x), np.zeros(n_v)].astype(np.uint8),
        site=site,
        pair_site=pair_site,
        demand=demand,
        weight=weight,
        maximise=p is not None,
    )


def solve(prog: Program, *, solver: str = "scipy", time_limit_s: float | None = None,
          ) -> Outcome:
    """Solve ``prog`` to a proven optimum (or until ``time_limit_s``) with ``solver``."""
    if solver not in SOLVERS:
        raise ConfigError(f"unknown solver {solver!r}; use {', '.join(SOLVERS)}")
    if prog.c.shape[0] == 0:
        return Outcome(np.zeros(0), "optimal", 0.0, 0.0)
    if solver == "scipy":
        out = _solve_scipy(prog, time_limit_s)
    else:
        try:
            out = (_solve_highspy if solver == "highspy" else _solve_pulp)(prog, time_limit_s)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"solver {solver!r} needs {exc.name}: pip install 'lifecircle[siting]', "
                "or use the default solver 'scipy'") from None
    gap = out.gap
    if gap is not None and (not np.isfinite(gap) or gap < 1e-9):
        gap = 0.0 if np.isfinite(gap) else None
    bound = out.bound
    if bound is not None:
        bound = abs(bound) if np.isfinite(bound) else None
    return Outcome(out.values, out.status, gap, bound)


def _solve_scipy(prog: Program, time_limit_s: float | None) -> Outcome:
    from scipy.optimize import Bounds, LinearConstraint, milp

    options: dict[str, Any] = {"disp": False, "mip_rel_gap": 0.0}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    res = milp(prog.c, integrality=prog.integer, bounds=Bounds(prog.lb, prog.ub),
               constraints=LinearConstraint(prog.a, prog.row_lb, prog.row_ub), options=options)
    status = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(
        int(res.status), "error")
    gap = getattr(res, "mip_gap", None)
    bound = getattr(res, "mip_dual_bound", None)
    return Outcome(None if res.x is None else np.asarray(res.x), status,
                   None if gap is None else float(gap),
                   None if bound is None else float(bound))


def _solve_highspy(prog: Program, time_limit_s: float | None) -> Outcome:
    import highspy

    with _silent_stdout():  # the banner is printed when the Highs object is made
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    lp = highspy.HighsLp()
    lp.num_col_ = int(prog.c.shape[0])
    lp.num_row_ = int(prog.a.shape[0])
    lp.col_cost_ = prog.c
    lp.col_lower_ = prog.lb
    lp.col_upper_ = prog.ub
    lp.row_lower_ = prog.row_lb
    lp.row_upper_ = prog.row_ub
    csc = prog.a.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr
    lp.a_matrix_.index_ = csc.indices
    lp.a_matrix_.value_ = csc.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in prog.integer]
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus()).lower()
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value) if info.primal_solution_status else None
    return Outcome(values, "optimal" if status == "optimal" else status.replace(" ", "_"),
                   float(info.mip_gap), float(info.mip_dual_bound))


def _solve_pulp(prog: Program, time_limit_s: float | None) -> Outcome:
    import pulp

    lp = pulp.LpProblem("siting", pulp.LpMinimize)
    cat = ["Binary" if (i and lo == 0) else "Continuous"
           for i, lo in zip(prog.integer, prog.lb, strict=True)]
    v = [pulp.LpVariable(f"v{k}", lo, hi, cat=cat[k])
         for k, (lo, hi) in enumerate(zip(prog.lb.tolist(), prog.ub.tolist(), strict=True))]
    lp += pulp.LpAffineExpression([(v[k], float(c)) for k, c in enumerate(prog.c) if c])
    a = prog.a
    for r in range(a.shape[0]):
        lo, hi = a.indptr[r], a.indptr[r + 1]
        expr = pulp.LpAffineExpression(
            [(v[k], float(x)) for k, x in zip(a.indices[lo:hi], a.data[lo:hi], strict=True)])
        if np.isfinite(prog.row_ub[r]):
            lp += expr <= float(prog.row_ub[r])
        if np.isfinite(prog.row_lb[r]):
            lp += expr >= float(prog.row_lb[r])
    if "HiGHS" in pulp.listSolvers(onlyAvailable=True):
        engine: Any = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0)
    else:  # pragma: no cover - HiGHS ships with the siting extra
        engine = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=0.0)
    with _silent_stdout():
        lp.solve(engine)
    status = pulp.LpStatus[lp.status].lower().replace(" ", "_")
    gap = bound = None
    model = getattr(lp, "solverModel", None)
    if model is not None and hasattr(model, "getInfo"):
        info = model.getInfo()
        gap, bound = float(info.mip_gap), float(info.mip_dual_bound)
    values = np.array([x.value() if x.value() is not None else np.nan for x in v])
    return Outcome(None if np.isnan(values).any() else values, status, gap, bound)


@contextmanager
def _silent_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null for the duration (library logging stays silent).

    HiGHS prints its banner from C++ straight to the process's stdout when a model object
    is created, whatever ``msg=False`` says, so redirecting ``sys.stdout`` is not enough.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (some notebooks, tests)
        fd = 1
    sys.stdout.flush()
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)
