package bucket

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "time/tzdata"
)

func TestDayOfMatchesTimeZoneDatabase(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	require.NoError(t, err)
	for ts := time.Date(1976, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); ts < time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); ts += 3*3600 + 17*60 + 13 {
		local := time.Unix(ts, 0).In(loc)
		want := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
		require.Equal(t, Day(want), DayOf(ts), "at %s", local)
	}
	d := DayOf(time.Date(2021, 7, 20, 23, 59, 59, 0, loc).Unix())
	require.Equal(t, "2021-07-20", d.String())
	require.Equal(t, time.Date(2021, 7, 20, 0, 0, 0, 0, loc).Unix(), d.Start())
}

func TestLayout(t *testing.T) {
	l := DefaultLayout()
	require.NoError(t, l.Validate())
	require.ErrorIs(t, Layout{BucketSeconds: 7 * 60, DwellSeconds: 3600}.Validate(), ErrBucketSize)
	require.ErrorIs(t, Layout{BucketSeconds: 900, DwellSeconds: 0}.Validate(), ErrDwell)
	require.Equal(t, int64(1_000+3600), l.StayEnd(1_000, 0), "no exit: the default dwell")
	require.Equal(t, int64(1_500), l.StayEnd(1_000, 1_500), "an exit ends the stay")

	for _, tc := range []struct {
		name        string
		start, end  int64
		first, last uint32
		ok          bool
	}{
		{"empty", 900, 900, 0, 0, false},
		{"inverted", 901, 900, 0, 0, false},
		{"one second", 900, 901, 1, 1, true},
		{"exactly one bucket", 900, 1800, 1, 1, true},
		{"touches next", 900, 1801, 1, 2, true},
		{"inside", 1000, 1700, 1, 1, true},
		{"spans", 899, 2701, 0, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, la, ok := l.Cover(tc.start, tc.end)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, tc.first, f)
				require.Equal(t, tc.last, la)
			}
		})
	}
	// Buckets never straddle local midnight.
	for b := uint32(1_800_000); b < 1_800_000+4*96; b++ {
		require.Equal(t, l.DayOfBucket(b), DayOf(l.Start(b)+l.BucketSeconds-1))
	}
}

// A record that lasts into a window begins at most MaxSpan before it: the
// days it can be filed under start that far back, and every day so listed
// can hold one.
func TestDaysReaching(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	require.NoError(t, err)
	from := time.Date(2021, 7, 20, 6, 0, 0, 0, loc).Unix()
	to := time.Date(2021, 7, 22, 1, 0, 0, 0, loc).Unix()
	var got []string
	for d := range DaysReaching(from, to) {
		got = append(got, d.String())
	}
	require.Equal(t, []string{"2021-07-19", "2021-07-20", "2021-07-21", "2021-07-22"}, got)
	require.Equal(t, DayOf(from-MaxSpan), FirstDayReaching(from))
	// A record of MaxSpan ending in from's first second began on the first day.
	require.Equal(t, FirstDayReaching(from), DayOf(from+1-MaxSpan))
	// Just after midnight, the day before the day before is out of reach.
	midnight := time.Date(2021, 7, 20, 0, 0, 30, 0, loc).Unix()
	require.Equal(t, "2021-07-19", FirstDayReaching(midnight).String())
	for range DaysReaching(to, from) {
		t.Fatal("an empty window reaches no day")
	}
	n := 0
	for range DaysReaching(from, to) {
		n++
		break
	}
	require.Equal(t, 1, n, "the sequence stops when asked")
}
