"""The single-loop pyosmium loader that read_osm replaced, kept only as a test oracle.

It walks every tagged object in Python with osmium's area assembler on every closed way
(slow, simple); tests/test_loader_equality.py checks the streaming loader against it.
Errors are not mapped to input errors here: the oracle only reads good files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from lifecircle.sources.access_tags import is_barrier_node, way_access_tags
from lifecircle.sources.osm_model import (
    BLOCK_BARRIERS,
    NON_RESIDENTIAL_LANDUSE,
    POI_KEYS,
    VACANT_LANDUSE,
    OSMData,
    _levels,
    finish_read,
    is_walkable,
)


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
    # the lists and counts are filled here; finish_read only counts them and checks the ways
    data = OSMData(str(path))
    way_ids: list[int] = []
    refs: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    way_ptr: list[int] = [0]
    barrier_nodes: list[int] = []
    buildings: list[tuple[str, int, str, str | None, bytes]] = []
    pois: list[tuple[str, int, float, float, dict[str, str], bytes | None]] = []
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
                data.gates.append((obj.id, loc.lon, loc.lat, tag_dict))
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
                    data.barriers.append((obj.id, str(barrier), bytes.fromhex(line)))
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
                data.way_access[len(way_ids)] = access_tags
            way_ids.append(obj.id)
            data.way_highway.append(highway)
            data.way_name.append(tags.get("name") or "")
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
                data.landuse.append((osm_type, osm_id, blob))
            if is_other:
                data.landuse_other.append((osm_type, osm_id, str(landuse_value), blob))
            if is_vacant:
                data.vacant.append(
                    (osm_type, osm_id, str(landuse_value), tags.get("name") or "", blob))
            if building is not None and building != "no":
                buildings.append(
                    (osm_type, osm_id, building, _levels(tags.get("building:levels")), blob)
                )
            if is_poi:
                pois.append((osm_type, osm_id, nan, nan, dict(tags), blob))
    data.way_ids = np.asarray(way_ids, dtype=np.int64)
    data.refs = np.asarray(refs, dtype=np.int64)
    data.way_ptr = np.asarray(way_ptr, dtype=np.int64)
    data.ref_lon = np.asarray(lon, dtype=np.float64)
    data.ref_lat = np.asarray(lat, dtype=np.float64)
    data.barrier_nodes = np.asarray(barrier_nodes, dtype=np.int64)
    # the loader now keeps tables; the oracle keeps its rows (compared as tuples)
    data.buildings = buildings  # type: ignore[assignment]
    data.pois = pois  # type: ignore[assignment]
    return finish_read(data, highway_seen=highway_seen, missing_refs=missing_refs,
                       ways_cut=ways_cut, broken_areas=broken_areas, usable=ways_usable > 0)
