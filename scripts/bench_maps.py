"""Benchmark section ``maps``: map, figures and rasters on the shared extracts.

For each extract: one run without outputs (not timed here), then the time and size of
``map.html`` (linked and self-contained), the PNG figures and the 25 m travel-time rasters.

Run from the repository root::

    python scripts/benchmark.py maps
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"
EXTRACTS = ("nanjing_xinjiekou.osm.gz", "beijing_haidian.osm.gz", "taichung_xitun.osm.gz",
            "shanghai_center_roads.osm.gz")


def _size_mb(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 1e6


def section_maps(args: argparse.Namespace) -> None:
    from lifecircle.outputs.plots import write_figures
    from lifecircle.outputs.products import MAP_NAME, run_map
    from lifecircle.outputs.raster import raster_grid, write_rasters
    from lifecircle.pipeline import run

    print("\n## maps: map.html, figures, rasters (25 m) per extract")
    print(f"{'extract':34}{'blocks':>8}{'edges':>8}{'map s':>8}{'map MB':>8}{'inl. MB':>8}"
          f"{'figs s':>8}{'cells':>10}{'rast s':>8}{'rast MB':>8}")
    for name in EXTRACTS:
        path = SHARED / name
        if not path.is_file():
            print(f"{name:34} missing")
            continue
        result = run(path)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            run_map(result, tiles="osm").save(str(folder / MAP_NAME))
            t_map = time.perf_counter() - t0
            run_map(result, tiles=None, self_contained=True).save(str(folder / "inline.html"))
            t0 = time.perf_counter()
            write_figures(result, folder)
            t_fig = time.perf_counter() - t0
            grid = raster_grid(result.network, cell_m=25.0,
                               margin_m=float(result.metadata["max_snap_m"]))
            t0 = time.perf_counter()
            rasters = write_rasters(result, folder, cell_m=25.0)
            t_rast = time.perf_counter() - t0
            print(f"{name:34}{len(result.blocks):>8}{result.network.n_edges:>8}"
                  f"{t_map:>8.2f}{_size_mb([folder / MAP_NAME]):>8.2f}"
                  f"{_size_mb([folder / 'inline.html']):>8.2f}{t_fig:>8.2f}"
                  f"{grid.n_cells:>10,}{t_rast:>8.2f}{_size_mb(rasters):>8.2f}")


if __name__ == "__main__":
    section_maps(argparse.Namespace())
