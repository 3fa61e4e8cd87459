package chstore_test

import (
	"sync"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/chstore/chtest"
)

// Twenty processes opening a new database at once, with the same layout or
// with two different ones: exactly one layout is recorded, every opener with
// it starts, every other one is refused with ErrLayoutMismatch. Each opener
// has its own connections, as separate processes would.
func TestLayoutFirstWriterWins(t *testing.T) {
	addr := chtest.Addr(t)
	const openers, trials = 20, 3
	other := bucket.DefaultLayout()
	other.BucketSeconds = 600
	for _, mixed := range []bool{false, true} {
		name := map[bool]string{false: "same", true: "mixed"}[mixed]
		t.Run(name, func(t *testing.T) {
			for range trials {
				db := chtest.Database(t, addr)
				layouts := make([]bucket.Layout, openers)
				errs := make([]error, openers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range openers {
					layouts[i] = bucket.DefaultLayout()
					if mixed && i%2 == 1 {
						layouts[i] = other
					}
					wg.Go(func() {
						opts := chstore.DefaultOptions()
						opts.Addr, opts.Database, opts.Layout = addr, db, layouts[i]
						<-start
						s, err := chstore.Open(t.Context(), opts)
						if err == nil {
							err = s.Close()
						}
						errs[i] = err
					})
				}
				close(start)
				wg.Wait()
				// Whatever won, a later opener agrees with the winners.
				var won *bucket.Layout
				for i, err := range errs {
					if err != nil {
						continue
					}
					if won == nil {
						won = &layouts[i]
					}
					require.Equal(t, *won, layouts[i], "two layouts started on one database")
				}
				require.NotNil(t, won, "no opener started: %v", errs)
				for i, err := range errs {
					if layouts[i] == *won {
						require.NoError(t, err, "opener %d has the winning layout", i)
					} else {
						require.ErrorIs(t, err, chstore.ErrLayoutMismatch, "opener %d", i)
					}
				}
				opts := chstore.DefaultOptions()
				opts.Addr, opts.Database, opts.Layout = addr, db, *won
				s, err := chstore.Open(t.Context(), opts)
				require.NoError(t, err)
				require.NoError(t, s.Close())
			}
		})
	}
}

// A database from before the layout view keeps the layout its meta rows hold.
func TestLayoutFromLegacyMeta(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	s := open(t, addr, db, bucket.DefaultLayout())
	require.NoError(t, s.Close())
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addr})
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.Exec(t.Context(), "DROP TABLE "+db+".layout"))
	require.NoError(t, conn.Exec(t.Context(), "INSERT INTO "+db+".meta (name, value) SELECT 'bucket_seconds', '600' UNION ALL SELECT 'dwell_seconds', '3600'"))
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database = addr, db
	_, err = chstore.Open(t.Context(), opts)
	require.ErrorIs(t, err, chstore.ErrLayoutMismatch)
	opts.Layout.BucketSeconds = 600
	s2, err := chstore.Open(t.Context(), opts)
	require.NoError(t, err)
	require.NoError(t, s2.Close())
}
