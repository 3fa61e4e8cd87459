// Package sitestest is the conformance suite every sites.Store runs: the
// embedded store's and PostgreSQL's.
package sitestest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/sites"
)

// T0 is the suite's clock.
var T0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// Draft returns a valid draft at venue, created by account "epi-1".
func Draft(venue uint32) sites.Site {
	return sites.Site{
		Spec: sites.Spec{VenueID: venue, From: T0.Add(-3 * time.Hour), To: T0.Add(-time.Hour), Severity: sites.SeverityClose,
			Advice: "Theo dõi sức khỏe 14 ngày; gọi 1900 9095 nếu có triệu chứng.", CaseID: 7},
		Preview:   sites.Preview{People: 3, Already: 1, ByHour: []int{2, 3}},
		CreatedBy: "epi-1", CreatedAt: T0,
	}
}

func alert(t sites.Type, site uint64, user uint32) sites.Alert {
	return sites.Alert{ID: sites.AlertID(t, site, user), Type: t, UserID: user, SiteID: site, VenueID: 5,
		OverlapFrom: T0.Add(-2 * time.Hour), OverlapTo: T0.Add(-90 * time.Minute), Severity: sites.SeverityClose, Advice: "ở nhà", CreatedAt: T0}
}

// Run checks a Store. open returns a new, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) sites.Store) {
	ctx := t.Context()
	t.Run("drafts get ids and keep what was sent", func(t *testing.T) {
		st := open(t)
		a, err := st.Create(ctx, Draft(5))
		require.NoError(t, err)
		b, err := st.Create(ctx, Draft(6))
		require.NoError(t, err)
		require.Equal(t, []uint64{1, 2}, []uint64{a.ID, b.ID})
		require.Equal(t, sites.StatusDraft, a.Status)
		got, err := st.Site(ctx, 1)
		require.NoError(t, err)
		want := Draft(5)
		want.ID, want.Status, want.UpdatedAt = 1, sites.StatusDraft, T0
		requireSame(t, want, got)
		_, err = st.Site(ctx, 3)
		require.ErrorIs(t, err, sites.ErrNotFound)
	})
	t.Run("approval by another account publishes, once", func(t *testing.T) {
		st := open(t)
		s, err := st.Create(ctx, Draft(5))
		require.NoError(t, err)
		_, err = st.Approve(ctx, s.ID, "epi-1", T0)
		require.ErrorIs(t, err, sites.ErrSamePerson)
		p, err := st.Approve(ctx, s.ID, "appr-1", T0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, sites.StatusPublished, p.Status)
		require.Equal(t, "appr-1", p.ApprovedBy)
		require.True(t, p.PublishedAt.Equal(T0.Add(time.Minute)))
		_, err = st.Approve(ctx, s.ID, "appr-2", T0)
		require.ErrorIs(t, err, sites.ErrState)
		_, err = st.Approve(ctx, 99, "appr-2", T0)
		require.ErrorIs(t, err, sites.ErrNotFound)
		var pub []uint64
		for s, err := range st.Sites(ctx, sites.StatusPublished) {
			require.NoError(t, err)
			pub = append(pub, s.ID)
		}
		require.Equal(t, []uint64{1}, pub)
	})
	t.Run("racing approvers: one wins", func(t *testing.T) {
		st := open(t)
		s, err := st.Create(ctx, Draft(5))
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = st.Approve(ctx, s.ID, fmt.Sprintf("appr-%d", i), T0) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.ErrorIs(t, err, sites.ErrState)
			}
		}
		require.Equal(t, 1, ok)
	})
	t.Run("retraction, and sweeps", func(t *testing.T) {
		st := open(t)
		s, err := st.Create(ctx, Draft(5))
		require.NoError(t, err)
		_, err = st.Approve(ctx, s.ID, "appr-1", T0)
		require.NoError(t, err)
		require.NoError(t, st.MarkSwept(ctx, s.ID, T0.Add(time.Second)))
		require.NoError(t, st.MarkSwept(ctx, s.ID, T0), "an older sweep keeps the later")
		r, err := st.Retract(ctx, s.ID, "appr-2", "ca bệnh nhầm địa điểm", T0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, sites.StatusRetracted, r.Status)
		require.Equal(t, "ca bệnh nhầm địa điểm", r.RetractReason)
		require.True(t, r.Swept.Equal(T0.Add(time.Second)))
		require.True(t, r.UpdatedAt.Equal(T0.Add(time.Hour)))
		_, err = st.Retract(ctx, s.ID, "appr-2", "again", T0)
		require.ErrorIs(t, err, sites.ErrState)
		d, err := st.Create(ctx, Draft(5))
		require.NoError(t, err)
		_, err = st.Retract(ctx, d.ID, "appr-1", "draft dropped", T0)
		require.NoError(t, err, "a draft may be retracted")
		require.ErrorIs(t, st.MarkSwept(ctx, 99, T0), sites.ErrNotFound)

		// One sweeper at a time: a lease holds until it runs out or the sweep ends.
		ok, err := st.Lease(ctx, s.ID, "p1", T0, T0.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = st.Lease(ctx, s.ID, "p2", T0.Add(time.Second), T0.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, ok)
		ok, err = st.Lease(ctx, s.ID, "p1", T0.Add(time.Second), T0.Add(2*time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "the holder renews")
		ok, err = st.Lease(ctx, s.ID, "p2", T0.Add(3*time.Minute), T0.Add(4*time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "an expired lease is taken over")
		require.NoError(t, st.MarkSwept(ctx, s.ID, T0.Add(3*time.Minute)))
		ok, err = st.Lease(ctx, s.ID, "p3", T0.Add(3*time.Minute), T0.Add(4*time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "a finished sweep ends its lease")
		_, err = st.Lease(ctx, 99, "p1", T0, T0)
		require.ErrorIs(t, err, sites.ErrNotFound)
	})
	t.Run("alerts are stored once per id, in delivery order", func(t *testing.T) {
		st := open(t)
		got, err := st.Put(ctx, []sites.Alert{alert(sites.TypeExposure, 1, 10), alert(sites.TypeExposure, 1, 11), alert(sites.TypeExposure, 1, 10)})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, []uint64{1, 2}, []uint64{got[0].Seq, got[1].Seq})
		again, err := st.Put(ctx, []sites.Alert{alert(sites.TypeExposure, 1, 11), alert(sites.TypeExposure, 2, 10)})
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.Equal(t, "e-2-10", again[0].ID)
		require.Equal(t, uint64(3), again[0].Seq)
		none, err := st.Put(ctx, []sites.Alert{alert(sites.TypeExposure, 1, 10)})
		require.NoError(t, err)
		require.Empty(t, none)
		_, err = st.Put(ctx, []sites.Alert{alert(sites.TypeRetraction, 1, 10)})
		require.NoError(t, err)

		page, err := st.After(ctx, 0, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"e-1-10", "e-1-11"}, ids(page))
		requireAlert(t, alert(sites.TypeExposure, 1, 10), page[0])
		page, err = st.After(ctx, page[1].Seq, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"e-2-10", "r-1-10"}, ids(page))
		page, err = st.After(ctx, 4, 10)
		require.NoError(t, err)
		require.Empty(t, page)

		of, err := st.Of(ctx, 1, sites.TypeExposure)
		require.NoError(t, err)
		require.Equal(t, []string{"e-1-10", "e-1-11"}, ids(of))
		of, err = st.Of(ctx, 1, sites.TypeRetraction)
		require.NoError(t, err)
		require.Equal(t, []string{"r-1-10"}, ids(of))
		of, err = st.Of(ctx, 3, sites.TypeExposure)
		require.NoError(t, err)
		require.Empty(t, of)
		has, err := st.Has(ctx, []string{"e-1-10", "e-9-9", "r-1-10"})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{"e-1-10": true, "r-1-10": true}, has)
	})
	t.Run("concurrent writers: each id once, no seq skipped", func(t *testing.T) {
		st := open(t)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 20 {
					as := []sites.Alert{alert(sites.TypeExposure, 1, uint32(i)), alert(sites.TypeExposure, uint64(2+w), uint32(i))}
					_, err := st.Put(ctx, as)
					require.NoError(t, err)
				}
			})
		}
		wg.Wait()
		all, err := st.After(ctx, 0, 1000)
		require.NoError(t, err)
		require.Len(t, all, 20+4*20)
		seen := map[string]bool{}
		for i, a := range all {
			require.Equal(t, uint64(i+1), a.Seq)
			require.False(t, seen[a.ID])
			seen[a.ID] = true
		}
	})
}

func ids(as []sites.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// requireSame compares sites with times compared as instants.
func requireSame(t *testing.T, want, got sites.Site) {
	t.Helper()
	for _, p := range []struct{ w, g *time.Time }{{&want.From, &got.From}, {&want.To, &got.To}, {&want.CreatedAt, &got.CreatedAt},
		{&want.UpdatedAt, &got.UpdatedAt}, {&want.PublishedAt, &got.PublishedAt}, {&want.RetractedAt, &got.RetractedAt}, {&want.Swept, &got.Swept}} {
		require.True(t, p.w.Equal(*p.g), "%s != %s", *p.w, *p.g)
		*p.w, *p.g = time.Time{}, time.Time{}
	}
	require.Equal(t, want, got)
}

func requireAlert(t *testing.T, want, got sites.Alert) {
	t.Helper()
	for _, p := range []struct{ w, g *time.Time }{{&want.OverlapFrom, &got.OverlapFrom}, {&want.OverlapTo, &got.OverlapTo}, {&want.CreatedAt, &got.CreatedAt}} {
		require.True(t, p.w.Equal(*p.g), "%s != %s", *p.w, *p.g)
		*p.w, *p.g = time.Time{}, time.Time{}
	}
	want.Seq = got.Seq
	require.Equal(t, want, got)
}
