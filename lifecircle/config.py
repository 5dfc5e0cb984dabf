"""What a run analyses (:class:`Analysis`) and what it writes (:class:`Outputs`), as data.

Both are frozen dataclasses that check themselves when made, so every entry point (the
Python API, ``lifecircle run``, a batch region) gets the same one-line errors. Their fields
are the keys of a TOML table, the same keys a ``[[region]]`` of ``lifecircle batch`` uses::

    osm = "extracts/nanjing.osm.pbf"    # or place = "...", or polygon = "area.geojson"
    profile = "gb50180-2018"
    categories = ["retail", "health"]
    minutes = 15
    map = false                          # an output choice

To add an analysis option: add a field to :class:`Analysis` (its default, its TOML types and
one line of help in ``_meta``; a check in ``__post_init__`` when it needs more than a type),
read it in :func:`lifecircle.pipeline.analyse`, and give the ``run`` command in ``cli.py`` a
click option of the same name. Batch regions, TOML files, ``run_metadata``, the run's
fingerprint and the Python API follow from the field (``lifecircle.run(...)`` takes it as a
keyword argument once it is added to run's signature, which a test checks).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from ._errors import ConfigError, did_you_mean
from .columns import is_raster_name
from .isochrones import DEFAULT_BANDS_MIN, DEFAULT_WALK_IN_M
from .profiles import Profile, load_profile

__all__ = [
    "DEFAULT_OSM",
    "FACILITY_COLUMN_KEYS",
    "FILE_OPTIONS",
    "Analysis",
    "OptionError",
    "Outputs",
    "default_osm",
    "load_toml",
    "option_types",
    "read_toml",
    "resolve_paths",
    "split_options",
    "write_toml",
]

#: the bundled default extract (central Helsinki, © OpenStreetMap contributors, ODbL)
DEFAULT_OSM = Path(__file__).resolve().parent.parent / "data" / "helsinki.osm.pbf"
_PACKAGED_OSM = Path(__file__).resolve().parent / "data" / "helsinki.osm.pbf"

#: options naming input files: relative to a TOML file's folder; their content is hashed
FILE_OPTIONS = ("osm", "polygon", "facilities", "blocks", "population", "dem")
#: keys of ``facility_columns`` (keyword arguments of the facility reader)
FACILITY_COLUMN_KEYS = ("category_col", "name_col", "id_col", "x_col", "y_col", "type_map",
                        "type_col")


def default_osm() -> Path:
    """The bundled default extract (source checkout or installed package)."""
    from ._errors import InputError

    for p in (DEFAULT_OSM, _PACKAGED_OSM):
        if p.is_file():
            return p
    raise InputError(
        "the bundled default extract data/helsinki.osm.pbf is missing; "
        "reinstall lifecircle or pass --osm FILE"
    )


class OptionError(ConfigError):
    """A bad value of one option; the message names the option as the user wrote it.

    ``str(err)`` names the field (``minutes must be ...``); :meth:`named` gives the same error
    under the spelling of the caller (``--minutes`` on the command line, ``regions.toml:
    region 'a': minutes`` in a batch).
    """

    def __init__(self, option: str, problem: str, label: str | None = None) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"{label or option} {problem}")

    def named(self, label: str) -> OptionError:
        """The same error with the option called ``label``."""
        return OptionError(self.option, self.problem, label)


def _meta(*toml: type, doc: str) -> dict[str, Any]:
    """A config field's metadata: the TOML types it accepts and one line of help."""
    return {"toml": toml, "doc": doc}


def _number(key: str, value: Any, *, positive: bool = True) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = "; write the number alone, the unit is in the option name" \
            if isinstance(value, str) else ""
        raise OptionError(key, f"must be a number, got {value!r}{hint}")
    if not math.isfinite(value) or (positive and value <= 0):
        raise OptionError(key, f"must be a positive number, got {value!r}")
    return float(value)


def _text(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise OptionError(key, f"must be a string, got {value!r}")
    return value


def _path(value: Any) -> Path | None:
    return None if value is None else Path(value)


_C = TypeVar("_C", bound="_Table")


class _Table:
    """What :class:`Analysis` and :class:`Outputs` share: TOML keys in, plain data out."""

    @classmethod
    def keys(cls) -> list[str]:
        """The option names, in field order."""
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[_C], data: Mapping[str, Any], *, where: str = "<config>",
                  base_dir: str | Path | None = None) -> _C:
        """Build from a TOML table; unknown keys and wrong types name ``where`` and the key.

        With ``base_dir``, relative file paths are taken relative to it (a TOML file's folder).
        """
        types = option_types(cls)
        for key, value in data.items():
            _check_toml(key, value, types, where)
        values = dict(data)
        if base_dir is not None:
            values = resolve_paths(values, Path(base_dir))
        try:
            return cls(**values)
        except OptionError as exc:
            raise exc.named(f"{where}: {exc.option}") from None

    def to_dict(self) -> dict[str, Any]:
        """The options that differ from the defaults, as TOML-ready plain data."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or value == f.default:
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, Profile):
                value = value.path or value.name
            elif isinstance(value, tuple):
                value = dict(value) if f.name == "facility_columns" else list(value)
            out[f.name] = value
        return out

    def replace(self: _C, **changes: Any) -> _C:
        """A copy with some options changed (checked again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Analysis(_Table):
    """What a run analyses: the network source, the profile and its overrides, the inputs.

    Every field is a key of a TOML table and of a batch region; see the module notes.
    Checked when made (:class:`OptionError`, a :class:`~lifecircle.ConfigError`).
    """

    osm: Path | None = field(default=None, metadata=_meta(
        str, doc="Local OSM file (.osm.pbf/.osm/.osm.gz/.osm.bz2) or GraphML; default: the "
        "bundled central-Helsinki extract (when no place or polygon is given)."))
    place: str | None = field(default=None, metadata=_meta(
        str, doc="Place name to download through osmnx."))
    polygon: Path | None = field(default=None, metadata=_meta(
        str, doc="Analysis area: with osm only the blocks inside it are evaluated; alone, the "
        "area to download."))
    profile: str | Profile = field(default="walk15", metadata=_meta(
        str, doc="Built-in profile or a profile .toml."))
    categories: tuple[str, ...] | None = field(default=None, metadata=_meta(
        list, doc="Evaluate only these categories of the profile."))
    speed_kmh: float | None = field(default=None, metadata=_meta(
        int, float, doc="Walking speed of the profile's default group, km/h."))
    minutes: float | None = field(default=None, metadata=_meta(
        int, float, doc="Threshold for every category, minutes."))
    max_snap_m: float | None = field(default=None, metadata=_meta(
        int, float, doc="Points farther than this from any street are unreachable."))
    dem: Path | None = field(default=None, metadata=_meta(
        str, doc="Elevation GeoTIFF (metres): slope per walking direction."))
    population: Path | None = field(default=None, metadata=_meta(
        str, doc="Population GeoTIFF (people per pixel): exact zonal sums per block."))
    population_total: float | None = field(default=None, metadata=_meta(
        int, float, doc="Known total population: block populations are scaled to sum to it."))
    facilities: Path | None = field(default=None, metadata=_meta(
        str, doc="Facility file; replaces the OSM facilities of its categories."))
    facility_columns: tuple[tuple[str, str], ...] = field(default=(), metadata=_meta(
        dict, doc="Column names of the facility file (category_col, name_col, ...)."))
    facilities_crs: str | None = field(default=None, metadata=_meta(
        str, doc="CRS of the facility file: EPSG:…, wgs84, gcj02 or bd09."))
    blocks: Path | None = field(default=None, metadata=_meta(
        str, doc="Residential block polygons."))
    blocks_crs: str | None = field(default=None, metadata=_meta(
        str, doc="CRS of the block file when it declares none."))
    group: str | None = field(default=None, metadata=_meta(
        str, doc="Evaluate every category for this profile group (e.g. wheelchair)."))
    group_population: tuple[str, ...] | None = field(default=None, metadata=_meta(
        list, dict, doc="RESIDENTS=COLUMN (or =FILE.tif) of the residents categories serve."))
    targets: tuple[str, ...] | None = field(default=None, metadata=_meta(
        list, doc="Target sets stacked on the profile (built-in names or TOML files)."))
    staff_col: str | None = field(default=None, metadata=_meta(
        str, doc="Facility-file column of staff counts (default staff)."))
    flag_col: str | None = field(default=None, metadata=_meta(
        str, doc="Facility-file column of volunteer-site flags (default volunteer_site)."))

    def __post_init__(self) -> None:
        put = object.__setattr__
        for key in FILE_OPTIONS:
            put(self, key, _path(getattr(self, key)))
        for key in ("place", "facilities_crs", "blocks_crs", "group", "staff_col", "flag_col"):
            _text(key, getattr(self, key))
        for key in ("speed_kmh", "minutes", "max_snap_m", "population_total"):
            put(self, key, _number(key, getattr(self, key)))
        if isinstance(self.profile, Path):
            put(self, "profile", str(self.profile))
        elif not isinstance(self.profile, str | Profile):
            raise OptionError("profile", f"must be a profile name or file, got {self.profile!r}")
        put(self, "categories", _strings("categories", self.categories))
        put(self, "targets", _strings("targets", self.targets))
        population = self.group_population
        if isinstance(population, Mapping):  # {residents: column} from Python or TOML
            population = [f"{k}={v}" for k, v in population.items()]
        put(self, "group_population", _strings("group_population", population))
        put(self, "facility_columns", _facility_columns(self.facility_columns))
        if self.place is not None and self.osm is not None:
            raise OptionError("place", "goes alone; give osm or place, not both")
        if self.place is not None and self.polygon is not None:
            raise OptionError("polygon", "goes with osm (to restrict the blocks) or alone (to "
                              "download that area), not with place")

    @cached_property
    def full_profile(self) -> Profile:
        """The profile for ``group``, with the ``targets`` stacked and the speed and threshold
        overrides (every category)."""
        prof = load_profile(self.profile)
        prof = (prof.for_group(self.group) if self.group else prof).stack_targets(
            list(self.targets) if self.targets else None)
        return prof.replace(speed_kmh=self.speed_kmh, threshold_min=self.minutes)

    @cached_property
    def effective_profile(self) -> Profile:
        """The profile the run evaluates: overrides applied, narrowed to ``categories``."""
        cats = None if self.categories is None else list(self.categories)
        return self.full_profile.replace(categories=cats)

    @property
    def snap_limit_m(self) -> float:
        """``max_snap_m``, or the profile's when not given."""
        return self.effective_profile.max_snap_m if self.max_snap_m is None else self.max_snap_m

    @property
    def osm_path(self) -> Path | None:
        """The OSM file read: ``osm``, else the bundled extract unless downloading."""
        if self.osm is not None:
            return self.osm
        return None if self.place is not None or self.polygon is not None else default_osm()

    def group_population_items(self) -> list[tuple[str, str]]:
        """``group_population`` as (group name, column or raster path) pairs."""
        return [(name.strip(), value.strip()) for name, _, value in
                (item.partition("=") for item in self.group_population or ())]

    def input_files(self) -> dict[str, Path]:
        """Every input file of the run by option name (the bundled extract included); a
        group's population raster is ``group_population:NAME``."""
        files = {key: getattr(self, key) for key in FILE_OPTIONS}
        files["osm"] = self.osm_path
        files.update({f"group_population:{name}": Path(value).expanduser()
                      for name, value in self.group_population_items()
                      if is_raster_name(value)})
        return {k: p for k, p in files.items() if p is not None}

    @classmethod
    def from_toml(cls, path: str | Path) -> Analysis:
        """Read the analysis keys of a TOML file (see :func:`read_toml` for outputs too)."""
        return read_toml(path)[0]

    def to_toml(self, path: str | Path, outputs: Outputs | None = None) -> Path:
        """Write the options (and ``outputs``) as a TOML file :meth:`from_toml` reads back."""
        return write_toml(path, self, outputs)


@dataclass(frozen=True)
class Outputs(_Table):
    """What a saved run writes besides the GeoPackage and reports.

    ``None`` for ``isochrones``, ``map`` and ``rasters`` means auto: on, at every network
    size.
    """

    lang: str = field(default="en", metadata=_meta(
        str, doc="Language of the report, map and figures: en or zh."))
    isochrones: bool | None = field(default=None, metadata=_meta(
        bool, doc="Draw the isochrones layer."))
    isochrone_bands_min: tuple[float, ...] = field(default=DEFAULT_BANDS_MIN, metadata=_meta(
        list, doc="Isochrone band limits in minutes."))
    walk_in_m: float = field(default=DEFAULT_WALK_IN_M, metadata=_meta(
        int, float, doc="Buffer around reached streets, metres."))
    facility_isochrones: bool = field(default=False, metadata=_meta(
        bool, doc="Each facility's own isochrone bands too."))
    isochrone_cell_m: float | None = field(default=None, metadata=_meta(
        int, float, doc="Grid cell of the isochrone outlines in metres (default 5, 10 where "
        "the network's 5 m grid would pass 40 million cells)."))
    map: bool | None = field(default=None, metadata=_meta(bool, doc="Write map.html."))
    cdn: bool = field(default=False, metadata=_meta(
        bool, doc="Link Leaflet from its CDN (a smaller map.html that needs the internet)."))
    self_contained: bool = field(default=False, metadata=_meta(
        bool, doc="No effect: map.html is self-contained unless cdn."))
    tiles: str | None = field(default="osm", metadata=_meta(
        str, doc="Background tiles: osm, none, an xyzservices name or a URL template."))
    tiles_attribution: str | None = field(default=None, metadata=_meta(
        str, doc="Credit shown for a tiles URL template."))
    figures: bool = field(default=True, metadata=_meta(bool, doc="Write figures/*.png."))
    rasters: bool | None = field(default=None, metadata=_meta(
        bool, doc="Write rasters/walk_min_<category>.tif."))
    raster_cell_m: float | None = field(default=None, metadata=_meta(
        int, float, doc="Cell size of the rasters in metres (default 25, coarser where the "
        "raster would pass 3 million cells)."))
    layer_format: str = field(default="gpkg", metadata=_meta(
        str, doc="Where the big layers (blocks, access points, facilities, edges, "
        "isochrones) go: gpkg (lifecircle.gpkg) or parquet (GeoParquet files beside it)."))

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.lang not in ("en", "zh"):
            raise OptionError("lang", f"must be en or zh, got {self.lang!r}")
        if self.layer_format not in ("gpkg", "parquet"):
            raise OptionError("layer_format", f"must be gpkg or parquet, got "
                              f"{self.layer_format!r}")
        put(self, "walk_in_m", _number("walk_in_m", self.walk_in_m))
        put(self, "raster_cell_m", _number("raster_cell_m", self.raster_cell_m))
        put(self, "isochrone_cell_m", _number("isochrone_cell_m", self.isochrone_cell_m))
        try:
            bands = tuple(float(b) for b in self.isochrone_bands_min)
        except (TypeError, ValueError):
            raise OptionError("isochrone_bands_min", "must be numbers of minutes, got "
                              f"{self.isochrone_bands_min!r}; e.g. 5,10,15") from None
        put(self, "isochrone_bands_min", bands)
        _text("tiles", self.tiles)
        _text("tiles_attribution", self.tiles_attribution)

    def check(self, profile: Profile, *, writing: bool = True) -> tuple[float, ...]:
        """Check the options that depend on the profile or (when ``writing``) the map engine;
        returns the isochrone bands."""
        from .isochrones import check_run_options

        if writing and self.map is not False:
            from .outputs.products import check_tiles

            check_tiles(self.tiles, self.tiles_attribution)
        return check_run_options(self.isochrone_bands_min, self.walk_in_m, profile.horizon_min,
                                 cell_m=self.isochrone_cell_m)


def option_types(*tables: type[_Table]) -> dict[str, tuple[type, ...]]:
    """The TOML types of every option of ``tables`` (default: both), by name."""
    out: dict[str, tuple[type, ...]] = {}
    for cls in tables or (Analysis, Outputs):
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            out[f.name] = f.metadata["toml"]
    return out


def _check_toml(key: str, value: Any, types: Mapping[str, tuple[type, ...]], where: str,
                extra: Sequence[str] = ()) -> None:
    if key not in types:
        allowed = [*extra, *types]
        raise ConfigError(
            f"{where}: unknown key {key!r}{did_you_mean(key, allowed)}; "
            f"allowed keys: {', '.join(allowed)}"
        )
    kinds = types[key]
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        kind = " or ".join(t.__name__ for t in kinds).replace("str", "string")
        raise ConfigError(
            f"{where}: {key} must be a {kind}, got {type(value).__name__} {value!r}"
        )
    if isinstance(value, dict):
        _facility_columns(value, where=f"{where}: ")


def _strings(key: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(c, str | Path) for c in value):
        raise OptionError(key, f"must be a list of strings, got {value!r}")
    return tuple(str(c) for c in value) or None


def _facility_columns(value: Any, where: str = "") -> tuple[tuple[str, str], ...]:
    items = dict(value or {}).items()
    for k, v in items:
        if k not in FACILITY_COLUMN_KEYS:
            raise ConfigError(
                f"{where}unknown facility_columns key {k!r}"
                f"{did_you_mean(k, FACILITY_COLUMN_KEYS)}; allowed: "
                f"{', '.join(FACILITY_COLUMN_KEYS)}"
            )
        if not isinstance(v, str | Path):
            raise ConfigError(f"{where}facility_columns.{k} must be a string")
    return tuple(sorted((k, str(v)) for k, v in items))


def _resolve_raster_item(item: str, base: Path) -> str:
    name, sep, value = item.partition("=")
    if not sep or not is_raster_name(value):
        return item
    p = Path(value.strip()).expanduser()
    return f"{name}={p if p.is_absolute() else base / p}"


def resolve_paths(options: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``options`` with relative file paths (and a profile file) taken relative to ``base``."""
    out = dict(options)
    for key in FILE_OPTIONS:
        if isinstance(out.get(key), str):
            p = Path(out[key]).expanduser()
            out[key] = str(p if p.is_absolute() else base / p)
    prof = out.get("profile")
    if isinstance(prof, str) and (prof.endswith(".toml") or "/" in prof):
        p = Path(prof).expanduser()
        out["profile"] = str(p if p.is_absolute() else base / p)
    if isinstance(out.get("group_population"), list):  # a group's raster, not its column
        out["group_population"] = [
            _resolve_raster_item(item, base) if isinstance(item, str) else item
            for item in out["group_population"]]
    columns = out.get("facility_columns")
    if isinstance(columns, dict) and isinstance(columns.get("type_map"), str):
        p = Path(columns["type_map"]).expanduser()
        out["facility_columns"] = {**columns, "type_map": str(p if p.is_absolute() else base / p)}
    return out


def split_options(
    options: Mapping[str, Any], *, where: str = "<config>", base_dir: str | Path | None = None,
    extra: Sequence[str] = (),
) -> tuple[Analysis, Outputs]:
    """An :class:`Analysis` and an :class:`Outputs` from one flat table of options.

    Keys in ``extra`` (e.g. a region's ``name``) are allowed and ignored; any other key that
    is not an option of either is an error with a did-you-mean.
    """
    types = option_types()
    for key, value in options.items():
        if key not in extra:
            _check_toml(key, value, types, where, extra)
    keys = set(Analysis.keys())
    analysis = Analysis.from_dict({k: v for k, v in options.items() if k in keys},
                                  where=where, base_dir=base_dir)
    outputs = Outputs.from_dict({k: v for k, v in options.items() if k in set(Outputs.keys())},
                                where=where)
    return analysis, outputs


def load_toml(path: str | Path, what: str = "configuration") -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found; give a .toml file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def read_toml(path: str | Path) -> tuple[Analysis, Outputs]:
    """Read a TOML file of options (relative paths are relative to its folder)."""
    return split_options(load_toml(path), where=str(path),
                         base_dir=Path(path).resolve().parent)


def write_toml(path: str | Path, analysis: Analysis, outputs: Outputs | None = None) -> Path:
    """Write ``analysis`` (and ``outputs``) as one flat TOML table; returns the path."""
    import tomli_w

    if isinstance(analysis.profile, Profile) and analysis.profile.path is None:
        raise ConfigError(
            f"profile {analysis.profile.name!r} was built in memory; save it as a .toml file "
            "and give its path, so that the configuration can be written"
        )
    data = {**analysis.to_dict(), **(outputs.to_dict() if outputs is not None else {})}
    path = Path(path)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path
