"""A ring band's outline from its two levels' outlines, the stretches they share dropped.

Every level crosses a grid side at its midpoint (:mod:`.trace`), so level ``b`` and level
``b - 1`` run together wherever nothing between them was reached (along the outer edge of a
nearer band's cells, for one), and :mod:`.simplify` simplifies such a shared stretch the same
in both (it runs between junctions, which both keep). The ring band ``b`` (within level ``b``,
not within level ``b - 1``) is bounded by level ``b``'s edges and level ``b - 1``'s edges
reversed; an edge the two share is no boundary of it (the band is empty on both sides) and is
dropped, so neighbouring ring bands share one boundary exactly and no band holds a sliver
along a stretch it does not own.

What is left is linked at each vertex into rings. Where both levels pass a vertex and part
ways on both sides of it (the band pinched to a point), the edge coming in is linked to the
edge going out that bounds the same wedge of the band (the first clockwise from the edge it
came by), and a ring that still passes one vertex twice is cut there in two: so no ring
touches itself, and rings touch each other at single points only (valid polygons: a hole may
touch its shell at one point). Each ring starts at a vertex no other ring passes, so the hole
test of :mod:`.nesting` (a hole's first vertex) never meets another ring.

Hand-written: GEOS's overlay (``shapely.difference`` of the two levels) gives the same rings
but would decode a city's outlines into GEOS, which the run's path never does (:mod:`.wkb`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["ring_band"]


def _ring_band(q: np.ndarray, sizes: np.ndarray, p: np.ndarray,
               p_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Rings of level ``q`` (``sizes``) minus level ``p`` (``p_sizes``), as (vertices,
    sizes); the vertices integers in ``[0, 2**31)``."""
    n1 = q.shape[0]
    n = n1 + p.shape[0]
    vk = np.empty(n, dtype=np.int64)  # vertex keys: x * 2**31 + y
    for v in range(n1):
        vk[v] = np.int64(q[v, 0]) * 2147483648 + np.int64(q[v, 1])
    for v in range(p.shape[0]):
        vk[n1 + v] = np.int64(p[v, 0]) * 2147483648 + np.int64(p[v, 1])
    # edges: level b's in its order, level b - 1's reversed
    sv = np.empty(n, dtype=np.int64)
    ev = np.empty(n, dtype=np.int64)
    s = 0
    for r in range(sizes.shape[0]):
        m = sizes[r]
        for t in range(m):
            sv[s + t] = s + t
            ev[s + t] = s + (t + 1 if t + 1 < m else 0)
        s += m
    for r in range(p_sizes.shape[0]):
        m = p_sizes[r]
        for t in range(m):
            sv[s + t] = s + (t + 1 if t + 1 < m else 0)
            ev[s + t] = s + t
        s += m
    # an edge of both levels (level b's a -> b, level b - 1's reversed b -> a) is dropped
    ka = np.empty(n, dtype=np.int64)
    kb = np.empty(n, dtype=np.int64)
    for e in range(n):
        if e < n1:
            ka[e] = vk[sv[e]]
            kb[e] = vk[ev[e]]
        else:
            ka[e] = vk[ev[e]]
            kb[e] = vk[sv[e]]
    order = np.argsort(kb, kind="mergesort")
    order = order[np.argsort(ka[order], kind="mergesort")]
    alive = np.ones(n, dtype=np.bool_)
    for t in range(n - 1):
        i = order[t]
        j = order[t + 1]
        if ka[i] == ka[j] and kb[i] == kb[j]:
            alive[i] = False
            alive[j] = False
    rem = np.flatnonzero(alive)
    nr = rem.shape[0]
    start = np.empty(nr, dtype=np.int64)
    for t in range(nr):
        start[t] = vk[sv[rem[t]]]
    by_start = np.argsort(start, kind="mergesort")
    sorted_start = start[by_start]
    succ = np.empty(nr, dtype=np.int64)
    pinch = np.zeros(nr, dtype=np.bool_)  # the edge starts where another one does
    for t in range(nr):
        e = rem[t]
        key = vk[ev[e]]
        lo = np.searchsorted(sorted_start, key)
        c1 = by_start[lo]
        if lo + 1 < nr and sorted_start[lo + 1] == key:
            c2 = by_start[lo + 1]
            pinch[c1] = True
            pinch[c2] = True
            # the wedge of the band left of the incoming edge ends at the outgoing edge met
            # first turning clockwise from the incoming edge's way back
            fx, fy = _xy(q, p, n1, ev[e])
            bx, by = _xy(q, p, n1, sv[e])
            back = np.arctan2(by - fy, bx - fx)
            best = c1
            best_turn = 10.0
            for c in (c1, c2):
                tx, ty = _xy(q, p, n1, ev[rem[c]])
                turn = back - np.arctan2(ty - fy, tx - fx)
                while turn <= 0.0:
                    turn += 2.0 * np.pi
                while turn > 2.0 * np.pi:
                    turn -= 2.0 * np.pi
                if turn < best_turn:
                    best_turn = turn
                    best = c
            succ[t] = best
        else:
            succ[t] = c1
    # the cycles, each cut where it passes a vertex twice
    seen = np.zeros(nr, dtype=np.bool_)
    out_e = np.empty(nr, dtype=np.int64)  # edges of the rings, ring after ring
    out_size = np.empty(nr, dtype=np.int64)
    no = 0
    nring = 0
    stack = np.empty(nr, dtype=np.int64)
    for s0 in range(nr):
        if seen[s0]:
            continue
        top = 0
        t = s0
        while not seen[t]:
            seen[t] = True
            if pinch[t]:
                key = start[t]
                cut = -1
                for u in range(top):
                    if pinch[stack[u]] and start[stack[u]] == key:
                        cut = u
                        break
                if cut >= 0:
                    for u in range(cut, top):
                        out_e[no + u - cut] = stack[u]
                    out_size[nring] = top - cut
                    no += top - cut
                    nring += 1
                    top = cut
            stack[top] = t
            top += 1
            t = succ[t]
        for u in range(top):
            out_e[no + u] = stack[u]
        out_size[nring] = top
        no += top
        nring += 1
    # each ring from a vertex no other ring passes, when it has one
    out = np.empty((no, 2), dtype=q.dtype)
    o = 0
    for r in range(nring):
        m = out_size[r]
        first = 0
        for u in range(m):
            if not pinch[out_e[o + u]]:
                first = u
                break
        for u in range(m):
            e = rem[out_e[o + (first + u) % m]]
            v = sv[e]
            if v < n1:
                out[o + u, 0] = q[v, 0]
                out[o + u, 1] = q[v, 1]
            else:
                out[o + u, 0] = p[v - n1, 0]
                out[o + u, 1] = p[v - n1, 1]
        o += m
    return out, out_size[:nring].copy()


def _xy(q: np.ndarray, p: np.ndarray, n1: int,
        v: int) -> tuple[float, float]:  # pragma: no cover - compiled
    """Vertex ``v`` of ``q`` then ``p``, as floats."""
    if v < n1:
        return float(q[v, 0]), float(q[v, 1])
    return float(p[v - n1, 0]), float(p[v - n1, 1])


@cache
def _kernel() -> Any:
    return compile_kernel(_ring_band, _xy)


def ring_band(q: np.ndarray, sizes: np.ndarray, p: np.ndarray,
              p_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rings of the band within level ``q`` and not within level ``p`` (rings ring after
    ring, not closed, ``sizes`` and ``p_sizes`` their vertices; shells anticlockwise, holes
    clockwise, as :mod:`.rings` traces them), with the edges the levels share dropped:
    (vertices in ``q``'s dtype, sizes). Shells come out anticlockwise and holes clockwise."""
    if p.shape[0] == 0:
        return q, sizes
    out: tuple[np.ndarray, np.ndarray] = _kernel()(q, sizes.astype(np.int64), p,
                                                   p_sizes.astype(np.int64))
    return out
