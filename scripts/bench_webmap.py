"""Benchmark section ``webmap``: the map of a city-scale run, its size and how fast it opens.

Runs ``lifecircle.run`` with the map only (no figures, isochrones or rasters) on an OSM file
(default: the cached 268k-node tiled Nanjing mosaic of ``scripts/benchmark.py end2end``),
then opens ``map.html`` in headless Chromium (``/usr/bin/chromium`` through selenium, every
network request blocked) and prints the file size, the size of each part of its data block,
the time to open it (wall, and CPU seconds of all Chromium processes, which shared cores
disturb less), the JavaScript heap and any page error. ``--html FILE`` only opens a map.

``--copies 2`` also draws the map of the run's blocks, facilities and streets laid out 2 x 2
side by side (with their walking times): on the 268k-node mosaic that is 305,524 blocks and
1.47 million edges, the map of a million-node city without running one (which needs more
memory than a shared machine has to spare).

    python scripts/benchmark.py webmap
    python scripts/bench_webmap.py ~/.cache/lifecircle-bench/lifecircle_tiled_nanjing_21x21.osm.pbf
    python scripts/bench_webmap.py --copies 2
    python scripts/bench_webmap.py --html out/map.html
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OSM = Path.home() / ".cache" / "lifecircle-bench" / "lifecircle_tiled_nanjing_21x21.osm.pbf"
_DATA = re.compile(r'<script type="application/json" id="lc-data">(.*?)</script>', re.S)


def parts_mb(page: Path) -> dict[str, float]:
    """Megabytes of each entry of the page's data block."""
    found = _DATA.search(page.read_text(encoding="utf-8"))
    data = json.loads(found.group(1)) if found else {}
    return {k: round(len(json.dumps(v, separators=(",", ":"))) / 1e6, 2)
            for k, v in data.items() if len(json.dumps(v)) > 10_000}


def open_in_chromium(page: Path) -> dict[str, object]:
    """Open ``page`` headless; wall and CPU seconds until the script ran, heap, errors."""
    import psutil
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,800",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='lc-bench-')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.set_page_load_timeout(300)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})

        def cpu() -> float:
            total = 0.0
            for p in psutil.Process(driver.service.process.pid).children(recursive=True):
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            return total

        c0, t0 = cpu(), time.perf_counter()
        driver.get(page.resolve().as_uri())
        ready = driver.execute_script("return !!window.lcMap")
        driver.execute_async_script(
            "const cb = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(cb));")
        wall, cpu_s = time.perf_counter() - t0, cpu() - c0
        errors = [e["message"] for e in driver.get_log("browser")
                  if e["level"] in ("SEVERE", "ERROR") and "ERR_BLOCKED_BY_CLIENT"
                  not in e["message"]]
        heap = driver.execute_script(
            "return performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null")
        streets = driver.execute_script(
            "return document.querySelectorAll('img.lc-streets').length")
    finally:
        driver.quit()
    return {"map drawn": ready, "open wall s": round(wall, 1), "open cpu s": round(cpu_s, 1),
            "js heap MB": heap and round(heap), "street images shown": streets,
            "page errors": errors}


def _copies(frame, n: int, width: float, height: float):
    """``frame`` laid out ``n`` x ``n`` times, each copy moved by whole ``width``/``height``."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    parts = []
    for i in range(n * n):
        shift = np.array([(i % n) * width, (i // n) * height])
        moved = frame.set_geometry(shapely.transform(np.asarray(frame.geometry.values),
                                                     lambda xy, s=shift: xy + s), crs=frame.crs)
        if "block_id" in moved.columns:
            moved = moved.assign(block_id=[f"b{j + 1 + i * len(frame)}"
                                           for j in range(len(frame))])
        parts.append(moved)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=frame.crs)


def copies_map(result, n: int, path: Path) -> Path:
    """The map of ``result``'s blocks, facilities and streets copied ``n`` x ``n`` times."""
    import numpy as np

    from lifecircle.outputs.products import _run_map_options
    from lifecircle.outputs.webmap import write_map

    minx, miny, maxx, maxy = result.edges.total_bounds
    w, h = maxx - minx, maxy - miny
    options = _run_map_options(result, tiles="OpenStreetMap")
    options["edge_minutes"] = {c: np.tile(m, n * n)
                               for c, m in (options["edge_minutes"] or {}).items()}
    blocks, facilities, edges = (_copies(f, n, w, h) for f in
                                 (result.blocks, result.facilities, result.edges))
    t0 = time.perf_counter()
    write_map(blocks, facilities, edges, result.profile, path, **options)
    print(f"map of {n} x {n} copies ({len(blocks):,} blocks, {len(edges):,} edges): "
          f"{time.perf_counter() - t0:.1f} s")
    return path


def report(html: Path) -> None:
    print(f"{html}: {html.stat().st_size / 1e6:.1f} MB; data block MB {parts_mb(html)}")
    print(open_in_chromium(html))


def measure(osm: Path | None, html: Path | None, copies: int = 1) -> None:
    if html is None:
        sys.path.insert(0, str(ROOT))
        import lifecircle

        out = Path(tempfile.mkdtemp(prefix="lc-bench-map-")) / "run"
        t0 = time.perf_counter()
        result = lifecircle.run(str(osm), out=out, map=True, figures=False, isochrones=False,
                                rasters=False)
        print(f"run with the map: {time.perf_counter() - t0:.1f} s ({osm.name})")
        report(out / "map.html")
        if copies > 1:
            report(copies_map(result, copies, out / f"map_{copies}x{copies}.html"))
        return
    report(html)


def section_webmap(args: argparse.Namespace) -> None:
    """``benchmark.py webmap``: the map of the cached 268k-node mosaic."""
    print("\n== webmap: the map of a tiled city (and of 2 x 2 copies, a million-node city), "
          "its size and opening time ==")
    measure(DEFAULT_OSM, None, copies=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("osm", nargs="?", type=Path, default=DEFAULT_OSM)
    parser.add_argument("--html", type=Path, help="only open this map")
    parser.add_argument("--copies", type=int, default=1,
                        help="also map the run copied N x N times (a city N^2 times larger)")
    args = parser.parse_args()
    measure(args.osm, args.html, args.copies)


if __name__ == "__main__":
    main()
