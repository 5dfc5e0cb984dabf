"""The PBF array scan (``_pbf_scan``) against the pyosmium passes (``_osm_pass``).

Both readers must give the same :class:`OSMData`, array for array and WKB byte for byte: on
the shared PBF extracts and on a small hand-built PBF with one of each case the rules
distinguish. The scan is fed by the slow pyosmium reference builder (``tests._pbf_reference``)
and, through ``read_osm``, by the compiled decoder (``_pbf``). The rules the scan calls on
dicts of a few keys are checked (hypothesis) to read no other key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle._errors import InputFileError
from lifecircle._memory import no_cyclic_gc
from lifecircle.sources import _osm_pass, osm
from lifecircle.sources._osm_assemble import from_scan, osm_data
from lifecircle.sources._osm_columns import WkbColumn
from lifecircle.sources._osm_pass import _area_tags
from lifecircle.sources._pbf_scan import AREA_KEYS, WALKABLE_KEYS
from lifecircle.sources.access_tags import is_barrier_node, way_access_tags
from lifecircle.sources.osm import read_osm
from lifecircle.sources.osm_model import (
    OSMData,
    is_walkable,
)
from tests._pbf_reference import reference_arrays
from tests.conftest import shared_osm
from tests.test_osm_columns import rings_xy

PBF_EXTRACTS = ("monaco.osm.pbf", "andorra.osm.pbf", "aguascalientes.osm.pbf")


def pyosmium_read(path: Path) -> OSMData:
    """``read_osm`` through the pyosmium passes, whatever the file type."""
    with no_cyclic_gc():
        return osm_data(path, from_scan(osm._scan(path, _osm_pass)))


def array_read(path: Path) -> OSMData:
    """``read_osm``'s array path fed by the pyosmium reference arrays."""
    arrays = reference_arrays(path)
    with no_cyclic_gc():
        return osm_data(path, osm._scan_decoded(arrays))


def _same_column(a: WkbColumn, b: WkbColumn, what: str) -> None:
    np.testing.assert_array_equal(a.offsets - a.offsets[0], b.offsets - b.offsets[0],
                                  err_msg=what)
    assert a.buf[a.offsets[0]:a.offsets[-1]].tobytes() == \
        b.buf[b.offsets[0]:b.offsets[-1]].tobytes(), what


def assert_same(new: OSMData, old: OSMData) -> None:
    """Every field equal: arrays exactly, geometries byte for byte, lists in order."""
    for attr in ("way_ids", "refs", "way_ptr", "ref_lon", "ref_lat", "barrier_nodes"):
        a, b = getattr(new, attr), getattr(old, attr)
        assert a.dtype == b.dtype, attr
        np.testing.assert_array_equal(a, b, err_msg=attr)
    for attr in ("way_highway", "way_name", "gates", "barriers", "way_access", "stats",
                 "landuse", "vacant", "landuse_other"):
        assert getattr(new, attr) == getattr(old, attr), attr
    # the first-seen order of highway values too (the no-walkable-ways message lists them)
    assert list(new.stats["highway_seen"]) == list(old.stats["highway_seen"])
    for table in ("pois", "buildings"):
        a, b = getattr(new, table), getattr(old, table)
        for name in a.__dataclass_fields__:
            x, y = getattr(a, name), getattr(b, name)
            if isinstance(x, WkbColumn):
                _same_column(x, y, f"{table}.{name}")
            elif isinstance(x, np.ndarray):
                assert x.dtype == y.dtype, f"{table}.{name}"
                np.testing.assert_array_equal(x, y, err_msg=f"{table}.{name}")
            else:
                assert x == y, f"{table}.{name}"


@pytest.mark.parametrize("name", PBF_EXTRACTS)
def test_array_scan_equals_pyosmium_passes(name):
    path = shared_osm(name)
    old = pyosmium_read(path)
    assert len(old.buildings) and len(old.pois) and len(old.way_ids)
    assert_same(array_read(path), old)


@pytest.mark.parametrize("name", PBF_EXTRACTS)
def test_read_osm_pbf_path_equals_pyosmium_passes(name):
    """``read_osm`` on a .pbf: the compiled decoder and the array scan."""
    path = shared_osm(name)
    assert_same(read_osm(path), pyosmium_read(path))


def test_read_osm_falls_back_to_pyosmium(tmp_path, monkeypatch):
    """A PBF the decoder does not handle is read by the pyosmium passes; a corrupt one is an
    input error naming the file."""
    from lifecircle.sources import _pbf

    path = tmp_path / "cases.osm.pbf"
    _write_cases(path)
    calls = []

    def unsupported(p: Any) -> Any:
        calls.append(p)
        raise _pbf.PbfUnsupported("zstd blobs")

    monkeypatch.setattr(_pbf, "read_pbf", unsupported)
    assert_same(read_osm(path), pyosmium_read(path))
    assert calls == [path]

    def corrupt(p: Any) -> Any:
        raise _pbf.PbfError(f"{p}: blob 3: truncated")

    monkeypatch.setattr(_pbf, "read_pbf", corrupt)
    with pytest.raises(InputFileError, match=r"cases\.osm\.pbf.*truncated or corrupt"):
        read_osm(path)


# ---------------------------------------------------------------------------------------------
# a hand-built PBF with one of each case

LON0, LAT0 = 118.78, 32.04  # Xinjiekou, Nanjing
STEP = 0.0005


def _write_cases(path: Path) -> None:
    """Nodes on a grid (id ``100 r + c + 1``), and ways, relations over them."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    node_tags = {
        2: {"barrier": "gate", "access": "private"},
        3: {"kerb": "raised"},
        4: {"wheelchair": "no", "name": "无障碍"},
        5: {"entrance": "main"},
        6: {"amenity": "school", "name": "南京市第一中学"},
        7: {"shop": "convenience", "name": "便利店", "wheelchair": "yes"},
        8: {"name": "仅有名称"},  # a name alone makes a node POI candidate
        9: {"highway": "crossing", "kerb": "lowered"},
    }
    ways: list[tuple[int, list[int], dict[str, str]]] = [
        # streets: a Chinese name, a missing node (999), step-free tags, a crossing
        (10, [1, 2, 3, 4, 5], {"highway": "residential", "name": "中山路"}),
        (11, [5, 999, 6, 7], {"highway": "footway"}),
        (12, [7, 8, 9], {"highway": "footway", "wheelchair": "no", "incline": "10%"}),
        (13, [9, 10], {"highway": "footway", "footway": "crossing"}),
        (14, [101, 102], {"highway": "steps", "ramp:wheelchair": "yes"}),
        (15, [102, 103], {"highway": "motorway", "name": "绕城高速"}),  # not walkable
        (16, [103, 104], {"highway": "service", "access": "private"}),  # not walkable
        (17, [104, 105], {"highway": "track", "foot": "no"}),  # not walkable
        # footprints with one, two and three tags
        (20, [201, 202, 302, 301, 201], {"building": "yes"}),
        (21, [203, 204, 304, 303, 203], {"building": "house", "building:levels": "3"}),
        (22, [205, 206, 306, 305, 205], {"building": "apartments", "name": "金陵小区 3 幢",
                                         "height": "30"}),
        (23, [207, 208, 308, 307, 207], {"building": "yes", "roof:shape": "flat"}),
        (24, [209, 210, 310, 309, 209], {"building": "no", "amenity": "parking"}),
        # area=no, a ring that is not closed, a three-node ring, a self-crossing ring
        (25, [401, 402, 502, 501, 401], {"building": "yes", "area": "no"}),
        (26, [403, 404, 504, 503], {"building": "yes"}),
        (27, [405, 406, 405], {"building": "yes"}),
        (28, [407, 508, 408, 507, 407], {"building": "yes"}),
        # a ring with a missing node, a POI area, land use
        (29, [409, 410, 999, 509, 409], {"building": "yes"}),
        (30, [601, 602, 702, 701, 601], {"amenity": "hospital", "name": "鼓楼医院",
                                         "building": "hospital"}),
        (31, [603, 606, 806, 803, 603], {"landuse": "residential", "name": "居住区"}),
        (32, [607, 610, 810, 807, 607], {"landuse": "construction", "name": "工地"}),
        (33, [611, 614, 814, 811, 611], {"landuse": "industrial"}),
        (34, [901, 902, 1002, 1001, 901], {"highway": "pedestrian", "area": "yes",
                                            "leisure": "park"}),
        # walls and fences: whole, cut at the edge, with a repeated location
        (40, [1101, 1102, 1103], {"barrier": "wall"}),
        (41, [1104, 999], {"barrier": "fence"}),
        (42, [1105, 1105, 1106], {"barrier": "retaining_wall"}),
        (43, [1107, 1108], {"barrier": "hedge"}),
        # the multipolygon's rings (untagged) and an untagged way
        (50, [1201, 1206, 1706, 1701, 1201], {}),
        (51, [1302, 1305, 1605, 1602, 1302], {}),
        (52, [1210, 1212], {}),
    ]
    used = sorted({r for _, refs, _ in ways for r in refs if r != 999} | set(node_tags))
    with osmium.SimpleWriter(str(path)) as writer:
        for nid in used:
            row, col = divmod(nid - 1, 100)
            writer.add_node(Node(id=nid, location=(LON0 + col * STEP, LAT0 + row * STEP),
                                 tags=node_tags.get(nid, {})))
        for wid, refs, tags in ways:
            writer.add_way(Way(id=wid, nodes=refs, tags=tags))
        writer.add_relation(Relation(
            id=70, members=[("w", 50, "outer"), ("w", 51, "inner")],
            tags={"type": "multipolygon", "building": "yes", "name": "环形楼"}))
        writer.add_relation(Relation(
            id=71, members=[("w", 52, "outer"), ("n", 1, "")],
            tags={"type": "multipolygon", "landuse": "residential"}))  # an open ring
        writer.add_relation(Relation(id=72, members=[("w", 10, "")],
                                     tags={"type": "route", "route": "bus"}))


def test_hand_built_cases(tmp_path):
    path = tmp_path / "cases.osm.pbf"
    _write_cases(path)
    old = pyosmium_read(path)
    new = array_read(path)
    assert_same(new, old)
    assert_same(read_osm(path), old)
    # the cases are what they claim to be (so that the comparison is not empty)
    assert new.stats["ways_cut_at_missing_nodes"] == 1
    assert new.stats["missing_node_refs"] == 1
    # no area=no (25), open (26), three-node (27), self-crossing (28) or cut (29) ring, and
    # the relation's hole as a building of its own
    assert list(zip(new.buildings.osm_type, new.buildings.osm_id.tolist(), strict=True)) == [
        ("way", 20), ("way", 21), ("way", 22), ("way", 23), ("way", 30), ("relation", 70)]
    assert new.buildings.levels.tolist() == [None, "3", None, None, None, None]
    assert new.stats["broken_areas_skipped"] >= 1  # the self-crossing ring
    assert [(x[0], x[1]) for x in new.landuse] == [("way", 31)]
    assert [x[:4] for x in new.vacant] == [("way", 32, "construction", "工地")]
    assert [g[0] for g in new.gates] == [2, 5]
    assert new.barrier_nodes.tolist() == [3, 4]
    assert new.way_access == {2: {"wheelchair": "no", "incline": "10%"},
                              3: {"footway": "crossing"}, 4: {"ramp:wheelchair": "yes"}}
    assert [b[0] for b in new.barriers] == [40, 42]
    assert new.way_name[0] == "中山路"
    # a name makes a node a POI candidate, not an area
    assert [(t, i) for t, i, *_ in new.pois] == [("node", 4), ("node", 6), ("node", 7),
                                                 ("node", 8), ("way", 24), ("way", 30),
                                                 ("way", 34)]


# ---------------------------------------------------------------------------------------------
# the rules read only the keys the scan gives them

_KEYS = sorted({*WALKABLE_KEYS, *AREA_KEYS, *osm._GATE_KEYS, *osm.BARRIER_NODE_KEYS,
                *osm.WAY_ACCESS_KEYS, "amenity", "oneway", "surface", "layer"})
_VALUES = ["yes", "no", "private", "designated", "footway", "steps", "motorway", "residential",
           "gate", "raised", "crossing", "construction", "10%", "main", "名称", ""]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(_VALUES), max_size=8))
def test_rules_read_only_their_keys(tags: dict[str, str]):
    rules: list[tuple[Any, tuple[str, ...]]] = [
        (is_walkable, WALKABLE_KEYS),
        (osm._is_gate, osm._GATE_KEYS),
        (is_barrier_node, osm.BARRIER_NODE_KEYS),
        (way_access_tags, osm.WAY_ACCESS_KEYS),
        (lambda t: _area_tags(t, {}), AREA_KEYS),
    ]
    for rule, keys in rules:
        assert rule(tags) == rule({k: v for k, v in tags.items() if k in keys}), rule


# ---------------------------------------------------------------------------------------------
# the polygon step's shortcut past GEOS

@settings(max_examples=400, deadline=None)
@given(rings_xy, st.floats(1e-6, 1e-3), st.floats(-180, 180), st.floats(-80, 80))
def test_simple_shortcut_never_passes_an_invalid_ring(rings, scale, x0, y0):
    """Rings on a small integer grid (collinear corners, touching and crossing edges, spikes)
    scaled into degrees: every ring the compiled simple test accepts is valid for GEOS, and
    the read's validity equals GEOS's on every ring."""
    import shapely

    from lifecircle.sources._osm_arrays import _clearly_simple, ring_polygons

    closed = [[*r, r[0]] for r in rings]
    scaled = [[(x0 + scale * x, y0 + scale * y) for x, y in r] for r in closed]
    deduped = [[p for i, p in enumerate(r) if i == 0 or p != r[i - 1]] for r in scaled]
    coords = np.asarray([p for r in deduped for p in r], dtype=np.float64)
    quick = _clearly_simple(coords, np.asarray([len(r) for r in deduped]))
    truth = [len(r) >= 4 and bool(shapely.is_valid(shapely.Polygon(r))) for r in deduped]
    for ok, valid in zip(quick.tolist(), truth, strict=True):
        assert valid or not ok
    every = np.asarray([p for r in scaled for p in r], dtype=np.float64)
    counts = np.asarray([len(r) for r in scaled])
    starts = np.concatenate([[0], np.cumsum(counts)])
    _, valid = ring_polygons(counts, lambda lo, hi: every[starts[lo]:starts[hi]])
    assert valid.tolist() == truth


def test_simple_shortcut_takes_common_footprints():
    """An L-shaped footprint (not convex) is judged without GEOS; a bow tie is not."""
    from lifecircle.sources._osm_arrays import _clearly_simple

    ell = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2), (0, 0)]
    bow = [(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]
    coords = np.asarray([(118.7 + 1e-4 * x, 32.0 + 1e-4 * y) for x, y in ell + bow])
    assert _clearly_simple(coords, np.asarray([7, 5])).tolist() == [True, False]


def test_locator_finds_nodes_by_id_in_any_order():
    """Node look-up by id: in sorted and shuffled node arrays alike, all at once or a block
    of references at a time; a missing id and a location outside the valid range (as
    libosmium's index treats it) give -1."""
    from types import SimpleNamespace

    from lifecircle.sources._pbf_refs import ref_ids, resolve, resolve_all
    from lifecircle.sources._pbf_scan import _Locator

    rng = np.random.default_rng(7)
    ids = np.unique(rng.integers(1, 10**12, size=500))
    x = rng.integers(-1_800_000_000, 1_800_000_000, size=ids.shape[0]).astype(np.int32)
    y = rng.integers(-900_000_000, 900_000_000, size=ids.shape[0]).astype(np.int32)
    y[3] = np.int32(900_000_001)  # out of range: not located
    refs = np.concatenate([rng.choice(ids, size=300), [ids[3], 5, ids[-1] + 1, ids[0]]])
    ref_ptr = np.asarray([0, 100, 100, refs.shape[0]], dtype=np.int64)  # an empty way too
    expected_ids = np.where(np.isin(refs, ids) & (refs != ids[3]), refs, -1)
    for order in (np.arange(ids.shape[0]), rng.permutation(ids.shape[0])):
        node_id = ids[order]
        nodes_sorted = bool((np.diff(node_id) > 0).all())
        pos, missing = resolve_all(node_id, nodes_sorted, refs)
        assert missing.tolist() == [5, ids[-1] + 1]
        np.testing.assert_array_equal(ref_ids(node_id, pos, missing), refs)
        if nodes_sorted:  # as the reader resolves them: a block at a time
            first, lost = resolve(node_id, None, refs[:150], 0)
            second, more = resolve(node_id, None, refs[150:], lost.shape[0])
            np.testing.assert_array_equal(np.concatenate([first, second]), pos)
            np.testing.assert_array_equal(np.concatenate([lost, more]), missing)
        arrays = SimpleNamespace(node_id=node_id, node_x=x[order], node_y=y[order],
                                 way_ref_ptr=ref_ptr, way_ref_pos=pos)
        locate = _Locator(arrays)  # type: ignore[arg-type]
        for ways in (np.arange(3), np.asarray([2, 0])):
            pos = locate.positions(ways)
            want = np.concatenate([expected_ids[ref_ptr[w]:ref_ptr[w + 1]] for w in ways])
            got = np.where(pos >= 0, arrays.node_id[pos], -1)
            np.testing.assert_array_equal(got, want)
            lon, _ = locate.lon_lat(pos)
            np.testing.assert_array_equal(np.isnan(lon), pos < 0)
            np.testing.assert_array_equal(lon[pos >= 0], arrays.node_x[pos[pos >= 0]] / 1e7)


# ---------------------------------------------------------------------------------------------
# the scan's threads (relation areas, ring polygons): errors come out, no thread is left behind


def _slow(monkeypatch: pytest.MonkeyPatch, name: str, done: list[str]) -> None:
    """Make ``_pbf_scan.<name>`` take 0.3 s longer and note when it has returned."""
    import time

    from lifecircle.sources import _pbf_scan

    original = getattr(_pbf_scan, name)

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        try:
            return original(*args, **kwargs)
        finally:
            done.append(name)

    monkeypatch.setattr(_pbf_scan, name, slow)


def _fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, exc: Exception) -> Path:
    """The hand-built cases file, and ``read_osm`` on it checked to raise ``exc`` (from
    ``_pbf_scan.<name>``) with as many threads alive after as before."""
    import threading

    from lifecircle.sources import _pbf_scan

    path = tmp_path / "cases.osm.pbf"
    _write_cases(path)

    def broken(*args: Any) -> Any:
        raise exc

    monkeypatch.setattr(_pbf_scan, name, broken)
    before = threading.active_count()
    with pytest.raises(type(exc), match=str(exc)):
        read_osm(path)
    assert threading.active_count() == before
    return path


def test_scan_threads_are_joined_when_the_scan_fails(tmp_path, monkeypatch):
    done: list[str] = []
    _slow(monkeypatch, "_relation_areas", done)
    _slow(monkeypatch, "ring_polygons", done)
    _fails(tmp_path, monkeypatch, "_ring_tags", RuntimeError("ring tags failed"))
    # both threads had finished when the error reached the caller (each sleeps first)
    assert sorted(done) == ["_relation_areas", "ring_polygons"]


def test_relation_thread_error_reaches_the_caller(tmp_path, monkeypatch):
    path = _fails(tmp_path, monkeypatch, "_relation_areas", ValueError("osmium failed"))
    # and without the failure the same file reads (the relation is a building)
    monkeypatch.undo()
    buildings = read_osm(path).buildings
    assert ("relation", 70) in set(zip(buildings.osm_type, buildings.osm_id.tolist(),
                                       strict=True))


def test_ring_thread_is_joined_when_on_ways_fails(tmp_path, monkeypatch):
    import threading

    done: list[str] = []
    _slow(monkeypatch, "ring_polygons", done)
    path = tmp_path / "cases.osm.pbf"
    _write_cases(path)

    def on_ways(data: Any) -> Any:
        raise RuntimeError("network failed")

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="network failed"):
        read_osm(path, on_ways=on_ways)
    # the ring polygons' thread (sleeping first) had finished when the error came out
    assert threading.active_count() == before
    assert done == ["ring_polygons"]


def test_second_interrupt_stops_the_failed_scans_wait(tmp_path, monkeypatch):
    # the scan fails, and while it waits for its threads a Ctrl-C comes (here: out of the
    # ring polygons' wait): the interrupt, not the scan's error, reaches the caller
    from lifecircle.sources import _pbf_scan

    path = tmp_path / "cases.osm.pbf"
    _write_cases(path)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    def broken(*args: Any) -> Any:
        raise RuntimeError("ring tags failed")

    monkeypatch.setattr(_pbf_scan, "ring_polygons", interrupted)
    monkeypatch.setattr(_pbf_scan, "_ring_tags", broken)
    with pytest.raises(KeyboardInterrupt):
        read_osm(path)


def test_rings_laid_out_for_other_room_are_refused():
    from lifecircle.sources._pbf_scan import _made

    column = WkbColumn(b"", np.zeros(1, dtype=np.int64))
    rings = _made(lambda: (column, np.zeros(0, dtype=bool), 10))
    assert rings(10)[0] is column
    with pytest.raises(RuntimeError, match="10 spare bytes, not 11"):
        rings(11)


def test_flat_tags_keep_a_repeated_key_once_as_a_dict_does() -> None:
    # object 0 gives key "a" twice (the last value wins, at the first place, as in a dict);
    # objects 1 and 2 repeat nothing, though they share keys with each other
    from lifecircle.sources._pbf_scan import _flat, _Tags

    words = np.array(["a", "b", "1", "2", "3", ""], dtype=object)
    tags = _Tags(np.array([0, 3, 5, 6]), np.array([0, 1, 0, 0, 1, 1]),
                 np.array([2, 3, 4, 2, 3, 4]))
    assert _flat(tags, np.array([0, 1, 2]), words) == [
        ("a", "3", "b", "2"), ("a", "1", "b", "2"), ("b", "3")]
    assert _flat(tags, np.array([2, 0]), words) == [("b", "3"), ("a", "3", "b", "2")]
