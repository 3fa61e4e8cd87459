package safetyapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/safety"
)

// MaxFeedbackBytes bounds a report's body (1 000 characters of Vietnamese
// take up to about 4 KB of UTF-8, more when escaped).
const MaxFeedbackBytes = 16 << 10

// DefaultQueueLimit and MaxQueueLimit bound a page of the moderation queue.
const (
	DefaultQueueLimit = 100
	MaxQueueLimit     = 1000
)

type reportBody struct {
	Category *safety.Category `json:"category"`
	Text     string           `json:"text"`
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request) {
	v, err := h.venueOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFeedbackBytes))
	if err != nil {
		writeError(w, fmt.Errorf("%w: %w", errTooLarge, &fieldError{Field: "body", Reason: "too_large", Detail: fmt.Sprintf("over %d bytes", MaxFeedbackBytes)}))
		return
	}
	var in reportBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		writeError(w, bad("body", "invalid_json", "a JSON object {\"category\", \"text\"}: %v", err))
		return
	}
	var c safety.Category
	if in.Category != nil {
		c = *in.Category
	}
	if err := safety.ValidateReport(c, in.Text); err != nil {
		writeError(w, err)
		return
	}
	f, err := h.d.Feedback.AddFeedback(r.Context(), safety.Feedback{VenueID: v.ID, Province: v.Province, Category: c,
		Text: in.Text, CreatedAt: h.d.Now().UTC()})
	if err != nil {
		h.log.Error("store feedback", "venue_id", v.ID, "err", err)
		writeError(w, err)
		return
	}
	h.d.Metrics.feedback.WithLabelValues(string(c)).Inc()
	jsonhttp.Write(w, http.StatusAccepted, map[string]uint64{"feedback_id": f.ID})
}

// queueAnswer is a page of the moderation queue; Next is the cursor of the
// next page (after=), absent on the last.
type queueAnswer struct {
	Feedback []safety.Feedback `json:"feedback"`
	Next     *uint64           `json:"next,omitempty"`
}

// scope is the provinces the caller moderates: all for national accounts
// (and on a server without accounts), else theirs.
func scope(r *http.Request) []string {
	acct, ok := access.AccountFrom(r.Context())
	if !ok || acct.IsNational() {
		return nil
	}
	if len(acct.Provinces) == 0 {
		return []string{""}
	}
	return acct.Provinces
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ff := safety.FeedbackFilter{Status: safety.Status(q.Get("status")), Provinces: scope(r), Limit: DefaultQueueLimit}
	if ff.Status != "" && ff.Status != safety.StatusOpen && ff.Status != safety.StatusResolved {
		writeError(w, bad("status", "invalid_value", "open or resolved"))
		return
	}
	if p := q.Get("province"); p != "" {
		if ff.Provinces != nil && !contains(ff.Provinces, p) {
			writeError(w, fmt.Errorf("province %.10q: %w", p, errForbidden))
			return
		}
		ff.Provinces = []string{p}
	}
	for _, p := range []struct {
		name string
		max  uint64
		dst  func(uint64)
	}{
		{"venue", 1<<32 - 1, func(x uint64) { ff.Venue = uint32(x) }}, //nolint:gosec // bounded by max
		{"after", 1<<63 - 1, func(x uint64) { ff.After = x }},
		{"limit", MaxQueueLimit, func(x uint64) { ff.Limit = int(x) }}, //nolint:gosec // bounded by max
	} {
		if s := q.Get(p.name); s != "" {
			x, err := strconv.ParseUint(s, 10, 64)
			if err != nil || x > p.max || (p.name == "limit" && x == 0) {
				writeError(w, bad(p.name, "invalid_value", "an integer up to %d", p.max))
				return
			}
			p.dst(x)
		}
	}
	want := ff.Limit
	ff.Limit++
	fs, err := h.d.Feedback.ListFeedback(r.Context(), ff)
	if err != nil {
		h.log.Error("list feedback", "err", err)
		writeError(w, err)
		return
	}
	out := queueAnswer{Feedback: fs}
	if len(fs) > want {
		out.Feedback = fs[:want]
		next := fs[want-1].ID
		out.Next = &next
	}
	if out.Feedback == nil {
		out.Feedback = []safety.Feedback{}
	}
	jsonhttp.Write(w, http.StatusOK, out)
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

type resolveBody struct {
	Resolution string `json:"resolution"`
}

func (h *Handler) resolve(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, err)
		return
	}
	var in resolveBody
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFeedbackBytes))
	if err != nil {
		writeError(w, fmt.Errorf("%w: %w", errTooLarge, &fieldError{Field: "body", Reason: "too_large", Detail: fmt.Sprintf("over %d bytes", MaxFeedbackBytes)}))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || dec.More() {
			writeError(w, bad("body", "invalid_json", "empty or a JSON object {\"resolution\"}: %v", err))
			return
		}
	}
	if err := safety.ValidateResolution(in.Resolution); err != nil {
		writeError(w, err)
		return
	}
	// A moderator resolves reports of their provinces only.
	if sc := scope(r); sc != nil {
		fs, err := h.d.Feedback.ListFeedback(r.Context(), safety.FeedbackFilter{After: id - 1, Limit: 1})
		if err != nil {
			writeError(w, err)
			return
		}
		if len(fs) == 0 || fs[0].ID != id {
			writeError(w, fmt.Errorf("feedback %d: %w", id, safety.ErrFeedbackNotFound))
			return
		}
		if !contains(sc, fs[0].Province) {
			writeError(w, fmt.Errorf("feedback %d is about a venue of province %s: %w", id, fs[0].Province, errForbidden))
			return
		}
	}
	by := ""
	if acct, ok := access.AccountFrom(r.Context()); ok {
		by = acct.ID
	}
	f, err := h.d.Feedback.ResolveFeedback(r.Context(), id, by, in.Resolution, h.d.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	h.d.Metrics.resolved.Inc()
	jsonhttp.Write(w, http.StatusOK, f)
}
