// Package pgtest gives a PostgreSQL store's tests the server that
// deploy/local/up.sh starts and a schema of their own, dropped when the
// test ends.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/truyvet/truyvet/internal/itenv"
)

// EnvURL locates the PostgreSQL server of the integration tests.
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

// URL is the server's URL; without it the test fails under CI=true and is
// skipped elsewhere.
func URL(tb testing.TB) string {
	tb.Helper()
	return itenv.Require(tb, EnvURL, "PostgreSQL server")
}

var schemas atomic.Int64

// Schema returns a schema name no other test uses, prefix first. When the
// test ends the schema is dropped, after the cleanups registered later
// (such as the store's Close) have run.
func Schema(tb testing.TB, url, prefix string) string {
	tb.Helper()
	schema := fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano(), schemas.Add(1))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
