"""Snapping that never picks the far street (issue 13.5): near ties and fragments, by hand.

Fixture: a lattice of 4 columns × 5 rows with 100 m spacing (x in 0..300, y in 0..400), as
GraphML, plus an optional 2-node fragment. Every figure below is computed by hand in the docstrings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle.network import WalkNetwork
from lifecircle.pipeline import run
from lifecircle.routing import multi_source, point_distances
from lifecircle.snapping import RULE_NEAREST, RULE_PAST_FRAGMENT, TIE_REL, Snap, snap_points
from tests.helpers import CRS, SPEED_KMH, X0, Y0, oracle_distances, rederive_from_gpkg


def _lattice(fragment: tuple[tuple[float, float], tuple[float, float]] | None = None
             ) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(crs=CRS)
    for c in range(4):
        for r in range(5):
            g.add_node(10 * c + r + 1, x=X0 + 100 * c, y=Y0 + 100 * r)
    pairs = [(10 * c + r + 1, 10 * (c + 1) + r + 1) for c in range(3) for r in range(5)]
    pairs += [(10 * c + r + 1, 10 * c + r + 2) for c in range(4) for r in range(4)]
    if fragment is not None:
        (ax, ay), (bx, by) = fragment
        g.add_node(901, x=X0 + ax, y=Y0 + ay)
        g.add_node(902, x=X0 + bx, y=Y0 + by)
        pairs.append((901, 902))
    for a, b in pairs:
        for s, t in ((a, b), (b, a)):
            p, q = g.nodes[s], g.nodes[t]
            line = shapely.LineString([(p["x"], p["y"]), (q["x"], q["y"])])
            g.add_edge(s, t, key=0, length=line.length, geometry=line, osmid=0, oneway=False,
                       reversed=False)
    return g


def _case(folder: Path, g: nx.MultiDiGraph, shop: tuple[float, float],
          block_centre: tuple[float, float]) -> tuple[Path, Path, Path]:
    import osmnx as ox

    folder.mkdir(parents=True, exist_ok=True)
    graphml = folder / "g.graphml"
    ox.save_graphml(g, graphml)
    fac = gpd.GeoDataFrame({"id": ["shop"], "category": ["retail"]},
                           geometry=[shapely.Point(X0 + shop[0], Y0 + shop[1])], crs=CRS)
    cx, cy = block_centre
    blocks = gpd.GeoDataFrame(
        {"block_id": ["B"], "population": [100.0]},
        geometry=[shapely.box(X0 + cx - 10, Y0 + cy - 10, X0 + cx + 10, Y0 + cy + 10)], crs=CRS)
    fac.to_file(folder / "fac.gpkg", engine="pyogrio")
    blocks.to_file(folder / "blocks.gpkg", engine="pyogrio")
    return graphml, folder / "fac.gpkg", folder / "blocks.gpkg"


def test_shop_between_two_parallel_streets_gets_the_shorter_walk(tmp_path):
    """The shop at (150, 49.79) is 49.79 m from y = 0 (its nearest street) and 50.21 m from
    y = 100 (within 5 % of the leg; the sides x = 100 and x = 200 at 50 m too). The block's
    centre (150, 499.79) is 99.79 m from y = 400
    (the corners (100, 400) and (200, 400) are 111.6 m away, beyond 5 %: one snap).

    Through y = 100: 50.21 + 50 + 300 (up x = 100 or 200) + 50 + 99.79 = 550.00 m.
    Through y = 0 only (the old single snap): 49.79 + 50 + 400 + 50 + 99.79 = 649.58 m.
    """
    graphml, fac, blocks = _case(tmp_path, _lattice(), (150, 49.79), (150, 499.79))
    res = run(graphml, facilities=fac, blocks=blocks, speed_kmh=SPEED_KMH,
              categories=["retail"], out=tmp_path / "out", map=False, figures=False,
              rasters=False)
    assert res.blocks.iloc[0]["walk_m_retail"] == pytest.approx(550.0, abs=1e-6)
    shop = res.facilities.iloc[0]
    assert shop.snap_dist_m == pytest.approx(49.79)  # the primary snap is still the nearest
    assert shop.snap_rule == RULE_NEAREST
    alts = pd.DataFrame(json.loads(shop.snap_alt))
    # the cell's four sides: y = 100 at 50.21 m and x = 100, x = 200 at 50 m are within 5 %
    assert sorted(alts["snap_dist_m"].round(2)) == [50.0, 50.0, 50.21]
    north = alts[alts["snap_dist_m"].round(2) == 50.21].iloc[0]
    assert {int(north.snap_u), int(north.snap_v)} == {12, 22}
    reported, oracle = rederive_from_gpkg(tmp_path / "out" / "lifecircle.gpkg", "retail")
    np.testing.assert_allclose(reported, oracle, atol=0.01)
    assert reported[0] == pytest.approx(550.0, abs=1e-6)


def test_tie_tolerance_is_five_percent_of_the_leg():
    """In the cell x 100..200, y 0..100: at (150, 40) the other sides are 50 m (x = 100, 200)
    and 60 m (y = 100) away, beyond 42 m: one snap. At (150, 48.7) the sides at 50 m are within
    51.135 m, y = 100 at 51.3 m is not. At (150, 49) all three (50, 50, 51 <= 51.45) are."""
    net = WalkNetwork.from_networkx(_lattice())
    s = snap_points(net, np.full(3, X0 + 150), Y0 + np.array([40.0, 48.7, 49.0]),
                    max_snap_m=300)
    assert s.alt is not None
    got = [sorted(np.round(s.alt.dist_m[s.alt.point == i], 6)) for i in range(3)]
    assert got == [[], [50.0, 50.0], [50.0, 50.0, 51.0]]
    assert 50.0 <= 48.7 * (1 + TIE_REL) < 51.3 and 51.0 <= 49.0 * (1 + TIE_REL)


def test_alternatives_at_a_junction_merge():
    """A point 3 m diagonally off the junction (100, 100), outside the lattice's cells'
    interiors, projects onto the junction node from every edge there: one snap, no
    alternatives (they would add nothing)."""
    net = WalkNetwork.from_networkx(_lattice())
    s = snap_points(net, np.array([X0 - 3.0]), np.array([Y0 - 3.0]), max_snap_m=300)
    assert s.ok.all()
    assert s.alt is not None and s.alt.point.size == 0
    assert s.dist_m[0] == pytest.approx(math.hypot(3, 3))


def test_block_next_to_a_fragment_reaches_the_main_network(tmp_path):
    """The block's centre (150, -118.6) is 21.4 m from a 2-node fragment (120..180 at
    y = -140) and 118.6 m from the lattice's street y = 0, where the shop (150, 20) stands.
    Snapped past the fragment: 118.6 + 0 along + 20 = 138.6 m; on the fragment: unreachable."""
    g = _lattice(fragment=((120, -140), (180, -140)))
    graphml, fac, blocks = _case(tmp_path, g, (150, 20), (150, -118.6))
    res = run(graphml, facilities=fac, blocks=blocks, speed_kmh=SPEED_KMH,
              categories=["retail"], out=tmp_path / "out", map=False, figures=False,
              rasters=False)
    ap = res.access_points.iloc[0]
    assert ap.snap_rule == RULE_PAST_FRAGMENT
    assert ap.snap_dist_m == pytest.approx(118.6)
    assert res.blocks.iloc[0]["walk_m_retail"] == pytest.approx(138.6)
    reported, oracle = rederive_from_gpkg(tmp_path / "out" / "lifecircle.gpkg", "retail")
    np.testing.assert_allclose(reported, oracle, atol=0.01)


def test_fragment_kept_when_the_main_network_is_beyond_max_snap():
    net = WalkNetwork.from_networkx(_lattice(fragment=((120, -540), (180, -540))))
    s = snap_points(net, np.array([X0 + 150]), np.array([Y0 - 520.0]), max_snap_m=300)
    assert s.ok.all() and s.rule is not None and s.rule[0] == RULE_NEAREST
    assert s.dist_m[0] == pytest.approx(20.0)


def test_fields_round_trip_and_subset():
    """``Snap.from_columns(snap.fields(net))`` gives back every snap, alternatives included;
    a subset by booleans or indices keeps each point's alternatives."""
    net = WalkNetwork.from_networkx(_lattice())
    rng = np.random.default_rng(3)
    x, y = X0 + rng.uniform(-50, 350, 200), Y0 + rng.uniform(-50, 350, 200)
    s = snap_points(net, x, y, max_snap_m=300)
    assert s.alt is not None and s.alt.point.size > 0
    back = Snap.from_columns(s.fields(net))
    assert back.alt is not None
    (fa, oa), (fb, ob) = s.candidates(), back.candidates()
    np.testing.assert_array_equal(oa, ob)
    np.testing.assert_array_equal(fa.edge, fb.edge)
    np.testing.assert_array_equal(fa.along_m, fb.along_m)
    np.testing.assert_array_equal(fa.dist_m, fb.dist_m)
    pick = np.flatnonzero(np.isin(np.arange(200), s.alt.point))[:5]
    sub_i = s.subset(pick)
    sub_b = s.subset(np.isin(np.arange(200), pick))
    assert sub_i.alt is not None and sub_b.alt is not None
    np.testing.assert_array_equal(sub_i.alt.edge, sub_b.alt.edge)
    assert set(sub_i.alt.point) == set(range(5))


def test_random_points_with_alternatives_match_the_oracle():
    """Many near ties on the lattice: engine times equal networkx over all snaps."""
    net = WalkNetwork.from_networkx(_lattice())
    rng = np.random.default_rng(11)
    fx, fy = X0 + rng.uniform(0, 300, 6), Y0 + rng.uniform(0, 300, 6)
    px, py = X0 + rng.uniform(-80, 380, 150), Y0 + rng.uniform(-80, 380, 150)
    fsnap = snap_points(net, fx, fy, max_snap_m=300)
    psnap = snap_points(net, px, py, max_snap_m=300)
    assert psnap.alt is not None and psnap.alt.point.size > 10
    got, which = point_distances(net, multi_source(net, fsnap, limit_m=np.inf), fsnap, psnap)
    want = oracle_distances(net.edges_gdf(), fsnap.fields(net), psnap.fields(net))
    np.testing.assert_allclose(got, want, atol=1e-6)
    # the facility named is one at that distance
    for i in range(0, 150, 15):
        one = oracle_distances(net.edges_gdf(), fsnap.fields(net).iloc[[which[i]]],
                               psnap.fields(net).iloc[[i]])
        assert one[0] == pytest.approx(got[i], abs=1e-6)
