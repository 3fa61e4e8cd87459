package processor_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bitmap"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/metricstest"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
)

// TestBuildMatchesNaiveIndex checks Build against a map filled the obvious
// way: every user in every bucket their record's interval touches.
func TestBuildMatchesNaiveIndex(t *testing.T) {
	layout := bucket.DefaultLayout()
	p, err := processor.New(layout, &memSink{}, nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	var recs event.Batch
	base := int64(1_790_000_000)
	for i := range 3000 {
		v := event.Visit{VisitID: "v", UserID: uint32(rng.IntN(300) + 1), VenueID: uint32(rng.IntN(20) + 1),
			Enter: base + rng.Int64N(2*86400)}
		switch i % 3 {
		case 0: // no check-out: dwell
		case 1:
			v.Exit = v.Enter + rng.Int64N(4*3600)
		case 2:
			v.Exit = v.Enter // zero-length: indexes nothing
		}
		recs.Visits = append(recs.Visits, v)
	}
	want := map[bucket.Key]map[uint32]bool{}
	for _, v := range recs.Visits {
		end := v.End(time.Duration(layout.DwellSeconds) * time.Second)
		for t0 := v.Enter; t0 < end; t0++ {
			if t0 != v.Enter && t0%layout.BucketSeconds != 0 {
				continue // one probe per bucket is enough
			}
			k := bucket.Key{Venue: v.VenueID, Bucket: layout.Of(t0)}
			if want[k] == nil {
				want[k] = map[uint32]bool{}
			}
			want[k][v.UserID] = true
		}
	}
	var b processor.Batch
	p.Build(&recs, &b)
	got := map[bucket.Key]map[uint32]bool{}
	for _, bm := range b.Bitmaps {
		require.Nil(t, got[bm.Key], "key %v built twice", bm.Key)
		dec, err := bitmap.Decode(bm.Bytes)
		require.NoError(t, err)
		require.Equal(t, int(dec.GetCardinality()), bm.Users)
		got[bm.Key] = map[uint32]bool{}
		for _, u := range dec.ToArray() {
			got[bm.Key][u] = true
		}
	}
	require.Equal(t, want, got)
}

// memSink records what it is given and fails on demand.
type memSink struct {
	mu      sync.Mutex
	batches []int
	fail    error
}

func (s *memSink) Write(_ context.Context, b *processor.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.batches = append(s.batches, b.Records.Len())
	return nil
}

func TestProcessCountsOnlyDurableRecords(t *testing.T) {
	sink := &memSink{fail: errors.New("disk full")}
	p, err := processor.New(bucket.DefaultLayout(), sink, nil)
	require.NoError(t, err)
	recs := event.Batch{Visits: []event.Visit{{VisitID: "a", UserID: 1, VenueID: 2, Enter: 1_790_000_000}}}
	require.ErrorContains(t, p.Process(t.Context(), &recs), "disk full")
	require.Zero(t, p.Processed())
	sink.fail = nil
	require.NoError(t, p.Process(t.Context(), &recs))
	require.EqualValues(t, 1, p.Processed())
}

// syncSink is a sink whose writes are durable when Write returns; the first
// write waits for release, so the test can line up producers behind it.
type syncSink struct {
	entered, release chan struct{}
	mu               sync.Mutex
	writes           []int           // records per write, in order
	durable          map[uint32]bool // users whose visits were written
	fail             error
}

func newSyncSink() *syncSink {
	return &syncSink{entered: make(chan struct{}), release: make(chan struct{}), durable: map[uint32]bool{}}
}

func (s *syncSink) Write(_ context.Context, b *processor.Batch) error {
	s.mu.Lock()
	first := len(s.writes) == 0
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, b.Records.Len())
	if s.fail != nil {
		return s.fail
	}
	for _, v := range b.Records.Visits {
		s.durable[v.UserID] = true
	}
	return nil
}

func (s *syncSink) isDurable(user uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable[user]
}

// TestPipeGroupCommit: batches that arrive while a write is in progress are
// committed together in the next write (one sync for many producers), each
// producer is acknowledged only once its own batch is durable, every
// producer of a failed write learns the failure, and a stopped pipe refuses
// work.
func TestPipeGroupCommit(t *testing.T) {
	sink := newSyncSink()
	reg := prometheus.NewRegistry()
	p, err := processor.New(bucket.DefaultLayout(), sink, processor.NewMetrics(reg))
	require.NoError(t, err)
	pipe := processor.NewPipe(p, 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- pipe.Run(ctx) }()

	const producers, failing = 50, 10
	type ack struct {
		err     error
		durable bool // the producer's own record was durable when Produce returned
	}
	acks := make([]ack, producers+failing)
	var returned atomic.Int32
	var wg sync.WaitGroup
	produce := func(i int) {
		wg.Go(func() {
			user := uint32(i + 1)
			b := event.Batch{Visits: []event.Visit{{VisitID: "v", UserID: user, VenueID: 1, Enter: 1_790_000_000}}}
			err := pipe.Produce(t.Context(), &b)
			acks[i] = ack{err: err, durable: sink.isDurable(user)}
			returned.Add(1)
		})
	}
	// The first producer's write is held in the sink; the other 49 queue
	// behind it.
	produce(0)
	<-sink.entered
	for i := 1; i < producers; i++ {
		produce(i)
	}
	// Polled here rather than in require.Eventually, whose condition runs
	// off the test goroutine.
	for deadline := time.Now().Add(10 * time.Second); metricstest.Value(t, reg, "truyvet_processor_pipe_pending_batches") != producers-1; time.Sleep(time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the other producers never queued")
	}
	require.Zero(t, returned.Load(), "no producer is acknowledged before its write is durable")
	close(sink.release)
	wg.Wait()

	for i, a := range acks[:producers] {
		require.NoError(t, a.err, "producer %d", i)
		require.True(t, a.durable, "producer %d acknowledged before its batch was durable", i)
	}
	require.Equal(t, []int{1, producers - 1}, sink.writes, "the 49 queued batches are committed in one write")
	require.EqualValues(t, producers, p.Processed())
	require.Zero(t, metricstest.Value(t, reg, "truyvet_processor_pipe_pending_batches"))

	// A failed write fails every producer whose batch it held, and makes
	// none of them durable.
	sink.mu.Lock()
	sink.fail = errors.New("disk full")
	sink.mu.Unlock()
	for i := range failing {
		produce(producers + i)
	}
	wg.Wait()
	for i := range failing {
		a := acks[producers+i]
		require.ErrorContains(t, a.err, "disk full", "producer %d", producers+i)
		require.False(t, a.durable)
	}
	require.EqualValues(t, producers, p.Processed())

	cancel()
	require.NoError(t, <-done)
	b := event.Batch{Visits: []event.Visit{{VisitID: "late", UserID: 1, VenueID: 1, Enter: 1_790_000_000}}}
	require.ErrorIs(t, pipe.Produce(t.Context(), &b), processor.ErrPipeClosed)
}
