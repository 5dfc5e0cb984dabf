"""Write and read the run's GeoPackage (``lifecircle.gpkg``).

Layers: ``blocks``, ``access_points``, ``facilities``, ``edges`` (and others a run adds, such as
``isochrones``), plus the attribute table ``run_metadata`` (``key``, ``value`` as JSON). All in
the run's projected CRS, so QGIS measures in metres.

With ``layer_format="parquet"`` (``lifecircle run --format parquet``) the big layers
(:data:`PARQUET_LAYERS`) are GeoParquet files beside the GeoPackage instead
(``blocks.parquet``, ...; zstd-compressed, GeoParquet metadata by geopandas): on the 268k-node
mosaic 48 MB instead of 178 MB, written in a third of the time (no spatial index to build);
QGIS and GDAL 3.5+ open them. The GeoPackage keeps the other layers and ``run_metadata`` (its
``layer_files`` names the GeoParquet files), and :func:`read_layers` reads either kind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .._errors import InputFileError

__all__ = ["GPKG_NAME", "ID_COLUMNS", "LAYER_FORMATS", "PARQUET_LAYERS", "layer_names",
           "read_layers", "read_metadata", "update_metadata", "write_geopackage",
           "write_layer"]

GPKG_NAME = "lifecircle.gpkg"
#: Where the big layers go: ``gpkg`` (all in the GeoPackage) or ``parquet`` (GeoParquet files)
LAYER_FORMATS = ("gpkg", "parquet")
#: The layers ``layer_format="parquet"`` writes as ``<layer>.parquet`` beside the GeoPackage
PARQUET_LAYERS = ("blocks", "access_points", "facilities", "edges", "isochrones")


#: Layers whose first column is their row id: written as the GeoPackage's feature id (its
#: SQLite primary key, which costs nothing) instead of a second column of the same numbers,
#: and read back as that column by :func:`read_layers`.
ID_COLUMNS = {"edges": "edge_id"}

#: Rows handed to GDAL per Arrow batch: the layer streams through in batches, so the write
#: holds one batch's WKB and Arrow buffers (a few tens of MB), not the whole layer's.
BATCH_ROWS = 100_000

# shapely type ids of the single-part types and their multi-part counterparts
_SINGLE_TO_MULTI = {0: 4, 1: 5, 3: 6}
_TYPE_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
_MAKE_MULTI = {4: shapely.multipoints, 5: shapely.multilinestrings, 6: shapely.multipolygons}


def _geometry_type(geoms: np.ndarray) -> tuple[str, int | None]:
    """The layer's geometry type and the single-part type id to promote to it, if any.

    As pyogrio's own writer does: a layer mixing single and multi parts of one kind is written
    as the multi type (a GeoPackage layer has one declared type), other mixtures as
    ``Unknown``; ``" Z"`` where geometries have a third dimension.
    """
    kinds = shapely.get_type_id(geoms)
    present = set(np.flatnonzero(np.bincount(kinds[kinds >= 0], minlength=8)).tolist())
    promote = next((single for single, multi in _SINGLE_TO_MULTI.items()
                    if present == {single, multi}), None)
    if promote is not None:
        present = {_SINGLE_TO_MULTI[promote]}
    kind = _TYPE_NAMES.get(present.pop(), "Unknown") if len(present) == 1 else "Unknown"
    if kind != "Unknown" and bool(shapely.has_z(geoms).any()):
        kind += " Z"
    return kind, promote


def _wkb(geoms: np.ndarray, promote: int | None) -> np.ndarray:
    """WKB of a batch of geometries, single parts promoted to the layer's multi type."""
    if promote is not None:
        single = shapely.get_type_id(geoms) == promote
        if single.any():
            geoms = geoms.copy()
            geoms[single] = _MAKE_MULTI[_SINGLE_TO_MULTI[promote]](
                np.atleast_2d(geoms[single]), axis=0)
    return shapely.to_wkb(geoms)


def _wkb_arrow(geoms: np.ndarray, kind: str | None, promote: int | None) -> Any:
    """The batch's WKB as an Arrow binary array: a layer of 2D points or line strings, none
    missing, encoded here from the coordinate arrays (:func:`_simple_wkb`), others by
    shapely."""
    import pyarrow as pa

    simple = _simple_wkb(geoms, _SIMPLE_KINDS[kind]) if kind in _SIMPLE_KINDS else None
    if simple is None:
        return pa.array(_wkb(geoms, promote), type=pa.binary())
    data, offsets = simple
    return pa.Array.from_buffers(pa.binary(), len(geoms),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])


# WKB header of a 2D point and line string, little-endian: byte order 1, then the type (uint32)
_WKB_HEAD = {0: b"\x01\x01\x00\x00\x00", 1: b"\x01\x02\x00\x00\x00"}
#: The layer types whose WKB :func:`_simple_wkb` writes, to their shapely type ids
_SIMPLE_KINDS = {"Point": 0, "LineString": 1}


def _simple_wkb(geoms: np.ndarray, kind: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The little-endian WKB of a batch of 2D points (``kind`` 0) or of 2D line strings (1),
    given that the layer holds only those (:func:`_geometry_type`), as one byte buffer and
    its int32 offsets; ``None`` where a geometry is missing or a point empty.

    The same bytes as ``shapely.to_wkb`` (checked by the tests), made from the coordinate
    arrays in a few numpy passes: GEOS' writer costs ~0.7 us a geometry (a stream set up per
    geometry), 0.26 s of the 268k-node run's 368,298 edges, this ~0.03 s. Hand-written because
    neither shapely nor pyarrow writes WKB from coordinate arrays.
    """
    if len(geoms) == 0 or not np.little_endian or bool(shapely.is_missing(geoms).any()):
        return None
    counts = shapely.get_num_coordinates(geoms).astype(np.int64)
    if kind == 0 and bool((counts != 1).any()):  # an empty point is written as NaN NaN
        return None
    head_size = 5 if kind == 0 else 9
    sizes = head_size + 16 * counts
    offsets = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    if offsets[-1] >= 2**31:
        return None
    heads = np.empty((len(geoms), head_size), dtype=np.uint8)
    heads[:, :5] = np.frombuffer(_WKB_HEAD[kind], dtype=np.uint8)
    if kind == 1:  # a line string's number of points
        heads[:, 5:] = counts.astype("<u4").view(np.uint8).reshape(-1, 4)
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    at_head = (offsets[:-1, None] + np.arange(head_size)).ravel()
    data[at_head] = heads.ravel()
    coords = np.ones(len(data), dtype=bool)
    coords[at_head] = False  # the bytes after each head: its coordinates, x y x y ...
    data[coords] = shapely.get_coordinates(geoms).astype("<f8").view(np.uint8).ravel()
    return data, offsets.astype(np.int32)


def _array(values: pd.Series, kind: Any = None) -> Any:
    """A column slice as one Arrow array (a column held by pandas as Arrow chunks, as
    concatenated frames are, comes back chunked)."""
    import pyarrow as pa

    out = pa.array(values, type=kind, from_pandas=True)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _arrow_stream(gdf: pd.DataFrame, *, rows: int | None = None) -> tuple[Any, str | None]:
    """The layer as a stream of Arrow batches of ``rows`` rows (:data:`BATCH_ROWS`), made
    from the frame's own arrays (no copy of the frame) with each geometry's WKB made once;
    the layer's geometry type (``None`` without geometry).

    Object columns (ids that are text or missing) are written as text, NaN as null.
    """
    import pyarrow as pa

    rows = rows or BATCH_ROWS
    geometry = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None
    columns = [(str(name), gdf[name].astype("string") if gdf[name].dtype == object
                else gdf[name]) for name in gdf.columns if name != geometry]
    fields = [pa.field(name, _array(values.iloc[:0]).type) for name, values in columns]
    kind, promote, geoms = None, None, None
    if geometry is not None:
        geoms = np.asarray(gdf.geometry.array)
        kind, promote = _geometry_type(geoms)
        fields.append(pa.field(geometry, pa.binary()))
    schema = pa.schema(fields)

    def batches() -> Iterator[Any]:
        for start in range(0, len(gdf), rows):
            stop = start + rows
            arrays = [_array(values.iloc[start:stop], field.type)
                      for (_, values), field in zip(columns, fields, strict=False)]
            if geoms is not None:
                arrays.append(_wkb_arrow(geoms[start:stop], kind, promote))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches()), kind


def _crs_text(crs: Any) -> str | None:
    """``EPSG:<code>`` where the CRS has one (QGIS then names it), else its WKT."""
    if crs is None:
        return None
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt("WKT1_GDAL")


def write_layer(path: str | Path, name: str, gdf: pd.DataFrame) -> None:
    """Add one layer (or attribute table) to the GeoPackage at ``path`` through
    :func:`pyogrio.write_arrow`: one transaction, Arrow batches of :data:`BATCH_ROWS` rows
    handed to GDAL; a column named in :data:`ID_COLUMNS` becomes the layer's feature id."""
    fid = ID_COLUMNS.get(name)
    if fid is not None and (fid not in gdf.columns or not _is_row_number(gdf[fid])):
        fid = None
    stream, kind = _arrow_stream(gdf)
    options = {"FID": fid} if fid else {}
    geometry = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None
    pyogrio.write_arrow(stream, path, layer=name, driver="GPKG", geometry_name=geometry,
                        geometry_type=kind, crs=_crs_text(getattr(gdf, "crs", None)),
                        layer_options=options)


def _is_row_number(values: pd.Series) -> bool:
    """Distinct non-negative integers (a feature id cannot repeat or be missing)."""
    if not pd.api.types.is_integer_dtype(values) or values.isna().any():
        return False
    ids = values.to_numpy(dtype=np.int64)
    if len(ids) == 0:
        return True
    if ids.min() < 0:
        return False
    # rising ids (a run's edge ids are 0..n-1) are distinct without a sort: np.unique took
    # 1.3 s of the 1M-node run's layers
    return bool((np.diff(ids) > 0).all()) or np.unique(ids).size == len(ids)


@contextmanager
def unsynced() -> Iterator[None]:
    """SQLite without an fsync per transaction while the layers are written (GDAL's
    ``OGR_SQLITE_SYNCHRONOUS=OFF``); the caller syncs the finished file once. Every layer and
    the metadata table commit on their own, and their fsyncs took three quarters of the
    GeoPackage's time on a small run (1.2 s of 1.6 s on Monaco)."""
    key = "OGR_SQLITE_SYNCHRONOUS"
    before = pyogrio.get_gdal_config_option(key)
    pyogrio.set_gdal_config_options({key: "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({key: before})


def fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _parquet_path(gpkg: Path, name: str) -> Path:
    return gpkg.with_name(f"{name}.parquet")


def _write_parquet(path: Path, gdf: gpd.GeoDataFrame) -> None:
    """A layer as GeoParquet (object columns as text, as in the GeoPackage)."""
    frame = gdf.copy(deep=False)  # new column objects only, never the arrays
    for name in frame.columns:
        if name != frame.geometry.name and pd.api.types.is_object_dtype(frame[name].dtype):
            frame[name] = frame[name].astype("string")
    frame.to_parquet(path, index=False, compression="zstd")


def write_geopackage(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame | None],
    metadata: Mapping[str, Any],
    *,
    layer_format: str = "gpkg",
    append: bool = False,
) -> list[Path]:
    """Write ``layers`` and a ``run_metadata`` table to a new GeoPackage at ``path`` (with
    ``append``: add them to the GeoPackage there, which has none of them).

    Layers go through :func:`pyogrio.write_arrow` (columnar hand-over to GDAL, one
    transaction per layer), measured 1.8x faster than the row-wise path on a 368,298-edge
    layer; the Arrow batches are made from the frame's own arrays and each geometry's WKB once
    (no copy of the frame, none of geopandas' per-row type checks), :data:`BATCH_ROWS` rows
    at a time, so the write's memory does not grow with the layer. SQLite does not sync each
    transaction, the file is synced once at the end. A layer named in :data:`ID_COLUMNS`
    (``edges``: ``edge_id``) keeps that column as its feature id.

    What is left is GDAL's (the 268k-node run's layers: ~85 % of the write's CPU): one SQLite
    INSERT per feature, and each layer's R-tree, which GDAL already builds once, when the layer
    is closed, from the whole table (its bulk loader, ~1/3 of the write). SQLite's page cache
    (``OGR_SQLITE_CACHE`` 32-512 MB), ``journal_mode=OFF`` and page sizes 8-64 KiB changed
    the write's CPU by less than its noise (alternated 3x on those layers), so none is set.

    Parameters
    ----------
    path
        The GeoPackage; replaced if it exists (unless ``append``).
    layers
        Layer name to frame (``None``: no layer).
    metadata
        The ``run_metadata`` entries (JSON-encoded values).
    layer_format
        ``"gpkg"``, or ``"parquet"``: the layers named in :data:`PARQUET_LAYERS` as GeoParquet
        files beside ``path``.
    append
        Add the layers to the existing GeoPackage at ``path`` (a run's isochrone layer,
        written there by another process first) instead of replacing it.

    Returns
    -------
    list of pathlib.Path
        The files written (the GeoPackage first).
    """
    if layer_format not in LAYER_FORMATS:
        raise ValueError(f"layer_format must be one of {LAYER_FORMATS}, got {layer_format!r}")
    path = Path(path)
    if append:
        written = {n for n, gdf in layers.items() if gdf is not None} | {"run_metadata"}
        present = {str(n) for n, _ in pyogrio.list_layers(path)} & written
        if present:
            raise ValueError(f"{path}: has the layers {sorted(present)} already")
    elif path.exists():
        path.unlink()
    as_parquet = {n: _parquet_path(path, n) for n, gdf in layers.items()
                  if gdf is not None and layer_format == "parquet" and n in PARQUET_LAYERS}
    entries = {**metadata, **({"layer_files": {n: p.name for n, p in as_parquet.items()}}
                              if as_parquet else {})}
    meta = pd.DataFrame(
        {
            "key": list(entries.keys()),
            "value": [json.dumps(v, ensure_ascii=False, default=str) for v in entries.values()],
        }
    )
    with unsynced():
        for name, gdf in layers.items():
            if name in as_parquet:
                _write_parquet(as_parquet[name], gdf)
            elif gdf is not None:
                write_layer(path, name, gdf)
        write_layer(path, "run_metadata", meta)
    fsync_file(path)
    return [path, *as_parquet.values()]


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``run_metadata`` table of a run's GeoPackage as a dict of decoded values."""
    table = pyogrio.read_dataframe(path, layer="run_metadata")
    return {k: json.loads(v) for k, v in zip(table["key"], table["value"], strict=True)}


def update_metadata(path: str | Path, entries: Mapping[str, Any]) -> None:
    """Replace (or add) ``run_metadata`` entries of the GeoPackage at ``path`` in place, then
    sync it; for what is known only once the layers are written (the outputs' timings)."""
    import sqlite3

    rows = [(json.dumps(v, ensure_ascii=False, default=str), k) for k, v in entries.items()]
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA synchronous = OFF")  # one fsync below, as for the layers
        known = {k for (k,) in con.execute("SELECT key FROM run_metadata")}
        con.executemany("UPDATE run_metadata SET value = ? WHERE key = ?",
                        [r for r in rows if r[1] in known])
        con.executemany("INSERT INTO run_metadata (value, key) VALUES (?, ?)",
                        [r for r in rows if r[1] not in known])
    con.close()
    fsync_file(Path(path))


def layer_names(path: str | Path) -> list[str]:
    """The spatial layers of a finished run: its GeoPackage's and its GeoParquet files'."""
    path = Path(path)
    inside = [str(n) for n, geom in pyogrio.list_layers(path) if geom is not None]
    return inside + [n for n in PARQUET_LAYERS
                     if n not in inside and _parquet_path(path, n).is_file()]


def read_layers(path: str | Path, names: list[str] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Read layers of a finished run's GeoPackage, or its GeoParquet files where the run wrote
    them (all spatial layers by default)."""
    path = Path(path)
    if path.is_dir():
        path = path / GPKG_NAME
    if not path.is_file():
        raise InputFileError(
            path,
            "no GeoPackage of a finished run here",
            "give the --out folder of a `lifecircle run`",
        )
    available = layer_names(path)
    wanted = names or available
    missing = [n for n in wanted if n not in available]
    if missing:
        raise InputFileError(
            path,
            f"has no layer {missing[0]!r} (layers: {', '.join(available)})",
            "rerun `lifecircle run` with a current version",
        )
    return {n: _read_layer(path, n) for n in wanted}


def _read_layer(path: Path, name: str) -> gpd.GeoDataFrame:
    """A layer, with its feature id as a first column where the writer made a column its id
    (:data:`ID_COLUMNS`)."""
    if name in PARQUET_LAYERS and _parquet_path(path, name).is_file() and name not in {
            str(n) for n, _ in pyogrio.list_layers(path)}:
        return gpd.read_parquet(_parquet_path(path, name))
    fid = pyogrio.read_info(path, layer=name).get("fid_column")
    if fid in (None, "", "fid"):
        return gpd.read_file(path, layer=name, engine="pyogrio")
    frame = gpd.read_file(path, layer=name, engine="pyogrio", fid_as_index=True)
    frame.insert(0, fid, frame.index.to_numpy(dtype=np.int64))
    return frame.reset_index(drop=True)
