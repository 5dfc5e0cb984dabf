"""Coverage matrices: which blocks each site reaches within a walk, and how far.

One bounded search per site with :class:`lifecircle._kernels.BoundedSearch` (it touches only
what it reaches) on ``net.search_csr``, then the exact times of the access points on the
reached edges and of those on the site's own edge, each walked in the resident's direction
(on a sloped network the two directions of an edge differ).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._kernels import BoundedSearch, compile_kernel, grown
from .network import WalkNetwork
from .routing import _direction_ratios, on_usable, seed_arcs
from .snapping import Snap

if TYPE_CHECKING:
    from .result import Result

__all__ = ["CoverageMatrix", "block_index", "concat_snaps", "coverage_matrix"]


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
    """For every node, the points on its edges and the metres from each point to the node.

    Returns ``(node_ptr, point, offset_m)``: the residents at ``point[node_ptr[n]:...]``
    reach node ``n`` after ``offset_m`` metres (their off-network leg, then along the edge
    in their walking direction).
    """
    point, node, dist = seed_arcs(net, points, walk_from=True)
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
    net: WalkNetwork, sites: Snap, points: Snap, p_ok: np.ndarray, p_edge: np.ndarray,
    point_block: np.ndarray, start: int, stop: int, limit_m: float,
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
    gap = sites.along_m[srow] - points.along_m[q]  # > 0: the resident walks towards v
    ratios = _direction_ratios(net, sites.edge[srow])
    if ratios is not None:
        gap = np.where(gap > 0, gap * ratios[0], -gap * ratios[1])
    d = sites.dist_m[srow] + np.abs(gap) + points.dist_m[q]
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
                    n_seen = _keep_nearest(best, seen, n_seen, inc_block[q], t)
        for k in range(d_ptr[s], d_ptr[s + 1]):
            n_seen = _keep_nearest(best, seen, n_seen, d_block[k], d_dist[k])
        if n_out + n_seen > cap:
            cap = max(2 * cap, n_out + n_seen)
            out_col = grown(out_col, n_out, cap)
            out_d = grown(out_d, n_out, cap)
        cols = np.sort(seen[:n_seen])
        for j in range(n_seen):
            b = cols[j]
            out_col[n_out] = b
            out_d[n_out] = best[b]
            best[b] = np.inf
            n_out += 1
        out_ptr[s + 1] = n_out
    return out_ptr, out_col[:n_out].copy(), out_d[:n_out].copy()


def _keep_nearest(best: np.ndarray, seen: np.ndarray, n_seen: int, b: int, t: float) -> int:
    """Keep ``t`` as block ``b``'s distance if it is the nearest yet; the new ``n_seen``.

    A block reached for the first time (``best[b]`` still ``inf``) is listed in ``seen``.
    """
    if best[b] == np.inf:
        seen[n_seen] = b
        n_seen += 1
    if t < best[b]:
        best[b] = t
    return n_seen


@cache
def _join_kernel() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_join_blocks` compiled by numba (or loaded from its cache) on first use."""
    return compile_kernel(_join_blocks, _keep_nearest)


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
        Walking budget in metres, both off-network legs included (equivalent flat metres
        on a sloped network, as every time of the engine).
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
    search = search if search is not None else BoundedSearch.from_csr(net.search_csr)
    # an access point with near-tied streets is at each of its snaps (snapping.Snap.alt)
    points, p_owner = points.candidates()
    point_block = point_block[p_owner]
    node_ptr, inc_point, inc_off = _point_incidence(net, points)
    # sites and points on the same edge: the direct walk along it
    # on a restricted group's view a point on a barred edge walks neither along it nor off it
    p_ok = on_usable(net, points)
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
        d_ptr, d_block, d_dist = _direct_pairs(net, sites, points, p_ok, p_edge, point_block,
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


def block_index(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Block ids of a run, and the block position of every access point (-1 if none)."""
    ids = result.blocks["block_id"].to_numpy()
    pos = pd.Index(ids).get_indexer(result.access_points["block_id"].to_numpy())
    return ids, pos


def concat_snaps(a: Snap, b: Snap) -> Snap:
    """The snapped points of ``a`` followed by those of ``b``."""
    return Snap(*(np.concatenate([getattr(a, f), getattr(b, f)])
                  for f in ("edge", "along_m", "dist_m", "status")))
