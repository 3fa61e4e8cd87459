package summarytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/venue"
)

// LevelBackend is a store that keeps venues_by_level through summary.Sink:
// it stores assessments, reads them back as the Safety Map does, and reads
// the ones of a batch's (venue, day)s before it.
type LevelBackend interface {
	summary.Counters
	processor.Sink
	safety.AssessmentStore
	safety.PriorReader
}

// provinceOf places venue v: every seventh in no known province.
func provinceOf(v uint32) string {
	if v%7 == 0 {
		return ""
	}
	return []string{"01", "79", "48"}[v%3]
}

type venueProvinces struct{}

func (venueProvinces) ProvincesOf(ids []uint32, dst []string) {
	for i, id := range ids {
		dst[i] = provinceOf(id)
	}
}

// runLevels writes random assessments through a summary.Sink over s, in
// batches with replays, resends of old records, late ones out of order and
// second assessments of a day, and checks venues_by_level per day and
// province against the levels the Safety Map reads from the same store
// (safety.Latest of DayAssessments, by the venues' provinces).
func runLevels(t *testing.T, s LevelBackend, first bucket.Day) {
	ctx := t.Context()
	cat, err := checklist.Shipped()
	require.NoError(t, err)
	sink := &summary.Sink{Next: s, Counters: s, Provinces: venueProvinces{}, Assessments: s, Now: time.Now}
	p, err := processor.New(bucket.DefaultLayout(), sink, nil)
	require.NoError(t, err)
	write := func(as []event.Assessment) {
		t.Helper()
		recs := event.Batch{Assessments: slices.Clone(as)}
		require.NoError(t, p.Process(ctx, &recs))
	}
	rng := rand.New(rand.NewPCG(5, 21))
	kinds := venue.Kinds()
	var all []event.Assessment
	for range 400 {
		v := uint32(1 + rng.IntN(50))
		d := first + bucket.Day(rng.IntN(3))
		at := d.Start() + int64(8*3600+rng.IntN(3)*600) // often the same second: the id decides
		q := rng.Float64()
		all = append(all, safetytest.Assessment(t, cat, v, kinds[int(v)%len(kinds)], d, at, fmt.Sprintf("lv-%03d", rng.IntN(1000)),
			func(int) bool { return rng.Float64() < q+0.2 }))
	}
	var written []event.Assessment
	for len(all) > 0 {
		n := min(len(all), 1+rng.IntN(30))
		batch := all[:n]
		all = all[n:]
		if len(written) > 0 && rng.IntN(3) == 0 {
			batch = append(slices.Clone(batch), written[rng.IntN(len(written))]) // a resend
		}
		write(batch)
		if rng.IntN(4) == 0 {
			write(batch) // a replay
		}
		written = append(written, batch...)
	}
	want := map[string][]summary.Count{} // by province asked ("": national)
	for d := first; d < first+3; d++ {
		as, err := s.DayAssessments(ctx, d)
		require.NoError(t, err)
		by := map[[2]string]int64{}
		for v, a := range safety.Latest(as) {
			p := provinceOf(v)
			if p == "" {
				p = summary.Unknown
			}
			by[[2]string{p, string(a.Level)}]++
			by[[2]string{"", string(a.Level)}]++
		}
		for k, n := range by {
			want[k[0]] = append(want[k[0]], summary.Count{Day: d, Metric: summary.VenuesByLevel, Key: k[1], N: n})
		}
	}
	for _, p := range []string{"", "01", "79", "48", summary.Unknown} {
		got, err := s.SummaryCounts(ctx, summary.Query{From: first - 1, To: first + 3, Province: p})
		require.NoError(t, err)
		got = slices.DeleteFunc(got, func(c summary.Count) bool { return c.Metric != summary.VenuesByLevel })
		require.Equal(t, summary.Sorted(want[p]), summary.Sorted(got), "province %q", p)
	}
	// The national answer: levels as the Safety Map counts them, and the
	// registered venues without one not assessed.
	a, err := summary.Read(ctx, s, summary.Query{From: first, To: first + 2})
	require.NoError(t, err)
	a.NotAssessed(60)
	for i, day := range a.Days {
		as, err := s.DayAssessments(ctx, first+bucket.Day(i))
		require.NoError(t, err)
		exp := map[string]int64{}
		for _, l := range summary.Levels {
			exp[l] = 0
		}
		latest := safety.Latest(as)
		for _, a := range latest {
			exp[string(a.Level)]++
		}
		exp[string(checklist.LevelNotAssessed)] = 60 - int64(len(latest))
		require.Equal(t, exp, day.VenuesByLevel, day.Day)
	}
}
