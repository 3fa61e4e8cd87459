package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/cache"
	"github.com/truyvet/truyvet/venue/venuetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flaky is a registry whose Since fails while down is set.
type flaky struct {
	venue.Registry
	down atomic.Bool
}

var errDown = errors.New("registry unreachable")

func (f *flaky) Since(ctx context.Context, seq uint64, limit int) ([]venue.Venue, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Registry.Since(ctx, seq, limit)
}

func registry(t *testing.T) *flaky {
	t.Helper()
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return &flaky{Registry: s}
}

func TestAnotherReplicaLearnsWithinARefresh(t *testing.T) {
	reg := registry(t)
	_, err := reg.Register(t.Context(), []venue.Spec{venuetest.Spec(1)})
	require.NoError(t, err)

	a := cache.New(reg, cache.Options{Refresh: 50 * time.Millisecond})
	b := cache.New(reg, cache.Options{Refresh: 50 * time.Millisecond})
	require.NoError(t, a.Load(t.Context()))
	require.NoError(t, b.Load(t.Context()))
	require.True(t, b.Known(1))
	require.False(t, b.Known(2))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	defer func() { cancel(); <-done }()

	vs, err := reg.Register(t.Context(), []venue.Spec{venuetest.Spec(2)})
	require.NoError(t, err)
	a.Add(vs)
	require.True(t, a.Known(2), "the registering replica knows at once")
	start := time.Now()
	require.Eventually(t, func() bool { return b.Known(2) }, 5*time.Second, 10*time.Millisecond, "the other replica learns it")
	t.Logf("learnt after %v", time.Since(start))
}

func TestLoadPagesAndKeepsTheCopyWhenTheRegistryIsDown(t *testing.T) {
	reg := registry(t)
	specs := make([]venue.Spec, 10_500) // more than one page
	for i := range specs {
		specs[i] = venuetest.Spec(i)
	}
	_, err := reg.Register(t.Context(), specs)
	require.NoError(t, err)

	now := time.Unix(1_800_000_000, 0)
	pr := prometheus.NewPedanticRegistry()
	c := cache.New(reg, cache.Options{Registerer: pr, Now: func() time.Time { return now }})
	require.NoError(t, c.Load(t.Context()))
	require.Equal(t, len(specs), c.Len())
	require.True(t, c.Known(uint32(len(specs))))
	require.False(t, c.Known(uint32(len(specs)+1)))
	require.False(t, c.Known(0))

	reg.down.Store(true)
	now = now.Add(30 * time.Second)
	require.ErrorIs(t, c.Load(t.Context()), errDown)
	require.True(t, c.Known(5), "a failed refresh keeps the copy")
	require.Equal(t, 30*time.Second, c.Staleness())
	n, err := testutil.GatherAndCount(pr)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.InDelta(t, 30, gauge(t, pr, "truyvet_ingest_venue_cache_staleness_seconds"), 0.001)
	require.InDelta(t, len(specs), gauge(t, pr, "truyvet_ingest_venue_cache_venues"), 0)
}

func gauge(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	require.Failf(t, "no such metric", "%s", name)
	return 0
}

// TestProvincesOf checks the cache knows the provinces of the venues it
// loaded and was told of, and "" for others.
func TestProvincesOf(t *testing.T) {
	reg := registry(t)
	hanoi := venuetest.Spec(1)
	hanoi.Province = "01"
	_, err := reg.Register(t.Context(), []venue.Spec{hanoi})
	require.NoError(t, err)
	c := cache.New(reg, cache.Options{})
	require.NoError(t, c.Load(t.Context()))
	vs, err := reg.Register(t.Context(), []venue.Spec{venuetest.Spec(2)})
	require.NoError(t, err)
	c.Add(vs)
	got := make([]string, 3)
	c.ProvincesOf([]uint32{1, vs[0].ID, 999}, got)
	require.Equal(t, []string{"01", "79", ""}, got)
	c.Add(vs) // again: counted once
	require.NoError(t, c.Load(t.Context()))
	require.EqualValues(t, 2, c.RegisteredVenues(""))
	require.EqualValues(t, 1, c.RegisteredVenues("01"))
	require.EqualValues(t, 1, c.RegisteredVenues("79"))
	require.EqualValues(t, 0, c.RegisteredVenues("48"))
}
