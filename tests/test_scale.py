"""The tiled mosaic of scripts/make_tiled_osm.py runs end to end and its copies agree.

A k × k mosaic of central Nanjing holds k² shifted copies of one tile, joined by footways
between border nodes. Stitching only adds edges and every copy brings its own facilities, so:

- the mosaic has k² times the tile's nodes, blocks and facilities, and k² times its edges plus
  one per stitch;
- no block of a copy is farther from a facility than the same block of the lone tile;
- a block whose walk to the nearest facility (or to the search horizon) is shorter than the
  straight line from it to every stitch end cannot gain from the stitches or the other
  copies: its time equals the lone tile's. Network lengths are geodesic: a longitude shift
  leaves them unchanged, a latitude shift scales east-west lengths by cos(lat), allowed for;
  snap offsets (along the edge, off the edge) are measured in the projected plane and move by
  centimetres between copies: the difference they can make is allowed for, block by block.

Blocks and facilities beside a stitch footway snap to it (rightly): the checks skip blocks
whose access point, or whose nearest facility, snaps to another edge in the copy.
"""

from __future__ import annotations

import math
import resource
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import pytest

from lifecircle import columns as col
from lifecircle.pipeline import Result, run
from scripts.make_tiled_osm import _SCALE, read_source, write_tiled
from tests.conftest import shared_osm


def _mosaic(tmp_path: Path, tiles: int) -> tuple[Any, Path, Path, dict[str, Any]]:
    src = read_source(shared_osm("nanjing_xinjiekou.osm.gz"))
    one = tmp_path / "tile.osm.pbf"
    write_tiled(src, one, tiles=1)
    many = tmp_path / f"mosaic{tiles}.osm.pbf"
    summary = write_tiled(src, many, tiles=tiles)
    return src, one, many, summary


def _snap_table(frame: Any, key: str) -> Any:
    return frame.set_index(key)[["snap_u", "snap_v", "snap_along_m", "snap_dist_m"]]


def _copy_snap(lone: Any, mosaic: Any, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether each copy snapped to the copy of the lone tile's edge, and the metres its
    snap offsets moved (along the edge plus off it)."""
    same = (mosaic["snap_u"].to_numpy() == lone["snap_u"].to_numpy() + offset) & (
        mosaic["snap_v"].to_numpy() == lone["snap_v"].to_numpy() + offset
    )
    moved = np.abs(mosaic["snap_along_m"].to_numpy() - lone["snap_along_m"].to_numpy()) + np.abs(
        mosaic["snap_dist_m"].to_numpy() - lone["snap_dist_m"].to_numpy()
    )
    return same, moved


def _compare_copies(
    lone: Result, mosaic: Result, src: Any, summary: dict[str, Any], tiles: list[tuple[int, int]]
) -> dict[str, int]:
    """Assert the per-block times of the given tile copies against the lone tile's."""
    from scipy.spatial import cKDTree

    dx, dy = summary["shift_1e7deg"]
    offsets = summary["id_offsets"]
    ap1 = lone.access_points.set_index("block_id", drop=False)
    blk1 = lone.blocks.set_index("block_id").loc[ap1.index]
    x1, y1 = ap1.geometry.x.to_numpy(), ap1.geometry.y.to_numpy()
    lon, lat = pyproj.Transformer.from_crs(lone.network.crs, 4326, always_xy=True).transform(x1, y1)
    # straight-line metres from each access point to the nearest stitch end of its tile
    border = np.unique([n for pairs in src.border.values() for pair in pairs for n in pair])
    pos = np.searchsorted(lone.network.node_id, border)
    assert (lone.network.node_id[pos] == border).all()
    bx, by = lone.network.x[pos], lone.network.y[pos]
    reach_border_m = np.hypot(x1[:, None] - bx[None, :], y1[:, None] - by[None, :]).min(axis=1)

    ap2 = mosaic.access_points
    blk2 = mosaic.blocks.set_index("block_id")
    from_ll = pyproj.Transformer.from_crs(4326, mosaic.network.crs, always_xy=True)
    tree = cKDTree(np.column_stack([ap2.geometry.x.to_numpy(), ap2.geometry.y.to_numpy()]))
    fac1 = _snap_table(lone.facilities, "facility_id")
    fac2 = _snap_table(mosaic.facilities, "facility_id")
    lat0 = math.radians(float(np.mean(lat)))
    counts = {"matched": 0, "interior": 0, "compared": 0}
    for i, j in tiles:
        t = j * summary["tiles"] + i
        x, y = from_ll.transform(lon + i * dx / _SCALE, lat + j * dy / _SCALE)
        gap, hit = tree.query(np.column_stack([x, y]))
        # the same access point (its representative point moves by centimetres between copies:
        # the projection turns and scales each copy slightly), snapped to the same edge; a
        # stitch passing closer than the block's own street takes the snap instead (rightly)
        same_edge, ap_moved = _copy_snap(
            _snap_table(ap1, "block_id"), ap2.iloc[hit], offsets["node"] * t
        )
        matched = (gap < 0.5) & same_edge
        counts["matched"] += int(matched.sum())
        copy_ids = ap2["block_id"].to_numpy()[hit]
        # a latitude shift scales east-west lengths by cos(lat); allow that, plus rounding
        lat_j = math.radians(float(np.mean(lat)) + j * dy / _SCALE)
        rel = abs(1 - math.cos(lat_j) / math.cos(lat0)) * 1.01 + 1e-9
        for c, acc in lone.access.items():
            t1 = blk1[col.walk_min(c)].to_numpy()
            m1 = blk1[col.walk_m(c)].to_numpy()
            t2 = blk2.loc[copy_ids, col.walk_min(c)].to_numpy()
            # the copy of the lone tile's nearest facility must snap to the same edge too
            fac_ok = np.ones(len(t1), dtype=bool)
            fac_moved = np.zeros(len(t1))
            near = blk1[col.nearest(c)].to_numpy()
            has = np.flatnonzero([isinstance(f, str) for f in near])
            if has.size:
                ids = near[has]
                # a facility may have several access points (rows): every one of them must
                # snap to the copy of its edge; the largest move bounds the change
                per: dict[str, tuple[bool, float]] = {}
                for f in set(ids):
                    k, n = f.split("/")
                    lone_rows = fac1.loc[[f]]
                    copy_rows = fac2.loc[[f"{k}/{int(n) + t * offsets[k]}"]]
                    if len(lone_rows) != len(copy_rows):
                        per[f] = (False, 0.0)
                        continue
                    ok, moved = _copy_snap(lone_rows, copy_rows, offsets["node"] * t)
                    per[f] = (bool(ok.all()), float(moved.max()))
                fac_ok[has] = [per[f][0] for f in ids]
                fac_moved[has] = [per[f][1] for f in ids]
            # what the moved snap offsets can change, plus 1 cm (the precision the output
            # contract promises): reprojecting a copied tile moves points by fractions of a
            # millimetre, which can change which near-tied street is an alternative snap
            slack_min = (ap_moved + fac_moved + 0.01) / (acc.speed_kmh * 1000 / 60)
            use = matched & fac_ok
            # stitching and other copies only add ways and facilities: never longer
            both = use & np.isfinite(t1)
            assert np.isfinite(t2[both]).all()
            excess = t2[both] - t1[both] * (1 + rel) - slack_min[both]
            assert np.all(excess <= 0), (c, i, j, excess.max())
            # far enough from every stitch end that nothing outside the tile can help
            bound = np.where(np.isfinite(m1), m1, acc.horizon_m) + ap1["snap_dist_m"].to_numpy()
            interior = use & (reach_border_m > bound * (1 + rel))
            counts["interior"] += int(interior.sum())
            same_nan = np.isnan(t1) & np.isnan(t2)
            close = (np.abs(t2 - t1) <= rel * t1 + slack_min) | same_nan
            bad = np.flatnonzero(interior & ~close)
            assert bad.size == 0, (
                f"tile ({i}, {j}) {c}: blocks {blk1.index[bad].tolist()[:5]} "
                f"lone {t1[bad][:5]} mosaic {t2[bad][:5]}"
            )
            counts["compared"] += int((interior & np.isfinite(t1)).sum())
    return counts


def _assert_blocks_repeat(lone: Any, mosaic: Any, k2: int) -> None:
    """Every tile repeats the lone tile's blocks, up to those along tile borders.

    Since issue 13 blocks are also derived from homes outside residential land use and split
    to the profile's maximum: along a tile border the lone tile's study limit closes a face
    that the neighbouring tile's streets and the stitch footways close in the mosaic, so
    border blocks are cut differently (measured on the 4 x 4 Nanjing mosaic: 1,604 land-use
    blocks against 16 x 98 = 1,568, all blocks within 10 %). Population per tile is the
    quantity that must not move: every home is counted once either way.
    """
    def landuse(r: Any) -> int:
        return int(r.blocks["block_method"].str.startswith("landuse").sum())

    assert abs(landuse(mosaic) - k2 * landuse(lone)) <= 0.05 * k2 * landuse(lone)
    assert abs(len(mosaic.blocks) - k2 * len(lone.blocks)) <= 0.1 * k2 * len(lone.blocks)
    assert mosaic.blocks["population"].sum() == pytest.approx(
        k2 * lone.blocks["population"].sum(), rel=0.03
    )


def test_nanjing_4x4_mosaic_end_to_end(tmp_path: Path) -> None:
    src, one, many, summary = _mosaic(tmp_path, 4)
    lone = run(one)
    mosaic = run(many, out=tmp_path / "out")
    assert (mosaic.out / "_SUCCESS.json").is_file()
    k2 = 16
    assert mosaic.network.n_nodes == k2 * lone.network.n_nodes
    assert mosaic.network.n_edges == k2 * lone.network.n_edges + summary["written"]["stitch_ways"]
    n_pairs = len(src.border["east_west"]) + len(src.border["north_south"])
    assert summary["written"]["stitch_ways"] == 4 * 3 * n_pairs
    _assert_blocks_repeat(lone, mosaic, k2)
    assert len(mosaic.facilities) == k2 * len(lone.facilities)
    # the stitches join the tiles' largest parts into one
    big1 = np.bincount(lone.network.components).max()
    assert np.bincount(mosaic.network.components).max() >= k2 * big1
    every = [(i, j) for i in range(4) for j in range(4)]
    counts = _compare_copies(lone, mosaic, src, summary, every)
    blocks_x_tiles = k2 * len(lone.blocks)
    assert counts["matched"] >= 0.6 * blocks_x_tiles
    # (block, category) pairs checked for equality: most blocks are near a border of this
    # small tile, or their category (elderly care) has no facility to be nearer than one
    assert counts["compared"] >= 0.2 * blocks_x_tiles


@pytest.mark.slow
def test_million_node_mosaic_end_to_end(tmp_path: Path) -> None:
    """~1M network nodes: 41 × 41 tiles, the whole pipeline with outputs (minutes)."""
    src, one, many, summary = _mosaic(tmp_path, 41)
    lone = run(one)
    mosaic = run(many, out=tmp_path / "out")
    assert mosaic.network.n_nodes == 41 * 41 * lone.network.n_nodes >= 1_000_000
    _assert_blocks_repeat(lone, mosaic, 41 * 41)
    sample = [(0, 0), (40, 0), (20, 20), (0, 40), (40, 40), (7, 33)]
    counts = _compare_copies(lone, mosaic, src, summary, sample)
    # tiles inside the mosaic have stitches on all four sides, which take more snaps
    assert counts["matched"] >= 0.5 * len(sample) * len(lone.blocks), counts
    assert counts["compared"] >= 0.2 * len(sample) * len(lone.blocks)
    # fits the 24 GiB machine with a margin (ru_maxrss is KiB on Linux)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 16 * 2**20


def test_every_product_is_on_by_default_and_each_can_be_switched_off(tmp_path, monkeypatch):
    """No size switch: isochrones, map and rasters are made by default (a large network's
    isochrones streamed into the GeoPackage), nothing is recorded as skipped, and each
    product can still be switched off."""
    from lifecircle import pipeline, result
    from lifecircle.outputs.geopackage import read_metadata

    monkeypatch.setattr(result, "ISOCHRONES_IN_MEMORY_MAX_EDGES", 100)  # the bundled: 3,180
    res = pipeline.run(out=tmp_path / "auto", categories=["retail"])
    files = {p.relative_to(res.out).as_posix() for p in res.out.rglob("*") if p.is_file()}
    assert {"map.html", "lifecircle.gpkg", "figures/coverage_retail.png",
            "rasters/walk_min_retail.tif"} <= files
    meta = read_metadata(res.out / "lifecircle.gpkg")
    assert "skipped_products" not in meta and meta["isochrones"]["enabled"]
    assert res.isochrones is None  # streamed, not held
    from lifecircle.outputs.isochrone_file import read_isochrones

    assert set(read_isochrones(res.out)["category"]) == {"retail"}

    off = pipeline.run(out=tmp_path / "off", categories=["retail"], isochrones=False,
                       map=False, rasters=False)
    assert not (off.out / "map.html").exists() and not (off.out / "rasters").exists()
    assert off.isochrones is not None and off.isochrones.empty
