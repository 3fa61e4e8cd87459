package safetyapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

// standing is a registered venue's standing on one day.
type standing struct {
	venue    venue.Venue
	level    checklist.Level
	counting *event.Assessment // nil: not assessed
	feedback *int              // open reports; nil: no feedback queue here
	sites    *int              // active exposure sites; nil: not known here
}

// standings reads every registered venue that passes f and its standing on d.
func (h *Handler) standings(ctx context.Context, f venue.Filter, d bucket.Day) ([]standing, error) {
	as, err := h.d.Assessments.DayAssessments(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("read assessments of %s: %w", d, err)
	}
	latest := safety.Latest(as)
	var open, sites map[uint32]int
	if h.d.Feedback != nil {
		if open, err = h.d.Feedback.OpenFeedback(ctx); err != nil {
			return nil, fmt.Errorf("count open feedback: %w", err)
		}
	}
	if h.d.Sites != nil {
		if sites, err = h.d.Sites.ActiveSites(ctx, d); err != nil {
			return nil, fmt.Errorf("count active exposure sites: %w", err)
		}
	}
	var out []standing
	for v, err := range h.d.Registry.Venues(ctx, f) {
		if err != nil {
			return nil, err
		}
		s := standing{venue: v, level: checklist.LevelNotAssessed}
		if a, ok := latest[v.ID]; ok {
			s.level, s.counting = a.Level, &a
		}
		if open != nil {
			n := open[v.ID]
			s.feedback = &n
		}
		if sites != nil {
			n := sites[v.ID]
			s.sites = &n
		}
		out = append(out, s)
	}
	return out, nil
}

// filter reads ?province=&kind=.
func filter(r *http.Request) (venue.Filter, error) {
	q := r.URL.Query()
	f := venue.Filter{Province: q.Get("province"), Kind: venue.Kind(q.Get("kind"))}
	if f.Kind != "" && !f.Kind.Valid() {
		return f, bad("kind", "invalid_value", "%.40q is not a venue kind", string(f.Kind))
	}
	if len(f.Province) > 2 {
		return f, bad("province", "invalid_value", "a two-digit province code")
	}
	return f, nil
}

// asked reads the venues a request asks about (?province=&kind=&date=) and
// their standings, or answers the error and returns false.
func (h *Handler) asked(w http.ResponseWriter, r *http.Request) (bucket.Day, []standing, bool) {
	f, err := filter(r)
	if err != nil {
		writeError(w, err)
		return 0, nil, false
	}
	d, err := h.dateParam(r)
	if err != nil {
		writeError(w, err)
		return 0, nil, false
	}
	ss, err := h.standings(r.Context(), f, d)
	if err != nil {
		h.log.Error("read the safety map", "path", r.URL.Path, "err", err)
		writeError(w, err)
		return 0, nil, false
	}
	return d, ss, true
}

func (h *Handler) geoJSON(w http.ResponseWriter, r *http.Request) {
	d, ss, ok := h.asked(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.WriteString(`{"type":"FeatureCollection","features":[`)
	date := d.String()
	var buf []byte
	for i, s := range ss {
		f := feature{Type: "Feature", ID: s.venue.ID, Geometry: point{Type: "Point", Coordinates: [2]float64{s.venue.Lon, s.venue.Lat}},
			Properties: properties{VenueID: s.venue.ID, Name: s.venue.Name, Kind: s.venue.Kind, Province: s.venue.Province, Date: date,
				Level: s.level, OpenFeedback: s.feedback, ActiveExposureSites: s.sites}}
		if a := s.counting; a != nil {
			score := float64(a.Tenths) / 10
			at := time.Unix(a.SubmittedAt, 0).In(Local).Format(time.RFC3339)
			f.Properties.Score, f.Properties.AssessedAt = &score, &at
		}
		b, err := json.Marshal(&f)
		if err != nil {
			h.log.Error("encode the safety map", "venue_id", s.venue.ID, "err", err)
			return // the answer is cut short: no valid JSON, never a wrong one
		}
		if i > 0 {
			buf = append(buf[:0], ',')
			_, _ = bw.Write(buf)
		}
		_, _ = bw.Write(b)
	}
	_, _ = bw.WriteString("]}\n")
	_ = bw.Flush()
}

// feature is one venue on the map, an RFC 7946 Feature with a Point
// geometry ([lon, lat]).
type feature struct {
	Type       string     `json:"type"`
	ID         uint32     `json:"id"`
	Geometry   point      `json:"geometry"`
	Properties properties `json:"properties"`
}

type point struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

// properties are a map feature's: score and assessed_at are null when the
// venue is not assessed that day, open_feedback and active_exposure_sites
// when this server does not know them.
type properties struct {
	VenueID             uint32          `json:"venue_id"`
	Name                string          `json:"name"`
	Kind                venue.Kind      `json:"kind"`
	Province            string          `json:"province"`
	Date                string          `json:"date"`
	Level               checklist.Level `json:"level"`
	Score               *float64        `json:"score"`
	AssessedAt          *string         `json:"assessed_at"`
	OpenFeedback        *int            `json:"open_feedback"`
	ActiveExposureSites *int            `json:"active_exposure_sites"`
}

// DefaultHistoryDays is how many days a venue's history shows by default.
const DefaultHistoryDays = 14

// historyDay is one day of a venue's history.
type historyDay struct {
	Date       string          `json:"date"`
	Level      checklist.Level `json:"level"`
	Score      *float64        `json:"score"`
	AssessedAt *string         `json:"assessed_at"`
	Version    uint32          `json:"version,omitempty"`
	Unmet      []string        `json:"unmet,omitempty"` // items not met, in checklist order
	Filed      int             `json:"filed"`           // assessments filed that day, replaced ones included
}

type historyAnswer struct {
	VenueID  uint32       `json:"venue_id"`
	Name     string       `json:"name"`
	Kind     venue.Kind   `json:"kind"`
	Province string       `json:"province"`
	Days     []historyDay `json:"days"` // newest first
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	v, err := h.venueOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	maxDays := int(h.d.Limits.Retention/(24*time.Hour)) + 1
	days := DefaultHistoryDays
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxDays {
			writeError(w, bad("days", "invalid_value", "1 to %d", maxDays))
			return
		}
		days = n
	}
	to := h.today()
	from := to - bucket.Day(days-1) //nolint:gosec // days is at most retention
	as, err := h.d.Assessments.VenueAssessments(r.Context(), v.ID, from, to)
	if err != nil {
		h.log.Error("venue history", "venue_id", v.ID, "err", err)
		writeError(w, err)
		return
	}
	out := historyAnswer{VenueID: v.ID, Name: v.Name, Kind: v.Kind, Province: v.Province, Days: []historyDay{}}
	hist := safety.History(as, from, to)
	for i := len(hist) - 1; i >= 0; i-- {
		d := hist[i]
		hd := historyDay{Date: d.Day.String(), Level: d.Level, Filed: d.Filed}
		if a := d.Counting; a != nil {
			score := float64(a.Tenths) / 10
			at := time.Unix(a.SubmittedAt, 0).In(Local).Format(time.RFC3339)
			hd.Score, hd.AssessedAt, hd.Version = &score, &at, a.Version
			hd.Unmet = []string{}
			if c, err := h.d.Checklists.For(a.Kind, a.Version); err == nil {
				met := a.AnswerMap()
				for _, it := range c.Items {
					if !met[it.ID] {
						hd.Unmet = append(hd.Unmet, it.ID)
					}
				}
			}
		}
		out.Days = append(out.Days, hd)
	}
	jsonhttp.Write(w, http.StatusOK, out)
}

// Counts are the Safety Map's numbers for dashboards: registered venues by
// level, overall and by province, on one day.
type Counts struct {
	Date      string                     `json:"date"`
	Venues    int                        `json:"venues"`
	Levels    map[checklist.Level]int    `json:"levels"`
	Missing   int                        `json:"missing"` // not assessed that day
	Provinces map[string]*ProvinceCounts `json:"provinces"`
	Feedback  *int                       `json:"open_feedback"` // nil: no feedback queue here
}

// ProvinceCounts are one province's venues by level.
type ProvinceCounts struct {
	Venues  int                     `json:"venues"`
	Levels  map[checklist.Level]int `json:"levels"`
	Missing int                     `json:"missing"`
}

func levelMap() map[checklist.Level]int {
	m := map[checklist.Level]int{}
	for _, l := range checklist.Levels() {
		m[l] = 0
	}
	return m
}

// counts folds standings into Counts.
func counts(d bucket.Day, ss []standing) Counts {
	c := Counts{Date: d.String(), Levels: levelMap(), Provinces: map[string]*ProvinceCounts{}}
	for _, s := range ss {
		c.Venues++
		c.Levels[s.level]++
		p := c.Provinces[s.venue.Province]
		if p == nil {
			p = &ProvinceCounts{Levels: levelMap()}
			c.Provinces[s.venue.Province] = p
		}
		p.Venues++
		p.Levels[s.level]++
		if s.level == checklist.LevelNotAssessed {
			c.Missing++
			p.Missing++
		}
		if s.feedback != nil {
			if c.Feedback == nil {
				c.Feedback = new(int)
			}
			*c.Feedback += *s.feedback
		}
	}
	return c
}

func (h *Handler) summary(w http.ResponseWriter, r *http.Request) {
	if d, ss, ok := h.asked(w, r); ok {
		jsonhttp.Write(w, http.StatusOK, counts(d, ss))
	}
}

// provinceCodes are the provinces of c in order.
func (c Counts) provinceCodes() []string {
	out := make([]string, 0, len(c.Provinces))
	for p := range c.Provinces {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
