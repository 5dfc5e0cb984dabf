"""The early output worker of a city-scale run (:mod:`lifecircle._early`): forked once the
network is loaded, it finds (or, from OSM, finds for the run) and snaps the facilities,
streams the isochrones into the staged GeoPackage and writes the
rasters while the run makes its blocks; the run appends its layers afterwards.

Forced on small networks by lowering both thresholds (the streaming one and the worker's).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from typing import Any

import numpy as np
import pyogrio
import pytest

from lifecircle import _early, pipeline, result
from lifecircle._errors import InputError, OutputError
from lifecircle.outputs.geopackage import read_metadata
from tests.conftest import shared_osm
from tests.helpers import (
    alive,
    break_the_run,
    ctrl_c_in_the_blocks,
    left_behind,
    make_grid_case,
    rederive_from_gpkg,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="workers on Linux only")

#: the outputs compared (the map and figures have no part in the early worker)
KW: dict[str, Any] = dict(map=False, figures=False)


def _streamed(mp: pytest.MonkeyPatch, *, early: bool) -> None:
    """Every network counted as a city's (isochrones streamed); the early worker on or off."""
    mp.setattr(result, "ISOCHRONES_IN_MEMORY_MAX_EDGES", 0)
    mp.setattr(_early, "EARLY_MIN_EDGES", 0 if early else 10**12)


@pytest.fixture(scope="module")
def monaco_pair(tmp_path_factory):
    """Monaco saved twice as a city (streamed isochrones, one output worker): without and
    with the early worker, every product on."""
    from lifecircle.outputs import _background

    base = tmp_path_factory.mktemp("early")
    osm = shared_osm("monaco.osm.pbf")
    runs = []
    for early in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            _streamed(mp, early=early)
            mp.setattr(_background, "BACKGROUND_MAX_NODES", 0)
            finders = _record_finders(mp, base / f"finders_{early}")
            said = _Said()
            logging.getLogger("lifecircle").addHandler(said)
            try:
                res = pipeline.run(osm, out=base / f"early_{early}", tiles="none")
            finally:
                logging.getLogger("lifecircle").removeHandler(said)
            res.finders, res.said = finders.read_text().split(), said.messages
            runs.append(res)
    return runs


def _record_finders(mp: pytest.MonkeyPatch, path) -> Any:
    """Every process that looks for the facilities writes its pid into ``path`` (the early
    worker, forked after this, too)."""
    real = pipeline._facilities
    path.write_text("")

    def finding(*args: Any, **kwargs: Any) -> Any:
        with path.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    mp.setattr(pipeline, "_facilities", finding)
    return path


class _Said(logging.Handler):
    """The warnings the run's own process says (through its handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _layers(gpkg) -> dict[str, Any]:
    return {str(name): pyogrio.read_arrow(gpkg, layer=str(name))[1]
            for name, _ in pyogrio.list_layers(gpkg)}


def _contents(gpkg) -> dict[str, tuple]:
    with sqlite3.connect(gpkg) as con:
        rows = con.execute("SELECT table_name, data_type, description, srs_id "
                           "FROM gpkg_contents").fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def _without_seconds(value):
    """A report with every ``*_seconds`` value left out (wall times of the run)."""
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value


def _workbook(path) -> dict[str, list[tuple]]:
    """Every sheet's cell values, row by row."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()


def test_the_early_worker_writes_what_the_run_would_have(monaco_pair):
    without, with_early = monaco_pair
    a, b = without.out / "lifecircle.gpkg", with_early.out / "lifecircle.gpkg"
    la, lb = _layers(a), _layers(b)
    assert set(la) == set(lb) >= {"blocks", "access_points", "facilities", "edges",
                                  "isochrones", "run_metadata"}
    for name, table in la.items():
        if name == "run_metadata":
            continue
        assert table.num_rows > 0, name
        # every attribute and the geometry's bytes (WKB), row by row
        assert table.equals(lb[name]), name
    assert _contents(a) == _contents(b)  # the layers' kinds, descriptions and CRS
    meta_a, meta_b = read_metadata(a), read_metadata(b)
    assert set(meta_a) == set(meta_b)
    assert {k: v for k, v in meta_a.items() if k != "timings_s"} == \
        {k: v for k, v in meta_b.items() if k != "timings_s"}
    rasters = sorted(p.name for p in (without.out / "rasters").glob("*.tif"))
    assert len(rasters) == len(without.access) > 0
    assert rasters == sorted(p.name for p in (with_early.out / "rasters").glob("*.tif"))
    for name in rasters:
        assert (without.out / "rasters" / name).read_bytes() == \
            (with_early.out / "rasters" / name).read_bytes(), name
    # the same files (the map, figures and tables too, whoever wrote them), byte for byte but
    # the GeoPackage (its layers compared above), report.json (the searches' seconds) and the
    # workbook (its creation time): those compared by content below
    files = [json.loads((r.out / "_SUCCESS.json").read_text())["files"] for r in monaco_pair]
    assert set(files[0]) == set(files[1]) >= {"map.html", "report.xlsx", "report.json"}
    by_content = {"lifecircle.gpkg", "report.json", "report.xlsx"}
    assert {n: h for n, h in files[0].items() if n not in by_content} == \
        {n: h for n, h in files[1].items() if n not in by_content}
    reports = [_without_seconds(json.loads((r.out / "report.json").read_text()))
               for r in monaco_pair]
    assert reports[0] == reports[1]
    assert _workbook(without.out / "report.xlsx") == _workbook(with_early.out / "report.xlsx")
    page = (without.out / "map.html").read_bytes()
    assert len(page) > 10_000 and page == (with_early.out / "map.html").read_bytes()


def test_the_timings_name_the_early_worker(monaco_pair):
    without, with_early = monaco_pair
    t = read_metadata(with_early.out / "lifecircle.gpkg")["timings_s"]
    assert t == with_early.metadata["timings_s"]  # rewritten at the end
    parts = ("facilities", "search", "isochrones", "rasters")
    assert all(t[f"outputs_worker_early_{p}"] >= 0 for p in parts)
    # the worker searched and streamed (its parts are read off its milestones: their sum is
    # its wall time by construction, so the milestones themselves are what is checked)
    assert t["outputs_worker_early_search"] > 0 and t["outputs_worker_early_isochrones"] > 0
    # Monaco's facilities are OSM's alone: the worker found and snapped them for the run
    assert t["outputs_worker_early_facilities"] > 0
    assert 0 < t["outputs_worker_early_cpu"]
    assert t["outputs_early_wait"] >= 0
    assert "outputs_isochrones" not in t and "outputs_rasters" not in t  # the worker's
    # the other worker writes the map first; the figures and tables go to whoever is free
    assert t["outputs_worker_map"] > 0 and "outputs_map" not in t
    for what in ("figures", "tables"):
        assert (f"outputs_{what}" in t) != (f"outputs_worker_{what}" in t), what
    plain = read_metadata(without.out / "lifecircle.gpkg")["timings_s"]
    assert not [k for k in plain if "early" in k]
    assert plain["outputs_isochrones"] > 0


def test_the_worker_hands_over_the_facilities_it_found(monaco_pair):
    without, with_early = monaco_pair
    me = str(os.getpid())
    # alone, the run looks for them; with the worker (OSM facilities), only the worker does
    assert without.finders == [me]
    assert len(with_early.finders) == 1 and with_early.finders != [me]
    # the same rows, snaps included, and the same warnings said in the run's own process
    assert with_early.facilities.equals(without.facilities)
    assert len(without.facilities) > 10
    said = [m for m in without.said if "polygon facilities" in m]
    assert said and [m for m in with_early.said if "polygon facilities" in m] == said


def test_with_a_facility_file_both_look_for_them(tmp_path, monkeypatch):
    """A user's file is read by the run (its errors name its rows) and by the worker beside
    it; the worker keeps its warnings to itself."""
    _streamed(monkeypatch, early=True)
    finders = _record_finders(monkeypatch, tmp_path / "finders")
    case = make_grid_case(tmp_path / "grid")
    res = case.run(out=tmp_path / "out", **KW)
    pids = finders.read_text().split()
    assert str(os.getpid()) in pids and len(pids) == 2 == len(set(pids))
    assert res.metadata["timings_s"]["outputs_worker_early_facilities"] > 0


def test_times_rederive_from_the_appended_layers(monaco_pair):
    res = monaco_pair[1]
    gpkg = res.out / "lifecircle.gpkg"
    timed = 0
    for category in res.access:
        reported, oracle = rederive_from_gpkg(gpkg, category)
        ok = np.isfinite(reported)
        timed += int(ok.sum())
        np.testing.assert_allclose(reported[ok], oracle[ok], rtol=1e-9, atol=1e-6)
        assert (oracle[~ok] > res.access[category].horizon_m).all()  # beyond reach
    assert timed > 1000


def test_no_early_worker_below_the_threshold(tmp_path, monkeypatch):
    started: list[Any] = []

    def start_early(*args: Any) -> None:
        started.append(args)

    monkeypatch.setattr(_early._background, "start_early", start_early)
    case = make_grid_case(tmp_path / "grid")
    res = case.run(out=tmp_path / "out", **KW)
    assert not started and res.isochrones is not None
    assert not [k for k in res.metadata["timings_s"] if "early" in k]


# ---------------------------------------------------------------------------------------------
# failures


@pytest.fixture
def grid(tmp_path, monkeypatch):
    _streamed(monkeypatch, early=True)
    return make_grid_case(tmp_path / "grid")


@pytest.mark.parametrize("error", [OutputError("isochrones: the disk is on fire"),
                                   RuntimeError("the disk is on fire")])
def test_a_failing_early_worker_fails_the_run_cleanly(grid, tmp_path, monkeypatch, error):
    def fail(self, path):
        raise error

    monkeypatch.setattr(result.Result, "stream_isochrones", fail)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="the disk is on fire"):
        grid.run(out=out, **KW)
    assert left_behind(out) == []


def test_an_early_worker_that_dies_fails_the_run_cleanly(grid, tmp_path, monkeypatch):
    monkeypatch.setattr(result.Result, "stream_isochrones", lambda self, path: os._exit(3))
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="stopped before it finished"):
        grid.run(out=out, **KW)
    assert left_behind(out) == []


def test_a_worker_failing_to_find_the_facilities_fails_the_run_cleanly(tmp_path, monkeypatch):
    """OSM facilities (handed over by the worker): the worker's error reaches the run where
    it reads them, and nothing is left behind."""
    _streamed(monkeypatch, early=True)
    found = tmp_path / "found"
    found.write_text("")

    def fail(*args, **kwargs):
        with found.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        raise InputError("no facilities today")

    monkeypatch.setattr(pipeline, "_found_and_snapped", fail)
    out = tmp_path / "out"
    steps: list[str] = []
    with pytest.raises(InputError, match="no facilities today"):
        pipeline.run(shared_osm("monaco.osm.pbf"), out=out, tiles="none",
                     progress=lambda kind, message: steps.append(f"{kind} {message}"), **KW)
    # only the worker (another process) looked for them, once
    finders = found.read_text().split()
    assert len(finders) == 1 and finders != [str(os.getpid())]
    # the error came where the run reads the worker's facilities (in its blocks step), not
    # later where it waits for the worker's GeoPackage
    assert "start Preparing residential blocks" in steps
    assert not [s for s in steps if "Walking times" in s]
    assert left_behind(out) == []


def _slow_worker(monkeypatch, pid_file):
    """The worker records its pid, then sleeps a minute before its search."""
    real = _early.category_nodes

    def slow(*args, **kwargs):
        pid_file.write_text(str(os.getpid()))
        time.sleep(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(_early, "category_nodes", slow)


def _worker_pid(pid_file) -> int:
    for _ in range(200):
        if pid_file.is_file() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.05)
    raise AssertionError("the early worker did not start")


@pytest.mark.parametrize("where", ["blocks", "outputs"])
def test_a_failing_run_cancels_the_early_worker(grid, tmp_path, monkeypatch, where):
    pid_file = tmp_path / "worker.pid"
    _slow_worker(monkeypatch, pid_file)

    break_the_run(monkeypatch, where, before=lambda: _worker_pid(pid_file))  # it is running
    out = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="a broken input"):
        grid.run(out=out, **KW)
    assert time.perf_counter() - t0 < 30  # not waiting for the sleeping worker
    assert not alive(_worker_pid(pid_file))
    assert left_behind(out) == []


def test_ctrl_c_stops_the_run_and_the_early_worker(grid, tmp_path, monkeypatch):
    pid_file = tmp_path / "worker.pid"
    _slow_worker(monkeypatch, pid_file)
    ctrl_c_in_the_blocks(monkeypatch, lambda: _worker_pid(pid_file))
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        grid.run(out=out, **KW)
    assert not alive(_worker_pid(pid_file))
    assert left_behind(out) == []


def test_the_run_takes_the_workers_searches_once_made(tmp_path, monkeypatch):
    """The run's walking times start from the worker's searches (none of its own) where the
    worker has made them when the run needs them: the same times as a run without it."""
    from lifecircle import access

    searched_in = tmp_path / "searched_in"
    searched_in.write_text("")
    real_search = access.multi_source

    def search(*args: Any, **kwargs: Any) -> Any:
        with searched_in.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real_search(*args, **kwargs)

    real_adopt = _early.adopt_searches

    def adopt_once_written(net, read):  # the run waits here for them (the test's race)
        def waited():
            for _ in range(600):
                if found := read():
                    return found
                time.sleep(0.05)
            raise AssertionError("the worker wrote no searches")
        real_adopt(net, waited)

    monkeypatch.setattr(access, "multi_source", search)
    monkeypatch.setattr(_early, "adopt_searches", adopt_once_written)
    case = make_grid_case(tmp_path / "grid")
    runs = []
    for early in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            _streamed(mp, early=early)
            runs.append(case.run(out=tmp_path / f"out_{early}", **KW))
        pids = searched_in.read_text().split()
        searched_in.write_text("")
        me = str(os.getpid())
        n = len(runs[0].access)
        # with the worker: its searches alone (in its process); without: the run's own
        assert pids == ([p for p in pids if p != me] if early else [me] * n) and len(pids) == n
    with_early, without = runs
    for c, a in without.access.items():
        b = with_early.access[c]
        for name in ("dist_m", "walk_min", "nearest", "reason"):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=c)
        np.testing.assert_array_equal(b.nodes.dist_m, a.nodes.dist_m)
        np.testing.assert_array_equal(b.nodes.source, a.nodes.source)
    assert np.isfinite(without.access["retail"].dist_m).sum() == 3


def test_searches_made_elsewhere_are_taken_only_where_the_same(monaco_pair):
    """A search is taken where its seeds, network and bound are the run's; one of other seeds
    is searched again."""
    from lifecircle.access import (
        Searched,
        adopt_searches,
        category_nodes,
        category_snaps,
        compute_access,
        search_seeds,
    )
    from lifecircle.routing import NodeDistances
    from lifecircle.snapping import Snap

    res = monaco_pair[1]
    net, fac, prof = res.network, res.facilities, res.profile
    points = Snap.from_columns(res.access_points)
    fresh = compute_access(net, fac, points, prof)
    nodes = category_nodes(net, fac, prof)
    snaps = category_snaps(fac, prof.categories)
    taken, other = [c for c in prof.categories if nodes[c].nodes.source.max() >= 0][:2]

    def doctored(c: str, seeds: tuple[np.ndarray, ...], group: str | None = None) -> Searched:
        n = nodes[c]  # every distance 1 m more: seen where taken
        fake = NodeDistances(n.nodes.dist_m + 1.0, n.nodes.source, n.nodes.limit_m)
        return Searched(fake, seeds, group=group or prof.group_of(c).name,
                        speed_kmh=n.speed_kmh)

    same = search_seeds(net, snaps[taken], prof, taken)
    differ = tuple(s[:-1] for s in search_seeds(net, snaps[other], prof, other))
    adopt_searches(net, lambda: {taken: doctored(taken, same), other: doctored(other, differ)})
    got = compute_access(net, fac, points, prof)
    np.testing.assert_array_equal(got[taken].nodes.dist_m, fresh[taken].nodes.dist_m + 1.0)
    np.testing.assert_array_equal(got[other].nodes.dist_m, fresh[other].nodes.dist_m)
    np.testing.assert_array_equal(got[other].dist_m, fresh[other].dist_m)
    # the same seeds searched on another group's network: searched again
    adopt_searches(net, lambda: {taken: doctored(taken, same, group="another group")})
    got = compute_access(net, fac, points, prof)
    np.testing.assert_array_equal(got[taken].nodes.dist_m, fresh[taken].nodes.dist_m)
    # read once: the next walking times search again
    again = compute_access(net, fac, points, prof)
    np.testing.assert_array_equal(again[taken].nodes.dist_m, fresh[taken].nodes.dist_m)


def test_a_searches_file_not_whole_or_not_ours_gives_none_and_is_emptied(tmp_path):
    """The run searches itself where the worker's file is not written yet, cut short, or
    names an array of objects; a file it read is emptied."""
    from lifecircle._early import _LENGTH, _searched

    def file_with(header: dict, data: bytes = b"") -> Any:
        fh = open(tmp_path / "searches", "w+b")
        body = data + json.dumps(header).encode()
        fh.write(((_LENGTH + len(data)) if header else 0).to_bytes(_LENGTH, "little") + body)
        fh.flush()
        return fh

    array = [["<f8", 4, 10_000]]  # past the file's end
    cases = [
        ({}, b""),  # not written yet
        ({"x": {"group": "g", "speed_kmh": 4.5, "limit_m": 1, "arrays": array * 5}},
         b"\0" * 8),  # cut short
        ({"x": {"group": "g", "speed_kmh": 4.5, "limit_m": 1,
                "arrays": [["|O", 1, _LENGTH]] * 5}}, b"\0" * 8),  # objects
        ({"x": {"arrays": []}}, b""),  # not ours
    ]
    for header, data in cases:
        with file_with(header, data) as fh:
            assert _searched(fh) == {}
            assert os.fstat(fh.fileno()).st_size == 0
