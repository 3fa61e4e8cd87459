package sites_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// market is a tier-S market day: visitors people at venue 1 over 12 hours
// (a third without check-out), plus the same again at 50 other venues.
func market(b *testing.B, visitors int) *pebblestore.Store {
	b.Helper()
	st, err := pebblestore.Open(b.Context(), pebblestore.Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), NoSync: true})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	p, err := processor.New(bucket.DefaultLayout(), st, nil)
	require.NoError(b, err)
	r := rand.New(rand.NewPCG(1, 2))
	var batch event.Batch
	for i := range 2 * visitors {
		venue := uint32(1)
		if i >= visitors {
			venue = uint32(2 + r.IntN(50))
		}
		enter := t0 + r.Int64N(12*3600)
		v := event.Visit{VisitID: fmt.Sprint("m", i), UserID: uint32(1 + i), VenueID: venue, Enter: enter, Source: "qr"}
		if r.IntN(3) > 0 {
			v.Exit = enter + 300 + r.Int64N(2*3600)
		}
		batch.Visits = append(batch.Visits, v)
		if len(batch.Visits) == 5000 {
			require.NoError(b, p.Process(b.Context(), &batch))
			batch.Reset()
		}
	}
	require.NoError(b, p.Process(b.Context(), &batch))
	return st
}

// BenchmarkSitePreview is a draft's preview at a market of 40 000 visitors a
// day: the reach of a 4-hour window, exact from the stays.
func BenchmarkSitePreview(b *testing.B) {
	st := market(b, 40_000)
	from, to := t0+4*3600, t0+8*3600
	people := 0
	for b.Loop() {
		es, err := sites.Reach(b.Context(), st, 1, from, to)
		require.NoError(b, err)
		people = len(es)
		_ = sites.ByHour(es, from, to)
	}
	b.ReportMetric(float64(people), "people")
}

// BenchmarkSitePublish is the fan-out of a published site at that market:
// every person reached gets an alert, stored in waves of 1 000, no rate bound.
func BenchmarkSitePublish(b *testing.B) {
	st := market(b, 40_000)
	from, to := time.Unix(t0+4*3600, 0), time.Unix(t0+8*3600, 0)
	now := func() time.Time { return time.Unix(t0+86400, 0) }
	fan := sites.NewFanout(sites.FanoutConfig{Wave: 1000}, st, st, nil, nil, nil, now)
	alerts := 0
	var elapsed time.Duration
	for b.Loop() {
		s, err := st.Create(b.Context(), sites.Site{Spec: sites.Spec{VenueID: 1, From: from, To: to, Severity: sites.SeverityClose, Advice: "x"}, CreatedBy: "a", CreatedAt: now()})
		require.NoError(b, err)
		s, err = st.Approve(b.Context(), s.ID, "b", now())
		require.NoError(b, err)
		t1 := time.Now()
		n, err := fan.Sweep(b.Context(), s)
		elapsed += time.Since(t1)
		require.NoError(b, err)
		alerts += n
	}
	b.ReportMetric(float64(alerts)/elapsed.Seconds(), "alerts/s")
}

// BenchmarkMatcher is the cost of the standing query on the processor's
// path: batches of 5 000 check-ins at 1 000 venues, 20 of them with a
// published site, written through the matcher or straight to the store.
func BenchmarkMatcher(b *testing.B) {
	for _, withSites := range []bool{false, true} {
		b.Run(fmt.Sprintf("sites=%v", withSites), func(b *testing.B) {
			st, err := pebblestore.Open(b.Context(), pebblestore.Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout(), NoSync: true})
			require.NoError(b, err)
			defer func() { require.NoError(b, st.Close()) }()
			now := func() time.Time { return time.Unix(t0+86400, 0) }
			var sink processor.Sink = st
			if withSites {
				mt := sites.NewMatcher(st, st, st, nil, nil, nil, now)
				for v := range uint32(20) {
					s, err := st.Create(b.Context(), sites.Site{Spec: sites.Spec{VenueID: 1 + v*50, From: time.Unix(t0, 0), To: time.Unix(t0+6*3600, 0),
						Severity: sites.SeverityClose, Advice: "x"}, CreatedBy: "a", CreatedAt: now()})
					require.NoError(b, err)
					_, err = st.Approve(b.Context(), s.ID, "b", now())
					require.NoError(b, err)
				}
				require.NoError(b, mt.Refresh(b.Context()))
				sink = mt
			}
			p, err := processor.New(bucket.DefaultLayout(), sink, nil)
			require.NoError(b, err)
			r := rand.New(rand.NewPCG(3, 4))
			n := 0
			for b.Loop() {
				batch := event.Batch{Visits: make([]event.Visit, 5000)}
				for i := range batch.Visits {
					n++
					enter := t0 + r.Int64N(12*3600)
					batch.Visits[i] = event.Visit{VisitID: fmt.Sprint("b", n), UserID: uint32(n), VenueID: uint32(1 + r.IntN(1000)), Enter: enter, Exit: enter + 1800}
				}
				require.NoError(b, p.Process(b.Context(), &batch))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkLateAlertFreshness replays check-ins at up to 50 000 a second
// (five clients) through
// the all-in-one pipe (the processor writing through the matcher, synced
// writes) and, every
// 50 ms, a late check-in at a published site: its freshness is the time from
// handing it to the pipe to its alert being stored (the pipe answers once
// the batch is durable and matched). It runs 10 s whatever b.N says.
func BenchmarkLateAlertFreshness(b *testing.B) {
	st, err := pebblestore.Open(b.Context(), pebblestore.Options{Dir: b.TempDir(), Layout: bucket.DefaultLayout()})
	require.NoError(b, err)
	defer func() { require.NoError(b, st.Close()) }()
	now := time.Now
	base := time.Now().Add(-6 * time.Hour).Unix()
	s, err := st.Create(b.Context(), sites.Site{Spec: sites.Spec{VenueID: 7, From: time.Unix(base, 0), To: time.Unix(base+4*3600, 0),
		Severity: sites.SeverityClose, Advice: "x"}, CreatedBy: "a", CreatedAt: now()})
	require.NoError(b, err)
	s, err = st.Approve(b.Context(), s.ID, "b", now())
	require.NoError(b, err)
	mt := sites.NewMatcher(st, st, st, nil, nil, nil, now)
	require.NoError(b, mt.Refresh(b.Context()))
	p, err := processor.New(bucket.DefaultLayout(), mt, nil)
	require.NoError(b, err)
	pipe := processor.NewPipe(p, 0)
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = pipe.Run(ctx) })
	b.ResetTimer()
	stop := time.Now().Add(10 * time.Second)
	var sent atomic.Int64
	for g := range 5 { // five clients, 500 records every 50 ms each: 50 000 a second
		wg.Go(func() {
			r := rand.New(rand.NewPCG(5, uint64(g)))
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			n := g * 100_000_000
			for time.Now().Before(stop) {
				<-tick.C
				batch := event.Batch{Visits: make([]event.Visit, 500)}
				for i := range batch.Visits {
					n++
					enter := base + r.Int64N(12*3600)
					batch.Visits[i] = event.Visit{VisitID: fmt.Sprint("l", n), UserID: uint32(1_000_000 + n), VenueID: uint32(8 + r.IntN(5000)), Enter: enter, Exit: enter + 1800}
				}
				if err := pipe.Produce(ctx, &batch); err != nil {
					return
				}
				sent.Add(500)
			}
		})
	}
	var lat []time.Duration
	for u := uint32(1); time.Now().Before(stop); u++ {
		late := event.Batch{Visits: []event.Visit{{VisitID: fmt.Sprint("late", u), UserID: u, VenueID: 7, Enter: base + 3600}}}
		t1 := time.Now()
		require.NoError(b, pipe.Produce(ctx, &late))
		lat = append(lat, time.Since(t1))
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := b.Elapsed()
	cancel()
	wg.Wait()
	got, err := st.Of(b.Context(), s.ID, sites.TypeExposure)
	require.NoError(b, err)
	require.Len(b, got, len(lat), "every late check-in alerted")
	slices.Sort(lat)
	b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "records/s")
	b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100].Seconds()*1000, "p99-ms")
}
