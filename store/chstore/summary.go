package chstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/summary"
)

var _ summary.Counters = (*Store)(nil)

// AddCounts implements summary.Counters: one insert of the folded deltas
// into the summary table (migration 0007).
func (s *Store) AddCounts(ctx context.Context, ds []summary.Delta) error {
	ds = summary.Fold(ds)
	if len(ds) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".summary (day, province, metric, key, n)")
	if err != nil {
		s.m.errors.WithLabelValues("summary").Inc()
		return unavailable("add summary counters", err)
	}
	defer func() { _ = batch.Abort() }()
	for _, d := range ds {
		if err := batch.Append(uint32(d.Day), d.Province, d.Metric, d.Key, d.N); err != nil {
			return err
		}
	}
	if err := batch.Send(); err != nil {
		s.m.errors.WithLabelValues("summary").Inc()
		return unavailable(fmt.Sprintf("add %d summary counters", len(ds)), err)
	}
	return nil
}

// SummaryCounts implements summary.Counters: sums over the days (and the
// province), which the primary key's prefix narrows.
func (s *Store) SummaryCounts(ctx context.Context, q summary.Query) ([]summary.Count, error) {
	query := "SELECT day, metric, key, sum(n) FROM " + s.db + ".summary WHERE day >= ? AND day <= ?"
	args := []any{uint32(q.From), uint32(q.To)}
	if q.Province != "" {
		query += " AND province = ?"
		args = append(args, q.Province)
	}
	rows, err := s.conn.Query(ctx, query+" GROUP BY day, metric, key", args...)
	if err != nil {
		s.m.errors.WithLabelValues("summary").Inc()
		return nil, unavailable("read summary counters", err)
	}
	defer func() { _ = rows.Close() }()
	var out []summary.Count
	for rows.Next() {
		var (
			day         uint32
			metric, key string
			n           int64
		)
		if err := rows.Scan(&day, &metric, &key, &n); err != nil {
			return nil, err
		}
		out = append(out, summary.Count{Day: bucket.Day(day), Metric: metric, Key: key, N: n})
	}
	return out, rows.Err()
}

// dropSummaryBefore drops the summary's day partitions before cutoff, the
// days without data (say, of rejections only) too.
func (s *Store) dropSummaryBefore(ctx context.Context, cutoff bucket.Day) error {
	parts := "system.parts"
	if s.cluster != "" {
		parts = "cluster('" + s.cluster + "', system.parts)" // a replica of each shard
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM "+parts+" WHERE database = ? AND table = ? AND active", s.db, s.table("summary"))
	if err != nil {
		return unavailable("list summary partitions", err)
	}
	var old []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			_ = rows.Close()
			return err
		}
		if d, err := strconv.ParseUint(p, 10, 32); err == nil && bucket.Day(d) < cutoff {
			old = append(old, p)
		}
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sts := make([]string, len(old))
	for i, p := range old {
		sts[i] = "ALTER TABLE " + s.db + "." + s.table("summary") + " DROP PARTITION " + p
	}
	if err := s.onEachShard(ctx, sts); err != nil {
		s.m.errors.WithLabelValues("drop_partition").Inc()
		return fmt.Errorf("drop summary days %v: %w", old, err)
	}
	return nil
}
