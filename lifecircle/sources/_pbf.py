"""Read an OSM PBF file straight into numpy arrays, with no Python object per OSM object.

The file is a sequence of blobs (fileformat.proto): a 4-byte big-endian length, a
``BlobHeader`` (type ``OSMHeader`` or ``OSMData``, data size), then a ``Blob`` holding the
block raw or zlib-compressed. The framing and the few small header messages are read here in
Python (a few thousand blobs at city scale); each data block is decompressed (``zlib``
releases the GIL) and decoded by the compiled kernel of :mod:`._pbf_kernels` (``nogil``) in a
pool of two threads, so both cores work, as libosmium does. Block results are gathered in file
order; the strings they use are interned into one vocabulary (:mod:`._pbf_vocab`) in the main
thread.

Why hand-written, not pyosmium here: pyosmium hands every node, way and relation to Python as
an object, about a million of them on a city; this reader's cost stays near the cost of
decompressing and scanning the bytes. pyosmium stays the reader for XML files, for the blob
compressions this reader refuses (:class:`PbfUnsupported`) and as the oracle of the tests.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._kernels import grown
from ._pbf_kernels import DELETED, PROBLEMS, decoder
from ._pbf_refs import MAX_NODES, ref_ids, resolve, resolve_all
from ._pbf_vocab import Vocabulary

__all__ = ["PbfArrays", "PbfError", "PbfUnsupported", "read_pbf"]

#: libosmium's limits: a BlobHeader of at most 64 KiB, a blob of at most 32 MiB either way
_MAX_HEADER = 64 * 1024
_MAX_BLOB = 32 * 1024 * 1024
#: required features of the OSMHeader this reader handles (LocationsOnWays: the extra
#: coordinates on ways are skipped; Sort.Type_then_ID: an ordering promise, nothing to decode)
_FEATURES = frozenset({"OsmSchema-V0.6", "DenseNodes", "LocationsOnWays", "Sort.Type_then_ID"})
#: Blob fields holding compressions other than zlib (lzma, bzip2, lz4, zstd)
_OTHER_COMPRESSION = {4: "lzma", 5: "bzip2", 6: "lz4", 7: "zstd"}
#: blocks decoded ahead of the one being gathered (bounds the memory of in-flight blocks)
_AHEAD = 4
_THREADS = 2


class PbfError(Exception):
    """The file is corrupt or truncated (the message names the file, blob and problem)."""


class PbfUnsupported(Exception):
    """A valid PBF this reader does not decode (other compressions, history files, unknown
    required features): the caller falls back to pyosmium."""


@dataclass
class PbfArrays:
    """A PBF file's objects as flat arrays, in file order.

    Every ``*_key``, ``*_val`` and ``*_role`` id indexes :attr:`strings`. Tags keep each
    object's file order. ``*_ptr`` arrays have one more entry than their objects: the tags of
    way ``i`` are ``way_tag_key[way_tag_ptr[i]:way_tag_ptr[i + 1]]``, and so on.

    Ways' references are the positions (int32) of their nodes in the node arrays
    (``way_ref_pos``); a reference to a node the file does not hold is ``-(k + 1)``, its id
    ``missing_refs[k]`` (see :mod:`._pbf_refs`; :meth:`way_refs` gives the ids).
    """

    strings: list[str]
    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    tagged_node: np.ndarray
    node_tag_ptr: np.ndarray
    node_tag_key: np.ndarray
    node_tag_val: np.ndarray
    way_id: np.ndarray
    way_ref_ptr: np.ndarray
    way_ref_pos: np.ndarray
    missing_refs: np.ndarray
    way_tag_ptr: np.ndarray
    way_tag_key: np.ndarray
    way_tag_val: np.ndarray
    rel_id: np.ndarray
    rel_tag_ptr: np.ndarray
    rel_tag_key: np.ndarray
    rel_tag_val: np.ndarray
    rel_member_ptr: np.ndarray
    rel_member_type: np.ndarray
    rel_member_ref: np.ndarray
    rel_member_role: np.ndarray
    nodes_sorted: bool


    def way_refs(self, at: np.ndarray | slice | None = None) -> np.ndarray:
        """The node ids of the references ``at`` (all by default), in order."""
        return self.ids_of(self.way_ref_pos if at is None else self.way_ref_pos[at])

    def ids_of(self, pos: np.ndarray) -> np.ndarray:
        """The node ids of reference positions ``pos`` (gathered from :attr:`way_ref_pos`)."""
        return ref_ids(self.node_id, pos, self.missing_refs)


def _fields(data: memoryview | bytes, what: str) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of a small protobuf message; the value
    of a length-delimited field is a memoryview of its bytes. Raises ValueError."""
    view = memoryview(data)
    end = len(view)
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise ValueError(f"{what} has a broken number")
            c = view[pos]
            pos += 1
            value |= (c & 0x7F) << shift
            if c < 0x80:
                return value
            shift += 7

    while pos < end:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 2:
            n = varint()
            if n > end - pos:
                raise ValueError(f"{what} has a field longer than itself")
            yield field, wire, view[pos:pos + n]
            pos += n
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > end:
                raise ValueError(f"{what} ends inside a field")
        else:
            raise ValueError(f"{what} has a field of unknown wire type {wire}")


def _blobs(f: BinaryIO) -> Iterator[tuple[int, str, bytes]]:
    """(file offset, type, Blob bytes) of each blob in the file. Raises ValueError."""
    while True:
        offset = f.tell()
        head = f.read(4)
        if not head:
            return
        if len(head) < 4:
            raise ValueError(f"the file ends inside the blob at byte {offset}")
        size = int.from_bytes(head, "big")
        if size > _MAX_HEADER:
            raise ValueError(f"the blob header at byte {offset} claims {size} bytes")
        header = f.read(size)
        if len(header) < size:
            raise ValueError(f"the file ends inside the blob header at byte {offset}")
        kind, datasize = "", -1
        for field, wire, value in _fields(header, f"the blob header at byte {offset}"):
            if field == 1 and wire == 2:
                kind = bytes(value).decode("utf-8", "replace")
            elif field == 3 and wire == 0:
                datasize = value
        if not 0 <= datasize <= _MAX_BLOB:
            raise ValueError(f"the blob header at byte {offset} has no valid data size")
        blob = f.read(datasize)
        if len(blob) < datasize:
            raise ValueError(f"the file ends inside the blob at byte {offset}")
        yield offset, kind, blob


def _inflate(blob: bytes, offset: int) -> memoryview | bytes:
    """The block a Blob holds (raw or zlib). Raises ValueError or PbfUnsupported."""
    raw: memoryview | None = None
    packed: memoryview | None = None
    raw_size = -1
    for field, wire, value in _fields(blob, f"the blob at byte {offset}"):
        if field == 1 and wire == 2:
            raw = value
        elif field == 2 and wire == 0:
            raw_size = value
        elif field == 3 and wire == 2:
            packed = value
        elif field in _OTHER_COMPRESSION:
            raise PbfUnsupported(f"{_OTHER_COMPRESSION[field]}-compressed blocks")
    if raw is not None:
        return raw
    if packed is None:
        raise ValueError(f"the blob at byte {offset} holds no data")
    if not 0 < raw_size <= _MAX_BLOB:
        raise ValueError(f"the blob at byte {offset} has no valid uncompressed size")
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, raw_size)
    except zlib.error as exc:
        raise ValueError(f"the blob at byte {offset} does not decompress ({exc})") from None
    if len(data) != raw_size or not inflater.eof or inflater.unconsumed_tail:
        raise ValueError(f"the blob at byte {offset} does not decompress to its stated size")
    return data


def _check_header(blob: bytes, offset: int) -> None:
    """Refuse history files and required features this reader does not know."""
    block = _inflate(blob, offset)
    for field, wire, value in _fields(block, f"the OSMHeader block at byte {offset}"):
        if field == 4 and wire == 2:
            feature = bytes(value).decode("utf-8", "replace")
            if feature == "HistoricalInformation":
                raise PbfUnsupported("a history file (HistoricalInformation)")
            if feature not in _FEATURES:
                raise PbfUnsupported(f"the required feature {feature!r}")


#: a decoded block: the kernel's arrays, the block's bytes, and its ways' references resolved
#: among the nodes the gather had then (positions, missing ids, how many nodes), or None
_Decoded = tuple[tuple[Any, ...], np.ndarray, tuple[np.ndarray, np.ndarray, int] | None]


def _decode(blob: bytes, offset: int, gather: _Gather) -> _Decoded:
    """Decompress and decode one OSMData blob (runs in a worker thread); once the gather has
    every node of a sorted file (:attr:`_Gather.nodes`), the block's references are resolved
    here too, beside the gather (which keeps them if no node came since)."""
    block = np.frombuffer(_inflate(blob, offset), dtype=np.uint8)
    decode = decoder()
    *arrays, status = decode(block)
    if status == DELETED:
        raise PbfUnsupported(PROBLEMS[status])
    if status:
        raise ValueError(f"the block at byte {offset} is corrupt: {PROBLEMS[status]}")
    nodes, refs = gather.nodes, arrays[8]
    early = (*resolve(nodes, None, refs, 0), nodes.shape[0]) \
        if nodes is not None and refs.size else None
    return tuple(arrays), block, early


class _Column:
    """An array filled block by block. Its buffer doubles when full; a large numpy buffer is
    mapped lazily, so only the filled part is ever resident, and the old buffer is unmapped
    at once. Gathering this way, instead of keeping every block's pieces and concatenating
    them at the end, keeps the peak near the size of the result (measured at 268k nodes:
    the pieces' small allocations stayed in malloc's free lists after the concatenation).
    ``capacity``, the buffer's first size, is a guess from the file's size: untouched slots
    cost no memory, and each doubling avoided is a copy of the column (and the page faults of
    the new buffer) saved."""

    def __init__(self, dtype: Any, *, ptr: bool = False, capacity: int = 1 << 16) -> None:
        self.buf = np.empty(max(capacity, 1 << 16), dtype=dtype)
        self.n = 0
        if ptr:  # offsets: a leading 0, then each object's end
            self.buf[0] = 0
            self.n = 1

    def extend(self, values: np.ndarray) -> None:
        """Append ``values``."""
        n = self.n + values.size
        if n > self.buf.size:
            self.buf = grown(self.buf, self.n, max(2 * self.buf.size, n))
        self.buf[self.n:n] = values
        self.n = n

    def extend_counts(self, counts: np.ndarray) -> None:
        """Append offsets from per-object counts (a ``ptr`` column)."""
        self.extend(np.cumsum(counts, dtype=np.int64) + self.buf[self.n - 1])

    def array(self) -> np.ndarray:
        """The filled part (a view of the buffer)."""
        return self.buf[:self.n]


#: the columns of PbfArrays gathered block by block, with their dtypes (a ptr column holds
#: offsets made from per-object counts)
_COLUMNS = {
    "node_id": np.int64, "node_x": np.int32, "node_y": np.int32, "tagged_node": np.int64,
    "node_tag_ptr": "ptr", "way_id": np.int64, "way_ref_ptr": "ptr", "way_tag_ptr": "ptr",
    "way_refs": np.int64, "rel_id": np.int64, "rel_tag_ptr": "ptr", "rel_member_ptr": "ptr",
    "rel_member_type": np.int8, "rel_member_ref": np.int64, "node_tag_key": np.int32,
    "node_tag_val": np.int32, "way_tag_key": np.int32, "way_tag_val": np.int32,
    "rel_tag_key": np.int32, "rel_tag_val": np.int32, "rel_member_role": np.int32,
}
#: a column's first capacity per byte of the file: nodes and ways' references 0.2 (seen in
#: Monaco, Andorra and the 268k Nanjing mosaic: 0.10-0.13 nodes, 0.13-0.16 references per
#: byte), other columns 0.05 (seen: 0.001-0.046); a column past its guess doubles as before
_PER_BYTE = {"node_id": 0.2, "node_x": 0.2, "node_y": 0.2, "pos": 0.2}
_OTHER_PER_BYTE = 0.05


class _Gather:
    """Block results in file order, and the vocabulary their strings are interned into.

    Ways' references are resolved to node positions block by block (:mod:`._pbf_refs`) while
    the nodes seen so far are all of the file's in increasing id order, as in a sorted file
    (every node before the ways). Otherwise (a node block after ways, unsorted ids) they are
    kept as ids from then on and resolved once at the end. ``size``: the file's bytes, the
    columns' first capacities are guessed from it (see ``_PER_BYTE``).
    """

    def __init__(self, size: int = 0) -> None:
        self.columns = {name: _Column(np.int64 if kind == "ptr" else kind, ptr=kind == "ptr",
                                      capacity=int(size * _PER_BYTE.get(name, _OTHER_PER_BYTE)))
                        for name, kind in _COLUMNS.items()}
        self.pos = _Column(np.int32, capacity=int(size * _PER_BYTE["pos"]))
        self.missing = _Column(np.int64)
        self.as_ids = False  # references kept as ids (in the "way_refs" column)
        self.ways_seen = False
        self.last_node: int | None = None
        self.n_nodes = 0
        self.vocabulary = Vocabulary()
        #: the node ids gathered, once the first ways come in a sorted file (read by the
        #: worker threads, :func:`_decode`: the main thread's share of the read is its longest
        #: chain, and the references' look-up was most of it in the ways' blocks)
        self.nodes: np.ndarray | None = None

    def add(self, result: _Decoded) -> None:
        """Append one block's decoded arrays (the next block in file order)."""
        arrays, block, early = result
        sids, sid_sizes, st_off, st_len = arrays[14:]
        self.vocabulary.intern(block, st_off, st_len, sids)
        # the kernel's outputs, in _COLUMNS order: 14 arrays, then the 7 string id sections
        pieces = [*arrays[:14], *np.split(sids, np.cumsum(sid_sizes)[:-1])]
        pieces[3] = pieces[3] + self.n_nodes  # tagged nodes: block positions -> file's
        node_ids, refs = pieces[0], pieces[8]
        if node_ids.size and not self.as_ids and (
                self.ways_seen or pieces[5].size or self.n_nodes + node_ids.size > MAX_NODES
                or (self.last_node is not None and node_ids[0] <= self.last_node)
                or not bool(np.all(node_ids[1:] > node_ids[:-1]))):
            self._keep_ids()
        for (name, kind), piece in zip(_COLUMNS.items(), pieces, strict=True):
            column = self.columns[name]
            if kind == "ptr":
                column.extend_counts(piece)
            elif name != "way_refs" or self.as_ids:
                column.extend(piece)
        if node_ids.size:
            self.last_node = int(node_ids[-1])
        self.ways_seen |= bool(pieces[5].size)
        if refs.size and not self.as_ids:
            if early is not None and early[2] == self.columns["node_id"].n:
                # (resolved among the same nodes: the missing ones numbered on from here)
                pos, missing, _ = early
                if missing.size and self.missing.n:
                    pos[pos < 0] -= self.missing.n
            else:
                pos, missing = resolve(self.columns["node_id"].array(), None, refs,
                                       self.missing.n)
            self.pos.extend(pos)
            self.missing.extend(missing)
            if self.nodes is None:  # the nodes are all in: the workers resolve from now on
                self.nodes = self.columns["node_id"].array()
        self.n_nodes += node_ids.size

    def _keep_ids(self) -> None:
        """From now on keep references as ids (those resolved so far turned back)."""
        self.as_ids = True
        self.nodes = None
        self.columns["way_refs"].extend(ref_ids(self.columns["node_id"].array(),
                                                self.pos.array(), self.missing.array()))
        self.pos = _Column(np.int32)
        self.missing = _Column(np.int64)

    def arrays(self) -> PbfArrays:
        """Everything gathered, as the reader's result."""
        cols = {name: column.array() for name, column in self.columns.items()}
        node_id = cols["node_id"]
        nodes_sorted = bool(np.all(node_id[1:] > node_id[:-1]))
        refs = cols.pop("way_refs")
        if self.as_ids:
            if node_id.shape[0] > MAX_NODES:
                raise PbfUnsupported(f"more than {MAX_NODES} nodes")
            pos, missing = resolve_all(node_id, nodes_sorted, refs)
        else:
            pos, missing = self.pos.array(), self.missing.array()
        return PbfArrays(strings=self.vocabulary.strings(), **cols, way_ref_pos=pos,
                         missing_refs=missing, nodes_sorted=nodes_sorted)


def read_pbf(path: str | os.PathLike[str]) -> PbfArrays:
    """Decode an OSM PBF file into :class:`PbfArrays`.

    Parameters
    ----------
    path
        An ``.osm.pbf`` file (not a history file).

    Returns
    -------
    PbfArrays
        Every node, way and relation of the file, in file order.

    Raises
    ------
    PbfError
        The file is truncated or corrupt (never partial data).
    PbfUnsupported
        A valid file this reader does not decode: lzma, bzip2, lz4 or zstd blocks, history
        files (deleted objects), unknown required features. pyosmium may read it.
    OSError
        The file cannot be read.
    """
    path = Path(path)
    gather = _Gather(path.stat().st_size)
    pending: deque[Future[_Decoded]] = deque()
    # compile the kernel (or load it from numba's cache) here, not in both threads at once
    decoder()(np.frombuffer(b"", dtype=np.uint8))
    with open(path, "rb") as f, ThreadPoolExecutor(_THREADS) as pool:
        try:
            seen_header = False
            for offset, kind, blob in _blobs(f):
                if not seen_header:
                    if kind != "OSMHeader":
                        raise ValueError("the file does not start with an OSMHeader blob")
                    _check_header(blob, offset)
                    seen_header = True
                elif kind == "OSMData":
                    pending.append(pool.submit(_decode, blob, offset, gather))
                    if len(pending) > _AHEAD:
                        gather.add(pending.popleft().result())
                # other blob types are skipped, as the format allows
            if not seen_header:
                raise ValueError("the file holds no OSMHeader blob")
            while pending:
                gather.add(pending.popleft().result())
        except ValueError as exc:
            for fut in pending:
                fut.cancel()
            raise PbfError(f"{path}: truncated or corrupt OSM PBF: {exc}") from None
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return gather.arrays()
