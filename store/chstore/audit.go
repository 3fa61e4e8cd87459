package chstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/truyvet/truyvet/query/audit"
)

// Audit implements audit.Trail.
func (s *Store) Audit(ctx context.Context, e audit.Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := s.insertRow(ctx, "audit", "time, entry", e.Time.UnixNano(), string(val)); err != nil {
		s.m.errors.WithLabelValues("audit").Inc()
		return unavailable("write audit entry", err)
	}
	return nil
}

// RecentAudit implements audit.Trail: the newest entries first.
func (s *Store) RecentAudit(ctx context.Context, limit int) ([]audit.Entry, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT entry FROM %s.audit ORDER BY time DESC LIMIT %d", s.db, limit))
	if err != nil {
		return nil, unavailable("read audit", err)
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
