"""What an analysis computed (:class:`Result`) and the methods that write it.

:func:`lifecircle.pipeline.analyse` makes a :class:`Result` once; its methods write the
GeoPackage, the map, the figures, the rasters or the whole output folder
(:meth:`Result.save`) from what it holds, without searching the network again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from . import columns as col
from ._version import __version__
from .access import CategoryAccess
from .config import Analysis, Outputs
from .network import WalkNetwork
from .outputs._atomic import StagedOutput
from .profiles import Profile
from .sources.osm import OSMData

if TYPE_CHECKING:
    from .outputs._background import Job
    from .outputs._figure_worker import FigureWorker
    from .outputs.webmap import MapPage

__all__ = ["ISOCHRONES_IN_MEMORY_MAX_EDGES", "OUTPUT_PARTS", "Result"]

log = logging.getLogger(__name__)

#: Networks of up to this many edges keep their isochrone layer in memory
#: (:attr:`Result.isochrones`, drawn on the map); larger ones write it to the GeoPackage one
#: category at a time (:func:`lifecircle.isochrones.iter_isochrones`), so that the memory
#: holds one category's polygons, and leave :attr:`Result.isochrones` ``None`` (read the layer
#: back with :func:`lifecircle.outputs.isochrone_file.read_isochrones`). 50,000 edges is where
#: the map stops drawing streets as lines (``webmap.surface.STREET_IMAGE_ABOVE_EDGES``): above
#: it a city's outlines (millions of vertices) do not belong in one HTML file either.
ISOCHRONES_IN_MEMORY_MAX_EDGES = 50_000


def streams_isochrones(net: WalkNetwork, outputs: Outputs) -> bool:
    """Whether a save with ``outputs`` streams the isochrone layer into the GeoPackage (a
    network of more than :data:`ISOCHRONES_IN_MEMORY_MAX_EDGES` edges, isochrones not off)."""
    return net.n_edges > ISOCHRONES_IN_MEMORY_MAX_EDGES and outputs.isochrones is not False

#: The parts of a saved run's ``outputs`` time, each recorded in ``run_metadata``'s
#: ``timings_s`` as ``outputs_<part>`` (wall seconds in the run's process; only the parts the
#: run wrote there): the GeoPackage's layers, the isochrone layer (computed and written), the
#: further writers, the map, figures, rasters, reports and tables, and the wait for the worker
#: processes (:mod:`lifecircle.outputs._background`), whose own wall seconds are
#: ``outputs_worker_<what it wrote>``. A city's run whose early worker (:mod:`lifecircle._early`)
#: wrote the isochrones and rasters has ``outputs_early_wait`` (for the GeoPackage, held by the
#: worker) and the worker's ``outputs_worker_early`` (wall seconds from its start, ``_cpu``: its
#: CPU seconds) and ``outputs_worker_early_<facilities|search|isochrones|rasters>`` (its
#: parts; ``facilities``: from its start to the facilities found and snapped; ``search``: then
#: dropping the inherited OSM tables and searching each category).
OUTPUT_PARTS = ("gpkg_layers", "isochrones", "extras", "map", "figures", "rasters", "reports",
                "tables", "workers_wait", "early_wait")

#: the early worker's milestones (:func:`lifecircle.outputs._background.milestone`): the
#: facilities with their snaps written for the run; its searches done; the GeoPackage free
#: for the run's layers
EARLY_FACILITIES, EARLY_SEARCHED, EARLY_GPKG_FREE = "facilities", "searched", "gpkg"

#: a writer of further files into a run's staging folder (``extras`` of :meth:`Result.save`)
Extra = Callable[["Result", StagedOutput], None]


class _OsmSlot:
    """:attr:`Result.osm`: held, or (once :meth:`Result.release_osm` dropped it) read again
    from the analysed local file when asked for.

    A run that saves its folder needs the OSM features only to make the blocks and
    facilities; at city scale they hold hundreds of megabytes through the outputs. Releasing
    them keeps ``result.osm`` working for a caller that keeps the result (siting on OSM
    candidates), at the cost of a second read.
    """

    def __get__(self, obj: Any, objtype: Any = None) -> OSMData | None:
        if obj is None:  # the dataclass's default
            return None
        data = obj.__dict__.get("_osm")
        if data is None and obj.__dict__.get("_osm_released"):
            from .sources.osm import read_osm

            _check_unchanged(obj.config.osm, obj.metadata)
            log.info("reading %s again (the run released its OSM features)", obj.config.osm)
            data = obj.__dict__["_osm"] = read_osm(obj.config.osm)
        return data

    def __set__(self, obj: Any, value: OSMData | _OsmSlot | None) -> None:
        obj.__dict__["_osm"] = None if isinstance(value, _OsmSlot) else value
        obj.__dict__["_osm_released"] = False


def _check_unchanged(path: Any, metadata: dict[str, Any]) -> None:
    """Raise :class:`~lifecircle._errors.InputFileError` when the OSM file read again is not
    the one analysed (its sha256 differs from the one ``run_metadata`` recorded): features
    from another extract would not match the blocks and facilities of this result."""
    from ._errors import InputFileError
    from .outputs._atomic import file_sha256

    recorded = ((metadata.get("inputs") or {}).get("osm") or {}).get("sha256")
    if recorded is not None and Path(path).is_file() and file_sha256(path) != recorded:
        raise InputFileError(
            Path(path), "has changed since the analysis read it",
            "run the analysis again on the file as it is now, or restore the analysed file")


@dataclass
class Result:
    """Everything an analysis computed. Times are minutes; unreachable is NaN."""

    network: WalkNetwork
    profile: Profile
    blocks: gpd.GeoDataFrame
    access_points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    access: dict[str, CategoryAccess]
    report: dict[str, Any]
    metadata: dict[str, Any]
    #: the configuration analysed
    config: Analysis | None = None
    out: Path | None = None
    #: the features read from the OSM file (``None`` for a network without them); after
    #: :meth:`release_osm` read again from the file on the next access
    osm: OSMData | None = field(default=_OsmSlot(), repr=False,  # type: ignore[assignment]
                                compare=False)
    #: new sites proposed by :func:`lifecircle.siting.site` (``rank``, ``gain_population``);
    #: siting sits above this module (it takes a Result), so it is a function, not a method
    proposed_sites: gpd.GeoDataFrame | None = None
    #: the isochrone layer written with the run (see :meth:`compute_isochrones`); may be empty;
    #: ``None`` after a save that streamed it (:data:`ISOCHRONES_IN_MEMORY_MAX_EDGES`)
    isochrones: gpd.GeoDataFrame | None = None
    #: the isochrone options a save streams into the GeoPackage (set by :meth:`prepare`)
    _isochrone_stream: dict[str, Any] | None = field(default=None, init=False, repr=False,
                                                     compare=False)

    @cached_property
    def edges(self) -> gpd.GeoDataFrame:
        """The network's edge table; built once (the GeoPackage, map and figures all read it,
        and at a million nodes it costs seconds). Do not modify it in place."""
        return self.network.edges_gdf()

    def release_osm(self) -> None:
        """Drop the OSM features (:attr:`osm`) until they are asked for again; only where they
        can be read again: from the local OSM file the configuration names."""
        cfg = self.config
        if (self.__dict__.get("_osm") is None or cfg is None or cfg.osm is None
                or cfg.place is not None):
            return
        self.__dict__["_osm"] = None
        self.__dict__["_osm_released"] = True

    @property
    def summary(self) -> pd.DataFrame:
        """Coverage per category as a table."""
        keys = ("facilities", "threshold_min", "speed_kmh", "blocks_covered",
                "share_blocks_covered", "population_covered", "share_population_covered",
                "median_walk_min")
        rows = [{"category": c, **{k: v[k] for k in keys}}
                for c, v in self.report["summary"]["categories"].items()]
        return pd.DataFrame(rows).set_index("category")

    # -----------------------------------------------------------------------------------------
    # products, one at a time

    def compute_isochrones(
        self,
        *,
        bands_min: Sequence[float] | None = None,
        walk_in_m: float | None = None,
        per_facility: bool = False,
        facility_ids: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        enabled: bool = True,
    ) -> gpd.GeoDataFrame:
        """Isochrone bands of every category's union (and facilities' own bands on request).

        Reuses the analysis's node distances and group masks (no new search or network for
        the categories); see
        :func:`lifecircle.isochrones.run_isochrones` (``enabled=False``: the empty table).
        Does not change :attr:`isochrones`.
        """
        from . import isochrones as iso

        return iso.run_isochrones(**self._isochrone_args(
            bands_min=bands_min, walk_in_m=walk_in_m, per_facility=per_facility,
            facility_ids=facility_ids, categories=categories, enabled=enabled))

    def _isochrone_args(self, *, bands_min: Sequence[float] | None,
                        walk_in_m: float | None, **options: Any) -> dict[str, Any]:
        """The arguments of :func:`lifecircle.isochrones.run_isochrones` (or
        ``iter_isochrones``) for this analysis."""
        from . import isochrones as iso
        from .edge_access import network_for_group

        outputs = Outputs()
        bands = iso.check_run_options(
            outputs.isochrone_bands_min if bands_min is None else bands_min,
            outputs.walk_in_m if walk_in_m is None else walk_in_m, self.profile.horizon_min)
        return dict(
            net=self.network, facilities=self.facilities,
            nodes={c: a.nodes for c, a in self.access.items()},
            speeds_kmh={c: a.speed_kmh for c, a in self.access.items()}, bands_min=bands,
            walk_in_m=outputs.walk_in_m if walk_in_m is None else walk_in_m,
            # a step-free category is drawn on its group's mask, as timed
            networks={c: network_for_group(self.network, self.profile.group_of(c))
                      for c in self.access}, **options)

    def to_gpkg(self, path: str | os.PathLike[str], *, layer_format: str = "gpkg",
                append: bool = False) -> Path:
        """Write the GeoPackage (blocks, access points, facilities, edges, isochrones,
        proposed sites and ``run_metadata``) to ``path``, replacing it (``layer_format=
        "parquet"``: the big layers as GeoParquet files beside it; a streamed isochrone layer,
        see :data:`ISOCHRONES_IN_MEMORY_MAX_EDGES`, stays in the GeoPackage). ``append``: add
        the layers to the GeoPackage at ``path``, whose streamed isochrone layer another
        process wrote (:mod:`lifecircle._early`)."""
        from .outputs import isochrone_file
        from .outputs.geopackage import write_geopackage

        layers = {"blocks": self.blocks, "access_points": self.access_points,
                  "facilities": self.facilities, "edges": self.edges,
                  "proposed_sites": self.proposed_sites, "isochrones": self.isochrones}
        settings = self.metadata.get("isochrones") or {}
        with self._timed("gpkg_layers"):
            write_geopackage(Path(path), layers, self.metadata, layer_format=layer_format,
                             append=append)
        del layers  # (held the edge table)
        if self.isochrones is None and self._isochrone_stream is not None:
            if not append:
                # the edge geometries wait idle through the isochrones (which walk the edge
                # coordinates): rebuilt from those (~1 s a million edges) when next read
                self.__dict__.pop("edges", None)
                self.network.__dict__.pop("geometries", None)
                with self._timed("isochrones"):
                    self.stream_isochrones(Path(path))
            return Path(path)
        if self.isochrones is not None and settings.get("enabled"):
            isochrone_file.describe_layer(Path(path), isochrone_file.layer_description(settings))
        return Path(path)

    def stream_isochrones(self, path: str | os.PathLike[str]) -> int:
        """Compute the isochrone layer :meth:`prepare` chose to stream and write it into the
        GeoPackage at ``path`` (made if missing), one band at a time; returns the rows."""
        from . import isochrones as iso
        from .outputs import isochrone_file

        assert self._isochrone_stream is not None, "prepare() streams no isochrones"
        # one band at a time, computed, appended to the layer and dropped: a city's whole
        # layer never sits in memory. No second thread computing the next band while one is
        # written: at city scale this runs in the early worker (lifecircle._early), on the
        # core the run's blocks step leaves, and both cores are busy already
        return isochrone_file.append_isochrones(
            Path(path), iso.iter_isochrones(**self._isochrone_args(**self._isochrone_stream)),
            empty=iso.empty_isochrones(self.network.crs),
            description=isochrone_file.layer_description(self.metadata.get("isochrones") or {}))

    def map(self, path: str | os.PathLike[str] | None = None, *, lang: str = "en",
            category: str | None = None, tiles: str | None = "osm",
            tiles_attribution: str | None = None, cdn: bool = False) -> MapPage | Path:
        """The interactive map: a page that shows in Jupyter, or written to
        ``path`` (a ``.html`` file, or a folder that receives ``map.html``)."""
        from .outputs.products import MAP_NAME, run_map, write_products

        if path is None:
            return run_map(self, lang=lang, category=category, tiles=tiles,
                           tiles_attribution=tiles_attribution, cdn=cdn)
        target = Path(path)
        folder = target.parent if target.suffix.lower() in (".html", ".htm") else target
        folder.mkdir(parents=True, exist_ok=True)
        written = write_products(self, folder, lang=lang, map=True, figures=False,
                                 rasters=False, tiles=tiles, tiles_attribution=tiles_attribution,
                                 cdn=cdn)[0]
        if folder != target and target.name != MAP_NAME:
            written = written.replace(target)
        return written

    def figures(self, folder: str | os.PathLike[str], *, lang: str = "en") -> list[Path]:
        """Write ``folder/figures/*.png`` (coverage per category, deficiency, shares)."""
        from .outputs.plots import write_figures

        return write_figures(self, folder, lang=lang)

    def rasters(self, folder: str | os.PathLike[str], *,
                cell_m: float | None = None) -> list[Path]:
        """Write ``folder/rasters/walk_min_<category>.tif`` travel-time surfaces (``cell_m``
        by default: :func:`lifecircle.outputs.raster.auto_cell_m`)."""
        from .outputs.raster import write_rasters

        return write_rasters(self, folder, cell_m=cell_m)

    # -----------------------------------------------------------------------------------------
    # the whole output folder

    def save(self, folder: str | os.PathLike[str], outputs: Outputs | None = None, *,
             overwrite: bool = False, extras: Sequence[Extra] = ()) -> Path:
        """Write the output folder atomically: GeoPackage, reports, map, figures, rasters and
        ``_SUCCESS.json`` with the run's fingerprint (see the design notes' contract).

        Parameters
        ----------
        folder
            The output folder; it appears complete or not at all.
        outputs
            What to write besides the GeoPackage and reports (default :class:`Outputs`).
        overwrite
            Replace an existing output folder.
        extras
            Further writers called with the result and the staging folder.
        """
        inputs = list(self.config.input_files().values()) if self.config is not None else []
        staged = StagedOutput(Path(folder), overwrite=overwrite, inputs=inputs)
        return self.save_into(staged, outputs or Outputs(), extras=extras)

    def save_into(self, staged: StagedOutput, outputs: Outputs, *,
                  extras: Sequence[Extra] = (), early: Job | None = None,
                  entered: bool = False, figures: FigureWorker | None = None) -> Path:
        """:meth:`save` into a :class:`StagedOutput` made (and so checked) beforehand.

        ``run_metadata``'s ``timings_s`` then holds ``outputs`` (all of it but the hashing
        and the rename) and its parts, ``outputs_<part>`` (:data:`OUTPUT_PARTS`), rewritten
        into the GeoPackage once they are known. ``early``: the early output worker writing
        the isochrones and rasters (:mod:`lifecircle._early`); ``entered``: the caller has
        entered ``staged`` already (and leaves it); ``figures``: the figures' worker forked as
        the run started (:mod:`lifecircle.outputs._figure_worker`)."""
        from .fingerprint import run_fingerprint
        from .outputs.geopackage import GPKG_NAME, update_metadata

        t0 = time.perf_counter()
        timings = self.metadata.setdefault("timings_s", {})
        for key in [k for k in timings if k.startswith("outputs")]:  # an earlier save's
            del timings[key]
        fingerprint = (run_fingerprint(self.config, outputs) if self.config is not None
                       else None)
        self.metadata["fingerprint"] = fingerprint
        with nullcontext() if entered else staged:
            self.write_into(staged, outputs, extras=extras, early=early, figures=figures)
            timings = self.metadata.setdefault("timings_s", {})
            timings["outputs"] = round(time.perf_counter() - t0, 4)
            gpkg = staged.staging / GPKG_NAME
            if gpkg.is_file():
                update_metadata(gpkg, {"timings_s": timings})
            self.out = staged.commit(
                {"lifecircle_version": __version__, "fingerprint": fingerprint})
        return self.out

    @contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        """Add the block's wall seconds to ``timings_s["outputs_<part>"]`` of the metadata."""
        t0 = time.perf_counter()
        yield
        timings = self.metadata.setdefault("timings_s", {})
        key = f"outputs_{part}"
        timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - t0, 4)

    def prepare(self, outputs: Outputs) -> Outputs:
        """Resolve the automatic products for this network, record ``outputs`` in the
        metadata and compute the isochrone layer they ask for; returns the resolved choice."""
        # every product is on unless switched off (None: auto, on at every size)
        chosen = outputs.replace(**{name: True for name in ("isochrones", "map", "rasters")
                                    if getattr(outputs, name) is None})
        self.metadata["outputs"] = outputs.to_dict()
        self.metadata["lang"] = outputs.lang
        if chosen.rasters:  # the cell size the rasters are made at, chosen or automatic
            from .outputs.raster_grid import auto_cell_m

            cell = chosen.raster_cell_m
            if cell is None:
                cell = auto_cell_m(self.network, margin_m=float(self.metadata["max_snap_m"]))
                log.info("rasters: %g m cells (automatic)", cell)
            self.metadata["raster_cell_m"] = cell
            chosen = chosen.replace(raster_cell_m=cell)
        if self.isochrones is None and self._isochrone_stream is None:
            from . import isochrones as iso

            options: dict[str, Any] = dict(
                bands_min=outputs.isochrone_bands_min, walk_in_m=outputs.walk_in_m,
                per_facility=outputs.facility_isochrones, enabled=bool(chosen.isochrones),
                cell_m=outputs.isochrone_cell_m)
            args = self._isochrone_args(**options)
            self.metadata["isochrones"] = iso.isochrone_settings(
                self.network, per_facility=args["per_facility"], enabled=args["enabled"],
                bands_min=args["bands_min"], walk_in_m=args["walk_in_m"],
                cell_m=args["cell_m"])
            if streams_isochrones(self.network, chosen):
                self._isochrone_stream = options  # written by to_gpkg, one category at a time
                log.info("isochrones: %g m cells, streamed into the GeoPackage",
                         self.metadata["isochrones"]["cell_m"])
            else:
                with self._timed("isochrones"):
                    self.isochrones = iso.run_isochrones(**args)
        return chosen

    def write_into(self, staged: StagedOutput, outputs: Outputs, *,
                   extras: Sequence[Extra] = (), early: Job | None = None,
                   figures: FigureWorker | None = None) -> None:
        """Write every file of the contract into a staging folder (no ``_SUCCESS.json``).

        On a small network the figures, the tables and the rasters are written by forked
        worker processes meanwhile (:mod:`lifecircle.outputs._background`); ``early``: the
        early output worker writing the isochrones and rasters (:mod:`lifecircle._early`);
        ``figures``: the figures' worker forked as the run started, handed the figures' data
        here, first (:mod:`lifecircle.outputs._figure_worker`)."""
        jobs: list[Any] = [early] if early is not None else []
        try:
            if figures is not None and not figures.hand_over(self, staged.staging, outputs):
                figures = None  # stopped: the figures are drawn as on any run (_write_all)
            if figures is not None:
                jobs.append(figures.job)
            self._write_all(staged, outputs, extras=extras, jobs=jobs, early=early)
            while jobs:
                with self._timed("workers_wait"):
                    jobs[0].wait()
                job = jobs.pop(0)
                timings = self.metadata["timings_s"]
                if job is early:
                    timings.update(_early_timings(early))
                    continue
                if figures is not None and job is figures.job:  # from the hand-over on
                    if "figures" in job.taken:
                        timings["outputs_worker_figures"] = round(job.taken["figures"], 4)
                    continue
                if job.seconds is not None:  # the worker's own wall seconds
                    timings["outputs_worker_" + "+".join(job.parts)] = \
                        round(job.seconds[0] - sum(job.taken.values()), 4)
                for what, seconds in job.taken.items():  # shared outputs it wrote
                    timings[f"outputs_worker_{what}"] = round(seconds, 4)
        except BaseException:
            for job in jobs:
                job.cancel()
            raise

    def _write_map(self, folder: Path, chosen: Outputs) -> None:
        from .outputs.products import write_products

        write_products(self, folder, lang=chosen.lang, map=True, cdn=chosen.cdn,
                       tiles=chosen.tiles, tiles_attribution=chosen.tiles_attribution,
                       figures=False, rasters=False)

    def _write_all(self, staged: StagedOutput, outputs: Outputs, *, extras: Sequence[Extra],
                   jobs: list[Any], early: Job | None = None) -> None:
        from .outputs import _background
        from .outputs.geopackage import GPKG_NAME
        from .outputs.products import write_products
        from .outputs.table import write_tables

        folder, nodes = staged.staging, self.network.n_nodes
        _ = self.edges  # built once, before any fork: the workers and the GeoPackage read it
        del _  # (a local here would hold it through the isochrones, which to_gpkg frees it for)
        aside: dict[str, Callable[[], Any]] = {}  # what the workers write
        handed = "figures" in {what for job in jobs for what in job.parts}  # (write_into)
        if outputs.figures and not handed:
            aside["figures"] = lambda: write_products(self, folder, lang=outputs.lang,
                                                      map=False, figures=True, rasters=False)
        aside["tables"] = lambda: write_tables(self, folder, lang=outputs.lang)
        together = nodes > _background.BACKGROUND_MAX_NODES  # one worker, one at a time
        if not together:
            jobs += [job for what, write in aside.items()
                     if (job := _background.start(what, write, nodes=nodes))]
        chosen = self.prepare(outputs)
        if chosen.rasters and early is None:  # (the early worker's otherwise)
            aside["rasters"] = lambda: write_products(self, folder, map=False, figures=False,
                                                      rasters=True,
                                                      raster_cell_m=chosen.raster_cell_m)
            if not together and (job := _background.start("rasters", aside["rasters"],
                                                          nodes=nodes)):
                jobs.append(job)
        # the map: written by the worker once its own are done, unless this process comes to
        # it first (a city's: the worker, while this process computes the isochrones). With
        # the early worker (which has the isochrones and rasters) the map comes first in the
        # worker instead: the longest output, begun at once beside the run's layers, so that
        # the shorter figures and tables end the stage, whoever comes to them first
        own: dict[str, Callable[[], Any]] = aside
        shared: _background.Shared | None = None
        if together and chosen.map:
            map_write = {"map": lambda: self._write_map(folder, chosen)}
            if early is not None:
                own, shared = map_write, _background.Shared(aside)
            else:
                shared = _background.Shared(map_write)
        if together and (job := _background.start_together(own, shared)):
            jobs.append(job)
        else:
            shared = None
        in_worker = {what for job in jobs for what in job.parts}

        def mine(what: str) -> bool:
            """Whether this process writes ``what`` (not a worker)."""
            if shared is not None and what in shared.writes:
                return shared.take(what)
            return what not in in_worker

        if early is not None:
            # the early worker holds the GeoPackage (its isochrone layer) until it is free:
            # the reports meanwhile, then the layers appended
            self._write_reports(staged, chosen)
            with self._timed("early_wait"):
                early.wait_for(EARLY_GPKG_FREE)
        self.to_gpkg(staged.path(GPKG_NAME), layer_format=chosen.layer_format,
                     append=early is not None)
        with self._timed("extras"):
            for extra in extras:
                extra(self, staged)
        # each product on its own, so that the run's timings name what each took
        if chosen.map and mine("map"):
            with self._timed("map"):
                self._write_map(folder, chosen)
        if chosen.rasters and early is None and mine("rasters"):
            with self._timed("rasters"):
                write_products(self, folder, map=False, figures=False, rasters=True,
                               raster_cell_m=chosen.raster_cell_m)
        if early is None:
            self._write_reports(staged, chosen)
        # the tables before the figures: a worker sharing them takes the figures first
        if mine("tables"):
            with self._timed("tables"):
                write_tables(self, staged.staging, lang=chosen.lang)
        if chosen.figures and mine("figures"):
            with self._timed("figures"):
                write_products(self, folder, lang=chosen.lang, map=False, figures=True,
                               rasters=False)

    def _write_reports(self, staged: StagedOutput, chosen: Outputs) -> None:
        from .coverage import deficiency_order
        from .outputs.report import write_reports
        from .outputs.served import served_sections

        with self._timed("reports"):
            blk = self.blocks  # the ten lacking most, without sorting a copy of the layer
            worst = (blk.iloc[deficiency_order(blk)[:10]]
                     [["block_id", "population", "lacks", col.DEFICIENCIES]].to_dict("records"))
            write_reports(staged.staging, self.report, lang=chosen.lang,
                          worst=[w for w in worst if w["lacks"]], profile=self.profile,
                          extra_sections=served_sections(self.report, chosen.lang))


def _early_timings(job: Job) -> dict[str, float]:
    """The early worker's timings (see :data:`OUTPUT_PARTS`): its wall and CPU seconds and
    its parts, from its milestones."""
    if job.seconds is None:
        return {}
    wall, cpu = job.seconds
    found = job.milestones.get(EARLY_FACILITIES, 0.0)
    searched = job.milestones.get(EARLY_SEARCHED, found)
    free = job.milestones.get(EARLY_GPKG_FREE, searched)
    return {"outputs_worker_early": round(wall, 4), "outputs_worker_early_cpu": round(cpu, 4),
            "outputs_worker_early_facilities": round(found, 4),
            "outputs_worker_early_search": round(searched - found, 4),
            "outputs_worker_early_isochrones": round(free - searched, 4),
            "outputs_worker_early_rasters": round(wall - free, 4)}
