// Package summarytest is the conformance suite of summary.Counters (Run),
// held against Memory, the naive reference.
package summarytest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary"
)

// Memory is the reference: every delta kept, summed at read.
type Memory struct {
	mu sync.Mutex
	ds []summary.Delta
}

// AddCounts implements summary.Counters.
func (m *Memory) AddCounts(_ context.Context, ds []summary.Delta) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ds = append(m.ds, ds...)
	return nil
}

// SummaryCounts implements summary.Counters.
func (m *Memory) SummaryCounts(_ context.Context, q summary.Query) ([]summary.Count, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type k struct {
		day         bucket.Day
		metric, key string
	}
	sums := map[k]int64{}
	for _, d := range m.ds {
		if d.Day < q.From || d.Day > q.To || q.Province != "" && d.Province != q.Province {
			continue
		}
		sums[k{d.Day, d.Metric, d.Key}] += d.N
	}
	out := make([]summary.Count, 0, len(sums))
	for key, n := range sums {
		out = append(out, summary.Count{Day: key.day, Metric: key.metric, Key: key.key, N: n})
	}
	return out, nil
}

// Dropper is a store whose retention drops counters with their days.
type Dropper interface {
	DropBefore(ctx context.Context, cutoff bucket.Day) ([]bucket.Day, error)
}

// Run checks c against Memory: random deltas over days, provinces, metrics
// and keys, added in batches and concurrently, read back by day ranges and
// provinces; when c is a Dropper, that retention drops old days; and, when
// c is a LevelBackend, that venues_by_level kept through summary.Sink
// agrees with the levels the Safety Map reads.
// c must start empty.
func Run(t *testing.T, c summary.Counters) {
	ctx := t.Context()
	const day0 = bucket.Day(20_000)
	t.Run("empty", func(t *testing.T) {
		got, err := c.SummaryCounts(ctx, summary.Query{From: day0, To: day0 + 30})
		require.NoError(t, err)
		require.Empty(t, summary.Sorted(got))
	})
	ref := &Memory{}
	rng := rand.New(rand.NewPCG(1, 2))
	provinces := []string{"01", "79", "48", summary.Unknown}
	metrics := []struct{ metric, key string }{
		{summary.RecordsIn, "visit"}, {summary.RecordsIn, "encounter"}, {summary.Rejections, "future_time"},
		{summary.Rejections, "unknown_venue"}, {summary.CasesRegistered, ""}, {summary.ContactsFound, ""},
		{summary.VenuesByLevel, "green"}, {summary.VenuesByLevel, "red"},
	}
	batch := func() []summary.Delta {
		ds := make([]summary.Delta, 1+rng.IntN(40))
		for i := range ds {
			m := metrics[rng.IntN(len(metrics))]
			ds[i] = summary.Delta{Day: day0 + bucket.Day(rng.IntN(10)), Province: provinces[rng.IntN(len(provinces))],
				Metric: m.metric, Key: m.key, N: int64(rng.IntN(1000)) - 100} // negative: a level left
		}
		return ds
	}
	t.Run("add and read", func(t *testing.T) {
		var batches [][]summary.Delta
		for range 30 {
			batches = append(batches, batch())
		}
		// The same addition twice is two additions (two flushes that each
		// counted one rejection), not a replay to fold.
		same := []summary.Delta{{Day: day0 + 3, Province: "79", Metric: summary.Rejections, Key: "future_time", N: 1}}
		batches = append(batches, same, slices.Clone(same))
		// Four writers at once, as a few processors and query servers add.
		var wg sync.WaitGroup
		errs := make(chan error, len(batches))
		sem := make(chan struct{}, 4)
		for _, b := range batches {
			require.NoError(t, ref.AddCounts(ctx, b))
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				errs <- c.AddCounts(ctx, b)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, c.AddCounts(ctx, nil), "an empty batch")
		for _, q := range []summary.Query{
			{From: day0, To: day0 + 9}, {From: day0 + 2, To: day0 + 4}, {From: day0 + 5, To: day0 + 5},
			{From: day0, To: day0 + 9, Province: "79"}, {From: day0 + 3, To: day0 + 8, Province: summary.Unknown},
			{From: day0, To: day0 + 9, Province: "02"}, {From: day0 + 20, To: day0 + 25},
		} {
			want, err := ref.SummaryCounts(ctx, q)
			require.NoError(t, err)
			got, err := c.SummaryCounts(ctx, q)
			require.NoError(t, err)
			require.Equal(t, summary.Sorted(want), summary.Sorted(got), "%+v", q)
		}
	})
	t.Run("answer", func(t *testing.T) {
		q := summary.Query{From: day0, To: day0 + 9}
		want, err := summary.Read(ctx, ref, q)
		require.NoError(t, err)
		got, err := summary.Read(ctx, c, q)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Len(t, got.Days, 10)
	})
	if d, ok := c.(Dropper); ok {
		t.Run("retention", func(t *testing.T) {
			_, err := d.DropBefore(ctx, day0+5)
			require.NoError(t, err)
			got, err := c.SummaryCounts(ctx, summary.Query{From: day0, To: day0 + 4})
			require.NoError(t, err)
			require.Empty(t, summary.Sorted(got), "days before the cutoff are dropped")
			want, err := ref.SummaryCounts(ctx, summary.Query{From: day0 + 5, To: day0 + 9})
			require.NoError(t, err)
			got, err = c.SummaryCounts(ctx, summary.Query{From: day0 + 5, To: day0 + 9})
			require.NoError(t, err)
			require.Equal(t, summary.Sorted(want), summary.Sorted(got), "later days are kept")
		})
	}
	if lb, ok := c.(LevelBackend); ok {
		t.Run("venues by level", func(t *testing.T) { runLevels(t, lb, day0+40) })
	}
}
