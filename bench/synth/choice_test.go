package synth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCityTiers(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for tier, want := range map[string][4]int{
		"demo": {4_000, 100, 2, 0}, "S": {1_000_000, 10_000, 1, 0}, "m": {10_000_000, 100_000, 14, 63}, "L/100": {1_000_000, 10_000, 14, 63},
	} {
		c := Choice{Tier: tier, End: "now", Seed: 1}
		cfg, err := c.Config(now)
		require.NoError(t, err, tier)
		require.Equal(t, want, [4]int{cfg.People, cfg.Venues, cfg.Days, cfg.Provinces}, tier)
		require.Equal(t, now, cfg.End)
	}
	c := Choice{Tier: "L/100", End: "now"}
	cfg, err := c.Config(now)
	require.NoError(t, err)
	require.Equal(t, "tet", cfg.Scenario)
	c.Tier = "S:reunification"
	cfg, err = c.Config(now)
	require.NoError(t, err)
	require.Equal(t, "reunification", cfg.Scenario)
	_, err = Choice{Tier: "XL", End: "now"}.Config(now)
	require.ErrorContains(t, err, "tier")
	_, err = Choice{Tier: "S", End: "yesterday"}.Config(now)
	require.ErrorContains(t, err, "end")
	cfg, err = Choice{Tier: "demo", End: "now", People: 300, Venues: 20, Days: 1, Adoption: 0.5}.Config(now)
	require.NoError(t, err)
	require.Equal(t, [4]float64{300, 20, 1, 0.5}, [4]float64{float64(cfg.People), float64(cfg.Venues), float64(cfg.Days), cfg.Adoption})
}
