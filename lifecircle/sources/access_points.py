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
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

log = logging.getLogger(__name__)

__all__ = [
    "BOUNDARY_SPACING_M",
    "ENTRANCE_TOLERANCE_M",
    "LARGE_AREA_M2",
    "LARGE_SIDE_M",
    "MAX_BOUNDARY_POINTS",
    "access_point_summary",
    "access_points_of",
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
#: kinds of an access point that is the facility itself (one per facility)
_FIRST_KINDS = ("point", "representative")

@functools.lru_cache(maxsize=64)
def _utm_at(lon: float, lat: float) -> pyproj.CRS:
    # the pyproj database query behind estimate_utm_crs costs ~0.5 s: once per place
    return gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).estimate_utm_crs()


def utm_of(geoms: gpd.GeoSeries) -> pyproj.CRS:
    """The UTM zone of WGS 84 geometries (their bounds' centre, to 0.1 degree)."""
    w, s, e, n = geoms.total_bounds
    return _utm_at(round((w + e) / 2, 1), round((s + n) / 2, 1))


def _longest_side_m(poly: Any) -> float:
    """Longest side of a projected polygon's minimum rotated rectangle, in metres."""
    corners = shapely.get_coordinates(shapely.minimum_rotated_rectangle(poly))
    if len(corners) < 2:
        return 0.0
    return float(np.max(np.hypot(*np.diff(corners, axis=0).T)))


def _boundary_points(poly: Any) -> np.ndarray:
    """Points spread evenly along a projected polygon's outer ring."""
    ring = shapely.get_exterior_ring(poly)
    length = float(shapely.length(ring))
    n = int(np.clip(math.ceil(length / BOUNDARY_SPACING_M), 4, MAX_BOUNDARY_POINTS))
    return shapely.line_interpolate_point(ring, (np.arange(n) + 0.5) * length / n)


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
    extra = {"entrance": 0, "boundary": 0, "large": 0}
    if poly_rows.size:
        polys = gpd.GeoSeries(geoms[poly_rows], crs=4326)
        utm = utm_of(polys)
        parts, owner = shapely.get_parts(polys.to_crs(utm).to_numpy(), return_index=True)
        owner = poly_rows[owner]
        rank = np.lexsort((-shapely.area(parts), owner))  # each facility's largest part first
        parts, owner = parts[rank], owner[rank]
        ent_pts = np.empty(0, dtype=object)
        ent_ids = np.empty(0, dtype=object)
        if entrances is not None and not entrances.empty:
            ent_pts = entrances.to_crs(utm).geometry.to_numpy()
            ent_ids = entrances["osm_id"].astype(str).to_numpy(dtype=object)
        tree = shapely.STRtree(ent_pts)
        projected: list[Any] = []
        part_no = np.zeros(len(frame), dtype=np.int64)
        for part, row in zip(parts, owner, strict=True):
            part_no[row] += 1
            k = int(part_no[row])
            src.append(int(row))
            order.append(k)
            kind.append("representative")
            suffix.append("" if k == 1 else f"@part-{k}")
            projected.append(shapely.point_on_surface(part))
            if part.area < LARGE_AREA_M2 and _longest_side_m(part) < LARGE_SIDE_M:
                continue
            extra["large"] += 1
            near = (
                tree.query(
                    shapely.boundary(part), predicate="dwithin", distance=ENTRANCE_TOLERANCE_M
                )
                if ent_pts.size
                else []
            )
            if len(near):
                found = [(f"@entrance-{ent_ids[j]}", ent_pts[j]) for j in sorted(near)]
                extra["entrance"] += len(found)
                new_kind = "entrance"
            else:
                found = [("", q) for q in _boundary_points(part)]
                extra["boundary"] += len(found)
                new_kind = "boundary"
            for m, (tail, q) in enumerate(found):
                src.append(int(row))
                order.append(1000 * k + m + 1)
                kind.append(new_kind)
                suffix.append(tail or f"@boundary-{k}.{m + 1}")
                projected.append(q)
        back = gpd.GeoSeries(projected, crs=utm).to_crs(4326).to_numpy()
        points.extend(back)
        log.warning(
            "%s: %d polygon facilities are reached at a representative point per polygon; "
            "%d large polygons (over %g ha or %g m across) also at %d entrances and %d points "
            "along their outline (access_kind in the facilities layer)",
            where,
            poly_rows.size,
            extra["large"],
            LARGE_AREA_M2 / 10_000,
            LARGE_SIDE_M,
            extra["entrance"],
            extra["boundary"],
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


def access_point_summary(facilities: pd.DataFrame) -> dict[str, Any]:
    """Counts for the report: facilities, access points, and how polygons were reached."""
    kinds = (
        facilities["access_kind"].fillna("point")
        if "access_kind" in facilities.columns
        else pd.Series("point", index=facilities.index)
    )
    ids = facilities["facility_id"].astype(str) + "\x00" + facilities["category"].astype(str)
    polygons = ids[kinds == "representative"].nunique()
    large = ids[kinds.isin(["entrance", "boundary"])].nunique()
    return {
        "facilities": int(ids.nunique()),
        "access_points": len(facilities),
        "access_points_by_kind": {str(k): int(n) for k, n in kinds.value_counts().items()},
        "polygon_facilities": int(polygons),
        "large_polygon_facilities": int(large),
    }
