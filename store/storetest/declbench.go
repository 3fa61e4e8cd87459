package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
)

// provinceCodes are some province codes, the largest first.
var provinceCodes = []string{"79", "01", "38", "40", "75", "74", "31", "89", "30", "66", "34", "24", "36", "82", "91", "80"}

// BenchSummary writes n declarations about people of a population of
// people over the 14 days before end through s (in batches of 50 000), then
// asks the 14 days' counts, nationally and of one province, as
// GET /v1/declarations/summary does, and reports the load rate and the
// counts' p50 and p99 latency.
func BenchSummary(b *testing.B, s store.Backend, people, n int, end time.Time) {
	ctx := context.Background()
	var batch event.Batch
	t0 := time.Now()
	day0 := bucket.DayOf(end.Unix()) - 13
	for i := range n {
		at := day0.Start() + int64(i%14)*86400 + int64(i*7919%86000)
		if at >= end.Unix() {
			at = end.Unix() - 60
		}
		subject := uint32(i*104729%people + 1)
		d := Declaration(fmt.Sprintf("b%d", i), subject, subject, event.DeclKinds[i%3], at, provinceCodes[i%len(provinceCodes)], 0)
		if i%7 == 0 {
			d.Symptoms = 1
		}
		batch.Declarations = append(batch.Declarations, d)
		if len(batch.Declarations) == 50_000 || i == n-1 {
			write(b, s, batch)
			batch = event.Batch{}
		}
	}
	load := time.Since(t0)
	b.ReportMetric(float64(n)/load.Seconds(), "declarations/s-loaded")
	for _, provinces := range [][]string{nil, {"79"}} {
		name := "national"
		if provinces != nil {
			name = "province"
		}
		var lat []time.Duration
		var total int64
		for range 30 {
			t1 := time.Now()
			cs, err := s.DeclarationCounts(ctx, provinces, day0, day0+13)
			require.NoError(b, err)
			lat = append(lat, time.Since(t1))
			total = 0
			for _, c := range cs {
				total += c.N
			}
		}
		if provinces == nil {
			require.EqualValues(b, n, total)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
}
