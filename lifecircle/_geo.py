"""The geodesic and the local projection shared by the network and its networkx interop."""

from __future__ import annotations

import numpy as np
import pyproj

from ._errors import InputError

__all__ = ["GEOD", "local_crs"]

GEOD = pyproj.Geod(ellps="WGS84")


def local_crs(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """The UTM zone CRS (metres) for the centre of these WGS 84 coordinates."""
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    # (copied only where some are not finite: the network's are all, and millions)
    if not np.isfinite(lon).all():
        lon = lon[np.isfinite(lon)]
    if not np.isfinite(lat).all():
        lat = lat[np.isfinite(lat)]
    west, east = float(lon.min()), float(lon.max())
    south, north = float(lat.min()), float(lat.max())
    # the zone of the centre point, as GeoDataFrame.estimate_utm_crs chooses it
    cx, cy = (west + east) / 2, (south + north) / 2
    infos = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(cx, cy, cx, cy))
    if not infos:
        raise InputError(f"no UTM zone found for the network centre ({cx:.5f}, {cy:.5f})")
    return pyproj.CRS.from_epsg(int(infos[0].code))
