"""Residential blocks: from a user polygon file, or derived from OSM.

Derivation, in order of preference, with the method recorded per block:

1. ``landuse``: residential land use split by streets into street blocks (momepy enclosures);
2. ``residential_buildings``: street enclosures outside residential land use that contain
   residential buildings (where land use is missing);
3. ``street_enclosure``: every street enclosure of plausible size, when the extract has neither
   residential land use nor residential buildings.

Population: a user ``population`` column is used as given; otherwise building floor area
(footprint × levels) divided by the profile's floor area per person where buildings cover a
meaningful share of the block, else block area × the profile's density.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..network import WalkNetwork
from ..profiles import PopulationSettings
from .osm import NON_RESIDENTIAL_BUILDINGS, RESIDENTIAL_BUILDINGS, OSMData
from .tables import unique_ids

__all__ = [
    "STREET_HIGHWAYS",
    "access_points",
    "blocks_from_osm",
    "buildings_from_osm",
    "distance_to_boundary",
    "estimate_population",
    "gates_from_osm",
    "prepare_user_blocks",
]

log = logging.getLogger(__name__)

#: streets that bound blocks (footways and service roads run inside them)
STREET_HIGHWAYS = frozenset(
    {
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "residential",
        "unclassified",
        "living_street",
        "pedestrian",
        "road",
        "trunk",
        "trunk_link",
    }
)
MIN_BLOCK_AREA_M2 = 200.0
MAX_ENCLOSURE_AREA_M2 = 500_000.0
#: buildings must cover at least this share of a block for the building-based estimate
MIN_BUILDING_COVER = 0.05


def buildings_from_osm(data: OSMData, crs: Any) -> gpd.GeoDataFrame:
    """OSM buildings (projected) with type, levels and whether they count as homes."""
    if not data.buildings:
        return gpd.GeoDataFrame(
            {"building": [], "levels": [], "residential": []}, geometry=[], crs=crs
        )
    kinds = [b[2] for b in data.buildings]
    levels = pd.to_numeric(
        pd.Series([b[3] for b in data.buildings], dtype="string").str.extract(
            r"^\s*(\d+(?:\.\d+)?)"
        )[0],
        errors="coerce",
    )
    geoms = shapely.from_wkb([b[4] for b in data.buildings])
    gdf = gpd.GeoDataFrame(
        {
            "osm_id": [f"{b[0]}/{b[1]}" for b in data.buildings],
            "building": kinds,
            "levels": levels.to_numpy(dtype=np.float64),
            "residential": [k in RESIDENTIAL_BUILDINGS for k in kinds],
            "non_residential": [k in NON_RESIDENTIAL_BUILDINGS for k in kinds],
        },
        geometry=gpd.GeoSeries(geoms, crs=4326),
    ).to_crs(crs)
    return gdf


def _streets(net: WalkNetwork) -> gpd.GeoDataFrame:
    edges = net.edges_gdf()
    if net.edge_highway is None:
        return edges
    return edges[np.isin(net.edge_highway, list(STREET_HIGHWAYS))]


def _enclosures(streets: gpd.GeoDataFrame, limit: Any) -> gpd.GeoDataFrame:
    import momepy  # imported here: ~1.7 s, only needed when blocks are derived

    if streets.empty:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([limit], crs=streets.crs))
    enc = momepy.enclosures(streets, limit=gpd.GeoSeries([limit], crs=streets.crs), clip=True)
    return enc[["geometry"]]


def blocks_from_osm(
    data: OSMData, net: WalkNetwork, buildings: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Derive residential blocks (projected, ``block_method`` recorded)."""
    streets = _streets(net)
    parts: list[gpd.GeoDataFrame] = []
    landuse_union = shapely.Polygon()
    if data.landuse:
        lu = gpd.GeoSeries(shapely.from_wkb([b for _, _, b in data.landuse]), crs=4326)
        lu = lu.to_crs(net.crs)
        lu = gpd.GeoSeries(shapely.make_valid(lu.to_numpy()), crs=net.crs)
        landuse_union = shapely.union_all(lu.to_numpy())
        enc = _enclosures(streets, landuse_union)
        enc["block_method"] = "landuse"
        parts.append(enc)
    hull = shapely.concave_hull(shapely.multipoints(np.column_stack([net.x, net.y])), ratio=0.3)
    res_bld = buildings[buildings["residential"]] if not buildings.empty else buildings
    if not res_bld.empty:
        outside = res_bld[~res_bld.representative_point().within(landuse_union)]
        if not outside.empty:
            enc = _enclosures(streets, shapely.difference(hull, landuse_union))
            has = gpd.sjoin(
                enc,
                gpd.GeoDataFrame(geometry=outside.representative_point()),
                predicate="contains",
                how="inner",
            ).index.unique()
            enc = enc.loc[has].copy()
            enc["block_method"] = "residential_buildings"
            parts.append(enc)
    if not parts:
        enc = _enclosures(streets, hull)
        enc = enc[enc.area <= MAX_ENCLOSURE_AREA_M2].copy()
        enc["block_method"] = "street_enclosure"
        parts.append(enc)
    blocks = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=net.crs)
    blocks = blocks.explode(index_parts=False, ignore_index=True)
    blocks = blocks[blocks.geom_type == "Polygon"]
    small = blocks.area < MIN_BLOCK_AREA_M2
    blocks = blocks[~small].reset_index(drop=True)
    blocks.insert(0, "block_id", [f"b{i + 1}" for i in range(len(blocks))])
    blocks.attrs["dropped_slivers"] = int(small.sum())
    return blocks


def estimate_population(
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    settings: PopulationSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Population and the method used, per block.

    Building-based where homes cover at least 5 % of the block (floor area = footprint ×
    levels, default levels from the profile), otherwise area × density.
    """
    area = blocks.area.to_numpy()
    pop = area / 10_000.0 * settings.density_per_ha
    method = np.full(len(blocks), "area_density", dtype=object)
    if buildings.empty or blocks.empty:
        return pop, method
    homes = buildings[~buildings["non_residential"]]
    if homes.empty:
        return pop, method
    pieces = gpd.overlay(
        gpd.GeoDataFrame(
            {"bi": np.arange(len(blocks))}, geometry=blocks.geometry.to_numpy(), crs=blocks.crs
        ),
        gpd.GeoDataFrame(
            {"levels": homes["levels"].to_numpy()},
            geometry=homes.geometry.to_numpy(),
            crs=homes.crs,
        ),
        how="intersection",
        keep_geom_type=True,
    )
    if pieces.empty:
        return pop, method
    footprint = pieces.area.to_numpy()
    levels = np.nan_to_num(pieces["levels"].to_numpy(dtype=np.float64), nan=settings.default_levels)
    floor = np.bincount(pieces["bi"].to_numpy(), weights=footprint * levels, minlength=len(blocks))
    cover = np.bincount(pieces["bi"].to_numpy(), weights=footprint, minlength=len(blocks))
    use = cover >= MIN_BUILDING_COVER * area
    pop[use] = floor[use] / settings.floor_area_per_person_m2
    method[use] = "buildings"
    return pop, method


def prepare_user_blocks(
    gdf: gpd.GeoDataFrame,
    crs: Any,
    *,
    where: str,
    id_col: str | None = None,
    population_col: str = "population",
) -> gpd.GeoDataFrame:
    """Project user blocks and give them ``block_id`` and (where given) ``population``."""
    from .._errors import InputFileError

    out = gdf.to_crs(crs)
    if id_col is None:
        id_col = next((c for c in ("block_id", "id") if c in out.columns), None)
    if id_col is not None:
        block_id = unique_ids(out, id_col, where, "block")
    else:
        block_id = np.array([f"b{i + 1}" for i in range(len(out))], dtype=object)
    frame = out.drop(columns=[c for c in ("block_id",) if c in out.columns])
    frame.insert(0, "block_id", block_id)
    frame["block_method"] = "user"
    if population_col in frame.columns:
        pop = pd.to_numeric(frame[population_col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(pop) | (pop < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputFileError(
                where,
                f"row {i + 1}: population {frame[population_col].iloc[i]!r}"
                " is not a non-negative number",
                "fix the population column",
            )
        frame["population"] = pop
    return frame.reset_index(drop=True)


def distance_to_boundary(points: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> np.ndarray:
    """Metres from each access point to the boundary of its own block (0 outside it)."""
    geom = blocks.set_index("block_id").geometry
    own = geom.loc[points["block_id"].to_numpy()].to_numpy()
    pts = points.to_crs(blocks.crs).geometry.to_numpy()
    inside = shapely.contains(own, pts)
    return np.where(inside, shapely.distance(shapely.boundary(own), pts), 0.0)


#: gates and entrances farther than this from a block's boundary are not its access points
GATE_TOLERANCE_M = 10.0
#: access values that close a gate or entrance to residents walking out
_CLOSED_ACCESS = frozenset({"private", "no"})


def gates_from_osm(data: OSMData | None, crs: Any) -> gpd.GeoDataFrame:
    """Usable gates and entrances (``barrier=gate``, ``entrance=*``), projected to ``crs``.

    Left out: ``access=private|no`` (``foot=yes|designated`` reopens them for walkers),
    ``entrance=emergency`` and ``locked=yes``.
    """
    rows: list[tuple[str, str, float, float]] = []
    for osm_id, lon, lat, tags in data.gates if data is not None else []:
        foot_open = tags.get("foot") in ("yes", "designated", "permissive")
        if tags.get("access") in _CLOSED_ACCESS and not foot_open:
            continue
        if tags.get("foot") == "no" or tags.get("locked") == "yes":
            continue
        if tags.get("entrance") == "emergency":
            continue
        kind = "gate" if tags.get("barrier") == "gate" else f"entrance={tags.get('entrance')}"
        rows.append((f"node/{osm_id}", kind, lon, lat))
    return gpd.GeoDataFrame(
        {"osm_id": [r[0] for r in rows], "gate_kind": [r[1] for r in rows]},
        geometry=gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows], crs=4326),
    ).to_crs(crs)


def _gates_of_blocks(
    blocks: gpd.GeoDataFrame, gates: gpd.GeoDataFrame, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(block position, gate position) pairs: gates within ``tolerance_m`` of the boundary.

    A gate inside a block belongs to that block; a gate just outside every block (on the
    street side of a wall) belongs to the nearest block whose boundary is within tolerance.
    """
    if gates.empty or blocks.empty:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pts = gates.to_crs(blocks.crs).geometry.to_numpy()
    polys = blocks.geometry.to_numpy()
    bounds = shapely.boundary(polys)
    tree = shapely.STRtree(bounds)
    g_i, b_i = tree.query(pts, predicate="dwithin", distance=tolerance_m)
    if g_i.size == 0:
        return b_i, g_i
    inside = shapely.contains(polys[b_i], pts[g_i])
    dist = shapely.distance(bounds[b_i], pts[g_i])
    has_inside = np.zeros(len(gates), dtype=bool)
    has_inside[g_i[inside]] = True
    # gates inside some block: every block that contains them; others: the nearest block
    keep = inside.copy()
    out = np.flatnonzero(~has_inside[g_i])
    if out.size:
        order = out[np.lexsort((b_i[out], dist[out], g_i[out]))]
        first = np.ones(order.size, dtype=bool)
        first[1:] = g_i[order[1:]] != g_i[order[:-1]]
        keep[order[first]] = True
    b_i, g_i = b_i[keep], g_i[keep]
    order = np.lexsort((g_i, b_i))
    return b_i[order], g_i[order]


def access_points(
    blocks: gpd.GeoDataFrame,
    gates: gpd.GeoDataFrame | None = None,
    *,
    gate_tolerance_m: float = GATE_TOLERANCE_M,
) -> gpd.GeoDataFrame:
    """Access points of every block: its gates and entrances, else its representative point.

    A block with gates or entrances (``barrier=gate``, ``entrance=*``) within
    ``gate_tolerance_m`` of its boundary is reached through them only (``ap_kind = "gate"``: a
    walled compound is left through its gates); any other block through its representative
    point (``ap_kind = "centroid"``, always inside the polygon). A block's time is the minimum
    over its access points.
    """
    block_ids = blocks["block_id"].to_numpy()
    if gates is None:
        gates = gpd.GeoDataFrame({"osm_id": [], "gate_kind": []}, geometry=[], crs=blocks.crs)
    b_i, g_i = _gates_of_blocks(blocks, gates, gate_tolerance_m)
    gated = np.zeros(len(blocks), dtype=bool)
    gated[b_i] = True
    rest = np.flatnonzero(~gated)
    gate_pts = gates.to_crs(blocks.crs).geometry.to_numpy()
    gate_ids = gates["osm_id"].to_numpy(dtype=object)
    centre = gpd.GeoDataFrame(
        {
            "ap_id": [f"{b}/rep" for b in block_ids[rest]],
            "block_id": block_ids[rest],
            "ap_kind": "centroid",
            "gate_osm_id": None,
            "_order": rest.astype(np.float64),
        },
        geometry=shapely.point_on_surface(blocks.geometry.to_numpy()[rest]),
        crs=blocks.crs,
    )
    gate = gpd.GeoDataFrame(
        {
            "ap_id": [f"{b}/{g}" for b, g in zip(block_ids[b_i], gate_ids[g_i], strict=True)],
            "block_id": block_ids[b_i],
            "ap_kind": "gate",
            "gate_osm_id": gate_ids[g_i],
            "_order": b_i + np.arange(b_i.size) / max(b_i.size, 1) * 0.5,
        },
        geometry=gate_pts[g_i],
        crs=blocks.crs,
    )
    frames = [f for f in (centre, gate) if not f.empty] or [centre]
    out = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable")
    out = out.drop(columns="_order").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=blocks.crs)
