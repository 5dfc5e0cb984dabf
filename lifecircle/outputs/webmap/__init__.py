"""The interactive map: walking time to everyday services, block by block.

:func:`make_map` turns the engine's tables into one HTML page a planning committee can read
without a manual and open with no network; :func:`write_map` writes it atomically. The package
is split by concern: ``style`` (bins, colours and facility groups, shared with the figures),
``prepare`` (checks, simplification, reprojection), ``layers`` (the data of each layer),
``legend`` (the views and what their legend says), ``surface`` (a large network's streets
as images coloured by walking time), ``tiles`` (the optional background map),
``page`` (the HTML shell and the vendored scripts) and ``core`` (:func:`make_map`). The page's
own script and stylesheet are ``lifecircle/outputs/assets/lifecircle-map.{js,css}``.
"""

from .core import make_map, no_data_categories, write_map
from .page import MapPage
from .style import (
    BIN_COLORS,
    BINS_MIN,
    CATEGORY_COLORS,
    CLUSTER_ABOVE,
    UNREACHABLE_COLOR,
    classify_minutes,
)
from .tiles import tile_spec

__all__ = [
    "BINS_MIN",
    "BIN_COLORS",
    "CATEGORY_COLORS",
    "CLUSTER_ABOVE",
    "UNREACHABLE_COLOR",
    "MapPage",
    "classify_minutes",
    "make_map",
    "no_data_categories",
    "tile_spec",
    "write_map",
]
