"""The interactive map: walking time to everyday services, block by block.

:func:`make_map` turns the engine's tables into a Leaflet map (through folium) that a planning
committee can read without a manual:

* one coloured layer per facility category, plus the worst category, in fixed planning bins
  (0-5, 5-10, 10-15, 15-20, 20-30, > 30 minutes, unreachable in grey), chosen with radio
  buttons, with a legend in minutes that names the layer on show;
* blocks that lack a service outlined on their own layer;
* facilities per category (clustered when there are many), isochrone bands and proposed sites
  when given, and the walking network as a light line layer so the map reads without tiles;
* labels in English or Chinese; the OpenStreetMap credit is always shown.

Every text that comes from data (names, ids, labels, the title) passes through
:func:`lifecircle.outputs._escape.escape_text` before it reaches the page, and data go into the
page through :func:`~lifecircle.outputs._escape.script_json`.

Geometry is simplified in the projected CRS (about 1.5 m), projected to EPSG:4326 here and only
here, rounded to 6 decimals (about 0.1 m), and stored once even though six layers draw it, so
the map of a city district stays a few MB. ``self_contained=True`` inlines Leaflet (and the
marker-cluster plugin when needed) from copies shipped in ``lifecircle/outputs/assets`` so that
the file opens with no internet.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import CustomPane, Layer, LayerControl
from folium.template import Template

from .. import columns as col
from .._errors import ConfigError, InputError, OutputError
from ..i18n import check_lang, messages
from ..profiles import Profile
from ._escape import escape_text, script_json

__all__ = [
    "BINS_MIN",
    "BIN_COLORS",
    "UNREACHABLE_COLOR",
    "classify_minutes",
    "make_map",
    "write_map",
]

#: Upper edges (minutes, inclusive) of the fixed planning bins; above the last is "> 30".
BINS_MIN: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 30.0)
#: One colour per bin, from short to long walks: blues within 15 minutes, oranges beyond
#: (a diverging scheme that people with red-green colour blindness can read).
BIN_COLORS: tuple[str, ...] = ("#08519c", "#3182bd", "#9ecae1", "#fdae6b", "#e6550d", "#a63603")
#: Colour of blocks from which no facility of the category can be reached on foot.
UNREACHABLE_COLOR = "#9e9e9e"
_UNREACHABLE = len(BIN_COLORS)

#: Facility colours by category position in the profile (cycled when there are more).
#: Facility colours, apart from the blue-to-orange time bins; 16 so that a GB 50180-2018 profile
#: (15 facility types) never gives two categories one colour.
CATEGORY_COLORS: tuple[str, ...] = (
    "#7b3294", "#c51b7d", "#1b7837", "#252525", "#8c510a", "#01665e", "#e7298a", "#66a61e",
    "#b8860b", "#00a0a0", "#9e0142", "#5e3c99", "#808000", "#bc80bd", "#35978f", "#543005",
)
SIMPLIFY_M = 1.5
DECIMALS = 6
#: Categories with more facilities than this are drawn with marker clustering.
CLUSTER_ABOVE = 200

OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

_ASSETS = Path(__file__).parent / "assets"
# folium resources the map never needs (no Bootstrap, jQuery or icon-font markers are used);
# they are dropped from every map, which also spares users behind slow or blocked CDNs.
_UNUSED_RESOURCES = frozenset({
    "jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
    "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css",
})


# Map panes, bottom to top. Only blocks (a canvas) and facilities (SVG) take the mouse; the
# panes in between let events through so that hovering anywhere over a block shows its figures.
_PANES = (
    ("lc-blocks", 350, True),
    ("lc-network", 360, False),
    ("lc-outline", 370, False),
    ("lc-iso", 380, False),
    ("lc-facilities", 450, True),
)

_CSS = """
.lc-no-leaflet { margin: 2em; padding: 1em; border: 2px solid #a63603; font: 16px/1.5 Arial,
  sans-serif; max-width: 44em; }
.leaflet-container .leaflet-pane > svg { pointer-events: none; }
.lc-box { background: rgba(255,255,255,0.94); padding: 6px 9px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font: 13px/1.35 "Helvetica Neue", Arial,
  "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
  "WenQuanYi Micro Hei", sans-serif; color: #222; }
.lc-title { font-size: 16px; font-weight: 600; max-width: 46vw; }
.lc-legend { max-width: 300px; }
.lc-legend h4 { margin: 0 0 4px; font-size: 13px; }
.lc-legend .lc-row { display: flex; align-items: center; margin: 1px 0; }
.lc-legend .lc-sw { width: 22px; height: 13px; margin-right: 7px; flex: none;
  border: 1px solid rgba(0,0,0,0.25); opacity: 0.85; }
.lc-legend .lc-dot { width: 11px; height: 11px; border-radius: 50%; margin: 0 12px 0 5px;
  flex: none; border: 1.5px solid #fff; box-shadow: 0 0 0 1px rgba(0,0,0,0.35); }
.lc-legend .lc-limit { border-top: 2px dashed #333; margin: 3px 0 2px; font-size: 11px;
  padding-left: 29px; }
.lc-legend .lc-sec { margin-top: 6px; font-weight: 600; }
.lc-legend .lc-note { font-size: 11px; color: #444; margin-top: 4px; }
.lc-legend .lc-missing { color: #a50f15; font-weight: 600; }
.lc-tip table { border-collapse: collapse; margin: 3px 0; }
.lc-tip td { padding: 0 6px 0 0; }
.lc-tip td.lc-num { text-align: right; }
.lc-tip tr.lc-hi td { font-weight: 700; }
.lc-cluster { border-radius: 50%; color: #fff; text-align: center; opacity: 0.9;
  font: bold 12px Arial, sans-serif; box-shadow: 0 0 0 2px #fff, 0 1px 4px rgba(0,0,0,0.5); }
.lc-site { width: 22px; height: 22px; line-height: 18px; border-radius: 50%; background: #fff;
  border: 3px solid #000; text-align: center; font: bold 12px Arial, sans-serif;
  box-sizing: border-box; box-shadow: 0 1px 4px rgba(0,0,0,0.5); }
"""

# The map's own JavaScript: one helper object per map holds the labels (already escaped), the
# colours and the functions that build layers, tooltips and popups. Every string it shows
# comes from the helper's configuration or from feature properties, both escaped in Python.
_HELPER_JS = """
(function (H) {
  H.fmt = function (x) {
    return x === null ? H.t.unreachable : x.toFixed(1) + "\\u00a0" + H.t.min;
  };
  H.num = function (x) { return String(x).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ","); };
  H.block = function (p, k) {
    var rows = "", i, hi, lacks;
    for (i = 0; i < H.cats.length; i++) {
      hi = k === i || (k === H.cats.length && p.w === i);
      rows += "<tr" + (hi ? " class=\\"lc-hi\\"" : "") + "><td>" + H.cats[i] +
        "</td><td class=\\"lc-num\\">" + H.fmt(p.m[i]) + "</td><td>" +
        ((p.c >> i) & 1 ? "\\u2713" : "\\u2717") + "</td></tr>";
    }
    lacks = p.l.map(function (x) { return typeof x === "number" ? H.cats[x] : x; });
    return "<div class=\\"lc-tip\\"><b>" + H.t.block + " " + p.id + "</b><table>" + rows +
      "</table>" +
      (lacks.length ? H.t.lacks + H.t.sep + lacks.join(H.t.and) : H.t.complete) +
      (p.p === null ? "" : "<br>" + H.t.population + H.t.sep + H.num(p.p)) + "</div>";
  };
  H.blockLayer = function (data, k) {
    return L.geoJSON(data, {
      renderer: H.r.blocks,
      style: function (f) {
        return {fillColor: H.colors[f.properties.b[k]], fillOpacity: 0.8,
                color: "#ffffff", weight: 0.6, opacity: 0.9};
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(function () { return H.block(f.properties, k); },
                          {sticky: true, direction: "top", offset: [0, -8]});
      }
    });
  };
  H.outlineLayer = function (data) {
    return L.geoJSON(data, {
      renderer: H.r.outline, interactive: false,
      filter: function (f) { return f.properties.n > 0; },
      style: {fill: false, color: "#111111", weight: 2.2, opacity: 0.9, dashArray: "5 3"}
    });
  };
  H.networkLayer = function (data) {
    return L.geoJSON(data, {
      renderer: H.r.network, interactive: false,
      style: {color: "#5f6b73", weight: 1, opacity: 0.55}
    });
  };
  H.isoLayer = function (data, k) {
    return L.geoJSON(data, {
      renderer: H.r.iso, interactive: false,
      style: function (f) {
        return {color: H.catColors[k], weight: 1, opacity: 0.8, fillColor: H.catColors[k],
                fillOpacity: f.properties.o};
      }
    });
  };
  H.facility = function (p, k) {
    return "<div class=\\"lc-tip\\"><b>" + p.n + "</b><br>" + H.t.category + H.t.sep +
      H.cats[k] + "<br>" + H.t.source + H.t.sep + p.s + "<br>" + H.t.id + H.t.sep + p.i +
      "</div>";
  };
  H.facilityLayer = function (data, k, cluster) {
    var layer = L.geoJSON(data, {
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {pane: "lc-facilities", radius: 5.5, color: "#ffffff",
          weight: 1.5, fillColor: H.catColors[k], fillOpacity: 0.95});
      },
      onEachFeature: function (f, m) {
        m.bindTooltip(function () { return f.properties.n; });
        m.bindPopup(function () { return H.facility(f.properties, k); });
      }
    });
    if (!cluster) { return layer; }
    // Clusters drawn as filled discs in the category colour (the count in white), unlike
    // proposed sites (white discs, coloured ring, priority in black).
    return L.markerClusterGroup({maxClusterRadius: 45, showCoverageOnHover: false,
      iconCreateFunction: function (c) {
        var n = c.getChildCount(), size = n < 10 ? 24 : n < 100 ? 30 : 36;
        return L.divIcon({className: "", iconSize: [size, size],
          html: "<div class=\\"lc-cluster\\" style=\\"background:" + H.catColors[k] +
                ";width:" + size + "px;height:" + size + "px;line-height:" + size + "px\\">" +
                n + "</div>"});
      }}).addLayer(layer);
  };
  H.site = function (p) {
    return "<div class=\\"lc-tip\\"><b>" + H.t.site + "</b><br>" + H.t.category + H.t.sep +
      (typeof p.c === "number" ? H.cats[p.c] : p.c) + "<br>" + H.t.rank + H.t.sep + p.r +
      (p.g === null ? "" : "<br>" + H.t.gain + H.t.sep + H.num(p.g)) + "</div>";
  };
  H.sitesLayer = function (data) {
    return L.geoJSON(data, {
      pointToLayer: function (f, latlng) {
        var color = typeof f.properties.c === "number" ? H.catColors[f.properties.c] : "#000";
        return L.marker(latlng, {icon: L.divIcon({className: "", iconSize: [22, 22],
          html: "<div class=\\"lc-site\\" style=\\"border-color:" + color + "\\">" +
                f.properties.r + "</div>"})});
      },
      onEachFeature: function (f, m) {
        m.bindTooltip(function () { return H.site(f.properties); });
        m.bindPopup(function () { return H.site(f.properties); });
      }
    });
  };
  H.r = {blocks: L.canvas({pane: "lc-blocks", tolerance: 0}),
         network: L.canvas({pane: "lc-network"}),
         outline: L.canvas({pane: "lc-outline"}),
         iso: L.canvas({pane: "lc-iso"})};
})(__H__);
"""


# ---------------------------------------------------------------------------------------------
# folium elements


class _Script(MacroElement):
    """JavaScript for the map's script block, built only from escaped or generated parts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.js }}
        {% endmacro %}
        """
    )

    def __init__(self, js: str) -> None:
        super().__init__()
        self._name = "lifecircle_js"
        self.js = js


class _JsLayer(JSCSSMixin, Layer):
    """A Leaflet layer given by a JavaScript expression, listed in the layer control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.js }};
        {% endmacro %}
        """
    )

    def __init__(
        self,
        js: str,
        *,
        name: str,
        overlay: bool,
        show: bool,
        js_links: Sequence[tuple[str, str]] = (),
        css_links: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(name=name, overlay=overlay, control=True, show=show)
        self._name = "lifecircle_layer"
        self.js = js
        self.default_js = list(js_links)
        self.default_css = list(css_links)


# ---------------------------------------------------------------------------------------------
# public API


def classify_minutes(minutes: Any) -> np.ndarray:
    """Planning bin of each walking time.

    Parameters
    ----------
    minutes
        Walking times in minutes; NaN or infinite means unreachable.

    Returns
    -------
    numpy.ndarray
        Integers: 0 for 0-5 min, 1 for (5, 10], 2 for (10, 15], 3 for (15, 20], 4 for (20, 30],
        5 for more than 30 and 6 for unreachable. Upper edges are inclusive, so exactly 15.0
        falls in the 10-15 bin, like a block covered by a 15-minute threshold.
    """
    values = np.asarray(minutes, dtype=float).reshape(-1)
    out = np.full(values.shape, _UNREACHABLE, dtype=np.int64)
    finite = np.isfinite(values)
    if finite.any():
        classes = mapclassify.UserDefined(
            np.clip(values[finite], 0.0, None), bins=list(BINS_MIN)
        )
        out[finite] = np.minimum(np.asarray(classes.yb, dtype=np.int64), len(BINS_MIN))
    return out


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
    _Script(f"var {helper} = {script_json(config)};\n" + _HELPER_JS.replace("__H__", helper)
            ).add_to(m)
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
    root.header.add_child(Element(f"<style>{_CSS}</style>"),  # type: ignore[attr-defined]
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


# ---------------------------------------------------------------------------------------------
# checks and preparation


def _texts(lang: str) -> Mapping[str, str]:
    return messages("map", check_lang(lang, option="lang"))


def _check_blocks(blocks: gpd.GeoDataFrame, cats: Sequence[str]) -> None:
    needed = ["block_id", *(col.walk_min(c) for c in cats)]
    missing = [c for c in needed if c not in blocks.columns]
    if missing:
        raise InputError(
            f"blocks: missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, blocks.columns))}); pass the blocks table of a run made with "
            "the same profile"
        )


def _tile_layer(
    tiles: str | None, attribution: str | None, text: Mapping[str, str]
) -> folium.TileLayer | None:
    if tiles is None:
        return None
    name = escape_text(text["layer_tiles"])
    if "{z}" in tiles or "://" in tiles:
        if not attribution or not attribution.strip():
            raise ConfigError(
                f"tiles={tiles!r} needs tiles_attribution='...' naming the tile source and its "
                "data (for example '© OpenStreetMap contributors')"
            )
        return folium.TileLayer(tiles, attr=escape_text(attribution), name=name, overlay=True,
                                control=True, max_zoom=20, max_native_zoom=19)
    try:
        # folium resolves provider names (xyzservices) and brings their attribution; a name
        # it does not know is taken for a URL without attribution and refused.
        return folium.TileLayer(tiles, name=name, overlay=True, control=True, max_zoom=20,
                                max_native_zoom=19)
    except ValueError:
        raise ConfigError(
            f"unknown tile provider {tiles!r}; give 'OpenStreetMap' (or another xyzservices "
            "name), a URL template with {z}/{x}/{y} and tiles_attribution, or None"
        ) from None


def _metres_per_unit(crs: Any) -> float:
    try:
        return float(crs.axis_info[0].unit_conversion_factor) or 1.0
    except (AttributeError, IndexError, TypeError):
        return 1.0


def _to_web(
    gdf: gpd.GeoDataFrame, what: str, *, simplify: bool, merge_lines: bool = False,
    preserve_topology: bool = True,
) -> gpd.GeoDataFrame:
    """Drop empty geometry, simplify in a projected CRS, reproject to EPSG:4326 and round."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise InputError(
            f"{what}: the layer has no CRS; set the one its coordinates are in with "
            "gdf.set_crs(...) (the engine writes blocks, facilities and edges in a UTM CRS)"
        )
    geoms = gdf.geometry.values
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame = gdf.loc[keep]
    if simplify and len(frame):
        if frame.crs.is_geographic:
            frame = frame.to_crs(frame.estimate_utm_crs())
        tolerance = SIMPLIFY_M / _metres_per_unit(frame.crs)
        # Lines simplify one by one (Douglas-Peucker keeps their end points, so junctions stay
        # joined); topology-preserving simplification of the merged network costs minutes on
        # a city, since it checks every part against every other, and on isochrone rings with
        # thousands of holes it is 4x slower than plain Douglas-Peucker.
        frame = frame.set_geometry(
            shapely.simplify(np.asarray(frame.geometry.values), tolerance,
                             preserve_topology=preserve_topology and not merge_lines),
            crs=frame.crs)
        frame = frame.loc[~shapely.is_empty(np.asarray(frame.geometry.values))]
    if merge_lines and len(frame):
        # The network needs no attributes: merge it into long lines (each shared junction is
        # then written once) and keep a single feature.
        parts = shapely.get_parts(np.asarray(frame.geometry.values))
        merged = shapely.line_merge(shapely.multilinestrings(parts))
        frame = gpd.GeoDataFrame(geometry=[merged], crs=frame.crs)
    frame = frame.to_crs(4326)
    rounded = shapely.transform(np.asarray(frame.geometry.values),
                                lambda xy: np.round(xy, DECIMALS))
    return frame.set_geometry(rounded, crs=4326)


def _bounds(frames: Sequence[gpd.GeoDataFrame]) -> tuple[tuple[float, float], tuple[float, float]]:
    boxes = [f.total_bounds for f in frames if not f.empty]
    if not boxes:
        raise InputError("nothing to map: blocks, facilities and edges are all empty")
    arr = np.vstack(boxes)
    minx, miny = arr[:, 0].min(), arr[:, 1].min()
    maxx, maxy = arr[:, 2].max(), arr[:, 3].max()
    return (float(miny), float(minx)), (float(maxy), float(maxx))


def _has_category(frame: gpd.GeoDataFrame, category: str) -> bool:
    return "category" in frame.columns and bool((frame["category"] == category).any())


def _cat_color(i: int) -> str:
    return CATEGORY_COLORS[i % len(CATEGORY_COLORS)]


def _feature(geom: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _plain_collection(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    return _collection([_feature(g, {}) for g in frame.geometry.values])


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def _none_if_nan(x: float, digits: int | None = 1) -> float | int | None:
    if not np.isfinite(x):
        return None
    return round(float(x)) if digits is None else round(float(x), digits)


def _block_collection(
    frame: gpd.GeoDataFrame, profile: Profile, cats: Sequence[str]
) -> dict[str, Any]:
    """GeoJSON of the blocks with only what the map shows, under short property names.

    ``id`` escaped block id; ``m`` minutes per category (``None`` unreachable); ``b`` bin per
    category and, last, of the worst category; ``w`` index of the worst category; ``c`` bit
    mask of covered categories; ``l`` lacking categories (index, or escaped name when the
    profile does not know it); ``n`` number lacking; ``p`` population.
    """
    n, k = len(frame), len(cats)
    minutes = np.column_stack([_numbers(frame, col.walk_min(c)) for c in cats])
    # Unreachable counts as the longest walk: a block's worst category is then that one.
    reach = np.where(np.isnan(minutes), np.inf, minutes)
    worst_idx = reach.argmax(axis=1)
    worst = reach[np.arange(n), worst_idx]
    bins = np.column_stack([classify_minutes(minutes[:, i]) for i in range(k)]
                           + [classify_minutes(worst)])

    covered = np.zeros((n, k), dtype=bool)
    for i, c in enumerate(cats):
        name = col.covered(c)
        if name in frame.columns:
            covered[:, i] = frame[name].fillna(False).astype(bool).to_numpy()
        else:
            covered[:, i] = minutes[:, i] <= profile.threshold_of(c)
    mask = (covered * (1 << np.arange(k))).sum(axis=1)

    index = {c: i for i, c in enumerate(cats)}
    if "lacks" in frame.columns:
        lacks: list[list[int | str]] = []
        for value in frame["lacks"].to_numpy(dtype=object):
            names = [] if not isinstance(value, str) else [s.strip() for s in value.split(",")]
            lacks.append([index.get(s, escape_text(s)) for s in names if s])
    else:
        lacks = [[i for i in range(k) if not covered[r, i]] for r in range(n)]
    if "n_lacking" in frame.columns:
        n_lacking = pd.to_numeric(frame["n_lacking"], errors="coerce").fillna(0).to_numpy()
    else:
        n_lacking = np.array([len(x) for x in lacks])
    population = _numbers(frame, "population") if "population" in frame.columns else \
        np.full(n, np.nan)

    features = []
    for r, (geom, block_id) in enumerate(zip(frame.geometry.values, frame["block_id"],
                                             strict=True)):
        features.append(_feature(geom, {
            "id": escape_text(block_id),
            "m": [_none_if_nan(x) for x in minutes[r]],
            "b": [int(x) for x in bins[r]],
            "w": int(worst_idx[r]),
            "c": int(mask[r]),
            "l": lacks[r],
            "n": int(n_lacking[r]),
            "p": _none_if_nan(population[r], None),
        }))
    return _collection(features)


def _source_text(value: Any, text: Mapping[str, str]) -> str:
    key = f"src_{value}"
    return escape_text(text[key] if isinstance(value, str) and key in text else value)


def _add_facilities(
    m: folium.Map, frame: gpd.GeoDataFrame, cats: Sequence[str], labels: Sequence[str],
    text: Mapping[str, str], helper: str,
) -> bool:
    """Add one layer per category; return whether any of them clusters its markers."""
    from folium.plugins import MarkerCluster

    if frame.empty or "category" not in frame.columns:
        return False
    clustered = False
    geoms = np.asarray(frame.geometry.values)
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    unnamed = escape_text(text["unnamed"])
    for k, c in enumerate(cats):
        rows = np.flatnonzero((frame["category"] == c).to_numpy())
        if not len(rows):
            continue
        sub = frame.iloc[rows]
        names = sub["name"] if "name" in sub.columns else pd.Series([None] * len(sub))
        ids = sub["facility_id"] if "facility_id" in sub.columns else pd.Series([""] * len(sub))
        sources = sub["source"] if "source" in sub.columns else pd.Series([None] * len(sub))
        features = [
            _feature(points[r], {"n": escape_text(nm) or unnamed, "i": escape_text(fid),
                                 "s": _source_text(src, text)})
            for r, nm, fid, src in zip(rows, names, ids, sources, strict=True)
        ]
        cluster = len(rows) > CLUSTER_ABOVE
        clustered |= cluster
        _JsLayer(
            f"{helper}.facilityLayer({script_json(_collection(features))}, {k}, "
            f"{'true' if cluster else 'false'})",
            name=_fill(text["layer_fac"], label=labels[k]),
            overlay=True, show=True,
            js_links=MarkerCluster.default_js if cluster else (),
            css_links=MarkerCluster.default_css if cluster else (),
        ).add_to(m)
    return clustered


def _add_isochrones(
    m: folium.Map, frame: gpd.GeoDataFrame, cats: Sequence[str], labels: Sequence[str],
    text: Mapping[str, str], helper: str,
) -> list[float]:
    if frame.empty or "category" not in frame.columns or "band_min" not in frame.columns:
        return []
    bands_all = _numbers(frame, "band_min")
    shown: set[float] = set()
    for k, c in enumerate(cats):
        # a category with no facility has empty rings: no layer for it
        in_cat = ((frame["category"] == c).to_numpy() & np.isfinite(bands_all)
                  & ~frame.geometry.is_empty.to_numpy() & frame.geometry.notna().to_numpy())
        if "facility_id" in frame.columns:
            union = in_cat & (frame["facility_id"].astype(str) == "all").to_numpy()
            if union.any():
                in_cat = union
        rows = np.flatnonzero(in_cat)
        if not len(rows):
            continue
        bands = sorted({float(b) for b in bands_all[rows]})
        # The widest band first, so nearer (darker) bands are drawn on top of it.
        order = sorted(rows, key=lambda r: -bands_all[r])
        geoms = frame.geometry.values
        features = [
            _feature(geoms[r], {"b": float(bands_all[r]),
                                "o": round(0.08 + 0.2 * (len(bands) - 1 - bands.index(
                                    float(bands_all[r]))) / max(len(bands) - 1, 1), 3)})
            for r in order
        ]
        shown.update(bands)
        _JsLayer(f"{helper}.isoLayer({script_json(_collection(features))}, {k})",
                 name=_fill(text["layer_iso"], label=labels[k]),
                 overlay=True, show=False).add_to(m)
    return sorted(shown)


def _site_collection(frame: gpd.GeoDataFrame, cats: Sequence[str]) -> dict[str, Any]:
    index = {c: i for i, c in enumerate(cats)}
    ranks = _numbers(frame, "rank") if "rank" in frame.columns else np.full(len(frame), np.nan)
    gains = (_numbers(frame, "gain_population") if "gain_population" in frame.columns
             else np.full(len(frame), np.nan))
    category = frame["category"] if "category" in frame.columns else pd.Series([""] * len(frame))
    geoms = np.asarray(frame.geometry.values)
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    features = []
    for r, c in enumerate(category):
        features.append(_feature(points[r], {
            "c": index[c] if c in index else escape_text(c),
            "r": int(ranks[r]) if np.isfinite(ranks[r]) else r + 1,
            "g": _none_if_nan(gains[r], None),
        }))
    return _collection(features)


# ---------------------------------------------------------------------------------------------
# legend, title and attribution


def _fmt(x: float) -> str:
    # thresholds derived from a radius (1000 m at 3.6 km/h = 16.666... min) read as 16.7
    return f"{round(float(x), 1):g}"


def _fill(template: str, **escaped: str) -> str:
    """Escape ``template`` and put already-escaped values in its ``{name}`` slots."""
    out = escape_text(template, max_len=None)
    for key, value in escaped.items():
        out = out.replace("{" + key + "}", value)
    return out


def _legend_html(
    profile: Profile, cats: Sequence[str], labels: Sequence[str], text: Mapping[str, str],
    iso_bands: Sequence[float], *, has_sites: bool, has_network: bool, clustered: bool = False,
    missing: Sequence[str] = (), heading: str | None = None,
) -> str:
    """HTML of the legend; every piece of text in it is escaped here."""
    t = {k: escape_text(v) for k, v in text.items()}
    unit = t["min"]
    thresholds = {profile.threshold_of(c) for c in cats}
    limit = next(iter(thresholds)) if len(thresholds) == 1 else None
    edges = (0.0, *BINS_MIN)
    shown = t["worst"] if heading is None else heading
    rows = [f'<h4>{t["legend_title"]} <span class="lc-legend-heading">{shown}</span></h4>']
    for i, color in enumerate(BIN_COLORS):
        span = (f"&gt; {_fmt(edges[i])}" if i == len(BINS_MIN)
                else f"{_fmt(edges[i])}–{_fmt(edges[i + 1])}")
        rows.append(f'<div class="lc-row"><span class="lc-sw" style="background:{color}">'
                    f"</span>{span} {unit}</div>")
        if limit is not None and i < len(BINS_MIN) and edges[i + 1] == limit:
            rows.append(f'<div class="lc-limit">{_fill(text["limit"], threshold=_fmt(limit))}'
                        "</div>")
    rows.append(f'<div class="lc-row"><span class="lc-sw" style="background:'
                f'{UNREACHABLE_COLOR}"></span>{t["unreachable"]}</div>')
    rows.append('<div class="lc-row"><span class="lc-sw" style="background:#fff;border:2px '
                f'dashed #111"></span>{t["lacking"]}</div>')
    if has_network:
        rows.append('<div class="lc-row"><span class="lc-sw" style="background:#fff;border:0;'
                    'border-top:1px solid #5f6b73;height:0;margin-top:1px"></span>'
                    f'{t["network"]}</div>')
    rows.append(f'<div class="lc-sec">{t["facilities"]}</div>')
    for i, label in enumerate(labels):
        rows.append(f'<div class="lc-row"><span class="lc-dot" style="background:'
                    f'{_cat_color(i)}"></span>{label}</div>')
    if clustered:
        rows.append(f'<div class="lc-note">{t["cluster"]}</div>')
    if has_sites:
        rows.append('<div class="lc-row"><span class="lc-dot" style="background:#fff;'
                    f'border:3px solid #000;box-shadow:none"></span>{t["sites"]}</div>')
    if missing:
        names = escape_text(text["and"]).join(missing)
        rows.append(f'<div class="lc-note lc-missing">{_fill(text["missing"], names=names)}'
                    "</div>")
    if iso_bands:
        bands = _fill(text["iso"], bands=" / ".join(_fmt(b) for b in iso_bands))
        rows.append(f'<div class="lc-note">{bands}</div>')
    speeds = {profile.group_of(c).speed_kmh for c in cats}
    if len(speeds) == 1 and limit is not None:
        note = _fill(text["speed"], speed=_fmt(next(iter(speeds))), threshold=_fmt(limit))
    else:
        note = "<br>".join(
            _fill(text["speed_cat"], label=labels[i], speed=_fmt(profile.group_of(c).speed_kmh),
                  threshold=_fmt(profile.threshold_of(c)))
            for i, c in enumerate(cats))
    rows.append(f'<div class="lc-note">{note}</div>')
    return "".join(rows)


def _chrome_js(
    map_name: str, heading: str, legend: str, time_layers: Sequence[tuple[Layer, str]]
) -> str:
    """Title, zoom buttons, legend (its heading follows the layer on show) and OSM credit."""
    pairs = ", ".join(f"[{layer.get_name()}, {script_json(label)}]"
                      for layer, label in time_layers)
    return f"""
(function (map) {{
  function box(position, cls, html) {{
    var c = L.control({{position: position}});
    c.onAdd = function () {{
      var div = L.DomUtil.create("div", "lc-box " + cls);
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }};
    return c.addTo(map);
  }}
  box("topleft", "lc-title", {script_json(heading)});
  L.control.zoom({{position: "topleft"}}).addTo(map);
  // a metric scale only (planning works in metres)
  L.control.scale({{imperial: false, maxWidth: 150}}).addTo(map);
  var legend = box("bottomleft", "lc-legend", {script_json(legend)});
  var headings = [{pairs}];
  map.on("baselayerchange", function (e) {{
    for (var i = 0; i < headings.length; i++) {{
      if (headings[i][0] === e.layer) {{
        legend.getContainer().querySelector(".lc-legend-heading").innerHTML = headings[i][1];
      }}
    }}
  }});
  map.attributionControl.addAttribution({script_json(OSM_ATTRIBUTION)});
}})({map_name});
"""


# ---------------------------------------------------------------------------------------------
# scripts and stylesheets


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


@cache
def _manifest() -> dict[str, Any]:
    return json.loads((_ASSETS / "manifest.json").read_text(encoding="utf-8"))


def _settle_assets(m: folium.Map, *, self_contained: bool) -> None:
    """Drop the folium resources the map does not use; inline the others when asked."""
    known = _manifest()["resources"]
    needed: list[str] = []
    for element in _walk(m.get_root()):
        if not isinstance(element, JSCSSMixin):
            continue
        keep: dict[str, list[tuple[str, str]]] = {"default_js": [], "default_css": []}
        for attr in keep:
            for name, url in getattr(element, attr):
                if name in _UNUSED_RESOURCES:
                    continue
                if self_contained:
                    if name not in known:
                        raise OutputError(
                            f"cannot inline {url} ({name}): it is not among the assets shipped "
                            "in lifecircle/outputs/assets; rerun scripts/vendor_map_assets.py"
                        )
                    if name not in needed:
                        needed.append(name)
                else:
                    keep[attr].append((name, url))
            setattr(element, attr, keep[attr])
    if self_contained:
        order = list(known)
        needed.sort(key=order.index)
        m.get_root().header.add_child(  # type: ignore[attr-defined]
            Element(_inline_assets(tuple(needed))), name="lifecircle_assets", index=0)


_SOURCE_MAP = re.compile(r"^\s*(//|/\*)# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((['\"]?)(images/[A-Za-z0-9_.-]+\.png)\1\)")
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
_STYLE_END = re.compile(r"</(style)", re.IGNORECASE)


@cache
def _inline_assets(names: tuple[str, ...]) -> str:
    """``<style>`` and ``<script>`` elements holding the shipped copies of ``names``."""
    resources = _manifest()["resources"]
    styles, scripts = [], []
    for name in names:
        path = _ASSETS / resources[name]["file"]
        body = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
        if path.suffix == ".css":
            body = _CSS_URL.sub(lambda mt: "url(data:image/png;base64," + base64.b64encode(
                (_ASSETS / mt.group(2)).read_bytes()).decode("ascii") + ")", body)
            body = _STYLE_END.sub(r"<\\/\1", body)
            styles.append(f"<style>/* {path.name} */\n{body}</style>")
        else:
            body = _SCRIPT_END.sub(r"<\\/\1", body)
            scripts.append(f"<script>/* {path.name} */\n{body}</script>")
    return "\n".join(styles + scripts)


_REMOTE = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//[^\"'\s>]*",
    re.IGNORECASE,
)


def _remote_resources(page: str) -> list[str]:
    """Addresses of scripts and stylesheets ``page`` would load from the network."""
    return [m.group(0) for m in _REMOTE.finditer(page)]
