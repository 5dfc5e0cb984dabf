"""Compiled kernels of the blocks step that replace a GEOS geometry per element: the distance
from each access point to its block's outline, the grid points of the study limit, and
bounds on the outline two pieces share.

Hand-written (numba) because no maintained library does these on whole arrays without a
geometry per element: ``shapely.distance(shapely.boundary(blocks), points)`` builds an
outline per block (290,000 at a million nodes) only to walk its segments once (a block
without holes is one ring, read off ``shapely.get_coordinates``), and the
limit's grid rounded millions of coordinates through a numpy temporary per step, once per
grid size tried; the shared outlines of small pieces and their neighbours were an overlay
of two outlines per pair. The first two give GEOS's and numpy's numbers to the bit: the
distance is GEOS 3.14's ``Distance::pointToSegment`` over every segment of every ring (what
``DistanceOp`` takes the minimum of for a point and lines), the grid numpy's
round-half-to-even (``np.rint``); the third gives bounds around GEOS's length, and its
caller asks GEOS where they do not settle the choice.

Plain Python as written (testable without numba), compiled by numba on first use and cached
on disk (:func:`lifecircle._kernels.compile_kernel`); :func:`kernel` hands out one compiled
function per name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from .._edge_grid import seg_dist
from .._kernels import compile_kernel

__all__ = ["kernel"]


def _ring_distance(x: np.ndarray, y: np.ndarray, first: np.ndarray, px: np.ndarray,
                   py: np.ndarray) -> np.ndarray:
    """Per ring r (vertices ``first[r]`` to ``first[r + 1]``): the least distance from
    (px[r], py[r]) to one of its segments; NaN for a ring without a segment (GEOS's for an
    empty outline)."""
    n = px.shape[0]
    out = np.empty(n)
    for r in range(n):
        best = np.inf
        for k in range(first[r], first[r + 1] - 1):
            d = seg_dist(px[r], py[r], x[k], y[k], x[k + 1], y[k + 1])
            if d < best:
                best = d
        out[r] = best if first[r + 1] - first[r] > 1 else np.nan
    return out


def _grid_keys(x: np.ndarray, y: np.ndarray, cell: float, lo0: int, lo1: int,
               span: int) -> tuple[np.ndarray, np.int64]:
    """``(np.rint(x / cell) - lo0) * span + np.rint(y / cell) - lo1`` as int64 (what numpy's
    ``np.round(...).astype(np.int64)`` of each column gives), and the largest column
    ``np.rint(x / cell) - lo0`` (-1 for no points). One pass, no temporaries."""
    n = x.shape[0]
    key = np.empty(n, dtype=np.int64)
    top = np.int64(-1)
    for k in range(n):
        i = np.int64(np.rint(x[k] / cell)) - lo0
        j = np.int64(np.rint(y[k] / cell)) - lo1
        key[k] = i * span + j
        if i > top:
            top = i
    return key, top


def _shared_bounds(xy: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray,
                   pa: np.ndarray, pb: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pair k: bounds (low, high) on the length of the outline polygon ``pa[k]`` shares
    with polygon ``pb[k]`` (rings ``poly_off[p]`` to ``poly_off[p + 1]``, ring r's closed
    vertices ``xy[ring_off[r]:ring_off[r + 1]]``); before rounding allowances.

    Low: the length of ``pa``'s segments that are one of ``pb``'s (same end points), which
    the intersection of the outlines holds. High: per segment of ``pa``, that length if it is
    one of ``pb``'s, else the length of its stretch under the segments of ``pb`` whose both
    ends lie within ``eps`` of its line (a segment with an end farther off meets that line in
    at most a point), each such segment widened by ``4 eps``. Low is -1 where a segment of
    ``pa`` comes twice (its outline is not a set of distinct segments: asked once per
    polygon, whatever the number of its pairs)."""
    n = pa.shape[0]
    lo = np.zeros(n)
    hi = np.zeros(n)
    twice = np.full(poly_off.shape[0] - 1, -1, dtype=np.int8)  # -1: not asked yet
    for k in range(n):
        a, b = pa[k], pb[k]
        if twice[a] < 0:
            twice[a] = _repeats(xy, ring_off, poly_off, a)
        low = 0.0
        high = 0.0
        for ra in range(poly_off[a], poly_off[a + 1]):
            for i in range(ring_off[ra], ring_off[ra + 1] - 1):
                px, py, qx, qy = xy[i, 0], xy[i, 1], xy[i + 1, 0], xy[i + 1, 1]
                dx, dy = qx - px, qy - py
                length = np.hypot(dx, dy)
                if length == 0.0:
                    continue
                same = False
                cover = 0.0
                for rb in range(poly_off[b], poly_off[b + 1]):
                    for j in range(ring_off[rb], ring_off[rb + 1] - 1):
                        if _same_segment(xy, i, j):
                            same = True
                            continue
                        rx, ry, wx, wy = xy[j, 0], xy[j, 1], xy[j + 1, 0], xy[j + 1, 1]
                        if abs(dx * (ry - py) - dy * (rx - px)) > eps * length:
                            continue
                        if abs(dx * (wy - py) - dy * (wx - px)) > eps * length:
                            continue
                        tr = (dx * (rx - px) + dy * (ry - py)) / length
                        tw = (dx * (wx - px) + dy * (wy - py)) / length
                        over = min(max(tr, tw), length) - max(min(tr, tw), 0.0)
                        if over > -4.0 * eps:
                            cover += max(over, 0.0) + 4.0 * eps
                if same:
                    low += length
                    high += length
                else:
                    high += min(cover, length)
        lo[k] = -1.0 if twice[a] == 1 else low
        hi[k] = high
    return lo, hi


def _repeats(xy: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray, a: int) -> int:
    """1 where a segment of positive length of polygon ``a`` has the same ends as another of
    its segments, else 0."""
    for ra in range(poly_off[a], poly_off[a + 1]):
        for i in range(ring_off[ra], ring_off[ra + 1] - 1):
            if xy[i, 0] == xy[i + 1, 0] and xy[i, 1] == xy[i + 1, 1]:
                continue
            for rc in range(poly_off[a], poly_off[a + 1]):
                for j in range(ring_off[rc], ring_off[rc + 1] - 1):
                    if j != i and _same_segment(xy, i, j):
                        return 1
    return 0


def _same_segment(xy: np.ndarray, i: int, j: int) -> bool:
    """Whether segments ``xy[i]``-``xy[i + 1]`` and ``xy[j]``-``xy[j + 1]`` have the same ends."""
    px, py, qx, qy = xy[i, 0], xy[i, 1], xy[i + 1, 0], xy[i + 1, 1]
    rx, ry, wx, wy = xy[j, 0], xy[j, 1], xy[j + 1, 0], xy[j + 1, 1]
    return bool((rx == px and ry == py and wx == qx and wy == qy)
                or (rx == qx and ry == qy and wx == px and wy == py))


_KERNELS: dict[str, tuple[Callable[..., Any], tuple[Callable[..., Any], ...]]] = {
    "outline": (_ring_distance, (seg_dist,)),
    "grid": (_grid_keys, ()),
    "shared": (_shared_bounds, (_same_segment, _repeats)),
}


@cache
def kernel(name: str) -> Callable[..., Any]:
    """The kernel ``name`` compiled by numba (or loaded from its cache) on first use."""
    fn, helpers = _KERNELS[name]
    return compile_kernel(fn, *helpers)
