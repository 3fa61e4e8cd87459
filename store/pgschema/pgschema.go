// Package pgschema gives a truyvet store its PostgreSQL connections and
// schema (Open, Borrow) and creates its tables inside the deployment's
// schema, safely when several replicas start at once (Migrate): the
// statements run in one transaction under an advisory lock named by the
// schema, since concurrent CREATE … IF NOT EXISTS race.
package pgschema

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrate creates schema if missing and runs stmts in one transaction,
// holding the schema's advisory lock. Every store of a schema takes the same
// lock: the stores of two processes starting at once (the venue registry of
// one, the feedback table of the other) would otherwise both create the
// schema, and one fail on pg_namespace's unique index. An error names what:
// the tables being created.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema, what string, stmts []string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte("truyvet migrate " + schema))
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

// ErrNoURL is returned by Open without a PostgreSQL URL.
var ErrNoURL = errors.New("--postgres-url is required")

// DefaultSchema is the schema of a deployment that names none.
const DefaultSchema = "truyvet"

// Pool is the connection pool of one store and the schema its tables live
// in. A pool from Open belongs to the store (Close closes it); one from
// Borrow is the caller's (Close leaves it open).
type Pool struct {
	*pgxpool.Pool
	Schema string
	own    bool
}

// Borrow wraps a pool the caller owns, for a store in schema (default
// DefaultSchema).
func Borrow(pool *pgxpool.Pool, schema string) *Pool {
	if schema == "" {
		schema = DefaultSchema
	}
	return &Pool{Pool: pool, Schema: schema}
}

// Open connects to url and builds a store on the pool with newStore, which
// then owns it: the pool is closed again if newStore fails.
func Open[S any](ctx context.Context, url, schema string, newStore func(context.Context, *Pool) (S, error)) (S, error) {
	var zero S
	if url == "" {
		return zero, ErrNoURL
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return zero, fmt.Errorf("postgres: %w", err)
	}
	p := Borrow(pool, schema)
	p.own = true
	s, err := newStore(ctx, p)
	if err != nil {
		pool.Close()
		return zero, err
	}
	return s, nil
}

// Close closes the connections if the store owns them.
func (p *Pool) Close() {
	if p.own {
		p.Pool.Close()
	}
}

// Table is the quoted, schema-qualified name of table.
func (p *Pool) Table(table string) string { return pgx.Identifier{p.Schema, table}.Sanitize() }
