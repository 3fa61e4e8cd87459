package synth

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas/event"
)

// TestDeclarations: the declarations are valid when the data ends, the
// same on every run, and hold what the model says: entrants on shared
// flights, coach trips, families declaring for each other, and symptoms
// with an onset for those who later become cases.
func TestDeclarations(t *testing.T) {
	cfg := Demo()
	cfg.People, cfg.Venues, cfg.Provinces, cfg.Days = 6000, 300, 3, 2
	cfg.Declarations = true
	c, err := New(cfg)
	require.NoError(t, err)
	l := event.DefaultLimits()
	var all []event.Declaration
	for b := range c.Batches() {
		for i := range b.Declarations {
			d := &b.Declarations[i]
			require.NoError(t, l.ValidateDeclaration(d, cfg.End), "%+v", d)
			all = append(all, *d)
		}
	}
	var again []event.Declaration
	for b := range c.Batches() {
		again = append(again, b.Declarations...)
	}
	require.Equal(t, all, again, "deterministic")

	flights := map[string]map[uint32]bool{}
	var entries, coaches, family, later int
	for _, d := range all {
		switch {
		case d.Kind == event.DeclEntry:
			entries++
			require.NotEmpty(t, d.Travel.OriginCountry)
		case d.HasTravel && d.Travel.Vehicle[0] != 'V':
			coaches++
		}
		if d.HasTravel && d.Travel.Vehicle[0] == 'V' {
			if flights[d.Travel.Vehicle] == nil {
				flights[d.Travel.Vehicle] = map[uint32]bool{}
			}
			flights[d.Travel.Vehicle][d.SubjectID] = true
		}
		if d.UserID != d.SubjectID {
			family++
		}
		if c.LaterCase(d.SubjectID) {
			require.True(t, d.Symptomatic())
			require.NotZero(t, d.Onset)
			later++
		}
	}
	shared := 0
	for _, subjects := range flights {
		if len(subjects) > 1 {
			shared++
		}
	}
	require.Positive(t, entries, "entrants from abroad")
	require.Positive(t, shared, "flights with more than one passenger")
	require.Positive(t, coaches, "coach trips")
	require.Positive(t, family, "declarations for family")
	require.Positive(t, later, "people who later become cases declare symptoms")
	t.Logf("%d declarations: %d entries, %d coach trips, %d for family, %d by later cases, %d flights shared", len(all), entries, coaches, family, later, shared)
}
