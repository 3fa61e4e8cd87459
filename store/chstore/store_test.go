package chstore_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/processor/bucket"
	"github.com/truyvet/truyvet/query/audit"
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
	storetest.Run(t, func(t *testing.T, layout bucket.Layout) storetest.Store {
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

func TestRetentionAndAudit(t *testing.T) {
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

	e := audit.Entry{Time: time.Unix(1_790_000_000, 5).UTC(), Requester: "team-hcm", Case: 7, Depth: 2, Status: 200}
	require.NoError(t, s.Audit(context.Background(), e))
	got, err := s.RecentAudit(context.Background(), 10)
	require.NoError(t, err)
	require.Equal(t, []audit.Entry{e}, got)
}
