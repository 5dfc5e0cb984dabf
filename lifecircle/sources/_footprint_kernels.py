"""Compiled kernel measuring footprint rings from their coordinates: area and a point inside.

A city's footprints are one-ring polygons (10^5-10^6 of them). Blocks and population need
only their area and a point on each, so building a GEOS geometry per footprint just to call
``shapely.area`` and ``shapely.point_on_surface`` (about 1.5 s of the blocks step at 268,569
nodes) is spent on objects dropped at once. Hand-written (numba) because no maintained
library measures rings laid end to end; it follows GEOS 3.14's algorithms step for step
(``Area::ofRingSigned``, ``InteriorPointArea``: the scan line halfway between the two
vertex heights nearest the envelope's centre, the midpoint of the widest crossing interval),
so its numbers are GEOS's to the bit (tests/test_building*.py compares them). Imported on
first use; module-level so that numba's on-disk cache holds it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ring_measures"]


@njit(cache=True, nogil=True)
def ring_measures(x: np.ndarray, y: np.ndarray, ends: np.ndarray, area: np.ndarray,
                  px: np.ndarray, py: np.ndarray) -> None:  # pragma: no cover - compiled
    """Area and interior point of each closed ring ``x[ends[r]:ends[r + 1]]``, ``y[...]``
    (first vertex repeated last) into ``area[r]``, ``px[r]``, ``py[r]`` (NaN point for an
    empty ring), as GEOS measures the one-ring polygon."""
    longest = 0
    for r in range(ends.shape[0] - 1):
        longest = max(longest, ends[r + 1] - ends[r])
    cross = np.empty(max(longest, 1), dtype=np.float64)
    for r in range(ends.shape[0] - 1):
        a, b = ends[r], ends[r + 1]
        if b - a == 0:
            area[r], px[r], py[r] = 0.0, np.nan, np.nan
            continue
        total = 0.0
        if b - a >= 3:  # the shoelace sum about the first vertex
            x0 = x[a]
            for i in range(a + 1, b - 1):
                total += (x[i] - x0) * (y[i - 1] - y[i + 1])
        area[r] = abs(total / 2.0)
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
        px[r], py[r] = bx, by
