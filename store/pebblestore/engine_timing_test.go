package pebblestore

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/bucket"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// loadCity writes a synthetic city into a fresh store (unsynced: a benchmark
// fixture) and returns the store and the city's window.
func loadCity(tb testing.TB, cfg synth.Config) (*Store, graph.Window) {
	tb.Helper()
	s, err := Open(Options{Dir: tb.TempDir(), Layout: bucket.DefaultLayout(), NoSync: true, CacheBytes: 1 << 30})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	c, err := synth.New(cfg)
	require.NoError(tb, err)
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(tb, err)
	var b event.Batch
	for batch := range c.Batches() {
		b.Append(&batch)
		if b.Len() >= 50_000 {
			require.NoError(tb, p.Process(context.Background(), &b))
			b = event.Batch{}
		}
	}
	require.NoError(tb, p.Process(context.Background(), &b))
	// A bulk load leaves a deep level 0 that background compactions of a
	// running store would have flattened; query a settled store.
	require.NoError(tb, s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true))
	from, to := c.Span()
	return s, graph.Window{From: from.Unix(), To: to.Unix()}
}

// cityConfig is the demo city, or tier S with TRUYVET_BENCH_TIER=S.
func cityConfig() synth.Config {
	cfg := synth.Demo()
	if os.Getenv("TRUYVET_BENCH_TIER") == "S" {
		cfg = synth.TierS()
	}
	// The presets end on Thursday 29 April 2021: their last day is a
	// Wednesday, so figures do not depend on the weekday they are taken.
	return cfg
}

func BenchmarkExposures(b *testing.B) {
	cfg := cityConfig()
	s, w := loadCity(b, cfg)
	eng := graph.NewEngine(s)
	for _, depth := range []int{1, 2} {
		b.Run(map[int]string{1: "F1", 2: "F2"}[depth], func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			var lat []time.Duration
			var nodes int
			for b.Loop() {
				q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Window: w, Depth: depth, MinSeconds: 900}
				t0 := time.Now()
				res, err := eng.Exposures(context.Background(), q)
				require.NoError(b, err)
				lat = append(lat, time.Since(t0))
				nodes += len(res.Nodes)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(nodes)/float64(len(lat)), "nodes/op")
		})
	}
}
