package chstore_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// BenchmarkWrite is the ClickHouse store's cost per check-in of writing a
// processed batch of 10 000 (stays, visitors, bitmaps: one insert each),
// server time included.
func BenchmarkWrite(b *testing.B) {
	addr := chtest.Addr(b)
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
	benchWrite(b, addr, &pb, n, "ns/checkin")
}

// benchWrite writes pb, a batch of n records, to a new database over and
// over, and reports the time a record in unit.
func benchWrite(b *testing.B, addr []string, pb *processor.Batch, n int, unit string) {
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Layout = addr, chtest.Database(b, addr), bucket.DefaultLayout()
	s, err := chstore.Open(b.Context(), opts)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(b.Context(), pb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), unit)
}

// BenchmarkWriteEncounters is the ClickHouse store's cost per encounter of
// writing a processed batch of 10 000 (contacts, both directions, and the
// weekly copy its view writes), server time included.
func BenchmarkWriteEncounters(b *testing.B) {
	addr := chtest.Addr(b)
	p, err := processor.New(bucket.DefaultLayout(), nil, nil)
	require.NoError(b, err)
	rng := rand.New(rand.NewPCG(9, 11))
	const n = 10_000
	es := make([]event.Encounter, n)
	for i := range es {
		u := rng.Uint32N(1_000_000) + 1
		es[i] = event.Encounter{EncounterID: fmt.Sprintf("e-%016x", rng.Uint64()), UserID: u, PeerID: u%1_000_000 + 1 + rng.Uint32N(1000),
			Start: int64(1_626_800_000) + rng.Int64N(14*3600), DurationS: uint32(60 + rng.IntN(3600)), RSSI: int8(-40 - rng.IntN(60)), HasRSSI: true, Source: "bluezone"}
	}
	var pb processor.Batch
	p.Build(&event.Batch{Encounters: es}, &pb)
	benchWrite(b, addr, &pb, n, "ns/encounter")
}
