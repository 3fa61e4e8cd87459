package summarytest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary"
)

// TierM is the counter data of a province-sized deployment: Days days of 64
// provinces (63 and unknown) with every metric the summary keeps (22 keys a
// day and province), each counter added in Operands separate writes (as a
// processor's batches add them, before merges fold them).
type TierM struct {
	Days, Operands int
}

// Fill adds the data into c, for the days ending at last.
func (m TierM) Fill(ctx context.Context, c summary.Counters, last bucket.Day) error {
	keys := []struct{ metric, key string }{
		{summary.RecordsIn, "visit"}, {summary.RecordsIn, "encounter"},
		{summary.CasesRegistered, ""}, {summary.Lookups, ""}, {summary.ContactsFound, ""},
		{summary.SitesPublished, ""}, {summary.AlertsSent, ""},
	}
	for _, r := range []string{"invalid_json", "missing_field", "invalid_value", "invalid_time", "future_time", "expired",
		"self_encounter", "too_large", "invalid_signature", "unknown_venue"} {
		keys = append(keys, struct{ metric, key string }{summary.Rejections, r})
	}
	for _, l := range summary.Levels {
		keys = append(keys, struct{ metric, key string }{summary.VenuesByLevel, l})
	}
	provinces := []string{summary.Unknown}
	for i := 1; len(provinces) < 64; i++ {
		provinces = append(provinces, string(rune('0'+i/10))+string(rune('0'+i%10)))
	}
	ds := make([]summary.Delta, 0, m.Days*len(provinces)*len(keys))
	for d := range m.Days {
		for _, p := range provinces {
			for _, k := range keys {
				ds = append(ds, summary.Delta{Day: last - bucket.Day(d), Province: p, Metric: k.metric, Key: k.key, N: 1000})
			}
		}
	}
	for range m.Operands {
		if err := c.AddCounts(ctx, ds); err != nil {
			return err
		}
	}
	return nil
}

// Latency times f n times and reports its p50 and p99 to b, in ms.
func Latency(b *testing.B, n int, f func() error) {
	b.Helper()
	ts := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(t0))
	}
	slices.Sort(ts)
	b.ReportMetric(float64(ts[len(ts)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ts[len(ts)*99/100].Microseconds())/1000, "p99-ms")
}
