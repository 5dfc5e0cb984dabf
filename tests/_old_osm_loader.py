"""The single-loop pyosmium loader that read_osm replaced, kept only as a test oracle.

It walks every tagged object in Python with osmium's area assembler on every closed way
(slow, simple); tests/test_loader_equality.py checks the streaming loader against it.
Errors are not mapped to input errors here: the oracle only reads good files.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from lifecircle._errors import InputError, InputFileError
from lifecircle.sources.access_tags import is_barrier_node, way_access_tags
from lifecircle.sources.osm import (
    _COMPLETE_WAYS,
    BLOCK_BARRIERS,
    NON_RESIDENTIAL_LANDUSE,
    POI_KEYS,
    VACANT_LANDUSE,
    OSMData,
    _levels,
    is_walkable,
)

log = logging.getLogger(__name__)


def old_read_osm(path: str | Path) -> OSMData:
    """Read a local OSM file in one pass.

    Ways that reference nodes missing from a clipped extract are cut at the missing nodes (the
    count is in ``stats``); a truncated or corrupt file raises :class:`InputFileError` and no
    partial data is returned.
    """
    import osmium
    import osmium.geom
    import osmium.osm

    path = Path(path)

    wkb = osmium.geom.WKBFactory()
    way_ids: list[int] = []
    way_highway: list[str] = []
    way_name: list[str] = []
    refs: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    way_ptr: list[int] = [0]
    pois: list[tuple[str, int, float, float, dict[str, str], bytes | None]] = []
    landuse: list[tuple[str, int, bytes]] = []
    vacant: list[tuple[str, int, str, str, bytes]] = []
    landuse_other: list[tuple[str, int, str, bytes]] = []
    barriers: list[tuple[int, str, bytes]] = []
    buildings: list[tuple[str, int, str, str | None, bytes]] = []
    gates: list[tuple[int, float, float, dict[str, str]]] = []
    way_access: dict[int, dict[str, str]] = {}
    barrier_nodes: list[int] = []
    highway_seen: Counter[str] = Counter()
    missing_refs = 0
    ways_cut = 0
    ways_usable = 0
    broken_areas = 0
    nan = float("nan")

    processor = (
        osmium.FileProcessor(str(path)).with_areas().with_filter(osmium.filter.EmptyTagFilter())
    )
    for obj in processor:
        tags = obj.tags
        if isinstance(obj, osmium.osm.Node):
            if is_barrier_node(tags):
                barrier_nodes.append(obj.id)
            if not any(k in tags for k in POI_KEYS) and not (
                "entrance" in tags or tags.get("barrier") == "gate"
            ):
                continue
            loc = obj.location
            if not loc.valid():
                continue
            tag_dict = dict(tags)
            if "entrance" in tags or tags.get("barrier") == "gate":
                gates.append((obj.id, loc.lon, loc.lat, tag_dict))
            if any(k in tags for k in POI_KEYS):
                pois.append(("node", obj.id, loc.lon, loc.lat, tag_dict, None))
        elif isinstance(obj, osmium.osm.Way):
            highway = tags.get("highway")
            if highway is None:
                barrier = tags.get("barrier")
                if barrier in BLOCK_BARRIERS:
                    try:
                        line = wkb.create_linestring(obj)
                    except (RuntimeError, osmium.InvalidLocationError):
                        continue  # cut at the extract's edge: a block edge is not worth it
                    barriers.append((obj.id, str(barrier), bytes.fromhex(line)))
                continue
            highway_seen[highway] += 1
            tag_dict = dict(tags)
            if not is_walkable(tag_dict):
                continue
            n_missing = 0
            prev_valid = usable = False
            for nd in obj.nodes:
                loc = nd.location
                refs.append(nd.ref)
                if loc.valid():
                    lon.append(loc.lon)
                    lat.append(loc.lat)
                    usable |= prev_valid
                    prev_valid = True
                else:
                    lon.append(nan)
                    lat.append(nan)
                    n_missing += 1
                    prev_valid = False
            if n_missing:
                missing_refs += n_missing
                ways_cut += 1
            ways_usable += usable
            way_ptr.append(len(refs))
            if access_tags := way_access_tags(tag_dict):
                way_access[len(way_ids)] = access_tags
            way_ids.append(obj.id)
            way_highway.append(highway)
            way_name.append(tags.get("name") or "")
        elif isinstance(obj, osmium.osm.Area):
            landuse_value = tags.get("landuse")
            building = tags.get("building")
            is_poi = any(k in tags for k in POI_KEYS if k != "name")
            is_vacant = landuse_value in VACANT_LANDUSE
            is_other = landuse_value in NON_RESIDENTIAL_LANDUSE
            if (landuse_value != "residential" and building is None and not is_poi
                    and not is_vacant and not is_other):
                continue
            if "highway" in tags and not is_poi:
                continue
            try:
                geom = wkb.create_multipolygon(obj)
            except RuntimeError:
                broken_areas += 1
                continue
            blob = bytes.fromhex(geom)
            osm_type = "way" if obj.from_way() else "relation"
            osm_id = obj.orig_id()
            if landuse_value == "residential":
                landuse.append((osm_type, osm_id, blob))
            if is_other:
                landuse_other.append((osm_type, osm_id, str(landuse_value), blob))
            if is_vacant:
                vacant.append((osm_type, osm_id, str(landuse_value), tags.get("name") or "",
                               blob))
            if building is not None and building != "no":
                buildings.append(
                    (osm_type, osm_id, building, _levels(tags.get("building:levels")), blob)
                )
            if is_poi:
                pois.append((osm_type, osm_id, nan, nan, dict(tags), blob))
    stats = {
        "highway_seen": dict(highway_seen),
        "walkable_ways": len(way_ids),
        "missing_node_refs": missing_refs,
        "ways_cut_at_missing_nodes": ways_cut,
        "broken_areas_skipped": broken_areas,
        "pois": len(pois),
        "residential_landuse": len(landuse),
        "buildings": len(buildings),
        "gates": len(gates),
        "non_residential_landuse": len(landuse_other),
        "barriers": len(barriers),
    }
    if not way_ids:
        seen = ", ".join(f"{k} ({v})" for k, v in highway_seen.most_common(12)) or "none"
        raise InputError(
            f"{path}: no walkable ways found; highway tags seen: {seen}. "
            "Give an extract that contains streets or footpaths"
        )
    if way_ids and not ways_usable:
        raise InputFileError(
            path,
            f"none of its {len(way_ids)} walkable ways has two nodes inside the extract "
            f"({missing_refs} node references are missing)",
            _COMPLETE_WAYS,
        )
    if ways_cut:
        log.warning(
            "%s: %d walkable ways reference %d nodes missing from the extract and were cut "
            "there; %s",
            path, ways_cut, missing_refs, _COMPLETE_WAYS,
        )
    return OSMData(
        path=str(path),
        way_ids=np.asarray(way_ids, dtype=np.int64),
        way_highway=way_highway,
        way_name=way_name,
        refs=np.asarray(refs, dtype=np.int64),
        way_ptr=np.asarray(way_ptr, dtype=np.int64),
        ref_lon=np.asarray(lon, dtype=np.float64),
        ref_lat=np.asarray(lat, dtype=np.float64),
        pois=pois,
        landuse=landuse,
        buildings=buildings,
        gates=gates,
        stats=stats,
        vacant=vacant,
        landuse_other=landuse_other,
        barriers=barriers,
        way_access=way_access,
        barrier_nodes=np.asarray(barrier_nodes, dtype=np.int64),
    )
