// Package embedded is a benchmark's embedded store: a fresh Pebble store in a
// temporary directory, loaded through the processor as ingest would load it,
// then compacted as a running store's background compactions would have
// settled it. bench peers and bench scale query it in process.
package embedded

import (
	"context"
	"errors"
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

// Records generates all of city's records in upload order.
func Records(city *synth.City) event.Batch {
	var recs event.Batch
	for b := range city.Batches() {
		recs.Append(&b)
	}
	return recs
}

// Store is a loaded store in a temporary directory; Close removes it.
type Store struct {
	*pebblestore.Store
	dir         string
	LoadTime    time.Duration // processing and writing every record
	CompactTime time.Duration // settling the store afterwards
}

// Load writes recs into a fresh embedded store through the processor
// in batches of 50 000 (unsynced: a benchmark fixture), then compacts it as a
// running store's background compactions would have.
func Load(ctx context.Context, recs *event.Batch) (*Store, error) {
	return loadFrom(ctx, func(yield func(event.Batch) bool) {
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

// LoadCity streams city's records into a fresh embedded store,
// 50 000 at a time, without holding them all: for cities too large for
// memory. It returns the store and the number of records.
func LoadCity(ctx context.Context, city *synth.City) (*Store, int, error) {
	n := 0
	e, err := loadFrom(ctx, func(yield func(event.Batch) bool) {
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

func loadFrom(ctx context.Context, batches func(func(event.Batch) bool)) (*Store, error) {
	dir, err := os.MkdirTemp("", "truyvet-bench-")
	if err != nil {
		return nil, err
	}
	e := &Store{dir: dir}
	e.Store, err = pebblestore.Open(ctx, pebblestore.Options{Dir: dir, Layout: bucket.DefaultLayout(), NoSync: true, CacheBytes: 1 << 30})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	proc, err := processor.New(e.Layout(), e.Store, nil)
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	t0 := time.Now()
	for part := range batches {
		if err := proc.Process(ctx, &part); err != nil {
			_ = e.Close()
			return nil, err
		}
	}
	e.LoadTime = time.Since(t0)
	t1 := time.Now()
	if err := e.Store.Compact(ctx); err != nil {
		_ = e.Close()
		return nil, err
	}
	e.CompactTime = time.Since(t1)
	return e, nil
}

// DiskBytes is the size of the store's files.
func (e *Store) DiskBytes() int64 {
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

// Close closes the store and removes its directory.
func (e *Store) Close() error {
	return errors.Join(e.Store.Close(), os.RemoveAll(e.dir))
}
