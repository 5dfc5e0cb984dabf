"""Which shell owns each hole of one band's rings, without GEOS.

A band's rings come from a filled contour set (:mod:`.rings`): rings never touch, and every
hole lies inside at least one shell (a level's hole is inside a shell of that level; in a
ring band, the next lower level's shells, turned holes, lie inside the level's shells). A hole
belongs to the smallest shell that contains its first vertex. The shells' bounding boxes are
bucketed on a uniform grid; a hole's candidates are the shells whose box holds its vertex,
taken smallest first, and each but the last is tested with an integer crossing-number test
(exact: the vertex is never on another ring). When all but the last fail, the last is the
owner without a test, since some shell holds every hole: so the big shells that hold most
holes (a city's outline has tens of thousands of vertices) are never walked.

Hand-written because shapely's way (prepared shell polygons queried with an STRtree of
points, what this replaced) built GEOS polygons and points of every ring of the band: 1.26 s
of the 268,569-node mosaic's isochrone step.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["hole_owners", "inside_ring", "ring_area2"]


def inside_ring(qx: np.ndarray, qy: np.ndarray, start: int, size: int, px: int | np.int64,
                py: int | np.int64) -> bool:  # pragma: no cover - compiled
    """Whether point ``p`` lies inside the ring ``start:start + size`` of the vertices
    ``qx``, ``qy`` (crossing number, in 64-bit integers: ``p`` is a vertex of another ring,
    never on this one). Shared with :mod:`.outline`'s tile rings."""
    inside = False
    k = start + size - 1
    for m in range(start, start + size):
        ay = np.int64(qy[k])
        by = np.int64(qy[m])
        if (ay > py) != (by > py):
            ax = np.int64(qx[k])
            bx = np.int64(qx[m])
            # side of p against the edge a -> b, oriented upwards
            cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
            if (cross > 0) == (by > ay):
                inside = not inside
        k = m
    return inside


def ring_area2(q: np.ndarray, start: int | np.integer,
               size: int | np.integer) -> float:  # pragma: no cover - compiled
    """Twice the signed area of the ring ``start:start + size`` of ``q`` (positive
    anticlockwise): the shoelace, its terms added in vertex order. Shared by :mod:`.rings`
    and :mod:`.band_rows`, whose holes are the rings it makes negative."""
    acc = 0.0
    for k in range(size):
        v = start + k
        w = start + (k + 1 if k + 1 < size else 0)
        acc += float(q[v, 0]) * float(q[w, 1]) - float(q[w, 0]) * float(q[v, 1])
    return acc


def cell_members(cells: np.ndarray, nx: int, ny: int
                 ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Items by grid cell (CSR), each in every cell of its range ``cells[s]`` (columns
    ``0 .. 1``, rows ``2 .. 3``, inclusive) of an ``nx`` x ``ny`` grid: (the items of each
    cell in item order, each cell's first among them, ``nx * ny + 1``). A counting sort in
    two passes; also the (segment, tile) pairs of :func:`.polygons._entity_tiles`."""
    first = np.zeros(nx * ny + 1, dtype=np.int64)
    for s in range(cells.shape[0]):
        for cy in range(cells[s, 2], cells[s, 3] + 1):
            for cx in range(cells[s, 0], cells[s, 1] + 1):
                first[cy * nx + cx + 1] += 1
    for c in range(nx * ny):
        first[c + 1] += first[c]
    fill = first[:-1].copy()
    member = np.empty(first[-1], dtype=np.int64)
    for s in range(cells.shape[0]):
        for cy in range(cells[s, 2], cells[s, 3] + 1):
            for cx in range(cells[s, 0], cells[s, 1] + 1):
                member[fill[cy * nx + cx]] = s
                fill[cy * nx + cx] += 1
    return member, first


def _owners(q: np.ndarray, starts: np.ndarray, sizes: np.ndarray, shells: np.ndarray,
            holes: np.ndarray, area: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Index into ``shells`` of each hole's owner (-1 when no shell's box holds it)."""
    ns = shells.shape[0]
    box = np.empty((ns, 4), dtype=np.int64)
    for s in range(ns):
        r = shells[s]
        x0 = x1 = np.int64(q[starts[r], 0])
        y0 = y1 = np.int64(q[starts[r], 1])
        for v in range(starts[r], starts[r] + sizes[r]):
            x = np.int64(q[v, 0])
            y = np.int64(q[v, 1])
            x0 = min(x0, x)
            x1 = max(x1, x)
            y0 = min(y0, y)
            y1 = max(y1, y)
        box[s, 0] = x0
        box[s, 1] = y0
        box[s, 2] = x1
        box[s, 3] = y1
    owner = np.full(holes.shape[0], -1, dtype=np.int64)
    if ns == 0:
        return owner
    gx0 = box[:, 0].min()
    gy0 = box[:, 1].min()
    g = max(1, min(1024, int(np.sqrt(ns))))
    cw = (box[:, 2].max() - gx0) // g + 1
    ch = (box[:, 3].max() - gy0) // g + 1
    # shells per grid cell (CSR), each in every cell its box covers
    cells = np.empty((ns, 4), dtype=np.int64)
    for s in range(ns):
        cells[s, 0] = (box[s, 0] - gx0) // cw
        cells[s, 1] = (box[s, 2] - gx0) // cw
        cells[s, 2] = (box[s, 1] - gy0) // ch
        cells[s, 3] = (box[s, 3] - gy0) // ch
    member, first = cell_members(cells, g, g)
    cand = np.empty(ns, dtype=np.int64)
    qx = q[:, 0]
    qy = q[:, 1]
    for h in range(holes.shape[0]):
        px = np.int64(q[starts[holes[h]], 0])
        py = np.int64(q[starts[holes[h]], 1])
        cx = (px - gx0) // cw
        cy = (py - gy0) // ch
        if cx < 0 or cy < 0 or cx >= g or cy >= g:
            continue
        c = cy * g + cx
        n = 0
        for e in range(first[c], first[c + 1]):
            s = member[e]
            if box[s, 0] <= px <= box[s, 2] and box[s, 1] <= py <= box[s, 3]:
                # insertion by area, smallest first
                m = n
                while m > 0 and area[cand[m - 1]] > area[s]:
                    cand[m] = cand[m - 1]
                    m -= 1
                cand[m] = s
                n += 1
        for m in range(n):
            s = cand[m]
            if m == n - 1 or inside_ring(qx, qy, starts[shells[s]], sizes[shells[s]], px, py):
                owner[h] = s
                break
    return owner


@cache
def _kernel() -> Any:
    return compile_kernel(_owners, inside_ring, cell_members)


def hole_owners(q: np.ndarray, sizes: np.ndarray, shells: np.ndarray, holes: np.ndarray,
                area2: np.ndarray) -> np.ndarray:
    """For each of the rings ``holes``, the index into ``shells`` of the smallest shell that
    contains its first vertex (-1 if none could). ``q`` holds the rings' vertices (integers,
    ring after ring, not closed), ``area2`` their signed areas (shells positive)."""
    starts = np.cumsum(sizes) - sizes
    return _kernel()(q, starts, sizes, shells, holes, area2[shells])
