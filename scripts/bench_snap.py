"""Benchmark section ``snap``: what snapping costs on a city's worth of points.

    python scripts/benchmark.py snap --points 300000
    LIFECIRCLE_SRC=/path/to/other/checkout python scripts/bench_snap.py --points 300000

``snap_points`` on ``--points`` points scattered around the largest shared extract's streets
(Shanghai's roads: each point up to 60 m from a random edge's first vertex, seeded), best of
``--repeat`` (wall and CPU seconds: on a shared machine CPU time is the steadier figure);
plus how many points got alternative snaps (near-tied streets) and how many were snapped past
a fragment. Run it standalone with ``LIFECIRCLE_SRC`` pointing at another
checkout (e.g. ``main``) to compare before and after a change to snapping.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("LIFECIRCLE_SRC", str(ROOT)))
SHARED = ROOT.parent / "shared" / "data" / "osm"


def section_snap(args: argparse.Namespace) -> None:
    import lifecircle
    from lifecircle.network import WalkNetwork
    from lifecircle.snapping import snap_points
    from lifecircle.sources.osm import read_osm

    path = SHARED / "shanghai_center_roads.osm.gz"
    if not path.is_file():
        print(f"skipped: {path} not present")
        return
    net = WalkNetwork.from_osm(read_osm(path))
    rng = np.random.default_rng(5)
    n = int(args.points)
    e = rng.integers(0, net.n_edges, n)
    start = net.edge_coords[net.edge_ptr[e]]
    x = start[:, 0] + rng.uniform(-60, 60, n)
    y = start[:, 1] + rng.uniform(-60, 60, n)
    snap_points(net, x[:10], y[:10], max_snap_m=300)  # the edge tree, built once per network
    best = cpu = np.inf
    snap = None
    for _ in range(max(1, int(args.repeat))):
        t0, c0 = time.perf_counter(), time.process_time()
        snap = snap_points(net, x, y, max_snap_m=300)
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    assert snap is not None
    alt = getattr(snap, "alt", None)
    rule = getattr(snap, "rule", None)
    with_alt = 0 if alt is None else int(np.unique(alt.point).size)
    past = 0 if rule is None else int((rule == "past_fragment").sum())
    print(f"lifecircle from {Path(lifecircle.__file__).parent.parent}")
    print(f"network {net.n_nodes:,} nodes / {net.n_edges:,} edges; {n:,} points")
    print(f"snap_points: {best:.2f} s wall, {cpu:.2f} s CPU (best of {args.repeat}); "
          f"snapped {int(snap.ok.sum()):,}; with alternative snaps {with_alt:,}; "
          f"past a fragment {past:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    section_snap(parser.parse_args())


if __name__ == "__main__":
    main()
