"""Compiled kernels of the read's polygon step (:func:`._osm_arrays.ring_polygons`).

:func:`rings` drops repeated consecutive locations, lays each closed-way ring out as
one-polygon multipolygon WKB and tells the rings that are clearly valid polygons: a strictly
convex ring turning once, or (:func:`simple`) a ring none of whose edges meet but neighbours
at their shared corner. Both tests only ever answer True when the answer is certain; GEOS's
``is_valid`` judges every other ring.

:func:`ring_holds` tells whether one-ring polygons hold a point each, as GEOS's ray crossing
answers it, or that it cannot be sure (the blocks step's access points:
:func:`~lifecircle.sources.block_gates.distance_to_boundary`).

Hand-written (numba): laid out with numpy, the byte masks of the WKB and the per-edge
temporaries of the convexity test cost more than the rest of the polygon step, and GEOS's
``is_valid`` parses a geometry per ring. Imported on first use (numba's import and cached
compilation are not paid by reads without closed ways); module-level so that numba's on-disk
cache holds them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ring_holds", "rings", "simple"]

#: rings with more edges are left to GEOS (the simple test compares every pair of edges)
SIMPLE_EDGES = 512
#: a relative bound on the rounding of an orientation determinant far above the true one
#: (Shewchuk's first filter is 3.3e-16 of the terms' magnitudes): a sign clearer than this is
#: the exact sign, which GEOS's robust predicates also find
ORIENT_ERR = 1e-12


@njit(cache=True, nogil=True, inline="always")
def _side(ax: float, ay: float, bx: float, by: float, cx: float,
          cy: float) -> int:  # pragma: no cover - compiled
    """The side of c from the line a -> b: +1, -1, or 0 when too close to tell."""
    left = (ax - cx) * (by - cy)
    right = (ay - cy) * (bx - cx)
    det = left - right
    bound = ORIENT_ERR * (abs(left) + abs(right))
    if det > bound:
        return 1
    if det < -bound:
        return -1
    return 0


@njit(cache=True, nogil=True)
def simple(xs: np.ndarray, ys: np.ndarray, edges: int) -> bool:  # pragma: no cover - compiled
    """Whether the closed ring ``xs[:edges + 1]``, ``ys[...]`` (first point repeated last,
    no repeated consecutive points) clearly is a simple ring: every corner turns with a
    certain sign, and every pair of edges that are not neighbours is separated (a bounding
    box apart, or one edge's ends certainly on one side of the other's line)."""
    for i in range(edges):
        ax, ay, bx, by = xs[i], ys[i], xs[i + 1], ys[i + 1]
        # the next edge turns clearly: the two meet at their shared corner only
        nxt = i + 1 if i + 1 < edges else 0
        if _side(ax, ay, bx, by, xs[nxt + 1], ys[nxt + 1]) == 0:
            return False
        lox, hix = min(ax, bx), max(ax, bx)
        loy, hiy = min(ay, by), max(ay, by)
        for j in range(i + 2, edges):
            if i == 0 and j == edges - 1:
                continue  # neighbours across the closing corner (checked above)
            cx, cy, dx, dy = xs[j], ys[j], xs[j + 1], ys[j + 1]
            if max(cx, dx) < lox or min(cx, dx) > hix or max(cy, dy) < loy or min(cy, dy) > hiy:
                continue
            s1 = _side(ax, ay, bx, by, cx, cy)
            s2 = _side(ax, ay, bx, by, dx, dy)
            if s1 != 0 and s1 == s2:
                continue
            s3 = _side(cx, cy, dx, dy, ax, ay)
            s4 = _side(cx, cy, dx, dy, bx, by)
            if s3 != 0 and s3 == s4:
                continue
            return False  # the edges meet, or too close to tell
    return True


@njit(cache=True, nogil=True)
def rings(coords: np.ndarray, counts: np.ndarray, buf: np.ndarray, sine: float,
          simple_test: bool = True,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Rings of ``counts`` points each (``coords`` back to back) into ``buf`` as WKB; returns
    the record offsets, the points kept per ring and whether each is clearly valid (convex
    by the test of ``_osm_arrays._clearly_convex`` with turn sine ``sine``, or, with
    ``simple_test``, :func:`simple`)."""
    n = counts.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    points = np.zeros(n, dtype=np.int64)
    clear = np.zeros(n, dtype=np.bool_)
    scratch = np.empty(1, dtype=np.float64)
    scratch_bytes = scratch.view(np.uint8)
    count = np.empty(1, dtype=np.uint32)
    count_bytes = count.view(np.uint8)
    xs = np.empty(16, dtype=np.float64)
    ys = np.empty(16, dtype=np.float64)
    src = 0
    at = 0
    for r in range(n):
        c = counts[r]
        if c > xs.shape[0]:
            xs = np.empty(2 * c, dtype=np.float64)
            ys = np.empty(2 * c, dtype=np.float64)
        k = 0
        for j in range(c):
            x = coords[src + j, 0]
            y = coords[src + j, 1]
            if k == 0 or x != xs[k - 1] or y != ys[k - 1]:
                xs[k] = x
                ys[k] = y
                k += 1
        src += c
        points[r] = k
        # header: multipolygon of 1 polygon, polygon of 1 ring, point count (little endian)
        for b in range(22):
            buf[at + b] = 0
        buf[at] = 1
        buf[at + 1] = 6
        buf[at + 5] = 1
        buf[at + 9] = 1
        buf[at + 10] = 3
        buf[at + 14] = 1
        count[0] = k
        for b in range(4):
            buf[at + 18 + b] = count_bytes[b]
        at += 22
        for j in range(k):
            scratch[0] = xs[j]
            for b in range(8):
                buf[at + b] = scratch_bytes[b]
            scratch[0] = ys[j]
            for b in range(8):
                buf[at + 8 + b] = scratch_bytes[b]
            at += 16
        offsets[r + 1] = at
        if k < 4:
            continue
        # convex: every turn one way with a sine above ``sine``, and the edge direction
        # passing angle 0 once (counted from the half plane of each direction)
        edges = k - 1
        left = right = up = down = 0
        for j in range(edges):
            ax = xs[j + 1] - xs[j]
            ay = ys[j + 1] - ys[j]
            nj = j + 1 if j + 1 < edges else 0
            bx = xs[nj + 1] - xs[nj]
            by = ys[nj + 1] - ys[nj]
            cross = ax * by - ay * bx
            if cross * cross > sine * sine * (ax * ax + ay * ay) * (bx * bx + by * by):
                if cross > 0:
                    left += 1
                elif cross < 0:
                    right += 1
            lower_a = ay < 0 or (ay == 0 and ax < 0)
            lower_b = by < 0 or (by == 0 and bx < 0)
            if lower_a and not lower_b:
                up += 1
            if lower_b and not lower_a:
                down += 1
        clear[r] = (left == edges and up == 1) or (right == edges and down == 1)
        if not clear[r] and simple_test and edges <= SIMPLE_EDGES:
            clear[r] = simple(xs, ys, edges)
    return offsets, points, clear


@njit(cache=True, nogil=True)
def ring_holds(xs: np.ndarray, ys: np.ndarray, first: np.ndarray, px: np.ndarray,
               py: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Per closed ring r (vertices ``first[r]`` to ``first[r + 1]``): 1 where (px[r], py[r])
    is inside it, 0 where outside or on it, -1 where too close to tell (GEOS judges those).

    GEOS's ``RayCrossingCounter`` (what its ``contains`` of a polygon without holes and a
    point comes to): the crossings of a ray to the right, a point on a vertex or segment on
    the boundary; its orientation index taken from :func:`_side` only where the sign is
    certain, so every 0 or 1 is GEOS's answer."""
    n = px.shape[0]
    out = np.empty(n, dtype=np.int8)
    for r in range(n):
        qx, qy = px[r], py[r]
        crossings = 0
        state = 0  # 1: on the boundary, 2: too close to tell
        for j in range(first[r], first[r + 1] - 1):
            x1, y1, x2, y2 = xs[j], ys[j], xs[j + 1], ys[j + 1]
            if x1 < qx and x2 < qx:
                continue  # wholly left of the point
            if qx == x2 and qy == y2:
                state = 1
                break
            if y1 == qy and y2 == qy:  # horizontal: on it, or not counted
                if min(x1, x2) <= qx <= max(x1, x2):
                    state = 1
                    break
                continue
            if (y1 > qy and y2 <= qy) or (y2 > qy and y1 <= qy):
                side = _side(x1, y1, x2, y2, qx, qy)
                if side == 0:
                    state = 2
                    break
                if y2 < y1:
                    side = -side
                if side == 1:
                    crossings += 1
        if state == 1:
            out[r] = 0
        elif state == 2:
            out[r] = -1
        else:
            out[r] = crossings % 2
    return out
