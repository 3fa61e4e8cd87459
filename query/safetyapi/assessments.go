package safetyapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/schemas/event"
)

// MaxAssessmentBytes bounds an assessment's body.
const MaxAssessmentBytes = 64 << 10

// ProduceTimeout is the longest an assessment waits to be made durable.
const ProduceTimeout = 10 * time.Second

// assessmentBody is what POST /v1/venues/{id}/assessments takes.
type assessmentBody struct {
	Date    *string          `json:"date"`
	Version *uint32          `json:"version"`
	Answers *map[string]bool `json:"answers"`
}

// assessmentAnswer is its 201.
type assessmentAnswer struct {
	AssessmentID string  `json:"assessment_id"`
	VenueID      uint32  `json:"venue_id"`
	Date         string  `json:"date"`
	Checklist    string  `json:"checklist"`
	Version      uint32  `json:"version"`
	Score        float64 `json:"score"`
	Level        string  `json:"level"`
	SubmittedAt  string  `json:"submitted_at"`
}

func (h *Handler) assess(w http.ResponseWriter, r *http.Request) {
	code, reason := h.serveAssess(w, r)
	if code >= 400 && code < 500 {
		h.d.Metrics.rejected.WithLabelValues(reason).Inc()
	}
}

func (h *Handler) serveAssess(w http.ResponseWriter, r *http.Request) (int, string) {
	fail := func(err error) (int, string) {
		code := writeError(w, err)
		var ve *event.ValidationError
		var fe *fieldError
		switch {
		case errors.As(err, &ve):
			return code, string(ve.Reason)
		case errors.As(err, &fe):
			return code, fe.Reason
		case code == http.StatusNotFound:
			return code, "unknown_venue"
		}
		return code, "other"
	}
	v, err := h.venueOf(r)
	if err != nil {
		return fail(err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAssessmentBytes))
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errTooLarge, &fieldError{Field: "body", Reason: string(event.ReasonTooLarge), Detail: fmt.Sprintf("over %d bytes", MaxAssessmentBytes)}))
	}
	var in assessmentBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return fail(bad("body", string(event.ReasonInvalidJSON), "a JSON object {\"date\", \"version\", \"answers\"}: %v", err))
	}
	switch {
	case in.Date == nil:
		return fail(bad("date", string(event.ReasonMissingField), "a local date YYYY-MM-DD"))
	case in.Version == nil:
		return fail(bad("version", string(event.ReasonMissingField), "the checklist's version (GET /v1/checklists/%s)", v.Kind))
	case in.Answers == nil:
		return fail(bad("answers", string(event.ReasonMissingField), "an object of item id to true or false"))
	}
	day, err := parseDate("date", *in.Date)
	if err != nil {
		return fail(err)
	}
	now := h.d.Now()
	a := event.Assessment{AssessmentID: newID(now), VenueID: v.ID, Kind: v.Kind, Day: uint32(day), Version: *in.Version,
		SubmittedAt: now.Unix(), Answers: event.AnswersFrom(*in.Answers)}
	if acct, ok := access.AccountFrom(r.Context()); ok {
		a.Account = acct.ID
	}
	if err := h.d.Limits.Score(&a, h.d.Checklists, now); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), ProduceTimeout)
	defer cancel()
	if err := h.d.Producer.Produce(ctx, &event.Batch{Assessments: []event.Assessment{a}}); err != nil {
		h.log.Warn("assessment not made durable; answering 503", "venue_id", v.ID, "err", err)
		return writeError(w, fmt.Errorf("%w: %w", errUnavailable, err)), "unavailable"
	}
	h.d.Metrics.assessments.WithLabelValues(string(a.Level)).Inc()
	c, _ := h.d.Checklists.For(a.Kind, a.Version)
	jsonhttp.Write(w, http.StatusCreated, assessmentAnswer{AssessmentID: a.AssessmentID, VenueID: v.ID, Date: day.String(),
		Checklist: c.Name, Version: a.Version, Score: float64(a.Tenths) / 10, Level: string(a.Level),
		SubmittedAt: time.Unix(a.SubmittedAt, 0).In(Local).Format(time.RFC3339)})
	return http.StatusCreated, ""
}

// newID is a fresh assessment id: the filing time in nanoseconds (16 hex
// digits) and 8 random bytes. Two assessments of a venue filed in the same
// second then count in the order they were filed (event.Assessment.Later
// breaks a tie of submitted_at by id).
func newID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x", uint64(now.UnixNano())) + hex.EncodeToString(b[:]) //nolint:gosec // after 1970
}
