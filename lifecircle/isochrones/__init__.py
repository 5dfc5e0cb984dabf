"""Isochrone polygons that follow the streets: what a walk reached, buffered by a walk-in width.

An isochrone is built from the search's node distances, never from a hull, in three steps:

- :mod:`.search`: the reached stretches of street (whole edges within the budget, the part
  of an edge still reachable from an end, a facility's own stretch and off-network leg).
- :mod:`.polygons`: the stretches buffered by ``walk_in_m``, rasterised on a fine grid and
  outlined by marching squares, simplified on the grid (:mod:`.simplify`; default, fast), or
  as exact round buffers.
- :mod:`.bands`: bands (5 / 10 / 15 min by default) of a category's union over its
  facilities and of each facility (one :class:`lifecircle._kernels.BoundedSearch` each), as
  nested cumulative polygons or ring bands that tile them (a coverage: neighbouring rings
  share one boundary, :mod:`.coverage`); the isochrone layer of a run.
"""

from .bands import (
    ALL,
    AUTO_MAX_CELLS,
    DEFAULT_BANDS_MIN,
    DEFAULT_WALK_IN_M,
    FACILITY_BATCH,
    ISOCHRONE_COLUMNS,
    auto_cell_m,
    category_isochrones,
    empty_isochrones,
    facility_isochrones,
    isochrone_settings,
    iter_isochrones,
    run_isochrones,
    snap_from_frame,
)
from .checks import check_bands, check_run_options
from .polygons import QUAD_SEGS, band_polygons, default_cell_m, pieces_lines
from .search import Pieces, reached_pieces

__all__ = [
    "ALL",
    "AUTO_MAX_CELLS",
    "DEFAULT_BANDS_MIN",
    "DEFAULT_WALK_IN_M",
    "FACILITY_BATCH",
    "ISOCHRONE_COLUMNS",
    "QUAD_SEGS",
    "Pieces",
    "auto_cell_m",
    "band_polygons",
    "category_isochrones",
    "check_bands",
    "check_run_options",
    "default_cell_m",
    "empty_isochrones",
    "facility_isochrones",
    "isochrone_settings",
    "iter_isochrones",
    "pieces_lines",
    "reached_pieces",
    "run_isochrones",
    "snap_from_frame",
]
