"""The map, figures and rasters of a run, and the map of a finished run's GeoPackage.

:func:`write_products` is the output step of :func:`lifecircle.pipeline.run`: it writes
``map.html``, ``figures/*.png`` and ``rasters/*.tif`` into the run's staging folder, so that
``_SUCCESS.json`` lists them. :func:`map_from_run` redraws the map of a finished run from its
``lifecircle.gpkg`` alone, without recomputing anything (``lifecircle map``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from .._errors import ConfigError, InputFileError, OutputError
from ..profiles import Profile, load_profile
from ..profiles.profile import profile_from_dict
from ._atomic import SUCCESS
from .geopackage import GPKG_NAME, layer_names, read_layers, read_metadata

if TYPE_CHECKING:
    from .webmap import MapPage

__all__ = [
    "DEFAULT_TILES",
    "MAP_NAME",
    "TILE_NAMES",
    "check_tiles",
    "map_from_run",
    "profile_of_run",
    "resolve_tiles",
    "run_map",
    "write_products",
]

MAP_NAME = "map.html"
#: Short tile names accepted by ``--tiles`` (anything else: an xyzservices name or a URL).
TILE_NAMES: dict[str, str | None] = {
    "osm": "OpenStreetMap",
    "none": None,
}
#: Default background: the OpenStreetMap standard tiles (no API key; the providers that need
#: one, such as CARTO now, cannot be a default). Where they cannot load (offline, or networks in
#: mainland China that block or slow foreign tile servers) the walking-network layer still draws
#: the streets, and ``--tiles none`` gives a page that requests nothing from the internet; a
#: domestic WGS 84 tile service (such as Tianditu, with its key) can be given as a URL template.
DEFAULT_TILES = "osm"


def resolve_tiles(tiles: str | None) -> str | None:
    """The ``tiles`` argument of :func:`~lifecircle.outputs.webmap.make_map` for a CLI value.

    ``osm`` and ``none`` (or ``None``) are short names; a URL template or an
    xyzservices provider name passes through unchanged.
    """
    if tiles is None:
        return None
    key = tiles.strip().lower()
    if key in TILE_NAMES:
        return TILE_NAMES[key]
    if not tiles.strip():
        raise ConfigError("--tiles is empty; give osm, none or a URL template")
    return tiles


def check_tiles(tiles: str | None, tiles_attribution: str | None) -> None:
    """Refuse bad tile options before a run spends time computing (:class:`ConfigError`)."""
    from .webmap import tile_spec

    tile_spec(resolve_tiles(tiles), tiles_attribution)


def _optional(result: Any, name: str) -> gpd.GeoDataFrame | None:
    frame = getattr(result, name, None)
    return frame if isinstance(frame, gpd.GeoDataFrame) and not frame.empty else None


def _run_map_options(result: Any, *, tiles: str | None, **options: Any) -> dict[str, Any]:
    from .webmap import no_data_categories
    from .webmap.surface import edge_minutes

    access = getattr(result, "access", None)
    network = getattr(result, "network", None)
    return {"edge_minutes": edge_minutes(network, access, result.profile)
            if access and network is not None else None,
            "isochrones": _optional(result, "isochrones"),
            # a city's isochrones went straight into the GeoPackage (Result.prepare)
            "isochrones_elsewhere": getattr(result, "_isochrone_stream", None) is not None,
            "proposed_sites": _optional(result, "proposed_sites"),
            "no_data": no_data_categories(getattr(result, "report", None)),
            "tiles": resolve_tiles(tiles), **options}


def run_map(
    result: Any,
    *,
    lang: str = "en",
    category: str | None = None,
    tiles: str | None = DEFAULT_TILES,
    tiles_attribution: str | None = None,
    cdn: bool = False,
    self_contained: bool | None = None,
) -> MapPage:
    """The interactive map of a run's result (shows in Jupyter; ``.save(path)`` writes it).

    The same map as ``map.html``; see :func:`lifecircle.outputs.webmap.make_map` for the
    options and :func:`resolve_tiles` for ``tiles``.
    """
    from .webmap import make_map

    return make_map(result.blocks, result.facilities, result.edges, result.profile,
                    **_run_map_options(result, lang=lang, category=category, tiles=tiles,
                                       tiles_attribution=tiles_attribution, cdn=cdn))


def write_products(
    result: Any,
    folder: str | os.PathLike[str],
    *,
    lang: str = "en",
    map: bool = True,
    cdn: bool = False,
    self_contained: bool | None = None,
    tiles: str | None = DEFAULT_TILES,
    tiles_attribution: str | None = None,
    figures: bool = True,
    rasters: bool = True,
    raster_cell_m: float | None = None,
) -> list[Path]:
    """Write the map, the figures and the rasters of a run into ``folder``.

    Parameters
    ----------
    result
        A :class:`lifecircle.pipeline.Result` (its ``isochrones`` and ``proposed_sites`` are
        drawn when it has them).
    folder
        The run's staging folder.
    lang
        ``"en"`` or ``"zh"``: the map's and figures' labels.
    map, figures, rasters
        Which products to write.
    cdn, self_contained, tiles, tiles_attribution
        Map options (see :func:`lifecircle.outputs.webmap.make_map` and :func:`resolve_tiles`;
        ``self_contained`` is ignored: the map opens offline unless ``cdn``).
    raster_cell_m
        Raster cell size in metres (default :func:`lifecircle.outputs.raster.auto_cell_m`).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    base = Path(folder)
    written: list[Path] = []
    if map:
        from .webmap import write_map

        written.append(write_map(
            result.blocks, result.facilities, result.edges, result.profile, base / MAP_NAME,
            **_run_map_options(result, lang=lang, tiles=tiles,
                               tiles_attribution=tiles_attribution, cdn=cdn),
        ))
    if figures:
        from .plots import write_figures

        written += write_figures(result, base, lang=lang)
    if rasters:
        from .raster import write_rasters

        written += write_rasters(result, base, cell_m=raster_cell_m)
    return written


# ---------------------------------------------------------------------------------------------
# the map of a finished run


def profile_of_run(metadata: dict[str, Any], *, where: str) -> Profile:
    """The effective profile a run wrote into its ``run_metadata``."""
    from ..profiles import profile as profile_mod

    data = metadata.get("effective_profile")
    if not isinstance(data, dict):
        raise InputFileError(where, "run_metadata has no effective_profile",
                             "rerun `lifecircle run` with a current version")
    # Profile.to_dict() adds derived values (the path, each table's name, each category's
    # speed) that the loader does not take as input: keep only the keys the loader accepts.
    top = set(profile_mod._TOP_KEYS) | set(getattr(profile_mod, "_EXTENSION_KEYS", ()))
    clean: dict[str, Any] = {k: v for k, v in data.items() if k in top}
    for section, attr in (("groups", "_GROUP_KEYS"), ("categories", "_CATEGORY_KEYS"),
                          ("tiers", "_TIER_KEYS"), ("targets", "_TARGET_KEYS")):
        allowed = getattr(profile_mod, attr, None)
        if allowed is not None and isinstance(clean.get(section), dict):
            clean[section] = {name: {f: x for f, x in table.items() if f in allowed}
                              for name, table in clean[section].items()}
    # titles are not in the effective profile: take them from the named profile when known
    try:
        named = load_profile(metadata.get("profile_path") or str(data.get("name")))
        clean.setdefault("title_en", named.title_en)
        clean.setdefault("title_zh", named.title_zh)
    except (ConfigError, OSError, ValueError):
        pass
    return profile_from_dict(clean, where=f"{where} run_metadata.effective_profile")


def map_from_run(
    run_dir: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    category: str | None = None,
    lang: str | None = None,
    cdn: bool = False,
    self_contained: bool | None = None,
    tiles: str | None = DEFAULT_TILES,
    tiles_attribution: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the interactive map of a finished run from its GeoPackage, recomputing nothing.

    Parameters
    ----------
    run_dir
        The output folder of ``lifecircle run`` (with ``_SUCCESS.json`` and
        ``lifecircle.gpkg``).
    out
        The map file; ``<run_dir>/map.html`` by default.
    category
        The category whose walking times the map shows when it opens (default: whether each
        block has every service with data within its limit); the others stay one click away.
    lang
        ``"en"`` or ``"zh"``; the run's language by default.
    cdn, self_contained, tiles, tiles_attribution
        As for :func:`write_products`.
    overwrite
        Replace an existing ``out``.

    Returns
    -------
    pathlib.Path
        The map written.

    Raises
    ------
    InputFileError
        ``run_dir`` is not a finished run, or a layer is missing.
    OutputError
        ``out`` exists and ``overwrite`` is false, or cannot be written.
    ConfigError
        A category the run did not evaluate, or bad map options.
    """
    from .webmap import no_data_categories, write_map

    folder = Path(run_dir)
    if not folder.is_dir():
        raise InputFileError(folder, "is not a folder",
                             "give the --out folder of a finished `lifecircle run`")
    if not (folder / SUCCESS).is_file():
        raise InputFileError(
            folder, f"is not a finished run (no {SUCCESS})",
            "give the --out folder of a `lifecircle run` that completed, or rerun it")
    gpkg = folder / GPKG_NAME
    if not gpkg.is_file():
        raise InputFileError(folder, f"has {SUCCESS} but no {GPKG_NAME}",
                             "rerun `lifecircle run` into a fresh folder")
    target = Path(out) if out is not None else folder / MAP_NAME
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: exists; pass --overwrite to replace it or choose --out")
    meta = read_metadata(gpkg)
    profile = profile_of_run(meta, where=str(gpkg))
    present = set(layer_names(gpkg))
    layers = read_layers(gpkg, ["blocks", "facilities", "edges"])
    extra = {name: read_layers(gpkg, [name])[name]
             for name in ("isochrones", "proposed_sites") if name in present}
    return write_map(
        layers["blocks"], layers["facilities"], layers["edges"], profile, target,
        isochrones=extra.get("isochrones"), proposed_sites=extra.get("proposed_sites"),
        lang=lang or str(meta.get("lang", "en")), tiles=resolve_tiles(tiles),
        tiles_attribution=tiles_attribution, cdn=cdn, category=category,
        no_data=no_data_categories(_read_report(folder)),
    )


def _read_report(folder: Path) -> Any:
    """The run's report.json, or ``None`` when it is missing or unreadable (older runs)."""
    try:
        return json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
