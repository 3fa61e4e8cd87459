package chstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
)

// A person's records by week. Every read by person (a case's stays and
// encounters, the F1 members' for F2) costs a granule range in every part
// it touches; the day tables put a 14-day window in 15 partitions. The
// weekly tables (migration 8: stays_weekly, contacts_weekly, filled by
// materialised views from every insert into stays and contacts) hold the
// same records with the columns those reads use, partitioned by week,
// intDiv(day, 7): the window is 3 partitions. Retention drops a weekly
// partition as soon as its first day is past the cutoff, so these tables
// never keep a record the day tables have dropped, and readers take the days
// of weeks that may be gone from the day tables instead (weeklyFrom).

// daysPerWeek is the weekly tables' partition: days 7w to 7w + 6 are week w.
const daysPerWeek = 7

// weeklyTables are the weekly copies of the day tables, by day table.
var weeklyTables = map[string]string{"stays": "stays_weekly", "contacts": "contacts_weekly"}

func weekOf(d bucket.Day) uint32 { return uint32(d) / daysPerWeek }

func firstDayOf(w uint32) bucket.Day { return bucket.Day(w * daysPerWeek) }

// weeklyState is what a store knows of the weekly tables' contents.
type weeklyState struct {
	retention time.Duration
	now       func() time.Time
	cutoff    atomic.Uint32 // the latest retention cutoff this store applied

	mu     sync.Mutex
	merged map[string]bucket.Day // server/table/week: the before of its last merge
}

func newWeeklyState(retention time.Duration, now func() time.Time) weeklyState {
	if now == nil {
		now = time.Now
	}
	return weeklyState{retention: retention, now: now, merged: map[string]bucket.Day{}}
}

// weeklyFrom is the first day read from the weekly tables: the first day
// of the first week whose first day is after the retention cutoff (one day
// of margin for a retention pass on a clock a little ahead of ours) and not
// before the last cutoff this store applied itself. Retention drops the
// weeks before it; days before it come from the day tables.
func (s *Store) weeklyFrom() bucket.Day {
	w := &s.weekly
	from := bucket.Day(w.cutoff.Load())
	if w.retention > 0 {
		from = max(from, bucket.DayOf(w.now().Add(-w.retention).Unix())+1)
	}
	return firstDayOf(weekOf(from + daysPerWeek - 1))
}

// personSource is one table a person's read over some days consults, with
// the condition that picks those days.
type personSource struct {
	table string // db.table
	days  string // a condition on day
}

// personSources splits days (ascending) between table and its weekly copy:
// at most two sources, the day table's first.
func (s *Store) personSources(table string, days []bucket.Day) []personSource {
	from := s.weeklyFrom()
	i := 0
	for i < len(days) && days[i] < from {
		i++
	}
	var out []personSource
	if i > 0 {
		out = append(out, personSource{table: s.db + "." + table, days: "day IN (" + idList(days[:i]) + ")"})
	}
	if i < len(days) {
		out = append(out, personSource{table: s.db + "." + weeklyTables[table], days: "day IN (" + idList(days[i:]) + ")"})
	}
	return out
}

// dropWeeksBefore drops, on each shard, every partition of the weekly
// tables whose week begins before cutoff. It records cutoff first, so that
// this store's reads take those weeks' days from the day tables before the
// partitions go.
func (s *Store) dropWeeksBefore(ctx context.Context, cutoff bucket.Day) error {
	for {
		old := s.weekly.cutoff.Load()
		if uint32(cutoff) <= old || s.weekly.cutoff.CompareAndSwap(old, uint32(cutoff)) {
			break
		}
	}
	weeks, err := s.weeklyPartitions(ctx)
	if err != nil {
		return err
	}
	var sts []string
	for table, ws := range weeks {
		for _, w := range ws {
			if firstDayOf(w) < cutoff {
				sts = append(sts, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", s.db, s.table(table), w))
			}
		}
	}
	if err := s.onEachShard(ctx, sts); err != nil {
		s.m.errors.WithLabelValues("drop_partition").Inc()
		return fmt.Errorf("drop weeks before %s: %w", cutoff, err)
	}
	return nil
}

// weeklyPartitions lists the weeks each weekly table holds (on any shard).
func (s *Store) weeklyPartitions(ctx context.Context) (map[string][]uint32, error) {
	parts := "system.parts"
	if s.cluster != "" {
		parts = "cluster('" + s.cluster + "', system.parts)"
	}
	names := make([]string, 0, len(weeklyTables))
	byLocal := map[string]string{}
	for _, t := range weeklyTables {
		names = append(names, "'"+s.table(t)+"'")
		byLocal[s.table(t)] = t
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT table, partition FROM "+parts+" WHERE database = ? AND table IN ("+strings.Join(names, ",")+") AND active", s.db)
	if err != nil {
		return nil, unavailable("list weekly partitions", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string][]uint32{}
	for rows.Next() {
		var table, p string
		if err := rows.Scan(&table, &p); err != nil {
			return nil, err
		}
		w, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("partition %q of %s is not a week: %w", p, table, err)
		}
		out[byLocal[table]] = append(out[byLocal[table]], uint32(w))
	}
	return out, rows.Err()
}

// mergeWeekDue reports whether a weekly partition with several parts on
// server should be merged now that the days before before have settled: at
// most once a day (when before moves on), and only once a day of it has
// settled. The current week grows all week, and late records reach the
// weeks before it: merging them at every pass would rewrite a week's
// records every interval.
func (s *Store) mergeWeekDue(server, table string, w uint32, before bucket.Day) bool {
	if firstDayOf(w) >= before {
		return false
	}
	s.weekly.mu.Lock()
	defer s.weekly.mu.Unlock()
	last, ok := s.weekly.merged[mergeKey(server, table, w)]
	return !ok || last < before
}

// weekMerged records that a weekly partition was merged at before.
func (s *Store) weekMerged(server, table string, w uint32, before bucket.Day) {
	s.weekly.mu.Lock()
	if s.weekly.merged == nil {
		s.weekly.merged = map[string]bucket.Day{}
	}
	s.weekly.merged[mergeKey(server, table, w)] = before
	s.weekly.mu.Unlock()
}

func mergeKey(server, table string, w uint32) string {
	return server + "/" + table + "/" + strconv.FormatUint(uint64(w), 10)
}
