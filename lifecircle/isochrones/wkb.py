"""Isochrone polygons written as WKB straight from their integer rings, without GEOS.

A city's category isochrones are written, not looked at: building a GEOS MultiPolygon from
the outline's integer rings and encoding it again as WKB for the GeoPackage took two copies
of every vertex and about a fifth of the isochrone step on the 268,569-node mosaic. Here one
compiled pass writes the little-endian WKB of the MultiPolygon (the same coordinates, ``x =
origin + q * cell / SNAP`` as :func:`.rings._closed_xy` computes them) and its area from the
integer vertices (the shoelace of each ring, exact before the one scaling). Hand-written:
shapely has no writer from ragged coordinates to WKB, and pyogrio takes WKB as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["EMPTY_WKB", "Wkb", "as_bytes", "decoded_frame", "encode_rings", "encoded_frame"]

#: ``MULTIPOLYGON EMPTY``, little-endian
EMPTY_WKB = b"\x01\x06\x00\x00\x00\x00\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class Wkb:
    """One isochrone polygon as WKB (a MultiPolygon) and its area in square metres; ``data``
    is ``bytes`` or the kernel's ``uint8`` array (not copied into a ``bytes``: a city
    band's WKB weighs hundreds of megabytes)."""

    data: bytes | np.ndarray
    area: float

    @classmethod
    def of(cls, geom: Any) -> Wkb:
        """A shapely polygon or MultiPolygon as a :class:`Wkb` (a Polygon made a
        MultiPolygon, as the layer has one geometry type)."""
        if shapely.get_type_id(geom) == 3:
            geom = shapely.MultiPolygon([geom])
        return cls(shapely.to_wkb(geom, byte_order=1), float(shapely.area(geom)))

    def geometry(self) -> Any:
        """The shapely MultiPolygon."""
        return shapely.from_wkb(as_bytes(self.data))


def as_bytes(data: bytes | np.ndarray) -> bytes:
    """WKB as ``bytes`` (a copy of a kernel's array)."""
    return data.tobytes() if isinstance(data, np.ndarray) else data


@cache
def _encode_kernel() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True)
    def encode(q: np.ndarray, starts: np.ndarray, sizes: np.ndarray, rings: np.ndarray,
               per_poly: np.ndarray, ox: float, oy: float,
               scale: float) -> tuple[np.ndarray, float]:  # pragma: no cover - compiled
        # rings[t] is the t-th ring written (polygon by polygon, shell first), per_poly the
        # rings of each polygon; each ring is closed by repeating its first vertex
        n_poly = per_poly.shape[0]
        total = 9 + 9 * n_poly
        longest = 1
        for t in range(rings.shape[0]):
            n = sizes[rings[t]]
            total += 4 + 16 * (n + 1)
            longest = max(longest, n + 1)
        out = np.empty(total, dtype=np.uint8)
        word = np.empty(1, dtype=np.uint32)
        word_b = word.view(np.uint8)
        xy = np.empty(2 * longest, dtype=np.float64)
        xy_b = xy.view(np.uint8)
        out[0] = 1
        word[0] = 6  # MultiPolygon
        out[1:5] = word_b
        word[0] = n_poly
        out[5:9] = word_b
        o = 9
        t = 0
        area2 = 0.0
        for p in range(n_poly):
            out[o] = 1
            word[0] = 3  # Polygon
            out[o + 1:o + 5] = word_b
            word[0] = per_poly[p]
            out[o + 5:o + 9] = word_b
            o += 9
            for _ in range(per_poly[p]):
                r = rings[t]
                t += 1
                n = sizes[r]
                s = starts[r]
                word[0] = n + 1
                out[o:o + 4] = word_b
                o += 4
                x0 = np.int64(q[s, 0])  # (int32 vertices: differences in int64)
                y0 = np.int64(q[s, 1])
                for k in range(n + 1):
                    v = s + (k if k < n else 0)
                    xy[2 * k] = ox + q[v, 0] * scale
                    xy[2 * k + 1] = oy + q[v, 1] * scale
                    if k < n:  # the shoelace relative to the first vertex, in grid integers
                        w = s + (k + 1 if k + 1 < n else 0)
                        area2 += (float(np.int64(q[v, 0]) - x0) * float(np.int64(q[w, 1]) - y0)
                                  - float(np.int64(q[w, 0]) - x0) * float(np.int64(q[v, 1]) - y0))
                m = 16 * (n + 1)
                out[o:o + m] = xy_b[:m]
                o += m
        return out, 0.5 * area2 * scale * scale

    return encode


def encode_rings(q: np.ndarray, sizes: np.ndarray, rings: np.ndarray, per_poly: np.ndarray,
                 origin: np.ndarray, cell: float, snap: int) -> Wkb:
    """The MultiPolygon of rings in grid integers as :class:`Wkb`.

    Parameters
    ----------
    q, sizes
        Ring vertices (``1 / snap`` cells from cell ``(0, 0)``'s centre, ring after ring, not
        closed) and each ring's vertex count.
    rings, per_poly
        The rings to write in order (each polygon's shell, then its holes) and how many
        rings each polygon has. Shells run anticlockwise and holes clockwise, so the signed
        areas add up to the polygon's.
    origin, cell, snap
        Coordinates of cell ``(0, 0)``'s centre, the cell size and the integer units per cell.
    """
    if per_poly.shape[0] == 0:
        return Wkb(EMPTY_WKB, 0.0)
    starts = np.cumsum(sizes) - sizes
    data, area = _encode_kernel()(q, starts, sizes, rings.astype(np.int64),
                                  per_poly.astype(np.int64), float(origin[0]),
                                  float(origin[1]), cell / float(snap))
    return Wkb(data, float(area))


def encoded_frame(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """A GeoDataFrame of isochrone rows as :func:`.bands._frame` gives WKB rows."""
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out["geometry"] = list(shapely.to_wkb(frame.geometry.to_numpy(), byte_order=1))
    out.attrs["crs"] = frame.crs
    return out


def decoded_frame(frame: pd.DataFrame, crs: Any) -> gpd.GeoDataFrame:
    """WKB isochrone rows (:func:`.bands._frame`) as a GeoDataFrame (the CRS its own, not
    an ``attrs`` entry, which a GeoParquet writer would try to store as JSON)."""
    geoms = shapely.from_wkb([as_bytes(d) for d in frame["geometry"]])
    out = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=list(geoms), crs=crs)
    out.attrs = {k: v for k, v in frame.attrs.items() if k != "crs"}
    return out
