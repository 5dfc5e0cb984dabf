"""Online OpenStreetMap through osmnx (Overpass): the walking network and the features
(points of interest, land use, buildings) a run needs, as :class:`~lifecircle.sources.osm.OSMData`.

osmnx is imported only here and only when called: a local file never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ._osm_columns import BuildingTable, PoiTable
from .osm_model import (
    NON_RESIDENTIAL_LANDUSE,
    POI_KEYS,
    VACANT_LANDUSE,
    OSMData,
)

__all__ = ["WALK_FILTER", "download_osm", "osm_data_from_features"]

#: Overpass filter for the walkable ways of :func:`is_walkable`, as osmnx takes it. Ways with
#: ``foot=yes`` on motorways are the one case it leaves out (Overpass cannot express "unless").
WALK_FILTER = (
    '["highway"]["area"!~"yes"]'
    '["highway"!~"motorway|motorway_link|trunk|trunk_link|construction|proposed|planned|'
    'abandoned|razed|platform|raceway|bus_guideway|escape|busway|no"]'
    '["foot"!~"no|use_sidepath"]["service"!~"private"]'
    '["access"!~"private|no|military|agricultural|forestry"]'
)


def osm_data_from_features(features: Any, *, where: str) -> OSMData:
    """Wrap osmnx features (POIs, land use, buildings) as :class:`OSMData` without ways.

    The network of an online run comes from the osmnx graph; this carries what facilities and
    blocks are derived from, so online and local runs share one code path.
    """
    import shapely

    pois: list[tuple[str, int, float, float, dict[str, str], bytes | None]] = []
    landuse: list[tuple[str, int, bytes]] = []
    landuse_other: list[tuple[str, int, str, bytes]] = []
    buildings: list[tuple[str, int, str, str | None, bytes]] = []
    gates: list[tuple[int, float, float, dict[str, str]]] = []
    vacant: list[tuple[str, int, str, str, bytes]] = []
    if features is not None and len(features):
        frame = features.to_crs(4326)
        for (element, osm_id), row in zip(frame.index, frame.itertuples(index=False), strict=True):
            values = row._asdict() if hasattr(row, "_asdict") else {}
            tags = {}
            # the row holds every column, the geometry among them (osmnx puts it first)
            for c, v in zip(frame.columns, row, strict=True):
                if c != frame.geometry.name and isinstance(v, str) and v:
                    tags[str(c)] = v
            geom = (
                getattr(row, frame.geometry.name, None)
                if not values
                else values.get(frame.geometry.name)
            )
            if geom is None:
                geom = frame.geometry.loc[(element, osm_id)]
            kind = str(element)
            blob: bytes | None = None
            if geom.geom_type in ("Polygon", "MultiPolygon"):
                area_blob = shapely.to_wkb(geom)
                blob = area_blob
                if tags.get("landuse") == "residential":
                    landuse.append((kind, int(osm_id), area_blob))
                if tags.get("landuse") in NON_RESIDENTIAL_LANDUSE:
                    landuse_other.append((kind, int(osm_id), tags["landuse"], area_blob))
                if tags.get("landuse") in VACANT_LANDUSE:
                    vacant.append((kind, int(osm_id), tags["landuse"], tags.get("name", ""),
                                   area_blob))
                if tags.get("building", "no") != "no":
                    buildings.append(
                        (
                            kind,
                            int(osm_id),
                            tags["building"],
                            tags.get("building:levels"),
                            area_blob,
                        )
                    )
            if geom.geom_type == "Point" and ("entrance" in tags or tags.get("barrier") == "gate"):
                gates.append((int(osm_id), geom.x, geom.y, tags))
            if any(k in tags for k in POI_KEYS if k != "name") or (
                "name" in tags and geom.geom_type == "Point"
            ):
                pt = geom if geom.geom_type == "Point" else shapely.point_on_surface(geom)
                pois.append((kind, int(osm_id), pt.x, pt.y, tags, blob))
    empty_i = np.empty(0, dtype=np.int64)
    return OSMData(
        path=where,
        way_ids=empty_i,
        way_highway=[],
        way_name=[],
        refs=empty_i,
        way_ptr=np.zeros(1, dtype=np.int64),
        ref_lon=np.empty(0),
        ref_lat=np.empty(0),
        pois=PoiTable.from_rows(pois),
        landuse=landuse,
        buildings=BuildingTable.from_rows(buildings),
        gates=gates,
        vacant=vacant,
        stats={
            "pois": len(pois),
            "residential_landuse": len(landuse),
            "buildings": len(buildings),
            "gates": len(gates),
            "source": "osmnx",
        },
        landuse_other=landuse_other,
    )


def download_osm(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Any = None,
    cache_dir: str | Path | None = None,
) -> Any:
    """Download a walking network and features through osmnx (Overpass, cached).

    Returns a tuple ``(graph, features)``: an osmnx ``MultiDiGraph`` and a GeoDataFrame of
    POIs, residential land use and buildings. Exactly one of ``place``, ``bbox`` (west, south,
    east, north) or ``polygon`` (shapely, WGS 84) is required.
    """
    import osmnx as ox

    given = [x is not None for x in (place, bbox, polygon)]
    if sum(given) != 1:
        raise InputError("give exactly one of place, bbox or polygon for an online download")
    if cache_dir is not None:
        ox.settings.cache_folder = str(cache_dir)
    ox.settings.use_cache = True
    feature_tags: dict[str, Any] = {k: True for k in POI_KEYS if k != "name"}
    feature_tags.update(
        {"landuse": ["residential", *sorted(VACANT_LANDUSE | NON_RESIDENTIAL_LANDUSE)],
         "building": True}
    )
    try:
        if place is not None:
            graph = ox.graph_from_place(
                place, custom_filter=WALK_FILTER, simplify=True, retain_all=True
            )
            features = ox.features_from_place(place, feature_tags)
        elif bbox is not None:
            graph = ox.graph_from_bbox(
                bbox, custom_filter=WALK_FILTER, simplify=True, retain_all=True
            )
            features = ox.features_from_bbox(bbox, feature_tags)
        else:
            graph = ox.graph_from_polygon(
                polygon, custom_filter=WALK_FILTER, simplify=True, retain_all=True
            )
            features = ox.features_from_polygon(polygon, feature_tags)
    except Exception as exc:  # network errors, Nominatim misses, Overpass errors
        what = place if place is not None else (bbox if bbox is not None else "polygon")
        raise InputError(
            f"online download for {what!r} failed ({type(exc).__name__}: {exc}); check the "
            "place name and your connection, or download an extract and pass --osm FILE"
        ) from None
    return graph, features
