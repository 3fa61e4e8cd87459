package kafkaconsumer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/schemas/event"
)

// BenchmarkTake is the consumer's own cost per check-in: decoding a message's
// records and validating them into the batch, for messages of 32 records (a
// request of 1000 spread over 32 partitions), 50 000 records per batch.
func BenchmarkTake(b *testing.B) {
	const perMsg, batch = 32, 50_000
	rng := rand.New(rand.NewPCG(7, 8))
	msgs := make([]kafka.Message, 0, batch/perMsg)
	for len(msgs) < cap(msgs) {
		vs := make([]event.Visit, perMsg)
		for i := range vs {
			enter := int64(1_626_800_000) + rng.Int64N(14*3600)
			vs[i] = event.Visit{VisitID: fmt.Sprintf("v-%016x", rng.Uint64()), UserID: rng.Uint32N(1_000_000) + 1,
				VenueID: rng.Uint32N(10_000) + 1, Enter: enter, Source: "qr"}
			if rng.IntN(10) < 6 {
				vs[i].Exit = enter + 900 + rng.Int64N(8*3600)
			}
		}
		msgs = append(msgs, kafka.Message{Topic: "truyvet.checkins", Value: event.AppendVisitsWire(nil, vs)})
	}
	c := &Consumer{cfg: DefaultConfig(), m: NewMetrics(nil)}
	var p pending
	b.ReportAllocs()
	for b.Loop() {
		p.reset()
		for i := range msgs {
			c.take(&msgs[i], &p)
		}
		if p.recs.Len() != len(msgs)*perMsg {
			b.Fatalf("took %d records", p.recs.Len())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)*perMsg), "ns/checkin")
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() {
		p.reset()
		for i := range msgs {
			c.take(&msgs[i], &p)
		}
	}))/float64(len(msgs)*perMsg), "allocs/checkin")
}
