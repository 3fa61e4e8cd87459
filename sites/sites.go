// Package sites is the contract of exposure sites and their alerts (DESIGN
// "Exposure sites and alerts"): a site names a registered venue and a window
// during which people there were exposed; once a second person approves it,
// everyone whose stay at the venue overlaps the window by at least one second
// gets exactly one alert, and a retraction sends each of them one retraction.
//
// The Registry (the sites and their statuses) and the Alerts store (alerts
// sent, in delivery order) are implemented by the embedded store
// (store/pebblestore, all-in-one) and PostgreSQL (store/pgsites,
// distributed); sites/sitestest is their one conformance suite. Fanout sends
// a site's alerts at publication and retraction; Matcher, a decorator of the
// processor's sink, raises the alerts of stays that arrive after publication.
//
// Exactly once per (site, user, type) is by construction: an alert's id is
// derived from the three (AlertID), and the Alerts store keeps the first
// alert of each id and ignores the rest, so replays, restarts and several
// processes sending the same alert store it once.
package sites

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Severity is how close the exposure was, a closed set (safe as a label).
type Severity string

// The severities.
const (
	SeverityClose  Severity = "close"
	SeverityCasual Severity = "casual"
)

// Status is where a site is in its life: draft → published → retracted (a
// draft may be retracted too, before anyone was alerted).
type Status string

// The statuses.
const (
	StatusDraft     Status = "draft"
	StatusPublished Status = "published"
	StatusRetracted Status = "retracted"
)

// Statuses lists every status.
func Statuses() []Status { return []Status{StatusDraft, StatusPublished, StatusRetracted} }

// Bounds of a site.
const (
	MaxWindow      = 14 * 24 * time.Hour // longest window of one site
	MaxAdviceRunes = 1000
	MaxReasonRunes = 500
	// PublicFor is how long after its window ends a published site stays
	// on the public list.
	PublicFor = 14 * 24 * time.Hour
)

// Reasons a site request is refused, a closed set like schemas/event's.
const (
	ReasonMissingField = "missing_field"
	ReasonInvalidValue = "invalid_value"
	ReasonTooLarge     = "too_large"
	ReasonUnknownVenue = "unknown_venue"
)

// FieldError names the field of a request at fault and why.
type FieldError struct {
	Field, Reason, Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason + ": " + e.Detail }

// Spec is what POST /v1/exposure-sites asks for: people at VenueID during
// [From, To] were exposed. CaseID (optional, 0: none) is the case linked to
// the site.
type Spec struct {
	VenueID  uint32
	From, To time.Time
	Severity Severity
	Advice   string
	CaseID   uint32
}

// Validate checks s against DESIGN's rules, given the time now (a window
// may not begin in the future). Whether the venue is registered is the
// caller's check (ReasonUnknownVenue).
func (s Spec) Validate(now time.Time) error {
	switch {
	case s.VenueID == 0:
		return &FieldError{"venue_id", ReasonMissingField, "a registered venue id, 1 or more"}
	case s.From.IsZero():
		return &FieldError{"from", ReasonMissingField, "an RFC 3339 time"}
	case s.To.IsZero():
		return &FieldError{"to", ReasonMissingField, "an RFC 3339 time"}
	case !s.From.Before(s.To):
		return &FieldError{"to", ReasonInvalidValue, "must be after from"}
	case s.To.Sub(s.From) > MaxWindow:
		return &FieldError{"to", ReasonInvalidValue, fmt.Sprintf("window longer than %s", MaxWindow)}
	case s.From.After(now):
		return &FieldError{"from", ReasonInvalidValue, "in the future"}
	case s.Severity == "":
		return &FieldError{"severity", ReasonMissingField, "close or casual"}
	case s.Severity != SeverityClose && s.Severity != SeverityCasual:
		return &FieldError{"severity", ReasonInvalidValue, fmt.Sprintf("%.40q is not close or casual", string(s.Severity))}
	}
	return Text("advice", s.Advice, MaxAdviceRunes, true)
}

// Text checks free text: valid UTF-8, at most maxRunes characters, no
// control characters but newlines and tabs, and not blank when required.
func Text(field, v string, maxRunes int, required bool) error {
	if !utf8.ValidString(v) {
		return &FieldError{field, ReasonInvalidValue, "not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		return &FieldError{field, ReasonTooLarge, fmt.Sprintf("%d characters, at most %d", n, maxRunes)}
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return &FieldError{field, ReasonInvalidValue, "control characters"}
	}
	if required && strings.TrimSpace(v) == "" {
		return &FieldError{field, ReasonMissingField, "required"}
	}
	return nil
}

// Preview is a draft's reach: People is the number of distinct users whose
// stay at the venue overlaps the window by at least one second, Already how
// many of them are close contacts (F1) of the site's case under the default
// definition, and ByHour how many of the people were there during each hour
// of the window (ByHour[i] covers [From+i h, From+(i+1) h)).
type Preview struct {
	People  int   `json:"people"`
	Already int   `json:"already_contacts"`
	ByHour  []int `json:"by_hour"`
}

// Site is a stored exposure site. ID is assigned by the Registry (1, 2, …).
// Swept is when the last complete sweep of its alerts began (publication:
// exposure alerts; retraction: retractions); zero while none finished.
type Site struct {
	ID uint64
	Spec
	Status        Status
	Preview       Preview
	CreatedBy     string // account ids
	ApprovedBy    string
	RetractedBy   string
	RetractReason string
	CreatedAt     time.Time
	PublishedAt   time.Time
	RetractedAt   time.Time
	UpdatedAt     time.Time
	Swept         time.Time
	// LeaseHolder may sweep the site until LeaseUntil (Registry.Lease).
	LeaseHolder string
	LeaseUntil  time.Time
}

// Window is the site's window in Unix seconds, [From, To].
func (s Site) Window() (from, to int64) { return s.From.Unix(), s.To.Unix() }

// Errors of a Registry.
var (
	ErrNotFound   = errors.New("exposure site not found")
	ErrSamePerson = errors.New("the account that created a site cannot approve it")
	ErrState      = errors.New("exposure site is not in a state that allows this")
)

// StateError says which status refused a transition. It matches ErrState.
type StateError struct {
	ID     uint64
	Status Status
	Want   string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("exposure site %d is %s: %s", e.ID, e.Status, e.Want)
}

// Is makes errors.Is(err, ErrState) hold.
func (e *StateError) Is(target error) bool { return target == ErrState }

// Registry keeps exposure sites. Implementations are safe for concurrent
// use; in distributed mode every replica shares one (PostgreSQL), and each
// transition is one transaction, so two approvers racing get one success and
// one StateError.
type Registry interface {
	// Create stores a new draft (s.ID, s.Status and the times but CreatedAt
	// are set by the registry) and returns it as stored.
	Create(ctx context.Context, s Site) (Site, error)

	// Site returns one site, or an error matching ErrNotFound.
	Site(ctx context.Context, id uint64) (Site, error)

	// Approve publishes a draft: ErrSamePerson when by created it, a
	// StateError when it is not a draft.
	Approve(ctx context.Context, id uint64, by string, at time.Time) (Site, error)

	// Retract retracts a draft or a published site; a StateError when it
	// is retracted already.
	Retract(ctx context.Context, id uint64, by, reason string, at time.Time) (Site, error)

	// MarkSwept records that a sweep of the site's alerts that began at
	// began has finished (it keeps the later of the stored and the given time).
	MarkSwept(ctx context.Context, id uint64, began time.Time) error

	// Lease gives holder the site's sweep until until, unless another
	// holder's lease runs past now; it reports whether holder has it. One
	// process at a time sweeps a site, so the Kafka topic does not get
	// every alert once per processor.
	Lease(ctx context.Context, id uint64, holder string, now, until time.Time) (bool, error)

	// Sites yields every site with one of statuses (none: all), in id order.
	Sites(ctx context.Context, statuses ...Status) iter.Seq2[Site, error]
}

// Type is an alert's type.
type Type string

// The alert types.
const (
	TypeExposure   Type = "exposure"
	TypeRetraction Type = "retraction"
)

// Alert is one message to one user about one site.
type Alert struct {
	ID          string    `json:"alert_id"`
	Type        Type      `json:"type"`
	UserID      uint32    `json:"user_id"`
	SiteID      uint64    `json:"site_id"`
	VenueID     uint32    `json:"venue_id"`
	OverlapFrom time.Time `json:"overlap_from"`
	OverlapTo   time.Time `json:"overlap_to"`
	Severity    Severity  `json:"severity"`
	Advice      string    `json:"advice"`
	CreatedAt   time.Time `json:"created_at"`
	// Seq is the alert's place in delivery order, set by the store.
	Seq uint64 `json:"-"`
}

// AlertID is the deterministic id of the alert of type t about site for
// user: every process that raises it names it the same.
func AlertID(t Type, site uint64, user uint32) string {
	p := "e"
	if t == TypeRetraction {
		p = "r"
	}
	return p + "-" + strconv.FormatUint(site, 10) + "-" + strconv.FormatUint(uint64(user), 10)
}

// Alerts stores alerts, each id once, in a delivery order that only grows:
// an alert stored after a reader's cursor is never placed before it.
type Alerts interface {
	// Put stores the alerts whose id is not stored yet, all or none, and
	// returns those it stored (with Seq set), in the order given. An alert
	// whose id is stored already is left as it was, however often it
	// comes back.
	Put(ctx context.Context, as []Alert) ([]Alert, error)

	// After returns at most limit alerts with Seq greater than seq, in Seq
	// order.
	After(ctx context.Context, seq uint64, limit int) ([]Alert, error)

	// Of returns the alerts of type t about site, in Seq order.
	Of(ctx context.Context, site uint64, t Type) ([]Alert, error)

	// Has returns the ids among ids that are stored.
	Has(ctx context.Context, ids []string) (map[string]bool, error)
}

// Store is both halves of the state, as the command line opens it.
type Store interface {
	Registry
	Alerts
}

// ApproveRule is Approve's rule, for Registry implementations: it publishes
// s, approved by by at at, or says why not.
func ApproveRule(s *Site, by string, at time.Time) error {
	switch {
	case s.Status != StatusDraft:
		return &StateError{ID: s.ID, Status: s.Status, Want: "only a draft can be approved"}
	case by == s.CreatedBy:
		return fmt.Errorf("exposure site %d: %w", s.ID, ErrSamePerson)
	}
	s.Status, s.ApprovedBy, s.PublishedAt, s.UpdatedAt = StatusPublished, by, at, at
	return nil
}

// SweptRule is MarkSwept's rule: the later sweep stands, and the lease ends.
func SweptRule(s *Site, began time.Time) {
	if began.After(s.Swept) {
		s.Swept = began
	}
	s.LeaseHolder, s.LeaseUntil = "", time.Time{}
}

// RetractRule is Retract's rule, for Registry implementations.
func RetractRule(s *Site, by, reason string, at time.Time) error {
	if s.Status == StatusRetracted {
		return &StateError{ID: s.ID, Status: s.Status, Want: "retracted already"}
	}
	s.Status, s.RetractedBy, s.RetractReason, s.RetractedAt, s.UpdatedAt = StatusRetracted, by, reason, at, at
	return nil
}

// errLeaseHeld: another holder has the site's sweep.
var errLeaseHeld = errors.New("another process is sweeping the site")

// LeaseRule is Lease's rule, for Registry implementations: it takes the
// lease for holder or returns an error that LeaseHeld recognises.
func LeaseRule(s *Site, holder string, now, until time.Time) error {
	if s.LeaseHolder != "" && s.LeaseHolder != holder && s.LeaseUntil.After(now) {
		return errLeaseHeld
	}
	s.LeaseHolder, s.LeaseUntil = holder, until
	return nil
}

// LeaseHeld reports whether err is LeaseRule's refusal.
func LeaseHeld(err error) bool { return errors.Is(err, errLeaseHeld) }
