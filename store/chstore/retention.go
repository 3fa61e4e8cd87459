package chstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/retention"
)

// DropBefore drops every day partition before cutoff from every data table,
// and every week of the weekly tables that begins before it (weekly.go),
// and returns the days it dropped.
func (s *Store) DropBefore(ctx context.Context, cutoff bucket.Day) ([]bucket.Day, error) {
	if err := s.dropWeeksBefore(ctx, cutoff); err != nil {
		return nil, err
	}
	days, err := s.Days(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.dropSummaryBefore(ctx, cutoff); err != nil {
		return nil, err
	}
	return retention.DropEach(ctx, days, cutoff, s.dropDay)
}

func (s *Store) dropDay(ctx context.Context, d bucket.Day) error {
	tables := []string{"stays", "visitors", "contacts", "bitmaps", "declarations", "declaration_trips", "declaration_counts", "assessments"}
	sts := make([]string, len(tables))
	for i, table := range tables {
		sts[i] = fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", s.db, s.table(table), uint32(d))
	}
	if err := s.onEachShard(ctx, sts); err != nil {
		s.m.errors.WithLabelValues("drop_partition").Inc()
		return fmt.Errorf("drop day %s: %w", d, err)
	}
	return nil
}

// RunRetention drops days older than keep every interval until ctx ends,
// and beside it merges each settled day into one part per table
// (RunCompaction, compact.go).
func (s *Store) RunRetention(ctx context.Context, keep, interval time.Duration, now func() time.Time) {
	var wg sync.WaitGroup
	wg.Go(func() { s.RunCompaction(ctx, interval, now) })
	retention.Run(ctx, s, keep, interval, now, s.log, s.m.ret)
	wg.Wait()
}
