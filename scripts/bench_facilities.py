"""The facilities stage on its own: time, resident memory, and a snapshot to compare.

``python scripts/bench_facilities.py OSM [--dump OUT.parquet]`` loads OSM, then runs the stage as
the pipeline does (OSM facilities, their access points, projection, snapping) and prints its
seconds and the resident size before, at its peak (sampled every 50 ms) and after. With
``--dump`` it writes the snapped facility table (geometry as WKB) to a Parquet file;
``python scripts/bench_facilities.py --compare A.parquet B.parquet`` checks two snapshots are equal
cell for cell, e.g. one made from a ``main`` checkout and one from a branch (run each with
``PYTHONPATH`` set to its checkout, as the installed package may point elsewhere).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import pandas as pd
import shapely


def _rss_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def run(osm: Path, dump: Path | None) -> None:
    """Run and measure the facilities stage on ``osm``; write its table to ``dump``."""
    from lifecircle import pipeline as p
    from lifecircle._memory import release_freed
    from lifecircle.config import Analysis
    from lifecircle.snapping import snap_points

    cfg = Analysis(osm=osm)
    net, data = p.load_network(osm)
    release_freed()
    before = _rss_gb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _rss_gb())

    watcher = threading.Thread(target=sample)
    watcher.start()
    t0 = time.perf_counter()
    fac, _ = p._facilities(cfg, data, net, cfg.full_profile, cfg.effective_profile)
    fx, fy = p._project_points(fac, net)
    fac = p._with_snap(fac, snap_points(net, fx, fy, max_snap_m=cfg.snap_limit_m), net)
    seconds = time.perf_counter() - t0
    done.set()
    watcher.join()
    release_freed()
    print(f"{osm}: {len(fac)} access points in {seconds:.1f} s; RSS before {before:.2f} GB, "
          f"peak {max(peak[0], _rss_gb()):.2f} GB, after (trimmed) {_rss_gb():.2f} GB")
    if dump is not None:
        table = fac.drop(columns=fac.geometry.name)
        table["wkb"] = shapely.to_wkb(fac.geometry.to_numpy())
        table.to_parquet(dump)  # Parquet, not pickle: a snapshot is data, never code


def compare(a: Path, b: Path) -> None:
    """Raise unless the two snapshots are equal cell for cell."""
    left, right = pd.read_parquet(a), pd.read_parquet(b)
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    print(f"identical: {len(left)} rows")


def main() -> None:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("osm", nargs="?", type=Path)
    ap.add_argument("--dump", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.osm is not None:
        run(args.osm, args.dump)
    else:
        ap.error("give an OSM file or --compare A B")


if __name__ == "__main__":
    main()
