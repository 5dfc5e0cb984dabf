"""One snap of two point sets equals a snap of each (the run snaps facilities and block
access points together), and ``snap_alt`` parsed against a network rebuilt from the layer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from lifecircle.network import WalkNetwork
from lifecircle.snapping import Snap, parse_alt, snap_points
from tests.helpers import X0, Y0
from tests.test_snapping import _lattice


def _same(a: Snap, b: Snap) -> None:
    (fa, oa), (fb, ob) = a.candidates(), b.candidates()
    np.testing.assert_array_equal(oa, ob)
    np.testing.assert_array_equal(fa.edge, fb.edge)
    np.testing.assert_array_equal(fa.along_m, fb.along_m)
    np.testing.assert_array_equal(fa.dist_m, fb.dist_m)
    np.testing.assert_array_equal(a.status, b.status)
    assert a.rule is not None and b.rule is not None
    np.testing.assert_array_equal(a.rule, b.rule)


def test_one_snap_of_two_sets_equals_two_snaps():
    """Each point's snap depends on its own position and limit only: facilities (one limit)
    and access points (a limit each, some too short to reach any street) snapped together
    give, point by point, what two snaps give, alternatives and unreachable reasons too."""
    net = WalkNetwork.from_networkx(_lattice(fragment=((120, -540), (180, -540))))
    rng = np.random.default_rng(5)
    fx, fy = X0 + rng.uniform(-80, 380, 120), Y0 + rng.uniform(-600, 380, 120)
    ax, ay = X0 + rng.uniform(-80, 380, 200), Y0 + rng.uniform(-600, 380, 200)
    a_lim = rng.uniform(5.0, 400.0, 200)
    f_alone = snap_points(net, fx, fy, max_snap_m=150.0)
    a_alone = snap_points(net, ax, ay, max_snap_m=a_lim)
    assert (~f_alone.ok).any() and (~a_alone.ok).any()  # unreachable points on both sides
    assert f_alone.alt is not None and f_alone.alt.point.size > 0
    both = snap_points(net, np.concatenate([fx, ax]), np.concatenate([fy, ay]),
                       max_snap_m=np.concatenate([np.full(120, 150.0), a_lim]))
    _same(both.subset(np.arange(120)), f_alone)
    _same(both.subset(np.arange(120, 320)), a_alone)


def test_parse_alt_by_edge_key_drops_missing_edges():
    """With a network, alternatives are matched by (snap_u, snap_v, snap_key); one naming an
    edge the network lacks is dropped, empty and missing rows have none."""
    net = WalkNetwork.from_networkx(_lattice())
    rng = np.random.default_rng(3)
    x, y = X0 + rng.uniform(-50, 350, 100), Y0 + rng.uniform(-50, 350, 100)
    s = snap_points(net, x, y, max_snap_m=300)
    assert s.alt is not None and s.alt.point.size > 1
    col = s.fields(net)["snap_alt"].copy()
    by_key = parse_alt(col, net)
    np.testing.assert_array_equal(by_key.point, s.alt.point)
    np.testing.assert_array_equal(by_key.edge, s.alt.edge)
    np.testing.assert_array_equal(by_key.along_m, s.alt.along_m)
    # the first alternative's edge renamed to one that does not exist
    p = int(s.alt.point[0])
    items = json.loads(col.iloc[p])
    items[0]["snap_u"] = 999_999
    col.iloc[p] = json.dumps(items)
    col.iloc[int(np.setdiff1d(np.arange(100), s.alt.point)[0])] = ""
    col = pd.concat([col, pd.Series([None])], ignore_index=True)
    dropped = parse_alt(col, net)
    assert dropped.point.size == s.alt.point.size - 1
    np.testing.assert_array_equal(dropped.edge, s.alt.edge[1:])
    np.testing.assert_array_equal(dropped.point, s.alt.point[1:])
    assert parse_alt(pd.Series([None, ""], dtype=object)).point.size == 0
