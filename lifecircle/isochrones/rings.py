"""Polygons from the filled contours of a tiled grid: rings per tile, stitched at the seams.

Each tile of an isochrone grid is outlined on its own with contourpy (see
:func:`lifecircle.isochrones.polygons._entity_bands`); tiles share their edge row and column
of cell centres, so a polygon that crosses a seam is traced, vertex for vertex, on both sides
of it. Vertices are kept as integers (``1 / SNAP`` of a cell from the grid's origin), so the
seam's segments are bit-identical in both tiles and traced in opposite directions.

Merging the tiles is then a matter of dropping every segment that two rings share and
following the remaining segments from end to start: the rings of the merged polygons. This
is what GEOS's coverage union does too, but it rebuilds a full topology graph and assigns
every hole to its shell again; on a city it took most of the isochrone time (23 s a band of
2.7 M vertices on the 268,569-node tiled mosaic). Here the pairing is one sort, the linking
one ``searchsorted`` and a few lines of numba, and only rings that touch a tile border take
part. Shells run anticlockwise and holes clockwise (contourpy's filled output), so the
orientation of a stitched ring says which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import shapely

__all__ = ["SNAP", "TileRings", "merge_tiles", "tile_rings"]

#: Contour vertices are integers in ``1 / SNAP`` of a cell: contourpy's crossings on a grid of
#: integer labels at half-integer levels are exact in these units, and a vertex on a seam is
#: the same integer in both tiles.
SNAP = 1024

_EMPTY = shapely.MultiPolygon()


@dataclass(frozen=True)
class TileRings:
    """Rings of one band in one tile: vertices ``q`` (global integer units, ring after ring,
    not closed), ``sizes`` (vertices per ring), ``hole`` and ``border`` (touches the tile's
    border) per ring."""

    q: np.ndarray
    sizes: np.ndarray
    hole: np.ndarray
    border: np.ndarray


def _cyclic(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ring of each vertex, and its previous and next vertex within the ring (cyclic)."""
    n = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    ring = np.repeat(np.arange(sizes.shape[0]), sizes)
    idx = np.arange(n)
    prev = idx - 1
    prev[starts] = starts + sizes - 1
    nxt = idx + 1
    nxt[starts + sizes - 1] = starts
    return ring, prev, nxt


def tile_rings(points: list[np.ndarray], offsets: list[np.ndarray], offset: np.ndarray,
               shape: tuple[int, ...]) -> TileRings | None:
    """The rings of contourpy's ``OuterOffset`` output on a tile of ``shape`` centres whose
    first centre is cell ``offset`` of the grid (``None`` when there are none).

    Vertices exactly on the straight line through their neighbours are dropped (most of a
    marching-squares outline along a straight street: the same point set with 2-3x fewer
    vertices), except on the tile's border, where the next tile must find the same ones. The
    test looks at each vertex's neighbours within its ring, cyclically, so a loop shared by
    two polygons (a ring's outline and the next ring's hole) loses the same vertices on both
    sides, whichever vertex contourpy started each at. Hand-written because
    ``shapely.simplify(g, 0)`` does this per geometry at several times the cost.
    """
    if not points:
        return None
    closed = np.concatenate([np.diff(o) for o in offsets])
    per_poly = np.array([o.shape[0] - 1 for o in offsets])
    hole = np.ones(closed.shape[0], dtype=bool)
    hole[np.cumsum(per_poly) - per_poly] = False
    q = np.round(np.concatenate(points) * SNAP).astype(np.int64)
    last = np.zeros(q.shape[0], dtype=bool)
    last[np.cumsum(closed) - 1] = True
    q = q[~last]  # rings come closed: drop the repeated first vertex
    sizes = closed - 1
    ring, prev, nxt = _cyclic(sizes)
    d_in = q - q[prev]
    d_out = q[nxt] - q
    cross = d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0]
    dot = d_in[:, 0] * d_out[:, 0] + d_in[:, 1] * d_out[:, 1]
    on_border = ((q[:, 0] <= 0) | (q[:, 0] >= (shape[1] - 1) * SNAP)
                 | (q[:, 1] <= 0) | (q[:, 1] >= (shape[0] - 1) * SNAP))
    keep = on_border | (cross != 0) | (dot <= 0)
    border = np.bincount(ring, weights=on_border, minlength=sizes.shape[0]) > 0
    sizes = np.bincount(ring[keep], minlength=sizes.shape[0])
    return TileRings(q[keep] + offset.astype(np.int64) * SNAP, sizes, hole, border)


@cache
def _cycle_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def cycles(succ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        # the cycles of a permutation: ring of each element, elements in walking order
        n = succ.shape[0]
        ring = np.full(n, -1, dtype=np.int64)
        order = np.empty(n, dtype=np.int64)
        k = 0
        r = 0
        for s in range(n):
            if ring[s] >= 0:
                continue
            i = s
            while ring[i] < 0:
                ring[i] = r
                order[k] = i
                k += 1
                i = succ[i]
            r += 1
        return ring, order

    return cycles


def _stitch(q: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Rings (vertices, sizes) left when the segments two rings share are dropped and the
    rest linked end to start; ``None`` if the rings do not meet edge to edge (then the caller
    falls back to GEOS)."""
    _, _, nxt = _cyclic(sizes)
    lo_q = q.min(axis=0)
    span = int(q[:, 1].max() - lo_q[1]) + 1
    key = (q[:, 0] - lo_q[0]) * span + (q[:, 1] - lo_q[1])
    a, b = key, key[nxt]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((hi, lo))
    same = (lo[order[1:]] == lo[order[:-1]]) & (hi[order[1:]] == hi[order[:-1]])
    first, second = order[:-1][same], order[1:][same]
    if np.intersect1d(first, second).size or (a[first] == a[second]).any():
        return None  # a segment used three times, or twice the same way: overlap
    drop = np.zeros(a.shape[0], dtype=bool)
    drop[first] = True
    drop[second] = True
    seg = np.flatnonzero(~drop)
    if seg.size == 0:
        return np.empty((0, 2), np.int64), np.zeros(0, np.int64)
    by_start = seg[np.argsort(a[seg], kind="stable")]
    starts = a[by_start]
    if (starts[1:] == starts[:-1]).any():
        return None  # rings that touch at a vertex: not an edge-to-edge coverage
    pos = np.searchsorted(starts, b[seg])
    if (pos >= starts.shape[0]).any() or (starts[np.minimum(pos, starts.shape[0] - 1)]
                                          != b[seg]).any():
        return None  # an open chain
    # successor of segment seg[i] among seg: the one starting where it ends
    rank = np.empty(a.shape[0], dtype=np.int64)
    rank[seg] = np.arange(seg.shape[0])
    succ = rank[by_start[pos]]
    ring, walk = _cycle_kernel()(succ)
    return q[seg[walk]], np.bincount(ring)


def _signed_area2(q: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Twice the signed area of each ring (positive anticlockwise), in float64."""
    _, _, nxt = _cyclic(sizes)
    x = q[:, 0].astype(np.float64)
    y = q[:, 1].astype(np.float64)
    ring = np.repeat(np.arange(sizes.shape[0]), sizes)
    return np.bincount(ring, weights=x * y[nxt] - x[nxt] * y, minlength=sizes.shape[0])


def _closed_xy(q: np.ndarray, sizes: np.ndarray, rings: np.ndarray, origin: np.ndarray,
               cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``rings`` (in that order), each closed, and their ragged offsets."""
    starts = (np.cumsum(sizes) - sizes)[rings]
    n = sizes[rings] + 1
    total = int(n.sum())
    k = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    idx = np.repeat(starts, n) + k % np.repeat(sizes[rings], n)
    # xy = origin + index * cell, with the index q / SNAP exact in floating point
    return origin + (q[idx] / float(SNAP)) * cell, np.r_[0, np.cumsum(n)]


def _polygons(q: np.ndarray, sizes: np.ndarray, hole: np.ndarray, origin: np.ndarray,
              cell: float) -> Any:
    """One MultiPolygon from rings in grid units: each hole goes to the smallest shell that
    contains its first vertex (rings never touch, so the vertex is strictly inside).

    Built straight from the coordinates with ``shapely.from_ragged_array`` (one copy into
    GEOS, not one each for rings, polygons and the MultiPolygon).
    """
    if sizes.shape[0] == 0:
        return _EMPTY
    shells = np.flatnonzero(~hole)
    holes = np.flatnonzero(hole)
    owner = np.zeros(0, dtype=np.int64)
    if holes.size:
        xy, ring_off = _closed_xy(q, sizes, shells, origin, cell)
        shell_polys = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, xy, (ring_off, np.arange(shells.shape[0] + 1)))
        del xy
        starts = np.cumsum(sizes) - sizes
        probe = shapely.points(origin + (q[starts[holes]] / float(SNAP)) * cell)
        # the polygons are the query side, so GEOS prepares each one (indexed
        # point-in-polygon)
        s_hit, h_hit = shapely.STRtree(probe).query(shell_polys, predicate="contains")
        owner = np.full(holes.shape[0], -1, dtype=np.int64)
        if s_hit.size:
            # nested islands: the innermost (smallest) containing shell owns the hole
            area = shapely.area(shell_polys)[s_hit]
            order = np.lexsort((area, h_hit))
            h_sorted = h_hit[order]
            first = np.r_[True, h_sorted[1:] != h_sorted[:-1]]
            owner[h_sorted[first]] = s_hit[order][first]
        del shell_polys, probe
    poly = np.concatenate([np.arange(shells.shape[0]), owner])
    member = np.concatenate([shells, holes])
    is_hole = np.concatenate([np.zeros(shells.shape[0], bool), np.ones(holes.shape[0], bool)])
    ok = poly >= 0
    order = np.lexsort((is_hole[ok], poly[ok]))
    xy, ring_off = _closed_xy(q, sizes, member[ok][order], origin, cell)
    poly_off = np.r_[0, np.cumsum(np.bincount(poly[ok], minlength=shells.shape[0]))]
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, xy,
                                     (ring_off, poly_off, np.array([0, shells.shape[0]])))[0]


def merge_tiles(parts: list[TileRings], origin: np.ndarray, cell: float) -> Any:
    """One MultiPolygon from one band's rings in edge-matched tiles (see the module notes):
    rings off every tile border pass through; the others are stitched at the seams."""
    if not parts:
        return _EMPTY
    q = np.concatenate([p.q for p in parts])
    sizes = np.concatenate([p.sizes for p in parts])
    hole = np.concatenate([p.hole for p in parts])
    border = np.concatenate([p.border for p in parts])
    on_border = np.repeat(border, sizes)
    free_q, free_sizes, free_hole = q[~on_border], sizes[~border], hole[~border]
    stitched = _stitch(q[on_border], sizes[border]) if border.any() else (
        np.empty((0, 2), np.int64), np.zeros(0, np.int64))
    if stitched is None:  # not edge to edge (not seen; kept as a safety net): GEOS
        return shapely.coverage_union_all(
            [_polygons(p.q, p.sizes, p.hole, origin, cell) for p in parts])
    s_q, s_sizes = stitched
    s_hole = _signed_area2(s_q, s_sizes) < 0
    return _polygons(np.concatenate([free_q, s_q]), np.concatenate([free_sizes, s_sizes]),
                     np.concatenate([free_hole, s_hole]), origin, cell)
