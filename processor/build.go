package processor

import (
	"slices"

	"github.com/truyvet/truyvet/index/bitmap"
	"github.com/truyvet/truyvet/index/bucket"
)

// builder turns (venue, user, bucket range) spans into serialised bitmaps.
// It is reused across batches to keep allocation per batch, not per record.
type builder struct {
	venues map[uint32]int32 // venue → index into accs
	accs   []venueSpans
	lists  [][]uint32 // users per bucket of the venue being swept
	order  []uint64   // venue<<32 | index into accs, sorted: the sweep's order
	arena  []byte
	offs   []int // end offset in arena of each bitmap built
}

type venueSpans struct {
	venue  uint32
	lo, hi uint32
	cells  int // bucket entries of the spans, an upper bound on the venue's bitmaps
	spans  []span
}

type span struct {
	user, first, last uint32
}

func (bl *builder) reset() {
	clear(bl.venues)
	for i := range bl.accs {
		bl.accs[i].spans = bl.accs[i].spans[:0]
		bl.accs[i].cells = 0
	}
	bl.accs = bl.accs[:0]
	bl.arena = bl.arena[:0]
	bl.offs = bl.offs[:0]
}

func (bl *builder) add(venue, user, first, last uint32) {
	i, ok := bl.venues[venue]
	if !ok {
		i = int32(len(bl.accs))
		bl.venues[venue] = i
		if len(bl.accs) < cap(bl.accs) {
			bl.accs = bl.accs[:len(bl.accs)+1]
			bl.accs[i].venue, bl.accs[i].lo, bl.accs[i].hi = venue, first, last
		} else {
			bl.accs = append(bl.accs, venueSpans{venue: venue, lo: first, hi: last})
		}
	}
	a := &bl.accs[i]
	a.lo, a.hi = min(a.lo, first), max(a.hi, last)
	a.cells += int(last-first) + 1
	a.spans = append(a.spans, span{user: user, first: first, last: last})
}

// build sweeps each venue's buckets and appends one Bitmap per non-empty
// (venue, bucket) to b, in (venue, bucket) order.
func (bl *builder) build(b *Batch) {
	// Sort packed (venue, index) words rather than the accumulators
	// themselves: an ordered sort of uint64s, no comparator, no 40-byte swaps.
	bl.order = bl.order[:0]
	keys := 0
	for i := range bl.accs {
		a := &bl.accs[i]
		bl.order = append(bl.order, uint64(a.venue)<<32|uint64(i))
		keys += min(int(a.hi-a.lo)+1, a.cells)
	}
	slices.Sort(bl.order)
	b.Bitmaps = slices.Grow(b.Bitmaps, keys) // at most one bitmap per bucket swept
	for _, o := range bl.order {
		a := &bl.accs[uint32(o)]
		width := int(a.hi-a.lo) + 1
		for len(bl.lists) < width {
			bl.lists = append(bl.lists, nil)
		}
		lists := bl.lists[:width]
		for i := range lists {
			lists[i] = lists[i][:0]
		}
		// Users enter each list in ascending order, so lists need no sort.
		slices.SortFunc(a.spans, func(x, y span) int { return int(int64(x.user) - int64(y.user)) })
		for _, s := range a.spans {
			for k := s.first - a.lo; k <= s.last-a.lo; k++ {
				lists[k] = append(lists[k], s.user)
			}
		}
		for k, users := range lists {
			if len(users) == 0 {
				continue
			}
			users = slices.Compact(users)
			bl.arena = bitmap.Append(bl.arena, users)
			bl.offs = append(bl.offs, len(bl.arena))
			b.Bitmaps = append(b.Bitmaps, Bitmap{Key: bucket.Key{Venue: a.venue, Bucket: a.lo + uint32(k)}, Users: len(users)})
		}
	}
	// The arena no longer grows: hand out its pieces, in a buffer the batch owns.
	arena := slices.Clone(bl.arena)
	start := 0
	for i, end := range bl.offs {
		b.Bitmaps[i].Bytes = arena[start:end:end]
		start = end
	}
}
