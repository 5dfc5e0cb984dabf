"""Slope from a DEM: Tobler's hiking function per walking direction.

Elevations are sampled bilinearly in the DEM's own CRS at every edge vertex, plus points along
long segments so no segment is longer than about one DEM pixel. Each piece of an edge walked
from u to v has slope ``s = dh/dx``; Tobler's hiking function gives a speed
``W(s) = 6 · exp(-3.5 · |s + 0.05|)`` km/h, and the factor ``W(s) / W(0)`` scales the group's
flat speed (1 on flat ground, about 0.70 up a 10 % ramp, 1 down it, up to 1.19 down a 5 %
slope). An edge then costs ``Σ dx / factor`` *equivalent flat metres* in each direction, so a
reported time is still equivalent metres / speed. The part of an edge between a snapped point
and an end costs its share of the edge's cost in the direction walked (the edge's mean factor;
see :mod:`lifecircle.routing`); off-network legs stay flat.

Only the window of the DEM around the network is read.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyproj

from ._errors import InputFileError, ResourceLimitError
from .network import WalkNetwork
from .sources._raster import extent_text, open_raster, read_values, window_of_bounds

__all__ = ["apply_dem", "sample_dem", "slope_weights", "tobler_factor", "tobler_kmh"]

log = logging.getLogger(__name__)

#: the model's name as recorded in the run metadata
MODEL = "Tobler hiking function W = 6 exp(-3.5 |dh/dx + 0.05|) km/h, normalised to W(0)"


def tobler_kmh(slope: np.ndarray | float) -> np.ndarray:
    """Tobler's hiking speed (km/h) on a slope ``dh/dx`` (positive uphill)."""
    return 6.0 * np.exp(-3.5 * np.abs(np.asarray(slope, dtype=np.float64) + 0.05))


def tobler_factor(slope: np.ndarray | float) -> np.ndarray:
    """``W(slope) / W(0)``: 1 on flat ground, below 1 uphill and on steep descents.

    Written as ``exp(-3.5 (|s + 0.05| - 0.05))`` so that it is exactly 1 at ``s = 0``.
    """
    s = np.asarray(slope, dtype=np.float64)
    return np.exp(-3.5 * (np.abs(s + 0.05) - 0.05))


#: a DEM window larger than this (pixels) is refused: resample the DEM for a study area
MAX_DEM_PIXELS = 400_000_000
#: sample points per chunk (bounds memory to a few hundred MB whatever the network size)
_CHUNK_POINTS = 1_000_000


@dataclass(frozen=True)
class _DemWindow:
    """The DEM pixels under a network, read once, and how to sample them bilinearly."""

    grid: np.ndarray
    r0: int
    c0: int
    inv: Any
    height: int
    width: int
    to_dem: pyproj.Transformer
    step_m: float

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        from scipy.ndimage import map_coordinates

        px, py = self.to_dem.transform(np.asarray(x, np.float64), np.asarray(y, np.float64))
        px, py = np.asarray(px), np.asarray(py)
        inv = self.inv
        col = inv.a * px + inv.b * py + inv.c
        row = inv.d * px + inv.e * py + inv.f
        outside = (col < 0) | (row < 0) | (col > self.width) | (row > self.height)
        # pixel values sit at pixel centres: (row - 0.5, col - 0.5) in the window's indices
        z = map_coordinates(
            self.grid,
            [row - 0.5 - self.r0, col - 0.5 - self.c0],
            order=1,
            mode="nearest",
            prefilter=False,
        )
        z[outside] = np.nan
        return np.asarray(z)


def _read_dem(path: Path, x: np.ndarray, y: np.ndarray, crs: Any, band: int) -> _DemWindow:
    """Read the DEM window under the points (x, y in ``crs``), with one pixel of margin."""
    src = open_raster(path, what="DEM", band=band)
    with src:
        to_dem = pyproj.Transformer.from_crs(
            pyproj.CRS.from_user_input(crs), src.crs, always_xy=True
        )
        px, py = to_dem.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        px, py = np.asarray(px), np.asarray(py)
        bounds = (float(px.min()), float(py.min()), float(px.max()), float(py.max()))
        inv = ~src.transform
        win = window_of_bounds(bounds, inv, src.height, src.width)
        if win is None:
            raise InputFileError(
                path,
                f"the DEM does not overlap the network: DEM extent {extent_text(src.bounds)}, "
                f"network extent {extent_text(bounds)}, both in {src.crs.to_string()}",
                "give a DEM that covers the study area",
            )
        r0, c0, r1, c1 = win
        r0, c0 = max(r0 - 1, 0), max(c0 - 1, 0)
        r1, c1 = min(r1 + 1, src.height), min(c1 + 1, src.width)
        if (r1 - r0) * (c1 - c0) > MAX_DEM_PIXELS:
            raise ResourceLimitError(
                f"{path}: the DEM window under the network is {r1 - r0} x {c1 - c0} pixels; "
                "resample the DEM to a coarser resolution (e.g. gdalwarp -tr 10 10) first"
            )
        grid = read_values(src, band, (r0, c0, r1, c1))
        if not np.isfinite(grid).any():
            raise InputFileError(
                path,
                "every DEM pixel under the network is nodata",
                "check the DEM's nodata value and that it covers the study area",
            )
        res_x, res_y = abs(src.transform.a), abs(src.transform.e)
        step = min(res_x, res_y)
        if src.crs.is_geographic:
            lat = float(np.clip(np.mean(py), -89.0, 89.0))
            step *= 111_320.0 * np.cos(np.radians(lat))
        return _DemWindow(grid, r0, c0, inv, src.height, src.width, to_dem, float(max(step, 1.0)))


def sample_dem(
    path: str | Path, x: np.ndarray, y: np.ndarray, crs: Any, *, band: int = 1
) -> np.ndarray:
    """Bilinear DEM elevations at points given in ``crs``; NaN outside the DEM or on nodata.

    Raises :class:`InputFileError` for a missing, corrupt or ungeoreferenced DEM, no overlap
    with the points (both extents in the DEM's CRS) and nodata everywhere under them.
    """
    return _read_dem(Path(path), x, y, crs, band).sample(x, y)


def slope_weights(
    net: WalkNetwork, path: str | Path, *, band: int = 1, max_grade_out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Equivalent flat metres of every edge walked u -> v and v -> u, and statistics.

    Each segment of an edge's geometry longer than one DEM pixel is split into pieces of at
    most a pixel; every piece's slope is its rise over its horizontal length (projected length
    scaled to the edge's walking length). Pieces with an elevation missing (nodata, outside the
    DEM) count as flat. ``max_grade_out`` (one value per edge), when given, receives each
    edge's steepest piece as an absolute grade in percent (for ``max_incline_pct`` groups).
    """
    path = Path(path)
    coords = net.edge_coords
    ptr = net.edge_ptr
    n_edges = net.n_edges
    dem = _read_dem(path, coords[:, 0], coords[:, 1], net.crs, band)
    counts = np.diff(ptr)
    edge_of_vertex = np.repeat(np.arange(n_edges), counts)
    last = np.zeros(coords.shape[0], dtype=bool)
    last[ptr[1:] - 1] = True
    seg_all = np.flatnonzero(~last)  # segment i runs from vertex i to vertex i + 1
    seg_len_all = np.hypot(*(coords[seg_all + 1] - coords[seg_all]).T)
    proj_len = np.bincount(edge_of_vertex[seg_all], weights=seg_len_all, minlength=n_edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(proj_len > 0, net.edge_length_m / proj_len, 1.0)
    pieces_all = np.maximum(np.ceil(seg_len_all / dem.step_m).astype(np.int64), 1)
    cost_uv = np.zeros(n_edges)
    cost_vu = np.zeros(n_edges)
    flat = np.zeros(n_edges)
    n_samples = n_missing_z = 0
    max_slope = 0.0
    missing_edges = np.zeros(n_edges, dtype=bool)
    # chunks of segments with about _CHUNK_POINTS sample points each
    bounds = np.searchsorted(
        np.cumsum(pieces_all + 1), np.arange(0, (pieces_all + 1).sum(), _CHUNK_POINTS)
    )
    for lo, hi in zip(bounds, [*bounds[1:], seg_all.shape[0]], strict=True):
        if hi <= lo:
            continue
        seg, seg_len, pieces = seg_all[lo:hi], seg_len_all[lo:hi], pieces_all[lo:hi]
        a, b = coords[seg], coords[seg + 1]
        # points along every segment at fractions 0, 1/k, ..., 1 (k pieces, k + 1 points)
        owner = np.repeat(np.arange(seg.shape[0]), pieces + 1)
        start = np.cumsum(pieces + 1) - (pieces + 1)
        frac = (np.arange(owner.shape[0]) - start[owner]) / pieces[owner]
        pts = a[owner] + (b - a)[owner] * frac[:, None]
        z = dem.sample(pts[:, 0], pts[:, 1])
        n_samples += int(z.shape[0])
        n_missing_z += int((~np.isfinite(z)).sum())
        first_pt = np.ones(owner.shape[0], dtype=bool)
        first_pt[start] = False
        # piece j of a segment: from point j - 1 to point j
        end = np.flatnonzero(first_pt)
        piece_seg = owner[end]
        dz = z[end] - z[end - 1]
        edge = edge_of_vertex[seg[piece_seg]]
        dx = seg_len[piece_seg] / pieces[piece_seg] * scale[edge]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dx > 0, dz / dx, 0.0)
        missing = ~np.isfinite(slope)
        slope[missing] = 0.0
        missing_edges[edge[missing]] = True
        if slope.size:
            max_slope = max(max_slope, float(np.max(np.abs(slope))))
        if max_grade_out is not None:
            np.maximum.at(max_grade_out, edge, 100.0 * np.abs(slope))
        cost_uv += np.bincount(edge, weights=dx / tobler_factor(slope), minlength=n_edges)
        cost_vu += np.bincount(edge, weights=dx / tobler_factor(-slope), minlength=n_edges)
        flat += np.bincount(edge, weights=dx, minlength=n_edges)
    # weight = length × (Σ dx / f) / Σ dx: exactly the length where every factor is 1
    with np.errstate(divide="ignore", invalid="ignore"):
        w_uv = np.where(flat > 0, net.edge_length_m * (cost_uv / flat), net.edge_length_m)
        w_vu = np.where(flat > 0, net.edge_length_m * (cost_vu / flat), net.edge_length_m)
    edges_missing = int(missing_edges.sum())
    stats = {
        "path": str(path),
        "model": MODEL,
        "walk_m_columns": "equivalent flat metres (time = walk_m / speed)",
        "sample_step_m": round(dem.step_m, 3),
        "samples": n_samples,
        "samples_without_elevation": n_missing_z,
        "edges_with_missing_elevation_flat": edges_missing,
        "max_abs_slope": round(max_slope, 4),
        "equivalent_length_km_uv": round(float(w_uv.sum()) / 1000, 3),
        "equivalent_length_km_vu": round(float(w_vu.sum()) / 1000, 3),
    }
    if edges_missing:
        log.info("%s: %d edges have no elevation for part of their length", path, edges_missing)
    return w_uv, w_vu, stats


def apply_dem(net: WalkNetwork, path: str | Path, *, band: int = 1) -> WalkNetwork:
    """A copy of ``net`` whose two directions weigh by Tobler's function (``net.directed``).

    The statistics are in the copy's ``stats["slope"]``; the ``edges`` layer of the copy
    carries ``slope_factor_uv`` and ``slope_factor_vu``.
    """
    max_grade = np.zeros(net.n_edges)
    w_uv, w_vu, stats = slope_weights(net, path, band=band, max_grade_out=max_grade)
    return dataclasses.replace(
        net,
        edge_weight_uv=w_uv,
        edge_weight_vu=w_vu,
        edge_max_grade_pct=max_grade,
        stats={**net.stats, "slope": stats},
    )
