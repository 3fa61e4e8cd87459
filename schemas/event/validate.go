package event

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Reason is the closed set of rejection causes. It is used as a metric label,
// so it must never carry data from the record.
type Reason string

// Rejection reasons.
const (
	ReasonInvalidJSON   Reason = "invalid_json"      // the record is not a JSON object
	ReasonMissingField  Reason = "missing_field"     // a required field is absent, null or empty (a zero id in the binary wire format, which cannot tell absent from zero)
	ReasonInvalidValue  Reason = "invalid_value"     // a field has the wrong type or is out of range
	ReasonInvalidTime   Reason = "invalid_time"      // unparseable or impossible time
	ReasonFutureTime    Reason = "future_time"       // later than now plus the allowed clock skew
	ReasonExpired       Reason = "expired"           // older than the retention window
	ReasonSelfEncounter Reason = "self_encounter"    // a phone reporting itself
	ReasonTooLarge      Reason = "too_large"         // a field or record over its size limit
	ReasonBadSignature  Reason = "invalid_signature" // a venue_code whose signature does not verify
	ReasonUnknownVenue  Reason = "unknown_venue"     // a venue the registry does not have
)

// Reasons lists every Reason, for pre-registering metric series.
var Reasons = []Reason{
	ReasonInvalidJSON, ReasonMissingField, ReasonInvalidValue, ReasonInvalidTime,
	ReasonFutureTime, ReasonExpired, ReasonSelfEncounter, ReasonTooLarge,
	ReasonBadSignature, ReasonUnknownVenue,
}

// ValidationError says why a record was rejected: which field, and why.
type ValidationError struct {
	Field  string // JSON field name; empty when the record as a whole is at fault
	Reason Reason
	Detail string // human-readable, without the field name
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

func invalid(field string, r Reason, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason carried by err, or ReasonInvalidValue when err is
// not a *ValidationError.
func ReasonOf(err error) Reason {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ReasonInvalidValue
}

// Limits are the bounds a record must respect. The zero value is not usable;
// start from DefaultLimits.
type Limits struct {
	Retention    time.Duration // records starting before now-Retention are rejected
	MaxFuture    time.Duration // allowed clock skew into the future
	MaxStay      time.Duration // longest stay or encounter
	MaxIDBytes   int           // visit_id, encounter_id
	MaxTextBytes int           // source
}

// Default bounds, from DESIGN.md's API section.
const (
	DefaultRetention    = 28 * 24 * time.Hour
	DefaultMaxFuture    = 5 * time.Minute
	DefaultMaxStay      = 24 * time.Hour
	DefaultMaxIDBytes   = 128
	DefaultMaxTextBytes = 64
	MinRSSI             = -127
	MaxRSSI             = 20
)

// DefaultLimits returns the limits DESIGN.md prescribes.
func DefaultLimits() Limits {
	return Limits{
		Retention:    DefaultRetention,
		MaxFuture:    DefaultMaxFuture,
		MaxStay:      DefaultMaxStay,
		MaxIDBytes:   DefaultMaxIDBytes,
		MaxTextBytes: DefaultMaxTextBytes,
	}
}

// checkTimes rejects a start time in the future or before retention. A zero
// now skips both: see ValidateVisit.
func (l *Limits) checkTimes(field string, t int64, now time.Time) *ValidationError {
	if now.IsZero() {
		return nil
	}
	if t > now.Add(l.MaxFuture).Unix() {
		return invalid(field, ReasonFutureTime, "more than %s in the future", l.MaxFuture)
	}
	if t < now.Add(-l.Retention).Unix() {
		return invalid(field, ReasonExpired, "older than the retention window (%s)", l.Retention)
	}
	return nil
}

func (l *Limits) checkID(field, id string) *ValidationError {
	switch {
	case id == "":
		return invalid(field, ReasonMissingField, "missing or empty")
	case len(id) > l.MaxIDBytes:
		return invalid(field, ReasonTooLarge, "longer than %d bytes", l.MaxIDBytes)
	case !utf8.ValidString(id):
		return invalid(field, ReasonInvalidValue, "not valid UTF-8")
	}
	return nil
}

func (l *Limits) checkSource(s string) *ValidationError {
	switch {
	case len(s) > l.MaxTextBytes:
		return invalid("source", ReasonTooLarge, "longer than %d bytes", l.MaxTextBytes)
	case !utf8.ValidString(s):
		return invalid("source", ReasonInvalidValue, "not valid UTF-8")
	}
	return nil
}

// ValidateVisit returns nil or a *ValidationError naming the first field at fault.
// With a zero now it skips the checks against the clock (future, expired): a
// processor re-checking a record that ingest accepted earlier must not reject
// it because time has passed.
func (l *Limits) ValidateVisit(v *Visit, now time.Time) error {
	if err := l.checkID("visit_id", v.VisitID); err != nil {
		return err
	}
	if v.UserID == 0 {
		return invalid("user_id", ReasonMissingField, "missing or zero")
	}
	if v.VenueID == 0 {
		return invalid("venue_id", ReasonMissingField, "missing or zero")
	}
	if v.Enter == 0 {
		return invalid("enter", ReasonMissingField, "missing")
	}
	if err := l.checkTimes("enter", v.Enter, now); err != nil {
		return err
	}
	if v.HasExit() {
		if v.Exit < v.Enter {
			return invalid("exit", ReasonInvalidTime, "before enter")
		}
		if v.Exit-v.Enter > int64(l.MaxStay/time.Second) {
			return invalid("exit", ReasonInvalidTime, "stay longer than %s", l.MaxStay)
		}
		if !now.IsZero() && v.Exit > now.Add(l.MaxFuture).Unix() {
			return invalid("exit", ReasonFutureTime, "more than %s in the future", l.MaxFuture)
		}
	}
	if err := l.checkSource(v.Source); err != nil {
		return err
	}
	return nil
}

// ValidateEncounter returns nil or a *ValidationError naming the first field at
// fault. A zero now skips the checks against the clock, as for ValidateVisit.
func (l *Limits) ValidateEncounter(e *Encounter, now time.Time) error {
	if err := l.checkID("encounter_id", e.EncounterID); err != nil {
		return err
	}
	if e.UserID == 0 {
		return invalid("user_id", ReasonMissingField, "missing or zero")
	}
	if e.PeerID == 0 {
		return invalid("peer_id", ReasonMissingField, "missing or zero")
	}
	if e.PeerID == e.UserID {
		return invalid("peer_id", ReasonSelfEncounter, "equals user_id (self-encounter)")
	}
	if e.Start == 0 {
		return invalid("start", ReasonMissingField, "missing")
	}
	if err := l.checkTimes("start", e.Start, now); err != nil {
		return err
	}
	if e.DurationS == 0 {
		return invalid("duration_s", ReasonInvalidValue, "must be positive")
	}
	if int64(e.DurationS) > int64(l.MaxStay/time.Second) {
		return invalid("duration_s", ReasonInvalidTime, "longer than %s", l.MaxStay)
	}
	if !now.IsZero() && e.End() > now.Add(l.MaxFuture).Unix() {
		return invalid("duration_s", ReasonFutureTime, "encounter ends more than %s in the future", l.MaxFuture)
	}
	if e.HasRSSI && (e.RSSI < MinRSSI || e.RSSI > MaxRSSI) {
		return invalid("rssi", ReasonInvalidValue, "must be between %d and %d dBm", MinRSSI, MaxRSSI)
	}
	if err := l.checkSource(e.Source); err != nil {
		return err
	}
	return nil
}
