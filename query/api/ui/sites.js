// The exposure-site page: draft a site from a venue and a window (POST
// /v1/exposure-sites) and see its reach by hour, approve it with another
// account (POST …/approve: the drafting account is refused, same_person),
// watch the alerts go out (GET /v1/exposure-sites/{id}), retract it.
// Opened from a case's exposure sites as /sites.html?venue=&from=&to=&case=,
// or as /sites.html?id= for a site already drafted.
"use strict";

const $ = (id) => document.getElementById(id);
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

function showError(msg) {
  const e = $("site-error");
  e.textContent = msg;
  e.hidden = !msg;
}

async function call(method, url, body) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) {
    const why = out.reason === "same_person" ? "the account that drafted a site cannot approve it (người tạo không thể phê duyệt)" : (out.error || r.statusText);
    throw new Error((out.field ? out.field + ": " : "") + why);
  }
  return out;
}

// Times: datetime-local inputs are read and written in Asia/Ho_Chi_Minh.
function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  const t = new Date(d.getTime() + 7 * 3600e3);
  return `${t.getUTCFullYear()}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())}T${p(t.getUTCHours())}:${p(t.getUTCMinutes())}`;
}
const rfc3339 = (v) => (v ? v + ":00+07:00" : "");
const fmt = (s) => (s ? s.replace("T", " ").replace(/:00\+07:00$/, "").replace(/\+07:00$/, "") : "");

let current = null;
let timer = 0;

function drawHist(byHour, from) {
  const h = $("reach-hist");
  h.replaceChildren();
  const top = Math.max(1, ...byHour);
  const start = new Date(from);
  byHour.forEach((n, i) => {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.height = Math.round((100 * n) / top) + "%";
    const hour = new Date(start.getTime() + i * 3600e3 + 7 * 3600e3).getUTCHours();
    bar.title = `${String(hour).padStart(2, "0")}:00 · ${n} people (người)`;
    if (byHour.length <= 24) {
      const l = document.createElement("span");
      l.textContent = String(hour).padStart(2, "0") + "h";
      bar.append(l);
    }
    h.append(bar);
  });
}

function show(s) {
  current = s;
  $("site").hidden = false;
  $("site-id").textContent = String(s.site_id);
  const st = $("site-status");
  st.textContent = s.status;
  st.className = "status " + s.status;
  $("site-venue").textContent = String(s.venue_id);
  $("site-window").textContent = fmt(s.from) + " → " + fmt(s.to);
  $("site-people").textContent = String(s.preview.people);
  $("site-already").textContent = String(s.preview.already_contacts);
  const sent = s.alerts_sent || { exposure: 0, retraction: 0 };
  $("site-sent").textContent = `${sent.exposure} exposure (cảnh báo), ${sent.retraction} retraction (thu hồi)`;
  drawHist(s.preview.by_hour || [], s.from);
  $("approve").hidden = s.status !== "draft";
  $("retract").hidden = $("retract-reason").hidden = s.status === "retracted";
  const u = new URL(location.href);
  if (u.searchParams.get("id") !== String(s.site_id)) {
    history.replaceState(null, "", "/sites.html?id=" + s.site_id);
  }
}

async function refresh() {
  if (!current) return;
  try {
    show(await call("GET", `/v1/exposure-sites/${current.site_id}`));
  } catch (e) {
    showError(e.message);
  }
}

function watch() {
  clearInterval(timer);
  timer = setInterval(refresh, 1500);
}

$("draft-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError("");
  const body = {
    venue_id: Number($("s-venue").value),
    from: rfc3339($("s-from").value),
    to: rfc3339($("s-to").value),
    severity: $("s-severity").value,
    advice: $("s-advice").value,
  };
  if ($("s-case").value) body.case_id = Number($("s-case").value);
  try {
    const d = await call("POST", "/v1/exposure-sites", body);
    current = { site_id: d.site_id };
    await refresh();
    watch();
  } catch (e) {
    showError(e.message);
  }
});

$("approve").addEventListener("click", async () => {
  showError("");
  try {
    show(await call("POST", `/v1/exposure-sites/${current.site_id}/approve`));
    await refresh();
  } catch (e) {
    showError(e.message);
  }
});

$("retract").addEventListener("click", async () => {
  showError("");
  try {
    show(await call("POST", `/v1/exposure-sites/${current.site_id}/retract`, { reason: $("retract-reason").value }));
  } catch (e) {
    showError(e.message);
  }
});

$("switch-account").addEventListener("click", () => {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
  token();
});

(function init() {
  const q = new URL(location.href).searchParams;
  const now = new Date();
  $("s-to").value = q.get("to") ? localInput(new Date(q.get("to"))) : localInput(now);
  $("s-from").value = q.get("from") ? localInput(new Date(q.get("from"))) : localInput(new Date(now.getTime() - 3 * 3600e3));
  if (q.get("venue")) $("s-venue").value = q.get("venue");
  if (q.get("case")) $("s-case").value = q.get("case");
  if (q.get("id")) {
    current = { site_id: Number(q.get("id")) };
    refresh().then(watch);
  }
})();
