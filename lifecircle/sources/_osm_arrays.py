"""From the scanned records to arrays: walkable ways' coordinates and closed-way polygons.

The second half of a read (:mod:`._osm_pass` or :mod:`._pbf_scan` collects the records): the
walkable ways' node coordinates come out of their linestring WKB in one step, and the
closed-way rings become polygon WKB in chunks, checked for validity (most rings by a compiled
convexity or simplicity test, :mod:`._ring_kernels`, the rest by GEOS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._osm_columns import WkbColumn, _records

if TYPE_CHECKING:
    from ._osm_pass import Scan

__all__ = ["closed_way_polygons", "gathered", "linestring_coords", "positions", "ring_polygons",
           "walkable_arrays"]


def walkable_arrays(out: Scan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``refs``, ``way_ptr``, ``lon``, ``lat`` of the walkable ways (NaN: node not in the file)."""
    counts = np.asarray(out.way_counts, dtype=np.int64)
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    refs = np.frombuffer(out.way_refs, dtype=np.int64).copy() if len(out.way_refs) else \
        np.zeros(0, dtype=np.int64)
    lon = np.full(refs.shape[0], np.nan)
    lat = np.full(refs.shape[0], np.nan)
    whole_mask = np.ones(counts.shape[0], dtype=bool)
    whole_mask[list(out.way_partial)] = False
    whole = np.flatnonzero(whole_mask)
    raw = out.way_wkb.to_bytes()
    if whole.size:
        coords = linestring_coords(raw, counts[whole])
        pos = positions(ptr, whole)
        lon[pos] = coords[:, 0]
        lat[pos] = coords[:, 1]
    for i, (lo, la) in out.way_partial.items():
        lon[ptr[i] : ptr[i + 1]] = lo
        lat[ptr[i] : ptr[i + 1]] = la
    return refs, ptr, lon, lat


def _record_starts(counts: np.ndarray, header: int) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and sizes of WKB records of ``header`` bytes plus ``counts`` XY points."""
    sizes = header + 16 * np.asarray(counts, dtype=np.int64)
    return np.cumsum(sizes) - sizes, sizes


def linestring_coords(raw: bytes | bytearray, counts: np.ndarray) -> np.ndarray:
    """The coordinates of linestrings in osmium's WKB (``raw``: records back to back,
    ``counts`` points each), as (n, 2).

    Every record is a 9-byte header (byte order, type, point count) and the points as
    little-endian doubles: a mask reads them all at once, where ``shapely.from_wkb`` parses
    per geometry (several times slower at city scale).
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts, sizes = _record_starts(counts, 9)
    if buf.size != int(sizes.sum()) or (buf[starts] != 1).any():
        import shapely  # not the layout assumed above: let GEOS parse it

        column = WkbColumn(raw, np.append(starts, buf.size))
        return shapely.get_coordinates(column.geometries())
    if not starts.size:
        return np.empty((0, 2))
    return _records(buf, starts + 9, starts + sizes)[0].view("<f8").reshape(-1, 2)


def positions(ptr: np.ndarray, ways: np.ndarray) -> np.ndarray:
    """The reference positions of ``ways`` (indices into ``ptr``), concatenated in order."""
    starts = ptr[ways]
    return spans(starts, ptr[ways + 1] - starts)


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The integers of the runs ``starts[i] .. starts[i] + counts[i] - 1``, concatenated in
    order."""
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])


def gathered(values: np.ndarray, ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[positions(ptr, rows)]``: the runs ``values[ptr[r]:ptr[r + 1]]`` of ``rows``,
    concatenated in order, copied run by run (the position array and its gather, three
    passes over an int64 per element, cost several times more for a city's references)."""
    rows = np.asarray(rows, dtype=np.int64)
    return _records(values, ptr[rows], ptr[rows + 1])[0]


#: rings polygonised and checked at a time (bounds the temporary arrays and GEOS objects)
RING_CHUNK = 1 << 16


def closed_way_polygons(
    raw: bytes | bytearray, counts: np.ndarray, *, reserve: int = 0
) -> tuple[WkbColumn, np.ndarray]:
    """Closed-way rings (linestring WKB back to back in ``raw``, ``counts`` points each) as
    one-polygon multipolygon WKB, and which are valid (see :func:`ring_polygons`)."""
    counts = np.asarray(counts, dtype=np.int64)
    starts, sizes = _record_starts(counts, 9)

    def coords_of(lo: int, hi: int) -> np.ndarray:
        begin, end = int(starts[lo]), int(starts[hi - 1] + sizes[hi - 1])
        return linestring_coords(raw[begin:end], counts[lo:hi])

    return ring_polygons(counts, coords_of, reserve=reserve)


def ring_polygons(
    counts: np.ndarray, coords_of: Callable[[int, int], np.ndarray], *, reserve: int = 0
) -> tuple[WkbColumn, np.ndarray]:
    """Closed rings of ``counts`` points each as one-polygon multipolygon WKB, and which are
    valid; ``coords_of(lo, hi)`` gives the (n, 2) coordinates of rings ``lo`` to ``hi``.

    Repeated consecutive locations are dropped as osmium does; a ring with fewer than three
    distinct corners, or one that crosses itself, is not valid (a broken area, left in the
    column but flagged). The WKB is laid out with numpy, a chunk of rings at a time, into one
    buffer with ``reserve`` spare bytes at its end (see :meth:`WkbColumn.compact`); GEOS only
    checks validity.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = counts.shape[0]
    # an upper bound: dropping repeated locations only shortens a record
    out = np.empty(int((22 + 16 * counts).sum()) + reserve, dtype=np.uint8)
    offsets = [np.zeros(1, dtype=np.int64)]
    valid: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    at = 0
    for lo in range(0, n, RING_CHUNK):
        hi = min(n, lo + RING_CHUNK)
        # (written in place: the rest of the buffer holds at least this chunk's bound)
        column, ok = _polygon_chunk(coords_of(lo, hi), counts[lo:hi], out[at:])
        size = int(column.offsets[-1])
        offsets.append(column.offsets[1:] + at)
        valid.append(ok)
        at += size
    return WkbColumn(out, np.concatenate(offsets)), np.concatenate(valid)


def _polygon_chunk(
    coords: np.ndarray, counts: np.ndarray, buf: np.ndarray | None = None
) -> tuple[WkbColumn, np.ndarray]:
    """:func:`ring_polygons` for one chunk of rings (their coordinates, ``counts`` each),
    laid out at the start of ``buf`` (a new buffer when None)."""
    import shapely

    coords = np.ascontiguousarray(coords, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    if buf is None:
        buf = np.empty(int((22 + 16 * counts).sum()), dtype=np.uint8)
    offsets, points, clear = _ring_kernel()(coords, counts, buf, _TURN_SINE)
    column = WkbColumn(buf[: offsets[-1]], offsets)
    valid = points >= 4
    # most footprints are clearly convex (rectangles) or clearly simple: valid without GEOS,
    # whose parse and is_valid were most of the read's polygon time; GEOS judges the rest
    candidates = np.flatnonzero(valid & ~clear)
    valid[candidates] = shapely.is_valid(column.take(candidates).geometries())
    return column, valid


def _ring_kernel() -> Any:
    """The compiled pass over a chunk's rings (:func:`._ring_kernels.rings`)."""
    from ._ring_kernels import rings

    return rings


#: the sine of a turn below which a ring is left to GEOS: coordinate rounding moves a turn's
#: sine by ~1e-10 on a 1 m edge, so a turn sharper than this has the sign GEOS finds
_TURN_SINE = 1e-7


def _clearly_convex(coords: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per ring (closed, consecutive repeats dropped): whether it is a strictly convex ring
    turning once, hence a valid polygon shell (simple, non-zero area).

    Every turn must have the same sign with a sine of at least :data:`_TURN_SINE`, and the
    turns must add up to one full turn (a pentagram turns twice). Anything closer to the edge
    is answered False, to be checked by GEOS: this only saves work, it never decides a doubtful
    ring. Hand-written: shapely has no vectorised convexity test, and GEOS's ``is_valid``
    costs a parsed geometry per ring. The test is compiled with the WKB layout
    (:func:`_ring_kernel`).
    """
    buf = np.empty(int((22 + 16 * points).sum()), dtype=np.uint8)
    return _ring_kernel()(np.ascontiguousarray(coords, dtype=np.float64),
                          np.asarray(points, dtype=np.int64), buf, _TURN_SINE, False)[2]


def _clearly_simple(coords: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per ring (closed, consecutive repeats dropped, ``points`` each): whether no two of its
    edges meet except neighbours at their shared corner, each turning clearly (hence a valid
    polygon shell: simple, with area), where every orientation used is certain.

    Like :func:`_clearly_convex`, a filter before GEOS: a pair of edges it cannot separate
    with certain signs makes the ring go to GEOS. Hand-written (numba): GEOS's ``is_valid``
    parses a geometry per ring.
    """
    from ._ring_kernels import simple

    coords = np.ascontiguousarray(coords, dtype=np.float64)
    out = np.zeros(points.shape[0], dtype=bool)
    at = 0
    for r, k in enumerate(np.asarray(points).tolist()):
        if k >= 4:
            out[r] = simple(coords[at : at + k, 0].copy(), coords[at : at + k, 1].copy(), k - 1)
        at += k
    return out
