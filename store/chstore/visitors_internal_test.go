package chstore

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

// TestVisitorsQueriesFitAndCoverEveryVenue splits many venues with many
// spans into queries: each fits ClickHouse's default max_query_size, and
// every venue with spans is asked exactly once.
func TestVisitorsQueriesFitAndCoverEveryVenue(t *testing.T) {
	s := &Store{db: "truyvet", layout: bucket.DefaultLayout()}
	rng := rand.New(rand.NewPCG(1, 1))
	var venues []graph.VenueSpans
	for v := range uint32(30_000) {
		var spans []graph.Interval
		for t0 := int64(1_619_600_000) + rng.Int64N(3600); len(spans) < rng.IntN(12); t0 += 7200 {
			spans = append(spans, graph.Interval{Start: t0, End: t0 + 1 + rng.Int64N(3600)})
		}
		venues = append(venues, graph.VenueSpans{Venue: 1_000_000 + v, Spans: spans})
	}
	asked := map[uint32]int{}
	queries := 0
	for rest := venues; len(rest) > 0; {
		q, n := s.visitorsQuery(rest)
		require.Positive(t, n)
		require.Less(t, len(q), 256<<10)
		for _, v := range rest[:n] {
			if len(v.Spans) > 0 {
				require.Contains(t, q, strconv.Itoa(int(v.Venue)))
				asked[v.Venue]++
			}
		}
		if q != "" {
			queries++
			require.True(t, strings.HasPrefix(q, "SELECT venue, enter, user, stay_end FROM"))
		}
		rest = rest[n:]
	}
	require.Greater(t, queries, 1)
	for _, v := range venues {
		if len(v.Spans) > 0 {
			require.Equal(t, 1, asked[v.Venue], "venue %d", v.Venue)
		}
	}
	q, n := s.visitorsQuery([]graph.VenueSpans{{Venue: 1}})
	require.Empty(t, q, "no spans, no query")
	require.Equal(t, 1, n)
}

// A venue is read on the days its spans may reach, each day once: from the
// day a stay ending in a span could have begun (bucket.MaxSpan before it)
// to the span's last day; each day's branch names that day's venues alone.
func TestVisitorsReadOnlyTheDaysOfEachVenuesSpans(t *testing.T) {
	day := func(d int64, h int64) int64 { return d*86400 - 7*3600 + h*3600 } // local hour h of local day d
	d0 := bucket.DayOf(day(20_000, 12))
	seven := graph.VenueSpans{Venue: 7, Spans: []graph.Interval{
		{Start: day(20_000, 10), End: day(20_000, 11)}, // the day and the one before
		{Start: day(20_000, 15), End: day(20_000, 16)}, // nothing new
		{Start: day(20_001, 9), End: day(20_001, 10)},  // the next day
		{Start: day(20_005, 9), End: day(20_005, 10)},  // days 4 and 5 later
	}}
	require.Equal(t, []bucket.Day{d0 - 1, d0, d0 + 1, d0 + 4, d0 + 5}, slices.Collect(venueDays(seven)))
	eight := graph.VenueSpans{Venue: 8, Spans: []graph.Interval{{Start: day(20_000, 23), End: day(20_001, 1)}}}
	require.Equal(t, []bucket.Day{d0 - 1, d0, d0 + 1}, slices.Collect(venueDays(eight)))

	s := &Store{db: "truyvet", layout: bucket.DefaultLayout()}
	q, n := s.visitorsQuery([]graph.VenueSpans{seven, eight})
	require.Equal(t, 2, n)
	branch := func(d bucket.Day, venues string) string {
		return "day = " + strconv.Itoa(int(d)) + " AND venue IN (" + venues + ") AND"
	}
	for _, want := range []string{branch(d0-1, "7,8"), branch(d0, "7,8"), branch(d0+1, "7,8"), branch(d0+4, "7"), branch(d0+5, "7")} {
		require.Contains(t, q, want)
	}
	require.Equal(t, 4, strings.Count(q, "UNION ALL"), "five days, five branches")
	require.NotContains(t, q, "day = "+strconv.Itoa(int(d0+2)))
}
