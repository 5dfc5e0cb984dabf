"""The ``lifecircle`` command.

Errors a user can cause print as one line (``lifecircle: error: ...``) with the exit code of
their class (2 bad input, 3 bad configuration, 4 partial batch failure, 5 resource limit); only
``-v`` adds logging, and only an unexpected bug prints a traceback (with ``--debug``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ._errors import LifecircleError
from ._version import __version__

__all__ = ["cli", "main"]


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    lines = [f"lifecircle {__version__}"]
    for dist in (
        "numpy",
        "scipy",
        "pandas",
        "shapely",
        "pyproj",
        "geopandas",
        "pyogrio",
        "osmium",
        "osmnx",
        "networkx",
        "rasterio",
        "folium",
        "momepy",
        "numba",
    ):
        try:
            lines.append(f"  {dist} {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"  {dist} (not installed)")
    try:
        import pyproj

        lines.append(f"  PROJ {pyproj.proj_version_str}")
    except ImportError:
        pass
    try:
        import pyogrio

        lines.append(f"  GDAL {pyogrio.__gdal_version_string__}")
    except (ImportError, AttributeError):
        pass
    return "\n".join(lines)


def _print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(_versions())
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


def common_inputs(f: Callable[..., Any]) -> Callable[..., Any]:
    """Input options shared by `run` and the commands built on it."""
    options = [
        click.option(
            "--osm",
            type=click.Path(path_type=Path),
            default=None,
            help="Local OSM file (.osm.pbf/.osm/.osm.gz/.osm.bz2) or GraphML. "
            "Default: the bundled central-Helsinki extract.",
        ),
        click.option(
            "--place",
            default=None,
            help="Download the network for a place name through osmnx (internet).",
        ),
        click.option(
            "--polygon",
            type=click.Path(path_type=Path),
            default=None,
            help="Polygon file of the analysis area: with --osm only blocks inside it are "
            "evaluated; alone, the area to download through osmnx (internet).",
        ),
        click.option(
            "--profile",
            default="walk15",
            show_default=True,
            help="Built-in profile name or a profile .toml file.",
        ),
        click.option(
            "--facilities",
            type=click.Path(path_type=Path),
            default=None,
            help="Facility file (CSV/GeoJSON/GeoPackage) with a 'category' column; "
            "replaces the OSM facilities of its categories.",
        ),
        click.option(
            "--category-col", default="category", show_default=True,
            help="Column of the facility file that names each row's category.",
        ),
        click.option("--name-col", default="name", show_default=True,
                     help="Column of the facility file with names."),
        click.option("--id-col", default=None,
                     help="Column of the facility file with unique ids (default: id or row)."),
        click.option("--x-col", default=None,
                     help="Longitude/x column of a facility CSV (default: lon/lng/x...)."),
        click.option("--y-col", default=None,
                     help="Latitude/y column of a facility CSV (default: lat/y...)."),
        click.option("--type-map", type=click.Path(path_type=Path), default=None,
                     help="CSV of prefix,category rows: categories from a POI type column "
                     "(longest prefix wins), e.g. for Gaode/Baidu POI tables."),
        click.option("--type-col", default=None,
                     help="Column of the facility file read with --type-map (default: type)."),
        click.option(
            "--facilities-crs",
            default=None,
            help="Coordinates of the facility file: EPSG:…, wgs84, gcj02 or bd09.",
        ),
        click.option(
            "--blocks",
            type=click.Path(path_type=Path),
            default=None,
            help="Residential block polygons (optional 'population' column).",
        ),
        click.option(
            "--blocks-crs", default=None, help="CRS of the block file when it declares none."
        ),
        click.option(
            "--population",
            type=click.Path(path_type=Path),
            default=None,
            help="Population GeoTIFF (people per pixel): exact zonal sums per block.",
        ),
        click.option(
            "--population-total",
            type=float,
            default=None,
            help="Known total population: block populations are scaled to sum to it.",
        ),
        click.option(
            "--dem",
            type=click.Path(path_type=Path),
            default=None,
            help="Elevation GeoTIFF (metres): slope per walking direction (Tobler).",
        ),
        click.option(
            "--speed-kmh",
            type=float,
            default=None,
            help="Walking speed of the default group, km/h (profile default).",
        ),
        click.option(
            "--minutes",
            type=float,
            default=None,
            help="Threshold in minutes for every category (profile default).",
        ),
        click.option(
            "--category",
            "categories",
            multiple=True,
            help="Evaluate only this category (repeatable).",
        ),
        click.option(
            "--max-snap-m",
            type=float,
            default=None,
            help="Points farther than this from any street are unreachable.",
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            default=Path("lifecircle-out"),
            show_default=True,
            help="Output folder.",
        ),
        click.option("--overwrite", is_flag=True, help="Replace an existing output folder."),
        click.option(
            "--lang",
            type=click.Choice(["en", "zh"]),
            default="en",
            show_default=True,
            help="Language of the report and map.",
        ),
        click.option("-v", "--verbose", count=True, help="More logging (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress or summary."),
        click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


class _Progress:
    """Step-by-step progress on stderr (silent with -q)."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._status: Any = None

    def __call__(self, kind: str, message: str) -> None:
        if self.quiet:
            return
        if kind == "start":
            self._status = self.console.status(message + " …")
            self._status.start()
        else:
            if self._status is not None:
                self._status.stop()
                self._status = None
            self.console.print(f"[green]✓[/green] {message}")

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _summary_table(result: Any, lang: str) -> None:
    """One screen: coverage per category, then the complete life circle."""
    from rich.console import Console
    from rich.table import Table

    from .i18n import messages

    s = result.report["summary"]
    zh = lang == "zh"
    t = messages("cli", "zh" if zh else "en")
    title = t["title"].format(blocks=s["blocks"], people=f"{s['population']:,.0f}")
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(t["headers"]):
        # long category names (GB 50180 facility types) wrap; the figures never do
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i > 0,
                         min_width=None if i == 0 else len(name) + 1)
    for v in s["categories"].values():
        label = v["label_zh"] if zh and v["label_zh"] else v["label_en"]
        median = "–" if v["median_walk_min"] is None else f"{v['median_walk_min']:.1f}′"
        table.add_row(
            label,
            str(v["facilities"]),
            f"{round(v['threshold_min'], 1):g}′",
            str(v["blocks_covered"]),
            f"{100 * (v['share_blocks_covered'] or 0):.0f}%",
            f"{v['population_covered']:,.0f}",
            f"{100 * (v['share_population_covered'] or 0):.0f}%",
            median,
        )
    comp = s["complete_life_circle"]
    table.caption = t["complete"] + (
        f"{comp['population']:,.0f} ({100 * (comp['share_population'] or 0):.0f}%)")
    table.caption_justify = "left"
    Console().print(table)


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


def run_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`lifecircle.pipeline.run` from the `common_inputs` options.

    Pops the logging options (``verbose``, ``quiet``, ``debug``) and the facility column names
    out of ``options``; what is left is passed through unchanged.
    """
    for key in ("verbose", "quiet", "debug"):
        options.pop(key, None)
    columns = {
        f"{key}": value
        for key in ("category_col", "name_col", "id_col", "x_col", "y_col", "type_map", "type_col")
        if (value := options.pop(key, None)) is not None
    }
    options["facility_columns"] = columns
    options["categories"] = list(options.get("categories") or ()) or None
    return options


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
    f = click.option("--walk-in-m", type=float, default=None,
                     help="Buffer around reached streets, metres (default 50).")(f)
    return click.option("--bands", "isochrone_bands_min", callback=_bands, default=None,
                        help="Isochrone band limits in minutes (default 5,10,15).")(f)
def map_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the web map shared by `run` and `map`."""
    options = [
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
        click.option("--tiles-attribution", default=None,
                     help="Credit shown for a --tiles URL template."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@cli.command("run")
@common_inputs
@isochrone_options
@click.option("--facility-isochrones", is_flag=True,
              help="Also draw every facility's own isochrone bands.")
@click.option("--isochrones/--no-isochrones", "isochrones", default=None,
              help="Draw the isochrones layer (default: yes, unless the network has more "
              "than 250,000 nodes).")
@map_options
@click.option("--map/--no-map", "map", default=None,
              help="Write map.html (default: yes, unless the network has more than 250,000 "
              "nodes).")
@click.option("--no-figures", "figures", flag_value=False, default=True,
              help="Do not write figures/*.png.")
@click.option("--rasters/--no-rasters", "rasters", default=None,
              help="Write rasters/walk_min_<category>.tif (default: yes, unless the network has "
              "more than 250,000 nodes).")
@click.option("--cell-m", "raster_cell_m", type=float, default=None,
              help="Cell size of the travel-time rasters in metres (default 25).")
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

    With no options, runs on the bundled central-Helsinki extract and writes
    ./lifecircle-out (lifecircle.gpkg, report.json, report.md, map.html, figures/, rasters/).
    """
    from .pipeline import run

    quiet = bool(options.get("quiet"))
    lang = options.get("lang", "en")
    _configure_logging(options.get("verbose", 0), quiet)
    progress = _Progress(quiet)
    kwargs = run_kwargs(dict(options))
    for key in ("isochrone_bands_min", "walk_in_m"):
        if kwargs.get(key) is None:
            kwargs.pop(key, None)
    try:
        result = run(kwargs.pop("osm"), progress=progress, **kwargs)
    finally:
        progress.close()
    if not quiet:
        _summary_table(result, lang)
        click.echo(f"Wrote {result.out}")


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
    progress = _Progress(quiet)
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
@click.option("--out", type=click.Path(path_type=Path), required=True,
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
@click.option("--out", type=click.Path(path_type=Path), default=None,
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
@click.option("--out", type=click.Path(path_type=Path), required=True,
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

    Each region writes OUT/<name>/ atomically; a failing region does not stop the others;
    a rerun skips regions whose output matches their inputs and configuration. Exit code 4
    when any region failed.
    """
    from ._batch_cli import BatchProgress, summary_table
    from ._errors import BatchError
    from .batch import read_regions, run_batch

    _configure_logging(verbose, quiet)
    # dask logs cluster start-up and shutdown at INFO: only -vv shows them, -v its warnings
    # (set after importing distributed, whose import sets its own levels)
    with contextlib.suppress(ImportError):
        import distributed  # noqa: F401
    logging.getLogger("distributed").setLevel(
        logging.CRITICAL if verbose == 0 else logging.WARNING if verbose == 1 else logging.DEBUG
    )
    todo = read_regions(regions)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lifecircle`` console script."""
    cli.main(args=argv, prog_name="lifecircle")


if __name__ == "__main__":  # pragma: no cover
    main()
