package pgvenue_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/store/pgschema/pgtest"
	"github.com/truyvet/truyvet/store/pgvenue"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRegistry(t *testing.T) {
	url := pgtest.URL(t)
	venuetest.Run(t, func(t *testing.T) venue.Registry {
		r, err := pgvenue.Open(t.Context(), pgvenue.Options{URL: url, Schema: pgtest.Schema(t, url, "venuetest")})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, r.Close()) })
		return r
	})
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgvenue.Open(t.Context(), pgvenue.Options{})
	require.ErrorIs(t, err, pgvenue.ErrNoURL)
}
