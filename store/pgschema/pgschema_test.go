package pgschema_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/truyvet/truyvet/store/pgschema"
	"github.com/truyvet/truyvet/store/pgschema/pgtest"
)

// Several stores migrating one fresh schema at once, as the stores of two
// processes starting together do: each creates the schema, and PostgreSQL's
// CREATE SCHEMA IF NOT EXISTS races (a unique violation on pg_namespace)
// unless they take the same lock.
func TestMigrateConcurrentStoresOneSchema(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	for round := range 5 {
		schema := pgtest.Schema(t, url, "migrate")
		var g errgroup.Group
		for i := range 6 {
			g.Go(func() error {
				pool, err := pgxpool.New(ctx, url)
				if err != nil {
					return err
				}
				defer pool.Close()
				table := pgx.Identifier{schema, fmt.Sprintf("t%d", i%3)}.Sanitize()
				return pgschema.Migrate(ctx, pool, schema, "test table", []string{`CREATE TABLE IF NOT EXISTS ` + table + ` (id bigint PRIMARY KEY)`})
			})
		}
		require.NoError(t, g.Wait(), "round %d", round)
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n))
		pool.Close()
		require.Equal(t, 3, n)
	}
}
