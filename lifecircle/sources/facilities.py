"""Facilities: from OSM tags by profile category, or from a user file.

OSM points of interest are matched to categories by the profile's tag rules. A POI whose tags
match no category but whose name contains a category
keyword (standards §4, for untagged Chinese POIs) is kept with ``source='name_keyword'``; the
``match`` column says how every facility was recognised (``tag``, ``name_keyword``,
``category_column``, ``type_map``).

A user file (CSV, GeoJSON, GeoPackage, ...) with a ``category`` column replaces the OSM
facilities of the categories it contains. A POI table from a Chinese map service can instead
name its categories through a type column and a prefix table (:func:`read_type_map`): the
longest matching prefix decides.

Floor area (for the plan's m² per 100 households): a user ``area_m2`` column, else an OSM
building polygon's footprint × ``building:levels``; otherwise it is unknown (NaN), never guessed.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .._errors import InputError, InputFileError, did_you_mean
from ..profiles import Profile
from .blocks import gates_from_osm
from .osm import OSMData
from .tables import read_points, unique_ids

log = logging.getLogger(__name__)

__all__ = [
    "FACILITY_COLUMNS",
    "access_point_summary",
    "access_points_of",
    "categories_from_types",
    "facilities_from_osm",
    "is_first_access_point",
    "merge_facilities",
    "primary_rows",
    "read_facilities",
    "read_type_map",
]

FACILITY_COLUMNS = [
    "facility_id",
    "category",
    "name",
    "source",
    "osm_tag",
    "match",
    "floor_area_m2",
    "area_source",
    "access_id",
    "access_kind",
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


def _levels(tags: Mapping[str, str]) -> float:
    """``building:levels`` as a positive number, else NaN (never a default)."""
    try:
        value = float(tags.get("building:levels", "").replace(",", "."))
    except ValueError:
        return float("nan")
    return value if math.isfinite(value) and value > 0 else float("nan")


@functools.lru_cache(maxsize=64)
def _utm_at(lon: float, lat: float) -> pyproj.CRS:
    # the pyproj database query behind estimate_utm_crs costs ~0.5 s: once per place
    return gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).estimate_utm_crs()


def _utm_of(geoms: gpd.GeoSeries) -> pyproj.CRS:
    """The UTM zone of WGS 84 geometries (their bounds' centre, to 0.1 degree)."""
    w, s, e, n = geoms.total_bounds
    return _utm_at(round((w + e) / 2, 1), round((s + n) / 2, 1))


def _footprints_m2(wkb: list[bytes]) -> np.ndarray:
    """Areas in m² of WGS 84 polygons, in their local UTM zone."""
    if not wkb:
        return np.empty(0)
    polys = gpd.GeoSeries(shapely.from_wkb(wkb), crs=4326)
    return polys.to_crs(_utm_of(polys)).area.to_numpy()


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
        utm = _utm_of(polys)
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


def _matched_tag(tags: dict[str, str], profile: Profile, category: str) -> str:
    for rule in profile.categories[category].tags:
        if rule.matches(tags):
            return ";".join(f"{k}={tags[k]}" for k in rule.keys)
    return ""


def facilities_from_osm(
    data: OSMData, profile: Profile, *, name_keywords: bool = True
) -> gpd.GeoDataFrame:
    """Facilities of every profile category found in an OSM pass (WGS 84 points).

    One row per access point (:func:`access_points_of`); OSM entrances and gates on a large
    polygon's outline are its access points.
    """
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    area_wkb = [p[5] for p in data.pois if p[5] is not None]
    areas = iter(shapely.from_wkb(area_wkb)) if area_wkb else iter(())
    building_wkb = [p[5] for p in data.pois if p[5] is not None and "building" in p[4]]
    footprints = iter(_footprints_m2(building_wkb))
    for osm_type, osm_id, lon, lat, tags, blob in data.pois:
        point = next(areas) if blob is not None else shapely.Point(lon, lat)
        floor_area, area_source = float("nan"), "unknown"
        if blob is not None and "building" in tags:
            footprint = float(next(footprints))
            levels = _levels(tags)
            if math.isfinite(levels):
                floor_area, area_source = footprint * levels, "osm_footprint_x_levels"
        matched = [c for c, cat in profile.categories.items() if cat.matches(tags)]
        source = "osm"
        if not matched and name_keywords:
            name = tags.get("name", "") + " " + tags.get("name:zh", "")
            matched = [
                c
                for c, cat in profile.categories.items()
                if any(k in name for k in cat.name_keywords)
            ]
            source = "name_keyword"
        for category in matched:
            rows.append(
                {
                    "facility_id": f"{osm_type}/{osm_id}",
                    "category": category,
                    "name": tags.get("name", tags.get("name:en", "")),
                    "source": source,
                    "osm_tag": _matched_tag(tags, profile, category)
                    if source == "osm"
                    else "name=" + tags.get("name", ""),
                    "match": "tag" if source == "osm" else "name_keyword",
                    "floor_area_m2": floor_area,
                    "area_source": area_source,
                }
            )
            geoms.append(point)
    frame = pd.DataFrame(rows, columns=FACILITY_COLUMNS[:-2])
    found = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    return access_points_of(found, entrances=gates_from_osm(data, 4326), where=str(data.path))


def read_facilities(
    path: str | Path,
    profile: Profile,
    *,
    crs: str | None = None,
    category_col: str = "category",
    name_col: str = "name",
    id_col: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
    type_map: str | Path | None = None,
    type_col: str = "type",
    area_col: str = "area_m2",
    extra_cols: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a user facility file; returns WGS 84 access points with the facility columns.

    Polygons, lines and MultiPoints become access points as :func:`access_points_of` says.

    ``crs`` declares the coordinates of a CSV (default: WGS 84 longitude/latitude) or
    overrides a file without one; ``"gcj02"`` and ``"bd09"`` convert Chinese map-service
    coordinates to WGS 84.

    With ``type_map`` (a CSV of ``prefix,category`` rows, see :func:`read_type_map`) the
    category of each row comes from its ``type_col`` value instead of ``category_col``: the
    longest matching prefix decides. Rows no prefix matches are left out and reported in
    ``attrs["type_map"]`` (count and first examples). ``area_col``, when present, gives each
    facility's floor area in m². ``extra_cols`` (output name -> file column, e.g.
    ``{"staff": "staff"}``) are kept as text where the file has them (read by
    :mod:`lifecircle.targets`).
    """
    path = Path(path)
    gdf = read_points(
        path,
        crs=crs,
        x_col=x_col,
        y_col=y_col,
        what="facility",
        text_cols=(type_col,) if type_map is not None else (),
        shapes=True,
    )
    type_report: dict[str, Any] | None = None
    if type_map is not None:
        if type_col not in gdf.columns:
            raise InputFileError(
                path,
                f"no type column {type_col!r}{did_you_mean(type_col, map(str, gdf.columns))}"
                f"; columns found: {', '.join(map(str, gdf.columns))}",
                "name the POI type column with --type-col",
            )
        rules = read_type_map(type_map, profile)
        mapped = categories_from_types(gdf[type_col], rules)
        unmatched = mapped.isna()
        examples = list(dict.fromkeys(gdf.loc[unmatched, type_col].astype(str)))[:5]
        type_report = {
            "type_map": str(type_map),
            "type_col": type_col,
            "rows": len(gdf),
            "matched": int((~unmatched).sum()),
            "unmatched": int(unmatched.sum()),
            "unmatched_examples": examples,
        }
        if unmatched.any():
            log.warning(
                "%s: %d of %d rows match no prefix of %s (e.g. %s); they are left out",
                path,
                int(unmatched.sum()),
                len(gdf),
                type_map,
                ", ".join(examples),
            )
        if unmatched.all():
            raise InputFileError(
                path,
                f"no {type_col!r} value matches a prefix of {type_map} "
                f"(values such as {', '.join(examples)})",
                "add prefixes for these types to the type map",
            )
        gdf = gdf.loc[~unmatched].copy()
        gdf["_category"] = mapped[~unmatched].to_numpy()
        category_col = "_category"
    if category_col not in gdf.columns:
        raise InputFileError(
            path,
            f"no {category_col!r} column{did_you_mean(category_col, map(str, gdf.columns))}"
            f"; columns found: {', '.join(map(str, gdf.columns))}",
            "add a category column or name it with --category-col",
        )
    cats = gdf[category_col].astype("string").str.strip()
    bad = cats.isna() | ~cats.isin(list(profile.categories))
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        value = cats.iloc[first]
        raise InputFileError(
            path,
            f"row {first + 1}: category {value!r} is not in profile {profile.name!r}"
            f"{did_you_mean(str(value), profile.categories)}",
            f"use one of {', '.join(profile.categories)}",
        )
    if id_col is None:
        id_col = next((c for c in ("facility_id", "id") if c in gdf.columns), None)
    if id_col is not None:
        ids = pd.Series("user/" + unique_ids(gdf, id_col, path, "facility"), index=gdf.index)
    else:
        ids = pd.Series([f"user/row{i + 1}" for i in range(len(gdf))], index=gdf.index)
    names = gdf[name_col].astype("string").fillna("") if name_col in gdf.columns else ""
    if area_col in gdf.columns:
        area = pd.to_numeric(gdf[area_col], errors="coerce").to_numpy(dtype=np.float64)
        area = np.where(np.isfinite(area) & (area > 0), area, np.nan)
    else:
        area = np.full(len(gdf), np.nan)
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy(),
            "category": cats.to_numpy(),
            "name": names if isinstance(names, str) else names.to_numpy(),
            "source": "user",
            "osm_tag": "",
            "match": "type_map" if type_report is not None else "category_column",
            "floor_area_m2": area,
            "area_source": np.where(np.isfinite(area), "user", "unknown"),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )
    if "capacity" in gdf.columns:  # places or beds, for capacitated siting and 2SFCA
        out["capacity"] = pd.to_numeric(gdf["capacity"], errors="coerce").to_numpy(np.float64)
    for name, src in (extra_cols or {}).items():
        if src in gdf.columns:
            out[name] = gdf[src].astype("string").str.strip().to_numpy()
    out = access_points_of(out, where=str(path))
    if type_report is not None:
        out.attrs["type_map"] = type_report
    return out


def read_type_map(path: str | Path, profile: Profile) -> list[tuple[str, str]]:
    """Read a ``prefix,category`` CSV (a header row naming both columns).

    Prefixes are matched against the start of a POI's type value, e.g. a 高德 typecode
    ``0901`` or a type name ``医疗保健服务;诊所``. Returns ``(prefix, category)`` pairs,
    longest prefix first.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "type map not found", "give a CSV with prefix,category rows")
    try:
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(
            path, f"could not be read as CSV ({exc})", "save it as UTF-8 CSV: prefix,category"
        ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not {"prefix", "category"} <= set(frame.columns):
        raise InputFileError(
            path,
            f"needs the columns prefix and category; columns found: {', '.join(frame.columns)}",
            "add the header row prefix,category",
        )
    rules: list[tuple[str, str]] = []
    for i, (prefix, category) in enumerate(zip(frame["prefix"], frame["category"], strict=True)):
        prefix, category = prefix.strip(), category.strip()
        if not prefix:
            raise InputFileError(path, f"row {i + 1}: empty prefix", "give every row a prefix")
        if category not in profile.categories:
            raise InputFileError(
                path,
                f"row {i + 1}: category {category!r} is not in profile {profile.name!r}"
                f"{did_you_mean(category, profile.categories)}",
                f"use one of {', '.join(profile.categories)}",
            )
        rules.append((prefix, category))
    if not rules:
        raise InputFileError(path, "has no rows", "add prefix,category rows")
    return sorted(rules, key=lambda r: -len(r[0]))


def categories_from_types(values: pd.Series, rules: list[tuple[str, str]]) -> pd.Series:
    """The category of each type value by longest matching prefix (NA where none matches).

    A value may list several types separated by ``|`` (as 高德 does); the longest prefix
    matching any of them wins.
    """
    ordered = sorted(rules, key=lambda r: -len(r[0]))

    def one(value: str | None) -> str | None:
        if value is None:
            return None
        best: tuple[int, str] | None = None
        for part in str(value).split("|"):
            part = part.strip()
            for prefix, category in ordered:
                if part.startswith(prefix):
                    if best is None or len(prefix) > best[0]:
                        best = (len(prefix), category)
                    break
        return None if best is None else best[1]

    # hand-written: no library offers longest-prefix lookup over a few dozen prefixes, and the
    # loop runs once per distinct value
    keys = [None if pd.isna(v) else str(v) for v in values]
    unique = {k: one(k) for k in dict.fromkeys(keys)}
    return pd.Series([unique[k] for k in keys], index=values.index, dtype="object")


def merge_facilities(osm: gpd.GeoDataFrame, user: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """OSM facilities, with the categories present in ``user`` replaced by the user's."""
    if user is None or user.empty:
        return osm
    keep = osm[~osm["category"].isin(user["category"].unique())]
    user = user.to_crs(osm.crs)
    if keep.empty:  # concatenating an empty frame would turn every column into text
        return gpd.GeoDataFrame(user.reset_index(drop=True), crs=osm.crs)
    return gpd.GeoDataFrame(pd.concat([keep, user], ignore_index=True), crs=osm.crs)


def check_not_swapped(
    points: gpd.GeoDataFrame,
    bounds_lonlat: Sequence[float],
    *,
    where: str,
    margin_deg: float = 0.05,
) -> None:
    """Refuse points whose longitude and latitude look swapped relative to the network.

    Most points outside the network's box but inside it once swapped means swapped columns.
    """
    if points.empty:
        return
    pts = (
        points.to_crs(4326)
        if points.crs and not pyproj.CRS(points.crs).equals(pyproj.CRS(4326))
        else points
    )
    x = pts.geometry.x.to_numpy()
    y = pts.geometry.y.to_numpy()
    w, s, e, n = bounds_lonlat
    w, s, e, n = w - margin_deg, s - margin_deg, e + margin_deg, n + margin_deg
    inside = (x >= w) & (x <= e) & (y >= s) & (y <= n)
    inside_swapped = (y >= w) & (y <= e) & (x >= s) & (x <= n)
    if inside.mean() < 0.5 and inside_swapped.mean() >= 0.5:
        raise InputError(
            f"{where}: {int((~inside).sum())} of {len(x)} points lie outside the network "
            f"but inside it with longitude and latitude swapped; swap the coordinate "
            f"columns (or name them with --x-col / --y-col)"
        )
