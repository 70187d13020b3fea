/* The console's map (Leaflet, vendored): open incidents coloured by status with their precision circle,
 * and observers on duty (the console is for coordinators only).
 *
 * No third-party request by default: the background is the project's own data
 * (county outlines from the vendored us-atlas TopoJSON, the gazetteer's places
 * and ZIP centroids from /dashboard/basemap.json). Only when the network set
 * HOTLINE_MAP_TILES does the map ask that (their own) tile server for tiles.
 */
(function () {
  "use strict";

  var box = document.getElementById("map");
  if (!box || !window.L || !window.hotlineConsole) return;
  var C = window.hotlineConsole;
  var bounds = JSON.parse(box.getAttribute("data-bounds"));  // [south, west, north, east]
  var area = L.latLngBounds([bounds[0], bounds[1]], [bounds[2], bounds[3]]);
  var map = L.map(box, { preferCanvas: true, zoomSnap: 0.5, attributionControl: true });
  map.fitBounds(area);
  map.attributionControl.setPrefix(false);  // no link out of the console

  var STATUS_COLOURS = { reported: "#b45309", corroborated: "#c2410c", verified: "#b91c1c", unfounded: "#6b7280", closed: "#6b7280" };
  var URGENT = "#7c3aed";

  var tiles = box.getAttribute("data-tiles");
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: box.getAttribute("data-tiles-attribution") || "" }).addTo(map);
  }

  function inArea(feature) {
    var b = L.geoJSON(feature).getBounds();
    return b.isValid() && area.intersects(b);
  }

  // County and state outlines: drawn only where the network works (a few dozen of 3,000 counties).
  fetch(box.getAttribute("data-outlines"), { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (topo) {
    if (!window.topojson) return;
    var counties = topojson.feature(topo, topo.objects.counties).features.filter(inArea);
    L.geoJSON(counties, {
      style: { color: "#94a3b8", weight: 1, fill: true, fillColor: "#ffffff", fillOpacity: 1 },
      interactive: false,
    }).addTo(map).bringToBack();
    counties.forEach(function (f) {
      var centre = L.geoJSON(f).getBounds().getCenter();
      if (area.contains(centre)) L.tooltip({ permanent: true, direction: "center", className: "county-label" }).setLatLng(centre).setContent(C.el("span", { text: f.properties.name })).addTo(map);
    });
  }).catch(function () { /* outlines are decoration: the incidents still show */ });

  fetch(box.getAttribute("data-basemap"), { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    L.geoJSON(data, {
      pointToLayer: function (f, at) {
        var kind = f.properties.layer;
        var marker = L.circleMarker(at, { radius: kind === "zip" ? 2 : 3, color: kind === "zip" ? "#cbd5e1" : "#64748b", weight: 1, fillOpacity: 0.8, interactive: kind !== "zip" });
        if (kind !== "zip") marker.bindTooltip(C.el("span", { text: f.properties.name }));
        return marker;
      },
    }).addTo(map);
  }).catch(function () { /* as above */ });

  var incidentsLayer = L.layerGroup().addTo(map);
  var observersLayer = L.layerGroup().addTo(map);

  function drawIncidents(rows) {
    incidentsLayer.clearLayers();
    rows.forEach(function (i) {
      if (i.lat === null || i.lat === undefined) return;
      var colour = i.needs_action ? URGENT : STATUS_COLOURS[i.status] || "#334155";
      L.circle([i.lat, i.lon], { radius: i.precision_m || 30, color: colour, weight: 1, fillOpacity: 0.12, interactive: false }).addTo(incidentsLayer);
      var marker = L.circleMarker([i.lat, i.lon], { radius: 9, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 1 });
      marker.bindTooltip(C.el("span", { text: i.ref + " · " + C.t("status_" + i.status) }), { permanent: true, direction: "right", offset: [10, 0], className: "incident-label" });
      marker.on("click", function () { C.openIncident(i.ref); });
      marker.addTo(incidentsLayer);
    });
  }

  function drawObservers() {
    C.request("GET", box.getAttribute("data-observers")).then(function (rows) {
      observersLayer.clearLayers();
      rows.forEach(function (o) {
        if (!o.on_duty || o.lat === undefined || o.lat === null) return;
        L.circleMarker([o.lat, o.lon], { radius: 6, color: "#0f766e", weight: 2, fillColor: "#ccfbf1", fillOpacity: 1 })
          .bindTooltip(C.el("span", { text: o.name + " · " + (o.languages || []).join("/") }))
          .addTo(observersLayer);
      });
    }).catch(function () { /* a dispatcher may not see the roster */ });
  }

  document.addEventListener("console:incidents", function (e) { drawIncidents(e.detail); });
  document.addEventListener("console:shown", function () { map.invalidateSize(); });
  window.addEventListener("resize", function () { map.invalidateSize(); });
  drawObservers();
  setInterval(function () { if (!document.hidden) drawObservers(); }, 60000);
})();
