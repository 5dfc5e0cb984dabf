"""The compiled PBF decoder (lifecircle.sources._pbf) against pyosmium as the oracle.

Real extracts and small files written by pyosmium's SimpleWriter (dense and non-dense nodes,
compressed and raw blobs) must decode to exactly what pyosmium reads: ids, libosmium's
fixed-point coordinates, tags in order, way node lists, relation members. Hand-encoded files
cover what the writer never produces (a non-default granularity with offsets, unpacked
repeated fields, unknown fields, other compressions, history files). Corrupted and truncated
files must raise PbfError (or decode to consistent arrays), never crash or hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest

from lifecircle.sources._pbf import PbfArrays, PbfError, PbfUnsupported, read_pbf
from tests.conftest import shared_osm

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# the oracle: every object as pyosmium reads it, and ours in the same shape


def _oracle(path: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {k: [] for k in (
        "node_id", "node_x", "node_y", "node_tags", "way_id", "way_refs", "way_tags",
        "rel_id", "rel_tags", "rel_members")}
    for o in osmium.FileProcessor(str(path)):
        tags = [(t.k, t.v) for t in o.tags]
        if o.is_node():
            out["node_id"].append(o.id)
            out["node_x"].append(o.location.x)
            out["node_y"].append(o.location.y)
            out["node_tags"].append(tags)
        elif o.is_way():
            out["way_id"].append(o.id)
            out["way_refs"].append([n.ref for n in o.nodes])
            out["way_tags"].append(tags)
        elif o.is_relation():
            out["rel_id"].append(o.id)
            out["rel_tags"].append(tags)
            out["rel_members"].append([("nwr".index(m.type), m.ref, m.role) for m in o.members])
    return out


def _ours(a: PbfArrays) -> dict[str, list[Any]]:
    s = a.strings

    def tags(ptr: np.ndarray, key: np.ndarray, val: np.ndarray, i: int) -> list[Any]:
        return [(s[key[j]], s[val[j]]) for j in range(ptr[i], ptr[i + 1])]

    node_tags: list[list[Any]] = [[] for _ in range(a.node_id.size)]
    for i, p in enumerate(a.tagged_node.tolist()):
        node_tags[p] = tags(a.node_tag_ptr, a.node_tag_key, a.node_tag_val, i)
    refs = a.way_refs()
    return {
        "node_id": a.node_id.tolist(), "node_x": a.node_x.tolist(),
        "node_y": a.node_y.tolist(), "node_tags": node_tags,
        "way_id": a.way_id.tolist(),
        "way_refs": [refs[a.way_ref_ptr[i]:a.way_ref_ptr[i + 1]].tolist()
                     for i in range(a.way_id.size)],
        "way_tags": [tags(a.way_tag_ptr, a.way_tag_key, a.way_tag_val, i)
                     for i in range(a.way_id.size)],
        "rel_id": a.rel_id.tolist(),
        "rel_tags": [tags(a.rel_tag_ptr, a.rel_tag_key, a.rel_tag_val, i)
                     for i in range(a.rel_id.size)],
        "rel_members": [[(int(a.rel_member_type[j]), int(a.rel_member_ref[j]),
                          s[a.rel_member_role[j]])
                         for j in range(a.rel_member_ptr[i], a.rel_member_ptr[i + 1])]
                        for i in range(a.rel_id.size)],
    }


def _check_shape(a: PbfArrays) -> None:
    """The interface's types and invariants (what a consumer may rely on)."""
    dtypes = {"node_id": np.int64, "node_x": np.int32, "node_y": np.int32,
              "tagged_node": np.int64, "node_tag_ptr": np.int64, "node_tag_key": np.int32,
              "node_tag_val": np.int32, "way_id": np.int64, "way_ref_ptr": np.int64,
              "way_ref_pos": np.int32, "missing_refs": np.int64, "way_tag_ptr": np.int64,
              "way_tag_key": np.int32,
              "way_tag_val": np.int32, "rel_id": np.int64, "rel_tag_ptr": np.int64,
              "rel_tag_key": np.int32, "rel_tag_val": np.int32, "rel_member_ptr": np.int64,
              "rel_member_type": np.int8, "rel_member_ref": np.int64,
              "rel_member_role": np.int32}
    for name, dtype in dtypes.items():
        arr = getattr(a, name)
        assert arr.dtype == dtype and arr.ndim == 1, name
    assert a.node_x.size == a.node_y.size == a.node_id.size
    for ptr, n, values in ((a.node_tag_ptr, a.tagged_node.size, a.node_tag_key),
                           (a.way_ref_ptr, a.way_id.size, a.way_ref_pos),
                           (a.way_tag_ptr, a.way_id.size, a.way_tag_key),
                           (a.rel_tag_ptr, a.rel_id.size, a.rel_tag_key),
                           (a.rel_member_ptr, a.rel_id.size, a.rel_member_ref)):
        assert ptr.size == n + 1 and ptr[0] == 0 and ptr[-1] == values.size
        assert np.all(np.diff(ptr) >= 0)
    # references: node positions, or the missing ones -1, -2, ... in order
    pos = a.way_ref_pos
    assert pos.size == 0 or pos.max() < a.node_id.size
    assert (-pos[pos < 0] - 1).tolist() == list(range(a.missing_refs.size))
    assert not np.isin(a.missing_refs, a.node_id).any()
    assert np.all(np.diff(a.node_tag_ptr) > 0)  # tagged nodes have tags
    assert np.all(np.diff(a.tagged_node) > 0)
    assert a.tagged_node.size == 0 or 0 <= a.tagged_node[0] <= a.tagged_node[-1] < a.node_id.size
    for ids in (a.node_tag_key, a.node_tag_val, a.way_tag_key, a.way_tag_val, a.rel_tag_key,
                a.rel_tag_val, a.rel_member_role):
        assert ids.size == 0 or (ids.min() >= 0 and ids.max() < len(a.strings))
    assert len(set(a.strings)) == len(a.strings)  # each string once
    assert np.isin(a.rel_member_type, [0, 1, 2]).all()
    assert a.nodes_sorted == bool(np.all(np.diff(a.node_id) > 0))


def assert_same_as_pyosmium(path: Path) -> PbfArrays:
    arrays = read_pbf(path)
    _check_shape(arrays)
    ours, expected = _ours(arrays), _oracle(path)
    for key, values in expected.items():
        assert ours[key] == values, key
    return arrays


# ---------------------------------------------------------------------------------------------
# real extracts


@pytest.mark.parametrize("name", ["monaco.osm.pbf", "andorra.osm.pbf",
                                  "aguascalientes.osm.pbf"])
def test_shared_extracts_decode_as_pyosmium_reads_them(name: str) -> None:
    arrays = assert_same_as_pyosmium(shared_osm(name))
    assert arrays.node_id.size > 1000 and arrays.way_id.size > 100 and arrays.rel_id.size > 0
    assert arrays.nodes_sorted


def test_first_capacities_guessed_from_the_file_size_change_no_array(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Monaco read with its columns sized from the file (no doubling) and from the smallest
    buffer (many doublings: 0.1 nodes per byte of 1.7 MB is past 65,536): the same arrays."""
    from lifecircle.sources import _pbf

    path = shared_osm("monaco.osm.pbf")
    guessed = read_pbf(path)
    monkeypatch.setattr(_pbf, "_PER_BYTE", dict.fromkeys(_pbf._PER_BYTE, 0.0))
    monkeypatch.setattr(_pbf, "_OTHER_PER_BYTE", 0.0)
    grown = read_pbf(path)
    assert guessed.node_id.size > 1 << 17  # (past two doublings of the smallest buffer)
    for name, value in vars(guessed).items():
        if isinstance(value, np.ndarray):
            other = getattr(grown, name)
            assert value.dtype == other.dtype and np.array_equal(value, other), name
    assert guessed.strings == grown.strings


def test_column_grows_past_its_first_capacity() -> None:
    from lifecircle.sources._pbf import _Column

    column = _Column(np.int64, capacity=0)
    assert column.buf.size == 1 << 16
    chunks = [np.arange(k, k + 30_000) for k in range(0, 150_000, 30_000)]
    for chunk in chunks:
        column.extend(chunk)
    assert column.buf.size == 1 << 18 and np.array_equal(column.array(), np.arange(150_000))
    ptr = _Column(np.int64, ptr=True, capacity=1 << 20)
    assert ptr.buf.size == 1 << 20
    ptr.extend_counts(np.array([2, 0, 3]))
    ptr.extend_counts(np.array([1]))
    assert ptr.array().tolist() == [0, 2, 2, 5, 6]


# ---------------------------------------------------------------------------------------------
# small files written by pyosmium


def _write_small(path: Path, options: str) -> None:
    """Nodes (negative, extreme and ordinary coordinates, tags in a deliberate order, Chinese
    values), ways (one referencing a node the file lacks) and relations with node, way and
    relation members and roles."""
    from osmium.osm.mutable import Node, Relation, Way

    nodes = [
        Node(id=1, location=(116.3912345, 39.9065432), tags={"name": "天安门", "amenity": "x"}),
        Node(id=2, location=(-122.2712345, 37.8044444)),
        Node(id=3, location=(-0.0000001, -0.0000049)),
        Node(id=7, location=(179.9999999, -89.9999999), tags={"zh": "南京市鼓楼区", "a": ""}),
        Node(id=8, location=(-180.0, 90.0)),
        Node(id=10, location=(-58.3815591, -34.6036844), tags={"shop": "bakery"}),
    ]
    ways = [
        Way(id=20, nodes=[1, 2, 3, 1], tags={"highway": "footway", "名称": "小路"}),
        Way(id=21, nodes=[7, 999, 8], tags={"highway": "residential"}),  # 999 is missing
        Way(id=22, nodes=[10]),
    ]
    rels = [
        Relation(id=30, members=[("n", 1, "entrance"), ("w", 20, "outer"), ("w", 21, ""),
                                 ("r", 31, "子区域")], tags={"type": "multipolygon"}),
        Relation(id=31, members=[("r", 99, "missing"), ("n", 10, "")]),
        Relation(id=32, members=[], tags={"type": "site", "name": "空"}),
    ]
    writer = osmium.SimpleWriter(osmium.io.File(str(path), options))
    try:
        for node in nodes:
            writer.add_node(node)
        for way in ways:
            writer.add_way(way)
        for rel in rels:
            writer.add_relation(rel)
    finally:
        writer.close()


@pytest.mark.parametrize("options", [
    "pbf", "pbf,pbf_dense_nodes=false", "pbf,pbf_compression=none",
    "pbf,pbf_dense_nodes=false,pbf_compression=none", "pbf,add_metadata=false",
])
def test_small_written_files_decode_as_pyosmium_reads_them(tmp_path: Path,
                                                           options: str) -> None:
    path = tmp_path / "small.osm.pbf"
    _write_small(path, options)
    arrays = assert_same_as_pyosmium(path)
    s = arrays.strings
    # hand-checkable values, beside the oracle
    assert arrays.node_id.tolist() == [1, 2, 3, 7, 8, 10]
    assert arrays.node_x.tolist() == [1163912345, -1222712345, -1, 1799999999, -1800000000,
                                      -583815591]
    assert arrays.node_y.tolist() == [399065432, 378044444, -49, -899999999, 900000000,
                                      -346036844]
    assert arrays.tagged_node.tolist() == [0, 3, 5]
    assert [s[k] for k in arrays.node_tag_key] == ["name", "amenity", "zh", "a", "shop"]
    assert [s[v] for v in arrays.node_tag_val] == ["天安门", "x", "南京市鼓楼区", "", "bakery"]
    assert arrays.way_refs().tolist() == [1, 2, 3, 1, 7, 999, 8, 10]
    assert arrays.way_ref_pos.tolist() == [0, 1, 2, 0, 3, -1, 4, 5]
    assert arrays.way_ref_ptr.tolist() == [0, 4, 7, 8]
    assert arrays.rel_member_ptr.tolist() == [0, 4, 6, 6]
    assert arrays.rel_member_type.tolist() == [0, 1, 1, 2, 2, 0]
    assert [s[r] for r in arrays.rel_member_role] == ["entrance", "outer", "", "子区域",
                                                      "missing", ""]


def test_empty_file_with_header_only(tmp_path: Path) -> None:
    path = tmp_path / "empty.osm.pbf"
    osmium.SimpleWriter(str(path)).close()
    arrays = read_pbf(path)
    _check_shape(arrays)
    assert arrays.node_id.size == arrays.way_id.size == arrays.rel_id.size == 0
    assert arrays.way_ref_ptr.tolist() == [0] and arrays.strings == []


# ---------------------------------------------------------------------------------------------
# hand-encoded files (fileformat.proto / osmformat.proto field numbers)


def _uvarint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zz(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def _num(field: int, v: int) -> bytes:
    return _uvarint(field << 3) + _uvarint(v)


def _msg(field: int, payload: bytes) -> bytes:
    return _uvarint(field << 3 | 2) + _uvarint(len(payload)) + payload


def _packed(field: int, values: list[int], zigzag: bool = False) -> bytes:
    return _msg(field, b"".join(_uvarint(_zz(v) if zigzag else v) for v in values))


def _deltas(values: list[int]) -> list[int]:
    return [v - p for v, p in zip(values, [0, *values[:-1]], strict=True)]


def _blob(kind: str, block: bytes, *, compression: str = "zlib") -> bytes:
    if compression == "zlib":
        blob = _num(2, len(block)) + _msg(3, zlib.compress(block))
    elif compression == "raw":
        blob = _msg(1, block)
    else:  # another compression's field number, with any bytes in it
        blob = _num(2, len(block)) + _msg({"lzma": 4, "lz4": 6, "zstd": 7}[compression],
                                          b"\x00" * 8)
    return _frame(kind, blob)


def _frame(kind: str, blob: bytes) -> bytes:
    header = _msg(1, kind.encode()) + _num(3, len(blob))
    return len(header).to_bytes(4, "big") + header + blob


def _header(*features: str) -> bytes:
    return _blob("OSMHeader", b"".join(_msg(4, f.encode()) for f in features)
                 + _msg(16, b"hand"))


def _file(path: Path, *blocks: bytes, features: tuple[str, ...] = ("OsmSchema-V0.6",
                                                                    "DenseNodes"),
          compression: str = "zlib") -> Path:
    path.write_bytes(_header(*features) + b"".join(
        _blob("OSMData", b, compression=compression) for b in blocks))
    return path


def _strings(*strings: str) -> bytes:
    return _msg(1, b"".join(_msg(1, s.encode()) for s in ("", *strings)))


def _dense(ids: list[int], lats: list[int], lons: list[int], kv: list[int],
           info: bytes = b"") -> bytes:
    body = (_packed(1, _deltas(ids), True) + info + _packed(8, _deltas(lats), True)
            + _packed(9, _deltas(lons), True) + (_packed(10, kv) if kv else b""))
    return _msg(2, _msg(2, body))


def test_granularity_and_offsets_convert_as_libosmium(tmp_path: Path) -> None:
    """Non-default granularity with lat/lon offsets, negative values that do not divide
    evenly: libosmium computes (offset + granularity * raw) / 100, truncated toward zero."""
    lats = [-123457, 5, -1, 0, 89999999]
    lons = [-7, 33333, -99999999, 1, -5]
    block = (_strings("k", "v") + _dense([5, 6, 9, 12, 40], lats, lons, [1, 2, 0, 0, 0, 1, 2])
             + _num(17, 1000) + _num(19, -4321) + _num(20, 77))
    path = _file(tmp_path / "gran.osm.pbf", block)
    arrays = assert_same_as_pyosmium(path)

    def trunc(a: int) -> int:
        return -(-a // 100) if a < 0 else a // 100

    assert arrays.node_y.tolist() == [trunc(-4321 + 1000 * v) for v in lats]
    assert arrays.node_x.tolist() == [trunc(77 + 1000 * v) for v in lons]
    assert arrays.tagged_node.tolist() == [0, 3]


def test_unpacked_repeated_and_unknown_fields_are_read(tmp_path: Path) -> None:
    """Repeated numbers one per field instead of packed, split packed runs, unknown fields of
    every wire type in every message: decoded as protobuf says, skipped where unknown."""
    unknown = _num(99, 5) + _msg(98, b"xyz") + _uvarint(97 << 3 | 1) + b"\x00" * 8 + \
        _uvarint(96 << 3 | 5) + b"\x00" * 4
    node = _msg(1, _num(1, _zz(-3)) + _num(2, 1) + _num(3, 2) + unknown + _num(8, _zz(-250))
                + _num(9, _zz(1000)))
    way = _msg(3, _num(1, 40) + _packed(2, [1]) + unknown + _packed(3, [3])
               + _packed(8, [5, 2], True) + _num(8, _zz(-4)) + _packed(2, [3])
               + _num(3, 1))
    rel = _msg(4, _num(1, 50) + _num(8, 3) + _num(9, _zz(40)) + _num(10, 1) + unknown
               + _packed(8, [0]) + _packed(9, [-37], True) + _packed(10, [0]))
    block = (_strings("k", "v", "role") + unknown + _msg(2, node + unknown) + _msg(2, way)
             + _msg(2, rel) + _msg(2, _msg(5, b"\x08\x01")))  # a changeset group: skipped
    arrays = read_pbf(_file(tmp_path / "loose.osm.pbf", block))
    _check_shape(arrays)
    s = arrays.strings
    assert arrays.node_id.tolist() == [-3]
    assert (arrays.node_x.tolist(), arrays.node_y.tolist()) == ([1000], [-250])
    assert [(s[k], s[v]) for k, v in zip(arrays.node_tag_key, arrays.node_tag_val,
                                         strict=True)] == [("k", "v")]
    assert arrays.way_refs().tolist() == [5, 7, 3]
    assert [(s[k], s[v]) for k, v in zip(arrays.way_tag_key, arrays.way_tag_val,
                                         strict=True)] == [("k", "role"), ("role", "k")]
    assert arrays.rel_member_ref.tolist() == [40, 3]
    assert arrays.rel_member_type.tolist() == [1, 0]
    assert [s[r] for r in arrays.rel_member_role] == ["role", ""]


def test_vocabulary_is_global_across_blocks(tmp_path: Path) -> None:
    """Two blocks with differently ordered string tables: one id per distinct string."""
    first = _strings("highway", "footway") + _dense([1, 2], [0, 0], [0, 0], [1, 2, 0, 0])
    second = _strings("footway", "name", "highway") + _dense([3], [0], [0], [3, 1, 2, 1, 0])
    arrays = read_pbf(_file(tmp_path / "two.osm.pbf", first, second))
    s = arrays.strings
    assert sorted(s) == ["footway", "highway", "name"]
    assert [(s[k], s[v]) for k, v in zip(arrays.node_tag_key, arrays.node_tag_val,
                                         strict=True)] == [
        ("highway", "footway"), ("highway", "footway"), ("name", "footway")]
    assert arrays.tagged_node.tolist() == [0, 2]
    assert arrays.node_tag_ptr.tolist() == [0, 1, 3]
    assert arrays.nodes_sorted


def test_unsorted_and_repeated_node_ids_are_reported(tmp_path: Path) -> None:
    for ids in ([5, 3, 9], [1, 2, 2]):
        block = _strings() + _dense(ids, [0] * 3, [0] * 3, [])
        arrays = read_pbf(_file(tmp_path / "unsorted.osm.pbf", block))
        assert arrays.node_id.tolist() == ids and not arrays.nodes_sorted


@pytest.mark.parametrize(("what", "kwargs", "blocks"), [
    ("lz4", {"compression": "lz4"}, [_strings()]),
    ("zstd", {"compression": "zstd"}, [_strings()]),
    ("lzma", {"compression": "lzma"}, [_strings()]),
    ("history", {"features": ("OsmSchema-V0.6", "HistoricalInformation")}, [_strings()]),
    ("unknown feature", {"features": ("OsmSchema-V0.6", "Teleportation")}, [_strings()]),
    ("deleted node", {}, [_strings() + _dense([1], [0], [0], [], info=_msg(
        5, _packed(1, [1]) + _packed(2, [0]) + _packed(3, [0]) + _packed(4, [0])
        + _packed(5, [0]) + _packed(6, [0])))]),
    ("deleted way", {}, [_strings() + _msg(2, _msg(3, _num(1, 5) + _msg(4, _num(6, 0))))]),
])
def test_valid_files_this_reader_refuses(tmp_path: Path, what: str, kwargs: dict[str, Any],
                                         blocks: list[bytes]) -> None:
    with pytest.raises(PbfUnsupported):
        read_pbf(_file(tmp_path / "x.osm.pbf", *blocks, **kwargs))


@pytest.mark.parametrize(("what", "data"), [
    ("empty", b""),
    ("no header blob", _blob("OSMData", _strings())),
    ("cut in the length", _header("DenseNodes")[:2]),
    ("huge header length", b"\x7f\xff\xff\xff" + b"\x00" * 64),
    ("cut blob", _header("DenseNodes") + _blob("OSMData", _strings())[:-3]),
    ("zlib without size", _header() + _frame("OSMData", _msg(3, zlib.compress(_strings())))),
    ("string id out of range", _header() + _blob("OSMData", _strings("k")
                                                 + _dense([1], [0], [0], [1, 7, 0]))),
    ("key without value", _header() + _blob("OSMData", _strings("k")
                                            + _dense([1], [0], [0], [1]))),
    ("ids and lats differ", _header() + _blob("OSMData", _strings()
                                              + _dense([1, 2], [0], [0, 0], []))),
    ("node without coordinates", _header() + _blob("OSMData", _strings()
                                                   + _msg(2, _msg(1, _num(1, 2))))),
    ("member type 3", _header() + _blob("OSMData", _strings() + _msg(2, _msg(4, _num(1, 1)
                                        + _packed(8, [0]) + _packed(9, [1]) + _packed(10, [3]))))),
    ("way keys without values", _header() + _blob("OSMData", _strings("k") + _msg(2, _msg(
        3, _num(1, 1) + _packed(2, [1]))))),
    ("group wire type", _header() + _blob("OSMData", _strings() + _msg(2, b"\x13"))),
    ("eleven-byte varint", _header() + _blob("OSMData", b"\x08" + b"\xff" * 10 + b"\x01")),
    ("bad zlib", _header() + _blob("OSMData", _strings())[:-6] + b"\x00" * 6),
])
def test_corrupt_files_raise_pbf_error(tmp_path: Path, what: str, data: bytes) -> None:
    path = tmp_path / "bad.osm.pbf"
    path.write_bytes(data)
    with pytest.raises(PbfError, match=r"bad\.osm\.pbf"):
        read_pbf(path)


def test_bundled_and_fuzz_corpus_extracts_decode_as_pyosmium_reads_them() -> None:
    from lifecircle.config import default_osm

    assert_same_as_pyosmium(default_osm())
    assert_same_as_pyosmium(ROOT / "tests" / "fuzz_corpus" / "osm" / "grid.osm.pbf")


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flipped(data: bytes) -> bytes:
    out = bytearray(data)
    for k in range(64):  # as tests/bad_inputs.toml "osm: bit-flipped PBF" builds it
        out[len(out) // 2 + 997 * k] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize(("what", "make"), [
    ("truncated PBF", _cut),
    ("bit-flipped PBF", _flipped),
    ("random bytes", lambda _: np.random.default_rng(1).integers(0, 256, 5000,
                                                                 dtype=np.uint8).tobytes()),
    ("HTML page", lambda _: b"<html><body><h1>504 Gateway Timeout</h1></body></html>"),
    ("vector tile", lambda _: bytes.fromhex("1a1c0a057761746572120f08011202000018032205090000")),
])
def test_bad_inputs_cases_raise_pbf_error(tmp_path: Path, what: str, make: Any) -> None:
    """The PBF cases of tests/bad_inputs.toml (which the pyosmium path survives) raise
    PbfError here too, so the caller can report them the same way."""
    from lifecircle.config import default_osm

    path = tmp_path / "bad.osm.pbf"
    path.write_bytes(make(default_osm().read_bytes()))
    with pytest.raises(PbfError, match="truncated or corrupt"):
        read_pbf(path)


# ---------------------------------------------------------------------------------------------
# mutation: flipped bytes and cuts anywhere never crash, hang or return inconsistent arrays

_MUTATE = textwrap.dedent("""
    import json, sys, numpy as np
    sys.path.insert(0, sys.argv[3])
    from lifecircle.sources._pbf import PbfError, PbfUnsupported, read_pbf
    from tests.test_pbf import _check_shape
    data = open(sys.argv[1], "rb").read()
    rng = np.random.default_rng(int(sys.argv[2]))
    out = sys.argv[1] + ".mut.osm.pbf"
    counts = {"ok": 0, "PbfError": 0, "PbfUnsupported": 0}
    for case in range(int(sys.argv[4])):
        buf = bytearray(data)
        if case % 4 == 0:  # a cut
            buf = buf[: int(rng.integers(0, len(buf)))]
        else:  # 1 to 8 flipped or overwritten bytes
            for _ in range(int(rng.integers(1, 9))):
                at = int(rng.integers(0, len(buf)))
                buf[at] = int(rng.integers(0, 256)) if case % 2 else buf[at] ^ 0xFF
        open(out, "wb").write(bytes(buf))
        print(case, flush=True)  # the last case printed is the one that crashed, if any
        try:
            _check_shape(read_pbf(out))
            counts["ok"] += 1
        except PbfError:
            counts["PbfError"] += 1
        except PbfUnsupported:
            counts["PbfUnsupported"] += 1
    print(json.dumps(counts))
""")


def _mutate(path: Path, seed: int, cases: int) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", _MUTATE, str(path), str(seed), str(ROOT),
                           str(cases)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"seed {seed}: crashed (code {done.returncode}) after case "
        f"{done.stdout.split()[-1:]}: {done.stderr[-2000:]}")
    counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    assert sum(counts.values()) == cases
    return counts


def test_mutated_compressed_extract_never_crashes(tmp_path: Path) -> None:
    """Flips in zlib data mostly fail its checksum; cuts and flips in the framing too."""
    path = tmp_path / "monaco.osm.pbf"
    path.write_bytes(shared_osm("monaco.osm.pbf").read_bytes())
    counts = _mutate(path, seed=15, cases=80)
    assert counts["PbfError"] >= 60


def test_mutated_raw_extract_never_crashes(tmp_path: Path) -> None:
    """Uncompressed blocks put the flips straight into the protobuf the kernels parse."""
    path = tmp_path / "raw.osm.pbf"
    writer = osmium.SimpleWriter(osmium.io.File(str(path), "pbf,pbf_compression=none"))
    try:
        for obj in osmium.FileProcessor(str(shared_osm("aguascalientes.osm.pbf"))):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
            elif obj.is_relation():
                writer.add_relation(obj)
    finally:
        writer.close()
    assert_same_as_pyosmium(path)
    for seed in (1, 2, 3):
        counts = _mutate(path, seed=seed, cases=150)
        assert counts["PbfError"] > 0 and counts["ok"] > 0


def _ways(*ways: tuple[int, list[int]]) -> bytes:
    """A primitive group of ways (id, node references), untagged."""
    return _msg(2, b"".join(_msg(3, _num(1, wid) + _packed(8, _deltas(refs), True))
                            for wid, refs in ways))


@pytest.mark.parametrize("blocks", [
    # sorted: nodes first, references resolved a block at a time (one missing, -1)
    [_dense([1, 2], [0, 0], [0, 0], []), _dense([4, 9], [1, 1], [1, 1], []),
     _ways((10, [9, 1, 3, 2]), (11, [4])), _ways((12, [3, 9]))],
    # sorted, ten blocks of ways: from the sixth on (decoded once the first is gathered)
    # resolved by the worker threads, their missing references numbered on from the
    # gather's count
    [_dense([1, 2, 4], [0, 0, 0], [0, 0, 0], []),
     *[_ways((10 + k, [1, 100 + k, 4, 200 + k][: 2 + k % 3])) for k in range(10)]],
    # nodes after ways: the references kept as ids and resolved at the end
    [_dense([1, 2], [0, 0], [0, 0], []), _ways((10, [9, 1, 3, 2])),
     _dense([9, 12], [1, 1], [1, 1], []), _ways((11, [12, 3]))],
    # unsorted node ids, and nodes and ways in one block
    [_dense([5, 3], [0, 0], [0, 0], []) + _ways((10, [3, 5, 4]))],
    [_dense([3, 5], [0, 0], [0, 0], []) + _ways((10, [3, 5, 4])), _ways((11, [5, 7]))],
])
def test_references_resolve_in_any_block_order(tmp_path: Path, blocks: list[bytes]) -> None:
    """Ways' references as node positions, whatever the order of node and way blocks: the
    ids they give back are pyosmium's, each position holds that id, missing ones count
    -1, -2, ... in order."""
    path = _file(tmp_path / "order.osm.pbf", *(_strings() + b for b in blocks))
    arrays = assert_same_as_pyosmium(path)
    refs = arrays.way_refs()
    pos = arrays.way_ref_pos
    np.testing.assert_array_equal(arrays.node_id[pos[pos >= 0]], refs[pos >= 0])
    assert arrays.missing_refs.tolist() == [r for r in refs.tolist()
                                            if r not in arrays.node_id.tolist()]


def test_later_ways_blocks_of_a_sorted_file_are_resolved_by_the_decoders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the first ways are gathered, the decoding threads resolve each later block's
    references themselves and the gather keeps them (none resolved again by the gather)."""
    from lifecircle.sources import _pbf

    kept: list[bool] = []
    add, resolve = _pbf._Gather.add, _pbf.resolve
    again = {"n": 0}

    def spy_add(self: Any, result: Any) -> None:
        early = result[2]
        kept.append(early is not None and early[2] == self.columns["node_id"].n)
        add(self, result)

    def spy_resolve(*args: Any) -> Any:
        again["n"] += 1
        return resolve(*args)

    monkeypatch.setattr(_pbf._Gather, "add", spy_add)
    monkeypatch.setattr(_pbf, "resolve", spy_resolve)
    blocks = [_dense([1, 2, 4], [0, 0, 0], [0, 0, 0], []),
              *[_ways((10 + k, [1, 100 + k, 4, 200 + k][: 2 + k % 3])) for k in range(10)]]
    path = _file(tmp_path / "later.osm.pbf", *(_strings() + b for b in blocks))
    arrays = _pbf.read_pbf(path)
    assert any(kept)  # some blocks' references came resolved from the decoders
    # and each of the ten ways blocks was resolved once: by a decoder or by the gather
    assert again["n"] == 10
    assert arrays.missing_refs.size > 0
