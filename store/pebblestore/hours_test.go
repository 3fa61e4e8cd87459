package pebblestore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/storetest"
)

func randomBounds(rng *rand.Rand, first uint32) []hourBound {
	var out []hourBound
	for h := first; h < first+30; h++ {
		if rng.IntN(3) == 0 {
			start := int64(h) * hourSeconds
			out = append(out, hourBound{hour: h, end: start + 1 + rng.Int64N(10*hourSeconds)})
		}
	}
	return out
}

func TestHourBoundsRoundTripAndMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		a, b, c := randomBounds(rng, 450_000), randomBounds(rng, 450_010), randomBounds(rng, 449_990)
		got, err := decodeHourBounds(nil, appendHourBounds(nil, a))
		require.NoError(t, err)
		require.Len(t, got, len(a))
		if len(a) > 0 {
			require.Equal(t, a, got)
		}

		// The merge is the per-hour maximum of the union, in any order and
		// grouping, and merging a bound set into itself changes nothing.
		want := map[uint32]int64{}
		for _, s := range [][]hourBound{a, b, c} {
			for _, x := range s {
				want[x.hour] = max(want[x.hour], x.end)
			}
		}
		abc := mergeHourBounds(mergeHourBounds(a, b), c)
		require.Equal(t, abc, mergeHourBounds(c, mergeHourBounds(b, a)))
		require.Equal(t, abc, mergeHourBounds(abc, abc))
		require.Len(t, abc, len(want))
		require.True(t, slices.IsSortedFunc(abc, func(x, y hourBound) int { return int(x.hour) - int(y.hour) }))
		for _, x := range abc {
			require.Equal(t, want[x.hour], x.end)
		}
	}
}

func TestHourBoundsRejectMalformed(t *testing.T) {
	_, err := decodeHourBounds(nil, make([]byte, hourBoundSize+1))
	require.ErrorIs(t, err, errKey)
	v := appendHourBounds(nil, []hourBound{{hour: 5, end: 1}, {hour: 4, end: 2}})
	_, err = decodeHourBounds(nil, v)
	require.ErrorIs(t, err, errKey)
	require.ErrorContains(t, err, "out of order")
}

// TestPlanHoursReadsExactlyTheHoursThatMayOverlap checks the plan against
// the rule hour by hour: an hour is read iff [start of hour, its bound)
// overlaps a span, and nothing else is read.
func TestPlanHoursReadsExactlyTheHoursThatMayOverlap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		bounds := randomBounds(rng, 450_000)
		var spans []graph.Interval
		for t0 := int64(450_000)*hourSeconds + rng.Int64N(8*hourSeconds); t0 < 450_040*hourSeconds && len(spans) < 4; {
			end := t0 + 1 + rng.Int64N(3*hourSeconds)
			spans = append(spans, graph.Interval{Start: t0, End: end})
			t0 = end + 1 + rng.Int64N(12*hourSeconds)
		}
		vs := graph.VenueSpans{Venue: 1, Spans: spans}
		ranges := planHours(nil, bounds, vs)
		for i := 1; i < len(ranges); i++ {
			require.Less(t, ranges[i-1].to, ranges[i].from, "ranges sorted, disjoint and not adjacent")
		}
		for _, b := range bounds {
			start := int64(b.hour) * hourSeconds
			want := false
			for _, sp := range spans {
				want = want || (start < sp.End && b.end > sp.Start)
			}
			read := slices.ContainsFunc(ranges, func(r enterRange) bool { return r.from <= start && start+hourSeconds <= r.to })
			require.Equal(t, want, read, "hour %d bound %d spans %v ranges %v", b.hour, b.end, spans, ranges)
		}
	}
}

func FuzzDecodeHourBounds(f *testing.F) {
	f.Add(appendHourBounds(nil, []hourBound{{hour: 1, end: 7200}, {hour: 3, end: 20000}}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := decodeHourBounds(nil, v)
		if err != nil {
			return
		}
		require.True(t, bytes.Equal(v, appendHourBounds(nil, b)))
		require.True(t, slices.Equal(b, mergeHourBounds(b, b)))
	})
}

// TestOpenBuildsVisitorHoursOfOlderStore opens a store whose visitor keys
// have no hour bounds, as a store of the previous version: Visitors still
// answers (reading whole days), and Open builds the bounds.
func TestOpenBuildsVisitorHoursOfOlderStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(9, 9))
	recs := storetest.RandomRecords(rng, 30, 4, 300, storetest.Base)
	writeVisits(t, s, recs.Visits...)
	ask := []graph.VenueSpans{}
	for v := uint32(1); v <= 4; v++ {
		ask = append(ask, graph.VenueSpans{Venue: v, Spans: []graph.Interval{
			{Start: storetest.Base - 3*3600, End: storetest.Base - 2*3600},
			{Start: storetest.Base + 5*3600, End: storetest.Base + 5*3600 + 60},
			{Start: storetest.Base + 20*3600, End: storetest.Base + 30*3600},
		}})
	}
	visitors := func(s *Store) []graph.VenueVisitors {
		var out []graph.VenueVisitors
		for vv, err := range s.Visitors(context.Background(), ask) {
			require.NoError(t, err)
			vv.Visitors = slices.Clone(vv.Visitors)
			out = append(out, vv)
		}
		return out
	}
	want := visitors(s)
	require.NotEmpty(t, want)
	boundKeys := func(s *Store) [][]byte {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{spaceVisitor}, UpperBound: []byte{spaceVisitor + 1}})
		require.NoError(t, err)
		defer func() { require.NoError(t, it.Close()) }()
		var keys [][]byte
		for ok := it.First(); ok; ok = it.Next() {
			if isHourBoundsKey(it.Key()) {
				keys = append(keys, slices.Clone(it.Key()))
			}
		}
		return keys
	}
	keys := boundKeys(s)
	require.NotEmpty(t, keys)

	// Make it look like an older store: no bounds, no mark.
	for _, k := range keys {
		require.NoError(t, s.db.Delete(k, nil))
	}
	require.NoError(t, s.db.Delete(visitorBoundsKey, nil))
	require.Equal(t, want, visitors(s), "without bounds, whole days are read")
	require.NoError(t, s.Close())

	s, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, keys, boundKeys(s))
	require.Equal(t, want, visitors(s))
}

// TestHourBoundsSurviveCompaction merges bounds from many batches, compacts
// them into one value, and checks the answer is unchanged.
func TestHourBoundsSurviveCompaction(t *testing.T) {
	s, err := Open(t.Context(), Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	t0 := storetest.Base + 9*3600
	for i := range 20 {
		enter := t0 + int64(i)*900
		writeVisits(t, s, event.Visit{VisitID: "x", UserID: uint32(i + 1), VenueID: 3, Enter: enter, Exit: enter + int64(i+1)*600})
	}
	ask := []graph.VenueSpans{{Venue: 3, Spans: []graph.Interval{{Start: t0 + 5*3600, End: t0 + 5*3600 + 1}}}}
	read := func() []graph.Visitor {
		var out []graph.Visitor
		for vv, err := range s.Visitors(context.Background(), ask) {
			require.NoError(t, err)
			out = append(out, vv.Visitors...)
		}
		return out
	}
	before := read()
	require.NotEmpty(t, before)
	for _, v := range before {
		require.Greater(t, v.End, t0+5*3600)
	}
	require.NoError(t, s.db.Compact(context.Background(), []byte{spaceVisitor}, []byte{spaceVisitor + 1}, true))
	require.Equal(t, before, read())
}
