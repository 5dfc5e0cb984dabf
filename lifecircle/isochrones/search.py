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


def _edge_bands(edge_u: np.ndarray, edge_v: np.ndarray, length: np.ndarray,
                r_uv: np.ndarray, r_vu: np.ndarray, usable: np.ndarray, dist: np.ndarray,
                budgets: np.ndarray, src_ptr: np.ndarray, src_group: np.ndarray,
                src_start: np.ndarray,
                src_end: np.ndarray) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    """:func:`banded_stretches`' pieces edge by edge: (band, edge, start, end) by band, edge
    and start, and each edge's first band where it is whole (``len(budgets)`` when none).

    Per edge (those with an end within the last budget, or a source: ``src_ptr`` holds the
    source rows of each edge) and band ``j`` from the lowest: the stretch from each end
    within ``budgets[j]`` (``[0, reach]`` from u, ``[length - reach, length]`` from v, the
    reach ``min((budgets[j] - d) / ratio, length)``; ``r_uv`` empty on a flat network,
    ``usable`` empty on the whole network) and the sources' own stretches of band ``j``,
    sorted by start and merged where they overlap or touch; the edge's bands stop at its
    first whole one. The rows come out edge by edge and are then laid out band by band (a
    stable counting sort)."""
    n_edges = length.shape[0]
    nb = budgets.shape[0]
    top = budgets[nb - 1]
    sloped = r_uv.shape[0] > 0
    masked = usable.shape[0] > 0
    n_cand = 0
    for e in range(n_edges):
        if src_ptr[e + 1] > src_ptr[e] or ((not masked or usable[e]) and (
                dist[edge_u[e]] <= top or dist[edge_v[e]] <= top)):
            n_cand += 1
    cap = n_cand * nb * 2 + src_ptr[n_edges]
    o_band = np.empty(cap, dtype=np.int64)
    o_edge = np.empty(cap, dtype=np.int64)
    o_start = np.empty(cap)
    o_end = np.empty(cap)
    first_whole = np.full(n_edges, nb, dtype=np.int64)
    per_band = np.zeros(nb + 1, dtype=np.int64)
    n_src_max = 0
    for e in range(n_edges):
        n_src_max = max(n_src_max, src_ptr[e + 1] - src_ptr[e])
    st = np.empty(n_src_max + 2)
    en = np.empty(n_src_max + 2)
    m = 0
    for e in range(n_edges):
        walk = not masked or usable[e]
        du = dist[edge_u[e]]
        dv = dist[edge_v[e]]
        if src_ptr[e + 1] == src_ptr[e] and not (walk and (du <= top or dv <= top)):
            continue
        le = length[e]
        for j in range(nb):
            b = budgets[j]
            k = 0
            if walk and du <= b:
                left = b - du
                if sloped:
                    left = left / r_vu[e]
                st[k] = 0.0
                en[k] = min(left, le)
                k += 1
            if walk and dv <= b:
                left = b - dv
                if sloped:
                    left = left / r_uv[e]
                st[k] = le - min(left, le)
                en[k] = le
                k += 1
            for r in range(src_ptr[e], src_ptr[e + 1]):
                if src_group[r] == j:
                    st[k] = src_start[r]
                    en[k] = src_end[r]
                    k += 1
            # by start (a handful of stretches), then merged into the first of each run
            for a in range(1, k):
                s0 = st[a]
                e0 = en[a]
                c = a
                while c > 0 and st[c - 1] > s0:
                    st[c] = st[c - 1]
                    en[c] = en[c - 1]
                    c -= 1
                st[c] = s0
                en[c] = e0
            whole = False
            a = 0
            while a < k:
                s0 = st[a]
                e0 = en[a]
                a += 1
                while a < k and st[a] <= e0:
                    if en[a] > e0:
                        e0 = en[a]
                    a += 1
                o_band[m] = j
                o_edge[m] = e
                o_start[m] = s0
                o_end[m] = e0
                m += 1
                per_band[j + 1] += 1
                if s0 <= 0 and e0 >= le:
                    whole = True
            if whole:
                first_whole[e] = j
                break
    for j in range(nb):
        per_band[j + 1] += per_band[j]
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        j = o_band[i]
        order[per_band[j]] = i
        per_band[j] += 1
    return o_band[order], o_edge[order], o_start[order], o_end[order], first_whole


@cache
def _edge_bands_kernel() -> Any:
    return compile_kernel(_edge_bands)


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

    The stretches a band polygon needs, as :func:`_stretches` of every node in every band
    that reaches it would give them merged, without a band's stretches of an edge already
    whole in an earlier band (every later band holds that whole edge, which the grid has from
    the earlier band). ``street_m`` still counts every band's whole reach, those whole edges
    included. One compiled pass over the edges (:func:`_edge_bands`) instead of numpy rows of
    every (reached node, incident edge, band), their counting sort and merge: on the
    268,569-node mosaic the five categories' streamed rings took 6.0-6.1 -> 5.3 s CPU
    (``scripts/bench_isochrones.py --city``), the same WKB.
    """
    nb = budgets_m.shape[0]
    ratios = _direction_ratios(net, np.arange(net.n_edges))
    empty = np.zeros(0)
    s_start, s_end = _source_stretch(net, src_edge, src_along_m, src_left_m)
    order = np.argsort(src_edge, kind="stable")
    src_ptr = np.zeros(net.n_edges + 1, dtype=np.int64)
    np.cumsum(np.bincount(src_edge, minlength=net.n_edges), out=src_ptr[1:])
    band, edge, start, end, first_whole = _edge_bands_kernel()(
        net.edge_u, net.edge_v, np.ascontiguousarray(net.edge_length_m, dtype=np.float64),
        empty if ratios is None else ratios[0], empty if ratios is None else ratios[1],
        np.zeros(0, bool) if net.edge_usable is None else net.edge_usable,
        np.ascontiguousarray(dist_m, dtype=np.float64),
        np.ascontiguousarray(budgets_m, dtype=np.float64), src_ptr,
        np.ascontiguousarray(src_group[order], dtype=np.int64),
        np.ascontiguousarray(s_start[order], dtype=np.float64),
        np.ascontiguousarray(s_end[order], dtype=np.float64))
    whole_e = np.flatnonzero(first_whole < nb)
    street = np.bincount(band, weights=end - start, minlength=nb)
    # bands after an edge's first whole one hold the whole edge
    street[1:] += np.cumsum(np.bincount(first_whole[whole_e],
                                        weights=net.edge_length_m[whole_e],
                                        minlength=nb))[:-1]
    return Pieces(band, edge, start, end), street


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
