"""The figures of a small saving run, drawn by a worker forked when the run starts.

A small run's outputs wait for its figures: matplotlib's import (~0.7 s CPU) and the drawing
(~1.4 s for Monaco's seven PNGs) in the worker forked at the outputs
(:mod:`lifecircle.outputs._background`), while the run's own outputs take ~1 s; and through
the analysis before them (~2 s of one core) the machine's other core is idle. So a run whose
input files are small (:data:`EARLY_FIGURES_MAX_BYTES`) forks its figures worker as it starts
(:func:`start`, from :func:`lifecircle.pipeline.run_config`): the worker imports matplotlib and
sets up the figures' style and font on that idle core, then waits. Once the analysis is done,
the run hands it what the figures draw (:meth:`FigureWorker.hand_over`: the blocks' outlines,
minutes and verdicts, the facilities' points and categories, the streets' lines and the
report's summary) and it draws them while the run writes the rest. The profile needs no
hand-over: the worker was forked after the configuration (``Analysis.effective_profile``, the
result's profile).

The hand-over is data, never code (:mod:`._shelf`): the tables as Arrow IPC (GeoPandas'
Feather: WKB geometries; their CRS once, as WKT, in the JSON header), the summary as JSON,
written into an unnamed temporary file opened
before the fork (neither left behind nor open to others; the run never waits for the worker to
read it, as it would on a pipe), then a few bytes on a pipe say where they end. Larger runs
keep the worker forked at the outputs, which shares their tables through the fork for free
where the hand-over would take seconds.

A failing run stops the worker (the caller registers :meth:`FigureWorker.cancel`); a failing
worker fails the run with its error when the run waits for it (as any output worker, see
:class:`lifecircle.outputs._background.Job`); Ctrl-C reaches both (the worker stops where it
waits or draws); off Linux, or wherever :mod:`lifecircle.outputs._background` forks no worker,
:func:`start` gives ``None`` and the run draws as before.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import pyarrow as pa

from .. import columns as col
from ..config import Analysis, Outputs
from ..profiles import Profile
from . import _background, _shelf

__all__ = ["EARLY_FIGURES_MAX_BYTES", "FigureInputs", "FigureWorker", "input_bytes",
           "read_inputs", "start", "write_inputs"]

log = logging.getLogger(__name__)

#: Runs whose input files come to at most this many bytes fork their figures' worker as they
#: start. It pays only where the figures are the outputs' longest path: at Monaco's size
#: (1.8 MB, 3,948 nodes) the run's own outputs take ~1.0 s CPU (isochrones, GeoPackage,
#: map) against the figures' ~1.9 s (import 0.7, drawing 1.3), and the run's own grow with
#: the network while the drawing is mostly the same seven figures' text and axes, so at about
#: twice Monaco the run's own outputs take as long and the import moved earlier saves nothing.
#: Meanwhile the hand-over costs the run ~0.03 s CPU and the worker ~0.05 s a Monaco, growing
#: with the blocks and streets. Hence twice Monaco with a margin: 4 MB. The file's size is
#: known before the read, for nothing; bytes a node vary (Monaco's PBF ~450 with its
#: buildings, the Nanjing mosaic's ~150), so 4 MB is some 9,000-27,000 nodes, far below the
#: 100,000 (:data:`lifecircle.outputs._background.BACKGROUND_MAX_NODES`) up to which the
#: figures have a worker of their own at the outputs.
EARLY_FIGURES_MAX_BYTES = 4_000_000

#: how many times a compressed XML file's bytes count against the limit (see input_bytes)
_PACKED = 10
#: the hand-over's limit in walking nodes, checked once the network is known: above it the
#: early worker is stopped and the figures drawn by a worker forked at the outputs
#: (:mod:`lifecircle.outputs._background`'s own limit for the figures' worker)
HAND_OVER_MAX_NODES = _background.BACKGROUND_MAX_NODES


@dataclass(frozen=True)
class FigureInputs:
    """What :func:`lifecircle.outputs.plots.write_figures` reads of a result."""

    profile: Profile
    blocks: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    report: dict[str, Any]


def _figure_columns(result: Any) -> dict[str, gpd.GeoDataFrame]:
    """The columns of the result's tables that the figures read (their geometries, the
    blocks' minutes and verdicts, the facilities' categories and which row counts each)."""
    cats = list(result.profile.categories)
    blocks = result.blocks
    wanted = [c for cat in cats for c in (col.walk_min(cat), col.covered(cat))
              if c in blocks.columns]
    fac = result.facilities
    fac_cols = [c for c in ("category", "facility_id", "access_id") if c in fac.columns]
    return {"blocks": blocks[[*wanted, blocks.geometry.name]],
            "facilities": fac[[*fac_cols, fac.geometry.name]],
            "edges": result.edges[[result.edges.geometry.name]]}


def write_inputs(result: Any, shelf: IO[bytes], **extra: Any) -> None:
    """Write what the figures of ``result`` read into ``shelf`` (:func:`_shelf.put`): the
    report's summary and ``extra`` in the header, the tables the figures read."""
    _shelf.put(shelf, {"summary": result.report["summary"], **extra}, _figure_columns(result))


def read_inputs(shelf: IO[bytes], profile: Profile) -> tuple[FigureInputs, dict[str, Any]]:
    """What :func:`write_inputs` wrote into ``shelf``, with the run's ``profile``; and the
    header's further keys."""
    header, tables = _shelf.take(shelf)
    summary = header.pop("summary")
    return FigureInputs(profile=profile, report={"summary": summary}, **tables), header


def input_bytes(analysis: Analysis) -> int | None:
    """The size of the run's input files together (``None`` when it downloads its area),
    a compressed one's counted :data:`_PACKED` times: an ``.osm.gz`` or ``.osm.bz2`` holds
    ~17-24 bytes a node (the shared Nanjing and Shanghai extracts), a PBF ~150-450."""
    if analysis.place is not None or (analysis.osm is None and analysis.polygon is not None):
        return None
    try:
        return sum(p.stat().st_size * (_PACKED if p.suffix.lower() in (".gz", ".bz2", ".xz")
                                       else 1)
                   for p in analysis.input_files().values())
    except OSError:  # a missing file: the analysis says so
        return None


class FigureWorker:
    """The figures' worker forked as the run starts (:func:`start`); :meth:`hand_over` the
    result to it, then wait for its :attr:`job` as for any output worker."""

    def __init__(self, job: _background.Job, go: Any, shelf: IO[bytes]) -> None:
        self.job = job
        self._go = go
        self._shelf = shelf

    def hand_over(self, result: Any, folder: Path, outputs: Outputs) -> bool:
        """Give the worker the figures' data (see the module's notes) and the staging
        ``folder`` to write them into; False where it was stopped instead: no figures asked
        for, a network above :data:`HAND_OVER_MAX_NODES`, or a hand-over that could not be
        written (a full temporary folder, say), so that the run draws them as any run does.
        A worker that died already fails the run where it is waited for, with its error."""
        if not outputs.figures or result.network.n_nodes > HAND_OVER_MAX_NODES:
            self.cancel()
            return False
        t0 = time.perf_counter()
        try:
            write_inputs(result, self._shelf, folder=str(folder))
        except (OSError, pa.ArrowException) as exc:
            log.debug("figures not handed over to their worker (%s): drawn at the outputs", exc)
            self.cancel()
            return False
        try:
            self._go.send_bytes(b"go")
        except OSError:  # it stopped: Job.wait says why
            pass
        self._go.close()
        log.debug("figures handed over to their worker in %.3f s", time.perf_counter() - t0)
        return True

    def cancel(self) -> None:
        """Stop the worker (the run failed) and drop the hand-over."""
        self.job.cancel()
        self._go.close()
        self._shelf.close()


def start(analysis: Analysis, outputs: Outputs) -> FigureWorker | None:
    """Fork the figures' worker of a saving run on ``analysis`` (see the module's notes), or
    ``None``: no figures, inputs larger than :data:`EARLY_FIGURES_MAX_BYTES` (or downloaded),
    or no worker forked here (:func:`lifecircle.outputs._background.start_early`'s cases)."""
    size = input_bytes(analysis)
    if (not outputs.figures or size is None or size > EARLY_FIGURES_MAX_BYTES
            or not _background.can_fork()):  # (no fork context off Linux: checked first)
        return None
    import multiprocessing

    receive, go = multiprocessing.get_context("fork").Pipe(duplex=False)
    shelf = tempfile.TemporaryFile()
    job = _background.start_early(
        "figures", lambda: _draw(analysis, outputs.lang, receive, go, shelf))
    receive.close()  # the worker's end
    if job is None:
        go.close()
        shelf.close()
        return None
    return FigureWorker(job, go, shelf)


def _draw(analysis: Analysis, lang: str, receive: Any, go: Any,
          shelf: IO[bytes]) -> dict[str, float]:  # pragma: no cover - child
    """In the worker: matplotlib and the figures' style while the run analyses, then the
    figures of the hand-over; the wall seconds from the hand-over to the last PNG."""
    # the run's end, closed here; the pipe ends (EOFError below) once every process holding
    # it has closed it or died: the run, and a city's early worker forked after this one
    # (its copy goes with it), so the run cancels this worker rather than close and wait
    go.close()
    # (and what the drawing imports on its way, the maps' scale bar and the chart: here, not
    # after the hand-over, ~0.05 s off the end of the run)
    import geopandas.io.arrow  # noqa: F401 (the hand-over's reader)
    import mpl_toolkits.axes_grid1.anchored_artists  # noqa: F401
    import pyproj

    from . import plots, share_chart  # noqa: F401
    from ._figure_style import _style

    _style(lang)  # the messages, and the CJK font looked up
    pyproj.CRS.from_epsg(4326)  # PROJ's database opened (the hand-over's CRS: ~0.1 s)
    profile = analysis.effective_profile
    try:
        receive.recv_bytes()
    except EOFError:  # the run ended without handing over
        return {}
    t0 = time.perf_counter()
    inputs, header = read_inputs(shelf, profile)
    plots.write_figures(inputs, Path(header["folder"]), lang=lang)  # (the run's, at the fork)
    return {"figures": time.perf_counter() - t0}
