package chstore_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// BenchmarkTierS loads a synthetic city through the processor into ClickHouse
// in batches of 50 000 records (one insert per table per batch), then asks F1
// and F2 for 100 random cases. It reports insert rows/s, bytes on disk per
// stored record, and F1/F2 p50/p99. The demo city by default;
// TRUYVET_BENCH_TIER=S for tier S (1 M people, one day).
// Besides the default engine it times ones that find every tier through the
// bitmaps, that read the first tier by venue too, and that read the case in
// two queries (stays, then encounters) rather than one (graph.PersonStore).
// TRUYVET_BENCH_CLUSTER=1 runs it on the cluster of
// TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR (disk bytes then count one replica of
// each shard).
func BenchmarkTierS(b *testing.B) {
	var addr []string
	cluster := ""
	if os.Getenv("TRUYVET_BENCH_CLUSTER") == "1" {
		addr, cluster = chtest.Cluster(b)
	} else {
		addr = chtest.Addr(b)
	}
	cfg := synth.Demo()
	if os.Getenv("TRUYVET_BENCH_TIER") == "S" {
		cfg = synth.TierS()
	}
	// The presets end on Thursday 29 April 2021: their last day is a
	// Wednesday, so figures do not depend on the weekday they are taken.
	for range b.N {
		db := chtest.Database(b, addr)
		if cluster != "" {
			db = chtest.ClusterDatabase(b, addr, cluster)
		}
		opts := chstore.DefaultOptions()
		opts.Addr, opts.Database, opts.Layout, opts.Cluster = addr, db, bucket.DefaultLayout(), cluster
		ctx := context.Background()
		s, err := chstore.Open(ctx, opts)
		require.NoError(b, err)
		city, err := synth.New(cfg)
		require.NoError(b, err)
		p, err := processor.New(s.Layout(), s, nil)
		require.NoError(b, err)
		var batch event.Batch
		records := 0
		var load time.Duration
		flush := func() {
			t0 := time.Now()
			require.NoError(b, p.Process(ctx, &batch))
			load += time.Since(t0)
			records += batch.Len()
			batch = event.Batch{}
		}
		for part := range city.Batches() {
			batch.Append(&part)
			if batch.Len() >= 50_000 {
				flush()
			}
		}
		flush()
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
		require.NoError(b, err)
		// Query a settled store, as the embedded benchmark does: merges
		// fold a bulk load's parts (bitmaps included) in the background.
		parts := "system.parts"
		for _, table := range []string{"stays", "visitors", "contacts", "bitmaps"} {
			if cluster == "" {
				require.NoError(b, conn.Exec(ctx, "OPTIMIZE TABLE "+db+"."+table+" FINAL"))
				continue
			}
			for _, a := range addr { // the leader replica of each shard merges; the others fetch
				c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{a}})
				require.NoError(b, err)
				_ = c.Exec(ctx, "OPTIMIZE TABLE "+db+"."+table+"_local FINAL")
				_ = c.Close()
			}
			parts = "cluster('" + cluster + "', system.parts)"
		}
		var rows, diskBytes uint64
		require.NoError(b, conn.QueryRow(ctx, "SELECT sum(rows), sum(bytes_on_disk) FROM "+parts+" WHERE database = ? AND active", db).Scan(&rows, &diskBytes))
		_ = conn.Close()
		b.ReportMetric(float64(rows)/load.Seconds(), "rows/s")
		b.ReportMetric(float64(records)/load.Seconds(), "records/s")
		b.ReportMetric(float64(diskBytes)/float64(records), "disk-bytes/record")

		// Each case is asked of the default engine (the second tier read by
		// venue) and of one that finds every tier through the bitmaps, in
		// alternating order; both must find the same people.
		from, to := city.Span()
		engines := []struct {
			name string
			eng  *graph.Engine
		}{
			{"", graph.NewEngine(s)},
			{"bitmaps-", graph.NewEngine(s, graph.VenueReads(0))},
			{"venues-", graph.NewEngine(s, graph.VenueReads(1))},
			// The case read as two queries (stays, then encounters), as
			// before graph.PersonStore.
			{"split-", graph.NewEngine(splitCase{s})},
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, depth := range []int{1, 2} {
			lat := make([][]time.Duration, len(engines))
			slowest := make([]*graph.Result, len(engines))
			for i := range 100 {
				q := graph.Query{Case: uint32(rng.IntN(cfg.People) + 1), Window: graph.Window{From: from.Unix(), To: to.Unix()}, Depth: depth, MinSeconds: 900}
				found := -1
				for j := range engines {
					k := (i + j) % len(engines)
					t0 := time.Now()
					res, err := engines[k].eng.Exposures(ctx, q)
					require.NoError(b, err)
					lat[k] = append(lat[k], time.Since(t0))
					if lat[k][len(lat[k])-1] >= slices.Max(lat[k]) {
						slowest[k] = res
					}
					if found >= 0 {
						require.Len(b, res.Nodes, found, "case %d: engines disagree", q.Case)
					}
					found = len(res.Nodes)
				}
			}
			name := map[int]string{1: "F1", 2: "F2"}[depth]
			for k, e := range engines {
				sl := slowest[k]
				b.Logf("%sslowest depth-%d query: %d nodes, candidates F1 %d F2 %d, stays read %d, visitors read %d, stages (ns) %v", e.name, depth,
					len(sl.Nodes), sl.Stats.CandidatesF1, sl.Stats.CandidatesF2, sl.Stats.StaysRead, sl.Stats.VisitorsRead, sl.Stats.StageNanos)
				l := slices.Sorted(slices.Values(lat[k]))
				b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, e.name+name+"-p50-ms")
				b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, e.name+name+"-p99-ms")
			}
		}
		require.NoError(b, s.Close())
	}
}

// splitCase hides graph.PersonStore: the engine reads the case's stays and
// encounters in two queries.
type splitCase struct{ graph.VenueStore }
