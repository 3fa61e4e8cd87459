package sites

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/truyvet/truyvet/query/graph"
)

// Exposed is one person a site reaches and when: the union of their stays
// at the venue clipped to the window runs from From to To (Unix seconds;
// when the union has gaps, From is its first second and To the end of its
// last part) and is Seconds long.
type Exposed struct {
	User     uint32
	From, To int64
	Seconds  int64
}

// Overlap is the rule of one person's exposure: the union of stays (any
// order, any venue filtering done) clipped to [from, to]; ok is false when
// it is empty, that is when no stay overlaps the window by a second.
func Overlap(stays []graph.Interval, from, to int64) (e Exposed, ok bool) {
	cl := make([]graph.Interval, 0, len(stays))
	for _, st := range stays {
		if c := st.Clip(graph.Window{From: from, To: to}); c.Len() > 0 {
			cl = append(cl, c)
		}
	}
	if len(cl) == 0 {
		return Exposed{}, false
	}
	slices.SortFunc(cl, func(a, b graph.Interval) int { return cmp.Compare(a.Start, b.Start) })
	e.From, e.To = cl[0].Start, cl[0].End
	runEnd := cl[0].Start
	for _, c := range cl {
		if c.Start > runEnd {
			runEnd = c.Start
		}
		if c.End > runEnd {
			e.Seconds += c.End - runEnd
			runEnd = c.End
		}
		e.To = max(e.To, c.End)
	}
	return e, true
}

// Reach reads who a site at venue over [from, to] reaches, from the stays
// the store folded by the visit rule (the default dwell for stays without a
// check-out): one Exposed per person, sorted by user. The store's venue
// index finds the candidates; each is kept only if its stays overlap the
// window by at least one second.
func Reach(ctx context.Context, vs graph.VenueStore, venue uint32, from, to int64) ([]Exposed, error) {
	if to <= from {
		return nil, nil
	}
	q := graph.VenueSpans{Venue: venue, Spans: []graph.Interval{{Start: from, End: to}}}
	byUser := map[uint32][]graph.Interval{}
	for vv, err := range vs.Visitors(ctx, []graph.VenueSpans{q}) {
		if err != nil {
			return nil, fmt.Errorf("visitors of venue %d: %w", venue, err)
		}
		if vv.Venue != venue {
			continue
		}
		for _, v := range vv.Visitors {
			byUser[v.User] = append(byUser[v.User], v.Interval)
		}
	}
	out := make([]Exposed, 0, len(byUser))
	for u, ivs := range byUser {
		if e, ok := Overlap(ivs, from, to); ok {
			e.User = u
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Exposed) int { return cmp.Compare(a.User, b.User) })
	return out, nil
}

// ByHour counts, for each hour of [from, to) starting at from, the people
// of es whose exposure [From, To) reaches into it.
func ByHour(es []Exposed, from, to int64) []int {
	if to <= from {
		return nil
	}
	n := int((to - from + 3599) / 3600)
	h := make([]int, n)
	for _, e := range es {
		first := int((e.From - from) / 3600)
		last := int((e.To - 1 - from) / 3600)
		for i := max(first, 0); i <= min(last, n-1); i++ {
			h[i]++
		}
	}
	return h
}

// StaysAt yields one user's stays at venue, from a graph.Store's reads of
// users over [from, to]: what Matcher confirms a late stay with.
func StaysAt(ctx context.Context, st graph.Store, users []uint32, venue uint32, from, to int64, fn func(user uint32, stays []graph.Interval)) error {
	var ivs []graph.Interval
	for us, err := range st.Stays(ctx, users, graph.Window{From: from, To: to}) {
		if err != nil {
			return fmt.Errorf("stays of %d users: %w", len(users), err)
		}
		ivs = ivs[:0]
		for _, s := range us.Stays {
			if s.Venue == venue {
				ivs = append(ivs, s.Interval)
			}
		}
		if len(ivs) > 0 {
			fn(us.User, ivs)
		}
	}
	return nil
}
