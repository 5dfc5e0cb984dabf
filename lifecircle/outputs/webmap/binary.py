"""Compact encodings of the blocks for the page: varint outlines and typed columns in base64.

A city's blocks are most of the map file. As JSON, a vertex costs about 12 characters even as
integer steps, and a row of numbers about as many characters as digits plus commas; a browser
also spends seconds parsing such arrays. Here the outlines are one stream of variable-length
integers (LEB128 "varints", the steps between successive vertices zig-zag mapped to unsigned)
and every numeric column is a little-endian typed array, each stored as one base64 string that
the page's script decodes straight into typed arrays (``decodeVarints`` and ``typed`` in
``lifecircle-map.js``). A vertex then costs about 4 characters and a block's numbers about
40. Hand-written because the two formats are a few lines each and the page must decode them
without a library.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import shapely

__all__ = ["NULL", "OUTLINE_CHUNK", "QUANTUM_PER_DEGREE", "outline_streams", "outlines",
           "text_column", "typed_column", "varints"]

#: Units of the outlines' integer coordinates per degree: 5e-6 degree is 0.56 m north-south
#: (less east-west), below the 1.5 m the outlines are simplified by; 11 % smaller than 2e-6
#: degree on the 268k-node Nanjing mosaic, 15 % than 1e-6.
QUANTUM_PER_DEGREE = 200_000
#: Sentinel of a missing value in an unsigned typed column: the dtype's largest value.
NULL = -1


#: Blocks encoded at a time by :func:`outline_streams`: their coordinates in degrees and
#: varints (and the rings of those with holes or parts) are the map step's largest
#: temporaries, so a city's are made a slice at a time.
OUTLINE_CHUNK = 50_000


def _put(v: np.uint64, out: np.ndarray, o: int) -> int:  # pragma: no cover - compiled
    """One LEB128 varint at ``out[o:]`` (only counted when ``out`` is empty); the next
    position."""
    while v >= 0x80:
        if out.shape[0]:
            out[o] = np.uint8((v & 0x7F) | 0x80)
        v >>= np.uint64(7)
        o += 1
    if out.shape[0]:
        out[o] = np.uint8(v)
    return o + 1


def _plain(v: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Each value as a varint: counted, then written."""
    empty = np.empty(0, dtype=np.uint8)
    n = 0
    for i in range(v.shape[0]):
        n = _put(v[i], empty, n)
    out = np.empty(n, dtype=np.uint8)
    o = 0
    for i in range(v.shape[0]):
        o = _put(v[i], out, o)
    return out


def _counts(rings_of: np.ndarray, per_ring: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Per geometry its ring count, then its rings' vertex counts (without the closing
    one), as varints."""
    out = np.empty(0, dtype=np.uint8)
    for p in range(2):  # counted, then written
        o = 0
        r = 0
        for g in range(rings_of.shape[0]):
            o = _put(np.uint64(rings_of[g]), out, o)
            for _ in range(rings_of[g]):
                o = _put(np.uint64(per_ring[r] - 1), out, o)
                r += 1
        if p == 0:
            out = np.empty(o, dtype=np.uint8)
    return out


def _steps(xy: np.ndarray, per_ring: np.ndarray, quantum: float,
           last: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Every vertex but each ring's closing one as the zig-zagged step, in 1/``quantum``
    degree, from the previous vertex (``last``, carried from slice to slice), as varints."""
    out = np.empty(0, dtype=np.uint8)
    prev = last.copy()
    for p in range(2):  # counted, then written
        o = 0
        for d in range(2):
            prev[d] = last[d]
        v = 0
        for r in range(per_ring.shape[0]):
            for k in range(per_ring[r]):
                if k < per_ring[r] - 1:
                    for d in range(2):
                        q = np.int64(np.rint(xy[v, d] * quantum))
                        step = q - prev[d]
                        prev[d] = q
                        o = _put(np.uint64((step << 1) ^ (step >> 63)), out, o)
                v += 1
        if p == 0:
            out = np.empty(o, dtype=np.uint8)
    for d in range(2):
        last[d] = prev[d]
    return out


@cache
def _kernels() -> tuple[Any, Any, Any]:
    """The compiled varint writers (hand-written: numpy's version held eight temporaries of
    8 bytes per output byte, the map step's peak at a million nodes)."""
    from ..._kernels import compile_kernel

    return (compile_kernel(_plain, _put), compile_kernel(_counts, _put),
            compile_kernel(_steps, _put))


def varints(values: np.ndarray) -> bytes:
    """Non-negative integers as LEB128 varints (7 bits a byte, high bit set when more
    follow)."""
    v = np.ascontiguousarray(np.asarray(values, dtype=np.uint64).ravel())
    if not len(v):
        return b""
    return _kernels()[0](v).tobytes()


def _zigzag(values: np.ndarray) -> np.ndarray:
    """Signed integers as unsigned: 0, -1, 1, -2 ... become 0, 1, 2, 3 ..."""
    v = np.asarray(values, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def outline_streams(geoms: np.ndarray, *, chunk: int | None = None) -> dict[str, Any]:
    """The outlines of (multi)polygons in EPSG:4326 as two base64 varint streams.

    ``rings``: per geometry its number of rings (exteriors and holes of all its polygons,
    which the page fills with the even-odd rule), then per ring its number of vertices
    (without the closing one). ``xy``: every vertex as the zig-zagged step ``(dx, dy)`` in
    1/``q`` degree from the previous vertex of the whole stream (the first from ``(0, 0)``),
    so that neighbouring blocks cost small steps too.

    Made ``chunk`` geometries at a time (:data:`OUTLINE_CHUNK`), the steps carried across;
    the streams are those of one pass.
    """
    return outlines(geoms, chunk=chunk)[0]


def outlines(
    geoms: np.ndarray, *, chunk: int | None = None,
    web: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`outline_streams` of ``geoms`` whose coordinates ``web`` takes to EPSG:4326
    (:func:`~lifecircle.outputs.webmap.prepare._web_frame`; ``None``: they are), and the
    outlines' bounds ``[minx, miny, maxx, maxy]`` in EPSG:4326 (NaN when there is none).

    The coordinates are moved a chunk at a time as the streams read them: the same numbers
    as geometries moved first (``shapely.transform``), without building those geometries.
    The bounds are those of the exterior rings, as GEOS bounds a polygon.
    """
    _, write_counts, write_steps = _kernels()
    size = int(chunk or OUTLINE_CHUNK)
    ring_parts: list[bytes] = []
    xy_parts: list[bytes] = []
    last = np.zeros(2, dtype=np.int64)
    box = np.array([np.inf, np.inf, -np.inf, -np.inf])
    for lo in range(0, len(geoms), size):
        part = geoms[lo:lo + size]
        xy, per_ring, rings_of, shell = _ring_layout(part)
        if web is not None and len(xy):
            xy = web(xy)
        if len(xy):
            outer = xy[np.repeat(shell, per_ring)]
            box = np.concatenate([np.minimum(box[:2], outer.min(axis=0)),
                                  np.maximum(box[2:], outer.max(axis=0))])
            del outer
        ring_parts.append(write_counts(rings_of, per_ring).tobytes())
        xy_parts.append(write_steps(np.ascontiguousarray(xy), per_ring,
                                    float(QUANTUM_PER_DEGREE), last).tobytes())
        del xy
    rings_b = b"".join(ring_parts)
    del ring_parts
    xy_b = b"".join(xy_parts)
    del xy_parts
    if not np.isfinite(box).all():
        box[:] = np.nan
    return {"q": QUANTUM_PER_DEGREE, "rings": _b64(rings_b), "xy": _b64(xy_b)}, box


def _ring_layout(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vertices of (multi)polygons, ring after ring (each polygon's exterior, then its
    holes); each ring's vertex count (with the closing one); each geometry's ring count; and
    which rings are exteriors.

    Read off the polygons themselves (their coordinates, counts and holes), not off a GEOS
    ring object per ring: ``shapely.get_rings`` copied every ring, 3x the time of the rest
    of the streams. Only multipolygons are split into parts and only polygons with holes
    into rings.
    """
    multi = shapely.get_type_id(geoms) != 3
    if multi.any():
        polys, poly_of = shapely.get_parts(geoms, return_index=True)
    else:
        polys, poly_of = geoms, np.arange(len(geoms))
    n_coords = shapely.get_num_coordinates(polys).astype(np.int64)
    n_rings = np.where(n_coords > 0, 1 + shapely.get_num_interior_rings(polys), 0
                       ).astype(np.int64)
    xy = shapely.get_coordinates(polys)
    ring_poly = np.repeat(np.arange(len(polys)), n_rings)
    per_ring = np.empty(len(ring_poly), dtype=np.int64)
    holed = n_rings[ring_poly] > 1
    per_ring[~holed] = n_coords[ring_poly[~holed]]
    if holed.any():
        per_ring[holed] = shapely.get_num_coordinates(shapely.get_rings(polys[n_rings > 1]))
    shell = np.ones(len(ring_poly), dtype=bool)
    shell[1:] = ring_poly[1:] != ring_poly[:-1]
    rings_of = np.bincount(poly_of, weights=n_rings, minlength=len(geoms)).astype(np.int64)
    return xy, per_ring, rings_of, shell


_TYPES: dict[str, np.dtype[Any]] = {"u8": np.dtype("<u1"), "u16": np.dtype("<u2"),
                                    "u32": np.dtype("<u4")}


def typed_column(
    values: np.ndarray, kind: str, width: int = 1, *, nullable: bool = True,
) -> dict[str, Any]:
    """A numeric column (``width`` values a row) as a little-endian typed array in base64.

    ``values`` are non-negative numbers, rounded to integers. In a ``nullable`` column NaN
    (or ``NULL``) becomes the type's largest value, which the page reads back as ``null``
    (``"n": 1``). ``kind`` is ``"u8"``, ``"u16"``, ``"u32"`` or ``"auto"`` (the smallest of
    these the values fit).

    Raises
    ------
    ValueError
        A value does not fit the type (a caller's bug, not a user's).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    missing = (~np.isfinite(v) | (v == NULL)) if nullable else np.zeros(len(v), dtype=bool)
    ints = np.rint(np.where(missing, 0, v))
    if kind == "auto":  # the smallest type the values fit
        largest = ints.max(initial=0) + (1 if nullable else 0)
        kind = next((k for k, t in _TYPES.items() if largest <= np.iinfo(t).max), "u32")
    dtype = _TYPES[kind]
    top = int(np.iinfo(dtype).max) - (1 if nullable else 0)
    if len(ints) and (ints.min() < 0 or ints.max() > top):
        raise ValueError(f"values outside 0..{top} for a {kind} column")
    ints[missing] = top + 1
    return {"t": kind, "w": int(width), "n": int(nullable),
            "d": _b64(ints.astype(dtype).tobytes())}


_NUMBERED = re.compile(r"^(.*?)(0|[1-9][0-9]{0,14})$", re.DOTALL)


def text_column(values: list[str]) -> list[str] | dict[str, Any]:
    """Ids such as ``b1, b2, ...`` or ``node/42, way/7``: prefixes and varint number steps.

    Returns ``{"pre": [prefixes], "num": base64 zig-zag varint steps between the numbers}``
    (with ``"k"``, a ``u8`` :func:`typed_column` of each value's prefix, when there are
    several) when every value is one of at most 255 prefixes followed by a number, else
    ``values`` unchanged; the page rebuilds ``prefix + number``. A city's block ids then cost
    about 1.4 characters each instead of about 9, OpenStreetMap ids about 7 instead of 15.
    """
    if not values:
        return values
    split = _split_numbered(values)
    if split is None:
        return values
    prefixes, which, numbers = split
    if len(prefixes) > 255:
        return values
    steps = np.diff(numbers, prepend=np.int64(0))
    out: dict[str, Any] = {"pre": prefixes, "num": _b64(varints(_zigzag(steps)))}
    if len(prefixes) > 1:
        out["k"] = typed_column(which, "u8", nullable=False)
    return out


def _split_numbered(values: list[str]) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """Each value as prefix + number (:data:`_NUMBERED`): the sorted prefixes, each value's
    prefix (index into them) and number; ``None`` when a value is not of that form.

    Matched by Arrow's compiled regular expressions (RE2 gives the same groups as Python's
    ``re`` here: a lazy prefix, then the longest number to the end), a city's ids at once:
    Python's ``re`` took a third of a second for the 268k-node mosaic's 134,000 ids. A value
    with a line break (``$`` in Python also matches before a final one) takes Python's path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if "\n" in "".join(values):  # a line break: Python's path (one join, not a loop)
        return _split_python(values)
    try:
        array = pa.array(values, type=pa.large_string())
    except (ValueError, TypeError, pa.ArrowException):  # a lone surrogate
        return _split_python(values)
    parts = pc.extract_regex(array,
                             "(?s)^(?P<pre>.*?)(?P<num>0|[1-9][0-9]{0,14})$")
    if parts.null_count:
        return None
    pre, num = parts.field("pre"), parts.field("num")
    prefixes = sorted(pc.unique(pre).to_pylist())
    which = pc.index_in(pre, value_set=pa.array(prefixes, type=pre.type))
    return (prefixes, which.to_numpy(zero_copy_only=False).astype(np.int64),
            pc.cast(num, pa.int64()).to_numpy(zero_copy_only=False))


def _split_python(values: list[str]) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """:func:`_split_numbered` by Python's ``re``, a value at a time."""
    matches = [_NUMBERED.match(v) for v in values]
    if any(m is None for m in matches):
        return None
    pairs = [(m.group(1), int(m.group(2))) for m in matches if m is not None]
    prefixes = sorted({p for p, _ in pairs})
    index = {p: i for i, p in enumerate(prefixes)}
    return (prefixes, np.array([index[p] for p, _ in pairs], dtype=np.int64),
            np.array([x for _, x in pairs], dtype=np.int64))
