package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// The map's active exposure sites are the published ones on the public list
// that day: a draft or a retracted site does not count, nor one whose window
// ended more than sites.PublicFor before the day or begins after it.
func TestActiveSites(t *testing.T) {
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	day := bucket.Day(18828) // 2021-07-20
	noon := time.Unix(day.Start()+12*3600, 0)
	publish := func(venue uint32, from, to time.Time, approve, retract bool) {
		site, err := s.Create(t.Context(), sites.Site{Spec: sites.Spec{VenueID: venue, From: from, To: to, Severity: sites.Severity("close")}, CreatedBy: "a"})
		require.NoError(t, err)
		if approve {
			_, err = s.Approve(t.Context(), site.ID, "b", noon)
			require.NoError(t, err)
		}
		if retract {
			_, err = s.Retract(t.Context(), site.ID, "b", "wrong", noon)
			require.NoError(t, err)
		}
	}
	publish(1, noon.Add(-5*time.Hour), noon.Add(-4*time.Hour), true, false)
	publish(1, noon.Add(-50*time.Hour), noon.Add(-48*time.Hour), true, false)
	publish(2, noon.Add(-5*time.Hour), noon.Add(-4*time.Hour), false, false)        // a draft
	publish(3, noon.Add(-5*time.Hour), noon.Add(-4*time.Hour), true, true)          // retracted
	publish(4, noon.Add(-20*24*time.Hour), noon.Add(-19*24*time.Hour), true, false) // off the public list
	got, err := activeSites{s}.ActiveSites(t.Context(), day)
	require.NoError(t, err)
	require.Equal(t, map[uint32]int{1: 2}, got)
	got, err = activeSites{s}.ActiveSites(t.Context(), day-7)
	require.NoError(t, err)
	require.Equal(t, map[uint32]int{4: 1}, got, "a week before, the others had not begun and the old one was still listed")
	got, err = activeSites{s}.ActiveSites(t.Context(), day-3)
	require.NoError(t, err)
	require.Empty(t, got, "three days before, the old one was off the list")
}
