"""The computation: configuration -> network -> facilities and blocks -> walking times ->
verdict -> report.

:func:`analyse` turns an :class:`~lifecircle.config.Analysis` into a
:class:`~lifecircle.result.Result` and writes nothing; the result's methods write the outputs
(:meth:`~lifecircle.result.Result.save` the whole folder). :func:`run` is the one-call
convenience the notebooks and ``lifecircle run`` use: a configuration from keyword arguments,
:func:`analyse`, then ``save``.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import isochrones as iso_mod
from ._errors import InputError
from ._memory import frozen_long_lived, release_freed
from ._version import __version__
from .access import access_columns, compute_access
from .config import DEFAULT_OSM, Analysis, Outputs, default_osm
from .coverage import (
    NO_DATA,
    block_verdict,
    category_status,
    deficiency_list,
    deficiency_summary,
    facility_summary,
    summarize,
)
from .elevation import apply_dem
from .groups import (
    parse_group_population,
    served_coverage,
    served_population,
    step_free_report,
    unrestricted_distances,
)
from .network import WalkNetwork
from .outputs._atomic import StagedOutput, file_sha256
from .outputs.report import REPORT_VERSION
from .profiles import Profile
from .result import Extra, Result
from .snapping import Snap, release_index, snap_points
from .sources import blocks as blocks_mod
from .sources.access_points import facility_counts
from .sources.area import blocks_in_area, read_area
from .sources.buildings import method_shares, scale_to_total
from .sources.facilities import (
    FACILITY_COLUMNS,
    access_point_summary,
    check_not_swapped,
    facilities_from_osm,
    merge_facilities,
    primary_rows,
)
from .sources.facilities import read_facilities as _read_facilities
from .sources.osm import NETWORK_TABLES, OSMData, release_tables
from .sources.population import households, population_from_raster
from .sources.tables import read_polygons
from .targets import facility_values
from .targets import indicators as target_indicators

__all__ = ["DEFAULT_OSM", "Result", "analyse", "default_osm", "load_network", "run",
           "run_config"]

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]
#: :func:`analyse`'s ``on_network``: called with the network, a function that finds the
#: facilities and snaps them (as the facilities and blocks steps do) and the OSM features,
#: once the network is loaded; it returns how to read the facilities with their snaps where
#: it finds them for the run (``None``: the run finds its own)
NetworkHook = Callable[[WalkNetwork, Callable[[], gpd.GeoDataFrame], OSMData | None],
                       Callable[[], gpd.GeoDataFrame] | None]

#: keyword arguments of :func:`run` that are neither analysis nor output options
RUN_ONLY = ("out", "overwrite", "progress", "extras")


class _Timer:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, key: str, message: str) -> Iterator[None]:
        if self.progress:
            self.progress("start", message)
        t0 = time.perf_counter()
        yield
        release_freed()  # the step's temporaries: back to the system, not kept for the next
        self.timings[key] = round(time.perf_counter() - t0, 4)
        if self.progress:
            self.progress("done", f"{message} ({self.timings[key]:.2f} s)")


def load_network(
    osm: str | Path | None = None, *, place: str | None = None, polygon: Any = None
) -> tuple[WalkNetwork, OSMData | None]:
    """Load the walking network and the OSM features facilities and blocks come from.

    A local OSM file gives both in one pass; ``place`` (or, without ``osm``, a WGS 84 shapely
    ``polygon``) downloads both through osmnx; a GraphML file gives the network only (``None``
    features).
    """
    if place is not None or (osm is None and polygon is not None):
        from .sources.online import download_osm, osm_data_from_features

        what = place if place is not None else "the area polygon"
        graph, features = (
            download_osm(place=place) if place is not None else download_osm(polygon=polygon)
        )
        net = WalkNetwork.from_networkx(graph, where=what)
        return net, osm_data_from_features(features, where=f"place {what!r}")
    path = Path(osm) if osm is not None else default_osm()
    if path.suffix.lower() == ".graphml":
        return WalkNetwork.from_graphml(str(path)), None
    return WalkNetwork.from_osm_file(path)


def _project_points(gdf: gpd.GeoDataFrame, net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    g = gdf.to_crs(net.crs).geometry
    return g.x.to_numpy(), g.y.to_numpy()


def _with_snap(gdf: gpd.GeoDataFrame, snap: Snap, net: WalkNetwork) -> gpd.GeoDataFrame:
    fields = snap.fields(net)
    fields.index = gdf.index
    base = gdf.drop(columns=[c for c in fields.columns if c in gdf.columns])
    geom_name = base.geometry.name
    out = pd.concat([base.drop(columns=geom_name), fields], axis=1)
    return gpd.GeoDataFrame(out, geometry=base.geometry, crs=base.crs)


def _snapped(fac: gpd.GeoDataFrame, fx: np.ndarray, fy: np.ndarray, net: WalkNetwork,
             max_snap_m: float) -> gpd.GeoDataFrame:
    """The facilities with their snap fields."""
    return _with_snap(fac, snap_points(net, fx, fy, max_snap_m=max_snap_m), net)


def _found_and_snapped(cfg: Analysis, data: OSMData | None, net: WalkNetwork,
                       max_snap_m: float) -> gpd.GeoDataFrame:
    """The facilities of the facilities step, snapped as the blocks step snaps them (the
    early worker's: :mod:`lifecircle._early`)."""
    fac = _facilities(cfg, data, net, cfg.full_profile, cfg.effective_profile)[0]
    return _snapped(fac, *_project_points(fac, net), net, max_snap_m)


def _network_bounds_lonlat(net: WalkNetwork) -> tuple[float, float, float, float]:
    import pyproj

    tf = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    lon, lat = tf.transform(net.x, net.y)
    return float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))


def analyse(config: Analysis, *, progress: Progress | None = None,
            keep_osm: bool = True, on_network: NetworkHook | None = None) -> Result:
    """Compute an analysis: walking times, coverage, the verdict per block and the report.

    Writes nothing: the returned :class:`~lifecircle.result.Result` writes the GeoPackage,
    map, figures, rasters or the whole output folder from what it holds.

    Parameters
    ----------
    config
        What to analyse (:class:`~lifecircle.config.Analysis`).
    progress
        Called with ``("start"|"done", message)`` around each step.
    keep_osm
        Hold the OSM features in the result (:attr:`~lifecircle.result.Result.osm`). With
        False, and a local OSM file to read again, each table is dropped after the step that
        reads it last, and ``result.osm`` reads the file again when asked for (what a saving
        run does: at a million nodes the tables hold ~0.7 GB through the blocks step).
    on_network
        Internal (the saving path's; its arguments may change): called once the network is
        loaded, before the facilities (:data:`NetworkHook`), where :func:`run_config` starts
        the outputs that need no block (and may have the facilities found there); its time
        counts in the facilities step.

    Returns
    -------
    Result
        With ``config`` set; its ``isochrones`` are made when it is saved (or by
        :meth:`~lifecircle.result.Result.compute_isochrones`).
    """
    cfg = config
    full_profile, prof = cfg.full_profile, cfg.effective_profile
    resident_cols = parse_group_population(
        list(cfg.group_population) if cfg.group_population else None, full_profile)
    snap_limit = cfg.snap_limit_m
    area = read_area(cfg.polygon) if cfg.polygon is not None else None
    timer = _Timer(progress)
    # the tables may go only where Result.release_osm can read them again: a local file
    release = not keep_osm and cfg.osm is not None and cfg.place is None

    # the network and the OSM tables live through the run: out of the collector's scans
    with frozen_long_lived() as freeze:
        with timer.step("network", "Loading the street network"):
            net, data = load_network(cfg.osm, place=cfg.place, polygon=area)
            if cfg.dem is not None:
                net = apply_dem(net, cfg.dem)
            if release and data is not None:
                release_tables(data, NETWORK_TABLES)
        freeze()

        with timer.step("facilities", "Finding facilities"):
            found = (None if on_network is None  # (its fork is timed with this step)
                     else on_network(net, partial(_found_and_snapped, cfg, data, net,
                                                  snap_limit), data))
            if found is None:
                fac, type_report = _facilities(cfg, data, net, full_profile, prof)
                fx, fy = _project_points(fac, net)  # snapped with the access points below
                found = partial(_snapped, fac, fx, fy, net, snap_limit)
            else:  # found and snapped by the early worker beside the blocks step
                type_report = None

        with timer.step("blocks", "Preparing residential blocks"):
            every_block, block_stats, buildings = _blocks(cfg, data, net, release=release)
            blk = every_block
            if area is not None and cfg.osm is not None:
                blk = blocks_in_area(every_block, area, where=str(cfg.polygon))
            whole = blk is every_block
            blk, residents_info = _population(cfg, blk, buildings, prof, block_stats, resident_cols)
            del buildings  # a city's footprints: not needed after the population
            # gates are shared out among every block, then kept for the blocks in the area: a gate
            # of a block left outside the area never becomes a neighbour's
            aps = blocks_mod.access_points(every_block, blocks_mod.gates_from_osm(data, net.crs))
            if not whole:  # (isin on 10^5 arrow strings: ~1 s at 1M nodes)
                aps = aps[aps["block_id"].isin(blk["block_id"])].reset_index(drop=True)
            gate_aps = aps[aps["ap_kind"] == "gate"]
            block_stats["gate_access_points"] = len(gate_aps)
            block_stats["gated_blocks"] = int(gate_aps["block_id"].nunique())
            ax, ay = _project_points(aps, net)
            # the guard against faraway streets starts at the block's edge: walking from a large
            # block's interior to its own boundary is part of the trip, not a snapping error
            inside_m = blocks_mod.distance_to_boundary(aps, blk)
            # the facilities are snapped here (or read from the early worker, which snapped
            # them), next to the access points: the edge grid is built once for both (not
            # twice) and not held through the blocks' construction; two
            # calls, so one call's temporaries are gone before the next's
            t_found = time.perf_counter()
            fac = found()
            # within the blocks step: the facilities' snap, or the wait for the early worker's
            timer.timings["facilities_snap"] = round(time.perf_counter() - t_found, 4)
            asnap = snap_points(net, ax, ay, max_snap_m=snap_limit + inside_m)
            aps = _with_snap(aps, asnap, net)
            release_index(net)  # the analysis's last snap

        with timer.step("access", f"Walking times for {len(prof.categories)} categories"):
            access = compute_access(net, fac, asnap, prof)
            free = unrestricted_distances(net, fac, asnap, access, prof)  # step-free comparison
            ap_cols = access_columns(access)
            ap_cols.index = aps.index
            aps = gpd.GeoDataFrame(pd.concat([aps, ap_cols], axis=1), geometry="geometry",
                                   crs=aps.crs)

        with timer.step("verdict", "Flagging blocks"):
            status = category_status(access, float(blk["population"].sum()),
                                     fac.loc[fac["source"] == "user", "category"])
            no_data = [c for c, v in status.items() if v["status"] == NO_DATA]
            blk = block_verdict(blk, aps["block_id"].to_numpy(), access, prof, no_data=no_data)
            summary = summarize(blk, access, prof, status=status)
            served_coverage(blk, summary, prof)
            summary["residents"] = residents_info
            blk, indicators = target_indicators(
                blk, primary_rows(fac), prof, net=net, points=asnap,
                ap_block=aps["block_id"].to_numpy(), no_data=no_data,
            )
            step_free = step_free_report(net, blk, aps["block_id"].to_numpy(), access, free, prof)

        metadata = _metadata(cfg, prof, net, timer.timings, block_stats, fac, asnap)
        metadata["category_status"] = status
        report = {
            "report_version": REPORT_VERSION,
            "run": {k: metadata[k] for k in _REPORT_RUN_KEYS},
            "summary": summary,
            "indicators": indicators,
            "facilities": {**facility_summary(primary_rows(fac), type_report),
                           "access_points": access_point_summary(fac)},
            "deficiencies": (worst := deficiency_list(blk, prof)),
            "deficiency_summary": deficiency_summary(blk, prof, listed=len(worst)),
            "step_free": step_free,
        }
        result = Result(network=net, profile=prof, blocks=blk, access_points=aps, facilities=fac,
                        access=access, report=report, metadata=metadata, config=cfg, osm=data)
        if release:
            result.release_osm()  # partial now: read again if asked for
        return result


_REPORT_RUN_KEYS = ("lifecircle_version", "profile", "profile_version", "walk_speed_kmh",
                    "threshold_min", "horizon_min", "max_snap_m", "crs", "inputs", "network",
                    "blocks")


def _facilities(cfg: Analysis, data: OSMData | None, net: WalkNetwork, full_profile: Profile,
                prof: Profile) -> tuple[gpd.GeoDataFrame, Any]:
    """OSM facilities merged with the user's file, in the network's CRS."""
    if data is None and cfg.facilities is None:
        raise InputError(
            f"{cfg.osm}: a GraphML network carries no facilities; pass --facilities FILE"
        )
    if data is not None:
        fac = facilities_from_osm(data, prof)
    else:
        fac = gpd.GeoDataFrame({c: [] for c in FACILITY_COLUMNS}, geometry=[], crs=4326)
    type_report = None
    if cfg.facilities is not None:
        # validated against every category of the profile, then narrowed to the selection
        user = _read_facilities(cfg.facilities, full_profile, crs=cfg.facilities_crs,
                                **dict(cfg.facility_columns),
                                extra_cols={"staff": cfg.staff_col or "staff",
                                            "volunteer_site": cfg.flag_col or "volunteer_site"})
        type_report = user.attrs.get("type_map")
        user = user[user["category"].isin(list(prof.categories))]
        check_not_swapped(user, _network_bounds_lonlat(net), where=str(cfg.facilities))
        fac = merge_facilities(fac, user)
    fac = facility_values(fac)  # staff counts and volunteer-site flags as numbers
    return fac.to_crs(net.crs).reset_index(drop=True), type_report


def _blocks(cfg: Analysis, data: OSMData | None, net: WalkNetwork, *,
            release: bool = False) -> tuple[gpd.GeoDataFrame, dict[str, Any], gpd.GeoDataFrame]:
    """The residential blocks (the user's or OSM's), their statistics and the OSM
    buildings; with ``release``, the OSM tables only the buildings read are dropped once they
    are made."""
    if data is not None:
        # without the footprint polygons: blocks and population need a point and the area of
        # each (at a million nodes the polygons alone would hold ~2 GB through the step)
        buildings = blocks_mod.buildings_from_osm(data, net.crs, footprints=False)
        if release:
            release_tables(data, ("buildings", "pois", "landuse_other"))
    else:
        buildings = gpd.GeoDataFrame(
            {"levels": [], "residential": [], "non_residential": []}, geometry=[], crs=net.crs
        )
    block_stats: dict[str, Any] = {}
    if cfg.blocks is not None:
        raw, block_stats = read_polygons(cfg.blocks, crs=cfg.blocks_crs)
        blk = blocks_mod.prepare_user_blocks(raw, net.crs, where=str(cfg.blocks))
    elif data is not None:
        # street lines handed down: the block rooms sit below the network and never import it
        # (the two columns the blocks read, not the whole edge table: 0.5 -> 0.1 s at 1M)
        streets = gpd.GeoDataFrame(
            {} if net.edge_highway is None else {"highway": net.edge_highway},
            geometry=net.geometries, crs=net.crs)
        blk = blocks_mod.blocks_from_osm(data, streets, buildings, cfg.effective_profile.population)
        block_stats["dropped_slivers"] = blk.attrs.get("dropped_slivers", 0)
        block_stats["derivation"] = blk.attrs.get("derivation", {})
    else:
        raise InputError(
            f"{cfg.osm}: a GraphML network carries no land use or buildings to derive "
            "residential blocks from; pass --blocks FILE"
        )
    if blk.empty:
        raise InputError(
            "no residential blocks found; pass --blocks FILE with residential polygons"
        )
    return blk, block_stats, buildings


def _population(cfg: Analysis, blk: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                prof: Profile, block_stats: dict[str, Any],
                resident_cols: dict[str, str]) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Population, the residents categories serve, households and area of every block; how
    the served residents were counted."""
    if cfg.population is not None:
        pop_raster = population_from_raster(blk, cfg.population)
        blk["population"] = pop_raster.to_numpy()
        blk["pop_method"] = "raster"
        block_stats["population_raster"] = pop_raster.attrs["raster_stats"]
    elif "population" in blk.columns:
        blk["pop_method"] = "column"
    else:
        pop, method = blocks_mod.estimate_population(blk, buildings, prof.population)
        blk["population"] = pop
        blk["pop_method"] = method
    if cfg.population_total is not None:
        blk["population"] = scale_to_total(blk["population"].to_numpy(), cfg.population_total)
        block_stats["population_total"] = cfg.population_total
    block_stats["pop_method_share"] = method_shares(blk["population"], blk["pop_method"])
    blk, residents_info = served_population(blk, prof, columns=resident_cols)
    blk["households"], blk["households_method"] = households(
        blk, household_size=prof.population.household_size
    )
    blk["area_m2"] = blk.area
    return blk, residents_info


def run(
    osm: str | Path | None = None,
    *,
    place: str | None = None,
    polygon: str | Path | None = None,
    profile: str | Path | Profile = "walk15",
    facilities: str | Path | None = None,
    facilities_crs: str | None = None,
    facility_columns: dict[str, str] | None = None,
    blocks: str | Path | None = None,
    blocks_crs: str | None = None,
    speed_kmh: float | None = None,
    minutes: float | None = None,
    categories: list[str] | None = None,
    max_snap_m: float | None = None,
    population: str | Path | None = None,
    population_total: float | None = None,
    dem: str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    lang: str = "en",
    progress: Progress | None = None,
    extras: list[Extra] | None = None,
    isochrones: bool | None = None,
    isochrone_bands_min: tuple[float, ...] = iso_mod.DEFAULT_BANDS_MIN,
    walk_in_m: float = iso_mod.DEFAULT_WALK_IN_M,
    facility_isochrones: bool = False,
    isochrone_cell_m: float | None = None,
    map: bool | None = None,
    self_contained: bool = False,
    cdn: bool = False,
    tiles: str | None = "osm",
    tiles_attribution: str | None = None,
    figures: bool = True,
    rasters: bool | None = None,
    raster_cell_m: float | None = None,
    layer_format: str = "gpkg",
    group: str | None = None,
    group_population: list[str] | dict[str, str] | None = None,
    targets: list[str] | None = None,
    staff_col: str | None = None,
    flag_col: str | None = None,
) -> Result:
    """Analyse and, with ``out``, save: ``analyse(Analysis(...))`` then ``result.save(out)``.

    Every analysis option is a field of :class:`~lifecircle.config.Analysis` and every
    output option one of :class:`~lifecircle.config.Outputs` (see them for the meaning of
    each); options are checked before any heavy work, and ``out`` too.

    Parameters
    ----------
    osm, place, polygon, profile, facilities, facilities_crs, facility_columns, blocks, \
blocks_crs, speed_kmh, minutes, categories, max_snap_m, population, dem, group, \
group_population, targets, staff_col, flag_col
        The analysis (:class:`~lifecircle.config.Analysis`).
    lang, isochrones, isochrone_bands_min, walk_in_m, facility_isochrones, \
isochrone_cell_m, map, self_contained, cdn, tiles, tiles_attribution, figures, rasters, \
raster_cell_m, layer_format
        The outputs (:class:`~lifecircle.config.Outputs`). Without ``out`` only the
        isochrone layer is made (``result.isochrones``).
    out, overwrite
        Output folder, written atomically; ``overwrite`` to replace an existing one.
    progress
        Called with ``("start"|"done", message)`` around each step.
    extras
        Further output writers called with the result and the staging folder.
    """
    options = {k: v for k, v in locals().items() if k not in RUN_ONLY}
    analysis, outputs = configure(options)
    return run_config(analysis, outputs, out=out, overwrite=overwrite, progress=progress,
                      extras=extras or ())


def run_config(analysis: Analysis, outputs: Outputs | None = None, *,
               out: str | Path | None = None, overwrite: bool = False,
               progress: Progress | None = None, extras: Sequence[Extra] = ()) -> Result:
    """:func:`analyse`, then save into ``out`` (when given); what ``lifecircle run`` and a
    batch region do. Checks the outputs and ``out`` before the analysis starts.

    A city's run (streamed isochrones) forks an early output worker once its facilities are
    found (:mod:`lifecircle._early`), a small one its figures' worker as it starts
    (:mod:`lifecircle.outputs._figure_worker`); a failure of either stops the other and
    leaves no output folder."""
    outputs = outputs or Outputs()
    outputs.check(analysis.effective_profile, writing=out is not None)
    if out is None:
        result = analyse(analysis, progress=progress)
        result.prepare(outputs)
        return result
    from ._early import EarlyOutputs
    from .outputs import _figure_worker

    staged = StagedOutput(out, overwrite=overwrite, inputs=list(analysis.input_files().values()))
    # a failing run stops the early workers, then removes the staging folder they write into
    with ExitStack() as stack:
        # a small run's figures: matplotlib imported on the core the analysis leaves idle
        figures = _figure_worker.start(analysis, outputs)
        if figures is not None:
            stack.callback(figures.cancel)
        early = EarlyOutputs(analysis, outputs, staged, stack)  # a city's isochrones, rasters
        result = analyse(analysis, progress=progress, keep_osm=False, on_network=early.start)
        # the outputs never read the OSM features (read again if the caller asks for them)
        result.release_osm()
        release_freed()
        timer = _Timer(progress)
        with frozen_long_lived() as freeze, timer.step("outputs", "Writing outputs"):
            freeze()  # the result's objects: never scanned again while the outputs are written
            result.save_into(staged, outputs, extras=extras, early=early.job,
                             entered=early.entered, figures=figures)
    return result


def configure(options: dict[str, Any]) -> tuple[Analysis, Outputs]:
    """The :class:`Analysis` and :class:`Outputs` of :func:`run`'s keyword arguments.

    Every key must be a field of one of them (a programming error otherwise, so that an
    option added to the CLI or to ``run`` without its field cannot be dropped silently).
    """
    unknown = set(options) - set(Analysis.keys()) - set(Outputs.keys())
    if unknown:
        raise TypeError(f"not a field of Analysis or Outputs: {', '.join(sorted(unknown))}")
    fields = {**options, "facility_columns": options.get("facility_columns") or {}}
    analysis = Analysis(**{k: fields[k] for k in Analysis.keys() if k in fields})
    outputs = Outputs(**{k: fields[k] for k in Outputs.keys() if k in fields})
    return analysis, outputs


def _metadata(cfg: Analysis, prof: Profile, net: WalkNetwork, timings: dict[str, float],
              block_stats: dict[str, Any], fac: gpd.GeoDataFrame,
              asnap: Snap) -> dict[str, Any]:
    """The run's ``run_metadata``: versions, the configuration, the effective profile, the
    inputs (with sha256), network, facility and block statistics and the timings."""
    inputs: dict[str, Any] = {key: {"path": str(p), "sha256": file_sha256(p)}
                              for key, p in cfg.input_files().items()}
    if cfg.place is not None:
        from importlib.metadata import version

        inputs["place"] = {
            "name": cfg.place,
            "source": "OpenStreetMap through osmnx (Overpass)",
            "osmnx": version("osmnx"),
            "downloaded_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    if cfg.facilities_crs:
        inputs["facilities_crs"] = cfg.facilities_crs
    return {
        "lifecircle_version": __version__,
        "python": platform.python_version(),
        "profile": prof.name,
        "profile_version": prof.version,
        "profile_path": prof.path,
        "walk_speed_kmh": prof.walk_speed_kmh,
        "speeds_kmh": {c: prof.group_of(c).speed_kmh for c in prof.categories},
        "threshold_min": prof.threshold_min,
        "thresholds_min": {c: prof.threshold_of(c) for c in prof.categories},
        "horizon_min": prof.horizon_min,
        "max_snap_m": cfg.snap_limit_m,
        "slope": net.stats.get("slope", False),
        "crs": net.crs.to_string(),
        "config": cfg.to_dict(),
        "inputs": inputs,
        "network": {
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "length_km": round(float(net.edge_length_m.sum()) / 1000, 3),
            **{k: v for k, v in net.stats.items() if k not in ("highway_seen", "slope")},
        },
        "facilities": facility_counts(fac),
        "access_points_unreachable": int((~asnap.ok).sum()),
        "blocks": block_stats,
        "timings_s": timings,
        "effective_profile": prof.to_dict(),
    }


def write_outputs(
    result: Result,
    staged: StagedOutput,
    *,
    lang: str = "en",
    extras: list[Extra] | None = None,
    products: dict[str, Any] | None = None,
) -> None:
    """Write the GeoPackage, reports, map, figures and rasters into a staging folder.

    Kept for callers of the former pipeline (``lifecircle.siting.run_site``):
    :meth:`Result.write_into` with ``Outputs(lang=lang, **products)``.
    """
    result.write_into(staged, Outputs(lang=lang, **(products or {})), extras=extras or ())
