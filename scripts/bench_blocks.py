"""Benchmark section ``blocks`` (registered in scripts/benchmark.py).

Block derivation and population (buildings read from OSM, blocks derived, people estimated;
the file read and the network build are outside the timing) on the shared extracts, and on
extra files given with ``--blocks-osm`` (e.g. the tiled Nanjing file of
``scripts/make_tiled_osm.py``): the implementation before issue 13 (``lifecircle/sources/
blocks.py`` at commit ``OLD_COMMIT``, loaded from git) side by side with today's. Both get the
same profile (``--blocks-profile``, gb50180-2018 by default); momepy, which the old code
imports lazily, is imported before the timings. The issue-13 bar: the new derivation within
1.5x of the old on the largest extract. Also printed: block count, the largest block's share
of the population and the largest block's area, old and new.

    python scripts/benchmark.py blocks --repeat 1
    python scripts/benchmark.py blocks --blocks-osm /tmp/tiled250k.osm.pbf
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark import ROOT, SHARED, measure, row

#: the last commit with the old derivation (one street-enclosure pass, whole blocks)
OLD_COMMIT = "179191e"
EXTRACTS = (
    "beijing_haidian.osm.gz",
    "nanjing_xinjiekou.osm.gz",
    "taichung_xitun.osm.gz",
    "andorra.osm.pbf",
    "monaco.osm.pbf",
)


def _old_module() -> Any:
    """The old ``lifecircle.sources.blocks`` from git, or None where git cannot show it."""
    try:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:lifecircle/sources/blocks.py"],
            check=True, capture_output=True, text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    name = "lifecircle.sources._blocks_before_issue13"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "lifecircle.sources"
    sys.modules[name] = module
    exec(compile(text, f"{OLD_COMMIT}:blocks.py", "exec"), module.__dict__)
    return module


def _summary(blocks: Any, pop: np.ndarray) -> str:
    top = float(pop.max() / pop.sum()) if pop.size and pop.sum() > 0 else float("nan")
    largest = float(blocks.area.max() / 1e4) if len(blocks) else float("nan")
    return f"{len(blocks)} / {top:.0%} / {largest:.0f} ha"


def section_blocks(args: argparse.Namespace) -> None:
    """Old vs new block derivation + population, per extract."""
    import momepy  # noqa: F401  (the old code's lazy import, kept out of its timing)

    from lifecircle.network import WalkNetwork
    from lifecircle.profiles import load_profile
    from lifecircle.sources import blocks as new
    from lifecircle.sources.osm import read_osm

    prof = load_profile(getattr(args, "blocks_profile", None) or "gb50180-2018")
    old = _old_module()
    paths = [SHARED / name for name in EXTRACTS]
    paths += [Path(p) for p in getattr(args, "blocks_osm", None) or []]
    print(f"\n== blocks: derivation + population ({prof.name}; old = {OLD_COMMIT}"
          f"{'' if old else ', not available'}); blocks / top share / largest")
    widths = (26, 10, 10, 10, 8, 22, 22)
    row("file", "nodes", "old s", "new s", "ratio", "old", "new", widths=widths)
    for path in paths:
        if not path.exists():
            continue
        data = read_osm(path)
        net = WalkNetwork.from_osm(data)

        def run_new(data: Any = data, net: Any = net) -> Any:
            streets = net.edges_gdf()[["highway", "geometry"]]
            b = new.buildings_from_osm(data, net.crs)
            blk = new.blocks_from_osm(data, streets, b, prof.population)
            return blk, new.estimate_population(blk, b, prof.population)[0]

        def run_old(data: Any = data, net: Any = net) -> Any:
            b = old.buildings_from_osm(data, net.crs)
            blk = old.blocks_from_osm(data, net, b)
            return blk, old.estimate_population(blk, b, prof.population)[0]

        t_new, _, (blk_new, pop_new) = measure(run_new, repeat=args.repeat)
        if old is not None:
            t_old, _, (blk_old, pop_old) = measure(run_old, repeat=args.repeat)
            ratio = t_new / t_old
            old_cells = (f"{t_old:.2f}", f"{t_new:.2f}", f"{ratio:.2f}",
                         _summary(blk_old, pop_old))
        else:
            old_cells = ("-", f"{t_new:.2f}", "-", "-")
        row(path.name, f"{net.n_nodes:,}", *old_cells, _summary(blk_new, pop_new),
            widths=widths)
