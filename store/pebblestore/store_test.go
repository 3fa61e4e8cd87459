package pebblestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/statetest"
	"github.com/truyvet/truyvet/store/storetest"
)

func open(t *testing.T, layout bucket.Layout) store.Backend {
	t.Helper()
	s, err := Open(t.Context(), Options{Dir: t.TempDir(), Layout: layout, CacheBytes: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func writeVisits(t *testing.T, s *Store, vs ...event.Visit) {
	t.Helper()
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(context.Background(), &event.Batch{Visits: vs}))
}

func TestReopenKeepsDataAndRefusesOtherLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	t0 := storetest.Base + 8*3600
	writeVisits(t, s, event.Visit{VisitID: "a", UserID: 1, VenueID: 2, Enter: t0, Exit: t0 + 600})
	require.NoError(t, s.Close())

	_, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.Layout{BucketSeconds: 300, DwellSeconds: 3600}})
	require.ErrorIs(t, err, ErrLayoutMismatch)

	s, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	var got []graph.UserStays
	for us, err := range s.Stays(context.Background(), []uint32{1}, graph.Window{From: t0, To: t0 + 3600}) {
		require.NoError(t, err)
		got = append(got, us)
	}
	require.Len(t, got, 1)
	require.Equal(t, []graph.Stay{{Venue: 2, Interval: graph.Interval{Start: t0, End: t0 + 600}}}, got[0].Stays)
	c, err := s.Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), c.Visits)
	require.Equal(t, []bucket.Day{bucket.DayOf(t0)}, c.Days)
}

func TestDropBeforeDeletesWholeDays(t *testing.T) {
	s := open(t, bucket.DefaultLayout()).(*Store)
	day := int64(86400)
	base := storetest.Base + 10*3600
	for i := range int64(3) {
		writeVisits(t, s, event.Visit{VisitID: "v", UserID: 1, VenueID: 1, Enter: base + i*day, Exit: base + i*day + 600})
	}
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(context.Background(), &event.Batch{Encounters: []event.Encounter{
		{EncounterID: "e", UserID: 1, PeerID: 2, Start: base, DurationS: 60},
	}}))
	cutoff := bucket.DayOf(base + day)
	dropped, err := s.DropBefore(context.Background(), cutoff)
	require.NoError(t, err)
	require.Equal(t, []bucket.Day{bucket.DayOf(base)}, dropped)

	w := graph.Window{From: base - day, To: base + 3*day}
	var stays []graph.Stay
	for us, err := range s.Stays(context.Background(), []uint32{1}, w) {
		require.NoError(t, err)
		stays = append(stays, us.Stays...)
	}
	require.Len(t, stays, 2)
	require.Equal(t, base+day, stays[0].Start)
	var visitors []graph.Visitor
	for vv, err := range s.Visitors(context.Background(), []graph.VenueSpans{{Venue: 1, Spans: []graph.Interval{{Start: w.From, End: w.To}}}}) {
		require.NoError(t, err)
		visitors = append(visitors, vv.Visitors...)
	}
	require.Len(t, visitors, 2, "visitors of a dropped day are still there")
	require.Equal(t, base+day, visitors[0].Start)
	for _, err := range s.Contacts(context.Background(), []uint32{1, 2}, w) {
		require.NoError(t, err)
		t.Fatal("encounters of a dropped day are still there")
	}
	l := s.Layout()
	bm, err := s.Present(context.Background(), []bucket.Range{{Venue: 1, First: l.Of(base), Last: l.Of(base + 600)}})
	require.NoError(t, err)
	require.True(t, bm.IsEmpty(), "bitmaps of a dropped day are still there")
	c, err := s.Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, []bucket.Day{cutoff, cutoff + 1}, c.Days)
}

// A store written before the visitor index existed gets it built on Open.
func TestOpenBuildsVisitorIndexOfOlderStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	t0 := storetest.Base + 8*3600
	writeVisits(t, s,
		event.Visit{VisitID: "a", UserID: 1, VenueID: 2, Enter: t0, Exit: 0},
		event.Visit{VisitID: "a", UserID: 1, VenueID: 2, Enter: t0, Exit: t0 + 600},
		event.Visit{VisitID: "b", UserID: 3, VenueID: 2, Enter: t0 + 300, Exit: 0},
		event.Visit{VisitID: "c", UserID: 4, VenueID: 5, Enter: t0 - 86400, Exit: t0 - 86000},
	)
	visitors := func(s *Store) []graph.VenueVisitors {
		var out []graph.VenueVisitors
		ask := []graph.VenueSpans{
			{Venue: 2, Spans: []graph.Interval{{Start: t0, End: t0 + 3600}}},
			{Venue: 5, Spans: []graph.Interval{{Start: t0 - 86400, End: t0}}},
		}
		for vv, err := range s.Visitors(context.Background(), ask) {
			require.NoError(t, err)
			vv.Visitors = append([]graph.Visitor(nil), vv.Visitors...)
			out = append(out, vv)
		}
		return out
	}
	want := []graph.VenueVisitors{
		{Venue: 2, Visitors: []graph.Visitor{
			{User: 1, Interval: graph.Interval{Start: t0, End: t0 + 600}},
			{User: 3, Interval: graph.Interval{Start: t0 + 300, End: t0 + 300 + 3600}},
		}},
		{Venue: 5, Visitors: []graph.Visitor{{User: 4, Interval: graph.Interval{Start: t0 - 86400, End: t0 - 86000}}}},
	}
	require.Equal(t, want, visitors(s))

	// Make it look like an older store: no visitor keys, no mark.
	require.NoError(t, s.db.DeleteRange([]byte{spaceVisitor}, []byte{spaceVisitor + 1}, nil))
	require.NoError(t, s.db.Delete(visitorIndexKey, nil))
	require.Empty(t, visitors(s))
	require.NoError(t, s.Close())

	s, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, want, visitors(s))
}

// A store written before the trail was chained gets its old entries moved
// into the chain, in order, on Open.
func TestOpenChainsOldAuditTrail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	for i := range 3 {
		val, err := json.Marshal(audit.Entry{Time: time.Unix(int64(1_790_000_000+i), 0), Case: uint32(i + 1), Requester: "hcdc"})
		require.NoError(t, err)
		key := binary.BigEndian.AppendUint64([]byte{spaceAudit}, uint64(1_790_000_000+i)*1e9)
		require.NoError(t, s.db.Set(binary.BigEndian.AppendUint64(key, uint64(i)), val, nil))
	}
	require.NoError(t, s.Close())
	s, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	n, _, err := audit.Verify(t.Context(), s)
	require.NoError(t, err)
	require.Equal(t, uint64(3), n)
	got, err := s.Entries(t.Context(), audit.Filter{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []uint32{3, 2}, []uint32{got[0].Case, got[1].Case})
	require.Equal(t, audit.ActionExposures, got[0].Action)
}

func TestRegistryConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Store {
		s, err := Open(t.Context(), Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
