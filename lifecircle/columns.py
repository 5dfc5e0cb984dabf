"""Column names shared by every output.

The GeoPackage, the map, the rasters and the report all name per-category values through these
helpers, so that they always agree.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "DEFICIENCIES",
    "SNAP_FIELDS",
    "covered",
    "floor_area_per_100hh",
    "is_raster_name",
    "nearest",
    "short_min",
    "tier_lacks",
    "tier_met",
    "walk_m",
    "walk_min",
]

#: a block's deficiency list, tier by tier ("min5: kindergarten, nursery; min15: ...")
DEFICIENCIES = "deficiencies"

#: Fields that every point with a reported time carries; with the ``edges`` layer they are
#: enough to re-derive the time.
SNAP_FIELDS = ("snap_u", "snap_v", "snap_key", "snap_along_m", "snap_dist_m")


def _named(prefix: str, doc: str) -> Callable[[str], str]:
    """A column-name function: ``prefix`` and the category (or tier, target) it is given."""

    def name(key: str) -> str:
        return f"{prefix}_{key}"

    name.__name__ = name.__qualname__ = prefix
    name.__doc__ = doc
    return name


# the per-category, per-tier and per-target column names, each with what the column holds
walk_min, walk_m, covered, short_min, nearest, tier_met, tier_lacks, floor_area_per_100hh = (
    _named(prefix, doc) for prefix, doc in [
        ("walk_min", "Minutes of walking to the nearest facility of ``category`` (NaN when "
         "unreachable)."),
        ("walk_m", "Metres walked to the nearest facility of ``category``, off-network legs "
         "included."),
        ("covered", "Whether the nearest facility of ``category`` is within the category's "
         "threshold."),
        ("short_min", "Minutes beyond the threshold (0 when covered, NaN when unreachable)."),
        ("nearest", "Id of the nearest facility of ``category``."),
        ("tier_met", "Whether every requirement of ``tier`` is met (each by a facility of its "
         "own type)."),
        ("tier_lacks", "The requirements of ``tier`` a block lacks, comma-separated ('' when "
         "none)."),
        ("m2_per_100hh", "Floor area (m²) of a target's facilities within a block's catchment "
         "per 100 households."),
    ]
)


def is_raster_name(value: str) -> bool:
    """Whether a ``--group-population`` value names a raster of the group's people
    (``.tif``/``.tiff``) rather than a block column."""
    return value.strip().lower().endswith((".tif", ".tiff"))
