package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/peers/peerstest"
	"github.com/truyvet/truyvet/bench/peers/postgres"
	"github.com/truyvet/truyvet/internal/itenv"
)

// EnvURL names the PostgreSQL server the test uses (deploy/local/up.sh prints
// it as TRUYVET_POSTGRES_URL).
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

func TestAgreesWithReference(t *testing.T) {
	url := itenv.Require(t, EnvURL, "PostgreSQL server")
	schema := fmt.Sprintf("t%d", time.Now().UnixNano())
	p, err := postgres.New(context.Background(), url, schema)
	require.NoError(t, err)
	defer func() {
		require.NoError(t, p.Drop(context.Background()))
		require.NoError(t, p.Close())
	}()
	peerstest.RequireAgrees(t, p)
}
