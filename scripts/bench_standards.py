"""Benchmark section ``standards``: what tiers, deficiency lists and plan indicators cost.

1. ``lifecircle.run`` on the shared Nanjing and Beijing extracts with the one-tier ``walk15``
   profile (5 categories) and with ``gb50180-2018`` (15 categories in 4 tiers, 4 targets):
   wall time and the verdict step (tiers, deficiency lists, indicators).
2. ``indicators.catchment_floor_area`` (one bounded search per facility plus exact point times)
   on a tiled network: seconds per facility.

Run from the repository root::

    python scripts/benchmark.py standards --nodes 200000 --facilities 200 --points 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifecircle.indicators import catchment_floor_area  # noqa: E402
from lifecircle.network import WalkNetwork  # noqa: E402
from lifecircle.pipeline import run  # noqa: E402
from lifecircle.snapping import Snap  # noqa: E402
from lifecircle.sources.osm import read_osm  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "osm"


def _random_snap(net: WalkNetwork, n: int, rng: np.random.Generator) -> Snap:
    edge = rng.integers(0, net.n_edges, n)
    along = rng.random(n) * net.edge_length_m[edge]
    return Snap(edge=edge, along_m=along, dist_m=rng.random(n) * 30.0,
                status=np.full(n, "snapped", dtype=object))


def section(args: argparse.Namespace) -> None:
    import geopandas as gpd
    import pandas as pd

    print("\n== standards: profiles with tiers and plan indicators ==")
    print(f"{'extract':28} {'profile':14} {'categories':>10} {'blocks':>7} {'run s':>8} "
          f"{'verdict s':>10}")
    for name in ("nanjing_xinjiekou.osm.gz", "beijing_haidian.osm.gz"):
        path = SHARED / name
        if not path.is_file():
            print(f"{name:28} (missing)")
            continue
        for profile in ("walk15", "gb50180-2018"):
            t0 = time.perf_counter()
            res = run(path, profile=profile)
            wall = time.perf_counter() - t0
            verdict = res.metadata["timings_s"]["verdict"]
            print(f"{name:28} {profile:14} {len(res.profile.categories):>10} "
                  f"{len(res.blocks):>7} {wall:>8.2f} {verdict:>10.3f}")

    from benchmark import tiled_network

    base_path = SHARED / "andorra.osm.pbf"
    if not base_path.is_file():
        base_path = ROOT / "data" / "helsinki.osm.pbf"
    base = WalkNetwork.from_osm(read_osm(base_path))
    net = tiled_network(base, args.nodes)
    rng = np.random.default_rng(0)
    fsnap = _random_snap(net, args.facilities, rng)
    points = _random_snap(net, args.points, rng)
    fac = gpd.GeoDataFrame(pd.DataFrame({
        "snap_edge_id": fsnap.edge, "snap_along_m": fsnap.along_m, "snap_dist_m": fsnap.dist_m,
        "snap_status": fsnap.status, "floor_area_m2": np.full(args.facilities, 100.0),
    }))
    ap_block = np.arange(args.points) // 2
    block_ids = np.unique(ap_block)
    limit_m = args.minutes * args.speed_kmh * 1000 / 60
    catchment_floor_area(net, fac.head(2), points, ap_block, block_ids, limit_m=limit_m)  # jit
    t0 = time.perf_counter()
    catchment_floor_area(net, fac, points, ap_block, block_ids, limit_m=limit_m)
    dt = time.perf_counter() - t0
    print(f"\ncatchment_floor_area on {net.n_nodes:,} nodes ({base_path.name} tiled), "
          f"{args.facilities} facilities, {args.points:,} access points, {limit_m:.0f} m: "
          f"{dt:.2f} s ({1000 * dt / args.facilities:.2f} ms per facility)")
