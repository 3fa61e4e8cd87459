package processor

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
)

// cityVisits makes n check-ins of people with heavy-tailed venue choice and
// stays of 15 minutes to 9 hours, as a city's day looks.
func cityVisits(n int) []event.Visit {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2021, 7, 20, 6, 0, 0, 0, time.UTC).Unix()
	vs := make([]event.Visit, n)
	for i := range vs {
		enter := base + rng.Int64N(14*3600)
		v := event.Visit{VisitID: "v-0123456789abcdef", UserID: uint32(rng.IntN(1_000_000) + 1),
			VenueID: uint32(float64(10_000)*rng.Float64()*rng.Float64()) + 1, Enter: enter}
		if rng.IntN(10) < 6 {
			v.Exit = enter + 15*60 + rng.Int64N(8*3600)
		}
		vs[i] = v
	}
	return vs
}

type nopSink struct{}

func (nopSink) Write(context.Context, *Batch) error { return nil }

// BenchmarkBuild is the processor's own cost per check-in: bucketing a stay,
// setting its user in each (venue, bucket) bitmap and serialising the
// bitmaps, in batches of 10 000.
func BenchmarkBuild(b *testing.B) {
	p, err := New(bucket.DefaultLayout(), nopSink{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 10_000
	vs := cityVisits(batch)
	recs := event.Batch{Visits: vs}
	var out Batch
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.Build(&recs, &out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/checkin")
}
