"""The early output worker of a city-scale saving run.

A city's streamed isochrones (:data:`lifecircle.result.ISOCHRONES_IN_MEMORY_MAX_EDGES`) and
its rasters need the network, the facilities with their snaps and each category's node
distances, not the blocks. Through the network, facilities, blocks, walking times and verdict
stages a run keeps about one core busy (a CPU timeline of a 1M-node run: ~1.1-1.3 cores for
its first 40 s); on the other, a worker forked once the network is loaded
(:func:`lifecircle.pipeline.analyse`'s ``on_network``) finds the facilities and snaps them
itself (the facilities and blocks steps' calls, so the same rows and snaps) while the run
finds its own, searches each category (:func:`lifecircle.access.category_nodes`, the search
of :func:`lifecircle.access.compute_access`), streams the isochrones into the staged
GeoPackage (which it creates with that one layer), tells the run the GeoPackage is free
(milestone ``gpkg``), then writes the rasters. Nothing goes back to the run but its timings:
the run appends its own layers to that GeoPackage at its outputs
(:meth:`lifecircle.result.Result.save_into` with ``early=``).

Where the facilities come from OSM alone, the worker finds them and snaps them for the run
too, on the core the run leaves idle: it writes them, with the warnings finding them gave,
into an unnamed temporary file opened before the fork (milestone ``facilities``), and the
run, which went on to its blocks, reads them where it snaps its access points and says the
warnings there (a worker that failed fails the run there). With a user's facility file the
run reads the file itself (its errors name the file's rows at once) and the worker finds the
same rows beside it, keeping their warnings to itself. The worker duplicates the searches (a
few CPU seconds at a million nodes) rather than waiting for the run's, and hands them back:
the run's walking times take them (:func:`lifecircle.access.adopt_searches`, checked seed by
seed) where the worker has written them all when the run gets there, and search otherwise.
It then drops the OSM tables it inherited (the run still reads them for its blocks): its
resident size at 268k nodes peaked at 766 MiB against the run's 925-965 MiB. Below the
streaming threshold (:data:`EARLY_MIN_EDGES`), or where no worker can be forked
(:func:`lifecircle.outputs._background.start_early`), nothing changes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import fields
from functools import partial
from typing import IO, Any, cast

import geopandas as gpd
import numpy as np

from . import result as result_mod
from ._errors import OutputError
from ._memory import release_freed
from ._version import __version__
from .access import (
    CategoryNodes,
    Searched,
    adopt_searches,
    category_nodes,
    category_snaps,
    search_seeds,
)
from .config import Analysis, Outputs
from .network import WalkNetwork
from .outputs import _background, _shelf
from .outputs._atomic import StagedOutput
from .outputs.geopackage import GPKG_NAME
from .profiles import Profile
from .result import EARLY_FACILITIES, EARLY_GPKG_FREE, EARLY_SEARCHED, Result
from .routing import NodeDistances
from .sources.osm import OSMData, release_tables

__all__ = ["EARLY_MIN_EDGES", "EarlyOutputs"]

log = logging.getLogger(__name__)

#: Networks of more edges than this (and than the streaming threshold, which is the same
#: number) have an early worker: their isochrones are streamed (none on the map), and the
#: worker's fork and duplicated search pay off only where the isochrones take long. A knob
#: of its own: tests stream a small network's isochrones in the run's process by lowering
#: the streaming threshold alone.
EARLY_MIN_EDGES = result_mod.ISOCHRONES_IN_MEMORY_MAX_EDGES
# The worker runs at the run's priority. At niceness 10 (measured at 268k nodes on a machine
# loaded by other jobs) the run's blocks took 27 s instead of 31-60 s but the worker starved:
# its search took 35 s instead of 4-11 s and the run waited 46 s for the GeoPackage; on an
# idle machine a fair share also lets the rasters run beside the run's last outputs.


class EarlyOutputs:
    """Starts the early output worker (:meth:`start`, an ``on_network`` hook) for a run
    saving into ``staged``; :attr:`job` is the worker (``None``: none started).

    ``stack`` holds the run's clean-up: starting the worker enters ``staged`` (the worker
    writes into its staging folder) and registers the worker's cancel after it, so that a
    failing run stops the worker before its staging folder is removed.
    """

    def __init__(self, analysis: Analysis, outputs: Outputs, staged: StagedOutput,
                 stack: ExitStack) -> None:
        self.analysis, self.outputs, self.staged, self.stack = analysis, outputs, staged, stack
        self.job: _background.Job | None = None
        #: whether ``staged`` was entered here (the run's save then does not enter it again)
        self.entered = False

    def wanted(self, net: WalkNetwork) -> bool:
        """Whether this run's isochrones are streamed (a city's), so the worker has them to
        write, and the network has more than :data:`EARLY_MIN_EDGES` edges."""
        return (result_mod.streams_isochrones(net, self.outputs)
                and net.n_edges > EARLY_MIN_EDGES)

    def start(self, net: WalkNetwork, find_facilities: Callable[[], gpd.GeoDataFrame],
              data: OSMData | None) -> Callable[[], gpd.GeoDataFrame] | None:
        """Fork the worker (see the module's notes) where :meth:`wanted`. Returns how the
        run reads the facilities with their snaps where the worker finds them for it (the
        facilities of OSM alone), else ``None`` (the run finds its own)."""
        if not self.wanted(net):
            return None
        # the edge geometries, which both processes snap against, made here once (the run's
        # blocks step holds them from its start) rather than again in the worker (~0.35 s CPU
        # at 268k nodes); the worker reads the run's through the fork. Not their tree: the
        # run builds its own only for its last snap, to keep it out of the blocks' peak
        net.geometries  # noqa: B018 (a cached property, built)
        # likewise the connected components (and the CSR they come from), which both
        # processes' snaps read to pass over small fragments: ~1 s CPU at 1M nodes the worker
        # spent again; the run's own snaps read these
        net.components  # noqa: B018
        self.stack.enter_context(self.staged)
        self.entered = True
        # a user's facility file is read by the run itself, whose errors name its rows
        hand_over = self.analysis.facilities is None and data is not None
        # the worker's facilities come back through an unnamed file opened before the fork:
        # the pipe would hold the worker until the run reads them (tens of seconds in a
        # city), and a file without a name is neither left behind nor open to others
        shelf = self.stack.enter_context(tempfile.TemporaryFile()) if hand_over else None
        # and its searches, which the run's walking times take instead of searching again
        # where they are the same searches (access.adopt_searches: ~2.8 s CPU at 1M nodes)
        searches = self.stack.enter_context(tempfile.TemporaryFile())
        job = _background.start_early(
            "isochrones, rasters",
            lambda: self._work(net, find_facilities, data, shelf, searches))
        if job is None:
            return None
        self.stack.callback(job.cancel)
        self.job = job
        adopt_searches(net, partial(_searched, searches))
        log.info("isochrones and rasters: written by an early worker process")
        return None if shelf is None else partial(_handed_over, job, shelf)

    def _work(self, net: WalkNetwork, find_facilities: Callable[[], gpd.GeoDataFrame],
              data: OSMData | None, shelf: IO[bytes] | None,
              searches: IO[bytes]) -> None:  # pragma: no cover
        """In the worker: the facilities with their snaps (written for the run into
        ``shelf`` where given), the searches, the isochrones, then the rasters."""
        from .isochrones import polygons

        # one thread: the worker keeps to the core the run leaves idle. With two (the tiles'
        # default) the run's blocks step, beside it, got ~0.56 of a core instead of ~1.05
        # at 268k nodes (the same 16 s CPU in 28.6 s wall instead of 15.3 s)
        polygons.TILE_THREADS = 1
        t0 = time.perf_counter()
        # the facilities' warnings are the run's to say: held here and sent with them (the
        # run says them where it reads them), or not said at all where the run finds the
        # same facilities beside the worker
        held = _Held()
        package = logging.getLogger("lifecircle")
        handlers, propagate = package.handlers, package.propagate
        package.handlers, package.propagate = [held], False
        try:
            found = find_facilities()
        finally:
            package.handlers, package.propagate = handlers, propagate
        if shelf is not None:
            try:
                _shelve(shelf, found, held.records)
            except OSError as exc:
                raise OutputError(f"the early worker could not hand its facilities to the "
                                  f"run through a temporary file ({exc.strerror or exc}); "
                                  "free space in the temporary folder (TMPDIR)") from exc
        _background.milestone(EARLY_FACILITIES)
        if data is not None:  # inherited, not read again here: their pages go back
            release_tables(data, tuple(f.name for f in fields(OSMData)
                                       if f.name not in ("path", "stats")))
            release_freed()
        early = _partial_result(self.analysis, net, found)
        try:
            _put_searches(searches, net, found, early.profile, early.access)
        except OSError as exc:  # only a saving: the run then searches itself
            log.debug("early worker: searches not handed over (%s)", exc)
        chosen = early.prepare(self.outputs)
        _background.milestone(EARLY_SEARCHED)
        log.debug("early worker: snapped and searched in %.2f s", time.perf_counter() - t0)
        gpkg = self.staged.path(GPKG_NAME)
        early.stream_isochrones(gpkg)
        _background.milestone(EARLY_GPKG_FREE)
        if chosen.rasters:
            from .outputs.products import write_products

            write_products(early, self.staged.staging, map=False, figures=False,
                           rasters=True, raster_cell_m=chosen.raster_cell_m)


class _Held(logging.Handler):
    """The log records of a step, kept (the early worker's facility warnings)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _shelve(shelf: IO[bytes], found: gpd.GeoDataFrame,
            records: list[tuple[str, int, str]]) -> None:
    """The facilities and their warnings into ``shelf`` (:func:`_shelf.put`: data, never
    code)."""
    _shelf.put(shelf, {"said": records}, {"found": found})


def _handed_over(job: _background.Job, shelf: IO[bytes]) -> gpd.GeoDataFrame:
    """The worker's facilities with their snaps, once it has written them into ``shelf``;
    their warnings said here, in the run (a worker that failed fails the run, as where the
    run waits for its GeoPackage)."""
    job.wait_for(EARLY_FACILITIES)
    header, tables = _shelf.take(shelf)
    shelf.close()
    found = tables["found"]
    for name, level, message in header["said"]:
        logging.getLogger(name).log(level, "%s", message)
    return found


def _put_searches(file: IO[bytes], net: WalkNetwork, facilities: gpd.GeoDataFrame,
                  profile: Profile, nodes: Mapping[str, CategoryNodes]) -> None:
    """Each category's search and its seed arcs into ``file``, for :func:`_searched`: the
    arrays' bytes from offset 8, then a JSON header naming each one's type, shape and
    offset, then (last) the header's offset in the first 8 bytes. Data, never code.

    Positioned writes (the file's offset is shared with the run, which opened it before the
    fork): the run reads the searches only once the first 8 bytes say they are whole."""
    fd = file.fileno()
    snaps = category_snaps(facilities, nodes)
    at = _LENGTH
    header: dict[str, Any] = {}
    for c, n in nodes.items():
        arrays = [*search_seeds(net, snaps[c], profile, c), n.nodes.dist_m, n.nodes.source]
        where = []
        for array in arrays:
            data = np.ascontiguousarray(array)
            where.append([data.dtype.str, data.shape[0], at])
            at += _pwrite_all(fd, data.data.cast("B"), at)
        header[c] = {"group": profile.group_of(c).name, "speed_kmh": n.speed_kmh,
                     "limit_m": n.nodes.limit_m, "arrays": where}
    _pwrite_all(fd, memoryview(json.dumps(header).encode("utf-8")), at)
    _pwrite_all(fd, memoryview(at.to_bytes(_LENGTH, "little")), 0)


#: bytes: the header's offset, first in the searches' file (0: not written yet)
_LENGTH = 8


def _pwrite_all(fd: int, data: memoryview, at: int) -> int:
    """Write all of ``data`` at offset ``at`` of ``fd``; returns its length."""
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], at + done)
    return len(data)


def _searched(file: IO[bytes]) -> dict[str, Searched]:
    """The worker's searches (:func:`_put_searches`) where it has written them all by now,
    else none (the run searches itself rather than wait, and where the file cannot be read);
    the file is emptied once read (its arrays are ~100 MB at a million nodes)."""
    fd = file.fileno()
    try:
        at = int.from_bytes(os.pread(fd, _LENGTH, 0).ljust(_LENGTH, b"\0"), "little")
        if at == 0:
            return {}
        header = json.loads(os.pread(fd, os.fstat(fd).st_size - at, at))
        out: dict[str, Searched] = {}
        for c, h in header.items():
            point, node, dist, dist_m, source = (_pread_array(fd, *where)
                                                 for where in h["arrays"])
            out[c] = Searched(NodeDistances(dist_m, source, h["limit_m"]), (point, node, dist),
                              group=h["group"], speed_kmh=h["speed_kmh"])
    except (OSError, ValueError, KeyError, TypeError) as exc:  # only a saving: search anew
        log.debug("the early worker's searches not read (%s)", exc)
        return {}
    finally:
        os.ftruncate(fd, 0)
    return out


#: the kinds of array the searches' file holds (bool, integers, floats: never objects)
_ARRAY_KINDS = "biuf"


def _pread_array(fd: int, dtype: str, size: int, at: int) -> np.ndarray:
    """The ``size`` values of type ``dtype`` at offset ``at`` of ``fd``."""
    kind = np.dtype(dtype)
    if kind.kind not in _ARRAY_KINDS:
        raise ValueError(f"an array of type {dtype!r} in the searches' file")
    out = np.empty(size, dtype=kind)
    view = out.data.cast("B")
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], at + done)
        if got == 0:
            raise ValueError("the early worker's searches were cut short")
        done += got
    return out


def _partial_result(analysis: Analysis, net: WalkNetwork,
                    facilities: gpd.GeoDataFrame) -> Result:
    """A :class:`Result` with what the isochrones and rasters read: the network, the snapped
    facilities, each category's node distances and the metadata they name (no blocks)."""
    prof = analysis.effective_profile
    nodes = category_nodes(net, facilities, prof)
    empty = gpd.GeoDataFrame(geometry=[], crs=net.crs)
    metadata: dict[str, Any] = {"max_snap_m": analysis.snap_limit_m,
                                "lifecircle_version": __version__}
    # the node distances stand for the access (the isochrones and rasters read no more)
    return Result(network=net, profile=prof, blocks=empty, access_points=empty,
                  facilities=facilities, access=cast(Any, nodes), report={},
                  metadata=metadata, config=analysis)
