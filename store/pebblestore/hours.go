package pebblestore

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

// A venue's visitor keys on a day sort by enter, but a visitor who entered
// long before a span may still be there, so a scan by enter alone must start
// at the day's first key. The venue's hour bounds fix that: for each hour in
// which someone entered, the latest end of a stay entered in it. The bounds
// live at the venue's visitor prefix itself ('v' day venue, which sorts before
// the venue's visitor keys) and are merged by taking the later end per hour,
// so batches, resends and check-outs in later batches only ever raise them.
//
// A stay entered in hour h ends by bound(h); so it can overlap a span only if
// [h·3600, bound(h)) does. Visitors reads only the hours that pass this test.

// hourSeconds is the granularity of the bounds.
const hourSeconds = 3600

// hourBound is the latest end of the stays entered at a venue in one hour.
// Stored times are after 1970 (ingest refuses any older than retention), and
// an hour's number fits 32 bits for 490 000 years.
type hourBound struct {
	hour uint32 // Unix time / hourSeconds
	end  int64
}

// hourBoundSize is one encoded bound: hour:4 end:8, big-endian.
const hourBoundSize = 12

// visitorPrefixLen is the length of a venue's visitor prefix: 'v' day venue.
const visitorPrefixLen = 1 + 4 + 4

// isHourBoundsKey reports whether key holds a venue's hour bounds.
func isHourBoundsKey(key []byte) bool {
	return len(key) == visitorPrefixLen && key[0] == spaceVisitor
}

// appendHourBounds encodes bounds, which must be sorted by hour without repeats.
func appendHourBounds(dst []byte, bounds []hourBound) []byte {
	for _, b := range bounds {
		dst = binary.BigEndian.AppendUint32(dst, b.hour)
		dst = binary.BigEndian.AppendUint64(dst, uint64(b.end))
	}
	return dst
}

// decodeHourBounds appends the bounds encoded in v to dst, checking that
// hours ascend.
func decodeHourBounds(dst []hourBound, v []byte) ([]hourBound, error) {
	if len(v)%hourBoundSize != 0 {
		return dst, fmt.Errorf("hour bounds of %d bytes: %w", len(v), errKey)
	}
	start := len(dst)
	for ; len(v) > 0; v = v[hourBoundSize:] {
		b := hourBound{hour: binary.BigEndian.Uint32(v), end: int64(binary.BigEndian.Uint64(v[4:]))}
		if len(dst) > start && b.hour <= dst[len(dst)-1].hour {
			return dst, fmt.Errorf("hour bounds out of order at hour %d: %w", b.hour, errKey)
		}
		dst = append(dst, b)
	}
	return dst, nil
}

// mergeHourBounds returns the union of a and b (each sorted by hour), with
// the later end where both hold an hour.
func mergeHourBounds(a, b []hourBound) []hourBound {
	out := make([]hourBound, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0].hour < b[0].hour:
			out, a = append(out, a[0]), a[1:]
		case b[0].hour < a[0].hour:
			out, b = append(out, b[0]), b[1:]
		default:
			out = append(out, hourBound{hour: a[0].hour, end: max(a[0].end, b[0].end)})
			a, b = a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// hourBoundsMerger is the merge operator of hour-bounds keys.
type hourBoundsMerger struct{ bounds []hourBound }

func (m *hourBoundsMerger) add(v []byte) error {
	o, err := decodeHourBounds(nil, v)
	if err != nil {
		return err
	}
	m.bounds = mergeHourBounds(m.bounds, o)
	return nil
}

func (m *hourBoundsMerger) MergeNewer(v []byte) error { return m.add(v) }
func (m *hourBoundsMerger) MergeOlder(v []byte) error { return m.add(v) }
func (m *hourBoundsMerger) Finish(bool) ([]byte, io.Closer, error) {
	return appendHourBounds(nil, m.bounds), nil, nil
}

// visitorHours collects the hour bounds of written stays, per venue and day.
type visitorHours struct {
	layout bucket.Layout
	ends   map[visitorHour]int64
}

type visitorHour struct {
	day   bucket.Day
	venue uint32
	hour  uint32
}

// add notes a visit record at venue, keyed on day d.
func (h *visitorHours) add(d bucket.Day, venue uint32, enter, exit int64) {
	if h.ends == nil {
		h.ends = map[visitorHour]int64{}
	}
	k := visitorHour{day: d, venue: venue, hour: uint32(enter / hourSeconds)}
	h.ends[k] = max(h.ends[k], h.layout.StayEnd(enter, exit))
}

// merge adds one merge operand per venue and day to wb.
func (h *visitorHours) merge(wb *pebble.Batch) error {
	keys := make([]visitorHour, 0, len(h.ends))
	for k := range h.ends {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b visitorHour) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.venue, b.venue), cmp.Compare(a.hour, b.hour))
	})
	var key, val []byte
	for i := 0; i < len(keys); {
		j := i
		val = val[:0]
		for ; j < len(keys) && keys[j].day == keys[i].day && keys[j].venue == keys[i].venue; j++ {
			val = appendHourBounds(val, []hourBound{{hour: keys[j].hour, end: h.ends[keys[j]]}})
		}
		key = userPrefix(key, spaceVisitor, keys[i].day, keys[i].venue)
		if err := wb.Merge(key, val, nil); err != nil {
			return err
		}
		i = j
	}
	clear(h.ends)
	return nil
}

// enterRange is a range of enter times, [from, to), to scan.
type enterRange struct{ from, to int64 }

// planHours appends to dst the ranges of enter times whose stays may overlap
// one of v's spans, given the venue's hour bounds on one day. Adjacent hours
// to read are joined into one range.
func planHours(dst []enterRange, bounds []hourBound, v graph.VenueSpans) []enterRange {
	open := false
	for _, b := range bounds {
		start := int64(b.hour) * hourSeconds
		if !v.Overlaps(graph.Interval{Start: start, End: b.end}) {
			open = false
			continue
		}
		if open {
			dst[len(dst)-1].to = start + hourSeconds
			continue
		}
		dst, open = append(dst, enterRange{from: start, to: start + hourSeconds}), true
	}
	return dst
}

// visitorBoundsKey marks a store whose every venue and day with visitor keys
// also has its hour bounds. Stores written before the bounds existed get them
// built on Open.
var visitorBoundsKey = metaKey("visitor-hours")

// ensureVisitorHours builds the hour bounds of a store written before they
// existed, from its visitor keys, then marks the store. Merging the same
// bounds twice changes nothing, so an interrupted build is simply redone.
func (s *Store) ensureVisitorHours(ctx context.Context) error {
	h := visitorHours{layout: s.layout}
	return s.backfill(ctx, backfill{
		mark: visitorBoundsKey, space: spaceVisitor, what: "visitor hour bounds",
		add: func(_ *pebble.Batch, k []byte) error {
			if isHourBoundsKey(k) {
				return nil
			}
			sk, err := decodeVisitorKey(k)
			if err != nil {
				return err
			}
			h.add(bucket.Day(binary.BigEndian.Uint32(k[1:])), sk.venue, sk.enter, sk.exit)
			return nil
		},
		flush: h.merge,
	})
}
