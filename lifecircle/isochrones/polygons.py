"""Polygons from reached stretches: rasterised outlines (marching squares) or round buffers.

- ``method="raster"`` (default): cells of a 5 m grid (10 m for a city, see
  :func:`.bands.auto_cell_m`) whose centres lie near a reached segment, outlined by
  marching squares (:mod:`.rings`) and simplified on the grid (:mod:`.simplify`, within a
  cell's diagonal of the traced outline); nothing farther than ``walk_in_m`` from the
  reached streets is in, everything reached is (see :func:`_raster_bands`). A grid
  that fits one tile (every per-facility isochrone) is outlined by :mod:`.outline` in one
  compiled pass per batch: 0.6-0.86 ms CPU per 15-minute isochrone at 5 m cells and 0.38 ms
  at a run's 10 m on the tiled million-node graph (shared 2-core machine), tens of times
  cheaper than the ego-graph and buffer-union recipe (``scripts/benchmark.py facilities``).
  A city-wide grid is outlined in tiles of :data:`TILE_CELLS` cells linked edge to edge
  (:func:`_entity_tiles`, :mod:`.rings`), so its memory follows the tile, not the city
  (``scripts/benchmark.py cityscale``).
- ``method="vector"``: exact round buffers of every stretch and ``shapely.union_all``, several
  times slower.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np
import shapely

from .._errors import ConfigError
from .._kernels import compile_kernel
from ..network import WalkNetwork
from ..snapping import Snap
from .cut import cut_pieces
from .nesting import cell_members
from .outline import single_tile_bands
from .rings import EMPTY, TileRings, bands_from_tiles, iter_bands, tile_rings
from .search import Pieces, unrepeated
from .stamp import grid_segments, stamp_tile_kernel
from .trace import tile_grid
from .wkb import Wkb

__all__ = ["QUAD_SEGS", "band_polygons", "default_cell_m", "iter_band_polygons", "pieces_lines"]

#: Segments per quarter circle of round caps and joins (shapely's default). Fewer saves little
#: time here (the noding of overlapping buffers dominates) and makes caps visibly angular.
QUAD_SEGS = 8


@cache
def _stamp_kernel() -> Any:
    """The definition of the stamped cells, cell by cell (the reference the faster row runs of
    :func:`.stamp.stamp_kernel`, which stamp the grids, are tested against)."""
    from numba import njit

    @njit(cache=True, nogil=True)
    def stamp(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
              band: np.ndarray, reach: float,
              label: np.ndarray) -> None:  # pragma: no cover - compiled
        # Segments in cell units (cell (j, i) has its centre at (i + 0.5, j + 0.5)). Every cell
        # whose centre lies within ``reach`` of a segment of band k gets min(label, k);
        # ``label`` starts at n_bands (= not reached).
        height, width = label.shape
        r2 = reach * reach
        for s in range(ax.shape[0]):
            k = band[s]
            x1 = ax[s]
            y1 = ay[s]
            dx = bx[s] - x1
            dy = by[s] - y1
            dd = dx * dx + dy * dy
            i_lo = max(int(np.floor(min(x1, x1 + dx) - reach - 0.5)), 0)
            i_hi = min(int(np.ceil(max(x1, x1 + dx) + reach)), width - 1)
            j_lo = max(int(np.floor(min(y1, y1 + dy) - reach - 0.5)), 0)
            j_hi = min(int(np.ceil(max(y1, y1 + dy) + reach)), height - 1)
            for j in range(j_lo, j_hi + 1):
                cy = j + 0.5 - y1
                for i in range(i_lo, i_hi + 1):
                    if label[j, i] <= k:
                        continue  # a nearer or equal band holds the cell already
                    cx = i + 0.5 - x1
                    u = (cx * dx + cy * dy) / dd if dd > 0 else 0.0
                    u = min(max(u, 0.0), 1.0)
                    ex = cx - u * dx
                    ey = cy - u * dy
                    if ex * ex + ey * ey <= r2:
                        label[j, i] = k

    return stamp


def _vertex_offsets(net: WalkNetwork) -> np.ndarray:
    """Projected distance of every edge vertex from its edge's start (cached on the network)."""
    cached = net.__dict__.get("_vertex_offsets")
    if cached is not None:
        return cached
    xy = net.edge_coords
    seg = np.zeros(xy.shape[0])
    if xy.shape[0] > 1:
        seg[1:] = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    seg[net.edge_ptr[:-1]] = 0.0  # no segment between one edge's end and the next's start
    cum = np.cumsum(seg)
    offsets = cum - np.repeat(cum[net.edge_ptr[:-1]], np.diff(net.edge_ptr))
    net.__dict__["_vertex_offsets"] = offsets
    return offsets


def coords_box(net: WalkNetwork) -> tuple[float, float, float, float]:
    """Smallest x and y, then largest, of the edge geometry (cached on the network: at a
    million nodes the scan costs more than a batch of per-facility outlines' own set-up, and
    a run asks it for every category)."""
    cached = net.__dict__.get("_coords_box")
    if cached is None:
        xy = net.edge_coords
        lo = xy.min(axis=0)
        hi = xy.max(axis=0)
        cached = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        net.__dict__["_coords_box"] = cached
    return cached


def _points_at(net: WalkNetwork, edge: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Coordinates at projected distance ``pos`` along ``edge`` (clipped to the edge)."""
    off = _vertex_offsets(net)
    first = net.edge_ptr[edge]
    last = net.edge_ptr[edge + 1] - 1
    # the segment holding pos starts at the edge's last vertex at or before it
    j = np.clip(_bisect(off, first + 1, last, pos, strict=False) - 1, first, last - 1)
    seg_len = off[j + 1] - off[j]
    t = np.where(seg_len > 0, (pos - off[j]) / np.where(seg_len > 0, seg_len, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    xy = net.edge_coords
    return xy[j] * (1.0 - t) + xy[j + 1] * t


def pieces_lines(net: WalkNetwork, pieces: Pieces) -> np.ndarray:
    """The reached stretches as linestrings (shapely array), cut from the edge geometry.

    A whole edge keeps its geometry exactly; a cut piece runs from the interpolated start
    through the edge's vertices strictly between its ends to the interpolated end.
    """
    coords, line = _pieces_coords(net, pieces)
    if coords.shape[0] == 0:
        return np.empty(0, dtype=object)
    return shapely.linestrings(coords, indices=line)


def _pieces_coords(net: WalkNetwork, pieces: Pieces) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of every piece and the piece each belongs to (see :func:`pieces_lines`).

    One compiled pass over all pieces (:mod:`.cut`; ``shapely.ops.substring`` works one line
    at a time).
    """
    if pieces.edge.shape[0] == 0:
        return np.empty((0, 2)), np.zeros(0, np.int64)
    return cut_pieces(pieces.edge, pieces.start_m, pieces.end_m, net.edge_ptr,
                      net.edge_length_m, _vertex_offsets(net), net.edge_coords)


def _bisect(off: np.ndarray, lo: np.ndarray, hi: np.ndarray, pos: np.ndarray, *,
            strict: bool) -> np.ndarray:
    """Vectorised bisection within ``[lo, hi)`` of each row: the first index whose offset is
    ``> pos`` (``>= pos`` when ``strict``); ``hi`` when none is."""
    lo = lo.copy()
    hi = hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        val = off[np.where(active, mid, 0)]
        go_right = active & ((val < pos) if strict else (val <= pos))
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)


def _legs(
    net: WalkNetwork,
    sources: Snap,
    fx: np.ndarray,
    fy: np.ndarray,
    source_entity: np.ndarray,
    budgets_m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Off-network legs (facility point towards its snapped point, as far as the budget
    goes) as two-point lines: (coords, group of each coordinate)."""
    sources, owner = sources.candidates()  # a leg to each snap of a facility
    fx, fy, source_entity = fx[owner], fy[owner], source_entity[owner]
    ok = np.flatnonzero(sources.ok & (sources.dist_m > 0))
    if ok.size == 0:
        return np.empty((0, 2)), np.zeros(0, np.int64)
    e = sources.edge[ok]
    length = net.edge_length_m[e]
    plen = _vertex_offsets(net)[net.edge_ptr[e + 1] - 1]
    scale = np.where(length > 0, plen / np.where(length > 0, length, 1.0), 0.0)
    on = _points_at(net, e, sources.along_m[ok] * scale)
    nb = budgets_m.shape[0]
    share = np.clip(budgets_m[None, :] / sources.dist_m[ok][:, None], 0.0, 1.0)
    grp = source_entity[ok][:, None] * nb + np.arange(nb)[None, :]
    p0 = np.column_stack([fx[ok], fy[ok]])
    keep = share > 0
    r = np.nonzero(keep)[0]
    s = share[keep][:, None]
    end = p0[r] * (1 - s) + on[r] * s
    coords = np.empty((2 * r.shape[0], 2))
    coords[0::2] = p0[r]
    coords[1::2] = end
    return coords, np.repeat(grp[keep], 2)


def _grouped(lines: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines sorted by group, and each present group's slice of them: (lines, groups, ptr)."""
    order = np.argsort(group, kind="stable")
    lines, group = lines[order], group[order]
    present, start = np.unique(group, return_index=True)
    ptr = np.append(start, group.shape[0])
    return lines, present, ptr


def _vector_bands(lines: np.ndarray, group: np.ndarray, n_entities: int, n_bands: int,
                  walk_in_m: float, cumulative: bool) -> np.ndarray:
    """Exact buffers: each line buffered, then ``union_all`` per group.

    Buffering the lines one by one and unioning them measured 6-15x faster on the shared
    Nanjing and Monaco extracts than buffering one MultiLineString per group (GEOS then nodes
    every offset curve against every other) and than ``union_all`` of the lines followed by
    one buffer.
    """
    n_groups = n_entities * n_bands
    cum = np.array([shapely.Polygon() for _ in range(n_groups)], dtype=object)
    if lines.shape[0]:
        lines, present, ptr = _grouped(lines, group)
        buffers = shapely.buffer(lines, walk_in_m, quad_segs=QUAD_SEGS)
        for g, lo, hi in zip(present, ptr[:-1], ptr[1:], strict=True):
            cum[g] = shapely.union_all(buffers[lo:hi])
    cum = cum.reshape(n_entities, n_bands)
    # union with the previous band: nesting holds exactly, not only up to the polygonal
    # approximation of round caps and joins
    for k in range(1, n_bands):
        cum[:, k] = shapely.union(cum[:, k], cum[:, k - 1])
    if cumulative:
        return cum
    rings = cum.copy()
    for k in range(1, n_bands):
        rings[:, k] = shapely.difference(cum[:, k], cum[:, k - 1])
    return rings


def default_cell_m(walk_in_m: float) -> float:
    """Raster cell size: 5 m, finer for narrow walk-in widths (at most a quarter of it)."""
    return min(5.0, walk_in_m / 4.0)


def _raster_bands(net: WalkNetwork, vertices: list[np.ndarray], n_entities: int,
                  n_bands: int, walk_in_m: float, cell_m: float, cumulative: bool,
                  wkb: bool = False, lazy: bool = False) -> Any:
    """Rasterised buffers: cells near reached segments, outlined by marching squares.

    A cell is in when its centre lies within ``walk_in_m - 1.2 * cell_m`` of a reached
    segment (point-to-segment distances over each segment's neighbourhood, a few lines of
    numba); the outline is the filled contour between cell centres in and out, crossing
    each cell side between a centre in and one out at its midpoint (:mod:`.rings`). A reached
    point has the four centres around it within ``sqrt(2) * cell_m``, so its whole grid
    square is in; a point inside the outline lies within ``1.12 * cell_m`` of a centre that
    is in (the farthest a marching-squares crossing gets from it), so nothing farther than
    ``walk_in_m`` from every reached segment is. The outline runs between about
    ``walk_in_m - 2.2 cell_m`` and ``walk_in_m`` from the streets. The traced outline is then
    simplified on the grid (:mod:`.simplify`: its vertices a subset of the traced ones, each
    chord crossing the same cell sides, so it moves by at most a cell's diagonal and keeps
    both bounds' reasoning): the published outline lies between ``walk_in_m - 2.7 cell_m``
    and ``walk_in_m``, and bands still nest and rings still share their outlines exactly.

    One grid, anchored on the network, serves every isochrone: bands nest (the contour of a
    lower level of the same field), the ring bands are a coverage (neighbours share one
    boundary; where two levels run together, along the outer edge of a nearer band, the
    ring between them has nothing, :mod:`.coverage`), and the union of facility isochrones
    is the category's (each cell takes the nearest band of any facility) up to the
    simplification within one cell.

    Measured per 15-minute isochrone on the shared Nanjing and Monaco extracts (5 m cells),
    this is several times cheaper than exact shapely buffers with ``union_all`` (which
    overlays hundreds of overlapping polygons), than ``rasterio.features`` rasterising and
    polygonising (whose per-geometry GeoJSON conversions dominate at this size) and than
    growing the marked cells with scipy's distance transform.
    """
    # ``vertices`` is :func:`_vertices`' (coords, line, group) in a list this call empties, so
    # that they are freed once the segments are made (a caller's local, or the argument tuple
    # of a ``*`` call, would keep them through the stamping: 32 bytes a vertex at city scale)
    coords, line, group = vertices
    vertices.clear()
    out = np.array([EMPTY] * (n_entities * n_bands), dtype=object).reshape(n_entities, n_bands)
    if coords.shape[0] == 0:
        return iter(out[0]) if lazy else out
    c = float(cell_m)
    reach_cells = (walk_in_m - 1.2 * c) / c
    pad = int(np.ceil(reach_cells)) + 2
    low_x, low_y = coords_box(net)[:2]  # the grid's anchor
    x0 = np.floor(low_x / c) * c
    y0 = np.floor(low_y / c) * c
    # segments (in cell units from the grid origin), by group: entity, then band ascending
    # (pieces come sorted by group; legs may follow them)
    ax, ay, bx, by, seg_band, entity_of = grid_segments(coords, line, group,
                                                        n_entities * n_bands, n_bands, x0, y0, c)
    del coords, line, group
    ent_start = np.flatnonzero(np.r_[True, entity_of[1:] != entity_of[:-1]])
    ent_stop = np.append(ent_start[1:], entity_of.shape[0])
    # grids of one tile (every per-facility isochrone): one compiled pass, see .outline
    small, polys = single_tile_bands(ax, ay, bx, by, seg_band, ent_start, ent_stop,
                                     reach_cells=reach_cells, pad=pad, n_bands=n_bands,
                                     cumulative=cumulative,
                                     origin=np.array([x0 + 0.5 * c, y0 + 0.5 * c]),
                                     cell_m=c, tile_cells=TILE_CELLS)
    out[entity_of[ent_start[small]]] = polys
    big = [(int(lo), int(hi)) for lo, hi in zip(ent_start[~small], ent_stop[~small],
                                                strict=True)]
    del ent_start, ent_stop, small, polys
    for k, (lo, hi) in enumerate(big):
        ent = int(entity_of[lo])
        parts = _entity_tiles(ax[lo:hi], ay[lo:hi], bx[lo:hi], by[lo:hi], seg_band[lo:hi],
                              reach_cells, pad, n_bands)
        if k == len(big) - 1:
            # every grid is stamped: the segments (at city scale as heavy as the outlines)
            # go before the bands are built
            del ax, ay, bx, by, seg_band, entity_of
        origin = np.array([x0 + 0.5 * c, y0 + 0.5 * c])
        if lazy:  # one entity (checked by the caller): its bands as they are taken
            return iter_bands(parts, n_bands, cumulative, origin, c, wkb=wkb)
        out[ent] = bands_from_tiles(parts, n_bands, cumulative, origin, c, wkb=wkb)
    return iter(out[0]) if lazy else out


#: Side of the square tiles (in cells) an isochrone grid is outlined in: 1024 cells are
#: 5.1 km at 5 m. A tile holds a uint8 label per cell, its padded copy and a byte of
#: crossing marks a cell (:mod:`.trace`, ~3 MB), so the memory of an isochrone grows with the
#: tile, not with the city; the outline vertices themselves grow with the reached perimeter.
TILE_CELLS = 1024
#: threads that outline a city grid's tiles (:func:`_entity_tiles`); their stamping and
#: marching-squares kernels hold no GIL. On the 268,569-node mosaic, two threads against one
#: on two cores loaded by other work (load average ~6.5): 17.6-18.2 s wall against 21.9 s for
#: the five categories, CPU 11-12.5 s either way, +30-50 MiB peak (two tiles in flight).
TILE_THREADS = min(2, os.cpu_count() or 1)


def _tile_pairs(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, i0: float,
                j0: float, t: int, nti: int, ntj: int,
                margin: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Each segment's tiles (those within ``margin`` cells of its box), as the segments of
    each tile in segment order: (segments; each tile's first among them, ``nti * ntj + 1``),
    :func:`.nesting.cell_members`' counting sort (the numpy pairs and their sort: 0.22 s
    against 0.08 s for the whole set-up of the 268,569-node mosaic's five categories)."""
    n = ax.shape[0]
    cells = np.empty((n, 4), dtype=np.int64)  # ti_lo, ti_hi, tj_lo, tj_hi
    for s in range(n):
        cells[s, 0] = min(max(np.floor((min(ax[s], bx[s]) - i0 - margin) / t), 0.0), nti - 1)
        cells[s, 1] = min(max(np.floor((max(ax[s], bx[s]) - i0 + margin) / t), 0.0), nti - 1)
        cells[s, 2] = min(max(np.floor((min(ay[s], by[s]) - j0 - margin) / t), 0.0), ntj - 1)
        cells[s, 3] = min(max(np.floor((max(ay[s], by[s]) - j0 + margin) / t), 0.0), ntj - 1)
    return cell_members(cells, nti, ntj)


@cache
def _tile_pairs_kernel() -> Any:
    return compile_kernel(_tile_pairs, cell_members)


def _entity_tiles(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                  band: np.ndarray, reach_cells: float, pad: int,
                  n_bands: int) -> list[TileRings]:
    """One entity's tile outlines from its segments (cell units from the grid origin), for
    :func:`.rings.bands_from_tiles` to make its band polygons.

    The entity's grid is cut into :data:`TILE_CELLS`-square tiles that share their edge row
    and column of cell centres with the next tile; each tile is stamped with every segment
    that can reach it (those within ``reach_cells`` plus one cell) and outlined on its own, so
    the labels, and the contour crossings, on a shared seam are the same in both tiles. Each
    tile's squares are outlined once (:func:`.rings.tile_rings`), the rings that leave it
    kept as chains named by the grid sides they end on, and :func:`.rings.bands_from_tiles`
    links the chains across the seams: bands nest and rings share their outlines as on one
    untiled grid. Only one tile's grid is held at a time, and only its outlines (integers)
    are kept. Tiles no segment reaches are skipped, so disconnected parts of a city
    cost nothing in between.
    """
    stamp = stamp_tile_kernel()
    i0 = int(np.floor(min(ax.min(), bx.min()))) - pad
    i1 = int(np.floor(max(ax.max(), bx.max()))) + pad + 1
    j0 = int(np.floor(min(ay.min(), by.min()))) - pad
    j1 = int(np.floor(max(ay.max(), by.max()))) + pad + 1
    t = int(TILE_CELLS)
    # tile (ti, tj) holds centres i0 + ti * t ... i0 + (ti + 1) * t (inclusive: the seam)
    nti = max(1, -(-(i1 - i0 - 1) // t))
    ntj = max(1, -(-(j1 - j0 - 1) // t))
    # the (segment, tile) pairs by tile (most segments fall in one tile)
    seg, first = _tile_pairs_kernel()(ax, ay, bx, by, float(i0), float(j0), t, nti, ntj,
                                      reach_cells + 1.0)
    tiles = np.flatnonzero(first[1:] > first[:-1])
    starts = first[tiles]
    stops = first[tiles + 1]
    del first

    def outline(tile: int, s0: int, s1: int) -> TileRings | None:
        tj, ti = divmod(int(tile), nti)
        ci0 = i0 + ti * t
        cj0 = j0 + tj * t
        width = min(t, i1 - 1 - ci0) + 1
        height = min(t, j1 - 1 - cj0) + 1
        # stamped straight into the tracer's padded grid (rows W >= width + 1 cells: the
        # cells beyond ``width`` are stamped too, and then overwritten by the tracer, so the
        # first ``width`` are those of a grid ``width`` wide), no copy of the labels
        grid = tile_grid(height, width, n_bands)
        # the first column a run of cells was stamped from: none within ``width``, an empty
        # tile (segments stamp bands below n_bands)
        if stamp(ax, ay, bx, by, band, seg[s0:s1], float(ci0), float(cj0), reach_cells,
                 grid.reshape(-1), grid.shape[1], height) >= width:
            return None
        return tile_rings(grid, n_bands, (ci0, cj0), (ci0 - i0, cj0 - j0), i1 - i0 + 1,
                          width)

    # The tiles are independent and their kernels release the GIL: two threads outline them
    # on the machine's two cores, in tile order (the rings are the same as one thread's).
    with ThreadPoolExecutor(max_workers=TILE_THREADS) as pool:
        parts = [p for p in pool.map(outline, tiles, starts, stops) if p is not None]
    return parts



def band_polygons(
    net: WalkNetwork,
    pieces: Pieces,
    n_entities: int,
    n_bands: int,
    walk_in_m: float,
    *,
    legs: tuple[np.ndarray, np.ndarray] | None = None,
    method: str = "raster",
    cell_m: float | None = None,
    cumulative: bool = False,
    wkb: bool = False,
    unrepeated: bool = False,
) -> np.ndarray:
    """Polygons per entity and band, an ``(n_entities, n_bands)`` array.

    ``pieces.group`` is ``entity * n_bands + band``, bands ascending. ``cumulative`` gives
    everything within each band (nested: each holds the previous); otherwise the rings,
    cumulative ``k`` minus cumulative ``k - 1``. ``method`` is ``"raster"`` (fast, outlines on
    a ``cell_m`` grid, see :func:`_raster_bands`) or ``"vector"`` (exact round buffers).
    Polygons are MultiPolygons (empty where nothing was reached); with ``wkb``, their
    :class:`.wkb.Wkb` (a city-wide grid's written without GEOS). ``unrepeated``: the pieces
    repeat no stretch of a lower band (:func:`.search.banded_stretches`' do not), so the
    pass that drops such repeats (:func:`_lowest_band`) is skipped.
    """
    polys = _band_polygons(net, pieces, n_entities, n_bands, walk_in_m, legs=legs,
                           method=method, cell_m=cell_m, cumulative=cumulative, wkb=wkb,
                           unrepeated=unrepeated)
    if wkb:
        plain = np.flatnonzero([not isinstance(g, Wkb) for g in polys.ravel()])
        flat = polys.reshape(-1)
        for i in plain:
            flat[i] = Wkb.of(flat[i])
    return polys


def _band_polygons(net: WalkNetwork, pieces: Pieces, n_entities: int, n_bands: int,
                   walk_in_m: float, *, legs: tuple[np.ndarray, np.ndarray] | None,
                   method: str, cell_m: float | None, cumulative: bool,
                   wkb: bool, unrepeated: bool) -> np.ndarray:
    if method == "vector":
        coords, line, group = _vertices(net, pieces, legs)
        lines = shapely.linestrings(coords, indices=line) if coords.shape[0] else \
            np.empty(0, dtype=object)
        first = np.r_[True, line[1:] != line[:-1]]
        return _vector_bands(lines, group[first], n_entities, n_bands, walk_in_m, cumulative)
    if method == "raster":
        # the vertex arrays go straight into the call, which frees them once it has the
        # segments (at city scale they weigh as much as the outlines)
        if not unrepeated:
            pieces = _lowest_band(pieces, n_bands)
        return _raster_bands(net, list(_vertices(net, pieces, legs)),
                             n_entities, n_bands, walk_in_m, _raster_cell(walk_in_m, cell_m),
                             cumulative, wkb)
    raise ConfigError(f"unknown isochrone method {method!r}; use raster or vector")


def _raster_cell(walk_in_m: float, cell_m: float | None) -> float:
    cell = default_cell_m(walk_in_m) if cell_m is None else float(cell_m)
    if not (np.isfinite(cell) and 0 < cell <= walk_in_m / 4.0):
        raise ConfigError(
            f"cell_m must be positive and at most a quarter of walk_in_m "
            f"({walk_in_m / 4.0:g} m), got {cell_m!r}"
        )
    return cell


def iter_band_polygons(net: WalkNetwork, pieces: Pieces, n_bands: int, walk_in_m: float, *,
                       legs: tuple[np.ndarray, np.ndarray] | None = None,
                       method: str = "raster", cell_m: float | None = None,
                       cumulative: bool = False, unrepeated: bool = False) -> Iterator[Wkb]:
    """One entity's bands (``pieces.group`` is the band) as :class:`.wkb.Wkb`, one at a
    time: a city-wide grid's band is built when the previous one was taken
    (:func:`.rings.iter_bands`), so a writer holds one band's WKB. The polygons (and
    ``unrepeated``) are those of :func:`band_polygons`."""
    if method == "raster":
        vertices = list(_vertices(net, pieces if unrepeated else _lowest_band(pieces, n_bands),
                                  legs))
        del pieces, legs  # the vertices are made: the stretches are not held while stamping
        bands = _raster_bands(net, vertices, 1, n_bands, walk_in_m,
                              _raster_cell(walk_in_m, cell_m), cumulative, wkb=True, lazy=True)
    else:
        bands = iter(band_polygons(net, pieces, 1, n_bands, walk_in_m, legs=legs, method=method,
                                   cell_m=cell_m, cumulative=cumulative, wkb=True,
                                   unrepeated=unrepeated)[0])
    for poly in bands:
        yield poly if isinstance(poly, Wkb) else Wkb.of(poly)


def _lowest_band(pieces: Pieces, n_bands: int) -> Pieces:
    """The pieces without their repeats in later bands of the same entity.

    A stretch reached within band k is in every later band too, most often unchanged (a whole
    edge); the grid keeps each cell's lowest band, so the repeats would stamp nothing. Dropping
    them makes the segments, and their memory, about ``n_bands`` times fewer at city scale.
    """
    if len(pieces) == 0 or n_bands == 1:
        return pieces
    keep = unrepeated(pieces, n_bands)
    return Pieces(pieces.group[keep], pieces.edge[keep], pieces.start_m[keep],
                  pieces.end_m[keep])


def _vertices(net: WalkNetwork, pieces: Pieces, legs: tuple[np.ndarray, np.ndarray] | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices of the reached stretches and of the legs: (coords, line, group) per vertex."""
    coords, line = _pieces_coords(net, pieces)
    group = pieces.group[line]  # per vertex
    if legs is not None and legs[0].shape[0]:
        n_lines = len(pieces)
        coords = np.concatenate([coords, legs[0]])
        line = np.concatenate([line, n_lines + np.arange(legs[0].shape[0]) // 2])
        group = np.concatenate([group, legs[1]])
    return coords, line, group
