"""Start-up: a command imports only what it needs, when it needs it (issue 15, item 6).

Each check runs in a fresh interpreter (the test process has imported everything already) and
reads ``sys.modules`` there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import BROKEN_FIGURES, broken_figures

ROOT = Path(__file__).resolve().parent.parent

#: the heavy libraries and the outputs or engine parts that need them
HEAVY = ("numpy", "pandas", "geopandas", "shapely", "scipy", "pyproj", "pyogrio", "osmium",
         "matplotlib", "rasterio", "folium", "numba", "llvmlite", "openpyxl", "mapclassify",
         "sklearn", "osmnx", "networkx", "dask", "distributed", "contourpy", "PIL", "momepy")
#: the output writers' libraries: none of them before the output step that needs it
OUTPUT_ONLY = ("matplotlib", "rasterio", "folium", "numba", "llvmlite", "openpyxl",
               "mapclassify", "sklearn", "osmnx", "networkx", "dask", "contourpy", "PIL")


def _imported_after(code: str) -> set[str]:
    """Top-level packages of the heavy list imported by ``code`` in a fresh interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
             f"set({list(HEAVY)!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_package_and_the_cli_imports_no_heavy_library():
    assert _imported_after("import lifecircle\nimport lifecircle.cli") == set()


def _cli(args: list[str]) -> str:
    return ("from click.testing import CliRunner\nfrom lifecircle.cli import cli\n"
            f"result = CliRunner().invoke(cli, {args!r})\n"
            "assert result.exit_code == 0, result.output")


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["map", "--help"]])
def test_help_imports_no_heavy_library(args):
    assert _imported_after(_cli(args)) == set()


def test_version_imports_only_what_names_proj_and_gdal():
    """``--version`` reads versions from the installed metadata; it imports pyproj and pyogrio
    for the PROJ and GDAL versions, nothing of the outputs."""
    imported = _imported_after(_cli(["--version"]))
    assert {"pyproj", "pyogrio"} <= imported
    assert imported.isdisjoint(OUTPUT_ONLY), imported & set(OUTPUT_ONLY)


def test_the_engine_imports_no_output_library():
    """Analysing (the pipeline, the result, the GeoPackage, report and table writers' modules)
    needs geopandas and scipy, never a figure, raster, map or workbook library."""
    code = ("import lifecircle.pipeline, lifecircle.result, lifecircle.outputs.products, "
            "lifecircle.outputs.geopackage, lifecircle.outputs.report, "
            "lifecircle.outputs.table, lifecircle.outputs.webmap")
    imported = _imported_after(code)
    assert {"geopandas", "scipy"} <= imported  # the probe sees real imports
    assert imported.isdisjoint(OUTPUT_ONLY), imported & set(OUTPUT_ONLY)


def test_choosing_the_raster_cell_imports_no_rasterio():
    """A run chooses its raster cell in its own process (``Result.prepare``); on a small run a
    worker writes the rasters and imports rasterio there, after its fork."""
    code = ("import numpy as np\n"
            "from lifecircle.network import WalkNetwork\n"
            "from lifecircle.outputs.raster_grid import auto_cell_m\n"
            "net = WalkNetwork.from_arrays(crs=32650, node_id=np.array([1, 2]),\n"
            "    x=np.array([0.0, 5000.0]), y=np.array([0.0, 0.0]), edge_u=np.array([0]),\n"
            "    edge_v=np.array([1]))\n"
            "assert auto_cell_m(net, margin_m=100.0) == 25.0")
    assert "rasterio" not in _imported_after(code)


def test_map_bins_do_not_import_mapclassify():
    """Classifying minutes into the planning bins is one searchsorted: importing mapclassify
    would compile a numba kernel and import scikit-learn and pyplot (seconds)."""
    code = ("from lifecircle.outputs.webmap import classify_minutes\n"
            "classify_minutes([1.0, 12.0, float('nan')])")
    assert _imported_after(code).isdisjoint({"mapclassify", "sklearn", "numba", "matplotlib"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-5, 100), st.sampled_from([0.0, 5.0, 10.0, 15.0, 20.0,
                                                               30.0, np.nan, np.inf])),
                min_size=1, max_size=40))
def test_classify_minutes_equals_mapclassify_user_defined(minutes):
    """The bins equal mapclassify.UserDefined's on the same fixed edges (the oracle)."""
    import mapclassify

    from lifecircle.outputs.webmap import BINS_MIN, classify_minutes

    values = np.asarray(minutes, dtype=float)
    want = np.full(values.shape, len(BINS_MIN) + 1)
    finite = np.isfinite(values)
    if finite.any():
        yb = mapclassify.UserDefined(np.clip(values[finite], 0.0, None), bins=list(BINS_MIN)).yb
        want[finite] = np.minimum(yb, len(BINS_MIN))
    np.testing.assert_array_equal(classify_minutes(values), want)


# ---------------------------------------------------------------------------------------------
# the figures and rasters of a small run, written by forked worker processes


@pytest.fixture(scope="module")
def grid_result(tmp_path_factory):
    from lifecircle.config import Analysis
    from lifecircle.pipeline import analyse
    from tests.helpers import make_grid_case

    case = make_grid_case(tmp_path_factory.mktemp("grid"))
    return analyse(Analysis(osm=case.graphml, facilities=case.facilities, blocks=case.blocks,
                            categories=["retail"]))


def _forked(monkeypatch) -> dict:
    """Record, per output, whether a worker wrote it (its job) or the run itself (None)."""
    from lifecircle.outputs import _background

    jobs: dict = {}
    real = _background.start

    def spy(what, write, *, nodes):
        jobs[what] = real(what, write, nodes=nodes)
        return jobs[what]

    monkeypatch.setattr(_background, "start", spy)
    return jobs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers on Linux only")
def test_a_small_run_writes_figures_and_rasters_in_workers_and_lists_them(grid_result, tmp_path,
                                                                         monkeypatch):
    import rasterio
    from PIL import Image

    from lifecircle.config import Outputs
    from lifecircle.outputs.plots import figure_names
    from lifecircle.outputs.raster import raster_name

    jobs = _forked(monkeypatch)
    out = grid_result.save(tmp_path / "run", Outputs(tiles="none"))
    assert set(jobs) == {"figures", "tables", "rasters"} and None not in jobs.values()
    listed = json.loads((out / "_SUCCESS.json").read_text())["files"]
    for name in figure_names(["retail"]):
        assert name in listed
        with Image.open(out / name) as image:
            assert image.size[0] == round(8.27 * 200) and image.mode == "RGB"
    assert {raster_name("retail"), "blocks.csv", "report.xlsx"} <= set(listed)
    for job in jobs.values():  # each worker reported its wall and CPU seconds
        wall, cpu = job.seconds
        assert 0 < wall and 0 < cpu
    with rasterio.open(out / raster_name("retail")) as src:
        minutes = src.read(1)
    # B2's cell walks 2.75 min or less (its centre is nearer the shop): the surface is there
    assert np.nanmin(minutes) < 2.75 and np.isnan(minutes).any()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers on Linux only")
def test_above_the_limit_one_worker_writes_them_in_turn(grid_result, tmp_path, monkeypatch):
    """A city-scale run writes the figures, tables and rasters in one worker, one after the
    other (one output's memory beside the run's, not three); the files are those a small run
    writes."""
    from lifecircle.config import Outputs
    from lifecircle.outputs import _background

    small = grid_result.save(tmp_path / "small", Outputs(tiles="none"))
    jobs = _forked(monkeypatch)
    together: list = []
    real = _background.start_together

    def spy(writes, shared=None):
        together.append(real(writes, shared))
        return together[-1]

    monkeypatch.setattr(_background, "start_together", spy)
    monkeypatch.setattr(_background, "BACKGROUND_MAX_NODES", grid_result.network.n_nodes - 1)
    big = grid_result.save(tmp_path / "big", Outputs(tiles="none"))
    assert jobs == {}  # no worker per output
    assert len(together) == 1 and together[0].parts == ("figures", "tables", "rasters")
    assert together[0].seconds is not None  # waited for
    sums = [json.loads((out / "_SUCCESS.json").read_text())["files"] for out in (small, big)]
    assert "report.xlsx" in sums[1]
    for name in ("figures/coverage_retail.png", "blocks.csv", "rasters/walk_min_retail.tif"):
        assert sums[0][name] == sums[1][name], name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc on Linux only")
def test_no_shared_worker_without_memory_for_a_copy(monkeypatch, tmp_path):
    """A city-scale worker is forked only where the system has as much memory available as
    the run holds (what the worker could come to own); otherwise the run writes it itself."""
    import builtins

    from lifecircle.outputs import _background

    real_open = builtins.open

    def fake(available_kib):
        meminfo = tmp_path / f"meminfo{available_kib}"
        meminfo.write_text(f"MemTotal: 99999999 kB\nMemAvailable: {available_kib} kB\n")
        monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(
            meminfo if str(path) == "/proc/meminfo" else path, *a, **k))

    with real_open("/proc/self/status") as fh:
        resident = next(int(x.split()[1]) for x in fh if x.startswith("VmRSS:"))
    fake(resident // 2)
    assert not _background._room_for_a_copy()
    assert _background.start_together({"figures": lambda: None}) is None
    fake(resident * 4)
    assert _background._room_for_a_copy()


def test_without_a_worker_the_run_writes_them_itself(grid_result, tmp_path, monkeypatch):
    from lifecircle.config import Outputs
    from lifecircle.outputs import _background
    from lifecircle.outputs.raster import raster_name

    monkeypatch.setattr(_background, "_alone", lambda: False)  # as in a batch's thread
    jobs = _forked(monkeypatch)
    out = grid_result.save(tmp_path / "run", Outputs(tiles="none"))
    assert jobs == {"figures": None, "tables": None, "rasters": None}
    assert (out / "figures" / "coverage_retail.png").is_file()
    assert (out / raster_name("retail")).is_file()
    monkeypatch.setattr(_background, "BACKGROUND_MAX_NODES", grid_result.network.n_nodes - 1)
    out = grid_result.save(tmp_path / "big", Outputs(tiles="none"))
    assert (out / "figures" / "coverage_retail.png").is_file()
    assert (out / raster_name("retail")).is_file()
    assert (out / "report.xlsx").is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers on Linux only")
@pytest.mark.parametrize(("raised", "expected"), BROKEN_FIGURES)
def test_an_error_in_the_figure_worker_fails_the_run(grid_result, tmp_path, monkeypatch,
                                                     raised, expected):
    """The worker's error reaches the caller as an OutputError with its text; nothing of the
    run is left behind (the staging folder is discarded)."""
    from lifecircle._errors import OutputError
    from lifecircle.config import Outputs
    from lifecircle.outputs import plots

    jobs = _forked(monkeypatch)
    # the forked worker inherits it
    monkeypatch.setattr(plots, "write_figures", broken_figures(raised))
    with pytest.raises(OutputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        grid_result.save(tmp_path / "run", Outputs(tiles="none"))
    assert jobs["figures"] is not None
    assert not (tmp_path / "run").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_every_subpackage_ships_in_the_wheel():
    """pyproject lists the packages by hand: a subpackage left out imports from a checkout
    but not from an installed wheel (``lifecircle run`` failed on ``lifecircle.isochrones``)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "lifecircle").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers on Linux only")
def test_a_worker_shares_the_run_s_objects_without_the_collector_copying_them():
    """The run's objects are frozen across the fork (the worker's collector leaves them
    alone: it would copy every page it scans) and collected again in the run after it."""
    import gc

    from lifecircle._errors import OutputError
    from lifecircle.outputs import _background

    def check() -> None:  # in the worker: its error would come back from wait()
        if gc.get_freeze_count() == 0:
            raise OutputError("the worker's collector scans the run's objects")

    gc.collect()
    job = _background.start("figures", check, nodes=10)
    assert job is not None
    assert gc.get_freeze_count() == 0  # unfrozen in the run
    job.wait()


def test_a_daemonic_process_writes_its_outputs_itself(monkeypatch):
    """A dask worker is a daemonic process, which may not have children: no worker there."""
    import multiprocessing

    from lifecircle.outputs import _background

    calls = []
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True)
    assert _background.start("figures", lambda: calls.append(1), nodes=10) is None
    assert calls == []  # the caller writes it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers on Linux only")
def test_a_process_with_working_threads_writes_its_outputs_itself():
    """A fork copies only the calling thread, so a lock another thread holds would stay held
    in the worker for ever (a batch's region threads hung CI this way): while a non-daemon
    thread works, no worker is forked, from it or the main thread; a daemon helper thread (a
    test runner's, a notebook kernel's) does not prevent one."""
    import threading

    from lifecircle.outputs import _background

    def forks() -> bool:
        job = _background.start("figures", lambda: None, nodes=10)
        if job is not None:
            job.wait()
        return job is not None

    for daemon in (False, True):
        release = threading.Event()
        other = threading.Thread(target=release.wait, daemon=daemon)
        other.start()
        try:
            from_thread: list[bool] = []
            t = threading.Thread(target=lambda out=from_thread: out.append(forks()))
            t.start()
            t.join()
            assert from_thread == [False]  # never from a thread other than the main one
            assert forks() is daemon
        finally:
            release.set()
            other.join()
    assert forks()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers on Linux only")
def test_a_worker_dies_with_a_killed_run(tmp_path):
    """A run killed (SIGKILL) while a worker writes leaves no worker behind writing into the
    staging folder the next run cleans up."""
    import os
    import time

    code = (
        "import os, signal, time\n"
        "from lifecircle.outputs import _background\n"
        "def write():\n"
        f"    open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        f"    open({str(tmp_path / 'late')!r}, 'w').write('still alive')\n"
        "job = _background.start('figures', write, nodes=10)\n"
        "assert job is not None\n"
        f"while not os.path.exists({str(tmp_path / 'pid')!r}):\n"
        "    time.sleep(0.05)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    with (tmp_path / "stderr").open("w") as err:  # a pipe would wait for an orphan to close it
        run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=err, timeout=30)
    assert run.returncode == -9, (tmp_path / "stderr").read_text()
    pid = int((tmp_path / "pid").read_text())

    def alive() -> bool:  # a zombie no container init reaps counts as dead
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    still = alive()
    if still:  # pragma: no cover - the failure below: do not leave it behind
        os.kill(pid, 9)
    assert not still


# ---------------------------------------------------------------------------------------------
# the end of a run from the command line


def _lifecircle(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifecircle", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_a_command_line_run_ends_at_once_with_its_output_flushed_and_complete(tmp_path):
    """A successful `lifecircle run` ends without the interpreter's teardown (os._exit) only
    after its summary and log lines are out and its folder is complete; a failing one still
    exits with its error code and one-line message."""
    from tests.helpers import make_grid_case

    case = make_grid_case(tmp_path / "grid")
    out = tmp_path / "run"
    done = _lifecircle(["run", "--osm", str(case.graphml), "--facilities", str(case.facilities),
                        "--blocks", str(case.blocks), "--out", str(out), "--category", "retail",
                        "-v"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"Wrote {out}")
    assert "INFO lifecircle" in done.stderr  # the log handler was flushed too
    listed = json.loads((out / "_SUCCESS.json").read_text())["files"]
    assert all((out / name).is_file() for name in listed) and "lifecircle.gpkg" in listed
    bad = _lifecircle(["run", "--osm", str(tmp_path / "missing.pbf"), "--out",
                       str(tmp_path / "bad"), "-q"])
    assert bad.returncode == 2 and bad.stderr.startswith("lifecircle: error:")


def test_a_quiet_progress_never_imports_rich():
    """``-q`` shows nothing, so its progress imports no rich (50-80 ms of a small run);
    the first line shown imports it."""
    code = (
        "import sys\n"
        "from lifecircle._console import Progress\n"
        "p = Progress(True)\n"
        "p('start', 'a'); p('done', 'b'); p.close()\n"
        "quiet = 'rich' in sys.modules\n"
        "p = Progress(False)\n"
        "before = 'rich' in sys.modules\n"
        "p('done', 'b'); p.close()\n"
        "print(quiet, before, 'rich.console' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.split() == ["False", "False", "True"]
    assert "b" in done.stderr  # the line shown
