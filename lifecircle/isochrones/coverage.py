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


def _next_prev(sizes: np.ndarray, n: int,
               prev: bool) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Each vertex's next (and, with ``prev``, previous) vertex in its ring (rings one after
    the other), int32 (a band's vertices are far fewer than 2**31)."""
    nxt = np.empty(n, dtype=np.int32)
    prv = np.empty(n if prev else 0, dtype=np.int32)
    s = 0
    for r in range(sizes.shape[0]):
        m = sizes[r]
        for t in range(m):
            nxt[s + t] = s + (t + 1 if t + 1 < m else 0)
            if prev:
                prv[s + t] = s + (t - 1 if t > 0 else m - 1)
        s += m
    return nxt, prv


def _key(q: np.ndarray, v: int) -> np.int64:  # pragma: no cover - compiled
    return np.int64(q[v, 0]) * 2147483648 + np.int64(q[v, 1])


def _mates(q: np.ndarray, p: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """For each vertex of ``q``, the vertex of ``p`` at the same place (-1 if none): an open
    addressing table of ``p``'s vertices (a level passes a place at most once), indexed by
    the top bits of a multiplicative hash of the place."""
    n2 = p.shape[0]
    bits = 1
    while (1 << bits) < n2 + n2 // 2 + 2:
        bits += 1
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    keys = np.full(1 << bits, -1, dtype=np.int64)
    vals = np.empty(1 << bits, dtype=np.int32)
    mult = np.uint64(0x9E3779B97F4A7C15)
    for j in range(n2):
        k = _key(p, j)
        h = np.int64((np.uint64(k) * mult) >> shift)
        while keys[h] != -1:
            h = (h + 1) & mask
        keys[h] = k
        vals[h] = j
    mate = np.full(q.shape[0], -1, dtype=np.int32)
    for v in range(q.shape[0]):
        k = _key(q, v)
        h = np.int64((np.uint64(k) * mult) >> shift)
        while keys[h] != -1:
            if keys[h] == k:
                mate[v] = vals[h]
                break
            h = (h + 1) & mask
    return mate


def _turn(q: np.ndarray, p: np.ndarray, n1: int, a: int | np.integer, b: int | np.integer,
          c: int | np.integer) -> float:  # pragma: no cover - compiled
    """The clockwise turn from the way back from ``b`` to ``a`` to the way on from ``b`` to
    ``c`` (vertices of ``q`` then ``p``), in ``(0, 2 pi]``."""
    ax, ay = _xy(q, p, n1, a)
    bx, by = _xy(q, p, n1, b)
    cx, cy = _xy(q, p, n1, c)
    turn = np.arctan2(ay - by, ax - bx) - np.arctan2(cy - by, cx - bx)
    while turn <= 0.0:
        turn += 2.0 * np.pi
    while turn > 2.0 * np.pi:
        turn -= 2.0 * np.pi
    return turn


def _ring_band(q: np.ndarray, sizes: np.ndarray, p: np.ndarray,
               p_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Rings of level ``q`` (``sizes``) minus level ``p`` (``p_sizes``), as (vertices,
    sizes); the vertices integers in ``[0, 2**31)``.

    Edge ``v < n1`` is level ``b``'s from vertex ``v`` of ``q`` to the next; edge ``n1 + j``
    is level ``b - 1``'s from vertex ``j`` of ``p`` to the next, reversed. A level passes a
    place at most once, so two edges are the same when their ends are the same places:
    ``mate`` (a vertex of ``q`` to the vertex of ``p`` at its place) settles it in one pass.
    """
    n1 = q.shape[0]
    n2 = p.shape[0]
    nxt, _ = _next_prev(sizes, n1, False)
    p_nxt, p_prv = _next_prev(p_sizes, n2, True)
    mate = _mates(q, p)
    p_mate = np.full(n2, -1, dtype=np.int32)
    for v in range(n1):
        if mate[v] >= 0:
            p_mate[mate[v]] = v
    alive = np.ones(n1 + n2, dtype=np.bool_)
    for v in range(n1):
        j = mate[v]
        if j >= 0 and p_nxt[j] == mate[nxt[v]]:
            alive[v] = False
            alive[n1 + j] = False
    # the edges going out of each edge's end: level b's from the place, and level b - 1's
    # (reversed) into the place
    succ = np.full(n1 + n2, -1, dtype=np.int32)
    pinch = np.zeros(n1 + n2, dtype=np.bool_)  # the edge starts where another one does
    n_alive = 0
    for e in range(n1 + n2):
        if not alive[e]:
            continue
        n_alive += 1
        if e < n1:
            w = np.int64(nxt[e])
            m = np.int64(mate[w])
            a = e  # the edge's start, as a vertex of q then p
            b = w
        else:
            m = e - n1
            w = np.int64(p_mate[m])
            a = n1 + np.int64(p_nxt[m])
            b = n1 + m
        c1 = w if w >= 0 and alive[w] else -1
        c2 = n1 + np.int64(p_prv[m]) if m >= 0 and alive[n1 + p_prv[m]] else -1
        if c1 >= 0 and c2 >= 0:
            pinch[c1] = True
            pinch[c2] = True
            # the wedge of the band left of the incoming edge ends at the outgoing edge met
            # first turning clockwise from the way back
            t1 = _turn(q, p, n1, a, b, nxt[w])
            t2 = _turn(q, p, n1, a, b, c2)
            succ[e] = c1 if t1 < t2 else c2
        else:
            succ[e] = c1 if c1 >= 0 else c2
    # the cycles, each cut where it passes a place twice: where the other edge out of a
    # pinch's place (its partner) is on the stack of the ring being walked
    at = np.full(n1 + n2, -1, dtype=np.int32)  # a pinch edge's place on that stack
    out_e = np.empty(n_alive, dtype=np.int32)  # edges of the rings, ring after ring
    out_size = np.empty(n_alive, dtype=np.int32)
    stack = np.empty(n_alive, dtype=np.int32)
    no = 0
    nring = 0
    for s0 in range(n1 + n2):
        if not alive[s0]:
            continue
        top = 0
        t = s0
        while alive[t]:
            alive[t] = False  # walked
            if pinch[t]:
                other = (n1 + np.int64(p_prv[mate[t]]) if t < n1
                         else np.int64(p_mate[p_nxt[t - n1]]))
                cut = at[other]
                if cut >= 0:
                    for u in range(cut, top):
                        out_e[no + u - cut] = stack[u]
                        at[stack[u]] = -1
                    out_size[nring] = top - cut
                    no += top - cut
                    nring += 1
                    top = cut
                at[t] = top
            stack[top] = t
            top += 1
            t = succ[t]
        for u in range(top):
            out_e[no + u] = stack[u]
            at[stack[u]] = -1
        out_size[nring] = top
        no += top
        nring += 1
    # each ring from a place no other ring passes, when it has one
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
            e = out_e[o + (first + u) % m]
            if e < n1:
                out[o + u, 0] = q[e, 0]
                out[o + u, 1] = q[e, 1]
            else:
                v = p_nxt[e - n1]
                out[o + u, 0] = p[v, 0]
                out[o + u, 1] = p[v, 1]
        o += m
    return out, out_size[:nring].astype(np.int64)


def _xy(q: np.ndarray, p: np.ndarray, n1: int,
        v: int | np.integer) -> tuple[float, float]:  # pragma: no cover - compiled
    """Vertex ``v`` of ``q`` then ``p``, as floats."""
    if v < n1:
        return float(q[v, 0]), float(q[v, 1])
    return float(p[v - n1, 0]), float(p[v - n1, 1])


@cache
def _kernel() -> Any:
    return compile_kernel(_ring_band, _next_prev, _key, _mates, _turn, _xy)


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
