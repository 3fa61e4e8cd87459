package chstore_test

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
	"github.com/truyvet/truyvet/store/storetest"
)

func open(t *testing.T, addr []string, db string, layout bucket.Layout) *chstore.Store {
	t.Helper()
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Layout, opts.Now = addr, db, layout, suiteNow
	return openWith(t, opts)
}

// openWith opens a store with opts, closed when the test ends.
func openWith(t *testing.T, opts chstore.Options) *chstore.Store {
	t.Helper()
	s, err := chstore.Open(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The conformance suite every store passes: the same records in, the same
// answers out, replays and late records included.
func TestConformance(t *testing.T) {
	addr := chtest.Addr(t)
	storetest.Run(t, func(t *testing.T, layout bucket.Layout) store.Backend {
		return open(t, addr, chtest.Database(t, addr), layout)
	})
}

func TestMigrationsAndLayout(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	s := open(t, addr, db, bucket.DefaultLayout())
	require.NotEmpty(t, s.ServerVersion())
	// Opening again applies nothing new and accepts the same layout.
	open(t, addr, db, bucket.DefaultLayout())
	other := bucket.DefaultLayout()
	other.BucketSeconds = 600
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Layout = addr, db, other
	_, err := chstore.Open(t.Context(), opts)
	require.ErrorIs(t, err, chstore.ErrLayoutMismatch)
	opts.Database = "bad-name;"
	_, err = chstore.Open(t.Context(), opts)
	require.ErrorIs(t, err, chstore.ErrBadDatabase)
	// Without migrations, an empty database is refused.
	opts.Database, opts.Migrate, opts.Layout = chtest.Database(t, addr), false, bucket.DefaultLayout()
	_, err = chstore.Open(t.Context(), opts)
	require.Error(t, err)
}

// A database written at schema version 1 gets its stays copied into the
// visitors table by migration 2.
func TestMigrationFillsVisitors(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	s := open(t, addr, db, bucket.DefaultLayout())
	t0 := storetest.Base + 8*3600
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(t.Context(), &event.Batch{Visits: []event.Visit{
		{VisitID: "a", UserID: 1, VenueID: 2, Enter: t0, Exit: t0 + 600, Source: "test"},
		{VisitID: "b", UserID: 3, VenueID: 2, Enter: t0 + 300, Source: "test"},
	}}))
	ask := []graph.VenueSpans{{Venue: 2, Spans: []graph.Interval{{Start: t0, End: t0 + 3600}}}}
	visitors := func(s *chstore.Store) []graph.Visitor {
		var out []graph.Visitor
		for vv, err := range s.Visitors(t.Context(), ask) {
			require.NoError(t, err)
			out = append(out, vv.Visitors...)
		}
		return out
	}
	want := []graph.Visitor{
		{User: 1, Interval: graph.Interval{Start: t0, End: t0 + 600}},
		{User: 3, Interval: graph.Interval{Start: t0 + 300, End: t0 + 300 + 3600}},
	}
	require.Equal(t, want, visitors(s))
	require.NoError(t, s.Close())

	// Back to version 1: no visitors table, migration 2 not applied.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.Exec(t.Context(), "DROP TABLE "+db+".visitors"))
	require.NoError(t, conn.Exec(t.Context(), "DROP TABLE "+db+".schema_migrations"))
	require.NoError(t, conn.Exec(t.Context(), "CREATE TABLE "+db+".schema_migrations (version UInt32, name String, applied Int64) ENGINE = MergeTree ORDER BY version"))
	batch, err := conn.PrepareBatch(t.Context(), "INSERT INTO "+db+".schema_migrations (version, name, applied)")
	require.NoError(t, err)
	require.NoError(t, batch.Append(uint32(1), "init", time.Now().Unix()))
	require.NoError(t, batch.Send())

	require.Equal(t, want, visitors(open(t, addr, db, bucket.DefaultLayout())))
}

func TestDropBeforeDropsWholePartitions(t *testing.T) {
	addr := chtest.Addr(t)
	s := open(t, addr, chtest.Database(t, addr), bucket.DefaultLayout())
	days := dropFirstDay(t, s)
	after, err := s.Days(t.Context())
	require.NoError(t, err)
	require.Equal(t, days[1:], after)
}

// dropFirstDay writes records of a few days to s, drops the first day and
// returns the days there were.
func dropFirstDay(t *testing.T, s *chstore.Store) []bucket.Day {
	t.Helper()
	recs := storetest.RandomRecords(rand.New(rand.NewPCG(3, 3)), 20, 4, 200, storetest.Base)
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(t.Context(), &recs))
	days, err := s.Days(t.Context())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(days), 2)
	dropped, err := s.DropBefore(t.Context(), days[1])
	require.NoError(t, err)
	require.Equal(t, days[:1], dropped)
	return days
}

func openCluster(t *testing.T, addr []string, cluster, db string, layout bucket.Layout) *chstore.Store {
	t.Helper()
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Cluster, opts.Database, opts.Layout, opts.Now = addr, cluster, db, layout, suiteNow
	return openWith(t, opts)
}

// The conformance suite on a ClickHouse cluster (2 shards x 2 replicas from
// deploy/local/cluster-up.sh): Distributed tables over replicated ones.
func TestClusterConformance(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	storetest.Run(t, func(t *testing.T, layout bucket.Layout) store.Backend {
		return openCluster(t, addr, cluster, chtest.ClusterDatabase(t, addr, cluster), layout)
	})
}

// The conformance suite on the cluster with shard 1's first replica stopped:
// migrations, retention and the layout's ON CLUSTER statements wait only for
// the servers that are up, and reads and writes go to the other replica.
func TestClusterReplicaDownConformance(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	chtest.StopReplica(t, "s1r1")
	storetest.Run(t, func(t *testing.T, layout bucket.Layout) store.Backend {
		return openCluster(t, addr, cluster, chtest.ClusterDatabase(t, addr, cluster), layout)
	})
}

// Retention on a cluster drops a day on a replica of each shard, which
// replicates the drop, and queues nothing ON CLUSTER: ClickHouse 18.16's
// DDLWorker can end its thread on an ALTER of a replicated table there
// (cluster.go, onEachShard), after which that server runs no ON CLUSTER
// statement until restarted.
func TestClusterRetentionBypassesDDLQueue(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	db := chtest.ClusterDatabase(t, addr, cluster)
	s := openCluster(t, addr, cluster, db, bucket.DefaultLayout())
	days := dropFirstDay(t, s)
	// The replica Days reads may apply the drop a moment after the one
	// that ran it.
	require.Eventually(t, func() bool {
		after, err := s.Days(t.Context())
		return err == nil && slices.Equal(after, days[1:])
	}, 30*time.Second, 50*time.Millisecond)

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	rows, err := conn.Query(t.Context(), "SELECT value FROM system.zookeeper WHERE path = ?", "/clickhouse/"+cluster+"/task_queue/ddl")
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	queued := 0
	for rows.Next() {
		var entry string
		require.NoError(t, rows.Scan(&entry))
		if strings.Contains(entry, " "+db+".") {
			queued++
			require.NotContains(t, entry, "DROP PARTITION", "retention went through the ON CLUSTER queue")
		}
	}
	require.NoError(t, rows.Err())
	require.Positive(t, queued, "the database's CREATE statements are not in the queue read: wrong path?")
}

// A replica that has not fetched what its peer took (as one does when it
// returns from being down, until it has caught up) serves no reads: they go
// to its peer, though in_order puts the lagging one first. Shard 2's first
// replica stops fetching, a stay is written to the second alone, and the
// store reads it.
func TestClusterReadsSkipALaggingReplica(t *testing.T) {
	addr, cluster := chtest.Cluster(t)
	db := chtest.ClusterDatabase(t, addr, cluster)
	s := openCluster(t, addr, cluster, db, bucket.DefaultLayout())
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	replica := map[uint32]string{}
	rows, err := conn.Query(t.Context(), "SELECT replica_num, host_name, port FROM system.clusters WHERE cluster = ? AND shard_num = 2", cluster)
	require.NoError(t, err)
	for rows.Next() {
		var (
			num  uint32
			host string
			port uint16
		)
		require.NoError(t, rows.Scan(&num, &host, &port))
		replica[num] = net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	require.NoError(t, rows.Err())
	require.Len(t, replica, 2, "shard 2 has two replicas")
	server := func(a string) clickhouse.Conn {
		c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{a}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	first, second := server(replica[1]), server(replica[2])
	require.NoError(t, first.Exec(t.Context(), "SYSTEM STOP FETCHES "+db+".stays_local"))
	t.Cleanup(func() { _ = first.Exec(context.Background(), "SYSTEM START FETCHES "+db+".stays_local") })

	t0 := storetest.Base + 8*3600
	batch, err := second.PrepareBatch(t.Context(), "INSERT INTO "+db+".stays_local (day, user, enter, venue, visit_id, exit, source)")
	require.NoError(t, err)
	require.NoError(t, batch.Append(uint32(bucket.DayOf(t0)), uint32(7), t0, uint32(3), "v", t0+600, "test"))
	require.NoError(t, batch.Send())
	// The first replica knows of the part and has not fetched it, for long
	// enough to count as behind.
	require.Eventually(t, func() bool {
		var delay, n uint64
		if first.QueryRow(t.Context(), "SELECT absolute_delay FROM system.replicas WHERE database = ? AND table = 'stays_local'", db).Scan(&delay) != nil ||
			first.QueryRow(t.Context(), "SELECT count() FROM "+db+".stays_local").Scan(&n) != nil {
			return false
		}
		require.Zero(t, n, "the first replica fetched the part")
		return delay >= 2
	}, 30*time.Second, 100*time.Millisecond)

	var got []graph.UserStays
	for us, err := range s.Stays(t.Context(), []uint32{7}, graph.Window{From: t0 - 3600, To: t0 + 3600}) {
		require.NoError(t, err)
		got = append(got, us)
	}
	require.Equal(t, []graph.UserStays{{User: 7, Stays: []graph.Stay{{Venue: 3, Interval: graph.Interval{Start: t0, End: t0 + 600}}}}}, got)
}
