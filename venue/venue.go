// Package venue is the QR system's venue registry contract: the venue record
// and its validation, and the Registry interface that the embedded store
// (store/pebblestore) and PostgreSQL (store/pgvenue) implement and
// venue/venuetest checks. Signed QR codes are in venue/qrsig, posters in
// venue/poster, visitor lists in venue/visitors and the cached copy ingest
// checks against in venue/cache.
package venue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is a venue's kind, from DESIGN's closed set. It is safe as a metric label.
type Kind string

// The venue kinds.
const (
	KindSchool      Kind = "school"
	KindHospital    Kind = "hospital"
	KindClinic      Kind = "clinic"
	KindFactory     Kind = "factory"
	KindOffice      Kind = "office"
	KindMarket      Kind = "market"
	KindSupermarket Kind = "supermarket"
	KindRestaurant  Kind = "restaurant"
	KindCafe        Kind = "cafe"
	KindHotel       Kind = "hotel"
	KindPagoda      Kind = "pagoda"
	KindChurch      Kind = "church"
	KindBusStation  Kind = "bus_station"
	KindAirport     Kind = "airport"
	KindStation     Kind = "station"
	KindOther       Kind = "other"
)

// Kinds lists every Kind in DESIGN's order.
func Kinds() []Kind {
	return []Kind{KindSchool, KindHospital, KindClinic, KindFactory, KindOffice, KindMarket,
		KindSupermarket, KindRestaurant, KindCafe, KindHotel, KindPagoda, KindChurch,
		KindBusStation, KindAirport, KindStation, KindOther}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Spec is what POST /v1/venues takes: a venue to register. ID is 0 for a
// new venue (the registry assigns the next free id) or the id an existing
// registry gave it, to import it.
type Spec struct {
	ID       uint32  `json:"venue_id,omitempty"`
	Name     string  `json:"name"`
	Kind     Kind    `json:"kind"`
	Province string  `json:"province"`
	District string  `json:"district"`
	Commune  string  `json:"commune"`
	Address  string  `json:"address"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
}

// Venue is a registered venue. Seq orders registrations (1, 2, …): a cached
// copy asks for the venues registered after the last Seq it saw.
type Venue struct {
	Spec
	Seq uint64 `json:"-"`
}

// Same reports whether s and o describe the same venue: every field equal,
// the id included. Registering the same venue again is a no-op.
func (s Spec) Same(o Spec) bool { return s == o }

// Bounds of a venue's fields. Vietnam's bounding box takes in its islands
// (Bạch Long Vĩ, Phú Quốc, Côn Đảo, the Spratlys to 117.9 °E).
const (
	MaxNameRunes    = 200
	MaxPlaceRunes   = 100 // district, commune
	MaxAddressRunes = 300
	MinLat          = 8.0
	MaxLat          = 23.5
	MinLon          = 102.0
	MaxLon          = 118.0
)

// Reasons a venue is refused, a closed set like schemas/event's.
const (
	ReasonMissingField = "missing_field"
	ReasonInvalidValue = "invalid_value"
	ReasonTooLarge     = "too_large"
)

// FieldError names the field of a venue at fault and why.
type FieldError struct {
	Field, Reason, Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason + ": " + e.Detail }

// Provinces tells valid province codes; *province.List is one.
type Provinces interface {
	Valid(code string) bool
}

// Validate checks s against DESIGN's rules and the province list. Text is
// kept exactly as sent (Vietnamese in any Unicode normalisation form); it
// must be valid UTF-8 without control characters, and not blank where it is
// required.
func (s Spec) Validate(pl Provinces) error {
	if err := text("name", s.Name, MaxNameRunes, true); err != nil {
		return err
	}
	if s.Kind == "" {
		return &FieldError{"kind", ReasonMissingField, "one of " + kindList()}
	}
	if !s.Kind.Valid() {
		return &FieldError{"kind", ReasonInvalidValue, fmt.Sprintf("%.40q is not one of %s", string(s.Kind), kindList())}
	}
	if s.Province == "" {
		return &FieldError{"province", ReasonMissingField, "a two-digit province code"}
	}
	if !pl.Valid(s.Province) {
		return &FieldError{"province", ReasonInvalidValue, fmt.Sprintf("unknown province code %.10q", s.Province)}
	}
	for _, f := range []struct {
		name, v  string
		max      int
		required bool
	}{{"district", s.District, MaxPlaceRunes, false}, {"commune", s.Commune, MaxPlaceRunes, false}, {"address", s.Address, MaxAddressRunes, true}} {
		if err := text(f.name, f.v, f.max, f.required); err != nil {
			return err
		}
	}
	if err := coordinate("lat", s.Lat, MinLat, MaxLat); err != nil {
		return err
	}
	return coordinate("lon", s.Lon, MinLon, MaxLon)
}

func kindList() string {
	ks := Kinds()
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func text(field, v string, maxRunes int, required bool) error {
	if !utf8.ValidString(v) {
		return &FieldError{field, ReasonInvalidValue, "not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		return &FieldError{field, ReasonTooLarge, fmt.Sprintf("%d characters, at most %d", n, maxRunes)}
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return &FieldError{field, ReasonInvalidValue, "control characters"}
	}
	if required && strings.TrimSpace(v) == "" {
		return &FieldError{field, ReasonMissingField, "required"}
	}
	return nil
}

func coordinate(field string, v, lo, hi float64) error {
	switch {
	case v == 0:
		return &FieldError{field, ReasonMissingField, fmt.Sprintf("between %g and %g (Vietnam)", lo, hi)}
	case math.IsNaN(v) || v < lo || v > hi:
		return &FieldError{field, ReasonInvalidValue, fmt.Sprintf("%g is outside Vietnam (%g to %g)", v, lo, hi)}
	}
	return nil
}

// Errors of a Registry.
var (
	ErrNotFound = errors.New("venue not found")
	ErrConflict = errors.New("venue id is another venue")
	ErrFull     = errors.New("no free venue id")
)

// ConflictError says which spec of a Register call names an id that is
// another venue. It matches ErrConflict.
type ConflictError struct {
	Index int
	ID    uint32
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("venue %d (item %d): %v", e.ID, e.Index, ErrConflict)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Filter selects venues; an empty field matches every venue.
type Filter struct {
	Province string
	Kind     Kind
}

// Match reports whether v passes f.
func (f Filter) Match(v Venue) bool {
	return (f.Province == "" || v.Province == f.Province) && (f.Kind == "" || v.Kind == f.Kind)
}

// Registry keeps the registered venues. Implementations are safe for
// concurrent use; in distributed mode every replica shares one (PostgreSQL).
type Registry interface {
	// Register stores specs, all or none, and returns them as stored, in
	// order. A spec with ID 0 gets the next free id (one more than the
	// greatest so far); one with an ID is stored under that id, or, when
	// the same venue (Spec.Same) is there already, left as it was (a no-op
	// that returns the stored venue). A spec whose ID is another venue fails
	// the whole call with a *ConflictError. Specs must be valid (Validate).
	// Each venue stored gets the next Seq.
	Register(ctx context.Context, specs []Spec) ([]Venue, error)

	// Venue returns one venue, or an error matching ErrNotFound.
	Venue(ctx context.Context, id uint32) (Venue, error)

	// Venues yields the venues that match f, in id order.
	Venues(ctx context.Context, f Filter) iter.Seq2[Venue, error]

	// Since returns at most limit venues whose Seq is greater than seq, in
	// Seq order: what a cached copy that has seen up to seq lacks.
	Since(ctx context.Context, seq uint64, limit int) ([]Venue, error)
}

// Lookup finds a stored venue by id for Plan; ok is false when there is none.
type Lookup func(id uint32) (v Venue, ok bool, err error)

// Plan is Register's rule, for Registry implementations: given the greatest
// id and the last Seq stored and a way to look stored venues up, it returns
// every spec's venue as Register answers it, and the venues to store (new
// ids and imports not yet there), each with its Seq. It is called under the
// implementation's write lock.
func Plan(specs []Spec, maxID uint32, seq uint64, get Lookup) (answer, store []Venue, err error) {
	answer = make([]Venue, len(specs))
	planned := map[uint32]Venue{}
	for i, s := range specs {
		if s.ID == 0 {
			if maxID == math.MaxUint32 {
				return nil, nil, fmt.Errorf("item %d: %w", i, ErrFull)
			}
			s.ID = maxID + 1
		}
		old, ok := planned[s.ID]
		if !ok {
			if old, ok, err = get(s.ID); err != nil {
				return nil, nil, fmt.Errorf("look up venue %d: %w", s.ID, err)
			}
		}
		switch {
		case ok && old.Same(s):
			answer[i] = old
			continue
		case ok:
			return nil, nil, &ConflictError{Index: i, ID: s.ID}
		}
		seq++
		v := Venue{Spec: s, Seq: seq}
		planned[s.ID] = v
		answer[i] = v
		store = append(store, v)
		maxID = max(maxID, s.ID)
	}
	return answer, store, nil
}
