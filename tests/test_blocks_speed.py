"""Blocks at array speed (issue 15 item 2): the faster derivation gives the same blocks.

The derivation before the work (commit ``tests/_old_blocks.BEFORE_COMMIT``, read from git) and
today's run side by side on the shared extracts and must agree block for block; the pieces that
changed are checked on their own: homes carried through the splits against a fresh lookup,
rectangle clipping against the general intersection, the hull grid against numpy's unique.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely

from lifecircle.network import WalkNetwork
from lifecircle.profiles import load_profile
from lifecircle.sources import blocks as blocks_mod
from lifecircle.sources.block_split import _clip, grid_pieces, owner_of, parts_of
from lifecircle.sources.osm import read_osm
from tests._old_blocks import old_blocks_module
from tests.conftest import shared_osm

SETTINGS = load_profile("gb50180-2018").population


def _inputs(name: str):
    data = read_osm(shared_osm(name))
    net = WalkNetwork.from_osm(data)
    return data, net.edges_gdf()[["highway", "geometry"]], net.crs


def _derive(module, data, streets, crs):
    bld = module.buildings_from_osm(data, crs)
    blk = module.blocks_from_osm(data, streets, bld, SETTINGS)
    pop, method = module.estimate_population(blk, bld, SETTINGS)
    return bld, blk, pop, method


def _keys(geoms: np.ndarray) -> list[bytes]:
    return list(shapely.to_wkb(shapely.normalize(shapely.set_precision(geoms, 0.01))))


@pytest.mark.parametrize(
    "name",
    ["nanjing_xinjiekou.osm.gz", "beijing_haidian.osm.gz", "taichung_xitun.osm.gz",
     "andorra.osm.pbf", "monaco.osm.pbf"],
)
def test_same_blocks_and_people_as_before_the_array_work(name):
    data, streets, crs = _inputs(name)
    old = old_blocks_module()
    if old is None:
        pytest.skip("git cannot show the old derivation here")
    o_bld, o_blk, o_pop, o_method = _derive(old, data, streets, crs)
    n_bld, n_blk, n_pop, n_method = _derive(blocks_mod, data, streets, crs)
    columns = list(o_bld.columns)  # today's add rep_x, rep_y
    assert n_bld[columns].equals(o_bld)
    assert len(n_blk) == len(o_blk) > 50
    assert n_blk.area.sum() == pytest.approx(o_blk.area.sum(), rel=1e-12)
    assert n_pop.sum() == pytest.approx(o_pop.sum(), rel=1e-12)
    # block for block: the same outline (1 cm), method and people; the order (so the ids)
    # differs: the faces are listed by their lowest-left vertex (planar.faces), not in
    # polygonize's order, and a grid cell cutting a block in several parts lists them in
    # another order under rectangle clipping than under the general intersection
    def table(blk, pop, method):
        keys = _keys(blk.geometry.to_numpy())
        return sorted(zip(keys, blk["block_method"], np.round(pop, 6), method, strict=True))

    assert table(n_blk, n_pop, n_method) == table(o_blk, o_pop, o_method)

    def derivation(blk):  # the blocks left above the maximum named by outline, not id
        out = dict(blk.attrs["derivation"])
        key = dict(zip(blk["block_id"], _keys(blk.geometry.to_numpy()), strict=True))
        out["above_max_blocks"] = sorted(
            (key[r["block_id"]], r["area_ha"], r["population"], r["reason"])
            for r in out["above_max_blocks"])
        return out

    assert derivation(n_blk) == derivation(o_blk)
    split = n_blk.attrs["derivation"]
    assert split["split_by_ways"] + split["split_by_buildings"] > 0  # the splits were run


@pytest.mark.parametrize("name", ["nanjing_xinjiekou.osm.gz", "monaco.osm.pbf"])
def test_homes_carried_through_the_splits_match_a_fresh_lookup(name, monkeypatch):
    data, streets, crs = _inputs(name)
    seen = []
    split = blocks_mod._split

    def checked(blk, interior, homes, settings):
        out = split(blk, interior, homes, settings)
        seen.append((blk.owner.copy(), owner_of(homes.points, blk.geoms), blk.split))
        return out

    monkeypatch.setattr(blocks_mod, "_split", checked)
    _derive(blocks_mod, data, streets, crs)
    (carried, fresh, stats), = seen
    assert stats["split_by_ways"] > 0 and stats["split_by_buildings"] > 0
    assert (fresh >= 0).sum() > 900
    np.testing.assert_array_equal(carried, fresh)


def test_rectangle_clipping_matches_the_intersection():
    # a 10 x 10 square with a 6 x 6 hole (2..8): rectangles across the hole, along its edge,
    # inside it and around the whole
    ring = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (8, 2), (8, 8), (2, 8)]])
    x0 = np.array([0.0, 2.0, 3.0, -1.0, 0.0])
    y0 = np.array([0.0, 0.0, 3.0, -1.0, 5.0])
    sx = np.array([5.0, 3.0, 2.0, 12.0, 10.0])
    sy = np.array([5.0, 5.0, 2.0, 12.0, 5.0])
    polys = np.array([ring] * x0.size, dtype=object)
    got = _clip(polys, x0, y0, x0 + sx, y0 + sy)
    # by hand: 25 - 9; 15 - 9; inside the hole; the whole 100 - 36; the upper half 50 - 18
    np.testing.assert_allclose(shapely.area(got), [16.0, 6.0, 0.0, 64.0, 32.0])
    assert shapely.is_valid(got).all()
    assert shapely.equals(got[0], shapely.intersection(polys[0], shapely.box(0, 0, 5, 5)))
    # the general intersection adds the line where the rectangle runs along the hole
    assert shapely.equals(got[1], shapely.box(2, 0, 5, 2))


def test_grid_pieces_tile_their_parents():
    parents = np.array([
        shapely.Polygon([(0, 0), (90, 0), (90, 60), (0, 60)], [[(10, 10), (40, 10), (40, 50)]]),
        shapely.Point(200, 0).buffer(30),
    ], dtype=object)
    pieces, parent = grid_pieces(parents, np.array([400.0, 300.0]))
    assert shapely.is_valid(pieces).all()
    for i in range(2):
        mine = pieces[parent == i]
        assert shapely.area(mine).sum() == pytest.approx(parents[i].area, rel=1e-9)
        assert shapely.area(shapely.union_all(mine)) == pytest.approx(parents[i].area, rel=1e-9)
        assert shapely.area(mine).max() <= [400.0, 300.0][i] + 1e-9


def test_hull_grid_is_numpys_unique_and_the_limit_keeps_every_point_inside(monkeypatch):
    rng = np.random.default_rng(5)
    xy = np.concatenate([rng.uniform(0, 3000, (4000, 2)), rng.uniform(5000, 6000, (500, 2))])
    for cell in (20.0, 60.0):
        want = np.unique(np.round(xy / cell) * cell, axis=0)
        got = blocks_mod._grid_points(blocks_mod._on_grid(xy, cell), cell)
        np.testing.assert_array_equal(got, want)
    pts = shapely.points(xy)
    lines = np.empty(0, dtype=object)
    fine = blocks_mod._limit(lines, pts)
    monkeypatch.setattr(blocks_mod, "LIMIT_MAX_POINTS", 800)  # 20 m grid: ~4,400 points
    coarse = blocks_mod._limit(lines, pts)
    for limit in (fine, coarse):
        # each point lies inside by at least the margin less the grid's rounding (0.71 cell)
        assert shapely.contains_properly(limit, pts).all()
    inner = shapely.distance(shapely.boundary(coarse), pts).min()
    assert inner >= 60.0 - 60.0 * np.sqrt(0.5) - 1e-6  # 20 m x ceil(sqrt(4400 / 800)) = 60 m


@pytest.mark.parametrize("side", [100.0, 20.0])
def test_tiled_clipping_gives_the_pieces_of_direct_clipping(side, monkeypatch):
    from lifecircle.sources import block_split

    # a many-vertex parent (a city's outer face) with a hole, cut into 20 x 20 cells (one
    # level of tiles) or 100 x 100 (tiles of 64 cells, then of 8)
    outer = shapely.Point(0, 0).buffer(1000, quad_segs=600)
    hole = shapely.Point(130, -70).buffer(300, quad_segs=200)
    parents = np.array([shapely.Polygon(outer.exterior, [hole.exterior])], dtype=object)
    assert shapely.get_num_coordinates(parents)[0] > block_split.TILE_VERTICES
    cell = np.array([side**2])
    tiled, t_par = grid_pieces(parents, cell)
    assert (t_par == 0).all()
    monkeypatch.setattr(block_split, "TILE_VERTICES", 10**9)
    direct, d_par = grid_pieces(parents, cell)
    assert (d_par == 0).all()
    assert len(tiled) == len(direct) > 300
    assert _keys(tiled) == _keys(direct)  # the same pieces in the same order
    assert shapely.area(tiled).sum() == pytest.approx(shapely.area(parents[0]), rel=1e-12)


@pytest.mark.parametrize("name", ["monaco.osm.pbf", "andorra.osm.pbf"])
def test_half_edge_faces_give_the_blocks_of_geos_faces(name, monkeypatch):
    from lifecircle.sources import planar

    data, streets, crs = _inputs(name)
    _, by_geos, pop_geos, _ = _derive(blocks_mod, data, streets, crs)  # a town: GEOS's faces
    monkeypatch.setattr(planar, "GEOS_BELOW", 0)  # the half-edge walk, as for a city
    _, by_walk, pop_walk, _ = _derive(blocks_mod, data, streets, crs)
    assert len(by_walk) == len(by_geos) > 500

    def table(blk, pop):  # the order may differ where a grid cell cuts a face in parts:
        # their order follows the face's first vertex, which the two walks choose apart
        keys = _keys(blk.geometry.to_numpy())
        return sorted(zip(keys, blk["block_method"], np.round(pop, 6), strict=True))

    assert table(by_walk, pop_walk) == table(by_geos, pop_geos)


def test_owner_of_disjoint_tests_large_polygons_against_the_free_points_only(monkeypatch):
    from lifecircle.sources import block_split

    # a many-vertex disc with two square holes, each hole filled by a small square face
    disc = shapely.Point(0, 0).buffer(1000, quad_segs=1500)
    holes = [shapely.box(-500, -100, -300, 100), shapely.box(300, -100, 500, 100)]
    outer = shapely.Polygon(disc.exterior, [h.exterior for h in holes])
    polys = np.array([outer, *holes], dtype=object)
    assert shapely.get_num_coordinates(polys)[0] > block_split.BIG_VERTICES
    # by hand: in the disc, in each hole, on a hole's edge (in no face), outside everything
    pts = shapely.points([(0, 500), (-400, 0), (400, 50), (-300, 0), (2000, 0)])
    want = np.array([0, 1, 2, -1, -1])
    np.testing.assert_array_equal(owner_of(pts, polys, disjoint=True), want)
    np.testing.assert_array_equal(owner_of(pts, polys), want)
    rng = np.random.default_rng(3)
    many = shapely.points(rng.uniform(-1100, 1100, (5000, 2)))
    np.testing.assert_array_equal(owner_of(many, polys, disjoint=True), owner_of(many, polys))


def test_split_calls_give_the_result_of_one_call(monkeypatch):
    from lifecircle.sources import _halves

    monkeypatch.setattr(_halves, "workers", lambda: 3)
    seen = []
    parts = _halves.in_parts(lambda s: seen.append(s) or (s.start, s.stop), 10, min_part=3)
    assert parts == [(0, 3), (3, 6), (6, 10)]  # three threads, consecutive, in order
    assert _halves.in_parts(lambda s: (s.start, s.stop), 5, min_part=3) == [(0, 5)]
    rng = np.random.default_rng(4)
    polys = shapely.buffer(shapely.points(rng.uniform(0, 1000, (500, 2))), 5.0)
    monkeypatch.setattr(_halves, "MIN_PART", 100)
    split = _halves.elementwise(shapely.point_on_surface, polys)
    assert shapely.equals_identical(split, shapely.point_on_surface(polys)).all()
    box = shapely.box(0, 0, 500, 500)
    assert (_halves.elementwise(shapely.contains, box, split)
            == shapely.contains(box, split)).all()

    def fail(s):
        if s.start:
            raise ValueError("part two")
        return s

    with pytest.raises(ValueError, match="part two"):
        _halves.in_parts(fail, 10, min_part=3)
    assert _halves.alongside(lambda: 7)() == 7
    with pytest.raises(ZeroDivisionError):
        _halves.alongside(lambda: 1 / 0)()


def test_owner_of_takes_coordinates_and_skips_points_without_them():
    rng = np.random.default_rng(8)
    squares = shapely.box(*np.array([[x, y, x + 90, y + 90] for x in range(0, 1000, 100)
                                     for y in range(0, 1000, 100)], dtype=float).T)
    xy = rng.uniform(-50, 1050, (3000, 2))
    xy[:20] = np.nan
    pts = shapely.points(xy)  # NaN coordinates: points without a position
    by_xy = owner_of(xy, squares)
    want = np.full(xy.shape[0], -1)
    i, j = np.floor(xy[20:] / 100).astype(int).T
    inside = (xy[20:] % 100 > 0).all(axis=1) & (xy[20:] % 100 < 90).all(axis=1)
    inside &= (i >= 0) & (i < 10) & (j >= 0) & (j < 10)
    want[20:][inside] = (i * 10 + j)[inside]
    np.testing.assert_array_equal(by_xy, want)
    np.testing.assert_array_equal(owner_of(pts, squares), want)
    np.testing.assert_array_equal(owner_of(xy, squares, disjoint=True), want)


def test_segments_of_multi_lines_are_those_of_their_parts():
    from lifecircle.sources import planar

    lines = np.array([
        shapely.LineString([(0, 0), (1, 0), (1, 1)]),
        shapely.MultiLineString([[(5, 5), (6, 5)], [(7, 7), (8, 7), (8, 8)]]),
        shapely.from_wkt("MULTILINESTRING ((2 2, 3 2), EMPTY)"),
        shapely.LineString([(9, 9), (9, 9), (10, 9)]),  # a zero-length segment is left out
    ], dtype=object)
    a, b = planar._segments(lines)
    want = [((0, 0), (1, 0)), ((1, 0), (1, 1)), ((5, 5), (6, 5)), ((7, 7), (8, 7)),
            ((8, 7), (8, 8)), ((2, 2), (3, 2)), ((9, 9), (10, 9))]
    assert [(tuple(p), tuple(q)) for p, q in zip(a, b, strict=True)] == want


def test_faces_built_over_threads_are_those_of_one_call(monkeypatch):
    from lifecircle.sources import _halves, planar

    rng = np.random.default_rng(2)
    grid = [shapely.LineString([(0, y), (400, y)]) for y in range(0, 401, 20)]
    grid += [shapely.LineString([(x, 0), (x, 400)]) for x in range(0, 401, 20)]
    corners = {(int(x), int(y)) for x, y in rng.integers(0, 20, (30, 2)) * 20}
    holes = [shapely.box(x + 5, y + 5, x + 10, y + 10).boundary for x, y in sorted(corners)]
    lines = np.array(grid + holes, dtype=object)
    one = planar.faces(lines, geos_below=0)
    monkeypatch.setattr(_halves, "workers", lambda: 3)
    monkeypatch.setattr(_halves, "MIN_PART", 50)
    split = planar.faces(lines, geos_below=0)
    # 400 grid cells, as many of them holed as there are islands, and the islands
    assert len(one) == 400 + len(corners)
    assert (shapely.get_num_interior_rings(one) == 1).sum() == len(corners)
    assert shapely.equals_identical(one, split).all()


def test_owner_of_by_tree_and_by_kernel_agree(monkeypatch):
    from lifecircle.sources import block_split

    rng = np.random.default_rng(11)
    polys = shapely.buffer(shapely.points(rng.uniform(0, 2000, (400, 2))), 60.0)  # overlapping
    xy = rng.uniform(-100, 2100, (4000, 2))
    xy[::97] = np.nan
    by_tree = owner_of(xy, polys)
    monkeypatch.setattr(block_split, "KERNEL_FROM", 0)  # every call by the kernel
    by_kernel = owner_of(xy, polys)
    np.testing.assert_array_equal(by_tree, by_kernel)
    assert (by_kernel >= 0).sum() > 1000 and (by_kernel[::97] == -1).all()
    # the first polygon by position holds a point several polygons hold
    hits = shapely.contains_xy(polys[:, None], xy[None, :, 0], xy[None, :, 1])
    first = np.where(hits.any(axis=0), hits.argmax(axis=0), -1)
    np.testing.assert_array_equal(by_kernel, first)


def test_no_geometry_is_used_by_two_threads_at_once(monkeypatch):
    """GEOS prepared geometries are not thread-safe (a 1M-node run crashed in contains_xy on
    one prepared outline shared by both threads): a geometry passed whole is copied per
    thread, and groups of elements sharing a geometry stay in one thread."""
    from lifecircle.sources import _halves

    monkeypatch.setattr(_halves, "workers", lambda: 3)
    monkeypatch.setattr(_halves, "MIN_PART", 4)
    seen: list[list[object]] = []  # the objects themselves: ids of freed copies recur

    def record(geoms, x, y):
        seen.append(list(np.atleast_1d(geoms)))
        return shapely.contains_xy(geoms, x, y)

    box = shapely.box(0, 0, 10, 10)
    shapely.prepare(box)
    x = np.linspace(-5, 15, 40)
    assert (_halves.elementwise(record, box, x, x) == ((x > 0) & (x < 10))).all()
    assert len({id(objs[0]) for objs in seen}) == len(seen) == 3  # one object per thread
    # an unsorted array repeating two prepared polygons: each object in one part only, and
    # the results in the caller's order
    polys = np.array([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 7, 7)], dtype=object)
    shapely.prepare(polys)
    which = np.array([1, 0] * 10)
    px = np.where(which == 0, 0.5, 6.0) + np.tile([0.0, 3.0], 10)
    seen.clear()
    got = _halves.elementwise(record, polys[which], px, px, groups=which)
    np.testing.assert_array_equal(got, shapely.contains_xy(polys[which], px, px))
    owners = [{id(g) for g in objs} for objs in seen]
    assert len(owners) == 2 and not owners[0] & owners[1]


def test_in_parts_never_splits_a_run_of_equal_labels(monkeypatch):
    from lifecircle.sources import _halves

    monkeypatch.setattr(_halves, "workers", lambda: 4)
    labels = np.array([0] * 7 + [1] * 2 + [2] * 9 + [3])
    parts = _halves.in_parts(lambda s: (s.start, s.stop), labels.size, min_part=2,
                             bounds=labels)
    assert parts[0][0] == 0 and parts[-1][1] == labels.size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    for start, _ in parts[1:]:
        assert labels[start] != labels[start - 1]
    one = _halves.in_parts(lambda s: (s.start, s.stop), 6, min_part=2, bounds=np.zeros(6))
    assert one == [(0, 6)]


def test_population_from_the_derivation_matches_a_fresh_lookup():
    """The derivation hands its homes' floor areas to ``estimate_population`` (for the same
    buildings frame): equal to the buildings module's fresh lookup for all blocks and a
    subset, and (falling back to it) for moved outlines, other buildings or blocks that went
    through pickle; the hand-over ends with the buildings frame."""
    import gc
    import pickle

    from lifecircle.sources import block_homes
    from lifecircle.sources.buildings import estimate_population as fresh

    data, streets, crs = _inputs("nanjing_xinjiekou.osm.gz")
    bld = blocks_mod.buildings_from_osm(data, crs)
    blk = blocks_mod.blocks_from_osm(data, streets, bld, SETTINGS)
    assert id(bld) in block_homes._DERIVED
    moved = blk.copy()
    moved["geometry"] = moved.geometry.translate(0.0, 30.0)
    other = bld.iloc[: len(bld) // 2].copy()
    # the same blocks reversed (as many, in another order) and with their ids as objects:
    # looked up by id, not taken in the derivation's order
    as_objects = blk.copy()
    as_objects["block_id"] = as_objects["block_id"].astype(object)
    cases = ((blk, bld), (blk.iloc[::3].copy(), bld), (moved, bld), (blk, other),
             (pickle.loads(pickle.dumps(blk)), bld), (blk.iloc[::-1].copy(), bld),
             (as_objects, bld))
    for frame, buildings in cases:
        got, want = blocks_mod.estimate_population(frame, buildings, SETTINGS), fresh(
            frame, buildings, SETTINGS)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert (blocks_mod.estimate_population(blk, bld, SETTINGS)[1] == "buildings").sum() > 50
    # the same frame edited in place after the derivation: the people follow the edit
    before = blocks_mod.estimate_population(blk, bld, SETTINGS)[0].sum()
    bld["levels"] = 20.0
    after = blocks_mod.estimate_population(blk, bld, SETTINGS)
    np.testing.assert_array_equal(after[0], fresh(blk, bld, SETTINGS)[0])
    assert after[0].sum() > 2 * before
    # blocks without the derivation's columns go the fresh way (no KeyError)
    bare = blk.drop(columns=["buildings_mapped"])
    np.testing.assert_array_equal(blocks_mod.estimate_population(bare, bld, SETTINGS)[0],
                                  fresh(bare, bld, SETTINGS)[0])
    key = id(bld)
    del bld, cases, buildings, frame
    gc.collect()
    assert key not in block_homes._DERIVED


def test_parts_are_get_parts_with_the_single_geometries_themselves():
    multi = shapely.MultiPolygon([shapely.box(2, 2, 3, 3), shapely.box(4, 4, 5, 5)])
    single = shapely.box(0, 0, 1, 1)
    geoms = np.array([single, multi, shapely.Polygon(),
                      shapely.GeometryCollection([shapely.LineString([(0, 0), (1, 1)])]),
                      shapely.MultiPolygon([shapely.box(9, 9, 10, 10)])], dtype=object)
    shapely.prepare(geoms)  # as the derivation's look-ups leave them
    parts, idx = blocks_mod._parts(geoms)
    assert not shapely.is_prepared(parts).any()  # no prepared index carried through the run
    want, want_idx = shapely.get_parts(geoms, return_index=True)
    np.testing.assert_array_equal(idx, [0, 1, 1, 2, 3, 4])
    np.testing.assert_array_equal(idx, want_idx)
    assert list(shapely.to_wkb(parts)) == list(shapely.to_wkb(want))
    assert parts[0] is single  # not a copy


def test_grid_pieces_take_apart_a_cell_the_parent_cuts_in_two():
    # a U open to the north, 4 m wide and 6 m high; 16 m2 cells are 4 x 3 m: the lower one
    # holds the base and the arms up to 3 m (8 m2), the upper one the arms' tops (3 m2 each)
    u_shape = shapely.Polygon([(0, 0), (4, 0), (4, 6), (3, 6), (3, 1), (1, 1), (1, 6), (0, 6)])
    pieces, parent = grid_pieces(np.array([u_shape], dtype=object), np.array([16.0]))
    assert parent.tolist() == [0, 0, 0]
    assert (shapely.get_type_id(pieces) == 3).all()
    want = shapely.get_parts(shapely.intersection(
        u_shape, shapely.box(*np.array([[0, 0, 4, 3], [0, 3, 4, 6]]).T)))
    assert sorted(shapely.normalize(p).wkt for p in pieces) == sorted(
        shapely.normalize(p).wkt for p in want)
    assert sorted(shapely.area(pieces).tolist()) == [3.0, 3.0, 8.0]
    mixed = np.array([u_shape, shapely.MultiPolygon([shapely.box(0, 0, 1, 1),
                                                     shapely.box(2, 2, 3, 3)])], dtype=object)
    parts, idx, kept = parts_of(mixed)
    assert parts[0] is u_shape and idx.tolist() == [0, 1, 1]
    assert kept.tolist() == [True, False, False]
    assert [p.wkt for p in parts[1:]] == [p.wkt for p in shapely.get_parts(mixed[1])]


def test_access_points_take_the_derivations_face_points():
    """The derivation's points of the faces that became blocks as they were are the access
    points' (the same GEOS points, not made again); a copy of the blocks (new frame), moved
    blocks and a second call make them afresh, to the same coordinates."""
    import shapely

    from lifecircle.sources import block_gates

    data, streets, crs = _inputs("nanjing_xinjiekou.osm.gz")
    bld = blocks_mod.buildings_from_osm(data, crs, footprints=False)
    blk = blocks_mod.blocks_from_osm(data, streets, bld, SETTINGS)
    held = block_gates._POINTS[id(blk)]
    assert 0 < held[2].sum() < len(blk)  # some blocks are faces as they were, some pieces
    fresh = blocks_mod.access_points(blk.copy())
    got = blocks_mod.access_points(blk)
    assert id(blk) not in block_gates._POINTS  # taken once
    assert got.drop(columns="geometry").equals(fresh.drop(columns="geometry"))
    assert shapely.equals_exact(got.geometry.to_numpy(), fresh.geometry.to_numpy(), 0).all()
    centre = (got["ap_kind"] == "centroid").to_numpy()
    from_faces = {id(p) for p in held[1][held[2]]}
    assert sum(id(p) in from_faces for p in got.geometry.to_numpy()[centre]) > 0
    again = blocks_mod.access_points(blk)
    assert shapely.equals_exact(again.geometry.to_numpy(), got.geometry.to_numpy(), 0).all()


def test_access_points_make_again_the_point_of_a_block_set_in_place():
    """A block whose polygon is replaced in the frame itself (``.loc``) after the derivation
    gets the point of its new polygon, not the derivation's point of the old one."""
    import shapely

    from lifecircle.sources import block_gates

    data, streets, crs = _inputs("nanjing_xinjiekou.osm.gz")
    bld = blocks_mod.buildings_from_osm(data, crs, footprints=False)
    blk = blocks_mod.blocks_from_osm(data, streets, bld, SETTINGS)
    held = block_gates._POINTS[id(blk)]
    i = int(np.flatnonzero(held[2])[0])  # a block whose derivation point is held
    moved = shapely.affinity.translate(blk.geometry.iloc[i], 500.0, 0.0)
    blk.loc[blk.index[i], "geometry"] = moved
    got = blocks_mod.access_points(blk)
    rep = got[(got["block_id"] == blk["block_id"].iloc[i]) & (got["ap_kind"] == "centroid")]
    assert len(rep) == 1
    point = rep.geometry.iloc[0]
    assert shapely.equals_exact(point, shapely.point_on_surface(moved), 0)
    assert moved.contains(point)

