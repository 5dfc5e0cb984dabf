"""Build the map (:func:`make_map`) and write it atomically (:func:`write_map`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..._errors import ConfigError, OutputError
from ...profiles import Profile
from .._escape import clean_text
from . import surface
from .binary import outlines
from .layers import (
    block_data,
    facility_data,
    isochrone_data,
    isochrone_rows,
    served_data,
    site_data,
    worst_counts,
)
from .legend import fmt, views
from .page import MapPage
from .prepare import _bounds, _check_blocks, _plain_collection, _texts, _to_web, _web_frame
from .style import (
    BIN_COLORS,
    FACILITY_GROUPS,
    NO_DATA_COLOR,
    SHAPES,
    SHORTFALL_COLORS,
    UNREACHABLE_COLOR,
    facility_group,
)
from .surface import band_images, street_images, use_street_images
from .tiles import tile_spec

__all__ = ["make_map", "no_data_categories", "write_map"]


def no_data_categories(report: Any) -> list[str]:
    """Categories a run's report marks as having no data (``status == "no_data"``).

    Read defensively: a report without the status (older runs) marks none.
    """
    try:
        cats = report["summary"]["categories"]
    except (KeyError, TypeError):
        return []
    return [c for c, v in cats.items() if isinstance(v, dict) and v.get("status", "ok") ==
            "no_data"]


def make_map(
    blocks: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    profile: Profile,
    *,
    isochrones: gpd.GeoDataFrame | None = None,
    isochrones_elsewhere: bool = False,
    proposed_sites: gpd.GeoDataFrame | None = None,
    lang: str = "en",
    tiles: str | None = "OpenStreetMap",
    tiles_attribution: str | None = None,
    cdn: bool = False,
    self_contained: bool | None = None,
    title: str | None = None,
    category: str | None = None,
    no_data: Iterable[str] = (),
    edge_minutes: Mapping[str, np.ndarray] | None = None,
    street_image: bool | None = None,
) -> MapPage:
    """Build the interactive accessibility map.

    The page opens on the question a committee asks: where does every service (with data) lie
    within its walking limit, and where not, by how many minutes. One click away are the
    walking times to each category (fixed planning bins, 0-5 ... > 30 min, unreachable grey)
    with that category's isochrone bands; facilities are grouped (care, health, fitness,
    retail, other: one colour per group, one marker shape per category).

    Parameters
    ----------
    blocks
        Residential blocks with ``block_id`` and, for every category of ``profile``,
        ``walk_min_<c>`` (``covered_<c>`` and ``population`` are used when present), in any
        CRS.
    facilities
        Points with ``facility_id``, ``category``, ``name`` and ``source``. Rows whose category
        is not in ``profile`` are not drawn.
    edges
        The walking network as lines (any columns); drawn as one light line layer.
    profile
        The profile the run used (category labels, thresholds, speeds).
    isochrones
        Optional polygons with ``category``, ``facility_id`` and ``band_min``. Where a category
        has rows with ``facility_id == "all"`` (the union), only those are drawn.
    isochrones_elsewhere
        The run wrote its isochrones to the GeoPackage without keeping them (a city's are
        streamed one category at a time): the legend says where they are.
    proposed_sites
        Optional points with ``category``, ``rank`` and ``gain_population``.
    lang
        ``"en"`` or ``"zh"``: language of every text on the map.
    tiles
        Background map: ``"OpenStreetMap"`` (default), another xyzservices provider name, a
        tile URL template (give ``tiles_attribution`` too), or ``None``. Without tiles (or
        when they cannot load, which the legend then says) the streets still show. Tiles in
        GCJ-02 (AMap, Tencent) or BD-09 (Baidu) are offset by 100-700 m from these WGS 84 data.
    tiles_attribution
        Credit for a tile URL template, as plain text.
    cdn
        Link Leaflet from its CDN instead of inlining the copy shipped with lifecircle: a
        smaller file that needs the internet to open. By default the page needs no network.
    self_contained
        Accepted for compatibility and ignored: the page is self-contained unless ``cdn``.
    title
        Heading shown on the map and as the page title; by default built from the profile.
    category
        Open on this category's walking times instead of the complete-life-circle view.
    no_data
        Categories whose data a run's report marks as missing (see
        :func:`no_data_categories`); categories with no facility are treated alike. They are
        listed as "no data" and never count against a block.
    edge_minutes
        ``{category: walking minutes per row of edges}`` (see
        :func:`~lifecircle.outputs.webmap.surface.edge_minutes`): on a large network each
        category's view shows its streets coloured by these times.
    street_image
        Draw the streets as images (one per category, see
        :mod:`~lifecircle.outputs.webmap.surface`) rather than lines; by default when the
        network has more than
        :data:`~lifecircle.outputs.webmap.surface.STREET_IMAGE_ABOVE_EDGES` edges.

    Returns
    -------
    MapPage
        ``.html`` is the page; ``.save(path)`` writes it atomically; shows in Jupyter.

    Raises
    ------
    InputError
        A layer has no CRS, required columns are missing, or there is nothing to draw.
    ConfigError
        Unknown ``lang``, ``category`` or tile provider, or a tile URL without attribution.
    """
    del self_contained  # the page is self-contained unless cdn=True
    text = _texts(lang)
    cats = list(profile.categories)
    labels = [clean_text(profile.categories[c].label(lang)) for c in cats]
    _check_blocks(blocks, cats)
    if category is not None and category not in cats:
        raise ConfigError(f"category {category!r} is not in the profile; choose from "
                          f"{', '.join(cats)}")
    tiles_data = tile_spec(tiles, tiles_attribution)

    # the blocks' coordinates go to the page's streams straight from the simplified outlines
    # (no geometries rebuilt in EPSG:4326 for them: a second at a million nodes)
    map_blocks, block_web = _web_frame(blocks, "blocks", simplify=True)
    block_outlines, block_box = outlines(np.asarray(map_blocks.geometry.values), web=block_web)
    # one marker per facility: the further access points of a campus are not facilities
    from ...sources.facilities import primary_rows

    web_fac = _to_web(primary_rows(facilities), "facilities", simplify=False)
    # the distinct categories, not a set built from every facility's (an Arrow array's
    # values one Python object at a time)
    present = set(pd.unique(web_fac["category"])) if "category" in web_fac.columns else set()
    flagged = set(no_data)
    missing = [c in flagged or c not in present for c in cats]
    as_image = use_street_images(len(edges), street_image)
    # a category without data shows the grey streets, not every street "unreachable"
    streets = street_images(edges, cats, {c: m for c, m in (edge_minutes or {}).items()
                                          if not missing[cats.index(c)]}) \
        if as_image else None
    # with images the lines are not drawn: their envelope stands in for them in the bounds
    web_edges = _to_web(edges if not as_image else gpd.GeoDataFrame(
        geometry=[shapely.box(*edges.total_bounds)] if streets else [], crs=edges.crs),
        "edges", simplify=True, merge_lines=not as_image)
    # with the streets as images, the isochrone bands are images on the same grid, unless
    # they are too detailed to burn in time (a city's): the coloured streets show the times
    iso_images = streets is not None and isochrones is not None
    iso_skipped = (isochrones is None and isochrones_elsewhere) or (
        iso_images and isochrones is not None and int(
            shapely.get_num_coordinates(np.asarray(isochrones.geometry.values)).sum())
        > surface.ISO_IMAGE_MAX_VERTICES)
    web_iso = (None if isochrones is None or iso_images
               else _to_web(isochrones, "isochrones", simplify=True, preserve_topology=False))
    web_sites = (None if proposed_sites is None
                 else _to_web(proposed_sites, "proposed_sites", simplify=False))
    _bounds([block_box, web_fac, web_edges])  # refuses a map with nothing to draw
    # the page opens on the blocks (the answer), not on every street the extract holds
    (miny, minx), (maxy, maxx) = _bounds([block_box] if not map_blocks.empty else
                                         [web_fac, web_edges])

    groups = [g for g, _, _ in FACILITY_GROUPS]
    cat_group = [facility_group(c) for c in cats]
    shape_of = [SHAPES[cat_group[:i].count(g) % len(SHAPES)] for i, g in enumerate(cat_group)]
    fac_layers = facility_data(web_fac, cats, groups, cat_group, text)
    drawn = {k for layer in fac_layers for k in layer["data"]["k"]}

    heading = clean_text(title if title is not None else text["title"].format(
        profile=profile.title_zh if lang == "zh" and profile.title_zh else profile.title_en))
    iso: list[dict[str, Any] | None] = [None] * len(cats)
    grid = streets.pop("grid") if streets is not None else None
    if iso_images and not iso_skipped and isochrones is not None and grid is not None:
        group_color = {g: c for g, c, _ in FACILITY_GROUPS}
        iso = band_images(isochrones, isochrone_rows(isochrones, cats), grid,
                          [group_color[g] for g in cat_group])
        bands = sorted({b for entry in iso if entry for b in entry["b"]})
    elif web_iso is not None:
        iso = isochrone_data(web_iso, cats)
        bands = sorted({f["properties"]["b"] for fc in iso if fc for f in fc["features"]})
    else:
        bands = []
    served = served_data(blocks, profile, cats, missing, lang, text)
    data = {
        "lang": lang,
        "title": heading,
        "t": dict(text),
        "bounds": [[miny, minx], [maxy, maxx]],
        "view": 0 if category is None else cats.index(category) + 1,
        "views": views(profile, cats, labels, missing, text,
                       worst=worst_counts(map_blocks, profile, cats, missing)),
        "cats": [{"label": labels[k], "group": groups.index(cat_group[k]),
                  "shape": shape_of[k], "noData": missing[k], "drawn": k in drawn}
                 for k in range(len(cats))],
        "groups": [{"name": text[f"group_{g}"], "color": color}
                   for g, color, _ in FACILITY_GROUPS],
        "binColors": [*BIN_COLORS, UNREACHABLE_COLOR],
        "shortColors": list(SHORTFALL_COLORS),
        "noDataColor": NO_DATA_COLOR,
        "served": served,
        "blocks": block_data(map_blocks, profile, cats, missing, served,
                             outlines=block_outlines),
        "network": None if as_image or web_edges.empty else _plain_collection(web_edges),
        "streets": streets,
        "facilities": fac_layers,
        "iso": iso,
        "isoNote": text["iso"].format(bands=" / ".join(fmt(b) for b in bands)) if bands else None,
        "isoCity": text["iso_city"] if iso_skipped else None,
        "sites": (None if web_sites is None or web_sites.empty
                  else site_data(web_sites, cats)),
        "tiles": tiles_data,
    }
    cluster = bool(np.any([layer["cluster"] for layer in fac_layers]))
    return MapPage(lang, data, cdn=cdn, cluster=cluster)


def write_map(
    blocks: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    profile: Profile,
    path: str | os.PathLike[str],
    **kwargs: Any,
) -> Path:
    """Build the map with :func:`make_map` and write it to ``path`` atomically.

    The page is written to ``<path>.tmp`` and renamed over ``path``, so an interrupted run
    never leaves a half-written map under the final name.

    Parameters
    ----------
    blocks, facilities, edges, profile
        As for :func:`make_map`.
    path
        Destination ``.html`` file; its folder must exist.
    **kwargs
        Keyword options of :func:`make_map`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputError
        The folder does not exist or the file cannot be written.
    """
    target = Path(path)
    if not target.parent.is_dir():  # say so before building a city's map for nothing
        raise OutputError(f"{target}: folder {target.parent} does not exist; create it first")
    return make_map(blocks, facilities, edges, profile, **kwargs).save(target)
