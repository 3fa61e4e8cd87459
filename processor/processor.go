// Package processor turns validated records into what the store keeps: the raw
// stays and encounters, and time-bucketed co-location bitmaps per (venue,
// bucket) saying who was at a venue in a bucket. Bitmaps are set unions, so
// processing a record twice, or late, or out of order, changes nothing.
//
// Metrics (see NewMetrics):
//
//	truyvet_processor_records_total{kind}             records processed
//	truyvet_processor_batches_total                   batches written to the sink
//	truyvet_processor_batch_records                   records per batch (histogram)
//	truyvet_processor_bitmap_keys_total               (venue, bucket) bitmaps written
//	truyvet_processor_bitmap_entries_total            (user, venue, bucket) entries set
//	truyvet_processor_build_duration_seconds          time to build a batch's bitmaps
//	truyvet_processor_sink_write_duration_seconds     time for the sink to make a batch durable
//	truyvet_processor_sink_errors_total               failed sink writes
//	truyvet_processor_pipe_pending_batches            batches waiting in the in-process pipe
package processor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
)

// Sink stores processed batches. Write returns nil only once the whole batch
// is durable; it must be idempotent, because batches are replayed after
// crashes. Implementations: the embedded store and the ClickHouse store.
type Sink interface {
	Write(ctx context.Context, b *Batch) error
}

// Bitmap is the set of users present at a venue during a bucket, as built
// from one batch, in the portable Roaring format (package bitmap). Sinks OR it
// into what they already hold.
type Bitmap struct {
	Key   bucket.Key
	Bytes []byte // portable Roaring serialisation
	Users int    // cardinality
}

// Batch is what a Sink receives: validated records and their bitmaps. The
// bitmaps' bytes share one buffer owned by the batch.
type Batch struct {
	Records event.Batch
	Bitmaps []Bitmap
}

// Processor builds batches and writes them to a sink.
type Processor struct {
	builders  sync.Pool
	layout    bucket.Layout
	sink      Sink
	metrics   *Metrics
	processed atomic.Int64
}

// New returns a processor indexing with layout and writing to sink.
func New(layout bucket.Layout, sink Sink, m *Metrics) (*Processor, error) {
	if err := layout.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	p := &Processor{layout: layout, sink: sink, metrics: m}
	p.builders.New = func() any { return &builder{venues: map[uint32]int32{}} }
	return p, nil
}

// Processed is the number of records written to the sink since start.
func (p *Processor) Processed() int64 { return p.processed.Load() }

// Build indexes recs into b: b.Records becomes recs and b.Bitmaps holds one
// bitmap per (venue, bucket) touched by a visit's own interval. Every stay's
// combined interval (see schemas/README.md) is the interval of one of its
// records, so indexing each record's interval covers every stay.
//
// A stay covers a contiguous run of buckets at one venue, so Build groups
// spans by venue and sweeps each venue's buckets once, writing every bitmap
// straight from its sorted users: no roaring.Bitmap is built per key.
func (p *Processor) Build(recs *event.Batch, b *Batch) {
	b.Records = *recs
	b.Bitmaps = b.Bitmaps[:0]
	bl := p.builders.Get().(*builder)
	defer p.builders.Put(bl)
	bl.reset()
	dwell := time.Duration(p.layout.DwellSeconds) * time.Second
	for i := range recs.Visits {
		v := &recs.Visits[i]
		first, last, ok := p.layout.Cover(v.Enter, v.End(dwell))
		if ok {
			bl.add(v.VenueID, v.UserID, first, last)
		}
	}
	bl.build(b)
}

// Process builds recs and writes them to the sink; nil means durable.
func (p *Processor) Process(ctx context.Context, recs *event.Batch) error {
	t0 := time.Now()
	var b Batch
	p.Build(recs, &b)
	entries := 0
	for _, bm := range b.Bitmaps {
		entries += bm.Users
	}
	p.metrics.buildSeconds.Observe(time.Since(t0).Seconds())

	t1 := time.Now()
	if err := p.sink.Write(ctx, &b); err != nil {
		p.metrics.sinkErrors.Inc()
		return fmt.Errorf("write batch of %d records: %w", recs.Len(), err)
	}
	p.metrics.sinkSeconds.Observe(time.Since(t1).Seconds())
	p.processed.Add(int64(recs.Len()))
	p.metrics.batches.Inc()
	p.metrics.batchRecords.Observe(float64(recs.Len()))
	p.metrics.visits.Add(float64(len(recs.Visits)))
	p.metrics.encounters.Add(float64(len(recs.Encounters)))
	p.metrics.declarations.Add(float64(len(recs.Declarations)))
	p.metrics.assessments.Add(float64(len(recs.Assessments)))
	p.metrics.bitmapKeys.Add(float64(len(b.Bitmaps)))
	p.metrics.bitmapEntries.Add(float64(entries))
	return nil
}
