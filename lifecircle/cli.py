"""The ``lifecircle`` command.

Errors a user can cause print as one line (``lifecircle: error: ...``) with the exit code of
their class (2 bad input, 3 bad configuration, 4 partial batch failure, 5 resource limit); only
``-v`` adds logging, and only an unexpected bug prints a traceback (with ``--debug``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ._console import Progress, print_summary
from ._errors import LifecircleError

__all__ = ["cli", "main"]


def _print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from ._version import stack_versions

    click.echo(stack_versions())
    ctx.exit()


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


class _OneLineGroup(click.Group):
    """A click group whose usage errors (an unknown option, "5 km/h" for a number) are one
    line and exit code 3 (bad configuration), like every other lifecircle error."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `lifecircle`: the help
                exc.show()
                sys.exit(exc.exit_code)
            hint = f"; see '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
            if "is not a valid float" in exc.format_message():
                hint = "; write the number alone, the unit is in the option name" + hint
            message = exc.format_message().replace("\n", " ").rstrip(".")
            click.echo(f"lifecircle: error: {message}{hint}", err=True)
            sys.exit(3)
        except click.ClickException as exc:
            click.echo(f"lifecircle: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("lifecircle: interrupted; no output was completed", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    callback=_print_versions,
    expose_value=False,
    is_eager=True,
    help="Show lifecircle's version and the geo stack's, then exit.",
)
def cli() -> None:
    """15-minute life-circle accessibility from OpenStreetMap."""


def _stack(f: Callable[..., Any], options: list[Callable[..., Any]]) -> Callable[..., Any]:
    """Apply click option decorators so that they list in the given order."""
    for option in reversed(options):
        f = option(f)
    return f


def _file(flag: str, help: str, **kwargs: Any) -> Callable[..., Any]:
    """A click option naming a file or folder (a :class:`~pathlib.Path`, default none)."""
    return click.option(flag, type=click.Path(path_type=Path), default=None, help=help, **kwargs)


def _text(flag: str, help: str, **kwargs: Any) -> Callable[..., Any]:
    """A click option holding a name or text (default none unless given)."""
    kwargs.setdefault("default", None)
    return click.option(flag, help=help, show_default=kwargs["default"] is not None, **kwargs)


def _number(flag: str, help: str, **kwargs: Any) -> Callable[..., Any]:
    """A click option holding a number (default none: the profile's or the module's)."""
    return click.option(flag, type=float, default=None, help=help, **kwargs)


def common_inputs(f: Callable[..., Any]) -> Callable[..., Any]:
    """The OSM input (``[OSM]`` or ``--osm``), the analysis options, ``-o/--out`` and the
    logging options, shared by `run` and the commands built on it. Each analysis option is
    named like its field of :class:`lifecircle.config.Analysis`."""
    return _stack(f, [
        click.argument("osm_file", metavar="[OSM]", required=False,
                       type=click.Path(path_type=Path)),
        _file("--osm", "Local OSM file (.osm.pbf/.osm/.osm.gz/.osm.bz2) or GraphML, also "
              "accepted as the first argument. Default: the bundled central-Helsinki extract."),
        _text("--place", "Download the network for a place name through osmnx (internet)."),
        _file("--polygon", "Polygon file of the analysis area: with an OSM file only blocks "
              "inside it are evaluated; alone, the area to download through osmnx (internet)."),
        _text("--profile", "Built-in profile name or a profile .toml file.", default="walk15"),
        _file("--facilities", "Facility file (CSV/GeoJSON/GeoPackage) with a 'category' "
              "column; replaces the OSM facilities of its categories."),
        _text("--category-col", "Column of the facility file that names each row's category.",
              default="category"),
        _text("--name-col", "Column of the facility file with names.", default="name"),
        _text("--id-col", "Column of the facility file with unique ids (default: id or row)."),
        _text("--x-col", "Longitude/x column of a facility CSV (default: lon/lng/x...)."),
        _text("--y-col", "Latitude/y column of a facility CSV (default: lat/y...)."),
        _file("--type-map", "CSV of prefix,category rows: categories from a POI type column "
              "(longest prefix wins), e.g. for Gaode/Baidu POI tables."),
        _text("--type-col", "Column of the facility file read with --type-map (default: type)."),
        _text("--facilities-crs", "Coordinates of the facility file: EPSG:…, wgs84, gcj02 or "
              "bd09."),
        _file("--blocks", "Residential block polygons (optional 'population' column)."),
        _text("--blocks-crs", "CRS of the block file when it declares none."),
        _file("--population", "Population GeoTIFF (people per pixel): exact zonal sums per "
              "block."),
        _number("--population-total", "Known total population: block populations are scaled "
                "to sum to it."),
        _file("--dem", "Elevation GeoTIFF (metres): slope per walking direction (Tobler)."),
        _number("--speed-kmh", "Walking speed of the default group, km/h (profile default)."),
        _number("--minutes", "Threshold in minutes for every category (profile default)."),
        click.option("--category", "categories", multiple=True,
                     help="Evaluate only this category (repeatable)."),
        _number("--max-snap-m", "Points farther than this from any street are unreachable."),
        click.option("-o", "--out", type=click.Path(path_type=Path),
                     default=Path("lifecircle-out"), show_default=True, help="Output folder."),
        click.option("--overwrite", is_flag=True, help="Replace an existing output folder."),
        click.option("--lang", type=click.Choice(["en", "zh"]), default="en",
                     show_default=True, help="Language of the report and map."),
        click.option("-v", "--verbose", count=True, help="More logging (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True,
                     help="Only errors; no progress or summary."),
        click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks."),
    ])


def _fail(exc: LifecircleError) -> None:
    message = str(exc).replace("\n", " ")
    click.echo(f"lifecircle: error: {message}", err=True)
    sys.exit(exc.exit_code)


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn lifecircle errors into one line and an exit code; Ctrl-C into exit 130."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        try:
            return func(*args, **kwargs)
        except LifecircleError as exc:
            if debug:
                raise
            _fail(exc)
        except KeyboardInterrupt:
            click.echo("lifecircle: interrupted; no output was completed", err=True)
            sys.exit(130)
        except MemoryError:
            click.echo(
                "lifecircle: error: out of memory; use a smaller area or a machine "
                "with more memory",
                err=True,
            )
            sys.exit(5)
        return None

    return wrapper


#: options of `common_inputs` that go into ``facility_columns``
_COLUMN_OPTIONS = ("category_col", "name_col", "id_col", "x_col", "y_col", "type_map",
                   "type_col")


def run_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`lifecircle.pipeline.run` from the `common_inputs` options.

    Pops the logging options (``verbose``, ``quiet``, ``debug``) and the facility column names
    out of ``options``, takes the OSM file from ``[OSM]`` or ``--osm``; what is left is
    passed through unchanged (options a command adds, too).
    """
    from ._errors import ConfigError

    for key in ("verbose", "quiet", "debug"):
        options.pop(key, None)
    positional = options.pop("osm_file", None)
    if positional is not None and options.get("osm") is not None:
        raise ConfigError("give the OSM file once: as the first argument or as --osm, not both")
    if positional is not None:
        options["osm"] = positional
    options["facility_columns"] = {
        key: value for key in _COLUMN_OPTIONS if (value := options.pop(key, None)) is not None
    }
    options["categories"] = list(options.get("categories") or ()) or None
    return {k: v for k, v in options.items()
            if not (k in ("isochrone_bands_min", "walk_in_m") and v is None)}


def configs(options: dict[str, Any]) -> tuple[Any, Any]:
    """The :class:`~lifecircle.config.Analysis` and :class:`~lifecircle.config.Outputs` of
    :func:`run_kwargs`' result; a bad value is reported under the option the user typed
    (``--minutes``, not the field's name)."""
    from .config import OptionError
    from .pipeline import configure

    try:
        return configure(options)
    except OptionError as exc:
        raise exc.named(_flag(exc.option)) from None


def _flag(name: str) -> str:
    """The command-line spelling of the option stored as ``name`` (``--cell-m`` for
    ``raster_cell_m``); the name itself when the command has no such option."""
    ctx = click.get_current_context(silent=True)
    for param in ctx.command.params if ctx is not None else []:
        if param.name == name and isinstance(param, click.Option):
            return max(param.opts, key=len)
    return name


def _bands(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """``--bands 5,10,15`` as a tuple of minutes (checked by the isochrone module)."""
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give minutes separated by commas, e.g. 5,10,15") from None


def isochrone_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Isochrone band options shared by `run` and `isochrones`."""
    return _stack(f, [
        click.option("--bands", "isochrone_bands_min", callback=_bands, default=None,
                     help="Isochrone band limits in minutes (default 5,10,15)."),
        _number("--walk-in-m", "Buffer around reached streets, metres (default 50)."),
    ])


def map_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the web map shared by `run` and `map`."""
    return _stack(f, [
        click.option(
            "--cdn", is_flag=True,
            help="Link Leaflet from its CDN: a smaller map.html that needs the internet "
            "(by default the map opens with no network).",
        ),
        click.option("--self-contained", is_flag=True, hidden=True,
                     help="No effect: the map is self-contained by default."),
        click.option(
            "--tiles", default="osm", show_default=True,
            help="Background map: osm (OpenStreetMap tiles), none (a fully offline page), an "
            "xyzservices name or a URL template with {z}/{x}/{y} (give --tiles-attribution). "
            "Where tiles cannot load, the walking-network layer still shows the streets.",
        ),
        _text("--tiles-attribution", "Credit shown for a --tiles URL template."),
    ])


@cli.command("run")
@common_inputs
@isochrone_options
@click.option("--facility-isochrones", is_flag=True,
              help="Also draw every facility's own isochrone bands.")
@click.option("--isochrones/--no-isochrones", "isochrones", default=None,
              help="Draw the isochrones layer (default: yes).")
@click.option("--isochrone-cell-m", "isochrone_cell_m", type=float, default=None,
              help="Grid cell of the isochrone outlines in metres (default 5, or 10 where a "
              "5 m grid of the network would pass 40 million cells).")
@map_options
@click.option("--map/--no-map", "map", default=None,
              help="Write map.html (default: yes).")
@click.option("--no-figures", "figures", flag_value=False, default=True,
              help="Do not write figures/*.png.")
@click.option("--rasters/--no-rasters", "rasters", default=None,
              help="Write rasters/walk_min_<category>.tif (default: yes).")
@click.option("--cell-m", "raster_cell_m", type=float, default=None,
              help="Cell size of the travel-time rasters in metres (default 25, coarser "
              "where a raster would pass 3 million cells).")
@click.option("--format", "layer_format", type=click.Choice(["gpkg", "parquet"]),
              default="gpkg", show_default=True,
              help="Where the big layers (blocks, access points, facilities, edges, isochrones) "
              "go: lifecircle.gpkg, or GeoParquet files beside it (smaller, faster to write).")
@click.option("--group", default=None, help="Evaluate every category for this profile group "
              "(e.g. wheelchair: step-free walks, its speed).")
@click.option("--group-population", multiple=True, metavar="RESIDENTS=COLUMN",
              help="Block column holding the residents a service serves, e.g. "
              "age60plus=pop_60plus (repeatable).")
@click.option("--targets", multiple=True, metavar="NAME|FILE",
              help="Stack a target set on the profile, e.g. hunan-2021 (repeatable).")
@click.option("--staff-col", default=None, help="Facility-file column of staff counts "
              "(default staff).")
@click.option("--flag-col", default=None, help="Facility-file column of volunteer-site flags "
              "(default volunteer_site).")
@guarded
def run_cmd(**options: Any) -> None:
    """Walking times, coverage and gaps for every residential block.

    OSM is a local extract (as --osm); with no options, runs on the bundled central-Helsinki
    extract and writes ./lifecircle-out (lifecircle.gpkg, report.json, report.md, map.html,
    figures/, rasters/). Example: lifecircle run city.osm.pbf -o out/
    """
    from ._memory import collect_young_less
    from .pipeline import run_config

    collect_young_less()  # fewer collections of the objects a run makes in bulk (see _memory)
    quiet = bool(options.get("quiet"))
    _configure_logging(options.get("verbose", 0), quiet)
    kwargs = run_kwargs(dict(options))
    out, overwrite = kwargs.pop("out"), kwargs.pop("overwrite")
    analysis, outputs = configs(kwargs)
    progress = Progress(quiet)
    try:
        result = run_config(analysis, outputs, out=out, overwrite=overwrite, progress=progress)
    finally:
        progress.close()
    if not quiet:
        print_summary(result, outputs.lang)
        click.echo(f"Wrote {result.out}")
    _DONE.append(True)


@cli.command("site")
@common_inputs
@click.option("--new", "new", type=click.IntRange(min=0), default=3, show_default=True,
              help="Number of new sites (maximal coverage).")
@click.option("--target-share", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Set covering instead: fewest new sites to cover this population share.")
@click.option("--candidates", default=None,
              help="Candidate sites: a CSV/GeoJSON/GeoPackage file, or 'osm' (vacant land, "
              "surface parking, suitable buildings). Default: points every --spacing-m "
              "along the network.")
@click.option("--candidates-crs", default=None, help="CRS of a candidate CSV (EPSG:…, gcj02…).")
@click.option("--spacing-m", type=click.FloatRange(min=0, min_open=True), default=100.0,
              show_default=True, help="Spacing of the network sample of candidates.")
@click.option("--method", type=click.Choice(["greedy", "exact"]), default="greedy",
              show_default=True, help="Lazy greedy (any size) or exact MILP (HiGHS).")
@click.option("--solver", type=click.Choice(["scipy", "highspy", "pulp"]), default="scipy",
              show_default=True, help="Solver of the exact model (highspy, pulp: [siting]).")
@click.option("--capacity", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Residents one new site can serve.")
@click.option("--existing-capacity", default=None,
              help="Residents each existing facility can serve: a facility-file column "
              "(e.g. capacity) or a number.")
@click.option("--remove", multiple=True,
              help="Close this existing facility id in the scenario (repeatable).")
@click.option("--time-limit-s", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Time limit of the exact solver.")
@guarded
def site_cmd(**options: Any) -> None:
    """Where to put new facilities of one --category so that most residents newly get one.

    Runs the analysis like `run`, then writes proposed_sites and siting_blocks layers,
    the before/after figures ("siting" in report.json) and siting_before_after.csv.
    """
    from ._errors import ConfigError
    from .siting import run_site

    quiet = bool(options.get("quiet"))
    _configure_logging(options.get("verbose", 0), quiet)
    kwargs = run_kwargs(dict(options))
    cats = kwargs.pop("categories") or []
    if len(cats) != 1:
        raise ConfigError("`lifecircle site` needs exactly one --category to site")
    siting_keys = ("new", "target_share", "candidates", "candidates_crs", "spacing_m",
                   "method", "solver", "capacity", "existing_capacity", "remove",
                   "time_limit_s")
    site_kwargs = {k: kwargs.pop(k) for k in siting_keys}
    # checked here, so that a bad value is named as typed; run_site runs the same options
    configs({k: v for k, v in kwargs.items() if k not in ("out", "overwrite")})
    progress = Progress(quiet)
    try:
        result, siting = run_site(kwargs.pop("osm"), category=cats[0], progress=progress,
                                  **site_kwargs, **kwargs)
    finally:
        progress.close()
    if not quiet:
        sol = siting.report["solution"]
        click.echo(
            f"{len(siting.proposed_sites)} new {cats[0]} site(s) ({sol['method']}, "
            f"{sol['status']}): {sol['population_newly_covered']:,.0f} residents newly "
            f"covered ({sol['population_covered_before']:,.0f} -> "
            f"{sol['population_covered_after']:,.0f})"
        )
        for row in siting.report["sites"]:
            click.echo(f"  #{row['rank']} {row['candidate_id']}: +{row['gain_population']:,.0f}")
        click.echo(f"Wrote {result.out}")


@cli.command("isochrones")
@click.argument("run_path", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--category", "categories", multiple=True,
              help="Draw this category's union over its facilities (repeatable).")
@click.option("--facility", "facility_ids", multiple=True,
              help="Draw this facility's own bands, by facility_id (repeatable).")
@isochrone_options
@click.option("--speed-kmh", type=float, default=None,
              help="Walking speed for every category (default: the run's speeds).")
@click.option("--cumulative", is_flag=True,
              help="Rows hold everything within each band (nested) instead of rings.")
@click.option("--method", type=click.Choice(["raster", "vector"]), default="raster",
              show_default=True,
              help="Outlines on a 5 m grid (fast) or exact round buffers (slower).")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="Output .gpkg (layer 'isochrones') or .geojson (WGS 84).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
@guarded
def isochrones_cmd(run_path: Path, out: Path, overwrite: bool, debug: bool,
                   **options: Any) -> None:
    """Isochrone bands from a finished run (RUN: its output folder or lifecircle.gpkg).

    Rebuilds the network from the run's edges layer; the run's folder is not modified.
    """
    from .isochrones import DEFAULT_BANDS_MIN, DEFAULT_WALK_IN_M
    from .outputs.isochrone_file import isochrones_from_run, write_isochrones

    bands = options.pop("isochrone_bands_min") or DEFAULT_BANDS_MIN
    walk_in = options.pop("walk_in_m")
    frame = isochrones_from_run(run_path, bands_min=bands,
                                walk_in_m=DEFAULT_WALK_IN_M if walk_in is None else walk_in,
                                **options)
    path = write_isochrones(frame, out, overwrite=overwrite, run=run_path)
    click.echo(f"Wrote {len(frame)} isochrone rows to {path}")
@cli.command("map")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--category", default=None,
              help="Category shown when the map opens (default: the complete-life-circle view).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default=None,
              help="Language of the map (default: the run's).")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Map file to write (default: RUN/map.html).")
@map_options
@click.option("--overwrite", is_flag=True, help="Replace an existing map file.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
@guarded
def map_cmd(run_dir: Path, **options: Any) -> None:
    """Redraw the interactive map of a finished run from its GeoPackage (no recomputation)."""
    from .outputs.products import map_from_run

    quiet = options.pop("quiet")
    options.pop("debug")
    path = map_from_run(run_dir, **options)
    if not quiet:
        click.echo(f"Wrote {path}")
@cli.command("batch")
@click.argument("regions", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="Batch folder: one folder per region and batch_summary.json.")
@click.option("--scheduler", default=None,
              help="Address of a dask scheduler (tcp://host:port). Default: a local cluster.")
@click.option("--workers", "n_workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster (default: CPU count).")
@click.option("--memory-limit", default=None,
              help="Memory per local worker, e.g. 2GB; a worker above it is killed and its "
              "region fails.")
@click.option("--force", is_flag=True, help="Rerun every region, even those up to date.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress or table.")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
@guarded
def batch_cmd(regions: Path, out: Path, verbose: int, quiet: bool, debug: bool,
              **options: Any) -> None:
    """Run every [[region]] of a REGIONS .toml file as a task on a dask cluster.

    Each region writes OUT/<name>/ atomically; a failing region (a bad name, option or input
    file, or a run error) does not stop the others; a rerun skips regions whose output matches
    their inputs and configuration. OUT/batch_summary.json is always written. Exit code 4
    when some regions failed, 3 when the batch could not start (an unreadable regions file).
    """
    from ._batch_cli import BatchProgress, summary_table
    from ._errors import BatchError, ConfigError
    from .batch import read_regions, run_batch, write_summary

    _configure_logging(verbose, quiet)
    # dask logs cluster start-up and shutdown at INFO: only -vv shows them, -v its warnings
    # (set after importing distributed, whose import sets its own levels)
    with contextlib.suppress(ImportError):
        import distributed  # noqa: F401
    logging.getLogger("distributed").setLevel(
        logging.CRITICAL if verbose == 0 else logging.WARNING if verbose == 1 else logging.DEBUG
    )
    try:
        todo = read_regions(regions, strict=False)
    except ConfigError as exc:  # the batch cannot start (exit 3); the summary says why
        with contextlib.suppress(OSError):
            Path(out).mkdir(parents=True, exist_ok=True)
            write_summary(out, [], error=str(exc))
        raise
    with BatchProgress(len(todo), quiet=quiet) as progress:
        result = run_batch(todo, out, progress=progress, **options)
    if not quiet:
        summary_table(result.regions, result.summary_path)
    if result.failed:
        names = ", ".join(f"{r['name']} ({r['reason']})" for r in result.failed)
        raise BatchError(
            f"{len(result.failed)} of {len(result.regions)} regions failed: {names}; see "
            f"{result.summary_path}; fix them and rerun (finished regions are skipped)"
        )


#: set by a command whose process may end without tearing its objects down (see :func:`main`)
_DONE: list[bool] = []


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lifecircle`` console script.

    After a successful ``lifecircle run`` from the command line (``argv`` not given), the
    process ends at once (``os._exit``) once its output is flushed: the interpreter's
    teardown of a run's tables and libraries cost a few tenths of a second for nothing (the
    output folder is complete and every worker joined before ``_SUCCESS.json`` is written).
    """
    try:
        cli.main(args=argv, prog_name="lifecircle")
    except SystemExit as exc:
        if argv is None and _DONE and exc.code in (0, None):
            logging.shutdown()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to add
                    stream.flush()
            os._exit(0)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
