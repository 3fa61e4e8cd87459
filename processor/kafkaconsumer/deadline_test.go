package kafkaconsumer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBatchDeadline(t *testing.T) {
	now := time.Date(2021, 7, 15, 10, 0, 10, 0, time.UTC)
	sec := time.Second
	for _, tc := range []struct {
		name       string
		stamp, cut time.Time
		want       time.Time
	}{
		{"queued while the last batch was written: its stamp", now.Add(-600 * time.Millisecond), now.Add(-900 * time.Millisecond), now.Add(400 * time.Millisecond)},
		{"stamped before the cut (a slow producer clock): the cut", now.Add(-5 * time.Second), now.Add(-700 * time.Millisecond), now.Add(300 * time.Millisecond)},
		{"stamped in the future (a fast producer clock): now", now.Add(3 * time.Second), now.Add(-time.Second), now.Add(sec)},
		{"no stamp: now", time.Time{}, now.Add(-time.Second), now.Add(sec)},
		{"first batch, no cut: its stamp", now.Add(-200 * time.Millisecond), time.Time{}, now.Add(800 * time.Millisecond)},
		{"waited long since the cut: its stamp", now.Add(-100 * time.Millisecond), now.Add(-time.Hour), now.Add(900 * time.Millisecond)},
		{"overdue (the last write took 2 s): a quarter of the interval from now", now.Add(-3 * time.Second), now.Add(-2 * time.Second), now.Add(250 * time.Millisecond)},
		{"nearly due: a quarter of the interval from now", now.Add(-900 * time.Millisecond), now.Add(-time.Second), now.Add(250 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, batchDeadline(tc.stamp, tc.cut, now, sec))
		})
	}
}
