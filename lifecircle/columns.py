"""Column names shared by every output.

The GeoPackage, the map, the rasters and the report all name per-category values through these
helpers, so that they always agree.
"""

from __future__ import annotations

__all__ = [
    "DEFICIENCIES",
    "SNAP_FIELDS",
    "covered",
    "floor_area_per_100hh",
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


def walk_min(category: str) -> str:
    """Minutes of walking to the nearest facility of ``category`` (NaN when unreachable)."""
    return f"walk_min_{category}"


def walk_m(category: str) -> str:
    """Metres walked to the nearest facility of ``category``, off-network legs included."""
    return f"walk_m_{category}"


def covered(category: str) -> str:
    """Whether the nearest facility of ``category`` is within the category's threshold."""
    return f"covered_{category}"


def short_min(category: str) -> str:
    """Minutes beyond the threshold (0 when covered, NaN when unreachable)."""
    return f"short_min_{category}"


def nearest(category: str) -> str:
    """Id of the nearest facility of ``category``."""
    return f"nearest_{category}"


def tier_met(tier: str) -> str:
    """Whether every requirement of ``tier`` is met (each by a facility of its own type)."""
    return f"tier_met_{tier}"


def tier_lacks(tier: str) -> str:
    """The requirements of ``tier`` a block lacks, comma-separated ('' when none)."""
    return f"tier_lacks_{tier}"


def floor_area_per_100hh(target: str) -> str:
    """Floor area (m²) of a target's facilities within a block's catchment per 100 households."""
    return f"m2_per_100hh_{target}"
