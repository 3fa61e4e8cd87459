package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/store/pgstore"
	"github.com/truyvet/truyvet/store/statetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T) statetest.Store {
	url := itenv.Require(t, "TRUYVET_IT_POSTGRES_URL", "PostgreSQL")
	var b [6]byte
	_, _ = rand.Read(b[:])
	s, err := pgstore.Open(t.Context(), pgstore.Options{URL: url, Schema: "truyvet_test_" + hex.EncodeToString(b[:])})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.DropSchema(context.Background()))
		require.NoError(t, s.Close())
	})
	return s
}

func TestConformance(t *testing.T) { statetest.Run(t, open) }

func TestNoURL(t *testing.T) {
	_, err := pgstore.Open(t.Context(), pgstore.Options{})
	require.ErrorIs(t, err, pgstore.ErrNoURL)
}
