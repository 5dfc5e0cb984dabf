"""Read local OpenStreetMap files (pyosmium); the online path is :mod:`.online` (osmnx).

A streaming read of a local file (:mod:`._osm_pass`: a relation pass and one filtered pass over
nodes and ways) collects everything a run needs into arrays: walkable ways with node
coordinates, points of interest (tagged nodes and areas), residential land use, buildings and
gates. pyosmium (libosmium) reads ``.osm.pbf``, ``.osm``, ``.osm.gz`` and ``.osm.bz2``; it was
measured fastest of pyosmium, pyrosm and ``osmnx.graph_from_xml`` on the shared extracts (see
``scripts/benchmark.py loaders``). The file checks here (:func:`xml_prolog`,
:func:`refuse_dtd`) also guard GraphML.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import re
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError, InputFileError
from ._osm_columns import BuildingTable, PoiTable
from .access_tags import is_barrier_node, way_access_tags
from .tables import check_regular_file, read_head

__all__ = [
    "OSMData",
    "is_walkable",
    "read_osm",
]

log = logging.getLogger(__name__)

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


_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZ": "bzip2",
}


#: the extensions :func:`read_osm` reads (GraphML goes to ``WalkNetwork.from_graphml``)
_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2", ".xml", ".xml.gz",
                 ".xml.bz2")


def _looks_like(head: bytes) -> str:
    """`` (it looks like ...: rename it to ...)`` from a file's first bytes, or nothing."""
    if b"OSMHeader" in head[:64]:
        return " (it looks like an OSM PBF extract: rename it to .osm.pbf)"
    if head[:2] in _MAGIC:
        suffix = {"gzip": ".osm.gz", "bzip2": ".osm.bz2"}[_MAGIC[head[:2]]]
        return f" (it is {_MAGIC[head[:2]]}-compressed: if it holds OSM XML, name it {suffix})"
    text = head.lstrip().lower()
    if b"<osm" in text:
        return " (it looks like OSM XML: rename it to .osm)"
    if b"<graphml" in text:
        return " (it looks like GraphML: rename it to .graphml)"
    return ""


def _sniff(path: Path) -> None:
    """Refuse files that cannot be OSM data before handing them to the C++ reader."""
    if not path.exists():
        raise InputFileError(path, "file not found", "check the path")
    if path.is_dir():
        raise InputFileError(
            path,
            "is a directory, not an OSM file",
            "give a .osm.pbf, .osm, .osm.gz, .osm.bz2 or .graphml file",
        )
    check_regular_file(path, fix="download or export the extract again")
    head = read_head(path, 4096)
    name = path.name.lower()
    if not name.endswith(_OSM_SUFFIXES):
        raise InputFileError(
            path,
            f"has an extension ({path.suffix or 'none'}) that is not an OSM or GraphML file"
            + _looks_like(head),
            f"accepted: {', '.join(_OSM_SUFFIXES)} and .graphml",
        )
    if name.endswith((".osm", ".xml", ".osm.gz", ".osm.bz2", ".xml.gz", ".xml.bz2")):
        try:
            text = xml_prolog(path, head)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFileError(
                path, f"compressed data is corrupt ({exc})", "download the extract again"
            ) from None
        lowered = text.lstrip().lower()
        if lowered.startswith((b"<!doctype html", b"<html")):
            raise InputFileError(
                path,
                "is an HTML page, not OSM data (a failed download?)",
                "download the extract again",
            )
        refuse_dtd(path, lowered, kind="OSM XML")
        if b"<osm" not in lowered:
            raise InputFileError(
                path,
                "does not look like OSM XML (no <osm> element)",
                "give an OSM XML or PBF extract",
            )
    elif name.endswith(".pbf"):
        # a PBF file starts with a 4-byte header length then a BlobHeader naming "OSMHeader"
        if b"OSMHeader" not in head[:64]:
            kind = "an HTML page" if head.lstrip()[:1] == b"<" else "not an OSM PBF file"
            raise InputFileError(
                path,
                f"is {kind} (no OSMHeader block)",
                "download the extract again; vector tiles (.mvt/.pbf tiles) are not OSM extracts",
            )


#: how much of an XML file's (decompressed) start is searched for the root element
_PROLOG_LIMIT = 1 << 20
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


def xml_prolog(path: Path, head: bytes) -> bytes:
    """The start of an XML file up to its root element, comments removed.

    A DOCTYPE may follow a long comment; searching only a fixed-size head would miss it.
    Reads at most :data:`_PROLOG_LIMIT` bytes (decompressed).
    """
    opener: Any = (
        gzip.open if head[:2] == b"\x1f\x8b" else bz2.open if head[:2] == b"BZ" else open
    )
    text = b""
    with opener(path, "rb") as fh:
        while len(text) < _PROLOG_LIMIT:
            chunk = fh.read(65536)
            if not chunk:
                break
            text += chunk
            stripped = _COMMENT.sub(b"", text)
            if b"<!--" not in stripped and re.search(rb"<[A-Za-z_]", stripped):
                return stripped
    return _COMMENT.sub(b"", text)


def refuse_dtd(path: Path, prolog: bytes, *, kind: str) -> None:
    """Refuse an XML prolog (lower-cased, from :func:`xml_prolog`) with DTD declarations.

    Neither OSM XML nor GraphML needs a DOCTYPE; entity declarations are how billion-laughs
    expansion and external-entity reads start, so they are refused before any XML parser
    sees them.
    """
    if b"<!doctype" in prolog or b"<!entity" in prolog:
        raise InputFileError(
            path,
            f"{kind} with a DOCTYPE or entity declarations is refused "
            "(entity expansion is a known attack)",
            "export the data without a DOCTYPE",
        )


#: how to make an extract whose ways keep all their nodes (for clipped-extract messages)
_COMPLETE_WAYS = (
    "cut the extract with complete ways, e.g. osmium extract --strategy complete_ways "
    "-b W,S,E,N planet.osm.pbf -o city.osm.pbf (or smart), or export it again from the "
    "OSM website or Overpass with (._;>;) to include every way's nodes"
)


def _levels(value: str | None) -> str | None:
    return value if value else None


def read_osm(path: str | Path) -> OSMData:
    """Read a local OSM file into arrays (see :mod:`lifecircle.sources._osm_pass`).

    Ways that reference nodes missing from a clipped extract are cut at the missing nodes (the
    count is in ``stats``); a truncated or corrupt file raises :class:`InputFileError` and no
    partial data is returned.
    """

    from . import _osm_pass
    from ._osm_assemble import osm_data

    path = Path(path)
    _sniff(path)
    with _osm_pass.no_cyclic_gc():
        return osm_data(path, _scan(path, _osm_pass))


def _scan(path: Path, _osm_pass: Any) -> Any:
    """The passes, with pyosmium's errors turned into :class:`InputFileError`."""
    import osmium

    try:
        return _osm_pass.scan(
            str(path),
            poi_keys=POI_KEYS,
            area_landuse=AREA_LANDUSE,
            is_walkable=is_walkable,
            is_gate=_is_gate,
            line_barriers=BLOCK_BARRIERS,
            node_hooks=(_barrier_node,),
            walkable_hooks=(_way_access,),
        )
    except osmium.InvalidLocationError as exc:
        raise InputFileError(
            path,
            f"a node has malformed coordinates ({exc})",
            "the file is corrupt or hand-edited; export the extract again",
        ) from None
    except ValueError as exc:
        # libosmium's XML parser: keys and values beyond its limit (1024 bytes; OSM's own
        # limit is 255 characters), ids that are not numbers, ...
        fix = (
            "OSM allows at most 255 characters per tag key or value; fix or drop that tag"
            if "too long" in str(exc)
            else "the file is corrupt or hand-edited; export the extract again"
        )
        raise InputFileError(path, f"could not be read as OSM data ({exc})", fix) from None
    except RuntimeError as exc:
        if "entities" in str(exc):
            raise InputFileError(
                path,
                f"OSM XML with entity references is refused ({exc})",
                "export the data without a DOCTYPE or entities",
            ) from None
        # libosmium reports truncated, bit-flipped or mis-typed input only after handing
        # over some objects: throw the partial state away.
        raise InputFileError(
            path,
            f"could not be read as OSM data ({exc})",
            "the file is truncated or corrupt; download or export the extract again",
        ) from None


def _barrier_node(tags: dict[str, str], node: Any, raw: Any) -> None:
    """Collect the ids of nodes that bar step-free passage (see ``access_tags``)."""
    if is_barrier_node(tags):
        raw.extra.setdefault("barrier_nodes", []).append(node.id)


def _way_access(tags: dict[str, str], index: int, raw: Any) -> None:
    """Keep a walkable way's step-free tags, by way index (see ``access_tags``)."""
    if access := way_access_tags(tags):
        raw.extra.setdefault("way_access", {})[index] = access


def _is_gate(tags: Any) -> bool:
    return "entrance" in tags or tags.get("barrier") == "gate"


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
