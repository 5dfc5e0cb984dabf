"""An analysis area given as a polygon file (GeoJSON, GeoPackage, any OGR vector format).

With a local extract the area restricts the residential blocks a run evaluates to those whose
representative point lies inside it; the network and the facilities stay whole, so a block
near the area's edge still walks to a facility just outside it (clipping them would invent a
boundary nobody walks into). Areas that tile a city therefore count every block exactly once.
Without a local extract the area is what an online run downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from .._errors import InputFileError
from .tables import read_polygons

__all__ = ["blocks_in_area", "read_area"]


def read_area(path: str | Path, *, crs: str | None = None) -> Any:
    """Read a polygon file as one (multi)polygon in WGS 84 (EPSG:4326).

    Every feature of the file is part of the area; a file without a CRS needs ``crs``.
    """
    gdf, _ = read_polygons(path, crs=crs, what="area")
    return shapely.union_all(gdf.to_crs(4326).geometry.to_numpy())


def blocks_in_area(
    blocks: gpd.GeoDataFrame, area_wgs84: Any, *, where: str | Path
) -> gpd.GeoDataFrame:
    """The blocks whose representative point lies inside the area (given in WGS 84).

    Raises
    ------
    InputFileError
        When no block lies inside the area (names ``where``, the polygon file).
    """
    area = gpd.GeoSeries([area_wgs84], crs=4326).to_crs(blocks.crs).iloc[0]
    # the area prepared once (GEOS's within of each point walked the unprepared outline)
    shapely.prepare(area)
    inside = shapely.contains(area, blocks.representative_point().to_numpy())
    if not inside.any():
        raise InputFileError(
            where,
            f"none of the {len(blocks)} residential blocks lies inside the area polygon",
            "check that the polygon covers the extract (both in one CRS) or draw a larger one",
        )
    return blocks.loc[inside].copy()
