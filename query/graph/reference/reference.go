// Package reference is a deliberately naive implementation of the exposure
// graph rules of DESIGN.md ("Data and semantics"). It exists only so that the
// real engine in package graph can be differentially tested against it on
// random data.
//
// Everything here is plain loops over all records: no indexes, no buckets, no
// bitmaps and no code shared with the engine (only the record and result
// types). It is quadratic or worse and meant for a few thousand records.
package reference

import (
	"cmp"
	"slices"

	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// stay is one person's combined stay at a venue, over [start, end).
type stay struct {
	user, venue uint32
	start, end  int64
	imputed     bool // no record had an exit
}

// stayKey is the identity of a stay: records with equal keys are one stay.
type stayKey struct {
	user, venue uint32
	visitID     string
	enter       int64
}

// piece is one non-empty contact interval between two people, [start, end),
// already clipped to the window that counts for the pair. venue is 0 for
// proximity.
type piece struct {
	channel    graph.Channel
	venue      uint32
	vehicle    string // the vehicle channel's vehicle
	start, end int64
}

// trip is one declared trip on a vehicle, [start, end), day the local day of
// its departure.
type trip struct {
	subject    uint32
	vehicle    string
	day        int64
	start, end int64
}

// tripsOf lists the declared trips that name a vehicle.
func tripsOf(ds []event.Declaration) []trip {
	var out []trip
	for _, d := range ds {
		if d.HasTravel && d.Travel.Vehicle != "" {
			out = append(out, trip{subject: d.SubjectID, vehicle: d.Travel.Vehicle, day: (d.Travel.Depart + 7*3600) / 86400,
				start: d.Travel.Depart, end: d.Travel.Arrive})
		}
	}
	return out
}

// pair is the measured contact between a source (the case, or an F1 member)
// and another person.
type pair struct {
	from, to  uint32
	pieces    []piece // the close pieces of the channels that pass
	copresent []piece // every venue piece, close or not (for casual co-presence)
	first     int64   // smallest piece start
	last      int64   // largest piece end
	seconds   int64   // length of the union of the pieces
}

// Exposures computes the exposure graph of q.Case from raw, already-validated
// records. dwell is the default stay length in seconds for a stay with no
// check-out. Result.Stats is left as its zero value.
func Exposures(visits []event.Visit, encounters []event.Encounter, dwell int64, q graph.Query) *graph.Result {
	return ExposuresUnder(visits, encounters, Setting{Dwell: dwell}, q)
}

// Setting is what the reference needs besides the records.
type Setting struct {
	Dwell int64 // default stay length in seconds
	// BucketSeconds is the length of the buckets a crowd cap counts people
	// in (a rule with VenueRule.MaxPresent needs it).
	BucketSeconds int64
	// Kind gives a venue's kind for VenueRule.Kinds; nil: every venue is
	// graph.KindOther.
	Kind func(venue uint32) string
	// Declarations are health declarations: two subjects whose trips name
	// one vehicle on one local day (of departure) are in contact over the
	// overlap of their trips (the channel vehicle).
	Declarations []event.Declaration
}

// ExposuresUnder is Exposures under q.Rule (DESIGN's "Contact definitions"):
// each channel's contact time must pass its own threshold before the union
// of the passing channels is held to q.MinSeconds; encounters under the RSSI
// floor are dropped; co-presence at a venue of a kind the rule leaves out,
// or during a bucket in which more than MaxPresent people had a visit record
// at the venue, is not close; with Casual, everyone else who shared a venue
// with the case is listed at graph.TierCasual.
func ExposuresUnder(visits []event.Visit, encounters []event.Encounter, set Setting, q graph.Query) *graph.Result {
	w := world{
		stays:      foldStays(visits, set.Dwell),
		encounters: encounters,
		rule:       q.Rule,
		crowd:      crowdOf(visits, set),
		kind:       set.Kind,
		trips:      tripsOf(set.Declarations),
	}
	people := everyone(visits, encounters)
	for _, t := range w.trips {
		people = append(people, t.subject)
	}
	slices.Sort(people)
	people = slices.Compact(people)

	res := &graph.Result{Query: q}
	res.Nodes = append(res.Nodes, graph.Node{UserID: q.Case, Tier: 0})

	// Tier 1: every person whose contact with the case over the whole window
	// qualifies.
	var f1Nodes []graph.Node
	var qualifying []pair // every qualifying (source, person) pair, for edges
	var casual []pair     // tier 1's co-presence that is not close
	for _, x := range people {
		if x == q.Case {
			continue
		}
		p := w.measure(q.Case, x, q.Window.From, q.Window.To)
		if !qualifies(p, q.MinSeconds) {
			if len(p.copresent) > 0 {
				casual = append(casual, p)
			}
			continue
		}
		qualifying = append(qualifying, p)
		f1Nodes = append(f1Nodes, graph.Node{
			UserID:          x,
			Tier:            1,
			FirstExposure:   p.first,
			LastExposure:    p.last,
			ExposureSeconds: p.seconds,
			Channels:        channelsOf([]pair{p}),
			ExposedBy:       []uint32{q.Case},
		})
	}
	res.Nodes = append(res.Nodes, f1Nodes...)

	// Tier 2: every person, not the case and not in tier 1, whose contact with
	// some F1 member P over [P.FirstExposure, To] qualifies.
	if q.Depth == 2 {
		inF1 := func(u uint32) bool {
			for _, n := range f1Nodes {
				if n.UserID == u {
					return true
				}
			}
			return false
		}
		for _, x := range people {
			if x == q.Case || inF1(x) {
				continue
			}
			var byX []pair
			for _, src := range f1Nodes {
				p := w.measure(src.UserID, x, src.FirstExposure, q.Window.To)
				if qualifies(p, q.MinSeconds) {
					byX = append(byX, p)
				}
			}
			if len(byX) == 0 {
				continue
			}
			n := graph.Node{UserID: x, Tier: 2, FirstExposure: byX[0].first}
			for _, p := range byX {
				n.FirstExposure = min(n.FirstExposure, p.first)
				n.LastExposure = max(n.LastExposure, p.last)
				n.ExposureSeconds = max(n.ExposureSeconds, p.seconds)
				n.ExposedBy = append(n.ExposedBy, p.from)
			}
			slices.Sort(n.ExposedBy)
			n.Channels = channelsOf(byX)
			res.Nodes = append(res.Nodes, n)
			qualifying = append(qualifying, byX...)
		}
	}

	if q.Rule != nil && q.Rule.Casual {
		for _, p := range casual {
			if !slices.ContainsFunc(res.Nodes, func(n graph.Node) bool { return n.UserID == p.to }) {
				res.Nodes = append(res.Nodes, casualNode(p))
			}
		}
	}
	for _, p := range qualifying {
		res.Edges = append(res.Edges, edgesOf(p)...)
	}
	res.Venues = sitesOf(res.Edges, q.Case)
	res.Timeline = timelineOf(w.stays, encounters, q)

	slices.SortFunc(res.Nodes, func(a, b graph.Node) int {
		return cmp.Or(
			cmp.Compare(a.Tier, b.Tier),
			cmp.Compare(a.FirstExposure, b.FirstExposure),
			cmp.Compare(a.UserID, b.UserID),
		)
	})
	slices.SortFunc(res.Edges, func(a, b graph.Edge) int {
		return cmp.Or(
			cmp.Compare(a.From, b.From),
			cmp.Compare(a.To, b.To),
			cmp.Compare(a.Start, b.Start),
			cmp.Compare(a.Channel, b.Channel),
			cmp.Compare(a.VenueID, b.VenueID),
			cmp.Compare(a.Vehicle, b.Vehicle),
		)
	})
	slices.SortFunc(res.Venues, func(a, b graph.Site) int {
		return cmp.Or(
			cmp.Compare(a.First, b.First),
			cmp.Compare(a.VenueID, b.VenueID),
		)
	})
	return res
}

// foldStays combines visit records into stays. Records that share (user,
// venue, visit_id, enter) are one stay, ending at the largest exit among them,
// or at enter+dwell when none has an exit.
func foldStays(visits []event.Visit, dwell int64) []stay {
	type folded struct {
		hasExit bool
		maxExit int64
	}
	byKey := map[stayKey]folded{}
	var keys []stayKey // first-seen order, so the result does not depend on map order
	for _, v := range visits {
		k := stayKey{user: v.UserID, venue: v.VenueID, visitID: v.VisitID, enter: v.Enter}
		f, seen := byKey[k]
		if !seen {
			keys = append(keys, k)
		}
		if v.Exit != 0 && (!f.hasExit || v.Exit > f.maxExit) {
			f.hasExit = true
			f.maxExit = v.Exit
		}
		byKey[k] = f
	}
	stays := make([]stay, 0, len(keys))
	for _, k := range keys {
		f := byKey[k]
		end := k.enter + dwell
		if f.hasExit {
			end = f.maxExit
		}
		stays = append(stays, stay{user: k.user, venue: k.venue, start: k.enter, end: end, imputed: !f.hasExit})
	}
	return stays
}

// timelineOf is the case's own record in the window: their stays that
// overlap it, and their encounters that do, the overlapping ones with one
// peer merged into one meeting.
func timelineOf(stays []stay, encounters []event.Encounter, q graph.Query) graph.Timeline {
	var tl graph.Timeline
	if q.Window.To <= q.Window.From {
		return tl
	}
	for _, s := range stays {
		if s.user == q.Case && s.end > q.Window.From && s.start < q.Window.To && s.end > s.start {
			tl.Stays = append(tl.Stays, graph.Stay{Venue: s.venue, Imputed: s.imputed, Interval: graph.Interval{Start: s.start, End: s.end}})
		}
	}
	byPeer := map[uint32][]graph.Interval{}
	var peers []uint32
	for _, e := range encounters {
		peer := e.PeerID
		if e.PeerID == q.Case {
			peer = e.UserID
		} else if e.UserID != q.Case {
			continue
		}
		iv := graph.Interval{Start: e.Start, End: e.Start + int64(e.DurationS)}
		if iv.End <= q.Window.From || iv.Start >= q.Window.To {
			continue
		}
		if _, ok := byPeer[peer]; !ok {
			peers = append(peers, peer)
		}
		byPeer[peer] = append(byPeer[peer], iv)
	}
	for _, p := range peers {
		for _, iv := range union(byPeer[p]) {
			tl.Contacts = append(tl.Contacts, graph.Contact{Peer: p, Interval: iv})
		}
	}
	slices.SortFunc(tl.Stays, func(a, b graph.Stay) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.End, b.End))
	})
	slices.SortFunc(tl.Contacts, func(a, b graph.Contact) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Peer, b.Peer))
	})
	return tl
}

// everyone returns every user id that appears in any record, sorted and
// without duplicates.
func everyone(visits []event.Visit, encounters []event.Encounter) []uint32 {
	var ids []uint32
	for _, v := range visits {
		ids = append(ids, v.UserID)
	}
	for _, e := range encounters {
		ids = append(ids, e.UserID, e.PeerID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// world is the records and the rule a query is measured under.
type world struct {
	stays      []stay
	encounters []event.Encounter
	rule       *graph.Rule
	crowd      func(venue uint32, start, end int64) []crowdPart // nil: no buckets
	kind       func(venue uint32) string
	trips      []trip
}

// crowdPart is the part of an interval at a venue within one bucket, and
// how many people had a visit record at the venue covering that bucket.
type crowdPart struct {
	start, end int64
	present    int
}

// crowdOf returns a function cutting an interval at a venue into its parts
// in each bucket, each with the people present there then.
func crowdOf(visits []event.Visit, set Setting) func(venue uint32, start, end int64) []crowdPart {
	if set.BucketSeconds <= 0 {
		return nil
	}
	return func(venue uint32, start, end int64) []crowdPart {
		var parts []crowdPart
		for b := start / set.BucketSeconds; b*set.BucketSeconds < end; b++ {
			lo, hi := b*set.BucketSeconds, (b+1)*set.BucketSeconds
			var users []uint32
			for _, v := range visits {
				vend := v.Enter + set.Dwell
				if v.Exit != 0 {
					vend = v.Exit
				}
				if v.VenueID == venue && v.Enter < hi && vend > lo && !slices.Contains(users, v.UserID) {
					users = append(users, v.UserID)
				}
			}
			parts = append(parts, crowdPart{start: max(start, lo), end: min(end, hi), present: len(users)})
		}
		return parts
	}
}

// measure collects every contact interval between a and b clipped to
// [lo, hi), dropping empty ones, applies the rule, and measures what is left.
func (w world) measure(a, b uint32, lo, hi int64) pair {
	p := pair{from: a, to: b}
	var all []piece
	for _, sa := range w.stays {
		if sa.user != a {
			continue
		}
		for _, sb := range w.stays {
			if sb.user != b || sb.venue != sa.venue {
				continue
			}
			start := max(sa.start, sb.start, lo)
			end := min(sa.end, sb.end, hi)
			if end > start {
				pc := piece{channel: graph.ChannelVenue, venue: sa.venue, start: start, end: end}
				p.copresent = append(p.copresent, pc)
				all = append(all, w.closeParts(pc)...)
			}
		}
	}
	for _, e := range w.encounters {
		if (e.UserID != a || e.PeerID != b) && (e.UserID != b || e.PeerID != a) {
			continue
		}
		if r := w.rule; r != nil && (r.Proximity == nil || (r.Proximity.HasMinRSSI && e.HasRSSI && e.RSSI < r.Proximity.MinRSSI)) {
			continue
		}
		start := max(e.Start, lo)
		end := min(e.Start+int64(e.DurationS), hi)
		if end > start {
			all = append(all, piece{channel: graph.ChannelProximity, start: start, end: end})
		}
	}
	if w.rule == nil || w.rule.Vehicle != nil {
		for _, ta := range w.trips {
			if ta.subject != a {
				continue
			}
			for _, tb := range w.trips {
				if tb.subject != b || tb.vehicle != ta.vehicle || tb.day != ta.day {
					continue
				}
				start := max(ta.start, tb.start, lo)
				end := min(ta.end, tb.end, hi)
				if end > start {
					all = append(all, piece{channel: graph.ChannelVehicle, vehicle: ta.vehicle, start: start, end: end})
				}
			}
		}
	}
	// Each channel on its own first: only the channels that pass count.
	for _, ch := range []graph.Channel{graph.ChannelProximity, graph.ChannelVenue, graph.ChannelVehicle} {
		var ivs []graph.Interval
		for _, pc := range all {
			if pc.channel == ch {
				ivs = append(ivs, graph.Interval{Start: pc.start, End: pc.end})
			}
		}
		total := int64(0)
		for _, iv := range union(ivs) {
			total += iv.End - iv.Start
		}
		if total == 0 || total < w.channelMin(ch) {
			continue
		}
		for _, pc := range all {
			if pc.channel == ch {
				p.pieces = append(p.pieces, pc)
			}
		}
	}
	var ivs []graph.Interval
	for i, pc := range p.pieces {
		if i == 0 || pc.start < p.first {
			p.first = pc.start
		}
		p.last = max(p.last, pc.end)
		ivs = append(ivs, graph.Interval{Start: pc.start, End: pc.end})
	}
	for _, iv := range union(ivs) {
		p.seconds += iv.End - iv.Start
	}
	return p
}

// closeParts returns the parts of venue piece pc that the rule counts as
// close: none at a venue whose kind it leaves out, none in a bucket with
// more people present than its cap.
func (w world) closeParts(pc piece) []piece {
	r := w.rule
	if r == nil {
		return []piece{pc}
	}
	if r.Venue == nil {
		return nil
	}
	if r.Venue.Kinds != nil {
		kind := graph.KindOther
		if w.kind != nil && w.kind(pc.venue) != "" {
			kind = w.kind(pc.venue)
		}
		if !slices.Contains(r.Venue.Kinds, kind) {
			return nil
		}
	}
	if r.Venue.MaxPresent <= 0 || w.crowd == nil {
		return []piece{pc}
	}
	var out []piece
	for _, part := range w.crowd(pc.venue, pc.start, pc.end) {
		if part.present <= r.Venue.MaxPresent {
			out = append(out, piece{channel: pc.channel, venue: pc.venue, start: part.start, end: part.end})
		}
	}
	return out
}

// channelMin is a channel's own threshold under the rule.
func (w world) channelMin(ch graph.Channel) int64 {
	switch {
	case w.rule == nil:
		return 0
	case ch == graph.ChannelProximity:
		return w.rule.Proximity.MinSeconds
	case ch == graph.ChannelVehicle:
		return w.rule.Vehicle.MinSeconds
	default:
		return w.rule.Venue.MinSeconds
	}
}

// casualNode is the casual co-presence of the case with p.to.
func casualNode(p pair) graph.Node {
	n := graph.Node{UserID: p.to, Tier: graph.TierCasual, Channels: []graph.Channel{graph.ChannelVenue}, ExposedBy: []uint32{p.from}}
	var ivs []graph.Interval
	for i, pc := range p.copresent {
		if i == 0 || pc.start < n.FirstExposure {
			n.FirstExposure = pc.start
		}
		n.LastExposure = max(n.LastExposure, pc.end)
		ivs = append(ivs, graph.Interval{Start: pc.start, End: pc.end})
		if !slices.Contains(n.Venues, pc.venue) {
			n.Venues = append(n.Venues, pc.venue)
		}
	}
	slices.Sort(n.Venues)
	for _, iv := range union(ivs) {
		n.ExposureSeconds += iv.End - iv.Start
	}
	return n
}

// qualifies reports whether a pair's contact passes the threshold: at least
// minSeconds and longer than zero.
func qualifies(p pair, minSeconds int64) bool {
	return p.seconds > 0 && p.seconds >= minSeconds
}

// union returns the maximal intervals of the union of ivs, sorted by Start.
// Intervals that overlap or touch (next.Start <= current.End) are merged.
// ivs is not modified.
func union(ivs []graph.Interval) []graph.Interval {
	sorted := slices.Clone(ivs)
	slices.SortFunc(sorted, func(a, b graph.Interval) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End))
	})
	var out []graph.Interval
	for _, iv := range sorted {
		if iv.End <= iv.Start {
			continue
		}
		if n := len(out); n > 0 && iv.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, iv.End)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// channelsOf returns the distinct channels of the pairs' pieces, sorted, or
// nil if there are none.
func channelsOf(pairs []pair) []graph.Channel {
	var chs []graph.Channel
	for _, p := range pairs {
		for _, pc := range p.pieces {
			chs = append(chs, pc.channel)
		}
	}
	slices.Sort(chs)
	return slices.Compact(chs)
}

// edgesOf returns one edge per maximal interval of the union of each channel
// key's pieces of p (proximity, or one venue).
func edgesOf(p pair) []graph.Edge {
	type key struct {
		channel graph.Channel
		venue   uint32
		vehicle string
	}
	var keys []key
	for _, pc := range p.pieces {
		k := key{channel: pc.channel, venue: pc.venue, vehicle: pc.vehicle}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var edges []graph.Edge
	for _, k := range keys {
		var ivs []graph.Interval
		for _, pc := range p.pieces {
			if pc.channel == k.channel && pc.venue == k.venue && pc.vehicle == k.vehicle {
				ivs = append(ivs, graph.Interval{Start: pc.start, End: pc.end})
			}
		}
		for _, iv := range union(ivs) {
			edges = append(edges, graph.Edge{From: p.from, To: p.to, Channel: k.channel, VenueID: k.venue, Vehicle: k.vehicle, Interval: iv})
		}
	}
	return edges
}

// sitesOf returns one site per venue that appears in at least one venue edge.
// Edges from the case are tier 0, every other edge is from an F1 member (tier
// 1). The result is unsorted, or nil if there is no venue edge.
func sitesOf(edges []graph.Edge, caseID uint32) []graph.Site {
	var venues []uint32
	for _, e := range edges {
		if e.Channel == graph.ChannelVenue && !slices.Contains(venues, e.VenueID) {
			venues = append(venues, e.VenueID)
		}
	}
	var sites []graph.Site
	for _, v := range venues {
		s := graph.Site{VenueID: v}
		var exposed []uint32
		seen := false
		for _, e := range edges {
			if e.Channel != graph.ChannelVenue || e.VenueID != v {
				continue
			}
			tier := 1
			if e.From == caseID {
				tier = 0
			}
			if !seen {
				s.Tier, s.First, s.Last = tier, e.Start, e.End
				seen = true
			}
			s.Tier = min(s.Tier, tier)
			s.First = min(s.First, e.Start)
			s.Last = max(s.Last, e.End)
			if !slices.Contains(exposed, e.To) {
				exposed = append(exposed, e.To)
			}
		}
		s.Exposed = len(exposed)
		sites = append(sites, s)
	}
	return sites
}
