package pgvenue_test

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
	"github.com/truyvet/truyvet/store/pgvenue"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// EnvURL locates the PostgreSQL server that deploy/local/up.sh starts.
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

var schemas atomic.Int64

func TestRegistry(t *testing.T) {
	url := itenv.Require(t, EnvURL, "PostgreSQL server")
	venuetest.Run(t, func(t *testing.T) venue.Registry {
		schema := fmt.Sprintf("venuetest_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemas.Add(1))
		r, err := pgvenue.Open(t.Context(), pgvenue.Options{URL: url, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			_, err = conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
			require.NoError(t, err)
			require.NoError(t, conn.Close(ctx))
			require.NoError(t, r.Close())
		})
		return r
	})
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgvenue.Open(t.Context(), pgvenue.Options{})
	require.ErrorIs(t, err, pgvenue.ErrNoURL)
}
