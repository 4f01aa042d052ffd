// The airpicture live display: map, track table, details, alerts, clock and time slider.
// Talks to the web service of docs/live.md: REST under /api with the page's ?token=, WebSocket /ws?token=.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { feature, mesh } from "topojson-client";
import "./style.css";
import { symbolFor, IDENTITY_COLOURS } from "./symbols.js";
import { leaderEnd, sectorPolygon } from "./geo.js";
import { fmtTime, esc, label, ft, kt, num } from "./format.js";

const LEADER_S = 60; // velocity leader: where the track will be in 60 s
const TRAIL_S = 120; // history trail kept from the live feed
const DETAILS_REFRESH_MS = 3000;
const TIMELINE_POLL_MS = 2000;

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ state

const live = { time: null, epoch_unix: null, mode: "", tracks: new Map(), alerts: new Map(), context: null };
let history = null; // {time, epoch_unix, tracks: Map} while the operator looks at a past time
const trails = new Map(); // track_id -> [[lat, lon, time], ...]
let selected = null; // selected track id
let selectedDetails = null;
let timeline = null;
let contextDrawn = false;
let framed = false;

// ------------------------------------------------------------------ REST

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    return { ok: false, status: 0, error: `network error: ${e.message}` };
  }
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) {
    const detail = data && (data.detail || data.error || data.message);
    const text = typeof detail === "string" ? detail : detail ? JSON.stringify(detail) : resp.statusText;
    return { ok: false, status: resp.status, data, error: `${resp.status} ${text}` };
  }
  return { ok: true, status: resp.status, data };
}

// ------------------------------------------------------------------ map

const map = L.map("map", { zoomControl: true, worldCopyJump: true, minZoom: 2, maxZoom: 14, attributionControl: true })
  .setView([30, 10], 3);
map.attributionControl.setPrefix(false);
map.attributionControl.addAttribution("Natural Earth (world-atlas)");
L.control.scale({ imperial: false }).addTo(map);
const baseRenderer = L.canvas({ pane: "base", padding: 0.2 });

map.createPane("base"); map.getPane("base").style.zIndex = 250;
map.createPane("context"); map.getPane("context").style.zIndex = 350;
map.createPane("vectors"); map.getPane("vectors").style.zIndex = 420;

const layers = {
  coverage: L.layerGroup().addTo(map),
  zones: L.layerGroup().addTo(map),
  points: L.layerGroup().addTo(map),
  trails: L.layerGroup().addTo(map),
  leaders: L.layerGroup().addTo(map),
  selection: L.layerGroup().addTo(map),
  tracks: L.layerGroup().addTo(map),
};

// Natural Earth at two scales: 1:50m below zoom 7, 1:10m (fetched the first time it is needed) from zoom 7 on.
const FINE_ZOOM = 7;
const baseLayers = { coarse: null, fine: null, fineLoading: false };

async function baseLayer(scale) {
  const [land, countries] = await Promise.all([
    fetch(`base/land-${scale}.json`).then((r) => r.json()),
    fetch(`base/countries-${scale}.json`).then((r) => r.json()),
  ]);
  return L.layerGroup([
    L.geoJSON(feature(land, land.objects.land), {
      pane: "base", renderer: baseRenderer, interactive: false,
      style: { color: "#7fa3b8", weight: 1, fillColor: "#1c2f3a", fillOpacity: 1 },
    }),
    L.geoJSON(mesh(countries, countries.objects.countries, (a, b) => a !== b), {
      pane: "base", renderer: baseRenderer, interactive: false,
      style: { color: "#8a9aa6", weight: 0.8, dashArray: "4 3", opacity: 0.8 },
    }),
  ]);
}

async function updateBaseMap() {
  const fine = map.getZoom() >= FINE_ZOOM;
  if (fine && !baseLayers.fine && !baseLayers.fineLoading) {
    baseLayers.fineLoading = true;
    try { baseLayers.fine = await baseLayer("10m"); } catch (e) { console.warn("1:10m base map not loaded", e); }
  }
  const want = map.getZoom() >= FINE_ZOOM && baseLayers.fine ? baseLayers.fine : baseLayers.coarse;
  for (const layer of [baseLayers.coarse, baseLayers.fine]) {
    if (!layer) continue;
    if (layer === want && !map.hasLayer(layer)) layer.addTo(map);
    else if (layer !== want && map.hasLayer(layer)) map.removeLayer(layer);
  }
}

async function loadBaseMap() {
  try {
    baseLayers.coarse = await baseLayer("50m");
  } catch (e) {
    console.warn("base map not loaded", e);
  }
  map.on("zoomend", updateBaseMap);
  await updateBaseMap();
}

const ZONE_STYLE = {
  no_fly: { color: "#ff5a5a", fillOpacity: 0.12, dashArray: null },
  hostile_area: { color: "#ff9c3a", fillOpacity: 0.12, dashArray: "6 4" },
  control_zone: { color: "#5ab0ff", fillOpacity: 0.06, dashArray: "2 4" },
  corridor: { color: "#6fdc8c", fillOpacity: 0.08, dashArray: "8 4" },
};
const SENSOR_COLOUR = { radar: "#c8d85a", eo: "#d98cff", adsb: "#62d0c4" };

function drawContext(ctx) {
  layers.coverage.clearLayers(); layers.zones.clearLayers(); layers.points.clearLayers();
  const bounds = [];
  for (const s of ctx.sensors || []) {
    const colour = SENSOR_COLOUR[s.kind] || "#cccccc";
    const style = { pane: "context", color: colour, weight: 1, opacity: 0.7, fill: true, fillOpacity: 0.03,
      dashArray: s.kind === "adsb" ? "2 6" : "6 6", interactive: false };
    const sector = sectorPolygon(s);
    if (sector) L.polygon(sector, style).addTo(layers.coverage);
    else if (s.range_m > 0) L.circle([s.lat, s.lon], { ...style, radius: s.range_m }).addTo(layers.coverage);
    L.marker([s.lat, s.lon], {
      pane: "context", keyboard: false,
      icon: L.divIcon({ className: "site", iconSize: [14, 14], iconAnchor: [7, 7],
        html: `<div class="site-mark site-${esc(s.kind)}" data-sensor="${esc(s.name)}" style="border-color:${colour}"></div>` }),
    }).bindTooltip(`${esc(s.name)} (${esc(s.kind)}, ${Math.round(s.range_m / 1000)} km)`).addTo(layers.coverage);
    bounds.push([s.lat, s.lon]);
  }
  for (const z of ctx.zones || []) {
    const st = ZONE_STYLE[z.kind] || { color: "#bbbbbb", fillOpacity: 0.06, dashArray: "3 3" };
    L.polygon(z.polygon, { pane: "context", weight: 1.5, ...st, fillColor: st.color })
      .bindTooltip(`${esc(z.name)}: ${esc(label(z.kind))}, ${Math.round(z.floor_m)}-${Math.round(z.ceiling_m)} m`)
      .addTo(layers.zones);
    for (const p of z.polygon) bounds.push(p);
  }
  for (const p of ctx.defended_points || []) {
    if (p.radius_m > 0) L.circle([p.lat, p.lon], { pane: "context", radius: p.radius_m, color: "#ffd24a", weight: 1.5,
      fillOpacity: 0.05, interactive: false }).addTo(layers.points);
    L.marker([p.lat, p.lon], {
      pane: "context", keyboard: false,
      icon: L.divIcon({ className: "dp", iconSize: [16, 16], iconAnchor: [8, 8],
        html: `<div class="dp-mark" data-defended-point="${esc(p.name)}">&#9733;</div>` }),
    }).bindTooltip(`defended point ${esc(p.name)}`).addTo(layers.points);
    bounds.push([p.lat, p.lon]);
  }
  contextDrawn = true;
  return bounds;
}

function frameView(points) {
  if (framed) return;
  const pts = points.filter((p) => p && isFinite(p[0]) && isFinite(p[1]));
  if (!pts.length) return;
  framed = true;
  const b = L.latLngBounds(pts);
  if (b.getNorthEast().distanceTo(b.getSouthWest()) < 20000) map.setView(b.getCenter(), 9);
  else map.fitBounds(b.pad(0.35), { maxZoom: 10 });
}

// ------------------------------------------------------------------ tracks on the map

const markers = new Map(); // track_id -> {marker, key}

function trackHtml(rec) {
  const sym = symbolFor(rec);
  const badges = [];
  if (rec.emergency) badges.push(`<span class="badge emer" title="emergency">${esc(rec.squawk || "EMER")}</span>`);
  if (rec.spoof) badges.push(`<span class="badge spoof" title="${esc(rec.spoof_reason || "spoof")}">SPOOF</span>`);
  const cls = ["trk", `id-${rec.identity}`, rec.track_id === selected ? "selected" : "", rec.emergency ? "emergency" : "",
    rec.spoof ? "spoofed" : ""].join(" ");
  return {
    key: `${sym.svg.length}|${rec.identity}|${rec.track_class}|${rec.status}|${rec.callsign}|${rec.emergency}|${rec.spoof}|${rec.track_id === selected}`,
    html: `<div class="${cls}" data-track-id="${rec.track_id}" data-identity="${esc(rec.identity)}" ` +
      `style="width:${sym.size.width}px;height:${sym.size.height}px">${sym.svg}${badges.join("")}</div>`,
    anchor: [sym.anchor.x, sym.anchor.y], size: [sym.size.width, sym.size.height],
  };
}

const vectorRenderer = L.canvas({ pane: "vectors", padding: 0.2 }); // leaders and trails: many short lines

function drawTracks(tracks, withTrails) {
  const seen = new Set();
  for (const rec of tracks.values()) {
    if (rec.lat == null || rec.lon == null) continue;
    seen.add(rec.track_id);
    const h = trackHtml(rec);
    let m = markers.get(rec.track_id);
    if (!m) {
      const marker = L.marker([rec.lat, rec.lon], { keyboard: false, riseOnHover: true,
        icon: L.divIcon({ className: "trk-icon", html: h.html, iconSize: h.size, iconAnchor: h.anchor }) });
      marker.on("click", () => select(rec.track_id));
      marker.addTo(layers.tracks);
      m = { marker, key: h.key, leader: null, trail: null, colour: null };
      markers.set(rec.track_id, m);
    } else {
      m.marker.setLatLng([rec.lat, rec.lon]);
      if (m.key !== h.key) {
        m.marker.setIcon(L.divIcon({ className: "trk-icon", html: h.html, iconSize: h.size, iconAnchor: h.anchor }));
        m.key = h.key;
      }
    }
    m.marker.setZIndexOffset(Math.round((rec.threat_score || 0) * 1000));
    const colour = IDENTITY_COLOURS[rec.identity] || "#ffff80";
    if (m.colour !== colour) {
      if (m.leader) m.leader.setStyle({ color: colour });
      if (m.trail) m.trail.setStyle({ color: colour });
      m.colour = colour;
    }
    const end = leaderEnd(rec, LEADER_S);
    const leader = end ? [[rec.lat, rec.lon], end] : [];
    if (!m.leader) m.leader = L.polyline(leader, { renderer: vectorRenderer, color: colour, weight: 1.5, opacity: 0.9,
      interactive: false }).addTo(layers.leaders);
    else m.leader.setLatLngs(leader);
    const tr = withTrails ? trails.get(rec.track_id) : null;
    const trail = tr && tr.length > 1 ? tr.map((p) => [p[0], p[1]]) : [];
    if (!m.trail) m.trail = L.polyline(trail, { renderer: vectorRenderer, color: colour, weight: 1, opacity: 0.5,
      dashArray: "1 3", interactive: false }).addTo(layers.trails);
    else m.trail.setLatLngs(trail);
  }
  for (const [id, m] of markers) {
    if (seen.has(id)) continue;
    layers.tracks.removeLayer(m.marker);
    if (m.leader) layers.leaders.removeLayer(m.leader);
    if (m.trail) layers.trails.removeLayer(m.trail);
    markers.delete(id);
  }
}

function addTrailPoint(rec, t) {
  if (rec.lat == null || rec.lon == null) return;
  let tr = trails.get(rec.track_id);
  if (!tr) { tr = []; trails.set(rec.track_id, tr); }
  const last = tr[tr.length - 1];
  if (!last || last[2] !== t) tr.push([rec.lat, rec.lon, t]);
  while (tr.length && tr[0][2] < t - TRAIL_S) tr.shift();
}

// ------------------------------------------------------------------ track table

const THREAT_ORDER = { high: 3, medium: 2, low: 1, none: 0 };

function byThreat(a, b) {
  return (b.threat_score || 0) - (a.threat_score || 0) ||
    (THREAT_ORDER[b.threat_level] || 0) - (THREAT_ORDER[a.threat_level] || 0) || a.track_id - b.track_id;
}

const TABLE_ROWS = 500; // the highest threats; the rest are counted in the last row

function drawTable(tracks) {
  const body = document.querySelector("#track-table tbody");
  const sorted = [...tracks.values()].sort(byThreat);
  const shown = sorted.length > TABLE_ROWS ? sorted.slice(0, TABLE_ROWS) : sorted;
  if (selected != null && !shown.some((r) => r.track_id === selected) && tracks.has(selected)) shown.push(tracks.get(selected));
  const rows = shown.map((r) => {
    const flags = `${r.emergency ? ' <span class="badge emer">EMER</span>' : ""}${r.spoof ? ' <span class="badge spoof">SPOOF</span>' : ""}`;
    return `<tr data-track-row="${r.track_id}" class="${r.track_id === selected ? "selected" : ""}">` +
      `<td>T${r.track_id}${r.callsign ? ` <span class="muted">${esc(r.callsign)}</span>` : ""}${flags}</td>` +
      `<td><span class="ident" style="color:${IDENTITY_COLOURS[r.identity] || "#fff"}">${esc(label(r.identity))}</span></td>` +
      `<td>${esc(label(r.track_class))}</td>` +
      `<td class="threat threat-${esc(r.threat_level)}">${esc(r.threat_level)} ${num(r.threat_score, 2)}</td>` +
      `<td class="num">${ft(r.alt_m)}</td><td class="num">${kt(r.speed_mps)}</td></tr>`;
  });
  if (sorted.length > shown.length) {
    rows.push(`<tr class="more"><td colspan="6" class="muted">${sorted.length - shown.length} more tracks of lower threat</td></tr>`);
  }
  body.innerHTML = rows.join("");
}

// pointerdown, not click: the rows are redrawn at every frame, and a click whose press and release land on two
// generations of a row is never delivered.
document.querySelector("#track-table tbody").addEventListener("pointerdown", (ev) => {
  const tr = ev.target.closest("tr[data-track-row]");
  if (tr) select(Number(tr.dataset.trackRow));
});

// ------------------------------------------------------------------ details

async function select(id) {
  if (id !== selected) {
    $("override-result").hidden = true;
    const rec = (history || live).tracks.get(id);
    if (rec) $("override-identity").value = rec.identity;
  }
  selected = id;
  selectedDetails = null;
  $("details-panel").hidden = false;
  renderSoon();
  await refreshDetails();
}

async function refreshDetails() {
  if (selected == null) return;
  const id = selected;
  if (!live.tracks.has(id)) { selectedDetails = {}; drawDetails(); drawSelection(); return; }
  const r = await api(`/api/tracks/${id}`);
  if (id !== selected) return;
  if (r.ok) selectedDetails = r.data;
  else selectedDetails = { error: r.error };
  drawDetails();
  drawSelection();
}

function kv(rows) {
  return `<dl>${rows.filter(([, v]) => v !== "" && v != null).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function historyList(entries) {
  const last = (entries || []).slice(-6).reverse();
  if (!last.length) return "";
  return `<ul class="mini">${last.map((e) =>
    `<li>${fmtTime(e.time, live.epoch_unix)} ${esc(label(e.kind))}${e.flag ? ` ${esc(e.flag)}` : ""}: ` +
    `${esc(label(String(e.old ?? "")))} &rarr; ${esc(label(String(e.new ?? "")))}` +
    `${e.reason ? ` <span class="muted">(${esc(e.reason)})</span>` : ""}</li>`).join("")}</ul>`;
}

function drawDetails() {
  if (selected == null) { $("details-panel").hidden = true; return; }
  const frame = history || live;
  const d = selectedDetails || {};
  const rec = frame.tracks.get(selected) || d.track;
  $("details-title").textContent = `Track T${selected}${rec && rec.callsign ? ` ${rec.callsign}` : ""}`;
  $("details-panel").dataset.trackId = String(selected);
  if (!rec) {
    $("details").innerHTML = d.error ? `<p class="error">${esc(d.error)}</p>` : `<p class="muted">not in the picture</p>`;
    return;
  }
  const colour = IDENTITY_COLOURS[rec.identity] || "#fff";
  const idObj = d.identity || {};
  const flags = Object.entries(idObj.flags || {}).filter(([, v]) => v);
  const ov = idObj.override;
  const html = [];
  html.push(`<div class="sub"><h3>Identity</h3>` + kv([
    ["identity", `<span class="ident" style="color:${colour}">${esc(label(rec.identity))}</span>` +
      (idObj.identity_since != null ? ` <span class="muted">since ${fmtTime(idObj.identity_since, live.epoch_unix)}</span>` : "")],
    ["reason", `<span class="identity-reason">${esc(rec.identity_reason || idObj.identity_reason || "")}</span>`],
    ["rule", esc(idObj.identity_rule)],
    ["override", ov ? `${esc(label(ov.identity))} by ${esc(ov.who)}: ${esc(ov.why)}` : ""],
    ["automatic", ov ? `${esc(label(idObj.automatic_identity))} (${esc(idObj.automatic_reason)})` : ""],
    ["proposed", idObj.proposed ? `${esc(label(idObj.proposed.identity))} (${idObj.proposed.updates} updates)` : ""],
    ["class", esc(label(rec.track_class)) + (idObj.class_reason ? ` <span class="muted">${esc(idObj.class_reason)}</span>` :
      rec.class_hint ? ` <span class="muted">(hint ${esc(rec.class_hint)})</span>` : "")],
    ["flags", flags.map(([k, v]) => `<span class="badge flag">${esc(label(k))}</span> ${esc(v)}`).join("<br>")],
    ["changes", historyList(idObj.history)],
  ]) + `</div>`);
  html.push(`<div class="sub"><h3>Threat</h3>` + kv([
    ["level", `<span class="threat threat-${esc(rec.threat_level)}">${esc(rec.threat_level)}</span> ${num(rec.threat_score, 2)}`],
    ["reason", `<span class="threat-reason">${esc(rec.threat_reason || (d.threat && d.threat.reason) || "")}</span>`],
  ]) + `</div>`);
  html.push(`<div class="sub"><h3>Sources</h3>` + kv([
    ["sources", esc(rec.sources)],
    ["ICAO address", esc(rec.icao24)],
    ["callsign", esc(rec.callsign)],
    ["squawk", esc(rec.squawk)],
    ["emergency", rec.emergency ? `<span class="badge emer">yes</span>` : ""],
    ["spoof", rec.spoof ? `<span class="badge spoof">yes</span> ${esc(rec.spoof_reason)}` : ""],
    ["transponder only", rec.transponder_only ? "yes" : ""],
  ]) + `</div>`);
  html.push(`<div class="sub"><h3>Kinematics</h3>` + kv([
    ["status", esc(rec.status)],
    ["position", `${num(rec.lat, 4)}, ${num(rec.lon, 4)}`],
    ["altitude", `${ft(rec.alt_m)} ft (${num(rec.alt_m)} m)`],
    ["speed", `${kt(rec.speed_mps)} kt, course ${num(rec.course_deg)}&deg;`],
    ["climb", rec.v_up_mps == null ? "" : `${num(rec.v_up_mps, 1)} m/s`],
    ["sigma h / v", rec.sigma_h_m == null ? "" : `${num(rec.sigma_h_m)} / ${num(rec.sigma_v_m)} m`],
  ]) + `</div>`);
  const alerts = d.alerts || [];
  if (alerts.length) {
    html.push(`<div class="sub"><h3>Alerts</h3><ul class="mini">${alerts.map((a) =>
      `<li>${esc(label(a.kind))}${a.zone ? ` ${esc(a.zone)}` : ""} - ${a.active ? "active" : "cleared"}` +
      `${a.acknowledged ? `, acknowledged by ${esc(a.acknowledged_by || "?")}` : ""}</li>`).join("")}</ul></div>`);
  }
  if (d.error) html.push(`<p class="error">${esc(d.error)}</p>`);
  $("details").innerHTML = html.join("");
}

function drawSelection() {
  layers.selection.clearLayers();
  const hist = selectedDetails && selectedDetails.history;
  if (hist && hist.length > 1) {
    L.polyline(hist.filter((p) => p.lat != null).map((p) => [p.lat, p.lon]),
      { pane: "vectors", color: "#ffffff", weight: 1.5, opacity: 0.7, interactive: false }).addTo(layers.selection);
  }
}

// An operator's identity override (POST /api/tracks/{id}/identity); a viewer sees the refusal.
$("override").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (selected == null) return;
  const id = selected, out = $("override-result");
  const why = $("override-why").value.trim();
  if (!why) { out.textContent = "say why"; out.className = "error"; out.hidden = false; return; }
  const r = await api(`/api/tracks/${id}/identity`, { method: "POST",
    body: { identity: $("override-identity").value, why } });
  if (r.ok) {
    out.textContent = `T${id}: ${label(r.data.identity)} (${r.data.identity_reason || why})`;
    out.className = "ok";
    $("override-why").value = "";
    const rec = live.tracks.get(id);
    if (rec) { rec.identity = r.data.identity; if (r.data.identity_reason) rec.identity_reason = r.data.identity_reason; }
    lastDetailsFetch = 0;
    renderSoon();
  } else {
    out.textContent = r.status === 401 || r.status === 403 ? `Not allowed to override T${id}: ${r.error}`
      : `Override of T${id} failed: ${r.error}`;
    out.className = "error";
  }
  out.hidden = false;
});

$("details-close").addEventListener("click", () => {
  selected = null; selectedDetails = null; layers.selection.clearLayers(); renderSoon();
});

// ------------------------------------------------------------------ alerts

function alertOrder(a, b) {
  return (b.active - a.active) || (!!a.acknowledged - !!b.acknowledged) || ((b.raised || 0) - (a.raised || 0)) ||
    String(a.id).localeCompare(String(b.id));
}

// The list is redrawn only when an alert changed (never under the pointer at every frame, which would swallow
// clicks); a refusal stays under its alert until the alert changes or is acknowledged.
let alertsDirty = true;
const alertErrors = new Map(); // alert id -> the refusal shown under it
const acking = new Set(); // alert ids being acknowledged

function drawAlerts() {
  if (!alertsDirty) return;
  alertsDirty = false;
  const all = [...(history || live).alerts.values()].sort(alertOrder);
  const active = all.filter((a) => a.active).length;
  $("alert-count").textContent = `${active} active / ${all.length}`;
  $("alerts").innerHTML = all.map((a) => {
    const id = String(a.id);
    const state = a.acknowledged ? `acknowledged${a.acknowledged_by ? ` by ${esc(a.acknowledged_by)}` : ""}` : "unacknowledged";
    const cls = ["alert", a.active ? "active" : "cleared", a.acknowledged ? "acked" : "unacked", `level-${a.level}`].join(" ");
    const err = a.acknowledged ? "" : alertErrors.get(id) || "";
    return `<li class="${cls}" data-alert-id="${esc(id)}" data-acknowledged="${a.acknowledged ? "true" : "false"}">` +
      `<div class="alert-head"><span class="alert-kind">${esc(label(a.kind))}</span>` +
      `${a.track_id != null ? ` <a href="#" class="alert-track" data-track="${a.track_id}">T${a.track_id}</a>` : ""}` +
      `${a.zone ? ` <span class="muted">${esc(a.zone)}</span>` : ""}` +
      `<span class="spacer"></span><span class="alert-time">${fmtTime(a.raised, live.epoch_unix)}</span></div>` +
      `<div class="alert-reason">${esc(a.reason)}</div>` +
      `<div class="alert-foot"><span class="alert-state">${a.active ? "active" : "cleared"}, ${state}</span>` +
      `${a.acknowledged ? "" : `<button class="ack" data-ack="${esc(id)}"${acking.has(id) ? " disabled" : ""}>Acknowledge</button>`}</div>` +
      `<div class="alert-error error"${err ? "" : " hidden"}>${esc(err)}</div></li>`;
  }).join("");
}

function setAlert(a) {
  const id = String(a.id);
  live.alerts.set(id, a);
  if (history && history.alerts.has(id)) history.alerts.set(id, a);
  if (a.acknowledged) alertErrors.delete(id);
  alertsDirty = true;
}

$("alerts").addEventListener("click", async (ev) => {
  const link = ev.target.closest("a.alert-track");
  if (link) { ev.preventDefault(); select(Number(link.dataset.track)); return; }
  const btn = ev.target.closest("button[data-ack]");
  if (!btn) return;
  const id = btn.dataset.ack;
  btn.disabled = true;
  acking.add(id);
  const r = await api(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: "POST", body: {} });
  acking.delete(id);
  if (r.ok && r.data) {
    setAlert(r.data);
    $("alert-error").hidden = true;
  } else {
    const msg = r.status === 401 || r.status === 403
      ? `Not allowed to acknowledge alert ${id}: ${r.error}`
      : `Acknowledge ${id} failed: ${r.error}`;
    $("alert-error").textContent = msg;
    $("alert-error").hidden = false;
    alertErrors.set(id, msg);
    alertsDirty = true;
  }
  renderSoon();
});

function mergeAlerts(list) {
  for (const a of list || []) setAlert(a);
}

// ------------------------------------------------------------------ clock, header

function drawHeader() {
  const frame = history || live;
  $("clock").textContent = fmtTime(frame.time, frame.epoch_unix);
  $("clock").dataset.time = frame.time ?? "";
  $("mode").textContent = live.mode || "";
  $("picture-name").textContent = live.context ? live.context.name : "";
  const vs = $("view-state");
  vs.textContent = history ? "HISTORY" : "LIVE";
  vs.className = `pill ${history ? "history" : "live"}`;
  $("btn-live").disabled = !history;
  $("counts").textContent = `${frame.tracks.size} tracks`;
  document.body.dataset.trackCount = String(frame.tracks.size);
}

// ------------------------------------------------------------------ timeline and playback

function drawTimeline() {
  const s = $("slider");
  if (!timeline) return;
  const start = timeline.start ?? 0, end = timeline.end ?? live.time ?? 0;
  s.min = String(Math.floor(start));
  s.max = String(Math.ceil(Math.max(end, start)));
  if (!sliding) s.value = String(Math.round((history ? history.time : live.time) ?? end));
  $("t-start").textContent = fmtTime(start, live.epoch_unix);
  $("t-end").textContent = fmtTime(end, live.epoch_unix);
  const speed = timeline.speed == null ? "1000000" : String(timeline.speed);
  const sel = $("speed");
  if (![...sel.options].some((o) => o.value === speed)) sel.add(new Option(`${speed}x`, speed));
  sel.value = speed;
  $("btn-play").classList.toggle("on", !!timeline.playing);
  $("btn-pause").classList.toggle("on", timeline.playing === false);
}

async function pollTimeline() {
  const r = await api("/api/timeline");
  if (r.ok) { const prev = timeline; timeline = r.data; drawTimeline(); followTimeline(prev); }
}

async function playback(body) {
  const r = await api("/api/playback", { method: "POST", body });
  const err = $("playback-error");
  if (r.ok) { timeline = r.data; err.hidden = true; drawTimeline(); }
  else { err.textContent = `playback: ${r.error}`; err.hidden = false; }
  return r;
}

let sliding = false;
$("slider").addEventListener("input", () => {
  sliding = true;
  $("clock").textContent = fmtTime(Number($("slider").value), live.epoch_unix);
});
$("slider").addEventListener("change", async () => {
  sliding = false;
  const t = Number($("slider").value);
  // An operator's seek moves the service's playback cursor (every display follows); a viewer looks on its own.
  const r = await api("/api/playback", { method: "POST", body: { action: "seek", t } });
  if (r.ok) { timeline = r.data; $("playback-error").hidden = true; }
  await showHistory(t);
});
$("btn-live").addEventListener("click", () => goLive());
$("btn-play").addEventListener("click", () => goLive());
$("btn-pause").addEventListener("click", () => playback({ action: "pause" }));
$("speed").addEventListener("change", () => playback({ action: "speed", speed: Number($("speed").value) }));

async function goLive() {
  history = null;
  alertsDirty = true;
  renderSoon();
  // Resume the shared playback when this token may (an operator); a viewer just returns to the live picture.
  const r = await api("/api/playback", { method: "POST", body: { action: "play" } });
  if (r.ok) { timeline = r.data; $("playback-error").hidden = true; drawTimeline(); }
  else if (r.status !== 401 && r.status !== 403) { $("playback-error").textContent = `playback: ${r.error}`; $("playback-error").hidden = false; }
}

async function showHistory(t) {
  const r = await api(`/api/picture?t=${encodeURIComponent(t)}`);
  if (!r.ok) { $("playback-error").textContent = `history: ${r.error}`; $("playback-error").hidden = false; return; }
  const p = r.data;
  history = { time: p.time, epoch_unix: p.epoch_unix, mode: p.mode, tracks: new Map(p.tracks.map((x) => [x.track_id, x])),
    alerts: new Map((p.alerts || []).map((a) => [String(a.id), a])) };
  alertsDirty = true;
  renderSoon();
}

// Follow the service's playback cursor: another operator's seek (or play) moves this display too.
function followTimeline(prev) {
  if (!timeline || sliding) return;
  if (timeline.following === false && timeline.time != null && (!history || history.time !== timeline.time) &&
      (!prev || prev.time !== timeline.time || prev.following !== false)) showHistory(timeline.time);
  else if (timeline.following === true && prev && prev.following === false && history) {
    history = null; alertsDirty = true; renderSoon();
  }
}

async function loadPicture() {
  const r = await api("/api/picture");
  if (!r.ok) return;
  applySnapshot(r.data);
}

// ------------------------------------------------------------------ WebSocket

let ws = null;
let backoff = 500;

function setConn(state, text) {
  const c = $("conn");
  c.textContent = text;
  c.className = `pill conn-${state}`;
  document.body.dataset.conn = state;
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  setConn("connecting", "connecting");
  ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  ws.onopen = () => { backoff = 500; setConn("up", "connected"); };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    stats.messages += 1;
    if (msg.type === "snapshot") applySnapshot(msg);
    else if (msg.type === "delta") applyDelta(msg);
  };
  ws.onclose = (ev) => {
    ws = null;
    const refused = ev.code === 1008 || ev.code === 4401 || ev.code === 4403;
    setConn("down", refused ? "refused" : "reconnecting");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, refused ? 30000 : 10000);
  };
  ws.onerror = () => { /* onclose follows */ };
}

function applySnapshot(msg) {
  live.time = msg.time;
  live.epoch_unix = msg.epoch_unix ?? null;
  live.mode = msg.mode || live.mode;
  live.tracks = new Map((msg.tracks || []).map((r) => [r.track_id, r]));
  for (const r of live.tracks.values()) addTrailPoint(r, msg.time);
  for (const id of trails.keys()) if (!live.tracks.has(id)) trails.delete(id);
  live.alerts = new Map();
  alertsDirty = true;
  mergeAlerts(msg.alerts);
  if (msg.context) { live.context = msg.context; frameView(drawContext(msg.context).concat(trackPoints())); }
  else if (!contextDrawn) loadContext();
  document.body.dataset.ready = "1";
  renderSoon();
}

function applyDelta(msg) {
  live.time = msg.time;
  for (const r of msg.upsert || []) { live.tracks.set(r.track_id, r); addTrailPoint(r, msg.time); }
  for (const id of msg.remove || []) { live.tracks.delete(id); trails.delete(id); }
  mergeAlerts(msg.alerts);
  renderSoon();
}

function trackPoints() { return [...live.tracks.values()].map((r) => [r.lat, r.lon]); }

async function loadContext() {
  const [s, z] = await Promise.all([api("/api/sensors"), api("/api/zones")]);
  if (!s.ok && !z.ok) return;
  const ctx = { ...(live.context || {}), sensors: s.ok ? s.data : [],
    zones: z.ok ? z.data.zones || [] : [], defended_points: z.ok ? z.data.defended_points || [] : [] };
  live.context = ctx;
  frameView(drawContext(ctx).concat(trackPoints()));
}

// ------------------------------------------------------------------ rendering

let renderQueued = false;
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

const stats = { renders: 0, lastRenderMs: 0, maxRenderMs: 0, messages: 0 };
let lastDetailsFetch = 0;
function render() {
  const t0 = performance.now();
  renderFrame();
  const ms = performance.now() - t0;
  stats.renders += 1; stats.lastRenderMs = ms; stats.maxRenderMs = Math.max(stats.maxRenderMs, ms);
}

function renderFrame() {
  const frame = history || live;
  const t0 = performance.now();
  drawTracks(frame.tracks, !history);
  const t1 = performance.now();
  drawTable(frame.tracks);
  stats.tracksMs = t1 - t0; stats.tableMs = performance.now() - t1;
  drawAlerts();
  drawHeader();
  drawTimeline();
  if (selected != null) {
    drawDetails();
    const now = Date.now();
    if (!history && now - lastDetailsFetch > DETAILS_REFRESH_MS) { lastDetailsFetch = now; refreshDetails(); }
  } else $("details-panel").hidden = true;
}

// ------------------------------------------------------------------ start

if (!token) {
  const banner = document.createElement("div");
  banner.className = "banner error";
  banner.textContent = "No token in the URL: open the address the run printed (…/?token=…).";
  document.body.prepend(banner);
}
loadBaseMap();
connect();
pollTimeline();
setInterval(pollTimeline, TIMELINE_POLL_MS);
// For the console and the browser tests: the map, the state, and a way to drop the WebSocket (it reconnects).
window.airpicture = { map, live, stats, get history() { return history; }, select, dropConnection: () => ws && ws.close() };
