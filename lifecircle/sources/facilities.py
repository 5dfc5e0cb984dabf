"""Facilities: from OSM tags by profile category, or from a user file.

OSM points of interest are matched to categories by the profile's tag rules; polygons become
representative points. A POI whose tags match no category but whose name contains a category
keyword (standards §4, for untagged Chinese POIs) is kept with ``source='name_keyword'``.

A user file (CSV, GeoJSON, GeoPackage, ...) with a ``category`` column replaces the OSM
facilities of the categories it contains.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .._errors import InputError, InputFileError, did_you_mean
from ..profiles import Profile
from .osm import OSMData
from .tables import read_points, unique_ids

__all__ = ["FACILITY_COLUMNS", "facilities_from_osm", "merge_facilities", "read_facilities"]

FACILITY_COLUMNS = ["facility_id", "category", "name", "source", "osm_tag"]


def _matched_tag(tags: dict[str, str], profile: Profile, category: str) -> str:
    for rule in profile.categories[category].tags:
        if rule.matches(tags):
            return ";".join(f"{k}={tags[k]}" for k in rule.keys)
    return ""


def facilities_from_osm(
    data: OSMData, profile: Profile, *, name_keywords: bool = True
) -> gpd.GeoDataFrame:
    """Facilities of every profile category found in an OSM pass (WGS 84 points)."""
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    area_wkb = [p[5] for p in data.pois if p[5] is not None]
    area_points = (
        iter(shapely.point_on_surface(shapely.from_wkb(area_wkb))) if area_wkb else iter(())
    )
    for osm_type, osm_id, lon, lat, tags, blob in data.pois:
        point = next(area_points) if blob is not None else shapely.Point(lon, lat)
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
                }
            )
            geoms.append(point)
    frame = pd.DataFrame(rows, columns=FACILITY_COLUMNS)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


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
) -> gpd.GeoDataFrame:
    """Read a user facility file; returns WGS 84 points with the facility columns.

    ``crs`` declares the coordinates of a CSV (default: WGS 84 longitude/latitude) or
    overrides a file without one; ``"gcj02"`` and ``"bd09"`` convert Chinese map-service
    coordinates to WGS 84.
    """
    path = Path(path)
    gdf = read_points(path, crs=crs, x_col=x_col, y_col=y_col, what="facility")
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
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy(),
            "category": cats.to_numpy(),
            "name": names if isinstance(names, str) else names.to_numpy(),
            "source": "user",
            "osm_tag": "",
        },
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )
    return out


def merge_facilities(osm: gpd.GeoDataFrame, user: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """OSM facilities, with the categories present in ``user`` replaced by the user's."""
    if user is None or user.empty:
        return osm
    keep = osm[~osm["category"].isin(user["category"].unique())]
    return gpd.GeoDataFrame(pd.concat([keep, user.to_crs(osm.crs)], ignore_index=True), crs=osm.crs)


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
