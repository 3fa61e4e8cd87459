// Package pgschema creates the PostgreSQL tables of one truyvet store inside
// a deployment's schema, safely when several replicas start at once: the
// statements run in one transaction under an advisory lock named by the
// store and the schema, since concurrent CREATE … IF NOT EXISTS race.
package pgschema

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrate creates schema if missing and runs stmts in one transaction,
// holding the advisory lock of (store, schema). An error names what: the
// tables being created.
func Migrate(ctx context.Context, pool *pgxpool.Pool, store, schema, what string, stmts []string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte("truyvet " + store + " migrate " + schema))
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()>>1)); err != nil { //nolint:gosec // shifted into range
			return fmt.Errorf("lock schema: %w", err)
		}
		for _, q := range append([]string{`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{schema}.Sanitize()}, stmts...) {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("create %s: %w", what, err)
			}
		}
		return nil
	})
}
