/* lifecircle map: builds the whole map from the page's JSON data block (id "lc-data").

   Every text from data or from the message catalogue reaches the page through textContent
   (el()), or through esc() at the moment it is handed to a Leaflet call that takes HTML (the
   layer switcher's labels and the attribution). Nothing here evaluates or templates text.
   Written by hand for lifecircle (BSD-3-Clause, like the package). */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("lc-data").textContent);
  var T = D.t;
  document.title = D.title;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function color(c) { return /^#[0-9a-fA-F]{6}$/.test(c) ? c : "#000000"; }
  function fill(template, values) {
    // one pass over the catalogue's template: a value is never read as a placeholder
    return template.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }

  if (typeof L === "undefined") {
    // only a --cdn page gets here, when the CDN cannot be reached
    var note = el("div", "lc-no-leaflet", T.no_leaflet);
    document.body.insertBefore(note, document.body.firstChild);
    return;
  }

  var C = D.cats;
  // ---- the compact columns of webmap/binary.py: base64 typed arrays and varint streams
  function bytesOf(b64) {
    var text = atob(b64), out = new Uint8Array(text.length), i;
    for (i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
    return out;
  }
  function decodeVarints(b64) {
    // LEB128, 7 bits a byte; arithmetic rather than bit shifts so that values pass 2^31
    var bytes = bytesOf(b64), out = new Float64Array(bytes.length), n = 0, i = 0, v, f, x;
    while (i < bytes.length) {
      v = 0; f = 1;
      do { x = bytes[i++]; v += (x & 127) * f; f *= 128; } while (x & 128);
      out[n++] = v;
    }
    return out.subarray(0, n);
  }
  var TYPED = {u8: [Uint8Array, 255], u16: [Uint16Array, 65535], u32: [Uint32Array, 4294967295]};
  function typed(c) {
    // little-endian like every platform a browser runs on
    var arr = new TYPED[c.t][0](bytesOf(c.d).buffer), nul = c.n ? TYPED[c.t][1] : -1;
    return function (i, j) { var v = arr[i * c.w + (j || 0)]; return v === nul ? null : v; };
  }
  function texts(c) {
    // a list of texts, or a prefix and the varint steps between the numbers that follow it
    if (Array.isArray(c)) { return c; }
    var steps = decodeVarints(c.num), out = new Array(steps.length), v = 0, i, z;
    var pre = c.k ? typed(c.k) : function () { return 0; };
    for (i = 0; i < steps.length; i++) {
      z = steps[i]; v += z % 2 ? -(z + 1) / 2 : z / 2;
      out[i] = c.pre[pre(i)] + v;
    }
    return out;
  }
  // Web Mercator at zoom 0 (256 px the world), as Leaflet's EPSG:3857 projects
  function worldX(lon) { return (lon + 180) / 360 * 256; }
  function worldY(lat) {
    var s = Math.sin(Math.max(-85.0511287798, Math.min(85.0511287798, lat)) * Math.PI / 180);
    return 128 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI) * 256;
  }
  // ---- the blocks: outlines in typed arrays, drawn by one tiled canvas layer and found
  // under the mouse through a grid index; no Leaflet layer per block (a city has 100 000s)
  function decodeBlocks(B) {
    var counts = decodeVarints(B.rings), steps = decodeVarints(B.xy), n = B.n;
    var nv = steps.length / 2, X = new Float64Array(nv), Y = new Float64Array(nv);
    var x = 0, y = 0, i, z, q = B.q;
    for (i = 0; i < nv; i++) {
      z = steps[2 * i]; x += z % 2 ? -(z + 1) / 2 : z / 2;
      z = steps[2 * i + 1]; y += z % 2 ? -(z + 1) / 2 : z / 2;
      X[i] = worldX(x / q); Y[i] = worldY(y / q);
    }
    var ringOf = new Uint32Array(n + 1), starts = [], c = 0, r = 0, v = 0, b, k, nr;
    for (b = 0; b < n; b++) {
      ringOf[b] = r; nr = counts[c++];
      for (k = 0; k < nr; k++) { starts.push(v); v += counts[c++]; r++; }
    }
    ringOf[n] = r; starts.push(v);
    var box = new Float64Array(4 * n);
    for (b = 0; b < n; b++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (i = starts[ringOf[b]]; i < starts[ringOf[b + 1]]; i++) {
        if (X[i] < x0) { x0 = X[i]; } if (X[i] > x1) { x1 = X[i]; }
        if (Y[i] < y0) { y0 = Y[i]; } if (Y[i] > y1) { y1 = Y[i]; }
      }
      box[4 * b] = x0; box[4 * b + 1] = y0; box[4 * b + 2] = x1; box[4 * b + 3] = y1;
    }
    var cols = {m: typed(B.m), b: typed(B.b), l: typed(B.l), f: typed(B.f), s: typed(B.s),
                p: typed(B.p), r: B.r ? typed(B.r) : null};
    return {n: n, X: X, Y: Y, ringOf: ringOf, starts: new Uint32Array(starts), box: box,
            grid: gridIndex(box, n), cols: cols, id: texts(B.id), lw: B.l.w, rw: B.r ? B.r.w : 0};
  }
  function gridIndex(box, n) {
    // a uniform grid of about four blocks a cell, each block listed in every cell its box
    // touches (counting sort into one array)
    var g = {side: Math.max(1, Math.ceil(Math.sqrt(n / 4))), x0: Infinity, y0: Infinity,
             w: 1, h: 1}, b, cx, cy, x1 = -Infinity, y1 = -Infinity;
    for (b = 0; b < n; b++) {
      g.x0 = Math.min(g.x0, box[4 * b]); g.y0 = Math.min(g.y0, box[4 * b + 1]);
      x1 = Math.max(x1, box[4 * b + 2]); y1 = Math.max(y1, box[4 * b + 3]);
    }
    if (n) { g.w = (x1 - g.x0) / g.side || 1; g.h = (y1 - g.y0) / g.side || 1; }
    var start = new Uint32Array(g.side * g.side + 1), pass, fill, at;
    g.cell = function (v, o, s) { return Math.max(0, Math.min(g.side - 1, Math.floor((v - o) / s))); };
    for (pass = 0; pass < 2; pass++) {
      if (pass === 1) {
        for (b = 1; b < start.length; b++) { start[b] += start[b - 1]; }
        fill = start.slice(0, -1); g.items = new Uint32Array(start[start.length - 1]);
      }
      for (b = 0; b < n; b++) {
        for (cy = g.cell(box[4 * b + 1], g.y0, g.h); cy <= g.cell(box[4 * b + 3], g.y0, g.h); cy++) {
          for (cx = g.cell(box[4 * b], g.x0, g.w); cx <= g.cell(box[4 * b + 2], g.x0, g.w); cx++) {
            at = cy * g.side + cx;
            if (pass === 0) { start[at + 1]++; } else { g.items[fill[at]++] = b; }
          }
        }
      }
    }
    g.start = start;
    g.stamp = new Uint32Array(n); g.visit = 0;
    return g;
  }
  function eachBlock(K, x0, y0, x1, y1, fn) {
    // every block whose box meets the box (x0, y0)-(x1, y1) in world units, once
    var g = K.grid, cx, cy, i, b, box = K.box;
    g.visit += 1;
    for (cy = g.cell(y0, g.y0, g.h); cy <= g.cell(y1, g.y0, g.h); cy++) {
      for (cx = g.cell(x0, g.x0, g.w); cx <= g.cell(x1, g.x0, g.w); cx++) {
        for (i = g.start[cy * g.side + cx]; i < g.start[cy * g.side + cx + 1]; i++) {
          b = g.items[i];
          if (g.stamp[b] === g.visit || box[4 * b] > x1 || box[4 * b + 2] < x0 ||
              box[4 * b + 1] > y1 || box[4 * b + 3] < y0) { continue; }
          g.stamp[b] = g.visit;
          fn(b);
        }
      }
    }
  }
  function binOf(b, i) { return (K.cols.b(b, i >> 1) >> ((i & 1) * 4)) & 15; }
  function blockProps(K, b) {
    // what the tooltip shows, as the GeoJSON properties of block b
    var c = K.cols, m = [], bins = [], l = [], r = [], i;
    for (i = 0; i < C.length; i++) {
      var t = c.m(b, i);
      m.push(t === null ? null : t / 10); bins.push(binOf(b, i));
      if (c.l(b, i >> 3) & (1 << (i & 7))) { l.push(i); }
    }
    for (i = 0; i < K.rw; i++) { r.push(c.r(b, i)); }
    var f = c.f(b);
    return {id: K.id[b], m: m, b: bins, l: l, f: f === null ? null : f / 10, s: c.s(b),
            p: c.p(b), r: K.rw ? r : undefined};
  }
  function blockAt(K, latlng) {
    // the block under a point: even-odd ray casting over the rings of the blocks near it
    var px = worldX(latlng.lng), py = worldY(latlng.lat), found = -1;
    eachBlock(K, px, py, px, py, function (b) {
      var inside = false, r, i, j, a, e;
      for (r = K.ringOf[b]; r < K.ringOf[b + 1]; r++) {
        a = K.starts[r]; e = K.starts[r + 1];
        for (i = a, j = e - 1; i < e; j = i++) {
          if ((K.Y[i] > py) !== (K.Y[j] > py) &&
              px < (K.X[j] - K.X[i]) * (py - K.Y[i]) / (K.Y[j] - K.Y[i]) + K.X[i]) {
            inside = !inside;
          }
        }
      }
      if (inside && found < 0) { found = b; }
    });
    return found;
  }
  var K = decodeBlocks(D.blocks);
  // the facilities: one packed list of point steps (webmap/prepare.py, packed_points),
  // sources by index
  function unpackPoints(P) {
    var xy = [], x = 0, y = 0, i, ids = texts(P.i);
    for (i = 0; i < P.xy.length; i += 2) {
      x += P.xy[i]; y += P.xy[i + 1];
      xy.push([x / P.q, y / P.q]);
    }
    return {type: "FeatureCollection", features: xy.map(function (c, i) {
      return {type: "Feature", geometry: {type: "Point", coordinates: c},
              properties: {n: P.n[i], i: ids[i], s: P.src[P.s[i]], k: P.k[i]}};
    })};
  }
  var map = L.map("lc-map", {zoomControl: false, maxZoom: 20, zoomSnap: 0.25});
  window.lcMap = map;
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.attributionControl.addAttribution(
    '&copy; <a href="https://www.openstreetmap.org/copyright">' + esc(T.osm_credit) + "</a>");

  // Panes, bottom to top. Only blocks and facilities take the mouse.
  [["lc-blocks", 350, true], ["lc-network", 360, false], ["lc-iso", 380, false],
   ["lc-facilities", 610, true]].forEach(function (p) {
    var pane = map.createPane(p[0]);
    pane.style.zIndex = p[1];
    if (!p[2]) { pane.style.pointerEvents = "none"; }
  });
  var R = {network: L.canvas({pane: "lc-network"}), iso: L.canvas({pane: "lc-iso"})};

  // ---- controls: title and zoom (top left), scale and legend (bottom left), layers (right)
  function box(position, cls) {
    var c = L.control({position: position});
    var div = L.DomUtil.create("div", "lc-box " + cls);
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    c.onAdd = function () { return div; };
    c.addTo(map);
    return div;
  }
  box("topleft", "lc-title").textContent = D.title;
  var zoom = L.control.zoom({position: "topleft", zoomInTitle: T.zoom_in,
                             zoomOutTitle: T.zoom_out}).addTo(map);
  var scale = L.control.scale({imperial: false, maxWidth: 150}).addTo(map);
  var legend = box("bottomleft", "lc-legend");

  // ---- tiles: an optional background; when they cannot load the legend says so
  var tilesNote = el("div", "lc-note lc-tiles-failed", T.tiles_failed);
  tilesNote.style.display = "none";
  var tiles = null;
  if (D.tiles) {
    tiles = L.tileLayer(D.tiles.url, {
      maxZoom: 20, maxNativeZoom: D.tiles.maxNativeZoom, subdomains: D.tiles.subdomains,
      attribution: D.tiles.attribution ? esc(D.tiles.attribution) : ""});
    var loaded = 0, failed = 0;
    tiles.on("tileload", function () { loaded += 1; tilesNote.style.display = "none"; });
    tiles.on("tileerror", function () {
      failed += 1;
      if (loaded === 0 && failed >= 2) {
        tilesNote.style.display = "";
        map.getContainer().classList.add("lc-no-tiles");
      }
    });
    tiles.addTo(map);
  }

  // ---- blocks: one copy of the data, one base layer per view
  function fmtMin(x) { return x === null ? T.unreachable : x.toFixed(1) + "\u00a0" + T.min; }
  function fmtNum(x) { return String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function blockTip(p, view) {
    var div = el("div", "lc-tip"), table = el("table"), i, tr, status;
    div.appendChild(el("b", null, T.block + " " + p.id));
    for (i = 0; i < C.length; i++) {
      tr = el("tr", view.k === i ? "lc-hi" : null);
      tr.appendChild(el("td", null, C[i].label));
      tr.appendChild(el("td", "lc-num", C[i].noData ? T.no_data_short : fmtMin(p.m[i])));
      tr.appendChild(el("td", null, C[i].noData ? "" : p.l.indexOf(i) >= 0 ? "\u2717" : "\u2713"));
      table.appendChild(tr);
    }
    div.appendChild(table);
    if (p.l.length) {
      status = T.lacks + T.sep + p.l.map(function (k) { return C[k].label; }).join(T.and);
      div.appendChild(el("div", null, status));
      if (p.f !== null) { div.appendChild(el("div", null, fill(T.short_by, {minutes: p.f.toFixed(1)}))); }
    } else {
      div.appendChild(el("div", null, T.complete));
    }
    if (p.p !== null) { div.appendChild(el("div", null, T.population + T.sep + fmtNum(p.p))); }
    // the services for some residents (elderly care: people aged 60+): how many live here,
    // and in the view of such a service, the shares of all and of those residents it covers
    D.served.forEach(function (s, j) {
      if (p.r && p.r[j] !== null) {
        div.appendChild(el("div", view.k === s.k ? "lc-hi" : null, fill(T.served_block, {
          label: C[s.k].label, who: s.who, n: fmtNum(p.r[j]),
          all: p.p === null ? "\u2013" : fmtNum(p.p)})));
      }
      if (view.k === s.k && s.area) { div.appendChild(el("div", "lc-note", s.area)); }
    });
    return div;
  }
  // One copy of the blocks for every view (memory stays flat with the number of views): the
  // base layers are empty markers of the view, and choosing one recolours the blocks.
  var palette = [], colourOf = new Uint8Array(K.n);
  function colourBlocks(view) {
    var cat = view.k >= 0 ? C[view.k] : null, b;
    palette = (cat === null ? D.shortColors : cat.noData ? [D.noDataColor] : D.binColors)
      .map(color);
    for (b = 0; b < K.n; b++) {
      colourOf[b] = cat === null ? K.cols.s(b) : cat.noData ? 0 : binOf(b, view.k);
    }
  }
  // zoomed out over a city, outlines and streets would cover the colours that answer the
  // question: they fade in with the zoom
  function detail(z) { return (z === undefined ? map.getZoom() : z) >= 15; }
  function streetOpacity() { var z = map.getZoom(); return z >= 15 ? 0.55 : z >= 13 ? 0.3 : 0.12; }
  function rgba(hex) {
    var c = parseInt(color(hex).slice(1), 16);
    return [c >> 16, (c >> 8) & 255, c & 255];
  }
  function drawTile(canvas, coords) {
    // the blocks meeting this tile: those under a pixel wide as one pixel each (a city seen
    // whole: every block is a dot, and a path each would cost seconds), the others as one
    // path per colour
    // size in CSS pixels; the canvas has ratio device pixels to one (sharp on HiDPI screens)
    var ctx = canvas.getContext("2d"), scale = Math.pow(2, coords.z), size = 256;
    var ratio = canvas.width / size, dev = canvas.width, dot = Math.max(1, Math.round(ratio));
    var x0 = coords.x * size / scale, y0 = coords.y * size / scale, pad = 2 / scale;
    var byColour = palette.map(function () { return []; }), dots = null, box = K.box;
    var rgb = palette.map(rgba);
    eachBlock(K, x0 - pad, y0 - pad, x0 + (size + 2) / scale, y0 + (size + 2) / scale,
              function (b) {
      var w = (box[4 * b + 2] - box[4 * b]) * scale, h = (box[4 * b + 3] - box[4 * b + 1]) * scale;
      if (w >= 1.5 || h >= 1.5) { byColour[colourOf[b]].push(b); return; }
      var px = Math.floor(((box[4 * b] + box[4 * b + 2]) / 2 - x0) * scale * ratio);
      var py = Math.floor(((box[4 * b + 1] + box[4 * b + 3]) / 2 - y0) * scale * ratio);
      if (px < 0 || py < 0 || px >= dev || py >= dev) { return; }
      if (dots === null) { dots = ctx.createImageData(dev, dev); }
      var c = rgb[colourOf[b]], i, j, at;
      for (j = py; j < Math.min(dev, py + dot); j++) {
        for (i = px; i < Math.min(dev, px + dot); i++) {
          at = 4 * (j * dev + i);
          dots.data[at] = c[0]; dots.data[at + 1] = c[1]; dots.data[at + 2] = c[2];
          dots.data[at + 3] = 204;  // the blocks' opacity, 0.8
        }
      }
    });
    if (dots !== null) { ctx.putImageData(dots, 0, 0); }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    var outlines = detail(coords.z);
    byColour.forEach(function (list, c) {
      if (!list.length) { return; }
      ctx.beginPath();
      list.forEach(function (b) {
        for (var r = K.ringOf[b]; r < K.ringOf[b + 1]; r++) {
          var first = K.starts[r], lx = 0, ly = 0;
          for (var i = first; i < K.starts[r + 1]; i++) {
            var px = (K.X[i] - x0) * scale, py = (K.Y[i] - y0) * scale;
            if (i === first) {
              ctx.moveTo(px, py);
            } else if (Math.abs(px - lx) + Math.abs(py - ly) >= 0.5) {
              ctx.lineTo(px, py);  // a vertex within half a pixel of the last one adds nothing
            } else {
              continue;
            }
            lx = px; ly = py;
          }
          ctx.closePath();
        }
      });
      ctx.globalAlpha = 0.8;
      ctx.fillStyle = palette[c];
      ctx.fill("evenodd");
      if (outlines) {
        // white outlines only when blocks are large enough on screen to need them
        ctx.globalAlpha = 0.9; ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 0.6;
        ctx.stroke();
      }
    });
  }
  var BlockLayer = L.GridLayer.extend({
    createTile: function (coords) {
      var tile = L.DomUtil.create("canvas", "lc-block-tile"), size = this.getTileSize();
      var ratio = Math.min(3, Math.max(1, window.devicePixelRatio || 1));
      tile.width = Math.round(size.x * ratio); tile.height = Math.round(size.y * ratio);
      tile.style.width = size.x + "px"; tile.style.height = size.y + "px";
      drawTile(tile, coords);
      return tile;
    }
  });
  var current = D.views[D.view];
  colourBlocks(current);
  var blocks = new BlockLayer({pane: "lc-blocks", updateWhenZooming: false}).addTo(map);
  // the block under the mouse: its facts in a tooltip, its outline drawn, a popup on click
  var tip = L.tooltip({direction: "top", offset: [0, -8]}), hovered = -1;
  var outline = L.polygon([], {renderer: R.iso, interactive: false, fill: false,
                               color: "#212121", weight: 2, opacity: 0.9});
  function ringsOf(b) {
    var out = [], r, i;
    for (r = K.ringOf[b]; r < K.ringOf[b + 1]; r++) {
      var ring = [];
      for (i = K.starts[r]; i < K.starts[r + 1]; i++) {
        ring.push(map.unproject([K.X[i], K.Y[i]], 0));
      }
      out.push(ring);
    }
    return out;
  }
  function hover(latlng, over) {
    var b = over ? blockAt(K, latlng) : -1;
    if (b < 0) {
      if (hovered >= 0) { map.closeTooltip(tip); outline.remove(); }
      hovered = -1;
      map.getContainer().style.cursor = "";
      return;
    }
    if (b !== hovered) {
      tip.setContent(blockTip(blockProps(K, b), current));
      outline.setLatLngs(ringsOf(b)).addTo(map);
      map.getContainer().style.cursor = "pointer";
      hovered = b;
    }
    tip.setLatLng(latlng);
    if (!map.hasLayer(tip)) { map.openTooltip(tip); }
  }
  map.on("mousemove", function (e) {
    // not through the legend or the switcher, whose events reach the map too
    var target = e.originalEvent && e.originalEvent.target;
    hover(e.latlng, !(target && target.closest && target.closest(".leaflet-control")));
  });
  map.on("mouseout", function () { hover(null, false); });
  map.on("click", function (e) {
    var b = blockAt(K, e.latlng);
    if (b >= 0) {
      L.popup().setLatLng(e.latlng).setContent(blockTip(blockProps(K, b), current)).openOn(map);
    }
  });
  window.lcBlocks = {count: K.n, props: function (b) { return blockProps(K, b); },
                     at: function (latlng) { return blockAt(K, L.latLng(latlng)); },
                     hover: function (latlng) { hover(L.latLng(latlng), true); }};
  var base = {}, viewOf = [], shown = null;
  D.views.forEach(function (view, i) {
    var marker = L.layerGroup();
    base[esc(view.name)] = marker;
    viewOf.push([marker, view]);
    if (i === D.view) { shown = marker; }
  });
  var overlays = {};

  // ---- network
  if (D.network) {
    overlays[esc(T.layer_network)] = L.geoJSON(D.network, {
      renderer: R.network, interactive: false,
      style: function () { return {color: "#5f6b73", weight: 1, opacity: streetOpacity()}; }
    }).addTo(map);
  }
  var network = D.network ? overlays[esc(T.layer_network)] : null;
  // a large network comes as images in Web Mercator pixel space (one grey, one per category
  // coloured by walking time): the view on show puts its image into this layer
  var streets = null, streetImages = [];
  if (D.streets) {
    streets = L.layerGroup();
    streetImages = [D.streets.network].concat(D.streets.cats).map(function (url) {
      return url === null ? null : L.imageOverlay(url, D.streets.bounds, {
        pane: "lc-network", interactive: false, className: "lc-streets"});
    });
    overlays[esc(T.layer_network)] = streets;  // on the map once it has a view (below)
  }
  // beyond two zoom levels past the image's own detail (a pixel 4 screen pixels wide) the
  // streets would be smeared bands over the blocks: they are hidden and the legend says so
  var streetsNote = el("div", "lc-note", T.streets_zoom);
  streetsNote.style.display = "none";
  function showStreets(view) {
    if (!streets) { return; }
    var image = (view.k >= 0 && streetImages[view.k + 1]) || streetImages[0];
    var sharp = map.getZoom() <= Math.log2(156543.03392804097 / D.streets.px) + 2;
    streets.clearLayers();
    image.setOpacity(image === streetImages[0] ? Math.min(1, 1.5 * streetOpacity()) : 0.9);
    if (sharp) { streets.addLayer(image); }
    streetsNote.style.display = sharp ? "none" : "";
  }
  var zoomLevel = null;
  map.on("zoomend", function () {
    showStreets(current);
    var level = String(detail()) + streetOpacity();
    if (level === zoomLevel) { return; }
    zoomLevel = level;
    if (network) { network.setStyle({opacity: streetOpacity()}); }
  });

  // ---- isochrones of the category on show
  var isoGroup = L.layerGroup();
  var isoLayers = D.iso.map(function (fc, k) {
    if (!fc) { return null; }
    if (fc.img) {
      // a large network's bands: one image on the streets' grid
      return L.imageOverlay(fc.img, D.streets.bounds, {pane: "lc-iso", interactive: false,
                                                       className: "lc-iso-bands"});
    }
    var g = D.groups[C[k].group].color;
    return L.geoJSON(fc, {renderer: R.iso, interactive: false, style: function (f) {
      return {color: color(g), weight: 1, opacity: 0.8, fillColor: color(g),
              fillOpacity: f.properties.o};
    }});
  });
  if (D.iso.some(function (x) { return x; })) { overlays[esc(T.layer_iso)] = isoGroup; }

  // ---- facilities: one layer per group, one colour per group, one shape per category
  var SHAPES = {
    circle: '<circle cx="8" cy="8" r="5.8"/>',
    square: '<rect x="2.6" y="2.6" width="10.8" height="10.8"/>',
    triangle: '<path d="M8 1.5L14.6 13.6H1.4Z"/>',
    diamond: '<path d="M8 1L15 8L8 15L1 8Z"/>',
    star: '<path d="M8 .8l2 4.6 5 .4-3.8 3.3 1.2 4.9L8 11.4 3.6 14l1.2-4.9L1 5.8l5-.4z"/>',
    hexagon: '<path d="M4.2 1.6h7.6L15.4 8l-3.6 6.4H4.2L.6 8z"/>'
  };
  function shapeSvg(shape, c, size) {
    return '<svg width="' + size + '" height="' + size + '" viewBox="0 0 16 16" fill="' +
      color(c) + '" stroke="#ffffff" stroke-width="1.4">' + (SHAPES[shape] || SHAPES.circle) +
      "</svg>";
  }
  function line(parent, label, value) {
    parent.appendChild(el("div", null, label + T.sep + value));
  }
  function facilityPopup(p) {
    var div = el("div", "lc-tip");
    div.appendChild(el("b", null, p.n || T.unnamed));
    line(div, T.category, C[p.k].label);
    line(div, T.source, p.s);
    line(div, T.id, p.i);
    return div;
  }
  D.facilities.forEach(function (entry) {
    var group = D.groups[entry.g];
    function build() {
      var layer = L.geoJSON(unpackPoints(entry.data), {
        pointToLayer: function (f, latlng) {
          var cat = C[f.properties.k];
          return L.marker(latlng, {pane: "lc-facilities", keyboard: false, icon: L.divIcon({
            className: "lc-fac", iconSize: [16, 16], html: shapeSvg(cat.shape, group.color, 16)})});
        },
        onEachFeature: function (f, m) {
          m.bindTooltip(function () { return el("span", null, f.properties.n || T.unnamed); },
                        {direction: "top", offset: [0, -8]});
          m.bindPopup(function () { return facilityPopup(f.properties); });
        }
      });
      if (entry.cluster && L.markerClusterGroup) {
        // many facilities (a city): clustered, and off when the page opens so that the blocks,
        // which answer the question, are not hidden under discs
        layer = L.markerClusterGroup({maxClusterRadius: 60, showCoverageOnHover: false,
          iconCreateFunction: function (c) {
            var n = c.getChildCount(), size = n < 10 ? 20 : n < 100 ? 24 : 30;
            var disc = el("div", "lc-cluster", n);
            disc.style.cssText = "background:" + color(group.color) + ";width:" + size +
              "px;height:" + size + "px;line-height:" + size + "px";
            return L.divIcon({className: "", iconSize: [size, size], html: disc});
          }}).addLayer(layer);
      }
      return layer;
    }
    var layer;
    if (entry.cluster) {
      // built when first ticked: a city's hundred thousand markers cost seconds at opening
      layer = L.layerGroup();
      layer.once("add", function () { layer.addLayer(build()); });
    } else {
      layer = build().addTo(map);
    }
    overlays[esc(fill(T.layer_group, {group: group.name}))] = layer;
  });

  // ---- proposed sites
  function siteTip(p) {
    var div = el("div", "lc-tip");
    div.appendChild(el("b", null, T.site));
    line(div, T.category, p.k === null ? p.c : C[p.k].label);
    line(div, T.rank, p.r);
    if (p.g !== null) { line(div, T.gain, fmtNum(p.g)); }
    return div;
  }
  if (D.sites) {
    overlays[esc(T.layer_sites)] = L.geoJSON(D.sites, {
      pointToLayer: function (f, latlng) {
        var p = f.properties;
        var c = p.k === null ? "#000000" : D.groups[C[p.k].group].color;
        var disc = el("div", "lc-site", p.r);
        disc.style.borderColor = color(c);
        return L.marker(latlng, {pane: "lc-facilities", icon: L.divIcon({
          className: "", iconSize: [22, 22], html: disc})});
      },
      onEachFeature: function (f, m) {
        m.bindTooltip(function () { return siteTip(f.properties); });
        m.bindPopup(function () { return siteTip(f.properties); });
      }
    }).addTo(map);
  }

  if (tiles) { overlays[esc(T.layer_tiles)] = tiles; }
  var switcher = L.control.layers(base, overlays, {collapsed: false, position: "topright"});
  switcher.addTo(map);
  var toggle = switcher.getContainer().querySelector(".leaflet-control-layers-toggle");
  if (toggle) { toggle.title = T.layers; }

  // ---- legend: the part of the view on show, then facilities and notes
  var viewPart = el("div", "lc-view");
  legend.appendChild(viewPart);
  function drawView(view) {
    viewPart.textContent = "";
    viewPart.appendChild(el("h4", "lc-legend-heading", view.heading));
    view.rows.forEach(function (r) {
      if (r.limit !== undefined) { viewPart.appendChild(el("div", "lc-limit", r.limit)); return; }
      var row = el("div", "lc-row"), sw = el("span", "lc-sw");
      sw.style.background = color(r.sw);
      row.appendChild(sw);
      row.appendChild(el("span", null, r.t));
      viewPart.appendChild(row);
    });
    view.notes.forEach(function (n) { viewPart.appendChild(el("div", "lc-note", n)); });
    D.served.forEach(function (s) {
      if (view.k === s.k && s.area) { viewPart.appendChild(el("div", "lc-note", s.area)); }
    });
    if (view.k >= 0 && isoLayers[view.k] && D.isoNote) {
      viewPart.appendChild(el("div", "lc-note", D.isoNote));
    }
    isoGroup.clearLayers();
    if (view.k >= 0 && isoLayers[view.k]) { isoGroup.addLayer(isoLayers[view.k]); }
    showStreets(view);
  }
  var shared = el("div", "lc-shared");
  legend.appendChild(shared);
  if (D.facilities.length) {
    shared.appendChild(el("div", "lc-sec", T.facilities));
    D.groups.forEach(function (g, gi) {
      var items = C.filter(function (c) { return c.group === gi && c.drawn; });
      if (!items.length) { return; }
      var row = el("div", "lc-group");
      row.appendChild(el("span", "lc-group-name", g.name + T.sep));
      items.forEach(function (c) {
        var item = el("span", "lc-item"), icon = el("span", "lc-shape");
        icon.innerHTML = shapeSvg(c.shape, g.color, 13);  // built from constants only
        item.appendChild(icon);
        item.appendChild(el("span", null, c.label));
        row.appendChild(item);
      });
      shared.appendChild(row);
    });
    if (D.facilities.some(function (f) { return f.cluster; })) {
      shared.appendChild(el("div", "lc-note", T.cluster));
    }
  }
  if (D.sites) { shared.appendChild(el("div", "lc-note", T.sites)); }
  if (D.isoCity) { shared.appendChild(el("div", "lc-note", D.isoCity)); }
  shared.appendChild(streetsNote);
  shared.appendChild(tilesNote);

  map.on("baselayerchange", function (e) {
    viewOf.forEach(function (pair) {
      if (pair[0] === e.layer && pair[1] !== current) {
        current = pair[1];
        colourBlocks(current);
        blocks.redraw();
        if (hovered >= 0) { tip.setContent(blockTip(blockProps(K, hovered), current)); }
        drawView(current);
      }
    });
  });

  // ---- layout: the legend and the switcher scroll rather than cover another control
  function layout() {
    var H = map.getSize().y;
    var top = zoom.getContainer().getBoundingClientRect().bottom -
      map.getContainer().getBoundingClientRect().top;
    var scaleH = scale.getContainer().offsetHeight + 10;
    legend.style.maxHeight = Math.max(80, H - top - scaleH - 30) + "px";
    var sw = switcher.getContainer();
    var attr = map.attributionControl.getContainer().offsetHeight;
    sw.style.maxHeight = Math.max(80, H - attr - 30) + "px";
    sw.style.overflowY = "auto";
  }
  shown.addTo(map);
  drawView(D.views[D.view]);
  layout();
  map.on("resize", layout);
  // fit the data into the part of the map the legend and the switcher leave free
  var pad = 12, left = legend.offsetWidth + 2 * pad;
  var right = switcher.getContainer().offsetWidth + 2 * pad;
  if (left + right > 0.6 * map.getSize().x) { left = pad; right = pad; }
  map.fitBounds(D.bounds, {paddingTopLeft: [left, pad], paddingBottomRight: [right, pad]});
  if (streets) { streets.addTo(map); }
})();
