"""Snap the cell centres of a raster window to the streets, exactly as :func:`snap_points` does.

The snapping rules are those of :func:`lifecircle.snapping.snap_points` (nearest edge within
``max_snap_m``, fragments passed over, near-tied edges kept as alternatives, exact ties by edge
index); only the search differs. Cell centres form a regular grid, so instead of one nearest
query per centre (about 9 µs each through GEOS) the segments of the streets near a window are
listed in buckets of the window's own cells, and each cell scans the buckets ring by ring
around it until no unscanned segment can be nearer than the nearest found (then on out to its
tie reach, for the alternatives, reading the distances it measured again). A cell by a street
stops after a ring or two; a cell far from every street skips its empty rings at once (a
summed-area table of the buckets).

Why hand-written (numba): no library computes the distance of every cell of a grid to a set of
segments with the identity of the nearest one and the position along it; GEOS answers one
point at a time. The arithmetic copies GEOS's (``Distance::pointToSegment`` for the leg:
:func:`lifecircle._edge_grid.seg_dist`; ``LengthIndexOfPoint`` for the position: the first
segment at the least distance, the projection clamped to it), so the results agree with
:func:`snap_points` to the last bits.

Compilation is lazy (:func:`lifecircle._kernels.compile_kernel`): importing this module does
not import numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .._edge_grid import seg_dist, seg_measure
from .._kernels import compile_kernel, grown
from ..network import WalkNetwork
from ..snapping import (
    _TIE_M,
    RULE_NEAREST,
    RULE_PAST_FRAGMENT,
    SNAPPED,
    TIE_REL,
    AltSnaps,
    Snap,
    _fragment_edges,
)

__all__ = ["CellCandidates", "cell_candidates", "snap_cells"]


def _bucket(v: float, origin: float, cell: float, off: int, n: int, south: bool) -> int:
    """Index of the bucket (a cell of the window's bucket grid, ``n`` of them, the first
    ``off`` cells before the grid's index 0) holding coordinate ``v``, clipped to [0, n)."""
    k = math.floor((origin - v) / cell if south else (v - origin) / cell) + off
    return min(max(k, 0), n - 1)


def _square_count(sat: np.ndarray, r: int, c: int, k: int) -> int:
    """Number of (bucket, segment) entries in the buckets within ``k`` rings of (r, c), from
    the summed-area table ``sat``."""
    return int(sat[r + k + 1, c + k + 1] - sat[r - k, c + k + 1] - sat[r + k + 1, c - k]
               + sat[r - k, c - k])


def _ring(r: int, c: int, k: int, bw: int, out: np.ndarray) -> int:
    """Write into ``out`` the buckets of ring ``k`` around bucket (r, c) of a grid ``bw``
    buckets wide (the bucket itself for k = 0); their number."""
    n = 0
    for rr in range(r - k, r + k + 1):
        step = 1 if rr == r - k or rr == r + k else 2 * k
        for cc in range(c - k, c + k + 1, max(step, 1)):
            out[n] = rr * bw + cc
            n += 1
    return n


def _measure_ring(
    px: float, py: float, r: int, c: int, k: int, bw: int, ring: np.ndarray,
    b_ptr: np.ndarray, b_seg: np.ndarray, seen: np.ndarray, here: int, seg_j: np.ndarray,
    coords: np.ndarray, rec_s: np.ndarray, rec_d: np.ndarray, n_rec: int,
) -> int:
    """Measure the segments of ring ``k`` around bucket (r, c) that cell ``here`` has not
    measured yet (``seen``: the last cell that measured each segment); append them and their
    distances from (px, py) to the records ``rec_s``, ``rec_d`` (room for every segment);
    the new number of records."""
    for t in range(_ring(r, c, k, bw, ring)):
        for q in range(b_ptr[ring[t]], b_ptr[ring[t] + 1]):
            s = b_seg[q]
            if seen[s] == here:
                continue
            seen[s] = here
            j = seg_j[s]
            rec_s[n_rec] = s
            rec_d[n_rec] = seg_dist(px, py, coords[j, 0], coords[j, 1], coords[j + 1, 0],
                                     coords[j + 1, 1])
            n_rec += 1
    return n_rec


def _rank_touched(touched: np.ndarray, n: int, leg: np.ndarray, edges: np.ndarray,
                  tie_m: float) -> None:
    """Order a cell's candidate edges ``touched[:n]`` (legs ``leg[e]``) as
    :func:`~lifecircle.snapping.rank_candidates` orders a point's: the exact ties of the least
    leg (within ``tie_m``) first, then by leg; equal keys by edge index (``edges[e]``). An
    insertion sort: a cell has a few candidates."""
    best = np.inf
    for t in range(n):
        best = min(best, leg[touched[t]])
    for t in range(1, n):
        e = touched[t]
        key = 0.0 if leg[e] <= best + tie_m else leg[e]
        i = t
        while i > 0:
            p = touched[i - 1]
            p_key = 0.0 if leg[p] <= best + tie_m else leg[p]
            if p_key < key or (p_key == key and edges[p] < edges[e]):
                break
            touched[i] = p
            i -= 1
        touched[i] = e


def _snap_window(
    coords: np.ndarray, ptr: np.ndarray, edges: np.ndarray, frag: np.ndarray,
    length: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray,
    x0: float, y0: float, cell: float, row0: int, col0: int, h: int, w: int, lim: float,
    tie_rel: float, tie_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate snaps of the ``h`` x ``w`` cell centres of a window; the numba kernel.

    ``coords``/``ptr``: every edge's vertices (``WalkNetwork.edge_coords``/``edge_ptr``);
    ``edges``: the edges that may lie within ``lim`` of the window; ``frag``: per edge,
    whether it lies in a fragment; ``length``, ``edge_u``, ``edge_v``: every edge's walking
    length and end nodes.

    The segments of ``edges`` are listed in buckets, one per cell of the window plus ``pad``
    cells around it, every bucket its bounding box overlaps. Each cell then scans the buckets
    ring by ring around its own: after ring k, no unscanned segment is nearer than
    (k + 1/2) cells (a quarter cell is kept as margin against rounding), so the scan stops as
    soon as the nearest main edge is nearer than that, or beyond ``lim``. A second scan out
    to the cell's tie reach (as in :func:`snap_points`) lists every eligible edge within it,
    with its distance and position along it: the segments the first scan measured (each
    once), then those of any further rings. A cell's candidates are then ranked and pruned as
    :func:`~lifecircle.snapping.rank_candidates` does it for :func:`snap_points` (the primary
    first; alternatives that project onto an end node an earlier snap reaches dropped), so
    no sort of the window's candidates is needed.

    Returns
    -------
    cell, edge, dist, along, passed
        The candidates kept (window-local row-major cell index, edge, leg, metres along the
        edge's walking length), each cell's primary first, and per cell whether a fragment
        was passed over.
    """
    pad = lim + tie_m  # a cell's tie reach may pass lim by tie_m
    n_pad = math.ceil(pad / cell) + 1
    bh = h + 2 * n_pad
    bw = w + 2 * n_pad
    n_e = edges.shape[0]
    # the segments, their edge (local index) and the length of their line before them
    n_seg = 0
    for k in range(n_e):
        n_seg += ptr[edges[k] + 1] - ptr[edges[k]] - 1
    seg_j = np.empty(n_seg, dtype=np.int64)
    seg_e = np.empty(n_seg, dtype=np.int64)
    seg_start = np.empty(n_seg)
    seg_len = np.empty(n_seg)
    e_len = np.empty(n_e)
    s = 0
    for k in range(n_e):
        start = 0.0
        for j in range(ptr[edges[k]], ptr[edges[k] + 1] - 1):
            dx = coords[j, 0] - coords[j + 1, 0]
            dy = coords[j, 1] - coords[j + 1, 1]
            seg_j[s] = j
            seg_e[s] = k
            seg_start[s] = start
            seg_len[s] = math.sqrt(dx * dx + dy * dy)
            start += seg_len[s]
            s += 1
        e_len[k] = start
    # buckets: CSR of the segments overlapping each (counted, then filled)
    b_ptr = np.zeros(bh * bw + 1, dtype=np.int64)
    b_seg = np.empty(0, dtype=np.int64)
    fill = np.empty(0, dtype=np.int64)
    for p in range(2):
        if p == 1:
            b_ptr = np.cumsum(b_ptr)
            b_seg = np.empty(b_ptr[bh * bw], dtype=np.int64)
            fill = b_ptr[:-1].copy()
        for s in range(n_seg):
            j = seg_j[s]
            ax, ay, bx, by = coords[j, 0], coords[j, 1], coords[j + 1, 0], coords[j + 1, 1]
            c_lo = _bucket(min(ax, bx), x0, cell, n_pad - col0, bw, False)
            c_hi = _bucket(max(ax, bx), x0, cell, n_pad - col0, bw, False)
            r_lo = _bucket(max(ay, by), y0, cell, n_pad - row0, bh, True)
            r_hi = _bucket(min(ay, by), y0, cell, n_pad - row0, bh, True)
            for r in range(r_lo, r_hi + 1):
                for c in range(c_lo, c_hi + 1):
                    if p == 0:
                        b_ptr[r * bw + c + 1] += 1
                    else:
                        b_seg[fill[r * bw + c]] = s
                        fill[r * bw + c] += 1
    # summed counts of the buckets, so that a cell skips the empty rings around it in O(1)
    sat = np.zeros((bh + 1, bw + 1), dtype=np.int64)
    for r in range(bh):
        for c in range(bw):
            sat[r + 1, c + 1] = (sat[r, c + 1] + sat[r + 1, c] - sat[r, c]
                                 + b_ptr[r * bw + c + 1] - b_ptr[r * bw + c])
    n = h * w
    ring = np.empty(8 * n_pad + 1, dtype=np.int64)
    passed = np.zeros(n, dtype=np.bool_)
    e_best = np.full(n_e, np.inf)
    e_j = np.zeros(n_e, dtype=np.int64)
    e_meas = np.zeros(n_e)
    touched = np.empty(n_e, dtype=np.int64)
    cell_nodes = np.empty(n_e, dtype=np.int64)
    # the segments a cell measured (each once: ``seen`` holds the last cell that measured a
    # segment), which its second scan reads again instead of measuring them anew
    seen = np.full(n_seg, -1, dtype=np.int64)
    rec_s = np.empty(n_seg, dtype=np.int64)
    rec_d = np.empty(n_seg)
    cap = 1024
    out_c = np.empty(cap, dtype=np.int64)
    out_e = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap)
    out_f = np.empty(cap)
    n_out = 0
    for r in range(h):
        py = y0 - (float(row0 + r) + 0.5) * cell
        for c in range(w):
            px = x0 + (float(col0 + c) + 0.5) * cell
            here = r * w + c
            # first scan: the nearest main edge and the nearest edge
            d_main = np.inf
            d_all = np.inf
            k = 0  # the first ring with a segment in or inside it
            while k < n_pad and _square_count(sat, r + n_pad, c + n_pad, k) == 0:
                k += 1
            if k == n_pad:
                continue  # no segment within the buckets' reach
            n_rec = 0
            while True:
                start = n_rec
                n_rec = _measure_ring(
                    px, py, r + n_pad, c + n_pad, k, bw, ring, b_ptr, b_seg, seen, here, seg_j,
                    coords, rec_s, rec_d, n_rec)
                for t in range(start, n_rec):
                    d = rec_d[t]
                    if d < d_all:
                        d_all = d
                    if d < d_main and not frag[edges[seg_e[rec_s[t]]]]:
                        d_main = d
                bound = (k + 0.25) * cell
                if d_main < bound or bound > pad:
                    break
                k += 1
            if d_main <= lim:
                near = d_main
                any_edge = False
                passed[here] = d_all < d_main
            elif d_all <= lim:
                near = d_all
                any_edge = True
            else:
                continue
            reach = max(min(near * (1.0 + tie_rel), lim), near + tie_m)
            # second scan: every eligible edge within reach: the segments measured, then
            # those of the further rings up to the reach (after ring k, no unscanned segment
            # is nearer than (k + 1/2) cells)
            n_touched = 0
            t = 0
            while True:
                while t < n_rec:
                    s = rec_s[t]
                    d = rec_d[t]
                    t += 1
                    e = seg_e[s]
                    if d > reach or (frag[edges[e]] and not any_edge):
                        continue
                    if e_best[e] == np.inf:
                        touched[n_touched] = e
                        n_touched += 1
                    # the first segment at the least distance, as GEOS picks it
                    j = seg_j[s]
                    if d < e_best[e] or (d == e_best[e] and j < e_j[e]):
                        e_best[e] = d
                        e_j[e] = j
                        e_meas[e] = seg_measure(px, py, coords[j, 0], coords[j, 1],
                                                 coords[j + 1, 0], coords[j + 1, 1],
                                                 seg_start[s], seg_len[s])
                if (k + 0.25) * cell > reach:
                    break
                k += 1
                n_rec = _measure_ring(
                    px, py, r + n_pad, c + n_pad, k, bw, ring, b_ptr, b_seg, seen, here, seg_j,
                    coords, rec_s, rec_d, n_rec)
            _rank_touched(touched, n_touched, e_best, edges, tie_m)
            n_nodes = 0
            for t in range(n_touched):
                e = touched[t]
                d = e_best[e]
                e_best[e] = np.inf
                g = edges[e]
                # the fraction along the geometry, clipped (a zero-length line: its start),
                # and the walking length's share of it
                frac = e_meas[e] / e_len[e] if e_len[e] > 0.0 else 0.0
                frac = min(max(frac, 0.0), 1.0)
                node = edge_u[g] if frac <= 0.0 else (edge_v[g] if frac >= 1.0 else -1)
                if node >= 0:
                    # an alternative projecting onto an end node an earlier snap of the cell
                    # already reaches adds nothing
                    dup = False
                    for i in range(n_nodes):
                        dup = dup or cell_nodes[i] == node
                    if dup:
                        continue
                    cell_nodes[n_nodes] = node
                    n_nodes += 1
                if n_out == cap:
                    cap *= 2
                    out_c = grown(out_c, n_out, cap)
                    out_e = grown(out_e, n_out, cap)
                    out_d = grown(out_d, n_out, cap)
                    out_f = grown(out_f, n_out, cap)
                out_c[n_out] = here
                out_e[n_out] = g
                out_d[n_out] = d
                out_f[n_out] = frac * length[g]
                n_out += 1
    return out_c[:n_out].copy(), out_e[:n_out].copy(), out_d[:n_out].copy(), \
        out_f[:n_out].copy(), passed


@cache
def _kernel() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                     np.ndarray]]:
    """:func:`_snap_window` compiled by numba (or loaded from its cache) on first use."""
    return compile_kernel(_snap_window, seg_dist, seg_measure, _bucket, _square_count,
                          _ring, _measure_ring, _rank_touched)


@dataclass(frozen=True)
class CellCandidates:
    """Every snap of a window's cells (primaries and alternatives, as :func:`snap_cells`
    keeps them), flat: cell ``cell[k]`` (window-local, row-major) may start on ``edge[k]``
    at ``along_m[k]`` with leg ``dist_m[k]``; ``primary`` marks each snapped cell's primary
    and ``passed`` per cell whether a fragment was passed over."""

    cell: np.ndarray
    edge: np.ndarray
    along_m: np.ndarray
    dist_m: np.ndarray
    primary: np.ndarray
    passed: np.ndarray


def cell_candidates(
    net: WalkNetwork, edges: np.ndarray, *, x0: float, y0: float, cell_m: float, row0: int,
    col0: int, height: int, width: int, max_snap_m: float,
) -> CellCandidates:
    """The candidate snaps of a window's cell centres (the parameters of :func:`snap_cells`),
    ranked and pruned as :func:`~lifecircle.snapping.rank_candidates` does it, without a
    :class:`Snap` per cell: what the rasters' times need."""
    coords = np.ascontiguousarray(net.edge_coords[:, :2], dtype=np.float64)
    p_c, f_c, d_c, a_c, passed = _kernel()(
        coords, np.asarray(net.edge_ptr, dtype=np.int64),
        np.ascontiguousarray(np.sort(edges), dtype=np.int64), _fragment_edges(net),
        np.ascontiguousarray(net.edge_length_m, dtype=np.float64),
        np.ascontiguousarray(net.edge_u), np.ascontiguousarray(net.edge_v),
        float(x0), float(y0), float(cell_m), int(row0), int(col0), int(height), int(width),
        float(max_snap_m), TIE_REL, _TIE_M)
    primary = np.ones(p_c.shape[0], dtype=bool)
    primary[1:] = p_c[1:] != p_c[:-1]
    return CellCandidates(p_c, f_c, a_c, d_c, primary, passed)


def snap_cells(
    net: WalkNetwork, edges: np.ndarray, *, x0: float, y0: float, cell_m: float, row0: int,
    col0: int, height: int, width: int, max_snap_m: float,
) -> Snap:
    """The snapping of a window's cell centres (row-major), as :func:`snap_points` gives it.

    Parameters
    ----------
    net
        The walking network.
    edges
        Indices of the edges that may lie within ``max_snap_m`` of the window (a superset).
    x0, y0, cell_m
        The grid's top-left corner and cell size; centre (r, c) is at
        ``(x0 + (c + 0.5) * cell_m, y0 - (r + 0.5) * cell_m)``.
    row0, col0, height, width
        The window in the grid.
    max_snap_m
        Cells farther than this from every edge are left unsnapped.

    Returns
    -------
    Snap
        Primary snaps and alternatives; unsnapped cells say so in ``status``.
    """
    n = height * width
    cand = cell_candidates(net, edges, x0=x0, y0=y0, cell_m=cell_m, row0=row0, col0=col0,
                           height=height, width=width, max_snap_m=max_snap_m)
    primary, alt = cand.primary, ~cand.primary
    edge = np.full(n, -1, dtype=np.int64)
    along = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    status = np.full(n, f"unreachable: no walkable edge within {max_snap_m:g} m", dtype=object)
    hit = cand.cell[primary]
    edge[hit], along[hit], dist[hit] = cand.edge[primary], cand.along_m[primary], \
        cand.dist_m[primary]
    status[hit] = SNAPPED
    rule = np.full(n, None, dtype=object)
    rule[hit] = np.where(cand.passed[hit], RULE_PAST_FRAGMENT, RULE_NEAREST)
    return Snap(edge, along, dist, status, rule=rule,
                alt=AltSnaps(cand.cell[alt], cand.edge[alt], cand.along_m[alt],
                             cand.dist_m[alt]))
