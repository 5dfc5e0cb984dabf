"""Shortest walking distances: one multi-source bounded search per category.

All facilities of a category are searched from at once. Each facility becomes a virtual node
with two arcs, to the ends of the edge it snapped to, weighted by its off-network leg plus the
distance along the edge to that end; ``scipy.sparse.csgraph.dijkstra`` then runs once from all
virtual nodes with ``min_only=True``. That is exact (the same distances as one search per
facility followed by a minimum) and costs about one bounded Dijkstra whatever the number of
facilities; the ``sources`` it returns name the nearest facility of every node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .network import WalkNetwork
from .snapping import Snap

__all__ = ["NodeDistances", "multi_source", "point_distances", "seed_arcs"]


@dataclass(frozen=True)
class NodeDistances:
    """Distance from every node to its nearest source, and which source that is.

    ``dist_m`` is ``inf`` beyond the search limit or where no source is connected;
    ``source`` is the index of the nearest source point (-1 where unreached).
    """

    dist_m: np.ndarray
    source: np.ndarray
    limit_m: float


def seed_arcs(net: WalkNetwork, snap: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs from snapped points to the ends of their edges: (point index, node, metres).

    A point at ``along`` on edge (u, v) of length L with leg ``s`` reaches u after
    ``s + along`` and v after ``s + L - along``; a self-loop gives one arc at the shorter.
    """
    ok = np.flatnonzero(snap.ok)
    e = snap.edge[ok]
    u = net.edge_u[e].astype(np.int64)
    v = net.edge_v[e].astype(np.int64)
    length = net.edge_length_m[e]
    a = snap.along_m[ok]
    s = snap.dist_m[ok]
    to_u = s + a
    to_v = s + (length - a)
    loop = u == v
    to_u = np.where(loop, np.minimum(to_u, to_v), to_u)
    point = np.concatenate([ok, ok[~loop]])
    node = np.concatenate([u, v[~loop]])
    dist = np.concatenate([to_u, to_v[~loop]])
    return point, node, dist


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
    base = net.csr
    n_virtual = used.shape[0]
    counts = np.bincount(virt, minlength=n_virtual)
    idx_dtype = base.indices.dtype
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)]).astype(idx_dtype)
    indices = np.concatenate([base.indices, node.astype(idx_dtype)])
    data = np.concatenate([base.data, dist])
    size = n + n_virtual
    graph = sp.csr_matrix((data, indices, indptr), shape=(size, size))
    d, _, src = dijkstra(
        graph,
        directed=True,
        indices=np.arange(n, size),
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
    where unreachable or beyond ``nodes.limit_m``.
    """
    m = len(points)
    out = np.full(m, np.inf)
    which = np.full(m, -1, dtype=np.int64)
    ok = np.flatnonzero(points.ok)
    if ok.size:
        e = points.edge[ok]
        u = net.edge_u[e]
        v = net.edge_v[e]
        a = points.along_m[ok]
        s = points.dist_m[ok]
        via_u = nodes.dist_m[u] + a
        via_v = nodes.dist_m[v] + (net.edge_length_m[e] - a)
        use_v = via_v < via_u
        best = np.where(use_v, via_v, via_u) + s
        src = np.where(use_v, nodes.source[v], nodes.source[u])
        out[ok] = best
        which[ok] = np.where(np.isfinite(best), src, -1)

        # sources on the same edge reach the point directly along it
        s_ok = np.flatnonzero(sources.ok)
        if s_ok.size:
            shared = np.isin(e, sources.edge[s_ok])
            if shared.any():
                pts = pd.DataFrame(
                    {"p": ok[shared], "edge": e[shared], "a": a[shared], "s": s[shared]}
                )
                src_df = pd.DataFrame(
                    {
                        "f": s_ok,
                        "edge": sources.edge[s_ok],
                        "fa": sources.along_m[s_ok],
                        "fs": sources.dist_m[s_ok],
                    }
                )
                pairs = pts.merge(src_df, on="edge")
                pairs["d"] = pairs["s"] + pairs["fs"] + (pairs["a"] - pairs["fa"]).abs()
                pairs = pairs.sort_values(["p", "d", "f"]).drop_duplicates("p")
                p_idx = pairs["p"].to_numpy()
                d_direct = pairs["d"].to_numpy()
                better = d_direct < out[p_idx]
                out[p_idx[better]] = d_direct[better]
                which[p_idx[better]] = pairs["f"].to_numpy()[better]
    beyond = out > nodes.limit_m
    out[beyond] = np.inf
    which[beyond] = -1
    return out, which
