"""Build the map (:func:`make_map`) and write it atomically (:func:`write_map`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element
from folium.map import CustomPane, LayerControl

from ..._errors import ConfigError, OutputError
from ...profiles import Profile
from .._escape import escape_text, script_json
from .assets import _PANES, _remote_resources, _settle_assets, read_asset
from .elements import _JsLayer, _Script
from .layers import _add_facilities, _add_isochrones, _block_collection, _site_collection
from .legend import _chrome_js, _fill, _legend_html
from .prepare import (
    _bounds,
    _check_blocks,
    _has_category,
    _plain_collection,
    _texts,
    _tile_layer,
    _to_web,
)
from .style import BIN_COLORS, UNREACHABLE_COLOR, _cat_color


def make_map(
    blocks: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    profile: Profile,
    *,
    isochrones: gpd.GeoDataFrame | None = None,
    proposed_sites: gpd.GeoDataFrame | None = None,
    lang: str = "en",
    tiles: str | None = "OpenStreetMap",
    tiles_attribution: str | None = None,
    self_contained: bool = False,
    title: str | None = None,
    category: str | None = None,
) -> folium.Map:
    """Build the interactive accessibility map.

    Parameters
    ----------
    blocks
        Residential blocks with ``block_id``, ``population`` and, for every category of
        ``profile``, ``walk_min_<c>``, ``covered_<c>`` (plus ``lacks`` and ``n_lacking``), in a
        projected CRS. ``covered_<c>``, ``lacks``, ``n_lacking`` and ``population`` are derived
        or left out when missing; ``block_id`` and ``walk_min_<c>`` are required.
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
    proposed_sites
        Optional points with ``category``, ``rank`` and ``gain_population``.
    lang
        ``"en"`` or ``"zh"``: language of every label, the legend and the layer names.
    tiles
        ``"OpenStreetMap"`` (default) or another xyzservices provider name, a tile URL
        template such as ``"https://tiles.example.org/{z}/{x}/{y}.png"`` (give
        ``tiles_attribution`` too), or ``None`` for no background map (the walking network
        still shows the streets). Tiles in GCJ-02 (AMap, Tencent) or BD-09 (Baidu) are offset
        by 100-700 m from these WGS 84 data.
    tiles_attribution
        Credit for a tile URL template, as plain text (it is escaped).
    self_contained
        Inline Leaflet and its plugins from the copies shipped with lifecircle so that the
        page needs no internet (tiles from the internet, if any, still do).
    title
        Heading shown on the map and as the page title; by default built from the profile.
    category
        The time layer shown when the page opens: a category of ``profile``, or ``None`` for
        the worst category.

    Returns
    -------
    folium.Map
        Save it with :func:`write_map` (atomic) or ``Map.save``.

    Raises
    ------
    InputError
        A layer has no CRS, required columns are missing, or there is nothing to draw.
    ConfigError
        Unknown ``lang`` or tile provider, or a tile URL without an attribution.

    Notes
    -----
    folium links jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers into every map;
    this map uses none of them and leaves them out (fewer blocked CDN requests where those
    hosts are unreachable). Add such resources back if you add icon markers to the returned
    map yourself.
    """
    text = _texts(lang)
    cats = list(profile.categories)
    labels = [escape_text(profile.categories[c].label(lang)) for c in cats]
    _check_blocks(blocks, cats)
    if category is not None and category not in cats:
        raise ConfigError(f"category {category!r} is not in the profile; choose from "
                          f"{', '.join(cats)}")
    shown_layer = len(cats) if category is None else cats.index(category)
    tile_layer = _tile_layer(tiles, tiles_attribution, text)

    web_blocks = _to_web(blocks, "blocks", simplify=True)
    web_fac = _to_web(facilities, "facilities", simplify=False)
    web_edges = _to_web(edges, "edges", simplify=True, merge_lines=True)
    web_iso = (None if isochrones is None
               else _to_web(isochrones, "isochrones", simplify=True, preserve_topology=False))
    web_sites = (None if proposed_sites is None
                 else _to_web(proposed_sites, "proposed_sites", simplify=False))
    bounds = _bounds([web_blocks, web_fac, web_edges])

    heading = escape_text(title if title is not None else text["title"].format(
        profile=profile.title_zh if lang == "zh" and profile.title_zh else profile.title_en))
    (miny, minx), (maxy, maxx) = bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=14, tiles=None,
                   zoom_control=False, control_scale=False)
    m.options["max_zoom"] = 20  # marker clustering needs it even when there are no tiles
    m.get_root().title = heading  # type: ignore[attr-defined]
    for name, z_index, interactive in _PANES:
        CustomPane(name, z_index=z_index, pointer_events=interactive).add_to(m)

    helper = "lifecircle_" + m.get_name().removeprefix("map_")
    config = {
        "cats": labels,
        "catColors": [_cat_color(i) for i in range(len(cats))],
        "colors": [*BIN_COLORS, UNREACHABLE_COLOR],
        "t": {k: escape_text(text[k]) for k in (
            "min", "sep", "and", "unreachable", "block", "population", "lacks", "complete",
            "category", "source", "id", "site", "rank", "gain")},
    }
    helper_js = read_asset("lifecircle-map.js").replace("__H__", helper)
    _Script(f"var {helper} = {script_json(config)};\n" + helper_js).add_to(m)
    if tile_layer is not None:
        tile_layer.add_to(m)

    # Blocks: one copy of the data, six radio-button layers and one outline layer drawing it.
    data_var = helper + "_blocks"
    _Script(f"var {data_var} = {script_json(_block_collection(web_blocks, profile, cats))};"
            ).add_to(m)
    time_layers: list[tuple[_JsLayer, str]] = []
    for k in range(len(cats) + 1):
        worst = k == len(cats)
        name = (_fill(text["layer_worst"]) if worst
                else _fill(text["layer_time"], label=labels[k]))
        layer = _JsLayer(f"{helper}.blockLayer({data_var}, {k})", name=name,
                         overlay=False, show=k == shown_layer)
        layer.add_to(m)
        time_layers.append((layer, escape_text(text["worst"]) if worst else labels[k]))
    missing = [labels[k] for k, c in enumerate(cats) if not _has_category(web_fac, c)]
    _JsLayer(f"{helper}.outlineLayer({data_var})", name=escape_text(text["layer_lacking"]),
             overlay=True, show=True).add_to(m)

    if not web_edges.empty:
        _JsLayer(f"{helper}.networkLayer({script_json(_plain_collection(web_edges))})",
                 name=escape_text(text["layer_network"]), overlay=True, show=True).add_to(m)

    iso_bands: list[float] = []
    if web_iso is not None:
        iso_bands = _add_isochrones(m, web_iso, cats, labels, text, helper)

    clustered = _add_facilities(m, web_fac, cats, labels, text, helper)

    if web_sites is not None and not web_sites.empty:
        _JsLayer(f"{helper}.sitesLayer({script_json(_site_collection(web_sites, cats))})",
                 name=escape_text(text["layer_sites"]), overlay=True, show=True).add_to(m)

    legend = _legend_html(profile, cats, labels, text, iso_bands,
                          has_sites=web_sites is not None and not web_sites.empty,
                          clustered=clustered,
                          has_network=not web_edges.empty, missing=missing,
                          heading=time_layers[shown_layer][1])
    _Script(_chrome_js(m.get_name(), heading, legend, time_layers)).add_to(m)
    LayerControl(position="topright", collapsed=False).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    _settle_assets(m, self_contained=self_contained)
    root = m.get_root()
    css = read_asset("lifecircle-map.css")
    root.header.add_child(Element(f"<style>{css}</style>"),  # type: ignore[attr-defined]
                          name="lifecircle_css")
    if not self_contained:
        # Leaflet comes from a CDN: where it cannot load (offline, blocked networks) say so
        # instead of leaving a blank page
        note = script_json(text["no_leaflet"])
        root.html.add_child(Element(  # type: ignore[attr-defined]
            "<script>document.addEventListener('DOMContentLoaded',function(){"
            "if(typeof L!=='undefined')return;var d=document.createElement('div');"
            "d.className='lc-no-leaflet';d.textContent=" + note + ";"
            "document.body.insertBefore(d,document.body.firstChild);});</script>"),
            name="lifecircle_no_leaflet")
    return m


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
        The folder does not exist or the file cannot be written, or a self-contained page
        would still load a script or stylesheet from the network.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise OutputError(f"{target}: folder {target.parent} does not exist; create it first")
    m = make_map(blocks, facilities, edges, profile, **kwargs)
    page = m.get_root().render()
    if kwargs.get("self_contained"):
        remote = _remote_resources(page)
        if remote:
            raise OutputError(
                f"{target}: the self-contained map would still load {remote[0]}; "
                "run scripts/vendor_map_assets.py after upgrading folium"
            )
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write the map ({exc.strerror or exc})") from exc
    return target
