package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/processor/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

var _ graph.VenueStore = (*Store)(nil)

// foldedStay is one stay folded from its visit records.
type foldedStay struct {
	user, venue uint32
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
	return st, st.End > st.Start
}

// Visitors implements graph.VenueStore: one forward scan of each asked
// venue's visitor keys on each day one of its spans may reach (a stay is
// keyed by the day it began, up to bucket.MaxSpan before the span).
func (s *Store) Visitors(ctx context.Context, venues []graph.VenueSpans) iter.Seq2[graph.VenueVisitors, error] {
	return func(yield func(graph.VenueVisitors, error) bool) {
		if len(venues) == 0 {
			return
		}
		first, last := bucket.Day(1<<31-1), bucket.Day(0)
		for _, v := range venues {
			for _, sp := range v.Spans {
				first = min(first, bucket.DayOf(sp.Start-bucket.MaxSpan))
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
			prefix []byte
			out    []graph.Visitor
			cur    graph.VenueSpans
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
				for d := bucket.DayOf(sp.Start - bucket.MaxSpan); d <= bucket.DayOf(sp.End); d++ {
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
				for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
					k, err := decodeVisitorKey(it.Key())
					if err != nil {
						yield(graph.VenueVisitors{}, err)
						return
					}
					keep(f.add(k))
				}
				if err := it.Error(); err != nil {
					yield(graph.VenueVisitors{}, fmt.Errorf("scan visitors of venue %d on %s: %w", v.Venue, d, err))
					return
				}
				keep(f.flush())
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
	_, closer, err := s.db.Get(visitorIndexKey)
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read visitor index mark: %w", err)
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceStay}, UpperBound: []byte{spaceStay + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	wb := s.db.NewBatch()
	defer func() { wb.Close() }()
	var key []byte
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		sk, err := decodeStayKey(k)
		if err != nil {
			return err
		}
		d := bucket.Day(binary.BigEndian.Uint32(k[1:]))
		visitID := string(k[stayFixed-8 : len(k)-8])
		key = appendVisitorKey(key, d, sk.venue, sk.enter, sk.user, visitID, sk.exit)
		if err := wb.Set(key, nil, nil); err != nil {
			return err
		}
		if n++; n%65536 == 0 {
			if err := wb.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("build visitor index: %w", err)
			}
			wb.Close()
			wb = s.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan stays for the visitor index: %w", err)
	}
	if err := wb.Set(visitorIndexKey, []byte{1}, nil); err != nil {
		return err
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("build visitor index: %w", err)
	}
	if n > 0 {
		s.log.Info("built the visitor index of a store written by an older version", "records", n)
	}
	return nil
}
