"""Snap the cell centres of a raster window to the streets, exactly as :func:`snap_points` does.

The snapping rules are those of :func:`lifecircle.snapping.snap_points` (nearest edge within
``max_snap_m``, fragments passed over, near-tied edges kept as alternatives, exact ties by edge
index); only the search differs. Cell centres form a regular grid, so instead of one nearest
query per centre (about 9 µs each through GEOS) every segment of the streets near a window
"splats" its exact point-to-segment distance onto the cells within ``max_snap_m`` of its
bounding box: the cost follows the street length times the cells a segment can reach, not
the number of cells.

Why hand-written (numba): no library computes the distance of every cell of a grid to a set of
segments with the identity of the nearest one and the position along it; GEOS answers one
point at a time. The arithmetic copies GEOS's (``Distance::pointToSegment`` for the leg,
``LengthIndexOfPoint`` for the position: the first segment at the least distance, the
projection clamped to it), so the results agree with :func:`snap_points` to the last bits.

Compilation is lazy (:func:`lifecircle._kernels.compile_kernel`): importing this module does
not import numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

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
    rank_candidates,
)

__all__ = ["snap_cells"]


def _seg_dist(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from (px, py) to segment a-b, with GEOS's ``Distance::pointToSegment``
    arithmetic."""
    if ax == bx and ay == by:
        return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    if r <= 0.0:
        return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    if r >= 1.0:
        return math.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    s = ((ay - py) * dx - (ax - px) * dy) / len2
    return abs(s) * math.sqrt(len2)


def _seg_measure(px: float, py: float, ax: float, ay: float, bx: float, by: float,
                 start: float, seg_len: float) -> float:
    """Length along the line to the point of segment a-b nearest (px, py), ``start`` being the
    length up to a (GEOS's ``LengthIndexOfPoint::segmentNearestMeasure``)."""
    if px == ax and py == ay:
        return start
    if px == bx and py == by:
        return start + seg_len
    dx = bx - ax
    dy = by - ay
    f = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)
    if f <= 0.0:
        return start
    if f <= 1.0:
        return start + f * seg_len
    return start + seg_len


def _cell_range(lo: float, hi: float, origin: float, cell: float, off: int, n: int,
                up: bool) -> tuple[int, int]:
    """Window-local indices [first, last] of the cells whose centre may lie in [lo, hi]
    (columns from ``origin`` eastwards, or rows southwards when ``up``), clipped to ``n``."""
    if up:
        a = math.floor((origin - hi) / cell - 0.5) - off
        b = math.ceil((origin - lo) / cell - 0.5) - off
    else:
        a = math.floor((lo - origin) / cell - 0.5) - off
        b = math.ceil((hi - origin) / cell - 0.5) - off
    return max(a, 0), min(b, n - 1)


def _snap_window(
    coords: np.ndarray, ptr: np.ndarray, edges: np.ndarray, frag: np.ndarray,
    x0: float, y0: float, cell: float, row0: int, col0: int, h: int, w: int, lim: float,
    tie_rel: float, tie_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate snaps of the ``h`` x ``w`` cell centres of a window; the numba kernel.

    ``coords``/``ptr``: every edge's vertices (``WalkNetwork.edge_coords``/``edge_ptr``);
    ``edges``: the edges that may lie within ``lim`` of the window; ``frag``: per edge,
    whether it lies in a fragment. First pass: each cell's least distance to a main edge and
    to any edge; second pass: every eligible edge within the cell's tie reach (as in
    :func:`snap_points`), with its distance and position along its geometry (a fraction).

    Returns
    -------
    cell, edge, dist, frac, passed
        The candidates (window-local row-major cell index, edge, leg, fraction) and, per cell,
        whether a fragment was passed over.
    """
    n = h * w
    d_main = np.full(n, np.inf)
    d_all = np.full(n, np.inf)
    reach = np.full(n, -1.0)
    any_edge = np.zeros(n, dtype=np.bool_)
    passed = np.zeros(n, dtype=np.bool_)
    best = np.full(n, np.inf)
    meas = np.zeros(n)
    touched = np.empty(n, dtype=np.int64)
    cap = 1024
    out_c = np.empty(cap, dtype=np.int64)
    out_e = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap)
    out_f = np.empty(cap)
    n_out = 0
    pad = lim + tie_m  # a cell's tie reach may pass lim by tie_m
    for pass_no in range(2):
        if pass_no == 1:
            for i in range(n):
                if d_main[i] <= lim:
                    near = d_main[i]
                    passed[i] = d_all[i] < d_main[i]
                elif d_all[i] <= lim:
                    near = d_all[i]
                    any_edge[i] = True
                else:
                    continue
                reach[i] = max(min(near * (1.0 + tie_rel), lim), near + tie_m)
        for k in range(edges.shape[0]):
            e = edges[k]
            is_frag = frag[e]
            n_touched = 0
            start = 0.0
            for j in range(ptr[e], ptr[e + 1] - 1):
                ax, ay = coords[j, 0], coords[j, 1]
                bx, by = coords[j + 1, 0], coords[j + 1, 1]
                seg_len = math.sqrt((ax - bx) * (ax - bx) + (ay - by) * (ay - by))
                c_lo, c_hi = _cell_range(min(ax, bx) - pad, max(ax, bx) + pad, x0, cell,
                                         col0, w, False)
                r_lo, r_hi = _cell_range(min(ay, by) - pad, max(ay, by) + pad, y0, cell,
                                         row0, h, True)
                for r in range(r_lo, r_hi + 1):
                    py = y0 - (float(row0 + r) + 0.5) * cell
                    for c in range(c_lo, c_hi + 1):
                        px = x0 + (float(col0 + c) + 0.5) * cell
                        i = r * w + c
                        if pass_no == 0:
                            d = _seg_dist(px, py, ax, ay, bx, by)
                            if d < d_all[i]:
                                d_all[i] = d
                            if not is_frag and d < d_main[i]:
                                d_main[i] = d
                            continue
                        if reach[i] < 0.0 or (is_frag and not any_edge[i]):
                            continue
                        d = _seg_dist(px, py, ax, ay, bx, by)
                        if d <= reach[i]:  # a farther segment is not the edge's nearest
                            if best[i] == np.inf:
                                touched[n_touched] = i
                                n_touched += 1
                            if d < best[i]:  # the first segment at the least distance
                                best[i] = d
                                meas[i] = _seg_measure(px, py, ax, ay, bx, by, start, seg_len)
                start += seg_len
            if pass_no == 0:
                continue
            for t in range(n_touched):
                i = touched[t]
                if best[i] <= reach[i]:
                    if n_out == cap:
                        cap *= 2
                        out_c = grown(out_c, n_out, cap)
                        out_e = grown(out_e, n_out, cap)
                        out_d = grown(out_d, n_out, cap)
                        out_f = grown(out_f, n_out, cap)
                    out_c[n_out] = i
                    out_e[n_out] = e
                    out_d[n_out] = best[i]
                    out_f[n_out] = meas[i] / start if start > 0.0 else np.nan
                    n_out += 1
                best[i] = np.inf
    return out_c[:n_out].copy(), out_e[:n_out].copy(), out_d[:n_out].copy(), \
        out_f[:n_out].copy(), passed


@cache
def _kernel() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                     np.ndarray]]:
    """:func:`_snap_window` compiled by numba (or loaded from its cache) on first use."""
    return compile_kernel(_snap_window, _seg_dist, _seg_measure, _cell_range)


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
    coords = np.ascontiguousarray(net.edge_coords[:, :2], dtype=np.float64)
    p_c, f_c, d_c, frac, passed = _kernel()(
        coords, np.asarray(net.edge_ptr, dtype=np.int64),
        np.ascontiguousarray(np.sort(edges), dtype=np.int64), _fragment_edges(net),
        float(x0), float(y0), float(cell_m), int(row0), int(col0), int(height), int(width),
        float(max_snap_m), TIE_REL, _TIE_M)
    p_c, f_c, d_c, a_c, primary, alt = rank_candidates(net, n, p_c, f_c, d_c, frac)
    edge = np.full(n, -1, dtype=np.int64)
    along = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    status = np.full(n, f"unreachable: no walkable edge within {max_snap_m:g} m", dtype=object)
    hit = p_c[primary]
    edge[hit], along[hit], dist[hit] = f_c[primary], a_c[primary], d_c[primary]
    status[hit] = SNAPPED
    rule = np.full(n, None, dtype=object)
    rule[hit] = np.where(passed[hit], RULE_PAST_FRAGMENT, RULE_NEAREST)
    return Snap(edge, along, dist, status, rule=rule,
                alt=AltSnaps(p_c[alt], f_c[alt], a_c[alt], d_c[alt]))
