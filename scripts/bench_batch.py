"""Benchmark section ``batch``: many regions one after another vs on a dask LocalCluster.

The regions are the bundled extract and the shared extracts (whichever are present). Three
timings: every region run in turn in this process (``pipeline.run``, after one warm-up run so
that imports and JIT compilation are not counted), the same regions as a ``run_batch`` on a
fresh LocalCluster (cluster start-up, worker imports and JIT included: what a user waits for),
and the rerun, which skips every region (fingerprint check only). On a machine with few
cores the cluster cannot beat the warm sequential loop; it buys isolation (a region that
crashes or exhausts memory kills only its worker) and scales out with ``--scheduler``.

    python scripts/benchmark.py batch
    python scripts/bench_batch.py --workers 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"


def section_batch(args: Any) -> None:
    from lifecircle.batch import Region, run_batch
    from lifecircle.pipeline import default_osm, run

    workers = getattr(args, "workers", 2)
    paths = [default_osm(), *sorted(p for p in SHARED.glob("*.osm*") if p.is_file())]
    regions = [Region(p.name.split(".")[0], {"osm": str(p)}) for p in paths]
    print(f"\n== batch: {len(regions)} regions (bundled + shared extracts), {workers} workers")
    with tempfile.TemporaryDirectory(prefix="lifecircle-bench-batch-") as tmp:
        work = Path(tmp)
        run(default_osm(), out=work / "warmup")
        t0 = time.perf_counter()
        for r in regions:
            run(out=work / "seq" / r.name, **r.options)
        sequential = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = run_batch(regions, work / "batch", n_workers=workers)
        cluster = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_batch(regions, work / "batch", n_workers=workers)
        rerun = time.perf_counter() - t0
    ok = sum(r["status"] == "ok" for r in first.regions)
    skipped = sum(r["status"] == "skipped" for r in again.regions)
    task_s = sum(r["seconds"] for r in first.regions)
    print(f"  sequential, warm, one process    {sequential:8.1f} s")
    print(f"  run_batch, fresh LocalCluster    {cluster:8.1f} s  ({ok}/{len(regions)} ok; "
          f"sum of region times {task_s:.1f} s)")
    print(f"  rerun (all up to date)           {rerun:8.1f} s  ({skipped} skipped; no cluster "
          "is started)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    section_batch(parser.parse_args())
