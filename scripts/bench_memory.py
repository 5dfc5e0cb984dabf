"""Where a run's resident memory peaks: an RSS timeline of ``lifecircle run FILE``.

    python scripts/bench_memory.py ~/.cache/lifecircle-bench/lifecircle_tiled_nanjing_21x21.osm.pbf

Runs the default ``lifecircle run FILE -o TMP`` in this process while a daemon thread reads
``/proc/self/status`` (``VmRSS``) every ``--interval-s`` together with the main thread's
stack (the innermost pipeline step and the innermost lifecircle function), and the
proportional and unique set sizes (PSS, USS from ``/proc/PID/smaps_rollup``) of the forked
output workers: a forked child shares the run's pages copy-on-write, so its RSS overstates
what it adds; its USS is what it adds. Prints, per pipeline step, the largest RSS seen and
the function running then, and the overall peak with the worker's added memory at that time.
Linux only (``/proc``). The sampler thread is a daemon, so the run's output workers still
fork (``lifecircle.outputs._background``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_KIB = 1024
#: the checkout this script belongs to is the one measured (not an installed lifecircle)
ROOT = Path(__file__).resolve().parent.parent

#: frames of these modules name the pipeline step a sample falls in
_STEP_MODULES = ("lifecircle/pipeline.py", "lifecircle/result.py")


def _status_kib(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rollup_kib(pid: int) -> tuple[int, int]:
    """PSS and USS of ``pid`` (KiB); zeros once it has gone."""
    pss = uss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    uss += int(line.split()[1])
    except OSError:
        pass
    return pss, uss


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _where(frame: Any) -> tuple[str, str]:
    """The innermost pipeline step (``pipeline.py:analyse:214``) and the innermost lifecircle
    function (``module.function``) on a stack."""
    step = inner = ""
    f = frame
    while f is not None:
        name = f.f_code.co_filename
        if "/lifecircle/" in name:
            short = name.split("/lifecircle/")[-1]
            if not inner:
                inner = f"{short}:{f.f_code.co_name}"
            if not step and name.endswith(_STEP_MODULES):
                step = f"{short}:{f.f_code.co_name}:{f.f_lineno}"
        f = f.f_back
    return step, inner


class Sampler(threading.Thread):
    """Samples RSS, the main thread's place and the workers' PSS/USS until stopped."""

    def __init__(self, interval_s: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval_s = interval_s
        self.samples: list[dict[str, Any]] = []
        self._stop_event = threading.Event()
        self._main = threading.main_thread().ident
        self._t0 = time.perf_counter()

    def run(self) -> None:
        import os

        pid = os.getpid()
        while not self._stop_event.is_set():
            frame = sys._current_frames().get(self._main or 0)
            step, inner = _where(frame)
            kids = [(c, *_rollup_kib(c)) for c in _children(pid)]
            self.samples.append({
                "t": time.perf_counter() - self._t0,
                "rss": _status_kib("/proc/self/status", "VmRSS:"),
                "step": step, "inner": inner,
                "kids_rss": sum(_status_kib(f"/proc/{c}/status", "VmRSS:") for c, *_ in kids),
                "kids_pss": sum(p for _, p, _ in kids),
                "kids_uss": sum(u for _, _, u in kids),
                "parent_pss": _rollup_kib(pid)[0] if kids else 0,
            })
            self._stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def report(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per step (in order of first appearance): its time span and its largest sample."""
    steps: dict[str, dict[str, Any]] = {}
    for s in samples:
        key = s["step"] or "(outside)"
        row = steps.setdefault(key, {"first_s": s["t"], "last_s": s["t"], "peak": s})
        row["last_s"] = s["t"]
        if s["rss"] > row["peak"]["rss"]:
            row["peak"] = s
    peak = max(samples, key=lambda s: s["rss"])
    both = max(samples, key=lambda s: (s["parent_pss"] + s["kids_pss"]) if s["kids_pss"]
               else s["rss"])
    return {"steps": steps, "peak": peak, "peak_with_workers": both}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("osm", type=Path)
    parser.add_argument("--interval-s", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary one, removed after)")
    parser.add_argument("--json", type=Path, default=None, help="write every sample here")
    parser.add_argument("--no-workers", action="store_true",
                        help="write every output in the run's process (for a comparison)")
    parser.add_argument("extra", nargs="*", help="further `lifecircle run` options")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from lifecircle.cli import cli

    print(f"measuring {sys.modules['lifecircle'].__file__}", flush=True)
    if args.no_workers:
        from lifecircle.outputs import _background

        _background._fork = lambda *_a, **_k: None

    tmp = Path(tempfile.mkdtemp(prefix="lc-mem-"))
    out = args.out or tmp / "out"
    sampler = Sampler(args.interval_s)
    sampler.start()
    t0 = time.perf_counter()
    try:
        cli.main(["run", str(args.osm), "-o", str(out), "--overwrite", "-q", *args.extra],
                 standalone_mode=False)
    finally:
        wall = time.perf_counter() - t0
        sampler.stop()
        if args.out is None:
            shutil.rmtree(tmp, ignore_errors=True)
    rep = report(sampler.samples)
    print(f"wall {wall:.1f} s, peak RSS {rep['peak']['rss'] / _KIB:.0f} MiB "
          f"at {rep['peak']['t']:.1f} s in {rep['peak']['step']} ({rep['peak']['inner']})")
    both = rep["peak_with_workers"]
    if both["kids_pss"]:
        print(f"run + workers peak: parent PSS {both['parent_pss'] / _KIB:.0f} MiB + workers "
              f"PSS {both['kids_pss'] / _KIB:.0f} MiB (their USS {both['kids_uss'] / _KIB:.0f}"
              f" MiB, RSS {both['kids_rss'] / _KIB:.0f} MiB) at {both['t']:.1f} s")
    print(f"{'step':44} {'from s':>7} {'to s':>7} {'max RSS MiB':>11} {'kids USS':>8}  at")
    for key, row in rep["steps"].items():
        p = row["peak"]
        print(f"{key[:44]:44} {row['first_s']:7.1f} {row['last_s']:7.1f} "
              f"{p['rss'] / _KIB:11.0f} {p['kids_uss'] / _KIB:8.0f}  {p['inner']}")
    if args.json:
        args.json.write_text(json.dumps({"wall_s": wall, "samples": sampler.samples}))


if __name__ == "__main__":
    main()
