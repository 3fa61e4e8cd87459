package graph_test

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

// memStore is a VenueStore over stays and encounters held in memory. Its
// Present proposes everyone who ever stayed at a range's venue, a superset
// of the bitmaps' answer, which the engine's refinement must narrow exactly.
type memStore struct {
	stays    map[uint32][]graph.Stay    // by user, sorted by Start
	contacts map[uint32][]graph.Contact // by user, both sides, sorted by Start
}

var _ graph.VenueStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{stays: map[uint32][]graph.Stay{}, contacts: map[uint32][]graph.Contact{}}
}

func (m *memStore) stay(user, venue uint32, start, end int64) {
	m.stays[user] = append(m.stays[user], graph.Stay{Venue: venue, Interval: graph.Interval{Start: start, End: end}})
	slices.SortFunc(m.stays[user], func(a, b graph.Stay) int { return cmp.Compare(a.Start, b.Start) })
}

func (m *memStore) meet(a, b uint32, start, end int64) {
	iv := graph.Interval{Start: start, End: end}
	m.contacts[a] = append(m.contacts[a], graph.Contact{Peer: b, Interval: iv})
	m.contacts[b] = append(m.contacts[b], graph.Contact{Peer: a, Interval: iv})
	for _, u := range []uint32{a, b} {
		slices.SortFunc(m.contacts[u], func(x, y graph.Contact) int { return cmp.Compare(x.Start, y.Start) })
	}
}

func (m *memStore) Layout() bucket.Layout { return bucket.DefaultLayout() }

func (m *memStore) Stays(_ context.Context, users []uint32, _ graph.Window) iter.Seq2[graph.UserStays, error] {
	return func(yield func(graph.UserStays, error) bool) {
		for _, u := range users {
			if ss, ok := m.stays[u]; ok && !yield(graph.UserStays{User: u, Stays: ss}, nil) {
				return
			}
		}
	}
}

func (m *memStore) Contacts(_ context.Context, users []uint32, _ graph.Window) iter.Seq2[graph.UserContacts, error] {
	return func(yield func(graph.UserContacts, error) bool) {
		for _, u := range users {
			if cs, ok := m.contacts[u]; ok && !yield(graph.UserContacts{User: u, Contacts: cs}, nil) {
				return
			}
		}
	}
}

func (m *memStore) Present(_ context.Context, ranges []bucket.Range) (*roaring.Bitmap, error) {
	bm := roaring.New()
	for u, ss := range m.stays {
		for _, s := range ss {
			if slices.ContainsFunc(ranges, func(r bucket.Range) bool { return r.Venue == s.Venue }) {
				bm.Add(u)
			}
		}
	}
	return bm, nil
}

func (m *memStore) Visitors(_ context.Context, venues []graph.VenueSpans) iter.Seq2[graph.VenueVisitors, error] {
	return func(yield func(graph.VenueVisitors, error) bool) {
		for _, v := range venues {
			var vv []graph.Visitor
			for u, ss := range m.stays {
				for _, s := range ss {
					if s.Venue == v.Venue {
						vv = append(vv, graph.Visitor{User: u, Interval: s.Interval})
					}
				}
			}
			slices.SortFunc(vv, func(a, b graph.Visitor) int {
				return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.User, b.User))
			})
			if len(vv) > 0 && !yield(graph.VenueVisitors{Venue: v.Venue, Visitors: vv}, nil) {
				return
			}
		}
	}
}

const t0 = int64(1_700_000_000)

// cluster is a case (1) whose F1 (2 and 3, at a venue and one by encounter
// too) share a second venue with 4 and meet 5, so that both tiers have
// nodes with one channel and with two, and several sources.
func cluster() *memStore {
	m := newMemStore()
	m.stay(1, 10, t0, t0+3600)
	m.stay(2, 10, t0, t0+3600)
	m.stay(3, 10, t0+600, t0+3600)
	m.meet(1, 3, t0+4000, t0+5000)
	m.stay(2, 20, t0+7200, t0+10800)
	m.stay(3, 20, t0+7200, t0+10800)
	m.stay(4, 20, t0+7200, t0+9000)
	m.meet(4, 2, t0+9000, t0+10000)
	m.meet(5, 2, t0+7200, t0+9000)
	return m
}

// clone copies every slice of r's answer, so that a later write to r
// cannot reach it.
func clone(r *graph.Result) *graph.Result {
	c := *r
	c.Nodes = slices.Clone(r.Nodes)
	for i := range c.Nodes {
		n := &c.Nodes[i]
		n.Channels, n.ExposedBy, n.Venues = slices.Clone(n.Channels), slices.Clone(n.ExposedBy), slices.Clone(n.Venues)
	}
	c.Edges, c.Venues = slices.Clone(r.Edges), slices.Clone(r.Venues)
	c.Stats = graph.Stats{}
	return &c
}

// scribble overwrites every element of node n's slices.
func scribble(n *graph.Node) {
	for i := range n.Channels {
		n.Channels[i] = 99
	}
	for i := range n.ExposedBy {
		n.ExposedBy[i] = 1 << 31
	}
	for i := range n.Venues {
		n.Venues[i] = 1 << 31
	}
	n.Channels = append(n.Channels, 98)
	n.ExposedBy = append(n.ExposedBy, 1<<30)
	n.Venues = append(n.Venues, 1<<30)
}

// A caller may write to every part of an answer: no two nodes, and no two
// answers, share memory, and the engine keeps none of it.
func TestResultsOwnTheirMemory(t *testing.T) {
	ctx := context.Background()
	m := cluster()
	engines := map[string]*graph.Engine{
		"default":      graph.NewEngine(m),
		"bitmaps":      graph.NewEngine(m, graph.VenueReads(0)),
		"venues,split": graph.NewEngine(m, graph.RefineWorkers(3, 1), graph.VenueReads(1)),
	}
	for name, e := range engines {
		for _, contactsOnly := range []bool{false, true} {
			q := graph.Query{Case: 1, Window: graph.Window{From: t0, To: t0 + 86400}, Depth: 2, MinSeconds: 900, ContactsOnly: contactsOnly}
			first, err := e.Exposures(ctx, q)
			require.NoError(t, err)
			require.Len(t, first.Nodes, 5, "%s: the case, F1 2 and 3, F2 4 and 5", name)
			require.Equal(t, []graph.Channel{graph.ChannelProximity, graph.ChannelVenue}, first.Nodes[2].Channels, "%s: 3 met the case both ways", name)
			want := clone(first)

			// Writing to one node's slices changes no other node.
			for i := range first.Nodes {
				scribble(&first.Nodes[i])
				for j := range first.Nodes {
					if j > i {
						require.Equal(t, want.Nodes[j], first.Nodes[j], "%s: writing node %d changed node %d", name, i, j)
					}
				}
			}
			for i := range first.Edges {
				first.Edges[i].To = 1 << 31
			}
			for i := range first.Venues {
				first.Venues[i].Exposed = -1
			}

			// Nor any later answer.
			again, err := e.Exposures(ctx, q)
			require.NoError(t, err)
			again.Stats = graph.Stats{}
			require.Equal(t, want, again, "%s (contacts only %v): a write to one answer changed the next", name, contactsOnly)
		}
	}
}

// slowFailing is cluster()'s store, but reading the F1 members' stays
// blocks until the query is cancelled, and reading their encounters fails.
type slowFailing struct{ *memStore }

var errEncounters = errors.New("encounters unavailable")

func (s slowFailing) Stays(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserStays, error] {
	if slices.Contains(users, 1) {
		return s.memStore.Stays(ctx, users, w)
	}
	return func(yield func(graph.UserStays, error) bool) {
		<-ctx.Done()
		yield(graph.UserStays{}, ctx.Err())
	}
}

func (s slowFailing) Contacts(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserContacts, error] {
	if slices.Contains(users, 1) {
		return s.memStore.Contacts(ctx, users, w)
	}
	return func(yield func(graph.UserContacts, error) bool) { yield(graph.UserContacts{}, errEncounters) }
}

// The F1 members' stays, encounters and trips are read together: when one
// read fails, the query fails with its error and the others are cancelled
// rather than waited for.
func TestFailedSourceReadCancelsTheOthers(t *testing.T) {
	// Read by venue, tier 1 leaves the F1 members' stays to the sources'
	// read.
	eng := graph.NewEngine(slowFailing{cluster()}, graph.VenueReads(1))
	done := make(chan error, 1)
	go func() {
		_, err := eng.Exposures(t.Context(), graph.Query{Case: 1, Window: graph.Window{From: t0 - 3600, To: t0 + 86400}, Depth: 2})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, errEncounters)
		require.ErrorContains(t, err, "F1 members")
	case <-time.After(10 * time.Second):
		t.Fatal("the query waited for the blocked stays read")
	}
}

// caseReads is cluster()'s store with trips: reading the case's trips or
// its stays either fails or blocks until the query is cancelled.
type caseReads struct {
	*memStore
	tripsFail bool // else the case's stays fail and its trips block
}

var errCaseRead = errors.New("case read failed")

func (s caseReads) Stays(ctx context.Context, users []uint32, w graph.Window) iter.Seq2[graph.UserStays, error] {
	if !slices.Contains(users, 1) {
		return s.memStore.Stays(ctx, users, w)
	}
	return func(yield func(graph.UserStays, error) bool) {
		if !s.tripsFail {
			yield(graph.UserStays{}, errCaseRead)
			return
		}
		<-ctx.Done()
		yield(graph.UserStays{}, ctx.Err())
	}
}

func (s caseReads) UserTrips(ctx context.Context, _ []uint32, _ graph.Window) ([]graph.Trip, error) {
	if s.tripsFail {
		return nil, errCaseRead
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s caseReads) VehicleTrips(context.Context, []graph.VehicleDay) ([]graph.Trip, error) {
	return nil, nil
}

// The case's stays and trips are read together: when one read fails, the
// query fails with its error at once and the other read is cancelled.
func TestFailedCaseReadCancelsTheOther(t *testing.T) {
	for _, tripsFail := range []bool{false, true} {
		eng := graph.NewEngine(caseReads{memStore: cluster(), tripsFail: tripsFail})
		done := make(chan error, 1)
		go func() {
			_, err := eng.Exposures(t.Context(), graph.Query{Case: 1, Window: graph.Window{From: t0 - 3600, To: t0 + 86400}, Depth: 1})
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorIs(t, err, errCaseRead)
			if tripsFail {
				require.ErrorContains(t, err, "read trips of case 1")
			} else {
				require.ErrorContains(t, err, "read stays of case 1")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("trips fail %v: the query waited for the blocked read", tripsFail)
		}
	}
}
