"""The compiled per-facility outline (:mod:`lifecircle.isochrones.outline`) against the
contourpy path it replaces for single-tile grids: the same cells and the same polygons (zero
symmetric difference), valid, with the holes a hand-made grid of blocks must have; on random
small graphs (hypothesis) and on the shared Monaco extract.

The reference is the same ``facility_isochrones`` call with the compiled outline switched off
(every entity then goes through ``_entity_tiles``: numba stamping, contourpy, ``.rings``).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lifecircle.isochrones.polygons as polygons
from lifecircle import isochrones as iso
from lifecircle.network import WalkNetwork
from lifecircle.snapping import snap_points
from tests.conftest import shared_osm

CRS = "EPSG:32650"


def _none_small(ax, ay, bx, by, band, ent_start, ent_stop, **kw):
    """Stand-in for ``single_tile_bands`` that outlines nothing (all go to contourpy)."""
    return np.zeros(len(ent_start), dtype=bool), np.empty((0, kw["n_bands"]), dtype=object)


def both(net: WalkNetwork, snap, ids, monkeypatch: pytest.MonkeyPatch, **kw):
    """(compiled outline, contourpy reference) rows of ``facility_isochrones``."""
    new = iso.facility_isochrones(net, snap, ids, category="c", speed_kmh=4.8, **kw)
    with monkeypatch.context() as m:
        m.setattr(polygons, "single_tile_bands", _none_small)
        old = iso.facility_isochrones(net, snap, ids, category="c", speed_kmh=4.8, **kw)
    return new, old


def assert_same(new, old) -> None:
    g_new = new.geometry.to_numpy()
    g_old = old.geometry.to_numpy()
    assert len(g_new) == len(g_old)
    assert shapely.is_valid(g_new).all()
    assert (shapely.get_type_id(g_new) == 6).all()  # MultiPolygon, as the contourpy path
    sym = shapely.area(shapely.symmetric_difference(g_new, g_old))
    assert sym.max() == 0.0
    assert shapely.equals(g_new, g_old).all()
    # the same outline vertices (collinear ones dropped on both sides)
    assert (shapely.get_num_coordinates(g_new) == shapely.get_num_coordinates(g_old)).all()
    # a ring may start at another of its vertices: GEOS sums the area in another order
    np.testing.assert_allclose(new["area_m2"].to_numpy(), old["area_m2"].to_numpy(),
                               rtol=1e-12, atol=1e-9)


def grid_net(n: int, step: float) -> WalkNetwork:
    """An ``n x n`` lattice of streets ``step`` metres apart."""
    ij = np.arange(n * n)
    x = (ij % n) * step
    y = (ij // n) * step
    right = ij[(ij % n) < n - 1]
    up = ij[ij < n * (n - 1)]
    return WalkNetwork.from_arrays(crs=CRS, node_id=ij, x=x.astype(float), y=y.astype(float),
                                   edge_u=np.concatenate([right, up]),
                                   edge_v=np.concatenate([right + 1, up + n]))


def test_grid_of_blocks_has_one_hole_per_block(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4 x 4 streets 100 m apart (3 x 3 blocks), everything within 15 min; a 20 m walk-in
    # leaves the middle of every block out: one shell with nine holes
    net = grid_net(4, 100.0)
    snap = snap_points(net, np.array([150.0]), np.array([5.0]), max_snap_m=50)
    new, old = both(net, snap, ["f"], monkeypatch, bands_min=(15.0,), walk_in_m=20.0,
                    cell_m=2.0)
    assert_same(new, old)
    poly = new.geometry.iloc[0]
    assert len(poly.geoms) == 1
    assert shapely.get_num_interior_rings(poly.geoms[0]) == 9
    # each hole is a square of the block less the walk-in on both sides (up to the outline's
    # 2.2 cells), centred on the block
    for ring in poly.geoms[0].interiors:
        hole = shapely.Polygon(ring)
        c = hole.centroid
        assert c.x % 100 == pytest.approx(50.0, abs=1e-6)
        assert c.y % 100 == pytest.approx(50.0, abs=1e-6)
        assert (100 - 2 * 20) ** 2 <= hole.area <= (100 - 2 * (20 - 2.2 * 2.0)) ** 2


def test_grid_bands_rings_and_cumulative(monkeypatch: pytest.MonkeyPatch) -> None:
    net = grid_net(6, 80.0)
    snap = snap_points(net, np.array([200.0, 10.0]), np.array([190.0, 3.0]), max_snap_m=50)
    for cumulative in (False, True):
        new, old = both(net, snap, ["a", "b"], monkeypatch, bands_min=(1.0, 2.0, 3.5),
                        walk_in_m=25.0, cell_m=3.0, cumulative=cumulative,
                        points_xy=(np.array([200.0, 10.0]), np.array([190.0, 3.0])))
        assert_same(new, old)
        g = new.geometry.to_numpy().reshape(2, 3)
        if cumulative:  # nested
            assert shapely.covers(g[:, 1], g[:, 0]).all()
            assert shapely.covers(g[:, 2], g[:, 1]).all()
        else:  # rings do not overlap
            for k in range(2):
                assert shapely.area(shapely.intersection(g[:, k], g[:, k + 1])).max() < 1e-6


def test_unsnapped_and_unreached_facilities_get_empty_polygons(
        monkeypatch: pytest.MonkeyPatch) -> None:
    net = grid_net(3, 100.0)
    snap = snap_points(net, np.array([50.0, 5000.0]), np.array([0.0, 5000.0]), max_snap_m=50)
    new, old = both(net, snap, ["on", "far"], monkeypatch, bands_min=(2.0,), walk_in_m=20.0)
    assert_same(new, old)
    assert not new.geometry.iloc[0].is_empty
    assert new.geometry.iloc[1].is_empty


def test_a_grid_wider_than_a_tile_goes_to_the_tiled_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 1.6 km at 1 m cells: more than TILE_CELLS centres across, outlined by contourpy tiles
    net = grid_net(3, 800.0)
    snap = snap_points(net, np.array([800.0]), np.array([5.0]), max_snap_m=50)
    calls = []
    real = polygons.single_tile_bands

    def spy(*a, **k):
        out = real(*a, **k)
        calls.append(out[0].copy())
        return out

    monkeypatch.setattr(polygons, "single_tile_bands", spy)
    new = iso.facility_isochrones(net, snap, ["f"], category="c", speed_kmh=4.8,
                                  bands_min=(30.0,), walk_in_m=4.0, cell_m=1.0)
    assert calls and not calls[0].any()
    assert shapely.is_valid(new.geometry.iloc[0]) and not new.geometry.iloc[0].is_empty


@st.composite
def small_graph(draw):
    n = draw(st.integers(3, 12))
    xy = draw(st.lists(st.tuples(st.floats(0, 400), st.floats(0, 400)), min_size=n,
                       max_size=n))
    m = draw(st.integers(n - 1, 2 * n))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          min_size=m, max_size=m))
    pairs = [(u, v) for u, v in pairs if u != v] or [(0, 1)]
    n_fac = draw(st.integers(1, 4))
    fac = draw(st.lists(st.tuples(st.floats(0, 400), st.floats(0, 400)), min_size=n_fac,
                        max_size=n_fac))
    bands = draw(st.sampled_from([(2.0,), (1.0, 3.0), (0.5, 1.5, 4.0)]))
    walk_in = draw(st.floats(6.0, 60.0))
    cell = draw(st.floats(1.0, walk_in / 4.0))
    cumulative = draw(st.booleans())
    return xy, pairs, fac, bands, walk_in, cell, cumulative


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=small_graph())
def test_random_graphs_same_polygons_as_contourpy(case, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    xy, pairs, fac, bands, walk_in, cell, cumulative = case
    xy = np.asarray(xy, dtype=float)
    u = np.array([p[0] for p in pairs])
    v = np.array([p[1] for p in pairs])
    net = WalkNetwork.from_arrays(crs=CRS, node_id=np.arange(xy.shape[0]), x=xy[:, 0],
                                  y=xy[:, 1], edge_u=u, edge_v=v)
    f = np.asarray(fac, dtype=float)
    snap = snap_points(net, f[:, 0], f[:, 1], max_snap_m=500)
    ids = [f"f{i}" for i in range(f.shape[0])]
    new, old = both(net, snap, ids, monkeypatch, bands_min=bands, walk_in_m=walk_in,
                    cell_m=cell, cumulative=cumulative, points_xy=(f[:, 0], f[:, 1]))
    assert_same(new, old)


def test_monaco_facilities_same_polygons_as_contourpy(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    path = shared_osm("monaco.osm.pbf")
    from lifecircle.profiles import load_profile
    from lifecircle.sources.facilities import facilities_from_osm
    from lifecircle.sources.osm import read_osm

    data = read_osm(path)
    net = WalkNetwork.from_osm(data)
    prof = load_profile("walk15")
    fac = facilities_from_osm(data, prof).to_crs(net.crs).reset_index(drop=True).iloc[::4]
    x, y = fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()
    snap = snap_points(net, x, y, max_snap_m=prof.max_snap_m)
    ids = fac["facility_id"].astype(str).tolist()
    new, old = both(net, snap, ids, monkeypatch, points_xy=(x, y))  # 5/10/15 min rings
    assert_same(new, old)
    assert (~new.geometry.is_empty).sum() > 0.9 * len(new)


def test_cut_pieces_hand_computed() -> None:
    """Stretches cut from two edges: an L of projected length 20 walked as 20 m, and a
    straight 20 m line walked as 40 m (positions scale by a half)."""
    from lifecircle.isochrones.cut import cut_pieces

    xy = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 0.0], [0.0, 20.0]])
    edge_ptr = np.array([0, 3, 5])
    offsets = np.array([0.0, 10.0, 20.0, 0.0, 20.0])
    length_m = np.array([20.0, 40.0])
    edge = np.array([0, 0, 0, 1])
    start = np.array([5.0, 0.0, 10.0, 10.0])
    end = np.array([15.0, 20.0, 20.0, 30.0])
    coords, line = cut_pieces(edge, start, end, edge_ptr, length_m, offsets, xy)
    expected = [[5, 0], [10, 0], [10, 5],  # across the corner vertex
                [0, 0], [10, 0], [10, 10],  # the whole edge, its geometry exactly
                [10, 0], [10, 10],  # from the corner: the corner is the start, not interior
                [0, 5], [0, 15]]  # 10..30 walked metres are 5..15 projected
    np.testing.assert_allclose(coords, expected)
    np.testing.assert_array_equal(line, [0, 0, 0, 1, 1, 1, 2, 2, 3, 3])


def test_tile_stamping_gives_the_reference_cells():
    """A city tile is stamped with the row runs of ``.stamp`` (``stamp_kernel``): the very
    cells of the per-cell reference test (``.polygons._stamp_kernel``), also for the
    neighbouring segments a tile gets whose capsule lies partly or wholly off its grid, for
    segments along a grid axis and for points."""
    rng = np.random.default_rng(4)
    stamped = 0
    for t in range(400):
        n = int(rng.integers(1, 40))
        h, w = (int(v) for v in rng.integers(4, 50, 2))
        ax, ay = rng.uniform(-15, w + 15, n), rng.uniform(-15, h + 15, n)
        bx, by = ax + rng.normal(0, 8, n), ay + rng.normal(0, 8, n)
        if t % 3 == 0:
            bx[: n // 2] = ax[: n // 2]
        if t % 4 == 0:
            by[: n // 3] = ay[: n // 3]
        band = rng.integers(0, 3, n).astype(np.int64)
        ref = _stamped_alike(ax, ay, bx, by, band, float(rng.uniform(0.5, 6.0)), h, w)
        stamped += bool((ref < 3).any())
    assert stamped > 300  # most grids get cells


def _stamped_alike(ax, ay, bx, by, band, reach, h, w):
    """The per-cell reference's stamp of the segments on an ``h`` x ``w`` grid, asserted
    equal to the compiled kernel's."""
    from lifecircle.isochrones.polygons import _stamp_kernel
    from lifecircle.isochrones.stamp import stamp_kernel

    ref = np.full((h, w), 3, np.uint8)
    _stamp_kernel()(ax, ay, bx, by, band, reach, ref)
    ours = np.full((h, w), 3, np.uint8)
    stamp_kernel()(ax, ay, bx, by, band, reach, ours.reshape(-1), w, h)
    np.testing.assert_array_equal(ours, ref)
    return ref


def test_streets_stamped_as_runs_give_the_reference_cells():
    """Streets (runs of consecutive segments sharing their ends, as a city's are: short
    segments with sharp turns, back tracks, bands changing along a street and points)
    stamped with ``.stamp``'s row runs: the very cells of the per-cell reference test
    (``.polygons._stamp_kernel``), a fixture for any stamping that merges a street's runs."""
    rng = np.random.default_rng(11)
    stamped = 0
    for t in range(300):
        h, w = (int(v) for v in rng.integers(4, 60, 2))
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        bands: list[np.ndarray] = []
        for _ in range(int(rng.integers(1, 6))):
            m = int(rng.integers(2, 30))
            # short steps (a few cells, as city streets) turning by up to 180 degrees
            ang = np.cumsum(rng.uniform(-np.pi, np.pi, m - 1) * (t % 2 + 0.3))
            step = rng.exponential(3.0, m - 1)
            px = np.concatenate([[rng.uniform(-10, w + 10)], np.cos(ang) * step])
            py = np.concatenate([[rng.uniform(-10, h + 10)], np.sin(ang) * step])
            xs.append(np.cumsum(px))
            ys.append(np.cumsum(py))
            bb = np.full(m - 1, int(rng.integers(0, 3)), np.int64)
            if t % 4 == 0:  # a band change along the street
                bb[(m - 1) // 2:] = int(rng.integers(0, 3))
            bands.append(bb)
        ax = np.concatenate([x[:-1] for x in xs])
        ay = np.concatenate([y[:-1] for y in ys])
        bx = np.concatenate([x[1:] for x in xs])
        by = np.concatenate([y[1:] for y in ys])
        band = np.concatenate(bands)
        if t % 5 == 0:  # a point and an axis-parallel segment within the streets
            bx[0], by[0] = ax[0], ay[0]
            by[-1] = ay[-1]
        ref = _stamped_alike(ax, ay, bx, by, band, float(rng.uniform(0.5, 6.0)), h, w)
        stamped += len(np.unique(ref)) > 2  # more than one band on the grid
    assert stamped > 100


def test_tile_stamped_in_place_gives_the_reference_cells():
    """A city tile is stamped from its segments' indices, at its first cell's offset, into
    the tracer's padded grid (``stamp_tile_kernel``, ``.trace.tile_grid``): its first ``w``
    columns are the cells the per-cell reference gives the shifted segments on a grid ``w``
    wide, whatever the padded columns got."""
    from lifecircle.isochrones.polygons import _stamp_kernel
    from lifecircle.isochrones.stamp import stamp_tile_kernel
    from lifecircle.isochrones.trace import tile_grid

    rng = np.random.default_rng(7)
    stamped = 0
    for t in range(300):
        n = int(rng.integers(1, 60))
        h, w = (int(v) for v in rng.integers(4, 50, 2))
        ox, oy = (float(v) for v in rng.integers(-500, 500, 2))
        ax, ay = rng.uniform(-15, w + 15, n) + ox, rng.uniform(-15, h + 15, n) + oy
        bx, by = ax + rng.normal(0, 8, n), ay + rng.normal(0, 8, n)
        if t % 3 == 0:
            bx[: n // 2] = ax[: n // 2]
        band = rng.integers(0, 3, n).astype(np.int64)
        sel = np.sort(rng.choice(n, int(rng.integers(1, n + 1)), replace=False)).astype(np.int32)
        reach = float(rng.uniform(0.5, 6.0))
        ref = np.full((h, w), 3, np.uint8)
        _stamp_kernel()(ax[sel] - ox, ay[sel] - oy, bx[sel] - ox, by[sel] - oy, band[sel],
                        reach, ref)
        grid = tile_grid(h, w, 3)
        assert grid.shape[1] > w and grid.shape[1] % 8 == 0
        first = stamp_tile_kernel()(ax, ay, bx, by, band, sel, ox, oy, reach,
                                    grid.reshape(-1), grid.shape[1], h)
        np.testing.assert_array_equal(grid[:, :w], ref)
        # the first column a run starts in: the first stamped cell of the padded grid
        stamped_cols = np.flatnonzero((grid < 3).any(axis=0))
        assert first == (stamped_cols[0] if stamped_cols.size else grid.shape[1])
        stamped += bool((ref < 3).any())
    assert stamped > 200  # most grids get cells


def test_rings_several_levels_pass_alike_traced_once_same_polygons(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A facility's ring that several band levels pass the same way (a block's hole inside
    the first band is a hole of every level) is traced once and copied: the same bytes as
    tracing it for each level, rings and cumulative."""
    net = grid_net(7, 60.0)
    xy = np.array([[190.0, 185.0], [20.0, 3.0]])
    snap = snap_points(net, xy[:, 0], xy[:, 1], max_snap_m=50)
    from lifecircle.isochrones import outline

    real = polygons.single_tile_bands
    copied: list[int] = []

    def each_level(*a, **k):
        return real(*a, **{**k, "reuse": False})

    def counted(*a, **k):
        out = real(*a, **k)
        copied.append(outline.copied_rings())
        return out

    for cumulative in (False, True):
        kw = dict(category="c", speed_kmh=4.8, bands_min=(2.0, 4.0, 6.0), walk_in_m=20.0,
                  cell_m=2.0, cumulative=cumulative, points_xy=(xy[:, 0], xy[:, 1]))
        copied.clear()
        with monkeypatch.context() as m:
            m.setattr(polygons, "single_tile_bands", counted)
            once = iso.facility_isochrones(net, snap, ["a", "b"], **kw)
        assert sum(copied) > 0  # rings traced once were copied for the levels above
        with monkeypatch.context() as m:
            m.setattr(polygons, "single_tile_bands", each_level)
            every = iso.facility_isochrones(net, snap, ["a", "b"], **kw)
        assert (shapely.to_wkb(once.geometry.to_numpy())
                == shapely.to_wkb(every.geometry.to_numpy())).all()
        np.testing.assert_array_equal(once["area_m2"], every["area_m2"])
        # the first band holds holes (blocks 60 m across, 2 x 20 m walk-in): the copies ran
        first = once.geometry.to_numpy().reshape(2, 3)[0, 0]
        assert shapely.get_num_interior_rings(shapely.get_geometry(first, 0)) > 0
