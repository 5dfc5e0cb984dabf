"""Benchmark section ``cityscale``: category isochrones and rasters on a city-sized network.

Loads the network, facilities and walking times once (``lifecircle.run`` with every optional
output off), then times the category isochrones (:func:`lifecircle.isochrones.run_isochrones`)
and the travel-time rasters (:func:`lifecircle.outputs.raster.write_rasters`) one after the
other, sampling the process's resident memory every 20 ms. ``--repo`` runs another checkout's
code (e.g. ``/work/main``) for a before/after comparison in the same conditions.

Usage::

    python scripts/bench_cityscale.py FILE.osm.pbf [--repo PATH] [--cell-m 25]
    python scripts/benchmark.py cityscale --nodes 268000   # on the cached tiled mosaic

Measured here (2 shared cores), 21 x 21 tiled Nanjing mosaic, 268,569 nodes, 5 categories:
see the README's performance section.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class PeakRSS:
    """Peak resident set size (bytes) of this process while the block runs, sampled."""

    def __init__(self, every_s: float = 0.02) -> None:
        import psutil

        self._proc = psutil.Process()
        self._every = every_s
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def _measure(label: str, fn: Callable[[], Any]) -> Any:
    import gc

    gc.collect()
    t0 = time.perf_counter()
    with PeakRSS() as m:
        out = fn()
    dt = time.perf_counter() - t0
    print(f"{label:<28} {dt:9.1f} s   peak RSS {m.peak / 2**30:6.2f} GiB "
          f"(+{(m.peak - m.start) / 2**30:5.2f} GiB over {m.start / 2**30:5.2f})", flush=True)
    return out


def section_cityscale(args: argparse.Namespace) -> None:
    """``benchmark.py cityscale``: this script in a fresh process on the tiled mosaic of
    ``--nodes`` nodes (built and cached as the ``end2end`` section does)."""
    import subprocess

    from bench_end2end import cache_dir
    from bench_scale import tiled_extract

    print("\n== cityscale: category isochrones and rasters on a tiled city ==")
    tiled = tiled_extract(args.nodes, cache_dir())
    subprocess.run([sys.executable, __file__, str(tiled)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("osm")
    parser.add_argument("--repo", help="checkout whose lifecircle to import (default: this one)")
    parser.add_argument("--cell-m", type=float, default=25.0, help="raster cell size (m)")
    parser.add_argument("--only", choices=["isochrones", "rasters"], help="measure one part")
    args = parser.parse_args()
    # this checkout's package unless told otherwise (an installed lifecircle may be another)
    sys.path.insert(0, args.repo or str(Path(__file__).resolve().parents[1]))
    import lifecircle
    print(f"lifecircle from {lifecircle.__file__}")
    res = _measure("load + walking times", lambda: lifecircle.run(
        args.osm, isochrones=False, rasters=False, map=False, figures=False))
    net = res.network
    print(f"{net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(res.facilities):,} facilities")
    if args.only != "rasters":
        _isochrones(res)
    if args.only != "isochrones":
        _rasters(res, args.cell_m)


def _isochrones(res: Any) -> None:
    from lifecircle.isochrones import run_isochrones

    net = res.network
    iso = _measure("category isochrones", lambda: run_isochrones(
        net, res.facilities, {c: a.nodes for c, a in res.access.items()},
        {c: a.speed_kmh for c, a in res.access.items()}))
    print(f"  {len(iso)} rows, {int(iso.geometry.count_coordinates().sum()):,} vertices, "
          f"area {iso['area_m2'].sum() / 1e6:,.1f} km2")


def _rasters(res: Any, cell_m: float) -> None:
    from lifecircle.outputs.raster import write_rasters

    with tempfile.TemporaryDirectory() as tmp:
        paths = _measure(f"rasters ({cell_m:g} m)", lambda: write_rasters(
            res, tmp, cell_m=cell_m))
        import rasterio

        with rasterio.open(paths[0]) as src:
            print(f"  {len(paths)} rasters of {src.width} x {src.height} = "
                  f"{src.width * src.height / 1e6:.1f} M cells")


if __name__ == "__main__":
    main()
