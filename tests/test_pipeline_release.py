"""A saving run drops each OSM table after the step that reads it last, and computes the same
blocks, people and times as a run that keeps them (lifecircle.pipeline)."""

from __future__ import annotations

import numpy as np
import shapely

from lifecircle import pipeline
from lifecircle.config import Analysis
from lifecircle.sources import osm as osm_mod
from lifecircle.sources.osm import read_osm
from tests.conftest import shared_osm


def test_dropping_the_tables_changes_no_result_and_the_features_come_back(monkeypatch):
    path = shared_osm("monaco.osm.pbf")
    cfg = Analysis(osm=path, categories=["retail"])
    kept = pipeline.analyse(cfg)
    assert kept.__dict__["_osm"] is not None and len(kept.osm.buildings) > 0
    released: list[tuple[str, ...]] = []
    real = osm_mod.release_tables

    def spy(data, names):
        released.append(names)
        real(data, names)

    monkeypatch.setattr(pipeline, "release_tables", spy)
    dropped = pipeline.analyse(cfg, keep_osm=False)
    # the way tables after the network, the footprints and POIs once the buildings are made
    assert released == [osm_mod.NETWORK_TABLES, ("buildings", "pois", "landuse_other")]
    a, b = kept.blocks, dropped.blocks
    assert len(a) > 50 and list(a["block_id"]) == list(b["block_id"])
    assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=0).all()
    assert np.array_equal(a["population"].to_numpy(), b["population"].to_numpy())
    assert a["population"].sum() > 0
    assert a["walk_min_retail"].notna().sum() > 50  # times computed, and the same
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    pa, pb = kept.access_points, dropped.access_points
    assert pa.drop(columns="geometry").equals(pb.drop(columns="geometry"))
    # the result read the file again for a caller who asks (siting on OSM candidates)
    assert dropped.__dict__["_osm"] is None
    again = dropped.osm
    assert again is not None and len(again.buildings) == len(read_osm(path).buildings) > 0


def test_without_a_file_to_read_again_no_table_is_dropped(monkeypatch):
    # the bundled default extract (no ``osm`` configured): Result.release_osm could not read
    # it again, so the run keeps every table even when told it need not
    calls: list[object] = []
    monkeypatch.setattr(pipeline, "release_tables", lambda *a: calls.append(a))
    result = pipeline.analyse(Analysis(categories=["retail"]), keep_osm=False)
    assert calls == []
    assert result.__dict__["_osm"] is not None and len(result.osm.buildings) > 0


def test_a_changed_file_is_not_read_again_as_the_analysed_one(tmp_path):
    import shutil

    import pytest

    from lifecircle._errors import InputFileError

    path = tmp_path / "town.osm.pbf"
    shutil.copyfile(shared_osm("andorra.osm.pbf"), path)
    result = pipeline.analyse(Analysis(osm=path, categories=["retail"]), keep_osm=False)
    assert result.__dict__["_osm"] is None
    shutil.copyfile(shared_osm("monaco.osm.pbf"), path)  # replaced after the analysis
    with pytest.raises(InputFileError, match=r"town\.osm\.pbf: has changed since the analysis"):
        _ = result.osm
    assert result.__dict__["_osm"] is None  # nothing from the other file was kept
