(function (H) {
  H.fmt = function (x) {
    return x === null ? H.t.unreachable : x.toFixed(1) + "\u00a0" + H.t.min;
  };
  H.num = function (x) { return String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ","); };
  H.block = function (p, k) {
    var rows = "", i, hi, lacks;
    for (i = 0; i < H.cats.length; i++) {
      hi = k === i || (k === H.cats.length && p.w === i);
      rows += "<tr" + (hi ? " class=\"lc-hi\"" : "") + "><td>" + H.cats[i] +
        "</td><td class=\"lc-num\">" + H.fmt(p.m[i]) + "</td><td>" +
        ((p.c >> i) & 1 ? "\u2713" : "\u2717") + "</td></tr>";
    }
    lacks = p.l.map(function (x) { return typeof x === "number" ? H.cats[x] : x; });
    return "<div class=\"lc-tip\"><b>" + H.t.block + " " + p.id + "</b><table>" + rows +
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
    return "<div class=\"lc-tip\"><b>" + p.n + "</b><br>" + H.t.category + H.t.sep +
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
          html: "<div class=\"lc-cluster\" style=\"background:" + H.catColors[k] +
                ";width:" + size + "px;height:" + size + "px;line-height:" + size + "px\">" +
                n + "</div>"});
      }}).addLayer(layer);
  };
  H.site = function (p) {
    return "<div class=\"lc-tip\"><b>" + H.t.site + "</b><br>" + H.t.category + H.t.sep +
      (typeof p.c === "number" ? H.cats[p.c] : p.c) + "<br>" + H.t.rank + H.t.sep + p.r +
      (p.g === null ? "" : "<br>" + H.t.gain + H.t.sep + H.num(p.g)) + "</div>";
  };
  H.sitesLayer = function (data) {
    return L.geoJSON(data, {
      pointToLayer: function (f, latlng) {
        var color = typeof f.properties.c === "number" ? H.catColors[f.properties.c] : "#000";
        return L.marker(latlng, {icon: L.divIcon({className: "", iconSize: [22, 22],
          html: "<div class=\"lc-site\" style=\"border-color:" + color + "\">" +
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
