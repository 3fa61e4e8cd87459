package venueapi

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/visitors"
)

// visitJSON is one stay in a visitor list.
type visitJSON struct {
	UserID      uint32 `json:"user_id"`
	Enter       string `json:"enter"`
	Exit        string `json:"exit"`
	ExitImputed bool   `json:"exit_imputed"`
}

type visitorsJSON struct {
	VenueID  uint32      `json:"venue_id"`
	From     string      `json:"from"`
	To       string      `json:"to"`
	Visitors []visitJSON `json:"visitors"`
}

func formatTime(t int64) string { return time.Unix(t, 0).In(Local).Format(time.RFC3339) }

// window reads ?from=&to= (RFC 3339; the last 14 days by default).
func (h *Handler) window(r *http.Request) (time.Time, time.Time, error) {
	q := r.URL.Query()
	to := h.d.Now()
	var err error
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339, s); err != nil {
			return to, to, param("to", "invalid_time", "not an RFC 3339 time")
		}
	}
	from := to.Add(-DefaultWindow)
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339, s); err != nil {
			return from, to, param("from", "invalid_time", "not an RFC 3339 time")
		}
	}
	switch {
	case !from.Before(to):
		return from, to, param("from", "invalid_time", "must be before to")
	case to.Sub(from) > MaxWindow:
		return from, to, param("from", "invalid_time", "window longer than %s", MaxWindow)
	}
	return from, to, nil
}

// purpose reads ?purpose=, which a visitor list needs, as an exposure lookup does.
func purpose(r *http.Request) (string, error) {
	p := strings.TrimSpace(r.URL.Query().Get("purpose"))
	switch n := utf8.RuneCountInString(p); {
	case n == 0:
		return "", param("purpose", venue.ReasonMissingField, "say what the list is for (%d to %d characters)", MinPurposeLen, MaxPurposeLen)
	case n < MinPurposeLen || n > MaxPurposeLen || !utf8.ValidString(p):
		return "", param("purpose", venue.ReasonInvalidValue, "%d to %d characters", MinPurposeLen, MaxPurposeLen)
	}
	return p, nil
}

func (h *Handler) visitors(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	from, to, err := h.window(r)
	if err != nil {
		writeError(w, err)
		return
	}
	why, err := purpose(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if h.d.Stays == nil {
		writeError(w, errNoStays)
		return
	}
	if _, err := h.d.Registry.Venue(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	format := "json"
	if wantsCSV(r) {
		format = "csv"
	}
	entry := VisitorsEntry{Time: h.d.Now(), Venue: id, Purpose: why, From: from, To: to, Format: format, Status: http.StatusOK}
	ctx, cancel := context.WithTimeout(r.Context(), DefaultTimeout)
	defer cancel()
	list, err := visitors.List(ctx, h.d.Stays, id, from.Unix(), to.Unix())
	if err != nil {
		entry.Status = writeError(w, err)
		_ = h.audit(r, entry) // the list failed anyway
		return
	}
	entry.Rows = len(list)
	if err := h.audit(r, entry); err != nil {
		writeError(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="visitors-%d.csv"`, id))
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"user_id", "enter", "exit", "exit_imputed"})
		for _, v := range list {
			_ = cw.Write([]string{strconv.FormatUint(uint64(v.User), 10), formatTime(v.Enter), formatTime(v.Exit), strconv.FormatBool(v.ExitImputed)})
		}
		cw.Flush()
		return
	}
	out := visitorsJSON{VenueID: id, From: from.In(Local).Format(time.RFC3339), To: to.In(Local).Format(time.RFC3339), Visitors: make([]visitJSON, len(list))}
	for i, v := range list {
		out.Visitors[i] = visitJSON{UserID: v.User, Enter: formatTime(v.Enter), Exit: formatTime(v.Exit), ExitImputed: v.ExitImputed}
	}
	jsonhttp.Write(w, http.StatusOK, out)
}

// audit records a visitor list; an error means it must not be sent.
func (h *Handler) audit(r *http.Request, e VisitorsEntry) error {
	h.log.Info("visitor list", "venue", e.Venue, "rows", e.Rows, "status", e.Status)
	if h.d.Audit == nil {
		return nil
	}
	if err := h.d.Audit(context.WithoutCancel(r.Context()), r, e); err != nil {
		h.log.Error("cannot write the audit trail", "venue", e.Venue, "err", err)
		return fmt.Errorf("cannot write the audit trail: %w", err)
	}
	return nil
}
