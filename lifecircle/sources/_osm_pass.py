"""The streaming read behind :func:`lifecircle.sources.osm.read_osm`: file to arrays.

Two pyosmium passes over the file, with C++ filters so that only what a run uses reaches
Python:

1. relations only: multipolygon and boundary relations (tags and way members) are kept.
2. nodes and ways, with a node location index: tagged nodes with a POI, gate or kerb key, and
   the tagged ways (plus the relations' member ways). Walkable ways keep their node ids and
   coordinates; closed ways that may be areas (buildings, land use, POI areas) keep their ring
   as linestring WKB made in C++. No Python object is made per node of a building.

Multipolygon relations are the one place osmium's area assembler is worth its cost: their
member ways and nodes are written to a small OSM file that the assembler reads
(:func:`_relation_areas`). An id filter over the big file would cost more: libosmium's id
sets allocate per id range, seconds on files whose ids are spread.

Closed-way areas are polygonised in one vectorised step (:func:`._osm_arrays.closed_way_polygons`)
with the rules osmium's assembler applies to a single closed way: at least four node
references, the ends at one location, no ``area=no``; a ring that is not a valid polygon is a
broken area (skipped and counted).
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice, repeat
from typing import Any

from ._osm_columns import HexChunks, flat_tags

#: keys that make a node worth a look in Python (POIs, gates and entrances, kerbs)
NODE_KEYS = ("entrance", "barrier", "kerb", "wheelchair")
#: keys that make a way worth a look in Python, besides the POI keys
WAY_KEYS = ("highway", "building", "landuse", "barrier")


@dataclass
class Scan:
    """What the passes collect, before it becomes :class:`~lifecircle.sources.osm.OSMData`."""

    way_ids: list[int] = field(default_factory=list)
    way_highway: list[str] = field(default_factory=list)
    way_name: list[str] = field(default_factory=list)
    #: node ids of all walkable ways, concatenated, and the count per way
    way_refs: array[int] = field(default_factory=lambda: array("q"))
    way_counts: list[int] = field(default_factory=list)
    #: linestring WKB of the walkable ways with every node in the extract, in order
    way_wkb: HexChunks = field(default_factory=HexChunks)
    #: per walkable way with a node missing from the extract: (index, lon list, lat list)
    way_partial: dict[int, tuple[list[float], list[float]]] = field(default_factory=dict)
    highway_seen: Counter[str] = field(default_factory=Counter)
    #: nodes: (id, lon, lat, tags) of POI candidates and of gates; kerb/barrier node ids
    #: (POI tags as :func:`~._osm_columns.flat_tags` tuples, sharing ``tag_values``)
    node_pois: list[tuple[int, float, float, tuple[str, ...]]] = field(default_factory=list)
    tag_values: dict[str, str] = field(default_factory=dict)
    gates: list[tuple[int, float, float, dict[str, str]]] = field(default_factory=list)
    #: closed-way area candidates: way id, tags (dict; one shared dict per value for the
    #: many footprints tagged only ``building``), ring as linestring WKB, point count
    ring_ids: array[int] = field(default_factory=lambda: array("q"))
    ring_tags: list[dict[str, str]] = field(default_factory=list)
    ring_wkb: HexChunks = field(default_factory=HexChunks)
    ring_len: array[int] = field(default_factory=lambda: array("q"))
    #: multipolygon relations: (relation id, tags, multipolygon WKB bytes) or broken
    rel_areas: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    #: barrier ways (walls, fences) that are not highways: (way id, barrier value, line WKB)
    lines: list[tuple[int, str, bytes]] = field(default_factory=list)
    broken_areas: int = 0
    #: hooks collect extra per-object facts (see ``node_hooks``/``way_hooks`` of :func:`scan`)
    extra: dict[str, Any] = field(default_factory=dict)


def is_area_candidate(
    tags: dict[str, str], area_pois: frozenset[str], area_landuse: frozenset[str]
) -> bool:
    """Whether an area with these tags is kept (building, land use, POI).

    ``area_pois``: the POI keys that make an area a POI (not ``name`` alone).
    """
    is_poi = not area_pois.isdisjoint(tags)
    if not is_poi and "building" not in tags and tags.get("landuse") not in area_landuse:
        return False
    return is_poi or "highway" not in tags


def scan(
    path: str,
    *,
    poi_keys: frozenset[str],
    area_landuse: frozenset[str],
    is_walkable: Callable[[Any], bool],
    is_gate: Callable[[Any], bool],
    line_barriers: frozenset[str] = frozenset(),
    node_hooks: tuple[Callable[[Any, Any, Scan], None], ...] = (),
    way_hooks: tuple[Callable[[Any, Any, Scan], None], ...] = (),
    walkable_hooks: tuple[Callable[[dict[str, str], int, Scan], None], ...] = (),
    index: str = "flex_mem",
) -> Scan:
    """Read ``path`` in three filtered passes (see the module docstring).

    ``area_landuse``: land-use values kept as areas; ``is_gate``: whether node tags make a gate
    or entrance; ``line_barriers``: ``barrier`` values of ways kept as lines (walls, fences:
    not highways, dropped when cut off at the extract's edge); ``node_hooks``/``way_hooks`` are
    called with every node and every tagged way that reaches Python (``tags, obj, out``),
    ``walkable_hooks`` with every walkable way (``tags, way index, out``), for facts other
    modules add. Raises
    pyosmium's exceptions unchanged (the caller turns them into input errors).
    """
    import osmium
    import osmium.geom

    out = Scan()
    wkb = osmium.geom.WKBFactory()
    all_nodes = osmium.geom.use_nodes.ALL
    relations = _relation_pass(path)
    members = {ref for _, _, refs in relations for _, ref, _ in refs}
    store = osmium.index.create_map(index)
    member_ways: dict[int, tuple[list[int], list[tuple[float, float] | None]]]
    member_ways = {}
    _main_pass(path, store, members, member_ways, out, wkb, all_nodes, poi_keys, area_landuse,
               is_walkable, is_gate, line_barriers, node_hooks, way_hooks, walkable_hooks)
    if relations:
        _relation_areas(relations, member_ways, out, wkb, poi_keys, area_landuse)
    return out


#: a multipolygon relation: id, tags, way members as (type, ref, role)
Relation = tuple[int, dict[str, str], list[tuple[str, int, str]]]


def _relation_pass(path: str) -> list[Relation]:
    """Multipolygon and boundary relations with their way members."""
    import osmium

    types = osmium.filter.TagFilter(("type", "multipolygon"), ("type", "boundary"))
    relations: list[Relation] = []
    processor: Any = osmium.FileProcessor(path, osmium.osm.RELATION).with_filter(types)
    for rel in processor:
        ways = [("w", m.ref, m.role) for m in rel.members if m.type == "w"]
        relations.append((rel.id, _tag_dict(rel), ways))
    return relations


def _main_pass(
    path: str,
    store: Any,
    members: set[int],
    member_ways: dict[int, Any],
    out: Scan,
    wkb: Any,
    all_nodes: Any,
    poi_keys: frozenset[str],
    area_landuse: frozenset[str],
    is_walkable: Callable[[Any], bool],
    is_gate: Callable[[Any], bool],
    line_barriers: frozenset[str],
    node_hooks: tuple[Callable[[Any, Any, Scan], None], ...],
    way_hooks: tuple[Callable[[Any, Any, Scan], None], ...],
    walkable_hooks: tuple[Callable[[dict[str, str], int, Scan], None], ...],
) -> None:
    import osmium

    keys = tuple(sorted(poi_keys))
    node_filter: Any = osmium.filter.KeyFilter(*keys, *NODE_KEYS)
    node_filter = node_filter.enable_for(osmium.osm.NODE)  # returns the filter (stubs say None)
    # every way: the untagged ones may be members of multipolygon relations (about 1 % of
    # ways; irrelevant tagged ways are left in Python at the cost of a dict)
    processor: Any = (
        osmium.FileProcessor(path, osmium.osm.NODE | osmium.osm.WAY)
        .with_locations(store)
        .with_filter(node_filter)
    )
    nan = float("nan")
    node_type = osmium.osm.Node
    area_pois = poi_keys - {"name"}
    shared: dict[str, dict[str, str]] = {}
    shared_area: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    tag_values = out.tag_values
    ring_ids, ring_tags, ring_len = out.ring_ids, out.ring_tags, out.ring_len
    ring_wkb = out.ring_wkb
    create_linestring = wkb.create_linestring
    errors = (RuntimeError, osmium.InvalidLocationError)
    way_type = osmium.osm.Way
    for obj in processor:
        if type(obj) is way_type and not way_hooks:
            # the most common object at city scale (4 in 10 reaching Python) is a footprint
            # tagged only building=V: no dict, no hooks, no sorting, straight to its ring
            data = obj._pyosmium_data
            size = data.tags_size()
            if size <= 2:
                get = data.tags_get_value_by_key
                value = get("building", None)
                if value is not None and (way_id := data.id()) not in members:
                    # building plus one tag: a look-up costs about a tenth of a tag in a
                    # dict; when the other key is a known harmless one, the tags are known
                    kept = (_two_tag_footprint(get, value, shared_area) if size == 2 else
                            shared.get(value) or shared.setdefault(value, {"building": value}))
                    if kept is not None:
                        _keep_ring(obj, way_id, kept, create_linestring, all_nodes, errors,
                                   ring_ids, ring_tags, ring_wkb, ring_len)
                        continue
            probed = (_probed_tags(data.tags_get_value_by_key, size, area_pois)
                      if 2 <= size <= 3 and data.id() not in members else None)
            tags = _tag_dict(obj, shared) if probed is None else probed
        else:
            tags = _tag_dict(obj, shared)
        if type(obj) is node_type:
            for hook in node_hooks:
                hook(tags, obj, out)
            gate = is_gate(tags)
            poi = not poi_keys.isdisjoint(tags)
            if not (gate or poi):
                continue
            loc = obj.location
            if not loc.valid():
                continue
            if gate:
                out.gates.append((obj.id, loc.lon, loc.lat, tags))
            if poi:
                out.node_pois.append((obj.id, loc.lon, loc.lat, flat_tags(tags, tag_values)))
            continue
        way_id = obj.id
        if way_id in members:
            nodes = obj.nodes
            member_ways[way_id] = ([n.ref for n in nodes], [
                (loc.lon, loc.lat) if loc.valid() else None
                for loc in (n.location for n in nodes)
            ])
        if not tags:
            continue
        for way_hook in way_hooks:
            way_hook(tags, obj, out)
        if tags is not shared.get(tags.get("building", "")):  # not a footprint tagged only so
            highway = tags.get("highway")
            if highway is None:
                barrier = tags.get("barrier")
                # a wall cut at the extract's edge is left out: a block edge is not worth it
                if barrier in line_barriers and (line := _line_wkb(wkb, obj)) is not None:
                    out.lines.append((way_id, str(barrier), line))
            else:
                out.highway_seen[highway] += 1
                if is_walkable(tags):
                    for walkable_hook in walkable_hooks:
                        walkable_hook(tags, len(out.way_ids), out)
                    _walkable(obj, tags, highway, out, wkb, all_nodes, nan)
            if not is_area_candidate(tags, area_pois, area_landuse) or tags.get("area") == "no":
                continue
            tags = interned_keys(tags) if not area_pois.isdisjoint(tags) else _area_tags(tags,
                                                                                     shared_area)
        _keep_ring(obj, way_id, tags, create_linestring, all_nodes, errors, ring_ids, ring_tags,
                   ring_wkb, ring_len)


def _keep_ring(
    way: Any, way_id: int, tags: dict[str, str], create_linestring: Any, all_nodes: Any,
    errors: Any, ring_ids: array[int], ring_tags: list[dict[str, str]], ring_wkb: HexChunks,
    ring_len: array[int],
) -> None:
    """Keep a closed way's ring as an area candidate (the collections are passed in, not
    looked up: this runs for every footprint)."""
    try:
        ring = create_linestring(way, all_nodes)
    except errors:
        return  # fewer than two nodes, or one outside the extract: no area, as osmium
    # osmium's assembler makes an area of a closed way of 4+ node references whose ends
    # share a location: read both from the hex WKB (18 header digits, 32 per point)
    count = (len(ring) - 18) // 32
    if count < 4 or ring[18:50] != ring[-32:]:
        return
    ring_ids.append(way_id)
    ring_tags.append(tags)
    ring_wkb.append(ring)
    ring_len.append(count)


#: the tags an area that is not a POI is sorted by (see ``osm._sort_areas``); ``name`` only
#: matters for land use (vacant land keeps it)
_AREA_TAGS = ("building", "building:levels", "landuse")


#: the second tags of two-tag footprints probed by :func:`_two_tag_footprint`, commonest
#: first; none of them makes the way anything but a building
_SECOND_TAGS = ("building:levels", "name", "height")


#: keys probed by :func:`_probed_tags`, commonest first (on the Nanjing extracts)
_COMMON_KEYS = ("highway", "building", "name", "building:levels", "note", "layer", "tunnel",
                "oneway", "height", "footway")


def _probed_tags(
    get: Callable[[str, None], str | None], size: int, area_pois: frozenset[str]
) -> dict[str, str] | None:
    """The tags of a way with ``size`` (few) tags, read by look-ups of :data:`_COMMON_KEYS`
    when those hold them all; None when they do not, or when the way is an area POI (whose
    tags are kept in the file's order, which only a full read gives)."""
    out: dict[str, str] = {}
    for key in _COMMON_KEYS:
        value = get(key, None)
        if value is not None:
            out[key] = value
            if len(out) == size:
                return None if not area_pois.isdisjoint(out) else out
    return None


def _two_tag_footprint(
    get: Callable[[str, None], str | None],
    building: str,
    shared: dict[tuple[tuple[str, str], ...], dict[str, str]],
) -> dict[str, str] | None:
    """The kept tags (as :func:`_area_tags`) of a way with two tags, one of them ``building``,
    when the other is in :data:`_SECOND_TAGS`; None otherwise (the caller reads all tags)."""
    for key in _SECOND_TAGS:
        other = get(key, None)
        if other is not None:
            if key == "building:levels":
                return _area_tags({"building": building, key: other}, shared)
            return _area_tags({"building": building}, shared)
    return None


def _area_tags(
    tags: dict[str, str], shared: dict[tuple[tuple[str, str], ...], dict[str, str]]
) -> dict[str, str]:
    """The tags of a non-POI area that are kept, one shared dict per distinct combination
    (footprints repeat a few combinations hundreds of thousands of times)."""
    kept = tuple((k, tags[k]) for k in _AREA_TAGS if k in tags)
    if "landuse" in tags and "name" in tags:
        kept += (("name", tags["name"]),)
    one = shared.get(kept)
    if one is None:
        one = shared[kept] = dict(kept)
    return one


def interned_keys(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` with interned keys: kept POI tags then share one string per key."""
    intern = sys.intern
    return {intern(k): v for k, v in tags.items()}


def _line_wkb(wkb: Any, way: Any) -> bytes | None:
    """A way as linestring WKB (repeated locations dropped); None if a node is missing."""
    import osmium

    try:
        return bytes.fromhex(wkb.create_linestring(way))
    except (RuntimeError, osmium.InvalidLocationError):
        return None


def _tag_dict(obj: Any, shared: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """An object's tags as a dict.

    Reads pyosmium's C++ tag iterator directly: ``dict(obj.tags)`` goes through a Python
    iterator class per tag and ends on a C++ exception, most of the per-object cost of a pass.
    With ``shared``, objects tagged only ``building=V`` get one dict per ``V`` (kept in
    ``shared``; never mutate it): most footprints carry one tag, and a dict each costs
    hundreds of megabytes at city scale.
    """
    data = obj._pyosmium_data
    size = data.tags_size()
    if size == 1:
        # most buildings carry one tag: one look-up instead of an iterator and a Tag tuple
        value = data.tags_get_value_by_key("building", None)
        if value is not None:
            if shared is None:
                return {"building": value}
            one = shared.get(value)
            if one is None:
                one = shared[value] = {"building": value}
            return one
    # exactly tags_size() calls: the end-of-tags StopIteration is a C++ exception (~30 us)
    return dict(map(data.tags_next, repeat(data.tags_begin(), size)))


def _refs(way: Any) -> list[int]:
    """A way's node ids, read from pyosmium's C++ node list (its Python wrapper adds a
    generator and an index call per node)."""
    data = way._pyosmium_data
    nodes = data.nodes()
    return [n.ref for n in map(nodes.get, repeat(data, nodes.size(data)),
                               range(nodes.size(data)))]


def _walkable(
    way: Any, tags: Any, highway: str, out: Scan, wkb: Any, all_nodes: Any,
    nan: float,
) -> None:
    """Keep a walkable way: node ids, and coordinates as C++-made WKB where all are known."""
    import osmium

    refs = _refs(way)
    out.way_refs.extend(refs)
    out.way_counts.append(len(refs))
    try:
        line: str | None = wkb.create_linestring(way, all_nodes)
    except (RuntimeError, osmium.InvalidLocationError):
        # a node missing from a clipped extract (or a one-node way): per-node coordinates,
        # NaN where missing; the network cuts the way there
        line = None
        lon: list[float] = []
        lat: list[float] = []
        for n in way.nodes:  # (a wrapper object: only made for the rare cut way)
            loc = n.location
            valid = loc.valid()
            lon.append(loc.lon if valid else nan)
            lat.append(loc.lat if valid else nan)
        out.way_partial[len(out.way_ids)] = (lon, lat)
    out.way_ids.append(way.id)
    # a street's name repeats on each of its ways, and highway values are few: share them
    values = out.tag_values
    out.way_highway.append(values.setdefault(highway, highway))
    name = tags.get("name") or ""
    out.way_name.append(values.setdefault(name, name))
    if line is not None:
        out.way_wkb.append(line)


def _relation_areas(
    relations: list[Relation],
    member_ways: dict[int, Any],
    out: Scan,
    wkb: Any,
    poi_keys: frozenset[str],
    area_landuse: frozenset[str],
) -> None:
    """Assemble the multipolygon relations with osmium, from a small file of their members.

    Only relations that may be areas a run uses are written; a relation with a member way
    missing from the extract is incomplete and, as in osmium, yields nothing. The member ways
    are written without their tags: libosmium (since 2.16) takes a relation area's tags from
    the relation alone, and the areas of closed member ways themselves are not used here, so
    their tags would only be written, parsed and assembled for nothing.
    """
    import tempfile
    from functools import cache
    from pathlib import Path
    from xml.sax.saxutils import quoteattr

    import osmium

    area_pois = poi_keys - {"name"}
    wanted = [r for r in relations if is_area_candidate(r[1], area_pois, area_landuse)]
    if not wanted:
        return
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[str] = []
    for way_id in sorted({ref for _, _, refs in wanted for _, ref, _ in refs}):
        if way_id not in member_ways:
            continue
        refs, coords = member_ways[way_id]
        for ref, xy in zip(refs, coords, strict=True):
            if xy is not None:
                nodes[ref] = xy
        ways.append(f"<way id='{way_id}'><nd ref='" + "'/><nd ref='".join(map(str, refs))
                    + "'/></way>" if refs else f"<way id='{way_id}'></way>")
    with tempfile.TemporaryDirectory(prefix="lifecircle-mp-") as tmp:
        members_file = Path(tmp) / "members.osm"
        # written a few thousand lines at a time: the whole text, its encoding and a list of
        # its lines at once were the largest thing alive in the PBF scan
        with open(members_file, "w", encoding="utf-8") as f:
            f.write("<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n")
            node_lines = (f"<node id='{ref}' lon='{x!r}' lat='{y!r}'/>\n"
                          for ref, (x, y) in sorted(nodes.items()))
            while chunk := "".join(islice(node_lines, 4096)):
                f.write(chunk)
            del nodes
            for start in range(0, len(ways), 4096):
                f.write("\n".join(ways[start : start + 4096]) + "\n")
            del ways
            quote = cache(quoteattr)  # (roles and tags repeat: each quoted once)
            for rel_id, tags, refs in sorted(wanted, key=lambda r: r[0]):
                f.write(f"<relation id='{rel_id}'>"
                        + "".join([f"<member type='way' ref='{ref}' role={quote(role)}/>"
                                   for _, ref, role in refs])
                        + _xml_tags(tags, quote) + "</relation>\n")
            f.write("</osm>")
        # only the areas reach Python (the member nodes and ways are many more)
        assembled: Any = osmium.FileProcessor(str(members_file)).with_areas().with_filter(
            osmium.filter.EntityFilter(osmium.osm.AREA))
        for area in assembled:
            if not isinstance(area, osmium.osm.Area) or area.from_way():
                continue  # closed member ways were polygonised in the main pass
            tags = _tag_dict(area)
            if not is_area_candidate(tags, area_pois, area_landuse):
                continue
            try:
                blob = bytes.fromhex(wkb.create_multipolygon(area))
            except RuntimeError:
                out.broken_areas += 1
                continue
            out.rel_areas.append((area.orig_id(), tags, blob))


def _xml_tags(tags: dict[str, str], quoteattr: Callable[[str], str]) -> str:
    return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
