package pgsites_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/internal/itenv"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/sites/sitestest"
	"github.com/truyvet/truyvet/store/pgsites"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// EnvURL locates the PostgreSQL server that deploy/local/up.sh starts.
const EnvURL = "TRUYVET_IT_POSTGRES_URL"

var schemas atomic.Int64

// Open opens a store in a fresh schema, dropped when t ends.
func open(t *testing.T, url string) *pgsites.Store {
	schema := fmt.Sprintf("sitestest_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemas.Add(1))
	s, err := pgsites.Open(t.Context(), pgsites.Options{URL: url, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
		require.NoError(t, s.Close())
	})
	return s
}

func TestStore(t *testing.T) {
	url := itenv.Require(t, EnvURL, "PostgreSQL server")
	sitestest.Run(t, func(t *testing.T) sites.Store { return open(t, url) })
}

func TestOpenNeedsURL(t *testing.T) {
	_, err := pgsites.Open(t.Context(), pgsites.Options{})
	require.ErrorIs(t, err, pgsites.ErrNoURL)
}

// BenchmarkPut stores the alerts of a site reaching 16 000 people in waves
// of 1 000, as a fan-out does.
func BenchmarkPut(b *testing.B) {
	url := itenv.Require(b, EnvURL, "PostgreSQL server")
	schema := fmt.Sprintf("sitesbench_%d_%d", os.Getpid(), time.Now().UnixNano())
	s, err := pgsites.Open(b.Context(), pgsites.Options{URL: url, Schema: schema})
	require.NoError(b, err)
	b.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(b, err)
		_, err = conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		require.NoError(b, err)
		require.NoError(b, conn.Close(ctx))
		require.NoError(b, s.Close())
	})
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
