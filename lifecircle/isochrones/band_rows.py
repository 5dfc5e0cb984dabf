"""Per-facility ring bands in one compiled pass over a batch of facilities.

:func:`.outline.single_tile_bands` traces each facility's nested levels; a ring band is its
level minus the level below, the edges two levels share dropped (:func:`.coverage.ring_band`),
its holes given to the smallest shell that holds them (:func:`.nesting.hole_owners`) and its
rings written closed in polygon order (:func:`.rings._grouped_rings`,
:func:`.rings._closed_xy`), as a city's bands are (:func:`.rings.iter_bands`). Here those
steps run for every facility and band of a batch in one kernel, which calls the same compiled
helpers and gives the same coordinates bit for bit; one ``shapely.from_ragged_array`` then
builds all the batch's MultiPolygons.

Hand-written as one pass because, done a facility and band at a time from Python (what this
replaced: four compiled calls and a dozen numpy calls each), the calls' fixed costs were a
seventh of a run's per-facility rows: with this pass a run's rows (10 m cells, three rings,
the walks to the street) took 0.87 -> 0.76 ms CPU a facility on the Nanjing extract and
0.93 -> 0.80 on Monaco, the same WKB.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import shapely

from .._kernels import compile_kernel, grown
from .coverage import _key, _mates, _next_prev, _ring_band, _turn, _xy
from .nesting import _owners, cell_members, inside_ring, ring_area2
from .rings import EMPTY, SNAP

__all__ = ["ring_rows"]


def _level(q_all: np.ndarray, ring_off: np.ndarray, ring_of_poly: np.ndarray,
           poly_of_group: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Group ``g``'s rings (vertices without each ring's closing one, sizes)."""
    r0 = ring_of_poly[poly_of_group[g]]
    r1 = ring_of_poly[poly_of_group[g + 1]]
    sizes = np.empty(r1 - r0, dtype=np.int64)
    n = 0
    for r in range(r0, r1):
        sizes[r - r0] = ring_off[r + 1] - 1 - ring_off[r]
        n += sizes[r - r0]
    q = np.empty((n, 2), dtype=np.int32)
    o = 0
    for r in range(r0, r1):
        for v in range(ring_off[r], ring_off[r + 1] - 1):
            q[o, 0] = q_all[v, 0]
            q[o, 1] = q_all[v, 1]
            o += 1
    return q, sizes


def _ring_rows_batch(q_all: np.ndarray, ring_off: np.ndarray, ring_of_poly: np.ndarray,
                     poly_of_group: np.ndarray, n: int, nb: int, ox: float, oy: float,
                     scale: float) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    """Every facility's ring bands ``1 .. nb - 1``: closed ring coordinates (x, y), vertices
    of each ring, rings of each polygon, polygons of each (facility, band)."""
    n_polys = np.zeros(n * (nb - 1), dtype=np.int64)
    xs = np.empty(1024, dtype=np.float64)
    ys = np.empty(1024, dtype=np.float64)
    ring_n = np.empty(64, dtype=np.int64)
    per_poly = np.empty(64, dtype=np.int64)
    nxy = 0
    nr = 0
    npp = 0
    for e in range(n):
        below_q, below_s = _level(q_all, ring_off, ring_of_poly, poly_of_group, e * nb)
        for b in range(1, nb):
            this_q, this_s = _level(q_all, ring_off, ring_of_poly, poly_of_group, e * nb + b)
            if below_q.shape[0] == 0:
                q, sizes = this_q, this_s
            else:
                q, sizes = _ring_band(this_q, this_s, below_q, below_s)
            below_q, below_s = this_q, this_s
            m = sizes.shape[0]
            if m == 0:
                continue
            # each ring's start and twice its signed area (as rings.signed_area2): holes run
            # clockwise
            starts = np.empty(m, dtype=np.int64)
            area = np.empty(m, dtype=np.float64)
            s = 0
            n_hole = 0
            for r in range(m):
                starts[r] = s
                area[r] = ring_area2(q, s, sizes[r])
                if area[r] < 0:
                    n_hole += 1
                s += sizes[r]
            shells = np.empty(m - n_hole, dtype=np.int64)
            holes = np.empty(n_hole, dtype=np.int64)
            i_s = 0
            i_h = 0
            for r in range(m):
                if area[r] < 0:
                    holes[i_h] = r
                    i_h += 1
                else:
                    shells[i_s] = r
                    i_s += 1
            owner = np.zeros(0, dtype=np.int64)
            if n_hole:
                owner = _owners(q, starts, sizes, shells, holes, area[shells])
            # each shell, then its holes in ring order (rings._grouped_rings); a hole no
            # shell holds is dropped
            for k in range(shells.shape[0]):
                cnt = 1
                for h in range(n_hole):
                    if owner[h] == k:
                        cnt += 1
                if npp == per_poly.shape[0]:
                    per_poly = grown(per_poly, npp, 2 * npp)
                per_poly[npp] = cnt
                npp += 1
                for t in range(-1, n_hole):
                    if t >= 0 and owner[t] != k:
                        continue
                    r = shells[k] if t < 0 else holes[t]
                    k_n = sizes[r]
                    if nxy + k_n + 1 > xs.shape[0]:
                        cap = max(2 * xs.shape[0], nxy + k_n + 1)
                        xs = grown(xs, nxy, cap)
                        ys = grown(ys, nxy, cap)
                    for k2 in range(k_n + 1):
                        v = starts[r] + k2 % k_n
                        xs[nxy] = ox + q[v, 0] * scale
                        ys[nxy] = oy + q[v, 1] * scale
                        nxy += 1
                    if nr == ring_n.shape[0]:
                        ring_n = grown(ring_n, nr, 2 * nr)
                    ring_n[nr] = k_n + 1
                    nr += 1
            n_polys[e * (nb - 1) + b - 1] = shells.shape[0]
    return xs[:nxy], ys[:nxy], ring_n[:nr], per_poly[:npp], n_polys


@cache
def _kernel() -> Any:
    return compile_kernel(_ring_rows_batch, _level, _ring_band, _next_prev, _key, _mates,
                          _turn, _xy, _owners, inside_ring, cell_members, ring_area2)


def ring_rows(polys: np.ndarray, q_all: np.ndarray, ring_off: np.ndarray,
              poly_rings: np.ndarray, group_polys: np.ndarray, origin: np.ndarray,
              cell: float) -> None:
    """``polys`` (the nested levels, ``(n, n_bands)``) made ring bands in place: each level
    minus the level below, from the outline kernel's rings (``q_all``, their closed
    vertices as int32 in ``1 / SNAP`` of a cell from cell (0, 0)'s centre, and its ragged
    offsets, ``poly_rings`` rings a polygon, ``group_polys`` polygons a facility and level),
    the edges two levels share dropped (:func:`.coverage.ring_band`), as a city's are
    (:func:`.rings.iter_bands`)."""
    n, nb = polys.shape
    ring_of_poly = np.r_[0, np.cumsum(poly_rings)]
    poly_of_group = np.r_[0, np.cumsum(group_polys)]
    xs, ys, ring_n, per_poly, n_polys = _kernel()(
        q_all, ring_off.astype(np.int64), ring_of_poly.astype(np.int64),
        poly_of_group.astype(np.int64), int(n), int(nb), float(origin[0]), float(origin[1]),
        cell / float(SNAP))
    polys[:, 1:] = EMPTY
    if ring_n.shape[0] == 0:
        return
    full = n_polys > 0
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON, np.column_stack((xs, ys)),
        (np.r_[0, np.cumsum(ring_n)], np.r_[0, np.cumsum(per_poly)],
         np.r_[0, np.cumsum(n_polys[full])]))
    e_of, b_of = np.divmod(np.flatnonzero(full), nb - 1)
    polys[e_of, b_of + 1] = geoms
