"""Snap points onto the nearest walkable edge: (edge, position along it, off-network leg).

Points snap to edges, not nodes: a block in the middle of a long street reaches the street
where it stands. A point farther than ``max_snap_m`` from every edge is unreachable, with the
distance to the nearest edge in its reason, never snapped to a faraway street.

Two refinements keep the walk from depending on an arbitrary choice of street:

- **Near ties.** Every edge within ``TIE_REL`` (5 %) of the leg to the nearest one is kept as
  an alternative snap of the point (``Snap.alt``). Searches seed from all of a facility's
  snaps and a point's time is the minimum over all of its snaps, each with its own leg, so a
  shop 49.79 m from one street and 50.21 m from the parallel one is reached from whichever
  gives the shorter walk. Why relative: where a point stands is uncertain in proportion to its
  distance from the street (a block's representative point, a geocoded address), and a
  relative tolerance is scale-free like the rest of the model (lengths and speed ×k give the
  same minutes; an absolute floor such as 1 m would break that). Every alternative is a walk
  that can be made (straight to that street, at its own leg), so no time is shortened below a
  real walk; the tolerance only bounds the work. Points right on a junction need no floor:
  their candidates project onto the same node and are merged.
- **Fragments.** A point whose nearest edge lies in a *fragment* (a connected part of at most
  ``FRAGMENT_MAX_NODES`` nodes that is not the network's largest part: an isolated footway or
  a mapping gap, which cannot carry a walk anywhere) snaps instead to the nearest edge of any
  other part, if that is within ``max_snap_m``. ``Snap.rule`` records which rule was used.

Output contract: a point's primary snap is in ``snap_u`` .. ``snap_dist_m`` as before; its
alternatives are in ``snap_alt``, a JSON list of objects with the same field names (plus
``snap_edge_id``), or empty. A time is the shortest walk over all snaps of both ends.
"""

from __future__ import annotations

import json
from dataclasses import KW_ONLY, dataclass
from itertools import chain
from operator import itemgetter

import numpy as np
import pandas as pd
import shapely

from ._edge_grid import EdgeGrid, edge_grid, locate
from ._memory import no_cyclic_gc
from .columns import SNAP_FIELDS
from .network import WalkNetwork

__all__ = [
    "FRAGMENT_MAX_NODES",
    "RULE_NEAREST",
    "RULE_PAST_FRAGMENT",
    "TIE_REL",
    "AltSnaps",
    "Snap",
    "edges_by_key",
    "edges_named",
    "parse_alt",
    "rank_candidates",
    "release_index",
    "snap_points",
]

SNAPPED = "snapped"
#: distances closer than this (metres) are equal: the primary snap is the lowest such edge
_TIE_M = 1e-6
#: alternative snaps: edges within TIE_REL * leg of the nearest one
TIE_REL = 0.05
#: a connected part of at most this many nodes (other than the largest) is a fragment
FRAGMENT_MAX_NODES = 4
#: ``snap_rule`` values: the nearest edge, or the nearest edge beyond a fragment
RULE_NEAREST = "nearest"
RULE_PAST_FRAGMENT = "past_fragment"
#: the keys of one alternative in ``snap_alt`` (the primary snap's field names)
_ALT_KEYS = (*SNAP_FIELDS, "snap_edge_id")
#: one alternative as json.dumps writes its dict
_ALT_TEMPLATE = "{{" + ", ".join(f'"{k}": {{}}' for k in _ALT_KEYS) + "}}"
#: the nearest edge is looked for within rings of growing radius (metres) ...
RING_START_M = 40.0
#: ... up to this one; points with no edge in it ask the tree for their nearest edge
RING_MAX_M = 320.0
#: an edge counts as inside a ring when clearly so (the ring test and the distance are
#: different GEOS computations: the last bits may disagree right at the radius)
_RING_SAFE = 1.0 - 1e-9


@dataclass(frozen=True)
class AltSnaps:
    """Alternative snaps: ``point[k]`` may also start on ``edge[k]`` at ``along_m[k]``."""

    point: np.ndarray
    edge: np.ndarray
    along_m: np.ndarray
    dist_m: np.ndarray

    @classmethod
    def empty(cls) -> AltSnaps:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0))


@dataclass(frozen=True)
class Snap:
    """Snapping of ``n`` points.

    ``edge`` is -1 for unreachable points, whose ``along_m`` and ``dist_m`` are NaN and whose
    ``status`` says why. ``rule`` (optional) names the snapping rule per point; ``alt``
    (optional) holds alternative snaps of near-tied edges (see the module's docstring).
    """

    edge: np.ndarray
    along_m: np.ndarray
    dist_m: np.ndarray
    status: np.ndarray
    _: KW_ONLY
    rule: np.ndarray | None = None
    alt: AltSnaps | None = None

    @property
    def ok(self) -> np.ndarray:
        return self.edge >= 0

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    def subset(self, mask: np.ndarray) -> Snap:
        """The points selected by ``mask`` (booleans or indices), with their alternatives."""
        mask = np.asarray(mask)
        take = np.flatnonzero(mask) if mask.dtype == bool else mask.astype(np.int64)
        rule = None if self.rule is None else self.rule[take]
        alt = None
        if self.alt is not None:
            new_pos = np.full(len(self), -1, dtype=np.int64)
            new_pos[take] = np.arange(take.shape[0])
            pos = new_pos[self.alt.point]
            keep = pos >= 0
            alt = AltSnaps(pos[keep], self.alt.edge[keep], self.alt.along_m[keep],
                           self.alt.dist_m[keep])
        return Snap(self.edge[take], self.along_m[take], self.dist_m[take], self.status[take],
                    rule=rule, alt=alt)

    def candidates(self) -> tuple[Snap, np.ndarray]:
        """Every snap as a flat :class:`Snap` (primaries first, then alternatives) and the
        index of the point each belongs to. Without alternatives: ``(self, arange(n))``."""
        n = len(self)
        if self.alt is None or self.alt.point.size == 0:
            return self, np.arange(n, dtype=np.int64)
        k = self.alt.point.shape[0]
        flat = Snap(
            np.concatenate([self.edge, self.alt.edge]),
            np.concatenate([self.along_m, self.alt.along_m]),
            np.concatenate([self.dist_m, self.alt.dist_m]),
            np.concatenate([self.status, np.full(k, SNAPPED, dtype=object)]),
        )
        return flat, np.concatenate([np.arange(n, dtype=np.int64), self.alt.point])

    @classmethod
    def from_columns(cls, frame: pd.DataFrame) -> Snap:
        """The snapping a layer carries in its columns (``snap_edge_id``, ``snap_along_m``,
        ``snap_dist_m``, ``snap_status`` and, when present, ``snap_rule`` and ``snap_alt``,
        as :meth:`fields` writes them)."""
        rule = frame["snap_rule"].to_numpy(dtype=object) if "snap_rule" in frame else None
        alt = parse_alt(frame["snap_alt"]) if "snap_alt" in frame else None
        return cls(
            edge=frame["snap_edge_id"].fillna(-1).to_numpy(dtype=np.int64),
            along_m=frame["snap_along_m"].to_numpy(dtype=np.float64),
            dist_m=frame["snap_dist_m"].to_numpy(dtype=np.float64),
            status=frame["snap_status"].to_numpy(dtype=object),
            rule=rule,
            alt=alt,
        )

    def fields(self, net: WalkNetwork) -> pd.DataFrame:
        """The output snap fields, naming edges by ``(u, v, key)`` of the ``edges`` layer."""
        ok = self.ok
        e = np.where(ok, self.edge, 0)
        u = pd.array(np.where(ok, net.node_id[net.edge_u[e]], 0), dtype="Int64")
        v = pd.array(np.where(ok, net.node_id[net.edge_v[e]], 0), dtype="Int64")
        k = pd.array(np.where(ok, net.edge_key[e], 0), dtype="Int64")
        u[~ok] = pd.NA
        v[~ok] = pd.NA
        k[~ok] = pd.NA
        edge_id = pd.array(np.where(ok, self.edge, 0), dtype="Int64")
        edge_id[~ok] = pd.NA
        rule = np.full(len(self), None, dtype=object)
        rule[ok] = RULE_NEAREST if self.rule is None else self.rule[ok]
        return pd.DataFrame(
            {
                SNAP_FIELDS[0]: u,
                SNAP_FIELDS[1]: v,
                SNAP_FIELDS[2]: k,
                SNAP_FIELDS[3]: self.along_m,
                SNAP_FIELDS[4]: self.dist_m,
                "snap_edge_id": edge_id,
                "snap_status": self.status,
                "snap_rule": rule,
                "snap_alt": self._alt_json(net),
            }
        )

    def _alt_json(self, net: WalkNetwork) -> np.ndarray:
        out = np.full(len(self), None, dtype=object)
        if self.alt is None or self.alt.point.size == 0:
            return out
        a = self.alt
        values = [net.node_id[net.edge_u[a.edge]].tolist(),
                  net.node_id[net.edge_v[a.edge]].tolist(), net.edge_key[a.edge].tolist(),
                  a.along_m.tolist(), a.dist_m.tolist(), a.edge.tolist()]
        if np.isfinite(a.along_m).all() and np.isfinite(a.dist_m).all():
            # what json.dumps writes for these ints and finite floats (their repr), without
            # a dict per alternative (a city's access points have 10^4-10^5)
            items = list(map(_ALT_TEMPLATE.format, *values))
        else:
            items = [json.dumps(dict(zip(_ALT_KEYS, row, strict=True)))
                     for row in zip(*values, strict=True)]
        lists: dict[int, list[str]] = {}
        for p, item in zip(a.point.tolist(), items, strict=True):
            lists.setdefault(p, []).append(item)
        for p, texts in lists.items():
            out[p] = "[" + ", ".join(texts) + "]"
        return out


def edges_by_key(net: WalkNetwork, u: np.ndarray, v: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Index of the edge ``(u, v, key)`` (node ids as in the ``edges`` layer), -1 if absent."""
    # only the edges out of the asked u nodes are indexed (a few thousand asked against a
    # city's edges: the index of all of them took most of the time), in edge order
    u_id = net.node_id[net.edge_u]
    cand = np.flatnonzero(np.isin(u_id, u))
    keys = pd.MultiIndex.from_arrays(
        [u_id[cand], net.node_id[net.edge_v[cand]], net.edge_key[cand].astype(np.int64)])
    lookup = pd.Series(cand, index=keys)
    lookup = lookup[~lookup.index.duplicated()]
    found = lookup.reindex(pd.MultiIndex.from_arrays([u, v, key])).to_numpy(dtype=np.float64)
    return np.where(np.isfinite(found), found, -1).astype(np.int64)


def edges_named(net: WalkNetwork, ids: np.ndarray | None, u: np.ndarray, v: np.ndarray,
                key: np.ndarray) -> np.ndarray:
    """The edges of ``net`` named ``(u, v, key)`` (:func:`edges_by_key`), read from their
    published ``snap_edge_id`` values ``ids`` where every one is an edge of ``net`` with
    those (u, v, key).

    A run's own network numbers its edges as its ``edges`` layer does and (u, v, key) names
    one edge in it (keys number parallel edges), so the ids are the edges
    :func:`edges_by_key` finds, without its index of the city's edges (~0.2 s at 268k
    nodes); a network built otherwise (a group's usable edges) falls back to the keys."""
    if ids is not None and ids.shape[0] == u.shape[0]:
        f = pd.to_numeric(pd.Series(ids), errors="coerce").to_numpy(dtype=np.float64)
        if np.isfinite(f).all() and ((f >= 0) & (f < net.n_edges)).all():
            e = f.astype(np.int64)
            if (np.array_equal(net.node_id[net.edge_u[e]], u)
                    and np.array_equal(net.node_id[net.edge_v[e]], v)
                    and np.array_equal(net.edge_key[e].astype(np.int64), key)):
                return e
    return edges_by_key(net, u, v, key)


def parse_alt(column: pd.Series, net: WalkNetwork | None = None) -> AltSnaps:
    """The alternative snaps in a ``snap_alt`` column (JSON text per row, or empty).

    Edges are ``snap_edge_id``; with ``net``, they are matched by ``(snap_u, snap_v,
    snap_key)`` instead (a network rebuilt from the ``edges`` layer), and alternatives whose
    edge ``net`` lacks are dropped.
    """
    text = column.to_numpy(dtype=object)
    has = np.flatnonzero(pd.notna(text) & (text != ""))
    # the whole column in one parse, not one a row (a city's facilities: ~10^4 rows)
    lists = json.loads("[" + ",".join(text[has].tolist()) + "]")
    items = list(chain.from_iterable(lists))
    if not items:
        return AltSnaps.empty()
    point = np.repeat(has, np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)))

    def values(key: str, kind: type) -> np.ndarray:
        return np.fromiter(map(kind, map(itemgetter(key), items)), dtype=np.dtype(kind),
                           count=len(items))

    along, dist = values("snap_along_m", float), values("snap_dist_m", float)
    if net is None:
        edge = values("snap_edge_id", int).astype(np.int64)
    else:
        edge = edges_named(net, values("snap_edge_id", int).astype(np.int64)
                           if all("snap_edge_id" in it for it in items) else None,
                           *(values(k, int).astype(np.int64)
                             for k in ("snap_u", "snap_v", "snap_key")))
    keep = edge >= 0
    return AltSnaps(point[keep], edge[keep], along[keep], dist[keep])


def snap_points(
    net: WalkNetwork,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_snap_m: float | np.ndarray,
) -> Snap:
    """Snap projected points (in ``net.crs``) to their nearest edge, with near-tied ones.

    Parameters
    ----------
    net
        The walking network.
    x, y
        Point coordinates in the network's CRS.
    max_snap_m
        Points farther than this from every edge are unreachable; a scalar, or one value per
        point (block access points may walk to their own block's edge first).

    Returns
    -------
    Snap
        ``along_m`` is measured from the edge's ``u`` along its geometry and scaled to the
        edge's walking length; ``dist_m`` is the straight off-network leg. The primary snap
        is the nearest eligible edge (lowest index among exact ties); ``alt`` holds the other
        edges within the tie tolerance; ``rule`` says whether a fragment was passed over.
    """
    # the snap makes ~10 Python objects a point; with the collector on, each of its full
    # collections re-scans every object of the run (the OSM tables: a third of the snap's
    # time on a city). Nothing here forms a cycle.
    with no_cyclic_gc():
        return _snap_points(net, np.asarray(x, dtype=np.float64),
                            np.asarray(y, dtype=np.float64), max_snap_m)


def _snap_points(net: WalkNetwork, x: np.ndarray, y: np.ndarray,
                 max_snap_m: float | np.ndarray) -> Snap:
    n = x.shape[0]
    edge = np.full(n, -1, dtype=np.int64)
    along = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    status = np.full(n, SNAPPED, dtype=object)
    rule = np.full(n, None, dtype=object)
    finite = np.isfinite(x) & np.isfinite(y)
    status[~finite] = "unreachable: no valid coordinates"
    if n == 0 or net.n_edges == 0:
        return Snap(edge, along, dist, status, rule=rule, alt=AltSnaps.empty())

    grid = _grid(net)
    limit = np.broadcast_to(np.asarray(max_snap_m, dtype=np.float64), (n,))
    idx = np.flatnonzero(finite)
    lim = limit[idx]
    xy = np.stack([x[idx], y[idx]], axis=1)  # (no point geometries: the grid reads these)
    frag = _fragment_edges(net)
    # the nearest edges, and every edge within the ring that found them (see _rings)
    ring = _rings(net, xy, lim)
    p_i, e_i, d_i = ring.nearest()
    nearest = np.full(idx.shape[0], np.inf)
    np.minimum.at(nearest, p_i, d_i)
    # points whose nearest edges are all in fragments: the nearest edge of another part
    on_fragment = np.zeros(idx.shape[0], dtype=bool)
    passed = np.zeros(idx.shape[0], dtype=bool)
    if frag.any() and p_i.size:
        on_fragment[p_i] = True
        on_fragment[p_i[~frag[e_i]]] = False
        stuck = np.flatnonzero(on_fragment)
        if stuck.size:
            past = _rings(net, xy[stuck], lim[stuck], past_fragments=True)
            q, _, d_m = past.nearest()
            ok = d_m <= lim[stuck[q]]
            moved = stuck[q[ok]]
            nearest[moved] = d_m[ok]
            on_fragment[moved] = False
            passed[moved] = True

    # candidates: every eligible edge within the tie tolerance of the nearest eligible one
    has = np.flatnonzero(np.isfinite(nearest))
    reach_of = np.full(idx.shape[0], np.nan)
    reach_of[has] = np.maximum(np.minimum(nearest[has] * (1.0 + TIE_REL), lim[has]),
                               nearest[has] + _TIE_M)
    # the ring's pairs already hold every edge within its radius: a query only for the rest
    known = ring.covers(reach_of)
    known[passed] = False  # their reach is measured from an edge of another part
    ask = has[~known[has]]
    # (pairs farther than the reach are dropped with the others below)
    q_i, f_i, d_i = grid.within(xy[ask, 0], xy[ask, 1], reach_of[ask])
    use = known[ring.point]
    p_c = np.concatenate([ring.point[use], ask[q_i]])
    f_c = np.concatenate([ring.edge[use], f_i])
    d_c = np.concatenate([ring.dist[use], d_i])
    keep = (d_c <= reach_of[p_c]) & (~frag[f_c] | on_fragment[p_c])
    p_c, f_c, d_c = p_c[keep], f_c[keep], d_c[keep]
    frac = locate(net.edge_ptr, net.edge_coords, f_c, xy[p_c, 0], xy[p_c, 1])
    p_c, f_c, d_c, a_c, primary, alt = rank_candidates(net, idx.shape[0], p_c, f_c, d_c, frac)

    hit = idx[p_c[primary]]
    edge[hit] = f_c[primary]
    dist[hit] = d_c[primary]
    along[hit] = a_c[primary]
    rule[hit] = np.where(passed[p_c[primary]], RULE_PAST_FRAGMENT, RULE_NEAREST)
    alts = AltSnaps(idx[p_c[alt]].astype(np.int64), f_c[alt].astype(np.int64), a_c[alt],
                    d_c[alt])

    missed = idx[np.isin(np.arange(idx.shape[0]), p_c[primary], invert=True)]
    if missed.size:
        (got, _), dists = _tree(net).query_nearest(
            shapely.points(x[missed], y[missed]), return_distance=True, all_matches=False
        )
        # GEOS may answer fewer points than asked (degenerate, e.g. denormal, coordinates)
        far = np.full(missed.shape[0], np.nan)
        far[got] = dists
        for j, d_far in zip(missed, far, strict=True):
            status[j] = (
                f"unreachable: nearest walkable edge is {d_far:.0f} m away "
                f"(max_snap_m={limit[j]:g})" if np.isfinite(d_far) else
                f"unreachable: no walkable edge within max_snap_m={limit[j]:g}"
            )
    return Snap(edge, along, dist, status, rule=rule, alt=alts)


@dataclass(frozen=True)
class _Ring:
    """The nearest edges of some points, found within rings (see :func:`_rings`).

    ``point``, ``edge``, ``dist``: every eligible edge within ``radius[point]`` of its point
    (``radius`` NaN where the nearest edge came from the tree instead); ``near``: the rows of
    the nearest edges (all of those at exactly the least distance, within the point's limit).
    """

    point: np.ndarray
    edge: np.ndarray
    dist: np.ndarray
    radius: np.ndarray
    near: tuple[np.ndarray, np.ndarray, np.ndarray]

    def nearest(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, edge, distance) of every nearest edge, as ``query_nearest(...,
        all_matches=True)`` gives them, without those beyond the point's limit."""
        return self.near

    def covers(self, reach: np.ndarray) -> np.ndarray:
        """Per point: whether its pairs hold every eligible edge within ``reach`` of it."""
        with np.errstate(invalid="ignore"):
            return reach <= self.radius * _RING_SAFE


def _rings(net: WalkNetwork, xy: np.ndarray, lim: np.ndarray, *,
           past_fragments: bool = False) -> _Ring:
    """The nearest edges of points ``xy`` within ``lim`` (per point), outside fragments with
    ``past_fragments``.

    Why not the tree's nearest-neighbour search alone: it costs ~20 µs a point (a city's
    block access points: about a second), while most points lie within tens of metres of a
    street. So edges are asked for within a ring of :data:`RING_START_M` around each point,
    doubled for the points with none clearly inside it, up to :data:`RING_MAX_M`; the tree's
    search takes the rest (built only then). An edge inside the ring is an edge within that
    distance, so the least distance among them is the nearest edge's, measured with GEOS's
    arithmetic. The rings ask :mod:`lifecircle._edge_grid` (edges' envelopes in buckets,
    distances in the same pass): at a million nodes, building the edges' STRtree, a box a
    point and shapely's distance a pair cost ~2.5 s of a facilities' snap.
    """
    grid = _grid(net)
    eligible = ~_fragment_edges(net) if past_fragments else None
    n = xy.shape[0]
    radius = np.full(n, np.nan)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    near: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pend = np.arange(n)
    r = RING_START_M
    while pend.size and r <= RING_MAX_M:
        rad = np.minimum(r, lim[pend])
        capped = rad < r  # the point's limit is the last ring it needs
        q, e, d = grid.within(xy[pend, 0], xy[pend, 1], rad, eligible)
        best = np.full(pend.size, np.inf)
        np.minimum.at(best, q, d)
        done = capped | (best <= rad * _RING_SAFE)
        radius[pend[done & ~capped]] = rad[done & ~capped]
        mine = done[q]
        q, e, d = q[mine], e[mine], d[mine]
        rows.append((pend[q], e, d))
        tie = d == best[q]
        if capped.any():
            tie &= d <= lim[pend[q]]
        near.append((pend[q[tie]], e[tie], d[tie]))
        pend = pend[~done]
        r *= 2.0
    if pend.size:
        # beyond the last ring: the tree's own search (over the edges outside fragments)
        sub = np.flatnonzero(eligible) if eligible is not None else None
        search = _main_tree(net) if eligible is not None else _tree(net)
        (q, e), d = search.query_nearest(shapely.points(xy[pend]),
                                         max_distance=float(lim[pend].max()),
                                         return_distance=True, all_matches=True)
        ok = d <= lim[pend[q]]
        q, e, d = q[ok], e[ok], d[ok]
        near.append((pend[q], e if sub is None else sub[e], d))
    point, edge, dist = (np.concatenate([a[k] for a in rows]) if rows else
                         np.empty(0, np.int64 if k < 2 else np.float64) for k in range(3))
    p_n, e_n, d_n = (np.concatenate([a[k] for a in near]) if near else
                     np.empty(0, np.int64 if k < 2 else np.float64) for k in range(3))
    return _Ring(point, edge, dist, radius, (p_n, e_n, d_n))


def rank_candidates(
    net: WalkNetwork, n: int, p_c: np.ndarray, f_c: np.ndarray, d_c: np.ndarray,
    frac: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Order the candidate snaps of ``n`` points; pick each point's primary and alternatives.

    ``p_c``, ``f_c``, ``d_c``, ``frac``: candidate point, edge, leg and position along the
    edge's geometry (a fraction, as ``shapely.line_locate_point(..., normalized=True)``).
    Returns the candidates sorted (point, then exact ties by edge index, then leg) with their
    ``along_m`` on the edge's walking length, the mask of primaries and that of the
    alternatives kept.
    """
    best = np.full(n, np.inf)
    np.minimum.at(best, p_c, d_c)
    # primary first: exact ties (a micrometre: a street stored twice ties only up to the last
    # bit) rank by edge index, so the primary does not depend on the tree's internal order
    exact = d_c <= best[p_c] + _TIE_M
    order = np.lexsort((f_c, np.where(exact, 0.0, d_c), p_c))
    p_c, f_c, d_c, frac = p_c[order], f_c[order], d_c[order], frac[order]
    primary = np.ones(p_c.shape[0], dtype=bool)
    primary[1:] = p_c[1:] != p_c[:-1]
    frac = np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0)
    a_c = frac * net.edge_length_m[f_c]
    # alternatives that project onto an end node already reached by an earlier snap of the
    # same point (a point by a junction) add nothing: drop them
    node = np.where(frac <= 0.0, net.edge_u[f_c], np.where(frac >= 1.0, net.edge_v[f_c], -1))
    at_node = node >= 0
    dup = np.zeros(p_c.shape[0], dtype=bool)
    if at_node.any():
        w = np.flatnonzero(at_node)
        _, first = np.unique(np.stack([p_c[w], node[w]]), axis=1, return_index=True)
        dup[w] = True
        dup[w[first]] = False
    return p_c, f_c, d_c, a_c, primary, ~primary & ~dup


def _fragment_edges(net: WalkNetwork) -> np.ndarray:
    """Per edge: whether it lies in a fragment (see the module's docstring)."""
    frag = net.__dict__.get("_fragment_edges")
    if frag is None:
        comp = net.components
        sizes = np.bincount(comp)
        small = sizes <= FRAGMENT_MAX_NODES
        small[np.argmax(sizes)] = False
        frag = small[comp[net.edge_u]]
        net.__dict__["_fragment_edges"] = frag
    return frag


def _main_tree(net: WalkNetwork) -> shapely.STRtree:
    """A tree of the edges outside fragments (nearest and within-distance queries; the edge
    indices it returns are positions in that subset)."""
    tree = net.__dict__.get("_main_strtree")
    if tree is None:
        tree = shapely.STRtree(net.geometries[~_fragment_edges(net)])
        net.__dict__["_main_strtree"] = tree
    return tree


def release_index(net: WalkNetwork) -> None:
    """Drop the edge trees :func:`snap_points` keeps on ``net`` (rebuilt on the next snap):
    after the last snap of an analysis they are a city's largest idle objects."""
    for name in ("_strtree", "_main_strtree", "_edge_grid"):
        net.__dict__.pop(name, None)


def _tree(net: WalkNetwork) -> shapely.STRtree:
    tree = net.__dict__.get("_strtree")
    if tree is None:
        tree = shapely.STRtree(net.geometries)
        net.__dict__["_strtree"] = tree
    return tree


def _grid(net: WalkNetwork) -> EdgeGrid:
    """The edges' bucket grid (:mod:`lifecircle._edge_grid`), which answers the rings'
    and the tie reach's queries (the trees above only the few points beyond the rings)."""
    grid = net.__dict__.get("_edge_grid")
    if grid is None:
        grid = edge_grid(net.edge_ptr, net.edge_coords)
        net.__dict__["_edge_grid"] = grid
    return grid
