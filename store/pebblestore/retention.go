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
	var dropped []bucket.Day
	for _, d := range days {
		if d >= cutoff {
			break
		}
		wb := s.db.NewBatch()
		for _, space := range []byte{spaceStay, spaceVisitor, spaceContact, spaceBitmap} {
			if err := wb.DeleteRange(dayPrefix(space, d), dayPrefix(space, d+1), nil); err != nil {
				wb.Close()
				return dropped, err
			}
		}
		if err := wb.Delete(dayPrefix(spaceDay, d), nil); err != nil {
			wb.Close()
			return dropped, err
		}
		err := wb.Commit(pebble.Sync)
		wb.Close()
		if err != nil {
			return dropped, fmt.Errorf("drop day %s: %w", d, err)
		}
		dropped = append(dropped, d)
	}
	return dropped, nil
}

// RunRetention drops days older than keep every interval until ctx ends.
func (s *Store) RunRetention(ctx context.Context, keep, interval time.Duration, now func() time.Time) {
	retention.Run(ctx, s, keep, interval, now, s.log, s.ret)
}
