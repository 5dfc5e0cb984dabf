"""Reached stretches: which parts of which edges a walk reached, from node distances.

Every edge whose two ends are within the budget is in whole, and an edge with one end (or
both ends, from opposite sides, not meeting) within the budget contributes the stretch still
reachable with the budget left at that end. A facility's own edge also gets the stretch it
reaches directly, without passing an edge end. Positions along an edge are walking metres, as
in :mod:`lifecircle.snapping`.

On a restricted group's view of the network (``net.edge_usable``, see
:mod:`lifecircle.edge_access`) the barred edges are not walked: a reached node extends only
along the edges the group may use, and a facility's snap onto a barred edge reaches nothing,
as in the search that gave the group's times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..network import WalkNetwork
from ..routing import _direction_ratios
from ..snapping import AltSnaps, Snap

__all__ = ["Pieces", "reached_pieces", "usable_sources"]


@dataclass(frozen=True)
class Pieces:
    """Reached stretches of edges: ``edge`` from ``start_m`` to ``end_m`` (walking metres
    from the edge's ``u``), for isochrone ``group``; sorted by group, edge and start, and
    merged so that stretches of one group and edge never overlap."""

    group: np.ndarray
    edge: np.ndarray
    start_m: np.ndarray
    end_m: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    def length_m(self, n_groups: int) -> np.ndarray:
        """Reached street metres per group."""
        return np.bincount(self.group, weights=self.end_m - self.start_m, minlength=n_groups)


def _node_edges(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges incident to each node as a CSR: (ptr, edge, node is the edge's u end).

    A self-loop appears twice, once from each end. On a restricted group's view only the
    edges it may use. Cached on the network (each view has its own).
    """
    cached = net.__dict__.get("_node_edges")
    if cached is not None:
        return cached
    e = (np.arange(net.n_edges, dtype=np.int64) if net.edge_usable is None
         else np.flatnonzero(net.edge_usable).astype(np.int64))
    node = np.concatenate([net.edge_u[e], net.edge_v[e]]).astype(np.int64)
    edge = np.concatenate([e, e])
    is_u = np.concatenate([np.ones(e.shape[0], bool), np.zeros(e.shape[0], bool)])
    order = np.argsort(node, kind="stable")
    ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(node, minlength=net.n_nodes), out=ptr[1:])
    out = (ptr, edge[order], is_u[order])
    net.__dict__["_node_edges"] = out
    return out


@cache
def _merge_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def merge(key: np.ndarray, start: np.ndarray, end: np.ndarray,
              n_keys: int) -> np.ndarray:  # pragma: no cover - compiled
        # Rows by (key, start) through a counting sort on the key (keys are group * edges +
        # edge, a few per row) and an insertion sort of the few rows of each key; then the
        # overlapping stretches of a key merge into the first (its end extended). Returns
        # the kept rows in that order.
        n = key.shape[0]
        count = np.zeros(n_keys + 1, dtype=np.int64)
        for i in range(n):
            count[key[i] + 1] += 1
        for k in range(n_keys):
            count[k + 1] += count[k]
        order = np.empty(n, dtype=np.int64)
        for i in range(n):  # stable: rows of a key keep their order
            order[count[key[i]]] = i
            count[key[i]] += 1
        keep = np.empty(n, dtype=np.int64)
        m = 0
        lo = 0
        while lo < n:
            hi = lo + 1
            while hi < n and key[order[hi]] == key[order[lo]]:
                hi += 1
            for a in range(lo + 1, hi):  # insertion sort by start (stable)
                r = order[a]
                b = a - 1
                while b >= lo and start[order[b]] > start[r]:
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = r
            cur = order[lo]
            keep[m] = cur
            m += 1
            for a in range(lo + 1, hi):
                r = order[a]
                if start[r] <= end[cur]:
                    if end[r] > end[cur]:
                        end[cur] = end[r]
                else:
                    cur = r
                    keep[m] = cur
                    m += 1
            lo = hi
        return keep[:m]

    return merge


def _merge(group: np.ndarray, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> Pieces:
    """Sort stretches by (group, edge, start) and merge the overlapping ones of the same group
    and edge.

    A few lines of numba (a counting sort on group and edge, then one pass): numpy has no
    per-group running maximum (pandas' groupby has one, at ~1 ms overhead a call, too much
    for siting's many small isochrones), and ``np.lexsort`` of three keys took seconds per
    category at city scale.
    """
    group = np.ascontiguousarray(group, dtype=np.int64)
    edge = np.ascontiguousarray(edge, dtype=np.int64)
    start = np.ascontiguousarray(start, dtype=np.float64)
    end = np.array(end, dtype=np.float64)  # a copy: merged ends are written into it
    if group.shape[0] == 0:
        return Pieces(group, edge, start, end)
    # keys numbered densely over the (group, edge) pairs present when the product is large
    n_edge = int(edge.max()) + 1
    key = group * n_edge + edge
    n_keys = int(key.max()) + 1
    if n_keys > 4 * key.shape[0] + 1024:  # many facilities' groups: rank the keys present
        order = np.argsort(key)
        sk = key[order]
        rank = np.empty_like(key)
        rank[order] = np.cumsum(np.r_[0, sk[1:] != sk[:-1]])
        key, n_keys = rank, int(rank.max()) + 1
    keep = _merge_kernel()(key, start, end, n_keys)
    return Pieces(group[keep], edge[keep], start[keep], end[keep])


def _stretches(
    net: WalkNetwork,
    row_group: np.ndarray,
    row_node: np.ndarray,
    row_left_m: np.ndarray,
    src_group: np.ndarray,
    src_edge: np.ndarray,
    src_along_m: np.ndarray,
    src_left_m: np.ndarray,
) -> Pieces:
    """Stretches reached from nodes with ``row_left_m`` budget left, and from sources
    directly along their own edge with ``src_left_m`` left after the off-network leg."""
    ptr, inc_edge, inc_is_u = _node_edges(net)
    counts = ptr[row_node + 1] - ptr[row_node]
    rep = np.repeat(np.arange(row_node.shape[0]), counts)
    within = np.arange(rep.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = ptr[row_node][rep] + within
    edge = inc_edge[slot]
    is_u = inc_is_u[slot]
    left = row_left_m[rep]
    length = net.edge_length_m[edge]
    s_len = net.edge_length_m[src_edge]
    ratios = _direction_ratios(net, edge)
    s_ratios = _direction_ratios(net, src_edge)
    if ratios is not None and s_ratios is not None:
        # slope: a resident near u walks towards u (v -> u) to reach it, and the other way
        # near v; the budget buys fewer metres uphill. Sources' own stretches likewise.
        left = left / np.where(is_u, ratios[1], ratios[0])
        back, ahead = src_left_m / s_ratios[0], src_left_m / s_ratios[1]
    else:
        back = ahead = src_left_m
    reach = np.minimum(left, length)
    start = np.where(is_u, 0.0, length - reach)
    end = np.where(is_u, reach, length)
    # a source on its own edge walks both ways from where it stands
    s_start = np.clip(src_along_m - back, 0.0, s_len)
    s_end = np.clip(src_along_m + ahead, 0.0, s_len)
    return _merge(
        np.concatenate([row_group[rep], src_group]),
        np.concatenate([edge, src_edge]),
        np.concatenate([start, s_start]),
        np.concatenate([end, s_end]),
    )


def reached_pieces(
    net: WalkNetwork,
    dist_m: np.ndarray,
    budget_m: float,
    *,
    sources: Snap | None = None,
) -> Pieces:
    """The stretches of street within ``budget_m`` of a search (one isochrone, group 0).

    Parameters
    ----------
    net
        The walking network.
    dist_m
        Distance of every node from the search's start (``inf`` where not reached), off-network
        legs included, as :func:`lifecircle.routing.multi_source` gives it.
    budget_m
        Walking metres available.
    sources
        The snapped points the search started from; each one also reaches the part of its own
        edge within ``budget_m - snap_dist`` of where it stands, without passing an edge end.

    Returns
    -------
    Pieces
    """
    dist_m = np.asarray(dist_m, dtype=np.float64)
    node = np.flatnonzero(dist_m <= budget_m)
    src = _source_rows(sources, np.zeros(0 if sources is None else len(sources), np.int64),
                       np.full(1, float(budget_m)))
    return _stretches(net, np.zeros(node.shape[0], np.int64), node, budget_m - dist_m[node], *src)


def usable_sources(net: WalkNetwork, sources: Snap) -> Snap:
    """``sources`` without their snaps onto edges ``net`` may not use (a restricted group's
    view); ``sources`` itself on the whole network.

    A facility whose primary snap is barred keeps its other snaps (near-tied streets); with
    none left it is unsnapped (``"on a barred way"``) and reaches nothing, as in
    :func:`lifecircle.routing.seed_arcs`.
    """
    usable = net.edge_usable
    if usable is None:
        return sources
    barred = sources.ok & ~usable[np.where(sources.ok, sources.edge, 0)]
    alt = sources.alt
    if alt is not None and alt.point.size:
        keep = usable[alt.edge]
        alt = AltSnaps(alt.point[keep], alt.edge[keep], alt.along_m[keep], alt.dist_m[keep])
    return Snap(np.where(barred, -1, sources.edge), np.where(barred, np.nan, sources.along_m),
                np.where(barred, np.nan, sources.dist_m),
                np.where(barred, "on a barred way", sources.status).astype(object),
                rule=sources.rule, alt=alt)


def _source_rows(
    sources: Snap | None, source_entity: np.ndarray, budgets_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Direct-along-edge rows (group, edge, along, left) of sources for every budget.

    Group of source ``i`` at budget ``k`` is ``source_entity[i] * len(budgets_m) + k``.
    """
    if sources is None or len(sources) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0), np.zeros(0)
    nb = budgets_m.shape[0]
    sources, owner = sources.candidates()  # every snap of a facility (near-tied streets)
    source_entity = source_entity[owner]
    ok = np.flatnonzero(sources.ok)
    grp = (source_entity[ok][:, None] * nb + np.arange(nb)[None, :]).ravel()
    left = (budgets_m[None, :] - sources.dist_m[ok][:, None]).ravel()
    edge = np.repeat(sources.edge[ok], nb)
    along = np.repeat(sources.along_m[ok], nb)
    keep = left >= 0
    return grp[keep], edge[keep], along[keep], left[keep]
