"""Many regions, each a task on an executor: a dask ``LocalCluster`` by default.

A regions file is TOML with one ``[[region]]`` table per region and an optional
``[defaults]`` table::

    [defaults]
    minutes = 15

    [[region]]
    name = "nanjing"
    osm = "extracts/nanjing_xinjiekou.osm.gz"   # relative to the regions file
    speed_kmh = 3.6

    [[region]]
    name = "haidian-north"
    osm = "extracts/beijing_haidian.osm.gz"
    polygon = "areas/haidian_north.geojson"       # only the blocks inside it

Each region names one source: ``osm`` (a local file, optionally with ``polygon`` to restrict
the blocks evaluated), ``place`` (an online download) or ``polygon`` alone (an online
download of that area). Every other key is a keyword option of :func:`lifecircle.pipeline.run`
(see :data:`REGION_OPTIONS`); unknown keys are an error.

:func:`run_batch` writes ``DIR/<name>/`` per region (atomically, like ``lifecircle run``)
and ``DIR/batch_summary.json``. A region that fails, raises or kills its worker does not stop
the others; a rerun skips every region whose ``_SUCCESS.json`` fingerprint matches its
current inputs and configuration (for ``place`` regions: the same place name; ``force`` to
download again). On a remote scheduler the workers need lifecircle installed and must see the
input files and the output folder at the same paths (a shared file system).

Region names may use ASCII letters and digits, ``.``, ``_``, ``-`` and CJK characters (Han
ideographs, kana, Hangul), at most 80 characters; they may not start with ``.`` or ``-``, end
with ``.``, contain ``..``, be a reserved device name (``con``, ``nul``, ``com1``, ...) or
``batch_summary.json``, and must be unique ignoring case (folders on macOS and Windows are
case-insensitive). So a name is always one plain folder inside the output folder.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import json
import logging
import re
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import ConfigError, LifecircleError, OutputError, did_you_mean
from ._version import __version__
from .fingerprint import FILE_OPTIONS
from .outputs._atomic import SUCCESS, clear_leftovers, file_sha256, write_json_atomic

__all__ = [
    "REGION_OPTIONS",
    "SUMMARY_NAME",
    "WORKER_DIED",
    "BatchResult",
    "Region",
    "check_region_name",
    "expected_fingerprint",
    "read_regions",
    "region_options",
    "regions_from_dict",
    "run_batch",
]

log = logging.getLogger(__name__)

SUMMARY_NAME = "batch_summary.json"

#: the reason of a region whose worker process died (the nanny killed it for memory, the
#: kernel's OOM killer, a crash in native code)
WORKER_DIED = "worker died (killed, e.g. out of memory)"

#: the TOML types of the keyword options of :func:`lifecircle.pipeline.run` a region may set
#: (those this version of ``run`` has; a test checks that every option of ``run`` is here)
REGION_OPTIONS: dict[str, tuple[type, ...]] = {
    "osm": (str,),
    "place": (str,),
    "polygon": (str,),
    "profile": (str,),
    "facilities": (str,),
    "facilities_crs": (str,),
    "facility_columns": (dict,),
    "blocks": (str,),
    "blocks_crs": (str,),
    "speed_kmh": (int, float),
    "minutes": (int, float),
    "categories": (list,),
    "max_snap_m": (int, float),
    "lang": (str,),
    "population": (str,),
    "dem": (str,),
    "isochrones": (bool,),
    "isochrone_bands_min": (list,),
    "walk_in_m": (int, float),
    "facility_isochrones": (bool,),
    "map": (bool,),
    "self_contained": (bool,),
    "cdn": (bool,),
    "tiles": (str,),
    "tiles_attribution": (str,),
    "figures": (bool,),
    "rasters": (bool,),
    "raster_cell_m": (int, float),
}
_FACILITY_COLUMNS = ("category_col", "name_col", "id_col", "x_col", "y_col", "type_map",
                     "type_col")

#: a dead worker's task is retried this many times on a fresh worker before it fails (one
#: retry: memory pressure from a neighbouring task can be transient)
ALLOWED_FAILURES = 1

_NAME_RE = re.compile(
    r"[A-Za-z0-9._\-"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han ideographs (ext. A, unified, compat.)
    r"\u3040-\u30ff"  # hiragana, katakana
    r"\uac00-\ud7af"  # Hangul syllables
    r"]+"
)
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(10)}
_MAX_NAME = 80


@dataclass(frozen=True)
class Region:
    """One region of a batch: a folder name and the keyword options of its run."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    """What a batch did: one row per region (in the regions file's order)."""

    out: Path
    regions: list[dict[str, Any]]
    summary_path: Path

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.regions if r["status"] == "failed"]

    def to_frame(self) -> Any:
        """The summary as a pandas DataFrame indexed by region name."""
        import pandas as pd

        return pd.DataFrame(self.regions).set_index("name")


# ---------------------------------------------------------------------------------------------
# the regions file


def check_region_name(name: Any, *, where: str) -> str:
    """Return ``name`` if it is a safe folder name (see the module notes), else raise.

    Raises
    ------
    ConfigError
        Naming ``where`` (the file and region) and what to change.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: every region needs a non-empty string 'name'")
    problem = ""
    if unicodedata.normalize("NFC", name) != name:
        problem = "is not in Unicode NFC form"
    elif len(name) > _MAX_NAME:
        problem = f"is longer than {_MAX_NAME} characters"
    elif not _NAME_RE.fullmatch(name):
        bad = next(ch for ch in name if not _NAME_RE.fullmatch(ch))
        problem = f"contains {bad!r}"
    elif name.startswith((".", "-")) or name.endswith(".") or ".." in name:
        problem = "starts with '.' or '-', ends with '.' or contains '..'"
    elif name.split(".")[0].casefold() in _RESERVED or name.casefold() == SUMMARY_NAME:
        problem = "is a reserved file name"
    if problem:
        raise ConfigError(
            f"{where}: region name {name!r} {problem}; use letters, digits, '.', '_', '-' "
            "or CJK characters, so that the name is one folder inside --out"
        )
    return name


def region_options() -> dict[str, tuple[type, ...]]:
    """The options a region may set: those of :data:`REGION_OPTIONS` that ``run`` takes."""
    from .pipeline import run

    params = inspect.signature(run).parameters
    return {k: t for k, t in REGION_OPTIONS.items() if k in params}


def _check_option(key: str, value: Any, where: str) -> None:
    allowed = region_options()
    if key not in allowed:
        raise ConfigError(
            f"{where}: unknown key {key!r}{did_you_mean(key, [*allowed, 'name'])}; "
            f"allowed keys: name, {', '.join(allowed)}"
        )
    types = REGION_OPTIONS[key]
    if isinstance(value, bool) or not isinstance(value, types):
        kind = " or ".join(t.__name__ for t in types).replace("str", "string")
        raise ConfigError(
            f"{where}: {key} must be a {kind}, got {type(value).__name__} {value!r}"
        )
    if isinstance(value, list) and not all(isinstance(c, str) for c in value):
        raise ConfigError(f"{where}: categories must be a list of strings, got {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in _FACILITY_COLUMNS:
                raise ConfigError(
                    f"{where}: unknown facility_columns key {k!r}"
                    f"{did_you_mean(k, _FACILITY_COLUMNS)}; allowed: "
                    f"{', '.join(_FACILITY_COLUMNS)}"
                )
            if not isinstance(v, str):
                raise ConfigError(f"{where}: facility_columns.{k} must be a string")


def _resolve_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    out = dict(options)
    for key in FILE_OPTIONS:
        if key in out:
            p = Path(out[key]).expanduser()
            out[key] = str(p if p.is_absolute() else base / p)
    prof = out.get("profile")
    if isinstance(prof, str) and (prof.endswith(".toml") or "/" in prof):
        p = Path(prof).expanduser()
        out["profile"] = str(p if p.is_absolute() else base / p)
    return out


def _check_sources(options: Mapping[str, Any], where: str) -> None:
    given = [k for k in ("osm", "place") if k in options]
    if len(given) > 1:
        raise ConfigError(
            f"{where}: give one of osm or place, not both (got {' and '.join(given)}; "
            "a [defaults] osm counts too)"
        )
    if "place" in options and "polygon" in options:
        raise ConfigError(
            f"{where}: polygon goes with osm (to restrict the blocks) or alone (to download "
            "that area), not with place"
        )
    if not given and "polygon" not in options:
        raise ConfigError(f"{where}: the region needs one of osm, place or polygon")


def regions_from_dict(
    data: Mapping[str, Any], *, where: str = "<regions>", base_dir: str | Path = "."
) -> list[Region]:
    """Regions from parsed TOML (``region`` list and optional ``defaults`` table).

    Relative paths are taken relative to ``base_dir`` (the regions file's folder).
    """
    for key in data:
        if key not in ("region", "defaults"):
            raise ConfigError(
                f"{where}: unknown top-level key {key!r}"
                f"{did_you_mean(key, ['region', 'defaults'])}; use [[region]] tables and "
                "an optional [defaults] table"
            )
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    for key, value in defaults.items():
        _check_option(key, value, f"{where}: [defaults]")
    tables = data.get("region")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{where}: no regions; add one [[region]] table per region")
    base = Path(base_dir)
    regions: list[Region] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: region {i} must be a [[region]] table")
        name = check_region_name(table.get("name"), where=f"{where}: region {i}")
        label = f"{where}: region {name!r}"
        if name.casefold() in seen:
            raise ConfigError(
                f"{label}: the name is used twice (as {seen[name.casefold()]!r} too, ignoring "
                "case); give every region its own name"
            )
        seen[name.casefold()] = name
        options = {k: v for k, v in table.items() if k != "name"}
        for key, value in options.items():
            _check_option(key, value, label)
        merged = _resolve_paths({**defaults, **options}, base)
        _check_sources(merged, label)
        regions.append(Region(name=name, options=merged))
    return regions


def read_regions(path: str | Path) -> list[Region]:
    """Read and check a regions TOML file (see the module notes for its format)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: regions file not found; give a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return regions_from_dict(data, where=str(path), base_dir=path.resolve().parent)


# ---------------------------------------------------------------------------------------------
# rerun skip


def expected_fingerprint(options: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprint :func:`lifecircle.pipeline.run` would write for these options now.

    Fills in run's defaults and resolves the options exactly as ``run`` does (profile
    overrides, snap limit, the bundled extract when no source is given); a test checks that
    the two agree.
    """
    from .fingerprint import run_fingerprint
    from .pipeline import default_osm, run
    from .profiles import load_profile

    full = {
        k: p.default
        for k, p in inspect.signature(run).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    full.update(options)
    prof = (
        load_profile(full["profile"])
        .replace(speed_kmh=full["speed_kmh"], threshold_min=full["minutes"])
        .replace(categories=full["categories"])
    )
    if full["osm"] is None and full["place"] is None and full["polygon"] is None:
        full["osm"] = default_osm()
    snap = full["max_snap_m"]
    full["max_snap_m"] = prof.max_snap_m if snap is None else float(snap)
    return run_fingerprint(prof, full)


def _up_to_date(region: Region, folder: Path) -> bool:
    """Whether ``folder`` holds a complete run of ``region`` with its current fingerprint."""
    marker = folder / SUCCESS
    try:
        done = json.loads(marker.read_text(encoding="utf-8"))
        recorded = done["fingerprint"]["sha256"]
        files = done["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        if expected_fingerprint(region.options)["sha256"] != recorded:
            return False
        # the folder must still hold what it claims (nobody edited or deleted a file)
        return all(file_sha256(folder / name) == sha for name, sha in files.items())
    except (LifecircleError, OSError):
        return False  # the run will report the problem with its own clear error


# ---------------------------------------------------------------------------------------------
# one region (runs on a worker)


def _figures(report: Mapping[str, Any]) -> dict[str, Any]:
    s = report["summary"]
    return {
        "blocks": s["blocks"],
        "population": s["population"],
        "complete_share_population": s["complete_life_circle"]["share_population"],
        "share_population_covered": {
            c: v["share_population_covered"] for c, v in s["categories"].items()
        },
    }


def _row(name: str, status: str, reason: str, seconds: float, **extra: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "reason": reason, "seconds": round(seconds, 2),
            **extra}


def _run_region(
    name: str, options: Mapping[str, Any], folder: str, runner: Callable[..., Any] | None
) -> dict[str, Any]:
    """Run one region into ``folder``; every error becomes a ``failed`` row, never a raise."""
    t0 = time.perf_counter()
    target = Path(folder)
    try:
        if target.is_dir() and any(target.iterdir()) and not (target / SUCCESS).is_file():
            raise OutputError(
                f"{target}: exists and is not a lifecircle output (no {SUCCESS}); move it "
                "away or rename the region"
            )
        if runner is None:
            from .pipeline import run

            runner = run
        result = runner(out=target, overwrite=True, **options)
        return _row(name, "ok", "", time.perf_counter() - t0, **_figures(result.report))
    except LifecircleError as exc:
        return _row(name, "failed", str(exc).replace("\n", " "), time.perf_counter() - t0)
    except MemoryError:
        return _row(name, "failed", "out of memory", time.perf_counter() - t0)
    except Exception as exc:
        # isolation is the point of a batch: an unexpected bug in one region is reported as
        # that region's failure (with its type, to file a bug) and the others go on
        log.debug("region %s raised", name, exc_info=True)
        return _row(name, "failed", f"unexpected error {type(exc).__name__}: {exc}",
                    time.perf_counter() - t0)


def _failure_reason(exc: BaseException) -> str:
    """The reason of a task whose future raised (the task itself never raises)."""
    if type(exc).__name__ == "KilledWorker" or isinstance(exc, cf.BrokenExecutor):
        return WORKER_DIED
    if isinstance(exc, cf.CancelledError):
        return "cancelled"
    return f"task failed: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# the batch


@contextmanager
def _dask_executor(
    scheduler: str | None, n_workers: int, memory_limit: str | float | None
) -> Iterator[cf.Executor]:
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "lifecircle batch runs on dask.distributed: pip install 'lifecircle[batch]' (or "
            "pass an executor to run_batch)"
        ) from None
    settings = {
        "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
        # one task per single-threaded worker at a time, so a dying worker takes down only
        # the region it was running, never a queued neighbour
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        cluster = None
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(
                    f"cannot reach the dask scheduler {scheduler} ({exc}); check the address "
                    "(tcp://host:port) or leave --scheduler out for a local cluster"
                ) from None
        else:
            if isinstance(memory_limit, str) and memory_limit != "auto":
                from dask.utils import parse_bytes

                try:
                    parse_bytes(memory_limit)
                except ValueError:
                    raise ConfigError(
                        f"memory limit {memory_limit!r} is not a size; use e.g. 2GB or 1500MB"
                    ) from None
            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                memory_limit="auto" if memory_limit is None else memory_limit,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
                preload=["lifecircle._dask_worker"],
            )
            client = Client(cluster)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _region_folder(out: Path, name: str) -> Path:
    folder = (out / name).resolve()
    # names are checked already; this also catches a symbolic link planted at out/<name>
    if folder.parent != out.resolve():
        raise OutputError(
            f"{out / name}: region {name!r} would write outside the batch folder {out} (to "
            f"{folder}; a symbolic link?); remove it or choose another --out"
        )
    return folder


def run_batch(
    regions: str | Path | Sequence[Region],
    out: str | Path,
    *,
    executor: cf.Executor | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    memory_limit: str | float | None = None,
    force: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    runner: Callable[..., Any] | None = None,
) -> BatchResult:
    """Run every region into ``out/<name>/``; failures are rows of the summary, not raises.

    Parameters
    ----------
    regions
        A regions TOML file or a list of :class:`Region`.
    out
        The batch folder; it receives one folder per region and ``batch_summary.json``.
    executor
        Any :class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor``, a dask
        ``Client.get_executor()``, ...). The caller owns it. By default a dask
        ``LocalCluster`` (single-threaded worker processes) is started and closed, or a client
        of ``scheduler``. With a ``ProcessPoolExecutor`` a dying worker breaks the whole pool
        (Python's design), so every region still running then fails; dask replaces the
        worker and only the region that killed it fails.
    scheduler
        Address of a running dask scheduler (``tcp://host:port``).
    n_workers, memory_limit
        Size of the default ``LocalCluster``: worker processes (default: CPU count, at most
        the number of regions to run) and the memory limit per worker (``"2GB"``; dask's
        nanny kills a worker above it).
    force
        Rerun every region, even the ones whose output matches their inputs and configuration.
    progress
        Called with each region's summary row as it finishes (skipped regions first).
    runner
        The function that runs one region (default :func:`lifecircle.pipeline.run`), called
        with the region's options plus ``out`` and ``overwrite``; a hook for tests and
        wrappers.

    Returns
    -------
    BatchResult
        One row per region: ``name``, ``status`` (``ok``, ``skipped`` or ``failed``),
        ``reason``, ``seconds`` and, when a run exists, ``blocks``, ``population``,
        ``complete_share_population`` and ``share_population_covered`` per category.
    """
    import os

    if isinstance(regions, str | Path):
        regions = read_regions(regions)
    regions = list(regions)
    seen: set[str] = set()
    for r in regions:
        check_region_name(r.name, where="run_batch")
        if r.name.casefold() in seen:
            raise ConfigError(f"run_batch: region name {r.name!r} is used twice (ignoring case)")
        seen.add(r.name.casefold())
    root = Path(out).absolute()
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root}: exists and is not a folder; choose another --out")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{root}: cannot create the batch folder ({exc.strerror})") from None
    folders = {r.name: _region_folder(root, r.name) for r in regions}

    rows: dict[str, dict[str, Any]] = {}
    todo: list[Region] = []
    for r in regions:
        if not force and _up_to_date(r, folders[r.name]):
            clear_leftovers(folders[r.name])  # a writer killed after its rename left a lock
            row = _row(r.name, "skipped", "up to date (inputs and configuration unchanged)", 0.0)
            try:
                report = json.loads((folders[r.name] / "report.json").read_text("utf-8"))
                row.update(_figures(report))
            except (OSError, ValueError, KeyError):
                pass
            rows[r.name] = row
            if progress:
                progress(row)
        else:
            todo.append(r)

    if todo:
        workers = n_workers or min(len(todo), os.cpu_count() or 1)
        own = (
            _dask_executor(scheduler, workers, memory_limit)
            if executor is None
            else _borrowed(executor)
        )
        with own as ex:
            futures = {
                ex.submit(_run_region, r.name, dict(r.options), str(folders[r.name]), runner):
                r.name
                for r in todo
            }
            try:
                for fut in cf.as_completed(futures):
                    name = futures[fut]
                    try:
                        row = fut.result()
                    except Exception as exc:
                        row = _row(name, "failed", _failure_reason(exc), 0.0)
                    rows[name] = row
                    if progress:
                        progress(row)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise

    ordered = [rows[r.name] for r in regions]
    counts = {s: sum(1 for r in ordered if r["status"] == s) for s in ("ok", "skipped", "failed")}
    summary_path = root / SUMMARY_NAME
    write_json_atomic(
        summary_path,
        {
            "lifecircle_version": __version__,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "counts": counts,
            "regions": ordered,
        },
    )
    return BatchResult(out=root, regions=ordered, summary_path=summary_path)


@contextmanager
def _borrowed(executor: cf.Executor) -> Iterator[cf.Executor]:
    yield executor  # the caller's executor: used, never shut down
