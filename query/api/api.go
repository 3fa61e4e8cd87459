// Package api serves the query side of truyvet over HTTP:
//
//	GET /v1/cases/{user_id}/exposures?from=&to=&depth=1|2&min_minutes=15
//	GET /v1/audit?limit=100
//
// Exposures answer JSON (nodes, edges, venues, stats) or, with
// Accept: text/csv (or format=csv), the contact list for field teams. Every
// lookup is written to the audit trail before its answer is sent.
//
// Metrics (see NewMetrics):
//
//	truyvet_query_requests_total{endpoint,code}      requests answered
//	truyvet_query_duration_seconds{depth}            exposure graph latency
//	truyvet_query_stage_duration_seconds{stage}      time per engine stage
//	truyvet_query_candidates{tier}                   candidates refined per query (histogram)
//	truyvet_query_result_nodes{tier}                 people found per query (histogram)
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/graph"
)

// Config bounds queries.
type Config struct {
	Timeout         time.Duration // longest a lookup may run
	DefaultLookback time.Duration // window length when from is not given
	MaxWindow       time.Duration // longest window
	DefaultDepth    int
	DefaultMinutes  float64
}

// DefaultConfig returns a 30 s timeout, a 14-day default window and a 60-day maximum.
func DefaultConfig() Config {
	return Config{
		Timeout:         30 * time.Second,
		DefaultLookback: 14 * 24 * time.Hour,
		MaxWindow:       60 * 24 * time.Hour,
		DefaultDepth:    1,
		DefaultMinutes:  15,
	}
}

// API serves queries.
type API struct {
	cfg     Config
	engine  *graph.Engine
	auditor audit.Trail
	now     func() time.Time
	m       *Metrics
	log     *slog.Logger
}

// New returns the query API over engine, auditing to auditor.
func New(cfg Config, engine *graph.Engine, auditor audit.Trail, m *Metrics, log *slog.Logger, now func() time.Time) *API {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, engine: engine, auditor: auditor, now: now, m: m, log: log.With("component", "query")}
}

// Register adds the query routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/cases/{user_id}/exposures", a.exposures)
	mux.HandleFunc("GET /v1/audit", a.recentAudit)
}

// Errors for bad requests; each names the parameter at fault.
var (
	ErrBadParam = errors.New("invalid parameter")
)

func badParam(name, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrBadParam, name, fmt.Sprintf(format, args...))
}

// parseQuery reads and checks an exposure request.
func (a *API) parseQuery(r *http.Request) (graph.Query, float64, error) {
	q := graph.Query{Depth: a.cfg.DefaultDepth}
	id, err := strconv.ParseUint(r.PathValue("user_id"), 10, 32)
	if err != nil || id == 0 {
		return q, 0, badParam("user_id", "must be an integer between 1 and %d", uint32(math.MaxUint32))
	}
	q.Case = uint32(id)
	v := r.URL.Query()
	to := a.now()
	if s := v.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return q, 0, badParam("to", "not an RFC 3339 time: %q", s)
		}
	}
	from := to.Add(-a.cfg.DefaultLookback)
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
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(mt, "text/csv") {
			return true
		}
	}
	return false
}

func (a *API) exposures(w http.ResponseWriter, r *http.Request) {
	t0 := a.now()
	start := time.Now()
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("exposures", strconv.Itoa(code)).Inc() }()
	q, minutes, err := a.parseQuery(r)
	if err != nil {
		code = writeError(w, err)
		return
	}
	format := "json"
	if wantsCSV(r) {
		format = "csv"
		q.ContactsOnly = true // the list names people and venues, not episodes
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	res, err := a.engine.Exposures(ctx, q)
	entry := audit.Entry{
		Time: t0, Requester: r.Header.Get("X-Requested-By"), Remote: r.RemoteAddr, Case: q.Case,
		From: time.Unix(q.Window.From, 0).In(Local), To: time.Unix(q.Window.To, 0).In(Local),
		Depth: q.Depth, MinMinutes: minutes, Format: format,
	}
	if err != nil {
		// A failed lookup is audited too; when the trail cannot take the
		// entry either (the store is down), the lookup is refused all the
		// same and the log keeps the record.
		code = statusOf(err)
		entry.Status = code
		aerr := a.record(r.Context(), entry)
		a.log.Error("exposure query failed", "case", q.Case, "depth", q.Depth, "audited", aerr == nil, "err", err)
		writeError(w, err)
		return
	}
	elapsed := time.Since(start)
	a.m.observe(res, elapsed)
	for _, n := range res.Nodes {
		switch n.Tier {
		case 1:
			entry.F1++
		case 2:
			entry.F2++
		}
	}
	entry.Status = code
	if err := a.record(r.Context(), entry); err != nil {
		a.log.Error("exposure lookup refused: the audit trail cannot be written", "case", q.Case, "err", err)
		code = writeError(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="contacts-%d.csv"`, q.Case))
		_ = WriteCSV(w, res)
		return
	}
	writeJSON(w, http.StatusOK, NewGraphJSON(res, minutes, elapsed))
}

// record writes the audit entry; a lookup that cannot be audited is not answered.
func (a *API) record(ctx context.Context, e audit.Entry) error {
	a.log.Info("exposure lookup", "case", e.Case, "requester", e.Requester, "remote", e.Remote,
		"depth", e.Depth, "f1", e.F1, "f2", e.F2, "status", e.Status)
	if a.auditor == nil {
		return nil
	}
	if err := a.auditor.Audit(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("%w: %w", errAudit, err)
	}
	return nil
}

var errAudit = errors.New("cannot write the audit trail")

func (a *API) recentAudit(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("audit", strconv.Itoa(code)).Inc() }()
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			code = writeError(w, badParam("limit", "must be between 1 and 10000"))
			return
		}
		limit = n
	}
	if a.auditor == nil {
		writeJSON(w, code, map[string]any{"entries": []audit.Entry{}})
		return
	}
	entries, err := a.auditor.RecentAudit(r.Context(), limit)
	if err != nil {
		a.log.Error("reading the audit trail failed", "err", err)
		code = writeError(w, err)
		return
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	writeJSON(w, code, map[string]any{"entries": entries})
}

// statusOf is the one error-to-status mapping of the query API.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadParam), errors.Is(err, graph.ErrDepth):
		return http.StatusBadRequest
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
		msg = "internal error"
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
	writeJSON(w, code, map[string]string{"error": msg})
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
