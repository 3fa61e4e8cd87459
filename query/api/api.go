// Package api serves the query side of truyvet over HTTP:
//
//	GET  /v1/cases/{user_id}/exposures?purpose=&from=&to=&depth=1|2&min_minutes=15&definition=name[@version]
//	GET  /v1/cases/{user_id}/exposures/diff?purpose=&a=&b=&…  people added and removed between two definitions
//	GET  /v1/definitions, POST /v1/definitions  contact definitions (a POST adds a version)
//	POST /v1/cases, GET /v1/cases/{id}          the registry of confirmed cases
//	GET  /v1/audit?limit=&case=&account=&requester=&since=
//	GET  /v1/declarations?subject_id=&purpose=&from=&to=  a person's health declarations (audited)
//	GET  /v1/declarations/summary?province=&from=&to=     declarations per local day, by kind and symptomatic
//
// Exposures answer JSON (nodes, edges, venues, stats) or, with
// Accept: text/csv (or format=csv), the contact list for field teams. Every
// lookup, answered or refused, is written to the audit trail (a 200 before
// its answer is sent), naming the account the access guard let through.
// Who may call what is the guard's business (package access), not theirs.
//
// Metrics (see NewMetrics):
//
//	truyvet_query_requests_total{endpoint,code}      requests answered
//	truyvet_query_duration_seconds{depth}            exposure graph latency
//	truyvet_query_stage_duration_seconds{stage}      time per engine stage
//	truyvet_query_candidates{tier}                   candidates refined per query (histogram)
//	truyvet_query_result_nodes{tier}                 people found per query (histogram; tier 1, 2, casual)
//	truyvet_query_declaration_summary_duration_seconds  time to answer GET /v1/declarations/summary
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/definition"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

// Config bounds queries.
type Config struct {
	Timeout         time.Duration // longest a lookup may run
	DefaultLookback time.Duration // window length when from is not given
	MaxWindow       time.Duration // longest window
	DefaultDepth    int
	DefaultMinutes  float64
	// ClockSkew is how far past the server's clock a time may lie: a
	// case's confirmation, or the end of a lookup's window (the allowance
	// ingest grants records: no record can lie later).
	ClockSkew time.Duration
	// SummaryCache is how long GET /v1/declarations/summary reuses the
	// counts it read for the same province and days (0: never).
	SummaryCache time.Duration
}

// DefaultConfig returns a 30 s timeout, a 14-day default window and a 60-day maximum.
func DefaultConfig() Config {
	return Config{
		Timeout:         30 * time.Second,
		DefaultLookback: 14 * 24 * time.Hour,
		MaxWindow:       60 * 24 * time.Hour,
		DefaultDepth:    1,
		DefaultMinutes:  15,
		ClockSkew:       5 * time.Minute,
		SummaryCache:    5 * time.Second,
	}
}

// Venues names the venues of answers; venue.Registry is one.
type Venues interface {
	Venue(ctx context.Context, id uint32) (venue.Venue, error)
}

// Option configures an API.
type Option func(*API)

// WithVenues names exposure sites (name, kind, province) from vs.
func WithVenues(vs Venues) Option { return func(a *API) { a.venues = vs } }

// API serves queries.
type API struct {
	venues    Venues        // nil: sites by id only
	decls     declapi.Store // nil: no declarations joined or served
	summaries summaryCache
	cfg       Config
	engine    *graph.Engine
	auditor   audit.Log
	cases     cases.Registry
	defs      *definitions.Catalog
	pl        *province.List
	now       func() time.Time
	m         *Metrics
	log       *slog.Logger
}

// New returns the query API over engine, auditing to auditor, with the
// case registry reg and the contact definitions of defs (nil: the shipped
// ones only).
func New(cfg Config, engine *graph.Engine, auditor audit.Log, reg cases.Registry, defs *definitions.Catalog, m *Metrics, log *slog.Logger, now func() time.Time, opts ...Option) *API {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if defs == nil {
		defs = definitions.New(nil)
	}
	a := &API{cfg: cfg, engine: engine, auditor: auditor, cases: reg, defs: defs, pl: province.Default(), now: now, m: m, log: log.With("component", "query")}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Register adds the query routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/cases/{user_id}/exposures", a.exposures)
	mux.HandleFunc("POST /v1/cases", a.registerCase)
	mux.HandleFunc("GET /v1/cases/{user_id}", a.getCase)
	mux.HandleFunc("GET /v1/cases/{user_id}/exposures/diff", a.diff)
	mux.HandleFunc("GET /v1/definitions", a.listDefinitions)
	mux.HandleFunc("POST /v1/definitions", a.addDefinition)
	mux.HandleFunc("GET /v1/audit", a.recentAudit)
	if a.decls != nil {
		mux.HandleFunc("GET /v1/declarations", a.listDeclarations)
		mux.HandleFunc("GET /v1/declarations/summary", a.declarationSummary)
	}
}

// Errors for bad requests; each names the parameter at fault.
var (
	ErrBadParam = errors.New("invalid parameter")
)

func badParam(name, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrBadParam, name, fmt.Sprintf(format, args...))
}

// Purpose bounds, in characters.
const (
	MinPurpose = 3
	MaxPurpose = 200
)

func caseID(r *http.Request) (uint32, error) {
	id, err := strconv.ParseUint(r.PathValue("user_id"), 10, 32)
	if err != nil || id == 0 {
		return 0, badParam("user_id", "must be an integer between 1 and %d", uint32(math.MaxUint32))
	}
	return uint32(id), nil
}

// parseQuery reads and checks an exposure request. A registered case's
// window defaults to its infectious window.
func (a *API) parseQuery(r *http.Request) (graph.Query, float64, error) {
	q := graph.Query{Depth: a.cfg.DefaultDepth}
	id, err := caseID(r)
	if err != nil {
		return q, 0, err
	}
	q.Case = id
	v := r.URL.Query()
	if n := utf8.RuneCountInString(strings.TrimSpace(v.Get("purpose"))); n < MinPurpose || n > MaxPurpose {
		return q, 0, badParam("purpose", "required: why you look, %d to %d characters", MinPurpose, MaxPurpose)
	}
	now := a.now()
	to := now
	var from time.Time
	registered := false
	if a.cases != nil {
		c, err := a.cases.Case(r.Context(), id)
		switch {
		case err == nil:
			from, to = c.InfectiousWindow()
			registered = true
		case !errors.Is(err, cases.ErrNotFound):
			return q, 0, fmt.Errorf("read the case registry: %w", err)
		}
	}
	if s := v.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return q, 0, badParam("to", "not an RFC 3339 time: %q", s)
		}
		if limit := now.Add(a.cfg.ClockSkew); to.After(limit) {
			return q, 0, badParam("to", "%s is in the future (the latest is now plus %s, %s)",
				s, a.cfg.ClockSkew, limit.In(Local).Format(time.RFC3339))
		}
	}
	if !registered {
		from = to.Add(-a.cfg.DefaultLookback)
	}
	if s := v.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return q, 0, badParam("from", "not an RFC 3339 time: %q", s)
		}
	}
	if !from.Before(to) {
		return q, 0, badParam("from", "must be before to")
	}
	if to.Sub(from) > a.cfg.MaxWindow {
		return q, 0, badParam("from", "window longer than %s", a.cfg.MaxWindow)
	}
	q.Window = graph.Window{From: from.Unix(), To: to.Unix()}
	if s := v.Get("depth"); s != "" {
		if q.Depth, err = strconv.Atoi(s); err != nil || q.Depth < 1 || q.Depth > 2 {
			return q, 0, badParam("depth", "must be 1 or 2")
		}
	}
	minutes := a.cfg.DefaultMinutes
	if s := v.Get("min_minutes"); s != "" {
		if minutes, err = strconv.ParseFloat(s, 64); err != nil || math.IsNaN(minutes) || minutes < 0 || minutes > 24*60 {
			return q, 0, badParam("min_minutes", "must be a number of minutes between 0 and 1440")
		}
	}
	q.MinSeconds = int64(math.Round(minutes * 60))
	return q, minutes, nil
}

func wantsCSV(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "csv"
	}
	return preferCSV(r.Header.Get("Accept"))
}

// preferCSV reports whether an Accept header ranks text/csv above
// application/json, by q-value (RFC 9110 §12.5.1): the most specific range
// that matches a type gives its q; a tie goes to JSON, the default.
func preferCSV(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return false
	}
	return acceptQ(accept, "text", "csv") > acceptQ(accept, "application", "json")
}

// acceptQ returns the q-value an Accept header gives to type/sub: that of the
// most specific media range matching it, 0 when none does.
func acceptQ(accept, typ, sub string) float64 {
	q, spec := 0.0, -1
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		t, s, _ := strings.Cut(strings.TrimSpace(mt), "/")
		level := 0
		switch {
		case strings.EqualFold(t, typ) && strings.EqualFold(s, sub):
			level = 2
		case strings.EqualFold(t, typ) && s == "*":
			level = 1
		case t == "*" && s == "*":
			level = 0
		default:
			continue
		}
		if level < spec {
			continue
		}
		pq := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
					f = 0
				}
				pq = f
			}
		}
		q, spec = pq, level
	}
	return q
}

func (a *API) exposures(w http.ResponseWriter, r *http.Request) {
	t0 := a.now()
	start := time.Now()
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("exposures", strconv.Itoa(code)).Inc() }()
	q, minutes, err := a.parseQuery(r)
	var def definition.Definition
	if err == nil {
		def, err = a.definition(r.Context(), "definition", r.URL.Query().Get("definition"))
	}
	if err != nil {
		entry := a.entry(r, audit.ActionExposures, t0)
		code = statusOf(err)
		entry.Case, entry.Status, entry.Reason = q.Case, code, err.Error()
		_ = a.record(r.Context(), entry) // refused anyway; a failed write is logged
		writeError(w, err)
		return
	}
	q.Rule = def.Rule()
	format := "json"
	if wantsCSV(r) {
		format = "csv"
		q.ContactsOnly = true // the list names people and venues, not episodes
	}
	priority, err := parseOrder(r)
	if err != nil {
		code = writeError(w, err)
		return
	}
	res, err := a.lookup(r, q, minutes, def.Ref(), format, t0)
	if err != nil {
		code = writeError(w, err)
		return
	}
	decls, err := a.nodeDeclarations(r.Context(), res)
	if err != nil {
		code = writeError(w, err)
		return
	}
	if priority {
		priorityOrder(res, decls)
	}
	elapsed := time.Since(start)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="contacts-%d.csv"`, q.Case))
		_ = WriteCSV(w, res, decls)
		return
	}
	g := NewGraphJSON(res, minutes, def.Ref(), elapsed)
	for i := range g.Nodes {
		g.Nodes[i].Declaration = decls[g.Nodes[i].UserID]
	}
	a.nameSites(r.Context(), g)
	jsonhttp.Write(w, http.StatusOK, g)
}

// lookup runs one exposure query under the definition named ref and audits
// it, answered or failed; a lookup that cannot be audited is not answered.
func (a *API) lookup(r *http.Request, q graph.Query, minutes float64, ref, format string, t0 time.Time) (*graph.Result, error) {
	start := time.Now()
	entry := a.entry(r, audit.ActionExposures, t0)
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	res, err := a.engine.Exposures(ctx, q)
	entry.Case, entry.From, entry.To = q.Case, time.Unix(q.Window.From, 0).In(Local), time.Unix(q.Window.To, 0).In(Local)
	entry.Depth, entry.MinMinutes, entry.Format, entry.Definition = q.Depth, minutes, format, ref
	if err != nil {
		// A failed lookup is audited too; when the trail cannot take the
		// entry either (the store is down), the lookup is refused all the
		// same and the log keeps the record.
		entry.Status, entry.Reason = statusOf(err), err.Error()
		aerr := a.record(r.Context(), entry)
		a.log.Error("exposure query failed", "case", q.Case, "depth", q.Depth, "definition", ref, "audited", aerr == nil, "err", err)
		return nil, err
	}
	a.m.observe(res, time.Since(start))
	for _, n := range res.Nodes {
		switch n.Tier {
		case 1:
			entry.F1++
		case 2:
			entry.F2++
		case graph.TierCasual:
			entry.Casual++
		}
	}
	entry.Status = http.StatusOK
	if err := a.record(r.Context(), entry); err != nil {
		a.log.Error("exposure lookup refused: the audit trail cannot be written", "case", q.Case, "err", err)
		return nil, err
	}
	return res, nil
}

// nameSites fills in the sites' names, kinds and provinces from the venue
// registry; a venue it does not have (or cannot read) keeps its id alone.
func (a *API) nameSites(ctx context.Context, g *GraphJSON) {
	if a.venues == nil {
		return
	}
	for i := range g.Venues {
		s := &g.Venues[i]
		if v, err := a.venues.Venue(ctx, s.VenueID); err == nil {
			s.Name, s.Kind, s.Province = v.Name, string(v.Kind), v.Province
		} else if !errors.Is(err, venue.ErrNotFound) {
			a.log.Warn("cannot name an exposure site", "venue", s.VenueID, "err", err)
		}
	}
}

// entry starts the audit entry of request r: who (the account the guard
// let through), from where, for what.
func (a *API) entry(r *http.Request, action string, t time.Time) audit.Entry {
	e := audit.Entry{Time: t, Action: action, Account: access.Actor(nil),
		Purpose: strings.TrimSpace(r.URL.Query().Get("purpose")), Requester: r.Header.Get("X-Requested-By"), Remote: r.RemoteAddr}
	if acct, ok := access.AccountFrom(r.Context()); ok {
		e.Account = access.Actor(&acct)
	}
	return e
}

// record writes the audit entry; a lookup that cannot be audited is not answered.
func (a *API) record(ctx context.Context, e audit.Entry) error {
	if a.auditor == nil {
		return nil
	}
	e, err := a.auditor.Append(context.WithoutCancel(ctx), e)
	if err != nil {
		a.log.Error("cannot write the audit trail", "action", e.Action, "case", e.Case, "err", err)
		return fmt.Errorf("%w: %w", errAudit, err)
	}
	a.log.Info("audited", "action", e.Action, "seq", e.Seq, "case", e.Case, "account", e.Account.ID,
		"depth", e.Depth, "definition", e.Definition, "f1", e.F1, "f2", e.F2, "casual", e.Casual, "status", e.Status)
	return nil
}

var errAudit = errors.New("cannot write the audit trail")

func (a *API) recentAudit(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("audit", strconv.Itoa(code)).Inc() }()
	f, err := parseFilter(r)
	if err != nil {
		code = writeError(w, err)
		return
	}
	if a.auditor == nil {
		jsonhttp.Write(w, code, map[string]any{"entries": []audit.Entry{}})
		return
	}
	entries, err := a.auditor.Entries(r.Context(), f)
	if err != nil {
		a.log.Error("reading the audit trail failed", "err", err)
		code = writeError(w, err)
		return
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	jsonhttp.Write(w, code, map[string]any{"entries": entries})
}

// parseFilter reads the query of GET /v1/audit.
func parseFilter(r *http.Request) (audit.Filter, error) {
	v := r.URL.Query()
	f := audit.Filter{Limit: 100, Account: v.Get("account"), Requester: v.Get("requester")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			return f, badParam("limit", "must be between 1 and 10000")
		}
		f.Limit = n
	}
	if s := v.Get("case"); s != "" {
		id, err := strconv.ParseUint(s, 10, 32)
		if err != nil || id == 0 {
			return f, badParam("case", "must be an integer between 1 and %d", uint32(math.MaxUint32))
		}
		f.Case = uint32(id)
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return f, badParam("since", "not an RFC 3339 time: %q", s)
		}
		f.Since = t
	}
	if len(f.Account) > audit.MaxSubject || len(f.Requester) > audit.MaxRequester {
		return f, badParam("account", "too long")
	}
	return f, nil
}

// statusOf is the one error-to-status mapping of the query API.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadParam), errors.Is(err, graph.ErrDepth):
		return http.StatusBadRequest
	case errors.As(err, new(*cases.FieldError)), errors.As(err, new(*event.ValidationError)), errors.Is(err, definitions.ErrUnknown):
		return http.StatusBadRequest
	case errors.Is(err, definitions.ErrNoStore):
		return http.StatusNotImplemented
	case errors.Is(err, cases.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, cases.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499 // client closed the request
	case errors.Is(err, graph.ErrStoreUnavailable), errors.Is(err, errAudit):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// RetryAfter is the Retry-After of a 503, in seconds.
const RetryAfter = "5"

// writeError answers err. Errors of the store or the server are logged by
// the caller; the answer says what happened without internal addresses.
func writeError(w http.ResponseWriter, err error) int {
	code := statusOf(err)
	msg := err.Error()
	switch {
	case errors.Is(err, errAudit):
		msg = errAudit.Error() + "; the lookup is not answered, retry later"
	case code == http.StatusServiceUnavailable:
		msg = "the store is unavailable; retry later"
	case code == http.StatusInternalServerError:
		msg = jsonhttp.Internal
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
	body := map[string]string{"error": msg}
	if fe := (*cases.FieldError)(nil); errors.As(err, &fe) {
		body["field"], body["reason"] = fe.Field, fe.Reason
	}
	if ve := (*event.ValidationError)(nil); errors.As(err, &ve) {
		body["field"], body["reason"] = ve.Field, string(ve.Reason)
	}
	jsonhttp.Write(w, code, body)
	return code
}
