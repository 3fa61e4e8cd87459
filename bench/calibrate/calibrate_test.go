package calibrate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/bench/synth"
)

// overlapPairs agrees with comparing every pair of stays.
func TestOverlapPairsAgainstAllPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		var stays []peers.Stay
		for range 300 {
			start := int64(1_600_000_000 + rng.IntN(2*86400))
			stays = append(stays, peers.Stay{User: uint32(1 + rng.IntN(40)), Venue: uint32(1 + rng.IntN(4)), Start: start, End: start + int64(1+rng.IntN(4*3600))})
		}
		var want []uint64
		for i := range stays {
			for j := range stays {
				a, b := stays[i], stays[j]
				if i == j || a.User == b.User || a.Venue != b.Venue {
					continue
				}
				lo, hi := max(a.Start, b.Start), min(a.End, b.End)
				if hi-lo >= 900 && (a.Start < b.Start || a.Start == b.Start && i < j) {
					want = append(want, pairKey(day(lo), a.User, b.User))
				}
			}
		}
		require.Equal(t, dedupe(want), dedupe(overlapPairs(slices.Clone(stays), 900)))
	}
	require.Equal(t, pairKey(3, 7, 2), pairKey(3, 2, 7))
	a, b := unpack(pairKey(19_000, 5, 1<<idBits-1))
	require.Equal(t, []uint32{5, 1<<idBits - 1}, []uint32{a, b})
}

// TestCalibration prints the comparison table for a one-week city of 10 000
// people (the density of every DESIGN tier, 100 people per venue) and holds
// the model to what it is calibrated for: Bluetooth encounters, the
// synthetic analogue of a diary's conversations, within a factor of two of
// the Vietnamese survey's 7.7 a day; venue contacts well above it, as a
// building-wide definition must be.
func TestCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and measures a week of a 10 000-person city")
	}
	cfg := Observable(synth.DefaultConfig())
	cfg.People, cfg.Venues, cfg.Days = 10_000, 100, 7
	city, err := synth.New(cfg)
	require.NoError(t, err)
	rows, err := Measure(city, 900)
	require.NoError(t, err)
	fmt.Printf("| group | people | Bluetooth encounters | venue contacts ≥ 15 min | either |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %.1f | %.1f | %.1f |\n", r.Group, r.People, r.Proximity, r.Close, r.Any)
	}
	for _, s := range Surveys {
		fmt.Printf("| %s | %d participants | %.1f (survey contacts) | | |\n", s.Name, s.Participants, s.Mean())
	}
	all := rows[0]
	require.Equal(t, "everyone", all.Group)
	require.Equal(t, cfg.People, all.People)
	vn := Surveys[0].Mean()
	require.InDelta(t, 7.7, vn, 0.05)
	require.InDelta(t, 13.4, Surveys[1].Mean(), 0.05)
	require.Greater(t, all.Proximity, vn/2, "Bluetooth contacts per day")
	require.Less(t, all.Proximity, vn*2, "Bluetooth contacts per day")
	require.Greater(t, all.Close, vn, "venue contacts per day")
	require.GreaterOrEqual(t, all.Any, max(all.Close, all.Proximity))
	require.Len(t, rows, 5, "everyone and the four roles")
}
