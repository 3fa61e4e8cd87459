package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

var (
	_ graph.VenueStore = (*Store)(nil)
	_ graph.SinceStore = (*Store)(nil)
)

// foldedStay is one stay folded from its visit records.
type foldedStay struct {
	user, venue uint32
	imputed     bool // no record had an exit
	graph.Interval
}

// stayFolder folds the visit records of a key scan into stays: records of
// one stay are adjacent (their keys differ only in the trailing exit), and a
// stay ends at the greatest exit, or after the default dwell when none has one.
type stayFolder struct {
	layout bucket.Layout
	ident  []byte
	cur    foldedStay
	exit   int64
	open   bool
}

// add takes the next record and returns the stay it completes, if any.
func (f *stayFolder) add(k stayKey) (foldedStay, bool) {
	if f.open && bytes.Equal(k.identity, f.ident) {
		f.exit = max(f.exit, k.exit)
		return foldedStay{}, false
	}
	prev, ok := f.flush()
	f.ident = append(f.ident[:0], k.identity...)
	f.cur = foldedStay{user: k.user, venue: k.venue, Interval: graph.Interval{Start: k.enter}}
	f.exit, f.open = k.exit, true
	return prev, ok
}

// flush returns the stay in progress, if any, and forgets it.
func (f *stayFolder) flush() (foldedStay, bool) {
	if !f.open {
		return foldedStay{}, false
	}
	f.open = false
	st := f.cur
	st.End = f.layout.StayEnd(st.Start, f.exit)
	st.imputed = f.exit == 0
	return st, st.End > st.Start
}

// Visitors implements graph.VenueStore: a forward scan of each asked venue's
// visitor keys on each day one of its spans may reach (a stay is keyed by the
// day it began, up to bucket.MaxSpan before the span), reading only the hours
// of entry whose stays may reach a span (see hourBound), seeking over the rest.
func (s *Store) Visitors(ctx context.Context, venues []graph.VenueSpans) iter.Seq2[graph.VenueVisitors, error] {
	return func(yield func(graph.VenueVisitors, error) bool) {
		if len(venues) == 0 {
			return
		}
		first, last := bucket.Day(1<<31-1), bucket.Day(0)
		for _, v := range venues {
			for _, sp := range v.Spans {
				first = min(first, bucket.FirstDayReaching(sp.Start))
				last = max(last, bucket.DayOf(sp.End))
			}
		}
		if first > last {
			return
		}
		var days []bucket.Day
		for d := first; d <= last; d++ {
			days = append(days, d)
		}
		its, closeAll, err := s.dayIters(ctx, spaceVisitor, days)
		if err != nil {
			yield(graph.VenueVisitors{}, err)
			return
		}
		defer closeAll()
		need := make([]bool, len(days))
		var (
			prefix, seek []byte
			out          []graph.Visitor
			cur          graph.VenueSpans
			bounds       []hourBound
			ranges       []enterRange
		)
		f := stayFolder{layout: s.layout}
		keep := func(st foldedStay, ok bool) {
			if ok && cur.Overlaps(st.Interval) {
				out = append(out, graph.Visitor{User: st.user, Interval: st.Interval})
			}
		}
		for i, v := range venues {
			if i%256 == 255 && ctx.Err() != nil {
				yield(graph.VenueVisitors{}, ctx.Err())
				return
			}
			cur = v
			clear(need)
			for _, sp := range v.Spans {
				for d := range bucket.DaysReaching(sp.Start, sp.End) {
					need[d-first] = true
				}
			}
			out = out[:0]
			// Days ascend and keys within a day ascend by enter: out is
			// sorted by Start without sorting.
			for di, d := range days {
				if !need[di] {
					continue
				}
				it := its[di]
				prefix = userPrefix(prefix, spaceVisitor, d, v.Venue)
				ok := it.SeekGE(prefix)
				if ok && bytes.Equal(it.Key(), prefix) {
					val, err := it.ValueAndErr()
					if err == nil {
						bounds, err = decodeHourBounds(bounds[:0], val)
					}
					if err != nil {
						yield(graph.VenueVisitors{}, fmt.Errorf("hour bounds of venue %d on %s: %w", v.Venue, d, err))
						return
					}
					ranges = planHours(ranges[:0], bounds, v)
					ok = it.Next()
				} else {
					// No bounds key: no visitors that day, or a store the
					// backfill has not reached. Reading all is exact either way.
					ranges = append(ranges[:0], enterRange{from: 0, to: math.MaxInt64})
				}
				for _, r := range ranges {
					if ok && bytes.HasPrefix(it.Key(), prefix) && len(it.Key()) >= stayFixed && enterOf(it.Key()) < r.from {
						seek = binary.BigEndian.AppendUint64(append(seek[:0], prefix...), uint64(r.from))
						ok = it.SeekGE(seek)
					}
					for ; ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
						k, err := decodeVisitorKey(it.Key())
						if err != nil {
							yield(graph.VenueVisitors{}, err)
							return
						}
						if k.enter >= r.to {
							break
						}
						keep(f.add(k))
					}
					// A stay's records share its enter, so none spans two ranges.
					keep(f.flush())
					if !ok || !bytes.HasPrefix(it.Key(), prefix) {
						break
					}
				}
				if err := it.Error(); err != nil {
					yield(graph.VenueVisitors{}, fmt.Errorf("scan visitors of venue %d on %s: %w", v.Venue, d, err))
					return
				}
			}
			if len(out) > 0 {
				if !yield(graph.VenueVisitors{Venue: v.Venue, Visitors: out}, nil) {
					return
				}
			}
		}
	}
}

// visitorIndexKey marks a store whose every stay record also has its visitor
// key. Stores written before the visitor index existed get it built on Open.
var visitorIndexKey = metaKey("visitor-index")

// ensureVisitorIndex builds the visitor keys of a store written before they
// existed, from its stay keys, then marks the store. It is idempotent: a
// build interrupted by a crash is redone on the next Open.
func (s *Store) ensureVisitorIndex(ctx context.Context) error {
	var key []byte
	return s.backfill(ctx, backfill{
		mark: visitorIndexKey, space: spaceStay, what: "visitor index",
		add: func(wb *pebble.Batch, k []byte) error {
			sk, err := decodeStayKey(k)
			if err != nil {
				return err
			}
			d := bucket.Day(binary.BigEndian.Uint32(k[1:]))
			visitID := string(k[stayFixed-8 : len(k)-8])
			key = appendVisitorKey(key, d, sk.venue, sk.enter, sk.user, visitID, sk.exit)
			return wb.Set(key, nil, nil)
		},
	})
}

// backfill derives the keys of a store written before they existed.
type backfill struct {
	mark  []byte // set once the keys are all there
	space byte   // the key space they derive from
	what  string // for errors and the log
	// add writes what one key of space derives to wb; flush (optional)
	// writes what add held back, before each commit.
	add   func(wb *pebble.Batch, key []byte) error
	flush func(wb *pebble.Batch) error
}

// backfill runs b unless its mark is set: one scan of b.space, committed
// every 64 Ki keys, then the mark. Whatever b writes must be harmless to
// write twice, since a run interrupted by a crash is redone on the next Open.
func (s *Store) backfill(ctx context.Context, b backfill) error {
	_, closer, err := s.db.Get(b.mark)
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read %s mark: %w", b.what, err)
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{b.space}, UpperBound: []byte{b.space + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	wb := s.db.NewBatch()
	defer func() { wb.Close() }()
	commit := func(opts *pebble.WriteOptions) error {
		if b.flush != nil {
			if err := b.flush(wb); err != nil {
				return err
			}
		}
		if err := wb.Commit(opts); err != nil {
			return fmt.Errorf("build %s: %w", b.what, err)
		}
		return nil
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if err := b.add(wb, it.Key()); err != nil {
			return err
		}
		if n++; n%65536 == 0 {
			if err := commit(pebble.NoSync); err != nil {
				return err
			}
			wb.Close()
			wb = s.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan for the %s: %w", b.what, err)
	}
	if err := wb.Set(b.mark, []byte{1}, nil); err != nil {
		return err
	}
	if err := commit(pebble.Sync); err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("built the "+b.what+" of a store written by an older version", "records", n)
	}
	return nil
}
