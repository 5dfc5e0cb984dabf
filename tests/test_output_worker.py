"""The map of a city-scale run: written by the output worker or by the run, whichever comes
to it first (:class:`lifecircle.outputs._background.Shared`), the same page either way."""

from __future__ import annotations

import json
import os
import sys

import pytest

from lifecircle.outputs import _background

#: the unpatched Shared.take
_TAKE = _background.Shared.take

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="workers on Linux only")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A grid run treated as a city's: one worker writes figures, tables and rasters."""
    from lifecircle.config import Analysis
    from lifecircle.pipeline import analyse
    from tests.helpers import make_grid_case

    case = make_grid_case(tmp_path_factory.mktemp("grid"))
    return analyse(Analysis(osm=case.graphml, facilities=case.facilities, blocks=case.blocks,
                            categories=["retail"]))


def _save(result, folder, monkeypatch, *, run_first: bool | None):
    """Save as a city's run; ``run_first``: the run (True) or the worker (False) asks for the
    map first (None: as it comes)."""
    from lifecircle.config import Outputs

    monkeypatch.setattr(_background, "BACKGROUND_MAX_NODES", result.network.n_nodes - 1)
    if run_first is not None:
        run, real = os.getpid(), _TAKE

        def take(self, what):  # the other one has taken it already
            return real(self, what) if (os.getpid() == run) == run_first else False

        monkeypatch.setattr(_background.Shared, "take", take)
    out = result.save(folder, Outputs(tiles="none"))
    timings = result.metadata["timings_s"]
    return out, timings


def test_shared_output_goes_to_the_first_to_ask_across_a_fork():
    import multiprocessing

    shared = _background.Shared({"map": lambda: None, "other": lambda: None})
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=lambda: os._exit(0 if shared.take("map") else 1))
    child.start()
    child.join()
    assert child.exitcode == 0  # the worker asked first and took it
    assert shared.take("map") is False  # so the run does not write it again
    assert shared.take("other") is True and shared.take("other") is False
    with pytest.raises(ValueError):
        shared.take("figures")  # not a shared output


def test_the_worker_writes_the_map_the_run_would_have_written(city, tmp_path, monkeypatch):
    by_worker, timings = _save(city, tmp_path / "worker", monkeypatch, run_first=False)
    assert "outputs_worker_map" in timings and "outputs_map" not in timings
    assert timings["outputs_worker_map"] > 0
    assert timings["outputs_worker_figures+tables+rasters"] > 0
    by_run, timings = _save(city, tmp_path / "run", monkeypatch, run_first=True)
    assert "outputs_map" in timings and "outputs_worker_map" not in timings
    page = (by_worker / "map.html").read_bytes()
    assert len(page) > 10_000 and page == (by_run / "map.html").read_bytes()
    for out in (by_worker, by_run):
        listed = json.loads((out / "_SUCCESS.json").read_text())["files"]
        assert {"map.html", "report.xlsx", "figures/coverage_retail.png"} <= set(listed)
        assert not list(out.glob("*.tmp"))


def test_a_worker_error_while_drawing_the_map_fails_the_run(city, tmp_path, monkeypatch):
    from lifecircle._errors import OutputError
    from lifecircle.outputs import webmap

    def broken(*_args, **_kwargs):
        raise OutputError("map.html: cannot write the map (disk full)")

    monkeypatch.setattr(webmap, "write_map", broken)  # the forked worker inherits it
    with pytest.raises(OutputError, match="disk full"):
        _save(city, tmp_path / "run", monkeypatch, run_first=False)
    assert not (tmp_path / "run").exists()


def test_an_interrupt_while_waiting_stops_the_worker_instead_of_waiting_for_it(monkeypatch):
    """A SIGINT sent to the run alone (a supervisor, ``kill -INT``, a timeout) while it waits
    for a worker: the run stops the worker and raises at once, not once the worker is done."""
    import signal
    import threading
    import time

    monkeypatch.setattr(_background, "_room_for_a_copy", lambda: True)
    job = _background.start_early("slow outputs", lambda: time.sleep(30))
    if job is None:
        pytest.skip("no worker process could be forked here")
    # after the fork: a thread that signals this process only (the worker is not signalled)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.daemon = True
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        job.wait()
    assert time.perf_counter() - t0 < 10  # the worker would have slept for 30 s
    assert not job._process.is_alive()
