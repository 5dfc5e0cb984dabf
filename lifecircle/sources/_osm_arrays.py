"""From the scanned records to arrays: walkable ways' coordinates and closed-way polygons.

The second half of a read (:mod:`._osm_pass` collects the records): the walkable ways' node
coordinates come out of their linestring WKB in one step, and the closed-way rings become
polygon WKB in chunks, checked for validity (most rings by a vectorised convexity test, the
rest by GEOS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ._osm_columns import WkbColumn

if TYPE_CHECKING:
    from ._osm_pass import Scan

__all__ = ["closed_way_polygons", "linestring_coords", "positions", "ring_polygons",
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
    body = np.ones(buf.size, dtype=bool)
    body[(starts[:, None] + np.arange(9)).ravel()] = False
    return buf[body].view("<f8").reshape(-1, 2)


def positions(ptr: np.ndarray, ways: np.ndarray) -> np.ndarray:
    """The reference positions of ``ways`` (indices into ``ptr``), concatenated in order."""
    starts = ptr[ways]
    counts = ptr[ways + 1] - starts
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])


#: rings polygonised and checked at a time (bounds the temporary arrays and GEOS objects)
_RING_CHUNK = 1 << 16


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
    for lo in range(0, n, _RING_CHUNK):
        hi = min(n, lo + _RING_CHUNK)
        column, ok = _polygon_chunk(coords_of(lo, hi), counts[lo:hi])
        size = int(column.offsets[-1])
        out[at : at + size] = column.buf
        offsets.append(column.offsets[1:] + at)
        valid.append(ok)
        at += size
    return WkbColumn(out, np.concatenate(offsets)), np.concatenate(valid)


def _polygon_chunk(coords: np.ndarray, counts: np.ndarray) -> tuple[WkbColumn, np.ndarray]:
    """:func:`ring_polygons` for one chunk of rings (their coordinates, ``counts`` each)."""
    import shapely

    n = counts.shape[0]
    idx = np.repeat(np.arange(n), counts)
    keep = np.ones(coords.shape[0], dtype=bool)
    keep[1:] = (idx[1:] != idx[:-1]) | np.any(coords[1:] != coords[:-1], axis=1)
    coords, idx = np.ascontiguousarray(coords[keep]), idx[keep]
    points = np.bincount(idx, minlength=n)
    # record: multipolygon header (order, type 6, 1 polygon), polygon header (order, type 3,
    # 1 ring), point count, points
    header = np.zeros((n, 22), dtype=np.uint8)
    header[:, [0, 9]] = 1
    header[:, 1] = 6
    header[:, [5, 10, 14]] = [1, 3, 1]
    header[:, 18:22] = points.astype("<u4").view(np.uint8).reshape(n, 4)
    starts, sizes = _record_starts(points, 22)
    buf = np.empty(int(sizes.sum()), dtype=np.uint8)
    is_body = np.ones(buf.size, dtype=bool)
    is_body[(starts[:, None] + np.arange(22)).ravel()] = False
    buf[~is_body] = header.ravel()
    buf[is_body] = coords.astype("<f8").view(np.uint8).ravel()
    column = WkbColumn(buf, np.append(starts, buf.size))
    valid = points >= 4
    # most footprints are clearly convex (rectangles): valid without GEOS, whose parse and
    # is_valid were most of the read's polygon time; GEOS judges the rest
    candidates = np.flatnonzero(valid & ~_clearly_convex(coords, idx, points))
    valid[candidates] = shapely.is_valid(column.take(candidates).geometries())
    return column, valid


#: the sine of a turn below which a ring is left to GEOS: coordinate rounding moves a turn's
#: sine by ~1e-10 on a 1 m edge, so a turn sharper than this has the sign GEOS finds
_TURN_SINE = 1e-7


def _clearly_convex(coords: np.ndarray, idx: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per ring (closed, consecutive repeats dropped): whether it is a strictly convex ring
    turning once, hence a valid polygon shell (simple, non-zero area).

    Every turn must have the same sign with a sine of at least :data:`_TURN_SINE`, and the
    turns must add up to one full turn (a pentagram turns twice). Anything closer to the edge
    is answered False, to be checked by GEOS: this only saves work, it never decides a doubtful
    ring. Hand-written: shapely has no vectorised convexity test, and GEOS's ``is_valid``
    costs a parsed geometry per ring.
    """
    n = points.shape[0]
    out = np.zeros(n, dtype=bool)
    rings = points >= 4
    if not rings.any():
        return out
    pick = rings[idx]
    xy, ring = coords[pick], idx[pick]
    # edges within a ring; each ring of k points has k - 1 edges
    same = ring[1:] == ring[:-1]
    edge = (xy[1:] - xy[:-1])[same]
    edge_ring = ring[1:][same]
    counts = points[rings] - 1
    first = np.cumsum(counts) - counts
    nxt = np.arange(1, edge.shape[0] + 1)
    nxt[first + counts - 1] = first  # a ring's last edge turns into its first
    a, b = edge, edge[nxt]
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    # |sin| of the turn above _TURN_SINE, squared (no square roots)
    strong = cross * cross > _TURN_SINE**2 * np.einsum("ij,ij->i", a, a) * np.einsum(
        "ij,ij->i", b, b)
    left = np.bincount(edge_ring[strong & (cross > 0)], minlength=n)
    right = np.bincount(edge_ring[strong & (cross < 0)], minlength=n)
    # once round: with every turn the same way and under half a turn, the edge direction
    # passes angle 0 once per round; count those passes exactly from the half plane of each
    # direction (angle in [pi, 2 pi): below the x axis, or along it pointing left)
    lower = (edge[:, 1] < 0) | ((edge[:, 1] == 0) & (edge[:, 0] < 0))
    up = np.bincount(edge_ring[lower & ~lower[nxt]], minlength=n)
    down = np.bincount(edge_ring[~lower & lower[nxt]], minlength=n)
    edges = np.bincount(edge_ring, minlength=n)
    out[:] = rings & (((left == edges) & (up == 1)) | ((right == edges) & (down == 1)))
    return out
