"""Faults: a run killed while writing, Ctrl-C, a batch whose regions fail or kill workers.

The kills use the write-step test hook of ``lifecircle.outputs._atomic`` (the environment
variable ``LIFECIRCLE_TEST_WRITE_PAUSE_S``): each write step prints a checkpoint line and
pauses, so a kill lands at a chosen step (plus a seeded delay that sometimes reaches into the
next write). ``scripts/fault_injection.py`` runs the same kills in bulk and prints a table.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lifecircle.batch import WORKER_DIED, Region, run_batch
from lifecircle.outputs._atomic import SUCCESS, TEST_PAUSE_ENV, file_sha256
from lifecircle.pipeline import default_osm, run
from tests.conftest import ROOT, shared_osm
from tests.fault_hooks import allocate_4gb, kill_the_worker
from tests.helpers import make_grid_case

PAUSE_S = 0.3
FRESH_STEPS = ["file lifecircle.gpkg", "json-written report.json", "commit",
               "json-written _SUCCESS.json", "renamed"]
# replacing an existing output adds the step where the old folder has been moved aside
REPLACE_STEPS = [*FRESH_STEPS[:4], "old-moved-aside", "renamed"]


def grid_args(case, out: Path) -> list[str]:
    return ["--osm", str(case.graphml), "--facilities", str(case.facilities),
            "--blocks", str(case.blocks), "--category", "retail", "--out", str(out), "-q"]


def start_run(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, TEST_PAUSE_ENV: str(PAUSE_S)}
    return subprocess.Popen([sys.executable, "-m", "lifecircle", "run", *args], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_for(proc: subprocess.Popen[str], step: str) -> list[str]:
    """Read stderr until the checkpoint ``step``; return the lines read."""
    assert proc.stderr is not None
    lines = []
    while True:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"run ended before checkpoint {step!r}: {lines}")
        lines.append(line.rstrip("\n"))
        if line.strip() == f"lifecircle-test-checkpoint {step}":
            return lines


def looks_complete(out: Path) -> bool:
    return (out / SUCCESS).is_file()


def assert_complete(out: Path) -> None:
    """A folder with _SUCCESS.json holds exactly the files it lists, with their hashes."""
    files = json.loads((out / SUCCESS).read_text())["files"]
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert present == {*files, SUCCESS}
    for name, sha in files.items():
        assert file_sha256(out / name) == sha, name


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def kill_plan(i: int) -> tuple[bool, str, float]:
    """Kill point ``i``: (replace an existing output?, step, delay after it), seeded."""
    rng = random.Random(20261201 + i)
    replace = rng.random() < 0.5
    steps = REPLACE_STEPS if replace else FRESH_STEPS
    return replace, rng.choice(steps), rng.uniform(0, 1.5 * PAUSE_S)


@pytest.mark.parametrize("i", range(10))
def test_sigkill_during_writing_leaves_nothing_complete_and_rerun_succeeds(tmp_path, i):
    case = make_grid_case(tmp_path / "grid")
    out = tmp_path / "out"
    replace, step, delay = kill_plan(i)
    kwargs = {"facilities": case.facilities, "blocks": case.blocks, "categories": ["retail"]}
    if replace:
        run(case.graphml, out=out, minutes=5.0, **kwargs)
        before = json.loads((out / SUCCESS).read_text())
    proc = start_run(grid_args(case, out) + (["--overwrite"] if replace else []))
    wait_for(proc, step)
    time.sleep(delay)
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL

    steps = REPLACE_STEPS if replace else FRESH_STEPS
    finished = step == "renamed"
    old_still_there = replace and steps.index(step) < steps.index("old-moved-aside")
    if finished or old_still_there:
        # the new run completed its rename, or the old output was not touched yet
        assert looks_complete(out)
        assert_complete(out)
        if old_still_there:
            assert json.loads((out / SUCCESS).read_text()) == before
    else:
        assert not out.exists(), sorted(p.name for p in out.rglob("*"))

    # the rerun succeeds (stale lock and staging of the dead pid are cleaned up)
    result = run(case.graphml, out=out, overwrite=out.exists(), **kwargs)
    assert result.out == out
    assert_complete(out)
    assert leftovers(out) == []
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["categories"]["retail"]["blocks_covered"] == 3


@pytest.mark.parametrize("step", ["file lifecircle.gpkg", "commit", "json-written _SUCCESS.json"])
def test_sigint_exits_130_with_one_line_and_no_output(tmp_path, step):
    case = make_grid_case(tmp_path / "grid")
    out = tmp_path / "out"
    proc = start_run(grid_args(case, out))
    wait_for(proc, step)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    lines = [ln for ln in err.splitlines() if not ln.startswith("lifecircle-test-checkpoint")]
    assert lines == ["lifecircle: interrupted; no output was completed"]
    assert not out.exists()
    assert leftovers(out) == []  # staging removed, lock released


# ---------------------------------------------------------------------------------------------
# a batch with a corrupt file and a region that kills its worker


def test_batch_on_local_cluster_survives_a_corrupt_file_and_a_killed_worker(tmp_path):
    case = make_grid_case(tmp_path / "grid")
    corrupt = tmp_path / "corrupt.osm.pbf"
    corrupt.write_bytes(bytes(random.Random(6).randrange(256) for _ in range(4096)))
    grid = {"osm": str(case.graphml), "facilities": str(case.facilities),
            "blocks": str(case.blocks), "categories": ["retail"]}
    regions = [
        Region("g3", {**grid, "minutes": 3.0}),
        Region("killer", {**grid, "minutes": 4.0}),
        Region("g5", {**grid, "minutes": 5.0}),
        Region("corrupt", {"osm": str(corrupt)}),
        Region("helsinki", {"osm": str(default_osm())}),
        Region("oakland", {"osm": str(shared_osm("west_oakland.osm.bz2"))}),
    ]
    out = tmp_path / "out"
    # numba's disk cache filled first, outside the timing: in a clean clone under load each
    # worker compiling the same kernels at once took 380 s (measured), which is not what the
    # bound below is about (a killed worker replaced, the batch not left waiting)
    run(osm=str(default_osm()), out=str(tmp_path / "warm"))
    t0 = time.perf_counter()
    result = run_batch(regions, out, n_workers=2, runner=kill_the_worker)
    assert time.perf_counter() - t0 < 120
    rows = {r["name"]: r for r in result.regions}
    assert {n: r["status"] for n, r in rows.items()} == {
        "g3": "ok", "killer": "failed", "g5": "ok", "corrupt": "failed", "helsinki": "ok",
        "oakland": "ok"}
    assert rows["killer"]["reason"] == WORKER_DIED
    assert "corrupt.osm.pbf" in rows["corrupt"]["reason"]
    assert "not an OSM PBF file" in rows["corrupt"]["reason"]
    assert rows["g5"]["complete_share_population"] == round(600 / 650, 4)
    summary = json.loads((out / "batch_summary.json").read_text())
    assert summary["counts"] == {"ok": 4, "skipped": 0, "failed": 2}
    assert not (out / "killer").exists() and not (out / "corrupt").exists()
    stamps = {n: (out / n / SUCCESS).stat().st_mtime_ns for n in ("g3", "g5", "helsinki",
                                                                   "oakland")}

    # the rerun computes only the two failures (the killer no longer kills)
    ran = []

    def recording(**kwargs):
        ran.append(Path(kwargs["out"]).name)
        return run(**kwargs)

    with cf.ThreadPoolExecutor(2) as ex:
        again = run_batch(regions, out, executor=ex, runner=recording)
    assert sorted(ran) == ["corrupt", "killer"]
    status = {r["name"]: r["status"] for r in again.regions}
    assert status == {"g3": "skipped", "killer": "ok", "g5": "skipped", "corrupt": "failed",
                      "helsinki": "skipped", "oakland": "skipped"}
    assert all((out / n / SUCCESS).stat().st_mtime_ns == t for n, t in stamps.items())


def test_process_pool_worker_death_is_reported(tmp_path):
    """Any Executor works; a dead process-pool worker is that region's failure."""
    case = make_grid_case(tmp_path / "grid")
    grid = {"osm": str(case.graphml), "facilities": str(case.facilities),
            "blocks": str(case.blocks)}
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
        result = run_batch([Region("killer", grid)], tmp_path / "out", executor=ex,
                           runner=kill_the_worker)
    assert result.regions[0]["status"] == "failed"
    assert result.regions[0]["reason"] == WORKER_DIED


def test_sigint_stops_a_batch_cleanly_and_a_rerun_finishes_it(tmp_path):
    case = make_grid_case(tmp_path / "grid")
    lines = [f'[defaults]\nfacilities = "{case.facilities}"\nblocks = "{case.blocks}"\n'
             f'osm = "{case.graphml}"\ncategories = ["retail"]\n']
    lines += [f'[[region]]\nname = "m{m}"\nminutes = {m}\n' for m in (2, 3, 4, 5)]
    # hand-computed retail walks (tests/helpers.py): B2 2.75, B1 3.125, B3 4.25 min
    regions = tmp_path / "regions.toml"
    regions.write_text("\n".join(lines))
    out = tmp_path / "out"
    env = {**os.environ, TEST_PAUSE_ENV: str(PAUSE_S)}  # the workers inherit the hook
    proc = subprocess.Popen(
        [sys.executable, "-m", "lifecircle", "batch", str(regions), "--out", str(out),
         "--workers", "2", "-q"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    wait_for(proc, "file lifecircle.gpkg")  # a region is writing
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = [ln for ln in err.splitlines() if not ln.startswith("lifecircle-test-checkpoint")]
    assert lines == ["lifecircle: interrupted; no output was completed"]
    for folder in (p for p in out.iterdir() if not p.name.startswith(".")):
        if folder.is_dir():
            assert_complete(folder)  # a region folder is complete or absent

    with cf.ThreadPoolExecutor(2) as ex:
        result = run_batch(regions, out, executor=ex)
    assert {r["status"] for r in result.regions} <= {"ok", "skipped"}
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert [r["complete_share_population"] for r in result.regions] == [
        0.0, round(200 / 650, 4), round(300 / 650, 4), round(600 / 650, 4)]


@pytest.mark.slow
def test_worker_over_its_memory_limit_is_killed_and_reported(tmp_path):
    """A real out-of-memory kill by dask's nanny (about a minute on a busy 2-core machine)."""
    result = run_batch([Region("hog", {}), Region("neighbour", {})], tmp_path / "out",
                       n_workers=2, memory_limit="1.5GB", runner=allocate_4gb)
    rows = {r["name"]: r for r in result.regions}
    assert rows["hog"] == {"name": "hog", "status": "failed", "reason": WORKER_DIED,
                           "seconds": 0.0}
    assert rows["neighbour"]["status"] == "ok"


def test_skipped_region_clears_a_dead_writers_lock(tmp_path):
    """A writer killed between its rename and unlocking leaves a complete folder and a stale
    lock; the rerun skips the region and removes the lock, never a live writer's."""
    case = make_grid_case(tmp_path / "grid")
    grid = {"osm": str(case.graphml), "facilities": str(case.facilities),
            "blocks": str(case.blocks), "categories": ["retail"]}
    out = tmp_path / "out"
    with cf.ThreadPoolExecutor(1) as ex:
        run_batch([Region("a", grid)], out, executor=ex)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    lock = out / ".a.lock"
    lock.write_text(dead)
    (out / f".a.staging-{dead}-deadbeef").mkdir()
    with cf.ThreadPoolExecutor(1) as ex:
        again = run_batch([Region("a", grid)], out, executor=ex)
    assert again.regions[0]["status"] == "skipped"
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []

    lock.write_text(str(os.getpid()))  # a live writer: left alone
    with cf.ThreadPoolExecutor(1) as ex:
        run_batch([Region("a", grid)], out, executor=ex)
    assert lock.exists()
