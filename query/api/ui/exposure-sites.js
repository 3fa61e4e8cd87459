// The public list of exposure sites (GET /v1/exposure-sites): no token,
// no personal data; times in Asia/Ho_Chi_Minh as the API gives them.
"use strict";

const $ = (id) => document.getElementById(id);
const fmt = (s) => (s ? s.replace("T", " ").replace(/:00\+07:00$/, "").replace(/\+07:00$/, "") : "");

$("csv-link").href = "/v1/exposure-sites?format=csv";
$("geojson-link").href = "/v1/exposure-sites.geojson";

(async function load() {
  try {
    const r = await fetch("/v1/exposure-sites", { headers: { Accept: "application/json" }, cache: "no-store" });
    const out = await r.json();
    if (!r.ok) throw new Error(out.error || r.statusText);
    const body = $("public-sites").tBodies[0];
    body.replaceChildren();
    for (const s of out.sites) {
      const tr = body.insertRow();
      const place = `${s.venue_name} (${s.kind})`;
      for (const [v, cls] of [[place, ""], [s.province, ""], [fmt(s.from), ""], [fmt(s.to), ""], [s.severity, ""], [s.advice, "advice"], [fmt(s.updated_at), ""]]) {
        const td = tr.insertCell();
        td.textContent = v;
        if (cls) td.className = cls;
      }
    }
    $("sites-summary").textContent = `${out.sites.length} sites (địa điểm)`;
  } catch (e) {
    const el = $("sites-error");
    el.textContent = e.message;
    el.hidden = false;
  }
})();
