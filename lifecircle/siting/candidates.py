"""Candidate sites: a user file, OSM (suitable buildings, vacant land, surface parking) or a
regular sample of the walking network."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from .._errors import ConfigError, InputError
from ..network import WalkNetwork
from ..sources.osm_model import VACANT_LANDUSE

if TYPE_CHECKING:
    from ..sources.osm import OSMData

__all__ = [
    "CANDIDATE_BUILDINGS",
    "CANDIDATE_LANDUSE",
    "candidates_from_osm",
    "network_sample",
    "read_candidates",
    "resolve_candidates",
]


#: building values that can host a new community facility (vacant, public or commercial)
CANDIDATE_BUILDINGS = frozenset(
    {"commercial", "retail", "office", "public", "civic", "community_centre", "vacant",
     "construction", "warehouse", "industrial"}
)
#: land-use values of vacant or redevelopable land
CANDIDATE_LANDUSE = VACANT_LANDUSE


def _candidate_frame(ids: Sequence[str], source: Sequence[str], geometry: Any,
                     crs: Any, names: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    n = len(ids)
    return gpd.GeoDataFrame(
        {
            "candidate_id": np.asarray(ids, dtype=object),
            "name": np.asarray(names if names is not None else [""] * n, dtype=object),
            "source": np.asarray(source, dtype=object),
        },
        geometry=geometry,
        crs=crs,
    )


def network_sample(net: WalkNetwork, *, spacing_m: float = 100.0) -> gpd.GeoDataFrame:
    """Candidate points every ``spacing_m`` along the walking network (edge midpoints first).

    Each edge of length L gets ``max(1, round(L / spacing_m))`` points at equal fractions
    ``(k + 0.5) / n`` of its length, so short edges get their midpoint and no point sits on a
    node shared by several edges. Points are in ``net.crs``.
    """
    if not spacing_m > 0:
        raise ConfigError(f"candidate spacing must be positive, got {spacing_m!r} m")
    length = net.edge_length_m
    count = np.maximum(1, np.round(length / spacing_m)).astype(np.int64)
    edge = np.repeat(np.arange(net.n_edges), count)
    start = np.repeat(np.cumsum(count) - count, count)
    k = np.arange(edge.shape[0]) - start
    frac = (k + 0.5) / count[edge]
    pts = shapely.line_interpolate_point(net.geometries[edge], frac, normalized=True)
    ids = [f"net-{i}" for i in range(edge.shape[0])]
    return _candidate_frame(ids, ["network_sample"] * len(ids), pts, net.crs)


def candidates_from_osm(data: OSMData, crs: Any) -> gpd.GeoDataFrame:
    """Candidate sites from OSM: buildings of suitable type, vacant land, surface parking.

    Buildings whose ``building`` value is in :data:`CANDIDATE_BUILDINGS`; areas tagged
    ``landuse`` in :data:`CANDIDATE_LANDUSE` (``OSMData.vacant``, from local files and the
    online path alike: brownfield, greenfield, grass, construction sites, vacant parcels) and
    surface parking (``amenity=parking`` with ``parking`` absent or ``surface``). Each becomes
    its representative point, projected to ``crs``.
    """
    ids: list[str] = []
    source: list[str] = []
    names: list[str] = []
    geoms: list[Any] = []
    for osm_type, osm_id, value, _levels, blob in data.buildings:
        if value in CANDIDATE_BUILDINGS:
            ids.append(f"{osm_type}/{osm_id}")
            source.append(f"building={value}")
            names.append("")
            geoms.append(shapely.from_wkb(blob))
    for osm_type, osm_id, landuse, name, blob in data.vacant:
        ids.append(f"{osm_type}/{osm_id}")
        source.append(f"landuse={landuse}")
        names.append(name)
        geoms.append(shapely.from_wkb(blob))
    for osm_type, osm_id, lon, lat, tags, area in data.pois:
        if tags.get("amenity") != "parking" or tags.get("parking", "surface") != "surface":
            continue
        ids.append(f"{osm_type}/{osm_id}")
        source.append("amenity=parking")
        names.append(tags.get("name", ""))
        geoms.append(shapely.from_wkb(area) if area is not None else shapely.Point(lon, lat))
    frame = _candidate_frame(ids, source, geoms, 4326, names).drop_duplicates("candidate_id")
    frame = frame.to_crs(crs)
    frame["geometry"] = frame.geometry.representative_point()
    return frame.reset_index(drop=True)


def read_candidates(
    path: str | Path,
    *,
    crs: str | None = None,
    id_col: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from a user file (CSV with coordinates, or any vector file).

    ``id_col`` names the ids (default ``id`` or ``candidate_id`` when present, else the row
    number); ``crs`` declares a CSV's coordinates (``gcj02``/``bd09`` are converted).
    Returns WGS 84 points with ``candidate_id``, ``name`` and ``source``.
    """
    from ..sources.tables import read_points, unique_ids

    path = Path(path)
    gdf = read_points(path, crs=crs, x_col=x_col, y_col=y_col, what="candidate")
    if id_col is None:
        id_col = next((c for c in ("candidate_id", "id") if c in gdf.columns), None)
    if id_col is not None and id_col not in gdf.columns:
        raise InputError(
            f"{path}: no id column {id_col!r} (columns: {', '.join(map(str, gdf.columns))}); "
            "pass the right column name"
        )
    ids = (unique_ids(gdf, id_col, path, "candidate") if id_col is not None
           else np.array([f"row-{i + 1}" for i in range(len(gdf))], dtype=object))
    names = gdf["name"].fillna("").astype(str).tolist() if "name" in gdf.columns else None
    return _candidate_frame([str(i) for i in ids], ["user"] * len(gdf),
                            gdf.geometry.values, gdf.crs, names)


def resolve_candidates(
    net: WalkNetwork,
    candidates: gpd.GeoDataFrame | str | Path | None,
    *,
    osm: OSMData | None = None,
    crs: str | None = None,
    spacing_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Candidate points in ``net.crs`` from any of the forms :func:`lifecircle.siting.site`
    accepts: ``None`` (:func:`network_sample`), ``"osm"`` (:func:`candidates_from_osm` on
    ``osm``), a GeoDataFrame with a CRS, or a file (:func:`read_candidates`)."""
    if candidates is None:
        return network_sample(net, spacing_m=spacing_m)
    if isinstance(candidates, str) and candidates == "osm":
        if osm is None:
            raise InputError("candidates 'osm' need an OSM file; this run has no OSM data")
        return candidates_from_osm(osm, net.crs)
    if isinstance(candidates, gpd.GeoDataFrame):
        if candidates.crs is None:
            raise InputError(
                "the candidate GeoDataFrame has no CRS; set one with .set_crs(...)")
        frame = candidates.copy()
        if "candidate_id" not in frame.columns:
            frame["candidate_id"] = [f"row-{i + 1}" for i in range(len(frame))]
        for c, default in (("name", ""), ("source", "user")):
            if c not in frame.columns:
                frame[c] = default
        frame = frame[["candidate_id", "name", "source", frame.geometry.name]]
        frame = frame.to_crs(net.crs)
        frame["geometry"] = frame.geometry.representative_point()
        return frame.set_geometry("geometry")
    return read_candidates(candidates, crs=crs).to_crs(net.crs)
