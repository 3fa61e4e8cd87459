package pebblestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/safety"
)

// The Safety Map's feedback queue, outside retention (transactional state,
// like the venue registry):
//
//	feedback  'q' id:8             → JSON safety.Feedback
//	open      'Q' venue:4 id:8     → (empty): the open reports, by venue
//
// Adding and resolving hold feedbackLock.mu (one process owns a data
// directory): read, then write one synced batch.
const (
	spaceFeedback     = 'q'
	spaceFeedbackOpen = 'Q'
)

var _ safety.FeedbackStore = (*Store)(nil)

// feedbackLock serialises changes to the feedback queue.
type feedbackLock struct{ mu sync.Mutex }

func feedbackKey(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte{spaceFeedback}, id) }

func openKey(venue uint32, id uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32([]byte{spaceFeedbackOpen}, venue), id)
}

// AddFeedback implements safety.FeedbackStore.
func (s *Store) AddFeedback(ctx context.Context, f safety.Feedback) (safety.Feedback, error) {
	s.feedback.mu.Lock()
	defer s.feedback.mu.Unlock()
	last, err := s.lastKey(ctx, spaceFeedback, 8)
	if err != nil {
		return f, err
	}
	f.ID, f.Status, f.ResolvedAt, f.ResolvedBy, f.Resolution = last+1, safety.StatusOpen, nil, "", ""
	b, err := json.Marshal(f)
	if err != nil {
		return f, err
	}
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	if err := wb.Set(feedbackKey(f.ID), b, nil); err != nil {
		return f, err
	}
	if err := wb.Set(openKey(f.VenueID, f.ID), nil, nil); err != nil {
		return f, err
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return f, fmt.Errorf("add feedback: %w", err)
	}
	return f, nil
}

func (s *Store) getFeedback(id uint64) (safety.Feedback, error) {
	var f safety.Feedback
	b, closer, err := s.db.Get(feedbackKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return f, fmt.Errorf("feedback %d: %w", id, safety.ErrFeedbackNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("read feedback %d: %w", id, err)
	}
	defer func() { _ = closer.Close() }()
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("feedback %d: %w", id, err)
	}
	return f, nil
}

// ListFeedback implements safety.FeedbackStore.
func (s *Store) ListFeedback(ctx context.Context, ff safety.FeedbackFilter) ([]safety.Feedback, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: feedbackKey(ff.After + 1), UpperBound: []byte{spaceFeedback + 1}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	if ff.After == ^uint64(0) {
		return nil, nil
	}
	var out []safety.Feedback
	for ok := it.First(); ok && (ff.Limit <= 0 || len(out) < ff.Limit); ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read feedback: %w", err)
		}
		var f safety.Feedback
		if err := json.Unmarshal(v, &f); err != nil {
			return nil, fmt.Errorf("feedback %x: %w", it.Key(), err)
		}
		if ff.Match(f) {
			out = append(out, f)
		}
	}
	return out, it.Error()
}

// ResolveFeedback implements safety.FeedbackStore.
func (s *Store) ResolveFeedback(_ context.Context, id uint64, by, note string, at time.Time) (safety.Feedback, error) {
	s.feedback.mu.Lock()
	defer s.feedback.mu.Unlock()
	f, err := s.getFeedback(id)
	if err != nil {
		return f, err
	}
	if f.Status == safety.StatusResolved {
		return f, fmt.Errorf("feedback %d: %w", id, safety.ErrAlreadyResolved)
	}
	at = at.UTC()
	f.Status, f.ResolvedAt, f.ResolvedBy, f.Resolution = safety.StatusResolved, &at, by, note
	b, err := json.Marshal(f)
	if err != nil {
		return f, err
	}
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	if err := wb.Set(feedbackKey(id), b, nil); err != nil {
		return f, err
	}
	if err := wb.Delete(openKey(f.VenueID, id), nil); err != nil {
		return f, err
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return f, fmt.Errorf("resolve feedback %d: %w", id, err)
	}
	return f, nil
}

// OpenFeedback implements safety.FeedbackStore: one scan of the open index.
func (s *Store) OpenFeedback(ctx context.Context) (map[uint32]int, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{spaceFeedbackOpen}, UpperBound: []byte{spaceFeedbackOpen + 1}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	out := map[uint32]int{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 13 {
			return nil, fmt.Errorf("open feedback key %x: %w", k, errKey)
		}
		out[binary.BigEndian.Uint32(k[1:])]++
	}
	return out, it.Error()
}
