package safetytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/safety"
)

// RunFeedback runs the feedback queue suite against stores from open,
// checking every answer against a naive model of the queue.
func RunFeedback(t *testing.T, open func(t *testing.T) safety.FeedbackStore) {
	at := time.Date(2021, 7, 20, 9, 0, 0, 0, time.UTC)
	t.Run("AgreesWithModel", func(t *testing.T) {
		s := open(t)
		rng := rand.New(rand.NewPCG(1, 8))
		var model []safety.Feedback
		cats := safety.Categories()
		for i := range 120 {
			if i > 10 && rng.IntN(3) == 0 {
				j := rng.IntN(len(model))
				got, err := s.ResolveFeedback(t.Context(), model[j].ID, "acc_mod", "checked", at.Add(time.Duration(i)*time.Minute))
				if model[j].Status == safety.StatusResolved {
					require.ErrorIs(t, err, safety.ErrAlreadyResolved)
					require.Equal(t, model[j], got, "a second resolution changes nothing")
					continue
				}
				require.NoError(t, err)
				r := at.Add(time.Duration(i) * time.Minute)
				model[j].Status, model[j].ResolvedAt, model[j].ResolvedBy, model[j].Resolution = safety.StatusResolved, &r, "acc_mod", "checked"
				require.Equal(t, model[j], got)
				continue
			}
			f := safety.Feedback{VenueID: uint32(1 + rng.IntN(8)), Province: []string{"01", "79", "24"}[rng.IntN(3)],
				Category: cats[rng.IntN(len(cats))], Text: fmt.Sprintf("Không đeo khẩu trang %d", i), CreatedAt: at.Add(time.Duration(i) * time.Second)}
			got, err := s.AddFeedback(t.Context(), f)
			require.NoError(t, err)
			f.ID, f.Status = uint64(len(model)+1), safety.StatusOpen //nolint:gosec // small
			require.Equal(t, f, got)
			model = append(model, f)
		}
		for _, ff := range []safety.FeedbackFilter{
			{}, {Status: safety.StatusOpen}, {Status: safety.StatusResolved}, {Provinces: []string{"01", "24"}},
			{Venue: 3, Status: safety.StatusOpen}, {After: 40, Limit: 7}, {Status: safety.StatusOpen, Limit: 5},
		} {
			got, err := s.ListFeedback(t.Context(), ff)
			require.NoError(t, err)
			var want []safety.Feedback
			for _, f := range model {
				if f.ID > ff.After && ff.Match(f) && (ff.Limit == 0 || len(want) < ff.Limit) {
					want = append(want, f)
				}
			}
			require.Equal(t, want, got, "%+v", ff)
		}
		open, err := s.OpenFeedback(t.Context())
		require.NoError(t, err)
		want := map[uint32]int{}
		for _, f := range model {
			if f.Status == safety.StatusOpen {
				want[f.VenueID]++
			}
		}
		require.Equal(t, want, open)
		_, err = s.ResolveFeedback(t.Context(), 10_000, "acc_mod", "", at)
		require.ErrorIs(t, err, safety.ErrFeedbackNotFound)
	})
	t.Run("OneOfConcurrentResolutionsWins", func(t *testing.T) {
		s := open(t)
		f, err := s.AddFeedback(t.Context(), safety.Feedback{VenueID: 1, Province: "01", Category: safety.CategoryCrowding, CreatedAt: at})
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = s.ResolveFeedback(t.Context(), f.ID, fmt.Sprint("acc_", i), "", at.Add(time.Minute))
			})
		}
		wg.Wait()
		won := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		require.GreaterOrEqual(t, won, 0)
		for i, err := range errs {
			if i != won {
				require.ErrorIs(t, err, safety.ErrAlreadyResolved)
			}
		}
		got, err := s.ListFeedback(t.Context(), safety.FeedbackFilter{})
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint("acc_", won), got[0].ResolvedBy)
		open, err := s.OpenFeedback(t.Context())
		require.NoError(t, err)
		require.Empty(t, open)
	})
}
