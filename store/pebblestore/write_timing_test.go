package pebblestore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
)

// BenchmarkWrite is the embedded store's cost per check-in of writing a
// processed batch of 10 000 (stays, visitor index, hours, bitmaps; unsynced)
// into a fresh store, as a batch of new records meets no earlier operands.
func BenchmarkWrite(b *testing.B) {
	p, err := processor.New(bucket.DefaultLayout(), nil, nil)
	require.NoError(b, err)
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 10_000
	vs := make([]event.Visit, n)
	for i := range vs {
		enter := int64(1_626_800_000) + rng.Int64N(14*3600)
		vs[i] = event.Visit{VisitID: fmt.Sprintf("v-%016x", rng.Uint64()), UserID: rng.Uint32N(1_000_000) + 1,
			VenueID: uint32(10_000*rng.Float64()*rng.Float64()) + 1, Enter: enter, Source: "qr"}
		if rng.IntN(10) < 6 {
			vs[i].Exit = enter + 900 + rng.Int64N(8*3600)
		}
	}
	var pb processor.Batch
	p.Build(&event.Batch{Visits: vs}, &pb)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s, err := Open(b.Context(), Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), NoSync: true, CacheBytes: 64 << 20})
		require.NoError(b, err)
		b.StartTimer()
		if err := s.Write(b.Context(), &pb); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		require.NoError(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/checkin")
}
