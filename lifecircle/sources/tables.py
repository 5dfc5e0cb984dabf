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

__all__ = [
    "check_regular_file",
    "read_head",
    "read_points",
    "read_polygons",
    "repair_polygons",
    "resolve_crs",
]

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
    known = path.suffix.lower() in _VECTOR_SUFFIXES
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises DataSourceError, ValueError, ...
        problem = (
            f"could not be read as a {what} file ({type(exc).__name__}: {exc})"
            if known
            else f"has an extension ({path.suffix or 'none'}) that is not a {what} file format"
        )
        raise InputFileError(path, problem, f"give {ACCEPTED}") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        columns = ", ".join(map(str, gdf.columns)) or "none"
        raise InputFileError(
            path,
            f"has no geometry (a table with columns: {columns})",
            f"give {ACCEPTED}",
        )
    return gdf


#: what a table or layer of points or polygons may be given as, for messages
ACCEPTED = (
    "CSV (.csv, .txt, .tsv), GeoPackage (.gpkg), GeoJSON (.geojson, .json), Shapefile (.shp), "
    "FlatGeobuf (.fgb), GeoParquet (.parquet) or KML (.kml)"
)
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
#: the first bytes of spreadsheet workbooks: .xlsx/.ods are ZIP archives, .xls is OLE2
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def check_regular_file(path: Path, *, fix: str = "give a file with rows") -> None:
    """Refuse a missing path, a folder, a pipe or device, and an empty file, naming each."""
    if not path.exists():
        hint = "; the symbolic link points nowhere" if path.is_symlink() else ""
        raise InputFileError(path, f"file not found{hint}", "check the path")
    if path.is_dir():
        raise InputFileError(path, "is a directory", "give a file")
    if not path.is_file():
        # a named pipe or device has no size (stat says 0) and can be read only once, while
        # lifecircle reads every input twice (data and sha256 for the run's record)
        raise InputFileError(
            path,
            "is not a regular file (a named pipe, socket or device)",
            "save the data to a file first and give that file",
        )
    if path.stat().st_size == 0:
        raise InputFileError(path, "file is empty (0 bytes)", fix)


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a file; an unreadable file is an error naming the fix."""
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise InputFileError(
            path, f"cannot be read ({exc.strerror})", "check the file's permissions"
        ) from None


def _read_csv(path: Path, **options: Any) -> pd.DataFrame:
    """A UTF-8 table (``.csv`` comma-separated, ``.txt``/``.tsv`` delimiter sniffed)."""
    try:
        return pd.read_csv(
            path,
            sep=None if path.suffix.lower() != ".csv" else ",",
            engine="python",
            encoding="utf-8-sig",
            **options,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(
            path, f"could not be read as CSV ({exc})", "save it as UTF-8 CSV with a header row"
        ) from None


def _check_path(path: Path) -> None:
    check_regular_file(path)
    if path.suffix.lower() in _CSV_SUFFIXES:
        if read_head(path, 8).startswith(_WORKBOOK_MAGIC):
            raise InputFileError(
                path,
                f"is a spreadsheet workbook (Excel or similar), not a {path.suffix} text table",
                "open it and save it as 'CSV UTF-8 (comma delimited)'",
            )


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
    shapes: bool = False,
) -> gpd.GeoDataFrame:
    """Read points from a CSV or vector file, in WGS 84, keeping all other columns.

    Polygons in a vector file become representative points and MultiPoints one row per
    point, unless ``shapes`` keeps every geometry as drawn (for callers that make their own
    access points). ``text_cols`` of a CSV are read as text (type codes such as ``090100``
    keep their leading zeros). Raises :class:`~lifecircle.InputFileError` for every row it
    cannot use.
    """
    path = Path(path)
    _check_path(path)
    system, user_crs = resolve_crs(crs)
    if path.suffix.lower() in _CSV_SUFFIXES:
        frame = _read_csv(path, dtype={c: str for c in text_cols})
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
    gdf = gdf.copy()
    if not shapes:
        geom = gdf.geometry
        not_point = ~geom.geom_type.isin(["Point"])
        if not_point.any():
            gdf.loc[not_point, gdf.geometry.name] = shapely.point_on_surface(
                geom[not_point].to_numpy()
            )
        gdf = gdf.explode(index_parts=False) if (gdf.geom_type == "MultiPoint").any() else gdf
    # every vertex is checked (a polygon drawn in metres in a file claiming WGS 84)
    xy, owner = shapely.get_coordinates(gdf.geometry.to_numpy(), return_index=True)
    x, y, rows = xy[:, 0], xy[:, 1], owner + 1
    if system is not None:
        _check_lonlat(path, x, y, rows, system.upper())
        gdf = gdf.set_geometry(
            shapely.transform(
                gdf.geometry.to_numpy(),
                lambda c: np.column_stack(_to_wgs84_chinese(system, c[:, 0], c[:, 1])),
            ),
            crs=4326,
        )
    elif pyproj.CRS(gdf.crs).is_geographic:
        _check_lonlat(path, x, y, rows, str(pyproj.CRS(gdf.crs).name))
        if user_crs is None:
            rep = shapely.get_coordinates(shapely.point_on_surface(gdf.geometry.to_numpy()))
            _warn_if_in_china(path, rep[:, 0], rep[:, 1])
    return gdf.to_crs(4326)


_WKT_NAMES = ("geometry", "wkt", "geom", "the_geom", "shape")
#: how many ids or rows a message names before "..."
_NAMED = 5


def _read_wkt_csv(path: Path, what: str) -> gpd.GeoDataFrame:
    """A CSV whose polygons are WKT text in a ``geometry`` (or ``wkt``, ``geom``) column.

    The CRS is not in the file: the caller sets the one given with ``--blocks-crs``.
    """
    frame = _read_csv(path, dtype=str, keep_default_na=False)
    columns = [str(c) for c in frame.columns]
    wkt = _find(columns, _WKT_NAMES)
    if wkt is None:
        raise InputFileError(
            path,
            f"is a CSV table without a WKT geometry column (columns: {', '.join(columns)}), "
            f"and {what}s need polygons",
            f"give a GeoPackage, GeoJSON or Shapefile, or a CSV with the polygons as WKT in "
            f"a column named {' or '.join(_WKT_NAMES[:2])} plus --blocks-crs",
        )
    if frame.empty:
        raise InputFileError(path, "has a header but no rows", f"add {what} polygons")
    text = frame[wkt].str.strip()
    geoms = np.empty(len(text), dtype=object)
    for i, value in enumerate(text):
        try:
            geoms[i] = shapely.from_wkt(value) if value else shapely.Polygon()
        except shapely.errors.GEOSException as exc:
            raise InputFileError(
                path,
                f"row {i + 1}: {wkt!r} is not WKT ({str(exc).splitlines()[0][:80]})",
                "write polygons as WKT, e.g. POLYGON ((x1 y1, x2 y2, x3 y3, x1 y1))",
            ) from None
    return gpd.GeoDataFrame(frame.drop(columns=[wkt]), geometry=geoms)


def _names(ids: np.ndarray) -> str:
    named = ", ".join(str(i) for i in ids[:_NAMED])
    return named + (", ..." if len(ids) > _NAMED else "")


def feature_names(gdf: pd.DataFrame, rows: np.ndarray, *, id_cols: tuple[str, ...]) -> str:
    """``block_id a, b; rows 3, 7`` (the first of ``id_cols`` present; rows 1-based)."""
    id_col = next((c for c in id_cols if c in gdf.columns), None)
    where = f"rows {_names(rows + 1)}"
    if id_col is None:
        return where
    ids = gdf[id_col].astype("string").fillna("<missing>").to_numpy()[rows]
    return f"{id_col} {_names(ids)}; {where}"


def repair_polygons(
    gdf: gpd.GeoDataFrame,
    where: str | Path,
    *,
    what: str = "block",
    id_cols: tuple[str, ...] = ("block_id", "id"),
) -> tuple[gpd.GeoDataFrame, int]:
    """Repair invalid polygons (self-intersections, bowties) with shapely ``make_valid``.

    The repaired shape keeps only its polygonal parts: a bowtie becomes its two triangles as
    one MultiPolygon row, so ids, row order and every other column are unchanged. Logs a
    warning naming the repaired features by id; raises :class:`InputFileError` naming those
    that repair to no area at all (a polygon drawn as a line). Returns the frame and the
    number repaired.
    """
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if not invalid.any():
        return gdf, 0
    gdf = gdf.copy()
    fixed = shapely.make_valid(gdf.geometry.to_numpy()[invalid])
    fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
    gdf.loc[invalid, gdf.geometry.name] = fixed
    rows = np.flatnonzero(invalid)
    flat = rows[shapely.is_empty(fixed) | (shapely.area(fixed) <= 0)]
    if flat.size:
        raise InputFileError(
            where,
            f"{flat.size} {what} polygons ({feature_names(gdf, flat, id_cols=id_cols)}) have "
            "no area once repaired",
            "fix or remove those polygons (each needs at least three corners not in a line)",
        )
    log.warning(
        "%s: %d self-intersecting or otherwise invalid %s polygons were repaired with "
        "make_valid (%s); check their outlines",
        where,
        rows.size,
        what,
        feature_names(gdf, rows, id_cols=id_cols),
    )
    return gdf, int(rows.size)


def read_polygons(
    path: str | Path, *, crs: str | None = None, what: str = "block"
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Read a polygon layer; repair invalid polygons; return it and repair counts.

    Vector files (GeoPackage, GeoJSON, Shapefile, ...) or a CSV with the polygons as WKT in a
    ``geometry`` or ``wkt`` column (its CRS given as ``crs``). Point or line features, empty
    geometries and a missing CRS are errors naming the rows; invalid polygons are repaired
    (:func:`repair_polygons`, warned by id).
    """
    path = Path(path)
    _check_path(path)
    is_csv = path.suffix.lower() in _CSV_SUFFIXES
    gdf = _read_wkt_csv(path, what) if is_csv else _read_vector(path, what)
    if gdf.empty:
        raise InputFileError(path, "has no features", f"add {what} polygons")
    if gdf.crs is None:
        _, user_crs = resolve_crs(crs)
        if user_crs is None:
            raise InputFileError(
                path,
                "has no CRS",
                "pass --blocks-crs (e.g. EPSG:4326)"
                if is_csv
                else "declare one in the file (e.g. ogr2ogr -a_srs EPSG:4326) or pass --blocks-crs",
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
            path,
            x,
            y,
            np.arange(1, len(gdf) + 1),
            str(pyproj.CRS(gdf.crs).name),
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
    gdf, repaired = repair_polygons(gdf, path, what=what)
    return gdf, {"invalid_repaired": repaired}


def _polygonal(geom: Any) -> Any:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
