package pebblestore

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/retention"
)

// DropBefore deletes every local day before cutoff, whole, and returns the
// days it dropped.
func (s *Store) DropBefore(ctx context.Context, cutoff bucket.Day) ([]bucket.Day, error) {
	days, err := s.days(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.dropSummaryBefore(cutoff); err != nil {
		return nil, err
	}
	return retention.DropEach(ctx, days, cutoff, s.dropDay)
}

// dropDay deletes one day's keys in one synced batch.
func (s *Store) dropDay(_ context.Context, d bucket.Day) error {
	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	for _, space := range []byte{spaceStay, spaceVisitor, spaceContact, spaceBitmap, spaceDecl, spaceDeclCount, spaceAssessment} {
		if err := wb.DeleteRange(dayPrefix(space, d), dayPrefix(space, d+1), nil); err != nil {
			return err
		}
	}
	if err := wb.Delete(dayPrefix(spaceDay, d), nil); err != nil {
		return err
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("drop day %s: %w", d, err)
	}
	return nil
}

// RunRetention drops days older than keep every interval until ctx ends.
func (s *Store) RunRetention(ctx context.Context, keep, interval time.Duration, now func() time.Time) {
	retention.Run(ctx, s, keep, interval, now, s.log, s.ret)
}
