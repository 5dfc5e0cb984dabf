"""Access points of facilities: where a walk to a point, polygon or line facility ends.

Access points (:func:`access_points_of`): a point facility is reached at its point. A polygon
facility (a hospital campus, a park, a school ground) is reached at a representative point of
each of its polygons and, where a polygon is large (over :data:`LARGE_AREA_M2` or
:data:`LARGE_SIDE_M` across), also at its entrances (OSM ``entrance=*`` or ``barrier=gate``
nodes on its outline) or, without any, at points every :data:`BOUNDARY_SPACING_M` along its
outline. Each access point is one row: ``facility_id`` names the facility (searches seed from
every row, and the nearest facility is named by this id), ``access_id`` the row itself
(``facility_id`` for the facility's first point, ``<facility_id>@<kind>-<k>`` for the others),
``access_kind`` how it was made (``point``, ``representative``, ``entrance``, ``boundary``). Floor
area stays on the first row only. A MultiPoint feature is one facility per point
(``<id>#1``, ``<id>#2``, ...).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .._geo import utm_crs_at

log = logging.getLogger(__name__)

__all__ = [
    "BOUNDARY_SPACING_M",
    "ENTRANCE_TOLERANCE_M",
    "LARGE_AREA_M2",
    "LARGE_SIDE_M",
    "MAX_BOUNDARY_POINTS",
    "access_point_summary",
    "access_points_of",
    "facility_counts",
    "is_first_access_point",
    "primary_rows",
    "utm_of",
]

#: a polygon facility at least this large (1 ha) is reached at several points of its outline
LARGE_AREA_M2 = 10_000.0
#: ... or at least this long (longest side of its minimum rotated rectangle)
LARGE_SIDE_M = 100.0
#: entrances and gates this close to a large polygon's outline are its access points
ENTRANCE_TOLERANCE_M = 10.0
#: without entrances, one boundary access point per this much outline ...
BOUNDARY_SPACING_M = 100.0
#: ... but at least 4 and at most this many per polygon (a 10 km park outline gets 16)
MAX_BOUNDARY_POINTS = 16
#: a bounding-box diagonal below LARGE_SIDE_M times this is surely no side that long (the
#: margin covers rounding in GEOS's rectangle, ~1e-12 relative)
_SIDE_MARGIN = 1.0 - 1e-9
#: kinds of an access point that is the facility itself (one per facility)
_FIRST_KINDS = ("point", "representative")

@functools.lru_cache(maxsize=64)
def _utm_at(lon: float, lat: float) -> pyproj.CRS:
    # estimate_utm_crs's choice (where no zone holds the point, its error)
    return utm_crs_at(lon, lat) or gpd.GeoSeries([shapely.Point(lon, lat)],
                                                 crs=4326).estimate_utm_crs()


def utm_of(geoms: gpd.GeoSeries) -> pyproj.CRS:
    """The UTM zone of WGS 84 geometries (their bounds' centre, to 0.1 degree)."""
    w, s, e, n = geoms.total_bounds
    return _utm_at(round((w + e) / 2, 1), round((s + n) / 2, 1))


def _longest_side_m(poly: Any) -> float:
    """Longest side of a projected polygon's minimum rotated rectangle, in metres."""
    return float(_longest_sides_m(np.array([poly], dtype=object))[0])


def _longest_sides_m(parts: np.ndarray) -> np.ndarray:
    """The longest side of each projected polygon's minimum rotated rectangle, in metres."""
    xy, at = shapely.get_coordinates(shapely.minimum_rotated_rectangle(parts),
                                     return_index=True)
    out = np.zeros(parts.shape[0])
    if at.size > 1:
        same = at[1:] == at[:-1]
        step = np.hypot(*np.diff(xy, axis=0).T)[same]
        np.maximum.at(out, at[1:][same], step)
    return out


_Block = tuple[np.ndarray, np.ndarray, str, list[str], np.ndarray]


def _polygon_access_points(
    parts: np.ndarray, owner: np.ndarray, ent_pts: np.ndarray, ent_ids: np.ndarray
) -> tuple[list[_Block], int]:
    """The access points of projected polygon parts (sorted by owner, largest first).

    Returns three blocks, ``(source row, order, kind, id suffix, points)`` each (the
    representative points, the entrances of large parts, the boundary points of large parts
    without entrances), and the number of large parts.
    """
    k = np.arange(owner.size) - np.searchsorted(owner, owner) + 1  # part number in its row
    reps: _Block = (owner, k, "representative",
                    ["" if j == 1 else f"@part-{j}" for j in k.tolist()],
                    shapely.point_on_surface(parts))
    small = shapely.area(parts) < LARGE_AREA_M2
    # a side of the minimum rotated rectangle is an extent of the polygon, at most its
    # bounding box's diagonal: only a part whose diagonal nears LARGE_SIDE_M needs the
    # rectangle (GEOS's, the slowest call here), the rest are clearly shorter
    x0, y0, x1, y1 = shapely.bounds(parts).T
    doubt = np.flatnonzero(small & (np.hypot(x1 - x0, y1 - y0) >= LARGE_SIDE_M * _SIDE_MARGIN))
    small[doubt] = _longest_sides_m(parts[doubt]) < LARGE_SIDE_M
    large = np.flatnonzero(~small)
    has_ent = np.zeros(large.size, dtype=bool)
    e_part = e_pt = np.empty(0, dtype=np.int64)
    if ent_pts.size and large.size:
        q, e_pt = shapely.STRtree(ent_pts).query(
            shapely.boundary(parts[large]), predicate="dwithin", distance=ENTRANCE_TOLERANCE_M)
        by = np.lexsort((e_pt, q))
        q, e_pt = q[by], e_pt[by]
        has_ent[q] = True
        e_part = large[q]
    m = np.arange(e_part.size) - np.searchsorted(e_part, e_part)
    ents: _Block = (owner[e_part], 1000 * k[e_part] + m + 1, "entrance",
                    [f"@entrance-{i}" for i in ent_ids[e_pt].tolist()], ent_pts[e_pt])
    plain = large[~has_ent]
    rings = shapely.get_exterior_ring(parts[plain])
    length = shapely.length(rings)
    count = np.clip(np.ceil(length / BOUNDARY_SPACING_M), 4, MAX_BOUNDARY_POINTS).astype(np.int64)
    b_part = np.repeat(plain, count)
    b_m = np.arange(b_part.size) - np.repeat(np.cumsum(count) - count, count)
    b_len, b_n = np.repeat(length, count), np.repeat(count, count)
    bounds: _Block = (owner[b_part], 1000 * k[b_part] + b_m + 1, "boundary",
                      [f"@boundary-{a}.{b + 1}" for a, b in zip(k[b_part].tolist(),
                                                                b_m.tolist(), strict=True)],
                      shapely.line_interpolate_point(np.repeat(rings, count),
                                                     (b_m + 0.5) * b_len / b_n))
    return [reps, ents, bounds], int(large.size)


def _parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The polygons of ``geoms`` (polygons and multipolygons) and the index of each one's
    geometry: polygons as they are (``get_parts`` would copy each), multipolygons split."""
    multi = np.flatnonzero(shapely.get_type_id(geoms) == 6)
    if not multi.size:
        return geoms, np.arange(geoms.shape[0])
    split, at = shapely.get_parts(geoms[multi], return_index=True)
    single = np.setdiff1d(np.arange(geoms.shape[0]), multi)
    owner = np.concatenate([single, multi[at]])
    order = np.argsort(owner, kind="stable")  # get_parts' order: by geometry, parts in turn
    return np.concatenate([geoms[single], split])[order], owner[order]


def _split_multipoints(frame: gpd.GeoDataFrame, where: str) -> gpd.GeoDataFrame:
    """One facility per point of a MultiPoint feature, ids ``<id>#1``, ``<id>#2``, ..."""
    geoms = frame.geometry.to_numpy()
    multi = (shapely.get_type_id(geoms) == 4) & (shapely.get_num_geometries(geoms) > 1)
    if not multi.any():
        return frame
    parts, owner = shapely.get_parts(geoms, return_index=True)
    out = frame.iloc[owner].copy()
    k = np.arange(len(owner)) - np.searchsorted(owner, owner)  # 0-based position in owner
    split = multi[owner]
    ids = out["facility_id"].astype(str).to_numpy(dtype=object)
    ids[split] = [f"{i}#{j + 1}" for i, j in zip(ids[split], k[split], strict=True)]
    out["facility_id"] = ids
    later = split & (k > 0)
    if "floor_area_m2" in out:  # one area for several facilities: kept on the first only
        out.loc[later, "floor_area_m2"] = np.nan
        out.loc[later, "area_source"] = "unknown"
    out = out.set_geometry(parts).reset_index(drop=True)
    log.warning(
        "%s: %d MultiPoint features were split into %d facilities, one per point (ids such as %s)",
        where,
        int(multi.sum()),
        int(split.sum()),
        ", ".join(ids[split][:2]),
    )
    return out


def access_points_of(
    frame: gpd.GeoDataFrame,
    *,
    entrances: gpd.GeoDataFrame | None = None,
    where: str = "facilities",
) -> gpd.GeoDataFrame:
    """One row per access point of each facility (WGS 84 points; see the module notes).

    ``frame`` holds one row per facility (WGS 84) with a ``facility_id`` and any geometry:
    points stay as they are, MultiPoints become one facility per point, polygons are reached
    at a representative point per polygon plus, for large ones, their ``entrances`` (WGS 84
    points with an ``osm_id``) within :data:`ENTRANCE_TOLERANCE_M` of the outline, else points
    along the outline; lines at a point on them. Adds ``access_id`` and ``access_kind``.
    """
    frame = _split_multipoints(frame.reset_index(drop=True), where)
    geoms = frame.geometry.to_numpy()
    ids = frame["facility_id"].astype(str).to_numpy(dtype=object)
    type_id = shapely.get_type_id(geoms)
    poly_rows = np.flatnonzero(np.isin(type_id, (3, 6)))
    other = np.flatnonzero(~np.isin(type_id, (3, 6)))
    # (source row, order within the row, kind, id suffix, point) per access point
    src: list[int] = other.tolist()
    order: list[int] = [0] * other.size
    kind: list[str] = ["point" if t == 0 else "representative" for t in type_id[other]]
    suffix: list[str] = [""] * other.size
    points: list[Any] = list(shapely.point_on_surface(geoms[other]))
    if poly_rows.size:
        polys = gpd.GeoSeries(geoms[poly_rows], crs=4326)
        utm = utm_of(polys)
        parts, owner = _parts(polys.to_crs(utm).to_numpy())
        owner = poly_rows[owner]
        rank = np.lexsort((-shapely.area(parts), owner))  # each facility's largest part first
        parts, owner = parts[rank], owner[rank]
        ent_pts = np.empty(0, dtype=object)
        ent_ids = np.empty(0, dtype=object)
        if entrances is not None and not entrances.empty:
            ent_pts = entrances.to_crs(utm).geometry.to_numpy()
            ent_ids = entrances["osm_id"].astype(str).to_numpy(dtype=object)
        blocks, n_large = _polygon_access_points(parts, owner, ent_pts, ent_ids)
        projected: list[Any] = []
        for b_src, b_order, b_kind, b_suffix, b_points in blocks:
            src.extend(b_src.tolist())
            order.extend(b_order.tolist())
            kind.extend([b_kind] * b_src.size)
            suffix.extend(b_suffix)
            projected.extend(b_points)
        back = gpd.GeoSeries(projected, crs=utm).to_crs(4326).to_numpy()
        points.extend(back)
        log.warning(
            "%s: %d polygon facilities are reached at a representative point per polygon; "
            "%d large polygons (over %g ha or %g m across) also at %d entrances and %d points "
            "along their outline (access_kind in the facilities layer)",
            where,
            poly_rows.size,
            n_large,
            LARGE_AREA_M2 / 10_000,
            LARGE_SIDE_M,
            blocks[1][0].size,
            blocks[2][0].size,
        )
    src_a = np.asarray(src, dtype=np.int64)
    rank = np.lexsort((np.asarray(order), src_a))
    out = frame.drop(columns=frame.geometry.name).iloc[src_a[rank]].reset_index(drop=True)
    kinds = np.asarray(kind, dtype=object)[rank]
    tails = np.asarray(suffix, dtype=object)[rank]
    out["access_id"] = [f"{i}{t}" for i, t in zip(ids[src_a[rank]], tails, strict=True)]
    out["access_kind"] = kinds
    later = ~np.isin(kinds, _FIRST_KINDS) | (tails != "")
    if "floor_area_m2" in out:  # a facility's floor area is counted once, on its first row
        out.loc[later, "floor_area_m2"] = np.nan
        out.loc[later, "area_source"] = "access_point"
    geometry = np.asarray(points, dtype=object)[rank]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs=4326), crs=4326)


def is_first_access_point(facilities: pd.DataFrame) -> np.ndarray:
    """True on each facility's first row (the one that counts it, its floor area, capacity)."""
    if "access_id" not in facilities.columns:
        return np.ones(len(facilities), dtype=bool)
    access = facilities["access_id"]
    return (access.isna() | (access == facilities["facility_id"])).to_numpy(dtype=bool)


def primary_rows(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per facility: the first access point of each (for counts and floor areas)."""
    return facilities[is_first_access_point(facilities)]


def facility_keys(facilities: pd.DataFrame) -> pd.Series:
    """Which facility each row (access point) belongs to: its id within its category."""
    return facilities["facility_id"].astype(str) + "\x00" + facilities["category"].astype(str)


def facility_counts(facilities: pd.DataFrame) -> dict[str, int]:
    """The run metadata's counts: facilities, their access points (rows), and the
    facilities none of whose access points snapped to the network."""
    ids = facility_keys(facilities)
    total = int(ids.nunique())
    reached = int(ids[(facilities["snap_status"] == "snapped").to_numpy()].nunique())
    return {"total": total, "access_points": len(facilities), "unreachable": total - reached}


def access_point_summary(facilities: pd.DataFrame) -> dict[str, Any]:
    """Counts for the report: facilities, access points, and how polygons were reached."""
    kinds = (
        facilities["access_kind"].fillna("point")
        if "access_kind" in facilities.columns
        else pd.Series("point", index=facilities.index)
    )
    ids = facility_keys(facilities)
    polygons = ids[kinds == "representative"].nunique()
    large = ids[kinds.isin(["entrance", "boundary"])].nunique()
    return {
        "facilities": int(ids.nunique()),
        "access_points": len(facilities),
        "access_points_by_kind": {str(k): int(n) for k, n in kinds.value_counts().items()},
        "polygon_facilities": int(polygons),
        "large_polygon_facilities": int(large),
    }
