package pebblestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/definition"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/storetest"
)

// loadCity writes a synthetic city into a fresh store (unsynced: a benchmark
// fixture) and returns the store and the city's window.
func loadCity(tb testing.TB, cfg synth.Config) (*Store, *synth.City, graph.Window) {
	tb.Helper()
	s, err := Open(tb.Context(), Options{Dir: tb.TempDir(), Layout: bucket.DefaultLayout(), NoSync: true, CacheBytes: 1 << 30})
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
	return s, c, graph.Window{From: from.Unix(), To: to.Unix()}
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

// BenchmarkExposures asks F1 and F2 of random cases of the city, each case
// three ways in turn: the full graph from the default engine (which reads the
// second tier by venue), the full graph from an engine that finds every
// tier's candidates through the bitmaps, and the contact list alone from the
// default engine. All must find the same people.
func BenchmarkExposures(b *testing.B) {
	cfg := cityConfig()
	s, _, w := loadCity(b, cfg)
	def := graph.NewEngine(s)
	engines := []struct {
		name string
		eng  *graph.Engine
		list bool
	}{
		{"", def, false},
		{"bitmaps-", graph.NewEngine(s, graph.VenueReads(0)), false},
		{"list-", def, true},
	}
	for _, depth := range []int{1, 2} {
		b.Run(map[int]string{1: "F1", 2: "F2"}[depth], func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			lat := make([][]time.Duration, len(engines))
			var nodes, i int
			slowest := make([]struct {
				d            time.Duration
				stats        graph.Stats
				nodes, edges int
			}, len(engines))
			for b.Loop() {
				q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Window: w, Depth: depth, MinSeconds: 900}
				found := -1
				for j := range engines {
					k := (i + j) % len(engines) // alternate which goes first
					t0 := time.Now()
					qk := q
					qk.ContactsOnly = engines[k].list
					res, err := engines[k].eng.Exposures(context.Background(), qk)
					require.NoError(b, err)
					d := time.Since(t0)
					lat[k] = append(lat[k], d)
					if d > slowest[k].d {
						slowest[k].d, slowest[k].stats, slowest[k].nodes, slowest[k].edges = d, res.Stats, len(res.Nodes), len(res.Edges)
					}
					if found >= 0 {
						require.Len(b, res.Nodes, found, "case %d: engines disagree", q.Case)
					}
					found = len(res.Nodes)
				}
				nodes += found
				i++
			}
			for k, e := range engines {
				sl := slowest[k]
				b.Logf("%sslowest: %v, %d nodes, %d edges, stats %+v", e.name, sl.d, sl.nodes, sl.edges, sl.stats)
				l := slices.Sorted(slices.Values(lat[k]))
				b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, e.name+"p50-ms")
				b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, e.name+"p99-ms")
			}
			b.ReportMetric(float64(nodes)/float64(len(lat[0])), "nodes/op")
		})
	}
}

// BenchmarkDefinitions asks F1 and F2 of random cases of the city under each
// shipped contact definition in turn (default@1 with no rule at all, as a
// lookup without ?definition= asks), with venue kinds from the city, and
// reports each one's latency and how many close and casual people it finds.
func BenchmarkDefinitions(b *testing.B) {
	cfg := cityConfig()
	s, city, w := loadCity(b, cfg)
	eng := graph.NewEngine(s, graph.WithVenueKinds(city))
	type variant struct {
		name string
		rule *graph.Rule
	}
	vs := []variant{{"default@1", nil}}
	for _, d := range definition.Shipped() {
		if d.Name != definition.DefaultName {
			vs = append(vs, variant{d.Ref(), d.Rule()})
		}
	}
	for _, depth := range []int{1, 2} {
		b.Run(map[int]string{1: "F1", 2: "F2"}[depth], func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			lat := make([][]time.Duration, len(vs))
			closeN, casual := make([]int, len(vs)), make([]int, len(vs))
			i := 0
			for b.Loop() {
				q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Window: w, Depth: depth, MinSeconds: 900}
				for j := range vs {
					k := (i + j) % len(vs) // alternate which goes first
					qk := q
					qk.Rule = vs[k].rule
					t0 := time.Now()
					res, err := eng.Exposures(context.Background(), qk)
					require.NoError(b, err)
					lat[k] = append(lat[k], time.Since(t0))
					for _, n := range res.Nodes[1:] {
						if n.Tier == graph.TierCasual {
							casual[k]++
						} else {
							closeN[k]++
						}
					}
				}
				i++
			}
			for k, v := range vs {
				l := slices.Sorted(slices.Values(lat[k]))
				b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, v.name+"-p50-ms")
				b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, v.name+"-p99-ms")
				b.ReportMetric(float64(closeN[k])/float64(i), v.name+"-close/op")
				b.ReportMetric(float64(casual[k])/float64(i), v.name+"-casual/op")
			}
		})
	}
}

// BenchmarkDeclarationSummary loads declarations into the embedded store
// (1 M by default; TRUYVET_BENCH_DECLARATIONS overrides) and times the
// 14-day summary's counts.
func BenchmarkDeclarationSummary(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("TRUYVET_BENCH_DECLARATIONS"); v != "" {
		_, err := fmt.Sscan(v, &n)
		require.NoError(b, err)
	}
	for range b.N {
		s, err := Open(b.Context(), Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), NoSync: true})
		require.NoError(b, err)
		storetest.BenchSummary(b, s, 10_000_000, n, time.Now())
		require.NoError(b, s.Close())
	}
}

// withoutTrips is the store as the engine saw it before declarations: no
// graph.TripStore, so no vehicle channel.
type withoutTrips struct{ graph.VenueStore }

// BenchmarkDeclarationsJoined asks F2 of random cases of the city loaded
// with its health declarations (synth's Config.Declarations), two ways in
// turn: as before declarations (the engine without trips, no join) and as
// the API now answers (the vehicle channel, and every node's declarations
// over the window and the 14 days before it read and summed up). The demo
// city by default; TRUYVET_BENCH_TIER=S for tier S.
func BenchmarkDeclarationsJoined(b *testing.B) {
	cfg := cityConfig()
	cfg.Declarations = true
	s, _, w := loadCity(b, cfg)
	old, cur := graph.NewEngine(withoutTrips{s}), graph.NewEngine(s)
	rng := rand.New(rand.NewPCG(1, 2))
	lat := [2][]time.Duration{}
	var nodes, declared, i int
	for b.Loop() {
		q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Window: w, Depth: 2, MinSeconds: 900}
		for j := range 2 {
			k := (i + j) % 2 // alternate which goes first
			t0 := time.Now()
			if k == 0 {
				_, err := old.Exposures(context.Background(), q)
				require.NoError(b, err)
			} else {
				res, err := cur.Exposures(context.Background(), q)
				require.NoError(b, err)
				ids := make([]uint32, len(res.Nodes))
				for n := range res.Nodes {
					ids[n] = res.Nodes[n].UserID
				}
				ds, err := s.Declarations(context.Background(), ids, w.From-14*86400, w.To)
				require.NoError(b, err)
				nodes += len(res.Nodes)
				declared += len(ds)
			}
			lat[k] = append(lat[k], time.Since(t0))
		}
		i++
	}
	for k, name := range []string{"before-", "joined-"} {
		l := slices.Sorted(slices.Values(lat[k]))
		b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, name+"p50-ms")
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, name+"p99-ms")
	}
	b.ReportMetric(float64(nodes)/float64(i), "nodes/op")
	b.ReportMetric(float64(declared)/float64(i), "declarations/op")
}
