"""The travel-time rasters' grid and automatic cell size (:mod:`.raster` writes them).

Apart from the writer so that choosing a run's cell size (:meth:`lifecircle.result.Result.
prepare`, in the run's own process) does not import rasterio: on a small run the rasters are
written by a worker, which imports it after its fork.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import shapely

from .._errors import ConfigError, ResourceLimitError
from ..isochrones.polygons import coords_box

if TYPE_CHECKING:
    from affine import Affine

    from ..network import WalkNetwork

__all__ = ["AUTO_MAX_CELLS", "DEFAULT_CELL_M", "MAX_CELLS", "Grid", "auto_cell_m", "raster_grid"]

#: Default cell size of the travel-time rasters, in metres (the finest :func:`auto_cell_m`
#: picks).
DEFAULT_CELL_M = 25.0
#: The automatic cell size keeps a raster at or under this many cells: at the time per million
#: cells measured by ``scripts/benchmark.py cityscale`` the rasters of a city then take well
#: under a minute whatever its extent. A ``cell_m`` (``--cell-m``) given by the user wins.
AUTO_MAX_CELLS = 3_000_000
#: cell sizes the automatic choice rounds up to (metres), finest first; beyond the last it
#: doubles
_AUTO_STEPS = (25.0, 30.0, 40.0, 50.0, 60.0, 75.0, 100.0, 125.0, 150.0, 200.0, 250.0)
#: Refuse grids larger than this (a 25 m grid over 60 km x 100 km is 9.6 M cells).
MAX_CELLS = 200_000_000


@dataclass(frozen=True)
class Grid:
    """A north-up grid of ``width`` x ``height`` cells of ``cell_m``; (``x0``, ``y0``) is its
    top-left corner."""

    x0: float
    y0: float
    cell_m: float
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        from affine import Affine  # (rasterio's own, without rasterio)

        return Affine.translation(self.x0, self.y0) @ Affine.scale(self.cell_m, -self.cell_m)

    @property
    def n_cells(self) -> int:
        return self.width * self.height


def raster_grid(net: WalkNetwork, *, cell_m: float, margin_m: float,
                max_cells: int | None = None) -> Grid:
    """The grid covering the network plus ``margin_m``, aligned to multiples of ``cell_m``
    (``ResourceLimitError`` above ``max_cells`` cells, :data:`MAX_CELLS` by default)."""
    if not (isinstance(cell_m, int | float) and math.isfinite(cell_m) and cell_m > 0):
        raise ConfigError(f"raster cell size must be a positive number of metres, got {cell_m!r}")
    # read off the edges' coordinates: the same box as their geometries', which the early
    # worker would otherwise build just for it (seconds at a million nodes)
    minx, miny, maxx, maxy = (coords_box(net) if net.edge_coords.shape[0]
                              else shapely.total_bounds(net.geometries))
    minx, miny = minx - margin_m, miny - margin_m
    maxx, maxy = maxx + margin_m, maxy + margin_m
    x0 = math.floor(minx / cell_m) * cell_m
    y0 = math.ceil(maxy / cell_m) * cell_m
    width = max(1, math.ceil((maxx - x0) / cell_m))
    height = max(1, math.ceil((y0 - miny) / cell_m))
    grid = Grid(float(x0), float(y0), float(cell_m), int(width), int(height))
    if grid.n_cells > (MAX_CELLS if max_cells is None else max_cells):
        raise ResourceLimitError(
            f"a {cell_m:g} m travel-time raster of this network would have {grid.n_cells:,} "
            f"cells ({width} x {height}); pass a larger --cell-m or --no-rasters"
        )
    return grid


def auto_cell_m(net: WalkNetwork, *, margin_m: float,
                max_cells: int = AUTO_MAX_CELLS) -> float:
    """The default raster cell size of a network: :data:`DEFAULT_CELL_M`, or the next round
    size up (25, 30, 40, 50, 60, 75, 100 ... m) whose grid over the network's bounding box
    plus ``margin_m`` has at most ``max_cells`` cells.

    The cost of a raster grows with its number of cells (``1e6 / cell_m**2`` per km² of the
    bounding box), so a fixed 25 m would make a large city's rasters the slowest part of a
    run; this keeps them bounded and says which cell it chose (``run_metadata``, the log).
    """
    steps = list(_AUTO_STEPS)
    while True:
        for cell in steps:
            if raster_grid(net, cell_m=cell, margin_m=margin_m,
                           max_cells=2**62).n_cells <= max_cells:
                return cell
        steps = [2.0 * steps[-1]]
