"""The streaming loader (read_osm) against the single-loop loader it replaced.

On every shared extract both must give the same walkable-way arrays, stats, gates, kerbs,
step-free way tags, walls and fences, POIs, land use, vacant land and buildings; area
geometries equal in area to 1e-9 relative. Order within a list may differ (relation areas
come after closed-way areas in the new loader).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from lifecircle.sources.osm import read_osm
from tests._old_osm_loader import old_read_osm
from tests.conftest import shared_osm

EXTRACTS = (
    "monaco.osm.pbf",
    "andorra.osm.pbf",
    "aguascalientes.osm.pbf",
    "nanjing_xinjiekou.osm.gz",
    "beijing_haidian.osm.gz",
    "shanghai_center_roads.osm.gz",
    "taichung_xitun.osm.gz",
    "west_oakland.osm.bz2",
)


def _meta(item: tuple) -> str:
    """Everything but the geometry, NaN-safe (repr of NaN is stable)."""
    return repr(tuple(None if isinstance(v, float) and math.isnan(v) else v for v in item[:-1]))


@pytest.mark.parametrize("name", EXTRACTS)
def test_new_loader_equals_old(name):
    path = shared_osm(name)
    old, new = old_read_osm(path), read_osm(path)
    for attr in ("way_ids", "refs", "way_ptr"):
        np.testing.assert_array_equal(getattr(new, attr), getattr(old, attr), err_msg=attr)
    np.testing.assert_array_equal(new.ref_lon, old.ref_lon)
    np.testing.assert_array_equal(new.ref_lat, old.ref_lat)
    assert new.way_highway == old.way_highway
    assert new.way_name == old.way_name
    assert new.gates == old.gates
    assert new.barriers == old.barriers
    assert new.way_access == old.way_access
    np.testing.assert_array_equal(new.barrier_nodes, old.barrier_nodes)
    assert new.stats == old.stats
    assert old.pois, "every shared extract has POIs: the comparison must not be empty"
    for attr in ("pois", "landuse", "vacant", "buildings", "landuse_other"):
        a = {(x[0], x[1]): x for x in getattr(old, attr)}
        b = {(x[0], x[1]): x for x in getattr(new, attr)}
        assert a.keys() == b.keys(), attr
        keys = sorted(a)
        assert [_meta(a[k]) for k in keys] == [_meta(b[k]) for k in keys], attr
        geo = [k for k in keys if a[k][-1] is not None]
        assert all(b[k][-1] is not None for k in geo), attr
        if geo:
            area_old = shapely.area(shapely.from_wkb([a[k][-1] for k in geo]))
            area_new = shapely.area(shapely.from_wkb([b[k][-1] for k in geo]))
            np.testing.assert_allclose(area_new, area_old, rtol=1e-9, atol=0, err_msg=attr)


def test_clipped_ways_are_cut_and_counted_like_before(tmp_path):
    """A walkable way running off the extract: NaN coordinates there, counted in stats."""
    osm = tmp_path / "clip.osm"
    osm.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
        "<node id='1' lat='0.0' lon='0.0'/><node id='2' lat='0.0' lon='0.001'/>"
        "<node id='3' lat='0.0' lon='0.002'/>"
        "<way id='10'><nd ref='1'/><nd ref='2'/><nd ref='99'/><nd ref='3'/>"
        "<tag k='highway' v='footway'/></way>"
        "<way id='11'><nd ref='1'/><nd ref='2'/><nd ref='3'/><nd ref='1'/>"
        "<tag k='building' v='yes'/></way>"
        "</osm>\n"
    )
    old, new = old_read_osm(osm), read_osm(osm)
    assert new.stats == old.stats
    assert new.stats["ways_cut_at_missing_nodes"] == 1
    assert new.stats["missing_node_refs"] == 1
    np.testing.assert_array_equal(np.isnan(new.ref_lon), [False, False, True, False])
    np.testing.assert_array_equal(new.refs, [1, 2, 99, 3])
    # a degenerate closed way (three corners on one line) is a broken area in both
    assert new.stats["broken_areas_skipped"] == old.stats["broken_areas_skipped"] == 1
    assert len(new.buildings) == 0 and old.buildings == []
