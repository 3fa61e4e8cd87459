package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/peers/peerstest"
	"github.com/truyvet/truyvet/bench/peers/postgres"
)

// EnvURL names the PostgreSQL server the test uses (deploy/local/up.sh prints
// it as TRUYVET_POSTGRES_URL).
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

func TestAgreesWithReference(t *testing.T) {
	url := os.Getenv(EnvURL)
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the real PostgreSQL server (deploy/local/up.sh)", EnvURL)
		}
		t.Skipf("%s not set; start a server with deploy/local/up.sh and export it", EnvURL)
	}
	schema := fmt.Sprintf("t%d", time.Now().UnixNano())
	p, err := postgres.New(context.Background(), url, schema)
	require.NoError(t, err)
	defer func() {
		require.NoError(t, p.Drop(context.Background()))
		require.NoError(t, p.Close())
	}()
	peerstest.RequireAgrees(t, p)
}
