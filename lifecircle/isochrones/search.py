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
    def merge(group: np.ndarray, edge: np.ndarray, start: np.ndarray,
              end: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
        # rows sorted by (group, edge, start): mark the rows that begin a merged stretch and
        # extend each stretch's end in place
        keep = np.zeros(group.shape[0], dtype=np.bool_)
        k = -1
        for i in range(group.shape[0]):
            if k >= 0 and group[i] == group[k] and edge[i] == edge[k] and start[i] <= end[k]:
                if end[i] > end[k]:
                    end[k] = end[i]
            else:
                keep[i] = True
                k = i
        return keep

    return merge


@cache
def _by_start_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def by_start(key: np.ndarray, start: np.ndarray,
                 order: np.ndarray) -> None:  # pragma: no cover - compiled
        # order sorted by key: sort each run of one key by start (insertion: runs are short)
        for i in range(1, order.shape[0]):
            o = order[i]
            j = i
            while j > 0 and key[j - 1] == key[i] and start[order[j - 1]] > start[o]:
                order[j] = order[j - 1]
                j -= 1
            order[j] = o

    return by_start


def _merge(group: np.ndarray, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> Pieces:
    """Sort stretches and merge the overlapping ones of the same group and edge.

    A few lines of numba, because numpy has no per-group running maximum (pandas' groupby
    has one, at ~1 ms overhead a call, too much for siting's many small isochrones).
    """
    # (group, edge) as one int64 key: its argsort is ~15x cheaper than a lexsort of three
    # keys (a fifth of a per-facility isochrone); the few rows of a key then go by start
    key = group.astype(np.int64) * (int(edge.max(initial=0)) + 1) + edge
    order = np.argsort(key)
    if order.shape[0]:
        _by_start_kernel()(key[order], np.ascontiguousarray(start, dtype=np.float64), order)
    group = np.ascontiguousarray(group[order], dtype=np.int64)
    edge = np.ascontiguousarray(edge[order], dtype=np.int64)
    start = np.ascontiguousarray(start[order], dtype=np.float64)
    end = np.ascontiguousarray(end[order], dtype=np.float64)
    if group.shape[0]:
        keep = _merge_kernel()(group, edge, start, end)
        group, edge, start, end = group[keep], edge[keep], start[keep], end[keep]
    return Pieces(group, edge, start, end)


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
