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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

    s = result.report["summary"]
    zh = lang == "zh"
    title = (
        f"步行生活圈覆盖：{s['blocks']} 个街坊，{s['population']:,.0f} 人"
        if zh
        else f"Walking coverage: {s['blocks']} blocks, {s['population']:,.0f} people"
    )
    table = Table(title=title, title_justify="left")
    headers = (
        ["类别", "设施", "阈值", "街坊", "", "人口", "", "中位"]
        if zh
        else ["category", "sites", "limit", "blocks", "", "people", "", "median"]
    )
    for i, name in enumerate(headers):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for v in s["categories"].values():
        label = v["label_zh"] if zh and v["label_zh"] else v["label_en"]
        median = "–" if v["median_walk_min"] is None else f"{v['median_walk_min']:.1f}′"
        table.add_row(
            label,
            str(v["facilities"]),
            f"{v['threshold_min']:g}′",
            str(v["blocks_covered"]),
            f"{100 * (v['share_blocks_covered'] or 0):.0f}%",
            f"{v['population_covered']:,.0f}",
            f"{100 * (v['share_population_covered'] or 0):.0f}%",
            median,
        )
    comp = s["complete_life_circle"]
    table.caption = (
        "全部类别均覆盖的人口：" if zh else "people with every category covered: "
    ) + f"{comp['population']:,.0f} ({100 * (comp['share_population'] or 0):.0f}%)"
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
        for key in ("category_col", "name_col", "id_col", "x_col", "y_col")
        if (value := options.pop(key, None)) is not None
    }
    options["facility_columns"] = columns
    options["categories"] = list(options.get("categories") or ()) or None
    return options


@cli.command("run")
@common_inputs
@guarded
def run_cmd(**options: Any) -> None:
    """Walking times, coverage and gaps for every residential block.

    With no options, runs on the bundled central-Helsinki extract and writes
    ./lifecircle-out (lifecircle.gpkg, report.json, report.md).
    """
    from .pipeline import run

    quiet = bool(options.get("quiet"))
    lang = options.get("lang", "en")
    _configure_logging(options.get("verbose", 0), quiet)
    progress = _Progress(quiet)
    kwargs = run_kwargs(dict(options))
    try:
        result = run(kwargs.pop("osm"), progress=progress, **kwargs)
    finally:
        progress.close()
    if not quiet:
        _summary_table(result, lang)
        click.echo(f"Wrote {result.out}")


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
