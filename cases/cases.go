// Package cases is the registry of confirmed cases (F0s): who, in which
// province, confirmed when, with onset and sample times when known (DESIGN
// "Cases"). A registered case's province is the jurisdiction of lookups of
// it, and its infectious window is the default window of its exposures.
package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/truyvet/truyvet/province"
)

// Local is the time zone of onset dates: Asia/Ho_Chi_Minh, a fixed +07:00.
var Local = time.FixedZone("Asia/Ho_Chi_Minh", 7*3600)

// Case is a registered F0.
type Case struct {
	UserID       uint32     `json:"user_id"`
	Province     string     `json:"province"`
	ConfirmedAt  time.Time  `json:"confirmed_at"`
	Onset        string     `json:"onset,omitempty"`     // local date YYYY-MM-DD
	SampleAt     *time.Time `json:"sample_at,omitempty"` // when the positive sample was taken
	RegisteredBy string     `json:"registered_by"`       // account id
	RegisteredAt time.Time  `json:"registered_at"`
}

// Lookback is how far before confirmation the window starts when neither
// onset nor sample is known.
const Lookback = 14 * 24 * time.Hour

// InfectiousWindow is the Ministry's rule: from two days before onset (the
// start of that local day), or before the sample when there is no onset,
// until confirmation; with neither, the Lookback before confirmation.
func (c Case) InfectiousWindow() (from, to time.Time) {
	to = c.ConfirmedAt
	switch {
	case c.Onset != "":
		d, err := time.ParseInLocation(time.DateOnly, c.Onset, Local)
		if err == nil {
			return d.AddDate(0, 0, -2), to
		}
	case c.SampleAt != nil:
		return c.SampleAt.Add(-48 * time.Hour), to
	}
	return to.Add(-Lookback), to
}

// FieldError names the field at fault and why (reasons as in schemas/event:
// missing_field, invalid_value, invalid_time).
type FieldError struct{ Field, Reason, Detail string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason + ": " + e.Detail }

// Decode reads the body of POST /v1/cases and checks it; now bounds the
// times (no confirmation in the future beyond skew).
func Decode(b []byte, pl *province.List, now time.Time, skew time.Duration) (Case, error) {
	var in struct {
		UserID      *json.Number `json:"user_id"`
		Province    *string      `json:"province"`
		ConfirmedAt *string      `json:"confirmed_at"`
		Onset       *string      `json:"onset"`
		SampleAt    *string      `json:"sample_at"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return Case{}, &FieldError{"body", "invalid_json", "not a JSON object"}
	}
	var c Case
	if in.UserID == nil {
		return c, &FieldError{"user_id", "missing_field", "required"}
	}
	id, err := in.UserID.Int64()
	if err != nil || id < 1 || id > math.MaxUint32 {
		return c, &FieldError{"user_id", "invalid_value", "an integer from 1 to 4294967295"}
	}
	c.UserID = uint32(id)
	if in.Province == nil {
		return c, &FieldError{"province", "missing_field", "required"}
	}
	if !pl.Valid(*in.Province) {
		return c, &FieldError{"province", "invalid_value", "a two-digit province code of the " + pl.Version + " list"}
	}
	c.Province = *in.Province
	if in.ConfirmedAt == nil {
		return c, &FieldError{"confirmed_at", "missing_field", "required"}
	}
	if c.ConfirmedAt, err = time.Parse(time.RFC3339, *in.ConfirmedAt); err != nil {
		return c, &FieldError{"confirmed_at", "invalid_time", "an RFC 3339 time"}
	}
	if c.ConfirmedAt.After(now.Add(skew)) {
		return c, &FieldError{"confirmed_at", "invalid_time", "in the future"}
	}
	c.ConfirmedAt = c.ConfirmedAt.In(Local).Truncate(time.Second)
	if in.Onset != nil && *in.Onset != "" {
		d, err := time.ParseInLocation(time.DateOnly, *in.Onset, Local)
		if err != nil {
			return c, &FieldError{"onset", "invalid_time", "a local date YYYY-MM-DD"}
		}
		if d.After(c.ConfirmedAt) || c.ConfirmedAt.Sub(d) > 60*24*time.Hour {
			return c, &FieldError{"onset", "invalid_time", "not after confirmation, and at most 60 days before it"}
		}
		c.Onset = *in.Onset
	}
	if in.SampleAt != nil && *in.SampleAt != "" {
		t, err := time.Parse(time.RFC3339, *in.SampleAt)
		if err != nil {
			return c, &FieldError{"sample_at", "invalid_time", "an RFC 3339 time"}
		}
		if t.After(c.ConfirmedAt) || c.ConfirmedAt.Sub(t) > 60*24*time.Hour {
			return c, &FieldError{"sample_at", "invalid_time", "not after confirmation, and at most 60 days before it"}
		}
		t = t.In(Local).Truncate(time.Second)
		c.SampleAt = &t
	}
	return c, nil
}

// Errors of a Registry.
var (
	ErrNotFound = errors.New("case not registered")
	ErrConflict = errors.New("case already registered with other details")
)

// Same reports whether a and b register the same facts (who registered
// them, and when, aside).
func Same(a, b Case) bool {
	sameSample := (a.SampleAt == nil) == (b.SampleAt == nil) && (a.SampleAt == nil || a.SampleAt.Equal(*b.SampleAt))
	return a.UserID == b.UserID && a.Province == b.Province && a.ConfirmedAt.Equal(b.ConfirmedAt) &&
		a.Onset == b.Onset && sameSample
}

// Registry keeps cases.
type Registry interface {
	// RegisterCase stores c. Registering the same facts again is a no-op
	// (created false); other facts for a registered id are ErrConflict.
	RegisterCase(ctx context.Context, c Case) (created bool, err error)
	// Case returns the case registered for id, or ErrNotFound.
	Case(ctx context.Context, id uint32) (Case, error)
}

// Locate adapts a Registry to the province lookup the access guard uses.
func Locate(r Registry) func(ctx context.Context, id uint32) (string, bool, error) {
	return func(ctx context.Context, id uint32) (string, bool, error) {
		c, err := r.Case(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return "", false, nil
		case err != nil:
			return "", false, fmt.Errorf("case %d: %w", id, err)
		}
		return c.Province, true, nil
	}
}
