"""Isochrones from a finished run's GeoPackage, written to a file of their own.

``lifecircle isochrones RUN`` rebuilds the walking network from the run's ``edges`` layer, the
facilities' snapping from their published snap fields and the speeds from ``run_metadata``,
then draws the asked categories and facilities without recomputing the run. The run's own
folder is never written to.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from .._errors import ConfigError, InputError, OutputError, did_you_mean
from .._memory import release_freed
from ..edge_access import network_from_mask
from ..isochrones import DEFAULT_BANDS_MIN, DEFAULT_WALK_IN_M, run_isochrones
from ..network import WalkNetwork
from .geopackage import GPKG_NAME, fsync_file, read_layers, read_metadata, unsynced

__all__ = ["LAYER", "append_isochrones", "describe_layer", "isochrones_from_run",
           "layer_description", "read_isochrones", "write_isochrones"]

LAYER = "isochrones"
_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON"}


def _run_gpkg(run: str | Path) -> Path:
    path = Path(run)
    return path / GPKG_NAME if path.is_dir() else path


def isochrones_from_run(
    run: str | Path,
    *,
    categories: Sequence[str] = (),
    facility_ids: Sequence[str] = (),
    bands_min: Sequence[float] = DEFAULT_BANDS_MIN,
    walk_in_m: float = DEFAULT_WALK_IN_M,
    speed_kmh: float | None = None,
    cumulative: bool = False,
    method: str = "raster",
) -> gpd.GeoDataFrame:
    """Isochrones of categories (their union) and facilities (their own) of a finished run.

    Parameters
    ----------
    run
        A run's output folder or its ``lifecircle.gpkg``.
    categories
        Categories whose union over their facilities to draw (``facility_id`` ``"all"``).
    facility_ids
        Facilities whose own bands to draw.
    bands_min, walk_in_m, cumulative, method
        As in :func:`lifecircle.isochrones.category_isochrones`.
    speed_kmh
        Walking speed for every category; default each category's speed in the run.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of the ``isochrones`` layer, in the run's CRS.
    """
    gpkg = _run_gpkg(run)
    layers = read_layers(gpkg, ["edges", "facilities"])
    meta = read_metadata(gpkg)
    speeds: dict[str, float] = dict(meta.get("speeds_kmh") or {})
    if not speeds:
        raise InputError(f"{gpkg}: run_metadata has no speeds_kmh; rerun `lifecircle run`")
    if not categories and not facility_ids:
        raise ConfigError("name at least one --category or --facility to draw")
    for c in categories:
        if c not in speeds:
            raise ConfigError(
                f"{gpkg}: the run has no category {c!r}{did_you_mean(c, speeds)}; "
                f"its categories: {', '.join(speeds)}"
            )
    fac = layers["facilities"]
    ids = fac["facility_id"].astype(str).tolist()
    known = set(ids)
    for f in facility_ids:
        if str(f) not in known:
            sample = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
            raise InputError(
                f"{gpkg}: no facility with id {f!r}{did_you_mean(str(f), ids)}; "
                f"ids in the run: {sample or 'none'}"
            )
    if speed_kmh is not None:
        speeds = {c: float(speed_kmh) for c in speeds}
    net = WalkNetwork.from_edges(layers["edges"], where=f"{gpkg} (edges)")
    fac = fac.to_crs(net.crs)
    # a step-free category walks the edges its group may use (the usable_<group> column)
    groups = {c: v.get("group") for c, v in
              (meta.get("effective_profile") or {}).get("categories", {}).items()}
    networks = {c: network_from_mask(net, str(g), layers["edges"][f"usable_{g}"].to_numpy())
                for c, g in groups.items() if f"usable_{g}" in layers["edges"].columns}
    return run_isochrones(
        net, fac, None, speeds, bands_min=bands_min, walk_in_m=walk_in_m,
        facility_ids=list(facility_ids) if facility_ids else None,
        categories=list(categories), method=method, cumulative=cumulative, networks=networks,
    )


def write_isochrones(
    frame: gpd.GeoDataFrame,
    out: str | Path,
    *,
    overwrite: bool = False,
    run: str | Path | None = None,
) -> Path:
    """Write isochrones to ``out`` (``.gpkg`` layer ``isochrones``, or ``.geojson`` in WGS 84)
    through a temporary file and a rename; refuse an existing file without ``overwrite`` and
    any path inside the run's folder."""
    out = Path(out).absolute()
    driver = _DRIVERS.get(out.suffix.lower())
    if driver is None:
        raise OutputError(f"{out}: write isochrones to a .gpkg or .geojson file")
    if run is not None:
        gpkg = _run_gpkg(run).absolute()
        folder = gpkg.parent
        if out == gpkg or folder in out.parents:
            raise OutputError(
                f"{out}: inside the run folder {folder}, which is never modified; "
                "choose an --out outside it"
            )
    if out.exists() and not overwrite:
        raise OutputError(f"{out}: exists; pass --overwrite to replace it or choose another --out")
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent}: no such folder")
    data: Any = frame if driver == "GPKG" else frame.to_crs(4326)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.tmp{out.suffix}")
    try:
        pyogrio.write_dataframe(data, tmp, layer=LAYER, driver=driver)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def layer_description(settings: Mapping[str, Any]) -> str:
    """The ``isochrones`` layer's description (``gpkg_contents``) from a run's isochrone
    settings (:func:`lifecircle.isochrones.isochrone_settings`): bands, walk-in, the cell and
    how it was chosen."""
    bands = "/".join(f"{b:g}" for b in settings.get("bands_min", []))
    text = (f"Walking isochrones, {settings.get('rows', 'rings')} of {bands} min; streets "
            f"reached, buffered {settings.get('walk_in_m', 0):g} m")
    cell = settings.get("cell_m")
    if cell is not None:
        how = "automatic for the network's extent" if settings.get("cell_auto") else "given"
        text += (f"; outlined on a {cell:g} m grid ({how}) and simplified within "
                 f"{cell * 2 ** 0.5:.0f} m of the grid outline: nothing farther than "
                 f"{settings.get('walk_in_m', 0):g} m from the reached streets is in, "
                 "everything reached is")
    return text


def describe_layer(gpkg: str | Path, text: str, *, layer: str = LAYER) -> None:
    """Set ``layer``'s description in the GeoPackage's ``gpkg_contents`` (what QGIS shows as
    the layer's abstract)."""
    with sqlite3.connect(gpkg) as con:
        con.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?",
                    (text, layer))
    con.close()


def append_isochrones(gpkg: str | Path, frames: Iterable[pd.DataFrame], *,
                      empty: gpd.GeoDataFrame, description: str | None = None,
                      layer: str = LAYER) -> int:
    """Write ``frames`` into ``layer`` of an existing GeoPackage one after the other, each
    appended and then dropped, so that memory holds one frame (one category's isochrones),
    not the layer; ``empty`` (the columns, no rows) makes the layer when there is no frame.
    Returns the rows written.

    The frames are :func:`lifecircle.isochrones.iter_isochrones`' (WKB in ``geometry``) or
    GeoDataFrames with the same columns. Each row is handed to ``pyogrio.write_arrow`` as it
    is, its WKB freed before the next row's is passed on: no geometry object is made. The
    rows and their order are those of :func:`lifecircle.isochrones.run_isochrones`' table
    written in one go (``tests/test_isochrones_stream.py``).
    """
    import pyarrow as pa
    import shapely

    # the layer is made from ``empty``, so its field types do not depend on the first frame
    # (a category without facilities has integer zeros where the others have metres)
    pyogrio.write_dataframe(empty, gpkg, layer=layer, driver="GPKG",
                            geometry_type="MultiPolygon")
    geom = empty.geometry.name
    fields = [c for c in empty.columns if c != geom]
    types = {c: empty[c].dtype for c in fields}
    crs = empty.crs.to_wkt() if empty.crs is not None else None
    rows = 0
    category = None  # the category of the last frame written
    # one commit per row: without an fsync each (as the other layers), one at the end
    with unsynced():
        for frame in frames:
            # a category's arrays are gone once the next one's frame comes: their pages go
            # back then, once a category (not once a band: between a category's bands the
            # freed pages are taken again by the next band, and trimming them only to fault
            # them in again cost 0.3-0.5 s CPU of the 268,569-node mosaic's 5.0-6.8 s)
            first = frame["category"].iloc[0] if len(frame) else category
            if category is not None and first != category:
                release_freed()
            category = first
            if isinstance(frame, gpd.GeoDataFrame):
                wkb = list(shapely.to_wkb(frame.geometry.to_numpy(), byte_order=1))
            else:
                wkb = frame["geometry"].tolist()
            attrs = pd.DataFrame(frame[fields]).astype(types)
            rows += len(frame)
            del frame
            for i in range(len(attrs)):
                table = pa.Table.from_pandas(attrs.iloc[[i]], preserve_index=False)
                table = table.append_column(geom, _wkb_column(wkb[i]))
                wkb[i] = None  # freed once written
                pyogrio.write_arrow(table, gpkg, layer=layer, driver="GPKG", append=True,
                                    geometry_name=geom, geometry_type="MultiPolygon", crs=crs)
                del table
    release_freed()  # the last category's
    fsync_file(Path(gpkg))
    if description is not None:
        describe_layer(gpkg, description, layer=layer)
    return rows


def _wkb_column(data: bytes | np.ndarray) -> Any:
    """One WKB as a one-row Arrow binary column; a kernel's ``uint8`` array is not copied
    (Arrow reads its buffer)."""
    import pyarrow as pa

    if isinstance(data, np.ndarray):
        offsets = pa.py_buffer(np.array([0, data.shape[0]], dtype=np.int32))
        return pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)])
    return pa.array([data], type=pa.binary())


def read_isochrones(gpkg: str | Path, *, category: str | None = None,
                    layer: str = LAYER) -> gpd.GeoDataFrame:
    """A run's ``isochrones`` layer, or only one ``category``'s rows (read with an SQL filter,
    so a map or a tool can take a city's isochrones one category at a time)."""
    path = _run_gpkg(gpkg)
    where = None if category is None else "category = '" + category.replace("'", "''") + "'"
    return pyogrio.read_dataframe(path, layer=layer, where=where)
