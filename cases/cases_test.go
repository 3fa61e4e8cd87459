package cases_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/province"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, cases.Local)

func TestInfectiousWindow(t *testing.T) {
	conf := time.Date(2026, 11, 28, 9, 0, 0, 0, cases.Local)
	sample := time.Date(2026, 11, 27, 15, 30, 0, 0, cases.Local)
	c := cases.Case{ConfirmedAt: conf, Onset: "2026-11-25", SampleAt: &sample}
	from, to := c.InfectiousWindow()
	require.Equal(t, time.Date(2026, 11, 23, 0, 0, 0, 0, cases.Local), from)
	require.Equal(t, conf, to)
	c.Onset = ""
	from, _ = c.InfectiousWindow()
	require.Equal(t, sample.Add(-48*time.Hour), from)
	c.SampleAt = nil
	from, _ = c.InfectiousWindow()
	require.Equal(t, conf.Add(-cases.Lookback), from)
}

func TestDecode(t *testing.T) {
	pl := province.Default()
	c, err := cases.Decode([]byte(`{"user_id":1953,"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00","onset":"2026-11-25","sample_at":"2026-11-27T15:30:00+07:00"}`), pl, now, time.Minute)
	require.NoError(t, err)
	require.Equal(t, uint32(1953), c.UserID)
	require.Equal(t, "2026-11-25", c.Onset)
	for body, field := range map[string]string{
		`[]`: "body",
		`{"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00"}`:                                     "user_id",
		`{"user_id":0,"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00"}`:                         "user_id",
		`{"user_id":1.5,"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00"}`:                       "user_id",
		`{"user_id":1,"province":"03","confirmed_at":"2026-11-28T09:00:00+07:00"}`:                         "province",
		`{"user_id":1,"province":"01"}`:                                                                    "confirmed_at",
		`{"user_id":1,"province":"01","confirmed_at":"2027-11-28T09:00:00+07:00"}`:                         "confirmed_at",
		`{"user_id":1,"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00","onset":"2026-11-29"}`:    "onset",
		`{"user_id":1,"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00","sample_at":"yesterday"}`: "sample_at",
	} {
		_, err := cases.Decode([]byte(body), pl, now, time.Minute)
		var fe *cases.FieldError
		require.ErrorAs(t, err, &fe, body)
		require.Equal(t, field, fe.Field, body)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"user_id":1953,"province":"01","confirmed_at":"2026-11-28T09:00:00+07:00","onset":"2026-11-25"}`))
	f.Add([]byte(`{"user_id":"x"}`))
	pl := province.Default()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := cases.Decode(b, pl, now, time.Minute)
		if err == nil {
			require.NotZero(t, c.UserID)
			require.True(t, pl.Valid(c.Province))
			from, to := c.InfectiousWindow()
			require.False(t, from.After(to))
		}
	})
}
