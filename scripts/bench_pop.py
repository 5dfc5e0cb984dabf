"""Benchmark sections ``population`` and ``slope`` (registered in scripts/benchmark.py).

population
    Zonal sums of a synthetic WorldPop-like raster (EPSG:4326, 3 arc-seconds and 0.3
    arc-seconds) into the Nanjing Xinjiekou blocks derived from OSM: seconds, mass conserved on
    a tiling of the raster, and the per-block error of the alternative the design table
    mentions (``rasterio.features.rasterize`` by pixel centre, supersampled k × k) against
    lifecircle's exact pixel/polygon shares.
slope
    ``apply_dem`` on the Nanjing network and the tiled graph with a synthetic 1 arc-second
    (about 30 m) DEM, and the multi-source search on the directed (sloped) graph against the
    flat one.

    python scripts/benchmark.py population slope --nodes 250000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark import SHARED, measure, row, tiled_network


def _write(path: Path, data: np.ndarray, transform: Any, crs: str) -> Path:
    import rasterio

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    ) as dst:
        dst.write(data.astype("float32"), 1)
    return path


def _nanjing() -> tuple[Any, Any, Any]:
    from lifecircle.network import WalkNetwork
    from lifecircle.sources import blocks as blocks_mod
    from lifecircle.sources.osm import read_osm

    data = read_osm(SHARED / "nanjing_xinjiekou.osm.gz")
    net = WalkNetwork.from_osm(data)
    buildings = blocks_mod.buildings_from_osm(data, net.crs)
    streets = net.edges_gdf()[["highway", "geometry"]]
    return net, blocks_mod.blocks_from_osm(data, streets, buildings), data


def _rasterize_reference(blocks: Any, path: Path, k: int) -> np.ndarray:
    """Block sums by burning block ids at pixel centres of a k × k supersampled grid."""
    import rasterio
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    with rasterio.open(path) as src:
        data = src.read(1).astype(np.float64)
        geoms = blocks.to_crs(src.crs).geometry
        fine = src.transform * Affine.scale(1 / k)
        ids = rasterize(
            ((g, i + 1) for i, g in enumerate(geoms)),
            out_shape=(src.height * k, src.width * k),
            transform=fine,
            fill=0,
            dtype="int32",
        )
    share = np.repeat(np.repeat(data, k, axis=0), k, axis=1) / (k * k)
    return np.bincount(ids.ravel(), weights=share.ravel(), minlength=len(blocks) + 1)[1:]


def section_population(args: argparse.Namespace) -> None:
    import geopandas as gpd
    import shapely
    from rasterio.transform import from_origin

    from lifecircle.sources.population import population_from_raster

    if not (SHARED / "nanjing_xinjiekou.osm.gz").exists():
        print("\n== population: shared Nanjing extract missing, skipped ==")
        return
    net, blocks, _ = _nanjing()
    print(f"\n== population: {len(blocks)} Nanjing Xinjiekou blocks, synthetic rasters ==")
    lon0, lat0, lon1, lat1 = blocks.to_crs(4326).total_bounds
    rng = np.random.default_rng(0)
    row("raster", "seconds", "peak MiB", "blocks' sum", "vs rasterize (median/max)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, res in (("3 arc-s (~90 m)", 1 / 1200), ("0.3 arc-s (~9 m)", 1 / 12000)):
            w = int(np.ceil((lon1 - lon0) / res)) + 4
            h = int(np.ceil((lat1 - lat0) / res)) + 4
            data = rng.gamma(2.0, 20.0 * (res * 1200) ** 2, (h, w))
            tf = from_origin(lon0 - 2 * res, lat1 + 2 * res, res, res)
            path = _write(Path(tmp) / f"pop{w}.tif", data, tf, "EPSG:4326")
            t, mem, pop = measure(lambda p=path: population_from_raster(blocks, p))
            ref = {k: _rasterize_reference(blocks, path, k) for k in (1, 4)}
            errs = []
            for k, r in ref.items():
                rel = np.abs(r - pop.to_numpy()) / np.maximum(pop.to_numpy(), 1e-9)
                errs.append(f"k={k}: {100 * np.median(rel):.1f}%/{100 * rel.max():.0f}%")
            row(
                label + f" {w}x{h}",
                f"{t:.2f}",
                f"{mem:.1f}",
                f"{pop.sum():,.0f}",
                "; ".join(errs),
                widths=(34, 10, 10, 14, 40),
            )
            # mass: Voronoi cells of 2000 random points tiling the raster's footprint (UTM)
            box = gpd.GeoSeries([shapely.box(*tf_bounds(tf, w, h))], crs=4326).to_crs(net.crs)
            x0, y0, x1, y1 = box.total_bounds
            pts = shapely.multipoints(
                np.column_stack([rng.uniform(x0, x1, 2000), rng.uniform(y0, y1, 2000)])
            )
            frame = shapely.box(x0 - 500, y0 - 500, x1 + 500, y1 + 500)
            cells = shapely.intersection(
                shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame)), frame
            )
            tiles = gpd.GeoDataFrame(geometry=cells, crs=net.crs)
            t2, _, tiled = measure(lambda p=path, tl=tiles: population_from_raster(tl, p))
            err = abs(tiled.sum() - data.sum()) / data.sum()
            row(
                "  tiling, 2000 UTM cells",
                f"{t2:.2f}",
                "",
                f"{tiled.sum():,.0f}",
                f"raster {data.sum():,.0f}: error {100 * err:.5f}% (target < 0.5%)",
                widths=(34, 10, 10, 14, 40),
            )


def tf_bounds(tf: Any, w: int, h: int) -> tuple[float, float, float, float]:
    return tf.c, tf.f + tf.e * h, tf.c + tf.a * w, tf.f


def _hilly_dem(net: Any, folder: Path) -> Path:
    """A 1 arc-second DEM over the network: 25 m hills 600 m apart plus a 2 % tilt."""
    import pyproj
    from rasterio.transform import from_origin

    tf = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    lon, lat = tf.transform(net.x, net.y)
    res = 1 / 3600
    lon0, lat1 = np.min(lon) - 10 * res, np.max(lat) + 10 * res
    w = int((np.max(lon) - lon0) / res) + 20
    h = int((lat1 - np.min(lat)) / res) + 20
    gx, gy = np.meshgrid(np.arange(w) * 30.0, np.arange(h) * 30.0)
    z = 25 * np.sin(gx / 95) * np.cos(gy / 95) + 0.02 * gx
    return _write(folder / f"dem{w}.tif", z, from_origin(lon0, lat1, res, res), "EPSG:4326")


def section_slope(args: argparse.Namespace) -> None:
    from benchmark import _facility_snap

    from lifecircle.elevation import apply_dem
    from lifecircle.routing import multi_source

    if not (SHARED / "nanjing_xinjiekou.osm.gz").exists():
        print("\n== slope: shared Nanjing extract missing, skipped ==")
        return
    net, _, _ = _nanjing()
    limit = args.minutes * args.speed_kmh * 1000 / 60
    print(f"\n== slope: Tobler per direction, synthetic 1 arc-second DEM, limit {limit:.0f} m ==")
    row("network", "apply_dem s", "peak MiB", "flat search s", "sloped search s")
    with tempfile.TemporaryDirectory() as tmp:
        for label, g in (
            ("Nanjing Xinjiekou", net),
            (f"tiled Nanjing ~{args.nodes:,}", tiled_network(net, args.nodes)),
        ):
            dem = _hilly_dem(g, Path(tmp))
            t_dem, m_dem, sloped = measure(lambda g=g, d=dem: apply_dem(g, d))
            fsnap = _facility_snap(g, args.facilities, seed=1)
            _ = g.search_csr, sloped.search_csr
            t_flat, _, _ = measure(
                lambda g=g, f=fsnap: multi_source(g, f, limit_m=limit), repeat=args.repeat
            )
            t_slope, _, _ = measure(
                lambda s=sloped, f=fsnap: multi_source(s, f, limit_m=limit), repeat=args.repeat
            )
            row(
                f"{label} ({g.n_nodes:,} nodes)",
                f"{t_dem:.2f}",
                f"{m_dem:.1f}",
                f"{t_flat:.4f}",
                f"{t_slope:.4f} ({t_slope / t_flat:.2f}x)",
            )
            st = sloped.stats["slope"]
            row(
                f"  {st['samples']:,} samples every {st['sample_step_m']} m, "
                f"max slope {st['max_abs_slope']}",
                "",
                "",
                "",
                f"equiv. km {st['equivalent_length_km_uv']:.0f}/"
                f"{st['equivalent_length_km_vu']:.0f} vs {g.edge_length_m.sum() / 1000:.0f}",
            )
