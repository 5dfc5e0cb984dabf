"""Soak: many consecutive ``pipeline.run`` calls in one process; memory and open files stable.

Each run writes a full output folder (GeoPackage, reports) into a fresh temporary folder,
which is removed afterwards. After every run the script records the resident set size and
the number of open file descriptors (psutil), then prints the first, the last and the
maximum and a verdict:

* PASS when RSS grew less than ``--max-growth-mb`` (default 50 MB) from the end of the
  warm-up (``--warmup`` runs, default 10: caches, numba compilation, lazy imports) to the last
  run, and the open files after the warm-up never exceed their warm-up count by more than
  ``--max-fd-growth`` (default 2);
* FAIL otherwise (exit code 1).

Not part of CI's default run. Example::

    python scripts/soak.py                      # 100 runs on the bundled Helsinki extract
    python scripts/soak.py --runs 20 --osm ../shared/data/osm/monaco.osm.pbf --csv soak.csv
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # soak this checkout, not another installed copy


def soak(
    *,
    runs: int,
    osm: Path | None,
    warmup: int,
    max_growth_mb: float,
    max_fd_growth: int,
) -> dict[str, object]:
    """Run the pipeline ``runs`` times; return the per-run samples and the verdict."""
    import psutil

    from lifecircle.pipeline import run

    proc = psutil.Process()
    samples: list[dict[str, float]] = []
    base = Path(tempfile.mkdtemp(prefix="lifecircle-soak-"))
    t_start = time.perf_counter()
    try:
        for i in range(runs):
            t0 = time.perf_counter()
            out = base / f"run{i}"
            result = run(osm, out=out)
            blocks = len(result.blocks)
            del result
            shutil.rmtree(out)
            gc.collect()
            samples.append(
                {
                    "run": i + 1,
                    "seconds": round(time.perf_counter() - t0, 3),
                    "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                    "open_files": proc.num_fds(),
                    "threads": proc.num_threads(),
                    "blocks": blocks,
                }
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    w = min(warmup, runs) - 1
    rss = [s["rss_mb"] for s in samples]
    fds = [s["open_files"] for s in samples]
    growth = rss[-1] - rss[w]
    fd_growth = max(fds[w:]) - fds[w]
    ok = growth < max_growth_mb and fd_growth <= max_fd_growth
    return {
        "runs": runs,
        "osm": str(osm) if osm else "bundled data/helsinki.osm.pbf",
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "rss_mb": {"first": rss[0], "after_warmup": rss[w], "last": rss[-1], "max": max(rss)},
        "rss_growth_after_warmup_mb": round(growth, 1),
        "open_files": {"first": fds[0], "after_warmup": fds[w], "last": fds[-1], "max": max(fds)},
        "open_files_growth_after_warmup": fd_growth,
        "seconds_per_run": {
            "first": samples[0]["seconds"],
            "median": sorted(s["seconds"] for s in samples)[runs // 2],
        },
        "same_result_every_run": len({s["blocks"] for s in samples}) == 1,
        "verdict": "PASS" if ok else "FAIL",
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--osm", type=Path, default=None, help="default: the bundled extract")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--max-fd-growth", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=None, help="write the per-run samples")
    args = parser.parse_args(argv)
    if args.runs < 2 or args.warmup < 1:
        parser.error("need --runs >= 2 and --warmup >= 1")
    report = soak(
        runs=args.runs,
        osm=args.osm,
        warmup=args.warmup,
        max_growth_mb=args.max_growth_mb,
        max_fd_growth=args.max_fd_growth,
    )
    samples = report.pop("samples")
    if args.csv is not None:
        import csv

        with args.csv.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(samples[0]))  # type: ignore[index]
            writer.writeheader()
            writer.writerows(samples)  # type: ignore[arg-type]
    print(json.dumps(report, indent=2))
    return 0 if report["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
