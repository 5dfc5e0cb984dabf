"""Columnar storage for what the OSM read keeps: WKB in one buffer, buildings as arrays.

At city scale the read keeps hundreds of thousands of footprints; a tuple, an id object, a
value string and a ``bytes`` object per footprint cost about twice the memory of the same data
as arrays and one contiguous WKB buffer (and fragment the heap), and every consumer then loops
over them in Python. These classes hold the rows as arrays; iterating still yields the old
tuples for the few callers that want rows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np

from ._halves import in_parts

_T = TypeVar("_T")

__all__ = [
    "BuildingTable",
    "HexChunks",
    "PoiTable",
    "WkbColumn",
    "flat_tags",
    "interned",
    "projected_geometries",
    "projected_measures",
    "projected_rings",
    "projected_xy",
    "ring_lonlat",
    "tag_dict",
]


class WkbColumn:
    """Binary geometries (WKB) stored back to back in one buffer, ``offsets`` bounding each.

    Parameters
    ----------
    buf
        The records, concatenated (``bytes`` or a uint8 array; kept as a uint8 array).
    offsets
        ``len + 1`` increasing byte offsets into ``buf``; record ``i`` is
        ``buf[offsets[i]:offsets[i + 1]]``.
    """

    __slots__ = ("buf", "offsets")

    def __init__(self, buf: bytes | bytearray | np.ndarray, offsets: np.ndarray) -> None:
        self.buf = buf if isinstance(buf, np.ndarray) else np.frombuffer(buf, dtype=np.uint8)
        self.offsets = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def from_blobs(cls, blobs: Iterable[bytes]) -> WkbColumn:
        """A column of the given WKB records, in order."""
        items = list(blobs)
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in items], out=offsets[1:])
        return cls(b"".join(items), offsets)

    @classmethod
    def concat(cls, columns: list[WkbColumn]) -> WkbColumn:
        """The columns one after the other; ``columns`` is emptied as they are copied, so
        that at most one source buffer is alive beside the result."""
        buf = np.empty(sum(int(c.offsets[-1] - c.offsets[0]) for c in columns), dtype=np.uint8)
        offsets = [np.zeros(1, dtype=np.int64)]
        at = 0
        columns.reverse()
        while columns:
            column = columns.pop()
            size = int(column.offsets[-1] - column.offsets[0])
            buf[at : at + size] = column.buf[column.offsets[0] : column.offsets[-1]]
            offsets.append(column.offsets[1:] - column.offsets[0] + at)
            at += size
        return cls(buf, np.concatenate(offsets))

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.buf[int(self.offsets[i]) : int(self.offsets[i + 1])].tobytes()

    def records(self, index: np.ndarray) -> list[bytes]:
        """The records at ``index`` (integer positions) as ``bytes``, in that order."""
        index = np.asarray(index, dtype=np.int64)
        view = self.buf.data
        return [view[a:b].tobytes() for a, b in zip(self.offsets[index].tolist(),
                                                   self.offsets[index + 1].tolist(),
                                                   strict=True)]

    def blobs(self) -> list[bytes]:
        """The records as a list of ``bytes`` (for ``shapely.from_wkb``)."""
        view = self.buf.data
        return [view[a:b].tobytes() for a, b in pairwise(self.offsets.tolist())]

    def take(self, index: np.ndarray) -> WkbColumn:
        """The records at ``index`` (integer positions), in that order, as a new column."""
        index = np.asarray(index, dtype=np.int64)
        out, offsets = _records(self.buf, self.offsets[index], self.offsets[index + 1])
        return WkbColumn(out, offsets)

    def compact(self, index: np.ndarray, extra: list[bytes]) -> WkbColumn:
        """The records at increasing positions ``index``, then the ``extra`` records, written
        over this column's own buffer (no second copy of the records is made).

        This column must not be used afterwards. Falls back to a copy when the buffer is
        read-only or too small for ``extra``.
        """
        index = np.asarray(index, dtype=np.int64)
        starts, ends = self.offsets[index], self.offsets[index + 1]
        offsets = np.zeros(index.shape[0] + len(extra) + 1, dtype=np.int64)
        sizes = np.asarray([len(b) for b in extra], dtype=np.int64)
        np.cumsum(np.concatenate([ends - starts, sizes]), out=offsets[1:])
        buf = self.buf
        if (not buf.flags.writeable or int(offsets[-1]) > buf.shape[0]
                or (index.size > 1 and not (np.diff(index) > 0).all())):
            return WkbColumn.concat([self.take(index), WkbColumn.from_blobs(extra)])
        # increasing records, each written at or before where it was and after those before
        # it: a forward copy reads every byte before it is written over
        at = index.shape[0]
        _copy_spans(buf, starts, ends, buf, offsets[:at])
        for k, blob in enumerate(extra):
            a = int(offsets[at + k])
            buf[a : a + len(blob)] = np.frombuffer(blob, dtype=np.uint8)
        self.offsets = np.zeros(1, dtype=np.int64)  # emptied: its records are gone
        return WkbColumn(buf, offsets)

    def geometries(self) -> np.ndarray:
        """The records as shapely geometries (one vectorised ``from_wkb``)."""
        import shapely

        if not len(self):
            return np.empty(0, dtype=object)
        return np.asarray(shapely.from_wkb(self.blobs()))


#: the first 18 bytes of a one-polygon, one-ring multipolygon record as the read lays it out
#: (little endian: multipolygon of 1 polygon; polygon of 1 ring), then the point count
_ONE_RING = np.array([1, 6, 0, 0, 0, 1, 0, 0, 0, 1, 3, 0, 0, 0, 1, 0, 0, 0], dtype=np.uint8)


def projected_geometries(column: WkbColumn, crs: Any) -> np.ndarray:
    """The column's WGS 84 geometries projected to ``crs``, as shapely geometries.

    Closed-way footprints (one-ring multipolygon records, nearly all of them) are read off
    the WKB buffer as one coordinate array, projected by pyproj and built by
    ``shapely.from_ragged_array`` (the same one-ring multipolygons ``from_wkb`` gives), both
    split over threads (:mod:`~lifecircle.sources._halves`).
    Projecting parsed geometries instead (``GeoSeries.to_crs``) reads and rewrites every
    coordinate sequence through GEOS, seconds at city scale, and writing the projected
    coordinates back into WKB to parse them costs a ``bytes`` object per record. Other
    records (relations) take the ``to_crs`` path. The transformer is the one ``to_crs`` uses
    (``always_xy``), so the coordinates are the same.
    """
    import geopandas as gpd

    n = len(column)
    if not n:
        return np.empty(0, dtype=object)
    simple, xy, count = projected_rings(column, crs)
    geoms = np.empty(n, dtype=object)
    geoms[simple] = _one_ring_multipolygons(xy, count)
    other = np.flatnonzero(~simple)
    if other.size:
        geoms[other] = gpd.GeoSeries(column.take(other).geometries(), crs=4326).to_crs(
            crs).to_numpy()
    return geoms


def ring_lonlat(column: WkbColumn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(which records are one-ring multipolygons, their WGS 84 coordinates end to end as an
    (m, 2) array, the vertices of each such ring), read off the WKB buffer.

    Two compiled passes (:mod:`._footprint_kernels`): byte masks and a fancy index of every
    record's head cost ~0.1 s per :data:`PROJECT_CHUNK` records at city scale.
    """
    from ._footprint_kernels import one_rings, ring_bytes

    n = len(column)
    simple, count = np.empty(n, dtype=bool), np.empty(n, dtype=np.int64)
    buf = read_only(column.buf)  # one compiled specialization, whoever wrote the buffer
    one_rings(buf, column.offsets, _ONE_RING, simple, count)
    out = np.empty(16 * int(count.sum()), dtype=np.uint8)
    ring_bytes(buf, column.offsets, _ONE_RING.shape[0] + 4, simple, out)
    return simple, out.view("<f8").reshape(-1, 2), count[simple]


def projected_xy(lon: np.ndarray, lat: np.ndarray, crs: Any) -> np.ndarray:
    """WGS 84 coordinates projected to ``crs`` as an (n, 2) array (pyproj, ``always_xy``,
    the transformer ``to_crs`` uses), split over threads."""
    import pyproj

    def project(s: slice) -> np.ndarray:  # a transformer per thread: they are not shared
        transformer = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        return np.column_stack(transformer.transform(lon[s], lat[s]))

    if not lon.shape[0]:
        return np.empty((0, 2))
    return np.concatenate(in_parts(project, lon.shape[0]))


def projected_rings(column: WkbColumn, crs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(which records are one-ring multipolygons, their coordinates projected to ``crs`` end
    to end as an (m, 2) array, the vertices of each such ring): the coordinates
    :func:`projected_geometries` builds those records from."""
    simple, lonlat, count = ring_lonlat(column)
    return simple, projected_xy(lonlat[:, 0], lonlat[:, 1], crs), count


#: records projected at a time by :func:`projected_measures`
PROJECT_CHUNK = 1 << 16


def projected_measures(column: WkbColumn, crs: Any,
                       measure: Callable[[np.ndarray], _T]) -> list[_T]:
    """``measure`` of the column's geometries projected to ``crs`` (as
    :func:`projected_geometries` makes them), :data:`PROJECT_CHUNK` records at a time, in
    order.

    Each run's geometries are dropped once measured: a caller that keeps a few numbers per
    footprint (its area, a point on it) never holds a city's polygons at once (about 0.8 kB
    each as GEOS objects, 2.4 GB at a million nodes), nor the projection's scratch arrays for
    all of them.
    """
    out: list[_T] = []
    for lo in range(0, len(column), PROJECT_CHUNK):
        run = WkbColumn(column.buf, column.offsets[lo : lo + PROJECT_CHUNK + 1])
        out.append(measure(projected_geometries(run, crs)))
    return out


def _one_ring_multipolygons(xy: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Multipolygons of one polygon of one ring each, ring ``i`` being the next ``count[i]``
    rows of ``xy`` (one ``shapely.from_ragged_array`` call)."""
    import shapely

    ring_end = np.zeros(count.shape[0] + 1, dtype=np.int64)
    np.cumsum(count, out=ring_end[1:])

    def build(s: slice) -> np.ndarray:  # GEOS builds the rings without the GIL
        ends = ring_end[s.start : s.stop + 1]
        one_each = np.arange(ends.shape[0], dtype=np.int64)
        return np.asarray(shapely.from_ragged_array(
            shapely.GeometryType.MULTIPOLYGON, xy[ends[0] : ends[-1]], (ends - ends[0],
                                                                       one_each, one_each)),
            dtype=object)

    return np.concatenate(in_parts(build, count.shape[0]))


def _records(buf: np.ndarray, starts: np.ndarray,
             ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The elements of records ``[starts, ends)`` of ``buf`` (WKB bytes, tag or reference
    ids; in any order), concatenated as a new array, and where each record starts in it
    (with the end after the last)."""
    at = np.zeros(starts.shape[0] + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=at[1:])
    out = np.empty(int(at[-1]), dtype=buf.dtype)
    _copy_spans(buf, starts, ends, out, at[:-1])
    return out, at


def _copy_spans(src: np.ndarray, starts: np.ndarray, ends: np.ndarray, dst: np.ndarray,
                at: np.ndarray) -> None:
    """:func:`._osm_kernels.copy_spans` (compiled on first use, not at import)."""
    from ._osm_kernels import copy_spans

    # ``src`` read-only: one compiled specialization per dtype, whether the buffer came from
    # ``np.frombuffer`` (read-only) or was built here (``dst`` may be the same memory)
    copy_spans(read_only(src), np.asarray(starts, dtype=np.int64),
               np.asarray(ends, dtype=np.int64), dst, np.asarray(at, dtype=np.int64))


def read_only(a: np.ndarray) -> np.ndarray:
    """``a`` itself if read-only, else a read-only view of it (no copy).

    Numba compiles (and loads from its cache) a kernel once per argument type, and an
    array's writeability is part of its type: passing buffers read-only whatever their
    origin keeps a kernel to one specialization.
    """
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


class HexChunks:
    """Collects hex WKB strings (as osmium's factory makes them) as binary, in chunks.

    A hex string costs about twice its bytes plus a Python object; joining a few thousand at
    a time and decoding them keeps only the bytes (hand-written: no library accumulates hex).
    """

    __slots__ = ("_chunks", "_pending")

    #: strings decoded at a time
    CHUNK = 4096

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pending: list[str] = []

    def append(self, text: str) -> None:
        """Add one hex record."""
        pending = self._pending
        pending.append(text)
        if len(pending) >= self.CHUNK:
            self._chunks.append(bytes.fromhex("".join(pending)))
            pending.clear()

    def to_bytes(self) -> bytearray:
        """Every record so far, decoded and concatenated (the collector is emptied as it is
        copied, so that the records are not held twice)."""
        if self._pending:
            self._chunks.append(bytes.fromhex("".join(self._pending)))
            self._pending.clear()
        chunks = self._chunks
        out = bytearray(sum(len(c) for c in chunks))
        at = 0
        chunks.reverse()
        while chunks:
            chunk = chunks.pop()
            out[at : at + len(chunk)] = chunk
            at += len(chunk)
        return out


def interned(values: Iterable[Any]) -> np.ndarray:
    """An object array of ``values`` with equal strings sharing one object."""
    seen: dict[Any, Any] = {}
    items = [seen.setdefault(v, v) for v in values]
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


@dataclass
class BuildingTable:
    """Building footprints, one row per building, as arrays (WGS 84 WKB).

    Iterating yields ``(osm_type, osm_id, building, levels, wkb)`` tuples.
    """

    #: ``"way"`` or ``"relation"`` (object array of two shared strings)
    osm_type: np.ndarray
    osm_id: np.ndarray
    #: the ``building`` value
    building: np.ndarray
    #: the ``building:levels`` tag as written, or None
    levels: np.ndarray
    wkb: WkbColumn

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int, str, str | None, bytes]]) -> BuildingTable:
        """A table from ``(osm_type, osm_id, building, levels, wkb)`` rows."""
        items = list(rows)
        return cls(
            osm_type=interned(r[0] for r in items),
            osm_id=np.fromiter((r[1] for r in items), dtype=np.int64, count=len(items)),
            building=interned(r[2] for r in items),
            levels=interned(r[3] for r in items),
            wkb=WkbColumn.from_blobs(r[4] for r in items),
        )

    def __len__(self) -> int:
        return int(self.osm_id.shape[0])

    def __iter__(self) -> Iterator[tuple[str, int, str, str | None, bytes]]:
        return iter(zip(self.osm_type.tolist(), self.osm_id.tolist(), self.building.tolist(),
                        self.levels.tolist(), self.wkb.blobs(), strict=True))

    def keys(self) -> np.ndarray:
        """One int64 per building, unique across ways and relations (``2 id + is_relation``)."""
        return 2 * self.osm_id + (self.osm_type == "relation")

    def labels(self) -> list[str]:
        """``"way/123"``-style ids."""
        # (str.format mapped over both lists: about 40 % faster than an f-string per row)
        return list(map("{}/{}".format, self.osm_type.tolist(), self.osm_id.tolist()))


def flat_tags(tags: dict[str, str], values: dict[str, str]) -> tuple[str, ...]:
    """``tags`` as one flat tuple ``(k1, v1, k2, v2, ...)``, keys interned and values shared
    through ``values`` (a cache the caller keeps for one read)."""
    intern = sys.intern
    out: list[str] = []
    for k, v in tags.items():
        out.append(intern(k))
        out.append(values.setdefault(v, v))
    return tuple(out)


def tag_dict(flat: tuple[str, ...]) -> dict[str, str]:
    """The dict of a :func:`flat_tags` tuple (a new dict each call)."""
    return dict(zip(flat[0::2], flat[1::2], strict=True))


#: a point of interest as a row: osm_type, osm_id, lon, lat (NaN for areas), tags, WKB or None
PoiRow = tuple[str, int, float, float, dict[str, str], bytes | None]


@dataclass
class PoiTable:
    """Points of interest (tagged nodes and areas), one row each, as arrays.

    Tags are kept as flat tuples with shared keys and values (a dict per POI costs several
    times more); iterating yields :data:`PoiRow` tuples with a fresh tag dict each.
    """

    osm_type: np.ndarray
    osm_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    #: flat ``(k1, v1, k2, v2, ...)`` tags per POI (see :func:`flat_tags`)
    tags: list[tuple[str, ...]]
    #: whether the POI is an area (its polygon is in ``wkb``; nodes have an empty record)
    is_area: np.ndarray
    wkb: WkbColumn

    @classmethod
    def from_rows(cls, rows: Iterable[PoiRow]) -> PoiTable:
        """A table from :data:`PoiRow` tuples."""
        items = list(rows)
        n = len(items)
        values: dict[str, str] = {}
        return cls(
            osm_type=interned(r[0] for r in items),
            osm_id=np.fromiter((r[1] for r in items), dtype=np.int64, count=n),
            lon=np.fromiter((r[2] for r in items), dtype=np.float64, count=n),
            lat=np.fromiter((r[3] for r in items), dtype=np.float64, count=n),
            tags=[flat_tags(r[4], values) for r in items],
            is_area=np.fromiter((r[5] is not None for r in items), dtype=bool, count=n),
            wkb=WkbColumn.from_blobs(r[5] or b"" for r in items),
        )

    def __len__(self) -> int:
        return int(self.osm_id.shape[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[PoiRow]:
        blobs = self.wkb.blobs()
        for t, i, x, y, flat, area, blob in zip(
            self.osm_type.tolist(), self.osm_id.tolist(), self.lon.tolist(), self.lat.tolist(),
            self.tags, self.is_area.tolist(), blobs, strict=True,
        ):
            yield t, i, x, y, tag_dict(flat), blob if area else None

    def area_blobs(self) -> list[bytes]:
        """The WKB of the area POIs, in order."""
        return self.wkb.take(np.flatnonzero(self.is_area)).blobs()

    def areas(self) -> Iterator[tuple[str, int, dict[str, str], bytes]]:
        """The area POIs only, as ``(osm_type, osm_id, tags, wkb)``."""
        rows = np.flatnonzero(self.is_area)
        for i, blob in zip(rows.tolist(), self.area_blobs(), strict=True):
            yield self.osm_type[i], int(self.osm_id[i]), tag_dict(self.tags[i]), blob
