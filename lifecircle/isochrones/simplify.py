"""Fewer outline vertices without moving an outline out of the squares it crosses.

A marching-squares outline has a vertex on every grid side it crosses (between a centre in and
a centre out), so a street at an angle to the grid gives a staircase of one or two vertices a
cell: at 10 m cells a city's rings came to 1.36 GB of WKB for 15 rows. Here each ring is
replaced by fewer straight chords, each chord through the same sides as the stretch of outline
it replaces. Every level that crosses a side crosses it at its midpoint (:mod:`.rings`); at a
junction (the levels that cross the side part ways in one of its squares, :mod:`.trace`) the
chord must pass the midpoint itself, so the vertex is kept; anywhere else only one outline
passes the side (every level that crosses it runs the same way on both sides), and the chord
may cross it anywhere between its two centres.

Why that keeps every guarantee of the traced outlines:

- the chords pass the same squares in the same order, and every piece of outline in a square
  is still one straight segment between two of its sides. Two different outlines (arcs
  between junctions) that pass one square cross different sides of it (a side two of them
  cross is a junction, where both keep the midpoint), so their pieces keep the cyclic order of
  their ends and cannot cross; they meet only at a shared junction vertex. A stretch that
  several levels share runs from junction to junction, which every one of them keeps, and is
  simplified the same in each (the greedy chords from a kept vertex depend on the stretch
  alone). So rings of one level never touch, bands nest, and two levels' outlines coincide
  exactly where they run together: a ring band drops those stretches (:mod:`.coverage`) and
  shares its outlines exactly with its neighbours;
- squares no outline crosses keep their side (in or out), so everything reached is in;
- a point of a crossed square on the inside of its piece lies within ``sqrt(5) / 2 = 1.12``
  cells of a centre that is in (the bound of the traced outline), so nothing farther than
  ``walk_in_m`` from the reached streets is in; the outline moves by at most a square's
  diagonal and lies between ``walk_in_m - 2.7`` cells and ``walk_in_m`` from the streets.

Each ring is simplified from a start fixed by its geometry (its lowest, then leftmost junction,
else its lowest, then leftmost vertex), so a ring gives the same chords whether it was traced
whole or linked from tiles' chains. The
chords are chosen greedily: from an anchor, the set of directions that pass every side part
so far is a wedge (an intersection of angles), and the chord runs to the farthest vertex
whose direction stays inside it. All tests are on the integer vertices (``1 / SNAP`` cells)
with each part shrunk by one unit, so they are exact. Hand-written: shapely's
``simplify(preserve_topology=True)`` works ring by ring with a distance tolerance and knows
neither the grid nor the neighbouring levels, so it could not keep adjacent bands' shared
outlines identical or nested; ``shapely.coverage_simplify`` (GEOS 3.12) keeps the edges
that polygons share, but bounds neither the cell sides a line crosses nor which centres stay
in, and the cumulative bands overlap, so they are not a coverage.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["LOOKAHEAD", "cross2", "side_part", "simplify_columns", "simplify_ring"]

#: Most vertices one chord may replace (bounds a ring's work to ``LOOKAHEAD`` per vertex).
LOOKAHEAD = 512


def side_part(l0: int | np.integer, l1: int | np.integer, b: int | np.integer,
              snap: int) -> tuple[int, int]:
    """The part of the side from a centre labelled ``l0`` to one labelled ``l1`` a level
    ``b`` (``min <= b < max``) may cross away from a junction: the whole side, in ``1 / snap``
    of it from the ``l0`` centre, shrunk by one unit at each end (so that a chord through it
    crosses the open side). Every level that crosses a side shares its part: away from a
    junction they run together (:mod:`.trace`)."""
    if not min(l0, l1) <= b < max(l0, l1):
        raise ValueError(f"level {b} does not cross a side from {l0} to {l1}")
    return 1, snap - 1


def cross2(ax: np.int64, ay: np.int64, bx: np.int64, by: np.int64) -> np.int64:
    """The cross product of two integer vectors (its sign: which way ``b`` turns from ``a``);
    a compiled helper of the simplifier and the tracers."""
    return ax * by - ay * bx


def simplify_ring(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, start: int,
                  n: int, snap: int, out_x: np.ndarray,
                  out_y: np.ndarray) -> int:  # pragma: no cover - compiled
    """The ring ``start:start + n`` of ``x, y`` as fewer vertices, into ``out_x, out_y``;
    returns how many (at least three, or ``n`` when ``n`` is smaller). A vertex whose part is
    the point itself (``lo == hi == 0``, a junction) is always kept.

    Vertex ``v`` lies on a grid side (``x[v]`` a multiple of ``snap``: a vertical side, else a
    horizontal one) and may be crossed anywhere from ``lo[v]`` to ``hi[v]`` along it (added
    to the coordinate that varies on the side). The result is a subset of the vertices,
    from the lowest (then leftmost) junction, else vertex, in ring order. When that one is the
    ring's first, the output may be the ring's own place (``out_x`` the view of ``x`` from
    ``start``): each kept vertex is written at or before the place it is read from, after it
    was read.
    """
    if n <= 3:
        for t in range(n):
            out_x[t] = x[start + t]
            out_y[t] = y[start + t]
        return n
    # from the lowest, then leftmost junction (kept exactly: ``lo == hi == 0``), else vertex
    k0 = -1
    for t in range(n):
        v = start + t
        if lo[v] != 0 or hi[v] != 0:
            continue
        w = start + k0
        if k0 < 0 or y[v] < y[w] or (y[v] == y[w] and x[v] < x[w]):
            k0 = t
    if k0 < 0:
        k0 = 0
        for t in range(1, n):
            v = start + t
            w = start + k0
            if y[v] < y[w] or (y[v] == y[w] and x[v] < x[w]):
                k0 = t
    out_x[0] = x[start + k0]
    out_y[0] = y[start + k0]
    m = 1
    a = 0
    # ``k0 + a`` and ``k0 + best`` stay below ``2 n``: one subtraction, not a division (two
    # 64-bit divisions a kept vertex: ~0.2 of the ~0.8 s CPU the tiles' closed rings'
    # simplification took on the 268,569-node mosaic)
    while a < n:
        va = start + k0 + a
        if va >= start + n:
            va -= n
        px = np.int64(x[va])
        py = np.int64(y[va])
        best = a + 1
        lx = np.int64(0)
        ly = np.int64(0)
        rx = np.int64(0)
        ry = np.int64(0)
        wedge = False
        limit = min(n, a + LOOKAHEAD)
        t = a + 1
        while True:
            vt = start + k0 + t
            if vt >= start + n:
                vt -= n
            dx = np.int64(x[vt]) - px
            dy = np.int64(y[vt]) - py
            if wedge and (cross2(lx, ly, dx, dy) <= 0 or cross2(dx, dy, rx, ry) <= 0):
                break
            best = t
            if t >= limit:
                break
            # the part of vertex t's side a chord from the anchor must pass through
            if np.int64(x[vt]) & (snap - 1) == 0:  # a vertical side: y varies (snap: 2**k)
                ax_ = dx
                ay_ = dy + lo[vt]
                bx_ = dx
                by_ = dy + hi[vt]
            else:
                ax_ = dx + lo[vt]
                ay_ = dy
                bx_ = dx + hi[vt]
                by_ = dy
            c = cross2(ax_, ay_, bx_, by_)
            if c == 0:
                break
            if c < 0:
                ax_, ay_, bx_, by_ = bx_, by_, ax_, ay_
            if not wedge:
                lx, ly, rx, ry = ax_, ay_, bx_, by_
                wedge = True
            else:
                if cross2(lx, ly, ax_, ay_) > 0:
                    lx, ly = ax_, ay_
                if cross2(rx, ry, bx_, by_) < 0:
                    rx, ry = bx_, by_
                if cross2(lx, ly, rx, ry) <= 0:
                    break
            t += 1
        if best < n:
            vb = start + k0 + best
            if vb >= start + n:
                vb -= n
            out_x[m] = x[vb]
            out_y[m] = y[vb]
            m += 1
        a = best
    return m


def _simplify_all(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  sizes: np.ndarray, snap: int) -> tuple[np.ndarray, np.ndarray,
                                                         np.ndarray]:  # pragma: no cover
    """:func:`simplify_ring` of every ring (``sizes``, one after the other): the kept
    vertices (x, y) and each ring's new size."""
    out_x = np.empty(x.shape[0], dtype=x.dtype)
    out_y = np.empty(y.shape[0], dtype=y.dtype)
    new_sizes = np.empty(sizes.shape[0], dtype=np.int64)
    s = 0
    o = 0
    for r in range(sizes.shape[0]):
        n = sizes[r]
        new_sizes[r] = simplify_ring(x, y, lo, hi, s, n, snap, out_x[o:], out_y[o:])
        o += new_sizes[r]
        s += n
    return out_x[:o], out_y[:o], new_sizes


@cache
def _all_kernel() -> Any:
    return compile_kernel(_simplify_all, simplify_ring, cross2)


def simplify_columns(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     sizes: np.ndarray, snap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rings, ring after ring and not closed, as :func:`simplify_ring` leaves each: integer
    vertices as contiguous columns ``x``, ``y``, with each vertex's part of its side
    (``lo``, ``hi``); ``sizes`` the vertices per ring. Returns (kept x, kept y, sizes)."""
    out: tuple[np.ndarray, np.ndarray, np.ndarray] = _all_kernel()(
        x, y, lo, hi, sizes.astype(np.int64), snap)
    return out
