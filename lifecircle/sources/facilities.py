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

Access points (one row each, several for a large polygon) are made in
:mod:`lifecircle.sources.access_points`; this module re-exports its public names.
"""

from __future__ import annotations

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
from .._memory import no_cyclic_gc
from ..profiles import Profile
from .access_points import (
    access_point_summary,
    access_points_of,
    is_first_access_point,
    primary_rows,
    utm_of,
)
from .blocks import gates_from_osm
from .osm import OSMData
from .poi_match import TagColumns, category_matches, rule_keys
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


def _levels(tags: Mapping[str, str]) -> float:
    """``building:levels`` as a positive number, else NaN (never a default)."""
    try:
        value = float(tags.get("building:levels", "").replace(",", "."))
    except ValueError:
        return float("nan")
    return value if math.isfinite(value) and value > 0 else float("nan")


def _footprints_m2(polygons: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Areas in m² of the WGS 84 ``polygons`` at positions ``want``, in the UTM zone of all
    of them (only those wanted are projected)."""
    polys = gpd.GeoSeries(polygons, crs=4326)
    if not len(polys):
        return np.empty(0)
    return polys.iloc[want].to_crs(utm_of(polys)).area.to_numpy()


def _osm_tags(cols: TagColumns, profile: Profile, poi: np.ndarray, cat_i: np.ndarray,
              rule: np.ndarray, by_keyword: np.ndarray, name_col: np.ndarray) -> np.ndarray:
    """The ``osm_tag`` text of each match: ``k=v`` of its rule's keys joined by ``;``, or
    ``name=...`` for a name keyword match (a rule's rows at a time)."""
    cats = list(profile.categories.values())
    out = np.empty(poi.shape[0], dtype=object)
    kw = np.flatnonzero(by_keyword)
    out[kw] = ["name=" + (v if v is not None else "") for v in name_col[kw].tolist()]
    tagged = np.flatnonzero(~by_keyword)
    if not tagged.size:
        return out
    pair = cat_i[tagged] * (int(rule.max()) + 1) + rule[tagged]
    order = np.argsort(pair, kind="stable")
    bounds = np.flatnonzero(np.r_[True, pair[order][1:] != pair[order][:-1], True])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        rows = tagged[order[lo:hi]]
        keys = cats[int(cat_i[rows[0]])].tags[int(rule[rows[0]])].keys
        parts = [[f"{k}={v}" for v in cols.columns[k][poi[rows]].tolist()] for k in keys]
        out[rows] = [";".join(t) for t in zip(*parts, strict=True)]
    return out


def facilities_from_osm(
    data: OSMData, profile: Profile, *, name_keywords: bool = True
) -> gpd.GeoDataFrame:
    """Facilities of every profile category found in an OSM pass (WGS 84 points).

    One row per access point (:func:`access_points_of`); OSM entrances and gates on a large
    polygon's outline are its access points. The categories are matched over the POI table's
    columns at once (:mod:`.poi_match`), and geometries are made only for the POIs that
    match.
    """
    # (a city's matches make ~10 Python objects each: without the collector's full scans of
    # every object of the run, a third of the time; nothing here forms a cycle)
    with no_cyclic_gc():
        return _facilities_from_osm(data, profile, name_keywords)


def _facilities_from_osm(data: OSMData, profile: Profile, name_keywords: bool
                         ) -> gpd.GeoDataFrame:
    pois = data.pois
    cols = TagColumns(pois.tags, [*rule_keys(profile), "building", "building:levels"])
    poi, cat_i, by_keyword, rule = category_matches(cols, profile, name_keywords=name_keywords)
    names = list(profile.categories)
    n = poi.size
    floor_area = np.full(n, np.nan)
    area_source = np.full(n, "unknown", dtype=object)
    is_building = pd.notna(cols.columns["building"]) & pois.is_area
    uniq, back = np.unique(poi, return_inverse=True)
    area = pois.is_area[uniq]
    # every area POI needed is parsed once: the building POIs (their footprints' UTM zone is
    # that of every building POI, as it always was) and the matched areas
    buildings = np.flatnonzero(is_building)
    parsed_rows = np.union1d(buildings, uniq[area])
    parsed = pois.wkb.take(parsed_rows).geometries() if parsed_rows.size else \
        np.empty(0, dtype=object)
    if buildings.size:
        # each distinct value parsed once (a city repeats a few dozen over its facilities)
        codes, values = pd.factorize(cols.columns["building:levels"][poi], use_na_sentinel=True)
        levels = np.append([_levels({"building:levels": v}) for v in values.tolist()],
                           np.nan)[codes]
        known = is_building[poi] & np.isfinite(levels)
        footprint = _footprints_m2(parsed[np.searchsorted(parsed_rows, buildings)],
                                   np.searchsorted(buildings, poi[known]))
        floor_area[known] = footprint * levels[known]
        area_source[known] = "osm_footprint_x_levels"
    # one geometry per matched POI (areas: their polygon; nodes: their point)
    geoms = np.empty(uniq.size, dtype=object)
    if area.any():
        geoms[area] = parsed[np.searchsorted(parsed_rows, uniq[area])]
    del parsed
    if (~area).any():
        geoms[~area] = shapely.points(pois.lon[uniq[~area]], pois.lat[uniq[~area]])
    name_col = cols.columns["name"][poi]
    name_en = cols.columns["name:en"][poi]
    shown = np.where(pd.notna(name_col), name_col, np.where(pd.notna(name_en), name_en, ""))
    osm_tag = _osm_tags(cols, profile, poi, cat_i, rule, by_keyword, name_col)
    types = pois.osm_type[poi].tolist()
    ids = pois.osm_id[poi].tolist()
    frame = pd.DataFrame(
        {
            "facility_id": [f"{t}/{i}" for t, i in zip(types, ids, strict=True)],
            "category": np.asarray(names, dtype=object)[cat_i] if n else [],
            "name": shown,
            "source": np.where(by_keyword, "name_keyword", "osm").astype(object),
            "osm_tag": osm_tag,
            "match": np.where(by_keyword, "name_keyword", "tag").astype(object),
            "floor_area_m2": floor_area,
            "area_source": area_source,
        }
        if n
        else [],
        columns=FACILITY_COLUMNS[:-2],
    )
    found = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms[back], crs=4326), crs=4326)
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
