package pebblestore

import (
	"fmt"
	"testing"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/summary/summarytest"
)

// BenchmarkSummaryTierM reads 14 days of the summary, nationally and for a
// province, from tier-M-sized counters (64 provinces × 22 keys × 14 days,
// each counter in 30 merge operands), in the memtable and after a flush
// folded them.
func BenchmarkSummaryTierM(b *testing.B) {
	s, err := Open(b.Context(), Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	last := bucket.DayOf(time.Now().Unix())
	if err := (summarytest.TierM{Days: 14, Operands: 30}).Fill(b.Context(), s, last); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		p       string
		flushed bool
	}{{"", false}, {"48", false}, {"", true}, {"48", true}} {
		p := tc.p
		if tc.flushed {
			if err := s.db.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("province=%s/flushed=%v", p, tc.flushed), func(b *testing.B) {
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
	s, err := Open(b.Context(), Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	summarytest.BenchLevels(b, s)
}
