"""Outlines of a label grid (lifecircle.isochrones.rings) against contourpy's filled contours.

The grid's labels are bands (0 nearest, ``n`` not reached); level ``b`` outlines the cells
labelled ``<= b``. contourpy is the oracle: its filled contour of the indicator ``label <= b``
at 0.5 (every crossing a side's midpoint, a saddle's two inside corners kept apart) is the
traced outline of level ``b``; the module keeps a subset of its vertices
(:mod:`lifecircle.isochrones.simplify`), so its polygons hold the same centres and differ from
contourpy's only within the squares the outline crosses. A ring band is its level minus the
level below (GEOS's difference of contourpy's levels), with no sliver: the levels share their
crossings, so the rings of one grid are a coverage.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import contourpy
import numpy as np
import pytest
import shapely

from lifecircle.isochrones import trace
from lifecircle.isochrones.rings import SNAP, bands_from_tiles, tile_rings

ORIGIN = np.zeros(2)


def contourpy_levels(label: np.ndarray, n: int) -> list[shapely.Geometry]:
    """contourpy's filled contour of the indicator ``label <= b`` above 0.5, for every level
    ``b`` (vertices in 1 / SNAP of a cell, as the module keeps them: here exact, every
    crossing a side's midpoint)."""
    out = []
    for b in range(n):
        z = (label <= b).astype(np.float64)
        gen = contourpy.contour_generator(z=z, fill_type="OuterOffset", name="serial",
                                          corner_mask=False)
        points, offsets = gen.filled(0.5, 2.0)
        points = [np.round(p * SNAP) / SNAP for p in points]
        polys = [shapely.Polygon(p[o[0]:o[1]], [p[a:z] for a, z in itertools.pairwise(o[1:])])
                 for p, o in zip(points, offsets, strict=True)]
        out.append(shapely.MultiPolygon(polys) if polys else shapely.MultiPolygon())
    return out


def contourpy_bands(label: np.ndarray, n: int, cumulative: bool) -> list[shapely.Geometry]:
    """The oracle's bands: its levels (cumulative), or each level minus the one below."""
    levels = contourpy_levels(label, n)
    if cumulative:
        return levels
    return [levels[0]] + [shapely.difference(levels[b], levels[b - 1]) for b in range(1, n)]


def outline(label: np.ndarray, n: int, cumulative: bool, tile: int | None = None
            ) -> np.ndarray:
    """The module's bands, the grid cut into ``tile``-square tiles sharing their seams."""
    h, w = label.shape
    t = tile or max(h, w)
    parts = []
    for j0 in range(0, max(h - 1, 1), t):
        for i0 in range(0, max(w - 1, 1), t):
            sub = np.ascontiguousarray(label[j0:j0 + t + 1, i0:i0 + t + 1])
            parts.append(tile_rings(sub, n, (i0, j0), (i0, j0), w))
            assert not trace._SPACE.mark.any()  # the crossing marks are left clean
    return bands_from_tiles(parts, n, cumulative, ORIGIN, 1.0)


def vertex_set(geom: shapely.Geometry) -> set[tuple[int, int]]:
    return {tuple(v) for v in np.round(shapely.get_coordinates(geom) * SNAP).astype(np.int64)}


def assert_simplified(ours: shapely.Geometry, theirs: shapely.Geometry, label: np.ndarray,
                      inside: np.ndarray) -> None:
    """``ours`` is a valid simplification of contourpy's ``theirs``: every vertex one of
    contourpy's, no more of them, the same centres inside (``inside``, by label), and every
    difference within one square's diagonal of contourpy's outline."""
    assert shapely.is_valid(ours)
    assert vertex_set(ours) <= vertex_set(theirs)
    assert shapely.get_num_coordinates(ours) <= shapely.get_num_coordinates(theirs)
    h, w = label.shape
    jj, ii = np.mgrid[0:h, 0:w]
    centres = shapely.points(ii.ravel().astype(float), jj.ravel().astype(float))
    np.testing.assert_array_equal(shapely.contains(ours, centres), inside.ravel())
    if not theirs.is_empty:
        moved = shapely.symmetric_difference(ours, theirs)
        near = shapely.buffer(shapely.boundary(theirs), np.sqrt(2.0) + 1e-9)
        assert shapely.area(shapely.difference(moved, near)) <= 1e-9


def random_labels(rng: np.random.Generator, n: int, shape: tuple[int, int],
                  smooth: bool) -> np.ndarray:
    if smooth:  # blobs, as stamped streets give
        y, x = np.mgrid[0:shape[0], 0:shape[1]]
        z = np.sin(x / rng.uniform(2, 6) + rng.uniform(0, 6)) + np.cos(y / rng.uniform(2, 6))
        label = np.clip(np.floor((z + 2) / 4 * (n + 1) * 1.5), 0, n).astype(np.uint8)
    else:
        label = rng.integers(0, n + 1, size=shape).astype(np.uint8)
    label[0, :] = label[-1, :] = n  # nothing reached at the grid's rim (its padding)
    label[:, 0] = label[:, -1] = n
    return label


def random_grids(seed: int, count: int, levels: tuple[int, int], side: tuple[int, int]
                 ) -> Iterator[tuple[int, np.ndarray]]:
    """``count`` random (levels, label grid) pairs: ``levels`` and each side drawn from the
    half-open ranges, blobs or noise at random (:func:`random_labels`)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(*levels))
        shape = (int(rng.integers(*side)), int(rng.integers(*side)))
        yield n, random_labels(rng, n, shape, smooth=bool(rng.integers(0, 2)))


@pytest.mark.parametrize("cumulative", [True, False])
@pytest.mark.parametrize("smooth", [True, False])
def test_same_polygons_as_contourpy(cumulative, smooth):
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(1, 5))
        label = random_labels(rng, n, (int(rng.integers(3, 14)), int(rng.integers(3, 14))),
                              smooth)
        ours = outline(label, n, cumulative)
        cum = ours if cumulative else outline(label, n, True)
        for b, theirs in enumerate(contourpy_bands(label, n, cumulative)):
            assert_simplified(ours[b], theirs, label, label <= b if cumulative else label == b)
            if b:  # nested, and a ring band is its level minus the level below, exactly
                assert shapely.area(shapely.difference(cum[b - 1], cum[b])) == 0.0
                if not cumulative:
                    assert shapely.area(shapely.intersection(ours[b - 1], ours[b])) <= 1e-12
                    expect = shapely.difference(cum[b], cum[b - 1])
                    assert shapely.area(shapely.symmetric_difference(ours[b], expect)) <= 1e-9


@pytest.mark.parametrize("tile", [1, 2, 3, 5])
def test_tiles_give_the_untiled_outlines(tile):
    """Chains that leave a tile link with the next tile's: the same polygons as one tile."""
    for n, label in random_grids(11, 25, (1, 4), (4, 16)):
        for cumulative in (True, False):
            whole = outline(label, n, cumulative)
            tiled = outline(label, n, cumulative, tile=tile)
            for a, b in zip(tiled, whole, strict=True):
                assert shapely.is_valid(a)
                assert shapely.equals(a, b)
                # a ring linked across seams is simplified as the whole ring: the same vertices
                assert shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b)


@pytest.mark.parametrize("tile", [None, 3])
def test_more_than_eight_levels(tile):
    """Levels 8 and up keep their crossing marks in a second byte a centre: every level's
    outline is still contourpy's, tiled or not (a per-level mark shared across bytes would
    stop a ring at another level's crossing, or trace it twice)."""
    for n, label in random_grids(3, 6, (9, 13), (6, 14)):
        for cumulative in (True, False):
            ours = outline(label, n, cumulative, tile=tile)
            for b, theirs in enumerate(contourpy_bands(label, n, cumulative)):
                assert_simplified(ours[b], theirs, label,
                                  label <= b if cumulative else label == b)


def test_hand_drawn_midpoints_junctions_and_saddles():
    """Every level crosses a side at its midpoint; a side where the levels that cross it part
    ways (a junction) keeps its vertex, elsewhere a chord may cross the whole side; a saddle
    keeps its two inside corners apart at every level (contourpy on the indicator)."""
    label = np.full((4, 5), 2, np.uint8)
    label[1, 1] = 0  # centre (x 1, y 1)
    label[1, 2] = 1  # centre (2, 1)
    cum = outline(label, 2, True)
    # level 0: the diamond of the four midpoints around (1, 1), nothing to drop
    assert vertex_set(cum[0]) == {(1024, 512), (1536, 1024), (1024, 1536), (512, 1024)}
    assert cum[0].area == 0.5
    # level 1 crosses at (0.5, 1) (1, 0.5) (2, 0.5) (2.5, 1) (2, 1.5) (1, 1.5). (1, 0.5) and
    # (1, 1.5) are junctions (levels 0 and 1 cross there and part ways in the square that
    # holds the band-1 centre): kept, and shared with level 0. The chord (1, 0.5)-(2.5, 1)
    # crosses x = 2 at y = 5/6, inside that side: (2, 0.5) and (2, 1.5) go. Shoelace: 1.0
    assert vertex_set(cum[1]) == {(1024, 512), (2560, 1024), (1024, 1536), (512, 1024)}
    assert cum[1].area == 1.0
    assert cum[1].contains(shapely.points([(1, 1), (2, 1)])).all()
    # the ring band: level 1 minus level 0, the two edges they share dropped (no sliver
    # along the band-0 centre's left, where nothing else was reached)
    ring = outline(label, 2, False)
    assert vertex_set(ring[1]) == {(1024, 512), (2560, 1024), (1024, 1536), (1536, 1024)}
    assert ring[1].area == 0.5 == cum[1].area - cum[0].area
    assert not ring[1].contains(shapely.Point(1, 1)) and ring[1].contains(shapely.Point(2, 1))
    assert ring[1].intersection(shapely.box(0, 0, 1.0, 4)).area == 0.0
    assert shapely.coverage_is_valid(np.array([ring[0], ring[1]]))
    # saddle, two band-0 centres on a diagonal among unreached ones: two pieces at level 0
    # and at level 1 (the indicator's mean 0.5 is no more than the level)
    label = np.full((4, 4), 2, np.uint8)
    label[1, 1] = label[2, 2] = 0
    cum = outline(label, 2, True)
    assert len(cum[0].geoms) == 2 and len(cum[1].geoms) == 2
    assert outline(label, 2, False)[1].is_empty


@pytest.mark.parametrize("tile", [None, 2, 3])
def test_no_strip_along_an_outer_edge(tile):
    """The defect this replaced: a band-0 block bordering unreached land gave the 5-10 and
    10-15 min rings a strip a third of a cell wide along its outer edge. Now the levels
    coincide there: the ring bands own only the cells of their band (and the squares between
    them), they tile the cumulative band exactly, and they overlap nowhere."""
    n = 3
    label = np.full((10, 12), n, np.uint8)
    label[2:7, 2:6] = 0  # band 0: centres x 2..5, y 2..6; unreached to the left, up, down
    label[2:7, 6:8] = 1  # band 1 to its right
    label[3:6, 8] = 2  # band 2 beyond
    cum = outline(label, n, True, tile=tile)
    ring = outline(label, n, False, tile=tile)
    assert shapely.coverage_is_valid(np.array([g for g in ring if not g.is_empty]))
    assert shapely.area(ring).sum() == pytest.approx(cum[-1].area, abs=1e-12)
    for b in range(1, n):
        assert shapely.area(ring[b]) == pytest.approx(cum[b].area - cum[b - 1].area,
                                                      abs=1e-12)
        # nothing of the later rings left of band 1's first centres (x 6) but the squares
        # between band 0 and band 1 (x 5..6)
        assert ring[b].intersection(shapely.box(-1, -1, 5.0, 11)).area == 0.0
    for a, b in itertools.combinations(range(n), 2):
        assert shapely.intersection(ring[a], ring[b]).area <= 1e-12
    # band 0 alone: the levels coincide all round, the ring rows are empty
    label = np.full((8, 8), n, np.uint8)
    label[2:6, 2:6] = 0
    ring = outline(label, n, False, tile=tile)
    assert ring[0].area == outline(label, n, True, tile=tile)[2].area
    assert ring[1].is_empty and ring[2].is_empty


@pytest.mark.parametrize("tile", [None, 2, 4])
def test_ring_bands_are_a_coverage(tile):
    """Random grids: each grid's ring bands are valid, a valid coverage (no overlap, shared
    edges matched vertex for vertex), and tile the last cumulative band (each band as its
    level minus the level below: test_same_polygons_as_contourpy)."""
    for n, label in random_grids(19, 40, (2, 5), (4, 16)):
        ring = outline(label, n, False, tile=tile)
        cum = outline(label, n, True, tile=tile)
        assert all(shapely.is_valid(g) for g in ring)
        assert shapely.coverage_is_valid(np.array([g for g in ring if not g.is_empty]))
        assert shapely.area(ring).sum() == pytest.approx(cum[-1].area, abs=1e-9)
        assert shapely.area(shapely.symmetric_difference(shapely.union_all(ring), cum[-1])) \
            <= 1e-9
        for a, b in itertools.combinations(range(n), 2):
            assert shapely.intersection(ring[a], ring[b]).area <= 1e-12


def test_uniform_words_are_skipped_without_losing_a_square():
    """Grids wider than one 8-square word, mostly one label (as a city's tiles): the squares
    skipped eight at a time hold no outline, so the polygons stay contourpy's, with a
    crossing in every position of a word and on a grid whose width is not a multiple of 8."""
    rng = np.random.default_rng(5)
    for width in (9, 16, 17, 23, 40, 61):
        for _ in range(6):
            n = int(rng.integers(1, 4))
            label = np.full((int(rng.integers(5, 30)), width), n, np.uint8)
            for _ in range(int(rng.integers(1, 6))):  # a few blocks in a sea of "not reached"
                j, i = int(rng.integers(1, label.shape[0] - 2)), int(rng.integers(1, width - 2))
                label[j:j + int(rng.integers(1, 6)), i:i + int(rng.integers(1, 12))] = \
                    rng.integers(0, n)
            label[0, :] = label[-1, :] = label[:, 0] = label[:, -1] = n
            for cumulative in (True, False):
                ours = outline(label, n, cumulative)
                for b, theirs in enumerate(contourpy_bands(label, n, cumulative)):
                    assert_simplified(ours[b], theirs, label,
                                      label <= b if cumulative else label == b)


def _collinear_vertices(geom: shapely.Geometry) -> int:
    """Vertices of ``geom``'s rings on the straight run through their two neighbours."""
    count = 0
    for ring in shapely.get_rings(shapely.get_parts(geom)):
        q = np.round(shapely.get_coordinates(ring)[:-1] * SNAP).astype(np.int64)
        d_in = q - np.roll(q, 1, axis=0)
        d_out = np.roll(q, -1, axis=0) - q
        cross = d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0]
        count += int(((cross == 0) & ((d_in * d_out).sum(axis=1) > 0)).sum())
    return count


@pytest.mark.parametrize("tile", [None, 2, 3])
def test_simplified_outline_keeps_area_bounds_and_topology(tile):
    """Hand-made grid: a 6 x 4 block with a 2 x 1 hole and two single cells touching it at
    a corner. No vertex is left on a straight run (within tiles and across their seams), and
    the staircase-free outline keeps the centres, the hole and the parts of contourpy's.

    Level 0 of a block of label-0 centres among unreached ones (n = 1) crosses each side
    halfway: contourpy's outline is the block's centres grown by half a cell, its corners cut
    by a diagonal, with a vertex on every crossed side; a one-centre island is a diamond."""
    label = np.ones((9, 12), np.uint8)
    label[2:6, 2:8] = 0  # the block: centres x 2..7, y 2..5
    label[3, 4:6] = 1  # the hole: centres (4, 3) and (5, 3) not reached
    label[1, 1] = 0  # touches the block's corner (2, 2) across a saddle (split: a tie)
    label[6, 9] = 0  # a free island
    ours = outline(label, 1, True, tile=tile)[0]
    theirs = contourpy_bands(label, 1, True)[0]
    assert_simplified(ours, theirs, label, label == 0)
    assert _collinear_vertices(ours) == 0
    assert _collinear_vertices(theirs) > 0  # contourpy keeps a vertex per crossed side
    # the same simplification whether the grid was tiled or not
    assert shapely.equals_exact(ours, outline(label, 1, True)[0], tolerance=0.0)
    parts = sorted(ours.geoms, key=lambda p: p.area)
    assert len(parts) == 3
    # the two diamonds (nothing to drop around one centre) and the block with its hole
    assert [len(p.exterior.coords) - 1 for p in parts[:2]] == [4, 4]
    # the block: contourpy's 8-vertex outline (the block grown by half a cell, corners cut)
    # leaves four vertices, each chord within its sides' parts and the centres x 2..7,
    # y 2..5 inside; the 2 x 1 hole leaves four. Shoelace: 19.5 - 1.0
    block = parts[2]
    assert set(block.exterior.coords) == {(2.0, 1.5), (7.5, 2.0), (7.0, 5.5), (1.5, 5.0)}
    assert len(block.interiors) == 1
    assert set(block.interiors[0].coords) == {(4.0, 2.5), (3.5, 3.0), (5.0, 3.5), (5.5, 3.0)}
    assert block.area == 18.5


def test_holes_go_to_the_smallest_shell_that_holds_them():
    from lifecircle.isochrones.nesting import hole_owners
    from lifecircle.isochrones.rings import signed_area2

    def square(x0, y0, x1, y1, ccw):
        ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return ring if ccw else ring[::-1]

    rings = [
        square(0, 0, 100, 100, True),    # 0: shell A
        square(10, 10, 40, 40, False),   # 1: hole in A
        square(15, 15, 35, 35, True),    # 2: island B in that hole
        square(20, 20, 30, 30, False),   # 3: hole in B (A's box and B's box hold it)
        [(50, 50), (90, 50), (90, 60), (60, 60), (60, 90), (50, 90)],  # 4: L-shaped shell C
        [(80, 70), (70, 70), (70, 80), (80, 80)],  # 5: hole in A, in the box of C, not in C
    ]
    q = np.array([v for r in rings for v in r], dtype=np.int32)
    sizes = np.array([len(r) for r in rings])
    area2 = signed_area2(q, sizes)
    shells, holes = np.flatnonzero(area2 > 0), np.flatnonzero(area2 < 0)
    assert list(shells) == [0, 2, 4] and list(holes) == [1, 3, 5]
    owner = shells[hole_owners(q, sizes, shells, holes, area2)]
    # the oracle: GEOS, the smallest shell that contains the hole's first vertex
    polys = {s: shapely.Polygon(rings[s]) for s in shells}
    expected = [min((s for s in shells if polys[s].contains(shapely.Point(rings[h][0]))),
                    key=lambda s: polys[s].area) for h in holes]
    assert list(owner) == expected == [0, 2, 0]


def test_side_parts_by_hand():
    from lifecircle.isochrones.simplify import side_part

    # every level that crosses a side may cross the whole of it (one unit in at each end),
    # whichever centre it is seen from; junctions are kept exactly by the tracer
    assert side_part(0, 3, 0, SNAP) == side_part(0, 3, 2, SNAP) == (1, 1023)
    assert side_part(3, 0, 1, SNAP) == (1, 1023)
    with pytest.raises(ValueError):
        side_part(1, 2, 0, SNAP)
    # the tracer's constants (follow_ring): every level crosses a side at its midpoint, and
    # away from a junction may cross it as side_part says (kept relative to the midpoint);
    # rows 0-2 in band 0, the rest unreached but one cell of band 1 on the seam: the three
    # levels cross the tile in chains, which keep their parts
    label = np.zeros((6, 7), np.uint8)
    label[3:] = 3
    label[3, 3] = 1
    q, iv, _, level, chain, *_ = (np.array(a) for a in trace.trace_tile(label, 3, SNAP, (0, 0),
                                                                         7))
    assert list(level) == [0, 1, 2] and chain.all()
    x, y = q[:, 0] % SNAP, q[:, 1] % SNAP
    assert (((x == SNAP // 2) & (y == 0)) | ((x == 0) & (y == SNAP // 2))).all()
    lo, hi = side_part(0, 3, 0, SNAP)
    away = (iv[:, 0] == lo - SNAP // 2) & (iv[:, 1] == hi - SNAP // 2)
    junction = (iv == 0).all(axis=1)
    assert (away | junction).all() and away.any() and junction.any()


def test_a_sloping_straight_edge_loses_its_staircase():
    """A half-plane at slope 3/7 digitised on the grid (labels 0 and 1): contourpy's outline
    has a vertex on every crossed side; the simplified one runs the digital straight edge in
    a few chords (between traced crossings, so not always one), with the same centres in."""
    h, w = 40, 60
    jj, ii = np.mgrid[0:h, 0:w]
    label = np.where(jj < 3 + 3 * ii / 7.0, 0, 1).astype(np.uint8)
    label[0, :] = label[-1, :] = label[:, 0] = label[:, -1] = 1
    ours = outline(label, 1, True)[0]
    theirs = contourpy_bands(label, 1, True)[0]
    assert_simplified(ours, theirs, label, label == 0)
    assert shapely.get_num_coordinates(theirs) > 80
    assert 4 * shapely.get_num_coordinates(ours) < shapely.get_num_coordinates(theirs)


def _trace_copy(label: np.ndarray, n: int, reuse: bool) -> list[np.ndarray]:
    out = trace.trace_tile(np.ascontiguousarray(label), n, SNAP, (0, 0), label.shape[1],
                           reuse=reuse)
    return [np.array(a) for a in out]


def test_a_ring_several_levels_pass_alike_is_traced_once_with_the_same_output():
    """A closed ring that the levels above pass the same way (a hole of the unreached in the
    nearest band) is traced once and copied for them: every output array (vertices, parts,
    sizes, levels, ring kinds, chain keys) equals tracing it for each level, on hand-drawn
    holes and random grids, and contourpy's levels still hold."""
    hole = np.full((12, 12), 3, dtype=np.uint8)
    hole[2:10, 2:10] = 0
    hole[5:7, 4:8] = 3  # a hole of the unreached inside band 0: the same for levels 0..2
    hole[3, 3] = 1  # and a cell of band 1 inside band 0: a ring of level 0 only
    grids = [(3, hole), *random_grids(23, 40, (2, 6), (4, 18))]
    copied = []
    for n, label in grids:
        with_reuse = _trace_copy(label, n, True)
        copied.append(trace.copied_rings())
        without = _trace_copy(label, n, False)
        assert trace.copied_rings() == 0
        for a, b in zip(with_reuse, without, strict=True):
            np.testing.assert_array_equal(a, b)
    # the copies ran: on the hand-drawn grid the shell (corners 0 and 3 only) and the hole
    # of the unreached, traced at level 0, copied for levels 1 and 2; and on random grids
    assert copied[0] == 4
    assert sum(copied[1:]) > 0
    levels = outline(hole, 3, True)
    for b, theirs in enumerate(contourpy_levels(hole, 3)):
        assert_simplified(levels[b], theirs, hole, hole <= b)
    # the hole is in all three levels, the same ring each time
    centre = shapely.Point(5.5, 5.5)
    holes = [[r for r in shapely.get_geometry(levels[b], 0).interiors
              if shapely.Polygon(r).contains(centre)] for b in range(3)]
    assert [len(h) for h in holes] == [1, 1, 1]
    assert holes[0][0].equals(holes[1][0]) and holes[1][0].equals(holes[2][0])
    # level 0 also has the hole of band 1's cell, which the levels above fill
    assert [len(shapely.get_geometry(levels[b], 0).interiors) for b in range(3)] == [2, 1, 1]
