package synth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// calibrationCity is the city of CALIBRATION.md: 50 000 people and 500
// venues over the week of Thursday 22 to Wednesday 28 April 2021.
func calibrationCity() Config {
	c := DefaultConfig()
	c.People, c.Venues, c.Days = 50_000, 500, 7
	return c
}

// TestCalibration prints the contact table of CALIBRATION.md and checks
// the model against the surveys:
//
//	go test -run TestCalibration -v ./bench/synth/
func TestCalibration(t *testing.T) {
	tb, err := Calibrate(calibrationCity())
	require.NoError(t, err)
	t.Logf("ordinary week, %d people:\n%s", tb.Config.People, tb)
	rows := map[string]ContactRow{}
	for _, r := range tb.Rows {
		rows[r.Group] = r
		require.LessOrEqual(t, r.Proximity, r.Close, r.Group)
		require.LessOrEqual(t, r.Proximity, r.Capped, r.Group)
	}
	all := rows["everyone"]
	require.Equal(t, 7*50_000, all.PersonDays)

	// The stated band: the model's face-to-face contacts within 0.6 to 1.3
	// times the Vietnamese survey's mean.
	require.InDelta(t, 0.95*SurveyVietnam, all.Proximity, 0.35*SurveyVietnam, "proximity contacts a day")
	// School-age people and workers meet more people than the retired, and
	// weekdays bring more contacts than weekends.
	require.Greater(t, rows["student"].Proximity, rows["elderly"].Proximity)
	require.Greater(t, rows["worker"].Proximity, rows["elderly"].Proximity)
	require.Greater(t, rows["weekdays"].Proximity, rows["weekends and holidays"].Proximity)
	// Venue co-presence counts whole schools and markets.
	require.Greater(t, all.Close, 10*SurveyPOLYMOD)

	// Tết in a small country: no classes or work, family visits instead.
	cfg := holiday()
	cfg.People, cfg.Venues = 20_000, 500
	tet, err := Calibrate(cfg)
	require.NoError(t, err)
	t.Logf("Tết, %d people in %d provinces:\n%s", cfg.People, cfg.Provinces, tet)
	require.Len(t, tet.Rows, len(tb.Rows))
	working, off := tet.Rows[5], tet.Rows[6]
	require.Equal(t, "weekends and holidays", off.Group)
	require.Less(t, off.Close, working.Close/2, "no classes or work")
}

func TestCalibrateErrors(t *testing.T) {
	cfg := small()
	cfg.People = 0
	_, err := Calibrate(cfg)
	require.ErrorIs(t, err, ErrConfig)
	require.Equal(t, 15*time.Minute, CloseContact)
}
