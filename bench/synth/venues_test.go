package synth

import (
	"testing"

	"github.com/stretchr/testify/require"

	registry "github.com/truyvet/truyvet/venue"
)

type anyCode struct{}

func (anyCode) Valid(code string) bool { return len(code) == 2 }

func TestVenueSpecsAreValid(t *testing.T) {
	for _, cfg := range []Config{Demo(), func() Config { c := Demo(); c.Provinces, c.People, c.Venues = MaxProvinces, 200_000, 2000; return c }()} {
		c, err := New(cfg)
		require.NoError(t, err)
		specs := c.VenueSpecs()
		require.Len(t, specs, cfg.Venues)
		codes := map[string]bool{}
		for i, s := range specs {
			require.Equal(t, uint32(i+1), s.ID) //nolint:gosec // small
			require.NoError(t, s.Validate(anyCode{}), "venue %d", s.ID)
			codes[s.Province] = true
		}
		require.Len(t, codes, max(1, cfg.Provinces))
	}
	require.Equal(t, "79", provinceTable[0].code)
	require.Equal(t, "01", provinceTable[1].code)
	seen := map[string]bool{}
	for _, p := range provinceTable {
		require.False(t, seen[p.code], p.code)
		seen[p.code] = true
		require.NoError(t, registry.Spec{Name: "x", Kind: registry.KindOther, Province: p.code, Address: "x", Lat: p.lat, Lon: p.lon}.Validate(anyCode{}), p.name)
	}
}
