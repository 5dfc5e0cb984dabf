"""Stamping: the cells of a grid within reach of reached street segments, row run by row run.

Every cell whose centre lies within ``reach`` cells of a segment of band ``k`` gets
``min(label, k)``: the cells of the per-cell reference :func:`.polygons._stamp_kernel`,
without testing every cell of a segment's bounding box. Row by row, the run of cells is the
row's chord through the segment's capsule (the two end disks and the band between them,
bounds linear in the row's height); an end whose bound falls within 1e-6 of a cell centre is
settled with the reference's own test (:func:`near`). Used by the per-facility outlines
(:mod:`.outline`, one grid per facility) and the city tiles (:func:`stamp_tile_kernel`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["end_cell", "grid_segments", "near", "stamp_entity", "stamp_kernel",
           "stamp_tile_kernel"]


def near(i: int, j: int, x1: float, y1: float, dx: float, dy: float, dd: float,
          r2: float) -> bool:
    """Whether cell ``(j, i)``'s centre lies within ``sqrt(r2)`` of the segment (the test of
    :func:`.polygons._stamp_kernel`, operation for operation, so the same cells pass)."""
    cy = j + 0.5 - y1
    cx = i + 0.5 - x1
    u = (cx * dx + cy * dy) / dd if dd > 0 else 0.0
    u = min(max(u, 0.0), 1.0)
    ex = cx - u * dx
    ey = cy - u * dy
    return ex * ex + ey * ey <= r2


def end_cell(t: float, i_lo: int, i_hi: int, left: bool, j: int, x1: float, y1: float,
              dx: float, dy: float, dd: float, r2: float) -> int:
    """The first (``left``) or last cell of a row's run whose boundary is at ``t`` (cell
    index units); a centre within 1e-6 of ``t`` is settled with :func:`near`."""
    if left:
        i = int(np.ceil(t))
        if i - t < 1e-6:
            if not near(i, j, x1, y1, dx, dy, dd, r2):
                i += 1
        elif t - (i - 1) < 1e-6 and near(i - 1, j, x1, y1, dx, dy, dd, r2):
            i -= 1
        return max(i, i_lo)
    i = int(np.floor(t))
    if t - i < 1e-6:
        if not near(i, j, x1, y1, dx, dy, dd, r2):
            i -= 1
    elif (i + 1) - t < 1e-6 and near(i + 1, j, x1, y1, dx, dy, dd, r2):
        i += 1
    return min(i, i_hi)


def stamp_entity(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                  band: np.ndarray, lo: int, hi: int, ox: float, oy: float, reach: float,
                  lab: np.ndarray, w: int, h: int, span_lo: np.ndarray,
                  span_hi: np.ndarray) -> None:
    """Every cell within ``reach`` of a segment ``lo:hi`` of band k gets ``min(label, k)``;
    segments in cell units from the grid origin, minus this grid's first cell ``(ox, oy)``.
    Row ``j``'s stamped cells lie within ``span_lo[j]..span_hi[j]`` (widened here).

    Row by row, the run of cells is the row's chord through the segment's capsule (the two
    end disks and the band between them, bounds linear in the row's height); an end whose
    bound falls within 1e-6 of a cell centre is settled with the exact test, so the cells are
    those of :func:`.polygons._stamp_kernel`, without testing every cell of the segment's
    bounding box (cells just outside a street were tested once per nearby segment there)."""
    r2 = reach * reach
    for s in range(lo, hi):
        k = np.uint8(band[s])
        x1 = ax[s] - ox
        y1 = ay[s] - oy
        dx = (bx[s] - ox) - x1
        dy = (by[s] - oy) - y1
        dd = dx * dx + dy * dy
        i_lo = max(int(np.floor(min(x1, x1 + dx) - reach - 0.5)), 0)
        i_hi = min(int(np.ceil(max(x1, x1 + dx) + reach)), w - 1)
        j_lo = max(int(np.floor(min(y1, y1 + dy) - reach - 0.5)), 0)
        j_hi = min(int(np.ceil(max(y1, y1 + dy) + reach)), h - 1)
        if dd > 0 and min(abs(dx), abs(dy)) < 1e-6:
            # nearly along a grid axis: the band's bounds below would divide by ~0; test
            # every cell of the box, as the reference kernel does
            for j in range(j_lo, j_hi + 1):
                row = j * w
                for i in range(i_lo, i_hi + 1):
                    if near(i, j, x1, y1, dx, dy, dd, r2):
                        # the span holds the cells within reach only
                        span_lo[j] = min(span_lo[j], i)
                        span_hi[j] = max(span_hi[j], i)
                        if lab[row + i] > k:
                            lab[row + i] = k
            continue
        rl = reach * np.sqrt(dd)
        # the band between the disks, per row: perpendicular distance within reach
        # (x in [cy dx/dy -+ rl/|dy|]) and projection within the segment (x between
        # -cy dy/dx and (dd - cy dy)/dx); a zero dx or dy makes one a test on the row
        band_ok = dd > 0
        s1 = dx / dy if dy != 0.0 else 0.0
        h1 = rl / abs(dy) if dy != 0.0 else 0.0
        s2 = -dy / dx if dx != 0.0 else 0.0
        c2 = dd / dx if dx != 0.0 else 0.0
        xs = x1 - 0.5
        for j in range(j_lo, j_hi + 1):
            cy = j + 0.5 - y1
            lo_c = np.inf
            hi_c = -np.inf
            t = r2 - cy * cy
            if t > -1e-9:
                q = np.sqrt(max(t, 0.0))
                lo_c = -q
                hi_c = q
            cb = cy - dy
            t = r2 - cb * cb
            if t > -1e-9:
                q = np.sqrt(max(t, 0.0))
                lo_c = min(lo_c, dx - q)
                hi_c = max(hi_c, dx + q)
            if band_ok:
                a = -np.inf
                b = np.inf
                ok = True
                if dy != 0.0:
                    a = cy * s1 - h1
                    b = cy * s1 + h1
                elif abs(cy * dx) > rl + 1e-9:
                    ok = False
                if dx != 0.0:
                    p = cy * s2
                    q = p + c2
                    a = max(a, min(p, q))
                    b = min(b, max(p, q))
                elif cy * dy < -1e-9 or cy * dy > dd + 1e-9:
                    ok = False
                if ok and a <= b + 1e-9:
                    lo_c = min(lo_c, a)
                    hi_c = max(hi_c, b)
            if lo_c > hi_c + 2e-6:
                continue
            ia = end_cell(lo_c + xs, i_lo, i_hi, True, j, x1, y1, dx, dy, dd, r2)
            ib = end_cell(hi_c + xs, i_lo, i_hi, False, j, x1, y1, dx, dy, dd, r2)
            if ia > ib:  # the run lies off the grid (a city tile's neighbouring segment)
                continue
            row = j * w
            span_lo[j] = min(span_lo[j], ia)
            span_hi[j] = max(span_hi[j], ib)
            if k == 0:  # the lowest band (the only one of a single-band isochrone): a memset
                lab[row + ia:row + ib + 1] = 0
            else:
                for i in range(row + ia, row + ib + 1):
                    lab[i] = min(lab[i], k)


def _stamp_grid(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                band: np.ndarray, reach: float, lab: np.ndarray, w: int, h: int) -> None:
    """Every segment stamped into one ``w x h`` grid (flat ``lab``) by
    :func:`stamp_entity`'s row runs: a city tile's cells, those of
    :func:`.polygons._stamp_kernel` at a fraction of its cost (it tests every cell of a
    segment's bounding box)."""
    span_lo = np.empty(h, dtype=np.int64)
    span_hi = np.empty(h, dtype=np.int64)
    stamp_entity(ax, ay, bx, by, band, 0, ax.shape[0], 0.0, 0.0, reach, lab, w, h, span_lo,
                  span_hi)


def _stamp_tile(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                band: np.ndarray, sel: np.ndarray, ox: float, oy: float, reach: float,
                lab: np.ndarray, w: int, h: int) -> int:  # pragma: no cover - compiled
    """The segments ``sel`` stamped into one city tile whose first cell is ``(ox, oy)``:
    :func:`_stamp_grid` of ``ax[sel] - ox`` ... (the same differences, in the same order),
    gathered here rather than as five numpy temporaries a tile. Returns the first column
    any row's run of stamped cells starts in (``w`` when none was stamped), so that the
    caller tells an empty tile without a pass over its grid."""
    n = sel.shape[0]
    gx = np.empty(n)
    gy = np.empty(n)
    hx = np.empty(n)
    hy = np.empty(n)
    gb = np.empty(n, dtype=np.int64)
    for t in range(n):
        s = sel[t]
        gx[t] = ax[s]
        gy[t] = ay[s]
        hx[t] = bx[s]
        hy[t] = by[s]
        gb[t] = band[s]
    span_lo = np.full(h, w, dtype=np.int64)
    span_hi = np.full(h, -1, dtype=np.int64)
    stamp_entity(gx, gy, hx, hy, gb, 0, n, ox, oy, reach, lab, w, h, span_lo, span_hi)
    first = w
    for j in range(h):
        first = min(first, span_lo[j])
    return first


@cache
def stamp_kernel() -> Any:
    """:func:`_stamp_grid` compiled: ``(ax, ay, bx, by, band, reach, flat_label, w, h)``."""
    return compile_kernel(_stamp_grid, stamp_entity, near, end_cell)


@cache
def stamp_tile_kernel() -> Any:
    """:func:`_stamp_tile` compiled:
    ``(ax, ay, bx, by, band, sel, ox, oy, reach, flat_label, w, h)``."""
    return compile_kernel(_stamp_tile, stamp_entity, near, end_cell)


def _grid_segments(coords: np.ndarray, line: np.ndarray, group: np.ndarray, n_groups: int,
                   n_bands: int, x0: float, y0: float,
                   cell: float) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    """The segments between consecutive vertices of one line, stably by group (a counting
    sort), in cell units from ``(x0, y0)``: (ax, ay, bx, by, band, entity), the group
    ``entity * n_bands + band`` of the segment's first vertex."""
    n = line.shape[0]
    first = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(n - 1):
        if line[i + 1] == line[i]:
            first[group[i] + 1] += 1
    for g in range(n_groups):
        first[g + 1] += first[g]
    m = first[n_groups]
    ax = np.empty(m)
    ay = np.empty(m)
    bx = np.empty(m)
    by = np.empty(m)
    band = np.empty(m, dtype=np.int64)
    entity = np.empty(m, dtype=np.int64)
    for i in range(n - 1):
        if line[i + 1] == line[i]:
            g = group[i]
            o = first[g]
            first[g] += 1
            # (x - x0) / cell, as numpy computed it per vertex
            ax[o] = (coords[i, 0] - x0) / cell
            ay[o] = (coords[i, 1] - y0) / cell
            bx[o] = (coords[i + 1, 0] - x0) / cell
            by[o] = (coords[i + 1, 1] - y0) / cell
            band[o] = g % n_bands
            entity[o] = g // n_bands
    return ax, ay, bx, by, band, entity


@cache
def _segments_kernel() -> Any:
    return compile_kernel(_grid_segments)


def grid_segments(coords: np.ndarray, line: np.ndarray, group: np.ndarray, n_groups: int,
                  n_bands: int, x0: float, y0: float,
                  cell: float) -> tuple[np.ndarray, ...]:
    """The segments of lines (``coords``, the ``line`` and ``group`` of each vertex, groups
    ``entity * n_bands + band`` below ``n_groups``) in cell units from the grid origin
    ``(x0, y0)``, by group, in vertex order within a group: (ax, ay, bx, by, band, entity).
    One compiled pass (the numpy steps, a stable sort of the groups and six gathers, took
    ~0.2 s a category of the million-node mosaic)."""
    # the kernel counts into group-indexed arrays and numba checks no bounds
    if group.size and (int(group.min()) < 0 or int(group.max()) >= n_groups):
        raise ValueError(f"grid_segments: groups must lie in [0, {n_groups})")
    out: tuple[np.ndarray, ...] = _segments_kernel()(
        np.ascontiguousarray(coords, dtype=np.float64), np.ascontiguousarray(line),
        np.ascontiguousarray(group, dtype=np.int64), int(n_groups), int(n_bands), float(x0),
        float(y0), float(cell))
    return out
