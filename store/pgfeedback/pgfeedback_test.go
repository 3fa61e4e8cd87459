package pgfeedback_test

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
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/safety/safetytest"
	"github.com/truyvet/truyvet/store/pgfeedback"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// EnvURL locates the PostgreSQL server that deploy/local/up.sh starts.
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

var schemas atomic.Int64

func TestFeedbackConformance(t *testing.T) {
	url := itenv.Require(t, EnvURL, "PostgreSQL server")
	safetytest.RunFeedback(t, func(t *testing.T) safety.FeedbackStore {
		schema := fmt.Sprintf("feedbacktest_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemas.Add(1))
		s, err := pgfeedback.Open(t.Context(), pgfeedback.Options{URL: url, Schema: schema})
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
	})
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgfeedback.Open(t.Context(), pgfeedback.Options{})
	require.ErrorIs(t, err, pgfeedback.ErrNoURL)
}
