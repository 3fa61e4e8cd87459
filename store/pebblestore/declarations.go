package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Declaration keys (see keys.go):
//
//	declarations 'h' day:4 0x01 subject:4 declared_at:8 idlen:1 declaration_id → the record (wire format)
//	trips        'h' day:4 0x02 vlen:1 vehicle subject:4 depart:8 arrive:8       → (empty)
//	own trips    'h' day:4 0x03 subject:4 vlen:1 vehicle depart:8 arrive:8       → (empty)
//	counts       'H' day:4 province:2 kind:1 symptomatic:1                      → int64 (merge: add)
//
// A declaration's day is that of declared_at, a trip's that of depart. A
// count is added only for a declaration key the store did not hold, so a
// resend counts once.
const (
	declRecord  = 0x01
	declTrip    = 0x02
	declOwnTrip = 0x03
)

var (
	_ declapi.Store   = (*Store)(nil)
	_ graph.TripStore = (*Store)(nil)
)

func appendDeclKey(dst []byte, d *event.Declaration) []byte {
	dst = append(dst[:0], spaceDecl)
	dst = binary.BigEndian.AppendUint32(dst, uint32(bucket.DayOf(d.DeclaredAt)))
	dst = append(dst, declRecord)
	dst = binary.BigEndian.AppendUint32(dst, d.SubjectID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(d.DeclaredAt))
	dst = append(dst, byte(len(d.DeclarationID)))
	return append(dst, d.DeclarationID...)
}

func appendTripKey(dst []byte, d *event.Declaration) []byte {
	t := &d.Travel
	dst = append(dst[:0], spaceDecl)
	dst = binary.BigEndian.AppendUint32(dst, uint32(bucket.DayOf(t.Depart)))
	dst = append(dst, declTrip, byte(len(t.Vehicle)))
	dst = append(dst, t.Vehicle...)
	dst = binary.BigEndian.AppendUint32(dst, d.SubjectID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Depart))
	return binary.BigEndian.AppendUint64(dst, uint64(t.Arrive))
}

func appendOwnTripKey(dst []byte, d *event.Declaration) []byte {
	t := &d.Travel
	dst = append(dst[:0], spaceDecl)
	dst = binary.BigEndian.AppendUint32(dst, uint32(bucket.DayOf(t.Depart)))
	dst = append(dst, declOwnTrip)
	dst = binary.BigEndian.AppendUint32(dst, d.SubjectID)
	dst = append(dst, byte(len(t.Vehicle)))
	dst = append(dst, t.Vehicle...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Depart))
	return binary.BigEndian.AppendUint64(dst, uint64(t.Arrive))
}

func appendDeclCountKey(dst []byte, day bucket.Day, province string, kind event.DeclKind, symptomatic bool) []byte {
	dst = append(dst[:0], spaceDeclCount)
	dst = binary.BigEndian.AppendUint32(dst, uint32(day))
	var p [2]byte
	copy(p[:], province)
	dst = append(dst, p[0], p[1], byte(kind))
	if symptomatic {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// writeDeclarations adds ds to wb: each record, its trip, and a count for
// each declaration neither the store nor the batch held before. The caller
// holds declMu until wb is committed.
func (s *Store) writeDeclarations(wb *pebble.Batch, ds []event.Declaration, days map[bucket.Day]struct{}) error {
	var key []byte
	fresh := map[string]struct{}{}
	counts := map[string]int{}
	for i := range ds {
		d := &ds[i]
		key = appendDeclKey(key, d)
		days[bucket.DayOf(d.DeclaredAt)] = struct{}{}
		if _, inBatch := fresh[string(key)]; !inBatch {
			_, closer, err := s.db.Get(key)
			switch {
			case err == nil:
				_ = closer.Close() // held already: not counted again
			case !errors.Is(err, pebble.ErrNotFound):
				return fmt.Errorf("read declaration: %w", err)
			default:
				fresh[string(key)] = struct{}{}
				ck := appendDeclCountKey(nil, bucket.DayOf(d.DeclaredAt), d.Province, d.Kind, d.Symptomatic())
				counts[string(ck)]++
			}
		}
		if err := wb.Set(key, event.AppendDeclarationsWire(nil, ds[i:i+1]), nil); err != nil {
			return err
		}
		if d.HasTravel && d.Travel.Vehicle != "" {
			days[bucket.DayOf(d.Travel.Depart)] = struct{}{}
			if err := wb.Set(appendTripKey(key, d), nil, nil); err != nil {
				return err
			}
			if err := wb.Set(appendOwnTripKey(key, d), nil, nil); err != nil {
				return err
			}
		}
	}
	for k, n := range counts {
		if err := wb.Merge([]byte(k), binary.LittleEndian.AppendUint64(nil, uint64(n)), nil); err != nil {
			return err
		}
	}
	addCounter(wb, "declarations", len(ds))
	return nil
}

// Declarations implements declapi.Store.
func (s *Store) Declarations(ctx context.Context, subjects []uint32, from, to int64) ([]event.Declaration, error) {
	if from > to || len(subjects) == 0 {
		return nil, nil
	}
	subjects = slices.Clone(subjects)
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	var out []event.Declaration
	var batch event.Batch
	prefix := make([]byte, 0, 10)
	for d := bucket.DayOf(from); d <= bucket.DayOf(to); d++ {
		lo := append(dayPrefix(spaceDecl, d), declRecord)
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: append(dayPrefix(spaceDecl, d), declRecord+1)})
		if err != nil {
			return nil, err
		}
		// A merge of the day's keys with the sorted subjects: the next
		// key while it is close, a seek past a gap.
		ok, si, skipped := it.First(), 0, 0
		for ok && si < len(subjects) {
			k := it.Key()
			if len(k) < len(lo)+4+8+1 {
				_ = it.Close()
				return nil, fmt.Errorf("declaration key of %d bytes: %w", len(k), errKey)
			}
			switch subj := binary.BigEndian.Uint32(k[len(lo):]); {
			case subj < subjects[si] && skipped < 8:
				ok, skipped = it.Next(), skipped+1
			case subj < subjects[si]:
				prefix = binary.BigEndian.AppendUint32(append(prefix[:0], lo...), subjects[si])
				ok, skipped = it.SeekGE(prefix), 0
			case subj > subjects[si]:
				si += sort.Search(len(subjects)-si, func(j int) bool { return subjects[si+j] >= subj })
			default:
				if at := int64(binary.BigEndian.Uint64(k[len(lo)+4:])); at >= from && at <= to {
					batch.Declarations = batch.Declarations[:0]
					if err := event.DecodeWire(it.Value(), &batch); err != nil || len(batch.Declarations) != 1 {
						_ = it.Close()
						return nil, fmt.Errorf("declaration of subject %d: %w", subj, errors.Join(err, errKey))
					}
					out = append(out, batch.Declarations[0])
				}
				ok, skipped = it.Next(), 0
			}
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, compareDeclarations)
	return out, nil
}

func compareDeclarations(a, b event.Declaration) int {
	switch {
	case a.SubjectID != b.SubjectID:
		return int(int64(a.SubjectID) - int64(b.SubjectID))
	case a.DeclaredAt < b.DeclaredAt:
		return -1
	case a.DeclaredAt > b.DeclaredAt:
		return 1
	case a.DeclarationID < b.DeclarationID:
		return -1
	case a.DeclarationID > b.DeclarationID:
		return 1
	}
	return 0
}

// DeclarationCounts implements declapi.Store: it reads the counters of the
// days asked, a few hundred keys a day at most.
func (s *Store) DeclarationCounts(ctx context.Context, provinces []string, from, to bucket.Day) ([]declapi.Count, error) {
	if from > to {
		return nil, nil
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: dayPrefix(spaceDeclCount, from), UpperBound: dayPrefix(spaceDeclCount, to+1)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var out []declapi.Count
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 9 || len(v) != 8 {
			return nil, fmt.Errorf("declaration count key of %d bytes: %w", len(k), errKey)
		}
		p := string(k[5:7])
		if provinces != nil && !slices.Contains(provinces, p) {
			continue
		}
		out = append(out, declapi.Count{Day: bucket.Day(binary.BigEndian.Uint32(k[1:])), Province: p,
			Kind: event.DeclKind(k[7]), Symptomatic: k[8] == 1, N: int64(binary.LittleEndian.Uint64(v))})
	}
	return out, it.Error()
}

// UserTrips implements graph.TripStore from the trips by subject.
func (s *Store) UserTrips(ctx context.Context, users []uint32, w graph.Window) ([]graph.Trip, error) {
	var out []graph.Trip
	maxTrip := int64(event.MaxTrip / time.Second)
	for d := bucket.DayOf(w.From - maxTrip); d <= bucket.DayOf(w.To); d++ {
		lo := append(dayPrefix(spaceDecl, d), declOwnTrip)
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: append(dayPrefix(spaceDecl, d), declOwnTrip+1)})
		if err != nil {
			return nil, err
		}
		var prefix []byte
		for _, u := range users {
			prefix = binary.BigEndian.AppendUint32(append(prefix[:0], lo...), u)
			for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
				k := it.Key()[len(prefix):]
				if len(k) < 1 || len(k) != 1+int(k[0])+16 {
					_ = it.Close()
					return nil, fmt.Errorf("trip key of %d bytes: %w", len(it.Key()), errKey)
				}
				vl := int(k[0])
				t := graph.Trip{Subject: u, Vehicle: string(k[1 : 1+vl]), Day: d, Interval: graph.Interval{
					Start: int64(binary.BigEndian.Uint64(k[1+vl:])), End: int64(binary.BigEndian.Uint64(k[9+vl:]))}}
				if t.End > w.From && t.Start < w.To {
					out = append(out, t)
				}
			}
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VehicleTrips implements graph.TripStore from the trips by vehicle.
func (s *Store) VehicleTrips(ctx context.Context, vehicles []graph.VehicleDay) ([]graph.Trip, error) {
	var out []graph.Trip
	for _, vd := range vehicles {
		if len(vd.Vehicle) > 255 {
			continue
		}
		prefix := append(dayPrefix(spaceDecl, vd.Day), declTrip, byte(len(vd.Vehicle)))
		prefix = append(prefix, vd.Vehicle...)
		upper := append(slices.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff)
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()[len(prefix):]
			if len(k) != 20 {
				_ = it.Close()
				return nil, fmt.Errorf("vehicle trip key of %d bytes: %w", len(it.Key()), errKey)
			}
			out = append(out, graph.Trip{Subject: binary.BigEndian.Uint32(k), Vehicle: vd.Vehicle, Day: vd.Day, Interval: graph.Interval{
				Start: int64(binary.BigEndian.Uint64(k[4:])), End: int64(binary.BigEndian.Uint64(k[12:]))}})
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
