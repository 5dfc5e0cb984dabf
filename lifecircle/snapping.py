"""Snap points onto the nearest walkable edge: (edge, position along it, off-network leg).

Points snap to edges, not nodes: a block in the middle of a long street reaches the street
where it stands. A point farther than ``max_snap_m`` from every edge is unreachable, with the
distance to the nearest edge in its reason, never snapped to a faraway street.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from .columns import SNAP_FIELDS
from .network import WalkNetwork

__all__ = ["Snap", "snap_points"]

SNAPPED = "snapped"
#: distances closer than this (metres) count as a tie between edges
_TIE_M = 1e-6


@dataclass(frozen=True)
class Snap:
    """Snapping of ``n`` points.

    ``edge`` is -1 for unreachable points, whose ``along_m`` and ``dist_m`` are NaN and whose
    ``status`` says why.
    """

    edge: np.ndarray
    along_m: np.ndarray
    dist_m: np.ndarray
    status: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.edge >= 0

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    def subset(self, mask: np.ndarray) -> Snap:
        return Snap(self.edge[mask], self.along_m[mask], self.dist_m[mask], self.status[mask])

    @classmethod
    def from_columns(cls, frame: pd.DataFrame) -> Snap:
        """The snapping a layer carries in its columns (``snap_edge_id``, ``snap_along_m``,
        ``snap_dist_m``, ``snap_status``, as :meth:`fields` writes them)."""
        return cls(
            edge=frame["snap_edge_id"].fillna(-1).to_numpy(dtype=np.int64),
            along_m=frame["snap_along_m"].to_numpy(dtype=np.float64),
            dist_m=frame["snap_dist_m"].to_numpy(dtype=np.float64),
            status=frame["snap_status"].to_numpy(dtype=object),
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
        return pd.DataFrame(
            {
                SNAP_FIELDS[0]: u,
                SNAP_FIELDS[1]: v,
                SNAP_FIELDS[2]: k,
                SNAP_FIELDS[3]: self.along_m,
                SNAP_FIELDS[4]: self.dist_m,
                "snap_edge_id": edge_id,
                "snap_status": self.status,
            }
        )


def snap_points(
    net: WalkNetwork,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_snap_m: float | np.ndarray,
) -> Snap:
    """Snap projected points (in ``net.crs``) to their nearest edge.

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
        edge's walking length; ``dist_m`` is the straight off-network leg.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    edge = np.full(n, -1, dtype=np.int64)
    along = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    status = np.full(n, SNAPPED, dtype=object)
    finite = np.isfinite(x) & np.isfinite(y)
    status[~finite] = "unreachable: no valid coordinates"
    if n == 0 or net.n_edges == 0:
        return Snap(edge, along, dist, status)

    geoms = net.geometries
    tree = _tree(net)
    limit = np.broadcast_to(np.asarray(max_snap_m, dtype=np.float64), (n,))
    idx = np.flatnonzero(finite)
    points = shapely.points(x[idx], y[idx])
    (p_i, e_i), d_i = tree.query_nearest(
        points,
        max_distance=float(limit[idx].max()) if idx.size else 0.0,
        return_distance=True,
        all_matches=True,
    )
    within = d_i <= limit[idx[p_i]]
    p_i, e_i, d_i = p_i[within], e_i[within], d_i[within]
    # several equidistant edges (a point at a junction, a street stored twice): take the
    # lowest edge index, so the result does not depend on the tree's internal order. "Equal"
    # allows a micrometre: two overlapping copies of one street tie only up to the last bit,
    # and a facility and a point must land on the same copy to keep their direct walk.
    if p_i.size:
        order = np.lexsort((e_i, p_i))
        p_i, e_i, d_i = p_i[order], e_i[order], d_i[order]
        first = np.ones(p_i.shape[0], dtype=bool)
        first[1:] = p_i[1:] != p_i[:-1]
        p_i, e_i, d_i = p_i[first], e_i[first], d_i[first]
        q_i, f_i = tree.query(points[p_i], predicate="dwithin", distance=d_i + _TIE_M)
        near = shapely.distance(points[p_i[q_i]], geoms[f_i]) <= d_i[q_i] + _TIE_M
        q_i, f_i = q_i[near], f_i[near]
        lowest = np.full(p_i.shape[0], np.iinfo(np.int64).max)
        np.minimum.at(lowest, q_i, f_i)
        moved = lowest < e_i
        if moved.any():
            e_i = np.where(moved, lowest, e_i)
            d_i = np.where(moved, shapely.distance(points[p_i], geoms[e_i]), d_i)
    hit = idx[p_i]
    edge[hit] = e_i
    dist[hit] = d_i
    frac = shapely.line_locate_point(geoms[e_i], points[p_i], normalized=True)
    frac = np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0)
    along[hit] = frac * net.edge_length_m[e_i]

    missed = idx[np.isin(np.arange(idx.shape[0]), p_i, invert=True)]
    if missed.size:
        (_, _), far = tree.query_nearest(
            shapely.points(x[missed], y[missed]), return_distance=True, all_matches=False
        )
        for j, d_far in zip(missed, far, strict=True):
            status[j] = (
                f"unreachable: nearest walkable edge is {d_far:.0f} m away "
                f"(max_snap_m={limit[j]:g})"
            )
    return Snap(edge, along, dist, status)


def _tree(net: WalkNetwork) -> shapely.STRtree:
    tree = net.__dict__.get("_strtree")
    if tree is None:
        tree = shapely.STRtree(net.geometries)
        net.__dict__["_strtree"] = tree
    return tree
