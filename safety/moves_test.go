package safety_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
)

type dayLevel struct {
	day   bucket.Day
	level checklist.Level
}

// TestMovesKeepCountsOfLatest stores random assessments in random batches,
// with replays, resends and late ones out of order, adds each batch's
// moves to counters, and checks the counters against the levels Latest
// picks from everything stored.
func TestMovesKeepCountsOfLatest(t *testing.T) {
	levels := checklist.Levels()[:4]
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var all []event.Assessment
		for range 200 {
			d := bucket.Day(100 + rng.IntN(3))
			all = append(all, event.Assessment{AssessmentID: fmt.Sprintf("a%03d", rng.IntN(1000)), VenueID: uint32(1 + rng.IntN(15)),
				Day: uint32(d), SubmittedAt: d.Start() + int64(rng.IntN(4)), Level: levels[rng.IntN(len(levels))], Kind: "school"})
		}
		counts := map[dayLevel]int{}
		var stored []event.Assessment
		for len(all) > 0 {
			n := min(len(all), 1+rng.IntN(20))
			batch := slices.Clone(all[:n])
			all = all[n:]
			if len(stored) > 0 && rng.IntN(3) == 0 { // a replay or a resend
				batch = append(batch, stored[rng.IntN(len(stored))])
			}
			rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			var prior []event.Assessment
			keys := safety.Keys(batch)
			for _, a := range stored {
				if slices.Contains(keys, safety.VenueDay{Venue: a.VenueID, Day: bucket.Day(a.Day)}) {
					prior = append(prior, a)
				}
			}
			for _, m := range safety.Moves(prior, batch) {
				require.NotEqual(t, m.From, m.To)
				if m.From != "" {
					counts[dayLevel{m.Day, m.From}]--
				}
				counts[dayLevel{m.Day, m.To}]++
			}
			stored = safety.Order(append(stored, batch...))
			if rng.IntN(4) == 0 { // the same batch again: changes nothing
				require.Empty(t, safety.Moves(stored, batch), "seed %d", seed)
			}
		}
		want := map[dayLevel]int{}
		for d := bucket.Day(100); d < 103; d++ {
			var day []event.Assessment
			for _, a := range stored {
				if bucket.Day(a.Day) == d {
					day = append(day, a)
				}
			}
			for _, a := range safety.Latest(day) {
				want[dayLevel{d, a.Level}]++
			}
		}
		for k, n := range counts {
			if n == 0 {
				delete(counts, k)
			}
		}
		require.Equal(t, want, counts, "seed %d", seed)
	}
}

func TestMovesOfASecondAssessment(t *testing.T) {
	first := event.Assessment{AssessmentID: "b", VenueID: 7, Day: 100, SubmittedAt: 10, Level: checklist.LevelGreen}
	second := event.Assessment{AssessmentID: "a", VenueID: 7, Day: 100, SubmittedAt: 20, Level: checklist.LevelRed}
	vd := safety.VenueDay{Venue: 7, Day: 100}
	require.Equal(t, []safety.Move{{VenueDay: vd, To: checklist.LevelGreen}}, safety.Moves(nil, []event.Assessment{first}))
	require.Equal(t, []safety.Move{{VenueDay: vd, From: checklist.LevelGreen, To: checklist.LevelRed}},
		safety.Moves([]event.Assessment{first}, []event.Assessment{second}), "the second replaces the first's level")
	require.Empty(t, safety.Moves([]event.Assessment{first, second}, []event.Assessment{second}), "a replay")
	require.Empty(t, safety.Moves([]event.Assessment{second}, []event.Assessment{first}), "the first, late")
	require.Equal(t, []safety.Move{{VenueDay: vd, To: checklist.LevelRed}}, safety.Moves(nil, []event.Assessment{second, first}),
		"both in one batch: the later counts")
	same := second
	same.AssessmentID, same.SubmittedAt, same.Level = "c", 30, checklist.LevelRed
	require.Empty(t, safety.Moves([]event.Assessment{second}, []event.Assessment{same}), "a third of the same level")
}
