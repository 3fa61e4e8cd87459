package chstore_test

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/storetest"
)

// parts counts the active parts of each day partition of table on the
// server at addr.
func parts(t *testing.T, addr, db, table string) map[string]uint64 {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	rows, err := conn.Query(t.Context(), "SELECT partition, toUInt64(count()) FROM system.parts WHERE database = ? AND table = ? AND active GROUP BY partition", db, table)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	out := map[string]uint64{}
	for rows.Next() {
		var (
			p string
			n uint64
		)
		require.NoError(t, rows.Scan(&p, &n))
		out[p] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// compactCase writes records of a few days in many batches (a part per
// table and batch), then compacts them in two passes, and checks after each
// that the days asked for are in one part on every server of servers, the
// others untouched, and the answers those of the reference.
func compactCase(t *testing.T, s *chstore.Store, servers []string, shards int, db, suffix string) {
	const people, seed = 30, 11
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
	fragmented := func(table string, d bucket.Day) bool {
		for _, a := range servers {
			if parts(t, a, db, table+suffix)[strconv.FormatUint(uint64(d), 10)] > 1 {
				return true
			}
		}
		return false
	}
	require.True(t, fragmented("stays", days[0]), "the batches left one part for day %s", days[0])
	storetest.RequireAgrees(t, s, recs, people, storetest.Base, seed, 40)

	// One partition a shard, the one in the most parts.
	n, err := s.Compact(t.Context(), days[len(days)-1], 1)
	require.NoError(t, err)
	require.Equal(t, shards, n)

	// Then every day before the last; the last is left as it is.
	_, err = s.Compact(t.Context(), days[len(days)-1], 1000)
	require.NoError(t, err)
	for _, table := range []string{"stays", "visitors", "contacts", "bitmaps"} {
		for _, d := range days[:len(days)-1] {
			require.Eventually(t, func() bool { return !fragmented(table, d) }, 60*time.Second, 100*time.Millisecond,
				"%s of day %s is still in several parts", table, d)
		}
	}
	require.True(t, fragmented("stays", days[len(days)-1]), "the last day was merged too")
	storetest.RequireAgrees(t, s, recs, people, storetest.Base, seed, 40)

	// Nothing left to merge before the last day.
	n, err = s.Compact(t.Context(), days[len(days)-1], 1000)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestCompactMergesSettledDays(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	compactCase(t, open(t, addr, db, bucket.DefaultLayout()), addr[:1], 1, db, "")
}

// On a cluster each shard merges on its first live replica, and the merge
// replicates: both replicas of a shard end with one part.
func TestClusterCompactMergesSettledDays(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	db := chtest.ClusterDatabase(t, addr, cluster)
	compactCase(t, openCluster(t, addr, cluster, db, bucket.DefaultLayout()), addr, 2, db, "_local")
}
