package pebblestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/event"
)

// Assessments (the Safety Map's daily self-checks):
//
//	assessments 'k' day:4 venue:4 submitted_at:8 idlen:1 assessment_id → the record (wire format, one record)
//
// Every assessment filed is kept (a venue's history); the one that counts
// for a (venue, day) is the last of its prefix. A replay writes the same
// key and value again. 'K' is reserved for the Safety Map as well.
const spaceAssessment = 'k'

var _ safety.AssessmentStore = (*Store)(nil)

func appendAssessmentKey(dst []byte, a *event.Assessment) []byte {
	dst = userPrefix(dst, spaceAssessment, bucket.Day(a.Day), a.VenueID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.SubmittedAt)) //nolint:gosec // validated positive
	dst = append(dst, byte(len(a.AssessmentID)))
	return append(dst, a.AssessmentID...)
}

// writeAssessments adds as to wb and their days to days.
func writeAssessments(wb *pebble.Batch, as []event.Assessment, days map[bucket.Day]struct{}) error {
	var key, val []byte
	for i := range as {
		a := &as[i]
		days[bucket.Day(a.Day)] = struct{}{}
		key = appendAssessmentKey(key[:0], a)
		val = event.AppendAssessmentsWire(val[:0], as[i:i+1])
		if err := wb.Set(key, val, nil); err != nil {
			return err
		}
	}
	addCounter(wb, "assessments", len(as))
	return nil
}

// DayAssessments implements safety.AssessmentStore.
func (s *Store) DayAssessments(ctx context.Context, d bucket.Day) ([]event.Assessment, error) {
	return s.scanAssessments(ctx, dayPrefix(spaceAssessment, d), dayPrefix(spaceAssessment, d+1))
}

// VenueAssessments implements safety.AssessmentStore: one seek per day.
func (s *Store) VenueAssessments(ctx context.Context, venue uint32, from, to bucket.Day) ([]event.Assessment, error) {
	var out []event.Assessment
	for d := from; d <= to && d >= from; d++ {
		lo, hi := venueDayRange(venue, d)
		as, err := s.scanAssessments(ctx, lo, hi)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

var _ safety.PriorReader = (*Store)(nil)

// VenueDayAssessments implements safety.PriorReader: one iterator, one
// seek per (venue, day), in key order.
func (s *Store) VenueDayAssessments(ctx context.Context, keys []safety.VenueDay) ([]event.Assessment, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b safety.VenueDay) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Venue, b.Venue))
	})
	keys = slices.Compact(keys)
	lo, _ := venueDayRange(keys[0].Venue, keys[0].Day)
	_, hi := venueDayRange(keys[len(keys)-1].Venue, keys[len(keys)-1].Day)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var b event.Batch
	for _, k := range keys {
		lo, hi := venueDayRange(k.Venue, k.Day)
		for ok := it.SeekGE(lo); ok && bytes.Compare(it.Key(), hi) < 0; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, fmt.Errorf("read assessment: %w", err)
			}
			if err := event.DecodeWire(v, &b); err != nil {
				return nil, fmt.Errorf("assessment %x: %w", it.Key(), err)
			}
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("scan assessments: %w", err)
		}
	}
	return safety.Order(b.Assessments), nil
}

// venueDayRange bounds the keys of venue's assessments of day d.
func venueDayRange(venue uint32, d bucket.Day) (lo, hi []byte) {
	lo = userPrefix(nil, spaceAssessment, d, venue)
	hi = userPrefix(nil, spaceAssessment, d, venue+1)
	if venue == ^uint32(0) {
		hi = dayPrefix(spaceAssessment, d+1)
	}
	return lo, hi
}

func (s *Store) scanAssessments(ctx context.Context, lo, hi []byte) ([]event.Assessment, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var b event.Batch
	for ok := it.First(); ok; ok = it.Next() {
		if !bytes.HasPrefix(it.Key(), []byte{spaceAssessment}) {
			return nil, fmt.Errorf("assessment key %x: %w", it.Key(), errKey)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read assessment: %w", err)
		}
		if err := event.DecodeWire(v, &b); err != nil {
			return nil, fmt.Errorf("assessment %x: %w", it.Key(), err)
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("scan assessments: %w", err)
	}
	return b.Assessments, nil
}
