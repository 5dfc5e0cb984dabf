"""Residential blocks: from a user polygon file, or derived from OSM.

Derivation works on whole arrays (no loop over blocks), with the method recorded per block in
``block_method``:

1. the faces of the streets (the ``STREET_HIGHWAYS``), walls and fences, residential land-use
   outlines and the study limit (the concave hull of streets and homes);
2. faces inside residential land use are ``landuse`` blocks; faces outside it that hold homes
   (see :mod:`lifecircle.sources.buildings`: ``building=yes`` counts where nothing marks it
   non-residential) are ``buildings`` blocks; an extract with neither falls back to every
   ``enclosure`` of plausible size;
3. blocks above the profile's maximum (``max_block_residents`` or ``max_block_area_ha``, GB
   50180's 居住街坊 for the gb50180-2018 profile) are cut by the interior ways that cross them
   (service roads, footways, paths: ``<method>_split_ways``), then those still above it by a
   grid of building groups (``<method>_split_buildings``); pieces without homes are dropped
   where the block's people come from buildings, and slivers merge into their neighbour.

Population: a user ``population`` column is used as given; otherwise residential floor area ÷
floor area per person where footprints are mapped, else block area × the profile's density
(:func:`~lifecircle.sources.buildings.estimate_population`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..profiles import PopulationSettings
from ._block_kernels import kernel as grid_kernel
from ._halves import alongside, elementwise
from .block_gates import (
    GATE_TOLERANCE_M,
    access_points,
    distance_to_boundary,
    gates_from_osm,
    remember_points,
)
from .block_homes import HomeAreas, estimate_population, home_blocks, remember
from .block_split import (
    as_xy,
    distinct,
    grid_pieces,
    line_pieces,
    merge_small,
    owner_of,
    parts_of,
)
from .buildings import (
    MIN_BUILDING_COVER,
    Homes,
    buildings_from_osm,
    homes_of,
    people,
    residential_landuse,
)
from .osm import OSMData
from .planar import Arrangement, outlines
from .tables import unique_ids

__all__ = [
    "GATE_TOLERANCE_M",
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

#: streets that bound blocks (service roads, footways and paths split only oversized blocks)
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
#: pieces of a split below this share of the maximum (area and residents) join a neighbour
SMALL_PIECE_SHARE = 0.1
#: the study limit reaches this far past the outermost street ends and homes, whose
#: positions are thinned to a grid of this size first
LIMIT_MARGIN_M = 40.0
LIMIT_GRID_M = 20.0
#: at most this many grid points go into the concave hull: GEOS's triangulation grows faster
#: than the points (0.2 s for 40,000, 12 s for 630,000 on the tiled 268,569-node mosaic), so a
#: city with more uses a coarser grid (a multiple of LIMIT_GRID_M; the margin grows past
#: the cell above 40 m)
LIMIT_MAX_POINTS = 160_000
#: the hull's grid points are found with a flag per cell while the grid has at most this
#: many cells per point (a sort of the points' cell keys past it)
GRID_BITMAP_PER_POINT = 64
#: grid splits are repeated at most this many times on pieces still above the maximum
GRID_ROUNDS = 3


class _Blocks:
    """Derived block polygons with their method, whether footprints are mapped, and a log.

    ``owner`` is the position of the block holding each home (-1 where none does); a split
    looks up only the homes of the blocks it cuts, so the city's homes are located once.
    ``area``: each block's area, kept with it (GEOS measured every block again in each
    split round).
    """

    def __init__(
        self, geoms: np.ndarray, method: np.ndarray, mapped: np.ndarray, owner: np.ndarray,
        area: np.ndarray,
    ) -> None:
        self.geoms, self.method, self.mapped, self.owner = geoms, method, mapped, owner
        self.area = area
        self.split: dict[str, int] = {}
        self.dropped_empty = 0


def _lines(frame: gpd.GeoDataFrame | None) -> np.ndarray:
    if frame is None or frame.empty:
        return np.empty(0, dtype=object)
    return np.asarray(frame.geometry.to_numpy(), dtype=object)


def _barriers(data: OSMData, crs: Any) -> np.ndarray:
    if not data.barriers:
        return np.empty(0, dtype=object)
    lines = gpd.GeoSeries(shapely.from_wkb([b for _, _, b in data.barriers]), crs=4326)
    return np.asarray(lines.to_crs(crs).to_numpy(), dtype=object)


def _limit(lines: np.ndarray, homes: np.ndarray) -> Any:
    """Concave hull of the streets' ends and the homes (points or their coordinates), plus a
    margin: where blocks can be."""
    # the first and last vertex of every line string, read off the coordinate array
    simple = lines[shapely.get_type_id(lines) == 1]
    coords = shapely.get_coordinates(simple)
    count = shapely.get_num_coordinates(simple)
    ends = np.cumsum(count)[count > 0]  # lines with vertices
    xy = np.concatenate([coords[ends - count[count > 0]], coords[ends - 1], as_xy(homes)])
    ok = np.isfinite(xy[:, 0]) & np.isfinite(xy[:, 1])  # not .all(axis=1): 10x slower
    if not ok.all():
        xy = xy[ok]
    # points thinned to a grid (the margin covers the rounding): a city has 10^5-10^6 of them
    cell = LIMIT_GRID_M
    grid = _on_grid(xy, cell)
    while grid[0].size > LIMIT_MAX_POINTS:
        cell *= float(np.ceil(np.sqrt(grid[0].size / LIMIT_MAX_POINTS)))
        grid = _on_grid(xy, cell)
    hull = shapely.concave_hull(_multipoint(_grid_points(grid, cell)), ratio=0.3)
    # homes are hull vertices: the margin keeps them off the limit (a point on a face's
    # outline lies in no face); the grid moves points by 0.71 cell at most
    return shapely.buffer(hull, max(LIMIT_MARGIN_M, cell), quad_segs=2)


def _on_grid(xy: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The distinct grid points nearest to ``xy`` as (sorted keys, lowest grid position,
    rows): point ``(key // rows + lo[0], key % rows + lo[1]) * cell``, by x then y.

    Each column is rounded on its own and the extremes come from the coordinates' (rounding
    keeps the order), which halves the cost of this step; it runs once per coarser cell.
    The keys are read off a flag per grid cell (sorted by construction), unless the grid
    has more than :data:`GRID_BITMAP_PER_POINT` cells per point.
    """
    if xy.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.zeros(2, dtype=np.int64), 1
    # column by column: numpy's min over axis 0 of an (n, 2) array is 15x slower
    lo = np.round(np.array([xy[:, 0].min(), xy[:, 1].min()]) / cell).astype(np.int64)
    span = int(np.round(xy[:, 1].max() / cell)) - int(lo[1]) + 1
    # each point's key in one compiled pass (numpy's rounding: np.rint), not six numpy
    # temporaries of the city's points per grid size tried
    key, top = grid_kernel("grid")(xy[:, 0], xy[:, 1], float(cell), int(lo[0]), int(lo[1]),
                                   span)
    cells = (int(top) + 1) * span
    if cells > GRID_BITMAP_PER_POINT * key.size:  # sparse: one int64 sort
        return distinct(key), lo, span
    # a flag per grid cell, read back in order: 10x faster than sorting 10^6 keys
    mark = np.zeros(cells, dtype=bool)
    mark[key] = True
    return np.flatnonzero(mark), lo, span


def _multipoint(xy: np.ndarray) -> Any:
    """The points ``xy`` ((n, 2)) as one multipoint, read from WKB: ``shapely.multipoints``
    makes a point geometry per row first (2.5x slower for the hull's 10^5 points)."""
    body = np.empty(xy.shape[0], dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"),
                                        ("y", "<f8")])
    body["order"], body["kind"], body["x"], body["y"] = 1, 1, xy[:, 0], xy[:, 1]
    head = np.array([(1, 4, xy.shape[0])], dtype=[("order", "u1"), ("kind", "<u4"),
                                                  ("n", "<u4")])
    return shapely.from_wkb(head.tobytes() + body.tobytes())


def _grid_points(grid: tuple[np.ndarray, np.ndarray, int], cell: float) -> np.ndarray:
    """The points of :func:`_on_grid`'s ``grid`` of cell ``cell``, as an (n, 2) array."""
    key, lo, span = grid
    return (np.column_stack([key // span, key % span]) + lo) * cell


def _over(
    pop: np.ndarray, area: np.ndarray, settings: PopulationSettings
) -> tuple[np.ndarray, np.ndarray]:
    return pop > settings.max_block_residents, area > settings.max_block_area_ha * 10_000.0


def _replace(
    blk: _Blocks,
    which: np.ndarray,
    pieces: np.ndarray,
    parent: np.ndarray,
    homes: Homes,
    settings: PopulationSettings,
    suffix: str,
) -> np.ndarray:
    """Put the pieces of blocks ``which`` in their place; returns which blocks were split.

    Pieces without homes are dropped where the parent's people come from buildings; small
    pieces join the neighbour they share most edge with. A parent whose cut leaves one piece
    (or none with homes) keeps its outline.
    """
    n_par = which.size
    area = shapely.area(pieces)
    mapped = blk.mapped[which][parent]
    # only the homes of the blocks being cut can lie in their pieces
    pos = np.full(blk.geoms.size + 1, -1, dtype=np.int64)  # [-1] for homes in no block
    pos[which] = np.arange(n_par)
    moved = np.flatnonzero(pos[blk.owner] >= 0)
    in_piece = owner_of(homes.points[moved], pieces, disjoint=True)
    floor = _sum_by(in_piece, homes.floor[moved], pieces.size)
    keep = (area >= MIN_BLOCK_AREA_M2) & (~mapped | (floor > 0))
    blk.dropped_empty += int((~keep & (area >= MIN_BLOCK_AREA_M2)).sum())
    pieces, parent, area, floor = pieces[keep], parent[keep], area[keep], floor[keep]
    in_piece = _renumber(in_piece, keep)
    pop = people(area, floor, None, blk.mapped[which][parent], settings)[0]
    small = (area < SMALL_PIECE_SHARE * settings.max_block_area_ha * 10_000.0) & (
        pop < SMALL_PIECE_SHARE * settings.max_block_residents
    )
    pieces, parent, merged_into = merge_small(pieces, parent, small)
    in_piece = np.where(in_piece >= 0, merged_into[np.maximum(in_piece, 0)], -1)
    n_pieces = np.bincount(parent, minlength=n_par)
    # a piece merged into none is the same polygon: only the unions are measured
    joined = np.bincount(merged_into, minlength=pieces.size) > 1
    area = np.bincount(merged_into, weights=area, minlength=pieces.size)
    area[joined] = shapely.area(pieces[joined])
    # a parent cut into one piece is replaced only when empty land was trimmed off it
    trimmed = (n_pieces == 1) & (
        np.bincount(parent, weights=area, minlength=n_par) < 0.999 * blk.area[which]
    )
    done = (n_pieces >= 2) | trimmed
    use = done[parent]
    # the method without its split suffix, worded once per distinct method
    codes, methods = pd.factorize(blk.method[which])
    base = np.array([re.sub(r"_split.*$", "", m) for m in methods] + [""], dtype=object)[codes]
    rest = np.ones(blk.geoms.size, dtype=bool)
    rest[which[done]] = False
    # homes of the blocks cut go to their piece (or to none), the others keep their block
    owner = _renumber(blk.owner, rest)
    cut = done[pos[blk.owner[moved]]]
    owner[moved[cut]] = np.where(
        use[np.maximum(in_piece[cut], 0)] & (in_piece[cut] >= 0),
        int(rest.sum()) + _renumber(in_piece[cut], use),
        -1,
    )
    blk.owner = owner
    blk.geoms = np.concatenate([blk.geoms[rest], pieces[use]])
    blk.method = np.concatenate([blk.method[rest], base[parent[use]] + suffix])
    blk.mapped = np.concatenate([blk.mapped[rest], blk.mapped[which][parent[use]]])
    blk.area = np.concatenate([blk.area[rest], area[use]])
    return done


def _face_points(geoms: np.ndarray, faces: np.ndarray,
                 points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per polygon of ``geoms``: the point of ``points`` of the face that is the same
    object, and whether there is one). ``faces`` must be alive: no new polygon shares the id
    of one."""
    face_ids = pd.Index(np.fromiter(map(id, faces), dtype=np.int64, count=faces.size))
    out = np.empty(geoms.size, dtype=object)
    if not face_ids.is_unique:
        return out, np.zeros(geoms.size, dtype=bool)
    at = face_ids.get_indexer(np.fromiter(map(id, geoms), dtype=np.int64, count=geoms.size))
    known = at >= 0
    out[known] = points[at[known]]
    return out, known


def _parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~lifecircle.sources.block_split.parts_of` the blocks, none left prepared."""
    parts, idx, kept = parts_of(geoms)
    # the derivation prepared most blocks (point-in-polygon look-ups); a block kept as it is
    # would carry its prepared index through the run (~0.3 GB at a million nodes)
    shapely.destroy_prepared(parts[kept])
    return parts, idx


def _renumber(index: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Positions ``index`` (-1: none) after keeping only ``keep``; dropped ones become -1."""
    new = np.cumsum(keep) - 1
    ok = index >= 0
    ok[ok] = keep[index[ok]]
    return np.where(ok, new[np.maximum(index, 0)], -1)


def _sum_by(owner: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``weights`` per owner position (owners -1 left out)."""
    ok = owner >= 0
    return np.bincount(owner[ok], weights=weights[ok], minlength=n)


def _tally(
    blk: _Blocks, homes: Homes, settings: PopulationSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(block of each home, estimated residents per block, homes per block, block area)."""
    n, owner, area = blk.geoms.size, blk.owner, blk.area
    pop = people(area, _sum_by(owner, homes.floor, n), None, blk.mapped, settings)[0]
    return owner, pop, np.bincount(owner[owner >= 0], minlength=n), area


def _split(
    blk: _Blocks,
    interior: np.ndarray,
    homes: Homes,
    settings: PopulationSettings,
) -> list[dict[str, Any]]:
    """Split blocks above the profile's maximum; returns the ones that stay above it."""
    owner, pop, _, area = _tally(blk, homes, settings)
    many, big = _over(pop, area, settings)
    blk.split = {"over_residents": int(many.sum()), "over_area": int(big.sum()),
                 "split_by_ways": 0, "split_by_buildings": 0}
    # ways bound compounds where homes fill the land; land with a few scattered homes (a
    # valley side, a campus edge) goes straight to the grid of building groups, which also
    # trims its empty part at a fraction of the cost
    cover = _sum_by(owner, homes.footprint, area.size) / area
    over = np.flatnonzero((many | big) & ~(blk.mapped & (cover < MIN_BUILDING_COVER)))
    if over.size and interior.size:
        pieces, parent = line_pieces(blk.geoms[over], interior)
        blk.split["split_by_ways"] = int(
            _replace(blk, over, pieces, parent, homes, settings, "_split_ways").sum()
        )
    for round_ in range(GRID_ROUNDS + 1):
        owner, pop, n_homes, area = _tally(blk, homes, settings)
        many, big = _over(pop, area, settings)
        # a single building above the maximum residents cannot be split; too much land can
        over = np.flatnonzero(big | (many & ~(blk.mapped & (n_homes <= 1))))
        if not over.size or round_ == GRID_ROUNDS:
            break
        target = np.minimum(
            settings.max_block_area_ha * 10_000.0,
            area[over] * settings.max_block_residents / np.maximum(pop[over], 1e-9),
        )
        # seed the grid with the homes of the blocks whose people come from buildings
        pos = np.full(blk.geoms.size + 1, -1, dtype=np.int64)
        pos[over] = np.arange(over.size)
        seed_of = np.where(owner >= 0, pos[owner], -1)
        seed = seed_of >= 0
        seed[seed] = blk.mapped[over][seed_of[seed]]
        pieces, parent = grid_pieces(
            blk.geoms[over], 0.9 * target, (seed_of[seed], homes.points[seed])
        )
        blk.split["split_by_buildings"] += int(
            _replace(blk, over, pieces, parent, homes, settings, "_split_buildings").sum()
        )
    left = []
    for i in np.flatnonzero(many | big):  # the few blocks left above the maximum, for the report
        # reason ids; the report words them (locales/report.toml [block_reasons])
        if many[i] and blk.mapped[i] and n_homes[i] <= 1:
            reason = "single_building"  # one building holds more than the maximum residents
        elif many[i]:
            reason = "dense_homes"  # still above it after GRID_ROUNDS grid rounds
        else:
            reason = "merged_slivers"  # slivers merged into it took it above the maximum area
        left.append({"index": int(i), "area_ha": round(float(area[i]) / 10_000.0, 2),
                     "population": round(float(pop[i])), "reason": reason})
    return left


def blocks_from_osm(
    data: OSMData,
    streets: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    settings: PopulationSettings | None = None,
) -> gpd.GeoDataFrame:
    """Derive residential blocks (projected, ``block_method`` recorded).

    Parameters
    ----------
    data
        The OSM data (land use, walls and fences).
    streets
        Street centre lines in the projected CRS of the run, with a ``highway`` column where
        known (the caller hands them down from the network).
    buildings
        From :func:`~lifecircle.sources.buildings.buildings_from_osm`, same CRS.
    settings
        The profile's population settings (the maximum block size); the defaults if omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        ``block_id``, ``block_method``, ``buildings_mapped`` and the polygon; ``attrs`` holds
        ``dropped_slivers`` and ``derivation`` (the split statistics for the run metadata).
    """
    settings = settings or PopulationSettings()
    crs = streets.crs
    lines = _lines(streets)
    homes = homes_of(buildings, settings)
    home_pts = homes.points
    # the concave hull (GEOS, without the GIL) is drawn while the other lines are prepared
    limit_of = alongside(lambda: _limit(lines, home_pts))
    if "highway" in streets.columns:
        is_street = streets["highway"].isin(STREET_HIGHWAYS).to_numpy(dtype=bool)
    else:
        is_street = np.ones(lines.size, dtype=bool)
    walls = _barriers(data, crs)
    landuse = residential_landuse(data, crs)
    bounds = [lines[is_street], walls, outlines(landuse)]
    # their segments and crossings too: the limit's outline is added to them after
    arrangement = Arrangement(np.concatenate(bounds), more=1)
    hull = limit_of()
    shapely.prepare(hull)
    # residential land counts whole even where it reaches past the streets' hull; land
    # wholly inside the hull leaves the union as it is (most of it: skip it)
    past = landuse[~shapely.contains_properly(hull, landuse)] if landuse.size else landuse
    limit = shapely.union_all(np.concatenate([[hull], past]))
    base = arrangement.faces(np.array([shapely.boundary(limit)]))
    del arrangement
    rep = elementwise(shapely.point_on_surface, base)
    shapely.prepare(limit)
    inside = elementwise(shapely.contains, limit, rep)
    in_lu = inside & (owner_of(rep, landuse) >= 0)
    has_home = np.zeros(base.size, dtype=bool)
    owner = owner_of(home_pts, base, disjoint=True)  # faces: no overlap
    has_home[owner[owner >= 0]] = True
    has_home &= inside & ~in_lu
    method = np.where(in_lu, "landuse", np.where(has_home, "buildings", "")).astype(object)
    if not (in_lu | has_home).any():
        method[inside & (shapely.area(base) <= MAX_ENCLOSURE_AREA_M2)] = "enclosure"
    keep = method != ""
    geoms, method = base[keep], method[keep]
    owner = _renumber(owner, keep)
    cover = _sum_by(owner, homes.footprint, geoms.size)
    area = shapely.area(geoms)
    mapped = (method == "buildings") | (cover >= MIN_BUILDING_COVER * area)
    blk = _Blocks(geoms, method, mapped, owner, area)
    left = _split(blk, np.concatenate([lines[~is_street], walls]), homes, settings)
    parts, idx = _parts(blk.geoms)
    poly = shapely.get_type_id(parts) == 3
    small = poly & (shapely.area(parts) < MIN_BLOCK_AREA_M2)
    keep = poly & ~small
    new_pos = np.cumsum(keep) - 1
    out = gpd.GeoDataFrame(
        {
            "block_id": [f"b{i + 1}" for i in range(int(keep.sum()))],
            "block_method": blk.method[idx[keep]],
            "buildings_mapped": blk.mapped[idx[keep]],
        },
        geometry=gpd.GeoSeries(parts[keep], crs=crs),
    )
    # a block left above the maximum keeps its entry under its new id (first part if several)
    first = np.full(blk.geoms.size, -1, dtype=np.int64)
    first[idx[keep][::-1]] = new_pos[keep][::-1]
    for row in left:
        pos = int(first[row.pop("index")])
        row["block_id"] = out["block_id"].iloc[pos] if pos >= 0 else None
    # every home's block is known from the derivation: the population needs no second lookup
    home_block = home_blocks(blk.owner, parts, idx, keep, homes.points)
    remember(buildings, HomeAreas(
        out["block_id"].array, settings, parts[keep],
        _sum_by(home_block, homes.floor, len(out)), _sum_by(home_block, homes.footprint, len(out))))
    # the access points of the blocks that are faces as they were: the faces' points
    remember_points(out, *_face_points(parts[keep], base, rep))
    out.attrs["dropped_slivers"] = int(small.sum())
    out.attrs["derivation"] = {
        "max_block_residents": settings.max_block_residents,
        "max_block_area_ha": settings.max_block_area_ha,
        "blocks_by_method": {str(k): int(v) for k, v in
                             pd.Series(out["block_method"]).value_counts().items()},
        **blk.split,
        "pieces_without_homes_dropped": blk.dropped_empty,
        "above_max": len(left),
        "above_max_blocks": left,
    }
    return out


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
