package pebblestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary"
)

// The summary's counters (package summary), key space 'n':
//
//	'n' day:4 len:1 province len:1 metric key → int64, little-endian (merge: add)
//
// A day's counters are one range, dropped with the day's data. Each
// addition is also kept under the province "*", the national total, so a
// national read is as short as a province's: 22 keys a day, not 22 for
// each of 64 provinces.
const spaceSummary = 'n'

// national is the province of the national totals' keys.
const national = "*"

var _ summary.Counters = (*Store)(nil)

func summaryKey(dst []byte, d summary.Delta) ([]byte, error) {
	if len(d.Province) > 255 || len(d.Metric) > 255 {
		return nil, fmt.Errorf("summary counter %q/%q: names over 255 bytes: %w", d.Province, d.Metric, errKey)
	}
	dst = append(dst, spaceSummary)
	dst = binary.BigEndian.AppendUint32(dst, uint32(d.Day))
	dst = append(dst, byte(len(d.Province)))
	dst = append(dst, d.Province...)
	dst = append(dst, byte(len(d.Metric)))
	dst = append(dst, d.Metric...)
	return append(dst, d.Key...), nil
}

func decodeSummaryKey(k []byte) (day bucket.Day, province, metric, key string, err error) {
	if len(k) < 6 || k[0] != spaceSummary {
		return 0, "", "", "", fmt.Errorf("summary key of %d bytes: %w", len(k), errKey)
	}
	day = bucket.Day(binary.BigEndian.Uint32(k[1:]))
	rest := k[5:]
	pl := int(rest[0])
	if len(rest) < 1+pl+1 {
		return 0, "", "", "", fmt.Errorf("summary key of %d bytes: %w", len(k), errKey)
	}
	province, rest = string(rest[1:1+pl]), rest[1+pl:]
	ml := int(rest[0])
	if len(rest) < 1+ml {
		return 0, "", "", "", fmt.Errorf("summary key of %d bytes: %w", len(k), errKey)
	}
	return day, province, string(rest[1 : 1+ml]), string(rest[1+ml:]), nil
}

var _ summary.CountedSink = (*Store)(nil)

// AddCounts implements summary.Counters: one batch of merge operands,
// durable as the store's writes are.
func (s *Store) AddCounts(_ context.Context, ds []summary.Delta) error {
	if len(ds) == 0 {
		return nil
	}
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	if err := mergeSummary(wb, ds); err != nil {
		return err
	}
	if err := wb.Commit(s.wo); err != nil {
		return fmt.Errorf("add %d summary counters: %w", len(ds), err)
	}
	return nil
}

// mergeSummary adds ds to wb, each also to the national total.
func mergeSummary(wb *pebble.Batch, ds []summary.Delta) error {
	all := make([]summary.Delta, 0, 2*len(ds))
	for _, d := range ds {
		if d.Province == national {
			return fmt.Errorf("summary counter in province %q: %w", national, errKey)
		}
		all = append(all, d)
		d.Province = national
		all = append(all, d)
	}
	var k []byte
	for _, d := range summary.Fold(all) {
		var err error
		if k, err = summaryKey(k[:0], d); err != nil {
			return err
		}
		if err := wb.Merge(k, binary.LittleEndian.AppendUint64(nil, uint64(d.N)), nil); err != nil {
			return err
		}
	}
	return nil
}

// SummaryCounts implements summary.Counters: one short range a day, of the
// province's keys or of the national totals'.
func (s *Store) SummaryCounts(ctx context.Context, q summary.Query) ([]summary.Count, error) {
	if q.From > q.To {
		return nil, nil
	}
	want := q.Province
	switch {
	case want == "":
		want = national
	case want == national || len(want) > 255:
		return nil, nil
	}
	type k struct {
		day         bucket.Day
		metric, key string
	}
	sums := map[k]int64{}
	scan := func(lo, hi []byte) error {
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			day, province, metric, key, err := decodeSummaryKey(it.Key())
			if err != nil {
				return err
			}
			if province != want {
				continue
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if len(v) != 8 {
				return fmt.Errorf("summary counter of %d bytes: %w", len(v), errKey)
			}
			sums[k{day, metric, key}] += int64(binary.LittleEndian.Uint64(v))
		}
		return it.Error()
	}
	for d := q.From; d <= q.To; d++ {
		lo := append(dayPrefix(spaceSummary, d), byte(len(want)))
		lo = append(lo, want...)
		if err := scan(lo, prefixEnd(lo)); err != nil {
			return nil, err
		}
		if d == q.To { // d++ would wrap at the last day
			break
		}
	}
	out := make([]summary.Count, 0, len(sums))
	for key, n := range sums {
		out = append(out, summary.Count{Day: key.day, Metric: key.metric, Key: key.key, N: n})
	}
	return out, nil
}

// dropSummaryBefore deletes the counters of every day before cutoff (the
// counters of a day without data, such as one of rejections only, too).
func (s *Store) dropSummaryBefore(cutoff bucket.Day) error {
	if err := s.db.DeleteRange([]byte{spaceSummary}, dayPrefix(spaceSummary, cutoff), pebble.Sync); err != nil {
		return fmt.Errorf("drop summary counters before %s: %w", cutoff, err)
	}
	return nil
}

// prefixEnd is the least key greater than every key starting with p (nil:
// none, p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
