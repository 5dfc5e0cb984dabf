#!/usr/bin/env python
"""Reproducible fault injection: kill runs while they write, interrupt them, break a batch.

    python scripts/fault_injection.py                    # 20 kills, seed 7, then the batch
    python scripts/fault_injection.py --kills 50 --seed 3 --no-batch

1. ``--kills`` runs of ``lifecircle run`` (the bundled extract) are killed with SIGKILL at
   seeded points while they write: a write step (the test hook of
   ``lifecircle.outputs._atomic`` prints a checkpoint and pauses at each one) plus a seeded
   delay that may reach into the next write; half of them replace an existing output. After
   each kill the output folder must be absent or complete (every file listed in
   ``_SUCCESS.json`` with its sha256), and a rerun must succeed and leave no staging folder,
   lock or old copy behind.
2. One run is interrupted with SIGINT: exit 130, one line, no output.
3. A batch of twelve regions on a dask LocalCluster (two worker processes): the bundled
   extract, the eight shared extracts, a grid, one corrupt file and one region whose worker
   is killed (SIGKILL, as the kernel's OOM killer would). Every other region must finish, the
   summary must name both failures with reasons, and a rerun must recompute only those two.
4. A real out-of-memory kill: a region that allocates 4 GB on a worker limited to 1.5 GB
   (``memory_limit``): dask's nanny kills the worker, the region fails with the worker-died
   reason, its neighbour finishes (``--no-memory`` skips this part).

Prints one table per part and exits 1 if any expectation fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"
PAUSE_S = 0.3
FRESH = ["file lifecircle.gpkg", "json-written report.json", "commit",
         "json-written _SUCCESS.json", "renamed"]
REPLACE = [*FRESH[:4], "old-moved-aside", "renamed"]
EXTRACTS = ["nanjing_xinjiekou.osm.gz", "beijing_haidian.osm.gz", "taichung_xitun.osm.gz",
            "monaco.osm.pbf", "andorra.osm.pbf", "shanghai_center_roads.osm.gz",
            "west_oakland.osm.bz2", "aguascalientes.osm.pbf"]


def lifecircle_run(out: Path, *extra: str, pause: bool) -> subprocess.Popen[str]:
    from lifecircle.outputs._atomic import TEST_PAUSE_ENV

    env = dict(os.environ)
    env.pop(TEST_PAUSE_ENV, None)
    if pause:
        env[TEST_PAUSE_ENV] = str(PAUSE_S)
    return subprocess.Popen(
        [sys.executable, "-m", "lifecircle", "run", "--out", str(out), "-q", *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def wait_for(proc: subprocess.Popen[str], step: str) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.strip() == f"lifecircle-test-checkpoint {step}":
            return
    raise RuntimeError(f"the run ended before checkpoint {step!r}")


def state(out: Path) -> str:
    """absent, complete (every listed file with its sha256) or BROKEN."""
    from lifecircle.outputs._atomic import SUCCESS, file_sha256

    if not out.exists():
        return "absent"
    try:
        files = json.loads((out / SUCCESS).read_text())["files"]
    except (OSError, ValueError, KeyError):
        return "BROKEN (folder without a valid _SUCCESS.json)"
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    if present != {*files, SUCCESS} or any(
        file_sha256(out / n) != sha for n, sha in files.items()
    ):
        return "BROKEN (files differ from _SUCCESS.json)"
    return "complete"


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def kills(n: int, seed: int, work: Path) -> bool:
    rng = random.Random(seed)
    print(f"\n1. SIGKILL during writing: {n} kill points, seed {seed}, pause {PAUSE_S} s")
    print(f"{'#':>3}  {'mode':8} {'step':28} {'delay s':>7}  {'after the kill':24} rerun")
    good = 0
    for i in range(n):
        out = work / f"kill{i}"
        replace = rng.random() < 0.5
        step = rng.choice(REPLACE if replace else FRESH)
        delay = rng.uniform(0, 1.5 * PAUSE_S)
        if replace:
            prev = lifecircle_run(out, "--minutes", "5", pause=False)
            prev.communicate()
            old_sha = (out / "_SUCCESS.json").read_bytes()
        proc = lifecircle_run(out, *(["--overwrite"] if replace else []), pause=True)
        wait_for(proc, step)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        after = state(out)
        if after == "complete":
            new = not replace or (out / "_SUCCESS.json").read_bytes() != old_sha
            after = "new output complete" if new else "old output intact"
        rerun = lifecircle_run(out, "--overwrite", pause=False)
        _, err = rerun.communicate()
        ok = rerun.returncode == 0 and state(out) == "complete" and not leftovers(out)
        safe = not after.startswith("BROKEN")
        good += ok and safe
        print(f"{i:>3}  {'replace' if replace else 'fresh':8} {step:28} {delay:7.2f}  "
              f"{after:24} {'ok' if ok else 'FAILED ' + err.strip()[-80:]}")
    print(f"{good}/{n} kill points: no broken folder and the rerun succeeded")
    return good == n


def sigint(work: Path) -> bool:
    out = work / "sigint"
    proc = lifecircle_run(out, pause=True)
    wait_for(proc, "commit")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    lines = [ln for ln in err.splitlines() if not ln.startswith("lifecircle-test-checkpoint")]
    ok = proc.returncode == 130 and len(lines) == 1 and state(out) == "absent"
    ok = ok and not leftovers(out)
    print(f"\n2. SIGINT at 'commit': exit {proc.returncode}, stderr {lines}, output "
          f"{state(out)}, leftovers {leftovers(out)}: {'ok' if ok else 'FAILED'}")
    return ok


def write_grid(folder: Path) -> dict[str, str]:
    """A 4 x 3 street grid (GraphML) with one shop and one block, for a tiny region."""
    import geopandas as gpd
    import networkx as nx
    import osmnx as ox
    import shapely

    g = nx.MultiDiGraph(crs="EPSG:32650")
    x0, y0 = 500_000.0, 3_500_000.0
    for c in range(4):
        for r in range(3):
            g.add_node(10 * c + r + 1, x=x0 + 100 * c, y=y0 + 100 * r)
    for c in range(4):
        for r in range(3):
            for dc, dr in ((1, 0), (0, 1)):
                if c + dc < 4 and r + dr < 3:
                    a, b = 10 * c + r + 1, 10 * (c + dc) + r + dr + 1
                    g.add_edge(a, b, key=0, length=100.0)
                    g.add_edge(b, a, key=0, length=100.0)
    folder.mkdir(parents=True, exist_ok=True)
    ox.save_graphml(g, folder / "grid.graphml")
    gpd.GeoDataFrame({"id": ["shop"], "category": ["retail"], "name": ["shop"]},
                     geometry=[shapely.Point(x0 + 150, y0 + 20)], crs=g.graph["crs"]
                     ).to_file(folder / "fac.gpkg")
    gpd.GeoDataFrame({"block_id": ["B"], "population": [100.0]},
                     geometry=[shapely.box(x0 + 240, y0 + 120, x0 + 260, y0 + 140)],
                     crs=g.graph["crs"]).to_file(folder / "blocks.gpkg")
    return {"osm": str(folder / "grid.graphml"), "facilities": str(folder / "fac.gpkg"),
            "blocks": str(folder / "blocks.gpkg")}


def batch(work: Path, workers: int) -> bool:
    from lifecircle.batch import WORKER_DIED, Region, run_batch
    from lifecircle.pipeline import default_osm
    from tests.fault_hooks import kill_the_worker

    corrupt = work / "corrupt.osm.pbf"
    corrupt.write_bytes(random.Random(12).randbytes(8192))
    grid = write_grid(work / "grid")
    regions = [Region("helsinki", {"osm": str(default_osm())})]
    regions += [Region(name.split(".")[0], {"osm": str(SHARED / name)}) for name in EXTRACTS
                if (SHARED / name).is_file()]
    regions += [Region("grid", grid), Region("corrupt", {"osm": str(corrupt)}),
                Region("killer", {"osm": str(default_osm())})]
    out = work / "batch"
    print(f"\n3. Batch of {len(regions)} regions on a LocalCluster ({workers} workers)")
    t0 = time.perf_counter()
    first = run_batch(regions, out, n_workers=workers, runner=kill_the_worker)
    took = time.perf_counter() - t0
    stamps = {r["name"]: (out / r["name"] / "_SUCCESS.json").stat().st_mtime_ns
              for r in first.regions if r["status"] == "ok"}
    t0 = time.perf_counter()
    second = run_batch(regions, out, n_workers=workers, runner=kill_the_worker)
    took2 = time.perf_counter() - t0
    print(f"{'region':24} {'first run':9} {'s':>6} {'complete':>8}  {'rerun':9} reason")
    for a, b in zip(first.regions, second.regions, strict=True):
        share = a.get("complete_share_population")
        print(f"{a['name']:24} {a['status']:9} {a['seconds']:6.1f} "
              f"{'–' if share is None else f'{100 * share:.0f}%':>8}  {b['status']:9} "
              f"{a['reason'][:90]}")
    failed = {r["name"]: r["reason"] for r in first.failed}
    unchanged = all((out / n / "_SUCCESS.json").stat().st_mtime_ns == t
                    for n, t in stamps.items())
    recomputed = sorted(r["name"] for r in second.regions if r["status"] != "skipped")
    ok = (set(failed) == {"corrupt", "killer"} and failed["killer"] == WORKER_DIED
          and "corrupt.osm.pbf" in failed["corrupt"]
          and len(stamps) == len(regions) - 2 and unchanged
          and recomputed == ["corrupt", "killer"])
    print(f"first run {took:.1f} s: {len(stamps)} ok, failed {sorted(failed)}; rerun "
          f"{took2:.1f} s recomputed {recomputed}, finished outputs untouched: {unchanged}: "
          f"{'ok' if ok else 'FAILED'}")
    return ok


def memory(work: Path) -> bool:
    from lifecircle.batch import WORKER_DIED, Region, run_batch
    from tests.fault_hooks import allocate_4gb

    print("\n4. Out of memory: region 'hog' allocates 4 GB, workers limited to 1.5 GB")
    t0 = time.perf_counter()
    result = run_batch([Region("hog", {}), Region("neighbour", {})], work / "memory",
                       n_workers=2, memory_limit="1.5GB", runner=allocate_4gb)
    rows = {r["name"]: r for r in result.regions}
    for r in result.regions:
        print(f"  {r['name']:10} {r['status']:7} {r['reason']}")
    ok = rows["hog"]["reason"] == WORKER_DIED and rows["neighbour"]["status"] == "ok"
    print(f"  {time.perf_counter() - t0:.1f} s: {'ok' if ok else 'FAILED'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lifecircle-faults-") as tmp:
        work = Path(tmp)
        results = [kills(args.kills, args.seed, work), sigint(work)]
        if not args.no_batch:
            results.append(batch(work, args.workers))
        if not args.no_memory:
            results.append(memory(work))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
