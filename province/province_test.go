package province_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/province"
)

func TestShippedList(t *testing.T) {
	l, err := province.Load(province.Current)
	require.NoError(t, err)
	require.Equal(t, "2021", l.Version)
	require.Len(t, l.Units, 63)
	cities := 0
	for _, u := range l.Units {
		if u.City {
			cities++
		}
	}
	require.Equal(t, 5, cities)
	for code, name := range map[string]string{"01": "Hà Nội", "79": "TP. Hồ Chí Minh", "96": "Cà Mau", "48": "Đà Nẵng"} {
		u, err := l.Lookup(code)
		require.NoError(t, err)
		require.Equal(t, name, u.Name)
	}
	for _, bad := range []string{"", "00", "03", "1", "001", "*", "99"} {
		require.False(t, l.Valid(bad), bad)
		_, err := l.Lookup(bad)
		require.ErrorIs(t, err, province.ErrUnknown)
	}
	require.Equal(t, province.Current, province.Default().Version)
}

func TestUnknownVersion(t *testing.T) {
	_, err := province.Load("1999")
	require.Error(t, err)
}
