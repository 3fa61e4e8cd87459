// Package peers holds the alternatives a health department would use instead
// of truyvet to answer the same question — who was in contact with a case
// (F1), and with those people afterwards (F2) — and runs `truyvet bench
// peers` (Run), which times them beside truyvet on the same records and
// checks their answers.
//
// Each peer finds, in its own storage with its own indexes, the contact
// intervals between the case (then each F1 member) and everyone else; the
// DESIGN rules that turn those intervals into the contact list (union,
// clipping, threshold, F2 from each F1's first exposure) are applied by
// Exposures, shared by every peer, so answers differ only if a peer finds
// different contacts. Answers are compared on the contact list: each node's
// user, tier, first exposure, exposure seconds, channels and exposed-by.
package peers

import (
	"cmp"
	"context"
	"slices"

	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Dwell is the assumed stay, in seconds, of a check-in without check-out.
const Dwell = 3600

// Peer answers exposure queries from its own copy of the records.
type Peer interface {
	Name() string
	// Load replaces the peer's records with these.
	Load(ctx context.Context, visits []event.Visit, encounters []event.Encounter) error
	// Contacts returns, for each source user with a lower bound, the
	// contact intervals between that source and anyone else within
	// [lower bound, to), with their channel. Intervals need not be
	// disjoint, clipped or merged.
	Contacts(ctx context.Context, sources map[uint32]int64, to int64) ([]Span, error)
	Close() error
}

// Span is one contact interval between Source and Other.
type Span struct {
	Source, Other uint32
	Start, End    int64
	Channel       graph.Channel
}

// Exposures answers q with p: F1 from the case's contacts, then F2 from the
// F1 members' contacts after their first exposure.
func Exposures(ctx context.Context, p Peer, q graph.Query) ([]graph.Node, error) {
	f1spans, err := p.Contacts(ctx, map[uint32]int64{q.Case: q.Window.From}, q.Window.To)
	if err != nil {
		return nil, err
	}
	nodes := []graph.Node{{UserID: q.Case, Tier: 0}}
	f1 := assemble(f1spans, map[uint32]int64{q.Case: q.Window.From}, q.Window.To, q.MinSeconds, 1, map[uint32]bool{q.Case: true})
	nodes = append(nodes, f1...)
	if q.Depth < 2 || len(f1) == 0 {
		return nodes, nil
	}
	sources := map[uint32]int64{}
	exclude := map[uint32]bool{q.Case: true}
	for _, n := range f1 {
		sources[n.UserID] = n.FirstExposure
		exclude[n.UserID] = true
	}
	f2spans, err := p.Contacts(ctx, sources, q.Window.To)
	if err != nil {
		return nil, err
	}
	return append(nodes, assemble(f2spans, sources, q.Window.To, q.MinSeconds, 2, exclude)...), nil
}

// assemble applies the contact rules to spans found for sources (each with
// its lower bound): per (source, other), the length of the union of the spans
// clipped to [lower, to) must reach minSeconds (and be positive); an other
// qualifying through several sources takes the earliest first exposure and
// the largest exposure over them.
func assemble(spans []Span, sources map[uint32]int64, to, minSeconds int64, tier int, exclude map[uint32]bool) []graph.Node {
	type key struct{ src, other uint32 }
	byPair := map[key][]Span{}
	for _, s := range spans {
		lo, ok := sources[s.Source]
		if !ok || exclude[s.Other] || s.Other == s.Source {
			continue
		}
		s.Start, s.End = max(s.Start, lo), min(s.End, to)
		if s.End <= s.Start {
			continue
		}
		byPair[key{s.Source, s.Other}] = append(byPair[key{s.Source, s.Other}], s)
	}
	nodes := map[uint32]*graph.Node{}
	for k, ss := range byPair {
		slices.SortFunc(ss, func(a, b Span) int { return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End)) })
		total, curS, curE := int64(0), ss[0].Start, ss[0].End
		var channels []graph.Channel
		for _, s := range ss {
			if !slices.Contains(channels, s.Channel) {
				channels = append(channels, s.Channel)
			}
			if s.Start > curE {
				total += curE - curS
				curS, curE = s.Start, s.End
				continue
			}
			curE = max(curE, s.End)
		}
		total += curE - curS
		if total <= 0 || total < minSeconds {
			continue
		}
		n := nodes[k.other]
		if n == nil {
			n = &graph.Node{UserID: k.other, Tier: tier, FirstExposure: ss[0].Start, ExposureSeconds: total}
			nodes[k.other] = n
		}
		n.FirstExposure = min(n.FirstExposure, ss[0].Start)
		n.ExposureSeconds = max(n.ExposureSeconds, total)
		for _, c := range channels {
			if !slices.Contains(n.Channels, c) {
				n.Channels = append(n.Channels, c)
			}
		}
		n.ExposedBy = append(n.ExposedBy, k.src)
	}
	out := make([]graph.Node, 0, len(nodes))
	for _, n := range nodes {
		slices.Sort(n.Channels)
		slices.Sort(n.ExposedBy)
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b graph.Node) int {
		return cmp.Or(cmp.Compare(a.FirstExposure, b.FirstExposure), cmp.Compare(a.UserID, b.UserID))
	})
	return out
}

// Stay is a stay combined from its visit records by the visit rule.
type Stay struct {
	User, Venue uint32
	Start, End  int64
}

// CombineStays applies the visit rule: records with equal (user, venue,
// visit_id, enter) are one stay ending at their largest exit, or at enter +
// Dwell when none has one.
func CombineStays(visits []event.Visit) []Stay {
	type id struct {
		user, venue uint32
		visit       string
		enter       int64
	}
	exits := map[id]int64{}
	for _, v := range visits {
		k := id{v.UserID, v.VenueID, v.VisitID, v.Enter}
		exits[k] = max(exits[k], v.Exit)
	}
	out := make([]Stay, 0, len(exits))
	for k, exit := range exits {
		end := exit
		if exit == 0 {
			end = k.enter + Dwell
		}
		if end > k.enter {
			out = append(out, Stay{User: k.user, Venue: k.venue, Start: k.enter, End: end})
		}
	}
	slices.SortFunc(out, func(a, b Stay) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Start, b.Start), cmp.Compare(a.Venue, b.Venue))
	})
	return out
}

// SameContacts reports whether two answers list the same people with the same
// tier, first exposure, exposure, channels and exposers, in any order.
func SameContacts(a, b []graph.Node) bool {
	norm := func(ns []graph.Node) []graph.Node {
		out := make([]graph.Node, len(ns))
		for i, n := range ns {
			out[i] = graph.Node{UserID: n.UserID, Tier: n.Tier, FirstExposure: n.FirstExposure, ExposureSeconds: n.ExposureSeconds,
				Channels: slices.Clone(n.Channels), ExposedBy: slices.Clone(n.ExposedBy)}
			if n.Tier == 0 {
				out[i] = graph.Node{UserID: n.UserID}
			}
		}
		slices.SortFunc(out, func(x, y graph.Node) int { return cmp.Or(cmp.Compare(x.Tier, y.Tier), cmp.Compare(x.UserID, y.UserID)) })
		return out
	}
	x, y := norm(a), norm(b)
	return slices.EqualFunc(x, y, func(p, q graph.Node) bool {
		return p.UserID == q.UserID && p.Tier == q.Tier && p.FirstExposure == q.FirstExposure &&
			p.ExposureSeconds == q.ExposureSeconds && slices.Equal(p.Channels, q.Channels) && slices.Equal(p.ExposedBy, q.ExposedBy)
	})
}
