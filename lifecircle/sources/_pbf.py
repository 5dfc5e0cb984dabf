"""Read an OSM PBF file straight into numpy arrays, with no Python object per OSM object.

The file is a sequence of blobs (fileformat.proto): a 4-byte big-endian length, a
``BlobHeader`` (type ``OSMHeader`` or ``OSMData``, data size), then a ``Blob`` holding the
block raw or zlib-compressed. The framing and the few small header messages are read here in
Python (a few thousand blobs at city scale); each data block is decompressed (``zlib``
releases the GIL) and decoded by the compiled kernels of :mod:`._pbf_kernels` (``nogil``) in a
pool of two threads, so both cores work, as libosmium does. Block results are gathered in file
order; the strings they use are interned into one vocabulary in the main thread.

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

from ._pbf_kernels import CorruptBlock, UnsupportedBlock, kernels

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
    way_refs: np.ndarray
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


def _decode(blob: bytes, offset: int) -> tuple[tuple[Any, ...], np.ndarray]:
    """Decompress and decode one OSMData blob (runs in a worker thread)."""
    block = np.frombuffer(_inflate(blob, offset), dtype=np.uint8)
    decode, _ = kernels()
    try:
        return decode(block), block
    except CorruptBlock as exc:
        raise ValueError(f"the block at byte {offset} is corrupt: {exc}") from None
    except UnsupportedBlock as exc:
        raise PbfUnsupported(str(exc)) from None


class _Gather:
    """Block results in file order, and the vocabulary their strings are interned into."""

    def __init__(self) -> None:
        self.parts: list[list[Any]] = []
        self.n_nodes = 0
        self.table = np.full(1 << 12, -1, dtype=np.int32)
        self.g_hash = np.empty(1 << 11, dtype=np.uint64)
        self.g_off = np.empty(1 << 11, dtype=np.int64)
        self.g_len = np.empty(1 << 11, dtype=np.int64)
        self.arena = np.empty(1 << 16, dtype=np.uint8)
        self.sizes = np.zeros(2, dtype=np.int64)

    def add(self, result: tuple[tuple[Any, ...], np.ndarray]) -> None:
        arrays, block = result
        (node_id, node_x, node_y, tagged, node_ntag, way_id, way_nref, way_ntag, way_refs,
         rel_id, rel_ntag, rel_nmem, mem_type, mem_ref, sids, sid_sizes, st_off,
         st_len) = arrays
        if sids.size:
            _, intern = kernels()
            (self.table, self.g_hash, self.g_off, self.g_len, self.arena) = intern(
                block, st_off, st_len, sids, self.table, self.g_hash, self.g_off,
                self.g_len, self.arena, self.sizes)
        cut = np.cumsum(sid_sizes)[:-1]
        self.parts.append([node_id, node_x, node_y, tagged + self.n_nodes, node_ntag,
                           way_id, way_nref, way_ntag, way_refs, rel_id, rel_ntag, rel_nmem,
                           mem_type, mem_ref, *np.split(sids, cut)])
        self.n_nodes += node_id.size

    def arrays(self) -> PbfArrays:
        n_strings, used = (int(v) for v in self.sizes)
        text = self.arena[:used].tobytes()
        strings = [text[o:o + n].decode("utf-8", "replace")
                   for o, n in zip(self.g_off[:n_strings].tolist(),
                                   self.g_len[:n_strings].tolist(), strict=True)]
        dtypes = (np.int64, np.int32, np.int32, np.int64, np.int32, np.int64, np.int32,
                  np.int32, np.int64, np.int64, np.int32, np.int32, np.int8, np.int64,
                  *[np.int32] * 7)
        cols: list[np.ndarray] = []
        for k, dtype in enumerate(dtypes):
            pieces = [part[k] for part in self.parts]
            cols.append(np.concatenate(pieces) if pieces else np.empty(0, dtype=dtype))
            for part in self.parts:  # free each block's piece as soon as it is copied
                part[k] = None
        self.parts.clear()
        (node_id, node_x, node_y, tagged, node_ntag, way_id, way_nref, way_ntag, way_refs,
         rel_id, rel_ntag, rel_nmem, mem_type, mem_ref, ntk, ntv, wtk, wtv, rtk, rtv,
         role) = cols
        return PbfArrays(
            strings=strings, node_id=node_id, node_x=node_x, node_y=node_y,
            tagged_node=tagged, node_tag_ptr=_ptr(node_ntag), node_tag_key=ntk,
            node_tag_val=ntv, way_id=way_id, way_ref_ptr=_ptr(way_nref), way_refs=way_refs,
            way_tag_ptr=_ptr(way_ntag), way_tag_key=wtk, way_tag_val=wtv, rel_id=rel_id,
            rel_tag_ptr=_ptr(rel_ntag), rel_tag_key=rtk, rel_tag_val=rtv,
            rel_member_ptr=_ptr(rel_nmem), rel_member_type=mem_type, rel_member_ref=mem_ref,
            rel_member_role=role,
            nodes_sorted=bool(np.all(node_id[1:] > node_id[:-1])))


def _ptr(counts: np.ndarray) -> np.ndarray:
    """int64 offsets (length ``len(counts) + 1``) from per-object counts."""
    ptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


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
    gather = _Gather()
    pending: deque[Future[tuple[tuple[Any, ...], np.ndarray]]] = deque()
    kernels()  # compile (or load from numba's cache) before the threads need it
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
                    pending.append(pool.submit(_decode, blob, offset))
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
