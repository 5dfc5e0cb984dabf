"""The main job: network -> facilities and blocks -> walking times -> verdict -> outputs.

:func:`run` is what ``lifecircle run`` and the notebooks call. It returns a :class:`Result`
with the GeoDataFrames and the report; with ``out`` it also writes the output folder (the
contract in the design notes) atomically.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns as col
from . import isochrones as iso_mod
from ._errors import InputError
from ._version import __version__
from .access import CategoryAccess, access_columns, compute_access
from .coverage import (
    NO_DATA,
    block_verdict,
    category_status,
    deficiency_list,
    facility_summary,
    summarize,
)
from .fingerprint import run_fingerprint
from .groups import (
    parse_group_population,
    served_coverage,
    served_population,
    step_free_report,
    unrestricted_distances,
)
from .network import WalkNetwork
from .outputs._atomic import StagedOutput, file_sha256
from .profiles import Profile, load_profile
from .snapping import Snap, snap_points
from .sources import blocks as blocks_mod
from .sources.area import blocks_in_area, read_area
from .sources.buildings import method_shares, scale_to_total
from .sources.elevation import apply_dem
from .sources.facilities import (
    FACILITY_COLUMNS,
    access_point_summary,
    check_not_swapped,
    facilities_from_osm,
    merge_facilities,
    primary_rows,
)
from .sources.facilities import read_facilities as _read_facilities
from .sources.osm import OSMData, read_osm
from .sources.population import households, population_from_raster
from .sources.tables import read_polygons
from .targets import facility_values
from .targets import indicators as target_indicators

__all__ = ["DEFAULT_OSM", "Result", "load_network", "run"]

log = logging.getLogger(__name__)

#: the bundled default extract (central Helsinki, © OpenStreetMap contributors, ODbL)
DEFAULT_OSM = Path(__file__).resolve().parent.parent / "data" / "helsinki.osm.pbf"
_PACKAGED_OSM = Path(__file__).resolve().parent / "data" / "helsinki.osm.pbf"

Progress = Callable[[str, str], None]


@dataclass
class Result:
    """Everything a run computed. Times are minutes; unreachable is NaN."""

    network: WalkNetwork
    profile: Profile
    blocks: gpd.GeoDataFrame
    access_points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    access: dict[str, CategoryAccess]
    report: dict[str, Any]
    metadata: dict[str, Any]
    out: Path | None = None
    osm: OSMData | None = field(default=None, repr=False)
    #: new sites proposed by :func:`lifecircle.siting.site` (``rank``, ``gain_population``)
    proposed_sites: gpd.GeoDataFrame | None = None
    #: isochrone rings per category (and per facility on request); may be empty
    isochrones: gpd.GeoDataFrame | None = None

    @cached_property
    def edges(self) -> gpd.GeoDataFrame:
        """The network's edge table; built once (the GeoPackage, map and figures all read it,
        and at a million nodes it costs seconds). Do not modify it in place."""
        return self.network.edges_gdf()

    @property
    def summary(self) -> pd.DataFrame:
        """Coverage per category as a table."""
        rows = []
        for c, v in self.report["summary"]["categories"].items():
            rows.append(
                {
                    "category": c,
                    "facilities": v["facilities"],
                    "threshold_min": v["threshold_min"],
                    "speed_kmh": v["speed_kmh"],
                    "blocks_covered": v["blocks_covered"],
                    "share_blocks_covered": v["share_blocks_covered"],
                    "population_covered": v["population_covered"],
                    "share_population_covered": v["share_population_covered"],
                    "median_walk_min": v["median_walk_min"],
                }
            )
        return pd.DataFrame(rows).set_index("category")


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
        self.timings[key] = round(time.perf_counter() - t0, 4)
        if self.progress:
            self.progress("done", f"{message} ({self.timings[key]:.2f} s)")


def default_osm() -> Path:
    """The bundled default extract (source checkout or installed package)."""
    for p in (DEFAULT_OSM, _PACKAGED_OSM):
        if p.is_file():
            return p
    raise InputError(
        "the bundled default extract data/helsinki.osm.pbf is missing; "
        "reinstall lifecircle or pass --osm FILE"
    )


def load_network(
    osm: str | Path | None = None, *, place: str | None = None, polygon: Any = None
) -> tuple[WalkNetwork, OSMData | None]:
    """Load the walking network and the OSM features facilities and blocks come from.

    A local OSM file gives both in one pass; ``place`` (or, without ``osm``, a WGS 84 shapely
    ``polygon``) downloads both through osmnx; a GraphML file gives the network only (``None``
    features).
    """
    if place is not None or (osm is None and polygon is not None):
        from .sources.osm import download_osm, osm_data_from_features

        what = place if place is not None else "the area polygon"
        graph, features = (
            download_osm(place=place) if place is not None else download_osm(polygon=polygon)
        )
        net = WalkNetwork.from_networkx(graph, where=what)
        return net, osm_data_from_features(features, where=f"place {what!r}")
    path = Path(osm) if osm is not None else default_osm()
    if path.suffix.lower() == ".graphml":
        return WalkNetwork.from_graphml(str(path)), None
    data = read_osm(path)
    return WalkNetwork.from_osm(data), data


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


def _network_bounds_lonlat(net: WalkNetwork) -> tuple[float, float, float, float]:
    import pyproj

    tf = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    lon, lat = tf.transform(net.x, net.y)
    return float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))


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
    extras: list[Callable[[Result, StagedOutput], None]] | None = None,
    isochrones: bool | None = None,
    isochrone_bands_min: tuple[float, ...] = iso_mod.DEFAULT_BANDS_MIN,
    walk_in_m: float = iso_mod.DEFAULT_WALK_IN_M,
    facility_isochrones: bool = False,
    map: bool | None = None,
    self_contained: bool = False,
    cdn: bool = False,
    tiles: str | None = "osm",
    tiles_attribution: str | None = None,
    figures: bool = True,
    rasters: bool | None = None,
    raster_cell_m: float | None = None,
    group: str | None = None,
    group_population: list[str] | dict[str, str] | None = None,
    targets: list[str] | None = None,
    staff_col: str | None = None,
    flag_col: str | None = None,
) -> Result:
    """Run the whole analysis; write the output folder when ``out`` is given.

    Parameters
    ----------
    osm
        Local OSM file (``.osm.pbf``, ``.osm``, ``.osm.gz``, ``.osm.bz2``) or GraphML; the
        bundled Helsinki extract when neither ``osm`` nor ``place`` is given.
    place
        A place name to download through osmnx (needs internet).
    polygon
        A polygon file (GeoJSON, GeoPackage) of the analysis area: with ``osm`` only the
        blocks inside it are evaluated (the network and facilities stay whole); alone, the
        area to download through osmnx. Not with ``place``.
    profile
        Built-in profile name or a TOML path.
    facilities
        A user facility file with a ``category`` column; it replaces the OSM facilities of the
        categories it contains.
    facility_columns
        Column names of the facility file when they differ from the defaults, as keyword
        arguments of :func:`lifecircle.sources.facilities.read_facilities` (``category_col``,
        ``name_col``, ``id_col``, ``x_col``, ``y_col``, ``type_map``, ``type_col``).
    facilities_crs, blocks_crs
        Coordinate system of those files when they do not declare one (``gcj02`` and ``bd09``
        convert Chinese map-service coordinates).
    blocks
        A user polygon file of residential blocks (optional ``population`` column).
    speed_kmh, minutes
        Override the default group's walking speed and every category's threshold.
    categories
        Evaluate only these profile categories.
    max_snap_m
        Points farther than this from any walkable edge are unreachable.
    population
        A population GeoTIFF (people per pixel); its exact zonal sums replace every other
        population source (``pop_method = "raster"``).
    population_total
        A known total population: estimated block populations are scaled to sum to it.
    dem
        A DEM GeoTIFF (metres): slope slows or speeds walking per direction by Tobler's
        hiking function; times become equivalent flat metres / speed.
    out
        Output folder; written atomically, ``overwrite`` to replace an existing one.
    lang
        ``"en"`` or ``"zh"`` for the report.
    progress
        Called with ``("start"|"done", message)`` around each step.
    extras
        Further output writers called with the result and the staging folder.
    isochrones, isochrone_bands_min, walk_in_m, facility_isochrones
        Isochrone rings of every category's union over its facilities (on by default) for
        these bands (minutes, ascending, within the profile's horizon), buffered by
        ``walk_in_m``; ``facility_isochrones`` adds each facility's own bands. See
        :mod:`lifecircle.isochrones`.
    map, cdn, self_contained, tiles, tiles_attribution
        Write ``map.html`` (Leaflet inlined unless ``cdn``; ``self_contained`` is ignored;
        background ``tiles``:
        ``"osm"`` (default), ``"none"``/``None``, an xyzservices name or a URL template
        with ``tiles_attribution``). See :func:`lifecircle.outputs.products.write_products`.
    figures
        Write ``figures/coverage_<c>.png``, ``figures/deficiency.png`` and
        ``figures/coverage_share.png``.
    rasters, raster_cell_m
        Write ``rasters/walk_min_<c>.tif`` travel-time surfaces at ``raster_cell_m`` metres
        (default 25).
    group, group_population, targets, staff_col, flag_col
        Evaluate every category for this profile group (e.g. ``"wheelchair"``: step-free);
        ``RESIDENTS=COLUMN`` block columns of the residents categories serve; target sets
        stacked on the profile (built-in names or TOML files); the facility-file columns of
        staff counts and volunteer-site flags. See :mod:`lifecircle.groups` and
        :mod:`lifecircle.targets`.
    """
    options = dict(locals())  # every option as given, for the run's fingerprint
    if lang not in ("en", "zh"):
        from ._errors import ConfigError

        raise ConfigError(f"unknown language {lang!r}; use en or zh")
    full_profile = load_profile(profile)
    full_profile = (full_profile.for_group(group) if group else full_profile).stack_targets(targets)
    full_profile = full_profile.replace(speed_kmh=speed_kmh, threshold_min=minutes)
    resident_cols = parse_group_population(group_population, full_profile)
    prof = full_profile.replace(categories=categories)
    snap_limit = prof.max_snap_m if max_snap_m is None else float(max_snap_m)
    if snap_limit <= 0:
        from ._errors import ConfigError

        raise ConfigError(f"max_snap_m must be positive, got {max_snap_m!r}")
    if out is not None and map is not False:
        from .outputs.products import check_tiles

        check_tiles(tiles, tiles_attribution)
    iso_bands = iso_mod.check_run_options(isochrone_bands_min, walk_in_m, prof.horizon_min)
    if polygon is not None and place is not None:
        from ._errors import ConfigError

        raise ConfigError("give polygon with osm (to clip) or alone (to download), not with place")
    area = read_area(polygon) if polygon is not None else None
    osm_path = Path(osm) if osm is not None else (None if place or polygon else default_osm())
    inputs = [p for p in (osm, facilities, blocks, population, dem, polygon) if p is not None]
    staged = StagedOutput(out, overwrite=overwrite, inputs=inputs) if out is not None else None
    timer = _Timer(progress)

    with timer.step("network", "Loading the street network"):
        net, data = load_network(osm, place=place, polygon=area)
        if dem is not None:
            net = apply_dem(net, dem)

    with timer.step("facilities", "Finding facilities"):
        if data is None and facilities is None:
            raise InputError(
                f"{osm}: a GraphML network carries no facilities; pass --facilities FILE"
            )
        if data is not None:
            fac = facilities_from_osm(data, prof)
        else:
            fac = gpd.GeoDataFrame(
                {c: [] for c in FACILITY_COLUMNS},
                geometry=[],
                crs=4326,
            )
        type_report = None
        if facilities is not None:
            # validated against every category of the profile, then narrowed to the selection
            user = _read_facilities(
                facilities, full_profile, crs=facilities_crs, **(facility_columns or {}),
                extra_cols={"staff": staff_col or "staff",
                            "volunteer_site": flag_col or "volunteer_site"},
            )
            type_report = user.attrs.get("type_map")
            user = user[user["category"].isin(list(prof.categories))]
            check_not_swapped(user, _network_bounds_lonlat(net), where=str(facilities))
            fac = merge_facilities(fac, user)
        fac = facility_values(fac)  # staff counts and volunteer-site flags as numbers
        fac = fac.to_crs(net.crs).reset_index(drop=True)
        fx, fy = _project_points(fac, net)
        fsnap = snap_points(net, fx, fy, max_snap_m=snap_limit)
        fac = _with_snap(fac, fsnap, net)

    with timer.step("blocks", "Preparing residential blocks"):
        buildings = (
            blocks_mod.buildings_from_osm(data, net.crs)
            if data is not None
            else gpd.GeoDataFrame(
                {"levels": [], "residential": [], "non_residential": []}, geometry=[], crs=net.crs
            )
        )
        block_stats: dict[str, Any] = {}
        if blocks is not None:
            raw, block_stats = read_polygons(blocks, crs=blocks_crs)
            blk = blocks_mod.prepare_user_blocks(raw, net.crs, where=str(blocks))
        elif data is not None:
            streets = net.edges_gdf()
            streets = streets[[c for c in ("highway", "geometry") if c in streets.columns]]
            blk = blocks_mod.blocks_from_osm(data, streets, buildings, prof.population)
            block_stats["dropped_slivers"] = blk.attrs.get("dropped_slivers", 0)
            block_stats["derivation"] = blk.attrs.get("derivation", {})
        else:
            raise InputError(
                f"{osm}: a GraphML network carries no land use or buildings to derive "
                "residential blocks from; pass --blocks FILE"
            )
        if area is not None and osm is not None:
            blk = blocks_in_area(blk, area, where=str(polygon))
        if blk.empty:
            raise InputError(
                "no residential blocks found; pass --blocks FILE with residential polygons"
            )
        if population is not None:
            pop_raster = population_from_raster(blk, population)
            blk["population"] = pop_raster.to_numpy()
            blk["pop_method"] = "raster"
            block_stats["population_raster"] = pop_raster.attrs["raster_stats"]
        elif "population" in blk.columns:
            blk["pop_method"] = "column"
        else:
            pop, method = blocks_mod.estimate_population(blk, buildings, prof.population)
            blk["population"] = pop
            blk["pop_method"] = method
        if population_total is not None:
            blk["population"] = scale_to_total(blk["population"].to_numpy(), population_total)
            block_stats["population_total"] = population_total
        block_stats["pop_method_share"] = method_shares(blk["population"], blk["pop_method"])
        blk, residents_info = served_population(blk, prof, columns=resident_cols)
        blk["households"], blk["households_method"] = households(
            blk, household_size=prof.population.household_size
        )
        blk["area_m2"] = blk.area
        aps = blocks_mod.access_points(blk, blocks_mod.gates_from_osm(data, net.crs))
        gate_aps = aps[aps["ap_kind"] == "gate"]
        block_stats["gate_access_points"] = len(gate_aps)
        block_stats["gated_blocks"] = int(gate_aps["block_id"].nunique())
        ax, ay = _project_points(aps, net)
        # the guard against faraway streets starts at the block's edge: walking from a large
        # block's interior to its own boundary is part of the trip, not a snapping error
        inside_m = blocks_mod.distance_to_boundary(aps, blk)
        asnap = snap_points(net, ax, ay, max_snap_m=snap_limit + inside_m)
        aps = _with_snap(aps, asnap, net)

    with timer.step("access", f"Walking times for {len(prof.categories)} categories"):
        access = compute_access(net, fac, asnap, prof)
        free = unrestricted_distances(net, fac, asnap, access, prof)  # step-free comparison
        ap_cols = access_columns(access)
        ap_cols.index = aps.index
        aps = gpd.GeoDataFrame(pd.concat([aps, ap_cols], axis=1), geometry="geometry", crs=aps.crs)

    isochrones, map, rasters, skipped = _city_scale_defaults(
        net, isochrones=isochrones, map=map, rasters=rasters)

    with timer.step("isochrones", "Isochrone bands"):
        iso = iso_mod.run_isochrones(
            net, fac, {c: a.nodes for c, a in access.items()},
            {c: a.speed_kmh for c, a in access.items()}, bands_min=iso_bands,
            walk_in_m=walk_in_m, per_facility=facility_isochrones, enabled=isochrones)

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
            ap_block=aps["block_id"].to_numpy(),
        )
        step_free = step_free_report(net, blk, aps["block_id"].to_numpy(), access, free, prof)

    metadata = _metadata(
        prof,
        net,
        osm_path,
        place,
        facilities,
        facilities_crs,
        blocks,
        population,
        dem,
        snap_limit,
        lang,
        timer.timings,
        block_stats,
        fac,
        asnap,
    )
    metadata["category_status"] = status
    if polygon is not None:
        metadata["inputs"]["polygon"] = {"path": str(polygon), "sha256": file_sha256(polygon)}
    # hashed once every input has been read (a missing file gets the reader's clear error)
    fingerprint = run_fingerprint(prof, {**options, "osm": osm_path, "max_snap_m": snap_limit})
    metadata["fingerprint"] = fingerprint
    report = {
        "run": {
            k: metadata[k]
            for k in (
                "lifecircle_version",
                "profile",
                "profile_version",
                "walk_speed_kmh",
                "threshold_min",
                "horizon_min",
                "max_snap_m",
                "crs",
                "inputs",
                "network",
                "blocks",
            )
        },
        "summary": summary,
        "indicators": indicators,
        "facilities": {**facility_summary(primary_rows(fac), type_report),
                       "access_points": access_point_summary(fac)},
        "deficiencies": deficiency_list(blk, prof),
        "step_free": step_free,
    }
    result = Result(
        network=net,
        profile=prof,
        blocks=blk,
        access_points=aps,
        facilities=fac,
        access=access,
        report=report,
        metadata=metadata,
        osm=data,
        isochrones=iso,
    )
    result.metadata["isochrones"] = iso.attrs.get("settings", {})
    if skipped:
        result.metadata["skipped_products"] = skipped
    if staged is not None:
        with timer.step("outputs", "Writing outputs"), staged:
            write_outputs(
                result, staged, lang=lang, extras=extras,
                products={"map": map, "cdn": cdn, "tiles": tiles,
                          "tiles_attribution": tiles_attribution, "figures": figures,
                          "rasters": rasters, "raster_cell_m": raster_cell_m},
            )
            result.metadata["timings_s"] = dict(timer.timings)
            result.out = staged.commit(
                {"lifecircle_version": __version__, "fingerprint": fingerprint}
            )
    return result


#: Above this many network nodes the isochrones, the map and the rasters are skipped unless
#: asked for: their cost grows with the area (a 5 m isochrone grid over a whole city; a web page
#: holding every block and street), not with what a planner reads, and at a million nodes they
#: would outgrow this kind of machine. The GeoPackage, reports and figures are always written.
LARGE_NETWORK_NODES = 250_000


def _city_scale_defaults(
    net: WalkNetwork, *, isochrones: bool | None, map: bool | None, rasters: bool | None
) -> tuple[bool, bool, bool, dict[str, str]]:
    """Resolve the products left at ``None`` (auto): on, except on city-scale networks."""
    large = net.n_nodes > LARGE_NETWORK_NODES
    skipped: dict[str, str] = {}
    chosen = {"isochrones": isochrones, "map": map, "rasters": rasters}
    for name, value in chosen.items():
        if value is None:
            chosen[name] = not large
            if large:
                skipped[name] = (
                    f"skipped: the network has {net.n_nodes:,} nodes (more than "
                    f"{LARGE_NETWORK_NODES:,}); pass {name}=True (--{name}) to make it anyway, "
                    "or run smaller areas with lifecircle batch"
                )
                log.warning("%s %s", name, skipped[name])
    return (bool(chosen["isochrones"]), bool(chosen["map"]), bool(chosen["rasters"]), skipped)


def _metadata(
    prof: Profile,
    net: WalkNetwork,
    osm_path: Path | None,
    place: str | None,
    facilities: Any,
    facilities_crs: str | None,
    blocks: Any,
    population: Any,
    dem: Any,
    snap_limit: float,
    lang: str,
    timings: dict[str, float],
    block_stats: dict[str, Any],
    fac: gpd.GeoDataFrame,
    asnap: Snap,
) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key, p in (
        ("osm", osm_path),
        ("facilities", facilities),
        ("blocks", blocks),
        ("population", population),
        ("dem", dem),
    ):
        if p is not None:
            inputs[key] = {"path": str(p), "sha256": file_sha256(p)}
    if place is not None:
        from importlib.metadata import version

        inputs["place"] = {
            "name": place,
            "source": "OpenStreetMap through osmnx (Overpass)",
            "osmnx": version("osmnx"),
            "downloaded_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    if facilities_crs:
        inputs["facilities_crs"] = facilities_crs
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
        "max_snap_m": snap_limit,
        "slope": net.stats.get("slope", False),
        "crs": net.crs.to_string(),
        "lang": lang,
        "inputs": inputs,
        "network": {
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "length_km": round(float(net.edge_length_m.sum()) / 1000, 3),
            **{k: v for k, v in net.stats.items() if k not in ("highway_seen", "slope")},
        },
        "facilities": {
            "total": len(fac),
            "unreachable": int((fac["snap_status"] != "snapped").sum()),
        },
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
    extras: list[Callable[[Result, StagedOutput], None]] | None = None,
    products: dict[str, Any] | None = None,
) -> None:
    """Write the GeoPackage, reports, map, figures and rasters into a staging folder.

    ``products`` holds the keyword options of
    :func:`lifecircle.outputs.products.write_products` (all written by default).
    """
    from .outputs.geopackage import GPKG_NAME, write_geopackage
    from .outputs.report import write_reports

    blk = result.blocks
    write_geopackage(
        staged.path(GPKG_NAME),
        {
            "blocks": blk,
            "access_points": result.access_points,
            "facilities": result.facilities,
            "edges": result.edges,
            "proposed_sites": result.proposed_sites,
            "isochrones": result.isochrones,
        },
        result.metadata,
    )
    worst = (
        blk.sort_values(["n_lacking", "population"], ascending=False)
        .head(10)[["block_id", "population", "lacks", col.DEFICIENCIES]]
        .to_dict("records")
    )
    for extra in extras or []:
        extra(result, staged)
    from .outputs.products import write_products

    write_products(result, staged.staging, lang=lang, **(products or {}))
    from .outputs.served import served_sections
    from .outputs.table import write_tables

    write_reports(staged.staging, result.report, lang=lang, worst=[w for w in worst if w["lacks"]],
                  profile=result.profile, extra_sections=served_sections(result.report, lang))
    write_tables(result, staged.staging, lang=lang)


def category_columns(categories: list[str]) -> list[str]:
    """Every per-category column name, in output order."""
    names: list[str] = []
    for c in categories:
        names += [col.walk_min(c), col.walk_m(c), col.covered(c), col.short_min(c), col.nearest(c)]
    return names
