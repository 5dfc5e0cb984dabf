"""Read user point and polygon files with checks that name the file, the row and the fix.

CSV files carry coordinates in columns (longitude/latitude by default, WGS 84); vector files
(GeoJSON, GeoPackage, Shapefile, ...) are read with pyogrio and must declare a CRS or be given
one. Coordinates in GCJ-02 or BD-09 (Chinese map services) are converted to WGS 84 on load.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .._errors import InputFileError
from .coords import in_china_box, parse_facilities_crs, to_wgs84

__all__ = ["read_points", "read_polygons", "resolve_crs"]

log = logging.getLogger(__name__)

_LON_NAMES = ("lon", "lng", "long", "longitude", "x_wgs84", "wgs84_lon", "经度")
_LAT_NAMES = ("lat", "latitude", "y_wgs84", "wgs84_lat", "纬度")
_X_NAMES = ("x", "easting", "point_x")
_Y_NAMES = ("y", "northing", "point_y")
_VECTOR_SUFFIXES = {
    ".geojson",
    ".json",
    ".gpkg",
    ".shp",
    ".fgb",
    ".parquet",
    ".geoparquet",
    ".kml",
    ".gml",
    ".zip",
}


def resolve_crs(value: str | None) -> tuple[str | None, pyproj.CRS | None]:
    """A ``--*-crs`` value as ``(system, crs)``: ``("gcj02"|"bd09", None)`` or ``(None, CRS)``.

    ``(None, None)`` when no value was given.
    """
    if value is None:
        return None, None
    kind, crs = parse_facilities_crs(value)
    return (None, crs) if kind == "crs" else (kind, None)


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return str(lowered[name])
    return None


def _cell(value: Any) -> str:
    """A table cell as the user wrote it: text quoted, numbers (and NaN) plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _check_lonlat(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    claim: str,
    *,
    option: str = "--facilities-crs",
) -> None:
    bad = (np.abs(x) > 180) | (np.abs(y) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if np.nanmedian(np.abs(np.concatenate([x, y]))) > 1000:
            raise InputFileError(
                path,
                f"coordinates such as ({x[i]:g}, {y[i]:g}) in row {rows[i]} are projected "
                f"numbers, but the file claims {claim}",
                f"declare the real CRS (e.g. {option} EPSG:32650)",
            )
        raise InputFileError(
            path,
            f"row {rows[i]}: longitude/latitude ({x[i]:g}, {y[i]:g}) out of range "
            f"({int(bad.sum())} such rows)",
            "fix the coordinates, or check whether longitude and latitude are swapped",
        )


def _warn_if_in_china(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """GCJ-02 and BD-09 look exactly like WGS 84 numbers: remind the user where they apply.

    A 100-700 m shift cannot be detected from the data (snap distances to a dense street
    network barely change: Nanjing's OSM facilities snap at a median 31.6 m as WGS 84 and
    30.7 m shifted to GCJ-02), so the reminder is all a loader can give.
    """
    inside = int(in_china_box(x, y).sum())
    if inside:
        log.warning(
            "%s: %d of %d points lie in China and were read as WGS 84; coordinates from "
            "AMap/Gaode or Tencent are GCJ-02 and Baidu's are BD-09 (100-700 m off): pass "
            "--facilities-crs gcj02 or bd09 (or wgs84 to confirm WGS 84)",
            path,
            inside,
            len(x),
        )


def _to_wgs84_chinese(system: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = to_wgs84(x, y, system)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _read_vector(path: Path, what: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises DataSourceError, ValueError, ...
        raise InputFileError(
            path,
            f"could not be read as a {what} file ({type(exc).__name__}: {exc})",
            "give a CSV, GeoJSON or GeoPackage file",
        ) from None


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputFileError(path, "file not found", "check the path")
    if path.is_dir():
        raise InputFileError(path, "is a directory", "give a file")
    if path.stat().st_size == 0:
        raise InputFileError(path, "file is empty (0 bytes)", "give a file with rows")


def refuse_empty_geometries(gdf: gpd.GeoDataFrame, path: Path, fix: str) -> None:
    """Raise naming the first rows whose geometry is missing or empty."""
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        rows_bad = (np.flatnonzero(empty.to_numpy())[:5] + 1).tolist()
        raise InputFileError(path, f"features {rows_bad} have no geometry", fix)


def unique_ids(frame: pd.DataFrame, column: str, where: str | Path, what: str) -> np.ndarray:
    """The ``column`` values as strings, refusing missing or duplicate ids by row."""
    if column not in frame.columns:
        raise InputFileError(
            where,
            f"no id column {column!r}",
            f"columns found: {', '.join(map(str, frame.columns))}",
        )
    ids = frame[column].astype("string")
    bad = ids.duplicated(keep=False) | ids.isna()
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy())[:5] + 1).tolist()
        raise InputFileError(
            where,
            f"missing or duplicate {what} ids in column {column!r} (rows {rows})",
            f"give every {what} a unique id",
        )
    return ids.to_numpy(dtype=object)


def read_points(
    path: str | Path,
    *,
    crs: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
    what: str = "point",
    text_cols: tuple[str, ...] = (),
) -> gpd.GeoDataFrame:
    """Read points from a CSV or vector file, in WGS 84, keeping all other columns.

    Polygons in a vector file become representative points. ``text_cols`` of a CSV are read
    as text (type codes such as ``090100`` keep their leading zeros). Raises
    :class:`~lifecircle.InputFileError` for every row it cannot use.
    """
    path = Path(path)
    _check_path(path)
    system, user_crs = resolve_crs(crs)
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        try:
            frame = pd.read_csv(
                path,
                sep=None if path.suffix.lower() != ".csv" else ",",
                engine="python",
                encoding="utf-8-sig",
                dtype={c: str for c in text_cols},
            )
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputFileError(
                path, f"could not be read as CSV ({exc})", "save it as UTF-8 CSV with a header row"
            ) from None
        columns = [str(c) for c in frame.columns]
        if frame.empty:
            raise InputFileError(
                path,
                f"has a header but no rows (columns: {', '.join(columns)})",
                f"add {what} rows",
            )
        xc = x_col or _find(columns, _LON_NAMES)
        yc = y_col or _find(columns, _LAT_NAMES)
        lonlat_names = xc is not None and yc is not None and x_col is None
        if xc is None or yc is None:
            xc = x_col or _find(columns, _X_NAMES)
            yc = y_col or _find(columns, _Y_NAMES)
        if xc is None or yc is None or xc not in columns or yc not in columns:
            raise InputFileError(
                path,
                f"no coordinate columns found; columns are: {', '.join(columns)}",
                "name them lon/lat (WGS 84) or x/y with --facilities-crs, or pass --x-col/--y-col",
            )
        x = pd.to_numeric(frame[xc], errors="coerce").to_numpy(dtype=np.float64)
        y = pd.to_numeric(frame[yc], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputFileError(
                path,
                f"row {i + 1}: coordinates ({_cell(frame[xc].iloc[i])}, "
                f"{_cell(frame[yc].iloc[i])}) "
                f"are not finite numbers ({int(bad.sum())} such rows)",
                "fix or remove those rows",
            )
        rows = np.arange(1, len(frame) + 1)
        if system is not None:
            _check_lonlat(path, x, y, rows, system.upper())
            x, y = _to_wgs84_chinese(system, x, y)
            out_crs = pyproj.CRS.from_epsg(4326)
        elif user_crs is not None:
            out_crs = user_crs
        elif lonlat_names:
            out_crs = pyproj.CRS.from_epsg(4326)
            _warn_if_in_china(path, x, y)
        else:
            raise InputFileError(
                path,
                f"columns {xc!r}/{yc!r} carry no coordinate system",
                "pass --facilities-crs (EPSG code, gcj02 or bd09) or name the columns lon/lat "
                "for WGS 84",
            )
        if out_crs.is_geographic:
            _check_lonlat(path, x, y, rows, out_crs.name)
        attrs = frame.drop(columns=[xc, yc])
        return gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(x, y), crs=out_crs).to_crs(4326)

    gdf = _read_vector(path, what)
    if gdf.empty:
        raise InputFileError(path, "has no features", f"add {what} features")
    if gdf.crs is None:
        if user_crs is None and system is None:
            raise InputFileError(
                path, "has no CRS", "declare one in the file or pass --facilities-crs EPSG:…"
            )
        gdf = gdf.set_crs(user_crs or 4326)
    elif user_crs is not None and not pyproj.CRS(gdf.crs).equals(user_crs):
        gdf = gdf.set_crs(user_crs, allow_override=True)
    refuse_empty_geometries(gdf, path, "remove them or give them coordinates")
    geom = gdf.geometry
    gdf = gdf.copy()
    not_point = ~geom.geom_type.isin(["Point"])
    if not_point.any():
        gdf.loc[not_point, gdf.geometry.name] = shapely.point_on_surface(geom[not_point].to_numpy())
    gdf = gdf.explode(index_parts=False) if (gdf.geom_type == "MultiPoint").any() else gdf
    x = gdf.geometry.x.to_numpy()
    y = gdf.geometry.y.to_numpy()
    rows = np.arange(1, len(gdf) + 1)
    if system is not None:
        _check_lonlat(path, x, y, rows, system.upper())
        x, y = _to_wgs84_chinese(system, x, y)
        gdf = gdf.set_geometry(gpd.points_from_xy(x, y), crs=4326)
    elif pyproj.CRS(gdf.crs).is_geographic:
        _check_lonlat(path, x, y, rows, str(pyproj.CRS(gdf.crs).name))
        if user_crs is None:
            _warn_if_in_china(path, x, y)
    return gdf.to_crs(4326)


def read_polygons(
    path: str | Path, *, crs: str | None = None, what: str = "block"
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Read a polygon layer; repair invalid polygons; return it and repair counts.

    Point or line features, empty geometries and a missing CRS are errors naming the rows.
    """
    path = Path(path)
    _check_path(path)
    gdf = _read_vector(path, what)
    if gdf.empty:
        raise InputFileError(path, "has no features", f"add {what} polygons")
    if gdf.crs is None:
        _, user_crs = resolve_crs(crs)
        if user_crs is None:
            raise InputFileError(
                path,
                "has no CRS",
                "declare one in the file (e.g. ogr2ogr -a_srs EPSG:4326) or pass --blocks-crs",
            )
        gdf = gdf.set_crs(user_crs)
    refuse_empty_geometries(gdf, path, "remove them or draw their polygons")
    geom = gdf.geometry
    if pyproj.CRS(gdf.crs).is_geographic:
        # the corner farthest from (0, 0) of each feature must be a longitude/latitude
        b = shapely.bounds(geom.to_numpy())
        x = np.where(np.abs(b[:, 0]) > np.abs(b[:, 2]), b[:, 0], b[:, 2])
        y = np.where(np.abs(b[:, 1]) > np.abs(b[:, 3]), b[:, 1], b[:, 3])
        _check_lonlat(
            path, x, y, np.arange(1, len(gdf) + 1), str(pyproj.CRS(gdf.crs).name),
            option="--blocks-crs",
        )
    kinds = geom.geom_type
    not_poly = ~kinds.isin(["Polygon", "MultiPolygon"])
    if not_poly.any():
        i = int(np.flatnonzero(not_poly.to_numpy())[0])
        raise InputFileError(
            path,
            f"feature {i + 1} is a {kinds.iloc[i]}, not a polygon "
            f"({int(not_poly.sum())} such features)",
            f"{what}s must be polygons; buffer points or lines first",
        )
    invalid = ~geom.is_valid
    repaired = int(invalid.sum())
    if repaired:
        gdf = gdf.copy()
        fixed = shapely.make_valid(geom[invalid].to_numpy())
        # keep only the polygonal part of a repaired geometry
        fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        gdf.loc[invalid, gdf.geometry.name] = fixed
        still_empty = gdf.geometry.is_empty
        if still_empty.any():
            rows_bad = (np.flatnonzero(still_empty.to_numpy())[:5] + 1).tolist()
            raise InputFileError(
                path,
                f"features {rows_bad} have no area once repaired",
                "fix or remove those polygons",
            )
    return gdf, {"invalid_repaired": repaired}


def _polygonal(geom: Any) -> Any:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
