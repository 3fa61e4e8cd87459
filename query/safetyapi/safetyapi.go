// Package safetyapi serves the Safety Map (DESIGN "Safety Map") over HTTP:
//
//	GET  /v1/checklists/{kind}[?version=]     a venue kind's checklist (public)
//	POST /v1/venues/{id}/assessments          a venue admin's daily self-check (201 {"score","level"})
//	POST /v1/venues/{id}/feedback             a citizen's report (public, rate-limited; 202 {"feedback_id"})
//	GET  /v1/feedback?status=&venue=&after=&limit=  the moderation queue (viewer)
//	POST /v1/feedback/{id}/resolve            close a report (viewer)
//	GET  /v1/safety-map.geojson?province=&kind=&date=  every registered venue and its level (public, RFC 7946)
//	GET  /v1/safety-map/venues/{id}?days=     a venue's levels day by day (public)
//	GET  /v1/safety-map/summary?province=&date=  venues by level and province, assessments missing (public)
//
// A route is served only where its dependencies are: assessments where
// there is a producer (all-in-one, distributed ingest), the map where the
// assessments are read (all-in-one, query), feedback where the queue is.
// Who may call which route is the access policy's business.
//
// Metrics (see NewMetrics):
//
//	truyvet_safety_assessments_total{level}           assessments filed and made durable, by level
//	truyvet_safety_assessments_rejected_total{reason} assessments refused, by reason
//	truyvet_safety_feedback_total{category}           citizen reports taken, by category
//	truyvet_safety_feedback_resolved_total            reports resolved
//	truyvet_safety_venues{level}                      registered venues by today's level (read when scraped, at most every 30 s)
//	truyvet_safety_venues_by_province{province,level} the same by province (63 codes × 5 levels)
//	truyvet_safety_assessments_missing_venues         registered venues not assessed today
//	truyvet_safety_feedback_open                      open reports
package safetyapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

// Local is Asia/Ho_Chi_Minh: times in answers are written in it.
var Local = time.FixedZone("ICT", 7*3600)

// Producer makes records durable (ingest.Producer: the in-process pipe or
// Kafka); nil only once every record of the batch is.
type Producer interface {
	Produce(ctx context.Context, b *event.Batch) error
}

// ActiveSites counts the exposure sites active on a local day per venue
// (published, not retracted, on the public list that day); the command line
// reads them from the exposure-site registry. Without one, the map says
// "active_exposure_sites": null rather than a count it does not know.
type ActiveSites interface {
	ActiveSites(ctx context.Context, day bucket.Day) (map[uint32]int, error)
}

// Deps are what the routes use; a nil dependency leaves its routes out.
type Deps struct {
	Registry    venue.Registry
	Checklists  *checklist.Catalog
	Producer    Producer               // files assessments
	Assessments safety.AssessmentStore // reads them: the map, histories, counts
	Feedback    safety.FeedbackStore
	Sites       ActiveSites
	Limits      event.Limits
	Metrics     *Metrics
	Logger      *slog.Logger
	Now         func() time.Time
}

// Handler serves the Safety Map routes.
type Handler struct {
	d   Deps
	log *slog.Logger
}

// New returns the handler. Deps.Checklists nil means the shipped ones.
func New(d Deps) (*Handler, error) {
	if d.Checklists == nil {
		cat, err := checklist.Shipped()
		if err != nil {
			return nil, err
		}
		d.Checklists = cat
	}
	if d.Limits.Retention == 0 {
		d.Limits = event.DefaultLimits()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &Handler{d: d, log: d.Logger.With("component", "safety")}
	if d.Registry != nil && d.Assessments != nil {
		d.Metrics.watch(h)
	}
	return h, nil
}

// Register adds the routes whose dependencies the handler has.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/checklists/{kind}", h.checklist)
	if h.d.Registry == nil {
		return
	}
	if h.d.Producer != nil {
		mux.HandleFunc("POST /v1/venues/{id}/assessments", h.assess)
	}
	if h.d.Feedback != nil {
		mux.HandleFunc("POST /v1/venues/{id}/feedback", h.report)
		mux.HandleFunc("GET /v1/feedback", h.queue)
		mux.HandleFunc("POST /v1/feedback/{id}/resolve", h.resolve)
	}
	if h.d.Assessments != nil {
		mux.HandleFunc("GET /v1/safety-map.geojson", h.geoJSON)
		mux.HandleFunc("GET /v1/safety-map/venues/{id}", h.history)
		mux.HandleFunc("GET /v1/safety-map/summary", h.summary)
	}
}

// Errors of the routes.
var (
	errBadRequest  = errors.New("bad request")
	errTooLarge    = errors.New("request too large")
	errUnavailable = errors.New("could not be made durable; retry later")
	errForbidden   = errors.New("forbidden")
)

// problem is the JSON body of an error.
type problem struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// fieldError is a request's field at fault.
type fieldError struct {
	Field, Reason, Detail string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Detail }

func bad(field, reason, format string, args ...any) error {
	return fmt.Errorf("%w: %w", errBadRequest, &fieldError{Field: field, Reason: reason, Detail: fmt.Sprintf(format, args...)})
}

// writeError is the one error-to-status mapping of the Safety Map routes.
func writeError(w http.ResponseWriter, err error) int {
	p := problem{Error: err.Error()}
	code := http.StatusInternalServerError
	var fe *fieldError
	var ve *event.ValidationError
	var sfe *safety.FieldError
	switch {
	case errors.As(err, &ve):
		code, p.Field, p.Reason = http.StatusBadRequest, ve.Field, string(ve.Reason)
	case errors.As(err, &sfe):
		code, p.Field, p.Reason = http.StatusBadRequest, sfe.Field, sfe.Reason
	case errors.As(err, &fe):
		code, p.Field, p.Reason = http.StatusBadRequest, fe.Field, fe.Reason
		if errors.Is(err, errTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
	case errors.Is(err, venue.ErrNotFound), errors.Is(err, safety.ErrFeedbackNotFound), errors.Is(err, checklist.ErrNoChecklist),
		errors.Is(err, checklist.ErrUnknownVersion):
		code, p.Reason = http.StatusNotFound, "not_found"
	case errors.Is(err, safety.ErrAlreadyResolved):
		code, p.Reason = http.StatusConflict, "already_resolved"
	case errors.Is(err, errForbidden):
		code, p.Reason = http.StatusForbidden, "out_of_jurisdiction"
	case errors.Is(err, errUnavailable):
		code, p.Error = http.StatusServiceUnavailable, errUnavailable.Error()
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	if code == http.StatusInternalServerError {
		p.Error = jsonhttp.Internal
	}
	jsonhttp.Write(w, code, p)
	return code
}

// pathID reads a venue id from the path.
func pathID(r *http.Request, name string) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue(name), 10, 64)
	if err != nil || id == 0 {
		return 0, bad(name, "invalid_value", "%.20q is not a positive integer", r.PathValue(name))
	}
	return id, nil
}

func (h *Handler) venueOf(r *http.Request) (venue.Venue, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return venue.Venue{}, err
	}
	if id > 1<<32-1 {
		return venue.Venue{}, bad("id", "invalid_value", "a venue id is at most %d", uint32(1<<32-1))
	}
	return h.d.Registry.Venue(r.Context(), uint32(id))
}

// today is the local day of now.
func (h *Handler) today() bucket.Day { return bucket.DayOf(h.d.Now().Unix()) }

// parseDate reads a local date, YYYY-MM-DD, as a local day.
func parseDate(field, s string) (bucket.Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 1970 {
		return 0, bad(field, "invalid_time", "%.30q is not a date YYYY-MM-DD", s)
	}
	return bucket.Day(t.Unix() / 86400), nil //nolint:gosec // after 1970
}

// dateParam reads ?date= (default today); a day after today is refused.
func (h *Handler) dateParam(r *http.Request) (bucket.Day, error) {
	s := r.URL.Query().Get("date")
	if s == "" {
		return h.today(), nil
	}
	d, err := parseDate("date", s)
	if err != nil {
		return 0, err
	}
	if d > h.today() {
		return 0, bad("date", "future_time", "%s is after today", s)
	}
	return d, nil
}

// checklistAnswer is GET /v1/checklists/{kind}.
type checklistAnswer struct {
	Kind      venue.Kind       `json:"kind"`
	Checklist string           `json:"checklist"`
	Version   uint32           `json:"version"`
	Source    string           `json:"source,omitempty"`
	Items     []checklist.Item `json:"items"`
	// Total is the items' summed weight: score = 100 · met weight / total.
	Total int `json:"total_weight"`
}

func (h *Handler) checklist(w http.ResponseWriter, r *http.Request) {
	k := venue.Kind(r.PathValue("kind"))
	if !k.Valid() {
		writeError(w, fmt.Errorf("%.40q: %w", string(k), checklist.ErrNoChecklist))
		return
	}
	var version uint64
	if s := r.URL.Query().Get("version"); s != "" {
		var err error
		if version, err = strconv.ParseUint(s, 10, 32); err != nil || version == 0 {
			writeError(w, bad("version", "invalid_value", "%.20q is not a positive integer", s))
			return
		}
	}
	c, err := h.d.Checklists.For(k, uint32(version))
	if err != nil {
		writeError(w, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, checklistAnswer{Kind: k, Checklist: c.Name, Version: c.Version, Source: c.Source, Items: c.Items, Total: c.TotalWeight()})
}
