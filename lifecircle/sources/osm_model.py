"""What a read of OpenStreetMap yields (:class:`OSMData`) and the tag vocabulary it is sorted by.

Which highways are walkable, which land use and buildings count as residential, vacant or
non-residential, which keys make a point of interest, and :func:`finish_read`, the counts and
checks a read of a local file ends with. Kept apart from the reader (:mod:`.osm`) so that it,
its assembly step (:mod:`._osm_assemble`) and the online path (:mod:`.online`) depend on this
module and not on each other.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputError, InputFileError
from ._osm_columns import BuildingTable, PoiTable

__all__ = [
    "AREA_LANDUSE",
    "BLOCK_BARRIERS",
    "FOOT_ONLY_IF_ALLOWED",
    "NON_RESIDENTIAL_BUILDINGS",
    "NON_RESIDENTIAL_LANDUSE",
    "POI_KEYS",
    "RESIDENTIAL_BUILDINGS",
    "VACANT_LANDUSE",
    "WALKABLE_HIGHWAYS",
    "OSMData",
    "finish_read",
    "is_walkable",
]

log = logging.getLogger("lifecircle.sources.osm")  # the loaders' messages keep their name


#: highway values a pedestrian may use (where foot access is not denied).
WALKABLE_HIGHWAYS = frozenset(
    {
        "footway",
        "path",
        "pedestrian",
        "steps",
        "living_street",
        "residential",
        "service",
        "unclassified",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "track",
        "cycleway",
        "crossing",
        "bridleway",
        "corridor",
        "road",
        "sidewalk",
        "elevator",
    }
)
#: highway values walkable only when foot access is explicitly allowed.
FOOT_ONLY_IF_ALLOWED = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
_FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official"})
_ACCESS_DENIED = frozenset({"private", "no", "military", "agricultural", "forestry"})

#: land use of vacant or redevelopable land, kept as siting candidates (not as facilities)
VACANT_LANDUSE = frozenset({"construction", "brownfield", "greenfield", "grass", "vacant"})
#: land use where an untyped building (``building=yes``) is not a home
NON_RESIDENTIAL_LANDUSE = frozenset(
    {
        "industrial",
        "commercial",
        "retail",
        "railway",
        "military",
        "port",
        "garages",
        "religious",
        "education",
        "institutional",
        "depot",
        "quarry",
        "landfill",
        "cemetery",
    }
)
#: barrier ways that bound compounds (cut residential land into blocks)
BLOCK_BARRIERS = frozenset({"wall", "fence", "city_wall", "retaining_wall"})

#: keys that make a node or area a point-of-interest candidate.
POI_KEYS = frozenset(
    {
        "amenity",
        "shop",
        "leisure",
        "healthcare",
        "social_facility",
        "sport",
        "office",
        "public_transport",
        "railway",
        "tourism",
        "craft",
        "name",
    }
)
#: building values that are residential (used for population and block fallbacks).
RESIDENTIAL_BUILDINGS = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "farm",
        "cabin",
        "static_caravan",
        "houseboat",
    }
)
#: building values that are clearly not homes.
NON_RESIDENTIAL_BUILDINGS = frozenset(
    {
        "commercial",
        "retail",
        "industrial",
        "warehouse",
        "office",
        "school",
        "university",
        "college",
        "kindergarten",
        "hospital",
        "church",
        "cathedral",
        "chapel",
        "mosque",
        "temple",
        "shrine",
        "synagogue",
        "public",
        "civic",
        "government",
        "train_station",
        "transportation",
        "garage",
        "garages",
        "parking",
        "roof",
        "shed",
        "hut",
        "service",
        "construction",
        "supermarket",
        "hotel",
        "sports_hall",
        "stadium",
        "barn",
        "greenhouse",
        "kiosk",
        "toilets",
        "bunker",
        "ruins",
        "hangar",
        "carport",
        "fire_station",
    }
)


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Whether a way with these tags can be walked (one-way tags never bind pedestrians)."""
    highway = tags.get("highway")
    if highway is None or tags.get("area") == "yes":
        return False
    foot = tags.get("foot", "")
    if foot == "no" or foot == "use_sidepath":
        return False
    if highway in FOOT_ONLY_IF_ALLOWED:
        return foot in _FOOT_ALLOWED
    if highway not in WALKABLE_HIGHWAYS:
        return False
    if tags.get("access") in _ACCESS_DENIED and foot not in _FOOT_ALLOWED:
        return False
    return tags.get("service") != "private" or foot in _FOOT_ALLOWED


def _no_ids() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def _no_coords() -> np.ndarray:
    return np.zeros(0, dtype=np.float64)


@dataclass
class OSMData:
    """What one pass over an OSM file yields (coordinates in WGS 84).

    ``OSMData(path)`` is an empty one for a loader to fill; :func:`finish_read` then counts
    what it holds into ``stats`` and refuses a file without usable walkable ways.
    """

    path: str
    #: walkable ways: OSM way id, highway value and name per way
    way_ids: np.ndarray = field(default_factory=_no_ids)
    way_highway: list[str] = field(default_factory=list)
    way_name: list[str] = field(default_factory=list)
    #: node references of all walkable ways, concatenated; ``way_ptr`` slices them per way
    refs: np.ndarray = field(default_factory=_no_ids)
    way_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    #: longitude and latitude per reference (NaN where the node is missing from the extract)
    ref_lon: np.ndarray = field(default_factory=_no_coords)
    ref_lat: np.ndarray = field(default_factory=_no_coords)
    #: points of interest: osm_type, osm_id, lon, lat, tags, wkb or None (as arrays; iterating
    #: yields those tuples)
    pois: PoiTable = field(default_factory=lambda: PoiTable.from_rows(()))
    #: residential land-use polygons as WKB (WGS 84), with their OSM ids
    landuse: list[tuple[str, int, bytes]] = field(default_factory=list)
    #: buildings: osm_type, osm_id, building value, levels tag or None, WKB (as arrays;
    #: iterating yields those tuples)
    buildings: BuildingTable = field(default_factory=lambda: BuildingTable.from_rows(()))
    #: gates and entrances (osm_id, lon, lat, tags)
    gates: list[tuple[int, float, float, dict[str, str]]] = field(default_factory=list)
    #: counts for the run metadata: highway values seen, ways cut, broken areas
    stats: dict[str, Any] = field(default_factory=dict)
    #: vacant or redevelopable land (``VACANT_LANDUSE``) as (osm_type, osm_id, landuse, name, wkb)
    vacant: list[tuple[str, int, str, str, bytes]] = field(default_factory=list)
    #: non-residential land use (``NON_RESIDENTIAL_LANDUSE``) as (osm_type, osm_id, landuse, wkb)
    landuse_other: list[tuple[str, int, str, bytes]] = field(default_factory=list)
    #: walls and fences (``BLOCK_BARRIERS``) as (osm way id, barrier value, line wkb)
    barriers: list[tuple[int, str, bytes]] = field(default_factory=list)
    #: step-free facts: wheelchair/incline tags per way index (only ways that have them), and
    #: ids of nodes that bar step-free passage (raised kerbs); see lifecircle.edge_access
    way_access: dict[int, dict[str, str]] = field(default_factory=dict)
    barrier_nodes: np.ndarray = field(default_factory=_no_ids)

    def __post_init__(self) -> None:
        # rows (the layout before the tables) are still accepted from callers that build one
        if not isinstance(self.pois, PoiTable):
            self.pois = PoiTable.from_rows(self.pois)
        if not isinstance(self.buildings, BuildingTable):
            self.buildings = BuildingTable.from_rows(self.buildings)

    @property
    def highway_counts(self) -> Counter[str]:
        return Counter(self.stats.get("highway_seen", {}))


#: how to make an extract whose ways keep all their nodes (for clipped-extract messages)
_COMPLETE_WAYS = (
    "cut the extract with complete ways, e.g. osmium extract --strategy complete_ways "
    "-b W,S,E,N planet.osm.pbf -o city.osm.pbf (or smart), or export it again from the "
    "OSM website or Overpass with (._;>;) to include every way's nodes"
)


def _levels(value: str | None) -> str | None:
    return value if value else None


#: land-use values kept as areas (residential blocks, vacant and non-residential land)
AREA_LANDUSE = frozenset({"residential"}) | VACANT_LANDUSE | NON_RESIDENTIAL_LANDUSE


def finish_read(
    data: OSMData,
    *,
    highway_seen: Counter[str],
    missing_refs: int,
    ways_cut: int,
    broken_areas: int,
    usable: bool,
) -> OSMData:
    """Count what a loader read into ``data.stats``; refuse a file without usable ways.

    Parameters
    ----------
    data
        The filled :class:`OSMData`.
    highway_seen
        Ways per highway value, walkable or not.
    missing_refs, ways_cut
        Node references missing from the extract, and the walkable ways they cut.
    broken_areas
        Areas whose polygon could not be built (skipped).
    usable
        Whether some walkable way has two consecutive nodes inside the extract.

    Raises
    ------
    InputError
        No walkable way at all (the message lists the highway values seen).
    InputFileError
        Walkable ways, but none with two nodes inside a clipped extract.
    """
    path = data.path
    data.stats = {
        "highway_seen": dict(highway_seen),
        "walkable_ways": len(data.way_ids),
        "missing_node_refs": missing_refs,
        "ways_cut_at_missing_nodes": ways_cut,
        "broken_areas_skipped": broken_areas,
        "pois": len(data.pois),
        "residential_landuse": len(data.landuse),
        "buildings": len(data.buildings),
        "gates": len(data.gates),
        "non_residential_landuse": len(data.landuse_other),
        "barriers": len(data.barriers),
    }
    if not len(data.way_ids):
        seen = ", ".join(f"{k} ({v})" for k, v in highway_seen.most_common(12)) or "none"
        raise InputError(
            f"{path}: no walkable ways found; highway tags seen: {seen}. "
            "Give an extract that contains streets or footpaths"
        )
    if not usable:
        raise InputFileError(
            path,
            f"none of its {len(data.way_ids)} walkable ways has two nodes inside the extract "
            f"({missing_refs} node references are missing)",
            _COMPLETE_WAYS,
        )
    if ways_cut:
        log.warning(
            "%s: %d walkable ways reference %d nodes missing from the extract and were cut "
            "there; %s",
            path, ways_cut, missing_refs, _COMPLETE_WAYS,
        )
    return data
