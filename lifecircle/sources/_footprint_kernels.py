"""Compiled kernels measuring footprint rings from their coordinates: area and a point inside.

A city's footprints are one-ring polygons (10^5-10^6 of them). Blocks and population need
only their area and a point on each, so building a GEOS geometry per footprint just to call
``shapely.area`` and ``shapely.point_on_surface`` (about 1.5 s of the blocks step at 268,569
nodes) is spent on objects dropped at once. Hand-written (numba) because no maintained
library measures rings laid end to end; it follows GEOS 3.14's algorithms step for step
(``Area::ofRingSigned``, ``InteriorPointArea``: the scan line halfway between the two
vertex heights nearest the envelope's centre, the midpoint of the widest crossing interval),
so its numbers are GEOS's to the bit (tests/test_building*.py compares them).

:func:`local_ring_measures` measures WGS 84 rings without projecting their vertices: each
ring is mapped to metres by the projection's differential at its area centroid (a local
affine frame, :mod:`._footprint_frame`), and measured there. Imported on first use;
module-level so that numba's on-disk cache holds them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["FRAME_REACH_DEG", "local_ring_measures", "ring_measures"]

#: rings reaching farther than this from their centroid (degrees, ~100 m) are not ``sure``:
#: the frame's area error grows as (size / Earth radius)^2 of the area (~4e-9 at 300 m:
#: 0.4 cm^2 on a 9,000 m^2 footprint), so the few large ones are projected vertex by vertex
FRAME_REACH_DEG = 1e-3


@njit(cache=True, nogil=True)
def _measure(x: np.ndarray, y: np.ndarray, a: int, b: int,
             cross: np.ndarray) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """(area, interior point x, y) of the closed ring ``x[a:b]``, ``y[a:b]`` as GEOS measures
    the one-ring polygon (``cross``: scratch of at least ``b - a`` floats)."""
    if b - a == 0:
        return 0.0, np.nan, np.nan
    total = 0.0
    if b - a >= 3:  # the shoelace sum about the first vertex
        x0 = x[a]
        for i in range(a + 1, b - 1):
            total += (x[i] - x0) * (y[i - 1] - y[i + 1])
    lo, hi = y[a], y[a]
    for i in range(a, b):
        lo, hi = min(lo, y[i]), max(hi, y[i])
    centre = (lo + hi) / 2.0
    below, above = lo, hi
    for i in range(a, b):  # the vertex heights nearest the centre on either side
        if y[i] <= centre:
            below = max(below, y[i])
        else:
            above = min(above, y[i])
    scan = (above + below) / 2.0
    k = 0
    for i in range(a + 1, b):
        y0, y1 = y[i - 1], y[i]
        if (y0 > scan and y1 > scan) or (y0 < scan and y1 < scan) or y0 == y1:
            continue
        # a vertex on the line counts once: downward edges leave it out at their start,
        # upward ones at their end
        if (y0 == scan and y1 < scan) or (y1 == scan and y0 < scan):
            continue
        x0, x1 = x[i - 1], x[i]
        xi = x0 if x0 == x1 else x0 + (scan - y0) / ((y1 - y0) / (x1 - x0))
        j = k  # insertion sort: a footprint crosses the line a few times
        while j > 0 and cross[j - 1] > xi:
            cross[j] = cross[j - 1]
            j -= 1
        cross[j] = xi
        k += 1
    bx, by, width = x[a], y[a], 0.0
    for i in range(0, k - 1, 2):
        if cross[i + 1] - cross[i] > width:
            width = cross[i + 1] - cross[i]
            bx, by = (cross[i] + cross[i + 1]) / 2.0, scan
    return abs(total / 2.0), bx, by


@njit(cache=True, nogil=True)
def _longest(ends: np.ndarray) -> int:  # pragma: no cover - compiled
    longest = 1
    for r in range(ends.shape[0] - 1):
        longest = max(longest, ends[r + 1] - ends[r])
    return longest


@njit(cache=True, nogil=True)
def ring_measures(x: np.ndarray, y: np.ndarray, ends: np.ndarray, area: np.ndarray,
                  px: np.ndarray, py: np.ndarray) -> None:  # pragma: no cover - compiled
    """Area and interior point of each closed ring ``x[ends[r]:ends[r + 1]]``, ``y[...]``
    (first vertex repeated last) into ``area[r]``, ``px[r]``, ``py[r]`` (NaN point for an
    empty ring), as GEOS measures the one-ring polygon."""
    cross = np.empty(_longest(ends), dtype=np.float64)
    for r in range(ends.shape[0] - 1):
        area[r], px[r], py[r] = _measure(x, y, ends[r], ends[r + 1], cross)


@njit(cache=True, nogil=True)
def _edge_distance(x: np.ndarray, y: np.ndarray, n: int, qx: float,
                   qy: float) -> float:  # pragma: no cover - compiled
    """The distance from ``(qx, qy)`` to the nearest edge of the closed ring ``x[:n]``,
    ``y[:n]``."""
    best = np.inf
    for i in range(1, n):
        ax, ay, dx, dy = x[i - 1], y[i - 1], x[i] - x[i - 1], y[i] - y[i - 1]
        span = dx * dx + dy * dy
        t = 0.0 if span == 0.0 else min(1.0, max(0.0, ((qx - ax) * dx + (qy - ay) * dy) / span))
        ex, ey = ax + t * dx - qx, ay + t * dy - qy
        best = min(best, ex * ex + ey * ey)
    return np.sqrt(best)


@njit(cache=True, nogil=True)
def local_ring_measures(lon: np.ndarray, lat: np.ndarray, ends: np.ndarray,
                        grid: np.ndarray, jac: np.ndarray, hess: np.ndarray, curve: float,
                        slope: float,
                        area: np.ndarray,
                        px: np.ndarray, py: np.ndarray, clon: np.ndarray, clat: np.ndarray,
                        sure: np.ndarray) -> None:  # pragma: no cover - compiled
    """Area and interior point of each closed WGS 84 ring ``lon[ends[r]:ends[r + 1]]``,
    ``lat[...]`` in the projection whose differential ``jac`` holds on the lattice ``grid``
    (west, south, step in longitude, step in latitude; ``jac[j, i]`` = dx/dlon, dx/dlat,
    dy/dlon, dy/dlat in metres per degree at node ``(i, j)``).

    The ring is measured in its local frame: the projection's second-order Taylor expansion
    ``J d + H[d, d] / 2`` about its area centroid ``c`` (``clon[r]``, ``clat[r]``; ``d = v -
    c``), ``J`` biquadratic between the nodes, ``H`` the cell's ``hess``; the point
    ``(px[r], py[r])`` is in the frame (add the projected centroid). ``sure[r]``: the point
    is farther from the frame's ring than ``curve * rho**2 + slope * rho`` (``rho``: the
    ring's largest offset from ``c`` in degrees), a bound on how far the projected vertices
    stray from the frame's (:class:`._footprint_frame.Frame`), so it lies inside the
    projected ring too, and ``rho`` is at most :data:`FRAME_REACH_DEG`.
    """
    longest = _longest(ends)
    u, w, cross = np.empty(longest), np.empty(longest), np.empty(longest)
    west, south, step_x, step_y = grid[0], grid[1], grid[2], grid[3]
    nx, ny = jac.shape[1], jac.shape[0]
    for r in range(ends.shape[0] - 1):
        a, b = ends[r], ends[r + 1]
        if b - a == 0:
            area[r], px[r], py[r], clon[r], clat[r], sure[r] = 0.0, np.nan, np.nan, np.nan, \
                np.nan, True
            continue
        # the area centroid about the first vertex (the vertices' mean for a flat ring)
        x0, y0 = lon[a], lat[a]
        twice, sx, sy, mx, my = 0.0, 0.0, 0.0, 0.0, 0.0
        for i in range(a, b - 1):
            xa, ya, xb, yb = lon[i] - x0, lat[i] - y0, lon[i + 1] - x0, lat[i + 1] - y0
            c = xa * yb - xb * ya
            twice += c
            sx += (xa + xb) * c
            sy += (ya + yb) * c
            mx += xa
            my += ya
        if twice != 0.0:
            cx, cy = x0 + sx / (3.0 * twice), y0 + sy / (3.0 * twice)
        else:
            cx, cy = x0 + mx / max(b - a - 1, 1), y0 + my / max(b - a - 1, 1)
        clon[r], clat[r] = cx, cy
        if not (np.isfinite(cx) and np.isfinite(cy)):  # a NaN or infinite vertex: measured
            # vertex by vertex (off the lattice, the cell index below is not defined)
            area[r], px[r], py[r], sure[r] = np.nan, np.nan, np.nan, False
            continue
        # the differential at the centroid, biquadratic over the 3 x 3 nodes round the
        # nearest (bilinear is off by ~2e-8 of the area on a 0.02 degree lattice)
        fx, fy = (cx - west) / step_x, (cy - south) / step_y
        inside = 0.0 <= fx <= nx - 1 and 0.0 <= fy <= ny - 1  # else the bounds do not hold
        fx, fy = min(max(fx, 0.0), nx - 1.0), min(max(fy, 0.0), ny - 1.0)
        ic, jc = min(max(int(fx + 0.5), 1), nx - 2), min(max(int(fy + 0.5), 1), ny - 2)
        tx, ty = fx - ic, fy - jc
        lx = (tx * (tx - 1) / 2, (1 - tx) * (1 + tx), tx * (tx + 1) / 2)
        ly = (ty * (ty - 1) / 2, (1 - ty) * (1 + ty), ty * (ty + 1) / 2)
        jm = np.zeros(4)
        for dj in range(3):
            for di in range(3):
                weight = ly[dj] * lx[di]
                for q in range(4):
                    jm[q] += weight * jac[jc - 1 + dj, ic - 1 + di, q]
        hi0, hj0 = min(int(fx), nx - 2), min(int(fy), ny - 2)
        h = hess[hj0, hi0]
        rho = 0.0
        for i in range(a, b):
            dx, dy = lon[i] - cx, lat[i] - cy
            rho = max(rho, abs(dx), abs(dy))
            # the second-order term: without it the chords of the projected ring (straight
            # between projected vertices) differ from the affine frame's by ~1e-5 of a
            # 50 m footprint's area
            xx, xy, yy = 0.5 * dx * dx, dx * dy, 0.5 * dy * dy
            u[i - a] = jm[0] * dx + jm[1] * dy + h[0] * xx + h[1] * xy + h[2] * yy
            w[i - a] = jm[2] * dx + jm[3] * dy + h[3] * xx + h[4] * xy + h[5] * yy
        area[r], px[r], py[r] = _measure(u, w, 0, b - a, cross)
        sure[r] = inside and rho <= FRAME_REACH_DEG and _edge_distance(
            u, w, b - a, px[r], py[r]) > (curve * rho + slope) * rho


@njit(cache=True, nogil=True)
def one_rings(buf: np.ndarray, offsets: np.ndarray, head: np.ndarray, simple: np.ndarray,
              count: np.ndarray) -> None:  # pragma: no cover - compiled
    """Which WKB records ``buf[offsets[r]:offsets[r + 1]]`` start with ``head`` (a one-ring
    multipolygon's bytes) and hold exactly the point count that follows it, into
    ``simple[r]``, and that count into ``count[r]`` (0 where not)."""
    lead = head.shape[0]
    for r in range(offsets.shape[0] - 1):
        a, size = offsets[r], offsets[r + 1] - offsets[r]
        simple[r], count[r] = False, 0
        if size < lead + 4:
            continue
        same = True
        for i in range(lead):
            if buf[a + i] != head[i]:
                same = False
                break
        if not same:
            continue
        k = (np.int64(buf[a + lead]) | (np.int64(buf[a + lead + 1]) << 8)
             | (np.int64(buf[a + lead + 2]) << 16) | (np.int64(buf[a + lead + 3]) << 24))
        if size == lead + 4 + 16 * k:
            simple[r], count[r] = True, k


@njit(cache=True, nogil=True)
def ring_bytes(buf: np.ndarray, offsets: np.ndarray, skip: int, simple: np.ndarray,
               out: np.ndarray) -> None:  # pragma: no cover - compiled
    """The bytes of the ``simple`` records after their first ``skip``, end to end, into
    ``out``."""
    k = 0
    for r in range(offsets.shape[0] - 1):
        if simple[r]:
            size = offsets[r + 1] - offsets[r] - skip
            out[k : k + size] = buf[offsets[r] + skip : offsets[r + 1]]
            k += size
