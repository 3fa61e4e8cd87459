package chstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/summary/summarytest"
)

// BenchmarkSummaryTierM reads 14 days of the summary, nationally and for a
// province, from tier-M-sized counters (64 provinces × 22 keys × 14 days,
// each counter in 30 inserts, unmerged or as the server merged them).
func BenchmarkSummaryTierM(b *testing.B) {
	addr := chtest.Addr(b)
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database = addr, chtest.Database(b, addr)
	s, err := chstore.Open(b.Context(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	last := bucket.DayOf(time.Now().Unix())
	t0 := time.Now()
	if err := (summarytest.TierM{Days: 14, Operands: 30}).Fill(b.Context(), s, last); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled in %v", time.Since(t0))
	for _, p := range []string{"", "48"} {
		b.Run("province="+p, func(b *testing.B) {
			for range b.N {
				summarytest.Latency(b, 100, func() error {
					_, err := summary.Read(b.Context(), s, summary.Query{From: last - 13, To: last, Province: p})
					return err
				})
			}
		})
	}
}

// BenchmarkVenueLevelsTierM writes 14 days of 100 000 venues' assessments
// through the summary's sink and reads the summary with venues_by_level
// (summarytest.BenchLevels).
func BenchmarkVenueLevelsTierM(b *testing.B) {
	addr := chtest.Addr(b)
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database = addr, chtest.Database(b, addr)
	s, err := chstore.Open(b.Context(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	// The alternative not taken: the levels computed on each read from the
	// 14 days of assessments (national only: the rows have no province).
	summarytest.BenchLevels(b, s, func(b *testing.B, last bucket.Day) {
		b.Run("read-time-levels", func(b *testing.B) {
			for range b.N {
				summarytest.Latency(b, 20, func() error {
					rows, err := conn.Query(b.Context(), fmt.Sprintf("SELECT day, level, count() FROM (SELECT day, venue, argMax(level, submitted_at) AS level FROM %s.assessments WHERE day >= %d AND day <= %d GROUP BY day, venue) GROUP BY day, level",
						opts.Database, last-13, last))
					if err != nil {
						return err
					}
					for rows.Next() {
					}
					err = rows.Err()
					_ = rows.Close()
					return err
				})
			}
		})
	})
}
