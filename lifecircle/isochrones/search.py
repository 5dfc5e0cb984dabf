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
import pandas as pd

from .._kernels import compile_kernel, sorted_by_key
from ..network import WalkNetwork
from ..routing import _direction_ratios
from ..snapping import AltSnaps, Snap, edges_named, parse_alt

__all__ = ["Pieces", "banded_stretches", "reached_pieces", "snap_from_frame", "usable_sources"]


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


def _merge_rows(key: np.ndarray, start: np.ndarray, end: np.ndarray,
                n_keys: int) -> np.ndarray:  # pragma: no cover - compiled
    """Rows by (key, start) (:func:`~lifecircle._kernels.sorted_by_key`: keys are group *
    edges + edge, a few rows each); then the overlapping stretches of a key merge into the
    first (its end extended). Returns the kept rows in that order."""
    order = sorted_by_key(key, start, n_keys)
    n = key.shape[0]
    keep = np.empty(n, dtype=np.int64)
    m = 0
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and key[order[hi]] == key[order[lo]]:
            hi += 1
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


@cache
def _merge_kernel() -> Any:
    return compile_kernel(_merge_rows, sorted_by_key)


def _dense_keys(key: np.ndarray) -> tuple[np.ndarray, int]:
    """``key`` (non-negative int64) and the number of keys for a counting sort on it; when
    that would exceed the rows several times (many facilities' groups), the keys present
    numbered densely in their order instead."""
    n_keys = int(key.max()) + 1
    if n_keys <= 4 * key.shape[0] + 1024:
        return key, n_keys
    order = np.argsort(key)
    sk = key[order]
    rank = np.empty_like(key)
    rank[order] = np.cumsum(np.r_[0, sk[1:] != sk[:-1]])
    return rank, int(rank.max()) + 1


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
    key, n_keys = _dense_keys(group * n_edge + edge)
    keep = _merge_kernel()(key, start, end, n_keys)
    return Pieces(group[keep], edge[keep], start[keep], end[keep])


def _unrepeated_rows(key: np.ndarray, start: np.ndarray, end: np.ndarray,
                     group: np.ndarray, n_keys: int) -> np.ndarray:  # pragma: no cover
    """Whether each row is kept: of the rows with the same key, start and end, only the one
    of the lowest group (the first row of that group). Rows by (key, start) through
    :func:`~lifecircle._kernels.sorted_by_key` (a key holds a few rows), each compared with
    the other rows of its key and start."""
    order = sorted_by_key(key, start, n_keys)
    n = key.shape[0]
    keep = np.ones(n, dtype=np.bool_)
    lo = 0
    while lo < n:
        first = order[lo]
        hi = lo + 1
        while hi < n and key[order[hi]] == key[first] and start[order[hi]] == start[first]:
            hi += 1
        for a in range(lo, hi):
            r = order[a]
            for c in range(lo, hi):
                o = order[c]
                if o != r and end[o] == end[r] and (
                        group[o] < group[r] or (group[o] == group[r] and o < r)):
                    keep[r] = False
                    break
        lo = hi
    return keep


@cache
def _unrepeated_kernel() -> Any:
    return compile_kernel(_unrepeated_rows, sorted_by_key)


def unrepeated(pieces: Pieces, n_bands: int) -> np.ndarray:
    """The rows of ``pieces`` (``group`` is ``entity * n_bands + band``) not repeated in a
    lower band of the same entity (same edge, start and end), ascending: the rows that a
    lexicographic sort on (entity, edge, start, end, group) keeps first of each run, in a
    counting sort on (entity, edge) (``np.lexsort`` of five keys: 0.22 s against 0.04 s for
    the 268,569-node mosaic's five categories; for a batch of 256 facilities' three bands on
    the tiled Nanjing graph, 27 against 6.5 ms with the keys numbered densely)."""
    entity = pieces.group // n_bands
    n_edge = int(pieces.edge.max()) + 1
    key, n_keys = _dense_keys(entity.astype(np.int64) * n_edge + pieces.edge.astype(np.int64))
    keep = _unrepeated_kernel()(key, np.ascontiguousarray(pieces.start_m, dtype=np.float64),
                                np.ascontiguousarray(pieces.end_m, dtype=np.float64),
                                np.ascontiguousarray(pieces.group, dtype=np.int64), n_keys)
    return np.flatnonzero(keep)


def _incident(net: WalkNetwork, row_node: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (row, incident edge) pair of nodes ``row_node``: (row, edge, node is its u)."""
    ptr, inc_edge, inc_is_u = _node_edges(net)
    counts = ptr[row_node + 1] - ptr[row_node]
    rep = np.repeat(np.arange(row_node.shape[0]), counts)
    within = np.arange(rep.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = ptr[row_node][rep] + within
    return rep, inc_edge[slot], inc_is_u[slot]


def _end_ratio(net: WalkNetwork, edge: np.ndarray, is_u: np.ndarray) -> np.ndarray | None:
    """Equivalent metres per metre walked from an edge end into the edge (``None`` flat).

    Slope: a resident near u walks towards u (v -> u) to reach it, and the other way near v;
    the budget buys fewer metres uphill.
    """
    ratios = _direction_ratios(net, edge)
    return None if ratios is None else np.where(is_u, ratios[1], ratios[0])


def _from_end(is_u: np.ndarray, length: np.ndarray, left: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stretch (start, end) reached from an edge end with ``left`` metres, and its reach."""
    reach = np.minimum(left, length)
    return np.where(is_u, 0.0, length - reach), np.where(is_u, reach, length), reach


def _source_stretch(net: WalkNetwork, src_edge: np.ndarray, src_along_m: np.ndarray,
                    src_left_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stretch (start, end) a source reaches on its own edge, walking both ways from where
    it stands with ``src_left_m`` left after the off-network leg."""
    s_len = net.edge_length_m[src_edge]
    s_ratios = _direction_ratios(net, src_edge)
    if s_ratios is not None:
        back, ahead = src_left_m / s_ratios[0], src_left_m / s_ratios[1]
    else:
        back = ahead = src_left_m
    return np.clip(src_along_m - back, 0.0, s_len), np.clip(src_along_m + ahead, 0.0, s_len)


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
    rep, edge, is_u = _incident(net, row_node)
    left = row_left_m[rep]
    ratio = _end_ratio(net, edge, is_u)
    if ratio is not None:
        left = left / ratio
    start, end, _ = _from_end(is_u, net.edge_length_m[edge], left)
    s_start, s_end = _source_stretch(net, src_edge, src_along_m, src_left_m)
    return _merge(
        np.concatenate([row_group[rep], src_group]),
        np.concatenate([edge, src_edge]),
        np.concatenate([start, s_start]),
        np.concatenate([end, s_end]),
    )


def banded_stretches(
    net: WalkNetwork,
    dist_m: np.ndarray,
    budgets_m: np.ndarray,
    src_group: np.ndarray,
    src_edge: np.ndarray,
    src_along_m: np.ndarray,
    src_left_m: np.ndarray,
) -> tuple[Pieces, np.ndarray]:
    """One search's stretches for every band (group = band index), and the reached street
    metres of each band (everything within it).

    The same stretches a band polygon needs as :func:`_stretches` of every node in every
    band that reaches it, without that function's repeats: a (node, edge) row is made in its
    node's lowest band and again only while its stretch has not yet covered the whole edge,
    and a band's stretches of an edge already whole in an earlier band are left out (every
    later band holds that whole edge, which the grid has from the earlier band). On the
    268,569-node mosaic that is about a third of the rows. ``street_m`` still counts every
    band's whole reach, those whole edges included.
    """
    nb = budgets_m.shape[0]
    node = np.flatnonzero(dist_m <= budgets_m[-1])
    d = dist_m[node]
    lowest = np.searchsorted(budgets_m, d, side="left")
    rep, edge, is_u = _incident(net, node)
    del node
    d, lowest = d[rep], lowest[rep]
    del rep
    length = net.edge_length_m[edge]
    ratio = _end_ratio(net, edge, is_u)
    open_ = np.ones(edge.shape[0], dtype=bool)  # the row's stretch is not yet whole
    cols: list[list[np.ndarray]] = [[], [], [], []]
    for j in range(nb):
        pick = np.flatnonzero((lowest <= j) & open_)
        left = budgets_m[j] - d[pick]
        if ratio is not None:
            left = left / ratio[pick]
        start, end, reach = _from_end(is_u[pick], length[pick], left)
        open_[pick] = reach < length[pick]
        for col, a in zip(cols, (np.full(pick.shape[0], j, np.int64), edge[pick], start, end),
                          strict=True):
            col.append(a)
    del d, lowest, edge, is_u, length, ratio, open_
    s_start, s_end = _source_stretch(net, src_edge, src_along_m, src_left_m)
    for col, a in zip(cols, (src_group, src_edge, s_start, s_end), strict=True):
        col.append(a)
    pieces = _merge(*(np.concatenate(c) for c in cols))
    del cols
    # each edge's first band where it is whole; its later bands' stretches are left out
    e_len = net.edge_length_m[pieces.edge]
    whole = (pieces.start_m <= 0) & (pieces.end_m >= e_len)
    first_whole = np.full(net.n_edges, nb, dtype=np.int64)
    first_whole[pieces.edge[whole][::-1]] = pieces.group[whole][::-1]  # the lowest band wins
    keep = first_whole[pieces.edge] >= pieces.group
    whole_e = np.flatnonzero(first_whole < nb)
    street = np.bincount(pieces.group[keep], weights=(pieces.end_m - pieces.start_m)[keep],
                         minlength=nb)
    # bands after an edge's first whole one hold the whole edge
    street[1:] += np.cumsum(np.bincount(first_whole[whole_e],
                                        weights=net.edge_length_m[whole_e],
                                        minlength=nb))[:-1]
    return Pieces(pieces.group[keep], pieces.edge[keep], pieces.start_m[keep],
                  pieces.end_m[keep]), street


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


def snap_from_frame(net: WalkNetwork, frame: pd.DataFrame, *, where: str = "facilities") -> Snap:
    """The snapping of points from their published snap fields (``snap_u``, ``snap_v``,
    ``snap_key``, ``snap_along_m``, ``snap_dist_m``, ``snap_status``; ``snap_alt`` when
    present), matched to ``net``'s edges by (u, v, key); points whose edge is missing from
    ``net`` are unsnapped."""
    from .._errors import InputError

    n = len(frame)
    missing = [c for c in ("snap_u", "snap_v", "snap_key", "snap_along_m", "snap_dist_m")
               if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: no snap fields {missing} (columns: {', '.join(map(str, frame.columns))}); "
            "rerun `lifecircle run` with a current version"
        )
    edge = np.full(n, -1, dtype=np.int64)
    u = pd.to_numeric(frame["snap_u"], errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(u)
    if ok.any():
        ids = frame["snap_edge_id"].to_numpy()[ok] if "snap_edge_id" in frame.columns else None
        edge[np.flatnonzero(ok)] = edges_named(
            net, ids, *(frame[c].to_numpy()[ok].astype(np.int64) for c in ("snap_u", "snap_v",
                                                                             "snap_key")))
    along = frame["snap_along_m"].to_numpy(dtype=np.float64)
    dist = frame["snap_dist_m"].to_numpy(dtype=np.float64)
    status = (frame["snap_status"].astype(object).to_numpy() if "snap_status" in frame.columns
              else np.where(edge >= 0, "snapped", "unreachable"))
    alt = parse_alt(frame["snap_alt"], net) if "snap_alt" in frame.columns else None
    return Snap(edge, np.where(edge >= 0, along, np.nan), np.where(edge >= 0, dist, np.nan),
                status, alt=alt)
