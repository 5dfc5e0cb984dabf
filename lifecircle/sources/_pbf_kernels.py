"""Compiled halves of the OSM PBF decoder: one primitive block to arrays, and string interning.

:func:`decode_block` turns one decompressed ``PrimitiveBlock`` (osmformat.proto) into flat
arrays: nodes with fixed-point coordinates, tags as block-local string ids, way node lists,
relation members. :func:`intern_strings` then rewrites those block-local ids into ids of the
file's one vocabulary, hashing the bytes of the strings the block uses (and comparing bytes on
a hash hit, so collisions cannot merge two strings) and storing each distinct string once.

Why hand-written, not a protobuf library: the ``protobuf`` package builds one Python object per
OSM object (the cost this module exists to avoid) and pyosmium hands every object to Python;
numba over the raw bytes keeps the whole decode in compiled code with the GIL released, so two
blocks decode at once on two cores.

Robustness: numba does not check bounds. Every read here is checked against the end of its
message (varints, lengths, packed runs), every output write against its buffer's capacity, and
every string id against the block's string table; anything else raises :class:`CorruptBlock`.
Each loop consumes at least one byte per step, so no input can make it spin. A deleted object
(``visible = false``, only in history files) raises :class:`UnsupportedBlock`.

Like the other kernels (:mod:`lifecircle._kernels`), these are plain Python as written (usable
slowly, for debugging) and compiled on first use by :func:`kernels`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel, grown

__all__ = ["CorruptBlock", "UnsupportedBlock", "kernels"]

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
#: FNV-1a 64-bit offset basis and prime (the string hash)
_FNV_BASIS = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


class CorruptBlock(Exception):
    """The block's bytes do not form a valid PrimitiveBlock (message says what)."""


class UnsupportedBlock(Exception):
    """A valid block this decoder does not handle (deleted objects of a history file)."""


def _varint(b: np.ndarray, pos: int, end: int) -> tuple[Any, int]:
    """(value as int64, position after it) of the base-128 varint at ``pos``.

    Ten bytes at most; bits beyond 64 are dropped, as protobuf readers do.
    """
    if pos < end:
        c = np.int64(b[pos])
        if c < 128:
            return c, pos + 1
    result = np.int64(0)
    shift = 0
    while True:
        if pos >= end:
            raise CorruptBlock("a number runs past the end of its message")
        c = np.int64(b[pos])
        pos += 1
        if shift < 64:
            result |= (c & 0x7F) << shift
        if c < 128:
            return result, pos
        shift += 7
        if shift >= 70:
            raise CorruptBlock("a number is longer than 10 bytes")


def _zigzag(v: Any) -> Any:
    """The signed value of a zigzag-encoded (sint64) varint."""
    return ((v >> 1) & 0x7FFFFFFFFFFFFFFF) ^ -(v & 1)


def _length(b: np.ndarray, pos: int, end: int) -> tuple[Any, int]:
    """(length, position after it) of a length-delimited field, checked against ``end``."""
    n, pos = _varint(b, pos, end)
    if n < 0 or n > end - pos:
        raise CorruptBlock("a field is longer than the message holding it")
    return n, pos


def _skip(b: np.ndarray, pos: int, end: int, wire: int) -> int:
    """Position after the value of an unknown field of wire type ``wire``."""
    if wire == 0:
        _, pos = _varint(b, pos, end)
    elif wire == 1:
        pos += 8
    elif wire == 2:
        n, pos = _length(b, pos, end)
        pos += n
    elif wire == 5:
        pos += 4
    else:
        raise CorruptBlock("a field has an unknown wire type")
    if pos > end:
        raise CorruptBlock("a field runs past the end of its message")
    return pos


def _repeated(b: np.ndarray, pos: int, end: int, wire: int, out: np.ndarray, n: int,
              zigzag: bool, lo: int, hi: int) -> tuple[int, int]:
    """Append a repeated varint field (packed run or one unpacked value) to ``out[n:]``.

    Values outside ``[lo, hi]`` are corrupt. Returns (new ``n``, position after the field).
    """
    if wire == 2:
        length, pos = _length(b, pos, end)
        stop = pos + length
    elif wire == 0:
        stop = end
    else:
        raise CorruptBlock("a repeated number field has a wrong wire type")
    cap = out.shape[0]
    while pos < stop:
        v, pos = _varint(b, pos, stop)
        if zigzag:
            v = _zigzag(v)
        if v < lo or v > hi:
            raise CorruptBlock("a string id, member type or count is out of range")
        if n >= cap:
            raise CorruptBlock("more values than the block can hold")
        out[n] = v
        n += 1
        if wire == 0:
            break
    return n, pos


def _check_visible(b: np.ndarray, pos: int, end: int, field: int) -> None:
    """Refuse a deleted object: field ``field`` (Info.visible or DenseInfo.visible) false."""
    while pos < end:
        key, pos = _varint(b, pos, end)
        wire = key & 7
        if key >> 3 == field and wire == 0:
            v, pos = _varint(b, pos, end)
            if v == 0:
                raise UnsupportedBlock("deleted objects (a history file)")
        elif key >> 3 == field and wire == 2:
            n, pos = _length(b, pos, end)
            stop = pos + n
            while pos < stop:
                v, pos = _varint(b, pos, stop)
                if v == 0:
                    raise UnsupportedBlock("deleted objects (a history file)")
        else:
            pos = _skip(b, pos, end, wire)


def _fixed(raw: Any, granularity: Any, offset: Any) -> Any:
    """libosmium's fixed-point coordinate (1e-7 degrees) of a raw PBF coordinate:
    ``(offset + granularity * raw) / 100`` in 64-bit integers, truncated toward zero as C++
    integer division does (numba's ``//`` floors)."""
    a = raw * granularity + offset
    q = a // 100
    if a < 0 and q * 100 != a:
        q += 1
    return q


def _block_metadata(b: np.ndarray, groups: np.ndarray) -> tuple[int, int, int, int, int, int]:
    """First pass over a PrimitiveBlock: (string table start, end, granularity, lat offset,
    lon offset, number of groups); the groups' (start, end) go to ``groups``."""
    end = b.shape[0]
    st_start = -1
    st_end = -1
    granularity = 100
    lat_offset = 0
    lon_offset = 0
    n_groups = 0
    pos = 0
    while pos < end:
        key, pos = _varint(b, pos, end)
        field = key >> 3
        wire = key & 7
        if field == 1 and wire == 2:
            if st_start >= 0:
                raise CorruptBlock("a block has more than one string table")
            n, pos = _length(b, pos, end)
            st_start = pos
            st_end = pos + n
            pos += n
        elif field == 2 and wire == 2:
            n, pos = _length(b, pos, end)
            groups[n_groups, 0] = pos
            groups[n_groups, 1] = pos + n
            n_groups += 1
            pos += n
        elif field == 17 and wire == 0:
            granularity, pos = _varint(b, pos, end)
        elif field == 19 and wire == 0:
            lat_offset, pos = _varint(b, pos, end)
        elif field == 20 and wire == 0:
            lon_offset, pos = _varint(b, pos, end)
        else:
            pos = _skip(b, pos, end, wire)
    return st_start, st_end, granularity, lat_offset, lon_offset, n_groups


def _string_table(b: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, lengths) in ``b`` of the strings of the StringTable at ``[start, end)``."""
    cap = (end - start) // 2 + 1
    off = np.empty(cap, dtype=np.int64)
    length = np.empty(cap, dtype=np.int64)
    n = 0
    pos = start
    while pos < end:
        key, pos = _varint(b, pos, end)
        wire = key & 7
        if key >> 3 == 1 and wire == 2:
            ln, pos = _length(b, pos, end)
            off[n] = pos
            length[n] = ln
            n += 1
            pos += ln
        else:
            pos = _skip(b, pos, end, wire)
    return off[:n].copy(), length[:n].copy()


def _group_sizes(b: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[int, int, int]:
    """Bytes (with field headers) of node, way and relation messages in the groups: bounds
    for the output buffers, since every decoded value takes at least one byte."""
    nodes = 0
    ways = 0
    rels = 0
    for g in range(n_groups):
        pos = groups[g, 0]
        end = groups[g, 1]
        while pos < end:
            start = pos
            key, pos = _varint(b, pos, end)
            field = key >> 3
            pos = _skip(b, pos, end, key & 7)
            if field == 1 or field == 2:
                nodes += pos - start
            elif field == 3:
                ways += pos - start
            elif field == 4:
                rels += pos - start
    return nodes, ways, rels


def decode_block(b: np.ndarray) -> tuple[Any, ...]:
    """Decode one PrimitiveBlock into arrays, in file order.

    Returns
    -------
    tuple
        ``node_id`` (int64), ``node_x``, ``node_y`` (int32, 1e-7 degrees), ``tagged`` (int64
        block positions of tagged nodes), ``node_ntag`` (int32 tags per tagged node),
        ``way_id``, ``way_nref`` (int32), ``way_ntag`` (int32), ``way_refs`` (int64),
        ``rel_id``, ``rel_ntag``, ``rel_nmem`` (int32), ``mem_type`` (int8), ``mem_ref``
        (int64), ``sids`` (int32 block-local string ids: node keys, node values, way keys,
        way values, relation keys, relation values, member roles, one after the other),
        ``sid_sizes`` (int64, the seven section lengths), ``st_off``, ``st_len`` (the block's
        string table as offsets and lengths in ``b``).
    """
    end = b.shape[0]
    groups = np.empty((end // 2 + 1, 2), dtype=np.int64)
    st_start, st_end, gran, lat_off, lon_off, n_groups = _block_metadata(b, groups)
    if st_start >= 0:
        st_off, st_len = _string_table(b, st_start, st_end)
    else:
        st_off = np.empty(0, dtype=np.int64)
        st_len = np.empty(0, dtype=np.int64)
    smax = st_off.shape[0] - 1  # largest valid string id
    b_nodes, b_ways, b_rels = _group_sizes(b, groups, n_groups)

    node_id = np.empty(b_nodes, dtype=np.int64)
    node_x = np.empty(b_nodes, dtype=np.int32)
    node_y = np.empty(b_nodes, dtype=np.int32)
    tagged = np.empty(b_nodes, dtype=np.int64)
    node_ntag = np.empty(b_nodes, dtype=np.int32)
    ntk = np.empty(b_nodes, dtype=np.int32)
    ntv = np.empty(b_nodes, dtype=np.int32)
    lat_raw = np.empty(b_nodes, dtype=np.int64)
    lon_raw = np.empty(b_nodes, dtype=np.int64)
    kv = np.empty(b_nodes, dtype=np.int64)
    w_cap = b_ways // 2 + 1
    way_id = np.empty(w_cap, dtype=np.int64)
    way_nref = np.empty(w_cap, dtype=np.int32)
    way_ntag = np.empty(w_cap, dtype=np.int32)
    way_refs = np.empty(b_ways, dtype=np.int64)
    wtk = np.empty(b_ways, dtype=np.int32)
    wtv = np.empty(b_ways, dtype=np.int32)
    r_cap = b_rels // 2 + 1
    rel_id = np.empty(r_cap, dtype=np.int64)
    rel_ntag = np.empty(r_cap, dtype=np.int32)
    rel_nmem = np.empty(r_cap, dtype=np.int32)
    rtk = np.empty(b_rels, dtype=np.int32)
    rtv = np.empty(b_rels, dtype=np.int32)
    mem_role = np.empty(b_rels, dtype=np.int32)
    mem_type = np.empty(b_rels, dtype=np.int8)
    mem_ref = np.empty(b_rels, dtype=np.int64)

    nid: Any
    lat: Any
    lon: Any
    nn = 0  # nodes
    ntn = 0  # tagged nodes
    nk = 0  # node keys
    nv = 0  # node values
    nw = 0  # ways
    nr = 0  # way refs
    nwk = 0
    nwv = 0
    nrel = 0
    nrk = 0
    nrv = 0
    nmr = 0  # member roles
    nmi = 0  # member ids
    nmt = 0  # member types
    for g in range(n_groups):
        pos = groups[g, 0]
        gend = groups[g, 1]
        while pos < gend:
            key, pos = _varint(b, pos, gend)
            field = key >> 3
            wire = key & 7
            if wire != 2 or field < 1 or field > 4:
                pos = _skip(b, pos, gend, wire)
                continue
            length, pos = _length(b, pos, gend)
            s = pos
            e = pos + length
            pos = e
            if field == 2:  # DenseNodes
                i0 = nn
                ni = nn
                nla = 0
                nlo = 0
                nkv = 0
                p = s
                while p < e:
                    k2, p = _varint(b, p, e)
                    f2 = k2 >> 3
                    w2 = k2 & 7
                    if f2 == 1:
                        ni, p = _repeated(b, p, e, w2, node_id, ni, True, _I64_MIN, _I64_MAX)
                    elif f2 == 5 and w2 == 2:
                        n5, p = _length(b, p, e)
                        _check_visible(b, p, p + n5, 6)
                        p += n5
                    elif f2 == 8:
                        nla, p = _repeated(b, p, e, w2, lat_raw, nla, True, _I64_MIN, _I64_MAX)
                    elif f2 == 9:
                        nlo, p = _repeated(b, p, e, w2, lon_raw, nlo, True, _I64_MIN, _I64_MAX)
                    elif f2 == 10:
                        nkv, p = _repeated(b, p, e, w2, kv, nkv, False, 0, smax)
                    else:
                        p = _skip(b, p, e, w2)
                count = ni - i0
                if nla != count or nlo != count:
                    raise CorruptBlock("dense nodes have ids and coordinates of different counts")
                nid = np.int64(0)
                lat = np.int64(0)
                lon = np.int64(0)
                for j in range(count):
                    nid += node_id[i0 + j]
                    node_id[i0 + j] = nid
                    lat += lat_raw[j]
                    lon += lon_raw[j]
                    node_x[i0 + j] = _fixed(lon, gran, lon_off)
                    node_y[i0 + j] = _fixed(lat, gran, lat_off)
                idx = 0
                for j in range(count):
                    if idx >= nkv:
                        break
                    c = 0
                    while idx < nkv and kv[idx] != 0:
                        if idx + 1 >= nkv:
                            raise CorruptBlock("a dense node has a tag key without a value")
                        ntk[nk] = kv[idx]
                        ntv[nk] = kv[idx + 1]
                        nk += 1
                        c += 1
                        idx += 2
                    if idx < nkv:
                        idx += 1
                    if c > 0:
                        tagged[ntn] = i0 + j
                        node_ntag[ntn] = c
                        ntn += 1
                nv = nk
                nn = ni
            elif field == 1:  # Node
                k0 = nk
                nid = np.int64(0)
                lat = _I64_MAX
                lon = _I64_MAX
                p = s
                while p < e:
                    k2, p = _varint(b, p, e)
                    f2 = k2 >> 3
                    w2 = k2 & 7
                    if f2 == 1 and w2 == 0:
                        v, p = _varint(b, p, e)
                        nid = _zigzag(v)
                    elif f2 == 2:
                        nk, p = _repeated(b, p, e, w2, ntk, nk, False, 0, smax)
                    elif f2 == 3:
                        nv, p = _repeated(b, p, e, w2, ntv, nv, False, 0, smax)
                    elif f2 == 4 and w2 == 2:
                        n4, p = _length(b, p, e)
                        _check_visible(b, p, p + n4, 6)
                        p += n4
                    elif f2 == 8 and w2 == 0:
                        v, p = _varint(b, p, e)
                        lat = _zigzag(v)
                    elif f2 == 9 and w2 == 0:
                        v, p = _varint(b, p, e)
                        lon = _zigzag(v)
                    else:
                        p = _skip(b, p, e, w2)
                if nk != nv:
                    raise CorruptBlock("a node has different numbers of tag keys and values")
                if lat == _I64_MAX or lon == _I64_MAX:
                    raise CorruptBlock("a node has no coordinates")
                if nn >= node_id.shape[0]:
                    raise CorruptBlock("more nodes than the block can hold")
                node_id[nn] = nid
                node_x[nn] = _fixed(lon, gran, lon_off)
                node_y[nn] = _fixed(lat, gran, lat_off)
                if nk > k0:
                    tagged[ntn] = nn
                    node_ntag[ntn] = nk - k0
                    ntn += 1
                nn += 1
            elif field == 3:  # Way
                k0 = nwk
                r0 = nr
                wid = np.int64(0)
                p = s
                while p < e:
                    k2, p = _varint(b, p, e)
                    f2 = k2 >> 3
                    w2 = k2 & 7
                    if f2 == 1 and w2 == 0:
                        wid, p = _varint(b, p, e)
                    elif f2 == 2:
                        nwk, p = _repeated(b, p, e, w2, wtk, nwk, False, 0, smax)
                    elif f2 == 3:
                        nwv, p = _repeated(b, p, e, w2, wtv, nwv, False, 0, smax)
                    elif f2 == 4 and w2 == 2:
                        n4, p = _length(b, p, e)
                        _check_visible(b, p, p + n4, 6)
                        p += n4
                    elif f2 == 8:
                        nr, p = _repeated(b, p, e, w2, way_refs, nr, True, _I64_MIN, _I64_MAX)
                    else:
                        p = _skip(b, p, e, w2)
                if nwk != nwv:
                    raise CorruptBlock("a way has different numbers of tag keys and values")
                if nw >= w_cap:
                    raise CorruptBlock("more ways than the block can hold")
                ref = np.int64(0)
                for j in range(r0, nr):
                    ref += way_refs[j]
                    way_refs[j] = ref
                way_id[nw] = wid
                way_nref[nw] = nr - r0
                way_ntag[nw] = nwk - k0
                nw += 1
            else:  # Relation
                k0 = nrk
                m0 = nmi
                rid = np.int64(0)
                p = s
                while p < e:
                    k2, p = _varint(b, p, e)
                    f2 = k2 >> 3
                    w2 = k2 & 7
                    if f2 == 1 and w2 == 0:
                        rid, p = _varint(b, p, e)
                    elif f2 == 2:
                        nrk, p = _repeated(b, p, e, w2, rtk, nrk, False, 0, smax)
                    elif f2 == 3:
                        nrv, p = _repeated(b, p, e, w2, rtv, nrv, False, 0, smax)
                    elif f2 == 4 and w2 == 2:
                        n4, p = _length(b, p, e)
                        _check_visible(b, p, p + n4, 6)
                        p += n4
                    elif f2 == 8:
                        nmr, p = _repeated(b, p, e, w2, mem_role, nmr, False, 0, smax)
                    elif f2 == 9:
                        nmi, p = _repeated(b, p, e, w2, mem_ref, nmi, True, _I64_MIN, _I64_MAX)
                    elif f2 == 10:
                        nmt, p = _repeated(b, p, e, w2, mem_type, nmt, False, 0, 2)
                    else:
                        p = _skip(b, p, e, w2)
                if nrk != nrv:
                    raise CorruptBlock("a relation has different numbers of tag keys and values")
                if nmr != nmi or nmt != nmi:
                    raise CorruptBlock("a relation has member ids, types and roles of "
                                       "different counts")
                if nrel >= r_cap:
                    raise CorruptBlock("more relations than the block can hold")
                ref = np.int64(0)
                for j in range(m0, nmi):
                    ref += mem_ref[j]
                    mem_ref[j] = ref
                rel_id[nrel] = rid
                rel_ntag[nrel] = nrk - k0
                rel_nmem[nrel] = nmi - m0
                nrel += 1
    sid_sizes = np.array([nk, nk, nwk, nwk, nrk, nrk, nmi], dtype=np.int64)
    sids = np.empty(2 * nk + 2 * nwk + 2 * nrk + nmi, dtype=np.int32)
    at = 0
    sids[at:at + nk] = ntk[:nk]
    at += nk
    sids[at:at + nk] = ntv[:nk]
    at += nk
    sids[at:at + nwk] = wtk[:nwk]
    at += nwk
    sids[at:at + nwk] = wtv[:nwk]
    at += nwk
    sids[at:at + nrk] = rtk[:nrk]
    at += nrk
    sids[at:at + nrk] = rtv[:nrk]
    at += nrk
    sids[at:at + nmi] = mem_role[:nmi]
    return (node_id[:nn].copy(), node_x[:nn].copy(), node_y[:nn].copy(),
            tagged[:ntn].copy(), node_ntag[:ntn].copy(),
            way_id[:nw].copy(), way_nref[:nw].copy(), way_ntag[:nw].copy(),
            way_refs[:nr].copy(),
            rel_id[:nrel].copy(), rel_ntag[:nrel].copy(), rel_nmem[:nrel].copy(),
            mem_type[:nmi].copy(), mem_ref[:nmi].copy(),
            sids, sid_sizes, st_off, st_len)


def _fnv(b: np.ndarray, start: int, length: int) -> np.uint64:
    """FNV-1a 64-bit hash of ``b[start:start + length]``."""
    h = np.uint64(_FNV_BASIS)
    for i in range(start, start + length):
        h = (h ^ np.uint64(b[i])) * np.uint64(_FNV_PRIME)
    return h


def _same(b: np.ndarray, start: int, arena: np.ndarray, at: int, length: int) -> bool:
    """Whether ``b[start:start + length]`` equals ``arena[at:at + length]``."""
    for i in range(length):
        if b[start + i] != arena[at + i]:
            return False
    return True


def intern_strings(
    b: np.ndarray, st_off: np.ndarray, st_len: np.ndarray, sids: np.ndarray,
    table: np.ndarray, g_hash: np.ndarray, g_off: np.ndarray, g_len: np.ndarray,
    arena: np.ndarray, sizes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rewrite a block's local string ids ``sids`` (in place) into global ids.

    The vocabulary: string ``g`` is ``arena[g_off[g]:g_off[g] + g_len[g]]`` with hash
    ``g_hash[g]``; ``table`` is an open-addressing hash table of global ids (-1 empty, size a
    power of two, at most half full); ``sizes`` holds (number of strings, arena bytes used)
    and is updated. Only the strings the block uses are looked up, each once. Returns the
    (possibly grown) ``table, g_hash, g_off, g_len, arena``.
    """
    local = np.full(st_off.shape[0], -1, dtype=np.int32)
    n_g = sizes[0]
    used = sizes[1]
    mask = table.shape[0] - 1
    for i in range(sids.shape[0]):
        s = sids[i]
        g = local[s]
        if g < 0:
            start = st_off[s]
            length = st_len[s]
            h = _fnv(b, start, length)
            slot = np.int64(h & np.uint64(mask))
            while True:
                g = table[slot]
                if g < 0:
                    break
                if (g_hash[g] == h and g_len[g] == length
                        and _same(b, start, arena, g_off[g], length)):
                    break
                slot = (slot + 1) & mask
            if g < 0:  # a new string: store it
                g = n_g
                if n_g >= g_off.shape[0]:
                    cap = 2 * g_off.shape[0]
                    g_off = grown(g_off, n_g, cap)
                    g_len = grown(g_len, n_g, cap)
                    g_hash = grown(g_hash, n_g, cap)
                if used + length > arena.shape[0]:
                    arena = grown(arena, used, max(2 * arena.shape[0], used + length))
                arena[used:used + length] = b[start:start + length]
                g_off[g] = used
                g_len[g] = length
                g_hash[g] = h
                used += length
                table[slot] = g
                n_g += 1
                if 2 * n_g > table.shape[0]:
                    table = _rehash(g_hash, n_g, 2 * table.shape[0])
                    mask = table.shape[0] - 1
            local[s] = g
        sids[i] = g
    sizes[0] = n_g
    sizes[1] = used
    return table, g_hash, g_off, g_len, arena


def _rehash(g_hash: np.ndarray, n_g: int, capacity: int) -> np.ndarray:
    """A fresh hash table of ``capacity`` slots (a power of two) holding ids ``0 .. n_g-1``."""
    table = np.full(capacity, -1, dtype=np.int32)
    mask = capacity - 1
    for g in range(n_g):
        slot = np.int64(g_hash[g] & np.uint64(mask))
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = g
    return table


@cache
def kernels() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(decode_block, intern_strings) compiled by numba (nogil, cached on disk)."""
    helpers = (_varint, _zigzag, _length, _skip, _repeated, _check_visible, _fixed,
               _block_metadata, _string_table, _group_sizes)
    return (compile_kernel(decode_block, *helpers),
            compile_kernel(intern_strings, _fnv, _same, _rehash))
