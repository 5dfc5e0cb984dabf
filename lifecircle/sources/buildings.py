"""Buildings: which footprints are homes, their floor area, and people per block from them.

A footprint counts as a dwelling when its ``building`` value is residential
(:data:`~lifecircle.sources.osm.RESIDENTIAL_BUILDINGS`), or when it is untyped
(``building=yes`` or any value in neither list) and

* it sits in residential land use, or
* nothing marks it non-residential: no amenity, shop, office (or other point-of-interest) tag
  on the building, and no non-residential land use, campus, hospital or park around it.

Footprints under :data:`MIN_UNTYPED_FOOTPRINT_M2` that are untyped are sheds and kiosks, not
homes. A block's population is its residential floor area (footprint × ``building:levels``,
else the profile's default levels for the building type) ÷ floor area per person; blocks
without mapped footprints fall back to area × density.
"""

from __future__ import annotations

import weakref
from itertools import chain
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import InputError
from ..profiles import PopulationSettings
from ._halves import alongside, elementwise, in_parts
from ._labels import labels
from ._osm_arrays import positions
from ._osm_columns import (
    PROJECT_CHUNK,
    WkbColumn,
    projected_geometries,
    projected_measures,
    projected_xy,
    ring_lonlat,
)
from .block_split import as_xy, owner_of
from .osm_model import NON_RESIDENTIAL_BUILDINGS, RESIDENTIAL_BUILDINGS, OSMData

__all__ = [
    "HOUSE_BUILDINGS",
    "Homes",
    "block_floor_area",
    "buildings_from_osm",
    "estimate_population",
    "floor_area",
    "homes_of",
    "method_shares",
    "people",
    "residential_landuse",
    "scale_to_total",
]

#: residential building types of one or two storeys (the profile's ``house_levels``)
HOUSE_BUILDINGS = frozenset(
    {
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
        "farm",
        "cabin",
        "static_caravan",
        "houseboat",
    }
)
#: point-of-interest keys that make an untyped building non-residential
_NON_RESIDENTIAL_KEYS = (
    "amenity",
    "shop",
    "office",
    "healthcare",
    "craft",
    "tourism",
    "leisure",
    "public_transport",
    "railway",
    "social_facility",
)
#: areas (tagged polygons) in which an untyped building is not a home
_NON_RESIDENTIAL_AREAS = {
    "amenity": frozenset(
        {
            "university",
            "college",
            "school",
            "kindergarten",
            "hospital",
            "clinic",
            "prison",
            "place_of_worship",
            "grave_yard",
            "marketplace",
            "parking",
        }
    ),
    "leisure": frozenset({"park", "pitch", "stadium", "sports_centre", "golf_course", "garden"}),
}
#: why a building is a home or not (``home_rule``), by rule code (in the order they apply)
_RULES = np.array(["residential_type", "non_residential_type", "non_residential_tags",
                   "too_small", "untyped_in_residential_landuse", "non_residential_landuse",
                   "untyped_no_landuse"], dtype=object)
#: the codes of the rules that make a home
_HOME_RULES = np.flatnonzero(np.isin(
    _RULES, ["residential_type", "untyped_in_residential_landuse", "untyped_no_landuse"]))
#: untyped footprints smaller than this are sheds, garages or kiosks, not homes
MIN_UNTYPED_FOOTPRINT_M2 = 30.0
#: mapped footprints must cover at least this share of a block for the building estimate
MIN_BUILDING_COVER = 0.05


def _polygons(blobs: list[bytes], crs: Any) -> np.ndarray:
    """Projected polygons, repaired (building footprints are not: only their area and a point
    on them are used, and at city scale the repair costs seconds)."""
    if not blobs:
        return np.empty(0, dtype=object)
    # the read's one-ring records projected off their coordinates (4x faster than to_crs,
    # the same coordinates: see projected_geometries)
    return _repaired(projected_geometries(WkbColumn.from_blobs(blobs), crs))


def _repaired(geoms: np.ndarray) -> np.ndarray:
    """``shapely.make_valid`` of ``geoms``, asked only of the invalid ones: GEOS gives a valid
    geometry back as a copy of itself, and telling it valid costs a third of the repair."""
    bad = np.flatnonzero(~elementwise(shapely.is_valid, geoms))
    if bad.size:
        geoms[bad] = elementwise(shapely.make_valid, geoms[bad])
    return geoms


#: the residential land use :func:`buildings_from_osm` projected and repaired, by ``id`` of
#: the OSM data, until the next call with the same data and CRS takes it (the block
#: derivation reads the same polygons: repairing them twice cost ~0.2 s at 268,569 nodes)
_LANDUSE: dict[int, tuple[Any, int, np.ndarray]] = {}


def residential_landuse(data: OSMData, crs: Any) -> np.ndarray:
    """Residential land-use polygons (valid, projected to ``crs``)."""
    key = id(data)
    held = _LANDUSE.pop(key, None)
    if held is not None and held[0] == crs and held[1] == len(data.landuse):
        return held[2]
    return _polygons([b for _, _, b in data.landuse], crs)


def _landuse_kept(data: OSMData, crs: Any) -> np.ndarray:
    """:func:`residential_landuse`, kept for the next call with ``data`` (while it lives)."""
    geoms = residential_landuse(data, crs)
    key = id(data)
    weakref.finalize(data, _LANDUSE.pop, key, None)
    _LANDUSE[key] = (crs, len(data.landuse), geoms)
    return geoms


def _poi_area_marks(data: OSMData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions of the area POIs among the POIs, and per area POI: whether a
    point-of-interest key marks it, whether it is a non-residential zone).

    One pass over every tag at once (keys and values as flat arrays with their POI's
    position), not a tag dict per POI: a city has 10^5 area POIs.
    """
    pois = data.pois
    rows = np.flatnonzero(pois.is_area) if len(pois) else np.empty(0, dtype=np.int64)
    flats = [pois.tags[i] for i in rows.tolist()]
    sizes = np.fromiter((len(f) // 2 for f in flats), dtype=np.int64, count=len(flats))
    flat = np.fromiter(chain.from_iterable(flats), dtype=object, count=2 * int(sizes.sum()))
    keys, values = pd.Series(flat[0::2], dtype=object), pd.Series(flat[1::2], dtype=object)
    of = np.repeat(np.arange(rows.size), sizes)
    marked = np.zeros(rows.size, dtype=bool)
    marked[of[keys.isin(_NON_RESIDENTIAL_KEYS).to_numpy()]] = True
    zone = np.zeros(rows.size, dtype=bool)
    for key, kinds in _NON_RESIDENTIAL_AREAS.items():
        zone[of[((keys == key) & values.isin(kinds)).to_numpy()]] = True
    return rows, marked, zone


def _non_residential_zones(data: OSMData, crs: Any, rows: np.ndarray,
                           zone: np.ndarray) -> np.ndarray:
    """Non-residential land use, then the area POIs ``rows[zone]`` (campus, hospital, park),
    projected and repaired."""
    other = _polygons([b for _, _, _, b in data.landuse_other], crs)
    if not zone.any():
        return other
    areas = projected_geometries(data.pois.wkb.take(rows[zone]), crs)
    return np.concatenate([other, _repaired(areas)])


def _measures(geoms: np.ndarray, *, keep: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(footprint area, a point on each footprint as (n, 2), the footprints if ``keep`` else
    an empty array) of projected footprints."""
    points = as_xy(elementwise(shapely.point_on_surface, geoms))
    return shapely.area(geoms), points, geoms if keep else np.empty(0, dtype=object)


def _ring_measures(column: WkbColumn, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(footprint area, a point on each as (n, 2)) of the column's footprints projected to
    ``crs``, without a geometry per one-ring footprint, :data:`PROJECT_CHUNK` records at a
    time (a city's coordinates are never held twice).

    One-ring footprints are measured in the projection's local affine frame
    (:mod:`._footprint_frame`) and only their centroids projected: the area is the projected
    polygon's to ~1e-9 relative (at most 5.6e-9 on Monaco's footprints, a stray building far
    away or not: the lattice's step is fixed and footprints off it are projected vertex by
    vertex), and the point (GEOS's interior point of the frame's ring) is inside the
    projected ring wherever it is farther from the frame's edges than the frame's error
    bound; the few others (and all where the lattice fails) are projected vertex by vertex
    and measured as GEOS measures them (:mod:`._footprint_kernels`).
    """
    from ._footprint_frame import lattice_box, local_frame

    n = len(column)
    area, points = np.empty(n), np.empty((n, 2))
    frame, box = None, np.array([np.inf, np.inf, -np.inf, -np.inf])
    framed = box
    for lo in range(0, n, PROJECT_CHUNK):
        run = WkbColumn(column.buf, column.offsets[lo : lo + PROJECT_CHUNK + 1])
        simple, lonlat, count = ring_lonlat(run)
        at = lo + np.flatnonzero(simple)
        ends = np.zeros(count.size + 1, dtype=np.int64)
        np.cumsum(count, out=ends[1:])
        if lonlat.shape[0]:  # the lattice made again where a run leaves its box (or, past
            # MAX_SPAN_DEG, where its median moves the lattice's window)
            # (column by column: numpy's min over axis 0 of (n, 2) is 10x slower; NaN and
            # infinite coordinates left out: their rings are measured vertex by vertex)
            lon, lat = lonlat[:, 0], lonlat[:, 1]
            finite = np.isfinite(lon) & np.isfinite(lat)
            if not finite.all():
                lon, lat = lon[finite], lat[finite]
            if lon.size:
                box = np.array([min(box[0], lon.min()), min(box[1], lat.min()),
                                max(box[2], lon.max()), max(box[3], lat.max())])
                cover = lattice_box(box, lon, lat)
                if not np.array_equal(cover, framed):
                    west, south, east, north = cover.tolist()
                    frame, framed = local_frame(west, south, east, north, crs), cover
        if frame is None:  # (the projection is not finite on the lattice, or no finite box)
            area[at], points[at] = _exact_rings(lonlat, ends, crs)
        else:
            area[at], points[at], sure = _framed_rings(lonlat, ends, frame, crs)
            unsure = np.flatnonzero(~sure)
            if unsure.size:  # measured again from their projected vertices
                sub = np.zeros(unsure.size + 1, dtype=np.int64)
                np.cumsum(count[unsure], out=sub[1:])
                take = positions(ends, unsure)  # each unsure ring's vertex positions
                area[at[unsure]], points[at[unsure]] = _exact_rings(lonlat[take], sub, crs)
        other = np.flatnonzero(~simple)
        if other.size:  # multipolygons (relations): measured by GEOS
            at = lo + other
            area[at], points[at] = _measures(projected_geometries(run.take(other), crs),
                                             keep=False)[:2]
    return area, points


def _framed_rings(lonlat: np.ndarray, ends: np.ndarray, frame: Any,
                  crs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(area, interior point as (n, 2), whether the point is surely inside the projected ring)
    of the rings ``lonlat[ends[r]:ends[r + 1]]`` measured in ``frame``'s local affine frames
    (:func:`._footprint_kernels.local_ring_measures`), the centroids alone projected."""
    from ._footprint_kernels import local_ring_measures

    lon, lat = np.ascontiguousarray(lonlat[:, 0]), np.ascontiguousarray(lonlat[:, 1])
    k = ends.size - 1
    area, px, py, clon, clat = (np.empty(k) for _ in range(5))
    sure = np.empty(k, dtype=bool)

    def part(s: slice) -> None:
        local_ring_measures(lon, lat, ends[s.start : s.stop + 1], frame.grid, frame.jac,
                            frame.hess, frame.curve, frame.slope,
                            *(o[s] for o in (area, px, py, clon, clat, sure)))

    in_parts(part, k)
    centre = projected_xy(clon, clat, crs)
    return area, np.column_stack([centre[:, 0] + px, centre[:, 1] + py]), sure


def _exact_rings(lonlat: np.ndarray, ends: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(area, interior point as (n, 2)) of the rings ``lonlat[ends[r]:ends[r + 1]]`` projected
    vertex by vertex, as GEOS measures the projected polygons."""
    from ._footprint_kernels import ring_measures

    xy = projected_xy(lonlat[:, 0], lonlat[:, 1], crs)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    k = ends.size - 1
    out = (np.empty(k), np.empty(k), np.empty(k))

    def part(s: slice) -> None:
        ring_measures(x, y, ends[s.start : s.stop + 1], *(o[s] for o in out))

    in_parts(part, k)
    return out[0], np.column_stack(out[1:])


def buildings_from_osm(data: OSMData, crs: Any, *, footprints: bool = True) -> gpd.GeoDataFrame:
    """OSM buildings (projected to ``crs``): type, levels, and whether each one is a home.

    Columns: ``osm_id``, ``building``, ``levels`` (NaN where untagged), ``residential``
    (counts as dwellings), ``non_residential`` (its negation), ``home_rule`` (why):
    ``residential_type``, ``untyped_in_residential_landuse``, ``untyped_no_landuse``,
    ``non_residential_type``, ``non_residential_tags``, ``non_residential_landuse`` or
    ``too_small``; ``rep_x``, ``rep_y``: a point on the footprint, which places the building
    in one block, and ``footprint_m2``, its area (kept so that no later step computes them
    again; they describe the footprints as read: a caller that clips or edits the geometry
    should drop these three columns, and :func:`homes_of` then measures the polygons).

    With ``footprints=False`` the geometry column is empty (``None``) and ``osm_id`` left
    out: the footprints are measured a run at a time from their WGS 84 coordinates in the
    projection's local frame (:func:`_ring_measures`: area to ~1e-9, at most 6e-9, of the
    projected polygon's, the point inside it, within a millimetre of GEOS's). That is all blocks and
    population read (:func:`homes_of`), and at city scale the polygons are most of the
    frame's memory (and the ids a ``str`` per building).
    """
    table = data.buildings
    if not len(table):
        return gpd.GeoDataFrame(
            {"osm_id": [], "building": [], "levels": [], "residential": [],
             "non_residential": [], "home_rule": [], "rep_x": [], "rep_y": [],
             "footprint_m2": []},
            geometry=[],
            crs=crs,
        )
    # pandas' column of the types, made once: the frame takes it and the look-ups below run
    # on it (pandas' string isin: 2x faster than hashing the objects twice)
    kinds = _kinds(table.building)
    raw = pd.Series(table.levels, dtype=object)
    # parsed where tagged only (a tenth of the buildings: half the cost at 268,569 nodes)
    tagged_levels = raw.notna().to_numpy()
    levels = np.full(len(raw), np.nan)
    levels[tagged_levels] = np.array(pd.to_numeric(raw[tagged_levels], errors="coerce"),
                                     dtype=np.float64)
    odd = np.flatnonzero(np.isnan(levels) & tagged_levels)
    if odd.size:  # "3;4", "5 floors": the leading number
        levels[odd] = pd.to_numeric(
            raw.iloc[odd].astype(str).str.extract(r"^\s*(\d+(?:\.\d+)?)")[0], errors="coerce"
        ).to_numpy(dtype=np.float64)
    # one int64 key per area: way and relation ids live in separate spaces
    rows, poi_marked, zone = _poi_area_marks(data)
    # the land-use and zone polygons are projected and repaired while the footprints are
    zones = alongside(lambda: (_landuse_kept(data, crs),
                               _non_residential_zones(data, crs, rows, zone)))
    if footprints:
        runs = projected_measures(table.wkb, crs, lambda g: _measures(g, keep=True))
        area, points = (np.concatenate([r[i] for r in runs]) for i in (0, 1))
        geoms = np.concatenate([r[2] for r in runs])
        del runs
    else:
        area, points = _ring_measures(table.wkb, crs)
        geoms = np.full(len(table), None, dtype=object)
    # pandas' isin, not numpy's (which sorts object arrays: a second at city scale)
    typed_home = kinds.isin(RESIDENTIAL_BUILDINGS).to_numpy(dtype=bool)
    typed_other = kinds.isin(NON_RESIDENTIAL_BUILDINGS).to_numpy(dtype=bool)
    marked = (2 * data.pois.osm_id[rows] + (data.pois.osm_type[rows] == "relation"))[poi_marked]
    tagged = pd.Series(table.keys()).isin(marked).to_numpy()  # hashed: np.isin sorts both
    res_landuse, other_zones = zones()
    small = area < MIN_UNTYPED_FOOTPRINT_M2
    # one look-up in both: a footprint in residential land is never asked about the zones
    # (``in_res`` comes first below), so the first holder of each point tells both; only
    # the footprints no earlier rule decides are looked up (a fifth of a city's are typed,
    # tagged or small)
    asked = np.flatnonzero(~(typed_home | typed_other | tagged | small))
    holder = np.full(area.size, -1, dtype=np.int64)
    holder[asked] = owner_of(points[asked], np.concatenate([res_landuse, other_zones]))
    in_res = (holder >= 0) & (holder < res_landuse.size)
    in_other = holder >= res_landuse.size
    # rule codes, then their names (np.select on the names would make a
    # fixed-width string array and a new str object per building: ~0.2 GB at 1M nodes)
    code = np.select([typed_home, typed_other, tagged, small, in_res, in_other],
                     np.arange(6), default=6)
    rule = labels(code, _RULES)
    home = np.isin(code, _HOME_RULES)
    # the ids are a str per building, and blocks and population never read them
    ids = {"osm_id": table.labels()} if footprints else {}
    frame = {
        **ids,
        "building": kinds,
        "levels": levels,
        "residential": home,
        "non_residential": ~home,
        "home_rule": rule,
        "rep_x": points[:, 0],
        "rep_y": points[:, 1],
        "footprint_m2": area,
    }
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs), copy=False)


def _kinds(values: np.ndarray) -> pd.Series:
    """``pd.Series(values)`` of the read's building types (a few hundred distinct objects
    repeated, no missing value): the distinct ones converted and taken by code where pandas
    keeps strings in Arrow (converting every object: 2-3x slower, ~0.15 s at 268,569 nodes)."""
    codes, distinct = pd.factorize(values)
    if not distinct.size or (codes < 0).any():
        return pd.Series(values.copy())
    return pd.Series(labels(codes, distinct))


def floor_area(buildings: gpd.GeoDataFrame, settings: PopulationSettings) -> np.ndarray:
    """Residential floor area per building (m²): footprint × levels, 0 for non-homes.

    Levels come from ``building:levels``, else ``house_levels`` for house types and
    ``default_levels`` for every other home.
    """
    if buildings.empty:
        return np.empty(0, dtype=np.float64)
    home = buildings["residential"].to_numpy(dtype=bool)
    return np.where(home, _footprints(buildings) * _levels(buildings, settings), 0.0)


def _footprints(buildings: gpd.GeoDataFrame, rows: np.ndarray | None = None) -> np.ndarray:
    """Footprint area (m²) of the buildings at ``rows`` (a boolean mask; all if None): the
    ``footprint_m2`` column of :func:`buildings_from_osm`, else the polygons' area."""
    if "footprint_m2" in buildings.columns:
        area = buildings["footprint_m2"].to_numpy(dtype=np.float64)
        return area if rows is None else area[rows]
    geoms = buildings.geometry.to_numpy()
    return shapely.area(geoms if rows is None else geoms[rows])


def _levels(buildings: gpd.GeoDataFrame, settings: PopulationSettings,
            rows: np.ndarray | None = None) -> np.ndarray:
    """Storeys of the buildings at ``rows`` (all if None): ``building:levels`` where tagged
    and positive, else the profile's levels for houses or for other homes."""
    kinds, levels = buildings["building"], buildings["levels"]
    if rows is not None:
        kinds, levels = kinds.iloc[rows], levels.iloc[rows]
    default = np.where(
        kinds.isin(HOUSE_BUILDINGS).to_numpy(dtype=bool),
        settings.house_levels,
        settings.default_levels,
    )
    levels = levels.to_numpy(dtype=np.float64)
    return np.where(np.isfinite(levels) & (levels > 0), levels, default)


class Homes(NamedTuple):
    """The homes among the buildings: representative point (an (n, 2) coordinate array),
    floor area and footprint (m²)."""

    points: np.ndarray
    floor: np.ndarray
    footprint: np.ndarray


def homes_of(buildings: gpd.GeoDataFrame, settings: PopulationSettings) -> Homes:
    """The buildings that count as dwellings, reduced to what population needs."""
    if buildings.empty:
        empty = np.empty(0)
        return Homes(np.empty((0, 2)), empty, empty)
    home = buildings["residential"].to_numpy(dtype=bool)
    if "rep_x" in buildings.columns:  # from buildings_from_osm
        points = np.column_stack([buildings["rep_x"].to_numpy(dtype=np.float64)[home],
                                  buildings["rep_y"].to_numpy(dtype=np.float64)[home]])
    else:
        points = as_xy(elementwise(shapely.point_on_surface, buildings.geometry.to_numpy()[home]))
    footprint = _footprints(buildings, home)  # once: the floor area is footprint x levels
    return Homes(points, footprint * _levels(buildings, settings, np.flatnonzero(home)),
                 footprint)


def block_floor_area(block_geoms: np.ndarray, homes: Homes) -> tuple[np.ndarray, np.ndarray]:
    """(residential floor area, home footprint area) per block, in m².

    A building counts wholly in the block holding its representative point (the first by
    position where blocks overlap), so a footprint cut by a block edge is never counted twice.
    """
    n = block_geoms.shape[0]
    owner = owner_of(homes.points, block_geoms)
    ok = owner >= 0
    return (
        np.bincount(owner[ok], weights=homes.floor[ok], minlength=n),
        np.bincount(owner[ok], weights=homes.footprint[ok], minlength=n),
    )


def estimate_population(
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    settings: PopulationSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Population and the method used, per block.

    ``buildings`` (residential floor area ÷ floor area per person) where homes cover at least
    5 % of the block or the block was derived from mapped footprints (column
    ``buildings_mapped``), otherwise ``area_density`` (area × the profile's density).
    """
    geoms = blocks.geometry.to_numpy()
    floor, cover = block_floor_area(geoms, homes_of(buildings, settings))
    mapped = (blocks["buildings_mapped"].to_numpy(dtype=bool)
              if "buildings_mapped" in blocks.columns else None)
    return people(shapely.area(geoms), floor, cover, mapped, settings)


def people(area: np.ndarray, floor: np.ndarray, cover: np.ndarray | None,
           mapped: np.ndarray | None, settings: PopulationSettings
           ) -> tuple[np.ndarray, Any]:
    """The one population rule: per block, its homes' floor area ÷ floor area per person
    (``buildings``) where homes cover at least :data:`MIN_BUILDING_COVER` of its ``area`` or
    it was derived from ``mapped`` footprints, else ``area`` × density (``area_density``).
    ``cover`` None: ``mapped`` alone decides (the derivation's split decisions). The
    method names come as :func:`._labels.labels` makes them (an ``ArrowStringArray`` with
    pandas' Arrow strings, else an object array)."""
    use = np.zeros(area.shape[0], dtype=bool) if cover is None else (
        cover >= MIN_BUILDING_COVER * area)
    if mapped is not None:
        use |= mapped
    pop = np.where(use, floor / settings.floor_area_per_person_m2,
                   area / 10_000.0 * settings.density_per_ha)
    return pop, labels(np.where(use, 0, 1), ["buildings", "area_density"])


def scale_to_total(pop: np.ndarray, total: float) -> np.ndarray:
    """Scale block populations so they sum to a known ``total`` (shares kept)."""
    if not (np.isfinite(total) and total >= 0):
        raise InputError(f"population_total must be a non-negative number, got {total!r}")
    current = float(np.sum(pop))
    if current <= 0:
        raise InputError(
            "population_total cannot be spread: the blocks hold no estimated population; "
            "pass --blocks with a population column or a population raster"
        )
    return np.asarray(pop, dtype=np.float64) * (total / current)


def method_shares(pop: np.ndarray, method: np.ndarray) -> dict[str, float]:
    """Share of the population estimated by each ``pop_method`` (people-weighted)."""
    total = float(np.sum(pop))
    if total <= 0:
        return {}
    frame = pd.Series(np.asarray(pop, dtype=np.float64)).groupby(np.asarray(method)).sum()
    return {str(k): round(float(v) / total, 4) for k, v in frame.items()}
