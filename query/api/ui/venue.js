// The venue page: a venue's details and poster (GET /v1/venues/{id},
// poster.png/.svg) and, for its administrator, its visitor list
// (GET /v1/venues/{id}/visitors, which asks for a purpose and is audited).
"use strict";

const $ = (id) => document.getElementById(id);

function showError(msg) {
  const e = $("venue-error");
  e.textContent = msg;
  e.hidden = !msg;
}

// token is the access token the main page keeps for the session (asked for
// once when there is none).
const TOKEN_KEY = "truyvet.token";
function token() {
  let t = "";
  try { t = sessionStorage.getItem(TOKEN_KEY) || ""; } catch (_) { /* private mode */ }
  if (!t) {
    t = (window.prompt("Access token (mã truy cập):") || "").trim();
    try { if (t) sessionStorage.setItem(TOKEN_KEY, t); } catch (_) { /* private mode */ }
  }
  return t;
}

async function apiFetch(url, accept) {
  const headers = { Accept: accept };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  return fetch(url, { headers, cache: "no-store" });
}

// dataURL fetches an authorised file as a data: URL, for <img> and download
// links (which cannot send the token themselves).
async function dataURL(url, accept) {
  const r = await apiFetch(url, accept);
  if (!r.ok) throw new Error(url + ": " + r.statusText);
  const blob = await r.blob();
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(fr.result);
    fr.onerror = () => reject(fr.error);
    fr.readAsDataURL(blob);
  });
}

async function getJSON(url) {
  const r = await apiFetch(url, "application/json");
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    throw new Error((body.field ? body.field + ": " : "") + (body.error || r.statusText));
  }
  return body;
}

// localInput writes d as a datetime-local value in Asia/Ho_Chi_Minh (UTC+07:00),
// whatever the browser's own zone.
function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  const t = new Date(d.getTime() + 7 * 3600e3);
  return `${t.getUTCFullYear()}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())}T${p(t.getUTCHours())}:${p(t.getUTCMinutes())}`;
}

// rfc3339 turns a datetime-local value (read as Asia/Ho_Chi_Minh) into RFC 3339.
function rfc3339(v) {
  return v ? v + ":00+07:00" : "";
}

let current = 0;

async function showVenue(id) {
  showError("");
  try {
    const v = await getJSON(`/v1/venues/${id}`);
    current = v.venue_id;
    $("venue-name").textContent = v.name;
    $("venue-kind").textContent = v.kind;
    $("venue-province").textContent = v.province;
    $("venue-place").textContent = [v.district, v.commune].filter(Boolean).join(", ");
    $("venue-address").textContent = v.address;
    $("venue-position").textContent = `${v.lat}, ${v.lon}`;
    $("venue-qr").textContent = v.qr;
    const [png, svg] = await Promise.all([
      dataURL(`/v1/venues/${id}/poster.png`, "image/png"),
      dataURL(`/v1/venues/${id}/poster.svg`, "image/svg+xml"),
    ]);
    $("poster-png").href = png;
    $("poster-png").download = `venue-${id}.png`;
    $("poster-svg").href = svg;
    $("poster-svg").download = `venue-${id}.svg`;
    $("poster").src = svg;
    $("venue").hidden = false;
    $("visitors-card").hidden = false;
    history.replaceState(null, "", `/venue.html?id=${id}`);
  } catch (err) {
    $("venue").hidden = true;
    $("visitors-card").hidden = true;
    showError(err.message);
  }
}

async function listVisitors() {
  const q = new URLSearchParams({ purpose: $("w-purpose").value.trim() });
  if ($("w-from").value) q.set("from", rfc3339($("w-from").value));
  if ($("w-to").value) q.set("to", rfc3339($("w-to").value));
  const tbody = $("visitors").querySelector("tbody");
  tbody.replaceChildren();
  try {
    const res = await getJSON(`/v1/venues/${current}/visitors?${q}`);
    for (const s of res.visitors) {
      const tr = document.createElement("tr");
      for (const text of [s.user_id, s.enter, s.exit, s.exit_imputed ? "imputed (ước tính)" : "scanned (đã quét)"]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tbody.append(tr);
    }
    $("visitors").hidden = false;
    $("visitors-summary").textContent = `${res.visitors.length} stays (lượt)`;
  } catch (err) {
    $("visitors").hidden = true;
    $("visitors-summary").textContent = err.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const now = new Date();
  $("w-to").value = localInput(now);
  $("w-from").value = localInput(new Date(now.getTime() - 14 * 86400e3));
  $("venue-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("v-id").value.trim();
    if (/^[0-9]+$/.test(id)) showVenue(id);
    else showError("venue_id: a number (một số)");
  });
  $("visitors-form").addEventListener("submit", (e) => {
    e.preventDefault();
    listVisitors();
  });
  const id = new URLSearchParams(location.search).get("id");
  if (id) {
    $("v-id").value = id;
    showVenue(id);
  }
});
