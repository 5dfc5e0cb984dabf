"""Benchmark section ``blocks`` (registered in scripts/benchmark.py).

Block derivation and population (buildings read from OSM, blocks derived, people estimated;
the file read and the network build are outside the timing) on the shared extracts, and on
extra files given with ``--blocks-osm`` (e.g. the tiled Nanjing mosaic of
``scripts/make_tiled_osm.py``): the derivation before issue 15 item 2 (blocks at array speed;
``lifecircle/sources/{block_split,buildings,blocks}.py`` at ``tests/_old_blocks.BEFORE_COMMIT``,
read from git) side by side with today's, same profile (``--blocks-profile``, gb50180-2018 by
default), in one process; ``--blocks-before COMMIT`` takes another commit's derivation as the
old one (e.g. main before a change). Printed per file: wall and CPU seconds old and new,
blocks old / new, how many are the same polygon (1 cm), the total area and population old and
new, the new derivation's peak memory above what the process held before it (RSS sampled
every 25 ms; the new one runs first), and a projection to 1,000,000 nodes (linear in nodes
from the largest file; the issue's bar is 20 s).

    python scripts/benchmark.py blocks --repeat 1
    python scripts/benchmark.py blocks --repeat 1 --blocks-before 0525cdd \
        --blocks-osm ~/.cache/lifecircle-bench/lifecircle_tiled_nanjing_21x21.osm.pbf
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark import SHARED, row

from tests._old_blocks import BEFORE_COMMIT, old_blocks_module

EXTRACTS = (
    "beijing_haidian.osm.gz",
    "nanjing_xinjiekou.osm.gz",
    "taichung_xitun.osm.gz",
    "andorra.osm.pbf",
    "monaco.osm.pbf",
)


def _timed(fn: Any, repeat: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds over ``repeat`` runs (CPU: the machine may be shared); the
    CPU as "process/main thread" text (the main thread's CPU bounds the wall on idle cores)."""
    best_w = best_c = best_m = float("inf")
    out = None
    for _ in range(max(repeat, 1)):
        w, c, m = time.perf_counter(), time.process_time(), time.thread_time()
        out = fn()
        best_w = min(best_w, time.perf_counter() - w)
        best_c = min(best_c, time.process_time() - c)
        best_m = min(best_m, time.thread_time() - m)
    return best_w, _Cpu(best_c, best_m), out


class _Cpu(float):
    """Process CPU seconds that also carry the main thread's (printed "process/main")."""

    main: float

    def __new__(cls, cpu: float, main: float) -> _Cpu:
        out = super().__new__(cls, cpu)
        out.main = main
        return out

    def __format__(self, spec: str) -> str:
        return f"{float(self):{spec}}/{self.main:{spec}}"


def _rss_mb() -> float:
    """The process's resident memory now (MB; Linux), 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def _peak_above(fn: Any) -> tuple[Any, float]:
    """(fn(), its peak RSS above the RSS before it, MB), sampling every 25 ms."""
    base = peak = _rss_mb()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.025):
            peak = max(peak, _rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    return out, max(peak, _rss_mb()) - base


def _same(a: Any, b: Any) -> int:
    """How many of ``b``'s blocks are one of ``a``'s polygons (to 1 cm, any vertex order)."""
    import shapely

    def keys(g: Any) -> list[bytes]:
        geoms = shapely.set_precision(g.geometry.to_numpy(), 0.01)
        return list(shapely.to_wkb(shapely.normalize(geoms)))

    have = set(keys(a))
    return sum(k in have for k in keys(b))


def section_blocks(args: argparse.Namespace) -> None:
    """Old vs new block derivation + population, per extract, side by side."""
    from lifecircle.network import WalkNetwork
    from lifecircle.profiles import load_profile
    from lifecircle.sources import blocks as new
    from lifecircle.sources.osm import read_osm

    prof = load_profile(getattr(args, "blocks_profile", None) or "gb50180-2018")
    before = getattr(args, "blocks_before", None) or BEFORE_COMMIT
    old = old_blocks_module(before)
    paths = [SHARED / name for name in EXTRACTS]
    paths += [Path(p).expanduser() for p in getattr(args, "blocks_osm", None) or []]
    print(f"\n== blocks: derivation + population ({prof.name}; old = {before}"
          f"{'' if old else ', not available'}); seconds wall (CPU process/main thread)")
    widths = (26, 9, 20, 20, 6, 16, 8, 24, 22, 9)
    row("file", "nodes", "old s", "new s", "ratio", "blocks old/new", "same",
        "area km² old/new", "people old/new", "new MB", widths=widths)
    last: tuple[int, float, float] | None = None
    for path in paths:
        if not path.exists():
            continue
        data = read_osm(path)
        net = WalkNetwork.from_osm(data)
        streets = net.edges_gdf()[["highway", "geometry"]]

        def run(module: Any, data: Any = data, net: Any = net, streets: Any = streets) -> Any:
            b = module.buildings_from_osm(data, net.crs)
            blk = module.blocks_from_osm(data, streets, b, prof.population)
            return blk, module.estimate_population(blk, b, prof.population)[0]

        (w_new, c_new, (blk_new, pop_new)), mem = _peak_above(
            lambda: _timed(lambda: run(new), args.repeat))
        if old is None:
            row(path.name, f"{net.n_nodes:,}", "-", f"{w_new:.1f} ({c_new:.1f})", "-",
                f"- / {len(blk_new)}", "-", f"- / {blk_new.area.sum() / 1e6:.2f}",
                f"- / {pop_new.sum():,.0f}", f"{mem:,.0f}", widths=widths)
            continue
        w_old, c_old, (blk_old, pop_old) = _timed(lambda: run(old), args.repeat)
        row(path.name, f"{net.n_nodes:,}", f"{w_old:.1f} ({c_old:.1f})",
            f"{w_new:.1f} ({c_new:.1f})", f"{float(c_new) / float(c_old):.2f}",
            f"{len(blk_old)} / {len(blk_new)}", f"{_same(blk_old, blk_new)}",
            f"{blk_old.area.sum() / 1e6:.3f} / {blk_new.area.sum() / 1e6:.3f}",
            f"{pop_old.sum():,.0f} / {pop_new.sum():,.0f}", f"{mem:,.0f}", widths=widths)
        if last is None or net.n_nodes >= last[0]:
            last = (net.n_nodes, w_new, c_new)
    if last is not None:
        scale = 1_000_000 / last[0]
        cpu = _Cpu(last[2] * scale, getattr(last[2], "main", 0.0) * scale)
        print(f"   projected to 1,000,000 nodes (linear from {last[0]:,}): new "
              f"{last[1] * scale:.0f} s wall, {cpu:.0f} s CPU (process/main thread; bar: 20 s)")
