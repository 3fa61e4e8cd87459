package storetest

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue/visitors"
)

// testVisitorList checks a venue's visitor list (venue/visitors over the
// store's venue-order reader) against the list computed naively from the
// records, for random venues and windows.
func testVisitorList(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	vs, ok := s.(graph.VenueStore)
	if !ok {
		t.Skip("the store does not read by venue")
	}
	rng := rand.New(rand.NewPCG(11, 3))
	const people, venues = 50, 5
	recs := RandomRecords(rng, people, venues, 400, Base)
	dwell := s.Layout().DwellSeconds
	for i := range recs.Visits {
		// A check-out exactly the default dwell after entry reads as
		// imputed (visitors.Visit); keep the random records off that tie.
		if v := &recs.Visits[i]; v.HasExit() && v.Exit-v.Enter == dwell {
			v.Exit++
		}
	}
	rng.Shuffle(len(recs.Visits), func(i, j int) { recs.Visits[i], recs.Visits[j] = recs.Visits[j], recs.Visits[i] })
	half := len(recs.Visits) / 2
	write(t, s, event.Batch{Visits: recs.Visits[:half]})
	write(t, s, event.Batch{Visits: recs.Visits[half:]})

	found, imputed := 0, 0
	for range 40 {
		v := uint32(1 + rng.IntN(venues)) //nolint:gosec // small
		from := Base - 30*hour + rng.Int64N(60*hour)
		to := from + 1 + rng.Int64N(30*hour)
		got, err := visitors.List(t.Context(), vs, v, from, to)
		require.NoError(t, err)
		want := visitors.Reference(recs.Visits, dwell, v, from, to)
		if len(want) == 0 {
			require.Empty(t, got)
			continue
		}
		require.Equal(t, want, got, "venue %d [%d, %d)", v, from, to)
		found += len(want)
		for _, w := range want {
			if w.ExitImputed {
				imputed++
			}
		}
	}
	require.Positive(t, found, "no window had visitors")
	require.Positive(t, imputed, "no stay without check-out was listed")
}
