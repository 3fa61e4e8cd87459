package safety

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Category is what a citizen reports about a venue, a closed set (DESIGN
// "Safety Map"), safe as a metric label.
type Category string

// The categories.
const (
	CategoryNoMasks            Category = "no_masks"
	CategoryNoDistancing       Category = "no_distancing"
	CategoryNoQRCheckin        Category = "no_qr_checkin"
	CategoryNoTemperatureCheck Category = "no_temperature_check"
	CategoryNoHandWashing      Category = "no_hand_washing"
	CategoryCrowding           Category = "crowding"
	CategoryFalseAssessment    Category = "false_assessment"
	CategoryOther              Category = "other"
)

// Categories lists every Category.
func Categories() []Category {
	return []Category{CategoryNoMasks, CategoryNoDistancing, CategoryNoQRCheckin, CategoryNoTemperatureCheck,
		CategoryNoHandWashing, CategoryCrowding, CategoryFalseAssessment, CategoryOther}
}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool { return slices.Contains(Categories(), c) }

// Status is where a report stands in the moderation queue.
type Status string

// The statuses.
const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
)

// MaxFeedbackRunes bounds a report's text; MaxResolutionRunes a moderator's note.
const (
	MaxFeedbackRunes   = 1000
	MaxResolutionRunes = 500
)

// Feedback is one citizen report about a venue.
type Feedback struct {
	ID         uint64     `json:"feedback_id"`
	VenueID    uint32     `json:"venue_id"`
	Province   string     `json:"province"` // the venue's, when it was reported
	Category   Category   `json:"category"`
	Text       string     `json:"text"`
	Status     Status     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"` // the moderator's account id
	Resolution string     `json:"resolution,omitempty"`
}

// FieldError names the field of a report at fault and why (a reason of
// schemas/event's closed set).
type FieldError struct {
	Field, Reason, Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

// ValidateReport checks what a citizen sends: a known category and a text
// of at most MaxFeedbackRunes characters of UTF-8, without control
// characters other than line breaks and tabs (the text may be empty).
func ValidateReport(c Category, text string) error {
	if c == "" {
		return &FieldError{"category", "missing_field", "one of " + categoryList()}
	}
	if !c.Valid() {
		return &FieldError{"category", "invalid_value", fmt.Sprintf("%.40q is not one of %s", string(c), categoryList())}
	}
	return checkText("text", text, MaxFeedbackRunes)
}

func checkText(field, text string, maxRunes int) error {
	if !utf8.ValidString(text) {
		return &FieldError{field, "invalid_value", "not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(text); n > maxRunes {
		return &FieldError{field, "too_large", fmt.Sprintf("%d characters, at most %d", n, maxRunes)}
	}
	if strings.IndexFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0 {
		return &FieldError{field, "invalid_value", "control characters"}
	}
	return nil
}

// ValidateResolution checks a moderator's note.
func ValidateResolution(note string) error { return checkText("resolution", note, MaxResolutionRunes) }

func categoryList() string {
	cs := Categories()
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// FeedbackFilter selects reports; zero fields match every report.
type FeedbackFilter struct {
	Status    Status
	Provinces []string // any of these; empty: every province
	Venue     uint32
	After     uint64 // ids greater than this (a cursor)
	Limit     int    // at most this many; 0: no limit
}

// Match reports whether f passes the filter (all but After and Limit).
func (ff FeedbackFilter) Match(f Feedback) bool {
	return (ff.Status == "" || f.Status == ff.Status) && (ff.Venue == 0 || f.VenueID == ff.Venue) &&
		(len(ff.Provinces) == 0 || slices.Contains(ff.Provinces, f.Province))
}

// Errors of a FeedbackStore.
var (
	ErrFeedbackNotFound = errors.New("feedback not found")
	ErrAlreadyResolved  = errors.New("feedback already resolved")
)

// FeedbackStore is the moderation queue: transactional state, in the
// embedded store in all-in-one and in PostgreSQL in distributed mode
// (store/pgfeedback), shared by every replica. It is safe for concurrent
// use; results belong to the caller.
type FeedbackStore interface {
	// AddFeedback stores f as a new open report and returns it with its
	// id: 1, 2, … in the order reports were added, never reused.
	AddFeedback(ctx context.Context, f Feedback) (Feedback, error)
	// ListFeedback returns the reports that match, in id order.
	ListFeedback(ctx context.Context, f FeedbackFilter) ([]Feedback, error)
	// ResolveFeedback marks report id resolved by account by at at, with
	// a note, and returns it. An unknown id is ErrFeedbackNotFound; a
	// report resolved already is left as it was and returned with
	// ErrAlreadyResolved. Of two resolutions at once, one wins.
	ResolveFeedback(ctx context.Context, id uint64, by, note string, at time.Time) (Feedback, error)
	// OpenFeedback counts the open reports of each venue that has any.
	OpenFeedback(ctx context.Context) (map[uint32]int, error)
}
