"""Faces of a set of lines: the polygons they enclose, as ``polygonize`` of their noded union.

Why hand-written rather than ``shapely.union_all`` + ``shapely.polygonize`` (which is also what
``momepy.enclosures`` calls): on the 268,569-node tiled Nanjing mosaic those two GEOS calls
took 7 s of the 17 s CPU of the block derivation, although the street network is already
noded at its shared OSM nodes and almost no segment needs GEOS's noding. Here

1. the lines are cut into segments, kept once each (a street, a wall and a land-use outline
   often share nodes); a grid pass (numba) finds the segments that meet another anywhere
   but at a common endpoint: crossings without a shared node (bridges and tunnels, walls
   and land-use outlines across streets), a line ending on another's segment, overlaps.
   Only those are noded, by GEOS (``union_all``), so every crossing point is the one GEOS
   computes and a crossing splits a block as it did before; the test errs on the side of
   sending a segment to GEOS (near-touches within rounding count as touches). The pass
   also groups them (segments that meet, directly or through others), so two threads node
   whole groups each;
2. the faces are walked over the half-edges of the segments, sorted by angle around each
   vertex; edges with the same face on both sides (dangles and cut edges, which
   ``polygonize`` drops) are removed and the walk repeated;
3. each boundary walk is cut at repeated vertices into simple rings (a hole touching its
   shell at a point is a separate ring, as in GEOS); counter-clockwise rings are shells,
   clockwise ones holes: of the shell from the same walk, else of the smallest shell that
   holds them (an island of lines inside a face).

The rings are those ``polygonize`` returns (same vertices; orientation may differ), each
starting at its lowest-left vertex, listed in another order: by lowest-left vertex (holes
too, after their shell). Nothing depends on the order of the segments or the numbering of
the vertices, which the threads' noding changes. Below :data:`GEOS_BELOW` lines GEOS
does it all (loading the compiled kernels costs about 0.3 s CPU once, more than GEOS takes
for a town), and its faces are listed in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from ._halves import elementwise, in_parts, workers
from ._osm_arrays import spans
from ._planar_kernels import kernel as _kernel

__all__ = ["Arrangement", "box_pairs", "faces", "outlines", "stable_order"]

_EMPTY = np.empty(0, dtype=object)
#: relative rounding allowance of the orientation test (a near-touch is sent to GEOS)
_TOL = 1e-9
#: at most this many grid entries per segment on average (coarser cells past it)
_ENTRIES_PER_SEGMENT = 6
#: at most this many (point, box) candidates per box in :func:`_in_boxes` by the x-sorted
#: points (a tree of the boxes past it)
_IN_BOXES_PAIRS = 20
#: fewer lines than this go through GEOS's union_all + polygonize (about 20 µs a line)
GEOS_BELOW = 15_000
#: from this many segments to node on, GEOS nodes them in threads, by groups (a thread
#: costs ~0.1 ms; GEOS's noding ~20 µs a segment)
NODE_SPLIT_FROM = 2000


def stable_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of an int64 array, by one sort of the distinct
    values ``(key - min) * n + position``: numpy's (unstable) sort of those is twice as
    fast as its stable argsort on 10^6-10^7 keys and gives the same order. Where that
    product would overflow, the stable argsort itself. Other integer keys are widened to
    int64 first (numpy keeps an int32 product int32, which would wrap)."""
    key = np.asarray(key, dtype=np.int64)
    n = key.size
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    lo = int(key.min())
    if int(key.max()) - lo >= (2**62) // n:
        return np.argsort(key, kind="stable")
    return np.sort((key - lo) * n + np.arange(n, dtype=np.int64)) % n


def faces(lines: np.ndarray, *, geos_below: int | None = None) -> np.ndarray:
    """Polygons enclosed by ``lines`` (every crossing noded first), those of positive area,
    by lowest-left vertex, then area. ``geos_below``: :data:`GEOS_BELOW` if None. Lines may
    hold one-ring polygons standing for their ring (:func:`outlines`)."""
    return Arrangement(lines, geos_below=geos_below).faces()


class Arrangement:
    """Lines cut into segments, kept once each, with the segments that meet others off
    their ends found: the part of :func:`faces` that a few more lines (a study limit drawn
    meanwhile) leave as it is. ``faces(more)`` gives ``faces`` of both sets of lines.

    Below :data:`GEOS_BELOW` lines in all nothing is done until ``faces`` (GEOS does it all).
    ``faces`` is asked once: it lets go of the arrangement.
    """

    def __init__(self, lines: np.ndarray, *, geos_below: int | None = None,
                 more: int = 0) -> None:
        lines = np.asarray(lines, dtype=object)
        self.lines = lines[~(shapely.is_empty(lines) | shapely.is_missing(lines))]
        self.below = GEOS_BELOW if geos_below is None else geos_below
        self.graph: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.meets: tuple[np.ndarray, np.ndarray, Any] | None = None
        if self.lines.size + more >= self.below:
            xy, u, v = _graph(*_segments(self.lines))
            self.graph, self.meets = (xy, u, v), _to_node(xy[u], xy[v])

    def faces(self, more: np.ndarray | None = None) -> np.ndarray:
        """:func:`faces` of the lines and ``more`` lines."""
        more = _EMPTY if more is None else np.asarray(more, dtype=object)
        more = more[~(shapely.is_empty(more) | shapely.is_missing(more))]
        if self.graph is None or self.meets is None or self.lines.size + more.size < self.below:
            lines = np.concatenate([self.lines, more])
            self.graph = self.meets = None
            if lines.size == 0:
                return _EMPTY
            if lines.size < self.below:
                return _geos_faces(lines)
            xy, u, v = _graph(*_segments(lines))
            return _faces_of(xy, u, v, *_to_node(xy[u], xy[v])[:2])
        xy, u, v = self.graph
        flag, group, grid = self.meets
        # the grid (~0.4 GB at a million nodes) is not held through the noding and the walk
        self.graph = self.meets = None
        if more.size:
            xy, u, v, flag, group = _added(xy, u, v, flag, group, grid, *_segments(more))
        del grid
        return _faces_of(xy, u, v, flag, group)


def _faces_of(xy: np.ndarray, u: np.ndarray, v: np.ndarray, flag: np.ndarray,
              group: np.ndarray) -> np.ndarray:
    """The faces of the segments ``u``-``v``, those ``flag`` marks noded first."""
    if flag.any():
        # only the segments that meet others off their ends go through GEOS's noding
        na, nb = _node(xy[u], xy[v], flag, group)
        xy, u, v = _graph(np.concatenate([xy[u[~flag]], na]),
                          np.concatenate([xy[v[~flag]], nb]))
    return _polygons(xy, u, v)


def _node(a: np.ndarray, b: np.ndarray, flag: np.ndarray,
          group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flagged segments ``a``-``b`` noded by GEOS (``union_all`` per group), as (start, end).

    Segments of different groups (``group``: connected by meeting off their ends) do not
    meet, so each thread nodes whole groups, about as many segments each: the pieces are
    those of one call, in another order (which the faces do not depend on).
    """
    seg = np.flatnonzero(flag)
    seg = seg[stable_order(group[seg])]
    k = workers() if seg.size >= NODE_SPLIT_FROM else 1
    starts = np.r_[True, group[seg][1:] != group[seg][:-1]]
    new_group = np.flatnonzero(starts)
    # cut at the group starts nearest to equal shares
    cuts = new_group[np.minimum(np.searchsorted(new_group, np.arange(1, k) * seg.size / k),
                                new_group.size - 1)]
    edges = np.unique(np.r_[0, cuts, seg.size])
    # each group's union is that of ``union_all`` (a collection of its segments, unioned),
    # all of a thread's groups in one GEOS loop (a Python call per group cost more than
    # GEOS's noding: a city has 10^3-10^4 small groups)
    rank = np.cumsum(starts) - 1

    def part(s: slice) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = edges[s.start], edges[s.stop]
        lines = shapely.linestrings(np.stack([a[seg[lo:hi]], b[seg[lo:hi]]], axis=1))
        groups = shapely.geometrycollections(lines, indices=rank[lo:hi] - rank[lo])
        del lines  # the collections hold copies
        return _line_segments(np.asarray(shapely.lib.unary_union(groups), dtype=object))

    parts = in_parts(part, edges.size - 1, min_part=1)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def outlines(polygons: np.ndarray) -> np.ndarray:
    """The outlines of ``polygons`` as lines for :func:`faces` and :class:`Arrangement`: a
    polygon of one ring stands for that ring as it is (its segments are read off its
    coordinates, in the ring's order, as off its ``boundary``: no line geometry is made for
    it; a city's land use and the blocks a split cuts are 10^4-10^5 of them), any other
    geometry is its ``boundary``."""
    polygons = np.asarray(polygons, dtype=object)
    out = polygons.copy()
    other = np.flatnonzero((shapely.get_type_id(polygons) != 3)
                           | (shapely.get_num_interior_rings(polygons) != 0))
    if other.size:
        out[other] = elementwise(shapely.boundary, polygons[other])
    return out


def _as_lines(lines: np.ndarray) -> np.ndarray:
    """``lines`` with the polygons that stand for their ring (:func:`outlines`) made lines."""
    ring = np.flatnonzero(shapely.get_type_id(lines) == 3)
    if not ring.size:
        return lines
    lines = lines.copy()
    lines[ring] = shapely.boundary(lines[ring])
    return lines


def _geos_faces(lines: np.ndarray) -> np.ndarray:
    """:func:`faces` by GEOS, in the same order."""
    lines = _as_lines(lines)
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    polys = polys[shapely.area(polys) > 0]
    if polys.size == 0:
        return _EMPTY
    xy, idx = shapely.get_coordinates(shapely.get_exterior_ring(polys), return_index=True)
    low = np.lexsort((xy[:, 1], xy[:, 0], idx))  # each ring's vertices, lowest-left first
    first = low[np.r_[True, idx[low][1:] != idx[low][:-1]]]
    shell_area = shapely.area(shapely.polygons(shapely.get_exterior_ring(polys)))
    order = np.lexsort((shell_area, xy[first, 1], xy[first, 0]))
    return np.asarray(polys[order], dtype=object)


def _segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every segment of positive length of the lines (or multi-lines)."""
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    cut = np.r_[True, idx[1:] != idx[:-1]]  # the first vertex of each line ...
    multi = np.flatnonzero(shapely.get_num_geometries(lines) > 1)
    if multi.size:  # ... and of each part of a multi-line (only those are taken apart)
        parts, of = shapely.get_parts(lines[multi], return_index=True)
        size = shapely.get_num_coordinates(parts)
        first = np.searchsorted(idx, multi)[of]  # where each multi-line's vertices begin
        within = np.cumsum(size) - size
        within -= np.repeat(within[np.r_[True, of[1:] != of[:-1]]], np.bincount(of))
        cut[(first + within)[size > 0]] = True
    same = np.flatnonzero(~cut[1:])
    a, b = xy[same], xy[same + 1]
    ok = (a != b).any(axis=1)
    return a[ok], b[ok]


def _line_segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_segments` of line strings and multi-line strings, read off their WKB.

    Hand-written because GEOS's noding returns each group as a multi-line string of its
    noded edges, and ``shapely.get_parts`` (which :func:`_segments` needs to tell where a
    part starts) makes a geometry of every edge: 40 % of the noding's own cost. The WKB
    says where each part starts; the vertices are its bytes as they are. The WKB is written
    2D (``output_dimension=2``), so 3D lines are read here too, their Z dropped as
    :func:`_segments` drops it; anything but (multi-)line strings, and missing geometries,
    are left to :func:`_segments`.
    """
    if shapely.is_missing(lines).any():
        return _segments(lines)
    wkb = shapely.to_wkb(lines, output_dimension=2, byte_order=1)
    raw, first, ok = _kernel("lines")(np.frombuffer(b"".join(wkb.tolist()), dtype=np.uint8))
    if not ok:
        return _segments(lines)
    xy = raw.view(np.dtype("<f8")).reshape(-1, 2)
    same = np.flatnonzero(~first[1:])
    a, b = xy[same], xy[same + 1]
    keep = (a != b).any(axis=1)
    return a[keep], b[keep]


def _graph(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertex coordinates, start, end vertex) of the segments ``a``-``b``, once each (a street,
    a wall and a land-use outline often share nodes); vertices are equal coordinates."""
    pts = np.concatenate([a, b]) + 0.0  # -0.0 becomes 0.0: one bit pattern per value
    node, xy = _kernel("nodes")(pts.view(np.int64), pts)
    n = a.shape[0]
    lo, hi = np.minimum(node[:n], node[n:]), np.maximum(node[:n], node[n:])
    key = np.sort(lo * xy.shape[0] + hi)
    key = key[np.r_[True, key[1:] != key[:-1]]] if key.size else key
    return xy, key // xy.shape[0], key % xy.shape[0]


def _to_node(a: np.ndarray,
             b: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...] | None]:
    """Whether each segment meets another anywhere but at a common endpoint of both, and a
    group label: segments that meet so (directly or through others) share it; the grid
    (origin, cell size, columns, rows, occupied cell keys, their runs in the segments of each
    cell) or None."""
    flag = np.zeros(a.shape[0], dtype=np.bool_)
    group = np.arange(a.shape[0], dtype=np.int64)
    if a.shape[0] < 2:
        return flag, group, None
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    origin = lo.min(axis=0)
    # cells of about four median segments, coarser if long segments would fill too many
    cell = max(4.0 * float(np.median(np.hypot(*(b - a).T))), 1e-6)
    while True:
        i0 = np.floor((lo - origin) / cell).astype(np.int64)
        i1 = np.floor((hi - origin) / cell).astype(np.int64)
        count = (i1[:, 0] - i0[:, 0] + 1) * (i1[:, 1] - i0[:, 1] + 1)
        if count.sum() <= _ENTRIES_PER_SEGMENT * a.shape[0] + 1000:
            break
        cell *= 2.0
    ncx = int(i1[:, 0].max()) + 1
    start = np.cumsum(count) - count
    key, seg = _kernel("cells")(i0, i1, start, int(count.sum()), ncx)
    order = stable_order(key)
    key, seg = key[order], seg[order]
    bounds = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True])
    _kernel("flag")(bounds, seg, a, b, flag, group, _TOL)
    grid = (origin, cell, ncx, int(i1[:, 1].max()) + 1, key[bounds[:-1]], bounds, seg)
    return flag, group, grid


def _added(xy: np.ndarray, u: np.ndarray, v: np.ndarray, flag: np.ndarray,
           group: np.ndarray, grid: tuple[Any, ...] | None, a: np.ndarray,
           b: np.ndarray) -> tuple[np.ndarray, ...]:
    """The graph of :func:`_graph` (``xy``, ``u``, ``v``), its segments' ``flag`` and
    ``group`` (:func:`_to_node`, over ``grid``), with the segments ``a``-``b`` added: what
    the two functions give for all the segments, with the vertices and segments numbered
    otherwise (which the faces do not depend on). The new segments are tested against the
    old ones in the cells they cross, and against each other."""
    n0 = xy.shape[0]
    pts = np.concatenate([xy, a, b]) + 0.0
    node, xy = _kernel("nodes")(pts.view(np.int64), pts)  # xy's vertices keep their numbers
    na, nb = node[n0 : n0 + a.shape[0]], node[n0 + a.shape[0] :]
    n = xy.shape[0]
    old = u * n + v  # sorted: (u, v) come sorted from _graph
    pairs = np.sort(np.minimum(na, nb) * n + np.maximum(na, nb))
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if pairs.size else pairs
    at = np.minimum(np.searchsorted(old, pairs), max(old.size - 1, 0))
    new = pairs[old[at] != pairs] if old.size else pairs
    key = np.sort(np.concatenate([old, new]))
    moved = np.arange(old.size) + np.searchsorted(new, old)  # each old segment's place
    u, v = key // n, key % n
    all_flag = np.zeros(key.size, dtype=np.bool_)
    all_flag[moved] = flag
    all_group = np.arange(key.size, dtype=np.int64)
    all_group[moved] = moved[group]  # a forest of the old groups, each rooted at its lowest
    added = np.searchsorted(key, pairs)
    if grid is None:  # fewer than two old segments: no grid to look in, all tested anew
        return (xy, u, v, *_to_node(xy[u], xy[v])[:2])
    origin, cell, ncx, ncy, cells, bounds, seg = grid
    _kernel("more")(added, xy[u], xy[v], all_flag, all_group, float(origin[0]),
                    float(origin[1]), float(cell), ncx, ncy, cells, bounds, moved[seg], _TOL)
    return xy, u, v, all_flag, all_group


def _polygons(xy: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The faces of the noded segments from vertex ``u`` to ``v`` (coordinates ``xy``; no
    segment twice) as polygons."""
    n_seg = u.shape[0]
    if n_seg < 3:
        return _EMPTY
    org = np.empty(2 * n_seg, dtype=np.int64)
    org[0::2], org[1::2] = u, v
    # each segment's step once; its twin's is its negation, -0.0 made 0.0 as the twin's own
    # subtraction gives it (an angle of pi, not -pi): one gather of the ends, not two
    d = np.empty((2 * n_seg, 2))
    np.subtract(xy[v], xy[u], out=d[0::2])
    np.negative(d[0::2], out=d[1::2])
    d[1::2] += 0.0
    # half-edges around each vertex by angle; 2k runs u→v, 2k + 1 v→u
    perm = _kernel("angular")(org, np.arctan2(d[:, 1], d[:, 0]), xy.shape[0])
    cyc = _kernel("walk")(perm, org, xy)[0]
    # cut edges and dangles have the same face on both sides: drop them, walk again (the
    # angular order of the rest stands)
    keep = np.repeat(cyc[0::2] != cyc[1::2], 2)
    if keep.sum() < 6:
        return _EMPTY
    renum = np.cumsum(keep) - 1
    perm, org = renum[perm[keep[perm]]], org[keep]
    _, ring_nodes, ring_ptr, ring_cycle, ring_area, low = _kernel("walk")(perm, org, xy)
    shell = np.flatnonzero(ring_area > 0)
    hole = np.flatnonzero(ring_area < 0)
    if shell.size == 0:
        return _EMPTY
    # a hole belongs to the shell of its own walk (the one shell a walk can hold) ...
    shell_of_cycle = np.full(int(ring_cycle.max()) + 1, -1, dtype=np.int64)
    n_shells = np.bincount(ring_cycle[shell], minlength=shell_of_cycle.size)
    shell_of_cycle[ring_cycle[shell]] = np.arange(shell.size)
    shell_of_cycle[n_shells > 1] = -1
    host = shell_of_cycle[ring_cycle[hole]]
    # ... else to the smallest shell holding its first vertex (not on any other shell)
    lost = np.flatnonzero(host < 0)
    if lost.size:
        # candidates: the shells whose bounding box holds the vertex; only those are made
        # polygons and asked (a polygon of every shell and a tree of them cost 0.15-0.3 s
        # per call at 10^5 faces, as does a tree of every shell's box)
        pts = xy[ring_nodes[ring_ptr[hole[lost]]]]
        p_i, s_i = _in_boxes(pts, *_ring_bounds(xy, ring_nodes, ring_ptr, shell))
        cand, inv = np.unique(s_i, return_inverse=True)
        if cand.size:
            asked = _rings_as_polygons(xy, ring_nodes, ring_ptr, shell[cand],
                                       np.arange(cand.size))
            # within: the point in the shell's interior (contains_xy, as ``within``)
            inside = shapely.contains_xy(asked[inv], pts[p_i, 0], pts[p_i, 1])
            p_i, s_i = p_i[inside], s_i[inside]
        if p_i.size:
            area = ring_area[shell][s_i]
            best = np.lexsort((area, p_i))
            first = np.r_[True, p_i[best][1:] != p_i[best][:-1]]
            host[lost[p_i[best][first]]] = s_i[best][first]
    hole, host = hole[host >= 0], host[host >= 0]
    # shells by lowest-left vertex, then area
    rank = np.empty(shell.size, dtype=np.int64)
    rank[np.lexsort((ring_area[shell], low[shell, 1], low[shell, 0]))] = np.arange(shell.size)
    which = np.concatenate([shell, hole])
    poly = np.concatenate([rank, rank[host]])
    # shell first, then its holes by lowest-left vertex and area (not by walk order, which
    # follows the vertex numbering)
    is_hole = np.r_[np.zeros(shell.size, dtype=np.int64), np.ones(hole.size, dtype=np.int64)]
    order = np.lexsort((np.arange(which.size), ring_area[which], low[which, 1],
                        low[which, 0], is_hole, poly))
    return _rings_as_polygons(xy, ring_nodes, ring_ptr, which[order], poly[order])


def box_pairs(x: np.ndarray, y: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(box, point) pairs of the points inside each box (bounds ``box``, one row each).

    The points are binned to a grid of cells about the median box's size (at most about one
    cell per point); each box visits the cells it overlaps.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    lo = np.minimum(box[:, :2].min(axis=0), [x[ok].min(), y[ok].min()])
    span = np.maximum(box[:, 2:].max(axis=0), [x[ok].max(), y[ok].max()]) - lo
    n = int(ok.sum())
    size = float(np.median(np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])))
    cell = max(size, float(np.sqrt(span[0] * span[1] / n)), float(span.max()) / n, 1e-9)
    ncx, ncy = int(span[0] / cell) + 1, int(span[1] / cell) + 1
    ix = np.clip(np.where(ok, (x - lo[0]) / cell, 0.0).astype(np.int64), 0, ncx - 1)
    iy = np.clip(np.where(ok, (y - lo[1]) / cell, 0.0).astype(np.int64), 0, ncy - 1)
    cell_of = np.where(ok, iy * ncx + ix, ncx * ncy)  # points without coordinates: no cell
    order = stable_order(cell_of)
    first = np.searchsorted(cell_of[order], np.arange(ncx * ncy + 2))
    b0 = np.clip(((box[:, :2] - lo) / cell).astype(np.int64), 0, [ncx - 1, ncy - 1])
    b1 = np.clip(((box[:, 2:] - lo) / cell).astype(np.int64), 0, [ncx - 1, ncy - 1])
    kernel = _kernel("boxes")

    def part(s: slice) -> tuple[np.ndarray, np.ndarray]:
        g_i, p_i = kernel(x, y, first, order, np.ascontiguousarray(box[s]),
                          np.ascontiguousarray(b0[s]), np.ascontiguousarray(b1[s]), ncx)
        return g_i + s.start, p_i

    parts = in_parts(part, box.shape[0], min_part=2000)
    return (np.concatenate([g for g, _ in parts]), np.concatenate([p for _, p in parts]))


def _ring_bounds(xy: np.ndarray, ring_nodes: np.ndarray, ring_ptr: np.ndarray,
                 rings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) x and y of the vertices of each ring of ``rings`` ((n, 2) each)."""
    # rings have vertices: a walk has at least three
    return _kernel("bounds")(xy, ring_nodes, ring_ptr, np.asarray(rings, dtype=np.int64))


def _in_boxes(pts: np.ndarray, lo: np.ndarray,
              hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, box) pairs of the points ``pts`` inside each box (``lo``-``hi``, bounds
    included). Few points (a city's islands of lines) against many boxes: each box takes
    the run of the x-sorted points within its x range, then their y is tested; where those
    runs would hold more than :data:`_IN_BOXES_PAIRS` pairs per box, :func:`box_pairs` (a
    grid of the points; a tree of the boxes cost 0.4 s for 2 x 10^5 shells at a million
    nodes, to build and to query)."""
    order = np.argsort(pts[:, 0], kind="stable")
    px = pts[order, 0]
    start = np.searchsorted(px, lo[:, 0], side="left")
    size = np.searchsorted(px, hi[:, 0], side="right") - start
    total = int(size.sum())
    if total > _IN_BOXES_PAIRS * lo.shape[0]:
        b_i, p_i = box_pairs(np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1]),
                             np.column_stack([lo, hi]))
        return p_i, b_i
    b_i = np.repeat(np.arange(lo.shape[0]), size)
    p_i = order[spans(start, size)]
    y = pts[p_i, 1]
    ok = (y >= lo[b_i, 1]) & (y <= hi[b_i, 1])
    return p_i[ok], b_i[ok]


def _rings_as_polygons(xy: np.ndarray, ring_nodes: np.ndarray, ring_ptr: np.ndarray,
                       rings: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Polygons of the rings ``rings`` (vertices ``ring_nodes[ring_ptr[r]:ring_ptr[r + 1]]``,
    not closed), ring ``k`` going to polygon ``poly[k]`` (sorted, from 0, shell first).

    One coordinate array with each ring closed, built by ``shapely.from_ragged_array`` over
    threads (a ``linearrings`` then a ``polygons`` call make every ring twice).
    """
    rings = np.asarray(rings, dtype=np.int64)
    # each ring's vertices, the first one again at its end, in one compiled pass
    coords, ring_end = _kernel("closed")(xy, ring_nodes, ring_ptr, rings)
    poly_end = np.searchsorted(poly, np.arange(int(poly[-1]) + 2))

    def build(s: slice) -> np.ndarray:
        ends = poly_end[s.start : s.stop + 1]
        r_ends = ring_end[ends[0] : ends[-1] + 1]
        return np.asarray(shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, coords[r_ends[0] : r_ends[-1]],
            (r_ends - r_ends[0], ends - ends[0])), dtype=object)

    return np.concatenate(in_parts(build, poly_end.size - 1))
