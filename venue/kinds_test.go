package venue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue"
)

// mapRegistry is a registry of fixed venues for KindsOf; only Venue is used.
type mapRegistry struct {
	venue.Registry
	venues map[uint32]venue.Kind
	err    error
}

func (m mapRegistry) Venue(_ context.Context, id uint32) (venue.Venue, error) {
	if m.err != nil {
		return venue.Venue{}, m.err
	}
	k, ok := m.venues[id]
	if !ok {
		return venue.Venue{}, venue.ErrNotFound
	}
	var v venue.Venue
	v.ID, v.Kind = id, k
	return v, nil
}

func TestKindsOf(t *testing.T) {
	reg := mapRegistry{venues: map[uint32]venue.Kind{1: venue.KindMarket, 2: venue.KindSchool}}
	kinds, err := venue.KindsOf{Registry: reg}.Kinds(t.Context(), []uint32{2, 9, 1})
	require.NoError(t, err)
	require.Equal(t, []string{"school", "other", "market"}, kinds, "an unregistered venue is other")

	broken := errors.New("registry down")
	_, err = venue.KindsOf{Registry: mapRegistry{err: broken}}.Kinds(t.Context(), []uint32{1})
	require.ErrorIs(t, err, broken, "a registry failure is not read as other")
}
