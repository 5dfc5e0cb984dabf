"""Shortest walking distances: one multi-source bounded search per category.

All facilities of a category are searched from at once. Each facility becomes a virtual node
with two arcs, to the ends of the edge it snapped to, weighted by its off-network leg plus the
distance along the edge to that end; ``scipy.sparse.csgraph.dijkstra`` then runs once from all
virtual nodes with ``min_only=True``. That is exact (the same distances as one search per
facility followed by a minimum) and costs about one bounded Dijkstra whatever the number of
facilities; the ``sources`` it returns name the nearest facility of every node.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .network import WalkNetwork
from .snapping import Snap

__all__ = ["NodeDistances", "multi_source", "on_usable", "point_distances", "seed_arcs"]


@dataclass(frozen=True)
class NodeDistances:
    """Distance from every node to its nearest source, and which source that is.

    ``dist_m`` is ``inf`` beyond the search limit or where no source is connected;
    ``source`` is the index of the nearest source point (-1 where unreached).
    """

    dist_m: np.ndarray
    source: np.ndarray
    limit_m: float


def _direction_ratios(net: WalkNetwork, e: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Equivalent metres per metre walked along edges ``e``, u -> v and v -> u (slope only).

    ``None`` on a flat network, where every position along an edge costs its metres.
    """
    if net.edge_weight_uv is None or net.edge_weight_vu is None:
        return None
    length = net.edge_length_m[e]
    with np.errstate(divide="ignore", invalid="ignore"):
        r_uv = np.where(length > 0, net.edge_weight_uv[e] / length, 1.0)
        r_vu = np.where(length > 0, net.edge_weight_vu[e] / length, 1.0)
    return r_uv, r_vu


def on_usable(net: WalkNetwork, snap: Snap) -> np.ndarray:
    """Indices of snapped points whose edge the network may use.

    On a restricted group's view (``net.edge_usable``) a point snapped onto a barred edge
    (steps, say) reaches neither end: the snap is shared by all groups, and walking along a
    barred edge is what the group cannot do.
    """
    ok = np.flatnonzero(snap.ok)
    if net.edge_usable is not None and ok.size:
        ok = ok[net.edge_usable[snap.edge[ok]]]
    return ok


def seed_arcs(
    net: WalkNetwork, snap: Snap, *, walk_from: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs from snapped points to the ends of their edges: (point index, node, metres).

    A point at ``along`` on edge (u, v) of length L with leg ``s`` reaches u after
    ``s + along`` and v after ``s + L - along``; a self-loop gives one arc at the shorter.
    The points are facilities that residents walk *to*: on a sloped network the part of
    the edge from u to the point weighs as the edge does u -> v (and from v, v -> u).
    A point with alternative snaps (near-tied edges) has arcs from each of them.
    With ``walk_from`` the points are where walks start (residents): from the point to u
    weighs as v -> u, to v as u -> v.
    """
    snap, owner = snap.candidates()
    ok = on_usable(net, snap)
    e = snap.edge[ok]
    u = net.edge_u[e].astype(np.int64)
    v = net.edge_v[e].astype(np.int64)
    length = net.edge_length_m[e]
    a = snap.along_m[ok]
    s = snap.dist_m[ok]
    ratios = _direction_ratios(net, e)
    if ratios is None:
        to_u = s + a
        to_v = s + (length - a)
    else:
        r_u, r_v = (ratios[1], ratios[0]) if walk_from else ratios
        to_u = s + a * r_u
        to_v = s + (length - a) * r_v
    loop = u == v
    to_u = np.where(loop, np.minimum(to_u, to_v), to_u)
    point = owner[np.concatenate([ok, ok[~loop]])]
    node = np.concatenate([u, v[~loop]])
    dist = np.concatenate([to_u, to_v[~loop]])
    return point, node, dist


class _SeedBuffer:
    """The network's CSR with room for virtual source rows appended after it.

    The base arcs are copied in once; each search writes only its virtual rows into the tail
    and wraps views of the buffers in a ``csr_matrix`` (no copy), so a search costs what a bare
    scipy multi-source pass costs instead of adding a copy of every arc. Guarded by a lock:
    one network serves one search at a time.
    """

    def __init__(self, base: sp.csr_matrix) -> None:
        self.n = base.shape[0]
        self.nnz = base.nnz
        self.dtype = base.indices.dtype
        self.base = base
        self.capacity = 0
        self.lock = threading.Lock()
        self._grow(1024)

    def _grow(self, arcs: int) -> None:
        cap = max(arcs, 2 * self.capacity)
        indptr = np.empty(self.n + 1 + cap, dtype=self.dtype)
        indptr[: self.n + 1] = self.base.indptr
        indices = np.empty(self.nnz + cap, dtype=self.dtype)
        indices[: self.nnz] = self.base.indices
        data = np.empty(self.nnz + cap, dtype=np.float64)
        data[: self.nnz] = self.base.data
        self.indptr, self.indices, self.data, self.capacity = indptr, indices, data, cap

    def graph(self, virt: np.ndarray, node: np.ndarray, dist: np.ndarray,
              n_virtual: int) -> sp.csr_matrix:
        """The base graph plus ``n_virtual`` rows whose arcs are (virt -> node, dist)."""
        if node.shape[0] > self.capacity or n_virtual > self.capacity:
            self._grow(max(node.shape[0], n_virtual))
        counts = np.bincount(virt, minlength=n_virtual)
        end_ptr = self.n + 1 + n_virtual
        np.cumsum(counts, out=self.indptr[self.n + 1 : end_ptr])
        self.indptr[self.n + 1 : end_ptr] += self.nnz
        end = self.nnz + node.shape[0]
        self.indices[self.nnz : end] = node
        self.data[self.nnz : end] = dist
        size = self.n + n_virtual
        return sp.csr_matrix(
            (self.data[:end], self.indices[:end], self.indptr[:end_ptr]), shape=(size, size)
        )


def _seed_buffer(net: WalkNetwork) -> _SeedBuffer:
    buf = net.__dict__.get("_seed_buffer")
    # facilities are the sources; on a sloped (directed) network the search runs on the
    # reversed arcs, because residents walk to them
    if buf is None or buf.base is not net.search_csr:
        buf = _SeedBuffer(net.search_csr)
        net.__dict__["_seed_buffer"] = buf
    return buf


def multi_source(net: WalkNetwork, sources: Snap, *, limit_m: float) -> NodeDistances:
    """Distance from every node to the nearest of the snapped ``sources`` (one search).

    Parameters
    ----------
    net
        The walking network.
    sources
        Snapped source points (facilities); unreachable ones are ignored.
    limit_m
        Search radius in metres, off-network legs included; nodes beyond are ``inf``.
    """
    n = net.n_nodes
    point, node, dist = seed_arcs(net, sources)
    if point.size == 0:
        return NodeDistances(np.full(n, np.inf), np.full(n, -1, dtype=np.int64), limit_m)
    # one virtual node per source point, numbered n, n+1, ...; rows sorted by virtual node
    used, virt = np.unique(point, return_inverse=True)
    order = np.argsort(virt, kind="stable")
    virt, node, dist = virt[order], node[order], dist[order]
    n_virtual = used.shape[0]
    buf = _seed_buffer(net)
    with buf.lock:
        graph = buf.graph(virt, node, dist, n_virtual)
        d, _, src = dijkstra(
            graph,
            directed=True,
            indices=np.arange(n, n + n_virtual),
            min_only=True,
            limit=limit_m,
            return_predecessors=True,
        )
    src = src[:n].astype(np.int64)
    reached = src >= 0
    source = np.full(n, -1, dtype=np.int64)
    source[reached] = used[src[reached] - n]
    return NodeDistances(d[:n], source, limit_m)


def point_distances(
    net: WalkNetwork,
    nodes: NodeDistances,
    sources: Snap,
    points: Snap,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each snapped point to its nearest source, and that source's index.

    A point at ``along`` on edge (u, v) with leg ``s`` is reached through u at
    ``d[u] + along + s`` or through v at ``d[v] + L - along + s``; a source on the same edge
    also reaches it directly along the edge. Returns ``(dist_m, source)`` with ``inf`` / -1
    where unreachable or beyond ``nodes.limit_m``. Points and sources with alternative snaps
    take the shortest over all of them.
    """
    sources, s_owner = sources.candidates()
    points, p_owner = points.candidates()
    m = len(points)
    out = np.full(m, np.inf)
    which = np.full(m, -1, dtype=np.int64)
    ok = on_usable(net, points)
    if ok.size:
        e = points.edge[ok]
        u = net.edge_u[e]
        v = net.edge_v[e]
        a = points.along_m[ok]
        s = points.dist_m[ok]
        ratios = _direction_ratios(net, e)
        if ratios is None:
            via_u = nodes.dist_m[u] + a
            via_v = nodes.dist_m[v] + (net.edge_length_m[e] - a)
        else:
            # the resident walks from its position to u against the edge's direction
            via_u = nodes.dist_m[u] + a * ratios[1]
            via_v = nodes.dist_m[v] + (net.edge_length_m[e] - a) * ratios[0]
        use_v = via_v < via_u
        best = np.where(use_v, via_v, via_u) + s
        src = np.where(use_v, nodes.source[v], nodes.source[u])
        out[ok] = best
        which[ok] = np.where(np.isfinite(best), src, -1)

        # sources on the same edge reach the point directly along it
        s_ok = on_usable(net, sources)
        if s_ok.size:
            s_ok = s_ok[np.argsort(sources.edge[s_ok], kind="stable")]
            s_edge = sources.edge[s_ok]
            lo = np.searchsorted(s_edge, e, side="left")
            hi = np.searchsorted(s_edge, e, side="right")
            has = np.flatnonzero(hi > lo)
            if has.size:
                # every (point, source) pair on a shared edge, expanded with np.repeat
                reps = (hi - lo)[has]
                p_rel = np.repeat(has, reps)
                offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
                f = s_ok[np.repeat(lo[has], reps) + offs]
                gap = sources.along_m[f] - a[p_rel]
                if ratios is not None:
                    # towards v (gap > 0) the edge weighs u -> v, towards u v -> u
                    gap = np.where(gap > 0, gap * ratios[0][p_rel], -gap * ratios[1][p_rel])
                direct = s[p_rel] + sources.dist_m[f] + np.abs(gap)
                p_idx = ok[p_rel]
                # lowest distance per point (ties: lowest source index)
                order = np.lexsort((f, direct, p_idx))
                p_idx, direct, f = p_idx[order], direct[order], f[order]
                first = np.ones(p_idx.shape[0], dtype=bool)
                first[1:] = p_idx[1:] != p_idx[:-1]
                p_idx, direct, f = p_idx[first], direct[first], f[first]
                better = direct < out[p_idx]
                out[p_idx[better]] = direct[better]
                which[p_idx[better]] = s_owner[f[better]]
    beyond = out > nodes.limit_m
    out[beyond] = np.inf
    which[beyond] = -1
    return _min_per_owner(out, which, p_owner)


def _min_per_owner(
    dist: np.ndarray, which: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the shortest over its snaps (primary first, so ties keep the primary)."""
    n = int(owner.max()) + 1 if owner.size else 0
    if owner.shape[0] == n:
        return dist, which
    order = np.lexsort((np.arange(owner.shape[0]), dist, owner))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    best = order[first]
    return dist[best], which[best]
