"""The ring search of :func:`snap_points` against brute force: every point's distance to every
edge, the rules of the snapping module applied by hand (nearest edge, fragments passed over,
near ties within TIE_REL of the leg)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.network import WalkNetwork
from lifecircle.snapping import RULE_PAST_FRAGMENT, TIE_REL, snap_points
from tests.helpers import CRS, X0, Y0


def _network(seed: int) -> WalkNetwork:
    """A 6 × 6 lattice of 150 m with some streets left out, and a 2-node fragment 700 m off
    its corner (points near it pass over it only when a street is within their limit)."""
    rng = np.random.default_rng(seed)
    xy = {10 * c + r + 1: (X0 + 150.0 * c, Y0 + 150.0 * r) for c in range(6) for r in range(6)}
    pairs = [(10 * c + r + 1, 10 * (c + 1) + r + 1) for c in range(5) for r in range(6)]
    pairs += [(10 * c + r + 1, 10 * c + r + 2) for c in range(6) for r in range(5)]
    pairs = [p for p in pairs if rng.random() > 0.25]
    xy |= {901: (X0 - 700.0, Y0 - 700.0), 902: (X0 - 640.0, Y0 - 700.0)}
    pairs.append((901, 902))
    g = nx.MultiDiGraph(crs=CRS)
    g.add_nodes_from((n, {"x": x, "y": y}) for n, (x, y) in xy.items())
    lines = {(s, t): shapely.LineString([xy[s], xy[t]])
             for a, b in pairs for s, t in ((a, b), (b, a))}
    g.add_edges_from((s, t, 0, {"length": line.length, "geometry": line, "osmid": 0,
                                "oneway": False, "reversed": False})
                     for (s, t), line in lines.items())
    return WalkNetwork.from_networkx(g)


def _expected(net: WalkNetwork, pt: shapely.Point, lim: float, frag: np.ndarray
              ) -> tuple[int, float, bool, set[int]]:
    """(primary edge or -1, its leg, passed a fragment, edges within the tie reach)."""
    d = shapely.distance(pt, net.geometries)
    if d.min() > lim:
        return -1, np.nan, False, set()
    nearest = d == d.min()
    passed = bool(frag[nearest].all()) and bool((d[~frag] <= lim).any())
    eligible = ~frag if (passed or not frag[nearest].all()) else np.ones_like(frag)
    best = d[eligible].min()
    reach = max(min(best * (1 + TIE_REL), lim), best + 1e-6)
    within = set(np.flatnonzero(eligible & (d <= reach)).tolist())
    primary = int(np.flatnonzero(eligible & (d <= best + 1e-6)).min())
    return primary, float(d[primary]), passed, within


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_rings_agree_with_brute_force(seed):
    """Points from on a street to 1.2 km off the lattice (beyond the last ring), each with its
    own limit (some below the first ring), and near ties across the first ring: the primary
    snap is the brute-force nearest eligible edge, the alternatives lie within the tie reach,
    and those left out project onto an end node an earlier snap of the point reaches."""
    net = _network(seed)
    rng = np.random.default_rng(seed + 1)
    # and by every junction a point 39.5 m from one street and 40.5 m from the other: a
    # near tie across the first ring's radius
    corner_x, corner_y = np.meshgrid(150.0 * np.arange(6), 150.0 * np.arange(6))
    x = X0 + np.r_[rng.uniform(-1200, 1950, 84), corner_x.ravel() + 40.5]
    y = Y0 + np.r_[rng.uniform(-1200, 1950, 84), corner_y.ravel() + 39.5]
    n = x.size
    lim = rng.choice([25.0, 90.0, 300.0, 500.0, 1300.0], n)
    lim[84:] = 500.0
    s = snap_points(net, x, y, max_snap_m=lim)
    assert s.alt is not None and s.rule is not None
    comp = net.components
    sizes = np.bincount(comp)
    frag = (sizes <= 4)[comp[net.edge_u]] & (comp[net.edge_u] != np.argmax(sizes))
    for i in range(n):
        pt = shapely.Point(x[i], y[i])
        primary, leg, passed, within = _expected(net, pt, lim[i], frag)
        assert s.edge[i] == primary
        if primary < 0:
            assert s.status[i].startswith("unreachable")
            continue
        assert s.dist_m[i] == leg
        assert (s.rule[i] == RULE_PAST_FRAGMENT) == passed
        alts = set(s.alt.edge[s.alt.point == i].tolist())
        assert alts | {primary} <= within
        for e in within - alts - {primary}:
            frac = shapely.line_locate_point(net.geometries[e], pt, normalized=True)
            assert frac <= 0.0 or frac >= 1.0
