"""Travel-time surfaces: one GeoTIFF of walking minutes per category.

A cell's value is the walking time from the cell centre as if it were a block access point:
the centre snaps to its nearest walkable edge (within the run's ``max_snap_m``) and its time is
taken from the node distances the run already computed (:func:`lifecircle.routing.
point_distances`), the same arithmetic as every block's time. A cell whose centre lies on an
access point therefore has exactly that point's minutes. Cells farther than ``max_snap_m``
from every edge, or beyond the search horizon, are NaN (the declared nodata).

The grid is aligned to multiples of the cell size in the run's projected CRS (it covers the
network's bounding box plus ``max_snap_m``) and is processed window by window
(:data:`WINDOW_ROWS` x :data:`WINDOW_COLS` cells, whole blocks of the files): the streets near a
window are found with one query of the edge grid, its cells snapped once (flat candidate snaps,
no :class:`~lifecircle.snapping.Snap` per window) and timed for every category from those
snaps (:func:`lifecircle.routing.candidate_distances`), and the window written, so memory is
bounded by the window whatever the extent, and the cost grows with the area at the chosen cell
size. A window with no street within ``max_snap_m`` is written as nodata without snapping.
Files are Cloud-Optimised GeoTIFFs (DEFLATE level :data:`_DEFLATE_LEVEL`, copied from
uncompressed scratch files) when GDAL has the COG driver, else tiled GeoTIFFs with internal
overviews.

What a cell size costs: ``1e6 / cell_m**2`` cells per km² of the bounding box (1,600 at the
default 25 m, 10,000 at 10 m, 400 at 50 m), four bytes each per category on disk before
compression; the time per million cells is quoted in the README's performance section
(``scripts/benchmark.py cityscale``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.windows import Window

from .. import columns as col
from .._errors import OutputError
from ..access import category_snaps, minutes
from ..edge_access import network_for_group
from ..network import WalkNetwork
from ..routing import (
    EdgeSources,
    NodeDistances,
    candidate_distances,
    edge_sources,
    snap_candidates,
)
from ..snapping import AltSnaps, Snap, _grid, snap_points
from .raster_grid import AUTO_MAX_CELLS, DEFAULT_CELL_M, Grid, auto_cell_m, raster_grid

if TYPE_CHECKING:
    from ._cell_snap import CellCandidates

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_MAX_CELLS",
    "DEFAULT_CELL_M",
    "Grid",
    "auto_cell_m",
    "cell_centres",
    "raster_grid",
    "raster_name",
    "travel_time_cells",
    "write_rasters",
]

_BLOCK = 256
#: A window of cells handled at once (snapping, the last-mile arithmetic, the write): whole
#: 256-cell blocks of the files, 262,144 cells, so memory is bounded by the window whatever
#: the extent.
WINDOW_ROWS = _BLOCK
WINDOW_COLS = 4 * _BLOCK
#: a COG's scratch source is written uncompressed up to this many cells (128 MB a category on
#: disk for a moment; the automatic cell keeps a raster under 3 M cells, 12 MB), compressed
#: beyond
_PLAIN_SCRATCH_CELLS = 32_000_000
#: the COGs' DEFLATE level: 4 instead of GDAL's 6 takes a quarter less CPU to compress, for
#: files 1 % larger (the 268k-node mosaic's five 50 m rasters: 1.55 -> 1.12 s, 36.0 -> 36.4
#: MB; levels 1-3 cost no less CPU and grow the files by 1.4-3 %)
_DEFLATE_LEVEL = 4


def raster_name(category: str) -> str:
    """Path of a category's raster inside the output folder."""
    return f"rasters/{col.walk_min(category)}.tif"


def cell_centres(grid: Grid, rows: slice, cols: slice | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Projected x, y of the centres of the cells in ``rows`` x ``cols`` (row-major; every
    column by default)."""
    cols = slice(0, grid.width) if cols is None else cols
    r = np.arange(rows.start, rows.stop, dtype=np.float64)
    c = np.arange(cols.start, cols.stop, dtype=np.float64)
    x = grid.x0 + (c + 0.5) * grid.cell_m
    y = grid.y0 - (r + 0.5) * grid.cell_m
    xx, yy = np.meshgrid(x, y)
    return xx.reshape(-1), yy.reshape(-1)


def _snap_near_network(net: WalkNetwork, x: np.ndarray, y: np.ndarray, max_snap_m: float
                       ) -> Snap:
    """Snap points; those with no edge within ``max_snap_m`` are left unsnapped cheaply.

    :func:`~lifecircle.snapping.snap_points` writes a reason for every missed point; for a
    raster most cells may be far from the streets, so only the points with an edge within
    ``max_snap_m`` (one query of the snaps' edge grid, :meth:`lifecircle._edge_grid.EdgeGrid.
    within`: the pairs of an STRtree ``dwithin`` query, without building the tree) are
    snapped.
    """
    n = x.shape[0]
    near = np.zeros(n, dtype=bool)
    if n and net.n_edges:
        near[_grid(net).within(x, y, np.full(n, float(max_snap_m)))[0]] = True
    edge = np.full(n, -1, dtype=np.int64)
    along = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    status = np.full(n, f"unreachable: no walkable edge within {max_snap_m:g} m", dtype=object)
    idx = np.flatnonzero(near)
    alt = None
    if idx.size:
        s = snap_points(net, x[idx], y[idx], max_snap_m=max_snap_m)
        edge[idx], along[idx], dist[idx], status[idx] = s.edge, s.along_m, s.dist_m, s.status
        if s.alt is not None:  # near-tied streets, as for blocks
            alt = AltSnaps(idx[s.alt.point], s.alt.edge, s.alt.along_m, s.alt.dist_m)
    return Snap(edge, along, dist, status, alt=alt)


def _window_edges(net: WalkNetwork, grid: Grid, window: Window, max_snap_m: float
                  ) -> np.ndarray | None:
    """The edges that may lie within ``max_snap_m`` of a window's cells (those whose
    envelope meets the window's box: one query of the snaps' edge grid, which needs no
    STRtree), or None when there are none."""
    row0, col0 = int(window.row_off), int(window.col_off)
    h, w = int(window.height), int(window.width)
    c = grid.cell_m
    pad = max_snap_m + c
    hit = _grid(net).meeting(grid.x0 + col0 * c - pad, grid.y0 - (row0 + h) * c - pad,
                             grid.x0 + (col0 + w) * c + pad, grid.y0 - row0 * c + pad) \
        if net.n_edges else np.zeros(0, np.int64)
    return hit if hit.size else None


def _window_args(grid: Grid, window: Window, max_snap_m: float) -> dict[str, Any]:
    return {"x0": grid.x0, "y0": grid.y0, "cell_m": grid.cell_m, "row0": int(window.row_off),
            "col0": int(window.col_off), "height": int(window.height),
            "width": int(window.width), "max_snap_m": max_snap_m}


def _window_candidates(net: WalkNetwork, grid: Grid, window: Window, max_snap_m: float
                       ) -> CellCandidates | None:
    """The snaps of a window's cell centres (row-major), flat (what the times need, without a
    :class:`Snap` per cell), or None when no cell is within ``max_snap_m`` of a street. The
    streets near the window come from one bounding-box query of the edge grid; the cells are
    snapped by :func:`._cell_snap.cell_candidates` (the rules of
    :func:`~lifecircle.snapping.snap_points`, at a fraction of the cost of a query per
    cell)."""
    from ._cell_snap import cell_candidates

    hit = _window_edges(net, grid, window, max_snap_m)
    if hit is None:
        return None
    cand = cell_candidates(net, hit, **_window_args(grid, window, max_snap_m))
    return cand if cand.cell.size else None


def _windows(grid: Grid) -> Iterator[Window]:
    """The grid in windows of :data:`WINDOW_ROWS` rows x :data:`WINDOW_COLS` columns (whole
    256-cell blocks of the files), row by row: what one step holds in memory."""
    for row in range(0, grid.height, WINDOW_ROWS):
        for colm in range(0, grid.width, WINDOW_COLS):
            yield Window(colm, row, min(WINDOW_COLS, grid.width - colm),
                         min(WINDOW_ROWS, grid.height - row))


@dataclass(frozen=True)
class _Timing:
    """What the times of one category's cells read: its group's network, the node distances,
    its facilities by edge and its speed."""

    net: WalkNetwork
    nodes: NodeDistances
    sources: EdgeSources
    speed_kmh: float


def _timings(result: Any, categories: Sequence[str],
             facility_snaps: dict[str, Snap] | None) -> dict[str, _Timing]:
    """Per category, what its cells' times read (made once for all windows; the facilities
    from ``result.facilities`` unless ``facility_snaps`` gives them)."""
    fsnaps = facility_snaps if facility_snaps is not None else category_snaps(
        result.facilities, categories)
    out = {}
    for c in categories:
        a = result.access[c]
        # a step-free category's cells walk on its group's mask, as its blocks do
        gnet = network_for_group(result.network, result.profile.group_of(c))
        out[c] = _Timing(gnet, a.nodes, edge_sources(gnet, fsnaps[c]), a.speed_kmh)
    return out


def _minutes(timings: dict[str, _Timing], owner: np.ndarray, edge: np.ndarray,
             along_m: np.ndarray, dist_m: np.ndarray, n: int) -> Iterator[tuple[str, np.ndarray]]:
    """Per category, the minutes of ``n`` points from their flat candidate snaps (as
    :func:`lifecircle.routing.candidate_distances` takes them): the snaps are shared by
    every category."""
    for c, t in timings.items():
        dist, _ = candidate_distances(t.net, t.nodes, t.sources, owner, edge, along_m, dist_m,
                                      n_points=n)
        yield c, minutes(dist, t.speed_kmh)


def travel_time_cells(
    result: Any, categories: Sequence[str], x: np.ndarray, y: np.ndarray,
    *, snap: Snap | None = None, facility_snaps: dict[str, Snap] | None = None,
) -> dict[str, np.ndarray]:
    """Walking minutes from points (run CRS) to each category, as block times are computed.

    Parameters
    ----------
    result
        A :class:`lifecircle.pipeline.Result`.
    categories
        Categories to evaluate (each must be in ``result.access``).
    x, y
        Point coordinates in the run's CRS.
    snap
        Optional snapping of the points (as :func:`._cell_snap.snap_cells` gives it for a
        window of cells); by default they are snapped here.
    facility_snaps
        Per category, the snapping of its facilities
        (:func:`lifecircle.access.category_snaps`); read from ``result.facilities`` by
        default.

    Returns
    -------
    dict
        ``category -> float64 minutes`` (NaN where no edge is within ``max_snap_m`` or no
        facility within the horizon).
    """
    net: WalkNetwork = result.network
    max_snap_m = float(result.metadata["max_snap_m"])
    if snap is None:
        snap = _snap_near_network(net, np.asarray(x, float), np.asarray(y, float), max_snap_m)
    timings = _timings(result, categories, facility_snaps)
    return dict(_minutes(timings, *snap_candidates(snap), len(snap)))


def _profile(grid: Grid, crs: Any, driver: str, *, scratch: bool = False) -> dict[str, Any]:
    """Creation options of a raster; a ``scratch`` file (a COG's source) is left uncompressed
    up to :data:`_PLAIN_SCRATCH_CELLS` cells: compressing it only to decompress it for the
    copy cost 40 % of the writes' time."""
    profile: dict[str, Any] = {
        "driver": driver, "width": grid.width, "height": grid.height, "count": 1,
        "dtype": "float32", "crs": crs, "transform": grid.transform, "nodata": float("nan"),
    }
    if driver == "GTiff":
        tiled = grid.width >= _BLOCK and grid.height >= _BLOCK
        if not (scratch and grid.n_cells <= _PLAIN_SCRATCH_CELLS):
            profile.update(compress="deflate", predictor=3)
        if tiled:
            profile.update(tiled=True, blockxsize=_BLOCK, blockysize=_BLOCK)
    return profile


def _has_cog() -> bool:
    with rasterio.Env() as env:
        return "COG" in env.drivers()


def write_rasters(
    result: Any,
    folder: str | os.PathLike[str],
    *,
    cell_m: float | None = None,
    categories: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write ``rasters/walk_min_<category>.tif`` for every category of a run.

    Parameters
    ----------
    result
        A :class:`lifecircle.pipeline.Result`.
    folder
        Folder to write ``rasters/`` into (the run's staging folder).
    cell_m
        Cell size in metres (the run's CRS is projected in metres); by default
        :func:`auto_cell_m` (25 m unless the grid would exceed :data:`AUTO_MAX_CELLS`).
    categories
        Categories to write; every category of the run by default.
    progress
        Called with each category's name after its raster is written.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ConfigError
        ``cell_m`` is not a positive number.
    ResourceLimitError
        The grid would exceed :data:`~.raster_grid.MAX_CELLS`.
    OutputError
        A file cannot be written.
    """
    net: WalkNetwork = result.network
    cats = list(categories if categories is not None else result.access)
    max_snap_m = float(result.metadata["max_snap_m"])
    if cell_m is None:
        cell_m = auto_cell_m(net, margin_m=max_snap_m)
    grid = raster_grid(net, cell_m=cell_m, margin_m=max_snap_m)
    log.info("rasters: %g m cells, %d x %d = %.1f M cells per category", cell_m, grid.width,
             grid.height, grid.n_cells / 1e6)
    crs = rasterio.crs.CRS.from_wkt(net.crs.to_wkt())
    base = Path(folder)
    (base / "rasters").mkdir(parents=True, exist_ok=True)
    cog = _has_cog()
    timings = _timings(result, cats, None)
    # Band by band into tiled scratch GeoTIFFs (the COG driver only copies whole datasets).
    scratch = {c: base / "rasters" / f".{col.walk_min(c)}.scratch.tif" for c in cats}
    paths = [base / raster_name(c) for c in cats]
    try:
        dsts = {c: rasterio.open(scratch[c] if cog else base / raster_name(c), "w",
                                 **_profile(grid, crs, "GTiff", scratch=cog)) for c in cats}
        try:
            for window in _windows(grid):
                shape = (int(window.height), int(window.width))
                cand = _window_candidates(net, grid, window, max_snap_m)
                if cand is None:  # no street within reach: nodata, nothing to time
                    for c in cats:
                        dsts[c].write(np.full(shape, np.nan, np.float32), 1, window=window)
                    continue
                for c, values in _minutes(timings, cand.cell, cand.edge, cand.along_m,
                                          cand.dist_m, shape[0] * shape[1]):
                    dsts[c].write(values.astype(np.float32).reshape(shape), 1, window=window)
            for c in cats:
                _describe(dsts[c], result, c, cell_m)
                if not cog:
                    dsts[c].build_overviews(_overview_factors(grid), Resampling.nearest)
                    dsts[c].update_tags(ns="rio_overview", resampling="nearest")
        finally:
            for d in dsts.values():
                d.close()
        if cog:
            for c, path in zip(cats, paths, strict=True):
                rasterio.shutil.copy(scratch[c], path, driver="COG", compress="DEFLATE",
                                     level=_DEFLATE_LEVEL, predictor="FLOATING_POINT",
                                     blocksize=_BLOCK, overview_resampling="NEAREST")
        for c in cats:
            if progress is not None:
                progress(c)
    except rasterio.errors.RasterioError as exc:
        raise OutputError(f"{base / 'rasters'}: cannot write the travel-time rasters ({exc})"
                          ) from exc
    finally:
        for p in scratch.values():
            p.unlink(missing_ok=True)
    return paths


def _overview_factors(grid: Grid) -> list[int]:
    factors, f = [], 2
    while max(grid.width, grid.height) / f >= _BLOCK / 2:
        factors.append(f)
        f *= 2
    return factors


def _describe(dst: Any, result: Any, category: str, cell_m: float) -> None:
    a = result.access[category]
    dst.set_band_description(1, col.walk_min(category))
    dst.update_tags(
        category=category,
        units="minutes",
        quantity="walking time to the nearest facility of the category",
        speed_kmh=f"{a.speed_kmh:g}",
        threshold_min=f"{a.threshold_min:g}",
        max_snap_m=f"{float(result.metadata['max_snap_m']):g}",
        cell_m=f"{cell_m:g}",
        nodata="NaN: no walkable edge within max_snap_m, or no facility within the horizon",
        profile=str(result.profile.name),
        lifecircle_version=str(result.metadata.get("lifecircle_version", "")),
        credit="Network and facilities: © OpenStreetMap contributors (ODbL)",
    )
    dst.update_tags(1, units="minutes", category=category)
