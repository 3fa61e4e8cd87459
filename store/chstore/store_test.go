package chstore_test

import (
	"math/rand/v2"
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
	opts.Addr, opts.Database, opts.Layout = addr, db, layout
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
	after, err := s.Days(t.Context())
	require.NoError(t, err)
	require.Equal(t, days[1:], after)
}

func openCluster(t *testing.T, addr []string, cluster, db string, layout bucket.Layout) *chstore.Store {
	t.Helper()
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Cluster, opts.Database, opts.Layout = addr, cluster, db, layout
	s, err := chstore.Open(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
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
