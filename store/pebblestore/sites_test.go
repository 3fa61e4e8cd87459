package pebblestore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/sites/sitestest"
)

func TestSiteStore(t *testing.T) {
	sitestest.Run(t, func(t *testing.T) sites.Store {
		s, err := Open(t.Context(), Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
