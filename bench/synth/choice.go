package synth

import (
	"fmt"
	"time"
)

// Choice is a city as the bench commands' flags choose it: a preset (see
// Preset) with overrides, each left at zero to keep the preset's.
type Choice struct {
	Tier                                  string
	People, Venues, Days                  int
	Seed                                  uint64
	End                                   string // "now" or RFC 3339
	Adoption, CheckoutRate, BluetoothRate float64
	Declarations                          bool // file health declarations too
}

// Config is the chosen city; "now" ends it at now.
func (c Choice) Config(now time.Time) (Config, error) {
	cfg, err := Preset(c.Tier)
	if err != nil {
		return cfg, fmt.Errorf("tier: %w", err)
	}
	for _, o := range []struct{ v, dst *int }{{&c.People, &cfg.People}, {&c.Venues, &cfg.Venues}, {&c.Days, &cfg.Days}} {
		if *o.v > 0 {
			*o.dst = *o.v
		}
	}
	for _, o := range []struct{ v, dst *float64 }{{&c.Adoption, &cfg.Adoption}, {&c.CheckoutRate, &cfg.CheckoutRate}, {&c.BluetoothRate, &cfg.BluetoothRate}} {
		if *o.v > 0 {
			*o.dst = *o.v
		}
	}
	cfg.Seed = c.Seed
	cfg.Declarations = cfg.Declarations || c.Declarations
	cfg.End = now
	if c.End != "now" {
		t, err := time.Parse(time.RFC3339, c.End)
		if err != nil {
			return cfg, fmt.Errorf("end: %w", err)
		}
		cfg.End = t
	}
	return cfg, cfg.Validate()
}

// Describe is what a report says about the chosen city cfg.
func (c Choice) Describe(cfg Config) map[string]any {
	return map[string]any{"tier": c.Tier, "people": cfg.People, "venues": cfg.Venues, "days": cfg.Days, "seed": cfg.Seed,
		"provinces": cfg.Provinces, "scenario": cfg.Scenario, "travel_rate": cfg.TravelRate,
		"end": cfg.End.Format(time.RFC3339), "adoption": cfg.Adoption, "checkout_rate": cfg.CheckoutRate, "bluetooth_rate": cfg.BluetoothRate, "declarations": cfg.Declarations}
}
