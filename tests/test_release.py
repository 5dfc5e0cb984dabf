"""A saving run lets go of what its outputs never read (the OSM features, the snap trees), and
a caller who keeps the result still gets them back (lifecircle.result, lifecircle.snapping)."""

from __future__ import annotations

import numpy as np

from lifecircle import pipeline
from lifecircle.config import Analysis
from lifecircle.network import WalkNetwork
from lifecircle.snapping import release_index, snap_points
from lifecircle.sources.osm import read_osm
from tests.conftest import shared_osm


def test_a_saving_run_releases_the_osm_features_and_reads_them_again_on_demand(tmp_path):
    osm = shared_osm("monaco.osm.pbf")
    result = pipeline.run(osm, out=tmp_path / "run", categories=["retail"], figures=False,
                          map=False, rasters=False, isochrones=False)
    assert result.__dict__["_osm"] is None  # not held through the outputs
    fresh = read_osm(osm)
    again = result.osm  # read again from the configured file
    assert again is not None and again is result.osm  # once
    assert np.array_equal(again.way_ids, fresh.way_ids)
    assert np.array_equal(again.refs, fresh.refs)
    assert len(again.buildings) == len(fresh.buildings) > 0


def test_analyse_keeps_the_osm_features_and_a_graphml_run_has_none(grid_case, tmp_path):
    result = pipeline.analyse(Analysis(osm=shared_osm("monaco.osm.pbf"), categories=["retail"]))
    data = result.osm
    assert data is not None
    result.release_osm()
    assert result.__dict__["_osm"] is None
    result.osm = data  # set by hand: held again, nothing to read
    assert result.osm is data and result.__dict__["_osm_released"] is False
    graph = pipeline.run(grid_case.graphml, facilities=grid_case.facilities,
                         blocks=grid_case.blocks, categories=["retail"], out=tmp_path / "g",
                         figures=False, map=False, rasters=False, isochrones=False)
    assert graph.osm is None  # a GraphML network has no features: none to read back


def test_snapping_after_the_trees_are_released_is_unchanged():
    net = WalkNetwork.from_osm(read_osm(shared_osm("monaco.osm.pbf")))
    rng = np.random.default_rng(3)
    x = rng.uniform(net.x.min(), net.x.max(), 500)
    y = rng.uniform(net.y.min(), net.y.max(), 500)
    first = snap_points(net, x, y, max_snap_m=300.0)
    assert "_edge_grid" in net.__dict__
    release_index(net)
    assert not {"_strtree", "_main_strtree", "_edge_grid"} & set(net.__dict__)
    second = snap_points(net, x, y, max_snap_m=300.0)  # the trees rebuilt
    assert np.array_equal(first.edge, second.edge)
    assert np.array_equal(first.along_m, second.along_m, equal_nan=True)
    assert np.array_equal(first.dist_m, second.dist_m, equal_nan=True)
    assert first.ok.sum() > 100
