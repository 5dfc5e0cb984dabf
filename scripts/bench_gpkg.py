"""Side-by-side timing of the GeoPackage writer: a base revision's ``geopackage.py`` against the
working tree's, on the layers of a real run, and the two files compared table by table.

    python scripts/bench_gpkg.py capture RUN.osm.pbf /tmp/gpkg/layers
    python scripts/bench_gpkg.py compare /tmp/gpkg/layers --base main

``capture`` runs ``lifecircle run`` on the file and keeps the frames the run hands to
``write_geopackage`` (a Parquet file per layer in a folder; the run folder is deleted).
``compare`` writes those layers
(blocks, access points, facilities, edges, run_metadata) into fresh GeoPackages with the base's
writer and the working tree's, alternately, ``--repeat`` times each, and prints the wall and
CPU (user + system) seconds of each write, the file sizes, whether every table (layers, R-tree
tables, gpkg_* tables) holds the same rows in both files, and SQLite's integrity check.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def capture(pbf: Path, out: Path) -> None:
    import lifecircle.outputs.geopackage as gpkg

    real = gpkg.write_geopackage

    def keep(path: Any, layers: Any, metadata: Any, **options: Any) -> Any:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in layers.items():
            if frame is not None:
                frame.to_parquet(out / f"{name}.parquet")
        return real(path, layers, metadata, **options)

    gpkg.write_geopackage = keep
    run = Path(tempfile.mkdtemp(prefix="bench_gpkg_"))
    try:  # the library's run, as `lifecircle run` makes it (the command ends with os._exit)
        from lifecircle.pipeline import run as lifecircle_run

        lifecircle_run(pbf, out=run / "o")
    finally:
        shutil.rmtree(run, ignore_errors=True)
    print(f"layers kept in {out}")


def _base_writer(base: str, scratch: Path) -> Any:
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{base}:lifecircle/outputs/"
                             "geopackage.py"], check=True, capture_output=True, text=True).stdout
    path = scratch / "geopackage_base.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("lifecircle.outputs._geopackage_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_tables(a: Path, b: Path) -> bool:
    ca, cb = sqlite3.connect(a), sqlite3.connect(b)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    same = ca.execute(schema).fetchall() == cb.execute(schema).fetchall()
    print(f"{'schema':38s} identical {same}")
    for (table,) in ca.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                               "ORDER BY name").fetchall():
        # gpkg_contents.last_change is the write's time
        cols = ("table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, "
                "srs_id" if table == "gpkg_contents" else "*")
        query = f'SELECT {cols} FROM "{table}" ORDER BY 1, 2'
        ra, rb = ca.execute(query).fetchall(), cb.execute(query).fetchall()
        print(f"{table:38s} rows {len(ra):8d} identical {ra == rb}")
        same &= ra == rb
    for name, con in (("base", ca), ("tree", cb)):
        print(f"integrity_check {name}: {con.execute('PRAGMA integrity_check').fetchall()}")
    ca.close()
    cb.close()
    return same


def compare(folder: Path, base: str, repeat: int) -> None:
    import geopandas as gpd
    import pandas as pd
    import pyarrow.parquet as pq

    import lifecircle.outputs.geopackage as tree

    layers = {p.stem: (gpd.read_parquet(p) if b"geo" in (pq.read_schema(p).metadata or {})
                       else pd.read_parquet(p)) for p in sorted(folder.glob("*.parquet"))}
    scratch = Path(tempfile.mkdtemp(prefix="bench_gpkg_"))
    try:
        writers = {"base": _base_writer(base, scratch), "tree": tree}
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in writers}
        order = list(writers)
        for rep in range(repeat):
            for name in order if rep % 2 == 0 else order[::-1]:
                path = scratch / f"{name}.gpkg"
                r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                writers[name].write_geopackage(path, layers, {"version": "bench"})
                r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
                times[name].append((t1 - t0, cpu))
        for name, rows in times.items():
            size = (scratch / f"{name}.gpkg").stat().st_size / 2**20
            print(f"{name}: wall {' '.join(f'{w:.2f}' for w, _ in rows)} s | cpu "
                  f"{' '.join(f'{c:.2f}' for _, c in rows)} s (min {min(c for _, c in rows):.2f})"
                  f" | {size:.1f} MiB")
        same = _same_tables(scratch / "base.gpkg", scratch / "tree.gpkg")
        print("every table identical:", same)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("pbf", type=Path)
    cap.add_argument("out", type=Path)
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("layers", type=Path)
    cmp_.add_argument("--base", default="main")
    cmp_.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.pbf, args.out)
    else:
        compare(args.layers, args.base, args.repeat)


if __name__ == "__main__":
    main()
