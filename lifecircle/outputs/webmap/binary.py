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
from typing import Any

import numpy as np
import shapely

__all__ = ["NULL", "QUANTUM_PER_DEGREE", "outline_streams", "text_column", "typed_column",
           "varints"]

#: Units of the outlines' integer coordinates per degree: 5e-6 degree is 0.56 m north-south
#: (less east-west), below the 1.5 m the outlines are simplified by; 11 % smaller than 2e-6
#: degree on the 268k-node Nanjing mosaic, 15 % than 1e-6.
QUANTUM_PER_DEGREE = 200_000
#: Sentinel of a missing value in an unsigned typed column: the dtype's largest value.
NULL = -1


def varints(values: np.ndarray) -> bytes:
    """Non-negative integers as LEB128 varints (7 bits a byte, high bit set when more follow).

    Vectorised: each value's byte count comes from its bit length, then every byte is filled
    at once.
    """
    v = np.asarray(values, dtype=np.uint64).ravel()
    if not len(v):
        return b""
    nbytes = np.ones(len(v), dtype=np.int64)
    rest = v >> np.uint64(7)
    while rest.any():
        more = rest > 0
        nbytes += more
        rest = rest >> np.uint64(7)
    ends = np.cumsum(nbytes)
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    owner = np.repeat(np.arange(len(v)), nbytes)
    position = np.arange(len(out)) - (ends - nbytes)[owner]
    chunk = (v[owner] >> (np.uint64(7) * position.astype(np.uint64))) & np.uint64(0x7F)
    last = position == nbytes[owner] - 1
    out[:] = chunk.astype(np.uint8) | np.where(last, 0, 0x80).astype(np.uint8)
    return out.tobytes()


def _zigzag(values: np.ndarray) -> np.ndarray:
    """Signed integers as unsigned: 0, -1, 1, -2 ... become 0, 1, 2, 3 ..."""
    v = np.asarray(values, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def outline_streams(geoms: np.ndarray) -> dict[str, Any]:
    """The outlines of (multi)polygons in EPSG:4326 as two base64 varint streams.

    ``rings``: per geometry its number of rings (exteriors and holes of all its polygons,
    which the page fills with the even-odd rule), then per ring its number of vertices
    (without the closing one). ``xy``: every vertex as the zig-zagged step ``(dx, dy)`` in
    1/``q`` degree from the previous vertex of the whole stream (the first from ``(0, 0)``),
    so that neighbouring blocks cost small steps too.
    """
    polys, poly_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    xy, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    per_ring = np.bincount(vertex_ring, minlength=len(rings))
    keep = np.ones(len(xy), dtype=bool)
    keep[np.cumsum(per_ring) - 1] = False  # the closing vertex repeats the first
    q = np.rint(xy[keep] * QUANTUM_PER_DEGREE).astype(np.int64)
    steps = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    ring_geom = poly_of[ring_poly]
    rings_of = np.bincount(ring_geom, minlength=len(geoms))
    # interleave: a geometry's ring count, then the vertex counts of its rings
    counts = np.empty(len(geoms) + len(rings), dtype=np.int64)
    slot_of_geom = np.arange(len(geoms)) + np.r_[0, np.cumsum(rings_of)[:-1]]
    counts[slot_of_geom] = rings_of
    ring_slot = np.ones(len(counts), dtype=bool)
    ring_slot[slot_of_geom] = False
    counts[ring_slot] = per_ring - 1
    return {"q": QUANTUM_PER_DEGREE, "rings": _b64(varints(counts)),
            "xy": _b64(varints(_zigzag(steps.ravel())))}


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
    matches = [_NUMBERED.match(v) for v in values]
    if not values or any(m is None for m in matches):
        return values
    pairs = [(m.group(1), int(m.group(2))) for m in matches if m is not None]
    prefixes = sorted({p for p, _ in pairs})
    if len(prefixes) > 255:
        return values
    numbers = np.array([x for _, x in pairs], dtype=np.int64)
    steps = np.diff(numbers, prepend=np.int64(0))
    out: dict[str, Any] = {"pre": prefixes, "num": _b64(varints(_zigzag(steps)))}
    if len(prefixes) > 1:
        index = {p: i for i, p in enumerate(prefixes)}
        out["k"] = typed_column(np.array([index[p] for p, _ in pairs]), "u8", nullable=False)
    return out
