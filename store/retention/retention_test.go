package retention

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
)

// days holds days 1..n and drops them as asked, failing once when told to.
type days struct {
	mu      sync.Mutex
	have    []bucket.Day
	cutoffs []bucket.Day
	fail    bool
}

func (d *days) DropBefore(_ context.Context, cutoff bucket.Day) ([]bucket.Day, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cutoffs = append(d.cutoffs, cutoff)
	if d.fail {
		d.fail = false
		return nil, errors.New("store unavailable")
	}
	var dropped, kept []bucket.Day
	for _, day := range d.have {
		if day < cutoff {
			dropped = append(dropped, day)
		} else {
			kept = append(kept, day)
		}
	}
	d.have = kept
	return dropped, nil
}

// A pass runs at once and then on every tick; the cutoff is the local day
// keep before now; dropped days and passes are counted, failures too.
func TestRun(t *testing.T) {
	base := bucket.DayOf(time.Date(2021, 4, 28, 12, 0, 0, 0, time.UTC).Unix())
	d := &days{fail: true}
	for i := range 10 {
		d.have = append(d.have, base-bucket.Day(i))
	}
	var mu sync.Mutex
	now := time.Date(2021, 4, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := NewMetrics()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		Run(ctx, d, 3*24*time.Hour, 10*time.Millisecond, clock, slog.New(slog.DiscardHandler), m)
		close(done)
	}()

	require.Eventually(t, func() bool { return testutil.ToFloat64(m.runs.WithLabelValues("ok")) >= 1 }, 5*time.Second, 5*time.Millisecond)
	require.InDelta(t, 1, testutil.ToFloat64(m.runs.WithLabelValues("error")), 0, "the first pass failed")
	require.InDelta(t, 6, testutil.ToFloat64(m.dropped), 0, "days base-9 … base-4 are before the cutoff base-3")
	mu.Lock()
	now = now.Add(48 * time.Hour)
	mu.Unlock()
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.dropped) == 8 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Equal(t, []bucket.Day{base, base - 1}, d.have)
	require.Equal(t, base-3, d.cutoffs[0])
	require.Len(t, m.Collectors(), 2)
}

// DropEach drops the days before the cutoff in order and stops at the
// first failure, reporting what it dropped.
func TestDropEach(t *testing.T) {
	var seen []bucket.Day
	dropped, err := DropEach(t.Context(), []bucket.Day{1, 2, 3, 4}, 3, func(_ context.Context, d bucket.Day) error {
		seen = append(seen, d)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []bucket.Day{1, 2}, dropped)
	require.Equal(t, dropped, seen)
	boom := errors.New("boom")
	dropped, err = DropEach(t.Context(), []bucket.Day{1, 2, 3}, 9, func(_ context.Context, d bucket.Day) error {
		if d == 2 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, []bucket.Day{1}, dropped)
}
