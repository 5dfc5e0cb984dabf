"""The network and facilities stages of two checkouts, side by side, and whether they agree.

    python scripts/bench_load.py OSM --base /path/to/main/checkout [--repeat 2] [--floor]
        [--network-only]

Runs each checkout in its own process (``PYTHONPATH`` set to it), alternately, ``--repeat``
times: the "Loading the street network" stage (``pipeline.load_network``:
``WalkNetwork.from_osm_file``, or ``read_osm`` then ``WalkNetwork.from_osm`` in a checkout
without it), the peak resident memory of the process up to its end (sampled every 5 ms), and
the "Finding facilities" stage as the pipeline runs it (OSM facilities, their
access points, projection and snapping). Prints the best wall time of each (and the
process CPU seconds, less sensitive to other load; threads add theirs) and checks that the
network arrays and the snapped facility table of the two checkouts are identical. Timings on
a shared machine are noisy: compare the two columns, not runs made at other times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the measured run, in a child process (the checkout comes first on its path)
_CHILD = r"""
import json, sys, threading, time
from pathlib import Path
import numpy as np, shapely
from lifecircle import pipeline as p
from lifecircle.config import Analysis
from lifecircle.network import WalkNetwork
from lifecircle.snapping import release_index
from lifecircle.sources.osm import read_osm

osm, out = Path(sys.argv[1]), Path(sys.argv[2])

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS"))

cfg = Analysis(osm=osm)
peak = [rss()]
stop = threading.Event()

def sample():
    while not stop.wait(0.005):
        peak[0] = max(peak[0], rss())

floor = {}
if sys.argv[3] == "floor":  # the bare pyosmium pass of scripts/benchmark.py, first
    import osmium
    f0 = time.perf_counter()
    sum(1 for _ in osmium.FileProcessor(str(osm)).with_locations()
        .with_filter(osmium.filter.KeyFilter("highway")))
    floor = {"bare_pyosmium_pass_s": time.perf_counter() - f0}
watch = threading.Thread(target=sample, daemon=True)
watch.start()
t0, c0 = time.perf_counter(), time.process_time()
if hasattr(WalkNetwork, "from_osm_file"):  # the read and the build overlapped, as the run does
    net, data = WalkNetwork.from_osm_file(osm)
else:
    data = read_osm(osm)
    net = WalkNetwork.from_osm(data)
t3, c3 = time.perf_counter(), time.process_time()
stop.set()
watch.join()
if sys.argv[4] == "network":
    print(json.dumps({**floor, "network_s": t3 - t0, "network_peak_rss_mib": peak[0],
                      "network_cpu_s": c3 - c0,
                      **({"ratio_to_bare_pass": (t3 - t0) / floor["bare_pyosmium_pass_s"]}
                         if floor else {})}))
    sys.exit(0)
fac, _ = p._facilities(cfg, data, net, cfg.full_profile, cfg.effective_profile)
fx, fy = p._project_points(fac, net)
fac = p._with_snap(fac, p.snap_points(net, fx, fy, max_snap_m=cfg.snap_limit_m), net)
release_index(net)
t4, c4 = time.perf_counter(), time.process_time()
arrays = {k: getattr(net, k) for k in ("node_id", "x", "y", "edge_u", "edge_v", "edge_key",
          "edge_length_m", "edge_coords", "edge_ptr", "edge_way_id", "edge_flags",
          "edge_incline_pct")}
arrays["edge_highway"] = np.asarray(net.edge_highway, dtype=str)
arrays["edge_name"] = np.asarray(net.edge_name, dtype=str)
arrays["stats"] = np.asarray([json.dumps(net.stats, sort_keys=True, default=str)])
np.savez(out.with_suffix(".npz"), **arrays)
table = fac.drop(columns=fac.geometry.name)
table["wkb"] = shapely.to_wkb(fac.geometry.to_numpy())
table.to_parquet(out.with_suffix(".parquet"))
print(json.dumps({**floor, "network_s": t3 - t0, "network_peak_rss_mib": peak[0],
                  **({"ratio_to_bare_pass": (t3 - t0) / floor["bare_pyosmium_pass_s"]}
                     if floor else {}),
                  "facilities_s": t4 - t3, "network_cpu_s": c3 - c0,
                  "facilities_cpu_s": c4 - c3}))
"""


def _run(checkout: Path, osm: Path, out: Path, *, floor: bool = False,
         network_only: bool = False) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    args = [str(osm), str(out), "floor" if floor else "-", "network" if network_only else "all"]
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env,
                          capture_output=True, text=True, check=False, cwd=checkout)
    if done.returncode:
        sys.exit(f"{checkout} failed on {osm}:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _same(a: Path, b: Path) -> list[str]:
    """What differs between two runs' outputs (empty: identical)."""
    import numpy as np
    import pandas as pd

    left, right = np.load(a.with_suffix(".npz")), np.load(b.with_suffix(".npz"))
    bad = [k for k in left.files if left[k].dtype != right[k].dtype
           or not np.array_equal(left[k], right[k], equal_nan=left[k].dtype.kind == "f")]
    try:
        pd.testing.assert_frame_equal(pd.read_parquet(a.with_suffix(".parquet")),
                                      pd.read_parquet(b.with_suffix(".parquet")),
                                      check_exact=True)
    except AssertionError as exc:
        bad.append(f"facilities: {str(exc).splitlines()[0]}")
    return bad


def main() -> None:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("osm", type=Path)
    ap.add_argument("--base", type=Path, required=True, help="the checkout to compare with")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--floor", action="store_true",
                    help="time the bare pyosmium pass first in each child (the ratio's floor)")
    ap.add_argument("--network-only", action="store_true",
                    help="stop after the network (a 1M file: no facilities, no comparison)")
    args = ap.parse_args()
    opts = {"floor": args.floor, "network_only": args.network_only}
    runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="lifecircle-bench-load-") as tmp:
        outs = {"base": Path(tmp) / "base", "this": Path(tmp) / "this"}
        for _ in range(args.repeat):
            runs["base"].append(_run(args.base.resolve(), args.osm, outs["base"], **opts))
            runs["this"].append(_run(ROOT, args.osm, outs["this"], **opts))
        differ = [] if args.network_only else _same(outs["base"], outs["this"])
    print(f"{args.osm.name}, best of {args.repeat} (base: {args.base}, this: {ROOT})")
    print(f"{'':28}{'base':>10}{'this':>10}")
    for key in runs["base"][0]:
        print(f"{key:28}" + "".join(f"{min(r[key] for r in runs[w]):10.2f}"
                                    for w in ("base", "this")))
    if args.network_only:
        print("(network only: outputs not compared)")
    else:
        print("identical network arrays and facilities" if not differ
              else f"DIFFERENT: {', '.join(differ)}")


if __name__ == "__main__":
    main()
