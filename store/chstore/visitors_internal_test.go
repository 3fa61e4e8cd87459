package chstore

import (
	"math/rand/v2"
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
