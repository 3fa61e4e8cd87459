// truyvet web UI: plain JavaScript, no dependencies, no build step.
//
// The page keeps its query in the URL hash (#case=…&from=…&to=…&depth=…&min_minutes=…&definition=…)
// so a link can be shared; a hash change runs the query. It calls the JSON API
// of the same origin:
//   GET /v1/cases/{id}/exposures  the exposure graph (JSON; format=csv for the contact list)
//   GET /v1/status                pipeline counters, polled every 5 s
//   GET /v1/audit?limit=20        recent lookups
// Every request goes through apiFetch, so the headers they carry are set in
// one place.
//
// Dates are shown and entered as dd/mm/yyyy hh:mm (24-hour) in Vietnam time,
// whatever the browser's locale: the form uses text inputs, not the
// browser's date pickers, whose format follows the locale.
'use strict';

(function () {
  const TZ_OFFSET_MS = 7 * 3600 * 1000; // Asia/Ho_Chi_Minh, UTC+07:00, no daylight saving
  const TZ_SUFFIX = '+07:00';
  const MAX_DRAWN = 2000; // above this many people, the graph shows F0 and F1 only
  const GROUP_F2 = 300; // above this many F2, the graph draws them as one group per F1
  const VENUE_VIEW = 120; // above this many F1, the graph is drawn by venue (see buildVenueView)
  const TABLE_ROWS = 500; // rows rendered before "show all"
  const STATUS_EVERY_MS = 5000;
  const AUDIT_EVERY = 6; // refresh the audit panel every 6th status poll (30 s)
  const DEFAULT_LOOKBACK_MS = 14 * 24 * 3600 * 1000;
  const WHO_KEY = 'truyvet.requester';
  const TOKEN_KEY = 'truyvet.token';
  const PURPOSE_KEY = 'truyvet.purpose';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);
  const nf = new Intl.NumberFormat('en-US');
  const fmtNum = (v) => (typeof v === 'number' && isFinite(v) ? nf.format(v) : '—');
  // fmtCompact writes large counts short: 12.3k, 123k, 1.2M.
  const fmtCompact = (v) => {
    if (typeof v !== 'number' || !isFinite(v)) return '—';
    if (Math.abs(v) < 10000) return nf.format(v);
    if (Math.abs(v) < 1e6) return (v / 1000).toFixed(Math.abs(v) < 1e5 ? 1 : 0) + 'k';
    return (v / 1e6).toFixed(1) + 'M';
  };

  // ---------- small DOM helpers (text only: nothing from the server is parsed as HTML)

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  // ---------- time: everything is shown and entered in Vietnam time

  // parseTime reads RFC 3339 (any offset, any fraction digits) or a
  // bare local time (taken as Vietnam time). It returns Unix ms or NaN.
  function parseTime(s) {
    if (typeof s !== 'string') return NaN;
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s.trim());
    if (!m) return NaN;
    const ms = m[7] ? Number((m[7] + '00').slice(0, 3)) : 0;
    let t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0, ms);
    const z = m[8];
    if (!z) return t - TZ_OFFSET_MS;
    if (z.toUpperCase() === 'Z') return t;
    const sign = z[0] === '-' ? -1 : 1;
    const hh = +z.slice(1, 3);
    const mm = +z.slice(-2);
    return t - sign * (hh * 60 + mm) * 60000;
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  // parseInput reads a form date: dd/mm/yyyy, optionally with hh:mm (24-hour),
  // in Vietnam time; a bare date is its midnight. It returns Unix ms or NaN,
  // also for a date that does not exist (31/02/2026).
  function parseInput(s) {
    const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T,]+(\d{1,2}):(\d{2}))?$/.exec(String(s).trim());
    if (!m) return NaN;
    const [d, mo, y, h, mi] = [+m[1], +m[2], +m[3], m[4] ? +m[4] : 0, m[5] ? +m[5] : 0];
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59) return NaN;
    const t = Date.UTC(y, mo - 1, d, h, mi);
    if (new Date(t).getUTCDate() !== d) return NaN;
    return t - TZ_OFFSET_MS;
  }

  // parts of a Unix ms time in Vietnam time
  function ictParts(ms) {
    const d = new Date(ms + TZ_OFFSET_MS);
    return {
      y: d.getUTCFullYear(), mo: pad2(d.getUTCMonth() + 1), d: pad2(d.getUTCDate()),
      h: pad2(d.getUTCHours()), mi: pad2(d.getUTCMinutes()), s: pad2(d.getUTCSeconds()),
    };
  }

  // fmtTime writes dd/mm/yyyy hh:mm[:ss] in Vietnam time; the date is the
  // first 10 characters, the time from the 12th.
  function fmtTime(ms, seconds) {
    if (!isFinite(ms)) return '—';
    const p = ictParts(ms);
    return `${p.d}/${p.mo}/${p.y} ${p.h}:${p.mi}` + (seconds ? `:${p.s}` : '');
  }

  // value for a date input: dd/mm/yyyy hh:mm
  const toInput = (ms) => fmtTime(ms);

  function toRFC3339(ms) {
    const p = ictParts(ms);
    return `${p.y}-${p.mo}-${p.d}T${p.h}:${p.mi}:${p.s}${TZ_SUFFIX}`;
  }

  function fmtDuration(sec) {
    if (!isFinite(sec)) return '—';
    if (sec < 120) return `${Math.round(sec)} s`;
    if (sec < 7200) return `${Math.round(sec / 60)} min`;
    if (sec < 172800) return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
    return `${Math.floor(sec / 86400)} d ${Math.floor((sec % 86400) / 3600)} h`;
  }

  const fmtMinutes = (sec) => (isFinite(sec) ? (sec / 60).toFixed(1) : '—');

  // ---------- the query: form <-> hash <-> API URL

  // Query fields are kept as strings exactly as they go on the wire:
  // {case, from, to, depth, min} with from/to RFC 3339 in +07:00 or ''.
  function readHash() {
    const h = location.hash.replace(/^#/, '');
    if (!h) return null;
    const p = new URLSearchParams(h);
    const q = {
      case: (p.get('case') || '').trim(),
      from: p.get('from') || '',
      to: p.get('to') || '',
      depth: p.get('depth') || '',
      min: p.get('min_minutes') || p.get('min') || '',
      def: p.get('definition') || '',
    };
    // Accept any RFC 3339 offset or a bare local time in a shared link; normalise to +07:00.
    for (const k of ['from', 'to']) {
      if (q[k]) {
        const t = parseTime(q[k]);
        if (isFinite(t)) q[k] = toRFC3339(t);
      }
    }
    return q.case ? q : null;
  }

  function hashFor(q) {
    const p = new URLSearchParams();
    p.set('case', q.case);
    if (q.from) p.set('from', q.from);
    if (q.to) p.set('to', q.to);
    if (q.depth) p.set('depth', q.depth);
    if (q.min !== '') p.set('min_minutes', q.min);
    if (q.def) p.set('definition', q.def);
    return '#' + p.toString();
  }

  // diffURL is the people added and removed going from default@1 to ref.
  function diffURL(q, ref) {
    const p = new URLSearchParams();
    if (q.from) p.set('from', q.from);
    if (q.to) p.set('to', q.to);
    if (q.depth) p.set('depth', q.depth);
    if (q.min !== '') p.set('min_minutes', q.min);
    if (q.purpose) p.set('purpose', q.purpose);
    p.set('a', 'default@1');
    p.set('b', ref);
    return `/v1/cases/${encodeURIComponent(q.case)}/exposures/diff?` + p.toString();
  }

  function apiURL(q, csv) {
    const p = new URLSearchParams();
    if (q.from) p.set('from', q.from);
    if (q.to) p.set('to', q.to);
    if (q.depth) p.set('depth', q.depth);
    if (q.min !== '') p.set('min_minutes', q.min);
    if (q.purpose) p.set('purpose', q.purpose);
    if (q.def) p.set('definition', q.def);
    if (csv) p.set('format', 'csv');
    const s = p.toString();
    return `/v1/cases/${encodeURIComponent(q.case)}/exposures` + (s ? '?' + s : '');
  }

  function inputToRFC3339(v) {
    if (!v.trim()) return '';
    const t = parseInput(v);
    return isFinite(t) ? toRFC3339(t) : null;
  }

  // formQuery reads and checks the form; it returns {q} or {error}.
  function formQuery() {
    const c = $('f-case').value.trim();
    if (!/^\d+$/.test(c) || Number(c) < 1 || Number(c) > 4294967295) {
      return { error: 'Case user ID must be a whole number from 1 to 4294967295 (mã người dùng không hợp lệ).', field: 'f-case' };
    }
    const from = inputToRFC3339($('f-from').value);
    const to = inputToRFC3339($('f-to').value);
    if (from === null) return { error: '"From" is not a date and time as dd/mm/yyyy hh:mm (ngày/tháng/năm giờ:phút).', field: 'f-from' };
    if (to === null) return { error: '"To" is not a date and time as dd/mm/yyyy hh:mm (ngày/tháng/năm giờ:phút).', field: 'f-to' };
    if (from && to && parseTime(from) >= parseTime(to)) {
      return { error: '"From" must be before "To" (thời gian bắt đầu phải trước thời gian kết thúc).', field: 'f-from' };
    }
    const min = $('f-min').value.trim();
    const mv = Number(min);
    if (min === '' || !isFinite(mv) || mv < 0 || mv > 1440) {
      return { error: 'Minimum minutes must be a number from 0 to 1440.', field: 'f-min' };
    }
    const purpose = $('f-purpose').value.trim();
    if (purpose.length < 3 || purpose.length > 200) {
      return { error: 'Say why you look it up, 3 to 200 characters (mục đích tra cứu); it is recorded in the audit.', field: 'f-purpose' };
    }
    try { sessionStorage.setItem(PURPOSE_KEY, purpose); } catch (_) { /* private mode */ }
    return { q: { case: String(Number(c)), from, to, depth: $('f-depth').value, min, purpose, def: $('f-def').value } };
  }

  function fillForm(q) {
    $('f-case').value = q.case;
    $('f-from').value = q.from ? toInput(parseTime(q.from)) : '';
    $('f-to').value = q.to ? toInput(parseTime(q.to)) : '';
    $('f-depth').value = q.depth === '2' ? '2' : '1'; // the API's default is 1
    $('f-min').value = q.min !== '' ? q.min : '15';
    pickDefinition(q.def || '');
  }

  // The definition picker lists GET /v1/definitions; default@1 (value '')
  // is today's rule. A definition named in a link but not listed yet is
  // added so the form shows it.
  function pickDefinition(ref) {
    const sel = $('f-def');
    if (ref && ![...sel.options].some((o) => o.value === ref)) sel.append(el('option', { value: ref }, ref));
    sel.value = ref;
  }

  function loadDefinitions() {
    apiFetch('/v1/definitions', {})
      .then((r) => r.json())
      .then((data) => {
        if (!data || !Array.isArray(data.definitions)) return;
        const sel = $('f-def');
        const cur = sel.value;
        const latest = new Map();
        for (const d of data.definitions) latest.set(d.name, d);
        for (const d of data.definitions) {
          const ref = `${d.name}@${d.version}`;
          if (ref === data.default || [...sel.options].some((o) => o.value === ref)) continue;
          sel.append(el('option', { value: ref }, ref + (d.casual ? ' (+ casual)' : '')));
        }
        sel.value = cur;
      })
      .catch(() => {}); // the picker keeps default@1
  }

  function fillDefaultWindow() {
    const now = Math.floor(Date.now() / 60000) * 60000;
    $('f-to').value = toInput(now);
    $('f-from').value = toInput(now - DEFAULT_LOOKBACK_MS);
  }

  // ---------- API calls

  // The X-Requested-By header must be ISO-8859-1 for fetch; names are often
  // Vietnamese. Drop the diacritics (Nguyễn Văn Đức -> Nguyen Van Duc) and
  // percent-encode anything else that is not printable ASCII.
  function requesterHeader() {
    const raw = $('f-who').value.trim();
    if (!raw) return '';
    return raw.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D')
      .replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c)).slice(0, 200);
  }

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // The API needs a bearer token: asked once, kept for the browser session
  // (sessionStorage); asked again when the server refuses it on a lookup.
  let tokenDeclined = false;
  function token(ask) {
    let t = '';
    try { t = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { /* private mode */ }
    if (t || (!ask && tokenDeclined)) return t;
    t = (window.prompt('Access token (mã truy cập), e.g. the one `truyvet demo` printed:') || '').trim();
    tokenDeclined = !t;
    try { if (t) sessionStorage.setItem(TOKEN_KEY, t); } catch (_) { /* private mode */ }
    return t;
  }

  function forgetToken() {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
  }

  async function apiFetch(url, opts, retried) {
    const headers = { Accept: (opts && opts.accept) || 'application/json' };
    const who = opts && opts.audited ? requesterHeader() : '';
    if (who) headers['X-Requested-By'] = who;
    const tok = token(false);
    if (tok) headers.Authorization = 'Bearer ' + tok;
    let res;
    try {
      res = await fetch(url, { headers, signal: opts && opts.signal, cache: 'no-store' });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new APIError(0, 'Cannot reach the server (không kết nối được máy chủ): ' + e.message);
    }
    if (res.status === 401 && !retried && opts && opts.audited) {
      forgetToken();
      if (token(true)) return apiFetch(url, opts, true);
    }
    if (!res.ok) {
      let msg = '';
      const text = await res.text().catch(() => '');
      try {
        const j = JSON.parse(text);
        if (j && typeof j.error === 'string') msg = j.error;
      } catch (_) {
        msg = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
      }
      throw new APIError(res.status, `HTTP ${res.status} ${res.statusText || ''}`.trim() + (msg ? ': ' + msg : ''));
    }
    if (opts && opts.blob) return res;
    try {
      return await res.json();
    } catch (e) {
      throw new APIError(res.status, 'The server sent an answer that is not JSON: ' + e.message);
    }
  }

  // ---------- errors

  function showError(msg) {
    const box = $('error');
    box.replaceChildren(el('strong', { text: 'Error (Lỗi): ' }), msg);
    box.hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error').replaceChildren();
  }

  // ---------- running a query

  let inflight = null; // AbortController of the running lookup
  let lastQuery = null; // the query shown on the page
  const view = { tables: [] }; // rendered tables, for print expansion

  async function run(q) {
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    lastQuery = q;
    clearError();
    const btn = $('f-submit');
    btn.disabled = true;
    btn.classList.add('busy');
    document.body.setAttribute('aria-busy', 'true');
    document.body.classList.add('loading');
    $('summary-main').textContent = `Tracing case ${q.case}… (đang truy vết)`;
    $('summary-stats').textContent = '';
    $('result').hidden = false;
    $('csv-link').hidden = true;
    try {
      const data = await apiFetch(apiURL(q), { signal: ctl.signal, audited: true });
      if (ctl.signal.aborted) return;
      render(q, data);
    } catch (e) {
      if (e.name === 'AbortError') return;
      showError(e.message);
      clearResult();
    } finally {
      if (inflight === ctl) {
        inflight = null;
        btn.disabled = false;
        btn.classList.remove('busy');
        document.body.removeAttribute('aria-busy');
        document.body.classList.remove('loading');
        refreshAudit();
      }
    }
  }

  function runFromHash() {
    const q = readHash();
    if (!q) return;
    fillForm(q);
    // The form can show only depth 1 or 2: a link asking for another is
    // refused here rather than shown as one depth and sent as another.
    if (q.depth && q.depth !== '1' && q.depth !== '2') {
      clearResult();
      showError(`The link asks for depth ${q.depth}; depth is 1 (F1) or 2 (F1 + F2) (cấp chỉ là 1 hoặc 2). Choose one and press Trace.`);
      return;
    }
    // A link carries no purpose: the lookup runs with the one given in this
    // browser session, or asks for one before anything is sent.
    q.purpose = $('f-purpose').value.trim();
    if (q.purpose.length < 3 || q.purpose.length > 200) {
      clearResult();
      showError('Say why you look it up, 3 to 200 characters (mục đích tra cứu), then press Trace; it is recorded in the audit.');
      $('f-purpose').focus();
      return;
    }
    run(q);
  }

  // clearResult removes an earlier answer, so it is never taken for this one's.
  function clearResult() {
    $('result').hidden = true;
    for (const id of ['f1-card', 'f2-card', 'sites-card', 'timeline-card']) $(id).hidden = true;
    $('graph').replaceChildren();
    $('graph').setAttribute('aria-label', 'Exposure graph');
    $('graph-note').hidden = true;
    $('graph-placeholder').hidden = false;
    hideTooltip();
    gv.g = null;
    gv.vb = null;
    gv.tight = null;
    view.tables = [];
    document.title = 'truyvet — contact tracing (truy vết)';
  }

  // a link that traces someone else with the same window and threshold
  function traceHref(id) {
    const q = Object.assign({}, lastQuery || { from: '', to: '', depth: '2', min: '15' }, { case: String(id) });
    return hashFor(q);
  }

  function idLink(id) {
    return el('a', { href: traceHref(id), class: 'id', title: `Trace ${id} as the case` }, String(id));
  }

  // ---------- rendering an answer

  function render(q, data) {
    const nodes = Array.isArray(data.nodes) ? data.nodes : [];
    const edges = Array.isArray(data.edges) ? data.edges : [];
    const venues = Array.isArray(data.venues) ? data.venues : [];
    const f1 = nodes.filter((n) => n.tier === 1);
    const f2 = nodes.filter((n) => n.tier === 2);
    const casual = nodes.filter((n) => n.tier === 'casual').length;

    // The window the server used (it fills in defaults): show it in the form.
    // When the link left the window out, pin it in the hash now, so the link
    // can be shared and tracing a contact keeps the same window.
    const from = parseTime(data.from);
    const to = parseTime(data.to);
    if (isFinite(from)) $('f-from').value = toInput(from);
    if (isFinite(to)) $('f-to').value = toInput(to);
    if (data.depth === 1 || data.depth === 2) $('f-depth').value = String(data.depth);
    if (typeof data.min_minutes === 'number') $('f-min').value = String(data.min_minutes);
    if ((!q.from || !q.to || !q.depth || q.min === '') && isFinite(from) && isFinite(to)) {
      q.from = q.from || toRFC3339(from);
      q.to = q.to || toRFC3339(to);
      q.depth = q.depth || String(data.depth || '');
      if (q.min === '' && typeof data.min_minutes === 'number') q.min = String(data.min_minutes);
      history.replaceState(null, '', hashFor(q));
    }

    // venues where each person was exposed, from the venue edges
    const venuesOf = new Map();
    for (const e of edges) {
      if (e.channel !== 'venue' || e.venue_id == null) continue;
      let s = venuesOf.get(e.to);
      if (!s) venuesOf.set(e.to, (s = new Set()));
      s.add(e.venue_id);
    }

    const st = data.stats || {};
    const noRecords = st.case_stays === 0 && st.case_encounters === 0;
    const caseId = data.case != null ? data.case : q.case;
    const emptyText = noRecords
      ? `No records of case ${caseId} in this window: no check-ins and no Bluetooth encounters (không có dữ liệu của ca bệnh trong khoảng thời gian này).`
      : 'No contacts above the threshold in this window (không có tiếp xúc).';
    renderSummary(q, data, f1.length, f2.length, venues.length, noRecords ? emptyText : '', casual);
    if (data.definition && data.definition !== 'default@1') showDiff(q, data.definition);
    view.tables = [];
    renderTimeline(data, nodes, noRecords ? emptyText : '');
    renderGraph(data, nodes.filter((n) => n.tier !== 'casual'), edges, emptyText); // casual people have no edges
    renderContacts('f1', f1, venuesOf, true, noRecords ? emptyText : 'No close contacts in this window (không có F1).');
    renderContacts('f2', f2, venuesOf, data.depth === 2 || (data.depth == null && q.depth === '2'), noRecords ? emptyText : 'No F2 in this window (không có F2).');
    renderSites(venues);

    const csv = $('csv-link');
    csv.href = apiURL(q, true);
    csv.setAttribute('download', `contacts-${q.case}.csv`);
    csv.hidden = false;
    document.title = `Case ${q.case}: ${f1.length} F1, ${f2.length} F2 — truyvet`;
  }

  // showDiff writes into the summary who the chosen definition adds and
  // removes against default@1 (GET …/exposures/diff).
  function showDiff(q, ref) {
    apiFetch(diffURL(q, ref), { audited: true })
      .then((r) => r.json())
      .then((d) => {
        const span = $('def-diff');
        if (span) span.textContent = `vs default@1: +${fmtNum(d.added.length)} added, −${fmtNum(d.removed.length)} removed, ${fmtNum(d.changed.length)} changed tier`;
      })
      .catch(() => {}); // the answer stands without it
  }

  function renderSummary(q, data, n1, n2, nv, noRecords, nc) {
    const main = $('summary-main');
    main.replaceChildren(
      ...(noRecords ? [el('p', { class: 'no-records', id: 'no-records', text: noRecords })] : []),
      el('span', { class: 'case-badge' }, 'Case (Ca bệnh F0) ', el('b', {}, String(data.case != null ? data.case : q.case))),
      el('span', { class: 'window' }, `${fmtTime(parseTime(data.from))} → ${fmtTime(parseTime(data.to))} (UTC+07:00)`),
      el('span', { class: 'muted' }, `depth ${data.depth || q.depth} · ≥ ${data.min_minutes != null ? data.min_minutes : q.min} min · ${data.definition || 'default@1'}`),
      el('span', { class: 'counts' },
        el('span', { class: 'chip f1' }, el('b', {}, fmtNum(n1)), ' F1'),
        el('span', { class: 'chip f2' }, el('b', {}, fmtNum(n2)), ' F2'),
        el('span', { class: 'chip' }, el('b', {}, fmtNum(nv)), ' sites'),
        nc ? el('span', { class: 'chip' }, el('b', {}, fmtNum(nc)), ' casual (CSV)') : null,
        data.definition && data.definition !== 'default@1' ? el('span', { class: 'muted', id: 'def-diff' }) : null),
    );
    const st = data.stats || {};
    const parts = [
      `case's own stays ${fmtNum(st.case_stays)} · encounters ${fmtNum(st.case_encounters)}`,
      `elapsed ${st.elapsed_ms != null ? st.elapsed_ms.toFixed(1) : '—'} ms`,
      `candidates F1 ${fmtNum(st.candidates_f1)} · F2 ${fmtNum(st.candidates_f2)}`,
      `edges ${fmtNum(st.edges)}`,
      `bitmap ranges ${fmtNum(st.bitmap_ranges)}`,
      `stays read ${fmtNum(st.stays_read)}`,
      `contacts read ${fmtNum(st.contacts_read)}`,
    ];
    const stages = st.stages_ms && typeof st.stages_ms === 'object' ? Object.entries(st.stages_ms) : [];
    const stats = $('summary-stats');
    stats.textContent = parts.join(' · ');
    stats.title = stages.length ? 'Stages: ' + stages.map(([k, v]) => `${k} ${Number(v).toFixed(1)} ms`).join(', ') : '';
  }

  // ---------- tables

  // makeTable renders rows into container with sortable headers and a
  // filter box. Each column is {key, label, num, value(row) for sorting,
  // cell(row) -> string|Node}. The filter keeps the rows whose cells' text
  // contains it (any case); "key:text" looks in one column only, matching
  // whole words there (by:123 is exposed by 123, not by 1234).
  function makeTable(container, columns, rows, sort, empty) {
    // pred, when set (by a click on the graph), picks the rows instead of the
    // text, which then only names it; typing drops it.
    const state = { key: sort.key, dir: sort.dir, all: rows.length <= TABLE_ROWS, filter: '', pred: null };
    const byKey = Object.fromEntries(columns.map((c) => [c.key, c]));
    const texts = new Map(); // row -> lower-cased cell texts, built on first filter
    const cellText = (c, r) => {
      const v = c.cell(r);
      return (v instanceof Node ? v.textContent : String(v == null ? '' : v)).toLowerCase();
    };
    function matches(r) {
      if (state.pred) return state.pred(r);
      const f = state.filter.trim().toLowerCase();
      if (!f) return true;
      let t = texts.get(r);
      if (!t) texts.set(r, (t = columns.map((c) => cellText(c, r))));
      const m = /^(\w+):\s*(.+)$/.exec(f);
      const k = m ? columns.findIndex((c) => c.key === m[1]) : -1;
      if (k >= 0) return t[k].split(/[\s,;]+/).includes(m[2].trim());
      return t.some((x) => x.includes(f));
    }
    const input = el('input', {
      type: 'search', class: 'filter', placeholder: 'Filter (lọc): ID, venue, date…',
      'aria-label': 'Filter the rows (lọc)', title: 'Rows whose text contains this; column:text looks in one column (by:123, venues:42)',
      oninput: () => { state.filter = input.value; state.pred = null; draw(); },
    });
    const counter = el('span', { class: 'muted filter-count' });
    const holder = el('div', { class: 'table-holder' });
    if (rows.length) container.replaceChildren(el('div', { class: 'filter-bar' }, input, counter), holder);
    else container.replaceChildren(holder);
    function sorted(list) {
      const col = byKey[state.key];
      const d = state.dir === 'asc' ? 1 : -1;
      return list
        .map((r, i) => ({ r, i, v: col.value(r) }))
        .sort((a, b) => (a.v < b.v ? -d : a.v > b.v ? d : a.i - b.i))
        .map((x) => x.r);
    }
    function draw() {
      if (!rows.length) {
        holder.replaceChildren(el('p', { class: 'empty', text: empty }));
        return;
      }
      const head = el('tr', {}, columns.map((c) => {
        const active = c.key === state.key;
        const th = el('th', {
          class: (c.num ? 'num ' : '') + (active ? 'sorted ' + state.dir : ''),
          'aria-sort': active ? (state.dir === 'asc' ? 'ascending' : 'descending') : 'none',
          scope: 'col',
          'data-key': c.key,
        }, el('button', {
          type: 'button',
          title: 'Sort (sắp xếp)',
          onclick: () => {
            if (state.key === c.key) state.dir = state.dir === 'asc' ? 'desc' : 'asc';
            else { state.key = c.key; state.dir = c.firstDir || 'asc'; }
            draw();
          },
        }, c.label, el('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.dir === 'asc' ? '▲' : '▼') : '↕')));
        return th;
      }));
      const kept = state.pred || state.filter.trim() ? rows.filter(matches) : rows;
      counter.textContent = kept.length === rows.length ? '' : `${fmtNum(kept.length)} of ${fmtNum(rows.length)} rows`;
      const list = sorted(kept);
      const shown = state.all ? list : list.slice(0, TABLE_ROWS);
      const body = el('tbody');
      const frag = document.createDocumentFragment();
      for (const r of shown) {
        frag.append(el('tr', {}, columns.map((c) => el('td', { class: c.num ? 'num' : null }, c.cell(r)))));
      }
      body.append(frag);
      const parts = [el('table', {}, el('thead', {}, head), body)];
      if (!kept.length) parts.push(el('p', { class: 'empty', text: `No row matches "${state.filter.trim()}" (không có dòng phù hợp).` }));
      if (!state.all && list.length > TABLE_ROWS) {
        parts.push(el('button', {
          type: 'button', class: 'ghost more',
          onclick: () => { state.all = true; draw(); },
        }, `Show all ${fmtNum(list.length)} rows (hiện tất cả)`));
      }
      holder.replaceChildren(...parts);
    }
    draw();
    return {
      expand() { if (!state.all) { state.all = true; draw(); } },
      setFilter(f, pred) { input.value = f; state.filter = f; state.pred = pred || null; draw(); },
    };
  }

  function channelCell(chs) {
    const list = Array.isArray(chs) ? chs : [];
    return el('span', { class: 'channels' }, list.map((c) => el('span', { class: 'ch ch-' + c, text: channelLabel(c) })));
  }

  function channelLabel(c) {
    return c === 'venue' ? 'venue' : c === 'proximity' ? 'proximity' : String(c);
  }

  function idList(ids, max) {
    const list = Array.isArray(ids) ? ids : [];
    const out = [];
    list.slice(0, max).forEach((id, i) => {
      if (i) out.push(', ');
      out.push(idLink(id));
    });
    if (list.length > max) out.push(` +${list.length - max} more`);
    return el('span', {}, out);
  }

  function renderContacts(tier, list, venuesOf, show, empty) {
    $(tier + '-card').hidden = !show;
    $(tier + '-count').textContent = fmtNum(list.length);
    const cols = [
      { key: 'id', label: 'ID', num: true, value: (n) => n.user_id, cell: (n) => idLink(n.user_id) },
      { key: 'tier', label: 'Tier', value: (n) => n.tier, cell: (n) => el('span', { class: 'tier t' + n.tier, text: 'F' + n.tier }) },
      {
        key: 'first', label: 'First exposure (Thời điểm)', value: (n) => parseTime(n.first_exposure),
        cell: (n) => el('time', { datetime: n.first_exposure || '', title: n.first_exposure || '' }, fmtTime(parseTime(n.first_exposure))),
      },
      {
        key: 'last', label: 'Last exposure (Lần cuối)', firstDir: 'desc', value: (n) => parseTime(n.last_exposure),
        cell: (n) => el('time', { datetime: n.last_exposure || '', title: n.last_exposure || '' }, fmtTime(parseTime(n.last_exposure))),
      },
      { key: 'minutes', label: 'Minutes (Số phút)', num: true, firstDir: 'desc', value: (n) => n.exposure_seconds, cell: (n) => fmtMinutes(n.exposure_seconds) },
      { key: 'channels', label: 'Channels (Hình thức)', value: (n) => (n.channels || []).join(','), cell: (n) => channelCell(n.channels) },
      {
        key: 'by', label: 'Exposed by (Nguồn lây)', value: (n) => (n.exposed_by && n.exposed_by.length ? n.exposed_by[0] : 0),
        cell: (n) => idList(n.exposed_by, 6),
      },
      {
        key: 'venues', label: 'Venues (Địa điểm)', value: (n) => (venuesOf.get(n.user_id) ? Math.min(...venuesOf.get(n.user_id)) : Infinity),
        cell: (n) => {
          const s = venuesOf.get(n.user_id);
          return s ? Array.from(s).sort((a, b) => a - b).join(', ') : '';
        },
      },
    ];
    const t = makeTable($(tier + '-table'), cols, list, { key: 'first', dir: 'asc' }, empty);
    view.tables.push(t);
    view[tier] = t;
  }

  // renderTimeline lists the case's own stays and encounters in the window,
  // in time order: where they were (imputed exits marked) and whom their
  // phone met, the starting point of every interview.
  function renderTimeline(data, nodes, empty) {
    const tl = data.timeline && typeof data.timeline === 'object' ? data.timeline : {};
    const tierOf = new Map(nodes.map((n) => [n.user_id, n.tier]));
    const sites = new Map((Array.isArray(data.venues) ? data.venues : []).map((v) => [v.venue_id, v]));
    const rows = [];
    for (const st of Array.isArray(tl.stays) ? tl.stays : []) {
      const a = parseTime(st.enter), b = parseTime(st.exit);
      rows.push({ kind: 'venue', start: a, end: b, id: st.venue_id, imputed: !!st.exit_imputed, seconds: (b - a) / 1000 });
    }
    for (const en of Array.isArray(tl.encounters) ? tl.encounters : []) {
      rows.push({ kind: 'proximity', start: parseTime(en.start), end: parseTime(en.end), id: en.peer_id, seconds: en.seconds });
    }
    $('timeline-card').hidden = false;
    $('timeline-count').textContent = fmtNum(rows.length);
    const cols = [
      { key: 'start', label: 'From (Từ)', value: (r) => r.start, cell: (r) => fmtTime(r.start) },
      { key: 'end', label: 'To (Đến)', value: (r) => r.end, cell: (r) => fmtTime(r.end) },
      { key: 'kind', label: 'How (Hình thức)', value: (r) => r.kind, cell: (r) => el('span', { class: 'ch ch-' + r.kind, text: r.kind === 'venue' ? 'check-in' : 'Bluetooth' }) },
      {
        key: 'what', label: 'Where / whom (Ở đâu / gặp ai)', value: (r) => r.kind + ':' + String(r.id).padStart(10, '0'),
        cell: (r) => {
          if (r.kind === 'venue') {
            const site = sites.get(r.id);
            return el('span', {}, `venue ${r.id}`, site ? el('span', { class: 'muted' }, ` · ${fmtNum(site.exposed)} exposed here`) : null);
          }
          const t = tierOf.get(r.id);
          return el('span', {}, 'met ', idLink(r.id), t ? ' ' : null, t ? el('span', { class: 'tier t' + t, text: 'F' + t }) : null);
        },
      },
      { key: 'minutes', label: 'Minutes (Số phút)', num: true, firstDir: 'desc', value: (r) => r.seconds, cell: (r) => fmtMinutes(r.seconds) },
      {
        key: 'note', label: 'Note (Ghi chú)', value: (r) => (r.imputed ? 1 : 0),
        cell: (r) => (r.imputed ? el('span', { class: 'imputed', title: 'No check-out was recorded: the stay is assumed to last the default dwell' }, 'no check-out: exit assumed (không quét mã ra)') : ''),
      },
    ];
    view.tables.push(makeTable($('timeline-table'), cols, rows, { key: 'start', dir: 'asc' },
      empty || 'No stays or encounters of the case in this window (không có dữ liệu).'));
  }

  function renderSites(venues) {
    $('sites-card').hidden = false;
    $('sites-count').textContent = fmtNum(venues.length);
    const cols = [
      { key: 'venue', label: 'Venue ID (Mã địa điểm)', num: true, value: (s) => s.venue_id, cell: (s) => String(s.venue_id) },
      {
        key: 'tier', label: 'Source (Nguồn)', value: (s) => s.tier,
        cell: (s) => el('span', { class: 'tier t' + s.tier, title: s.tier === 0 ? 'the case exposed people here' : 'an F1 exposed people here' }, s.tier === 0 ? 'F0 (case)' : 'F' + s.tier),
      },
      { key: 'first', label: 'First (Từ)', value: (s) => parseTime(s.first), cell: (s) => fmtTime(parseTime(s.first)) },
      { key: 'last', label: 'Last (Đến)', value: (s) => parseTime(s.last), cell: (s) => fmtTime(parseTime(s.last)) },
      { key: 'exposed', label: 'People exposed (Số người)', num: true, firstDir: 'desc', value: (s) => s.exposed, cell: (s) => fmtNum(s.exposed) },
      {
        key: 'alert', label: 'Alert (Cảnh báo)', value: (s) => s.venue_id,
        cell: (s) => el('a', {
          class: 'draft-site', href: '/sites.html?' + new URLSearchParams({ venue: s.venue_id, from: s.first, to: s.last, case: (lastQuery && lastQuery.case) || '' }),
          title: 'Draft an exposure site for this venue and window (tạo cảnh báo)', text: 'Draft site',
        }),
      },
    ];
    view.tables.push(makeTable($('sites-table'), cols, venues, { key: 'first', dir: 'asc' }, 'No venue exposures (không có địa điểm).'));
  }

  // ---------- graph: data, layout, drawing, interaction

  const NODE_R = [11, 6.5, 4.5]; // radius by tier, in layout units

  // buildGraph turns the answer into drawable nodes and one link per pair of
  // people (channels merged). Above GROUP_F2 F2, they are drawn as one group
  // per F1 that exposed them (the first listed when several did), sized by
  // its people: thousands of F2 as single dots are a solid ring. Above
  // MAX_DRAWN drawn nodes, only F0 and F1 are kept.
  function buildGraph(nodes, edges) {
    const f2 = nodes.filter((n) => n.tier === 2);
    const f1 = nodes.filter((n) => n.tier === 1);
    if (f1.length > VENUE_VIEW) return buildVenueView(nodes, edges, f1, f2);
    const grouped = f2.length > GROUP_F2;
    let keep = grouped ? nodes.filter((n) => n.tier <= 1) : nodes;
    const partial = keep.length > MAX_DRAWN;
    if (partial) keep = nodes.filter((n) => n.tier <= 1);
    const index = new Map();
    const gn = keep.map((n, i) => {
      index.set(n.user_id, i);
      return { i, id: n.user_id, tier: n.tier, n, x: 0, y: 0, vx: 0, vy: 0, links: [], nbrs: [] };
    });
    // groupOf maps an F2 member to the index of their group's node
    const groupOf = new Map();
    if (grouped && !partial) {
      const byParent = new Map();
      for (const n of f2) {
        const p = Array.isArray(n.exposed_by) && n.exposed_by.length ? n.exposed_by[0] : 0;
        if (!index.has(p)) continue;
        let g = byParent.get(p);
        if (!g) {
          g = { i: gn.length, id: p, tier: 2, group: { of: p, count: 0 }, n: null, x: 0, y: 0, vx: 0, vy: 0, links: [], nbrs: [] };
          byParent.set(p, g);
          gn.push(g);
        }
        g.group.count++;
        groupOf.set(n.user_id, g.i);
      }
      for (const g of byParent.values()) g.r = Math.min(16, NODE_R[2] + 1.6 * Math.sqrt(g.group.count));
    }
    const pairs = new Map();
    const links = [];
    for (const e of edges) {
      const a = index.get(e.from);
      let b = index.get(e.to);
      if (b === undefined && groupOf.has(e.to)) {
        b = groupOf.get(e.to);
        if (gn[b].group.of !== e.from) continue; // the group hangs from its own F1 only
      }
      if (a === undefined || b === undefined || a === b) continue;
      const key = a < b ? a * 1e6 + b : b * 1e6 + a;
      let l = pairs.get(key);
      if (!l) {
        l = { s: gn[a], t: gn[b], venue: false, proximity: false, seconds: 0 };
        pairs.set(key, l);
        links.push(l);
      }
      if (e.channel === 'venue') l.venue = true;
      else l.proximity = true;
      l.seconds += e.seconds || 0;
    }
    links.forEach((l, k) => {
      l.k = k;
      l.s.links.push(k);
      l.t.links.push(k);
      l.s.nbrs.push(l.t.i);
      l.t.nbrs.push(l.s.i);
    });
    return { nodes: gn, links, partial, grouped: grouped && !partial, groups: gn.length - keep.length, f2: f2.length, total: nodes.length };
  }

  // buildVenueView draws a graph with hundreds of F1 by where the case
  // exposed them: one circle per venue (and one for Bluetooth), sized by the
  // F1 exposed there (each F1 where their earliest contact with the case
  // was), and beyond each, one circle for the F2 those F1 exposed.
  function buildVenueView(nodes, edges, f1, f2) {
    const c = nodes.find((n) => n.tier === 0) || { user_id: 0 };
    const mk = (id, tier, extra) => Object.assign({ i: gn.length, id, tier, n: null, x: 0, y: 0, vx: 0, vy: 0, links: [], nbrs: [] }, extra);
    const gn = [];
    gn.push(mk(c.user_id, 0, { n: c }));
    const first = new Map(); // F1 -> their earliest edge from the case
    for (const e of edges) {
      if (e.from !== c.user_id) continue;
      const p = first.get(e.to);
      if (!p || parseTime(e.start) < parseTime(p.start)) first.set(e.to, e);
    }
    const hubs = new Map();
    const hubOf = new Map();
    for (const n of f1) {
      const e = first.get(n.user_id);
      const venue = e && e.channel === 'venue';
      const key = venue ? 'v' + e.venue_id : 'bt';
      let h = hubs.get(key);
      if (!h) {
        h = mk(key, 1, { hub: { label: venue ? `venue ${e.venue_id}` : 'Bluetooth', venue: venue ? e.venue_id : null, members: new Set() } });
        hubs.set(key, h);
        gn.push(h);
      }
      h.hub.members.add(n.user_id);
      hubOf.set(n.user_id, h);
    }
    const groups = new Map();
    const groupOf = new Map();
    for (const n of f2) {
      const h = hubOf.get(Array.isArray(n.exposed_by) ? n.exposed_by[0] : 0);
      if (!h) continue;
      let g = groups.get(h.id);
      if (!g) {
        g = mk('g' + h.id, 2, { group: { hub: h, count: 0, members: new Set() } });
        groups.set(h.id, g);
        gn.push(g);
      }
      g.group.count++;
      g.group.members.add(n.user_id);
      groupOf.set(n.user_id, g);
    }
    const links = [];
    const link = (s, t) => {
      const l = { s, t, venue: false, proximity: false, seconds: 0, k: links.length };
      links.push(l);
      s.links.push(l.k); t.links.push(l.k); s.nbrs.push(t.i); t.nbrs.push(s.i);
      return l;
    };
    const hubLink = new Map();
    for (const h of hubs.values()) {
      h.r = Math.min(20, NODE_R[1] + 1.4 * Math.sqrt(h.hub.members.size));
      const l = link(gn[0], h);
      if (h.hub.venue != null) l.venue = true; else l.proximity = true;
      hubLink.set(h.id, l);
    }
    const groupLink = new Map();
    for (const g of groups.values()) {
      g.r = Math.min(22, NODE_R[2] + 1.1 * Math.sqrt(g.group.count));
      groupLink.set(g.id, link(g.group.hub, g));
    }
    for (const e of edges) {
      const g = groupOf.get(e.to);
      const h = hubOf.get(e.from);
      if (!g || !h || g.group.hub !== h) continue;
      const l = groupLink.get(g.id);
      if (e.channel === 'venue') l.venue = true; else l.proximity = true;
    }
    return { nodes: gn, links, partial: false, grouped: false, venueView: true, hubs: hubs.size, f1: f1.length, f2: f2.length, total: nodes.length };
  }

  // A small deterministic PRNG (mulberry32), seeded by the case, so the same
  // query draws the same picture.
  function prng(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  // layout places the nodes: the case at the origin, F1 on a ring, each F2
  // fanned out beyond the F1 that exposed it, then a short force simulation
  // (springs along links, a radial pull to each tier's ring, and grid-based
  // collision) tidies it. Every step is O(nodes + links).
  function layout(g, seed) {
    const rand = prng(seed);
    const nodes = g.nodes;
    const f0 = nodes.filter((n) => n.tier === 0);
    const f1 = nodes.filter((n) => n.tier === 1);
    const f2 = nodes.filter((n) => n.tier === 2);
    for (const n of f0) { n.x = 0; n.y = 0; }

    // Order F1 so those who exposed the same F2 sit side by side: connected
    // groups (through shared F2) in turn, biggest first, each in BFS order.
    const parentsOf = (n) => n.nbrs.map((j) => nodes[j]).filter((m) => m.tier === n.tier - 1);
    const f1Adj = new Map(f1.map((n) => [n.i, []]));
    for (const n of f2) {
      const ps = parentsOf(n);
      for (let k = 1; k < ps.length; k++) {
        f1Adj.get(ps[k - 1].i).push(ps[k].i);
        f1Adj.get(ps[k].i).push(ps[k - 1].i);
      }
    }
    const seen = new Set();
    const groups = [];
    for (const n of f1) {
      if (seen.has(n.i)) continue;
      const grp = [];
      const queue = [n.i];
      seen.add(n.i);
      while (queue.length) {
        const i = queue.shift();
        grp.push(nodes[i]);
        for (const j of f1Adj.get(i)) if (!seen.has(j)) { seen.add(j); queue.push(j); }
      }
      groups.push(grp);
    }
    groups.sort((a, b) => b.length - a.length);
    const ring = groups.flat();

    // Each F1 gets an angular sector sized by the F2 it alone exposed.
    const own = new Map(f1.map((n) => [n.i, []]));
    const shared = [];
    for (const n of f2) {
      const ps = parentsOf(n);
      if (ps.length === 1) own.get(ps[0].i).push(n);
      else shared.push(n);
    }
    const weight = (n) => 1 + Math.sqrt(own.get(n.i).length) * 1.5;
    const totalW = ring.reduce((s, n) => s + weight(n), 0) || 1;
    const R1 = Math.max(70, ring.reduce((s, n) => s + Math.max(24, 2 * (n.r || 0) + 10), 0) / (2 * Math.PI), Math.sqrt(f2.length) * 9);
    const L2 = 34;
    const rowGap = 13;
    let acc = 0;
    for (const n of ring) {
      const w = weight(n);
      const span = (2 * Math.PI * w) / totalW;
      const mid = ((acc + w / 2) / totalW) * 2 * Math.PI - Math.PI / 2;
      acc += w;
      n.x = n.x0 = R1 * Math.cos(mid);
      n.y = n.y0 = R1 * Math.sin(mid);
      n.angle = mid;
      // fan this F1's own F2 out in rows beyond it, inside its sector
      const kids = own.get(n.i);
      let placed = 0;
      for (let row = 0; placed < kids.length; row++) {
        const r = R1 + L2 + row * rowGap;
        const cap = Math.max(1, Math.floor((Math.min(span, Math.PI) * r * 0.9) / 12));
        const inRow = Math.min(cap, kids.length - placed);
        for (let j = 0; j < inRow; j++, placed++) {
          const a = mid + (inRow === 1 ? 0 : (j / (inRow - 1) - 0.5) * Math.min(span, Math.PI) * 0.9 * (inRow / cap));
          kids[placed].x = r * Math.cos(a) + (rand() - 0.5) * 2;
          kids[placed].y = r * Math.sin(a) + (rand() - 0.5) * 2;
        }
      }
    }
    // F2 exposed by several F1: between them, beyond the ring
    for (const n of shared) {
      const ps = parentsOf(n);
      let sx = 0, sy = 0;
      for (const p of ps) { sx += Math.cos(p.angle || 0); sy += Math.sin(p.angle || 0); }
      const a = Math.atan2(sy, sx) + (rand() - 0.5) * 0.05;
      const r = R1 + L2 * (0.6 + rand() * 0.8);
      n.x = r * Math.cos(a);
      n.y = r * Math.sin(a);
    }
    // anything unplaced (no parent drawn): a random spot outside
    for (const n of nodes) {
      if (n.tier > 0 && n.x === 0 && n.y === 0) {
        const a = rand() * 2 * Math.PI;
        const r = R1 * (n.tier === 1 ? 1 : 1.3);
        n.x = r * Math.cos(a);
        n.y = r * Math.sin(a);
      }
    }

    // Force simulation: a few hundred steps of the cheap forces, on typed
    // arrays (fast and allocation-free), written back to the nodes at the end.
    const N = nodes.length;
    const X = new Float64Array(N), Y = new Float64Array(N), VX = new Float64Array(N), VY = new Float64Array(N);
    const AX = new Float64Array(N), AY = new Float64Array(N); // F1 anchors
    const T = new Int8Array(N), RAD = new Float64Array(N), MOV = new Uint8Array(N);
    for (let i = 0; i < N; i++) {
      const n = nodes[i];
      X[i] = n.x; Y[i] = n.y;
      T[i] = Math.min(n.tier, 2);
      RAD[i] = n.r || NODE_R[T[i]];
      MOV[i] = n.tier > 0 ? 1 : 0;
      AX[i] = n.x0 === undefined ? NaN : n.x0;
      AY[i] = n.y0 === undefined ? NaN : n.y0;
    }
    // springs: F1-F2 links (and any others not touching the case)
    const springLinks = g.links.filter((l) => l.s.tier > 0 && l.t.tier > 0);
    const S = springLinks.length;
    const SA = new Int32Array(S), SB = new Int32Array(S), SLEN = new Float64Array(S), SK = new Float64Array(S), SWA = new Float64Array(S);
    springLinks.forEach((l, k) => {
      // a is the lower tier; the F2 end moves more than the F1 end
      const [a, b] = l.s.tier <= l.t.tier ? [l.s, l.t] : [l.t, l.s];
      SA[k] = a.i; SB[k] = b.i;
      SLEN[k] = a.tier === b.tier ? 24 : L2;
      SK[k] = 0.25 / Math.max(1, Math.min(a.nbrs.length, b.nbrs.length));
      SWA[k] = a.tier < b.tier ? 0.15 : 0.5;
    });
    const iters = N > 1000 ? 120 : 180;
    let alpha = 1;
    const decay = Math.pow(0.002, 1 / iters);
    const pad = 2.5;
    let maxR = NODE_R[1];
    for (let i = 0; i < N; i++) if (MOV[i]) maxR = Math.max(maxR, RAD[i]);
    const cell = 2 * maxR + pad; // collision reach of the biggest movable nodes
    let size = 64;
    while (size < N * 4) size *= 2;
    const head = new Int32Array(size);
    const next = new Int32Array(N);
    const cellHash = (cx, cy) => (Math.imul(cx, 73856093) ^ Math.imul(cy, 19349663)) & (size - 1);
    const rMin2 = R1 + NODE_R[1] + NODE_R[2] + 4;
    // The steps are small functions, so the engine optimises them early.
    function pull(alpha) {
      for (let k = 0; k < S; k++) {
        const a = SA[k], b = SB[k];
        const dx = X[b] - X[a], dy = Y[b] - Y[a];
        const d = Math.sqrt(dx * dx + dy * dy) || 1e-6;
        const f = ((d - SLEN[k]) / d) * alpha * SK[k];
        const wa = SWA[k], wb = 1 - wa;
        VX[b] -= dx * f * wb; VY[b] -= dy * f * wb;
        VX[a] += dx * f * wa; VY[a] += dy * f * wa;
      }
    }
    // radial: F1 hold their ring, near their planned place (or F1 sharing
    // F2 bunch up)
    function radial(alpha) {
      for (let i = 0; i < N; i++) {
        if (T[i] !== 1) continue;
        const r = Math.sqrt(X[i] * X[i] + Y[i] * Y[i]) || 1e-6;
        const f = ((R1 - r) / r) * 0.3 * alpha;
        VX[i] += X[i] * f; VY[i] += Y[i] * f;
        if (AX[i] === AX[i]) { VX[i] += (AX[i] - X[i]) * 0.15; VY[i] += (AY[i] - Y[i]) * 0.15; }
      }
    }
    // collision, using a uniform grid (a hashed table of linked lists): only
    // people in neighbouring cells are compared, each pair once: in i's own
    // cell (j > i) or in one of the four cells "after" it
    function collide() {
      head.fill(-1);
      for (let i = 0; i < N; i++) {
        if (!MOV[i]) continue;
        const h = cellHash(Math.floor(X[i] / cell), Math.floor(Y[i] / cell));
        next[i] = head[h];
        head[h] = i;
      }
      for (let i = 0; i < N; i++) {
        if (!MOV[i]) continue;
        const cx = Math.floor(X[i] / cell), cy = Math.floor(Y[i] / cell);
        for (let c = 0; c < 5; c++) {
          const own = c === 0;
          const hx = own || c === 4 ? cx : cx + 1;
          const hy = own ? cy : c === 4 ? cy + 1 : cy + c - 2;
          for (let j = head[cellHash(hx, hy)]; j >= 0; j = next[j]) {
            if (own ? j <= i : j === i) continue;
            const min = RAD[i] + RAD[j] + pad;
            let dx = X[j] - X[i], dy = Y[j] - Y[i];
            let d2 = dx * dx + dy * dy;
            if (d2 >= min * min) continue;
            if (d2 < 1e-9) { dx = rand() - 0.5; dy = rand() - 0.5; d2 = dx * dx + dy * dy; }
            const d = Math.sqrt(d2);
            const f = ((min - d) / d) * 0.35;
            VX[i] -= dx * f; VY[i] -= dy * f;
            VX[j] += dx * f; VY[j] += dy * f;
          }
        }
      }
    }
    // move, damp, keep F2 outside the ring (the inside is for the case's own
    // links); returns how far everyone moved
    function integrate() {
      let moved = 0;
      for (let i = 0; i < N; i++) {
        if (!MOV[i]) { VX[i] = VY[i] = 0; continue; }
        X[i] += VX[i]; Y[i] += VY[i];
        moved += Math.abs(VX[i]) + Math.abs(VY[i]);
        VX[i] *= 0.55; VY[i] *= 0.55;
        if (T[i] === 2) {
          const r = Math.sqrt(X[i] * X[i] + Y[i] * Y[i]);
          if (r < rMin2) {
            if (r > 1e-6) { X[i] *= rMin2 / r; Y[i] *= rMin2 / r; } else { X[i] = rMin2; }
          }
        }
      }
      return moved;
    }
    for (let it = 0; it < iters; it++) {
      pull(alpha);
      radial(alpha);
      collide();
      const moved = integrate();
      alpha *= decay;
      if (it > 40 && moved < N * 0.05) break; // settled
    }
    for (let i = 0; i < N; i++) { nodes[i].x = X[i]; nodes[i].y = Y[i]; }
  }

  // graph view state: the drawn graph and its viewBox
  const gv = { g: null, vb: null, full: null, tight: null, hover: -1 };

  function renderGraph(data, nodes, edges, emptyText) {
    $('graph-placeholder').hidden = true;
    const svg = $('graph');
    hideTooltip();
    const g = buildGraph(nodes, edges);
    const note = $('graph-note');
    if (g.venueView) {
      note.textContent = `${fmtNum(g.f1)} F1 and ${fmtNum(g.f2)} F2 are drawn by where the case exposed them: one circle per venue ` +
        `(${fmtNum(g.hubs)}, Bluetooth counted as one) sized by its F1, and beyond it one for the F2 those F1 exposed; ` +
        'click a circle to list its people. The tables below list everyone. (Xem theo địa điểm.)';
      note.hidden = false;
    } else if (g.grouped) {
      note.textContent = `${fmtNum(g.f2)} F2 are drawn as ${fmtNum(g.groups)} groups, one per F1 who exposed them (the first listed when several did), ` +
        'sized by their people; click a group to list them. The tables below list everyone. (F2 được gộp theo F1.)';
      note.hidden = false;
    } else if (g.partial) {
      const nf1 = g.nodes.filter((n) => n.tier === 1).length;
      note.textContent = `${fmtNum(g.total)} people are too many to draw: the graph shows the case and its ${fmtNum(nf1)} F1 only; ` +
        `all ${fmtNum(g.total - g.nodes.length)} F2 are in the table below. (Chỉ hiển thị F0 và F1.)`;
      note.hidden = false;
    } else {
      note.hidden = true;
    }
    const t0 = performance.now();
    layout(g, Number(data.case) || 1);
    const layoutMS = performance.now() - t0;
    gv.g = g;

    const edgeG = svgEl('g', { class: 'edges' });
    for (const l of g.links) {
      const cls = (l.venue && l.proximity ? 'e-both' : l.venue ? 'e-venue' : 'e-proximity') + (l.s.tier === 0 || l.t.tier === 0 ? ' e0' : '');
      const line = svgEl('line', { x1: r2(l.s.x), y1: r2(l.s.y), x2: r2(l.t.x), y2: r2(l.t.y), class: cls });
      l.el = line;
      edgeG.append(line);
    }
    const nodeG = svgEl('g', { class: 'nodes' });
    // draw F2 first, then F1, then the case on top
    const order = g.nodes.slice().sort((a, b) => b.tier - a.tier);
    for (const n of order) {
      const c = svgEl('circle', { cx: r2(n.x), cy: r2(n.y), r: n.r || NODE_R[Math.min(n.tier, 2)], class: 'n n' + n.tier + (n.group ? ' grp' : '') + (n.hub ? ' hub' : ''), 'data-i': n.i });
      n.el = c;
      nodeG.append(c);
    }
    // Fit the drawing to the box; from the scale, size the labels to read
    // about 10 px on screen and the edges' opacity to their number.
    const empty = g.nodes.length <= 1;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const n of g.nodes) {
      x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y); x1 = Math.max(x1, n.x); y1 = Math.max(y1, n.y);
    }
    if (empty) { x0 = -220; x1 = 220; y0 = -60; y1 = 60; }
    const m = 24;
    const full = { x: x0 - m, y: y0 - m, w: x1 - x0 + 2 * m, h: y1 - y0 + 2 * m };
    // Small graphs are not blown up: at most 1.67 px per unit.
    const pw = svg.clientWidth || 900, ph = svg.clientHeight || 600;
    const upp = Math.max(full.w / pw, full.h / ph, 0.6); // units per pixel
    gv.tight = full;
    gv.full = { x: full.x + full.w / 2 - (pw * upp) / 2, y: full.y + full.h / 2 - (ph * upp) / 2, w: pw * upp, h: ph * upp };
    const fs1 = 10 * upp;
    const fs0 = 14 * upp;
    // the case stays visible however large the graph
    const f0el = g.nodes.find((n) => n.tier === 0);
    if (f0el && f0el.el) f0el.el.setAttribute('r', r2(Math.max(NODE_R[0], 8 * upp)));
    svg.style.setProperty('--edge-opacity', String(r2(Math.min(0.5, Math.max(0.12, 0.5 * Math.sqrt(250 / Math.max(1, g.links.length)))))));

    // Labels: the case, and those F1 whose label has room (the busiest first);
    // the rest show their id on hover.
    const labelG = svgEl('g', { class: 'labels' });
    const placed = [];
    const cands = g.nodes.filter((n) => n.tier <= 1 || n.group)
      .sort((a, b) => a.tier - b.tier || (b.r || 0) - (a.r || 0) || b.nbrs.length - a.nbrs.length);
    for (const n of cands.slice(0, 300)) {
      if (n.group) {
        const t = svgEl('text', { x: r2(n.x), y: r2(n.y + fs1 * 0.35), class: 'lbl lblg', 'text-anchor': 'middle' });
        t.textContent = String(n.group.count);
        labelG.append(t);
        continue;
      }
      const r = Math.hypot(n.x, n.y);
      const ux = r ? n.x / r : 0, uy = r ? n.y / r : 1;
      const fs = n.tier === 0 ? fs0 : fs1;
      const off = (n.r || NODE_R[1]) + 2 + fs * 0.3;
      // F1 labels sit just inside the ring, towards the case, away from F2
      const a = n.tier === 0
        ? { x: 0, y: r2(-Math.max(NODE_R[0], 8 * upp) - fs * 0.4), class: 'lbl lbl0', 'text-anchor': 'middle' }
        : { x: r2(n.x - ux * off), y: r2(n.y - uy * off + fs * 0.35), class: 'lbl lbl1', 'text-anchor': ux > 0.3 ? 'end' : ux < -0.3 ? 'start' : 'middle' };
      const text = n.tier === 0 ? `F0 ${n.id}` : n.hub ? `${n.hub.label} · ${n.hub.members.size} F1` : String(n.id);
      const w = text.length * fs * 0.64, h = fs;
      const bx = a['text-anchor'] === 'end' ? a.x - w : a['text-anchor'] === 'start' ? a.x : a.x - w / 2;
      const box = { x0: bx, x1: bx + w, y0: a.y - h * 0.85, y1: a.y + h * 0.15 };
      if (placed.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1)) continue;
      placed.push(box);
      const t = svgEl('text', a);
      t.textContent = text;
      labelG.append(t);
    }
    const children = [edgeG, nodeG, labelG];
    if (empty) {
      const t = svgEl('text', { x: 0, y: r2(NODE_R[0] + 30 * upp), class: 'lbl empty-lbl', 'text-anchor': 'middle' });
      t.textContent = emptyText;
      children.push(t);
    }
    svg.replaceChildren(...children);
    svg.setAttribute('aria-label', `Exposure graph of case ${data.case}: ${g.nodes.length} people drawn, layout ${layoutMS.toFixed(0)} ms`);
    setViewBox(Object.assign({}, gv.full));
  }

  const r2 = (v) => Math.round(v * 100) / 100;

  // setViewBox shows the part vb of the drawing; labels keep their size on
  // screen (about 10 px) whatever the zoom.
  function setViewBox(vb) {
    gv.vb = vb;
    const svg = $('graph');
    svg.setAttribute('viewBox', `${r2(vb.x)} ${r2(vb.y)} ${r2(vb.w)} ${r2(vb.h)}`);
    const upp = Math.max(vb.w / (svg.clientWidth || 900), vb.h / (svg.clientHeight || 600));
    svg.style.setProperty('--lbl1', r2(10 * upp) + 'px');
    svg.style.setProperty('--lbl0', r2(14 * upp) + 'px');
  }

  // svgPoint converts a client position to graph coordinates (the viewBox is
  // shown with preserveAspectRatio xMidYMid meet).
  function svgPoint(clientX, clientY) {
    const svg = $('graph');
    const ctm = svg.getScreenCTM();
    if (!ctm) return { x: 0, y: 0 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return { x: p.x, y: p.y };
  }

  function zoomAt(px, py, factor) {
    const vb = gv.vb;
    if (!vb) return;
    const w = Math.min(Math.max(vb.w * factor, gv.full.w / 40), gv.full.w * 4);
    const f = w / vb.w;
    setViewBox({ x: px - (px - vb.x) * f, y: py - (py - vb.y) * f, w: vb.w * f, h: vb.h * f });
  }

  function nodeAt(target) {
    if (!(target instanceof Element) || !target.classList.contains('n')) return null;
    const i = Number(target.getAttribute('data-i'));
    return gv.g && gv.g.nodes[i] ? gv.g.nodes[i] : null;
  }

  function highlight(n) {
    const svg = $('graph');
    if (gv.hover >= 0 && gv.g) {
      const old = gv.g.nodes[gv.hover];
      if (old) {
        old.el.classList.remove('hl');
        for (const k of old.links) gv.g.links[k].el.classList.remove('hl');
        for (const j of old.nbrs) gv.g.nodes[j].el.classList.remove('hl');
      }
    }
    gv.hover = n ? n.i : -1;
    svg.classList.toggle('dim', !!n);
    if (!n) return;
    n.el.classList.add('hl');
    for (const k of n.links) gv.g.links[k].el.classList.add('hl');
    for (const j of n.nbrs) gv.g.nodes[j].el.classList.add('hl');
  }

  function showTooltip(n, clientX, clientY) {
    const tip = $('tooltip');
    const d = n.n;
    const tierName = ['Case (Ca bệnh F0)', 'Close contact (F1)', 'Contact of F1 (F2)'][n.tier] || 'F' + n.tier;
    const rows = [el('div', { class: 'tt-head' }, el('span', { class: 'tier t' + n.tier, text: 'F' + n.tier }), ' ', el('b', {}, String(n.id)), ' · ', tierName)];
    if (n.hub) {
      rows[0] = el('div', { class: 'tt-head' }, el('span', { class: 'tier t1', text: 'F1' }), ' ', el('b', {}, fmtNum(n.hub.members.size)),
        n.hub.venue != null ? ` people the case exposed at venue ${n.hub.venue}` : ' people the case met by Bluetooth');
      rows.push(el('div', { class: 'tt-hint', text: 'Click to list them in the F1 table (bấm để xem danh sách)' }));
    } else if (n.group && n.group.hub) {
      rows[0] = el('div', { class: 'tt-head' }, el('span', { class: 'tier t2', text: 'F2' }), ' ', el('b', {}, fmtNum(n.group.count)),
        ` people exposed by the F1 of ${n.group.hub.hub.label}`);
      rows.push(el('div', { class: 'tt-hint', text: 'Click to list them in the F2 table (bấm để xem danh sách)' }));
    } else if (n.group) {
      rows[0] = el('div', { class: 'tt-head' }, el('span', { class: 'tier t2', text: 'F2' }), ' ', el('b', {}, fmtNum(n.group.count)), ` people exposed by F1 ${n.group.of}`);
      rows.push(el('div', { class: 'tt-hint', text: 'Click to list them in the F2 table (bấm để xem danh sách)' }));
    } else if (n.tier > 0) {
      rows.push(
        el('div', {}, 'First exposure: ', el('b', {}, fmtTime(parseTime(d.first_exposure), true))),
        el('div', {}, 'Last exposure: ', el('b', {}, fmtTime(parseTime(d.last_exposure), true))),
        el('div', {}, 'Exposure: ', el('b', {}, `${fmtMinutes(d.exposure_seconds)} min`)),
        el('div', {}, 'Channels: ', channelCell(d.channels)),
      );
      const by = Array.isArray(d.exposed_by) ? d.exposed_by : [];
      if (by.length) rows.push(el('div', {}, 'Exposed by: ', by.slice(0, 8).join(', ') + (by.length > 8 ? ` +${by.length - 8}` : '')));
      rows.push(el('div', { class: 'tt-hint', text: 'Click to trace this person (bấm để truy vết)' }));
    } else {
      rows.push(el('div', {}, `${fmtNum(n.nbrs.length)} close contacts drawn`));
    }
    tip.replaceChildren(...rows);
    tip.hidden = false;
    const wrap = $('graph-wrap').getBoundingClientRect();
    let x = clientX - wrap.left + 14;
    let y = clientY - wrap.top + 14;
    const tw = tip.offsetWidth, th = tip.offsetHeight;
    if (x + tw > wrap.width - 4) x = clientX - wrap.left - tw - 14;
    if (y + th > wrap.height - 4) y = clientY - wrap.top - th - 14;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  }

  function hideTooltip() {
    $('tooltip').hidden = true;
  }

  function setupGraphInteraction() {
    const svg = $('graph');
    let drag = null;
    svg.addEventListener('pointerover', (e) => {
      if (drag && drag.moved) return;
      const n = nodeAt(e.target);
      if (n) { highlight(n); showTooltip(n, e.clientX, e.clientY); }
    });
    svg.addEventListener('pointerout', (e) => {
      if (nodeAt(e.target)) { highlight(null); hideTooltip(); }
    });
    svg.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || !gv.vb) return;
      drag = { x: e.clientX, y: e.clientY, vb: Object.assign({}, gv.vb), target: e.target, moved: false, id: e.pointerId };
    });
    svg.addEventListener('pointermove', (e) => {
      if (!drag) {
        const n = nodeAt(e.target);
        if (n) showTooltip(n, e.clientX, e.clientY);
        return;
      }
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) {
        drag.moved = true;
        svg.setPointerCapture(drag.id);
        svg.classList.add('panning');
        highlight(null);
        hideTooltip();
      }
      const rect = svg.getBoundingClientRect();
      const scale = Math.max(drag.vb.w / rect.width, drag.vb.h / rect.height);
      setViewBox({ x: drag.vb.x - dx * scale, y: drag.vb.y - dy * scale, w: drag.vb.w, h: drag.vb.h });
    });
    const end = (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      svg.classList.remove('panning');
      if (d.moved || e.type !== 'pointerup') return;
      const n = nodeAt(d.target);
      if (n && n.hub && view.f1) {
        hideTooltip();
        const m = n.hub.members;
        view.f1.setFilter(`${n.hub.label} (${m.size} F1)`, (r) => m.has(r.user_id));
        $('f1-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
      } else if (n && n.group && n.group.hub && view.f2) {
        hideTooltip();
        const m = n.group.members;
        view.f2.setFilter(`exposed through ${n.group.hub.hub.label} (${m.size} F2)`, (r) => m.has(r.user_id));
        $('f2-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
      } else if (n && n.group && view.f2) {
        hideTooltip();
        view.f2.setFilter('by:' + n.group.of);
        $('f2-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
      } else if (n && n.tier > 0) {
        hideTooltip();
        location.hash = traceHref(n.id);
      }
    };
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
    // Ctrl/⌘ + wheel (and trackpad pinch) zooms; a plain wheel scrolls the page.
    svg.addEventListener('wheel', (e) => {
      if (!(e.ctrlKey || e.metaKey) || !gv.vb) return;
      e.preventDefault();
      const p = svgPoint(e.clientX, e.clientY);
      zoomAt(p.x, p.y, Math.exp(Math.max(-60, Math.min(60, e.deltaY)) * 0.005));
    }, { passive: false });
    const center = () => ({ x: gv.vb.x + gv.vb.w / 2, y: gv.vb.y + gv.vb.h / 2 });
    $('g-fit').addEventListener('click', () => gv.full && setViewBox(Object.assign({}, gv.full)));
    $('g-zoom-in').addEventListener('click', () => { if (gv.vb) { const c = center(); zoomAt(c.x, c.y, 1 / 1.5); } });
    $('g-zoom-out').addEventListener('click', () => { if (gv.vb) { const c = center(); zoomAt(c.x, c.y, 1.5); } });
  }

  // ---------- status panel

  let statusTimer = 0;
  let statusPolls = 0;

  async function pollStatus() {
    clearTimeout(statusTimer);
    if (document.hidden) return; // resumed by visibilitychange
    try {
      const s = await apiFetch('/v1/status');
      renderStatus(s);
    } catch (e) {
      renderStatusError(e.message);
    }
    statusPolls++;
    if (statusPolls % AUDIT_EVERY === 0) refreshAudit();
    statusTimer = setTimeout(pollStatus, STATUS_EVERY_MS);
  }

  function renderStatus(s) {
    const lag = s.lag && typeof s.lag.records === 'number' ? s.lag.records : NaN;
    const stored = s.stored || {};
    const days = Array.isArray(stored.days) ? stored.days.slice().sort() : [];
    const lagCls = !isFinite(lag) ? '' : lag === 0 ? 'ok' : lag < 100000 ? 'warn' : 'bad';
    const item = (label, value, cls, title) => [el('dt', {}, label), el('dd', { class: cls || null, title: title || null }, value)];
    let daysText = 'none';
    if (days.length) {
      daysText = days[0] + (days.length > 1 ? ' → ' + days[days.length - 1] : '');
      const span = Math.round((Date.parse(days[days.length - 1]) - Date.parse(days[0])) / 86400000) + 1;
      if (isFinite(span) && span > days.length) daysText += ` (${span - days.length} missing)`;
    }
    const lay = s.layout && typeof s.layout === 'object' ? s.layout : {};
    $('status-body').replaceChildren(el('dl', { class: 'stats' },
      item('Mode', s.mode || '—'),
      item('Accepted (Đã nhận)', fmtNum(s.accepted)),
      item('Processed (Đã xử lý)', fmtNum(s.processed)),
      item('Rejected (Bị từ chối)', fmtNum(s.rejected), s.rejected > 0 ? 'warn' : ''),
      item('Dead-lettered', fmtNum(s.dead_lettered), s.dead_lettered > 0 ? 'warn' : ''),
      item('Lag (records)', fmtNum(lag), lagCls),
      item('Stored visits', fmtNum(stored.visits)),
      item('Stored encounters', fmtNum(stored.encounters)),
      item(`Days (Ngày) · ${days.length}`, daysText, 'days', days.join(', ')),
      item('Bucket / dwell', lay.bucket_seconds ? `${fmtDuration(lay.bucket_seconds)} / ${fmtDuration(lay.dwell_seconds)}` : '—'),
      item('Uptime', fmtDuration(s.uptime_seconds)),
    ));
    $('status-time').textContent = 'updated ' + fmtTime(Date.now(), true).slice(11);
    const pill = $('status-pill');
    pill.className = 'pill ' + (lagCls || 'ok');
    pill.textContent = `● ${s.mode || 'up'} · lag ${fmtNum(lag)} · ${fmtNum(stored.visits)} visits`;
  }

  function renderStatusError(msg) {
    $('status-body').replaceChildren(el('p', { class: 'error-inline', text: 'Status unavailable: ' + msg }));
    $('status-time').textContent = 'failed ' + fmtTime(Date.now(), true).slice(11);
    const pill = $('status-pill');
    pill.className = 'pill bad';
    pill.textContent = '● status unavailable';
  }

  // ---------- recent lookups

  let auditCtl = null;

  async function refreshAudit() {
    if (auditCtl) auditCtl.abort();
    const ctl = new AbortController();
    auditCtl = ctl;
    try {
      const a = await apiFetch('/v1/audit?limit=20', { signal: ctl.signal });
      renderAudit(Array.isArray(a.entries) ? a.entries : []);
    } catch (e) {
      if (e.name === 'AbortError') return;
      $('audit-body').replaceChildren(el('p', { class: 'error-inline', text: 'Audit unavailable: ' + e.message }));
    } finally {
      if (auditCtl === ctl) auditCtl = null;
    }
  }

  function renderAudit(entries) {
    if (!entries.length) {
      $('audit-body').replaceChildren(el('p', { class: 'empty', text: 'No lookups yet (chưa có tra cứu).' }));
      return;
    }
    const today = fmtTime(Date.now()).slice(0, 10);
    const rows = entries.map((e) => {
      const t = parseTime(e.time);
      const ts = fmtTime(t);
      const when = ts.slice(0, 10) === today ? ts.slice(11) : ts.slice(0, 5) + ts.slice(10); // dd/mm hh:mm
      const ok = e.status >= 200 && e.status < 300;
      const win = `${fmtTime(parseTime(e.from))} → ${fmtTime(parseTime(e.to))}, ≥ ${e.min_minutes} min${e.format === 'csv' ? ', CSV' : ''}`;
      const q = { case: String(e.case), from: isFinite(parseTime(e.from)) ? toRFC3339(parseTime(e.from)) : '', to: isFinite(parseTime(e.to)) ? toRFC3339(parseTime(e.to)) : '', depth: String(e.depth || 1), min: e.min_minutes != null ? String(e.min_minutes) : '15' };
      return el('tr', { title: `${fmtTime(t, true)} · ${win}${e.remote ? ' · ' + e.remote : ''}` },
        el('td', { class: 'nowrap' }, when),
        el('td', { class: 'who' }, (e.account && e.account.name) || e.requester || el('span', { class: 'muted', text: '—' })),
        el('td', { class: 'num' }, el('a', { href: hashFor(q), class: 'id', title: 'Run this lookup again' }, String(e.case))),
        el('td', { class: 'num' }, e.depth ? String(e.depth) : '–'),
        el('td', { class: 'num', title: ok ? fmtNum(e.f1) : null }, ok ? fmtCompact(e.f1) : ''),
        el('td', { class: 'num', title: ok ? fmtNum(e.f2) : null }, ok ? fmtCompact(e.f2) : ''),
        el('td', { class: 'num' }, el('span', { class: ok ? 'code ok' : 'code bad', text: String(e.status) })));
    });
    // Fixed column widths (style.css, table.audit col): the panel is narrow,
    // and a long team name or a large count must not push the last columns
    // out of it.
    $('audit-body').replaceChildren(el('table', { class: 'compact audit' },
      el('colgroup', {}, [0, 1, 2, 3, 4, 5, 6].map(() => el('col'))),
      el('thead', {}, el('tr', {}, [['Time'], ['Who', 'X-Requested-By'], ['Case'], ['D', 'Depth'], ['F1'], ['F2'], ['HTTP', 'Answer status']]
        .map(([h, title], i) => el('th', { class: i >= 2 ? 'num' : null, scope: 'col', title }, h)))),
      el('tbody', {}, rows)));
  }

  // ---------- CSV download (fetched so the audited request carries X-Requested-By)

  async function downloadCSV(ev) {
    if (!lastQuery) return;
    ev.preventDefault();
    const link = $('csv-link');
    link.classList.add('busy');
    try {
      const res = await apiFetch(apiURL(lastQuery, true), { accept: 'text/csv', audited: true, blob: true });
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: `contacts-${lastQuery.case}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      showError('CSV download failed: ' + e.message);
    } finally {
      link.classList.remove('busy');
      refreshAudit();
    }
  }

  // ---------- start

  function init() {
    const who = $('f-who');
    try { who.value = localStorage.getItem(WHO_KEY) || ''; } catch (_) { /* storage disabled */ }
    try { $('f-purpose').value = sessionStorage.getItem(PURPOSE_KEY) || ''; } catch (_) { /* storage disabled */ }
    who.addEventListener('change', () => {
      try { localStorage.setItem(WHO_KEY, who.value.trim()); } catch (_) { /* storage disabled */ }
    });

    $('query-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const r = formQuery();
      if (r.error) {
        showError(r.error);
        $(r.field).focus();
        return;
      }
      try { localStorage.setItem(WHO_KEY, who.value.trim()); } catch (_) { /* storage disabled */ }
      const h = hashFor(r.q);
      if (location.hash === h) run(r.q);
      else location.hash = h; // hashchange runs it
    });
    window.addEventListener('hashchange', runFromHash);
    $('csv-link').addEventListener('click', downloadCSV);
    $('audit-refresh').addEventListener('click', refreshAudit);
    setupGraphInteraction();
    document.addEventListener('visibilitychange', () => { if (!document.hidden) pollStatus(); });
    // Print everything, not only the first rows of long tables, and the whole graph tightly.
    let screenVB = null;
    window.addEventListener('beforeprint', () => {
      view.tables.forEach((t) => t.expand());
      if (gv.tight) { screenVB = gv.vb; setViewBox(Object.assign({}, gv.tight)); }
    });
    window.addEventListener('afterprint', () => { if (screenVB && gv.g) setViewBox(screenVB); screenVB = null; });

    loadDefinitions();
    if (readHash()) runFromHash();
    else fillDefaultWindow();
    pollStatus();
    refreshAudit();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
