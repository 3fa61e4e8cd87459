package pebblestore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

func TestVenueRegistry(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) venue.Registry {
		s, err := Open(t.Context(), Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestVenueRegistrySurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	_, err = s.Register(t.Context(), []venue.Spec{venuetest.Spec(1), venuetest.Spec(2)})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(t.Context(), Options{Dir: dir, Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	got, err := s.Register(t.Context(), []venue.Spec{venuetest.Spec(3)})
	require.NoError(t, err)
	require.Equal(t, uint32(3), got[0].ID)
	require.Equal(t, uint64(3), got[0].Seq)
}
