package pebblestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/venue"
)

// The venue registry's key spaces, outside retention:
//
//	venues         'V' venue:4  → JSON storedVenue
//	registrations  'W' seq:8    → venue:4
//
// Register holds venueLock.mu: it reads the greatest id and Seq, then writes.
const (
	spaceVenue        = 'V'
	spaceRegistration = 'W'
)

var _ venue.Registry = (*Store)(nil)

// venueLock serialises registrations (one process owns a data directory).
type venueLock struct{ mu sync.Mutex }

// storedVenue is a venue as the registry keeps it.
type storedVenue struct {
	venue.Spec
	Seq uint64 `json:"seq"`
}

func venueKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{spaceVenue}, id)
}

func registrationKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{spaceRegistration}, seq)
}

// Register implements venue.Registry.
func (s *Store) Register(ctx context.Context, specs []venue.Spec) ([]venue.Venue, error) {
	s.venues.mu.Lock()
	defer s.venues.mu.Unlock()
	maxID, err := s.lastKey(ctx, spaceVenue, 4)
	if err != nil {
		return nil, err
	}
	seq, err := s.lastKey(ctx, spaceRegistration, 8)
	if err != nil {
		return nil, err
	}
	answer, fresh, err := venue.Plan(specs, uint32(maxID), seq, func(id uint32) (venue.Venue, bool, error) {
		v, err := s.Venue(ctx, id)
		if errors.Is(err, venue.ErrNotFound) {
			return v, false, nil
		}
		return v, err == nil, err
	})
	if err != nil || len(fresh) == 0 {
		return answer, err
	}
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	for _, v := range fresh {
		b, err := json.Marshal(storedVenue{Spec: v.Spec, Seq: v.Seq})
		if err != nil {
			return nil, err
		}
		if err := wb.Set(venueKey(v.ID), b, nil); err != nil {
			return nil, err
		}
		if err := wb.Set(registrationKey(v.Seq), binary.BigEndian.AppendUint32(nil, v.ID), nil); err != nil {
			return nil, err
		}
	}
	if err := wb.Commit(s.wo); err != nil {
		return nil, fmt.Errorf("register %d venues: %w", len(fresh), err)
	}
	return answer, nil
}

// lastKey returns the big-endian integer of the n bytes after the space byte
// of the space's last key, or 0 when the space is empty.
func (s *Store) lastKey(ctx context.Context, space byte, n int) (uint64, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{space}, UpperBound: []byte{space + 1}})
	if err != nil {
		return 0, err
	}
	defer func() { _ = it.Close() }()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 1+n {
		return 0, fmt.Errorf("registry key %x: %w", k, errKey)
	}
	if n == 4 {
		return uint64(binary.BigEndian.Uint32(k[1:])), nil
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// Venue implements venue.Registry.
func (s *Store) Venue(_ context.Context, id uint32) (venue.Venue, error) {
	b, closer, err := s.db.Get(venueKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return venue.Venue{}, fmt.Errorf("venue %d: %w", id, venue.ErrNotFound)
	}
	if err != nil {
		return venue.Venue{}, fmt.Errorf("read venue %d: %w", id, err)
	}
	defer func() { _ = closer.Close() }()
	return decodeVenue(b)
}

func decodeVenue(b []byte) (venue.Venue, error) {
	var sv storedVenue
	if err := json.Unmarshal(b, &sv); err != nil {
		return venue.Venue{}, fmt.Errorf("stored venue: %w", err)
	}
	return venue.Venue{Spec: sv.Spec, Seq: sv.Seq}, nil
}

// Venues implements venue.Registry.
func (s *Store) Venues(ctx context.Context, f venue.Filter) iter.Seq2[venue.Venue, error] {
	return func(yield func(venue.Venue, error) bool) {
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceVenue}, UpperBound: []byte{spaceVenue + 1}})
		if err != nil {
			yield(venue.Venue{}, err)
			return
		}
		defer func() { _ = it.Close() }()
		for ok := it.First(); ok; ok = it.Next() {
			if err := ctx.Err(); err != nil {
				yield(venue.Venue{}, err)
				return
			}
			v, err := decodeVenue(it.Value())
			if err != nil {
				yield(v, err)
				return
			}
			if f.Match(v) && !yield(v, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(venue.Venue{}, err)
		}
	}
}

// Since implements venue.Registry.
func (s *Store) Since(ctx context.Context, seq uint64, limit int) ([]venue.Venue, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: registrationKey(seq + 1), UpperBound: []byte{spaceRegistration + 1}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var out []venue.Venue
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		if len(it.Value()) != 4 {
			return nil, fmt.Errorf("registration %x: %w", it.Key(), errKey)
		}
		v, err := s.Venue(ctx, binary.BigEndian.Uint32(it.Value()))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, it.Error()
}
