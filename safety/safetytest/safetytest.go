// Package safetytest is the conformance suite of the Safety Map's stores:
// RunAssessments checks a store's assessments (processor.Sink in,
// safety.AssessmentStore out) against a naive reference, with replays,
// a second assessment of a day and retention; RunFeedback checks a
// safety.FeedbackStore. The embedded store, ClickHouse and PostgreSQL run
// them.
package safetytest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

// AssessmentBackend is what RunAssessments needs of a store.
type AssessmentBackend interface {
	processor.Sink
	safety.AssessmentStore
	safety.PriorReader
	DropBefore(ctx context.Context, cutoff bucket.Day) ([]bucket.Day, error)
}

// Base is the suite's first day, 2021-07-20.
const Base = bucket.Day(18828)

// Assessment builds a valid, scored assessment of venue v (kind k) on day d,
// answering item i met when met(i).
func Assessment(t testing.TB, cat *checklist.Catalog, v uint32, k venue.Kind, d bucket.Day, at int64, id string, met func(i int) bool) event.Assessment {
	t.Helper()
	c, err := cat.For(k, 0)
	require.NoError(t, err)
	ans := map[string]bool{}
	for i, it := range c.Items {
		ans[it.ID] = met(i)
	}
	r, err := c.Score(ans)
	require.NoError(t, err)
	return event.Assessment{AssessmentID: id, VenueID: v, Kind: k, Day: uint32(d), Version: c.Version, SubmittedAt: at,
		Account: "acc_test", Answers: event.AnswersFrom(ans), Tenths: uint16(r.Tenths), Level: r.Level} //nolint:gosec // at most 1000
}

func write(t *testing.T, s AssessmentBackend, as []event.Assessment) {
	t.Helper()
	p, err := processor.New(bucket.DefaultLayout(), s, nil)
	require.NoError(t, err)
	recs := event.Batch{Assessments: as}
	require.NoError(t, p.Process(t.Context(), &recs))
}

// RunAssessments runs the assessment suite against stores from open.
func RunAssessments(t *testing.T, open func(t *testing.T) AssessmentBackend) {
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	t.Run("AgreesWithReference", func(t *testing.T) {
		s := open(t)
		rng := rand.New(rand.NewPCG(7, 18))
		kinds := venue.Kinds()
		var all []event.Assessment
		for i := range 300 {
			v := uint32(1 + rng.IntN(40))
			d := Base + bucket.Day(rng.IntN(5))
			at := d.Start() + int64(8*3600+rng.IntN(12*3600))
			p := rng.Float64()
			all = append(all, Assessment(t, cat, v, kinds[int(v)%len(kinds)], d, at, fmt.Sprintf("as-%d", i), func(int) bool { return rng.Float64() < p+0.3 }))
		}
		// In three batches, the middle one twice (a replay), and a resend of
		// the first records in the last.
		write(t, s, all[:100])
		write(t, s, all[100:200])
		write(t, s, all[100:200])
		write(t, s, append(slices.Clone(all[200:]), all[:30]...))
		want := safety.Order(slices.Clone(all))
		for d := Base - 1; d <= Base+5; d++ {
			got, err := s.DayAssessments(t.Context(), d)
			require.NoError(t, err)
			var exp []event.Assessment
			for _, a := range want {
				if bucket.Day(a.Day) == d {
					exp = append(exp, a)
				}
			}
			sortByVenue(exp)
			require.Equal(t, exp, got, "day %s", d)
		}
		for v := uint32(1); v <= 41; v++ {
			got, err := s.VenueAssessments(t.Context(), v, Base+1, Base+3)
			require.NoError(t, err)
			var exp []event.Assessment
			for _, a := range want {
				if a.VenueID == v && a.Day >= uint32(Base+1) && a.Day <= uint32(Base+3) {
					exp = append(exp, a)
				}
			}
			require.Equal(t, exp, got, "venue %d", v)
		}
		// A batch's (venue, day)s at once, the ones not stored and the
		// greatest venue id among them.
		for range 20 {
			var keys []safety.VenueDay
			for range 1 + rng.IntN(12) {
				keys = append(keys, safety.VenueDay{Venue: uint32(1 + rng.IntN(42)), Day: Base - 1 + bucket.Day(rng.IntN(7))})
			}
			keys = append(keys, safety.VenueDay{Venue: ^uint32(0), Day: Base})
			got, err := s.VenueDayAssessments(t.Context(), keys)
			require.NoError(t, err)
			var exp []event.Assessment
			for _, a := range want {
				if slices.Contains(keys, safety.VenueDay{Venue: a.VenueID, Day: bucket.Day(a.Day)}) {
					exp = append(exp, safety.Brief(a))
				}
			}
			for i := range got {
				got[i] = safety.Brief(got[i])
			}
			require.Equal(t, exp, got, "%v", keys)
		}
		got, err := s.VenueDayAssessments(t.Context(), nil)
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("SecondOfTheDayCountsFirstStays", func(t *testing.T) {
		s := open(t)
		at := Base.Start() + 9*3600
		first := Assessment(t, cat, 7, venue.KindSchool, Base, at, "b", func(int) bool { return true })
		second := Assessment(t, cat, 7, venue.KindSchool, Base, at+600, "a", func(i int) bool { return i != 0 })
		write(t, s, []event.Assessment{second})
		write(t, s, []event.Assessment{first}) // late, out of order
		got, err := s.DayAssessments(t.Context(), Base)
		require.NoError(t, err)
		require.Equal(t, []event.Assessment{first, second}, got)
		latest := safety.Latest(got)
		require.Equal(t, second, latest[7])
		require.Equal(t, checklist.LevelRed, latest[7].Level, "the school's first item (masks) is critical")
		h := safety.History(got, Base-1, Base+1)
		require.Len(t, h, 3)
		require.Equal(t, checklist.LevelNotAssessed, h[0].Level)
		require.Equal(t, checklist.LevelRed, h[1].Level)
		require.Equal(t, 2, h[1].Filed)
		require.Equal(t, checklist.LevelNotAssessed, h[2].Level)
	})
	t.Run("RetentionDropsWholeDays", func(t *testing.T) {
		s := open(t)
		var as []event.Assessment
		for d := Base; d < Base+4; d++ {
			as = append(as, Assessment(t, cat, 3, venue.KindMarket, d, d.Start()+3600, "x", func(int) bool { return true }))
		}
		write(t, s, as)
		_, err := s.DropBefore(t.Context(), Base+2)
		require.NoError(t, err)
		got, err := s.VenueAssessments(t.Context(), 3, Base, Base+4)
		require.NoError(t, err)
		require.Equal(t, as[2:], got)
	})
}

// sortByVenue orders one day's assessments by venue, then as filed.
func sortByVenue(as []event.Assessment) {
	slices.SortStableFunc(as, func(a, b event.Assessment) int { return safety.Compare(&a, &b) })
}
