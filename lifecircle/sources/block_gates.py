"""Access points of residential blocks: their gates and entrances, else a point inside.

A block with gates or entrances (``barrier=gate``, ``entrance=*``) on its boundary is left
through them only; any other block from its representative point. The snapping guard starts
at the block's edge (:func:`distance_to_boundary`).
"""

from __future__ import annotations

import operator
import weakref
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from .._errors import InputError
from ._halves import elementwise
from .osm import OSMData

__all__ = [
    "GATE_TOLERANCE_M",
    "access_points",
    "distance_to_boundary",
    "gates_from_osm",
    "remember_points",
]

def distance_to_boundary(points: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> np.ndarray:
    """Metres from each access point to the boundary of its own block (0 outside it)."""
    at = _positions(blocks["block_id"], points["block_id"])
    own = blocks.geometry.to_numpy()[at]
    pts = _in_crs(points, blocks.crs)
    # 0 for the points outside their block (a gate outside it is 0 m from it)
    return _held_and_outline(own, pts, groups=at)[1]


def _held_and_outline(polygons: np.ndarray, points: np.ndarray, *,
                      groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether each polygon contains its point, GEOS's ``contains``; the distance from the
    point to the polygon's boundary where it does, :func:`_to_outline`'s, 0 elsewhere).

    A polygon without holes (nearly every block) is read off its coordinates once for both:
    the point's side by ray crossing (:func:`._ring_kernels.ring_holds`: GEOS's answer where
    the orientations are certain, the others asked of GEOS; 3x faster than GEOS's
    ``contains`` of an unprepared block) and the distance as :func:`_to_outline` measures
    it; the other polygons by GEOS (``groups``: :func:`~._halves.elementwise`'s, equal for
    the points of one polygon).
    """
    from ._ring_kernels import ring_holds

    one, at, rings = _one_rings(polygons, points)
    inside = np.zeros(polygons.shape[0], dtype=bool)
    out = np.zeros(polygons.shape[0])
    if rings is not None:
        held = ring_holds(*rings)
        unsure = np.flatnonzero(held < 0)
        if unsure.size:
            held[unsure] = shapely.contains(polygons[at[unsure]], points[at[unsure]])
        inside[at] = held == 1
        out[at] = _ring_outline(rings)
    rest = np.flatnonzero(~one)
    if rest.size:
        inside[rest] = elementwise(shapely.contains, polygons[rest], points[rest],
                                   groups=groups[rest])
        held_rest = rest[inside[rest]]  # the outline only of the polygons holding their point
        out[held_rest] = _to_outline(polygons[held_rest], points[held_rest],
                                     groups=groups[held_rest])
    out[~inside] = 0.0
    return inside, out


def _one_rings(polygons: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    """(which polygons are one ring with a point to measure, their positions, and their
    rings as (x, y, first vertex of each ring and the end, the points' x, y); None if none)."""
    size = shapely.get_num_coordinates(polygons)
    one = (shapely.get_type_id(polygons) == 3) & (shapely.get_num_interior_rings(polygons) == 0)
    one &= (size > 0) & (shapely.get_type_id(points) == 0) & ~shapely.is_empty(points)
    at = np.flatnonzero(one)
    if not at.size:
        return one, at, None
    first = np.zeros(at.size + 1, dtype=np.int64)
    np.cumsum(size[at], out=first[1:])
    xy = shapely.get_coordinates(polygons[at])
    return one, at, (np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), first,
                     shapely.get_x(points[at]), shapely.get_y(points[at]))


def _ring_outline(rings: tuple[np.ndarray, ...]) -> np.ndarray:
    """:func:`_one_rings`' rings' distances to their points (:mod:`._block_kernels`)."""
    from ._block_kernels import kernel

    return np.asarray(kernel("outline")(*rings))


def _to_outline(polygons: np.ndarray, points: np.ndarray, *,
                groups: np.ndarray | None = None) -> np.ndarray:
    """Distance from each point to its polygon's boundary, GEOS's
    ``distance(boundary(polygon), point)`` to the bit: a polygon without holes (nearly every
    block) is measured off its coordinates (:mod:`._block_kernels`: no outline geometry per
    block, 5x faster), the others by GEOS (``groups``: :func:`~._halves.elementwise`'s)."""
    one, at, rings = _one_rings(polygons, points)
    out = np.empty(polygons.shape[0])
    if rings is not None:
        out[at] = _ring_outline(rings)
    rest = np.flatnonzero(~one)
    if rest.size:
        out[rest] = elementwise(_outline_by_geos, polygons[rest], points[rest],
                                groups=None if groups is None else groups[rest])
    return out


def _outline_by_geos(polygons: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance from each point to its polygon's boundary, by GEOS."""
    return np.asarray(shapely.distance(shapely.boundary(polygons), points))


def _positions(ids: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Position in ``ids`` (unique) of each of ``wanted``; a ``wanted`` id not in ``ids`` is
    an error (``get_indexer`` would give -1, the last block's position)."""
    at = pd.Index(ids).get_indexer(wanted)
    if (at < 0).any():
        first = pd.Series(wanted).iloc[int(np.argmax(at < 0))]
        raise InputError(f"access point of block {first!r}: no block with that block_id; "
                         "give every access point the block_id of one of the blocks")
    return at


def _in_crs(frame: gpd.GeoDataFrame, crs: Any) -> np.ndarray:
    """The frame's geometries in ``crs`` (no copy of the frame when they already are)."""
    if frame.crs == crs:
        return frame.geometry.to_numpy()
    return frame.geometry.to_crs(crs).to_numpy()


#: the representative points :func:`~lifecircle.sources.blocks.blocks_from_osm` made of its
#: blocks (:func:`remember_points`), by ``id`` of the blocks frame, until
#: :func:`access_points` takes them or the frame goes
_POINTS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def remember_points(blocks: gpd.GeoDataFrame, points: np.ndarray, known: np.ndarray) -> None:
    """Hand ``points`` (GEOS's ``point_on_surface`` of each block's polygon where ``known``)
    to the next :func:`access_points` call with ``blocks``: the derivation located its faces
    by these points, and most blocks are faces as they were (~0.4 s of GEOS at a million
    nodes)."""
    key = id(blocks)
    if key not in _POINTS:
        weakref.finalize(blocks, _POINTS.pop, key, None)
    # a copy of the array (its pointers: 8 bytes a block): the frame's own would follow a
    # polygon set in place (``blocks.loc[i, "geometry"] = ...``) and pass the identity test
    _POINTS[key] = (blocks.geometry.to_numpy().copy(), points, known)


def _representative(blocks: gpd.GeoDataFrame, rows: np.ndarray) -> np.ndarray:
    """GEOS's ``point_on_surface`` of the polygons of ``blocks`` at ``rows``: the ones
    :func:`remember_points` holds for the same polygon objects at the same rows taken from
    there (the same points), the others made."""
    geoms = blocks.geometry.to_numpy()[rows]
    held = _POINTS.pop(id(blocks), None)
    if held is None or len(held[0]) != len(blocks):
        return elementwise(shapely.point_on_surface, geoms)
    same = held[2][rows] & np.fromiter(map(operator.is_, geoms, held[0][rows]), dtype=bool,
                                       count=rows.size)
    out = np.empty(rows.size, dtype=object)
    out[same] = held[1][rows[same]]
    todo = np.flatnonzero(~same)
    if todo.size:
        out[todo] = elementwise(shapely.point_on_surface, geoms[todo])
    return out


#: gates and entrances farther than this from a block's boundary are not its access points
GATE_TOLERANCE_M = 10.0
#: access values that close a gate or entrance to residents walking out
_CLOSED_ACCESS = frozenset({"private", "no"})


def gates_from_osm(data: OSMData | None, crs: Any) -> gpd.GeoDataFrame:
    """Usable gates and entrances (``barrier=gate``, ``entrance=*``), projected to ``crs``.

    Left out: ``access=private|no`` (``foot=yes|designated`` reopens them for walkers),
    ``entrance=emergency`` and ``locked=yes``.
    """
    rows: list[tuple[str, str, float, float]] = []
    for osm_id, lon, lat, tags in data.gates if data is not None else []:
        foot_open = tags.get("foot") in ("yes", "designated", "permissive")
        if tags.get("access") in _CLOSED_ACCESS and not foot_open:
            continue
        if tags.get("foot") == "no" or tags.get("locked") == "yes":
            continue
        if tags.get("entrance") == "emergency":
            continue
        kind = "gate" if tags.get("barrier") == "gate" else f"entrance={tags.get('entrance')}"
        rows.append((f"node/{osm_id}", kind, lon, lat))
    return gpd.GeoDataFrame(
        {"osm_id": [r[0] for r in rows], "gate_kind": [r[1] for r in rows]},
        geometry=gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows], crs=4326),
    ).to_crs(crs)


def _gates_of_blocks(
    blocks: gpd.GeoDataFrame, gates: gpd.GeoDataFrame, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(block position, gate position) pairs: gates within ``tolerance_m`` of the boundary.

    A gate inside a block belongs to that block; a gate just outside every block (on the
    street side of a wall) belongs to the nearest block whose boundary is within tolerance.
    """
    if gates.empty or blocks.empty:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pts = _in_crs(gates, blocks.crs)
    polys = blocks.geometry.to_numpy()
    # the blocks within tolerance of a gate hold those whose boundary is: only their
    # outlines are made (a city has 10^5 blocks and 10^3 gates)
    g_i, b_i = shapely.STRtree(polys).query(pts, predicate="dwithin", distance=tolerance_m)
    dist = shapely.distance(shapely.boundary(polys[b_i]), pts[g_i])
    near = dist <= tolerance_m
    g_i, b_i, dist = g_i[near], b_i[near], dist[near]
    if g_i.size == 0:
        return b_i, g_i
    inside = shapely.contains(polys[b_i], pts[g_i])
    has_inside = np.zeros(len(gates), dtype=bool)
    has_inside[g_i[inside]] = True
    # gates inside some block: every block that contains them; others: the nearest block
    keep = inside.copy()
    out = np.flatnonzero(~has_inside[g_i])
    if out.size:
        order = out[np.lexsort((b_i[out], dist[out], g_i[out]))]
        first = np.ones(order.size, dtype=bool)
        first[1:] = g_i[order[1:]] != g_i[order[:-1]]
        keep[order[first]] = True
    b_i, g_i = b_i[keep], g_i[keep]
    order = np.lexsort((g_i, b_i))
    return b_i[order], g_i[order]


def _arrow(ids: pd.Series) -> bool:
    """Whether ``ids`` are pandas' Arrow strings without a missing one."""
    return isinstance(ids.array, pd.arrays.ArrowStringArray) and not ids.isna().any()


def _taken(ids: pd.Series, rows: np.ndarray) -> Any:
    """``ids.to_numpy()[rows]`` as the column a frame makes of it (Arrow strings taken as
    they are: not a Python str per block and back)."""
    return ids.array.take(rows) if _arrow(ids) else ids.to_numpy()[rows]


def _suffixed(ids: pd.Series, rows: np.ndarray, suffix: str) -> Any:
    """``[f"{i}{suffix}" for i in ids.to_numpy()[rows]]``, joined by Arrow for Arrow strings
    (a block's id as a Python str and back: ~0.1 s per 10^5 blocks)."""
    if not _arrow(ids):
        return [f"{i}{suffix}" for i in ids.to_numpy()[rows]]
    taken = pa.array(ids.array.take(rows))
    kind = taken.type
    joined = pc.binary_join_element_wise(taken, pa.scalar(suffix, kind), pa.scalar("", kind))
    return type(ids.array)(joined, dtype=ids.dtype)


def access_points(
    blocks: gpd.GeoDataFrame,
    gates: gpd.GeoDataFrame | None = None,
    *,
    gate_tolerance_m: float = GATE_TOLERANCE_M,
) -> gpd.GeoDataFrame:
    """Access points of every block: its gates and entrances, else its representative point.

    A block with gates or entrances (``barrier=gate``, ``entrance=*``) within
    ``gate_tolerance_m`` of its boundary is reached through them only (``ap_kind = "gate"``: a
    walled compound is left through its gates); any other block through its representative
    point (``ap_kind = "centroid"``, always inside the polygon). A block's time is the minimum
    over its access points.
    """
    ids = blocks["block_id"]
    if gates is None:
        gates = gpd.GeoDataFrame({"osm_id": [], "gate_kind": []}, geometry=[], crs=blocks.crs)
    b_i, g_i = _gates_of_blocks(blocks, gates, gate_tolerance_m)
    gated = np.zeros(len(blocks), dtype=bool)
    gated[b_i] = True
    rest = np.flatnonzero(~gated)
    gate_pts = _in_crs(gates, blocks.crs)
    gate_ids = gates["osm_id"].to_numpy(dtype=object)
    centre = gpd.GeoDataFrame(
        {
            "ap_id": _suffixed(ids, rest, "/rep"),
            "block_id": _taken(ids, rest),
            "ap_kind": "centroid",
            "gate_osm_id": None,
            "_order": rest.astype(np.float64),
        },
        geometry=_representative(blocks, rest),
        crs=blocks.crs,
    )
    gate = gpd.GeoDataFrame(
        {
            "ap_id": [f"{b}/{g}" for b, g in zip(np.asarray(_taken(ids, b_i), dtype=object),
                                                 gate_ids[g_i], strict=True)],
            "block_id": _taken(ids, b_i),
            "ap_kind": "gate",
            "gate_osm_id": gate_ids[g_i],
            "_order": b_i + np.arange(b_i.size) / max(b_i.size, 1) * 0.5,
        },
        geometry=gate_pts[g_i],
        crs=blocks.crs,
    )
    frames = [f for f in (centre, gate) if not f.empty] or [centre]
    out = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable")
    out = out.drop(columns="_order").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=blocks.crs)
