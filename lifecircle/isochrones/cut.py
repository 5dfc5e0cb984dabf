"""Vertices of reached stretches cut from the edge geometry, in one compiled pass.

:func:`.polygons._pieces_coords` gives every reached stretch as a line: the interpolated
start, the edge's vertices strictly between its ends, the interpolated end. For the
per-facility isochrones (a few hundred stretches a facility) numpy's vectorised bisections
over the vertex offsets cost about a tenth of the whole isochrone; the loop here does the same
arithmetic, operation for operation (so the coordinates are the same to the last bit), one
stretch at a time with a scan of its edge's few vertices.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["cut_pieces"]


def _first_above(off: np.ndarray, lo: int, hi: int, pos: float, strict: bool) -> int:
    """The first index in ``[lo, hi)`` whose offset is ``> pos`` (``>= pos`` when
    ``strict``), ``hi`` when none is (offsets rise along an edge, so a scan gives what a
    bisection gives)."""
    for k in range(lo, hi):
        if off[k] > pos or (strict and off[k] == pos):
            return k
    return hi


def _point(xy: np.ndarray, off: np.ndarray, first: int, last: int, pos: float,
           out: np.ndarray, row: int) -> None:
    """The point at projected distance ``pos`` along the edge ``first..last`` (clipped to
    it) into ``out[row]``, as :func:`.polygons._points_at`."""
    j = min(max(_first_above(off, first + 1, last, pos, False) - 1, first), last - 1)
    seg_len = off[j + 1] - off[j]
    t = (pos - off[j]) / seg_len if seg_len > 0 else 0.0
    t = min(max(t, 0.0), 1.0)
    out[row, 0] = xy[j, 0] * (1.0 - t) + xy[j + 1, 0] * t
    out[row, 1] = xy[j, 1] * (1.0 - t) + xy[j + 1, 1] * t


def _cut(edge: np.ndarray, start_m: np.ndarray, end_m: np.ndarray, edge_ptr: np.ndarray,
         length_m: np.ndarray, off: np.ndarray,
         xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The kernel of :func:`cut_pieces`: each stretch's projected ends and interior vertex
    range, then the vertices in one array of the exact size."""
    n = edge.shape[0]
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    pa = np.empty(n)
    pb = np.empty(n)
    total = 0
    for p in range(n):
        e = edge[p]
        first = edge_ptr[e]
        last = edge_ptr[e + 1] - 1
        length = length_m[e]
        scale = off[last] / length if length > 0 else 0.0
        pa[p] = start_m[p] * scale
        pb[p] = end_m[p] * scale
        lo[p] = _first_above(off, first + 1, last, pa[p], False)
        hi[p] = _first_above(off, first + 1, last, pb[p], True)
        total += max(hi[p] - lo[p], 0) + 2
    coords = np.empty((total, 2))
    line = np.empty(total, dtype=np.int64)
    at = 0
    for p in range(n):
        e = edge[p]
        first = edge_ptr[e]
        last = edge_ptr[e + 1] - 1
        n_pts = max(hi[p] - lo[p], 0) + 2
        line[at:at + n_pts] = p
        if start_m[p] <= 0:
            coords[at, 0] = xy[first, 0]
            coords[at, 1] = xy[first, 1]
        else:
            _point(xy, off, first, last, pa[p], coords, at)
        for k in range(n_pts - 2):
            coords[at + 1 + k, 0] = xy[lo[p] + k, 0]
            coords[at + 1 + k, 1] = xy[lo[p] + k, 1]
        end = at + n_pts - 1
        if end_m[p] >= length_m[e]:
            coords[end, 0] = xy[last, 0]
            coords[end, 1] = xy[last, 1]
        else:
            _point(xy, off, first, last, pb[p], coords, end)
        at += n_pts
    return coords, line


@cache
def _kernel() -> Any:
    return compile_kernel(_cut, _first_above, _point)


def cut_pieces(edge: np.ndarray, start_m: np.ndarray, end_m: np.ndarray,
               edge_ptr: np.ndarray, length_m: np.ndarray, offsets: np.ndarray,
               xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of every stretch ``edge[p]`` from ``start_m[p]`` to ``end_m[p]`` and the
    stretch each belongs to.

    Parameters
    ----------
    edge, start_m, end_m
        The stretches (walking metres from the edge's ``u``).
    edge_ptr, length_m, xy
        The network's edge geometry: vertex slices, walking lengths, vertex coordinates.
    offsets
        Projected distance of every vertex from its edge's start.

    Returns
    -------
    coords, line
        ``(n_vertices, 2)`` coordinates and the stretch of each vertex.
    """
    return _kernel()(np.ascontiguousarray(edge, dtype=np.int64),
                     np.ascontiguousarray(start_m, dtype=np.float64),
                     np.ascontiguousarray(end_m, dtype=np.float64),
                     np.ascontiguousarray(edge_ptr, dtype=np.int64),
                     np.ascontiguousarray(length_m, dtype=np.float64),
                     np.ascontiguousarray(offsets, dtype=np.float64),
                     np.ascontiguousarray(xy, dtype=np.float64))
