"""Polygons from a tiled label grid: each tile's rings traced, the chains linked across seams.

The grid of an isochrone holds, per cell centre, the nearest band that reaches it (see
:func:`lifecircle.isochrones.polygons._entity_tiles`); level ``b`` outlines the centres of
band ``b`` or nearer. A few lines of numba (:mod:`.trace`) follow each ring of every level
through a tile's squares (between four centres), with the region on its left.

What a crossing of a cell side means: the side between two centres labelled ``lo < hi`` is
crossed by the levels ``lo .. hi - 1``, all at its midpoint (marching squares on the indicator
``label <= b`` at 0.5; a saddle keeps its two inside corners apart), so the traced outline of
each level is contourpy's on that indicator (``tests/test_isochrone_rings.py``), and levels
that cross one side share its crossing. Where nothing between two levels was reached (a 0-5
min cell beside unreached land) their outlines coincide, and the ring band between them has
nothing there: the ring bands of one grid are a coverage (:mod:`.coverage`), each holding the
squares of its own centres and half of each side it shares. (Before, the crossings
interpolated ``n_bands - label`` linearly, at 1/6, 1/2 and 5/6 of a 0 | 3 side, so the 5-10
and 10-15 min rings each carried a strip a third of a cell wide along every outer edge of the
0-5 min area.) A ring that leaves the tile is kept as a
chain, named by the grid sides it starts from and ends on, and linked with the next tile's
chains on the seam (tiles share their edge row and column of centres and each square belongs
to one tile). Each ring is simplified on the grid (:mod:`.simplify`): a closed ring in its
tile, a linked chain once whole, from a start fixed by its geometry, so a tiled grid gives the
polygons of an untiled one; the polygons hold the same centres as contourpy's and a subset of
their vertices.

On the 268,569-node tiled mosaic this took a category's 5 m outlines from 31 s (contourpy per
tile, then the tiles' rings stitched) to about 14 s under the same load, and a third of the
memory of the stitched rings: no grid of floats, no per-tile contour objects, and a tile's
closed rings are simplified before they are kept. Tracing the rings straight from the labels
(rather than writing every square's segments and linking them through a table) then took the
outlining of the mosaic's 252 tiles from 6.4 s to 2.7 s CPU. A city category's bands are built
one at a time (:func:`iter_bands`), each hole given to its shell without GEOS
(:mod:`.nesting`), and, for a run, written as WKB without GEOS (:mod:`.wkb`). Crossing every
side at its midpoint and dropping the edges two levels share took the run's 15 ring rows on the
268,569-node mosaic (10 m cells) from 18.7 million vertices and 303.5 MB of WKB to 6.0 million
and 97.9 MB, the step's memory from about +150 MiB to +45 MiB, at no more CPU
(``scripts/bench_isochrones.py --city FILE --base DIR``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import shapely

from .._kernels import compile_kernel
from .coverage import ring_band
from .nesting import hole_owners, ring_area2
from .simplify import simplify_columns
from .trace import trace_tile
from .wkb import EMPTY_WKB, Wkb, encode_rings

__all__ = ["EMPTY", "SNAP", "TileRings", "bands_from_tiles", "iter_bands", "signed_area2",
           "tile_rings"]

#: Contour vertices are integers in ``1 / SNAP`` of a cell (a traced crossing, a side's
#: midpoint, is exact), the same integer on both sides of a seam.
SNAP = 1024

#: the empty band (a shared MultiPolygon: nothing reached)
EMPTY = shapely.MultiPolygon()


@cache
def _cycle_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def cycles(succ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        # the cycles of a permutation: ring of each element, elements in walking order
        n = succ.shape[0]
        ring = np.full(n, -1, dtype=np.int64)
        order = np.empty(n, dtype=np.int64)
        k = 0
        r = 0
        for s in range(n):
            if ring[s] >= 0:
                continue
            i = s
            while ring[i] < 0:
                ring[i] = r
                order[k] = i
                k += 1
                i = succ[i]
            r += 1
        return ring, order

    return cycles


def _areas2(q: np.ndarray, sizes: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Twice the signed area of each ring (:func:`.nesting.ring_area2`; the shoelace terms
    added in vertex order, as np.bincount did)."""
    out = np.zeros(sizes.shape[0])
    s = 0
    for r in range(sizes.shape[0]):
        out[r] = ring_area2(q, s, sizes[r])
        s += sizes[r]
    return out


@cache
def _ring_kernels() -> tuple[Any, Any]:
    from numba import njit

    area2 = compile_kernel(_areas2, ring_area2)

    @njit(cache=True, nogil=True)
    def walked(q: np.ndarray, iv: np.ndarray, sizes: np.ndarray,
               walk: np.ndarray) -> tuple[np.ndarray, ...]:  # pragma: no cover
        # the vertices (int64) and parts of rings ``walk``, in that order, as columns
        starts = np.empty(sizes.shape[0], dtype=np.int64)
        acc = 0
        for r in range(sizes.shape[0]):
            starts[r] = acc
            acc += sizes[r]
        total = 0
        for w in walk:
            total += sizes[w]
        qx = np.empty(total, dtype=np.int64)
        qy = np.empty(total, dtype=np.int64)
        lo = np.empty(total, dtype=iv.dtype)
        hi = np.empty(total, dtype=iv.dtype)
        o = 0
        for w in walk:
            s = starts[w]
            for k in range(sizes[w]):
                qx[o] = q[s + k, 0]
                qy[o] = q[s + k, 1]
                lo[o] = iv[s + k, 0]
                hi[o] = iv[s + k, 1]
                o += 1
        return qx, qy, lo, hi

    return area2, walked


def signed_area2(q: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Twice the signed area of each ring (positive anticlockwise), in float64 (compiled: the
    numpy version held six vertex-sized temporaries, a city band's peak)."""
    return _ring_kernels()[0](q, sizes)


@cache
def _closed_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def closed(q: np.ndarray, starts: np.ndarray, sizes: np.ndarray, offsets: np.ndarray,
               ox: float, oy: float, scale: float) -> np.ndarray:  # pragma: no cover
        out = np.empty((offsets[-1], 2), dtype=np.float64)
        for r in range(starts.shape[0]):
            o = offsets[r]
            for k in range(sizes[r] + 1):
                v = starts[r] + k % sizes[r]
                out[o + k, 0] = ox + q[v, 0] * scale
                out[o + k, 1] = oy + q[v, 1] * scale
        return out

    return closed


def _closed_xy(q: np.ndarray, sizes: np.ndarray, rings: np.ndarray, origin: np.ndarray,
               cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``rings`` (in that order), each closed, and their ragged offsets
    (a loop in numba: the numpy index arithmetic took a second per band of a city)."""
    starts = (np.cumsum(sizes) - sizes)[rings]
    n = sizes[rings]
    offsets = np.r_[0, np.cumsum(n + 1)]
    # xy = origin + index * cell, with the index q / SNAP exact in floating point
    xy = _closed_kernel()(q, starts, n, offsets, float(origin[0]), float(origin[1]),
                          cell / float(SNAP))
    return xy, offsets


def _grouped_rings(q: np.ndarray, sizes: np.ndarray,
                   hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rings of one MultiPolygon in writing order (each shell, then its holes) and the
    rings of each polygon: each hole goes to the smallest shell that contains its first
    vertex (rings touch at single vertices only, and a ring starts at a vertex no other ring
    passes, so the vertex is strictly inside; :func:`.nesting.hole_owners`)."""
    shells = np.flatnonzero(~hole)
    holes = np.flatnonzero(hole)
    owner = np.zeros(0, dtype=np.int64)
    if holes.size:
        owner = hole_owners(q, sizes, shells, holes, signed_area2(q, sizes))
    poly = np.concatenate([np.arange(shells.shape[0]), owner])
    member = np.concatenate([shells, holes])
    is_hole = np.concatenate([np.zeros(shells.shape[0], bool), np.ones(holes.shape[0], bool)])
    ok = poly >= 0
    order = np.lexsort((is_hole[ok], poly[ok]))
    return member[ok][order], np.bincount(poly[ok], minlength=shells.shape[0])


def _polygons(q: np.ndarray, sizes: np.ndarray, hole: np.ndarray, origin: np.ndarray,
              cell: float, wkb: bool = False) -> Any:
    """One MultiPolygon from rings in grid units (:func:`_grouped_rings`), or its
    :class:`.wkb.Wkb` when ``wkb``.

    Built straight from the coordinates with ``shapely.from_ragged_array`` (one copy into
    GEOS, not one each for rings, polygons and the MultiPolygon), or written as WKB without
    GEOS (:func:`.wkb.encode_rings`).
    """
    if sizes.shape[0] == 0:
        return Wkb(EMPTY_WKB, 0.0) if wkb else EMPTY
    rings, per_poly = _grouped_rings(q, sizes, hole)
    if wkb:
        return encode_rings(q, sizes, rings, per_poly, origin, cell, SNAP)
    xy, ring_off = _closed_xy(q, sizes, rings, origin, cell)
    poly_off = np.r_[0, np.cumsum(per_poly)]
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, xy,
                                     (ring_off, poly_off, np.array([0, per_poly.shape[0]])))[0]


@dataclass(frozen=True)
class LevelRings:
    """One level's outlines in one tile: the closed rings' vertices ``q`` (``1 / SNAP`` cells
    from the grid's cell ``(0, 0)``, ring after ring, not closed) and ``sizes``, then the
    chains that leave the tile: their vertices ``cq``, each vertex's part of its side ``civ``
    (:func:`.simplify.side_part`), ``csizes``, each chain's ``head`` and ``tail`` (the grid
    side, as a key, it starts from and ends on) and ``joint`` (its last square makes the side
    it leaves by a junction)."""

    q: np.ndarray
    sizes: np.ndarray
    cq: np.ndarray
    civ: np.ndarray
    csizes: np.ndarray
    head: np.ndarray
    tail: np.ndarray
    joint: np.ndarray


class TileRings:
    """One tile's outlines of every level, level by level (:class:`LevelRings`); a level is
    dropped (``None``) once :func:`_level_rings` has taken it, so that a city's outline
    integers shrink as its bands are built."""

    __slots__ = ("levels",)

    def __init__(self, levels: list[LevelRings | None]) -> None:
        self.levels = levels


def tile_rings(label: np.ndarray, n_levels: int, offset: tuple[int, int],
               grid_offset: tuple[int, int], width_g: int,
               width: int | None = None) -> TileRings:
    """The outlines of ``{label <= b}`` for every level ``b < n_levels`` over the squares
    between ``label``'s centres.

    ``label``'s first centre is cell ``offset`` of the grid (cell ``grid_offset`` of the
    entity's grid, ``width_g`` centres wide, which names the sides chains end on), traced by
    :func:`.trace.trace_tile`. Tiles that share their edge row and column of centres give
    each square once, so the chains of all tiles link into whole rings
    (:func:`bands_from_tiles`). With ``width``, ``label`` is :func:`.trace.tile_grid`'s grid
    (stamped in place), of which the first ``width`` columns are the tile's.
    """
    cols = label.shape[1] if width is None else width
    # int32 (half the memory of a city's outlines, which are all held until the last band):
    # a vertex is at most 2**31 / SNAP = 2 million cells from the grid's corner
    if (offset[0] + cols) * SNAP >= 2**31 or (offset[1] + label.shape[0]) * SNAP >= 2**31:
        raise ValueError(f"isochrone grid of {offset[0] + cols} x "
                         f"{offset[1] + label.shape[0]} cells: too large for its outlines")
    # the kernel writes the rings by level, closed rings before chains, so that each band
    # takes a contiguous run (:func:`_level_rings`), the vertices moved by ``offset`` and
    # only the chains' parts (the closed rings are simplified); copies: its arrays are this
    # thread's workspaces, sized by the segments
    q, iv, sizes, level, chain, head, tail, joint = trace_tile(
        label, n_levels, SNAP, grid_offset, width_g, offset, width)
    # each level's rings copied out of the kernel's workspaces on their own (rings run by
    # level, closed rings before chains; ``iv`` holds the chains' vertices only), so that a
    # level is freed once its band is built without copying the levels above it again
    bounds = np.searchsorted(level, np.arange(n_levels + 1))
    v_end = np.r_[0, np.cumsum(sizes)]
    c_end = np.r_[0, np.cumsum(np.where(chain != 0, sizes, 0))]
    levels: list[LevelRings | None] = []
    for b in range(n_levels):
        lo, hi = int(bounds[b]), int(bounds[b + 1])
        mid = lo + int(np.count_nonzero(chain[lo:hi] == 0))
        v0, v1, v2 = int(v_end[lo]), int(v_end[mid]), int(v_end[hi])
        c0 = int(c_end[lo])
        levels.append(LevelRings(
            q[v0:v1].copy(), sizes[lo:mid].copy(), q[v1:v2].copy(), iv[c0:c0 + v2 - v1].copy(),
            sizes[mid:hi].copy(), head[mid:hi].copy(), tail[mid:hi].copy(),
            joint[mid:hi].astype(bool)))
    return TileRings(levels)


def _level_rings(parts: list[TileRings], b: int) -> tuple[np.ndarray, np.ndarray]:
    """Level ``b``'s rings (vertices, sizes): the closed rings of every tile, and the chains
    linked head to tail across the seams, then simplified (:func:`.simplify.simplify_columns`).

    Each tile's rings of level ``b`` are dropped from ``parts`` (levels are taken in rising
    order), so a city's outline integers shrink as its bands are built; they stay int32 (as
    :func:`tile_rings` keeps them), and only the chains work in int64.
    """
    taken = [lv for p in parts if (lv := p.levels[b]) is not None]
    for p in parts:
        p.levels[b] = None
    q = np.concatenate([lv.q for lv in taken]) if taken else np.empty((0, 2), np.int32)
    size = np.concatenate([lv.sizes for lv in taken]) if taken else np.zeros(0, np.int64)
    if sum(lv.head.shape[0] for lv in taken):
        c_q = np.concatenate([lv.cq for lv in taken])
        c_iv = np.concatenate([lv.civ for lv in taken])
        c_size = np.concatenate([lv.csizes for lv in taken])
        c_head = np.concatenate([lv.head for lv in taken])
        c_tail = np.concatenate([lv.tail for lv in taken])
        order = np.argsort(c_head, kind="stable")
        succ = order[np.searchsorted(c_head[order], c_tail)]
        # a seam side is a junction when the square on either side makes it one: the next
        # chain's first vertex (on that side) is then kept exactly
        c_joint = np.concatenate([lv.joint for lv in taken])
        if c_joint.any():
            c_first = np.cumsum(c_size) - c_size
            c_iv[c_first[succ[c_joint]]] = 0
        ring, walk = _cycle_kernel()(succ)
        # the chains' vertices in walking order (int64 columns, gathered in one compiled
        # pass), the linked rings simplified as a whole ring traced in one tile would be
        wx, wy, wlo, whi = _ring_kernels()[1](c_q, c_iv, c_size, walk)
        lx, ly, linked_size = simplify_columns(
            wx, wy, wlo, whi, np.bincount(ring, weights=c_size).astype(np.int64), SNAP)
        linked_q = np.empty((lx.shape[0], 2), dtype=np.int32)
        linked_q[:, 0] = lx
        linked_q[:, 1] = ly
        q = np.concatenate([q, linked_q])
        size = np.concatenate([size, linked_size])
    return q, size


def bands_from_tiles(parts: list[TileRings], n_bands: int, cumulative: bool,
                     origin: np.ndarray, cell: float, *, wkb: bool = False) -> np.ndarray:
    """One MultiPolygon per band from the outlines of every tile (:func:`tile_rings`), or
    its :class:`.wkb.Wkb` when ``wkb`` (written without GEOS): :func:`iter_bands`, all
    bands at once."""
    out = np.empty(n_bands, dtype=object)
    for b, poly in enumerate(iter_bands(parts, n_bands, cumulative, origin, cell, wkb=wkb)):
        out[b] = poly
    return out


def iter_bands(parts: list[TileRings], n_bands: int, cumulative: bool, origin: np.ndarray,
               cell: float, *, wkb: bool = False) -> Iterator[Any]:
    """The bands of :func:`bands_from_tiles` one at a time, each built when the previous one
    was taken (a caller that writes and drops each holds one band's polygon, not three).

    Level ``b``'s rings outline everything within band ``b`` (shells anticlockwise, holes
    clockwise); band ``b``'s ring (``cumulative=False``) is bounded by level ``b``'s edges
    and level ``b - 1``'s reversed, the edges both levels share dropped
    (:func:`.coverage.ring_band`): neighbouring ring bands share their outlines exactly.
    """
    prev: tuple[np.ndarray, np.ndarray] | None = None
    for b in range(n_bands):
        ring_q, sizes = _level_rings(parts, b)
        if cumulative or prev is None:
            poly = _polygons(ring_q, sizes, signed_area2(ring_q, sizes) < 0, origin, cell, wkb)
        else:
            band_q, band_sizes = ring_band(ring_q, sizes, *prev)
            poly = _polygons(band_q, band_sizes, signed_area2(band_q, band_sizes) < 0,
                             origin, cell, wkb)
            del band_q, band_sizes
        prev = (ring_q, sizes) if not cumulative else None
        yield poly
        del poly
    parts.clear()
