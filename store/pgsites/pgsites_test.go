package pgsites_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/sites/sitestest"
	"github.com/truyvet/truyvet/store/pgsites"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// EnvURL locates the PostgreSQL server that deploy/local/up.sh starts.
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

var schemas atomic.Int64

// Open opens a store in a fresh schema, dropped when t ends.
func open(t *testing.T, url string) *pgsites.Store {
	schema := fmt.Sprintf("sitestest_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemas.Add(1))
	s, err := pgsites.Open(t.Context(), pgsites.Options{URL: url, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
		require.NoError(t, s.Close())
	})
	return s
}

func TestStore(t *testing.T) {
	url := itenv.Require(t, EnvURL, "PostgreSQL server")
	sitestest.Run(t, func(t *testing.T) sites.Store { return open(t, url) })
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgsites.Open(t.Context(), pgsites.Options{})
	require.ErrorIs(t, err, pgsites.ErrNoURL)
}
