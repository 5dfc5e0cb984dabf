"""Opening GeoTIFF inputs (population, DEM) with one set of clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .._errors import InputFileError

__all__ = ["extent_text", "open_raster", "read_values", "window_of_bounds"]


def open_raster(path: Path, *, what: str, band: int = 1) -> Any:
    """Open a georeferenced raster; :class:`InputFileError` for a missing, corrupt, unplaced file.

    ``what`` names the input in the fix ("population raster", "DEM").
    """
    import rasterio
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    if not path.exists():
        raise InputFileError(path, "file not found", f"check the {what}'s path")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a raster", "give a GeoTIFF file")
    try:
        with warnings.catch_warnings():
            # an ungeoreferenced file is refused with a clear error below, not a warning
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputFileError(
            path,
            f"cannot be read as a raster ({str(exc).splitlines()[0]})",
            f"the file is corrupt or not a GeoTIFF; export the {what} again",
        ) from None
    problem = fix = ""
    if src.crs is None:
        problem = "the raster has no CRS"
        fix = "assign one (e.g. gdal_edit.py -a_srs EPSG:4326 FILE) and run again"
    elif src.transform == Affine.identity():
        problem = "the raster has no georeferencing (identity geotransform)"
        fix = "give a GeoTIFF with its geotransform (e.g. gdal_translate -a_ullr ...)"
    elif not 1 <= band <= src.count:
        problem = f"has {src.count} band(s), no band {band}"
        fix = "choose an existing band"
    if problem:
        src.close()
        raise InputFileError(path, problem, fix)
    return src


def extent_text(bounds: Any) -> str:
    """``(xmin, ymin, xmax, ymax)`` for messages."""
    if bounds is None:
        return "(empty)"
    return f"({bounds[0]:.6g}, {bounds[1]:.6g}, {bounds[2]:.6g}, {bounds[3]:.6g})"


def window_of_bounds(
    bounds: Any, inv: Any, height: int, width: int
) -> tuple[int, int, int, int] | None:
    """Row/column range (r0, c0, r1, c1) of the pixels under ``bounds``, clipped to the raster.

    ``inv`` is the inverse geotransform; ``None`` when the bounds miss the raster.
    """
    import numpy as np

    x0, y0, x1, y1 = bounds
    xs, ys = np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1])
    cs = inv.a * xs + inv.b * ys + inv.c
    rs = inv.d * xs + inv.e * ys + inv.f
    r0 = max(int(np.floor(np.min(rs))), 0)
    c0 = max(int(np.floor(np.min(cs))), 0)
    # a point on a pixel edge still falls in a pixel: at least one row and column
    r1 = min(max(int(np.ceil(np.max(rs))), int(np.floor(np.min(rs))) + 1), height)
    c1 = min(max(int(np.ceil(np.max(cs))), int(np.floor(np.min(cs))) + 1), width)
    if r1 <= r0 or c1 <= c0:
        return None
    return r0, c0, r1, c1


def read_values(src: Any, band: int, window: tuple[int, int, int, int]) -> Any:
    """Pixels of ``window`` (r0, c0, r1, c1) as float64 with nodata (masked or equal) as NaN."""
    import numpy as np
    from rasterio.windows import Window

    r0, c0, r1, c1 = window
    data = src.read(band, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
    values = np.ma.filled(data.astype(np.float64), np.nan)
    nodata = src.nodatavals[band - 1]
    if nodata is not None and not np.isnan(nodata):
        values[values == nodata] = np.nan
    return values
