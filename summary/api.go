package summary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/schemas/checklist"
)

// Window bounds of GET /v1/summary, in local days.
const (
	DefaultDays = 14
	MaxDays     = 92
)

// Day is one local day of an answer. Every field is present, zero or not.
type Day struct {
	Day             string           `json:"day"` // YYYY-MM-DD, local
	RecordsIn       map[string]int64 `json:"records_in"`
	Rejections      map[string]int64 `json:"rejections"`
	CasesRegistered int64            `json:"cases_registered"`
	Lookups         int64            `json:"lookups"`
	ContactsFound   int64            `json:"contacts_found"`
	SitesPublished  int64            `json:"sites_published"`
	AlertsSent      int64            `json:"alerts_sent"`
	VenuesByLevel   map[string]int64 `json:"venues_by_level"`
}

// Answer is the body of GET /v1/summary.
type Answer struct {
	Province string `json:"province"` // the code asked for, or "*" (national: every province and unknown)
	From     string `json:"from"`
	To       string `json:"to"`
	Days     []Day  `json:"days"`
}

// Registered counts registered venues, in a province or in all ("").
// venue/cache.Cache is one.
type Registered interface {
	RegisteredVenues(province string) int64
}

// Handler serves GET /v1/summary from Counters.
type Handler struct {
	Counters  Counters
	Provinces *province.List
	Venues    Registered // for not_assessed; nil: not_assessed is 0
	Now       func() time.Time
	Log       *slog.Logger
}

// Register adds GET /v1/summary to mux.
func (h *Handler) Register(mux *http.ServeMux) { mux.Handle("GET /v1/summary", h) }

var errBadParam = errors.New("invalid parameter")

type paramError struct{ field, reason, detail string }

func (e *paramError) Error() string { return e.field + ": " + e.detail }
func (e *paramError) Unwrap() error { return errBadParam }

// Read answers q as an Answer, every day of [q.From, q.To] listed.
func Read(ctx context.Context, c Counters, q Query) (Answer, error) {
	cs, err := c.SummaryCounts(ctx, q)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{Province: q.Province, From: q.From.String(), To: q.To.String(), Days: make([]Day, 0, q.To-q.From+1)}
	if a.Province == "" {
		a.Province = "*"
	}
	for d := q.From; d <= q.To; d++ {
		day := Day{Day: d.String(), RecordsIn: map[string]int64{}, Rejections: map[string]int64{}, VenuesByLevel: map[string]int64{}}
		for _, k := range Kinds {
			day.RecordsIn[k] = 0
		}
		for _, l := range Levels {
			day.VenuesByLevel[l] = 0
		}
		a.Days = append(a.Days, day)
	}
	for _, c := range cs {
		if c.Day < q.From || c.Day > q.To {
			continue
		}
		day := &a.Days[c.Day-q.From]
		switch c.Metric {
		case RecordsIn:
			day.RecordsIn[c.Key] += c.N
		case Rejections:
			day.Rejections[c.Key] += c.N
		case CasesRegistered:
			day.CasesRegistered += c.N
		case Lookups:
			day.Lookups += c.N
		case ContactsFound:
			day.ContactsFound += c.N
		case SitesPublished:
			day.SitesPublished += c.N
		case AlertsSent:
			day.AlertsSent += c.N
		case VenuesByLevel:
			day.VenuesByLevel[c.Key] += c.N
		}
	}
	return a, nil
}

// NotAssessed sets each day's not_assessed to the registered venues that
// have no level that day: registered less those counted at a level (never
// below 0: a venue counted before the registry's copy knew it).
func (a *Answer) NotAssessed(registered int64) {
	for i := range a.Days {
		n := registered
		for l, c := range a.Days[i].VenuesByLevel {
			if l != string(checklist.LevelNotAssessed) {
				n -= c
			}
		}
		a.Days[i].VenuesByLevel[string(checklist.LevelNotAssessed)] = max(0, n)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := h.parse(r)
	if err != nil {
		var pe *paramError
		errors.As(err, &pe)
		jsonhttp.Write(w, http.StatusBadRequest, map[string]string{"error": err.Error(), "field": pe.field, "reason": pe.reason})
		return
	}
	a, err := Read(r.Context(), h.Counters, q)
	if err != nil {
		if h.Log != nil {
			h.Log.Error("read the summary counters", "err", err)
		}
		w.Header().Set("Retry-After", "5")
		jsonhttp.Write(w, http.StatusServiceUnavailable, map[string]string{"error": "the summary counters are unavailable; retry later", "reason": "unavailable"})
		return
	}
	if h.Venues != nil {
		a.NotAssessed(h.Venues.RegisteredVenues(q.Province))
	}
	w.Header().Set("Cache-Control", "no-store")
	jsonhttp.Write(w, http.StatusOK, a)
}

// parse reads ?province=&from=&to= (local dates, YYYY-MM-DD, or RFC 3339
// times, taken as their local day); to defaults to today, from to
// DefaultDays days ending at to.
func (h *Handler) parse(r *http.Request) (Query, error) {
	v := r.URL.Query()
	var q Query
	if p := v.Get("province"); p != "" && p != "*" {
		if h.Provinces != nil && !h.Provinces.Valid(p) {
			return q, &paramError{"province", "invalid_value", fmt.Sprintf("unknown province code %.10q", p)}
		}
		q.Province = p
	}
	q.To = bucket.DayOf(h.Now().Unix())
	if s := v.Get("to"); s != "" {
		d, err := parseDay(s)
		if err != nil {
			return q, &paramError{"to", "invalid_time", err.Error()}
		}
		q.To = d
	}
	q.From = q.To - (DefaultDays - 1)
	if s := v.Get("from"); s != "" {
		d, err := parseDay(s)
		if err != nil {
			return q, &paramError{"from", "invalid_time", err.Error()}
		}
		q.From = d
	}
	switch {
	case q.From > q.To:
		return q, &paramError{"from", "invalid_time", "after to"}
	case q.To-q.From+1 > MaxDays:
		return q, &paramError{"from", "invalid_time", fmt.Sprintf("more than %d days", MaxDays)}
	}
	return q, nil
}

// local is Asia/Ho_Chi_Minh.
var local = time.FixedZone("ICT", bucket.UTCOffset)

func parseDay(s string) (bucket.Day, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, local)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return 0, fmt.Errorf("not a local date (YYYY-MM-DD) or an RFC 3339 time: %.40q", s)
		}
	}
	if t.Unix() < 0 || t.Unix() > 1<<36 {
		return 0, fmt.Errorf("out of range: %.40q", s)
	}
	return bucket.DayOf(t.Unix()), nil
}
