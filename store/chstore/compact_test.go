package chstore_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/storetest"
)

// merges keeps the days of the partitions a store's Compact logs as merged,
// and counts them with the weeks of the weekly tables.
type merges struct {
	mu   sync.Mutex
	n    int
	days []bucket.Day
}

func (m *merges) Enabled(context.Context, slog.Level) bool { return true }
func (m *merges) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *merges) WithGroup(string) slog.Handler            { return m }
func (m *merges) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "merged a settled partition" {
		return nil
	}
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		if d, ok := a.Value.Any().(bucket.Day); ok && a.Key == "day" {
			m.mu.Lock()
			m.days = append(m.days, d)
			m.mu.Unlock()
		}
		return true
	})
	return nil
}

// merged is how many partitions Compact merged so far and the latest day
// among the day partitions.
func (m *merges) merged() (int, bucket.Day) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.days) == 0 {
		return m.n, 0
	}
	return m.n, slices.Max(m.days)
}

// compactCase writes records of a few days in many batches (a part per
// table and batch), then compacts them in two passes, and checks after each
// that the days asked for end in one part on every server of servers, that
// Compact merged no partition of the days it was not asked for (the server's
// own background merges may, so the test reads what Compact logs), and that
// the answers are those of the reference.
func compactCase(t *testing.T, open func(*slog.Logger) *chstore.Store, servers []string, shards int, db, suffix string) {
	const people, seed = 30, 11
	log := &merges{}
	s := open(slog.New(log))
	recs := storetest.RandomRecords(rand.New(rand.NewPCG(seed, seed)), people, 5, 400, storetest.Base)
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	for visits := range slices.Chunk(recs.Visits, 60) {
		require.NoError(t, p.Process(t.Context(), &event.Batch{Visits: visits}))
	}
	for encs := range slices.Chunk(recs.Encounters, 60) {
		require.NoError(t, p.Process(t.Context(), &event.Batch{Encounters: encs}))
	}
	days, err := s.Days(t.Context())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(days), 3)
	last := days[len(days)-1]
	fragmented := func(table string, d bucket.Day) bool {
		for _, a := range servers {
			if chtest.Parts(t, a, db, table+suffix)[strconv.FormatUint(uint64(d), 10)] > 1 {
				return true
			}
		}
		return false
	}
	require.True(t, fragmented("stays", days[0]), "the batches left one part for day %s", days[0])
	storetest.RequireAgrees(t, s, recs, people, storetest.Base, seed, 40)

	// One partition a shard, the one in the most parts.
	n, err := s.Compact(t.Context(), last, 1)
	require.NoError(t, err)
	require.Equal(t, shards, n)
	logged, _ := log.merged()
	require.Equal(t, n, logged, "Compact logs each merge")

	// Then every day before the last; the last is left as it is.
	more, err := s.Compact(t.Context(), last, 1000)
	require.NoError(t, err)
	for _, table := range []string{"stays", "visitors", "contacts", "bitmaps"} {
		for _, d := range days[:len(days)-1] {
			require.Eventually(t, func() bool { return !fragmented(table, d) }, 60*time.Second, 100*time.Millisecond,
				"%s of day %s is still in several parts", table, d)
		}
	}
	// The weekly tables' weeks that hold a settled day are merged whole,
	// the last day's records with them.
	for _, table := range []string{"stays_weekly", "contacts_weekly"} {
		require.Eventually(t, func() bool {
			for _, a := range servers {
				for _, n := range chtest.Parts(t, a, db, table+suffix) {
					if n > 1 {
						return false
					}
				}
			}
			return true
		}, 60*time.Second, 100*time.Millisecond, "a week of %s is still in several parts", table)
	}
	logged, latest := log.merged()
	require.Equal(t, n+more, logged, "Compact logs each merge")
	require.Less(t, latest, last, "Compact merged a partition of the last day, which it was not asked to")
	storetest.RequireAgrees(t, s, recs, people, storetest.Base, seed, 40)

	// Nothing left to merge before the last day.
	n, err = s.Compact(t.Context(), last, 1000)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestCompactMergesSettledDays(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	compactCase(t, func(log *slog.Logger) *chstore.Store {
		opts := chstore.DefaultOptions()
		opts.Addr, opts.Database, opts.Logger = addr, db, log
		return openWith(t, opts)
	}, addr[:1], 1, db, "")
}

// On a cluster each shard merges on its first live replica, and the merge
// replicates: both replicas of a shard end with one part.
func TestClusterCompactMergesSettledDays(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	db := chtest.ClusterDatabase(t, addr, cluster)
	compactCase(t, func(log *slog.Logger) *chstore.Store {
		opts := chstore.DefaultOptions()
		opts.Addr, opts.Cluster, opts.Database, opts.Logger = addr, cluster, db, log
		return openWith(t, opts)
	}, addr, 2, db, "_local")
}
