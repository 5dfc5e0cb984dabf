"""Isochrone polygons that follow the streets: what a walk reached, buffered by a walk-in width.

An isochrone is built from the search's node distances, never from a hull: every edge whose
two ends are within the budget is in whole, and an edge with one end (or both ends, from
opposite sides, not meeting) within the budget contributes the stretch still reachable with
the budget left at that end. A facility's own edge also gets the stretch it reaches directly,
without passing an edge end; its off-network leg is drawn when the facility points are given.
The reached stretches are then buffered by ``walk_in_m`` into one polygon per isochrone:

- ``method="raster"`` (default): cells of a 5 m grid whose centres lie near a reached
  segment, outlined with contourpy; nothing farther than ``walk_in_m`` from the reached
  streets is in, everything reached is (see :func:`_raster_bands`). About 3-10 ms per
  15-minute isochrone on the shared extracts, 14-55x cheaper than the common buffer-and-union
  recipe (``scripts/benchmark.py isochrones``).
- ``method="vector"``: exact round buffers of every stretch and ``shapely.union_all``, several
  times slower.

Bands (5 / 10 / 15 min by default) are built cumulatively (everything within ``t``) and stored
as non-overlapping rings (``band_from_min < t <= band_min``); cumulative polygons nest at
polygon level. Positions along an edge are walking metres, as in :mod:`lifecircle.snapping`:
a share of the projected geometry scaled to the edge's walking length.

Per-facility isochrones run :class:`lifecircle._kernels.BoundedSearch` (one workspace, reset
only where a search went), so a search costs what its isochrone covers, not the graph size;
the reached stretches of all facilities and bands are cut in one vectorised pass.
"""

from .bands import (
    ALL,
    DEFAULT_BANDS_MIN,
    DEFAULT_WALK_IN_M,
    FACILITY_BATCH,
    ISOCHRONE_COLUMNS,
    category_isochrones,
    check_bands,
    check_run_options,
    empty_isochrones,
    facility_isochrones,
    run_isochrones,
    snap_from_frame,
)
from .polygons import QUAD_SEGS, band_polygons, default_cell_m, pieces_lines
from .search import Pieces, reached_pieces

__all__ = [
    "ALL",
    "DEFAULT_BANDS_MIN",
    "DEFAULT_WALK_IN_M",
    "FACILITY_BATCH",
    "ISOCHRONE_COLUMNS",
    "QUAD_SEGS",
    "Pieces",
    "band_polygons",
    "category_isochrones",
    "check_bands",
    "check_run_options",
    "default_cell_m",
    "empty_isochrones",
    "facility_isochrones",
    "pieces_lines",
    "reached_pieces",
    "run_isochrones",
    "snap_from_frame",
]
