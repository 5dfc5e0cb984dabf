"""The legend, the title and the attribution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from folium.map import Layer

from ...profiles import Profile
from .._escape import escape_text, script_json
from .style import BIN_COLORS, BINS_MIN, UNREACHABLE_COLOR, _cat_color

OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

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
