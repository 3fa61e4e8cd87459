package graph

import (
	"context"
	"slices"

	"github.com/truyvet/truyvet/index/bucket"
)

// Rule is a contact definition as the engine applies it (DESIGN's "Contact
// definitions"): per-channel thresholds, which venue kinds and how crowded a
// bucket may be for co-presence to be close, the weakest encounter that
// counts, and whether casual co-presence is listed. A nil *Rule on a Query is
// the default rule: every channel counts, no gate of its own, no casual list.
//
// A pair's contact is measured channel by channel first: a channel passes
// when its own contact time (the union of that channel's intervals) is
// positive and at least its MinSeconds. The pair qualifies when the union of
// the passing channels' intervals reaches the Query's MinSeconds.
type Rule struct {
	Proximity *ProximityRule // nil: encounters make no close contact
	Venue     *VenueRule     // nil: co-presence makes no close contact
	// Vehicle is the threshold for shared vehicles (the trips of health
	// declarations, from a TripStore); nil: co-travel makes no close contact.
	Vehicle *ChannelRule
	// Casual lists the people co-present with the case at a venue who are
	// not close contacts, at TierCasual, never traced further.
	Casual bool
}

// ChannelRule is a channel's own threshold.
type ChannelRule struct {
	MinSeconds int64
}

// ProximityRule gates encounters.
type ProximityRule struct {
	MinSeconds int64
	// MinRSSI, when HasMinRSSI, drops encounters reported weaker than it
	// (dBm); encounters without an RSSI count.
	MinRSSI    int8
	HasMinRSSI bool
}

// VenueRule gates co-presence at venues.
type VenueRule struct {
	MinSeconds int64
	// Kinds, when not nil, are the venue kinds whose co-presence can be close
	// (see VenueKinds); co-presence elsewhere is casual.
	Kinds []string
	// MaxPresent, when positive, makes co-presence during a bucket in which
	// more people than this were indexed at the venue casual (see Crowds).
	MaxPresent int
}

// TierCasual is the tier of casual co-presence: after F2, so answers sort
// it last.
const TierCasual = 3

// KindOther is the kind of a venue the registry does not know.
const KindOther = "other"

// VenueKinds tells the engine what kind of place each venue is, for
// VenueRule.Kinds. Kinds returns one kind per venue, in order; a venue it
// does not know is KindOther ("" reads as KindOther too). Until an engine is
// given one (see WithVenueKinds), every venue is KindOther.
type VenueKinds interface {
	Kinds(ctx context.Context, venues []uint32) ([]string, error)
}

// CrowdStore is a Store that also counts the people indexed per (venue,
// bucket): the cardinality of each co-location bitmap, for
// VenueRule.MaxPresent.
type CrowdStore interface {
	// Crowds returns the number of people indexed at each (venue, bucket) of
	// ranges that has any. The caller owns the map.
	Crowds(ctx context.Context, ranges []bucket.Range) (map[bucket.Key]int, error)
}

// WithVenueKinds sets where the engine learns venues' kinds.
func WithVenueKinds(k VenueKinds) Option {
	return func(e *Engine) { e.kinds = k }
}

// plain reports whether r gives exactly the default rule's answers, so the
// engine can take its default path.
func (r *Rule) plain() bool {
	return r == nil || (!r.Casual && r.Proximity != nil && r.Venue != nil &&
		r.Proximity.MinSeconds <= 0 && !r.Proximity.HasMinRSSI && r.Vehicle != nil && r.Vehicle.MinSeconds <= 0 &&
		r.Venue.MinSeconds <= 0 && r.Venue.Kinds == nil && r.Venue.MaxPresent <= 0)
}

// vehicles reports whether co-travel counts under r (nil: the default rule).
func (r *Rule) vehicles() bool { return r == nil || r.Vehicle != nil }

// passes reports whether an encounter counts under r.
func (r *Rule) passes(c Contact) bool {
	p := r.Proximity
	return p != nil && (!p.HasMinRSSI || !c.HasRSSI || c.RSSI >= p.MinRSSI)
}

// allows reports whether co-presence at a venue of kind can be close.
func (r *Rule) allows(kind string) bool {
	if r.Venue == nil {
		return false
	}
	if r.Venue.Kinds == nil {
		return true
	}
	if kind == "" {
		kind = KindOther
	}
	return slices.Contains(r.Venue.Kinds, kind)
}

// minSecondsOf is channel c's own threshold under r.
func (r *Rule) minSecondsOf(c Channel) int64 {
	switch {
	case c == ChannelProximity && r.Proximity != nil:
		return r.Proximity.MinSeconds
	case c == ChannelVenue && r.Venue != nil:
		return r.Venue.MinSeconds
	case c == ChannelVehicle && r.Vehicle != nil:
		return r.Vehicle.MinSeconds
	}
	return 0
}
