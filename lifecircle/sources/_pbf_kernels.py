"""The compiled core of the OSM PBF decoder: one primitive block to arrays.

:func:`decode_block` turns one decompressed ``PrimitiveBlock`` (osmformat.proto) into flat
arrays: nodes with fixed-point coordinates, tags as block-local string ids, way node lists,
relation members. :mod:`._pbf_vocab` then maps the block-local string ids onto the file's one
vocabulary.

Why hand-written, not a protobuf library: the ``protobuf`` package builds one Python object per
OSM object (the cost this module exists to avoid) and pyosmium hands every object to Python;
numba over the raw bytes keeps the whole decode in compiled code with the GIL released, so two
blocks decode at once on two cores.

Robustness: numba does not check bounds. Every read here is checked against the end of its
message (varints, lengths, packed runs), every output write against its buffer's capacity, and
every string id against the block's string table; anything else ends the decode with an error
status (:data:`PROBLEMS`) the caller turns into an exception. Each loop consumes at least one
byte per step, so no input can make it spin. A deleted object (``visible = false``, only in
history files) has its own status, :data:`DELETED`.

Like the other kernels (:mod:`lifecircle._kernels`), these are plain Python as written (usable
slowly, for debugging) and compiled on first use by :func:`decoder`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["DELETED", "PROBLEMS", "decode_block", "decoder"]

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


#: what each negative status of the kernels means (a position below 0 carries one of these)
PROBLEMS = {
    -1: "a number runs past the end of its message",
    -2: "a number is longer than 10 bytes",
    -3: "a field is longer than the message holding it",
    -4: "a field has an unknown wire type",
    -5: "a repeated number field has a wrong wire type",
    -6: "a string id, member type or count is out of range",
    -7: "more values than the block can hold",
    -8: "deleted objects (a history file)",
    -9: "a block has more than one string table",
    -10: "dense nodes have ids and coordinates of different counts",
    -11: "a dense node has a tag key without a value",
    -12: "an object has different numbers of tag keys and values",
    -13: "a node has no coordinates",
    -14: "a relation has member ids, types and roles of different counts",
}
#: the status meaning a valid block this reader does not decode
DELETED = -8

# The helpers below never raise: numba does not inline a function that may raise, and the
# varint reader is called tens of millions of times (measured: 8 ns/byte raising, 2 without).
# A negative position is an error status from PROBLEMS, passed up to the caller.


def _varint(b: np.ndarray, pos: int, end: int) -> tuple[Any, int]:
    """(value as int64, position after it) of the base-128 varint at ``pos``.

    Ten bytes at most; bits beyond 64 are dropped, as protobuf readers do.
    """
    result = np.int64(0)
    shift = 0
    while True:
        if pos >= end:
            return result, -1
        c = np.int64(b[pos])
        pos += 1
        if shift < 64:
            result |= (c & 0x7F) << shift
        if c < 128:
            return result, pos
        shift += 7
        if shift >= 70:
            return result, -2


def _zigzag(v: Any) -> Any:
    """The signed value of a zigzag-encoded (sint64) varint."""
    return ((v >> 1) & 0x7FFFFFFFFFFFFFFF) ^ -(v & 1)


def _key(b: np.ndarray, pos: int, end: int) -> tuple[Any, Any, int]:
    """(field number, wire type, position after) of the field key at ``pos``."""
    key, pos = _varint(b, pos, end)
    return key >> 3, key & 7, pos


def _length(b: np.ndarray, pos: int, end: int) -> tuple[Any, int]:
    """(length, position after it) of a length-delimited field, checked against ``end``."""
    n, pos = _varint(b, pos, end)
    if pos >= 0 and (n < 0 or n > end - pos):
        return n, -3
    return n, pos


def _skip(b: np.ndarray, pos: int, end: int, wire: int) -> int:
    """Position after the value of a field of wire type ``wire`` that is not decoded."""
    if wire == 0:
        _, pos = _varint(b, pos, end)
        return pos
    if wire == 2:
        n, pos = _length(b, pos, end)
        return pos + n if pos >= 0 else pos
    if wire == 1 or wire == 5:
        pos += 8 if wire == 1 else 4
        return pos if pos <= end else -3
    return -4


def _repeated(b: np.ndarray, pos: int, end: int, wire: int, out: np.ndarray, n: int,
              zigzag: bool, lo: int, hi: int) -> tuple[int, int]:
    """Append a repeated varint field (packed run or one unpacked value) to ``out[n:]``.

    Values outside ``[lo, hi]`` are an error. Returns (new ``n``, position after the field).
    """
    if wire == 2:
        length, pos = _length(b, pos, end)
        if pos < 0:
            return n, pos
        stop = pos + length
    elif wire == 0:
        stop = end
    else:
        return n, -5
    cap = out.shape[0]
    while pos < stop:
        c = np.int64(b[pos])
        if c < 128:  # the common one-byte case, inline
            v = c
            pos += 1
        else:
            v, pos = _varint(b, pos, stop)
            if pos < 0:
                return n, pos
        if zigzag:
            v = _zigzag(v)
        if v < lo or v > hi:
            return n, -6
        if n >= cap:
            return n, -7
        out[n] = v
        n += 1
        if wire == 0:
            break
    return n, pos


def _check_visible(b: np.ndarray, pos: int, end: int) -> int:
    """``end``, or an error status: DELETED when the Info or DenseInfo message at
    ``[pos, end)`` marks an object deleted (field 6, visible, false)."""
    while pos < end:
        key, pos = _varint(b, pos, end)
        if pos < 0:
            return pos
        field = key >> 3
        wire = key & 7
        if field == 6 and (wire == 0 or wire == 2):
            stop = end
            if wire == 2:
                n, pos = _length(b, pos, end)
                if pos < 0:
                    return pos
                stop = pos + n
            while pos < stop:
                v, pos = _varint(b, pos, stop)
                if pos < 0:
                    return pos
                if v == 0:
                    return DELETED
                if wire == 0:
                    break
        else:
            pos = _skip(b, pos, end, wire)
            if pos < 0:
                return pos
    return end


def _fixed(raw: Any, granularity: Any, offset: Any) -> Any:
    """libosmium's fixed-point coordinate (1e-7 degrees) of a raw PBF coordinate:
    ``(offset + granularity * raw) / 100`` in 64-bit integers, truncated toward zero as C++
    integer division does (numba's ``//`` floors)."""
    a = raw * granularity + offset
    q = a // 100
    if a < 0 and q * 100 != a:
        q += 1
    return q


def _block_metadata(b: np.ndarray, groups: np.ndarray, meta: np.ndarray) -> int:
    """First pass over a PrimitiveBlock. Fills ``meta`` with (string table start, end,
    granularity, lat offset, lon offset) and ``groups`` with the groups' (start, end);
    returns the number of groups or an error status."""
    end = b.shape[0]
    meta[0] = -1
    meta[1] = -1
    meta[2] = 100
    meta[3] = 0
    meta[4] = 0
    n_groups = 0
    pos = 0
    while pos < end:
        field, wire, pos = _key(b, pos, end)
        if pos < 0:
            return pos
        if (field == 1 or field == 2) and wire == 2:
            n, pos = _length(b, pos, end)
            if pos < 0:
                return pos
            if field == 1:
                if meta[0] >= 0:
                    return -9
                meta[0] = pos
                meta[1] = pos + n
            else:
                groups[n_groups, 0] = pos
                groups[n_groups, 1] = pos + n
                n_groups += 1
            pos += n
        elif wire == 0 and (field == 17 or field == 19 or field == 20):
            v, pos = _varint(b, pos, end)
            meta[2 if field == 17 else 3 if field == 19 else 4] = v
        else:
            pos = _skip(b, pos, end, wire)
        if pos < 0:
            return pos
    return n_groups


def _string_table(b: np.ndarray, start: int, end: int, off: np.ndarray,
                  length: np.ndarray) -> int:
    """Offsets and lengths in ``b`` of the StringTable's strings; their number or an error."""
    n = 0
    pos = start
    while pos < end:
        field, wire, pos = _key(b, pos, end)
        if pos < 0:
            return pos
        if field == 1 and wire == 2:
            ln, pos = _length(b, pos, end)
            if pos < 0:
                return pos
            off[n] = pos
            length[n] = ln
            n += 1
            pos += ln
        else:
            pos = _skip(b, pos, end, wire)
            if pos < 0:
                return pos
    return n


def _group_sizes(b: np.ndarray, groups: np.ndarray, n_groups: int,
                 sizes: np.ndarray) -> int:
    """Bytes (with field headers) of node, way and relation messages in the groups, into
    ``sizes``: bounds for the output buffers, since every decoded value takes at least one
    byte. Returns 0 or an error status."""
    sizes[:] = 0
    for g in range(n_groups):
        pos = groups[g, 0]
        end = groups[g, 1]
        while pos < end:
            start = pos
            field, wire, pos = _key(b, pos, end)
            if pos < 0:
                return pos
            pos = _skip(b, pos, end, wire)
            if pos < 0:
                return pos
            if 1 <= field <= 4:
                sizes[max(field - 2, 0)] += pos - start
    return 0


def _undelta(values: np.ndarray, start: int, stop: int) -> None:
    """Delta-decode ``values[start:stop]`` in place (way node refs, relation member ids)."""
    total = 0
    for j in range(start, stop):
        total += values[j]
        values[j] = total


def _object(
    b: np.ndarray, p: int, e: int, smax: int, keys: np.ndarray, nk: int, vals: np.ndarray,
    nv: int, a8: np.ndarray, n8: int, a9: np.ndarray, n9: int, a10: np.ndarray, n10: int,
    kind: int,
) -> tuple[Any, int, int, int, int, int, int]:
    """Read a Node (``kind`` 0), Way (1) or Relation (2) message at ``[p, e)``.

    Keys and values are appended to ``keys``/``vals``; fields 8, 9 and 10 go to ``a8``,
    ``a9``, ``a10``: a node's latitude and longitude (one value each, in slot 0), a way's node
    ref deltas (its LocationsOnWays coordinates in 9 and 10 are skipped), a relation's member
    roles, member id deltas and member types. Returns (id, nk, nv, n8, n9, n10, position or
    error status).
    """
    oid = 0
    while p < e:
        key = int(b[p])
        if key < 128:  # the common one-byte key, inline: this loop runs per field
            p += 1
        else:
            key, p = _varint(b, p, e)
            if p < 0:
                break
        field = key >> 3
        wire = key & 7
        if field == 1 and wire == 0:
            oid, p = _varint(b, p, e)
            if kind == 0:  # a node id is a sint64, way and relation ids int64
                oid = _zigzag(oid)
        elif field == 2:
            nk, p = _repeated(b, p, e, wire, keys, nk, False, 0, smax)
        elif field == 3:
            nv, p = _repeated(b, p, e, wire, vals, nv, False, 0, smax)
        elif field == 4 and wire == 2:
            n, p = _length(b, p, e)
            if p >= 0:
                p = _check_visible(b, p, p + n)
        elif kind == 0 and (field == 8 or field == 9) and wire == 0:
            v, p = _varint(b, p, e)
            if field == 8:
                a8[0] = _zigzag(v)
                n8 = 1
            else:
                a9[0] = _zigzag(v)
                n9 = 1
        elif kind != 0 and field == 8:
            n8, p = _repeated(b, p, e, wire, a8, n8, kind == 1,
                              _I64_MIN if kind == 1 else 0, _I64_MAX if kind == 1 else smax)
        elif kind == 2 and field == 9:
            n9, p = _repeated(b, p, e, wire, a9, n9, True, _I64_MIN, _I64_MAX)
        elif kind == 2 and field == 10:
            n10, p = _repeated(b, p, e, wire, a10, n10, False, 0, 2)
        else:
            p = _skip(b, p, e, wire)
        if p < 0:
            break
    if p >= 0 and nk != nv:
        p = -12
    return oid, nk, nv, n8, n9, n10, p


def _decode_groups(
    b: np.ndarray, groups: np.ndarray, n_groups: int, meta: np.ndarray, smax: int,
    node_id: np.ndarray, node_x: np.ndarray, node_y: np.ndarray, tagged: np.ndarray,
    node_ntag: np.ndarray, ntk: np.ndarray, ntv: np.ndarray, lat_raw: np.ndarray,
    lon_raw: np.ndarray, kv: np.ndarray, way_id: np.ndarray, way_nref: np.ndarray,
    way_ntag: np.ndarray, way_refs: np.ndarray, wtk: np.ndarray, wtv: np.ndarray,
    rel_id: np.ndarray, rel_ntag: np.ndarray, rel_nmem: np.ndarray, rtk: np.ndarray,
    rtv: np.ndarray, mem_role: np.ndarray, mem_type: np.ndarray, mem_ref: np.ndarray,
    counts: np.ndarray,
) -> int:
    """Decode the groups' nodes, ways and relations into the buffers (file order); the
    numbers written go to ``counts``. Returns 0 or an error status."""
    gran = meta[2]
    lat_off = meta[3]
    lon_off = meta[4]
    lat: Any
    lon: Any
    nn = ntn = nk = nv = nw = nr = nwk = nwv = nrel = nrk = nrv = nmr = nmi = nmt = 0
    for g in range(n_groups):
        pos = groups[g, 0]
        gend = groups[g, 1]
        while pos < gend:  # one step per node, way or relation message: keys inline
            key = int(b[pos])
            if key < 128:
                pos += 1
            else:
                key, pos = _varint(b, pos, gend)
                if pos < 0:
                    return pos
            field = key >> 3
            wire = key & 7
            if wire != 2 or field < 1 or field > 4:
                pos = _skip(b, pos, gend, wire)
                if pos < 0:
                    return pos
                continue
            length, pos = _length(b, pos, gend)
            if pos < 0:
                return pos
            p = pos
            e = pos + length
            pos = e
            if field == 2:  # DenseNodes
                i0 = ni = nn
                nla = nlo = nkv = 0
                while p < e:
                    k2, p = _varint(b, p, e)
                    if p < 0:
                        return p
                    f2 = k2 >> 3
                    w2 = k2 & 7
                    if f2 == 1:
                        ni, p = _repeated(b, p, e, w2, node_id, ni, True, _I64_MIN, _I64_MAX)
                    elif f2 == 5 and w2 == 2:
                        n5, p = _length(b, p, e)
                        if p >= 0:
                            p = _check_visible(b, p, p + n5)
                    elif f2 == 8:
                        nla, p = _repeated(b, p, e, w2, lat_raw, nla, True, _I64_MIN, _I64_MAX)
                    elif f2 == 9:
                        nlo, p = _repeated(b, p, e, w2, lon_raw, nlo, True, _I64_MIN, _I64_MAX)
                    elif f2 == 10:
                        nkv, p = _repeated(b, p, e, w2, kv, nkv, False, 0, smax)
                    else:
                        p = _skip(b, p, e, w2)
                    if p < 0:
                        return p
                count = ni - i0
                if nla != count or nlo != count:
                    return -10
                _undelta(node_id, i0, ni)
                lat = 0
                lon = 0
                for j in range(count):
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
                            return -11
                        if nk >= ntk.shape[0]:
                            return -7
                        ntk[nk] = kv[idx]
                        ntv[nk] = kv[idx + 1]
                        nk += 1
                        c += 1
                        idx += 2
                    idx += 1
                    if c > 0:
                        tagged[ntn] = i0 + j
                        node_ntag[ntn] = c
                        ntn += 1
                nv = nk
                nn = ni
            elif field == 1:  # Node
                k0 = nk
                nid, nk, nv, nla, nlo, _, p = _object(
                    b, p, e, smax, ntk, nk, ntv, nv, lat_raw, 0, lon_raw, 0, mem_type, 0, 0)
                if p < 0:
                    return p
                if nla == 0 or nlo == 0:
                    return -13
                if nn >= node_id.shape[0]:
                    return -7
                node_id[nn] = nid
                node_x[nn] = _fixed(lon_raw[0], gran, lon_off)
                node_y[nn] = _fixed(lat_raw[0], gran, lat_off)
                if nk > k0:
                    tagged[ntn] = nn
                    node_ntag[ntn] = nk - k0
                    ntn += 1
                nn += 1
            elif field == 3:  # Way
                k0 = nwk
                r0 = nr
                wid, nwk, nwv, nr, _, _, p = _object(
                    b, p, e, smax, wtk, nwk, wtv, nwv, way_refs, nr, way_refs, 0, mem_type, 0, 1)
                if p < 0:
                    return p
                if nw >= way_id.shape[0]:
                    return -7
                _undelta(way_refs, r0, nr)
                way_id[nw] = wid
                way_nref[nw] = nr - r0
                way_ntag[nw] = nwk - k0
                nw += 1
            else:  # Relation
                k0 = nrk
                m0 = nmi
                rid, nrk, nrv, nmr, nmi, nmt, p = _object(
                    b, p, e, smax, rtk, nrk, rtv, nrv, mem_role, nmr, mem_ref, nmi, mem_type, nmt,
                    2)
                if p < 0:
                    return p
                if nmr != nmi or nmt != nmi:
                    return -14
                if nrel >= rel_id.shape[0]:
                    return -7
                _undelta(mem_ref, m0, nmi)
                rel_id[nrel] = rid
                rel_ntag[nrel] = nrk - k0
                rel_nmem[nrel] = nmi - m0
                nrel += 1
    counts[0] = nn
    counts[1] = ntn
    counts[2] = nk
    counts[3] = nw
    counts[4] = nr
    counts[5] = nwk
    counts[6] = nrel
    counts[7] = nrk
    counts[8] = nmi
    return 0


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
        string table as offsets and lengths in ``b``), and the status: 0, or a key of
        :data:`PROBLEMS` (then every array is empty).
    """
    end = b.shape[0]
    groups = np.empty((end // 2 + 1, 2), dtype=np.int64)
    meta = np.empty(5, dtype=np.int64)
    sizes = np.zeros(3, dtype=np.int64)
    counts = np.zeros(9, dtype=np.int64)
    n_groups = _block_metadata(b, groups, meta)
    status = min(n_groups, 0)
    cap = (meta[1] - meta[0]) // 2 + 1 if status == 0 and meta[0] >= 0 else 0
    st_off = np.empty(cap, dtype=np.int64)
    st_len = np.empty(cap, dtype=np.int64)
    n_str = 0
    if cap:
        n_str = _string_table(b, meta[0], meta[1], st_off, st_len)
        status = min(n_str, 0)
    if status == 0:
        status = _group_sizes(b, groups, n_groups, sizes)
    if status < 0:
        sizes[:] = 0
        n_str = 0
    b_nodes, b_ways, b_rels = sizes[0], sizes[1], sizes[2]
    # one buffer per element type and object kind; each value takes at least one byte
    n64 = np.empty((5, b_nodes), dtype=np.int64)
    n32 = np.empty((5, b_nodes), dtype=np.int32)
    node_id, tagged, lat_raw, lon_raw, kv = n64[0], n64[1], n64[2], n64[3], n64[4]
    node_x, node_y, node_ntag, ntk, ntv = n32[0], n32[1], n32[2], n32[3], n32[4]
    w32 = np.empty((4, b_ways), dtype=np.int32)
    way_nref, way_ntag, wtk, wtv = w32[0], w32[1], w32[2], w32[3]
    way_id = np.empty(b_ways // 2 + 1, dtype=np.int64)
    way_refs = np.empty(b_ways, dtype=np.int64)
    r32 = np.empty((5, b_rels), dtype=np.int32)
    rel_ntag, rel_nmem, rtk, rtv, mem_role = r32[0], r32[1], r32[2], r32[3], r32[4]
    r64 = np.empty((2, b_rels), dtype=np.int64)
    rel_id, mem_ref = r64[0], r64[1]
    mem_type = np.empty(b_rels, dtype=np.int8)
    if status == 0:
        status = _decode_groups(
            b, groups, n_groups, meta, n_str - 1, node_id, node_x, node_y, tagged, node_ntag,
            ntk, ntv, lat_raw, lon_raw, kv, way_id, way_nref, way_ntag, way_refs, wtk, wtv,
            rel_id, rel_ntag, rel_nmem, rtk, rtv, mem_role, mem_type, mem_ref, counts)
    if status < 0:
        counts[:] = 0
        n_str = 0
    nn, ntn, nk, nw, nr, nwk, nrel, nrk, nmi = (counts[0], counts[1], counts[2], counts[3],
                                               counts[4], counts[5], counts[6], counts[7],
                                               counts[8])
    sid_sizes = np.array([nk, nk, nwk, nwk, nrk, nrk, nmi], dtype=np.int64)
    sids = np.empty(2 * nk + 2 * nwk + 2 * nrk + nmi, dtype=np.int32)
    at = 0
    for part, n in ((ntk, nk), (ntv, nk), (wtk, nwk), (wtv, nwk), (rtk, nrk), (rtv, nrk),
                    (mem_role, nmi)):
        sids[at:at + n] = part[:n]
        at += n
    return (node_id[:nn].copy(), node_x[:nn].copy(), node_y[:nn].copy(),
            tagged[:ntn].copy(), node_ntag[:ntn].copy(),
            way_id[:nw].copy(), way_nref[:nw].copy(), way_ntag[:nw].copy(),
            way_refs[:nr].copy(),
            rel_id[:nrel].copy(), rel_ntag[:nrel].copy(), rel_nmem[:nrel].copy(),
            mem_type[:nmi].copy(), mem_ref[:nmi].copy(),
            sids, sid_sizes, st_off[:n_str].copy(), st_len[:n_str].copy(), status)


@cache
def decoder() -> Callable[..., Any]:
    """:func:`decode_block` compiled by numba (nogil, cached on disk)."""
    helpers = (_varint, _key, _zigzag, _length, _skip, _repeated, _check_visible, _fixed,
               _block_metadata, _string_table, _group_sizes, _undelta, _object,
               _decode_groups)
    return compile_kernel(decode_block, *helpers)
