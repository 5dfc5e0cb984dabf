"""Geometry for deriving blocks: faces of street linework, and splits of oversized blocks.

Everything works on whole arrays of polygons (shapely 2 array functions, bulk STRtree
queries, a numba kernel for point-in-polygon candidates); there is no loop over blocks. The
costly elementwise GEOS calls are split over two threads (:mod:`~lifecircle.sources._halves`;
GEOS runs without the GIL), which gives the results of one call.

The faces of a set of lines are the polygons they enclose:
:func:`~lifecircle.sources.planar.faces` gives what ``momepy.enclosures`` would (a noded union
of the lines, then ``polygonize``) at a fraction of the cost, without its 1.7 s import or its
per-limit clipping (the callers hold the limits as lines and select faces by their
representative point).
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._block_kernels import kernel as _block_kernel
from ._halves import elementwise
from ._osm_arrays import spans
from .planar import box_pairs, faces, outlines

__all__ = ["as_xy", "distinct", "faces", "grid_pieces", "line_pieces", "merge_small", "owner_of",
           "parts_of"]

_EMPTY = np.empty(0, dtype=object)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array.

    ``np.unique`` (numpy 2.3+) hashes integer arrays when no inverse is asked for, which is
    70x slower than sorting on a million distinct int64 values here (1.5 s against 0.02 s).
    """
    out = np.sort(values, axis=None)
    keep = np.ones(out.size, dtype=bool)
    keep[1:] = out[1:] != out[:-1]
    return out[keep]


def parts_of(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``shapely.get_parts(geoms, return_index=True)`` without copying the geometries that are
    their own one part (nearly every block and grid piece: ``get_parts`` makes a new
    geometry of each, 0.15 s for the grid pieces at 268,569 nodes); those are returned as
    they are, the multi-part ones taken apart. Third: per part, whether it is its geometry
    itself (not a part taken out of a multi-part one)."""
    count = shapely.get_num_geometries(geoms)
    idx = np.repeat(np.arange(geoms.size), count)
    start = np.cumsum(count) - count
    parts = np.empty(idx.size, dtype=object)
    multi = (shapely.get_type_id(geoms) >= 4) & (count > 0)
    whole = ~multi & (count > 0)
    parts[start[whole]] = geoms[whole]
    if multi.any():
        sub, of = shapely.get_parts(geoms[multi], return_index=True)
        first = np.searchsorted(of, np.arange(int(multi.sum())))
        parts[start[multi][of] + np.arange(of.size) - first[of]] = sub
    return parts, idx, whole[idx]


#: polygons with more vertices than this are tested by :func:`owner_of` (``disjoint``) only
#: against the points no smaller polygon holds (a city's outer face has 10^4-10^5 vertices
#: and its bounding box holds every home)
BIG_VERTICES = 5000
#: from this many points (and a twentieth as many polygons) on, :func:`owner_of` finds
#: candidates with its numba kernel
KERNEL_FROM = 20_000


def as_xy(points: np.ndarray) -> np.ndarray:
    """``points`` as an (n, 2) float array: point geometries read off (NaN for empty or
    missing ones), coordinates as they are."""
    points = np.asarray(points)
    if points.dtype == object:
        return np.column_stack([shapely.get_x(points), shapely.get_y(points)]).reshape(-1, 2)
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def owner_of(points: np.ndarray, polygons: np.ndarray, *, disjoint: bool = False) -> np.ndarray:
    """Position of the (first) polygon holding each point, -1 where none does.

    ``points``: point geometries or an (n, 2) coordinate array. From :data:`KERNEL_FROM`
    points (and a twentieth as many polygons) on, the candidates are the points inside each
    polygon's bounding box, found through a grid of the points (numba); each is tested by
    GEOS against the prepared polygon from its coordinates (``contains_xy``), so no point
    geometry and no tree is built (half the cost of an STRtree of the points queried with
    the polygons, which is used below it: loading the kernel costs more than a town's
    lookups). ``disjoint``: the polygons' interiors do not overlap (faces, blocks), so a
    point one polygon holds lies in no other, and the few very large ones are tested
    against the rest only.
    """
    xy = as_xy(points)
    owner = np.full(xy.shape[0], -1, dtype=np.int64)
    if xy.shape[0] == 0 or polygons.size == 0:
        return owner
    big = np.zeros(polygons.shape[0], dtype=bool)
    if disjoint:
        big = shapely.get_num_coordinates(polygons) > BIG_VERTICES
    box = shapely.bounds(polygons)
    small = np.flatnonzero(~big & np.isfinite(box[:, 0]))
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    if small.size and (xy.shape[0] < KERNEL_FROM or small.size < KERNEL_FROM // 20):
        # a town: a tree of the points, queried with the (prepared) polygons
        ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        g_i, p_i = shapely.STRtree(shapely.points(xy[ok])).query(polygons[small],
                                                                 predicate="contains")
        _first_owner(owner, small[g_i], ok[p_i])
    elif small.size:
        g_i, p_i = box_pairs(x, y, box[small])
        shapely.prepare(polygons[small])
        hit = elementwise(shapely.contains_xy, polygons[small[g_i]], x[p_i], y[p_i],
                          groups=g_i)
        _first_owner(owner, small[g_i[hit]], p_i[hit])
    for g in np.flatnonzero(big).tolist():
        x0, y0, x1, y1 = box[g]
        free = np.flatnonzero((owner < 0) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        if not free.size:
            continue
        shapely.prepare(polygons[g])
        owner[free[elementwise(shapely.contains_xy, polygons[g], x[free], y[free])]] = g
    return owner


def _rings_of(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, ring offsets, polygon offsets) of 2D polygons: polygon p's rings are
    ``poly_off[p]`` to ``poly_off[p + 1]``, ring r's closed vertices
    ``xy[ring_off[r]:ring_off[r + 1]]``; an empty polygon has one ring without vertices.
    ``shapely.to_ragged_array`` makes a geometry of every ring (0.2 s for 84,000 faces);
    here only the rings of the polygons with holes are taken apart."""
    xy = np.ascontiguousarray(shapely.get_coordinates(polys))
    size = shapely.get_num_coordinates(polys).astype(np.int64)
    n_rings = 1 + shapely.get_num_interior_rings(polys).astype(np.int64)
    poly_off = np.r_[0, np.cumsum(n_rings)]
    ring_size = np.zeros(int(poly_off[-1]), dtype=np.int64)
    ring_size[poly_off[:-1]] = size
    holed = np.flatnonzero(n_rings > 1)
    if holed.size:
        rings, of = shapely.get_rings(polys[holed], return_index=True)
        within = np.arange(of.size) - np.searchsorted(of, of)
        ring_size[poly_off[holed][of] + within] = shapely.get_num_coordinates(rings)
    return xy, np.r_[0, np.cumsum(ring_size)], poly_off


def _first_owner(owner: np.ndarray, g_i: np.ndarray, p_i: np.ndarray) -> None:
    """Set ``owner[p]`` to the lowest polygon ``g`` of the pairs ``(g_i, p_i)`` per point."""
    if not p_i.size:
        return
    # by point, then polygon: one sort of an int64 key per pair (3-4x faster than lexsort;
    # equal pairs, if any, are alike whatever their order)
    top = int(g_i.max()) + 1
    if int(p_i.max()) < 2**62 // top:
        key = np.sort(p_i.astype(np.int64) * top + g_i)
        p_i, g_i = key // top, key % top
    else:  # pragma: no cover - point ids times polygon ids would pass 2^62
        order = np.lexsort((g_i, p_i))
        p_i, g_i = p_i[order], g_i[order]
    first = np.ones(p_i.size, dtype=bool)
    first[1:] = p_i[1:] != p_i[:-1]
    owner[p_i[first]] = g_i[first]


def line_pieces(parents: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut each parent polygon by the lines that cross it.

    Lines are used whole (not clipped: a clipped end a hair off the boundary would leave the
    cut open); faces outside every parent are dropped. Every parent's outline is in the
    arrangement, met by a line or not: a neighbour's outline gives the cut parent's pieces
    its vertices on their shared edge (and, below GEOS_BELOW, their rings' first vertex).
    Returns (pieces, parent position).
    """
    if parents.size == 0:
        return _EMPTY, np.empty(0, dtype=np.int64)
    # box pairs, then the prepared parents asked (the tree's predicate prepares each line
    # instead: 1.4x slower)
    l_i, p_i = shapely.STRtree(parents).query(lines)
    shapely.prepare(parents)
    asked = lines[l_i]
    # a line under two parents could be read by both threads (groups keep a parent, not a
    # line, in one thread): each of its pairs gets a copy of its own (_halves' rule)
    repeated = np.bincount(l_i, minlength=lines.size)[l_i] > 1
    asked[repeated] = shapely.from_wkb(shapely.to_wkb(asked[repeated]))
    l_i = distinct(l_i[elementwise(shapely.intersects, parents[p_i], asked, groups=p_i)])
    work = np.concatenate([outlines(parents), lines[l_i]])
    pieces = faces(work)
    owner = owner_of(elementwise(shapely.point_on_surface, pieces), parents, disjoint=True)
    keep = owner >= 0
    return pieces[keep], owner[keep]


def grid_pieces(
    parents: np.ndarray,
    cell_m2: np.ndarray,
    seeds: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each parent by a grid of cells of at most ``cell_m2`` fitted to its bounding box.

    Cells are the box divided into ``ceil(width / side) × ceil(height / side)`` equal
    rectangles, so no cell is larger than ``cell_m2`` and the box leaves no slivers. With
    ``seeds`` (parent position, points), a parent that has seeds keeps only the cells holding
    one (the cells with homes: the rest would be dropped anyway). Cells wholly inside their
    parent are kept as boxes; only cells on its outline are intersected with it.
    Returns (pieces, parent position).
    """
    if parents.size == 0:
        return _EMPTY, np.empty(0, dtype=np.int64)
    b = shapely.bounds(parents)
    side = np.sqrt(cell_m2)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    nx = np.maximum(np.ceil(w / side), 1).astype(np.int64)
    ny = np.maximum(np.ceil(h / side), 1).astype(np.int64)
    count = nx * ny
    offset = np.cumsum(count) - count
    seeded = np.zeros(parents.shape[0], dtype=bool)
    cells = np.empty(0, dtype=np.int64)
    if seeds is not None and seeds[0].size:
        sp, pts = seeds
        seeded[sp] = True
        xy = as_xy(pts)
        ix = np.clip(((xy[:, 0] - b[sp, 0]) / (w[sp] / nx[sp])).astype(np.int64), 0, nx[sp] - 1)
        iy = np.clip(((xy[:, 1] - b[sp, 1]) / (h[sp] / ny[sp])).astype(np.int64), 0, ny[sp] - 1)
        cells = distinct(offset[sp] + iy * nx[sp] + ix)
    full = np.flatnonzero(~seeded)
    every = spans(offset[full], count[full])
    k_all = np.sort(np.concatenate([cells, every]))
    par = np.searchsorted(offset, k_all, side="right") - 1
    k = k_all - offset[par]
    ix, iy = k % nx[par], k // nx[par]
    sx, sy = w[par] / nx[par], h[par] / ny[par]
    x0, y0 = b[par, 0] + ix * sx, b[par, 1] + iy * sy
    boxes = shapely.box(x0, y0, x0 + sx, y0 + sy)
    shapely.prepare(parents)
    inside = elementwise(shapely.contains_properly, parents[par], boxes, groups=par)
    out = np.flatnonzero(~inside)  # only the cells not wholly inside are asked again
    edge = np.zeros(inside.size, dtype=bool)
    edge[out] = elementwise(shapely.intersects, parents[par[out]], boxes[out], groups=par[out])
    cut = boxes.copy()
    cut[edge] = _clip_cells(parents, par[edge], ix[edge], iy[edge], sx[edge], sy[edge],
                            (b, nx, ny))
    use = inside | edge
    parts, idx, _ = parts_of(cut[use])
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    return np.asarray(parts[keep], dtype=object), par[use][idx[keep]]


#: parents with more vertices than this are clipped to tiles of TILE_CELLS × TILE_CELLS
#: cells before their cells are clipped, and those tiles to their cells' (the outer face of
#: a city has 10^4-10^5 vertices, and every cell on its outline would otherwise walk them all)
TILE_VERTICES = 2000
TILE_CELLS = 8


def _clip_cells(
    parents: np.ndarray,
    par: np.ndarray,
    ix: np.ndarray,
    iy: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Cell ``ix``, ``iy`` (size ``sx`` × ``sy``) of each parent ``par`` clipped to it; the
    grids are ``grid`` = (parents' bounds, columns, rows). Large parents go through tiles
    first: tiles of TILE_CELLS × 8^k cells, each clipped from the tile of the level above
    that holds it, while the piece a cell would be clipped from has more than
    TILE_VERTICES vertices (a city's outer face: each level walks its vertices about once,
    where one level of small tiles walked them once per tile).

    A tile's edges are computed as its outer cells' edges (``x0``, ``x0 + sx``), so the
    vertices the tile adds lie on cell edges, where clipping the cell puts them anyway: the
    pieces are the same as clipping the parent directly.
    """
    b, nx, ny = grid
    x0, y0 = b[par, 0] + ix * sx, b[par, 1] + iy * sy
    src = parents[par]
    big = np.flatnonzero((shapely.get_num_coordinates(parents) > TILE_VERTICES)[par])
    if big.size:
        pb, bx, by, sxb, syb = par[big], ix[big], iy[big], sx[big], sy[big]
        cur = src[big]
        t = TILE_CELLS
        while t * 8 < int(max(nx[pb].max(), ny[pb].max())):
            t *= 8
        while t >= TILE_CELLS:
            heavy = np.flatnonzero(shapely.get_num_coordinates(cur) > TILE_VERTICES)
            if not heavy.size:
                break
            tx, ty = bx[heavy] // t, by[heavy] // t
            key = (pb[heavy] * (int(nx.max()) // t + 1) + tx) * (int(ny.max()) // t + 1) + ty
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            h = heavy[first]
            p, sxp, syp = pb[h], sxb[h], syb[h]
            i0, j0 = tx[first] * t, ty[first] * t
            i1, j1 = np.minimum(i0 + t, nx[p]) - 1, np.minimum(j0 + t, ny[p]) - 1
            tiles = _clip(cur[h], b[p, 0] + i0 * sxp, b[p, 1] + j0 * syp,
                          (b[p, 0] + i1 * sxp) + sxp, (b[p, 1] + j1 * syp) + syp)
            cur[heavy] = tiles[inverse]
            t //= 8
        src[big] = cur
    return _clip(src, x0, y0, x0 + sx, y0 + sy)


def _clip(
    polys: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray
) -> np.ndarray:
    """Each polygon clipped to its own rectangle.

    GEOS's rectangle clipping is linear in the polygon's vertices, where a general
    intersection sorts them (4-5x slower on a city's grid cells). ``shapely.clip_by_rect``
    takes one rectangle for all geometries; ``shapely.lib.clip_by_rect`` is the ufunc behind
    it and broadcasts the bounds. Its output can be invalid (a polygon whose hole touches
    the rectangle): those few, or all should a shapely release drop the ufunc, are cut by
    the general intersection, which gives the same pieces.
    """
    try:
        out = elementwise(shapely.lib.clip_by_rect, polys, x0, y0, x1, y1)
    except (AttributeError, TypeError):  # pragma: no cover - shapely without the ufunc
        out = np.full(polys.shape[0], None, dtype=object)
    redo = np.flatnonzero(~elementwise(shapely.is_valid, out))
    out[redo] = shapely.intersection(
        polys[redo], shapely.box(x0[redo], y0[redo], x1[redo], y1[redo])
    )
    return out


def merge_small(
    pieces: np.ndarray, parent: np.ndarray, small: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge each small piece into the piece of the same parent it shares most edge with.

    Pieces without such a neighbour stay as they are. Returns (pieces, parent position, the
    position among the returned pieces of each given piece).
    """
    if not small.any():
        return pieces, parent, np.arange(pieces.shape[0])
    s_i = np.flatnonzero(small)
    a, b = shapely.STRtree(pieces).query(pieces[s_i])
    a = s_i[a]
    ok = (a != b) & (parent[a] == parent[b])  # before the predicate: half the pairs go
    # the outline two pieces share lies in both bounding boxes: where those meet in a point
    # or a line of at most 5 mm (corner neighbours of a grid: a quarter of the pairs), the
    # shared edge is shorter than the 0.01 m asked below, and GEOS is not asked
    box = shapely.bounds(pieces)
    w = np.minimum(box[a, 2], box[b, 2]) - np.maximum(box[a, 0], box[b, 0])
    h = np.minimum(box[a, 3], box[b, 3]) - np.maximum(box[a, 1], box[b, 1])
    ok &= (np.minimum(w, h) > 0) | (np.maximum(w, h) > 0.005)
    a, b = _best_neighbour(pieces, a[ok], b[ok])
    n = pieces.shape[0]
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    uniq, inverse = np.unique(label, return_inverse=True)
    merged = np.empty(uniq.size, dtype=object)
    grouped = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[grouped], np.arange(uniq.size + 1))
    sizes = np.diff(bounds)
    single = sizes == 1
    merged[single] = pieces[grouped[bounds[:-1][single]]]
    multi = np.flatnonzero(~single)
    if multi.size:
        # one union per merging group, in one call: groups padded with None (ignored)
        width = int(sizes[multi].max())
        table = np.full((multi.size, width), None, dtype=object)
        rows = np.repeat(np.arange(multi.size), sizes[multi])
        cols = np.arange(rows.size) - np.repeat(np.cumsum(sizes[multi]) - sizes[multi],
                                                sizes[multi])
        table[rows, cols] = pieces[grouped[bounds[multi][rows] + cols]]
        merged[multi] = elementwise(shapely.union_all, table, axis=1)  # rows over threads
    out_parent = parent[grouped[bounds[:-1]]]
    return merged, out_parent, inverse


#: a shared outline must be longer than this (m) to count
MIN_SHARED_M = 0.01
#: the rounding allowances of :func:`_best_neighbour`'s bounds: relative, absolute (m), and
#: how far off a segment's line the ends of one it may share a stretch with lie (m; the
#: coordinates' rounding is ~5e-10 m at 4,000 km from the projection's origin)
_REL, _ABS, _EPS_M = 1e-9, 1e-7, 1e-6
#: a pair whose bounds cost more segment pairs than this is left to GEOS: the kernel compares
#: every segment of the small piece with every other of both (~2.5 ns each), GEOS's overlay
#: grows about linearly (a pair of 2,000-vertex outlines: 20 ms against 8 ms)
MAX_PAIR_WORK = 1_000_000


def _best_neighbour(pieces: np.ndarray, a: np.ndarray,
                    b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the candidate pairs (``a``: a small piece, ``b``: a piece beside it), the neighbour
    each small piece shares most outline with, above :data:`MIN_SHARED_M` (ties: the lower
    position); pieces without one left out. Returns (piece, neighbour), by piece.

    The shared length is GEOS's (the intersection of the outlines, measured), asked only for
    the pieces whose choice bounds do not settle: a compiled pass bounds each pair's length
    (:func:`~lifecircle.sources._block_kernels._shared_bounds`: below by the segments both
    outlines hold, above by the stretches of collinear segments), and a piece whose pairs
    are each surely above or below the minimum, with one neighbour's low bound above every
    other's high one, has that neighbour, as GEOS's lengths would give it. Faces of one
    arrangement share whole segments (nearly all settle); grid cells often share a line
    with other vertices, or tie (those are asked). GEOS cost ~14 µs a pair (an overlay of
    two outlines each), 1.5 s of the blocks step at a million nodes.
    """
    settled = np.zeros(a.size, dtype=bool)
    pick = np.zeros(a.size, dtype=bool)
    bounds = _shared_bounds(pieces, a, b)
    if bounds is not None:
        lo, hi = bounds
        lo = np.where(lo >= 0, lo * (1 - _REL) - _ABS, -np.inf)
        hi = hi * (1 + _REL) + _ABS
        above, below = lo > MIN_SHARED_M, hi <= MIN_SHARED_M
        # by piece, then low bound (greatest first)
        order = np.lexsort((-lo, a))
        a_s = a[order]
        start = np.r_[True, a_s[1:] != a_s[:-1]]
        piece = np.cumsum(start) - 1
        n_p = int(piece[-1]) + 1 if piece.size else 0
        unsure = np.bincount(piece, weights=~(above | below)[order], minlength=n_p) > 0
        # the best's low bound above every other candidate's high bound
        rest_hi = np.where(start | below[order], -np.inf, hi[order])
        top = np.full(n_p, -np.inf)
        np.maximum.at(top, piece, rest_hi)
        best = order[start]
        ok = ~unsure & (above[best] | (top == -np.inf)) & (lo[best] > top)
        # a piece whose pairs are all below the minimum has no neighbour: settled, none picked
        none = ~unsure & ~above[best]
        ok |= none
        settled[order] = ok[piece]
        pick[best[ok & ~none]] = True
    ask = np.flatnonzero(~settled)
    a_g, b_g = a[ask], b[ask]
    hit = shapely.intersects(pieces[a_g], pieces[b_g])
    a_g, b_g = a_g[hit], b_g[hit]
    shared = elementwise(_shared_edge, pieces[a_g], pieces[b_g])
    edge = shared > MIN_SHARED_M
    a_g, b_g, shared = a_g[edge], b_g[edge], shared[edge]
    # best neighbour per small piece: longest shared edge (ties: the lower position)
    order = np.lexsort((b_g, -shared, a_g))
    a_g, b_g = a_g[order], b_g[order]
    first = np.r_[True, a_g[1:] != a_g[:-1]] if a_g.size else np.zeros(0, dtype=bool)
    a_out = np.concatenate([a[pick], a_g[first]])
    b_out = np.concatenate([b[pick], b_g[first]])
    order = np.argsort(a_out, kind="stable")
    return a_out[order], b_out[order]


def _shared_bounds(pieces: np.ndarray, a: np.ndarray,
                   b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The kernel's (low, high) bounds on the outline each pair shares (before rounding
    allowances), or None where a piece of a pair is not a 2D polygon; a pair the kernel
    would take longer over than GEOS (:data:`MAX_PAIR_WORK`) gets (-1, inf): unsettled.

    The pieces are valid polygons (faces of an arrangement, clipped cells made valid): the
    low bound counts each segment of ``a`` that ``b`` holds, which is the shared length only
    where no two segments of ``a`` overlap along a line, as in a valid polygon's rings."""
    if not a.size:
        return None
    used, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    polys = pieces[used]
    if (shapely.get_type_id(polys) != 3).any() or shapely.has_z(polys).any():
        return None
    ia, ib = inv[: a.size].astype(np.int64), inv[a.size :].astype(np.int64)
    n_xy = shapely.get_num_coordinates(polys).astype(np.int64)
    small = n_xy[ia] * (n_xy[ia] + n_xy[ib]) <= MAX_PAIR_WORK
    lo, hi = np.full(a.size, -1.0), np.full(a.size, np.inf)
    if small.any():
        lo[small], hi[small] = _block_kernel("shared")(*_rings_of(polys), ia[small], ib[small],
                                                       _EPS_M)
    return lo, hi


def _shared_edge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length of the outline each polygon of ``a`` shares with its polygon in ``b``."""
    return np.asarray(shapely.length(shapely.intersection(shapely.boundary(a),
                                                          shapely.boundary(b))))
