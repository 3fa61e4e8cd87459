package venue_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

// provinces accepts the two codes the tests use.
type provinces map[string]bool

func (p provinces) Valid(code string) bool { return p[code] }

var known = provinces{"01": true, "79": true}

func TestValidate(t *testing.T) {
	ok := venuetest.Spec(1)
	require.NoError(t, ok.Validate(known))
	for _, tc := range []struct {
		name          string
		edit          func(*venue.Spec)
		field, reason string
	}{
		{"no name", func(s *venue.Spec) { s.Name = "" }, "name", venue.ReasonMissingField},
		{"blank name", func(s *venue.Spec) { s.Name = " \u00a0 " }, "name", venue.ReasonMissingField},
		{"long name", func(s *venue.Spec) { s.Name = strings.Repeat("ệ", venue.MaxNameRunes+1) }, "name", venue.ReasonTooLarge},
		{"bad utf-8", func(s *venue.Spec) { s.Name = "Ch\xffợ" }, "name", venue.ReasonInvalidValue},
		{"control characters", func(s *venue.Spec) { s.Address = "Lê Lợi\nQuận 1" }, "address", venue.ReasonInvalidValue},
		{"no kind", func(s *venue.Spec) { s.Kind = "" }, "kind", venue.ReasonMissingField},
		{"unknown kind", func(s *venue.Spec) { s.Kind = "karaoke" }, "kind", venue.ReasonInvalidValue},
		{"no province", func(s *venue.Spec) { s.Province = "" }, "province", venue.ReasonMissingField},
		{"unknown province", func(s *venue.Spec) { s.Province = "99" }, "province", venue.ReasonInvalidValue},
		{"long district", func(s *venue.Spec) { s.District = strings.Repeat("a", venue.MaxPlaceRunes+1) }, "district", venue.ReasonTooLarge},
		{"long commune", func(s *venue.Spec) { s.Commune = strings.Repeat("a", venue.MaxPlaceRunes+1) }, "commune", venue.ReasonTooLarge},
		{"no address", func(s *venue.Spec) { s.Address = "" }, "address", venue.ReasonMissingField},
		{"long address", func(s *venue.Spec) { s.Address = strings.Repeat("a", venue.MaxAddressRunes+1) }, "address", venue.ReasonTooLarge},
		{"no lat", func(s *venue.Spec) { s.Lat = 0 }, "lat", venue.ReasonMissingField},
		{"lat north of Vietnam", func(s *venue.Spec) { s.Lat = 24 }, "lat", venue.ReasonInvalidValue},
		{"lat NaN", func(s *venue.Spec) { s.Lat = math.NaN() }, "lat", venue.ReasonInvalidValue},
		{"lon in Thailand", func(s *venue.Spec) { s.Lon = 100.5 }, "lon", venue.ReasonInvalidValue},
		{"lat and lon swapped", func(s *venue.Spec) { s.Lat, s.Lon = s.Lon, s.Lat }, "lat", venue.ReasonInvalidValue},
		{"lon infinite", func(s *venue.Spec) { s.Lon = math.Inf(1) }, "lon", venue.ReasonInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := s.Validate(known)
			var fe *venue.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
			require.Equal(t, tc.reason, fe.Reason)
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestValidateKeepsOptionalFieldsEmpty(t *testing.T) {
	s := venuetest.Spec(1)
	s.District, s.Commune = "", ""
	require.NoError(t, s.Validate(known))
}

func TestKinds(t *testing.T) {
	require.Len(t, venue.Kinds(), 16)
	for _, k := range venue.Kinds() {
		require.True(t, k.Valid())
	}
	require.False(t, venue.Kind("School").Valid())
}

func TestFilter(t *testing.T) {
	v := venue.Venue{Spec: venuetest.Spec(1)}
	require.True(t, venue.Filter{}.Match(v))
	require.True(t, venue.Filter{Province: "79", Kind: venue.KindMarket}.Match(v))
	require.False(t, venue.Filter{Province: "01"}.Match(v))
	require.False(t, venue.Filter{Kind: venue.KindCafe}.Match(v))
}

func TestPlanRunsOutOfIDs(t *testing.T) {
	_, _, err := venue.Plan([]venue.Spec{venuetest.Spec(1)}, math.MaxUint32, 7, func(uint32) (venue.Venue, bool, error) {
		return venue.Venue{}, false, nil
	})
	require.ErrorIs(t, err, venue.ErrFull)
}
