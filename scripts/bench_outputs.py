"""CPU of a run's tables, map, figures and rasters, side by side for several checkouts.

Analyses an OSM file once, then writes each product in a forked child (the way a run's output
worker inherits the analysis), alternating the checkouts given with ``--tree`` ``--repeat``
times: each child imports ``lifecircle.outputs`` from its checkout (the analysis, computed by
this one, is the same for all). Prints the CPU seconds of each write (the child's process
time: what the run's 2 cores spend) and the median per checkout; the outputs are kept under
``--out`` so that the checkouts' files can be compared byte for byte.

Run from the repository root, e.g. old against new on the cached 268k-node mosaic::

    python scripts/bench_outputs.py \\
        ~/.cache/lifecircle-bench/lifecircle_tiled_nanjing_21x21.osm.pbf \\
        --tree /work/main --tree . --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRODUCTS = ("tables", "map", "figures", "rasters")


def _write(result: Any, tree: Path, product: str, out: Path) -> float:
    """In a forked child: ``product`` written by the ``lifecircle.outputs`` of ``tree``."""
    import lifecircle

    for name in [m for m in sys.modules if m.startswith("lifecircle.outputs")]:
        del sys.modules[name]
    lifecircle.__path__[:] = [str(tree / "lifecircle")]
    from lifecircle.outputs.products import write_products
    from lifecircle.outputs.table import write_tables

    out.mkdir(parents=True, exist_ok=True)
    start = time.process_time()
    if product == "tables":
        write_tables(result, out)
    else:
        write_products(result, out, map=product == "map", figures=product == "figures",
                       rasters=product == "rasters")
    return time.process_time() - start


def _in_child(result: Any, tree: Path, product: str, out: Path) -> float:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            message = json.dumps({"cpu": _write(result, tree, product, out)})
        except BaseException as exc:  # reported by the parent
            message = json.dumps({"error": repr(exc)})
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    answer = json.loads(data)
    if "error" in answer:
        raise SystemExit(f"{tree} {product}: {answer['error']}")
    return float(answer["cpu"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("osm", type=Path)
    parser.add_argument("--tree", type=Path, action="append",
                        help="a checkout of the repository (repeatable; default: this one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--product", choices=PRODUCTS, action="append")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_outputs"))
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    products = args.product or list(PRODUCTS)

    from lifecircle.pipeline import analyse, configure

    analysis, _ = configure({"osm": str(args.osm)})
    start = time.perf_counter()
    result = analyse(analysis, keep_osm=False)
    result._isochrone_stream = {}  # a city's isochrones went into the GeoPackage: not drawn
    _ = result.edges  # built once, before the forks, as a run does
    print(f"analysis {time.perf_counter() - start:.1f} s; {len(result.blocks):,} blocks, "
          f"{result.network.n_nodes:,} nodes")
    seconds: dict[tuple[Path, str], list[float]] = {}
    for k in range(args.repeat):
        for product in products:
            for i, tree in enumerate(trees):
                cpu = _in_child(result, tree, product, args.out / f"tree{i}")
                seconds.setdefault((tree, product), []).append(cpu)
                print(f"round {k + 1}  {product:8} {tree!s:40} {cpu:7.3f} s CPU", flush=True)
    print("\nmedian CPU seconds")
    for product in products:
        print(f"  {product:8}" + "".join(
            f"  {statistics.median(seconds[tree, product]):7.3f} ({tree.name})"
            for tree in trees))


if __name__ == "__main__":
    main()
