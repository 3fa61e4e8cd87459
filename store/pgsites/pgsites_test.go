package pgsites_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/sites/sitestest"
	"github.com/truyvet/truyvet/store/pgschema/pgtest"
	"github.com/truyvet/truyvet/store/pgsites"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open opens a store in a fresh schema, dropped when t ends.
func open(t *testing.T, url string) *pgsites.Store {
	s, err := pgsites.Open(t.Context(), pgsites.Options{URL: url, Schema: pgtest.Schema(t, url, "sitestest")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestStore(t *testing.T) {
	url := pgtest.URL(t)
	sitestest.Run(t, func(t *testing.T) sites.Store { return open(t, url) })
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgsites.Open(t.Context(), pgsites.Options{})
	require.ErrorIs(t, err, pgsites.ErrNoURL)
}

// BenchmarkPut stores the alerts of a site reaching 16 000 people in waves
// of 1 000, as a fan-out does.
func BenchmarkPut(b *testing.B) {
	url := pgtest.URL(b)
	s, err := pgsites.Open(b.Context(), pgsites.Options{URL: url, Schema: pgtest.Schema(b, url, "sitesbench")})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, s.Close()) })
	site := uint64(0)
	n := 0
	start := time.Now()
	for b.Loop() {
		site++
		for w := range 16 {
			as := make([]sites.Alert, 1000)
			for i := range as {
				u := uint32(w*1000 + i + 1)
				as[i] = sites.Alert{ID: sites.AlertID(sites.TypeExposure, site, u), Type: sites.TypeExposure, UserID: u, SiteID: site, VenueID: 1,
					OverlapFrom: sitestest.T0, OverlapTo: sitestest.T0.Add(time.Hour), Severity: sites.SeverityClose, Advice: "x", CreatedAt: sitestest.T0}
			}
			stored, err := s.Put(b.Context(), as)
			require.NoError(b, err)
			n += len(stored)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "alerts/s")
}
