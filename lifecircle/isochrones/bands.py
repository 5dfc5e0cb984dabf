"""Isochrone bands: a category's union over its facilities, each facility's own, a run's layer.

Bands (5 / 10 / 15 min by default) are built cumulatively (everything within ``t``) and stored
as non-overlapping rings (``band_from_min < t <= band_min``); cumulative polygons nest at
polygon level. Per-facility isochrones run :class:`lifecircle._kernels.BoundedSearch` (one
workspace, reset only where a search went), so a search costs what its isochrone covers, not
the graph size; the reached stretches of all facilities and bands are cut in one vectorised
pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import ConfigError
from .._kernels import BoundedSearch
from ..network import WalkNetwork
from ..routing import NodeDistances, seed_arcs
from ..snapping import Snap
from .checks import _check_walk_in, check_bands
from .polygons import _legs, band_polygons, coords_box, default_cell_m, iter_band_polygons
from .search import (
    Pieces,
    _source_rows,
    _stretches,
    banded_stretches,
    snap_from_frame,
    usable_sources,
)
from .wkb import EMPTY_WKB, Wkb, encoded_frame

#: ``facility_id`` of a category's union over all its facilities
ALL = "all"
DEFAULT_BANDS_MIN: tuple[float, ...] = (5.0, 10.0, 15.0)
#: Buffer around reached streets. 50 m is the depth of a typical street frontage (a building
#: plot and its entrance, or the front row of a residential compound) and less than a minute's
#: walk, so it stays small beside the 400 m of the first 5-minute band: the polygon shows what
#: is reachable from the street without claiming the inside of large blocks.
DEFAULT_WALK_IN_M = 50.0
ISOCHRONE_COLUMNS = (
    "category",
    "facility_id",
    "band_from_min",
    "band_min",
    "speed_kmh",
    "walk_in_m",
    "street_m",
    "area_m2",
)


#: Cells (at the fine cell of :func:`~lifecircle.isochrones.polygons.default_cell_m`, 5 m) the
#: bounding grid of a run's isochrones may have before :func:`auto_cell_m` takes the next round
#: size, 10 m: 40 million cells, a network about 32 km square. Measured on the 268,569-node
#: tiled Nanjing mosaic (an 80 km square, 256 M cells at 5 m), one category's three rings took
#: 21 s and +1.2 GiB at 5 m, 10 s and +0.2 GiB at 10 m, 10 s and +0.1 GiB at 12.5 m, side by
#: side on two loaded cores (``scripts/bench_cityscale.py --only isochrones``); below this
#: budget a category costs a few seconds at 5 m.
AUTO_MAX_CELLS = 40_000_000
#: the cell :func:`auto_cell_m` takes above :data:`AUTO_MAX_CELLS` (capped at a quarter of
#: ``walk_in_m``, the coarsest :func:`band_polygons` accepts)
AUTO_COARSE_CELL_M = 10.0


def auto_cell_m(net: WalkNetwork, walk_in_m: float = DEFAULT_WALK_IN_M, *,
                max_cells: int | None = None) -> float:
    """The isochrone cell of a run: 5 m (:func:`default_cell_m`) where the network's bounding
    grid at that cell has at most ``max_cells`` cells (default :data:`AUTO_MAX_CELLS`), else
    10 m (at most ``walk_in_m / 4``).

    What the coarser cell changes, with the default 50 m walk-in (the polygons' guarantee is
    the same at any cell: nothing farther than ``walk_in_m`` from the reached streets is in,
    everything reached is): the outline lies between ``walk_in_m - 2.7 * cell`` and
    ``walk_in_m`` from the streets, 36-50 m at 5 m and 23-50 m at 10 m (the traced outline,
    before :mod:`.simplify` moves it by at most a cell's diagonal, lies between
    ``walk_in_m - 2.2 * cell`` and ``walk_in_m``). Measured on the Nanjing extract before the
    simplification (5 categories, cumulative bands), 10 m against 5 m: 9.4 % less area, the
    5 m outline at most 13.3 m outside the 10 m polygons and the 10 m outline at most 1.7 m
    outside the 5 m ones (12.5 m: -14.5 %, 20.0 m, 0 m); on the 268,569-node mosaic the rings
    of one category lost 7.0 % of their area (2,655 vs 2,856 km2) with 0.64 of the vertices,
    in half the time and a sixth of the memory (see :data:`AUTO_MAX_CELLS`).
    """
    fine = default_cell_m(walk_in_m)
    if net.edge_coords.shape[0] == 0:
        return fine
    box = coords_box(net)
    span = np.array([box[2] - box[0], box[3] - box[1]]) + 2.0 * walk_in_m
    cells = float(np.prod(np.ceil(span / fine)))
    if cells <= (AUTO_MAX_CELLS if max_cells is None else max_cells):
        return fine
    return max(fine, min(AUTO_COARSE_CELL_M, walk_in_m / 4.0))


def _frame(
    net: WalkNetwork,
    polys: np.ndarray,
    street_m: np.ndarray,
    *,
    category: str,
    ids: Sequence[str],
    bands: tuple[float, ...],
    speed_kmh: float,
    walk_in_m: float,
    cumulative: bool,
) -> pd.DataFrame:
    """The rows of ``polys``: a GeoDataFrame, or, when they are :class:`.wkb.Wkb`, a
    DataFrame whose ``geometry`` holds the WKB (made a GeoDataFrame by
    :func:`.wkb.decoded_frame`)."""
    n_ent, nb = polys.shape
    geoms = polys.ravel()
    encoded = geoms.shape[0] > 0 and isinstance(geoms[0], Wkb)
    if encoded:
        area = np.array([g.area for g in geoms], dtype=np.float64)
    else:
        # one geometry type for the layer: MultiPolygon (vector unions may give Polygons)
        single = shapely.get_type_id(geoms) == 3
        if single.any():
            geoms = geoms.copy()
            geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
        area = shapely.area(geoms)
    band_to = np.tile(np.asarray(bands), n_ent)
    band_from = np.tile(np.asarray((0.0, *bands[:-1]) if not cumulative else (0.0,) * nb), n_ent)
    frame = pd.DataFrame(
        {
            "category": pd.array([category] * (n_ent * nb), dtype="string"),
            "facility_id": pd.array(np.repeat(np.asarray(ids, dtype=object), nb),
                                    dtype="string"),
            "band_from_min": band_from,
            "band_min": band_to,
            "speed_kmh": float(speed_kmh),
            "walk_in_m": float(walk_in_m),
            "street_m": street_m,
            "area_m2": area,
        }
    )
    if encoded:
        frame["geometry"] = [g.data for g in geoms]
        frame.attrs["crs"] = net.crs
        return frame
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=net.crs)


def empty_isochrones(crs: Any) -> gpd.GeoDataFrame:
    """An isochrone table with no rows (the columns of :data:`ISOCHRONE_COLUMNS`)."""
    data: dict[str, Any] = {c: pd.Series([], dtype="float64") for c in ISOCHRONE_COLUMNS}
    data["category"] = pd.Series([], dtype="string")
    data["facility_id"] = pd.Series([], dtype="string")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _budgets(bands: tuple[float, ...], speed_kmh: float) -> np.ndarray:
    if not (np.isfinite(speed_kmh) and speed_kmh > 0):
        raise ConfigError(f"speed_kmh must be a positive number, got {speed_kmh!r}")
    return np.asarray(bands) * (float(speed_kmh) * 1000.0 / 60.0)


def _band_rows(dist_m: np.ndarray, budgets_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (index into ``dist_m``, band) for every band that reaches each distance: a node
    first reached within band k is in every band from k on."""
    k = np.searchsorted(budgets_m, dist_m, side="left")
    n_rep = budgets_m.shape[0] - k
    rep = np.repeat(np.arange(dist_m.shape[0]), n_rep)
    band = np.repeat(k, n_rep) + (np.arange(rep.shape[0]) - np.repeat(np.cumsum(n_rep) - n_rep,
                                                                        n_rep))
    return rep, band


class BandOptions(TypedDict, total=False):
    """How bands are drawn: the keyword options every function of this module shares.

    ``bands_min``
        Band upper bounds in minutes, ascending (default :data:`DEFAULT_BANDS_MIN`).
    ``walk_in_m``
        Buffer width around reached streets (default :data:`DEFAULT_WALK_IN_M`).
    ``cumulative``
        Rows hold everything within ``band_min`` (nested) instead of the rings.
    ``method``, ``cell_m``
        ``"raster"`` (default; outlines on a ``cell_m`` grid, 5 m by default) or ``"vector"``
        (exact round buffers, several times slower); see :func:`band_polygons`.
    """

    bands_min: Sequence[float]
    walk_in_m: float
    cumulative: bool
    method: str
    cell_m: float | None


@dataclass(frozen=True)
class _Bands:
    """:class:`BandOptions` checked, with their defaults."""

    bands: tuple[float, ...]
    walk_in_m: float
    cumulative: bool
    method: str
    cell_m: float | None

    @classmethod
    def of(cls, options: BandOptions) -> _Bands:
        if unknown := sorted(set(options) - BandOptions.__optional_keys__):
            raise TypeError(f"unexpected keyword arguments {unknown}; the band options are "
                            f"{', '.join(sorted(BandOptions.__optional_keys__))}")
        return cls(check_bands(options.get("bands_min", DEFAULT_BANDS_MIN)),
                   _check_walk_in(options.get("walk_in_m", DEFAULT_WALK_IN_M)),
                   bool(options.get("cumulative", False)), options.get("method", "raster"),
                   options.get("cell_m"))

    def polygons(self, net: WalkNetwork, pieces: Pieces, n: int,
                 legs: tuple[np.ndarray, np.ndarray] | None, *,
                 wkb: bool = False, unrepeated: bool = False) -> np.ndarray:
        return band_polygons(net, pieces, n, len(self.bands), self.walk_in_m, legs=legs,
                             method=self.method, cell_m=self.cell_m, cumulative=self.cumulative,
                             wkb=wkb, unrepeated=unrepeated)

    def frame(self, net: WalkNetwork, polys: np.ndarray, street_m: np.ndarray, *,
              category: str, ids: Sequence[str], speed_kmh: float) -> Any:
        return _frame(net, polys, street_m, category=category, ids=ids, bands=self.bands,
                      speed_kmh=speed_kmh, walk_in_m=self.walk_in_m,
                      cumulative=self.cumulative)


class RunOptions(BandOptions, total=False):
    """The keyword options of :func:`run_isochrones` and :func:`iter_isochrones`: the band
    options and what to draw (``per_facility``, ``facility_ids``, ``categories``,
    ``enabled``, ``networks``; see :func:`run_isochrones`)."""

    per_facility: bool
    facility_ids: Sequence[str] | None
    categories: Sequence[str] | None
    enabled: bool
    networks: Mapping[str, WalkNetwork] | None


_SELECTION = ("per_facility", "facility_ids", "categories", "enabled", "networks")


def _split(options: RunOptions) -> tuple[dict[str, Any], BandOptions]:
    """A run's options as (what to draw, band options)."""
    pick = {k: v for k, v in options.items() if k in _SELECTION}
    band = cast(BandOptions, {k: v for k, v in options.items() if k not in _SELECTION})
    return pick, band


def category_isochrones(
    net: WalkNetwork,
    nodes: NodeDistances,
    sources: Snap,
    *,
    category: str,
    speed_kmh: float,
    points_xy: tuple[np.ndarray, np.ndarray] | None = None,
    **options: Unpack[BandOptions],
) -> gpd.GeoDataFrame:
    """Bands of a category's union over its facilities (``facility_id`` ``"all"``).

    Parameters
    ----------
    net
        The network the category was searched on: the walking network, or a restricted
        group's view of it (:func:`lifecircle.edge_access.network_for_group`), whose barred
        edges are then left out of the bands too.
    nodes
        The category's multi-source node distances (``Result.access[c].nodes``), searched on
        ``net``; its ``limit_m`` must reach the largest band.
    sources
        The category's snapped facilities (the same the search started from).
    category
        Category name written into the rows.
    speed_kmh
        Walking speed that turns band minutes into metres.
    points_xy
        Projected facility coordinates; when given, the off-network legs are drawn too.
    **options
        ``bands_min``, ``walk_in_m``, ``cumulative``, ``method``, ``cell_m``: see
        :class:`BandOptions`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per band, columns :data:`ISOCHRONE_COLUMNS` and the geometry.
    """
    return next(_category(net, nodes, sources, _Bands.of(options), category=category,
                          speed_kmh=speed_kmh, points_xy=points_xy, wkb=False))


def _category(net: WalkNetwork, nodes: NodeDistances, sources: Snap, opt: _Bands, *,
              category: str, speed_kmh: float,
              points_xy: tuple[np.ndarray, np.ndarray] | None, wkb: bool) -> Iterator[Any]:
    """:func:`category_isochrones` (one frame); with ``wkb``, its rows one at a time as
    :func:`_frame` gives WKB, each band built when the previous row was taken."""
    budgets = _budgets(opt.bands, speed_kmh)
    if budgets[-1] > nodes.limit_m * (1 + 1e-12):
        raise ConfigError(
            f"{category}: a {opt.bands[-1]:g} min band ({budgets[-1]:.0f} m) is beyond the "
            f"search horizon of {nodes.limit_m:.0f} m; raise the profile's horizon_min or use "
            "shorter bands"
        )
    sources = usable_sources(net, sources)
    entity = np.zeros(len(sources), np.int64)
    pieces, street = banded_stretches(net, np.asarray(nodes.dist_m, dtype=np.float64), budgets,
                                      *_source_rows(sources, entity, budgets))
    legs = None
    if points_xy is not None:
        legs = _legs(net, sources, np.asarray(points_xy[0]), np.asarray(points_xy[1]), entity,
                     budgets)
    if not wkb:
        polys = opt.polygons(net, pieces, 1, legs, unrepeated=True)
        del pieces
        yield opt.frame(net, polys, street, category=category, ids=[ALL], speed_kmh=speed_kmh)
        return
    nb = len(opt.bands)
    bands = iter_band_polygons(net, pieces, nb, opt.walk_in_m, legs=legs, method=opt.method,
                               cell_m=opt.cell_m, cumulative=opt.cumulative, unrepeated=True)
    del pieces, legs
    for b, poly in enumerate(bands):
        polys = np.array([[Wkb(EMPTY_WKB, 0.0)] * nb], dtype=object)
        polys[0, b] = poly
        del poly
        rows = opt.frame(net, polys, street, category=category, ids=[ALL],
                         speed_kmh=speed_kmh)
        del polys
        row = rows.iloc[[b]].reset_index(drop=True)
        row.attrs = dict(rows.attrs)
        del rows
        yield row


def facility_isochrones(
    net: WalkNetwork,
    sources: Snap,
    ids: Sequence[str],
    *,
    category: str,
    speed_kmh: float,
    points_xy: tuple[np.ndarray, np.ndarray] | None = None,
    search: BoundedSearch | None = None,
    **options: Unpack[BandOptions],
) -> gpd.GeoDataFrame:
    """Each facility's own bands, from one bounded search per facility.

    Parameters
    ----------
    net, category, speed_kmh, points_xy, **options
        As in :func:`category_isochrones` (a restricted group's view searches on its mask).
    sources
        The snapped facilities; unsnapped ones get empty polygons.
    ids
        Facility id per source (the ``facility_id`` of the rows).
    search
        A :class:`BoundedSearch` over ``net.search_csr`` to reuse (built when omitted).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per facility and band.
    """
    opt = _Bands.of(options)
    budgets = _budgets(opt.bands, speed_kmh)
    if len(ids) != len(sources):
        raise ValueError(f"{len(ids)} ids for {len(sources)} sources")
    if search is None:
        search = BoundedSearch.from_csr(net.search_csr)
    sources = usable_sources(net, sources)
    # batches keep the per-node rows (reached nodes x bands) of many facilities small
    frames = []
    for lo in range(0, max(len(sources), 1), FACILITY_BATCH):
        pick = np.arange(lo, min(lo + FACILITY_BATCH, len(sources)))
        pxy = None if points_xy is None else (np.asarray(points_xy[0])[pick],
                                              np.asarray(points_xy[1])[pick])
        polys, street = _facility_polygons(net, sources.subset(pick), budgets, opt, search,
                                           points_xy=pxy)
        frames.append(opt.frame(net, polys, street, category=category,
                                ids=[str(ids[int(i)]) for i in pick], speed_kmh=speed_kmh))
    if len(frames) == 1:
        return frames[0]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=net.crs)


#: facilities searched and outlined per batch in :func:`facility_isochrones`
FACILITY_BATCH = 256


def _facility_polygons(
    net: WalkNetwork,
    sources: Snap,
    budgets: np.ndarray,
    opt: _Bands,
    search: BoundedSearch,
    *,
    points_xy: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Polygons ``(n, n_bands)`` and reached street metres of each facility's own bands."""
    nb = budgets.shape[0]
    n = len(sources)
    point, seed_node, seed_dist = seed_arcs(net, sources)
    order = np.argsort(point, kind="stable")
    point, seed_node, seed_dist = point[order], seed_node[order], seed_dist[order]
    seed_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(point, minlength=n), out=seed_ptr[1:])
    ptr, reached, dist = search.run_many(seed_ptr, seed_node, seed_dist, float(budgets[-1]))
    fac = np.repeat(np.arange(n), np.diff(ptr))
    rep, band = _band_rows(dist, budgets)
    group = fac[rep] * nb + band
    left = budgets[band] - dist[rep]
    entity = np.arange(n, dtype=np.int64)
    pieces = _stretches(net, group, reached[rep].astype(np.int64), left,
                        *_source_rows(sources, entity, budgets))
    legs = None
    if points_xy is not None:
        legs = _legs(net, sources, points_xy[0], points_xy[1], entity, budgets)
    return opt.polygons(net, pieces, n, legs), pieces.length_m(n * nb)


# ---------------------------------------------------------------------------------------------
# runs


def run_isochrones(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    nodes: dict[str, NodeDistances] | None,
    speeds_kmh: dict[str, float],
    **options: Unpack[RunOptions],
) -> gpd.GeoDataFrame:
    """The isochrone table of a run: every category's union, and facilities' own bands.

    Parameters
    ----------
    net
        The walking network.
    facilities
        Facilities with ``facility_id``, ``category``, the snap fields and point geometry in
        ``net.crs`` (the run's ``facilities`` layer).
    nodes
        Each category's multi-source node distances when the run has them (searched on the
        category's network); missing ones are searched here (one search per category).
    speeds_kmh
        Walking speed per category; the categories drawn are its keys (or ``categories``).
    per_facility
        Add every facility's own bands (``facility_id`` = its id).
    facility_ids
        Add these facilities' own bands (whatever their category).
    categories
        Category unions to build (default: every key of ``speeds_kmh``, unless only
        ``facility_ids`` are given).
    enabled
        ``False`` gives an empty table (with the columns).
    networks
        The network each category is searched on where it is not ``net``: a restricted
        group's view (:func:`lifecircle.edge_access.network_for_group`), so a step-free
        category's bands follow its group's edge mask, as its times do.
    **options
        ``bands_min``, ``walk_in_m``, ``cumulative``, ``method``, ``cell_m``: see
        :class:`BandOptions`; ``cell_m`` left out (or ``None``) is :func:`auto_cell_m`.

    Returns
    -------
    geopandas.GeoDataFrame
        Rows as :data:`ISOCHRONE_COLUMNS`; ``attrs["settings"]`` records the options
        (:func:`isochrone_settings`).

    See Also
    --------
    iter_isochrones : the same rows one category at a time (what a run writes, so that its
        memory is one category's).
    """
    # GEOS polygons throughout: WKB is for the streamed path, not to be decoded again here
    frames = [f for f in _frames(net, facilities, nodes, speeds_kmh, wkb=False, **options)
              if len(f)]
    if frames:
        out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                               crs=net.crs)
    else:
        out = empty_isochrones(net.crs)
    pick, band = _split(options)
    out.attrs["settings"] = isochrone_settings(
        net, per_facility=bool(pick.get("per_facility", False)),
        enabled=bool(pick.get("enabled", True)), **band)
    return out


def isochrone_settings(net: WalkNetwork, *, per_facility: bool = False, enabled: bool = True,
                       **options: Unpack[BandOptions]) -> dict[str, Any]:
    """What :func:`run_isochrones` records of its options (a run's ``run_metadata``
    ``isochrones``): bands, walk-in, method, the cell and whether it was chosen
    automatically (:func:`auto_cell_m`), rings or cumulative rows."""
    opt = _Bands.of(options)
    raster = opt.method == "raster"
    cell = _run_cell(net, opt) if raster else None
    return {"enabled": bool(enabled), "bands_min": list(opt.bands),
            "walk_in_m": opt.walk_in_m, "per_facility": bool(per_facility),
            "method": opt.method, "cell_m": cell,
            "cell_auto": bool(raster and opt.cell_m is None),
            "rows": "cumulative" if opt.cumulative else "rings"}


def _run_cell(net: WalkNetwork, opt: _Bands) -> float:
    return auto_cell_m(net, opt.walk_in_m) if opt.cell_m is None else float(opt.cell_m)


def iter_isochrones(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    nodes: dict[str, NodeDistances] | None,
    speeds_kmh: dict[str, float],
    **options: Unpack[RunOptions],
) -> Iterator[pd.DataFrame]:
    """The rows of :func:`run_isochrones` one frame at a time: each band of each category's
    union (then its facilities' own bands, when asked), computed only when the previous one
    was taken, so a caller that writes and drops each (:func:`lifecircle.outputs.
    isochrone_file.append_isochrones`) holds one band's polygon, not the city's. Same
    parameters.

    The frames are pandas DataFrames whose ``geometry`` column holds each MultiPolygon's WKB
    (``attrs["crs"]`` its CRS): a city's outlines go from their integer rings to the file
    without GEOS (:mod:`.wkb`)."""
    yield from _frames(net, facilities, nodes, speeds_kmh, wkb=True, **options)


def _frames(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    nodes: dict[str, NodeDistances] | None,
    speeds_kmh: dict[str, float],
    *,
    wkb: bool,
    **options: Unpack[RunOptions],
) -> Iterator[pd.DataFrame]:
    """:func:`iter_isochrones`' frames; without ``wkb``, GeoDataFrames (one per category,
    then per facility group) for :func:`run_isochrones`."""
    from ..routing import multi_source

    encode = encoded_frame if wkb else (lambda frame: frame)

    what, band = _split(options)
    per_facility = bool(what.get("per_facility", False))
    facility_ids: Sequence[str] | None = what.get("facility_ids")
    categories: Sequence[str] | None = what.get("categories")
    networks: Mapping[str, WalkNetwork] | None = what.get("networks")
    if not what.get("enabled", True):
        return
    opt = _Bands.of(band)
    snap_all = snap_from_frame(net, facilities)
    cats = list(categories) if categories is not None else (
        [] if facility_ids is not None and not per_facility else list(speeds_kmh))
    kw = BandOptions(bands_min=opt.bands, walk_in_m=opt.walk_in_m, method=opt.method,
                     cell_m=_run_cell(net, opt) if opt.method == "raster" else opt.cell_m,
                     cumulative=opt.cumulative)
    cat_col = facilities["category"].astype(str).to_numpy()
    ids_all = facilities["facility_id"].astype(str).to_numpy()
    xy = (facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    searches: dict[int, BoundedSearch] = {}  # per-facility searches, one per network

    def search_on(gnet: WalkNetwork) -> BoundedSearch:
        if id(gnet) not in searches:
            searches[id(gnet)] = BoundedSearch.from_csr(gnet.search_csr)
        return searches[id(gnet)]

    for c in cats:
        rows = np.flatnonzero(cat_col == c)
        sub = snap_all.subset(rows)
        speed = float(speeds_kmh[c])
        limit = float(opt.bands[-1]) * speed * 1000.0 / 60.0
        gnet = (networks or {}).get(c, net)
        nd = (nodes or {}).get(c)
        if nd is None or nd.limit_m < limit * (1 - 1e-12):
            nd = multi_source(gnet, sub, limit_m=limit)
        pxy = (xy[0][rows], xy[1][rows])
        yield from _category(gnet, nd, sub, _Bands.of(kw), category=c, speed_kmh=speed,
                             points_xy=pxy, wkb=wkb)
        if per_facility:
            yield encode(facility_isochrones(gnet, sub, list(ids_all[rows]), category=c,
                                               speed_kmh=speed, points_xy=pxy,
                                               search=search_on(gnet), **kw))
    if facility_ids is not None and not per_facility:
        pick = np.concatenate([np.flatnonzero(ids_all == str(f)) for f in facility_ids])
        for c in dict.fromkeys(cat_col[pick]):
            rows = pick[cat_col[pick] == c]
            gnet = (networks or {}).get(c, net)
            yield encode(facility_isochrones(
                gnet, snap_all.subset(rows), list(ids_all[rows]), category=c,
                speed_kmh=float(speeds_kmh[c]), points_xy=(xy[0][rows], xy[1][rows]),
                search=search_on(gnet), **kw))
