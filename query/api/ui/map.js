// The Safety Map page: every registered venue, coloured by its safety level
// on a day (GET /v1/safety-map.geojson), drawn over the provinces' outlines
// shipped with the page (/ui/provinces-vn.json, Natural Earth), so it works
// with no internet; filters by province and kind; a venue's history on
// click (GET /v1/safety-map/venues/{id}); beside it the counts by province
// (GET /v1/safety-map/summary) and the epidemic picture (exposure sites,
// GET /v1/exposure-sites, and cases registered, GET /v1/summary, where the
// server has them).
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const LEVELS = ["green", "yellow", "orange", "red", "not_assessed"];
const LEVEL_NAMES = {
  green: "green (xanh)", yellow: "yellow (vàng)", orange: "orange (cam)", red: "red (đỏ)", not_assessed: "not assessed (chưa tự đánh giá)",
};
const KINDS = ["school", "hospital", "clinic", "factory", "office", "market", "supermarket", "restaurant", "cafe", "hotel",
  "pagoda", "church", "bus_station", "airport", "station", "other"];
const W = 600, H = 900;

let outlines = null; // the provinces' FeatureCollection
let names = {};      // province code → name

function showError(msg) {
  const e = $("map-error");
  e.textContent = msg;
  e.hidden = !msg;
}

// today is the local date in Vietnam (UTC+07:00), whatever the browser's zone.
function today() {
  return new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10);
}

function el(tag, attrs, text) {
  const e = tag === "svg" || ["path", "circle", "g", "title"].includes(tag) ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// The projection: equirectangular, x scaled by the cosine of the middle
// latitude, fitted to bounds [minLon, minLat, maxLon, maxLat].
function projection(b) {
  const mid = ((b[1] + b[3]) / 2) * Math.PI / 180;
  const kx = Math.cos(mid);
  const w = (b[2] - b[0]) * kx, h = b[3] - b[1];
  const s = Math.min((W - 20) / w, (H - 20) / h);
  const ox = (W - w * s) / 2, oy = (H - h * s) / 2;
  return {
    scale: s,
    xy: (lon, lat) => [ox + (lon - b[0]) * kx * s, oy + (b[3] - lat) * s],
  };
}

function bounds(features) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  for (const f of features) {
    for (const poly of f.geometry.coordinates) {
      for (const [lon, lat] of poly[0]) {
        b[0] = Math.min(b[0], lon); b[1] = Math.min(b[1], lat);
        b[2] = Math.max(b[2], lon); b[3] = Math.max(b[3], lat);
      }
    }
  }
  return b;
}

async function getJSON(url, headers) {
  const r = await fetch(url, { headers: Object.assign({ Accept: "application/json" }, headers || {}), cache: "no-store" });
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { const p = await r.json(); if (p.error) msg = p.error; } catch (_) { /* not JSON */ }
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return r.json();
}

async function loadOutlines() {
  outlines = await getJSON("/ui/provinces-vn.json");
  const sel = $("m-province");
  for (const f of outlines.features) {
    names[f.properties.code] = f.properties.name;
    sel.append(el("option", { value: f.properties.code }, f.properties.code + " " + f.properties.name));
  }
  for (const k of KINDS) $("m-kind").append(el("option", { value: k }, k));
}

function params() {
  const q = new URLSearchParams();
  const date = $("m-date").value || today();
  q.set("date", date);
  if ($("m-province").value) q.set("province", $("m-province").value);
  if ($("m-kind").value) q.set("kind", $("m-kind").value);
  return q;
}

async function draw() {
  showError("");
  const q = params();
  let fc;
  try {
    fc = await getJSON("/v1/safety-map.geojson?" + q.toString());
  } catch (e) {
    showError("The map could not be loaded: " + e.message);
    return;
  }
  // Fit the view to the province asked for, else to the provinces that have
  // venues on the map (a city's deployment shows its city), else the country.
  const province = q.get("province");
  const withVenues = new Set(fc.features.map((f) => f.properties.province));
  const shown = outlines.features.filter((f) => (province ? f.properties.code === province : withVenues.has(f.properties.code)));
  const pr = projection(bounds(shown.length ? shown : outlines.features));
  const svg = $("map");
  svg.replaceChildren();
  const land = el("g", { id: "provinces" });
  for (const f of outlines.features) {
    let d = "";
    for (const poly of f.geometry.coordinates) {
      d += poly[0].map(([lon, lat], i) => (i ? "L" : "M") + pr.xy(lon, lat).map((v) => v.toFixed(1)).join(",")).join("") + "Z";
    }
    const p = el("path", { d, class: "province" + (f.properties.code === province ? " selected" : ""), "data-code": f.properties.code });
    p.append(el("title", {}, f.properties.code + " " + f.properties.name));
    land.append(p);
  }
  svg.append(land);
  const dots = el("g", { id: "venues" });
  const counts = Object.fromEntries(LEVELS.map((l) => [l, 0]));
  const r = Math.max(3, Math.min(9, pr.scale / 25));
  // Not assessed first, then the others, so coloured venues stay on top.
  const feats = fc.features.slice().sort((a, b) => (a.properties.level === "not_assessed" ? -1 : 0) - (b.properties.level === "not_assessed" ? -1 : 0));
  for (const f of feats) {
    const p = f.properties;
    counts[p.level] = (counts[p.level] || 0) + 1;
    const [x, y] = pr.xy(f.geometry.coordinates[0], f.geometry.coordinates[1]);
    const c = el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1), class: "venue " + p.level, "data-id": p.venue_id, tabindex: "0" });
    c.append(el("title", {}, p.name + " — " + LEVEL_NAMES[p.level] + (p.score === null ? "" : ", " + p.score)));
    c.addEventListener("click", () => history(p.venue_id, c));
    c.addEventListener("keydown", (ev) => { if (ev.key === "Enter") history(p.venue_id, c); });
    dots.append(c);
  }
  svg.append(dots);
  const legend = $("legend");
  legend.replaceChildren(...LEVELS.map((l) => el("li", { class: l, "data-level": l }, LEVEL_NAMES[l] + ": " + counts[l])));
  $("map-date").textContent = q.get("date");
  await Promise.all([summary(q), epidemic(q)]);
}

async function history(id, circle) {
  for (const c of document.querySelectorAll(".venue.active")) c.classList.remove("active");
  if (circle) circle.classList.add("active");
  let h;
  try {
    h = await getJSON("/v1/safety-map/venues/" + encodeURIComponent(id) + "?days=14");
  } catch (e) {
    showError("The venue's history could not be loaded: " + e.message);
    return;
  }
  $("history-name").textContent = h.name;
  $("history-meta").textContent = h.kind + " · " + h.province + " " + (names[h.province] || "") + " · venue " + h.venue_id;
  const rows = $("history-rows");
  rows.replaceChildren();
  for (const d of h.days) {
    const tr = el("tr", { "data-date": d.date });
    tr.append(el("td", {}, d.date));
    tr.append(el("td", { class: "chip " + d.level }, LEVEL_NAMES[d.level] + (d.filed > 1 ? " (" + d.filed + "×)" : "")));
    tr.append(el("td", {}, d.score === null ? "—" : String(d.score)));
    tr.append(el("td", {}, d.unmet ? d.unmet.join(", ") : ""));
    rows.append(tr);
  }
  $("history").hidden = false;
}

async function summary(q) {
  const s = new URLSearchParams({ date: q.get("date") });
  if (q.get("kind")) s.set("kind", q.get("kind"));
  let c;
  try {
    c = await getJSON("/v1/safety-map/summary?" + s.toString());
  } catch (e) {
    $("province-rows").replaceChildren(el("tr", {}, ""));
    return;
  }
  const rows = $("province-rows");
  rows.replaceChildren();
  for (const code of Object.keys(c.provinces).sort()) {
    const p = c.provinces[code];
    const tr = el("tr", { "data-province": code });
    tr.append(el("td", {}, code + " " + (names[code] || "")));
    tr.append(el("td", {}, String(p.venues)));
    for (const l of ["green", "yellow", "orange", "red"]) tr.append(el("td", { class: "lv " + l }, String(p.levels[l])));
    tr.append(el("td", {}, String(p.missing)));
    rows.append(tr);
  }
}

// epidemic shows exposure sites and cases registered, by province and day,
// where this server has them: exposure sites are public; cases need a
// viewer's token, taken from the session when the main page has one.
async function epidemic(q) {
  const sites = $("epidemic-sites"), sitesTable = document.querySelector(".sites-table");
  try {
    const s = await getJSON("/v1/exposure-sites" + (q.get("province") ? "?province=" + q.get("province") : ""));
    const list = Array.isArray(s) ? s : (s.sites || s.exposure_sites || []);
    sites.textContent = "Exposure sites (Địa điểm có ca bệnh): " + list.length;
    const rows = $("site-rows");
    rows.replaceChildren();
    for (const x of list.slice(0, 50)) {
      const tr = el("tr");
      for (const v of [x.venue_name || x.venue_id, x.province || "", (x.from || "").slice(0, 16), (x.to || "").slice(0, 16)]) tr.append(el("td", {}, String(v)));
      rows.append(tr);
    }
    sitesTable.hidden = list.length === 0;
  } catch (e) {
    sites.textContent = "Exposure sites: not served here (" + e.message + ").";
    sitesTable.hidden = true;
  }
  const cases = $("epidemic-cases"), caseTable = document.querySelector(".epidemic-table");
  let tok = "";
  try { tok = sessionStorage.getItem("truyvet.token") || ""; } catch (_) { /* private mode */ }
  if (!tok) {
    cases.textContent = "Cases registered by province and day: sign in on the main page (a viewer's token) to see them.";
    caseTable.hidden = true;
    return;
  }
  try {
    const to = q.get("date");
    const from = new Date(Date.parse(to + "T00:00:00+07:00") - 13 * 86400 * 1000 + 7 * 3600 * 1000).toISOString().slice(0, 10);
    const s = new URLSearchParams({ from, to });
    if (q.get("province")) s.set("province", q.get("province"));
    const sum = await getJSON("/v1/summary?" + s.toString(), { Authorization: "Bearer " + tok });
    const days = Array.isArray(sum) ? sum : (sum.days || []);
    const rows = $("case-rows");
    rows.replaceChildren();
    let total = 0;
    // GET /v1/summary answers {"province", "from", "to", "days": [{"day", "cases_registered", …}]}
    // for one province, or for the country ("*").
    const where = sum.province && sum.province !== "*" ? sum.province : (q.get("province") || "all");
    for (const d of days) {
      const n = d.cases_registered;
      if (typeof n === "number" && n > 0) {
        rows.append(caseRow(d.day || d.date, where, n));
        total += n;
      }
    }
    cases.textContent = "Cases registered (Ca bệnh ghi nhận), 14 days: " + total;
    caseTable.hidden = rows.children.length === 0;
  } catch (e) {
    cases.textContent = "Cases registered by province and day: not served here (" + e.message + ").";
    caseTable.hidden = true;
  }
}

function caseRow(date, province, n) {
  const tr = el("tr");
  tr.append(el("td", {}, date));
  tr.append(el("td", {}, province + " " + (names[province] || "")));
  tr.append(el("td", {}, String(n)));
  return tr;
}

async function main() {
  $("m-date").value = today();
  $("m-date").max = today();
  try {
    await loadOutlines();
  } catch (e) {
    showError("The province outlines could not be loaded: " + e.message);
    return;
  }
  $("map-form").addEventListener("submit", (ev) => { ev.preventDefault(); draw(); });
  for (const id of ["m-province", "m-kind", "m-date"]) $(id).addEventListener("change", draw);
  await draw();
  document.body.dataset.ready = "1";
}

main();
