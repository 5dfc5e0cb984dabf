#!/usr/bin/env python
"""lifecircle benchmarks: our engine and the baselines side by side, in one run.

    python scripts/benchmark.py                  # every section
    python scripts/benchmark.py search loaders   # some sections
    python scripts/benchmark.py search --nodes 250000 --repeat 3

Sections (see SECTIONS): ``loaders`` (pyosmium vs pyrosm vs osmnx.graph_from_xml on the shared
extracts), ``search`` (one category's multi-source search: lifecircle vs a bare scipy
multi-source pass vs networkx vs pandana, on the shared extracts and a tiled ~1M-node graph).
Further sections live in ``scripts/bench_*.py`` modules and are registered below.

Targets (issue 2): on ~1M nodes the per-category search is within 1.5x of a bare scipy
multi-source pass and at least 10x faster than networkx. Each line prints the ratio and PASS or
FAIL against its target. Memory is the tracemalloc peak of the step (numpy buffers included).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"


def measure(fn: Callable[[], Any], *, repeat: int = 1) -> tuple[float, float, Any]:
    """(best seconds, peak MiB of the first call, result)."""
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    best = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best, peak / 2**20, result


def bytecode_env() -> dict[str, str]:
    """This environment without ``PYTHONDONTWRITEBYTECODE``: a run started with it writes the
    ``.pyc`` files an installed package has, so that later runs do not compile lifecircle's
    modules from source (0.3-0.4 s of CPU a process where the variable is set)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def row(*cells: Any, widths: tuple[int, ...] = (34, 12, 12, 12, 24)) -> None:
    print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)))


# ---------------------------------------------------------------------------------------------
# tiled graphs


def tiled_network(base: Any, nodes_target: int) -> Any:
    """Tile a real network into a k × k mosaic of ~``nodes_target`` nodes, stitched at borders.

    Copies are shifted by the base's extent; 30 nodes on facing borders of neighbouring tiles
    are joined by straight edges, so the mosaic is one connected city of real street patterns.
    """
    from lifecircle.network import WalkNetwork

    k = max(1, int(np.ceil(np.sqrt(nodes_target / base.n_nodes))))
    w = float(base.x.max() - base.x.min()) + 50.0
    h = float(base.y.max() - base.y.min()) + 50.0
    n0, e0 = base.n_nodes, base.n_edges
    tiles = [(i, j) for i in range(k) for j in range(k)]
    xs = np.concatenate([base.x + i * w for i, j in tiles])
    ys = np.concatenate([base.y + j * h for i, j in tiles])
    us = [base.edge_u.astype(np.int64) + t * n0 for t in range(len(tiles))]
    vs = [base.edge_v.astype(np.int64) + t * n0 for t in range(len(tiles))]
    lengths = [np.tile(base.edge_length_m, len(tiles))]
    east = np.argsort(-base.x)[:30]
    west = np.argsort(base.x)[:30]
    north = np.argsort(-base.y)[:30]
    south = np.argsort(base.y)[:30]
    east, west = east[np.argsort(base.y[east])], west[np.argsort(base.y[west])]
    north, south = north[np.argsort(base.x[north])], south[np.argsort(base.x[south])]
    index = {t: n for n, t in enumerate(tiles)}
    su, sv = [], []
    for (i, j), t in index.items():
        if (i + 1, j) in index:
            su.append(east + t * n0)
            sv.append(west + index[(i + 1, j)] * n0)
        if (i, j + 1) in index:
            su.append(north + t * n0)
            sv.append(south + index[(i, j + 1)] * n0)
    su_a = np.concatenate(su) if su else np.empty(0, np.int64)
    sv_a = np.concatenate(sv) if sv else np.empty(0, np.int64)
    stitch_len = np.hypot(xs[su_a] - xs[sv_a], ys[su_a] - ys[sv_a])
    u = np.concatenate([*us, su_a])
    v = np.concatenate([*vs, sv_a])
    length = np.concatenate([*lengths, stitch_len])
    _ = e0
    return WalkNetwork.from_arrays(crs=base.crs, node_id=np.arange(xs.shape[0]), x=xs, y=ys,
                                   edge_u=u, edge_v=v, edge_length_m=length)


# ---------------------------------------------------------------------------------------------
# section: loaders


def section_loaders(args: argparse.Namespace) -> None:
    """pyosmium (ours) vs pyrosm vs osmnx.graph_from_xml: read a file into a walking graph."""
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm

    print("\n== loaders: file -> walking network (seconds, best of", args.repeat, ") ==")
    print("lifecircle: filtered pyosmium passes reading ways, POIs, buildings and land use, then")
    print("the CSR;")
    print("pyrosm net: get_network(walking) only (unsimplified segments, no graph); pyrosm all:")
    print("network plus get_pois, get_buildings, get_landuse (the pipeline reads those too).")
    row("extract", "lifecircle", "pyrosm net", "pyrosm all", "osmnx xml", "nodes / edges (ours)",
        widths=(30, 11, 11, 11, 11, 20))
    for name in ("nanjing_xinjiekou.osm.gz", "beijing_haidian.osm.gz", "taichung_xitun.osm.gz",
                 "monaco.osm.pbf", "andorra.osm.pbf", "shanghai_center_roads.osm.gz"):
        path = SHARED / name
        if not path.exists():
            row(name, "missing")
            continue
        t_ours, _, net = measure(lambda p=path: WalkNetwork.from_osm(read_osm(p)),
                                 repeat=args.repeat)
        t_rosm = t_rosm_all = "n/a (XML)"
        if name.endswith(".pbf"):
            try:
                import pyrosm

                def _pyrosm(p: Path = path, every_layer: bool = False) -> Any:
                    osm = pyrosm.OSM(str(p))
                    out = osm.get_network(network_type="walking", nodes=True)
                    if every_layer:
                        out = (out, osm.get_pois(), osm.get_buildings(), osm.get_landuse())
                    return out

                t, _, _ = measure(_pyrosm, repeat=args.repeat)
                t_rosm = f"{t:.3f}"
                t, _, _ = measure(lambda: _pyrosm(every_layer=True), repeat=args.repeat)
                t_rosm_all = f"{t:.3f}"
            except Exception as exc:  # pyrosm fails on some extracts
                t_rosm = t_rosm_all = f"error: {type(exc).__name__}"
        t_ox = "n/a (PBF)"
        if not name.endswith(".pbf"):
            try:
                import gzip
                import tempfile

                import osmnx as ox

                with tempfile.NamedTemporaryFile(suffix=".osm") as tmp:
                    tmp.write(gzip.decompress(path.read_bytes()))
                    tmp.flush()
                    t, _, _ = measure(
                        lambda f=tmp.name: ox.graph_from_xml(f, simplify=True, retain_all=True),
                        repeat=args.repeat)
                t_ox = f"{t:.3f}"
            except Exception as exc:  # osmnx raises on clipped extracts
                t_ox = f"error: {type(exc).__name__}"
        row(name, f"{t_ours:.3f}", t_rosm, t_rosm_all, t_ox, f"{net.n_nodes} / {net.n_edges}",
            widths=(30, 11, 11, 11, 11, 20))
    _loaders_floor(args)


#: the tiled Nanjing mosaic the loader target is measured on (built by make_tiled_osm.py)
TILED_OSM = Path.home() / ".cache" / "lifecircle-bench" / "lifecircle_tiled_nanjing_21x21.osm.pbf"
#: WalkNetwork.from_osm_file within this multiple of the bare pyosmium pass (issue 15)
LOADER_TARGET = 2.0
#: read_pbf alone within this multiple of the bare pyosmium pass (issue 15)
PBF_TARGET = 1.5


def _loaders_floor(args: argparse.Namespace) -> None:
    """WalkNetwork.from_osm_file on the tiled mosaic against the bare pyosmium pass."""
    import osmium

    from lifecircle.network import WalkNetwork

    path = Path(args.tiled_osm)
    if not path.exists():
        print(f"\n(tiled file {path} missing: python scripts/make_tiled_osm.py "
              "../shared/data/osm/nanjing_xinjiekou.osm.gz --nodes 250000 --out FILE)")
        return

    def bare() -> int:
        highway = osmium.filter.KeyFilter("highway")
        return sum(1 for _ in osmium.FileProcessor(str(path)).with_locations()
                   .with_filter(highway))

    def ours() -> Any:
        # the path a run takes: the network built in a thread while the read assembles areas
        return WalkNetwork.from_osm_file(path)[0]  # (the OSM tables go at once)

    print(f"\n== loaders: parse floor on {path.name} (best wall s of {args.repeat}; CPU s "
          "of that run, all threads) ==")
    # timed without tracemalloc: it traces every Python allocation, which would charge the
    # loader (millions of tag dicts) far more than the bare pass
    times = {}
    for label, fn in (("bare pyosmium pass", bare), ("from_osm_file (the run's load)", ours)):
        best = cpu = float("inf")
        result: Any = None
        for _ in range(args.repeat):
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            result = fn()
            wall = time.perf_counter() - t0
            if wall < best:
                best, cpu = wall, time.process_time() - c0
        times[label] = best
        row(label, f"{best:.2f}", f"cpu {cpu:.2f}", f"{getattr(result, 'n_nodes', result)}")
    ratio = times["from_osm_file (the run's load)"] / times["bare pyosmium pass"]
    verdict = "PASS" if ratio <= LOADER_TARGET else "FAIL"
    print(f"ratio {ratio:.2f}x the bare pass (target <= {LOADER_TARGET:.0f}x): {verdict}")
    _loaders_read_alone(path)


#: the bare pass and read_osm alone, each in a fresh interpreter (its own peak RSS): imports,
#: then the timed statement
_READ_ALONE = {
    "bare pyosmium pass": (
        "import osmium",
        "sum(1 for _ in osmium.FileProcessor(sys.argv[1]).with_locations()"
        ".with_filter(osmium.filter.KeyFilter('highway')))",
    ),
    "read_osm alone": ("from lifecircle.sources.osm import read_osm", "read_osm(sys.argv[1])"),
    "read_pbf alone": ("from lifecircle.sources._pbf import read_pbf", "read_pbf(sys.argv[1])"),
}


#: the child's peak RSS in KiB, from /proc (ru_maxrss where there is none)
_HWM = ("def _hwm():\n    try:\n        return next(int(l.split()[1]) for l in "
        "open('/proc/self/status') if l.startswith('VmHWM'))\n    except OSError:\n"
        "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n")


def _loaders_read_alone(path: Path) -> None:
    """The read without the network build: wall, CPU and peak RSS per step, in one run."""
    import resource
    import subprocess

    print(f"\n== loaders: read_osm alone vs the bare pass on {path.name} (each in a fresh "
          "process, imports not timed; wall s, CPU s of the whole process, peak RSS) ==")
    times = {}
    for label, (setup, stmt) in _READ_ALONE.items():
        # the child's own peak: VmHWM (ru_maxrss keeps the parent's peak across fork + exec)
        timer = f"import resource,sys,time\n{_HWM}{setup}\nt=time.perf_counter()\n{stmt}\n" \
                "print(_hwm(), " \
                "time.perf_counter()-t)"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-c", timer, str(path)], cwd=ROOT, check=True,
                              capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times[label] = float(done.stdout.split()[-1])
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        rss_kib = int(done.stdout.split()[-2])  # the child's own peak
        row(label, f"{times[label]:.2f}", f"cpu {cpu:.2f}", f"{rss_kib / 1024:.0f} MB")
    ratio = times["read_osm alone"] / times["bare pyosmium pass"]
    print(f"read_osm alone: {ratio:.2f}x the bare pass")
    ratio = times["read_pbf alone"] / times["bare pyosmium pass"]
    print(f"read_pbf alone (the compiled PBF decoder, issue 15): {ratio:.2f}x the bare pass "
          f"(target <= {PBF_TARGET}x): {'PASS' if ratio <= PBF_TARGET else 'FAIL'}")


# ---------------------------------------------------------------------------------------------
# section: search


def _facility_points(net: Any, n_fac: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_fac`` facility points 15 m off the starts of distinct random edges."""
    rng = np.random.default_rng(seed)
    e = rng.choice(net.n_edges, size=n_fac, replace=False)
    start = net.edge_coords[net.edge_ptr[e]]
    return start[:, 0] + 15.0, start[:, 1] + 15.0


def _facility_snap(net: Any, n_fac: int, seed: int) -> Any:
    from lifecircle.snapping import snap_points

    return snap_points(net, *_facility_points(net, n_fac, seed), max_snap_m=300)


def _bench_search(label: str, net: Any, args: argparse.Namespace, *, targets: bool) -> None:
    import scipy.sparse.csgraph as csg

    from lifecircle.routing import multi_source, point_distances
    from lifecircle.snapping import snap_points

    limit = args.minutes * args.speed_kmh * 1000 / 60
    fsnap = _facility_snap(net, args.facilities, seed=1)
    rng = np.random.default_rng(2)
    pts = rng.choice(net.n_nodes, size=min(net.n_nodes, args.points), replace=False)
    psnap = snap_points(net, net.x[pts] + 20.0, net.y[pts] + 20.0, max_snap_m=300)
    _ = net.csr  # build once, as a run does
    seed_nodes = np.unique(net.edge_u[fsnap.edge[fsnap.ok]])

    def ours() -> Any:
        nodes = multi_source(net, fsnap, limit_m=limit)
        return point_distances(net, nodes, fsnap, psnap)

    def bare_scipy() -> Any:
        return csg.dijkstra(net.csr, directed=True, indices=seed_nodes, min_only=True,
                            limit=limit)

    def scipy_sources() -> Any:
        # the same pass that also reports each node's nearest source, as ours must
        return csg.dijkstra(net.csr, directed=True, indices=seed_nodes, min_only=True,
                            limit=limit, return_predecessors=True)

    t_ours, m_ours, _ = measure(ours, repeat=args.repeat)
    t_sp, m_sp, _ = measure(bare_scipy, repeat=args.repeat)
    t_sps, m_sps, _ = measure(scipy_sources, repeat=args.repeat)
    print(f"\n-- {label}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
          f"{args.facilities} facilities, limit {limit:.0f} m --")
    t_nodes, m_nodes, _ = measure(lambda: multi_source(net, fsnap, limit_m=limit),
                                  repeat=args.repeat)
    row("engine", "seconds", "peak MiB", "ratio", "target")
    row("lifecircle search (nodes)", f"{t_nodes:.4f}", f"{m_nodes:.1f}", "", "")
    row(f"lifecircle search + {len(psnap)} points", f"{t_ours:.4f}", f"{m_ours:.1f}", "", "")
    ratio_sp = t_nodes / t_sp
    row("bare scipy multi-source pass", f"{t_sp:.4f}", f"{m_sp:.1f}",
        f"ours/scipy {ratio_sp:.2f}",
        ("ours <= 1.5x: " + ("PASS" if ratio_sp <= 1.5 else "FAIL")) if targets else "")
    row("  scipy pass + nearest source", f"{t_sps:.4f}", f"{m_sps:.1f}",
        f"ours/that {t_nodes / t_sps:.2f}", "")
    if not args.no_networkx:
        import networkx as nx

        t_build, m_build, g = measure(lambda: _to_nx(net))
        t_nx, m_nx, _ = measure(lambda: nx.multi_source_dijkstra_path_length(
            g, set(seed_nodes.tolist()), cutoff=limit, weight="length"))
        ratio = t_nx / t_nodes
        row("networkx multi_source_dijkstra", f"{t_nx:.4f}", f"{m_nx:.1f}",
            f"nx/ours {ratio:.1f}",
            ("ours >= 10x faster: " + ("PASS" if ratio >= 10 else "FAIL")) if targets else "")
        row("  (networkx graph build)", f"{t_build:.2f}", f"{m_build:.1f}",
            f"{m_build * 2**20 / net.n_nodes:.0f} B/node", "")
        del g
    csr = net.csr
    csr_bytes = csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
    row("  (lifecircle CSR)", "", f"{csr_bytes / 2**20:.1f}",
        f"{csr_bytes / net.n_nodes:.0f} B/node", "")
    try:
        import pandana  # noqa: F401
    except ImportError:
        row("pandana", "not installed")
        return
    if args.no_pandana or (net.n_nodes > 100_000 and not args.pandana_big):
        row("pandana", "skipped", "", "", "(--pandana-big: ~5 min precompute at 1M)")
        return
    try:
        t_pre, m_pre, p = measure(lambda: _pandana_network(net, limit))
        t_pd, m_pd, _ = measure(lambda: _pandana_query(p, net, seed_nodes, limit),
                                repeat=args.repeat)
        row("pandana nearest_pois (query)", f"{t_pd:.4f}", f"{m_pd:.1f}",
            f"pandana/ours {t_pd / t_nodes:.1f}", "")
        row("  (pandana precompute)", f"{t_pre:.2f}", f"{m_pre:.1f}", "", "")
    except Exception as exc:  # pandana's C++ extension fails on some platforms
        row("pandana", f"error: {type(exc).__name__}: {exc}")


def _to_nx(net: Any) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(
        zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length_m.tolist(), strict=True),
        weight="length")
    return g


def _pandana_network(net: Any, limit: float) -> Any:
    import contextlib
    import io

    import pandana
    import pandas as pd

    nodes = pd.DataFrame({"x": net.x, "y": net.y}, index=np.arange(net.n_nodes))
    edges = pd.DataFrame({"from": net.edge_u, "to": net.edge_v,
                          "length": net.edge_length_m})
    with contextlib.redirect_stdout(io.StringIO()):  # pandana prints progress from C++
        p = pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"],
                            edges[["length"]], twoway=True)
        p.precompute(limit)
    return p


def _pandana_query(p: Any, net: Any, seed_nodes: np.ndarray, limit: float) -> Any:
    p.set_pois("f", limit, 1, net.x[seed_nodes], net.y[seed_nodes])
    return p.nearest_pois(limit, "f", num_pois=1)


def section_search(args: argparse.Namespace) -> None:
    """One category's search: extracts, then the tiled ~1M-node graph (with targets)."""
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm

    print(f"\n== search: one category, {args.minutes:g} min at {args.speed_kmh:g} km/h ==")
    for name in ("nanjing_xinjiekou.osm.gz", "monaco.osm.pbf", "andorra.osm.pbf",
                 "shanghai_center_roads.osm.gz"):
        path = SHARED / name
        if path.exists():
            _bench_search(name, WalkNetwork.from_osm(read_osm(path)), args, targets=False)
    base_path = SHARED / "shanghai_center_roads.osm.gz"
    if not base_path.exists():
        base_path = ROOT / "data" / "helsinki.osm.pbf"
    base = WalkNetwork.from_osm(read_osm(base_path))
    t_tile, _, big = measure(lambda: tiled_network(base, args.nodes))
    print(f"\n(tiled {base_path.name} into {big.n_nodes:,} nodes in {t_tile:.1f} s)")
    _bench_search(f"tiled {base_path.name}", big, args, targets=True)


SECTIONS: dict[str, Callable[[argparse.Namespace], None] | str] = {
    "loaders": section_loaders,
    "search": section_search,
    "siting": "bench_siting:section_siting",
    "scale": "bench_scale:section_scale",
    # further sections: "module:function" in scripts/, imported on demand
    "standards": "bench_standards:section",
    "population": "bench_pop:section_population",
    "slope": "bench_pop:section_slope",
    "isochrones": "bench_isochrones:section_isochrones",
    "facilities": "bench_isochrones:section_facilities",
    "maps": "bench_maps:section_maps",
    "batch": "bench_batch:section_batch",
    "blocks": "bench_blocks:section_blocks",
    "snap": "bench_snap:section_snap",
    "end2end": "bench_end2end:section_end2end",
    "cityscale": "bench_cityscale:section_cityscale",
    "startup": "bench_startup:section_startup",
    "webmap": "bench_webmap:section_webmap",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)}")
    parser.add_argument("--nodes", type=int, default=1_000_000, help="tiled graph size")
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--speed-kmh", type=float, default=4.8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tiled-osm", default=str(TILED_OSM),
                        help="tiled OSM file for the loaders floor (make_tiled_osm.py)")
    parser.add_argument("--scipy-sample", type=int, default=200,
                        help="siting: candidates timed with scipy (then extrapolated)")
    parser.add_argument("--blocks-osm", action="append", default=[],
                        help="blocks: an extra OSM file to time (repeatable)")
    parser.add_argument("--blocks-profile", default="gb50180-2018")
    parser.add_argument("--blocks-before", default=None,
                        help="blocks: the commit whose derivation is 'old' (default: before "
                             "issue 15 item 2)")
    parser.add_argument("--iso-facilities", type=int, default=2000,
                        help="facilities: per-facility searches timed for lifecircle")
    parser.add_argument("--iso-sample", type=int, default=50,
                        help="facilities: of those, searches timed for networkx/scipy/pandana")
    parser.add_argument("--no-networkx", action="store_true")
    parser.add_argument("--no-pandana", action="store_true")
    parser.add_argument("--pandana-big", action="store_true",
                        help="also run pandana on the tiled graph (minutes of precompute)")
    args = parser.parse_args(argv)
    names = args.sections or list(SECTIONS)
    for name in names:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
    import platform

    print(f"lifecircle benchmark — Python {platform.python_version()}, "
          f"{platform.machine()}, numpy {np.__version__}")
    for name in names:
        section = SECTIONS[name]
        if isinstance(section, str):
            module, func = section.split(":")
            section = getattr(importlib.import_module(module), func)
        section(args)


if __name__ == "__main__":
    main()
