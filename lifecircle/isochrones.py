"""Isochrone polygons that follow the streets: what a walk reached, buffered by a walk-in width.

An isochrone is built from the search's node distances, never from a hull: every edge whose
two ends are within the budget is in whole, and an edge with one end (or both ends, from
opposite sides, not meeting) within the budget contributes the stretch still reachable with
the budget left at that end. A facility's own edge also gets the stretch it reaches directly,
without passing an edge end; its off-network leg is drawn when the facility points are given.
The reached stretches are then buffered by ``walk_in_m`` into one polygon per isochrone:

- ``method="raster"`` (default): cells of a 5 m grid whose centres lie near a reached
  segment, outlined with contourpy; nothing farther than ``walk_in_m`` from the reached
  streets is in, everything reached is (see :func:`_raster_bands`). About 3-10 ms per
  15-minute isochrone on the shared extracts, 14-55x cheaper than the common buffer-and-union
  recipe (``scripts/benchmark.py isochrones``).
- ``method="vector"``: exact round buffers of every stretch and ``shapely.union_all``, several
  times slower.

Bands (5 / 10 / 15 min by default) are built cumulatively (everything within ``t``) and stored
as non-overlapping rings (``band_from_min < t <= band_min``); cumulative polygons nest at
polygon level. Positions along an edge are walking metres, as in :mod:`lifecircle.snapping`:
a share of the projected geometry scaled to the edge's walking length.

Per-facility isochrones run :class:`lifecircle._kernels.BoundedSearch` (one workspace, reset
only where a search went), so a search costs what its isochrone covers, not the graph size;
the reached stretches of all facilities and bands are cut in one vectorised pass.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ConfigError
from ._kernels import BoundedSearch
from .network import WalkNetwork
from .routing import NodeDistances, _direction_ratios, seed_arcs
from .snapping import Snap, parse_alt

__all__ = [
    "ALL",
    "DEFAULT_BANDS_MIN",
    "DEFAULT_WALK_IN_M",
    "ISOCHRONE_COLUMNS",
    "Pieces",
    "band_polygons",
    "category_isochrones",
    "check_bands",
    "facility_isochrones",
    "pieces_lines",
    "reached_pieces",
    "run_isochrones",
    "snap_from_frame",
]

log = logging.getLogger(__name__)

#: ``facility_id`` of a category's union over all its facilities
ALL = "all"
DEFAULT_BANDS_MIN: tuple[float, ...] = (5.0, 10.0, 15.0)
#: Buffer around reached streets. 50 m is the depth of a typical street frontage (a building
#: plot and its entrance, or the front row of a residential compound) and less than a minute's
#: walk, so it stays small beside the 400 m of the first 5-minute band: the polygon shows what
#: is reachable from the street without claiming the inside of large blocks.
DEFAULT_WALK_IN_M = 50.0
#: Segments per quarter circle of round caps and joins (shapely's default). Fewer saves little
#: time here (the noding of overlapping buffers dominates) and makes caps visibly angular.
QUAD_SEGS = 8
ISOCHRONE_COLUMNS = (
    "category",
    "facility_id",
    "band_from_min",
    "band_min",
    "speed_kmh",
    "walk_in_m",
    "street_m",
    "area_m2",
)


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


# ---------------------------------------------------------------------------------------------
# reached stretches


def _node_edges(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges incident to each node as a CSR: (ptr, edge, node is the edge's u end).

    A self-loop appears twice, once from each end. Cached on the network.
    """
    cached = net.__dict__.get("_node_edges")
    if cached is not None:
        return cached
    e = np.arange(net.n_edges, dtype=np.int64)
    node = np.concatenate([net.edge_u, net.edge_v]).astype(np.int64)
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
def _stamp_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def stamp(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
              band: np.ndarray, reach: float,
              label: np.ndarray) -> None:  # pragma: no cover - compiled
        # Segments in cell units (cell (j, i) has its centre at (i + 0.5, j + 0.5)). Every cell
        # whose centre lies within ``reach`` of a segment of band k gets min(label, k);
        # ``label`` starts at n_bands (= not reached).
        height, width = label.shape
        r2 = reach * reach
        for s in range(ax.shape[0]):
            k = band[s]
            x1 = ax[s]
            y1 = ay[s]
            dx = bx[s] - x1
            dy = by[s] - y1
            dd = dx * dx + dy * dy
            i_lo = max(int(np.floor(min(x1, x1 + dx) - reach - 0.5)), 0)
            i_hi = min(int(np.ceil(max(x1, x1 + dx) + reach)), width - 1)
            j_lo = max(int(np.floor(min(y1, y1 + dy) - reach - 0.5)), 0)
            j_hi = min(int(np.ceil(max(y1, y1 + dy) + reach)), height - 1)
            for j in range(j_lo, j_hi + 1):
                cy = j + 0.5 - y1
                for i in range(i_lo, i_hi + 1):
                    if label[j, i] <= k:
                        continue  # a nearer or equal band holds the cell already
                    cx = i + 0.5 - x1
                    u = (cx * dx + cy * dy) / dd if dd > 0 else 0.0
                    u = min(max(u, 0.0), 1.0)
                    ex = cx - u * dx
                    ey = cy - u * dy
                    if ex * ex + ey * ey <= r2:
                        label[j, i] = k

    return stamp


def _merge(group: np.ndarray, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> Pieces:
    """Sort stretches and merge the overlapping ones of the same group and edge.

    A few lines of numba, because numpy has no per-group running maximum (pandas' groupby
    has one, at ~1 ms overhead a call, too much for siting's many small isochrones).
    """
    order = np.lexsort((start, edge, group))
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


# ---------------------------------------------------------------------------------------------
# geometry


def _vertex_offsets(net: WalkNetwork) -> np.ndarray:
    """Projected distance of every edge vertex from its edge's start (cached on the network)."""
    cached = net.__dict__.get("_vertex_offsets")
    if cached is not None:
        return cached
    xy = net.edge_coords
    seg = np.zeros(xy.shape[0])
    if xy.shape[0] > 1:
        seg[1:] = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    seg[net.edge_ptr[:-1]] = 0.0  # no segment between one edge's end and the next's start
    cum = np.cumsum(seg)
    offsets = cum - np.repeat(cum[net.edge_ptr[:-1]], np.diff(net.edge_ptr))
    net.__dict__["_vertex_offsets"] = offsets
    return offsets


def _points_at(net: WalkNetwork, edge: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Coordinates at projected distance ``pos`` along ``edge`` (clipped to the edge)."""
    off = _vertex_offsets(net)
    first = net.edge_ptr[edge]
    last = net.edge_ptr[edge + 1] - 1
    # the segment holding pos starts at the edge's last vertex at or before it
    j = np.clip(_bisect(off, first + 1, last, pos, strict=False) - 1, first, last - 1)
    seg_len = off[j + 1] - off[j]
    t = np.where(seg_len > 0, (pos - off[j]) / np.where(seg_len > 0, seg_len, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    xy = net.edge_coords
    return xy[j] * (1.0 - t) + xy[j + 1] * t


def pieces_lines(net: WalkNetwork, pieces: Pieces) -> np.ndarray:
    """The reached stretches as linestrings (shapely array), cut from the edge geometry.

    A whole edge keeps its geometry exactly; a cut piece runs from the interpolated start
    through the edge's vertices strictly between its ends to the interpolated end.
    """
    coords, line = _pieces_coords(net, pieces)
    if coords.shape[0] == 0:
        return np.empty(0, dtype=object)
    return shapely.linestrings(coords, indices=line)


def _pieces_coords(net: WalkNetwork, pieces: Pieces) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of every piece and the piece each belongs to (see :func:`pieces_lines`).

    Done with numpy for all pieces at once (``shapely.ops.substring`` works one line at a
    time).
    """
    e = pieces.edge
    if e.shape[0] == 0:
        return np.empty((0, 2)), np.zeros(0, np.int64)
    off = _vertex_offsets(net)
    first = net.edge_ptr[e]
    last = net.edge_ptr[e + 1] - 1
    plen = off[last]
    length = net.edge_length_m[e]
    scale = np.where(length > 0, plen / np.where(length > 0, length, 1.0), 0.0)
    pa = pieces.start_m * scale
    pb = pieces.end_m * scale
    whole_a = pieces.start_m <= 0
    whole_b = pieces.end_m >= length
    start_xy = np.where(whole_a[:, None], net.edge_coords[first], _points_at(net, e, pa))
    end_xy = np.where(whole_b[:, None], net.edge_coords[last], _points_at(net, e, pb))
    # interior vertices: strictly after pa and strictly before pb (offsets rise along an edge)
    lo = _count_at_most(off, first, last, pa)
    hi = _count_below(off, first, last, pb)
    n_in = np.maximum(hi - lo, 0)
    n_pts = n_in + 2
    total = int(n_pts.sum())
    base = np.cumsum(n_pts) - n_pts
    coords = np.empty((total, 2))
    coords[base] = start_xy
    coords[base + n_pts - 1] = end_xy
    if n_in.sum():
        rep = np.repeat(np.arange(e.shape[0]), n_in)
        k = np.arange(rep.shape[0]) - np.repeat(np.cumsum(n_in) - n_in, n_in)
        coords[base[rep] + 1 + k] = net.edge_coords[lo[rep] + k]
    return coords, np.repeat(np.arange(e.shape[0]), n_pts)


def _count_at_most(off: np.ndarray, first: np.ndarray, last: np.ndarray,
                   pos: np.ndarray) -> np.ndarray:
    """Index of the first vertex of each edge (after ``first``) whose offset exceeds ``pos``."""
    return _bisect(off, first + 1, last, pos, strict=False)


def _count_below(off: np.ndarray, first: np.ndarray, last: np.ndarray,
                 pos: np.ndarray) -> np.ndarray:
    """Index of the first vertex of each edge (after ``first``) whose offset is >= ``pos``."""
    return _bisect(off, first + 1, last, pos, strict=True)


def _bisect(off: np.ndarray, lo: np.ndarray, hi: np.ndarray, pos: np.ndarray, *,
            strict: bool) -> np.ndarray:
    """Vectorised bisection within ``[lo, hi)`` of each row: the first index whose offset is
    ``> pos`` (``>= pos`` when ``strict``); ``hi`` when none is."""
    lo = lo.copy()
    hi = hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        val = off[np.where(active, mid, 0)]
        go_right = active & ((val < pos) if strict else (val <= pos))
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)


def _legs(
    net: WalkNetwork,
    sources: Snap,
    fx: np.ndarray,
    fy: np.ndarray,
    source_entity: np.ndarray,
    budgets_m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Off-network legs (facility point towards its snapped point, as far as the budget
    goes) as two-point lines: (coords, group of each coordinate)."""
    sources, owner = sources.candidates()  # a leg to each snap of a facility
    fx, fy, source_entity = fx[owner], fy[owner], source_entity[owner]
    ok = np.flatnonzero(sources.ok & (sources.dist_m > 0))
    if ok.size == 0:
        return np.empty((0, 2)), np.zeros(0, np.int64)
    e = sources.edge[ok]
    length = net.edge_length_m[e]
    plen = _vertex_offsets(net)[net.edge_ptr[e + 1] - 1]
    scale = np.where(length > 0, plen / np.where(length > 0, length, 1.0), 0.0)
    on = _points_at(net, e, sources.along_m[ok] * scale)
    nb = budgets_m.shape[0]
    share = np.clip(budgets_m[None, :] / sources.dist_m[ok][:, None], 0.0, 1.0)
    grp = source_entity[ok][:, None] * nb + np.arange(nb)[None, :]
    p0 = np.column_stack([fx[ok], fy[ok]])
    keep = share > 0
    r = np.nonzero(keep)[0]
    s = share[keep][:, None]
    end = p0[r] * (1 - s) + on[r] * s
    coords = np.empty((2 * r.shape[0], 2))
    coords[0::2] = p0[r]
    coords[1::2] = end
    return coords, np.repeat(grp[keep], 2)


def _grouped(lines: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines sorted by group, and each present group's slice of them: (lines, groups, ptr)."""
    order = np.argsort(group, kind="stable")
    lines, group = lines[order], group[order]
    present, start = np.unique(group, return_index=True)
    ptr = np.append(start, group.shape[0])
    return lines, present, ptr


def _vector_bands(lines: np.ndarray, group: np.ndarray, n_entities: int, n_bands: int,
                  walk_in_m: float, cumulative: bool) -> np.ndarray:
    """Exact buffers: each line buffered, then ``union_all`` per group.

    Buffering the lines one by one and unioning them measured 6-15x faster on the shared
    Nanjing and Monaco extracts than buffering one MultiLineString per group (GEOS then nodes
    every offset curve against every other) and than ``union_all`` of the lines followed by
    one buffer.
    """
    n_groups = n_entities * n_bands
    cum = np.array([shapely.Polygon() for _ in range(n_groups)], dtype=object)
    if lines.shape[0]:
        lines, present, ptr = _grouped(lines, group)
        buffers = shapely.buffer(lines, walk_in_m, quad_segs=QUAD_SEGS)
        for g, lo, hi in zip(present, ptr[:-1], ptr[1:], strict=True):
            cum[g] = shapely.union_all(buffers[lo:hi])
    cum = cum.reshape(n_entities, n_bands)
    # union with the previous band: nesting holds exactly, not only up to the polygonal
    # approximation of round caps and joins
    for k in range(1, n_bands):
        cum[:, k] = shapely.union(cum[:, k], cum[:, k - 1])
    if cumulative:
        return cum
    rings = cum.copy()
    for k in range(1, n_bands):
        rings[:, k] = shapely.difference(cum[:, k], cum[:, k - 1])
    return rings


def default_cell_m(walk_in_m: float) -> float:
    """Raster cell size: 5 m, finer for narrow walk-in widths (at most a quarter of it)."""
    return min(5.0, walk_in_m / 4.0)


def _raster_bands(net: WalkNetwork, coords: np.ndarray, line: np.ndarray, group: np.ndarray,
                  n_entities: int, n_bands: int, walk_in_m: float, cell_m: float,
                  cumulative: bool) -> np.ndarray:
    """Rasterised buffers: cells near reached segments, outlined by ``contourpy``.

    A cell is in when its centre lies within ``walk_in_m - 1.2 * cell_m`` of a reached
    segment (point-to-segment distances over each segment's neighbourhood, a few lines of
    numba); the outline is the filled contour between cell centres in and out. A reached
    point has the four centres around it within ``sqrt(2) * cell_m``, so its whole grid
    square is in; a point inside the outline lies within ``1.12 * cell_m`` of a centre that
    is in (the farthest a marching-squares crossing gets from it), so nothing farther than
    ``walk_in_m`` from every reached segment is. The outline runs between about
    ``walk_in_m - 2.2 cell_m`` and ``walk_in_m`` from the streets.

    One grid, anchored on the network, serves every isochrone: bands nest (the contour of a
    lower level of the same field), rings share their outlines so they never overlap, and
    the union of facility isochrones is the category's (each cell takes the nearest band of
    any facility) up to the outline's interpolation within one cell.

    Measured per 15-minute isochrone on the shared Nanjing and Monaco extracts (5 m cells),
    this is several times cheaper than exact shapely buffers with ``union_all`` (which
    overlays hundreds of overlapping polygons), than ``rasterio.features`` rasterising and
    polygonising (whose per-geometry GeoJSON conversions dominate at this size) and than
    growing the marked cells with scipy's distance transform.
    """
    import contourpy

    out = np.array([_EMPTY] * (n_entities * n_bands), dtype=object).reshape(n_entities, n_bands)
    if coords.shape[0] == 0:
        return out
    c = float(cell_m)
    reach_cells = (walk_in_m - 1.2 * c) / c
    pad = int(np.ceil(reach_cells)) + 2
    x0 = np.floor(float(net.edge_coords[:, 0].min()) / c) * c
    y0 = np.floor(float(net.edge_coords[:, 1].min()) / c) * c
    # segments (in cell units from the grid origin), by group: entity, then band ascending
    seg = np.flatnonzero(line[1:] == line[:-1])
    order = np.argsort(group[seg], kind="stable")
    seg = seg[order]
    g = group[seg]
    gx = (coords[:, 0] - x0) / c
    gy = (coords[:, 1] - y0) / c
    ax, ay, bx, by = gx[seg], gy[seg], gx[seg + 1], gy[seg + 1]
    seg_band = (g % n_bands).astype(np.int64)
    entity_of = g // n_bands
    ent_start = np.flatnonzero(np.r_[True, entity_of[1:] != entity_of[:-1]])
    ent_stop = np.append(ent_start[1:], g.shape[0])
    stamp = _stamp_kernel()
    for lo, hi in zip(ent_start, ent_stop, strict=True):
        ent = int(entity_of[lo])
        i0 = int(np.floor(min(ax[lo:hi].min(), bx[lo:hi].min()))) - pad
        i1 = int(np.floor(max(ax[lo:hi].max(), bx[lo:hi].max()))) + pad + 1
        j0 = int(np.floor(min(ay[lo:hi].min(), by[lo:hi].min()))) - pad
        j1 = int(np.floor(max(ay[lo:hi].max(), by[lo:hi].max()))) + pad + 1
        label = np.full((j1 - j0, i1 - i0), n_bands, dtype=np.uint8)
        stamp(ax[lo:hi] - i0, ay[lo:hi] - j0, bx[lo:hi] - i0, by[lo:hi] - j0,
              seg_band[lo:hi], reach_cells, label)
        count = (n_bands - label).astype(np.float64)
        # count = how many bands hold the cell: ring k is count n_bands - k
        # contours in cell indices (passing coordinate arrays makes contourpy copy them into
        # 2-D grids, a third of the cost here), then moved to the cell centres
        gen = contourpy.contour_generator(z=count, fill_type="OuterOffset", name="serial",
                                          corner_mask=False)
        origin = np.array([x0 + (i0 + 0.5) * c, y0 + (j0 + 0.5) * c])
        for k in range(n_bands):
            lower = n_bands - k - 0.5
            upper = n_bands + 1.0 if cumulative else lower + 1.0
            filled: Any = gen.filled(lower, upper)  # OuterOffset: (points, offsets)
            out[ent, k] = _contour_polygons(filled[0], filled[1], origin, c)
    return out


_EMPTY = shapely.MultiPolygon()


def _contour_polygons(points: list[np.ndarray], offsets: list[np.ndarray], origin: np.ndarray,
                      cell: float) -> Any:
    """One MultiPolygon from contourpy's ``OuterOffset`` output (each outer ring, then its
    holes), in cell indices: ``xy = origin + index * cell``."""
    if not points:
        return _EMPTY
    ring_sizes = np.concatenate([np.diff(o) for o in offsets])
    rings_per_poly = np.array([o.shape[0] - 1 for o in offsets])
    rings = shapely.linearrings(origin + np.concatenate(points) * cell,
                                indices=np.repeat(np.arange(ring_sizes.shape[0]), ring_sizes))
    polys = shapely.polygons(rings, indices=np.repeat(np.arange(rings_per_poly.shape[0]),
                                                      rings_per_poly))
    return shapely.multipolygons(polys)


def band_polygons(
    net: WalkNetwork,
    pieces: Pieces,
    n_entities: int,
    n_bands: int,
    walk_in_m: float,
    *,
    legs: tuple[np.ndarray, np.ndarray] | None = None,
    method: str = "raster",
    cell_m: float | None = None,
    cumulative: bool = False,
) -> np.ndarray:
    """Polygons per entity and band, an ``(n_entities, n_bands)`` array.

    ``pieces.group`` is ``entity * n_bands + band``, bands ascending. ``cumulative`` gives
    everything within each band (nested: each holds the previous); otherwise the rings,
    cumulative ``k`` minus cumulative ``k - 1``. ``method`` is ``"raster"`` (fast, outlines on
    a ``cell_m`` grid, see :func:`_raster_bands`) or ``"vector"`` (exact round buffers).
    Polygons are MultiPolygons (empty where nothing was reached).
    """
    coords, line = _pieces_coords(net, pieces)
    group = pieces.group[line]  # per vertex
    if legs is not None and legs[0].shape[0]:
        n_lines = len(pieces)
        coords = np.concatenate([coords, legs[0]])
        line = np.concatenate([line, n_lines + np.arange(legs[0].shape[0]) // 2])
        group = np.concatenate([group, legs[1]])
    if method == "vector":
        lines = shapely.linestrings(coords, indices=line) if coords.shape[0] else \
            np.empty(0, dtype=object)
        first = np.r_[True, line[1:] != line[:-1]]
        return _vector_bands(lines, group[first], n_entities, n_bands, walk_in_m, cumulative)
    if method == "raster":
        cell = default_cell_m(walk_in_m) if cell_m is None else float(cell_m)
        if not (np.isfinite(cell) and 0 < cell <= walk_in_m / 4.0):
            raise ConfigError(
                f"cell_m must be positive and at most a quarter of walk_in_m "
                f"({walk_in_m / 4.0:g} m), got {cell_m!r}"
            )
        return _raster_bands(net, coords, line, group, n_entities, n_bands, walk_in_m, cell,
                             cumulative)
    raise ConfigError(f"unknown isochrone method {method!r}; use raster or vector")


# ---------------------------------------------------------------------------------------------
# bands for categories and facilities


def check_bands(bands_min: Sequence[float]) -> tuple[float, ...]:
    """Band upper bounds in minutes, ascending and positive (``ConfigError`` otherwise)."""
    try:
        bands = tuple(float(b) for b in bands_min)
    except (TypeError, ValueError):
        raise ConfigError(
            f"isochrone bands must be numbers of minutes, got {bands_min!r}; e.g. 5,10,15"
        ) from None
    if not bands:
        raise ConfigError("give at least one isochrone band in minutes, e.g. 5,10,15")
    if not all(np.isfinite(b) and b > 0 for b in bands):
        raise ConfigError(f"isochrone bands must be positive minutes, got {list(bands)}")
    if any(b2 <= b1 for b1, b2 in itertools.pairwise(bands)):
        raise ConfigError(
            f"isochrone bands must rise strictly, got {list(bands)}; e.g. 5,10,15")
    return bands


def _check_walk_in(walk_in_m: float) -> float:
    w = float(walk_in_m)
    if not (np.isfinite(w) and w > 0):
        raise ConfigError(f"walk_in_m must be a positive number of metres, got {walk_in_m!r}")
    return w


def _frame(
    net: WalkNetwork,
    polys: np.ndarray,
    street_m: np.ndarray,
    *,
    category: str,
    ids: Sequence[str],
    bands: tuple[float, ...],
    speed_kmh: float,
    walk_in_m: float,
    cumulative: bool,
) -> gpd.GeoDataFrame:
    n_ent, nb = polys.shape
    geoms = polys.ravel()
    # one geometry type for the layer: MultiPolygon (vector unions may give Polygons)
    single = shapely.get_type_id(geoms) == 3
    if single.any():
        geoms = geoms.copy()
        geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    band_to = np.tile(np.asarray(bands), n_ent)
    band_from = np.tile(np.asarray((0.0, *bands[:-1]) if not cumulative else (0.0,) * nb), n_ent)
    frame = pd.DataFrame(
        {
            "category": pd.array([category] * (n_ent * nb), dtype="string"),
            "facility_id": pd.array(np.repeat(np.asarray(ids, dtype=object), nb),
                                    dtype="string"),
            "band_from_min": band_from,
            "band_min": band_to,
            "speed_kmh": float(speed_kmh),
            "walk_in_m": float(walk_in_m),
            "street_m": street_m,
            "area_m2": shapely.area(geoms),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=net.crs)


def empty_isochrones(crs: Any) -> gpd.GeoDataFrame:
    """An isochrone table with no rows (the columns of :data:`ISOCHRONE_COLUMNS`)."""
    data: dict[str, Any] = {c: pd.Series([], dtype="float64") for c in ISOCHRONE_COLUMNS}
    data["category"] = pd.Series([], dtype="string")
    data["facility_id"] = pd.Series([], dtype="string")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _budgets(bands: tuple[float, ...], speed_kmh: float) -> np.ndarray:
    if not (np.isfinite(speed_kmh) and speed_kmh > 0):
        raise ConfigError(f"speed_kmh must be a positive number, got {speed_kmh!r}")
    return np.asarray(bands) * (float(speed_kmh) * 1000.0 / 60.0)


def _band_rows(dist_m: np.ndarray, budgets_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (index into ``dist_m``, band) for every band that reaches each distance: a node
    first reached within band k is in every band from k on."""
    k = np.searchsorted(budgets_m, dist_m, side="left")
    n_rep = budgets_m.shape[0] - k
    rep = np.repeat(np.arange(dist_m.shape[0]), n_rep)
    band = np.repeat(k, n_rep) + (np.arange(rep.shape[0]) - np.repeat(np.cumsum(n_rep) - n_rep,
                                                                        n_rep))
    return rep, band


def category_isochrones(
    net: WalkNetwork,
    nodes: NodeDistances,
    sources: Snap,
    *,
    category: str,
    speed_kmh: float,
    bands_min: Sequence[float] = DEFAULT_BANDS_MIN,
    walk_in_m: float = DEFAULT_WALK_IN_M,
    points_xy: tuple[np.ndarray, np.ndarray] | None = None,
    cumulative: bool = False,
    method: str = "raster",
    cell_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Bands of a category's union over its facilities (``facility_id`` ``"all"``).

    Parameters
    ----------
    net
        The walking network.
    nodes
        The category's multi-source node distances (``Result.access[c].nodes``); its
        ``limit_m`` must reach the largest band.
    sources
        The category's snapped facilities (the same the search started from).
    category
        Category name written into the rows.
    speed_kmh
        Walking speed that turns band minutes into metres.
    bands_min
        Band upper bounds in minutes, ascending.
    walk_in_m
        Buffer width around reached streets.
    points_xy
        Projected facility coordinates; when given, the off-network legs are drawn too.
    cumulative
        Rows hold everything within ``band_min`` (nested) instead of the rings.
    method, cell_m
        ``"raster"`` (default; outlines on a ``cell_m`` grid, 5 m by default) or ``"vector"``
        (exact round buffers, several times slower); see :func:`band_polygons`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per band, columns :data:`ISOCHRONE_COLUMNS` and the geometry.
    """
    bands = check_bands(bands_min)
    w = _check_walk_in(walk_in_m)
    budgets = _budgets(bands, speed_kmh)
    if budgets[-1] > nodes.limit_m * (1 + 1e-12):
        raise ConfigError(
            f"{category}: a {bands[-1]:g} min band ({budgets[-1]:.0f} m) is beyond the search "
            f"horizon of {nodes.limit_m:.0f} m; raise the profile's horizon_min or use "
            "shorter bands"
        )
    nb = len(bands)
    d = nodes.dist_m
    reached = np.flatnonzero(d <= budgets[-1])
    rep, band = _band_rows(d[reached], budgets)
    node = reached[rep]
    left = budgets[band] - d[node]
    entity = np.zeros(len(sources), np.int64)
    pieces = _stretches(net, band, node, left, *_source_rows(sources, entity, budgets))
    legs = None
    if points_xy is not None:
        legs = _legs(net, sources, np.asarray(points_xy[0]), np.asarray(points_xy[1]), entity,
                     budgets)
    polys = band_polygons(net, pieces, 1, nb, w, legs=legs, method=method, cell_m=cell_m,
                          cumulative=cumulative)
    return _frame(net, polys, pieces.length_m(nb), category=category, ids=[ALL],
                  bands=bands, speed_kmh=speed_kmh, walk_in_m=w, cumulative=cumulative)


def facility_isochrones(
    net: WalkNetwork,
    sources: Snap,
    ids: Sequence[str],
    *,
    category: str,
    speed_kmh: float,
    bands_min: Sequence[float] = DEFAULT_BANDS_MIN,
    walk_in_m: float = DEFAULT_WALK_IN_M,
    points_xy: tuple[np.ndarray, np.ndarray] | None = None,
    cumulative: bool = False,
    method: str = "raster",
    cell_m: float | None = None,
    search: BoundedSearch | None = None,
) -> gpd.GeoDataFrame:
    """Each facility's own bands, from one bounded search per facility.

    Parameters
    ----------
    net, category, speed_kmh, bands_min, walk_in_m, points_xy, cumulative, method, cell_m
        As in :func:`category_isochrones`.
    sources
        The snapped facilities; unsnapped ones get empty polygons.
    ids
        Facility id per source (the ``facility_id`` of the rows).
    search
        A :class:`BoundedSearch` over ``net.search_csr`` to reuse (built when omitted).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per facility and band.
    """
    bands = check_bands(bands_min)
    w = _check_walk_in(walk_in_m)
    budgets = _budgets(bands, speed_kmh)
    if len(ids) != len(sources):
        raise ValueError(f"{len(ids)} ids for {len(sources)} sources")
    if search is None:
        search = BoundedSearch.from_csr(net.search_csr)
    # batches keep the per-node rows (reached nodes x bands) of many facilities small
    frames = []
    for lo in range(0, max(len(sources), 1), FACILITY_BATCH):
        pick = np.arange(lo, min(lo + FACILITY_BATCH, len(sources)))
        pxy = None if points_xy is None else (np.asarray(points_xy[0])[pick],
                                              np.asarray(points_xy[1])[pick])
        polys, street = _facility_polygons(
            net, sources.subset(pick), budgets, w, search, points_xy=pxy, method=method,
            cell_m=cell_m, cumulative=cumulative)
        frames.append(_frame(net, polys, street, category=category,
                             ids=[str(ids[int(i)]) for i in pick], bands=bands,
                             speed_kmh=speed_kmh, walk_in_m=w, cumulative=cumulative))
    if len(frames) == 1:
        return frames[0]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=net.crs)


#: facilities searched and outlined per batch in :func:`facility_isochrones`
FACILITY_BATCH = 256


def _facility_polygons(
    net: WalkNetwork,
    sources: Snap,
    budgets: np.ndarray,
    walk_in_m: float,
    search: BoundedSearch,
    *,
    points_xy: tuple[np.ndarray, np.ndarray] | None,
    method: str,
    cell_m: float | None,
    cumulative: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Polygons ``(n, n_bands)`` and reached street metres of each facility's own bands."""
    nb = budgets.shape[0]
    n = len(sources)
    point, seed_node, seed_dist = seed_arcs(net, sources)
    order = np.argsort(point, kind="stable")
    point, seed_node, seed_dist = point[order], seed_node[order], seed_dist[order]
    seed_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(point, minlength=n), out=seed_ptr[1:])
    ptr, reached, dist = search.run_many(seed_ptr, seed_node, seed_dist, float(budgets[-1]))
    fac = np.repeat(np.arange(n), np.diff(ptr))
    rep, band = _band_rows(dist, budgets)
    group = fac[rep] * nb + band
    left = budgets[band] - dist[rep]
    entity = np.arange(n, dtype=np.int64)
    pieces = _stretches(net, group, reached[rep].astype(np.int64), left,
                        *_source_rows(sources, entity, budgets))
    legs = None
    if points_xy is not None:
        legs = _legs(net, sources, points_xy[0], points_xy[1], entity, budgets)
    polys = band_polygons(net, pieces, n, nb, walk_in_m, legs=legs, method=method,
                          cell_m=cell_m, cumulative=cumulative)
    return polys, pieces.length_m(n * nb)


# ---------------------------------------------------------------------------------------------
# runs


def check_run_options(
    bands_min: Sequence[float], walk_in_m: float, horizon_min: float
) -> tuple[float, ...]:
    """Validate a run's isochrone options up front (before any heavy work)."""
    bands = check_bands(bands_min)
    _check_walk_in(walk_in_m)
    if bands[-1] > horizon_min:
        raise ConfigError(
            f"isochrone band {bands[-1]:g} min is beyond the profile's search horizon of "
            f"{horizon_min:g} min; use shorter bands or raise horizon_min in the profile"
        )
    return bands


def snap_from_frame(net: WalkNetwork, frame: pd.DataFrame, *, where: str = "facilities") -> Snap:
    """The snapping of points from their published snap fields (``snap_u``, ``snap_v``,
    ``snap_key``, ``snap_along_m``, ``snap_dist_m``, ``snap_status``), matched to ``net``'s
    edges by (u, v, key); points whose edge is missing from ``net`` are unsnapped."""
    from ._errors import InputError

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
        keys = pd.MultiIndex.from_arrays(
            [net.node_id[net.edge_u], net.node_id[net.edge_v], net.edge_key.astype(np.int64)])
        lookup = pd.Series(np.arange(net.n_edges), index=keys)
        lookup = lookup[~lookup.index.duplicated()]
        want = pd.MultiIndex.from_arrays([
            frame["snap_u"].to_numpy()[ok].astype(np.int64),
            frame["snap_v"].to_numpy()[ok].astype(np.int64),
            frame["snap_key"].to_numpy()[ok].astype(np.int64),
        ])
        found = lookup.reindex(want).to_numpy(dtype=np.float64)
        edge[np.flatnonzero(ok)] = np.where(np.isfinite(found), found, -1).astype(np.int64)
    along = frame["snap_along_m"].to_numpy(dtype=np.float64)
    dist = frame["snap_dist_m"].to_numpy(dtype=np.float64)
    status = (frame["snap_status"].astype(object).to_numpy() if "snap_status" in frame.columns
              else np.where(edge >= 0, "snapped", "unreachable"))
    alt = parse_alt(frame["snap_alt"], net) if "snap_alt" in frame.columns else None
    return Snap(edge, np.where(edge >= 0, along, np.nan), np.where(edge >= 0, dist, np.nan),
                status, alt=alt)


def run_isochrones(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    nodes: dict[str, NodeDistances] | None,
    speeds_kmh: dict[str, float],
    *,
    bands_min: Sequence[float] = DEFAULT_BANDS_MIN,
    walk_in_m: float = DEFAULT_WALK_IN_M,
    per_facility: bool = False,
    facility_ids: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    enabled: bool = True,
    method: str = "raster",
    cell_m: float | None = None,
    cumulative: bool = False,
) -> gpd.GeoDataFrame:
    """The isochrone table of a run: every category's union, and facilities' own bands.

    Parameters
    ----------
    net
        The walking network.
    facilities
        Facilities with ``facility_id``, ``category``, the snap fields and point geometry in
        ``net.crs`` (the run's ``facilities`` layer).
    nodes
        Each category's multi-source node distances when the run has them; missing ones are
        searched here (one multi-source search per category).
    speeds_kmh
        Walking speed per category; the categories drawn are its keys (or ``categories``).
    bands_min, walk_in_m, method, cell_m, cumulative
        As in :func:`category_isochrones`.
    per_facility
        Add every facility's own bands (``facility_id`` = its id).
    facility_ids
        Add these facilities' own bands (whatever their category).
    categories
        Category unions to build (default: every key of ``speeds_kmh``, unless only
        ``facility_ids`` are given).
    enabled
        ``False`` gives an empty table (with the columns).

    Returns
    -------
    geopandas.GeoDataFrame
        Rows as :data:`ISOCHRONE_COLUMNS`; ``attrs["settings"]`` records the options.
    """
    from .routing import multi_source

    bands = check_bands(bands_min)
    w = _check_walk_in(walk_in_m)
    settings = {"enabled": bool(enabled), "bands_min": list(bands), "walk_in_m": w,
                "per_facility": bool(per_facility), "method": method,
                "cell_m": (default_cell_m(w) if cell_m is None else float(cell_m))
                if method == "raster" else None,
                "rows": "cumulative" if cumulative else "rings"}
    frames: list[gpd.GeoDataFrame] = []
    if enabled:
        snap_all = snap_from_frame(net, facilities)
        cats = list(categories) if categories is not None else (
            [] if facility_ids is not None and not per_facility else list(speeds_kmh))
        kw: dict[str, Any] = dict(bands_min=bands, walk_in_m=w, method=method,
                                  cell_m=cell_m, cumulative=cumulative)
        cat_col = facilities["category"].astype(str).to_numpy()
        ids_all = facilities["facility_id"].astype(str).to_numpy()
        xy = (facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
        search = None
        for c in cats:
            rows = np.flatnonzero(cat_col == c)
            sub = snap_all.subset(rows)
            speed = float(speeds_kmh[c])
            limit = float(bands[-1]) * speed * 1000.0 / 60.0
            nd = (nodes or {}).get(c)
            if nd is None or nd.limit_m < limit * (1 - 1e-12):
                nd = multi_source(net, sub, limit_m=limit)
            pxy = (xy[0][rows], xy[1][rows])
            frames.append(category_isochrones(net, nd, sub, category=c, speed_kmh=speed,
                                              points_xy=pxy, **kw))
            if per_facility:
                search = search or BoundedSearch.from_csr(net.search_csr)
                frames.append(facility_isochrones(net, sub, list(ids_all[rows]), category=c,
                                                  speed_kmh=speed, points_xy=pxy,
                                                  search=search, **kw))
        if facility_ids is not None and not per_facility:
            pick = np.concatenate([np.flatnonzero(ids_all == str(f)) for f in facility_ids])
            for c in dict.fromkeys(cat_col[pick]):
                rows = pick[cat_col[pick] == c]
                search = search or BoundedSearch.from_csr(net.search_csr)
                frames.append(facility_isochrones(
                    net, snap_all.subset(rows), list(ids_all[rows]), category=c,
                    speed_kmh=float(speeds_kmh[c]), points_xy=(xy[0][rows], xy[1][rows]),
                    search=search, **kw))
    frames = [f for f in frames if len(f)]
    if frames:
        out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                               crs=net.crs)
    else:
        out = empty_isochrones(net.crs)
    out.attrs["settings"] = settings
    return out
