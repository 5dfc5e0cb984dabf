"""The figures' worker of a small saving run (:mod:`lifecircle.outputs._figure_worker`):
forked as the run starts, it imports matplotlib while the run analyses, then draws the
figures from what the run hands it (Arrow IPC and JSON, never pickle) at its outputs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import pytest

from lifecircle import columns as col
from lifecircle import pipeline
from lifecircle._errors import InputError, OutputError
from lifecircle.outputs import _background, _figure_worker, plots
from tests.conftest import shared_osm
from tests.helpers import (
    BROKEN_FIGURES,
    alive,
    break_the_run,
    broken_figures,
    ctrl_c_in_the_blocks,
    left_behind,
    make_grid_case,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="workers on Linux only")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_grid_case(tmp_path_factory.mktemp("grid"))


@pytest.fixture(scope="module")
def grid_result(grid):
    """Every walk15 category: retail and health with facilities (one on an island, reached
    from no block), the others without (drawn as "no data")."""
    from lifecircle.config import Analysis
    from lifecircle.pipeline import analyse

    return analyse(Analysis(osm=grid.graphml, facilities=grid.facilities, blocks=grid.blocks))


def _pngs(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "figures").glob("*.png"))}


# ---------------------------------------------------------------------------------------------
# the hand-over


def _round_trip(result):
    with tempfile.TemporaryFile() as shelf:
        _figure_worker.write_inputs(result, shelf, folder="/x/y", lang="zh")
        return _figure_worker.read_inputs(shelf, result.profile)


def test_the_hand_over_round_trips_what_the_figures_draw(grid_result):
    inputs, header = _round_trip(grid_result)
    assert header == {"folder": "/x/y", "lang": "zh"}
    assert inputs.report == {"summary": grid_result.report["summary"]}
    assert inputs.profile is grid_result.profile
    cats = list(grid_result.profile.categories)
    blk = grid_result.blocks
    assert list(inputs.blocks.columns) == [
        *(c for cat in cats for c in (col.walk_min(cat), col.covered(cat)) if c in blk.columns),
        "geometry"]
    for name in inputs.blocks.columns.drop("geometry"):  # minutes (NaN: unreachable), verdicts
        pd.testing.assert_series_equal(inputs.blocks[name], blk[name].reset_index(drop=True),
                                       check_dtype=False)
    # B4, 1.4 km from any street, stays unreachable (NaN, never a number)
    assert np.isnan(inputs.blocks[col.walk_min("retail")].to_numpy(dtype=float)).sum() == 1
    for mine, theirs in ((inputs.blocks, blk), (inputs.facilities, grid_result.facilities),
                         (inputs.edges, grid_result.edges)):
        assert len(mine) == len(theirs) > 0
        assert mine.crs == theirs.crs
        assert mine.geometry.geom_equals_exact(theirs.geometry.reset_index(drop=True),
                                               tolerance=0).all()
    assert list(inputs.facilities["category"]) == list(grid_result.facilities["category"])


def test_the_shelf_keeps_each_tables_crs_and_reads_a_shared_one_once():
    """The CRS crosses as WKT in the header (see :mod:`lifecircle.outputs._shelf`): each
    table comes back in its own CRS (or none), tables sharing one share one object (read
    once), and the tables given keep theirs."""
    import geopandas as gpd
    from pyproj import CRS
    from shapely.geometry import Point

    from lifecircle.outputs import _shelf

    pts = [Point(500_000.0, 4_000_000.0), Point(500_010.5, 4_000_020.25)]
    tables = {"a": gpd.GeoDataFrame({"v": [1, 2]}, geometry=pts, crs=32632),
              "b": gpd.GeoDataFrame({"v": [3, 4]}, geometry=pts, crs="EPSG:32632"),
              "c": gpd.GeoDataFrame({"v": [5, 6]}, geometry=pts, crs=4326),
              "d": gpd.GeoDataFrame({"v": [7, 8]}, geometry=pts)}
    with tempfile.TemporaryFile() as shelf:
        _shelf.put(shelf, {"k": 1}, tables)
        header, back = _shelf.take(shelf)
    assert header == {"k": 1}
    assert back["a"].crs == back["b"].crs == CRS.from_epsg(32632)
    assert back["a"].crs is back["b"].crs
    assert back["c"].crs == CRS.from_epsg(4326)
    assert back["d"].crs is None
    assert tables["a"].crs == CRS.from_epsg(32632)  # the caller's table is left as it was
    for name, frame in tables.items():
        assert list(back[name]["v"]) == list(frame["v"])
        assert back[name].geometry.geom_equals_exact(frame.geometry, tolerance=0).all()
    with tempfile.TemporaryFile() as shelf, pytest.raises(ValueError, match="'crs'"):
        _shelf.put(shelf, {"crs": "mine"}, tables)  # the shelf's own key: never overwritten


def test_numpy_numbers_in_the_summary_come_back_as_the_numbers_they_hold(grid_result):
    """The summary crosses as JSON: a NumPy number comes back as the Python number it holds
    (a figure formats ``3``, never ``"3"``), floats to the last bit, NaN as NaN."""
    from types import SimpleNamespace

    summary = {"categories": {"retail": {"facilities": np.int64(3), "covered": np.bool_(True),
                                         "share": np.float32(0.1), "median": np.nan,
                                         "third": 1 / 3}}}
    stand_in = SimpleNamespace(**{k: getattr(grid_result, k) for k in
                                  ("profile", "blocks", "facilities", "edges")},
                               report={"summary": summary})
    inputs, _ = _round_trip(stand_in)
    back = inputs.report["summary"]["categories"]["retail"]
    assert back["facilities"] == 3 and type(back["facilities"]) is int
    assert back["covered"] is True
    assert back["share"] == float(np.float32(0.1))
    assert np.isnan(back["median"]) and back["third"] == 1 / 3


def test_figures_of_the_hand_over_are_those_of_the_result(grid_result, tmp_path):
    """Byte for byte, in both languages."""
    inputs, _ = _round_trip(grid_result)
    for lang in ("en", "zh"):
        plots.write_figures(grid_result, tmp_path / f"result_{lang}", lang=lang)
        plots.write_figures(inputs, tmp_path / f"inputs_{lang}", lang=lang)
        theirs = _pngs(tmp_path / f"result_{lang}")
        assert len(theirs) == len(grid_result.profile.categories) + 2
        assert _pngs(tmp_path / f"inputs_{lang}") == theirs


# ---------------------------------------------------------------------------------------------
# when it is forked


@linux_only
def test_only_small_local_inputs_and_figures_on(grid, monkeypatch):
    from lifecircle.config import Analysis, Outputs

    analysis = Analysis(osm=grid.graphml, facilities=grid.facilities, blocks=grid.blocks)
    size = sum(p.stat().st_size for p in (grid.graphml, grid.facilities, grid.blocks))
    assert _figure_worker.input_bytes(analysis) == size
    assert _figure_worker.input_bytes(Analysis(place="Monaco")) is None
    assert _figure_worker.start(analysis, Outputs(figures=False)) is None
    monkeypatch.setattr(_figure_worker, "EARLY_FIGURES_MAX_BYTES", size - 1)
    assert _figure_worker.start(analysis, Outputs()) is None
    monkeypatch.setattr(_figure_worker, "EARLY_FIGURES_MAX_BYTES", size)
    monkeypatch.setattr(sys, "platform", "darwin")  # macOS and Windows: no fork
    assert _figure_worker.start(analysis, Outputs()) is None
    monkeypatch.setattr(sys, "platform", "linux")
    worker = _figure_worker.start(analysis, Outputs())
    assert worker is not None
    worker.cancel()
    assert not worker.job._process.is_alive()


def _spy(monkeypatch) -> dict:
    """The early figures' worker a run starts, and the outputs' workers it forks."""
    seen: dict = {"early": [], "outputs": []}
    real_start, real_bg = _figure_worker.start, _background.start

    def start(*args, **kwargs):
        seen["early"].append(real_start(*args, **kwargs))
        return seen["early"][-1]

    def bg(what, write, *, nodes):
        seen["outputs"].append(what)
        return real_bg(what, write, nodes=nodes)

    monkeypatch.setattr(_figure_worker, "start", start)
    monkeypatch.setattr(_background, "start", bg)
    return seen


@linux_only
def test_the_early_worker_draws_what_the_run_would_have(grid, tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    early = grid.run(out=tmp_path / "early", tiles="none")
    assert seen["early"][0] is not None and "figures" not in seen["outputs"]
    assert early.metadata["timings_s"]["outputs_worker_figures"] > 0  # from the hand-over
    monkeypatch.setattr(_figure_worker, "EARLY_FIGURES_MAX_BYTES", 0)
    grid.run(out=tmp_path / "late", tiles="none")
    assert seen["early"][1] is None and "figures" in seen["outputs"]
    assert len(_pngs(tmp_path / "late")) == 7
    assert _pngs(tmp_path / "early") == _pngs(tmp_path / "late")
    listed = (tmp_path / "early" / "_SUCCESS.json").read_text()
    assert "figures/deficiency.png" in listed and "figures/coverage_retail.png" in listed


@linux_only
def test_monaco_s_figures_from_the_early_worker_are_those_of_the_run(tmp_path, monkeypatch):
    osm = shared_osm("monaco.osm.pbf")
    seen = _spy(monkeypatch)
    pipeline.run(osm, out=tmp_path / "early", tiles="none", map=False, rasters=False,
                 isochrones=False)
    assert seen["early"][0] is not None
    monkeypatch.setattr(_figure_worker, "EARLY_FIGURES_MAX_BYTES", 0)
    pipeline.run(osm, out=tmp_path / "late", tiles="none", map=False, rasters=False,
                 isochrones=False)
    assert seen["early"][1] is None
    assert _pngs(tmp_path / "early") == _pngs(tmp_path / "late") != {}


@linux_only
@pytest.mark.parametrize("why", ["no room for the hand-over", "a network too large"])
def test_a_worker_not_handed_over_leaves_the_figures_to_the_outputs(grid, tmp_path,
                                                                    monkeypatch, why):
    """The early worker stopped at the hand-over (its file could not be written, or the
    network is past the hand-over's limit): the figures come from the outputs' worker."""
    seen = _spy(monkeypatch)
    if why == "a network too large":
        monkeypatch.setattr(_figure_worker, "HAND_OVER_MAX_NODES", 0)
    else:
        def full(*_args, **_kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(_figure_worker, "write_inputs", full)
    grid.run(out=tmp_path / "out", tiles="none")
    worker = seen["early"][0]
    assert worker is not None and not worker.job._process.is_alive()
    assert "figures" in seen["outputs"]
    assert len(_pngs(tmp_path / "out")) == 7


def test_no_fork_context_no_early_worker(grid, monkeypatch):
    """Where multiprocessing has no fork context (Windows), start() forks nothing and asks
    for none."""
    import multiprocessing

    from lifecircle.config import Analysis, Outputs

    def no_fork(method=None):
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    analysis = Analysis(osm=grid.graphml, facilities=grid.facilities, blocks=grid.blocks)
    assert _figure_worker.start(analysis, Outputs()) is None


def test_compressed_inputs_count_ten_times_their_bytes(tmp_path):
    from lifecircle.config import Analysis

    for name in ("town.osm.gz", "town.osm.bz2", "town.osm.pbf"):
        path = tmp_path / name
        path.write_bytes(b"x" * 1000)
        packed = name.endswith((".gz", ".bz2"))
        assert _figure_worker.input_bytes(Analysis(osm=path)) == (10_000 if packed else 1000)


# ---------------------------------------------------------------------------------------------
# failures


@linux_only
@pytest.mark.parametrize(("raised", "expected"), BROKEN_FIGURES)
def test_a_failing_worker_fails_the_run_with_its_error(grid, tmp_path, monkeypatch, raised,
                                                       expected):
    seen = _spy(monkeypatch)
    # the forked worker inherits it
    monkeypatch.setattr(plots, "write_figures", broken_figures(raised))
    out = tmp_path / "out"
    with pytest.raises(OutputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        grid.run(out=out, tiles="none")
    assert seen["early"][0] is not None
    assert left_behind(out) == []


@linux_only
def test_a_worker_that_dies_fails_the_run(grid, tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "write_figures", lambda *a, **k: os._exit(3))
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="figures: the worker process writing them stopped"):
        grid.run(out=out, tiles="none")
    assert left_behind(out) == []



@linux_only
@pytest.mark.parametrize("where", ["blocks", "outputs"])
def test_a_failing_run_stops_the_worker(grid, tmp_path, monkeypatch, where):
    """Failing in the analysis (the worker waits for its hand-over) or in the outputs (it
    draws: here it sleeps): the worker is stopped, not waited for, and nothing is left."""

    seen = _spy(monkeypatch)
    monkeypatch.setattr(plots, "write_figures", lambda *a, **k: time.sleep(60))
    break_the_run(monkeypatch, where)
    out = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="a broken input"):
        grid.run(out=out, tiles="none")
    assert time.perf_counter() - t0 < 30
    assert not alive(seen["early"][0].job._process.pid)
    assert left_behind(out) == []


@linux_only
def test_ctrl_c_stops_the_run_and_the_worker(grid, tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    ctrl_c_in_the_blocks(monkeypatch, lambda: seen["early"][0].job._process.pid)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        grid.run(out=out, tiles="none")
    assert not alive(seen["early"][0].job._process.pid)
    assert left_behind(out) == []
