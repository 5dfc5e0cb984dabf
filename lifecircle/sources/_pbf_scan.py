"""From decoded PBF arrays (:class:`._pbf.PbfArrays`) to the loader's collections.

The array twin of :mod:`._osm_pass`: the same objects are kept by the same rules, but tags are
matched as vocabulary ids over whole arrays instead of object by object. A rule that reads a
few keys (``is_walkable``, gates, kerbs, step-free tags, the kept tags of an area) is called
once per distinct combination of those keys' values, on a dict of just those keys, and its
answer spread back to every object with that combination: the predicates stay the single
place their rules live. Tag dicts are made only for what keeps its tags (POIs, gates,
relations and their member ways).

Node locations come from the node arrays at the positions the reader resolved each reference
to (:mod:`._pbf_refs`); a node missing from the file, or outside the valid coordinate range,
has no location, as in libosmium's index. The scan consumes the arrays: each is let go as soon
as its last use is made, which keeps the read's peak memory near the decoded arrays' size.
Multipolygon relations are assembled by osmium from a small file of their members, as in the
pyosmium path (:func:`._osm_pass._relation_areas`). Two threads work beside the scan: that
assembly (mostly osmium's own reader and parser threads, which the caller only waited for), and
then the closed-way rings' polygons (the numba kernel and GEOS, GIL-free); the scan joins both
before an error of its own leaves it.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._halves import alongside, wait_quietly
from ._osm_arrays import RING_CHUNK, gathered, ring_polygons
from ._osm_assemble import Collected
from ._osm_pass import Scan, _area_tags, _relation_areas

if TYPE_CHECKING:
    from ._pbf import PbfArrays

__all__ = ["AREA_KEYS", "WALKABLE_KEYS", "scan_arrays"]

#: the keys :func:`~.osm_model.is_walkable` reads
WALKABLE_KEYS = ("highway", "area", "foot", "access", "service")
#: the keys that decide which tags a non-POI area keeps (see ``_osm_pass._area_tags``)
AREA_KEYS = ("building", "building:levels", "landuse", "name")
#: libosmium's valid coordinate range, in 1e-7 degrees
_MAX_X, _MAX_Y = 1_800_000_000, 900_000_000


class _Tags:
    """The tags of one object kind (CSR: ``ptr`` into ``key``/``val`` vocabulary ids)."""

    def __init__(self, ptr: np.ndarray, key: np.ndarray, val: np.ndarray) -> None:
        self.ptr = np.asarray(ptr, dtype=np.int64)
        self.key = np.asarray(key)
        self.val = np.asarray(val)
        self.n = self.ptr.shape[0] - 1
        # (int32: objects and vocabulary ids are counted far below 2**31 in one file)
        self.owner = np.repeat(np.arange(self.n, dtype=np.int32), np.diff(self.ptr))

    def value(self, key: int) -> np.ndarray:
        """Per object, the value id of ``key`` (-1 where absent; the last one if repeated, as
        a dict keeps it)."""
        out = np.full(self.n, -1, dtype=np.int32)
        if key >= 0:
            hit = np.flatnonzero(self.key == key)
            out[self.owner[hit]] = self.val[hit]
        return out

    def has_any(self, keys: np.ndarray) -> np.ndarray:
        """Per object, whether it has a key among ``keys`` (a mask over the vocabulary)."""
        return np.bincount(self.owner[keys[self.key]], minlength=self.n) > 0

    def dicts(self, rows: np.ndarray, words: np.ndarray) -> list[dict[str, str]]:
        """The tag dicts of objects ``rows`` (``words``: the vocabulary as an object array)."""
        pairs = list(zip(words[gathered(self.key, self.ptr, rows)].tolist(),
                         words[gathered(self.val, self.ptr, rows)].tolist(), strict=True))
        counts = self.ptr[rows + 1] - self.ptr[rows]
        ends = np.cumsum(counts)
        return [dict(pairs[a:b])
                for a, b in zip((ends - counts).tolist(), ends.tolist(), strict=True)]


class _Vocab:
    """The file's strings: ids by string, and the strings as an object array."""

    def __init__(self, strings: list[str], keys: Iterable[np.ndarray]) -> None:
        self.index = {s: i for i, s in enumerate(strings)}
        # one slot more: -1 (absent) reads as ""
        self.words = np.empty(len(strings) + 1, dtype=object)
        self.words[:-1] = strings
        self.words[-1] = ""
        # keys interned, as the pyosmium path keeps them (they are shared with other code)
        is_key = np.zeros(self.words.shape[0], dtype=bool)
        for ids in keys:
            is_key[ids] = True
        intern = sys.intern
        self.words[is_key] = [intern(w) for w in self.words[is_key].tolist()]

    def id(self, word: str) -> int:
        return self.index.get(word, -1)

    def mask(self, words: Iterable[str]) -> np.ndarray:
        out = np.zeros(self.words.shape[0], dtype=bool)
        out[[i for w in words if (i := self.id(w)) >= 0]] = True
        out[-1] = False
        return out


def _by_combination(
    tags: _Tags, rows: np.ndarray, keys: tuple[str, ...], vocab: _Vocab,
    rule: Callable[[dict[str, str]], Any],
) -> tuple[np.ndarray, list[Any]]:
    """``rule`` of the objects ``rows``, called once per distinct combination of ``keys``'
    values on a dict of those keys only: (per row, the combination's index; per combination,
    the rule's answer)."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64), []
    columns = np.stack([tags.value(vocab.id(k))[rows] for k in keys], axis=1)
    combos, inverse = _unique_rows(columns)
    words = vocab.words
    answers = [rule({k: words[v] for k, v in zip(keys, combo.tolist(), strict=True) if v >= 0})
               for combo in combos]
    return inverse.reshape(-1), answers


def _unique_rows(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an int matrix (in increasing order) and each row's index among
    them.

    The columns are ranked and folded into one int64 per row: ``np.unique(axis=0)`` sorts
    rows as opaque records, seconds on a city's ways. Where the folded keys are few (a
    handful of values per key: nearly always) they are ranked through a table too, and each
    distinct row is read back off its key, with no sort at all.
    """
    key = np.zeros(columns.shape[0], dtype=np.int64)
    size = 1
    values = []
    for column in columns.T:
        # ids are small (vocabulary ids, -1 for absent): ranked through a table, not a sort
        present = np.zeros(int(column.max()) + 2, dtype=bool)
        present[column + 1] = True
        ranks = np.cumsum(present) - 1
        distinct = int(ranks[-1]) + 1
        size *= distinct
        if size >= 1 << 62:
            combos, inverse = np.unique(columns, axis=0, return_inverse=True)
            return combos, inverse.reshape(-1)
        key = key * distinct + ranks[column + 1]
        values.append((np.flatnonzero(present) - 1, distinct))
    if size > max(1 << 16, 4 * key.shape[0]):
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return columns[first], inverse.reshape(-1)
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    keys = np.flatnonzero(seen)  # the distinct keys, increasing (as np.unique gives them)
    rank = np.cumsum(seen) - 1
    combos = np.empty((keys.shape[0], columns.shape[1]), dtype=columns.dtype)
    rest = keys
    for j in range(columns.shape[1] - 1, -1, -1):  # the key's digits, last column first
        value, distinct = values[j]
        combos[:, j] = value[rest % distinct]
        rest = rest // distinct
    return combos, rank[key]


def _flat(tags: _Tags, rows: np.ndarray, words: np.ndarray) -> list[tuple[str, ...]]:
    """The tags of objects ``rows`` as :func:`~._osm_columns.flat_tags` tuples (through a dict
    where an object repeats a key, as the pyosmium path's dict keeps it)."""
    keys = gathered(tags.key, tags.ptr, rows)
    counts = tags.ptr[rows + 1] - tags.ptr[rows]
    # (object, key) pairs folded into one int64 and sorted: a key given twice in an object is
    # a pair seen twice (np.sort of one int64 is ~10x np.lexsort of the two columns)
    size = np.int64(words.shape[0])
    pairs = np.repeat(np.arange(rows.shape[0], dtype=np.int64) * size, counts)
    pairs += keys
    pairs.sort()
    repeat = np.zeros(rows.shape[0], dtype=bool)
    repeat[pairs[1:][pairs[1:] == pairs[:-1]] // size] = True
    del pairs
    flat = np.empty(2 * keys.shape[0], dtype=object)
    flat[0::2] = words[keys]
    flat[1::2] = words[gathered(tags.val, tags.ptr, rows)]
    items = flat.tolist()
    ends = np.cumsum(2 * counts)
    out = [tuple(items[a:b]) for a, b in zip((ends - 2 * counts).tolist(), ends.tolist(),
                                              strict=True)]
    for r in np.flatnonzero(repeat).tolist():  # (rare: a key given twice)
        one = out[r]
        out[r] = tuple(x for kv in dict(zip(one[0::2], one[1::2], strict=True)).items()
                       for x in kv)
    return out


class _Locator:
    """Node locations of ways' references (resolved to node positions by the reader, see
    :mod:`._pbf_refs`)."""

    def __init__(self, arrays: PbfArrays) -> None:
        self.x, self.y = arrays.node_x, arrays.node_y
        self.ref_ptr = np.asarray(arrays.way_ref_ptr, dtype=np.int64)
        self.pos = arrays.way_ref_pos
        # (a node outside the valid range has no location, as in libosmium's index; in a
        # real file none is, and the check per reference is skipped)
        bad = (self.x < -_MAX_X) | (self.x > _MAX_X) | (self.y < -_MAX_Y) | (self.y > _MAX_Y)
        self.unlocated = bad if bad.any() else None

    def positions(self, ways: np.ndarray) -> np.ndarray:
        """The node positions (int32) of the references of ``ways``, concatenated; -1 where
        the file has no such node or its location is not valid (as libosmium's index)."""
        return self.located(gathered(self.pos, self.ref_ptr, ways))

    def ids_and_positions(self, arrays: PbfArrays,
                          ways: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The node ids of the references of ``ways`` and their :meth:`positions`, from one
        gather (the ids read before :meth:`located` writes -1 over the missing ones)."""
        pos = gathered(self.pos, self.ref_ptr, ways)
        return arrays.ids_of(pos), self.located(pos)

    def located(self, pos: np.ndarray) -> np.ndarray:
        """Reference positions ``pos`` (as the reader resolved them) with -1 where the file
        has no such node or its location is not valid; ``pos`` is written over."""
        np.maximum(pos, -1, out=pos)
        if self.unlocated is not None:
            pos[self.unlocated[np.maximum(pos, 0)] & (pos >= 0)] = -1
        return pos

    def lon_lat(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude at node positions (NaN at -1), as libosmium's ``lon()``."""
        ok = pos >= 0
        lon = np.where(ok, self.x[pos] / 1e7, np.nan)
        lat = np.where(ok, self.y[pos] / 1e7, np.nan)
        return lon, lat


def scan_arrays(
    arrays: PbfArrays,
    *,
    poi_keys: frozenset[str],
    area_landuse: frozenset[str],
    is_walkable: Callable[[Mapping[str, str]], bool],
    is_gate: Callable[[Mapping[str, str]], bool],
    gate_keys: tuple[str, ...],
    is_barrier_node: Callable[[Mapping[str, str]], bool],
    barrier_node_keys: tuple[str, ...],
    way_access: Callable[[Mapping[str, str]], dict[str, str]],
    way_access_keys: tuple[str, ...],
    line_barriers: frozenset[str],
    on_walkable: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
                          None] | None = None,
) -> Collected:
    """What :func:`._osm_pass.scan` collects, from decoded arrays.

    The predicates are the pyosmium path's (``is_gate`` and ``is_barrier_node`` on node tags,
    ``way_access`` the step-free tags of a walkable way), each with the keys it reads.
    ``on_walkable`` is called with :attr:`~._osm_assemble.Collected.walkable` as soon as it is
    made (see ``read_osm``), before the relations and rings are laid out, and the references'
    ranks by node id (their positions in the node arrays where the file's nodes are sorted by
    id; None otherwise; -1 where a reference has no location).
    """
    vocab = _Vocab(arrays.strings, (arrays.node_tag_key, arrays.way_tag_key,
                                    arrays.rel_tag_key))
    words = vocab.words
    area_pois = poi_keys - {"name"}

    # -- highways first: counted, walkable ones kept with their step-free tags and their
    # references located, so that ``on_walkable`` has them (and the network's first part
    # starts in a thread) before the nodes, relations and areas are scanned
    ways = _Tags(arrays.way_tag_ptr, arrays.way_tag_key, arrays.way_tag_val)
    locate = _Locator(arrays)
    highway = ways.value(vocab.id("highway"))
    highways = np.flatnonzero(highway >= 0)
    inverse, answers = _by_combination(ways, highways, WALKABLE_KEYS, vocab, is_walkable)
    walk = highways[np.asarray(answers, dtype=bool)[inverse]] if answers else highways[:0]
    seen, first, count = np.unique(highway[highways], return_index=True, return_counts=True)
    order = np.argsort(first)
    highway_seen = Counter(dict(zip(words[seen[order]].tolist(), count[order].tolist(),
                                    strict=True)))
    inverse, answers = _by_combination(ways, walk, way_access_keys, vocab, way_access)
    access = {int(i): dict(answers[k]) for i, k in enumerate(inverse.tolist()) if answers[k]}
    # (one string object per distinct value: the vocabulary's)
    way_highway = words[highway[walk]].tolist()
    way_name = words[ways.value(vocab.id("name"))[walk]].tolist()
    del highways, inverse, answers, seen, first, count, order

    # -- their node locations (the node ids are dropped once the relations' members have
    # theirs too)
    walk_ptr = np.zeros(walk.shape[0] + 1, dtype=np.int64)
    np.cumsum(locate.ref_ptr[walk + 1] - locate.ref_ptr[walk], out=walk_ptr[1:])
    walk_refs, walk_pos = locate.ids_and_positions(arrays, walk)
    walkable = (walk_refs, walk_ptr, *locate.lon_lat(walk_pos))
    del walk_refs
    if on_walkable is not None:
        # (positions in id order where the file's nodes are sorted: ranks of the ids)
        on_walkable(*walkable, walk_pos if arrays.nodes_sorted else None)
    del walk_pos

    # -- nodes: POIs, gates, kerbs
    nodes = _Tags(arrays.node_tag_ptr, arrays.node_tag_key, arrays.node_tag_val)
    tagged = np.asarray(arrays.tagged_node, dtype=np.int64)
    everyone = np.arange(tagged.shape[0])
    inverse, answers = _by_combination(nodes, everyone, barrier_node_keys, vocab,
                                       is_barrier_node)
    barrier_nodes = arrays.node_id[tagged[np.asarray(answers, dtype=bool)[inverse]]] \
        if answers else np.zeros(0, dtype=np.int64)
    x, y = arrays.node_x[tagged].astype(np.int64), arrays.node_y[tagged].astype(np.int64)
    located = (np.abs(x) <= _MAX_X) & (np.abs(y) <= _MAX_Y)
    inverse, answers = _by_combination(nodes, everyone, gate_keys, vocab, is_gate)
    gate_rows = np.flatnonzero(np.asarray(answers, dtype=bool)[inverse] & located) \
        if answers else np.zeros(0, dtype=np.int64)
    gates = [(int(i), float(a) / 1e7, float(b) / 1e7, tags) for i, a, b, tags in zip(
        arrays.node_id[tagged[gate_rows]].tolist(), x[gate_rows].tolist(),
        y[gate_rows].tolist(), nodes.dicts(gate_rows, words), strict=True)]
    poi_rows = np.flatnonzero(nodes.has_any(vocab.mask(poi_keys)) & located)
    node_pois = (arrays.node_id[tagged[poi_rows]], x[poi_rows] / 1e7, y[poi_rows] / 1e7,
                 _flat(nodes, poi_rows, words))
    del x, y, located, nodes, tagged, everyone, inverse, gate_rows, poi_rows
    _drop(arrays, "tagged_node", "node_tag_ptr", "node_tag_key", "node_tag_val")

    # -- relations (multipolygons and boundaries) and their member ways: assembled by osmium
    # in a thread while the areas' ways are scanned here (most of osmium's pass is its reader and
    # parser threads working and this one waiting for them). Osmium's pass is no longer the
    # scan's lone peak: the rings' coordinates (copied below) now coexist with the node
    # arrays and that pass. A trade, measured on the 268k
    # mosaic: read_osm's peak 575 -> 621-623 MB (+8 %) for its CPU time 5.6 -> 4.4-4.7 s.
    relations, members = _relations(arrays, vocab)
    _drop(arrays, "rel_tag_ptr", "rel_tag_key", "rel_tag_val", "rel_member_ptr",
          "rel_member_type", "rel_member_ref", "rel_member_role")
    polygons: Callable[[], tuple[Any, np.ndarray, int]] | None = None
    rel_areas: Callable[[], Scan] | None = None
    try:
        rel_areas = _relation_areas_of(arrays, locate, relations, members, poi_keys,
                                       area_landuse)
        del relations, members
        _drop(arrays, "node_id")  # (the last ids read: only positions and coordinates below)

        is_poi = ways.has_any(vocab.mask(area_pois))
        area_value = ways.value(vocab.id("area"))
        candidate = (np.diff(ways.ptr) > 0) & (is_poi | (
            ((ways.value(vocab.id("building")) >= 0)
             | vocab.mask(area_landuse)[ways.value(vocab.id("landuse"))]) & (highway < 0)))
        candidate &= (area_value != vocab.id("no")) | (area_value < 0)
        del area_value
        barrier = ways.value(vocab.id("barrier"))
        lines = np.flatnonzero((highway < 0) & vocab.mask(line_barriers)[barrier])
        line_values = words[barrier[lines]].tolist()
        del barrier, highway

        # -- closed-way areas: 4+ references, all located, both ends at one location; laid out
        # first and made polygons in a thread (the numba kernel and GEOS release the GIL) while
        # the rest of the scan, and of the assembly up to the polygons, runs here
        rings = np.flatnonzero(candidate)
        del candidate
        ref_ptr = locate.ref_ptr
        ring_counts = ref_ptr[rings + 1] - ref_ptr[rings]
        long_enough = ring_counts >= 4
        rings, ring_counts = rings[long_enough], ring_counts[long_enough]
        del long_enough
        ring_pos = locate.positions(rings)
        starts = np.zeros(rings.shape[0] + 1, dtype=np.int64)
        np.cumsum(ring_counts, out=starts[1:])
        all_located = np.minimum.reduceat(ring_pos, starts[:-1]) >= 0 if rings.size else \
            np.zeros(0, dtype=bool)
        first_pos, last_pos = ring_pos[starts[:-1]], ring_pos[starts[1:] - 1]
        closed = all_located & (arrays.node_x[first_pos] == arrays.node_x[last_pos]) & (
            arrays.node_y[first_pos] == arrays.node_y[last_pos])
        del first_pos, last_pos, all_located, starts
        # (a mask of a byte per reference: most rings are kept)
        ring_pos = ring_pos[np.repeat(closed, ring_counts)]
        rings, ring_counts = rings[closed], ring_counts[closed]
        del closed
        ring_starts = np.zeros(ring_counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(ring_counts, out=ring_starts[1:])
        # the rings keep their own coordinates (not the node arrays, dropped below), in the
        # chunks ring_polygons asks for, each let go once its polygons are made (held beside
        # the node arrays and osmium's pass: the peak's +8 %, see the relations above)
        ring_xy: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        for lo in range(0, rings.shape[0], RING_CHUNK):
            hi = min(rings.shape[0], lo + RING_CHUNK)
            at = ring_pos[ring_starts[lo] : ring_starts[hi]]
            ring_xy[lo] = (hi, arrays.node_x[at], arrays.node_y[at])
        del ring_pos

        def coords_of(lo: int, hi: int) -> np.ndarray:
            end, x, y = ring_xy.pop(lo)
            assert end == hi, "ring_polygons asks for other chunks than were laid out"
            out = np.empty((x.shape[0], 2), dtype=np.float64)
            np.divide(x, 1e7, out=out[:, 0])
            np.divide(y, 1e7, out=out[:, 1])
            return out

        def ring_column() -> tuple[Any, np.ndarray, int]:
            # (room left after the rings for the relations' footprints: see _building_table)
            reserve = sum(len(area[2]) for area in rel_areas().rel_areas)
            try:
                return (*ring_polygons(ring_counts, coords_of, reserve=reserve), reserve)
            finally:  # called once: the coordinates are not needed past the polygons
                ring_xy.clear()

        polygons = alongside(ring_column)
        line_lon, line_lat = locate.lon_lat(locate.positions(lines))
        line_ids = arrays.way_id[lines].tolist()
        line_counts = (ref_ptr[lines + 1] - ref_ptr[lines]).tolist()

        del locate, ref_ptr
        _drop(arrays, "way_ref_pos", "missing_refs", "way_ref_ptr", "node_x", "node_y")
        ring_tags, ring_dicts = _ring_tags(ways, rings, is_poi[rings], vocab)
        ring_ids = arrays.way_id[rings]
        del ways, is_poi, rings
        _drop(arrays, "way_tag_ptr", "way_tag_key", "way_tag_val")

        # -- walls and fences
        barriers = []
        at = 0
        for way, value, count in zip(line_ids, line_values, line_counts, strict=True):
            end = at + count
            line = _line_wkb(line_lon[at:end], line_lat[at:end])
            at = end
            if line is not None:
                barriers.append((way, str(value), line))
        way_ids = arrays.way_id[walk]
        rel_out = rel_areas()
    except BaseException:
        # no thread left assembling or laying out after a failed scan (their own errors are
        # dropped for the scan's; a second Ctrl-C stops the wait)
        wait_quietly(polygons, rel_areas)
        raise
    return Collected(
        way_ids=way_ids,
        way_highway=way_highway,
        way_name=way_name,
        walkable=walkable,
        gates=gates,
        barriers=barriers,
        way_access=access,
        barrier_nodes=np.asarray(barrier_nodes, dtype=np.int64),
        node_pois=node_pois,
        ring_ids=ring_ids,
        ring_tags=ring_tags,
        ring_dicts=ring_dicts,
        rings=_made(polygons),
        rel_areas=rel_out.rel_areas,
        highway_seen=highway_seen,
        broken_areas=rel_out.broken_areas,
        tag_values=None,  # the vocabulary's strings: shared, keys interned
        settled=polygons,
    )


def _drop(arrays: PbfArrays, *names: str) -> None:
    """Let go of decoded arrays the scan has used up (the scan consumes ``arrays``: the
    read's peak is lower when each array goes as soon as it is used)."""
    for name in names:
        setattr(arrays, name, None)


def _made(
    polygons: Callable[[], tuple[Any, np.ndarray, int]],
) -> Callable[[int], tuple[Any, np.ndarray]]:
    """:attr:`~._osm_assemble.Collected.rings` for polygons laid out in a thread (with the
    spare bytes the relations' footprints take: the assembly asks for that room)."""

    def rings(asked: int) -> tuple[Any, np.ndarray]:
        column, ok, reserve = polygons()
        if asked != reserve:
            raise RuntimeError(f"the rings were laid out with {reserve} spare bytes, "
                               f"not {asked}")
        return column, ok

    return rings


def _relation_areas_of(
    arrays: PbfArrays, locate: _Locator, relations: list[Any], members: np.ndarray,
    poi_keys: frozenset[str], area_landuse: frozenset[str],
) -> Callable[[], Scan]:
    """The multipolygons assembled by osmium from their member ways (as the pyosmium path's
    ``_relation_areas``), in a :class:`~._osm_pass.Scan` (``rel_areas``, ``broken_areas``):
    the member ways are read here, the assembly starts in a thread, and the function returned
    waits for it."""
    rel_out = Scan()
    if not relations:
        return lambda: rel_out
    ref_ptr = locate.ref_ptr
    member_rows = _rows_of(arrays.way_id, members)
    member_ways: dict[int, Any] = {}
    ids, pos = locate.ids_and_positions(arrays, member_rows)  # (one gather for both)
    refs = ids.tolist()
    lon, lat = locate.lon_lat(pos)
    xy = [None if x != x else (x, y) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    at = 0
    for way in member_rows.tolist():  # (no tags: the member file is written without them)
        end = at + int(ref_ptr[way + 1] - ref_ptr[way])
        member_ways[int(arrays.way_id[way])] = (refs[at:end], xy[at:end])
        at = end
    import osmium.geom

    def assembled() -> Scan:
        _relation_areas(relations, member_ways, rel_out, osmium.geom.WKBFactory(), poi_keys,
                        area_landuse)
        return rel_out

    return alongside(assembled)


def _relations(arrays: PbfArrays, vocab: _Vocab) -> tuple[list[Any], np.ndarray]:
    """Multipolygon and boundary relations as ``_osm_pass`` collects them (id, tags, way
    members), and the ids of their member ways."""
    rels = _Tags(arrays.rel_tag_ptr, arrays.rel_tag_key, arrays.rel_tag_val)
    rows = np.flatnonzero(vocab.mask(("multipolygon", "boundary"))[rels.value(vocab.id("type"))])
    words = vocab.words
    ptr = np.asarray(arrays.rel_member_ptr, dtype=np.int64)
    out = []
    for row, tags in zip(rows.tolist(), rels.dicts(rows, words), strict=True):
        lo, hi = int(ptr[row]), int(ptr[row + 1])
        is_way = arrays.rel_member_type[lo:hi] == 1
        refs = arrays.rel_member_ref[lo:hi][is_way].tolist()
        roles = words[arrays.rel_member_role[lo:hi][is_way]].tolist()
        out.append((int(arrays.rel_id[row]), tags,
                    [("w", r, role) for r, role in zip(refs, roles, strict=True)]))
    members = np.unique(np.asarray([r for _, _, refs in out for _, r, _ in refs],
                                   dtype=np.int64))
    return out, members


def _rows_of(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The positions of the ids in ``wanted`` (few) among ``ids``, increasing."""
    if not wanted.size:
        return np.zeros(0, dtype=np.int64)
    if ids.size > 1 and not (ids[1:] > ids[:-1]).all():
        return np.flatnonzero(np.isin(ids, wanted))
    pos = np.minimum(np.searchsorted(ids, wanted), max(ids.shape[0] - 1, 0))
    return np.unique(pos[ids[pos] == wanted]) if ids.size else pos[:0]


def _ring_tags(
    ways: _Tags, rings: np.ndarray, is_poi: np.ndarray, vocab: _Vocab
) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Per ring, an index into the tag dicts kept for rings: POIs keep all their tags (a dict
    each, keys interned as ``_osm_pass.interned_keys`` does), other areas the tags
    ``_osm_pass._area_tags`` keeps (one shared dict per combination)."""
    plain = np.flatnonzero(~is_poi)
    shared: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    inverse, dicts = _by_combination(ways, rings[plain], AREA_KEYS, vocab,
                                     lambda tags: _area_tags(tags, shared))
    index = np.empty(rings.shape[0], dtype=np.int64)
    index[plain] = inverse
    poi = np.flatnonzero(is_poi)
    index[poi] = len(dicts) + np.arange(poi.shape[0])
    dicts += ways.dicts(rings[poi], vocab.words)  # (keys interned by the vocabulary)
    return index, dicts


def _line_wkb(lon: np.ndarray, lat: np.ndarray) -> bytes | None:
    """A linestring as WKB with repeated locations dropped, as osmium's factory makes it; None
    when a node has no location or fewer than two locations remain."""
    if np.isnan(lon).any():
        return None
    xy = np.column_stack([lon, lat])
    keep = np.ones(xy.shape[0], dtype=bool)
    keep[1:] = (xy[1:] != xy[:-1]).any(axis=1)
    xy = xy[keep]
    if xy.shape[0] < 2:
        return None
    head = np.array([1, 2, 0, 0, 0], dtype=np.uint8).tobytes()
    return head + np.uint32(xy.shape[0]).astype("<u4").tobytes() + xy.astype("<f8").tobytes()
