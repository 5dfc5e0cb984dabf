"""Assemble :class:`~lifecircle.sources.osm.OSMData` from a read's collections.

Both readers (the pyosmium passes through :func:`from_scan`, the PBF array scan directly)
hand over a :class:`Collected`.

The closed-way rings become polygons (:func:`~._osm_arrays.closed_way_polygons`), every area is
sorted into land use, vacant land, buildings and POIs, and the POIs and buildings become
columnar tables (:mod:`._osm_columns`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._halves import wait_quietly
from ._osm_arrays import closed_way_polygons, walkable_arrays
from ._osm_columns import BuildingTable, PoiTable, WkbColumn, flat_tags, interned
from .osm_model import (
    AREA_LANDUSE,
    NON_RESIDENTIAL_LANDUSE,
    POI_KEYS,
    VACANT_LANDUSE,
    OSMData,
    _levels,
    finish_read,
)

if TYPE_CHECKING:
    from ._osm_pass import Scan

__all__ = ["Collected", "from_scan", "osm_data"]


@dataclass
class Collected:
    """What a read collected, in the form the assembly takes (both readers make one: the
    pyosmium passes through :func:`from_scan`, the PBF array scan directly)."""

    way_ids: np.ndarray
    way_highway: list[str]
    way_name: list[str]
    #: ``refs``, ``way_ptr``, ``lon``, ``lat`` of the walkable ways (NaN: node not in the file)
    walkable: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    gates: list[tuple[int, float, float, dict[str, str]]]
    barriers: list[tuple[int, str, bytes]]
    way_access: dict[int, dict[str, str]]
    barrier_nodes: np.ndarray
    #: POI nodes: ids, lon, lat, flat tags (see :func:`~._osm_columns.flat_tags`)
    node_pois: tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, ...]]]
    #: closed-way area candidates: way ids, and per ring an index into ``ring_dicts`` (the
    #: distinct tag dicts: footprints share a few)
    ring_ids: np.ndarray
    ring_tags: np.ndarray
    ring_dicts: list[dict[str, str]]
    #: the rings as polygons and which are valid, given the spare bytes to leave at the end
    #: of the buffer (see :func:`~._osm_arrays.ring_polygons`); called once (:func:`osm_data`
    #: consumes the collections, letting each go once used)
    rings: Callable[[int], tuple[WkbColumn, np.ndarray]]
    #: multipolygon relations: (relation id, tags, multipolygon WKB)
    rel_areas: list[tuple[int, dict[str, str], bytes]]
    highway_seen: Counter[str]
    broken_areas: int
    #: the read's shared tag values (see :func:`~._osm_columns.flat_tags`); None when every
    #: tag key and value is already one shared (and every key an interned) string
    tag_values: dict[str, str] | None
    #: waits for work the read left running for the assembly (the PBF scan's ring polygons'
    #: thread); called when the assembly fails before it takes :attr:`rings`
    settled: Callable[[], object] = field(default=lambda: None)


def from_scan(raw: Scan) -> Collected:
    """The pyosmium passes' collections as :class:`Collected`."""
    nodes = raw.node_pois
    slots: dict[int, int] = {}
    dicts: list[dict[str, str]] = []
    index: list[int] = []
    for tags in raw.ring_tags:  # the shared footprint dicts once each
        slot = slots.get(id(tags))
        if slot is None:
            slot = slots[id(tags)] = len(dicts)
            dicts.append(tags)
        index.append(slot)
    ring_len = np.asarray(raw.ring_len, dtype=np.int64)
    return Collected(
        way_ids=np.asarray(raw.way_ids, dtype=np.int64),
        way_highway=raw.way_highway,
        way_name=raw.way_name,
        walkable=walkable_arrays(raw),
        gates=raw.gates,
        barriers=raw.lines,
        way_access=raw.extra.get("way_access", {}),
        barrier_nodes=np.asarray(raw.extra.get("barrier_nodes", []), dtype=np.int64),
        node_pois=(np.asarray([r[0] for r in nodes], dtype=np.int64),
                   np.asarray([r[1] for r in nodes], dtype=np.float64),
                   np.asarray([r[2] for r in nodes], dtype=np.float64),
                   [r[3] for r in nodes]),
        ring_ids=np.asarray(raw.ring_ids, dtype=np.int64),
        ring_tags=np.asarray(index, dtype=np.int64),
        ring_dicts=dicts,
        rings=lambda reserve: closed_way_polygons(raw.ring_wkb.to_bytes(), ring_len,
                                                  reserve=reserve),
        rel_areas=raw.rel_areas,
        highway_seen=raw.highway_seen,
        broken_areas=raw.broken_areas,
        tag_values=raw.tag_values,
    )


def osm_data(path: Path, raw: Collected,
             on_ways: Callable[[OSMData], Callable[[], object]] | None = None) -> OSMData:
    """Assemble :class:`OSMData` from a read's collections.

    ``on_ways`` is called with the data as soon as its walkable ways are in (the tables of
    ``NETWORK_TABLES`` but the vacant land; nothing here changes them afterwards), before the
    areas are laid out and sorted: the network can be built meanwhile. The function it
    returns is called (to wait for that work) once the building and POI tables are made
    (they were made after the wait, for a lower peak: +13 instead of +32 MiB over the
    network stage's at 268k nodes, but the read then sat idle for ~1 s of their work). An
    error before the rings are taken (``on_ways`` raising, say) waits for ``raw.settled``
    before it is raised.
    """
    # room after the rings for the relation footprints (see _building_table)
    reserve = sum(len(r[2]) for r in raw.rel_areas)
    try:
        data = OSMData(
            str(path),
            way_ids=raw.way_ids,
            way_highway=raw.way_highway,
            way_name=raw.way_name,
            gates=raw.gates,
            barriers=raw.barriers,
            way_access=raw.way_access,
            barrier_nodes=raw.barrier_nodes,
        )
        data.refs, data.way_ptr, data.ref_lon, data.ref_lat = raw.walkable
        valid = np.isfinite(data.ref_lon)
        way_of_ref = np.repeat(np.arange(len(raw.way_ids)), np.diff(data.way_ptr))
        # counted now: the per-reference temporaries go before the areas are assembled
        missing_refs = int(valid.size - np.count_nonzero(valid))
        ways_cut = int(np.unique(way_of_ref[~valid]).size) if missing_refs else 0
        # usable: a way with two consecutive references inside the extract
        usable = bool((valid[1:] & valid[:-1] & (way_of_ref[1:] == way_of_ref[:-1])).any())
        del valid, way_of_ref
        settle = on_ways(data) if on_ways is not None else None
        rings, ok = raw.rings(reserve)
    except BaseException:
        # (the network's build, say, failed: no thread is left laying out the rings, and
        # holding their coordinates, once the error is out; a second Ctrl-C stops the wait)
        wait_quietly(raw.settled)
        raise
    raw.rings = _laid_out  # (what the read kept for the polygons goes with its closure)
    relations = WkbColumn.from_blobs(r[2] for r in raw.rel_areas)
    area_pois: list[tuple[str, int, dict[str, str]]] = []
    poi_wkb: list[WkbColumn] = []
    values: dict[Any, Any] = {}
    parts = [
        _sort_areas(data, "way", raw.ring_ids, raw.ring_tags, raw.ring_dicts, rings,
                    np.flatnonzero(ok), area_pois, poi_wkb, values),
    ]
    # the rings' ids and tags are sorted out: let them go (the POIs' dicts stay in area_pois)
    raw.ring_ids = raw.ring_tags = np.zeros(0, dtype=np.int64)
    raw.ring_dicts = []
    parts.append(
        _sort_areas(data, "relation", np.asarray([r[0] for r in raw.rel_areas], dtype=np.int64),
                    np.arange(len(raw.rel_areas)), [r[1] for r in raw.rel_areas], relations,
                    np.arange(len(raw.rel_areas)), area_pois, poi_wkb, values))
    data.buildings = _building_table(parts, rings, relations)
    del parts, rings, relations
    data.pois = _poi_table(raw, area_pois, poi_wkb)
    if settle is not None:
        settle()
    return finish_read(
        data,
        highway_seen=raw.highway_seen,
        missing_refs=missing_refs,
        ways_cut=ways_cut,
        broken_areas=int((~ok).sum()) + raw.broken_areas,
        usable=usable,
    )


def _sort_areas(
    data: OSMData,
    osm_type: str,
    ids: np.ndarray,
    tag_index: np.ndarray,
    dicts: list[dict[str, str]],
    column: WkbColumn,
    index: np.ndarray,
    pois: list[tuple[str, int, dict[str, str]]],
    poi_wkb: list[WkbColumn],
    values: dict[Any, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Put the areas ``index`` of one kind (ways or relations; area ``i`` has the tags
    ``dicts[tag_index[i]]``) where they belong in ``data`` (POIs into ``pois``, their WKB
    into ``poi_wkb``); returns the buildings among them as ids, positions, building values
    and levels tags.

    The rules are applied once per distinct tag dict; only land use (few) is visited one by
    one.
    """
    area_pois = POI_KEYS - {"name"}
    n = len(dicts)
    building = np.empty(n, dtype=object)
    levels = np.empty(n, dtype=object)
    is_building = np.zeros(n, dtype=bool)
    landuse = np.zeros(n, dtype=bool)
    is_poi = np.zeros(n, dtype=bool)
    for k, tags in enumerate(dicts):
        value = tags.get("building")
        if value is not None and value != "no":
            is_building[k] = True
            building[k] = values.setdefault(value, value)
            level = _levels(tags.get("building:levels"))
            levels[k] = values.setdefault(level, level)
        if len(tags) == 1 and value is not None:  # most footprints: nothing else to sort
            continue
        landuse[k] = tags.get("landuse") in AREA_LANDUSE
        is_poi[k] = not area_pois.isdisjoint(tags)
    index = np.asarray(index, dtype=np.int64)
    tag_index = np.asarray(tag_index, dtype=np.int64)
    slot = tag_index[index]
    at = index[landuse[slot]]  # (looked up as lists: numpy scalars cost ~1 us each here)
    for osm_id, k, wkb in zip(np.asarray(ids)[at].tolist(), tag_index[at].tolist(),
                              column.records(at), strict=True):
        tags = dicts[k]
        landuse_value = tags["landuse"]
        if landuse_value == "residential":
            data.landuse.append((osm_type, osm_id, wkb))
        if landuse_value in NON_RESIDENTIAL_LANDUSE:
            data.landuse_other.append((osm_type, osm_id, landuse_value, wkb))
        if landuse_value in VACANT_LANDUSE:
            data.vacant.append((osm_type, osm_id, landuse_value, tags.get("name") or "", wkb))
    poi_pos = index[is_poi[slot]]
    pois.extend(zip([osm_type] * poi_pos.shape[0], np.asarray(ids)[poi_pos].tolist(),
                    [dicts[k] for k in tag_index[poi_pos].tolist()], strict=True))
    poi_wkb.append(column.take(poi_pos))
    pos = index[is_building[slot]]
    slot = slot[is_building[slot]]
    return np.asarray(ids, dtype=np.int64)[pos], pos, building[slot], levels[slot]


def _laid_out(reserve: int) -> tuple[WkbColumn, np.ndarray]:
    """Stands for :attr:`Collected.rings` once called (the read laid the rings out once)."""
    raise RuntimeError("the rings of this read were laid out already")


def _poi_table(
    raw: Collected, areas: list[tuple[str, int, dict[str, str]]], area_wkb: list[WkbColumn]
) -> PoiTable:
    """The POIs: tagged nodes (from the read), then areas (from :func:`_sort_areas`)."""
    ids, lon, lat, tags = raw.node_pois
    n, m = len(ids), len(areas)
    # (the area columns are handed over: concat drops each once copied; the areas' dicts go
    # once flattened)
    columns = [WkbColumn(b"", np.zeros(n + 1, dtype=np.int64)), *area_wkb]
    area_wkb.clear()
    nan = np.full(m, np.nan)
    values = raw.tag_values
    osm_type = interned(["node"] * n + [a[0] for a in areas])
    osm_id = np.concatenate([ids, np.asarray([a[1] for a in areas], dtype=np.int64)])
    all_tags = list(tags) + ([tuple(chain.from_iterable(a[2].items())) for a in areas]
                             if values is None else [flat_tags(a[2], values) for a in areas])
    areas.clear()
    return PoiTable(
        osm_type=osm_type,
        osm_id=osm_id,
        lon=np.concatenate([lon, nan]),
        lat=np.concatenate([lat, nan]),
        tags=all_tags,
        is_area=np.arange(n + m) >= n,
        wkb=WkbColumn.concat(columns),
    )


def _building_table(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    rings: WkbColumn,
    relations: WkbColumn,
) -> BuildingTable:
    """The buildings of :func:`_sort_areas`, ways then relations, as one table.

    The footprints stay in the ways' WKB buffer (compacted in place, the relations' appended
    in the room left for them), so no second copy of every footprint is made.
    """
    way, rel = (list(p) for p in parts)
    parts.clear()  # (consumed: each column goes once joined, to keep the peak down)
    n_way, n_rel = len(way[0]), len(rel[0])
    types = np.empty(n_way + n_rel, dtype=object)
    types[:n_way] = "way"
    types[n_way:] = "relation"
    columns = []
    for k in (0, 2, 3):  # ids, building values, levels tags
        columns.append(np.concatenate([way[k], rel[k]]))
        way[k] = rel[k] = np.zeros(0, dtype=np.int64)
    return BuildingTable(
        osm_type=types,
        osm_id=columns[0],
        building=columns[1],
        levels=columns[2],
        wkb=rings.compact(way[1], [relations[i] for i in rel[1].tolist()]),
    )
