package chstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/store/retention"
)

// sortDays sorts and deduplicates days.
func sortDays(days []bucket.Day) []bucket.Day {
	slices.Sort(days)
	return slices.Compact(days)
}

// DropBefore drops every day partition before cutoff from every data table,
// and returns the days it dropped.
func (s *Store) DropBefore(ctx context.Context, cutoff bucket.Day) ([]bucket.Day, error) {
	days, err := s.Days(ctx)
	if err != nil {
		return nil, err
	}
	var dropped []bucket.Day
	for _, d := range days {
		if d >= cutoff {
			break
		}
		for _, table := range []string{"stays", "visitors", "contacts", "bitmaps"} {
			if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", s.db, table, uint32(d))); err != nil {
				s.m.errors.WithLabelValues("drop_partition").Inc()
				return dropped, fmt.Errorf("drop day %s from %s: %w", d, table, err)
			}
		}
		dropped = append(dropped, d)
	}
	return dropped, nil
}

// RunRetention drops days older than keep every interval until ctx ends.
func (s *Store) RunRetention(ctx context.Context, keep, interval time.Duration, now func() time.Time) {
	retention.Run(ctx, s, keep, interval, now, s.log, s.m.ret)
}

// Audit implements audit.Trail.
func (s *Store) Audit(ctx context.Context, e audit.Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := s.insertRow(ctx, "audit", "time, entry", e.Time.UnixNano(), string(val)); err != nil {
		s.m.errors.WithLabelValues("audit").Inc()
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// RecentAudit implements audit.Trail: the newest entries first.
func (s *Store) RecentAudit(ctx context.Context, limit int) ([]audit.Entry, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT entry FROM %s.audit ORDER BY time DESC LIMIT %d", s.db, limit))
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []audit.Entry
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var e audit.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("audit entry: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
