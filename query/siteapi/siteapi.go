// Package siteapi serves exposure sites and their alerts over HTTP (DESIGN
// "Exposure sites and alerts"):
//
//	POST /v1/exposure-sites               a draft and its preview (201)
//	POST /v1/exposure-sites/{id}/approve  publish it (another account than its creator's)
//	POST /v1/exposure-sites/{id}/retract  {"reason"}: retract it
//	GET  /v1/exposure-sites/{id}          status, reach, alerts sent
//	GET  /v1/exposure-sites[?format=csv]  the public list, no personal data
//	GET  /v1/exposure-sites.geojson       the same as GeoJSON (RFC 7946)
//	GET  /v1/alerts?after=&limit=         the alert feed, in delivery order
//
// Creating, approving and retracting a site are audited (answered or
// refused). Who may call which route is the access policy's business.
package siteapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/venue"
)

// Local is Asia/Ho_Chi_Minh: times in answers are written in it.
var Local = time.FixedZone("ICT", 7*3600)

// Limits of the routes.
const (
	DefaultAlerts  = 1000
	MaxAlerts      = 10_000
	DefaultTimeout = 30 * time.Second
)

// Contacts returns the close contacts (F1) of case c over [from, to]
// (Unix seconds) under the default definition.
type Contacts func(ctx context.Context, c uint32, from, to int64) (map[uint32]bool, error)

// Venues finds registered venues; venue.Registry is one.
type Venues interface {
	Venue(ctx context.Context, id uint32) (venue.Venue, error)
}

// Deps are what the routes use.
type Deps struct {
	Store  sites.Store
	Venues Venues
	// Stays reads the reach of a draft; nil: drafts answer 501.
	Stays graph.VenueStore
	// Contacts counts already_contacts; nil: 0.
	Contacts Contacts
	// Fanout sends the alerts of a site approved or retracted; nil: the
	// sweeps of another process do.
	Fanout *sites.Fanout
	// Changed is called after a site is published or retracted, before
	// its sweep starts (all-in-one: the matcher reloads its copy).
	Changed func(ctx context.Context)
	// Audit appends an entry; nil: not audited.
	Audit   func(ctx context.Context, e audit.Entry) error
	Metrics *sites.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handler serves the routes.
type Handler struct {
	d   Deps
	log *slog.Logger
}

// New returns the handler.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Metrics == nil {
		d.Metrics = sites.NewMetrics(nil)
	}
	return &Handler{d: d, log: d.Logger.With("component", "sites")}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/exposure-sites", h.create)
	mux.HandleFunc("POST /v1/exposure-sites/{id}/approve", h.approve)
	mux.HandleFunc("POST /v1/exposure-sites/{id}/retract", h.retract)
	mux.HandleFunc("GET /v1/exposure-sites/{id}", h.get)
	mux.HandleFunc("GET /v1/exposure-sites", h.list)
	mux.HandleFunc("GET /v1/exposure-sites.geojson", h.geoJSON)
	mux.HandleFunc("GET /v1/alerts", h.alerts)
}

var (
	errNoStays = errors.New("this server keeps no stays to preview a site from")
	errAudit   = errors.New("cannot write the audit trail")
)

type problem struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// writeError is the one error-to-status mapping of the routes.
func writeError(w http.ResponseWriter, err error) int {
	p := problem{Error: err.Error()}
	code := http.StatusInternalServerError
	var fe *sites.FieldError
	var se *sites.StateError
	switch {
	case errors.As(err, &fe):
		code, p.Field, p.Reason = http.StatusBadRequest, fe.Field, fe.Reason
		if fe.Reason == sites.ReasonTooLarge && fe.Field == "body" {
			code = http.StatusRequestEntityTooLarge
		}
	case errors.Is(err, sites.ErrSamePerson):
		code, p.Reason = http.StatusForbidden, "same_person"
	case errors.As(err, &se):
		code, p.Reason = http.StatusConflict, "status_"+string(se.Status)
	case errors.Is(err, sites.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, errNoStays):
		code = http.StatusNotImplemented
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	p.Error = jsonhttp.ErrorText(code, err)
	jsonhttp.Write(w, code, p)
	return code
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(Local).Format(time.RFC3339)
}

// siteJSON is a site as its own route shows it. The route is public
// (DESIGN: GET /v1/exposure-sites* are), so it names no person: not the
// case, not the accounts that created, approved or retracted it.
type siteJSON struct {
	SiteID        uint64        `json:"site_id"`
	Status        sites.Status  `json:"status"`
	VenueID       uint32        `json:"venue_id"`
	From          string        `json:"from"`
	To            string        `json:"to"`
	Severity      string        `json:"severity"`
	Advice        string        `json:"advice"`
	Preview       sites.Preview `json:"preview"`
	RetractReason string        `json:"retract_reason,omitempty"`
	CreatedAt     string        `json:"created_at"`
	PublishedAt   string        `json:"published_at,omitempty"`
	RetractedAt   string        `json:"retracted_at,omitempty"`
	UpdatedAt     string        `json:"updated_at"`
	AlertsSent    *sentJSON     `json:"alerts_sent,omitempty"`
}

type sentJSON struct {
	Exposure   int `json:"exposure"`
	Retraction int `json:"retraction"`
}

func answer(s sites.Site) siteJSON {
	p := s.Preview
	if p.ByHour == nil {
		p.ByHour = []int{}
	}
	return siteJSON{SiteID: s.ID, Status: s.Status, VenueID: s.VenueID, From: formatTime(s.From), To: formatTime(s.To),
		Severity: string(s.Severity), Advice: s.Advice, Preview: p, RetractReason: s.RetractReason, CreatedAt: formatTime(s.CreatedAt),
		PublishedAt: formatTime(s.PublishedAt), RetractedAt: formatTime(s.RetractedAt), UpdatedAt: formatTime(s.UpdatedAt)}
}

// entry starts the audit entry of a request.
func (h *Handler) entry(r *http.Request, action string, now time.Time) audit.Entry {
	e := audit.Entry{Time: now, Action: action, Account: access.Actor(nil), Requester: r.Header.Get("X-Requested-By"), Remote: r.RemoteAddr}
	if a, ok := access.AccountFrom(r.Context()); ok {
		e.Account = access.Actor(&a)
	}
	return e
}

// record appends e; an error means the answer must not be sent.
func (h *Handler) record(ctx context.Context, e audit.Entry) error {
	if h.d.Audit == nil {
		return nil
	}
	if err := h.d.Audit(context.WithoutCancel(ctx), e); err != nil {
		h.log.Error("cannot write the audit trail", "action", e.Action, "err", err)
		return fmt.Errorf("%w: %w", errAudit, err)
	}
	return nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	now := h.d.Now()
	entry := h.entry(r, audit.ActionSiteCreate, now)
	ctx, cancel := context.WithTimeout(r.Context(), DefaultTimeout)
	defer cancel()
	fail := func(err error) {
		entry.Status = writeError(w, err)
		entry.Reason = err.Error()
		_ = h.record(ctx, entry)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, sites.MaxRequestBytes+1))
	if err != nil {
		fail(&sites.FieldError{Field: "body", Reason: sites.ReasonInvalidValue, Detail: "cannot read the body"})
		return
	}
	spec, err := sites.DecodeRequest(b)
	if err == nil {
		entry.Venue, entry.Case, entry.From, entry.To = spec.VenueID, spec.CaseID, spec.From.In(Local), spec.To.In(Local)
		err = spec.Validate(now)
	}
	if err != nil {
		fail(err)
		return
	}
	if _, err := h.d.Venues.Venue(ctx, spec.VenueID); err != nil {
		if errors.Is(err, venue.ErrNotFound) {
			err = &sites.FieldError{Field: "venue_id", Reason: sites.ReasonUnknownVenue, Detail: fmt.Sprintf("venue %d is not registered", spec.VenueID)}
		}
		fail(err)
		return
	}
	if h.d.Stays == nil {
		fail(errNoStays)
		return
	}
	from, to := spec.From.Unix(), spec.To.Unix()
	reach, err := sites.Reach(ctx, h.d.Stays, spec.VenueID, from, to)
	if err != nil {
		fail(err)
		return
	}
	preview := sites.Preview{People: len(reach), ByHour: sites.ByHour(reach, from, to)}
	if spec.CaseID != 0 && h.d.Contacts != nil {
		f1, err := h.d.Contacts(ctx, spec.CaseID, from, to)
		if err != nil {
			fail(err)
			return
		}
		for _, e := range reach {
			if f1[e.User] {
				preview.Already++
			}
		}
	}
	s, err := h.d.Store.Create(ctx, sites.Site{Spec: spec, Preview: preview, CreatedBy: entry.Account.ID, CreatedAt: now.UTC().Truncate(time.Second)})
	if err != nil {
		fail(err)
		return
	}
	entry.Subject, entry.Rows, entry.Status = siteSubject(s.ID), preview.People, http.StatusCreated
	if err := h.record(ctx, entry); err != nil {
		writeError(w, err)
		return
	}
	h.log.Info("exposure site drafted", "site", s.ID, "venue", s.VenueID, "people", preview.People)
	jsonhttp.Write(w, http.StatusCreated, map[string]any{"site_id": s.ID, "status": s.Status, "preview": answer(s).Preview})
}

func siteSubject(id uint64) string { return "site:" + strconv.FormatUint(id, 10) }

func pathID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 63)
	if err != nil || id == 0 {
		return 0, &sites.FieldError{Field: "site_id", Reason: sites.ReasonInvalidValue, Detail: "must be a positive integer"}
	}
	return id, nil
}

// transition runs an approval or retraction, audited, then starts its sweep.
func (h *Handler) transition(w http.ResponseWriter, r *http.Request, action string, do func(ctx context.Context, id uint64, by string, now time.Time) (sites.Site, error)) {
	now := h.d.Now()
	entry := h.entry(r, action, now)
	ctx := r.Context()
	id, err := pathID(r)
	if err == nil {
		entry.Subject = siteSubject(id)
		var s sites.Site
		if s, err = do(ctx, id, entry.Account.ID, now.UTC().Truncate(time.Second)); err == nil {
			entry.Venue, entry.Case, entry.From, entry.To, entry.Rows = s.VenueID, s.CaseID, s.From.In(Local), s.To.In(Local), s.Preview.People
			entry.Reason, entry.Status = s.RetractReason, http.StatusOK
			if err := h.record(ctx, entry); err != nil {
				// The transition stands; the sweep must still go out.
				h.started(ctx, s)
				writeError(w, err)
				return
			}
			h.started(ctx, s)
			jsonhttp.Write(w, http.StatusOK, answer(s))
			return
		}
	}
	entry.Status = writeError(w, err)
	entry.Reason = err.Error()
	_ = h.record(ctx, entry)
}

func (h *Handler) started(ctx context.Context, s sites.Site) {
	h.log.Info("exposure site "+string(s.Status), "site", s.ID, "venue", s.VenueID)
	if h.d.Changed != nil {
		h.d.Changed(context.WithoutCancel(ctx))
	}
	if h.d.Fanout != nil {
		h.d.Fanout.Start(s)
	}
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request) {
	h.transition(w, r, audit.ActionSiteApprove, func(ctx context.Context, id uint64, by string, now time.Time) (sites.Site, error) {
		if by == "" {
			return sites.Site{}, sites.ErrSamePerson // an unnamed account cannot be told from the creator
		}
		return h.d.Store.Approve(ctx, id, by, now)
	})
}

func (h *Handler) retract(w http.ResponseWriter, r *http.Request) {
	h.transition(w, r, audit.ActionSiteRetract, func(ctx context.Context, id uint64, by string, now time.Time) (sites.Site, error) {
		var body struct {
			Reason string `json:"reason"`
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<10+1))
		if err != nil || len(b) > 8<<10 {
			return sites.Site{}, &sites.FieldError{Field: "body", Reason: sites.ReasonTooLarge, Detail: "at most 8 KiB"}
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return sites.Site{}, &sites.FieldError{Field: "body", Reason: sites.ReasonInvalidValue, Detail: `a JSON object {"reason"}`}
		}
		if err := sites.Text("reason", body.Reason, sites.MaxReasonRunes, true); err != nil {
			return sites.Site{}, err
		}
		return h.d.Store.Retract(ctx, id, by, body.Reason, now)
	})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s, err := h.d.Store.Site(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	out := answer(s)
	var sent sentJSON
	for _, c := range []struct {
		t sites.Type
		n *int
	}{{sites.TypeExposure, &sent.Exposure}, {sites.TypeRetraction, &sent.Retraction}} {
		as, err := h.d.Store.Of(r.Context(), id, c.t)
		if err != nil {
			writeError(w, err)
			return
		}
		*c.n = len(as)
	}
	out.AlertsSent = &sent
	jsonhttp.Write(w, http.StatusOK, out)
}

// publicJSON is a site on the public list: exactly DESIGN's fields.
type publicJSON struct {
	SiteID      uint64  `json:"site_id"`
	VenueID     uint32  `json:"venue_id"`
	VenueName   string  `json:"venue_name"`
	Kind        string  `json:"kind"`
	Province    string  `json:"province"`
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	Severity    string  `json:"severity"`
	Advice      string  `json:"advice"`
	PublishedAt string  `json:"published_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// public lists the published sites whose window ended within PublicFor.
func (h *Handler) public(ctx context.Context) ([]publicJSON, error) {
	cutoff := h.d.Now().Add(-sites.PublicFor)
	out := []publicJSON{}
	for s, err := range h.d.Store.Sites(ctx, sites.StatusPublished) {
		if err != nil {
			return nil, err
		}
		if s.To.Before(cutoff) {
			continue
		}
		p := publicJSON{SiteID: s.ID, VenueID: s.VenueID, From: formatTime(s.From), To: formatTime(s.To), Severity: string(s.Severity),
			Advice: s.Advice, PublishedAt: formatTime(s.PublishedAt), UpdatedAt: formatTime(s.UpdatedAt)}
		v, err := h.d.Venues.Venue(ctx, s.VenueID)
		if err != nil && !errors.Is(err, venue.ErrNotFound) {
			return nil, err
		}
		p.VenueName, p.Kind, p.Province, p.Lat, p.Lon = v.Name, string(v.Kind), v.Province, v.Lat, v.Lon
		out = append(out, p)
	}
	return out, nil
}

// CSVHeader is the public list's CSV header: the JSON's fields in order.
var CSVHeader = []string{"site_id", "venue_id", "venue_name", "kind", "province", "lat", "lon", "from", "to", "severity", "advice", "published_at", "updated_at"}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	all, err := h.public(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	if !wantsCSV(r) {
		jsonhttp.Write(w, http.StatusOK, map[string]any{"sites": all})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="exposure-sites.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVHeader)
	for _, p := range all {
		_ = cw.Write([]string{strconv.FormatUint(p.SiteID, 10), strconv.FormatUint(uint64(p.VenueID), 10), p.VenueName, p.Kind, p.Province,
			strconv.FormatFloat(p.Lat, 'f', -1, 64), strconv.FormatFloat(p.Lon, 'f', -1, 64), p.From, p.To, p.Severity, p.Advice, p.PublishedAt, p.UpdatedAt})
	}
	cw.Flush()
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

func (h *Handler) geoJSON(w http.ResponseWriter, r *http.Request) {
	all, err := h.public(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	fc := geojson.NewFeatureCollection()
	for _, p := range all {
		f := geojson.NewFeature(orb.Point{p.Lon, p.Lat})
		f.ID = p.SiteID
		f.Properties = geojson.Properties{"site_id": p.SiteID, "venue_id": p.VenueID, "venue_name": p.VenueName, "kind": p.Kind,
			"province": p.Province, "lat": p.Lat, "lon": p.Lon, "from": p.From, "to": p.To, "severity": p.Severity, "advice": p.Advice,
			"published_at": p.PublishedAt, "updated_at": p.UpdatedAt}
		fc.Append(f)
	}
	b, err := fc.MarshalJSON()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	_, _ = w.Write(b)
}

// alerts serves the feed: the alerts after the cursor, in delivery order,
// and the cursor to resume from. The cursor is the last alert's place in
// delivery order, which only grows as alerts are stored (sites.Alerts), so
// a reader that resumes from next misses nothing and sees nothing twice.
func (h *Handler) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if s := q.Get("after"); s != "" {
		v, err := strconv.ParseUint(s, 10, 63)
		if err != nil {
			writeError(w, &sites.FieldError{Field: "after", Reason: sites.ReasonInvalidValue, Detail: "a cursor from a previous answer's next"})
			return
		}
		after = v
	}
	limit := DefaultAlerts
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > MaxAlerts {
			writeError(w, &sites.FieldError{Field: "limit", Reason: sites.ReasonInvalidValue, Detail: fmt.Sprintf("between 1 and %d", MaxAlerts)})
			return
		}
		limit = v
	}
	as, err := h.d.Store.After(r.Context(), after, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]sites.Message, len(as))
	next := after
	for i, a := range as {
		out[i] = sites.ToMessage(a)
		next = a.Seq
	}
	h.d.Metrics.Delivered.Add(float64(len(as)))
	jsonhttp.Write(w, http.StatusOK, map[string]any{"alerts": out, "next": strconv.FormatUint(next, 10)})
}
