package processor_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bitmap"
	"github.com/truyvet/truyvet/index/bucket"
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

// Concurrent producers are combined into fewer writes, each learns the
// outcome of the write that held its batch, and a stopped pipe refuses work.
func TestPipeGroupCommit(t *testing.T) {
	sink := &memSink{}
	p, err := processor.New(bucket.DefaultLayout(), sink, nil)
	require.NoError(t, err)
	pipe := processor.NewPipe(p, 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- pipe.Run(ctx) }()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			b := event.Batch{Visits: []event.Visit{{VisitID: "v", UserID: uint32(i + 1), VenueID: 1, Enter: 1_790_000_000}}}
			require.NoError(t, pipe.Produce(t.Context(), &b))
		})
	}
	wg.Wait()
	require.EqualValues(t, 50, p.Processed())
	sink.mu.Lock()
	total := 0
	for _, n := range sink.batches {
		total += n
	}
	sink.mu.Unlock()
	require.Equal(t, 50, total)
	cancel()
	require.NoError(t, <-done)
	b := event.Batch{Visits: []event.Visit{{VisitID: "late", UserID: 1, VenueID: 1, Enter: 1_790_000_000}}}
	require.ErrorIs(t, pipe.Produce(t.Context(), &b), processor.ErrPipeClosed)
}
