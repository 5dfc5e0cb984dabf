"""Facility siting: candidate sites, coverage matrices, maximal coverage and set covering.

Demand is the residential blocks, weighted by population; a block is covered by a site when
any of its access points is within the category's threshold of walking from it (off-network
legs included, exactly as in the core engine). The coverage matrix has one row per candidate
(existing facilities first, as fixed rows) and one column per block.

The coverage matrix is built with :class:`lifecircle._kernels.BoundedSearch` (one bounded
search per site that touches only what it reaches), then the exact times of the access points
on the reached edges. The models:

* :func:`max_coverage`: ``p`` new sites maximising the residents who newly gain coverage;
  greedy with lazy evaluation (any size) or an exact MILP (pulp + HiGHS) with its status and
  optimality gap; optional capacities (a new site serves at most ``capacity`` residents).
* :func:`set_cover`: the fewest new sites that bring coverage to a target share.
* :func:`site`: both on top of a :class:`lifecircle.pipeline.Result`, with a before / after
  scenario (:func:`scenario`) recomputed by the core engine.
"""

from __future__ import annotations

import heapq
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from . import columns as col
from ._errors import ConfigError, InputError
from ._kernels import BoundedSearch
from .network import WalkNetwork
from .routing import seed_arcs
from .snapping import Snap, snap_points
from .sources.osm import VACANT_LANDUSE

if TYPE_CHECKING:
    from .pipeline import Result
    from .sources.osm import OSMData

__all__ = [
    "CANDIDATE_BUILDINGS",
    "CANDIDATE_LANDUSE",
    "CoverageMatrix",
    "Siting",
    "Solution",
    "candidates_from_osm",
    "coverage_matrix",
    "max_coverage",
    "network_sample",
    "read_candidates",
    "run_site",
    "scenario",
    "scenario_layer",
    "set_cover",
    "site",
    "siting_markdown",
]

#: building values that can host a new community facility (vacant, public or commercial)
CANDIDATE_BUILDINGS = frozenset(
    {"commercial", "retail", "office", "public", "civic", "community_centre", "vacant",
     "construction", "warehouse", "industrial"}
)
#: land-use values of vacant or redevelopable land
CANDIDATE_LANDUSE = VACANT_LANDUSE
#: exact models refuse instances larger than this (candidates, matrix entries)
EXACT_MAX_CANDIDATES = 5_000
EXACT_MAX_ENTRIES = 1_000_000
METHODS = ("greedy", "exact")


# ---------------------------------------------------------------------------------------------
# candidates


def _candidate_frame(ids: Sequence[str], source: Sequence[str], geometry: Any,
                     crs: Any, names: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    n = len(ids)
    return gpd.GeoDataFrame(
        {
            "candidate_id": np.asarray(ids, dtype=object),
            "name": np.asarray(names if names is not None else [""] * n, dtype=object),
            "source": np.asarray(source, dtype=object),
        },
        geometry=geometry,
        crs=crs,
    )


def network_sample(net: WalkNetwork, *, spacing_m: float = 100.0) -> gpd.GeoDataFrame:
    """Candidate points every ``spacing_m`` along the walking network (edge midpoints first).

    Each edge of length L gets ``max(1, round(L / spacing_m))`` points at equal fractions
    ``(k + 0.5) / n`` of its length, so short edges get their midpoint and no point sits on a
    node shared by several edges. Points are in ``net.crs``.
    """
    if not spacing_m > 0:
        raise ConfigError(f"candidate spacing must be positive, got {spacing_m!r} m")
    length = net.edge_length_m
    count = np.maximum(1, np.round(length / spacing_m)).astype(np.int64)
    edge = np.repeat(np.arange(net.n_edges), count)
    start = np.repeat(np.cumsum(count) - count, count)
    k = np.arange(edge.shape[0]) - start
    frac = (k + 0.5) / count[edge]
    pts = shapely.line_interpolate_point(net.geometries[edge], frac, normalized=True)
    ids = [f"net-{i}" for i in range(edge.shape[0])]
    return _candidate_frame(ids, ["network_sample"] * len(ids), pts, net.crs)


def candidates_from_osm(data: OSMData, crs: Any) -> gpd.GeoDataFrame:
    """Candidate sites from OSM: buildings of suitable type, vacant land, surface parking.

    Buildings whose ``building`` value is in :data:`CANDIDATE_BUILDINGS`; areas tagged
    ``landuse`` in :data:`CANDIDATE_LANDUSE` (``OSMData.vacant``, read from local files) and
    surface parking (``amenity=parking`` with ``parking`` absent or ``surface``). Each becomes
    its representative point, projected to ``crs``.
    """
    ids: list[str] = []
    source: list[str] = []
    names: list[str] = []
    geoms: list[Any] = []
    for osm_type, osm_id, value, _levels, blob in data.buildings:
        if value in CANDIDATE_BUILDINGS:
            ids.append(f"{osm_type}/{osm_id}")
            source.append(f"building={value}")
            names.append("")
            geoms.append(shapely.from_wkb(blob))
    for osm_type, osm_id, landuse, name, blob in data.vacant:
        ids.append(f"{osm_type}/{osm_id}")
        source.append(f"landuse={landuse}")
        names.append(name)
        geoms.append(shapely.from_wkb(blob))
    for osm_type, osm_id, lon, lat, tags, area in data.pois:
        if tags.get("amenity") != "parking" or tags.get("parking", "surface") != "surface":
            continue
        ids.append(f"{osm_type}/{osm_id}")
        source.append("amenity=parking")
        names.append(tags.get("name", ""))
        geoms.append(shapely.from_wkb(area) if area is not None else shapely.Point(lon, lat))
    frame = _candidate_frame(ids, source, geoms, 4326, names).drop_duplicates("candidate_id")
    frame = frame.to_crs(crs)
    frame["geometry"] = frame.geometry.representative_point()
    return frame.reset_index(drop=True)


def read_candidates(
    path: str | Path,
    *,
    crs: str | None = None,
    id_col: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from a user file (CSV with coordinates, or any vector file).

    ``id_col`` names the ids (default ``id`` or ``candidate_id`` when present, else the row
    number); ``crs`` declares a CSV's coordinates (``gcj02``/``bd09`` are converted).
    Returns WGS 84 points with ``candidate_id``, ``name`` and ``source``.
    """
    from .sources.tables import read_points, unique_ids

    path = Path(path)
    gdf = read_points(path, crs=crs, x_col=x_col, y_col=y_col, what="candidate")
    if id_col is None:
        id_col = next((c for c in ("candidate_id", "id") if c in gdf.columns), None)
    if id_col is not None and id_col not in gdf.columns:
        raise InputError(
            f"{path}: no id column {id_col!r} (columns: {', '.join(map(str, gdf.columns))}); "
            "pass the right column name"
        )
    ids = (unique_ids(gdf, id_col, path, "candidate") if id_col is not None
           else np.array([f"row-{i + 1}" for i in range(len(gdf))], dtype=object))
    names = gdf["name"].fillna("").astype(str).tolist() if "name" in gdf.columns else None
    return _candidate_frame([str(i) for i in ids], ["user"] * len(gdf),
                            gdf.geometry.values, gdf.crs, names)


# ---------------------------------------------------------------------------------------------
# coverage matrix


@dataclass(frozen=True)
class CoverageMatrix:
    """Which blocks each site covers, and at what walking distance.

    ``cover`` is a CSR matrix (sites × blocks) of ones where a block is within ``limit_m``;
    ``dist_m`` holds the walking metres of each stored entry, aligned with ``cover.data``
    (the minimum over the block's access points, off-network legs included).
    """

    cover: sp.csr_matrix
    dist_m: np.ndarray
    limit_m: float
    seconds: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.cover.shape[0]), int(self.cover.shape[1]))

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Blocks covered by site ``i`` and their distances."""
        lo, hi = self.cover.indptr[i], self.cover.indptr[i + 1]
        return self.cover.indices[lo:hi], self.dist_m[lo:hi]


def _point_incidence(net: WalkNetwork, points: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every node, the points on its edges and the metres from the node to each point.

    Returns ``(node_ptr, point, offset_m)``: node ``n`` reaches ``point[node_ptr[n]:...]``
    after ``offset_m`` more metres (along the edge plus the point's off-network leg).
    """
    point, node, dist = seed_arcs(net, points)
    order = np.argsort(node, kind="stable")
    node_ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(node[order], minlength=net.n_nodes), out=node_ptr[1:])
    return node_ptr, point[order], dist[order]


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every position ``lo[k] <= pos < hi[k]``, with the ``k`` it came from."""
    reps = hi - lo
    owner = np.repeat(np.arange(lo.shape[0]), reps)
    pos = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps) + lo[owner]
    return owner, pos


def _direct_pairs(
    sites: Snap, points: Snap, p_ok: np.ndarray, p_edge: np.ndarray, point_block: np.ndarray,
    start: int, stop: int, limit_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site ptr, block, metres) of sites ``start:stop`` to points on the same edge."""
    n = stop - start
    idx = np.arange(start, stop)[sites.ok[start:stop]]
    if idx.size == 0 or p_ok.size == 0:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, np.int64), np.empty(0)
    e = sites.edge[idx]
    owner, pos = _expand(np.searchsorted(p_edge, e, side="left"),
                         np.searchsorted(p_edge, e, side="right"))
    q = p_ok[pos]
    srow = idx[owner]
    d = sites.dist_m[srow] + np.abs(sites.along_m[srow] - points.along_m[q]) + points.dist_m[q]
    near = d <= limit_m
    srow, q, d = srow[near], q[near], d[near]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(srow - start, minlength=n), out=ptr[1:])
    return ptr, point_block[q], d  # srow is ascending: _expand keeps the order of idx


def _join_blocks(
    ptr: np.ndarray, nodes: np.ndarray, nd: np.ndarray, node_ptr: np.ndarray,
    inc_block: np.ndarray, inc_off: np.ndarray, d_ptr: np.ndarray, d_block: np.ndarray,
    d_dist: np.ndarray, limit: float, best: np.ndarray, seen: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per site: the nearest access point of every block within ``limit`` (numba kernel).

    For each site's reached nodes, every access point on an edge of the node gets the node's
    distance plus its offset; the minimum per block is kept in ``best`` (all ``inf`` on entry
    and on return; only touched entries are reset). Rows come out with ascending blocks.
    Hand-written because the numpy form (expand every pair, then lexsort) costs ten times
    more on dense instances.
    """
    n_src = ptr.shape[0] - 1
    out_ptr = np.zeros(n_src + 1, dtype=np.int64)
    cap = max(16, nodes.shape[0])
    out_col = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.float64)
    n_out = 0
    for s in range(n_src):
        n_seen = 0
        for k in range(ptr[s], ptr[s + 1]):
            v = nodes[k]
            d = nd[k]
            for q in range(node_ptr[v], node_ptr[v + 1]):
                t = d + inc_off[q]
                if t <= limit:
                    b = inc_block[q]
                    if best[b] == np.inf:
                        seen[n_seen] = b
                        n_seen += 1
                    if t < best[b]:
                        best[b] = t
        for k in range(d_ptr[s], d_ptr[s + 1]):
            b = d_block[k]
            t = d_dist[k]
            if best[b] == np.inf:
                seen[n_seen] = b
                n_seen += 1
            if t < best[b]:
                best[b] = t
        if n_out + n_seen > cap:
            cap = max(2 * cap, n_out + n_seen)
            grown_col = np.empty(cap, dtype=np.int64)
            grown_d = np.empty(cap, dtype=np.float64)
            grown_col[:n_out] = out_col[:n_out]
            grown_d[:n_out] = out_d[:n_out]
            out_col = grown_col
            out_d = grown_d
        cols = np.sort(seen[:n_seen])
        for j in range(n_seen):
            b = cols[j]
            out_col[n_out] = b
            out_d[n_out] = best[b]
            best[b] = np.inf
            n_out += 1
        out_ptr[s + 1] = n_out
    return out_ptr, out_col[:n_out].copy(), out_d[:n_out].copy()


@cache
def _join_kernel() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_join_blocks` compiled by numba (or loaded from its cache) on first use."""
    from numba import njit

    kernel: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] = njit(
        cache=True, nogil=True)(_join_blocks)
    return kernel


def coverage_matrix(
    net: WalkNetwork,
    sites: Snap,
    points: Snap,
    point_block: np.ndarray,
    n_blocks: int,
    *,
    limit_m: float,
    batch: int = 2000,
    search: BoundedSearch | None = None,
) -> CoverageMatrix:
    """Blocks within ``limit_m`` walking metres of each snapped site, as a sparse matrix.

    Parameters
    ----------
    net
        The walking network.
    sites
        Snapped sites (rows); an unsnapped site covers nothing.
    points
        Snapped block access points.
    point_block
        Block index (0 .. ``n_blocks`` - 1) of every access point.
    n_blocks
        Number of blocks (columns).
    limit_m
        Walking budget in metres, both off-network legs included.
    batch
        Sites searched per kernel call (bounds the memory of the intermediate pairs).
    search
        A prepared :class:`BoundedSearch` over ``net.search_csr`` to reuse.

    Returns
    -------
    CoverageMatrix
    """
    t0 = time.perf_counter()
    point_block = np.asarray(point_block, dtype=np.int64)
    if point_block.shape[0] != len(points):
        raise ValueError("point_block needs one block index per access point")
    if net.directed:
        # the access-point offsets and same-edge walks below are flat; a sloped network
        # needs them per direction, which siting does not do yet
        raise ConfigError(
            "siting on a sloped network (--dem) is not supported yet; run lifecircle site "
            "without --dem"
        )
    search = search if search is not None else BoundedSearch.from_csr(net.search_csr)
    # an access point with near-tied streets is at each of its snaps (snapping.Snap.alt)
    points, p_owner = points.candidates()
    point_block = point_block[p_owner]
    node_ptr, inc_point, inc_off = _point_incidence(net, points)
    # sites and points on the same edge: the direct walk along it
    p_ok = np.flatnonzero(points.ok)
    p_ok = p_ok[np.argsort(points.edge[p_ok], kind="stable")]
    p_edge = points.edge[p_ok]
    s_point, s_node, s_dist = seed_arcs(net, sites)
    n_sites = len(sites)
    seed_ptr_all = np.zeros(n_sites + 1, dtype=np.int64)
    np.cumsum(np.bincount(s_point, minlength=n_sites), out=seed_ptr_all[1:])
    order = np.argsort(s_point, kind="stable")
    s_node, s_dist = s_node[order], s_dist[order]

    inc_block = point_block[inc_point]
    kernel = _join_kernel()
    best = np.full(int(n_blocks), np.inf)
    seen = np.empty(int(n_blocks), dtype=np.int64)
    ptr_parts: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    col_parts: list[np.ndarray] = []
    dist_parts: list[np.ndarray] = []
    offset = 0
    for start in range(0, n_sites, batch):
        stop = min(n_sites, start + batch)
        lo, hi = seed_ptr_all[start], seed_ptr_all[stop]
        ptr, nodes, nd = search.run_many(
            seed_ptr_all[start:stop + 1] - lo, s_node[lo:hi], s_dist[lo:hi], limit_m
        )
        # sites and points on the same edge also walk directly along it
        d_ptr, d_block, d_dist = _direct_pairs(sites, points, p_ok, p_edge, point_block,
                                               start, stop, limit_m)
        out_ptr, out_col, out_d = kernel(
            ptr, nodes, nd, node_ptr, inc_block, inc_off, d_ptr, d_block, d_dist,
            float(limit_m), best, seen)
        ptr_parts.append(out_ptr[1:] + offset)
        offset += int(out_ptr[-1])
        col_parts.append(out_col)
        dist_parts.append(out_d)
    indptr = np.concatenate(ptr_parts)
    c_all = np.concatenate(col_parts) if col_parts else np.empty(0, np.int64)
    d_all = np.concatenate(dist_parts) if dist_parts else np.empty(0)
    cover = sp.csr_matrix(
        (np.ones(c_all.shape[0]), c_all, indptr), shape=(n_sites, int(n_blocks))
    )
    return CoverageMatrix(cover, d_all, float(limit_m), time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# models


@dataclass(frozen=True)
class Solution:
    """The sites a model chose.

    ``new`` are the chosen non-fixed rows, in the order chosen (greedy) or by gain (exact);
    ``gain`` the residents each newly covers (in that order, marginal to the ones before);
    ``covered`` the covered share per block (0..1; fractional only with capacities).
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


def _prepare(
    cover: sp.csr_matrix | CoverageMatrix,
    weight: np.ndarray,
    covered: np.ndarray | None,
    fixed: Iterable[int] | None,
) -> tuple[sp.csr_matrix, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
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
    fixed_a = np.unique(np.asarray(list(fixed) if fixed is not None else [], dtype=np.int64))
    if fixed_a.size and (fixed_a.min() < 0 or fixed_a.max() >= n_sites):
        raise ValueError(f"fixed rows must lie in [0, {n_sites})")
    base = np.zeros(n_dem, dtype=bool) if covered is None else np.asarray(covered, bool).copy()
    if base.shape != (n_dem,):
        raise ValueError(f"covered needs one flag per column ({n_dem})")
    if fixed_a.size:
        base[np.unique(cover[fixed_a].indices)] = True
    return cover, dist, w, fixed_a, base


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown siting method {method!r}; use greedy or exact")


def _serve_nearest(cover: sp.csr_matrix, dist: np.ndarray | None, i: int,
                   residual: np.ndarray, capacity: float) -> float:
    """Site ``i`` serves its nearest blocks first until ``capacity`` is used up.

    Lowers ``residual`` (unserved residents per block) in place; returns the residents served.
    """
    lo, hi = cover.indptr[i], cover.indptr[i + 1]
    cols = cover.indices[lo:hi]
    d = dist[lo:hi] if dist is not None else np.zeros(cols.shape[0])
    left = capacity
    for j in cols[np.argsort(d, kind="stable")]:
        take = min(left, float(residual[j]))
        residual[j] -= take
        left -= take
        if left <= 0:
            break
    return capacity - left


def _greedy(
    cover: sp.csr_matrix,
    dist: np.ndarray | None,
    w: np.ndarray,
    fixed: np.ndarray,
    base: np.ndarray,
    *,
    p: int | None,
    target: float | None,
    capacity: float | None,
) -> tuple[list[int], list[float], np.ndarray]:
    """Lazy greedy (CELF): pop the best stale bound, refresh it, keep it if it stays best.

    Gains only fall as coverage grows (submodularity; with capacities ``min(C, residual)``
    too), so a refreshed gain that still tops every other bound is the true best: the picks
    equal plain greedy's, ties going to the lowest row.
    """
    residual = np.where(base, 0.0, w)
    indptr, indices = cover.indptr, cover.indices
    cap = np.inf if capacity is None else float(capacity)
    gains0 = np.minimum(cover @ residual, cap)
    is_fixed = np.zeros(cover.shape[0], dtype=bool)
    is_fixed[fixed] = True
    heap = [(-float(g), int(i)) for i, g in enumerate(gains0) if g > 0 and not is_fixed[i]]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    total = float(w[base].sum())
    while heap and (p is None or len(chosen) < p) and (target is None or total < target):
        _, i = heapq.heappop(heap)
        cols = indices[indptr[i]:indptr[i + 1]]
        g = min(float(residual[cols].sum()), cap)
        if g <= 0:
            continue
        if heap and (-g, i) > heap[0]:
            heapq.heappush(heap, (-g, i))
            continue
        chosen.append(i)
        gains.append(g)
        total += g
        if capacity is None:
            residual[cols] = 0.0
        else:
            _serve_nearest(cover, dist, i, residual, cap)
    covered = np.zeros(w.shape[0])
    pos_w = w > 0
    covered[pos_w] = 1.0 - residual[pos_w] / w[pos_w]
    if chosen and capacity is None:
        covered[np.unique(cover[np.asarray(chosen)].indices)] = 1.0  # empty blocks too
    covered[base] = 1.0
    return chosen, gains, covered


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


def _solve_milp(
    cover: sp.csr_matrix,
    w: np.ndarray,
    fixed: np.ndarray,
    base: np.ndarray,
    *,
    p: int | None,
    target: float | None,
    capacity: float | None,
    time_limit_s: float | None,
) -> tuple[list[int], np.ndarray, str, float | None, float | None]:
    """Maximal coverage (``p`` given) or set covering (``target`` given) with pulp and HiGHS."""
    import pulp

    n_sites = cover.shape[0]
    if n_sites > EXACT_MAX_CANDIDATES or cover.nnz > EXACT_MAX_ENTRIES:
        raise ConfigError(
            f"the exact model is limited to {EXACT_MAX_CANDIDATES} candidates and "
            f"{EXACT_MAX_ENTRIES:,} candidate-block pairs; this instance has {n_sites} and "
            f"{cover.nnz:,}; use --method greedy or fewer candidates"
        )
    is_fixed = np.zeros(n_sites, dtype=bool)
    is_fixed[fixed] = True
    open_dem = (~base) & (w > 0)
    coo = cover.tocoo()
    useful = open_dem[coo.col] & ~is_fixed[coo.row]
    rows_u, cols_u = coo.row[useful], coo.col[useful]
    cand = np.unique(rows_u)
    dem = np.unique(cols_u)
    prob = pulp.LpProblem("siting", pulp.LpMaximize if p is not None else pulp.LpMinimize)

    def var(name: str, cat: str = "Continuous") -> Any:
        if hasattr(prob, "add_variable"):  # PuLP >= 3.3; LpVariable(...) is deprecated there
            return prob.add_variable(name, 0, 1, cat=cat)
        return pulp.LpVariable(name, 0, 1, cat=cat)  # pragma: no cover - older PuLP

    x = {int(i): var(f"x{i}", "Binary") for i in cand}
    served: dict[Any, Any] = {}
    if capacity is None:
        y = {int(j): var(f"y{j}") for j in dem}
        by_dem: dict[int, list[int]] = {int(j): [] for j in dem}
        for i, j in zip(rows_u.tolist(), cols_u.tolist(), strict=True):
            by_dem[j].append(i)
        for j, sites in by_dem.items():
            prob += y[j] <= pulp.lpSum(x[i] for i in sites)
        served = {j: w[j] * y[j] for j in y}
    else:
        z = {(int(i), int(j)): var(f"z{i}_{j}") for i, j in zip(rows_u, cols_u, strict=True)}
        per_dem: dict[int, list[Any]] = {}
        per_site: dict[int, list[Any]] = {}
        for (i, j), v in z.items():
            per_dem.setdefault(j, []).append(v)
            per_site.setdefault(i, []).append(w[j] * v)
            prob += v <= x[i]
        for vs in per_dem.values():
            prob += pulp.lpSum(vs) <= 1
        for i, terms in per_site.items():
            prob += pulp.lpSum(terms) <= float(capacity) * x[i]
        served = {k: w[k[1]] * v for k, v in z.items()}
    gained = pulp.lpSum(served.values())
    if p is not None:
        prob += gained
        prob += pulp.lpSum(x.values()) <= p
    else:
        prob += pulp.lpSum(x.values())
        prob += gained >= float(target or 0.0) - float(w[base].sum()) - 1e-9
    solver_names = pulp.listSolvers(onlyAvailable=True)
    if "HiGHS" in solver_names:
        solver: Any = pulp.HiGHS(msg=False, timeLimit=time_limit_s)
    else:  # pragma: no cover - HiGHS ships with the siting extra
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
    with _silent_stdout():
        prob.solve(solver)
    status = pulp.LpStatus[prob.status].lower()
    gap: float | None = None
    bound: float | None = None
    model = getattr(prob, "solverModel", None)
    if model is not None and hasattr(model, "getInfo"):
        info = model.getInfo()
        gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
        # pulp hands HiGHS a maximisation as the minimisation of the negated objective
        bound = (abs(float(info.mip_dual_bound)) if np.isfinite(info.mip_dual_bound)
                 else None)
        if gap is not None and gap < 1e-9:
            gap = 0.0
    chosen = [i for i, v in x.items() if (v.value() or 0) > 0.5]
    cov = base.astype(np.float64)
    if capacity is None:
        # y may sit below 1 where the target is already met: coverage follows the sites
        if chosen:
            cov[np.unique(cover[np.asarray(chosen)].indices)] = 1.0
        return chosen, cov, status, gap, bound
    for key, expr in served.items():
        j = key[1]
        val = expr.value() or 0.0
        if w[j] > 0:
            cov[j] = min(1.0, cov[j] + val / w[j])
    return chosen, cov, status, gap, bound


def _marginal_order(cover: sp.csr_matrix, w: np.ndarray, base: np.ndarray,
                    chosen: list[int]) -> tuple[list[int], list[float]]:
    """Order chosen sites by marginal gain (largest first), as greedy would rank them."""
    residual = np.where(base, 0.0, w)
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


def _solution(method: str, fixed: np.ndarray, chosen: list[int], gains: list[float],
              covered: np.ndarray, w: np.ndarray, base: np.ndarray, t0: float, **kw: Any,
              ) -> Solution:
    return Solution(
        method=method,
        fixed=fixed,
        new=np.asarray(chosen, dtype=np.int64),
        gain=np.asarray(gains, dtype=np.float64),
        covered=covered,
        population_before=float(w[base].sum()),
        population_after=float((w * covered).sum()),
        seconds=time.perf_counter() - t0,
        **kw,
    )


def max_coverage(
    cover: sp.csr_matrix | CoverageMatrix,
    weight: np.ndarray,
    *,
    p: int,
    covered: np.ndarray | None = None,
    fixed: Iterable[int] | None = None,
    method: str = "greedy",
    capacity: float | None = None,
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
        (MILP with pulp and HiGHS; status and optimality gap reported).
    capacity
        A new site serves at most this many residents (nearest blocks first in greedy;
        a capacitated assignment in the exact model).
    time_limit_s
        Time limit of the exact solver; the gap then says how far from optimal it stopped.

    Returns
    -------
    Solution
    """
    _check_method(method)
    if int(p) != p or p < 0:
        raise ConfigError(f"the number of new sites must be a whole number >= 0, got {p!r}")
    if capacity is not None and not capacity > 0:
        raise ConfigError(f"capacity must be positive, got {capacity!r}")
    t0 = time.perf_counter()
    mat, dist, w, fixed_a, base = _prepare(cover, weight, covered, fixed)
    notes: list[str] = []
    if method == "greedy":
        chosen, gains, cov = _greedy(mat, dist, w, fixed_a, base, p=int(p), target=None,
                                     capacity=capacity)
        sol = _solution("greedy", fixed_a, chosen, gains, cov, w, base, t0, status="heuristic",
                        gap=None, notes=notes)
    else:
        chosen, cov, status, gap, bound = _solve_milp(
            mat, w, fixed_a, base, p=int(p), target=None, capacity=capacity,
            time_limit_s=time_limit_s)
        if capacity is None:
            chosen, gains = _marginal_order(mat, w, base, chosen)
        else:
            chosen, gains = _capacity_gains(mat, w, base, cov, chosen, dist, capacity)
        sol = _solution("exact", fixed_a, chosen, gains, cov, w, base, t0, status=status,
                        gap=gap, bound=None if bound is None else bound + float(w[base].sum()),
                        notes=notes)
    if sol.new.shape[0] < p:
        notes.append(f"only {sol.new.shape[0]} of the {p} new sites add coverage")
    return sol


def _capacity_gains(mat: sp.csr_matrix, w: np.ndarray, base: np.ndarray, cov: np.ndarray,
                    chosen: list[int], dist: np.ndarray | None,
                    capacity: float) -> tuple[list[int], list[float]]:
    """Exact capacitated solution: each site's share is what the assignment gave it."""
    # the MILP's assignment is not kept per site; split the newly covered weight by site in
    # the greedy manner (nearest first, capacity-bounded) over the covered residual
    residual = w * (cov - base.astype(np.float64))
    out: list[tuple[float, int]] = []
    for i in chosen:
        out.append((_serve_nearest(mat, dist, i, residual, float(capacity)), i))
    out.sort(key=lambda t: (-t[0], t[1]))
    return [i for _, i in out], [g for g, _ in out]


def set_cover(
    cover: sp.csr_matrix | CoverageMatrix,
    weight: np.ndarray,
    *,
    target_share: float = 1.0,
    covered: np.ndarray | None = None,
    fixed: Iterable[int] | None = None,
    method: str = "greedy",
    time_limit_s: float | None = None,
) -> Solution:
    """The fewest new sites that bring covered weight to ``target_share`` of the total.

    Raises :class:`ConfigError` when every candidate together cannot reach the target (the
    message gives the share they can reach).
    """
    _check_method(method)
    if not 0 < target_share <= 1:
        raise ConfigError(f"target share must be in (0, 1], got {target_share!r}")
    t0 = time.perf_counter()
    mat, dist, w, fixed_a, base = _prepare(cover, weight, covered, fixed)
    total = float(w.sum())
    target = target_share * total
    reach = base.copy()
    reach[np.unique(mat.indices)] = True
    best = float(w[reach].sum())
    if best < target - 1e-9 * max(total, 1.0):
        raise ConfigError(
            f"all candidates together cover {best / total:.1%} of the population, below the "
            f"target {target_share:.1%}; add candidates or lower the target"
        )
    target -= 1e-9 * max(total, 1.0)
    if method == "greedy":
        chosen, gains, cov = _greedy(mat, dist, w, fixed_a, base, p=None, target=target,
                                     capacity=None)
        return _solution("greedy", fixed_a, chosen, gains, cov, w, base, t0,
                         status="heuristic", gap=None)
    chosen, cov, status, gap, _ = _solve_milp(mat, w, fixed_a, base, p=None, target=target,
                                              capacity=None, time_limit_s=time_limit_s)
    chosen, gains = _marginal_order(mat, w, base, chosen)
    return _solution("exact", fixed_a, chosen, gains, cov, w, base, t0, status=status, gap=gap)


# ---------------------------------------------------------------------------------------------
# on top of a run


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


def _block_index(result: Result) -> tuple[np.ndarray, np.ndarray]:
    ids = result.blocks["block_id"].to_numpy()
    pos = pd.Index(ids).get_indexer(result.access_points["block_id"].to_numpy())
    return ids, pos


def _concat_snaps(a: Snap, b: Snap) -> Snap:
    return Snap(*(np.concatenate([getattr(a, f), getattr(b, f)])
                  for f in ("edge", "along_m", "dist_m", "status")))


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
    remove: Sequence[str] = (),
    time_limit_s: float | None = 60.0,
) -> Siting:
    """Where to put ``new`` facilities of ``category`` so that most residents newly get one.

    Parameters
    ----------
    result
        A finished :func:`lifecircle.pipeline.run` (network, blocks, access points,
        facilities).
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
    method, capacity, time_limit_s
        As in :func:`max_coverage`.
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
        from ._errors import did_you_mean

        raise ConfigError(
            f"unknown category {category!r}{did_you_mean(category, prof.categories)}; "
            f"the run evaluated {', '.join(prof.categories)}"
        )
    net = result.network
    t0 = time.perf_counter()
    cand = _resolve_candidates(result, candidates, candidates_crs, spacing_m)
    if cand.empty:
        raise InputError(f"no candidate sites for {category}; pass --candidates FILE")
    cx = cand.geometry.x.to_numpy()
    cy = cand.geometry.y.to_numpy()
    csnap = snap_points(net, cx, cy, max_snap_m=prof.max_snap_m)
    cand = cand.reset_index(drop=True)
    existing = result.facilities[result.facilities["category"] == category]
    existing = existing[~existing["facility_id"].isin(list(remove))].reset_index(drop=True)
    esnap = Snap.from_columns(existing)
    group = prof.group_of(category)
    threshold = prof.threshold_of(category)
    speed = group.speed_m_per_min
    # the same test as the verdict (minutes <= threshold), applied in metres
    limit_m = threshold * speed
    block_ids, ap_block = _block_index(result)
    apsnap = Snap.from_columns(result.access_points)
    valid = ap_block >= 0
    apsnap = apsnap.subset(valid)
    matrix = coverage_matrix(net, _concat_snaps(esnap, csnap), apsnap, ap_block[valid],
                             len(block_ids), limit_m=limit_m * (1 + 1e-12))
    pop = result.blocks["population"].to_numpy(dtype=np.float64)
    fixed = np.arange(len(existing))
    if target_share is not None:
        sol = set_cover(matrix, pop, target_share=target_share, fixed=fixed, method=method,
                        time_limit_s=time_limit_s)
    else:
        if new is None:
            raise ConfigError("give the number of new sites or a target share")
        sol = max_coverage(matrix, pop, p=new, fixed=fixed, method=method, capacity=capacity,
                           time_limit_s=time_limit_s)
    greedy = None
    if method == "exact":
        greedy = (max_coverage(matrix, pop, p=new or 0, fixed=fixed, capacity=capacity)
                  if target_share is None
                  else set_cover(matrix, pop, target_share=target_share, fixed=fixed))
    rows = sol.new - len(existing)
    sites = cand.iloc[rows].copy()
    snap_rows = csnap.subset(rows)
    fields = snap_rows.fields(net)
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
    sites = sites.reset_index(drop=True)
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
    if capacity is not None:
        report["note"] = (
            "with a capacity, gain_population counts the residents a site serves; the "
            "before/after figures count every block within walking reach"
        )
    return Siting(category, sites, sol, matrix, blocks_table, report, greedy)


def _resolve_candidates(result: Result, candidates: Any, crs: str | None,
                        spacing_m: float) -> gpd.GeoDataFrame:
    net = result.network
    if candidates is None:
        return network_sample(net, spacing_m=spacing_m)
    if isinstance(candidates, str) and candidates == "osm":
        if result.osm is None:
            raise InputError("candidates 'osm' need an OSM file; this run has no OSM data")
        return candidates_from_osm(result.osm, net.crs)
    if isinstance(candidates, gpd.GeoDataFrame):
        if candidates.crs is None:
            raise InputError(
                "the candidate GeoDataFrame has no CRS; set one with .set_crs(...)")
        frame = candidates.copy()
        if "candidate_id" not in frame.columns:
            frame["candidate_id"] = [f"row-{i + 1}" for i in range(len(frame))]
        for c, default in (("name", ""), ("source", "user")):
            if c not in frame.columns:
                frame[c] = default
        frame = frame[["candidate_id", "name", "source", frame.geometry.name]]
        frame = frame.to_crs(net.crs)
        frame["geometry"] = frame.geometry.representative_point()
        return frame.set_geometry("geometry")
    return read_candidates(candidates, crs=crs).to_crs(net.crs)


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
    from .access import compute_access
    from .coverage import block_verdict, summarize

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


def run_site(
    osm: str | Path | None = None,
    *,
    category: str,
    new: int | None = 3,
    target_share: float | None = None,
    candidates: gpd.GeoDataFrame | str | Path | None = None,
    candidates_crs: str | None = None,
    spacing_m: float = 100.0,
    method: str = "greedy",
    capacity: float | None = None,
    remove: Sequence[str] = (),
    time_limit_s: float | None = 60.0,
    out: str | Path | None = None,
    overwrite: bool = False,
    lang: str = "en",
    progress: Any = None,
    **run_options: Any,
) -> tuple[Result, Siting]:
    """Run the analysis, site new facilities of ``category``, write everything to ``out``.

    The Python form of ``lifecircle site``: :func:`lifecircle.pipeline.run` (with
    ``run_options``), then :func:`site`. With ``out`` the folder holds the run's outputs plus
    the ``proposed_sites`` and ``siting_blocks`` (before / after per block) layers in
    ``lifecircle.gpkg``, the siting figures under ``"siting"`` in ``report.json`` and
    ``siting_before_after.csv``; written atomically like a run.

    Returns
    -------
    result, siting
        ``result.proposed_sites`` holds the proposed sites (the map draws them from there).
    """
    from .outputs._atomic import StagedOutput
    from .pipeline import run, write_outputs

    cats = list(run_options.pop("categories", None) or [category])
    if category not in cats:
        cats.append(category)
    inputs = [p for p in (osm, run_options.get("facilities"), run_options.get("blocks"))
              if p is not None]
    if isinstance(candidates, str | Path) and str(candidates) != "osm":
        inputs.append(candidates)
    staged = StagedOutput(out, overwrite=overwrite, inputs=inputs) if out is not None else None
    result = run(osm, categories=cats, lang=lang, progress=progress, **run_options)
    if progress:
        progress("start", f"Siting {category}")
    t0 = time.perf_counter()
    siting = site(result, category, new=new, target_share=target_share, candidates=candidates,
                  candidates_crs=candidates_crs, spacing_m=spacing_m, method=method,
                  capacity=capacity, remove=remove, time_limit_s=time_limit_s)
    if progress:
        progress("done", f"Siting {category} ({time.perf_counter() - t0:.2f} s)")
    result.proposed_sites = siting.proposed_sites
    result.report["siting"] = siting.report
    result.metadata["siting"] = {k: siting.report[k] for k in (
        "category", "model", "new_requested", "target_share", "capacity", "candidates")}
    result.metadata["siting"]["method"] = method
    if staged is not None:
        layer = scenario_layer(result, siting.scenario_blocks)

        def write_siting(res: Result, stage: StagedOutput) -> None:
            import pyogrio

            from .outputs.geopackage import GPKG_NAME, _plain

            pyogrio.write_dataframe(_plain(layer), stage.path(GPKG_NAME),
                                    layer="siting_blocks", driver="GPKG")
            csv = stage.path("siting_before_after.csv")
            siting.scenario_blocks.to_csv(csv, index=False)

        with staged:
            write_outputs(result, staged, lang=lang, extras=[write_siting])
            with open(staged.path("report.md"), "a", encoding="utf-8") as md:
                md.write(siting_markdown(siting.report, lang=lang))
            result.out = staged.commit({"lifecircle_version": result.metadata[
                "lifecircle_version"]})
    return result, siting


def siting_markdown(report: dict[str, Any], *, lang: str = "en") -> str:
    """A report.md section for a siting report (``Siting.report``)."""
    zh = lang == "zh"
    sol = report["solution"]
    ba = report["before_after"]
    lines = [
        "",
        f"## {'设施选址' if zh else 'Siting'}: {report['category']}",
        "",
        (f"模型 {report['model']}，方法 {sol['method']}（{sol['status']}），候选点 "
         f"{report['candidates']} 个，阈值 {report['threshold_min']:g} 分钟。" if zh else
         f"Model {report['model']}, method {sol['method']} ({sol['status']}), "
         f"{report['candidates']} candidates, {report['threshold_min']:g}-minute walk."),
        "",
        "| rank | candidate | gain_population |" if not zh else "| 排名 | 候选点 | 新增覆盖人口 |",
        "|---:|---|---:|",
    ]
    lines += [f"| {r['rank']} | {r['candidate_id']} | {r['gain_population']:,.0f} |"
              for r in report["sites"]]
    lines += ["", "| | before | after | change |" if not zh else "| | 之前 | 之后 | 变化 |",
              "|---|---:|---:|---:|"]
    for k in ("facilities", "population_covered", "share_population_covered",
              "blocks_covered", "median_walk_min"):
        b, a, c = ba["before"][k], ba["after"][k], ba["change"][k]
        lines.append(f"| {k} | {'–' if b is None else b} | {'–' if a is None else a} | "
                     f"{'–' if c is None else c} |")
    return "\n".join(lines) + "\n"
