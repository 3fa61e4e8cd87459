package cli

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// cityRecords generates all of city's records in upload order.
func cityRecords(city *synth.City) event.Batch {
	var recs event.Batch
	for b := range city.Batches() {
		recs.Append(&b)
	}
	return recs
}

// embedded is a benchmark's embedded store in a temporary directory, loaded
// through the processor.
type embedded struct {
	store   *pebblestore.Store
	dir     string
	load    time.Duration // processing and writing every record
	compact time.Duration // settling the store afterwards
}

// loadEmbedded writes recs into a fresh embedded store through the processor
// in batches of 50 000 (unsynced: a benchmark fixture), then compacts it as a
// running store's background compactions would have.
func loadEmbedded(ctx context.Context, recs *event.Batch) (*embedded, error) {
	return loadEmbeddedFrom(ctx, func(yield func(event.Batch) bool) {
		const step = 50_000
		for i := 0; i < len(recs.Visits) || i < len(recs.Encounters); i += step {
			part := event.Batch{Visits: recs.Visits[min(i, len(recs.Visits)):min(i+step, len(recs.Visits))],
				Encounters: recs.Encounters[min(i, len(recs.Encounters)):min(i+step, len(recs.Encounters))]}
			if !yield(part) {
				return
			}
		}
	})
}

// loadCityEmbedded streams city's records into a fresh embedded store,
// 50 000 at a time, without holding them all: for cities too large for
// memory. It returns the store and the number of records.
func loadCityEmbedded(ctx context.Context, city *synth.City) (*embedded, int, error) {
	n := 0
	e, err := loadEmbeddedFrom(ctx, func(yield func(event.Batch) bool) {
		var b event.Batch
		for part := range city.Batches() {
			b.Append(&part)
			if b.Len() >= 50_000 {
				n += b.Len()
				if !yield(b) {
					return
				}
				b = event.Batch{}
			}
		}
		n += b.Len()
		yield(b)
	})
	return e, n, err
}

func loadEmbeddedFrom(ctx context.Context, batches func(func(event.Batch) bool)) (*embedded, error) {
	dir, err := os.MkdirTemp("", "truyvet-bench-")
	if err != nil {
		return nil, err
	}
	e := &embedded{dir: dir}
	e.store, err = pebblestore.Open(ctx, pebblestore.Options{Dir: dir, Layout: bucket.DefaultLayout(), NoSync: true, CacheBytes: 1 << 30})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	proc, err := processor.New(e.store.Layout(), e.store, nil)
	if err != nil {
		e.close()
		return nil, err
	}
	t0 := time.Now()
	for part := range batches {
		if err := proc.Process(ctx, &part); err != nil {
			e.close()
			return nil, err
		}
	}
	e.load = time.Since(t0)
	t1 := time.Now()
	if err := e.store.Compact(ctx); err != nil {
		e.close()
		return nil, err
	}
	e.compact = time.Since(t1)
	return e, nil
}

// diskBytes is the size of the store's files.
func (e *embedded) diskBytes() int64 {
	var n int64
	_ = filepath.WalkDir(e.dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func (e *embedded) close() {
	_ = e.store.Close()
	_ = os.RemoveAll(e.dir)
}
