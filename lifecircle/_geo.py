"""The geodesic and the local projection shared by the network and its networkx interop."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj

from ._errors import InputError

__all__ = ["GEOD", "local_crs", "utm_crs_at"]

GEOD = pyproj.Geod(ellps="WGS84")

#: degrees: a point nearer than this to a zone's edge is left to pyproj's database
_EDGE_DEG = 1e-6


def _utm_code(lon: float, lat: float) -> int | None:
    """The EPSG code of the WGS 84 UTM zone whose area of use alone holds the point (the 6°
    strips from 180°W, north of the equator up to 84°N, south of it down to 80°S), by
    arithmetic; ``None`` on or near an edge, where several or none hold it.

    pyproj's database query answers the same for such points, but costs 0.1-0.15 s a call
    (a small run's network and its facilities asked twice), hence this for the clear case."""
    if not (-80 + _EDGE_DEG < lat < 84 - _EDGE_DEG and abs(lat) > _EDGE_DEG
            and -180 < lon < 180):
        return None
    strip = (lon + 180) / 6
    zone = int(strip)  # (strip > 0)
    if min(strip - zone, zone + 1 - strip) * 6 < _EDGE_DEG:
        return None
    return (32600 if lat > 0 else 32700) + zone + 1


@lru_cache(maxsize=64)
def utm_crs_at(lon: float, lat: float) -> pyproj.CRS | None:
    """The WGS 84 UTM zone CRS of a point as ``GeoSeries.estimate_utm_crs`` chooses it (the
    first of pyproj's database for the point); ``None`` where no zone holds it."""
    code = _utm_code(lon, lat)
    if code is None:
        from pyproj.aoi import AreaOfInterest
        from pyproj.database import query_utm_crs_info

        infos = query_utm_crs_info(datum_name="WGS 84",
                                   area_of_interest=AreaOfInterest(lon, lat, lon, lat))
        if not infos:
            return None
        code = int(infos[0].code)
    return pyproj.CRS.from_epsg(code)


def local_crs(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """The UTM zone CRS (metres) for the centre of these WGS 84 coordinates."""
    # (copied only where some are not finite: the network's are all, and millions)
    if not np.isfinite(lon).all():
        lon = lon[np.isfinite(lon)]
    if not np.isfinite(lat).all():
        lat = lat[np.isfinite(lat)]
    west, east = float(lon.min()), float(lon.max())
    south, north = float(lat.min()), float(lat.max())
    # the zone of the centre point, as GeoDataFrame.estimate_utm_crs chooses it
    cx, cy = (west + east) / 2, (south + north) / 2
    crs = utm_crs_at(cx, cy)
    if crs is None:
        raise InputError(f"no UTM zone found for the network centre ({cx:.5f}, {cy:.5f})")
    return crs
