"""Assemble :class:`~lifecircle.sources.osm.OSMData` from the passes' collections.

The closed-way rings become polygons (:func:`~._osm_arrays.closed_way_polygons`), every area is
sorted into land use, vacant land, buildings and POIs, and the POIs and buildings become
columnar tables (:mod:`._osm_columns`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._osm_arrays import closed_way_polygons, walkable_arrays
from ._osm_columns import BuildingTable, PoiTable, WkbColumn, flat_tags, interned
from .osm_model import (
    NON_RESIDENTIAL_LANDUSE,
    POI_KEYS,
    VACANT_LANDUSE,
    OSMData,
    _levels,
    finish_read,
)

__all__ = ["osm_data"]


def osm_data(path: Path, raw: Any) -> OSMData:
    """Assemble :class:`OSMData` from the passes' raw collections."""
    data = OSMData(
        str(path),
        way_ids=np.asarray(raw.way_ids, dtype=np.int64),
        way_highway=raw.way_highway,
        way_name=raw.way_name,
        gates=raw.gates,
        barriers=raw.lines,
        way_access=raw.extra.get("way_access", {}),
        barrier_nodes=np.asarray(raw.extra.get("barrier_nodes", []), dtype=np.int64),
    )
    data.refs, data.way_ptr, data.ref_lon, data.ref_lat = walkable_arrays(raw)
    valid = np.isfinite(data.ref_lon)
    missing = ~valid
    way_of_ref = np.repeat(np.arange(len(raw.way_ids)), np.diff(data.way_ptr))
    # room after the rings for the relation footprints (see _building_table)
    reserve = sum(len(r[2]) for r in raw.rel_areas)
    rings, ok = closed_way_polygons(raw.ring_wkb.to_bytes(), np.asarray(raw.ring_len,
                                                                         dtype=np.int64),
                                    reserve=reserve)
    parts = []
    area_pois: list[tuple[str, int, dict[str, str], bytes]] = []
    for osm_type, ids, tag_list, column, index in (
        ("way", raw.ring_ids, raw.ring_tags, rings, np.flatnonzero(ok).tolist()),
        ("relation", [r[0] for r in raw.rel_areas], [r[1] for r in raw.rel_areas],
         WkbColumn.from_blobs(r[2] for r in raw.rel_areas), range(len(raw.rel_areas))),
    ):
        parts.append((osm_type, ids, column,
                      _sort_areas(data, osm_type, ids, tag_list, column, index, area_pois)))
    data.buildings = _building_table(parts)
    data.pois = _poi_table(raw, area_pois)
    # usable: a way with two consecutive references inside the extract
    pair = valid[1:] & valid[:-1] & (way_of_ref[1:] == way_of_ref[:-1])
    return finish_read(
        data,
        highway_seen=raw.highway_seen,
        missing_refs=int(missing.sum()),
        ways_cut=int(np.unique(way_of_ref[missing]).size),
        broken_areas=int((~ok).sum()) + raw.broken_areas,
        usable=bool(pair.any()),
    )


def _sort_areas(
    data: OSMData,
    osm_type: str,
    ids: list[int],
    tag_list: list[dict[str, str]],
    column: Any,
    index: Any,
    pois: list[tuple[str, int, dict[str, str], bytes]],
) -> list[tuple[int, str, str | None]]:
    """Put the areas ``index`` of one kind (ways or relations) where they belong in ``data``
    (POIs into ``pois``); returns the buildings among them as (position, building value,
    levels tag)."""
    area_pois = POI_KEYS - {"name"}
    buildings: list[tuple[int, str, str | None]] = []
    for i in index:
        tags = tag_list[i]
        if len(tags) == 1 and "building" in tags:  # most footprints: nothing else to sort
            if tags["building"] != "no":
                buildings.append((i, tags["building"], None))
            continue
        osm_id = ids[i]
        landuse_value = tags.get("landuse")
        if landuse_value == "residential":
            data.landuse.append((osm_type, osm_id, column[i]))
        if landuse_value in NON_RESIDENTIAL_LANDUSE:
            data.landuse_other.append((osm_type, osm_id, str(landuse_value), column[i]))
        if landuse_value in VACANT_LANDUSE:
            data.vacant.append(
                (osm_type, osm_id, str(landuse_value), tags.get("name") or "", column[i]))
        building = tags.get("building")
        if building is not None and building != "no":
            buildings.append((i, building, _levels(tags.get("building:levels"))))
        if not area_pois.isdisjoint(tags):
            pois.append((osm_type, osm_id, tags, column[i]))
    return buildings


def _poi_table(raw: Any, areas: list[tuple[str, int, dict[str, str], bytes]]) -> PoiTable:
    """The POIs: tagged nodes (from the pass), then areas (from :func:`_sort_areas`)."""
    nodes = raw.node_pois
    n, m = len(nodes), len(areas)
    nan = np.full(m, np.nan)
    values = raw.tag_values
    return PoiTable(
        osm_type=interned(["node"] * n + [a[0] for a in areas]),
        osm_id=np.asarray([r[0] for r in nodes] + [a[1] for a in areas], dtype=np.int64),
        lon=np.concatenate([np.asarray([r[1] for r in nodes], dtype=np.float64), nan]),
        lat=np.concatenate([np.asarray([r[2] for r in nodes], dtype=np.float64), nan]),
        tags=[r[3] for r in nodes] + [flat_tags(a[2], values) for a in areas],
        is_area=np.arange(n + m) >= n,
        wkb=WkbColumn.concat([WkbColumn(b"", np.zeros(n + 1, dtype=np.int64)),
                              WkbColumn.from_blobs(a[3] for a in areas)]),
    )


def _building_table(parts: list[tuple[str, Any, Any, list[Any]]]) -> BuildingTable:
    """The buildings of :func:`_sort_areas`, ways then relations, as one table.

    The footprints stay in the ways' WKB buffer (compacted in place, the relations' appended
    in the room left for them), so no second copy of every footprint is made.
    """
    types: list[str] = []
    ids: list[int] = []
    values: list[str] = []
    levels: list[str | None] = []
    keep: list[np.ndarray] = []
    for osm_type, all_ids, _, rows in parts:
        pos = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        types.extend([osm_type] * len(rows))
        ids.extend(all_ids[i] for i in pos.tolist())
        values.extend(r[1] for r in rows)
        levels.extend(r[2] for r in rows)
        keep.append(pos)
    (_, _, rings, _), (_, _, relations, _) = parts
    return BuildingTable(
        osm_type=interned(types),
        osm_id=np.asarray(ids, dtype=np.int64),
        building=interned(values),
        levels=interned(levels),
        wkb=rings.compact(keep[0], [relations[i] for i in keep[1].tolist()]),
    )
