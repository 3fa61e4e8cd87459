package sites_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
)

func openStore(t *testing.T) *pebblestore.Store {
	t.Helper()
	st, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20, NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

func published(t *testing.T, st sites.Store, venue uint32, from, to int64, at time.Time) sites.Site {
	t.Helper()
	s, err := st.Create(t.Context(), sites.Site{Spec: sites.Spec{VenueID: venue, From: time.Unix(from, 0), To: time.Unix(to, 0),
		Severity: sites.SeverityCasual, Advice: "x"}, CreatedBy: "a", CreatedAt: at})
	require.NoError(t, err)
	s, err = st.Approve(t.Context(), s.ID, "b", at)
	require.NoError(t, err)
	return s
}

// A sweep that begins before the grace has passed is not the last; one
// after it is, and a retraction needs its own.
func TestFanoutGrace(t *testing.T) {
	st := openStore(t)
	clock := time.Unix(t0, 0)
	now := func() time.Time { return clock }
	fan := sites.NewFanout(sites.FanoutConfig{Wave: 10, Grace: 10 * time.Second}, st, st, nil, nil, nil, now)
	s := published(t, st, 1, t0-3600, t0, clock)
	require.True(t, fan.Due(s))
	_, err := fan.Sweep(t.Context(), s)
	require.NoError(t, err)
	s, err = st.Site(t.Context(), s.ID)
	require.NoError(t, err)
	require.True(t, fan.Due(s), "swept within the grace: once more")
	clock = clock.Add(11 * time.Second)
	_, err = fan.Sweep(t.Context(), s)
	require.NoError(t, err)
	s, err = st.Site(t.Context(), s.ID)
	require.NoError(t, err)
	require.False(t, fan.Due(s))
	s, err = st.Retract(t.Context(), s.ID, "b", "why", clock)
	require.NoError(t, err)
	require.True(t, fan.Due(s), "a retraction is swept too")
}

// The rate bounds a sweep: 50 alerts at 20 a second, a burst of 20, take
// at least 1.5 s.
func TestFanoutRate(t *testing.T) {
	if testing.Short() {
		t.Skip("waits on the rate")
	}
	st := openStore(t)
	p, err := processor.New(bucket.DefaultLayout(), st, nil)
	require.NoError(t, err)
	var b event.Batch
	for u := range 50 {
		b.Visits = append(b.Visits, event.Visit{VisitID: fmt.Sprint(u), UserID: uint32(1 + u), VenueID: 3, Enter: t0 - 1800, Exit: t0 - 600})
	}
	require.NoError(t, p.Process(t.Context(), &b))
	now := func() time.Time { return time.Unix(t0, 0) }
	fan := sites.NewFanout(sites.FanoutConfig{Wave: 10, Rate: 20}, st, st, nil, nil, nil, now)
	s := published(t, st, 3, t0-3600, t0, now())
	start := time.Now()
	n, err := fan.Sweep(t.Context(), s)
	require.NoError(t, err)
	require.Equal(t, 50, n)
	require.GreaterOrEqual(t, time.Since(start), 1400*time.Millisecond)
}

// failing fails the registry's reads while fail is set.
type failing struct {
	sites.Store
	fail chan struct{}
}

var errDown = errors.New("registry down")

func (f *failing) Sites(ctx context.Context, st ...sites.Status) iter.Seq2[sites.Site, error] {
	select {
	case <-f.fail:
		return func(yield func(sites.Site, error) bool) { yield(sites.Site{}, errDown) }
	default:
		return f.Store.Sites(ctx, st...)
	}
}

// A matcher whose copy of the sites is too old to trust, and cannot reload
// it, fails the batch (to be retried) rather than miss an alert.
func TestMatcherStallsOnAStaleCopy(t *testing.T) {
	st := openStore(t)
	f := &failing{Store: st, fail: make(chan struct{})}
	mt := sites.NewMatcher(st, f, st, nil, nil, nil, time.Now)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); mt.Run(ctx, 20*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	b := &processor.Batch{Records: event.Batch{Visits: []event.Visit{{VisitID: "a", UserID: 1, VenueID: 1, Enter: t0}}}}
	require.Eventually(t, func() bool { return mt.Write(t.Context(), b) == nil }, time.Second, 5*time.Millisecond)
	close(f.fail)
	require.Eventually(t, func() bool { return errors.Is(mt.Write(t.Context(), b), errDown) }, 2*time.Second, 10*time.Millisecond)
}
