"""Benchmark section ``cityscale``: category isochrones and rasters on a city-sized network.

Loads the network, facilities and walking times once (``lifecircle.run`` with every optional
output off), then times the category isochrones (:func:`lifecircle.isochrones.run_isochrones`)
and the travel-time rasters (:func:`lifecircle.outputs.raster.write_rasters`) one after the
other, sampling the process's resident memory every 20 ms. ``--repo`` runs another checkout's
code (e.g. ``/work/main``) for a before/after comparison in the same conditions.

Usage::

    python scripts/bench_cityscale.py FILE.osm.pbf [--repo PATH] [--cell-m 25]
    python scripts/bench_cityscale.py FILE.osm.pbf --only isochrones --coverage-simplify 2.5
    python scripts/bench_cityscale.py FILE.osm.pbf --only isochrones --iso-cell 5 --iso-memory
    python scripts/benchmark.py cityscale --nodes 268000   # on the cached tiled mosaic

Each part also prints its cost per unit (seconds and GiB per million network nodes for the
isochrones, seconds per million cells for the rasters) and the projection to a
``--project-nodes`` network (1,000,000 by default): isochrones scale with the reached
network, rasters with their cells (capped by the automatic cell size,
``lifecircle.outputs.raster.AUTO_MAX_CELLS``, unless ``--cell-m`` is given).

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


#: seconds and extra GiB of the last :func:`_measure`
LAST: dict[str, float] = {}


def _measure(label: str, fn: Callable[[], Any]) -> Any:
    import gc

    gc.collect()
    t0 = time.perf_counter()
    with PeakRSS() as m:
        out = fn()
    dt = time.perf_counter() - t0
    LAST.update(seconds=dt, extra_gib=(m.peak - m.start) / 2**30)
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
    parser.add_argument("--cell-m", type=float, default=None,
                        help="raster cell size (m); default: the automatic choice of a run")
    parser.add_argument("--project-nodes", type=int, default=1_000_000,
                        help="network size to project the costs to")
    parser.add_argument("--coverage-simplify", type=float, default=None, metavar="TOL_M",
                        help="also time shapely.coverage_simplify of the rings at TOL_M")
    parser.add_argument("--only", choices=["isochrones", "rasters"], help="measure one part")
    parser.add_argument("--iso-cell", type=float, default=None,
                        help="isochrone cell (m); default: the automatic choice of a run")
    parser.add_argument("--iso-memory", action="store_true",
                        help="also time the isochrone table built in memory")
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
        _isochrones(res, args)
    if args.only != "isochrones":
        _rasters(res, args)


def _isochrones(res: Any, args: argparse.Namespace) -> None:
    """The category isochrones as a run makes them: with this checkout, streamed into a
    GeoPackage one category at a time at the automatic cell (``--iso-cell`` to force one;
    ``--iso-memory`` for the whole table in memory too); with an older ``--repo``, in
    memory at its default cell."""
    import lifecircle.isochrones as iso_mod

    net = res.network
    args_ = (net, res.facilities, {c: a.nodes for c, a in res.access.items()},
             {c: a.speed_kmh for c, a in res.access.items()})
    kw = {} if args.iso_cell is None else {"cell_m": args.iso_cell}
    streams = hasattr(iso_mod, "iter_isochrones")
    scale = args.project_nodes / net.n_nodes
    if streams:
        settings = iso_mod.isochrone_settings(net, **kw)
        print(f"  isochrone cell {settings['cell_m']:g} m "
              f"({'automatic' if settings['cell_auto'] else 'given'})")
        _isochrones_streamed(res, args_, kw, scale)
    if streams and not args.iso_memory:
        return
    iso = _measure("category isochrones (memory)",
                   lambda: iso_mod.run_isochrones(*args_, **kw))
    n_vert = int(iso.geometry.count_coordinates().sum())
    print(f"  {len(iso)} rows, {n_vert:,} vertices, area {iso['area_m2'].sum() / 1e6:,.1f} km2")
    print(f"  per million nodes: {LAST['seconds'] / net.n_nodes * 1e6:.0f} s, "
          f"+{LAST['extra_gib'] / net.n_nodes * 1e6:.2f} GiB, {n_vert / net.n_nodes:.0f} "
          f"vertices per node; projected at {args.project_nodes:,} nodes: "
          f"{LAST['seconds'] * scale:.0f} s, +{LAST['extra_gib'] * scale:.1f} GiB")
    if args.coverage_simplify is not None:
        import shapely

        cat = iso["category"].iloc[-1]
        rings = iso[iso["category"] == cat].geometry.to_numpy()
        t0 = time.perf_counter()
        simple = shapely.coverage_simplify(rings, args.coverage_simplify)
        before = int(shapely.get_num_coordinates(rings).sum())
        after = int(shapely.get_num_coordinates(simple).sum())
        print(f"  coverage_simplify({args.coverage_simplify:g} m) of {cat}'s rings: "
              f"{time.perf_counter() - t0:.1f} s, {before:,} -> {after:,} vertices "
              f"({after / before:.1%})")


def _isochrones_streamed(res: Any, args_: tuple[Any, ...], kw: dict[str, Any],
                         scale: float) -> None:
    """Isochrones written to a GeoPackage category by category (as a city-scale run)."""
    import geopandas as gpd

    import lifecircle.isochrones as iso_mod
    from lifecircle.outputs.isochrone_file import append_isochrones

    net = res.network
    with tempfile.TemporaryDirectory() as tmp:
        gpkg = Path(tmp) / "iso.gpkg"
        gpd.GeoDataFrame({"n": [0]}, geometry=gpd.points_from_xy([0.0], [0.0]),
                         crs=net.crs).to_file(gpkg, layer="blocks")
        rows = _measure("category isochrones (streamed)", lambda: append_isochrones(
            gpkg, iso_mod.iter_isochrones(*args_, **kw),
            empty=iso_mod.empty_isochrones(net.crs)))
        size = gpkg.stat().st_size
    print(f"  {rows} rows, GeoPackage {size / 2**20:,.0f} MiB; projected at "
          f"{net.n_nodes * scale:,.0f} nodes: {LAST['seconds'] * scale:.0f} s, "
          f"+{LAST['extra_gib'] * scale:.1f} GiB (memory: one category's, so it grows with "
          "the largest category, not the sum)")


def _rasters(res: Any, args: argparse.Namespace) -> None:
    from lifecircle.outputs.raster import AUTO_MAX_CELLS, auto_cell_m, raster_grid, write_rasters

    net = res.network
    margin = float(res.metadata["max_snap_m"])
    cell_m = auto_cell_m(net, margin_m=margin) if args.cell_m is None else args.cell_m
    how = "automatic" if args.cell_m is None else "given"
    with tempfile.TemporaryDirectory() as tmp:
        paths = _measure(f"rasters ({cell_m:g} m, {how})", lambda: write_rasters(
            res, tmp, cell_m=cell_m))
    cells = raster_grid(net, cell_m=cell_m, margin_m=margin).n_cells
    per_m = LAST["seconds"] / (cells / 1e6)
    print(f"  {len(paths)} rasters of {cells / 1e6:.1f} M cells: {per_m:.1f} s per million "
          f"cells for {len(paths)} categories")
    _cell_snapping(res, cell_m)
    # the bounding box grows with the network (a tiled mosaic: in proportion)
    k = args.project_nodes / net.n_nodes
    big = cells * k
    there = auto_cell_m(net, margin_m=margin, max_cells=int(AUTO_MAX_CELLS / k))
    capped = raster_grid(net, cell_m=there, margin_m=margin).n_cells * k
    print(f"  projected at {args.project_nodes:,} nodes: {big / 1e6:.1f} M cells at "
          f"{cell_m:g} m ({big / 1e6 * per_m:.0f} s); the automatic {there:g} m cell there: "
          f"{capped / 1e6:.1f} M cells ({capped / 1e6 * per_m:.0f} s)")


def _cell_snapping(res: Any, cell_m: float) -> None:
    """The rasters' cell snapping alone, side by side: the grid kernel
    (``outputs/_cell_snap.py``) over every window, and one GEOS query per cell
    (``snapping.snap_points``, as the rasters did before) over every fourth window, in
    seconds per million cells."""
    from lifecircle.outputs import raster

    net = res.network
    margin = float(res.metadata["max_snap_m"])
    grid = raster.raster_grid(net, cell_m=cell_m, margin_m=margin)
    windows = list(raster._windows(grid))
    raster._window_candidates(net, grid, windows[0], margin)  # the compiled kernel, from its cache
    t0 = time.perf_counter()
    for w in windows:
        raster._window_candidates(net, grid, w, margin)
    grid_s = (time.perf_counter() - t0) / grid.n_cells * 1e6
    t0, n = time.perf_counter(), 0
    for w in windows[::4]:
        x, y = raster.cell_centres(grid, *w.toslices())
        raster._snap_near_network(net, x, y, margin)
        n += x.size
    geos_s = (time.perf_counter() - t0) / n * 1e6
    print(f"  cell snapping alone: {grid_s:.2f} s per million cells (grid kernel) vs "
          f"{geos_s:.2f} s (a GEOS query per cell, every fourth window)")


if __name__ == "__main__":
    main()
