"""A run's isochrones at city scale: the automatic cell, and the layer written one category at a
time (lifecircle.isochrones.iter_isochrones, lifecircle.outputs.isochrone_file)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest
import shapely

import lifecircle.isochrones as iso
from lifecircle.outputs.geopackage import read_metadata
from lifecircle.outputs.isochrone_file import read_isochrones
from tests.conftest import shared_osm


def test_auto_cell_follows_the_grid_budget():
    """5 m while the network's 5 m bounding grid (plus the walk-in on each side) fits the
    budget, 10 m above it, never more than a quarter of the walk-in."""
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm

    monaco = WalkNetwork.from_osm(read_osm(shared_osm("monaco.osm.pbf")))
    assert iso.auto_cell_m(monaco) == 5.0  # Monaco: far below the default budget
    # one 1,000 m street, 50 m walk-in each side: (1,100 / 5) x (100 / 5) = 4,400 cells
    net = WalkNetwork.from_arrays(crs=32650, node_id=np.arange(2), x=np.array([0.0, 1000.0]),
                                  y=np.zeros(2), edge_u=np.array([0]), edge_v=np.array([1]))
    assert iso.auto_cell_m(net, max_cells=4400) == 5.0
    assert iso.auto_cell_m(net, max_cells=4399) == 10.0
    assert iso.auto_cell_m(net, 30.0, max_cells=1) == 7.5  # walk_in / 4
    assert iso.auto_cell_m(net, 16.0, max_cells=1) == 4.0  # the fine cell is already coarsest


def test_settings_record_the_cell_and_who_chose_it(monkeypatch):
    from tests.helpers import monaco_sources

    net = monaco_sources(1, seed=0, offset_m=5.0, limit_m=100.0)[0]
    auto = iso.isochrone_settings(net)
    assert auto["cell_m"] == 5.0 and auto["cell_auto"] is True
    given = iso.isochrone_settings(net, cell_m=10.0)
    assert given["cell_m"] == 10.0 and given["cell_auto"] is False
    monkeypatch.setattr(iso.bands, "AUTO_MAX_CELLS", 1)
    assert iso.isochrone_settings(net)["cell_m"] == 10.0
    assert iso.isochrone_settings(net, cell_m=5.0)["cell_m"] == 5.0  # the user's cell wins


@pytest.fixture(scope="module")
def monaco_runs(tmp_path_factory):
    """The same Monaco run twice: isochrones kept in memory, and streamed into the
    GeoPackage category by category (every network counted as large)."""
    from lifecircle import pipeline, result

    base = tmp_path_factory.mktemp("stream")
    kw = dict(figures=False, map=False, rasters=False)
    osm = shared_osm("monaco.osm.pbf")
    kept = pipeline.run(osm, out=base / "kept", **kw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(result, "ISOCHRONES_IN_MEMORY_MAX_EDGES", 0)
        streamed = pipeline.run(osm, out=base / "streamed", **kw)
    return kept, streamed


def test_streamed_layer_is_the_in_memory_layer(monaco_runs):
    kept, streamed = monaco_runs
    assert kept.isochrones is not None and len(kept.isochrones) > 0
    assert streamed.isochrones is None  # written, not held
    a = read_isochrones(kept.out)
    b = read_isochrones(streamed.out)
    assert len(a) == len(b) == len(kept.isochrones)
    cols = list(iso.ISOCHRONE_COLUMNS)
    assert (a[cols].astype(str).to_numpy() == b[cols].astype(str).to_numpy()).all()
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    assert shapely.equals_exact(ga, gb, tolerance=0.0).all()
    assert a.crs == b.crs
    info = [pyogrio.read_info(r.out / "lifecircle.gpkg", layer="isochrones") for r in monaco_runs]
    assert info[0]["geometry_type"] == info[1]["geometry_type"] == "MultiPolygon"
    assert list(info[0]["fields"]) == list(info[1]["fields"])
    assert list(info[0]["dtypes"]) == list(info[1]["dtypes"])
    # one category at a time: the filter reads that category's rows only
    cat = str(a["category"].iloc[0])
    one = read_isochrones(streamed.out, category=cat)
    assert len(one) == int((a["category"] == cat).sum()) > 0


def test_layer_description_and_metadata_name_the_cell(monaco_runs):
    for res in monaco_runs:
        gpkg = res.out / "lifecircle.gpkg"
        meta = read_metadata(gpkg)["isochrones"]
        assert meta["cell_m"] == 5.0 and meta["cell_auto"] is True and meta["enabled"]
        info = pyogrio.read_info(gpkg, layer="isochrones")
        with sqlite3.connect(gpkg) as con:
            (text,) = con.execute("SELECT description FROM gpkg_contents "
                                  "WHERE table_name = 'isochrones'").fetchone()
        assert "5 m grid (automatic" in text and "50 m" in text, text
        assert info["features"] == len(read_isochrones(gpkg))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_banded_stretches_are_every_band_without_its_repeats(seed):
    """A category's stretches made once per (node, edge) while they grow equal those of every
    node in every band that reaches it (the naive rows) once the repeats of earlier bands are
    dropped; the reached street metres are the naive bands' whole reach."""
    from lifecircle.isochrones.polygons import _lowest_band
    from lifecircle.isochrones.search import (
        _source_rows,
        _stretches,
        banded_stretches,
        unrepeated,
        usable_sources,
    )
    from tests.helpers import monaco_sources

    budgets = np.array([200.0, 450.0, 700.0])
    net, _, src, nodes = monaco_sources(6, seed=seed, offset_m=5.0, limit_m=700.0)
    src = usable_sources(net, src)
    rows = _source_rows(src, np.zeros(len(src), np.int64), budgets)
    d = nodes.dist_m
    node = np.flatnonzero(d <= budgets[-1])
    band = np.searchsorted(budgets, d[node], side="left")
    n_rep = 3 - band
    rep = np.repeat(np.arange(node.shape[0]), n_rep)
    band_all = np.concatenate([np.arange(b, 3) for b in band]).astype(np.int64)
    naive = _stretches(net, band_all, node[rep], budgets[band_all] - d[node[rep]], *rows)
    pieces, street = banded_stretches(net, d, budgets, *rows)
    assert len(pieces) < len(naive)  # the repeats were not made
    expect = _lowest_band(naive, 3)
    for f in ("group", "edge", "start_m", "end_m"):
        np.testing.assert_array_equal(getattr(pieces, f), getattr(expect, f))
    # no repeats left for the polygons to drop (they skip that pass, ``unrepeated=True``)
    assert unrepeated(pieces, 3).shape[0] == len(pieces)
    np.testing.assert_allclose(street, naive.length_m(3), rtol=1e-12)
    assert (np.diff(street) > 0).all()


def test_outputs_timings_name_their_parts(monaco_runs):
    """``run_metadata.timings_s`` of a saved run holds the outputs stage and its parts
    (rewritten into the GeoPackage once known): the parts written in the run's process add up
    to no more than the stage, the products switched off have none."""
    from lifecircle.result import OUTPUT_PARTS

    for run in monaco_runs:
        timings = read_metadata(run.out / "lifecircle.gpkg")["timings_s"]
        assert timings == run.metadata["timings_s"]
        parts = {k.removeprefix("outputs_"): v for k, v in timings.items()
                 if k.startswith("outputs_") and not k.startswith("outputs_worker_")}
        assert {"gpkg_layers", "isochrones", "reports"} <= set(parts) <= set(OUTPUT_PARTS)
        assert not {"map", "figures", "rasters"} & set(parts)  # switched off
        assert all(v >= 0 for v in parts.values())
        assert sum(parts.values()) <= timings["outputs"]
        assert timings["network"] > 0  # the analysis' stages are still there


def test_a_second_save_times_itself_alone(monaco_runs, tmp_path):
    """Saving a result again replaces the outputs' timings: a part is not added to the
    earlier save's, and a part the second save did not write is gone."""
    from lifecircle.config import Outputs

    kept = monaco_runs[0]
    kept.metadata["timings_s"]["outputs_rasters"] = 99.0  # as if an earlier save wrote them
    kept.save(tmp_path / "again", Outputs(figures=False, map=False, rasters=False))
    timings = read_metadata(tmp_path / "again" / "lifecircle.gpkg")["timings_s"]
    parts = {k: v for k, v in timings.items() if k.startswith("outputs_")}
    assert "outputs_rasters" not in parts and "outputs_gpkg_layers" in parts
    assert sum(v for k, v in parts.items() if not k.startswith("outputs_worker_")) \
        <= timings["outputs"]
