"""The edges within a distance of points: a bucket grid of the edges' envelopes, in numba.

:func:`lifecircle.snapping.snap_points` asks, for every point, which edges lie within a
radius of it (its rings, then its tie reach). An ``shapely.STRtree`` of the edge geometries
answered the envelope query and GEOS the distances; at a million nodes building the tree
alone took ~0.7 s, making one box polygon a point ~0.3 s and the distances, called through
shapely for every (point, edge) pair, over a second. Here the envelopes come straight from
``WalkNetwork.edge_coords`` into a grid of square buckets, and one compiled pass per batch
of points lists each point's edges whose envelope meets its box (the test the tree made,
on the same floats) and measures them with GEOS's arithmetic (:func:`seg_dist`, the least
over the edge's segments, as ``DistanceOp`` takes it), keeping those within the radius. So
the pairs, and their distances to the last bit, are those of the tree's query followed by
``shapely.distance``; only their order differs (the callers sort them).

Why hand-written: no library answers "every segment within r of each of 10^5 points" with
the distances without making a geometry per point and pair (GEOS answers through objects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ._kernels import compile_kernel, grown

__all__ = ["EdgeGrid", "edge_grid", "locate", "seg_dist", "seg_measure"]

#: the buckets' side (metres): a snap's first ring (40 m) spans two or three of them
BUCKET_M = 64.0


def seg_dist(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from (px, py) to segment a-b, with GEOS's ``Distance::pointToSegment``
    arithmetic."""
    if ax == bx and ay == by:
        return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    if len2 == 0.0:
        # a and b apart yet their squares underflow (denormal coordinates): C's division by
        # zero, which numba's raises on, gives r = +-inf (an end's distance) or NaN (NaN)
        num = (px - ax) * dx + (py - ay) * dy
        if num < 0.0:
            return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
        if num > 0.0:
            return math.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
        return math.nan
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    if r <= 0.0:
        return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    if r >= 1.0:
        return math.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    s = ((ay - py) * dx - (ax - px) * dy) / len2
    return abs(s) * math.sqrt(len2)


def seg_measure(px: float, py: float, ax: float, ay: float, bx: float, by: float,
                 start: float, seg_len: float) -> float:
    """Length along the line to the point of segment a-b nearest (px, py), ``start`` being the
    length up to a (GEOS's ``LengthIndexOfPoint::segmentNearestMeasure``)."""
    if px == ax and py == ay:
        return start
    if px == bx and py == by:
        return start + seg_len
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    if len2 == 0.0:
        # GEOS's projection factor divides by zero: NaN on a zero-length segment (its end),
        # -inf or +inf where denormal coordinates' squares underflow
        num = (px - ax) * dx + (py - ay) * dy
        return start if num < 0.0 else start + seg_len
    f = ((px - ax) * dx + (py - ay) * dy) / len2
    if f <= 0.0:
        return start
    if f <= 1.0:
        return start + f * seg_len
    return start + seg_len


def _build(ptr: np.ndarray, xy: np.ndarray, x0: float, y0: float, size: float, nx: int,
           ny: int) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    """Each edge's envelope (min x, min y, max x, max y) and the edges of each bucket
    (``b_ptr``, ``b_edge``: bucket ``r * nx + c`` holds ``b_edge[b_ptr[k]:b_ptr[k + 1]]``,
    ascending), every bucket the envelope meets."""
    n = ptr.shape[0] - 1
    env = np.empty((n, 4))
    c_lo = np.empty(n, dtype=np.int64)
    c_hi = np.empty(n, dtype=np.int64)
    r_lo = np.empty(n, dtype=np.int64)
    r_hi = np.empty(n, dtype=np.int64)
    count = np.zeros(nx * ny + 1, dtype=np.int64)
    for e in range(n):
        lo_x = hi_x = xy[ptr[e], 0]
        lo_y = hi_y = xy[ptr[e], 1]
        for j in range(ptr[e] + 1, ptr[e + 1]):
            lo_x = min(lo_x, xy[j, 0])
            hi_x = max(hi_x, xy[j, 0])
            lo_y = min(lo_y, xy[j, 1])
            hi_y = max(hi_y, xy[j, 1])
        env[e, 0] = lo_x
        env[e, 1] = lo_y
        env[e, 2] = hi_x
        env[e, 3] = hi_y
        c_lo[e] = _cell(lo_x, x0, size, nx)
        c_hi[e] = _cell(hi_x, x0, size, nx)
        r_lo[e] = _cell(lo_y, y0, size, ny)
        r_hi[e] = _cell(hi_y, y0, size, ny)
        for r in range(r_lo[e], r_hi[e] + 1):
            for c in range(c_lo[e], c_hi[e] + 1):
                count[r * nx + c + 1] += 1
    for k in range(nx * ny):
        count[k + 1] += count[k]
    b_edge = np.empty(count[nx * ny], dtype=np.int64)
    at = count[:-1].copy()
    for e in range(n):
        for r in range(r_lo[e], r_hi[e] + 1):
            for c in range(c_lo[e], c_hi[e] + 1):
                b_edge[at[r * nx + c]] = e
                at[r * nx + c] += 1
    return env, count, b_edge


def _cell(v: float, origin: float, size: float, n: int) -> int:
    """The bucket index of coordinate ``v`` along an axis of ``n`` buckets, clipped (NaN:
    the first; compared as a float first, as an infinite or huge ``v`` has no int64)."""
    k = (v - origin) / size
    if not k >= 0.0:
        return 0
    if k >= n:
        return n - 1
    return math.floor(k)


def _within(env: np.ndarray, b_ptr: np.ndarray, b_edge: np.ndarray, x0: float, y0: float,
            size: float, nx: int, ny: int, ptr: np.ndarray, xy: np.ndarray, px: np.ndarray,
            py: np.ndarray, rad: np.ndarray, eligible: np.ndarray,
            seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """(point, edge, distance) of every edge (``eligible`` when not empty) within ``rad`` of
    each point whose envelope meets the point's box ``px -+ rad, py -+ rad``; ``seen``: one
    slot an edge, all below 0 on entry (the last point that met the edge, on return)."""
    cap = max(16, 8 * px.shape[0])
    out_p = np.empty(cap, dtype=np.int64)
    out_e = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap)
    m = 0
    some = eligible.shape[0] > 0
    for i in range(px.shape[0]):
        x = px[i]
        y = py[i]
        r = rad[i]
        lx = x - r
        ly = y - r
        hx = x + r
        hy = y + r
        for row in range(_cell(ly, y0, size, ny), _cell(hy, y0, size, ny) + 1):
            for col in range(_cell(lx, x0, size, nx), _cell(hx, x0, size, nx) + 1):
                k = row * nx + col
                for t in range(b_ptr[k], b_ptr[k + 1]):
                    e = b_edge[t]
                    if seen[e] == i:
                        continue
                    seen[e] = i
                    if some and not eligible[e]:
                        continue
                    if env[e, 0] > hx or env[e, 2] < lx or env[e, 1] > hy or env[e, 3] < ly:
                        continue
                    d = np.inf
                    for j in range(ptr[e], ptr[e + 1] - 1):
                        dj = seg_dist(x, y, xy[j, 0], xy[j, 1], xy[j + 1, 0], xy[j + 1, 1])
                        if dj < d:  # (a NaN is passed over, as by GEOS's DistanceOp)
                            d = dj
                    if not d <= r:
                        continue
                    if m == cap:
                        cap *= 2
                        out_p = grown(out_p, m, cap)
                        out_e = grown(out_e, m, cap)
                        out_d = grown(out_d, m, cap)
                    out_p[m] = i
                    out_e[m] = e
                    out_d[m] = d
                    m += 1
    return out_p[:m], out_e[:m], out_d[:m]


def _meeting(env: np.ndarray, b_ptr: np.ndarray, b_edge: np.ndarray, x0: float, y0: float,
             size: float, nx: int, ny: int, lx: float, ly: float, hx: float,
             hy: float) -> np.ndarray:  # pragma: no cover - compiled
    """The edges whose envelope meets the box ``lx, ly, hx, hy`` (closed), ascending."""
    take = np.zeros(env.shape[0], dtype=np.bool_)
    for row in range(_cell(ly, y0, size, ny), _cell(hy, y0, size, ny) + 1):
        for col in range(_cell(lx, x0, size, nx), _cell(hx, x0, size, nx) + 1):
            k = row * nx + col
            for t in range(b_ptr[k], b_ptr[k + 1]):
                e = b_edge[t]
                if not (env[e, 0] > hx or env[e, 2] < lx or env[e, 1] > hy
                        or env[e, 3] < ly):
                    take[e] = True
    return np.flatnonzero(take)


@cache
def _meeting_kernel() -> Any:
    return compile_kernel(_meeting, _cell)


def _locate(ptr: np.ndarray, xy: np.ndarray, edge: np.ndarray, px: np.ndarray,
            py: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Per pair ``k``: where point ``k`` projects onto edge ``edge[k]``, as a fraction of the
    edge's length, with GEOS's arithmetic (``LengthIndexOfPoint``: the first segment at the
    least distance; the length summed segment by segment as ``Length::ofLine``)."""
    out = np.empty(edge.shape[0])
    for k in range(edge.shape[0]):
        e = edge[k]
        best = np.inf
        meas = -1.0
        start = 0.0
        for j in range(ptr[e], ptr[e + 1] - 1):
            ax, ay, bx, by = xy[j, 0], xy[j, 1], xy[j + 1, 0], xy[j + 1, 1]
            seg_len = math.sqrt((ax - bx) * (ax - bx) + (ay - by) * (ay - by))
            d = seg_dist(px[k], py[k], ax, ay, bx, by)
            if d < best:
                best = d
                meas = seg_measure(px[k], py[k], ax, ay, bx, by, start, seg_len)
            start += seg_len
        out[k] = meas / start if start > 0.0 else 0.0
    return out


@cache
def _locate_kernel() -> Any:
    return compile_kernel(_locate, seg_dist, seg_measure)


@cache
def _build_kernel() -> Any:
    return compile_kernel(_build, _cell)


@cache
def _within_kernel() -> Any:
    return compile_kernel(_within, _cell, seg_dist)


@dataclass(frozen=True)
class EdgeGrid:
    """The edges' envelopes in square buckets of ``size`` metres from ``(x0, y0)``,
    ``nx x ny`` of them (see the module's notes); ``ptr``, ``xy``: the edges' vertices."""

    env: np.ndarray
    b_ptr: np.ndarray
    b_edge: np.ndarray
    x0: float
    y0: float
    size: float
    nx: int
    ny: int
    ptr: np.ndarray
    xy: np.ndarray

    def within(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray,
               eligible: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, edge, distance) of every edge (among ``eligible``, a mask, when given)
        within ``radius[k]`` of point ``(x[k], y[k])``: the pairs of an ``STRtree.query``
        of the points' boxes whose ``shapely.distance`` is within the radius, with that
        distance; by point, in no set order within a point."""
        # (numba checks no bounds: the shapes the kernel indexes by are checked here)
        if not (np.shape(x) == np.shape(y) == np.shape(radius)) or np.ndim(x) != 1:
            raise ValueError("x, y and radius must be 1-D arrays of one length")
        if eligible is not None and np.shape(eligible) != (self.env.shape[0],):
            raise ValueError(f"eligible must be a mask of {self.env.shape[0]} edges")
        seen = np.full(self.env.shape[0], -1, dtype=np.int64)
        mask = np.empty(0, dtype=np.bool_) if eligible is None else \
            np.ascontiguousarray(eligible, dtype=np.bool_)
        out: tuple[np.ndarray, np.ndarray, np.ndarray] = _within_kernel()(
            self.env, self.b_ptr, self.b_edge, self.x0, self.y0, self.size, self.nx,
            self.ny, self.ptr, self.xy, np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            np.ascontiguousarray(radius, dtype=np.float64), mask, seen)
        return out

    def meeting(self, lx: float, ly: float, hx: float, hy: float) -> np.ndarray:
        """The edges whose envelope meets the box ``(lx, ly, hx, hy)``, ascending: those of
        an ``STRtree.query`` of ``shapely.box(lx, ly, hx, hy)``, sorted."""
        out: np.ndarray = _meeting_kernel()(
            self.env, self.b_ptr, self.b_edge, self.x0, self.y0, self.size, self.nx,
            self.ny, float(lx), float(ly), float(hx), float(hy))
        return out


def locate(ptr: np.ndarray, xy: np.ndarray, edge: np.ndarray, x: np.ndarray,
           y: np.ndarray) -> np.ndarray:
    """``shapely.line_locate_point(line[edge], points, normalized=True)`` of the edges whose
    vertices are ``xy[ptr[e]:ptr[e + 1]]``, to the last bit (0 for an edge of no length),
    without a geometry (the snaps' candidates: ~0.26 s at a million nodes through GEOS)."""
    edge = np.ascontiguousarray(edge, dtype=np.int64)
    if edge.size and (edge.min() < 0 or edge.max() >= len(ptr) - 1):  # (numba checks none)
        raise ValueError(f"edge indices must lie in [0, {len(ptr) - 1})")
    if not (edge.shape == np.shape(x) == np.shape(y)):
        raise ValueError("edge, x and y must be of one length")
    out: np.ndarray = _locate_kernel()(
        np.ascontiguousarray(ptr, dtype=np.int64),
        np.ascontiguousarray(xy[:, :2], dtype=np.float64),
        edge, np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.float64))
    return out


def edge_grid(ptr: np.ndarray, xy: np.ndarray, *, size: float = BUCKET_M) -> EdgeGrid:
    """The :class:`EdgeGrid` of edges whose vertices are ``xy[ptr[e]:ptr[e + 1]]`` (at
    least two each), buckets of ``size`` metres (larger where the extent would need more
    buckets than a few per edge)."""
    ptr = np.ascontiguousarray(ptr, dtype=np.int64)
    xy = np.ascontiguousarray(xy[:, :2], dtype=np.float64)
    n_edges = ptr.shape[0] - 1
    if xy.shape[0] == 0:
        x0 = y0 = 0.0
        w = h = 0.0
    else:
        x0, y0 = float(xy[:, 0].min()), float(xy[:, 1].min())
        w, h = float(xy[:, 0].max()) - x0, float(xy[:, 1].max()) - y0
    cap = 4 * n_edges + 1024  # buckets at most
    while (w / size + 1) * (h / size + 1) > cap:
        size *= 2.0
    nx, ny = int(w // size) + 1, int(h // size) + 1
    env, b_ptr, b_edge = _build_kernel()(ptr, xy, x0, y0, size, nx, ny)
    return EdgeGrid(env, b_ptr, b_edge, x0, y0, size, nx, ny, ptr, xy)
