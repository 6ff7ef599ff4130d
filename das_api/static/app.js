// das web app: a map of flags, cameras, crimes and hotspots over London's boundaries; flag detail and triage;
// audited searches; a data-health view for engineers; live hotlist hits. No tile server: the boundaries are the map.
// Text from the server is only ever set as textContent, never as HTML.
"use strict";

const TYPE_COLOURS = {
  hotlist_hit: "#d7263d", cloned_plate: "#7b2cbf", convoy: "#1b998b", vehicle_near_crimes: "#f46036",
  near_repeat: "#2e86ab", emerging_hotspot: "#e09f3e", camera_silent: "#5f6b7a",
};
const PLATE_FLAGS = new Set(["hotlist_hit", "cloned_plate", "convoy", "vehicle_near_crimes"]);
const LONDON = [[51.28, -0.52], [51.70, 0.34]];
const state = { token: sessionStorage.getItem("das.token"), me: null, purpose: null, caseRef: null, flag: null };
const layers = {};
let mainMap = null;

// ---------- helpers ----------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}
const $ = (sel) => document.querySelector(sel);
const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, "") : "");
const toIsoUtc = (local) => (local ? new Date(local + "Z").toISOString() : null);
function localInput(date) { return date.toISOString().slice(0, 16); }

class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }

async function api(path, { method = "GET", params = null, body = null } = {}) {
  const url = new URL(path, location.origin);
  if (params) for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : null });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) { signOut("Your token was refused: sign in again."); }
  if (!res.ok) throw new ApiError(res.status, typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`);
  return data;
}

async function allPages(path, params = {}) {
  const features = [];
  let cursor = null;
  do {
    const page = await api(path, { params: { ...params, cursor } });
    features.push(...page.features);
    cursor = page.next_cursor;
  } while (cursor);
  return features;
}

function toast(text) {
  const item = el("div", { class: "item", text });
  $("#toast").append(item);
  setTimeout(() => item.remove(), 8000);
}

function baseMap(id) {
  const map = L.map(id, { preferCanvas: true, zoomSnap: 0.25, attributionControl: true });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Boundaries: ONS / London Datastore (OGL v3); cameras: TfL");
  map.fitBounds(LONDON);
  map.createPane("boundaries").style.zIndex = 250;  // under every overlay, whenever it arrives
  return map;
}

async function addBoundaries(map, withLsoas) {
  try {
    const boroughs = await api("/api/boundaries/boroughs");
    L.geoJSON(boroughs, {
      pane: "boundaries",
      style: { color: "#7d8a99", weight: 1.2, fillColor: "#fbfcfd", fillOpacity: 1 },
      onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name, { sticky: true, className: "muted" }),
    }).addTo(map);
    if (withLsoas) {
      const lsoas = await api("/api/boundaries/lsoas");
      layers.lsoas = L.geoJSON(lsoas, { pane: "boundaries", style: { color: "#b8c2cc", weight: 0.5, fill: false }, interactive: false });
      layers.lsoas.addTo(map);
    }
  } catch (e) { toast(`Boundaries: ${e.message}`); }
}

// ---------- sign in ----------
function signOut(message) {
  sessionStorage.removeItem("das.token");
  state.token = null; state.me = null;
  show("login");
  if (message) $("#login-error").textContent = message;
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.token = $("#token").value.trim();
  try {
    state.me = await api("/api/me");
    sessionStorage.setItem("das.token", state.token);
    $("#login-error").textContent = "";
    start();
  } catch (e) { $("#login-error").textContent = e.message; }
});

async function start() {
  if (!state.me) {
    try { state.me = await api("/api/me"); } catch { return signOut(); }
  }
  $("#nav").hidden = false;
  for (const a of document.querySelectorAll("#nav a[data-role]")) a.hidden = a.dataset.role !== state.me.role;
  $("#who").replaceChildren(`${state.me.name} (${state.me.role})`,
    el("button", { type: "button", class: "secondary", onclick: () => signOut() }, "Sign out"));
  if (!location.hash || location.hash === "#login") location.hash = state.me.role === "engineer" ? "#engineer" : "#map";
  route();
  if (state.me.role === "investigator") listenLive();
}

// ---------- routing ----------
const VIEWS = ["login", "map", "flag", "search-plate", "search-near", "search-stakeout", "engineer"];
function show(name) {
  for (const v of VIEWS) $(`#${v === "login" ? "login" : "view-" + v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === name);
}

function route() {
  if (!state.token) return show("login");
  const hash = location.hash.slice(1);
  if (hash.startsWith("flag/")) return openFlag(decodeURIComponent(hash.slice(5)));
  if (hash === "search/plate") { show("search-plate"); return searchMap("plate"); }
  if (hash === "search/near") { show("search-near"); return searchMap("near"); }
  if (hash === "search/stakeout") { show("search-stakeout"); return searchMap("stakeout"); }
  if (hash === "engineer") { show("engineer"); return loadEngineer(); }
  show("map");
  return loadMainMap();
}
window.addEventListener("hashchange", route);

// ---------- the main map ----------
function legend() {
  const box = $("#legend");
  box.replaceChildren(el("strong", { text: "Legend" }));
  if (state.me.role === "investigator") {
    for (const [type, colour] of Object.entries(TYPE_COLOURS)) {
      box.append(el("div", {}, el("i", { style: `background:${colour}` }), type.replaceAll("_", " ")));
    }
  }
  box.append(el("div", {}, el("i", { class: "square", style: "background:#9ecae1" }), "camera coverage"));
  box.append(el("div", {}, el("i", { style: "background:#b3261e" }), "silent camera"));
  box.append(el("div", {}, el("i", { style: "background:#8c96a3" }), "crime"));
  if (state.me.role !== "engineer") box.append(el("div", {}, el("i", { class: "square", style: "background:#e09f3e" }), "hotspot cell"));
}

async function loadMainMap() {
  if (mainMap) { mainMap.invalidateSize(); return; }
  mainMap = baseMap("map");
  legend();
  await addBoundaries(mainMap, true);
  const typeSelect = $("#f-type");
  for (const type of Object.keys(TYPE_COLOURS)) typeSelect.append(el("option", { value: type }, type.replaceAll("_", " ")));
  $("#f-score").addEventListener("input", () => { $("#f-score-out").textContent = Number($("#f-score").value).toFixed(2); });
  $("#f-apply").addEventListener("click", loadFlags);
  const overlays = {};
  layers.cameras = L.layerGroup().addTo(mainMap); overlays["Cameras"] = layers.cameras;
  layers.crimes = L.layerGroup().addTo(mainMap); overlays["Crimes"] = layers.crimes;
  if (state.me.role !== "engineer") { layers.hotspots = L.layerGroup().addTo(mainMap); overlays["Hotspots"] = layers.hotspots; }
  if (state.me.role === "investigator") { layers.flags = L.layerGroup().addTo(mainMap); overlays["Flags"] = layers.flags; }
  if (layers.lsoas) overlays["LSOAs"] = layers.lsoas;
  L.control.layers(null, overlays, { collapsed: false }).addTo(mainMap);
  L.control.scale({ imperial: false }).addTo(mainMap);
  await Promise.all([loadCameras(), loadCrimes(), loadHotspots(), loadFlags()]);
  document.body.dataset.mapReady = "1";
}

async function loadCameras() {
  try {
    const cams = await allPages("/api/cameras", { limit: 1000 });
    for (const f of cams) {
      const p = f.properties;
      const silent = Boolean(p.silent_flag_id);
      if (f.geometry) L.geoJSON(f, { style: { color: silent ? "#b3261e" : "#3182bd", weight: 0.6, fillColor: "#9ecae1", fillOpacity: 0.35 }, interactive: false }).addTo(layers.cameras);
      if (p.latitude != null) {
        L.circleMarker([p.latitude, p.longitude], { radius: 2.5, color: silent ? "#b3261e" : "#08519c", weight: 1, fillOpacity: 1 })
          .bindTooltip(`${p.name || p.camera_id} (${p.camera_type})${silent ? " — silent" : ""}`)
          .addTo(layers.cameras);
      }
    }
  } catch (e) { toast(`Cameras: ${e.message}`); }
}

async function loadCrimes() {
  try {
    const crimes = await api("/api/crimes", { params: { limit: 1000, since: toIsoUtc($("#f-since").value), until: toIsoUtc($("#f-until").value) } });
    for (const f of crimes.features) {
      if (!f.geometry) continue;
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lon], { radius: 2, color: "#8c96a3", weight: 0, fillOpacity: 0.7 })
        .bindTooltip(`${f.properties.crime_type}: ${f.properties.location || ""}`).addTo(layers.crimes);
    }
  } catch (e) { toast(`Crimes: ${e.message}`); }
}

async function loadHotspots() {
  if (!layers.hotspots) return;
  try {
    const spots = await api("/api/hotspots");
    L.geoJSON(spots, {
      style: { color: "#b26a00", weight: 1.5, fillColor: "#e09f3e", fillOpacity: 0.45 },
      onEachFeature: (f, layer) => layer.bindTooltip(f.properties.summary),
    }).addTo(layers.hotspots);
  } catch (e) { toast(`Hotspots: ${e.message}`); }
}

function flagItem(p) {
  const colour = TYPE_COLOURS[p.flag_type] || "#333";
  return el("li", { "data-flag-id": p.flag_id, onclick: () => { location.hash = `#flag/${encodeURIComponent(p.flag_id)}`; } },
    el("span", { class: "score", text: Number(p.score).toFixed(2) }),
    el("span", { class: "tag", style: `background:${colour}`, text: p.flag_type.replaceAll("_", " ") }), " ",
    el("span", { class: "muted", text: p.status }), el("br"), p.summary);
}

async function loadFlags() {
  if (!layers.flags) return;
  const params = {
    type: $("#f-type").value, min_score: $("#f-score").value, status: $("#f-status").value,
    since: toIsoUtc($("#f-since").value), until: toIsoUtc($("#f-until").value), limit: 500,
  };
  try {
    const page = await api("/api/flags", { params });
    layers.flags.clearLayers();
    const list = $("#flag-list");
    list.replaceChildren();
    for (const f of page.features) {
      const p = f.properties;
      list.append(flagItem(p));
      if (!f.geometry) continue;
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lon], { radius: 4 + 6 * p.score, color: "#fff", weight: 1, fillColor: TYPE_COLOURS[p.flag_type], fillOpacity: 0.9 })
        .bindTooltip(`${p.flag_type} ${Number(p.score).toFixed(2)}: ${p.summary}`)
        .on("click", () => { location.hash = `#flag/${encodeURIComponent(p.flag_id)}`; })
        .addTo(layers.flags);
    }
    $("#flag-count").textContent = `${page.count} flag(s)${page.next_cursor ? " (strongest shown; narrow the filters for more)" : ""}`;
  } catch (e) { $("#flag-count").textContent = e.message; }
}

// ---------- live hotlist hits ----------
async function listenLive() {
  for (;;) {
    try {
      const res = await fetch("/api/live", { headers: { Authorization: `Bearer ${state.token}` } });
      if (!res.ok) return;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      document.body.dataset.live = "1";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const chunk = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onLiveEvent(JSON.parse(data));
        }
      }
    } catch { /* the server restarted: listen again */ }
    document.body.dataset.live = "0";
    await new Promise((r) => setTimeout(r, 3000));
    if (!state.token) return;
  }
}

function onLiveEvent(event) {
  if (event.event !== "flag") return;
  const p = event.flag;
  const list = $("#live-hits");
  const waiting = list.querySelector(".muted");
  if (waiting) waiting.remove();
  list.querySelector(`[data-flag-id="${CSS.escape(p.flag_id)}"]`)?.remove();
  list.prepend(flagItem(p));
  toast(`Live: ${p.summary}`);
  if (layers.flags && p.latitude != null) {
    L.circleMarker([p.latitude, p.longitude], { radius: 10, color: "#fff", weight: 2, fillColor: TYPE_COLOURS.hotlist_hit, fillOpacity: 1 })
      .bindTooltip(p.summary).on("click", () => { location.hash = `#flag/${encodeURIComponent(p.flag_id)}`; }).addTo(layers.flags);
  }
}

// ---------- flag detail ----------
function askPurpose() {
  return new Promise((resolve) => {
    const dialog = $("#purpose-dialog");
    $("#purpose-input").value = state.purpose || "";
    $("#case-input").value = state.caseRef || "";
    dialog.onclose = () => {
      if (dialog.returnValue !== "ok") return resolve(false);
      state.purpose = $("#purpose-input").value.trim();
      state.caseRef = $("#case-input").value.trim() || null;
      resolve(true);
    };
    dialog.showModal();
  });
}

let flagMap = null;
async function openFlag(flagId) {
  show("flag");
  if (!state.purpose && !(await askPurpose())) { location.hash = "#map"; return; }
  let flag;
  try {
    flag = await api(`/api/flags/${encodeURIComponent(flagId)}`, { params: { purpose: state.purpose, case_ref: state.caseRef } });
  } catch (e) {
    if (e.status === 422) { state.purpose = null; toast(e.message); return openFlag(flagId); }
    $("#flag-title").textContent = "Flag not available"; $("#flag-summary").textContent = e.message; return;
  }
  state.flag = flag;
  const p = flag.properties;
  $("#flag-title").replaceChildren(el("span", { class: "tag", style: `background:${TYPE_COLOURS[p.flag_type]}`, text: p.flag_type.replaceAll("_", " ") }),
    ` score ${Number(p.score).toFixed(2)}`);
  $("#flag-summary").textContent = p.summary;
  const facts = $("#flag-facts");
  facts.replaceChildren();
  for (const [k, v] of [["status", p.status], ["version", p.version], ["subject", p.subject], ["window (UTC)", `${fmtTime(p.window_start)} → ${fmtTime(p.window_end)}`],
    ["related", (p.related || []).join(", ")], ["detected", fmtTime(p.detected_at)], ["detector", p.detector_version], ["flag id", p.flag_id]]) {
    facts.append(el("dt", { text: k }), el("dd", { text: v ?? "" }));
  }
  $("#flag-params").textContent = JSON.stringify(p.parameters, null, 2);
  renderEvidence(p.evidence.features);
  renderTimeline(p.evidence.features);
  renderHistory(p.history);
  $("#triage-message").textContent = ""; $("#triage-message").className = "";
  $("#plate-history-section").hidden = !PLATE_FLAGS.has(p.flag_type);
  if (PLATE_FLAGS.has(p.flag_type)) loadFlagPlateHistory(p);
  document.body.dataset.flagReady = p.flag_id;
}

function renderEvidence(items) {
  if (flagMap) flagMap.remove();
  flagMap = baseMap("flag-map");
  addBoundaries(flagMap, false);
  const tbody = $("#evidence-table tbody");
  tbody.replaceChildren();
  const points = [];
  const colours = { read: "#d7263d", crime: "#5f6b7a", camera: "#1f5fa8", cell: "#e09f3e" };
  items.forEach((f, i) => {
    const e = f.properties;
    tbody.append(el("tr", {}, el("td", { text: i + 1 }), el("td", { text: e.kind }), el("td", { text: fmtTime(e.at) }),
      el("td", { text: e.camera_id || "" }), el("td", { text: e.plate || "" }), el("td", { text: e.detail || "" })));
    if (f.geometry) {
      const [lon, lat] = f.geometry.coordinates;
      points.push([lat, lon]);
      L.circleMarker([lat, lon], { radius: 6, color: "#fff", weight: 1, fillColor: colours[e.kind] || "#333", fillOpacity: 0.9 })
        .bindTooltip(`${i + 1}. ${e.kind} ${fmtTime(e.at)} ${e.detail || ""}`).addTo(flagMap);
    }
  });
  if (points.length) flagMap.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 15 });
}

function renderTimeline(items) {
  const svg = $("#flag-timeline");
  svg.replaceChildren();
  const times = items.map((f) => Date.parse(f.properties.at)).filter((t) => !Number.isNaN(t));
  const ns = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); return n; };
  const width = svg.clientWidth || 800;
  if (!times.length) { const t = mk("text", { x: 10, y: 45 }); t.textContent = "no timed evidence"; svg.append(t); return; }
  const t0 = Math.min(...times), t1 = Math.max(...times), span = Math.max(t1 - t0, 60_000);
  const x = (t) => 20 + ((t - t0) / span) * (width - 40);
  svg.append(mk("line", { x1: 20, x2: width - 20, y1: 50, y2: 50, stroke: "#7d8a99" }));
  const colours = { read: "#d7263d", crime: "#5f6b7a", camera: "#1f5fa8", cell: "#e09f3e" };
  const rows = { read: 35, crime: 65, camera: 50, cell: 50 };
  for (const f of items) {
    const t = Date.parse(f.properties.at);
    if (Number.isNaN(t)) continue;
    const c = mk("circle", { cx: x(t), cy: rows[f.properties.kind] || 50, r: 5, fill: colours[f.properties.kind] || "#333" });
    const title = mk("title", {}); title.textContent = `${f.properties.kind} ${fmtTime(f.properties.at)} ${f.properties.detail || ""}`;
    c.append(title); svg.append(c);
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const label = mk("text", { x: x(t), y: 85, "font-size": 11, "text-anchor": anchor, fill: "#5f6b7a" });
    label.textContent = fmtTime(new Date(t).toISOString()); svg.append(label);
  }
}

function renderHistory(history) {
  const list = $("#triage-history");
  list.replaceChildren();
  if (!history.length) list.append(el("li", { class: "muted", text: "not triaged yet" }));
  for (const h of [...history].reverse()) {
    list.append(el("li", {}, el("strong", { text: `v${h.version} ${h.status}` }), ` by ${h.user_name}, ${fmtTime(h.at)}`,
      h.note ? el("div", { text: `note: ${h.note}` }) : "", h.reason ? el("div", { text: `reason: ${h.reason}` }) : ""));
  }
}

async function loadFlagPlateHistory(p) {
  const plate = p.subject;
  $("#plate-history-plate").textContent = plate;
  const start = new Date(Date.parse(p.window_start) - 7 * 86400_000), end = new Date(Date.parse(p.window_end) + 86400_000);
  $("#plate-history-note").textContent = `Reads from ${fmtTime(start.toISOString())} to ${fmtTime(end.toISOString())}, audited with your purpose.`;
  const tbody = $("#plate-history tbody");
  tbody.replaceChildren();
  try {
    const page = await api(`/api/plates/${encodeURIComponent(plate)}/history`, { params: { from: start.toISOString(), to: end.toISOString(), purpose: state.purpose, case_ref: state.caseRef, limit: 200 } });
    for (const f of page.features) {
      const r = f.properties;
      tbody.append(el("tr", {}, el("td", { text: fmtTime(r.read_at) }), el("td", { text: r.camera_name || r.camera_id }),
        el("td", { text: r.plate_raw }), el("td", { text: r.confidence ?? "" })));
    }
    if (!page.features.length) tbody.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no reads in this window" })));
  } catch (e) { tbody.append(el("tr", {}, el("td", { colspan: 4, class: "error", text: e.message }))); }
}

$("#triage-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const p = state.flag.properties;
  const message = $("#triage-message");
  const body = {
    status: new FormData(event.target).get("status"), note: $("#triage-note").value || null,
    reason: $("#triage-reason").value || null, version: p.version,
  };
  try {
    const saved = await api(`/api/flags/${encodeURIComponent(p.flag_id)}/triage`, { method: "POST", body });
    p.version = saved.version; p.status = saved.status;
    renderHistory(saved.history);
    message.className = "saved"; message.textContent = `Saved: ${saved.status} (version ${saved.version}).`;
    $("#triage-note").value = ""; $("#triage-reason").value = "";
    document.querySelector("#flag-facts dd:nth-of-type(1)").textContent = saved.status;
    document.querySelector("#flag-facts dd:nth-of-type(2)").textContent = saved.version;
  } catch (e) {
    message.className = e.status === 409 ? "conflict" : "error";
    message.textContent = e.status === 409 ? `Not saved: ${e.message}. Reload the flag to see the latest change.` : `Not saved: ${e.message}`;
  }
});

// ---------- searches ----------
const searchMaps = {};
function searchMap(kind) {
  if (searchMaps[kind]) { searchMaps[kind].map.invalidateSize(); return; }
  const map = baseMap(`${kind}-map`);
  addBoundaries(map, false);
  searchMaps[kind] = { map, results: L.layerGroup().addTo(map), marks: L.layerGroup().addTo(map) };
  const now = new Date();
  for (const form of document.querySelectorAll(`#${kind}-form`)) {
    for (const input of form.querySelectorAll('input[name="from"]')) input.value ||= localInput(new Date(now - 86400_000 * 2));
    for (const input of form.querySelectorAll('input[name="to"]')) input.value ||= localInput(now);
  }
  if (kind === "near") {
    map.on("click", (e) => {
      const form = $("#near-form");
      form.lon.value = e.latlng.lng.toFixed(5); form.lat.value = e.latlng.lat.toFixed(5);
      searchMaps.near.marks.clearLayers();
      L.circle(e.latlng, { radius: Number(form.radius_m.value) || 300 }).addTo(searchMaps.near.marks);
    });
  }
  if (kind === "stakeout") {
    addPlace(); addPlace();
    map.on("click", (e) => {
      const empty = [...document.querySelectorAll("#stakeout-places .place")].find((p) => !p.querySelector('[name="lon"]').value);
      const place = empty || (document.querySelectorAll("#stakeout-places .place").length < 5 ? addPlace() : null);
      if (!place) return toast("A stakeout has at most five places.");
      place.querySelector('[name="lon"]').value = e.latlng.lng.toFixed(5);
      place.querySelector('[name="lat"]').value = e.latlng.lat.toFixed(5);
      drawPlaces();
    });
  }
}

function addPlace() {
  const box = $("#stakeout-places");
  const n = box.children.length + 1;
  const now = new Date();
  const place = el("div", { class: "place" }, el("strong", { text: `Place ${n}` }),
    el("div", { class: "row" },
      el("label", {}, "Longitude", el("input", { name: "lon", type: "number", step: "any", min: -180, max: 180, required: "" })),
      el("label", {}, "Latitude", el("input", { name: "lat", type: "number", step: "any", min: -90, max: 90, required: "" })),
      el("label", {}, "Radius (m)", el("input", { name: "radius_m", type: "number", min: 1, max: 5000, value: 300, required: "" }))),
    el("div", { class: "row" },
      el("label", {}, "From", el("input", { name: "from", type: "datetime-local", value: localInput(new Date(now - 86400_000 * 2)), required: "" })),
      el("label", {}, "To", el("input", { name: "to", type: "datetime-local", value: localInput(now), required: "" }))));
  box.append(place);
  return place;
}

function drawPlaces() {
  const { marks } = searchMaps.stakeout;
  marks.clearLayers();
  document.querySelectorAll("#stakeout-places .place").forEach((p, i) => {
    const lon = Number(p.querySelector('[name="lon"]').value), lat = Number(p.querySelector('[name="lat"]').value);
    if (!lon && !lat) return;
    L.circle([lat, lon], { radius: Number(p.querySelector('[name="radius_m"]').value) || 300 }).bindTooltip(`Place ${i + 1}`, { permanent: true }).addTo(marks);
  });
}
$("#stakeout-add").addEventListener("click", () => {
  if (document.querySelectorAll("#stakeout-places .place").length >= 5) return toast("A stakeout has at most five places.");
  addPlace();
});

function readPoints(layer, features) {
  layer.clearLayers();
  const pts = [];
  for (const f of features) {
    if (!f.geometry) continue;
    const [lon, lat] = f.geometry.coordinates;
    pts.push([lat, lon]);
    L.circleMarker([lat, lon], { radius: 5, color: "#fff", weight: 1, fillColor: "#d7263d", fillOpacity: 0.9 })
      .bindTooltip(`${f.properties.plate} ${fmtTime(f.properties.read_at)}`).addTo(layer);
  }
  return pts;
}

function searchHandler(kind, run) {
  const form = $(`#${kind}-form`);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelector(".error").textContent = "";
    try { await run(form); } catch (e) { form.querySelector(".error").textContent = e.message; }
  });
}

searchHandler("plate", async (form) => {
  const params = { from: toIsoUtc(form.from.value), to: toIsoUtc(form.to.value), purpose: form.purpose.value, case_ref: form.case_ref.value, limit: 500 };
  const tbody = $("#plate-results tbody");
  const more = $("#view-search-plate .more");
  const load = async (cursor) => {
    const page = await api(`/api/plates/${encodeURIComponent(form.plate.value.trim())}/history`, { params: { ...params, cursor } });
    for (const f of page.features) {
      const r = f.properties;
      tbody.append(el("tr", {}, el("td", { text: fmtTime(r.read_at) }), el("td", { text: r.plate }), el("td", { text: r.camera_name || r.camera_id }), el("td", { text: r.confidence ?? "" })));
    }
    const pts = readPoints(searchMaps.plate.results, page.features);
    if (pts.length) searchMaps.plate.map.fitBounds(L.latLngBounds(pts).pad(0.2), { maxZoom: 15 });
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor);
    if (!tbody.children.length) tbody.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no reads" })));
  };
  tbody.replaceChildren();
  await load(null);
});

searchHandler("near", async (form) => {
  const params = { lon: form.lon.value, lat: form.lat.value, radius_m: form.radius_m.value, from: toIsoUtc(form.from.value), to: toIsoUtc(form.to.value), purpose: form.purpose.value, case_ref: form.case_ref.value, limit: 500 };
  const tbody = $("#near-results tbody");
  tbody.replaceChildren();
  const page = await api("/api/search/near", { params });
  for (const f of page.features) {
    const r = f.properties;
    tbody.append(el("tr", {}, el("td", { text: r.plate }), el("td", { text: fmtTime(r.read_at) }), el("td", { text: r.camera_name || r.camera_id }), el("td", { text: Math.round(r.distance_m) })));
  }
  readPoints(searchMaps.near.results, page.features);
  if (!page.features.length) tbody.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no vehicles" })));
});

searchHandler("stakeout", async (form) => {
  const places = [...document.querySelectorAll("#stakeout-places .place")].map((p) => ({
    lon: Number(p.querySelector('[name="lon"]').value), lat: Number(p.querySelector('[name="lat"]').value),
    radius_m: Number(p.querySelector('[name="radius_m"]').value),
    from: toIsoUtc(p.querySelector('[name="from"]').value), to: toIsoUtc(p.querySelector('[name="to"]').value),
  }));
  drawPlaces();
  const body = { places, min_places: Number(form.min_places.value) || null, purpose: form.purpose.value, case_ref: form.case_ref.value || null, limit: 200 };
  const tbody = $("#stakeout-results tbody");
  const more = $("#view-search-stakeout .more");
  tbody.replaceChildren();
  let total = 0;
  const load = async (cursor) => {
    const result = await api("/api/search/stakeout", { method: "POST", body: { ...body, cursor } });
    for (const v of result.vehicles) {
      tbody.append(el("tr", { "data-plate": v.plate }, el("td", { text: v.plate }), el("td", { text: `${v.places_seen} (${v.place_numbers.join(", ")})` }),
        el("td", { text: fmtTime(v.first_seen) }), el("td", { text: fmtTime(v.last_seen) })));
    }
    total += result.count;
    if (!total) tbody.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no vehicle was seen at enough of the places" })));
    more.hidden = !result.next_cursor;
    more.onclick = () => load(result.next_cursor).catch((e) => { form.querySelector(".error").textContent = e.message; });
    $("#stakeout-results").dataset.count = total;
    $("#stakeout-results").dataset.complete = result.next_cursor ? "0" : "1";
  };
  await load(null);
});

// ---------- data health ----------
function fill(selector, rows, cells, bad = () => false) {
  const tbody = $(`${selector} tbody`);
  tbody.replaceChildren();
  for (const r of rows) tbody.append(el("tr", { class: bad(r) ? "bad" : "" }, ...cells(r).map((c) => el("td", { text: c ?? "" }))));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: 9, class: "muted", text: "none" })));
}

async function loadEngineer() {
  const tasks = [
    api("/api/ingest-runs", { params: { limit: 50 } }).then((d) => fill("#runs", d.runs, (r) => [fmtTime(r.finished_at), r.source, r.source_file.split("/").pop(),
      r.rows_landed, r.rows_published, r.rows_quarantined, r.rows_duplicate, r.reconciled ? "yes" : "NO", r.status], (r) => !r.reconciled || r.status === "failed")),
    api("/api/quarantine").then((d) => fill("#quarantine", d.reasons, (r) => [r.source, r.reason_code, r.rows, r.files, fmtTime(r.last_ingested_at)])),
    api("/api/quality", { params: { limit: 200 } }).then((d) => {
      const failed = d.results.filter((r) => !r.success);
      $("#quality-summary").textContent = `${d.count} recent checks, ${failed.length} failed`;
      fill("#quality", [...failed, ...d.results.filter((r) => r.success)].slice(0, 100), (r) => [fmtTime(r.validated_at), r.table_name, r.check_name, r.severity, r.success ? "passed" : "FAILED", r.unexpected_count], (r) => !r.success);
      const link = $("#data-docs-link");
      if (d.data_docs) { link.href = d.data_docs; link.hidden = false; }
    }),
    allPages("/api/cameras", { limit: 1000 }).then((cams) => {
      const rows = cams.map((f) => f.properties).sort((a, b) => Number(Boolean(b.silent_flag_id)) - Number(Boolean(a.silent_flag_id)) || (a.reads_last_24h - b.reads_last_24h));
      fill("#camera-health", rows.slice(0, 50), (r) => [r.camera_id, r.name, fmtTime(r.last_read_at), r.reads_last_24h, r.silent_flag_id ? `yes: ${r.silent_summary}` : ""], (r) => Boolean(r.silent_flag_id));
    }),
    api("/api/notifications").then((d) => fill("#notifications", d.notifications, (r) => [r.flag_id.slice(0, 12), r.channel, r.state, r.attempts, r.last_error, fmtTime(r.next_attempt_at)], (r) => r.state === "failed")),
  ];
  const results = await Promise.allSettled(tasks);
  for (const r of results) if (r.status === "rejected") toast(r.reason.message);
  document.body.dataset.engineerReady = "1";
}

// ---------- go ----------
if (state.token) start(); else show("login");
