package summary_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/sites/sitestest"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/summary"
	"github.com/truyvet/truyvet/summary/summarytest"
)

func TestSitesCountPublicationsAndNewAlerts(t *testing.T) {
	st, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20, NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	m := &summarytest.Memory{}
	tl := summary.NewTally(m, clock, nil, nil)
	ss := &summary.Sites{Store: st, Provinces: provinces{1: "79"}, Tally: tl}
	ctx := t.Context()

	at79, err := ss.Create(ctx, sitestest.Draft(1))
	require.NoError(t, err)
	elsewhere, err := ss.Create(ctx, sitestest.Draft(2)) // a venue of no known province
	require.NoError(t, err)
	_, err = ss.Approve(ctx, at79.ID, "epi-1", now) // its creator: refused, not counted
	require.ErrorIs(t, err, sites.ErrSamePerson)
	_, err = ss.Approve(ctx, at79.ID, "approver", now)
	require.NoError(t, err)
	_, err = ss.Approve(ctx, at79.ID, "approver", now) // published already: not counted again
	require.Error(t, err)
	_, err = ss.Approve(ctx, elsewhere.ID, "approver", now)
	require.NoError(t, err)

	alert := func(site uint64, venue, user uint32) sites.Alert {
		return sites.Alert{ID: sites.AlertID(sites.TypeExposure, site, user), Type: sites.TypeExposure, UserID: user, SiteID: site, VenueID: venue,
			OverlapFrom: now.Add(-time.Hour), OverlapTo: now, Severity: sites.SeverityClose, Advice: "ở nhà", CreatedAt: now}
	}
	stored, err := ss.Put(ctx, []sites.Alert{alert(at79.ID, 1, 10), alert(at79.ID, 1, 11), alert(elsewhere.ID, 2, 10)})
	require.NoError(t, err)
	require.Len(t, stored, 3)
	// A replay stores nothing new: nothing counted.
	stored, err = ss.Put(ctx, []sites.Alert{alert(at79.ID, 1, 10), alert(at79.ID, 1, 12)})
	require.NoError(t, err)
	require.Len(t, stored, 1)

	require.NoError(t, tl.Flush(ctx))
	require.Equal(t, map[string]int64{"sites_published/": 1, "alerts_sent/": 3}, counts(t, m, "79"))
	require.Equal(t, map[string]int64{"sites_published/": 1, "alerts_sent/": 1}, counts(t, m, summary.Unknown))
}
