"""The interactive map: walking time to everyday services, block by block.

:func:`make_map` turns the engine's tables into a Leaflet page a planning committee can read
without a manual; :func:`write_map` writes it atomically. The package is split by concern:
``style`` (bins and colours, shared with the figures), ``prepare`` (checks, simplification,
reprojection), ``layers`` (the data of each layer), ``legend`` (legend, title, attribution),
``assets`` (the vendored scripts and stylesheets) and ``core`` (the page itself).
"""

from .core import make_map, write_map
from .prepare import _texts, _tile_layer
from .style import (
    BIN_COLORS,
    BINS_MIN,
    CATEGORY_COLORS,
    CLUSTER_ABOVE,
    UNREACHABLE_COLOR,
    classify_minutes,
)

__all__ = [
    "BINS_MIN",
    "BIN_COLORS",
    "CATEGORY_COLORS",
    "CLUSTER_ABOVE",
    "UNREACHABLE_COLOR",
    "_texts",
    "_tile_layer",
    "classify_minutes",
    "make_map",
    "write_map",
]
