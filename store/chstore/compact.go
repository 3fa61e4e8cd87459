package chstore

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas"
)

// Compaction. A day's records arrive in thousands of inserts; ClickHouse
// merges their parts in the background but leaves each day of tier M in ten
// or so parts of very different sizes. Every read by person (a case's stays
// and encounters, the F1 members' for F2) and by venue then costs a seek and
// a decompressed block per column in every part of every day of the window:
// over 14 days, 150 parts. Once a day has settled, Compact merges it into one
// part per table, which ReplacingMergeTree also rids of resent rows. Late
// records open a new part, and the next pass merges the day again.
//
// The block a read decompresses is the other half of the cost: with the
// server's default min_compress_block_size (64 KiB) a block holds 8 to 32
// granules of a column, so a read of one person's granule decompresses them
// all. The local servers (deploy/local/clickhouse*/users.xml) write blocks
// of 4 KiB, one granule of a numeric column; the store warns on Open when
// its server does not (checkBlockSize).

// compactTables are the day-partitioned tables Compact merges; it merges
// the weekly tables (weekly.go) too, a week at most once a day.
var compactTables = []string{"stays", "visitors", "contacts", "bitmaps", "declarations", "declaration_trips", "assessments"}

// Compaction settings: the defaults of RunRetention's compaction pass.
const (
	// CompactSettle is how long after a day ends its partitions are merged:
	// by then nearly all of its records have arrived.
	CompactSettle = 6 * time.Hour
	// CompactPerPass bounds the partitions one pass merges on each shard, so
	// that a pass after a bulk load or a long outage spreads its merges.
	CompactPerPass = 32
	// compactTimeout bounds one merge (a tier-M day of contacts, 50 M
	// rows, takes about 30 s on two cores).
	compactTimeout = 30 * time.Minute
)

// maxBlockSize is the largest min_compress_block_size the store does not
// warn about: a block of two granules of a 4-byte column.
const maxBlockSize = 8 << 10

// partition is a table's day partition (or a weekly table's week) with
// more than one active part.
type partition struct {
	table  string
	id     uint32 // the day, or the week
	weekly bool
	parts  int
}

func (p partition) String() string {
	if p.weekly {
		return fmt.Sprintf("week %d (from day %s) of %s", p.id, firstDayOf(p.id), p.table)
	}
	return fmt.Sprintf("day %s of %s", bucket.Day(p.id), p.table)
}

// Compact merges, on each shard, every partition of the days before before
// that holds more than one active part into a single part (OPTIMIZE TABLE …
// PARTITION … FINAL), at most perPass of them per shard, those in the most
// parts first, and logs each merge at debug level. It returns how many
// partitions it merged. Answers do not change: reads fold duplicates as they
// come.
func (s *Store) Compact(ctx context.Context, before bucket.Day, perPass int) (int, error) {
	merged := 0
	err := s.eachShard(ctx, compactTimeout, func(ctx context.Context, conn driver.Conn, where string) error {
		todo, err := s.fragmented(ctx, conn, where, before)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if len(todo) > perPass {
			todo = todo[:perPass]
		}
		for _, p := range todo {
			start := time.Now()
			q := fmt.Sprintf("OPTIMIZE TABLE %s.%s PARTITION %d FINAL", s.db, s.table(p.table), p.id)
			if err := conn.Exec(ctx, q); err != nil {
				s.m.errors.WithLabelValues("compact").Inc()
				return fmt.Errorf("%s: merge %s (%d parts): %w", where, p, p.parts, unavailable("optimize", err))
			}
			if p.weekly {
				s.weekMerged(where, p.table, p.id, before)
			}
			took := time.Since(start)
			s.m.compacted.WithLabelValues(p.table).Inc()
			s.m.compaction.Observe(took.Seconds())
			which := slog.Any("day", bucket.Day(p.id))
			if p.weekly {
				which = slog.Uint64("week", uint64(p.id))
			}
			s.log.LogAttrs(ctx, slog.LevelDebug, "merged a settled partition",
				slog.String("table", p.table), which, slog.Int("parts", p.parts),
				slog.String("server", where), slog.Duration("took", took))
			merged++
		}
		return nil
	})
	return merged, err
}

// fragmented lists the partitions of the days before before that have more
// than one active part on conn's server (where), and the weeks due a merge
// (mergeWeekDue), most parts first.
func (s *Store) fragmented(ctx context.Context, conn driver.Conn, where string, before bucket.Day) ([]partition, error) {
	tables := append(slices.Clone(compactTables), slices.Sorted(maps.Values(weeklyTables))...)
	names := make([]any, len(tables))
	in := make([]byte, 0, 3*len(tables))
	for i, t := range tables {
		names[i] = s.table(t)
		if i > 0 {
			in = append(in, ',')
		}
		in = append(in, '?')
	}
	rows, err := conn.Query(ctx, "SELECT table, partition, toUInt64(count()) AS n FROM system.parts WHERE database = ? AND table IN ("+string(in)+") AND active GROUP BY table, partition HAVING n > 1",
		append([]any{s.db}, names...)...)
	if err != nil {
		return nil, unavailable("list parts", err)
	}
	defer func() { _ = rows.Close() }()
	var out []partition
	for rows.Next() {
		var (
			table, part string
			n           uint64
		)
		if err := rows.Scan(&table, &part, &n); err != nil {
			return nil, err
		}
		id, err := strconv.ParseUint(part, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("partition %q of %s is not a number: %w", part, table, err)
		}
		p := partition{table: s.baseTable(table), id: uint32(id), parts: int(n)}
		p.weekly = slices.Contains(slices.Collect(maps.Values(weeklyTables)), p.table)
		if p.weekly && !s.mergeWeekDue(where, p.table, p.id, before) || !p.weekly && bucket.Day(p.id) >= before {
			continue
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b partition) int {
		return cmp.Or(cmp.Compare(b.parts, a.parts), cmp.Compare(a.id, b.id), cmp.Compare(a.table, b.table))
	})
	return out, nil
}

// baseTable is the name of a local table as compactTables spells it.
func (s *Store) baseTable(local string) string {
	if s.cluster == "" {
		return local
	}
	return strings.TrimSuffix(local, schemas.LocalSuffix)
}

// RunCompaction merges settled days (CompactSettle after they end) every
// interval until ctx ends, CompactPerPass partitions per shard a pass. A
// failed pass is logged and counted; the next one tries again.
func (s *Store) RunCompaction(ctx context.Context, interval time.Duration, now func() time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		before := bucket.DayOf(now().Add(-CompactSettle).Unix())
		n, err := s.Compact(ctx, before, CompactPerPass)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("compaction pass failed; the next pass tries again", "merged", n, "err", err)
		case n > 0:
			s.log.Info("compacted settled days", "partitions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// eachShard calls fn with a connection to the store's server, or, on a
// cluster, to the first live replica of each shard in turn (where names the
// server for errors); its reads may take up to timeout. A shard with no live
// replica fails with ErrClusterDDL.
func (s *Store) eachShard(ctx context.Context, timeout time.Duration, fn func(ctx context.Context, conn driver.Conn, where string) error) error {
	targets, err := s.shardTargets(ctx)
	if err != nil {
		return err
	}
	for _, addr := range targets {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Addr:         addr,
			Auth:         s.auth,
			DialTimeout:  s.dialTimeout,
			ReadTimeout:  max(timeout, s.readTimeout),
			MaxOpenConns: 1,
		})
		if err != nil {
			return unavailable(fmt.Sprintf("connect to %v", addr), err)
		}
		err = fn(ctx, conn, strings.Join(addr, ","))
		_ = conn.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// checkBlockSize warns when the server writes compressed blocks larger than
// maxBlockSize: reads by person and venue then decompress many granules for
// each one they need (see the top of this file). It is a warning, not an
// error: answers are the same, only slower.
func (s *Store) checkBlockSize(ctx context.Context) {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'min_compress_block_size'").Scan(&v); err != nil {
		s.log.Warn("could not read the server's min_compress_block_size", "err", err)
		return
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil && n > maxBlockSize {
		s.log.Warn("the server writes compressed blocks of at least min_compress_block_size bytes: reads by person and by venue decompress "+
			"several granules for each one they need; set it to 4096 in the server's default profile (deploy/README.md)",
			"min_compress_block_size", n, "recommended", 4096)
	}
}
