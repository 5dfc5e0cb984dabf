"""The compiled steps of :mod:`lifecircle.sources.planar`: the grid pass that flags the
segments meeting another off their ends, the vertex numbering, the face walk, the faces' closed
rings and the reading of GEOS's noded lines from their WKB.

Plain Python as written (readable, testable without numba), compiled by numba on first use
and cached on disk (:func:`lifecircle._kernels.compile_kernel`); :func:`kernel` hands out one
compiled function per name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel, sorted_by_key

__all__ = ["kernel"]


def _cells(i0: np.ndarray, i1: np.ndarray, start: np.ndarray, total: int,
           ncx: int) -> tuple[np.ndarray, np.ndarray]:
    """(cell key, segment) for every grid cell of every segment's bounding box."""
    key = np.empty(total, dtype=np.int64)
    seg = np.empty(total, dtype=np.int64)
    for s in range(i0.shape[0]):
        k = start[s]
        for j in range(i0[s, 1], i1[s, 1] + 1):
            for i in range(i0[s, 0], i1[s, 0] + 1):
                key[k] = j * ncx + i
                seg[k] = s
                k += 1
    return key, seg


def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float,
            tol: float) -> int:
    """Side of c from a→b: 1 left, -1 right, 0 on the line within rounding."""
    p = (bx - ax) * (cy - ay)
    q = (by - ay) * (cx - ax)
    d = p - q
    if abs(d) <= tol * (abs(p) + abs(q)):
        return 0
    return 1 if d > 0 else -1


def _meets_off_ends(s: int, t: int, a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Whether segments s and t may share a point other than a common endpoint of both."""
    ax, ay, bx, by = a[s, 0], a[s, 1], b[s, 0], b[s, 1]
    cx, cy, dx, dy = a[t, 0], a[t, 1], b[t, 0], b[t, 1]
    if max(ax, bx) < min(cx, dx) or max(cx, dx) < min(ax, bx):
        return False
    if max(ay, by) < min(cy, dy) or max(cy, dy) < min(ay, by):
        return False
    o1 = _orient(cx, cy, dx, dy, ax, ay, tol)
    o2 = _orient(cx, cy, dx, dy, bx, by, tol)
    if o1 * o2 > 0:
        return False
    o3 = _orient(ax, ay, bx, by, cx, cy, tol)
    o4 = _orient(ax, ay, bx, by, dx, dy, tol)
    if o3 * o4 > 0:
        return False
    # they meet; harmless only at a common endpoint with no overlap past it
    if ax == cx and ay == cy:
        px, py, qx, qy, rx, ry = ax, ay, bx, by, dx, dy
    elif ax == dx and ay == dy:
        px, py, qx, qy, rx, ry = ax, ay, bx, by, cx, cy
    elif bx == cx and by == cy:
        px, py, qx, qy, rx, ry = bx, by, ax, ay, dx, dy
    elif bx == dx and by == dy:
        px, py, qx, qy, rx, ry = bx, by, ax, ay, cx, cy
    else:
        return True
    if _orient(px, py, qx, qy, rx, ry, tol) != 0:
        return False
    return (qx - px) * (rx - px) + (qy - py) * (ry - py) > 0


def _root(group: np.ndarray, s: int) -> int:
    """The label of segment ``s``'s group (union-find with path halving)."""
    while group[s] != s:
        group[s] = group[group[s]]
        s = group[s]
    return s


def _flag(bounds: np.ndarray, seg: np.ndarray, a: np.ndarray, b: np.ndarray,
          flag: np.ndarray, group: np.ndarray, tol: float) -> None:
    """Flag every pair of segments in one cell that meet off common ends, and join their
    groups (``group``: each segment's own position on entry, its group's lowest on exit)."""
    for c in range(bounds.shape[0] - 1):
        for p in range(bounds[c], bounds[c + 1]):
            s = seg[p]
            for q in range(p + 1, bounds[c + 1]):
                t = seg[q]
                if flag[s] and flag[t] and _root(group, s) == _root(group, t):
                    continue
                if _meets_off_ends(s, t, a, b, tol):
                    flag[s] = True
                    flag[t] = True
                    rs, rt = _root(group, s), _root(group, t)
                    group[max(rs, rt)] = min(rs, rt)
    for s in range(group.shape[0]):
        group[s] = _root(group, s)


def _flag_more(added: np.ndarray, a: np.ndarray, b: np.ndarray, flag: np.ndarray,
               group: np.ndarray, ox: float, oy: float, cell: float, ncx: int, ncy: int,
               cells: np.ndarray, bounds: np.ndarray, seg: np.ndarray, tol: float) -> None:
    """:func:`_flag` for the segments ``added``: each against the others of the cells its
    box crosses (``cells``: the occupied cell keys, sorted; ``seg[bounds[c]:bounds[c + 1]]``
    the segments of ``cells[c]``) and against the other added ones."""
    for p in range(added.shape[0]):
        s = added[p]
        i0 = max(int(np.floor((min(a[s, 0], b[s, 0]) - ox) / cell)), 0)
        i1 = min(int(np.floor((max(a[s, 0], b[s, 0]) - ox) / cell)), ncx - 1)
        j0 = max(int(np.floor((min(a[s, 1], b[s, 1]) - oy) / cell)), 0)
        j1 = min(int(np.floor((max(a[s, 1], b[s, 1]) - oy) / cell)), ncy - 1)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                k = j * ncx + i
                c = np.searchsorted(cells, k)
                if c >= cells.shape[0] or cells[c] != k:
                    continue
                for q in range(bounds[c], bounds[c + 1]):
                    _join_if_met(s, seg[q], a, b, flag, group, tol)
        for q in range(p + 1, added.shape[0]):
            _join_if_met(s, added[q], a, b, flag, group, tol)
    for s in range(group.shape[0]):
        group[s] = _root(group, s)


def _join_if_met(s: int, t: int, a: np.ndarray, b: np.ndarray, flag: np.ndarray,
                 group: np.ndarray, tol: float) -> None:
    """Flag segments s and t and join their groups if they meet off common ends."""
    if s != t and _meets_off_ends(s, t, a, b, tol):
        flag[s] = True
        flag[t] = True
        rs, rt = _root(group, s), _root(group, t)
        group[max(rs, rt)] = min(rs, rt)


def _successor(perm: np.ndarray, org: np.ndarray, n_nodes: int) -> np.ndarray:
    """The next half-edge of each along its face: the edge clockwise after its twin.

    ``org``: start vertex of each half-edge (``h ^ 1`` is h's twin); ``perm``: half-edges
    sorted by start vertex, then angle. A walk keeps its face on the left
    (counter-clockwise round a bounded face). Three passes inside the walk's kernel: the
    numpy form (a ``searchsorted`` and five gathers over the half-edges) took 1.0 s CPU of
    four walks at a million nodes under cProfile, 16x its time at 268,569 nodes.
    """
    m = perm.shape[0]
    first = np.zeros(n_nodes + 1, dtype=np.int64)  # first half-edge of each vertex in perm
    for h in range(m):
        first[org[h] + 1] += 1
    for i in range(n_nodes):
        first[i + 1] += first[i]
    rank = np.empty(m, dtype=np.int64)  # place of each half-edge in perm
    for i in range(m):
        rank[perm[i]] = i
    succ = np.empty(m, dtype=np.int64)
    for h in range(m):
        t = h ^ 1
        a = org[t]
        r = rank[t] - 1
        succ[h] = perm[first[a + 1] - 1] if r < first[a] else perm[r]
    return succ


def _walk_rings(perm: np.ndarray, org: np.ndarray, xy: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walk every face boundary, cutting it at repeated vertices into simple rings; each
    half-edge is followed by its :func:`_successor` (``perm``: the half-edges by start
    vertex, then angle).

    Returns (walk of each half-edge, ring vertices, ring offsets, walk of each ring, signed
    area of each ring, its lowest-left vertex); rings of fewer than 3 vertices left out.
    """
    succ = _successor(perm, org, xy.shape[0])
    n = succ.shape[0]
    walk = np.full(n, -1, dtype=np.int64)
    pos = np.full(xy.shape[0], -1, dtype=np.int64)  # place on the stack of a vertex
    stack = np.empty(n + 1, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    rptr = np.zeros(n + 1, dtype=np.int64)
    rwalk = np.empty(n, dtype=np.int64)
    rarea = np.empty(n, dtype=np.float64)
    rlow = np.empty((n, 2), dtype=np.float64)
    n_walks = 0
    n_rings = 0
    for h in range(n):
        if walk[h] >= 0:
            continue
        top = 0
        g = h
        done = False
        while not done:
            done = walk[g] >= 0  # back where the walk began: close the last ring
            if done:
                vertex = stack[0]
            else:
                walk[g] = n_walks
                vertex = org[g]
                g = succ[g]
            p = pos[vertex]
            if p < 0:
                pos[vertex] = top
                stack[top] = vertex
                top += 1
            else:  # the stack from p on is a ring
                if top - p >= 3:
                    _ring(stack, p, top, xy, out, rptr, n_rings, rarea, rlow)
                    rwalk[n_rings] = n_walks
                    n_rings += 1
                for j in range(p + 1, top):
                    pos[stack[j]] = -1
                top = p + 1
        pos[stack[0]] = -1
        n_walks += 1
    n_out = rptr[n_rings]
    return (walk, out[:n_out].copy(), rptr[: n_rings + 1].copy(), rwalk[:n_rings].copy(),
            rarea[:n_rings].copy(), rlow[:n_rings].copy())


def _ring(stack: np.ndarray, p: int, top: int, xy: np.ndarray, out: np.ndarray,
          rptr: np.ndarray, i: int, rarea: np.ndarray, rlow: np.ndarray) -> None:
    """Write ring ``i`` (vertices ``stack[p:top]``) from its lowest-left vertex on, its signed
    area and that vertex. Starting there, not where the walk first reached the ring, makes
    the rings independent of how the vertices are numbered (the order of the segments)."""
    first = p
    lx, ly = xy[stack[p], 0], xy[stack[p], 1]
    for j in range(p + 1, top):
        jx, jy = xy[stack[j], 0], xy[stack[j], 1]
        if jx < lx or (jx == lx and jy < ly):
            lx, ly, first = jx, jy, j
    k = rptr[i]
    area = 0.0
    n = top - p
    for m in range(n):
        j = p + (first - p + m) % n
        nxt = p + (first - p + m + 1) % n
        area += (xy[stack[j], 0] - lx) * (xy[stack[nxt], 1] - ly) - (
            xy[stack[nxt], 0] - lx) * (xy[stack[j], 1] - ly)
        out[k] = stack[j]
        k += 1
    rptr[i + 1] = k
    rarea[i] = 0.5 * area
    rlow[i, 0], rlow[i, 1] = lx, ly


def _nodes(bits: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of each point (equal bit patterns: one vertex) and the vertices' coordinates,
    by open addressing on the coordinates' bits (a sort of 10^6 points costs 4x more).

    The table has a slot per 2/3 point at least (at most 2/3 full), of int32 where the
    points are that few: at a million nodes (4 x 10^6 points) it is 64 MB and every probe
    misses the caches, so half the slots of half the width made the pass ~1.5x faster."""
    n = pts.shape[0]
    size = 16
    while size < n + n // 2:
        size *= 2
    if n < 2**31 - 1:
        return _nodes_in(bits, pts, np.full(size, -1, dtype=np.int32))
    return _nodes_in(bits, pts, np.full(size, -1, dtype=np.int64))  # pragma: no cover


def _nodes_in(bits: np.ndarray, pts: np.ndarray,
              table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_nodes` with the table ``table`` (all -1, its size a power of two)."""
    n = pts.shape[0]
    mask = table.shape[0] - 1
    node = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        bx, by = bits[i, 0], bits[i, 1]
        h = bx * -7046029254386353131 + by * -4417276706812531889
        j = (h ^ (h >> 31)) & mask
        while True:
            k = table[j]
            if k < 0:
                table[j] = m
                first[m] = i
                node[i] = m
                m += 1
                break
            f = first[k]
            if bits[f, 0] == bx and bits[f, 1] == by:
                node[i] = k
                break
            j = (j + 1) & mask
    xy = np.empty((m, 2), dtype=np.float64)
    for k in range(m):
        xy[k, 0], xy[k, 1] = pts[first[k], 0], pts[first[k], 1]
    return node, xy


def _ring_box(xy: np.ndarray, ring_nodes: np.ndarray, ring_ptr: np.ndarray,
              rings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) x and y of the vertices ``ring_nodes[ring_ptr[r]:ring_ptr[r + 1]]``
    of each ring ``r`` of ``rings`` (each has vertices); one pass, where numpy's gather and
    two ``reduceat`` made three copies of every vertex (0.3 s at a million nodes)."""
    n = rings.shape[0]
    lo = np.empty((n, 2), dtype=np.float64)
    hi = np.empty((n, 2), dtype=np.float64)
    for k in range(n):
        r = rings[k]
        v = ring_nodes[ring_ptr[r]]
        x0 = x1 = xy[v, 0]
        y0 = y1 = xy[v, 1]
        for q in range(ring_ptr[r] + 1, ring_ptr[r + 1]):
            v = ring_nodes[q]
            x0, x1 = min(x0, xy[v, 0]), max(x1, xy[v, 0])
            y0, y1 = min(y0, xy[v, 1]), max(y1, xy[v, 1])
        lo[k, 0], lo[k, 1], hi[k, 0], hi[k, 1] = x0, y0, x1, y1
    return lo, hi


def _closed_rings(xy: np.ndarray, ring_nodes: np.ndarray, ring_ptr: np.ndarray,
                  rings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates of the rings ``rings`` one after the other, each closed (its first
    vertex again at its end; vertices ``ring_nodes[ring_ptr[r]:ring_ptr[r + 1]]``), and the
    offsets of the rings in them (from 0). Where numpy's gathers made four temporaries of a
    vertex count each."""
    n = rings.shape[0]
    ends = np.zeros(n + 1, dtype=np.int64)
    for k in range(n):
        r = rings[k]
        ends[k + 1] = ends[k] + ring_ptr[r + 1] - ring_ptr[r] + 1
    coords = np.empty((ends[n], 2), dtype=np.float64)
    for k in range(n):
        r = rings[k]
        o = ends[k]
        for q in range(ring_ptr[r], ring_ptr[r + 1]):
            v = ring_nodes[q]
            coords[o, 0], coords[o, 1] = xy[v, 0], xy[v, 1]
            o += 1
        v = ring_nodes[ring_ptr[r]]
        coords[o, 0], coords[o, 1] = xy[v, 0], xy[v, 1]
    return coords, ends


def _pairs_in_boxes(x: np.ndarray, y: np.ndarray, first: np.ndarray, order: np.ndarray,
                    box: np.ndarray, b0: np.ndarray, b1: np.ndarray,
                    ncx: int) -> tuple[np.ndarray, np.ndarray]:
    """The (box, point) pairs of :func:`~lifecircle.sources.planar.box_pairs`: the points
    ``order[first[c]:first[c + 1]]`` of each cell ``c`` the boxes overlap (cells ``b0`` to
    ``b1``), scanned twice (count, then fill)."""
    g_i = np.empty(0, dtype=np.int64)
    p_i = np.empty(0, dtype=np.int64)
    total = 0
    for write in range(2):
        if write:
            g_i = np.empty(total, dtype=np.int64)
            p_i = np.empty(total, dtype=np.int64)
        k = 0
        for g in range(box.shape[0]):
            for j in range(b0[g, 1], b1[g, 1] + 1):
                for i in range(b0[g, 0], b1[g, 0] + 1):
                    c = j * ncx + i
                    for q in range(first[c], first[c + 1]):
                        p = order[q]
                        if box[g, 0] <= x[p] <= box[g, 2] and box[g, 1] <= y[p] <= box[g, 3]:
                            if write:
                                g_i[k] = g
                                p_i[k] = p
                            k += 1
        total = k
    return g_i, p_i


def _u32(buf: np.ndarray, p: int) -> int:
    """The little-endian unsigned 32-bit integer at byte ``p``."""
    return (int(buf[p]) | (int(buf[p + 1]) << 8) | (int(buf[p + 2]) << 16)
            | (int(buf[p + 3]) << 24))


def _line_wkb(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Coordinate bytes of the little-endian 2D (multi-)line strings written one after the
    other in ``buf`` (16 a vertex, x then y), whether each vertex starts a line (a part), and
    whether ``buf`` held nothing else (False: some geometry of another kind, read nothing).
    Scanned twice: vertex count, then copy."""
    n_pts = 0
    p = 0
    while p < buf.shape[0]:  # count, and check every header
        if p + 9 > buf.shape[0] or buf[p] != 1:
            return np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.bool_), False
        kind = _u32(buf, p + 1)
        if kind == 2:
            parts, p = 1, p
        elif kind == 5:
            parts, p = _u32(buf, p + 5), p + 9
        else:
            return np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.bool_), False
        for _ in range(parts):
            if p + 9 > buf.shape[0] or buf[p] != 1 or _u32(buf, p + 1) != 2:
                return np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.bool_), False
            m = _u32(buf, p + 5)
            n_pts += m
            p += 9 + 16 * m
    if p != buf.shape[0]:
        return np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.bool_), False
    raw = np.empty(16 * n_pts, dtype=np.uint8)
    first = np.zeros(n_pts, dtype=np.bool_)
    p = 0
    k = 0
    while p < buf.shape[0]:
        if _u32(buf, p + 1) == 2:
            parts = 1
        else:
            parts, p = _u32(buf, p + 5), p + 9
        for _ in range(parts):
            m = _u32(buf, p + 5)
            if m:
                first[k] = True
            raw[16 * k : 16 * (k + m)] = buf[p + 9 : p + 9 + 16 * m]
            k += m
            p += 9 + 16 * m
    return raw, first, True


_KERNELS: dict[str, tuple[Callable[..., Any], tuple[Callable[..., Any], ...]]] = {
    "nodes": (_nodes, (_nodes_in,)),
    "angular": (sorted_by_key, ()),  # half-edges by start vertex, then angle
    "cells": (_cells, ()),
    "flag": (_flag, (_orient, _meets_off_ends, _root)),
    "more": (_flag_more, (_orient, _meets_off_ends, _root, _join_if_met)),
    "walk": (_walk_rings, (_ring, _successor)),
    "lines": (_line_wkb, (_u32,)),
    "bounds": (_ring_box, ()),
    "closed": (_closed_rings, ()),
    "boxes": (_pairs_in_boxes, ()),
}


@cache
def kernel(name: str) -> Callable[..., Any]:
    """The kernel ``name`` compiled by numba (or loaded from its cache) on first use."""
    fn, helpers = _KERNELS[name]
    return compile_kernel(fn, *helpers)
