// Package graph is the exposure engine: given a confirmed case (F0), it finds
// the close contacts (F1) and their contacts (F2) exactly as DESIGN.md's "Data
// and semantics" section defines them. Co-location bitmaps narrow the search
// to candidates; every answer is then refined from the raw stays and
// encounters, to the second. The engine does no I/O of its own: it reads
// through the Store interface and returns plain values.
package graph

import (
	"context"
	"iter"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/truyvet/truyvet/index/bucket"
)

// Window is the closed interval [From, To] of Unix seconds a query covers.
type Window struct {
	From, To int64
}

// Interval is the half-open interval [Start, End) of Unix seconds.
type Interval struct {
	Start, End int64
}

// Len is the length of the interval in seconds, 0 if it is empty.
func (iv Interval) Len() int64 {
	if iv.End <= iv.Start {
		return 0
	}
	return iv.End - iv.Start
}

// Clip returns iv cut to w. The result may be empty.
func (iv Interval) Clip(w Window) Interval {
	if iv.Start < w.From {
		iv.Start = w.From
	}
	if iv.End > w.To {
		iv.End = w.To
	}
	return iv
}

// Stay is one person's combined stay at a venue: all visit records that share
// a stay's identity (user, venue, visit_id, enter), folded by the visit rule.
type Stay struct {
	Venue uint32
	// Imputed is true when no record of the stay carried an exit: it ends
	// after the default dwell, an assumption a tracer should see as such.
	Imputed bool
	Interval
}

// Contact is one encounter seen from one person's side: they met Peer.
// RSSI is the reported signal strength (dBm) when HasRSSI.
type Contact struct {
	Peer    uint32
	RSSI    int8
	HasRSSI bool
	Interval
}

// AppendContact appends c to cs, a user's encounters in store order, folding
// it into the last one when both are the same meeting (same peer and
// interval: resends, both phones): the folded one keeps the strongest
// signal, and no signal at all counts as strongest, so a rule's RSSI floor
// keeps the meeting exactly when it keeps one of its reports.
func AppendContact(cs []Contact, c Contact) []Contact {
	n := len(cs)
	if n == 0 || cs[n-1].Peer != c.Peer || cs[n-1].Interval != c.Interval {
		return append(cs, c)
	}
	last := &cs[n-1]
	switch {
	case !last.HasRSSI:
	case !c.HasRSSI:
		last.HasRSSI, last.RSSI = false, 0
	default:
		last.RSSI = max(last.RSSI, c.RSSI)
	}
	return cs
}

// UserStays are one user's stays, sorted by Start.
type UserStays struct {
	User  uint32
	Stays []Stay
}

// UserContacts are one user's encounters, from both phones' reports, sorted by Start.
type UserContacts struct {
	User     uint32
	Contacts []Contact
}

// Store is what the engine reads. Implementations: the embedded store
// (all-in-one) and the ClickHouse store (distributed). They must be safe for
// concurrent use: one query may read through several iterators at once.
type Store interface {
	// Layout is the bucketing the store's index was built with.
	Layout() bucket.Layout

	// Stays yields, for each user of users (sorted ascending, no duplicates)
	// that has any, that user's stays that may overlap w, combined by the visit
	// rule (bucket.Layout.StayEnd) and sorted by Start. It may yield stays that turn
	// out not to overlap w; it never leaves out one that does. The yielded
	// slices are valid only until the next iteration.
	Stays(ctx context.Context, users []uint32, w Window) iter.Seq2[UserStays, error]

	// Contacts yields, for each user of users (sorted ascending, no duplicates)
	// that has any, the encounters in which the user is either side and that
	// may overlap w, sorted by Start, under the same terms as Stays.
	Contacts(ctx context.Context, users []uint32, w Window) iter.Seq2[UserContacts, error]

	// Present returns the union of the co-location bitmaps of the given
	// ranges: every user indexed at one of those venues during one of those
	// buckets. The caller owns the result.
	Present(ctx context.Context, ranges []bucket.Range) (*roaring.Bitmap, error)
}

// PersonStore is a Store that reads one person's stays and encounters
// together, in one round trip. The engine reads the case so, first thing in
// every query; over a network each round trip is latency the answer waits
// for.
type PersonStore interface {
	Store

	// Person returns user's stays and encounters that may overlap w, as
	// Stays and Contacts would yield them. The caller owns the slices.
	Person(ctx context.Context, user uint32, w Window) ([]Stay, []Contact, error)
}

// Since is a user and the start of the window their records are asked over.
type Since struct {
	User uint32
	From int64
}

// SinceStore is a Store that reads each of many users over a window of its
// own, [From, to]. The second tier's sources count contact from their own
// first exposure on (DESIGN: F2), so over a 14-day window most of them need
// only the days after it; a store that read every one of them on every day
// of the widest window would pay for (user, day) ranges no answer uses.
type SinceStore interface {
	Store

	// StaysSince yields, for each of users (sorted by User, no duplicates)
	// that has any, its stays that may overlap [From, to], as Stays would
	// yield them over that window.
	StaysSince(ctx context.Context, users []Since, to int64) iter.Seq2[UserStays, error]

	// ContactsSince is Contacts with a window per user, as StaysSince is to
	// Stays.
	ContactsSince(ctx context.Context, users []Since, to int64) iter.Seq2[UserContacts, error]
}

// Visitor is one person's combined stay at a venue, seen from the venue.
type Visitor struct {
	User uint32
	Interval
}

// VenueSpans asks for the stays at one venue that overlap any of Spans
// (sorted by Start, disjoint).
type VenueSpans struct {
	Venue uint32
	Spans []Interval
}

// Overlaps reports whether iv overlaps one of v's spans.
func (v VenueSpans) Overlaps(iv Interval) bool {
	i, _ := slices.BinarySearchFunc(v.Spans, iv.Start, func(sp Interval, t int64) int {
		if sp.End <= t {
			return -1
		}
		return 1
	})
	return i < len(v.Spans) && v.Spans[i].Start < iv.End && iv.Start < iv.End
}

// VenueVisitors are the stays at one venue, sorted by Start.
type VenueVisitors struct {
	Venue    uint32
	Visitors []Visitor
}

// VenueStore is a Store that also keeps its stays in venue order. For the
// second tier, whose sources share many venues, one sequential read per
// venue and day costs less than one seek per candidate, and it needs no
// bitmaps: every stay at a source's venue is read and measured.
type VenueStore interface {
	Store

	// Visitors yields, for each venue of venues (sorted by Venue, no
	// duplicates) that has any, its stays that may overlap one of that
	// venue's spans, combined by the visit rule, sorted by Start. It may
	// yield stays that turn out not to overlap; it never leaves out one that
	// does. The yielded slices are valid only until the next iteration.
	Visitors(ctx context.Context, venues []VenueSpans) iter.Seq2[VenueVisitors, error]
}

// Channel is how two people were in contact.
type Channel uint8

// Channels, in the order they sort.
const (
	ChannelProximity Channel = 1 // a Bluetooth encounter
	ChannelVenue     Channel = 2 // overlapping stays at one venue
	ChannelVehicle   Channel = 3 // declared trips on one vehicle on one local day
)

func (c Channel) String() string {
	switch c {
	case ChannelProximity:
		return "proximity"
	case ChannelVenue:
		return "venue"
	case ChannelVehicle:
		return "vehicle"
	default:
		return "unknown"
	}
}

// Query asks for the exposure graph of a case.
type Query struct {
	Case       uint32
	Window     Window
	Depth      int   // 1 or 2
	MinSeconds int64 // threshold; a contact must also be longer than zero

	// ContactsOnly asks for the contact list alone: the nodes, each with the
	// venues of its qualifying contacts, and no edges or exposure sites.
	// Field teams' lists need no more, and a large graph's edges (one per
	// pair and episode) cost more than its people.
	ContactsOnly bool

	// Rule is the contact definition's rule; nil is the default rule.
	Rule *Rule
}

// Node is a person in the graph. The case has Tier 0, FirstExposure 0,
// LastExposure 0 and ExposureSeconds 0. A casual node (TierCasual, only
// under a Rule with Casual) was co-present with the case at a venue without
// being a close contact: FirstExposure and LastExposure bound and
// ExposureSeconds measures that co-presence, ExposedBy is the case, Venues
// where (in both kinds of answer), and it has no edges.
type Node struct {
	UserID        uint32
	Tier          int
	FirstExposure int64
	// LastExposure is the latest end of the qualifying contact intervals
	// (those counted in ExposureSeconds, for F2 over every qualifying F1
	// member): quarantine is dated from it.
	LastExposure    int64
	ExposureSeconds int64
	Channels        []Channel // sorted, distinct; the channels of qualifying contacts
	ExposedBy       []uint32  // sorted; the case for F1, the qualifying F1 members for F2
	// Venues are, for a ContactsOnly query, the sorted, distinct venues of
	// the qualifying contacts; a full graph leaves them nil and names them on
	// its edges.
	Venues []uint32
}

// Edge is one episode of contact through one channel: a maximal interval of
// the union of the channel's contact intervals between From (the earlier
// tier) and To, clipped to the window that counts for that pair. VenueID is 0
// but for the venue channel, Vehicle "" but for the vehicle channel.
type Edge struct {
	From, To uint32
	Channel  Channel
	VenueID  uint32
	Vehicle  string
	Interval
}

// Trip is one declared trip on a vehicle (a health declaration's travel):
// Subject was on Vehicle (normalised) over [Depart, Arrive), Day the local
// day of Depart. Two subjects' trips on one vehicle and day put them in
// contact over their overlap (the channel vehicle).
type Trip struct {
	Subject uint32
	Vehicle string
	Day     bucket.Day
	Interval
}

// VehicleDay names one vehicle on one local day.
type VehicleDay struct {
	Vehicle string
	Day     bucket.Day
}

// TripStore is a Store that also keeps declared trips. A store without
// them gives no contact through the vehicle channel.
type TripStore interface {
	// UserTrips returns the trips of users (sorted, no duplicates) that may
	// overlap w: every one that does, perhaps more, each once, in any order.
	UserTrips(ctx context.Context, users []uint32, w Window) ([]Trip, error)
	// VehicleTrips returns every trip on the vehicles on their days, each
	// once, in any order.
	VehicleTrips(ctx context.Context, vehicles []VehicleDay) ([]Trip, error)
}

// Site is a venue where an exposure happened, for publishing exposure sites.
type Site struct {
	VenueID uint32
	Tier    int   // tier of the earliest source there: 0 where the case exposed people
	First   int64 // earliest edge start at the venue
	Last    int64 // latest edge end at the venue
	Exposed int   // distinct people exposed there
}

// Stats describe the work a query did.
type Stats struct {
	CandidatesF1 int
	CandidatesF2 int
	BitmapRanges int
	StaysRead    int
	VisitorsRead int // stays read in venue order (VenueStore)
	ContactsRead int
	StageNanos   map[string]int64
}

// Result is an exposure graph. Nodes are sorted by (Tier, FirstExposure,
// UserID); Edges by (From, To, Start, Channel, VenueID); Venues by (First, VenueID).
// The caller owns it: no slice of it is shared with another result or kept
// by the engine, and no two nodes' slices overlap, so any of them may be
// written to or appended to.
type Result struct {
	Query  Query
	Nodes  []Node
	Edges  []Edge
	Venues []Site
	// Timeline is the case's own record in the window: where they were and
	// whom their phone met, the tracer's starting point.
	Timeline Timeline
	Stats    Stats
}

// Timeline is the case's stays overlapping the window, sorted by (Start,
// Venue, End), and
// their encounters overlapping it, sorted by (Start, Peer), each meeting once
// however many phones reported it (overlapping encounters with one peer are
// merged). Neither is clipped to the window.
type Timeline struct {
	Stays    []Stay
	Contacts []Contact
}
