"""Compiled kernels of the blocks step that replace a GEOS geometry per element: the distance
from each access point to its block's outline, and the grid points of the study limit.

Hand-written (numba) because no maintained library does either on whole arrays without a
geometry per element: ``shapely.distance(shapely.boundary(blocks), points)`` builds an
outline per block (290,000 at a million nodes) only to walk its segments once (a block
without holes is one ring, read off ``shapely.get_coordinates``), and the
limit's grid rounded millions of coordinates through a numpy temporary per step, once per
grid size tried. Both give GEOS's and numpy's numbers to the bit: the distance is GEOS 3.14's
``Distance::pointToSegment`` over every segment of every ring (what ``DistanceOp`` takes the
minimum of for a point and lines), the grid numpy's round-half-to-even (``np.rint``).

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


_KERNELS: dict[str, tuple[Callable[..., Any], tuple[Callable[..., Any], ...]]] = {
    "outline": (_ring_distance, (seg_dist,)),
    "grid": (_grid_keys, ()),
}


@cache
def kernel(name: str) -> Callable[..., Any]:
    """The kernel ``name`` compiled by numba (or loaded from its cache) on first use."""
    fn, helpers = _KERNELS[name]
    return compile_kernel(fn, *helpers)
