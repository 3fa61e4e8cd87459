// Package storetest is the conformance suite every truyvet store passes: the
// embedded store and the ClickHouse store keep the same contract
// (store.Backend): they take the same records and must give the same answers,
// including after replays, late records and out-of-order check-outs; count
// what they hold; and drop whole days by retention (the audit trail, which
// lives beside accounts and cases, has its own suite: store/statetest). It
// ends with a differential test of the exposure engine over the store against
// the naive reference model.
package storetest

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/graph/reference"
	"github.com/truyvet/truyvet/schemas/definition"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
)

// Factory opens a fresh, empty store with layout, and arranges its cleanup.
type Factory func(t *testing.T, layout bucket.Layout) store.Backend

// Base is the suite's reference time: a local midnight (2021-07-20 00:00 +07).
var Base = time.Date(2021, 7, 20, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600)).Unix()

const (
	min_ = 60
	hour = 3600
)

// Run runs the whole suite against stores from open.
func Run(t *testing.T, open Factory) {
	t.Run("StaysCombineVisitRecords", func(t *testing.T) { testStays(t, open) })
	t.Run("StaysAcrossDays", func(t *testing.T) { testStaysAcrossDays(t, open) })
	t.Run("ContactsBothDirections", func(t *testing.T) { testContacts(t, open) })
	t.Run("VisitorsMatchStays", func(t *testing.T) { testVisitors(t, open) })
	t.Run("VisitorListMatchesReference", func(t *testing.T) { testVisitorList(t, open) })
	t.Run("PresentIsUnionOverBatches", func(t *testing.T) { testPresent(t, open) })
	t.Run("ReplayChangesNothing", func(t *testing.T) { testReplay(t, open) })
	t.Run("CountsWhatItHolds", func(t *testing.T) { testCounts(t, open) })
	t.Run("RetentionDropsWholeDays", func(t *testing.T) { testRetention(t, open) })
	t.Run("EngineAgreesWithReference", func(t *testing.T) { testDifferential(t, open) })
	t.Run("DefinitionsAgreeWithReference", func(t *testing.T) { testDefinitions(t, open) })
	t.Run("DefinitionsAreImmutableVersions", func(t *testing.T) { testDefinitionStore(t, open) })
	t.Run("DeclarationsOnceByIdentity", func(t *testing.T) { testDeclarations(t, open) })
	t.Run("DeclarationsDroppedByDay", func(t *testing.T) { testDeclarationRetention(t, open) })
	t.Run("DeclarationsBySubject", func(t *testing.T) { testDeclarationsBySubject(t, open) })
	t.Run("CoTravelIsContact", func(t *testing.T) { testCoTravel(t, open) })
	t.Run("ReadsSinceMatchWindowedReads", func(t *testing.T) { testReadsSince(t, open) })
}

// write builds recs with a processor and writes them to s.
func write(t testing.TB, s store.Backend, recs event.Batch) {
	t.Helper()
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(context.Background(), &recs))
}

func stays(t *testing.T, s graph.Store, users []uint32, w graph.Window) map[uint32][]graph.Stay {
	t.Helper()
	return staysOf(t, s.Stays(context.Background(), users, w))
}

func staysOf(t *testing.T, seq iter.Seq2[graph.UserStays, error]) map[uint32][]graph.Stay {
	t.Helper()
	out := map[uint32][]graph.Stay{}
	for us, err := range seq {
		require.NoError(t, err)
		require.NotContains(t, out, us.User, "user yielded twice")
		out[us.User] = slices.Clone(us.Stays)
	}
	return out
}

func contacts(t *testing.T, s graph.Store, users []uint32, w graph.Window) map[uint32][]graph.Contact {
	t.Helper()
	return contactsOf(t, s.Contacts(context.Background(), users, w))
}

func contactsOf(t *testing.T, seq iter.Seq2[graph.UserContacts, error]) map[uint32][]graph.Contact {
	t.Helper()
	out := map[uint32][]graph.Contact{}
	for uc, err := range seq {
		require.NoError(t, err)
		require.NotContains(t, out, uc.User, "user yielded twice")
		out[uc.User] = slices.Clone(uc.Contacts)
	}
	return out
}

func stay(venue uint32, start, end int64) graph.Stay {
	return graph.Stay{Venue: venue, Interval: graph.Interval{Start: start, End: end}}
}

// imputed is a stay no record of which had an exit: it ends after the dwell.
func imputed(venue uint32, start, end int64) graph.Stay {
	st := stay(venue, start, end)
	st.Imputed = true
	return st
}

func visit(id string, user, venue uint32, enter, exit int64) event.Visit {
	return event.Visit{VisitID: id, UserID: user, VenueID: venue, Enter: enter, Exit: exit, Source: "test"}
}

func testStays(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	t0 := Base + 8*hour
	// Check-out before check-in, in separate batches; a resend; an open stay;
	// one visit_id with two enters (two stays); a zero-length stay.
	write(t, s, event.Batch{Visits: []event.Visit{visit("a", 1, 10, t0, t0+30*min_)}})
	write(t, s, event.Batch{Visits: []event.Visit{
		visit("a", 1, 10, t0, 0),
		visit("a", 1, 10, t0, t0+30*min_),
		visit("b", 1, 11, t0+hour, 0),
		visit("c", 1, 12, t0+2*hour, t0+2*hour+10*min_),
		visit("c", 1, 12, t0+2*hour+5*min_, 0),
		visit("z", 1, 13, t0+3*hour, t0+3*hour),
		visit("a", 2, 10, t0+10*min_, 0),
	}})
	// A later check-out extends, an earlier one does not shorten.
	write(t, s, event.Batch{Visits: []event.Visit{visit("c", 1, 12, t0+2*hour, t0+2*hour+40*min_)}})

	w := graph.Window{From: Base, To: Base + 24*hour}
	got := stays(t, s, []uint32{1, 2, 3}, w)
	require.Equal(t, map[uint32][]graph.Stay{
		1: {
			stay(10, t0, t0+30*min_),
			imputed(11, t0+hour, t0+2*hour),
			stay(12, t0+2*hour, t0+2*hour+40*min_),
			imputed(12, t0+2*hour+5*min_, t0+3*hour+5*min_),
		},
		2: {imputed(10, t0+10*min_, t0+70*min_)},
	}, got)

	// A window that ends before a stay and one that starts after it.
	got = stays(t, s, []uint32{1}, graph.Window{From: t0 + 31*min_, To: t0 + hour})
	require.Empty(t, got, "no stay overlaps (t0+31m, t0+1h)")
	got = stays(t, s, []uint32{2}, graph.Window{From: t0 + 69*min_, To: t0 + 2*hour})
	require.Equal(t, []graph.Stay{imputed(10, t0+10*min_, t0+70*min_)}, got[2])
}

func testStaysAcrossDays(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	late := Base - 2*hour // 22:00 the day before
	write(t, s, event.Batch{Visits: []event.Visit{
		visit("n", 5, 20, late, late+5*hour), // into the window's day
		visit("o", 5, 21, Base-30*hour, Base-29*hour),
		visit("m", 6, 20, Base+23*hour, 0), // open stay past midnight
	}})
	got := stays(t, s, []uint32{5, 6}, graph.Window{From: Base, To: Base + 24*hour})
	require.Equal(t, map[uint32][]graph.Stay{
		5: {stay(20, late, late+5*hour)},
		6: {imputed(20, Base+23*hour, Base+24*hour)},
	}, got)
	bm, err := s.Present(context.Background(), []bucket.Range{{Venue: 20, First: s.Layout().Of(Base), Last: s.Layout().Of(Base + 24*hour)}})
	require.NoError(t, err)
	require.Equal(t, []uint32{5, 6}, bm.ToArray())
}

// testVisitors checks, for a store that reads by venue, that a venue's
// visitors are exactly the stays there, as Stays folds them, that overlap
// the asked spans.
func testVisitors(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	vs, ok := s.(graph.VenueStore)
	if !ok {
		t.Skip("the store does not read by venue")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	const people, venues = 60, 6
	recs := RandomRecords(rng, people, venues, 400, Base)
	recs.Visits = append(recs.Visits, visit("late", 1, 1, Base-2*hour, Base+3*hour)) // from the day before
	// In three shuffled batches, so a stay's check-in and check-out are often
	// written apart (and whatever a store derives per venue is merged).
	rng.Shuffle(len(recs.Visits), func(i, j int) { recs.Visits[i], recs.Visits[j] = recs.Visits[j], recs.Visits[i] })
	third := len(recs.Visits) / 3
	write(t, s, event.Batch{Visits: recs.Visits[:third], Encounters: recs.Encounters})
	write(t, s, event.Batch{Visits: recs.Visits[third : 2*third]})
	write(t, s, event.Batch{Visits: recs.Visits[2*third:]})
	users := make([]uint32, people)
	for i := range users {
		users[i] = uint32(i + 1)
	}
	all := stays(t, s, users, graph.Window{From: Base - 48*hour, To: Base + 72*hour})
	found := 0
	for range 30 {
		var ask []graph.VenueSpans
		for v := uint32(1); v <= venues; v++ {
			if rng.IntN(3) == 0 {
				continue
			}
			var spans []graph.Interval
			for t0 := Base - 6*hour + rng.Int64N(4*hour); t0 < Base+40*hour && len(spans) < 4; {
				end := t0 + 1 + rng.Int64N(6*hour)
				spans = append(spans, graph.Interval{Start: t0, End: end})
				t0 = end + 1 + rng.Int64N(8*hour)
			}
			ask = append(ask, graph.VenueSpans{Venue: v, Spans: spans})
		}
		got := map[uint32][]graph.Visitor{}
		for vv, err := range vs.Visitors(context.Background(), ask) {
			require.NoError(t, err)
			require.NotContains(t, got, vv.Venue, "venue yielded twice")
			require.True(t, slices.IsSortedFunc(vv.Visitors, func(a, b graph.Visitor) int { return cmp.Compare(a.Start, b.Start) }))
			for _, v := range vv.Visitors {
				if overlaps(ask, vv.Venue, v.Interval) {
					got[vv.Venue] = append(got[vv.Venue], v)
				}
			}
		}
		want := map[uint32][]graph.Visitor{}
		for u, sts := range all {
			for _, st := range sts {
				if overlaps(ask, st.Venue, st.Interval) {
					want[st.Venue] = append(want[st.Venue], graph.Visitor{User: u, Interval: st.Interval})
				}
			}
		}
		for v := range want {
			slices.SortFunc(want[v], compareVisitors)
			slices.SortFunc(got[v], compareVisitors)
		}
		require.Equal(t, want, got)
		found += len(want)
	}
	require.Positive(t, found, "no asked span had visitors")
}

func compareVisitors(a, b graph.Visitor) int {
	return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.User, b.User), cmp.Compare(a.End, b.End))
}

// overlaps reports whether iv overlaps one of the spans asked of venue.
func overlaps(ask []graph.VenueSpans, venue uint32, iv graph.Interval) bool {
	for _, a := range ask {
		if a.Venue != venue {
			continue
		}
		for _, sp := range a.Spans {
			if sp.Start < iv.End && iv.Start < sp.End {
				return true
			}
		}
	}
	return false
}

func testContacts(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	t0 := Base + 9*hour
	enc := func(id string, u, p uint32, start int64, d uint32) event.Encounter {
		return event.Encounter{EncounterID: id, UserID: u, PeerID: p, Start: start, DurationS: d, RSSI: -60, HasRSSI: true}
	}
	weaker := func(e event.Encounter) event.Encounter { e.RSSI = -85; return e }
	write(t, s, event.Batch{Encounters: []event.Encounter{
		enc("e1", 1, 2, t0, 600),
		enc("e1", 1, 2, t0, 600),         // resend
		weaker(enc("e2", 2, 1, t0, 600)), // the other phone, same meeting: the stronger signal is kept
		enc("e3", 3, 1, t0+hour, 60),
		enc("e4", 4, 5, t0, 60),
	}})
	w := graph.Window{From: Base, To: Base + 24*hour}
	got := contacts(t, s, []uint32{1, 2, 3, 9}, w)
	c := func(peer uint32, start, end int64) graph.Contact {
		return graph.Contact{Peer: peer, RSSI: -60, HasRSSI: true, Interval: graph.Interval{Start: start, End: end}}
	}
	require.Equal(t, []graph.Contact{c(2, t0, t0+600), c(3, t0+hour, t0+hour+60)}, dedup(got[1]))
	require.Equal(t, []graph.Contact{c(1, t0, t0+600)}, dedup(got[2]))
	require.Equal(t, []graph.Contact{c(1, t0+hour, t0+hour+60)}, got[3])
	require.NotContains(t, got, uint32(9))
	got = contacts(t, s, []uint32{1}, graph.Window{From: t0 + 600, To: t0 + hour})
	require.Empty(t, got, "an encounter ending exactly at From does not overlap")
}

// testReadsSince checks, for a store that reads each user over a window of
// its own, that what it yields of each user over [From, to] is what Stays
// and Contacts yield of that user alone over that window (over a week of
// records, windows starting on any of its days, some empty).
func testReadsSince(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	ss, ok := s.(graph.SinceStore)
	if !ok {
		t.Skip("the store reads every user over one window")
	}
	rng := rand.New(rand.NewPCG(7, 11))
	const people = 60
	var recs event.Batch
	for d := range int64(4) {
		b := RandomRecords(rng, people, 8, 250, Base+2*d*24*hour)
		recs.Visits = append(recs.Visits, b.Visits...)
		recs.Encounters = append(recs.Encounters, b.Encounters...)
	}
	write(t, s, recs)
	to := Base + 7*24*hour + 5*hour
	for round := range 4 {
		var users []graph.Since
		for u := uint32(1); u <= people+2; u++ { // two who have no records
			if rng.IntN(3) > 0 || round == 0 {
				users = append(users, graph.Since{User: u, From: Base - 2*24*hour + rng.Int64N(10*24*hour)})
			}
		}
		sinceStays := staysOf(t, ss.StaysSince(context.Background(), users, to))
		sinceContacts := contactsOf(t, ss.ContactsSince(context.Background(), users, to))
		asked := map[uint32]bool{}
		for _, u := range users {
			asked[u.User] = true
			w := graph.Window{From: u.From, To: to}
			inW := func(iv graph.Interval) bool { return iv.End > w.From && iv.Start < w.To }
			wantStays := slices.DeleteFunc(stays(t, s, []uint32{u.User}, w)[u.User], func(st graph.Stay) bool { return !inW(st.Interval) })
			gotStays := slices.DeleteFunc(sinceStays[u.User], func(st graph.Stay) bool { return !inW(st.Interval) })
			require.Equal(t, wantStays, gotStays, "stays of user %d from %d", u.User, u.From)
			wantContacts := dedup(slices.DeleteFunc(contacts(t, s, []uint32{u.User}, w)[u.User], func(c graph.Contact) bool { return !inW(c.Interval) }))
			gotContacts := dedup(slices.DeleteFunc(sinceContacts[u.User], func(c graph.Contact) bool { return !inW(c.Interval) }))
			require.Equal(t, wantContacts, gotContacts, "encounters of user %d from %d", u.User, u.From)
		}
		for u := range sinceStays {
			require.True(t, asked[u], "stays of user %d, who was not asked", u)
		}
		for u := range sinceContacts {
			require.True(t, asked[u], "encounters of user %d, who was not asked", u)
		}
		if round == 0 {
			require.NotEmpty(t, sinceStays)
			require.NotEmpty(t, sinceContacts)
		}
	}
}

// dedup drops repeated contacts: a store may or may not collapse the same
// meeting reported under several ids; the engine is indifferent.
func dedup(cs []graph.Contact) []graph.Contact {
	slices.SortFunc(cs, func(a, b graph.Contact) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return int(a.Peer) - int(b.Peer)
	})
	return slices.Compact(cs)
}

func testPresent(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	l := s.Layout()
	t0 := Base + 10*hour
	write(t, s, event.Batch{Visits: []event.Visit{visit("1", 1, 30, t0, t0+20*min_)}})
	write(t, s, event.Batch{Visits: []event.Visit{visit("2", 2, 30, t0+5*min_, t0+6*min_)}})
	// A late record for an old bucket of the same venue.
	write(t, s, event.Batch{Visits: []event.Visit{visit("3", 3, 30, t0-5*hour, t0-4*hour)}})
	write(t, s, event.Batch{Visits: []event.Visit{visit("4", 4, 31, t0, t0+hour)}})

	present := func(rs ...bucket.Range) []uint32 {
		bm, err := s.Present(context.Background(), rs)
		require.NoError(t, err)
		return bm.ToArray()
	}
	b0 := l.Of(t0)
	require.Equal(t, []uint32{1, 2}, present(bucket.Range{Venue: 30, First: b0, Last: b0}))
	require.Equal(t, []uint32{1}, present(bucket.Range{Venue: 30, First: b0 + 1, Last: b0 + 1}))
	require.Equal(t, []uint32{1, 2, 3}, present(bucket.Range{Venue: 30, First: l.Of(t0 - 5*hour), Last: b0 + 10}))
	require.Equal(t, []uint32{1, 2, 4}, present(bucket.Range{Venue: 30, First: b0, Last: b0}, bucket.Range{Venue: 31, First: b0 + 3, Last: b0 + 3}))
	require.Empty(t, present(bucket.Range{Venue: 32, First: b0, Last: b0}))
	require.Empty(t, present())

	// Crowds count the people of each (venue, bucket) over all batches.
	crowds, err := s.Crowds(context.Background(), []bucket.Range{{Venue: 30, First: b0 - 1, Last: b0 + 1}, {Venue: 31, First: b0, Last: b0}, {Venue: 32, First: b0, Last: b0}})
	require.NoError(t, err)
	require.Equal(t, map[bucket.Key]int{{Venue: 30, Bucket: b0}: 2, {Venue: 30, Bucket: b0 + 1}: 1, {Venue: 31, Bucket: b0}: 1}, crowds)
	write(t, s, event.Batch{Visits: []event.Visit{visit("2", 2, 30, t0+5*min_, t0+6*min_), visit("5", 5, 30, t0, t0+min_)}}) // a replay and one more
	crowds, err = s.Crowds(context.Background(), []bucket.Range{{Venue: 30, First: b0, Last: b0}})
	require.NoError(t, err)
	require.Equal(t, map[bucket.Key]int{{Venue: 30, Bucket: b0}: 3}, crowds)

	// Many bitmaps at once (stores may union them in parallel): 600 venues,
	// users spread over several roaring containers, one in every other venue.
	var many event.Batch
	var ranges []bucket.Range
	var want []uint32
	for v := uint32(1000); v < 1600; v++ {
		u := (v - 1000) * 977 // up to ~585 k: ids in nine 65 536-wide containers
		many.Visits = append(many.Visits, visit(fmt.Sprint("m", v), u, v, t0, t0+2*hour))
		ranges = append(ranges, bucket.Range{Venue: v, First: b0 + uint32(v%3), Last: b0 + 4})
		if v%2 == 0 {
			want = append(want, u)
		}
		ranges = append(ranges, bucket.Range{Venue: v + 1000, First: b0, Last: b0 + 4}) // nobody there
	}
	write(t, s, many)
	evenOnly := ranges[:0:0]
	for _, r := range ranges {
		if r.Venue < 2000 && r.Venue%2 == 0 {
			evenOnly = append(evenOnly, r)
		}
	}
	require.Equal(t, want, present(evenOnly...))
	require.Len(t, present(ranges...), 600)
}

func testReplay(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	recs := RandomRecords(rand.New(rand.NewPCG(7, 7)), 40, 6, 300, Base)
	write(t, s, recs)
	users := make([]uint32, 40)
	for i := range users {
		users[i] = uint32(i + 1)
	}
	w := graph.Window{From: Base - 24*hour, To: Base + 48*hour}
	before := stays(t, s, users, w)
	beforeC := contacts(t, s, users, w)
	l := s.Layout()
	all := bucket.Range{Venue: 1, First: l.Of(w.From), Last: l.Of(w.To)}
	bm1, err := s.Present(context.Background(), []bucket.Range{all})
	require.NoError(t, err)
	write(t, s, recs)
	require.Equal(t, before, stays(t, s, users, w))
	afterC := contacts(t, s, users, w)
	for u := range beforeC {
		require.Equal(t, dedup(beforeC[u]), dedup(afterC[u]))
	}
	bm2, err := s.Present(context.Background(), []bucket.Range{all})
	require.NoError(t, err)
	require.True(t, bm1.Equals(bm2))
}

func testCounts(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	c, err := s.Counts(context.Background())
	require.NoError(t, err)
	require.Zero(t, c.Visits, "a fresh store holds nothing")
	require.Zero(t, c.Encounters)
	require.Empty(t, c.Days)
	t0 := Base + 9*hour
	write(t, s, event.Batch{
		Visits: []event.Visit{visit("a", 1, 10, t0, t0+hour), visit("b", 2, 10, t0+25*hour, 0)},
		Encounters: []event.Encounter{
			{EncounterID: "e1", UserID: 1, PeerID: 2, Start: t0, DurationS: 600, Source: "test"},
			{EncounterID: "e2", UserID: 3, PeerID: 1, Start: t0 + hour, DurationS: 60, Source: "test"},
			{EncounterID: "e3", UserID: 2, PeerID: 3, Start: t0 + 2*hour, DurationS: 60, Source: "test"},
		},
	})
	c, err = s.Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, store.Counts{Visits: 2, Encounters: 3, Days: []bucket.Day{bucket.DayOf(t0), bucket.DayOf(t0) + 1}}, c)
}

func testRetention(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	recs := RandomRecords(rand.New(rand.NewPCG(3, 3)), 20, 4, 200, Base)
	write(t, s, recs)
	before, err := s.Counts(context.Background())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(before.Days), 2)
	// Keep the last days: "now" is the start of the second day plus keep.
	keep := 28 * 24 * time.Hour
	now := func() time.Time { return time.Unix(before.Days[1].Start(), 0).Add(keep) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.RunRetention(ctx, keep, time.Hour, now) }()
	var days []bucket.Day
	require.Eventually(t, func() bool {
		c, err := s.Counts(context.Background())
		days = c.Days
		return err == nil && len(days) == len(before.Days)-1
	}, 30*time.Second, 20*time.Millisecond)
	cancel()
	<-done
	require.Equal(t, before.Days[1:], days)
	w := graph.Window{From: before.Days[0].Start(), To: before.Days[1].Start() - 1}
	users := make([]uint32, 20)
	for i := range users {
		users[i] = uint32(i + 1)
	}
	for _, ss := range stays(t, s, users, w) {
		for _, st := range ss {
			require.GreaterOrEqual(t, st.Start, before.Days[1].Start(), "a stay of a dropped day is still there")
		}
	}
}

// RandomRecords makes a small, dense world in which everyone meets: stays
// with and without check-out (sent as separate records, sometimes check-out
// first, sometimes resent), and encounters, sometimes reported by both phones.
// Records start in [base-8h, base+32h) and end before base+36h.
func RandomRecords(rng *rand.Rand, people, venues, stays int, base int64) event.Batch {
	var b event.Batch
	span := int64(40 * hour)
	start := base - 8*hour
	for i := range stays {
		u := uint32(rng.IntN(people) + 1)
		v := uint32(rng.IntN(venues) + 1)
		enter := start + rng.Int64N(span)
		// Durations near the 15-minute threshold are common on purpose.
		dur := []int64{15 * min_, 14*min_ + 59, 15*min_ + 1, int64(rng.IntN(180)+1) * min_, int64(rng.IntN(3600) + 1)}[rng.IntN(5)]
		id := fmt.Sprintf("v%d", i)
		in := visit(id, u, v, enter, 0)
		out := visit(id, u, v, enter, enter+dur)
		switch rng.IntN(6) {
		case 0: // check-in only: default dwell
			b.Visits = append(b.Visits, in)
		case 1: // check-out first
			b.Visits = append(b.Visits, out, in)
		case 2: // one combined record, resent
			b.Visits = append(b.Visits, out, out)
		case 3: // two check-outs; the later one wins
			b.Visits = append(b.Visits, in, out, visit(id, u, v, enter, enter+dur/2))
		default:
			b.Visits = append(b.Visits, in, out)
		}
	}
	for i := range stays {
		u := uint32(rng.IntN(people) + 1)
		p := uint32(rng.IntN(people) + 1)
		if p == u {
			continue
		}
		e := event.Encounter{
			EncounterID: fmt.Sprintf("e%d", i), UserID: u, PeerID: p,
			Start: start + rng.Int64N(span), DurationS: uint32([]int{900, 899, 901, rng.IntN(3600) + 1}[rng.IntN(4)]),
		}
		b.Encounters = append(b.Encounters, e)
		if rng.IntN(3) == 0 { // the peer's phone reports it too, slightly differently
			e2 := e
			e2.EncounterID, e2.UserID, e2.PeerID = e.EncounterID+"p", p, u
			e2.Start += int64(rng.IntN(30))
			b.Encounters = append(b.Encounters, e2)
		}
		if rng.IntN(10) == 0 {
			b.Encounters = append(b.Encounters, e) // resend
		}
	}
	return b
}

// RandomTrips makes health declarations whose trips share a few vehicles,
// departing in [base-8h, base+30h): lengths near the 15-minute threshold
// are common, some subjects declare one trip twice, some declarations are
// filed for family and some are resent.
func RandomTrips(rng *rand.Rand, people, n int, base int64) []event.Declaration {
	vehicles := []string{"VN123", "SE1", "29B-12345"}
	var out []event.Declaration
	for i := range n {
		u := uint32(rng.IntN(people) + 1)
		subject := u
		if rng.IntN(4) == 0 {
			subject = uint32(rng.IntN(people) + 1) // for family
		}
		depart := base - 8*hour + rng.Int64N(38*hour)
		dur := []int64{15 * min_, 14*min_ + 59, 15*min_ + 1, int64(rng.IntN(300)+1) * min_}[rng.IntN(4)]
		d := Declaration(fmt.Sprintf("t%d", i), u, subject, event.DeclKinds[rng.IntN(3)], depart+dur, "79", event.Symptoms(rng.IntN(4)))
		d.HasTravel = true
		d.Travel = event.Travel{Vehicle: vehicles[rng.IntN(len(vehicles))], Depart: depart, Arrive: depart + dur}
		out = append(out, d)
		switch rng.IntN(8) {
		case 0:
			out = append(out, d) // resent
		case 1:
			again := d
			again.DeclarationID += "b"
			again.DeclaredAt++
			out = append(out, again) // the same trip declared again
		}
	}
	return out
}

func testDifferential(t *testing.T, open Factory) {
	seeds := []uint64{1, 2, 3, 4, 5}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			people, venues := 50+rng.IntN(50), 3+rng.IntN(8)
			recs := RandomRecords(rng, people, venues, 4*people, Base)
			recs.Declarations = RandomTrips(rng, people, people, Base)
			layout := bucket.DefaultLayout()
			if seed%2 == 0 {
				layout = bucket.Layout{BucketSeconds: 300, DwellSeconds: 45 * min_}
			}
			s := open(t, layout)
			write(t, s, event.Batch{Declarations: recs.Declarations})
			// Write in shuffled batches, replaying some: order must not matter.
			shuffled := recs
			shuffled.Visits = slices.Clone(recs.Visits)
			shuffled.Encounters = slices.Clone(recs.Encounters)
			rng.Shuffle(len(shuffled.Visits), func(i, j int) {
				shuffled.Visits[i], shuffled.Visits[j] = shuffled.Visits[j], shuffled.Visits[i]
			})
			for lo := 0; lo < max(len(shuffled.Visits), len(shuffled.Encounters)); lo += 97 {
				var part event.Batch
				part.Visits = shuffled.Visits[min(lo, len(shuffled.Visits)):min(lo+97, len(shuffled.Visits))]
				part.Encounters = shuffled.Encounters[min(lo, len(shuffled.Encounters)):min(lo+97, len(shuffled.Encounters))]
				write(t, s, part)
				if rng.IntN(4) == 0 {
					write(t, s, part)
				}
			}
			// Each query is asked of the default engine, of one refining
			// every tier with several workers and reading every tier by
			// venue (where the store can), and of one never reading by venue.
			engines := []*graph.Engine{
				graph.NewEngine(s),
				graph.NewEngine(s, graph.RefineWorkers(3, 1), graph.VenueReads(1)),
				graph.NewEngine(s, graph.VenueReads(0)),
			}
			visitorsRead, vehicleEdges := 0, 0
			for i := range 40 {
				q := graph.Query{
					Case:       uint32(rng.IntN(people) + 1),
					Depth:      1 + rng.IntN(2),
					MinSeconds: []int64{900, 900, 0, 60, 1800}[rng.IntN(5)],
				}
				from := Base - 8*hour + rng.Int64N(30*hour)
				q.Window = graph.Window{From: from, To: from + []int64{2 * hour, 12 * hour, 40 * hour}[rng.IntN(3)]}
				if i == 0 {
					q.Window = graph.Window{From: Base - 24*hour, To: Base + 48*hour}
				}
				want := reference.ExposuresUnder(recs.Visits, recs.Encounters, reference.Setting{Dwell: layout.DwellSeconds, Declarations: recs.Declarations}, q)
				for _, eng := range engines {
					got, err := eng.Exposures(context.Background(), q)
					require.NoError(t, err)
					requireSameGraph(t, want, got)
					visitorsRead += got.Stats.VisitorsRead
					for _, e := range got.Edges {
						if e.Channel == graph.ChannelVehicle {
							vehicleEdges++
						}
					}
				}
				list := q
				list.ContactsOnly = true
				for _, eng := range engines[:2] {
					got, err := eng.Exposures(context.Background(), list)
					require.NoError(t, err)
					requireSameContacts(t, want, got)
				}
			}
			if _, ok := s.(graph.VenueStore); ok {
				require.Positive(t, visitorsRead, "a store that reads by venue was never read by venue")
			}
			require.Positive(t, vehicleEdges, "no answer had contact through a shared vehicle")
		})
	}
}

func requireSameGraph(t *testing.T, want, got *graph.Result) {
	t.Helper()
	q := want.Query
	msg := fmt.Sprintf("case %d depth %d min %ds window [%d, %d]%s", q.Case, q.Depth, q.MinSeconds, q.Window.From-Base, q.Window.To-Base, ruleString(q.Rule))
	require.Equal(t, want.Nodes, got.Nodes, msg)
	require.Equal(t, normEdges(want.Edges), normEdges(got.Edges), msg)
	require.Equal(t, want.Venues, got.Venues, msg)
	require.Equal(t, want.Timeline, got.Timeline, msg)
	// The candidates the bitmaps proposed cover everyone found.
	found := roaring.New()
	for _, n := range got.Nodes[1:] {
		found.Add(n.UserID)
	}
	require.LessOrEqual(t, int(found.GetCardinality()), got.Stats.CandidatesF1+got.Stats.CandidatesF2, msg)
}

// requireSameContacts checks a ContactsOnly answer against the full graph
// want: the same nodes, each naming the venues of its venue edges, and no
// edges or sites.
func requireSameContacts(t *testing.T, want, got *graph.Result) {
	t.Helper()
	nodes := slices.Clone(want.Nodes)
	venues := map[uint32][]uint32{}
	for _, e := range want.Edges {
		if e.Channel == graph.ChannelVenue && !slices.Contains(venues[e.To], e.VenueID) {
			venues[e.To] = append(venues[e.To], e.VenueID)
		}
	}
	for i := range nodes {
		if nodes[i].Tier != graph.TierCasual { // casual co-presence has no edges and names its venues
			nodes[i].Venues = slices.Sorted(slices.Values(venues[nodes[i].UserID]))
		}
	}
	q := want.Query
	msg := fmt.Sprintf("contact list of case %d depth %d min %ds window [%d, %d]", q.Case, q.Depth, q.MinSeconds, q.Window.From-Base, q.Window.To-Base)
	require.Equal(t, nodes, got.Nodes, msg)
	require.Empty(t, got.Edges, msg)
	require.Empty(t, got.Venues, msg)
}

func normEdges(es []graph.Edge) []graph.Edge {
	if len(es) == 0 {
		return nil
	}
	return es
}

// RequireAgrees asks the engine over s n random exposure queries about a
// world made by RandomRecords(…, people, …, base) and checks each answer
// against the reference over recs. Pipelines (Kafka, HTTP) use it to show
// that what went in came out exactly.
func RequireAgrees(t *testing.T, s graph.Store, recs event.Batch, people int, base int64, seed uint64, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	eng := graph.NewEngine(s)
	for i := range n {
		q := graph.Query{Case: uint32(rng.IntN(people) + 1), Depth: 1 + i%2, MinSeconds: []int64{900, 0, 1800}[rng.IntN(3)]}
		from := base - 8*hour + rng.Int64N(30*hour)
		q.Window = graph.Window{From: from, To: from + []int64{2 * hour, 12 * hour, 40 * hour}[rng.IntN(3)]}
		got, err := eng.Exposures(t.Context(), q)
		require.NoError(t, err)
		requireSameGraph(t, reference.ExposuresUnder(recs.Visits, recs.Encounters, reference.Setting{Dwell: s.Layout().DwellSeconds, Declarations: recs.Declarations}, q), got)
	}
}

// testKinds are the venue kinds of the definitions test: venue v is
// testKinds[v%len], and a kind of "" is a venue the registry does not know.
var testKinds = []string{"market", "cafe", "", "office", "factory"}

type kindsOf struct{}

func (kindsOf) Kinds(_ context.Context, venues []uint32) ([]string, error) {
	out := make([]string, len(venues))
	for i, v := range venues {
		out[i] = testKinds[v%uint32(len(testKinds))]
	}
	return out, nil
}

// RandomRule returns a random contact definition's rule: each channel on or
// off, thresholds near and off the default, an RSSI floor, venue kinds, a
// crowd cap, casual co-presence or not.
func RandomRule(rng *rand.Rand) *graph.Rule {
	r := &graph.Rule{Casual: rng.IntN(2) == 0}
	mins := []int64{0, 0, 600, 900, 1800}
	if rng.IntN(5) > 0 {
		r.Proximity = &graph.ProximityRule{MinSeconds: mins[rng.IntN(len(mins))]}
		if rng.IntN(2) == 0 {
			r.Proximity.MinRSSI, r.Proximity.HasMinRSSI = int8(-90+rng.IntN(40)), true
		}
	}
	if rng.IntN(5) > 0 {
		r.Venue = &graph.VenueRule{MinSeconds: mins[rng.IntN(len(mins))]}
		if rng.IntN(2) == 0 {
			all := []string{"market", "cafe", "other", "office", "factory"}
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			r.Venue.Kinds = all[:rng.IntN(len(all))]
			if len(r.Venue.Kinds) == 0 {
				r.Venue.Kinds = []string{}
			}
		}
		if rng.IntN(2) == 0 {
			r.Venue.MaxPresent = 1 + rng.IntN(8)
		}
	}
	if rng.IntN(3) > 0 {
		r.Vehicle = &graph.ChannelRule{MinSeconds: mins[rng.IntN(len(mins))]}
	}
	return r
}

// withRSSI gives some of recs' encounters an RSSI, the same for every
// record with the same id (a resend repeats its record).
func withRSSI(recs event.Batch) event.Batch {
	recs.Encounters = slices.Clone(recs.Encounters)
	for i := range recs.Encounters {
		e := &recs.Encounters[i]
		h := uint32(2166136261)
		for _, c := range []byte(e.EncounterID) {
			h = (h ^ uint32(c)) * 16777619
		}
		if h%4 != 0 {
			e.RSSI, e.HasRSSI = int8(-100+int(h/4%80)), true
		}
	}
	return recs
}

func testDefinitions(t *testing.T, open Factory) {
	seeds := []uint64{11, 12, 13, 14}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 5))
			people, venues := 40+rng.IntN(40), 3+rng.IntN(8)
			recs := withRSSI(RandomRecords(rng, people, venues, 4*people, Base))
			recs.Declarations = RandomTrips(rng, people, people, Base)
			layout := bucket.DefaultLayout()
			if seed%2 == 0 {
				layout = bucket.Layout{BucketSeconds: 300, DwellSeconds: 45 * min_}
			}
			s := open(t, layout)
			write(t, s, event.Batch{Declarations: recs.Declarations})
			for lo := 0; lo < max(len(recs.Visits), len(recs.Encounters)); lo += 101 {
				var part event.Batch
				part.Visits = recs.Visits[min(lo, len(recs.Visits)):min(lo+101, len(recs.Visits))]
				part.Encounters = recs.Encounters[min(lo, len(recs.Encounters)):min(lo+101, len(recs.Encounters))]
				write(t, s, part)
			}
			engines := []*graph.Engine{
				graph.NewEngine(s, graph.WithVenueKinds(kindsOf{})),
				graph.NewEngine(s, graph.WithVenueKinds(kindsOf{}), graph.RefineWorkers(3, 1), graph.VenueReads(1)),
			}
			set := reference.Setting{Dwell: layout.DwellSeconds, BucketSeconds: layout.BucketSeconds, Kind: func(v uint32) string {
				return testKinds[v%uint32(len(testKinds))]
			}, Declarations: recs.Declarations}
			for i := range 30 {
				q := graph.Query{
					Case:       uint32(rng.IntN(people) + 1),
					Depth:      1 + rng.IntN(2),
					MinSeconds: []int64{900, 900, 0, 60, 1800}[rng.IntN(5)],
					Rule:       RandomRule(rng),
				}
				from := Base - 8*hour + rng.Int64N(30*hour)
				q.Window = graph.Window{From: from, To: from + []int64{2 * hour, 12 * hour, 40 * hour}[rng.IntN(3)]}
				if i == 0 {
					q.Window = graph.Window{From: Base - 24*hour, To: Base + 48*hour}
				}
				want := reference.ExposuresUnder(recs.Visits, recs.Encounters, set, q)
				for _, eng := range engines {
					got, err := eng.Exposures(context.Background(), q)
					require.NoError(t, err)
					requireSameGraph(t, want, got)
					list := q
					list.ContactsOnly = true
					got, err = eng.Exposures(context.Background(), list)
					require.NoError(t, err)
					requireSameContacts(t, want, got)
				}
			}
		})
	}
}

// ruleString describes a rule for failure messages.
func ruleString(r *graph.Rule) string {
	if r == nil {
		return ""
	}
	out := fmt.Sprintf(" casual %v", r.Casual)
	if p := r.Proximity; p != nil {
		out += fmt.Sprintf(" proximity{min %ds rssi %v:%d}", p.MinSeconds, p.HasMinRSSI, p.MinRSSI)
	}
	if v := r.Venue; v != nil {
		out += fmt.Sprintf(" venue{min %ds kinds %q max %d}", v.MinSeconds, v.Kinds, v.MaxPresent)
	}
	if v := r.Vehicle; v != nil {
		out += fmt.Sprintf(" vehicle{min %ds}", v.MinSeconds)
	}
	return out
}

func testDefinitionStore(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	ctx := t.Context()
	got, err := s.Definitions(ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	cat := definitions.New(s)
	d, err := definition.Parse([]byte(`{"name":"city","channels":{"venue":{"min_minutes":30,"kinds":["cafe"],"max_present":20}},"casual":true}`))
	require.NoError(t, err)
	v1, err := cat.Add(ctx, d)
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	d, err = definition.Parse([]byte(`{"name":"city","channels":{"venue":{"min_minutes":20,"kinds":["cafe"],"max_present":20}},"casual":true}`))
	require.NoError(t, err)
	v2, err := cat.Add(ctx, d)
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version, "a POST makes a new version")
	// A version once stored is never replaced.
	again := v1
	again.Casual = false
	require.ErrorIs(t, s.AddDefinition(ctx, again), definitions.ErrExists)
	// A shipped name gets the version after the shipped one.
	def, err := definition.Parse([]byte(`{"name":"default","channels":{"proximity":{"min_minutes":30}}}`))
	require.NoError(t, err)
	d2, err := cat.Add(ctx, def)
	require.NoError(t, err)
	require.Equal(t, "default@2", d2.Ref())

	got, err = s.Definitions(ctx)
	require.NoError(t, err)
	slices.SortFunc(got, func(a, b definition.Definition) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	require.Equal(t, []definition.Definition{v1, v2, d2}, got)
	for ref, want := range map[[2]any]definition.Definition{{"city", 1}: v1, {"city", 0}: v2, {"default", 1}: definition.Shipped()[1]} {
		r, err := cat.Resolve(ctx, ref[0].(string), ref[1].(int))
		require.NoError(t, err)
		require.Equal(t, want, r)
	}
	_, err = cat.Resolve(ctx, "city", 3)
	require.ErrorIs(t, err, definitions.ErrUnknown)
}
